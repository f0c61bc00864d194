/** Errors of the ROS layer; like the core's FastSocketError they carry a stable `code` that tests match on. */

export type RosErrorCode =
  /** ROS 2 is not sourced, or rclnodejs is missing or does not load. */
  | 'FS_ROS_ERR_UNAVAILABLE'
  /** A node parameter has a bad value; `parameter` names it. */
  | 'FS_ROS_ERR_PARAM'
  /** A message type is not known to this ROS installation. */
  | 'FS_ROS_ERR_UNKNOWN_TYPE'
  /** A JSON message does not fit its ROS type; `field` names the offending field. */
  | 'FS_ROS_ERR_MESSAGE'
  /** A received payload is not a ROS envelope of PROTOCOL.md §4. */
  | 'FS_ROS_ERR_ENVELOPE'
  /** An encoding this ROS cannot use, e.g. CDR bytes (ROS 2 only) on ROS 1. */
  | 'FS_ROS_ERR_ENCODING';

export class RosError extends Error {
  readonly code: RosErrorCode;

  constructor(code: RosErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A parameter value that cannot be used; the message starts with the parameter name. */
export class ParameterError extends RosError {
  constructor(readonly parameter: string, problem: string) {
    super('FS_ROS_ERR_PARAM', `parameter ${parameter}: ${problem}`);
  }
}

export class UnknownTypeError extends RosError {
  constructor(readonly type: string, options?: { cause?: unknown }) {
    super('FS_ROS_ERR_UNKNOWN_TYPE', `message type ${type} is not known to this ROS 2 installation`, options);
  }
}

/** A JSON value that does not fit its ROS field; `field` is a path like `msg.layout.dim[0].size`. */
export class MessageMappingError extends RosError {
  constructor(readonly field: string, problem: string) {
    super('FS_ROS_ERR_MESSAGE', `field ${field}: ${problem}`);
  }
}

export class EnvelopeError extends RosError {
  constructor(readonly field: string, problem: string) {
    super('FS_ROS_ERR_ENVELOPE', `envelope ${field}: ${problem}`);
  }
}
