/**
 * Latency recording: one line per latency record (JSON lines or CSV) with the server's wall time, so samples can
 * be lined up afterwards with GNSS or modem logs. Shared by `fastsocket serve --record` and the ROS server node's
 * `record_path`, which adds the topic.
 */
import { OptionError } from './errors';
import { closeSync, openSync, writeSync } from 'node:fs';
import { clockOption, wallNs } from './clock';
import { stringifyJson } from './json';
import { checkKnownKeys, checkOneOf, checkString, describe, orDefault } from './options';
import type { LatencyRecord } from './wire';

/** How a LatencyRecorder writes records: JSON lines or CSV with a header row. */
export type RecordFormat = 'jsonl' | 'csv';
/** Every RecordFormat, for validating a user's choice. */
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

/** CSV columns without extra ones: the server wall time, then the latency record of PROTOCOL.md §3. */
export const CSV_COLUMNS: readonly string[] = ['server_wall_ns', ...RECORD_COLUMNS];

/** The format a path asks for when none is named: csv for `*.csv`, else JSON lines. */
export function recordFormatFor(path: string): RecordFormat {
  return path.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl';
}

/** Options of LatencyRecorder. */
export interface LatencyRecorderOptions {
  /**
   * Columns between server_wall_ns and the record's own (e.g. the ROS topic), filled from `write()`'s `extra`.
   * A fixed list, so every row of a CSV file has the same cells. @default []
   */
  extraColumns?: readonly string[] | undefined;
  /** Wall clock, ns since the epoch. @default wallNs */
  clock?: (() => number) | undefined;
}

const OPTION_NAMES: readonly (keyof LatencyRecorderOptions)[] = ['extraColumns', 'clock'];
const FLUSH_BYTES = 256 * 1024;
const FLUSH_INTERVAL_MS = 200;

/** Appends one line per latency record to a file, buffered and flushed every 200 ms or 256 KiB. */
export class LatencyRecorder {
  readonly columns: readonly string[];
  private readonly fd: number;
  private readonly clock: () => number;
  private readonly extraColumns: readonly string[];
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  records = 0;

  /**
   * Creates (or truncates) `path`.
   * @throws TypeError naming a bad argument or option; the fs error (with its `code`) when the file cannot be created
   */
  constructor(readonly path: string, private readonly format: RecordFormat, options: LatencyRecorderOptions = {}) {
    checkString('path', path);
    checkOneOf('format', format, RECORD_FORMATS);
    if (typeof options !== 'object' || options === null) throw new OptionError('options', 'options must be an object');
    checkKnownKeys('LatencyRecorder', options, OPTION_NAMES);
    const extraColumns: unknown = orDefault(options.extraColumns, []);
    if (!Array.isArray(extraColumns) || extraColumns.some((c) => typeof c !== 'string' || c === '')) {
      throw new OptionError('extraColumns', `option extraColumns must be an array of non-empty strings, got ${describe(extraColumns)}`);
    }
    this.extraColumns = [...(extraColumns as string[])];
    this.clock = clockOption('clock', options.clock, wallNs);
    this.columns = ['server_wall_ns', ...this.extraColumns, ...RECORD_COLUMNS];
    this.fd = openSync(path, 'w');
    if (format === 'csv') this.push(this.columns.join(','));
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** @param extra values of the extra columns; a missing one is written as null (an empty CSV cell) */
  write(record: LatencyRecord, extra: Readonly<Record<string, unknown>> = {}): void {
    if (this.closed) return;
    const row: Record<string, unknown> = { ...record, server_wall_ns: this.clock() };
    for (const c of this.extraColumns) row[c] = extra[c] ?? null;
    this.push(this.format === 'csv' ? this.columns.map((c) => csvCell(row[c])).join(',') : stringifyJson(row));
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

  /** Writes what is buffered and closes the file. Idempotent. */
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
