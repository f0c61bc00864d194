/** Limits and defaults of PROTOCOL.md §6, and the validation every constructor uses. */
import { OptionError } from './errors';

export const MiB = 1024 * 1024;

/** The limits of PROTOCOL.md §6 that a server enforces on its peers. */
export interface ServerLimits {
  /** Largest frame accepted. @default 16 MiB */
  maxFrameBytes: number;
  /** Consecutive bad frames before the connection is closed. @default 10 */
  maxBadFrames: number;
  /** A frame that has started must complete within this. @default 10000 */
  frameTimeoutMs: number;
  /** A connection with no bytes at all for this long is closed. @default 120000 */
  idleTimeoutMs: number;
  /** Connections past this are closed at once. @default 1024 */
  maxConnections: number;
  /** Pending latency records are dropped (and counted) after this. @default 10000 */
  ack3TimeoutMs: number;
  /** Pending latency records per connection. @default 10000 */
  maxPendingAck3: number;
}

/** The ServerLimits a server applies when an option is left out. */
export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxFrameBytes: 16 * MiB,
  maxBadFrames: 10,
  frameTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
  maxConnections: 1024,
  ack3TimeoutMs: 10_000,
  maxPendingAck3: 10_000,
});

/**
 * What send() does when the outbox is full: drop the oldest messages not yet written (the new one when those cannot make
 * room), drop the new one (both FS_ERR_DROPPED), or refuse the new one (FS_ERR_OUTBOX_FULL).
 */
export type OutboxPolicy = 'drop-oldest' | 'drop-newest' | 'reject';
/** Every OutboxPolicy, for validating a user's choice. */
export const OUTBOX_POLICIES: readonly OutboxPolicy[] = ['drop-oldest', 'drop-newest', 'reject'];

/** The outbox, reconnect and frame limits of a client (PROTOCOL.md §6). */
export interface ClientLimits {
  /** @default 10000 */
  outboxMaxMessages: number;
  /** @default 64 MiB */
  outboxMaxBytes: number;
  /** @default 'drop-oldest' */
  outboxPolicy: OutboxPolicy;
  /** First reconnect delay. @default 100 */
  reconnectMinMs: number;
  /** Reconnect delay cap. @default 5000 */
  reconnectMaxMs: number;
  /** +- fraction of random jitter on each delay. @default 0.2 */
  reconnectJitter: number;
  /** Largest frame accepted from the server. @default 16 MiB */
  maxFrameBytes: number;
}

/** The ClientLimits a client applies when an option is left out. */
export const DEFAULT_CLIENT_LIMITS: Readonly<ClientLimits> = Object.freeze({
  outboxMaxMessages: 10_000,
  outboxMaxBytes: 64 * MiB,
  outboxPolicy: 'drop-oldest' as OutboxPolicy,
  reconnectMinMs: 100,
  reconnectMaxMs: 5_000,
  reconnectJitter: 0.2,
  maxFrameBytes: 16 * MiB,
});

/**
 * Each property of T optional, and undefined taken for it as "not given" (each falls back to its default): Partial<T>
 * refuses an explicit undefined under exactOptionalPropertyTypes, so a user's `{ maxFrameBytes: config.maxFrameBytes }`
 * did not compile.
 */
export type OptionalProps<T> = { [K in keyof T]?: T[K] | undefined };

/** The longest delay Node's timers hold (2^31 - 1 ms, 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Throws a TypeError naming `name` unless `value` is an integer in [min, max]. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(name, `option ${name} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** Throws a TypeError naming `name` unless `value` is a finite number in [min, max]. */
export function checkNumber(name: string, value: unknown, min: number, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new OptionError(name, `option ${name} must be a number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function checkString(name: string, value: unknown, { allowEmpty = false } = {}): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new OptionError(name, `option ${name} must be a ${allowEmpty ? '' : 'non-empty '}string, got ${describe(value)}`);
  }
  return value;
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new OptionError(name, `option ${name} must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new OptionError(name, `option ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** Rejects option names that the caller misspelt, so a typo does not silently fall back to a default. */
export function checkKnownKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    // The README's limits and the ROS parameters are written in snake_case, the CLI's flags in kebab-case.
    const guess = closest(key, known) ?? known.find((k) => k.toLowerCase() === key.replace(/[-_]/g, '').toLowerCase()) ?? null;
    throw new OptionError(key, `unknown ${what} option ${key}${guess === null ? '' : ` (did you mean ${guess}?)`}; known options: ${known.join(', ')}`);
  }
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

export function validateServerLimits(input: OptionalProps<ServerLimits>): ServerLimits {
  const l = { ...DEFAULT_SERVER_LIMITS, ...stripUndefined(input) };
  checkInteger('maxFrameBytes', l.maxFrameBytes, 64, 2 ** 31);
  checkInteger('maxBadFrames', l.maxBadFrames, 1);
  checkInteger('frameTimeoutMs', l.frameTimeoutMs, 1);
  checkInteger('idleTimeoutMs', l.idleTimeoutMs, 1);
  checkInteger('maxConnections', l.maxConnections, 1);
  checkInteger('ack3TimeoutMs', l.ack3TimeoutMs, 1);
  checkInteger('maxPendingAck3', l.maxPendingAck3, 1);
  return l;
}

export function validateClientLimits(input: OptionalProps<ClientLimits>): ClientLimits {
  const l = { ...DEFAULT_CLIENT_LIMITS, ...stripUndefined(input) };
  checkInteger('outboxMaxMessages', l.outboxMaxMessages, 1);
  checkInteger('outboxMaxBytes', l.outboxMaxBytes, 1);
  checkOneOf('outboxPolicy', l.outboxPolicy, OUTBOX_POLICIES);
  checkInteger('reconnectMinMs', l.reconnectMinMs, 1, MAX_TIMER_MS);
  checkInteger('reconnectMaxMs', l.reconnectMaxMs, l.reconnectMinMs, MAX_TIMER_MS);
  checkNumber('reconnectJitter', l.reconnectJitter, 0, 1);
  checkInteger('maxFrameBytes', l.maxFrameBytes, 64, 2 ** 31);
  return l;
}

/** Drops keys whose value is undefined (meaning "use the default"); null is kept, so validation rejects it. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The default only for undefined: null is a value, and validation names it as a bad one. */
export function orDefault<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

/**
 * The candidate within edit distance 2 of `name` (the nearest, the first on a tie), or null: the name a typo most
 * likely meant, for a "did you mean" in an error.
 */
export function closest(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions of one character. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length];
}
