/**
 * Monotonic nanoseconds as a JS number, counted from 2^32 ns (~4.3 s) before this module loaded, so they stay exact
 * (below 2^53) for ~104 days. Not from zero: V8 compiles arithmetic on values that have so far fitted a small
 * integer (below 2^31) for small integers only, and throws that code away when one outgrows it; a clock starting
 * at zero did so ~2.1 s after start, deoptimising every hot function that handles a timestamp at once.
 */
import { OptionError } from './errors';
import { describe, orDefault } from './options';

const origin = process.hrtime.bigint() - 2n ** 32n;

/** A clock returning monotonic nanoseconds as a number; injected into the client and server so tests control time. */
export type MonotonicClock = () => number;

/**
 * A clock option (`clock`, `wallClock`): `fallback` when not given, else a function that returns ns as a number,
 * checked by calling it once. process.hrtime.bigint, the monotonic clock PROTOCOL.md names, returns a bigint: taken as
 * it was, a client's sends never resolved and a server's latency records never came, without a word.
 */
export function clockOption(name: string, value: (() => number) | undefined, fallback: () => number): () => number {
  const clock: unknown = orDefault(value, fallback);
  if (typeof clock !== 'function') throw new OptionError(name, `option ${name} must be a function returning ns`);
  const sample: unknown = clock();
  if (typeof sample !== 'number' || !Number.isFinite(sample)) {
    const hint = typeof sample === 'bigint' ? ' (process.hrtime.bigint? pass () => Number(process.hrtime.bigint()))' : '';
    throw new OptionError(name, `option ${name} must return ns as a finite number, got ${describe(sample)}${hint}`);
  }
  return clock as () => number;
}

/** Monotonic nanoseconds from process.hrtime, exact for ~104 days after the module loaded. */
export const monotonicNs: MonotonicClock = () => Number(process.hrtime.bigint() - origin);

/**
 * Wall-clock ms at performance.now() 0. performance.timeOrigin alone is the system clock read once, when the process
 * started: a step of the clock after that (NTP or chrony stepping a clock that booted wrong, phc2sys, GNSS, a resume
 * from suspend) never reached timeOrigin + now(), so a bridge started at boot before its clock was synchronised
 * stamped every message seconds off for as long as it ran, while `date` showed the clock right.
 */
let anchorMs = performance.timeOrigin;

/** Wall-clock nanoseconds since the epoch (only for the clock-synced extension and records meant for humans). */
export function wallNs(): number {
  const before = performance.now();
  const dateMs = Date.now();
  const after = performance.now();
  // Date.now() is the system clock now, truncated to the ms: the true time at that read is in [dateMs, dateMs + 1)
  // and was read between `before` and `after`. A sub-ms wall clock outside that window was stepped away from the
  // system clock: move the anchor the least that brings it back (within 1 ms at once, to ~us over later reads).
  if (anchorMs + after < dateMs) anchorMs = dateMs - after;
  else if (anchorMs + before >= dateMs + 1) anchorMs = dateMs + 1 - before;
  // Above 2^53, so exact only to ~256 ns: far finer than any clock-sync uncertainty over a network.
  return Math.round((anchorMs + after) * 1e6);
}
