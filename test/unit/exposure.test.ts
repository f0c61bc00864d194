import { strict as assert } from 'node:assert';
import { exposureWarning } from '../../src/fastsocket/server';

describe('exposureWarning', () => {
  it('says nothing for a loopback server, whatever it lacks', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost']) assert.equal(exposureWarning(`tcp://${host}:1`, host, false, false), null, host);
  });

  it('says nothing for a reachable server with both TLS and a token', () => {
    assert.equal(exposureWarning('wss://0.0.0.0:1/', '0.0.0.0', true, true), null);
  });

  it('names exactly what a reachable server lacks', () => {
    assert.equal(
      exposureWarning('tcp://0.0.0.0:1', '0.0.0.0', false, false),
      'listening on non-loopback tcp://0.0.0.0:1 without TLS or a token: anyone who can reach this address can inject messages',
    );
    assert.match(exposureWarning('tcp://10.0.0.1:1', '10.0.0.1', false, true) ?? '', / without TLS: /);
    assert.match(exposureWarning('tls://10.0.0.1:1', '10.0.0.1', true, false) ?? '', / without a token: /);
  });
});
