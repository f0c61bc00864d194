/**
 * A TCP proxy on 127.0.0.1 that breaks the link the ways a cellular or Wi-Fi link does, at a chosen byte: a reset
 * (RST), a close (FIN), or a blackhole (bytes vanish, no RST, the sockets stay open). It can also split and coalesce
 * chunks at random boundaries while keeping byte order. Unlike DelayProxy it does not delay; it decides where a
 * stream stops. Any TCP byte stream passes (tcp, ws, and tls/wss since it never looks inside).
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { Direction } from './delay-proxy';

export type FaultKind = 'rst' | 'fin' | 'blackhole';

interface Link {
  id: number;
  client: net.Socket;
  server: net.Socket;
  /** Bytes that went through per direction. */
  passed: Record<Direction, number>;
  /** Blackholed: bytes in either direction are discarded, nothing is closed. */
  dead: boolean;
}

/** A planned fault: once `match` is true for a chunk in `direction`, `keep` bytes of it pass and then `kind` strikes. */
export interface Trigger {
  direction: Direction;
  match: (chunk: Buffer) => boolean;
  /** How many bytes of the matching chunk still pass (e.g. half of it for a cut mid-frame). */
  keep: (chunk: Buffer) => number;
  kind: FaultKind;
}

export interface FaultLinkEvents {
  connection: [id: number];
  fault: [info: { id: number; kind: FaultKind; direction: Direction | null }];
}

/**
 * The text a chunk carries: on ws, the client's frames are masked, so a match on their JSON must unmask them first.
 * Frames cut at the chunk's end are unmasked as far as they go; a chunk that is not WebSocket frames is read as is.
 */
export function chunkText(chunk: Buffer): string {
  const parts: string[] = [];
  let at = 0;
  while (at + 2 <= chunk.length) {
    const masked = (chunk[at + 1]! & 0x80) !== 0;
    let len = chunk[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (at + 4 > chunk.length) break;
      len = chunk.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (at + 10 > chunk.length) break;
      len = Number(chunk.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (!masked) break;
    const key = chunk.subarray(at + head, at + head + 4);
    const start = at + head + 4;
    const body = Buffer.from(chunk.subarray(start, Math.min(chunk.length, start + len)));
    for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
    parts.push(body.toString('latin1'));
    at = start + len;
  }
  return chunk.toString('latin1') + parts.join('');
}

export class FaultLink extends EventEmitter<FaultLinkEvents> {
  private readonly server: net.Server;
  private readonly links = new Map<number, Link>();
  private next = 0;
  private triggers: Trigger[] = [];
  /** Faults that struck, armed or not. */
  faults = 0;
  /** New connections are blackholed (accepted, then silent) while set. */
  private blackholeNew = false;
  /** New connections are reset on accept while set. */
  private refuseNew = false;
  /** Split and coalesce chunks (random, order kept) with this random source; null passes chunks as they come. */
  rechunk: (() => number) | null = null;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    super();
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.accept(s));
  }

  /** Starts a proxy to `targetUrl` (any fastsocket URL; only host and port are used). */
  static async start(targetUrl: string): Promise<FaultLink> {
    const u = new URL(targetUrl);
    const link = new FaultLink({ host: u.hostname, port: Number(u.port) });
    await new Promise<void>((resolve) => link.server.listen(0, '127.0.0.1', resolve));
    link.port = (link.server.address() as net.AddressInfo).port;
    return link;
  }

  /** `targetUrl` with the proxy's port (scheme and path kept). */
  urlFor(targetUrl: string): string {
    const u = new URL(targetUrl);
    u.port = String(this.port);
    return u.toString().replace(/\/$/, u.protocol === 'ws:' || u.protocol === 'wss:' ? '/' : '');
  }

  get open(): number {
    return this.links.size;
  }

  /** Arms a fault for the next chunk that matches (on any connection). */
  arm(trigger: Trigger): void {
    this.triggers.push(trigger);
  }

  /** Breaks every open connection now. 'blackhole' keeps them open and drops all their bytes from now on. */
  strike(kind: FaultKind): void {
    for (const l of [...this.links.values()]) this.apply(l, kind, null);
  }

  /** While on, new connections are accepted and then silent (their bytes vanish); or reset at once with `refuse`. */
  setNew({ blackhole = false, refuse = false }: { blackhole?: boolean; refuse?: boolean }): void {
    this.blackholeNew = blackhole;
    this.refuseNew = refuse;
  }

  close(): Promise<void> {
    for (const l of this.links.values()) {
      l.client.destroy();
      l.server.destroy();
    }
    this.links.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => {});
    if (this.refuseNew) {
      client.resetAndDestroy();
      return;
    }
    const id = ++this.next;
    const server = net.connect({ ...this.target, allowHalfOpen: true, noDelay: true });
    server.on('error', () => {});
    const l: Link = { id, client, server, passed: { up: 0, down: 0 }, dead: this.blackholeNew };
    this.links.set(id, l);
    const join = (from: net.Socket, to: net.Socket, direction: Direction): void => {
      from.on('data', (chunk: Buffer) => this.forward(l, to, direction, chunk));
      from.on('end', () => {
        if (!l.dead && !to.destroyed) to.end();
      });
      from.on('close', (hadError) => {
        if (l.dead) return;
        this.links.delete(id);
        if (hadError && !to.destroyed) to.resetAndDestroy();
        else if (!to.destroyed) to.end();
      });
    };
    join(client, server, 'up');
    join(server, client, 'down');
    this.emit('connection', id);
  }

  private forward(l: Link, to: net.Socket, direction: Direction, chunk: Buffer): void {
    if (l.dead || to.destroyed) return;
    const i = this.triggers.findIndex((t) => t.direction === direction && t.match(chunk));
    if (i >= 0) {
      const [t] = this.triggers.splice(i, 1);
      const keep = Math.max(0, Math.min(chunk.length, t!.keep(chunk)));
      if (keep > 0) this.write(l, to, direction, chunk.subarray(0, keep));
      // Let the kept bytes leave before the cut, as a link that dies after them would.
      setImmediate(() => this.apply(l, t!.kind, direction));
      return;
    }
    this.write(l, to, direction, chunk);
  }

  private write(l: Link, to: net.Socket, direction: Direction, chunk: Buffer): void {
    l.passed[direction] += chunk.length;
    if (!this.rechunk) {
      to.write(chunk);
      return;
    }
    // Split into random pieces, each written after a random number of event-loop turns, order kept by a chain.
    const random = this.rechunk;
    let at = 0;
    while (at < chunk.length) {
      const n = 1 + Math.floor(random() * Math.min(chunk.length - at, 64));
      const piece = chunk.subarray(at, at + n);
      at += n;
      this.enqueue(l, to, direction, piece);
    }
  }

  private readonly chains = new Map<string, { pending: Buffer[]; scheduled: boolean }>();

  /** Coalesces pieces queued within the same turn(s) into one write, at a random later turn. */
  private enqueue(l: Link, to: net.Socket, direction: Direction, piece: Buffer): void {
    const key = `${l.id}-${direction}`;
    let c = this.chains.get(key);
    if (!c) this.chains.set(key, (c = { pending: [], scheduled: false }));
    c.pending.push(piece);
    if (c.scheduled) return;
    c.scheduled = true;
    const flush = (): void => {
      c!.scheduled = false;
      if (l.dead || to.destroyed) return;
      const take = 1 + Math.floor(this.rechunk!() * c!.pending.length);
      to.write(Buffer.concat(c!.pending.splice(0, take)));
      if (c!.pending.length > 0) {
        c!.scheduled = true;
        setImmediate(flush);
      }
    };
    setImmediate(flush);
  }

  private apply(l: Link, kind: FaultKind, direction: Direction | null): void {
    this.faults++;
    this.emit('fault', { id: l.id, kind, direction });
    if (kind === 'blackhole') {
      l.dead = true;
      return;
    }
    this.links.delete(l.id);
    l.dead = true;
    for (const s of [l.client, l.server]) {
      if (s.destroyed) continue;
      if (kind === 'rst') s.resetAndDestroy();
      else s.end(() => s.destroy());
    }
  }
}
