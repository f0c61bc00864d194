/** The server node's parameters, read once into a frozen config; a bad value throws ParameterError naming it. */
import { RECORD_FORMATS, recordFormatFor, type FastSocketServerOptions, type Logger, type RecordFormat, type ServerLimits, type TlsOptions } from '../fastsocket';
import { DEFAULT_URL } from './bridge-config';
import { ParameterError } from './errors';
import { readServerLimits } from './limit-params';
import { between, ParamReader, positive } from './params';
import { RosNode } from './port';
import { DURABILITIES, Durability, qos, QosProfile, Reliability, RELIABILITIES } from './qos';
import { readTls, readToken, SERVER_TLS_PARAMS } from './secret-params';

export interface ServerConfig {
  readonly url: string;
  /** Prepended to every topic; `{client_id}` is replaced by the sender's id. Empty: the sender's topic name. */
  readonly topicPrefix: string;
  /**
   * Republished topics kept at most; past it a topic of senders no longer connected is closed, or else a message for a
   * new topic is dropped (counted as topic_limit).
   */
  readonly maxTopics: number;
  /** Used for envelopes that carry no QoS (e.g. from a ROS 1 bridge). */
  readonly defaultQos: QosProfile;
  readonly statsWindowS: number;
  readonly diagnosticsPeriodS: number;
  /** null: no dedup journal. */
  readonly stateDir: string | null;
  /** Never logged. */
  readonly token: string | null;
  /** Certificate, key and (for mutual TLS) CA read from their files; null for tcp:// and ws://. */
  readonly tls: TlsOptions | null;
  readonly limits: Readonly<ServerLimits>;
  readonly syncMaxUncertaintyNs: number;
  /** One line per latency record, with topic and server wall time; null: no recording. */
  readonly record: { readonly path: string; readonly format: RecordFormat } | null;
}

/** @throws ParameterError */
export function readServerConfig(node: RosNode): ServerConfig {
  const r = new ParamReader(node);
  const url = r.url('url', DEFAULT_URL, 'Address to listen on, e.g. tcp://0.0.0.0:8888 to accept other machines.');
  const topicPrefix = r.string('topic_prefix', '', 'Prefix for republished topics; may contain {client_id}. Empty: same names.');
  const stripped = topicPrefix.replaceAll('{client_id}', 'x');
  if (stripped !== '' && !/^\/?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*\/?$/.test(stripped)) {
    throw new ParameterError('topic_prefix', `${JSON.stringify(topicPrefix)} is not a topic namespace like /remote or /{client_id}`);
  }
  const maxTopics = r.integer(
    'max_topics', 1000, 'Republished topics at most (each is a publisher); when reached, the oldest topic no connected sender sends is closed, else messages for further topics are dropped and counted. Default: 1000.', positive,
  );
  const depth = r.integer('qos_depth', 10, 'Default queue depth when a message carries no QoS.', positive);
  const reliability = r.choice<Reliability>('qos_reliability', 'reliable', RELIABILITIES, 'Default reliability when a message carries no QoS.');
  const durability = r.choice<Durability>('qos_durability', 'volatile', DURABILITIES, 'Default durability when a message carries no QoS.');
  const statsWindowS = r.double('stats_window_s', 1.0, 'Window of ~/latency_stats and the /diagnostics percentiles, seconds.', positive);
  const diagnosticsPeriodS = r.double('diagnostics_period_s', 1.0, 'Period of /diagnostics, seconds.', positive);
  const stateDir = r.string('state_dir', '', 'Folder for the dedup journal, so each message is published once even across a restart; empty: none.');
  const token = readToken(r, 'clients must present');
  const tls = readTls(r, url, SERVER_TLS_PARAMS, 'server');
  const limits = readServerLimits(r);
  const syncMaxUncertaintyNs = r.integer(
    'sync_max_uncertainty_ns', 1_000_000, 'Clock-synced records get sync_ok when the clock offset is known to within this, ns.', between(0, Number.MAX_SAFE_INTEGER),
  );
  const recordPath = r.string('record_path', '', 'File to write one line per latency record to (with topic and server wall time); empty: none.');
  const recordFormat = r.choice<RecordFormat | ''>('record_format', '', ['', ...RECORD_FORMATS], 'Empty: csv if record_path ends in .csv, else jsonl.');
  if (recordFormat !== '' && recordPath === '') throw new ParameterError('record_format', 'is set but record_path is empty');
  r.warnUnknownOverrides();
  return Object.freeze({
    url,
    topicPrefix,
    maxTopics,
    defaultQos: qos(reliability, durability, depth),
    statsWindowS,
    diagnosticsPeriodS,
    stateDir: stateDir === '' ? null : stateDir,
    token,
    tls: tls && Object.freeze(tls),
    limits: Object.freeze(limits),
    syncMaxUncertaintyNs,
    record: recordPath === '' ? null : Object.freeze({ path: recordPath, format: recordFormat === '' ? recordFormatFor(recordPath) : recordFormat }),
  });
}

/** The core server's options for this config. */
export function serverOptions(config: ServerConfig, logger: Logger): FastSocketServerOptions {
  return {
    url: config.url,
    stateDir: config.stateDir ?? undefined,
    token: config.token ?? undefined,
    tls: config.tls ?? undefined,
    syncMaxUncertaintyNs: config.syncMaxUncertaintyNs,
    ...config.limits,
    logger,
  };
}
