import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, Proc, REPO, requireRos, rosEnv, startBash, uniqueDomains } from './ros-harness';

/** One JSON line of receive_fixtures.py. */
function received(receiver: Proc, topic: string, timeoutMs = 60_000): Promise<unknown> {
  return receiver.waitFor(new RegExp(`\\{"topic": "${topic}", "value": (.*)\\}\\n`), timeoutMs).then((m) => JSON.parse(m[1]) as unknown);
}

describe('fastsocket ROS 2 package', function () {
  this.timeout(240_000);
  const [vehicleDomain, infraDomain] = uniqueDomains();
  let ws = '';
  let setup = '';
  const procs: Proc[] = [];
  const start = (script: string, domain: number, cwd?: string): Proc => {
    const p = startBash(script, rosEnv(domain), setup ? [setup] : [], cwd);
    procs.push(p);
    return p;
  };

  before(async function () {
    requireRos(this);
    assert.ok(existsSync(join(REPO, 'dist/nodes/bridge.js')), 'dist/ is built (npm run build) before the ROS tests');
    ws = mkdtempSync(join(tmpdir(), 'fastsocket-ws-'));
    mkdirSync(join(ws, 'src'));
    symlinkSync(REPO, join(ws, 'src', 'fastsocket'));
    const build = start('colcon build --event-handlers console_direct+', vehicleDomain, ws);
    assert.equal(await build.exited(180_000), 0, `colcon build failed:\n${build.output().slice(-3000)}`);
    setup = join(ws, 'install', 'setup.bash');
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(procs.map((p) => p.stop()));
    if (setup) {
      for (const d of [vehicleDomain, infraDomain]) await startBash('ros2 daemon stop', rosEnv(d), [setup]).exited(20_000).catch(() => null);
    }
    if (ws) rmSync(ws, { recursive: true, force: true });
  });

  describe('#colcon build', () => {
    it('installs the executables, launch files, config and the JavaScript when built in a scratch workspace', async () => {
      const prefix = join(ws, 'install', 'fastsocket');
      for (const f of ['lib/fastsocket/bridge', 'lib/fastsocket/server', 'lib/fastsocket/talker', 'share/fastsocket/package.xml',
        'share/fastsocket/launch/bridge.launch.py', 'share/fastsocket/config/server.yaml', 'share/fastsocket/dist/nodes/server.js',
        'share/fastsocket/node_modules/rclnodejs/generated/std_msgs']) {
        assert.ok(existsSync(join(prefix, f)), f);
      }
      // The ROS 1 files stay in the source tree: installed, `ros2 launch fastsocket bridge.launch` ran the ROS 1 XML.
      for (const f of ['share/fastsocket/launch/ros1', 'share/fastsocket/config/ros1']) assert.ok(!existsSync(join(prefix, f)), `${f} is not installed`);
      const list = start('ros2 pkg executables fastsocket', vehicleDomain);
      assert.equal(await list.exited(30_000), 0);
      assert.match(list.output(), /fastsocket bridge\n/);
      assert.match(list.output(), /fastsocket talker\n/);
    });

    it('installs the runtime packages of node_modules and none of the dev dependencies', () => {
      const modules = join(ws, 'install', 'fastsocket', 'share', 'fastsocket', 'node_modules');
      // rclnodejs with its native build and generated messages, and a package nested under another (not hoisted).
      for (const runtime of ['ws', 'yaml', 'uuid', 'hdr-histogram-js', 'rclnodejs/build/Release/rclnodejs.node',
        'rclnodejs/generated/std_msgs', 'debug', 'node-gyp/node_modules/which']) {
        assert.ok(existsSync(join(modules, runtime)), `${runtime} is installed`);
      }
      for (const dev of ['typescript', 'mocha', 'fast-check', 'rimraf', 'mqtt', '@types', '.bin']) {
        assert.ok(!existsSync(join(modules, dev)), `${dev} is not installed`);
      }
    });

    it('runs an executable from the install space with ros2 run', async () => {
      const talker = start('ros2 run fastsocket talker', vehicleDomain);
      await talker.waitFor(/publishing on \/chatter at 10 Hz/, 60_000);
      assert.equal(await talker.stop(), 0);
    });
  });

  describe('#colcon build --symlink-install', () => {
    let linked = '';
    after(() => {
      if (linked) rmSync(linked, { recursive: true, force: true });
    });

    it('links the runtime packages of node_modules and none of the dev dependencies', async () => {
      linked = mkdtempSync(join(tmpdir(), 'fastsocket-ws-'));
      mkdirSync(join(linked, 'src'));
      symlinkSync(REPO, join(linked, 'src', 'fastsocket'));
      // Without the first workspace's setup sourced, which would make this one an overlay of the same package.
      const build = startBash('colcon build --symlink-install --event-handlers console_direct+', rosEnv(vehicleDomain), [], linked);
      procs.push(build);
      assert.equal(await build.exited(180_000), 0, `colcon build --symlink-install failed:\n${build.output().slice(-3000)}`);
      const modules = join(linked, 'install', 'fastsocket', 'share', 'fastsocket', 'node_modules');
      for (const runtime of ['ws', 'rclnodejs', '@rclnodejs/ref-array-di']) {
        assert.ok(lstatSync(join(modules, runtime)).isSymbolicLink(), `${runtime} is a link`);
      }
      assert.ok(existsSync(join(modules, 'rclnodejs/build/Release/rclnodejs.node')), 'rclnodejs resolves through its link');
      for (const dev of ['typescript', 'mocha', '@types']) assert.ok(!existsSync(join(modules, dev)), `${dev} is not installed`);
    });
  });

  describe('#ros2 launch with a params_file that is not there', () => {
    for (const which of ['bridge', 'server']) {
      it(`exits 1 with one line naming the file rather than starting the ${which} on defaults`, async () => {
        const missing = join(ws, `no-such-${which}.yaml`);
        const launch = start(`ros2 launch fastsocket ${which}.launch.py params_file:=${missing}`, vehicleDomain);
        assert.equal(await launch.exited(60_000), 1);
        assert.match(launch.output(), new RegExp(`\\[ERROR\\] \\[launch\\]: .*params_file ${missing} is not a file`));
        assert.doesNotMatch(launch.output(), /process started|Traceback/);
      });
    }
  });

  describe('#ros2 launch params_file:=~/...', () => {
    it('reads the file from the home folder, as the shell does not expand a ~ after :=', async () => {
      const home = mkdtempSync(join(ws, 'home-'));
      writeFileSync(join(home, 'server.yaml'), '/**:\n  ros__parameters:\n    url: "tcp://127.0.0.1:0"\n');
      const server = startBash('ros2 launch fastsocket server.launch.py params_file:=~/server.yaml', rosEnv(infraDomain, { HOME: home }), [setup]);
      procs.push(server);
      await server.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(?!8888)\d+/, 60_000);
      assert.equal(await server.stop(), 0);
    });
  });

  describe('#ros2 launch url:= with a params file keyed by the node name', () => {
    it('listens on the url argument, not on the params file\'s url, and removes the file it wrote for it on exit', async () => {
      const file = join(ws, 'server-keyed.yaml');
      writeFileSync(file, 'fastsocket_server:\n  ros__parameters:\n    url: "tcp://127.0.0.1:9"\n');
      const tmp = mkdtempSync(join(ws, 'tmp-'));
      const server = startBash(`ros2 launch fastsocket server.launch.py params_file:=${file} url:=tcp://127.0.0.1:0`, rosEnv(infraDomain, { TMPDIR: tmp }), [setup]);
      procs.push(server);
      const [, port] = await server.waitFor(/listening on tcp:\/\/127\.0\.0\.1:(\d+)|failed to start.*/, 60_000);
      assert.ok(port !== undefined && port !== '9', `the server did not take url:= (${server.output().slice(-500)})`);
      assert.equal(await server.stop(), 0);
      assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('fastsocket_')), [], 'url params file left behind in TMPDIR');
    });
  });

  describe('#ros2 launch node_name:= namespace:=', () => {
    it('starts the node under that name in that namespace, url:= applied, as a second pair on one graph needs', async () => {
      const server = start('ros2 launch fastsocket server.launch.py node_name:=server_down namespace:=/infra url:=tcp://127.0.0.1:0', infraDomain);
      await server.waitFor(/\[infra\.server_down\]: listening on tcp:\/\/127\.0\.0\.1:(?!8888)\d+/, 60_000);
      assert.equal(await server.stop(), 0);
    });
  });

  describe('#ros2 launch (bridge and server in two ROS domains)', () => {
    let server: Proc;
    let bridge: Proc;
    let receiver: Proc;

    before(async function () {
      this.timeout(120_000);
      const dir = join(ws, 'params');
      mkdirSync(dir);
      const bridgeParams = join(dir, 'bridge.yaml');
      // Keyed by the bare node name, the form rclnodejs applies besides /**.
      writeFileSync(bridgeParams, [
        'fastsocket_bridge:',
        '  ros__parameters:',
        '    client_id: "vehicle_1"',
        '    topics: ["/chatter", "/ints", "/bytes", "/floats", "/best_effort", "/latched"]',
        '    topic_options:',
        '      raw_chatter:',
        '        encoding: "cdr"',
        '',
      ].join('\n'));
      const serverParams = join(dir, 'server.yaml');
      writeFileSync(serverParams, '/**:\n  ros__parameters:\n    url: "tcp://127.0.0.1:9"\n    topic_prefix: "/remote"\n    stats_window_s: 0.5\n');
      // The url argument overrides the params file: port 0 here, the port actually bound is read from the log.
      server = start(`ros2 launch fastsocket server.launch.py params_file:=${serverParams} url:=tcp://127.0.0.1:0`, infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      start(`/usr/bin/python3 ${join(FIXTURES, 'publish_fixtures.py')}`, vehicleDomain);
      bridge = start(`ros2 launch fastsocket bridge.launch.py params_file:=${bridgeParams} url:=${url} log_level:=info`, vehicleDomain);
      receiver = start(`/usr/bin/python3 ${join(FIXTURES, 'receive_fixtures.py')} /remote`, infraDomain);
      await bridge.waitFor(/forwarding \/chatter/, 60_000);
    });

    it('delivers /chatter from the vehicle domain to /remote/chatter in the infrastructure domain', async () => {
      assert.match(String(await received(receiver, 'chatter')), /^hello \d+$/);
    });

    it('delivers int64 values beyond 2^53 exactly', async () => {
      assert.deepEqual(await received(receiver, 'ints'), [String(2n ** 60n + 1n), '-3', String(2n ** 63n - 1n), String(-(2n ** 63n))]);
    });

    it('delivers uint8[] bytes exactly', async () => {
      assert.deepEqual(await received(receiver, 'bytes'), [0, 1, 127, 128, 254, 255]);
    });

    it('delivers float64[] values exactly', async () => {
      assert.deepEqual(await received(receiver, 'floats'), ['0.1', '1e+308', '-2.5e-300', '123456789.125']);
    });

    it('forwards a topic in raw CDR mode unchanged', async () => {
      assert.equal(await received(receiver, 'raw_chatter'), 'raw ✓ bytes');
      assert.match(bridge.output(), /forwarding \/raw_chatter \(std_msgs\/msg\/String, cdr,/);
    });

    it('delivers from a best-effort publisher by matching its QoS', async () => {
      assert.equal(await received(receiver, 'best_effort'), 'best effort');
      assert.match(bridge.output(), /forwarding \/best_effort \(std_msgs\/msg\/String, json, best_effort\/volatile/);
    });

    it('delivers the latched message of a transient-local publisher and republishes it transient-local', async () => {
      // The receiver subscribes transient-local, which only matches a transient-local publisher.
      assert.equal(await received(receiver, 'latched'), 'latched once');
      assert.match(server.output(), /republishing \/remote\/latched \(std_msgs\/msg\/String, reliable\/transient_local/);
    });

    it('publishes each message latency for ros2 topic echo /fastsocket_server/latency', async () => {
      const echo = start('ros2 topic echo /fastsocket_server/latency --once', infraDomain);
      await echo.waitFor(/data: \d+\.\d+/, 30_000);
    });

    it('publishes the round-trip time on the bridge side for ros2 topic echo /fastsocket_bridge/rtt', async () => {
      const echo = start('ros2 topic echo /fastsocket_bridge/rtt --once', vehicleDomain);
      await echo.waitFor(/data: \d+\.\d+/, 30_000);
    });

    it('publishes latency statistics as statistics_msgs/MetricsMessage', async () => {
      const echo = start('ros2 topic echo /fastsocket_server/latency_stats --once', infraDomain);
      await echo.waitFor(/unit: ms[\s\S]*data_type: 5/, 30_000);
    });

    it('exits 0 and lets every node finish cleanly when ros2 launch gets SIGINT', async () => {
      await received(receiver, 'chatter');
      assert.equal(await bridge.stop(), 0);
      assert.equal(await server.stop(), 0);
      for (const p of [bridge, server]) {
        assert.match(p.output(), /process has finished cleanly/);
        assert.doesNotMatch(p.output(), /process has died/);
        // Diagnostics, statistics and latency are published from guarded callbacks: a failure would only be logged.
        assert.doesNotMatch(p.output(), /\[ERROR\]|callback failed/);
      }
    });
  });
});
