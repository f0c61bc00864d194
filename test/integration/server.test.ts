import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FastSocketError, FastSocketServer, type LatencyRecord, type MessageEvent, type PeerInfo } from '../../src/fastsocket';
import WebSocket from 'ws';
import { fakeClock } from '../support/fake-clock';
import { caFor, capturingLogger, startClient, startRawPeer, startServer } from '../support/fixtures';
import { ack3, isAck2, message1, RawPeer } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { collect, waitForEvent, waitUntil, withDeadline } from '../support/wait';

/** A clock the test moves by hand, so latency records are exact. */
function manualClock(): { now: number; clock: () => number } {
  const c = { now: 1_000_000, clock: () => c.now };
  return c;
}

describe('FastSocketServer', () => {
  const teardown = useTeardown();

  describe('#listen', () => {
    it('resolves with the same URL when called again', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      assert.equal(await server.listen(), url);
      assert.equal(server.url, url);
    });

    it('binds once when called again before the first call resolved, and close() then frees that one port', async () => {
      const server = new FastSocketServer({ url: 'tcp://127.0.0.1:0' });
      teardown.add(() => server.close());
      const [first, second] = await Promise.all([server.listen(), server.listen()]);
      assert.equal(second, first);
      await server.close();
      await assert.rejects(RawPeer.connect(first), 'nothing listens any more');
    });

    it('has freed its port when close(), called while it was binding, resolves', async () => {
      const { server: probe, url } = await startServer(teardown, 'tcp');
      await probe.close();
      const server = new FastSocketServer({ url });
      teardown.add(() => server.close());
      const listening = server.listen();
      listening.catch(() => undefined);
      await server.close();
      const next = new FastSocketServer({ url });
      teardown.add(() => next.close());
      assert.equal(await next.listen(), url);
      await assert.rejects(listening, (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_CLOSED');
    });

    it('binds when called again after it failed on a port that has been freed since', async () => {
      const { server: first, url } = await startServer(teardown, 'tcp');
      const second = new FastSocketServer({ url });
      teardown.add(() => second.close());
      await assert.rejects(second.listen(), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_CONNECT');
      await first.close();
      assert.equal(await second.listen(), url);
    });

    it('rejects with FS_ERR_CONNECT when the port is taken', async () => {
      const { url } = await startServer(teardown, 'tcp');
      const second = new FastSocketServer({ url });
      teardown.add(() => second.close());
      await assert.rejects(second.listen(), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_CONNECT');
    });

    it('rejects with FS_ERR_CLOSED after close()', async () => {
      const server = new FastSocketServer({ url: 'tcp://127.0.0.1:0' });
      await server.close();
      await assert.rejects(server.listen(), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_CLOSED');
    });
  });

  describe('message 1', () => {
    it('acks at once and hands the payload over on arrival, before any ack 3', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      const handed = waitForEvent<[MessageEvent]>(server, 'message');
      peer.sendFrame(message1('m-1', { v: 1 }));
      const [m] = await handed;
      assert.deepEqual({ id: m.id, payload: m.payload, resent: m.resent, client_id: m.client_id }, { id: 'm-1', payload: { v: 1 }, resent: false, client_id: null });
      assert.deepEqual(await peer.waitForFrame(isAck2('m-1'), 'ack 2'), { id: 'm-1', type: 'ack' });
      assert.equal(server.stats().latencies, 0);
    });

    it('hands over falsy payloads (0, "", {}, [], false, null), which the original drops', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const peer = await startRawPeer(teardown, url);
      const payloads = [0, '', {}, [], false, null];
      payloads.forEach((p, i) => peer.sendFrame(message1(`f-${i}`, p)));
      await peer.waitForFrame(isAck2(`f-${payloads.length - 1}`), 'the last ack 2');
      assert.deepEqual(messages.map((m) => m.payload), payloads);
    });

    it('acks a repeated id again but hands it over once, and counts the duplicate', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('dup', 'first'));
      peer.sendFrame(message1('dup', 'second', { resent: true }));
      peer.sendFrame(message1('after', 'x'));
      await peer.waitForFrame(isAck2('after'));
      assert.equal(peer.frames.filter((f) => (f as { id?: string }).id === 'dup').length, 2, 'both copies acked');
      assert.deepEqual(messages.map((m) => m.payload), ['first', 'x']);
      assert.equal(server.stats().duplicates, 1);
    });

    it('marks the record of a repeated id resent even when the client did not flag it, keeping it out of the statistics (§3, §4)', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      for (let copy = 0; copy < 2; copy++) {
        peer.sendFrame(message1('again', 'same'));
        await waitUntil(() => peer.frames.filter((f) => isAck2('again')(f as Record<string, unknown>)).length === copy + 1, `ack 2 of copy ${copy + 1}`);
        peer.sendFrame(ack3('again', 5_000));
        await waitUntil(() => latencies.length === copy + 1, `the record of copy ${copy + 1}`);
      }
      assert.deepEqual(latencies.map((l) => l.resent), [false, true]);
      assert.equal(server.stats().duplicates, 1);
    });

    it('ignores an ack 3 read before its ack 2 was written (no negative T2), and measures the ack 3 that answers ack 2', async () => {
      const logger = capturingLogger();
      const { server, url } = await startServer(teardown, 'tcp', { logger });
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      // A peer that does not wait for ack 2: message 1 and its ack 3 in one chunk.
      peer.sendBytes(`${message1('eager', 1)}\n${ack3('eager', 7)}\n`);
      await peer.waitForFrame(isAck2('eager'));
      await waitUntil(() => server.stats().ack3_unknown === 1, 'the early ack 3 counted');
      peer.sendFrame(ack3('eager', 9_000));
      await waitUntil(() => latencies.length === 1, 'the record of the ack 3 that answers ack 2');
      assert.equal(latencies[0].t1_ns, 9_000);
      assert.ok(latencies[0].t2_ns > 0, `t2_ns ${latencies[0].t2_ns}`);
      assert.equal(logger.lines.filter((l) => /^warn ignoring an ack 3 of eager .* read before its ack 2 was written/.test(l)).length, 1);
    });

    it('recognises a resend on another connection as a duplicate', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const a = await startRawPeer(teardown, url);
      a.sendFrame(message1('same', 1));
      await a.waitForFrame(isAck2('same'));
      a.destroy();
      const b = await startRawPeer(teardown, url);
      b.sendFrame(message1('same', 1, { resent: true }));
      await b.waitForFrame(isAck2('same'));
      assert.equal(messages.length, 1);
      assert.equal(server.stats().duplicates, 1);
    });

    it('hands a resend it has never seen over marked resent and possible_duplicate', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      const handed = waitForEvent<[MessageEvent]>(server, 'message');
      peer.sendFrame(message1('r-1', 'p', { resent: true }));
      const [m] = await handed;
      assert.equal(m.resent, true);
      assert.equal(m.possible_duplicate, true);
      assert.equal(server.stats().resent, 1);
    });

    it('keeps serving a connection whose message listener throws', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { logger: capturingLogger() });
      server.on('message', () => {
        throw new Error('application bug');
      });
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('t-1', 1));
      peer.sendFrame(message1('t-2', 2));
      await peer.waitForFrame(isAck2('t-2'));
      assert.equal(peer.isClosed, false);
    });
  });

  describe('ack 3', () => {
    it('emits a latency record computed from its monotonic clock and the T1 it was sent', async () => {
      const mc = manualClock();
      const { server, url } = await startServer(teardown, 'tcp', { clock: mc.clock });
      const peer = await startRawPeer(teardown, url);
      mc.now = 5_000_000;
      peer.sendFrame(message1('l-1', 'x'));
      await peer.waitForFrame(isAck2('l-1'));
      mc.now = 5_000_000 + 3_000; // T2 = 3000 ns after ack 2 was written
      const recorded = waitForEvent<[LatencyRecord]>(server, 'latency');
      peer.sendFrame(ack3('l-1', 4_000, { pc_ns: 100 }));
      const [r] = await recorded;
      assert.deepEqual(
        { id: r.id, t1: r.t1_ns, t2: r.t2_ns, latency: r.latency_ns, ps: r.ps_ns, pc: r.pc_ns, corrected: r.latency_corrected_ns, resent: r.resent, client_id: r.client_id },
        { id: 'l-1', t1: 4_000, t2: 3_000, latency: 2_500, ps: 0, pc: 100, corrected: 2_000, resent: false, client_id: null },
      );
      assert.equal(r.peer, `127.0.0.1:${peer.stream.localPort}`);
    });

    it('reports the clock-synced uplink from message 1 alone, and the offset only when ack 3 brings the client\'s receive time', async () => {
      const mc = manualClock();
      const wall = 1_000_000_000_000_000; // below 2^53, so the arithmetic below is exact
      const { server, url } = await startServer(teardown, 'tcp', { clock: mc.clock, wallClock: () => wall });
      const peer = await startRawPeer(teardown, url);
      const latencies = collect<LatencyRecord>(server, 'latency');
      // Both server clocks stand still, so message 1 is read at `wall` and its ack 2 leaves then: 7 ms after the client
      // says it sent message 1, 3 ms before the client says it read ack 2.
      peer.sendFrame(message1('w-1', 'x', { client_send_wall_ns: wall - 7_000_000 }));
      await peer.waitForFrame(isAck2('w-1'));
      peer.sendFrame(ack3('w-1', 4_000));
      peer.sendFrame(message1('w-2', 'x', { client_send_wall_ns: wall - 7_000_000 }));
      await peer.waitForFrame(isAck2('w-2'));
      peer.sendFrame(ack3('w-2', 4_000, { client_recv_wall_ns: wall - 3_000_000 }));
      await waitUntil(() => latencies.length === 2, 'both records');
      const [r1, r2] = latencies;
      assert.equal(r1.uplink_wall_ns, 7_000_000, 'an ack 3 without client_recv_wall_ns leaves the uplink');
      assert.equal(r1.offset_ns, null);
      assert.equal(r1.sync_ok, null);
      assert.equal(r2.uplink_wall_ns, 7_000_000);
      assert.equal(r2.offset_ns, (7_000_000 + 3_000_000) / 2);
      assert.equal(typeof r2.sync_ok, 'boolean');
    });

    it('completes an ack 3 after the message 1 that shares its read has been handed over and acked', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('d-1', 1));
      await peer.waitForFrame(isAck2('d-1'));
      const order: string[] = [];
      server.on('message', (m) => order.push(`message ${m.id}`));
      server.on('latency', (r) => order.push(`latency ${r.id}`));
      const recorded = waitForEvent<[LatencyRecord]>(server, 'latency');
      // One chunk, as a one-in-flight client writes it: the ack 3 of the last exchange, then the next message 1.
      peer.sendBytes(`${ack3('d-1', 4_000)}\n${message1('d-2', 2)}\n`);
      await peer.waitForFrame(isAck2('d-2'));
      const [r] = await recorded;
      assert.equal(r.id, 'd-1');
      assert.deepEqual(order, ['message d-2', 'latency d-1']);
    });

    it('completes an ack 3 before a resend of the same id that shares its read', async () => {
      const mc = manualClock();
      const { server, url } = await startServer(teardown, 'tcp', { clock: mc.clock });
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('r-1', 1));
      await peer.waitForFrame(isAck2('r-1'));
      mc.now += 3_000;
      peer.sendBytes(`${ack3('r-1', 4_000)}\n${message1('r-1', 1, { resent: true })}\n`);
      await waitUntil(() => latencies.length === 1 && peer.frames.filter((f) => isAck2('r-1')(f as Record<string, unknown>)).length === 2, 'the record and the second ack 2');
      mc.now += 5_000;
      peer.sendFrame(ack3('r-1', 8_000));
      await waitUntil(() => latencies.length === 2, 'the resend\'s record');
      assert.deepEqual(latencies.map((l) => [l.t2_ns, l.resent]), [[3_000, false], [5_000, true]]);
      assert.equal(server.stats().duplicates, 1);
      assert.equal(server.stats().ack3_unknown, 0);
    });

    it('ignores an ack 3 read before the message 1 of its id that shares its read, and measures the ack 3 that follows', async () => {
      const mc = manualClock();
      const { server, url } = await startServer(teardown, 'tcp', { clock: mc.clock });
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      // A stale ack 3 (its id unknown on this connection when read), then that id's message 1, in one chunk.
      peer.sendBytes(`${ack3('e-1', 1)}\n${message1('e-1', 1)}\n`);
      await peer.waitForFrame(isAck2('e-1'));
      mc.now += 3_000;
      peer.sendFrame(ack3('e-1', 8_000));
      await waitUntil(() => latencies.length === 1, 'the record of the real ack 3');
      assert.deepEqual(latencies.map((l) => [l.t1_ns, l.t2_ns]), [[8_000, 3_000]]);
      assert.equal(server.stats().ack3_unknown, 1);
    });

    it('ignores and counts an ack 3 for an unknown id, and for an id already completed', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(ack3('never-sent', 10));
      peer.sendFrame(message1('k', 1));
      await peer.waitForFrame(isAck2('k'));
      peer.sendFrame(ack3('k', 10));
      peer.sendFrame(ack3('k', 10));
      peer.sendFrame(message1('k2', 1));
      await peer.waitForFrame(isAck2('k2'));
      assert.equal(latencies.length, 1);
      assert.equal(server.stats().ack3_unknown, 2);
      assert.equal(server.stats().bad_frames, 0);
      assert.equal(peer.isClosed, false);
    });

    it('drops a pending record after ack3_timeout_ms and counts it as expired', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { ack3TimeoutMs: 50 });
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('e-1', 1));
      await peer.waitForFrame(isAck2('e-1'));
      await waitUntil(() => server.stats().ack3_expired === 1, 'the pending record to expire');
      peer.sendFrame(ack3('e-1', 10));
      await waitUntil(() => server.stats().ack3_unknown === 1, 'the late ack 3 to count as unknown');
      assert.equal(server.stats().latencies, 0);
    });

    it('keeps a pending record for ack3_timeout_ms after its ack 2 and drops it at the next sweep after that (fake clock)', async () => {
      const fake = fakeClock();
      const { server, url } = await startServer(teardown, 'tcp', { ack3TimeoutMs: 10_000, timers: fake.timers, clock: fake.clock });
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('slow-1', 1));
      await peer.waitForFrame(isAck2('slow-1'));
      // The sweeper runs every quarter of the shortest timeout, at most every second: 1 s here.
      fake.tick(10_000);
      assert.equal(server.stats().ack3_expired, 0, 'at 10 s the record is exactly ack3_timeout_ms old: still pending');
      fake.tick(1_000);
      assert.equal(server.stats().ack3_expired, 1, 'at 11 s it is older: dropped');
      peer.sendFrame(ack3('slow-1', 10));
      await waitUntil(() => server.stats().ack3_unknown === 1, 'the late ack 3 to count as unknown');
      assert.equal(server.stats().latencies, 0);
    });

    it('counts as expired the pending records of a peer that disconnects before their acks 3', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      for (const id of ['g-1', 'g-2', 'g-3']) peer.sendFrame(message1(id, 1));
      await peer.waitForFrame(isAck2('g-3'));
      peer.sendFrame(ack3('g-1', 10));
      await waitUntil(() => server.stats().latencies === 1, 'the one record completed');
      const gone = waitForEvent(server, 'disconnect');
      peer.destroy();
      await gone;
      assert.equal(server.stats().ack3_expired, 2);
    });

    it('tells an ack 3 that comes after its record expired from an unknown one, and warns once per connection', async () => {
      const logger = capturingLogger();
      const { server, url } = await startServer(teardown, 'tcp', { ack3TimeoutMs: 50, logger });
      const peer = await startRawPeer(teardown, url);
      for (const id of ['late-1', 'late-2']) peer.sendFrame(message1(id, 1));
      await peer.waitForFrame(isAck2('late-2'));
      await waitUntil(() => server.stats().ack3_expired === 2, 'both pending records to expire');
      peer.sendFrame(ack3('late-1', 10));
      peer.sendFrame(ack3('late-2', 10));
      peer.sendFrame(ack3('never-sent', 10));
      await waitUntil(() => server.stats().ack3_unknown === 3, 'the three acks 3 to be counted');
      assert.equal(server.stats().ack3_late, 2);
      assert.equal(server.stats().latencies, 0);
      const warnings = logger.lines.filter((l) => l.startsWith('warn') && l.includes('ack3_timeout_ms'));
      assert.equal(warnings.length, 1, logger.lines.join('\n'));
      assert.match(warnings[0], /ack 3 of late-1 .* came \d+ ms after its ack 2, later than ack3_timeout_ms \(50 ms\)/);
    });

    it('keeps at most max_pending_ack3 records per connection, dropping the oldest', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { maxPendingAck3: 2 });
      const peer = await startRawPeer(teardown, url);
      for (const id of ['p1', 'p2', 'p3']) peer.sendFrame(message1(id, 1));
      await peer.waitForFrame(isAck2('p3'));
      const latencies = collect<LatencyRecord>(server, 'latency');
      for (const id of ['p1', 'p2', 'p3']) peer.sendFrame(ack3(id, 10));
      peer.sendFrame(message1('p4', 1));
      await peer.waitForFrame(isAck2('p4'));
      assert.deepEqual(latencies.map((r) => r.id), ['p2', 'p3']);
      assert.equal(server.stats().ack3_unknown, 1);
    });

    it('holds on to no completed record: its queue keeps the pending ones only, not the last thousand exchanges', async () => {
      // A record kept alive after its exchange lives through the young-generation collections that come in between
      // and is copied into the old one: garbage that slows every collection (docs/benchmarks.md, "the tail").
      const { server, url } = await startServer(teardown, 'tcp');
      const client = await startClient(teardown, url);
      const latencies = collect<LatencyRecord>(server, 'latency');
      for (let i = 0; i < 1500; i++) await client.send(i);
      await waitUntil(() => latencies.length === 1500, () => `${latencies.length} of 1500 latency records`);
      const [peer] = (server as unknown as { peers: Set<{ order: unknown[]; pending: Map<string, unknown> }> }).peers;
      const held = peer.order.filter((entry) => entry !== undefined).length;
      assert.equal(peer.pending.size, 0);
      assert.equal(held, 0, `the queue still refers to ${held} records of completed exchanges`);
    });
  });

  describe('hello', () => {
    it('answers a hello and tags messages and latency records with its client_id', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      const hello = waitForEvent<[PeerInfo]>(server, 'hello');
      peer.sendFrame({ type: 'hello', protocol: 1, client_id: 'veh-17' });
      assert.equal((await peer.waitForFrame((f) => f.type === 'hello', 'the hello answer')).protocol, 1);
      assert.equal((await hello)[0].client_id, 'veh-17');
      const handed = waitForEvent<[MessageEvent]>(server, 'message');
      peer.sendFrame(message1('h-1', 1));
      assert.equal((await handed)[0].client_id, 'veh-17');
      const recorded = waitForEvent<[LatencyRecord]>(server, 'latency');
      peer.sendFrame(ack3('h-1', 1000));
      assert.equal((await recorded)[0].client_id, 'veh-17');
    });

    it('gives its limits and instance in the answer to a connection\'s first hello only; later hellos get the bare answer, as long as theirs', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { maxFrameBytes: 65536 });
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame({ type: 'hello', protocol: 1, client_id: 'veh-17' });
      peer.sendFrame({ type: 'hello', protocol: 1 });
      const answers = () => peer.frames.filter((f) => (f as { type?: string }).type === 'hello');
      await waitUntil(() => answers().length === 2, 'two hello answers');
      assert.deepEqual(answers(), [
        { type: 'hello', protocol: 1, max_frame_bytes: 65536, server_instance: server.instance },
        { type: 'hello', protocol: 1 },
      ]);
    });

    it('takes a null token as no token, as a Python peer writes an unset one (json.dumps(None)), and keeps its client_id', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame({ type: 'hello', protocol: 1, client_id: 'veh-py', token: null });
      assert.equal((await peer.waitForFrame((f) => f.type === 'hello', 'the hello answer')).protocol, 1);
      const handed = waitForEvent<[MessageEvent]>(server, 'message');
      peer.sendFrame(message1('py-1', 1));
      assert.equal((await handed)[0].client_id, 'veh-py');
      assert.equal(server.stats().bad_frames, 0);
    });

    it('serves a peer that never sends hello, as the original client does not', async () => {
      const { url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('n-1', 1));
      await peer.waitForFrame(isAck2('n-1'));
    });
  });

  describe('token', () => {
    const TOKEN = 's3cret-token-value';

    async function attacker(url: string): Promise<RawPeer> {
      const peer = await RawPeer.connect(url, { ca: await caFor(url) });
      teardown.add(() => peer.destroy());
      return peer;
    }

    for (const scheme of ['tcp', 'ws'] as const) {
      describe(`${scheme}://`, () => {
        it('serves a client that presents the token', async () => {
          const { server, url } = await startServer(teardown, scheme, { token: TOKEN });
          const messages = collect<MessageEvent>(server, 'message');
          const client = await startClient(teardown, url, { token: TOKEN, clientId: 'veh-1' });
          await client.send('authorised');
          assert.deepEqual(messages.map((m) => [m.payload, m.client_id]), [['authorised', 'veh-1']]);
          assert.equal(server.stats().auth_failures, 0);
        });

        it('closes a peer whose first frame is not a hello, before any of its messages reaches the application', async () => {
          const { server, url } = await startServer(teardown, scheme, { token: TOKEN });
          const messages = collect<MessageEvent>(server, 'message');
          const peer = await attacker(url);
          peer.sendFrame(message1('sneak-1', 'no hello'));
          peer.sendFrame(message1('sneak-2', 'no hello'));
          const closed = await peer.waitClosed();
          if (scheme === 'ws') assert.equal(closed.code, 1008);
          assert.deepEqual(messages, []);
          assert.equal(peer.frames.length, 0, 'not even an ack');
          assert.equal(server.stats().auth_failures, 1);
        });

        it('closes a peer whose hello has a null token', async () => {
          const { server, url } = await startServer(teardown, scheme, { token: TOKEN });
          const messages = collect<MessageEvent>(server, 'message');
          const peer = await attacker(url);
          peer.sendFrame({ type: 'hello', protocol: 1, client_id: 'veh-py', token: null });
          peer.sendFrame(message1('sneak', 1));
          const closed = await peer.waitClosed();
          if (scheme === 'ws') assert.equal(closed.code, 1008);
          assert.deepEqual(messages, []);
          assert.equal(server.stats().auth_failures, 1);
        });

        it('closes a peer with a wrong token, and never logs either token', async () => {
          const logger = capturingLogger();
          const { server, url } = await startServer(teardown, scheme, { token: TOKEN, logger });
          const messages = collect<MessageEvent>(server, 'message');
          const peer = await attacker(url);
          peer.sendFrame({ type: 'hello', protocol: 1, token: 'wrong-guess-123' });
          peer.sendFrame(message1('sneak', 1));
          await peer.waitClosed();
          assert.deepEqual(messages, []);
          assert.equal(server.stats().auth_failures, 1);
          const logged = logger.lines.join('\n');
          assert.ok(!logged.includes(TOKEN) && !logged.includes('wrong-guess-123'), logged);
        });
      });
    }

    it('accepts a ws client that authenticates with an Authorization: Bearer header and sends no hello', async () => {
      const { server, url } = await startServer(teardown, 'ws', { token: TOKEN });
      const messages = collect<MessageEvent>(server, 'message');
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      teardown.add(() => ws.terminate());
      await waitForEvent(ws, 'open');
      ws.send(message1('bearer-1', 'via header'));
      await waitUntil(() => messages.length === 1, 'the message to be handed over');
      assert.equal(messages[0]!.payload, 'via header');
    });

    it('refuses every connection from an address after repeated authentication failures', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { token: TOKEN });
      for (let i = 0; i < 5; i++) {
        const peer = await attacker(url);
        peer.sendFrame({ type: 'hello', protocol: 1, token: `guess-${i}` });
        await peer.waitClosed();
      }
      const next = await attacker(url);
      next.sendFrame({ type: 'hello', protocol: 1, token: TOKEN });
      await next.waitClosed('the blocked address to be refused');
      assert.equal(next.frames.length, 0, 'no hello answer for a blocked address, even with the right token');
      assert.ok(server.stats().connections_refused >= 1);
    });
  });

  describe('events', () => {
    it('emits connection and disconnect with the peer address and client_id', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const connected = waitForEvent<[PeerInfo]>(server, 'connection');
      const peer = await startRawPeer(teardown, url);
      const peerAddr = `127.0.0.1:${peer.stream.localPort}`;
      assert.equal((await connected)[0].peer, peerAddr);
      peer.sendFrame({ type: 'hello', protocol: 1, client_id: 'c-9' });
      await peer.waitForFrame((f) => f.type === 'hello');
      const gone = waitForEvent<[PeerInfo]>(server, 'disconnect');
      peer.destroy();
      assert.deepEqual((await gone)[0], { peer: peerAddr, client_id: 'c-9' });
      await waitUntil(() => server.stats().connections === 0, 'the connection count to drop');
    });
  });

  describe('#close', () => {
    it('closes every connection, stops listening and resolves again when called twice', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('c-1', 1));
      await peer.waitForFrame(isAck2('c-1'));
      await server.close();
      await server.close();
      await peer.waitClosed();
      await assert.rejects(RawPeer.connect(url), 'nothing listens any more');
    });

    for (const scheme of ['tcp', 'ws'] as const) {
      it(`${scheme}://: resolves only after every connection has emitted disconnect`, async () => {
        const { server, url } = await startServer(teardown, scheme);
        const gone: PeerInfo[] = [];
        server.on('disconnect', (info) => gone.push(info));
        const peers = [await RawPeer.connect(url), await RawPeer.connect(url, { noRead: true })];
        for (const p of peers) teardown.add(() => p.destroy());
        await waitUntil(() => server.stats().connections === 2, 'the server to see both connections');
        await server.close();
        assert.equal(gone.length, 2, 'both disconnects emitted before close() resolved');
        assert.equal(server.stats().connections, 0);
      });
    }

    for (const scheme of ['tcp', 'ws'] as const) {
      it(`${scheme}://: keeps the latency record of a message whose ack 3 was on its way when close() was called`, async () => {
        const { server, url } = await startServer(teardown, scheme);
        const latencies = collect<LatencyRecord>(server, 'latency');
        const client = await startClient(teardown, url);
        await client.send('last');
        await server.close();
        assert.equal(latencies.length, 1);
        assert.equal(server.stats().ack3_expired, 0);
      });
    }

    it('reads only acks 3 while records are pending after close(): a message then is neither acked nor handed over', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('d-1', 1));
      await peer.waitForFrame(isAck2('d-1'));
      const closed = server.close();
      peer.sendFrame(message1('d-2', 2));
      peer.sendFrame(ack3('d-1', 1000));
      await closed;
      await peer.waitClosed();
      assert.deepEqual(messages.map((m) => m.id), ['d-1']);
      assert.deepEqual(latencies.map((r) => r.id), ['d-1']);
      assert.ok(!peer.frames.some((f) => isAck2('d-2')(f as Record<string, unknown>)), 'no ack 2 for the message sent after close()');
    });

    it('closes even when a peer keeps its side open and never reads', async () => {
      const { server, url } = await startServer(teardown, 'ws');
      const peer = await RawPeer.connect(url, { noRead: true });
      teardown.add(() => peer.destroy());
      await waitUntil(() => server.stats().connections === 1, 'the server to see the connection');
      await withDeadline(server.close(), 'close() to resolve', 3_000);
      // The paused peer would not notice the close; the server's own count says its side is gone.
      await waitUntil(() => server.stats().connections === 0, 'the server to drop the connection');
    });
  });

  describe('#destroy', () => {
    it('cuts every connection at once, counting pending records as expired instead of waiting for their acks 3, and resolves again when called twice', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('x-1', 1));
      await peer.waitForFrame(isAck2('x-1'));
      const destroyed = server.destroy();
      peer.sendFrame(ack3('x-1', 1000));
      await destroyed;
      await server.destroy();
      await peer.waitClosed();
      assert.deepEqual(latencies, []);
      assert.equal(server.stats().ack3_expired, 1);
      assert.equal(server.stats().connections, 0);
      await assert.rejects(RawPeer.connect(url), 'nothing listens any more');
    });

    it('cuts short a close() that waits for a peer\'s acks 3', async () => {
      const { server, url } = await startServer(teardown, 'ws');
      const latencies = collect<LatencyRecord>(server, 'latency');
      const peer = await startRawPeer(teardown, url);
      peer.sendFrame(message1('y-1', 1));
      await peer.waitForFrame(isAck2('y-1'));
      const closing = server.close();
      const destroyed = server.destroy();
      peer.sendFrame(ack3('y-1', 1000));
      await Promise.all([closing, destroyed]);
      assert.deepEqual(latencies, [], 'the ack 3 sent after destroy() is not read');
      assert.equal(server.stats().ack3_expired, 1);
    });
  });

  describe('stateDir', () => {
    it('does not hand over again an id handed over before a restart', async () => {
      const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-state-'));
      teardown.add(() => fs.rmSync(stateDir, { recursive: true, force: true }));
      const first = await startServer(teardown, 'tcp', { stateDir });
      const peer = await startRawPeer(teardown, first.url);
      peer.sendFrame(message1('s-1', 'once'));
      await peer.waitForFrame(isAck2('s-1'));
      await first.server.close();

      const second = await startServer(teardown, 'tcp', { stateDir });
      const messages = collect<MessageEvent>(second.server, 'message');
      const again = await startRawPeer(teardown, second.url);
      again.sendFrame(message1('s-1', 'once', { resent: true }));
      again.sendFrame(message1('s-2', 'new'));
      await again.waitForFrame(isAck2('s-2'));
      assert.ok(again.frames.some((f) => isAck2('s-1')(f as Record<string, unknown>)), 'the resend is acked');
      assert.deepEqual(messages.map((m) => m.id), ['s-2']);
      assert.equal(second.server.stats().duplicates, 1);
    });
  });

  describe('logger', () => {
    it('logs a rejected frame with the peer address and never writes to the console', async () => {
      const logger = capturingLogger();
      const { url } = await startServer(teardown, 'tcp', { logger });
      const written: string[] = [];
      const originals = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };
      for (const k of Object.keys(originals) as Array<keyof typeof originals>) console[k] = (...a: unknown[]) => void written.push(a.join(' '));
      try {
        const peer = await startRawPeer(teardown, url);
        peer.sendFrame('not json');
        peer.sendFrame(message1('g-1', 1));
        await peer.waitForFrame(isAck2('g-1'));
        assert.ok(logger.lines.some((l) => l.startsWith('warn') && l.includes(`127.0.0.1:${peer.stream.localPort}`)), logger.lines.join('\n'));
      } finally {
        Object.assign(console, originals);
      }
      assert.deepEqual(written, []);
    });
  });
});
