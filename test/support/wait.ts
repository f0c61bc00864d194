/**
 * Waiting for things in tests: every wait has a deadline and fails with a message saying what never happened,
 * so no test synchronises by sleeping.
 */
import { EventEmitter } from 'node:events';

export const DEFAULT_DEADLINE_MS = 5_000;

/** Rejects with `what` in the message if `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, what: string, ms = DEFAULT_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${ms} ms passed waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the arguments of the first `event` whose arguments satisfy `filter`; rejects after `ms`.
 * Works with any EventEmitter (typed or not).
 */
export function waitForEvent<A extends unknown[] = unknown[]>(
  emitter: EventEmitter | { on: Function; off: Function },
  event: string,
  { filter, ms = DEFAULT_DEADLINE_MS }: { filter?: (...args: A) => boolean; ms?: number } = {},
): Promise<A> {
  const e = emitter as EventEmitter;
  let listener: ((...args: unknown[]) => void) | undefined;
  const got = new Promise<A>((resolve) => {
    listener = (...args: unknown[]) => {
      if (filter && !filter(...(args as A))) return;
      e.off(event, listener!);
      resolve(args as A);
    };
    e.on(event, listener);
  });
  return withDeadline(got, `event "${event}"`, ms).finally(() => e.off(event, listener!));
}

/**
 * Resolves once `predicate()` is true, checking after every turn of the event loop (for state that has no event,
 * e.g. a counter in stats()); rejects after `ms` with `what` (a function is called then, to report current state).
 */
export function waitUntil(predicate: () => boolean, what: string | (() => string), ms = DEFAULT_DEADLINE_MS): Promise<void> {
  const deadline = performance.now() + ms;
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      let ok: boolean;
      try {
        ok = predicate();
      } catch (err) {
        reject(err as Error);
        return;
      }
      if (ok) resolve();
      else if (performance.now() > deadline) reject(new Error(`deadline of ${ms} ms passed waiting until ${typeof what === 'string' ? what : what()}`));
      // A short timer rather than setImmediate, so a busy-looping check does not starve socket I/O.
      else setTimeout(check, 2);
    };
    check();
  });
}

/** Collects every emission of `event` into an array, from now until the emitter is gone. */
export function collect<T>(emitter: { on(event: string, listener: (arg: T) => void): unknown }, event: string): T[] {
  const out: T[] = [];
  emitter.on(event, (arg: T) => out.push(arg));
  return out;
}
