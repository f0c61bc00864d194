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
