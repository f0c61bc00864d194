#!/usr/bin/env node
/** Entry point of the `server` executable: republishes what bridges send and publishes its latency. */
import { FastSocketServer } from '../fastsocket';
import { readServerConfig } from '../ros/server-config';
import { ServerNode } from '../ros/server-node';
import { runNode } from './run-node';

void runNode('fastsocket_server', async (node) => {
  const config = readServerConfig(node);
  const server = new FastSocketServer({
    url: config.url, stateDir: config.stateDir ?? undefined, token: config.token ?? undefined, logger: node.logger,
  });
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
});
