/**
 * One benchmark client in its own process. Usage:
 *   node build/bench/protocol-client.js --impl IMPL --url URL --payload-bytes B
 *        [--rtt-warmup N --rtt-count N] [--pipeline-warmup N --pipeline-count N --window W] [--timeout-ms MS]
 * Runs the one-in-flight phase, then the pipelined one, over one connection; each phase first sends its warm-up
 * messages in the same mode (not measured: JIT, buffers and the server warm up), then the measured ones, and
 * prints one ClientResultLine. Exit 1 on failure or timeout, 2 on a usage error. With --impl mqtt-mosquitto it is
 * the MQTT publisher: --url is the broker's mqtt:// URL, and a reply is the broker's PUBACK.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { connectAsync, MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { FastSocketClient, LatencyStats } from '../src/fastsocket';
import { ClientImpl, ClientResultLine, hostMonotonicNs, integerArg, isClientImpl, lineSplitter, MQTT_TOPIC, nowNs, NS_PER_US, payloadOf, rawFrame, RttSeries, SERIES_DIR_ENV } from './protocol-common';

interface Span {
  firstNs: number;
  lastNs: number;
}

/** How one implementation's client sends; every method resolves once the replies it waits for have been read. */
interface Driver {
  /** One message, resolved when its reply (ack 2, or the echo) has been read. */
  roundTrip(): Promise<void>;
  /** `count` messages with at most `window` unanswered, from the first write to the last reply read. */
  pipeline(count: number, window: number): Promise<Span>;
  close(): Promise<void>;
}

/**
 * `count` sends with at most `window` unanswered, each answered one starting the next: the pipelined phase of the
 * clients whose library answers each send (fastsocket's ack 2, MQTT's PUBACK).
 */
function windowed(count: number, window: number, sendOne: () => Promise<unknown>): Promise<Span> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const firstNs = nowNs();
    const launch = () => {
      started++;
      sendOne().then(onAnswer, reject);
    };
    const onAnswer = () => {
      if (++done === count) resolve({ firstNs, lastNs: nowNs() });
      else if (started < count) launch();
    };
    for (let i = 0; i < Math.min(window, count); i++) launch();
  });
}

/**
 * The raw rows' clients. 'json' is what an application writes by hand (a fresh uuid and JSON.stringify per
 * message, one write per message, each reply parsed); 'bytes' only counts newlines and writes refills in one go
 * per batch of replies, the least any client can do.
 */
type RawStyle = 'json' | 'bytes';

abstract class RawDriver implements Driver {
  private seq = 0;
  private onReplies: ((n: number) => void) | null = null;
  private readonly payloadJson: string;

  constructor(protected readonly style: RawStyle, private readonly payload: string) {
    this.payloadJson = JSON.stringify(payload);
  }

  /** Writes the frames: one write each ('json') or all in one write ('bytes'). */
  protected abstract writeFrames(frames: string[]): void;

  protected replied(n: number): void {
    this.onReplies?.(n);
  }

  private frames(k: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < k; i++) {
      out.push(this.style === 'json' ? JSON.stringify({ id: randomUUID(), type: 'message', payload: this.payload }) : rawFrame(this.seq++, this.payloadJson));
    }
    return out;
  }

  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.onReplies = () => {
        this.onReplies = null;
        resolve();
      };
      this.writeFrames(this.frames(1));
    });
  }

  pipeline(count: number, window: number): Promise<Span> {
    return new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      let refill = 0;
      let refillScheduled = false;
      const send = (k: number) => {
        sent += k;
        this.writeFrames(this.frames(k));
      };
      const flushRefill = () => {
        refillScheduled = false;
        const k = Math.min(refill, count - sent);
        refill = 0;
        if (k > 0) send(k);
      };
      const firstNs = nowNs();
      this.onReplies = (n) => {
        received += n;
        if (received >= count) {
          this.onReplies = null;
          resolve({ firstNs, lastNs: nowNs() });
          return;
        }
        if (this.style === 'json') {
          if (sent < count) send(Math.min(n, count - sent));
          return;
        }
        refill += n;
        if (!refillScheduled) {
          refillScheduled = true;
          queueMicrotask(flushRefill);
        }
      };
      send(Math.min(window, count));
    });
  }

  abstract close(): Promise<void>;
}

/** How a raw client reads its socket: 'data' events, or into one reused buffer (`onread`, as fastsocket's does). */
type RawReads = 'data' | 'onread';

class RawTcpDriver extends RawDriver {
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private onChunk: (chunk: Buffer) => void;
  private socket!: net.Socket;

  private constructor(style: RawStyle, payload: string, reads: RawReads) {
    super(style, payload);
    if (style === 'json') {
      this.onChunk = lineSplitter((line) => {
        JSON.parse(line.toString('utf8'));
        this.replied(1);
      }, reads === 'onread');
      return;
    }
    this.onChunk = (chunk) => {
      let n = 0;
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) n++;
      if (n > 0) this.replied(n);
    };
  }

  static open(url: string, style: RawStyle, payload: string, reads: RawReads): Promise<RawTcpDriver> {
    const { hostname, port } = new URL(url);
    const driver = new RawTcpDriver(style, payload, reads);
    return new Promise((resolve, reject) => {
      const onread = {
        buffer: driver.readBuffer,
        callback: (bytes: number) => {
          driver.onChunk(driver.readBuffer.subarray(0, bytes));
          return true;
        },
      };
      const socket = net.connect({ host: hostname, port: Number(port), ...(reads === 'onread' ? { onread } : {}) }, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        if (reads === 'data') socket.on('data', driver.onChunk);
        resolve(driver);
      });
      driver.socket = socket;
      socket.once('error', reject);
    });
  }

  protected writeFrames(frames: string[]): void {
    if (this.style === 'bytes') this.socket.write(frames.join('\n') + '\n');
    else for (const f of frames) this.socket.write(f + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}

class RawWsDriver extends RawDriver {
  private constructor(private readonly ws: WebSocket, payload: string) {
    super('json', payload);
    ws.on('message', (data: Buffer) => {
      JSON.parse(data.toString('utf8'));
      this.replied(1);
    });
  }

  static open(url: string, payload: string): Promise<RawWsDriver> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('error', reject);
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new RawWsDriver(ws, payload));
      });
    });
  }

  protected writeFrames(frames: string[]): void {
    for (const f of frames) this.ws.send(f);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** The library as an application uses it: default options, one `send()` per message, its promise awaited. */
class FastSocketDriver implements Driver {
  private constructor(private readonly client: FastSocketClient, private readonly payload: string) {}

  static async open(url: string, payload: string): Promise<FastSocketDriver> {
    const client = new FastSocketClient({ url });
    await client.connect();
    return new FastSocketDriver(client, payload);
  }

  async roundTrip(): Promise<void> {
    await this.client.send(this.payload);
  }

  pipeline(count: number, window: number): Promise<Span> {
    return windowed(count, window, () => this.client.send(this.payload));
  }

  async close(): Promise<void> {
    await this.client.close({ timeoutMs: 5000 });
  }
}

/**
 * An MQTT publisher as a bridge's sending side is one: mqtt.js with default options (MQTT 3.1.1), one QoS 1
 * PUBLISH per message of the same payload bytes the other rows send (JSON-encoded, as a subscriber decodes it),
 * resolved on the broker's PUBACK: the counterpart of fastsocket's ack 2.
 */
class MqttDriver implements Driver {
  private constructor(private readonly client: MqttClient, private readonly message: Buffer) {}

  static async open(url: string, payload: string): Promise<MqttDriver> {
    const client = await connectAsync(url, { clean: true, reconnectPeriod: 0 });
    // As paho (ROS mqtt_client) and every other row's client do; mqtt.js leaves Nagle on.
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    return new MqttDriver(client, Buffer.from(JSON.stringify(payload)));
  }

  roundTrip(): Promise<void> {
    return new Promise((resolve, reject) => this.client.publish(MQTT_TOPIC, this.message, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  }

  pipeline(count: number, window: number): Promise<Span> {
    return windowed(count, window, () => this.roundTrip());
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

function open(impl: ClientImpl, url: string, payloadBytes: number): Promise<Driver> {
  const payload = payloadOf(payloadBytes);
  switch (impl) {
    case 'raw-tcp':
      return RawTcpDriver.open(url, 'json', payload, 'data');
    case 'raw-tcp-onread':
      return RawTcpDriver.open(url, 'json', payload, 'onread');
    case 'raw-tcp-bytes':
      return RawTcpDriver.open(url, 'bytes', payload, 'onread');
    case 'raw-ws':
      return RawWsDriver.open(url, payload);
    case 'fastsocket-tcp':
    case 'fastsocket-ws':
      return FastSocketDriver.open(url, payload);
    case 'mqtt-mosquitto':
      return MqttDriver.open(url, payload);
  }
}

async function measureRtt(driver: Driver, warmup: number, count: number): Promise<ClientResultLine> {
  for (let i = 0; i < warmup; i++) await driver.roundTrip();
  const stats = new LatencyStats();
  // For bench:tail: when each exchange began (wall clock, ms) and its RTT, to line up with the GC pauses of both sides.
  const seriesDir = process.env[SERIES_DIR_ENV];
  const startsMs = seriesDir ? new Float64Array(count) : null;
  const rttsNs = seriesDir ? new Float64Array(count) : null;
  for (let i = 0; i < count; i++) {
    if (startsMs) startsMs[i] = performance.timeOrigin + performance.now();
    const t0 = nowNs();
    await driver.roundTrip();
    const rtt = nowNs() - t0;
    stats.record(rtt);
    if (rttsNs) rttsNs[i] = rtt;
  }
  if (seriesDir) {
    const series: RttSeries = { start_ms: Array.from(startsMs!), rtt_ns: Array.from(rttsNs!) };
    fs.writeFileSync(path.join(seriesDir, `rtt-${process.pid}.json`), JSON.stringify(series));
  }
  const s = stats.total();
  return {
    event: 'result', mode: 'rtt', count,
    rtt_p50_us: s.p50 / NS_PER_US, rtt_p99_us: s.p99 / NS_PER_US, rtt_p995_us: stats.totalPercentile(99.5) / NS_PER_US, rtt_p999_us: stats.totalPercentile(99.9) / NS_PER_US, rtt_mean_us: s.mean / NS_PER_US,
  };
}

async function measurePipeline(driver: Driver, warmup: number, count: number, window: number): Promise<ClientResultLine> {
  if (warmup > 0) await driver.pipeline(warmup, window);
  const cpu = process.cpuUsage();
  const first_write_host_ns = hostMonotonicNs();
  const { firstNs, lastNs } = await driver.pipeline(count, window);
  const { user, system } = process.cpuUsage(cpu);
  const elapsed_s = (lastNs - firstNs) / 1e9;
  return { event: 'result', mode: 'pipeline', count, msgs_per_s: count / elapsed_s, elapsed_s, client_cpu_us_per_msg: (user + system) / count, first_write_host_ns };
}

function usage(problem: string): never {
  process.stderr.write(
    `protocol-client: ${problem}\nusage: protocol-client.js --impl raw-tcp|raw-tcp-onread|raw-ws|raw-tcp-bytes|fastsocket-tcp|fastsocket-ws|mqtt-mosquitto --url URL --payload-bytes B\n` +
      `  [--rtt-warmup N --rtt-count N] [--pipeline-warmup N --pipeline-count N --window W] [--timeout-ms MS]\n`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        impl: { type: 'string' },
        url: { type: 'string' },
        'payload-bytes': { type: 'string' },
        'rtt-warmup': { type: 'string', default: '0' },
        'rtt-count': { type: 'string', default: '0' },
        'pipeline-warmup': { type: 'string', default: '0' },
        'pipeline-count': { type: 'string', default: '0' },
        window: { type: 'string', default: '1' },
        'timeout-ms': { type: 'string', default: '120000' },
      },
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const impl = values.impl ?? '';
  if (!isClientImpl(impl)) usage(`--impl must be one of raw-tcp, raw-tcp-onread, raw-ws, raw-tcp-bytes, fastsocket-tcp, fastsocket-ws, mqtt-mosquitto (got ${values.impl})`);
  if (!values.url) usage('--url is required');
  const payloadBytes = integerArg('payload-bytes', values['payload-bytes'], 0, usage);
  const rttWarmup = integerArg('rtt-warmup', values['rtt-warmup'], 0, usage);
  const rttCount = integerArg('rtt-count', values['rtt-count'], 0, usage);
  const pipelineWarmup = integerArg('pipeline-warmup', values['pipeline-warmup'], 0, usage);
  const pipelineCount = integerArg('pipeline-count', values['pipeline-count'], 0, usage);
  const window = integerArg('window', values.window, 1, usage);
  const timeoutMs = integerArg('timeout-ms', values['timeout-ms'], 1, usage);
  if (rttCount === 0 && pipelineCount === 0) usage('nothing to measure: give --rtt-count or --pipeline-count');

  // A stuck run must not hang the whole benchmark; the orchestrator reports the exit code and stderr.
  setTimeout(() => {
    process.stderr.write(`protocol-client: ${impl} not finished after ${timeoutMs} ms\n`);
    process.exit(1);
  }, timeoutMs).unref();

  const driver = await open(impl, values.url, payloadBytes);
  const print = (r: ClientResultLine) => process.stdout.write(JSON.stringify(r) + '\n');
  if (rttCount > 0) print(await measureRtt(driver, rttWarmup, rttCount));
  if (pipelineCount > 0) print(await measurePipeline(driver, pipelineWarmup, pipelineCount, window));
  await driver.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`protocol-client: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
