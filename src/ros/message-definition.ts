/**
 * The shape of a ROS message type as plain data, which is all the JSON mapping needs. rclnodejs knows it for every
 * generated type (`ROSMessageDef`); the in-memory port builds it from .msg text.
 */

export const PRIMITIVE_TYPES = [
  'bool', 'byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
  'float32', 'float64', 'string', 'wstring',
] as const;
export type PrimitiveType = (typeof PRIMITIVE_TYPES)[number];

export interface FieldDefinition {
  readonly name: string;
  /** A primitive name, or a full message type name `pkg/msg/Name`. */
  readonly type: PrimitiveType | string;
  readonly primitive: boolean;
  /** `fixed` is `T[N]`, `bounded` is `T[<=N]`, `dynamic` is `T[]`. */
  readonly array: 'none' | 'fixed' | 'bounded' | 'dynamic';
  /** N of `T[N]` or `T[<=N]`. */
  readonly size?: number;
  /** N of `string<=N`. */
  readonly stringBound?: number;
}

export interface MessageDefinition {
  /** `pkg/msg/Name`. */
  readonly type: string;
  readonly fields: readonly FieldDefinition[];
}

/** Looks a type up by its full name; throws UnknownTypeError when it does not exist. */
export type DefinitionLookup = (type: string) => MessageDefinition;

/**
 * A message, or one of the messages rosidl makes of a service or an action (`std_srvs/srv/SetBool_Event`, the type
 * of a `_service_event` topic; `pkg/action/Name_FeedbackMessage`, of `_action/feedback`): never the service or
 * action itself, whose name has no `_`, since interface names cannot have one.
 */
const ROS2_NAME = /^[A-Za-z][A-Za-z0-9_]*\/(msg\/[A-Za-z][A-Za-z0-9_]*|(srv|action)\/[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+)$/;
const ROS1_NAME = /^([A-Za-z][A-Za-z0-9_]*)\/([A-Za-z][A-Za-z0-9_]*)$/;

/**
 * `std_msgs/String` (ROS 1) and `std_msgs/msg/String` (ROS 2) denote the same type (PROTOCOL.md §4); returns the
 * ROS 2 form, or null when `name` is neither.
 */
export function normalizeTypeName(name: string): string | null {
  if (ROS2_NAME.test(name)) return name;
  const m = ROS1_NAME.exec(name);
  return m ? `${m[1]}/msg/${m[2]}` : null;
}

export function isPrimitiveType(name: string): name is PrimitiveType {
  return (PRIMITIVE_TYPES as readonly string[]).includes(name);
}
