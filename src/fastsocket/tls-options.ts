/**
 * Checks of TlsOptions in the constructors. Node reads `cert`, `key` and `ca` as PEM text: a file name given instead
 * failed only at listen() with OpenSSL's "no start line", and on a client, or as a server's `ca`, not at all (the
 * client fell back to the system CAs, the server refused every client certificate), both without naming the option.
 */
import { OptionError } from './errors';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { checkBoolean, checkKnownKeys, checkString } from './options';
import type { TlsOptions } from './transport';
import { isSecureScheme, type Scheme } from './url';

const KNOWN_TLS_OPTIONS = ['cert', 'key', 'ca', 'rejectUnauthorized', 'servername'];

/**
 * What is wrong with `pem` as a certificate (chain) or a private key, or null when it is one. Says when it looks like
 * a file name, and when the key is encrypted (no passphrase can be given).
 */
export function pemProblem(kind: 'certificate' | 'key', pem: string | Buffer): string | null {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  if (!text.includes('-----BEGIN')) {
    return `holds no PEM ${kind === 'key' ? 'private key' : 'certificate'} (no "-----BEGIN" line${typeof pem === 'string' && text.length < 4096 && !text.includes('\n') ? '; give the contents of the file, not its name' : ''})`;
  }
  // Node's own error for one depends on the input's type: "interrupted or cancelled", "bad decrypt", "passphrase required".
  if (kind === 'key' && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    return 'is an encrypted private key, and fastsocket takes no passphrase: decrypt it (openssl pkey -in KEY -out KEY.plain) and protect that file with mode 600';
  }
  try {
    if (kind === 'certificate') new X509Certificate(pem);
    else createPrivateKey(pem);
  } catch (err) {
    return `is not a PEM ${kind === 'key' ? 'private key' : 'certificate'} (${(err as Error).message})`;
  }
  return kind === 'certificate' ? laterCertificateProblem(text) : null;
}

/** The labels OpenSSL reads a certificate under. */
const CERTIFICATE_BLOCK = /-----BEGIN ((?:X509 |TRUSTED )?CERTIFICATE)-----[\s\S]*?-----END \1-----/g;

/**
 * What is wrong with a certificate after the first of a chain or CA bundle, or null. OpenSSL stops at a damaged one
 * without a word for a CA list: the CAs after it were silently not trusted, and a client refused a server whose CA
 * was in its --ca file ("no CA this client trusts signed it"). In a chain it failed as a key that did not match.
 */
function laterCertificateProblem(text: string): string | null {
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  const begun = text.match(/-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----/g)?.length ?? 0;
  for (let i = 1; i < blocks.length; i++) {
    try {
      new X509Certificate(blocks[i]);
    } catch (err) {
      return `holds a damaged certificate (certificate ${i + 1} of ${begun}: ${(err as Error).message}): OpenSSL would use only the certificates before it`;
    }
  }
  if (begun > blocks.length) return `holds a certificate without its "-----END" line (certificate ${blocks.length + 1} of ${begun}; a truncated file?): OpenSSL would use only the certificates before it`;
  return null;
}

/** What is wrong with a certificate and key as a pair (a key of another certificate), or null. */
export function keyPairProblem(cert: string | Buffer, key: string | Buffer): string | null {
  const chainHint = "a certificate file holding a chain must start with the key's own certificate";
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    // Only the first certificate of a chain file is the key's: an intermediate put first is refused the same way.
    return `do not belong together (${(err as Error).message}; ${chainHint})`;
  }
  // OpenSSL keeps a key of another type than the certificate's (an RSA key for an EC certificate) in a slot of its own
  // without a word: the server listened, and every handshake failed with "no suitable signature algorithm".
  let own: X509Certificate;
  let privateKey: KeyObject;
  try {
    own = new X509Certificate(cert);
    privateKey = createPrivateKey(key);
  } catch {
    return null; // not PEM: pemProblem names that
  }
  if (own.checkPrivateKey(privateKey)) return null;
  const [keyType, certType] = [privateKey.asymmetricKeyType, own.publicKey.asymmetricKeyType];
  return `do not belong together (${keyType !== certType ? `the key is ${keyType}, the certificate's is ${certType}` : "the key is not the certificate's"}; ${chainHint})`;
}

/**
 * Checks the `tls` option of a server or client: known keys only, PEM text where PEM is expected, a key that matches
 * its certificate, and no TLS settings on a tcp:// or ws:// url, where they would be silently unused.
 * @throws TypeError naming the option (`tls.cert`, ...)
 */
export function checkTlsOptions(value: unknown, scheme: Scheme): TlsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionError('tls', 'option tls must be an object');
  checkKnownKeys('tls', value, KNOWN_TLS_OPTIONS);
  const tls = value as TlsOptions;
  if (!isSecureScheme(scheme) && Object.values(tls).some((v) => v !== undefined)) {
    throw new OptionError('tls', `option tls is set but the url is ${scheme}://, which does not use it: use tls:// or wss://`);
  }
  for (const [field, kind] of [['cert', 'certificate'], ['key', 'key'], ['ca', 'certificate']] as const) {
    const value = tls[field];
    if (value === undefined) continue;
    // A list of CAs, as Node's tls takes it, is each checked.
    const pems: unknown[] = field === 'ca' && Array.isArray(value) ? value : [value];
    if (pems.length === 0) throw new OptionError('tls.ca', 'option tls.ca must hold at least one certificate');
    for (const pem of pems) {
      if (typeof pem !== 'string' && !Buffer.isBuffer(pem)) throw new OptionError(`tls.${field}`, `option tls.${field} must be a string or a Buffer of PEM text${field === 'ca' ? ', or an array of them' : ''}`);
      const problem = pemProblem(kind, pem);
      if (problem) throw new OptionError(`tls.${field}`, `option tls.${field} ${problem}`);
    }
  }
  if (tls.cert !== undefined && tls.key !== undefined) {
    const problem = keyPairProblem(tls.cert, tls.key);
    if (problem) throw new OptionError('tls.cert', `option tls.cert and tls.key ${problem}`);
  }
  if (tls.rejectUnauthorized !== undefined) checkBoolean('tls.rejectUnauthorized', tls.rejectUnauthorized);
  if (tls.servername !== undefined) {
    checkString('tls.servername', tls.servername);
    const problem = serverNameProblem(tls.servername);
    if (problem) throw new OptionError('tls.servername', `option tls.servername ${JSON.stringify(tls.servername)} ${problem}`);
  }
  return tls;
}

/** Why `cert` (its first certificate) is not valid at `nowMs`, or null when it is: a server can serve it all the same. */
export function certificateValidityProblem(cert: string | Buffer, nowMs: number): string | null {
  const x509 = new X509Certificate(cert);
  const from = Date.parse(x509.validFrom);
  const to = Date.parse(x509.validTo);
  if (nowMs > to) return `expired on ${new Date(to).toISOString()}`;
  if (nowMs < from) return `is not valid before ${new Date(from).toISOString()}`;
  return null;
}

/** Letters, digits, hyphens and (seen in certificates, though not in DNS host names) underscores, in dot-separated labels. */
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * What is wrong with a name to verify the server certificate against (tls.servername, --servername, tls_servername),
 * or null. It is the host name the certificate carries, for a server dialled by an address its certificate does not
 * list; an address is the url's to give (SNI carries no address, RFC 6066 §3).
 */
export function serverNameProblem(name: string): string | null {
  if (isIP(name) !== 0 || isIP(name.replace(/^\[|\]$/g, '')) !== 0) return 'is an address: put the address in the url, and the host name its certificate carries here';
  if (!HOST_NAME.test(name)) return 'is not a host name (letters, digits, hyphens and dots, e.g. infra.example.org)';
  return null;
}
