/**
 * Property-based attacks on a real server (fast-check; a failure prints the seed and path to replay it, and
 * FASTSOCKET_FUZZ_SEED=<seed> replays a run). Each case opens a connection, writes hostile bytes, then a sentinel
 * message whose ack 2 proves the server has processed everything before it; the case then checks what the server
 * handed over, acknowledged, counted and logged for that connection alone. A witness client sends correct messages
 * to the same server all along and is checked at the end (see fault-witness.ts).
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import * as path from 'node:path';
import fc from 'fast-check';
import type { FastSocketServer, LatencyRecord, MessageEvent, ProtocolError, Scheme, SendResult, ServerStats } from '../../src/fastsocket';
import { readDelivered, ServerProcess } from '../support/fault-process';
import { tempDir } from '../support/fault-scenarios';
import { Witness, WITNESS_ID } from '../support/fault-witness';
import { caFor, startClient, startServer } from '../support/fixtures';
import { isAck2, message1, RawPeer } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { waitUntil, withDeadline } from '../support/wait';

const LONG = process.env.FASTSOCKET_LONG === '1';
const SEED = process.env.FASTSOCKET_FUZZ_SEED;
/** fast-check parameters: CI runs modest numbers, `npm run test:long` ten times more. */
function runs<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns: LONG ? numRuns * 10 : numRuns, ...(SEED !== undefined ? { seed: Number(SEED) } : {}) };
}

const MiB = 1024 * 1024;
const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
const ARRAY_PROTO_NAMES = Object.getOwnPropertyNames(Array.prototype).sort();

function assertNoPollution(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_NAMES, 'Object.prototype was changed');
  assert.deepEqual(Object.getOwnPropertyNames(Array.prototype).sort(), ARRAY_PROTO_NAMES, 'Array.prototype was changed');
  for (const key of ['polluted', 'type', 'id', 'payload', 'token', 'client_id']) {
    assert.equal(({} as Record<string, unknown>)[key], undefined, `every object now has "${key}"`);
  }
}

/** The frames a newline-delimited stream holds: split at \n, one trailing \r dropped, lines of spaces, tabs and CRs skipped. */
/** Whether a WebSocket message carries no frame: what is left after its trailing CRs and LFs is spaces, tabs and CRs. */
function isBlankWsMessage(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return bytes.subarray(0, end).every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0d);
}

function streamFrames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    let frame = bytes.subarray(start, end);
    if (frame.length > 0 && frame[frame.length - 1] === 0x0d) frame = frame.subarray(0, frame.length - 1);
    if (frame.some((byte) => byte !== 0x20 && byte !== 0x09 && byte !== 0x0d)) out.push(frame);
    start = end + 1;
  }
  return out;
}

/** Depth of a parsed JSON value, measured without recursion. */
function depthOf(value: unknown): number {
  let depth = 0;
  let level: unknown[] = [value];
  while (level.length > 0) {
    const next: unknown[] = [];
    for (const v of level) if (typeof v === 'object' && v !== null) next.push(...Object.values(v));
    if (next.length === 0 && level.every((v) => typeof v !== 'object' || v === null)) break;
    depth++;
    level = next;
  }
  return depth;
}

interface Arena {
  server: FastSocketServer;
  url: string;
  scheme: Scheme;
  log: string[];
  bad: Array<{ peer: string; error: ProtocolError }>;
  messages: MessageEvent[];
  latencies: LatencyRecord[];
  witness: Witness;
}

/** What one attack case did to the server, seen from its own connection only. */
interface Outcome {
  /** The case's tag: ids of the case start with it. */
  tag: string;
  /** WebSocket close code when the case expected the server to close (null for tcp). */
  closeCode: number | null;
  delta: (key: keyof ServerStats) => number;
  reasons: Record<string, number>;
  handed: MessageEvent[];
  badEvents: number;
  badLogLines: number;
  acks: string[];
  hellos: number;
  latencies: LatencyRecord[];
}

let caseNo = 0;

describe('FastSocketServer under fuzzed input', function () {
  this.timeout(LONG ? 1_800_000 : 120_000);
  const teardown = useTeardown();
  let attackStart = 0;

  async function arena(scheme: Scheme, limits: { maxBadFrames?: number; maxFrameBytes?: number } = {}): Promise<Arena> {
    const log: string[] = [];
    const at = (level: string) => (m: string) => void log.push(`${level} ${m}`);
    const { server, url } = await startServer(teardown, scheme, {
      logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      maxFrameBytes: MiB,
      maxBadFrames: 1_000_000,
      ...limits,
    });
    const a: Arena = { server, url, scheme, log, bad: [], messages: [], latencies: [], witness: await Witness.start(teardown, server, url) };
    server.on('bad-frame', (b) => a.bad.push(b));
    server.on('message', (m) => m.client_id !== WITNESS_ID && a.messages.push(m));
    server.on('latency', (r) => r.client_id !== WITNESS_ID && a.latencies.push(r));
    attackStart = performance.now();
    return a;
  }

  /** After the property: the server never failed, nothing was polluted, and the witness was served throughout. */
  async function survived(a: Arena): Promise<void> {
    const during = a.witness.ackedBetween(attackStart, performance.now());
    assert.ok(during >= 5, `the witness got only ${during} acks while the attack ran`);
    await a.witness.stopAndVerify();
    assert.equal(a.log.filter((l) => l.startsWith('error')).length, 0, `the server logged an error: ${a.log.find((l) => l.startsWith('error'))}`);
    assertNoPollution();
  }

  const stream = (a: Arena): boolean => a.scheme === 'tcp' || a.scheme === 'tls';

  /** Runs one case: `write` attacks a fresh connection; then (unless it must close) a sentinel proves it was all read. */
  async function attack(a: Arena, write: (peer: RawPeer, tag: string) => void | Promise<void>, { expectClose = false } = {}): Promise<Outcome> {
    const tag = `k${caseNo++}`;
    const peer = await RawPeer.connect(a.url, { ca: await caFor(a.url) });
    try {
      const socket = stream(a) ? peer.stream : ((peer.webSocket as unknown as { _socket: net.Socket })._socket);
      // Nagle would hold the sentinel back until the attack bytes are acknowledged: slow, and not what attackers do.
      socket.setNoDelay(true);
      const me = `${socket.localAddress}:${socket.localPort}`;
      const before = a.server.stats();
      const mark = { messages: a.messages.length, bad: a.bad.length, log: a.log.length, latencies: a.latencies.length };
      await write(peer, tag);
      const sentinel = `${tag}-sentinel`;
      let closeCode: number | null = null;
      if (expectClose) {
        closeCode = (await peer.waitClosed(`the server to close the connection of case ${tag}`)).code;
      } else {
        if (stream(a)) peer.sendBytes(`\n${message1(sentinel, null)}\n`);
        else peer.sendFrame(message1(sentinel, null));
        await peer.waitForFrame(isAck2(sentinel), `ack 2 of the sentinel of case ${tag}`);
      }
      const after = a.server.stats();
      const reasons: Record<string, number> = {};
      for (const [k, v] of Object.entries(after.bad_frames_by_reason)) {
        const d = v - ((before.bad_frames_by_reason as Record<string, number>)[k] ?? 0);
        if (d > 0) reasons[k] = d;
      }
      const frames = peer.frames as Array<{ type?: string; id?: string }>;
      return {
        tag,
        closeCode,
        delta: (key) => (after[key] as number) - (before[key] as number),
        reasons,
        handed: a.messages.slice(mark.messages).filter((m) => m.peer === me && m.id !== sentinel),
        badEvents: a.bad.slice(mark.bad).filter((b) => b.peer === me).length,
        badLogLines: a.log.slice(mark.log).filter((l) => l.includes(`bad frame from ${me} `)).length,
        acks: frames.filter((f) => f.type === 'ack' && f.id !== sentinel).map((f) => f.id!),
        hellos: frames.filter((f) => f.type === 'hello').length,
        latencies: a.latencies.slice(mark.latencies).filter((r) => r.peer === me),
      };
    } finally {
      peer.destroy();
    }
  }

  /** The rejection of `n` frames was counted, emitted and logged once each. */
  function assertRejected(o: Outcome, n: number): void {
    assert.equal(o.delta('bad_frames'), n, `bad_frames counted ${o.delta('bad_frames')} of ${n} rejections`);
    assert.equal(o.badEvents, n, 'a rejection without its bad-frame event');
    assert.equal(o.badLogLines, n, 'a rejection without its log line naming the peer');
  }

  describe('random bytes', () => {
    // No frame can be valid without the word "type", so every frame these bytes make must be rejected.
    const junk = fc
      .array(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.constantFrom('\n', '\r\n', '\r', '{', '}', '[', '"', ':', ',', 'NaN', '-Infinity', 'null', '"id"', '"payload"', '\\u0000', ' ', '\u2028').map((s) => Buffer.from(s)),
        ),
        { maxLength: 12 },
      )
      .map((parts) => Buffer.concat(parts))
      .filter((b) => !b.includes('type'));
    // What a tcp connection opens with: 0x16 0x03 is a TLS ClientHello to the tcp:// server, closed at once and named
    // as such (transport.ts; tested in tls-errors), not a bad frame. A CI run drew [22, 3] after 345 cases.
    const tcpJunk = junk.filter((b) => !(b[0] === 0x16 && b[1] === 3));

    it('rejects, counts and logs every frame of random bytes over tcp, and keeps serving', async () => {
      const a = await arena('tcp');
      await fc.assert(
        fc.asyncProperty(tcpJunk, async (bytes) => {
          const o = await attack(a, (peer) => void peer.sendBytes(bytes));
          assertRejected(o, streamFrames(bytes).length);
          assert.deepEqual(o.handed, []);
          assert.deepEqual(o.acks, []);
        }),
        runs(400),
      );
      await survived(a);
    });

    it('rejects, counts and logs every random binary WebSocket message, and keeps serving', async () => {
      const a = await arena('ws');
      await fc.assert(
        fc.asyncProperty(fc.array(junk, { minLength: 1, maxLength: 5 }), async (messages) => {
          const o = await attack(a, (peer) => messages.forEach((m) => peer.sendFrame(m, { binary: true })));
          // A blank message (nothing but spaces, tabs and CRs before its line ending) is skipped, as a blank line is.
          assertRejected(o, messages.filter((m) => !isBlankWsMessage(m)).length);
          assert.deepEqual(o.handed, []);
        }),
        runs(150),
      );
      await survived(a);
    });

    it('closes a connection after max_bad_frames consecutive bad frames, and counts the close', async () => {
      const a = await arena('tcp', { maxBadFrames: 10 });
      await fc.assert(
        fc.asyncProperty(fc.array(tcpJunk.filter((b) => streamFrames(b).length === 1 && !b.includes('\n')), { minLength: 10, maxLength: 30 }), async (frames) => {
          const o = await attack(a, (peer) => void peer.sendBytes(frames.map((f) => Buffer.concat([f, Buffer.from('\n')])).reduce((x, y) => Buffer.concat([x, y]))), { expectClose: true });
          assert.equal(o.delta('closed_bad'), 1);
          assert.equal(o.delta('bad_frames'), 10, 'frames after the 10th were still read');
        }),
        runs(50),
      );
      await survived(a);
    });
  });

  describe('truncated and concatenated frames', () => {
    const framesArb = fc.array(
      fc.record({ payload: fc.jsonValue({ maxDepth: 4 }), cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 3 }) }),
      { minLength: 1, maxLength: 10 },
    );

    /** Whole frames are message 1s with ids unique to the case; a cut one loses at least its last byte. */
    function build(tag: string, items: Array<{ payload: unknown; cut: number | null }>) {
      return items.map((it, i) => {
        const id = `${tag}-${i}`;
        const text = Buffer.from(`{"id":${JSON.stringify(id)},"type":"message","payload":${JSON.stringify(it.payload)}}`);
        if (it.cut === null) return { id, bytes: text, whole: true, payload: JSON.parse(JSON.stringify(it.payload)) as unknown };
        return { id, bytes: text.subarray(0, 1 + Math.floor(it.cut * (text.length - 2))), whole: false, payload: undefined };
      });
    }

    function check(o: Outcome, frames: ReturnType<typeof build>): void {
      const whole = frames.filter((f) => f.whole);
      assert.deepEqual(o.handed.map((m) => [m.id, m.payload]), whole.map((f) => [f.id, f.payload]));
      assert.deepEqual(o.acks, whole.map((f) => f.id));
      assertRejected(o, frames.length - whole.length);
      assert.ok(Object.keys(o.reasons).every((r) => r === 'invalid_json' || r === 'invalid_utf8'), JSON.stringify(o.reasons));
    }

    it('hands over exactly the whole frames of a tcp stream cut into arbitrary chunks, and rejects each truncated one', async () => {
      const a = await arena('tcp');
      await fc.assert(
        fc.asyncProperty(framesArb, fc.array(fc.nat(), { maxLength: 12 }), async (items, cuts) => {
          let frames: ReturnType<typeof build> = [];
          const o = await attack(a, async (peer, tag) => {
            frames = build(tag, items);
            const all = Buffer.concat(frames.flatMap((f) => [f.bytes, Buffer.from('\n')]));
            const at = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((x, y) => x - y);
            let prev = 0;
            for (const c of [...at, all.length]) {
              if (c > prev) await new Promise<void>((resolve) => peer.stream.write(all.subarray(prev, c), () => resolve()));
              prev = c;
            }
          });
          check(o, frames);
        }),
        runs(300),
      );
      await survived(a);
    });

    it('hands over exactly the whole frames sent as WebSocket messages, and rejects each truncated one', async () => {
      const a = await arena('ws');
      await fc.assert(
        fc.asyncProperty(framesArb, fc.boolean(), async (items, binary) => {
          let frames: ReturnType<typeof build> = [];
          const o = await attack(a, (peer, tag) => {
            frames = build(tag, items);
            // A cut frame may end inside a UTF-8 sequence; as a text message ws itself would refuse it, so it goes binary.
            for (const f of frames) peer.sendFrame(f.bytes, { binary: binary || !f.whole });
          });
          check(o, frames);
        }),
        runs(150),
      );
      await survived(a);
    });
  });

  describe('invalid UTF-8', () => {
    const invalid = fc.constantFrom([0xff], [0xfe], [0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]);
    const text = fc.string({ unit: 'binary', maxLength: 20 });

    for (const scheme of ['tcp', 'ws'] as const) {
      it(`rejects as invalid_utf8 a ${scheme} frame with an ill-formed sequence anywhere in a string, and hands nothing over`, async () => {
        const a = await arena(scheme);
        await fc.assert(
          fc.asyncProperty(text, invalid, text, async (before, bad, after) => {
            const o = await attack(a, (peer, tag) => {
              const frame = Buffer.concat([
                Buffer.from(`{"id":"${tag}","type":"message","payload":"${JSON.stringify(before).slice(1, -1)}`),
                Buffer.from(bad),
                Buffer.from(`${JSON.stringify(after).slice(1, -1)}"}`),
              ]);
              if (scheme === 'tcp') peer.sendBytes(Buffer.concat([frame, Buffer.from('\n')]));
              else peer.sendFrame(frame, { binary: true });
            });
            assertRejected(o, 1);
            assert.deepEqual(o.reasons, { invalid_utf8: 1 });
            assert.deepEqual(o.handed, []);
            assert.deepEqual(o.acks, []);
          }),
          runs(scheme === 'tcp' ? 200 : 120),
        );
        await survived(a);
      });
    }
  });

  describe('deeply nested JSON', () => {
    for (const scheme of ['tcp', 'ws'] as const) {
      it(`hands over intact, or rejects and counts, a ${scheme} payload nested up to 100000 deep, and keeps serving`, async () => {
        const a = await arena(scheme);
        const outcomes = { handed: 0, rejected: 0 };
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('array', 'object'), fc.boolean(), async (depth, kind, nan) => {
            const leaf = nan ? 'NaN' : '0';
            const payload = kind === 'array' ? '['.repeat(depth) + leaf + ']'.repeat(depth) : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
            const o = await attack(a, (peer, tag) => {
              const frame = `{"id":"${tag}","type":"message","payload":${payload}}`;
              if (scheme === 'tcp') peer.sendBytes(frame + '\n');
              else peer.sendFrame(frame);
            });
            if (o.handed.length === 1) {
              outcomes.handed++;
              assert.equal(depthOf(o.handed[0].payload), depth, 'the payload arrived with another depth');
              assert.equal(o.acks.length, 1);
              assert.equal(o.delta('bad_frames'), 0);
            } else {
              outcomes.rejected++;
              assert.deepEqual(o.handed, []);
              assertRejected(o, 1);
            }
          }),
          runs(30),
        );
        assert.ok(outcomes.handed > 0, `no nested payload was ever handed over: ${JSON.stringify(outcomes)}`);
        await survived(a);
      });
    }
  });

  describe('huge and odd numbers', () => {
    const numberText = fc.oneof(
      fc.constantFrom('1e308', '1e309', '-1e400', '1E+99999', '0.1e-400', '-0', '4.9e-324', '9007199254740991', '9007199254740992', '9007199254740993', '18446744073709551616', '123456789012345678901234567890'),
      fc.stringMatching(/^-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,5})?$/),
    );

    it('hands over payload numbers as JSON.parse reads them but integers a double would round (bigints), and accepts T1 only as a non-negative safe integer', async () => {
      const a = await arena('tcp');
      await fc.assert(
        fc.asyncProperty(numberText, numberText, numberText, async (inPayload, t1, queued) => {
          const o = await attack(a, async (peer, tag) => {
            peer.sendBytes(`{"id":"${tag}","type":"message","payload":{"n":${inPayload},"a":[${inPayload}]},"queued_ns":${queued}}\n`);
            // As a client does: ack 3 answers ack 2 (one read before it is ignored, see server.test.ts).
            await peer.waitForFrame(isAck2(tag), `ack 2 of ${tag}`);
            peer.sendBytes(`{"id":"${tag}","type":"ack","send_and_ack_time_ns":${t1}}\n`);
          });
          // An integer JavaScript would not write back as written (but -0) is kept exact, as a bigint.
          const read = JSON.parse(inPayload) as number;
          const n = /^-?\d+$/.test(inPayload) && inPayload !== '-0' && String(read) !== inPayload ? BigInt(inPayload) : read;
          assert.equal(o.handed.length, 1);
          assert.deepEqual(o.handed[0].payload, { n, a: [n] });
          const q = Number(queued);
          assert.equal(o.handed[0].queued_ns, Number.isSafeInteger(q) && q >= 0 ? q : null, `queued_ns ${queued}`);
          const t = Number(t1);
          if (Number.isSafeInteger(t) && t >= 0) {
            assert.equal(o.latencies.length, 1, `T1 ${t1} was refused`);
            assert.ok(o.latencies[0].t1_ns === t);
            assert.equal(o.delta('bad_frames'), 0);
          } else {
            assert.deepEqual(o.latencies, [], `T1 ${t1} was accepted`);
            assertRejected(o, 1);
            assert.deepEqual(o.reasons, { invalid_ack_time: 1 });
          }
        }),
        runs(300),
      );
      await survived(a);
    });
  });

  describe('__proto__, constructor and prototype keys', () => {
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'polluted', 'type', 'id', 'payload', 'token', 'client_id');
    const { object: objectText } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
      // NaN sends the frame through the NaN-tolerant parser, the one that builds objects key by key itself.
      value: fc.oneof({ depthSize: 'small' }, fc.constantFrom('1', 'null', '"x"', 'true', '{}', '[]', '"message"', 'NaN'), tie('object'), tie('array')),
      object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
      array: fc.array(tie('value'), { maxLength: 3 }).map((vs) => `[${vs.join(',')}]`),
    }));

    for (const scheme of ['tcp', 'ws'] as const) {
      it(`never lets such keys reach Object.prototype or stand in for frame fields over ${scheme}`, async () => {
        const a = await arena(scheme);
        await fc.assert(
          fc.asyncProperty(objectText, objectText, fc.constantFrom('__proto__', 'constructor'), async (payloadText, extra, wrapper) => {
            const inner = (id: string) => `{"type":"message","id":"${id}","payload":1}`;
            const o = await attack(a, (peer, tag) => {
              const frames = [
                // A valid frame whose payload and extra top-level keys are full of them (the real fields come last and win).
                `${extra.slice(0, -1)}${extra === '{}' ? '' : ','}"id":"${tag}-a","type":"message","payload":${payloadText}}`,
                // The fields only behind __proto__ or constructor.prototype: not a frame.
                wrapper === '__proto__' ? `{"__proto__":${inner(`${tag}-b`)}}` : `{"constructor":{"prototype":${inner(`${tag}-b`)}}}`,
                // A hello naming the client "__proto__".
                `{"type":"hello","protocol":1,"client_id":"__proto__","__proto__":{"token":"x"}}`,
                `{"id":"${tag}-c","type":"message","payload":${payloadText},"__proto__":{"resent":true}}`,
              ];
              if (scheme === 'tcp') peer.sendBytes(frames.join('\n') + '\n');
              else frames.forEach((f) => peer.sendFrame(f));
            });
            assertNoPollution();
            const expected = JSON.parse(payloadText.replace(/NaN/g, '"@NaN@"'), (_k, v: unknown) => (v === '@NaN@' ? NaN : v)) as unknown;
            assert.deepEqual(o.handed.map((m) => [m.id, m.payload, m.client_id, m.resent]), [
              [`${o.tag}-a`, expected, null, false],
              [`${o.tag}-c`, expected, '__proto__', false],
            ]);
            assertRejected(o, 1);
            assert.deepEqual(o.reasons, { invalid_type: 1 });
            assert.equal(o.hellos, 1);
          }),
          runs(150),
        );
        await survived(a);
      });
    }
  });

  describe('ids', () => {
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    /** Any UTF-16 units (lone surrogates and controls included) or code points; `full` pads the id to exactly 128 units. */
    const validId = fc.record({ text: fc.oneof(fc.string({ unit: anyUnit, maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 60 })), full: fc.boolean() });
    const invalidId = fc.oneof(
      fc.constant(''),
      fc.string({ minLength: 129, maxLength: 400 }).filter((s) => s.length > 128),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
      fc.constant(undefined),
    );

    it('acks and hands over exactly the frames whose id is a string of 1 to 128 UTF-16 units, echoing the id verbatim', async () => {
      const a = await arena('tcp');
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(validId.map((v) => ({ valid: v })), invalidId.map((v) => ({ invalid: v }))), { minLength: 1, maxLength: 8 }), async (specs) => {
          const valid: string[] = [];
          let invalid = 0;
          const o = await attack(a, (peer, tag) => {
            const lines = specs.map((s, i) => {
              if ('valid' in s) {
                // A unique prefix, because ids are deduplicated server-wide.
                const id = `${tag}.${i}|${s.valid.text}${s.valid.full ? 'x'.repeat(128) : ''}`.slice(0, 128);
                valid.push(id);
                return JSON.stringify({ id, type: 'message', payload: i });
              }
              invalid++;
              return `{${s.invalid === undefined ? '' : `"id":${JSON.stringify(s.invalid) ?? 'null'},`}"type":"message","payload":${i}}`;
            });
            peer.sendBytes(lines.join('\n') + '\n');
          });
          assert.deepEqual(o.handed.map((m) => m.id), valid);
          assert.deepEqual(o.acks, valid);
          assertRejected(o, invalid);
          if (invalid > 0) assert.deepEqual(o.reasons, { invalid_id: invalid });
        }),
        runs(300),
      );
      await survived(a);
    });
  });

  describe('ack 3 for unknown ids', () => {
    it('ignores and counts each ack 3 for an id never sent or already completed, without a latency record or a bad frame', async () => {
      const a = await arena('tcp');
      await fc.assert(
        fc.asyncProperty(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 20 }), fc.nat({ max: 3 }), async (strangers, repeats) => {
          const o = await attack(a, async (peer, tag) => {
            const lines = strangers.map((s, i) => JSON.stringify({ id: `${tag}.${i}|${s}`.slice(0, 128), type: 'ack', send_and_ack_time_ns: 1000 + i }));
            lines.push(message1(`${tag}-known`, 1));
            peer.sendBytes(lines.join('\n') + '\n');
            await peer.waitForFrame(isAck2(`${tag}-known`), `ack 2 of ${tag}-known`);
            const acks = Array.from({ length: repeats + 1 }, () => JSON.stringify({ id: `${tag}-known`, type: 'ack', send_and_ack_time_ns: 5000 }));
            peer.sendBytes(acks.join('\n') + '\n');
          });
          assert.equal(o.delta('ack3_unknown'), strangers.length + repeats);
          assert.deepEqual(o.latencies.map((r) => r.id), [`${o.tag}-known`]);
          assert.equal(o.delta('bad_frames'), 0);
        }),
        runs(150),
      );
      await survived(a);
    });
  });

  describe('floods of message 1 with one id', () => {
    it('acks every copy, over several connections at once, and hands the message over once', async () => {
      const a = await arena('tcp');
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 2, max: 300 }), fc.integer({ min: 1, max: 3 }), async (copies, connections) => {
          const tag = `flood${caseNo++}`;
          const before = a.server.stats();
          const handedBefore = a.messages.length;
          const peers = await Promise.all(Array.from({ length: connections }, () => RawPeer.connect(a.url)));
          try {
            const perPeer = peers.map((_, p) => Array.from({ length: copies }, (__, c) => c).filter((c) => c % connections === p));
            peers.forEach((peer, p) => peer.sendBytes(perPeer[p].map((c) => message1(tag, { copy: c })).join('\n') + '\n'));
            const acked = (p: number): number => peers[p].frames.filter((f) => isAck2(tag)(f as Record<string, unknown>)).length;
            await waitUntil(() => peers.every((_, p) => acked(p) >= perPeer[p].length), `an ack 2 for each of the ${copies} copies`);
            const handed = a.messages.slice(handedBefore).filter((m) => m.id === tag);
            assert.equal(handed.length, 1, `the flooded message was handed over ${handed.length} times`);
            assert.equal(a.server.stats().duplicates - before.duplicates, copies - 1);
          } finally {
            peers.forEach((p) => p.destroy());
          }
        }),
        runs(60),
      );
      await survived(a);
    });
  });

  describe('frames beyond max_frame_bytes', () => {
    it('closes a WebSocket message larger than max_frame_bytes with 1009 and counts it', async () => {
      const a = await arena('ws', { maxFrameBytes: 64 * 1024 });
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 64 * 1024 + 1, max: 4 * MiB }), async (size) => {
          const o = await attack(a, (peer) => peer.sendFrame('x'.repeat(size)), { expectClose: true });
          assert.equal(o.closeCode, 1009);
          assert.equal(o.delta('closed_oversize'), 1);
          assert.deepEqual(o.handed, []);
        }),
        runs(15),
      );
      await survived(a);
    });

    it('closes unterminated tcp frames far beyond max_frame_bytes, counted, without the server process growing', async () => {
      const dir = tempDir(teardown, 'oversize');
      const deliveredFile = path.join(dir, 'delivered.jsonl');
      const limit = 64 * 1024;
      const srv = await ServerProcess.start(teardown, { options: { maxFrameBytes: limit }, deliveredFile });
      const baseline = await srv.stats();
      const client = await startClient(teardown, srv.url, { clientId: WITNESS_ID });
      const acks: SendResult[] = [];
      let attacking = true;
      const witness = (async () => {
        for (let i = 0; attacking; i++) acks.push(await withDeadline(client.send({ witness: i }), 'a witness ack during the oversize attack', 10_000));
      })();
      let offered = 0;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 32 * MiB, max: 64 * MiB }), fc.integer({ min: 1024, max: 256 * 1024 }), async (size, chunkBytes) => {
          const closedBefore = (await srv.stats()).stats.closed_oversize;
          const u = new URL(srv.url);
          const socket = net.connect({ host: u.hostname, port: Number(u.port) });
          socket.on('error', () => undefined);
          const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
          let isClosed = false;
          void closed.then(() => (isClosed = true));
          const chunk = Buffer.alloc(chunkBytes, 'x');
          let written = 0;
          while (written < size && !isClosed) {
            written += chunk.length;
            if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
          }
          await withDeadline(closed, 'the server to close an unterminated oversize frame');
          offered += size;
          // Far more than any socket buffer: only a server that stopped reading and closed keeps the attacker from writing it all.
          assert.ok(written < size, `the server took all ${size} bytes of an unterminated frame`);
          assert.equal((await srv.stats()).stats.closed_oversize, closedBefore + 1);
        }),
        runs(6),
      );
      attacking = false;
      await witness;
      const end = await srv.stats();
      const grew = end.peakRssBytes - baseline.peakRssBytes;
      assert.ok(grew < 24 * MiB, `the server's peak RSS grew by ${(grew / MiB).toFixed(1)} MiB while ${(offered / MiB).toFixed(0)} MiB were offered`);
      const handed = readDelivered(deliveredFile).filter((r) => r.client_id === WITNESS_ID);
      assert.ok(acks.length >= 5, `the witness got only ${acks.length} acks during the attack`);
      assert.deepEqual(handed.map((r) => r.payload), acks.map((_, i) => ({ witness: i })));
    });
  });
});

