/**
 * `node build/bench/fan-in.js`: many vehicles into one server. 200 clients (one process) each send the ETSI CPM
 * record at 20 Hz to one server in a process of its own over loopback: 4000 messages/s in all. The table gives the
 * latency percentiles the server measured after the warm-up and the server's resident memory.
 *
 * Options: --quick (50 clients for 2 s), --json, --out FILE, --duration S (per transport), --clients N, --rate HZ (per client), --schemes tcp,ws.
 */
import * as os from 'node:os';
import { benchCli, describeMachine, fmt, listOption, machine, msOf, positiveOption, renderTable, type Machine, type Progress } from './bench-kit';
import { runWorkload, type WorkloadResult } from './workload';

export const FAN_IN_SCHEMES = ['tcp', 'ws'] as const;
type Scheme = (typeof FAN_IN_SCHEMES)[number];

export const FAN_IN_CLIENTS = 200;
const FULL = { durationS: 30, warmupS: 3, clients: FAN_IN_CLIENTS };
/** A smoke run: fewer clients connect in a fraction of the time, and the table says how many there were. */
const QUICK = { durationS: 2, warmupS: 0.5, clients: 50 };
export const FAN_IN_RATE_HZ = 20;

export interface FanInReport {
  benchmark: 'fan-in';
  started_at: string;
  machine: Machine;
  quick: boolean;
  rows: WorkloadResult[];
}

export async function runFanIn(
  o: { quick?: boolean; durationS?: number; clients?: number; rateHz?: number; schemes?: readonly Scheme[]; progress?: Progress } = {},
): Promise<FanInReport> {
  const plan = o.quick ? QUICK : FULL;
  const durationS = o.durationS ?? plan.durationS;
  const schemes = o.schemes ?? FAN_IN_SCHEMES;
  const clients = o.clients ?? plan.clients;
  const m = machine();
  const startedAt = new Date().toISOString();
  const rows: WorkloadResult[] = [];
  for (const [i, scheme] of schemes.entries()) {
    const progress: Progress = (f, label) => o.progress?.((i + f) / schemes.length, label);
    rows.push(await runWorkload({
      name: `fan-in ${clients} x ${o.rateHz ?? FAN_IN_RATE_HZ} Hz ${scheme}://`, scheme, clients, rateHz: o.rateHz ?? FAN_IN_RATE_HZ,
      durationS, warmupS: Math.min(plan.warmupS, durationS / 4), progress,
    }));
  }
  m.loadavg_end = os.loadavg();
  return { benchmark: 'fan-in', started_at: startedAt, machine: m, quick: o.quick ?? false, rows };
}

export function renderFanIn(r: FanInReport): string {
  return [
    `Fan-in (CPM records from many clients in one process into one server in another, loopback): ${describeMachine(r.machine)}`,
    '',
    renderTable(
      ['transport', 'clients', 'Hz each', 'msgs/s', 'delivered', 'latency p50 ms', 'p99 ms', 'max ms', 'srv RSS peak MB', 'srv RSS end MB'],
      r.rows.map((w) => [
        `${w.scheme}://`, String(w.clients), fmt(w.rate_hz_per_client, 0), fmt(w.achieved_hz, 0), `${fmt(w.delivered, 0)}/${fmt(w.sent, 0)}`,
        msOf(w.latency_corrected.p50), msOf(w.latency_corrected.p99), msOf(w.latency_corrected.max),
        fmt(w.server_rss_peak_kb / 1024), fmt(w.server_rss_end_kb / 1024),
      ]),
    ),
    'latency: the corrected one-way estimate (T1 - ps)/2 after the warm-up, as the server measured it.',
  ].join('\n');
}

if (require.main === module) {
  benchCli<FanInReport>({
    name: 'fan-in',
    usage: '[--duration S] [--clients N] [--rate HZ] [--schemes tcp,ws]',
    options: { duration: { type: 'string' }, clients: { type: 'string' }, rate: { type: 'string' }, schemes: { type: 'string' } },
    run: (v, { progress }) =>
      runFanIn({
        quick: v.quick === true, durationS: positiveOption(v, 'duration', (v.quick ? QUICK : FULL).durationS),
        clients: Math.round(positiveOption(v, 'clients', (v.quick ? QUICK : FULL).clients)), rateHz: positiveOption(v, 'rate', FAN_IN_RATE_HZ),
        schemes: listOption(v, 'schemes', FAN_IN_SCHEMES), progress,
      }),
    render: renderFanIn,
  });
}
