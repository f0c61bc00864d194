/**
 * A raw tcp:// server for client tests: the test decides what each accepted connection answers (or that it never
 * answers), and sees every frame the client wrote. It knows the wire format only, not the library.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { Teardown } from './teardown';
import { DEFAULT_DEADLINE_MS, waitForEvent, withDeadline } from './wait';

export type Frame = Record<string, unknown>;

export class RawConnection extends EventEmitter {
  readonly frames: Frame[] = [];
  private partial = '';
  private closedFlag = false;

  constructor(readonly socket: net.Socket) {
    super();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedFlag = true;
      this.emit('closed');
    });
    socket.on('data', (chunk: Buffer) => {
      const parts = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) {
        if (line.length === 0) continue;
        const f = JSON.parse(line) as Frame;
        this.frames.push(f);
        this.emit('frame', f);
      }
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Resolves with the first frame (already received or still to come) that satisfies `pred`. */
  async waitForFrame(pred: (f: Frame) => boolean, what = 'a frame', ms = DEFAULT_DEADLINE_MS): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) return seen;
    const [f] = await waitForEvent<[Frame]>(this, 'frame', { filter: pred, ms });
    void what;
    return f;
  }

  /** Resolves once `n` frames satisfying `pred` have arrived. */
  async waitForCount(pred: (f: Frame) => boolean, n: number, what: string, ms = DEFAULT_DEADLINE_MS): Promise<Frame[]> {
    const matching = (): Frame[] => this.frames.filter(pred);
    if (matching().length >= n) return matching();
    await waitForEvent(this, 'frame', { filter: () => matching().length >= n, ms }).catch((err: Error) => {
      throw new Error(`${what}: ${matching().length} of ${n} frames (${err.message})`);
    });
    return matching();
  }

  send(frame: Frame | string): void {
    this.socket.write((typeof frame === 'string' ? frame : JSON.stringify(frame)) + '\n');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export class RawServer extends EventEmitter {
  readonly connections: RawConnection[] = [];

  private constructor(private readonly server: net.Server, readonly port: number) {
    super();
    server.on('connection', (socket) => {
      const conn = new RawConnection(socket);
      this.connections.push(conn);
      this.emit('connection', conn);
    });
  }

  /** Listens on 127.0.0.1 (port 0 unless given); closed, with every connection, at teardown. */
  static async start(teardown: Teardown, port = 0): Promise<RawServer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const raw = new RawServer(server, (server.address() as net.AddressInfo).port);
    teardown.add(() => raw.close());
    return raw;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** Resolves with the n-th accepted connection (1-based), waiting for it if needed. */
  async connection(n: number, ms = DEFAULT_DEADLINE_MS): Promise<RawConnection> {
    if (this.connections.length >= n) return this.connections[n - 1]!;
    await withDeadline(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.connections.length < n) return;
          this.off('connection', check);
          resolve();
        };
        this.on('connection', check);
      }),
      `connection #${n}`,
      ms,
    );
    return this.connections[n - 1]!;
  }

  close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const isMessage = (f: Frame): boolean => f.type === 'message';
