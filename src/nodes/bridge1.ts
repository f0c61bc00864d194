#!/usr/bin/env node
/** Entry point of the `bridge1` executable: the ROS 2 bridge's logic on the ROS 1 port, feeding a server of either version. */
import { startBridge } from './bridge';
import { runRos1Node } from './run-ros1-node';

void runRos1Node('bridge', 'fastsocket_bridge', startBridge);
