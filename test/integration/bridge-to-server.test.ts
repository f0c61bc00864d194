import { strict as assert } from 'node:assert';
import { FastSocketServer } from '../../src/fastsocket';
import { Bridge } from '../../src/ros/bridge';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import { qos } from '../../src/ros/qos';
import { readServerConfig } from '../../src/ros/server-config';
import { ServerNode } from '../../src/ros/server-node';
import { startClient, unreachableUrl } from '../support/fixtures';
import { MemoryRosGraph } from '../support/memory-ros-port';
import { useTeardown } from '../support/teardown';
import { waitUntil } from '../support/wait';

const RELIABLE = qos('reliable', 'volatile', 10);

describe('Bridge -> FastSocketClient -> FastSocketServer -> ServerNode (in-memory ROS graphs, real sockets)', () => {
  const teardown = useTeardown();

  it("counts the messages the bridge's client dropped as sender_dropped_messages on the server, not as lost_messages", async () => {
    const url = await unreachableUrl('tcp');
    // The vehicle: its server is not up yet, and its outbox holds 3 messages (drop-newest).
    const vehicle = new MemoryRosGraph();
    const bridgeNode = vehicle.createNode('fastsocket_bridge', { topics: ['/chatter'], client_id: 'veh-1' });
    const client = await startClient(teardown, url, { clientId: 'veh-1', outboxMaxMessages: 3, outboxPolicy: 'drop-newest' });
    const bridge = new Bridge(bridgeNode, readBridgeConfig(bridgeNode, 'veh-1'), client);
    teardown.add(() => bridge.close());
    const pub = vehicle.createNode('talker').createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
    bridge.start();
    for (let i = 0; i < 5; i++) pub.publish({ data: `m${i}` });
    await waitUntil(() => client.stats().dropped === 2, () => `2 messages dropped by the outbox (${JSON.stringify(client.stats())})`);

    // The roadside server comes up: seqs 0-2 arrive, 3 and 4 never will.
    const roadside = new MemoryRosGraph();
    const serverNode = roadside.createNode('fastsocket_server', {});
    const srv = new ServerNode(serverNode, readServerConfig(serverNode));
    srv.start();
    teardown.add(() => srv.close());
    const server = new FastSocketServer({ url });
    teardown.add(() => server.close());
    srv.attach(server);
    await server.listen();
    const counts = () => srv.topicCounts('/chatter')?.get('veh-1');
    await waitUntil(() => counts()?.received === 3, () => `the 3 kept messages at the server (${JSON.stringify(counts())})`);
    pub.publish({ data: 'm5' });
    await waitUntil(() => counts()?.received === 4, () => `m5 at the server (${JSON.stringify(counts())})`);
    assert.deepEqual({ lost: counts()!.lost, sender_dropped: counts()!.sender_dropped }, { lost: 0, sender_dropped: 2 });
    assert.deepEqual(roadside.messagesOn('/chatter'), [{ data: 'm0' }, { data: 'm1' }, { data: 'm2' }, { data: 'm5' }]);
  });
});
