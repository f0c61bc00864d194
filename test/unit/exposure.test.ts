import { strict as assert } from 'node:assert';
import { exposureWarning } from '../../src/fastsocket/server';

describe('exposureWarning', () => {
  it('says nothing for a loopback server, whatever it lacks', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost']) assert.equal(exposureWarning(`tcp://${host}:1`, host, false, false), null, host);
  });

  it('says nothing for a reachable server with both TLS and a token', () => {
    assert.equal(exposureWarning('wss://0.0.0.0:1/', '0.0.0.0', true, true), null);
  });

  // serve --url tls://0.0.0.0:8888 --ca ca.pem warned "without a token: anyone who can reach this address can inject
  // messages", though only holders of a certificate from that CA get past the handshake.
  it('says nothing for a reachable tls or wss server that requires client certificates (mutual TLS) and no token', () => {
    assert.equal(exposureWarning('tls://0.0.0.0:1', '0.0.0.0', true, false, true), null);
    assert.equal(exposureWarning('wss://10.0.0.1:1/', '10.0.0.1', true, false, true), null);
  });

  it('names exactly what a reachable server lacks', () => {
    assert.equal(
      exposureWarning('tcp://0.0.0.0:1', '0.0.0.0', false, false),
      'listening on non-loopback tcp://0.0.0.0:1 without TLS or a token: anyone who can reach this address can inject messages',
    );
    assert.match(exposureWarning('tcp://10.0.0.1:1', '10.0.0.1', false, true) ?? '', / without TLS: /);
    assert.match(exposureWarning('tls://10.0.0.1:1', '10.0.0.1', true, false) ?? '', / without a token or client certificates: /);
  });
});
