import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import { ParameterError, RosError } from '../../src/ros/errors';
import { jsonToRos, rosToJson } from '../../src/ros/msg-json';
import type { RosNode, RosPort } from '../../src/ros/port';
import { qos } from '../../src/ros/qos';
import { openRclnodejsPort } from '../../src/ros/rclnodejs-port';
import { readServerConfig } from '../../src/ros/server-config';
import { MemoryRosGraph, MSG_SOURCES } from '../support/memory-ros-port';
import { REPO, requireRos, rosEnv, startBash, uniqueDomains } from './ros-harness';

/** Waits for `count` messages on a subscription, with a deadline. */
function collect(node: RosNode, type: string, topic: string, count: number, timeoutMs = 10_000): { done: Promise<unknown[]>; stop(): void } {
  const got: unknown[] = [];
  let finish: (v: unknown[]) => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  const done = new Promise<unknown[]>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => fail(new Error(`${got.length}/${count} messages on ${topic} within ${timeoutMs} ms`)), timeoutMs);
  const sub = node.createSubscription(type, topic, qos('reliable', 'volatile', 10), 'object', (m) => {
    got.push(m);
    if (got.length === count) {
      clearTimeout(timer);
      finish(got);
    }
  });
  return { done, stop: () => { clearTimeout(timer); sub.destroy(); } };
}

/** Rejects as soon as `error()` returns an error (polled), so a failing publish fails the test at once. */
function failOn(error: () => Error | null): Promise<never> {
  return new Promise((_, reject) => {
    const poll = setInterval(() => {
      const e = error();
      if (e) {
        clearInterval(poll);
        reject(e);
      }
    }, 20);
    poll.unref();
  });
}

describe('RclnodejsPort', function () {
  this.timeout(60_000);
  const [, , domain] = uniqueDomains();
  let port: RosPort | null = null;
  let dir = '';
  const savedDomain = process.env.ROS_DOMAIN_ID;

  before(function () {
    requireRos(this);
    process.env.ROS_DOMAIN_ID = String(domain);
    dir = mkdtempSync(join(tmpdir(), 'fastsocket-rclnodejs-'));
  });

  afterEach(() => {
    port?.shutdown();
    port = null;
  });

  after(() => {
    if (savedDomain === undefined) delete process.env.ROS_DOMAIN_ID;
    else process.env.ROS_DOMAIN_ID = savedDomain;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(params?: string): Promise<RosPort> {
    const argv = ['node', 'test'];
    if (params !== undefined) {
      const file = join(dir, `p${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, params);
      argv.push('--ros-args', '--params-file', file);
    }
    port = await openRclnodejsPort(argv);
    return port;
  }

  describe('#messageDefinition', () => {
    it('matches the in-memory catalogue for every real type in it, so the unit tests model real types', async () => {
      const node = (await open()).createNode('fastsocket_defs');
      const memory = new MemoryRosGraph();
      for (const type of Object.keys(MSG_SOURCES).filter((t) => !t.startsWith('fastsocket_test/'))) {
        assert.deepEqual(node.messageDefinition(type), memory.lookup(type), type);
      }
    });

    it('throws UnknownTypeError when the type does not exist', async () => {
      const node = (await open()).createNode('fastsocket_defs');
      assert.throws(() => node.messageDefinition('nope_msgs/msg/Nope'), (e: unknown) => e instanceof RosError && e.code === 'FS_ROS_ERR_UNKNOWN_TYPE');
    });

    it('leaves names that are not pkg/msg/Name to rclnodejs: a service\'s introspection message (rcl_interfaces/srv/GetParameters_Event)', async () => {
      const node = (await open()).createNode('fastsocket_defs_srv');
      assert.deepEqual(node.messageDefinition('rcl_interfaces/srv/GetParameters_Event').fields.map((f) => f.name), ['info', 'request', 'response']);
    });

    it('defines the feedback message of an action and the event of a service of a workspace package it has not generated yet', async function () {
      this.timeout(120_000);
      // A package as colcon installs it, interface files only: rclnodejs generates JavaScript from them on first use,
      // looking for a file named after the type asked for, which a service's or an action's parts do not have.
      const pkg = 'fastsocket_fake_interfaces';
      const workspace = join(dir, 'workspace');
      mkdirSync(join(workspace, 'share', 'ament_index', 'resource_index', 'rosidl_interfaces'), { recursive: true });
      writeFileSync(join(workspace, 'share', 'ament_index', 'resource_index', 'rosidl_interfaces', pkg), 'action/Drive.action\nsrv/Toggle.srv\n');
      mkdirSync(join(workspace, 'share', pkg, 'action'), { recursive: true });
      mkdirSync(join(workspace, 'share', pkg, 'srv'));
      writeFileSync(join(workspace, 'share', pkg, 'action', 'Drive.action'), 'float64 target\n---\nbool ok\n---\nuint64 count\n');
      writeFileSync(join(workspace, 'share', pkg, 'srv', 'Toggle.srv'), 'bool on\n---\nstring message\n');
      const generated = join(REPO, 'node_modules/rclnodejs/generated', pkg);
      rmSync(generated, { recursive: true, force: true });
      const savedPrefixes = process.env.AMENT_PREFIX_PATH;
      process.env.AMENT_PREFIX_PATH = `${workspace}:${savedPrefixes ?? ''}`;
      try {
        const node = (await open()).createNode('fastsocket_defs_workspace');
        assert.deepEqual(node.messageDefinition(`${pkg}/action/Drive_FeedbackMessage`).fields.map((f) => [f.name, f.type]), [
          ['goal_id', 'unique_identifier_msgs/msg/UUID'], ['feedback', `${pkg}/action/Drive_Feedback`],
        ]);
        assert.deepEqual(node.messageDefinition(`${pkg}/action/Drive_Feedback`).fields.map((f) => [f.name, f.type]), [['count', 'uint64']]);
        assert.deepEqual(node.messageDefinition(`${pkg}/srv/Toggle_Event`).fields.map((f) => f.type), [
          'service_msgs/msg/ServiceEventInfo', `${pkg}/srv/Toggle_Request`, `${pkg}/srv/Toggle_Response`,
        ]);
        assert.throws(() => node.messageDefinition(`${pkg}/action/Nope_FeedbackMessage`), (e: unknown) => e instanceof RosError && e.code === 'FS_ROS_ERR_UNKNOWN_TYPE');
      } finally {
        process.env.AMENT_PREFIX_PATH = savedPrefixes;
        rmSync(generated, { recursive: true, force: true });
      }
    });

    it('throws UnknownTypeError without a word on the console, every time, with a workspace on AMENT_PREFIX_PATH', async () => {
      // rclnodejs searches workspace prefixes (not /opt/ros) for a type it has not generated, runs `which ros2` for
      // each and prints "Error reading directory" when the package is not there: once per message on the server.
      const node = (await open()).createNode('fastsocket_defs');
      const workspace = join(dir, 'install');
      mkdirSync(workspace);
      const savedPrefixes = process.env.AMENT_PREFIX_PATH;
      const savedError = console.error;
      const printed: unknown[][] = [];
      process.env.AMENT_PREFIX_PATH = `${workspace}:${savedPrefixes ?? ''}`;
      console.error = (...args: unknown[]) => void printed.push(args);
      try {
        for (const type of ['nope_msgs/msg/Nope', 'std_msgs/msg/Nope', 'nope_msgs/msg/Nope', 'nope_msgs/srv/Nope_Event', 'nope_msgs/action/Nope_FeedbackMessage', 'std_srvs/srv/Nope_Event']) {
          assert.throws(() => node.messageDefinition(type), (e: unknown) => e instanceof RosError && e.code === 'FS_ROS_ERR_UNKNOWN_TYPE', type);
        }
        assert.deepEqual(node.messageDefinition('std_msgs/msg/String').fields.map((f) => f.name), ['data']);
      } finally {
        console.error = savedError;
        process.env.AMENT_PREFIX_PATH = savedPrefixes;
      }
      assert.deepEqual(printed, []);
    });

    it('throws a RosError naming the type and the generated folder when rclnodejs\' JavaScript is older than the installed type', async () => {
      // As after a workspace rebuild that added a field: the installed description (first on AMENT_PREFIX_PATH) has
      // one more field than what rclnodejs generated earlier and will not generate again.
      const overlay = join(dir, 'overlay');
      mkdirSync(join(overlay, 'share', 'std_msgs', 'msg'), { recursive: true });
      const field = (name: string, typeId: number) => ({ name, type: { type_id: typeId, capacity: 0, string_capacity: 0, nested_type_name: '' }, default_value: '' });
      writeFileSync(join(overlay, 'share', 'std_msgs', 'msg', 'String.json'), JSON.stringify({
        type_description_msg: { type_description: { type_name: 'std_msgs/msg/String', fields: [field('data', 17), field('added', 8)] }, referenced_type_descriptions: [] },
      }));
      const node = (await open()).createNode('fastsocket_defs');
      const savedPrefixes = process.env.AMENT_PREFIX_PATH;
      process.env.AMENT_PREFIX_PATH = `${overlay}:${savedPrefixes ?? ''}`;
      try {
        assert.throws(() => node.messageDefinition('std_msgs/msg/String'), (e: unknown) => e instanceof RosError && /std_msgs\/msg\/String \(data\) does not match .* \(data, added\).*generated\/std_msgs/.test(e.message));
      } finally {
        process.env.AMENT_PREFIX_PATH = savedPrefixes;
      }
    });
  });

  describe('#typeHash', () => {
    it('reads the RIHS01 hash rosidl installed for a message type, per type, and null for what has none', async () => {
      const node = (await open()).createNode('fastsocket_hashes');
      const installed = (pkg: string, name: string): string => {
        const prefix = (process.env.AMENT_PREFIX_PATH ?? '').split(':').find((p) => existsSync(join(p, 'share', pkg, 'msg', `${name}.json`)));
        assert.ok(prefix, `share/${pkg}/msg/${name}.json on AMENT_PREFIX_PATH`);
        const doc = JSON.parse(readFileSync(join(prefix, 'share', pkg, 'msg', `${name}.json`), 'utf8')) as { type_hashes: Array<{ type_name: string; hash_string: string }> };
        return doc.type_hashes.find((h) => h.type_name === `${pkg}/msg/${name}`)!.hash_string;
      };
      const string = node.typeHash!('std_msgs/msg/String');
      assert.match(string ?? '', /^RIHS01_[0-9a-f]{64}$/);
      assert.equal(string, installed('std_msgs', 'String'));
      assert.equal(node.typeHash!('sensor_msgs/msg/Image'), installed('sensor_msgs', 'Image'));
      assert.notEqual(node.typeHash!('std_msgs/msg/Header'), string);
      assert.equal(node.typeHash!('nope_msgs/msg/Nope'), null);
      assert.equal(node.typeHash!('rcl_interfaces/srv/GetParameters_Event'), null);
    });

    it('reads the definition first on AMENT_PREFIX_PATH, as a workspace overlay shadows /opt/ros', async () => {
      const overlay = join(dir, 'hash-overlay');
      mkdirSync(join(overlay, 'share', 'std_msgs', 'msg'), { recursive: true });
      writeFileSync(join(overlay, 'share', 'std_msgs', 'msg', 'String.json'), JSON.stringify({ type_hashes: [{ type_name: 'std_msgs/msg/String', hash_string: 'RIHS01_overlay' }] }));
      const savedPrefixes = process.env.AMENT_PREFIX_PATH;
      process.env.AMENT_PREFIX_PATH = `${overlay}:${savedPrefixes ?? ''}`;
      try {
        assert.equal((await open()).createNode('fastsocket_hashes').typeHash!('std_msgs/msg/String'), 'RIHS01_overlay');
      } finally {
        process.env.AMENT_PREFIX_PATH = savedPrefixes;
      }
    });
  });

  describe('#createPublisher', () => {
    const cases: Array<[string, unknown]> = [
      ['std_msgs/msg/Int64MultiArray', { data: ['1152921504606846977', -3, String(-(2n ** 63n))] }],
      ['std_msgs/msg/UInt8MultiArray', { data: Buffer.from([0, 1, 254, 255]).toString('base64') }],
      ['std_msgs/msg/Float64MultiArray', { data: [0.1, 'NaN', 'Infinity', -1e-300] }],
      ['std_msgs/msg/UInt64', { data: '18446744073709551615' }],
      ['service_msgs/msg/ServiceEventInfo', { event_type: 1, stamp: { sec: 5, nanosec: 6 }, client_gid: Buffer.from([200, ...Array(15).fill(1)]).toString('base64'), sequence_number: '9007199254740993' }],
      ['sensor_msgs/msg/Imu', { header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'imu' }, orientation_covariance: [1, 2, 3, 4, 5, 6, 7, 8, 'NaN'] }],
    ];
    for (const [type, json] of cases) {
      it(`publishes what jsonToRos makes of ${type} JSON and gets the same JSON back from rosToJson`, async () => {
        const node = (await open()).createNode('fastsocket_roundtrip');
        const lookup = (t: string) => node.messageDefinition(t);
        const topic = `/roundtrip_${type.replace(/\W/g, '_')}`;
        const sink = collect(node, type, topic, 1);
        const pub = node.createPublisher(type, topic, qos('reliable', 'volatile', 10));
        const message = jsonToRos(lookup, type, json);
        let publishError: Error | null = null;
        const timer = setInterval(() => {
          try {
            pub.publish(message);
          } catch (err) {
            publishError ??= err as Error;
          }
        }, 50);
        try {
          const [got] = await Promise.race([sink.done, failOn(() => publishError)]);
          assert.deepEqual(rosToJson(lookup, type, got), rosToJson(lookup, type, message));
          assert.deepEqual(rosToJson(lookup, type, got), { ...rosToJson(lookup, type, jsonToRos(lookup, type, {})), ...(json as object) });
        } finally {
          clearInterval(timer);
          sink.stop();
        }
      });
    }
  });

  describe('#declareParameter', () => {
    it('reads a params file keyed by the bare node name with nested topic_options, an empty list and an integer for a double', async () => {
      const node = (await open([
        '/**:', '  ros__parameters:', '    url: "tcp://10.0.0.1:8888"',
        'fastsocket_bridge:', '  ros__parameters:', '    topics: []', '    diagnostics_period_s: 2',
        '    topic_options:', '      fix:', '        type: "sensor_msgs/msg/NavSatFix"', '        max_rate_hz: 5', '',
      ].join('\n'))).createNode('fastsocket_bridge');
      const c = readBridgeConfig(node, 'host');
      assert.equal(c.url, 'tcp://10.0.0.1:8888');
      assert.equal(c.diagnosticsPeriodS, 2);
      assert.deepEqual(c.topics.map((t) => [t.name, t.type, t.maxRateHz]), [['/fix', 'sensor_msgs/msg/NavSatFix', 5]]);
    });

    it('throws ParameterError naming the parameter when a value has the wrong type', async () => {
      const node = (await open('fastsocket_server:\n  ros__parameters:\n    qos_depth: "ten"\n')).createNode('fastsocket_server');
      assert.throws(() => readServerConfig(node), (e: unknown) => e instanceof ParameterError && e.parameter === 'qos_depth');
    });

    it('ignores a key with a leading slash, as rclnodejs does, so only /** and the bare name configure a node', async () => {
      const node = (await open('/fastsocket_server:\n  ros__parameters:\n    topic_prefix: "/ignored"\n')).createNode('fastsocket_server');
      assert.equal(readServerConfig(node).topicPrefix, '');
    });
  });

  describe('#createNode', () => {
    it('throws a RosError explaining the integer-list rule when any node in the params file has an integer list', async () => {
      const p = await open('/**:\n  ros__parameters:\n    url: "x"\nsome_other_node:\n  ros__parameters:\n    ids: [1, 2, 3]\n');
      assert.throws(() => p.createNode('fastsocket_server'), (e: unknown) => e instanceof RosError && e.code === 'FS_ROS_ERR_PARAM' && /integer list/.test(e.message));
    });
  });

  describe('#createTimer', () => {
    it('fires on the steady clock with use_sim_time true and no /clock, as a bag replay before it plays or while paused has', async () => {
      const node = (await open('/**:\n  ros__parameters:\n    use_sim_time: true\n')).createNode('timer_node');
      let ticks = 0;
      const timer = node.createTimer(50, () => ticks++);
      try {
        await new Promise((resolve) => setTimeout(resolve, 600));
        assert.ok(ticks >= 3, `${ticks} ticks of a 50 ms timer in 600 ms`);
      } finally {
        timer.cancel();
      }
    });
  });

  describe('#signals', () => {
    it('exits 0 when a bare node gets SIGTERM, which rclnodejs alone does not handle', async function () {
      this.timeout(30_000);
      const talker = startBash(`node ${join(REPO, 'dist/nodes/talker.js')} --ros-args -p rate_hz:=50`, rosEnv(domain));
      try {
        await talker.waitFor(/publishing on \/chatter/, 20_000);
        process.kill(talker.child.pid as number, 'SIGTERM');
        assert.equal(await talker.exited(10_000), 0);
        assert.match(talker.output(), /SIGTERM: shutting down/);
      } finally {
        await talker.stop();
      }
    });
  });
});
