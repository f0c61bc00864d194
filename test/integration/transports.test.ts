import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { type LatencyRecord, type MessageEvent, type SendResult } from '../../src/fastsocket';
import { makePayloads } from '../interop/payloads';
import { ALL_SCHEMES, serverTls, startClient, startServer } from '../support/fixtures';
import { isAck2, message1, RawPeer } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';
import { collect, waitForEvent, waitUntil, withDeadline } from '../support/wait';

// Beside the large unicode strings, a large ASCII one as a camera image's base64 is: each takes the client's path for
// large frames (written as bytes), the ASCII one copied as latin1.
const PAYLOADS = [
  ...makePayloads({ count: 300, seed: 7, largeStringChars: 300_000, largeStrings: 2, nonFinite: true }),
  { cdr: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 131) & 0xff)).toString('base64') },
];

describe('transports', () => {
  const teardown = useTeardown();

  before(async () => {
    await testCerts();
  });

  for (const scheme of ALL_SCHEMES) {
    describe(`${scheme}://`, () => {
      it('reports its bound URL with the real port when port 0 was asked for', async () => {
        const { url } = await startServer(teardown, scheme);
        const expected = scheme === 'ws' || scheme === 'wss' ? new RegExp(`^${scheme}://127\\.0\\.0\\.1:[1-9]\\d*/$`) : new RegExp(`^${scheme}://127\\.0\\.0\\.1:[1-9]\\d*$`);
        assert.match(url, expected);
      });

      it('carries varied payloads exactly, in order, each with a latency record matching the client round trip', async () => {
        const { server, url } = await startServer(teardown, scheme);
        const messages = collect<MessageEvent>(server, 'message');
        const latencies = collect<LatencyRecord>(server, 'latency');
        const client = await startClient(teardown, url, { clientId: 'veh-17' });

        const results: SendResult[] = await Promise.all(PAYLOADS.map((p) => client.send(p)));
        await waitUntil(() => latencies.length === PAYLOADS.length, `${PAYLOADS.length} latency records`);

        assert.equal(messages.length, PAYLOADS.length);
        assert.deepEqual(messages.map((m) => m.id), results.map((r) => r.id), 'handed over in the order sent');
        messages.forEach((m, i) => {
          assert.deepStrictEqual(m.payload, PAYLOADS[i], `payload ${i}`);
          assert.equal(m.client_id, 'veh-17');
          assert.equal(m.resent, false);
          assert.match(m.peer, /^127\.0\.0\.1:\d+$/);
        });
        const byId = new Map(latencies.map((r) => [r.id, r]));
        for (const r of results) {
          const rec = byId.get(r.id);
          assert.ok(rec, `latency record for ${r.id}`);
          assert.equal(r.resent, false);
          assert.equal(rec.t1_ns, Math.round(r.rtt_ns), 'server records the T1 the client measured');
          assert.ok(rec.t1_ns > 0 && rec.t2_ns > 0 && rec.ps_ns >= 0);
          assert.equal(rec.latency_ns, Math.round(rec.t1_ns - rec.t2_ns / 2));
          assert.equal(rec.client_id, 'veh-17');
          assert.equal(rec.resent, false);
          assert.equal(rec.peer, messages[0]!.peer);
        }
        const stats = server.stats();
        assert.equal(stats.messages, PAYLOADS.length);
        assert.equal(stats.latencies, PAYLOADS.length);
        assert.equal(stats.bad_frames, 0);
        assert.equal(client.stats().delivered, PAYLOADS.length);
      });

      it('serves several clients at once, each message handed over once with its own client_id', async () => {
        const { server, url } = await startServer(teardown, scheme);
        const messages = collect<MessageEvent>(server, 'message');
        const clients = await Promise.all(['a', 'b', 'c'].map((id) => startClient(teardown, url, { clientId: id })));
        await Promise.all(clients.flatMap((c, ci) => Array.from({ length: 50 }, (_, i) => c.send({ client: ci, i }))));
        assert.equal(messages.length, 150);
        for (const [ci, id] of ['a', 'b', 'c'].entries()) {
          const mine = messages.filter((m) => m.client_id === id).map((m) => (m.payload as { client: number; i: number }));
          assert.deepEqual(mine, Array.from({ length: 50 }, (_, i) => ({ client: ci, i })));
        }
        assert.equal(server.stats().connections_total, 3);
      });
    });
  }

  for (const scheme of ['tls', 'wss'] as const) {
    describe(`${scheme}:// with mutual TLS`, () => {
      it('delivers from a client with a certificate signed by the CA, and refuses one without', async () => {
        const certs = await testCerts();
        const { server, url } = await startServer(teardown, scheme, { tls: { ...(await serverTls()), ca: certs.ca } });
        const good = await startClient(teardown, url, { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
        assert.equal((await good.send('with cert')).resent, false);

        const messages = collect<MessageEvent>(server, 'message');
        const bad = await startClient(teardown, url, { tls: { ca: certs.ca } });
        const sent = bad.send('without cert');
        sent.catch(() => undefined);
        await waitUntil(() => bad.stats().connect_failures + bad.stats().reconnects >= 2, 'the certificate-less client to be refused twice');
        assert.equal(bad.stats().delivered, 0);
        assert.equal(messages.length, 0, 'nothing from the client without a certificate reached the application');
      });
    });

    describe(`${scheme}:// certificate checking`, () => {
      it('does not connect to a server whose certificate the client does not trust', async () => {
        const { server, url } = await startServer(teardown, scheme);
        const messages = collect<MessageEvent>(server, 'message');
        const client = await startClient(teardown, url, { tls: {} });
        client.send('x').catch(() => undefined);
        await waitUntil(() => client.stats().connect_failures >= 2, 'two failed connection attempts');
        assert.equal(client.stats().connected, false);
        assert.equal(messages.length, 0);
      });
    });
  }

  describe('ws://', () => {
    it('answers a plain HTTP request with 426 Upgrade Required', async () => {
      const { url } = await startServer(teardown, 'ws');
      const status = await new Promise<number>((resolve, reject) => {
        http.get(url.replace('ws://', 'http://'), (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(status, 426);
    });

    it('closes a connection after answering its plain HTTP request, so one connection cannot pipeline requests', async () => {
      const { url } = await startServer(teardown, 'ws');
      const u = new URL(url);
      const socket = net.connect({ host: u.hostname, port: Number(u.port) });
      teardown.add(() => socket.destroy());
      let response = '';
      socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100));
      await withDeadline(new Promise((resolve) => socket.once('close', resolve)), 'the server to close the plain HTTP connection');
      assert.equal(response.match(/^HTTP\/1\.1 426 /gm)?.length, 1, response.slice(0, 300));
    });

    it('accepts the upgrade on any path when its URL names none', async () => {
      const { server, url } = await startServer(teardown, 'ws');
      const messages = collect<MessageEvent>(server, 'message');
      const client = await startClient(teardown, `${url}some/path`);
      await client.send('hi');
      assert.deepEqual(messages.map((m) => m.payload), ['hi']);
    });

    it('reads a message 1 sent in fragments with a ping between them as one frame, and answers the ping with a pong (§1)', async () => {
      const { server, url } = await startServer(teardown, 'ws');
      const messages = collect<MessageEvent>(server, 'message');
      const peer = await RawPeer.connect(url);
      teardown.add(() => peer.destroy());
      const ws = peer.webSocket;
      const pong = waitForEvent(ws, 'pong');
      const text = message1('fragmented', { n: 1 });
      ws.send(text.slice(0, 10), { fin: false });
      ws.ping('between');
      ws.send(text.slice(10, 20), { fin: false });
      ws.send(text.slice(20), { fin: true });
      await peer.waitForFrame(isAck2('fragmented'), 'the ack 2 of the fragmented message');
      await pong;
      assert.deepEqual(messages.map((m) => [m.id, m.payload]), [['fragmented', { n: 1 }]]);
      assert.equal(server.stats().bad_frames, 0);
    });
  });

  for (const scheme of ['tcp', 'tls'] as const) {
    describe(`${scheme}:// half-closed by the peer`, () => {
      it('still writes the ack 2 of the last message 1 a peer sent before its FIN, then closes (§1)', async () => {
        const { server, url } = await startServer(teardown, scheme);
        const messages = collect<MessageEvent>(server, 'message');
        const port = Number(new URL(url).port);
        // Half-open, as a peer that writes its last frame and shuts down its side (Python's writer.write_eof()).
        const tcp = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        const peer = scheme === 'tcp' ? tcp : tls.connect({ socket: tcp, host: '127.0.0.1', ca: (await testCerts()).ca });
        tcp.on('error', () => undefined);
        peer.on('error', () => undefined);
        teardown.add(() => tcp.destroy());
        let received = '';
        peer.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
        const ended = new Promise<void>((resolve) => peer.once('end', resolve));
        await waitForEvent(peer, scheme === 'tcp' ? 'connect' : 'secureConnect');
        peer.end(`${message1('last', 1)}\n${message1('very-last', 2)}\n`);
        await withDeadline(ended, 'the server to end its side');
        assert.deepEqual(received.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown), [
          { id: 'last', type: 'ack' },
          { id: 'very-last', type: 'ack' },
        ]);
        assert.deepEqual(messages.map((m) => m.id), ['last', 'very-last']);
      });
    });
  }
});
