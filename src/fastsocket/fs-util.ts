import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * mkdir -p, one level at a time: Node 20's `mkdirSync(dir, { recursive: true })` spins forever on some paths
 * (e.g. under /proc) instead of throwing, which would hang a server given a bad state_dir.
 */
export function ensureDir(dir: string): void {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  if (parent !== abs && !fs.existsSync(parent)) ensureDir(parent);
  try {
    fs.mkdirSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // With the code a file-system error has, so callers that name the setting for those (serve --state-dir, the
    // server node's state_dir) do so for this one too.
    if (!fs.statSync(abs).isDirectory()) throw Object.assign(new Error(`ENOTDIR: ${abs} exists and is not a directory`), { code: 'ENOTDIR' });
  }
}

/** A file's text, or null when it does not exist (any other error is thrown). */
export function readTextIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Calls `onLine` with each line of a file, without its newline, and last with what follows the last newline, if
 * anything, as unterminated. Read a chunk at a time: a file larger than the longest string V8 makes (512 MiB) could
 * not be read as one. Returns false when the file does not exist (any other error is thrown).
 * @param chunkBytes read size; injectable for tests.
 */
export function forEachLine(file: string, onLine: (line: string, terminated: boolean) => void, chunkBytes = 1 << 20): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    // A directory opens; reading it failed with "EISDIR: illegal operation on a directory, read", naming no path, so a
    // client given a folder as its outboxPath did not say which.
    if (fs.fstatSync(fd).isDirectory()) throw Object.assign(new Error(`EISDIR: ${file} is a directory, not a file`), { code: 'EISDIR', path: file });
    const chunk = Buffer.alloc(chunkBytes);
    // The start of a line that began in an earlier chunk. A newline byte is never part of a longer UTF-8 sequence,
    // so a line's bytes decode the same as in the whole file.
    let head: Buffer[] = [];
    for (let n = fs.readSync(fd, chunk); n > 0; n = fs.readSync(fd, chunk)) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1 && nl < n; nl = chunk.indexOf(0x0a, start)) {
        onLine(head.length === 0 ? chunk.toString('utf8', start, nl) : Buffer.concat([...head, chunk.subarray(start, nl)]).toString('utf8'), true);
        head = [];
        start = nl + 1;
      }
      if (start < n) head.push(Buffer.from(chunk.subarray(start, n)));
    }
    if (head.length > 0) onLine(Buffer.concat(head).toString('utf8'), false);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Writes all of `text` to `fd`. A disk that fills up takes part of a write (writeSync returns short) and refuses the
 * rest: this throws then, with part of the text written.
 * @throws Error from the file system
 */
export function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; ) {
    const n = fs.writeSync(fd, bytes, at);
    if (n === 0) throw new Error('write made no progress');
    at += n;
  }
}

/**
 * Replaces `file` with `records` through `<file>.tmp` and a rename, so a failure or a crash at any moment leaves
 * either the old file or the new one whole. Written a batch at a time, as a body of 512 MiB or more could not be one
 * string. A temporary file that could not be written is removed, so that it does not keep the space of a full disk.
 * @throws Error from the file system
 */
export function replaceFile(file: string, records: Iterable<string>): void {
  const tmp = file + '.tmp';
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      let batch = '';
      for (const record of records) {
        batch += record;
        if (batch.length >= 1 << 20) {
          writeAll(fd, batch);
          batch = '';
        }
      }
      writeAll(fd, batch);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Not a file we made (a folder of that name): the write's error says what is wrong.
    }
    throw err;
  }
  fs.renameSync(tmp, file);
}

/** `items` mapped one at a time, without an array of them all. */
export function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Iterable<U> {
  for (const item of items) yield f(item);
}

/**
 * What to tell a user of a file-system error (one with an errno-style code such as ENOENT): its message when that
 * starts with the code, as Node's do (`EISDIR: illegal operation on a directory, open '/x'`) and ours do, else the
 * code alone; null for any other error.
 */
export function fileSystemErrorText(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return null;
  const message = (err as Error).message;
  return typeof message === 'string' && message.startsWith(`${code}:`) ? message : code;
}
