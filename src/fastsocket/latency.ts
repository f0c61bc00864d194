/** The latency estimate of PROTOCOL.md §3, as a pure function so the arithmetic is tested on its own. */
import { LatencyRecord } from './wire';

export interface ExchangeTimes {
  id: string;
  peer: string;
  clientId: string | null;
  resent: boolean;
  /** T1 reported by the client in ack 3. */
  t1Ns: number;
  /** Server monotonic ns when message 1 was read. */
  readAtNs: number;
  /** Server monotonic ns just before ack 2 was written. */
  ack2AtNs: number;
  /** Server monotonic ns when ack 3 was read. */
  ack3AtNs: number;
  pcNs?: number;
  queuedNs?: number;
}

/**
 * latency = T1 - T2/2 = (u + d)/2 + ps - pc/2, and the corrected (T1 - ps)/2 = (u + d)/2, which no longer depends
 * on how long the server took to answer.
 */
export function latencyRecord(t: ExchangeTimes): LatencyRecord {
  const t2 = t.ack3AtNs - t.ack2AtNs;
  const ps = t.ack2AtNs - t.readAtNs;
  return {
    id: t.id,
    peer: t.peer,
    client_id: t.clientId,
    resent: t.resent,
    t1_ns: t.t1Ns,
    t2_ns: t2,
    latency_ns: Math.round(t.t1Ns - t2 / 2),
    ps_ns: ps,
    pc_ns: t.pcNs ?? null,
    latency_corrected_ns: Math.round((t.t1Ns - ps) / 2),
    queued_ns: t.queuedNs ?? null,
    t2_start: 'ack2_written',
  };
}
