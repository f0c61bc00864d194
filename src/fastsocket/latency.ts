/** The latency estimate of PROTOCOL.md §3, as a pure function so the arithmetic is tested on its own. */
import { LatencyRecord } from './wire';

/** The times of one message's three-way ack, as latencyRecord() needs them. */
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
  pcNs?: number | undefined;
  queuedNs?: number | undefined;
  /**
   * Clock-synced mode: the four wall-clock timestamps of the exchange (client's and server's clocks). The uplink needs
   * only message 1's; the offset also needs clientRecvNs, from ack 3, which a client may leave out (PROTOCOL.md §4).
   */
  wall?: {
    clientSendNs: number;
    serverRecvNs: number;
    serverSendNs: number;
    clientRecvNs?: number | undefined;
    /** sync_ok when the offset's uncertainty is at most this. */
    maxUncertaintyNs: number;
  } | undefined;
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
    ...clockSynced(t),
  };
}

/**
 * The sender a record belongs to, for statistics kept per sender (jitter): the client id, else the host alone,
 * since the port changes with every reconnect. An empty client id names no one (as for the server node's topic prefix).
 */
export function latencySource(r: Pick<LatencyRecord, 'client_id' | 'peer'>): string {
  return r.client_id || r.peer.replace(/:\d+$/, '');
}

/**
 * How far apart the two wall clocks are at least, as one clock-synced record proves it: |offset_ns| less its
 * uncertainty, in ns; 0 when the record cannot tell them apart or carries no offset. sync_ok says the offset is known
 * precisely, not that it is small: clocks 5 s apart on a fast link give sync_ok records whose uplink_wall_ns is 5 s off.
 */
export function clocksApartNs(r: Pick<LatencyRecord, 'offset_ns' | 'sync_uncertainty_ns'>): number {
  if (r.offset_ns === null || r.sync_uncertainty_ns === null) return 0;
  return Math.max(0, Math.abs(r.offset_ns) - r.sync_uncertainty_ns);
}

/**
 * NTP's arithmetic on the four wall-clock timestamps: offset = ((t1 - t0) + (t2 - t3)) / 2 is the server clock
 * minus the client clock, known to within +-(round trip - server turnaround)/2. The uplink seen by the two wall
 * clocks, t1 - t0, is the only number here that can show an asymmetric link, and it is only as good as the sync.
 */
function clockSynced(t: ExchangeTimes): Pick<LatencyRecord, 'uplink_wall_ns' | 'offset_ns' | 'sync_uncertainty_ns' | 'sync_ok'> {
  // §3 lists these among the record's fields: present always, null when the client sent no wall-clock timestamps.
  if (!t.wall) return { uplink_wall_ns: null, offset_ns: null, sync_uncertainty_ns: null, sync_ok: null };
  const { clientSendNs: t0, serverRecvNs: t1, serverSendNs: t2, clientRecvNs: t3, maxUncertaintyNs } = t.wall;
  if (t3 === undefined) return { uplink_wall_ns: Math.round(t1 - t0), offset_ns: null, sync_uncertainty_ns: null, sync_ok: null };
  const uncertainty = Math.max(0, Math.round((t3 - t0 - (t2 - t1)) / 2));
  return {
    uplink_wall_ns: Math.round(t1 - t0),
    offset_ns: Math.round((t1 - t0 + (t2 - t3)) / 2),
    sync_uncertainty_ns: uncertainty,
    sync_ok: uncertainty <= maxUncertaintyNs,
  };
}
