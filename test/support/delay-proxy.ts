import { EventEmitter } from 'node:events';
import * as net from 'node:net';

/** `up` carries bytes from the client to the target (the server), `down` the way back. */
export type Direction = 'up' | 'down';

export const DIRECTIONS: readonly Direction[] = ['up', 'down'];

/** One direction of the emulated link. */
export interface LinkConfig {
  /** One-way propagation delay. @default 0 */
  delayMs?: number;
  /**
   * Spread of the random extra delay; see `jitterDistribution`. Bytes never overtake earlier bytes, so a
   * chunk drawn faster than the one before it waits for it (as TCP delivers in order). @default 0
   */
  jitterMs?: number;
  /** 'uniform': delay + U(-jitter, +jitter); 'normal': delay + N(0, jitter) as standard deviation. @default 'uniform' */
  jitterDistribution?: 'uniform' | 'normal';
  /** Rate in bits/s, shared by every connection in this direction (one radio link); 0 is unlimited. @default 0 */
  bandwidthBps?: number;
}

/**
 * How `cut()` breaks the link. 'hold': connections stay open and bytes wait in the proxy until
 * `restore()`, as TCP retransmission makes data late, not lost, across an outage (new connections
 * are accepted but their bytes wait too). 'reset': every connection is reset and new ones are reset
 * on accept until `restore()`.
 */
export type CutMode = 'hold' | 'reset';

/** When one piece of a byte stream entered and left the proxy, on `process.hrtime.bigint()`. */
export interface ChunkRecord {
  /** Sequential id of the proxied connection, from 1. */
  connection: number;
  direction: Direction;
  /** Offset of the chunk's first byte in this connection's stream in this direction. */
  offset: number;
  bytes: number;
  enterNs: bigint;
  leaveNs: bigint;
  /** leaveNs - enterNs: the delay every byte of this chunk experienced. */
  transitNs: number;
}

export interface DelayProxyOptions {
  /** Where to forward: a fastsocket URL (`tcp://`, `ws://`, ...; `url` then keeps its scheme and path) or host and port. */
  target: string | { host?: string; port: number };
  up?: LinkConfig;
  down?: LinkConfig;
  /** Uniform [0, 1) source for jitter, injected for reproducible runs. @default Math.random */
  random?: () => number;
  /** Chunk records kept per direction (oldest dropped first). @default 100000 */
  historyLimit?: number;
  /** Under a bandwidth cap, chunks are split into segments of at most this size so delivery is paced. @default 1460 */
  segmentBytes?: number;
  /** Bytes waiting per connection and direction before the proxy stops reading from the sender. @default 8 MiB */
  maxQueuedBytes?: number;
}

/** Bytes that reached the proxy and now wait for their due time. */
export interface EnterEvent {
  connection: number;
  direction: Direction;
  offset: number;
  bytes: number;
  enterNs: bigint;
}

/** Events, so tests wait for what happened instead of sleeping; listeners run synchronously inside the proxy. */
export interface DelayProxyEvents {
  /** A client connected and the proxy started connecting to the target. */
  connection: [id: number];
  enter: [event: EnterEvent];
  /** A chunk left the proxy; `data` lets a listener find frame boundaries. */
  leave: [record: ChunkRecord, data: Buffer];
}

export interface DelayProxyStats {
  connections: number;
  connections_total: number;
  /** Connections reset on accept while the link was cut in 'reset' mode. */
  refused: number;
  bytes_up: number;
  bytes_down: number;
  queued_up: number;
  queued_down: number;
  /** Senders the proxy stopped reading from because `maxQueuedBytes` were waiting. */
  paused_senders: number;
  /** Chunk records dropped from the history because of `historyLimit`. */
  records_evicted: number;
}

const MS = 1_000_000;
const DEFAULTS = { historyLimit: 100_000, segmentBytes: 1460, maxQueuedBytes: 8 * 1024 * 1024 };
// A Node timer can fire up to a millisecond early against hrtime and rounds to whole ms, so the
// last stretch before a due time is polled with setImmediate: bytes never leave early.
const POLL_BELOW_NS = 1_500_000n;

function fail(name: string, expected: string, value: unknown): never {
  throw new TypeError(`delay proxy option ${name} must be ${expected}, got ${String(value)}`);
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(name, 'a finite number >= 0', value);
  return value;
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(name, 'an integer >= 1', value);
  return value;
}

type ResolvedLink = Required<LinkConfig>;

function resolveLink(name: string, base: ResolvedLink, config: LinkConfig | undefined): ResolvedLink {
  const c = { ...base, ...config };
  nonNegative(`${name}.delayMs`, c.delayMs);
  nonNegative(`${name}.jitterMs`, c.jitterMs);
  nonNegative(`${name}.bandwidthBps`, c.bandwidthBps);
  if (c.jitterDistribution !== 'uniform' && c.jitterDistribution !== 'normal') {
    fail(`${name}.jitterDistribution`, "'uniform' or 'normal'", c.jitterDistribution);
  }
  return c;
}

const NO_LINK: ResolvedLink = Object.freeze({ delayMs: 0, jitterMs: 0, jitterDistribution: 'uniform', bandwidthBps: 0 });

interface Target {
  host: string;
  port: number;
  url: URL | null;
}

function resolveTarget(target: DelayProxyOptions['target']): Target {
  if (typeof target === 'string') {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      fail('target', 'a URL with host and port', target);
    }
    const port = Number(url.port);
    if (!url.hostname || !Number.isInteger(port) || port < 1) fail('target', 'a URL with host and port', target);
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, url };
  }
  if (typeof target !== 'object' || target === null) fail('target', 'a URL or { host, port }', target);
  const port = target.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('target.port', 'an integer from 1 to 65535', port);
  return { host: target.host ?? '127.0.0.1', port, url: null };
}

/** Chunk records of one connection in one direction, in stream order; `head` skips evicted ones. */
interface StreamHistory {
  records: ChunkRecord[];
  head: number;
}

/** Bounded record of chunks in one direction across connections: a ring for eviction, per-connection lists for lookup. */
class History {
  private readonly ring: ChunkRecord[] = [];
  private next = 0;
  readonly streams = new Map<number, StreamHistory>();
  evicted = 0;

  constructor(private readonly limit: number) {}

  add(record: ChunkRecord): void {
    if (this.ring.length === this.limit) this.evict(this.ring[this.next]!);
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.limit;
    let stream = this.streams.get(record.connection);
    if (!stream) this.streams.set(record.connection, (stream = { records: [], head: 0 }));
    stream.records.push(record);
  }

  // The ring's oldest record is the first live record of its own stream, since both keep insertion order.
  private evict(oldest: ChunkRecord): void {
    this.evicted++;
    const stream = this.streams.get(oldest.connection)!;
    stream.head++;
    if (stream.head === stream.records.length) {
      this.streams.delete(oldest.connection);
    } else if (stream.head > 1024 && stream.head * 2 > stream.records.length) {
      stream.records = stream.records.slice(stream.head);
      stream.head = 0;
    }
  }

  /** The first live record of `connection` for which `before(record)` is false, by binary search. */
  search(connection: number, before: (r: ChunkRecord) => boolean): ChunkRecord | undefined {
    const stream = this.streams.get(connection);
    if (!stream) return undefined;
    let lo = stream.head;
    let hi = stream.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(stream.records[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return stream.records[lo];
  }

  list(connection?: number): ChunkRecord[] {
    const out: ChunkRecord[] = [];
    for (const [id, s] of this.streams) if (connection === undefined || id === connection) out.push(...s.records.slice(s.head));
    return connection === undefined ? out.sort((a, b) => (a.leaveNs < b.leaveNs ? -1 : a.leaveNs > b.leaveNs ? 1 : 0)) : out;
  }
}

interface QueuedItem {
  /** 'end' (FIN) and 'reset' (RST) from the sender travel in order after the bytes it sent before them. */
  data: Buffer | 'end' | 'reset';
  offset: number;
  enterNs: bigint;
  dueNs: bigint;
}

/** Shared state of one direction of the link: its configuration and when its transmitter is next free. */
interface DirectionState {
  link: ResolvedLink;
  freeAtNs: bigint;
  history: History;
  bytes: number;
}

/** One direction of one proxied connection: a FIFO released at due times, so order always holds. */
class Pipe {
  private queue: QueuedItem[] = [];
  private head = 0;
  private entered = 0;
  private lastDueNs = 0n;
  pausedSource = false;
  private waitingForDrain = false;
  queuedBytes = 0;
  destReady = false;
  wakeNs = 0n;

  constructor(
    private readonly proxy: DelayProxy,
    readonly connection: number,
    readonly direction: Direction,
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
  ) {}

  push(data: Buffer): void {
    const enterNs = process.hrtime.bigint();
    const state = this.proxy.directionState(this.direction);
    const step = state.link.bandwidthBps > 0 ? this.proxy.segmentBytes : data.length;
    const { connection, direction, entered: offset } = this;
    this.proxy.emit('enter', { connection, direction, offset, bytes: data.length, enterNs });
    for (let start = 0; start < data.length; start += step) {
      const piece = data.subarray(start, start + step);
      this.queue.push({ data: piece, offset: this.entered, enterNs, dueNs: this.schedule(enterNs, piece.length) });
      this.entered += piece.length;
      this.queuedBytes += piece.length;
    }
    if (this.queuedBytes > this.proxy.maxQueuedBytes && !this.pausedSource) {
      this.pausedSource = true;
      this.source.pause();
    }
    this.pump();
  }

  pushControl(signal: 'end' | 'reset'): void {
    const enterNs = process.hrtime.bigint();
    this.queue.push({ data: signal, offset: this.entered, enterNs, dueNs: this.schedule(enterNs, 0) });
    this.pump();
  }

  /** Gives every waiting item a fresh passage through the link from `fromNs`, as retransmissions after an outage. */
  reschedule(fromNs: bigint): void {
    this.lastDueNs = 0n;
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      item.dueNs = this.schedule(fromNs, typeof item.data === 'string' ? 0 : item.data.length);
    }
  }

  clear(): void {
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  /** Releases every due item; releases nothing while the link is held or the destination is not writable. */
  pump(): void {
    if (this.proxy.holding || !this.destReady || this.waitingForDrain) return;
    while (this.head < this.queue.length && !this.dest.destroyed) {
      const item = this.queue[this.head]!;
      if (item.dueNs > process.hrtime.bigint()) {
        this.proxy.wakeAt(this, item.dueNs);
        break;
      }
      if (this.dest.writableNeedDrain) {
        this.waitingForDrain = true;
        this.dest.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        break;
      }
      this.head++;
      if (item.data === 'end') {
        this.dest.end();
        continue;
      }
      if (item.data === 'reset') {
        this.proxy.resetConnection(this.connection);
        return;
      }
      this.queuedBytes -= item.data.length;
      // Taken before the write: the peer can read the bytes as soon as write() copies them to the kernel.
      const leaveNs = process.hrtime.bigint();
      this.dest.write(item.data);
      this.proxy.recordChunk(this, item, item.data, leaveNs);
    }
    if (this.dest.destroyed) this.clear();
    this.compact();
    if (this.pausedSource && this.queuedBytes <= this.proxy.maxQueuedBytes) {
      this.pausedSource = false;
      this.source.resume();
    }
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private schedule(fromNs: bigint, bytes: number): bigint {
    const state = this.proxy.directionState(this.direction);
    let sentNs = fromNs;
    if (state.link.bandwidthBps > 0 && bytes > 0) {
      const start = state.freeAtNs > fromNs ? state.freeAtNs : fromNs;
      sentNs = start + BigInt(Math.ceil((bytes * 8 * 1e9) / state.link.bandwidthBps));
      state.freeAtNs = sentNs;
    }
    const due = sentNs + BigInt(Math.round(this.proxy.sampleDelayMs(state.link) * MS));
    // A chunk never overtakes the one before it: jitter stretches the queue, it does not reorder bytes.
    this.lastDueNs = due > this.lastDueNs ? due : this.lastDueNs;
    return this.lastDueNs;
  }
}

/** A client connection and its connection to the target, joined by one pipe per direction. */
interface ProxiedConnection {
  id: number;
  client: net.Socket;
  server: net.Socket;
  pipes: Record<Direction, Pipe>;
}

/**
 * User-space TCP delay proxy on 127.0.0.1 for tests and benchmarks (the kernel here has no netem):
 * per-direction delay, order-preserving jitter, a bandwidth cap and a switch to cut the link, with a
 * record of when each chunk entered and left in each direction as ground truth for latency estimates.
 * Any TCP byte stream passes (tcp, ws, and tls/wss since it never looks inside); TCP handshakes are
 * not delayed, only bytes.
 */
export class DelayProxy extends EventEmitter<DelayProxyEvents> {
  readonly host = '127.0.0.1';
  readonly segmentBytes: number;
  readonly maxQueuedBytes: number;
  private readonly target: Target;
  private readonly random: () => number;
  private readonly directions: Record<Direction, DirectionState>;
  private readonly server: net.Server;
  private readonly connections = new Map<number, ProxiedConnection>();
  private readonly waiting = new Set<Pipe>();
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakeImmediate: NodeJS.Immediate | null = null;
  private armedNs: bigint | null = null;
  private cutMode: CutMode | null = null;
  private lastConnection = 0;
  private refused = 0;
  private boundPort = 0;
  private closing: Promise<void> | null = null;

  /** Starts a proxy listening on 127.0.0.1, port 0. @throws TypeError naming a bad option. */
  static async start(options: DelayProxyOptions): Promise<DelayProxy> {
    const proxy = new DelayProxy(options);
    await proxy.listen();
    return proxy;
  }

  private constructor(options: DelayProxyOptions) {
    super();
    if (typeof options !== 'object' || options === null) fail('options', 'an object', options);
    this.target = resolveTarget(options.target);
    const historyLimit = positiveInteger('historyLimit', options.historyLimit ?? DEFAULTS.historyLimit);
    this.segmentBytes = positiveInteger('segmentBytes', options.segmentBytes ?? DEFAULTS.segmentBytes);
    this.maxQueuedBytes = positiveInteger('maxQueuedBytes', options.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes);
    this.random = options.random ?? Math.random;
    if (typeof this.random !== 'function') fail('random', 'a function', this.random);
    const direction = (d: Direction): DirectionState => ({
      link: resolveLink(d, NO_LINK, options[d]),
      freeAtNs: 0n,
      history: new History(historyLimit),
      bytes: 0,
    });
    this.directions = { up: direction('up'), down: direction('down') };
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  /** Port the proxy listens on. */
  get port(): number {
    return this.boundPort;
  }

  /** The target URL with the proxy's address, or `tcp://127.0.0.1:PORT` when the target was host and port. */
  get url(): string {
    if (!this.target.url) return `tcp://${this.host}:${this.port}`;
    const url = new URL(this.target.url.toString());
    url.hostname = this.host;
    url.port = String(this.port);
    return url.toString();
  }

  /** Whether `cut()` is in effect. */
  get isCut(): boolean {
    return this.cutMode !== null;
  }

  /** @internal Whether bytes are being held by a 'hold' cut. */
  get holding(): boolean {
    return this.cutMode === 'hold';
  }

  /**
   * Changes one direction of the link for bytes entering from now on. A new bandwidth also re-paces the bytes waiting
   * in the proxy from now, as a radio link whose rate changed sends its queue at the new rate (each then gets the
   * delay from now: up to one delay more than a real link gives bytes already on their way). @throws TypeError naming a bad field.
   */
  setLink(direction: Direction, config: LinkConfig): void {
    const state = this.directionState(direction);
    const bandwidthBefore = state.link.bandwidthBps;
    state.link = resolveLink(direction, state.link, config);
    if (state.link.bandwidthBps === bandwidthBefore || this.holding) return;
    const now = process.hrtime.bigint();
    state.freeAtNs = now;
    for (const c of this.connections.values()) {
      c.pipes[direction].reschedule(now);
      c.pipes[direction].pump();
    }
  }

  /** Breaks the link until `restore()`; see `CutMode`. @default mode 'hold' */
  cut({ mode = 'hold' }: { mode?: CutMode } = {}): void {
    if (mode !== 'hold' && mode !== 'reset') fail('cut mode', "'hold' or 'reset'", mode);
    this.cutMode = mode;
    if (mode === 'reset') for (const c of [...this.connections.values()]) this.destroyConnection(c, true);
  }

  /** Ends a cut: held bytes cross the link again (with its delay, from now) and new connections are accepted. */
  restore(): void {
    const wasHolding = this.holding;
    this.cutMode = null;
    if (!wasHolding) return;
    const now = process.hrtime.bigint();
    for (const d of DIRECTIONS) this.directions[d].freeAtNs = now;
    for (const c of this.connections.values()) {
      for (const d of DIRECTIONS) {
        c.pipes[d].reschedule(now);
        c.pipes[d].pump();
      }
    }
  }

  /** The recorded chunk holding byte `byteOffset` of a connection's stream (default: the latest connection). */
  chunkAt(direction: Direction, byteOffset: number, connection = this.lastConnection): ChunkRecord | undefined {
    const r = this.directionState(direction).history.search(connection, (c) => c.offset + c.bytes <= byteOffset);
    return r && r.offset <= byteOffset ? r : undefined;
  }

  /** The delay (ns) experienced by the chunk holding byte `byteOffset`, or undefined if not (or no longer) recorded. */
  transitOf(direction: Direction, byteOffset: number, connection = this.lastConnection): number | undefined {
    return this.chunkAt(direction, byteOffset, connection)?.transitNs;
  }

  /**
   * Ground truth of the clock-free estimate for one exchange, (u + d) / 2 in ns: u is the transit of the
   * byte at `upByteOffset` (e.g. message 1's last byte), d that of the byte at `downByteOffset` (ack 2's).
   */
  groundTruthNs(upByteOffset: number, downByteOffset: number, connection = this.lastConnection): number | undefined {
    const u = this.transitOf('up', upByteOffset, connection);
    const d = this.transitOf('down', downByteOffset, connection);
    return u === undefined || d === undefined ? undefined : (u + d) / 2;
  }

  /** The first recorded chunk that entered at or after `sinceNs` (hrtime), for matching by time when offsets are unknown. */
  firstChunkAfter(direction: Direction, sinceNs: bigint, connection = this.lastConnection): ChunkRecord | undefined {
    return this.directionState(direction).history.search(connection, (c) => c.enterNs < sinceNs);
  }

  /** Recorded chunks of one connection in stream order, or of all connections by leave time. */
  chunks(direction: Direction, connection?: number): ChunkRecord[] {
    return this.directionState(direction).history.list(connection);
  }

  /** Id of the most recently accepted connection (0 before the first). */
  get latestConnection(): number {
    return this.lastConnection;
  }

  stats(): DelayProxyStats {
    const pipes = [...this.connections.values()].flatMap((c) => [c.pipes.up, c.pipes.down]);
    const queued = (d: Direction): number =>
      pipes.reduce((sum, p) => sum + (p.direction === d ? p.queuedBytes : 0), 0);
    return {
      connections: this.connections.size,
      connections_total: this.lastConnection,
      refused: this.refused,
      bytes_up: this.directions.up.bytes,
      bytes_down: this.directions.down.bytes,
      queued_up: queued('up'),
      queued_down: queued('down'),
      paused_senders: pipes.filter((p) => p.pausedSource).length,
      records_evicted: this.directions.up.history.evicted + this.directions.down.history.evicted,
    };
  }

  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const c of [...this.connections.values()]) this.destroyConnection(c, false);
      this.disarm();
      this.waiting.clear();
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  /** @internal */
  directionState(direction: Direction): DirectionState {
    const state = this.directions[direction];
    if (!state) fail('direction', "'up' or 'down'", direction);
    return state;
  }

  /** @internal One delay sample in ms, never negative. */
  sampleDelayMs(link: ResolvedLink): number {
    if (link.jitterMs === 0) return link.delayMs;
    let offset: number;
    if (link.jitterDistribution === 'uniform') {
      offset = (this.random() * 2 - 1) * link.jitterMs;
    } else {
      // Box-Muller; 1 - u keeps the logarithm finite when random() returns 0.
      const u1 = 1 - this.random();
      const u2 = this.random();
      offset = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2) * link.jitterMs;
    }
    return Math.max(0, link.delayMs + offset);
  }

  /** @internal */
  recordChunk(pipe: Pipe, item: QueuedItem, data: Buffer, leaveNs: bigint): void {
    const record: ChunkRecord = {
      connection: pipe.connection,
      direction: pipe.direction,
      offset: item.offset,
      bytes: data.length,
      enterNs: item.enterNs,
      leaveNs,
      transitNs: Number(leaveNs - item.enterNs),
    };
    const state = this.directions[pipe.direction];
    state.bytes += data.length;
    state.history.add(record);
    this.emit('leave', record, data);
  }

  /** @internal Asks for `pipe.pump()` once hrtime reaches `dueNs`. */
  wakeAt(pipe: Pipe, dueNs: bigint): void {
    pipe.wakeNs = dueNs;
    this.waiting.add(pipe);
    if (this.armedNs === null || dueNs < this.armedNs) this.arm(dueNs);
  }

  private arm(dueNs: bigint): void {
    this.disarm();
    this.armedNs = dueNs;
    const remaining = dueNs - process.hrtime.bigint();
    if (remaining > POLL_BELOW_NS) {
      this.wakeTimer = setTimeout(() => this.wake(), Math.floor(Number(remaining) / MS) - 1);
    } else {
      this.wakeImmediate = setImmediate(() => this.wake());
    }
  }

  private disarm(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.wakeImmediate) clearImmediate(this.wakeImmediate);
    this.wakeTimer = null;
    this.wakeImmediate = null;
    this.armedNs = null;
  }

  private wake(): void {
    this.wakeTimer = null;
    this.wakeImmediate = null;
    this.armedNs = null;
    const now = process.hrtime.bigint();
    for (const pipe of [...this.waiting]) {
      if (pipe.wakeNs <= now) {
        this.waiting.delete(pipe);
        pipe.pump();
      }
    }
    let next: bigint | null = null;
    for (const pipe of this.waiting) if (next === null || pipe.wakeNs < next) next = pipe.wakeNs;
    if (next !== null && (this.armedNs === null || next < this.armedNs)) this.arm(next);
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.host, () => {
        this.server.off('error', reject);
        this.boundPort = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    if (this.closing || this.cutMode === 'reset') {
      this.refused++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const id = ++this.lastConnection;
    const server = net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true, noDelay: true });
    const c: ProxiedConnection = {
      id,
      client,
      server,
      pipes: { up: new Pipe(this, id, 'up', client, server), down: new Pipe(this, id, 'down', server, client) },
    };
    this.connections.set(id, c);
    c.pipes.down.destReady = true;
    server.once('connect', () => {
      c.pipes.up.destReady = true;
      c.pipes.up.pump();
    });
    const join = (socket: net.Socket, from: Pipe, to: Pipe): void => {
      socket.on('data', (data: Buffer) => from.push(data));
      socket.on('end', () => from.pushControl('end'));
      // Errors arrive again as 'close' with hadError, handled there.
      socket.on('error', () => {});
      socket.on('close', (hadError) => {
        if (hadError) {
          // As on a real link, what the failed side sent before failing still arrives, then the peer is reset.
          to.clear();
          from.pushControl('reset');
        } else if (client.destroyed && server.destroyed) {
          this.connections.delete(id);
        }
      });
    };
    join(client, c.pipes.up, c.pipes.down);
    join(server, c.pipes.down, c.pipes.up);
    this.emit('connection', id);
  }

  /** @internal */
  resetConnection(id: number): void {
    const c = this.connections.get(id);
    if (c) this.destroyConnection(c, true);
  }

  private destroyConnection(c: ProxiedConnection, reset: boolean): void {
    this.connections.delete(c.id);
    for (const d of DIRECTIONS) {
      c.pipes[d].clear();
      this.waiting.delete(c.pipes[d]);
    }
    for (const socket of [c.client, c.server]) {
      if (socket.destroyed) continue;
      if (reset && socket.readyState !== 'opening') socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}
