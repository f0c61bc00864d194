/**
 * The latency estimate against ground truth, shared by test/integration/estimator.test.ts and bench/estimator.ts.
 *
 * A server, the delay proxy in front of it and a clock-synced client, in this process. A tap on the proxy's
 * `leave` events splits each proxied byte stream into frames (tcp: JSON lines; ws: RFC 6455 frames, unmasked) and
 * notes, per message id, the proxy transit of the last byte of message 1 (up) and of ack 2 (down): the moments the
 * server and the client can read them. Each latency record the server emits is then paired with its own truth,
 * (u + d)/2 for the clock-free estimates and u for the clock-synced uplink.
 */
import { EventEmitter } from 'node:events';
import {
  FastSocketClient,
  FastSocketServer,
  monotonicNs,
  type FastSocketClientOptions,
  type FastSocketServerOptions,
  type LatencyRecord,
  type SendResult,
} from '../../src/fastsocket';
import { DelayProxy, type ChunkRecord, type Direction, type LinkConfig } from './delay-proxy';

const NEWLINE = 0x0a;
const HTTP_HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Splits one direction of one proxied connection into frames, calling `onFrame` for each frame whose last byte is
 * in the chunk just fed, so the chunk's transit is that frame's.
 */
class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** ws only: the HTTP upgrade request or response still precedes the frames. */
  private inHandshake: boolean;
  private fragments: Buffer[] = [];

  constructor(
    private readonly ws: boolean,
    private readonly onFrame: (frame: Buffer) => void,
  ) {
    this.inHandshake = ws;
  }

  feed(data: Buffer): void {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    if (this.inHandshake) {
      const end = this.pending.indexOf(HTTP_HEADER_END);
      if (end === -1) return;
      this.inHandshake = false;
      this.pending = this.pending.subarray(end + HTTP_HEADER_END.length);
    }
    if (this.ws) this.wsFrames();
    else this.lines();
  }

  private lines(): void {
    let start = 0;
    for (let nl = this.pending.indexOf(NEWLINE); nl !== -1; nl = this.pending.indexOf(NEWLINE, start)) {
      this.onFrame(this.pending.subarray(start, nl));
      start = nl + 1;
    }
    this.pending = this.pending.subarray(start);
  }

  private wsFrames(): void {
    for (;;) {
      const b = this.pending;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let length = b[1] & 0x7f;
      let pos = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        pos = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        pos = 10;
      }
      const maskAt = pos;
      if (masked) pos += 4;
      if (b.length < pos + length) return;
      const payload = Buffer.from(b.subarray(pos, pos + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= b[maskAt + (i & 3)];
      this.pending = b.subarray(pos + length);
      // Control frames (close, ping, pong) may sit between the fragments of a message; they carry no ids.
      if (opcode >= 0x8) continue;
      this.fragments.push(payload);
      if (fin) {
        this.onFrame(this.fragments.length === 1 ? this.fragments[0] : Buffer.concat(this.fragments));
        this.fragments = [];
      }
    }
  }
}

/** Proxy transits (ns) of one message's frames: the last byte of message 1 and of ack 2, on the same connection. */
export interface Truth {
  upNs: number;
  downNs?: number;
}

/** Watches a delay proxy and keeps, per message id, the transits of message 1 and ack 2. */
export class FrameTap {
  private readonly splitters = new Map<string, FrameSplitter>();
  private readonly truths = new Map<string, Truth>();
  private current: ChunkRecord | null = null;
  /** Chunks that left the proxy and are not parsed yet. */
  private unparsed: Array<[ChunkRecord, Buffer]> = [];
  private parseScheduled = false;
  /** Frames that were not JSON objects with an id (a bug in the parser or a broken stream). */
  unreadable = 0;

  constructor(proxy: DelayProxy, private readonly ws: boolean) {
    // Parsed later, not inside the proxy's write: the endpoints share this process, and a reader cannot take the
    // bytes until the write's caller returns, so parsing here would add to every transit the tap is measuring.
    proxy.on('leave', (record, data) => {
      this.unparsed.push([record, data]);
      if (this.parseScheduled) return;
      this.parseScheduled = true;
      setImmediate(() => this.parsePending());
    });
  }

  /** Removes and returns the truth of `id` once both of its transits are known. */
  take(id: string): Required<Truth> | undefined {
    this.parsePending();
    const t = this.truths.get(id);
    if (t?.downNs === undefined) return undefined;
    this.truths.delete(id);
    return { upNs: t.upNs, downNs: t.downNs };
  }

  private parsePending(): void {
    this.parseScheduled = false;
    const chunks = this.unparsed;
    this.unparsed = [];
    for (const [record, data] of chunks) this.onLeave(record, data);
  }

  private onLeave(record: ChunkRecord, data: Buffer): void {
    const key = `${record.connection}/${record.direction}`;
    let splitter = this.splitters.get(key);
    if (!splitter) {
      const direction = record.direction;
      splitter = new FrameSplitter(this.ws, (frame) => this.onFrame(direction, frame));
      this.splitters.set(key, splitter);
    }
    this.current = record;
    splitter.feed(data);
    this.current = null;
  }

  private onFrame(direction: Direction, frame: Buffer): void {
    let f: { id?: unknown; type?: unknown; send_and_ack_time_ns?: unknown };
    try {
      f = JSON.parse(frame.toString('utf8'));
    } catch {
      this.unreadable++;
      return;
    }
    if (f.type === 'hello') return;
    if (typeof f.id !== 'string') {
      this.unreadable++;
      return;
    }
    const transit = this.current!.transitNs;
    // A resend starts a new exchange: its record is about the latest message 1 and the ack 2 that answers it.
    if (direction === 'up' && f.type === 'message') this.truths.set(f.id, { upNs: transit });
    else if (direction === 'down' && f.type === 'ack' && f.send_and_ack_time_ns === undefined) {
      const t = this.truths.get(f.id);
      if (t) t.downNs = transit;
    }
  }
}

/** One latency record beside its ground truth; all in ns. */
export interface EstimatorSample {
  record: LatencyRecord;
  /** (u + d)/2 from the proxy's records: what latency_ns and latency_corrected_ns estimate. */
  truthNs: number;
  /** u alone: what the clock-synced uplink_wall_ns measures. */
  upTruthNs: number;
  downTruthNs: number;
}

export const ESTIMATORS = ['seed', 'corrected', 'clock_synced'] as const;
export type Estimator = (typeof ESTIMATORS)[number];

export const ESTIMATOR_LABELS: Record<Estimator, string> = {
  seed: 'seed T1 - T2/2 (latency_ns)',
  corrected: 'corrected (T1 - ps)/2',
  clock_synced: 'clock-synced uplink',
};

/** The estimate of `e` in a sample, or undefined when the record lacks it (no clock-synced fields). */
export function estimateOf(s: EstimatorSample, e: Estimator): number | undefined {
  if (e === 'seed') return s.record.latency_ns;
  if (e === 'corrected') return s.record.latency_corrected_ns;
  return s.record.uplink_wall_ns ?? undefined;
}

/** What `e` should equal: the clock-synced mode measures the uplink alone. */
export function truthOf(s: EstimatorSample, e: Estimator): number {
  return e === 'clock_synced' ? s.upTruthNs : s.truthNs;
}

export interface LinkOptions {
  scheme: 'tcp' | 'ws';
  up?: LinkConfig;
  down?: LinkConfig;
  /** Jitter source of the proxy, for reproducible runs. */
  random?: () => number;
  /** Extra client options; `clockSync` is on unless set here. */
  client?: Omit<FastSocketClientOptions, 'url'>;
  server?: Omit<FastSocketServerOptions, 'url'>;
}

interface LinkEvents {
  sample: [sample: EstimatorSample];
}

/** A server behind a delay proxy and a client dialling the proxy, with every latency record paired with its truth. */
export class EstimatorLink extends EventEmitter<LinkEvents> {
  readonly samples: EstimatorSample[] = [];
  /** Records that arrived without both transits known (should stay 0). */
  unmatched = 0;
  private closing: Promise<void> | null = null;

  /** Starts server, proxy and client; on failure closes what it had started. */
  static async start(o: LinkOptions): Promise<EstimatorLink> {
    const server = new FastSocketServer({ url: `${o.scheme}://127.0.0.1:0`, ...o.server });
    let proxy: DelayProxy | undefined;
    try {
      const url = await server.listen();
      proxy = await DelayProxy.start({ target: url, up: o.up, down: o.down, random: o.random });
      const client = new FastSocketClient({ url: proxy.url, clockSync: true, ...o.client });
      return new EstimatorLink(server, proxy, client, new FrameTap(proxy, o.scheme === 'ws'));
    } catch (err) {
      await proxy?.close();
      await server.close();
      throw err;
    }
  }

  private constructor(
    readonly server: FastSocketServer,
    readonly proxy: DelayProxy,
    readonly client: FastSocketClient,
    readonly tap: FrameTap,
  ) {
    super();
    server.on('latency', (record) => {
      const t = tap.take(record.id);
      if (!t) {
        this.unmatched++;
        return;
      }
      const sample = { record, truthNs: (t.upNs + t.downNs) / 2, upTruthNs: t.upNs, downTruthNs: t.downNs };
      this.samples.push(sample);
      this.emit('sample', sample);
    });
  }

  /**
   * Sends `count` payloads at `rateHz` without waiting for acks (as a sensor would), then resolves with every
   * ack 2 result once all are delivered. Pacing follows the monotonic clock, so a late tick does not shift the rest.
   */
  async sendPaced(count: number, rateHz: number, payload: (seq: number) => unknown): Promise<SendResult[]> {
    const periodNs = 1e9 / rateHz;
    const startNs = monotonicNs();
    const sends: Promise<SendResult>[] = [];
    for (let seq = 0; seq < count; seq++) {
      const waitMs = (startNs + seq * periodNs - monotonicNs()) / 1e6;
      if (waitMs >= 1) await new Promise((resolve) => setTimeout(resolve, Math.floor(waitMs)));
      sends.push(this.client.send(payload(seq)));
    }
    return Promise.all(sends);
  }

  /** Resolves once `n` samples are in; rejects after `ms` naming how many arrived. */
  whenSamples(n: number, ms: number): Promise<EstimatorSample[]> {
    if (this.samples.length >= n) return Promise.resolve(this.samples);
    return new Promise((resolve, reject) => {
      const onSample = (): void => {
        if (this.samples.length < n) return;
        clearTimeout(timer);
        this.off('sample', onSample);
        resolve(this.samples);
      };
      const timer = setTimeout(() => {
        this.off('sample', onSample);
        reject(new Error(`deadline of ${ms} ms passed with ${this.samples.length}/${n} latency samples (${this.unmatched} without ground truth)`));
      }, ms);
      this.on('sample', onSample);
    });
  }

  /** The sample of one message id. */
  sampleOf(id: string): EstimatorSample | undefined {
    return this.samples.find((s) => s.record.id === id);
  }

  /** Closes client, proxy and server; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.client.destroy();
      await this.proxy.close();
      await this.server.close();
    })();
    return this.closing;
  }
}

/** Nearest-rank percentile of a sorted array (p in 0..100); 0 for an empty one. */
export function percentileOf(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** How far one estimator is from the truth over a run; errors are absolute, `bias_us` is the signed median. */
export interface ErrorSummary {
  estimator: Estimator;
  count: number;
  truth_p50_us: number;
  estimate_p50_us: number;
  /** Median of estimate - truth: the direction of the error. */
  bias_us: number;
  median_us: number;
  p95_us: number;
  max_us: number;
  /** Per-message |estimate - truth| / truth, in %. */
  median_pct: number;
  p95_pct: number;
  max_pct: number;
}

/** Error statistics of `e` over the samples that carry it (resends left out, as the library's own statistics do). */
export function errorSummary(samples: readonly EstimatorSample[], e: Estimator): ErrorSummary {
  const truths: number[] = [];
  const estimates: number[] = [];
  const signed: number[] = [];
  const abs: number[] = [];
  const pct: number[] = [];
  for (const s of samples) {
    const est = estimateOf(s, e);
    if (est === undefined || s.record.resent) continue;
    const truth = truthOf(s, e);
    truths.push(truth);
    estimates.push(est);
    signed.push(est - truth);
    abs.push(Math.abs(est - truth));
    pct.push(truth > 0 ? (100 * Math.abs(est - truth)) / truth : 0);
  }
  const sortedAbs = abs.sort((a, b) => a - b);
  const sortedPct = pct.sort((a, b) => a - b);
  const us = (ns: number): number => ns / 1000;
  return {
    estimator: e,
    count: abs.length,
    truth_p50_us: us(median(truths)),
    estimate_p50_us: us(median(estimates)),
    bias_us: us(median(signed)),
    median_us: us(median(sortedAbs)),
    p95_us: us(percentileOf(sortedAbs, 95)),
    max_us: us(sortedAbs.at(-1) ?? 0),
    median_pct: median(sortedPct),
    p95_pct: percentileOf(sortedPct, 95),
    max_pct: sortedPct.at(-1) ?? 0,
  };
}
