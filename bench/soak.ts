/**
 * `node build/bench/soak.js`: the memory soak. One client sends CPM records to a server in another process for
 * --duration (10 minutes by default); the RSS of both processes is read from /proc every second. After the warm-up
 * (long enough at the default rate to fill the server's bounded dedup set of 100 000 ids) neither may grow more
 * than 5 MB above where it stood at the end of the warm-up: a leak (the original server remembered every id forever)
 * grows without bound. A run in which the machine could not keep up (messages dropped or left unacknowledged) says
 * so instead of judging: its RSS then measures the backlog, not the code.
 *
 * Options: --quick (10 s), --json, --out FILE, --duration S, --warmup S, --rate HZ, --scheme tcp|ws.
 */
import * as os from 'node:os';
import { benchCli, describeMachine, fmt, listOption, machine, positiveOption, renderTable, type Machine, type Progress } from './bench-kit';
import { median } from '../test/support/estimator-harness';
import { runWorkload, type RssSample, type WorkloadResult } from './workload';

/** How far RSS may grow after the warm-up. */
export const SOAK_LIMIT_KB = 5 * 1024;
const DEFAULT_DURATION_S = 600;
const QUICK_DURATION_S = 10;
/** 1000 msgs/s fills the server's default dedup set (100 000 ids) after 100 s, inside the default warm-up. */
const DEFAULT_RATE_HZ = 1000;
/** Seconds at the end of the warm-up whose median RSS is the reference. */
const REFERENCE_S = 10;
const SCHEMES = ['tcp', 'ws'] as const;

export type SoakStatus = 'pass' | 'FAIL' | 'overloaded';

export interface RssVerdict {
  process: 'server' | 'client';
  /** Median RSS over the last seconds of the warm-up. */
  reference_kb: number;
  min_kb: number;
  max_kb: number;
  /** Highest RSS after the warm-up minus the reference: what the limit applies to. */
  growth_kb: number;
  /** max - min after the warm-up. */
  band_kb: number;
  /** Median of the last tenth of the samples minus median of the first tenth after the warm-up. */
  drift_kb: number;
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

/** Default warm-up: a fifth of the run, at most two minutes. */
export function defaultWarmupS(durationS: number): number {
  return Math.min(120, durationS / 5);
}

export function rssVerdict(samples: readonly RssSample[], warmupS: number, which: 'server' | 'client', keptUp: boolean): RssVerdict {
  const kb = (s: RssSample): number => (which === 'server' ? s.server_kb : s.client_kb);
  const warming = samples.filter((s) => s.t_s < warmupS && s.t_s >= warmupS - REFERENCE_S).map(kb);
  const after = samples.filter((s) => s.t_s >= warmupS).map(kb);
  const tenth = Math.max(1, Math.floor(after.length / 10));
  const min = after.length ? Math.min(...after) : 0;
  const max = after.length ? Math.max(...after) : 0;
  const reference = warming.length ? median(warming) : (after[0] ?? 0);
  const growth = max - reference;
  return {
    process: which,
    reference_kb: reference,
    min_kb: min,
    max_kb: max,
    growth_kb: growth,
    band_kb: max - min,
    drift_kb: median(after.slice(-tenth)) - median(after.slice(0, tenth)),
    status: !keptUp ? 'overloaded' : after.length > 0 && growth <= SOAK_LIMIT_KB ? 'pass' : 'FAIL',
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
  const keptUp = run.delivered === run.sent;
  const verdicts = [rssVerdict(run.rss, warmupS, 'server', keptUp), rssVerdict(run.rss, warmupS, 'client', keptUp)];
  const status: SoakStatus = !keptUp ? 'overloaded' : verdicts.every((v) => v.status === 'pass') ? 'pass' : 'FAIL';
  m.loadavg_end = os.loadavg();
  return {
    benchmark: 'soak', started_at: startedAt, machine: m, quick: o.quick ?? false, duration_s: durationS, warmup_s: warmupS, rate_hz: rateHz,
    limit_kb: SOAK_LIMIT_KB, kept_up: keptUp, status, verdicts, run,
  };
}

const mb = (kb: number): string => fmt(kb / 1024);

/** What a status means in the table. */
export function soakStatusText(status: SoakStatus, limitKb: number): string {
  if (status === 'overloaded') return 'OVERLOADED: messages dropped, RSS not judged';
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
      ['process', 'RSS at warm-up end MB', 'min MB', 'max MB', 'growth MB', 'band MB', 'drift MB', 'verdict'],
      r.verdicts.map((v) => [v.process, mb(v.reference_kb), mb(v.min_kb), mb(v.max_kb), mb(v.growth_kb), mb(v.band_kb), mb(v.drift_kb), soakStatusText(v.status, r.limit_kb)]),
    ),
    `growth: highest RSS after the warm-up minus the median of its last ${REFERENCE_S} s; band: max - min after the warm-up; drift: last tenth vs first tenth (medians).`,
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
