import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Proc } from '../ros/ros-harness';
import { countLines, requireOrSkip, Ros1Master, ros1SkipReason, startRoscore } from './ros1-harness';

/** Floats of every `data:` line in rostopic echo output. */
function dataValues(out: string): number[] {
  return [...out.matchAll(/^data: (\S+)$/gm)].map((m) => Number(m[1]));
}

describe('fastsocket on ROS 1 (bridge1 -> server1 on a real roscore)', function () {
  this.timeout(60_000);
  let master: Ros1Master | null = null;
  let server: Proc;
  let bridge: Proc;

  before(async function () {
    requireOrSkip(this, 'ROS 1 tests', ros1SkipReason());
    this.timeout(120_000);
    const m = await startRoscore();
    master = m;
    const serverParams = join(m.home, 'server.yaml');
    // The url argument overrides the file: port 0 here, and the port actually bound is read from the log.
    writeFileSync(serverParams, 'url: "tcp://127.0.0.1:9"\ntopic_prefix: "/remote"\nstats_window_s: 0.5\n');
    const bridgeParams = join(m.home, 'bridge.yaml');
    writeFileSync(bridgeParams, [
      'client_id: "ros1_vehicle"',
      'topics: ["/chatter", "/ints", "/image", "/once"]',
      'topic_options:',
      '  map:',
      '    qos_durability: "transient_local"',
      '  raw:',
      '    encoding: "cdr"',
      '',
    ].join('\n'));
    server = m.start(`roslaunch fastsocket server.launch params_file:=${serverParams} url:=tcp://127.0.0.1:0`);
    const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
    m.start('rostopic pub -r 10 /chatter std_msgs/String "data: hello ros1"');
    m.start('rostopic pub -r 10 /ints std_msgs/Int64 "data: 9007199254740993"');
    m.start(`rostopic pub -r 10 /image sensor_msgs/CompressedImage "{header: {stamp: {secs: 1700000000, nsecs: 123456789}, frame_id: cam}, format: png, data: [0, 1, 254, 255]}"`);
    m.start('rostopic pub -r 10 /raw std_msgs/String "data: not cdr"');
    // Published once, latched: only a latched republication can hand it to a subscriber that comes later.
    m.start('rostopic pub -l /map std_msgs/String "data: latched map"');
    bridge = m.start(`roslaunch fastsocket bridge.launch params_file:=${bridgeParams} url:=${url}`);
    await bridge.waitFor(/forwarding \/chatter/, 60_000);
  });

  after(async () => {
    await master?.stop();
  });

  describe('#republish', () => {
    it('delivers rostopic pub /chatter to rostopic echo /remote/chatter', async () => {
      const out = await master!.run('rostopic echo -n 1 /remote/chatter', 30_000);
      assert.match(out, /^data: "hello ros1"$/m);
    });

    it('delivers an int64 beyond 2^53 exactly', async () => {
      const out = await master!.run('rostopic echo -n 1 /remote/ints', 30_000);
      assert.match(out, /^data: 9007199254740993$/m);
    });

    it('delivers uint8[] bytes and the Header stamp exactly', async () => {
      const out = await master!.run('rostopic echo -n 1 /remote/image', 30_000);
      assert.match(out, /^data: \[0, 1, 254, 255\]$/m);
      assert.match(out, /^ {4}secs: 1700000000$/m);
      assert.match(out, /^ {4}nsecs: +123456789$/m);
      assert.match(out, /^ {2}frame_id: "cam"$/m);
      assert.match(out, /^format: "png"$/m);
    });

    it('republishes a topic marked transient_local latched, so a later subscriber still gets its one message', async () => {
      await server.waitFor(/republishing \/remote\/map \(std_msgs\/msg\/String, reliable\/transient_local/, 30_000);
      const out = await master!.run('rostopic echo -n 1 /remote/map', 30_000);
      assert.match(out, /^data: "latched map"$/m);
    });

    it('forwards a topic marked transient_local without warning that its ROS 1 publisher cannot match that QoS', async () => {
      // docs/ros1.md says to mark a latched topic so; TCPROS has no QoS, so the publisher is heard whatever it is marked.
      await bridge.waitFor(/forwarding \/map \(std_msgs\/msg\/String, json, reliable\/transient_local/, 30_000);
      assert.doesNotMatch(bridge.output(), /\/map: .*cannot match/);
    });

    it('hands the first message of a new topic to a subscriber that was already waiting for it', async () => {
      // The server advertises /remote/once when the message arrives; TCPROS connects a subscriber only after the
      // master tells it of the new publisher, so the server must hold the message until then.
      // rospy, not rostopic echo: echo subscribes only once the topic has a publisher, which is the race itself.
      const script = join(master!.home, 'waiting_sub.py');
      writeFileSync(script, [
        'import rospy',
        'from std_msgs.msg import String',
        "rospy.init_node('waiting_sub')",
        "rospy.Subscriber('/remote/once', String, lambda m: (print('data: \"%s\"' % m.data, flush=True), rospy.signal_shutdown('done')))",
        'rospy.spin()',
        '',
      ].join('\n'));
      const echo = master!.start(`python3 ${script}`);
      const deadline = Date.now() + 30_000;
      while (!/^Subscribers:\s*\n \* \/waiting_sub /m.test(await master!.run("sh -c 'rostopic info /remote/once || true'", 30_000))) {
        assert.ok(Date.now() < deadline, 'the rospy subscriber never registered for /remote/once');
      }
      // Published once, latched, so the bridge gets exactly this one message whenever it connects.
      master!.start('rostopic pub -l /once std_msgs/String "data: first"');
      await echo.waitFor(/^data: "first"$/m, 30_000);
      assert.equal(await echo.exited(10_000), 0);
    });

    it('refuses a topic configured with cdr encoding with one error line when ROS 1 has no CDR', async () => {
      await bridge.waitFor(/cannot subscribe to \/raw .*encoding cdr/, 30_000);
      // Another message through the bridge after the refusal: the error is not repeated for it.
      await master!.run('rostopic echo -n 1 /remote/chatter', 30_000);
      assert.equal(countLines(bridge.output(), /\/raw.*encoding cdr/), 1);
      const topics = await master!.run('rostopic list', 30_000);
      assert.doesNotMatch(topics, /^\/remote\/raw$/m);
    });
  });

  describe('#latency', () => {
    it('publishes one latency per message in ms for rostopic echo /fastsocket_server/latency', async () => {
      const values = dataValues(await master!.run('rostopic echo -n 3 /fastsocket_server/latency', 30_000));
      assert.equal(values.length, 3);
      for (const v of values) assert.ok(v > 0 && v < 1000, `latency ${v} ms`);
    });

    it('publishes the latency of each topic on ~latency/<topic>', async () => {
      const values = dataValues(await master!.run('rostopic echo -n 1 /fastsocket_server/latency/chatter', 30_000));
      assert.equal(values.length, 1);
      assert.ok(values[0] > 0 && values[0] < 1000, `latency ${values[0]} ms`);
    });

    it('publishes /diagnostics as diagnostic_msgs/DiagnosticArray with the link and per-topic status', async () => {
      const out = await master!.run(`rostopic echo -n 1 /diagnostics --filter "any(s.name == 'fastsocket_server: /remote/chatter' for s in m.status)"`, 30_000);
      assert.match(out, /name: "fastsocket_server: link"/);
      assert.match(out, /key: "latency_p95_ms"/);
      assert.match(out, /value: "ros1_vehicle@127\.0\.0\.1:\d+"/);
    });
  });

  describe('#subscriptions', () => {
    // Regression test: @foxglove/ros1 retries the link to a publisher for as long as the master lists it, and warned
    // three lines at every retry; a killed publisher node (which never unregisters) with six topics gave 288 WARN
    // lines in 40 s, for good.
    it('warns once, not at every retry, when a publisher it subscribed to is killed', async () => {
      const talker = master!.start('rostopic pub -r 10 /orphan std_msgs/String "data: x"');
      const node = master!.start('bin/bridge1 __name:=orphan_bridge _url:=tcp://127.0.0.1:9 "_topics:=[/orphan]" _log_level:=debug');
      await node.waitFor(/connected to tcpros:\/\//, 30_000);
      process.kill(talker.child.pid as number, 'SIGKILL');
      // The library's own retries, at its backoff of 2^n ms plus up to 1 s.
      await node.waitFor(/connecting to tcpros:\/\/\S+ \(attempt 4\)/, 30_000);
      const warnings = node.output().split('\n').filter((l) => /\[ WARN\]/.test(l) && /tcpros:|subscription to \/orphan/.test(l));
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /subscription to \/orphan: .*retrying/);
      assert.equal(await node.stop(15_000), 0);
    });
  });

  describe('#launch', () => {
    // Regression test: the launch files loaded params_file over what the last launch had left on the parameter
    // server, so a topic taken out of the file since was still forwarded until roscore was restarted.
    it('applies the params file as it is now, not keys an earlier launch on this roscore set and the file dropped since', async () => {
      const params = join(master!.home, 'relaunched.yaml');
      writeFileSync(params, 'url: "tcp://127.0.0.1:9"\ntopics: ["/chatter"]\ntopic_options:\n  fix:\n    max_rate_hz: 5.0\n');
      const launch = `roslaunch fastsocket bridge.launch node_name:=relaunched params_file:=${params}`;
      const first = master!.start(launch);
      await first.waitFor(/bridge \S+ forwarding 2 topic\(s\)/, 60_000);
      assert.equal(await first.stop(15_000), 0);
      writeFileSync(params, 'url: "tcp://127.0.0.1:9"\ntopics: ["/chatter"]\n');
      const second = master!.start(launch);
      const [, topics] = await second.waitFor(/bridge \S+ forwarding (\d+) topic\(s\)/, 60_000);
      assert.equal(topics, '1');
      assert.equal(await second.stop(15_000), 0);
    });
  });

  describe('#shutdown', () => {
    it('exits 0 when the master asks it to shut down because another node took its name', async () => {
      const first = master!.start('bin/server1 __name:=twin _url:=tcp://127.0.0.1:0');
      await first.waitFor(/listening on tcp:\/\//, 60_000);
      const second = master!.start('bin/server1 __name:=twin _url:=tcp://127.0.0.1:0');
      await second.waitFor(/listening on tcp:\/\//, 60_000);
      assert.equal(await first.exited(15_000), 0);
      assert.match(first.output(), /the master asked this node to shut down/);
      assert.equal(second.child.exitCode, null, 'the node that took the name keeps running');
    });


    it('exits 1 with one error line on a bad parameter and leaves nothing registered with the master', async () => {
      const bad = master!.start('bin/bridge1 __name:=bad_params _url:=5');
      assert.equal(await bad.exited(30_000), 1);
      assert.equal(countLines(bad.output(), /\[ERROR\]/), 1);
      assert.match(bad.output(), /parameter url: expected a string, got integer 5/);
      assert.doesNotMatch(await master!.run('rostopic info /rosout', 30_000), /\/bad_params/);
    });

    // Regression test: the timers were Node intervals of the period as given, which past 2^31 - 1 ms (24.8 days) fire
    // every 1 ms: /diagnostics and the statistics windows ran a thousand times a second.
    it('takes a diagnostics_period_s longer than a Node timer holds without running the timer every millisecond', async () => {
      const node = master!.start('bin/server1 __name:=long_period _url:=tcp://127.0.0.1:0 _diagnostics_period_s:=3000000.0 _stats_window_s:=3000000.0');
      await node.waitFor(/listening on tcp:\/\/127\.0\.0\.1:\d+/, 30_000);
      assert.equal(await node.stop(15_000), 0);
      assert.doesNotMatch(node.output(), /TimeoutOverflowWarning/);
    });

    it('says in one line which parameters it ignores because they were set in its namespace, not its private one', async () => {
      // What `rosparam load my_bridge.yaml` (no namespace) or a <rosparam> outside the <node> tag does.
      await master!.run('rosparam set /misplaced "{topics: [/chatter], client_id: lost}"', 30_000);
      const node = master!.start('bin/bridge1 __ns:=/misplaced __name:=b _url:=tcp://127.0.0.1:9');
      const [line] = await node.waitFor(/^.*reads its parameters from \/misplaced\/b\/ \(private\).*$/m, 30_000);
      assert.match(line, /\/misplaced\/client_id/);
      assert.match(line, /\/misplaced\/topics/);
      assert.doesNotMatch(line, /\/misplaced\/url/, 'url was set privately (_url:=)');
      assert.equal(await node.stop(15_000), 0);
      assert.equal(countLines(node.output(), /reads its parameters from/), 1);
    });

    it('exits 1 with one line when ROS_MASTER_URI is not a URI, rather than waiting for that master for ever', async () => {
      // The usual slip: the port of a running roscore without http://, which rostopic refuses at once too.
      const port = new URL(master!.uri).port;
      const bad = master!.start(`env ROS_MASTER_URI=127.0.0.1:${port} bin/bridge1 __name:=bad_master_uri`);
      assert.equal(await bad.exited(15_000), 1);
      assert.equal(bad.output().trim(), `ROS_MASTER_URI "127.0.0.1:${port}" is not a master URI: expected http://host:port, e.g. http://localhost:11311`);
    });

    it('exits 0 and unregisters its topics from the master when roslaunch gets SIGINT', async () => {
      assert.match(await master!.run('rostopic list', 30_000), /^\/fastsocket_bridge\/rtt$/m);
      assert.equal(await bridge.stop(15_000), 0);
      assert.match(bridge.output(), /SIGINT: shutting down/);
      // The master forgets a topic once its last publisher and subscriber unregister.
      assert.doesNotMatch(await master!.run('rostopic list', 30_000), /^\/fastsocket_bridge\/rtt$/m);
    });
  });
});
