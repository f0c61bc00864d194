#!/usr/bin/env node
/** Entry point of the `server1` executable: the ROS 2 server's logic on the ROS 1 port, fed by bridges of either version. */
import { startServer } from './server';
import { runRos1Node } from './run-ros1-node';

void runRos1Node('server', 'fastsocket_server', startServer);
