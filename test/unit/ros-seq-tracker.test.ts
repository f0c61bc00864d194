import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { SeqTracker } from '../../src/ros/seq-tracker';

function feed(seqs: number[], window?: number): SeqTracker {
  const t = new SeqTracker(window);
  for (const s of seqs) t.observe(s);
  return t;
}

describe('SeqTracker', () => {
  describe('#observe', () => {
    it('counts nothing wrong when seqs arrive in order', () => {
      assert.deepEqual(feed([0, 1, 2, 3]).snapshot(), { received: 4, lost: 0, sender_dropped: 0, duplicates: 0, reordered: 0, late: 0, restarts: 0 });
    });

    it('takes the first seq as the baseline when the server starts after the bridge', () => {
      assert.equal(feed([500, 501]).snapshot().lost, 0);
    });

    it('counts a gap as lost', () => {
      assert.equal(feed([0, 1, 4, 5]).snapshot().lost, 2);
    });

    it('counts a seq that fills a gap as reordered, not lost', () => {
      const c = feed([0, 2, 1, 3]).snapshot();
      assert.equal(c.lost, 0);
      assert.equal(c.reordered, 1);
    });

    it('counts a repeated seq as a duplicate', () => {
      const c = feed([0, 1, 1, 2, 0 + 2]).snapshot();
      assert.equal(c.duplicates, 2);
      assert.equal(c.lost, 0);
    });

    it('counts a restart from 0 and starts over when the bridge restarts', () => {
      const c = feed([0, 1, 2, 0, 1]).snapshot();
      assert.equal(c.restarts, 1);
      assert.equal(c.duplicates, 0);
      assert.equal(c.lost, 0);
    });

    it('counts a new seq 0 after a run that sent only seq 0 (a latched topic) as a restart, and a resent one as a duplicate', () => {
      const t = feed([0]);
      assert.equal(t.observe(0), 'restart');
      assert.equal(t.observe(0, true), 'duplicate');
      assert.deepEqual(t.snapshot(), { received: 3, lost: 0, sender_dropped: 0, duplicates: 1, reordered: 0, late: 0, restarts: 1 });
    });

    it('counts a seq older than the window as late and keeps its memory bounded', () => {
      const t = feed([0, 100, 1], 10);
      assert.deepEqual(t.snapshot(), { received: 3, lost: 99, sender_dropped: 0, duplicates: 0, reordered: 0, late: 1, restarts: 0 });
    });

    it('remembers the newest 256 gaps of the window, counting a seq of an older one that turns up as late', () => {
      // A sender skipping every other seq kept a range per gap, 2,048 in the default window: 155 KB per sender and topic.
      const t = new SeqTracker();
      assert.equal(t.observe(0), 'first');
      for (let s = 2; s <= 600; s += 2) assert.equal(t.observe(s), 'gap');
      assert.equal(t.observe(599), 'reordered', 'the newest gap is remembered');
      assert.equal(t.observe(89), 'reordered', 'the 256th newest too');
      assert.equal(t.observe(87), 'late', 'the 257th newest is forgotten, though within the window');
      assert.deepEqual(t.snapshot(), { received: 304, lost: 298, sender_dropped: 0, duplicates: 0, reordered: 2, late: 1, restarts: 0 });
    });

    it('keeps to the newest 256 gaps when late seqs split a gap, not only when new gaps open', () => {
      // Filling every other seq of one long gap splits it into a range per seq left missing: as many ranges for as
      // many messages as skipping every other seq, and only a new gap trimmed them, one at a time.
      const t = new SeqTracker();
      assert.equal(t.observe(0), 'first');
      assert.equal(t.observe(4096), 'gap');
      for (let s = 2; s <= 600; s += 2) assert.equal(t.observe(s), 'reordered');
      // 301 ranges: [1,2) [3,4) ... [599,600) [601,4096); the 45 oldest are forgotten, [89,90) the last of them.
      assert.equal(t.observe(91), 'reordered', 'the 256th newest gap is remembered');
      assert.equal(t.observe(89), 'late', 'the 257th newest is forgotten, though within the window');
      assert.equal(t.observe(1), 'late');
    });

    it('keeps a gap as one entry however long it is: a window of 2^30 takes a gap of 2^29 and finds a message in it', () => {
      // A set of single missing seqs cost one insert per seq (a sender skipping more than the default window with
      // every message took ~830 us of the main thread each); here it would pass the 2^24 entries a Set can hold.
      const t = new SeqTracker(2 ** 30);
      assert.equal(t.observe(1), 'first');
      assert.equal(t.observe(2 ** 29), 'gap');
      assert.equal(t.observe(2 ** 28), 'reordered');
      assert.equal(t.observe(2 ** 28), 'duplicate');
      assert.deepEqual(t.snapshot(), { received: 4, lost: 2 ** 29 - 3, sender_dropped: 0, duplicates: 1, reordered: 1, late: 0, restarts: 0 });
    });

    it("does not count as lost the seqs the sender says it dropped itself (the envelope's dropped), and counts them apart", () => {
      const t = new SeqTracker();
      t.observe(0);
      t.observe(1);
      // seq 2 expired in the bridge's outbox; messages numbered before the bridge knew still say dropped 0.
      assert.equal(t.observe(3, false, 0), 'gap');
      assert.deepEqual([t.snapshot().lost, t.snapshot().sender_dropped], [1, 0]);
      t.observe(4, false, 1);
      assert.deepEqual([t.snapshot().lost, t.snapshot().sender_dropped], [0, 1]);
      // A real loss beside it stays lost; an older count read late takes nothing back.
      t.observe(6, false, 1);
      t.observe(7, false, 0);
      assert.deepEqual([t.snapshot().lost, t.snapshot().sender_dropped], [1, 1]);
    });

    it("takes the first envelope's dropped as the baseline, and a new run's from zero", () => {
      const t = new SeqTracker();
      t.observe(40, false, 5);
      t.observe(41, false, 5);
      assert.equal(t.snapshot().sender_dropped, 0, 'drops before the server saw the sender are not its to count');
      assert.equal(t.observe(0, false, 0), 'restart');
      t.observe(2, false, 1);
      assert.deepEqual([t.snapshot().lost, t.snapshot().sender_dropped], [0, 1]);
    });

    it('keeps received = in order + duplicates + reordered + late + first and lost = missing, for any permutation with drops', () => {
      fc.assert(
        fc.property(fc.shuffledSubarray([...Array(60).keys()].map((i) => i + 1)), (seqs) => {
          const c = feed([0, ...seqs]).snapshot();
          const highest = Math.max(0, ...seqs);
          const missing = highest + 1 - (seqs.length + 1);
          return c.lost === missing && c.duplicates === 0 && c.received === seqs.length + 1;
        }),
      );
    });
  });
});

/** The tracker's definition, one seq at a time: every seq skipped within `window` of the newest is kept in a set. */
class SeqModel {
  private highest = -1;
  private readonly missing = new Set<number>();
  readonly counts = { received: 0, lost: 0, sender_dropped: 0, duplicates: 0, reordered: 0, late: 0, restarts: 0 };

  constructor(private readonly window: number) {}

  observe(seq: number, resent: boolean): string {
    this.counts.received++;
    if (this.highest < 0) {
      this.highest = seq;
      return 'first';
    }
    if (seq === 0 && (this.highest > 0 || !resent)) {
      this.highest = 0;
      this.missing.clear();
      this.counts.restarts++;
      return 'restart';
    }
    if (seq > this.highest) {
      this.counts.lost += seq - this.highest - 1;
      for (let s = this.highest + 1; s < seq; s++) this.missing.add(s);
      const gap = seq - this.highest - 1;
      this.highest = seq;
      for (const s of this.missing) if (s < seq - this.window) this.missing.delete(s);
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
}

describe('SeqTracker against a seq-by-seq model', () => {
  it('gives the same verdict and counts for any sequence of gaps, duplicates, reorders, restarts and late seqs', () => {
    // Runs of consecutive seqs (a sender counting up) from random starts, shuffled a little, with repeats and zeros.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('run' as const), from: fc.nat(80), length: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('one' as const), seq: fc.nat(80), resent: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(step, { maxLength: 40 }), (window, steps) => {
        const sent = steps.flatMap((s) => (s.kind === 'one' ? [[s.seq, s.resent] as const] : Array.from({ length: s.length }, (_, i) => [s.from + i, false] as const)));
        const t = new SeqTracker(window);
        const m = new SeqModel(window);
        for (const [i, [seq, resent]] of sent.entries()) {
          assert.equal(t.observe(seq, resent), m.observe(seq, resent), `verdict of seq ${seq} (#${i}) in ${JSON.stringify(sent)} with window ${window}`);
          assert.deepEqual(t.snapshot(), m.counts, `counts after seq ${seq} (#${i}) in ${JSON.stringify(sent)} with window ${window}`);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
