/**
 * bench:tail's analysis, apart from the script so that it can be tested: matches each exchange of a one-in-flight
 * series against the GC pauses of the server and the client, and pools the runs of a row.
 */
import type { GcKind, GcPause } from './gc-marks';
import { IMPL_LABELS, NodeImpl, RttSeries } from './protocol-common';

/** A pause that ended this long before an exchange began still touches it. */
export const SETTLE_MS = 0.3;

export type Side = 'server' | 'client';

export interface SideGc {
  /** Young-generation collections per 10,000 measured exchanges, and their mean and longest pause. */
  scavenges_per_10k: number;
  scavenge_mean_ms: number;
  scavenge_max_ms: number;
  /** Pauses of the old generation (mark-compact, incremental marking steps, weak callbacks). */
  other_pauses: number;
  other_max_ms: number;
}

export interface TailRow {
  impl: NodeImpl;
  label: string;
  payload_bytes: number;
  exchanges: number;
  rtt_p50_us: number;
  rtt_p99_us: number;
  rtt_p999_us: number;
  /** The p99 of the exchanges no pause of either process touched. */
  untouched_p99_us: number;
  /** Share of all exchanges a pause touched. */
  touched_share: number;
  gc: Record<Side, SideGc>;
  /** The exchanges at or above the p99: how many, and the share a server pause, a client pause, or none touched. */
  slowest: { count: number; server_gc: number; client_gc: number; none: number };
}

/** What one measurement left in its folder: the client's series and the pauses of each process. */
export interface Run {
  series: RttSeries;
  pauses: Record<Side, GcPause[]>;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** For each exchange of the series, whether a pause of `pauses` touched it (see SETTLE_MS). */
export function touchedBy(series: RttSeries, pauses: GcPause[]): Uint8Array {
  const touched = new Uint8Array(series.start_ms.length);
  const sorted = [...pauses].sort((a, b) => a[0] - b[0]);
  let first = 0;
  for (let i = 0; i < touched.length; i++) {
    const begin = series.start_ms[i];
    const end = begin + series.rtt_ns[i] / 1e6;
    // Exchanges come in time order: pauses that ended before this one's settle window are done with for good.
    while (first < sorted.length && sorted[first][0] + sorted[first][1] + SETTLE_MS < begin) first++;
    for (let j = first; j < sorted.length && sorted[j][0] < end; j++) {
      if (sorted[j][0] + sorted[j][1] + SETTLE_MS >= begin) {
        touched[i] = 1;
        break;
      }
    }
  }
  return touched;
}

/** The pauses within the measured exchanges of a run (not the warm-up's, nor the pipelined phase's after them). */
function duringSeries(series: RttSeries, pauses: GcPause[]): GcPause[] {
  const n = series.start_ms.length;
  if (n === 0) return [];
  const from = series.start_ms[0];
  const to = series.start_ms[n - 1] + series.rtt_ns[n - 1] / 1e6;
  return pauses.filter(([start]) => start >= from && start <= to);
}

function sideGc(pauses: GcPause[], exchanges: number): SideGc {
  const isScavenge = (k: GcKind) => k === 'minor';
  const scavenges = pauses.filter((p) => isScavenge(p[2])).map((p) => p[1]);
  const other = pauses.filter((p) => !isScavenge(p[2])).map((p) => p[1]);
  return {
    scavenges_per_10k: exchanges === 0 ? 0 : (scavenges.length * 10000) / exchanges,
    scavenge_mean_ms: scavenges.length === 0 ? 0 : scavenges.reduce((a, b) => a + b, 0) / scavenges.length,
    scavenge_max_ms: Math.max(0, ...scavenges),
    other_pauses: other.length,
    other_max_ms: Math.max(0, ...other),
  };
}

/** Pools the runs of one row and classifies its exchanges. */
export function analyse(impl: NodeImpl, payloadBytes: number, runs: Run[]): TailRow {
  const rtts: number[] = [];
  const touchedServer: number[] = [];
  const touchedClient: number[] = [];
  const pauses: Record<Side, GcPause[]> = { server: [], client: [] };
  for (const run of runs) {
    const server = duringSeries(run.series, run.pauses.server);
    const client = duringSeries(run.series, run.pauses.client);
    pauses.server.push(...server);
    pauses.client.push(...client);
    const s = touchedBy(run.series, server);
    const c = touchedBy(run.series, client);
    for (let i = 0; i < run.series.rtt_ns.length; i++) {
      rtts.push(run.series.rtt_ns[i]);
      touchedServer.push(s[i]);
      touchedClient.push(c[i]);
    }
  }
  const n = rtts.length;
  const all = Float64Array.from(rtts).sort();
  const untouched = Float64Array.from(rtts.filter((_, i) => !touchedServer[i] && !touchedClient[i])).sort();
  const p99 = percentile(all, 0.99);
  let count = 0;
  let server = 0;
  let client = 0;
  let none = 0;
  for (let i = 0; i < n; i++) {
    if (rtts[i] < p99) continue;
    count++;
    if (touchedServer[i]) server++;
    if (touchedClient[i]) client++;
    if (!touchedServer[i] && !touchedClient[i]) none++;
  }
  const share = (k: number) => (count === 0 ? 0 : k / count);
  return {
    impl, label: IMPL_LABELS[impl], payload_bytes: payloadBytes, exchanges: n,
    rtt_p50_us: percentile(all, 0.5) / 1000, rtt_p99_us: p99 / 1000, rtt_p999_us: percentile(all, 0.999) / 1000,
    untouched_p99_us: percentile(untouched, 0.99) / 1000,
    touched_share: n === 0 ? 0 : (n - untouched.length) / n,
    gc: { server: sideGc(pauses.server, n), client: sideGc(pauses.client, n) },
    slowest: { count, server_gc: share(server), client_gc: share(client), none: share(none) },
  };
}

