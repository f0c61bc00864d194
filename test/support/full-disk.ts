/**
 * A disk that fills up, for unit tests: until restore(), fs.writeSync takes `room` more bytes (a write that crosses
 * that is cut short, as the kernel does) and then throws ENOSPC. The library reads `fs` through the module object, so
 * patching it here reaches it.
 */
import type * as Fs from 'node:fs';
import { createRequire } from 'node:module';

export function fillDisk(room: number): { restore(): void } {
  const nodeFs = createRequire(__filename)('node:fs') as typeof Fs;
  const writeSync = nodeFs.writeSync;
  nodeFs.writeSync = ((fd: number, data: Buffer | string, offset?: number) => {
    const buffer = typeof data === 'string' ? Buffer.from(data) : data.subarray(offset ?? 0);
    if (room === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const n = writeSync(fd, buffer, 0, Math.min(room, buffer.length));
    room -= n;
    return n;
  }) as typeof Fs.writeSync;
  return { restore: () => void (nodeFs.writeSync = writeSync) };
}
