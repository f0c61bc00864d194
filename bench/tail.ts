/**
 * `npm run bench:tail`: what the slowest one-in-flight exchanges coincide with. The same server and client processes
 * as bench:protocol, each with gc-marks.js preloaded so that it records its GC pauses, and the client recording when
 * each measured exchange began and its RTT; every exchange is then matched against the pauses of both processes.
 * An exchange is "touched" by a pause that overlaps it, or that ended less than SETTLE_MS before it began (the
 * exchange after a scavenge runs with caches the scavenge emptied). Per row, over all rounds pooled: the RTT p50 / p99
 * / p99.9, the p99 of the exchanges no pause touched, how often each side collected and for how long, and what the
 * exchanges at or above the p99 coincide with. The Python peer has no such pauses (CPython frees by reference
 * counting), so it is not a row; bench:protocol compares with it.
 *
 * Options: --quick (small counts, one round: a smoke test), --json, --out FILE, --rounds N (default 3),
 *          --sizes 100,1024, --impls raw-tcp,fastsocket-tcp,raw-ws,fastsocket-ws, --awake (as bench:protocol).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchCli, describeMachine, fmt, holdCpusAwake, listOption, machine, Machine, renderTable, roundsOption, sizesOption, UsageError } from './bench-kit';
import type { GcPause } from './gc-marks';
import { Counts, measure } from './protocol';
import { NodeImpl, RttSeries, SERIES_DIR_ENV } from './protocol-common';
import { analyse, Run, SETTLE_MS, TailRow } from './tail-analysis';

const IMPLS: readonly NodeImpl[] = ['raw-tcp', 'fastsocket-tcp', 'raw-ws', 'fastsocket-ws'];
const GC_MARKS_JS = path.join(__dirname, 'gc-marks.js');
const FULL: Counts = { rttWarmup: 10000, rtt: 20000, pipelineWarmup: 0, pipeline: 100, window: 10 };
const QUICK: Counts = { rttWarmup: 0, rtt: 300, pipelineWarmup: 0, pipeline: 20, window: 10 };

interface TailReport {
  benchmark: 'tail';
  quick: boolean;
  machine: Machine;
  awake: boolean;
  rounds: number;
  counts: Counts;
  settle_ms: number;
  rows: TailRow[];
}

function readRun(dir: string, label: string): Run {
  const files = fs.readdirSync(dir);
  const one = (prefix: string): string => {
    const found = files.filter((f) => f.startsWith(prefix));
    if (found.length !== 1) throw new Error(`${label}: expected one ${prefix}*.json in ${dir}, found ${found.length} (${files.join(', ') || 'none'})`);
    return fs.readFileSync(path.join(dir, found[0]), 'utf8');
  };
  return {
    series: JSON.parse(one('rtt-')) as RttSeries,
    pauses: { server: JSON.parse(one('gc-protocol-server-')) as GcPause[], client: JSON.parse(one('gc-protocol-client-')) as GcPause[] },
  };
}

/** One measurement with the series and pauses recorded into a fresh folder, removed afterwards. */
async function measureRun(impl: NodeImpl, bytes: number, counts: Counts): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-tail-'));
  const before = process.env[SERIES_DIR_ENV];
  process.env[SERIES_DIR_ENV] = dir;
  try {
    await measure(impl, bytes, counts, ['-r', GC_MARKS_JS]);
    return readRun(dir, `${impl} ${bytes} B`);
  } finally {
    if (before === undefined) delete process.env[SERIES_DIR_ENV];
    else process.env[SERIES_DIR_ENV] = before;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (share: number): string => `${fmt(share * 100, 0)} %`;

benchCli<TailReport>({
  name: 'tail',
  usage: '[--rounds N] [--sizes 100,1024] [--impls raw-tcp,fastsocket-tcp,raw-ws,fastsocket-ws] [--awake]',
  options: { rounds: { type: 'string' }, sizes: { type: 'string' }, impls: { type: 'string' }, awake: { type: 'boolean' } },
  async run(values, { progress }) {
    const quick = values.quick === true;
    const rounds = quick ? 1 : roundsOption(values, 3);
    const sizes = sizesOption(values, '100,1024');
    const impls = listOption(values, 'impls', IMPLS);
    const counts = quick ? QUICK : FULL;
    const m = machine();
    let awake: { release(): void } | null = null;
    if (values.awake === true) {
      try {
        awake = holdCpusAwake();
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    const runs = new Map<string, Run[]>();
    const total = rounds * sizes.length * impls.length;
    let done = 0;
    try {
      for (let round = 0; round < rounds; round++) {
        for (const bytes of sizes) {
          for (let i = 0; i < impls.length; i++) {
            // Rotated like bench:protocol, so that no row always runs right after the same one.
            const impl = impls[(i + round) % impls.length];
            progress(done / total, `round ${round + 1} ${impl} ${bytes} B`);
            const key = `${impl}|${bytes}`;
            runs.set(key, [...(runs.get(key) ?? []), await measureRun(impl, bytes, counts)]);
            done++;
          }
        }
      }
    } finally {
      awake?.release();
    }
    m.loadavg_end = os.loadavg();
    const rows = sizes.flatMap((bytes) => impls.map((impl) => analyse(impl, bytes, runs.get(`${impl}|${bytes}`)!)));
    return { benchmark: 'tail', quick, machine: m, awake: awake !== null, rounds, counts, settle_ms: SETTLE_MS, rows };
  },
  render(r) {
    return [
      `What the slowest one-in-flight exchanges coincide with: ${describeMachine(r.machine)}`,
      `${r.rounds} round(s) pooled, ${r.counts.rtt} measured exchanges after ${r.counts.rttWarmup} warm-up ones per run; ` +
        `idle CPUs ${r.awake ? 'kept polling (--awake)' : 'left to halt'}${r.quick ? '; QUICK counts: not for quoting' : ''}`,
      `touched: a GC pause of the server or the client overlapped the exchange, or ended less than ${r.settle_ms} ms before it began`,
      '',
      renderTable(
        ['implementation', 'payload', 'p50 us', 'p99 us', 'p99.9 us', 'p99 untouched us', 'touched', 'scavenges /10k srv/cli', 'scavenge ms srv/cli', 'other GC srv/cli', '>= p99: srv GC / cli GC / none'],
        r.rows.map((x) => [
          x.label, `${x.payload_bytes} B`, fmt(x.rtt_p50_us), fmt(x.rtt_p99_us), fmt(x.rtt_p999_us), fmt(x.untouched_p99_us), pct(x.touched_share),
          `${fmt(x.gc.server.scavenges_per_10k)} / ${fmt(x.gc.client.scavenges_per_10k)}`,
          `${fmt(x.gc.server.scavenge_mean_ms, 2)} / ${fmt(x.gc.client.scavenge_mean_ms, 2)}`,
          `${x.gc.server.other_pauses} / ${x.gc.client.other_pauses}`,
          `${pct(x.slowest.server_gc)} / ${pct(x.slowest.client_gc)} / ${pct(x.slowest.none)}`,
        ]),
        2,
      ),
      '',
      'scavenge ms: the mean young-generation pause; other GC: old-generation pauses (marking steps, mark-compact) during the measured exchanges.',
      'An exchange a pause of each side touched counts under both; "none" is what neither touched (the machine itself: interrupts, the hypervisor).',
    ].join('\n');
  },
});
