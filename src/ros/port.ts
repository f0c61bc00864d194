/**
 * The narrow slice of ROS 2 the bridge and server use. rclnodejs-port.ts implements it over rclnodejs; unit tests
 * use an in-memory graph, so everything above this line runs and is tested without ROS.
 */
import type { Logger } from '../fastsocket';
import type { MessageDefinition } from './message-definition';
import type { QosProfile } from './qos';

export type ParamType =
  | 'bool' | 'integer' | 'double' | 'string' | 'byte_array' | 'bool_array' | 'integer_array' | 'double_array' | 'string_array';

/** Integers arrive as bigint (rclnodejs converts every INTEGER to bigint); doubles as number. */
export type ParamValue = boolean | bigint | number | string | Uint8Array | boolean[] | bigint[] | number[] | string[];

export interface ParamDeclaration {
  readonly name: string;
  readonly type: ParamType;
  readonly defaultValue: ParamValue;
  /** Shown by `ros2 param describe`. */
  readonly description: string;
  readonly readOnly?: boolean;
}

/** A parameter as the node holds it. `not_set` is what an empty YAML list `[]` becomes. */
export interface ParamState {
  readonly name: string;
  readonly type: ParamType | 'not_set';
  readonly value: ParamValue | undefined;
}

/** One endpoint (publisher or subscription) found on the graph. */
export interface EndpointInfo {
  readonly nodeName: string;
  readonly nodeNamespace: string;
  readonly type: string;
  readonly qos: QosProfile;
}

export interface RosPublisher {
  readonly topic: string;
  /** Publishes a plain message object (see msg-json.ts for its field representation) or serialized CDR bytes. */
  publish(message: unknown): void;
  /**
   * Whether a subscription is matched now. A port that cannot tell leaves it out, and callers publish anyway: see
   * `isHeard`.
   */
  hasSubscribers?(): boolean;
  destroy(): void;
}

/**
 * False when nobody can receive what `publisher` would send now, so a side output (~/latency, ~/age, ~/rtt,
 * /diagnostics: volatile, never latched) can skip building and serializing it. Each costs tens of microseconds
 * in rclnodejs, several times per forwarded message; DDS matches a new subscriber before it can receive anything,
 * so skipping while none is matched loses nothing a subscriber would have got.
 */
export function isHeard(publisher: RosPublisher | null): publisher is RosPublisher {
  return publisher !== null && (publisher.hasSubscribers?.() ?? true);
}

export interface RosSubscription {
  readonly topic: string;
  destroy(): void;
}

export interface RosTimer {
  cancel(): void;
}

/** `object`: callback gets a plain message object; `raw`: the serialized CDR bytes as a Buffer. */
export type SubscriptionMode = 'object' | 'raw';

export interface RosNode {
  /** The node's name after remapping. */
  readonly name: string;
  /** e.g. `/fastsocket_server`; relative names such as `~/latency` resolve against it. */
  readonly fullyQualifiedName: string;
  readonly logger: Logger;
  /**
   * True when `raw` subscriptions deliver, and `publish(Buffer)` takes, real CDR (XCDR1 with its encapsulation
   * header), so the bridge and server can convert JSON themselves (cdr-json.ts); ports that cannot promise it leave
   * it out.
   */
  readonly rawIsCdr?: boolean;
  /**
   * With rawIsCdr: bytes per UTF-16 code unit of a wstring in that CDR, where the middleware's width is known
   * (cdr-json.ts); left out, types with a wstring are not converted from or to CDR.
   */
  readonly cdrWstringUnitBytes?: 2 | 4;
  /**
   * False where every subscriber connects to every publisher of its type whatever either asked for (ROS 1, which
   * has no QoS), so no QoS setting can leave a publisher unheard; ports that match QoS (DDS) leave it out.
   */
  readonly qosCanExclude?: boolean;
  /**
   * Declares a parameter. When a params file or command line sets it, the parameter takes that value and type
   * (callers validate the type, so a wrong type is reported by parameter name); otherwise it takes the default.
   */
  declareParameter(declaration: ParamDeclaration): ParamState;
  /** Every override from params files and `-p`, dotted names for nested maps (`topic_options.fix.type`). */
  parameterOverrides(): ParamState[];
  /** @throws UnknownTypeError */
  createPublisher(type: string, topic: string, qos: QosProfile): RosPublisher;
  /**
   * The callback never throws into ROS (an exception inside an rclnodejs callback aborts the process); the port
   * logs and swallows what escapes it. @throws UnknownTypeError
   */
  createSubscription(type: string, topic: string, qos: QosProfile, mode: SubscriptionMode, onMessage: (message: unknown) => void): RosSubscription;
  /** @throws UnknownTypeError */
  messageDefinition(type: string): MessageDefinition;
  /**
   * The hash of the type's installed definition (ROS 2's `RIHS01_...` type hash), or null when it cannot be found;
   * a port that has no such hashes leaves it out. CDR is only meaningful between two equal definitions: the bridge
   * sends the hash with raw messages and the server refuses bytes made from a different definition.
   */
  typeHash?(type: string): string | null;
  /** All topics on the graph with their types (a topic can have several). */
  topicNamesAndTypes(): Array<{ name: string; types: string[] }>;
  publishersInfo(topic: string): EndpointInfo[];
  /** Repeating timer on the steady clock (use_sim_time does not slow or stop it); the callback is guarded like subscription callbacks. */
  createTimer(periodMs: number, callback: () => void): RosTimer;
  /** Resolves a relative or private name (`~/latency`) to the absolute topic name. */
  resolveTopicName(topic: string): string;
  destroy(): void;
}

export interface RosPort {
  createNode(name: string): RosNode;
  /** Destroys every node and leaves ROS; idempotent. */
  shutdown(): void;
}
