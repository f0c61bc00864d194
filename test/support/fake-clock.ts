/**
 * A fake clock (@sinonjs/fake-timers) in the shapes the client and server take: `timers` for their setTimeout and
 * setInterval, `clock` for their monotonic nanoseconds. Nothing global is replaced, so the sockets, the test's own
 * deadlines and mocha keep real time; only what the client or server arms waits for `tick()` or `next()`.
 */
import { createClock } from '@sinonjs/fake-timers';
import type { MonotonicClock, TimerHandle, Timers } from '../../src/fastsocket';

export interface FakeClock {
  timers: Timers;
  clock: MonotonicClock;
  /** Fake ms since the clock was made. */
  readonly nowMs: number;
  /** Timers armed and not yet fired or cleared. */
  pending(): number;
  /** Advances by `ms`, firing what falls due on the way. */
  tick(ms: number): void;
  /** Advances to the earliest timer and fires it; returns how far that was (ms). */
  next(): number;
}

export function fakeClock(): FakeClock {
  const fake = createClock();
  // The fake's timer ids are typed as number | object; in Node they are objects with unref(), as Node's are.
  const handle = (id: unknown): TimerHandle => id as TimerHandle;
  const timers: Timers = {
    setTimeout: (callback, ms) => handle(fake.setTimeout(callback, ms)),
    clearTimeout: (h) => fake.clearTimeout(h as ReturnType<typeof fake.setTimeout>),
    setInterval: (callback, ms) => handle(fake.setInterval(callback, ms)),
    clearInterval: (h) => fake.clearInterval(h as ReturnType<typeof fake.setInterval>),
  };
  return {
    timers,
    clock: () => fake.now * 1e6,
    get nowMs() {
      return fake.now;
    },
    pending: () => fake.countTimers(),
    tick: (ms) => void fake.tick(ms),
    next: () => {
      const before = fake.now;
      fake.next();
      return fake.now - before;
    },
  };
}
