/**
 * Runs test/interop/peer.py (the reference peer in the original Python implementation's style) as a child process
 * and exposes its JSON-lines stdout as events that a test can wait for, each wait with a deadline.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

/** Debian's interpreter, as the brief requires (not whatever python3 is first on PATH). */
export const PYTHON = '/usr/bin/python3';
/** Compiled to build/test/interop/, so the source tree's copy is three levels up. */
export const PEER_PY = path.resolve(__dirname, '../../../test/interop/peer.py');

export type PeerEvent = Record<string, unknown> & { event: string };

interface Waiter {
  what: string;
  matches: (e: PeerEvent) => boolean;
  resolve: (e: PeerEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One peer.py process. Lines are parsed with `parse` so that Python's bare NaN/Infinity survive. */
export class PythonPeer {
  readonly events: PeerEvent[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiters = new Set<Waiter>();
  private stderr = '';
  private exitCode: number | null | undefined;
  /** stdout has ended: no event can come any more. */
  private closed = false;
  private readonly exited: Promise<number | null>;

  constructor(args: string[], private readonly parse: (line: string) => unknown) {
    // A server watches its stdin pipe, so it goes when we do even if teardown never runs (mocha killed).
    const watch = args[0] === 'serve' ? ['--exit-on-eof'] : [];
    this.child = spawn(PYTHON, [PEER_PY, ...args, ...watch], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4000);
    });
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        // Output may still be in the pipe when 'exit' fires; 'close' comes after stdout has ended.
        this.child.on('close', () => {
          this.closed = true;
          for (const w of this.waiters) this.settle(w, new Error(`peer.py exited (code ${code}) before ${w.what}; stderr: ${this.stderr}`));
          resolve(code);
        });
      });
      this.child.on('error', (err) => {
        this.closed = true;
        this.exitCode = null;
        for (const w of this.waiters) this.settle(w, err);
        resolve(null);
      });
    });
  }

  /** Resolves with the first event (already seen or still to come) that matches, rejects at the deadline. */
  waitFor(matches: (e: PeerEvent) => boolean, timeoutMs: number, what: string): Promise<PeerEvent> {
    const seen = this.events.find(matches);
    if (seen) return Promise.resolve(seen);
    if (this.closed) {
      return Promise.reject(new Error(`peer.py already exited (code ${this.exitCode}) before ${what}; stderr: ${this.stderr}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        what,
        matches,
        resolve,
        reject,
        timer: setTimeout(() => this.settle(waiter, new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr}`)), timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves once `count` events of kind `event` have arrived. */
  async waitForCount(event: string, count: number, timeoutMs: number): Promise<PeerEvent[]> {
    let n = 0;
    await this.waitFor((e) => e.event === event && ++n >= count, timeoutMs, `${count} "${event}" events`);
    return this.events.filter((e) => e.event === event);
  }

  /** Resolves with the exit code, or rejects at the deadline. */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`peer.py still running after ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL if it has not gone within a second; resolves when the process is gone. Idempotent. */
  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    try {
      return await this.waitForExit(1000);
    } catch {
      this.child.kill('SIGKILL');
      return this.exited;
    }
  }

  /** Sends a signal, e.g. SIGSTOP to freeze the peer so that nothing it receives is acked. */
  signal(sig: NodeJS.Signals): void {
    if (this.exitCode === undefined) this.child.kill(sig);
  }

  get stderrTail(): string {
    return this.stderr;
  }

  private onLine(line: string): void {
    let event: PeerEvent;
    try {
      event = this.parse(line) as PeerEvent;
    } catch (err) {
      for (const w of this.waiters) this.settle(w, new Error(`peer.py wrote a line that is not JSON: ${line.slice(0, 200)} (${String(err)})`));
      return;
    }
    this.events.push(event);
    for (const w of this.waiters) {
      if (w.matches(event)) this.settle(w, event);
    }
  }

  private settle(w: Waiter, outcome: PeerEvent | Error): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    if (outcome instanceof Error) w.reject(outcome);
    else w.resolve(outcome);
  }
}
