/**
 * What every node entry point shares, for ROS 2 and ROS 1 alike: load ROS (or say in one sentence that it must be
 * sourced), create the node under its default name (remaps and params from argv apply), and turn SIGINT and SIGTERM
 * into a clean shutdown with exit code 0 (`ros2 launch` and roslaunch send SIGINT, then SIGTERM; neither rclnodejs
 * nor our ROS 1 port handles them for us).
 */
import { FastSocketError } from '../fastsocket';
import { RosError } from '../ros/errors';
import type { RosNode } from '../ros/port';
import { openRclnodejsPort } from '../ros/rclnodejs-port';
import { Executable, ignoredArgWarning, nodeHelp, ownArgs, RosVersion } from './node-help';

export interface RunningNode {
  close(): Promise<void>;
}

/** One ROS version as an entry point sees it. */
export interface RosRuntime {
  /** Which ROS, for messages and for telling its arguments from the node's own. */
  readonly name: RosVersion;
  /** Loads the client library and reads argv; rejects with a RosError that says what is missing. */
  open(): Promise<OpenRuntime>;
}

export interface OpenRuntime {
  /** Creates the node and resolves once it can be used (ROS 1: registered with the master). */
  createNode(name: string): Promise<RosNode>;
  /** Takes every node down (ROS 1: unregisters from the master first). */
  close(): Promise<void>;
}

export const ROS2_RUNTIME: RosRuntime = {
  name: 'ROS 2',
  async open() {
    const port = await openRclnodejsPort(process.argv);
    return {
      createNode: async (name) => port.createNode(name),
      close: async () => port.shutdown(),
    };
  },
};

const CLOSE_TIMEOUT_MS = 4000;

/**
 * Runs `executable` as a node named `defaultName` unless remapped. `--help` prints its usage and exits 0 before ROS
 * is loaded; other arguments ROS does not read are warned about and ignored.
 */
export async function runNode(
  executable: Executable,
  defaultName: string,
  start: (node: RosNode) => Promise<RunningNode> | RunningNode,
  runtime: RosRuntime = ROS2_RUNTIME,
): Promise<void> {
  let opened: OpenRuntime | null = null;
  let node: RosNode | null = null;
  let running: RunningNode | null = null;
  let stopping = false;
  // Installed first, so a signal that arrives while the node is still starting also ends it cleanly.
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(0);
    stopping = true;
    node?.logger.info(`${signal}: shutting down`);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
    let portClosed: Promise<void> | undefined;
    // Also called when the deadline wins: ROS 2's shutdown is synchronous and still runs before the exit.
    const closePort = () => (portClosed ??= opened?.close() ?? Promise.resolve());
    Promise.race([(running?.close() ?? Promise.resolve()).finally(closePort), deadline])
      .catch((err: Error) => node?.logger.error(`error while closing: ${err.message}`))
      .finally(() => {
        void closePort().catch(() => undefined);
        process.exit(0);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const own = ownArgs(process.argv.slice(2), runtime.name);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(nodeHelp(executable, runtime.name));
    process.exit(0);
  }
  for (const arg of own) process.stderr.write(`${ignoredArgWarning(arg, executable, runtime.name)}\n`);

  try {
    opened = await runtime.open();
  } catch (err) {
    process.stderr.write(`${err instanceof RosError ? err.message : `${runtime.name} could not be initialised: ${(err as Error).message}`}\n`);
    process.exit(1);
  }
  try {
    node = await opened.createNode(defaultName);
    const started = await start(node);
    if (stopping) await started.close();
    else running = started;
  } catch (err) {
    // Our own errors say what went wrong in one line (a port in use, a bad parameter); a stack is for the unexpected.
    const message =
      err instanceof RosError ? err.message : err instanceof FastSocketError ? `failed to start: ${err.message}` : `failed to start: ${(err as Error).stack ?? String(err)}`;
    if (node) node.logger.error(message);
    else process.stderr.write(`${message}\n`);
    await opened.close().catch(() => undefined);
    process.exit(1);
  }
}
