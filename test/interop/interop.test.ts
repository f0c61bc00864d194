/**
 * Interop with a peer in the original Python implementation's style (test/interop/peer.py): our tcp server with
 * the Python client, and our client with the Python server, each with a few thousand varied payloads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  FastSocketClient,
  FastSocketServer,
  parseJson,
  stringifyJson,
  type LatencyRecord,
  type MessageEvent,
  type SendResult,
} from '../../src/fastsocket';
import { makePayloads } from './payloads';
import { PeerEvent, PythonPeer } from './python-peer';

const COUNT = 3000;
const LARGE_STRING_CHARS = 200 * 1024; // above asyncio's default 64 KiB readline limit
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Generous: a loaded CI box runs the 3000 one-at-a-time exchanges several times slower than an idle one. */
const EVENT_DEADLINE_MS = 45_000;

/**
 * Payloads written the way Python writes them (bare NaN/Infinity, -0.0), with the value our side must decode.
 * JSON.stringify cannot produce these, so they are spelled out.
 */
const PYTHON_ONLY: ReadonlyArray<[text: string, expected: unknown]> = [
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['-0.0', -0],
  ['{"a": NaN, "b": [Infinity, -Infinity, -0.0], "c": {"d": NaN}}', { a: NaN, b: [Infinity, -Infinity, -0], c: { d: NaN } }],
  ['[1.0, 2.50, 1E3, 1e-3]', [1, 2.5, 1000, 0.001]],
  // Python's ints have every digit: JSON.parse rounded these (1764412345123456800) without a word.
  ['{"stamp_ns": 1764412345123456789, "neg": -9223372036854775809, "exact": 9007199254740992}', { stamp_ns: 1764412345123456789n, neg: -9223372036854775809n, exact: 2 ** 53 }],
];

/** Resources created by a test, released after it whatever happened (hooked into each describe below). */
const teardown: Array<() => Promise<unknown> | unknown> = [];
async function releaseAll(): Promise<void> {
  while (teardown.length > 0) await teardown.pop()!();
}

function startPeer(args: string[]): PythonPeer {
  const peer = new PythonPeer(args, parseJson);
  teardown.push(() => peer.stop());
  return peer;
}

interface RunningServer {
  server: FastSocketServer;
  port: number;
  messages: MessageEvent[];
  latencies: LatencyRecord[];
  /** Resolves once `count` latency records have been emitted; rejects at the deadline. */
  latenciesReached(count: number, timeoutMs: number): Promise<void>;
}

async function startServer(): Promise<RunningServer> {
  const server = new FastSocketServer({ url: 'tcp://127.0.0.1:0' });
  teardown.push(() => server.close());
  const messages: MessageEvent[] = [];
  const latencies: LatencyRecord[] = [];
  server.on('message', (m) => messages.push(m));
  server.on('latency', (r) => latencies.push(r));
  const latenciesReached = (count: number, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (latencies.length < count) return;
        clearTimeout(timer);
        server.off('latency', check);
        resolve();
      };
      const timer = setTimeout(() => {
        server.off('latency', check);
        reject(new Error(`timed out after ${timeoutMs} ms with ${latencies.length} of ${count} latency records`));
      }, timeoutMs);
      server.on('latency', check);
      check();
    });
  const url = await server.listen();
  const port = Number(new URL(url).port);
  assert.ok(port > 0, `listen() returned ${url}`);
  return { server, port, messages, latencies, latenciesReached };
}

/** Writes the payload file peer.py reads; returns the values our side should decode, in order. */
function writePayloadFile(count: number): { file: string; expected: unknown[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fastsocket-interop-'));
  teardown.push(() => rmSync(dir, { recursive: true, force: true }));
  const generated = makePayloads({ count: count - PYTHON_ONLY.length, seed: 20240611, largeStringChars: LARGE_STRING_CHARS, largeStrings: 4, nonFinite: false });
  const lines = [...PYTHON_ONLY.map(([text]) => text), ...generated.map((p) => stringifyJson(p))];
  const file = path.join(dir, 'payloads.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, expected: [...PYTHON_ONLY.map(([, value]) => value), ...generated] };
}

/** Fails if a latency record is missing, repeated or insane for any delivered id. */
function assertLatencies(ids: readonly string[], records: readonly LatencyRecord[]): void {
  const byId = new Map<string, LatencyRecord>();
  for (const r of records) {
    assert.ok(!byId.has(r.id), `two latency records for ${r.id}`);
    byId.set(r.id, r);
  }
  assert.equal(byId.size, ids.length, 'one latency record per message');
  for (const id of ids) {
    const r = byId.get(id);
    assert.ok(r, `no latency record for ${id}`);
    assert.ok(Number.isSafeInteger(r.t1_ns) && r.t1_ns >= 0, `t1_ns ${r.t1_ns} for ${id}`);
    assert.ok(Number.isSafeInteger(r.t2_ns) && r.t2_ns >= 0, `t2_ns ${r.t2_ns} for ${id}`);
    assert.ok(Number.isFinite(r.latency_ns) && r.latency_ns <= r.t1_ns, `latency_ns ${r.latency_ns} for ${id}`);
    assert.ok(r.t1_ns < 60e9, `t1_ns ${r.t1_ns} is longer than the whole test`);
    assert.equal(r.resent, false);
    assert.equal(r.client_id, null, 'the original peer sends no hello');
  }
}

describe('FastSocketServer', () => {
  afterEach(releaseAll);

  describe('#listen (tcp) with the Python reference peer as client', () => {
    async function exchange(mode: string[]): Promise<void> {
      const { server, port, messages, latencies, latenciesReached } = await startServer();
      const { file, expected } = writePayloadFile(COUNT);
      const py = startPeer(['send', '--port', String(port), '--payloads', file, '--count', String(COUNT), '--events', '--timeout', String(EVENT_DEADLINE_MS / 1000), ...mode]);

      const summary = await py.waitFor((e) => e.event === 'summary', EVENT_DEADLINE_MS, 'the send summary');
      assert.equal(await py.waitForExit(EVENT_DEADLINE_MS), 0, `peer.py send failed: ${JSON.stringify(summary)} ${py.stderrTail}`);
      assert.equal(summary.sent, COUNT);
      assert.equal(summary.delivered, COUNT);
      assert.equal(summary.ack2_unknown, 0);
      // The peer writes ack 3 before it exits; our latency records follow when the server reads them.
      await latenciesReached(COUNT, EVENT_DEADLINE_MS);

      const sentIds = py.events.filter((e) => e.event === 'delivered').map((e) => e.id as string);
      assert.equal(messages.length, COUNT, 'each payload handed over exactly once');
      assert.deepEqual(messages.map((m) => m.id), sentIds, 'ids arrive in the order the peer sent them');
      for (const id of sentIds) assert.match(id, UUID4);
      for (let i = 0; i < COUNT; i++) {
        assert.deepStrictEqual(messages[i].payload, expected[i], `payload ${i} (id ${messages[i].id})`);
        assert.equal(messages[i].resent, false);
      }
      assertLatencies(sentIds, latencies);
      const stats = server.stats();
      assert.equal(stats.messages, COUNT);
      assert.equal(stats.latencies, COUNT);
      assert.equal(stats.bad_frames, 0);
      assert.equal(stats.ack3_unknown, 0);
      assert.equal(stats.duplicates, 0);
    }

    it('receives every payload exactly and records every latency when the peer sends one at a time', async () => {
      await exchange([]);
    });

    it('receives every payload exactly and records every latency when the peer pipelines', async () => {
      await exchange(['--pipeline']);
    });
  });
});

describe('FastSocketClient', () => {
  afterEach(releaseAll);

  describe('#send (tcp) to the Python reference peer as server', () => {
    async function startPythonServer(port = 0): Promise<{ py: PythonPeer; url: string }> {
      const py = startPeer(['serve', '--port', String(port)]);
      const listening = await py.waitFor((e) => e.event === 'listening', EVENT_DEADLINE_MS, 'the listening line');
      assert.ok(typeof listening.port === 'number' && listening.port > 0);
      return { py, url: `tcp://127.0.0.1:${listening.port}` };
    }

    function newClient(url: string): FastSocketClient {
      const client = new FastSocketClient({ url });
      teardown.push(() => client.destroy());
      return client;
    }

    /** The Python server hands a payload over after ack 3 (as the original): every message event proves one. */
    async function assertPythonGotAll(py: PythonPeer, payloads: readonly unknown[], results: readonly SendResult[]): Promise<void> {
      const received = await py.waitForCount('message', payloads.length, EVENT_DEADLINE_MS);
      const records = await py.waitForCount('latency', payloads.length, EVENT_DEADLINE_MS);
      assert.equal(received.length, payloads.length, 'no payload handed over twice');
      const byId = new Map<string, PeerEvent>(received.map((m) => [m.id as string, m]));
      const latencyById = new Map<string, PeerEvent>(records.map((r) => [r.id as string, r]));
      results.forEach((result, i) => {
        assert.match(result.id, UUID4, 'ids are uuid4 strings');
        const m = byId.get(result.id);
        assert.ok(m, `the Python server never handed over ${result.id}`);
        assert.deepStrictEqual(m.payload, payloads[i], `payload ${i} (id ${result.id})`);
        const r = latencyById.get(result.id);
        assert.ok(r, `no latency for ${result.id}`);
        // Ack 3 carries T1, and send() reports that same T1.
        assert.equal(r.t1_ns, result.rtt_ns, `T1 of ${result.id}`);
        assert.ok(Number.isSafeInteger(r.t1_ns) && (r.t1_ns as number) > 0);
        assert.ok(Number.isFinite(r.latency_ns as number));
      });
      const summary = await stopAndSummarise(py);
      assert.equal(summary.messages, payloads.length);
      assert.equal(summary.latencies, payloads.length);
      assert.equal(summary.ack3_unknown, 0, 'every ack 3 names an id the server acked');
      assert.equal(summary.bad_frames, 0, 'the original-style reader accepts every frame we write');
      assert.equal(summary.duplicates, 0);
    }

    async function stopAndSummarise(py: PythonPeer): Promise<PeerEvent> {
      const code = await py.stop();
      assert.equal(code, 0);
      return py.waitFor((e) => e.event === 'summary', EVENT_DEADLINE_MS, 'the serve summary');
    }

    const payloads = makePayloads({ count: COUNT, seed: 7, largeStringChars: LARGE_STRING_CHARS, largeStrings: 4, nonFinite: true });

    it('delivers every payload exactly and sends every ack 3 when sends are pipelined', async () => {
      const { py, url } = await startPythonServer();
      const client = newClient(url);
      const results = await Promise.all(payloads.map((p) => client.send(p)));
      // close() must flush the last ack 3s: the Python server only hands a payload over once it has one.
      await client.close({ timeoutMs: 5000 });
      assert.equal(client.stats().delivered, COUNT);
      assert.equal(client.stats().dropped, 0);
      assert.ok(results.every((r) => r.resent === false && r.rtt_ns > 0));
      await assertPythonGotAll(py, payloads, results);
    });

    it('delivers every payload exactly and sends every ack 3 when sending one at a time', async () => {
      const { py, url } = await startPythonServer();
      const client = newClient(url);
      const some = payloads.slice(0, 1000);
      const results: SendResult[] = [];
      for (const p of some) results.push(await client.send(p));
      await client.close({ timeoutMs: 5000 });
      await assertPythonGotAll(py, some, results);
    });

    it('resends unacknowledged messages marked resent to a restarted server that reads them like any other', async () => {
      const first = await startPythonServer();
      const port = Number(new URL(first.url).port);
      // Frozen, the first server accepts the connection in the kernel but never acks, so every message stays unacknowledged.
      first.py.signal('SIGSTOP');
      const client = newClient(first.url);
      // Small payloads only, so that all of them are written to the frozen server before it dies.
      const some = payloads.slice(-500);
      const connected = new Promise((resolve) => client.once('connect', resolve));
      const sends = some.map((p) => client.send(p));
      await connected;
      first.py.signal('SIGKILL');
      await first.py.waitForExit(EVENT_DEADLINE_MS);
      const second = await startPythonServer(port);
      const results = await Promise.all(sends);
      await client.close({ timeoutMs: 5000 });

      assert.ok(client.stats().reconnects >= 1);
      const resent = results.filter((r) => r.resent).length;
      assert.ok(resent > 0, 'messages written to the frozen server were delivered by a resend');
      assert.equal(client.stats().resent, resent);
      const received = await second.py.waitForCount('message', some.length, EVENT_DEADLINE_MS);
      const resentById = new Map(received.map((m) => [m.id, m.resent]));
      for (const r of results) assert.equal(resentById.get(r.id), r.resent, `"resent" on the wire for ${r.id}`);
      await assertPythonGotAll(second.py, some, results);
    });
  });
});
