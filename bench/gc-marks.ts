/**
 * Preloaded (`node -r build/bench/gc-marks.js`) into the Node servers and clients of bench:tail: when
 * FASTSOCKET_BENCH_SERIES_DIR names a folder, records every GC pause of the process (start on the wall clock, so
 * the pauses of two processes and a client's exchanges line up; duration; kind) and writes them there at exit, as
 * `gc-<script>-<pid>.json`. Without the variable it does nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants, PerformanceEntry, PerformanceObserver, performance } from 'node:perf_hooks';
import { SERIES_DIR_ENV } from './protocol-common';

/** One pause: [start, ms since the epoch; duration, ms; kind: 'minor' | 'major' | 'incremental' | 'weakcb']. */
export type GcPause = [number, number, GcKind];
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';

function kindOf(entry: PerformanceEntry): GcKind {
  const kind = ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind;
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR) return 'minor';
  if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) return 'major';
  if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) return 'incremental';
  return 'weakcb';
}

const dir = process.env[SERIES_DIR_ENV];
if (dir) {
  const pauses: GcPause[] = [];
  const keep = (entries: PerformanceEntry[]) => {
    for (const e of entries) pauses.push([performance.timeOrigin + e.startTime, e.duration, kindOf(e)]);
  };
  const observer = new PerformanceObserver((list) => keep(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    // Entries are handed to the observer in batches; the last batch may still be waiting.
    keep(observer.takeRecords());
    fs.writeFileSync(path.join(dir, `gc-${path.basename(process.argv[1] ?? 'node', '.js')}-${process.pid}.json`), JSON.stringify(pauses));
  });
}
