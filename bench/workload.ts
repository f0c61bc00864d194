/**
 * Runs one workload (V2X, fan-in, soak): a server child and a client child on loopback, the server's RSS and the
 * client's read from /proc every second, the server's latency records (after the warm-up) summarised by the server.
 */
import * as path from 'node:path';
import type { LatencySummary } from '../src/fastsocket';
import { JsonChild, readRss, type HeapLine, type Progress } from './bench-kit';
import type { LoadClientResult } from './load-client';
import type { LoadServerReport } from './load-server';

const SERVER_JS = path.join(__dirname, 'load-server.js');
const CLIENT_JS = path.join(__dirname, 'load-client.js');

export interface WorkloadOptions {
  /** Names the children in errors and the progress label. */
  name: string;
  scheme: 'tcp' | 'ws';
  clients: number;
  /** Messages per second per client. */
  rateHz: number;
  durationS: number;
  warmupS: number;
  /** Ask both children for their heap (after a forced full collection) this often; off when absent. */
  heapEveryS?: number;
  progress?: Progress;
}

/** Heap in use after a full collection, kB, at a second since the client started sending. */
export interface HeapSample {
  t_s: number;
  kb: number;
}

/** RSS of both children in kB, one sample a second, with the second (since the client started sending) it was taken. */
export interface RssSample {
  t_s: number;
  server_kb: number;
  client_kb: number;
}

export interface WorkloadResult {
  scheme: 'tcp' | 'ws';
  clients: number;
  rate_hz_per_client: number;
  duration_s: number;
  warmup_s: number;
  sent: number;
  delivered: number;
  failed: number;
  unacknowledged: number;
  /** Payloads the server handed to its application. */
  server_messages: number;
  achieved_hz: number;
  /** Server-side estimates over the measured window, ns. */
  latency: LatencySummary;
  latency_corrected: LatencySummary;
  /** Client-side T1 of the measured messages, ns. */
  rtt: LatencySummary;
  /** CPU time (user + system) over the whole run, start-up and warm-up included, per message sent. */
  server_cpu_us_per_msg: number;
  client_cpu_us_per_msg: number;
  server_rss_peak_kb: number;
  server_rss_end_kb: number;
  client_rss_peak_kb: number;
  rss: RssSample[];
  /** Only with heapEveryS. */
  heap: { server: HeapSample[]; client: HeapSample[] };
}

export async function runWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  const nodeArgs = o.heapEveryS ? ['--expose-gc'] : [];
  const server = new JsonChild(SERVER_JS, ['--url', `${o.scheme}://127.0.0.1:0`], `${o.name} server`, nodeArgs);
  const heap: WorkloadResult['heap'] = { server: [], client: [] };
  let heapTimer: NodeJS.Timeout | undefined;
  let client: JsonChild | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const { url } = await server.next<{ url: string }>('listening', 20_000);
    client = new JsonChild(
      CLIENT_JS,
      ['--url', url, '--clients', String(o.clients), '--rate', String(o.rateHz), '--duration', String(o.durationS), '--warmup', String(o.warmupS)],
      `${o.name} client`,
      nodeArgs,
    );
    const c = client;
    await c.next('connected', 40_000);
    const startMs = performance.now();
    const seconds = (): number => (performance.now() - startMs) / 1000;
    server.onLine((v) => v.event === 'heap' && heap.server.push({ t_s: seconds(), kb: (v as unknown as HeapLine).heap_used_kb }));
    c.onLine((v) => v.event === 'heap' && heap.client.push({ t_s: seconds(), kb: (v as unknown as HeapLine).heap_used_kb }));
    if (o.heapEveryS) {
      heapTimer = setInterval(() => {
        server.send('heap');
        c.send('heap');
      }, o.heapEveryS * 1000);
    }
    const rss: RssSample[] = [];
    const sample = (): void => {
      try {
        rss.push({ t_s: seconds(), server_kb: readRss(server.pid).rss_kb, client_kb: readRss(c.pid).rss_kb });
      } catch {
        // A child that has just exited has no /proc entry; its last samples are already taken.
      }
      o.progress?.(Math.min(1, seconds() / o.durationS), o.name);
    };
    sample();
    sampler = setInterval(sample, 1000);
    const warm = c.next('warm', (o.warmupS + 30) * 1000).then(() => server.send('reset'));
    // A client that fails before its warm-up ends is reported by the wait for its result.
    warm.catch(() => undefined);
    const result = await c.next<LoadClientResult>('result', (o.durationS + 60) * 1000);
    await warm;
    clearInterval(sampler);
    clearInterval(heapTimer);
    sample();
    const serverPeak = readRss(server.pid).hwm_kb;
    const clientPeak = rss.reduce((m, s) => Math.max(m, s.client_kb), 0);
    const final = await server.finish<LoadServerReport>('final', 20_000);
    return {
      scheme: o.scheme, clients: o.clients, rate_hz_per_client: o.rateHz, duration_s: result.duration_s, warmup_s: o.warmupS,
      sent: result.sent, delivered: result.delivered, failed: result.failed, unacknowledged: result.unacknowledged,
      server_messages: final.messages, achieved_hz: result.achieved_hz,
      latency: final.window.latency, latency_corrected: final.window.latency_corrected, rtt: result.rtt,
      server_cpu_us_per_msg: (final.cpu_s * 1e6) / Math.max(1, result.sent), client_cpu_us_per_msg: (result.cpu_s * 1e6) / Math.max(1, result.sent),
      server_rss_peak_kb: serverPeak, server_rss_end_kb: rss.at(-1)?.server_kb ?? 0, client_rss_peak_kb: clientPeak, rss, heap,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(heapTimer);
    client?.kill();
    server.kill();
  }
}
