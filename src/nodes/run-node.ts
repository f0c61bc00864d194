/**
 * What every node entry point shares: load ROS (or say in one sentence that it must be sourced), create the node
 * under its default name (remaps and params files from argv apply), and turn SIGINT and SIGTERM into a clean
 * shutdown with exit code 0 (`ros2 launch` sends SIGINT, then SIGTERM; rclnodejs handles neither for us).
 */
import { RosError } from '../ros/errors';
import type { RosNode, RosPort } from '../ros/port';
import { openRclnodejsPort } from '../ros/rclnodejs-port';

export interface RunningNode {
  close(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 4000;

export async function runNode(defaultName: string, start: (node: RosNode) => Promise<RunningNode> | RunningNode): Promise<void> {
  let port: RosPort | null = null;
  let node: RosNode | null = null;
  let running: RunningNode | null = null;
  let stopping = false;
  // Installed first, so a signal that arrives while the node is still starting also ends it cleanly.
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(0);
    stopping = true;
    node?.logger.info(`${signal}: shutting down`);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
    Promise.race([running?.close() ?? Promise.resolve(), deadline])
      .catch((err: Error) => node?.logger.error(`error while closing: ${err.message}`))
      .finally(() => {
        port?.shutdown();
        process.exit(0);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  try {
    port = await openRclnodejsPort(process.argv);
  } catch (err) {
    process.stderr.write(`${err instanceof RosError ? err.message : `ROS 2 could not be initialised: ${(err as Error).message}`}\n`);
    process.exit(1);
  }
  try {
    node = port.createNode(defaultName);
    const started = await start(node);
    if (stopping) await started.close();
    else running = started;
  } catch (err) {
    const message = err instanceof RosError ? err.message : `failed to start: ${(err as Error).stack ?? String(err)}`;
    if (node) node.logger.error(message);
    else process.stderr.write(`${message}\n`);
    port.shutdown();
    process.exit(1);
  }
}
