/**
 * A persistent outbox: unacknowledged messages survive a client restart. An append-only file of records, each line
 * `<crc32 hex> <json>`; a message record when a message is queued, a done record when it is acknowledged or
 * dropped. A record whose checksum does not match (a torn write at a crash) is skipped, never misread. The file is
 * rewritten with only the live messages once done records dominate it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { ensureDir, forEachLine, mapIterable, replaceFile, writeAll } from './fs-util';

export interface StoredMessage {
  id: string;
  /** The payload, already serialised. */
  json: string;
  /** Wall-clock ns at which it was queued (monotonic clocks do not survive a restart). */
  queuedWallNs: number;
}

interface MessageRecord {
  m: string;
  p: string;
  q: number;
}
interface DoneRecord {
  d: string;
}

const COMPACT_MIN_DONE = 1000;
/** After a failed write, the file is rewritten from memory at most this often (each try writes every live message). */
const RETRY_MS = 1000;

export class OutboxStore {
  private fd: number;
  private live = new Map<string, StoredMessage>();
  private doneCount = 0;
  /** A write failed (a full disk): the file lacks records, or ends in a torn one, until a compaction rewrites it. */
  private stale = false;
  private retryAtMs = -Infinity;
  /** Records skipped at load because their checksum or shape was wrong. */
  readonly skippedRecords: number;

  /**
   * Opens (creating if needed) the store at `file`; its live messages are in `messages()`.
   * @param onError called when the file cannot be written after it was opened (a full disk): the messages stay in
   *   memory, and the file is rewritten from there with a later record.
   * @param nowMs monotonic ms; injectable for tests.
   * @throws Error when the file cannot be read or opened (a full disk that keeps it from being rewritten at
   *   opening goes to onError).
   */
  constructor(
    private readonly file: string,
    private readonly onError: (err: Error) => void = () => undefined,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    ensureDir(path.dirname(path.resolve(file)));
    let skipped = 0;
    let records = 0;
    let foreign = false;
    forEachLine(file, (line) => {
      if (line.length === 0) return;
      const rec = parseRecord(line);
      if (!rec) {
        skipped++;
        foreign ||= !RECORD_PREFIX.test(line);
      } else {
        records++;
        if ('m' in rec) this.live.set(rec.m, { id: rec.m, json: rec.p, queuedWallNs: rec.q });
        else this.live.delete(rec.d);
      }
    });
    // Opening rewrites the file with the live messages only, so a path that names some other file by mistake (a
    // config, a log) would be emptied. A torn write leaves the start of a record; a file of which no line is a
    // record and some line is not even the start of one was not written by us.
    if (records === 0 && foreign) {
      throw Object.assign(new Error(`EFTYPE: ${file} is not an outbox file (none of its lines is an outbox record); it is left as it is`), { code: 'EFTYPE' });
    }
    this.skippedRecords = skipped;
    this.fd = -1;
    try {
      this.compact();
    } catch (err) {
      // A full disk: the file as it is still holds every live message, so a client can start and send from memory;
      // it is rewritten later, as after a failed write. A path that cannot be a file at all throws here.
      this.fd = fs.openSync(file, 'a');
      this.stale = true;
      this.retryAtMs = this.nowMs() + RETRY_MS;
      this.onError(err as Error);
    }
  }

  /** Messages queued and not yet done, oldest first. */
  messages(): StoredMessage[] {
    return [...this.live.values()];
  }

  /** Never throws: a file that cannot be written is reported to onError. */
  add(m: StoredMessage): void {
    this.live.set(m.id, m);
    this.write({ m: m.id, p: m.json, q: m.queuedWallNs });
  }

  /** Marks a message acknowledged or dropped. Never throws, as add(). */
  done(id: string): void {
    if (!this.live.delete(id)) return;
    this.doneCount++;
    this.write({ d: id });
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private write(rec: MessageRecord | DoneRecord): void {
    if (this.stale && this.nowMs() < this.retryAtMs) return;
    try {
      if (this.stale || (this.doneCount > COMPACT_MIN_DONE && this.doneCount > this.live.size)) this.compact();
      else writeAll(this.fd, formatRecord(rec));
    } catch (err) {
      this.stale = true;
      this.retryAtMs = this.nowMs() + RETRY_MS;
      this.onError(err as Error);
    }
  }

  /** Rewrites the file with the live messages; the old file stays open until the new one has replaced it. */
  private compact(): void {
    replaceFile(this.file, mapIterable(this.live.values(), (m) => formatRecord({ m: m.id, p: m.json, q: m.queuedWallNs })));
    this.close();
    this.fd = fs.openSync(this.file, 'a');
    this.doneCount = 0;
    this.stale = false;
  }
}

function formatRecord(rec: MessageRecord | DoneRecord): string {
  const json = JSON.stringify(rec);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** What every record, and so every torn one, starts with: a CRC-32 in hex, a space, a JSON object. */
const RECORD_PREFIX = /^[0-9a-f]{1,8}$|^[0-9a-f]{8} ($|\{)/;

function parseRecord(line: string): MessageRecord | DoneRecord | null {
  const space = line.indexOf(' ');
  if (space !== 8) return null;
  const json = line.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) return null;
  try {
    const rec = JSON.parse(json) as Record<string, unknown>;
    if (typeof rec.m === 'string' && typeof rec.p === 'string' && typeof rec.q === 'number') return rec as unknown as MessageRecord;
    if (typeof rec.d === 'string') return rec as unknown as DoneRecord;
  } catch {
    // A checksum collision on garbage: treat as torn.
  }
  return null;
}
