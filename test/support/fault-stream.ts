/**
 * A paced stream of sequence-numbered payloads through a FastSocketClient, and the audit that compares what the
 * application received with what was sent: lost, duplicated, and repeats not marked resent.
 */
import { EventEmitter } from 'node:events';
import type { FastSocketClient, FastSocketErrorCode, SendResult } from '../../src/fastsocket';
import { DEFAULT_DEADLINE_MS, waitForEvent, withDeadline } from './wait';

export interface SeqPayload {
  seq: number;
  pad?: string;
}

/** What the stream learnt about each sequence number from the client. */
export interface StreamOutcome {
  sent: number;
  acked: Map<number, SendResult>;
  /** seq -> error code, for sends the outbox policy refused or dropped (FS_ERR_DROPPED, FS_ERR_OUTBOX_FULL). */
  dropped: Map<number, FastSocketErrorCode>;
  /** seq -> error, for sends that failed for any other reason (a bug in a fault test). */
  failed: Map<number, unknown>;
}

export class SequencedStream extends EventEmitter<{ sent: [seq: number]; settled: [seq: number] }> {
  readonly outcome: StreamOutcome = { sent: 0, acked: new Map(), dropped: new Map(), failed: new Map() };
  private timer: NodeJS.Timeout | null = null;
  private pending = 0;

  constructor(
    private readonly client: FastSocketClient,
    private readonly opts: { hz: number; padBytes?: number },
  ) {
    super();
  }

  /** Sends one payload every 1/hz s until stop(); the pacing timer drives the load, it synchronises nothing. */
  start(): void {
    this.timer ??= setInterval(() => this.sendNext(), 1000 / this.opts.hz);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves once `n` payloads in total have been handed to the client. */
  async untilSent(n: number, ms = DEFAULT_DEADLINE_MS): Promise<void> {
    if (this.outcome.sent >= n) return;
    await waitForEvent<[number]>(this, 'sent', { filter: (seq) => seq + 1 >= n, ms });
  }

  /** Resolves once every send has been acknowledged or refused. */
  async settled(ms = DEFAULT_DEADLINE_MS): Promise<void> {
    if (this.pending === 0) return;
    await withDeadline(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.pending > 0) return;
          this.off('settled', check);
          resolve();
        };
        this.on('settled', check);
      }),
      `all ${this.outcome.sent} sends to be acknowledged or dropped (${this.pending} pending)`,
      ms,
    );
  }

  private sendNext(): void {
    const seq = this.outcome.sent++;
    const payload: SeqPayload = { seq };
    if (this.opts.padBytes) payload.pad = 'x'.repeat(this.opts.padBytes);
    this.pending++;
    this.client.send(payload).then(
      (r) => this.outcome.acked.set(seq, r),
      (err: { code?: FastSocketErrorCode }) => {
        if (err.code === 'FS_ERR_DROPPED' || err.code === 'FS_ERR_OUTBOX_FULL') this.outcome.dropped.set(seq, err.code);
        else this.outcome.failed.set(seq, err);
      },
    ).finally(() => {
      this.pending--;
      this.emit('settled', seq);
    });
    this.emit('sent', seq);
  }
}

/** One hand-over seen by the application. */
export interface Handover {
  payload: unknown;
  resent: boolean;
  possible_duplicate?: boolean;
  /** The life of the server process that handed it over (0, then 1 after the first restart, ...), for a server process. */
  run?: number;
}

export interface Audit {
  /** Sent, never refused by the outbox policy, and never handed over. */
  lost: number[];
  /** Handed over more than once. */
  duplicated: number[];
  /** A second or later hand-over of a seq not marked resent. */
  unmarkedRepeats: number[];
  /** Acked by the server (ack 2) yet never handed over. */
  ackedNotDelivered: number[];
  /** Hand-overs of a seq the stream never sent (corruption). */
  unknown: number;
  handovers: number;
}

/** Compares the application's hand-overs with the stream's outcome. */
export function audit(outcome: StreamOutcome, handovers: Handover[]): Audit {
  const copies = new Map<number, Handover[]>();
  let unknown = 0;
  for (const h of handovers) {
    const seq = (h.payload as SeqPayload | null)?.seq;
    if (typeof seq !== 'number' || seq < 0 || seq >= outcome.sent) {
      unknown++;
      continue;
    }
    const list = copies.get(seq) ?? [];
    list.push(h);
    copies.set(seq, list);
  }
  const result: Audit = { lost: [], duplicated: [], unmarkedRepeats: [], ackedNotDelivered: [], unknown, handovers: handovers.length };
  for (let seq = 0; seq < outcome.sent; seq++) {
    const got = copies.get(seq) ?? [];
    if (got.length === 0 && !outcome.dropped.has(seq)) result.lost.push(seq);
    if (got.length === 0 && outcome.acked.has(seq)) result.ackedNotDelivered.push(seq);
    if (got.length > 1) result.duplicated.push(seq);
    if (got.slice(1).some((h) => !h.resent)) result.unmarkedRepeats.push(seq);
  }
  return result;
}

/** A short description of an audit for assertion messages. */
export function describeAudit(a: Audit, outcome: StreamOutcome): string {
  const head = (xs: number[]): string => `${xs.length}${xs.length ? ` (${xs.slice(0, 10).join(',')}${xs.length > 10 ? ',...' : ''})` : ''}`;
  return `sent ${outcome.sent}, acked ${outcome.acked.size}, dropped ${outcome.dropped.size}, failed ${outcome.failed.size}, ` +
    `handovers ${a.handovers}: lost ${head(a.lost)}, duplicated ${head(a.duplicated)}, unmarked repeats ${head(a.unmarkedRepeats)}, ` +
    `acked but not delivered ${head(a.ackedNotDelivered)}, unknown ${a.unknown}`;
}
