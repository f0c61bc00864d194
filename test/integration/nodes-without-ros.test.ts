import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The environment of a shell where ROS 2 was never sourced. */
function withoutRos(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME };
}

describe('node entry points', () => {
  describe('#start without ROS 2 sourced', () => {
    for (const name of ['bridge', 'server', 'talker']) {
      it(`exits 1 with one line saying ROS 2 must be sourced when the ${name} starts`, function () {
        this.timeout(20_000);
        const entry = resolve(__dirname, `../../src/nodes/${name}.js`);
        assert.ok(existsSync(entry), entry);
        const r = spawnSync(process.execPath, [entry], { env: withoutRos(), encoding: 'utf8', timeout: 15_000 });
        assert.equal(r.status, 1);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], /^ROS 2 must be sourced/);
      });
    }
  });

  describe('#--help, without ROS sourced', () => {
    const executables: Array<[string, RegExp, RegExp]> = [
      ['bridge', /^usage: ros2 launch fastsocket bridge\.launch\.py/, /--ros-args --params-file FILE/],
      ['server', /^usage: ros2 launch fastsocket server\.launch\.py/, /topic_prefix/],
      ['talker', /^usage: ros2 run fastsocket talker/, /rate_hz/],
      ['bridge1', /^usage: roslaunch fastsocket bridge\.launch/, /rosrun fastsocket bridge1/],
      ['server1', /^usage: roslaunch fastsocket server\.launch/, /rosrun fastsocket server1/],
    ];
    for (const [name, usage, detail] of executables) {
      it(`${name} --help prints how to start and configure it and exits 0, loading no ROS`, function () {
        this.timeout(20_000);
        const entry = resolve(__dirname, `../../src/nodes/${name}.js`);
        const r = spawnSync(process.execPath, [entry, '--help'], { env: withoutRos(), encoding: 'utf8', timeout: 15_000 });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, '');
        assert.match(r.stdout, usage);
        assert.match(r.stdout, detail);
        const example = /^Example params file: (.+)$/m.exec(r.stdout);
        if (name !== 'talker') {
          assert.ok(example, r.stdout);
          assert.ok(existsSync(example[1]), `the example params file it names does not exist: ${example[1]}`);
          assert.match(example[1], name.endsWith('1') ? /config\/ros1\/(bridge|server)\.yaml$/ : /config\/(bridge|server)\.yaml$/);
        }
      });
    }

    it('names an argument it does not read as ignored, and where parameters go, then starts as without it', function () {
      this.timeout(20_000);
      const entry = resolve(__dirname, '../../src/nodes/bridge.js');
      const r = spawnSync(process.execPath, [entry, '--url', 'tcp://10.0.0.5:8888', '--ros-args', '-p', 'topics:=[/a]'], { env: withoutRos(), encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 1);
      const lines = r.stderr.trim().split('\n');
      assert.deepEqual(
        lines.slice(0, 2).map((l) => /^bridge: ignoring argument "(.*?)": this node is configured by ROS parameters/.exec(l)?.[1]),
        ['--url', 'tcp://10.0.0.5:8888'],
        r.stderr,
      );
      assert.equal(lines.length, 3, r.stderr);
      assert.match(lines[2], /^ROS 2 must be sourced/);
    });
  });
});
