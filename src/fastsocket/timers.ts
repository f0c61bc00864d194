/**
 * The timers the client and server arm (reconnect backoff, probes, watchdogs, the ack-3 sweeper, close deadlines),
 * behind one interface so that tests drive them with a fake clock instead of waiting (STYLE.md habit 7).
 */
import { OptionError } from './errors';
import { orDefault } from './options';

/** What a timer function returns: Node's Timeout, or a fake one; `unref` keeps it from holding the process open. */
export interface TimerHandle {
  unref(): unknown;
}

/** The four timer functions, with Node's signatures. @see nodeTimers */
export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** Node's own timers (looked up at each call, so a fake installed globally afterwards is used too). */
export const nodeTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * Resolves once `promise` has, or after `ms`, whichever comes first, and then clears the timer: one left running
 * kept what its promise led back to (a closed client or server, its socket and its 64 KiB read buffer) in memory for
 * `ms` more, so a program that made and closed clients in a loop held hundreds of them at any moment.
 */
export async function settledWithin(timers: Timers, promise: Promise<void>, ms: number): Promise<void> {
  let timer: TimerHandle | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = timers.setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise, elapsed]);
  } finally {
    timers.clearTimeout(timer!);
  }
}

/** The `timers` option of the client and server: nodeTimers when not given, else checked to have the four functions. */
export function timersOption(value: Timers | undefined): Timers {
  const timers = orDefault(value, nodeTimers);
  if (!isTimers(timers)) throw new OptionError('timers', 'option timers must have setTimeout, clearTimeout, setInterval and clearInterval functions');
  return timers;
}

/** True when `value` has the four functions of Timers. */
function isTimers(value: unknown): value is Timers {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return typeof t.setTimeout === 'function' && typeof t.clearTimeout === 'function' && typeof t.setInterval === 'function' && typeof t.clearInterval === 'function';
}
