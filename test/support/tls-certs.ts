/**
 * Certificates for tls:// and wss:// tests, made with `openssl` in the test run (nothing secret is checked in):
 * a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate for mutual TLS.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

let made: Promise<TestCerts> | undefined;

/** Generates the certificates once per test process, in a temporary folder removed when the process exits. */
export function testCerts(): Promise<TestCerts> {
  made ??= generate();
  return made;
}

async function generate(): Promise<TestCerts> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-certs-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const f = (name: string): string => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=fastsocket test CA']);
  await issue(f, 'server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n', ec);
  await issue(f, 'client', 'veh-17', 'extendedKeyUsage=clientAuth\n', ec);
  const read = (name: string): string => fs.readFileSync(f(name), 'utf8');
  return {
    dir,
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
  };
}

async function issue(f: (name: string) => string, name: string, cn: string, extensions: string, ec: string[]): Promise<void> {
  fs.writeFileSync(f(`${name}.ext`), extensions);
  await run('openssl', ['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
  await run('openssl', [
    'x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`),
  ]);
}
