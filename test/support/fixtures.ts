/**
 * Servers and clients on 127.0.0.1 port 0 for integration tests, for any of the four schemes, closed by the
 * teardown they are registered with.
 */
import * as net from 'node:net';
import {
  FastSocketClient,
  FastSocketServer,
  type FastSocketClientOptions,
  type FastSocketServerOptions,
  type Logger,
  type Scheme,
} from '../../src/fastsocket';
import { RawPeer } from './raw-peer';
import { Teardown } from './teardown';
import { testCerts } from './tls-certs';

export const ALL_SCHEMES: readonly Scheme[] = ['tcp', 'tls', 'ws', 'wss'];

export function isSecure(scheme: string): boolean {
  return scheme === 'tls' || scheme === 'wss';
}

/** Starts a server on `scheme://127.0.0.1:0` (with test certificates when secure); closed at teardown. */
export async function startServer(
  teardown: Teardown,
  scheme: Scheme,
  options: Omit<FastSocketServerOptions, 'url'> = {},
): Promise<{ server: FastSocketServer; url: string }> {
  const tls = isSecure(scheme) ? await serverTls() : undefined;
  const server = new FastSocketServer({ url: `${scheme}://127.0.0.1:0`, ...(tls ? { tls } : {}), ...options });
  teardown.add(() => server.close());
  const url = await server.listen();
  return { server, url };
}

/** A client of `url` that trusts the test CA and reconnects quickly; destroyed at teardown. */
export async function startClient(teardown: Teardown, url: string, options: Omit<FastSocketClientOptions, 'url'> = {}): Promise<FastSocketClient> {
  const scheme = new URL(url).protocol.replace(':', '');
  const tls = isSecure(scheme) ? { ca: (await testCerts()).ca } : undefined;
  const client = new FastSocketClient({
    url,
    reconnectMinMs: 10,
    reconnectMaxMs: 100,
    connectTimeoutMs: 2_000,
    ...(tls ? { tls } : {}),
    ...options,
  });
  teardown.add(() => client.destroy());
  return client;
}

/** A hand-driven peer of `url` (see RawPeer.connect), destroyed at teardown. */
export async function startRawPeer(teardown: Teardown, url: string): Promise<RawPeer> {
  const peer = await RawPeer.connect(url);
  teardown.add(() => peer.destroy());
  return peer;
}

export async function serverTls(): Promise<{ cert: string; key: string }> {
  const c = await testCerts();
  return { cert: c.serverCert, key: c.serverKey };
}

/** The CA for raw peers of secure schemes, undefined otherwise. */
export async function caFor(url: string): Promise<string | undefined> {
  return isSecure(new URL(url).protocol.replace(':', '')) ? (await testCerts()).ca : undefined;
}

/** A loopback URL on which nothing listens (a port just bound and released). */
export async function unreachableUrl(scheme: Scheme): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return scheme === 'ws' || scheme === 'wss' ? `${scheme}://127.0.0.1:${port}/` : `${scheme}://127.0.0.1:${port}`;
}

/** A logger that keeps every line any level received as `level message`, for asserting what was (not) logged. */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
