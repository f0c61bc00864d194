import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { FastSocketClient, FastSocketServer, type Logger } from '../../src/fastsocket';
import { tempDir } from '../support/fault-scenarios';
import { startClient, startServer } from '../support/fixtures';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';
import { waitUntil } from '../support/wait';

const run = promisify(execFile);

/** A logger that keeps `level message` lines. */
function loggedLines(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** A certificate and key for `cn`, issued by the test CA into `dir` with `extensions`, valid for `days` (-1: expired). */
async function issueCertificate(dir: string, cn: string, extensions: string, days: number): Promise<{ cert: string; key: string }> {
  const c = await testCerts();
  const f = (name: string): string => path.join(dir, name);
  fs.writeFileSync(f('cert.ext'), extensions);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('cert.key'), '-out', f('cert.csr'), '-subj', `/CN=${cn}`]);
  await run('openssl', ['x509', '-req', '-in', f('cert.csr'), '-CA', path.join(c.dir, 'ca.pem'), '-CAkey', path.join(c.dir, 'ca.key'), '-CAcreateserial', '-CAserial', f('ca.srl'), '-out', f('cert.pem'), '-days', String(days), '-extfile', f('cert.ext')]);
  return { cert: fs.readFileSync(f('cert.pem'), 'utf8'), key: fs.readFileSync(f('cert.key'), 'utf8') };
}

function assertTypeError(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TypeError, `a TypeError, got ${String(e)}`);
    for (const n of needles) assert.ok(e.message.includes(n), `${JSON.stringify(e.message)} mentions ${n}`);
    return true;
  });
}

describe('TLS as deployed: misconfiguration and refusals', function () {
  this.timeout(20_000);
  const teardown = useTeardown();

  describe('FastSocketServer and FastSocketClient constructors', () => {
    // Each was accepted: the server failed at listen() with OpenSSL's "no start line", naming no option; a client, or
    // a server's ca, silently used no CA at all (the client fell back to the system CAs, the server refused everyone).
    it('throw a TypeError naming tls.cert, tls.key or tls.ca when given a file name instead of the PEM text', async () => {
      const c = await testCerts();
      const certFile = path.join(c.dir, 'server.pem');
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: certFile, key: c.serverKey } }), 'tls.cert', 'not its name');
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.serverCert, key: path.join(c.dir, 'server.key') } }), 'tls.key');
      assertTypeError(() => new FastSocketServer({ url: 'wss://127.0.0.1:0', tls: { cert: c.serverCert, key: c.serverKey, ca: path.join(c.dir, 'ca.pem') } }), 'tls.ca');
      assertTypeError(() => new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { ca: path.join(c.dir, 'ca.pem') } }), 'tls.ca', 'not its name');
    });

    it('throw a TypeError naming the options when the key belongs to another certificate, or is encrypted', async () => {
      const c = await testCerts();
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.serverCert, key: c.clientKey } }), 'tls.cert and tls.key', 'do not belong together');
      // A chain file with the CA first, where Node reads the key's certificate.
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.ca + c.serverCert, key: c.serverKey } }), 'must start with the key\'s own certificate');
      // A key of another type than the certificate's (RSA for an EC certificate): OpenSSL keeps it in a slot of its own
      // without a word, so the server listened and failed every handshake with "no suitable signature algorithm", and
      // its clients were told it wanted a client certificate.
      const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.serverCert, key: rsaKey } }), 'tls.cert and tls.key', 'do not belong together', 'rsa', 'ec');
      assertTypeError(() => new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { ca: c.ca, cert: c.clientCert, key: rsaKey } }), 'tls.cert and tls.key', 'do not belong together');
      const dir = tempDir(teardown, 'enc-key');
      const encrypted = path.join(dir, 'enc.key');
      await run('openssl', ['pkey', '-in', path.join(c.dir, 'server.key'), '-aes256', '-passout', 'pass:hunter2', '-out', encrypted]);
      const key = fs.readFileSync(encrypted, 'utf8');
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.serverCert, key } }), 'tls.key', 'encrypted', 'no passphrase');
      assertTypeError(() => new FastSocketClient({ url: 'wss://127.0.0.1:1/', tls: { ca: c.ca, cert: c.clientCert, key } }), 'tls.key', 'encrypted');
    });

    // OpenSSL stops reading a CA list at a damaged certificate without a word: a client whose CA file held the server's
    // CA after one refused the server as "signed by no CA this client trusts"; a damaged intermediate in a chain file
    // was reported as a key that did not belong to its certificate.
    it('throw a TypeError naming tls.ca or tls.cert when a certificate after the first is damaged or cut off', async () => {
      const c = await testCerts();
      const damaged = '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n';
      assertTypeError(() => new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { ca: c.clientCert + damaged + c.ca } }), 'tls.ca', 'damaged certificate (certificate 2 of 3');
      assertTypeError(() => new FastSocketServer({ url: 'wss://127.0.0.1:0', tls: { cert: c.serverCert + damaged, key: c.serverKey } }), 'tls.cert', 'damaged certificate');
      assertTypeError(() => new FastSocketClient({ url: 'wss://127.0.0.1:1/', tls: { ca: [c.ca, c.clientCert + c.ca.slice(0, -40)] } }), 'tls.ca', 'without its "-----END" line');
      new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { ca: c.clientCert + c.ca } }).destroy();
    });

    it('throw a TypeError for a misspelt tls option, and for tls options on a tcp:// or ws:// url, where they would go unused', async () => {
      const c = await testCerts();
      assertTypeError(() => new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { caFile: c.ca } as never }), 'caFile');
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.serverCert, key: c.serverKey, passphrase: 'x' } as never }), 'passphrase');
      assertTypeError(() => new FastSocketClient({ url: 'tcp://127.0.0.1:1', tls: { ca: c.ca } }), 'option tls', 'tcp://');
      assertTypeError(() => new FastSocketServer({ url: 'ws://127.0.0.1:0', tls: { cert: c.serverCert, key: c.serverKey } }), 'option tls', 'ws://');
    });

    it('warn when tls.rejectUnauthorized is false, which turns certificate checking off', async () => {
      const { lines, logger } = loggedLines();
      new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { rejectUnauthorized: false }, logger }).destroy();
      assert.equal(lines.filter((l) => l.startsWith('warn ') && l.includes('tls.rejectUnauthorized is false')).length, 1, lines.join('\n'));
      const quiet = loggedLines();
      new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { ca: (await testCerts()).ca }, logger: quiet.logger }).destroy();
      assert.deepEqual(quiet.lines.filter((l) => l.startsWith('warn ')), []);
    });

    // Over tls:// a server refusing it only closed the connection: the client said "a refused client certificate?" among
    // other causes, while it could tell by itself.
    it('the client warns at construction when its certificate has expired', async () => {
      const c = await testCerts();
      // -days -1: valid until a day before it was issued.
      const expired = await issueCertificate(tempDir(teardown, 'expired-client'), 'veh-expired', 'extendedKeyUsage=clientAuth\n', -1);
      const { lines, logger } = loggedLines();
      new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { ca: c.ca, ...expired }, logger }).destroy();
      assert.equal(lines.filter((l) => /^warn the client certificate \(tls\.cert, --client-cert, tls_client_cert\) expired on \d{4}-.* will refuse it$/.test(l)).length, 1, lines.join('\n'));
      const valid = loggedLines();
      new FastSocketClient({ url: 'wss://127.0.0.1:1/', tls: { ca: c.ca, cert: c.clientCert, key: c.clientKey }, logger: valid.logger }).destroy();
      assert.deepEqual(valid.lines.filter((l) => l.startsWith('warn ')), []);
    });

    it('the server warns at listen when its certificate is outside its validity dates by its wall clock', async () => {
      const { lines, logger } = loggedLines();
      const in2100 = Date.UTC(2100, 0, 1) * 1e6;
      await startServer(teardown, 'tls', { logger, wallClock: () => in2100 });
      assert.equal(lines.filter((l) => /^warn the server certificate \(tls\.cert, --cert, tls_cert\) expired on \d{4}-/.test(l)).length, 1, lines.join('\n'));
      const now = loggedLines();
      await startServer(teardown, 'wss', { logger: now.logger });
      assert.deepEqual(now.lines.filter((l) => l.startsWith('warn ')), []);
    });
  });

  for (const scheme of ['tls', 'wss'] as const) {
    describe(`${scheme}:// handshakes the server refuses`, () => {
      async function mutualServer() {
        const c = await testCerts();
        const server = loggedLines();
        const { url } = await startServer(teardown, scheme, { tls: { cert: c.serverCert, key: c.serverKey, ca: c.ca }, logger: server.logger });
        return { url, serverLines: server.lines, certs: c };
      }

      // Both sides said nothing above the debug level: the client warned after 3 closes that the server might refuse
      // the message for its size, and the server's log, which the client's warnings point to, was empty.
      it('says on both sides that a client without a certificate was refused by mutual TLS', async () => {
        const { url, serverLines, certs } = await mutualServer();
        const client = loggedLines();
        const c = await startClient(teardown, url, { tls: { ca: certs.ca }, logger: client.logger });
        const errors: Array<Error & { code?: string }> = [];
        c.on('disconnect', ({ error }) => error && errors.push(error));
        c.send('x').catch(() => undefined);
        await waitUntil(() => serverLines.some((l) => l.startsWith('warn ')) && client.lines.some((l) => l.includes('requires a client certificate')), () => `both sides to warn:\n${serverLines.join('\n')}\n${client.lines.join('\n')}`);
        // Over tls:// the handshake had completed on the client's side: its disconnect said error null.
        await waitUntil(() => errors.length > 0, 'a disconnect with an error');
        assert.equal(errors[0].code, 'FS_ERR_CONNECT');
        // The error's cause is the alert, explained; its cause is OpenSSL's error, whose code names the alert.
        assert.equal(((errors[0].cause as Error | undefined)?.cause as NodeJS.ErrnoException | undefined)?.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
        assert.match(serverLines.find((l) => l.startsWith('warn '))!, /^warn closing 127\.0\.0\.1:\d+: it presented no client certificate, and this server requires one/);
        assert.ok(client.lines.some((l) => l.startsWith('warn ') && l.includes('tlsv13 alert certificate required')), client.lines.join('\n'));
      });

      it('names why the server refused a client certificate that does not allow client authentication', async () => {
        const { url, serverLines, certs } = await mutualServer();
        const c = await startClient(teardown, url, { tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey } });
        c.send('x').catch(() => undefined);
        await waitUntil(() => serverLines.some((l) => l.startsWith('warn ')), () => `a warning:\n${serverLines.join('\n')}`);
        assert.match(serverLines.find((l) => l.startsWith('warn '))!, /^warn closing 127\.0\.0\.1:\d+: its client certificate was refused \(INVALID_PURPOSE\)/);
      });

      it('says that a client offering only TLS 1.1 was refused for its version', async () => {
        const server = loggedLines();
        const { url } = await startServer(teardown, scheme, { logger: server.logger });
        const u = new URL(url);
        const old = tls.connect({ host: u.hostname, port: Number(u.port), ca: (await testCerts()).ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
        old.on('error', () => undefined);
        teardown.add(() => old.destroy());
        await waitUntil(() => server.lines.some((l) => l.startsWith('warn ')), () => `a warning:\n${server.lines.join('\n')}`);
        assert.match(server.lines.find((l) => l.startsWith('warn '))!, /^warn closing 127\.0\.0\.1:\d+: it offers only TLS versions older than 1\.2, which this server refuses$/);
      });

      it(`names the schemes when a ${scheme === 'tls' ? 'tcp' : 'ws'}:// client dials it`, async () => {
        const server = loggedLines();
        const { url } = await startServer(teardown, scheme, { logger: server.logger });
        const plain = url.replace(/^tls:/, 'tcp:').replace(/^wss:/, 'ws:');
        const c = await startClient(teardown, plain);
        c.send('x').catch(() => undefined);
        await waitUntil(() => server.lines.some((l) => l.startsWith('warn ')), () => `a warning:\n${server.lines.join('\n')}`);
        assert.match(server.lines.find((l) => l.startsWith('warn '))!, new RegExp(`^warn closing 127\\.0\\.0\\.1:\\d+: it did not start a TLS handshake \\(a .*client\\? this server is ${scheme}://\\)$`));
      });
    });

    describe(`${scheme}:// clients say which certificate they refused and why`, () => {
      async function firstError(url: string, tls: object): Promise<string> {
        const errors: string[] = [];
        const c = await startClient(teardown, url, { tls });
        c.on('disconnect', ({ error }) => error && errors.push(error.message));
        c.send('x').catch(() => undefined);
        await waitUntil(() => errors.length > 0, 'a failed connection attempt');
        return errors[0];
      }

      it('an untrusted server certificate: names it and tls.ca', async () => {
        const { url } = await startServer(teardown, scheme);
        const message = await firstError(url, {});
        assert.match(message, /the server's certificate was refused: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY); .*tls\.ca/);
      });

      it('a certificate for another host: names its subjectAltName', async () => {
        const { url } = await startServer(teardown, scheme);
        const message = await firstError(url, { ca: (await testCerts()).ca, servername: 'other.example' });
        assert.match(message, /the server's certificate was refused: .*\(ERR_TLS_CERT_ALTNAME_INVALID; its subjectAltName must list the host/);
      });

      // Node compares the CN with a host name when the certificate lists no DNS: name ("Host: other.example. is not
      // cert's CN: ..."); the hint beside that said "the CN is not read".
      it('a certificate with a CN and no subjectAltName, dialled by another name: does not say the CN is not read', async () => {
        const c = await testCerts();
        const cnOnly = await issueCertificate(tempDir(teardown, 'cn-only'), 'cn-only.example', 'extendedKeyUsage=serverAuth\n', 2);
        const { url } = await startServer(teardown, scheme, { tls: cnOnly });
        const message = await firstError(url, { ca: c.ca, servername: 'other.example' });
        assert.match(message, /is not cert's CN: cn-only\.example.*\(ERR_TLS_CERT_ALTNAME_INVALID; its subjectAltName must list the host/);
        assert.doesNotMatch(message, /the CN is not read/);
        assert.match(message, /CN is compared only with a name, and only when the certificate lists no DNS: name/);
      });

      it(`a ${scheme === 'tls' ? 'tcp' : 'ws'}:// server: says it does not speak TLS`, async () => {
        const { url } = await startServer(teardown, scheme === 'tls' ? 'tcp' : 'ws');
        const message = await firstError(url.replace(/^tcp:/, 'tls:').replace(/^ws:/, 'wss:'), { ca: (await testCerts()).ca });
        assert.match(message, /before secure TLS connection was established \(a server that does not speak TLS/);
      });

      // A plaintext server that answers first (any HTTP server, another implementation's ws:// server, sends 400 Bad
      // Request to a ClientHello) made the client log OpenSSL's text: file names, line numbers and a raw newline.
      it('a plaintext server that answers the handshake: says it does not speak TLS, without OpenSSL\'s dump', async () => {
        const http400 = net.createServer((s) => {
          s.on('error', () => undefined);
          s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
        });
        await new Promise<void>((resolve) => http400.listen(0, '127.0.0.1', resolve));
        teardown.add(() => new Promise<void>((resolve) => http400.close(() => resolve())));
        const message = await firstError(`${scheme}://127.0.0.1:${(http400.address() as net.AddressInfo).port}`, { ca: (await testCerts()).ca });
        assert.match(message, new RegExp(`the server answered with bytes that are not TLS \\(wrong version number\\): a server that does not speak TLS \\(tcp:// or ws://\\? this client is ${scheme}://\\)`));
        assert.doesNotMatch(message, /\n|ssl3_get_record|\.c:\d/);
      });
    });
  }
});
