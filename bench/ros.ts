/**
 * `npm run bench:ros`: what the bridge costs next to plain ROS 2, side by side in one run on this host.
 *
 * Paths: direct (rclnodejs publisher -> subscriber in one ROS_DOMAIN_ID), and publisher (domain A) -> bridge node ->
 * server node -> subscriber (domain B), once with json encoding and once with cdr; and the baseline users weigh the
 * bridge against, mqtt: publisher (A) -> MQTT bridge out (A, `--role mqtt-out`: raw CDR subscription, each message's
 * bytes published at QoS 1) -> mosquitto on 127.0.0.1 -> MQTT bridge in (B, `--role mqtt-in`: publishes the bytes
 * as they came) -> subscriber (B). That bridge is a minimal one in the style of ika-rwth-aachen/mqtt_client, written
 * here, not mqtt_client itself. Without mosquitto the mqtt path is skipped with one line on stderr. The publisher and subscriber are
 * child processes of this script (`--role pub|sub`); the publisher stamps its monotonic send time into the message and
 * the subscriber subtracts it from its own reading of the same clock (same host, CLOCK_MONOTONIC is shared).
 * Measured per path: latency at 1 kHz of 100 B std_msgs/String, the highest rate of the tried ones with zero loss,
 * and 30 Hz of 1 MB sensor_msgs/msg/Image (latency and loss).
 *
 * Options: --quick (shorter phases, fewer rates), --json (print the JSON document instead of the table), --out FILE
 * (where the JSON goes; results/ros.json, or results/ros-quick.json with --quick, as bench:protocol does),
 * --paths direct,json,cdr,mqtt (which paths to run; all by default), --domains A,B (every path in these two ROS_DOMAIN_IDs
 * instead of random ones in 60-101). BENCH_ROS_NODE_ARGS adds node flags to the bridge
 * and server processes (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 * Needs ROS 2 sourced; without it prints one line and exits 0.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { connectAsync, type MqttClient } from 'mqtt';
import { LatencyStats, type LatencySummary } from '../src/fastsocket';
import { rosUnavailableReason } from '../src/ros/rclnodejs-port';
import { describeMachine, fmt, machine, renderTable, REPO_ROOT, RESULTS_DIR, writeJson } from './bench-kit';
import { findMosquitto, startMosquitto, type RunningBroker } from './protocol-mosquitto';

const STRING_TOPIC = '/bench';
const IMAGE_TOPIC = '/bench_img';
const STRING_BYTES = 100;
const IMAGE_SIDE = 1024; // mono8, 1024 x 1024 = 1 MiB of pixels
const REPLY = '@@ ';
/** What the MQTT bridge carries: ROS topic, its type, and the MQTT topic (the ROS name without its leading slash). */
const BRIDGED = [
  { ros: STRING_TOPIC, type: 'std_msgs/msg/String', mqtt: STRING_TOPIC.slice(1) },
  { ros: IMAGE_TOPIC, type: 'sensor_msgs/msg/Image', mqtt: IMAGE_TOPIC.slice(1) },
];

// Children: publisher and subscriber, driven by one-line commands on stdin, answering with `@@ {json}` on stdout.

interface RclNode {
  spin(): void;
  createPublisher(type: string, topic: string, options?: object): { publish(m: unknown): void; subscriptionCount: number };
  createSubscription(type: string, topic: string, options: object, cb: (m: unknown) => void): unknown;
}
interface Rcl {
  init(): Promise<void>;
  Node: new (name: string) => RclNode;
  QoS: new (history: number, depth: number, reliability: number, durability: number) => unknown;
  shutdown(): void;
}

function reply(v: unknown): void {
  process.stdout.write(`${REPLY}${JSON.stringify(v)}\n`);
}

async function openRcl(name: string): Promise<{ rcl: Rcl; node: RclNode; qos: unknown }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rcl = require('rclnodejs') as Rcl;
  await rcl.init();
  const node = new rcl.Node(name);
  node.spin();
  // keep_last 1000, reliable, volatile: a deep queue so that loss means the path lost it, not a short history.
  return { rcl, node, qos: new rcl.QoS(1, 1000, 1, 2) };
}

function stamp(phase: number, seq: number): string {
  return `${phase} ${seq} ${process.hrtime.bigint()} `;
}

async function runPublisher(): Promise<void> {
  const { node, qos } = await openRcl('bench_pub');
  const strings = node.createPublisher('std_msgs/msg/String', STRING_TOPIC, { qos });
  const images = node.createPublisher('sensor_msgs/msg/Image', IMAGE_TOPIC, { qos });
  const pixels = new Uint8Array(IMAGE_SIDE * IMAGE_SIDE).fill(7);
  reply({ ready: true });
  const publish = (kind: string, phase: number, seq: number): void => {
    if (kind === 'image') {
      images.publish({
        header: { stamp: { sec: 0, nanosec: 0 }, frame_id: stamp(phase, seq) },
        height: IMAGE_SIDE, width: IMAGE_SIDE, encoding: 'mono8', is_bigendian: 0, step: IMAGE_SIDE, data: pixels,
      });
    } else {
      const head = stamp(phase, seq);
      strings.publish({ data: head.padEnd(STRING_BYTES, 'x') });
    }
  };
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [cmd, kind, phaseText, rateText, secondsText] = line.trim().split(' ');
    if (cmd === 'subs') {
      reply({ strings: strings.subscriptionCount, images: images.subscriptionCount });
    } else if (cmd === 'run') {
      const phase = Number(phaseText);
      const rate = Number(rateText);
      const total = Math.round(rate * Number(secondsText));
      const start = process.hrtime.bigint();
      let sent = 0;
      // Timers fire at best every ~1 ms: each tick sends every message that is due, so rates above 1 kHz go out
      // in small bursts at the right average rate.
      await new Promise<void>((done) => {
        const tick = (): void => {
          const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * rate) + 1);
          while (sent < due) publish(kind, phase, sent++);
          if (sent >= total) done();
          else setTimeout(tick, 1);
        };
        tick();
      });
      reply({ sent, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
    }
  }
}

interface PhaseState {
  seqs: Set<number>;
  stats: LatencyStats;
}

async function runSubscriber(): Promise<void> {
  const { node, qos } = await openRcl('bench_sub');
  const phases = new Map<number, PhaseState>();
  const onStamp = (text: string): void => {
    const now = process.hrtime.bigint();
    const [phaseText, seqText, tText] = text.split(' ');
    const phase = Number(phaseText);
    let state = phases.get(phase);
    if (state === undefined) {
      state = { seqs: new Set(), stats: new LatencyStats() };
      phases.set(phase, state);
    }
    const seq = Number(seqText);
    if (state.seqs.has(seq)) return;
    state.seqs.add(seq);
    state.stats.record(Number(now - BigInt(tText)));
  };
  // A throw inside an rclnodejs callback aborts the process: guard each body.
  node.createSubscription('std_msgs/msg/String', STRING_TOPIC, { qos }, (m) => {
    try {
      onStamp((m as { data: string }).data);
    } catch (err) {
      process.stderr.write(`bad string message: ${(err as Error).message}\n`);
    }
  });
  node.createSubscription('sensor_msgs/msg/Image', IMAGE_TOPIC, { qos }, (m) => {
    try {
      onStamp((m as { header: { frame_id: string } }).header.frame_id);
    } catch (err) {
      process.stderr.write(`bad image message: ${(err as Error).message}\n`);
    }
  });
  reply({ ready: true });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [cmd, phaseText] = line.trim().split(' ');
    if (cmd === 'report') {
      const state = phases.get(Number(phaseText));
      reply({ received: state?.seqs.size ?? 0, summary: state?.stats.total() ?? null });
    }
  }
}

async function connectMqtt(url: string): Promise<MqttClient> {
  const client = await connectAsync(url, { clean: true, reconnectPeriod: 0 });
  // As paho (mqtt_client's library) does; mqtt.js leaves Nagle on.
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  client.on('error', (err) => process.stderr.write(`mqtt: ${err.message}\n`));
  return client;
}

/** The MQTT bridge's sending side: each message's serialized bytes, untouched, to the broker at QoS 1. */
async function runMqttBridgeOut(url: string): Promise<void> {
  const { node, qos } = await openRcl('bench_mqtt_out');
  const client = await connectMqtt(url);
  for (const t of BRIDGED) {
    node.createSubscription(t.type, t.ros, { qos, isRaw: true }, (bytes) => {
      try {
        client.publish(t.mqtt, bytes as Buffer, { qos: 1 });
      } catch (err) {
        process.stderr.write(`mqtt-out ${t.ros}: ${(err as Error).message}\n`);
      }
    });
  }
  reply({ ready: true });
}

/** The MQTT bridge's receiving side: subscribes at QoS 1 and publishes each payload as a serialized message. */
async function runMqttBridgeIn(url: string): Promise<void> {
  const { node, qos } = await openRcl('bench_mqtt_in');
  const client = await connectMqtt(url);
  const publishers = new Map(BRIDGED.map((t) => [t.mqtt, node.createPublisher(t.type, t.ros, { qos })]));
  client.on('message', (topic, payload) => {
    try {
      publishers.get(topic)?.publish(payload);
    } catch (err) {
      process.stderr.write(`mqtt-in ${topic}: ${(err as Error).message}\n`);
    }
  });
  await client.subscribeAsync(BRIDGED.map((t) => t.mqtt), { qos: 1 });
  reply({ ready: true });
}

/** Role argument `--url`, given to the MQTT bridge roles. */
function urlArg(argv: string[]): string {
  const url = argv.indexOf('--url') >= 0 ? argv[argv.indexOf('--url') + 1] : undefined;
  if (url === undefined) throw new Error('--url mqtt://HOST:PORT is required with this --role');
  return url;
}

/** A child in its own process group, so that stopping it takes everything it started. */
class Child {
  private out = '';
  private readonly waiters = new Set<() => void>();
  private exitCode: number | null | undefined;
  readonly exit: Promise<number | null>;

  constructor(readonly label: string, readonly proc: ChildProcess) {
    const onData = (d: Buffer): void => {
      this.out += d.toString();
      for (const w of [...this.waiters]) w();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    this.exit = new Promise((r) => proc.once('exit', (code) => {
      this.exitCode = code;
      for (const w of [...this.waiters]) w();
      r(code);
    }));
  }

  output(): string {
    return this.out;
  }

  /** The first match of `pattern` in the output at or after `from`; rejects at the deadline or when the child exits. */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.out.slice(from).match(pattern);
        if (m) finish(() => resolve(m));
        else if (this.exitCode !== undefined) finish(() => reject(new Error(`${this.label} exited (${this.exitCode}) before ${pattern}:\n${this.out.slice(-2000)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms:\n${this.out.slice(-2000)}`))), timeoutMs);
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends one command and resolves with the JSON of the next reply. */
  async ask<T>(command: string, timeoutMs: number): Promise<T> {
    const from = this.out.length;
    this.proc.stdin?.write(`${command}\n`);
    const m = await this.waitFor(new RegExp(`${REPLY}(\\{.*\\})\\n`), timeoutMs, from);
    return JSON.parse(m[1]) as T;
  }

  async stop(graceMs = 5000): Promise<void> {
    const signal = (s: NodeJS.Signals): void => {
      try {
        process.kill(-(this.proc.pid as number), s);
      } catch {
        // Already gone.
      }
    };
    if (this.exitCode === undefined) {
      signal('SIGINT');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await this.exit;
      clearTimeout(timer);
    }
    signal('SIGKILL');
  }
}

const children: Child[] = [];

/** Extra node flags for the bridge and server processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them. */
const NODE_ARGS = (process.env.BENCH_ROS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

function start(label: string, args: string[], domain: number): Child {
  const proc = spawn(process.execPath, label === 'bridge' || label === 'server' ? [...NODE_ARGS, ...args] : args, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ROS_DOMAIN_ID: String(domain), ROS_AUTOMATIC_DISCOVERY_RANGE: 'LOCALHOST' },
  });
  const c = new Child(label, proc);
  children.push(c);
  return c;
}

/** Clock ticks per second of /proc/PID/stat's utime and stime: 100 on every Linux we run on. */
const TICK_US = 1e6 / 100;

/** CPU time (user + system, all threads) a child has used so far, in clock ticks; 0 where /proc is missing. */
function cpuTicks(c: { proc: ChildProcess }): number {
  try {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const stat = fs.readFileSync(`/proc/${c.proc.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

const brokers: RunningBroker[] = [];

async function stopAll(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => c.stop()));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
}

type PathKind = 'direct' | 'json' | 'cdr' | 'mqtt';

interface RateResult {
  rate_hz: number;
  sent: number;
  received: number;
  lossless: boolean;
}

interface PathResult {
  path: PathKind;
  label: string;
  domains: number[];
  latency_1khz: LatencySummary | null;
  latency_1khz_received: number;
  latency_1khz_sent: number;
  /** CPU time (user + system) per message during the 1 kHz phase, in us, per process. */
  cpu_us_per_msg_1khz: Record<string, number>;
  rates: RateResult[];
  max_lossless_hz: number | null;
  image: { rate_hz: number; sent: number; received: number; loss: number; latency: LatencySummary | null };
}

const LABELS: Record<PathKind, string> = {
  direct: 'direct rclnodejs pub -> sub',
  json: 'pub -> bridge -> server -> sub (json)',
  cdr: 'pub -> bridge -> server -> sub (cdr)',
  mqtt: 'MQTT bridge (mosquitto, QoS 1, CDR bytes)',
};

interface Settings {
  latencySeconds: number;
  rateSeconds: number;
  rates: number[];
  imageSeconds: number;
}

let phaseCounter = 0;

/** Runs one phase and waits for the subscriber to stop receiving (or to have everything). */
async function phase(pub: Child, sub: Child, kind: 'string' | 'image', rate: number, seconds: number): Promise<{ sent: number; received: number; summary: LatencySummary | null }> {
  const id = ++phaseCounter;
  const { sent } = await pub.ask<{ sent: number }>(`run ${kind} ${id} ${rate} ${seconds}`, (seconds + 60) * 1000);
  let last = -1;
  let report = { received: 0, summary: null as LatencySummary | null };
  // Drain: stop when everything arrived or nothing new came for a second.
  for (let quiet = 0; quiet < 4;) {
    report = await sub.ask<typeof report>(`report ${id}`, 10_000);
    if (report.received >= sent) break;
    quiet = report.received === last ? quiet + 1 : 0;
    last = report.received;
    await new Promise((r) => setTimeout(r, 250));
  }
  return { sent, ...report };
}

async function runPath(kind: PathKind, domains: number[], s: Settings, log: (m: string) => void): Promise<PathResult> {
  const script = path.join(REPO_ROOT, 'build/bench/ros.js');
  const [a, b] = kind === 'direct' ? [domains[0], domains[0]] : [domains[0], domains[1]];
  const sub = start('subscriber', [script, '--role', 'sub'], b);
  const pub = start('publisher', [script, '--role', 'pub'], a);
  const procs: Array<{ label: string; proc: ChildProcess }> = [pub, sub];
  await sub.waitFor(/@@ \{"ready"/, 60_000);
  await pub.waitFor(/@@ \{"ready"/, 60_000);
  if (kind === 'mqtt') {
    const broker = await startMosquitto(findMosquitto() as string);
    brokers.push(broker);
    // In the CPU columns the bridge's sending side stands where the fastsocket bridge does, its receiving side where
    // the server does; mosquitto's share is in the JSON only.
    const bridgeIn = start('server', [script, '--role', 'mqtt-in', '--url', broker.url], b);
    await bridgeIn.waitFor(/@@ \{"ready"/, 60_000);
    const bridgeOut = start('bridge', [script, '--role', 'mqtt-out', '--url', broker.url], a);
    await bridgeOut.waitFor(/@@ \{"ready"/, 60_000);
    procs.push(bridgeOut, bridgeIn, { label: 'mosquitto', proc: broker.child });
  } else if (kind !== 'direct') {
    const server = start('server', [path.join(REPO_ROOT, 'dist/nodes/server.js'), '--ros-args', '-p', 'url:=tcp://127.0.0.1:0'], b);
    const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const args = ['--ros-args', '-p', `url:=${url}`, '-p', 'client_id:=bench', '-p', `topics:=[${STRING_TOPIC},${IMAGE_TOPIC}]`];
    if (kind === 'cdr') args.push('-p', 'topic_options.bench.encoding:=cdr', '-p', 'topic_options.bench_img.encoding:=cdr');
    const bridge = start('bridge', [path.join(REPO_ROOT, 'dist/nodes/bridge.js'), ...args], a);
    procs.push(bridge, server);
    await bridge.waitFor(/forwarding \/bench_img/, 60_000);
    await bridge.waitFor(/forwarding \/bench[^_]/, 60_000);
  }
  // Warm-up until both topics reach the subscriber: discovery, and the server's publishers, which it opens on the
  // first message of each topic.
  const deadline = Date.now() + 60_000;
  for (const k of ['string', 'image'] as const) {
    for (;;) {
      const r = await phase(pub, sub, k, 20, 0.5);
      if (r.received > 0) break;
      if (Date.now() > deadline) throw new Error(`${kind}: no ${k} message reached the subscriber within 60 s`);
    }
  }
  log(`${kind}: 1 kHz latency`);
  const cpuBefore = procs.map((c) => cpuTicks(c));
  const lat = await phase(pub, sub, 'string', 1000, s.latencySeconds);
  const cpu = Object.fromEntries(procs.map((c, i) => [c.label, ((cpuTicks(c) - cpuBefore[i]) * TICK_US) / Math.max(1, lat.sent)]));
  const rates: RateResult[] = [];
  for (const rate of s.rates) {
    log(`${kind}: ${rate} Hz`);
    const r = await phase(pub, sub, 'string', rate, s.rateSeconds);
    rates.push({ rate_hz: rate, sent: r.sent, received: r.received, lossless: r.received >= r.sent });
    if (r.received < r.sent) break;
  }
  log(`${kind}: 1 MB images at 30 Hz`);
  const img = await phase(pub, sub, 'image', 30, s.imageSeconds);
  await stopAll();
  const lossless = rates.filter((r) => r.lossless).map((r) => r.rate_hz);
  return {
    path: kind, label: LABELS[kind], domains: kind === 'direct' ? [a] : [a, b],
    latency_1khz: lat.summary, latency_1khz_received: lat.received, latency_1khz_sent: lat.sent,
    cpu_us_per_msg_1khz: cpu,
    rates, max_lossless_hz: lossless.length > 0 ? Math.max(...lossless) : null,
    image: { rate_hz: 30, sent: img.sent, received: img.received, loss: img.sent - img.received, latency: img.summary },
  };
}

function table(results: PathResult[]): string {
  const us = (ns: number | undefined): string => (ns === undefined ? '-' : fmt(ns / 1e3, 0));
  const ms = (ns: number | undefined): string => (ns === undefined ? '-' : fmt(ns / 1e6, 2));
  const direct = results.find((r) => r.path === 'direct');
  const cpuCell = (us: number | undefined): string => (us === undefined ? '-' : fmt(us, 0));
  const rows = results.map((r) => [
    r.label,
    us(r.latency_1khz?.p50),
    us(r.latency_1khz?.p99),
    r.path === 'direct' || !direct?.latency_1khz || !r.latency_1khz ? '-' : us(r.latency_1khz.p50 - direct.latency_1khz.p50),
    `${r.latency_1khz_sent - r.latency_1khz_received}`,
    cpuCell(r.cpu_us_per_msg_1khz.bridge),
    cpuCell(r.cpu_us_per_msg_1khz.server),
    r.max_lossless_hz === null ? 'none' : `${r.max_lossless_hz}`,
    ms(r.image.latency?.p50),
    ms(r.image.latency?.p99),
    `${r.image.loss}/${r.image.sent}`,
  ]);
  const rendered = renderTable(
    ['path', '1kHz p50 us', 'p99 us', '+p50 us', 'lost', 'bridge cpu us/msg', 'server cpu us/msg', 'lossless Hz', '1MB p50 ms', 'p99 ms', 'lost/sent'],
    rows,
  );
  if (!results.some((r) => r.path === 'mqtt')) return rendered;
  return `${rendered}\n${LABELS.mqtt}: a minimal bridge in the style of ika-rwth-aachen/mqtt_client written for this ` +
    'benchmark (bench/ros.ts --role mqtt-out|mqtt-in), not mqtt_client itself; it gives no per-message one-way latency ' +
    '(the latencies above are the bench\'s own stamps). bridge cpu is its sending side, server cpu its receiving side; ' +
    'mosquitto\'s is in the JSON.';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const role = argv.indexOf('--role') >= 0 ? argv[argv.indexOf('--role') + 1] : null;
  if (role === 'pub') return runPublisher();
  if (role === 'sub') return runSubscriber();
  if (role === 'mqtt-out' || role === 'mqtt-in') {
    // rclnodejs' own SIGINT handler only shuts the nodes down; the broker connection would keep the process alive.
    process.once('SIGINT', () => process.exit(0));
    await (role === 'mqtt-out' ? runMqttBridgeOut(urlArg(argv)) : runMqttBridgeIn(urlArg(argv)));
    // Until the orchestrator stops it: main's resolution would exit the process.
    return new Promise<void>(() => undefined);
  }
  const reason = rosUnavailableReason();
  if (reason !== null) {
    process.stdout.write(`bench:ros skipped: ROS 2 is not sourced (${reason}); source /opt/ros/jazzy/setup.bash first.\n`);
    return;
  }
  const quick = argv.includes('--quick');
  const asJson = argv.includes('--json');
  const settings: Settings = quick
    ? { latencySeconds: 1, rateSeconds: 1, rates: [500, 1000, 2000], imageSeconds: 1 }
    : { latencySeconds: 5, rateSeconds: 3, rates: [500, 1000, 2000, 3000, 5000], imageSeconds: 5 };
  const log = (m: string): void => {
    process.stderr.write(`bench:ros ${m}\n`);
  };
  const m = machine();
  // ROS_DOMAIN_ID must be 0-101 or 215-232; 60-100 keeps clear of the tests' 1-99 triplets most of the time.
  const base = 60 + Math.floor(Math.random() * 36);
  const domainsFor: Record<PathKind, number[]> = { direct: [base], json: [base + 1, base + 2], cdr: [base + 3, base + 4], mqtt: [base + 5, base + 6] };
  const domainsArg = argv.indexOf('--domains') >= 0 ? argv[argv.indexOf('--domains') + 1] : null;
  if (domainsArg !== null) {
    // Paths run one after another and each stops its processes before the next starts, so on a machine where this
    // run was given two domains every path can reuse them.
    const given = domainsArg.split(',').map(Number);
    if (given.length !== 2 || given.some((d) => !Number.isInteger(d) || d < 0 || d > 232) || given[0] === given[1]) {
      throw new Error(`--domains: expected two different ROS_DOMAIN_IDs such as 81,82, got ${domainsArg}`);
    }
    for (const k of Object.keys(domainsFor) as PathKind[]) domainsFor[k] = k === 'direct' ? [given[0]] : given;
  }
  const results: PathResult[] = [];
  const pathsArg = argv.indexOf('--paths') >= 0 ? argv[argv.indexOf('--paths') + 1] : 'direct,json,cdr,mqtt';
  let kinds = pathsArg.split(',') as PathKind[];
  const unknown = kinds.filter((k) => !(k in domainsFor));
  if (unknown.length > 0) throw new Error(`--paths: unknown path ${unknown.join(', ')}; expected direct, json, cdr and/or mqtt`);
  if (kinds.includes('mqtt') && findMosquitto() === null) {
    log('skipping mqtt: mosquitto is not installed (apt-get install mosquitto)');
    kinds = kinds.filter((k) => k !== 'mqtt');
  }
  for (const kind of kinds) results.push(await runPath(kind, domainsFor[kind], settings, log));
  m.loadavg_end = os.loadavg();
  const doc = { bench: 'ros', quick, settings, machine: m, string_bytes: STRING_BYTES, image_bytes: IMAGE_SIDE * IMAGE_SIDE, results };
  const out = argv.indexOf('--out') >= 0 ? path.resolve(argv[argv.indexOf('--out') + 1]) : path.join(RESULTS_DIR, quick ? 'ros-quick.json' : 'ros.json');
  writeJson(out, doc);
  if (asJson) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else process.stdout.write(`${describeMachine(m)}\n${table(results)}\nJSON: ${path.relative(process.cwd(), out)}\n`);
}

const cleanUp = (): void => {
  void stopAll().then(() => process.exit(130));
};
process.once('SIGINT', cleanUp);
process.once('SIGTERM', cleanUp);

main().then(
  async () => {
    await stopAll();
    process.exit(0);
  },
  async (err: unknown) => {
    process.stderr.write(`bench:ros failed: ${(err as Error).stack ?? String(err)}\n`);
    await stopAll();
    process.exit(1);
  },
);
