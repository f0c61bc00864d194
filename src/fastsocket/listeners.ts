/**
 * Calling the application's listeners. They run inside our socket and timer callbacks and in the middle of our own
 * state changes: one that threw ended the process (an uncaught exception, or an unhandled rejection from the
 * client's 'connect'), left the client or server halfway (a client that never dialled again after its 'disconnect'
 * listener threw, a destroy() that left the connection open), and kept the listeners after it, ours among them, from
 * running (connect() never resolved, close() waited out its timeout).
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from './logger';

/**
 * Calls every listener of `event` with `args`, each on its own, as EventEmitter#emit does (once-listeners included),
 * except that one that throws is logged at error and the others still run. Returns whether there were listeners.
 */
export function emitToEach(emitter: EventEmitter, event: string | symbol, args: unknown[], logger: Logger): boolean {
  const listeners = emitter.rawListeners(event) as Array<(...args: unknown[]) => unknown>;
  for (const listener of listeners) {
    try {
      listener.apply(emitter, args);
    } catch (err) {
      logger.error(`a '${String(event)}' listener threw: ${(err as Error | undefined)?.stack ?? String(err)}`);
    }
  }
  return listeners.length > 0;
}
