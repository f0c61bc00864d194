/**
 * `npm run bench:node-flags`: what V8 flags do to fastsocket's one-in-flight RTT, against Node's defaults, with the
 * Python peer as the reference: the same server and client processes as bench:protocol, each fastsocket row run
 * with and without the flags in alternation, round after round, so that the machine's drift falls on both alike.
 * Prints the median over rounds of p50 / p99 / p99.5 / p99.9 (10,000 measured exchanges after 10,000 warm-up ones)
 * and the server's peak RSS. The default flags start V8's young generation at 8 MB instead of 1 MB, so that
 * scavenges (0.4-1 ms pauses) come less often; docs/benchmarks.md says what it measured and why fastsocket does not
 * set them.
 *
 * Options: --quick (small counts, one round: a smoke test), --json, --out FILE, --rounds N (default 8),
 *          --sizes 100,1024, --flags "..." (default: --min-semi-space-size=8).
 */
import * as os from 'node:os';
import { benchCli, describeMachine, fmt, machine, Machine, renderTable, roundsOption, sizesOption, UsageError } from './bench-kit';
import { Counts, measure, Sample } from './protocol';
import { Impl, IMPL_LABELS } from './protocol-common';
import { median } from '../test/support/estimator-harness';

const IMPLS_COMPARED: readonly Impl[] = ['python-peer', 'fastsocket-tcp', 'fastsocket-ws'];
const DEFAULT_FLAGS = '--min-semi-space-size=8';
const FULL: Counts = { rttWarmup: 10000, rtt: 10000, pipelineWarmup: 0, pipeline: 1000, window: 100 };
const QUICK: Counts = { rttWarmup: 0, rtt: 300, pipelineWarmup: 0, pipeline: 100, window: 16 };

interface FlagsRow {
  impl: Impl;
  label: string;
  payload_bytes: number;
  /** The flags of the row; the Python peer runs without any. */
  node_flags: string[];
  rtt_p50_us: number;
  rtt_p99_us: number;
  rtt_p995_us: number;
  rtt_p999_us: number;
  server_rss_peak_mb: number;
  rounds: Sample[];
}

interface FlagsReport {
  benchmark: 'node-flags';
  quick: boolean;
  machine: Machine;
  rounds: number;
  counts: Counts;
  rows: FlagsRow[];
}

benchCli<FlagsReport>({
  name: 'node-flags',
  usage: '[--rounds N] [--sizes 100,1024] [--flags "..."]',
  options: { rounds: { type: 'string' }, sizes: { type: 'string' }, flags: { type: 'string' } },
  async run(values, { progress }) {
    const quick = values.quick === true;
    const rounds = quick ? 1 : roundsOption(values, 8);
    const sizes = sizesOption(values, '100,1024');
    const counts = quick ? QUICK : FULL;
    const flags = String(values.flags ?? DEFAULT_FLAGS).split(' ').filter((f) => f !== '');
    if (flags.length === 0) throw new UsageError('--flags must name at least one flag to compare with Node\'s defaults');
    const m = machine();
    const variants = IMPLS_COMPARED.flatMap((impl): Array<{ impl: Impl; flags: readonly string[] }> =>
      impl === 'python-peer' ? [{ impl, flags: [] }] : [{ impl, flags: [] }, { impl, flags }],
    );
    const samples = new Map<string, Sample[]>();
    const key = (impl: Impl, flags: readonly string[], bytes: number) => `${impl}|${flags.join(' ')}|${bytes}`;
    const total = rounds * sizes.length * variants.length;
    let done = 0;
    for (let round = 0; round < rounds; round++) {
      for (const bytes of sizes) {
        for (let i = 0; i < variants.length; i++) {
          // Rotated like bench:protocol, so that no variant always runs right after the same one.
          const v = variants[(i + round) % variants.length];
          progress(done / total, `round ${round + 1} ${v.impl} ${bytes} B ${v.flags.join(' ') || "Node's defaults"}`);
          const s = await measure(v.impl, bytes, counts, v.flags);
          samples.set(key(v.impl, v.flags, bytes), [...(samples.get(key(v.impl, v.flags, bytes)) ?? []), s]);
          done++;
        }
      }
    }
    m.loadavg_end = os.loadavg();
    const rows: FlagsRow[] = sizes.flatMap((bytes) =>
      variants.map(({ impl, flags }) => {
        const r = samples.get(key(impl, flags, bytes))!;
        const med = (k: 'rtt_p50_us' | 'rtt_p99_us' | 'rtt_p995_us' | 'rtt_p999_us' | 'server_rss_peak_kb') => median(r.map((x) => x[k]));
        return {
          impl, label: IMPL_LABELS[impl], payload_bytes: bytes, node_flags: [...flags],
          rtt_p50_us: med('rtt_p50_us'), rtt_p99_us: med('rtt_p99_us'), rtt_p995_us: med('rtt_p995_us'), rtt_p999_us: med('rtt_p999_us'),
          server_rss_peak_mb: med('server_rss_peak_kb') / 1024, rounds: r,
        };
      }),
    );
    return { benchmark: 'node-flags', quick, machine: m, rounds, counts, rows };
  },
  render(r) {
    return [
      `V8 flags against Node's defaults, one message in flight: ${describeMachine(r.machine)}`,
      `${r.rounds} round(s), median shown; ${r.counts.rtt} measured exchanges after ${r.counts.rttWarmup} warm-up ones per run${r.quick ? '; QUICK counts: not for quoting' : ''}`,
      '',
      renderTable(
        ['implementation', 'payload', 'node flags', 'RTT p50 us', 'p99 us', 'p99.5 us', 'p99.9 us', 'srv RSS peak MB'],
        r.rows.map((x) => [
          x.label, `${x.payload_bytes} B`, x.impl === 'python-peer' ? '-' : x.node_flags.join(' ') || "Node's defaults",
          fmt(x.rtt_p50_us), fmt(x.rtt_p99_us), fmt(x.rtt_p995_us), fmt(x.rtt_p999_us), fmt(x.server_rss_peak_mb),
        ]),
        3,
      ),
    ].join('\n');
  },
});
