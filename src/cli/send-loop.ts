/**
 * Feeds payloads to a FastSocketClient, either paced at a fixed rate or pipelined within the outbox bounds, and
 * tallies what happened to each one. Shared by `send` and `demo`.
 */
import { DroppedError, FastSocketClient, FastSocketError, LatencyStats, monotonicNs, type SendResult } from '../fastsocket';
import { round } from './terminal';

/** A paced run that queued at less than this fraction of --rate says so. */
const RATE_REACHED = 0.9;

/**
 * One input: a payload with its encoded size (`label` names where it came from, e.g. `stdin line 7`, for the message
 * that refuses it), or an input line that could not be parsed.
 */
export type Outgoing = { payload: unknown; bytes: number; label?: string } | { error: string };

export interface SendLoopOptions {
  /** Messages per second; without it messages are pipelined. */
  rate?: number;
  /** Pipelined mode keeps at most this many messages (and bytes) unacknowledged, so the outbox never drops. */
  maxInFlight: number;
  maxInFlightBytes: number;
  /** Pipelined mode gives up when the window stays full without any ack for this long (server gone). */
  stallTimeoutMs: number;
  signal: AbortSignal;
  /** Called with each input that could not be sent at all (bad input line, payload refused). */
  onReject?: (why: string) => void;
}

export type LoopEnd = 'done' | 'aborted' | 'stalled';

/** What happened to the messages of one run. */
export class Tally {
  /** Inputs taken from the source, bad ones included. */
  inputs = 0;
  badInputs = 0;
  queued = 0;
  delivered = 0;
  /** Dropped by the outbox policy or after --max-attempts (not by the final close). */
  dropped = 0;
  /** Of dropped: after --max-attempts connections closed with the message the oldest unacknowledged. */
  droppedMaxAttempts = 0;
  /** Refused or dropped for another reason (payload too large, client closed before the ack). */
  undelivered = 0;
  /** Of undelivered: refused as larger than a frame may be (ours, or the server's max_frame_bytes). */
  tooLarge = 0;
  readonly rtt = new LatencyStats();
  firstQueuedNs: number | null = null;
  lastQueuedNs: number | null = null;
  lastAckNs: number | null = null;

  get inFlight(): number {
    return this.queued - this.delivered - this.dropped - this.undelivered;
  }

  /** Delivered messages per second from the first write to the last ack 2. */
  get msgsPerSecond(): number {
    if (this.firstQueuedNs === null || this.lastAckNs === null || this.lastAckNs <= this.firstQueuedNs) return 0;
    return this.delivered / ((this.lastAckNs - this.firstQueuedNs) / 1e9);
  }

  ack(r: SendResult): void {
    this.delivered++;
    this.lastAckNs = monotonicNs();
    this.rtt.record(r.rtt_ns);
  }

  fail(err: unknown): void {
    const code = err instanceof FastSocketError ? err.code : undefined;
    if (code === 'FS_ERR_DROPPED' || code === 'FS_ERR_OUTBOX_FULL') {
      this.dropped++;
      if (err instanceof DroppedError && err.reason === 'max_attempts') this.droppedMaxAttempts++;
    } else {
      this.undelivered++;
      if (code === 'FS_ERR_PAYLOAD') this.tooLarge++;
    }
  }

  /**
   * What a paced run could not do, or null: `--rate 1e6` was queued as fast as this process could, and the summary's
   * msgs_per_s was the only hint that the rate asked for was not the rate measured at.
   */
  rateShortfall(rate: number | undefined): string | null {
    if (rate === undefined || this.queued < 2 || this.firstQueuedNs === null || this.lastQueuedNs === null) return null;
    const achieved = (this.queued - 1) / ((this.lastQueuedNs - this.firstQueuedNs) / 1e9);
    return achieved < rate * RATE_REACHED ? `--rate ${rate} was not reached: messages were queued at ${round(achieved)} per second` : null;
  }

  /** RTT percentiles in us; null when no message was delivered (0 would read as a measured round trip). */
  rttMicros(): { p50: number | null; p99: number | null } {
    const s = this.rtt.total();
    if (s.count === 0) return { p50: null, p99: null };
    return { p50: round(s.p50 / 1e3), p99: round(s.p99 / 1e3) };
  }
}

/** Sends every input of `source`; resolves when the source is exhausted, the signal aborts, or the link stalls. */
export async function sendAll(
  client: FastSocketClient,
  source: Iterable<Outgoing> | AsyncIterable<Outgoing>,
  opts: SendLoopOptions,
  tally: Tally,
): Promise<LoopEnd> {
  let settled: (() => void) | null = null;
  let inFlightBytes = 0;
  const startNs = monotonicNs();
  let index = 0;
  for await (const item of source) {
    if (opts.signal.aborted) return 'aborted';
    tally.inputs++;
    if ('error' in item) {
      tally.badInputs++;
      opts.onReject?.(item.error);
      continue;
    }
    if (opts.rate !== undefined) {
      const waitMs = (startNs + (index * 1e9) / opts.rate - monotonicNs()) / 1e6;
      if (waitMs >= 1 && !(await delay(waitMs, opts.signal))) return 'aborted';
    } else {
      while (tally.inFlight > 0 && (tally.inFlight >= opts.maxInFlight || inFlightBytes + item.bytes > opts.maxInFlightBytes)) {
        const progress = await new Promise<'settled' | 'stalled' | 'aborted'>((resolve) => {
          const timer = setTimeout(() => finish('stalled'), opts.stallTimeoutMs);
          const onAbort = () => finish('aborted');
          opts.signal.addEventListener('abort', onAbort, { once: true });
          settled = () => finish('settled');
          function finish(how: 'settled' | 'stalled' | 'aborted') {
            clearTimeout(timer);
            opts.signal.removeEventListener('abort', onAbort);
            settled = null;
            resolve(how);
          }
        });
        if (progress !== 'settled') return progress;
      }
    }
    // A source that never blocks (a paced run behind schedule, a full window refilled at once) must still let
    // acks in: for-await alone only yields to microtasks, never to I/O.
    if (index % 256 === 255) await new Promise<void>((resolve) => setImmediate(resolve));
    index++;
    tally.queued++;
    tally.lastQueuedNs = monotonicNs();
    tally.firstQueuedNs ??= tally.lastQueuedNs;
    const bytes = item.bytes;
    inFlightBytes += bytes;
    client.send(item.payload).then(
      (r) => {
        tally.ack(r);
        inFlightBytes -= bytes;
        settled?.();
      },
      (err: unknown) => {
        tally.fail(err);
        inFlightBytes -= bytes;
        if (err instanceof FastSocketError && err.code === 'FS_ERR_PAYLOAD') opts.onReject?.(item.label ? `${item.label} skipped: ${err.message}` : err.message);
        settled?.();
      },
    );
  }
  return opts.signal.aborted ? 'aborted' : 'done';
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for the client's (retried) first connection; false if `ms` pass or the signal aborts first. */
export async function connectWithin(client: FastSocketClient, ms: number, signal: AbortSignal): Promise<boolean> {
  const done = new AbortController();
  const connected = await Promise.race([
    client.connect().then(() => true, () => false),
    delay(ms, AbortSignal.any([signal, done.signal])).then(() => false),
  ]);
  done.abort();
  return connected;
}

/** `count` copies of one payload. */
export function* repeat(payload: unknown, bytes: number, count: number): Iterable<Outgoing> {
  for (let i = 0; i < count; i++) yield { payload, bytes };
}
