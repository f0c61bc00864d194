import { strict as assert } from 'node:assert';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import { ParameterError } from '../../src/ros/errors';
import type { ParamValue } from '../../src/ros/port';
import { readServerConfig } from '../../src/ros/server-config';
import { MemoryRosGraph } from '../support/memory-ros-port';

function bridgeWith(overrides: Record<string, ParamValue | null>) {
  return readBridgeConfig(new MemoryRosGraph().createNode('fastsocket_bridge', overrides), 'veh-17');
}

function serverWith(overrides: Record<string, ParamValue | null>) {
  return readServerConfig(new MemoryRosGraph().createNode('fastsocket_server', overrides));
}

function assertParamError(fn: () => unknown, parameter: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ParameterError && e.code === 'FS_ROS_ERR_PARAM' && e.parameter === parameter && e.message.includes(parameter));
}

describe('readBridgeConfig', () => {
  describe('#defaults', () => {
    it('uses tcp://127.0.0.1:8888, the host name and no topics when nothing is set', () => {
      const c = bridgeWith({});
      assert.equal(c.url, 'tcp://127.0.0.1:8888');
      assert.equal(c.clientId, 'veh-17');
      assert.equal(c.token, null);
      assert.deepEqual(c.topics, []);
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.topics));
    });

    it('declares every parameter with a description before reading it', () => {
      const node = new MemoryRosGraph().createNode('b', { 'topic_options.fix.type': 'sensor_msgs/msg/NavSatFix' });
      readBridgeConfig(node, 'h');
      const names = node.declarations.map((d) => d.name);
      for (const n of ['url', 'client_id', 'topics', 'topic_options.fix.type', 'topic_options.fix.qos_preset', 'topic_options.fix.max_rate_hz']) assert.ok(names.includes(n), n);
      assert.ok(node.declarations.every((d) => d.description.length > 10));
    });
  });

  describe('#topics', () => {
    it('forwards the simple list with discovered type and QoS and json encoding', () => {
      const c = bridgeWith({ topics: ['/chatter', '/fix'] });
      assert.deepEqual(c.topics.map((t) => [t.name, t.type, t.encoding, t.maxRateHz, t.qos]), [
        ['/chatter', null, 'json', null, {}],
        ['/fix', null, 'json', null, {}],
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
    ];
    for (const [what, overrides, parameter] of cases) {
      it(`throws ParameterError naming ${parameter} when ${what}`, () => assertParamError(() => bridgeWith(overrides), parameter));
    }
  });
});

describe('readServerConfig', () => {
  describe('#defaults', () => {
    it('uses the documented defaults when nothing is set', () => {
      const c = serverWith({});
      assert.deepEqual(c, {
        url: 'tcp://127.0.0.1:8888', topicPrefix: '', statsWindowS: 1, diagnosticsPeriodS: 1, stateDir: null, token: null,
        defaultQos: { reliability: 'reliable', durability: 'volatile', history: 'keep_last', depth: 10 },
      });
      assert.ok(Object.isFrozen(c));
    });

    it('accepts an integer where a double is meant, as YAML writes stats_window_s: 2', () => {
      assert.equal(serverWith({ stats_window_s: 2n }).statsWindowS, 2);
    });

    it('accepts a {client_id} prefix', () => {
      assert.equal(serverWith({ topic_prefix: '/{client_id}' }).topicPrefix, '/{client_id}');
      assert.equal(serverWith({ topic_prefix: '/remote' }).topicPrefix, '/remote');
    });
  });

  describe('#errors', () => {
    const cases: Array<[string, Record<string, ParamValue | null>, string]> = [
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
  });
});
