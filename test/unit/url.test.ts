import { strict as assert } from 'node:assert';
import { FastSocketError } from '../../src/fastsocket/errors';
import { formatHostPort, formatUrl, isLoopback, parseUrl } from '../../src/fastsocket/url';

function invalid(url: unknown): void {
  assert.throws(
    () => parseUrl(url as string),
    (err: unknown) => err instanceof FastSocketError && err.code === 'FS_ERR_INVALID_URL',
    String(url),
  );
}

describe('url', () => {
  describe('#parseUrl', () => {
    it('reads the scheme, host and port of each transport', () => {
      assert.deepEqual(parseUrl('tcp://127.0.0.1:8888'), { scheme: 'tcp', host: '127.0.0.1', port: 8888, path: '' });
      assert.deepEqual(parseUrl('tls://example.com:9000'), { scheme: 'tls', host: 'example.com', port: 9000, path: '' });
      assert.deepEqual(parseUrl('ws://127.0.0.1:1234/'), { scheme: 'ws', host: '127.0.0.1', port: 1234, path: '' });
      assert.deepEqual(parseUrl('wss://h:1/fast/socket?x=1'), { scheme: 'wss', host: 'h', port: 1, path: '/fast/socket?x=1' });
    });

    // `ws://gw/?veh=17` went out as `GET /`, and `tls://h:1?token=...` dropped its query, both without a word.
    it('keeps the query of a ws or wss url on the root path, and refuses one on a tcp or tls url', () => {
      assert.deepEqual(parseUrl('ws://h:1/?veh=17'), { scheme: 'ws', host: 'h', port: 1, path: '/?veh=17' });
      assert.deepEqual(parseUrl('wss://h:1?veh=17'), { scheme: 'wss', host: 'h', port: 1, path: '/?veh=17' });
      assert.equal(formatUrl(parseUrl('ws://h:1/?veh=17')), 'ws://h:1/?veh=17');
      invalid('tcp://h:1?x=1');
      invalid('tls://h:1/?token=abc');
      assert.throws(() => parseUrl('tls://h:1?token=s3cret'), (err: Error) => /takes no path or query: "tls:\/\/h:1\?\.\.\."/.test(err.message) && !err.message.includes('s3cret'));
    });

    it('takes port 0 to mean "any free port"', () => {
      assert.equal(parseUrl('tcp://127.0.0.1:0').port, 0);
    });

    it('defaults to the conventional port 8888 when none is given', () => {
      for (const url of ['tcp://127.0.0.1', 'tls://127.0.0.1', 'ws://127.0.0.1/', 'wss://127.0.0.1/']) {
        assert.equal(parseUrl(url).port, 8888, url);
      }
    });

    it('keeps an explicit port 80 on ws and 443 on wss, which URL drops as the default', () => {
      assert.equal(parseUrl('ws://127.0.0.1:80/').port, 80);
      assert.equal(parseUrl('wss://127.0.0.1:443/').port, 443);
    });

    it('does not read ":80" in the path as a port', () => {
      assert.equal(parseUrl('ws://127.0.0.1/a:80').port, 8888);
      assert.equal(parseUrl('wss://127.0.0.1/x:443').port, 8888);
    });

    it('unwraps a bracketed IPv6 host', () => {
      assert.deepEqual(parseUrl('tcp://[::1]:5000'), { scheme: 'tcp', host: '::1', port: 5000, path: '' });
    });

    it('rejects unsupported schemes, garbage, missing hosts, paths on tcp/tls and ports out of range with FS_ERR_INVALID_URL', () => {
      for (const url of ['http://127.0.0.1:80', 'udp://h:1', 'tcp:/h', 'nonsense', '', 'tcp://:5', 'tcp://h:1/path', 'tls://h:1/x', 'tcp://h:65536', 'tcp://h:-1']) {
        invalid(url);
      }
    });

    it('rejects a user or password in the url, which nothing would send, without repeating the password', () => {
      for (const url of ['ws://veh:s3cret@127.0.0.1:8888/', 'tcp://veh@127.0.0.1:8888', 'tls://:s3cret@example.com:9000']) {
        assert.throws(
          () => parseUrl(url),
          (err: unknown) => err instanceof FastSocketError && err.code === 'FS_ERR_INVALID_URL' && /user or password/.test(err.message) && !err.message.includes('s3cret'),
          url,
        );
      }
    });

    it('rejects a url that is not a string with FS_ERR_INVALID_URL', () => {
      for (const url of [undefined, 5, null, {}]) invalid(url);
    });
  });

  describe('#formatUrl', () => {
    it('writes tcp/tls without a path and ws/wss with "/" when none was named', () => {
      assert.equal(formatUrl({ scheme: 'tcp', host: '127.0.0.1', port: 5, path: '' }), 'tcp://127.0.0.1:5');
      assert.equal(formatUrl({ scheme: 'ws', host: '127.0.0.1', port: 5, path: '' }), 'ws://127.0.0.1:5/');
      assert.equal(formatUrl({ scheme: 'wss', host: '::1', port: 5, path: '/p' }), 'wss://[::1]:5/p');
    });

    it('round-trips through parseUrl', () => {
      for (const url of ['tcp://127.0.0.1:1', 'tls://[::1]:2', 'ws://localhost:3/', 'wss://h:4/a/b']) {
        assert.equal(formatUrl(parseUrl(url)), url);
      }
    });
  });

  describe('#formatHostPort', () => {
    it('brackets IPv6 hosts only', () => {
      assert.equal(formatHostPort('127.0.0.1', 1), '127.0.0.1:1');
      assert.equal(formatHostPort('::ffff:127.0.0.1', 1), '[::ffff:127.0.0.1]:1');
    });
  });

  describe('#isLoopback', () => {
    it('knows the loopback names and addresses', () => {
      for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) assert.equal(isLoopback(h), true, h);
      for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1', '::ffff:10.0.0.1', '::ffff:a00:1', '::ffff:8000:1']) {
        assert.equal(isLoopback(h), false, h);
      }
      assert.equal(isLoopback(parseUrl('tcp://[::ffff:127.0.0.1]:0').host), true, 'as the URL parser writes it');
    });
  });
});
