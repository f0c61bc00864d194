import { strict as assert } from 'node:assert';
import { ParameterError, RosError } from '../../src/ros/errors';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import { readServerConfig } from '../../src/ros/server-config';
import { parseRos1Args, Ros1Names } from '../../src/ros1/names';
import { flattenParams, toParamState, withParam } from '../../src/ros1/params';
import { Foxglove, openRos1Port } from '../../src/ros1/ros1-port';

/**
 * A ROS 1 master that only answers getParam with `tree`, and a node library whose TCP server never starts: enough
 * for the synchronous parameter side of the port, with no sockets.
 */
function offlineRos1(tree: unknown): Foxglove {
  return {
    XmlRpcClient: class {
      methodCall(method: string): Promise<unknown> {
        return Promise.resolve(method === 'getParam' ? [1, '', tree] : [1, '', 0]);
      }
    },
    TcpServerNode: { Listen: () => new Promise<never>(() => undefined) },
    TcpSocketNode: { Create: null },
    HttpServerNodejs: class {},
    RosNode: class {} as unknown as Foxglove['RosNode'],
  };
}

describe('ROS 1 arguments', () => {
  describe('#parseRos1Args', () => {
    it('separates node name, namespace, private params and remaps when given what roslaunch passes', () => {
      const a = parseRos1Args(['__name:=veh_bridge', '__log:=/tmp/x.log', '__ns:=/fleet', '_rate:=10', '_topics:=[/a, /b]', 'chatter:=/talk', 'other']);
      assert.equal(a.name, 'veh_bridge');
      assert.equal(a.namespace, '/fleet');
      assert.deepEqual(a.params, { rate: 10, topics: ['/a', '/b'] });
      assert.deepEqual(a.remaps, [['chatter', '/talk']]);
      assert.deepEqual(a.rest, ['other']);
    });

    it('throws ParameterError when a private parameter name is not a ROS name', () => {
      assert.throws(() => parseRos1Args(['_9bad:=1']), (err: unknown) => err instanceof ParameterError && err.code === 'FS_ROS_ERR_PARAM');
    });
  });
});

describe('Ros1Names', () => {
  describe('#resolve', () => {
    const names = new Ros1Names('/fleet', 'fastsocket_server', [['chatter', '/talk'], ['~latency', '/lat']]);

    it('resolves private, relative and global names the ROS 1 way', () => {
      assert.equal(names.fullyQualifiedName, '/fleet/fastsocket_server');
      assert.equal(names.resolve('~/rtt'), '/fleet/fastsocket_server/rtt');
      assert.equal(names.resolve('~rtt'), '/fleet/fastsocket_server/rtt');
      assert.equal(names.resolve('scan'), '/fleet/scan');
      assert.equal(names.resolve('/diagnostics'), '/diagnostics');
    });

    it('applies remaps after resolving both sides when a name is remapped', () => {
      assert.equal(names.resolve('chatter'), '/talk');
      assert.equal(names.resolve('/fleet/chatter'), '/talk');
      assert.equal(names.resolve('~/latency'), '/lat');
    });
  });
});

describe('ROS 1 params', () => {
  describe('#flattenParams', () => {
    it('names nested maps with dots when given a parameter tree', () => {
      assert.deepEqual([...flattenParams({ url: 'x', topic_options: { fix: { type: 't', max_rate_hz: 5 } } })], [
        ['url', 'x'], ['topic_options.fix.type', 't'], ['topic_options.fix.max_rate_hz', 5],
      ]);
    });
  });

  describe('#withParam', () => {
    it('sets a nested value without touching the original when given a dotted name', () => {
      const tree = { a: { b: 1 } };
      assert.deepEqual(withParam(tree, 'a/c', 2), { a: { b: 1, c: 2 } });
      assert.deepEqual(tree, { a: { b: 1 } });
    });
  });

  describe('#toParamState', () => {
    it('types values as rclnodejs does when given XML-RPC values', () => {
      assert.deepEqual(toParamState('i', 10), { name: 'i', type: 'integer', value: 10n });
      assert.deepEqual(toParamState('d', 1.5), { name: 'd', type: 'double', value: 1.5 });
      assert.deepEqual(toParamState('ss', ['a']), { name: 'ss', type: 'string_array', value: ['a'] });
      assert.deepEqual(toParamState('is', [1, 2]), { name: 'is', type: 'integer_array', value: [1n, 2n] });
      assert.deepEqual(toParamState('e', []), { name: 'e', type: 'not_set', value: undefined });
    });

    it('throws ParameterError naming the parameter when a list mixes types', () => {
      assert.throws(() => toParamState('topics', ['/a', 1]), (err: unknown) => err instanceof ParameterError && err.parameter === 'topics');
    });
  });
});

describe('Ros1Port', () => {
  describe('#createNode', () => {
    it('reads the bridge config from private rosparams of the ROS 2 names when given a parameter tree', async () => {
      const tree = {
        rosdistro: 'noetic',
        fastsocket_bridge: {
          url: 'tcp://10.0.0.1:9000', topics: ['/chatter', 'scan'],
          topic_options: { fix: { type: 'sensor_msgs/NavSatFix', max_rate_hz: 5, qos_durability: 'transient_local' } },
        },
      };
      const port = await openRos1Port({ foxglove: offlineRos1(tree), args: ['_client_id:=veh_7'], env: {} });
      const config = readBridgeConfig(port.createNode('fastsocket_bridge'), 'host');
      assert.equal(config.url, 'tcp://10.0.0.1:9000');
      assert.equal(config.clientId, 'veh_7');
      assert.deepEqual(config.topics.map((t) => [t.name, t.type, t.maxRateHz, t.qos.durability ?? null]), [
        ['/chatter', null, null, null],
        ['scan', null, null, null],
        ['/fix', 'sensor_msgs/msg/NavSatFix', 5, 'transient_local'],
      ]);
    });

    it('takes the node name from __name:= and its params from that name when remapped', async () => {
      const tree = { other_server: { topic_prefix: '/{client_id}', stats_window_s: 2 } };
      const port = await openRos1Port({ foxglove: offlineRos1(tree), args: ['__name:=other_server'], env: {} });
      const node = port.createNode('fastsocket_server');
      assert.equal(node.fullyQualifiedName, '/other_server');
      const config = readServerConfig(node);
      assert.equal(config.topicPrefix, '/{client_id}');
      assert.equal(config.statsWindowS, 2);
    });

    it('throws ParameterError naming the parameter when a private param has the wrong type', async () => {
      const port = await openRos1Port({ foxglove: offlineRos1({ fastsocket_server: { stats_window_s: 'soon' } }), env: {} });
      assert.throws(() => readServerConfig(port.createNode('fastsocket_server')), (err: unknown) => err instanceof ParameterError && err.parameter === 'stats_window_s');
    });

    it('throws FS_ROS_ERR_PARAM naming __name, __ns or ROS_NAMESPACE when it is not a ROS 1 name', async () => {
      // Regression test: `__name:=my bridge` registered "/my bridge" with the master, a node no other could name.
      const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
        [['__name:=my bridge'], {}, /^__name "my bridge" is not a ROS 1 node name/],
        [['__name:=a/b'], {}, /^__name "a\/b"/],
        [['__ns:=/fleet/veh-1'], {}, /^__ns "\/fleet\/veh-1" is not a ROS 1 namespace/],
        [[], { ROS_NAMESPACE: 'bad ns' }, /^ROS_NAMESPACE "bad ns"/],
      ];
      for (const [args, env, message] of cases) {
        const port = await openRos1Port({ foxglove: offlineRos1({}), env, args });
        assert.throws(() => port.createNode('fastsocket_bridge'), (err: unknown) => err instanceof RosError && err.code === 'FS_ROS_ERR_PARAM' && message.test(err.message), args.join(' ') || JSON.stringify(env));
      }
      const ok = await openRos1Port({ foxglove: offlineRos1({}), env: { ROS_NAMESPACE: '/fleet/veh_1/' }, args: ['__name:=bridge_2'] });
      assert.equal(ok.createNode('fastsocket_bridge').fullyQualifiedName, '/fleet/veh_1/bridge_2');
    });

    it('throws ParameterError when a parameter that takes one value is given a map', async () => {
      const port = await openRos1Port({ foxglove: offlineRos1({ fastsocket_bridge: { topics: { a: '/a' } } }), env: {} });
      assert.throws(() => readBridgeConfig(port.createNode('fastsocket_bridge'), 'h'), (err: unknown) => err instanceof ParameterError && err.parameter === 'topics');
    });
  });

  describe('openRos1Port', () => {
    it('rejects with FS_ROS_ERR_UNAVAILABLE naming the master when it does not answer in time', async () => {
      const silent = { ...offlineRos1({}), XmlRpcClient: class { methodCall(): Promise<unknown> { return Promise.reject(new Error('connect ECONNREFUSED')); } } };
      await assert.rejects(openRos1Port({ foxglove: silent, masterWaitMs: 0, env: { ROS_MASTER_URI: 'http://127.0.0.1:1/' } }), (err: unknown) =>
        err instanceof RosError && err.code === 'FS_ROS_ERR_UNAVAILABLE' && err.message.includes('http://127.0.0.1:1/'));
    });
  });
});
