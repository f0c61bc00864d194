import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { seededRandom } from '../support/seeded-random';
import { DelayProxy, type DelayProxyOptions } from '../support/delay-proxy';
import { useTeardown } from '../support/teardown';
import { waitForEvent, waitUntil, withDeadline } from '../support/wait';

const MS = 1_000_000;
/** Timing bounds are generous on purpose: precision belongs in the benchmark, a loaded CI box is slow. */
const SLACK_MS = 60;

/** Resolves with everything `socket` received once `bytes` have arrived, and when that was. */
function receive(socket: net.Socket, bytes: number): Promise<{ data: Buffer; atNs: bigint }> {
  const parts: Buffer[] = [];
  let received = 0;
  let onData: (chunk: Buffer) => void = () => {};
  const all = new Promise<{ data: Buffer; atNs: bigint }>((resolve) => {
    onData = (chunk) => {
      parts.push(chunk);
      received += chunk.length;
      if (received >= bytes) resolve({ data: Buffer.concat(parts), atNs: process.hrtime.bigint() });
    };
    socket.on('data', onData);
  });
  return withDeadline(all, `${bytes} bytes on the socket`).finally(() => socket.off('data', onData));
}

/** Resolves when `socket` closes, whatever error (a reset) came before. */
async function closed(socket: net.Socket): Promise<void> {
  socket.on('error', () => {});
  await waitForEvent(socket, 'close');
}

describe('DelayProxy', () => {
  const teardown = useTeardown();

  /** A target server on 127.0.0.1 port 0; `onSocket` decides what it does with each accepted socket. */
  async function startTarget(onSocket: (socket: net.Socket) => void): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      onSocket(socket);
    });
    teardown.add(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    server.listen(0, '127.0.0.1');
    await waitForEvent(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  }

  const startEcho = (): Promise<number> => startTarget((socket) => socket.pipe(socket));

  async function startProxy(options: DelayProxyOptions): Promise<DelayProxy> {
    const proxy = await DelayProxy.start(options);
    teardown.add(() => proxy.close());
    return proxy;
  }

  async function connect(port: number): Promise<net.Socket> {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    teardown.add(() => socket.destroy());
    await waitForEvent(socket, 'connect');
    return socket;
  }

  /** Round trip of one small message through an echo behind the proxy, in ns. */
  async function echoRoundTrip(socket: net.Socket, message = 'ping\n'): Promise<number> {
    const startNs = process.hrtime.bigint();
    const reply = receive(socket, message.length);
    socket.write(message);
    const { data, atNs } = await reply;
    assert.equal(data.toString(), message);
    return Number(atNs - startNs);
  }

  describe('.start', () => {
    it('delays an echo round trip by at least both one-way delays when they are 20/20 ms', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() }, up: { delayMs: 20 }, down: { delayMs: 20 } });
      const rtt = await echoRoundTrip(await connect(proxy.port));
      assert.ok(rtt >= 40 * MS, `rtt ${rtt / MS} ms`);
      assert.ok(rtt < (40 + SLACK_MS) * MS, `rtt ${rtt / MS} ms`);
    });

    it('records each direction with its own delay when the link is asymmetric', async () => {
      // Far apart, so that a timer firing late on a busy machine (15 ms was seen in CI) cannot close the gap.
      const proxy = await startProxy({ target: { port: await startEcho() }, up: { delayMs: 5 }, down: { delayMs: 100 } });
      await echoRoundTrip(await connect(proxy.port));
      const up = proxy.transitOf('up', 0)!;
      const down = proxy.transitOf('down', 0)!;
      assert.ok(up >= 5 * MS && up < (5 + SLACK_MS) * MS, `up ${up / MS} ms`);
      assert.ok(down >= 100 * MS && down < (100 + SLACK_MS) * MS, `down ${down / MS} ms`);
      assert.ok(down - up > 35 * MS, `down ${down / MS} ms vs up ${up / MS} ms`);
    });

    it('keeps byte order in each direction when jitter is far larger than the gap between chunks', async () => {
      const jitter = { delayMs: 10, jitterMs: 8 };
      const proxy = await startProxy({
        target: { port: await startEcho() },
        up: { ...jitter, jitterDistribution: 'uniform' },
        down: { ...jitter, jitterDistribution: 'normal' },
        random: seededRandom(42),
      });
      const socket = await connect(proxy.port);
      const lines = Array.from({ length: 1000 }, (_, i) => `${i}\n`);
      const expected = lines.join('');
      const echoed = receive(socket, expected.length);
      for (const line of lines) {
        socket.write(line);
        // Separate turns of the event loop make separate chunks, so the jitter draws differ between them.
        await new Promise(setImmediate);
      }
      assert.equal((await echoed).data.toString(), expected);
      const transits = proxy.chunks('up').map((c) => c.transitNs);
      assert.ok(transits.length >= 50, `only ${transits.length} chunks went up`);
      assert.ok(Math.max(...transits) - Math.min(...transits) > 5 * MS, 'jitter was not applied');
    });

    it('paces a direction at its bandwidth cap: 100 kB at 1 Mbit/s takes at least 0.8 s', async () => {
      let received = 0;
      let done: (atNs: bigint) => void = () => {};
      const finished = new Promise<bigint>((resolve) => (done = resolve));
      const port = await startTarget((socket) => socket.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= 100_000) done(process.hrtime.bigint());
      }));
      const proxy = await startProxy({ target: { port }, up: { bandwidthBps: 1_000_000 } });
      const socket = await connect(proxy.port);
      const startNs = process.hrtime.bigint();
      socket.write(Buffer.alloc(100_000, 1));
      const elapsed = Number((await withDeadline(finished, '100 kB at the sink')) - startNs);
      assert.ok(elapsed >= 800 * MS, `took ${elapsed / MS} ms`);
      assert.ok(elapsed < (800 + 10 * SLACK_MS) * MS, `took ${elapsed / MS} ms`);
    });

    it('throws a TypeError naming the field when a delay is negative', async () => {
      await assert.rejects(DelayProxy.start({ target: { port: 1 }, down: { delayMs: -1 } }), (e: unknown) =>
        e instanceof TypeError && e.message.includes('down.delayMs'));
    });
  });

  describe('connection teardown', () => {
    it('delivers the bytes a client sent before its connection was reset, then resets the target side', async () => {
      let onAccept: (socket: net.Socket) => void = () => {};
      const accepted = new Promise<net.Socket>((resolve) => (onAccept = resolve));
      const proxy = await startProxy({ target: { port: await startTarget((socket) => onAccept(socket)) }, up: { delayMs: 20 } });
      const client = await connect(proxy.port);
      const serverSide = await withDeadline(accepted, 'the target accepting');
      const lastWords = receive(serverSide, 10);
      const serverClosed = closed(serverSide);
      const entered = waitForEvent(proxy, 'enter');
      client.write('last words');
      await entered;
      client.resetAndDestroy();
      assert.equal((await lastWords).data.toString(), 'last words');
      await serverClosed;
    });
  });

  describe('#url', () => {
    it('keeps the scheme and path of a target URL and swaps in the proxy address', async () => {
      const proxy = await startProxy({ target: 'ws://localhost:1/fast' });
      assert.equal(proxy.url, `ws://127.0.0.1:${proxy.port}/fast`);
    });

    it('carries a WebSocket session to the target, delayed, when a client dials the proxy url', async () => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      teardown.add(() => new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(resolve);
      }));
      wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
      await waitForEvent(wss, 'listening');
      const { port } = wss.address() as net.AddressInfo;
      const proxy = await startProxy({ target: `ws://127.0.0.1:${port}/`, up: { delayMs: 10 }, down: { delayMs: 10 } });
      const ws = new WebSocket(proxy.url);
      teardown.add(() => ws.terminate());
      await waitForEvent(ws, 'open');
      const startNs = process.hrtime.bigint();
      const reply = waitForEvent(ws, 'message');
      ws.send('hello');
      const [data] = await reply;
      const rtt = Number(process.hrtime.bigint() - startNs);
      assert.equal(String(data), 'hello');
      assert.ok(rtt >= 20 * MS, `rtt ${rtt / MS} ms`);
    });
  });

  describe('#cut', () => {
    it('holds bytes in both directions in hold mode and delivers all of them after restore', async () => {
      let onAccept: (socket: net.Socket) => void = () => {};
      const accepted = new Promise<net.Socket>((resolve) => (onAccept = resolve));
      const proxy = await startProxy({ target: { port: await startTarget((socket) => onAccept(socket)) } });
      const client = await connect(proxy.port);
      client.write('hello');
      const serverSide = await accepted;
      await receive(serverSide, 5);

      proxy.cut({ mode: 'hold' });
      let leftDuringCut = 0;
      const countLeave = (): void => void leftDuringCut++;
      proxy.on('leave', countLeave);
      const entered = { up: 0, down: 0 };
      const bothEntered = new Promise<void>((resolve) => proxy.on('enter', (e) => {
        entered[e.direction] += e.bytes;
        if (entered.up === 6 && entered.down === 4) resolve();
      }));
      const atServer = receive(serverSide, 6);
      const atClient = receive(client, 4);
      client.write('upward');
      serverSide.write('down');
      await Promise.race([bothEntered, atServer, atClient]);
      assert.deepEqual(entered, { up: 6, down: 4 });
      assert.equal(leftDuringCut, 0);
      assert.deepEqual([proxy.stats().queued_up, proxy.stats().queued_down], [6, 4]);

      proxy.off('leave', countLeave);
      const restoredNs = process.hrtime.bigint();
      proxy.restore();
      assert.equal((await atServer).data.toString(), 'upward');
      assert.equal((await atClient).data.toString(), 'down');
      for (const direction of ['up', 'down'] as const) {
        const held = proxy.chunks(direction).at(-1)!;
        assert.ok(held.leaveNs >= restoredNs, `${direction} chunk left before restore`);
      }
    });

    it('stops reading from a sender past maxQueuedBytes during a hold and delivers every byte after restore', async () => {
      const total = 16 * 1024 * 1024;
      let received = 0;
      let done: () => void = () => {};
      const finished = new Promise<void>((resolve) => (done = resolve));
      const port = await startTarget((socket) => socket.on('data', (d: Buffer) => {
        received += d.length;
        if (received === total) done();
      }));
      const proxy = await startProxy({ target: { port }, maxQueuedBytes: 256 * 1024 });
      const client = await connect(proxy.port);
      proxy.cut({ mode: 'hold' });
      client.write(Buffer.alloc(total, 7));
      await waitUntil(() => proxy.stats().paused_senders === 1, 'the proxy pauses the sender');
      // One read (at most 64 KiB on a net socket) may cross the limit before the pause takes effect.
      assert.ok(proxy.stats().queued_up <= 256 * 1024 + 64 * 1024, `queued ${proxy.stats().queued_up}`);
      assert.equal(received, 0);
      proxy.restore();
      await withDeadline(finished, `${total} bytes at the sink`);
      assert.equal(proxy.stats().paused_senders, 0);
    });

    it('resets open connections and refuses new ones in reset mode until restore', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() } });
      const first = await connect(proxy.port);
      await echoRoundTrip(first);

      const firstClosed = closed(first);
      proxy.cut({ mode: 'reset' });
      await firstClosed;

      const refused = net.connect({ host: '127.0.0.1', port: proxy.port });
      teardown.add(() => refused.destroy());
      let refusedData = 0;
      refused.on('data', (d: Buffer) => void (refusedData += d.length));
      refused.on('connect', () => refused.write('ping\n'));
      await closed(refused);
      assert.equal(refusedData, 0);
      assert.equal(proxy.stats().refused, 1);

      proxy.restore();
      await echoRoundTrip(await connect(proxy.port));
    });
  });

  describe('#transitOf', () => {
    it('returns the transit of the chunk holding a byte, and undefined past the recorded bytes', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() }, up: { delayMs: 20 }, down: { delayMs: 20 } });
      const socket = await connect(proxy.port);
      await echoRoundTrip(socket, 'abcdef\n');
      const chunk = proxy.chunkAt('up', 6)!;
      assert.deepEqual([chunk.connection, chunk.offset, chunk.bytes], [proxy.latestConnection, 0, 7]);
      assert.equal(proxy.transitOf('up', 6), chunk.transitNs);
      assert.ok(chunk.transitNs >= 20 * MS);
      assert.ok(proxy.groundTruthNs(6, 6)! >= 20 * MS);
      assert.equal(proxy.transitOf('up', 7), undefined);
      assert.equal(proxy.transitOf('up', 0, proxy.latestConnection + 1), undefined);
    });

    it('keeps only the newest historyLimit records and forgets the evicted ones', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() }, historyLimit: 2 });
      const socket = await connect(proxy.port);
      for (const message of ['a\n', 'b\n', 'c\n']) await echoRoundTrip(socket, message);
      assert.equal(proxy.transitOf('up', 0), undefined);
      assert.deepEqual(proxy.chunks('up').map((c) => c.offset), [2, 4]);
      assert.equal(proxy.stats().records_evicted, 2);
    });
  });

  describe('#firstChunkAfter', () => {
    it('finds the chunk that entered after a given hrtime', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() } });
      const socket = await connect(proxy.port);
      await echoRoundTrip(socket, 'one\n');
      const sinceNs = process.hrtime.bigint();
      await echoRoundTrip(socket, 'two\n');
      assert.equal(proxy.firstChunkAfter('up', sinceNs)?.offset, 4);
      assert.equal(proxy.firstChunkAfter('up', process.hrtime.bigint()), undefined);
    });
  });

  describe('#setLink', () => {
    it('delays bytes entering after the change by the new delay', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() } });
      const socket = await connect(proxy.port);
      assert.ok((await echoRoundTrip(socket)) < SLACK_MS * MS);
      proxy.setLink('up', { delayMs: 30 });
      assert.ok((await echoRoundTrip(socket)) >= 30 * MS);
    });

    it('sends the bytes queued behind a bandwidth cap at the new rate once it is raised', async () => {
      let onAccept: (socket: net.Socket) => void = () => {};
      const accepted = new Promise<net.Socket>((resolve) => (onAccept = resolve));
      // 80 kbit/s: 100 KB take 10 s at the old rate.
      const proxy = await startProxy({ target: { port: await startTarget((socket) => onAccept(socket)) }, up: { bandwidthBps: 80_000 } });
      const client = await connect(proxy.port);
      const total = 100_000;
      let entered = 0;
      const allEntered = new Promise<void>((resolve) => proxy.on('enter', (e) => {
        entered += e.bytes;
        if (entered === total) resolve();
      }));
      client.write(Buffer.alloc(total, 1));
      await withDeadline(allEntered, 'every byte in the proxy');
      const serverSide = await accepted;
      const arrived = receive(serverSide, total);
      proxy.setLink('up', { bandwidthBps: 100_000_000 });
      // receive() gives up after 5 s, half the time the old pace needs.
      assert.equal((await arrived).data.length, total);
      assert.equal(proxy.stats().queued_up, 0);
    });
  });

  describe('#close', () => {
    it('destroys open connections and resolves again when called twice', async () => {
      const proxy = await startProxy({ target: { port: await startEcho() } });
      const socket = await connect(proxy.port);
      await echoRoundTrip(socket);
      const socketClosed = closed(socket);
      await proxy.close();
      await socketClosed;
      await proxy.close();
      assert.equal(proxy.stats().connections, 0);
    });
  });
});
