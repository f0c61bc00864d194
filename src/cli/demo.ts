/**
 * `fastsocket demo`: the main job without ROS, on one machine. A server and a client in this process exchange the
 * original project's V2X workload (ETSI CPM records at 200 Hz) over loopback, and the latency table is printed.
 */
import { DEFAULT_CLIENT_LIMITS, FastSocketClient, FastSocketServer, monotonicNs, parseUrl, stringifyJson } from '../fastsocket';
import { asUsageError, intFlag, numberFlag, stringFlag, UsageError, type FlagValues } from './args';
import { COMMON_FLAGS, logLevel, type Command, type CommandContext } from './command';
import { cpmMessage, CPM_RATE_HZ } from './cpm';
import { LatencySeries } from './latency-series';
import { connectWithin, sendAll, Tally, type Outgoing } from './send-loop';
import { ms, round, Terminal } from './terminal';

const DEFAULT_DEMO_URL = 'tcp://127.0.0.1:0';
const DEFAULT_COUNT = 2000;
/** Bounds each phase (connect, final acks, last records) so a broken run ends instead of hanging. */
const PHASE_TIMEOUT_MS = 10_000;
const PROGRESS_INTERVAL_MS = 200;

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Start a server and a client in this process on loopback, send ETSI CPM-like V2X messages (~1.4 KB of nested JSON) at 200 Hz, and print the latency table.',
  usage: 'fastsocket demo [--url tcp://127.0.0.1:0] [--count 2000] [--rate 200] [--json]',
  flags: {
    url: { type: 'string', value: 'URL', help: `tcp:// or ws:// address to listen on (default ${DEFAULT_DEMO_URL})` },
    count: { type: 'string', value: 'N', help: `messages to send (default ${DEFAULT_COUNT})` },
    rate: { type: 'string', value: 'HZ', help: `messages per second (default ${CPM_RATE_HZ}, the original's V2X rate)` },
    ...COMMON_FLAGS,
  },
  run: demo,
};

async function demo(v: FlagValues, ctx: CommandContext): Promise<number> {
  const url = stringFlag(v, 'url') ?? DEFAULT_DEMO_URL;
  const count = intFlag(v, 'count', 1, DEFAULT_COUNT);
  const rate = numberFlag(v, 'rate', 0, CPM_RATE_HZ)!;
  let scheme: string;
  try {
    scheme = parseUrl(url).scheme;
  } catch (err) {
    asUsageError(err);
  }
  if (scheme !== 'tcp' && scheme !== 'ws') throw new UsageError(`--url: the demo runs tcp:// or ws://; for ${scheme}:// use serve and send with certificates`);
  const json = v.json === true;
  const term = new Terminal(ctx.stdout, ctx.stderr, 'demo');
  const logger = term.logger(logLevel(v));

  const server = new FastSocketServer({ url, logger });
  const series = new LatencySeries();
  let received = 0;
  server.on('message', () => received++);
  server.on('latency', (r) => series.record(r));
  let bound: string;
  try {
    bound = await server.listen();
  } catch (err) {
    logger.error((err as Error).message);
    await term.drain();
    return 1;
  }
  const client = new FastSocketClient({ url: bound, clientId: 'demo-vehicle', logger });
  const payloadBytes = Buffer.byteLength(stringifyJson(cpmMessage(0, rate)));
  if (!json) {
    term.line(`fastsocket demo: ${count} CPM messages of ~${payloadBytes} B at ${rate} Hz over ${bound} (server and client in this process)`);
    term.flush();
  }

  const tally = new Tally();
  const progress = setInterval(
    () => term.live(`sent ${tally.queued}/${count}  delivered ${tally.delivered}  ${series.brief()}`),
    PROGRESS_INTERVAL_MS,
  );
  const startNs = monotonicNs();
  const connected = await connectWithin(client, PHASE_TIMEOUT_MS, ctx.signal);
  const end = connected
    ? await sendAll(client, cpmSource(count, rate), { rate, maxInFlight: DEFAULT_CLIENT_LIMITS.outboxMaxMessages, maxInFlightBytes: DEFAULT_CLIENT_LIMITS.outboxMaxBytes, stallTimeoutMs: PHASE_TIMEOUT_MS, signal: ctx.signal }, tally)
    : 'unreachable';
  await client.close({ timeoutMs: ctx.signal.aborted ? 1000 : PHASE_TIMEOUT_MS });
  await lastRecords(server, tally.delivered);
  const elapsedS = (monotonicNs() - startNs) / 1e9;
  clearInterval(progress);
  await server.close();

  const stats = server.stats();
  const shortfall = tally.rateShortfall(rate);
  if (shortfall) logger.warn(shortfall);
  const ok = end === 'done' && tally.delivered === count && received === count;
  if (json) {
    term.json({
      event: 'summary', url: bound, messages: count, rate_hz: rate, payload_bytes: payloadBytes, delivered: tally.delivered,
      failed: count - tally.delivered, received, latency_records: stats.latencies, duration_s: round(elapsedS, 3),
      ...series.summaries(),
    });
  } else {
    term.endLive();
    term.line(`delivered ${tally.delivered}/${count}, server received ${received} payloads and ${stats.latencies} latency records in ${elapsedS.toFixed(1)} s`);
    term.line('');
    term.line(series.table());
    term.line('');
    term.line('latency: one-way estimate without synchronised clocks (docs/protocol.md); corrected: without the server turnaround.');
    const c = series.corrected.total();
    if (c.count > 0) term.line(`median one-way latency on this loopback: ${ms(c.p50)} ms`);
    if (!ok) term.line(`DEMO INCOMPLETE: ${end === 'unreachable' ? 'the client never connected' : `${count - tally.delivered} messages not delivered`}`);
  }
  await term.drain();
  return ok ? 0 : 1;
}

function* cpmSource(count: number, rate: number): Iterable<Outgoing> {
  for (let i = 0; i < count; i++) {
    const payload = cpmMessage(i, rate);
    yield { payload, bytes: Buffer.byteLength(stringifyJson(payload)) };
  }
}

/** Ack 3 of the last messages is written as the client closes; give the server a moment to read it. */
function lastRecords(server: FastSocketServer, expected: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (server.stats().latencies < expected) return;
      clearTimeout(timer);
      server.off('latency', check);
      resolve();
    };
    const timer = setTimeout(() => {
      server.off('latency', check);
      resolve();
    }, PHASE_TIMEOUT_MS);
    server.on('latency', check);
    check();
  });
}
