/**
 * Loss, duplicates and reordering of one sender's topic from the envelope's `seq` (PROTOCOL.md §4: per topic,
 * from 0 for each bridge run). A gap counts as lost until the missing seq turns up late (then it counts as
 * reordered instead); seqs further than `window` behind the newest, or older than the newest `maxGaps` gaps, are no
 * longer tracked. The envelope's `dropped`
 * (our extension: how many seqs of this run the bridge gave up on itself) takes those out of the lost ones.
 */

export interface SeqCounts {
  received: number;
  /** Seqs skipped and not (yet) received, less those the sender says it dropped itself. */
  lost: number;
  /**
   * Seqs the sender dropped itself after numbering them (its outbox full on a slow link, older than max_age_ms,
   * too large for the server), from the envelope's `dropped`: the link did not lose them.
   */
  sender_dropped: number;
  duplicates: number;
  /** Arrived after a higher seq. */
  reordered: number;
  /** Arrived more than `window` behind the newest: too old to tell a late message from a duplicate. */
  late: number;
  /** The sender started counting from 0 again (a bridge restart). */
  restarts: number;
}

export type SeqVerdict = 'first' | 'in_order' | 'gap' | 'duplicate' | 'reordered' | 'late' | 'restart';

export class SeqTracker {
  private highest = -1;
  /**
   * Missing seqs within the window, as sorted disjoint [from, to) ranges: a gap costs one range however long it is.
   * A set of single seqs cost a sender that skipped more than the window with every message 4,096 inserts and a scan
   * of twice that: 830 us of the server's main thread per message.
   */
  private missing: Array<[number, number]> = [];
  /** `lost` is derived, in snapshot(), from the gaps. */
  private readonly counts: Omit<SeqCounts, 'lost'> = { received: 0, sender_dropped: 0, duplicates: 0, reordered: 0, late: 0, restarts: 0 };
  /** The highest `dropped` of this sender run. */
  private droppedInRun = 0;
  /** Seqs skipped and not (yet) received, the sender's own drops included. */
  private gaps = 0;
  /**
   * Seqs below this are no longer tracked either: past `maxGaps` gaps the oldest is forgotten. A sender skipping every
   * other seq kept 2,048 ranges (155 KB) per sender and topic, and a server keeps 256 senders of each of 1,000 topics.
   */
  private floor = 0;

  /** @param maxGaps gaps (missing ranges) within the window remembered at most; the oldest is forgotten past it */
  constructor(
    private readonly window = 4096,
    private readonly maxGaps = 256,
  ) {}

  /**
   * `resent`: the message came marked resent (PROTOCOL.md §4), so a seq 0 it carries may be a copy of the one seen;
   * a new message with seq 0 is always a bridge run starting over, also after a run that sent only seq 0 (a latched
   * topic's one message). `dropped`: the envelope's count of the seqs of this run the sender dropped itself.
   */
  observe(seq: number, resent = false, dropped = 0): SeqVerdict {
    const verdict = this.place(seq, resent);
    if (verdict === 'first') this.droppedInRun = dropped;
    else {
      if (verdict === 'restart') this.droppedInRun = 0;
      // The count only grows within a run; a message sent before a drop and read after one carries the older count.
      if (dropped > this.droppedInRun) {
        this.counts.sender_dropped += dropped - this.droppedInRun;
        this.droppedInRun = dropped;
      }
    }
    return verdict;
  }

  private place(seq: number, resent: boolean): SeqVerdict {
    this.counts.received++;
    if (this.highest < 0) {
      // The first seq we see is the baseline: earlier ones went to a previous server run, not into a hole.
      this.highest = seq;
      return 'first';
    }
    if (seq === 0 && (this.highest > 0 || !resent)) {
      this.highest = 0;
      this.missing = [];
      this.floor = 0;
      this.counts.restarts++;
      return 'restart';
    }
    if (seq > this.highest) {
      const gap = seq - this.highest - 1;
      this.gaps += gap;
      const from = Math.max(this.highest + 1, seq - this.window);
      if (from < seq) this.missing.push([from, seq]);
      this.keepNewestGaps();
      this.highest = seq;
      this.forgetOlderThan(seq - this.window);
      return gap > 0 ? 'gap' : 'in_order';
    }
    if (this.deleteMissing(seq)) {
      // A seq inside a gap splits it in two: as many ranges for as many messages as new gaps make.
      this.keepNewestGaps();
      this.gaps--;
      this.counts.reordered++;
      return 'reordered';
    }
    if (seq < this.highest - this.window || seq < this.floor) {
      this.counts.late++;
      return 'late';
    }
    this.counts.duplicates++;
    return 'duplicate';
  }

  snapshot(): Readonly<SeqCounts> {
    const { received, sender_dropped, duplicates, reordered, late, restarts } = this.counts;
    return { received, lost: Math.max(0, this.gaps - sender_dropped), sender_dropped, duplicates, reordered, late, restarts };
  }

  /** Forgets the oldest gaps past maxGaps; their seqs, turning up, count as late. */
  private keepNewestGaps(): void {
    const excess = this.missing.length - this.maxGaps;
    if (excess > 0) this.floor = this.missing.splice(0, excess)[excess - 1][1];
  }

  private forgetOlderThan(limit: number): void {
    let drop = 0;
    while (drop < this.missing.length && this.missing[drop][1] <= limit) drop++;
    if (drop > 0) this.missing.splice(0, drop);
    if (this.missing.length > 0 && this.missing[0][0] < limit) this.missing[0][0] = limit;
  }

  /** Removes `seq` from the missing ranges; false when it was not missing. */
  private deleteMissing(seq: number): boolean {
    let lo = 0;
    let hi = this.missing.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.missing[mid][1] <= seq) lo = mid + 1;
      else hi = mid;
    }
    const range = this.missing[lo];
    if (range === undefined || range[0] > seq) return false;
    const [from, to] = range;
    const pieces: Array<[number, number]> = [];
    if (from < seq) pieces.push([from, seq]);
    if (seq + 1 < to) pieces.push([seq + 1, to]);
    this.missing.splice(lo, 1, ...pieces);
    return true;
  }
}
