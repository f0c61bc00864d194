/**
 * A raw protocol peer for tests: writes exactly the bytes or frames a test chooses (hostile ones included) and
 * records what comes back, over tcp, tls, ws or wss. It knows the wire format only, not the library.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import WebSocket from 'ws';
import { withDeadline, DEFAULT_DEADLINE_MS } from './wait';

export interface RawPeerOptions {
  /** CA for tls/wss. */
  ca?: string;
  /** Do not read what the server sends (a peer that never reads its acks). */
  noRead?: boolean;
}

export interface Closed {
  /** WebSocket close code; null for tcp/tls. */
  code: number | null;
}

export class RawPeer {
  /** Every frame received, parsed as JSON (a frame that is not JSON is kept as its text). */
  readonly frames: unknown[] = [];
  readonly closed: Promise<Closed>;
  private isClosedFlag = false;
  private waiters: Array<() => void> = [];
  private partial = '';

  private constructor(
    readonly scheme: string,
    private readonly socket: net.Socket | null,
    private readonly ws: WebSocket | null,
  ) {
    this.closed = new Promise<Closed>((resolve) => {
      const done = (code: number | null): void => {
        this.isClosedFlag = true;
        resolve({ code });
        this.wake();
      };
      if (socket) {
        socket.on('error', () => undefined);
        socket.on('close', () => done(null));
        socket.on('data', (chunk: Buffer) => this.onBytes(chunk.toString('utf8')));
      } else {
        ws!.on('error', () => undefined);
        ws!.on('close', (code: number) => done(code));
        ws!.on('message', (data: Buffer) => this.onFrame(data.toString('utf8')));
      }
    });
  }

  /** Connects to a tcp://, tls://, ws:// or wss:// URL. */
  static async connect(url: string, opts: RawPeerOptions = {}): Promise<RawPeer> {
    const u = new URL(url);
    const scheme = u.protocol.replace(':', '');
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(u.port);
    if (scheme === 'tcp' || scheme === 'tls') {
      const socket = scheme === 'tcp' ? net.connect({ host, port }) : tls.connect({ host, port, ca: opts.ca });
      if (opts.noRead) socket.pause();
      await withDeadline(
        new Promise<void>((resolve, reject) => {
          socket.once(scheme === 'tcp' ? 'connect' : 'secureConnect', () => resolve());
          socket.once('error', reject);
        }),
        `raw ${scheme} connection to ${url}`,
      );
      const peer = new RawPeer(scheme, socket, null);
      if (opts.noRead) socket.pause();
      return peer;
    }
    const ws = new WebSocket(url, { ca: opts.ca, perMessageDeflate: false });
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      `raw ${scheme} connection to ${url}`,
    );
    const peer = new RawPeer(scheme, null, ws);
    if (opts.noRead) ws.pause();
    return peer;
  }

  /**
   * Opens a ws:// connection by hand (HTTP upgrade written byte by byte), so the test can then write partial
   * WebSocket frames with sendBytes(); use wsFrameBytes() to build them.
   */
  static async connectRawWebSocket(url: string): Promise<RawPeer> {
    const u = new URL(url);
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    socket.on('error', () => undefined);
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        let head = '';
        const onData = (chunk: Buffer): void => {
          head += chunk.toString('latin1');
          if (!head.includes('\r\n\r\n')) return;
          socket.off('data', onData);
          socket.pause();
          if (head.startsWith('HTTP/1.1 101')) resolve();
          else reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        };
        socket.on('data', onData);
        socket.once('close', () => reject(new Error('closed during the upgrade')));
        socket.once('connect', () =>
          socket.write(
            `GET ${u.pathname || '/'} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          ),
        );
      }),
      `a hand-made WebSocket upgrade to ${url}`,
    );
    const peer = new RawPeer('ws', socket, null);
    socket.resume();
    return peer;
  }

  /** Opens a plain TCP connection to any URL's host and port and writes nothing (a slowloris or a port scanner). */
  static async connectBare(url: string): Promise<RawPeer> {
    const u = new URL(url);
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      }),
      `a bare TCP connection to ${url}`,
    );
    return new RawPeer('bare', socket, null);
  }

  get isClosed(): boolean {
    return this.isClosedFlag;
  }

  /** The underlying byte stream (tcp/tls), for tests that need raw socket state. */
  get stream(): net.Socket {
    if (!this.socket) throw new Error('not a stream peer');
    return this.socket;
  }

  /** The underlying WebSocket (ws/wss). */
  get webSocket(): WebSocket {
    if (!this.ws) throw new Error('not a WebSocket peer');
    return this.ws;
  }

  /** Starts reading again after `noRead`. */
  resumeReading(): void {
    this.socket?.resume();
    this.ws?.resume();
  }

  /** Bytes this side has queued but the kernel has not yet taken: it grows once the other side stops reading. */
  get queuedBytes(): number {
    return this.socket ? this.socket.writableLength : this.ws!.bufferedAmount;
  }

  /** Sends one frame: tcp/tls append the newline; ws/wss send one message (text unless `binary`). */
  sendFrame(frame: string | Buffer | object, { binary = false }: { binary?: boolean } = {}): void {
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    if (this.socket) {
      this.socket.write(Buffer.concat([Buffer.from(data), Buffer.from('\n')]));
    } else {
      this.ws!.send(data, { binary });
    }
  }

  /** Writes bytes as they are (tcp/tls only): no newline is added. Returns socket.write's result. */
  sendBytes(bytes: string | Buffer): boolean {
    return this.stream.write(bytes);
  }

  /** Resolves with the first received frame (from the start of the connection) that satisfies `pred`. */
  waitForFrame<T = Record<string, unknown>>(pred: (f: Record<string, unknown>) => boolean, what = 'a frame', ms = DEFAULT_DEADLINE_MS): Promise<T> {
    const find = (): T | undefined =>
      this.frames.find((f) => typeof f === 'object' && f !== null && pred(f as Record<string, unknown>)) as T | undefined;
    return withDeadline(
      new Promise<T>((resolve, reject) => {
        const check = (): void => {
          const f = find();
          if (f !== undefined) resolve(f);
          else if (this.isClosedFlag) reject(new Error(`connection closed before ${what} arrived`));
          else this.waiters.push(check);
        };
        check();
      }),
      what,
      ms,
    );
  }

  /** Resolves once the server has closed the connection; rejects after `ms`. */
  waitClosed(what = 'the server to close the connection', ms = DEFAULT_DEADLINE_MS): Promise<Closed> {
    return withDeadline(this.closed, what, ms);
  }

  destroy(): void {
    this.socket?.destroy();
    this.ws?.terminate();
  }

  private onBytes(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) if (line.length > 0) this.onFrame(line);
  }

  private onFrame(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    this.frames.push(value);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

/**
 * One masked client-to-server WebSocket frame (text unless `opcode` says otherwise; 0 continues a message), payload
 * under 126 bytes; `fin` false leaves its message unfinished.
 */
export function wsFrameBytes(payload: string | Buffer, opcode = 0x1, fin = true): Buffer {
  const data = Buffer.from(payload);
  if (data.length > 0xffff) throw new Error('wsFrameBytes builds frames of at most 65535 bytes');
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]!));
  // Lengths from 126 take the 16-bit extended length (RFC 6455 §5.2).
  const length = data.length < 126 ? Buffer.from([0x80 | data.length]) : Buffer.from([0x80 | 126, data.length >> 8, data.length & 0xff]);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), length, mask, masked]);
}

/** Message 1 as the original Python peer writes it. */
export function message1(id: string, payload: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ id, type: 'message', payload, ...extra });
}

/** Ack 3 carrying T1. */
export function ack3(id: string, t1Ns: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ id, type: 'ack', send_and_ack_time_ns: t1Ns, ...extra });
}

/** Predicate for the server's ack 2 of `id`. */
export function isAck2(id: string): (f: Record<string, unknown>) => boolean {
  return (f) => f.type === 'ack' && f.id === id && f.send_and_ack_time_ns === undefined;
}
