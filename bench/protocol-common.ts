/**
 * What the protocol benchmark's orchestrator and its child processes (server, client) agree on: the
 * implementations compared, how payloads and raw frames look, and the JSON lines they exchange on stdout.
 */
import type * as net from 'node:net';
import * as path from 'node:path';
import { monotonicNs } from '../src/fastsocket';

/** Compiled to build/bench/, so the source tree is two levels up. */
export const REPO_ROOT = path.resolve(__dirname, '../..');
/** Debian's interpreter, as the project requires (not whatever python3 is first on PATH). */
export const PYTHON = '/usr/bin/python3';
export const PEER_PY = path.join(REPO_ROOT, 'test/interop/peer.py');
export const SERVER_JS = path.join(__dirname, 'protocol-server.js');
export const CLIENT_JS = path.join(__dirname, 'protocol-client.js');
export const MQTT_SUBSCRIBER_JS = path.join(__dirname, 'protocol-mqtt-subscriber.js');

export const IMPLS = ['python-peer', 'raw-tcp', 'raw-tcp-onread', 'raw-ws', 'raw-tcp-bytes', 'mqtt-mosquitto', 'fastsocket-tcp', 'fastsocket-ws'] as const;
export type Impl = (typeof IMPLS)[number];
/** Implementations whose server and client are the Node child processes of this folder. */
export type NodeImpl = Exclude<Impl, 'python-peer' | 'mqtt-mosquitto'>;
/** Implementations whose client is protocol-client.js (mqtt-mosquitto: the publisher; its server is mosquitto). */
export type ClientImpl = NodeImpl | 'mqtt-mosquitto';

export const IMPL_LABELS: Record<Impl, string> = {
  'python-peer': 'Python peer (original style)',
  'raw-tcp': 'raw Node TCP NDJSON echo',
  'raw-tcp-onread': 'same, client reads via onread',
  'raw-ws': 'raw ws JSON echo',
  'raw-tcp-bytes': 'raw TCP byte echo (ceiling)',
  'mqtt-mosquitto': 'MQTT via mosquitto (QoS 1)',
  'fastsocket-tcp': 'fastsocket tcp://',
  'fastsocket-ws': 'fastsocket ws://',
};

/**
 * The floor each fastsocket row is compared with: the hand-written JSON echo over the same transport (parse
 * each message, write each reply), which is what an application gets without a protocol library. Its client reads
 * 'data' events, as ordinary Node code does; the fastsocket tcp:// client reads into one reused buffer (`onread`),
 * so the raw-tcp-onread row (the same echo, its client reading that way) shows how much of the difference is the
 * read path rather than the protocol.
 */
export const RAW_FLOOR: Partial<Record<Impl, Impl>> = { 'fastsocket-tcp': 'raw-tcp', 'fastsocket-ws': 'raw-ws' };

/**
 * Rows a fastsocket row is also compared with, for information (no target): the onread echo, and the MQTT bridge
 * path (through a broker) users weigh fastsocket against.
 */
export const ALSO_COMPARED: Partial<Record<Impl, Impl[]>> = { 'fastsocket-tcp': ['raw-tcp-onread', 'mqtt-mosquitto'], 'fastsocket-ws': ['mqtt-mosquitto'] };

export function isNodeImpl(value: string): value is NodeImpl {
  return (IMPLS as readonly string[]).includes(value) && value !== 'python-peer' && value !== 'mqtt-mosquitto';
}

export function isClientImpl(value: string): value is ClientImpl {
  return isNodeImpl(value) || value === 'mqtt-mosquitto';
}

/** The topic the MQTT publisher and subscriber share. */
export const MQTT_TOPIC = 'fastsocket/bench';

/**
 * Monotonic ns that another process on this host can compare (CLOCK_MONOTONIC, unlike `nowNs`, whose origin is
 * per process): the MQTT row's rate runs from the publisher's first write to the subscriber's last read.
 */
export function hostMonotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** The payload every implementation sends: a JSON string of `bytes` "x" (as `peer.py --payload-bytes` sends). */
export function payloadOf(bytes: number): string {
  return 'x'.repeat(bytes);
}

/**
 * Message 1 exactly as fastsocket and the Python peer put it on the wire (minus the optional extension fields),
 * so the raw echoes carry the same bytes. The id has a uuid's length; the echoes never look inside.
 */
export function rawFrame(seq: number, payloadJson: string): string {
  return `{"id":"${String(seq).padStart(36, '0')}","type":"message","payload":${payloadJson}}`;
}

/** First stdout line of a server child. */
export interface ListeningLine {
  event: 'listening';
  url: string;
}

/** Last stdout line of a server child, after SIGTERM. */
export interface ServerSummaryLine {
  event: 'summary';
  /** Messages the server's application saw (raw echoes: lines or WebSocket messages echoed). */
  messages: number;
}

export type ClientMode = 'rtt' | 'pipeline';

/** The one stdout line of a client child. */
export interface ClientResultLine {
  event: 'result';
  mode: ClientMode;
  count: number;
  /** rtt mode: percentiles of the measured (post-warm-up) round trips, in us. */
  rtt_p50_us?: number;
  rtt_p99_us?: number;
  /** The 50th- and 10th-slowest of 10,000: where rare pauses (a young-generation GC) show. */
  rtt_p995_us?: number;
  rtt_p999_us?: number;
  rtt_mean_us?: number;
  /** pipeline mode: measured messages / (last reply read - first write). */
  msgs_per_s?: number;
  elapsed_s?: number;
  /** pipeline mode: this process's CPU time (user + system) during the measured messages, per message. */
  client_cpu_us_per_msg?: number;
  /** pipeline mode: `hostMonotonicNs()` just before the first measured write. */
  first_write_host_ns?: number;
}

/** The MQTT subscriber's lines: one once its subscription is acknowledged, one when it has every message. */
export type MqttSubscriberLine =
  | { event: 'subscribed' }
  | {
      event: 'delivered';
      /** Messages received, warm-ups included. */
      count: number;
      /** `hostMonotonicNs()` when the last message was handed to the application. */
      last_read_host_ns: number;
      /** This process's CPU time over the last `measured` messages, per message. */
      cpu_us_per_msg: number;
    };

export const NS_PER_US = 1000;

/**
 * For bench:tail: a folder where the Node clients write their one-in-flight series (RttSeries, `rtt-<pid>.json`) and
 * the processes that preload gc-marks.js their GC pauses.
 */
export const SERIES_DIR_ENV = 'FASTSOCKET_BENCH_SERIES_DIR';

/** Each measured exchange of a one-in-flight phase: when it began (ms since the epoch) and its RTT (ns). */
export interface RttSeries {
  start_ms: number[];
  rtt_ns: number[];
}

/** A child process's integer flag `--name`, at least `min`; anything else goes to `usage`, which exits. */
export function integerArg(name: string, value: string | undefined, min: number, usage: (problem: string) => never): number {
  const n = Number(value);
  if (value === undefined || !Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min} (got ${value})`);
  return n;
}

/**
 * Monotonic ns as a number: the library's clock (only that module, so a raw echo does not load the library), whose
 * values never pass from small integers to doubles mid-run and deoptimise the measuring loop.
 */
export const nowNs = monotonicNs;

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines (without the newline), as a hand-written NDJSON reader does. With `transient`,
 * each chunk's memory is reused once the returned function returns (a socket opened with `onread`), so the start
 * of an unfinished line is copied.
 */
export function lineSplitter(onLine: (line: Buffer) => void, transient = false): (chunk: Buffer) => void {
  let partial: Buffer[] = [];
  return (chunk) => {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      onLine(partial.length === 0 ? piece : Buffer.concat([...partial, piece]));
      partial = [];
      start = nl + 1;
    }
    if (start < chunk.length) partial.push(transient ? Buffer.from(chunk.subarray(start)) : chunk.subarray(start));
  };
}

/** Lines of a socket read by 'data' events (a server's accepted socket). */
export function onLines(socket: net.Socket, onLine: (line: Buffer) => void): void {
  socket.on('data', lineSplitter(onLine));
}
