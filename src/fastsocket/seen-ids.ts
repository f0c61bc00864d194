/**
 * Ids the server has handed to its application, so a resend is acked but not handed over twice. Memory is bounded
 * (oldest ids are forgotten first). With a journal the set survives a server crash: each id is appended to a file
 * before its payload is handed over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDir, readTextIfExists } from './fs-util';

export const JOURNAL_FILE = 'seen-ids.log';

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

  /**
   * @param capacity how many ids to remember.
   * @param stateDir folder of the journal; created if missing. The journal's torn last record (after a crash
   *   mid-write) is detected and discarded, never read as an id.
   * @throws Error when the folder or journal cannot be created or read.
   */
  constructor(private readonly capacity: number, stateDir?: string) {
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

  /** Records an id (journal first, so a crash right after this still knows it). */
  add(id: string): void {
    if (this.fd !== null) fs.writeSync(this.fd, encodeLine(id));
    this.remember(id);
    if (this.fd !== null && ++this.journalLines > 2 * this.capacity) this.rewrite();
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
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

  /** Compacts the journal to the ids in memory: written to a temporary file, then renamed over the old one. */
  private rewrite(): void {
    const file = this.journalPath!;
    if (this.fd !== null) fs.closeSync(this.fd);
    const tmp = file + '.tmp';
    const body = [...this.ids].map(encodeLine).join('');
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, file);
    this.fd = fs.openSync(file, 'a');
    this.journalLines = this.ids.size;
  }
}

function readJournal(file: string): string[] {
  const text = readTextIfExists(file);
  if (text === null) return [];
  const lines = text.split('\n');
  // The last element is '' when the file ends with a newline; otherwise it is a torn record: drop it.
  lines.pop();
  const ids: string[] = [];
  for (const line of lines) {
    const id = decodeLine(line);
    if (id !== null) ids.push(id);
  }
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
