/**
 * Found by pointing the client at a hostile server: a max_frame_bytes from a hello the client never asked for, or
 * from an earlier connection, made it drop every later message for good, whatever the server it talked to later.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { FastSocketError, type FastSocketClient } from '../../src/fastsocket';
import { capturingLogger, startClient } from '../support/fixtures';
import { isMessage, type RawConnection, RawServer } from '../support/raw-server';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';
import { waitForEvent, waitUntil, withDeadline } from '../support/wait';

const isHello = (f: Record<string, unknown>): boolean => f.type === 'hello';

/**
 * Sends 100 B, more than the limit of 50 the hostile hello gave: the client must write it on `conn` (not refuse it
 * as too large), and it is delivered once acknowledged there.
 */
async function deliversOver50Bytes(client: FastSocketClient, conn: RawConnection, where: string): Promise<void> {
  const sent = client.send('x'.repeat(100)).catch((e: unknown) => e);
  const first = await Promise.race([sent, conn.waitForCount(isMessage, 1, `the message on ${where}`)]);
  assert.ok(!(first instanceof FastSocketError), `send rejected: ${(first as Error).message}`);
  const [m] = first as Array<Record<string, unknown>>;
  conn.send({ id: m!.id, type: 'ack' });
  assert.deepEqual(Object.keys((await withDeadline(sent, 'the message acknowledged')) as object).sort(), ['id', 'resent', 'rtt_ns']);
}

describe('FastSocketClient against a hostile server', () => {
  const teardown = useTeardown();

  it('ignores the max_frame_bytes of a hello it did not send a hello for', async () => {
    const raw = await RawServer.start(teardown);
    const client = await startClient(teardown, raw.url);
    const heard = waitForEvent(client, 'hello');
    await client.connect();
    const conn1 = await raw.connection(1);
    conn1.send({ type: 'hello', protocol: 1, max_frame_bytes: 50 });
    await heard;
    await deliversOver50Bytes(client, conn1, 'the first connection');
    assert.equal(client.stats().dropped, 0);
  });

  it('takes the limit of each connection from that connection\'s hello answer, not from an earlier one', async () => {
    const raw = await RawServer.start(teardown);
    const client = await startClient(teardown, raw.url, { clientId: 'veh-1' });
    await client.connect();
    const conn1 = await raw.connection(1);
    await conn1.waitForFrame(isHello, 'the first hello');
    const heard = waitForEvent(client, 'hello');
    conn1.send({ type: 'hello', protocol: 1, max_frame_bytes: 50 });
    await heard;
    conn1.destroy();
    // The server behind the address now is another one (restarted with a larger limit, or one that gives none).
    const conn2 = await raw.connection(2);
    await conn2.waitForFrame(isHello, 'the second hello');
    const heardAgain = waitForEvent(client, 'hello');
    conn2.send({ type: 'hello', protocol: 1 });
    await heardAgain;
    await deliversOver50Bytes(client, conn2, 'the second connection');
    assert.equal(client.stats().dropped, 0);
  });

  it('counts and names a ws:// server that breaks the WebSocket protocol (a masked frame), and reconnects', async () => {
    // A server that upgrades by hand and answers every connection with a masked text frame, which RFC 6455 forbids
    // a server to send.
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.on('error', () => undefined);
      socket.once('data', (head: Buffer) => {
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x7b ^ 1, 0x7d ^ 2]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const sockets = new Set<net.Socket>();
    server.on('connection', (s) => sockets.add(s));
    teardown.add(() => {
      for (const s of sockets) s.destroy();
    });
    const logger = capturingLogger();
    const client = await startClient(teardown, `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, { logger });
    await client.connect();
    await waitUntil(() => client.stats().closed_protocol >= 2 && connections >= 2, () => `closed_protocol ${client.stats().closed_protocol} after ${connections} connection(s)`);
    assert.ok(logger.lines.some((l) => l.startsWith('warn') && /MASK must be clear/.test(l)), logger.lines.join('\n'));
  });

  /**
   * A ws:// server (the ws library, which echoes the close code it is sent, as RFC 6455 asks) that answers message 1
   * as `answer` says on each connection; closed, with its connections, at teardown.
   */
  async function wsServer(answer: (ws: WebSocket, frame: Record<string, unknown>, connection: number) => void): Promise<{ url: string; connections: () => number }> {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    let connections = 0;
    wss.on('connection', (ws) => {
      const n = ++connections;
      ws.on('error', () => undefined);
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as Record<string, unknown>;
        if (frame.type === 'message') answer(ws, frame, n);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.add(() => {
      for (const ws of wss.clients) ws.terminate();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, connections: () => connections };
  }

  // The client closed with 1009 itself (the server's frame was a byte over its max_frame_bytes), the server echoed the
  // code, and the client read the echo as the server's verdict on our frames: each connection dropped a message,
  // FS_ERR_PAYLOAD 'server closed the connection (1009): message of 7 bytes is too large for it'.
  it('does not take the server\'s echo of our own ws close code for the server\'s verdict, and drops nothing', async () => {
    const maxFrameBytes = 1000;
    const server = await wsServer((ws, frame, n) => {
      if (n === 1) ws.send(`{"pad":"${'x'.repeat(maxFrameBytes + 1 - 10)}"}`);
      else ws.send(JSON.stringify({ id: frame.id, type: 'ack' }));
    });
    const client = await startClient(teardown, server.url, { maxFrameBytes });
    const sent = client.send({ i: 0 });
    await withDeadline(sent, 'the message acknowledged on the second connection');
    assert.equal(client.stats().closed_oversize, 1);
    assert.equal(client.stats().dropped, 0);
  });

  // Said only at the info level, without the code: a user at the default level saw nothing until, at the 3rd close,
  // a warning that blamed the oldest message's size.
  it('names the code and reason a ws:// server closes with, in one warning however often it does', async () => {
    const server = await wsServer((ws) => ws.close(4000, 'maintenance'));
    const logger = capturingLogger();
    const client = await startClient(teardown, server.url, { logger });
    client.send('x').catch(() => undefined);
    await waitUntil(() => server.connections() >= 3, () => `3 connections, got ${server.connections()}`);
    const warnings = logger.lines.filter((l) => l.startsWith('warn') && l.includes('closed the connection with'));
    assert.deepEqual(warnings, [`warn ${server.url} closed the connection with 4000 (a code of the server's application): "maintenance"; 1 messages unacknowledged, retrying`]);
  });

  // 'disconnect' said { error: null } for a close the server began with 1008 "token expired" as for an idle timeout, so
  // a program (and `send --json`) could not tell the two apart without reading the log.
  it('tells disconnect listeners the code and reason a ws:// server closed with, and null for a close without one', async () => {
    for (const [close, expected] of [
      [(ws: WebSocket) => ws.close(4000, 'maintenance'), { closeCode: 4000, closeReason: 'maintenance' }],
      [(ws: WebSocket) => ws.close(), { closeCode: null, closeReason: '' }],
      [(ws: WebSocket) => ws.terminate(), { closeCode: null, closeReason: '' }],
    ] as const) {
      const server = await wsServer((ws) => close(ws));
      const client = await startClient(teardown, server.url);
      client.send('x').catch(() => undefined);
      const [info] = await waitForEvent<[unknown]>(client, 'disconnect', { ms: 5_000 });
      assert.deepEqual(info, { error: null, ...expected });
      client.destroy();
    }
  });

  // The 3rd close's warning guessed at the message's size, a proxy, the scheme or a token, though the server had said
  // why: 'send' against a server closing with 1008 "token expired" printed both, the guesses last.
  it('names the code a ws:// server closes with, not guesses, when the oldest message was unacknowledged on 3 connections', async () => {
    const server = await wsServer((ws) => ws.close(1008, 'token expired'));
    const logger = capturingLogger();
    const client = await startClient(teardown, server.url, { logger });
    client.send('x').catch(() => undefined);
    await waitUntil(() => logger.lines.some((l) => l.includes('was the oldest unacknowledged on 3 connections')), 'the warning of the 3rd close');
    const warning = logger.lines.find((l) => l.includes('was the oldest unacknowledged on 3 connections'))!;
    assert.match(warning, /; the server closed the last one with 1008 \(policy violation\): "token expired"; set maxAttempts/);
    assert.doesNotMatch(warning, /max_frame_bytes|proxy|token it requires/);
  });

  // A server that acks on a new connection, at once, the ids it saw on the last one: the acks came in one read with
  // the first, which let the client write the rest, and found them queued but not yet written. Each was taken as
  // delivered with a T1 from its write on the last connection (hundreds of ms; from 0, the whole monotonic clock, for
  // one never written before), its ack 3 went out carrying that, and its message 1 followed after its ack 3.
  it('takes no ack 2 for a message not yet written on this connection, and measures none from an earlier write', async () => {
    const raw = await RawServer.start(teardown);
    // The clock stands still on each connection and jumps by an hour between them: a T1 measured within the second
    // connection is 0, one from a write on the first is an hour.
    const HOUR_NS = 3600e9;
    let now = HOUR_NS;
    const client = await startClient(teardown, raw.url, { clock: () => now });
    const sent = [0, 1, 2].map((i) => client.send({ i }));
    const conn1 = await raw.connection(1);
    const ids = (await conn1.waitForCount(isMessage, 3, 'the three messages on the first connection')).map((f) => f.id as string);
    raw.once('connection', (conn: RawConnection) => {
      conn.socket.write(ids.map((id) => JSON.stringify({ id, type: 'ack' }) + '\n').join(''));
      conn.on('frame', (f: Record<string, unknown>) => {
        if (isMessage(f)) conn.send({ id: f.id, type: 'ack' });
      });
    });
    now += HOUR_NS;
    conn1.destroy();
    const results = await withDeadline(Promise.all(sent), 'the three messages acknowledged');
    assert.deepEqual(results.map((r) => r.rtt_ns), [0, 0, 0]);
    const conn2 = await raw.connection(2);
    const acks3 = await conn2.waitForCount((f) => f.type === 'ack', 3, 'the three acks 3 on the second connection');
    assert.deepEqual(acks3.map((f) => f.send_and_ack_time_ns), [0, 0, 0]);
  });

  // Counted only: a server that acks other ids than ours held every message unacknowledged without a word, its acks
  // keeping the connection from looking silent.
  it('warns, once however many come, of acks for ids it did not send', async () => {
    const raw = await RawServer.start(teardown);
    const logger = capturingLogger();
    const client = await startClient(teardown, raw.url, { logger });
    client.send('x').catch(() => undefined);
    const conn = await raw.connection(1);
    const m = await conn.waitForFrame(isMessage);
    for (let i = 0; i < 5; i++) conn.send({ id: `not-${String(m.id)}`, type: 'ack' });
    await waitUntil(() => client.stats().unknown_acks === 5, () => `5 unknown acks, got ${client.stats().unknown_acks}`);
    const warnings = logger.lines.filter((l) => l.startsWith('warn'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], new RegExp(`^warn ack from ${raw.url} for id "not-[0-9a-f-]{36}", not the id of a message written on this connection and waiting for its ack: ignored \\(counted in unknown_acks\\); 1 messages unacknowledged$`));
  });

  // 'HTTP 301 instead of a WebSocket upgrade' alone: the user had to find out with curl that the server wants wss://.
  it('names where an HTTP redirect answering the upgrade points', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(301, { location: 'wss://example.org/ingest' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    teardown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = await startClient(teardown, `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    client.send('x').catch(() => undefined);
    const [{ error }] = await waitForEvent<[{ error: Error | null }]>(client, 'disconnect');
    assert.match(error?.message ?? '', /: HTTP 301 instead of a WebSocket upgrade \(a redirect to "wss:\/\/example\.org\/ingest": dial that url\)$/);
  });

  // A server that accepts and then says nothing (another service on the port, one that waits for a request of its
  // own) was reported as 'timed out after 10000 ms', as a host that is down or a firewall that drops would be.
  describe('a server that accepts the connection and does not answer the handshake', () => {
    async function silent(secure: boolean): Promise<number> {
      const c = await testCerts();
      const server = secure ? tls.createServer({ cert: c.serverCert, key: c.serverKey }) : net.createServer();
      const sockets = new Set<net.Socket>();
      server.on(secure ? 'secureConnection' : 'connection', (s: net.Socket) => {
        sockets.add(s);
        s.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      teardown.add(() => {
        for (const s of sockets) s.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      });
      return (server.address() as net.AddressInfo).port;
    }

    for (const [scheme, secureServer, waited] of [
      ['tls', false, 'the TLS handshake'],
      ['wss', false, 'the TLS handshake'],
      ['wss', true, 'the WebSocket upgrade request'],
      ['ws', false, 'the WebSocket upgrade request'],
    ] as const) {
      it(`${scheme}://, the server ${secureServer ? 'silent after the TLS handshake' : 'silent from the start'}: says it waited for ${waited}`, async () => {
        const port = await silent(secureServer);
        const client = await startClient(teardown, `${scheme}://127.0.0.1:${port}`, { connectTimeoutMs: 300 });
        client.send('x').catch(() => undefined);
        const [{ error }] = await waitForEvent<[{ error: Error | null }]>(client, 'disconnect');
        assert.match(error?.message ?? '', new RegExp(`timed out after 300 ms: the server accepted the connection but did not answer ${waited} \\(`));
      });
    }

    // The dial went on after destroy() or close(): its socket stayed open to the server, and its timer kept the
    // process alive, until connectTimeoutMs (10 s by default) ran out.
    for (const [scheme, end] of [['tls', 'destroy'], ['ws', 'destroy'], ['tls', 'close'], ['wss', 'close']] as const) {
      it(`${scheme}://: ${end}() ends a dial the server holds in its handshake`, async () => {
        const c = await testCerts();
        const server = net.createServer();
        const accepted: net.Socket[] = [];
        server.on('connection', (s) => {
          accepted.push(s);
          s.on('error', () => undefined);
          // Read (and drop) what comes, so that the client's end is seen.
          s.resume();
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        teardown.add(() => {
          for (const s of accepted) s.destroy();
          return new Promise<void>((resolve) => server.close(() => resolve()));
        });
        const client = await startClient(teardown, `${scheme}://127.0.0.1:${(server.address() as net.AddressInfo).port}`, {
          connectTimeoutMs: 600_000,
          ...(scheme === 'ws' ? {} : { tls: { ca: c.ca } }),
        });
        const sent = client.send('x').catch((e: unknown) => e);
        await waitUntil(() => accepted.length === 1, 'the dial accepted');
        const closed = waitForEvent(accepted[0]!, 'close');
        if (end === 'destroy') client.destroy();
        else await client.close({ timeoutMs: 0 });
        await closed;
        assert.ok(await sent instanceof FastSocketError);
        assert.equal(client.stats().connect_failures, 0);
      });
    }
  });
});
