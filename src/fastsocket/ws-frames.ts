/**
 * WebSocket text frames (RFC 6455 §5.2) for the frames one flush writes, encoded into one Buffer: the bytes ws's
 * Sender writes for each `send(string)`, without its per-message header Buffer, string copy and nested cork, which
 * cost ~2 us of a ws:// one-in-flight exchange of 100 B (docs/benchmarks.md).
 */
import { randomFillSync } from 'node:crypto';

const OPCODE_TEXT_FIN = 0x81;
const MASK_BIT = 0x80;
const MASK_POOL_BYTES = 8 * 1024;
/**
 * Below this many bytes a JavaScript loop masks faster than a call into bufferutil: ~180 ns a call, against ~0.6 ns
 * a byte in the loop (measured on Node 20; ws's own threshold, 48, counts a call cheaper).
 */
const NATIVE_MASK_MIN_BYTES = 256;

interface BufferUtil {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
}

/** The native masking ws uses when the optional bufferutil loads; ws's own switch WS_NO_BUFFER_UTIL turns it off here too. */
const bufferUtil: BufferUtil | null = loadBufferUtil();

function loadBufferUtil(): BufferUtil | null {
  if (process.env.WS_NO_BUFFER_UTIL) return null;
  try {
    return require('bufferutil') as BufferUtil;
  } catch {
    return null;
  }
}

let maskPool: Buffer | undefined;
let maskPoolAt = MASK_POOL_BYTES;

/** Writes a masking key (§5.3) at `at`: 4 bytes from a pool refilled with cryptographically strong randomness. */
function writeMaskKey(out: Buffer, at: number): void {
  if (maskPoolAt === MASK_POOL_BYTES) {
    maskPool ??= Buffer.allocUnsafe(MASK_POOL_BYTES);
    randomFillSync(maskPool);
    maskPoolAt = 0;
  }
  const pool = maskPool!;
  out[at] = pool[maskPoolAt];
  out[at + 1] = pool[maskPoolAt + 1];
  out[at + 2] = pool[maskPoolAt + 2];
  out[at + 3] = pool[maskPoolAt + 3];
  maskPoolAt += 4;
}

/** Each frame's UTF-8 length, measured once per call; reused from call to call (encodeTextFrames is not reentrant). */
const payloadSizes: number[] = [];

function headerBytes(payloadBytes: number, masked: boolean): number {
  const base = payloadBytes < 126 ? 2 : payloadBytes < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Encodes `frames` as unfragmented text messages whose payload is each frame's UTF-8, masked (as a client must
 * send them) or not (a server).
 */
export function encodeTextFrames(frames: readonly string[], masked: boolean): Buffer {
  const sizes = payloadSizes;
  let total = 0;
  for (let i = 0; i < frames.length; i++) {
    const n = (sizes[i] = Buffer.byteLength(frames[i], 'utf8'));
    total += headerBytes(n, masked) + n;
  }
  const out = Buffer.allocUnsafe(total);
  const maskBit = masked ? MASK_BIT : 0;
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const n = sizes[i];
    out[at] = OPCODE_TEXT_FIN;
    if (n < 126) {
      out[at + 1] = maskBit | n;
      at += 2;
    } else if (n < 65536) {
      out[at + 1] = maskBit | 126;
      out.writeUInt16BE(n, at + 2);
      at += 4;
    } else {
      out[at + 1] = maskBit | 127;
      out.writeUInt32BE(Math.floor(n / 2 ** 32), at + 2);
      out.writeUInt32BE(n >>> 0, at + 6);
      at += 10;
    }
    if (masked) {
      writeMaskKey(out, at);
      at += 4;
      out.write(f, at, 'utf8');
      maskInPlace(out, at, n);
    } else {
      out.write(f, at, 'utf8');
    }
    at += n;
  }
  return out;
}

/** XORs the `n` bytes of `buf` from `start` with the masking key in the 4 bytes before them, in place. */
function maskInPlace(buf: Buffer, start: number, n: number): void {
  if (bufferUtil !== null && n >= NATIVE_MASK_MIN_BYTES) {
    bufferUtil.mask(buf.subarray(start, start + n), buf.subarray(start - 4, start), buf, start, n);
    return;
  }
  const k0 = buf[start - 4];
  const k1 = buf[start - 3];
  const k2 = buf[start - 2];
  const k3 = buf[start - 1];
  let i = start;
  const end = start + n;
  for (; i + 4 <= end; i += 4) {
    buf[i] ^= k0;
    buf[i + 1] ^= k1;
    buf[i + 2] ^= k2;
    buf[i + 3] ^= k3;
  }
  if (i < end) buf[i++] ^= k0;
  if (i < end) buf[i++] ^= k1;
  if (i < end) buf[i] ^= k2;
}
