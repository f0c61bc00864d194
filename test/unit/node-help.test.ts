import { strict as assert } from 'node:assert';
import { ownArgs } from '../../src/nodes/node-help';

describe('ownArgs (the arguments a node executable reads itself)', () => {
  it('ROS 2: leaves out everything from --ros-args to -- or the end, as rcl reads it', () => {
    assert.deepEqual(ownArgs(['--ros-args', '-r', '__node:=b', '--params-file', '/tmp/p.yaml'], 'ROS 2'), []);
    assert.deepEqual(ownArgs(['--help', '--ros-args', '-p', 'url:=tcp://h:1'], 'ROS 2'), ['--help']);
    assert.deepEqual(ownArgs(['--ros-args', '-p', 'a:=1', '--', '-h', '--ros-args', '--log-level', 'debug'], 'ROS 2'), ['-h']);
    // A -- outside --ros-args is the node's own.
    assert.deepEqual(ownArgs(['--', 'x'], 'ROS 2'), ['--', 'x']);
  });

  it("ROS 1: leaves out remaps, private parameters and roslaunch's __name/__log, i.e. every NAME:=VALUE", () => {
    assert.deepEqual(ownArgs(['__name:=server', '__log:=/tmp/l.log', '_url:=tcp://0.0.0.0:1', 'chatter:=/x'], 'ROS 1'), []);
    assert.deepEqual(ownArgs(['-h', '_topics:=[/a]'], 'ROS 1'), ['-h']);
  });
});
