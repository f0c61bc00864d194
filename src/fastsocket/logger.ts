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
