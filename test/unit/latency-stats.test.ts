import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { OptionError } from '../../src/fastsocket/errors';
import { LatencyStats, type LatencySummary } from '../../src/fastsocket/latency-stats';

/** HdrHistogram with 3 significant digits keeps values within 1/1024 (2048 sub-buckets per power of two). */
const RELATIVE_PRECISION = 1 / 1024;

interface Exact {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  jitter: number;
  percentile(p: number): number;
}

function exact(values: readonly number[]): Exact {
  const sorted = [...values].sort((a, b) => a - b);
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  let jitterSum = 0;
  for (let i = 1; i < n; i++) jitterSum += Math.abs(values[i]! - values[i - 1]!);
  return {
    count: n,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean,
    stddev: Math.sqrt(variance),
    jitter: n > 1 ? jitterSum / (n - 1) : 0,
    // Nearest rank, as HdrHistogram defines it.
    percentile: (p) => sorted[Math.max(1, Math.ceil((p / 100) * n - 1e-9)) - 1]!,
  };
}

function assertMatches(actual: LatencySummary, values: readonly number[]): void {
  const e = exact(values);
  assert.equal(actual.count, e.count);
  assert.equal(actual.min, e.min);
  assert.equal(actual.max, e.max);
  assert.equal(actual.jitter, e.jitter);
  assert.ok(Math.abs(actual.mean - e.mean) <= 1e-9 * Math.max(1, e.mean), `mean ${actual.mean} vs ${e.mean}`);
  assert.ok(Math.abs(actual.stddev - e.stddev) <= 1e-6 * Math.max(1, e.stddev), `stddev ${actual.stddev} vs ${e.stddev}`);
  for (const p of [50, 90, 95, 99] as const) {
    const want = e.percentile(p);
    const got = actual[`p${p}`];
    assert.ok(got >= want && got <= want + want * RELATIVE_PRECISION, `p${p} ${got} vs exact ${want}`);
  }
}

const sample = fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 100_000_000_000 }));
const samples = fc.array(sample, { minLength: 1, maxLength: 400 });

function recordAll(stats: LatencyStats, values: readonly number[]): void {
  for (const v of values) stats.record(v);
}

function assertEmpty(summary: LatencySummary): void {
  for (const [field, value] of Object.entries(summary)) assert.equal(value, 0, `${field} of an empty summary`);
}

describe('LatencyStats', () => {
  describe('#constructor', () => {
    it('throws a TypeError naming highestTrackableNs when it is not an integer >= 2', () => {
      for (const bad of [1, 2.5, -10, Number.NaN, '100' as unknown as number]) {
        assert.throws(() => new LatencyStats({ highestTrackableNs: bad }), (e: unknown) =>
          e instanceof OptionError && e.option === 'highestTrackableNs');
      }
    });

    it('throws a TypeError naming significantDigits when it is outside 1..5', () => {
      for (const bad of [0, 6, 2.5]) {
        assert.throws(() => new LatencyStats({ significantDigits: bad }), (e: unknown) =>
          e instanceof OptionError && e.option === 'significantDigits');
      }
    });

    it('throws a TypeError naming an unknown option', () => {
      assert.throws(() => new LatencyStats({ highestTrackable: 10 } as never), (e: unknown) =>
        e instanceof OptionError && e.option === 'highestTrackable');
    });
  });

  describe('#total', () => {
    it('matches an exact computation on random samples within HdrHistogram precision', () => {
      fc.assert(fc.property(samples, (values) => {
        const stats = new LatencyStats();
        recordAll(stats, values);
        assertMatches(stats.total(), values);
      }), { numRuns: 200 });
    });

    it('returns a summary of zeros when nothing was recorded', () => {
      assertEmpty(new LatencyStats().total());
    });

    it('gives any percentile of the total within HdrHistogram precision (#totalPercentile), 0 when empty, and names a bad p', () => {
      fc.assert(fc.property(samples, fc.constantFrom(0, 25, 99.5, 99.9, 100), (values, p) => {
        const stats = new LatencyStats();
        recordAll(stats, values);
        stats.resetWindow();
        const want = exact(values).percentile(Math.max(p, 1e-9));
        const got = stats.totalPercentile(p);
        assert.ok(got >= want && got <= want + want * RELATIVE_PRECISION, `p${p} ${got} vs exact ${want}`);
      }), { numRuns: 200 });
      assert.equal(new LatencyStats().totalPercentile(99.9), 0);
      for (const bad of [-1, 100.5, NaN, '99' as never]) assert.throws(() => new LatencyStats().totalPercentile(bad), TypeError, String(bad));
    });

    it('reports every statistic, percentiles included, equal to the value when one sample was recorded', () => {
      const stats = new LatencyStats();
      stats.record(1_234_567);
      const s = stats.total();
      assert.deepEqual([s.count, s.jitter, s.stddev], [1, 0, 0]);
      for (const v of [s.min, s.max, s.mean, s.p50, s.p90, s.p95, s.p99]) assert.equal(v, 1_234_567);
    });
  });

  describe('#record', () => {
    it('records a negative sample as 0 and counts it in clamped_low', () => {
      const stats = new LatencyStats();
      stats.record(-500);
      stats.record(1_000);
      const s = stats.total();
      assert.deepEqual([s.count, s.min, s.max, s.clamped_low, s.jitter], [2, 0, 1_000, 1, 1_000]);
    });

    it('records a sample above highestTrackableNs as the bound and counts it in clamped_high', () => {
      const stats = new LatencyStats({ highestTrackableNs: 1_000_000 });
      stats.record(5_000_000);
      stats.record(Number.POSITIVE_INFINITY);
      const s = stats.total();
      assert.deepEqual([s.count, s.max, s.p99, s.clamped_high], [2, 1_000_000, 1_000_000, 2]);
    });

    it('counts NaN as rejected and leaves every other statistic unchanged', () => {
      const stats = new LatencyStats();
      stats.record(10);
      stats.record(Number.NaN);
      stats.record(30);
      const s = stats.total();
      assert.deepEqual([s.count, s.rejected, s.mean, s.jitter], [2, 1, 20, 20]);
    });

    it('takes the jitter between consecutive samples of the same source, so interleaved links do not add to it', () => {
      // Two vehicles on steady links of 20 and 80 ms, interleaved as one server receives them.
      const stats = new LatencyStats();
      for (const [v, source] of [[20_000_000, 'veh-a'], [80_000_000, 'veh-b'], [20_000_100, 'veh-a'], [80_000_300, 'veh-b'], [20_000_000, 'veh-a']] as const) {
        stats.record(v, source);
      }
      assert.equal(stats.total().jitter, (100 + 300 + 100) / 3);
      assert.equal(stats.total().count, 5);
    });

    it('rounds a fractional sample to whole ns', () => {
      const stats = new LatencyStats();
      stats.record(10.6);
      assert.equal(stats.total().min, 11);
    });
  });

  describe('#window', () => {
    it('covers exactly the samples since the last resetWindow while the total covers all', () => {
      fc.assert(fc.property(samples, samples, (before, after) => {
        const stats = new LatencyStats();
        recordAll(stats, before);
        stats.resetWindow();
        recordAll(stats, after);
        assertMatches(stats.window(), after);
        assertMatches(stats.total(), [...before, ...after]);
      }), { numRuns: 100 });
    });

    it('leaves the pair straddling a reset out of the window jitter', () => {
      const stats = new LatencyStats();
      stats.record(1_000_000);
      stats.resetWindow();
      stats.record(10);
      stats.record(30);
      assert.equal(stats.window().jitter, 20);
      assert.equal(stats.total().jitter, (999_990 + 20) / 2);
    });

    it('returns the same summary as total before the first reset', () => {
      const stats = new LatencyStats();
      recordAll(stats, [5, 50, 500, 5_000]);
      assert.deepEqual(stats.window(), stats.total());
    });
  });

  describe('#resetWindow', () => {
    it('empties the window, counters included, and leaves the total unchanged', () => {
      const stats = new LatencyStats({ highestTrackableNs: 100 });
      recordAll(stats, [-1, 200, 50, Number.NaN]);
      const totalBefore = stats.total();
      stats.resetWindow();
      assertEmpty(stats.window());
      assert.deepEqual(stats.total(), totalBefore);
      assert.deepEqual([totalBefore.clamped_low, totalBefore.clamped_high, totalBefore.rejected], [1, 1, 1]);
    });
  });
});
