/**
 * Server child of the workload benchmarks (V2X, fan-in, soak): a FastSocketServer alone in its process, so the RSS
 * the orchestrator reads from /proc is the server's own. It keeps only bounded state (counters, histograms).
 *
 * stdout, one JSON object a line: {"event":"listening","url"} first; {"event":"report",...} for each "report" line
 * on stdin and {"event":"heap",...} for each "heap" line; "reset" on stdin starts the measured window (drops the
 * warm-up's latencies); at the end of stdin (or SIGTERM) it closes and prints {"event":"final",...}.
 *
 * usage: load-server.js --url tcp://127.0.0.1:0
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { FastSocketServer } from '../src/fastsocket';
import { LatencySeries } from '../src/cli/latency-series';
import { cpuSeconds, heapLine } from './bench-kit';

export interface LoadServerReport {
  event: 'report' | 'final';
  messages: number;
  latencies: number;
  connections: number;
  connections_total: number;
  /** Latency records in the measured window (after the last reset), resends left out. */
  window: ReturnType<LatencySeries['summaries']> & { resent_skipped: number };
  stats: ReturnType<FastSocketServer['stats']>;
  heap_used_kb: number;
  /** CPU time (user + system) of this process so far, s. */
  cpu_s: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string', default: 'tcp://127.0.0.1:0' } } });
  const server = new FastSocketServer({ url: values.url, maxConnections: 4096 });
  let series = new LatencySeries();
  let messages = 0;
  server.on('message', () => messages++);
  server.on('latency', (r) => series.record(r));
  const url = await server.listen();
  const print = (v: object): void => void process.stdout.write(JSON.stringify(v) + '\n');
  print({ event: 'listening', url });

  const report = (event: 'report' | 'final'): LoadServerReport => {
    const stats = server.stats();
    return {
      event, messages, latencies: stats.latencies, connections: stats.connections, connections_total: stats.connections_total,
      window: { ...series.summaries(), resent_skipped: series.resentSkipped }, stats, heap_used_kb: Math.round(process.memoryUsage().heapUsed / 1024),
      cpu_s: cpuSeconds(),
    };
  };

  let finished = false;
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    const last = report('final');
    await server.close();
    print(last);
    // stdout is a pipe, written synchronously on Linux.
    process.exit(0);
  };
  createInterface({ input: process.stdin, crlfDelay: Infinity })
    .on('line', (line) => {
      const command = line.trim();
      if (command === 'reset') series = new LatencySeries();
      else if (command === 'report') print(report('report'));
      else if (command === 'heap') print(heapLine());
    })
    .on('close', () => void finish());
  process.on('SIGTERM', () => void finish());
}

main().catch((err: unknown) => {
  process.stderr.write(`load-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
