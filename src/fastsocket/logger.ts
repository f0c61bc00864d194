/** The library never writes to the console; callers pass a logger (the CLI a console one, ROS nodes their ROS logger). */
import { OptionError } from './errors';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const noop = (): void => undefined;

/** The default: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

export function checkLogger(value: unknown): Logger {
  if (value === undefined) return silentLogger;
  const l = value as Partial<Logger>;
  if (typeof l !== 'object' || l === null || !['debug', 'info', 'warn', 'error'].every((k) => typeof (l as Record<string, unknown>)[k] === 'function')) {
    throw new OptionError('logger', 'option logger must have debug, info, warn and error methods');
  }
  return l as Logger;
}

/**
 * A string a peer chose (a message id), made safe to put in a log line: returned as is when it is printable ASCII,
 * else JSON-quoted with every control character (C0, DEL, C1) and line separator escaped, so that it can neither
 * break the line nor send terminal escape sequences.
 */
export function logSafe(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : quoteForLog(s);
}

/** `s` JSON-quoted, with DEL, C1 controls and line separators escaped too (JSON.stringify leaves them raw). */
export function quoteForLog(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
