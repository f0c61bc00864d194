/**
 * RosPort over ROS 1, with @foxglove/ros1 speaking the master's XML-RPC and TCPROS. The bridge and server run on
 * it unchanged: above this file names and messages are ROS 2-shaped (type-map.ts), and the synchronous graph
 * and parameter queries the port promises are served from state fetched ahead (parameters when the port opens,
 * the graph refreshed whenever it is read and older than `graphMaxAgeMs`).
 * @foxglove/ros1 is an optional dependency: it is loaded lazily and described by the few structural types below.
 */
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { MAX_TIMER_MS, type Logger } from '../fastsocket';
import { RosError } from '../ros/errors';
import { LogThrottle } from '../ros/log-throttle';
import type { MessageDefinition } from '../ros/message-definition';
import type { EndpointInfo, ParamDeclaration, ParamState, RosNode, RosPort, RosPublisher, RosSubscription, RosTimer, SubscriptionMode } from '../ros/port';
import { qos, QosProfile } from '../ros/qos';
import { isRos1TypeName } from './msg-spec';
import { Ros1MessageCatalog, ros1MsgSearchPath, ros1PackagePathRoots } from './msg-catalog';
import { checkNamespace, checkNodeName, normalizeNamespace, parseRos1Args, Ros1Args, Ros1Names } from './names';
import { flattenParams, Ros1ParamTree, toParamState, withParam } from './params';
import { toRos1TypeName, toRos2TypeName, Ros1TypeMapper } from './type-map';

type XmlRpcResponse = [number, string, unknown];

interface FgSubscription {
  on(event: 'header', listener: (header: Map<string, string>) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface FgRosNode {
  start(port?: number): Promise<void>;
  shutdown(reason?: string): void;
  subscribe(options: { topic: string; dataType: string }): FgSubscription;
  advertise(options: { topic: string; dataType: string; latching?: boolean; messageDefinitionText?: string; md5sum?: string }): Promise<unknown>;
  publish(topic: string, message: unknown): Promise<void>;
  unsubscribe(topic: string): boolean;
  unadvertise(topic: string): boolean;
  on(event: 'error', listener: (error: Error) => void): unknown;
  rosFollower: { url(): string | undefined };
  rosMasterClient: {
    registerPublisher(callerId: string, topic: string, topicType: string, callerApi: string): Promise<XmlRpcResponse>;
    unregisterPublisher(callerId: string, topic: string, callerApi: string): Promise<XmlRpcResponse>;
    unregisterSubscriber(callerId: string, topic: string, callerApi: string): Promise<XmlRpcResponse>;
  };
}

interface FgLog {
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
}

/** The parts of @foxglove/ros1, @foxglove/ros1/nodejs and @foxglove/xmlrpc we use. */
export interface Foxglove {
  RosNode: new (options: {
    name: string; hostname: string; pid: number; rosMasterUri: string; httpServer: unknown;
    tcpSocketCreate: unknown; tcpServer?: unknown; log?: FgLog;
  }) => FgRosNode;
  TcpSocketNode: { Create: unknown };
  TcpServerNode: { Listen(options: { host?: string; port?: number }): Promise<unknown> };
  HttpServerNodejs: new () => unknown;
  XmlRpcClient: new (url: string) => { methodCall(method: string, params?: unknown[]): Promise<unknown> };
}

export const ROS1_UNAVAILABLE =
  'ROS 1 support needs the optional packages @foxglove/ros1, @foxglove/xmlrpc and @foxglove/rosmsg (npm ci installs them)';

/** @throws RosError FS_ROS_ERR_UNAVAILABLE when the optional packages are missing */
export function loadFoxglove(): Foxglove {
  try {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const ros1 = require('@foxglove/ros1') as Pick<Foxglove, 'RosNode'>;
    const nodejs = require('@foxglove/ros1/nodejs') as Pick<Foxglove, 'TcpSocketNode' | 'TcpServerNode'>;
    const xmlrpc = require('@foxglove/xmlrpc') as Pick<Foxglove, 'XmlRpcClient'>;
    const http = require('@foxglove/xmlrpc/nodejs') as Pick<Foxglove, 'HttpServerNodejs'>;
    /* eslint-enable @typescript-eslint/no-require-imports */
    return { ...ros1, ...nodejs, ...xmlrpc, ...http };
  } catch (err) {
    throw new RosError('FS_ROS_ERR_UNAVAILABLE', `${ROS1_UNAVAILABLE}: ${(err as Error).message}.`, { cause: err });
  }
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** rosgraph_msgs/Log levels. */
const ROSOUT_LEVEL: Readonly<Record<LogLevel, number>> = { debug: 1, info: 2, warn: 4, error: 8 };

/** What @foxglove/ros1 hands a publication for each subscriber (its TcpClient), as far as we wrap it. */
type SubscriberClient = { write(data: Uint8Array): Promise<void> };

/**
 * @foxglove/ros1's warnings about one TCPROS link, a subscription's or a subscriber's, logged at debug: its own
 * (`tcpros://... `, `tcp client tcpros://... error: ...`) and a write to a subscriber that left
 * (`failed to write 6220849 bytes to tcpros://...: Error: write EPIPE`, one per message that was on its way).
 */
const TCPROS_LINK_LINE = /^(tcp client )?tcpros:\/\/|^failed to write \d+ byte(s| header) to tcpros:\/\//;

export interface Ros1PortOptions {
  /** ROS 1 arguments (`__name:=`, `_param:=`, remaps); the entry point passes process.argv.slice(2). @default [] */
  args?: readonly string[];
  /** Environment to read ROS_MASTER_URI and the other ROS 1 variables from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where formatted log lines go (the entry point writes them to the console). @default nowhere */
  logSink?: (level: LogLevel, line: string) => void;
  /** Overrides the node's `~log_level` parameter. @default the parameter, else 'info' */
  logLevel?: LogLevel;
  /** How long to wait for the master before giving up; roscpp waits forever. @default Infinity */
  masterWaitMs?: number;
  /** Called once while waiting for the master, so the user knows why nothing happens. @default nothing */
  onWaitingForMaster?: (uri: string) => void;
  /** How old a cached view of the master's graph may be before it is asked again. @default 200 */
  graphMaxAgeMs?: number;
  /** Also send log lines to /rosout, as every ROS 1 node does. @default true */
  rosout?: boolean;
  /**
   * A new publisher holds its messages until the subscribers the master lists for its topic have connected, for at
   * most this long: TCPROS connects only after the master tells a subscriber of the publisher, so what is published
   * before that reaches nobody (the first message of every topic, a burst resent after a restart). 0: no wait.
   * @default 2000
   */
  subscriberWaitMs?: number;
  /**
   * Bytes published to one subscriber that its socket has not taken yet, past which further messages are dropped for
   * that subscriber alone (with a warning), as roscpp's per-connection queue drops: without a bound, a subscriber that
   * stops reading (a frozen node, rviz behind a slow link) kept every later message in memory. @default 32 MiB
   */
  subscriberBacklogBytes?: number;
  /**
   * Called when the master asks a node to shut down (another node registered under its name, `rosnode kill`);
   * the node has then stopped publishing, and a ROS 1 process is expected to exit. @default log only
   */
  onShutdownRequest?: (node: string, reason: string) => void;
  /** The @foxglove/ros1 modules; injectable for tests. @default the installed optional dependency */
  foxglove?: Foxglove;
}

/** Every ROS 1 publisher looks like this to the bridge: TCPROS is reliable and has no durability to match. */
export const ROS1_PUBLISHER_QOS: QosProfile = qos('reliable', 'volatile', 10);

/**
 * Connects to the ROS 1 master (waiting for it like roscpp) and reads the parameter tree, so nodes created from
 * the port can answer parameter queries synchronously.
 * @throws RosError FS_ROS_ERR_UNAVAILABLE when the packages are missing or the master does not answer in time
 */
export async function openRos1Port(options: Ros1PortOptions = {}): Promise<Ros1Port> {
  const fg = options.foxglove ?? loadFoxglove();
  const env = options.env ?? process.env;
  const args = parseRos1Args(options.args ?? []);
  const masterUri = args.masterUri ?? env.ROS_MASTER_URI ?? 'http://localhost:11311/';
  // Without this a URI no request can be made to (`localhost:11311`, no http://) was waited for, silently, for ever.
  if (!isMasterUri(masterUri)) {
    const source = args.masterUri !== null ? '__master' : 'ROS_MASTER_URI';
    throw new RosError('FS_ROS_ERR_UNAVAILABLE', `${source} ${JSON.stringify(masterUri)} is not a master URI: expected http://host:port, e.g. http://localhost:11311`);
  }
  const master = new fg.XmlRpcClient(masterUri);
  const waitMs = options.masterWaitMs ?? Infinity;
  const deadline = performance.now() + waitMs;
  let tree: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      const [code, message, value] = (await master.methodCall('getParam', ['/fastsocket', '/'])) as XmlRpcResponse;
      if (code !== 1) throw new Error(message);
      tree = value;
      break;
    } catch (err) {
      if (performance.now() >= deadline) {
        throw new RosError('FS_ROS_ERR_UNAVAILABLE', `the ROS 1 master at ${masterUri} did not answer (${(err as Error).message}); is roscore running and ROS_MASTER_URI right?`, { cause: err });
      }
      if (attempt === 0) options.onWaitingForMaster?.(masterUri);
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, deadline - performance.now()))));
    }
  }
  return new Ros1Port(fg, args, env, masterUri, (tree ?? {}) as Ros1ParamTree, options);
}

/** What rosgraph accepts as a master URI: a scheme and a host (the port defaults to 80). */
function isMasterUri(uri: string): boolean {
  try {
    const u = new URL(uri);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

export class Ros1Port implements RosPort {
  readonly catalog: Ros1MessageCatalog;
  private readonly nodes: Ros1Node[] = [];

  /** @internal use openRos1Port */
  constructor(
    readonly fg: Foxglove,
    readonly args: Ros1Args,
    readonly env: NodeJS.ProcessEnv,
    readonly masterUri: string,
    private readonly paramTree: Ros1ParamTree,
    readonly options: Ros1PortOptions,
  ) {
    this.catalog = new Ros1MessageCatalog(ros1MsgSearchPath(env), undefined, ros1PackagePathRoots(env));
  }

  /** @throws RosError FS_ROS_ERR_PARAM when `__name`, `__ns` or ROS_NAMESPACE is not a ROS 1 name */
  createNode(name: string): Ros1Node {
    const nodeName = this.args.name ?? name;
    checkNodeName(nodeName, this.args.name !== null ? '__name' : 'node name');
    const namespace = this.args.namespace ?? this.env.ROS_NAMESPACE ?? '';
    checkNamespace(namespace, this.args.namespace !== null ? '__ns' : 'ROS_NAMESPACE');
    const names = new Ros1Names(normalizeNamespace(namespace), nodeName, this.args.remaps);
    let params = subtree(this.paramTree, names.fullyQualifiedName);
    for (const [k, v] of Object.entries(this.args.params)) params = withParam(params, k, v);
    const node = new Ros1Node(this, names, params, subtree(this.paramTree, names.namespace));
    this.nodes.push(node);
    return node;
  }

  /** Destroys every node without waiting for the master to hear of it; prefer close(). */
  shutdown(): void {
    for (const n of this.nodes.splice(0)) n.destroy();
  }

  /** Unregisters every node's topics from the master, then shuts them down. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((n) => n.close()));
  }
}

function subtree(tree: Ros1ParamTree, path: string): Ros1ParamTree {
  let t: unknown = tree;
  for (const part of path.split('/').filter((p) => p !== '')) {
    t = typeof t === 'object' && t !== null && !Array.isArray(t) ? (t as Record<string, unknown>)[part] : undefined;
  }
  return typeof t === 'object' && t !== null && !Array.isArray(t) ? (t as Ros1ParamTree) : {};
}

interface TopicSubscription {
  readonly ros1Type: string;
  readonly handlers: Set<(message: unknown) => void>;
}

interface TopicPublication {
  readonly ready: Promise<unknown>;
  readonly latching: boolean;
  refs: number;
  seq: number;
}

export class Ros1Node implements RosNode {
  readonly logger: Logger;
  /** TCPROS connects a subscriber to every publisher: a topic marked transient_local still hears volatile ones. */
  readonly qosCanExclude = false;
  private fgNode: FgRosNode | null = null;
  private readonly mapper: Ros1TypeMapper;
  private readonly params: Map<string, unknown>;
  private readonly declared = new Map<string, ParamState>();
  /** Parameters of the node's namespace, where a params file loaded outside the <node> tag puts them. */
  private readonly namespaceParams: Map<string, unknown>;
  /** Declared parameters not set privately but set in the namespace; reported together (noteMisplaced). */
  private readonly misplaced: string[] = [];
  private readonly subscriptions = new Map<string, TopicSubscription>();
  private readonly publications = new Map<string, TopicPublication>();
  /**
   * Per topic, the unregistration of a destroyed publisher: one created again under that name registers only after
   * it, or the master, hearing both at once, may take them in the other order and forget the new publisher.
   */
  private readonly retiring = new Map<string, Promise<unknown>>();
  /** unregisterPublisher calls @foxglove/ros1's unadvertise made, which it does not return. */
  private readonly unregistering = new Map<string, Promise<unknown>>();
  /** How many other nodes subscribed to each topic when the master registered our publisher of it. */
  private readonly subscribersAtRegistration = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly throttle: LogThrottle;
  /** For a subscription's link to a publisher, retried every <= 10 s while a dead publisher stays registered. */
  private readonly linkThrottle: LogThrottle;
  private readonly ready: Promise<void>;
  private readyError: Error | null = null;
  private graph: { atMs: number; publishers: Map<string, string[]>; types: Map<string, string> } = { atMs: -Infinity, publishers: new Map(), types: new Map() };
  private graphInFlight = false;
  private rosout: { publish(message: unknown): void } | null = null;
  private state: 'running' | 'closing' | 'closed' = 'running';

  constructor(
    private readonly port: Ros1Port,
    private readonly names: Ros1Names,
    params: Ros1ParamTree,
    namespaceParams: Ros1ParamTree = {},
  ) {
    this.mapper = new Ros1TypeMapper(port.catalog);
    this.params = flattenParams(params);
    this.namespaceParams = flattenParams(namespaceParams);
    const wanted = this.params.get('log_level');
    const level = port.options.logLevel ?? (LEVELS.includes(wanted as LogLevel) ? (wanted as LogLevel) : 'info');
    this.logger = this.makeLogger(level);
    if (wanted !== undefined && wanted !== level) this.logger.warn(`parameter log_level: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(wanted)}; using ${level}`);
    this.throttle = new LogThrottle(this.logger);
    this.linkThrottle = new LogThrottle(this.logger, 60_000);
    const fgLog = {
      debug: (m: string) => this.logger.debug(m),
      // The library's info lines are registration chatter; its warnings are worth seeing, except those of a
      // subscription's TCPROS link (`tcpros://host:port ...`): three at every retry, every <= 10 s for as long as the
      // master lists a publisher that died (288 lines in 40 s for one killed node with six topics). The subscription's
      // error event says it once per topic instead. A publisher's link to a subscriber that went away (`tcp client
      // tcpros://... error: read ECONNRESET`, twice for every subscriber stopped; `failed to write ...` for each message
      // on its way to one that left, as every `rostopic echo -n 1` of a camera topic does) is its ordinary end.
      info: (m: string) => this.logger.debug(m),
      warn: (m: string) => (TCPROS_LINK_LINE.test(m) ? this.logger.debug(m) : this.logger.warn(m)),
      error: (m: string) => this.logger.error(m),
    };
    const host = this.port.args.hostname ?? port.env.ROS_HOSTNAME ?? port.env.ROS_IP ?? osHostname();
    const ready = (async () => {
      // Like roscpp: listen where ROS_IP/ROS_HOSTNAME say when that is an address, on every interface otherwise.
      const tcpServer = await port.fg.TcpServerNode.Listen({ host: isIP(host) ? host : undefined, port: 0 });
      return new port.fg.RosNode({
        name: names.fullyQualifiedName, hostname: host, pid: process.pid, rosMasterUri: port.masterUri,
        httpServer: new port.fg.HttpServerNodejs(), tcpSocketCreate: port.fg.TcpSocketNode.Create, tcpServer, log: fgLog,
      });
    })();
    // The RosNode exists only once its TCP server listens; until then every call on it waits for `ready`.
    this.ready = ready
      .then(async (fg) => {
        this.fgNode = fg;
        fg.on('error', (err) => this.logger.debug(`ros1: ${err.message}`));
        // The master's shutdown request reaches fg.shutdown directly, as close() does; only the first is ours.
        const shutdown = fg.shutdown.bind(fg);
        fg.shutdown = (reason?: string) => {
          if (this.state === 'running') {
            this.logger.warn(`the master asked this node to shut down: ${reason ?? 'no reason given'}`);
            this.state = 'closed';
            for (const t of this.timers) clearInterval(t);
            this.timers.clear();
            port.options.onShutdownRequest?.(this.fullyQualifiedName, reason ?? '');
          }
          shutdown(reason);
        };
        const mc = fg.rosMasterClient;
        // The master answers a registration with the topic's subscribers, which advertise() does not return. Asking
        // getSystemState instead cost a parse of the whole graph per new publication: 60-200 ms of blocked event loop
        // on a 570-topic graph, so a server taking 200 topics stopped acknowledging for 5 s and the bridge dropped.
        const register = mc.registerPublisher.bind(mc);
        mc.registerPublisher = async (callerId, topic, topicType, callerApi) => {
          const reply = await register(callerId, topic, topicType, callerApi);
          const [code, , subscribers] = reply;
          if (code === 1 && Array.isArray(subscribers)) this.subscribersAtRegistration.set(topic, subscribers.filter((api) => api !== callerApi).length);
          return reply;
        };
        const unregister = mc.unregisterPublisher.bind(mc);
        mc.unregisterPublisher = (callerId, topic, callerApi) => {
          const call = unregister(callerId, topic, callerApi);
          this.unregistering.set(topic, call);
          return call;
        };
        await fg.start();
        if (port.options.rosout ?? true) this.rosout = this.createPublisher('rosgraph_msgs/msg/Log', '/rosout', qos('reliable', 'volatile', 100));
      })
      .catch((err: Error) => {
        this.readyError = err;
        this.logger.error(`could not start the ROS 1 node ${names.fullyQualifiedName}: ${err.message}`);
      });
    for (const [k, v] of Object.entries(port.args.params)) {
      new port.fg.XmlRpcClient(port.masterUri).methodCall('setParam', [names.fullyQualifiedName, `${names.fullyQualifiedName}/${k}`, v]).catch(() => undefined);
    }
  }

  private get fg(): FgRosNode {
    if (this.fgNode === null) throw new Error(`the ROS 1 node ${this.fullyQualifiedName} did not start`);
    return this.fgNode;
  }

  get name(): string {
    return this.names.nodeName;
  }

  get fullyQualifiedName(): string {
    return this.names.fullyQualifiedName;
  }

  /** Resolves once the node listens and is known to the master. @throws the reason it could not start */
  async whenReady(): Promise<void> {
    await this.ready;
    if (this.readyError) throw this.readyError;
  }

  declareParameter(d: ParamDeclaration): ParamState {
    const known = this.declared.get(d.name);
    if (known) return known;
    let state: ParamState;
    if (this.params.has(d.name)) state = toParamState(d.name, this.params.get(d.name));
    else {
      const nested = [...this.params.keys()].find((k) => k.startsWith(`${d.name}.`));
      if (nested !== undefined) state = toParamState(d.name, {});
      else {
        state = { name: d.name, type: d.type, value: d.defaultValue };
        if (this.namespaceParams.has(d.name)) this.noteMisplaced(d.name);
      }
    }
    this.declared.set(d.name, state);
    return state;
  }

  /**
   * `rosparam load FILE` or a <rosparam>/<param> outside the <node> tag sets /url, not /fastsocket_bridge/url: the
   * node then ran on defaults with only "no topics configured" to say why. Reported once, after the config is read.
   */
  private noteMisplaced(name: string): void {
    if (this.misplaced.push(name) > 1) return;
    queueMicrotask(() => {
      const where = (n: string) => (this.names.namespace === '/' ? `/${n}` : `${this.names.namespace}/${n}`).replace(/\./g, '/');
      this.logger.warn(
        `${this.misplaced.map(where).join(', ')} ${this.misplaced.length === 1 ? 'is' : 'are'} set but this node reads its parameters from ` +
        `${this.fullyQualifiedName}/ (private), so ${this.misplaced.length === 1 ? 'it is' : 'they are'} ignored: load the params file inside the ` +
        `<node> tag, or with rosparam load FILE ${this.fullyQualifiedName}`,
      );
    });
  }

  parameterOverrides(): ParamState[] {
    return [...this.params].map(([name, value]) => toParamState(name, value));
  }

  createPublisher(type: string, topic: string, q: QosProfile): RosPublisher {
    const ros1Type = toRos1TypeName(type);
    // Checks now, synchronously, that the type can be published here (UnknownTypeError otherwise).
    const fullText = this.port.catalog.fullText(ros1Type);
    const md5sum = this.port.catalog.md5(ros1Type);
    this.mapper.definition(type);
    const name = this.resolveTopicName(topic);
    const latching = q.durability === 'transient_local';
    let pub = this.publications.get(name);
    let seq = 0;
    if (pub !== undefined && pub.latching !== latching) {
      // ROS 1 has one publication per topic and node: one asked for latched where the topic is not (the server making
      // a topic's publisher anew when a bridge forwards it transient_local) takes the topic over, Header.seq going
      // on, and the handles of the old one publish nothing more.
      seq = pub.seq;
      this.retire(name, pub);
      pub = undefined;
    }
    if (pub === undefined) {
      const retired = this.retiring.get(name);
      const ready = this.ready.then(async () => {
        await retired;
        const publication = await this.fg.advertise({ topic: name, dataType: ros1Type, latching, messageDefinitionText: fullText, md5sum });
        this.boundSubscriberBacklog(name, publication);
        if (latching) this.latchHistory(name, publication, q.depth);
        await this.awaitSubscribers(name, publication);
      });
      ready.catch((err: Error) => this.logger.error(`cannot advertise ${name} (${ros1Type}): ${err.message}`));
      pub = { ready, latching, refs: 0, seq };
      this.publications.set(name, pub);
    }
    pub.refs++;
    const p = pub;
    let destroyed = false;
    return {
      topic: name,
      publish: (message: unknown) => {
        if (Buffer.isBuffer(message) || message instanceof Uint8Array) throw new CdrOnRos1Error(name);
        if (this.publications.get(name) !== p) return;
        const ros1 = this.mapper.toRos1(ros1Type, message as Record<string, unknown>, p.seq++);
        void p.ready
          .then(() => (this.state === 'running' ? this.fg.publish(name, ros1) : undefined))
          .catch((err: Error) => this.throttle.warn(`publish:${name}`, `could not publish on ${name} (${ros1Type}): ${err.message}`));
      },
      destroy: () => {
        if (destroyed) return;
        destroyed = true;
        if (--p.refs === 0 && this.publications.get(name) === p) this.retire(name, p);
      },
    };
  }

  /** Unadvertises `p` once it is advertised; a publication made anew under `name` registers after that (retiring). */
  private retire(name: string, p: TopicPublication): void {
    this.publications.delete(name);
    const retiring = p.ready
      .then(() => {
        this.unregistering.delete(name);
        this.fg.unadvertise(name);
        return this.unregistering.get(name);
      })
      .catch(() => undefined)
      .finally(() => {
        this.unregistering.delete(name);
        if (this.retiring.get(name) === retiring) this.retiring.delete(name);
      });
    this.retiring.set(name, retiring);
  }

  createSubscription(type: string, topic: string, _qos: QosProfile, mode: SubscriptionMode, onMessage: (message: unknown) => void): RosSubscription {
    const name = this.resolveTopicName(topic);
    if (mode === 'raw') throw new CdrOnRos1Error(name);
    const ros1Type = toRos1TypeName(type);
    const guarded = (m: unknown): void => {
      try {
        onMessage(m);
      } catch (err) {
        this.logger.error(`message callback on ${name} failed: ${(err as Error).stack ?? String(err)}`);
      }
    };
    let sub = this.subscriptions.get(name);
    if (sub === undefined) {
      const s: TopicSubscription = { ros1Type, handlers: new Set() };
      sub = s;
      this.subscriptions.set(name, s);
      void this.ready.then(() => {
        if (this.subscriptions.get(name) !== s || this.state !== 'running') return;
        const fgSub = this.fg.subscribe({ topic: name, dataType: ros1Type });
        fgSub.on('header', (header) => this.learnDefinition(name, header));
        fgSub.on('message', (raw) => {
          if (this.subscriptions.get(name) !== s) return;
          let message: Record<string, unknown>;
          try {
            message = this.mapper.toRos2(s.ros1Type, raw);
          } catch (err) {
            this.throttle.warn(`map:${name}`, `dropped a message on ${name} (${s.ros1Type}) that does not fit its definition: ${(err as Error).message}`);
            return;
          }
          for (const h of s.handlers) h(message);
        });
        fgSub.on('error', (err) => this.linkThrottle.warn(`sub:${name}`, `subscription to ${name}: ${err.message} (retrying for as long as the master lists the publisher)`));
      });
    }
    const s = sub;
    s.handlers.add(guarded);
    return {
      topic: name,
      destroy: () => {
        s.handlers.delete(guarded);
        if (s.handlers.size === 0 && this.subscriptions.get(name) === s) {
          this.subscriptions.delete(name);
          void this.ready.then(() => this.fg.unsubscribe(name)).catch(() => undefined);
        }
      },
    };
  }

  messageDefinition(type: string): MessageDefinition {
    return this.mapper.definition(type);
  }

  topicNamesAndTypes(): Array<{ name: string; types: string[] }> {
    this.refreshGraphIfStale();
    return [...this.graph.types].map(([name, t]) => ({ name, types: [toRos2TypeName(t)] }));
  }

  publishersInfo(topic: string): EndpointInfo[] {
    this.refreshGraphIfStale();
    const name = this.resolveTopicName(topic);
    const type = this.graph.types.get(name);
    if (type === undefined) return [];
    return (this.graph.publishers.get(name) ?? []).map((node) => {
      const i = node.lastIndexOf('/');
      return { nodeName: node.slice(i + 1), nodeNamespace: i <= 0 ? '/' : node.slice(0, i), type: toRos2TypeName(type), qos: ROS1_PUBLISHER_QOS };
    });
  }

  /**
   * @foxglove/ros1 hands each message to every subscriber's socket without a limit, so what a subscriber does not read
   * piles up here (a stopped subscriber of a 5 Hz, 2 MB camera took the server to 1 GB in 30 s). Each subscriber of
   * `publication` gets messages only while less than `subscriberBacklogBytes` of what it was sent is still unwritten;
   * the others are not held back by it.
   */
  private boundSubscriberBacklog(topic: string, publication: unknown): void {
    const p = publication as { addSubscriber?: (id: number, caller: string, client: SubscriberClient) => void } | null;
    if (typeof p?.addSubscriber !== 'function') {
      this.logger.debug(`${topic}: cannot see this publisher's subscribers; their backlog is not bounded`);
      return;
    }
    const limit = this.port.options.subscriberBacklogBytes ?? 32 * 1024 * 1024;
    const add = p.addSubscriber.bind(p);
    p.addSubscriber = (id, caller, client) => {
      const write = client.write.bind(client);
      let pending = 0;
      client.write = async (data) => {
        // A message larger than the limit still goes to a subscriber that has taken everything before it.
        if (pending > 0 && pending + data.length > limit) {
          this.throttle.warn(`backlog:${topic}:${caller}`, `dropped a message on ${topic} for the subscriber ${caller}, which has not yet taken ${pending} bytes sent to it (at most ${limit} may wait)`);
          return;
        }
        pending += data.length;
        try {
          await write(data);
        } finally {
          pending -= data.length;
        }
      };
      add(id, caller, client);
    };
  }

  /**
   * A latched ROS 1 publication hands a new subscriber only its last message, where a transient-local ROS 2 publisher
   * of depth N hands the last N: /tf_static from several static broadcasters on a vehicle, republished by one server
   * publisher, reached a subscriber that came later as the last broadcaster's transforms alone. Keeps the last
   * `depth` messages and hands them all to each new subscriber, oldest first.
   */
  private latchHistory(topic: string, publication: unknown, depth: number): void {
    const p = publication as {
      write?: (transport: string, data: Uint8Array) => Promise<void>;
      latchedMessage?: (transport: string) => Uint8Array | undefined;
      addSubscriber?: (id: number, caller: string, client: SubscriberClient) => void;
    } | null;
    if (typeof p?.write !== 'function' || typeof p.latchedMessage !== 'function' || typeof p.addSubscriber !== 'function') {
      this.logger.debug(`${topic}: cannot see this publisher's latched message; a new subscriber gets the last one only`);
      return;
    }
    const history: Uint8Array[] = [];
    const write = p.write.bind(p);
    p.write = (transport, data) => {
      if (history.push(data) > Math.max(1, depth)) history.shift();
      return write(transport, data);
    };
    // The library writes its one latched message as the subscriber connects; these are written instead.
    p.latchedMessage = () => undefined;
    const add = p.addSubscriber.bind(p);
    p.addSubscriber = (id, caller, client) => {
      add(id, caller, client);
      for (const data of history) void client.write(new Uint8Array(data));
    };
  }

  /**
   * Waits, up to `subscriberWaitMs`, until as many subscribers have connected to a new publication as the master
   * listed for its topic when it registered it (other than this node). Never rejects: publishing goes on either way.
   */
  private async awaitSubscribers(topic: string, publication: unknown): Promise<void> {
    const waitMs = this.port.options.subscriberWaitMs ?? 2000;
    const links = (publication as { subscribers?: () => unknown } | null)?.subscribers;
    const connected = typeof links === 'function' ? links.call(publication) : undefined;
    const expected = this.subscribersAtRegistration.get(topic);
    this.subscribersAtRegistration.delete(topic);
    if (waitMs <= 0 || !(connected instanceof Map) || expected === undefined) {
      this.logger.debug(`${topic}: cannot see this publisher's subscribers; publishing without waiting for them`);
      return;
    }
    const deadline = performance.now() + waitMs;
    while (connected.size < expected && this.state === 'running' && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (connected.size < expected && this.state === 'running') {
      this.logger.debug(`${topic}: ${connected.size} of ${expected} subscribers connected within ${waitMs} ms; publishing anyway`);
    }
  }

  /** Asks the master now; the synchronous queries then see its answer. */
  async refreshGraph(): Promise<void> {
    const master = new this.port.fg.XmlRpcClient(this.port.masterUri);
    const caller = this.fullyQualifiedName;
    const [[c1, m1, state], [c2, m2, types]] = (await Promise.all([
      master.methodCall('getSystemState', [caller]),
      master.methodCall('getTopicTypes', [caller]),
    ])) as [XmlRpcResponse, XmlRpcResponse];
    if (c1 !== 1 || c2 !== 1) throw new Error(`the master refused a graph query: ${c1 !== 1 ? m1 : m2}`);
    const publishers = new Map<string, string[]>((state as [Array<[string, string[]]>])[0]);
    // Types the master heard from tools like `rostopic pub` are always pkg/Name; anything else cannot be mapped.
    const typeMap = new Map((types as Array<[string, string]>).filter(([, t]) => isRos1TypeName(t)));
    this.graph = { atMs: performance.now(), publishers, types: typeMap };
  }

  createTimer(periodMs: number, callback: () => void): RosTimer {
    // Past 2^31 - 1 ms Node runs an interval every 1 ms; rclnodejs's timers, in ns, have no such limit.
    const t = setInterval(() => {
      try {
        callback();
      } catch (err) {
        this.logger.error(`timer callback failed: ${(err as Error).stack ?? String(err)}`);
      }
    }, Math.min(MAX_TIMER_MS, Math.max(1, periodMs)));
    this.timers.add(t);
    return {
      cancel: () => {
        clearInterval(t);
        this.timers.delete(t);
      },
    };
  }

  resolveTopicName(topic: string): string {
    return this.names.resolve(topic);
  }

  /** Stops at once; the master learns of it only if the process lives a little longer. Prefer close(). */
  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    void this.ready.then(() => this.readyError === null && this.fg.shutdown());
  }

  /** Unregisters every topic from the master and waits for its answers, then shuts the node down. Idempotent. */
  async close(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'closing';
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    await this.ready;
    if (this.readyError === null) {
      // A registration still under way (the /rosout publisher of a node that fails at once on a bad parameter)
      // would otherwise reach the master after its unregistration and leave the node listed there for good.
      await Promise.allSettled([...this.publications.values()].map((p) => p.ready));
      const api = this.fg.rosFollower.url();
      const mc = this.fg.rosMasterClient;
      const calls = api === undefined ? [] : [
        ...[...this.publications.keys()].map((t) => mc.unregisterPublisher(this.fullyQualifiedName, t, api)),
        ...[...this.subscriptions.keys()].map((t) => mc.unregisterSubscriber(this.fullyQualifiedName, t, api)),
      ];
      await Promise.allSettled(calls);
      this.fg.shutdown();
    }
    this.state = 'closed';
  }

  private refreshGraphIfStale(): void {
    if (this.graphInFlight || this.state !== 'running' || performance.now() - this.graph.atMs < (this.port.options.graphMaxAgeMs ?? 200)) return;
    this.graphInFlight = true;
    this.refreshGraph()
      .catch((err: Error) => this.throttle.warn('graph', `could not read the ROS 1 graph from the master: ${err.message}`))
      .finally(() => {
        this.graphInFlight = false;
      });
  }

  private learnDefinition(topic: string, header: Map<string, string>): void {
    const type = header.get('type');
    const text = header.get('message_definition');
    if (type === undefined || text === undefined || !isRos1TypeName(type)) return;
    try {
      this.port.catalog.learn(type, text);
    } catch (err) {
      this.throttle.warn(`def:${topic}`, `the publisher of ${topic} sent a definition of ${type} we cannot read: ${(err as Error).message}`);
    }
  }

  private makeLogger(level: LogLevel): Logger {
    const min = LEVELS.indexOf(level);
    const sink = this.port.options.logSink;
    let inRosout = false;
    const log = (l: LogLevel) => (message: string) => {
      if (LEVELS.indexOf(l) < min) return;
      const now = Date.now();
      sink?.(l, `[${l.toUpperCase().padStart(5)}] [${(now / 1000).toFixed(3)}] [${this.fullyQualifiedName}]: ${message}`);
      // A failure while publishing to /rosout logs too: do not let it feed itself.
      if (this.rosout === null || inRosout) return;
      inRosout = true;
      try {
        this.rosout.publish({
          header: { stamp: { sec: Math.floor(now / 1000), nanosec: (now % 1000) * 1e6 }, frame_id: '' },
          level: ROSOUT_LEVEL[l], name: this.fullyQualifiedName, msg: message, file: '', function: '', line: 0,
          topics: [...this.publications.keys()],
        });
      } finally {
        inRosout = false;
      }
    };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  }
}

/** CDR is the ROS 2 wire format; ROS 1 serializes differently, so CDR bytes are meaningless here. */
export class CdrOnRos1Error extends RosError {
  constructor(readonly topic: string) {
    super('FS_ROS_ERR_ENCODING', `${topic}: encoding cdr carries ROS 2 bytes, which ROS 1 cannot use; set encoding json on the bridge`);
  }
}
