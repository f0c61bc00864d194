import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, tsc, userProject } from '../support/user-project';

/**
 * A user's code that passes a value that may be undefined (process.env.X, an optional field of its own config) for
 * every optional option the library takes: each falls back to its default when undefined, so the published types
 * must say so under exactOptionalPropertyTypes, where `foo?: T` refuses an explicit undefined.
 */
const EXAMPLE = `import {
  encodeAck3, encodeMessage, FastSocketClient, FastSocketServer, latencyRecord, LatencyRecorder, LatencyStats, validateClientLimits,
  type FastSocketClientOptions, type FastSocketServerOptions, type LatencyRecorderOptions, type LatencyStatsOptions, type SendOptions, type TlsOptions,
} from 'fastsocket';

/** Undefined, typed as a value that might not be. */
function unset<T>(): T | undefined {
  return process.env.FASTSOCKET_NEVER_SET === undefined ? undefined : (process.env.FASTSOCKET_NEVER_SET as T);
}

const tls: TlsOptions = { cert: unset(), key: unset(), ca: unset(), rejectUnauthorized: unset(), servername: unset() };
const serverOptions: FastSocketServerOptions = {
  url: 'tcp://127.0.0.1:0', tls: unset(), stateDir: unset(), token: unset(), dedupCapacity: unset(), writeHighWaterBytes: unset(),
  logger: unset(), clock: unset(), wallClock: unset(), syncMaxUncertaintyNs: unset(), timers: unset(),
  maxFrameBytes: unset(), maxBadFrames: unset(), frameTimeoutMs: unset(), idleTimeoutMs: unset(), maxConnections: unset(),
  ack3TimeoutMs: unset(), maxPendingAck3: unset(),
};
const server = new FastSocketServer(serverOptions);
const url = await server.listen();
const clientOptions: FastSocketClientOptions = {
  url, clientId: unset(), token: unset(), tls: unset(), connectTimeoutMs: unset(), silenceTimeoutMs: unset(), writeHighWaterBytes: unset(),
  outboxPath: unset(), maxAttempts: unset(), maxBadFrames: unset(), frameTimeoutMs: unset(), clockSync: unset(), logger: unset(),
  clock: unset(), random: unset(), timers: unset(), newId: unset(),
  outboxMaxMessages: unset(), outboxMaxBytes: unset(), outboxPolicy: unset(), reconnectMinMs: unset(), reconnectMaxMs: unset(),
  reconnectJitter: unset(), maxFrameBytes: unset(),
};
const client = new FastSocketClient(clientOptions);
const sendOptions: SendOptions = { maxAgeMs: unset() };
await client.send({ speed: 13.9 }, sendOptions);
await client.close({ timeoutMs: unset() });
await server.close();

// A tls whose every field is undefined is no tls at all: a tcp:// url, which refuses a tls that sets one, takes it.
new FastSocketServer({ url: 'tcp://127.0.0.1:0', tls });
new FastSocketClient({ url: 'tcp://127.0.0.1:1', tls }).destroy();
validateClientLimits({ outboxMaxMessages: unset(), outboxPolicy: unset() });
const statsOptions: LatencyStatsOptions = { highestTrackableNs: unset(), significantDigits: unset() };
new LatencyStats(statsOptions);
const recorderOptions: LatencyRecorderOptions = { extraColumns: unset(), clock: unset() };
new LatencyRecorder('latency.jsonl', 'jsonl', recorderOptions).close();
encodeMessage('m1', '{}', { resent: unset(), queuedNs: unset(), clientSendWallNs: unset() });
encodeAck3('m1', 5, { pcNs: unset(), clientRecvWallNs: unset() });
latencyRecord({
  id: 'm1', peer: '127.0.0.1:1', clientId: null, resent: false, t1Ns: 10, readAtNs: 0, ack2AtNs: 1, ack3AtNs: 2, pcNs: unset(), queuedNs: unset(),
  wall: { clientSendNs: 0, serverRecvNs: 1, serverSendNs: 2, clientRecvNs: unset(), maxUncertaintyNs: 1 },
});
console.log('done');
`;

describe('the published types under exactOptionalPropertyTypes', () => {
  let dir = '';

  before(() => {
    assert.ok(fs.existsSync(path.join(REPO, 'dist/fastsocket/index.d.ts')), 'dist/ is built (npm run build) before this test');
    dir = userProject('exact-optional-types');
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('take undefined for every optional option, as the library does at run time', function () {
    this.timeout(60_000);
    fs.writeFileSync(path.join(dir, 'options.mts'), EXAMPLE);
    tsc(dir, ['--strict', '--exactOptionalPropertyTypes', '--target', 'es2022', '--types', 'node', '--module', 'node16', '--moduleResolution', 'node16', 'options.mts']);
    // Run as well: a type that says undefined is "not given" where the constructor refuses it would be a lie.
    const run = spawnSync(process.execPath, ['--unhandled-rejections=strict', 'options.mjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual({ status: run.status, signal: run.signal, stderr: run.stderr, stdout: run.stdout }, { status: 0, signal: null, stderr: '', stdout: 'done\n' });
  });
});
