/** Stable error codes; tests and callers match on these, never on message text. */
export type FastSocketErrorCode =
  | 'FS_ERR_PROTOCOL'
  | 'FS_ERR_FRAME_TOO_LARGE'
  | 'FS_ERR_CLOSED'
  | 'FS_ERR_DESTROYED'
  | 'FS_ERR_ACK_TIMEOUT'
  | 'FS_ERR_OUTBOX_FULL'
  | 'FS_ERR_DROPPED'
  | 'FS_ERR_EXPIRED'
  | 'FS_ERR_CONNECT'
  | 'FS_ERR_AUTH'
  | 'FS_ERR_INVALID_URL'
  | 'FS_ERR_PAYLOAD';

/** Base class of every error the library raises or emits. */
export class FastSocketError extends Error {
  readonly code: FastSocketErrorCode;

  constructor(code: FastSocketErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Why the client gave up on a message with FS_ERR_DROPPED: its outbox policy made room, or maxAttempts connections closed on it. */
export type DropReason = 'outbox_full' | 'max_attempts';

/** FS_ERR_DROPPED, with why: callers tell a link slower than what they send (`outbox_full`) from a poisoned message. */
export class DroppedError extends FastSocketError {
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super('FS_ERR_DROPPED', message);
  }
}

/** Whether `err` is send() refusing or dropping a message because the outbox was full (any outbox policy). */
export function isOutboxFull(err: unknown): boolean {
  return (err instanceof FastSocketError && err.code === 'FS_ERR_OUTBOX_FULL') || (err instanceof DroppedError && err.reason === 'outbox_full');
}

/**
 * A bad option or argument: a TypeError, as STYLE asks of bad options, with a stable code and the option's name
 * (`maxFrameBytes`, `tls.ca`, `options` for the options object itself) for callers and tests to match on.
 */
export class OptionError extends TypeError {
  readonly code = 'FS_ERR_INVALID_OPTION';

  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'OptionError';
  }
}

/** Why a frame was rejected; `reason` is stable and becomes a counter key. */
export type ProtocolErrorReason =
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_object'
  | 'invalid_id'
  | 'invalid_type'
  | 'unknown_type'
  | 'missing_payload'
  | 'invalid_ack_time'
  | 'invalid_field';

/** A frame that does not follow PROTOCOL.md §2/§4. */
export class ProtocolError extends FastSocketError {
  readonly reason: ProtocolErrorReason;

  constructor(reason: ProtocolErrorReason, message: string, options?: { cause?: unknown }) {
    super('FS_ERR_PROTOCOL', message, options);
    this.reason = reason;
  }
}

/** A frame larger than `max_frame_bytes`, detected while buffering. */
export class FrameTooLargeError extends FastSocketError {
  constructor(readonly limit: number) {
    super('FS_ERR_FRAME_TOO_LARGE', `frame exceeds max_frame_bytes (${limit} bytes)`);
  }
}
