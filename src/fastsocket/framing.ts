/**
 * Newline-delimited framing for the byte-stream transports (tcp, tls). Frame boundaries are searched only in
 * newly arrived bytes, and a partial frame is kept as a list of chunks, so a frame split into many chunks costs
 * one copy, not one per chunk. The size limit is enforced while buffering, before anything is parsed.
 */
import { FrameTooLargeError } from './errors';

const NEWLINE = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
/**
 * Pieces of an unfinished frame below this size, after its first, are copied into a shared block rather than kept as
 * they came: every Buffer a socket read makes costs ~200 B of memory besides its bytes, so a peer that sent its frame a
 * byte per segment (1.5 million writes in 9 s on loopback) grew the server by 270 MB for 1.6 MB of bytes.
 */
const SMALL_PIECE_BYTES = 4096;
/** Size of a block the small pieces of one unfinished frame are copied into. */
const BLOCK_BYTES = 16 * 1024;

/** Splits a byte stream into newline-delimited frames. @throws FrameTooLargeError from push() past maxFrameBytes */
export class LineFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The block small pieces are copied into, and how much of it is used; null until a frame needs one. */
  private block: Buffer | null = null;
  private blockUsed = 0;
  /** Where in `block` the last entry of `chunks` starts, when that entry is a view of it that a small piece extends; else -1. */
  private lastViewStart = -1;

  /** @param maxFrameBytes largest frame accepted, newline excluded. */
  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes of an unfinished frame held right now. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Buffers holding the unfinished frame: at most a few per SMALL_PIECE_BYTES of it, however it was cut. */
  get pendingPieces(): number {
    return this.chunks.length;
  }

  /**
   * Feeds bytes; calls `onFrame` for each complete frame (without its newline or a trailing CR) that holds more than
   * JSON whitespace.
   * Throws FrameTooLargeError as soon as a frame is known to exceed the limit; the framer is then unusable.
   * @param transient the caller reuses `chunk`'s memory once this returns (a socket's `onread` buffer): what is
   *   kept of an unfinished frame is then copied, and a frame handed to `onFrame` is valid only during that call.
   * @returns true when the chunk ended at least one line, so that what is pending afterwards started in this chunk.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void, transient = false): boolean {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    const endedLine = nl !== -1;
    while (nl !== -1) {
      let frame: Buffer;
      if (this.buffered === 0) {
        frame = chunk.subarray(start, nl);
      } else {
        this.chunks.push(chunk.subarray(start, nl));
        frame = Buffer.concat(this.chunks, this.buffered + (nl - start));
        this.chunks = [];
        this.buffered = 0;
        this.block = null;
        this.lastViewStart = -1;
      }
      let end = frame.length;
      if (end > 0 && frame[end - 1] === CR) end--;
      if (end > this.maxFrameBytes) throw new FrameTooLargeError(this.maxFrameBytes);
      if (!isBlank(frame, end)) onFrame(end === frame.length ? frame : frame.subarray(0, end));
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      const rest = chunk.length - start;
      // +1 leaves room for a CR that may precede the newline still to come.
      if (this.buffered + rest > this.maxFrameBytes + 1) throw new FrameTooLargeError(this.maxFrameBytes);
      const piece = start === 0 ? chunk : chunk.subarray(start);
      if (this.chunks.length > 0 && rest < SMALL_PIECE_BYTES) this.keepSmall(piece);
      else {
        this.chunks.push(transient ? Buffer.from(piece) : piece);
        this.lastViewStart = -1;
      }
      this.buffered += rest;
    }
    return endedLine;
  }

  /** Copies a small piece of the unfinished frame into the block, extending the view of it that `chunks` ends with. */
  private keepSmall(piece: Buffer): void {
    if (this.block === null || this.blockUsed + piece.length > this.block.length) {
      this.block = Buffer.allocUnsafe(BLOCK_BYTES);
      this.blockUsed = 0;
      this.lastViewStart = -1;
    }
    piece.copy(this.block, this.blockUsed);
    this.blockUsed += piece.length;
    if (this.lastViewStart >= 0) {
      this.chunks[this.chunks.length - 1] = this.block.subarray(this.lastViewStart, this.blockUsed);
    } else {
      this.lastViewStart = this.blockUsed - piece.length;
      this.chunks.push(this.block.subarray(this.lastViewStart, this.blockUsed));
    }
  }
}

/**
 * A line (or ws message) of JSON whitespace only (space, tab, CR; none at all included) carries no frame: it is skipped
 * like an empty line rather than counted as a bad frame towards max_bad_frames. A frame starts with '{', so this stops at
 * its first byte.
 */
export function isBlank(line: Buffer, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const b = line[i];
    if (b !== SPACE && b !== TAB && b !== CR) return false;
  }
  return true;
}
