#!/usr/bin/env node
/** Entry point of the `bridge` executable: forwards ROS 2 topics to a fastsocket server. */
import { hostname } from 'node:os';
import { FastSocketClient } from '../fastsocket';
import { Bridge } from '../ros/bridge';
import { clientOptions, readBridgeConfig } from '../ros/bridge-config';
import { openParamPath } from '../ros/params';
import type { RosNode } from '../ros/port';
import { runNode, RunningNode } from './run-node';

/** Reads the bridge's parameters and starts forwarding; bridge1 (ROS 1) runs the same function on its own port. */
export function startBridge(node: RosNode): RunningNode {
  const config = readBridgeConfig(node, hostname());
  const client = openParamPath('outbox_path', config.outboxPath, () => new FastSocketClient(clientOptions(config, node.logger)));
  const bridge = new Bridge(node, config, client);
  bridge.start();
  node.logger.info(`bridge ${config.clientId} forwarding ${config.topics.length} topic(s) to ${config.url}`);
  return { close: () => bridge.close() };
}

if (require.main === module) void runNode('bridge', 'fastsocket_bridge', startBridge);
