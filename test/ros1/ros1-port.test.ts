import { strict as assert } from 'node:assert';
import { openRos1Port, Ros1Node, Ros1Port } from '../../src/ros1/ros1-port';
import { qos } from '../../src/ros/qos';
import { requireOrSkip, Ros1Master, ros1SkipReason, startRoscore } from './ros1-harness';

const FLOAT64 = 'std_msgs/msg/Float64';
const Q = qos('reliable', 'volatile', 10);

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
});
