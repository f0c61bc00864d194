import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import WebSocket from 'ws';
import { encodeTextFrames } from '../../src/fastsocket/ws-frames';

/** ws's frame reader (exported by ws, left out of its type definitions). */
interface WsReceiver extends NodeJS.EventEmitter {
  write(chunk: Buffer, done: (err?: Error | null) => void): void;
}
const Receiver = (WebSocket as unknown as { Receiver: new (opts: { isServer: boolean; binaryType: string; maxPayload: number }) => WsReceiver }).Receiver;

/** What ws's own reader makes of `bytes`: the text messages, in order, and the protocol error it closes with, if any. */
function readWithWs(bytes: Buffer, asServer: boolean): Promise<{ texts: string[]; error: Error | null }> {
  const receiver = new Receiver({ isServer: asServer, binaryType: 'nodebuffer', maxPayload: 0 });
  const texts: string[] = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, false, 'sent as a binary message');
    texts.push(data.toString('utf8'));
  });
  // A protocol error reaches the write's callback (and an 'error' event, which must have a listener).
  receiver.on('error', () => undefined);
  return new Promise((resolve) => receiver.write(bytes, (err) => resolve({ texts, error: err ?? null })));
}

/** The 4-byte masking key of the frame at `at`, whose payload is `payloadBytes` long. */
function maskKeyAt(bytes: Buffer, at: number, payloadBytes: number): string {
  const lengthBytes = payloadBytes < 126 ? 0 : payloadBytes < 65536 ? 2 : 8;
  return bytes.subarray(at + 2 + lengthBytes, at + 6 + lengthBytes).toString('hex');
}

describe('encodeTextFrames (ws:// and wss:// frames written in one piece)', () => {
  // Lengths at each boundary of the 7-, 16- and 64-bit length forms, ASCII and multi-byte text, JSON as it is sent.
  const samples = ['', 'x', 'é€😀', 'a'.repeat(125), 'a'.repeat(126), '€'.repeat(42) /* 126 bytes */, 'b'.repeat(65535), 'c'.repeat(65536), JSON.stringify({ type: 'ack2', id: 'x'.repeat(36), t1: 12.5 })];

  for (const masked of [true, false]) {
    const side = masked ? 'a client (masked)' : 'a server (unmasked)';
    it(`writes frames that ws, reading as the other side, takes for the same texts: ${side}`, async () => {
      const { texts, error } = await readWithWs(encodeTextFrames(samples, masked), masked);
      assert.equal(error, null);
      assert.deepEqual(texts, samples);
    });

    it(`writes any unicode text, alone or with others, as ws reads it back: ${side}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', maxLength: 300 }), { minLength: 1, maxLength: 6 }), async (frames) => {
          const { texts, error } = await readWithWs(encodeTextFrames(frames, masked), masked);
          assert.equal(error, null);
          assert.deepEqual(texts, frames);
        }),
      );
    });
  }

  it('is refused by a ws server when unmasked, and by a ws client when masked: the MASK bit says which side wrote it', async () => {
    assert.match(String((await readWithWs(encodeTextFrames(['{}'], false), true)).error), /MASK must be set/);
    assert.match(String((await readWithWs(encodeTextFrames(['{}'], true), false)).error), /MASK must be clear/);
  });

  it('masks each frame with a key of its own, not a fixed or zero one', () => {
    const frames = Array.from({ length: 3000 }, () => 'payload of a message');
    const bytes = encodeTextFrames(frames, true);
    const keys = new Set<string>();
    const frameBytes = bytes.length / frames.length;
    for (let i = 0; i < frames.length; i++) keys.add(maskKeyAt(bytes, i * frameBytes, frames[0].length));
    assert.ok(!keys.has('00000000'), 'a zero key leaves the payload unmasked');
    // 3000 random 32-bit keys collide with probability ~0.1 %; allow a few.
    assert.ok(keys.size >= frames.length - 3, `only ${keys.size} distinct keys in ${frames.length} frames`);
    // The payload really is masked: the text does not appear in clear.
    assert.equal(bytes.includes(Buffer.from('payload of a message')), false);
  });
});
