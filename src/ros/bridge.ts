/**
 * The vehicle side: subscribes to the configured topics, wraps each message in the ROS envelope of PROTOCOL.md §4
 * and sends it with the core client (which queues while offline and resends after a reconnect).
 *
 * A topic with `max_age_ms` is not handed to the client while the link is down: the bridge holds those messages
 * itself (in memory, oldest first; they take no sequence number until handed over) and, when the link comes back,
 * drops the ones older than max_age_ms (counted as stale, apart from drops by the outbox) and hands over the rest.
 * Each goes to the client with what is left of its max_age_ms, and the client drops it rather than write it later
 * (a link slower than the topics, a resend after a reconnect): also counted as stale. A message already written on
 * the live connection arrives whatever its age: the server's ~/age shows it.
 */
import type { ClientEvents, ClientStats, SendOptions, SendResult } from '../fastsocket';
import { isOutboxFull, monotonicNs, stringifyJson, wallNs } from '../fastsocket';
import type { BridgeConfig, BridgeTopicConfig } from './bridge-config';
import type { RosEnvelope } from './envelope';
import { cdrJsonSupports, cdrToJson } from './cdr-json';
import { LogThrottle } from './log-throttle';
import type { DefinitionLookup } from './message-definition';
import { base64Value, rosToJson } from './msg-json';
import { isHeard, type EndpointInfo, type RosNode, type RosPublisher, type RosSubscription, type RosTimer } from './port';
import { chooseSubscriptionQos, needsDiscovery, QosProfile, qosText, toEnvelopeQos } from './qos';
import { DIAGNOSTIC_ARRAY, diagnosticArray, DiagnosticLevel, diagnosticStatus, DiagnosticStatusMsg, FLOAT64, linkStatusName, METRICS_MESSAGE } from './ros-messages';

/** `/ns/name` of a graph endpoint's node. */
function fullNodeName(e: EndpointInfo): string {
  return e.nodeNamespace.endsWith('/') ? e.nodeNamespace + e.nodeName : `${e.nodeNamespace}/${e.nodeName}`;
}

const LATENCY_STATS = '/latency_stats';

/** The nodes that publish `<node>/latency_stats` as a MetricsMessage, as every fastsocket server node does. */
function fastsocketServerNodes(node: RosNode): Set<string> {
  const servers = new Set<string>();
  for (const t of node.topicNamesAndTypes()) {
    if (t.name.endsWith(LATENCY_STATS) && t.types.includes(METRICS_MESSAGE)) servers.add(t.name.slice(0, -LATENCY_STATS.length));
  }
  return servers;
}

/** What to do when the outbox fills while connected; appended to the drop warning and the link status. */
const OVERLOAD_HINT =
  ' (the link, or the server at its end, takes less than the topics offer: lower max_rate_hz of the large topics, or forward them with a bridge of their own)';

/** The client counters the bridge reports. */
export type BridgeLinkStats = Pick<ClientStats, 'connected' | 'outbox_messages' | 'outbox_bytes' | 'sent' | 'delivered' | 'dropped' | 'rejected' | 'resent' | 'reconnects'>;

/** What the bridge needs from FastSocketClient; a test can stand in for the link. */
export interface BridgeLink {
  send(payload: unknown, options?: SendOptions): Promise<SendResult>;
  connect(): Promise<void>;
  stats(): BridgeLinkStats;
  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): unknown;
  close(options?: { timeoutMs?: number }): Promise<unknown>;
}

export interface BridgeOptions {
  /** Wall clock, ns since the epoch, for the envelope's stamp_ns. @default wallNs */
  wallNs?: () => number;
  /** Monotonic ns, for max_rate_hz. @default monotonicNs */
  monotonicNs?: () => number;
  /** How often to look at the graph for types and publisher QoS. @default 500 */
  discoveryPeriodMs?: number;
}

export interface TopicCounters {
  received: number;
  forwarded: number;
  delivered: number;
  /** Dropped by the client (outbox policy), or by the bridge's hold queue when it overflows. */
  dropped: number;
  /** Held past max_age_ms while the link was down, and dropped before sending. */
  dropped_stale: number;
  skipped_rate: number;
  mapping_errors: number;
  resubscriptions: number;
  /**
   * Latched topics: delivered messages sent again to a restarted server, which lost them (not counted again in
   * forwarded, delivered or dropped).
   */
  replayed: number;
}

/** One forwarded topic: waits for its type and publishers, then keeps a subscription whose QoS matches them. */
class TopicForwarder {
  readonly counters: TopicCounters = { received: 0, forwarded: 0, delivered: 0, dropped: 0, dropped_stale: 0, skipped_rate: 0, mapping_errors: 0, resubscriptions: 0, replayed: 0 };
  /** max_age_ms topics only: messages received while the link was down, oldest first, each with its size as JSON. */
  readonly held: Array<{ envelope: RosEnvelope; receivedNs: number; bytes: number }> = [];
  /** The sum of the held messages' sizes, bounded by outbox_max_bytes as the client's outbox is. */
  private heldBytes = 0;
  /**
   * Latched topics only (see latchedKeep): the last messages handed over, oldest first, so that a restarted server
   * (whose publisher, and so its latched history, died with it) can be given them again. Dropped ones are removed
   * (not copies sent again).
   */
  private readonly latched: Array<{ envelope: RosEnvelope; receivedNs: number; delivered: boolean; owed: boolean }> = [];
  /** Publishers last seen, when every one is transient_local with depth 1 (what latches one message); else 0. */
  private latchingPublishers = 0;
  readonly maxAgeNs: number | null;
  type: string | null;
  qos: QosProfile | null = null;
  private subscription: RosSubscription | null = null;
  private seq = 0;
  /** Numbered messages of this run the bridge gave up on (the next envelopes' `dropped`). */
  private givenUp = 0;
  /**
   * max_rate_hz: when the next message may be forwarded. It advances by the period from the slot, not from the
   * message, and a message a quarter period early (a publisher's timer jitter) takes its slot: spacing each message a
   * full period after the last forwarded one turned a 10 Hz topic at 5.0 into 3.4-3.9 Hz, every message that came a
   * little early skipped with the one after it. Over time the rate still never exceeds max_rate_hz.
   */
  private nextForwardNs = -Infinity;
  private waitingLogged = false;
  /** The situation last warned about, by kind (see warnOnce). */
  private readonly warned = new Map<'type' | 'qos' | 'loop', string>();
  private failed = false;
  /** JSON encoding made from the raw CDR bytes (cdr-json.ts) instead of rclnodejs' message object. */
  private decodeCdr = false;
  /** cdr encoding: the type's hash sent with each message (envelope `type_hash`), when the port knows it. */
  private typeHash: string | undefined;

  constructor(
    readonly name: string,
    private readonly config: BridgeTopicConfig,
    private readonly bridge: Bridge,
  ) {
    this.type = config.type;
    this.maxAgeNs = config.maxAgeMs === null ? null : config.maxAgeMs * 1e6;
  }

  get state(): 'waiting' | 'forwarding' | 'failed' {
    return this.failed ? 'failed' : this.subscription ? 'forwarding' : 'waiting';
  }

  /** Called at start and on every discovery tick. */
  discover(): void {
    if (this.failed) return;
    const node = this.bridge.node;
    const publishers = node.publishersInfo(this.name);
    if (this.type === null) {
      const found = publishers[0]?.type ?? node.topicNamesAndTypes().find((t) => t.name === this.name)?.types[0];
      if (found === undefined) return this.logWaiting('its type');
      this.type = found;
      const others = new Set(publishers.map((p) => p.type).filter((t) => t !== found));
      if (others.size > 0) node.logger.warn(`${this.name} has publishers of several types; forwarding ${found}, ignoring ${[...others].join(', ')}`);
    }
    // A server on this graph republishes what we forward, and we forward it again: a 10 Hz topic made 3,500-4,900
    // messages/s within 20 s. Nothing in the messages tells its copies apart, so this can only be said.
    const servers = [...new Set(publishers.map(fullNodeName).filter((n) => this.bridge.serverNodes.has(n)))].sort().join(', ');
    if (servers) {
      this.warnOnce(
        'loop', servers,
        `${this.name} is published by ${servers}, a fastsocket server on this ROS graph: it republishes what this bridge forwards, ` +
          'and the bridge forwards that again, for ever. Give that server a topic_prefix, or keep it on another ROS graph (another ROS_DOMAIN_ID, or ' +
          'another roscore: "Launch the pair" in docs/ros2.md, "Launch" in docs/ros1.md)',
      );
    }
    const matching = publishers.filter((p) => p.type === this.type).map((p) => p.qos);
    // With none (a latching publisher may be gone), what was learnt stays: the server still holds what it latched.
    if (matching.length > 0) this.latchingPublishers = matching.every((p) => p.durability === 'transient_local' && p.depth === 1) ? matching.length : 0;
    if (matching.length === 0 && publishers.length > 0) {
      // discover() waits for a publisher of the configured type; without this line it would wait in silence.
      const seen = [...new Set(publishers.map((p) => p.type))].sort().join(', ');
      const whose = this.config.type === null ? 'found first' : 'configured';
      this.warnOnce('type', seen, `${this.name} has publishers of ${seen} only, none of ${this.type} (the type ${whose}); nothing will be received from them`);
    }
    let desired: QosProfile;
    if (needsDiscovery(this.config.qos)) {
      // With no publisher there is nothing to match yet; keep what we have rather than flapping back to the default.
      // ROS 1 publishers offer no QoS but whether they latch: "its QoS" puzzled ROS 1 users.
      if (matching.length === 0) return this.subscription ? undefined : this.logWaiting(node.qosCanExclude === false ? 'whether it latches' : 'its QoS');
      desired = chooseSubscriptionQos(this.config.qos, matching);
    } else {
      desired = chooseSubscriptionQos(this.config.qos, []);
    }
    // DDS drops an incompatible pair without a word; only a QoS the user fixed can be one (the rest is matched).
    const unheard = node.qosCanExclude === false ? [] : matching.filter((p) => !canMatch(p, desired));
    if (unheard.length > 0) {
      const offered = [...new Set(unheard.map((p) => `${p.reliability}/${p.durability}`))].sort().join(', ');
      const wanted = `${desired.reliability}/${desired.durability}`;
      this.warnOnce(
        'qos', `${wanted} ${unheard.length}/${matching.length} ${offered}`,
        `${this.name}: the configured QoS ${wanted} cannot match ${unheard.length} of its ${matching.length} publisher(s) (offering ${offered}); nothing is received from them`,
      );
    }
    if (this.subscription && this.qos && this.qos.reliability === desired.reliability && this.qos.durability === desired.durability) return;
    this.subscribe(desired);
  }

  destroy(): void {
    this.subscription?.destroy();
    this.subscription = null;
  }

  private subscribe(qos: QosProfile): void {
    const node = this.bridge.node;
    const type = this.type as string;
    if (this.subscription) {
      this.counters.resubscriptions++;
      this.subscription.destroy();
      this.subscription = null;
    }
    let raw = this.config.encoding === 'cdr';
    this.typeHash = raw ? (node.typeHash?.(type) ?? undefined) : undefined;
    try {
      // JSON from the serialized bytes where the port hands over real CDR: rclnodejs' object take costs ~100 us.
      this.decodeCdr = !raw && node.rawIsCdr === true && cdrJsonSupports(this.bridge.lookup, type, node.cdrWstringUnitBytes);
      raw ||= this.decodeCdr;
      this.subscription = node.createSubscription(type, this.name, qos, raw ? 'raw' : 'object', (m) => this.onMessage(m, type, qos));
    } catch (err) {
      this.failed = true;
      node.logger.error(`cannot subscribe to ${this.name} (${type}): ${(err as Error).message}; not forwarding it`);
      return;
    }
    this.qos = qos;
    node.logger.info(`forwarding ${this.name} (${type}, ${this.config.encoding}, ${qosText(qos)})`);
  }

  private onMessage(message: unknown, type: string, qos: QosProfile): void {
    this.counters.received++;
    const now = this.bridge.monotonicNs();
    if (this.config.maxRateHz !== null && now < this.nextForwardNs - 1e9 / this.config.maxRateHz / 4) {
      this.counters.skipped_rate++;
      return;
    }
    // seq is given at the hand-over, so what the bridge drops itself (stale, hold overflow) leaves no gap that the
    // server would count as network loss.
    const envelope: RosEnvelope = { topic: this.name, type, seq: -1, stamp_ns: this.bridge.wallNs(), qos: toEnvelopeQos(qos) };
    if (Buffer.isBuffer(message) && !this.decodeCdr) {
      envelope.cdr = base64Value(message);
      if (this.typeHash !== undefined) envelope.type_hash = this.typeHash;
    } else {
      try {
        const lookup = this.bridge.lookup;
        envelope.msg = Buffer.isBuffer(message) ? cdrToJson(lookup, type, message, this.bridge.node.cdrWstringUnitBytes) : rosToJson(lookup, type, message);
      } catch (err) {
        this.counters.mapping_errors++;
        this.bridge.throttle.warn(`map:${this.name}`, `dropped a message on ${this.name} (${type}): ${(err as Error).message}`);
        return;
      }
    }
    if (this.config.maxRateHz !== null) this.nextForwardNs = Math.max(this.nextForwardNs, now) + 1e9 / this.config.maxRateHz;
    this.counters.forwarded++;
    if (this.maxAgeNs === null || (this.bridge.linkConnected && this.held.length === 0)) {
      this.handOver(envelope, now);
      return;
    }
    // Measured as the client measures its outbox: a camera's frames held through a tunnel grew a bridge by 15 MB/s
    // (740 MB after 40 s) with outbox_max_bytes at 64 MiB, when only outbox_max_messages bounded them.
    const bytes = Buffer.byteLength(stringifyJson(envelope));
    this.held.push({ envelope, receivedNs: now, bytes });
    this.heldBytes += bytes;
    this.dropStale(now);
    // Stale ones go first; past the outbox's size the oldest goes, as the client's default policy would do.
    const { outboxMaxMessages, outboxMaxBytes } = this.bridge.config.outbox;
    while (this.held.length > outboxMaxMessages || this.heldBytes > outboxMaxBytes) {
      this.heldBytes -= this.held.shift()!.bytes;
      this.counters.dropped++;
    }
  }

  /** Drops held messages older than max_age_ms at `now`. */
  dropStale(now: number): void {
    if (this.maxAgeNs === null) return;
    let stale = 0;
    while (stale < this.held.length && this.isStale(this.held[stale].receivedNs, now)) stale++;
    if (stale === 0) return;
    for (const h of this.held.splice(0, stale)) this.heldBytes -= h.bytes;
    this.counters.dropped_stale += stale;
    this.bridge.throttle.warn(`stale:${this.name}`, `dropped ${stale} message(s) on ${this.name} older than max_age_ms ${this.config.maxAgeMs} while the link was down`);
  }

  /** Link is up: what is still fresh goes to the client, oldest first, carrying how long it was held. */
  releaseHeld(): void {
    const now = this.bridge.monotonicNs();
    this.dropStale(now);
    this.heldBytes = 0;
    for (const h of this.held.splice(0)) this.handOver(withHeldNs(h.envelope, h.receivedNs, now), h.receivedNs);
  }

  /** Older than max_age_ms at `now`: not to be handed over any more. */
  private isStale(receivedNs: number, now: number): boolean {
    return this.maxAgeNs !== null && now - receivedNs > this.maxAgeNs;
  }

  /**
   * How many of its last messages a restarted server must be given again: on a transient_local subscription, one
   * per latching publisher (each of /tf_static's latches its own message; a map server its map), within the
   * subscription's depth; or 1 when the depth is configured to 1 (ROS 1 reports no QoS: a latched topic is marked
   * so, docs/ros1.md). 0 for anything else, a deeper transient_local history included: that is a stream kept for
   * reliability (docs/ros2.md), which sending again would repeat to every subscriber.
   */
  private get latchedKeep(): number {
    if (this.qos?.durability !== 'transient_local') return 0;
    return Math.min(this.qos.depth, this.latchingPublishers > 0 ? this.latchingPublishers : this.qos.depth === 1 ? 1 : 0);
  }

  /**
   * The server restarted: its publisher of this topic is new, so subscribers that join it would never get the
   * latched messages. Sends the kept ones again, oldest first, each carrying (held_ns) the time since the bridge
   * received it, so the server's age stays honest. Not while one is unacknowledged: the client resends that one
   * itself, and it is newer than the others, which must not overtake it: when some delivered before it (another
   * latching publisher's) are still kept once it is acknowledged, all go again, so that it comes last; when it
   * replaced them, the server has all it needs. Returns how many went.
   */
  replayLatched(): number {
    if (this.latched.some((l) => !l.delivered)) {
      // What the restarted server lacks: the delivered ones (owed until a newer acknowledged one replaces them).
      for (const l of this.latched) l.owed = l.delivered;
      return 0;
    }
    if (this.latched.length === 0) return 0;
    const now = this.bridge.monotonicNs();
    // max_age_ms bounds receipt to hand-over for these too: a held message younger than this one was dropped as stale.
    const kept = this.latched.splice(0).filter((l) => !this.isStale(l.receivedNs, now));
    for (const { envelope, receivedNs } of kept) {
      this.counters.replayed++;
      this.handOver(withHeldNs({ ...envelope }, receivedNs, now), receivedNs, true);
    }
    return kept.length;
  }

  /** Counts a numbered message the client dropped (not one left unsent by closing: an outbox file keeps those). */
  private readonly noteSettled = (delivered: boolean, code?: string): void => {
    if (!delivered && code !== 'FS_ERR_CLOSED' && code !== 'FS_ERR_DESTROYED') this.givenUp++;
  };

  private handOver(envelope: RosEnvelope, receivedNs: number, replay = false): void {
    envelope.seq = this.seq++;
    // What the bridge gave up on after numbering it is a gap the server would otherwise count as lost on the link.
    if (this.givenUp > 0) envelope.dropped = this.givenUp;
    else delete envelope.dropped;
    const counters = replay ? null : this.counters;
    // What is left of max_age_ms goes with the message: the client drops it rather than write it later than that
    // (a link slower than the topics, a server that stops reading).
    const maxAgeMs = this.maxAgeNs === null ? undefined : Math.max(1e-3, (this.maxAgeNs - (this.bridge.monotonicNs() - receivedNs)) / 1e6);
    const keep = this.latchedKeep;
    if (keep === 0) {
      this.latched.length = 0;
      this.bridge.forward(envelope, counters, this.noteSettled, maxAgeMs);
      return;
    }
    const entry = { envelope, receivedNs, delivered: false, owed: false };
    this.latched.push(entry);
    this.trimLatched(keep);
    this.bridge.forward(envelope, counters, (delivered, code) => {
      this.noteSettled(delivered, code);
      // A copy sent again that the outbox drops is still what an earlier server was given: kept for the next restart.
      entry.delivered = delivered || replay;
      const i = entry.delivered ? -1 : this.latched.indexOf(entry);
      if (i !== -1) this.latched.splice(i, 1);
      this.trimLatched(this.latchedKeep);
      if (this.latched.some((l) => l.owed) && this.latched.every((l) => l.delivered)) this.bridge.replayLatched([this]);
    }, maxAgeMs);
  }

  /**
   * Forgets the kept messages that `keep` newer delivered ones replace. An unacknowledged one replaces nothing yet:
   * if the outbox drops it, the delivered one before it is still what the server must be given.
   */
  private trimLatched(keep: number): void {
    let deliveredAfter = 0;
    for (let i = this.latched.length - 1; i >= 0; i--) {
      if (deliveredAfter >= keep) {
        this.latched.splice(0, i + 1);
        break;
      }
      if (this.latched[i].delivered) deliveredAfter++;
    }
    // Of the unacknowledged ones, the newest `keep` are enough: the outbox drops the oldest first, and each kept one
    // is a parsed message (a map can be megabytes) that a long outage would otherwise pile up beside the outbox.
    let pendingAfter = 0;
    for (let i = this.latched.length - 1; i >= 0; i--) {
      if (this.latched[i].delivered) continue;
      if (++pendingAfter > keep) this.latched.splice(i, 1);
    }
  }

  /** Logs `message` once for each new `situation` of a kind, so a discovery tick every 500 ms does not repeat it. */
  private warnOnce(kind: 'type' | 'qos' | 'loop', situation: string, message: string): void {
    if (this.warned.get(kind) === situation) return;
    this.warned.set(kind, situation);
    this.bridge.node.logger.warn(message);
  }

  private logWaiting(what: string): void {
    if (this.waitingLogged) return;
    this.waitingLogged = true;
    this.bridge.node.logger.info(`waiting for a publisher on ${this.name} to learn ${what}`);
  }
}

/** Sets `held_ns`, the time the bridge kept `envelope` since it received it, when there was any; returns it. */
function withHeldNs(envelope: RosEnvelope, receivedNs: number, now: number): RosEnvelope {
  const heldNs = Math.round(now - receivedNs);
  if (heldNs > 0) envelope.held_ns = heldNs;
  return envelope;
}

/**
 * False when a reader with `sub` can never hear a writer with `pub`: it may not ask for more than the writer offers.
 * system_default is left to the middleware, so it is taken to match.
 */
function canMatch(pub: QosProfile, sub: QosProfile): boolean {
  if (sub.reliability === 'reliable' && pub.reliability === 'best_effort') return false;
  if (sub.durability === 'transient_local' && pub.durability === 'volatile') return false;
  return true;
}

export class Bridge {
  readonly wallNs: () => number;
  readonly monotonicNs: () => number;
  readonly throttle: LogThrottle;
  private readonly forwarders: TopicForwarder[];
  private readonly timers: RosTimer[] = [];
  private rttPublisher: RosPublisher | null = null;
  private diagnosticsPublisher: RosPublisher | null = null;
  private lastRttMs: number | null = null;
  private state: 'idle' | 'running' | 'closed' = 'idle';
  /** From the link's connect/disconnect events; decides whether max_age_ms topics hand over or hold. */
  linkConnected = false;
  /** Messages the client gave up on at close, unacknowledged (FS_ERR_CLOSED drops), for the shutdown warning. */
  private abandonedAtClose = 0;
  /** Messages of every topic dropped while connected, and that count at the last link status: what it reports. */
  private droppedConnected = 0;
  private droppedConnectedReported = 0;
  /** The server_instance of the last hello answer: a new one means the server restarted. */
  private serverInstance: string | null = null;
  /** Message definitions from the node, made once rather than per forwarded message. */
  readonly lookup: DefinitionLookup;

  constructor(
    readonly node: RosNode,
    readonly config: BridgeConfig,
    private readonly link: BridgeLink,
    private readonly options: BridgeOptions = {},
  ) {
    this.wallNs = options.wallNs ?? wallNs;
    this.monotonicNs = options.monotonicNs ?? monotonicNs;
    this.lookup = (t) => node.messageDefinition(t);
    this.throttle = new LogThrottle(node.logger, 5000, () => this.monotonicNs() / 1e6);
    this.forwarders = config.topics.map((t) => new TopicForwarder(node.resolveTopicName(t.name), t, this));
  }

  /** Creates the outputs, subscribes to what can be subscribed now and starts connecting. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.rttPublisher = this.node.createPublisher(FLOAT64, '~/rtt', { reliability: 'reliable', durability: 'volatile', history: 'keep_last', depth: 10 });
    this.diagnosticsPublisher = this.node.createPublisher(DIAGNOSTIC_ARRAY, '/diagnostics', { reliability: 'reliable', durability: 'volatile', history: 'keep_last', depth: 10 });
    // The client logs connects and disconnects itself; errors are events that must have a listener.
    this.link.on('connect', () => {
      this.linkConnected = true;
      if (this.state === 'running') for (const f of this.forwarders) f.releaseHeld();
    });
    this.link.on('disconnect', () => {
      this.linkConnected = false;
    });
    this.link.on('drop', ({ reason }) => {
      if (reason === 'FS_ERR_CLOSED') this.abandonedAtClose++;
    });
    this.link.on('hello', ({ server_instance }) => {
      if (server_instance === null) return;
      const restarted = this.serverInstance !== null && server_instance !== this.serverInstance;
      this.serverInstance = server_instance;
      if (restarted && this.state === 'running') this.replayLatched();
    });
    if (this.forwarders.length === 0) this.node.logger.warn('no topics configured: set the topics parameter or topic_options');
    this.discover();
    this.timers.push(this.node.createTimer(this.options.discoveryPeriodMs ?? 500, () => this.discover()));
    this.timers.push(this.node.createTimer(this.config.diagnosticsPeriodS * 1000, () => this.publishDiagnostics()));
    this.link.connect().catch(() => undefined);
  }

  /** One look at the graph for every topic; the discovery timer calls it, tests may call it directly. */
  discover(): void {
    this.serverNodes = fastsocketServerNodes(this.node);
    for (const f of this.forwarders) f.discover();
  }

  /** The fastsocket servers on this bridge's ROS graph, by full node name, as of the last discovery tick. */
  serverNodes: ReadonlySet<string> = new Set();

  /** Gives a restarted server the latched messages it lost (see TopicForwarder.replayLatched); @internal for one TopicForwarder too. */
  replayLatched(forwarders = this.forwarders): void {
    if (this.state !== 'running') return;
    const replayed = forwarders.map((f) => [f.name, f.replayLatched()] as const).filter(([, n]) => n > 0);
    if (replayed.length === 0) return;
    this.node.logger.info(
      `the server restarted (a new server_instance in its hello): sending the latched messages it lost again, ${replayed.map(([name, n]) => `${n} on ${name}`).join(', ')}`,
    );
  }

  /** Per-topic state for diagnostics and tests. */
  topics(): Array<{ name: string; type: string | null; qos: QosProfile | null; state: string; counters: Readonly<TopicCounters> }> {
    return this.forwarders.map((f) => ({ name: f.name, type: f.type, qos: f.qos, state: f.state, counters: { ...f.counters } }));
  }

  /**
   * @internal called by a TopicForwarder, with the topic's counters (null for a message sent again, counted apart);
   * `settled` learns whether the server acknowledged it or it was dropped (with the error's code); past `maxAgeMs` the client drops it unwritten.
   */
  forward(envelope: RosEnvelope, counters: TopicCounters | null, settled?: (delivered: boolean, code?: string) => void, maxAgeMs?: number): void {
    this.link.send(envelope, maxAgeMs === undefined ? undefined : { maxAgeMs }).then(
      (result) => {
        settled?.(true);
        if (counters) counters.delivered++;
        this.lastRttMs = result.rtt_ns / 1e6;
        // Only for a listener: an rclnodejs publish per message was a sixth of the bridge's main-thread time at 1 kHz.
        if (this.state === 'running' && isHeard(this.rttPublisher)) this.rttPublisher.publish({ data: this.lastRttMs });
      },
      (err: Error & { code?: string }) => {
        settled?.(false, err.code);
        if (err.code === 'FS_ERR_EXPIRED') {
          if (counters) counters.dropped_stale++;
          if (this.state === 'running') this.throttle.warn(`stale:${envelope.topic}`, `dropped message(s) on ${envelope.topic} older than max_age_ms before the link could carry them${this.linkConnected ? OVERLOAD_HINT : ''}`);
          return;
        }
        if (counters) counters.dropped++;
        // Connected, a full outbox means the link (or the server) takes less than the topics offer: say what helps.
        const overloaded = this.linkConnected && isOutboxFull(err);
        if (overloaded) this.droppedConnected++;
        const hint = overloaded ? OVERLOAD_HINT : '';
        if (this.state === 'running') this.throttle.warn(`drop:${envelope.topic}`, `message on ${envelope.topic} dropped: ${err.message.replace(/^message dropped: /, '')}${hint}`);
      },
    );
  }

  publishDiagnostics(): void {
    if (this.state !== 'running') return;
    // Held messages expire even when nothing new arrives, so the stale count is current while the link is down.
    const now = this.monotonicNs();
    for (const f of this.forwarders) f.dropStale(now);
    if (isHeard(this.diagnosticsPublisher)) this.diagnosticsPublisher.publish(diagnosticArray(this.wallNs(), this.diagnostics()));
  }

  diagnostics(): DiagnosticStatusMsg[] {
    const s = this.link.stats();
    const overloadDrops = this.droppedConnected - this.droppedConnectedReported;
    this.droppedConnectedReported = this.droppedConnected;
    const link = diagnosticStatus(
      linkStatusName(this.node.name),
      s.connected && overloadDrops === 0 ? DiagnosticLevel.OK : DiagnosticLevel.WARN,
      !s.connected
        ? 'not connected; queueing'
        : overloadDrops > 0
          ? `connected; saturated: ${overloadDrops} message(s) dropped since the last status, outbox full${OVERLOAD_HINT}`
          : 'connected',
      this.config.clientId,
      {
        url: this.config.url,
        client_id: this.config.clientId,
        connected: s.connected,
        outbox_messages: s.outbox_messages,
        outbox_bytes: s.outbox_bytes,
        sent_messages: s.sent,
        delivered_messages: s.delivered,
        // outbox_policy reject refuses rather than drops; for the bridge the message is dropped all the same.
        dropped_messages: s.dropped + s.rejected,
        resent_messages: s.resent,
        reconnects: s.reconnects,
        last_rtt_ms: this.lastRttMs,
        held_messages: this.forwarders.reduce((n, f) => n + f.held.length, 0),
        dropped_stale_messages: this.forwarders.reduce((n, f) => n + f.counters.dropped_stale, 0),
        clock_sync: this.config.clockSync,
        tls: /^(tls|wss):/.test(this.config.url),
        token_set: this.config.token !== null,
        outbox_path: this.config.outboxPath ?? '',
      },
    );
    const topics = this.forwarders.map((f) =>
      diagnosticStatus(`${this.node.name}: ${f.name}`, f.state === 'failed' ? DiagnosticLevel.ERROR : f.state === 'waiting' ? DiagnosticLevel.WARN : DiagnosticLevel.OK, f.state, this.config.clientId, {
        type: f.type,
        qos: f.qos ? `${f.qos.reliability}/${f.qos.durability}/${f.qos.depth}` : null,
        received_messages: f.counters.received,
        forwarded_messages: f.counters.forwarded,
        delivered_messages: f.counters.delivered,
        dropped_messages: f.counters.dropped,
        ...(f.maxAgeNs === null ? {} : { max_age_ms: f.maxAgeNs / 1e6, held_messages: f.held.length, dropped_stale_messages: f.counters.dropped_stale }),
        skipped_rate_messages: f.counters.skipped_rate,
        mapping_errors: f.counters.mapping_errors,
        ...(f.qos?.durability === 'transient_local' ? { replayed_messages: f.counters.replayed } : {}),
      }),
    );
    return [link, ...topics];
  }

  /** Stops forwarding, lets the client deliver what it holds for up to `timeoutMs`, then closes it. Idempotent. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of this.timers) t.cancel();
    for (const f of this.forwarders) f.destroy();
    await this.link.close({ timeoutMs });
    // Ctrl-C during an outage otherwise ends "cleanly" with the outbox gone and not a word about it.
    const held = this.forwarders.reduce((n, f) => n + f.held.length, 0);
    if (this.abandonedAtClose > 0) {
      const fate = this.config.outboxPath === null ? 'lost (outbox_path keeps them for the next start)' : `kept in outbox_path ${this.config.outboxPath} for the next start`;
      this.node.logger.warn(`shutting down with ${this.abandonedAtClose} message(s) the server has not acknowledged: ${fate}`);
    }
    if (held > 0) this.node.logger.warn(`shutting down with ${held} message(s) held for max_age_ms topics while the link was down: lost`);
  }
}
