/**
 * Client child of the workload benchmarks: N FastSocketClients in one process, each sending the ETSI CPM record at a
 * fixed rate, phases staggered evenly over the period so N clients do not fire in bursts. The schedule follows the
 * monotonic clock: a late tick sends what fell due, it does not shift the rest.
 *
 * stdout, one JSON object a line: {"event":"connected"} once every client is connected; {"event":"warm"} when the
 * warm-up ends; {"event":"progress",...} every second; {"event":"result",...} at the end; {"event":"heap",...} for each
 * "heap" line on stdin. The end of stdin stops it early.
 *
 * usage: load-client.js --url URL [--clients 1] [--rate 200] [--duration 10] [--warmup 1]
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { FastSocketClient, LatencyStats, monotonicNs, type LatencySummary } from '../src/fastsocket';
import { cpmMessage } from '../src/cli/cpm';
import { cpuSeconds, heapLine } from './bench-kit';

export interface LoadClientResult {
  event: 'result';
  clients: number;
  rate_hz: number;
  duration_s: number;
  /** Messages handed to send() (warm-up included). */
  sent: number;
  delivered: number;
  failed: number;
  /** Not acknowledged when the client gave up waiting. */
  unacknowledged: number;
  /** Messages per second offered over the whole run. */
  achieved_hz: number;
  /** T1 of the measured (post-warm-up) messages, ns. */
  rtt: LatencySummary;
  /** CPU time (user + system) of this process so far, s. */
  cpu_s: number;
}

const CONNECT_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 15_000;

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number (got ${raw})`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      clients: { type: 'string', default: '1' },
      rate: { type: 'string', default: '200' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
    },
  });
  if (!values.url) throw new Error('--url is required');
  const clientsN = Math.round(positive('clients', values.clients));
  const rateHz = positive('rate', values.rate);
  const durationS = positive('duration', values.duration);
  const warmupS = Number(values.warmup);
  const print = (v: object): void => void process.stdout.write(JSON.stringify(v) + '\n');

  const clients = Array.from({ length: clientsN }, (_, i) => new FastSocketClient({ url: values.url, clientId: `vehicle-${i}`, connectTimeoutMs: 10_000 }));
  let stopped = false;
  createInterface({ input: process.stdin, crlfDelay: Infinity })
    .on('line', (line) => line.trim() === 'heap' && print(heapLine()))
    .on('close', () => (stopped = true));
  const connectTimer = setTimeout(() => {
    process.stderr.write(`load-client: not every client connected within ${CONNECT_TIMEOUT_MS} ms\n`);
    process.exit(1);
  }, CONNECT_TIMEOUT_MS);
  await Promise.all(clients.map((c) => c.connect()));
  clearTimeout(connectTimer);
  print({ event: 'connected' });

  const rtt = new LatencyStats();
  let sent = 0;
  let delivered = 0;
  let failed = 0;
  let warm = warmupS <= 0;
  if (warm) print({ event: 'warm' });
  const slotNs = 1e9 / (rateHz * clientsN);
  const startNs = monotonicNs();
  const endNs = startNs + durationS * 1e9;
  const warmAtNs = startNs + warmupS * 1e9;
  let next = 0;
  let lastProgressNs = startNs;
  const pending = new Set<Promise<unknown>>();

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = monotonicNs();
      if (!warm && now >= warmAtNs) {
        warm = true;
        print({ event: 'warm' });
      }
      const due = Math.min(Math.floor((Math.min(now, endNs) - startNs) / slotNs) + 1, Math.ceil((endNs - startNs) / slotNs));
      for (; next < due; next++) {
        const client = clients[next % clientsN];
        const seq = Math.floor(next / clientsN);
        const measured = warm;
        sent++;
        const p = client.send(cpmMessage(seq, rateHz)).then(
          (r) => {
            delivered++;
            if (measured) rtt.record(r.rtt_ns);
          },
          () => void failed++,
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      if (now - lastProgressNs >= 1e9) {
        lastProgressNs = now;
        print({ event: 'progress', elapsed_s: (now - startNs) / 1e9, sent, delivered, failed });
      }
      // Sleep until the next slot (at least the timer's 1 ms): a slow rate must not cost a wake-up every millisecond.
      if (now >= endNs || stopped) resolve();
      else setTimeout(tick, Math.max(1, Math.floor((startNs + next * slotNs - monotonicNs()) / 1e6)));
    };
    tick();
  });
  const sendingS = (Math.min(monotonicNs(), endNs) - startNs) / 1e9;

  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(pending), new Promise((r) => (drainTimer = setTimeout(r, DRAIN_TIMEOUT_MS)))]);
  clearTimeout(drainTimer);
  const unacknowledged = sent - delivered - failed;
  // close() writes the last acks 3, so the server gets a latency record for every delivered message.
  await Promise.all(clients.map((c) => c.close({ timeoutMs: 2_000 })));
  const result: LoadClientResult = {
    event: 'result', clients: clientsN, rate_hz: rateHz, duration_s: sendingS, sent, delivered, failed, unacknowledged,
    achieved_hz: sent / Math.max(1e-9, sendingS), rtt: rtt.total(), cpu_s: cpuSeconds(),
  };
  print(result);
  // stdout is a pipe, written synchronously on Linux; stdin (held open by the orchestrator) must not keep us alive.
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`load-client: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
