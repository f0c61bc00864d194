import { strict as assert } from 'node:assert';
import type { MessageEvent } from '../../src/fastsocket';
import type { RosPublisher } from '../../src/ros/port';
import type { QosProfile } from '../../src/ros/qos';
import { readServerConfig } from '../../src/ros/server-config';
import { ServerNode } from '../../src/ros/server-node';
import { CdrOnRos1Error } from '../../src/ros1/ros1-port';
import { toRos1TypeName } from '../../src/ros1/type-map';
import { MemoryRosGraph, MemoryRosNode } from '../support/memory-ros-port';

/** The in-memory graph with ROS 1's differences that matter here: no CDR, and ROS 2-only types refused. */
class Ros1LikeNode extends MemoryRosNode {
  override createPublisher(type: string, topic: string, q: QosProfile): RosPublisher {
    toRos1TypeName(type);
    const pub = super.createPublisher(type, topic, q);
    return {
      ...pub,
      publish: (m: unknown) => {
        if (Buffer.isBuffer(m)) throw new CdrOnRos1Error(pub.topic);
        pub.publish(m);
      },
    };
  }
}

let nextId = 0;
function message(topic: string, type: string, body: object): MessageEvent {
  return {
    id: `r${nextId++}`, payload: { topic, type, seq: nextId, ...body }, peer: '127.0.0.1:5000', client_id: 'veh',
    resent: false, possible_duplicate: false, queued_ns: null,
  };
}

function ros1Server(): { node: Ros1LikeNode; graph: MemoryRosGraph; srv: ServerNode } {
  const graph = new MemoryRosGraph();
  const node = new Ros1LikeNode(graph, 'fastsocket_server', {});
  graph.nodes.push(node);
  const srv = new ServerNode(node, readServerConfig(node));
  srv.start();
  return { node, graph, srv };
}

describe('ServerNode on ROS 1', () => {
  describe('#handleMessage', () => {
    it('logs one line per topic and counts every message when CDR payloads arrive from a ROS 2 bridge', () => {
      const { node, graph, srv } = ros1Server();
      const cdr = { cdr: Buffer.from([0, 1, 0, 0, 5]).toString('base64') };
      for (let i = 0; i < 3; i++) srv.handleMessage(message('/scan', 'std_msgs/msg/String', cdr));
      srv.handleMessage(message('/chatter', 'std_msgs/msg/String', { msg: { data: 'json still works' } }));
      assert.equal(node.logged('warn', /\/scan.*encoding cdr/).length, 1);
      assert.equal(srv.dropCounts().publish_failed, 3);
      assert.deepEqual(graph.messagesOn('/chatter'), [{ data: 'json still works' }]);
    });

    it('says that only the topic\'s CDR messages are dropped, as it goes on publishing the JSON ones', () => {
      // One raw envelope from any sender on a shared topic said all its further messages were dropped, while the
      // bridge's JSON ones went on being published (and the key kept their own failures out of the log).
      const { node, graph, srv } = ros1Server();
      srv.handleMessage(message('/chatter', 'std_msgs/msg/String', { msg: { data: 'before' } }));
      srv.handleMessage(message('/chatter', 'std_msgs/msg/String', { cdr: Buffer.from([0, 1, 0, 0, 5]).toString('base64') }));
      srv.handleMessage(message('/chatter', 'std_msgs/msg/String', { msg: { data: 'after' } }));
      assert.deepEqual(graph.messagesOn('/chatter'), [{ data: 'before' }, { data: 'after' }]);
      const [line] = node.logged('warn', /\/chatter.*encoding cdr/);
      assert.match(line.message, /further messages in cdr encoding for \/chatter are dropped without a log line/);
    });

    it('logs one line per topic, for each topic, when types cannot be mapped to ROS 1', () => {
      const { node, srv } = ros1Server();
      for (let i = 0; i < 3; i++) {
        srv.handleMessage(message('/a', 'builtin_interfaces/msg/Time', { msg: { sec: 1, nanosec: 2 } }));
        srv.handleMessage(message('/b', 'nav2_msgs/msg/Secret', { msg: {} }));
      }
      assert.equal(node.logged('warn', /\/a \(builtin_interfaces\/msg\/Time\)/).length, 1);
      assert.equal(node.logged('warn', /\/b \(nav2_msgs\/msg\/Secret\)/).length, 1);
      assert.equal(srv.dropCounts().unknown_type, 6);
    });
  });
});
