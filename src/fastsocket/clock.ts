/** Monotonic nanoseconds as a JS number, relative to process start so they stay exact (below 2^53) for ~104 days. */
const origin = process.hrtime.bigint();

export type MonotonicClock = () => number;

export const monotonicNs: MonotonicClock = () => Number(process.hrtime.bigint() - origin);

/** Wall-clock nanoseconds since the epoch (only for the clock-synced extension and records meant for humans). */
export function wallNs(): number {
  // Above 2^53, so exact only to ~256 ns: far finer than any clock-sync uncertainty over a network.
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}
