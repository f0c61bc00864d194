/** A client_id is chosen by the peer: the ROS server node must not write its control characters into the ROS log. */
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { readServerConfig } from '../../src/ros/server-config';
import { ServerNode } from '../../src/ros/server-node';
import { MemoryRosGraph } from '../support/memory-ros-port';

describe('ServerNode log lines about a hostile client_id', () => {
  it('escapes control characters of client_id in its hello, duplicate and disconnect lines', () => {
    const graph = new MemoryRosGraph();
    const node = graph.createNode('fastsocket_server', {});
    const srv = new ServerNode(node, readServerConfig(node), { wallNs: () => 1_700_000_000_000_000_000 });
    srv.start();
    const link = new EventEmitter();
    srv.attach(Object.assign(link, { stats: () => ({}) as never }) as unknown as Parameters<ServerNode['attach']>[0]);
    const evil = 'veh\n[WARN] [fastsocket_server]: FORGED\u001b[2J\u0085';
    for (const peer of ['127.0.0.1:5000', '127.0.0.1:5001']) {
      link.emit('connection', { peer, client_id: null });
      link.emit('hello', { peer, client_id: evil });
    }
    link.emit('disconnect', { peer: '127.0.0.1:5000', client_id: evil });
    const lines = [...node.logged('info', /FORGED/), ...node.logged('warn', /FORGED/)].map((l) => l.message);
    assert.equal(lines.length, 4, JSON.stringify(lines));
    for (const line of lines) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f]/, JSON.stringify(line));
    srv.close();
  });
});
