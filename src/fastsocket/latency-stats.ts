import { build, type Histogram } from 'hdr-histogram-js';
import { OptionError } from './errors';
import { checkInteger, checkKnownKeys, stripUndefined } from './options';

/**
 * Statistics of a set of latency samples, all in ns.
 *
 * `min`, `max`, `mean`, `stddev` (population) and `jitter` are exact over the recorded values;
 * the percentiles come from HdrHistogram (nearest rank, within 1/1024 of the exact value, never
 * outside [min, max]). An empty summary (`count` 0) has every field 0: never NaN.
 */
export interface LatencySummary {
  /** Samples recorded (clamped ones included, rejected ones not). */
  count: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation. */
  stddev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  /**
   * Mean absolute difference of consecutive samples of the same source (see `LatencyStats.record`); 0 before any
   * source has two.
   */
  jitter: number;
  /** Negative samples (an estimate can undershoot) that were recorded as 0. */
  clamped_low: number;
  /** Samples above `highestTrackableNs` that were recorded as `highestTrackableNs`. */
  clamped_high: number;
  /** NaN samples, which carry no value and are left out of every other field. */
  rejected: number;
}

/** Options of LatencyStats; each is validated in the constructor. */
export interface LatencyStatsOptions {
  /** Largest value kept as is; larger samples are clamped to it and counted. @default 3_600_000_000_000 (1 h) */
  highestTrackableNs?: number | undefined;
  /** Decimal digits of percentile precision (HdrHistogram's numberOfSignificantValueDigits). @default 3 */
  significantDigits?: number | undefined;
}

const DEFAULTS = Object.freeze({ highestTrackableNs: 3_600_000_000_000, significantDigits: 3 });
/** Sources whose last sample is kept for the jitter; the least recently heard is forgotten first. */
const JITTER_SOURCES_KEPT = 4096;
const OPTION_NAMES = Object.keys(DEFAULTS);

/** A summary with no samples: zeros, so consumers (ROS messages, JSON) never see NaN. */
export const EMPTY_LATENCY_SUMMARY: Readonly<LatencySummary> = Object.freeze({
  count: 0, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p95: 0, p99: 0, jitter: 0,
  clamped_low: 0, clamped_high: 0, rejected: 0,
});

/** Running statistics of one series; exact moments beside a histogram for the percentiles. */
class Series {
  /**
   * Made at the first sample: ~260 KiB at the defaults, and a server node keeps three pairs per topic, of which the
   * uplink pair stays empty without clock sync.
   */
  private histogram: Histogram | null = null;
  private count = 0;
  private min = 0;
  private max = 0;
  // Welford's running mean and sum of squared deviations: ns values near 1e12 squared would lose precision in a plain sum of squares.
  private mean = 0;
  private m2 = 0;
  /** Last sample per source, least recently recorded first. */
  private readonly previous = new Map<string, number>();
  private jitterSum = 0;
  private jitterPairs = 0;
  private clampedLow = 0;
  private clampedHigh = 0;
  private rejected = 0;

  constructor(private readonly highestTrackableNs: number, private readonly significantDigits: number) {}

  record(value: number, clampedLow: boolean, clampedHigh: boolean, source: string): void {
    this.histogram ??= build({
      bitBucketSize: 64,
      autoResize: false,
      useWebAssembly: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: this.highestTrackableNs,
      numberOfSignificantValueDigits: this.significantDigits as 1 | 2 | 3 | 4 | 5,
    });
    this.histogram.recordValue(value);
    if (clampedLow) this.clampedLow++;
    if (clampedHigh) this.clampedHigh++;
    this.count++;
    if (this.count === 1) {
      this.min = value;
      this.max = value;
    } else {
      if (value < this.min) this.min = value;
      if (value > this.max) this.max = value;
    }
    const previous = this.previous.get(source);
    if (previous !== undefined) {
      this.jitterSum += Math.abs(value - previous);
      this.jitterPairs++;
      this.previous.delete(source);
    } else if (this.previous.size >= JITTER_SOURCES_KEPT) {
      this.previous.delete(this.previous.keys().next().value as string);
    }
    this.previous.set(source, value);
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (value - this.mean);
  }

  reject(): void {
    this.rejected++;
  }

  reset(): void {
    this.histogram?.reset();
    this.count = this.min = this.max = this.mean = this.m2 = this.jitterSum = this.jitterPairs = 0;
    this.previous.clear();
    this.clampedLow = this.clampedHigh = this.rejected = 0;
  }

  summary(): LatencySummary {
    const counters = { clamped_low: this.clampedLow, clamped_high: this.clampedHigh, rejected: this.rejected };
    if (this.count === 0) return { ...EMPTY_LATENCY_SUMMARY, ...counters };
    return {
      count: this.count,
      min: this.min,
      max: this.max,
      mean: this.mean,
      stddev: Math.sqrt(Math.max(0, this.m2 / this.count)),
      p50: this.percentile(50),
      p90: this.percentile(90),
      p95: this.percentile(95),
      p99: this.percentile(99),
      jitter: this.jitterPairs > 0 ? this.jitterSum / this.jitterPairs : 0,
      ...counters,
    };
  }

  // HdrHistogram reports the top of the bucket, which can exceed the exact maximum; a p99 above max would confuse readers.
  percentile(p: number): number {
    if (this.count === 0 || this.histogram === null) return 0;
    return Math.min(this.max, Math.max(this.min, this.histogram.getValueAtPercentile(p)));
  }
}

/**
 * Latency recorder with a resettable window (e.g. one publishing period) and a running total.
 *
 * Recording never throws: values are rounded to whole ns, negative ones are recorded as 0 and
 * values above `highestTrackableNs` as that bound (both counted), NaN is counted and skipped.
 * @throws TypeError from the constructor when an option is invalid, naming it.
 */
export class LatencyStats {
  /** Largest value recorded as is. */
  readonly highestTrackableNs: number;
  private readonly windowSeries: Series;
  private readonly totalSeries: Series;

  /** @throws TypeError naming a bad or unknown option. */
  constructor(options: LatencyStatsOptions = {}) {
    checkKnownKeys('LatencyStats', options, OPTION_NAMES);
    const o = { ...DEFAULTS, ...stripUndefined(options) };
    this.highestTrackableNs = checkInteger('highestTrackableNs', o.highestTrackableNs, 2);
    checkInteger('significantDigits', o.significantDigits, 1, 5);
    this.windowSeries = new Series(o.highestTrackableNs, o.significantDigits);
    this.totalSeries = new Series(o.highestTrackableNs, o.significantDigits);
  }

  /**
   * Adds one sample (ns) to both the window and the total. `source` names the stream it belongs to (a client, a
   * link): jitter compares each sample with the previous one of its own source, so samples of several clients with
   * different delays, interleaved, do not read as jitter. @default source '' (one stream)
   */
  record(valueNs: number, source = ''): void {
    if (typeof valueNs !== 'number' || Number.isNaN(valueNs)) {
      this.windowSeries.reject();
      this.totalSeries.reject();
      return;
    }
    const clampedLow = valueNs < 0;
    const clampedHigh = valueNs > this.highestTrackableNs;
    const value = clampedLow ? 0 : clampedHigh ? this.highestTrackableNs : Math.max(0, Math.round(valueNs));
    this.windowSeries.record(value, clampedLow, clampedHigh, source);
    this.totalSeries.record(value, clampedLow, clampedHigh, source);
  }

  /** Summary of the samples since the last `resetWindow()` (or since construction). */
  window(): LatencySummary {
    return this.windowSeries.summary();
  }

  /** Starts a new window; the total is unaffected. */
  resetWindow(): void {
    this.windowSeries.reset();
  }

  /** Summary of every sample since construction. */
  total(): LatencySummary {
    return this.totalSeries.summary();
  }

  /**
   * Any percentile (0-100) of every sample since construction, as the summary computes its p50-p99 (e.g. 99.9 for
   * the rare pauses a p99 does not show); 0 when nothing was recorded.
   * @throws TypeError when `p` is not a number from 0 to 100.
   */
  totalPercentile(p: number): number {
    if (typeof p !== 'number' || !(p >= 0 && p <= 100)) throw new OptionError('percentile', `percentile must be a number from 0 to 100, got ${String(p)}`);
    return this.totalSeries.percentile(p);
  }
}
