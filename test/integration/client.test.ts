import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { WebSocket, WebSocketServer } from 'ws';
import { DroppedError, FastSocketClient, FastSocketError, FastSocketServer, MAX_JSON_DEPTH, messageFrameBytes, OptionError, type FastSocketErrorCode, type MessageEvent, type SendResult } from '../../src/fastsocket';
import { MAX_TIMER_MS } from '../../src/fastsocket/options';
import { fakeClock } from '../support/fake-clock';
import { capturingLogger, startClient, startServer, unreachableUrl } from '../support/fixtures';
import { isMessage, RawServer } from '../support/raw-server';
import { useTeardown } from '../support/teardown';
import { collect, waitForEvent, waitUntil, withDeadline } from '../support/wait';

/** Settles every promise and reports, in order, either the result or the error code. */
async function outcomes(sends: Promise<SendResult>[]): Promise<Array<SendResult | FastSocketErrorCode>> {
  const settled = await Promise.allSettled(sends);
  return settled.map((s) => {
    if (s.status === 'fulfilled') return s.value;
    assert.ok(s.reason instanceof FastSocketError, `rejected with ${String(s.reason)}`);
    return s.reason.code;
  });
}

/** V8's gc(), for tests that measure what is retained. */
function exposedGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const codes = (xs: Array<SendResult | FastSocketErrorCode>): Array<string> => xs.map((x) => (typeof x === 'string' ? x : 'ok'));

/** Reconnects after 20 ms, without jitter: tests that watch reconnects need not wait for the 100 ms default. */
const BRISK_RECONNECT = { reconnectMinMs: 20, reconnectMaxMs: 20, reconnectJitter: 0 };

describe('FastSocketClient', () => {
  const teardown = useTeardown();

  describe('#send with the server not reachable (outbox policies)', () => {
    it('drop-oldest: rejects the oldest messages with FS_ERR_DROPPED, keeps the newest and counts every drop', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { outboxMaxMessages: 3, outboxPolicy: 'drop-oldest' });
      const drops = collect<{ id: string; reason: string }>(client, 'drop');
      const sends = [0, 1, 2, 3, 4].map((i) => client.send({ i }));
      const first = await outcomes(sends.slice(0, 2));
      assert.deepEqual(first, ['FS_ERR_DROPPED', 'FS_ERR_DROPPED']);
      const reasons = await Promise.allSettled(sends.slice(0, 2)).then((s) => s.map((r) => ((r as PromiseRejectedResult).reason as DroppedError).reason));
      assert.deepEqual(reasons, ['outbox_full', 'outbox_full']);
      // Reported as drop-newest's drops are: the outbox was full.
      assert.deepEqual(drops.map((d) => d.reason), ['FS_ERR_OUTBOX_FULL', 'FS_ERR_OUTBOX_FULL']);
      assert.deepEqual(
        { dropped: client.stats().dropped, outbox: client.stats().outbox_messages, connected: client.stats().connected },
        { dropped: 2, outbox: 3, connected: false },
      );

      // The kept messages are delivered, oldest first, once a server appears at the address.
      const server = new FastSocketServer({ url });
      teardown.add(() => server.close());
      const messages = collect<MessageEvent>(server, 'message');
      await server.listen();
      const rest = await outcomes(sends.slice(2));
      assert.deepEqual(codes(rest), ['ok', 'ok', 'ok']);
      assert.deepEqual(messages.map((m) => m.payload), [{ i: 2 }, { i: 3 }, { i: 4 }]);
    });

    it('drop-newest: rejects the new message with FS_ERR_DROPPED and keeps the queued ones', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { outboxMaxMessages: 3, outboxPolicy: 'drop-newest' });
      const drops = collect<{ id: string; reason: string }>(client, 'drop');
      const sends = [0, 1, 2, 3, 4].map((i) => client.send({ i }));
      assert.deepEqual(await outcomes(sends.slice(3)), ['FS_ERR_DROPPED', 'FS_ERR_DROPPED']);
      assert.equal(drops.length, 2);
      assert.deepEqual({ dropped: client.stats().dropped, outbox: client.stats().outbox_messages }, { dropped: 2, outbox: 3 });

      const server = new FastSocketServer({ url });
      teardown.add(() => server.close());
      const messages = collect<MessageEvent>(server, 'message');
      await server.listen();
      assert.deepEqual(codes(await outcomes(sends.slice(0, 3))), ['ok', 'ok', 'ok']);
      assert.deepEqual(messages.map((m) => m.payload), [{ i: 0 }, { i: 1 }, { i: 2 }]);
    });

    it('reject: refuses the new message with FS_ERR_OUTBOX_FULL, counts it as rejected, drops nothing', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { outboxMaxMessages: 3, outboxPolicy: 'reject' });
      const drops = collect<unknown>(client, 'drop');
      const sends = [0, 1, 2, 3, 4].map((i) => client.send({ i }));
      assert.deepEqual(await outcomes(sends.slice(3)), ['FS_ERR_OUTBOX_FULL', 'FS_ERR_OUTBOX_FULL']);
      assert.deepEqual(
        { rejected: client.stats().rejected, dropped: client.stats().dropped, outbox: client.stats().outbox_messages },
        { rejected: 2, dropped: 0, outbox: 3 },
      );
      assert.equal(drops.length, 0);
    });

    it('bounds the outbox by bytes as well as by messages', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { outboxMaxBytes: 350, outboxPolicy: 'reject' });
      const payload = 'x'.repeat(98); // 100 bytes as JSON
      const sends = [0, 1, 2, 3].map(() => client.send(payload));
      assert.deepEqual(await outcomes(sends.slice(3)), ['FS_ERR_OUTBOX_FULL']);
      assert.deepEqual({ messages: client.stats().outbox_messages, bytes: client.stats().outbox_bytes }, { messages: 3, bytes: 300 });
    });

    it('says which bound of the outbox is full, messages or bytes, naming its option', async () => {
      const url = await unreachableUrl('tcp');
      const byBytes = await startClient(teardown, url, { outboxMaxBytes: 350, outboxPolicy: 'reject' });
      const byCount = await startClient(teardown, url, { outboxMaxMessages: 2, outboxPolicy: 'drop-newest' });
      const refusal = (send: Promise<unknown>): Promise<string> => send.then(() => 'sent', (e: Error) => e.message);
      for (let i = 0; i < 3; i++) byBytes.send('x'.repeat(98)).catch(() => undefined); // 100 bytes each as JSON
      for (let i = 0; i < 2; i++) byCount.send(i).catch(() => undefined);
      assert.match(await refusal(byBytes.send('x'.repeat(98))), /outbox full: outbox_max_bytes \(350\) reached$/);
      assert.match(await refusal(byCount.send(2)), /outbox full: outbox_max_messages \(2\) reached \(policy drop-newest\)/);
    });

    it('drop-oldest frees enough bytes for a large new message by dropping several old ones', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { outboxMaxBytes: 350, outboxPolicy: 'drop-oldest' });
      const small = [0, 1, 2].map(() => client.send('x'.repeat(98)));
      const big = client.send('y'.repeat(248)); // 250 bytes: two of the small ones must go
      assert.deepEqual(await outcomes(small.slice(0, 2)), ['FS_ERR_DROPPED', 'FS_ERR_DROPPED']);
      assert.deepEqual({ messages: client.stats().outbox_messages, bytes: client.stats().outbox_bytes }, { messages: 2, bytes: 350 });
      void big.catch(() => undefined);
      void small[2]!.catch(() => undefined);
    });

    it('rejects a payload larger than the whole outbox, or not JSON-serialisable, with FS_ERR_PAYLOAD', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { outboxMaxBytes: 100 });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      assert.deepEqual(await outcomes([client.send('z'.repeat(200)), client.send(cyclic), client.send(() => 1)]), [
        'FS_ERR_PAYLOAD',
        'FS_ERR_PAYLOAD',
        'FS_ERR_PAYLOAD',
      ]);
      assert.equal(client.stats().outbox_messages, 0);
    });

    it('rejects a payload nested deeper than receivers accept with FS_ERR_PAYLOAD naming the limit, and queues one at it', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url);
      const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : [nested(depth - 1)]);
      const err = await client.send(nested(MAX_JSON_DEPTH)).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof FastSocketError && err.code === 'FS_ERR_PAYLOAD', String(err));
      assert.match(err.message, /deeper than 999 levels \(1000 with its message frame\)/);
      assert.equal(client.stats().outbox_messages, 0);
      client.send(nested(MAX_JSON_DEPTH - 1)).catch(() => undefined);
      assert.equal(client.stats().outbox_messages, 1, 'a payload whose frame is 1000 levels deep is queued');
    });

    it('rejects a payload whose message frame would exceed its max_frame_bytes, naming both sizes', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { maxFrameBytes: 1000 });
      // 952 bytes of payload: under max_frame_bytes, but not once the message 1 envelope is around it.
      const err = await client.send('y'.repeat(950)).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof FastSocketError && err.code === 'FS_ERR_PAYLOAD', String(err));
      assert.match(err.message, /payload of 952 bytes is up to \d+ as a message frame: more than max_frame_bytes \(1000\)/);
      assert.equal(client.stats().outbox_messages, 0);
      client.send('y'.repeat(800)).catch(() => undefined);
      assert.equal(client.stats().outbox_messages, 1, 'a payload whose frame fits is queued');
    });

    // 20,000 payloads of 10 KB (200 MB) through an outbox of 100 (1 MB); and 1,000 of 100 KB (100 MB) through an
    // outbox of 10 (1 MB): fewer entries than the send queue's compaction waits for (twice the outbox and 1,024), as
    // with a camera's frames among small messages, so only letting each dropped payload go keeps them out.
    for (const [count, kb, outbox, what] of [
      [20_000, 10, 100, 'however many messages it drops'],
      [1000, 100, 10, 'also before its send queue is compacted'],
    ] as const) {
      it(`drop-oldest: holds no more than the outbox bounds in memory ${what}`, async () => {
        const url = await unreachableUrl('tcp');
        const client = await startClient(teardown, url, { outboxMaxMessages: outbox, outboxPolicy: 'drop-oldest' });
        const gc = exposedGc();
        gc();
        const before = process.memoryUsage().heapUsed;
        for (let i = 0; i < count; i++) client.send(`${i} ${'x'.repeat(kb * 1000)}`).catch(() => undefined);
        gc();
        const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
        assert.equal(client.stats().outbox_messages, outbox);
        assert.ok(grownMb < 20, `the heap grew by ${grownMb.toFixed(1)} MB for an outbox of ${outbox} messages of ${kb} KB`);
      });
    }

    it('keeps retrying the connection with backoff, counting the failures', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url);
      client.send(1).catch(() => undefined);
      await waitUntil(() => client.stats().connect_failures >= 3, 'three failed connection attempts');
      assert.equal(client.connected, false);
    });
    it('backs off further each time a server answers the hello and closes, rather than retrying at the minimum for ever', async () => {
      // A server at capacity, or a proxy before one, that answers and hangs up: a valid frame is no sign of a
      // working link, so it must not reset the backoff (it did: 50 connections in 5 s at the 100 ms default).
      const accepted: number[] = [];
      const server = net.createServer((socket) => {
        accepted.push(performance.now());
        socket.on('error', () => undefined);
        socket.once('data', () => socket.end(JSON.stringify({ type: 'hello', protocol: 1 }) + '\n'));
      });
      teardown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      const client = await startClient(teardown, `tcp://127.0.0.1:${port}`, { clientId: 'rsu-1', reconnectMinMs: 20, reconnectMaxMs: 5000, reconnectJitter: 0 });
      client.send(1).catch(() => undefined);
      await waitUntil(() => accepted.length >= 5, 'five connections', 10_000);
      // Waits of 20, 40, 80 and 160 ms between them (a timer never fires early); reset each time, all four were 20 ms.
      const gaps = accepted.slice(1, 5).map((t, i) => t - accepted[i]);
      gaps.forEach((gap, i) => assert.ok(gap >= 20 * 2 ** i - 1, `wait ${i + 1} was ${gap.toFixed(1)} ms, expected >= ${20 * 2 ** i} ms: ${gaps.map((g) => g.toFixed(1)).join(', ')}`));
    });

    it('waits the longest timer Node holds, not 1 ms, when the jitter takes reconnectMaxMs past it', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'), { reconnectMinMs: MAX_TIMER_MS, reconnectMaxMs: MAX_TIMER_MS, reconnectJitter: 0.2, random: () => 0.99 });
      client.send(1).catch(() => undefined);
      await waitUntil(() => client.stats().connect_failures >= 1, 'the first connect to fail');
      // A delay past 2^31 - 1 ms fires after 1 ms: the client redialled every millisecond.
      await assert.rejects(waitUntil(() => client.stats().connect_failures >= 2, 'a second connect', 500), /deadline of 500 ms/);
    });
  });

  describe('reconnect backoff, on a fake clock (PROTOCOL.md §6: 100 ms doubling to 5 s, +-20 % jitter)', () => {
    /**
     * The waits between `attempts` connection attempts that a server refuses at once, read off the fake clock: each
     * refusal leaves exactly one timer armed, the reconnect, and firing it dials again.
     */
    async function backoffWaits(attempts: number, options: Parameters<typeof startClient>[2]): Promise<number[]> {
      const fake = fakeClock();
      // The defaults of §6, not the brisk ones the other tests are started with.
      const client = await startClient(teardown, await unreachableUrl('tcp'), { reconnectMinMs: undefined, reconnectMaxMs: undefined, timers: fake.timers, clock: fake.clock, ...options });
      client.send(1).catch(() => undefined);
      const waits: number[] = [];
      for (let i = 1; i <= attempts; i++) {
        await waitUntil(() => client.stats().connect_failures === i && fake.pending() === 1, `connection attempt ${i} to be refused and a reconnect armed`);
        waits.push(fake.next());
      }
      return waits;
    }

    it('waits 100 ms, doubling each time, up to 5 s, without jitter when random() is 0.5', async () => {
      assert.deepEqual(await backoffWaits(9, { random: () => 0.5 }), [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    });

    it('waits up to 20 % less or more, as random() says', async () => {
      assert.deepEqual(await backoffWaits(7, { random: () => 0 }), [80, 160, 320, 640, 1280, 2560, 4000]);
      assert.deepEqual(await backoffWaits(7, { random: () => 0.999999 }), [120, 240, 480, 960, 1920, 3840, 6000]);
    });

    it('waits exactly the longest timer Node holds when the jitter takes reconnectMaxMs past it', async () => {
      assert.deepEqual(await backoffWaits(2, { reconnectMinMs: MAX_TIMER_MS, reconnectMaxMs: MAX_TIMER_MS, random: () => 0.99 }), [MAX_TIMER_MS, MAX_TIMER_MS]);
    });
  });

  describe('newId', () => {
    it('gives each message the id it returns, on the wire and in the ack', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      let n = 0;
      const client = await startClient(teardown, url, { newId: () => `veh-7/${++n}` });
      const seen = collect<MessageEvent>(server, 'message');
      const acks = await Promise.all([client.send('a'), client.send('b')]);
      assert.deepEqual(acks.map((a) => a.id), ['veh-7/1', 'veh-7/2']);
      assert.deepEqual(seen.map((m) => [m.id, m.payload]), [['veh-7/1', 'a'], ['veh-7/2', 'b']]);
    });

    it('refuses an id that is empty, too long, not a string or already unacknowledged, naming the option, and keeps the others', async () => {
      const ids: unknown[] = ['ok-1', '', 'x'.repeat(129), 42, 'ok-1', 'ok-2'];
      let next = 0;
      const client = await startClient(teardown, await unreachableUrl('tcp'), { newId: () => ids[next++] as string });
      const sends = ids.map((_, i) => client.send(i));
      const settled = await Promise.allSettled(sends.slice(1, 5));
      for (const s of settled) {
        assert.equal(s.status, 'rejected');
        assert.ok(s.reason instanceof TypeError && /option newId/.test(s.reason.message), String(s.reason));
      }
      assert.equal(client.stats().outbox_messages, 2, 'ok-1 and ok-2 wait in the outbox');
    });

    it('rejects the send, naming the option, when it throws (not a throw from send())', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'), {
        newId: () => {
          throw new Error('sequence exhausted');
        },
      });
      let sent: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        sent = client.send(1);
      });
      await assert.rejects(sent!, (e: unknown) => e instanceof OptionError && e.option === 'newId' && /sequence exhausted/.test(e.message));
      assert.equal(client.stats().outbox_messages, 0);
    });

    // Regression test: the write queue keeps a dropped message until it is compacted, and found it in the outbox by
    // its id alone, so a new message that took the id of one dropped before it was written (legal: an id needs to be
    // unique among the unacknowledged only) had the dropped one written under its id first: its payload (once the
    // dropped one's was let go, an empty payload, a frame that is not JSON), then the new one, a duplicate.
    it('writes a new message that reuses the id of a dropped, never written one once, with its own payload', async () => {
      const lines: string[] = [];
      const sockets: net.Socket[] = [];
      const server = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        let partial = '';
        socket.on('data', (chunk: Buffer) => {
          const parts = (partial + chunk.toString('utf8')).split('\n');
          partial = parts.pop()!;
          lines.push(...parts);
        });
      });
      teardown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
      teardown.add(() => sockets.forEach((s) => s.destroy()));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      // On a fake clock the client writes one message on the new connection and waits for the server to answer
      // (its probe never fires), so what is sent next stays queued, unwritten, until the test's server acks it.
      const ids = ['a', 'b', 'c', 'b'];
      const client = await startClient(teardown, `tcp://127.0.0.1:${port}`, { newId: () => ids.shift()!, outboxMaxMessages: 2, timers: fakeClock().timers });
      const first = client.send('first');
      await waitUntil(() => lines.length >= 1, 'the first message');
      const dropped = [client.send('second'), client.send('third')].map((p) => p.then(() => 'ok', (e: FastSocketError) => e.code));
      const fourth = client.send('fourth');
      assert.deepEqual(await Promise.all(dropped), ['FS_ERR_DROPPED', 'FS_ERR_DROPPED']);
      sockets[0]!.write('{"id":"a","type":"ack"}\n');
      await first;
      await waitUntil(() => lines.length >= 2, 'the message after the first');
      sockets[0]!.write('{"id":"b","type":"ack"}\n');
      await withDeadline(fourth, 'the fourth message acknowledged');
      await client.close();
      const messages = lines.map((l) => JSON.parse(l) as { id: string; type: string; payload?: unknown }).filter((f) => f.type === 'message');
      assert.deepEqual(messages.map((m) => [m.id, m.payload]), [['a', 'first'], ['b', 'fourth']]);
    });
  });

  describe('#send with the outbox full while connected (drop-oldest)', () => {
    /** A connected client whose server has answered its hello, so what is sent is written at once. */
    async function heardClient(url: string, options: Parameters<typeof startClient>[2]): Promise<ReturnType<typeof startClient>> {
      const client = await startClient(teardown, url, { clientId: 'veh-full', ...options });
      const hello = waitForEvent(client, 'hello');
      await client.connect();
      await hello;
      return client;
    }

    it('drops the new message, not one already written, when every message in the outbox is on the link', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const client = await heardClient(url, { outboxMaxMessages: 3, outboxPolicy: 'drop-oldest' });
      const sends = [0, 1, 2, 3, 4].map((i) => client.send({ i }));
      const results = codes(await outcomes(sends));
      // Every drop reported is a message the server never had, and every message it had is acknowledged.
      assert.deepEqual(messages.map((m) => m.payload), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.deepEqual(results, ['ok', 'ok', 'ok', 'FS_ERR_DROPPED', 'FS_ERR_DROPPED']);
      assert.deepEqual({ dropped: client.stats().dropped, unknown_acks: client.stats().unknown_acks }, { dropped: 2, unknown_acks: 0 });
      await waitUntil(() => server.stats().latencies === 3, () => `3 latency records (${JSON.stringify(server.stats())})`);
    });

    it('drops the oldest message still waiting to be written and keeps the one on the link', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      // A high-water mark of one byte: one message is written, the others wait for it to drain.
      const client = await heardClient(url, { outboxMaxMessages: 3, outboxPolicy: 'drop-oldest', writeHighWaterBytes: 1 });
      const sends = [0, 1, 2, 3, 4].map((i) => client.send({ i }));
      assert.deepEqual(codes(await outcomes(sends)), ['ok', 'FS_ERR_DROPPED', 'FS_ERR_DROPPED', 'ok', 'ok']);
      assert.deepEqual(messages.map((m) => m.payload), [{ i: 0 }, { i: 3 }, { i: 4 }]);
      assert.equal(client.stats().unknown_acks, 0);
    });

    it('drops only the new message when dropping every message still waiting would not make room for it', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      // {"i":0} is 7 bytes: one written, two waiting (21 bytes); a new one of 95 fits only with 5 bytes or fewer beside it.
      const client = await heardClient(url, { outboxMaxBytes: 100, outboxPolicy: 'drop-oldest', writeHighWaterBytes: 1 });
      const sends = [client.send({ i: 0 }), client.send({ i: 1 }), client.send({ i: 2 }), client.send('x'.repeat(93))];
      assert.deepEqual(codes(await outcomes(sends)), ['ok', 'ok', 'ok', 'FS_ERR_DROPPED']);
      assert.deepEqual(messages.map((m) => m.payload), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.equal(client.stats().dropped, 1);
    });
  });

  describe('#send while the server stops reading', () => {
    it('lets the payload of an acknowledged message go while messages behind it wait to be written', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url);
      const gc = exposedGc();
      gc();
      const before = process.memoryUsage().heapUsed;
      const conn = raw.connection(1);
      // 600 payloads of 100 KB; the server acknowledges the first 300, then reads no more.
      for (let i = 0; i < 600; i++) client.send(`${i} ${'x'.repeat(100_000)}`).catch(() => undefined);
      const c = await conn;
      let acked = 0;
      c.on('frame', (f: Record<string, unknown>) => {
        c.frames.length = 0;
        if (f.type !== 'message' || acked === 300) return;
        c.send({ id: f.id, type: 'ack' });
        if (++acked === 300) c.socket.pause();
      });
      await waitUntil(() => client.stats().delivered === 300, () => `300 delivered (${JSON.stringify(client.stats())})`);
      gc();
      const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
      const outboxMb = client.stats().outbox_bytes / 1e6;
      assert.equal(client.stats().outbox_messages, 300);
      assert.ok(grownMb < outboxMb + 15, `the heap grew by ${grownMb.toFixed(1)} MB for an outbox of ${outboxMb.toFixed(1)} MB`);
    });
  });

  describe('#send with maxAgeMs', () => {
    it('drops a message older than its maxAgeMs instead of writing it (FS_ERR_EXPIRED, counted), and writes those still young', async () => {
      const raw = await RawServer.start(teardown);
      let now = 1e12;
      const client = await startClient(teardown, raw.url, { clock: () => now });
      const drops = collect<{ id: string; reason: FastSocketErrorCode }>(client, 'drop');
      await client.connect();
      const conn = await raw.connection(1);
      // Until the server first answers, the client writes one message and holds the others back.
      const first = client.send({ i: 0 });
      const stale = client.send({ i: 1 }, { maxAgeMs: 1_000 });
      const young = client.send({ i: 2 }, { maxAgeMs: 60_000 });
      now += 2_000 * 1e6;
      const [m0] = await conn.waitForCount(isMessage, 1, 'the first message');
      conn.send({ id: m0!.id, type: 'ack' });
      await withDeadline(first, 'the first ack');
      await assert.rejects(stale, (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_EXPIRED');
      const written = await conn.waitForCount(isMessage, 2, 'the first and the young message');
      assert.deepEqual(written.map((f) => f.payload), [{ i: 0 }, { i: 2 }]);
      conn.send({ id: written[1]!.id, type: 'ack' });
      await withDeadline(young, 'the young message acknowledged');
      assert.deepEqual(drops.map((d) => d.reason), ['FS_ERR_EXPIRED']);
      assert.deepEqual([client.stats().expired, client.stats().dropped, client.stats().delivered], [1, 1, 2]);
    });

    // After an outage nothing of it arrived with drop-newest or reject: the outbox stayed full of messages past their
    // maxAgeMs, which were never to be written, and refused the young ones in their place.
    for (const outboxPolicy of ['drop-newest', 'reject'] as const) {
      it(`makes room in a full outbox by dropping the messages past their maxAgeMs, before ${outboxPolicy} refuses a young one`, async () => {
        let now = 1e12;
        const client = await startClient(teardown, await unreachableUrl('tcp'), { clock: () => now, outboxMaxMessages: 2, outboxPolicy });
        const stale = [client.send({ i: 0 }, { maxAgeMs: 1_000 }), client.send({ i: 1 }, { maxAgeMs: 1_000 })];
        stale.forEach((p) => p.catch(() => {}));
        now += 2_000 * 1e6;
        const young = client.send({ i: 2 }, { maxAgeMs: 1_000 });
        young.catch(() => {});
        const { outbox_messages, expired, rejected, dropped } = client.stats();
        assert.deepEqual({ outbox_messages, expired, rejected, dropped }, { outbox_messages: 1, expired: 2, rejected: 0, dropped: 2 });
        for (const p of stale) await assert.rejects(p, (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_EXPIRED');
      });
    }

    it('rejects with an OptionError naming maxAgeMs when it is not a number > 0', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'));
      for (const bad of [0, -1, NaN, '5', null]) {
        await assert.rejects(client.send(1, { maxAgeMs: bad as number }), (e: unknown) => e instanceof TypeError && (e as { option?: string }).option === 'maxAgeMs');
      }
      assert.equal(client.stats().outbox_messages, 0);
    });

    it('rejects with an OptionError naming a misspelt option, rather than sending with no age limit', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'));
      await assert.rejects(client.send(1, { maxAge: 100 } as never), (e: unknown) => e instanceof OptionError && e.option === 'maxAge' && /did you mean maxAgeMs/.test(e.message));
      await assert.rejects(client.send(1, 100 as never), (e: unknown) => e instanceof OptionError && e.option === 'options');
      assert.equal(client.stats().outbox_messages, 0);
    });
  });

  describe('#send across a reconnect', () => {
    it('writes one message on a new connection until the server answers: a front that accepts and resets costs one resend, not the outbox', async () => {
      const { url } = await startServer(teardown, 'tcp');
      const serverPort = Number(new URL(url).port);
      // A proxy or load balancer in front of a server it cannot reach yet: it accepts, reads, and resets; then it forwards.
      let doomed = 3;
      const sockets = new Set<net.Socket>();
      const front = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        if (doomed > 0) {
          doomed--;
          socket.once('data', () => socket.resetAndDestroy());
          return;
        }
        const upstream = net.connect(serverPort, '127.0.0.1');
        sockets.add(upstream);
        upstream.on('error', () => socket.destroy());
        socket.pipe(upstream).pipe(socket);
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      teardown.add(() => {
        for (const s of sockets) s.destroy();
        front.close();
      });
      const client = await startClient(teardown, `tcp://127.0.0.1:${(front.address() as net.AddressInfo).port}`);
      const results = await withDeadline(Promise.all(Array.from({ length: 20 }, (_, i) => client.send({ i }))), 'all 20 messages through the front');
      assert.equal(doomed, 0, 'the three doomed connections were used');
      const resent = results.filter((r) => r.resent).length;
      assert.ok(resent <= 1, `${resent} of 20 messages that only waited in the outbox came back flagged resent`);
    });

    it('takes a connection that stays open but silent while messages wait (a NAT that dropped it) for dead, and resends on a new one', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url, { silenceTimeoutMs: 300, ...BRISK_RECONNECT });
      const sends = [0, 1].map((i) => client.send({ i }));
      const first = await raw.connection(1);
      const written = await first.waitForCount(isMessage, 2, 'the first writes');
      // The first connection never answers and never closes: only the client's own silence check gets it out.
      const second = await raw.connection(2, 5_000);
      const again = await second.waitForCount(isMessage, 2, 'the resends');
      assert.deepEqual(again.map((f) => f.id), written.map((f) => f.id));
      for (const f of again) second.send({ id: f.id, type: 'ack' });
      const results = await withDeadline(Promise.all(sends), 'both messages acknowledged on the second connection');
      assert.ok(results.every((r) => r.resent));
      assert.equal(client.stats().closed_silent, 1);
    });

    it('says a silent connection it closed before the hello was answered was taken for dead, not refused for a token or scheme', async () => {
      const raw = await RawServer.start(teardown);
      const logger = capturingLogger();
      const client = await startClient(teardown, raw.url, { clientId: 'veh-17', silenceTimeoutMs: 300, logger, ...BRISK_RECONNECT });
      const sent = client.send({ i: 0 });
      const first = await raw.connection(1);
      await first.waitForCount(isMessage, 1, 'the first write');
      // Nothing answers the hello on the first connection (a link gone silent): the client closes it itself.
      const second = await raw.connection(2, 5_000);
      const [m] = await second.waitForCount(isMessage, 1, 'the resend');
      second.send({ type: 'hello', protocol: 1 });
      second.send({ id: m!.id, type: 'ack' });
      await withDeadline(sent, 'the message acknowledged on the second connection');
      assert.equal(client.stats().closed_silent, 1);
      const warnings = logger.lines.filter((l) => l.startsWith('warn'));
      assert.ok(warnings.some((l) => /taking it for dead/.test(l)), warnings.join('\n'));
      assert.ok(!warnings.some((l) => /before the server answered the hello/.test(l)), `blamed the token or scheme for its own close:\n${warnings.join('\n')}`);
    });

    it('counts silence from the message, not from the last read: a connection idle for longer than silenceTimeoutMs keeps its next message', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url, { silenceTimeoutMs: 200, ...BRISK_RECONNECT });
      await client.connect();
      const conn = await raw.connection(1);
      // Idle for three silence timeouts: nothing is waiting, so nothing is closed.
      await assert.rejects(waitUntil(() => raw.connections.length > 1, 'a second connection', 600), /deadline/);
      const sent = client.send('after the idle spell');
      const [m] = await conn.waitForCount(isMessage, 1, 'the message');
      // A server that takes 100 ms to answer, well within the 200 ms: counted from the last read, it was 600 ms silent.
      await new Promise((resolve) => setTimeout(resolve, 100));
      conn.send({ id: m.id, type: 'ack' });
      const r = await withDeadline(sent, 'the ack');
      assert.equal(r.resent, false);
      assert.equal(client.stats().closed_silent, 0);
      assert.equal(raw.connections.length, 1);
    });

    it('writes unacknowledged messages again on the new connection, marked resent, and resolves them as resent', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url);
      const sends = [0, 1, 2].map((i) => client.send({ i }));

      const first = await raw.connection(1);
      const written = await first.waitForCount(isMessage, 3, 'the first writes');
      assert.ok(written.every((f) => f.resent === undefined), 'a first write is not marked resent');
      first.destroy(); // the link dies before any ack 2

      const second = await raw.connection(2);
      const again = await second.waitForCount(isMessage, 3, 'the resends');
      assert.deepEqual(again.map((f) => f.id), written.map((f) => f.id), 'same ids, same order');
      assert.deepEqual(again.map((f) => f.payload), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.ok(again.every((f) => f.resent === true), 'every resend is marked resent');
      for (const f of again) second.send({ id: f.id, type: 'ack' });

      const results = await Promise.all(sends);
      assert.ok(results.every((r) => r.resent));
      const acks3 = await second.waitForCount((f) => f.type === 'ack', 3, 'the acks 3');
      for (const a of acks3) assert.ok(Number.isSafeInteger(a.send_and_ack_time_ns) && (a.send_and_ack_time_ns as number) >= 0, 'T1 is a JSON integer');
      assert.deepEqual({ resent: client.stats().resent, reconnects: client.stats().reconnects, delivered: client.stats().delivered }, { resent: 3, reconnects: 1, delivered: 3 });
    });

    it('does not resend what was acknowledged before the link died', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url);
      const a = client.send('acked');
      const first = await raw.connection(1);
      const m = await first.waitForFrame(isMessage);
      first.send({ id: m.id, type: 'ack' });
      await a;
      await first.waitForFrame((f) => f.type === 'ack' && f.id === m.id, 'ack 3');
      const b = client.send('not acked');
      await first.waitForFrame((f) => isMessage(f) && f.payload === 'not acked');
      first.destroy();
      const second = await raw.connection(2);
      const resent = await second.waitForFrame(isMessage);
      assert.equal(resent.payload, 'not acked');
      second.send({ id: resent.id, type: 'ack' });
      await b;
      assert.equal(second.frames.filter(isMessage).length, 1);
    });

    it('delivers to a real server restarted on the same port, with queued_ns for the time spent offline', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const client = await startClient(teardown, url);
      await client.send('before');
      const down = waitForEvent(client, 'disconnect');
      await server.close();
      await down;
      const during = [0, 1, 2].map((i) => client.send({ during: i }));

      const restarted = new FastSocketServer({ url });
      teardown.add(() => restarted.close());
      const messages = collect<MessageEvent>(restarted, 'message');
      await restarted.listen();
      const results = await Promise.all(during);
      assert.deepEqual(messages.map((m) => m.payload), [{ during: 0 }, { during: 1 }, { during: 2 }]);
      assert.ok(results.every((r) => r.resent === false), 'never written before, so not a resend');
      assert.ok(messages.every((m) => m.queued_ns !== null && m.queued_ns > 0), 'queued_ns reports the wait');
    });
  });

  describe('clock-synced timestamps', () => {
    it('stamps client_recv_wall_ns when the read that brought ack 2 began, as T1 ends, not when the ack was handled', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url, { clockSync: true });
      const sends = [client.send(1), client.send(2)];
      const conn = await raw.connection(1);
      const [m1, m2] = await conn.waitForCount(isMessage, 2, 'both messages');
      // The application keeps the client busy while it handles the first ack; the second, read with it, waits.
      client.once('ack', () => busy(BUSY_MS));
      conn.socket.write(`${JSON.stringify({ id: m1.id, type: 'ack' })}\n${JSON.stringify({ id: m2.id, type: 'ack' })}\n`);
      await Promise.all(sends);
      const acks3 = await conn.waitForCount((f) => f.type === 'ack', 2, 'the acks 3');
      const [a1, a2] = [m1.id, m2.id].map((id) => acks3.find((a) => a.id === id)!);
      const apartNs = (a2.client_recv_wall_ns as number) - (a1.client_recv_wall_ns as number);
      assert.ok(apartNs < (BUSY_MS / 2) * 1e6, `acks 2 of one read stamped ${apartNs / 1e6} ms apart`);
      // The wait is the client's turnaround, as for T1, which both acks 2 end at the same read.
      assert.ok((a2.pc_ns as number) >= BUSY_MS * 1e6, `pc_ns ${a2.pc_ns}`);
    });
  });

  describe('outboxPath', () => {
    it('resends, marked resent, what an earlier client left unacknowledged, once a server is reachable', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-client-outbox-'));
      teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
      const outboxPath = path.join(dir, 'outbox.log');
      const url = await unreachableUrl('tcp');
      const first = await startClient(teardown, url, { outboxPath });
      const sends = [0, 1, 2].map((i) => first.send({ i }));
      await first.close({ timeoutMs: 10 });
      assert.deepEqual(await outcomes(sends), ['FS_ERR_CLOSED', 'FS_ERR_CLOSED', 'FS_ERR_CLOSED']);

      const server = new FastSocketServer({ url });
      teardown.add(() => server.close());
      const messages = collect<MessageEvent>(server, 'message');
      await server.listen();
      const second = await startClient(teardown, url, { outboxPath });
      await waitUntil(() => messages.length === 3, 'the stored messages to be handed over');
      assert.deepEqual(messages.map((m) => m.payload), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.ok(messages.every((m) => m.resent), 'a message from an earlier run may have been delivered: marked resent');
      await waitUntil(() => second.stats().outbox_messages === 0, 'the outbox to empty');
      await second.close();

      const third = await startClient(teardown, url, { outboxPath });
      assert.equal(third.stats().outbox_messages, 0, 'acknowledged messages are not resent by a later run');
    });
  });

  describe('#send after the server closed an idle connection', () => {
    it('reconnects on demand and delivers, without counting a failure', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { idleTimeoutMs: 60 });
      const client = await startClient(teardown, url);
      await client.send(1);
      const [info] = await waitForEvent<[{ error: Error | null }]>(client, 'disconnect');
      assert.equal(info.error, null);
      assert.equal(server.stats().closed_idle, 1);
      const r = await client.send(2);
      assert.equal(r.resent, false);
      assert.equal(client.stats().dropped, 0);
    });

    it('stays disconnected while it has nothing to send, then makes exactly one connection for the next send', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { idleTimeoutMs: 100 });
      const client = await startClient(teardown, url, BRISK_RECONNECT);
      await client.send(1);
      await waitForEvent(client, 'disconnect');
      assert.equal(server.stats().closed_idle, 1);
      // A client that reconnects after an idle close does so one backoff later; this waits twenty-five.
      await assert.rejects(
        waitUntil(() => server.stats().connections_total > 1, 'a reconnect', 25 * BRISK_RECONNECT.reconnectMinMs),
        /deadline/,
        'the client reconnected with nothing to send',
      );
      assert.equal(server.stats().connections_total, 1);
      assert.equal(client.connected, false);
      await client.send(2);
      assert.equal(server.stats().connections_total, 2);
      assert.equal(client.stats().connect_failures, 0);
    });

    it('after connect(), reconnects at once to stay connected', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { idleTimeoutMs: 100 });
      const client = await startClient(teardown, url, BRISK_RECONNECT);
      await client.connect();
      await waitForEvent(client, 'disconnect');
      await waitForEvent(client, 'connect');
      await waitUntil(() => server.stats().connections_total === 2, 'the server to see the new connection');
      assert.equal(server.stats().closed_idle, 1);
    });
  });

  describe('frames from the server', () => {
    /** A client (with `options`) that has written one message to a raw server, which has not answered yet. */
    async function oneInFlight(options: Parameters<typeof startClient>[2] = {}) {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url, options);
      const sent = client.send('p');
      const conn = await raw.connection(1);
      const m = await conn.waitForFrame(isMessage);
      return { raw, client, sent, conn, m };
    }

    /** The client closes its first connection, reconnects and writes the message again; the new connection acks it. */
    async function deliveredAfterClose({ raw, conn, sent }: Awaited<ReturnType<typeof oneInFlight>>): Promise<SendResult> {
      await waitForEvent(conn, 'closed');
      const second = await raw.connection(2);
      const m = await second.waitForFrame(isMessage);
      second.send({ id: m.id, type: 'ack' });
      return sent;
    }

    it('counts an ack 2 for an unknown id and a bad frame, and keeps the connection', async () => {
      const { client, sent, conn, m } = await oneInFlight();
      conn.send({ id: 'nobody', type: 'ack' });
      conn.send('{ this is not json');
      conn.send({ id: m.id, type: 'ack' });
      await sent;
      assert.deepEqual({ unknown: client.stats().unknown_acks, bad: client.stats().bad_frames }, { unknown: 1, bad: 1 });
      assert.equal(conn.isClosed, false);
    });

    it('closes the connection after maxBadFrames consecutive bad frames, counts it, and reconnects to deliver', async () => {
      const f = await oneInFlight({ ...BRISK_RECONNECT, maxBadFrames: 3 });
      for (const bad of ['{ this is not json', '[1, 2]', '{"id":"x","type":"message","payload":1}']) f.conn.send(bad);
      assert.equal((await deliveredAfterClose(f)).resent, true);
      const stats = f.client.stats();
      assert.deepEqual({ bad: stats.bad_frames, closedBad: stats.closed_bad, reconnects: stats.reconnects }, { bad: 3, closedBad: 1, reconnects: 1 });
    });

    it('does not close for maxBadFrames bad frames that are not consecutive', async () => {
      const { client, sent, conn, m } = await oneInFlight({ maxBadFrames: 2 });
      for (let i = 0; i < 3; i++) {
        conn.send('nonsense');
        conn.send({ id: 'nobody', type: 'ack' });
      }
      conn.send({ id: m.id, type: 'ack' });
      await sent;
      assert.deepEqual({ bad: client.stats().bad_frames, closedBad: client.stats().closed_bad }, { bad: 3, closedBad: 0 });
      assert.equal(conn.isClosed, false);
    });

    it('warns about at most maxBadFrames bad frames mixed with good ones, and logs the rest at debug level', async () => {
      const lines: string[] = [];
      const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
      const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
      const { client, sent, conn, m } = await oneInFlight({ maxBadFrames: 3, logger });
      // Never maxBadFrames in a row, so the connection stays open: without a budget, one warning per two frames.
      for (let i = 0; i < 40; i++) {
        conn.send('nonsense');
        conn.send({ id: 'nobody', type: 'ack' });
      }
      conn.send({ id: m.id, type: 'ack' });
      await sent;
      const badLines = (level: string) => lines.filter((l) => l.startsWith(`${level} bad frame from `)).length;
      assert.deepEqual({ counted: client.stats().bad_frames, warn: badLines('warn'), debug: badLines('debug') }, { counted: 40, warn: 3, debug: 37 });
      assert.equal(conn.isClosed, false);
    });

    it('skips lines of spaces, tabs and CRs between frames without counting them as bad frames', async () => {
      const { client, sent, conn, m } = await oneInFlight({ maxBadFrames: 1 });
      conn.socket.write(`   \n\t\r\n \t \r\r\n{"id":${JSON.stringify(m.id)},"type":"ack"}\n  \n`);
      await sent;
      assert.equal(client.stats().bad_frames, 0);
      assert.equal(conn.isClosed, false);
    });

    it('warns about and counts a frame larger than its maxFrameBytes, closes, and reconnects to deliver', async () => {
      const warnings: string[] = [];
      const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
      const f = await oneInFlight({ ...BRISK_RECONNECT, maxFrameBytes: 1024, logger });
      f.conn.socket.write('"' + 'x'.repeat(2000));
      await deliveredAfterClose(f);
      assert.equal(f.client.stats().closed_oversize, 1);
      assert.ok(warnings.some((w) => w.includes('max_frame_bytes')), `a warning names max_frame_bytes: ${JSON.stringify(warnings)}`);
    });

    it('closes a connection whose server stops mid-frame for frameTimeoutMs, counts it, and reconnects to deliver', async () => {
      const f = await oneInFlight({ ...BRISK_RECONNECT, frameTimeoutMs: 200 });
      // Half an ack 2, then silence on an open connection: without the timeout the message waits for ever.
      f.conn.socket.write(`{"id":${JSON.stringify(f.m.id)},"ty`);
      assert.equal((await deliveredAfterClose(f)).resent, true);
      assert.equal(f.client.stats().closed_frame_timeout, 1);
    });

    it('writes nothing on a connection it is closing: a message sent while a stalled server holds the close open goes out once, not marked resent', async () => {
      // A hung server process: its kernel takes our FIN, the process never closes its side, so the client's close
      // waits (up to 2 s) before it destroys the socket and reconnects.
      const sockets: net.Socket[] = [];
      const frames: Array<Array<Record<string, unknown>>> = [];
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        const mine: Array<Record<string, unknown>> = [];
        sockets.push(socket);
        frames.push(mine);
        let partial = '';
        socket.on('error', () => undefined);
        socket.on('data', (chunk) => {
          const lines = (partial + chunk.toString()).split('\n');
          partial = lines.pop()!;
          for (const line of lines) if (line !== '') mine.push(JSON.parse(line) as Record<string, unknown>);
        });
      });
      teardown.add(() => new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      const client = await startClient(teardown, `tcp://127.0.0.1:${port}`, { ...BRISK_RECONNECT, frameTimeoutMs: 200 });
      const first = client.send('a');
      await waitUntil(() => frames[0]?.length === 1, 'message a on the first connection');
      sockets[0].write(`{"id":${JSON.stringify(frames[0][0].id)},"ty`);
      await waitForEvent(sockets[0], 'end', { ms: 5_000 });
      // The client has closed its side; its socket lives on until the server's side closes or 2 s pass.
      const second = client.send('b');
      await waitUntil(() => (frames[1]?.length ?? 0) >= 2, () => `a and b on the second connection (${JSON.stringify(frames[1])})`);
      for (const f of frames[1]) sockets[1].write(JSON.stringify({ id: f.id, type: 'ack' }) + '\n');
      const [a, b] = await withDeadline(Promise.all([first, second]), 'both acknowledged');
      assert.deepEqual(frames[1].map((f) => [f.payload, f.resent === true]), [['a', true], ['b', false]]);
      assert.deepEqual([a.resent, b.resent], [true, false]);
      assert.deepEqual({ sent: client.stats().sent, resent: client.stats().resent }, { sent: 2, resent: 1 });
    });

    it('reads acks that straddle its reads: 300 KiB of acks in one write, frames cut at every read boundary', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url);
      const count = 3000;
      const sent = Array.from({ length: count }, (_, i) => client.send(i));
      const conn = await raw.connection(1);
      await waitUntil(() => conn.frames.filter(isMessage).length === count, 'every message at the raw server');
      // Padded acks (an unknown field, which the client ignores) so that the acks far outrun one read of the client.
      const pad = 'p'.repeat(50);
      const acks = conn.frames.filter(isMessage).map((m) => `{"id":${JSON.stringify(m.id)},"type":"ack","pad":"${pad}"}\n`);
      conn.socket.write(acks.join(''));
      const results = await withDeadline(Promise.all(sent), 'every send to resolve on its ack 2');
      assert.equal(results.length, count);
      assert.deepEqual({ unknown: client.stats().unknown_acks, bad: client.stats().bad_frames }, { unknown: 0, bad: 0 });
    });

    /** A plain ws server on 127.0.0.1, closed at teardown; resolves with its URL once it listens. */
    async function rawWsServer(onConnection: (ws: WebSocket) => void): Promise<string> {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      teardown.add(() => new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(resolve);
      }));
      wss.on('connection', onConnection);
      await waitForEvent(wss, 'listening');
      return `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`;
    }

    it('warns when it closes a ws connection for a WebSocket protocol violation by the server', async () => {
      // Once the message is in, a frame with the reserved opcode 3, which ws itself refuses: before this the client said
      // why it closed only at the debug level.
      const url = await rawWsServer((ws) => ws.once('message', () => (ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x83, 0x00]))));
      const warnings: string[] = [];
      const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
      const client = await startClient(teardown, url, { logger });
      void client.send('p').catch(() => undefined);
      await waitUntil(() => warnings.length > 0, 'a warning');
      assert.match(warnings[0], new RegExp(`^closing the connection to ${url}: .*opcode`, 'i'));
    });

    it('drops and counts a ws text message of invalid UTF-8 as a bad frame, keeping the connection (§5)', async () => {
      let connections = 0;
      const url = await rawWsServer((ws) => {
        // Only on the first connection, so that a client that closes on it delivers on the second and the counts show it.
        const first = ++connections === 1;
        ws.on('message', (data) => {
          if (first) ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
          ws.send(JSON.stringify({ id: JSON.parse(data.toString()).id, type: 'ack' }));
        });
      });
      const client = await startClient(teardown, url, BRISK_RECONNECT);
      const result = await withDeadline(client.send('p'), 'the message to be acked');
      const stats = client.stats();
      assert.deepEqual(
        { resent: result.resent, reconnects: stats.reconnects, bad: stats.bad_frames, connections },
        { resent: false, reconnects: 0, bad: 1, connections: 1 },
      );
    });

    it('survives a ws server that sends a broken WebSocket frame with its 101, and reconnects to deliver', async () => {
      let connections = 0;
      const url = await rawWsServer((ws) => {
        // The first connection: a reserved opcode written right behind the 101, so the client reads both in one chunk.
        if (++connections === 1) (ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x83, 0x00]));
        else ws.on('message', (data) => ws.send(JSON.stringify({ id: JSON.parse(data.toString()).id, type: 'ack' })));
      });
      const client = await startClient(teardown, url, BRISK_RECONNECT);
      await withDeadline(client.send('p'), 'the message to be delivered on the second connection');
      assert.equal(client.stats().reconnects, 1);
    });

    it('sends a hello with its client_id first, before any message', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url, { clientId: 'veh-17' });
      client.send('after hello').catch(() => undefined);
      const conn = await raw.connection(1);
      await conn.waitForFrame(isMessage);
      assert.deepEqual(conn.frames[0], { type: 'hello', protocol: 1, client_id: 'veh-17' });
    });

    for (const scheme of ['tcp', 'ws'] as const) {
      it(`reports each hello answer with the server's instance: the same after a reconnection, a new one from a restarted server (${scheme})`, async () => {
        const first = await startServer(teardown, scheme, { idleTimeoutMs: 300 });
        const client = await startClient(teardown, first.url, { clientId: 'veh-17' });
        const hellos = collect<{ url: string; server_instance: string | null; max_frame_bytes: number | null }>(client, 'hello');
        await client.connect();
        // The server closes the idle connection; a connect()ed client dials again at once and says hello again.
        await waitUntil(() => hellos.length >= 2, 'a second hello answer after the idle close');
        assert.deepEqual(hellos.slice(0, 2).map((h) => h.server_instance), [first.server.instance, first.server.instance]);
        assert.match(first.server.instance, /^[0-9a-f-]{36}$/);
        await first.server.close();
        const second = new FastSocketServer({ url: first.url });
        teardown.add(() => second.close());
        await second.listen();
        const count = hellos.length;
        await waitUntil(() => hellos.length > count, 'the hello answer of the restarted server');
        assert.equal(hellos.at(-1)!.server_instance, second.instance);
        assert.notEqual(second.instance, first.server.instance);
      });
    }

    it('sends no hello when it has neither client_id nor token (as the original client)', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url);
      client.send('plain').catch(() => undefined);
      const conn = await raw.connection(1);
      await conn.waitForFrame(isMessage);
      assert.equal(conn.frames[0]!.type, 'message');
    });
  });

  describe('#send of a message larger than the server accepts', () => {
    for (const scheme of ['tcp', 'ws'] as const) {
      it(`rejects it with FS_ERR_PAYLOAD and delivers the messages behind it (${scheme}, server limit learnt from its hello)`, async () => {
        const { server, url } = await startServer(teardown, scheme, { maxFrameBytes: 1024 });
        const messages = collect<MessageEvent>(server, 'message');
        const client = await startClient(teardown, url, { clientId: 'veh-1' });
        await client.send('first');
        const results = await outcomes([client.send('b'.repeat(2000)), client.send('after')]);
        assert.deepEqual(codes(results), ['FS_ERR_PAYLOAD', 'ok']);
        assert.deepEqual(messages.map((m) => m.payload), ['first', 'after']);
      });
    }

    it('applies the limit of the hello answer to the messages queued before it: no connection closed, nothing resent', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { maxFrameBytes: 1024 });
      const messages = collect<MessageEvent>(server, 'message');
      const client = await startClient(teardown, url, { clientId: 'veh-1' });
      // All three queued before the connection exists: the first goes out with the hello, the others wait for its answer.
      const results = await outcomes([client.send('first'), client.send('b'.repeat(2000)), client.send('after')]);
      assert.deepEqual(results.map((r) => (typeof r === 'string' ? r : `ok resent=${r.resent}`)), ['ok resent=false', 'FS_ERR_PAYLOAD', 'ok resent=false']);
      assert.deepEqual(messages.map((m) => [m.payload, m.resent]), [['first', false], ['after', false]]);
      assert.deepEqual({ reconnects: client.stats().reconnects, closedOversize: server.stats().closed_oversize }, { reconnects: 0, closedOversize: 0 });
    });

    it('counts the id in the frame: a message that fits the limit of the hello only with a UUID id is refused when its id is 128 characters (§2)', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { maxFrameBytes: 1024 });
      const messages = collect<MessageEvent>(server, 'message');
      let n = 0;
      const client = await startClient(teardown, url, { clientId: 'veh-1', newId: () => `${++n}`.padStart(128, 'v'), ...BRISK_RECONNECT });
      await client.send('first');
      // 2 bytes under the limit with a UUID id, 92 over it with this one.
      const payload = 'b'.repeat(1024 - messageFrameBytes(2) - 2);
      const results = await withDeadline(outcomes([client.send(payload), client.send('after')]), 'both sends to settle', 10_000);
      assert.deepEqual(codes(results), ['FS_ERR_PAYLOAD', 'ok']);
      assert.deepEqual(messages.map((m) => m.payload), ['first', 'after']);
      assert.deepEqual({ reconnects: client.stats().reconnects, closedOversize: server.stats().closed_oversize }, { reconnects: 0, closedOversize: 0 });
    });

    // 'message of 918 bytes exceeds the server's max_frame_bytes (1024)': the payload's size alone, under the limit.
    it('names the size as a frame, not the payload\'s alone, when it drops a message over the limit of the hello', async () => {
      const { url } = await startServer(teardown, 'tcp', { maxFrameBytes: 1024 });
      let n = 0;
      const client = await startClient(teardown, url, { clientId: 'veh-1', newId: () => `${++n}`.padStart(128, 'v') });
      await client.send('first');
      const payload = 'b'.repeat(1024 - messageFrameBytes(2) - 2);
      const err = await client.send(payload).then(() => assert.fail('delivered'), (e: Error) => e);
      const m = /^message of (\d+) bytes of payload is up to (\d+) as a message frame: more than the server's max_frame_bytes \(1024\)$/.exec(err.message);
      assert.ok(m, err.message);
      assert.equal(Number(m[1]), payload.length + 2);
      assert.ok(Number(m[2]) > 1024, err.message);
    });

    it('counts the id in the frame against its own maxFrameBytes too, when send() is called', async () => {
      const { url } = await startServer(teardown, 'tcp');
      const client = await startClient(teardown, url, { newId: () => 'i'.repeat(128), maxFrameBytes: 1024 });
      const results = await outcomes([client.send('b'.repeat(1024 - messageFrameBytes(2) - 2))]);
      assert.deepEqual(codes(results), ['FS_ERR_PAYLOAD']);
    });

    it('says once, not once per message, that it drops messages over the limit the server\'s hello gave', async () => {
      const { url } = await startServer(teardown, 'tcp', { maxFrameBytes: 1024 });
      const warnings: string[] = [];
      const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
      const client = await startClient(teardown, url, { clientId: 'veh-1', logger });
      await client.send('first');
      const results = await outcomes([...Array.from({ length: 5 }, () => client.send('b'.repeat(2000))), client.send('after')]);
      assert.deepEqual(codes(results), ['FS_ERR_PAYLOAD', 'FS_ERR_PAYLOAD', 'FS_ERR_PAYLOAD', 'FS_ERR_PAYLOAD', 'FS_ERR_PAYLOAD', 'ok']);
      const told = warnings.filter((w) => /max_frame_bytes/.test(w));
      assert.equal(told.length, 1, JSON.stringify(warnings));
      assert.match(told[0], /max_frame_bytes 1024 \(this one is 2002 bytes/);
    });

    it('rejects it with FS_ERR_PAYLOAD and delivers the messages behind it (ws, told by close code 1009, no hello)', async () => {
      const { server, url } = await startServer(teardown, 'ws', { maxFrameBytes: 1024 });
      const messages = collect<MessageEvent>(server, 'message');
      const client = await startClient(teardown, url);
      await client.send('first');
      const results = await outcomes([client.send('b'.repeat(2000)), client.send('after')]);
      assert.deepEqual(codes(results), ['FS_ERR_PAYLOAD', 'ok']);
      assert.deepEqual(messages.map((m) => m.payload), ['first', 'after']);
    });
  });

  describe('#send to a ws:// server at max_connections (close 1013)', () => {
    it('says the server is full rather than blaming the token or the message, and drops nothing for maxAttempts', async () => {
      const { server, url } = await startServer(teardown, 'ws', { maxConnections: 1 });
      const first = await startClient(teardown, url);
      await first.send('holds the only slot');
      const logger = capturingLogger();
      const client = await startClient(teardown, url, { clientId: 'veh-17', maxAttempts: 2, logger });
      let closes = 0;
      client.on('disconnect', () => closes++);
      const sent = client.send('waits for a slot');
      await waitUntil(() => closes >= 3, 'three refused connections');
      first.destroy();
      await withDeadline(sent, 'the message delivered once a slot is free');
      assert.equal(client.stats().dropped, 0);
      assert.ok(server.stats().connections_refused >= 3);
      const warnings = logger.lines.filter((l) => l.startsWith('warn'));
      assert.ok(warnings.some((l) => /1013/.test(l) && /max_connections/.test(l)), warnings.join('\n'));
      assert.ok(!warnings.some((l) => /before the server answered the hello|the oldest unacknowledged on/.test(l)), warnings.join('\n'));
    });
  });

  describe('#send of a message larger than the server accepts, over tcp without a hello', () => {
    it('says, after three connections closed on it, which message the server may be refusing (tcp cannot tell why it closed)', async () => {
      const { server, url } = await startServer(teardown, 'tcp', { maxFrameBytes: 1024 });
      const warnings: string[] = [];
      const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
      const client = await startClient(teardown, url, { ...BRISK_RECONNECT, logger });
      let disconnects = 0;
      client.on('disconnect', () => disconnects++);
      const big = client.send('b'.repeat(2000));
      big.catch(() => undefined);
      await waitUntil(() => disconnects >= 3, 'three connections closed by the server', 10_000);
      const told = warnings.filter((w) => /oldest unacknowledged/.test(w));
      assert.equal(told.length, 1, `warnings: ${JSON.stringify(warnings)}`);
      assert.match(told[0], /message [0-9a-f-]{36} \(2002 bytes\) was the oldest unacknowledged on 3 connections that closed.*max_frame_bytes.*maxAttempts/);
      assert.ok(server.stats().closed_oversize >= 3, 'the server closed them for the frame size');
    });

    it("drops it after maxAttempts connections closed on it with a DroppedError of reason 'max_attempts', and delivers the rest", async () => {
      const { server, url } = await startServer(teardown, 'tcp', { maxFrameBytes: 1024 });
      const messages = collect<MessageEvent>(server, 'message');
      const client = await startClient(teardown, url, { ...BRISK_RECONNECT, maxAttempts: 2 });
      const drops = collect<{ id: string; reason: string }>(client, 'drop');
      const [big, after] = await Promise.allSettled([client.send('b'.repeat(2000)), client.send('after')]);
      assert.equal(big.status, 'rejected');
      const err = (big as PromiseRejectedResult).reason as unknown;
      assert.ok(err instanceof DroppedError, String(err));
      assert.deepEqual([err.code, err.reason], ['FS_ERR_DROPPED', 'max_attempts']);
      assert.equal(after.status, 'fulfilled');
      assert.deepEqual(messages.map((m) => m.payload), ['after']);
      assert.deepEqual(drops.map((d) => d.reason), ['FS_ERR_DROPPED']);
    });
  });

  describe('#connect', () => {
    it('resolves once connected, and again at once when already connected', async () => {
      const { url } = await startServer(teardown, 'tcp');
      const client = await startClient(teardown, url);
      await client.connect();
      assert.equal(client.connected, true);
      await client.connect();
    });

    it('adds no listeners for each caller waiting, so calling it again and again while the server is unreachable leaks nothing', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'));
      const before = client.listenerCount('connect') + client.listenerCount('closing');
      const waits = Array.from({ length: 20 }, () => client.connect());
      waits.forEach((w) => w.catch(() => undefined));
      assert.ok(client.listenerCount('connect') + client.listenerCount('closing') <= before + 2, `${client.listenerCount('connect')} 'connect' listeners`);
    });

    it('rejects with FS_ERR_CLOSED when the client is closed before it could connect', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'));
      const connecting = client.connect();
      await waitUntil(() => client.stats().connect_failures >= 1, 'a failed attempt');
      client.destroy();
      await assert.rejects(withDeadline(connecting, 'connect() to settle after destroy()', 2_000), (e: unknown) => {
        assert.ok(e instanceof FastSocketError, String(e));
        assert.equal(e.code, 'FS_ERR_CLOSED');
        return true;
      });
    });

    // Regression test: connect() looked at the state alone, which stays 'connecting' while close() waits for the
    // outbox; a call then (a retry loop of the application's) waited for a 'closing' already emitted, and never settled.
    it('rejects with FS_ERR_CLOSED when called while close() waits for the outbox', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'));
      client.send(1).catch(() => undefined);
      const closing = client.close({ timeoutMs: 100 });
      const connecting = client.connect();
      await closing;
      await assert.rejects(withDeadline(connecting, 'connect() to settle after close()', 2_000), (e: unknown) => {
        assert.ok(e instanceof FastSocketError, String(e));
        assert.equal(e.code, 'FS_ERR_CLOSED');
        return true;
      });
    });
  });

  describe('#close', () => {
    it('waits for every queued message to be acknowledged, then closes', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const client = await startClient(teardown, url);
      const sends = Array.from({ length: 200 }, (_, i) => client.send(i));
      const stats = await client.close({ timeoutMs: 5_000 });
      assert.equal(stats.delivered, 200);
      assert.deepEqual(codes(await outcomes(sends)), Array(200).fill('ok'));
      assert.equal(messages.length, 200);
      await waitUntil(() => server.stats().latencies === 200, 'the last acks 3 to reach the server');
    });

    it('rejects what is still unacknowledged at the deadline with FS_ERR_CLOSED and counts it as abandoned, not dropped', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url);
      const sends = [client.send(1), client.send(2)];
      const stats = await client.close({ timeoutMs: 50 });
      assert.deepEqual(await outcomes(sends), ['FS_ERR_CLOSED', 'FS_ERR_CLOSED']);
      assert.deepEqual({ abandoned: stats.abandoned, dropped: stats.dropped }, { abandoned: 2, dropped: 0 });
    });

    // Regression test: a timeoutMs past 2^31 - 1 went to a Node timer as it was, which then fires after 1 ms, so
    // close() gave up on the outbox at once instead of waiting.
    it('keeps waiting for the acks when timeoutMs is longer than a Node timer holds', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url, { reconnectMinMs: 20, reconnectMaxMs: 20 });
      const sends = [client.send(1)];
      let settled = false;
      const closing = client.close({ timeoutMs: 2 ** 31 }).finally(() => (settled = true));
      for (let attempt = 0; attempt < 3; attempt++) await waitForEvent(client, 'disconnect', { ms: 2_000 });
      assert.equal(settled, false, 'close() resolved while the message was still waiting for its ack');
      client.destroy();
      await withDeadline(closing, 'close() to resolve after destroy()');
      assert.deepEqual(await outcomes(sends), ['FS_ERR_DESTROYED']);
    });

    for (const scheme of ['tcp', 'ws'] as const) {
      it(`leaves nothing holding the client once it has resolved, so clients made and closed in a loop do not pile up (${scheme})`, async () => {
        const { url } = await startServer(teardown, scheme);
        const gc = exposedGc();
        // Not startClient: its teardown would hold the client; and in a function of its own, whose frame is gone after.
        const useAndClose = async (i: number): Promise<WeakRef<FastSocketClient>> => {
          const client = new FastSocketClient({ url });
          await client.send(i);
          await client.close();
          return new WeakRef(client);
        };
        const closed: Array<WeakRef<FastSocketClient>> = [];
        for (let i = 0; i < 3; i++) closed.push(await useAndClose(i));
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        assert.equal(closed.filter((ref) => ref.deref() !== undefined).length, 0, 'closed clients still in memory');
      });
    }

    it('throws an OptionError naming a misspelt option, rather than waiting the default 5 s', async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'));
      assert.throws(() => client.close({ timeout: 100 } as never), (e: unknown) => e instanceof OptionError && e.option === 'timeout' && /did you mean timeoutMs/.test(e.message));
      assert.throws(() => client.close({ timeoutMs: -1 }), (e: unknown) => e instanceof OptionError && e.option === 'timeoutMs');
    });

    it('rejects sends after close with FS_ERR_CLOSED and resolves again when called twice', async () => {
      const url = await unreachableUrl('tcp');
      const client = await startClient(teardown, url);
      await client.close({ timeoutMs: 10 });
      await client.close();
      assert.deepEqual(await outcomes([client.send(1)]), ['FS_ERR_CLOSED']);
    });
  });

  describe('#destroy', () => {
    it('rejects every unacknowledged message at once with FS_ERR_DESTROYED', async () => {
      const raw = await RawServer.start(teardown);
      const client = await startClient(teardown, raw.url);
      const sends = [1, 2, 3].map((i) => client.send(i));
      const conn = await raw.connection(1);
      await conn.waitForCount(isMessage, 3, 'the writes');
      client.destroy();
      client.destroy();
      assert.deepEqual(await outcomes(sends), ['FS_ERR_DESTROYED', 'FS_ERR_DESTROYED', 'FS_ERR_DESTROYED']);
      await waitUntil(() => conn.isClosed, 'the connection to close');
    });
  });
});

const BUSY_MS = 50;

/** Keeps this process busy, as an application's own work would: the event loop runs nothing else meanwhile. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}
