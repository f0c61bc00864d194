/**
 * Whether mosquitto is installed (PATH, then Debian's sbin directories), looked up here rather than imported from the
 * bench, whose own lookup is part of what the bench smoke tests check: bench:protocol skips its MQTT row without it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function hasMosquitto(): boolean {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  return dirs.some((d) => {
    try {
      fs.accessSync(path.join(d, 'mosquitto'), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
