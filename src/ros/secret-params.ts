/**
 * Token and TLS parameters. They name files, and the files are read once at start-up so a missing or unreadable
 * one is reported by parameter name. Secrets never appear in an error or a log line: only paths and errno codes do.
 */
import { readFileSync } from 'node:fs';
import { isSecureScheme, keyPairProblem, parseUrl, pemProblem, serverNameProblem, type TlsOptions } from '../fastsocket';
import { ParameterError } from './errors';
import { ParamReader } from './params';

/**
 * `token_file` (preferred: its first line, so the secret is not visible through `ros2 param get`) or `token`.
 * @returns null when neither is set
 * @throws ParameterError when both are set, or the file is unreadable or starts with an empty line
 */
export function readToken(r: ParamReader, who: 'clients must present' | 'the server requires'): string | null {
  const token = r.string('token', '', `Shared secret ${who}, inline (readable with ros2 param get; prefer token_file); empty: none.`);
  const file = r.string('token_file', '', `File whose first line is the shared secret ${who}; empty: none.`);
  if (file === '') return token === '' ? null : token;
  if (token !== '') throw new ParameterError('token_file', 'set token or token_file, not both');
  const first = readParamFile('token_file', file).toString('utf8').split(/\r?\n/)[0];
  if (first.length === 0) throw new ParameterError('token_file', `${JSON.stringify(file)} starts with an empty line`);
  return first;
}

export interface TlsParam {
  readonly param: string;
  readonly field: 'cert' | 'key' | 'ca';
  readonly description: string;
}

export const SERVER_TLS_PARAMS: readonly TlsParam[] = [
  { param: 'tls_cert', field: 'cert', description: 'Server certificate (PEM file, followed by its intermediates) for tls:// and wss://.' },
  { param: 'tls_key', field: 'key', description: 'Private key (PEM file, unencrypted) of tls_cert.' },
  { param: 'tls_ca', field: 'ca', description: 'CA (PEM file) that client certificates must chain to: set, it requires mutual TLS.' },
];

export const CLIENT_TLS_PARAMS: readonly TlsParam[] = [
  { param: 'tls_ca', field: 'ca', description: 'CA (PEM file) to verify the server certificate with; empty: Node\'s bundled Mozilla CAs, not the OS store.' },
  { param: 'tls_client_cert', field: 'cert', description: 'Client certificate (PEM file) for mutual TLS.' },
  { param: 'tls_client_key', field: 'key', description: 'Private key (PEM file) of tls_client_cert.' },
];

/**
 * Reads the TLS files named by `params`; null when none is set. Checks them against the url's scheme so that a
 * certificate configured for a plain tcp:// or ws:// url, which would silently go unused, is an error.
 * @param role `server` needs cert and key for tls/wss; `client` needs cert and key together or neither
 * @throws ParameterError
 */
export function readTls(r: ParamReader, url: string, params: readonly TlsParam[], role: 'server' | 'client'): TlsOptions | null {
  const paths = params.map((p) => ({ ...p, path: r.string(p.param, '', `${p.description} Empty: none.`) }));
  const set = paths.filter((p) => p.path !== '');
  const secure = isSecureUrl(url);
  const servername = role === 'client'
    ? r.string('tls_servername', '', 'Host name the server certificate must carry, for a server dialled by an address it does not list; empty: the url\'s host.')
    : '';
  if (servername !== '') {
    if (!secure) throw unusedOn(url, 'tls_servername');
    const problem = serverNameProblem(servername);
    if (problem) throw new ParameterError('tls_servername', `${JSON.stringify(servername)} ${problem}`);
  }
  const named = (field: TlsParam['field']) => paths.find((p) => p.field === field) as (typeof paths)[number];
  if (!secure) {
    if (set.length > 0) throw unusedOn(url, set[0].param);
    return null;
  }
  const cert = named('cert');
  const key = named('key');
  if (role === 'server' && cert.path === '') throw new ParameterError(cert.param, `is required for ${JSON.stringify(url)}`);
  if (cert.path !== '' && key.path === '') throw new ParameterError(key.param, `is required with ${cert.param}`);
  if (key.path !== '' && cert.path === '') throw new ParameterError(cert.param, `is required with ${key.param}`);
  if (set.length === 0) return servername === '' ? null : { servername };
  const tls: TlsOptions = servername === '' ? {} : { servername };
  for (const p of set) {
    const pem = readParamFile(p.param, p.path);
    const problem = pemProblem(p.field === 'key' ? 'key' : 'certificate', pem);
    if (problem) throw new ParameterError(p.param, `${JSON.stringify(p.path)} ${problem}`);
    tls[p.field] = pem;
  }
  const pairProblem = tls.cert && tls.key ? keyPairProblem(tls.cert, tls.key) : null;
  if (pairProblem) throw new ParameterError(cert.param, `${JSON.stringify(cert.path)} and ${key.param} ${JSON.stringify(key.path)} ${pairProblem}`);
  return tls;
}

/** A TLS parameter set for a url that would not use it. */
function unusedOn(url: string, param: string): ParameterError {
  return new ParameterError(param, `is set but url ${JSON.stringify(url)} is not tls:// or wss://, so it would not be used`);
}

function isSecureUrl(url: string): boolean {
  return isSecureScheme(parseUrl(url).scheme);
}

function readParamFile(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ParameterError(param, `cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
