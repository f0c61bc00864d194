/**
 * Loss, duplicates and reordering of one sender's topic from the envelope's `seq` (PROTOCOL.md §4: per topic,
 * from 0 for each bridge run). A gap counts as lost until the missing seq turns up late (then it counts as
 * reordered instead); seqs further than `window` behind the newest are no longer tracked.
 */

export interface SeqCounts {
  received: number;
  /** Seqs skipped and not (yet) received. */
  lost: number;
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
  /** Missing seqs within the window. */
  private readonly missing = new Set<number>();
  private readonly counts: SeqCounts = { received: 0, lost: 0, duplicates: 0, reordered: 0, late: 0, restarts: 0 };

  constructor(private readonly window = 4096) {}

  observe(seq: number): SeqVerdict {
    this.counts.received++;
    if (this.highest < 0) {
      // The first seq we see is the baseline: earlier ones went to a previous server run, not into a hole.
      this.highest = seq;
      return 'first';
    }
    if (seq === 0 && this.highest > 0) {
      this.highest = 0;
      this.missing.clear();
      this.counts.restarts++;
      return 'restart';
    }
    if (seq > this.highest) {
      const gap = seq - this.highest - 1;
      this.counts.lost += gap;
      for (let s = Math.max(this.highest + 1, seq - this.window); s < seq; s++) this.missing.add(s);
      this.highest = seq;
      this.forgetOlderThan(seq - this.window);
      return gap > 0 ? 'gap' : 'in_order';
    }
    if (this.missing.delete(seq)) {
      this.counts.lost--;
      this.counts.reordered++;
      return 'reordered';
    }
    if (seq < this.highest - this.window) {
      this.counts.late++;
      return 'late';
    }
    this.counts.duplicates++;
    return 'duplicate';
  }

  snapshot(): Readonly<SeqCounts> {
    return { ...this.counts };
  }

  private forgetOlderThan(limit: number): void {
    if (this.missing.size === 0) return;
    for (const s of this.missing) if (s < limit) this.missing.delete(s);
  }
}
