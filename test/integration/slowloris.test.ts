import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Scheme } from '../../src/fastsocket';
import { ALL_SCHEMES, caFor, capturingLogger, startClient, startRawPeer, startServer } from '../support/fixtures';
import { isAck2, message1, RawPeer, wsFrameBytes } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { waitForEvent, waitUntil } from '../support/wait';

const IDLE_MS = 300;
const FRAME_MS = 500;
/** The server sweeps at a quarter of its smallest timeout; a close may come that much, plus scheduling, late. */
const LATE_MS = 1_000;

/** Calls `fn(i)` for i in [0, n), one call per `everyMs`; resolves after the last. The pacing is the load, not a wait. */
function paced(n: number, everyMs: number, fn: (i: number) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let i = 0;
    const timer = setInterval(() => {
      fn(i++);
      if (i < n) return;
      clearInterval(timer);
      resolve();
    }, everyMs);
  });
}

/** Writes `bytes` one byte per `everyMs` until they run out or the connection closes. */
function dribble(socket: net.Socket, bytes: Buffer, everyMs: number): void {
  void paced(bytes.length, everyMs, (i) => {
    if (!socket.destroyed) socket.write(bytes.subarray(i, i + 1));
  });
}

/**
 * Writes `frames` back to back, one write per `everyMs`, each frame split across two writes (its second half goes
 * with the first half of the next), so that no write, and so no read of the server, ends on a frame boundary.
 */
function streamMidFrame(socket: net.Socket, frames: Buffer[], everyMs: number): Promise<void> {
  let carry: Buffer = Buffer.alloc(0);
  return paced(frames.length + 1, everyMs, (i) => {
    const next = frames[i] ?? Buffer.alloc(0);
    const half = next.length >> 1;
    if (!socket.destroyed) socket.write(Buffer.concat([carry, next.subarray(0, half)]));
    carry = next.subarray(half);
  });
}

/** The ids of the ack 2s a server sends to a hand-made WebSocket connection (unmasked text frames). */
function rawWebSocketAckIds(socket: net.Socket): string[] {
  const ids: string[] = [];
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      let length = buffered[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        at = 4;
      }
      if (buffered.length < at + length) return;
      const opcode = buffered[0]! & 0x0f;
      const payload = buffered.subarray(at, at + length).toString('utf8');
      buffered = buffered.subarray(at + length);
      if (opcode !== 0x1) continue;
      const frame = JSON.parse(payload) as Record<string, unknown>;
      if (isAck2(String(frame.id))(frame)) ids.push(String(frame.id));
    }
  });
  return ids;
}

describe('FastSocketServer against slow and idle peers (slowloris)', function () {
  this.timeout(20_000);
  const teardown = useTeardown();

  async function server(scheme: Scheme, limits: { idleTimeoutMs?: number; frameTimeoutMs?: number; maxConnections?: number } = {}) {
    return startServer(teardown, scheme, { idleTimeoutMs: IDLE_MS, frameTimeoutMs: 10_000, ...limits });
  }

  describe('idle_timeout_ms', () => {
    for (const scheme of ALL_SCHEMES) {
      it(`closes a ${scheme} connection that sends nothing once idle_timeout_ms has passed, not before`, async () => {
        const { server: s, url } = await server(scheme);
        const opened = performance.now();
        const peer = await RawPeer.connect(url, { ca: await caFor(url) });
        teardown.add(() => peer.destroy());
        const closed = await peer.waitClosed('the idle connection to be closed', IDLE_MS + LATE_MS + 1_000);
        const after = performance.now() - opened;
        assert.ok(after >= IDLE_MS * 0.9, `closed after ${after.toFixed(0)} ms, before idle_timeout_ms (${IDLE_MS})`);
        assert.equal(s.stats().closed_idle, 1);
        if (scheme === 'ws' || scheme === 'wss') assert.equal(closed.code, 1000);
      });
    }

    for (const scheme of ['tls', 'ws', 'wss'] as const) {
      // Regression test for FS-6-HANDSHAKE: a connection enters the server's bookkeeping (idle timeout, max_connections) only once
      // its TLS handshake or HTTP upgrade is done; before that only Node's own timeouts apply (TLS handshakeTimeout
      // 120 s, HTTP headersTimeout 60 s), so a peer that opens TCP connections and sends nothing holds each for a
      // minute or more and is not counted against max_connections.
      it(`closes a raw TCP connection to a ${scheme} server that never starts the handshake within idle_timeout_ms`, async () => {
        const { url } = await server(scheme);
        const opened = performance.now();
        const peer = await RawPeer.connectBare(url);
        teardown.add(() => peer.destroy());
        await peer.waitClosed('the server to close a connection that never sent a byte', IDLE_MS + LATE_MS + 2_000);
        const after = performance.now() - opened;
        assert.ok(after >= IDLE_MS * 0.9, `closed after ${after.toFixed(0)} ms`);
      });
    }

    // Regression test: the handshake timeout was an inactivity timer on the TCP socket, so a handshake dribbled one
    // byte at a time held its connection, and its max_connections slot, for as long as the peer went on.
    for (const scheme of ['tls', 'ws', 'wss'] as const) {
      it(`closes a ${scheme} handshake dribbled one byte at a time at idle_timeout_ms from accept, then serves a good client in its slot`, async () => {
        const handshakeMs = 1_000;
        const { server: s, url } = await server(scheme, { idleTimeoutMs: handshakeMs, maxConnections: 1 });
        const ca = await caFor(url);
        const opened = performance.now();
        const peer = await RawPeer.connectBare(url);
        teardown.add(() => peer.destroy());
        let stream: net.Socket = peer.stream;
        if (scheme === 'wss') {
          stream = tls.connect({ socket: peer.stream, ca, servername: 'localhost' });
          stream.on('error', () => undefined);
          await waitForEvent(stream, 'secureConnect');
        }
        const upgrade = `GET / HTTP/1.1\r\nHost: ${new URL(url).host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Pad: ${'a'.repeat(200)}`;
        // A TLS record header announcing a 255-byte ClientHello, whose bytes then never stop coming.
        const clientHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01]), Buffer.alloc(250, 0x01)]);
        dribble(stream, scheme === 'tls' ? clientHello : Buffer.from(upgrade), 100);
        await peer.waitClosed('the dribbled handshake to be cut off', handshakeMs + LATE_MS + 1_000);
        const after = performance.now() - opened;
        assert.ok(after >= handshakeMs * 0.9, `closed after ${after.toFixed(0)} ms, before the handshake deadline (${handshakeMs})`);
        assert.equal(s.stats().closed_idle, 1);
        const good = await RawPeer.connect(url, { ca });
        teardown.add(() => good.destroy());
        await servesEach([good], 'after-dribble');
      });
    }

    // Regression test: the handshake deadline was a Node timer of idle_timeout_ms, which past 2^31 - 1 ms fires after
    // 1 ms (with a TimeoutOverflowWarning), so a long idle timeout cut every TLS handshake and WebSocket upgrade.
    for (const scheme of ['tls', 'ws', 'wss'] as const) {
      it(`serves a ${scheme} client when idle_timeout_ms is longer than a Node timer holds`, async () => {
        const overflows: string[] = [];
        const onWarning = (w: Error) => {
          if (w.name === 'TimeoutOverflowWarning') overflows.push(w.message);
        };
        process.on('warning', onWarning);
        teardown.add(() => process.off('warning', onWarning));
        const { server: s, url } = await server(scheme, { idleTimeoutMs: 2 ** 31 });
        const peer = await RawPeer.connect(url, { ca: await caFor(url) });
        teardown.add(() => peer.destroy());
        peer.sendFrame(message1('long-idle', 1));
        await peer.waitForFrame(isAck2('long-idle'), 'the ack of a message on a server with a long idle timeout');
        // The warning is emitted on the next tick after the timer was made: by now it has come, if it comes.
        await new Promise<void>((r) => setImmediate(r));
        assert.deepEqual(overflows, []);
        assert.equal(s.stats().closed_idle, 0);
      });
    }

    it('keeps a tcp connection open while it sends a frame within every idle_timeout_ms', async () => {
      const { server: s, url } = await server('tcp');
      const peer = await startRawPeer(teardown, url);
      // Ack 3 for an unknown id is a valid frame that asks for nothing; 9 of them span three idle timeouts.
      await paced(9, IDLE_MS / 3, (i) => peer.sendFrame(`{"id":"keepalive-${i}","type":"ack","send_and_ack_time_ns":1}`));
      peer.sendFrame(message1('after-keepalive', 1));
      await peer.waitForFrame(isAck2('after-keepalive'), 'the ack of a message after three idle timeouts');
      assert.equal(s.stats().closed_idle, 0);
      assert.equal(s.stats().ack3_unknown, 9);
    });
  });

  describe('frame_timeout_ms', () => {
    for (const scheme of ['tcp', 'tls'] as const) {
      it(`closes a ${scheme} connection whose frame trickles in one byte per interval once frame_timeout_ms has passed`, async () => {
        const { server: s, url } = await server(scheme, { frameTimeoutMs: FRAME_MS });
        const peer = await RawPeer.connect(url, { ca: await caFor(url) });
        teardown.add(() => peer.destroy());
        const started = performance.now();
        // One byte every IDLE_MS/3 keeps the idle timeout from firing; only the frame timeout can end this.
        const frame = Buffer.from(message1('slow', 'x'.repeat(200)));
        dribble(peer.stream, frame, IDLE_MS / 3);
        await peer.waitClosed('the slow frame to be cut off', FRAME_MS + LATE_MS + 1_000);
        const after = performance.now() - started;
        assert.ok(after >= FRAME_MS * 0.9, `closed after ${after.toFixed(0)} ms, before frame_timeout_ms (${FRAME_MS})`);
        assert.equal(s.stats().closed_frame_timeout, 1);
        assert.equal(s.stats().closed_idle, 0);
      });
    }

    // Regression test for FS-6-WS-FRAME-TIMEOUT: the ws transport never sets partialSinceMs and refreshes lastActivityMs only on whole
    // messages, so a WebSocket message that trickles in is not cut off at frame_timeout_ms (only, later, by the idle
    // timeout).
    it('closes a ws connection whose WebSocket message trickles in one byte per interval once frame_timeout_ms has passed', async () => {
      const { server: s, url } = await server('ws', { idleTimeoutMs: 4_000, frameTimeoutMs: FRAME_MS });
      const peer = await RawPeer.connectRawWebSocket(url);
      teardown.add(() => peer.destroy());
      await waitUntil(() => s.stats().connections === 1, 'the upgraded connection to be accepted');
      const started = performance.now();
      dribble(peer.stream, wsFrameBytes(message1('slow-ws', 'x'.repeat(60))), 100);
      await waitUntil(() => s.stats().closed_frame_timeout === 1, 'the slow WebSocket message to be cut off', FRAME_MS + LATE_MS + 1_000);
      const after = performance.now() - started;
      assert.ok(after >= FRAME_MS * 0.9, `cut off after ${after.toFixed(0)} ms`);
      // The close handshake gives the peer a moment to answer; this one never does, so the socket goes a little later.
      await peer.waitClosed('the connection of the slow WebSocket message to be closed', 5_000);
      assert.equal(s.stats().closed_idle, 0);
    });
  });

  describe('frame_timeout_ms on a busy, slow link', () => {
    // Regression test for the frame clock running from the first unfinished read and restarting only when a read
    // ended exactly on a frame boundary: on a saturated slow link reads keep ending mid-frame, so a connection whose
    // every frame completed in one write interval was cut off at frame_timeout_ms.
    for (const scheme of ['tcp', 'tls', 'ws'] as const) {
      it(`keeps a ${scheme} connection whose reads all end mid-frame open and acks every frame, for several frame_timeout_ms`, async () => {
        const { server: s, url } = await server(scheme, { frameTimeoutMs: FRAME_MS });
        const peer = scheme === 'ws' ? await RawPeer.connectRawWebSocket(url) : await RawPeer.connect(url, { ca: await caFor(url) });
        teardown.add(() => peer.destroy());
        const acked = scheme === 'ws' ? rawWebSocketAckIds(peer.stream) : null;
        // Each frame completes one write (50 ms) after it starts; 40 of them span four frame timeouts.
        const ids = Array.from({ length: 40 }, (_, i) => `busy-${i}`);
        const frames = ids.map((id) => {
          const text = message1(id, 'x'.repeat(40));
          return scheme === 'ws' ? wsFrameBytes(text) : Buffer.from(text + '\n');
        });
        await streamMidFrame(peer.stream, frames, FRAME_MS / 10);
        const ackedIds = (): string[] => acked ?? (peer.frames as Array<Record<string, unknown>>).filter((f) => isAck2(String(f.id))(f)).map((f) => String(f.id));
        await waitUntil(() => ackedIds().length === ids.length || peer.isClosed, 'every frame to be acked');
        assert.equal(peer.isClosed, false, `closed after ${ackedIds().length} of ${ids.length} acks`);
        assert.deepEqual(ackedIds(), ids);
        assert.equal(s.stats().closed_frame_timeout, 0);
      });
    }

    it('still closes a tcp connection whose frame, started after complete ones, never completes', async () => {
      const { server: s, url } = await server('tcp', { frameTimeoutMs: FRAME_MS });
      const peer = await startRawPeer(teardown, url);
      peer.sendBytes(`${message1('whole', 1)}\n{"id":"never-end`);
      await peer.waitForFrame(isAck2('whole'), 'the ack of the complete frame');
      dribble(peer.stream, Buffer.from('x'.repeat(100)), IDLE_MS / 3);
      await peer.waitClosed('the unfinished frame to be cut off', FRAME_MS + LATE_MS + 1_000);
      assert.equal(s.stats().closed_frame_timeout, 1);
    });
  });

  describe('max_connections', () => {
    for (const scheme of ALL_SCHEMES) {
      it(`closes a ${scheme} connection past max_connections at once and keeps serving the others`, async () => {
        const { server: s, url } = await server(scheme, { idleTimeoutMs: 10_000, maxConnections: 3 });
        const ca = await caFor(url);
        const peers: RawPeer[] = [];
        for (let i = 0; i < 3; i++) {
          const p = await RawPeer.connect(url, { ca });
          teardown.add(() => p.destroy());
          peers.push(p);
        }
        await waitUntil(() => s.stats().connections === 3, '3 connections to be accepted');
        const extra = await RawPeer.connect(url, { ca }).catch((err: Error) => err);
        if (extra instanceof RawPeer) {
          teardown.add(() => extra.destroy());
          // "At once": well before any timeout of this server could have fired.
          const closed = await extra.waitClosed('the connection past max_connections to be closed', 1_000);
          if (scheme === 'ws' || scheme === 'wss') assert.equal(closed.code, 1013);
        }
        assert.equal(s.stats().connections_refused, 1);
        await servesEach(peers, 'kept');
        peers[0].destroy();
        await waitUntil(() => s.stats().connections === 2, 'the freed slot to be released');
        const next = await RawPeer.connect(url, { ca });
        teardown.add(() => next.destroy());
        await servesEach([next], 'next');
      });
    }

    // Regression test for FS-6-HANDSHAKE (see idle_timeout_ms above): connections still in their TLS handshake or HTTP upgrade are
    // not counted, so any number of them can be held open.
    it('counts ws connections still waiting for their upgrade against max_connections', async () => {
      const { server: s, url } = await server('ws', { idleTimeoutMs: 10_000, maxConnections: 3 });
      const raws: RawPeer[] = [];
      for (let i = 0; i < 4; i++) {
        const raw = await RawPeer.connectBare(url);
        teardown.add(() => raw.destroy());
        raws.push(raw);
      }
      await raws[3].waitClosed('the 4th connection to be closed at once', 1_000);
      assert.equal(s.stats().connections_refused, 1);
    });

    // Refused before its handshake, a client was told only that the server was on another scheme ("a server that does not
    // speak TLS", "a tcp:// or tls:// server?"), and so was one whose address was blocked after failed authentications.
    for (const scheme of ['tls', 'ws', 'wss'] as const) {
      it(`tells a ${scheme} client refused before its handshake that the server may be full or blocking its address`, async () => {
        const { url } = await server(scheme, { idleTimeoutMs: 10_000, maxConnections: 1 });
        const holder = await RawPeer.connectBare(url);
        teardown.add(() => holder.destroy());
        const ca = await caFor(url);
        const client = await startClient(teardown, url, { tls: ca === undefined ? undefined : { ca } });
        const failed = waitForEvent<[{ error: Error | null }]>(client, 'disconnect');
        client.send('x').catch(() => undefined);
        const [{ error }] = await failed;
        assert.match(error?.message ?? '', /at its max_connections, or blocking this address .* after too many failed authentications/);
      });
    }

    // A full tcp:// or tls:// server closes a new connection without a word: its client blamed only the token or the scheme.
    for (const scheme of ['tcp', 'tls'] as const) {
      it(`tells a ${scheme} client whose connections a full server closes that the server may be full`, async () => {
        const { url } = await server(scheme, { idleTimeoutMs: 10_000, maxConnections: 1 });
        const ca = await caFor(url);
        const holder = await RawPeer.connect(url, { ca });
        teardown.add(() => holder.destroy());
        const logger = capturingLogger();
        const client = await startClient(teardown, url, { clientId: 'veh-late', logger, tls: ca === undefined ? undefined : { ca } });
        client.send('x').catch(() => undefined);
        await waitUntil(() => logger.lines.some((l) => l.startsWith('warn disconnected from')), 'a warning of the closed connection');
        assert.match(logger.lines.find((l) => l.startsWith('warn disconnected from'))!, /before the server answered the hello \(.*a server at its max_connections/);
      });
    }
  });
});

async function servesEach(peers: RawPeer[], tag: string): Promise<void> {
  await Promise.all(
    peers.map((p, i) => {
      p.sendFrame(message1(`${tag}-${i}`, { i }));
      return p.waitForFrame(isAck2(`${tag}-${i}`), `ack 2 on connection ${tag}-${i}`);
    }),
  );
}
