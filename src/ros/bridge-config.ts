/** The bridge's parameters, read once into a frozen config; a bad value throws ParameterError naming it. */
import { longerThan, MAX_CLIENT_ID_LENGTH } from '../fastsocket';
import type { FastSocketClientOptions, Logger, TlsOptions } from '../fastsocket';
import { ParameterError, UnknownTypeError } from './errors';
import { OutboxLimits, readOutboxLimits } from './limit-params';
import { normalizeTypeName } from './message-definition';
import { isValidTopicName, nonNegative, normalizePrivateName, ParamReader, positive } from './params';
import { RosNode } from './port';
import { DURABILITIES, Durability, QOS_PRESETS, QosRequest, Reliability, RELIABILITIES } from './qos';
import { CLIENT_TLS_PARAMS, readTls, readToken } from './secret-params';

export type Encoding = 'json' | 'cdr';

export interface BridgeTopicConfig {
  /** Topic name as configured (absolute, relative or private; the node resolves it). */
  readonly name: string;
  /** `pkg/msg/Name`, or null to take it from the first publisher found on the graph. */
  readonly type: string | null;
  /** What the user fixed; the rest matches the publishers found. */
  readonly qos: QosRequest;
  readonly encoding: Encoding;
  /** Forward at most this many messages per second (later ones inside the interval are skipped); null: all. */
  readonly maxRateHz: number | null;
  /**
   * Messages that waited in the bridge longer than this (receive -> hand-over to the client) are dropped as stale;
   * null: never. See Bridge for exactly what it bounds.
   */
  readonly maxAgeMs: number | null;
}

export interface BridgeConfig {
  readonly url: string;
  readonly clientId: string;
  /** null: no token in the hello. Never logged. */
  readonly token: string | null;
  /** CA and client certificate and key read from their files; null: none (Node's bundled CAs for tls:// and wss://). */
  readonly tls: TlsOptions | null;
  readonly outbox: OutboxLimits;
  /** File keeping unacknowledged messages across bridge restarts; null: memory only. */
  readonly outboxPath: string | null;
  /** Wall-clock timestamps in message 1 and ack 3 (the clock-synced extension). */
  readonly clockSync: boolean;
  readonly topics: readonly BridgeTopicConfig[];
  readonly diagnosticsPeriodS: number;
}

export const DEFAULT_URL = 'tcp://127.0.0.1:8888';
const TOPIC_OPTION_KEYS = ['name', 'type', 'qos_preset', 'qos_depth', 'qos_reliability', 'qos_durability', 'encoding', 'max_rate_hz', 'max_age_ms'] as const;

/**
 * Declares and reads every bridge parameter. `topic_options.<alias>.*` keys are found through the node's overrides,
 * since ROS has no way to ask for "all parameters under a prefix" before they are declared.
 * @param hostname default client_id
 * @throws ParameterError
 */
export function readBridgeConfig(node: RosNode, hostname: string): BridgeConfig {
  const r = new ParamReader(node);
  const url = r.url('url', DEFAULT_URL, 'Server to forward to: tcp://, tls://, ws:// or wss://host:port.');
  const clientId = r.string('client_id', hostname, 'Sent in the hello so the server can tell vehicles apart. Default: the host name.');
  // Characters as the wire counts them (code points), so an id the server accepts is never refused here.
  if (clientId.length === 0 || longerThan(clientId, MAX_CLIENT_ID_LENGTH)) throw new ParameterError('client_id', `must be 1 to ${MAX_CLIENT_ID_LENGTH} characters`);
  const token = readToken(r, 'the server requires');
  const tls = readTls(r, url, CLIENT_TLS_PARAMS, 'client');
  const outbox = readOutboxLimits(r);
  const outboxPath = r.string('outbox_path', '', 'File that keeps unacknowledged messages across bridge restarts; empty: memory only.');
  const clockSync = r.boolean('clock_sync', false, 'Add wall-clock timestamps so the server can report the uplink alone; meaningful only with synchronised clocks.');
  const diagnosticsPeriodS = r.double('diagnostics_period_s', 1.0, 'Period of /diagnostics, seconds.', positive);
  const listed = r.stringArray('topics', [], 'Topics to forward, e.g. ["/chatter", "/fix"]; type and QoS are discovered.');

  // Keyed by the resolved name, so that "chatter" and "/chatter" (in namespace /) are one topic, refined once.
  const byName = new Map<string, BridgeTopicConfig>();
  listed.forEach((written, i) => {
    const name = normalizePrivateName(written);
    if (!isValidTopicName(name)) throw new ParameterError('topics', `entry ${i} ${JSON.stringify(written)} is not a valid topic name`);
    byName.set(node.resolveTopicName(name), freezeTopic({ name, type: null, qos: {}, encoding: 'json', maxRateHz: null, maxAgeMs: null }));
  });
  const aliasOf = new Map<string, string>();
  for (const alias of topicOptionAliases(node)) {
    const t = readTopicOptions(r, node, alias);
    const resolved = node.resolveTopicName(t.name);
    const other = aliasOf.get(resolved);
    if (other !== undefined) {
      throw new ParameterError(`topic_options.${alias}`, `names ${resolved}, as topic_options.${other} does; give each topic one entry`);
    }
    aliasOf.set(resolved, alias);
    byName.set(resolved, t);
  }
  r.warnUnknownOverrides();
  return Object.freeze({
    url, clientId, token, tls: tls && Object.freeze(tls), outbox: Object.freeze(outbox), outboxPath: outboxPath === '' ? null : outboxPath, clockSync,
    topics: Object.freeze([...byName.values()]), diagnosticsPeriodS,
  });
}

/** The core client's options for this config. */
export function clientOptions(config: BridgeConfig, logger: Logger): FastSocketClientOptions {
  return {
    url: config.url,
    clientId: config.clientId,
    token: config.token ?? undefined,
    tls: config.tls ?? undefined,
    outboxPath: config.outboxPath ?? undefined,
    clockSync: config.clockSync,
    ...config.outbox,
    logger,
  };
}

function topicOptionAliases(node: RosNode): string[] {
  const aliases = new Set<string>();
  for (const p of node.parameterOverrides()) {
    if (!p.name.startsWith('topic_options.')) continue;
    const parts = p.name.split('.');
    if (parts.length !== 3 || !(TOPIC_OPTION_KEYS as readonly string[]).includes(parts[2])) {
      throw new ParameterError(p.name, `unknown setting; topic_options.<alias> takes ${TOPIC_OPTION_KEYS.join(', ')}`);
    }
    aliases.add(parts[1]);
  }
  return [...aliases].sort();
}

function readTopicOptions(r: ParamReader, node: RosNode, alias: string): BridgeTopicConfig {
  const key = (k: string): string => `topic_options.${alias}.${k}`;
  const name = normalizePrivateName(r.string(key('name'), `/${alias}`, 'Topic name. Default: /<alias>.'));
  if (!isValidTopicName(name)) throw new ParameterError(key('name'), `${JSON.stringify(name)} is not a valid topic name`);
  const rawType = r.string(key('type'), '', 'Message type, e.g. sensor_msgs/msg/NavSatFix; empty: discovered.');
  const type = rawType === '' ? null : normalizeTypeName(rawType);
  if (type === null && rawType !== '') throw new ParameterError(key('type'), `${JSON.stringify(rawType)} is not a type name like pkg/msg/Name`);
  if (type !== null && typesMustBeInstalled(node)) {
    try {
      node.messageDefinition(type);
    } catch (err) {
      if (err instanceof UnknownTypeError) throw new ParameterError(key('type'), `${type} is not a message type known here`);
      throw err;
    }
  }
  const preset = r.string(key('qos_preset'), '', `QoS preset: ${Object.keys(QOS_PRESETS).join(', ')}; empty: match the publishers.`);
  if (preset !== '' && !(preset in QOS_PRESETS)) {
    throw new ParameterError(key('qos_preset'), `expected one of ${Object.keys(QOS_PRESETS).join(', ')}, got ${JSON.stringify(preset)}`);
  }
  const depth = r.integer(key('qos_depth'), 0, 'Queue depth; 0: from the preset or the publishers.', nonNegative);
  const reliability = r.choice<Reliability | ''>(key('qos_reliability'), '', ['', ...RELIABILITIES], 'Empty: from the preset or the publishers.');
  const durability = r.choice<Durability | ''>(key('qos_durability'), '', ['', ...DURABILITIES], 'Empty: from the preset or the publishers.');
  const encoding = r.choice<Encoding>(key('encoding'), 'json', ['json', 'cdr'], 'json: portable; cdr: the serialized bytes, ROS 2 to ROS 2 only.');
  const maxRateHz = r.double(key('max_rate_hz'), 0, 'Forward at most this many messages per second; 0: all.', nonNegative);
  const maxAgeMs = r.double(key('max_age_ms'), 0, 'Drop messages that waited longer than this in the bridge (e.g. while offline), ms; 0: never.', nonNegative);
  const base: QosRequest = preset === '' ? {} : QOS_PRESETS[preset];
  const qos: QosRequest = Object.freeze({
    reliability: reliability === '' ? base.reliability : reliability,
    durability: durability === '' ? base.durability : durability,
    depth: depth === 0 ? base.depth : depth,
  });
  return freezeTopic({ name, type, qos, encoding, maxRateHz: maxRateHz === 0 ? null : maxRateHz, maxAgeMs: maxAgeMs === 0 ? null : maxAgeMs });
}

function freezeTopic(t: BridgeTopicConfig): BridgeTopicConfig {
  return Object.freeze({ ...t, qos: Object.freeze({ ...t.qos }) });
}

/**
 * True where a subscription needs the type installed locally, so a configured type unknown now would never forward:
 * ROS 2, the port that hands over real CDR. ROS 1 learns a type from its publisher's connection header instead.
 */
function typesMustBeInstalled(node: RosNode): boolean {
  return node.rawIsCdr === true;
}
