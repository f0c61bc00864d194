/**
 * One benchmark client in its own process. Usage:
 *   node build/bench/protocol-client.js --impl IMPL --url URL --mode rtt|pipeline --payload-bytes B
 *        --warmup N --count N [--window W] [--timeout-ms MS]
 * Sends `warmup` messages in the same mode first (not measured: JIT, buffers and the server warm up), then
 * `count` measured ones, and prints one ClientResultLine. Exit 1 on failure or timeout, 2 on a usage error.
 */
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { FastSocketClient, LatencyStats } from '../src/fastsocket';
import { ClientMode, ClientResultLine, isNodeImpl, NodeImpl, nowNs, NS_PER_US, payloadOf, rawFrame } from './protocol-common';

interface Span {
  firstNs: number;
  lastNs: number;
}

/** How one implementation's client sends; every method resolves once the replies it waits for have been read. */
interface Driver {
  /** One message, resolved when its reply (ack 2, or the echo) has been read. */
  roundTrip(): Promise<void>;
  /** `count` messages with at most `window` unanswered, from the first write to the last reply read. */
  pipeline(count: number, window: number): Promise<Span>;
  close(): Promise<void>;
}

/**
 * Replies are counted, never parsed: a raw echo's client does the least any client must. Refills are written
 * in one go per batch of replies, as the raw servers do.
 */
abstract class RawDriver implements Driver {
  private seq = 0;
  private onReplies: ((n: number) => void) | null = null;

  constructor(private readonly payloadJson: string) {}

  protected abstract writeFrames(frames: string[]): void;

  protected replied(n: number): void {
    this.onReplies?.(n);
  }

  private frames(k: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < k; i++) out.push(rawFrame(this.seq++, this.payloadJson));
    return out;
  }

  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.onReplies = () => {
        this.onReplies = null;
        resolve();
      };
      this.writeFrames(this.frames(1));
    });
  }

  pipeline(count: number, window: number): Promise<Span> {
    return new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      let refill = 0;
      let refillScheduled = false;
      const send = (k: number) => {
        sent += k;
        this.writeFrames(this.frames(k));
      };
      const flushRefill = () => {
        refillScheduled = false;
        const k = Math.min(refill, count - sent);
        refill = 0;
        if (k > 0) send(k);
      };
      const firstNs = nowNs();
      this.onReplies = (n) => {
        received += n;
        if (received >= count) {
          this.onReplies = null;
          resolve({ firstNs, lastNs: nowNs() });
          return;
        }
        refill += n;
        if (!refillScheduled) {
          refillScheduled = true;
          queueMicrotask(flushRefill);
        }
      };
      send(Math.min(window, count));
    });
  }

  abstract close(): Promise<void>;
}

class RawTcpDriver extends RawDriver {
  private constructor(private readonly socket: net.Socket, payloadJson: string) {
    super(payloadJson);
    socket.on('data', (chunk: Buffer) => {
      let n = 0;
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) n++;
      if (n > 0) this.replied(n);
    });
  }

  static open(url: string, payloadJson: string): Promise<RawTcpDriver> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port) }, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawTcpDriver(socket, payloadJson));
      });
      socket.once('error', reject);
    });
  }

  protected writeFrames(frames: string[]): void {
    this.socket.write(frames.join('\n') + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}

class RawWsDriver extends RawDriver {
  private constructor(private readonly ws: WebSocket, payloadJson: string) {
    super(payloadJson);
    ws.on('message', () => this.replied(1));
  }

  static open(url: string, payloadJson: string): Promise<RawWsDriver> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('error', reject);
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new RawWsDriver(ws, payloadJson));
      });
    });
  }

  protected writeFrames(frames: string[]): void {
    const socket = (this.ws as unknown as { _socket: net.Socket })._socket;
    socket.cork();
    for (const f of frames) this.ws.send(f);
    socket.uncork();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** The library as an application uses it: default options, one `send()` per message, its promise awaited. */
class FastSocketDriver implements Driver {
  private constructor(private readonly client: FastSocketClient, private readonly payload: string) {}

  static async open(url: string, payload: string): Promise<FastSocketDriver> {
    const client = new FastSocketClient({ url });
    await client.connect();
    return new FastSocketDriver(client, payload);
  }

  async roundTrip(): Promise<void> {
    await this.client.send(this.payload);
  }

  pipeline(count: number, window: number): Promise<Span> {
    return new Promise((resolve, reject) => {
      let started = 0;
      let done = 0;
      const firstNs = nowNs();
      const launch = () => {
        started++;
        this.client.send(this.payload).then(onAck, reject);
      };
      const onAck = () => {
        if (++done === count) resolve({ firstNs, lastNs: nowNs() });
        else if (started < count) launch();
      };
      for (let i = 0; i < Math.min(window, count); i++) launch();
    });
  }

  async close(): Promise<void> {
    await this.client.close({ timeoutMs: 5000 });
  }
}

function open(impl: NodeImpl, url: string, payloadBytes: number): Promise<Driver> {
  const payload = payloadOf(payloadBytes);
  switch (impl) {
    case 'raw-tcp':
      return RawTcpDriver.open(url, JSON.stringify(payload));
    case 'raw-ws':
      return RawWsDriver.open(url, JSON.stringify(payload));
    case 'fastsocket-tcp':
    case 'fastsocket-ws':
      return FastSocketDriver.open(url, payload);
  }
}

async function measureRtt(driver: Driver, warmup: number, count: number): Promise<ClientResultLine> {
  for (let i = 0; i < warmup; i++) await driver.roundTrip();
  const stats = new LatencyStats();
  for (let i = 0; i < count; i++) {
    const t0 = nowNs();
    await driver.roundTrip();
    stats.record(nowNs() - t0);
  }
  const s = stats.total();
  return { event: 'result', mode: 'rtt', count, rtt_p50_us: s.p50 / NS_PER_US, rtt_p99_us: s.p99 / NS_PER_US, rtt_mean_us: s.mean / NS_PER_US };
}

async function measurePipeline(driver: Driver, warmup: number, count: number, window: number): Promise<ClientResultLine> {
  if (warmup > 0) await driver.pipeline(warmup, window);
  const { firstNs, lastNs } = await driver.pipeline(count, window);
  const elapsed_s = (lastNs - firstNs) / 1e9;
  return { event: 'result', mode: 'pipeline', count, msgs_per_s: count / elapsed_s, elapsed_s };
}

function usage(problem: string): never {
  process.stderr.write(
    `protocol-client: ${problem}\nusage: protocol-client.js --impl raw-tcp|raw-ws|fastsocket-tcp|fastsocket-ws --url URL --mode rtt|pipeline --payload-bytes B --warmup N --count N [--window W] [--timeout-ms MS]\n`,
  );
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min} (got ${value})`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        impl: { type: 'string' },
        url: { type: 'string' },
        mode: { type: 'string' },
        'payload-bytes': { type: 'string' },
        warmup: { type: 'string' },
        count: { type: 'string' },
        window: { type: 'string', default: '1' },
        'timeout-ms': { type: 'string', default: '120000' },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const impl = values.impl ?? '';
  if (!isNodeImpl(impl)) usage(`--impl must be one of raw-tcp, raw-ws, fastsocket-tcp, fastsocket-ws (got ${values.impl})`);
  if (!values.url) usage('--url is required');
  const mode = values.mode as ClientMode;
  if (mode !== 'rtt' && mode !== 'pipeline') usage(`--mode must be rtt or pipeline (got ${values.mode})`);
  const payloadBytes = positiveInt('payload-bytes', values['payload-bytes'], 0);
  const warmup = positiveInt('warmup', values.warmup, 0);
  const count = positiveInt('count', values.count, 1);
  const window = positiveInt('window', values.window, 1);
  const timeoutMs = positiveInt('timeout-ms', values['timeout-ms'], 1);

  // A stuck run must not hang the whole benchmark; the orchestrator reports the exit code and stderr.
  setTimeout(() => {
    process.stderr.write(`protocol-client: ${impl} ${mode} not finished after ${timeoutMs} ms\n`);
    process.exit(1);
  }, timeoutMs).unref();

  const driver = await open(impl, values.url, payloadBytes);
  const result = mode === 'rtt' ? await measureRtt(driver, warmup, count) : await measurePipeline(driver, warmup, count, window);
  await driver.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`protocol-client: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
