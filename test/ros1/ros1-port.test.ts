import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Foxglove, loadFoxglove, openRos1Port, Ros1Node, Ros1Port } from '../../src/ros1/ros1-port';
import type { RosPublisher } from '../../src/ros/port';
import { qos } from '../../src/ros/qos';
import type { Proc } from '../ros/ros-harness';
import { requireOrSkip, Ros1Master, ros1SkipReason, startRoscore } from './ros1-harness';

const FLOAT64 = 'std_msgs/msg/Float64';
const BYTES = 'std_msgs/msg/UInt8MultiArray';
const Q = qos('reliable', 'volatile', 10);

const bytesMessage = (bytes: number) => ({ layout: { dim: [], data_offset: 0 }, data: new Uint8Array(bytes) });

/** A rospy subscriber of `topic` (UInt8MultiArray) named `name`, printing `n <count>` at each message. */
function startCountingSubscriber(master: Ros1Master, name: string, topic: string): Proc {
  const script = join(master.home, 'counting_sub.py');
  writeFileSync(script, [
    'import sys, rospy',
    'from std_msgs.msg import UInt8MultiArray',
    'rospy.init_node(sys.argv[1])',
    'n = [0]',
    'def cb(m):',
    '    n[0] += 1',
    "    print('n %d' % n[0], flush=True)",
    "rospy.Subscriber(sys.argv[2], UInt8MultiArray, cb, queue_size=10000, buff_size=1 << 26)",
    "print('subscribed', flush=True)",
    'rospy.spin()',
    '',
  ].join('\n'));
  return master.start(`python3 ${script} ${name} ${topic}`);
}

/** Publishes 1-byte messages until every subscriber got one: what is published before one connects never reaches it. */
async function publishUntilReceived(pub: RosPublisher, subscribers: readonly Proc[]): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (!subscribers.every((s) => /^n 1$/m.test(s.output()))) {
    assert.ok(performance.now() < deadline, `the subscribers did not connect:\n${subscribers.map((s) => s.output()).join('\n')}`);
    pub.publish(bytesMessage(1));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the period of the retry, not a wait for an event
  }
}

/** Polls the master until `done` holds for this node's view of the graph, or fails after `timeoutMs`. */
async function untilGraph(node: Ros1Node, done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    await node.refreshGraph();
    if (done()) return;
    if (performance.now() >= deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Ros1Node on a real roscore', function () {
  this.timeout(60_000);
  let master: Ros1Master | null = null;
  let port: Ros1Port | null = null;

  before(async function () {
    requireOrSkip(this, 'ROS 1 tests', ros1SkipReason());
    this.timeout(120_000);
    master = await startRoscore();
  });

  after(async () => {
    await port?.close();
    await master?.stop();
  });

  describe('#createPublisher', () => {
    let node: Ros1Node;

    before(async () => {
      port = await openRos1Port({ env: master!.env(), args: ['__name:=port_test'], rosout: false, subscriberWaitMs: 0, masterWaitMs: 10_000 });
      node = port.createNode('port_test');
      await node.whenReady();
    });

    const listed = (t: string) => node.publishersInfo(t).some((p) => p.nodeName === 'port_test');

    it('stays registered with the master when created again right after a publisher of the same topic was destroyed', async () => {
      // The server does this when max_topics closes a vehicle's topic to open one whose ~latency/<topic> is the same.
      const topics = Array.from({ length: 12 }, (_, i) => `/recreated_${i}`);
      for (const t of topics) {
        const first = node.createPublisher(FLOAT64, t, Q);
        await untilGraph(node, () => listed(t), `${t} registered`);
        first.destroy();
        node.createPublisher(FLOAT64, t, Q);
      }
      await untilGraph(node, () => topics.every(listed), 'every re-created publisher registered', 5_000)
        .catch(() => assert.fail(`the master lost re-created publishers: ${topics.filter((t) => !listed(t)).join(', ')}`));
    });

    it('stays registered with the master when created again while the destroyed one was still registering', async () => {
      const topics = Array.from({ length: 6 }, (_, i) => `/recreated_early_${i}`);
      for (const t of topics) {
        node.createPublisher(FLOAT64, t, Q).destroy();
        node.createPublisher(FLOAT64, t, Q);
      }
      await untilGraph(node, () => topics.every(listed), 'every re-created publisher registered', 5_000)
        .catch(() => assert.fail(`the master lost re-created publishers: ${topics.filter((t) => !listed(t)).join(', ')}`));
    });
  });

  describe('#createPublisher on a large graph', () => {
    // Regression test: each new publication asked the master for the whole graph (getSystemState) to learn how many
    // subscribers to wait for. Parsing that answer blocked the event loop 60-200 ms on a 570-topic graph, so a server
    // republishing 200 topics (400 publications with their ~latency/<topic>) stopped acknowledging for 5 s and its
    // bridge dropped 791 messages from a full outbox. The master's answer to the registration lists the subscribers.
    it('registers a publication without a graph query, and still hands its first message to a subscriber already waiting', async () => {
      const fg = loadFoxglove();
      const asked: string[] = [];
      const counting: Foxglove = {
        ...fg,
        XmlRpcClient: class extends fg.XmlRpcClient {
          override methodCall(method: string, params?: unknown[]): Promise<unknown> {
            asked.push(method);
            return super.methodCall(method, params);
          }
        },
      };
      const master1 = new fg.XmlRpcClient(master!.uri);
      const p = await openRos1Port({ env: master!.env(), args: ['__name:=graph_test'], rosout: false, masterWaitMs: 10_000, foxglove: counting });
      // rostopic echo subscribes only once the topic has a publisher; this one is there before it.
      const echo = master!.start(
        `python3 -c "import rospy; from std_msgs.msg import Float64; rospy.init_node('first_sub'); ` +
          `rospy.Subscriber('/first_of_many', Float64, lambda m: print('data: %s' % m.data, flush=True)); rospy.spin()"`,
      );
      try {
        const node = p.createNode('graph_test');
        await node.whenReady();
        const deadline = performance.now() + 30_000;
        for (;;) {
          const [, , state] = (await master1.methodCall('getSystemState', ['/graph_test'])) as [number, string, [unknown, Array<[string, string[]]>]];
          if (state[1].some(([t]) => t === '/first_of_many')) break;
          assert.ok(performance.now() < deadline, `the subscriber did not register:\n${echo.output()}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        asked.length = 0;
        for (let i = 0; i < 20; i++) node.createPublisher(FLOAT64, `/many_${i}`, Q).publish({ data: i });
        node.createPublisher(FLOAT64, '/first_of_many', Q).publish({ data: 42 });
        await echo.waitFor(/^data: 42\.0$/m, 30_000);
        assert.deepEqual(asked.filter((m) => m === 'getSystemState'), []);
      } finally {
        await echo.stop(5000);
        await p.close();
      }
    });
  });

  describe('#createPublisher latched', () => {
    // Regression test: a latched publication handed a new subscriber only its last message, so /tf_static from a
    // vehicle's several static broadcasters (a ROS 2 bridge sends it transient-local with their summed depth) reached
    // a ROS 1 subscriber that came later as the last broadcaster's transforms alone; a ROS 2 server hands it all.
    it('hands a subscriber that comes later the last depth messages of a transient_local topic, oldest first', async () => {
      const p = await openRos1Port({ env: master!.env(), args: ['__name:=latch_test'], rosout: false, subscriberWaitMs: 0, masterWaitMs: 10_000 });
      try {
        const node = p.createNode('latch_test');
        await node.whenReady();
        const pub = node.createPublisher('std_msgs/msg/String', '/latched_history', qos('reliable', 'transient_local', 3));
        for (const data of ['m0', 'm1', 'm2', 'm3']) pub.publish({ data });
        const echo = master!.start('rostopic echo /latched_history');
        await echo.waitFor(/^data: "m3"$/m, 30_000);
        assert.deepEqual([...echo.output().matchAll(/^data: "(\w+)"$/gm)].map((m) => m[1]), ['m1', 'm2', 'm3']);
        await echo.stop(5000);
      } finally {
        await p.close();
      }
    });
  });

  describe('#createPublisher with a subscriber that stops reading', () => {
    // Regression test: @foxglove/ros1 handed every message to every subscriber's socket without a limit, so a
    // subscriber that stopped reading (a frozen node, rviz behind a slow link) kept all later messages in the
    // server's memory: a stopped subscriber of a 5 Hz, 2 MB camera took server1 from 135 MB to 1 GB in 30 s.
    it('drops messages for that subscriber alone once subscriberBacklogBytes of them wait, and still sends every one to the others', async () => {
      const limit = 4 * 1024 * 1024;
      const lines: string[] = [];
      const p = await openRos1Port({
        env: master!.env(), args: ['__name:=backlog_test'], rosout: false, subscriberWaitMs: 0, masterWaitMs: 10_000,
        subscriberBacklogBytes: limit, logSink: (_level, line) => lines.push(line),
      });
      const healthy = startCountingSubscriber(master!, 'healthy_sub', '/backlog');
      const stalled = startCountingSubscriber(master!, 'stalled_sub', '/backlog');
      try {
        const node = p.createNode('backlog_test');
        await node.whenReady();
        const pub = node.createPublisher(BYTES, '/backlog', Q);
        await publishUntilReceived(pub, [healthy, stalled]);
        process.kill(stalled.child.pid as number, 'SIGSTOP');
        const base = Number([...healthy.output().matchAll(/^n (\d+)$/gm)].pop()![1]);
        // 40 MiB: more than the stopped subscriber's socket buffers take, so the rest waits in this process. Paced by
        // the healthy subscriber (at most 4 messages, 1 MiB, ahead of it), which must get every one.
        const count = 160;
        for (let i = 1; i <= count; i++) {
          pub.publish(bytesMessage(256 * 1024));
          if (i > 4) await healthy.waitFor(new RegExp(`^n ${base + i - 4}$`, 'm'), 10_000);
        }
        await healthy.waitFor(new RegExp(`^n ${base + count}$`, 'm'), 10_000);
        const warning = lines.find((l) => /dropped a message on \/backlog for the subscriber \/stalled_sub/.test(l));
        assert.ok(warning !== undefined, `no warning about the stopped subscriber; log:\n${lines.join('\n')}`);
        assert.match(warning, /\[ WARN\]/);
        assert.ok(!lines.some((l) => /healthy_sub/.test(l)), `the healthy subscriber was held back:\n${lines.join('\n')}`);
      } finally {
        try {
          process.kill(stalled.child.pid as number, 'SIGCONT');
        } catch {
          // Already gone.
        }
        await Promise.all([healthy.stop(5000), stalled.stop(5000)]);
        await p.close();
      }
    });
  });

  describe('#createPublisher with a subscriber that goes away', () => {
    // Regression test: every `rostopic echo -n 1` of a camera topic left a WARN in the server's log and on /rosout,
    // 'failed to write 6220849 bytes to tcpros://...: Error: write EPIPE': the subscriber closing while a message to it
    // was being written. That is how a subscriber's link ends, as the ECONNRESET lines logged at debug already say.
    it('logs the writes that fail because the subscriber left at debug, not as warnings', async () => {
      const lines: string[] = [];
      const p = await openRos1Port({
        env: master!.env(), args: ['__name:=gone_test'], rosout: false, subscriberWaitMs: 0, masterWaitMs: 10_000,
        logLevel: 'debug', logSink: (_level, line) => lines.push(line),
      });
      const sub = startCountingSubscriber(master!, 'leaving_sub', '/gone');
      try {
        const node = p.createNode('gone_test');
        await node.whenReady();
        const pub = node.createPublisher(BYTES, '/gone', Q);
        await publishUntilReceived(pub, [sub]);
        // Stopped, it reads nothing: 24 MiB is more than the sockets' buffers take, so writes to it are under way
        // when it is killed, and fail.
        process.kill(sub.child.pid as number, 'SIGSTOP');
        for (let i = 0; i < 24; i++) pub.publish(bytesMessage(1024 * 1024));
        process.kill(sub.child.pid as number, 'SIGKILL');
        const deadline = performance.now() + 20_000;
        while (!lines.some((l) => /failed to write \d+ bytes to tcpros:\/\//.test(l))) {
          assert.ok(performance.now() < deadline, `no failed write was logged:\n${lines.join('\n')}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(lines.filter((l) => /\[ WARN\]|\[ERROR\]/.test(l)), []);
      } finally {
        await sub.stop(5000);
        await p.close();
      }
    });
  });
});
