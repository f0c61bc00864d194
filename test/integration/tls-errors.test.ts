import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { FastSocketClient, FastSocketServer, type Logger } from '../../src/fastsocket';
import { tempDir } from '../support/fault-scenarios';
import { startServer } from '../support/fixtures';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';

const run = promisify(execFile);

/** A logger that keeps `level message` lines. */
function loggedLines(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
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
      const dir = tempDir(teardown, 'enc-key');
      const encrypted = path.join(dir, 'enc.key');
      await run('openssl', ['pkey', '-in', path.join(c.dir, 'server.key'), '-aes256', '-passout', 'pass:hunter2', '-out', encrypted]);
      const key = fs.readFileSync(encrypted, 'utf8');
      assertTypeError(() => new FastSocketServer({ url: 'tls://127.0.0.1:0', tls: { cert: c.serverCert, key } }), 'tls.key', 'encrypted', 'no passphrase');
      assertTypeError(() => new FastSocketClient({ url: 'wss://127.0.0.1:1/', tls: { ca: c.ca, cert: c.clientCert, key } }), 'tls.key', 'encrypted');
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

    it('the server warns at listen when its certificate is outside its validity dates by its wall clock', async () => {
      const { lines, logger } = loggedLines();
      const in2100 = Date.UTC(2100, 0, 1) * 1e6;
      await startServer(teardown, 'tls', { logger, wallClock: () => in2100 });
      assert.equal(lines.filter((l) => /^warn the server certificate \(tls\.cert\) expired on \d{4}-/.test(l)).length, 1, lines.join('\n'));
      const now = loggedLines();
      await startServer(teardown, 'wss', { logger: now.logger });
      assert.deepEqual(now.lines.filter((l) => l.startsWith('warn ')), []);
    });
  });
});
