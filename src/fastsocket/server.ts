/** The receiving side of fastSocket: acks message 1 at once, hands payloads over on arrival, measures latency. */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { clockOption, MonotonicClock, monotonicNs, wallNs } from './clock';
import { badFrameCloseReason, decodeClientFrame, encodeAck2, encodeHello } from './codec';
import { FastSocketError, OptionError, ProtocolError, ProtocolErrorReason } from './errors';
import { latencyRecord } from './latency';
import { checkLogger, Logger, logSafe } from './logger';
import { checkInteger, checkKnownKeys, orDefault, checkString, OptionalProps, ServerLimits, validateServerLimits } from './options';
import { SeenIds } from './seen-ids';
import { settledWithin, TimerHandle, Timers, timersOption } from './timers';
import { certificateValidityProblem, checkTlsOptions } from './tls-options';
import { FrameConnection, isWebSocketProtocolError, listen, Listener, TlsOptions } from './transport';
import { DEFAULT_URL, Endpoint, isLoopback, isSecureScheme, parseUrl } from './url';
import { WarnBudget } from './warn-budget';
import { emitToEach } from './listeners';
import { Ack3Frame, LatencyRecord, MessageFrame, PROTOCOL_VERSION } from './wire';

/** Options of FastSocketServer; each is validated in the constructor, which throws a TypeError naming a bad one. */
export interface FastSocketServerOptions extends OptionalProps<ServerLimits> {
  /** Where to listen; port 0 picks a free port. @default 'tcp://127.0.0.1:8888' */
  url?: string | undefined;
  /**
   * Certificate and key for tls:// and wss://; `ca` additionally requires client certificates (mutual TLS).
   * @default undefined (required with tls:// and wss://, refused with tcp:// and ws://)
   */
  tls?: TlsOptions | undefined;
  /**
   * Folder of the seen-ids journal, so each message reaches the application once even across a crash.
   * @default undefined (ids are remembered in memory only, so not across a crash)
   */
  stateDir?: string | undefined;
  /** Shared secret clients must present in their hello (or, on ws, as `Authorization: Bearer`). @default undefined (none asked for) */
  token?: string | undefined;
  /** How many message ids to remember for dedup. @default 100000 */
  dedupCapacity?: number | undefined;
  /** Pause reading from a peer whose unsent acks exceed this many bytes. @default 1 MiB */
  writeHighWaterBytes?: number | undefined;
  /** Receives what the server has to say; the library never writes to the console. @default silentLogger */
  logger?: Logger | undefined;
  /** Monotonic clock in ns; injectable for tests. @default monotonicNs */
  clock?: MonotonicClock | undefined;
  /** Wall clock in ns since the epoch (clock-synced records only); injectable for tests. @default wallNs */
  wallClock?: (() => number) | undefined;
  /** Clock-synced records get sync_ok when the offset is known to within this. @default 1000000 (1 ms) */
  syncMaxUncertaintyNs?: number | undefined;
  /**
   * The timers of the sweeper (timeouts, expired ack-3 records) and of close(); injectable so tests drive them with a
   * fake clock (e.g. @sinonjs/fake-timers' `createClock()`). @default nodeTimers
   */
  timers?: Timers | undefined;
}

/** The first line of an HTTP/1 request (a WebSocket upgrade), as a tcp:// server reads it. */
const HTTP_REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]\r?$/;
const KNOWN_OPTIONS = [
  'url', 'tls', 'stateDir', 'token', 'dedupCapacity', 'writeHighWaterBytes', 'logger', 'clock', 'wallClock', 'syncMaxUncertaintyNs', 'timers',
  'maxFrameBytes', 'maxBadFrames', 'frameTimeoutMs', 'idleTimeoutMs', 'maxConnections', 'ack3TimeoutMs', 'maxPendingAck3',
];

/** A payload handed to the application, on arrival of message 1. */
export interface MessageEvent {
  id: string;
  payload: unknown;
  peer: string;
  client_id: string | null;
  /** The client marked this message as a resend after a reconnect. */
  resent: boolean;
  /**
   * A resend whose id this server has not seen, so whose first copy an earlier run may have handed over: after any
   * restart without `stateDir`; with it, only when that run died inside the `message` handler (docs/security.md).
   * The server cannot tell these apart from a first copy lost on the way, so every such resend is marked.
   */
  possible_duplicate: boolean;
  /** Time the message waited in the client before it was written, when the client reports it. */
  queued_ns: number | null;
}

/** A connection as events name it: the peer's address and port, and the client_id of its hello (null without one). */
export interface PeerInfo {
  peer: string;
  client_id: string | null;
}

/** The events a FastSocketServer emits, with their arguments. */
export interface ServerEvents {
  message: [event: MessageEvent];
  latency: [record: LatencyRecord];
  connection: [info: PeerInfo];
  disconnect: [info: PeerInfo];
  hello: [info: PeerInfo];
  /** A frame from a peer was rejected (it is also counted and logged). */
  'bad-frame': [info: { peer: string; error: ProtocolError }];
}

/** Counters of FastSocketServer.stats(), since the server was created (connections: open now). */
export interface ServerStats {
  connections: number;
  connections_total: number;
  connections_refused: number;
  messages: number;
  duplicates: number;
  resent: number;
  possible_duplicates: number;
  latencies: number;
  /** Acks 3 ignored: for no record of their connection (unknown, completed, expired), or read before their ack 2 was written. */
  ack3_unknown: number;
  /** Pending latency records dropped without their ack 3: after ack3_timeout_ms, or when their connection closed. */
  ack3_expired: number;
  /**
   * Of ack3_unknown: acks 3 that came for a record ack3_timeout_ms had already dropped, i.e. T2 on this link is longer
   * than the timeout (a bandwidth cap queueing acks 3 behind later messages, a long outage in hold mode).
   */
  ack3_late: number;
  ack3_overflow: number;
  bad_frames: number;
  bad_frames_by_reason: Partial<Record<ProtocolErrorReason, number>>;
  closed_bad: number;
  closed_oversize: number;
  closed_idle: number;
  closed_frame_timeout: number;
  /**
   * ws/wss connections ws closed for breaking the WebSocket protocol (RFC 6455): a reserved opcode or bit, a control
   * frame over 125 bytes or fragmented, an unmasked frame, a bad close code, pings faster than the pongs are read.
   */
  closed_protocol: number;
  auth_failures: number;
  paused_reading: number;
  /**
   * Failed writes of the `stateDir` journal (a full disk, a folder made read-only). The ids are still deduplicated in
   * memory; until a write succeeds, a resend after a server crash may be handed over again (as possible_duplicate).
   */
  journal_errors: number;
}

interface Pending {
  id: string;
  /** Orders this record against the acks 3 of a read (onAck3's seqAtRead). */
  seq: number;
  readAtNs: number;
  /** When ack 2 was written; until then, when message 1 was read. */
  ack2AtNs: number;
  ack2Written: boolean;
  /** Flagged resent by the client, or a copy of an id already seen: its latency stays out of the statistics (§4). */
  resent: boolean;
  queuedNs?: number;
  /** Clock-synced mode: client send, server receive, server send wall times. */
  wall?: [number, number, number];
}

interface PeerState {
  conn: FrameConnection;
  clientId: string | null;
  authenticated: boolean;
  /** performance.now() when accepted: a peer that has not authenticated idle_timeout_ms later is closed. */
  acceptedAtMs: number;
  firstFrame: boolean;
  badStreak: number;
  /** Bad frames mixed with good ones are never max_bad_frames in a row: their warnings are budgeted. */
  badFrameWarnings: WarnBudget;
  pending: Map<string, Pending>;
  /** close() was called while records were pending: only their acks 3 are still read, then the connection closes. */
  draining: boolean;
  /**
   * Ids in the order their records were made, oldest first, deleted lazily. Evicting or expiring the oldest record
   * through Map iteration would step over every entry deleted before it: tens of microseconds per message once a
   * peer that never sends ack 3 fills the table. An entry is the record itself, current while the table still maps its
   * id to it; the slots behind orderHead are emptied, so a record does not outlive its exchange there (kept until the
   * next compaction, every message's record lived through young-generation collections and was copied into the old one).
   */
  order: Array<Pending | undefined>;
  orderHead: number;
  paused: boolean;
  /** A late ack 3 (see ServerStats.ack3_late) was already logged as a warning for this connection. */
  warnedLateAck3: boolean;
  /** An ack 3 read before its ack 2 was written was warned about on this connection. */
  warnedEarlyAck3: boolean;
  /** A hello was answered on this connection: later ones get the bare answer (see onFrame). */
  helloAnswered: boolean;
  /**
   * Acks 3 of the current read, completed once its acks 2 have been written: in one-in-flight use an ack 3 shares a
   * read with the next message 1, and building its record first would delay that message's ack 2.
   */
  deferredAck3: Array<{ frame: Ack3Frame; readAt: number; seqAtRead: number }>;
}

type State = 'idle' | 'listening' | 'closed';

const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Expired ids remembered to tell a late ack 3 from an unknown one: ~100 B each, shared by every connection. */
const EXPIRED_IDS_KEPT = 4096;
const AUTH_FAILURES_BEFORE_BLOCK = 5;
/** Refusals logged as warnings per WARN_BUDGET_WINDOW_MS, however fast peers connect past max_connections. */
const REFUSED_WARNINGS_PER_WINDOW = 10;
/**
 * Warnings about what peers sent or did (bad frames, connections closed for them, refusals) per
 * WARN_BUDGET_WINDOW_MS, all connections together: a peer reconnecting in a loop with 10 bad frames each made
 * 26,000 warning lines a second on loopback.
 */
const PEER_WARNINGS_PER_WINDOW = 100;

/** The receiving end: acknowledges every message, hands each to the application once, and measures its latency. */
export class FastSocketServer extends EventEmitter<ServerEvents> {
  private readonly endpoint: Endpoint;
  private readonly limits: ServerLimits;
  private readonly logger: Logger;
  private readonly clock: MonotonicClock;
  private readonly timers: Timers;
  private readonly wallClock: () => number;
  private readonly syncMaxUncertaintyNs: number;
  private readonly tokenDigest: Buffer | null;
  private readonly seen: SeenIds;
  /**
   * Drawn when the server is created and sent in every hello answer: a client that sees it change knows the server
   * it talks to was restarted (state_dir keeps the ids seen, not what an application kept, such as latched messages).
   */
  readonly instance: string = randomUUID();
  private readonly writeHighWater: number;
  private readonly peers = new Set<PeerState>();
  private readonly authFailures = new Map<string, { count: number; sinceMs: number }>();
  private readonly peerWarnings = new WarnBudget(PEER_WARNINGS_PER_WINDOW);
  private readonly refusedWarnings = new WarnBudget(REFUSED_WARNINGS_PER_WINDOW, undefined, this.peerWarnings);
  /** A full disk fails the journal for every message: one warning per window says so. */
  private readonly journalWarnings = new WarnBudget(1);
  private pendingSeq = 0;
  /** Ids whose record expired, with when their ack 2 was written, oldest first; at most EXPIRED_IDS_KEPT. */
  private readonly expiredIds = new Map<string, number>();
  private listener: Listener | null = null;
  /** listen() under way. */
  private starting: Promise<string> | null = null;
  private sweeper: TimerHandle | null = null;
  private state: State = 'idle';
  private closing: Promise<void> | null = null;
  private readonly counters: ServerStats = {
    connections: 0, connections_total: 0, connections_refused: 0, messages: 0, duplicates: 0, resent: 0,
    possible_duplicates: 0, latencies: 0, ack3_unknown: 0, ack3_expired: 0, ack3_late: 0, ack3_overflow: 0, bad_frames: 0,
    bad_frames_by_reason: {}, closed_bad: 0, closed_oversize: 0, closed_idle: 0, closed_frame_timeout: 0, closed_protocol: 0,
    auth_failures: 0, paused_reading: 0, journal_errors: 0,
  };

  /**
   * @throws TypeError naming a bad option; FastSocketError FS_ERR_INVALID_URL for a bad url; the file system's Error
   *   (with its `code`, e.g. ENOTDIR) when stateDir cannot be created or read.
   */
  constructor(private readonly options: FastSocketServerOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw new OptionError('options', 'options must be an object');
    checkKnownKeys('server', options, KNOWN_OPTIONS);
    this.endpoint = parseUrl(options.url === undefined ? DEFAULT_URL : options.url);
    this.limits = validateServerLimits(options);
    this.logger = checkLogger(options.logger);
    this.clock = clockOption('clock', options.clock, monotonicNs);
    this.timers = timersOption(options.timers);
    this.wallClock = clockOption('wallClock', options.wallClock, wallNs);
    this.syncMaxUncertaintyNs = checkInteger('syncMaxUncertaintyNs', orDefault(options.syncMaxUncertaintyNs, 1_000_000), 0);
    if (options.token !== undefined) checkString('token', options.token);
    this.tokenDigest = options.token !== undefined ? digest(options.token) : null;
    if (options.stateDir !== undefined) checkString('stateDir', options.stateDir);
    const capacity = checkInteger('dedupCapacity', orDefault(options.dedupCapacity, 100_000), 1);
    this.writeHighWater = checkInteger('writeHighWaterBytes', orDefault(options.writeHighWaterBytes, 1024 * 1024), 1);
    checkTlsOptions(options.tls, this.endpoint.scheme);
    if (isSecureScheme(this.endpoint.scheme) && (!options.tls?.cert || !options.tls?.key)) {
      throw new OptionError('tls', `option tls.cert and tls.key are required for ${this.endpoint.scheme}://`);
    }
    this.seen = new SeenIds(capacity, options.stateDir, (err) => {
      this.counters.journal_errors++;
      this.journalWarnings.warn(
        this.logger,
        `cannot write the seen-ids journal in ${options.stateDir}: ${err.message}; ids are still deduplicated in memory, but until the ` +
          'journal can be written a message resent after a server crash may be handed over twice (counted in journal_errors)',
      );
    });
  }

  /**
   * Starts listening; resolves with the bound URL (the real port when 0 was asked for). A call made while one is
   * under way shares its result.
   * @throws FastSocketError FS_ERR_CLOSED after close(), FS_ERR_CONNECT when the address cannot be bound (as a rejection)
   */
  async listen(): Promise<string> {
    if (this.state === 'closed') throw new FastSocketError('FS_ERR_CLOSED', 'server is closed');
    if (this.listener) return this.listener.url;
    // Two calls both bound (two ports when 0 was asked for), and close() freed only the last: the other kept
    // accepting, and kept the process alive.
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async start(): Promise<string> {
    const listener = await listen(this.endpoint, {
      maxFrameBytes: this.limits.maxFrameBytes,
      tls: this.options.tls,
      onConnection: (conn) => this.accept(conn),
      onUpgradeHeaders: (conn, headers) => {
        this.checkBearer(conn, headers);
        this.warnOfWebPage(conn, headers);
      },
      onError: (err) => this.logger.error(`listener error: ${err.message}`),
      handshakeTimeoutMs: this.limits.idleTimeoutMs,
      onHandshakeTimeout: (peer) => {
        this.counters.closed_idle++;
        this.logger.info(`closing ${peer}: no TLS handshake or WebSocket upgrade within ${this.limits.idleTimeoutMs} ms`);
      },
      onHeadersTooLarge: (peer, limitBytes) => {
        this.peerWarnings.warn(this.logger, `closing ${peer}: the headers of its WebSocket upgrade request are larger than ${limitBytes} bytes (Node's --max-http-header-size; a long token?)`);
      },
      onTlsFailure: (peer, reason, level) => {
        if (level === 'warn') this.peerWarnings.warn(this.logger, `closing ${peer}: ${reason}`);
        else this.logger.debug(`closing ${peer}: ${reason}`);
      },
      onTlsOnPlain: (peer) => {
        this.peerWarnings.warn(this.logger, `closing ${peer}: it started a TLS handshake (a tls:// or wss:// client? this server is tcp://)`);
      },
      onNotHttp: (peer) => {
        this.peerWarnings.warn(this.logger, `closing ${peer}: it sent no HTTP request (a tcp:// or tls:// client?${this.endpoint.scheme === 'ws' ? ' a wss:// one?' : ''} this server is ${this.endpoint.scheme}://)`);
      },
      admitHandshake: (handshaking, peer) => {
        // Handshakes count against max_connections; when none is pending the connection may finish its upgrade,
        // so a WebSocket client past the limit gets a proper close 1013 rather than a bare reset.
        const full = handshaking > 0 && handshaking + this.peers.size >= this.limits.maxConnections;
        const blocked = this.isBlocked(peer.replace(/:\d+$/, ''));
        if (!full && !blocked) return true;
        this.counters.connections_refused++;
        this.refusedWarnings.warn(this.logger, `refused connection from ${peer}: ${blocked ? 'too many failed authentications' : `max_connections (${this.limits.maxConnections}) reached`}`);
        return false;
      },
    });
    if ((this.state as State) === 'closed') {
      await listener.close();
      throw new FastSocketError('FS_ERR_CLOSED', 'server was closed while starting');
    }
    this.listener = listener;
    this.state = 'listening';
    const sweepMs = Math.max(10, Math.min(1000, Math.min(this.limits.frameTimeoutMs, this.limits.idleTimeoutMs, this.limits.ack3TimeoutMs) / 4));
    this.sweeper = this.timers.setInterval(() => this.sweep(), sweepMs);
    this.sweeper.unref();
    const exposed = exposureWarning(listener.url, this.endpoint.host, isSecureScheme(this.endpoint.scheme), this.tokenDigest !== null, this.options.tls?.ca !== undefined);
    if (exposed) this.logger.warn(exposed);
    const invalid = this.options.tls?.cert ? certificateValidityProblem(this.options.tls.cert, this.wallClock() / 1e6) : null;
    // Served all the same (a clock that is wrong here may be right on the clients), but every client will refuse it.
    if (invalid) this.logger.warn(`the server certificate (tls.cert, --cert, tls_cert) ${invalid}: clients that check it will refuse to connect`);
    this.logger.info(`listening on ${listener.url}`);
    return listener.url;
  }

  /**
   * Calls every listener, each on its own: one that throws is logged at error (to `logger`) and stops neither the
   * other listeners nor this server.
   */
  override emit<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): boolean {
    return emitToEach(this, event, args, this.logger);
  }

  /** The bound URL, or null before listen(). */
  get url(): string | null {
    return this.listener?.url ?? null;
  }

  /** A copy of the counters, taken now. */
  stats(): ServerStats {
    return { ...this.counters, bad_frames_by_reason: { ...this.counters.bad_frames_by_reason }, connections: this.peers.size };
  }

  /**
   * Stops listening and closes every connection, each once the acks 3 of its pending latency records have come (at
   * most 500 ms); resolves once each has emitted 'disconnect'. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.state = 'closed';
    if (this.sweeper) this.timers.clearInterval(this.sweeper);
    // A peer with latency records pending keeps its connection until their acks 3 are read (the last message's
    // record was lost otherwise: it is on its way when a server closes right after an ack 2) or the grace below ends.
    for (const p of this.peers) {
      if (p.pending.size === 0 || !p.authenticated) p.conn.close('going_away');
      else p.draining = true;
    }
    this.closing = (async () => {
      // A listen() under way binds after this, sees the state and closes its listener: wait for that, or the port
      // stayed bound after close() resolved.
      const stopped = this.listener?.close() ?? this.starting?.then(() => undefined, () => undefined) ?? Promise.resolve();
      // Peers get a moment to read their last acks; one that does not close its side is cut off.
      await settledWithin(this.timers, stopped, 500);
      for (const p of this.peers) p.conn.destroy();
      await stopped;
      // A destroyed socket reports its close a tick or two later; 'disconnect' comes from there.
      await settledWithin(this.timers, this.noPeersLeft(), 2000);
      this.seen.close();
    })();
    return this.closing;
  }

  /**
   * Stops listening and cuts every connection at once, without waiting for acks 3 (their records count as expired);
   * resolves once each has emitted 'disconnect'. Idempotent; also cuts short a close() under way.
   */
  destroy(): Promise<void> {
    const closed = this.close();
    for (const p of this.peers) p.conn.destroy();
    return closed;
  }

  private noPeersLeft(): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (this.peers.size > 0) return;
        this.off('disconnect', check);
        resolve();
      };
      this.on('disconnect', check);
      check();
    });
  }

  private accept(conn: FrameConnection): void {
    const address = conn.peer.replace(/:\d+$/, '');
    if (this.state !== 'listening' || this.peers.size >= this.limits.maxConnections || this.isBlocked(address)) {
      this.counters.connections_refused++;
      this.refusedWarnings.warn(this.logger, `refused connection from ${conn.peer}: ${this.state !== 'listening' ? 'closing' : this.peers.size >= this.limits.maxConnections ? `max_connections (${this.limits.maxConnections}) reached` : 'too many failed authentications'}`);
      conn.on('error', () => undefined);
      conn.close('overload');
      return;
    }
    const p: PeerState = {
      conn,
      clientId: null,
      authenticated: this.tokenDigest === null || (conn as FrameConnection & { bearerOk?: boolean }).bearerOk === true,
      acceptedAtMs: performance.now(),
      firstFrame: true,
      badStreak: 0,
      badFrameWarnings: new WarnBudget(this.limits.maxBadFrames, undefined, this.peerWarnings),
      pending: new Map(),
      draining: false,
      order: [],
      orderHead: 0,
      deferredAck3: [],
      paused: false,
      warnedLateAck3: false,
      warnedEarlyAck3: false,
      helloAnswered: false,
    };
    conn.readClock = this.clock;
    this.peers.add(p);
    this.counters.connections_total++;
    conn.on('frame', (data) => this.onFrame(p, data));
    conn.on('oversize', () => {
      this.counters.closed_oversize++;
      this.peerWarnings.warn(this.logger, `closing ${conn.peer}: frame larger than max_frame_bytes (${this.limits.maxFrameBytes})`);
      conn.close('too_large');
    });
    conn.on('drain', () => {
      if (p.paused && !conn.congested(this.writeHighWater)) {
        p.paused = false;
        conn.resumeReading();
      }
    });
    conn.on('error', (err) => {
      if (isWebSocketProtocolError(err)) {
        this.counters.closed_protocol++;
        this.peerWarnings.warn(this.logger, `closing ${conn.peer}: ${err.message}`);
      } else this.logger.debug(`connection ${conn.peer}: ${err.message}`);
    });
    conn.on('close', () => {
      if (!this.peers.delete(p)) return;
      // §3: the records still waiting for an ack 3 are lost with their peer (acks 3 are matched per connection), and
      // counted as the sweep counts the ones whose ack 3 never came; else they vanished from every counter.
      this.counters.ack3_expired += p.pending.size;
      p.pending.clear();
      this.emit('disconnect', { peer: conn.peer, client_id: p.clientId });
    });
    this.emit('connection', { peer: conn.peer, client_id: null });
  }

  /**
   * A browser opens a WebSocket to any address for any page, loopback included (the same-origin policy does not apply),
   * and says so with an Origin header, which fastsocket clients and WebSocket libraries do not send: a server that
   * authenticates nobody took such a page's messages in silence, on a machine where "loopback only" looked safe.
   */
  private warnOfWebPage(conn: FrameConnection, headers: IncomingHttpHeaders): void {
    if (headers.origin === undefined || this.tokenDigest !== null || (isSecureScheme(this.endpoint.scheme) && this.options.tls?.ca !== undefined)) return;
    // Python's websocket-client names the server it dials as its Origin; a page's origin is never this server's.
    if (originHost(headers.origin) === headers.host?.toLowerCase()) return;
    this.peerWarnings.warn(
      this.logger,
      `${conn.peer} is a web page (Origin: ${JSON.stringify(headers.origin.slice(0, 200))}): any page a browser that can reach this server opens can send it messages, ` +
        'and it requires no token: set one (token, --token-file, token_file)',
    );
  }

  private checkBearer(conn: FrameConnection, headers: IncomingHttpHeaders): void {
    // The scheme's case is free (RFC 7235 §2.1): "bearer <token>" was refused, and only a hello could authenticate.
    const auth = headers.authorization ?? '';
    const bearer = /^Bearer +/i.exec(auth);
    if (this.tokenDigest && bearer) {
      if (safeEqual(digest(auth.slice(bearer[0].length)), this.tokenDigest)) (conn as FrameConnection & { bearerOk?: boolean }).bearerOk = true;
    }
  }

  private onFrame(p: PeerState, data: Buffer): void {
    try {
      this.handleFrame(p, data);
    } catch (err) {
      // Nothing may escape a socket callback; an application listener that throws must not kill the connection.
      this.logger.error(`error handling a frame from ${p.conn.peer}: ${(err as Error).stack ?? err}`);
    }
  }

  private handleFrame(p: PeerState, data: Buffer): void {
    if (p.conn.isClosed) return;
    const readAt = p.conn.frameReadAtNs();
    let frame;
    try {
      frame = decodeClientFrame(data);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (p.firstFrame && (this.endpoint.scheme === 'tcp' || this.endpoint.scheme === 'tls') && HTTP_REQUEST_LINE.test(data.toString('latin1'))) {
        // A ws:// client's upgrade request, read as lines: say so once and close, rather than a bad frame per header line.
        p.firstFrame = false;
        this.countBadFrame(err);
        this.peerWarnings.warn(this.logger, `closing ${p.conn.peer}: it sent an HTTP request (a ws:// or wss:// client? this server is ${this.endpoint.scheme}://)`);
        p.conn.close(badFrameCloseReason(err));
        return;
      }
      this.rejectFrame(p, err);
      return;
    }
    const first = p.firstFrame;
    p.firstFrame = false;
    // Any valid frame, a hello included, ends a run of bad frames (§5: max_bad_frames consecutive ones close).
    p.badStreak = 0;
    // Closing: a message is not acknowledged (its client sends it again elsewhere), and not handed over after close().
    if (p.draining && frame.type !== 'ack') return;
    if (frame.type === 'hello') {
      if (this.tokenDigest && !p.authenticated) {
        if (!first || frame.token === undefined || !safeEqual(digest(frame.token), this.tokenDigest)) {
          this.failAuth(p, frame.token === undefined ? 'hello without token' : 'wrong token');
          return;
        }
        p.authenticated = true;
      }
      p.clientId = frame.client_id ?? null;
      // A client says hello once per connection. A peer that says it again and again gets the bare answer, as long as
      // its hello: answering each with the limits and the instance made 3.6x the bytes it sent, so a peer that does
      // not read filled our write buffer faster than its own (the high-water mark stops reading only between reads).
      p.conn.write(p.helloAnswered ? encodeHello() : encodeHello(undefined, undefined, this.limits.maxFrameBytes, this.instance));
      p.helloAnswered = true;
      this.pauseIfCongested(p);
      this.emit('hello', { peer: p.conn.peer, client_id: p.clientId });
      return;
    }
    if (!p.authenticated) {
      this.failAuth(p, 'first frame is not a hello with a token');
      return;
    }
    if (frame.type === 'message') this.onMessage(p, frame, readAt);
    else this.deferAck3(p, frame, readAt);
  }

  /**
   * Called after every write to a peer (acks 2 and hello replies alike): a peer that does not read what we send must
   * not make us buffer without bound, whatever it sends us.
   */
  private pauseIfCongested(p: PeerState): void {
    if (p.paused || !p.conn.congested(this.writeHighWater)) return;
    p.paused = true;
    this.counters.paused_reading++;
    p.conn.pauseReading();
  }

  private deferAck3(p: PeerState, frame: Ack3Frame, readAt: number): void {
    if (p.deferredAck3.push({ frame, readAt, seqAtRead: this.pendingSeq }) === 1) p.conn.afterRead(() => this.completeDeferredAck3(p));
  }

  /** Completes the deferred acks 3 of a peer, in arrival order. */
  private completeDeferredAck3(p: PeerState): void {
    const deferred = p.deferredAck3;
    if (deferred.length === 0) return;
    p.deferredAck3 = [];
    for (const { frame, readAt, seqAtRead } of deferred) {
      try {
        this.onAck3(p, frame, readAt, seqAtRead);
      } catch (err) {
        this.logger.error(`error handling an ack 3 from ${p.conn.peer}: ${(err as Error).stack ?? err}`);
      }
    }
    if (p.draining && p.pending.size === 0) p.conn.close('going_away');
  }

  private onMessage(p: PeerState, frame: MessageFrame, readAt: number): void {
    const resent = frame.resent === true;
    // An ack 3 read before this message must be seen first when it touches the same table: its record, or the room
    // an eviction would make.
    if (p.deferredAck3.length > 0 && (p.pending.size >= this.limits.maxPendingAck3 || p.pending.has(frame.id))) {
      this.completeDeferredAck3(p);
    }
    if (p.pending.size >= this.limits.maxPendingAck3 && !p.pending.has(frame.id)) {
      const oldest = this.oldestPending(p);
      if (oldest) {
        this.dropOldest(p, oldest);
        this.counters.ack3_overflow++;
      }
    }
    const wallRecv = frame.client_send_wall_ns !== undefined ? this.wallClock() - (this.clock() - readAt) : 0;
    // §3: a message 1 with an id already seen is a resend, whether or not the client flagged it.
    const duplicate = this.seen.has(frame.id);
    const pending: Pending = { id: frame.id, seq: ++this.pendingSeq, readAtNs: readAt, ack2AtNs: readAt, ack2Written: false, resent: resent || duplicate, queuedNs: frame.queued_ns };
    if (frame.client_send_wall_ns !== undefined) pending.wall = [frame.client_send_wall_ns, wallRecv, wallRecv];
    p.pending.set(frame.id, pending);
    p.order.push(pending);
    this.compactOrder(p);
    const ack2 = encodeAck2(frame.id);
    // T2 and ps hinge on when ack 2 really leaves, which is at the end of this event-loop turn.
    p.conn.writeLazy(() => {
      const at = this.clock();
      pending.ack2AtNs = at;
      pending.ack2Written = true;
      if (pending.wall) pending.wall[2] = pending.wall[1] + (at - readAt);
      return ack2;
    }, ack2.length);
    this.pauseIfCongested(p);
    if (duplicate) {
      this.counters.duplicates++;
      return;
    }
    this.counters.messages++;
    if (resent) {
      this.counters.resent++;
      this.counters.possible_duplicates++;
    }
    try {
      this.emit('message', {
        id: frame.id,
        payload: frame.payload,
        peer: p.conn.peer,
        client_id: p.clientId,
        resent,
        possible_duplicate: resent,
        queued_ns: frame.queued_ns ?? null,
      });
    } finally {
      // Journalled once the application's handler has returned, and before ack 2 leaves (writes are flushed after
      // this tick): a crash inside the handler leaves the id unjournalled and unacked, so the resend is handed over
      // again; a crash after it finds the id journalled, so the resend is not.
      this.seen.add(frame.id);
    }
  }

  private onAck3(p: PeerState, frame: Ack3Frame, readAt: number, seqAtRead: number): void {
    const pending = p.pending.get(frame.id);
    // A record made after this ack 3 was read (its message 1 came later in the same read) was unknown to it: matched,
    // it would get a negative T2, and the real ack 3 that follows would be counted unknown instead.
    if (!pending || pending.seq > seqAtRead) {
      this.counters.ack3_unknown++;
      const ack2AtNs = pending ? undefined : this.expiredIds.get(frame.id);
      if (ack2AtNs === undefined) {
        this.logger.debug(`ack 3 for unknown or completed id from ${p.conn.peer}`);
        return;
      }
      this.expiredIds.delete(frame.id);
      this.counters.ack3_late++;
      const text =
        `ack 3 of ${logSafe(frame.id)} from ${p.conn.peer} came ${Math.round((readAt - ack2AtNs) / 1e6)} ms after its ack 2, later than ack3_timeout_ms ` +
        `(${this.limits.ack3TimeoutMs} ms), so its latency record was lost (counted in ack3_expired and ack3_late). T2 on this link outlasts ` +
        'the timeout (acks 3 queued behind later messages under a bandwidth cap, a long outage): raise ack3_timeout_ms above it, or the ' +
        'records left are biased towards the messages whose ack 3 came soonest';
      if (p.warnedLateAck3) this.logger.debug(text);
      else this.peerWarnings.warn(this.logger, text);
      p.warnedLateAck3 = true;
      return;
    }
    if (!pending.ack2Written || readAt < pending.ack2AtNs) {
      // Read before its ack 2 was written (the peer did not wait for it, or wrote both in one go): its T2 would be
      // negative and its latency larger than its T1. Ignored as an ack 3 for no message awaiting one; the record stays
      // pending, for an ack 3 that answers ack 2, or to expire.
      this.counters.ack3_unknown++;
      if (!p.warnedEarlyAck3) {
        p.warnedEarlyAck3 = true;
        this.peerWarnings.warn(this.logger, `ignoring an ack 3 of ${logSafe(frame.id)} from ${p.conn.peer}: it was read before its ack 2 was written (counted in ack3_unknown)`);
      }
      return;
    }
    p.pending.delete(frame.id);
    // Advance past completed records so the queue stays as long as what is pending.
    this.oldestPending(p);
    this.compactOrder(p);
    this.counters.latencies++;
    this.emit(
      'latency',
      latencyRecord({
        id: frame.id,
        peer: p.conn.peer,
        clientId: p.clientId,
        resent: pending.resent,
        t1Ns: frame.send_and_ack_time_ns,
        readAtNs: pending.readAtNs,
        ack2AtNs: pending.ack2AtNs,
        ack3AtNs: readAt,
        pcNs: frame.pc_ns,
        queuedNs: pending.queuedNs,
        wall:
          pending.wall
            ? {
                clientSendNs: pending.wall[0],
                serverRecvNs: pending.wall[1],
                serverSendNs: pending.wall[2],
                clientRecvNs: frame.client_recv_wall_ns,
                maxUncertaintyNs: this.syncMaxUncertaintyNs,
              }
            : undefined,
      }),
    );
  }

  /**
   * The oldest pending record, after skipping (and emptying) the queue entries whose record is gone or was replaced.
   */
  private oldestPending(p: PeerState): Pending | null {
    while (p.orderHead < p.order.length) {
      const entry = p.order[p.orderHead]!;
      if (p.pending.get(entry.id) === entry) return entry;
      p.order[p.orderHead++] = undefined;
    }
    return null;
  }

  /** Deletes the record oldestPending() returned, and its queue entry. */
  private dropOldest(p: PeerState, oldest: Pending): void {
    p.pending.delete(oldest.id);
    p.order[p.orderHead++] = undefined;
  }

  /**
   * Keeps a peer's queue about as long as what is pending: drops the entries that eviction and expiry have passed,
   * and, once entries whose record is gone or was replaced outnumber the live ones by 1024, those too. A resent id
   * replaces its record and leaves its old entry behind, and acks 3 out of order leave theirs, which oldestPending()
   * only skips from the head: a client that resent one id over and over behind one unanswered message grew the queue
   * by an entry per frame (5,000,000 in 8 s: 400 MB) although max_pending_ack3 bounds the records. Amortised O(1).
   */
  private compactOrder(p: PeerState): void {
    if (p.order.length - p.orderHead > 2 * p.pending.size + 1024) {
      p.order = p.order.slice(p.orderHead).filter((e) => e !== undefined && p.pending.get(e.id) === e);
      p.orderHead = 0;
    } else if (p.orderHead > 1024 && p.orderHead * 2 > p.order.length) {
      p.order = p.order.slice(p.orderHead);
      p.orderHead = 0;
    }
  }

  private countBadFrame(err: ProtocolError): void {
    this.counters.bad_frames++;
    this.counters.bad_frames_by_reason[err.reason] = (this.counters.bad_frames_by_reason[err.reason] ?? 0) + 1;
  }

  private rejectFrame(p: PeerState, err: ProtocolError): void {
    this.countBadFrame(err);
    p.badStreak++;
    p.badFrameWarnings.warn(this.logger, `bad frame from ${p.conn.peer} (${err.reason}): ${err.message}`);
    this.emit('bad-frame', { peer: p.conn.peer, error: err });
    if (this.tokenDigest && !p.authenticated) {
      this.failAuth(p, 'first frame is not a valid hello');
      return;
    }
    if (p.badStreak >= this.limits.maxBadFrames) {
      this.counters.closed_bad++;
      this.peerWarnings.warn(this.logger, `closing ${p.conn.peer}: ${p.badStreak} consecutive bad frames`);
      p.conn.close(badFrameCloseReason(err));
    }
  }

  private failAuth(p: PeerState, why: string): void {
    this.counters.auth_failures++;
    const address = p.conn.peer.replace(/:\d+$/, '');
    const now = performance.now();
    const f = this.authFailures.get(address);
    if (!f || now - f.sinceMs > AUTH_FAILURE_WINDOW_MS) this.authFailures.set(address, { count: 1, sinceMs: now });
    else f.count++;
    this.peerWarnings.warn(this.logger, `closing ${p.conn.peer}: authentication failed (${why})`);
    p.conn.close('policy');
  }

  private isBlocked(address: string): boolean {
    const f = this.authFailures.get(address);
    if (!f) return false;
    if (performance.now() - f.sinceMs > AUTH_FAILURE_WINDOW_MS) {
      this.authFailures.delete(address);
      return false;
    }
    return f.count >= AUTH_FAILURES_BEFORE_BLOCK;
  }

  private rememberExpired(id: string, ack2AtNs: number): void {
    this.expiredIds.delete(id);
    this.expiredIds.set(id, ack2AtNs);
    if (this.expiredIds.size > EXPIRED_IDS_KEPT) this.expiredIds.delete(this.expiredIds.keys().next().value as string);
  }

  private sweep(): void {
    const nowMs = performance.now();
    // Forget old authentication failures, so many attacking addresses cannot grow the table without bound.
    for (const [address, f] of this.authFailures) if (nowMs - f.sinceMs > AUTH_FAILURE_WINDOW_MS) this.authFailures.delete(address);
    const nowNs = this.clock();
    const ack3TimeoutNs = this.limits.ack3TimeoutMs * 1e6;
    for (const p of this.peers) {
      // Closing already (e.g. waiting for a close handshake the peer never answers): counted once, when closed.
      if (p.conn.isClosed) continue;
      // Blank lines, blank ws messages and pings are bytes but no frame: counted as activity, they held an
      // unauthenticated connection (and its slot under max_connections) open for ever, without a hello.
      if (!p.authenticated && nowMs - p.acceptedAtMs > this.limits.idleTimeoutMs) {
        this.counters.closed_idle++;
        this.peerWarnings.warn(this.logger, `closing ${p.conn.peer}: no hello with a token within ${this.limits.idleTimeoutMs} ms (idle_timeout_ms) of connecting`);
        p.conn.close('policy');
        continue;
      }
      if (nowMs - p.conn.lastActivityMs > this.limits.idleTimeoutMs) {
        this.counters.closed_idle++;
        this.logger.info(`closing ${p.conn.peer}: idle for ${this.limits.idleTimeoutMs} ms`);
        p.conn.close('normal');
        continue;
      }
      if (p.conn.frameOverdue(nowMs, this.limits.frameTimeoutMs)) {
        this.counters.closed_frame_timeout++;
        this.peerWarnings.warn(this.logger, `closing ${p.conn.peer}: frame not completed within ${this.limits.frameTimeoutMs} ms`);
        p.conn.close('policy');
        continue;
      }
      for (let oldest = this.oldestPending(p); oldest; oldest = this.oldestPending(p)) {
        if (nowNs - oldest.ack2AtNs <= ack3TimeoutNs) break;
        this.rememberExpired(oldest.id, oldest.ack2AtNs);
        this.dropOldest(p, oldest);
        this.counters.ack3_expired++;
      }
      this.compactOrder(p);
    }
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Compares two SHA-256 digests in constant time, so the token cannot be guessed byte by byte. */
function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The warning for a server others can reach without TLS or without a way to tell its clients (a token, or client
 * certificates: mutual TLS), or null when it is loopback-only or has both.
 */
export function exposureWarning(url: string, host: string, secure: boolean, hasToken: boolean, clientCertificates = false): string | null {
  const authenticates = hasToken || (secure && clientCertificates);
  if (isLoopback(host) || (secure && authenticates)) return null;
  const missing = [secure ? null : 'TLS', authenticates ? null : secure ? 'a token or client certificates' : 'a token'].filter((m) => m !== null).join(' or ');
  return `listening on non-loopback ${url} without ${missing}: anyone who can reach this address can inject messages`;
}

/** The host (and port) an Origin header names, lower-case; null for `null` or anything else that is no URL. */
function originHost(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}
