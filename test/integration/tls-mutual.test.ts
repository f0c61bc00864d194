import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { FastSocketClient, FastSocketServer, MessageEvent, PeerInfo } from '../../src/fastsocket';
import { tempDir } from '../support/fault-scenarios';
import { startClient, startServer } from '../support/fixtures';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';
import { collect, waitUntil, withDeadline } from '../support/wait';

const run = promisify(execFile);

/** A self-signed client certificate that no CA of ours vouches for, made with openssl now. */
async function intruderCert(dir: string): Promise<{ cert: string; key: string }> {
  const f = (n: string): string => path.join(dir, n);
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', f('intruder.key'), '-out', f('intruder.pem'), '-subj', '/CN=veh-17', '-addext', 'extendedKeyUsage=clientAuth',
  ]);
  return { cert: fs.readFileSync(f('intruder.pem'), 'utf8'), key: fs.readFileSync(f('intruder.key'), 'utf8') };
}

describe('FastSocketServer with mutual TLS', function () {
  this.timeout(20_000);
  const teardown = useTeardown();

  for (const scheme of ['tls', 'wss'] as const) {
    describe(`${scheme}://`, () => {
      async function mutualServer(): Promise<{ server: FastSocketServer; url: string; messages: MessageEvent[]; connections: PeerInfo[] }> {
        const c = await testCerts();
        const { server, url } = await startServer(teardown, scheme, { tls: { cert: c.serverCert, key: c.serverKey, ca: c.ca } });
        return { server, url, messages: collect<MessageEvent>(server, 'message'), connections: collect<PeerInfo>(server, 'connection') };
      }

      /** Sends once, then waits for two failed connection attempts of a client the server refuses. */
      async function refusedTwice(client: FastSocketClient): Promise<void> {
        let disconnects = 0;
        client.on('disconnect', () => disconnects++);
        client.send({ secret: 'must not arrive' }).catch(() => undefined);
        await waitUntil(() => disconnects >= 2, 'two refused connection attempts');
      }

      it('serves a client that presents a certificate signed by the CA', async () => {
        const { url, messages } = await mutualServer();
        const c = await testCerts();
        const client = await startClient(teardown, url, { tls: { ca: c.ca, cert: c.clientCert, key: c.clientKey } });
        const r = await withDeadline(client.send({ hello: 'mtls' }), 'the send with a client certificate');
        assert.deepEqual(messages.map((m) => [m.id, m.payload]), [[r.id, { hello: 'mtls' }]]);
      });

      it('takes tls.ca as a list of CAs, as Node does, on both sides', async () => {
        const c = await testCerts();
        const other = await intruderCert(tempDir(teardown, 'ca-list'));
        const { url, messages } = await startServer(teardown, scheme, { tls: { cert: c.serverCert, key: c.serverKey, ca: [other.cert, c.ca] } })
          .then(({ server, url }) => ({ url, messages: collect<MessageEvent>(server, 'message') }));
        const client = await startClient(teardown, url, { tls: { ca: [other.cert, c.ca], cert: c.clientCert, key: c.clientKey } });
        const r = await withDeadline(client.send({ hello: 'ca list' }), 'the send with a list of CAs');
        assert.deepEqual(messages.map((m) => [m.id, m.payload]), [[r.id, { hello: 'ca list' }]]);
      });

      it('refuses a client without a certificate before the application sees a connection or a message', async () => {
        const { server, url, messages, connections } = await mutualServer();
        const client = await startClient(teardown, url, { tls: { ca: (await testCerts()).ca } });
        await refusedTwice(client);
        assert.deepEqual(messages, []);
        assert.deepEqual(connections, []);
        assert.equal(server.stats().connections_total, 0);
        assert.equal(client.stats().delivered, 0);
      });

      // Regression test: over tls:// (TLS 1.3) the server's alert comes after the client's handshake is done; the client
      // logged it at debug and warned only about a wrong token or a refused message, never naming the certificate.
      it('warns a client without a certificate that the server asks for one', async () => {
        const { url } = await mutualServer();
        const warnings: string[] = [];
        const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
        const client = await startClient(teardown, url, { tls: { ca: (await testCerts()).ca }, logger });
        await refusedTwice(client);
        assert.ok(warnings.some((w) => /certificate required/.test(w)), `warnings: ${warnings.join('\n')}`);
        assert.ok(!warnings.some((w) => /token/.test(w)), `warnings: ${warnings.join('\n')}`);
      });

      it('refuses a client whose certificate no trusted CA signed', async () => {
        const { server, url, messages, connections } = await mutualServer();
        const intruder = await intruderCert(tempDir(teardown, 'intruder'));
        const client = await startClient(teardown, url, { tls: { ca: (await testCerts()).ca, ...intruder } });
        await refusedTwice(client);
        assert.deepEqual(messages, []);
        assert.deepEqual(connections, []);
        assert.equal(server.stats().connections_total, 0);
      });

      // The server closes such a connection without a TLS alert over tls:// (its log names the certificate): the client
      // can only say, once connections keep closing, that its certificate may be why.
      it('tells a client whose certificate no trusted CA signed that its certificate may be why connections close', async () => {
        const { url } = await mutualServer();
        const intruder = await intruderCert(tempDir(teardown, 'intruder-warned'));
        const warnings: string[] = [];
        const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
        const client = await startClient(teardown, url, { tls: { ca: (await testCerts()).ca, ...intruder }, logger });
        client.send({ secret: 'must not arrive' }).catch(() => undefined);
        await waitUntil(() => warnings.some((w) => /our client certificate\?/.test(w)), 'a warning naming our client certificate');
        assert.equal(client.stats().delivered, 0);
      });

      it('is refused by a client that does not trust the server certificate', async () => {
        const { server, url, messages } = await mutualServer();
        const c = await testCerts();
        const errors: Array<Error | null> = [];
        const client = await startClient(teardown, url, { tls: { cert: c.clientCert, key: c.clientKey } });
        client.on('disconnect', ({ error }) => errors.push(error));
        client.send({ secret: 'must not leave' }).catch(() => undefined);
        await waitUntil(() => errors.length >= 2, 'two failed connection attempts');
        assert.ok(errors.every((e) => (e as { code?: string } | null)?.code === 'FS_ERR_CONNECT'), `errors: ${errors.map(String)}`);
        assert.deepEqual(messages, []);
        assert.equal(server.stats().messages, 0);
      });
    });
  }
});
