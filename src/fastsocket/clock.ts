/**
 * Monotonic nanoseconds as a JS number, counted from 2^32 ns (~4.3 s) before this module loaded, so they stay exact
 * (below 2^53) for ~104 days. Not from zero: V8 compiles arithmetic on values that have so far fitted a small
 * integer (below 2^31) for small integers only, and throws that code away when one outgrows it; a clock starting
 * at zero did so ~2.1 s after start, deoptimising every hot function that handles a timestamp at once.
 */
const origin = process.hrtime.bigint() - 2n ** 32n;

/** A clock returning monotonic nanoseconds as a number; injected into the client and server so tests control time. */
export type MonotonicClock = () => number;

/** Monotonic nanoseconds from process.hrtime, exact for ~104 days after the module loaded. */
export const monotonicNs: MonotonicClock = () => Number(process.hrtime.bigint() - origin);

/** Wall-clock nanoseconds since the epoch (only for the clock-synced extension and records meant for humans). */
export function wallNs(): number {
  // Above 2^53, so exact only to ~256 ns: far finer than any clock-sync uncertainty over a network.
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}
