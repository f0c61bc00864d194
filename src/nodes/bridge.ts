#!/usr/bin/env node
/** Entry point of the `bridge` executable: forwards ROS 2 topics to a fastsocket server. */
import { hostname } from 'node:os';
import { FastSocketClient } from '../fastsocket';
import { Bridge } from '../ros/bridge';
import { readBridgeConfig } from '../ros/bridge-config';
import { runNode } from './run-node';

void runNode('fastsocket_bridge', (node) => {
  const config = readBridgeConfig(node, hostname());
  const client = new FastSocketClient({ url: config.url, clientId: config.clientId, token: config.token ?? undefined, logger: node.logger });
  const bridge = new Bridge(node, config, client);
  bridge.start();
  node.logger.info(`bridge ${config.clientId} forwarding ${config.topics.length} topic(s) to ${config.url}`);
  return { close: () => bridge.close() };
});
