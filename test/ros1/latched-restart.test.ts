import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireOrSkip, Ros1Master, ros1SkipReason, startRoscore } from './ros1-harness';

describe('fastsocket on ROS 1: a latched topic and a server restart', function () {
  this.timeout(120_000);
  let master: Ros1Master | null = null;

  before(function () {
    requireOrSkip(this, 'ROS 1 tests', ros1SkipReason());
  });

  after(async () => {
    await master?.stop();
  });

  it('gives a subscriber that comes after the server restarted the latched message the bridge delivered before', async () => {
    const m = await startRoscore();
    master = m;
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const serverParams = join(m.home, 'server.yaml');
    writeFileSync(serverParams, 'topic_prefix: "/remote"\n');
    const bridgeParams = join(m.home, 'bridge.yaml');
    // ROS 1 cannot tell a latched publisher before connecting: the topic is marked so, as docs/ros1.md says.
    writeFileSync(bridgeParams, ['client_id: "ros1_vehicle"', 'topic_options:', '  map:', '    qos_durability: "transient_local"', '    qos_depth: 1', ''].join('\n'));
    const serverLaunch = `roslaunch fastsocket server.launch params_file:=${serverParams} url:=${url}`;
    let server = m.start(serverLaunch);
    await server.waitFor(/listening on/, 60_000);
    m.start('rostopic pub -l /map std_msgs/String "data: latched map"');
    const bridge = m.start(`roslaunch fastsocket bridge.launch params_file:=${bridgeParams} url:=${url}`);
    await server.waitFor(/republishing \/remote\/map/, 60_000);
    assert.match(await m.run('rostopic echo -n 1 /remote/map', 30_000), /^data: "latched map"$/m);

    assert.equal(await server.stop(), 0);
    server = m.start(serverLaunch);
    await server.waitFor(/listening on/, 60_000);
    // The publisher published once, long ago: only the bridge sending it again can give the new server the message.
    assert.match(await m.run('rostopic echo -n 1 /remote/map', 30_000), /^data: "latched map"$/m);
    assert.match(bridge.output(), /server restarted .*again, 1 on \/map/);
  });
});
