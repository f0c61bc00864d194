import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_CLIENT_LIMITS, DEFAULT_SERVER_LIMITS, DEFAULT_SILENCE_TIMEOUT_MS, FastSocketClient, FastSocketServer, silentLogger } from '../../src/fastsocket';
import { clientOptions, readBridgeConfig } from '../../src/ros/bridge-config';
import { ParameterError } from '../../src/ros/errors';
import { SERVER_LIMIT_PARAMS } from '../../src/ros/limit-params';
import type { ParamValue } from '../../src/ros/port';
import { readServerConfig, serverOptions } from '../../src/ros/server-config';
import { MemoryRosGraph, MemoryRosNode } from '../support/memory-ros-port';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';

/** The repository, from build/test/unit. */
const REPO = resolve(__dirname, '../../..');

function bridgeWith(overrides: Record<string, ParamValue | null>) {
  return readBridgeConfig(new MemoryRosGraph().createNode('fastsocket_bridge', overrides), 'veh-17');
}

function serverWith(overrides: Record<string, ParamValue | null>) {
  return readServerConfig(new MemoryRosGraph().createNode('fastsocket_server', overrides));
}

function assertParamError(fn: () => unknown, parameter: string, secret?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParameterError && e.code === 'FS_ROS_ERR_PARAM', `a ParameterError, got ${String(e)}`);
    assert.equal(e.parameter, parameter);
    if (secret !== undefined) assert.ok(!e.message.includes(secret), 'the secret stays out of the error');
    return true;
  });
}

/** A scratch folder with the given files, removed after the test. */
function files(teardown: ReturnType<typeof useTeardown>, contents: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'fastsocket-params-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  const paths: Record<string, string> = { dir, missing: join(dir, 'missing.pem') };
  for (const [name, text] of Object.entries(contents)) {
    paths[name] = join(dir, name);
    writeFileSync(paths[name], text);
  }
  return paths;
}

/** Top-level parameter names of a params YAML, commented-out ones included (`# client_id: ...`). */
function documentedKeys(file: string): Set<string> {
  const keys = new Set<string>();
  for (const m of readFileSync(join(REPO, file), 'utf8').matchAll(/^ {4}#? ?([a-z0-9_]+):/gm)) keys.add(m[1]);
  return keys;
}

function declaredNames(node: MemoryRosNode): string[] {
  return node.declarations.map((d) => d.name);
}

describe('readBridgeConfig', () => {
  const teardown = useTeardown();

  describe('#defaults', () => {
    it('uses tcp://127.0.0.1:8888, the host name and no topics when nothing is set', () => {
      const c = bridgeWith({});
      assert.equal(c.url, 'tcp://127.0.0.1:8888');
      assert.equal(c.clientId, 'veh-17');
      assert.equal(c.token, null);
      assert.deepEqual(c.topics, []);
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.topics));
    });

    it('uses the core client defaults for the outbox and no TLS, outbox file or clock sync when nothing is set', () => {
      const c = bridgeWith({});
      const { outboxMaxMessages, outboxMaxBytes, outboxPolicy, maxFrameBytes } = DEFAULT_CLIENT_LIMITS;
      assert.deepEqual(c.outbox, { outboxMaxMessages, outboxMaxBytes, outboxPolicy, maxFrameBytes, silenceTimeoutMs: DEFAULT_SILENCE_TIMEOUT_MS });
      assert.deepEqual([c.tls, c.outboxPath, c.clockSync], [null, null, false]);
    });

    it('documents every parameter it declares in config/bridge.yaml', () => {
      const node = new MemoryRosGraph().createNode('b', { 'topic_options.fix.type': 'sensor_msgs/msg/NavSatFix' });
      readBridgeConfig(node, 'h');
      const yaml = readFileSync(join(REPO, 'config/bridge.yaml'), 'utf8');
      const keys = documentedKeys('config/bridge.yaml');
      for (const name of declaredNames(node)) {
        const nested = /^topic_options\.fix\.(.+)$/.exec(name);
        if (nested) assert.match(yaml, new RegExp(`^ *#   ${nested[1]}: `, 'm'), `topic_options key ${nested[1]}`);
        else assert.ok(keys.has(name), name);
      }
    });

    it('declares every parameter with a description before reading it', () => {
      const node = new MemoryRosGraph().createNode('b', { 'topic_options.fix.type': 'sensor_msgs/msg/NavSatFix' });
      readBridgeConfig(node, 'h');
      const names = node.declarations.map((d) => d.name);
      for (const n of ['url', 'client_id', 'topics', 'topic_options.fix.type', 'topic_options.fix.qos_preset', 'topic_options.fix.max_rate_hz']) assert.ok(names.includes(n), n);
      assert.ok(node.declarations.every((d) => d.description.length > 10));
    });
  });

  describe('#limits and security', () => {
    it('reads the outbox limits, outbox_path, clock_sync and a per-topic max_age_ms', () => {
      const c = bridgeWith({
        outbox_max_messages: 50n, outbox_max_bytes: 4096n, outbox_policy: 'reject', outbox_path: '/var/lib/fs/outbox', clock_sync: true,
        max_frame_bytes: 33554432n, silence_timeout_ms: 90000n, 'topic_options.cam.max_age_ms': 250n, 'topic_options.fix.max_age_ms': 0.5,
      });
      assert.deepEqual(c.outbox, { outboxMaxMessages: 50, outboxMaxBytes: 4096, outboxPolicy: 'reject', maxFrameBytes: 33554432, silenceTimeoutMs: 90000 });
      assert.equal(c.outboxPath, '/var/lib/fs/outbox');
      assert.equal(c.clockSync, true);
      assert.deepEqual(c.topics.map((t) => [t.name, t.maxAgeMs]), [['/cam', 250], ['/fix', 0.5]]);
    });

    it('reads the token from the first line of token_file', () => {
      const f = files(teardown, { token: 's3cret-token\nsecond line\n' });
      assert.equal(bridgeWith({ token_file: f.token }).token, 's3cret-token');
      assert.equal(bridgeWith({ token: 'inline' }).token, 'inline');
    });

    it('reads the CA and client certificate files for a tls:// url', async () => {
      const certs = await testCerts();
      const f = files(teardown, { 'ca.pem': certs.ca, 'client.pem': certs.clientCert, 'client.key': certs.clientKey });
      const c = bridgeWith({ url: 'tls://10.0.0.1:8888', tls_ca: f['ca.pem'], tls_client_cert: f['client.pem'], tls_client_key: f['client.key'] });
      assert.deepEqual(c.tls, { ca: Buffer.from(certs.ca), cert: Buffer.from(certs.clientCert), key: Buffer.from(certs.clientKey) });
      assert.equal(bridgeWith({ url: 'wss://example.org/fs' }).tls, null, 'the system CAs when no file is named');
    });

    it('takes tls_servername, the host name to verify a server dialled by address against, with or without files', async () => {
      assert.deepEqual(bridgeWith({ url: 'tls://10.0.0.1:8888', tls_servername: 'rsu-12.example.org' }).tls, { servername: 'rsu-12.example.org' });
      const certs = await testCerts();
      const f = files(teardown, { 'ca.pem': certs.ca });
      assert.deepEqual(bridgeWith({ url: 'wss://10.0.0.1:8888/', tls_ca: f['ca.pem'], tls_servername: 'rsu-12.example.org' }).tls, { servername: 'rsu-12.example.org', ca: Buffer.from(certs.ca) });
    });

    it('gives the core client options it accepts, limits and security included', () => {
      const f = files(teardown, { token: 'tok\n' });
      const c = bridgeWith({ outbox_max_messages: 7n, outbox_policy: 'drop-newest', clock_sync: true, token_file: f.token, outbox_path: join(f.dir, 'outbox'), silence_timeout_ms: 0n });
      const options = clientOptions(c, silentLogger);
      assert.deepEqual(
        [options.outboxMaxMessages, options.outboxMaxBytes, options.outboxPolicy, options.clockSync, options.token, options.outboxPath, options.clientId, options.maxFrameBytes, options.silenceTimeoutMs],
        [7, DEFAULT_CLIENT_LIMITS.outboxMaxBytes, 'drop-newest', true, 'tok', join(f.dir, 'outbox'), 'veh-17', DEFAULT_CLIENT_LIMITS.maxFrameBytes, 0],
      );
      const client = new FastSocketClient(options);
      teardown.add(() => client.destroy());
      assert.equal(client.url, 'tcp://127.0.0.1:8888');
    });
  });

  describe('#topics', () => {
    it('forwards the simple list with discovered type and QoS and json encoding', () => {
      const c = bridgeWith({ topics: ['/chatter', '/fix'] });
      assert.deepEqual(c.topics.map((t) => [t.name, t.type, t.encoding, t.maxRateHz, t.maxAgeMs, t.qos]), [
        ['/chatter', null, 'json', null, null, {}],
        ['/fix', null, 'json', null, null, {}],
      ]);
    });

    it('treats an empty YAML list (which arrives unset) as no topics', () => {
      assert.deepEqual(bridgeWith({ topics: null }).topics, []);
    });

    it('merges topic_options into a listed topic of the same name and adds unlisted ones', () => {
      const c = bridgeWith({
        topics: ['/chatter', '/fix'],
        'topic_options.fix.type': 'sensor_msgs/NavSatFix',
        'topic_options.fix.qos_preset': 'sensor_data',
        'topic_options.fix.max_rate_hz': 5n,
        'topic_options.scan.name': '/lidar/scan',
        'topic_options.scan.encoding': 'cdr',
        'topic_options.scan.qos_reliability': 'best_effort',
        'topic_options.scan.qos_depth': 3n,
      });
      const byName = new Map(c.topics.map((t) => [t.name, t]));
      assert.deepEqual([...byName.keys()].sort(), ['/chatter', '/fix', '/lidar/scan']);
      const fix = byName.get('/fix')!;
      assert.equal(fix.type, 'sensor_msgs/msg/NavSatFix');
      assert.equal(fix.maxRateHz, 5);
      assert.deepEqual(fix.qos, { reliability: 'best_effort', durability: 'volatile', depth: 5 });
      const scan = byName.get('/lidar/scan')!;
      assert.equal(scan.encoding, 'cdr');
      assert.deepEqual(scan.qos, { reliability: 'best_effort', durability: undefined, depth: 3 });
    });

    it('merges topic_options into a listed topic spelt differently, relative or private, that resolves to the same name', () => {
      const c = bridgeWith({
        topics: ['chatter', '~/status'],
        'topic_options.chatter.encoding': 'cdr',
        'topic_options.st.name': '/fastsocket_bridge/status',
        'topic_options.st.max_rate_hz': 2.0,
      });
      assert.deepEqual(c.topics.map((t) => [t.name, t.encoding, t.maxRateHz]), [['/chatter', 'cdr', null], ['/fastsocket_bridge/status', 'json', 2]]);
    });

    it('takes the ROS 1 private form ~status as ~/status, in topics and in topic_options names', () => {
      const c = bridgeWith({ topics: ['~status'], 'topic_options.st.name': '~status', 'topic_options.st.max_rate_hz': 2.0 });
      assert.deepEqual(c.topics.map((t) => [t.name, t.maxRateHz]), [['~/status', 2]]);
    });

    it('lists the keys a topic_options entry takes when one is unknown, in a sentence that reads', () => {
      assert.throws(() => bridgeWith({ 'topic_options.cam.max_age': 500n }), (e: unknown) => {
        assert.ok(e instanceof ParameterError, String(e));
        assert.equal(e.parameter, 'topic_options.cam.max_age');
        assert.match(e.message, /unknown setting; topic_options\.<alias> takes name, type, .*, max_age_ms$/);
        return true;
      });
    });

    it('throws ParameterError naming both keys when two topic_options entries name the same topic', () => {
      assert.throws(() => bridgeWith({ 'topic_options.fix.max_rate_hz': 1.0, 'topic_options.gps.name': 'fix' }), (e: unknown) => {
        assert.ok(e instanceof ParameterError && e.code === 'FS_ROS_ERR_PARAM', String(e));
        assert.equal(e.parameter, 'topic_options.gps');
        assert.match(e.message, /topic_options\.fix\b/);
        return true;
      });
    });

    it('lets single QoS settings override the preset', () => {
      const c = bridgeWith({ 'topic_options.tf_static.qos_preset': 'default', 'topic_options.tf_static.qos_durability': 'transient_local' });
      assert.deepEqual(c.topics[0].qos, { reliability: 'reliable', durability: 'transient_local', depth: 10 });
      assert.equal(c.topics[0].name, '/tf_static');
    });
  });

  describe('#errors', () => {
    const cases: Array<[string, Record<string, ParamValue | null>, string]> = [
      ['url is a number', { url: 3n }, 'url'],
      ['topics is a string', { topics: '/chatter' }, 'topics'],
      ['a topic name is invalid', { topics: ['/ok', 'bad name'] }, 'topics'],
      ['client_id is empty', { client_id: '' }, 'client_id'],
      ['client_id has 257 characters', { client_id: '\u{1F697}'.repeat(257) }, 'client_id'],
      ['a topic_options key is unknown', { 'topic_options.fix.colour': 'red' }, 'topic_options.fix.colour'],
      ['topic_options is not nested', { 'topic_options.fix': 'x' }, 'topic_options.fix'],
      ['a type is not a type name', { 'topic_options.fix.type': 'NavSatFix' }, 'topic_options.fix.type'],
      ['a preset is unknown', { 'topic_options.fix.qos_preset': 'fast' }, 'topic_options.fix.qos_preset'],
      ['a reliability is unknown', { 'topic_options.fix.qos_reliability': 'maybe' }, 'topic_options.fix.qos_reliability'],
      ['a depth is negative', { 'topic_options.fix.qos_depth': -1n }, 'topic_options.fix.qos_depth'],
      ['a depth is a double', { 'topic_options.fix.qos_depth': 1.5 }, 'topic_options.fix.qos_depth'],
      ['an encoding is unknown', { 'topic_options.fix.encoding': 'xml' }, 'topic_options.fix.encoding'],
      ['a rate is a string', { 'topic_options.fix.max_rate_hz': 'fast' }, 'topic_options.fix.max_rate_hz'],
      ['a rate is negative', { 'topic_options.fix.max_rate_hz': -2.0 }, 'topic_options.fix.max_rate_hz'],
      ['a name is invalid', { 'topic_options.fix.name': '/a//b' }, 'topic_options.fix.name'],
      ['diagnostics_period_s is 0', { diagnostics_period_s: 0.0 }, 'diagnostics_period_s'],
      ['url has an unknown scheme', { url: 'http://example.org' }, 'url'],
      ['outbox_max_messages is 0', { outbox_max_messages: 0n }, 'outbox_max_messages'],
      ['outbox_max_bytes is a string', { outbox_max_bytes: '64MiB' }, 'outbox_max_bytes'],
      ['outbox_policy is unknown', { outbox_policy: 'drop-all' }, 'outbox_policy'],
      ['max_frame_bytes is below 64', { max_frame_bytes: 63n }, 'max_frame_bytes'],
      ['silence_timeout_ms is negative', { silence_timeout_ms: -1n }, 'silence_timeout_ms'],
      ['clock_sync is a string', { clock_sync: 'yes' }, 'clock_sync'],
      ['outbox_path is a number', { outbox_path: 1n }, 'outbox_path'],
      ['a max_age_ms is negative', { 'topic_options.fix.max_age_ms': -5n }, 'topic_options.fix.max_age_ms'],
      ['tls_ca is set for a tcp:// url', { tls_ca: '/etc/ca.pem' }, 'tls_ca'],
      ['tls_client_cert comes without tls_client_key', { url: 'tls://h:1', tls_client_cert: '/c.pem' }, 'tls_client_key'],
      ['tls_client_key comes without tls_client_cert', { url: 'wss://h:1/', tls_client_key: '/c.key' }, 'tls_client_cert'],
      ['tls_servername is set for a tcp:// url', { tls_servername: 'infra.example.org' }, 'tls_servername'],
      ['tls_servername is an address', { url: 'tls://h:1', tls_servername: '10.0.0.1' }, 'tls_servername'],
    ];
    for (const [what, overrides, parameter] of cases) {
      it(`throws ParameterError naming ${parameter} when ${what}`, () => assertParamError(() => bridgeWith(overrides), parameter));
    }

    it('takes a client_id of 256 characters that UTF-16 writes in 512 units, as the wire counts code points', () => {
      const id = '\u{1F697}'.repeat(256);
      assert.equal(bridgeWith({ client_id: id }).clientId, id);
    });

    it('throws ParameterError naming topic_options.<key>.type when ROS 2 does not know the configured type', () => {
      const ros2Node = (overrides: Record<string, ParamValue | null>) => Object.assign(new MemoryRosGraph().createNode('b', overrides), { rawIsCdr: true });
      assertParamError(() => readBridgeConfig(ros2Node({ 'topic_options.x.type': 'foo/msg/Bar' }), 'h'), 'topic_options.x.type');
      assert.equal(readBridgeConfig(ros2Node({ 'topic_options.x.type': 'std_msgs/String' }), 'h').topics[0].type, 'std_msgs/msg/String');
    });

    it('throws ParameterError naming the file parameter, not its content, when a file is missing or the token is doubly set', () => {
      const f = files(teardown, { token: 'top-secret\n', empty: '\nsecond\n' });
      assertParamError(() => bridgeWith({ url: 'tls://h:1', tls_ca: f.missing }), 'tls_ca');
      assertParamError(() => bridgeWith({ token_file: f.missing }), 'token_file');
      assertParamError(() => bridgeWith({ token_file: f.empty }), 'token_file');
      assertParamError(() => bridgeWith({ token_file: f.token, token: 'other-secret' }), 'token_file', 'other-secret');
    });
  });

  describe('#unknown parameters', () => {
    it('warns once about each misspelt or unknown parameter, suggesting the close one, and still starts', () => {
      const node = new MemoryRosGraph().createNode('fastsocket_bridge', { topics: ['/chatter'], toppics: ['/x'], urll: 'tcp://1.2.3.4:5', frobnicate: true });
      const c = readBridgeConfig(node, 'h');
      assert.equal(c.url, 'tcp://127.0.0.1:8888');
      const warnings = node.logged('warn', /./).map((l) => l.message);
      assert.equal(warnings.length, 3, JSON.stringify(warnings));
      assert.match(warnings.find((w) => w.includes('toppics')) ?? '', /did you mean topics\?/);
      assert.match(warnings.find((w) => w.includes('urll')) ?? '', /did you mean url\?/);
      assert.doesNotMatch(warnings.find((w) => w.includes('frobnicate')) ?? 'missing', /did you mean/);
    });

    it('does not warn about its own parameters, topic_options included, nor ROS-wide ones', () => {
      const node = new MemoryRosGraph().createNode('fastsocket_bridge', {
        topics: ['/chatter'], url: 'tcp://1.2.3.4:5', outbox_max_messages: 5n, 'topic_options.fix.max_rate_hz': 1.0,
        use_sim_time: true, 'qos_overrides./chatter.subscription.reliability': 'best_effort',
      });
      readBridgeConfig(node, 'h');
      assert.deepEqual(node.logged('warn', /./), []);
    });
  });
});

describe('readServerConfig', () => {
  const teardown = useTeardown();

  describe('#unknown parameters', () => {
    it('warns about a misspelt parameter, suggesting the close one, and not about its own or ROS-wide ones', () => {
      const node = new MemoryRosGraph().createNode('fastsocket_server', { topic_prefx: '/remote', stats_window_s: 2.0, use_sim_time: false });
      assert.equal(readServerConfig(node).topicPrefix, '');
      const warnings = node.logged('warn', /./).map((l) => l.message);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0], /topic_prefx.*did you mean topic_prefix\?/);
    });
  });

  describe('#defaults', () => {
    it('uses the documented defaults when nothing is set', () => {
      const c = serverWith({});
      assert.deepEqual(c, {
        url: 'tcp://127.0.0.1:8888', topicPrefix: '', maxTopics: 1000, statsWindowS: 1, diagnosticsPeriodS: 1, stateDir: null, token: null,
        defaultQos: { reliability: 'reliable', durability: 'volatile', history: 'keep_last', depth: 10 },
        tls: null, limits: { ...DEFAULT_SERVER_LIMITS }, syncMaxUncertaintyNs: 1_000_000, record: null,
      });
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.limits));
    });

    it('documents every parameter it declares in config/server.yaml, each with a description', () => {
      const node = new MemoryRosGraph().createNode('s');
      readServerConfig(node);
      const keys = documentedKeys('config/server.yaml');
      for (const name of declaredNames(node)) assert.ok(keys.has(name), name);
      assert.ok(node.declarations.every((d) => d.description.length > 10));
    });

    it('accepts an integer where a double is meant, as YAML writes stats_window_s: 2', () => {
      assert.equal(serverWith({ stats_window_s: 2n }).statsWindowS, 2);
    });

    it('accepts a {client_id} prefix', () => {
      assert.equal(serverWith({ topic_prefix: '/{client_id}' }).topicPrefix, '/{client_id}');
      assert.equal(serverWith({ topic_prefix: '/remote' }).topicPrefix, '/remote');
    });
  });

  describe('#limits and security', () => {
    it('reads every limit of PROTOCOL.md §6 under its snake_case name', () => {
      const overrides = Object.fromEntries(SERVER_LIMIT_PARAMS.map((l, i) => [l.param, BigInt(1000 + i)]));
      const c = serverWith(overrides);
      assert.deepEqual(SERVER_LIMIT_PARAMS.map((l) => l.param), [
        'max_frame_bytes', 'max_bad_frames', 'frame_timeout_ms', 'idle_timeout_ms', 'max_connections', 'ack3_timeout_ms', 'max_pending_ack3',
      ]);
      SERVER_LIMIT_PARAMS.forEach((l, i) => assert.equal(c.limits[l.option], 1000 + i, l.param));
    });

    it('reads token_file, the certificate files and the record settings', async () => {
      const certs = await testCerts();
      const f = files(teardown, { token: 'tok\n', 'server.pem': certs.serverCert, 'server.key': certs.serverKey, 'ca.pem': certs.ca });
      const c = serverWith({
        url: 'wss://0.0.0.0:8443/', token_file: f.token, tls_cert: f['server.pem'], tls_key: f['server.key'], tls_ca: f['ca.pem'],
        record_path: '/tmp/run1.csv', sync_max_uncertainty_ns: 250000n,
      });
      assert.equal(c.token, 'tok');
      assert.deepEqual(c.tls, { cert: Buffer.from(certs.serverCert), key: Buffer.from(certs.serverKey), ca: Buffer.from(certs.ca) });
      assert.deepEqual(c.record, { path: '/tmp/run1.csv', format: 'csv' });
      assert.equal(c.syncMaxUncertaintyNs, 250000);
      assert.deepEqual(serverWith({ record_path: '/tmp/run1.log' }).record, { path: '/tmp/run1.log', format: 'jsonl' });
      assert.deepEqual(serverWith({ record_path: '/tmp/run1.log', record_format: 'csv' }).record, { path: '/tmp/run1.log', format: 'csv' });
    });

    it('gives the core server options it accepts, limits and security included', async () => {
      const f = files(teardown, { token: 'tok\n' });
      const c = serverWith({ url: 'tcp://127.0.0.1:0', max_connections: 3n, frame_timeout_ms: 500n, token_file: f.token, state_dir: join(f.dir, 'state') });
      const options = serverOptions(c, silentLogger);
      assert.deepEqual([options.maxConnections, options.frameTimeoutMs, options.maxFrameBytes, options.token, options.stateDir], [3, 500, DEFAULT_SERVER_LIMITS.maxFrameBytes, 'tok', join(f.dir, 'state')]);
      const server = new FastSocketServer(options);
      teardown.add(() => server.close());
    });
  });

  describe('#errors', () => {
    const cases: Array<[string, Record<string, ParamValue | null>, string]> = [
      ['max_frame_bytes is below 64', { max_frame_bytes: 10n }, 'max_frame_bytes'],
      ['max_bad_frames is 0', { max_bad_frames: 0n }, 'max_bad_frames'],
      ['frame_timeout_ms is a double', { frame_timeout_ms: 1.5 }, 'frame_timeout_ms'],
      ['idle_timeout_ms is a string', { idle_timeout_ms: '2m' }, 'idle_timeout_ms'],
      ['max_connections is negative', { max_connections: -1n }, 'max_connections'],
      ['ack3_timeout_ms is 0', { ack3_timeout_ms: 0n }, 'ack3_timeout_ms'],
      ['max_pending_ack3 is 0', { max_pending_ack3: 0n }, 'max_pending_ack3'],
      ['sync_max_uncertainty_ns is negative', { sync_max_uncertainty_ns: -1n }, 'sync_max_uncertainty_ns'],
      ['url is not a url', { url: 'localhost:8888' }, 'url'],
      ['record_format is unknown', { record_path: '/tmp/x', record_format: 'xml' }, 'record_format'],
      ['record_format comes without record_path', { record_format: 'csv' }, 'record_format'],
      ['a tls:// url has no tls_cert', { url: 'tls://0.0.0.0:8443' }, 'tls_cert'],
      ['tls_cert comes without tls_key', { url: 'tls://0.0.0.0:8443', tls_cert: '/c.pem' }, 'tls_key'],
      ['tls_cert is set for a ws:// url', { url: 'ws://0.0.0.0:8080/', tls_cert: '/c.pem', tls_key: '/c.key' }, 'tls_cert'],
      ['qos_depth is 0', { qos_depth: 0n }, 'qos_depth'],
      ['qos_reliability is unknown', { qos_reliability: 'sometimes' }, 'qos_reliability'],
      ['qos_durability is unknown', { qos_durability: 'forever' }, 'qos_durability'],
      ['stats_window_s is negative', { stats_window_s: -1.0 }, 'stats_window_s'],
      ['topic_prefix has a bad character', { topic_prefix: '/re mote' }, 'topic_prefix'],
      ['state_dir is a bool', { state_dir: true }, 'state_dir'],
    ];
    for (const [what, overrides, parameter] of cases) {
      it(`throws ParameterError naming ${parameter} when ${what}`, () => assertParamError(() => serverWith(overrides), parameter));
    }

    it('lists the allowed values quoted, the empty one as "", when a choice is unknown', () => {
      assert.throws(() => serverWith({ record_path: '/tmp/x', record_format: 'xml' }), (e: unknown) => {
        assert.ok(e instanceof ParameterError);
        assert.match(e.message, /expected one of "", "jsonl", "csv", got "xml"/);
        return true;
      });
    });

    it('throws ParameterError naming the file parameter, not the secret, when a file is missing or the token is doubly set', async () => {
      const f = files(teardown, { token: 'top-secret\n', 'server.pem': (await testCerts()).serverCert });
      assertParamError(() => serverWith({ url: 'tls://h:1', tls_cert: f['server.pem'], tls_key: f.missing }), 'tls_key');
      assertParamError(() => serverWith({ token_file: f.missing }), 'token_file');
      assertParamError(() => serverWith({ token: 'inline-secret', token_file: f.token }), 'token_file', 'inline-secret');
    });

    it('throws ParameterError naming the parameter and the file when a TLS file does not hold what it should', async () => {
      const certs = await testCerts();
      const f = files(teardown, { 'server.pem': certs.serverCert, 'server.key': certs.serverKey, 'client.key': certs.clientKey, 'notes.txt': 'ca.pem\n' });
      const tls = { url: 'tls://h:1', tls_cert: f['server.pem'], tls_key: f['server.key'] };
      // Each was accepted and failed only when the node listened: OpenSSL's "no start line", naming no parameter.
      assertParamError(() => serverWith({ ...tls, tls_cert: f['server.key'] }), 'tls_cert');
      assertParamError(() => serverWith({ ...tls, tls_key: f['notes.txt'] }), 'tls_key');
      assertParamError(() => serverWith({ ...tls, tls_ca: f['notes.txt'] }), 'tls_ca');
      assertParamError(() => serverWith({ ...tls, tls_key: f['client.key'] }), 'tls_cert');
      assert.throws(() => serverWith({ ...tls, tls_ca: f['notes.txt'] }), (e: Error) => e.message.includes(f['notes.txt']) && e.message.includes('no PEM certificate'));
      assert.throws(() => serverWith({ ...tls, tls_key: f['client.key'] }), (e: Error) => e.message.includes('do not belong together'));
      assertParamError(() => bridgeWith({ url: 'tls://h:1', tls_ca: f['server.key'] }), 'tls_ca');
    });
  });
});
