/**
 * What the estimator, workload and run-all benchmarks share: the machine description, tables, the progress bar on
 * stderr, child processes that speak JSON lines, and /proc readings.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

/** Compiled to build/bench/, so the source tree is two levels up. */
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const RESULTS_DIR = path.join(REPO_ROOT, 'results');

export interface Machine {
  /** The CPU model as /proc/cpuinfo names it. */
  cpu: string;
  /** Processors this process may run on (what `nproc` prints). */
  nproc: number;
  node: string;
  kernel: string;
  loadavg_start: number[];
  loadavg_end?: number[];
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // Not Linux: os.cpus() below still names it.
  }
  return os.cpus()[0]?.model.trim() || 'unknown';
}

export function machine(): Machine {
  return { cpu: cpuModel(), nproc: os.availableParallelism(), node: process.version, kernel: os.release(), loadavg_start: os.loadavg() };
}

/** One line naming the machine, as the tables' caption. */
export function describeMachine(m: Machine): string {
  const load = `load average ${m.loadavg_start[0].toFixed(2)} at start${m.loadavg_end ? `, ${m.loadavg_end[0].toFixed(2)} at end` : ''}`;
  return `${m.nproc} x ${m.cpu}, Linux ${m.kernel}, Node ${m.node}; ${load}`;
}

/** A warning when other work on the machine will distort timing, or null. */
export function loadWarning(m: Machine): string | null {
  const load = m.loadavg_start[0];
  return load > m.nproc / 2 ? `warning: load average ${load.toFixed(1)} on ${m.nproc} cores: other work will distort the numbers` : null;
}

/** Linux's PM QoS device: while a process holds it open with a value written, idle CPUs keep to states that wake within it. */
const CPU_DMA_LATENCY = '/dev/cpu_dma_latency';

/** The kernel's cpuidle driver (haltpoll in a KVM/Firecracker guest, intel_idle, acpi_idle...), or null when none is exposed. */
export function cpuidleDriver(): string | null {
  try {
    return fs.readFileSync('/sys/devices/system/cpu/cpuidle/current_driver', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * Keeps the machine's idle CPUs polling rather than halting until release(): writes a latency of 0 us to
 * /dev/cpu_dma_latency and holds the file open (the kernel forgets the request when it is closed, the process's exit
 * included). A one-in-flight loopback exchange wakes two idle CPUs; what that costs is the machine's, not the code's
 * (on a 2-vCPU Firecracker guest with haltpoll: ~80 us of a ~110 us RTT), and it varies from minute to minute. Both
 * CPUs are then busy for the whole run, so nothing else should run beside it.
 * @throws Error saying what is missing: the device (not Linux, or no PM QoS) or the permission to write it (root).
 */
export function holdCpusAwake(): { release(): void } {
  let fd: number;
  try {
    fd = fs.openSync(CPU_DMA_LATENCY, 'w');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist here (Linux with PM QoS only)' : code === 'EACCES' || code === 'EPERM' ? 'it is writable by root only' : (err as Error).message;
    throw new Error(`--awake needs to write ${CPU_DMA_LATENCY}: ${why}`);
  }
  const zero = Buffer.alloc(4);
  try {
    fs.writeSync(fd, zero);
  } catch (err) {
    fs.closeSync(fd);
    throw new Error(`--awake could not write ${CPU_DMA_LATENCY}: ${(err as Error).message}`);
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      fs.closeSync(fd);
    },
  };
}

/** A plain-text table: the first `leftColumns` columns left-aligned, the numbers right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A number with a fixed count of decimals and thousands separators. */
export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Writes a report as pretty JSON, creating the folder. */
export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Reports how far a benchmark got: the part done (0..1) and what it is doing. */
export type Progress = (fraction: number, label: string) => void;

/**
 * A progress bar on stderr: redrawn in place on a terminal; elsewhere (CI logs) one line whenever the label changes,
 * so a log shows what ran without a line per tick.
 */
export class ProgressBar {
  private lastLabel = '';
  private lastDrawMs = 0;
  private readonly startMs = performance.now();
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(fraction: number, label: string): void {
    const f = Math.min(1, Math.max(0, fraction));
    const elapsedS = (performance.now() - this.startMs) / 1000;
    const pct = `${(f * 100).toFixed(0).padStart(3)}%`;
    if (!this.stream.isTTY) {
      if (label === this.lastLabel) return;
      this.lastLabel = label;
      this.stream.write(`[${pct}] ${clock(elapsedS)} ${label}\n`);
      return;
    }
    const now = performance.now();
    if (label === this.lastLabel && now - this.lastDrawMs < 200) return;
    this.lastLabel = label;
    this.lastDrawMs = now;
    const width = 30;
    const filled = Math.round(f * width);
    const eta = f > 0.02 ? ` eta ${clock((elapsedS * (1 - f)) / f)}` : '';
    const text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${clock(elapsedS)}${eta}  ${label}`;
    const columns = this.stream.columns || 100;
    this.stream.write(`\r\x1b[K${text.slice(0, columns - 1)}`);
    this.drawn = true;
  }

  /** A line of its own above the bar. */
  note(text: string): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(`${text}\n`);
    this.lastDrawMs = 0;
  }

  /** Clears the bar, leaving the terminal as it was. */
  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Resident set now and at its peak, in kB, from /proc/PID/status. */
export function readRss(pid: number): { rss_kb: number; hwm_kb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]);
  };
  return { rss_kb: field('VmRSS'), hwm_kb: field('VmHWM') };
}

/** CPU time (user + system) this process has used so far, in s. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The answer of a workload child to a "heap" line on its stdin. */
export interface HeapLine {
  event: 'heap';
  /** V8 heap in use, after a full collection when the process runs with --expose-gc. */
  heap_used_kb: number;
  collected: boolean;
}

/**
 * Measures the JS heap for a "heap" request. With --expose-gc a full collection runs first, so what is left is what
 * the program still holds: the number a leak makes grow, without the collector's sawtooth that RSS shows.
 */
export function heapLine(): HeapLine {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return { event: 'heap', heap_used_kb: Math.round(process.memoryUsage().heapUsed / 1024), collected: gc !== undefined };
}

/** A Node child process that prints one JSON object per stdout line, each with an `event`. */
export class JsonChild {
  private readonly waiters: Array<{ event: string; resolve: (v: Record<string, unknown>) => void }> = [];
  private readonly listeners: Array<(v: Record<string, unknown>) => void> = [];
  private readonly unclaimed: Array<Record<string, unknown>> = [];
  private stderrTail = '';
  private readonly exited: Promise<number | null>;
  readonly child: ChildProcessWithoutNullStreams;

  constructor(script: string, args: readonly string[], readonly name: string, nodeArgs: readonly string[] = []) {
    this.child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => (this.stderrTail = (this.stderrTail + s).slice(-4000)));
    // A child that dies before reading its stdin must not crash us with EPIPE.
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const l of this.listeners) l(value);
      const i = this.waiters.findIndex((w) => w.event === value.event);
      if (i !== -1) this.waiters.splice(i, 1)[0].resolve(value);
      else {
        // Kept for a next() that comes later: two lines read in one chunk arrive before the caller can ask for the second.
        this.unclaimed.push(value);
        if (this.unclaimed.length > 100) this.unclaimed.shift();
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Calls `listener` with every line the child prints from now on. */
  onLine(listener: (v: Record<string, unknown>) => void): void {
    this.listeners.push(listener);
  }

  /** The first unclaimed line with this event, or the next one; rejects if the child exits first or after `ms`. */
  next<T = Record<string, unknown>>(event: string, ms: number): Promise<T> {
    const early = this.unclaimed.findIndex((v) => v.event === event);
    if (early !== -1) return Promise.resolve(this.unclaimed.splice(early, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${event}" line within ${ms} ms; stderr: ${this.stderrTail.trim()}`)), ms);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before printing "${event}"; stderr: ${this.stderrTail.trim()}`));
      });
      this.waiters.push({
        event,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
      });
    });
  }

  /** One command line on the child's stdin. */
  send(command: string): void {
    this.child.stdin.write(`${command}\n`);
  }

  /** Ends its stdin (the child's cue to finish), waits for `event`, and kills it if it has not exited by `ms`. */
  async finish<T = Record<string, unknown>>(event: string, ms: number): Promise<T> {
    const last = this.next<T>(event, ms);
    this.child.stdin.end();
    try {
      return await last;
    } finally {
      this.kill();
    }
  }

  /** SIGKILL unless it has exited; for cleanup paths. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  wait(): Promise<number | null> {
    return this.exited;
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;
type OptionValues = Record<string, string | boolean | undefined>;

/** The shape every benchmark's JSON document has at the top. */
export interface Report {
  benchmark: string;
  quick: boolean;
}

/**
 * The command line of a benchmark script: --quick, --json and --out FILE plus its own options; runs it with
 * progress on stderr, writes the JSON to results/NAME.json (NAME-quick.json for --quick) and prints the table
 * or, with --json, the JSON document. Exit 2 on a usage error, 1 when the benchmark fails.
 */
export function benchCli<R extends Report>(spec: {
  /** Names the JSON files (results/NAME.json) and the messages. */
  name: string;
  /** The script's file name in the usage line. @default `${name}.js` */
  script?: string;
  usage: string;
  options?: OptionSpec;
  run(values: OptionValues, context: { progress: Progress; note(text: string): void; out: string }): Promise<R>;
  render(report: R): string;
}): void {
  const usageError = (problem: string): never => {
    process.stderr.write(`bench:${spec.name}: ${problem}\nusage: ${spec.script ?? `${spec.name}.js`} [--quick] [--json] [--out FILE] ${spec.usage}\n`);
    process.exit(2);
  };
  let values: OptionValues = {};
  try {
    ({ values } = parseArgs({
      options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, out: { type: 'string' }, ...spec.options },
    }));
  } catch (err) {
    usageError((err as Error).message);
  }
  const quick = values.quick === true;
  const out = path.resolve(typeof values.out === 'string' ? values.out : path.join(RESULTS_DIR, `${spec.name}${quick ? '-quick' : ''}.json`));
  const warning = loadWarning(machine());
  if (warning) process.stderr.write(`${warning}\n`);
  const bar = new ProgressBar();
  // Through a promise, so an option rejected while run() starts is reported like any other failure.
  Promise.resolve()
    .then(() => spec.run(values, { progress: (f, label) => bar.update(f, label), note: (text) => bar.note(text), out }))
    .then((report) => {
      bar.done();
      writeJson(out, report);
      process.stdout.write(values.json ? JSON.stringify(report) + '\n' : `${spec.render(report)}\n\nJSON written to ${path.relative(process.cwd(), out) || out}\n`);
    })
    .catch((err: unknown) => {
      bar.done();
      if (err instanceof UsageError) usageError(err.message);
      process.stderr.write(`bench:${spec.name}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}

/** A bad command-line value, reported with the usage line and exit 2. */
export class UsageError extends Error {}

/** A positive number from an option, or `fallback` when the option is absent. @throws UsageError naming the option. */
export function positiveOption(values: OptionValues, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number (got ${String(raw)})`);
  return n;
}

/** A comma-separated subset of `all`. @throws UsageError naming the option and the unknown item. */
export function listOption<T extends string>(values: OptionValues, name: string, all: readonly T[]): T[] {
  const raw = values[name];
  if (raw === undefined) return [...all];
  const items = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!(all as readonly string[]).includes(item)) throw new UsageError(`--${name}: unknown ${item} (one of ${all.join(', ')})`);
  if (items.length === 0) throw new UsageError(`--${name} must not be empty`);
  return items as T[];
}

/** --rounds: a whole number of rounds, or `fallback`. @throws UsageError naming the option. */
export function roundsOption(values: OptionValues, fallback: number): number {
  const rounds = positiveOption(values, 'rounds', fallback);
  if (!Number.isSafeInteger(rounds)) throw new UsageError(`--rounds must be a whole number (got ${String(values.rounds)})`);
  return rounds;
}

/** --sizes: comma-separated payload sizes in bytes, or those of `fallback`. @throws UsageError naming the bad one. */
export function sizesOption(values: OptionValues, fallback: string): number[] {
  return String(values.sizes ?? fallback).split(',').map((s) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--sizes: ${s} is not a byte count`);
    return n;
  });
}

/** ns as ms with two decimals. */
export const msOf = (ns: number): string => fmt(ns / 1e6, 2);
