import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import WebSocket from 'ws';
import type { FastSocketServer, Logger, MessageEvent, Scheme } from '../../src/fastsocket';
import { ALL_SCHEMES, caFor, capturingLogger, startClient, startRawPeer, startServer } from '../support/fixtures';
import { isAck2, message1, RawPeer } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { collect, waitForEvent, waitUntil, withDeadline } from '../support/wait';

const hello = (token?: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'hello', protocol: 1, client_id: 'veh-auth', ...(token === undefined ? {} : { token }), ...extra });

/** Log lines holding any 8 consecutive characters of `secret` (random): a part of a secret is a leak too. */
function leaks(lines: string[], secret: string): string[] {
  const windows = Array.from({ length: secret.length - 7 }, (_, i) => secret.slice(i, i + 8));
  return lines.filter((l) => windows.some((w) => l.includes(w)));
}

/** A WebSocket with chosen upgrade headers, collecting the frames it receives. */
async function headerPeer(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket; frames: Array<Record<string, unknown>>; closed: Promise<number> }> {
  const ws = new WebSocket(url, { headers, ca: await caFor(url), perMessageDeflate: false });
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await withDeadline(new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  }), `a WebSocket with headers to ${url}`);
  return { ws, frames, closed };
}

describe('FastSocketServer authentication with a shared token', function () {
  this.timeout(20_000);
  const teardown = useTeardown();
  let token: string;
  beforeEach(() => {
    // A letter first: a JSON parser reads a bare word differently from a bare number, and a token may be either.
    token = `s${randomBytes(16).toString('hex')}`;
  });

  async function guarded(scheme: Scheme, logger?: Logger): Promise<{ server: FastSocketServer; url: string; messages: MessageEvent[] }> {
    const { server, url } = await startServer(teardown, scheme, { token, logger });
    return { server, url, messages: collect<MessageEvent>(server, 'message') };
  }

  describe('hello token', () => {
    for (const scheme of ALL_SCHEMES) {
      it(`serves a client whose hello carries the token over ${scheme}`, async () => {
        const { server, url, messages } = await guarded(scheme);
        const client = await startClient(teardown, url, { token, clientId: 'veh-ok' });
        const latency = waitForEvent(server, 'latency');
        const r = await withDeadline(client.send({ n: 1 }), 'the authenticated send');
        assert.deepEqual(messages.map((m) => [m.id, m.payload, m.client_id]), [[r.id, { n: 1 }, 'veh-ok']]);
        await latency;
        assert.equal(server.stats().auth_failures, 0);
      });
    }

    for (const scheme of ['ws', 'wss'] as const) {
      it(`serves a ${scheme} client whose token an HTTP header cannot carry (beyond Latin-1) through its hello`, async () => {
        token = `пароль-🔑-${token}`;
        const { server, url, messages } = await guarded(scheme);
        const client = await startClient(teardown, url, { token });
        const r = await withDeadline(client.send({ n: 1 }), 'the send with a non-Latin-1 token');
        assert.deepEqual(messages.map((m) => m.id), [r.id]);
        assert.deepEqual({ connectFailures: client.stats().connect_failures, authFailures: server.stats().auth_failures }, { connectFailures: 0, authFailures: 0 });
      });
    }

    for (const scheme of ['ws', 'wss'] as const) {
      it(`serves a ${scheme} peer that sends the token as Authorization: Bearer and no hello`, async () => {
        const { server, url, messages } = await guarded(scheme);
        const peer = await headerPeer(url, { authorization: `Bearer ${token}` });
        teardown.add(() => peer.ws.terminate());
        peer.ws.send(message1('bearer-1', { via: 'header' }));
        await waitUntil(() => peer.frames.some(isAck2('bearer-1')), 'ack 2 for the Bearer-authenticated message');
        assert.deepEqual(messages.map((m) => [m.id, m.payload]), [['bearer-1', { via: 'header' }]]);
        assert.equal(server.stats().auth_failures, 0);
      });
    }

    it('takes the Bearer scheme in any case, as HTTP reads auth schemes (RFC 7235 §2.1)', async () => {
      const { server, url, messages } = await guarded('ws');
      const peer = await headerPeer(url, { authorization: `bearer ${token}` });
      teardown.add(() => peer.ws.terminate());
      peer.ws.send(message1('bearer-lower', { via: 'header' }));
      await waitUntil(() => peer.frames.some(isAck2('bearer-lower')) || server.stats().auth_failures > 0, 'ack 2 or an authentication failure');
      assert.deepEqual({ handed: messages.map((m) => m.id), failures: server.stats().auth_failures }, { handed: ['bearer-lower'], failures: 0 });
    });
  });

  describe('rejection before the application sees anything', () => {
    const firstFrames: Array<[string, () => string]> = [
      ['a hello with a wrong token', () => hello(`${token}x`)],
      ['a hello without a token', () => hello()],
      ['a hello whose token is not a string', () => hello(12345)],
      ['no hello (message 1 first)', () => message1('sneaky-0', { steal: true })],
      ['a first frame that is not JSON', () => `{"type":"hello","protocol":1,"token":"${token}"`],
    ];
    for (const scheme of ALL_SCHEMES) {
      const cases = scheme === 'tcp' || scheme === 'ws' ? firstFrames : firstFrames.slice(0, 1);
      for (const [what, first] of cases) {
        it(`closes a ${scheme} peer whose first frame is ${what}, and hands none of its pipelined messages over`, async () => {
          const { server, url, messages } = await guarded(scheme);
          const peer = await RawPeer.connect(url, { ca: await caFor(url) });
          teardown.add(() => peer.destroy());
          // The bad first frame and messages behind it arrive together, as from a client that does not wait.
          const frames = [first(), message1('sneaky-1', 1), hello(token), message1('sneaky-2', 2)];
          if (scheme === 'tcp' || scheme === 'tls') peer.sendBytes(frames.join('\n') + '\n');
          else for (const f of frames) peer.sendFrame(f);
          const closed = await peer.waitClosed('the unauthenticated peer to be closed');
          if (scheme === 'ws' || scheme === 'wss') assert.equal(closed.code, 1008);
          assert.deepEqual(messages, [], 'a message of an unauthenticated peer reached the application');
          assert.deepEqual(peer.frames.filter((f) => (f as { type?: string }).type === 'ack'), [], 'an unauthenticated message was acked');
          assert.equal(server.stats().auth_failures, 1);
          assert.equal(server.stats().messages, 0);
        });
      }
    }

    for (const scheme of ['ws', 'wss'] as const) {
      it(`closes a ${scheme} peer with a wrong Bearer token at its first message`, async () => {
        const { server, url, messages } = await guarded(scheme);
        const peer = await headerPeer(url, { authorization: `Bearer ${token}x` });
        teardown.add(() => peer.ws.terminate());
        peer.ws.send(message1('wrong-bearer', 1));
        assert.equal(await withDeadline(peer.closed, 'the wrong Bearer peer to be closed'), 1008);
        assert.deepEqual(messages, []);
        assert.deepEqual(peer.frames, []);
        assert.equal(server.stats().auth_failures, 1);
      });
    }
  });

  describe('what the refused client says', () => {
    for (const scheme of ['tcp', 'tls'] as const) {
      it(`warns over ${scheme} that the server closed before answering the hello, where a wrong token is the likely cause`, async () => {
        const { url } = await guarded(scheme);
        const logger = capturingLogger();
        const client = await startClient(teardown, url, { token: `${token}x`, clientId: 'veh-wrong', logger });
        client.connect().catch(() => undefined);
        await waitUntil(() => logger.lines.some((l) => l.startsWith('warn disconnected from')), 'a warning about the closed connection');
        assert.match(logger.lines.find((l) => l.startsWith('warn disconnected from'))!, /before the server answered the hello \(a wrong or missing token\?/);
      });
    }

    it('names a missing token among the causes when it sent no hello (no clientId, no token) and connections keep closing on its message', async () => {
      const { url } = await guarded('tcp');
      const logger = capturingLogger();
      const client = await startClient(teardown, url, { logger, reconnectMinMs: 20, reconnectMaxMs: 20, reconnectJitter: 0 });
      client.send({ n: 1 }).catch(() => undefined);
      await waitUntil(() => logger.lines.some((l) => l.includes('was the oldest unacknowledged')), 'the warning after three closed connections');
      assert.match(logger.lines.find((l) => l.includes('was the oldest unacknowledged'))!, /a token it requires \(token, --token-file\)\?/);
    });

    it('says only at info that it was disconnected when the server had answered the hello (a server restart)', async () => {
      const { server, url } = await guarded('tcp');
      const logger = capturingLogger();
      const client = await startClient(teardown, url, { token, clientId: 'veh-ok', logger });
      await withDeadline(client.send({ n: 1 }), 'the authenticated send');
      await server.close();
      await waitUntil(() => logger.lines.some((l) => l.includes('disconnected from')), 'the disconnect');
      assert.deepEqual(logger.lines.filter((l) => l.includes('disconnected from')).map((l) => l.split(' ')[0]), ['info']);
    });
  });

  describe('rate limit of failed authentications', () => {
    /** A raw TCP connection from `localAddress` that writes `frames`; resolves once the server has closed it. */
    async function attempt(url: string, localAddress: string, frames: string[]): Promise<{ acked: boolean }> {
      const socket = await connectFrom(url, localAddress);
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(frames.join('\n') + '\n');
      await withDeadline(closed, `the server to close a connection from ${localAddress}`);
      return { acked: received.includes('"type":"ack"') };
    }

    it('refuses every connection from an address after repeated failures, the right token included, and still serves other addresses', async () => {
      const { server, url, messages } = await guarded('tcp');
      let failures = 0;
      while (server.stats().connections_refused === 0) {
        assert.ok(failures < 50, 'no rate limit after 50 failed authentications from one address');
        await attempt(url, '127.0.0.1', [hello('guess-' + failures)]);
        failures++;
      }
      const refusedAfter = failures;
      assert.ok(refusedAfter > 1, 'the very first failure already blocked the address');
      // Blocked: even the right token is closed unread.
      const blocked = await attempt(url, '127.0.0.1', [hello(token), message1('from-blocked', 1)]);
      assert.equal(blocked.acked, false);
      assert.equal(messages.length, 0);
      // The limit is per address: another loopback address with the right token is served.
      const other = await connectFrom(url, '127.0.0.2');
      teardown.add(() => other.destroy());
      other.write(hello(token) + '\n' + message1('from-other', 2) + '\n');
      await waitUntil(() => messages.some((m) => m.id === 'from-other'), 'the message from 127.0.0.2 to be handed over');
      assert.ok(server.stats().auth_failures >= refusedAfter - 1);
    });
  });

  // A browser opens a WebSocket to any address for any page, loopback included: a server without a token took a web page's
  // messages in silence.
  describe('web pages (a WebSocket upgrade with an Origin header)', () => {
    const origin = 'https://pages.example';
    const webPageWarnings = (lines: string[]) => lines.filter((l) => l.startsWith('warn ') && l.includes('is a web page (Origin: "https://pages.example")'));

    for (const scheme of ['ws', 'wss'] as const) {
      it(`warns once a ${scheme} server that requires no token has taken a connection from one, naming the token`, async () => {
        const logger = capturingLogger();
        const { url } = await startServer(teardown, scheme, { logger });
        const page = await headerPeer(url, { origin });
        teardown.add(() => page.ws.terminate());
        const lines = webPageWarnings(logger.lines);
        assert.equal(lines.length, 1, logger.lines.join('\n'));
        assert.match(lines[0], /requires no token: set one \(token, --token-file, token_file\)/);
      });
    }

    it('says nothing of one when the server requires a token, nor of a fastsocket client', async () => {
      const logger = capturingLogger();
      const guardedServer = await guarded('ws', logger);
      const page = await headerPeer(guardedServer.url, { origin, authorization: `Bearer ${token}` });
      teardown.add(() => page.ws.terminate());
      const open = await startServer(teardown, 'ws', { logger });
      const client = await startClient(teardown, open.url);
      await client.send('from a fastsocket client');
      assert.deepEqual(webPageWarnings(logger.lines), []);
      assert.deepEqual(logger.lines.filter((l) => l.includes('web page')), []);
    });

    // Python's websocket-client sends an Origin of the server it dials (http://host:port) by default; a page's origin
    // is never this server's, which serves no pages.
    it('says nothing of a client whose Origin names the server itself, as websocket-client sends it', async () => {
      const logger = capturingLogger();
      const { url } = await startServer(teardown, 'ws', { logger });
      const peer = await headerPeer(url, { origin: `http://${new URL(url).host}` });
      teardown.add(() => peer.ws.terminate());
      assert.deepEqual(logger.lines.filter((l) => l.includes('web page')), []);
    });
  });

  describe('secrets in logs', () => {
    it('never writes the token, or a wrong one a peer tried, to any log line of the server or the client', async () => {
      for (const scheme of ALL_SCHEMES) {
        const serverLog = capturingLogger();
        const clientLog = capturingLogger();
        const wrong = `w${randomBytes(16).toString('hex')}`;
        const { url } = await guarded(scheme, serverLog);
        const good = await startClient(teardown, url, { token, clientId: 'veh-good', logger: clientLog });
        await withDeadline(good.send({ ok: true }), 'the good send');
        const bad = await startClient(teardown, url, { token: wrong, clientId: 'veh-bad', logger: clientLog });
        bad.send({ never: true }).catch(() => undefined);
        await waitForEvent(bad, 'disconnect');
        const raw = await RawPeer.connect(url, { ca: await caFor(url) });
        teardown.add(() => raw.destroy());
        raw.sendFrame(hello(wrong));
        await raw.waitClosed();
        await good.close();
        bad.destroy();
        const lines = [...serverLog.lines, ...clientLog.lines];
        assert.ok(serverLog.lines.some((l) => l.includes('authentication failed')), `the server logged no failed authentication over ${scheme}`);
        assert.deepEqual(leaks(lines, token), [], `the token was logged over ${scheme}`);
        assert.deepEqual(leaks(lines, wrong), [], `a wrong token was logged over ${scheme}`);
      }
    });

    // Regression test for FS-6-TOKEN-LOG: a frame that is not JSON is logged with the JSON parser's message, and V8's message
    // quotes the text around the error ("Unexpected token ... "...":hunter2}" is not valid JSON"), so a hello whose
    // token is mis-quoted writes the token into the server log.
    it('never writes a token from a malformed hello to the log', async () => {
      const serverLog = capturingLogger();
      const { url } = await guarded('tcp', serverLog);
      for (const frame of [
        `{"type":"hello","protocol":1,"token":${token}}`,
        `{"type":"hello","token":"${token}","protocol":one}`,
        `{"type":"hello","protocol":1,"token":"${token}"x}`,
      ]) {
        const raw = await startRawPeer(teardown, url);
        raw.sendFrame(frame);
        await raw.waitClosed();
      }
      assert.ok(serverLog.lines.some((l) => l.includes('authentication failed')));
      assert.deepEqual(leaks(serverLog.lines, token), []);
    });
  });
});

/** A plain TCP connection from a chosen loopback source address. */
async function connectFrom(url: string, localAddress: string): Promise<net.Socket> {
  const u = new URL(url);
  const socket = net.connect({ host: u.hostname, port: Number(u.port), localAddress });
  socket.on('error', () => undefined);
  await withDeadline(new Promise<void>((resolve) => socket.once('connect', () => resolve())), `a connection from ${localAddress}`);
  return socket;
}
