#!/usr/bin/env node
/** Entry point of the `server` executable: republishes what bridges send and publishes its latency. */
import { FastSocketServer } from '../fastsocket';
import { openParamPath } from '../ros/params';
import { readServerConfig, serverOptions } from '../ros/server-config';
import { ServerNode } from '../ros/server-node';
import type { RosNode } from '../ros/port';
import { runNode, RunningNode } from './run-node';

/** Reads the server's parameters, listens and starts republishing; server1 (ROS 1) runs the same function on its own port. */
export async function startServer(node: RosNode): Promise<RunningNode> {
  const config = readServerConfig(node);
  const server = openParamPath('state_dir', config.stateDir, () => new FastSocketServer(serverOptions(config, node.logger)));
  const serverNode = new ServerNode(node, config);
  serverNode.attach(server);
  serverNode.start();
  await server.listen();
  return {
    close: async () => {
      serverNode.close();
      await server.close();
    },
  };
}

if (require.main === module) void runNode('server', 'fastsocket_server', startServer);
