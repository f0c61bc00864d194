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
    if (!fs.statSync(abs).isDirectory()) throw new Error(`${abs} exists and is not a directory`);
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
 * Replaces `file` with `body` through `<file>.tmp` and a rename, so a failure or a crash at any moment leaves either
 * the old file or the new one whole. A temporary file that could not be written is removed, so that it does not
 * keep the space of a full disk.
 * @throws Error from the file system
 */
export function replaceFile(file: string, body: string): void {
  const tmp = file + '.tmp';
  try {
    fs.writeFileSync(tmp, body);
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
