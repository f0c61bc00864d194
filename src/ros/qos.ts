/**
 * QoS as plain data, the presets users name in YAML, and the choice that makes a subscription match the
 * publishers it finds: ROS 2 drops mismatched pairs silently (a reliable reader never hears a best-effort writer,
 * a transient-local reader never matches a volatile writer), so the bridge asks the graph instead of guessing.
 */

export type Reliability = 'reliable' | 'best_effort' | 'system_default';
export type Durability = 'volatile' | 'transient_local' | 'system_default';
export type History = 'keep_last' | 'keep_all' | 'system_default';

export interface QosProfile {
  readonly reliability: Reliability;
  readonly durability: Durability;
  readonly history: History;
  readonly depth: number;
}

export const RELIABILITIES: readonly Reliability[] = ['reliable', 'best_effort', 'system_default'];
export const DURABILITIES: readonly Durability[] = ['volatile', 'transient_local', 'system_default'];

/** The rclcpp/rclpy presets (rmw/qos_profiles.h), by the names users know. */
export const QOS_PRESETS: Readonly<Record<string, QosProfile>> = Object.freeze({
  default: qos('reliable', 'volatile', 10),
  sensor_data: qos('best_effort', 'volatile', 5),
  system_default: Object.freeze({ reliability: 'system_default', durability: 'system_default', history: 'system_default', depth: 0 }),
  services_default: qos('reliable', 'volatile', 10),
  parameters: qos('reliable', 'volatile', 1000),
  parameter_events: qos('reliable', 'volatile', 1000),
  action_status_default: qos('reliable', 'transient_local', 1),
  // Not an rmw preset, but what /tf_static-like latched topics use; named so YAML can say it.
  transient_local: qos('reliable', 'transient_local', 1),
} satisfies Record<string, QosProfile>);

export const DEFAULT_QOS = QOS_PRESETS.default;

/** A keep-last profile. */
export function qos(reliability: Reliability, durability: Durability, depth: number): QosProfile {
  return Object.freeze({ reliability, durability, history: 'keep_last', depth });
}

/** Settings the user fixed; whatever is left undefined is taken from the publishers found on the graph. */
export interface QosRequest {
  readonly reliability?: Reliability;
  readonly durability?: Durability;
  readonly depth?: number;
}

/** Largest queue we let a discovered publisher's depth push us to, so one huge latched queue cannot pin memory. */
const MAX_MATCHED_DEPTH = 1000;

/**
 * Least queue of a volatile topic: the bridge takes every topic's messages on one thread, and while it converts a
 * large message (a camera frame) a 100 Hz topic's reader, at the publisher's 10, overwrote messages unseen (33 of
 * 6,000 odometry messages in 60 s beside a camera and a lidar). 100 covers a 1 s stall at 100 Hz; it costs memory
 * only while messages wait. Transient-local depths are not raised: they set what late joiners are handed.
 */
const MIN_VOLATILE_DEPTH = 100;

/**
 * The subscription QoS that hears every publisher in `publishers` (empty: the ROS default), with the user's
 * explicit settings winning.
 */
export function chooseSubscriptionQos(request: QosRequest, publishers: readonly QosProfile[]): QosProfile {
  const anyBestEffort = publishers.some((p) => p.reliability === 'best_effort');
  // Transient-local only when every writer offers it: such a reader cannot match a volatile writer at all.
  const allTransientLocal = publishers.length > 0 && publishers.every((p) => p.durability === 'transient_local');
  // A transient-local reader is handed every writer's history: twelve static broadcasters on /tf_static latch twelve
  // messages, and the server republishes them from one publisher of this depth, so late joiners there need the sum.
  const depths = publishers.map((p) => p.depth);
  const neededDepth = allTransientLocal ? depths.reduce((a, b) => a + b, 0) : Math.max(0, ...depths);
  const durability = request.durability ?? (allTransientLocal ? 'transient_local' : 'volatile');
  const leastDepth = durability === 'transient_local' ? DEFAULT_QOS.depth : MIN_VOLATILE_DEPTH;
  const matchedDepth = Math.min(MAX_MATCHED_DEPTH, Math.max(leastDepth, neededDepth));
  return qos(request.reliability ?? (anyBestEffort ? 'best_effort' : 'reliable'), durability, request.depth ?? matchedDepth);
}

/** True when `request` leaves something to be matched against the graph. */
export function needsDiscovery(request: QosRequest): boolean {
  return request.reliability === undefined || request.durability === undefined;
}

/** `reliable/volatile/depth 10`, as the nodes' log lines write a QoS. */
export function qosText(q: QosProfile): string {
  return `${q.reliability}/${q.durability}/depth ${q.depth}`;
}

export function sameQos(a: QosProfile, b: QosProfile): boolean {
  return a.reliability === b.reliability && a.durability === b.durability && a.history === b.history && a.depth === b.depth;
}

/** The envelope's `qos` field (PROTOCOL.md §4). */
export interface EnvelopeQos {
  reliability: Reliability;
  durability: Durability;
  depth: number;
}

export function toEnvelopeQos(p: QosProfile): EnvelopeQos {
  return { reliability: p.reliability, durability: p.durability, depth: p.depth };
}
