/**
 * RosPort over rclnodejs 2.2.0. rclnodejs is an optional dependency without shipped message typings, so it is
 * loaded lazily with `require` and described by the few structural types below; nothing here is imported at
 * compile time. See ../shared/design/RCLNODEJS.md for the traps this file works around.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Logger } from '../fastsocket';
import { hasWstring } from './cdr-json';
import { RosError, UnknownTypeError } from './errors';
import type { FieldDefinition, MessageDefinition } from './message-definition';
import { ignoredParamsFileKeys, shadowedCommandLineParams } from './params-file-keys';
import type {
  EndpointInfo, ParamDeclaration, ParamState, ParamType, ParamValue, RosNode, RosPort, RosPublisher, RosSubscription, RosTimer, SubscriptionMode,
} from './port';
import type { Durability, History, QosProfile, Reliability } from './qos';

interface RclParameter {
  name: string;
  type: number;
  value: unknown;
}

interface RclLogger {
  debug(m: string): boolean;
  info(m: string): boolean;
  warn(m: string): boolean;
  error(m: string): boolean;
}

interface RclNode {
  name(): string;
  getFullyQualifiedName(): string;
  spin(timeout?: number): void;
  destroy(): void;
  getLogger(): RclLogger;
  declareParameter(p: RclParameter, d?: unknown, ignoreOverride?: boolean): RclParameter;
  hasParameter(name: string): boolean;
  getParameter(name: string): RclParameter;
  getParameterOverrides(): RclParameter[];
  createPublisher(type: string, topic: string, options?: object): { topic: string; publish(m: unknown): void; readonly subscriptionCount: number };
  destroyPublisher(p: unknown): void;
  createSubscription(type: string, topic: string, options: object, cb: (m: unknown) => void): { topic: string };
  destroySubscription(s: unknown): void;
  getTopicNamesAndTypes(noDemangle?: boolean): Array<{ name: string; types: string[] }>;
  getPublishersInfoByTopic(topic: string, noDemangle: boolean): Array<{ node_name: string; node_namespace: string; topic_type: string; qos_profile: RclQosInfo }>;
  createTimer(periodNs: bigint, cb: () => void, optionsOrClock?: unknown): { cancel(): void };
  resolveTopicName(topic: string, onlyExpand?: boolean): string;
  getRMWImplementationIdentifier(): string;
}

interface RclQosInfo {
  depth: number;
  history: number;
  reliability: number;
  durability: number;
}

interface RclFieldType {
  isArray: boolean;
  arraySize: number | null;
  isUpperBound: boolean;
  isFixedSizeArray: boolean | null;
  pkgName: string | null;
  type: string;
  stringUpperBound: number | null;
  isPrimitiveType: boolean;
}

/** The part of the rclnodejs module we use. */
interface Rclnodejs {
  init(context?: unknown, argv?: string[]): Promise<void>;
  shutdown(): void;
  isShutdown(): boolean;
  removeSignalHandlers(): void;
  require(name: string): { ROSMessageDef?: { fields: Array<{ name: string; type: RclFieldType }> } };
  Context: { defaultContext(): unknown };
  Node: new (name: string, namespace?: string) => RclNode;
  Parameter: new (name: string, type: number, value?: unknown) => RclParameter;
  ParameterDescriptor: new (name: string, type: number, description?: string, readOnly?: boolean) => unknown;
  QoS: new (history: number, depth: number, reliability: number, durability: number) => unknown;
  Clock: new (clockType: number) => unknown;
  ClockType: { STEADY_TIME: number };
}

const PARAM_TYPES: readonly (ParamType | 'not_set')[] = [
  'not_set', 'bool', 'integer', 'double', 'string', 'byte_array', 'bool_array', 'integer_array', 'double_array', 'string_array',
];
const RELIABILITY: Readonly<Record<Reliability, number>> = { system_default: 0, reliable: 1, best_effort: 2 };
const DURABILITY: Readonly<Record<Durability, number>> = { system_default: 0, transient_local: 1, volatile: 2 };
const HISTORY: Readonly<Record<History, number>> = { system_default: 0, keep_last: 1, keep_all: 2 };

export const ROS_NOT_SOURCED =
  'ROS 2 must be sourced before starting this node (e.g. `source /opt/ros/jazzy/setup.bash`), and rclnodejs installed with ROS sourced (`npm ci`)';

/**
 * Says why ROS 2 cannot be used from this process, or null when it can. Loading rclnodejs without ROS sourced is
 * not harmless: its fallback rebuild deletes the compiled addon, so we look before we load.
 */
export function rosUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (!env.ROS_DISTRO) return 'ROS_DISTRO is not set';
  const dirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (!dirs.some((d) => existsSync(join(d, 'librcl.so')))) return 'librcl.so is not on LD_LIBRARY_PATH';
  try {
    require.resolve('rclnodejs');
  } catch {
    return 'rclnodejs is not installed (run npm ci with ROS 2 sourced)';
  }
  return null;
}

/**
 * Loads rclnodejs, or throws one clear sentence saying ROS 2 must be sourced.
 * @throws RosError FS_ROS_ERR_UNAVAILABLE
 */
export function loadRclnodejs(env: NodeJS.ProcessEnv = process.env): Rclnodejs {
  const reason = rosUnavailableReason(env);
  if (reason !== null) throw new RosError('FS_ROS_ERR_UNAVAILABLE', `${ROS_NOT_SOURCED}: ${reason}.`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('rclnodejs') as Rclnodejs;
  } catch (err) {
    throw new RosError('FS_ROS_ERR_UNAVAILABLE', `${ROS_NOT_SOURCED}: rclnodejs did not load (${(err as Error).message}).`, { cause: err });
  }
}

/**
 * Initialises ROS with `argv`, the entry point's process.argv (so `--ros-args` remaps, params files and log levels
 * apply), and returns the port.
 * rclnodejs' own SIGINT handler is removed: the entry point handles SIGINT and SIGTERM itself.
 * @throws RosError FS_ROS_ERR_UNAVAILABLE; FS_ROS_ERR_PARAM when rcl rejects the arguments (a params file that is not YAML)
 */
export async function openRclnodejsPort(argv: string[]): Promise<RosPort> {
  const rcl = loadRclnodejs();
  rcl.removeSignalHandlers();
  try {
    await rcl.init(rcl.Context.defaultContext(), argv);
  } catch (err) {
    throw new RosError('FS_ROS_ERR_PARAM', `ROS 2 could not be initialised: ${withoutSourceLocations(err)}`, { cause: err });
  }
  return new RclnodejsPort(rcl, argv);
}

/** rcl appends the C source location of each step (", at /.../parse.c:782"), which says nothing to a user. */
function withoutSourceLocations(err: unknown): string {
  return (err as Error).message.replace(/, at \/\S+:\d+/g, '');
}

/** Highest ROS_DOMAIN_ID whose DDS ports (7400 + 250 per domain, RTPS port mapping) stay below 65536. */
const MAX_DOMAIN_ID = 232;

/**
 * Why rcl could not create a node, in one line: rcl says only "error not set" when the middleware refused (a
 * ROS_DOMAIN_ID of 300 gave UDP ports past 65535), and the middleware's own lines above ours give the detail.
 */
function nodeCreationError(name: string, err: unknown, env: NodeJS.ProcessEnv = process.env): RosError {
  const domain = env.ROS_DOMAIN_ID ?? '';
  const hint = /^\d+$/.test(domain) && Number(domain) > MAX_DOMAIN_ID
    ? `ROS_DOMAIN_ID ${domain} is above ${MAX_DOMAIN_ID}, the highest whose DDS ports exist; choose one from 0 to ${MAX_DOMAIN_ID}`
    : 'the lines the middleware printed above say why';
  return new RosError('FS_ROS_ERR_UNAVAILABLE', `ROS 2 could not create the node ${name}: ${withoutSourceLocations(err)}; ${hint}`, { cause: err });
}

class RclnodejsPort implements RosPort {
  private readonly nodes: RclnodejsNode[] = [];

  constructor(
    private readonly rcl: Rclnodejs,
    private readonly argv: readonly string[],
  ) {}

  /**
   * @throws RosError FS_ROS_ERR_PARAM when the params files hold a value rclnodejs cannot read; FS_ROS_ERR_UNAVAILABLE when
   * the middleware refuses the node (a ROS_DOMAIN_ID past 232)
   */
  createNode(name: string): RosNode {
    let rclNode: RclNode;
    try {
      rclNode = new this.rcl.Node(name);
    } catch (err) {
      if ((err as { code?: string }).code !== 'PARAMETER_TYPE_MISMATCH') throw nodeCreationError(name, err);
      throw new RosError(
        'FS_ROS_ERR_PARAM',
        `the node's parameters cannot be read (${(err as Error).message}): rclnodejs rejects an integer list anywhere in a params ` +
          'file, even under another node\'s key; write such lists as doubles or strings',
        { cause: err },
      );
    }
    const node = new RclnodejsNode(this.rcl, rclNode);
    this.nodes.push(node);
    const warnings = [...ignoredParamsFileKeys(this.argv, rclNode.name(), rclNode.getFullyQualifiedName()), ...shadowedCommandLineParams(this.argv, rclNode.name())];
    for (const warning of warnings) node.logger.warn(warning);
    return node;
  }

  shutdown(): void {
    for (const n of this.nodes.splice(0)) n.destroy();
    if (!this.rcl.isShutdown()) this.rcl.shutdown();
  }
}

/**
 * Bytes per UTF-16 code unit of a serialized wstring, by middleware, where checked against the bytes it writes
 * (test/ros/wstring.test.ts). rclnodejs 2.2.0 itself reads a wstring as an opaque struct and publishes it empty, so a
 * type with a wstring is forwarded as JSON only where its width is listed here.
 */
const WSTRING_UNIT_BYTES: Readonly<Record<string, 2 | 4>> = { rmw_cyclonedds_cpp: 4 };

class RclnodejsNode implements RosNode {
  readonly logger: Logger;
  readonly rawIsCdr = true;
  readonly cdrWstringUnitBytes: 2 | 4 | undefined;
  /**
   * The timers' clock. rclnodejs times them on the node's ROS clock, which with use_sim_time follows /clock: before
   * a bag plays, or while it is paused, discovery, /diagnostics and ~/latency_stats stopped; at --rate 2 the windows
   * were half their stats_window_s. They are the node's own housekeeping, as rclcpp's wall timers are.
   */
  private readonly steadyClock: unknown;
  private readonly definitions = new Map<string, MessageDefinition>();
  private readonly typeHashes = new Map<string, string | null>();
  private destroyed = false;

  constructor(
    private readonly rcl: Rclnodejs,
    private readonly node: RclNode,
  ) {
    const l = node.getLogger();
    this.logger = {
      debug: (m) => void l.debug(m),
      info: (m) => void l.info(m),
      warn: (m) => void l.warn(m),
      error: (m) => void l.error(m),
    };
    this.cdrWstringUnitBytes = WSTRING_UNIT_BYTES[node.getRMWImplementationIdentifier()];
    this.steadyClock = new rcl.Clock(rcl.ClockType.STEADY_TIME);
    node.spin();
  }

  get name(): string {
    return this.node.name();
  }

  get fullyQualifiedName(): string {
    return this.node.getFullyQualifiedName();
  }

  declareParameter(d: ParamDeclaration): ParamState {
    if (this.node.hasParameter(d.name)) return toState(this.node.getParameter(d.name));
    const override = this.node.getParameterOverrides().find((p) => p.name === d.name);
    // Declared with the override's own type: rclnodejs would otherwise fail with a misleading message, and the
    // caller reports a wrong type by parameter name. An empty YAML list arrives untyped and means "the default".
    const useOverride = override !== undefined && override.type !== 0;
    const type = useOverride ? override.type : PARAM_TYPES.indexOf(d.type);
    const value = useOverride ? override.value : d.defaultValue;
    const descriptor = new this.rcl.ParameterDescriptor(d.name, type, d.description, d.readOnly ?? false);
    return toState(this.node.declareParameter(new this.rcl.Parameter(d.name, type, value), descriptor, true));
  }

  parameterOverrides(): ParamState[] {
    return this.node.getParameterOverrides().map(toState);
  }

  createPublisher(type: string, topic: string, qos: QosProfile): RosPublisher {
    this.messageDefinition(type);
    const pub = this.node.createPublisher(type, topic, { qos: this.toRclQos(qos) });
    const wstringProblem = this.wstringProblem(type, topic);
    return {
      topic: pub.topic,
      publish: (m) => {
        // rclnodejs would publish every wstring empty, without an error.
        if (wstringProblem !== null && !Buffer.isBuffer(m)) throw new RosError('FS_ROS_ERR_ENCODING', wstringProblem);
        pub.publish(m);
      },
      // A getter at runtime (the d.ts says method); one native call, about a microsecond.
      hasSubscribers: () => !this.destroyed && pub.subscriptionCount > 0,
      destroy: () => {
        if (!this.destroyed) this.node.destroyPublisher(pub);
      },
    };
  }

  createSubscription(type: string, topic: string, qos: QosProfile, mode: SubscriptionMode, onMessage: (m: unknown) => void): RosSubscription {
    this.messageDefinition(type);
    const wstringProblem = mode === 'object' ? this.wstringProblem(type, topic) : null;
    if (wstringProblem !== null) throw new RosError('FS_ROS_ERR_ENCODING', wstringProblem);
    // A callback that throws aborts the whole process inside rclnodejs (uncaughtException does not see it).
    const guarded = (m: unknown): void => {
      try {
        onMessage(m);
      } catch (err) {
        this.logger.error(`message callback on ${topic} failed: ${(err as Error).stack ?? String(err)}`);
      }
    };
    const sub = this.node.createSubscription(type, topic, { qos: this.toRclQos(qos), isRaw: mode === 'raw', enableTypedArray: true }, guarded);
    return {
      topic: sub.topic,
      destroy: () => {
        if (!this.destroyed) this.node.destroySubscription(sub);
      },
    };
  }

  messageDefinition(type: string): MessageDefinition {
    const cached = this.definitions.get(type);
    if (cached) return cached;
    // Asked for a type it has not generated, rclnodejs searches every workspace prefix, running `which ros2` for each
    // and printing to the console where the package is missing: for a server fed an unknown type, per message.
    if (isInstalledMessage(type) === false) throw new UnknownTypeError(type);
    let cls: ReturnType<Rclnodejs['require']>;
    try {
      cls = this.requireGenerated(type);
    } catch (err) {
      throw new UnknownTypeError(type, { cause: err });
    }
    if (!cls?.ROSMessageDef) throw new UnknownTypeError(type);
    const def: MessageDefinition = { type, fields: cls.ROSMessageDef.fields.map((f) => toField(f.name, f.type, type)) };
    const stale = staleDefinitionProblem(def);
    if (stale !== null) throw new RosError('FS_ROS_ERR_UNKNOWN_TYPE', stale);
    this.definitions.set(type, def);
    return def;
  }

  /**
   * rclnodejs generates a workspace package's JavaScript when first asked for a type whose file it finds there
   * (`Name.msg`); for a service's or an action's parts (`Drive_FeedbackMessage`, defined in Drive.action) it finds
   * none and fails, so it is asked for the service or action first.
   */
  private requireGenerated(type: string): ReturnType<Rclnodejs['require']> {
    try {
      return this.rcl.require(type);
    } catch (err) {
      const [pkg, folder, name] = type.split('/');
      if (folder !== 'srv' && folder !== 'action') throw err;
      this.rcl.require(`${pkg}/${folder}/${interfaceOfPart(name)}`);
      return this.rcl.require(type);
    }
  }

  typeHash(type: string): string | null {
    let hash = this.typeHashes.get(type);
    if (hash === undefined) {
      hash = installedTypeHash(type);
      // Bounded by the types this node has been asked about that exist, plus one failed look-up each for the others.
      if (this.typeHashes.size < 10_000) this.typeHashes.set(type, hash);
    }
    return hash;
  }

  topicNamesAndTypes(): Array<{ name: string; types: string[] }> {
    return this.node.getTopicNamesAndTypes();
  }

  publishersInfo(topic: string): EndpointInfo[] {
    return this.node.getPublishersInfoByTopic(this.resolveTopicName(topic), false).map((p) => ({
      nodeName: p.node_name,
      nodeNamespace: p.node_namespace,
      type: p.topic_type,
      qos: fromRclQos(p.qos_profile),
    }));
  }

  createTimer(periodMs: number, callback: () => void): RosTimer {
    const timer = this.node.createTimer(BigInt(Math.max(1, Math.round(periodMs * 1e6))), () => {
      try {
        callback();
      } catch (err) {
        this.logger.error(`timer callback failed: ${(err as Error).stack ?? String(err)}`);
      }
    }, this.steadyClock);
    return { cancel: () => timer.cancel() };
  }

  resolveTopicName(topic: string): string {
    return this.node.resolveTopicName(topic);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.node.destroy();
  }

  /**
   * Why messages of `type` cannot go through rclnodejs message objects, or null: rclnodejs 2.2.0 delivers a wstring as
   * an opaque struct and publishes it empty, so a type with one works only as CDR bytes.
   */
  private wstringProblem(type: string, topic: string): string | null {
    if (!hasWstring((t) => this.messageDefinition(t), type)) return null;
    return `${type} has a wstring field, which rclnodejs cannot read or write and fastsocket cannot convert with ` +
      `${this.node.getRMWImplementationIdentifier()}; forward ${topic} with encoding "cdr" between ROS 2 nodes of the same middleware`;
  }

  private toRclQos(q: QosProfile): unknown {
    return new this.rcl.QoS(HISTORY[q.history], q.depth, RELIABILITY[q.reliability], DURABILITY[q.durability]);
  }
}

/**
 * Whether a package on AMENT_PREFIX_PATH defines `type` as rosidl installs it: `pkg/msg/Name` as its .msg or .idl, a
 * service's or an action's part (`pkg/srv/Name_Event`, `pkg/action/Name_FeedbackMessage`) as the service's or
 * action's .srv, .action or .idl; null for other names, which rclnodejs is left to answer.
 */
function isInstalledMessage(type: string, env: NodeJS.ProcessEnv = process.env): boolean | null {
  const m = INTERFACE_TYPE.exec(type);
  if (!m) return null;
  const [, pkg, folder, name] = m;
  return installedMessageFile(pkg, folder === 'msg' ? name : interfaceOfPart(name), [folder, 'idl'], env, folder) !== undefined;
}

/**
 * The service or action a part that rosidl makes of it belongs to: `SetBool` for `SetBool_Event`, `Drive` for
 * `Drive_FeedbackMessage`. Interface names cannot hold `_`, so it is the name up to the first one.
 */
function interfaceOfPart(partName: string): string {
  return partName.split('_')[0];
}

/** `pkg/msg/Name`, with the package and the name as groups 1 and 2. */
const MESSAGE_TYPE = /^([A-Za-z][A-Za-z0-9_]*)\/msg\/([A-Za-z][A-Za-z0-9_]*)$/;

/** `pkg/msg/Name`, or a part of a service or action (`pkg/srv/Name_Event`), with package, folder and name as groups. */
const INTERFACE_TYPE = /^([A-Za-z][A-Za-z0-9_]*)\/(msg|srv|action)\/([A-Za-z][A-Za-z0-9_]*)$/;

/** The first `share/<pkg>/<folder>/<name>.<ext>` that a prefix on AMENT_PREFIX_PATH holds, or undefined. */
function installedMessageFile(pkg: string, name: string, exts: readonly string[], env: NodeJS.ProcessEnv, folder = 'msg'): string | undefined {
  for (const prefix of (env.AMENT_PREFIX_PATH ?? '').split(':').filter(Boolean)) {
    for (const ext of exts) {
      const file = join(prefix, 'share', pkg, folder, `${name}.${ext}`);
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}

interface InstalledField {
  name: string;
  type: { capacity: number; nested_type_name: string };
}

/** What rosidl installs beside a type's .msg (Jazzy on): its description and its type hashes. */
interface InstalledDescription {
  type_description_msg?: { type_description?: { fields?: InstalledField[] } };
  type_hashes?: Array<{ type_name?: unknown; hash_string?: unknown }>;
}

/** The first share/<pkg>/msg/<name>.json on AMENT_PREFIX_PATH, parsed, with its path; null when none can be read. */
function installedDescription(pkg: string, name: string, env: NodeJS.ProcessEnv): { file: string; doc: InstalledDescription } | null {
  const file = installedMessageFile(pkg, name, ['json'], env);
  if (file === undefined) return null;
  try {
    return { file, doc: JSON.parse(readFileSync(file, 'utf8')) as InstalledDescription };
  } catch {
    return null;
  }
}

/**
 * Why rclnodejs' JavaScript for `def.type` no longer describes the type as installed, or null. rclnodejs generates a
 * type's JavaScript on first use and never again, so after a message of a workspace changes it keeps the old fields,
 * and converting the new bytes with them gives wrong values without an error. ROS 2 (Jazzy on) installs each type's
 * description next to its .msg; without one (older distributions) nothing is checked.
 */
function staleDefinitionProblem(def: MessageDefinition, env: NodeJS.ProcessEnv = process.env): string | null {
  const [pkg, , name] = def.type.split('/');
  const description = installedDescription(pkg, name, env);
  const installed = description?.doc.type_description_msg?.type_description?.fields;
  if (!description || !Array.isArray(installed)) return null;
  const { file } = description;
  // Names, array sizes and nested types: what decides the layout apart from the primitive types themselves.
  const shape = (fieldName: string, size: number, nested: string): string => `${fieldName}${size > 0 ? `[${size}]` : ''}${nested ? ` ${nested}` : ''}`;
  const want = installed.filter((f) => f.name !== 'structure_needs_at_least_one_member').map((f) => shape(f.name, f.type.capacity, f.type.nested_type_name));
  const have = def.fields.map((f) => shape(f.name, f.size ?? 0, f.primitive ? '' : f.type));
  if (want.join(', ') === have.join(', ')) return null;
  return `rclnodejs' generated JavaScript for ${def.type} (${have.join(', ') || 'no fields'}) does not match its definition in ${file} ` +
    `(${want.join(', ') || 'no fields'}): rclnodejs generates a type once; delete ${generatedFolder(pkg)} and start again`;
}

/**
 * The `RIHS01_...` hash rosidl installed for `type` (`pkg/msg/Name`) in share/<pkg>/msg/<Name>.json, or null when
 * there is none (another distribution, a service or action message, a file that cannot be read).
 */
export function installedTypeHash(type: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const m = MESSAGE_TYPE.exec(type);
  if (!m) return null;
  const hashes = installedDescription(m[1], m[2], env)?.doc.type_hashes;
  const own = Array.isArray(hashes) ? hashes.find((h) => h?.type_name === type)?.hash_string : undefined;
  return typeof own === 'string' && own.length > 0 ? own : null;
}

/** Where rclnodejs keeps the JavaScript it generated for `pkg`. */
function generatedFolder(pkg: string): string {
  try {
    const main = require.resolve('rclnodejs');
    const root = main.slice(0, main.lastIndexOf(`${sep}rclnodejs${sep}`) + `${sep}rclnodejs`.length);
    return join(root, 'generated', pkg);
  } catch {
    return join('node_modules', 'rclnodejs', 'generated', pkg);
  }
}

function toState(p: RclParameter): ParamState {
  return { name: p.name, type: PARAM_TYPES[p.type] ?? 'not_set', value: p.value as ParamValue | undefined };
}

/**
 * `parent` is the type holding the field. rclnodejs names a nested type by package and name only; a service's or an
 * action's own parts (`SetBool_Request` in std_srvs/srv/SetBool_Event) are in the parent's folder, not in msg/.
 */
function toField(name: string, t: RclFieldType, parent: string): FieldDefinition {
  const array: FieldDefinition['array'] = !t.isArray ? 'none' : t.isFixedSizeArray ? 'fixed' : t.isUpperBound ? 'bounded' : 'dynamic';
  const [pkg, folder, parentName] = parent.split('/');
  const ownPart = folder !== 'msg' && t.pkgName === pkg && t.type.startsWith(`${interfaceOfPart(parentName)}_`);
  return {
    name,
    type: t.isPrimitiveType ? t.type : `${t.pkgName}/${ownPart ? folder : 'msg'}/${t.type}`,
    primitive: t.isPrimitiveType,
    array,
    ...(t.isArray && t.arraySize !== null ? { size: t.arraySize } : {}),
    ...(t.stringUpperBound !== null ? { stringBound: t.stringUpperBound } : {}),
  };
}

function fromRclQos(q: RclQosInfo): QosProfile {
  const key = <T extends string>(table: Readonly<Record<T, number>>, n: number, fallback: T): T =>
    (Object.keys(table) as T[]).find((k) => table[k] === n) ?? fallback;
  return {
    reliability: key(RELIABILITY, q.reliability, 'system_default'),
    durability: key(DURABILITY, q.durability, 'system_default'),
    history: key(HISTORY, q.history, 'system_default'),
    depth: q.depth,
  };
}
