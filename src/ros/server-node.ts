/**
 * The receiving side: republishes each envelope on its topic with its type and the sender's QoS, counts loss,
 * duplicates and reordering from `seq`, and publishes the latency of every message as standard ROS messages.
 */
import type { LatencyRecord, LatencySummary, MessageEvent, PeerInfo, ServerEvents, ServerStats } from '../fastsocket';
import { clocksApartNs, LatencyRecorder, LatencyStats, latencySource, logSafe, wallNs, WarnBudget } from '../fastsocket';
import { cdrJsonSupports, checkCdr, rosToCdr } from './cdr-json';
import { parseEnvelope, ParsedEnvelope } from './envelope';
import type { DefinitionLookup } from './message-definition';
import { EnvelopeError, MessageMappingError, RosError, UnknownTypeError } from './errors';
import { openParamPath } from './params';
import { LogThrottle } from './log-throttle';
import { jsonToRos } from './msg-json';
import { isHeard, type RosNode, type RosPublisher, type RosTimer } from './port';
import { EnvelopeQos, qos, QosProfile, qosText } from './qos';
import type { ServerConfig } from './server-config';
import { SeqCounts, SeqTracker } from './seq-tracker';
import {
  DIAGNOSTIC_ARRAY, diagnosticArray, DiagnosticLevel, diagnosticStatus, DiagnosticStatusMsg, FLOAT64, latencyMetrics, linkStatusName, METRICS_MESSAGE,
} from './ros-messages';

/** The clock-synced side of one sender's latest record. */
interface ClockSyncState {
  records: number;
  syncOk: number;
  last: { uplink_wall_ns: number; offset_ns: number; sync_uncertainty_ns: number; sync_ok: boolean; latency_corrected_ns: number; apart_ns: number };
}

/** What the server node needs from FastSocketServer. */
export interface ServerLink {
  on<K extends keyof ServerEvents>(event: K, listener: (...args: ServerEvents[K]) => void): unknown;
  stats(): ServerStats;
}

export interface ServerNodeOptions {
  /** Wall clock, ns since the epoch: statistics windows, diagnostics stamps, recorded rows; injectable for tests. @default wallNs */
  wallNs?: () => number;
  /** Ids remembered between message 1 and its latency record (ack 3). @default 100000 */
  maxPendingIds?: number;
}

const OUTPUT_QOS: QosProfile = qos('reliable', 'volatile', 10);
const MAX_CLOCK_SYNC_SENDERS = 64;

export type DropReason = 'bad_envelope' | 'own_topic' | 'unknown_type' | 'bad_message' | 'type_conflict' | 'type_mismatch' | 'publish_failed' | 'topic_limit';

interface TopicState {
  /** Republished name. */
  readonly topic: string;
  /** The sender's name, without the prefix: the key of its shared ~/latency/<topic> publisher. */
  readonly senderTopic: string;
  readonly type: string;
  /** Made anew, with a QoS that serves more subscribers, when a sender forwards the topic so (see widerQos). */
  publisher: RosPublisher;
  /**
   * The publisher's. Transient_local (latched): what it holds is published once (a map, /tf_static) and, once closed
   * under max_topics, comes back only when its vehicle publishes it again or its bridge restarts.
   */
  qos: QosProfile;
  /** JSON messages are serialized here (cdr-json.ts) and published raw, rather than through rclnodejs objects. */
  readonly encodeCdr: boolean;
  /**
   * ~/latency/<topic without prefix> (shared by every sender of that topic), and with a topic_prefix holding
   * {client_id} also ~/latency/<republished topic>, one per vehicle. A name ROS refused has none.
   */
  readonly latencyPublishers: readonly RosPublisher[];
  readonly stats: LatencyStats;
  lastWindow: LatencySummary;
  /** Age of information (queued + corrected latency) of every message, resends included. */
  readonly ageStats: LatencyStats;
  lastAgeWindow: LatencySummary;
  /** Clock-synced uplink (uplink_wall_ns) of the records whose sync_ok is true. */
  readonly uplinkStats: LatencyStats;
  lastUplinkWindow: LatencySummary;
  messages: number;
  published: number;
  resends: number;
  dropped: number;
  /** Per sender: the sender's seq accounting; at most MAX_SENDERS_PER_TOPIC, the longest known folded into `retired`. */
  readonly senders: Map<string, SeqTracker>;
  /** The counts of senders no longer tracked one by one, so that the topic's totals keep them. */
  retired: SeqCounts;
}

/**
 * Senders tracked one by one per topic. Without a client_id a sender is its host:port, new at every reconnect, so a
 * long run would otherwise keep a tracker per connection ever made.
 */
const MAX_SENDERS_PER_TOPIC = 256;

/**
 * Info lines about peers connecting, saying hello and leaving, per 10 s; the rest go to the debug level. A peer is
 * logged when it connects, before its hello, so one connecting and closing in a loop (a token does not stop that)
 * wrote two lines per connection: 6,700 a second in the log and on /rosout.
 */
const CONNECTION_LINES_PER_WINDOW = 60;

/**
 * Warnings about dropped messages per 10 s, the rest at debug. Each is logged once per topic (or per 5 s), but a
 * sender picks the topics: ever new names of an unknown type, or too long for ROS, were a warning per message, 7,000 a
 * second.
 */
const DROP_WARNINGS_PER_WINDOW = 100;

/** Topics whose refusal was logged, remembered so each is logged once; the oldest is forgotten past this. */
const MAX_REFUSED_KEYS = 10_000;

export class ServerNode {
  private readonly wallNs: () => number;
  private readonly throttle: LogThrottle;
  private readonly connectionLines = new WarnBudget(CONNECTION_LINES_PER_WINDOW);
  /** Every warning about what a sender sent, once-per-topic ones included: a sender names topics without end. */
  private readonly dropLines = new WarnBudget(DROP_WARNINGS_PER_WINDOW);
  private readonly topics = new Map<string, TopicState>();
  /** ~/latency/<topic> publishers, shared by senders whose topics differ only in the prefix; null: ROS refused the name. */
  private readonly latencyPublishers = new Map<string, RosPublisher | null>();
  /** Message id -> republished topic and the bridge's hold time, until its latency record arrives. */
  private readonly pendingIds = new Map<string, { topic: string; heldNs: number }>();
  private readonly maxPendingIds: number;
  private readonly stats = new LatencyStats();
  private lastWindow: LatencySummary;
  private readonly ageStats = new LatencyStats();
  private lastAgeWindow: LatencySummary;
  /** Per sender (client id, else peer address) that sends clock-synced records. */
  private readonly clockSync = new Map<string, ClockSyncState>();
  private recorder: LatencyRecorder | null = null;
  private ageRecords = 0;
  private windowStartNs: number;
  private readonly drops: Record<DropReason, number> = { bad_envelope: 0, own_topic: 0, unknown_type: 0, bad_message: 0, type_conflict: 0, type_mismatch: 0, publish_failed: 0, topic_limit: 0 };
  private readonly peers = new Map<string, string | null>();
  /** `reason:for <topic>` (or what else refuse() was told the refusal is about) of refusals already logged. */
  private readonly refused = new Set<string>();
  /** False once a search for a topic to close under max_topics found none, until a peer disconnects. */
  private mayReclaim = true;
  private latencies = 0;
  private resentLatencies = 0;
  private possibleDuplicates = 0;
  private link: ServerLink | null = null;
  private latencyPublisher: RosPublisher | null = null;
  private agePublisher: RosPublisher | null = null;
  private metricsPublisher: RosPublisher | null = null;
  private diagnosticsPublisher: RosPublisher | null = null;
  private readonly timers: RosTimer[] = [];
  private state: 'idle' | 'running' | 'closed' = 'idle';
  /** Message definitions from the node, made once rather than per received message. */
  private readonly lookup: DefinitionLookup;
  /** ~/latency (and ~/latency/<topic> below it), ~/age, ~/latency_stats, resolved. */
  private readonly ownOutputs: { latency: string; others: readonly string[] };

  constructor(
    readonly node: RosNode,
    readonly config: ServerConfig,
    options: ServerNodeOptions = {},
  ) {
    this.wallNs = options.wallNs ?? wallNs;
    this.lookup = (t) => node.messageDefinition(t);
    this.maxPendingIds = options.maxPendingIds ?? 100_000;
    this.ownOutputs = { latency: node.resolveTopicName('~/latency'), others: ['~/age', '~/latency_stats'].map((t) => node.resolveTopicName(t)) };
    const logger = node.logger;
    this.throttle = new LogThrottle({
      debug: (m) => logger.debug(m), info: (m) => logger.info(m), warn: (m) => this.dropLines.warn(logger, m), error: (m) => logger.error(m),
    });
    this.lastWindow = this.stats.window();
    this.lastAgeWindow = this.ageStats.window();
    this.windowStartNs = this.wallNs();
  }

  /** Creates the outputs and timers, and the record file. @throws ParameterError naming record_path when it cannot be written */
  start(): void {
    if (this.state !== 'idle') return;
    const record = this.config.record;
    if (record) {
      this.recorder = openParamPath('record_path', record.path, () => new LatencyRecorder(record.path, record.format, { extraColumns: ['topic', 'held_ns'], clock: this.wallNs }));
      this.node.logger.info(`recording every latency record to ${record.path} (${record.format})`);
    }
    this.state = 'running';
    this.latencyPublisher = this.node.createPublisher(FLOAT64, '~/latency', OUTPUT_QOS);
    this.agePublisher = this.node.createPublisher(FLOAT64, '~/age', OUTPUT_QOS);
    this.metricsPublisher = this.node.createPublisher(METRICS_MESSAGE, '~/latency_stats', OUTPUT_QOS);
    this.diagnosticsPublisher = this.node.createPublisher(DIAGNOSTIC_ARRAY, '/diagnostics', OUTPUT_QOS);
    this.windowStartNs = this.wallNs();
    this.timers.push(this.node.createTimer(this.config.statsWindowS * 1000, () => this.closeWindow()));
    this.timers.push(this.node.createTimer(this.config.diagnosticsPeriodS * 1000, () => this.publishDiagnostics()));
  }

  /** Feeds the node from a FastSocketServer's events. */
  attach(link: ServerLink): void {
    this.link = link;
    link.on('message', (m) => this.handleMessage(m));
    link.on('latency', (r) => this.handleLatency(r));
    link.on('connection', (p) => this.onConnection(p));
    link.on('hello', (p) => this.onHello(p));
    link.on('disconnect', (p) => this.onDisconnect(p));
  }

  /** Republishes one received payload; never throws (a bad payload is logged, counted and dropped). */
  handleMessage(m: MessageEvent): void {
    if (this.state !== 'running') return;
    if (m.possible_duplicate) this.possibleDuplicates++;
    let env: ParsedEnvelope;
    try {
      env = parseEnvelope(m.payload);
    } catch (err) {
      // Throttled per problem, so that one kind of bad envelope does not hide the others from the log.
      const problem = err instanceof EnvelopeError ? err.field : 'payload';
      this.drop('bad_envelope', null, `dropped a payload from ${m.client_id ?? m.peer}: ${(err as Error).message}`, problem);
      return;
    }
    const sender = senderKey(m);
    const topic = this.republishedName(env.topic, m.client_id);
    if (this.isOwnOutput(topic)) {
      // Another publisher there would mix a sender's numbers into the latency this server measures, for every reader.
      this.refuse('own_topic', null, topic, `dropped a message for ${topic} from ${sender}: it is an output of this server, which publishes the latency it measures there; forward it under a topic_prefix`);
      return;
    }
    if (env.body.kind === 'cdr' && env.typeHash !== null) {
      // Bytes laid out by another definition of the type would be published as if they were ours, misread by every
      // subscriber without an error. Without a hash on either side (another bridge, an older ROS) there is no check.
      const local = this.node.typeHash?.(env.type) ?? null;
      if (local !== null && local !== env.typeHash) {
        this.refuse(
          'type_mismatch', this.topics.get(topic) ?? null, topic,
          `dropped a message for ${topic}: its CDR bytes come from a definition of ${env.type} that differs from this server's ` +
            `(type hash ${env.typeHash} from ${sender}, ${local} here), so they would be misread; install the same message package on ` +
            'both sides, or forward the topic with encoding "json", which maps fields by name',
        );
        return;
      }
    }
    let state = this.topics.get(topic);
    if (state === undefined) {
      if (this.topics.size >= this.config.maxTopics && !this.reclaimTopic()) {
        // Each topic is a publisher (two with per-vehicle latency): a client sending ever new topic names, or ever new
        // client ids under topic_prefix "/{client_id}", must not grow them without bound.
        this.drop('topic_limit', null, `dropped a message for ${topic}: max_topics (${this.config.maxTopics}) topics are republished already`, '*');
        return;
      }
      try {
        state = this.openTopic(topic, env);
      } catch (err) {
        const text = `dropped a message for ${topic} (${env.type}): ${(err as Error).message}`;
        if (err instanceof UnknownTypeError) this.refuse('unknown_type', null, topic, text);
        else this.drop('publish_failed', null, text, topic);
        return;
      }
    } else if (state.type !== env.type) {
      // Where vehicles share a topic, one sending another type does so with every message: say which one, once.
      this.refuse(
        'type_conflict', state, topic,
        `dropped a message for ${topic} from ${sender}: type ${env.type} differs from ${state.type}, which the topic already carries`,
        `of ${env.type} from ${sender} for ${topic}`,
      );
      return;
    } else if (env.qos) {
      this.widenQos(state, env.qos, sender);
    }
    state.messages++;
    if (m.resent) state.resends++;
    let tracker = state.senders.get(sender);
    if (tracker === undefined) {
      if (state.senders.size >= MAX_SENDERS_PER_TOPIC) {
        const [oldest, retiring] = state.senders.entries().next().value as [string, SeqTracker];
        state.retired = sumCounts([state.retired, retiring.snapshot()]);
        state.senders.delete(oldest);
      }
      tracker = new SeqTracker();
      state.senders.set(sender, tracker);
    }
    tracker.observe(env.seq, m.resent, env.dropped);
    this.rememberId(m.id, topic, env.heldNs);
    let message: unknown;
    try {
      if (env.body.kind === 'cdr') {
        // The bytes go out as they came: cut off or empty, they would hold back the topic's other senders (checkCdr).
        if (this.node.rawIsCdr === true) checkCdr(this.lookup, env.type, env.body.bytes, this.node.cdrWstringUnitBytes);
        message = env.body.bytes;
      } else {
        const plain = jsonToRos(this.lookup, env.type, env.body.msg);
        message = state.encodeCdr ? rosToCdr(this.lookup, env.type, plain, this.node.cdrWstringUnitBytes) : plain;
      }
    } catch (err) {
      const reason: DropReason = err instanceof UnknownTypeError ? 'unknown_type' : 'bad_message';
      // A MessageMappingError's message already names its field.
      const where = err instanceof MessageMappingError || err instanceof UnknownTypeError ? '' : 'field ?: ';
      this.drop(reason, state, `dropped a message for ${topic} (${env.type}), ${where}${(err as Error).message}`);
      return;
    }
    try {
      state.publisher.publish(message);
      state.published++;
    } catch (err) {
      const text = `could not publish on ${topic} (${env.type}): ${(err as Error).message}`;
      // An encoding this ROS cannot publish (CDR on ROS 1) fails the same way for every message of the topic in it; those
      // of the other encoding (another sender's, on a shared topic) are published and their failures logged.
      if (err instanceof RosError && err.code === 'FS_ROS_ERR_ENCODING') this.refuse('publish_failed', state, topic, text, `in ${env.body.kind} encoding for ${topic}`);
      else this.drop('publish_failed', state, text);
    }
  }

  /**
   * Publishes the latency of one message (ms) and its age (bridge hold + client queue + corrected latency), records
   * it; resends are published but kept out of the latency statistics (not out of the age statistics: how old
   * resent messages get is what age is for). Each output is published only while someone subscribes to it: three
   * rclnodejs publishes per message were a fifth of the server's main-thread time at 1 kHz.
   */
  handleLatency(r: LatencyRecord): void {
    if (this.state !== 'running') return;
    this.latencies++;
    const ms = r.latency_corrected_ns / 1e6;
    if (isHeard(this.latencyPublisher)) this.latencyPublisher.publish({ data: ms });
    const pending = this.pendingIds.get(r.id);
    this.pendingIds.delete(r.id);
    const state = pending === undefined ? undefined : this.topics.get(pending.topic);
    if (state) for (const p of state.latencyPublishers) if (isHeard(p)) p.publish({ data: ms });
    const heldNs = pending?.heldNs ?? 0;
    this.recorder?.write(r, { topic: pending?.topic ?? null, held_ns: heldNs > 0 ? heldNs : null });
    // A client that does not report queued_ns (the original peer) gets no age: its latency alone would understate it.
    // Jitter compares a sample with the previous one of the same sender: several vehicles on their own links
    // interleave, and the difference between their delays is not jitter.
    const sender = latencySource(r);
    if (r.queued_ns !== null) {
      const ageNs = heldNs + r.queued_ns + r.latency_corrected_ns;
      this.ageRecords++;
      if (isHeard(this.agePublisher)) this.agePublisher.publish({ data: ageNs / 1e6 });
      this.ageStats.record(ageNs, sender);
      state?.ageStats.record(ageNs, sender);
    }
    if (r.offset_ns !== null) this.noteClockSync(r, state);
    if (r.resent) {
      this.resentLatencies++;
      return;
    }
    this.stats.record(r.latency_corrected_ns, sender);
    state?.stats.record(r.latency_corrected_ns, sender);
  }

  /** Ends a statistics window: publishes ~/latency_stats and keeps the window for /diagnostics. */
  closeWindow(): void {
    if (this.state !== 'running') return;
    const now = this.wallNs();
    this.lastWindow = this.stats.window();
    this.stats.resetWindow();
    this.lastAgeWindow = this.ageStats.window();
    this.ageStats.resetWindow();
    for (const t of this.topics.values()) {
      t.lastWindow = t.stats.window();
      t.stats.resetWindow();
      t.lastAgeWindow = t.ageStats.window();
      t.ageStats.resetWindow();
      t.lastUplinkWindow = t.uplinkStats.window();
      t.uplinkStats.resetWindow();
    }
    this.metricsPublisher?.publish(latencyMetrics(this.node.fullyQualifiedName, this.windowStartNs, now, this.lastWindow));
    this.windowStartNs = now;
  }

  publishDiagnostics(): void {
    // Building the array and converting it in rclnodejs takes milliseconds of the main thread: only for a listener.
    if (this.state !== 'running' || !isHeard(this.diagnosticsPublisher)) return;
    this.diagnosticsPublisher.publish(diagnosticArray(this.wallNs(), this.diagnostics()));
  }

  diagnostics(): DiagnosticStatusMsg[] {
    const s = this.link?.stats();
    const dropped = Object.values(this.drops).reduce((a, b) => a + b, 0);
    const peers = this.peers.size;
    const link = diagnosticStatus(linkStatusName(this.node.name), peers > 0 ? DiagnosticLevel.OK : DiagnosticLevel.WARN, peers > 0 ? `${peers} peer(s) connected` : 'no peer connected', '', {
      url: this.config.url,
      connected_peers: peers,
      peers: [...this.peers].map(([peer, id]) => (id === null ? peer : `${id}@${peer}`)).join(' '),
      messages: s?.messages ?? null,
      resent_messages: s?.resent ?? null,
      duplicate_messages: s?.duplicates ?? null,
      possible_duplicate_messages: this.possibleDuplicates,
      bad_frames: s?.bad_frames ?? null,
      latency_records: this.latencies,
      resent_latency_records: this.resentLatencies,
      ack3_expired: s?.ack3_expired ?? null,
      ack3_late: s?.ack3_late ?? null,
      dropped_messages: dropped,
      ...Object.fromEntries(Object.entries(this.drops).map(([k, v]) => [`dropped_${k}_messages`, v])),
      ...latencyValues(this.lastWindow),
      age_records: this.ageRecords,
      ...ageValues(this.lastAgeWindow),
      clock_synced_senders: this.clockSync.size,
      record_path: this.recorder?.path ?? '',
      recorded_records: this.recorder?.records ?? 0,
    });
    const topics = [...this.topics.values()].map((t) => {
      const seq = sumCounts([t.retired, ...[...t.senders.values()].map((x) => x.snapshot())]);
      const level = t.dropped > 0 || seq.lost > 0 ? DiagnosticLevel.WARN : DiagnosticLevel.OK;
      return diagnosticStatus(`${this.node.name}: ${t.topic}`, level, `${t.type} from ${t.senders.size} sender(s)`, '', {
        type: t.type,
        messages: t.messages,
        published_messages: t.published,
        resent_messages: t.resends,
        lost_messages: seq.lost,
        sender_dropped_messages: seq.sender_dropped,
        duplicate_messages: seq.duplicates,
        reordered_messages: seq.reordered,
        late_messages: seq.late,
        sender_restarts: seq.restarts,
        dropped_messages: t.dropped,
        senders: t.senders.size,
        ...latencyValues(t.lastWindow),
        ...ageValues(t.lastAgeWindow),
        // Side by side with the clock-free latency: only a synced uplink can show an asymmetric link.
        ...(t.uplinkStats.total().count > 0 ? uplinkValues(t.lastUplinkWindow) : {}),
      });
    });
    // A vehicle that left keeps its status (its counts), but its latest record no longer says anything about now: a
    // WARN it ended on would otherwise stay in every aggregator for as long as the server runs.
    const connected = new Set([...this.peers].map(([peer, id]) => latencySource({ client_id: id, peer })));
    const clocks = [...this.clockSync].map(([sender, c]) => {
      const apart = c.last.apart_ns > this.config.syncMaxUncertaintyNs;
      const [level, message] = !connected.has(sender) ? [DiagnosticLevel.STALE, 'not connected; the values are from its last record']
        : !c.last.sync_ok ? [DiagnosticLevel.WARN, 'offset uncertain: uplink_wall_ms is not trustworthy']
        : apart ? [DiagnosticLevel.WARN, `clocks at least ${(c.last.apart_ns / 1e6).toFixed(3)} ms apart (offset_ms): uplink_wall_ms is off by as much`]
        : [DiagnosticLevel.OK, 'clocks agree within sync_max_uncertainty_ns'];
      return diagnosticStatus(`${this.node.name}: clock sync ${sender}`, level, message, sender, {
          clock_synced_records: c.records,
          sync_ok_records: c.syncOk,
          sync_ok: c.last.sync_ok,
          offset_ms: c.last.offset_ns / 1e6,
          sync_uncertainty_ms: c.last.sync_uncertainty_ns / 1e6,
          uplink_wall_ms: c.last.uplink_wall_ns / 1e6,
          latency_corrected_ms: c.last.latency_corrected_ns / 1e6,
        });
    });
    return [link, ...topics, ...clocks];
  }

  /** Per republished topic, per sender seq counts (for tests and tools). */
  topicCounts(topic: string): Map<string, Readonly<SeqCounts>> | undefined {
    const t = this.topics.get(topic);
    return t && new Map([...t.senders].map(([k, v]) => [k, v.snapshot()]));
  }

  dropCounts(): Readonly<Record<DropReason, number>> {
    return { ...this.drops };
  }

  /** Idempotent. The link is closed by whoever created it. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of this.timers) t.cancel();
    this.recorder?.close();
  }

  private noteClockSync(r: LatencyRecord, state: TopicState | undefined): void {
    const sender = latencySource(r);
    const last = {
      uplink_wall_ns: r.uplink_wall_ns ?? 0, offset_ns: r.offset_ns ?? 0, sync_uncertainty_ns: r.sync_uncertainty_ns ?? 0,
      sync_ok: r.sync_ok === true, latency_corrected_ns: r.latency_corrected_ns, apart_ns: clocksApartNs(r),
    };
    const c = this.clockSync.get(sender) ?? { records: 0, syncOk: 0, last };
    c.records++;
    c.last = last;
    if (last.sync_ok) c.syncOk++;
    // An offset known precisely is not a small one: clocks seconds apart give sync_ok records whose uplink is that far off.
    if (last.sync_ok && last.apart_ns <= this.config.syncMaxUncertaintyNs) state?.uplinkStats.record(last.uplink_wall_ns, sender);
    this.clockSync.delete(sender);
    this.clockSync.set(sender, c);
    // Most recently heard last; one status per sender must not grow /diagnostics without bound.
    if (this.clockSync.size > MAX_CLOCK_SYNC_SENDERS) this.clockSync.delete(this.clockSync.keys().next().value as string);
  }

  private isOwnOutput(topic: string): boolean {
    const { latency, others } = this.ownOutputs;
    return topic === latency || topic.startsWith(`${latency}/`) || others.includes(topic);
  }

  private republishedName(topic: string, clientId: string | null): string {
    if (this.config.topicPrefix === '') return topic;
    // A client id is free text ("" too: filed with the senders that have none); a ROS name token takes only [A-Za-z0-9_]
    // and must not start with a digit.
    const id = (clientId || 'anonymous').replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_');
    const prefix = this.config.topicPrefix.replaceAll('{client_id}', id).replace(/\/+$/, '');
    return `${prefix.startsWith('/') ? '' : '/'}${prefix}${topic}`;
  }

  private openTopic(topic: string, env: ParsedEnvelope): TopicState {
    const q = env.qos ? qos(env.qos.reliability, env.qos.durability, Math.max(1, env.qos.depth)) : this.config.defaultQos;
    // Creating the publisher checks that the type exists here, before any per-topic state is kept.
    const publisher = this.node.createPublisher(env.type, topic, q);
    // The sender's name (PROTOCOL-level topic, without prefix), as for a single vehicle; per vehicle as well when the
    // prefix tells vehicles apart, so a fleet's /fix latencies can be read one vehicle at a time.
    let shared = this.latencyPublishers.get(env.topic);
    if (shared === undefined) {
      shared = this.openLatencyPublisher(`~/latency${env.topic}`, topic);
      this.latencyPublishers.set(env.topic, shared);
    }
    const perVehicle = this.config.topicPrefix.includes('{client_id}') ? this.openLatencyPublisher(`~/latency${topic}`, topic) : null;
    const latencyPublishers = [shared, perVehicle].filter((p): p is RosPublisher => p !== null);
    const encodeCdr = this.node.rawIsCdr === true && cdrJsonSupports(this.lookup, env.type, this.node.cdrWstringUnitBytes);
    const stats = new LatencyStats();
    const ageStats = new LatencyStats();
    const uplinkStats = new LatencyStats();
    const state: TopicState = {
      topic, senderTopic: env.topic, type: env.type, publisher, qos: q, encodeCdr, latencyPublishers, stats, lastWindow: stats.window(),
      ageStats, lastAgeWindow: ageStats.window(), uplinkStats, lastUplinkWindow: uplinkStats.window(),
      messages: 0, published: 0, resends: 0, dropped: 0, senders: new Map(), retired: sumCounts([]),
    };
    this.topics.set(topic, state);
    this.node.logger.info(`republishing ${topic} (${env.type}, ${qosText(q)})`);
    return state;
  }

  /**
   * A topic keeps the publisher of its first message, but its sender's QoS can change: a bridge resubscribes when its
   * publishers change (a driver restarted reliable where it was best_effort), and vehicles sharing a topic may differ.
   * A reliable subscriber never hears a best_effort publisher and a transient_local one never matches a volatile one,
   * so the server would stay deaf to subscribers the vehicle's own publishers serve. The publisher is made anew with
   * the QoS that serves both; only ever towards reliable and transient_local, so that senders who differ cannot make
   * it flap. ROS 1 subscribers hear every publisher, so there only latching counts: a subscriber that comes later
   * gets what a latched publisher holds, and nothing from another.
   */
  private widenQos(state: TopicState, offered: EnvelopeQos, sender: string): void {
    const wider = widerQos(state.qos, this.node.qosCanExclude === false ? { ...offered, reliability: state.qos.reliability } : offered);
    if (wider === null) return;
    let publisher: RosPublisher;
    try {
      publisher = this.node.createPublisher(state.type, state.topic, wider);
    } catch (err) {
      this.throttle.warn(`qos:${state.topic}`, `cannot republish ${state.topic} as ${qosText(wider)}: ${(err as Error).message}; it stays ${qosText(state.qos)}`);
      return;
    }
    state.publisher.destroy();
    this.node.logger.info(`republishing ${state.topic} as ${qosText(wider)} (was ${qosText(state.qos)}): ${sender} forwards it so`);
    state.publisher = publisher;
    state.qos = wider;
  }

  /**
   * At most two per republished topic (so bounded by the topics kept). A name ROS refuses (longer than rmw allows: the
   * topic's name plus the node's may be, when the topic's alone is not) costs the topic that latency output, not its
   * messages: the topic's latency still goes to ~/latency and /diagnostics.
   */
  private openLatencyPublisher(name: string, topic: string): RosPublisher | null {
    try {
      return this.node.createPublisher(FLOAT64, name, OUTPUT_QOS);
    } catch (err) {
      this.dropLines.warn(this.node.logger, `no ${name} for ${topic}: ${(err as Error).message}; its latency is still in ~/latency and /diagnostics`);
      return null;
    }
  }

  /**
   * Makes room under max_topics by closing the oldest topic none of whose senders is connected, latched ones last: at a roadside unit
   * vehicles with ever new client ids pass by all day, and the topics of those that left would otherwise keep the
   * ones arriving from being republished. False when every topic has a sender connected.
   */
  private reclaimTopic(): boolean {
    // Only a disconnect can make a topic idle: a client sending ever new topics while every sender is connected must
    // not cost a scan of all topics per message.
    if (!this.mayReclaim) return false;
    const connected = new Set([...this.peers].map(([peer, id]) => senderKey({ client_id: id, peer })));
    const idleTopics = [...this.topics.values()].filter((t) => ![...t.senders.keys()].some((sender) => connected.has(sender)));
    // A latched topic last: a vehicle that comes back resends its ordinary topics with their next message, but not
    // what it latched once.
    const idle = idleTopics.find((t) => t.qos.durability !== 'transient_local') ?? idleTopics[0];
    if (idle === undefined) {
      this.mayReclaim = false;
      return false;
    }
    this.topics.delete(idle.topic);
    idle.publisher.destroy();
    const stillShared = [...this.topics.values()].some((t) => t.senderTopic === idle.senderTopic);
    const shared = this.latencyPublishers.get(idle.senderTopic);
    for (const p of idle.latencyPublishers) if (p !== shared || !stillShared) p.destroy();
    if (!stillShared) this.latencyPublishers.delete(idle.senderTopic);
    this.node.logger.info(`stopped republishing ${idle.topic} to make room under max_topics (${this.config.maxTopics}): none of its senders is connected`);
    return true;
  }

  private rememberId(id: string, topic: string, heldNs: number): void {
    if (this.pendingIds.size >= this.maxPendingIds) this.pendingIds.delete(this.pendingIds.keys().next().value as string);
    this.pendingIds.set(id, { topic, heldNs });
  }

  private drop(reason: DropReason, state: TopicState | null, message: string, topic = state?.topic ?? ''): void {
    this.drops[reason]++;
    if (state) state.dropped++;
    this.throttle.warn(`${reason}:${topic}`, message);
  }

  /**
   * Like drop, for a failure that will repeat for every message of the topic (or of the messages `which` names):
   * counted each time, logged once.
   */
  private refuse(reason: DropReason, state: TopicState | null, topic: string, message: string, which = `for ${topic}`): void {
    this.drops[reason]++;
    if (state) state.dropped++;
    const key = `${reason}:${which}`;
    if (this.refused.has(key)) return;
    // Bounded like the topics: what a client can name, it can name without end.
    if (this.refused.size >= MAX_REFUSED_KEYS) this.refused.delete(this.refused.values().next().value as string);
    this.refused.add(key);
    this.dropLines.warn(this.node.logger, `${message}; further messages ${which} are dropped without a log line (counted in /diagnostics)`);
  }

  private onConnection(p: PeerInfo): void {
    this.peers.set(p.peer, p.client_id);
    this.connectionLines.info(this.node.logger, `peer ${p.peer} connected`);
  }

  /**
   * Seq accounting is per client id, so two bridges sharing one (the default is the host name: two bridges on one
   * machine) count as one sender restarting and skipping all the time: hundreds of lost messages where none were.
   */
  private onHello(p: PeerInfo): void {
    const others = [...this.peers].filter(([peer, id]) => id !== null && id === p.client_id && peer !== p.peer).map(([peer]) => peer);
    // The connection was logged by address, before its hello; which vehicle it is matters to whoever reads the log.
    if (p.client_id !== null && this.peers.get(p.peer) !== p.client_id) this.connectionLines.info(this.node.logger, `peer ${p.peer} is client_id ${logSafe(p.client_id)}`);
    this.peers.set(p.peer, p.client_id);
    if (others.length === 0) return;
    this.throttle.warn(
      `client_id:${p.client_id}`,
      `client_id ${logSafe(p.client_id ?? '')} is connected from ${p.peer} and ${others.join(', ')} at once (two bridges, or an old connection of one not closed ` +
        'yet): two bridges with one client_id count as one sender, so the lost, duplicate and reordered counts of topics they share are wrong; ' +
        'give each bridge its own client_id (default: the host name)',
    );
  }

  private onDisconnect(p: PeerInfo): void {
    this.peers.delete(p.peer);
    this.mayReclaim = true;
    this.connectionLines.info(this.node.logger, `peer ${p.client_id === null ? p.peer : logSafe(p.client_id)} disconnected`);
  }
}

/** Whose seq accounting a message counts in (TopicState.senders): its client id, else its connection. */
function senderKey(p: { client_id: string | null; peer: string }): string {
  return p.client_id ?? p.peer;
}

/** ns to ms; NaN for a window without samples (as ~/latency_stats has it), where the summary's 0 would read 0 ms. */
function msOf(s: LatencySummary): (ns: number) => number {
  return (ns) => (s.count > 0 ? ns / 1e6 : NaN);
}

function latencyValues(s: LatencySummary): Record<string, number> {
  const ms = msOf(s);
  return {
    latency_window_samples: s.count,
    latency_mean_ms: ms(s.mean),
    latency_min_ms: ms(s.min),
    latency_max_ms: ms(s.max),
    latency_p50_ms: ms(s.p50),
    latency_p95_ms: ms(s.p95),
    latency_p99_ms: ms(s.p99),
    latency_jitter_ms: ms(s.jitter),
  };
}

function ageValues(s: LatencySummary): Record<string, number> {
  const ms = msOf(s);
  return { age_window_samples: s.count, age_p50_ms: ms(s.p50), age_p95_ms: ms(s.p95), age_max_ms: ms(s.max) };
}

/** Negative uplinks (offset error larger than the uplink) count as 0 in the percentiles. */
function uplinkValues(s: LatencySummary): Record<string, number> {
  const ms = msOf(s);
  return { uplink_wall_window_samples: s.count, uplink_wall_p50_ms: ms(s.p50), uplink_wall_p95_ms: ms(s.p95), uplink_wall_max_ms: ms(s.max) };
}

function sumCounts(all: SeqCounts[]): SeqCounts {
  const out: SeqCounts = { received: 0, lost: 0, sender_dropped: 0, duplicates: 0, reordered: 0, late: 0, restarts: 0 };
  for (const c of all) for (const k of Object.keys(out) as Array<keyof SeqCounts>) out[k] += c[k];
  return out;
}

/**
 * The QoS that serves the subscribers of both `current` and what a sender `offered` (a reliable publisher serves
 * best_effort subscribers too, a transient_local one volatile subscribers too); null when `current` serves them
 * already. The deeper queue, but a transient_local depth only from a transient_local side: it is what late joiners
 * are handed, and a volatile stream's depth of 100 would hand them a hundred old messages.
 */
export function widerQos(current: QosProfile, offered: EnvelopeQos): QosProfile | null {
  const reliability = offered.reliability === 'reliable' ? 'reliable' : current.reliability;
  const durability = offered.durability === 'transient_local' ? 'transient_local' : current.durability;
  if (reliability === current.reliability && durability === current.durability) return null;
  const latched = [current, offered].filter((q) => q.durability === 'transient_local').map((q) => q.depth);
  return qos(reliability, durability, Math.max(1, ...(latched.length > 0 ? latched : [current.depth, offered.depth])));
}
