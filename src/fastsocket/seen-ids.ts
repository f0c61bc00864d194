/**
 * Ids the server has handed to its application, so a resend is acked but not handed over twice. Memory is bounded
 * (oldest ids are forgotten first). With a journal the set survives a server crash: each id is appended to a file
 * before its payload is handed over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDir, forEachLine, mapIterable, replaceFile, writeAll } from './fs-util';

export const JOURNAL_FILE = 'seen-ids.log';
/** After a failed write, ids wait in memory this long before the journal is tried again (each try writes them all). */
const JOURNAL_RETRY_MS = 1000;
/**
 * Ids a compaction encodes and writes per step; between steps the event loop serves the server's sockets. Written in
 * one go, the 100,000 ids of the default capacity held the loop for 30-80 ms, which the messages arriving meanwhile
 * showed as latency; a step of 2,000 takes ~0.4 ms (at most 3-5 ms, with a GC in it).
 */
const COMPACTION_STEP_IDS = 2000;

/** Runs a task soon, after the I/O already waiting (setImmediate); tests step through tasks themselves. */
export type Scheduler = (task: () => void) => void;

/** A compaction in progress: the journal rewritten, beside the live one, with only the ids in memory. */
interface Compaction {
  fd: number;
  /** The ids in memory when it began, oldest first, written a step at a time... */
  ids: string[];
  written: number;
  /** ...then the ids remembered since, and the file renamed over the journal. */
  since: string[];
}

/** About how many ids one shard of a ShardedSet holds at capacity. */
const SHARD_IDS = 1024;

/**
 * A set of strings split by a hash of each into sets of about SHARD_IDS. One V8 Set of the default 100,000 ids
 * rehashed all of them at once, growing past 65,536 and 131,072 entries and, once full, each time deletions had
 * filled its table: 3-10 ms of the server's event loop each time (over 300,000 ids), a latency spike for every
 * vehicle's messages. A shard rehashes a thousand.
 */
class ShardedSet {
  private readonly shards: Array<Set<string>> = [];
  private readonly mask: number;
  size = 0;

  constructor(capacity: number) {
    let n = 1;
    while (n < 256 && n * SHARD_IDS < capacity) n *= 2;
    for (let i = 0; i < n; i++) this.shards.push(new Set());
    this.mask = n - 1;
  }

  has(id: string): boolean {
    return this.shardOf(id).has(id);
  }

  /** False when it was there already. */
  add(id: string): boolean {
    const shard = this.shardOf(id);
    if (shard.has(id)) return false;
    shard.add(id);
    this.size++;
    return true;
  }

  delete(id: string): void {
    if (this.shardOf(id).delete(id)) this.size--;
  }

  /** FNV-1a of the last 8 characters, where uuids (random) and counters (the last digits) vary alike. */
  private shardOf(id: string): Set<string> {
    let h = 0x811c9dc5;
    for (let i = Math.max(0, id.length - 8); i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return this.shards[(h ^ (h >>> 16)) & this.mask];
  }
}

export class SeenIds {
  private readonly ids: ShardedSet;
  /**
   * The same ids in insertion order. Evicting through the Set's iterator would step over every id deleted before
   * it (V8 leaves their slots until a rehash): ~70 us per message once a server is past its capacity.
   */
  private order: string[] = [];
  private orderHead = 0;
  private fd: number | null = null;
  private journalLines = 0;
  private readonly journalPath: string | null;
  /** Ids remembered but not yet in the journal because writing it failed (a full disk); written with a later id. */
  private unjournalled: string[] = [];
  /** A failed write may have left part of a record: the next write starts on a new line, so no id is glued to it. */
  private torn = false;
  private retryAtMs = -Infinity;
  private compaction: Compaction | null = null;

  /**
   * @param capacity how many ids to remember.
   * @param stateDir folder of the journal; created if missing. The journal's torn last record (after a crash
   *   mid-write) is detected and discarded, never read as an id.
   * @param onJournalError called when the journal cannot be written after it was opened (a full disk, a folder made
   *   read-only); the ids stay in memory, and the write is tried again with a later id.
   * @param nowMs monotonic ms; injectable for tests.
   * @param schedule runs each step of a compaction; injectable for tests.
   * @throws Error when the folder or journal cannot be created or read.
   */
  constructor(
    private readonly capacity: number,
    stateDir?: string,
    private readonly onJournalError: (err: Error) => void = () => undefined,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly schedule: Scheduler = (task) => void setImmediate(task),
  ) {
    this.ids = new ShardedSet(capacity);
    if (!stateDir) {
      this.journalPath = null;
      return;
    }
    ensureDir(stateDir);
    this.journalPath = path.join(stateDir, JOURNAL_FILE);
    for (const id of newestDistinct(readJournal(this.journalPath), capacity)) this.remember(id);
    this.rewrite();
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** The ids remembered, oldest first. */
  remembered(): string[] {
    return this.order.slice(this.orderHead);
  }

  /**
   * Records an id, in the journal before returning, so a crash right after this still knows it. A journal that cannot
   * be written is reported to onJournalError and never thrown: the id is still remembered in memory. Once the journal
   * holds twice the capacity, a compaction rewrites it beside the live one a step at a time (2,000 ids per
   * event-loop turn), and renames the new file over it when done. An id remembered already is neither moved nor
   * written again.
   */
  add(id: string): void {
    if (!this.remember(id) || this.journalPath === null) return;
    this.unjournalled.push(id);
    // Only the newest `capacity` ids are read back, so older ones need not wait for the disk.
    if (this.unjournalled.length > 2 * this.capacity) this.unjournalled = this.unjournalled.slice(-this.capacity);
    if (this.nowMs() < this.retryAtMs) return;
    try {
      this.append();
    } catch (err) {
      this.retryAtMs = this.nowMs() + JOURNAL_RETRY_MS;
      this.onJournalError(err as Error);
      return;
    }
    if (this.compaction === null && this.journalLines > 2 * this.capacity) this.startCompaction();
  }

  close(): void {
    this.abandonCompaction();
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  /** Appends the ids waiting for the journal. @throws Error from the file system, with the ids still waiting */
  private append(): void {
    this.fd ??= fs.openSync(this.journalPath!, 'a');
    try {
      writeAll(this.fd, (this.torn ? '\n' : '') + this.unjournalled.map(encodeLine).join(''));
    } catch (err) {
      this.torn = true;
      throw err;
    }
    this.torn = false;
    this.journalLines += this.unjournalled.length;
    this.unjournalled = [];
  }

  private startCompaction(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.tmpPath(), 'w');
    } catch (err) {
      this.compactionFailed(err as Error);
      return;
    }
    this.compaction = { fd, ids: this.remembered(), written: 0, since: [] };
    this.schedule(this.compactionStep);
  }

  /**
   * Writes the next ids of the compaction, or, once they are all written, the ids remembered since and the rename. The
   * journal keeps every id until then, so a crash at any step leaves every id in the journal, old or new.
   */
  private readonly compactionStep = (): void => {
    const c = this.compaction;
    // Closed (or failed) since this step was scheduled.
    if (c === null) return;
    try {
      const end = Math.min(c.written + COMPACTION_STEP_IDS, c.ids.length);
      let text = '';
      for (let i = c.written; i < end; i++) text += encodeLine(c.ids[i]);
      writeAll(c.fd, text);
      c.written = end;
      if (end < c.ids.length) {
        this.schedule(this.compactionStep);
        return;
      }
      writeAll(c.fd, c.since.map(encodeLine).join(''));
      fs.closeSync(c.fd);
      c.fd = -1;
      fs.renameSync(this.tmpPath(), this.journalPath!);
    } catch (err) {
      this.compactionFailed(err as Error);
      return;
    }
    this.compaction = null;
    // Every id in memory, those that waited for a failing journal included, is in the new journal.
    this.close();
    this.journalLines = c.ids.length + c.since.length;
    this.unjournalled = [];
    this.torn = false;
    this.retryAtMs = -Infinity;
    try {
      this.fd = fs.openSync(this.journalPath!, 'a');
    } catch (err) {
      // Opened again by the next append.
      this.onJournalError(err as Error);
    }
  };

  /** The journal stays as it is, appended to, and the compaction is tried again after another `capacity` ids. */
  private compactionFailed(err: Error): void {
    this.abandonCompaction();
    this.journalLines -= this.capacity;
    this.onJournalError(err);
  }

  /** Stops a compaction and removes its file, which would keep the space of a full disk. */
  private abandonCompaction(): void {
    const c = this.compaction;
    if (c === null) return;
    this.compaction = null;
    try {
      if (c.fd !== -1) fs.closeSync(c.fd);
      fs.rmSync(this.tmpPath(), { force: true });
    } catch {
      // Not a file we made (a folder of that name): the error that stopped the compaction says what is wrong.
    }
  }

  private tmpPath(): string {
    return this.journalPath + '.tmp';
  }

  /** False when the id was remembered already. */
  private remember(id: string): boolean {
    if (!this.ids.add(id)) return false;
    this.order.push(id);
    this.compaction?.since.push(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.order[this.orderHead++]);
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    return true;
  }

  /**
   * Rewrites the journal with the ids in memory at once, at start-up. The old journal stays open until the new one has
   * replaced it, so a failure leaves it in use (a crash at any point leaves every id in one of them).
   * @throws Error from the file system
   */
  private rewrite(): void {
    const file = this.journalPath!;
    replaceFile(file, mapIterable(this.remembered(), encodeLine));
    this.close();
    this.fd = fs.openSync(file, 'a');
    this.journalLines = this.ids.size;
    this.unjournalled = [];
    this.torn = false;
  }
}

/**
 * The newest `capacity` different ids of a journal, oldest first, each where it was last written. A journal can name an
 * id twice: one forgotten and added again, or a torn record completed by the newline written before the next one (a
 * write cut short by a full disk can end just before its newline). Its last `capacity` lines then held fewer ids than
 * the capacity, and a restart forgot ids it had journalled.
 */
function newestDistinct(ids: readonly string[], capacity: number): string[] {
  const newest = new Set<string>();
  for (let i = ids.length - 1; i >= 0 && newest.size < capacity; i--) newest.add(ids[i]);
  return [...newest].reverse();
}

function readJournal(file: string): string[] {
  const ids: string[] = [];
  forEachLine(file, (line, terminated) => {
    // A last line without its newline is a torn record: dropped.
    const id = terminated ? decodeLine(line) : null;
    if (id !== null) ids.push(id);
  });
  return ids;
}

/** One id per line as a JSON string, so ids holding newlines or NULs survive and a damaged line is detectable. */
function encodeLine(id: string): string {
  return JSON.stringify(id) + '\n';
}

function decodeLine(line: string): string | null {
  if (line.length === 0 || line.includes('\u0000')) return null;
  // A line that is not a JSON string is a bare id, as journals were first written.
  if (line[0] !== '"') return line;
  try {
    const id: unknown = JSON.parse(line);
    return typeof id === 'string' && id.length > 0 ? id : null;
  } catch {
    return null;
  }
}
