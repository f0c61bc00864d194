/** The server node's parameters, read once into a frozen config; a bad value throws ParameterError naming it. */
import { DEFAULT_URL } from './bridge-config';
import { ParameterError } from './errors';
import { ParamReader, positive } from './params';
import { RosNode } from './port';
import { DURABILITIES, Durability, qos, QosProfile, Reliability, RELIABILITIES } from './qos';

export interface ServerConfig {
  readonly url: string;
  /** Prepended to every topic; `{client_id}` is replaced by the sender's id. Empty: the sender's topic name. */
  readonly topicPrefix: string;
  /** Used for envelopes that carry no QoS (e.g. from a ROS 1 bridge). */
  readonly defaultQos: QosProfile;
  readonly statsWindowS: number;
  readonly diagnosticsPeriodS: number;
  /** null: no dedup journal. */
  readonly stateDir: string | null;
  readonly token: string | null;
}

/** @throws ParameterError */
export function readServerConfig(node: RosNode): ServerConfig {
  const r = new ParamReader(node);
  const url = r.string('url', DEFAULT_URL, 'Address to listen on, e.g. tcp://0.0.0.0:8888 to accept other machines.');
  const topicPrefix = r.string('topic_prefix', '', 'Prefix for republished topics; may contain {client_id}. Empty: same names.');
  const stripped = topicPrefix.replaceAll('{client_id}', 'x');
  if (stripped !== '' && !/^\/?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*\/?$/.test(stripped)) {
    throw new ParameterError('topic_prefix', `${JSON.stringify(topicPrefix)} is not a topic namespace like /remote or /{client_id}`);
  }
  const depth = r.integer('qos_depth', 10, 'Default queue depth when a message carries no QoS.', positive);
  const reliability = r.choice<Reliability>('qos_reliability', 'reliable', RELIABILITIES, 'Default reliability when a message carries no QoS.');
  const durability = r.choice<Durability>('qos_durability', 'volatile', DURABILITIES, 'Default durability when a message carries no QoS.');
  const statsWindowS = r.double('stats_window_s', 1.0, 'Window of ~/latency_stats and the /diagnostics percentiles, seconds.', positive);
  const diagnosticsPeriodS = r.double('diagnostics_period_s', 1.0, 'Period of /diagnostics, seconds.', positive);
  const stateDir = r.string('state_dir', '', 'Folder for the dedup journal, so each message is published once even across a restart; empty: none.');
  const token = r.string('token', '', 'Shared secret clients must present; empty: none.');
  return Object.freeze({
    url,
    topicPrefix,
    defaultQos: qos(reliability, durability, depth),
    statsWindowS,
    diagnosticsPeriodS,
    stateDir: stateDir === '' ? null : stateDir,
    token: token === '' ? null : token,
  });
}
