import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../ros/ros-harness';
import { roscoresOfSuite } from './ros1-harness';

const FIXTURES = join(REPO, 'test/ros1/fixtures');

/**
 * Field-by-field fidelity between two roscores (a vehicle and a server machine): every case of
 * fixtures/ros1_cases.py (64-bit integers beyond 2^53, NaN, ±Inf, -0.0, subnormals, byte and char, time after 2038,
 * negative durations, fixed, variable and empty arrays, a 1 MB image, a point cloud, CameraInfo) published by rospy
 * on one master, forwarded by bridge1 to server1 on the other, and compared byte for byte after genpy serialization
 * (Header.seq aside, which the server numbers itself).
 */
describe('fastsocket ROS 1 message fidelity (bridge1 and server1 on two roscores)', function () {
  this.timeout(120_000);
  const roscore = roscoresOfSuite();

  it('delivers every field of every case unchanged', async () => {
    const [vehicle, infra] = await Promise.all([roscore(), roscore()]);
    const names = JSON.parse(await vehicle.run(`python3 ${join(FIXTURES, 'ros1_cases.py')}`, 30_000)) as string[];
    const server = infra.start('bin/server1 _url:=tcp://127.0.0.1:0 _topic_prefix:=/remote');
    const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const receiver = infra.start(`python3 ${join(FIXTURES, 'ros1_receive.py')} /remote`);
    await receiver.waitFor(/^subscribed$/m, 30_000);
    vehicle.start(`python3 ${join(FIXTURES, 'ros1_publish.py')}`);
    const params = join(vehicle.home, 'bridge.yaml');
    writeFileSync(params, `url: "${url}"\ntopics: [${names.map((n) => `"/in/${n}"`).join(', ')}]\n`);
    await vehicle.run(`rosparam load ${params} /fastsocket_bridge`, 30_000);
    const bridge = vehicle.start('bin/bridge1');
    await receiver.waitFor(/\{"done": \d+\}/, 90_000);
    const results = receiver.output().split('\n').filter((l) => l.startsWith('{"topic"')).map((l) => JSON.parse(l) as { topic: string; ok: boolean; diff: string[] });
    assert.equal(results.length, names.length);
    assert.deepEqual(results.filter((r) => !r.ok), []);
    for (const p of [bridge, server]) assert.doesNotMatch(p.output(), /dropped a message|\[ERROR\]/);
  });
});
