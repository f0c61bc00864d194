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
});
