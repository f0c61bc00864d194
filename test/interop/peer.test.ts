/**
 * The reference peer itself: if it were wrong, interop failures would point at the library for nothing. Python
 * talks to Python here; raw sockets check that it keeps serving where the original would have crashed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseJson, stringifyJson } from '../../src/fastsocket';
import { useTeardown } from '../support/teardown';
import { makePayloads } from './payloads';
import { PythonPeer } from './python-peer';

const DEADLINE_MS = 20_000;

describe('peer.py', () => {
  const teardown = useTeardown();

  function startPeer(args: string[]): PythonPeer {
    const peer = new PythonPeer(args, parseJson);
    teardown.add(() => peer.stop());
    return peer;
  }

  async function startServe(extra: string[] = []): Promise<{ py: PythonPeer; port: number }> {
    const py = startPeer(['serve', '--port', '0', ...extra]);
    const listening = await py.waitFor((e) => e.event === 'listening', DEADLINE_MS, 'the listening line');
    return { py, port: listening.port as number };
  }

  function rawConnection(port: number): net.Socket {
    const socket = net.connect(port, '127.0.0.1');
    teardown.add(() => socket.destroy());
    return socket;
  }

  describe('send', () => {
    it('hands every payload, falsy and non-finite ones included, to peer.py serve with one latency each', async () => {
      const { py: server, port } = await startServe();
      const dir = mkdtempSync(path.join(tmpdir(), 'fastsocket-peer-'));
      teardown.add(() => rmSync(dir, { recursive: true, force: true }));
      const payloads = makePayloads({ count: 300, seed: 3, largeStringChars: 100 * 1024, largeStrings: 1, nonFinite: true });
      const file = path.join(dir, 'p.jsonl');
      // stringifyJson writes bare NaN/Infinity as Python does (JSON.stringify would write null).
      writeFileSync(file, payloads.map((p) => stringifyJson(p)).join('\n') + '\n');

      const client = startPeer(['send', '--port', String(port), '--payloads', file, '--pipeline', '--events']);
      const summary = await client.waitFor((e) => e.event === 'summary', DEADLINE_MS, 'the send summary');
      assert.equal(summary.delivered, payloads.length);
      const received = await server.waitForCount('message', payloads.length, DEADLINE_MS);
      const latencies = await server.waitForCount('latency', payloads.length, DEADLINE_MS);
      assert.deepStrictEqual(received.map((m) => m.payload), payloads);
      const sent = client.events.filter((e) => e.event === 'delivered');
      assert.deepEqual(received.map((m) => m.id), sent.map((e) => e.id));
      latencies.forEach((r, i) => {
        assert.equal(r.id, sent[i].id);
        assert.equal(r.t1_ns, sent[i].rtt_ns, 'ack 3 carries the T1 the client measured');
        assert.equal(r.t2_start, 'message_arrived');
      });
    });

    it('exits 2 naming the option when --count is negative', async () => {
      const py = startPeer(['send', '--port', '1', '--count', '-1']);
      assert.equal(await py.waitForExit(DEADLINE_MS), 2);
      assert.match(py.stderrTail, /--count/);
    });
  });

  describe('serve', () => {
    it('keeps serving, and serves a second client, after bad frames and an ack 3 for an unknown id', async () => {
      const { py, port } = await startServe();
      const bad = rawConnection(port);
      bad.write('not json\n[1]\n{"type":"message"}\n{"id":"x","type":"zzz"}\n\xff\n');
      bad.write('{"id":"nobody","type":"ack","send_and_ack_time_ns":5}\n{"id":"m1","type":"message","payload":0}\n');
      const [ack] = (await once(bad, 'data')) as [Buffer];
      assert.deepEqual(JSON.parse(ack.toString().split('\n')[0]), { id: 'm1', type: 'ack' });
      bad.write('{"id":"m1","type":"ack","send_and_ack_time_ns":1000}\n');
      const m1 = await py.waitFor((e) => e.event === 'message', DEADLINE_MS, 'the message after bad frames');
      assert.equal(m1.payload, 0, 'a falsy payload is handed over');

      const good = startPeer(['send', '--port', String(port), '--count', '5']);
      assert.equal(await good.waitForExit(DEADLINE_MS), 0);
      assert.equal(await py.stop(), 0);
      const summary = await py.waitFor((e) => e.event === 'summary', DEADLINE_MS, 'the serve summary');
      assert.equal(summary.bad_frames, 5);
      assert.equal(summary.ack3_unknown, 1);
      assert.equal(summary.messages, 6);
    });

    it('closes only the connection whose line exceeds --read-limit', async () => {
      const { py, port } = await startServe(['--read-limit', '65536']);
      const big = rawConnection(port);
      big.on('error', () => {}); // the peer may reset the connection while we are still writing
      big.write(`{"id":"big","type":"message","payload":"${'y'.repeat(100 * 1024)}"}\n`);
      await py.waitFor((e) => e.event === 'closed_oversize', DEADLINE_MS, 'the oversize close');

      const good = startPeer(['send', '--port', String(port), '--count', '5', '--read-limit', '65536']);
      assert.equal(await good.waitForExit(DEADLINE_MS), 0);
    });
  });
});
