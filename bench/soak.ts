/**
 * `node build/bench/soak.js`: the memory soak. One client sends CPM records to a server in another process for
 * --duration (10 minutes by default); the RSS of both processes is read from /proc every second. After the warm-up
 * (long enough at the default rate to fill the server's bounded dedup set of 100 000 ids) neither may grow more
 * than 5 MB above where it stood at the end of the warm-up: a leak (the original server remembered every id forever)
 * grows without bound. Both also report their heap after a forced full collection every 10 s, which shows a leak
 * without the collector's sawtooth. A run in which the machine could not keep up (messages dropped or left unacknowledged) says
 * so instead of judging: its RSS then measures the backlog, not the code.
 *
 * Options: --quick (10 s), --json, --out FILE, --duration S, --warmup S, --rate HZ, --scheme tcp|ws.
 */
import * as os from 'node:os';
import { benchCli, describeMachine, fmt, listOption, machine, positiveOption, renderTable, type Machine, type Progress } from './bench-kit';
import { median } from '../test/support/estimator-harness';
import { runWorkload, type HeapSample, type RssSample, type WorkloadResult } from './workload';

/** How far RSS may grow after the warm-up. */
export const SOAK_LIMIT_KB = 5 * 1024;
const DEFAULT_DURATION_S = 600;
const QUICK_DURATION_S = 10;
/** 1000 msgs/s fills the server's default dedup set (100 000 ids) after 100 s, inside the default warm-up. */
const DEFAULT_RATE_HZ = 1000;
/** The server's default dedup set: RSS climbs until it is full. */
const DEDUP_IDS = 100_000;
/**
 * Seconds after the dedup set is full before both processes hold their working size: 300 s soaks with a 100 s
 * warm-up grew 11-15 MB (the climb), 600 s soaks with a 200 s warm-up stayed within 2 MB (docs/accuracy.md).
 */
const SETTLE_S = 100;
/** Seconds at the end of the warm-up whose median RSS is the reference. */
const REFERENCE_S = 10;
/** Seconds over which RSS is smoothed (median) before its growth is judged. */
const SMOOTH_S = 10;
/** How often both processes report their heap after a forced full collection. */
const HEAP_EVERY_S = 10;
const SCHEMES = ['tcp', 'ws'] as const;

/** 'overloaded' and 'too short' are runs that cannot be judged: a backlog, or a warm-up that ends before the climb. */
export type SoakStatus = 'pass' | 'FAIL' | 'overloaded' | 'too short';

export interface RssVerdict {
  process: 'server' | 'client';
  /** Median RSS over the last seconds of the warm-up. */
  reference_kb: number;
  min_kb: number;
  max_kb: number;
  /**
   * Highest median of any SMOOTH_S seconds after the warm-up, minus the reference: what the limit applies to. A
   * leak holds memory for good; a collector's sawtooth lasts a moment, so a median over a few seconds keeps the one
   * and not the other (max_kb shows the raw peak).
   */
  growth_kb: number;
  /** Median of the last tenth of the samples minus median of the first tenth after the warm-up. */
  drift_kb: number;
  /**
   * Heap after a forced full collection: the highest sample in the second half after the warm-up minus the highest
   * in the first half. Peaks, because a bounded structure that grows and compacts (the dedup ring) saws; a leak
   * raises every peak. Null if not sampled.
   */
  heap_growth_kb: number | null;
  status: SoakStatus;
}

export interface SoakReport {
  benchmark: 'soak';
  started_at: string;
  machine: Machine;
  quick: boolean;
  duration_s: number;
  warmup_s: number;
  rate_hz: number;
  limit_kb: number;
  /** Every message was delivered: the RSS readings measure the code, not a backlog. */
  kept_up: boolean;
  status: SoakStatus;
  verdicts: RssVerdict[];
  run: WorkloadResult;
}

/**
 * Default warm-up: a third of the run, at most 200 s. At the default rate the dedup set is full after 100 s; the V8
 * heap then takes a while longer to settle at its working size.
 */
export function defaultWarmupS(durationS: number): number {
  return Math.min(200, durationS / 3);
}

/** The shortest warm-up after which growth means a leak rather than the climb to the working size. */
export function minWarmupS(rateHz: number): number {
  return DEDUP_IDS / rateHz + SETTLE_S;
}

function rollingMedians(values: readonly number[], width: number): number[] {
  if (values.length <= width) return values.length ? [median(values)] : [];
  const out: number[] = [];
  for (let i = 0; i + width <= values.length; i++) out.push(median(values.slice(i, i + width)));
  return out;
}

export function rssVerdict(
  samples: readonly RssSample[],
  heap: readonly HeapSample[],
  warmupS: number,
  which: 'server' | 'client',
  unjudged: 'overloaded' | 'too short' | null,
): RssVerdict {
  const kb = (s: RssSample): number => (which === 'server' ? s.server_kb : s.client_kb);
  const warming = samples.filter((s) => s.t_s < warmupS && s.t_s >= warmupS - REFERENCE_S).map(kb);
  const after = samples.filter((s) => s.t_s >= warmupS).map(kb);
  const tenth = Math.max(1, Math.floor(after.length / 10));
  const reference = warming.length ? median(warming) : (after[0] ?? 0);
  const smoothed = rollingMedians(after, SMOOTH_S);
  const growth = smoothed.length ? Math.max(...smoothed) - reference : 0;
  const heapAfter = heap.filter((h) => h.t_s >= warmupS).map((h) => h.kb);
  const half = Math.floor(heapAfter.length / 2);
  return {
    process: which,
    reference_kb: reference,
    min_kb: after.length ? Math.min(...after) : 0,
    max_kb: after.length ? Math.max(...after) : 0,
    growth_kb: growth,
    drift_kb: median(after.slice(-tenth)) - median(after.slice(0, tenth)),
    heap_growth_kb: half > 0 ? Math.max(...heapAfter.slice(half)) - Math.max(...heapAfter.slice(0, half)) : null,
    status: unjudged ?? (after.length > 0 && growth <= SOAK_LIMIT_KB ? 'pass' : 'FAIL'),
  };
}

export async function runSoak(
  o: { quick?: boolean; durationS?: number; warmupS?: number; rateHz?: number; scheme?: 'tcp' | 'ws'; progress?: Progress } = {},
): Promise<SoakReport> {
  const durationS = o.durationS ?? (o.quick ? QUICK_DURATION_S : DEFAULT_DURATION_S);
  const warmupS = o.warmupS ?? defaultWarmupS(durationS);
  const rateHz = o.rateHz ?? DEFAULT_RATE_HZ;
  const m = machine();
  const startedAt = new Date().toISOString();
  const run = await runWorkload({ name: `memory soak ${durationS} s at ${rateHz} Hz`, scheme: o.scheme ?? 'tcp', clients: 1, rateHz, durationS, warmupS, heapEveryS: HEAP_EVERY_S, progress: o.progress });
  const keptUp = run.delivered === run.sent;
  const unjudged = !keptUp ? 'overloaded' : warmupS < minWarmupS(rateHz) ? 'too short' : null;
  const verdicts = [rssVerdict(run.rss, run.heap.server, warmupS, 'server', unjudged), rssVerdict(run.rss, run.heap.client, warmupS, 'client', unjudged)];
  const status: SoakStatus = unjudged ?? (verdicts.every((v) => v.status === 'pass') ? 'pass' : 'FAIL');
  m.loadavg_end = os.loadavg();
  return {
    benchmark: 'soak', started_at: startedAt, machine: m, quick: o.quick ?? false, duration_s: durationS, warmup_s: warmupS, rate_hz: rateHz,
    limit_kb: SOAK_LIMIT_KB, kept_up: keptUp, status, verdicts, run,
  };
}

const mb = (kb: number): string => fmt(kb / 1024);

/** What a status means in the table. */
export function soakStatusText(status: SoakStatus, limitKb: number, warmupS: number, rateHz: number): string {
  if (status === 'overloaded') return 'OVERLOADED: messages dropped, RSS not judged';
  if (status === 'too short') {
    return `TOO SHORT to judge: warm-up ${fmt(warmupS, 0)} s < ${fmt(minWarmupS(rateHz), 0)} s (dedup set full + ${SETTLE_S} s); run >= ${fmt(3 * minWarmupS(rateHz), 0)} s`;
  }
  return `growth <= ${mb(limitKb)} MB: ${status}`;
}

export function renderSoak(r: SoakReport): string {
  const w = r.run;
  return [
    `Memory soak: ${r.duration_s} s of CPM records at ${r.rate_hz} Hz over ${w.scheme}://, RSS every second, warm-up ${fmt(r.warmup_s, 0)} s: ${describeMachine(r.machine)}`,
    `${fmt(w.delivered, 0)}/${fmt(w.sent, 0)} delivered (${fmt(w.failed, 0)} dropped); latency p50 ${fmt(w.latency_corrected.p50 / 1e6, 2)} ms, ` +
      `p99 ${fmt(w.latency_corrected.p99 / 1e6, 2)} ms; CPU per message: server ${fmt(w.server_cpu_us_per_msg)} us, client ${fmt(w.client_cpu_us_per_msg)} us`,
    '',
    renderTable(
      ['process', 'RSS at warm-up end MB', 'min MB', 'max MB', 'growth MB', 'drift MB', 'heap growth MB', 'verdict'],
      r.verdicts.map((v) => [
        v.process, mb(v.reference_kb), mb(v.min_kb), mb(v.max_kb), mb(v.growth_kb), mb(v.drift_kb),
        v.heap_growth_kb === null ? '-' : mb(v.heap_growth_kb), soakStatusText(v.status, r.limit_kb, r.warmup_s, r.rate_hz),
      ]),
    ),
    `growth: highest ${SMOOTH_S} s median of RSS after the warm-up minus the median of the warm-up's last ${REFERENCE_S} s; ` +
      'drift: last tenth vs first tenth after the warm-up (medians); heap growth: heap after a forced full collection, ' +
      `every ${HEAP_EVERY_S} s, highest in the second half after the warm-up vs highest in the first half.`,
  ].join('\n');
}

if (require.main === module) {
  benchCli<SoakReport>({
    name: 'soak',
    usage: '[--duration S] [--warmup S] [--rate HZ] [--scheme tcp|ws]',
    options: { duration: { type: 'string' }, warmup: { type: 'string' }, rate: { type: 'string' }, scheme: { type: 'string' } },
    run: (v, { progress }) => {
      const durationS = positiveOption(v, 'duration', v.quick ? QUICK_DURATION_S : DEFAULT_DURATION_S);
      const [scheme] = listOption(v, 'scheme', SCHEMES);
      return runSoak({
        quick: v.quick === true, durationS, warmupS: positiveOption(v, 'warmup', defaultWarmupS(durationS)),
        rateHz: positiveOption(v, 'rate', DEFAULT_RATE_HZ), scheme, progress,
      });
    },
    render: renderSoak,
  });
}
