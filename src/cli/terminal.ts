/**
 * Everything the CLI prints goes through here: results on stdout (JSON lines or tables), logs and the live
 * progress line on stderr, so that `--json` output stays machine-readable whatever the library logs.
 */
import { stringifyJson, type LatencySummary, type Logger } from '../fastsocket';

export interface Stream {
  write(chunk: string, callback?: (err?: Error | null) => void): boolean;
  isTTY?: boolean;
  columns?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export class Terminal {
  private pending: string[] = [];
  private flushScheduled = false;
  private liveText = '';

  constructor(
    private readonly stdout: Stream,
    private readonly stderr: Stream,
    private readonly command: string,
    /** How jsonNow writes, when not through stdout: CommandContext.writeStdoutNow. */
    private readonly writeNow?: (text: string) => void,
  ) {}

  /** True when a live line can be redrawn in place. */
  get interactive(): boolean {
    return this.stderr.isTTY === true;
  }

  /**
   * Queues a line for stdout. Lines written in one tick go out in one write: a server printing a line per
   * message must not spend a system call on each.
   */
  line(text: string): void {
    this.pending.push(text);
    if (this.pending.length >= 512) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  json(value: object): void {
    this.line(stringifyJson(value));
  }

  /**
   * Writes a JSON line now, after whatever was queued before it. For a hand-over: `serve` prints a message before
   * its handler returns, so the line is out before the message's ack 2 (serve --json makes stdout blocking; a
   * line queued in this process when it crashes would be lost for good, since its sender holds an ack).
   */
  jsonNow(value: object): void {
    this.pending.push(stringifyJson(value));
    // Through writeNow when given: a write to a pipe whose reader has gone fails only after this turn, once ack 2 has
    // left with nothing printed.
    this.flush(this.writeNow);
  }

  /** Writes what is queued, through `write` when given, else to stdout. */
  flush(write?: (text: string) => void): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    if (write) write(text);
    else this.stdout.write(text);
  }

  /** Resolves once everything queued has been handed to the operating system. */
  drain(): Promise<void> {
    this.endLive();
    this.flush();
    return new Promise((resolve) => {
      let left = 2;
      const done = () => --left === 0 && resolve();
      this.stdout.write('', done);
      this.stderr.write('', done);
    });
  }

  /** One line on stderr, above the live line if there is one. */
  note(text: string): void {
    if (this.liveText) this.stderr.write(`\r\x1b[K${text}\n${this.liveText}`);
    else this.stderr.write(`${text}\n`);
  }

  /** Replaces the live progress line; does nothing unless stderr is a terminal. */
  live(text: string): void {
    if (!this.interactive) return;
    // columns is 0 or missing when the terminal does not report a size.
    const width = Math.max(20, (this.stderr.columns || 100) - 1);
    this.liveText = text.length > width ? text.slice(0, width) : text;
    this.stderr.write(`\r\x1b[K${this.liveText}`);
  }

  endLive(): void {
    if (!this.liveText) return;
    this.liveText = '';
    this.stderr.write('\r\x1b[K');
  }

  /** A library logger printing `fastsocket <command>: <level>: message` on stderr from `level` up. */
  logger(level: LogLevel): Logger {
    const min = LEVELS.indexOf(level);
    const make = (l: LogLevel) => (LEVELS.indexOf(l) >= min ? (msg: string) => this.note(`fastsocket ${this.command}: ${l}: ${msg}`) : () => undefined);
    return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
  }
}

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd()).join('\n');
}

export function ms(ns: number): string {
  return (ns / 1e6).toFixed(3);
}

/** The latency table printed by serve and demo: one row per series, values in ms. */
export function latencyTable(rows: { label: string; summary: LatencySummary }[]): string {
  const table = formatTable(
    ['(ms)', 'count', 'p50', 'p90', 'p99', 'mean', 'jitter', 'max'],
    rows.map(({ label, summary: s }) => [label, String(s.count), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.mean), ms(s.jitter), ms(s.max)]),
  );
  // A sample past the statistics' range (1 h: an age after a long outage) is recorded at its top, so the max shown
  // is that top, not the sample: say so rather than print it as a measurement.
  const clamped = rows
    .filter(({ summary: s }) => s.clamped_high > 0)
    .map(({ label, summary: s }) => `(${label}: ${s.clamped_high} of its samples above ${ms(s.max)} ms, the top of the range, counted as ${ms(s.max)} ms)`);
  return [table, ...clamped].join('\n');
}

/** Rounds to `digits` decimals, for rates and microsecond figures in summaries. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
