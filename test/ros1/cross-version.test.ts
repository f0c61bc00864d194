import { strict as assert } from 'node:assert';
import { Proc, REPO, startBash, uniqueDomains } from '../ros/ros-harness';
import { countLines, requireOrSkip, Ros1Master, ros1SkipReason, ROS2_SETUP, ros2Env, ros2SkipReason, startRoscore } from './ros1-harness';

/**
 * ROS 1 and ROS 2 across the link. Each side runs in its own processes with its own environment (a ROS 1 child never
 * sees a sourced ROS 2 and the reverse), as on a ROS 1 vehicle and a ROS 2 server.
 */
describe('fastsocket across ROS versions', function () {
  this.timeout(60_000);
  const [domain] = uniqueDomains();
  let master: Ros1Master | null = null;
  const ros2Procs: Proc[] = [];

  function startRos2(script: string): Proc {
    const p = startBash(script, ros2Env(domain), [ROS2_SETUP], REPO);
    ros2Procs.push(p);
    return p;
  }

  async function runRos2(script: string, timeoutMs: number): Promise<string> {
    const p = startRos2(script);
    try {
      const code = await p.exited(timeoutMs);
      if (code !== 0) throw new Error(`exited ${code}`);
      return p.output();
    } catch (err) {
      throw new Error(`${script}: ${(err as Error).message}; output:\n${p.output().slice(-3000)}`);
    } finally {
      await p.stop(2000);
    }
  }

  before(async function () {
    requireOrSkip(this, 'ROS 1 tests', ros1SkipReason());
    requireOrSkip(this, 'ROS 1 <-> ROS 2 tests', ros2SkipReason());
    this.timeout(60_000);
    master = await startRoscore();
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(ros2Procs.splice(0).map((p) => p.stop(5000)));
    if (master) await startBash('ros2 daemon stop', ros2Env(domain), [ROS2_SETUP]).exited(20_000).catch(() => null);
    await master?.stop();
  });

  describe('ROS 1 bridge -> ROS 2 server', () => {
    before(async function () {
      this.timeout(90_000);
      const server = startRos2('node dist/nodes/server.js --ros-args -p url:=tcp://127.0.0.1:0 -p topic_prefix:=/from_ros1');
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      master!.start('rostopic pub -r 10 /chatter1 std_msgs/String "data: from ros1"');
      master!.start(`rostopic pub -r 10 /imu1 sensor_msgs/Imu "{header: {stamp: {secs: 1700000000, nsecs: 5}, frame_id: imu}, linear_acceleration: {z: 9.81}}"`);
      master!.start(`rostopic pub -r 10 /cam1 sensor_msgs/CameraInfo "{header: {frame_id: cam1}, D: [0.5, -0.25], K: [1.0, 0.0, 320.0, 0.0, 1.0, 240.0, 0.0, 0.0, 1.0]}"`);
      const bridge = master!.start(`node dist/nodes/bridge1.js _url:=${url} "_topics:=[/chatter1, /imu1, /cam1]" _client_id:=ros1_vehicle`);
      await bridge.waitFor(/forwarding \/imu1/, 30_000);
    });

    it('delivers std_msgs/String to ros2 topic echo under the ROS 2 type name', async () => {
      const out = await runRos2('ros2 topic echo --once /from_ros1/chatter1 std_msgs/msg/String', 30_000);
      assert.match(out, /^data: from ros1$/m);
    });

    it('maps ROS 1 time {secs, nsecs} to builtin_interfaces/Time {sec, nanosec} and drops Header.seq', async () => {
      const out = await runRos2('ros2 topic echo --once /from_ros1/imu1 sensor_msgs/msg/Imu', 30_000);
      assert.match(out, /^ {4}sec: 1700000000$/m);
      assert.match(out, /^ {4}nanosec: 5$/m);
      assert.match(out, /^ {2}frame_id: imu$/m);
      assert.match(out, /^ {2}z: 9\.81$/m);
      assert.doesNotMatch(out, /seq/);
    });

    it('maps the CameraInfo matrices D and K to the ROS 2 field names d and k', async () => {
      const out = await runRos2('ros2 topic echo --once /from_ros1/cam1 sensor_msgs/msg/CameraInfo', 30_000);
      assert.match(out, /^d:\n- 0\.5\n- -0\.25\n/m);
      assert.match(out, /^k:\n- 1\.0\n- 0\.0\n- 320\.0\n/m);
    });

    it('publishes the latency of ROS 1 messages on the ROS 2 latency topic', async () => {
      const out = await runRos2('ros2 topic echo --once /fastsocket_server/latency std_msgs/msg/Float64', 30_000);
      const ms = Number(/^data: (\S+)$/m.exec(out)?.[1]);
      assert.ok(ms > 0 && ms < 1000, `latency ${ms} ms`);
    });
  });

  describe('ROS 2 bridge -> ROS 1 server', () => {
    let server: Proc;

    before(async function () {
      this.timeout(90_000);
      server = master!.start('node dist/nodes/server1.js _url:=tcp://127.0.0.1:0 _topic_prefix:=/from_ros2');
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 30_000);
      startRos2('node dist/nodes/talker.js --ros-args -p rate_hz:=10.0');
      startRos2(`ros2 topic pub -r 10 /imu2 sensor_msgs/msg/Imu "{header: {stamp: {sec: 1700000000, nanosec: 7}, frame_id: imu2}}"`);
      startRos2('ros2 topic pub -r 10 /raw2 std_msgs/msg/String "{data: raw}"');
      startRos2('ros2 topic pub -r 10 /cam2 sensor_msgs/msg/CameraInfo "{header: {frame_id: cam2}, d: [0.125], k: [2.0, 0.0, 1.0, 0.0, 2.0, 1.0, 0.0, 0.0, 1.0]}"');
      const bridge = startRos2(`node dist/nodes/bridge.js --ros-args -p url:=${url} -p "topics:=[/chatter, /imu2, /cam2]" -p topic_options.raw2.encoding:=cdr`);
      await bridge.waitFor(/forwarding \/imu2/, 60_000);
    });

    it('delivers the ROS 2 talker to rostopic echo under the ROS 1 type name', async () => {
      const out = await master!.run('rostopic echo -n 1 /from_ros2/chatter', 30_000);
      assert.match(out, /^data: "Hello World: \d+"$/m);
      assert.match(await master!.run('rostopic type /from_ros2/chatter', 30_000), /^std_msgs\/String$/m);
    });

    it('maps builtin_interfaces/Time to ROS 1 time and numbers Header.seq on the ROS 1 side', async () => {
      const out = await master!.run('rostopic echo -n 2 /from_ros2/imu2', 30_000);
      assert.match(out, /^ {4}secs: 1700000000$/m);
      assert.match(out, /^ {4}nsecs: +7$/m);
      assert.match(out, /^ {2}frame_id: "imu2"$/m);
      const seqs = [...out.matchAll(/^ {2}seq: (\d+)$/gm)].map((m) => Number(m[1]));
      assert.equal(seqs.length, 2);
      assert.equal(seqs[1], seqs[0] + 1);
    });

    it('maps the CameraInfo matrices d and k to the ROS 1 field names D and K', async () => {
      const out = await master!.run('rostopic echo -n 1 /from_ros2/cam2', 30_000);
      assert.match(out, /^D: \[0\.125\]$/m);
      assert.match(out, /^K: \[2\.0, 0\.0, 1\.0, 0\.0, 2\.0, 1\.0, 0\.0, 0\.0, 1\.0\]$/m);
    });

    it('refuses CDR payloads from the ROS 2 bridge with one error line for the topic', async () => {
      await server.waitFor(/\/from_ros2\/raw2.*encoding cdr/, 30_000);
      await master!.run('rostopic echo -n 1 /from_ros2/chatter', 30_000);
      assert.equal(countLines(server.output(), /\/from_ros2\/raw2.*encoding cdr/), 1);
    });

    it('publishes the latency of ROS 2 messages on the ROS 1 latency topic', async () => {
      const out = await master!.run('rostopic echo -n 1 /fastsocket_server/latency', 30_000);
      const ms = Number(/^data: (\S+)$/m.exec(out)?.[1]);
      assert.ok(ms > 0 && ms < 1000, `latency ${ms} ms`);
    });
  });
});
