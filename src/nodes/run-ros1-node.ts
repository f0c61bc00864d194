/**
 * What the ROS 1 entry points share: open the ROS 1 port (ROS 1 arguments from argv apply: `__name:=`,
 * `_param:=`, remaps), create the node under its default name, start, and turn SIGINT and SIGTERM (roslaunch
 * sends SIGINT, then SIGTERM) into a clean shutdown that unregisters from the master, with exit code 0.
 */
import { RosError } from '../ros/errors';
import type { RosNode } from '../ros/port';
import { openRos1Port, Ros1Port } from '../ros1/ros1-port';
import type { RunningNode } from './run-node';

const CLOSE_TIMEOUT_MS = 4000;

export async function runRos1Node(defaultName: string, start: (node: RosNode) => Promise<RunningNode> | RunningNode): Promise<void> {
  let port: Ros1Port;
  try {
    port = await openRos1Port({
      args: process.argv.slice(2),
      logSink: (level, line) => (level === 'warn' || level === 'error' ? process.stderr : process.stdout).write(`${line}\n`),
      onWaitingForMaster: (uri) => process.stderr.write(`waiting for the ROS 1 master at ${uri}\n`),
    });
  } catch (err) {
    process.stderr.write(`${err instanceof RosError ? err.message : `ROS 1 could not be initialised: ${(err as Error).message}`}\n`);
    process.exit(1);
  }
  let node: RosNode | null = null;
  let running: RunningNode;
  try {
    const n = port.createNode(defaultName);
    node = n;
    await n.whenReady();
    running = await start(n);
  } catch (err) {
    const message = err instanceof RosError ? err.message : `failed to start: ${(err as Error).stack ?? String(err)}`;
    if (node) node.logger.error(message);
    else process.stderr.write(`${message}\n`);
    await port.close();
    process.exit(1);
  }
  const ready = node;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(0);
    stopping = true;
    ready.logger.info(`${signal}: shutting down`);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
    Promise.race([running.close().then(() => port.close()), deadline])
      .catch((err: Error) => ready.logger.error(`error while closing: ${err.message}`))
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
