/**
 * The wire contract of PROTOCOL.md §2 and §4 as types. `decodeFrame` in codec.ts is the only place where
 * `unknown` becomes one of these.
 */

/** Message 1: client -> server. */
export interface MessageFrame {
  type: 'message';
  id: string;
  payload: unknown;
  /** Extension: this is a resend after a reconnect. */
  resent?: boolean;
  /** Extension: ns the message waited inside the client before it was written. */
  queued_ns?: number;
  /** Extension (clock-synced mode): client wall clock when written, ns since the epoch. */
  client_send_wall_ns?: number;
}

/** Message 2: server -> client. */
export interface Ack2Frame {
  type: 'ack';
  id: string;
}

/** Message 3: client -> server, carrying T1. */
export interface Ack3Frame {
  type: 'ack';
  id: string;
  send_and_ack_time_ns: number;
  /** Extension: client turnaround, ack 2 read -> ack 3 written. */
  pc_ns?: number;
  /** Extension (clock-synced mode): client wall clock when ack 2 was read. */
  client_recv_wall_ns?: number;
}

/** The one extra frame type (§4); sent first by a client that has a token or a client id. */
export interface HelloFrame {
  type: 'hello';
  protocol: number;
  client_id?: string | null;
  token?: string;
  /** Server's answer only: the largest frame it accepts, so a client can refuse bigger messages up front. */
  max_frame_bytes?: number;
  /**
   * Server's answer only: a random id the server draws when it is created. A client that sees it change across
   * reconnections knows the server was restarted and lost what it kept (a ROS server's latched messages).
   */
  server_instance?: string;
}

/** Frames a server can receive. */
export type ClientFrame = MessageFrame | Ack3Frame | HelloFrame;
/** Frames a client can receive. */
export type ServerFrame = Ack2Frame | HelloFrame;
/** Every frame of PROTOCOL.md §2, discriminated by `type` and, for acks, by their fields. */
export type Frame = MessageFrame | Ack2Frame | Ack3Frame | HelloFrame;

/** The protocol version a hello carries. */
export const PROTOCOL_VERSION = 1;
/** The longest message id accepted, in characters (code points). */
export const MAX_ID_LENGTH = 128;
/** The longest client_id accepted in a hello, in characters (code points). */
export const MAX_CLIENT_ID_LENGTH = 256;

/** Whether an ack is an ack 3, i.e. carries T1 (`send_and_ack_time_ns`). */
export function isAck3(frame: Ack2Frame | Ack3Frame): frame is Ack3Frame {
  return (frame as Ack3Frame).send_and_ack_time_ns !== undefined;
}

/** The latency record of PROTOCOL.md §3, emitted by the server when ack 3 arrives. Durations in ns. */
export interface LatencyRecord {
  id: string;
  peer: string;
  client_id: string | null;
  resent: boolean;
  t1_ns: number;
  t2_ns: number;
  /** T1 - T2/2, the seed's formula with T2 started when ack 2 is written. */
  latency_ns: number;
  /** Server turnaround: message 1 read -> ack 2 written. */
  ps_ns: number;
  /** Client turnaround, when the client reports it (null from the original peer). */
  pc_ns: number | null;
  /** (T1 - ps)/2: removes the server turnaround; exact on symmetric links when pc is small. */
  latency_corrected_ns: number;
  /** Time the message waited inside the client before being written, when the client reports it. */
  queued_ns: number | null;
  /** Clock-synced mode only (else null): server receive wall time minus client send wall time (the uplink, if clocks agree). */
  uplink_wall_ns: number | null;
  /** Clock-synced mode only, and only when ack 3 carries client_recv_wall_ns (as the next two; else null): server clock minus client clock, NTP-style. */
  offset_ns: number | null;
  /** Clock-synced mode only (else null): +- bound on offset_ns, half the round trip minus the server turnaround. */
  sync_uncertainty_ns: number | null;
  /** Clock-synced mode only (else null): sync_uncertainty_ns is within the server's threshold. */
  sync_ok: boolean | null;
  /** Which instant T2 starts at: we start it when ack 2 is written (the original starts at message 1 arrival). */
  t2_start: 'ack2_written';
}
