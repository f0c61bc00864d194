/**
 * The ROS 1 runtime for runNode: ROS 1 arguments from argv apply (`__name:=`, `_param:=`, remaps), a node is ready
 * once the master knows it, closing unregisters it from the master, and the master's shutdown request ends the
 * process like SIGTERM.
 */
import type { RosNode } from '../ros/port';
import { openRos1Port } from '../ros1/ros1-port';
import type { Executable } from './node-help';
import { RosRuntime, runNode, RunningNode } from './run-node';

export const ROS1_RUNTIME: RosRuntime = {
  name: 'ROS 1',
  async open() {
    const port = await openRos1Port({
      args: process.argv.slice(2),
      logSink: (level, line) => (level === 'warn' || level === 'error' ? process.stderr : process.stdout).write(`${line}\n`),
      onWaitingForMaster: (uri) => process.stderr.write(`waiting for the ROS 1 master at ${uri}\n`),
      // As roscpp and rospy do: a node the master shut down (its name taken, `rosnode kill`) exits.
      onShutdownRequest: () => void process.emit('SIGTERM', 'SIGTERM'),
    });
    return {
      createNode: async (name) => {
        const node = port.createNode(name);
        await node.whenReady();
        return node;
      },
      close: () => port.close(),
    };
  },
};

export function runRos1Node(executable: Executable, defaultName: string, start: (node: RosNode) => Promise<RunningNode> | RunningNode): Promise<void> {
  return runNode(executable, defaultName, start, ROS1_RUNTIME);
}
