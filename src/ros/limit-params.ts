/**
 * The limits of PROTOCOL.md §6 as ROS parameters, named exactly as there (snake_case), with the core's defaults
 * and ranges, so a value the core would refuse is reported by parameter name when the node starts.
 */
import { DEFAULT_CLIENT_LIMITS, DEFAULT_SERVER_LIMITS, DEFAULT_SILENCE_TIMEOUT_MS, OUTBOX_POLICIES, type OutboxPolicy, type ServerLimits } from '../fastsocket';
import { between, ParamReader } from './params';

interface LimitParam<K extends string> {
  readonly param: string;
  readonly option: K;
  readonly min: number;
  readonly max: number;
  readonly description: string;
}

const MAX_INT = Number.MAX_SAFE_INTEGER;

/** Same order and ranges as the core's validateServerLimits. */
export const SERVER_LIMIT_PARAMS: ReadonlyArray<LimitParam<keyof ServerLimits>> = [
  { param: 'max_frame_bytes', option: 'maxFrameBytes', min: 64, max: 2 ** 31, description: 'Largest frame accepted, bytes; a larger one closes the connection.' },
  { param: 'max_bad_frames', option: 'maxBadFrames', min: 1, max: MAX_INT, description: 'Consecutive bad frames from a peer before its connection is closed.' },
  { param: 'frame_timeout_ms', option: 'frameTimeoutMs', min: 1, max: MAX_INT, description: 'A frame that has started must complete within this, ms (slowloris).' },
  { param: 'idle_timeout_ms', option: 'idleTimeoutMs', min: 1, max: MAX_INT, description: 'A connection that sends no bytes at all for this long is closed, ms.' },
  { param: 'max_connections', option: 'maxConnections', min: 1, max: MAX_INT, description: 'Connections past this are refused at once.' },
  { param: 'ack3_timeout_ms', option: 'ack3TimeoutMs', min: 1, max: MAX_INT, description: 'A message whose ack 3 has not come within this gets no latency record (counted), ms.' },
  { param: 'max_pending_ack3', option: 'maxPendingAck3', min: 1, max: MAX_INT, description: 'Messages per connection still waiting for their ack 3; the oldest is given up past this.' },
];

/** @throws ParameterError */
export function readServerLimits(r: ParamReader): ServerLimits {
  const limits = {} as ServerLimits;
  for (const l of SERVER_LIMIT_PARAMS) {
    limits[l.option] = r.integer(l.param, DEFAULT_SERVER_LIMITS[l.option], `${l.description} Default: ${DEFAULT_SERVER_LIMITS[l.option]}.`, between(l.min, l.max));
  }
  return limits;
}

export interface OutboxLimits {
  readonly outboxMaxMessages: number;
  readonly outboxMaxBytes: number;
  readonly outboxPolicy: OutboxPolicy;
  /** The bridge's own frame limit: a message whose frame would be larger is dropped; frames it reads past it close. */
  readonly maxFrameBytes: number;
  /** Nothing read for this long while messages wait for their ack: the connection is taken for dead; 0: never. */
  readonly silenceTimeoutMs: number;
}

/** @throws ParameterError */
export function readOutboxLimits(r: ParamReader): OutboxLimits {
  const d = DEFAULT_CLIENT_LIMITS;
  return {
    outboxMaxMessages: r.integer('outbox_max_messages', d.outboxMaxMessages, `Unacknowledged messages the bridge keeps. Default: ${d.outboxMaxMessages}.`, between(1, MAX_INT)),
    outboxMaxBytes: r.integer('outbox_max_bytes', d.outboxMaxBytes, `Bytes of unacknowledged messages the bridge keeps. Default: ${d.outboxMaxBytes} (64 MiB).`, between(1, MAX_INT)),
    outboxPolicy: r.choice('outbox_policy', d.outboxPolicy, OUTBOX_POLICIES, 'What to do with a new message when the outbox is full.'),
    // The server's own max_frame_bytes still applies: it tells the bridge in its hello, and larger messages are dropped.
    maxFrameBytes: r.integer('max_frame_bytes', d.maxFrameBytes, `Largest message frame the bridge sends (and reads), bytes. Default: ${d.maxFrameBytes} (16 MiB).`, between(64, 2 ** 31)),
    silenceTimeoutMs: r.integer(
      'silence_timeout_ms',
      DEFAULT_SILENCE_TIMEOUT_MS,
      `Nothing read from the server for this long while messages wait for their ack: the connection is taken for dead (a NAT that dropped it) and dialled again, ms; 0: never. Default: ${DEFAULT_SILENCE_TIMEOUT_MS}.`,
      between(0, MAX_INT),
    ),
  };
}
