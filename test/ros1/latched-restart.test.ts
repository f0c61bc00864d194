import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, roscoresOfSuite } from './ros1-harness';

describe('fastsocket on ROS 1: latched topics, a server restart and a bridge that marks a topic later', function () {
  this.timeout(120_000);
  const roscore = roscoresOfSuite();

  it('gives a subscriber that comes after the server restarted the latched message the bridge delivered before', async () => {
    const m = await roscore();
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

  // Regression test: the ROS 1 server kept a topic's first publisher whatever QoS came later, so a user who had not
  // marked a latched topic, then did as docs/ros1.md says and restarted the bridge, still saw subscribers that came
  // later get nothing: the topic stayed unlatched until the server was restarted too.
  it('latches a topic that first arrived volatile once its bridge forwards it transient_local', async () => {
    const m = await roscore();
    const server = m.start('bin/server1 _url:=tcp://127.0.0.1:0 _topic_prefix:=/remote');
    const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
    m.start('rostopic pub -l /map std_msgs/String "data: latched map"');
    const unmarked = m.start(`bin/bridge1 __name:=vehicle _url:=${url} "_topics:=[/map]"`);
    await server.waitFor(/republishing \/remote\/map \(std_msgs\/msg\/String, reliable\/volatile/, 60_000);
    assert.equal(await unmarked.stop(15_000), 0);
    m.start(`bin/bridge1 __name:=vehicle _url:=${url} "_topic_options:={map: {qos_durability: transient_local, qos_depth: 1}}"`);
    await server.waitFor(/republishing \/remote\/map as reliable\/transient_local\/depth 1 \(was reliable\/volatile\/depth \d+\)/, 30_000);
    assert.match(await m.run('rostopic echo -n 1 /remote/map', 30_000), /^data: "latched map"$/m);
  });
});
