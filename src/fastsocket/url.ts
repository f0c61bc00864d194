/** Parsing of fastsocket URLs (PROTOCOL.md §1): the scheme picks the transport. */
import { FastSocketError } from './errors';

/** The transports a URL can name. */
export type Scheme = 'tcp' | 'tls' | 'ws' | 'wss';
/** Every Scheme, for validating a URL. */
export const SCHEMES: readonly Scheme[] = ['tcp', 'tls', 'ws', 'wss'];
/** The port of a URL that names none. */
export const DEFAULT_PORT = 8888;
/** Where a server listens and a client connects when no `url` is given. */
export const DEFAULT_URL = 'tcp://127.0.0.1:8888';

/** A URL taken apart by parseUrl. */
export interface Endpoint {
  scheme: Scheme;
  /** Host name or address, IPv6 without brackets. */
  host: string;
  port: number;
  /** Path for ws/wss ('' when the URL names none); always '' for tcp/tls. */
  path: string;
}

/** Parses `tcp://host:port`, `tls://...`, `ws://host:port/path`, `wss://...`. Throws FS_ERR_INVALID_URL. */
export function parseUrl(url: string): Endpoint {
  if (typeof url !== 'string') throw new FastSocketError('FS_ERR_INVALID_URL', `url must be a string, got ${url === null ? 'null' : typeof url}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FastSocketError('FS_ERR_INVALID_URL', `invalid url ${JSON.stringify(url)}: expected e.g. ${DEFAULT_URL}`);
  }
  const scheme = u.protocol.replace(/:$/, '') as Scheme;
  if (!SCHEMES.includes(scheme)) {
    throw new FastSocketError('FS_ERR_INVALID_URL', `unsupported scheme "${scheme}" in ${JSON.stringify(url)}: use one of ${SCHEMES.map((s) => s + '://').join(', ')}`);
  }
  // Nothing reads them: `ws://user:secret@host` went out without the credentials, and without a word.
  if (u.username !== '' || u.password !== '') {
    throw new FastSocketError(
      'FS_ERR_INVALID_URL',
      `url ${JSON.stringify(`${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`)} names a user or password, which fastsocket does not use: give a shared secret as the token option (--token-file, FASTSOCKET_TOKEN)`,
    );
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new FastSocketError('FS_ERR_INVALID_URL', `url ${JSON.stringify(url)} has no host`);
  let port: number;
  if (u.port !== '') port = Number(u.port);
  else if (/^[a-z]+:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*):\d+(?:[/?#]|$)/i.test(url)) {
    // WHATWG URL drops a port equal to the scheme's default (ws 80, wss 443): it was written, so honour it.
    port = scheme === 'ws' ? 80 : 443;
  } else port = DEFAULT_PORT;
  const isWs = scheme === 'ws' || scheme === 'wss';
  // A query on the root path is the server's to read too (a proxy routing on it): `ws://gw/?veh=17` went out as `/`.
  const path = isWs && (u.pathname !== '/' || u.search !== '') ? u.pathname + u.search : '';
  if (!isWs && ((u.pathname !== '' && u.pathname !== '/') || u.search !== '')) {
    // A query was dropped without a word, `tls://host:8888?token=...` included: refused, and not echoed.
    const shown = `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}${u.search === '' ? '' : '?...'}`;
    throw new FastSocketError('FS_ERR_INVALID_URL', `a ${scheme}:// url takes no path or query: ${JSON.stringify(shown)}`);
  }
  return { scheme, host, port, path };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The URL a listener reports: `tcp://127.0.0.1:PORT`, `ws://127.0.0.1:PORT/`. */
export function formatUrl(ep: Endpoint): string {
  const base = `${ep.scheme}://${formatHostPort(ep.host, ep.port)}`;
  return ep.scheme === 'ws' || ep.scheme === 'wss' ? base + (ep.path || '/') : base;
}

/** Whether a scheme's transport runs over TLS (tls://, wss://). */
export function isSecureScheme(scheme: Scheme): boolean {
  return scheme === 'tls' || scheme === 'wss';
}

/** Whether `host` (as parseUrl writes it) is this machine only: localhost, 127/8 or ::1. */
export function isLoopback(host: string): boolean {
  // An IPv4-mapped 127/8 address counts too; the URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1.
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:(127\.|7f[0-9a-f]{2}:)/i.test(host);
}
