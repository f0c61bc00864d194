/**
 * `npm run bench:protocol`: fastsocket against the original Python peer and raw Node echoes, side by side in one run
 * on loopback. Every server and every client is a process of its own (the machine's cores are shared the same way
 * for every row); each measured phase follows a warm-up in the same mode; rows are interleaved over rounds and the
 * median of the rounds is reported. Prints a table (or, with --json, the JSON document) and writes the JSON to
 * results/protocol.json.
 *
 * The mqtt-mosquitto row, when mosquitto is installed (else it is skipped with a line on stderr), has a broker in
 * the middle: its RTT is one QoS 1 PUBLISH to the broker's PUBACK, its rate is what a subscriber process receives.
 *
 * Options: --quick (small counts, one round: a smoke test), --json, --rounds N, --out FILE,
 *          --impls a,b (subset of the rows), --sizes 100,1024 (payload bytes),
 *          --node-flags "..." (V8 flags for every Node server and client, baselines included; default: none),
 *          --pin split|none, --awake (idle CPUs poll instead of halting for the run: see holdCpusAwake; root only).
 */
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { LatencyStats } from '../src/fastsocket';
import {
  CLIENT_JS,
  ClientResultLine,
  Impl,
  IMPL_LABELS,
  IMPLS,
  NS_PER_US,
  PEER_PY,
  PYTHON,
  ALSO_COMPARED,
  MQTT_SUBSCRIBER_JS,
  MqttSubscriberLine,
  RAW_FLOOR,
  REPO_ROOT,
  SERVER_JS,
} from './protocol-common';
import { findMosquitto, startMosquitto } from './protocol-mosquitto';
import { cpuidleDriver, fmt, holdCpusAwake, renderTable } from './bench-kit';
import { median } from '../test/support/estimator-harness';

/** Counts for one payload size; the same for every implementation. */
export interface Counts {
  rttWarmup: number;
  rtt: number;
  pipelineWarmup: number;
  pipeline: number;
  /** Most unanswered messages in the pipelined phase (keeps 64 KiB runs inside every outbox's default bounds). */
  window: number;
}

const SIZES = [100, 1024, 65536];
const LARGE = 16 * 1024;
/**
 * Several short rounds rather than one long one: on a shared 2-core box the median of interleaved rounds is far
 * steadier. A server sees 80k messages per run, below fastsocket's default dedupCapacity (100k), so the table shows
 * the steady per-message cost; docs/benchmarks.md covers what happens past that capacity.
 *
 * The RTT warm-up is long because V8 compiles hot code in tiers: after 1,000 exchanges a Node process still spends
 * its first few thousand measured ones in slower tiers, and those alone set the p99 (fastsocket tcp 100 B: p99
 * 533-762 us after 1,000-3,000 warm-up exchanges, 191-268 us after 10,000, where the slow 1 % spread evenly over the
 * run). A bridge runs for hours, so the warm figure is the one users live with; every implementation gets the same.
 */
const FULL: { rounds: number; small: Counts; large: Counts } = {
  rounds: 5,
  small: { rttWarmup: 10000, rtt: 10000, pipelineWarmup: 10000, pipeline: 50000, window: 1000 },
  large: { rttWarmup: 1000, rtt: 1000, pipelineWarmup: 200, pipeline: 2000, window: 64 },
};
const QUICK: typeof FULL = {
  rounds: 1,
  // No warm-up: for peer.py a warm-up is one more process to start, and quick numbers are not for quoting anyway.
  small: { rttWarmup: 0, rtt: 300, pipelineWarmup: 0, pipeline: 2000, window: 100 },
  large: { rttWarmup: 0, rtt: 50, pipelineWarmup: 0, pipeline: 100, window: 16 },
};
const CHILD_TIMEOUT_MS = 180_000;

/** The measurements of one implementation at one payload size in one round. */
export interface Sample {
  rtt_p50_us: number;
  rtt_p99_us: number;
  rtt_p995_us: number;
  rtt_p999_us: number;
  msgs_per_s: number;
  server_rss_idle_kb: number;
  server_rss_peak_kb: number;
  /** Server CPU time (user + system) over both phases, warm-ups included, per message sent. */
  server_cpu_us_per_msg: number;
  /** Client CPU time per message in the measured pipelined phase; null for peer.py, which does not report it. */
  client_cpu_us_per_msg: number | null;
  /** mqtt-mosquitto only: the publisher's own rate (PUBACKs from the broker), without the fan-out to the subscriber. */
  publisher_msgs_per_s?: number;
  /** mqtt-mosquitto only: the subscriber's CPU time per measured message (in neither CPU column). */
  subscriber_cpu_us_per_msg?: number;
}

export interface ProtocolRow extends Sample {
  impl: Impl;
  label: string;
  payload_bytes: number;
  /** Payload bytes per second in the pipelined phase, in MB (1e6). */
  mb_per_s: number;
  rounds: Sample[];
}

export interface Ratio {
  impl: Impl;
  payload_bytes: number;
  versus: Impl;
  /** Ours / theirs: above 1 is better for throughput, below 1 is better for RTT and RSS. */
  msgs_per_s: number;
  rtt_p50: number;
  rtt_p99: number;
  server_rss_peak: number;
}

export interface Target {
  impl: Impl;
  payload_bytes: number;
  name: string;
  ratio: number;
  /** ">= 2.5" or "<= 1.15". */
  goal: string;
  met: boolean;
}

export interface ProtocolReport {
  benchmark: 'protocol';
  started_at: string;
  machine: { cpu: string; cpus: number; node: string; python: string; kernel: string; cpuidle: string | null; loadavg_start: number[]; loadavg_end: number[] };
  /** V8 flags every Node process of the run had. */
  node_flags: string[];
  /** How the children were pinned to cores (see Pinning). */
  pin: Pinning;
  /**
   * Whether idle CPUs were kept polling (--awake). Without it each one-in-flight exchange also pays for waking two
   * idle CPUs, which the machine decides and which moves from run to run.
   */
  awake: boolean;
  quick: boolean;
  rounds: number;
  counts: Record<string, Counts>;
  /** Rows asked for that could not run here (mqtt-mosquitto without mosquitto), with why. */
  skipped: { impl: Impl; reason: string }[];
  rows: ProtocolRow[];
  ratios: Ratio[];
  targets: Target[];
}

interface Finished {
  code: number | null;
  lines: string[];
  stderr: string;
}

/**
 * Which cores the children run on. 'split' (the default on 2 or more cores, where taskset is installed): every server
 * process (the broker and the MQTT subscriber too) on the last core, every client on the first, as two machines would
 * have them. Left to the scheduler ('none'), a client and its server shared a core in some runs and not in others:
 * the raw ws echo's 1 KiB RTT p50 was 40 us in one run and 131 us in the next, which swamped every difference the
 * table is for. The bench process itself is not pinned; it waits while the children run.
 */
export type Pinning = 'split' | 'none';
export const PINNINGS: readonly Pinning[] = ['split', 'none'];
let pinning: Pinning = os.cpus().length >= 2 && spawnSync('taskset', ['--version']).status === 0 ? 'split' : 'none';

/** Sets how children are pinned (see Pinning); returns the one in force. */
export function setPinning(p: Pinning): Pinning {
  if (p === 'split' && (os.cpus().length < 2 || spawnSync('taskset', ['--version']).status !== 0)) throw new Error('--pin split needs 2 cores and taskset (util-linux)');
  pinning = p;
  return pinning;
}

/** The command that runs `cmd args` on its side's core under the pinning in force. */
export function pinned(side: 'server' | 'client', cmd: string, args: string[]): [string, string[]] {
  if (pinning === 'none') return [cmd, args];
  return ['taskset', ['-c', side === 'server' ? String(os.cpus().length - 1) : '0', cmd, ...args]];
}

/** Keeps a child's stdout lines, each also given to `onLine`, and the last 4000 characters of its stderr. */
function collectOutput(child: { stdout: Readable; stderr: Readable }, onLine?: (line: string) => void): { lines: string[]; stderr: () => string } {
  const lines: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    lines.push(line);
    onLine?.(line);
  });
  return { lines, stderr: () => stderr };
}

/** Runs a child to its end, collecting its stdout lines; kills it after the deadline. */
function runChild(cmd: string, args: string[], timeoutMs = CHILD_TIMEOUT_MS): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const { lines, stderr } = collectOutput(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, lines, stderr: stderr() });
    });
  });
}

/** A child that printed its first stdout line (its "ready" line); `done` resolves when it exits. */
interface StartedChild {
  child: ChildProcessWithoutNullStreams;
  first: string;
  done: Promise<Finished>;
}

/**
 * Spawns a long-running child and resolves at its first stdout line. Rejects when it cannot start, exits first, or
 * prints nothing for 20 s (then it is killed); `label` and `awaited` name it and what it was to do in those errors.
 */
function startChild(cmd: string, args: string[], label: string, awaited: string): Promise<StartedChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const { lines, stderr } = collectOutput(child, (line) => {
      if (lines.length !== 1) return;
      clearTimeout(timer);
      resolve({ child, first: line, done });
    });
    const done = new Promise<Finished>((r) => child.on('close', (code) => r({ code, lines, stderr: stderr() })));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not ${awaited} within 20 s; stderr: ${stderr()}`));
    }, 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void done.then((f) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited before it could ${awaited}: ${describeExit(cmd, args, f)}`));
    });
  });
}

function describeExit(cmd: string, args: string[], f: Finished): string {
  return `${path.basename(cmd)} ${args.map((a) => path.basename(a)).join(' ')} exited ${f.code}; stderr: ${f.stderr.trim() || '(empty)'}`;
}

/** The last stdout line that parses as a JSON object with the given event. */
function lastEvent<T>(f: Finished, event: string): T | undefined {
  for (let i = f.lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(f.lines[i]) as { event?: string };
      if (v.event === event) return v as T;
    } catch {
      // Not one of ours (a stray print); keep looking.
    }
  }
  return undefined;
}

interface RunningServer {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stop(): Promise<{ messages: number }>;
}

/** Starts a server child and resolves once it prints its listening line. */
function startServer(impl: Impl, nodeFlags: readonly string[]): Promise<RunningServer> {
  const [cmd, args] = impl === 'python-peer' ? pinned('server', PYTHON, [PEER_PY, 'serve', '--port', '0', '--quiet']) : pinned('server', process.execPath, [...nodeFlags, SERVER_JS, impl]);
  return startChild(cmd, args, `${impl} server`, 'print its listening line').then(({ child, first, done }) => {
    const listening = JSON.parse(first) as { event: string; url?: string; port?: number };
    return {
      child,
      url: listening.url ?? `tcp://127.0.0.1:${listening.port}`,
      stop: async () => {
        child.kill('SIGTERM');
        const f = await done;
        const summary = lastEvent<{ messages: number }>(f, 'summary');
        if (!summary) throw new Error(`${impl} server printed no summary (exit ${f.code}); stderr: ${f.stderr}`);
        return summary;
      },
    };
  });
}

/** VmRSS (resident now) and VmHWM (peak resident) of a process, in kB, and the CPU time it has used, in us. */
function readProc(pid: number): { rss_kb: number; hwm_kb: number; cpu_us: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]);
  };
  // Fields 14 and 15 of /proc/PID/stat (utime, stime, in clock ticks) follow the command name in parentheses.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return { rss_kb: field('VmRSS'), hwm_kb: field('VmHWM'), cpu_us: (ticks * 1e6) / clockTicksPerSecond() };
}

let clkTck: number | undefined;
function clockTicksPerSecond(): number {
  clkTck ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return clkTck;
}

interface Measured {
  rtt: ClientResultLine;
  pipeline: ClientResultLine;
}

/** A Node client child: both phases over one connection, so the measured messages run JIT-compiled code. */
async function nodeClient(impl: Impl, url: string, payloadBytes: number, c: Counts, nodeFlags: readonly string[]): Promise<Measured> {
  const args = [
    ...nodeFlags, CLIENT_JS, '--impl', impl, '--url', url, '--payload-bytes', String(payloadBytes),
    '--rtt-warmup', String(c.rttWarmup), '--rtt-count', String(c.rtt),
    '--pipeline-warmup', String(c.pipelineWarmup), '--pipeline-count', String(c.pipeline), '--window', String(c.window),
    '--timeout-ms', String(CHILD_TIMEOUT_MS - 5000),
  ];
  const f = await runChild(...pinned('client', process.execPath, args));
  const results = f.lines.map((l) => JSON.parse(l) as ClientResultLine).filter((r) => r.event === 'result');
  const rtt = results.find((r) => r.mode === 'rtt');
  const pipeline = results.find((r) => r.mode === 'pipeline');
  if (f.code !== 0 || !rtt || !pipeline) throw new Error(`${impl} client failed: ${describeExit(process.execPath, args, f)}`);
  return { rtt, pipeline };
}

interface PeerSummary {
  delivered: number;
  failed: number;
  msgs_per_s: number | null;
  rtt_ns?: number[];
}

/**
 * The Python client: peer.py as is, one process per phase. Its warm-up is a separate run against the same server
 * (CPython has no JIT to warm, but the server does); the measured RTTs go through the same HdrHistogram as the
 * Node clients'.
 */
async function pythonClient(url: string, payloadBytes: number, c: Counts): Promise<Measured> {
  const port = new URL(url).port;
  const run = async (count: number, pipelineWindow: number | null, rtts: boolean): Promise<PeerSummary> => {
    const args = [PEER_PY, 'send', '--port', port, '--count', String(count), '--payload-bytes', String(payloadBytes), '--timeout', String(CHILD_TIMEOUT_MS / 1000 - 5)];
    if (pipelineWindow !== null) args.push('--pipeline', '--window', String(pipelineWindow));
    if (rtts) args.push('--rtts');
    const f = await runChild(...pinned('client', PYTHON, args));
    const summary = lastEvent<PeerSummary>(f, 'summary');
    if (f.code !== 0 || !summary || summary.failed !== 0) throw new Error(`python-peer client failed: ${describeExit(PYTHON, args, f)}`);
    return summary;
  };
  if (c.rttWarmup > 0) await run(c.rttWarmup, null, false);
  const r = await run(c.rtt, null, true);
  const stats = new LatencyStats();
  for (const ns of r.rtt_ns ?? []) stats.record(ns);
  const t = stats.total();
  if (c.pipelineWarmup > 0) await run(c.pipelineWarmup, c.window, false);
  const p = await run(c.pipeline, c.window, false);
  return {
    rtt: {
      event: 'result', mode: 'rtt', count: t.count,
      rtt_p50_us: t.p50 / NS_PER_US, rtt_p99_us: t.p99 / NS_PER_US, rtt_p995_us: stats.totalPercentile(99.5) / NS_PER_US, rtt_p999_us: stats.totalPercentile(99.9) / NS_PER_US, rtt_mean_us: t.mean / NS_PER_US,
    },
    pipeline: { event: 'result', mode: 'pipeline', count: c.pipeline, msgs_per_s: p.msgs_per_s ?? 0 },
  };
}

/** One implementation at one payload size: a fresh server, the one-in-flight phase, then the pipelined phase. */
export async function measure(impl: Impl, payloadBytes: number, c: Counts, nodeFlags: readonly string[]): Promise<Sample> {
  if (impl === 'mqtt-mosquitto') return measureMqtt(payloadBytes, c, nodeFlags);
  const server = await startServer(impl, nodeFlags);
  try {
    const idle = readProc(server.child.pid!);
    const { rtt, pipeline } = impl === 'python-peer' ? await pythonClient(server.url, payloadBytes, c) : await nodeClient(impl, server.url, payloadBytes, c, nodeFlags);
    const peak = readProc(server.child.pid!);
    const { messages } = await server.stop();
    // peer.py counts a message only once its ack 3 is read, which may still be in flight; its client checked delivery.
    const expected = c.rttWarmup + c.rtt + c.pipelineWarmup + c.pipeline;
    if (impl !== 'python-peer' && messages < expected) throw new Error(`${impl} server saw ${messages} messages, expected ${expected}`);
    return {
      rtt_p50_us: rtt.rtt_p50_us ?? 0,
      rtt_p99_us: rtt.rtt_p99_us ?? 0,
      rtt_p995_us: rtt.rtt_p995_us ?? 0,
      rtt_p999_us: rtt.rtt_p999_us ?? 0,
      msgs_per_s: pipeline.msgs_per_s ?? 0,
      server_rss_idle_kb: idle.rss_kb,
      server_rss_peak_kb: peak.hwm_kb,
      server_cpu_us_per_msg: (peak.cpu_us - idle.cpu_us) / expected,
      client_cpu_us_per_msg: pipeline.client_cpu_us_per_msg ?? null,
    };
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
  }
}

interface RunningSubscriber {
  done: Promise<Finished>;
  /** Asks it to report how many messages it has and exit 1. */
  stop(): void;
  kill(): void;
}

/** How long the subscriber may take to read what the broker still holds once the publisher has its last PUBACK. */
const DELIVERY_GRACE_MS = 10_000;

/** Starts the MQTT subscriber child and resolves once its subscription is acknowledged. */
function startSubscriber(url: string, expect: number, measured: number, nodeFlags: readonly string[]): Promise<RunningSubscriber> {
  const args = [...nodeFlags, MQTT_SUBSCRIBER_JS, '--url', url, '--expect', String(expect), '--measured', String(measured), '--timeout-ms', String(CHILD_TIMEOUT_MS - 5000)];
  return startChild(...pinned('server', process.execPath, args), 'mqtt subscriber', 'subscribe').then(({ child, done }) => ({
    done,
    stop: () => child.exitCode === null && child.kill('SIGTERM'),
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  }));
}

/**
 * The MQTT row: a fresh mosquitto, a subscriber process (the application end) connected throughout, and the
 * publisher (protocol-client.js) running both phases. The rate is the measured messages over the span from the
 * publisher's first measured write to the subscriber's last read (both on the host's monotonic clock).
 */
async function measureMqtt(payloadBytes: number, c: Counts, nodeFlags: readonly string[]): Promise<Sample> {
  const bin = findMosquitto();
  if (!bin) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const broker = await startMosquitto(...pinned('server', bin, []));
  let subscriber: RunningSubscriber | undefined;
  try {
    const pid = broker.child.pid!;
    const idle = readProc(pid);
    const expected = c.rttWarmup + c.rtt + c.pipelineWarmup + c.pipeline;
    subscriber = await startSubscriber(broker.url, expected, c.pipeline, nodeFlags);
    const { rtt, pipeline } = await nodeClient('mqtt-mosquitto', broker.url, payloadBytes, c, nodeFlags);
    const grace = setTimeout(() => subscriber?.stop(), DELIVERY_GRACE_MS);
    const f = await subscriber.done;
    clearTimeout(grace);
    const delivered = lastEvent<Extract<MqttSubscriberLine, { event: 'delivered' }>>(f, 'delivered');
    if (f.code !== 0 || !delivered) throw new Error(`mqtt subscriber failed (a message the broker dropped never arrives): exited ${f.code}; stderr: ${f.stderr.trim() || '(empty)'}`);
    const peak = readProc(pid);
    const first = pipeline.first_write_host_ns;
    if (first === undefined || delivered.last_read_host_ns <= first) throw new Error('mqtt publisher reported no first write time before the last delivery');
    return {
      rtt_p50_us: rtt.rtt_p50_us ?? 0,
      rtt_p99_us: rtt.rtt_p99_us ?? 0,
      rtt_p995_us: rtt.rtt_p995_us ?? 0,
      rtt_p999_us: rtt.rtt_p999_us ?? 0,
      msgs_per_s: c.pipeline / ((delivered.last_read_host_ns - first) / 1e9),
      server_rss_idle_kb: idle.rss_kb,
      server_rss_peak_kb: peak.hwm_kb,
      server_cpu_us_per_msg: (peak.cpu_us - idle.cpu_us) / expected,
      client_cpu_us_per_msg: pipeline.client_cpu_us_per_msg ?? null,
      publisher_msgs_per_s: pipeline.msgs_per_s ?? 0,
      subscriber_cpu_us_per_msg: delivered.cpu_us_per_msg,
    };
  } finally {
    subscriber?.kill();
    await broker.stop();
  }
}

function aggregate(impl: Impl, payloadBytes: number, rounds: Sample[]): ProtocolRow {
  const m = (k: Exclude<keyof Sample, 'client_cpu_us_per_msg' | 'publisher_msgs_per_s' | 'subscriber_cpu_us_per_msg'>) => median(rounds.map((r) => r[k]));
  const optional = (k: 'publisher_msgs_per_s' | 'subscriber_cpu_us_per_msg') => {
    const v = rounds.map((r) => r[k]).filter((x): x is number => x !== undefined);
    return v.length > 0 ? { [k]: median(v) } : {};
  };
  const clientCpu = rounds.map((r) => r.client_cpu_us_per_msg).filter((v): v is number => v !== null);
  const msgs = m('msgs_per_s');
  return {
    impl,
    label: IMPL_LABELS[impl],
    payload_bytes: payloadBytes,
    rtt_p50_us: m('rtt_p50_us'),
    rtt_p99_us: m('rtt_p99_us'),
    rtt_p995_us: m('rtt_p995_us'),
    rtt_p999_us: m('rtt_p999_us'),
    msgs_per_s: msgs,
    mb_per_s: (msgs * payloadBytes) / 1e6,
    server_rss_idle_kb: m('server_rss_idle_kb'),
    server_rss_peak_kb: m('server_rss_peak_kb'),
    server_cpu_us_per_msg: m('server_cpu_us_per_msg'),
    client_cpu_us_per_msg: clientCpu.length > 0 ? median(clientCpu) : null,
    ...optional('publisher_msgs_per_s'),
    ...optional('subscriber_cpu_us_per_msg'),
    rounds,
  };
}

function ratio(ours: ProtocolRow, theirs: ProtocolRow): Ratio {
  return {
    impl: ours.impl,
    payload_bytes: ours.payload_bytes,
    versus: theirs.impl,
    msgs_per_s: ours.msgs_per_s / theirs.msgs_per_s,
    rtt_p50: ours.rtt_p50_us / theirs.rtt_p50_us,
    rtt_p99: ours.rtt_p99_us / theirs.rtt_p99_us,
    server_rss_peak: ours.server_rss_peak_kb / theirs.server_rss_peak_kb,
  };
}

/** The targets (at 100 B and 1 KiB), each fastsocket row against the raw echo of its own transport. */
function targets(ratios: Ratio[]): Target[] {
  const out: Target[] = [];
  const add = (r: Ratio, name: string, value: number, op: '>=' | '<=', bound: number) =>
    out.push({ impl: r.impl, payload_bytes: r.payload_bytes, name, ratio: value, goal: `${op} ${bound}`, met: op === '>=' ? value >= bound : value <= bound });
  for (const r of ratios) {
    if (r.payload_bytes > 1024) continue;
    if (r.versus !== 'python-peer' && RAW_FLOOR[r.impl] !== r.versus) continue;
    if (r.versus === 'python-peer') {
      add(r, 'pipelined msgs/s vs Python peer', r.msgs_per_s, '>=', 2.5);
      add(r, 'RTT p99 vs Python peer', r.rtt_p99, '<=', 1);
    } else {
      add(r, `pipelined msgs/s vs ${r.versus}`, r.msgs_per_s, '>=', 0.9);
      add(r, `RTT p50 vs ${r.versus}`, r.rtt_p50, '<=', 1.15);
      add(r, `server peak RSS vs ${r.versus}`, r.server_rss_peak, '<=', 2);
    }
  }
  return out;
}

const size = (b: number) => (b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

function render(report: ProtocolReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(`fastsocket protocol benchmark: ${m.cpus} x ${m.cpu}, Linux ${m.kernel}, Node ${m.node}, ${m.python}`);
  out.push(`${report.rounds} round(s), median shown; loopback; every server and client in its own process${report.quick ? '; QUICK counts: not for quoting' : ''}`);
  out.push(`load average (1 min) ${m.loadavg_start[0].toFixed(2)} at start, ${m.loadavg_end[0].toFixed(2)} at end`);
  out.push(`every Node server and client (baselines too) ran with: ${report.node_flags.length > 0 ? report.node_flags.join(' ') : "Node's defaults"}`);
  out.push(
    report.awake
      ? `idle CPUs kept polling (--awake, ${m.cpuidle ?? 'no'} cpuidle driver): RTTs without the wake-ups from idle`
      : `idle CPUs left to halt (${m.cpuidle ?? 'no'} cpuidle driver): every RTT includes waking two idle CPUs; --awake keeps them polling`,
  );
  out.push(report.pin === 'split' ? `pinned (--pin split): servers, broker and subscriber on core ${m.cpus - 1}, clients on core 0` : 'not pinned (--pin none): the scheduler placed every process');
  out.push('');
  out.push(
    renderTable(
      ['implementation', 'payload', 'RTT p50 us', 'RTT p99 us', 'RTT p99.9 us', 'pipelined msgs/s', 'MB/s', 'srv RSS idle MB', 'srv RSS peak MB', 'srv CPU us/msg', 'cli CPU us/msg'],
      report.rows.map((r) => [
        r.label, size(r.payload_bytes), fmt(r.rtt_p50_us), fmt(r.rtt_p99_us), fmt(r.rtt_p999_us), fmt(r.msgs_per_s, 0), fmt(r.mb_per_s, 2),
        fmt(r.server_rss_idle_kb / 1024), fmt(r.server_rss_peak_kb / 1024), fmt(r.server_cpu_us_per_msg),
        r.client_cpu_us_per_msg === null ? '-' : fmt(r.client_cpu_us_per_msg),
      ]),
    ),
  );
  if (report.rows.some((r) => r.impl === 'mqtt-mosquitto')) {
    out.push(
      `${IMPL_LABELS['mqtt-mosquitto']}: RTT is PUBLISH to the broker's PUBACK; msgs/s is what a subscriber process receives ` +
        '(the broker\'s fan-out included); srv is mosquitto; no per-message one-way latency.',
    );
  }
  for (const s of report.skipped) out.push(`skipped ${s.impl}: ${s.reason}`);
  out.push('');
  out.push('Ratios (ours / theirs; msgs/s: higher is better; RTT and RSS: lower is better)');
  out.push(
    renderTable(
      ['implementation', 'payload', 'versus', 'msgs/s', 'RTT p50', 'RTT p99', 'RSS peak'],
      report.ratios.map((r) => [IMPL_LABELS[r.impl], size(r.payload_bytes), r.versus, `${fmt(r.msgs_per_s, 2)}x`, `${fmt(r.rtt_p50, 2)}x`, `${fmt(r.rtt_p99, 2)}x`, `${fmt(r.server_rss_peak, 2)}x`]),
    ),
  );
  out.push('');
  out.push('Targets (issue #2, at 100 B and 1 KiB)');
  out.push(
    renderTable(
      ['implementation', 'payload', 'target', 'measured', 'goal', ''],
      report.targets.map((t) => [IMPL_LABELS[t.impl], size(t.payload_bytes), t.name, `${fmt(t.ratio, 2)}x`, t.goal, t.met ? 'met' : 'MISSED']),
    ),
  );
  return out.join('\n');
}

export function machine(loadStart: number[]): ProtocolReport['machine'] {
  const py = spawnSync(PYTHON, ['--version'], { encoding: 'utf8' });
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpus: os.cpus().length,
    node: process.version,
    python: (py.stdout || py.stderr || 'python unknown').trim(),
    kernel: os.release(),
    cpuidle: cpuidleDriver(),
    loadavg_start: loadStart,
    loadavg_end: os.loadavg(),
  };
}

function fail(problem: string): never {
  process.stderr.write(`bench:protocol: ${problem}\nusage: protocol.js [--quick] [--json] [--rounds N] [--out FILE] [--impls ${IMPLS.join(',')}] [--sizes 100,1024,65536] [--node-flags "..."] [--pin split|none] [--awake]\n`);
  process.exit(2);
}

function listOption<T>(raw: string | undefined, all: readonly T[], parse: (s: string) => T, what: string): T[] {
  if (raw === undefined) return [...all];
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean).map(parse);
  if (items.length === 0) fail(`--${what} must not be empty`);
  return items;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        out: { type: 'string' },
        impls: { type: 'string' },
        sizes: { type: 'string' },
        'node-flags': { type: 'string' },
        pin: { type: 'string' },
        awake: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const plan = values.quick ? QUICK : FULL;
  const rounds = values.rounds === undefined ? plan.rounds : Number(values.rounds);
  if (!Number.isSafeInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer (got ${values.rounds})`);
  const asked = listOption(values.impls, IMPLS, (s) => ((IMPLS as readonly string[]).includes(s) ? (s as Impl) : fail(`unknown implementation ${s}`)), 'impls');
  const sizes = listOption(values.sizes, SIZES, (s) => {
    const n = Number(s);
    return Number.isSafeInteger(n) && n >= 0 ? n : fail(`--sizes: ${s} is not a byte count`);
  }, 'sizes');
  const out = path.resolve(values.out ?? path.join(REPO_ROOT, 'results', values.quick ? 'protocol-quick.json' : 'protocol.json'));
  const nodeFlags = (values['node-flags'] ?? '').split(' ').filter((f) => f !== '');
  if (values.pin !== undefined) {
    if (!(PINNINGS as readonly string[]).includes(values.pin)) fail(`--pin must be one of ${PINNINGS.join(', ')} (got ${values.pin})`);
    try {
      setPinning(values.pin as Pinning);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  const countsFor = (b: number) => (b >= LARGE ? plan.large : plan.small);
  const progress = (s: string) => process.stderr.write(s + '\n');
  const skipped: ProtocolReport['skipped'] = [];
  if (asked.includes('mqtt-mosquitto') && findMosquitto() === null) {
    skipped.push({ impl: 'mqtt-mosquitto', reason: 'mosquitto not found on PATH, /usr/sbin or /usr/local/sbin' });
    progress('bench:protocol: skipping mqtt-mosquitto: mosquitto is not installed (apt-get install mosquitto)');
  }
  const impls = asked.filter((i) => !skipped.some((s) => s.impl === i));
  if (impls.length === 0) fail('nothing left to run');

  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg();
  if (loadStart[0] > os.cpus().length / 2) {
    progress(`warning: load average ${loadStart[0].toFixed(1)} on ${os.cpus().length} cores: other work will distort the numbers`);
  }
  const samples = new Map<string, Sample[]>();
  const total = rounds * sizes.length * impls.length;
  let done = 0;
  let awake: { release(): void } | null = null;
  if (values.awake) {
    try {
      awake = holdCpusAwake();
    } catch (err) {
      fail((err as Error).message);
    }
  }
  try {
    for (let round = 0; round < rounds; round++) {
      for (const bytes of sizes) {
        // Rotating the order keeps any drift of the machine from always favouring the same row.
        const order = impls.map((_, i) => impls[(i + round) % impls.length]);
        for (const impl of order) {
          const s = await measure(impl, bytes, countsFor(bytes), nodeFlags);
          const key = `${impl}/${bytes}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          progress(
            `[${++done}/${total}] round ${round + 1} ${impl} ${size(bytes)}: RTT p50 ${fmt(s.rtt_p50_us)} us p99 ${fmt(s.rtt_p99_us)} us p99.9 ${fmt(s.rtt_p999_us)} us, ` +
              `${fmt(s.msgs_per_s, 0)} msgs/s, server RSS peak ${fmt(s.server_rss_peak_kb / 1024)} MB`,
          );
        }
      }
    }
  } finally {
    awake?.release();
  }

  const rows: ProtocolRow[] = [];
  for (const bytes of sizes) for (const impl of impls) rows.push(aggregate(impl, bytes, samples.get(`${impl}/${bytes}`)!));
  const find = (impl: Impl, bytes: number) => rows.find((r) => r.impl === impl && r.payload_bytes === bytes);
  const ratios: Ratio[] = [];
  for (const r of rows) {
    const floor = RAW_FLOOR[r.impl];
    if (!floor) continue;
    const py = find('python-peer', r.payload_bytes);
    const raw = find(floor, r.payload_bytes);
    if (py) ratios.push(ratio(r, py));
    if (raw) ratios.push(ratio(r, raw));
    for (const also of ALSO_COMPARED[r.impl] ?? []) {
      const other = find(also, r.payload_bytes);
      if (other) ratios.push(ratio(r, other));
    }
  }
  const counts = Object.fromEntries(sizes.map((b) => [String(b), countsFor(b)]));
  const report: ProtocolReport = {
    benchmark: 'protocol', started_at: startedAt, machine: machine(loadStart), node_flags: nodeFlags, pin: pinning, awake: awake !== null, quick: values.quick ?? false, rounds, counts, skipped, rows, ratios, targets: targets(ratios),
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : render(report) + `\n\nJSON written to ${path.relative(process.cwd(), out) || out}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:protocol: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
