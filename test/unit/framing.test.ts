import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { FrameTooLargeError } from '../../src/fastsocket/errors';
import { LineFramer } from '../../src/fastsocket/framing';

/** Cuts `bytes` at the given offsets (any order, duplicates allowed) into the chunks a socket might deliver. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Feeds every chunk; returns the frames as strings and the largest pending size seen after any push. */
function feed(framer: LineFramer, chunks: Buffer[]): { frames: Buffer[]; maxPending: number } {
  const frames: Buffer[] = [];
  let maxPending = 0;
  for (const chunk of chunks) {
    framer.push(chunk, (f) => frames.push(Buffer.from(f)));
    maxPending = Math.max(maxPending, framer.pendingBytes);
  }
  return { frames, maxPending };
}

/** One frame's content: any text (multi-byte UTF-8 included) without a newline. */
const frameText = fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ''));

describe('LineFramer', () => {
  describe('#push', () => {
    it('yields exactly the frames written, whatever the chunking of the byte stream', () => {
      fc.assert(
        fc.property(
          fc.array(frameText.filter((s) => /[^ \t\r]/.test(s)), { maxLength: 20 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          fc.boolean(),
          (texts, cuts, crlf) => {
            const stream = Buffer.from(texts.map((t) => t + (crlf ? '\r\n' : '\n')).join(''), 'utf8');
            const { frames } = feed(new LineFramer(1024), split(stream, cuts));
            assert.deepEqual(frames.map((f) => f.toString('utf8')), texts);
          },
        ),
        { numRuns: 3000 },
      );
    });

    it('transient chunks: yields the same frames when every chunk is read into one buffer that the next read overwrites', () => {
      fc.assert(
        fc.property(
          fc.array(frameText.filter((s) => /[^ \t\r]/.test(s)), { maxLength: 20 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          (texts, cuts) => {
            const stream = Buffer.from(texts.map((t) => t + '\n').join(''), 'utf8');
            const framer = new LineFramer(1024);
            const reused = Buffer.alloc(stream.length + 1);
            const frames: string[] = [];
            for (const chunk of split(stream, cuts)) {
              // As a socket opened with onread does: each read lands at the start of the same buffer...
              chunk.copy(reused);
              framer.push(reused.subarray(0, chunk.length), (f) => frames.push(f.toString('utf8')), true);
              // ...whose bytes are gone by the next read.
              reused.fill(0x7e);
            }
            assert.deepEqual(frames, texts);
          },
        ),
        { numRuns: 3000 },
      );
    });

    it('yields every frame when each byte arrives in its own chunk', () => {
      const texts = ['{"id":"a","type":"ack"}', 'é✓😀', 'x'];
      const stream = Buffer.from(texts.join('\n') + '\n');
      const chunks = [...stream].map((b) => Buffer.from([b]));
      assert.deepEqual(feed(new LineFramer(64), chunks).frames.map(String), texts);
    });

    it('skips empty lines and bare CRs between frames', () => {
      const stream = Buffer.from('\n\r\na\n\n\nb\r\n\n');
      assert.deepEqual(feed(new LineFramer(64), [stream]).frames.map(String), ['a', 'b']);
    });

    it('skips lines of JSON whitespace only (spaces, tabs, CRs) like empty ones, and keeps frames with spaces around them', () => {
      const stream = Buffer.from('   \n\t\r\na\n \t \r \r\n  b  \n\r\r\n');
      assert.deepEqual(feed(new LineFramer(64), [stream]).frames.map(String), ['a', '  b  ']);
      const chunks = [...stream].map((b) => Buffer.from([b]));
      assert.deepEqual(feed(new LineFramer(64), chunks).frames.map(String), ['a', '  b  ']);
    });

    it('holds an unterminated last frame until its newline arrives', () => {
      const framer = new LineFramer(64);
      const out: string[] = [];
      framer.push(Buffer.from('one\ntw'), (f) => out.push(String(f)));
      assert.deepEqual(out, ['one']);
      assert.equal(framer.pendingBytes, 2);
      framer.push(Buffer.from('o\n'), (f) => out.push(String(f)));
      assert.deepEqual(out, ['one', 'two']);
      assert.equal(framer.pendingBytes, 0);
    });

    it('returns whether the chunk ended a line, i.e. whether what it leaves pending started in it', () => {
      const framer = new LineFramer(64);
      const ignore = (): void => undefined;
      assert.equal(framer.push(Buffer.from('{"a":'), ignore), false, 'a frame started, none ended');
      assert.equal(framer.push(Buffer.from('1'), ignore), false, 'the same frame goes on');
      assert.equal(framer.push(Buffer.from('}\n{"b"'), ignore), true, 'one frame ended and the next began');
      assert.equal(framer.push(Buffer.from(':2}\n'), ignore), true, 'ended on a boundary');
      assert.equal(framer.push(Buffer.from('\r\n'), ignore), true, 'a blank line ends nothing pending either way');
    });

    it('accepts a frame of exactly max_frame_bytes, also when a CR precedes its newline', () => {
      for (const eol of ['\n', '\r\n']) {
        const frame = 'y'.repeat(100);
        const out = feed(new LineFramer(100), split(Buffer.from(frame + eol), [37, 100])).frames;
        assert.deepEqual(out.map(String), [frame], JSON.stringify(eol));
      }
    });

    it('throws FrameTooLargeError for a frame one byte over the limit, whatever the chunking', () => {
      fc.assert(
        fc.property(fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (cuts, crlf) => {
          const stream = Buffer.from('z'.repeat(101) + (crlf ? '\r\n' : '\n'));
          assert.throws(() => feed(new LineFramer(100), split(stream, cuts)), FrameTooLargeError);
        }),
      );
    });

    it('detects an oversize frame while buffering, before its newline arrives, and never holds more than the limit + 1', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 64, max: 2000 }),
          fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
          (limit, sizes) => {
            const framer = new LineFramer(limit);
            let fed = 0;
            let thrown: unknown;
            // Bytes with no newline at all: the framer must give up on its own, not wait for the end of the line.
            for (let i = 0; fed <= 2 * limit + 2; i++) {
              const n = sizes[i % sizes.length]!;
              try {
                framer.push(Buffer.alloc(n, 0x61), () => assert.fail('no frame may be yielded'));
              } catch (err) {
                thrown = err;
                break;
              }
              fed += n;
              assert.ok(framer.pendingBytes <= limit + 1, `holds ${framer.pendingBytes} bytes with a limit of ${limit}`);
            }
            assert.ok(thrown instanceof FrameTooLargeError, 'FrameTooLargeError before the newline');
            assert.equal(thrown.code, 'FS_ERR_FRAME_TOO_LARGE');
            assert.ok(fed <= limit + 1, `gave up only after ${fed} bytes had been accepted`);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('yields the good frames of a chunk that come before an oversize one', () => {
      const framer = new LineFramer(64);
      const out: string[] = [];
      assert.throws(() => framer.push(Buffer.from(`ok1\nok2\n${'q'.repeat(65)}\n`), (f) => out.push(String(f))), FrameTooLargeError);
      assert.deepEqual(out, ['ok1', 'ok2']);
    });

    it('holds a frame that arrives a byte per chunk in a few buffers, not one per byte', () => {
      // Each Buffer a socket read makes costs ~200 B besides its byte: a peer trickling its frame a byte per segment
      // grew the server by 270 MB for 1.6 MB of bytes.
      for (const transient of [false, true]) {
        const framer = new LineFramer(1 << 20);
        const out: Buffer[] = [];
        const reused = Buffer.alloc(1);
        for (let i = 0; i < 100_000; i++) {
          const chunk = transient ? reused : Buffer.alloc(1);
          chunk[0] = 0x61 + (i % 26);
          framer.push(chunk, (f) => out.push(Buffer.from(f)), transient);
        }
        assert.ok(framer.pendingPieces <= 10, `${framer.pendingPieces} buffers hold 100000 bytes (transient ${transient})`);
        framer.push(Buffer.from('\n'), (f) => out.push(Buffer.from(f)), transient);
        assert.equal(out.length, 1);
        assert.equal(out[0]!.length, 100_000);
        assert.ok(out[0]!.every((b, i) => b === 0x61 + (i % 26)), 'the frame holds its bytes in order');
        assert.equal(framer.pendingPieces, 0);
      }
    });

    it('yields exactly the frames written when small and large pieces of long frames alternate, transient or not', () => {
      const frameBytes = fc.tuple(fc.integer({ min: 1, max: 40_000 }), fc.integer({ min: 0, max: 25 })).map(([n, c]) => String.fromCharCode(0x61 + c).repeat(n));
      fc.assert(
        fc.property(
          fc.array(frameBytes, { minLength: 1, maxLength: 6 }),
          fc.array(fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 4000, max: 20_000 })), { minLength: 1, maxLength: 200 }),
          fc.boolean(),
          (texts, sizes, transient) => {
            const stream = Buffer.from(texts.map((t) => t + '\n').join(''));
            const framer = new LineFramer(1 << 20);
            const reused = Buffer.alloc(20_000);
            const frames: string[] = [];
            let at = 0;
            for (let i = 0; at < stream.length; i++) {
              const piece = stream.subarray(at, at + sizes[i % sizes.length]!);
              at += piece.length;
              const chunk = transient ? reused.subarray(0, piece.copy(reused)) : piece;
              framer.push(chunk, (f) => frames.push(f.toString('latin1')), transient);
              if (transient) reused.fill(0x3f);
            }
            assert.deepEqual(frames, texts);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('concatenates a frame split over many chunks once, not once per chunk', () => {
      // 20 000 one-byte chunks would cost ~200 MB of copying if each push re-copied the partial frame.
      const framer = new LineFramer(1 << 20);
      const realConcat = Buffer.concat;
      let copied = 0;
      Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
        const b = realConcat(list, total);
        copied += b.length;
        return b;
      }) as typeof Buffer.concat;
      try {
        const out: number[] = [];
        for (let i = 0; i < 20_000; i++) framer.push(Buffer.from('a'), (f) => out.push(f.length));
        framer.push(Buffer.from('\n'), (f) => out.push(f.length));
        assert.deepEqual(out, [20_000]);
      } finally {
        Buffer.concat = realConcat;
      }
      assert.ok(copied <= 2 * 20_000, `copied ${copied} bytes to assemble a 20000-byte frame`);
    });
  });
});
