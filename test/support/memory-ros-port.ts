/**
 * An in-memory stand-in for the ROS 2 graph behind the RosPort interface: nodes, parameters with overrides,
 * publishers and subscriptions that match on QoS the way DDS does (silently), transient-local history, graph
 * queries, manually fired timers and a recording logger. It stands in for ROS, never for the code under test.
 */
import { EventEmitter } from 'node:events';
import { DroppedError, FastSocketError, parseJson, stringifyJson, type ClientEvents, type Logger, type SendOptions, type SendResult } from '../../src/fastsocket';
import type { BridgeLinkStats } from '../../src/ros/bridge';
import { UnknownTypeError } from '../../src/ros/errors';
import { FieldDefinition, isPrimitiveType, MessageDefinition } from '../../src/ros/message-definition';
import type {
  EndpointInfo, ParamDeclaration, ParamState, ParamValue, RosNode, RosPort, RosPublisher, RosSubscription, RosTimer, SubscriptionMode,
} from '../../src/ros/port';
import type { QosProfile } from '../../src/ros/qos';

/** Message definitions in .msg syntax, by full type name; a small catalogue of real types plus a test type. */
export const MSG_SOURCES: Readonly<Record<string, string>> = {
  'builtin_interfaces/msg/Time': 'int32 sec\nuint32 nanosec',
  'builtin_interfaces/msg/Duration': 'int32 sec\nuint32 nanosec',
  'std_msgs/msg/String': 'string data',
  'std_msgs/msg/Float64': 'float64 data',
  'std_msgs/msg/Int64': 'int64 data',
  'std_msgs/msg/UInt64': 'uint64 data',
  'std_msgs/msg/Bool': 'bool data',
  'std_msgs/msg/Char': 'char data',
  'std_msgs/msg/Header': 'builtin_interfaces/Time stamp\nstring frame_id',
  'std_msgs/msg/MultiArrayDimension': 'string label\nuint32 size\nuint32 stride',
  'std_msgs/msg/MultiArrayLayout': 'MultiArrayDimension[] dim\nuint32 data_offset',
  'std_msgs/msg/UInt8MultiArray': 'MultiArrayLayout layout\nuint8[] data',
  'std_msgs/msg/Int64MultiArray': 'MultiArrayLayout layout\nint64[] data',
  'std_msgs/msg/Float64MultiArray': 'MultiArrayLayout layout\nfloat64[] data',
  'geometry_msgs/msg/Vector3': 'float64 x\nfloat64 y\nfloat64 z',
  'geometry_msgs/msg/Quaternion': 'float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1',
  'sensor_msgs/msg/Imu':
    'std_msgs/Header header\ngeometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance\n' +
    'geometry_msgs/Vector3 angular_velocity\nfloat64[9] angular_velocity_covariance\n' +
    'geometry_msgs/Vector3 linear_acceleration\nfloat64[9] linear_acceleration_covariance',
  'sensor_msgs/msg/RegionOfInterest': 'uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify',
  'sensor_msgs/msg/CameraInfo':
    'std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\nfloat64[] d\nfloat64[9] k\nfloat64[9] r\n' +
    'float64[12] p\nuint32 binning_x\nuint32 binning_y\nRegionOfInterest roi',
  'diagnostic_msgs/msg/KeyValue': 'string key\nstring value',
  'diagnostic_msgs/msg/DiagnosticStatus':
    'byte OK=0\nbyte WARN=1\nbyte ERROR=2\nbyte STALE=3\nbyte level\nstring name\nstring message\nstring hardware_id\nKeyValue[] values',
  'diagnostic_msgs/msg/DiagnosticArray': 'std_msgs/Header header\nDiagnosticStatus[] status',
  'statistics_msgs/msg/StatisticDataPoint': 'uint8 data_type\nfloat64 data',
  'statistics_msgs/msg/MetricsMessage':
    'string measurement_source_name\nstring metrics_source\nstring unit\nbuiltin_interfaces/Time window_start\n' +
    'builtin_interfaces/Time window_stop\nStatisticDataPoint[] statistics',
  'service_msgs/msg/ServiceEventInfo':
    'uint8 REQUEST_SENT = 0\nuint8 event_type\nbuiltin_interfaces/Time stamp\nchar[16] client_gid\nint64 sequence_number',
  // A service's introspection message, the type of its `_service_event` topic: its own parts live in srv/, not msg/.
  'std_srvs/srv/SetBool_Request': 'bool data',
  'std_srvs/srv/SetBool_Response': 'bool success\nstring message',
  'std_srvs/srv/SetBool_Event': 'service_msgs/ServiceEventInfo info\nSetBool_Request[<=1] request\nSetBool_Response[<=1] response',
  // Not a real type: one of everything the mapping must handle.
  'fastsocket_test/msg/AllTypes':
    'bool b\nbyte by\nchar c\nint8 i8\nuint8 u8\nint16 i16\nuint16 u16\nint32 i32\nuint32 u32\nint64 i64\nuint64 u64\n' +
    'float32 f32\nfloat64 f64\nstring s\nwstring ws\nstring<=5 bounded_s\n' +
    'uint8[] u8s\nchar[] cs\nbyte[4] fixed_bytes\nint64[] i64s\nuint64[3] u64_fixed\nfloat64[] f64s\nfloat32[<=3] f32_bounded\n' +
    'bool[] bs\nstring[] ss\nint32[] i32s\nbuiltin_interfaces/Time t\nbuiltin_interfaces/Time[] ts\nstd_msgs/MultiArrayDimension[2] dims',
};

/**
 * Parses .msg text into a definition (constants skipped, bare type names resolved in `pkg`: in the folder of `type`
 * for a service's or action's own parts, `SetBool_Request`, as rosidl generates them).
 */
export function parseMsg(type: string, source: string): MessageDefinition {
  const [pkg, kind, name] = type.split('/');
  const ownPart = (base: string): boolean => kind !== 'msg' && base.startsWith(`${name.split('_')[0]}_`);
  const fields: FieldDefinition[] = [];
  for (const raw of source.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [typePart, namePart] = line.split(/\s+/);
    if (namePart.includes('=') || line.split(/\s+/)[2]?.startsWith('=')) continue;
    const m = /^([A-Za-z0-9_/]+?)(?:<=(\d+))?(?:\[(<=)?(\d*)\])?$/.exec(typePart);
    if (!m) throw new Error(`cannot parse ${line} in ${type}`);
    const [, base, stringBound, bounded, size] = m;
    const array: FieldDefinition['array'] = typePart.includes('[') ? (bounded ? 'bounded' : size ? 'fixed' : 'dynamic') : 'none';
    const primitive = isPrimitiveType(base);
    const fieldType = primitive ? base : base.includes('/') ? base.replace('/', '/msg/') : `${pkg}/${ownPart(base) ? kind : 'msg'}/${base}`;
    fields.push({
      name: namePart, type: fieldType, primitive, array,
      ...(size ? { size: Number(size) } : {}),
      ...(stringBound ? { stringBound: Number(stringBound) } : {}),
    });
  }
  return { type, fields };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

interface Endpoint {
  node: MemoryRosNode;
  topic: string;
  type: string;
  qos: QosProfile;
}

interface PubEndpoint extends Endpoint {
  /** Kept for transient-local late joiners. */
  history: unknown[];
}

interface SubEndpoint extends Endpoint {
  mode: SubscriptionMode;
  onMessage: (message: unknown) => void;
}

/** The CDR header rclnodejs puts in front of serialized messages; our stand-in serialization is a key after it. */
const FAKE_CDR_HEADER = Buffer.from([0, 1, 0, 0]);

/** One ROS domain: the graph every node created from it shares. */
export class MemoryRosGraph implements RosPort {
  readonly definitions = new Map<string, MessageDefinition>();
  readonly publishers: PubEndpoint[] = [];
  readonly subscriptions: SubEndpoint[] = [];
  readonly nodes: MemoryRosNode[] = [];
  /** Every message published, by topic, in order (plain objects or Buffers as given). */
  readonly published = new Map<string, unknown[]>();
  /**
   * When true, publishers tell whether a matching subscription exists (hasSubscribers), as DDS matching does; by
   * default they claim a listener, so tests read every side output from `published` without subscribing to it.
   */
  matchSubscribers = false;
  /** What typeHash() answers, by type (a real port reads the installed `RIHS01_...`); a type left out has none. */
  readonly typeHashes = new Map<string, string>();
  /** rmw's RMW_TOPIC_MAX_NAME_LENGTH (255 - 8): rcl refuses a longer fully qualified topic name. */
  maxTopicNameLength = 247;
  private shut = false;
  private readonly serialized = new Map<string, unknown>();

  constructor(sources: Readonly<Record<string, string>> = MSG_SOURCES) {
    for (const [type, src] of Object.entries(sources)) this.definitions.set(type, parseMsg(type, src));
  }

  /** @param overrides what a params file or `-p` would set, by (dotted) name */
  createNode(name: string, overrides: Record<string, ParamValue | null> = {}): MemoryRosNode {
    const node = new MemoryRosNode(this, name, overrides);
    this.nodes.push(node);
    return node;
  }

  shutdown(): void {
    if (this.shut) return;
    this.shut = true;
    for (const n of [...this.nodes]) n.destroy();
  }

  messagesOn(topic: string): unknown[] {
    return this.published.get(topic) ?? [];
  }

  lookup(type: string): MessageDefinition {
    const d = this.definitions.get(type);
    if (!d) throw new UnknownTypeError(type);
    return d;
  }

  /** @internal */
  hasSubscribers(pub: PubEndpoint): boolean {
    return !this.matchSubscribers || this.subscriptions.some((s) => s.topic === pub.topic && s.type === pub.type && compatible(pub.qos, s.qos));
  }

  /** @internal */
  deliver(pub: PubEndpoint, message: unknown): void {
    const list = this.published.get(pub.topic) ?? [];
    list.push(message);
    this.published.set(pub.topic, list);
    if (pub.qos.durability === 'transient_local') {
      pub.history.push(message);
      if (pub.history.length > Math.max(1, pub.qos.depth)) pub.history.shift();
    }
    for (const sub of this.subscriptions.filter((s) => s.topic === pub.topic && s.type === pub.type && compatible(pub.qos, s.qos))) {
      this.handTo(sub, message);
    }
  }

  /** @internal a new transient-local subscription gets the history of matching transient-local publishers */
  replayHistory(sub: SubEndpoint): void {
    if (sub.qos.durability !== 'transient_local') return;
    for (const pub of this.publishers.filter((p) => p.topic === sub.topic && p.type === sub.type && compatible(p.qos, sub.qos))) {
      for (const m of pub.history) this.handTo(sub, m);
    }
  }

  /** Stand-in serialization: the same message object always gives the same bytes, and the bytes give it back. */
  serialize(message: unknown): Buffer {
    const key = `fake-cdr:${this.serialized.size}`;
    for (const [k, v] of this.serialized) if (v === message) return Buffer.concat([FAKE_CDR_HEADER, Buffer.from(k)]);
    this.serialized.set(key, message);
    return Buffer.concat([FAKE_CDR_HEADER, Buffer.from(key)]);
  }

  deserialize(bytes: Buffer): unknown {
    const key = bytes.subarray(FAKE_CDR_HEADER.length).toString();
    if (!this.serialized.has(key)) throw new TypeError('not a serialized message');
    return this.serialized.get(key);
  }

  private handTo(sub: SubEndpoint, message: unknown): void {
    const isBytes = Buffer.isBuffer(message);
    let value: unknown;
    if (sub.mode === 'raw') value = isBytes ? message : this.serialize(message);
    else value = isBytes ? this.deserialize(message) : message;
    try {
      sub.onMessage(value);
    } catch (err) {
      // As the real port does: a throwing callback is logged, never allowed to take the graph down.
      sub.node.logs.push({ level: 'error', message: `callback on ${sub.topic} threw: ${(err as Error).message}` });
    }
  }
}

/** DDS request/offer matching: the reader may not ask for more than the writer offers. */
function compatible(pub: QosProfile, sub: QosProfile): boolean {
  if (sub.reliability === 'reliable' && pub.reliability === 'best_effort') return false;
  if (sub.durability === 'transient_local' && pub.durability === 'volatile') return false;
  return true;
}

export class MemoryRosNode implements RosNode {
  readonly logs: LogLine[] = [];
  readonly timers: MemoryTimer[] = [];
  readonly params = new Map<string, ParamState>();
  readonly declarations: ParamDeclaration[] = [];
  readonly logger: Logger;
  /** As RosNode's: false plays a ROS 1 node, whose publishers offer no QoS but latching. */
  qosCanExclude?: boolean;
  private destroyed = false;

  constructor(
    readonly graph: MemoryRosGraph,
    readonly name: string,
    private readonly overrides: Record<string, ParamValue | null>,
  ) {
    const log = (level: LogLine['level']) => (message: string) => {
      this.logs.push({ level, message });
    };
    this.logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  }

  get fullyQualifiedName(): string {
    return `/${this.name}`;
  }

  declareParameter(d: ParamDeclaration): ParamState {
    if (this.params.has(d.name)) throw new Error(`Parameter(${d.name}) already declared.`);
    this.declarations.push(d);
    const o = this.overrides[d.name];
    const state: ParamState =
      o === undefined || o === null ? { name: d.name, type: o === null ? 'not_set' : d.type, value: o === null ? undefined : d.defaultValue } : { name: d.name, type: typeOf(o), value: o };
    this.params.set(d.name, state);
    return state;
  }

  parameterOverrides(): ParamState[] {
    return Object.entries(this.overrides).map(([name, v]) => (v === null ? { name, type: 'not_set', value: undefined } : { name, type: typeOf(v), value: v }));
  }

  createPublisher(type: string, topic: string, qos: QosProfile): RosPublisher {
    this.graph.lookup(type);
    const name = this.resolveTopicName(topic);
    if (name.length > this.graph.maxTopicNameLength) throw new Error(`topic name ${name} is longer than ${this.graph.maxTopicNameLength} characters`);
    const ep: PubEndpoint = { node: this, topic: name, type, qos, history: [] };
    this.graph.publishers.push(ep);
    return {
      topic: name,
      publish: (message: unknown) => {
        if (!Buffer.isBuffer(message)) checkPublishable(this.graph, type, message, 'message');
        this.graph.deliver(ep, message);
      },
      hasSubscribers: () => this.graph.hasSubscribers(ep),
      destroy: () => remove(this.graph.publishers, ep),
    };
  }

  createSubscription(type: string, topic: string, qos: QosProfile, mode: SubscriptionMode, onMessage: (message: unknown) => void): RosSubscription {
    this.graph.lookup(type);
    const name = this.resolveTopicName(topic);
    const ep: SubEndpoint = { node: this, topic: name, type, qos, mode, onMessage };
    this.graph.subscriptions.push(ep);
    this.graph.replayHistory(ep);
    return { topic: name, destroy: () => remove(this.graph.subscriptions, ep) };
  }

  messageDefinition(type: string): MessageDefinition {
    return this.graph.lookup(type);
  }

  typeHash(type: string): string | null {
    return this.graph.typeHashes.get(type) ?? null;
  }

  topicNamesAndTypes(): Array<{ name: string; types: string[] }> {
    const all = new Map<string, Set<string>>();
    for (const e of [...this.graph.publishers, ...this.graph.subscriptions]) {
      const s = all.get(e.topic) ?? new Set<string>();
      s.add(e.type);
      all.set(e.topic, s);
    }
    return [...all].map(([name, types]) => ({ name, types: [...types] }));
  }

  publishersInfo(topic: string): EndpointInfo[] {
    const name = this.resolveTopicName(topic);
    return this.graph.publishers.filter((p) => p.topic === name).map((p) => ({ nodeName: p.node.name, nodeNamespace: '/', type: p.type, qos: p.qos }));
  }

  createTimer(periodMs: number, callback: () => void): RosTimer {
    const t = new MemoryTimer(periodMs, callback, this);
    this.timers.push(t);
    return t;
  }

  /** Fires every live timer with this period once. */
  fireTimers(periodMs?: number): void {
    for (const t of this.timers) if (!t.canceled && (periodMs === undefined || t.periodMs === periodMs)) t.fire();
  }

  resolveTopicName(topic: string): string {
    if (topic.startsWith('~/')) return `${this.fullyQualifiedName}/${topic.slice(2)}`;
    return topic.startsWith('/') ? topic : `/${topic}`;
  }

  logged(level: LogLine['level'], pattern: RegExp): LogLine[] {
    return this.logs.filter((l) => l.level === level && pattern.test(l.message));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const t of this.timers) t.cancel();
    for (const list of [this.graph.publishers, this.graph.subscriptions] as Endpoint[][]) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i].node === this) list.splice(i, 1);
    }
  }
}

export class MemoryTimer implements RosTimer {
  canceled = false;

  constructor(
    readonly periodMs: number,
    private readonly callback: () => void,
    private readonly node: MemoryRosNode,
  ) {}

  fire(): void {
    try {
      this.callback();
    } catch (err) {
      this.node.logs.push({ level: 'error', message: `timer threw: ${(err as Error).message}` });
    }
  }

  cancel(): void {
    this.canceled = true;
  }
}

function typeOf(v: ParamValue): ParamState['type'] {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string') return 'string';
  if (v instanceof Uint8Array) return 'byte_array';
  const first = (v as unknown[])[0];
  if (typeof first === 'boolean') return 'bool_array';
  if (typeof first === 'bigint') return 'integer_array';
  if (typeof first === 'number') return 'double_array';
  return 'string_array';
}

/** What rclnodejs refuses at publish time, so a unit test catches it before the real middleware does. */
function checkPublishable(graph: MemoryRosGraph, type: string, message: unknown, path: string): void {
  if (typeof message !== 'object' || message === null) throw new TypeError(`${path} must be an object of ${type}`);
  const def = graph.lookup(type);
  const src = message as Record<string, unknown>;
  for (const key of Object.keys(src)) {
    if (!def.fields.some((f) => f.name === key)) throw new TypeError(`${path}.${key} is not a field of ${type}`);
  }
  for (const f of def.fields) {
    const v = src[f.name];
    if (v === undefined) continue;
    const check = (x: unknown, p: string): void => {
      if (!f.primitive) return checkPublishable(graph, f.type, x, p);
      if ((f.type === 'int64' || f.type === 'uint64') && typeof x !== 'bigint') throw new TypeError(`${p} must be type of bigint`);
    };
    if (f.array === 'none') check(v, `${path}.${f.name}`);
    else if (Array.isArray(v) || ArrayBuffer.isView(v)) Array.from(v as ArrayLike<unknown>).forEach((x, i) => check(x, `${path}.${f.name}[${i}]`));
    else throw new TypeError(`${path}.${f.name} must be an array`);
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

/**
 * A stand-in for the core client's link: every payload goes through JSON exactly as on the wire and is handed to
 * `sink`; sends resolve with `rttNs` unless `hold` is set (then `release()` resolves them).
 */
export class MemoryLink extends EventEmitter<ClientEvents> {
  readonly payloads: unknown[] = [];
  /** The options of each send, in order. */
  readonly sendOptions: Array<SendOptions | undefined> = [];
  rttNs = 2_000_000;
  hold = false;
  sink: ((payload: unknown, id: string) => void) | null = null;
  private readonly pending: Array<{ id: string; resolve: (r: SendResult) => void; reject: (e: Error) => void }> = [];
  private isConnected = false;
  private counters = { sent: 0, delivered: 0, dropped: 0, rejected: 0 };
  closed = false;

  send(payload: unknown, options?: SendOptions): Promise<SendResult> {
    const id = `m${this.counters.sent++}`;
    this.sendOptions.push(options);
    const wire = parseJson(stringifyJson(payload));
    this.payloads.push(wire);
    this.sink?.(wire, id);
    return new Promise<SendResult>((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      if (!this.hold) this.release();
    });
  }

  /** Acks every held send. */
  release(): void {
    for (const p of this.pending.splice(0)) {
      this.counters.delivered++;
      p.resolve({ id: p.id, rtt_ns: this.rttNs, resent: false });
    }
  }

  /**
   * Drops every held send with the client's errors: as the outbox policy would (`drop`), refused as outbox_policy
   * reject does (`reject`), or given up after maxAttempts connections closed on it (`max-attempts`).
   */
  dropHeld(policy: 'drop' | 'reject' | 'max-attempts' = 'drop'): void {
    for (const p of this.pending.splice(0)) {
      this.counters[policy === 'reject' ? 'rejected' : 'dropped']++;
      p.reject(
        policy === 'drop'
          ? new DroppedError('outbox_full', 'message dropped: outbox full (policy drop-oldest)')
          : policy === 'reject'
            ? new FastSocketError('FS_ERR_OUTBOX_FULL', 'outbox full (3 messages, 300 bytes)')
            : new DroppedError('max_attempts', 'message dropped: 10 connections closed while it was the oldest unacknowledged'),
      );
    }
  }

  /** Drops every held send as past its maxAgeMs, as the client does. */
  expireHeld(): void {
    for (const p of this.pending.splice(0)) {
      this.counters.dropped++;
      p.reject(new FastSocketError('FS_ERR_EXPIRED', 'message dropped: it waited 120 ms, past its maxAgeMs (100 ms)'));
    }
  }

  connect(): Promise<void> {
    this.isConnected = true;
    this.emit('connect', { url: 'tcp://memory:1' });
    return Promise.resolve();
  }

  /** The server answers the hello, as the client reports it (server_instance null: a server that sends none). */
  helloFrom(serverInstance: string | null): void {
    this.emit('hello', { url: 'tcp://memory:1', server_instance: serverInstance, max_frame_bytes: null });
  }

  /** The connection is lost, as the client reports it; `connect()` brings it back. */
  disconnect(): void {
    this.isConnected = false;
    this.emit('disconnect', { error: null, closeCode: null, closeReason: '' });
  }

  stats(): BridgeLinkStats {
    return { ...this.counters, resent: 0, reconnects: 0, outbox_messages: this.pending.length, outbox_bytes: 0, connected: this.isConnected };
  }

  close(): Promise<BridgeLinkStats> {
    this.closed = true;
    this.isConnected = false;
    return Promise.resolve(this.stats());
  }
}
