/**
 * `node build/bench/soak.js`: the memory soak. One client sends CPM records at a high rate to a server in another
 * process for --duration (10 minutes by default); the RSS of both processes is read from /proc every second. After
 * the warm-up (which fills the server's bounded dedup set and the JIT's caches) each must stay within a 5 MB band:
 * a leak (the original server remembered every id forever) shows up as a band that keeps widening.
 *
 * Options: --quick (10 s), --json, --out FILE, --duration S, --warmup S, --rate HZ, --scheme tcp|ws.
 */
import * as os from 'node:os';
import { benchCli, describeMachine, fmt, listOption, machine, positiveOption, renderTable, type Machine, type Progress } from './bench-kit';
import { median } from '../test/support/estimator-harness';
import { runWorkload, type RssSample, type WorkloadResult } from './workload';

/** How far RSS may move after the warm-up. */
export const SOAK_BAND_KB = 5 * 1024;
const DEFAULT_DURATION_S = 600;
const QUICK_DURATION_S = 10;
/** At 2000 msgs/s the server's default dedup set (100 000 ids) is full after 50 s, inside the default warm-up. */
const DEFAULT_RATE_HZ = 2000;
const SCHEMES = ['tcp', 'ws'] as const;

export interface RssVerdict {
  process: 'server' | 'client';
  warmup_end_kb: number;
  min_kb: number;
  max_kb: number;
  /** max - min after the warm-up. */
  band_kb: number;
  /** Median of the last tenth of the samples minus median of the first tenth after the warm-up. */
  drift_kb: number;
  pass: boolean;
}

export interface SoakReport {
  benchmark: 'soak';
  started_at: string;
  machine: Machine;
  quick: boolean;
  duration_s: number;
  warmup_s: number;
  rate_hz: number;
  band_limit_kb: number;
  pass: boolean;
  verdicts: RssVerdict[];
  run: WorkloadResult;
}

/** Default warm-up: a quarter of the run, at most two minutes. */
export function defaultWarmupS(durationS: number): number {
  return Math.min(120, durationS / 4);
}

export function rssVerdict(samples: readonly RssSample[], warmupS: number, which: 'server' | 'client'): RssVerdict {
  const kb = (s: RssSample): number => (which === 'server' ? s.server_kb : s.client_kb);
  const before = samples.filter((s) => s.t_s < warmupS);
  const after = samples.filter((s) => s.t_s >= warmupS).map(kb);
  const tenth = Math.max(1, Math.floor(after.length / 10));
  const min = after.length ? Math.min(...after) : 0;
  const max = after.length ? Math.max(...after) : 0;
  return {
    process: which,
    warmup_end_kb: before.length ? kb(before[before.length - 1]) : after[0] ?? 0,
    min_kb: min,
    max_kb: max,
    band_kb: max - min,
    drift_kb: median(after.slice(-tenth)) - median(after.slice(0, tenth)),
    pass: after.length > 0 && max - min <= SOAK_BAND_KB,
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
  const run = await runWorkload({ name: `memory soak ${durationS} s at ${rateHz} Hz`, scheme: o.scheme ?? 'tcp', clients: 1, rateHz, durationS, warmupS, progress: o.progress });
  const verdicts = [rssVerdict(run.rss, warmupS, 'server'), rssVerdict(run.rss, warmupS, 'client')];
  m.loadavg_end = os.loadavg();
  return {
    benchmark: 'soak', started_at: startedAt, machine: m, quick: o.quick ?? false, duration_s: durationS, warmup_s: warmupS, rate_hz: rateHz,
    band_limit_kb: SOAK_BAND_KB, pass: verdicts.every((v) => v.pass), verdicts, run,
  };
}

const mb = (kb: number): string => fmt(kb / 1024);

export function renderSoak(r: SoakReport): string {
  return [
    `Memory soak: ${r.duration_s} s of CPM records at ${r.rate_hz} Hz over ${r.run.scheme}://, RSS every second, warm-up ${r.warmup_s} s: ${describeMachine(r.machine)}`,
    `${fmt(r.run.delivered, 0)}/${fmt(r.run.sent, 0)} delivered; latency p50 ${fmt(r.run.latency_corrected.p50 / 1e6, 2)} ms p99 ${fmt(r.run.latency_corrected.p99 / 1e6, 2)} ms`,
    '',
    renderTable(
      ['process', 'RSS at warm-up end MB', 'min MB', 'max MB', 'band MB', 'drift MB', `limit ${mb(r.band_limit_kb)} MB`],
      r.verdicts.map((v) => [v.process, mb(v.warmup_end_kb), mb(v.min_kb), mb(v.max_kb), mb(v.band_kb), mb(v.drift_kb), v.pass ? 'pass' : 'FAIL']),
    ),
    'band: max - min RSS after the warm-up; drift: last tenth vs first tenth of those samples (medians).',
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
