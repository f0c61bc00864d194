/**
 * The transport seam: client and server logic see a FrameConnection that carries whole frames, whatever the
 * scheme. tcp/tls frame with newlines (framing.ts); ws/wss carry one frame per WebSocket message.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import WebSocket, { WebSocketServer } from 'ws';
import { MonotonicClock, monotonicNs } from './clock';
import { FastSocketError, FrameTooLargeError, OptionError } from './errors';
import { isBlank, LineFramer } from './framing';
import { quoteForLog } from './logger';
import { MAX_TIMER_MS } from './options';
import { Endpoint, formatHostPort, formatUrl, isSecureScheme } from './url';
import { encodeTextFrames } from './ws-frames';

/**
 * When a connection writes what the frames of one read made its handlers queue. Frames queued outside a read go out
 * at the end of the event-loop turn either way, so that everything queued in one turn shares one write.
 * - 'read': as soon as the read has been handled: the server, whose acks 2 should leave at once, one write per read.
 * - 'settled': once the promise callbacks that the read set off have all run: the client, whose ack 3 then shares a
 *   write with the message 1 the application sends when its send() resolves (a loop turn earlier than waiting for
 *   the end of the turn, and the same write).
 */
export type ReplyFlush = 'read' | 'settled';

/** Why we close a connection; mapped to a WebSocket close code, ignored by tcp/tls. */
export type CloseReason = 'normal' | 'going_away' | 'invalid_data' | 'policy' | 'too_large' | 'overload';
const WS_CLOSE_CODES: Record<CloseReason, number> = {
  normal: 1000,
  going_away: 1001,
  invalid_data: 1007,
  policy: 1008,
  too_large: 1009,
  overload: 1013,
};

export interface FrameConnectionEvents {
  /** One complete frame (bytes, not yet decoded). */
  frame: [data: Buffer];
  /** A frame exceeded max_frame_bytes; the connection is being closed. */
  oversize: [error: FrameTooLargeError];
  /** The write buffer fell below the high-water mark again. */
  drain: [];
  close: [];
  error: [error: Error];
}

export abstract class FrameConnection extends EventEmitter<FrameConnectionEvents> {
  /** Remote `host:port`. */
  abstract readonly peer: string;
  /** Monotonic ms of the last byte received (for idle timeouts). */
  lastActivityMs = performanceNow();
  /** Monotonic ms at which the unfinished frame being received started, or null. */
  partialSinceMs: number | null = null;
  protected closed = false;
  /**
   * WebSocket close code of a close the peer began (1009: our frame was too large for it), else null: not the peer's
   * echo of a close of ours, nor 1005 or 1006, which ws reports for a close frame without a code and for none at all.
   */
  peerCloseCode: number | null = null;
  /** The reason text of that close frame ('' for none), as the peer wrote it. */
  peerCloseReason = '';
  private pending: Array<string | (() => string | Buffer)> = [];
  /**
   * Empty arrays flush() reuses: the next `pending`, and the frames it hands to writeFrames. A new array per flush
   * grew a backing store of 17 slots at its first push, ~370 B per round trip of a one-in-flight client.
   */
  private spare: Array<string | (() => string | Buffer)> = [];
  private readonly frames: Array<string | Buffer> = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private drainWanted = false;
  /** Set while the frames of one read are being handed over: what their handlers queue waits for its end. */
  private inRead = false;
  /** What afterRead() deferred until the current read's replies are written. */
  private afterReadQueue: Array<() => void> = [];
  /** readClock() when the current read began. */
  private readStartNs = 0;
  /** pauseReading() was called and not yet undone by resumeReading(). */
  private readingPaused = false;
  /** Reading stopped for a turn of the event loop after a large read (yieldAfterRead). */
  private yielding = false;
  /** The clock frameReadAtNs() reads; the server and the client give theirs (tests inject one). */
  readClock: MonotonicClock = monotonicNs;
  /**
   * Whether other connections of this connection's server are open (listen() sets it): only then does a large read
   * give up the rest of the turn (yieldAfterRead). Alone, the turn is nobody else's, and giving it up cost a single
   * pipelining client 10-15 % of its messages per second.
   */
  othersOpen: () => boolean = () => true;

  /** @param replyFlush when what the frames of one read queue is written (see ReplyFlush). */
  constructor(private readonly replyFlush: ReplyFlush = 'settled') {
    super();
  }

  /** Whether the frame being received has been unfinished for longer than `timeoutMs` at `nowMs` (§5's frame timeout). */
  frameOverdue(nowMs: number, timeoutMs: number): boolean {
    return this.partialSinceMs !== null && nowMs - this.partialSinceMs > timeoutMs;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Whether a frame written now can reach the peer: not once the peer has begun to close. A WebSocket that read the
   * peer's close frame stays open for the close handshake, a round trip, and drops what is sent meanwhile.
   */
  get writable(): boolean {
    return !this.closed;
  }

  /** Bytes written but not yet handed to the kernel. */
  get bufferedBytes(): number {
    return this.pendingBytes + this.transportBuffered();
  }

  /**
   * True when more than `highWater` bytes wait to be sent; a 'drain' event then follows once they have gone,
   * whether the transport itself pushed back or our own coalesced write was simply not flushed yet.
   */
  congested(highWater: number): boolean {
    if (this.bufferedBytes < highWater) return false;
    this.drainWanted = true;
    return true;
  }

  /**
   * Queues one frame (JSON text without newline). Frames queued together go out in one write: those queued in one
   * event-loop turn at its end, and those queued while a read is handled as ReplyFlush says (the acks one read
   * produces; an ack 3 together with the next message 1). Writing to a closed connection is a no-op.
   */
  write(text: string): void {
    this.enqueue(text, text.length);
  }

  /**
   * Queues a frame built when it is actually written, so timestamps inside it (T1 starts, turnarounds) are taken
   * at the write and not when it was queued. `sizeHint` counts towards bufferedBytes until then. A frame built as
   * bytes is their UTF-8 (a large one, encoded once by its builder), written in a write of its own.
   */
  writeLazy(build: () => string | Buffer, sizeHint: number): void {
    this.enqueue(build, sizeHint);
  }

  private enqueue(frame: string | (() => string | Buffer), size: number): void {
    if (this.closed) return;
    this.pending.push(frame);
    this.pendingBytes += size;
    if (!this.flushScheduled && !this.inRead) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Writes queued frames now. Not reentrant: neither writeFrames nor a frame's builder flushes. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closed) return;
    const queued = this.pending;
    this.pending = this.spare;
    this.pendingBytes = 0;
    const frames = this.frames;
    try {
      for (const f of queued) frames.push(typeof f === 'string' ? f : f());
      const accepted = this.writeFrames(frames);
      if (accepted && this.drainWanted) {
        this.drainWanted = false;
        queueMicrotask(() => this.emit('drain'));
      }
    } catch (err) {
      this.emit('error', err as Error);
      this.destroy();
    } finally {
      empty(queued);
      this.spare = queued;
      empty(frames);
    }
  }

  /** Flushes what is queued, then closes. Idempotent. */
  close(reason: CloseReason = 'normal'): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.closeTransport(reason);
  }

  /** Closes at once, discarding what is queued. Idempotent. */
  destroy(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.closed = true;
    this.destroyTransport();
  }

  /**
   * When the bytes of the frame being handed over were read: the start of the read that carries it, so decoding
   * that frame, and the frames before it in the same chunk, does not count as time in transit. Outside a read, now.
   */
  frameReadAtNs(): number {
    return this.inRead ? this.readStartNs : this.readClock();
  }

  /**
   * Runs `fn` once what the frames of the current read queued has been written (at once outside a read): work that
   * must not delay the replies, such as completing ack 3 records.
   */
  afterRead(fn: () => void): void {
    if (this.inRead) this.afterReadQueue.push(fn);
    else fn();
  }

  /** Transports call this before handing over the frames of one read... */
  protected beginRead(): void {
    // A read whose end was never reported (a transport's listener threw) must not hold what it queued.
    if (this.inRead) this.endRead();
    this.inRead = true;
    this.readStartNs = this.readClock();
  }

  /** ...and this after it, whatever happened in between. */
  protected endRead(): void {
    if (!this.inRead) return;
    this.inRead = false;
    if (this.pending.length > 0) {
      if (this.replyFlush === 'read') this.flush();
      else this.scheduleSettledFlush();
    }
    if (this.afterReadQueue.length > 0) {
      const queued = this.afterReadQueue;
      this.afterReadQueue = [];
      for (const fn of queued) {
        try {
          fn();
        } catch (err) {
          this.emit('error', err as Error);
        }
      }
    }
  }

  private scheduleSettledFlush(): void {
    // A nextTick queued from a microtask runs only once the microtask queue is empty, i.e. after every promise
    // callback the read set off (send() resolutions, however many awaits deep) has run and queued what it sends.
    // The microtask is a promise reaction: Node's queueMicrotask wraps each callback in an AsyncResource and a bound
    // function, ~450 B per read of a one-in-flight client.
    this.flushScheduled = true;
    SETTLED.then(this.flushOnNextTick);
  }

  private readonly flushOnNextTick = (): void => {
    process.nextTick(this.flushNow);
  };

  private readonly flushNow = (): void => this.flush();

  protected emitDrain(): void {
    this.drainWanted = false;
    this.emit('drain');
  }

  /** Stops reading from the peer until resumeReading() (backpressure; a new connection until its listeners are set). */
  pauseReading(): void {
    this.readingPaused = true;
    this.stopReading();
  }

  resumeReading(): void {
    this.readingPaused = false;
    if (!this.yielding && !this.closed) this.startReading();
  }

  /**
   * The server's connections (replyFlush 'read') stop reading for one turn of the event loop after a read of
   * FAIR_READ_BYTES or more. libuv reads a socket up to 32 times in a row while it has data, and each read of small
   * frames is handed over in the same turn: one client flooding messages (and reading its acks) took 250 ms of every
   * turn, which another client's messages waited through (RTT p50 0.75 ms -> 230-270 ms on loopback).
   */
  protected yieldAfterRead(bytes: number): void {
    if (this.replyFlush !== 'read' || bytes < FAIR_READ_BYTES || this.yielding || this.readingPaused || this.closed || !this.othersOpen()) return;
    this.yielding = true;
    this.stopReading();
    setImmediate(this.endYield);
  }

  private readonly endYield = (): void => {
    this.yielding = false;
    // Also when it was closed during the turn: a closing connection is read to notice the peer's end (or close frame).
    if (!this.readingPaused) this.startReading();
  };

  protected abstract stopReading(): void;
  protected abstract startReading(): void;
  protected abstract transportBuffered(): number;
  /** Returns false when the transport pushed back (a 'drain' will follow). `frames` is reused once it returns. */
  protected abstract writeFrames(frames: Array<string | Buffer>): boolean;
  protected abstract closeTransport(reason: CloseReason): void;
  protected abstract destroyTransport(): void;
}

/** Empties an array and keeps its backing store for reuse, which `a.length = 0` would free (V8 trims it to none). */
function empty(a: unknown[]): void {
  while (a.length > 0) a.pop();
}

/** Already resolved: a reaction to it is a microtask. */
const SETTLED = Promise.resolve();

function performanceNow(): number {
  return performance.now();
}

/**
 * The new partialSinceMs after a read at `nowMs`. The clock of an unfinished frame starts with that frame: a read
 * that ended a frame started the one left pending, so a link that is busy but slow, where reads keep ending
 * mid-frame, is not timed from its first partial read.
 */
function unfinishedSince(pending: boolean, endedFrame: boolean, sinceMs: number | null, nowMs: number): number | null {
  if (!pending) return null;
  return endedFrame || sinceMs === null ? nowMs : sinceMs;
}

/**
 * What a socket opened with `onread` reads, for the StreamConnection made once it has connected: Node then reads
 * into one buffer of ours, reused for every read, instead of allocating a buffer per read and passing it through
 * the stream machinery ('data' events). A one-in-flight client reads once per round trip, and that path cost it
 * 5-9 us of RTT p50 (paired runs, docs/benchmarks.md). Only client sockets can be opened this way.
 */
class ReusedReadBuffer {
  readonly buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private onChunk: ((chunk: Buffer) => void) | null = null;
  /** Copies of what was read before a connection took over (none in practice: reading starts after 'connect'). */
  private early: Buffer[] = [];

  /** The socket's onread callback; true: keep reading. */
  deliver(bytes: number): boolean {
    const chunk = this.buffer.subarray(0, bytes);
    if (this.onChunk) this.onChunk(chunk);
    else this.early.push(Buffer.from(chunk));
    return true;
  }

  /** From now on each read is handed to `onChunk`, valid only during that call. */
  attach(onChunk: (chunk: Buffer) => void): void {
    this.onChunk = onChunk;
    const early = this.early;
    this.early = [];
    for (const chunk of early) onChunk(chunk);
  }
}

/** The size of a client's reused read buffer: the most one read returns. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Whether frames queued together hold megabytes, or bytes: those go out one by one, as joining them into one write
 * would copy megabytes first (and decode bytes as text).
 */
function largeOrBytes(frames: Array<string | Buffer>): boolean {
  let total = 0;
  for (const f of frames) if (typeof f !== 'string' || (total += f.length) > 256 * 1024) return true;
  return false;
}
const NEWLINE = Buffer.from('\n');
const AS_TEXT = { binary: false } as const;
/** A server connection's read of this many bytes or more lets the other connections read before its next one. */
const FAIR_READ_BYTES = 16 * 1024;

/** tcp:// and tls://: newline-delimited JSON over a byte stream. */
class StreamConnection extends FrameConnection {
  readonly peer: string;
  private readonly framer: LineFramer;

  /** @param reads the socket's reused read buffer when it was opened with `onread`; else it is read by 'data' events. */
  constructor(private readonly socket: net.Socket, maxFrameBytes: number, replyFlush: ReplyFlush, reads?: ReusedReadBuffer) {
    super(replyFlush);
    this.peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    this.framer = new LineFramer(maxFrameBytes);
    socket.setNoDelay(true);
    if (reads) reads.attach((chunk) => this.onData(chunk, true));
    else socket.on('data', (chunk: Buffer) => this.onData(chunk, false));
    socket.on('drain', () => this.emitDrain());
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
  }

  /** @param transient `chunk` is a reused read buffer, overwritten by the next read. */
  private onData(chunk: Buffer, transient: boolean): void {
    // A closing connection (refused, or told why it is closed) is read only to notice the peer's end: what it still
    // sends is never handled, and buffering it would let refused peers fill the server's memory.
    if (this.closed) return;
    this.lastActivityMs = performanceNow();
    this.beginRead();
    let endedFrame: boolean;
    try {
      endedFrame = this.framer.push(chunk, (frame) => this.emit('frame', frame), transient);
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.emit('oversize', err);
        this.destroy();
        return;
      }
      this.emit('error', err as Error);
      this.destroy();
      return;
    } finally {
      this.endRead();
    }
    this.partialSinceMs = unfinishedSince(this.framer.pendingBytes > 0, endedFrame, this.partialSinceMs, this.lastActivityMs);
    this.yieldAfterRead(chunk.length);
  }

  protected stopReading(): void {
    this.socket.pause();
  }

  protected startReading(): void {
    this.socket.resume();
  }

  protected transportBuffered(): number {
    return this.socket.writableLength;
  }

  protected writeFrames(frames: Array<string | Buffer>): boolean {
    // One frame, the usual reply (an ack 2): a plain write. Corked, it was buffered, then handed over by uncork() with
    // the stream's bookkeeping of a batch, ~350 B of allocation per message for nothing.
    if (frames.length === 1 && typeof frames[0] === 'string') return this.socket.write(frames[0] + '\n');
    if (frames.length === 1 || largeOrBytes(frames)) {
      // Large frames go out one by one: joining them would flatten and copy megabytes into one string first.
      this.socket.cork();
      let ok = true;
      for (const f of frames) {
        if (typeof f === 'string') ok = this.socket.write(f + '\n');
        else {
          this.socket.write(f);
          ok = this.socket.write(NEWLINE);
        }
      }
      this.socket.uncork();
      return ok;
    }
    frames.push('');
    return this.socket.write(frames.join('\n'));
  }

  protected closeTransport(): void {
    this.socket.end();
    // A peer that never reads would keep a half-closed socket forever. Cleared at the close, or it kept the connection
    // (and its read buffer) in memory for 2 s after.
    const timer = setTimeout(() => this.socket.destroy(), 2000).unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  protected destroyTransport(): void {
    this.socket.destroy();
  }
}

/**
 * What ws's maxPayload allows beyond max_frame_bytes: the "\r\n" a message may end with, which PROTOCOL.md §1
 * tolerates and which, as on tcp/tls, does not count against the limit.
 */
const WS_NEWLINE_ALLOWANCE = 2;

/** ws:// and wss://: one JSON object per WebSocket message. */
class WsConnection extends FrameConnection {
  /** Whether the current read of the socket completed a message. */
  private messageInRead = false;
  /** The cut for a ping flood was reported: the pings read after it in the same chunk are not. */
  private pingFloodSaid = false;
  /** Whether frames this side sends are masked: a client's (RFC 6455 §5.3). */
  private readonly masked: boolean;

  /** @param maxFrameBytes largest frame accepted, a trailing newline excluded (ws itself must allow WS_NEWLINE_ALLOWANCE more). */
  constructor(private readonly ws: WebSocket, readonly peer: string, maxFrameBytes: number, replyFlush: ReplyFlush) {
    super(replyFlush);
    this.masked = !(ws as unknown as { _isServer: boolean })._isServer;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      // As on tcp/tls: what a closing connection still sends is never handled. ws hands over every message of a read,
      // those after the one that made us close included (a second one over the limit would count a second close).
      if (this.closed) return;
      this.lastActivityMs = performanceNow();
      this.messageInRead = true;
      let frame = data;
      let end = frame.length;
      while (end > 0 && (frame[end - 1] === 0x0a || frame[end - 1] === 0x0d)) end--;
      if (end !== frame.length) frame = frame.subarray(0, end);
      // As a blank line on tcp/tls: no frame, and not a bad one.
      if (end <= maxFrameBytes && isBlank(frame, end)) return;
      if (frame.length <= maxFrameBytes) {
        this.emit('frame', frame);
        return;
      }
      // What ws does for a message over maxPayload: the same close code, reported the same way.
      this.emit('oversize', new FrameTooLargeError(maxFrameBytes));
      this.close('too_large');
    });
    ws.on('ping', () => {
      this.lastActivityMs = performanceNow();
      // ws answers each ping with a pong, and cuts the peer without a word once maxPendingAutoPongs of them are still
      // unwritten: one that pings and never reads. Said as a protocol violation, so the cut is not a mystery 1006.
      const pongs = ws as unknown as { _pendingAutoPongs?: number; _maxPendingAutoPongs?: number };
      if (!this.pingFloodSaid && ws.readyState !== WebSocket.OPEN && (pongs._maxPendingAutoPongs ?? 0) > 0 && pongs._pendingAutoPongs! >= pongs._maxPendingAutoPongs!) {
        const err = new Error(`${pongs._pendingAutoPongs} pongs unwritten: the peer sends pings faster than it reads the pongs (a ping flood)`);
        this.pingFloodSaid = true;
        this.emit('error', Object.assign(err, { code: 'WS_ERR_PING_FLOOD' }));
      }
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // Over maxPayload, or a declared length past 2^53 - 1: closed by ws with 1009 either way.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || err.code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') this.emit('oversize', new FrameTooLargeError(-1));
      else this.emit('error', err);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      // A peer answers our close frame with the same code (RFC 6455 §5.5.1): our 1009 for its frame over the limit came
      // back and was read as its verdict on ours, which dropped a message of ours per connection as too large.
      if (!this.closed && code !== 1005 && code !== 1006) {
        this.peerCloseCode = code;
        this.peerCloseReason = reason.toString('utf8');
      }
      this.closed = true;
      this.emit('close');
    });
    const raw = (ws as unknown as { _socket?: net.Socket })._socket;
    raw?.on('drain', () => this.emitDrain());
    // ws closes on a socket error (1006) without reporting it; a reset is said as on tcp, so the client can tell a link
    // cut from a refusal.
    raw?.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ECONNRESET') this.emit('error', err);
    });
    // ws only reports whole messages; its receiver's buffer tells whether one has started and not ended, which the
    // frame timeout needs. This listener runs after ws's own, so the receiver has already consumed the chunk.
    const receiver = (ws as unknown as { _receiver?: EventEmitter & { _bufferedBytes?: number; _fragments?: unknown[]; _fragmented?: number } })._receiver;
    // A close frame read in one chunk with messages before it: ws answers it at once, in the read, and from then on
    // drops what is sent, so the replies those messages queued (acks 2 for the server, an ack 3 for the client) would be
    // lost. They go first (RFC 6455 §5.5.1 lets data precede the answering close frame).
    receiver?.prependListener('conclude', () => this.flush());
    // ws hands over every message of a chunk synchronously (allowSynchronousEvents, its default) from its own 'data'
    // listener, which was added before these two.
    raw?.prependListener('data', () => {
      this.messageInRead = false;
      this.beginRead();
    });
    raw?.on('data', (chunk: Buffer) => {
      this.endRead();
      this.lastActivityMs = performanceNow();
      // _fragmented (the opcode of a message whose last fragment is still to come) also covers a message whose fragments
      // so far were all empty, which leaves nothing in _fragments: endless empty fragments must not dodge the timeout.
      const partial = (receiver?._bufferedBytes ?? 0) > 0 || (receiver?._fragments?.length ?? 0) > 0 || (receiver?._fragmented ?? 0) > 0;
      this.partialSinceMs = unfinishedSince(partial, this.messageInRead, this.partialSinceMs, this.lastActivityMs);
      this.yieldAfterRead(chunk.length);
    });
  }

  override get writable(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  protected stopReading(): void {
    this.ws.pause();
  }

  protected startReading(): void {
    this.ws.resume();
  }

  protected transportBuffered(): number {
    return this.ws.bufferedAmount;
  }

  protected writeFrames(frames: Array<string | Buffer>): boolean {
    const raw = (this.ws as unknown as { _socket?: net.Socket })._socket;
    // The acks and small messages of a flush, framed by us in one write. ws's Sender writes a message at once when
    // it is not compressing (we never offer permessage-deflate) nor reading a Blob (we send none), so bytes written
    // past it here keep their order with what it writes, a close frame included.
    if (raw && this.ws.readyState === WebSocket.OPEN && !largeOrBytes(frames)) {
      raw.write(encodeTextFrames(frames as string[], this.masked));
      return !raw.writableNeedDrain;
    }
    raw?.cork();
    // A frame given as bytes is still a text message (§1); ws sends a Buffer as binary unless told.
    for (const f of frames) {
      if (typeof f === 'string') this.ws.send(f);
      else this.ws.send(f, AS_TEXT);
    }
    raw?.uncork();
    return raw ? !raw.writableNeedDrain : true;
  }

  protected closeTransport(reason: CloseReason): void {
    this.ws.close(WS_CLOSE_CODES[reason]);
    const timer = setTimeout(() => this.ws.terminate(), 2000).unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  protected destroyTransport(): void {
    this.ws.terminate();
  }
}

/** `cert`, `key` and `ca` are PEM text: the contents of the files, not their names (checked in the constructors). */
export interface TlsOptions {
  /**
   * This side's certificate, followed by the intermediate certificates that chain it to the CA the peer trusts.
   * @default undefined (a server needs one; a client then presents none)
   */
  cert?: string | Buffer | undefined;
  /** The private key of `cert`, unencrypted (there is no passphrase option). @default undefined (give it with `cert`) */
  key?: string | Buffer | undefined;
  /**
   * CA to verify the peer with, or a list of them (server: require and verify client certificates, i.e. mutual TLS).
   * @default undefined (a client verifies the server against Node's CAs; a server asks for no client certificate)
   */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** Client: verify the server certificate. @default true */
  rejectUnauthorized?: boolean | undefined;
  /** Client: name to verify the certificate against. @default the URL host */
  servername?: string | undefined;
}

export interface ListenOptions {
  maxFrameBytes: number;
  tls?: TlsOptions;
  onConnection: (conn: FrameConnection) => void;
  /** ws/wss: headers of the upgrade request, checked before the upgrade (e.g. Authorization). */
  onUpgradeHeaders?: (conn: FrameConnection, headers: http.IncomingHttpHeaders) => void;
  onError?: (err: Error) => void;
  /**
   * tls/ws/wss: a TCP connection that has not finished its TLS handshake or WebSocket upgrade within this is
   * closed (the server's idle timeout, applied before there is a FrameConnection to watch). @default 120000
   */
  handshakeTimeoutMs?: number;
  onHandshakeTimeout?: (peer: string) => void;
  /**
   * tls/wss: a TLS handshake with a client failed; `reason` says why (no or a refused client certificate, a client
   * that does not speak TLS), `level` how loudly to say it (debug: the peer hung up without a word).
   */
  onTlsFailure?: (peer: string, reason: string, level: 'warn' | 'debug') => void;
  /** tcp: a connection that opened with a TLS handshake (a tls:// or wss:// client), closed at once. */
  onTlsOnPlain?: (peer: string) => void;
  /** ws/wss: a connection whose bytes are not an HTTP request (e.g. a tcp:// client), closed at once. */
  onNotHttp?: (peer: string) => void;
  /** ws/wss: an HTTP request whose headers pass Node's limit (http.maxHeaderSize), answered 431 and closed. */
  onHeadersTooLarge?: (peer: string, limitBytes: number) => void;
  /**
   * tls/ws/wss: asked for each new TCP connection, with how many are still in their handshake; false closes it at
   * once (so half-open handshakes count against max_connections).
   */
  admitHandshake?: (handshaking: number, peer: string) => boolean;
}

export interface Listener {
  /** The bound URL, with the real port when 0 was asked for. */
  readonly url: string;
  readonly endpoint: Endpoint;
  /** Stops accepting. Existing connections are the caller's to close. */
  close(): Promise<void>;
}

/** Binds a listener for the endpoint's scheme. */
export function listen(ep: Endpoint, opts: ListenOptions): Promise<Listener> {
  const secure = isSecureScheme(ep.scheme);
  if (secure && (!opts.tls?.cert || !opts.tls?.key)) {
    return Promise.reject(new OptionError('tls', `option tls.cert and tls.key are required to listen on ${ep.scheme}://`));
  }
  // idle_timeout_ms may exceed what a Node timer holds: past 2^31 - 1 ms it fired after 1 ms and cut every handshake.
  const handshakeTimeoutMs = Math.min(opts.handshakeTimeoutMs ?? 120_000, MAX_TIMER_MS);
  const tlsServerOptions: tls.TlsOptions | undefined = secure
    ? {
        cert: opts.tls!.cert,
        key: opts.tls!.key,
        ca: opts.tls!.ca,
        requestCert: !!opts.tls!.ca,
        rejectUnauthorized: !!opts.tls!.ca,
        handshakeTimeout: handshakeTimeoutMs,
      }
    : undefined;
  // TCP sockets open on this listener, handshaking or not: a connection's large read yields the turn only to others.
  let open = 0;
  const othersOpen = () => open > 1;
  // TCP connections still in their TLS handshake or HTTP upgrade, by remote host:port, with their deadline.
  const handshaking = new Map<string, { raw: net.Socket; deadline: NodeJS.Timeout }>();
  const handshakeDone = (key: string) => {
    const h = handshaking.get(key);
    if (!h) return;
    handshaking.delete(key);
    clearTimeout(h.deadline);
  };
  let server: net.Server;
  if (ep.scheme === 'tcp' || ep.scheme === 'tls') {
    const onSocket = (socket: net.Socket) => {
      socket.on('error', () => undefined);
      handshakeDone(formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0));
      const conn = new StreamConnection(socket, opts.maxFrameBytes, 'read');
      conn.othersOpen = othersOpen;
      if (ep.scheme === 'tcp') {
        // A tls:// client's ClientHello holds no newline to end a frame: it waited for frame_timeout_ms, the client for
        // its connect timeout, and neither said why. Ahead of the framer's listener, so none of it is read as frames.
        socket.prependOnceListener('data', (chunk: Buffer) => {
          if (chunk[0] !== TLS_HANDSHAKE_RECORD || chunk[1] !== 3) return;
          opts.onTlsOnPlain?.(conn.peer);
          conn.destroy();
        });
      }
      opts.onConnection(conn);
    };
    server = ep.scheme === 'tcp' ? net.createServer(onSocket) : tls.createServer(tlsServerOptions!, onSocket);
  } else {
    const httpServer = ep.scheme === 'ws' ? http.createServer() : https.createServer(tlsServerOptions!);
    httpServer.on('request', (_req, res) => {
      // Closed after the answer: kept alive, one connection could pipeline plain requests for as long as it likes.
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('fastsocket: WebSocket upgrade required\n');
    });
    // skipUTF8Validation: invalid UTF-8 is our decoder's to count as one bad frame (§5), not a reason for ws to close.
    const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes + WS_NEWLINE_ALLOWANCE, perMessageDeflate: false, skipUTF8Validation: true });
    httpServer.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      socket.on('error', () => undefined);
      const path = (req.url ?? '/').split('?')[0];
      const wanted = ep.path.split('?')[0];
      if (wanted && path !== wanted) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        handshakeDone(formatHostPort(req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0));
        const conn = new WsConnection(ws, formatHostPort(req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0), opts.maxFrameBytes, 'read');
        conn.othersOpen = othersOpen;
        opts.onUpgradeHeaders?.(conn, req.headers);
        opts.onConnection(conn);
      });
    });
    server = httpServer;
  }
  server.on('connection', (raw: net.Socket) => {
    open++;
    raw.once('close', () => open--);
  });
  if (ep.scheme !== 'tcp') {
    server.on('connection', (raw: net.Socket) => {
      const key = formatHostPort(raw.remoteAddress ?? '?', raw.remotePort ?? 0);
      raw.on('error', () => undefined);
      if (opts.admitHandshake && !opts.admitHandshake(handshaking.size, key)) {
        raw.destroy();
        return;
      }
      // A deadline from accept, not an inactivity timer: a handshake dribbled a byte at a time must end too.
      const deadline = setTimeout(() => {
        if (handshaking.get(key)?.raw !== raw) return;
        handshaking.delete(key);
        opts.onHandshakeTimeout?.(key);
        raw.destroy();
      }, handshakeTimeoutMs);
      handshaking.set(key, { raw, deadline });
      raw.once('close', () => {
        if (handshaking.get(key)?.raw === raw) handshakeDone(key);
      });
    });
  }
  if (secure) {
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      // Node has destroyed the socket by now; the TCP socket under it kept the address read at 'connection'.
      const raw = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent ?? socket;
      // The handshake deadline reports its own timeouts.
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
      const { reason, level } = tlsFailure(err, socket, raw.bytesRead, ep.scheme);
      opts.onTlsFailure?.(formatHostPort(raw.remoteAddress ?? '?', raw.remotePort ?? 0), reason, level);
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      // An HTTP request all the same (a long Authorization: Bearer token): reported as not HTTP, both ends blamed the
      // other's scheme. The 431 lets the client say what happened.
      opts.onHeadersTooLarge?.(peer, http.maxHeaderSize);
      if (socket.writable && socket.bytesWritten === 0) {
        socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        setTimeout(() => socket.destroy(), 2000).unref();
        return;
      }
    } else if (err.code?.startsWith('HPE_')) {
      // llhttp's parse errors; a reset or a timeout is no news.
      opts.onNotHttp?.(peer);
    }
    socket.destroy();
  });
  return new Promise<Listener>((resolve, reject) => {
    const onListenError = (err: Error) => reject(new FastSocketError('FS_ERR_CONNECT', `cannot listen on ${formatUrl(ep)}: ${err.message}`, { cause: err }));
    server.once('error', onListenError);
    server.listen(ep.port, ep.host, () => {
      server.off('error', onListenError);
      server.on('error', (err) => opts.onError?.(err));
      const address = server.address() as net.AddressInfo;
      const bound: Endpoint = { ...ep, port: address.port };
      let closing: Promise<void> | undefined;
      resolve({
        url: formatUrl(bound),
        endpoint: bound,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            (server as http.Server).closeAllConnections?.();
          })),
      });
    });
  });
}

/**
 * Why a server may close a client's connections without a word: it is full, or blocks the client's address for a
 * minute (a NAT shared with a client that kept trying a wrong token). Before the handshake the client sees what it
 * sees of a server on another scheme, after it what it sees of a wrong token, and was told only those.
 */
export const SERVER_REFUSING = 'a server at its max_connections, or blocking this address for a while after too many failed authentications from it?';
const REFUSED_BEFORE_HANDSHAKE = `${SERVER_REFUSING} its log says why`;

/** Why a client refuses a server certificate (OpenSSL's verify codes, and Node's host check), with what to do about it. */
const CERT_REFUSAL_HINTS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'no CA this client trusts signed it: give that CA as tls.ca (--ca, tls_ca), or make the server send its intermediate certificates after its own',
  UNABLE_TO_GET_ISSUER_CERT: 'no CA this client trusts signed it: give that CA as tls.ca (--ca, tls_ca)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'no CA this client trusts signed it: give that CA as tls.ca (--ca, tls_ca)',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a CA this client does not trust: give that CA as tls.ca (--ca, tls_ca)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed: give that certificate, or the CA that should sign it, as tls.ca (--ca, tls_ca)',
  CERT_UNTRUSTED: 'no CA this client trusts vouches for it: give that CA as tls.ca (--ca, tls_ca)',
  CERT_HAS_EXPIRED: 'renew it, or check the clocks of both machines',
  CERT_NOT_YET_VALID: 'check the clocks of both machines',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its subjectAltName must list the host of the url, an address as IP:, a name as DNS: (the CN is compared only with a name, and only when the certificate lists no DNS: name)',
  INVALID_PURPOSE: 'it does not allow server authentication (extendedKeyUsage)',
};

/**
 * A tls:// or wss:// connect error, said so the user knows which side to fix: which certificate was refused and
 * why, or that the server does not speak TLS at all.
 */
function explainTlsConnectError(err: NodeJS.ErrnoException, scheme: string): Error {
  const hint = err.code !== undefined ? CERT_REFUSAL_HINTS[err.code] : undefined;
  if (hint) return new Error(`the server's certificate was refused: ${err.message} (${err.code}; ${hint})`, { cause: err });
  if (err.code === 'ECONNRESET' && /before secure TLS connection was established/.test(err.message)) {
    return new Error(`${err.message} (a server that does not speak TLS: tcp:// or ws://? this client is ${scheme}://; or ${REFUSED_BEFORE_HANDSHAKE})`, { cause: err });
  }
  const notTls = notTlsReason(err);
  if (notTls !== null) {
    return new Error(`the server answered with bytes that are not TLS (${notTls}): a server that does not speak TLS (tcp:// or ws://? this client is ${scheme}://)`, { cause: err });
  }
  return isTlsAlert(err) ? tlsAlertError(err) : err;
}

/**
 * OpenSSL's reason when what the server sent back to our ClientHello is not TLS (a plaintext server that answers
 * first: any HTTP server sends 400 Bad Request), else null. Its message is OpenSSL's text, file names and line numbers
 * and a newline included; over wss:// it comes from the HTTP client's write, as EPROTO with that text and no code of its own.
 */
function notTlsReason(err: NodeJS.ErrnoException & { reason?: string }): string | null {
  for (const code of NOT_TLS_CODES) {
    const reason = code.slice('ERR_SSL_'.length).toLowerCase().replace(/_/g, ' ');
    if (err.code === code || (err.code === 'EPROTO' && err.message.includes(`:${reason}:`))) return reason;
  }
  return null;
}

/** What a dial waits for from the server once the TCP connection is made. */
type Handshake = 'tls' | 'upgrade';

/** What a connect timeout while waiting for `handshake` means. */
function stalledHandshake(handshake: Handshake): string {
  const [waited, speaks] = handshake === 'tls' ? ['the TLS handshake', 'TLS'] : ['the WebSocket upgrade request', 'WebSocket'];
  return `: the server accepted the connection but did not answer ${waited} (a server that does not speak ${speaks}, or another service, on that port?)`;
}

/** A TLS alert from the server (OpenSSL's message holds the alert among file names and line numbers), said plainly. */
export function tlsAlertError(err: NodeJS.ErrnoException & { reason?: string }): Error {
  const alert = err.reason ?? err.code;
  const hint = /certificate required|handshake failure/.test(alert ?? '')
    ? 'it requires a client certificate: give one with tls.cert and tls.key (--client-cert --client-key, tls_client_cert tls_client_key)'
    : /unknown ca|bad certificate|certificate unknown|expired|revoked|unsupported certificate/.test(alert ?? '')
      ? 'it refused our client certificate: it must chain to the CA the server trusts and allow client authentication'
      : 'the server\'s log says why';
  return new Error(`the server ended the TLS handshake with the alert "${alert}" (${hint})`, { cause: err });
}

/** Whether an error is a TLS alert received from the peer. */
export function isTlsAlert(err: Error & { code?: string }): boolean {
  return /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(err.code ?? '');
}

/** The first byte of a TLS record that carries a handshake message (a ClientHello), followed by major version 3. */
const TLS_HANDSHAKE_RECORD = 0x16;

/** OpenSSL's verdicts on a first record that is not TLS: a plaintext client (tcp, ws) on a tls:// or wss:// server. */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_RECORD_LENGTH_MISMATCH']);

/**
 * Why the TLS handshake of a client failed, in words for the server's log, and how loud: a warning when it names a
 * misconfiguration, debug when the peer just hung up (a Node client that refused our certificate says why in its own
 * log; scanners and health checks on a public address do this all day, and ROS nodes log at info by default).
 */
function tlsFailure(err: NodeJS.ErrnoException & { reason?: string }, socket: tls.TLSSocket, bytesRead: number, scheme: string): { reason: string; level: 'warn' | 'debug' } {
  const code = err.code ?? '';
  const warn = (reason: string) => ({ reason, level: 'warn' as const });
  if (socket.authorizationError) {
    return warn(
      `its client certificate was refused (${socket.authorizationError}): this server takes only client certificates that chain to its CA ` +
        '(tls.ca, --ca, tls_ca), are within their validity dates and allow client authentication',
    );
  }
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return warn('it presented no client certificate, and this server requires one (mutual TLS: tls.ca, --ca, tls_ca is set)');
  if (NOT_TLS_CODES.has(code)) return warn(`it did not start a TLS handshake (a ${scheme === 'tls' ? 'tcp://' : 'ws:// or tcp://'} client? this server is ${scheme}://)`);
  if (code === 'ERR_SSL_UNSUPPORTED_PROTOCOL') return warn('it offers only TLS versions older than 1.2, which this server refuses');
  if (isTlsAlert(err)) return warn(`the client ended the TLS handshake with the alert "${err.reason ?? code}" (does it trust this server's certificate?)`);
  if (code.startsWith('ERR_SSL_')) return warn(`its TLS handshake failed: ${err.reason ?? err.message}`);
  if (bytesRead > 0) return { reason: `it hung up during the TLS handshake (${err.message}; a client that does not trust this server's certificate does that, and its log says why)`, level: 'debug' };
  return { reason: `it closed before its TLS handshake (${err.message})`, level: 'debug' };
}

/**
 * Whether a connection's 'error' is a WebSocket protocol violation by the peer (a reserved opcode or RSV bit, too many
 * fragments, a ping flood: WS_ERR_PING_FLOOD), after which ws closes the connection itself: worth a warning, where a socket error (a reset) is not.
 */
export function isWebSocketProtocolError(err: Error & { code?: string }): boolean {
  return err.code?.startsWith('WS_ERR_') === true;
}

export interface ConnectOptions {
  maxFrameBytes: number;
  tls?: TlsOptions;
  /** ws/wss: extra headers of the upgrade request. */
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Ends the dial (rejecting with FS_ERR_CONNECT): a client closed while a server held its handshake. */
  signal?: AbortSignal;
}

/**
 * Opens a connection to the endpoint. Rejects with FS_ERR_CONNECT. Resolves with the connection not reading: call
 * resumeReading() once its listeners are attached. A server's first bytes can come with its handshake (ws: in the
 * chunk of the 101) and be handled on the next tick, before the caller's promise callback has run; an 'error' event
 * then had no listener and threw out of the process.
 */
export function connect(ep: Endpoint, opts: ConnectOptions): Promise<FrameConnection> {
  const what = formatUrl(ep);
  return new Promise<FrameConnection>((resolveOpen, reject) => {
    const resolve = (conn: FrameConnection) => {
      conn.pauseReading();
      resolveOpen(conn);
    };
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new FastSocketError('FS_ERR_CONNECT', `cannot connect to ${what}: ${err.message}`, { cause: err }));
    };
    // What the dial waits for once the TCP connection is made: a timeout then is a server that does not answer the TLS
    // handshake or the WebSocket upgrade, which "timed out" alone made look like a host that is down or a firewall.
    let waitingFor: Handshake | null = null;
    const timer = setTimeout(() => {
      fail(new Error(`timed out after ${opts.timeoutMs} ms${waitingFor ? stalledHandshake(waitingFor) : ''}`));
      cleanup();
    }, opts.timeoutMs);
    let cleanup = () => undefined as void;
    opts.signal?.addEventListener(
      'abort',
      () => {
        fail(new Error('the dial was given up'));
        cleanup();
      },
      { once: true },
    );
    if (ep.scheme === 'tcp' || ep.scheme === 'tls') {
      // tls.connect takes no onread: a TLS socket is read through its stream.
      const reads = ep.scheme === 'tcp' ? new ReusedReadBuffer() : undefined;
      const socket =
        reads !== undefined
          ? net.connect({ host: ep.host, port: ep.port, onread: { buffer: reads.buffer, callback: (bytes) => reads.deliver(bytes) } })
          : tls.connect({
              host: ep.host,
              port: ep.port,
              ca: opts.tls?.ca,
              cert: opts.tls?.cert,
              key: opts.tls?.key,
              rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
              servername: opts.tls?.servername ?? (net.isIP(ep.host) ? undefined : ep.host),
            });
      cleanup = () => void socket.destroy();
      socket.once('connect', () => (waitingFor = ep.scheme === 'tls' ? 'tls' : null));
      socket.once('error', (err: NodeJS.ErrnoException) => fail(ep.scheme === 'tls' ? explainTlsConnectError(err, ep.scheme) : err));
      socket.once(ep.scheme === 'tcp' ? 'connect' : 'secureConnect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new StreamConnection(socket, opts.maxFrameBytes, 'settled', reads));
      });
    } else {
      const ws = new WebSocket(`${ep.scheme}://${formatHostPort(ep.host, ep.port)}${ep.path || '/'}`, {
        maxPayload: opts.maxFrameBytes + WS_NEWLINE_ALLOWANCE,
        perMessageDeflate: false,
        // As on the server: a text message of invalid UTF-8 is one bad frame for our decoder (§5), not a reason for ws
        // to close the connection, which made the client resend everything unacknowledged on it marked resent.
        skipUTF8Validation: true,
        headers: opts.headers,
        ca: opts.tls?.ca,
        cert: opts.tls?.cert,
        key: opts.tls?.key,
        rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
        ...(opts.tls?.servername ? { servername: opts.tls.servername } : {}),
      } as WebSocket.ClientOptions);
      cleanup = () => void ws.terminate();
      (ws as unknown as { _req?: http.ClientRequest })._req?.once('socket', (raw: net.Socket) => {
        const secure = ep.scheme === 'wss';
        raw.once('connect', () => (waitingFor = secure ? 'tls' : 'upgrade'));
        if (secure) raw.once('secureConnect', () => (waitingFor = 'upgrade'));
      });
      // Node's HTTP client says only "socket hang up" when the server closes without answering the upgrade, as a
      // fastsocket tcp:// or tls:// server does with an HTTP request.
      const onError = (err: NodeJS.ErrnoException) =>
        fail(
          err.code === 'ECONNRESET' && err.message === 'socket hang up'
            ? new Error(
                `${err.message} without an HTTP answer (a tcp:// or tls:// server?${ep.scheme === 'ws' ? ' a wss:// one?' : ''}` +
                  `${opts.tls?.cert ? ' one that refused our client certificate?' : ''} ${REFUSED_BEFORE_HANDSHAKE})`,
                { cause: err },
              )
            : explainTlsConnectError(err, ep.scheme),
        );
      ws.once('error', onError);
      ws.once('unexpected-response', (_req, res) => {
        // A redirect says where to: most often the same server on wss:// (or another path), which the url should name.
        const location = res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 ? res.headers.location : undefined;
        fail(new Error(`HTTP ${res.statusCode} instead of a WebSocket upgrade${location ? ` (a redirect to ${quoteForLog(location.slice(0, 200))}: dial that url)` : ''}`));
        ws.terminate();
      });
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.off('error', onError);
        const raw = (ws as unknown as { _socket: net.Socket })._socket;
        raw.setNoDelay(true);
        resolve(new WsConnection(ws, formatHostPort(ep.host, ep.port), opts.maxFrameBytes, 'settled'));
      });
    }
  });
}
