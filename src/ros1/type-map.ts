/**
 * ROS 1 <-> ROS 2 at the port boundary. Above the port everything is ROS 2-shaped (type names `pkg/msg/Name`,
 * builtin_interfaces/Time {sec, nanosec}, no Header.seq), so the bridge, the server and the envelope are the same
 * for both versions and a ROS 1 bridge can feed a ROS 2 server and the reverse. Below it, messages are in the
 * shape @foxglove/ros1 reads and writes (time {sec, nsec}, Header.seq, int64 as bigint).
 */
import type { FieldDefinition, MessageDefinition } from '../ros/message-definition';
import { Ros1UnknownTypeError, Ros1MessageCatalog } from './msg-catalog';
import type { Ros1Field, Ros1MessageSpec } from './msg-spec';

export const TIME_TYPE = 'builtin_interfaces/msg/Time';
export const DURATION_TYPE = 'builtin_interfaces/msg/Duration';
const HEADER_TYPE = 'std_msgs/Header';

/**
 * builtin_interfaces/Time and Duration as the ROS 1 port sees them: the JSON has the ROS 2 field names, with the
 * ranges of ROS 1's time (uint32 secs) and duration (int32 secs), so no ROS 1 value is refused on the way.
 */
const BUILTIN_DEFINITIONS: ReadonlyMap<string, MessageDefinition> = new Map(
  ([[TIME_TYPE, 'uint32'], [DURATION_TYPE, 'int32']] as const).map(([type, secType]) => [
    type,
    {
      type,
      fields: [
        { name: 'sec', type: secType, primitive: true, array: 'none' },
        { name: 'nanosec', type: 'uint32', primitive: true, array: 'none' },
      ],
    },
  ]),
);

/** `std_msgs/String` -> `std_msgs/msg/String`. */
export function toRos2TypeName(ros1Type: string): string {
  const [pkg, name] = ros1Type.split('/');
  return `${pkg}/msg/${name}`;
}

/**
 * `std_msgs/msg/String` (or `std_msgs/String`) -> `std_msgs/String`.
 * @throws UnknownTypeError for ROS 2 types that ROS 1 has no message for (services, actions, builtin_interfaces)
 */
export function toRos1TypeName(type: string): string {
  const parts = type.split('/');
  if (parts.length === 2) return type;
  if (parts.length !== 3 || parts[1] !== 'msg') throw new Ros1UnknownTypeError(type, 'only message types (pkg/msg/Name) exist in ROS 1');
  if (parts[0] === 'builtin_interfaces') {
    throw new Ros1UnknownTypeError(type, 'ROS 1 has time and duration as primitive field types, not as messages of their own');
  }
  return `${parts[0]}/${parts[2]}`;
}

function isHeaderSeq(spec: Ros1MessageSpec, f: Ros1Field): boolean {
  return spec.type === HEADER_TYPE && f.name === 'seq';
}

/**
 * Fields that ROS 2 renamed (ROS 2 wants lower-case field names); ros1_bridge maps the same ones. Above the port
 * they carry the ROS 2 name, so a ROS 1 CameraInfo fits a ROS 2 server and the reverse.
 */
const RENAMED_FIELDS: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  ['sensor_msgs/CameraInfo', new Map([['D', 'd'], ['K', 'k'], ['R', 'r'], ['P', 'p']])],
]);

/** The name of a ROS 1 field above the port. */
function ros2FieldName(spec: Ros1MessageSpec, f: Ros1Field): string {
  return RENAMED_FIELDS.get(spec.type)?.get(f.name) ?? f.name;
}

/** Converts definitions and messages between the two shapes, with definitions from `catalog`. */
export class Ros1TypeMapper {
  private readonly definitions = new Map<string, MessageDefinition>();

  constructor(readonly catalog: Ros1MessageCatalog) {}

  /** The ROS 2-shaped definition of a type known to ROS 1 here. @throws UnknownTypeError */
  definition(type: string): MessageDefinition {
    const builtin = BUILTIN_DEFINITIONS.get(type);
    if (builtin) return builtin;
    const spec = this.catalog.spec(toRos1TypeName(type));
    let def = this.definitions.get(spec.type);
    // A publisher's connection header can replace a local definition; map again when the spec object changed.
    if (def === undefined || (def as MappedDefinition).source !== spec) {
      def = mapDefinition(spec);
      this.definitions.set(spec.type, def);
    }
    return def;
  }

  /** A message as @foxglove/ros1 delivers it -> the ROS 2 shape. */
  toRos2(ros1Type: string, message: unknown): Record<string, unknown> {
    return this.messageToRos2(this.catalog.spec(ros1Type), message as Record<string, unknown>);
  }

  /**
   * A ROS 2-shaped message (as jsonToRos builds it) -> what @foxglove/ros1 writes. A top-level Header gets
   * `headerSeq`, as rospy numbers it; nested Headers get 0.
   */
  toRos1(ros1Type: string, message: Record<string, unknown>, headerSeq: number): Record<string, unknown> {
    return this.messageToRos1(this.catalog.spec(ros1Type), message, headerSeq);
  }

  private messageToRos2(spec: Ros1MessageSpec, msg: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of spec.fields) {
      if (isHeaderSeq(spec, f)) continue;
      const v = msg[f.name];
      const name = ros2FieldName(spec, f);
      const one = (x: unknown): unknown => this.valueToRos2(f, x);
      if (f.array === 'none') out[name] = one(v);
      else if (f.primitive && f.type !== 'time' && f.type !== 'duration' && f.type !== 'byte') out[name] = v;
      else if (f.type === 'byte' && ArrayBuffer.isView(v)) out[name] = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      else out[name] = Array.from(v as ArrayLike<unknown>, one);
    }
    return out;
  }

  private valueToRos2(f: Ros1Field, v: unknown): unknown {
    if (!f.primitive) return this.messageToRos2(this.catalog.spec(f.type), v as Record<string, unknown>);
    if (f.type === 'time') {
      const t = v as { sec: number; nsec: number };
      return { sec: t.sec, nanosec: t.nsec };
    }
    if (f.type === 'duration') return normalizeDuration(v as { sec: number; nsec: number });
    // ROS 1 byte is int8 on the wire; ROS 2 byte is an octet: keep the bits.
    if (f.type === 'byte') return (v as number) & 0xff;
    return v;
  }

  private messageToRos1(spec: Ros1MessageSpec, msg: Record<string, unknown>, headerSeq: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of spec.fields) {
      if (isHeaderSeq(spec, f)) {
        out.seq = headerSeq;
        continue;
      }
      const v = msg[ros2FieldName(spec, f)];
      if (f.array === 'none') out[f.name] = this.valueToRos1(f, v, f.type === HEADER_TYPE ? headerSeq : 0);
      else if (f.primitive && f.type !== 'time' && f.type !== 'duration') out[f.name] = v;
      else out[f.name] = Array.from(v as ArrayLike<unknown>, (x) => this.valueToRos1(f, x, 0));
    }
    return out;
  }

  private valueToRos1(f: Ros1Field, v: unknown, headerSeq: number): unknown {
    if (!f.primitive) return this.messageToRos1(this.catalog.spec(f.type), v as Record<string, unknown>, headerSeq);
    if (f.type === 'time' || f.type === 'duration') {
      const t = v as { sec: number; nanosec: number };
      return { sec: t.sec, nsec: t.nanosec };
    }
    return v;
  }
}

interface MappedDefinition extends MessageDefinition {
  readonly source: Ros1MessageSpec;
}

function mapDefinition(spec: Ros1MessageSpec): MappedDefinition {
  const fields: FieldDefinition[] = spec.fields
    .filter((f) => !isHeaderSeq(spec, f))
    .map((f) => {
      const base = { name: ros2FieldName(spec, f), array: f.array, ...(f.size !== undefined ? { size: f.size } : {}) };
      if (f.type === 'time') return { ...base, type: TIME_TYPE, primitive: false };
      if (f.type === 'duration') return { ...base, type: DURATION_TYPE, primitive: false };
      return { ...base, type: f.primitive ? f.type : toRos2TypeName(f.type), primitive: f.primitive };
    });
  const def: MappedDefinition = { type: toRos2TypeName(spec.type), fields, source: spec };
  // Not enumerable, so the definition compares and prints like any other.
  Object.defineProperty(def, 'source', { enumerable: false });
  return def;
}

/** ROS 1 durations may carry a negative or oversized nsecs; ROS 2 wants 0 <= nanosec < 1e9. */
function normalizeDuration(d: { sec: number; nsec: number }): { sec: number; nanosec: number } {
  const carry = Math.floor(d.nsec / 1e9);
  return { sec: d.sec + carry, nanosec: d.nsec - carry * 1e9 };
}
