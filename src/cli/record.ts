/**
 * `serve --record FILE`: one line per latency record (JSON lines or CSV) with the server's wall time, so that
 * samples can be lined up afterwards with GNSS or modem logs.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { stringifyJson, wallNs, type LatencyRecord } from '../fastsocket';

export type RecordFormat = 'jsonl' | 'csv';
export const RECORD_FORMATS: readonly RecordFormat[] = ['jsonl', 'csv'];

/** The latency record's fields in CSV order; clock-synced ones stay empty unless the client reports them. */
const RECORD_COLUMNS = [
  'id', 'peer', 'client_id', 'resent', 't1_ns', 't2_ns', 'latency_ns', 'ps_ns', 'pc_ns', 'latency_corrected_ns', 'queued_ns',
  'uplink_wall_ns', 'offset_ns', 'sync_uncertainty_ns', 'sync_ok', 't2_start',
] as const satisfies readonly (keyof LatencyRecord)[];

// Fails to compile, naming the field, when the record gains one that the CSV would silently leave out.
type MissingColumn = Exclude<keyof LatencyRecord, (typeof RECORD_COLUMNS)[number]>;
const everyFieldHasAColumn: [MissingColumn] extends [never] ? true : MissingColumn = true;
void everyFieldHasAColumn;

/** CSV columns: the server wall time, then the latency record of PROTOCOL.md §3. A fixed list, so runs line up. */
export const CSV_COLUMNS: readonly string[] = ['server_wall_ns', ...RECORD_COLUMNS];

const FLUSH_BYTES = 256 * 1024;
const FLUSH_INTERVAL_MS = 200;

export class LatencyRecorder {
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  records = 0;

  /** Creates (or truncates) `path`; throws the fs error if it cannot. */
  constructor(readonly path: string, private readonly format: RecordFormat, private readonly clock: () => number = wallNs) {
    this.fd = openSync(path, 'w');
    if (format === 'csv') this.push(CSV_COLUMNS.join(','));
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  write(record: LatencyRecord): void {
    if (this.closed) return;
    const row: Record<string, unknown> = { ...record, server_wall_ns: this.clock() };
    this.push(this.format === 'csv' ? CSV_COLUMNS.map((c) => csvCell(row[c])).join(',') : stringifyJson(row));
    this.records++;
  }

  /**
   * Writes what is buffered. Synchronous on purpose: the writes are small and land in the page cache, and on
   * exit nothing may be left in a buffer.
   */
  flush(): void {
    if (this.buffer.length === 0 || this.closed) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.bufferedBytes = 0;
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.timer);
    closeSync(this.fd);
  }

  private push(line: string): void {
    this.buffer.push(line);
    this.bufferedBytes += line.length;
    if (this.bufferedBytes >= FLUSH_BYTES) this.flush();
  }
}

/** RFC 4180: quote a cell holding a comma, quote or line break; null and absent fields are empty. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : stringifyJson(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
