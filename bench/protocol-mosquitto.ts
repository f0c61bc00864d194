/**
 * The MQTT row's broker: mosquitto on 127.0.0.1, a free port, a minimal config in a temporary directory (anonymous
 * clients, no persistence, no cap on queued messages, every other setting mosquitto's default), started and
 * stopped by the benchmark.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Debian installs the broker in /usr/sbin, which an ordinary user's PATH often lacks. */
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin'];
const START_TIMEOUT_MS = 10_000;

/** The mosquitto executable on PATH (or in an sbin directory), or null when it is not installed. */
export function findMosquitto(envPath = process.env.PATH ?? ''): string | null {
  const dirs = [...envPath.split(path.delimiter).filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'mosquitto');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return null;
}

export interface RunningBroker {
  child: ChildProcess;
  /** mqtt://127.0.0.1:PORT */
  url: string;
  /** Stops the broker and removes its temporary directory; idempotent. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (mosquitto takes a port number, not 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts mosquitto and resolves once its port accepts connections. */
export async function startMosquitto(bin: string, leadingArgs: string[] = []): Promise<RunningBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-mosquitto-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  // The default max_queued_messages (1000) drops QoS 1 messages to a subscriber that falls behind ("Outgoing
  // messages are being dropped"): 56 of 60,000 in a pipelined trial. Every other row delivers every message.
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n`);
  // `leadingArgs`: when `bin` is a wrapper (taskset, from bench/protocol.ts's pinned), its arguments up to mosquitto's own.
  const child = spawn(bin, [...leadingArgs, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 20))]);
    if (failed || child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`mosquitto (${bin}) did not start on port ${port}: ${failed?.message ?? `exit ${child.exitCode}`}; stderr: ${stderr.trim() || '(empty)'}`);
    }
    if (await accepts(port)) break;
  }
  return { child, url: `mqtt://127.0.0.1:${port}`, stop };
}
