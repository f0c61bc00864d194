/**
 * `npm run bench:estimator`: how far each latency estimate is from the truth, per link condition and transport.
 *
 * For each condition a server, the delay proxy and a clock-synced client run in this process
 * (test/support/estimator-harness.ts); CPM payloads (~1.4 KB, the V2X workload) go through at a fixed rate and
 * every latency record is compared with the proxy's own record of when message 1 and ack 2 crossed it: (u + d)/2
 * for the seed's formula and the corrected one, u for the clock-synced uplink. Prints a table (or, with --json, the
 * JSON document) and writes the JSON to results/estimator.json.
 *
 * Options: --quick (few messages: a smoke test), --json, --out FILE, --count N, --rate HZ, --schemes tcp,ws.
 */
import * as os from 'node:os';
import { cpmMessage } from '../src/cli/cpm';
import { seededRandom } from '../test/support/seeded-random';
import type { LinkConfig } from '../test/support/delay-proxy';
import {
  ESTIMATOR_LABELS,
  ESTIMATORS,
  EstimatorLink,
  errorSummary,
  type ErrorSummary,
} from '../test/support/estimator-harness';
import { benchCli, describeMachine, fmt, listOption, machine, positiveOption, renderTable, UsageError, type Machine, type Progress } from './bench-kit';

export interface Condition {
  key: string;
  label: string;
  up: LinkConfig;
  down: LinkConfig;
  /** At most this rate, whatever the run's: a capped link must not be fed more than it carries. */
  maxRateHz?: number;
}

const sym = (ms: number): Pick<Condition, 'up' | 'down'> => ({ up: { delayMs: ms }, down: { delayMs: ms } });

/**
 * The link conditions, after a calibration row: with no added delay the error is what this host adds
 * between a socket write and the peer's read (four such hops per exchange, outside the proxy's records), the
 * floor under every other row. Jitter and the bandwidth cap sit on a 20/20 ms link, in both directions.
 */
export const CONDITIONS: readonly Condition[] = [
  { key: 'sym-0', label: '0/0 ms (floor)', ...sym(0) },
  { key: 'sym-1', label: '1/1 ms', ...sym(1) },
  { key: 'sym-10', label: '10/10 ms', ...sym(10) },
  { key: 'sym-50', label: '50/50 ms', ...sym(50) },
  { key: 'sym-100', label: '100/100 ms', ...sym(100) },
  { key: 'asym-5-25', label: '5/25 ms (up/down)', up: { delayMs: 5 }, down: { delayMs: 25 } },
  { key: 'asym-10-90', label: '10/90 ms (up/down)', up: { delayMs: 10 }, down: { delayMs: 90 } },
  { key: 'jitter-5', label: '20/20 ms +-5 ms jitter', up: { delayMs: 20, jitterMs: 5 }, down: { delayMs: 20, jitterMs: 5 } },
  {
    // 1.4 KB CPMs at 200 Hz are 2.3 Mbit/s: the cap row runs at 50 Hz (0.6 Mbit/s), or its queue grows all run.
    key: 'cap-1mbit', label: '20/20 ms, 1 Mbit/s cap',
    up: { delayMs: 20, bandwidthBps: 1_000_000 }, down: { delayMs: 20, bandwidthBps: 1_000_000 }, maxRateHz: 50,
  },
];

export const SCHEMES = ['tcp', 'ws'] as const;
export type BenchScheme = (typeof SCHEMES)[number];

interface Plan {
  count: number;
  warmup: number;
  rateHz: number;
}

/**
 * 200 Hz is the CPM workload's own rate (PROTOCOL.md). The rate matters on a machine that idles between messages:
 * code runs several times slower after a pause, and that time sits between the proxy's records and the endpoints'
 * reads (docs/accuracy.md); `--rate 50` shows it.
 */
const FULL: Plan = { count: 600, warmup: 40, rateHz: 200 };
const QUICK: Plan = { count: 12, warmup: 2, rateHz: 100 };

export interface EstimatorRow extends ErrorSummary {
  condition: string;
  condition_label: string;
  scheme: BenchScheme;
  estimator_label: string;
  /** Messages per second in this row (the run's rate, or less where the link caps it). */
  rate_hz: number;
}

export interface EstimatorTarget {
  scheme: BenchScheme;
  condition: string;
  name: string;
  measured: number;
  unit: 'us' | '%';
  goal: string;
  met: boolean;
}

export interface EstimatorReport {
  benchmark: 'estimator';
  started_at: string;
  machine: Machine;
  quick: boolean;
  count: number;
  warmup: number;
  rate_hz: number;
  payload: string;
  rows: EstimatorRow[];
  targets: EstimatorTarget[];
  /** Latency records that could not be paired with the proxy's records (should be 0). */
  unmatched: number;
}

export interface EstimatorOptions {
  quick?: boolean;
  count?: number;
  rateHz?: number;
  schemes?: readonly BenchScheme[];
  progress?: Progress;
}

/** One condition on one transport: warm-up, then `count` measured messages; the three estimators' errors. */
async function measure(condition: Condition, scheme: BenchScheme, plan: Plan, seed: number): Promise<{ rows: EstimatorRow[]; unmatched: number }> {
  const link = await EstimatorLink.start({ scheme, up: condition.up, down: condition.down, random: seededRandom(seed) });
  try {
    const roundTripMs = (condition.up.delayMs ?? 0) + (condition.down.delayMs ?? 0);
    const deadlineMs = 10_000 + 4 * roundTripMs;
    if (plan.warmup > 0) {
      await link.sendPaced(plan.warmup, plan.rateHz, (seq) => cpmMessage(seq, plan.rateHz));
      await link.whenSamples(plan.warmup, deadlineMs);
      link.samples.splice(0);
    }
    await link.sendPaced(plan.count, plan.rateHz, (seq) => cpmMessage(plan.warmup + seq, plan.rateHz));
    const samples = await link.whenSamples(plan.count, deadlineMs);
    const rows = ESTIMATORS.map((e) => ({
      condition: condition.key,
      condition_label: condition.label,
      scheme,
      estimator_label: ESTIMATOR_LABELS[e],
      rate_hz: plan.rateHz,
      ...errorSummary(samples, e),
    }));
    return { rows, unmatched: link.unmatched };
  } finally {
    await link.close();
  }
}

/** The targets for the corrected estimate: median error <= 0.25 ms at 10/10 ms and <= 0.5 % at 50/50 ms. */
function targets(rows: readonly EstimatorRow[]): EstimatorTarget[] {
  const out: EstimatorTarget[] = [];
  for (const r of rows) {
    if (r.estimator !== 'corrected') continue;
    if (r.condition === 'sym-10') {
      out.push({ scheme: r.scheme, condition: r.condition, name: 'corrected median error at 10/10 ms', measured: r.median_us, unit: 'us', goal: '<= 250 us', met: r.median_us <= 250 });
    } else if (r.condition === 'sym-50') {
      out.push({ scheme: r.scheme, condition: r.condition, name: 'corrected median error at 50/50 ms', measured: r.median_pct, unit: '%', goal: '<= 0.5 %', met: r.median_pct <= 0.5 });
    }
  }
  return out;
}

export async function runEstimator(o: EstimatorOptions = {}): Promise<EstimatorReport> {
  const base = o.quick ? QUICK : FULL;
  const plan: Plan = { ...base, count: o.count ?? base.count, rateHz: o.rateHz ?? base.rateHz };
  const schemes = o.schemes ?? SCHEMES;
  const m = machine();
  const startedAt = new Date().toISOString();
  const rows: EstimatorRow[] = [];
  let unmatched = 0;
  const total = CONDITIONS.length * schemes.length;
  let done = 0;
  for (const condition of CONDITIONS) {
    for (const scheme of schemes) {
      o.progress?.(done / total, `estimator ${scheme}:// ${condition.label}`);
      const rateHz = Math.min(plan.rateHz, condition.maxRateHz ?? Infinity);
      const r = await measure(condition, scheme, { ...plan, rateHz }, 1000 + done);
      rows.push(...r.rows);
      unmatched += r.unmatched;
      done++;
    }
  }
  o.progress?.(1, 'estimator done');
  m.loadavg_end = os.loadavg();
  return {
    benchmark: 'estimator', started_at: startedAt, machine: m, quick: o.quick ?? false, count: plan.count, warmup: plan.warmup,
    rate_hz: plan.rateHz, payload: `ETSI CPM record, ${Buffer.byteLength(JSON.stringify(cpmMessage(0)))} B of JSON`, rows, targets: targets(rows), unmatched,
  };
}

const ms = (us: number): string => fmt(us / 1000, 2);

export function renderEstimator(report: EstimatorReport): string {
  const out: string[] = [];
  out.push(`fastsocket latency estimator vs ground truth: ${describeMachine(report.machine)}`);
  out.push(
    `${report.count} messages per row after ${report.warmup} warm-up, ${report.rate_hz} Hz, ${report.payload}; ` +
      `truth = proxy transit (u + d)/2, or u for the clock-synced uplink${report.quick ? '; QUICK: not for quoting' : ''}`,
  );
  out.push('');
  out.push(
    renderTable(
      ['link', 'transport', 'estimator', 'truth p50 ms', 'estimate p50 ms', 'bias us', 'median err us', 'p95 err us', 'max err us', 'median %', 'p95 %', 'max %'],
      report.rows.map((r) => [
        r.rate_hz === report.rate_hz ? r.condition_label : `${r.condition_label}, ${r.rate_hz} Hz`, `${r.scheme}://`, r.estimator_label, ms(r.truth_p50_us), ms(r.estimate_p50_us), fmt(r.bias_us, 0),
        fmt(r.median_us, 0), fmt(r.p95_us, 0), fmt(r.max_us, 0), fmt(r.median_pct, 2), fmt(r.p95_pct, 2), fmt(r.max_pct, 2),
      ]),
      3,
    ),
  );
  out.push('');
  out.push('Targets (issue #4, corrected estimate)');
  out.push(
    renderTable(
      ['transport', 'target', 'measured', 'goal', ''],
      report.targets.map((t) => [`${t.scheme}://`, t.name, t.unit === 'us' ? `${fmt(t.measured, 0)} us` : `${fmt(t.measured, 3)} %`, t.goal, t.met ? 'met' : 'MISSED']),
      2,
    ),
  );
  if (report.unmatched > 0) out.push(`\n${report.unmatched} latency records could not be paired with the proxy's records`);
  return out.join('\n');
}

if (require.main === module) {
  benchCli<EstimatorReport>({
    name: 'estimator',
    usage: '[--count N] [--rate HZ] [--schemes tcp,ws]',
    options: { count: { type: 'string' }, rate: { type: 'string' }, schemes: { type: 'string' } },
    run: (v, { progress }) => {
      const base = v.quick ? QUICK : FULL;
      const count = positiveOption(v, 'count', base.count);
      if (!Number.isSafeInteger(count)) throw new UsageError(`--count must be an integer (got ${String(v.count)})`);
      return runEstimator({ quick: v.quick === true, count, rateHz: positiveOption(v, 'rate', base.rateHz), schemes: listOption(v, 'schemes', SCHEMES), progress });
    },
    render: renderEstimator,
  });
}
