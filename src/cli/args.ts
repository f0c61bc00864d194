/**
 * Command-line parsing shared by the subcommands: node:util parseArgs in strict mode, value conversion, and the
 * mapping between the kebab-case flags of PROTOCOL.md §6 and the library's camelCase options.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { closest, FastSocketError, fileSystemErrorText, JsonDepthError, keyPairProblem, OUTBOX_POLICIES, parseJson, pemProblem, serverNameProblem, type OutboxPolicy, type TlsOptions } from '../fastsocket';

/** A mistake on the command line; the CLI prints its message on one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in the help text after the flag, e.g. 'N'. */
  value?: string;
  help: string;
}

export type FlagSpecs = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | boolean | undefined>;

/**
 * Parses argv strictly; an unknown flag, a missing value or a stray argument becomes a UsageError naming it.
 * @param elsewhere the flags of the other commands, each with its command's name: an unknown flag that is one of
 *   them, or is close to one of `specs`, gets a hint
 */
export function parseFlags(argv: string[], specs: FlagSpecs, elsewhere: Record<string, string> = {}): FlagValues {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as FlagValues;
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }, specs, elsewhere));
  }
}

function describeParseError(err: Error & { code?: string }, specs: FlagSpecs, elsewhere: Record<string, string>): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}${flag?.startsWith('--') ? unknownFlagHint(flag.slice(2), specs, elsewhere) : ''}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(/'([^']*)'/.exec(err.message)?.[1] ?? '')}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `option ${flag} takes no value`;
      if (/ambiguous/.test(err.message)) return `option ${flag} needs a value (write ${flag}=VALUE for a value starting with -)`;
      return `option ${flag} needs a value`;
    default:
      return err.message.split('\n')[0];
  }
}

/** ' (it is a flag of send)' or ' (did you mean --count?)' for an unknown --name, or '' when neither fits. */
function unknownFlagHint(name: string, specs: FlagSpecs, elsewhere: Record<string, string>): string {
  // Own keys only: `--constructor` was 'a flag of function Object() { [native code] }'.
  if (Object.hasOwn(elsewhere, name)) return ` (it is a flag of ${elsewhere[name]})`;
  const guess = closest(name, Object.keys(specs));
  return guess === null ? '' : ` (did you mean --${guess}?)`;
}

function raw(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** An integer flag in [min, max], or `fallback` when absent. */
export function intFlag(values: FlagValues, name: string, min: number, fallback: number): number;
export function intFlag(values: FlagValues, name: string, min: number, fallback?: undefined): number | undefined;
export function intFlag(values: FlagValues, name: string, min: number, fallback?: number): number | undefined {
  const text = raw(values, name);
  if (text === undefined) return fallback;
  const n = /^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** A finite number flag above `exclusiveMin` and at most `max`, or `fallback` when absent. */
export function numberFlag(values: FlagValues, name: string, exclusiveMin: number, fallback?: number, max = Infinity): number | undefined {
  const text = raw(values, name);
  if (text === undefined) return fallback;
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n <= exclusiveMin || n > max) {
    throw new UsageError(`--${name} must be a number > ${exclusiveMin}${max < Infinity ? ` and <= ${max}` : ''}, got ${JSON.stringify(text)}`);
  }
  return n;
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  return raw(values, name);
}

export function oneOfFlag<T extends string>(values: FlagValues, name: string, allowed: readonly T[], fallback: T): T {
  const text = raw(values, name);
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

/** A JSON flag; Python's bare NaN/Infinity are accepted like everywhere else in fastsocket. */
export function jsonFlag(values: FlagValues, name: string): { value: unknown } | undefined {
  const text = raw(values, name);
  if (text === undefined) return undefined;
  try {
    return { value: parseJson(text) };
  } catch (err) {
    throw new UsageError(`--${name} ${err instanceof JsonDepthError ? 'is refused' : 'is not valid JSON'}: ${(err as Error).message}`);
  }
}

export function readFileFlag(values: FlagValues, name: string): Buffer | undefined {
  const path = raw(values, name);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`--${name}: cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Server limits of PROTOCOL.md §6 and thresholds; each is a flag `--${kebab(name)}` taking an integer. */
export const SERVER_LIMIT_OPTIONS = [
  'maxFrameBytes', 'maxBadFrames', 'frameTimeoutMs', 'idleTimeoutMs', 'maxConnections', 'ack3TimeoutMs', 'maxPendingAck3', 'syncMaxUncertaintyNs',
] as const;
/** Client limits of PROTOCOL.md §6 with integer values (`--outbox-policy` is handled apart). */
export const CLIENT_LIMIT_OPTIONS = ['outboxMaxMessages', 'outboxMaxBytes', 'reconnectMinMs', 'reconnectMaxMs', 'maxFrameBytes', 'maxAttempts', 'silenceTimeoutMs'] as const;

const LIMIT_HELP: Record<string, string> = {
  maxFrameBytes: 'largest frame accepted (default 16777216)',
  maxBadFrames: 'consecutive bad frames before closing a connection (default 10)',
  frameTimeoutMs: 'a started frame must complete within this (default 10000)',
  idleTimeoutMs: 'close a connection silent for this long (default 120000)',
  maxConnections: 'connections past this are refused (default 1024)',
  ack3TimeoutMs: 'drop a pending latency record after this (default 10000)',
  maxPendingAck3: 'pending latency records per connection (default 10000)',
  outboxMaxMessages: 'unacknowledged messages kept for resending (default 10000)',
  outboxMaxBytes: 'bytes of unacknowledged messages kept (default 67108864)',
  reconnectMinMs: 'first reconnect delay (default 100)',
  reconnectMaxMs: 'reconnect delay cap (default 5000)',
  syncMaxUncertaintyNs: 'clock-synced records get sync_ok when the clock offset is known to within this (default 1000000)',
  silenceTimeoutMs: 'take the connection for dead when nothing comes back for this long while messages wait for their ack (default 30000; 0: never)',
  maxAttempts: 'drop a message once this many connections closed with it oldest unacknowledged (default 0: never)',
};

export function limitFlagSpecs(names: readonly string[]): FlagSpecs {
  const specs: FlagSpecs = {};
  for (const n of names) specs[kebab(n)] = { type: 'string', value: n.endsWith('Bytes') ? 'BYTES' : n.endsWith('Ms') ? 'MS' : n.endsWith('Ns') ? 'NS' : 'N', help: LIMIT_HELP[n] };
  return specs;
}

/** The limit flags that were given, as library options; range checks are left to the library's validation. */
export function limitOptions(values: FlagValues, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) {
    const v = intFlag(values, kebab(n), Number.MIN_SAFE_INTEGER);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

export const OUTBOX_POLICY_SPEC: FlagSpecs = {
  'outbox-policy': { type: 'string', value: 'POLICY', help: `what to drop when the outbox is full: ${OUTBOX_POLICIES.join(', ')} (default drop-oldest)` },
};

export function outboxPolicy(values: FlagValues): OutboxPolicy {
  return oneOfFlag(values, 'outbox-policy', OUTBOX_POLICIES, 'drop-oldest');
}

export const TOKEN_SPEC: FlagSpecs = {
  'token-file': { type: 'string', value: 'FILE', help: 'shared secret, first line of FILE (else $FASTSOCKET_TOKEN)' },
};

/** The shared token from --token-file, else FASTSOCKET_TOKEN; never logged. */
export function token(values: FlagValues, env: NodeJS.ProcessEnv): string | undefined {
  const file = readFileFlag(values, 'token-file');
  const text = file !== undefined ? file.toString('utf8').split(/\r?\n/)[0] : env.FASTSOCKET_TOKEN;
  if (text === undefined) return undefined;
  if (text.length === 0) throw new UsageError(file !== undefined ? '--token-file: the file starts with an empty line' : 'FASTSOCKET_TOKEN is set but empty');
  return text;
}

export const SERVER_TLS_SPEC: FlagSpecs = {
  cert: { type: 'string', value: 'FILE', help: 'server certificate (PEM, followed by its intermediates) for tls:// and wss://' },
  key: { type: 'string', value: 'FILE', help: 'server private key (PEM, unencrypted)' },
  ca: { type: 'string', value: 'FILE', help: 'CA (PEM) that client certificates must chain to: requires mutual TLS' },
};

export const CLIENT_TLS_SPEC: FlagSpecs = {
  ca: { type: 'string', value: 'FILE', help: 'CA (PEM) to verify the server certificate with (default: Node\'s bundled Mozilla CAs)' },
  'client-cert': { type: 'string', value: 'FILE', help: 'client certificate (PEM) for mutual TLS' },
  'client-key': { type: 'string', value: 'FILE', help: 'client private key (PEM)' },
  servername: { type: 'string', value: 'NAME', help: 'name the server certificate must carry (default: the --url host), for a server dialled by address' },
};

/**
 * The TLS flags of `serve`, checked: they need a tls:// or wss:// --url (on tcp:// or ws:// they would be silently
 * unused), and each file must hold what its flag says, so that a swapped --cert and --key is named as such instead
 * of surfacing later as an OpenSSL error.
 */
export function serverTls(values: FlagValues, url: string): TlsOptions | undefined {
  requireTlsUrl(values, url, ['cert', 'key', 'ca']);
  const tls: TlsOptions = { cert: pemFlag(values, 'cert', 'certificate'), key: pemFlag(values, 'key', 'key'), ca: pemFlag(values, 'ca', 'certificate') };
  if (tls.cert && tls.key) checkKeyPair(values, tls.cert, tls.key, 'cert', 'key');
  return tls.cert || tls.key || tls.ca ? tls : undefined;
}

/** The TLS flags of `send`, checked as serverTls's. */
export function clientTls(values: FlagValues, url: string): TlsOptions | undefined {
  requireTlsUrl(values, url, ['ca', 'client-cert', 'client-key', 'servername']);
  const tls: TlsOptions = { ca: pemFlag(values, 'ca', 'certificate'), cert: pemFlag(values, 'client-cert', 'certificate'), key: pemFlag(values, 'client-key', 'key') };
  if (!tls.cert !== !tls.key) throw new UsageError('--client-cert and --client-key go together');
  if (tls.cert && tls.key) checkKeyPair(values, tls.cert, tls.key, 'client-cert', 'client-key');
  const servername = stringFlag(values, 'servername');
  if (servername !== undefined) {
    const problem = serverNameProblem(servername);
    if (problem) throw new UsageError(`--servername ${JSON.stringify(servername)} ${problem}`);
    tls.servername = servername;
  }
  return tls.cert || tls.ca || tls.servername ? tls : undefined;
}

function requireTlsUrl(values: FlagValues, url: string, flags: string[]): void {
  const given = flags.filter((f) => values[f] !== undefined);
  if (given.length > 0 && !/^(tls|wss):/i.test(url)) {
    throw new UsageError(`${given.map((f) => `--${f}`).join(' and ')} ${given.length === 1 ? 'needs' : 'need'} a tls:// or wss:// --url, not ${JSON.stringify(url)}`);
  }
}

/** A PEM file flag, checked to hold a certificate or a private key. */
function pemFlag(values: FlagValues, name: string, kind: 'certificate' | 'key'): Buffer | undefined {
  const pem = readFileFlag(values, name);
  if (pem === undefined) return undefined;
  const problem = pemProblem(kind, pem);
  if (problem) throw new UsageError(`--${name}: ${JSON.stringify(raw(values, name))} ${problem}`);
  return pem;
}

/** Refuses a key that is not the certificate's, naming both flags and their files (as tls_cert and tls_key are named). */
function checkKeyPair(values: FlagValues, cert: string | Buffer, key: string | Buffer, certFlag: string, keyFlag: string): void {
  const problem = keyPairProblem(cert, key);
  if (problem) throw new UsageError(`--${certFlag} ${JSON.stringify(raw(values, certFlag))} and --${keyFlag} ${JSON.stringify(raw(values, keyFlag))} ${problem}`);
}

/** Library options that have a flag of another name than kebab(option). */
const FLAG_OF_OPTION: Record<string, string> = {
  'tls.cert': '--cert',
  'tls.key': '--key',
  token: '--token-file',
  connectTimeoutMs: '--timeout',
  timeoutMs: '--timeout',
};

/**
 * The usage error for a file-system error (ENOENT, ENOTDIR, EISDIR...) that opening `flag`'s path raised, if `err` is
 * one and the flag was given; otherwise nothing.
 * @throws UsageError naming the flag and the error code
 */
export function throwIfPathError(err: unknown, values: FlagValues, flag: string): void {
  const text = fileSystemErrorText(err);
  if (text !== null && values[flag] !== undefined) throw new UsageError(`--${flag}: cannot use ${JSON.stringify(values[flag])}: ${text}`);
}

/**
 * Turns an option error thrown by a library constructor (a TypeError naming the camelCase option, or a bad URL)
 * into a UsageError naming the flag; anything else is rethrown.
 */
export function asUsageError(err: unknown, extraFlags: Record<string, string> = {}): never {
  if (err instanceof FastSocketError && err.code === 'FS_ERR_INVALID_URL') throw new UsageError(`--url: ${err.message}`);
  if (err instanceof TypeError) {
    const flags = { ...FLAG_OF_OPTION, ...extraFlags };
    const message = err.message
      .replace(/tls\.(cert|key)/g, (m) => flags[m])
      .replace(/^option ([A-Za-z0-9]+)/, (_m, name: string) => flags[name] ?? `--${kebab(name)}`)
      .replace(/^option (--)/, '$1')
      .replace(/^unknown (\w+) option .*/, (m) => `internal error: ${m}`);
    throw new UsageError(message);
  }
  throw err;
}
