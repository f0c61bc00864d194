/**
 * `npm run bench`: every benchmark that needs no ROS, in one run, one after the other so none disturbs another:
 * protocol (bench/protocol.js, spawned with --json), latency estimator, the V2X workload, fan-in and the memory
 * soak. Prints one table (or, with --json, the JSON document), writes it to results/all.json, and each benchmark's
 * own JSON beside it. A progress bar runs on stderr.
 *
 * Options: --quick (a smoke run of every part, under a minute), --json, --out FILE, --duration S (the soak's;
 * default 600), --skip protocol,estimator,v2x,fan-in,soak.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { ESTIMATOR_LABELS } from '../test/support/estimator-harness';
import { benchCli, describeMachine, fmt, listOption, machine, msOf, positiveOption, renderTable, UsageError, writeJson, type Machine, type Progress } from './bench-kit';
import { CONDITIONS, runEstimator, type EstimatorReport } from './estimator';
import { runFanIn, type FanInReport } from './fan-in';
import type { ProtocolReport } from './protocol';
import { defaultWarmupS, runSoak, soakStatusText, type SoakReport } from './soak';
import { runV2x, type V2xReport } from './v2x';

const PARTS = ['protocol', 'estimator', 'v2x', 'fan-in', 'soak'] as const;
type Part = (typeof PARTS)[number];

const PROTOCOL_JS = path.join(__dirname, 'protocol.js');
const DEFAULT_SOAK_S = 600;
const QUICK_SOAK_S = 6;

/** One line of the summary table: a case and its key numbers. */
export interface SummaryRow {
  benchmark: Part;
  case: string;
  /** Named numbers, each with its unit in the name (us, ms, MB, msgs_s, pct). */
  metrics: Record<string, number>;
  /** The numbers as the table shows them. */
  result: string;
  /** 'met'/'MISSED' for a target, 'pass'/'FAIL' for the soak; absent when there is nothing to judge. */
  status?: string;
}

export interface AllReport {
  benchmark: 'all';
  started_at: string;
  machine: Machine;
  quick: boolean;
  rows: SummaryRow[];
  /** Parts that could not run, with why. */
  errors: { part: Part; error: string }[];
  reports: { protocol?: ProtocolReport; estimator?: EstimatorReport; v2x?: V2xReport; fan_in?: FanInReport; soak?: SoakReport };
}

/** Expected seconds of each part, only to weigh the progress bar. */
function weights(quick: boolean, soakS: number): Record<Part, number> {
  return quick ? { protocol: 16, estimator: 6, v2x: 6, 'fan-in': 10, soak: soakS + 2 } : { protocol: 560, estimator: 130, v2x: 70, 'fan-in': 80, soak: soakS + 5 };
}

/** The protocol benchmark as its own process: its JSON document on stdout, its "[k/n]" lines on stderr give progress. */
function runProtocol(quick: boolean, out: string, progress: Progress): Promise<ProtocolReport> {
  // One payload size keeps the quick run under a minute; it still runs every implementation.
  const args = [PROTOCOL_JS, '--json', '--out', out, ...(quick ? ['--quick', '--sizes', '100'] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderrTail = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
      stderrTail = (stderrTail + line + '\n').slice(-4000);
      const m = /^\[(\d+)\/(\d+)\]\s+(.*?):/.exec(line);
      if (m) progress(Number(m[1]) / Number(m[2]), `protocol ${m[3]}`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`exited ${code}`);
        resolve(JSON.parse(stdout) as ProtocolReport);
      } catch (err) {
        reject(new Error(`bench/protocol.js ${args.slice(1).join(' ')}: ${(err as Error).message}; stderr: ${stderrTail.trim()}`));
      }
    });
  });
}

const us = (v: number): string => `${fmt(v, 0)} us`;

function protocolRows(r: ProtocolReport): SummaryRow[] {
  return r.rows.map((row) => ({
    benchmark: 'protocol',
    case: `${row.label}, ${row.payload_bytes >= 1024 ? `${row.payload_bytes / 1024} KiB` : `${row.payload_bytes} B`}`,
    metrics: { rtt_p50_us: row.rtt_p50_us, rtt_p99_us: row.rtt_p99_us, msgs_s: row.msgs_per_s, server_rss_peak_mb: row.server_rss_peak_kb / 1024 },
    result: `RTT p50 ${us(row.rtt_p50_us)}, p99 ${us(row.rtt_p99_us)}; ${fmt(row.msgs_per_s, 0)} msgs/s pipelined; server RSS peak ${fmt(row.server_rss_peak_kb / 1024)} MB`,
  }));
}

function estimatorRows(r: EstimatorReport): SummaryRow[] {
  const out: SummaryRow[] = [];
  for (const c of CONDITIONS) {
    for (const scheme of ['tcp', 'ws'] as const) {
      const find = (e: string) => r.rows.find((x) => x.condition === c.key && x.scheme === scheme && x.estimator === e);
      const corrected = find('corrected');
      const seed = find('seed');
      const synced = find('clock_synced');
      if (!corrected || !seed || !synced) continue;
      const target = r.targets.find((t) => t.condition === c.key && t.scheme === scheme);
      out.push({
        benchmark: 'estimator',
        case: `${c.label} ${scheme}://`,
        metrics: {
          truth_p50_ms: corrected.truth_p50_us / 1000, corrected_median_err_us: corrected.median_us, corrected_median_err_pct: corrected.median_pct,
          corrected_p95_err_us: corrected.p95_us, seed_median_err_us: seed.median_us, clock_synced_median_err_us: synced.median_us,
        },
        result:
          `truth ${fmt(corrected.truth_p50_us / 1000, 2)} ms; ${ESTIMATOR_LABELS.corrected} err median ${us(corrected.median_us)} (${fmt(corrected.median_pct, 2)} %), ` +
          `p95 ${us(corrected.p95_us)}; seed ${us(seed.median_us)}; clock-synced uplink ${us(synced.median_us)}`,
        ...(target ? { status: `${target.goal}: ${target.met ? 'met' : 'MISSED'}` } : {}),
      });
    }
  }
  return out;
}

function workloadRows(part: 'v2x' | 'fan-in', rows: V2xReport['rows']): SummaryRow[] {
  return rows.map((w) => ({
    benchmark: part,
    case: part === 'v2x' ? `CPM ${w.rate_hz_per_client} Hz ${w.scheme}://` : `${w.clients} clients x ${w.rate_hz_per_client} Hz ${w.scheme}://`,
    metrics: {
      latency_p50_ms: w.latency_corrected.p50 / 1e6, latency_p99_ms: w.latency_corrected.p99 / 1e6, latency_max_ms: w.latency_corrected.max / 1e6,
      delivered: w.delivered, msgs_s: w.achieved_hz, server_rss_peak_mb: w.server_rss_peak_kb / 1024,
    },
    result:
      `latency p50 ${msOf(w.latency_corrected.p50)} ms, p99 ${msOf(w.latency_corrected.p99)} ms, max ${msOf(w.latency_corrected.max)} ms; ` +
      `${fmt(w.delivered, 0)}/${fmt(w.sent, 0)} delivered; server RSS peak ${fmt(w.server_rss_peak_kb / 1024)} MB`,
    ...(w.delivered < w.sent ? { status: 'LOSS' } : {}),
  }));
}

function soakRows(r: SoakReport): SummaryRow[] {
  return r.verdicts.map((v) => ({
    benchmark: 'soak',
    case: `${v.process} RSS, ${r.duration_s} s at ${r.rate_hz} Hz`,
    metrics: {
      rss_warmup_end_mb: v.reference_kb / 1024, rss_max_mb: v.max_kb / 1024, growth_mb: v.growth_kb / 1024, drift_mb: v.drift_kb / 1024,
      ...(v.heap_growth_kb === null ? {} : { heap_growth_mb: v.heap_growth_kb / 1024 }),
    },
    result:
      `RSS ${fmt(v.reference_kb / 1024)} MB after ${fmt(r.warmup_s, 0)} s warm-up, then ${fmt(v.min_kb / 1024)}-${fmt(v.max_kb / 1024)} MB: ` +
      `growth ${fmt(v.growth_kb / 1024)} MB, drift ${fmt(v.drift_kb / 1024)} MB` +
      `${v.heap_growth_kb === null ? '' : `, heap after GC ${fmt(v.heap_growth_kb / 1024, 2)} MB`}; ${fmt(r.run.delivered, 0)}/${fmt(r.run.sent, 0)} delivered`,
    status: soakStatusText(v.status, r.limit_kb, r.warmup_s, r.rate_hz),
  }));
}

/** Runs the parts in order; each part's own JSON goes to `dir` (results/ by default, beside all.json). */
export async function runAll(o: { quick: boolean; soakS: number; skip: readonly Part[]; dir: string; progress: Progress; note: (s: string) => void }): Promise<AllReport> {
  const m = machine();
  const startedAt = new Date().toISOString();
  const report: AllReport = { benchmark: 'all', started_at: startedAt, machine: m, quick: o.quick, rows: [], errors: [], reports: {} };
  const parts = PARTS.filter((p) => !o.skip.includes(p));
  const w = weights(o.quick, o.soakS);
  const total = parts.reduce((s, p) => s + w[p], 0);
  let before = 0;
  const file = (name: string): string => path.join(o.dir, `${name}${o.quick ? '-quick' : ''}.json`);
  for (const part of parts) {
    const progress: Progress = (f, label) => o.progress((before + w[part] * Math.min(1, f)) / total, label);
    progress(0, part);
    try {
      if (part === 'protocol') {
        report.reports.protocol = await runProtocol(o.quick, file('protocol'), progress);
        report.rows.push(...protocolRows(report.reports.protocol));
      } else if (part === 'estimator') {
        report.reports.estimator = await runEstimator({ quick: o.quick, progress });
        writeJson(file('estimator'), report.reports.estimator);
        report.rows.push(...estimatorRows(report.reports.estimator));
      } else if (part === 'v2x') {
        report.reports.v2x = await runV2x({ quick: o.quick, progress });
        writeJson(file('v2x'), report.reports.v2x);
        report.rows.push(...workloadRows('v2x', report.reports.v2x.rows));
      } else if (part === 'fan-in') {
        report.reports.fan_in = await runFanIn({ quick: o.quick, progress });
        writeJson(file('fan-in'), report.reports.fan_in);
        report.rows.push(...workloadRows('fan-in', report.reports.fan_in.rows));
      } else {
        report.reports.soak = await runSoak({ quick: o.quick, durationS: o.soakS, warmupS: defaultWarmupS(o.soakS), progress });
        writeJson(file('soak'), report.reports.soak);
        report.rows.push(...soakRows(report.reports.soak));
      }
    } catch (err) {
      // One broken part must not cost the others' results; the run still exits 1.
      const message = (err as Error).message ?? String(err);
      report.errors.push({ part, error: message });
      o.note(`${part} failed: ${message}`);
    }
    before += w[part];
  }
  o.progress(1, 'done');
  m.loadavg_end = os.loadavg();
  return report;
}

export function renderAll(r: AllReport): string {
  const out = [
    `fastsocket benchmarks (npm run bench${r.quick ? ' -- --quick' : ''}): ${describeMachine(r.machine)}`,
    r.quick ? 'QUICK run: a smoke test of every part; the numbers are not for quoting.' : 'Loopback on one machine; details per part in results/*.json.',
    '',
    renderTable(['benchmark', 'case', 'result', 'status'], r.rows.map((row) => [row.benchmark, row.case, row.result, row.status ?? '']), 3),
  ];
  for (const e of r.errors) out.push(`\n${e.part}: FAILED TO RUN: ${e.error}`);
  return out.join('\n');
}

if (require.main === module) {
  benchCli<AllReport>({
    name: 'all',
    script: 'run-all.js',
    usage: '[--duration S] [--skip protocol,estimator,v2x,fan-in,soak]',
    options: { duration: { type: 'string' }, skip: { type: 'string' } },
    run: async (v, { progress, note, out }) => {
      const skip = v.skip === undefined ? [] : listOption(v, 'skip', PARTS);
      if (skip.length === PARTS.length) throw new UsageError('--skip leaves nothing to run');
      const report = await runAll({
        quick: v.quick === true,
        soakS: positiveOption(v, 'duration', v.quick ? QUICK_SOAK_S : DEFAULT_SOAK_S),
        skip,
        dir: path.dirname(out),
        progress,
        note,
      });
      if (report.errors.length > 0) process.exitCode = 1;
      return report;
    },
    render: renderAll,
  });
}
