import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FastSocketClient, FastSocketError, type ClientStats, type FastSocketClientOptions, type FastSocketServer, type FastSocketServerOptions, type LatencyRecord, type MessageEvent, type Scheme, type SendResult } from '../../src/fastsocket';
import { DelayProxy } from '../support/delay-proxy';
import { chunkText, FaultLink, type FaultKind } from '../support/fault-link';
import { capturingLogger, startClient, startServer } from '../support/fixtures';
import { seededRandom } from '../support/seeded-random';
import { useTeardown, type Teardown } from '../support/teardown';
import { collect, waitUntil, withDeadline } from '../support/wait';

/** One send() and what became of it. */
interface Outcome {
  n: number;
  state: 'pending' | 'resolved' | 'rejected';
  result?: SendResult;
  error?: unknown;
  settledTimes: number;
}

/** A server behind a FaultLink and a client through it, with every send(), hand-over and record kept. */
class Rig {
  outcomes: Outcome[] = [];
  messages: MessageEvent[] = [];
  latencies: LatencyRecord[] = [];
  constructor(
    readonly server: FastSocketServer,
    readonly link: FaultLink,
    readonly client: FastSocketClient,
  ) {
    this.messages = collect<MessageEvent>(server, 'message');
    this.latencies = collect<LatencyRecord>(server, 'latency');
  }

  send(payload: unknown = { n: this.outcomes.length }): Outcome {
    const o: Outcome = { n: this.outcomes.length, state: 'pending', settledTimes: 0 };
    this.outcomes.push(o);
    this.client.send(payload).then(
      (r) => {
        o.settledTimes++;
        o.state = 'resolved';
        o.result = r;
      },
      (err: unknown) => {
        o.settledTimes++;
        o.state = 'rejected';
        o.error = err;
      },
    );
    return o;
  }

  async settled(ms = 4000): Promise<void> {
    await waitUntil(() => this.outcomes.every((o) => o.state !== 'pending'), () => `every send() settled (${this.outcomes.filter((o) => o.state === 'pending').length} pending; client ${JSON.stringify(this.client.stats())})`, ms);
  }

  /** Every invariant of the brief that holds whatever the faults were; returns what it found, for the message. */
  audit({ exactlyOnce }: { exactlyOnce: boolean }): void {
    const stats: ClientStats = this.client.stats();
    for (const o of this.outcomes) assert.ok(o.settledTimes <= 1, `send ${o.n} settled ${o.settledTimes} times`);
    for (const o of this.outcomes.filter((x) => x.state === 'rejected')) {
      assert.ok(o.error instanceof FastSocketError, `send ${o.n} rejected with a coded error: ${String(o.error)}`);
    }
    const resolved = this.outcomes.filter((o) => o.state === 'resolved');
    const rejected = this.outcomes.filter((o) => o.state === 'rejected');
    const pending = this.outcomes.filter((o) => o.state === 'pending');
    assert.equal(
      this.outcomes.length,
      stats.delivered + stats.dropped + stats.abandoned + stats.rejected + stats.outbox_messages,
      `sends = delivered + dropped + abandoned + rejected + outbox: ${JSON.stringify(stats)}`,
    );
    assert.equal(resolved.length, stats.delivered, 'resolved sends = delivered');
    assert.equal(rejected.length, stats.dropped + stats.abandoned + stats.rejected, 'rejected sends = dropped + abandoned + rejected');
    assert.equal(pending.length, stats.outbox_messages, 'pending sends = outbox');
    const handed = new Map<string, MessageEvent[]>();
    for (const m of this.messages) handed.set(m.id, [...(handed.get(m.id) ?? []), m]);
    for (const o of resolved) {
      const copies = handed.get(o.result!.id) ?? [];
      assert.ok(copies.length >= 1, `send ${o.n} resolved but never handed over`);
      if (exactlyOnce) assert.equal(copies.length, 1, `send ${o.n} handed over ${copies.length} times with a stateDir`);
      copies.slice(1).forEach((c) => assert.ok(c.resent && c.possible_duplicate, `repeat of send ${o.n} not marked resent`));
    }
    const server = this.server.stats();
    assert.equal(server.messages, this.messages.length, 'server messages = hand-overs');
    for (const r of this.latencies) {
      assert.ok(r.t1_ns > 0 && r.t2_ns > 0 && r.ps_ns >= 0 && (r.pc_ns ?? 0) >= 0, `record ${JSON.stringify(r)} has a negative duration`);
      assert.ok(r.latency_corrected_ns >= 0 && r.t1_ns < 10e9 && r.t2_ns < 10e9, `record ${JSON.stringify(r)} has an absurd value`);
    }
    const rtt = new Map(resolved.map((o) => [o.result!.id, o.result!]));
    for (const r of this.latencies) {
      const got = rtt.get(r.id);
      if (got) assert.equal(r.t1_ns, Math.round(got.rtt_ns), 'the record carries the T1 the client measured');
    }
  }
}

async function rig(
  teardown: Teardown,
  scheme: Scheme,
  { client: clientOptions = {}, server: serverOptions = {} }: { client?: Omit<FastSocketClientOptions, 'url'>; server?: Omit<FastSocketServerOptions, 'url'> } = {},
): Promise<Rig> {
  const { server, url } = await startServer(teardown, scheme, serverOptions);
  const link = await FaultLink.start(url);
  teardown.add(() => link.close());
  const client = await startClient(teardown, link.urlFor(url), clientOptions);
  return new Rig(server, link, client);
}

const isMessage1 = (c: Buffer): boolean => chunkText(c).includes('"type":"message"');
const isAck = (c: Buffer): boolean => chunkText(c).includes('"type":"ack"');

describe('FastSocketClient and FastSocketServer on a link that fails', function () {
  this.timeout(20_000);
  const teardown = useTeardown();

  for (const scheme of ['tcp', 'ws'] as const) {
    for (const kind of ['rst', 'fin'] as const) {
      for (const [frame, direction, match] of [['message 1', 'up', isMessage1], ['ack 2', 'down', isAck]] as const) {
        it(`${scheme}: a ${kind} in the middle of ${frame}: every send settles, each message is handed over, counters add up`, async () => {
          const r = await rig(teardown, scheme);
          await withDeadline(r.client.connect(), 'connect');
          r.link.arm({ direction, match, keep: (c) => c.length >> 1, kind });
          for (let i = 0; i < 20; i++) r.send();
          await r.settled();
          assert.equal(r.link.faults, 1, 'the fault struck');
          r.audit({ exactlyOnce: false });
          assert.equal(r.client.stats().delivered, 20);
        });
      }

      it(`${scheme}: a ${kind} between ack 2 and ack 3: delivered, the record counted expired, none lost`, async () => {
        const r = await rig(teardown, scheme);
        await withDeadline(r.client.connect(), 'connect');
        r.link.arm({ direction: 'up', match: isAck, keep: () => 0, kind });
        const o = r.send();
        await r.settled();
        assert.equal(o.state, 'resolved');
        await waitUntil(() => r.server.stats().ack3_expired === 1, () => `ack3_expired 1: ${JSON.stringify(r.server.stats())}`);
        for (let i = 0; i < 5; i++) r.send();
        await r.settled();
        await waitUntil(() => r.latencies.length === 5, '5 records');
        r.audit({ exactlyOnce: true });
      });
    }

    for (const kind of ['rst', 'fin', 'blackhole'] as const) {
      it(`${scheme}: a ${kind} during the hello: delivered after a reconnect`, async () => {
        const r = await rig(teardown, scheme, { client: { clientId: 'veh-1', silenceTimeoutMs: 300 } });
        r.link.arm({ direction: 'up', match: (c) => chunkText(c).includes('"type":"hello"'), keep: (c) => c.length >> 1, kind });
        for (let i = 0; i < 5; i++) r.send();
        await r.settled(kind === 'blackhole' ? 4000 : 3000);
        assert.equal(r.link.faults, 1, 'the fault struck');
        r.audit({ exactlyOnce: false });
        assert.equal(r.client.stats().delivered, 5);
      });
    }
  }

  for (const scheme of ['tcp', 'ws'] as const) {
    it(`${scheme}: flapping (a reset every 200 ms for 3 s) at 200 Hz: no send lost, repeats marked, numbers sane`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-flap-'));
      teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
      const r = await rig(teardown, scheme, { server: { stateDir: dir } });
      const flap = setInterval(() => r.link.strike('rst'), 200);
      teardown.add(() => clearInterval(flap));
      const pace = setInterval(() => r.send(), 5);
      await new Promise((res) => setTimeout(res, 3000));
      clearInterval(pace);
      clearInterval(flap);
      await r.settled(5000);
      r.audit({ exactlyOnce: true });
      assert.equal(r.client.stats().delivered, r.outcomes.length);
    });
  }

  for (const scheme of ['tcp', 'ws', 'tls', 'wss'] as const) {
    it(`${scheme}: a blackhole mid-stream longer than silenceTimeoutMs: taken for dead, resent, handed over once with a stateDir`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bh-'));
      teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
      const r = await rig(teardown, scheme, { client: { silenceTimeoutMs: 300 }, server: { stateDir: dir } });
      await withDeadline(r.client.connect(), 'connect');
      for (let i = 0; i < 10; i++) r.send();
      await r.settled();
      r.link.strike('blackhole');
      for (let i = 0; i < 10; i++) r.send();
      await waitUntil(() => r.client.stats().closed_silent === 1, 'the silent connection closed', 3000);
      await r.settled(3000);
      r.audit({ exactlyOnce: true });
      assert.equal(r.client.stats().delivered, 20);
      assert.equal(r.client.stats().reconnects, 1);
    });

    it(`${scheme}: a blackhole while sending at 200 Hz: detected although we keep writing, nothing lost`, async () => {
      const r = await rig(teardown, scheme, { client: { silenceTimeoutMs: 300 } });
      await withDeadline(r.client.connect(), 'connect');
      const pace = setInterval(() => r.send(), 5);
      teardown.add(() => clearInterval(pace));
      await waitUntil(() => r.client.stats().delivered >= 20, '20 delivered');
      r.link.strike('blackhole');
      await waitUntil(() => r.client.stats().closed_silent === 1, 'the silent connection closed', 3000);
      await waitUntil(() => r.client.stats().delivered >= r.outcomes.length - 5, 'delivering again', 3000);
      clearInterval(pace);
      await r.settled(3000);
      r.audit({ exactlyOnce: false });
      assert.equal(r.client.stats().delivered, r.outcomes.length);
    });
  }

  for (const scheme of ['tcp', 'ws', 'tls', 'wss'] as const) {
    it(`${scheme}: a link that splits and coalesces chunks at random boundaries: every byte stream still parses, records consistent`, async () => {
      const r = await rig(teardown, scheme, { client: { clientId: 'veh-2' } });
      r.link.rechunk = seededRandom(11);
      for (let i = 0; i < 300; i++) r.send({ n: i, text: 'é\n"x'.repeat(i % 50) });
      await r.settled(4000);
      await waitUntil(() => r.latencies.length === 300, () => `300 records (${r.latencies.length}; server ${JSON.stringify(r.server.stats())})`);
      r.audit({ exactlyOnce: true });
      assert.equal(r.server.stats().bad_frames, 0);
      assert.equal(r.client.stats().bad_frames, 0);
      // T2 may exceed T1 here (ack 3 queues behind the later messages' pieces), but ps is inside T1.
      for (const rec of r.latencies) assert.ok(rec.ps_ns < rec.t1_ns, `ps inside T1: ${JSON.stringify(rec)}`);
    });
  }

  for (const scheme of ['tcp', 'ws', 'tls', 'wss'] as const) {
    it(`${scheme}: new connections blackholed (accepted, then silent): each attempt given up, delivered once the link answers`, async () => {
      const r = await rig(teardown, scheme, { client: { connectTimeoutMs: 300, silenceTimeoutMs: 300 } });
      r.link.setNew({ blackhole: true });
      for (let i = 0; i < 5; i++) r.send();
      const gone = (): number => r.client.stats().connect_failures + r.client.stats().closed_silent;
      await waitUntil(() => gone() >= 2, () => `2 attempts given up: ${JSON.stringify(r.client.stats())}`, 3000);
      r.link.setNew({});
      await r.settled(4000);
      r.audit({ exactlyOnce: false });
      assert.equal(r.client.stats().delivered, 5);
    });
  }

  for (const scheme of ['tcp', 'ws'] as const) {
    for (const [holdMs, silenceMs] of [[200, 600], [900, 300]] as const) {
      it(`${scheme}: bytes held (no RST) for ${holdMs} ms, silenceTimeoutMs ${silenceMs}: ${holdMs < silenceMs ? 'late, not resent' : 'resent on a new connection, the held copies arrive after'}`, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-hold-'));
        teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
        const { server, url } = await startServer(teardown, scheme, { stateDir: dir });
        const proxy = await DelayProxy.start({ target: url, up: { delayMs: 5 }, down: { delayMs: 5 } });
        teardown.add(() => proxy.close());
        const link = await FaultLink.start(proxy.url);
        teardown.add(() => link.close());
        const client = await startClient(teardown, link.urlFor(proxy.url), { silenceTimeoutMs: silenceMs });
        const r = new Rig(server, link, client);
        await withDeadline(client.connect(), 'connect');
        const pace = setInterval(() => r.send(), 5);
        teardown.add(() => clearInterval(pace));
        await waitUntil(() => client.stats().delivered >= 20, '20 delivered');
        proxy.cut({ mode: 'hold' });
        const t0 = performance.now();
        await waitUntil(() => performance.now() - t0 >= holdMs, `${holdMs} ms`, holdMs + 1000);
        proxy.restore();
        await waitUntil(() => client.stats().delivered >= r.outcomes.length - 10, 'delivering again', 3000);
        clearInterval(pace);
        await r.settled(3000);
        await waitUntil(() => r.latencies.length >= client.stats().delivered - client.stats().resent, 'records', 3000);
        r.audit({ exactlyOnce: true });
        const stats = client.stats();
        if (holdMs < silenceMs) assert.deepEqual([stats.reconnects, stats.resent, stats.closed_silent], [0, 0, 0]);
        else assert.ok(stats.closed_silent >= 1 && stats.resent > 0, JSON.stringify(stats));
        const held = r.latencies.filter((x) => x.t1_ns > (holdMs - 50) * 1e6);
        for (const x of held) assert.ok(x.t2_ns > 0 && x.latency_corrected_ns > 0, JSON.stringify(x));
      });
    }
  }

  for (const scheme of ['ws', 'wss'] as const) {
    it(`${scheme}: a message sent after the server's close frame came goes on the next connection, not marked resent`, async () => {
      // The server closes an idle connection with a close frame; on a 20/20 ms link the connection closes only a
      // round trip after the client read it. A message sent in between went into the closing connection, nowhere.
      const { server, url } = await startServer(teardown, scheme, { idleTimeoutMs: 300 });
      const proxy = await DelayProxy.start({ target: url, up: { delayMs: 20 }, down: { delayMs: 20 } });
      teardown.add(() => proxy.close());
      const client = await startClient(teardown, proxy.url);
      const messages = collect<MessageEvent>(server, 'message');
      await withDeadline(client.send({ n: 0 }), 'the first ack');
      let closeFrameDelivered = false;
      const closeFrameRead = new Promise<void>((resolve) => {
        // On wss the frames are inside TLS records: the first bytes down once the server has closed for idleness.
        proxy.on('leave', (rec, data) => {
          if (rec.direction === 'down' && (scheme === 'wss' ? server.stats().closed_idle === 1 : data[0] === 0x88)) closeFrameDelivered = true;
        });
        // The client answers the close frame with its own once it has read it: the first bytes up after it (an idle
        // client sends nothing else), which take 20 ms to reach the server, so the connection is still closing.
        proxy.on('enter', (rec: { direction: string }) => {
          if (closeFrameDelivered && rec.direction === 'up') resolve();
        });
      });
      await withDeadline(closeFrameRead, 'the client to read the close frame and answer it', 2000);
      assert.equal(client.stats().reconnects, 0, 'still on the first connection');
      const second = await withDeadline(client.send({ n: 1 }), 'the second ack', 3000);
      assert.equal(second.resent, false, 'the second message was never written before: not a resend');
      assert.deepEqual(messages.map((m) => m.resent), [false, false]);
      assert.equal(client.stats().resent, 0);
    });
  }

  for (const scheme of ['tcp', 'ws'] as const) {
    it(`${scheme}: a reset during the hello is warned about as a reset, not only as a refused token or a wrong scheme`, async () => {
      const logger = capturingLogger();
      const r = await rig(teardown, scheme, { client: { clientId: 'veh-1', logger } });
      r.link.arm({ direction: 'up', match: (c) => chunkText(c).includes('"type":"hello"'), keep: (c) => c.length >> 1, kind: 'rst' });
      r.send();
      await r.settled();
      const warnings = logger.lines.filter((l) => l.startsWith('warn') && l.includes('before the server answered the hello'));
      assert.equal(warnings.length, 1, logger.lines.join('\n'));
      assert.match(warnings[0]!, /reset/);
    });
  }

  describe('#close and #destroy while reconnecting', () => {
    /** A connected client whose link then resets every connection, so it waits to reconnect. */
    async function offline(scheme: Scheme): Promise<Rig> {
      const r = await rig(teardown, scheme);
      await withDeadline(r.client.connect(), 'connect');
      r.link.setNew({ refuse: true });
      r.link.strike('rst');
      return r;
    }

    it('close() waits its deadline while the link refuses, then rejects what is left with FS_ERR_CLOSED', async () => {
      const r = await offline('tcp');
      const sends = [r.send(), r.send()];
      const t0 = performance.now();
      const stats = await withDeadline(r.client.close({ timeoutMs: 400 }), 'close', 3000);
      const took = performance.now() - t0;
      await r.settled(1000);
      assert.ok(took >= 390 && took < 1500, `close took ${took} ms for a 400 ms deadline`);
      assert.deepEqual(sends.map((o) => (o.error as FastSocketError).code), ['FS_ERR_CLOSED', 'FS_ERR_CLOSED']);
      assert.equal(stats.abandoned, 2);
      r.audit({ exactlyOnce: false });
    });

    it('close() delivers what was queued when the link comes back before its deadline', async () => {
      const r = await offline('ws');
      for (let i = 0; i < 5; i++) r.send();
      const closed = r.client.close({ timeoutMs: 3000 });
      await waitUntil(() => r.client.stats().connect_failures >= 1, 'a failed dial');
      r.link.setNew({});
      const stats = await withDeadline(closed, 'close', 4000);
      await r.settled(1000);
      assert.equal(stats.delivered, 5);
      r.audit({ exactlyOnce: true });
    });

    it('destroy() rejects at once with FS_ERR_DESTROYED while waiting to reconnect, and during a close() under way', async () => {
      const r = await offline('tcp');
      const sends = [r.send(), r.send()];
      const closed = r.client.close({ timeoutMs: 10_000 });
      await waitUntil(() => r.client.stats().connect_failures >= 1, 'a failed dial');
      r.client.destroy();
      await r.settled(50);
      assert.deepEqual(sends.map((o) => (o.error as FastSocketError).code), ['FS_ERR_DESTROYED', 'FS_ERR_DESTROYED']);
      await withDeadline(closed, 'the close() under way', 500);
      r.audit({ exactlyOnce: false });
    });
  });

  describe('reconnect backoff (§6)', () => {
    for (const [random, factor] of [[() => 0.5, 1], [() => 0, 0.8], [() => 0.999999, 1.2]] as const) {
      it(`doubles from reconnectMinMs to reconnectMaxMs with jitter factor ${factor}, and starts over after an ack`, async () => {
        const r = await rig(teardown, 'tcp', { client: { reconnectMinMs: 40, reconnectMaxMs: 320, random } });
        await withDeadline(r.client.connect(), 'connect');
        r.link.setNew({ refuse: true });
        const at: number[] = [];
        r.client.on('disconnect', () => at.push(performance.now()));
        r.link.strike('rst');
        r.send();
        await waitUntil(() => at.length >= 7, '7 disconnects', 5000);
        const gaps = at.slice(1).map((t, i) => t - at[i]!);
        const expected = [40, 80, 160, 320, 320, 320].map((ms) => ms * factor);
        gaps.forEach((g, i) => assert.ok(g >= expected[i]! - 2 && g < expected[i]! + 60, `gap ${i} ${g.toFixed(0)} ms, expected ${expected[i]} (${gaps.map((x) => x.toFixed(0))})`));
        r.link.setNew({});
        await r.settled(2000);
        r.link.setNew({ refuse: true });
        const before = at.length;
        r.link.strike('rst');
        r.send();
        await waitUntil(() => at.length >= before + 2, '2 more disconnects', 3000);
        const gap = at[before + 1]! - at[before]!;
        assert.ok(gap >= 40 * factor - 2 && gap < 40 * factor + 60, `first gap after an ack ${gap.toFixed(0)} ms`);
        r.client.destroy();
      });
    }
  });
});
