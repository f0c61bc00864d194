/**
 * Child-process entry of fault-process.ts: a FastSocketServer that a test can SIGKILL. Its application appends
 * every hand-over to a file with a synchronous write inside the 'message' handler, i.e. before ack 2 is flushed
 * (acks are written on the next microtask), so the file is the application's truth even across a SIGKILL.
 * Configured by the FASTSOCKET_FAULT_SERVER environment variable (JSON); talks to its parent over IPC.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FastSocketServer, type FastSocketServerOptions } from '../../src/fastsocket';
import { JOURNAL_FILE } from '../../src/fastsocket/seen-ids';

export interface ServerChildConfig {
  options: FastSocketServerOptions;
  /** Where each hand-over is appended as one JSON line (a DeliveredRecord). */
  deliveredFile: string;
  /** Which run of the server this is (0 for the first start), written into each record. */
  run: number;
  /** SIGKILL the process while it hands over its Nth message, before recording it: a crash inside the application. */
  crashOnMessage?: number;
  /**
   * SIGKILL the process at the first message that comes after its stateDir journal was compacted (replaced by a new
   * file), before handing it over: a crash right after a compaction.
   */
  crashAfterCompaction?: boolean;
}

export interface DeliveredRecord {
  run: number;
  id: string;
  payload: unknown;
  resent: boolean;
  possible_duplicate: boolean;
  client_id: string | null;
}

export type ToServerChild = { type: 'stats' } | { type: 'close' };
export type FromServerChild =
  | { type: 'listening'; url: string }
  | { type: 'stats'; stats: ReturnType<FastSocketServer['stats']>; peakRssBytes: number; rssBytes: number }
  | { type: 'failed'; error: string };

function send(msg: FromServerChild): void {
  process.send?.(msg);
}

/** VmHWM (peak resident set) and VmRSS from /proc, in bytes: the kernel's view, immune to GC timing. */
export function memoryOf(pid: number | 'self'): { peakRssBytes: number; rssBytes: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
}

function endsTorn(file: string): boolean {
  const size = fs.statSync(file).size;
  if (size === 0) return false;
  const fd = fs.openSync(file, 'r');
  try {
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.FASTSOCKET_FAULT_SERVER ?? '') as ServerChildConfig;
  const out = fs.openSync(config.deliveredFile, 'a');
  // A SIGKILL can tear the record being written (Linux ends a write to a regular file between pages on a fatal
  // signal), leaving a line without its newline: end it, so this run's records start on a line of their own.
  if (endsTorn(config.deliveredFile)) fs.writeSync(out, '\n');
  const server = new FastSocketServer(config.options);
  const journal = path.join(config.options.stateDir ?? '', JOURNAL_FILE);
  const journalAtStart = config.crashAfterCompaction ? fs.statSync(journal).ino : 0;
  let handed = 0;
  server.on('message', (m) => {
    if (++handed === config.crashOnMessage) process.kill(process.pid, 'SIGKILL');
    if (config.crashAfterCompaction && fs.statSync(journal).ino !== journalAtStart) process.kill(process.pid, 'SIGKILL');
    const rec: DeliveredRecord = {
      run: config.run, id: m.id, payload: m.payload, resent: m.resent, possible_duplicate: m.possible_duplicate, client_id: m.client_id,
    };
    fs.writeSync(out, JSON.stringify(rec) + '\n');
  });
  process.on('message', (msg: ToServerChild) => {
    if (msg.type === 'stats') send({ type: 'stats', stats: server.stats(), ...memoryOf('self') });
    else if (msg.type === 'close') void server.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'listening', url: await server.listen() });
}

if (require.main === module) {
  main().catch((err: Error) => {
    send({ type: 'failed', error: err.stack ?? String(err) });
    process.exit(1);
  });
}
