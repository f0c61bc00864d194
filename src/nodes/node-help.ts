/**
 * What a node executable does with arguments of its own (those ROS does not read): `--help` or `-h` prints how to
 * start and configure it and exits 0, before ROS is loaded, so it also works where ROS is not sourced; any other is
 * named on stderr as ignored, with where parameters go instead (a node is configured by ROS parameters only).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export type RosVersion = 'ROS 2' | 'ROS 1';
export type Executable = 'bridge' | 'server' | 'talker';

/** The arguments ROS does not read: ROS 2's outside `--ros-args ... [--]`, ROS 1's without `:=`. */
export function ownArgs(args: readonly string[], ros: RosVersion): string[] {
  if (ros === 'ROS 1') return args.filter((a) => !a.includes(':='));
  const own: string[] = [];
  let inRosArgs = false;
  for (const a of args) {
    if (a === '--ros-args') inRosArgs = true;
    else if (a === '--' && inRosArgs) inRosArgs = false;
    else if (!inRosArgs) own.push(a);
  }
  return own;
}

/** The name the executable is started by: ROS 1's carry a 1 (bridge1, server1). */
function executableName(executable: Executable, ros: RosVersion): string {
  return ros === 'ROS 1' ? `${executable}1` : executable;
}

/**
 * The shipped example params file of an executable: config/ beside dist/ in the repository and in the installed
 * share/fastsocket/ (and beside build/ for the tests), found by walking up from this file.
 */
function exampleParams(executable: 'bridge' | 'server', ros: RosVersion): string {
  const relative = path.join('config', ...(ros === 'ROS 1' ? ['ros1'] : []), `${executable}.yaml`);
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, relative))) return path.join(dir, relative);
  }
  return `${relative} in the fastsocket package`;
}

const SUMMARY: Record<Executable, string> = {
  bridge:
    'Subscribes to the topics named in its parameters and forwards every message to a fastsocket server: queued\n' +
    'while offline, resent after a reconnect. Its link state and counters are on /diagnostics.',
  server:
    'Republishes what bridges send, on the same topic names (topic_prefix before them), with their type and QoS,\n' +
    'and publishes the one-way latency of every message (ms) on ~/latency and window statistics on ~/latency_stats.',
  talker: 'Demo publisher: std_msgs String messages on chatter.',
};

const MAIN_PARAMS: Record<Executable, Array<[string, string]>> = {
  bridge: [
    ['url', 'server to forward to: tcp://, tls://, ws:// or wss://HOST:PORT (default tcp://127.0.0.1:8888)'],
    ['topics', "topics to forward, e.g. ['/chatter', '/fix']; type and QoS are taken from the graph"],
    ['client_id', 'how the server tells this sender apart (default: the host name)'],
  ],
  server: [
    ['url', 'where to listen (default tcp://127.0.0.1:8888; tcp://0.0.0.0:8888 accepts other machines)'],
    ['topic_prefix', 'put before every republished topic, e.g. /remote or /{client_id} (default: none)'],
    ['state_dir', 'folder of the dedup journal: a message resent after a server crash is published once'],
  ],
  talker: [
    ['rate_hz', 'messages per second (default 10)'],
    ['message', 'text before the counter (default Hello World)'],
  ],
};

/** The text `--help` prints for an executable. */
export function nodeHelp(executable: Executable, ros: RosVersion): string {
  const lines: string[] = [];
  if (ros === 'ROS 2') {
    if (executable !== 'talker') lines.push(`usage: ros2 launch fastsocket ${executable}.launch.py [url:=URL] [params_file:=FILE] [log_level:=LEVEL] [node_name:=NAME] [namespace:=NS]`, `       ros2 run fastsocket ${executable} [--ros-args --params-file FILE | --ros-args -p NAME:=VALUE ...]`);
    else lines.push('usage: ros2 run fastsocket talker [--ros-args -p rate_hz:=HZ]');
  } else {
    if (executable !== 'talker') lines.push(`usage: roslaunch fastsocket ${executable}.launch [url:=URL] [params_file:=FILE] [log_level:=LEVEL] [node_name:=NAME]`, `       rosrun fastsocket ${executableName(executable, ros)} [_NAME:=VALUE ...] [__name:=NODE_NAME]`);
  }
  lines.push('', SUMMARY[executable], '');
  const params = MAIN_PARAMS[executable];
  if (executable === 'talker') lines.push('Parameters:');
  else lines.push(`Main parameters (every one, with its default and meaning, in the example params file):`);
  const width = Math.max(...params.map(([name]) => name.length));
  for (const [name, meaning] of params) lines.push(`  ${name.padEnd(width)}  ${meaning}`);
  if (executable !== 'talker') {
    lines.push('', `Example params file: ${exampleParams(executable, ros)}`);
    lines.push(`Documentation: docs/${ros === 'ROS 2' ? 'ros2' : 'ros1'}.md in the fastsocket repository.`);
  }
  return lines.join('\n') + '\n';
}

/** Why an argument the node does not read changes nothing, and what does. */
export function ignoredArgWarning(arg: string, executable: Executable, ros: RosVersion): string {
  const how = ros === 'ROS 2' ? 'ROS parameters (--ros-args -p NAME:=VALUE or --params-file FILE)' : 'private parameters (_NAME:=VALUE) or a launch file';
  return `${executableName(executable, ros)}: ignoring argument ${JSON.stringify(arg)}: this node is configured by ${how}; --help lists them`;
}
