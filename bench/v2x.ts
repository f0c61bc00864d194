/**
 * `node build/bench/v2x.js`: the original project's own V2X workload. One vehicle sends the ETSI CPM
 * perceived-object record (~1.4 KB of nested JSON, src/cli/cpm.ts) every 5 ms (200 Hz) to a server in another
 * process over loopback; the table gives the latency percentiles the server measured after the warm-up.
 *
 * Options: --quick (a few seconds), --json, --out FILE, --duration S (per transport), --schemes tcp,ws.
 */
import * as os from 'node:os';
import { CPM_RATE_HZ, cpmMessage } from '../src/cli/cpm';
import { benchCli, describeMachine, fmt, listOption, machine, msOf, positiveOption, renderTable, type Machine, type Progress } from './bench-kit';
import { runWorkload, type WorkloadResult } from './workload';

export const V2X_SCHEMES = ['tcp', 'ws'] as const;
type Scheme = (typeof V2X_SCHEMES)[number];

const FULL = { durationS: 30, warmupS: 3 };
const QUICK = { durationS: 2, warmupS: 0.5 };

export interface V2xReport {
  benchmark: 'v2x';
  started_at: string;
  machine: Machine;
  quick: boolean;
  rate_hz: number;
  payload_bytes: number;
  rows: WorkloadResult[];
}

export async function runV2x(o: { quick?: boolean; durationS?: number; schemes?: readonly Scheme[]; progress?: Progress } = {}): Promise<V2xReport> {
  const plan = o.quick ? QUICK : FULL;
  const durationS = o.durationS ?? plan.durationS;
  const warmupS = Math.min(plan.warmupS, durationS / 4);
  const schemes = o.schemes ?? V2X_SCHEMES;
  const m = machine();
  const startedAt = new Date().toISOString();
  const rows: WorkloadResult[] = [];
  for (const [i, scheme] of schemes.entries()) {
    const progress: Progress = (f, label) => o.progress?.((i + f) / schemes.length, label);
    rows.push(await runWorkload({ name: `V2X CPM 200 Hz ${scheme}://`, scheme, clients: 1, rateHz: CPM_RATE_HZ, durationS, warmupS, progress }));
  }
  m.loadavg_end = os.loadavg();
  return { benchmark: 'v2x', started_at: startedAt, machine: m, quick: o.quick ?? false, rate_hz: CPM_RATE_HZ, payload_bytes: Buffer.byteLength(JSON.stringify(cpmMessage(0))), rows };
}

export function renderV2x(r: V2xReport): string {
  return [
    `V2X workload (ETSI CPM, ${r.payload_bytes} B, ${r.rate_hz} Hz, one vehicle, server in its own process, loopback): ${describeMachine(r.machine)}`,
    '',
    renderTable(
      ['transport', 'sent', 'delivered', 'latency p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'seed p50 ms', 'RTT p50 ms', 'RTT p99 ms'],
      r.rows.map((w) => [
        `${w.scheme}://`, fmt(w.sent, 0), fmt(w.delivered, 0), msOf(w.latency_corrected.p50), msOf(w.latency_corrected.p90),
        msOf(w.latency_corrected.p99), msOf(w.latency_corrected.max), msOf(w.latency.p50), msOf(w.rtt.p50), msOf(w.rtt.p99),
      ]),
    ),
    'latency: the corrected one-way estimate (T1 - ps)/2 of each message after the warm-up; seed: T1 - T2/2; RTT: T1 at the client.',
  ].join('\n');
}

if (require.main === module) {
  benchCli<V2xReport>({
    name: 'v2x',
    usage: '[--duration S] [--schemes tcp,ws]',
    options: { duration: { type: 'string' }, schemes: { type: 'string' } },
    run: (v, { progress }) =>
      runV2x({ quick: v.quick === true, durationS: positiveOption(v, 'duration', (v.quick ? QUICK : FULL).durationS), schemes: listOption(v, 'schemes', V2X_SCHEMES), progress }),
    render: renderV2x,
  });
}
