/**
 * Servers and clients in child processes, so fault tests can SIGKILL them mid-stream and start them again (on
 * the same port, with the same state folder or outbox file) as a crash and a supervisor restart would.
 */
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { FastSocketClientOptions, FastSocketServerOptions, ServerStats } from '../../src/fastsocket';
import { readTextIfExists } from '../../src/fastsocket/fs-util';
import type { ClientChildConfig, FromClientChild, ToClientChild } from './fault-client-child';
import type { DeliveredRecord, FromServerChild, ServerChildConfig, ToServerChild } from './fault-server-child';
import { Teardown } from './teardown';
import { DEFAULT_DEADLINE_MS, withDeadline } from './wait';

/** One child process speaking a small IPC protocol; every wait has a deadline and names what it waited for. */
class Child<In, Out extends { type: string }> {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly inbox: Out[] = [];
  private waiters: Array<() => void> = [];
  private stderr = '';

  constructor(
    readonly what: string,
    private readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: Out) => {
      this.inbox.push(m);
      this.wake();
    });
    proc.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        resolve({ code, signal });
        this.wake();
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  send(msg: In): void {
    this.proc.send(msg as object);
  }

  /** The next message of `type` not yet taken (messages are consumed in order). */
  take<T extends Out['type']>(type: T, ms = DEFAULT_DEADLINE_MS): Promise<Extract<Out, { type: T }>> {
    return withDeadline(
      new Promise<Extract<Out, { type: T }>>((resolve, reject) => {
        const check = (): void => {
          const failed = this.inbox.find((m) => m.type === 'failed') as { error?: string } | undefined;
          if (failed) return reject(new Error(`${this.what} failed: ${failed.error}`));
          const i = this.inbox.findIndex((m) => m.type === type);
          if (i >= 0) return resolve(this.inbox.splice(i, 1)[0] as Extract<Out, { type: T }>);
          if (!this.alive) return reject(new Error(`${this.what} exited before sending "${type}"; stderr: ${this.stderr}`));
          this.waiters.push(check);
        };
        check();
      }),
      `"${type}" from ${this.what}`,
      ms,
    );
  }

  /** SIGKILL: no handler runs, nothing is flushed; resolves once the process is gone. */
  /** Stops the process where it is (SIGSTOP): it reads and answers nothing more, its sockets stay open. */
  freeze(): void {
    if (this.alive) this.proc.kill('SIGSTOP');
  }

  async kill(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await withDeadline(this.exited, `${this.what} to die after SIGKILL`);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

function forkChild(file: string, env: Record<string, string>): ChildProcess {
  return fork(path.join(__dirname, file), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
}

export interface ServerProcessOptions {
  /** Server options (JSON-serialisable ones only); `url` defaults to tcp://127.0.0.1:0. */
  options?: FastSocketServerOptions;
  /** Where hand-overs are recorded; see readDelivered(). */
  deliveredFile: string;
  /** The first run SIGKILLs itself while handing over its Nth message, before recording it. */
  crashOnMessage?: number;
  /** Every run SIGKILLs itself at the first message after a compaction of its journal, before recording it. */
  crashAfterCompaction?: boolean;
}

/** A FastSocketServer in a child process; restart() brings it back on the same URL. */
export class ServerProcess {
  private child: Child<ToServerChild, FromServerChild> | null = null;
  private runs = 0;
  private boundUrl: string | null = null;

  private constructor(private readonly opts: ServerProcessOptions) {}

  /** Starts the server; killed at teardown. */
  static async start(teardown: Teardown, opts: ServerProcessOptions): Promise<ServerProcess> {
    const sp = new ServerProcess(opts);
    teardown.add(() => sp.kill());
    await sp.restart();
    return sp;
  }

  /** The URL of the first start; every restart binds the same port. */
  get url(): string {
    if (!this.boundUrl) throw new Error('server process never started');
    return this.boundUrl;
  }

  get pid(): number {
    return this.child!.pid;
  }

  get alive(): boolean {
    return this.child?.alive ?? false;
  }

  /** Starts a new process (after a kill()), on the URL of the first start. */
  async restart(): Promise<void> {
    if (this.child?.alive) throw new Error('server process is still running');
    const url = this.boundUrl ?? this.opts.options?.url ?? 'tcp://127.0.0.1:0';
    const config: ServerChildConfig = {
      options: { ...this.opts.options, url },
      deliveredFile: this.opts.deliveredFile,
      run: this.runs,
      ...(this.runs === 0 && this.opts.crashOnMessage !== undefined ? { crashOnMessage: this.opts.crashOnMessage } : {}),
      crashAfterCompaction: this.opts.crashAfterCompaction,
    };
    this.runs++;
    const child = new Child<ToServerChild, FromServerChild>(`server process (run ${config.run})`, forkChild('fault-server-child.js', {
      FASTSOCKET_FAULT_SERVER: JSON.stringify(config),
    }));
    this.child = child;
    const { url: bound } = await child.take('listening', 10_000);
    this.boundUrl ??= bound;
  }

  async kill(): Promise<void> {
    await this.child?.kill();
  }

  /** Stops the server where it is (SIGSTOP) until kill(): what a client writes meanwhile stays unacknowledged. */
  freeze(): void {
    this.child?.freeze();
  }

  /** Resolves once the process has exited on its own (crashOnMessage). */
  async died(ms = DEFAULT_DEADLINE_MS): Promise<void> {
    if (this.child) await withDeadline(this.child.exited, `${this.child.what} to die`, ms);
  }

  /** The server's stats() and the process's resident memory. */
  async stats(): Promise<{ stats: ServerStats; peakRssBytes: number; rssBytes: number }> {
    const child = this.child!;
    child.send({ type: 'stats' });
    const { stats, peakRssBytes, rssBytes } = await child.take('stats');
    return { stats, peakRssBytes, rssBytes };
  }
}

/**
 * Every hand-over recorded by the server processes, in order. A line still being written by a running server (no
 * newline yet) is left for the next read. A line that does not parse is accepted only as the last record of a run
 * that was SIGKILLed while writing it (the next run ended it, see fault-server-child.ts): the line after it, if any,
 * must come from a later run. Anywhere else a torn line would be a bug, and it throws.
 */
export function readDelivered(file: string): DeliveredRecord[] {
  const text = readTextIfExists(file);
  if (text === null) return [];
  const lines = text.split('\n');
  lines.pop();
  const records: DeliveredRecord[] = [];
  lines.forEach((line, i) => {
    if (line.length === 0) return;
    try {
      records.push(JSON.parse(line) as DeliveredRecord);
    } catch (err) {
      // The tear can fall anywhere, even inside `{"run":N`; then any later run will do.
      const tornRun = /^\{"run":(\d+)[,}]/.exec(line)?.[1] ?? ('{"run":'.startsWith(line) || /^\{"run":\d+$/.test(line) ? '0' : undefined);
      if (i === lines.length - 1 && tornRun !== undefined) return; // ended by a restart that has recorded nothing yet
      const nextRun = /^\{"run":(\d+)[,}]/.exec(lines[i + 1] ?? '')?.[1];
      if (tornRun === undefined || nextRun === undefined || Number(nextRun) <= Number(tornRun)) {
        throw new Error(`${file} line ${i + 1} is torn and not the last record of a killed run: ${line.slice(0, 200)} (${String(err)})`);
      }
    }
  });
  return records;
}

/** A FastSocketClient in a child process, to be SIGKILLed with messages in its persistent outbox. */
export class ClientProcess {
  private constructor(private readonly child: Child<ToClientChild, FromClientChild>) {}

  /** Starts the client; resolves once constructed, with the number of messages it found in its outbox. */
  static async start(teardown: Teardown, options: FastSocketClientOptions): Promise<{ client: ClientProcess; outboxMessages: number }> {
    const config: ClientChildConfig = { options };
    const child = new Child<ToClientChild, FromClientChild>('client process', forkChild('fault-client-child.js', {
      FASTSOCKET_FAULT_CLIENT: JSON.stringify(config),
    }));
    teardown.add(() => child.kill());
    const { outboxMessages } = await child.take('ready', 10_000);
    return { client: new ClientProcess(child), outboxMessages };
  }

  /** Queues payloads `{ seq }` for seq in [from, from + count); resolves once they are in the outbox file. */
  async queue(from: number, count: number): Promise<number> {
    this.child.send({ type: 'send', from, count, waitAcks: false });
    return (await this.child.take('queued')).outboxMessages;
  }

  /** Sends payloads `{ seq }` and resolves with their ids once every one is acknowledged. */
  async sendAcked(from: number, count: number): Promise<string[]> {
    this.child.send({ type: 'send', from, count, waitAcks: true });
    return (await this.child.take('acked')).ids;
  }

  kill(): Promise<void> {
    return this.child.kill();
  }
}
