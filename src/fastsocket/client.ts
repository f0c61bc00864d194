/**
 * The sending side of fastSocket: a bounded outbox of unacknowledged messages, written over one connection that
 * is re-established with backoff; after a reconnect every unacknowledged message is written again, marked resent.
 */
import { EventEmitter } from 'node:events';
import { clockOption, MonotonicClock, monotonicNs, wallNs } from './clock';
import { badFrameCloseReason, decodeServerFrame, encodeAck3, encodeHello, encodeMessage, encodeMessageBytes, encodePayload, isMessageId, longerThan, messageFrameBytes, payloadJsonBytes } from './codec';
import { DroppedError, FastSocketError, FastSocketErrorCode, isOutboxFull, OptionError, ProtocolError } from './errors';
import { newMessageId } from './ids';
import { checkLogger, Logger, quoteForLog } from './logger';
import {
  checkBoolean, checkInteger, orDefault, checkKnownKeys, checkString, ClientLimits, describe, OptionalProps, DEFAULT_SERVER_LIMITS, MAX_TIMER_MS, validateClientLimits,
} from './options';
import { certificateValidityProblem, checkTlsOptions } from './tls-options';
import { connect, FrameConnection, isTlsAlert, isWebSocketProtocolError, SERVER_REFUSING, tlsAlertError, TlsOptions } from './transport';
import { DEFAULT_URL, Endpoint, formatUrl, parseUrl } from './url';
import { OutboxStore } from './outbox-store';
import { WarnBudget } from './warn-budget';
import { emitToEach } from './listeners';
import { settledWithin, TimerHandle, Timers, timersOption } from './timers';
import { MAX_CLIENT_ID_LENGTH, MAX_ID_LENGTH } from './wire';

const noop = (): void => undefined;

/** Options of FastSocketClient; each is validated in the constructor, which throws a TypeError naming a bad one. */
export interface FastSocketClientOptions extends OptionalProps<ClientLimits> {
  /** Server to send to. @default 'tcp://127.0.0.1:8888' */
  url?: string | undefined;
  /** Identifies this client to the server (sent in a hello frame); e.g. a vehicle name. @default null */
  clientId?: string | null | undefined;
  /** Shared secret for a server that requires one (sent in the hello; on ws also as `Authorization: Bearer` when it is visible ASCII). @default undefined (none sent) */
  token?: string | undefined;
  /** CA, client certificate and key for tls:// and wss://. @default undefined (the server is verified against Node's CAs) */
  tls?: TlsOptions | undefined;
  /** Timeout of one connection attempt. @default 10000 */
  connectTimeoutMs?: number | undefined;
  /**
   * A connection on which messages wait for their ack 2 and from which nothing at all has been read for this long is
   * taken for dead, closed and dialled again (the messages are resent): a NAT that forgot the mapping, or a link that
   * died without a reset, otherwise holds them until the kernel gives up on the connection (about 15 minutes on
   * Linux, never behind a proxy that keeps its side open). Acks still arriving, however slowly, keep it alive. 0 never
   * closes. @default 30000
   */
  silenceTimeoutMs?: number | undefined;
  /** Stop writing while this many bytes are unsent (the server is not reading). @default 1 MiB */
  writeHighWaterBytes?: number | undefined;
  /**
   * File that keeps unacknowledged messages across restarts of this process. Messages found there are sent again
   * (marked resent) as soon as the client is constructed. Messages still unacknowledged at close() stay in it.
   * @default undefined (the outbox is kept in memory only)
   */
  outboxPath?: string | undefined;
  /**
   * Drop (FS_ERR_DROPPED) a message once this many connections closed while it was the oldest unacknowledged one:
   * a message the server keeps refusing (e.g. larger than its max_frame_bytes) then stops blocking the ones behind
   * it. 0 never drops, because a proxy in front of a server that is down looks the same and an outage must not
   * lose data; a warning is logged at the 3rd such close and every 10th instead. @default 0
   */
  maxAttempts?: number | undefined;
  /** Consecutive bad frames from the server after which the connection is closed (and re-established). @default 10 */
  maxBadFrames?: number | undefined;
  /**
   * A frame from the server that has started must complete within this, else the connection is closed (and
   * re-established, resending what was unacknowledged), as a server does with its peers (§5). @default 10000
   */
  frameTimeoutMs?: number | undefined;
  /** Add wall-clock timestamps to message 1 and ack 3 (the clock-synced extension). @default false */
  clockSync?: boolean | undefined;
  /** Receives what the client has to say; the library never writes to the console. @default silentLogger */
  logger?: Logger | undefined;
  /** Monotonic clock in ns; injectable for tests. @default monotonicNs */
  clock?: MonotonicClock | undefined;
  /** Uniform random in [0, 1) for backoff jitter; injectable for tests. @default Math.random */
  random?: (() => number) | undefined;
  /**
   * The timers of backoff, probes, watchdogs and close(); injectable so tests drive them with a fake clock (e.g.
   * @sinonjs/fake-timers' `createClock()`). @default nodeTimers
   */
  timers?: Timers | undefined;
  /**
   * Makes the id of each message: a non-empty string of at most 128 characters, unique among those not yet
   * acknowledged (PROTOCOL.md: a UUID v4; the server deduplicates by id). @default random v4 UUIDs
   */
  newId?: (() => string) | undefined;
}

/** See FastSocketClientOptions.silenceTimeoutMs. */
export const DEFAULT_SILENCE_TIMEOUT_MS = 30_000;

const KNOWN_OPTIONS = [
  'url', 'clientId', 'token', 'tls', 'connectTimeoutMs', 'silenceTimeoutMs', 'writeHighWaterBytes', 'clockSync', 'outboxPath', 'maxAttempts', 'maxBadFrames', 'frameTimeoutMs', 'logger', 'clock', 'random', 'timers', 'newId',
  'outboxMaxMessages', 'outboxMaxBytes', 'outboxPolicy', 'reconnectMinMs', 'reconnectMaxMs', 'reconnectJitter', 'maxFrameBytes',
];

/** What send() resolves with once the server has acknowledged the message. */
export interface SendResult {
  id: string;
  /** T1: message 1 written -> ack 2 read, in ns. */
  rtt_ns: number;
  /** Delivered by a resend after a reconnect. */
  resent: boolean;
}

/** Options of one send(). */
export interface SendOptions {
  /**
   * Drop the message (FS_ERR_EXPIRED) rather than write it once it is older than this, in ms since send(): data that
   * is worthless late (V2X messages have lifetimes) then never queues behind a link slower than the traffic. A
   * message already written on the live connection is on the link and not recalled; one written on a connection
   * that broke is not resent past it. Not kept in outboxPath. @default no limit
   */
  maxAgeMs?: number | undefined;
}

const SEND_OPTIONS: readonly (keyof SendOptions)[] = ['maxAgeMs'];

/** Counters of FastSocketClient.stats(), since the client was created (outbox_* and connected: now). */
export interface ClientStats {
  /** Messages written for the first time. */
  sent: number;
  delivered: number;
  /** Messages dropped by the outbox policy or their maxAgeMs, each counted once. */
  dropped: number;
  /** Of dropped: messages older than their send()'s maxAgeMs before they could be written. */
  expired: number;
  /** Messages still unacknowledged when close() gave up or destroy() was called. */
  abandoned: number;
  /** Sends refused by the 'reject' outbox policy. */
  rejected: number;
  /** Writes of a message that had been written on an earlier connection. */
  resent: number;
  reconnects: number;
  connect_failures: number;
  /**
   * Acks 2 that answer no message written on their connection and waiting for its ack (a server acking ids it was
   * not sent, or a message before it was written); ignored, and warned about once per 10 s.
   */
  unknown_acks: number;
  /** Frames from the server that were dropped as malformed (each is logged). */
  bad_frames: number;
  /** Connections closed after max_bad_frames consecutive bad frames from the server. */
  closed_bad: number;
  /** Connections closed because the server sent a frame larger than max_frame_bytes. */
  closed_oversize: number;
  /** Connections closed because a frame from the server did not complete within frameTimeoutMs. */
  closed_frame_timeout: number;
  /** Connections taken for dead: nothing read for silenceTimeoutMs while messages waited for their ack. */
  closed_silent: number;
  /** ws/wss connections closed because the server broke the WebSocket protocol (RFC 6455), e.g. a masked frame. */
  closed_protocol: number;
  /**
   * Failed writes of the outboxPath file (a full disk). The messages are still sent from memory; those written while
   * it failed would not survive a restart of the client.
   */
  outbox_path_errors: number;
  outbox_messages: number;
  outbox_bytes: number;
  connected: boolean;
}

/** The events a FastSocketClient emits, with their arguments. */
export interface ClientEvents {
  connect: [info: { url: string }];
  /**
   * The connection closed (error null) or could not be made (error FS_ERR_CONNECT, saying why), or the server refused
   * our certificate once our side of a TLS 1.3 handshake was done (error FS_ERR_CONNECT with its alert). The client
   * reconnects with backoff while messages are unacknowledged or after connect(); otherwise it dials again at the next
   * send(). `closeCode` and `closeReason`: the WebSocket close code and reason text of a close the server began
   * (1008 and 'token expired'), else null and '' (tcp, tls, a failed dial, a close of ours, a close frame without a code).
   */
  disconnect: [info: { error: FastSocketError | null; closeCode: number | null; closeReason: string }];
  ack: [info: SendResult];
  drop: [info: { id: string; reason: FastSocketErrorCode }];
  /**
   * The server answered the hello (sent when the client has a clientId or a token). `server_instance` is null from a
   * server that does not send one (an older or another implementation).
   */
  hello: [info: { url: string; server_instance: string | null; max_frame_bytes: number | null }];
  /** close() or destroy() was called: nothing more will be sent. */
  closing: [];
}

interface Entry {
  id: string;
  json: string;
  bytes: number;
  /** The most bytes its message 1 can take (messageFrameBytes), for the limit a server's hello gives. */
  frameBytes: number;
  queuedAtNs: number;
  /** When it may no longer be written (send()'s maxAgeMs); Infinity without one. */
  expiresAtNs: number;
  writtenAtNs: number;
  /** Connection generation it was last written on; -1 before the first write. */
  writtenGen: number;
  /**
   * Connection generation its message 1 was last built on, i.e. handed to the socket (writes are built lazily, at the
   * flush that follows writtenGen); -1 before. An ack 2 that comes in between answers no write on this connection.
   */
  builtGen: number;
  /** Written again after a reconnect. */
  resent: boolean;
  /** Connections that closed while this was the oldest message they had not acknowledged. */
  failures: number;
  resolve: (r: SendResult) => void;
  reject: (e: FastSocketError) => void;
}

type State = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closing' | 'closed';

/** What the watchdog of one connection keeps: when our own bytes last drained, and whether it closed the connection. */
interface SendProgress {
  /** performance.now() when the bytes we had buffered last went down. */
  atMs: number;
  buffered: number;
  /** this.clock() when the connection opened. */
  openedNs: number;
  /** The watchdog closed the connection as silent (closed_silent). */
  silent: boolean;
}

/** RFC 6455's names of the close codes a server may send (§7.4.1; IANA's registry for 1012-1014). */
const CLOSE_CODE_NAMES: Record<number, string> = {
  1000: 'normal closure', 1001: 'going away', 1002: 'protocol error', 1003: 'unsupported data', 1007: 'invalid frame payload data',
  1008: 'policy violation', 1009: 'message too big', 1010: 'mandatory extension', 1011: 'internal error', 1012: 'service restart',
  1013: 'try again later', 1014: 'bad gateway',
};

/** Close codes that say nothing went wrong: an idle timeout, a server shutting down or restarting. */
const BENIGN_CLOSE_CODES = new Set([1000, 1001, 1012]);

/**
 * A ws server's close code and reason, for the log ('1008 (policy violation): "token expired"'); null for a close
 * that carried none (FrameConnection#peerCloseCode) and for tcp/tls.
 */
function closeCodeText(code: number | null, reason: string): string | null {
  if (code === null) return null;
  const name = CLOSE_CODE_NAMES[code] ?? (code >= 4000 ? 'a code of the server\'s application' : undefined);
  return `${code}${name ? ` (${name})` : ''}${reason ? `: ${quoteForLog(reason)}` : ''}`;
}

/** From this many bytes of payload on, message 1 is written as bytes built at once (encodeMessageBytes). */
const BYTES_FRAME_FROM = 64 * 1024;

/**
 * Bounds of how long a new connection's first message may go unanswered before the messages behind it are written
 * anyway: twice the time the connection took to open, within these.
 */
const PROBE_WAIT_MIN_MS = 50;
const PROBE_WAIT_MAX_MS = 2000;

/**
 * The sending end: queues messages in a bounded outbox and sends them until the server acknowledges each,
 * reconnecting as needed.
 */
export class FastSocketClient extends EventEmitter<ClientEvents> {
  private readonly endpoint: Endpoint;
  private readonly limits: ClientLimits;
  private readonly logger: Logger;
  private readonly clock: MonotonicClock;
  private readonly random: () => number;
  private readonly timers: Timers;
  private readonly newId: () => string;
  private readonly clientId: string | null;
  private readonly connectTimeoutMs: number;
  private readonly silenceTimeoutMs: number;
  private readonly writeHighWater: number;
  private readonly clockSync: boolean;
  private readonly maxAttempts: number;
  private readonly maxBadFrames: number;
  private readonly frameTimeoutMs: number;
  /** Bad frames in a row on the current connection. */
  private badStreak = 0;
  /** Warnings of bad frames from the server: mixed with good ones they are never maxBadFrames in a row. */
  private readonly badFrameWarnings: WarnBudget;
  /** A full server refuses every reconnection: one warning per window says so. */
  private readonly fullWarnings = new WarnBudget(1);
  /** A ws server that closes every connection with an error code: one warning per window says so. */
  private readonly closeWarnings = new WarnBudget(1);
  /** A server that acks ids it was not sent may do so for every message: one warning per window says so. */
  private readonly unknownAckWarnings = new WarnBudget(1);
  /** Learnt from the server's hello, when it sends one. */
  private serverMaxFrameBytes = Infinity;
  /** The server limit last warned about: dropping for it is logged once per value, not once per message. */
  private warnedServerMaxFrameBytes = Infinity;
  private readonly outbox = new Map<string, Entry>();
  private readonly store: OutboxStore | null = null;
  private outboxBytes = 0;
  /**
   * No message waiting to be written expires (maxAgeMs) before this, monotonic ns: a full outbox looks for expired
   * messages only once one may be, not at every send().
   */
  private earliestExpiryNs = Infinity;
  private readonly outboxFullTexts = new Map<string, string>();
  private queue: Entry[] = [];
  private queueHead = 0;
  private conn: FrameConnection | null = null;
  private gen = 0;
  /**
   * Whether the current connection is known to reach a server: it has answered (any valid frame), or it was given
   * PROBE_WAIT of silence. Until then one message is written. A connection that is accepted and then reset (a proxy
   * or load balancer in front of a server that is down) then costs one message a resend rather than the whole outbox,
   * whose resends would all be flagged and kept out of the latency statistics.
   */
  private heard = false;
  /** Messages written on the current connection before it was heard. */
  private writtenUnheard = 0;
  /** A hello went out on the current connection and no valid frame has come back on it yet. */
  private helloUnanswered = false;
  private probeTimer: TimerHandle | null = null;
  /** How long the current connection's first message may go unanswered before the rest follow anyway. */
  private probeWaitMs = 0;
  /** performance.now() when the current dial started: the connect time scales the probe's wait. */
  private dialStartedMs = 0;
  private attempt = 0;
  /** When the current (or last) connection was made, performance.now() ms: one that lasted resets the backoff. */
  private connectedAtMs = 0;
  private state: State = 'idle';
  private reconnectTimer: TimerHandle | null = null;
  /** Ends the dial under way: close() and destroy() do not wait for a server that holds its handshake. */
  private dialAbort: AbortController | null = null;
  /** connect() was called: stay connected, reconnecting after every close, until close(). */
  private keepConnected = false;
  /** What the callers of connect() wait on until the client connects, or null. */
  private connectWait: Promise<void> | null = null;
  private closing: Promise<ClientStats> | null = null;
  private readonly counters = {
    sent: 0, delivered: 0, dropped: 0, expired: 0, abandoned: 0, rejected: 0, resent: 0, reconnects: 0, connect_failures: 0, unknown_acks: 0, bad_frames: 0,
    closed_bad: 0, closed_oversize: 0, closed_frame_timeout: 0, closed_silent: 0, closed_protocol: 0, outbox_path_errors: 0,
  };

  /**
   * @throws TypeError naming a bad option; FastSocketError FS_ERR_INVALID_URL for a bad url; the file system's Error
   *   (with its `code`, e.g. ENOTDIR) when outboxPath cannot be created or read.
   */
  constructor(private readonly options: FastSocketClientOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new OptionError('options', 'options must be an object');
    checkKnownKeys('client', options, KNOWN_OPTIONS);
    this.endpoint = parseUrl(options.url === undefined ? DEFAULT_URL : options.url);
    // Port 0 means "any free port" to a listener; dialled, it is refused for ever, one retry after another.
    if (this.endpoint.port === 0) throw new FastSocketError('FS_ERR_INVALID_URL', `url ${JSON.stringify(options.url)} has port 0: give the port the server listens on`);
    this.limits = validateClientLimits(options);
    this.logger = checkLogger(options.logger);
    this.clock = clockOption('clock', options.clock, monotonicNs);
    this.random = orDefault(options.random, Math.random);
    if (typeof this.random !== 'function') throw new OptionError('random', 'option random must be a function');
    this.timers = timersOption(options.timers);
    this.newId = orDefault(options.newId, newMessageId);
    if (typeof this.newId !== 'function') throw new OptionError('newId', 'option newId must be a function returning a string');
    this.clientId = options.clientId ?? null;
    if (this.clientId !== null) {
      checkString('clientId', this.clientId);
      if (longerThan(this.clientId, MAX_CLIENT_ID_LENGTH)) throw new OptionError('clientId', `option clientId must be at most ${MAX_CLIENT_ID_LENGTH} characters`);
    }
    if (options.token !== undefined) checkString('token', options.token);
    checkTlsOptions(options.tls, this.endpoint.scheme);
    // A server refuses it in the handshake, and over tls:// the client then saw only connections that closed: it can
    // say why itself, as a server does of its own certificate.
    const invalid = options.tls?.cert ? certificateValidityProblem(options.tls.cert, wallNs() / 1e6) : null;
    if (invalid) this.logger.warn(`the client certificate (tls.cert, --client-cert, tls_client_cert) ${invalid} by this machine's clock: a server that requires client certificates will refuse it`);
    if (options.tls?.rejectUnauthorized === false) {
      this.logger.warn(`tls.rejectUnauthorized is false: the certificate of ${this.url} is not checked, so anyone on the path can read and alter what is sent`);
    }
    this.connectTimeoutMs = checkInteger('connectTimeoutMs', orDefault(options.connectTimeoutMs, 10_000), 1, MAX_TIMER_MS);
    this.silenceTimeoutMs = checkInteger('silenceTimeoutMs', orDefault(options.silenceTimeoutMs, DEFAULT_SILENCE_TIMEOUT_MS), 0);
    this.writeHighWater = checkInteger('writeHighWaterBytes', orDefault(options.writeHighWaterBytes, 1024 * 1024), 1);
    this.clockSync = checkBoolean('clockSync', orDefault(options.clockSync, false));
    this.maxAttempts = checkInteger('maxAttempts', orDefault(options.maxAttempts, 0), 0);
    this.maxBadFrames = checkInteger('maxBadFrames', orDefault(options.maxBadFrames, DEFAULT_SERVER_LIMITS.maxBadFrames), 1);
    this.badFrameWarnings = new WarnBudget(this.maxBadFrames);
    this.frameTimeoutMs = checkInteger('frameTimeoutMs', orDefault(options.frameTimeoutMs, DEFAULT_SERVER_LIMITS.frameTimeoutMs), 1);
    if (options.outboxPath !== undefined) {
      checkString('outboxPath', options.outboxPath);
      const storeWarnings = new WarnBudget(1);
      this.store = new OutboxStore(options.outboxPath, (err) => {
        this.counters.outbox_path_errors++;
        storeWarnings.warn(
          this.logger,
          `cannot write the outbox file ${options.outboxPath}: ${err.message}; messages are still sent from memory, but those queued until ` +
            'it can be written again would not survive a restart (counted in outbox_path_errors)',
        );
      });
      if (this.store.skippedRecords > 0) this.logger.warn(`outbox ${options.outboxPath}: skipped ${this.store.skippedRecords} damaged records`);
      const nowMono = this.clock();
      const nowWall = wallNs();
      for (const m of this.store.messages()) {
        const bytes = Buffer.byteLength(m.json);
        const entry: Entry = {
          id: m.id, json: m.json, bytes, frameBytes: messageFrameBytes(bytes, m.id), queuedAtNs: nowMono - Math.max(0, nowWall - m.queuedWallNs),
          expiresAtNs: Infinity, writtenAtNs: 0, writtenGen: -1, builtGen: -1, resent: true, failures: 0, resolve: noop, reject: noop,
        };
        this.outbox.set(entry.id, entry);
        this.outboxBytes += entry.bytes;
      }
      if (this.outbox.size > 0) {
        this.logger.info(`outbox ${options.outboxPath}: resending ${this.outbox.size} unacknowledged messages`);
        this.dial();
      }
    }
  }

  /**
   * Calls every listener, each on its own: one that throws is logged at error (to `logger`) and stops neither the
   * other listeners nor this client.
   */
  override emit<K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]): boolean {
    return emitToEach(this, event, args, this.logger);
  }

  /** The server's URL, as normalised from the `url` option. */
  get url(): string {
    return formatUrl(this.endpoint);
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Queues a JSON payload and resolves when the server has acknowledged it (ack 2). Rejects with FS_ERR_DROPPED
   * or FS_ERR_OUTBOX_FULL (outbox policy), FS_ERR_EXPIRED (options.maxAgeMs), FS_ERR_PAYLOAD (not JSON-serialisable),
   * FS_ERR_CLOSED/FS_ERR_DESTROYED, and with an OptionError for a bad options.maxAgeMs or an unknown option.
   */
  send(payload: unknown, options?: SendOptions): Promise<SendResult> {
    if (this.closing) return Promise.reject(new FastSocketError('FS_ERR_CLOSED', 'client is closed'));
    if (options !== undefined) {
      // As the constructor's are: { maxAge: 100 } sent the message with no age limit at all.
      try {
        if (typeof options !== 'object' || options === null) throw new OptionError('options', `send() options must be an object, got ${describe(options)}`);
        checkKnownKeys('send()', options, SEND_OPTIONS);
      } catch (err) {
        return Promise.reject(err as OptionError);
      }
    }
    const maxAgeMs = options?.maxAgeMs;
    if (maxAgeMs !== undefined && !(typeof maxAgeMs === 'number' && maxAgeMs > 0)) {
      return Promise.reject(new OptionError('maxAgeMs', `option maxAgeMs must be a number > 0, got ${String(maxAgeMs)}`));
    }
    let json: string;
    try {
      json = encodePayload(payload);
    } catch (err) {
      return Promise.reject(new FastSocketError('FS_ERR_PAYLOAD', `payload cannot be sent as JSON: ${(err as Error).message}`, { cause: err }));
    }
    const bytes = payloadJsonBytes(payload, json);
    if (bytes > this.limits.outboxMaxBytes) {
      return Promise.reject(new FastSocketError('FS_ERR_PAYLOAD', `payload of ${bytes} bytes exceeds outbox_max_bytes (${this.limits.outboxMaxBytes})`));
    }
    let id: string;
    try {
      id = this.newId();
    } catch (err) {
      // Rejected, as an id that breaks the rules is: thrown, it went past a send loop's .catch().
      return Promise.reject(new OptionError('newId', `option newId threw: ${String((err as Error | undefined)?.message ?? err)}`));
    }
    if (!isMessageId(id) || this.outbox.has(id)) {
      const got = typeof id === 'string' ? quoteForLog(id.slice(0, 40)) + (id.length > 40 ? '...' : '') : typeof id;
      return Promise.reject(new OptionError('newId', `option newId must return a non-empty string of at most ${MAX_ID_LENGTH} characters that no unacknowledged message has, got ${got}`));
    }
    // After the id, which the frame holds: one of newId's may be 128 characters.
    const frameBytes = messageFrameBytes(bytes, id);
    if (frameBytes > this.limits.maxFrameBytes) {
      return Promise.reject(
        new FastSocketError('FS_ERR_PAYLOAD', `payload of ${bytes} bytes is up to ${frameBytes} as a message frame: more than max_frame_bytes (${this.limits.maxFrameBytes})`),
      );
    }
    // Whether an outbox of `messages` messages and `outboxBytes` bytes has room for this one.
    const fits = (messages: number, outboxBytes: number) => messages + 1 <= this.limits.outboxMaxMessages && outboxBytes + bytes <= this.limits.outboxMaxBytes;
    if (!fits(this.outbox.size, this.outboxBytes)) this.expireWaiting();
    if (!fits(this.outbox.size, this.outboxBytes)) {
      const bound = this.outbox.size + 1 > this.limits.outboxMaxMessages ? 'messages' : 'bytes';
      if (this.limits.outboxPolicy === 'reject') {
        this.counters.rejected++;
        return Promise.reject(new FastSocketError('FS_ERR_OUTBOX_FULL', this.outboxFull(bound, '')));
      }
      if (this.limits.outboxPolicy === 'drop-newest') {
        this.counters.dropped++;
        this.emit('drop', { id, reason: 'FS_ERR_OUTBOX_FULL' });
        return Promise.reject(new DroppedError('outbox_full', this.outboxFull(bound, ' (policy drop-newest)')));
      }
      // Chosen before any is dropped: when even all of them would not make room, dropping them would lose them for nothing.
      const victims: Entry[] = [];
      let messages = this.outbox.size;
      let outboxBytes = this.outboxBytes;
      for (const e of this.unwritten()) {
        if (fits(messages, outboxBytes)) break;
        victims.push(e);
        messages--;
        outboxBytes -= e.bytes;
      }
      if (!fits(messages, outboxBytes)) {
        // Only messages already written on the live connection would make room: their bytes are on the link and arrive
        // anyway, so dropping them would free no capacity, count deliveries as drops and lose their latency records.
        this.counters.dropped++;
        this.emit('drop', { id, reason: 'FS_ERR_OUTBOX_FULL' });
        return Promise.reject(new DroppedError('outbox_full', this.outboxFull(bound, ', and the messages not yet written cannot make room for it (policy drop-oldest)')));
      }
      for (const e of victims) this.drop(e, new DroppedError('outbox_full', this.outboxFull(bound, ' (policy drop-oldest)')));
    }
    return new Promise<SendResult>((resolve, reject) => {
      const queuedAtNs = this.clock();
      const expiresAtNs = maxAgeMs === undefined ? Infinity : queuedAtNs + maxAgeMs * 1e6;
      this.earliestExpiryNs = Math.min(this.earliestExpiryNs, expiresAtNs);
      const entry: Entry = { id, json, bytes, frameBytes, queuedAtNs, expiresAtNs, writtenAtNs: 0, writtenGen: -1, builtGen: -1, resent: false, failures: 0, resolve, reject };
      // Registered before it is written, so an ack 2 that overtakes our bookkeeping is never ignored.
      this.store?.add({ id: entry.id, json, queuedWallNs: wallNs() });
      this.outbox.set(entry.id, entry);
      this.outboxBytes += bytes;
      this.queue.push(entry);
      // Offline, or while the server does not read, nothing consumes the queue, and the entries the outbox policy
      // dropped would stay in it with their payloads: 200,000 sends of 1 KB with an outbox of 100 held 415 MB.
      if (this.queue.length - this.queueHead > 2 * this.outbox.size + 1024) {
        this.queue = this.queue.slice(this.queueHead).filter((q) => this.outbox.get(q.id) === q && q.writtenGen !== this.gen);
        this.queueHead = 0;
      }
      if (this.state === 'idle') this.dial();
      else this.pump();
    });
  }

  /**
   * Connects now (sends connect on their own) and stays connected from then on: a connection that closes with nothing
   * unacknowledged (e.g. at the server's idle timeout) is re-established at once rather than at the next send().
   * Resolves once connected. Rejects with FS_ERR_CLOSED only if close() or destroy() comes first.
   */
  connect(): Promise<void> {
    // this.closing, not only the state: that stays 'connecting' while close() waits for the outbox, and a wait begun
    // then listened for a 'closing' already emitted, never settling.
    if (this.closing || this.state === 'closing' || this.state === 'closed') return Promise.reject(new FastSocketError('FS_ERR_CLOSED', 'client is closed'));
    this.keepConnected = true;
    if (this.state === 'connected') return Promise.resolve();
    if (this.state === 'idle') this.dial();
    // One wait for every caller: each added a pair of listeners, so a program that called connect() again with a
    // timeout of its own while the server was unreachable added two a try, and Node warned of a leak at the 11th.
    this.connectWait ??= new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        this.off('closing', onClosing);
        this.connectWait = null;
        resolve();
      };
      const onClosing = () => {
        this.off('connect', onConnect);
        this.connectWait = null;
        reject(new FastSocketError('FS_ERR_CLOSED', 'client closed before it connected'));
      };
      this.once('connect', onConnect);
      this.once('closing', onClosing);
    });
    return this.connectWait;
  }

  /** A copy of the counters, taken now. */
  stats(): ClientStats {
    return { ...this.counters, outbox_messages: this.outbox.size, outbox_bytes: this.outboxBytes, connected: this.connected };
  }

  /**
   * Waits up to `timeoutMs` for every queued message to be acknowledged, writes the last acks 3, then closes,
   * waiting up to 1 s more for the server to close its side. What is still unacknowledged then is rejected with
   * FS_ERR_CLOSED and counted as abandoned. Idempotent.
   * @throws TypeError when `timeoutMs` is not an integer >= 0, or for an unknown option (thrown, not rejected).
   */
  close(options: { timeoutMs?: number | undefined } = {}): Promise<ClientStats> {
    if (this.closing) return this.closing;
    // { timeout: 100 } waited the default 5 s.
    if (typeof options !== 'object' || options === null) throw new OptionError('options', `close() options must be an object, got ${describe(options)}`);
    checkKnownKeys('close()', options, ['timeoutMs']);
    const timeoutMs = checkInteger('timeoutMs', orDefault(options.timeoutMs, 5000), 0);
    const wasIdle = this.state === 'idle';
    this.emit('closing');
    this.closing = (async () => {
      if (!wasIdle && this.outbox.size > 0) await this.drained(timeoutMs);
      this.state = 'closing';
      if (this.reconnectTimer) this.timers.clearTimeout(this.reconnectTimer);
      this.dialAbort?.abort();
      this.clearProbe();
      for (const e of [...this.outbox.values()]) this.drop(e, new FastSocketError('FS_ERR_CLOSED', 'client closed before the message was acknowledged'));
      const conn = this.conn;
      if (conn && !conn.isClosed) {
        const closed = new Promise<void>((r) => conn.once('close', () => r()));
        conn.close('normal');
        await settledWithin(this.timers, closed, 1000);
        conn.destroy();
      }
      this.state = 'closed';
      this.conn = null;
      this.store?.close();
      return this.stats();
    })();
    return this.closing;
  }

  /** Closes at once: every unacknowledged message is rejected with FS_ERR_DESTROYED. Idempotent. */
  destroy(): void {
    if (this.state === 'closed') return;
    const wasClosing = this.closing !== null;
    this.state = 'closed';
    if (!wasClosing) this.emit('closing');
    if (this.reconnectTimer) this.timers.clearTimeout(this.reconnectTimer);
    this.dialAbort?.abort();
    this.clearProbe();
    for (const e of [...this.outbox.values()]) this.drop(e, new FastSocketError('FS_ERR_DESTROYED', 'client destroyed'));
    this.conn?.destroy();
    this.conn = null;
    this.store?.close();
    this.closing ??= Promise.resolve(this.stats());
  }

  /**
   * The messages drop-oldest may drop, oldest first: not those written on the live connection. Offline that is all
   * of them; connected, those of the write queue still to be written (the queue keeps the outbox's order).
   */
  private *unwritten(): Generator<Entry> {
    if (this.state !== 'connected') {
      yield* this.outbox.values();
      return;
    }
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const e = this.queue[i];
      if (this.outbox.get(e.id) === e && e.writtenGen !== this.gen) yield e;
    }
  }

  /**
   * Why a message did not fit, naming the bound (a user who raises outbox_max_messages when the bytes were the limit
   * changes nothing). One string per bound and case, kept: a drop-oldest client may drop thousands a second, and
   * 20,000 drops made in one go held 5 MB more as texts of their own.
   */
  private outboxFull(bound: 'messages' | 'bytes', rest: string): string {
    const key = bound + rest;
    let text = this.outboxFullTexts.get(key);
    if (text === undefined) {
      const limit = bound === 'messages' ? `outbox_max_messages (${this.limits.outboxMaxMessages})` : `outbox_max_bytes (${this.limits.outboxMaxBytes})`;
      text = `${rest ? 'message dropped: ' : ''}outbox full: ${limit} reached${rest}`;
      this.outboxFullTexts.set(key, text);
    }
    return text;
  }

  private drained(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.timers.clearTimeout(timer);
        this.off('ack', check);
        this.off('drop', check);
        resolve();
      };
      const check = () => {
        if (this.outbox.size === 0 || this.state === 'closed') done();
      };
      // Past 2^31 - 1 ms a Node timer fires after 1 ms: close() gave up at once where it was asked to wait longest.
      const timer = this.timers.setTimeout(done, Math.min(timeoutMs, MAX_TIMER_MS));
      this.on('ack', check);
      this.on('drop', check);
      check();
    });
  }

  private expire(e: Entry, nowNs: number): void {
    this.counters.expired++;
    const waitedMs = Math.round((nowNs - e.queuedAtNs) / 1e6);
    this.drop(e, new FastSocketError('FS_ERR_EXPIRED', `message dropped: it waited ${waitedMs} ms, past its maxAgeMs (${Math.round((e.expiresAtNs - e.queuedAtNs) / 1e6)} ms)`));
  }

  /**
   * Drops the messages past their maxAgeMs that wait to be written, for a full outbox. They would be dropped at their
   * write anyway; kept until then, during an outage, they made drop-newest and reject refuse the young messages in
   * their place, and drop-oldest count them as outbox drops, so nothing sent during an outage arrived after it.
   */
  private expireWaiting(): void {
    if (this.earliestExpiryNs === Infinity) return;
    const now = this.clock();
    if (now < this.earliestExpiryNs) return;
    let earliest = Infinity;
    for (const e of [...this.unwritten()]) {
      if (now >= e.expiresAtNs) this.expire(e, now);
      else earliest = Math.min(earliest, e.expiresAtNs);
    }
    // A message written on a connection that then breaks is not in this bound: its next write expires it.
    this.earliestExpiryNs = earliest;
  }

  private drop(e: Entry, err: FastSocketError): void {
    if (this.outbox.get(e.id) !== e) return;
    this.outbox.delete(e.id);
    this.release(e);
    if (err.code === 'FS_ERR_CLOSED' || err.code === 'FS_ERR_DESTROYED') {
      // Closing is not a verdict on the message: a persistent outbox keeps it for the next run.
      this.counters.abandoned++;
    } else {
      this.store?.done(e.id);
      this.counters.dropped++;
    }
    e.reject(err);
    // An outbox drop is reported as the other two outbox policies' drops are.
    this.emit('drop', { id: e.id, reason: isOutboxFull(err) ? 'FS_ERR_OUTBOX_FULL' : err.code });
  }

  /**
   * Takes an entry that left the outbox out of its bytes and lets its payload go: the send queue keeps such entries
   * until it is compacted, which it counts in entries, not bytes (up to 4,096 written ones before its head, twice the
   * outbox after it), and with camera frames among them a bridge whose outbox held 64 MiB held 340-550 MB.
   */
  private release(e: Entry): void {
    this.outboxBytes -= e.bytes;
    e.json = '';
  }

  private dial(): void {
    this.state = 'connecting';
    this.dialStartedMs = performance.now();
    const abort = new AbortController();
    this.dialAbort = abort;
    connect(this.endpoint, {
      maxFrameBytes: this.limits.maxFrameBytes,
      tls: this.options.tls,
      timeoutMs: this.connectTimeoutMs,
      headers: this.bearerHeaders(),
      signal: abort.signal,
    }).then(
      (conn) => {
        this.dialAbort = null;
        this.onConnected(conn);
      },
      (err: unknown) => {
        this.dialAbort = null;
        if (abort.signal.aborted) return;
        this.counters.connect_failures++;
        if (this.state === 'closed') return;
        // connect() says why with FS_ERR_CONNECT; an exception of a socket's constructor would come as it was thrown.
        const error = err instanceof FastSocketError ? err : new FastSocketError('FS_ERR_CONNECT', `cannot connect to ${this.url}: ${String((err as Error | undefined)?.message ?? err)}`, { cause: err });
        this.logger.warn(`${error.message}; retrying`);
        this.emit('disconnect', { error, closeCode: null, closeReason: '' });
        this.scheduleReconnect();
      },
    );
  }

  /**
   * ws/wss: the token also as `Authorization: Bearer`, when a header can carry it. One with a character outside
   * visible ASCII goes in the hello alone (which follows either way): Node refuses a header value beyond Latin-1, and
   * every dial failed with "Invalid character in header content".
   */
  private bearerHeaders(): Record<string, string> | undefined {
    const token = this.options.token;
    if (token === undefined || (this.endpoint.scheme !== 'ws' && this.endpoint.scheme !== 'wss') || !/^[\x21-\x7e]+$/.test(token)) return undefined;
    return { authorization: `Bearer ${token}` };
  }

  private onConnected(conn: FrameConnection): void {
    if (this.state === 'closed') {
      conn.destroy();
      return;
    }
    this.conn = conn;
    conn.readClock = this.clock;
    const gen = ++this.gen;
    if (gen > 1) this.counters.reconnects++;
    this.state = 'connected';
    this.connectedAtMs = performance.now();
    this.badStreak = 0;
    this.heard = false;
    this.writtenUnheard = 0;
    this.clearProbe();
    this.probeWaitMs = Math.min(PROBE_WAIT_MAX_MS, Math.max(PROBE_WAIT_MIN_MS, 2 * (performance.now() - this.dialStartedMs)));
    conn.on('frame', (data) => {
      try {
        this.onFrame(conn, gen, data);
      } catch (err) {
        this.logger.error(`error handling a frame from ${this.url}: ${(err as Error).stack ?? err}`);
      }
    });
    conn.on('oversize', () => {
      this.counters.closed_oversize++;
      this.logger.warn(`closing the connection to ${this.url}: the server sent a frame larger than max_frame_bytes (${this.limits.maxFrameBytes})`);
      conn.close('too_large');
    });
    conn.on('drain', () => this.pump());
    let refusal: FastSocketError | null = null;
    let reset = false;
    conn.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') reset = true;
      if (isWebSocketProtocolError(err)) {
        this.counters.closed_protocol++;
        this.logger.warn(`closing the connection to ${this.url}: ${err.message}`);
      } else if (isTlsAlert(err)) {
        // With TLS 1.3 a server checks our certificate after our side of the handshake is done: its verdict comes here.
        const alert = tlsAlertError(err);
        refusal = new FastSocketError('FS_ERR_CONNECT', `cannot connect to ${this.url}: ${alert.message}`, { cause: alert });
        this.logger.warn(`closing the connection to ${this.url}: ${alert.message}`);
      } else this.logger.debug(`connection to ${this.url}: ${err.message}`);
    });
    const sendProgress: SendProgress = { atMs: performance.now(), buffered: 0, openedNs: this.clock(), silent: false };
    const watchdog = this.timers.setInterval(() => this.watch(conn, sendProgress), Math.max(10, Math.min(1000, this.frameTimeoutMs / 4, this.silenceTimeoutMs / 4 || Infinity)));
    watchdog.unref();
    conn.on('close', () => {
      this.timers.clearInterval(watchdog);
      this.onClosed(conn, refusal, reset, sendProgress.silent);
    });
    conn.resumeReading();
    this.helloUnanswered = this.clientId !== null || this.options.token !== undefined;
    if (this.helloUnanswered) conn.write(encodeHello(this.clientId, this.options.token));
    this.logger.info(`connected to ${this.url}`);
    // Everything unacknowledged goes out again, oldest first; what was written before is marked resent.
    this.queue = [...this.outbox.values()];
    this.queueHead = 0;
    this.emit('connect', { url: this.url });
    this.pump();
  }

  /**
   * @param refusal the server's TLS alert, when it refused the handshake after our side had completed it
   * @param reset the connection was reset (a link cut, or a server that reset it)
   * @param silent we closed it ourselves, taking it for dead after silenceTimeoutMs (and warned about that)
   */
  private onClosed(conn: FrameConnection, refusal: FastSocketError | null, reset: boolean, silent: boolean): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.clearProbe();
    if (this.state === 'closing' || this.state === 'closed') return;
    // §5: a ws server past max_connections (or shutting down) closes new connections at once with 1013. The server read
    // none of what we sent, so the oldest message is not to blame: counted, maxAttempts dropped messages only because the
    // server was full, and the warnings blamed the message or the token.
    const full = conn.peerCloseCode === 1013;
    const closedWith = closeCodeText(conn.peerCloseCode, conn.peerCloseReason);
    const saidWhy = closedWith !== null && !BENIGN_CLOSE_CODES.has(conn.peerCloseCode!);
    if (!full) this.dropRefused(conn.peerCloseCode === 1009, saidWhy ? closedWith : null);
    // A connection that lasted (an idle client closed at the server's idle timeout) reconnects at the minimum again.
    if (performance.now() - this.connectedAtMs >= this.limits.reconnectMaxMs) this.attempt = 0;
    if (full) {
      this.fullWarnings.warn(
        this.logger,
        `${this.url} closed the connection with 1013 (try again later): the server is at its max_connections, or shutting down; ` +
          `${this.outbox.size} messages unacknowledged, retrying`,
      );
    } else if (this.helloUnanswered && refusal === null && !silent) {
      // A refusal was warned about when its alert came, and a connection taken for dead when it was closed: a link that
      // went silent during the hello was then blamed on the token or the scheme as well.
      // A server closes without a word on a wrong token (tcp, tls), and so does a ws server read by a tcp client: said
      // only at info, the client's side looked like a flaky link, reconnecting for ever. A reset is said first: on a
      // link cut during the hello, the warning blamed only the token or the scheme.
      this.logger.warn(
        `disconnected from ${this.url} before the server answered the hello (${closedWith ? `it closed the connection with ${closedWith}: ` : ''}` +
          `${reset ? 'the connection was reset: a link cut? ' : ''}` +
          `a wrong or missing token? a server on another scheme ` +
          `than ${this.endpoint.scheme}://?${this.options.tls?.cert ? ' a refused client certificate?' : ''} ${SERVER_REFUSING} the server's log says why); ` +
          `${this.outbox.size} messages unacknowledged`,
      );
    } else if (saidWhy) {
      // A ws server says why it closed (a policy, an internal error, a code of its own and its text); said at info, the
      // user saw connections close for no reason, and at the 3rd a warning that blamed the oldest message.
      this.closeWarnings.warn(this.logger, `${this.url} closed the connection with ${closedWith}; ${this.outbox.size} messages unacknowledged, retrying`);
    } else {
      this.logger.info(`disconnected from ${this.url}${closedWith ? ` (it closed the connection with ${closedWith})` : ''}; ${this.outbox.size} messages unacknowledged`);
    }
    this.emit('disconnect', { error: refusal, closeCode: conn.peerCloseCode, closeReason: conn.peerCloseReason });
    this.scheduleReconnect();
  }

  /**
   * After a connection closed with messages unacknowledged. A ws close 1009 names the culprit: our largest frame on
   * it. Otherwise the server reads in order, so the oldest unacknowledged message is where it stopped; one that is
   * there when maxAttempts connections die is dropped, and the messages behind it go on.
   * @param serverSaid the close code and reason a ws server gave, when they say something went wrong
   */
  private dropRefused(tooLarge: boolean, serverSaid: string | null): void {
    const unacked = [...this.outbox.values()].filter((e) => e.writtenGen === this.gen);
    if (unacked.length === 0) return;
    if (tooLarge) {
      const largest = unacked.reduce((a, b) => (b.bytes > a.bytes ? b : a));
      this.drop(largest, new FastSocketError('FS_ERR_PAYLOAD', `server closed the connection (1009): message of ${largest.bytes} bytes is too large for it`));
      return;
    }
    const head = unacked.reduce((a, b) => (b.writtenAtNs < a.writtenAtNs ? b : a));
    head.failures++;
    if (this.maxAttempts > 0 && head.failures >= this.maxAttempts) {
      this.drop(head, new DroppedError('max_attempts', `message dropped: ${head.failures} connections closed while it was the oldest unacknowledged`));
    } else if (head.failures === 3 || head.failures % 10 === 0) {
      // Soon, since a tcp:// server cannot say why it closed (a ws one sends 1009), then now and then while it lasts.
      // A server that said why (1008 "token expired") was followed, at the 3rd close, by guesses at the message's
      // size, a proxy, the scheme or a token, as if it had said nothing.
      const why = serverSaid
        ? `the server closed the last one with ${serverSaid}`
        : 'the server may refuse it (its max_frame_bytes below the frame\'s size: a client with a clientId, --client-id, learns that limit from its hello), or a proxy in ' +
          `front of it may reach no server, or the server refuses this client (another scheme than ${this.endpoint.scheme}://?` +
          `${this.options.token === undefined ? ' a token it requires (token, --token-file)?' : ''}` +
          `${this.options.tls?.cert ? ' our client certificate?' : ''} ${SERVER_REFUSING} its log says why)`;
      this.logger.warn(
        `message ${head.id} (${head.bytes} bytes) was the oldest unacknowledged on ${head.failures} connections that closed; ${why}; ` +
          'set maxAttempts (--max-attempts) to drop such a message',
      );
    }
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    if (this.outbox.size === 0 && !this.keepConnected) {
      // Nothing to deliver, as after the server's idle timeout (§5): the next send() dials. Reconnecting now would hold
      // a slot of the server for a client that sends nothing, only to be closed again one idle timeout later.
      this.state = 'idle';
      return;
    }
    this.state = 'waiting';
    const { reconnectMinMs, reconnectMaxMs, reconnectJitter } = this.limits;
    const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.attempt, 30));
    // The jitter can take a reconnectMaxMs near the timer limit past it.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.round(base * (1 + reconnectJitter * (2 * this.random() - 1)))));
    this.attempt++;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'waiting') this.dial();
    }, delay);
  }

  /** The current connection reaches a server: what waited behind its first message goes out. */
  private hear(): void {
    this.heard = true;
    this.clearProbe();
    this.pump();
  }

  private armProbe(): void {
    if (this.probeTimer !== null) return;
    const conn = this.conn;
    // Silence is not a refusal: a server may answer only once it has several frames (or not read at all, and then
    // backpressure is what holds the rest). A reset comes within about one round trip of the connect.
    this.probeTimer = this.timers.setTimeout(() => {
      this.probeTimer = null;
      if (this.conn === conn && !this.heard) this.hear();
    }, this.probeWaitMs);
  }

  private clearProbe(): void {
    if (this.probeTimer !== null) this.timers.clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  /**
   * Closes the connection when the server stops mid-frame (a half-written ack 2, then nothing), or when nothing at all
   * has been read for silenceTimeoutMs while messages written on it wait for their ack (a NAT that forgot the mapping,
   * a link gone without a reset: the kernel gives up after ~15 minutes, behind a proxy never). The reconnect resends
   * them. Our own bytes draining (a large frame going up a slow link, no ack possible until it is whole) is progress;
   * bytes that sit unsent, or all handed to the kernel with no answer, are not.
   */
  private watch(conn: FrameConnection, sendProgress: SendProgress): void {
    if (conn.isClosed || conn !== this.conn) return;
    const now = performance.now();
    if (conn.frameOverdue(now, this.frameTimeoutMs)) {
      this.counters.closed_frame_timeout++;
      this.logger.warn(`closing the connection to ${this.url}: a frame from the server was not completed within ${this.frameTimeoutMs} ms`);
      conn.close('policy');
      return;
    }
    if (this.silenceTimeoutMs === 0) return;
    const buffered = conn.bufferedBytes;
    if (buffered > 0 && buffered < sendProgress.buffered) sendProgress.atMs = now;
    sendProgress.buffered = buffered;
    let silentMs = now - Math.max(sendProgress.atMs, conn.lastActivityMs);
    if (silentMs < this.silenceTimeoutMs) return;
    // Counted from the oldest message still waiting: a connection idle for minutes is not silent towards a new one.
    // One queued on this connection but not yet flushed (its writtenAtNs still from before) counts as written now.
    let oldestWrittenNs = Infinity;
    for (const e of this.outbox.values()) {
      if (e.writtenGen === this.gen) oldestWrittenNs = Math.min(oldestWrittenNs, e.writtenAtNs >= sendProgress.openedNs ? e.writtenAtNs : this.clock());
    }
    if (oldestWrittenNs === Infinity) return;
    silentMs = Math.min(silentMs, (this.clock() - oldestWrittenNs) / 1e6);
    if (silentMs < this.silenceTimeoutMs) return;
    this.counters.closed_silent++;
    this.logger.warn(
      `closing the connection to ${this.url}: nothing read from it for ${Math.round(silentMs)} ms while messages wait for their ack (silenceTimeoutMs ` +
        `${this.silenceTimeoutMs}); taking it for dead (a NAT that dropped it, a link gone without a reset) and connecting again`,
    );
    sendProgress.silent = true;
    conn.destroy();
  }

  private pump(): void {
    const conn = this.conn;
    // A connection being closed (frame timeout, bad frames) stays this.conn until its 'close', up to 2 s when the server
    // holds its side open: what was "written" there went nowhere, then came back marked resent and blamed for the close.
    // So is one whose server has begun to close it (a ws close frame read, its handshake under way).
    if (!conn || !conn.writable || this.state !== 'connected') return;
    while (this.queueHead < this.queue.length && !conn.congested(this.writeHighWater)) {
      if (!this.heard && this.writtenUnheard > 0) {
        this.armProbe();
        break;
      }
      const e = this.queue[this.queueHead++];
      // The entry itself, not its id: a message dropped before it was written stays queued, and a new one may take its
      // id (unique among the unacknowledged only); found by id, the dropped one was written under it, with no payload.
      if (this.outbox.get(e.id) !== e || e.writtenGen === this.gen) continue;
      // The clock is read only for a message with a maxAgeMs (Infinity is never reached).
      const now = e.expiresAtNs === Infinity ? 0 : this.clock();
      if (now >= e.expiresAtNs) {
        this.expire(e, now);
        continue;
      }
      if (e.frameBytes > this.serverMaxFrameBytes) {
        if (this.warnedServerMaxFrameBytes !== this.serverMaxFrameBytes) {
          this.warnedServerMaxFrameBytes = this.serverMaxFrameBytes;
          this.logger.warn(
            `dropping messages larger than ${this.url} accepts: its hello gives max_frame_bytes ${this.serverMaxFrameBytes} (this one is ${e.bytes} bytes ` +
              'of payload); each is rejected with FS_ERR_PAYLOAD and counted in dropped',
          );
        }
        this.drop(
          e,
          new FastSocketError('FS_ERR_PAYLOAD', `message of ${e.bytes} bytes of payload is up to ${e.frameBytes} as a message frame: more than the server's max_frame_bytes (${this.serverMaxFrameBytes})`),
        );
        continue;
      }
      const resent = e.writtenGen !== -1 || e.resent;
      e.writtenGen = this.gen;
      if (!this.heard) this.writtenUnheard++;
      if (resent) {
        e.resent = true;
        this.counters.resent++;
      } else this.counters.sent++;
      // Built when written, so T1 starts when message 1 really leaves (the end of this event-loop turn). The payload is
      // taken now: release() lets it go if the message leaves the outbox before then (close() drops, then flushes).
      const json = e.json;
      const gen = this.gen;
      conn.writeLazy(() => {
        const at = this.clock();
        e.writtenAtNs = at;
        e.builtGen = gen;
        const extra = { resent, queuedNs: at - e.queuedAtNs, clientSendWallNs: this.clockSync ? wallNs() : undefined };
        return e.bytes < BYTES_FRAME_FROM ? encodeMessage(e.id, json, extra) : encodeMessageBytes(e.id, json, e.bytes, extra);
      }, e.bytes + 120);
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private onFrame(conn: FrameConnection, gen: number, data: Buffer): void {
    const readAt = conn.frameReadAtNs();
    let frame;
    try {
      frame = decodeServerFrame(data);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.counters.bad_frames++;
      this.badFrameWarnings.warn(this.logger, `bad frame from ${this.url} (${err.reason}): ${err.message}`);
      if (++this.badStreak >= this.maxBadFrames && !conn.isClosed) {
        // As a server does with its peers (§5); the reconnect that follows starts from a clean stream.
        this.counters.closed_bad++;
        this.logger.warn(`closing the connection to ${this.url}: ${this.badStreak} consecutive bad frames`);
        conn.close(badFrameCloseReason(err));
      }
      return;
    }
    this.badStreak = 0;
    // Only the answer to our own hello on this connection tells the limit of the server behind it, and all of it: one
    // that gives none has none. A hello we did not ask for, or one later on the connection, was taken as the limit
    // for good, so a server (or whatever answered at that address once) could make every later message be dropped.
    const ourHelloUnanswered = conn === this.conn && this.helloUnanswered;
    if (conn === this.conn) this.helloUnanswered = false;
    // Before hear(), which writes what waited behind the first message: a message over the limit this hello gives was
    // written anyway, the server closed the connection on it, and the messages behind it went again marked resent.
    if (frame.type === 'hello' && ourHelloUnanswered) this.serverMaxFrameBytes = frame.max_frame_bytes ?? Infinity;
    if (!this.heard && conn === this.conn) this.hear();
    if (frame.type === 'hello') {
      this.emit('hello', { url: this.url, server_instance: frame.server_instance ?? null, max_frame_bytes: frame.max_frame_bytes ?? null });
      return;
    }
    const e = this.outbox.get(frame.id);
    // Not before its message 1 was built: a server that acks, on a new connection, ids it saw on the last one found
    // them queued behind the first and not yet written, and T1 was measured from their write on the last connection.
    if (!e || e.writtenGen !== gen || e.builtGen !== gen) {
      this.counters.unknown_acks++;
      // Only counted, a server that acked other ids than ours (a proxy that mixes up its clients, a server's bug) held
      // every message unacknowledged without a word: its acks kept the connection from looking silent.
      if (this.state === 'connected') {
        this.unknownAckWarnings.warn(
          this.logger,
          `ack from ${this.url} for id ${quoteForLog(frame.id.slice(0, 40))}${frame.id.length > 40 ? '...' : ''}, not the id of a message written on ` +
            `this connection and waiting for its ack: ignored (counted in unknown_acks); ${this.outbox.size} messages unacknowledged`,
        );
      }
      return;
    }
    const t1 = readAt - e.writtenAtNs;
    // Wall time at the same instant as T1's end (the read that brought ack 2), not after the frames before it.
    const recvWall = this.clockSync ? wallNs() - (this.clock() - readAt) : undefined;
    conn.writeLazy(() => encodeAck3(e.id, t1, { pcNs: this.clock() - readAt, clientRecvWallNs: recvWall }), 160);
    this.outbox.delete(e.id);
    this.store?.done(e.id);
    this.release(e);
    this.counters.delivered++;
    // A delivery, not any frame, resets the backoff: a server that answers the hello and hangs up (at capacity, a
    // proxy before one) was otherwise redialled at reconnectMinMs for ever.
    this.attempt = 0;
    const result: SendResult = { id: e.id, rtt_ns: t1, resent: e.resent };
    e.resolve(result);
    this.emit('ack', result);
  }
}
