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

export class SeenIds {
  private readonly ids = new Set<string>();
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

  /**
   * @param capacity how many ids to remember.
   * @param stateDir folder of the journal; created if missing. The journal's torn last record (after a crash
   *   mid-write) is detected and discarded, never read as an id.
   * @param onJournalError called when the journal cannot be written after it was opened (a full disk, a folder made
   *   read-only); the ids stay in memory, and the write is tried again with a later id.
   * @param nowMs monotonic ms; injectable for tests.
   * @throws Error when the folder or journal cannot be created or read.
   */
  constructor(
    private readonly capacity: number,
    stateDir?: string,
    private readonly onJournalError: (err: Error) => void = () => undefined,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!stateDir) {
      this.journalPath = null;
      return;
    }
    ensureDir(stateDir);
    this.journalPath = path.join(stateDir, JOURNAL_FILE);
    const lines = readJournal(this.journalPath);
    for (const id of lines.slice(-capacity)) this.remember(id);
    this.rewrite();
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /**
   * Records an id, in the journal before returning, so a crash right after this still knows it. A journal that cannot
   * be written is reported to onJournalError and never thrown: the id is still remembered in memory.
   */
  add(id: string): void {
    this.remember(id);
    if (this.journalPath === null) return;
    this.unjournalled.push(id);
    // Only the newest `capacity` ids are read back, so older ones need not wait for the disk.
    if (this.unjournalled.length > 2 * this.capacity) this.unjournalled = this.unjournalled.slice(-this.capacity);
    if (this.nowMs() < this.retryAtMs) return;
    try {
      if (this.journalLines + this.unjournalled.length > 2 * this.capacity) this.compact();
      else this.append();
    } catch (err) {
      this.retryAtMs = this.nowMs() + JOURNAL_RETRY_MS;
      this.onJournalError(err as Error);
    }
  }

  close(): void {
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

  /** Rewrites the journal; if that fails, appends instead and tries it again after another `capacity` ids. */
  private compact(): void {
    try {
      this.rewrite();
      return;
    } catch (err) {
      this.journalLines -= this.capacity;
      this.onJournalError(err as Error);
    }
    this.append();
  }

  private remember(id: string): void {
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.order.push(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.order[this.orderHead++]);
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  /**
   * Compacts the journal to the ids in memory. The old journal stays open until the new one has replaced it, so a
   * failure leaves it in use (a crash at any point leaves every id in one of them).
   * @throws Error from the file system
   */
  private rewrite(): void {
    const file = this.journalPath!;
    replaceFile(file, mapIterable(this.ids, encodeLine));
    this.close();
    this.fd = fs.openSync(file, 'a');
    this.journalLines = this.ids.size;
    this.unjournalled = [];
    this.torn = false;
  }
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
