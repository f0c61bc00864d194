/**
 * Found by acting as a hostile client against the server: peer-chosen strings reaching the log, a per-connection
 * queue that grew past max_pending_ack3, a ws:// peer cut for a ping flood without a word, and a WebSocket length
 * past 2^53 closed as too large (1009) but not counted as such.
 */
import { strict as assert } from 'node:assert';
import type { FastSocketServer, Scheme } from '../../src/fastsocket';
import { capturingLogger, startClient, startRawPeer, startServer } from '../support/fixtures';
import { ack3, isAck2, message1, RawPeer, wsFrameBytes } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { waitForEvent, waitUntil } from '../support/wait';

/** The order queue of the server's only peer (internal: what the hostile client made grow). */
function orderQueueLength(server: FastSocketServer): number {
  const peers = (server as unknown as { peers: Set<{ order: unknown[]; orderHead: number }> }).peers;
  assert.equal(peers.size, 1);
  const [p] = [...peers];
  return p.order.length - p.orderHead;
}

describe('FastSocketServer against a hostile client', () => {
  const teardown = useTeardown();

  it('does not write control characters of a message id into its log (late ack 3 warning)', async () => {
    const logger = capturingLogger();
    const { server, url } = await startServer(teardown, 'tcp', { ack3TimeoutMs: 50, logger });
    const peer = await startRawPeer(teardown, url);
    const evil = 'x\nwarn FORGED LINE\u001b[31m\u0085\u2028';
    peer.sendFrame(message1(evil, 1));
    await peer.waitForFrame(isAck2(evil));
    await waitUntil(() => server.stats().ack3_expired === 1, 'the pending record to expire');
    peer.sendFrame(ack3(evil, 10));
    await waitUntil(() => server.stats().ack3_late === 1, 'the late ack 3 to be counted');
    const warning = logger.lines.find((l) => l.includes('ack3_timeout_ms'));
    assert.ok(warning, logger.lines.join('\n'));
    assert.doesNotMatch(warning, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, JSON.stringify(warning));
    assert.ok(warning.includes('FORGED LINE'), warning);
  });

  it('keeps the order queue of a connection bounded when a client resends one id over and over without ack 3', async () => {
    const { server, url } = await startServer(teardown, 'tcp');
    const peer = await startRawPeer(teardown, url);
    peer.sendFrame(message1('head', 1)); // never acked: holds the head of the queue for ack3_timeout_ms
    const repeats = 5000;
    for (let i = 0; i < repeats; i++) peer.sendFrame(message1('same', i));
    await waitUntil(() => server.stats().duplicates === repeats - 1, 'every repeat to be read');
    assert.equal(server.stats().messages, 2);
    // Two records are pending ('head' and the newest 'same'); the queue held one entry per repeat.
    const length = orderQueueLength(server);
    assert.ok(length < 2100, `order queue holds ${length} entries for 2 pending records`);
  });

  it('says why it cut a ws:// peer that floods pings without reading the pongs, and serves another client meanwhile', async () => {
    const logger = capturingLogger();
    const { server, url } = await startServer(teardown, 'ws', { logger });
    const peer = await RawPeer.connectRawWebSocket(url);
    teardown.add(() => peer.destroy());
    peer.stream.pause();
    // Each ping is answered with a pong the peer never reads: before ws 8.23 the pongs piled up in the server without
    // bound (353 MB in 6 s); ws now cuts the peer, and said nothing about it (a bare 1006, no log line).
    const ping = wsFrameBytes(Buffer.alloc(125, 0x61), 0x9);
    const cut = waitForEvent(server, 'disconnect');
    peer.sendBytes(Buffer.concat(Array.from({ length: 2000 }, () => ping)));
    await cut;
    assert.ok(logger.lines.some((l) => l.startsWith('warn') && /ping flood/.test(l)), logger.lines.join('\n'));
    assert.equal(server.stats().closed_protocol, 1);
    const client = await startClient(teardown, url);
    await client.send('after the flood');
    assert.equal(server.stats().messages, 1);
  });

  it('closes a ws:// frame that declares a length past 2^53 - 1 as too large, and counts it in closed_oversize', async () => {
    const { server, url } = await startServer(teardown, 'ws');
    const peer = await RawPeer.connectRawWebSocket(url);
    teardown.add(() => peer.destroy());
    // A text frame whose 64-bit length is 2^53, then its mask: what ws refuses before buffering anything.
    peer.sendBytes(Buffer.from([0x81, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
    await peer.waitClosed('the connection to be closed');
    await waitUntil(() => server.stats().closed_oversize === 1, () => `closed_oversize ${server.stats().closed_oversize}`);
  });

  for (const scheme of ['tcp', 'ws'] as Scheme[]) {
    it(`closes a ${scheme}:// peer that never authenticates idle_timeout_ms after it connected, however often it sends blank lines`, async () => {
      const idleTimeoutMs = 300;
      const { server, url } = await startServer(teardown, scheme, { token: 'right-token', idleTimeoutMs });
      const peer = await startRawPeer(teardown, url);
      // Blank lines (ws: blank messages) are bytes but no frame: they kept the connection, and its slot under
      // max_connections, open for ever without a hello.
      const keepAlive = setInterval(() => peer.isClosed || peer.sendFrame(' '), idleTimeoutMs / 5);
      teardown.add(() => clearInterval(keepAlive));
      await peer.waitClosed('the unauthenticated peer to be closed', 10 * idleTimeoutMs + 3000);
      clearInterval(keepAlive);
      assert.equal(server.stats().closed_idle, 1);
      assert.equal(server.stats().messages, 0);
    });
  }
});
