import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawPeer } from '../support/raw-peer';
import { testCerts } from '../support/tls-certs';
import { waitUntil } from '../support/wait';
import { freePort, nodeScript, Proc, REPO, useRosGraph } from './ros-harness';

function paramsFile(path: string, params: Record<string, string | number | boolean | string[]>): string {
  const lines = Object.entries(params).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  writeFileSync(path, ['/**:', '  ros__parameters:', ...lines, ''].join('\n'));
  return path;
}

/** The JSON lines written so far (the recorder flushes every 200 ms). */
function jsonLines(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** CSV rows as objects by header; no cell of these runs holds a comma. */
function csvRows(path: string): Array<Record<string, string>> {
  if (!existsSync(path)) return [];
  const [header, ...rows] = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const columns = header?.split(',') ?? [];
  return rows.map((r) => Object.fromEntries(r.split(',').map((c, i) => [columns[i], c])));
}

/** The value of `key` in the DiagnosticStatus named `name`, from `ros2 topic echo /diagnostics` YAML output. */
function diagnosticValue(output: string, name: string, key: string): string | null {
  const statuses = output.split(/\n\s*- level: /);
  for (const s of statuses.reverse()) {
    if (!s.includes(`name: '${name}'`) && !s.includes(`name: ${name}\n`)) continue;
    const m = new RegExp(`key: ${key}\\n\\s+value: '?([^'\\n]*)'?`).exec(s);
    if (m) return m[1];
  }
  return null;
}

describe('fastsocket ROS 2 nodes', function () {
  this.timeout(180_000);
  const graph = useRosGraph('fastsocket-nodes-');
  const { vehicleDomain, infraDomain, start } = graph;

  describe('#parameters', () => {
    it('loads the shipped config/server.yaml and config/bridge.yaml, limits and all, in rclnodejs', async () => {
      const server = start(nodeScript('server', `--params-file ${join(REPO, 'config/server.yaml')} -p url:=tcp://127.0.0.1:0`), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const bridge = start(nodeScript('bridge', `--params-file ${join(REPO, 'config/bridge.yaml')} -p url:=${url}`), vehicleDomain);
      await bridge.waitFor(/forwarding 1 topic\(s\) to tcp:/, 60_000);
      assert.equal(await bridge.stop(), 0);
      assert.equal(await server.stop(), 0);
    });

    for (const [what, args, parameter] of [
      ['a limit is out of range', '-p max_frame_bytes:=10', 'max_frame_bytes'],
      ['token_file names no file', `-p token_file:=${join(tmpdir(), 'no-such-fastsocket-token')}`, 'token_file'],
      ['a tls:// url has no certificate', '-p url:=tls://127.0.0.1:0', 'tls_cert'],
    ] as const) {
      it(`exits 1 naming ${parameter} when ${what}`, async () => {
        const server = start(nodeScript('server', args), infraDomain);
        assert.equal(await server.exited(60_000), 1);
        assert.match(server.output(), new RegExp(`parameter ${parameter}: `));
      });
    }

    it('exits 1 naming the file and the line, without C source locations, when the params file is not YAML', async () => {
      const file = join(graph.dir(), 'broken.yaml');
      writeFileSync(file, '/**:\n  ros__parameters:\n    topics: ["/x"\n    url: [\n');
      const bridge = start(nodeScript('bridge', `--params-file ${file}`), vehicleDomain);
      assert.equal(await bridge.exited(60_000), 1);
      assert.match(bridge.output(), new RegExp(`^ROS 2 could not be initialised: Couldn't parse params file: '--params-file ${file}'\\. Error: .* near line \\d+$`, 'm'));
      assert.doesNotMatch(bridge.output(), /\.c:\d+|^\s+at /m);
    });

    for (const [what, key, warning] of [
      ['keyed by its full name, as ros2 param dump writes it', '/keyed_server', /params file \S+keyed-0\.yaml: key "\/keyed_server" is ignored \(rclnodejs applies only "\/\*\*" and the bare node name\); key it "keyed_server:" or "\/\*\*:"/],
      ['keyed by another node\'s name only', 'fastsocket_server', /params file \S+keyed-1\.yaml has no key for this node \(keyed_server\), only "fastsocket_server", so none of it applies/],
    ] as const) {
      it(`warns naming the file and the key when the params file is ${what}, which rclnodejs ignores`, async () => {
        const file = join(graph.dir(), `keyed-${key.startsWith('/') ? 0 : 1}.yaml`);
        writeFileSync(file, `${key}:\n  ros__parameters:\n    topic_prefix: "/ignored"\n`);
        const server = start(nodeScript('server', `-r __node:=keyed_server --params-file ${file} -p url:=tcp://127.0.0.1:0`), infraDomain);
        await server.waitFor(/listening on tcp:/, 60_000);
        assert.match(server.output(), warning);
        assert.equal(await server.stop(), 0);
      });
    }

    it('warns, naming the fix, when -p url:= is shadowed by the params file\'s entry under the node name, which rclnodejs applies over it', async () => {
      const file = join(graph.dir(), 'keyed-url.yaml');
      writeFileSync(file, 'fastsocket_server:\n  ros__parameters:\n    url: "tcp://127.0.0.1:0"\n');
      const server = start(nodeScript('server', `--params-file ${file} -p url:=tcp://127.0.0.1:1`), infraDomain);
      await server.waitFor(/listening on tcp:/, 60_000);
      assert.match(server.output(), /-p url:=tcp:\/\/127\.0\.0\.1:1 on the command line does not apply: params file \S+keyed-url\.yaml sets url under "fastsocket_server:".*write -p fastsocket_server:url:=tcp:\/\/127\.0\.0\.1:1/);
      assert.equal(await server.stop(), 0);
    });

    it('exits 1 with one line, no stack trace, when its port is taken', async () => {
      const first = start(nodeScript('server', '-r __node:=port_owner -p url:=tcp://127.0.0.1:0'), infraDomain);
      const [, url] = await first.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const second = start(nodeScript('server', `-r __node:=port_taker -p url:=${url}`), infraDomain);
      assert.equal(await second.exited(60_000), 1);
      assert.match(second.output(), /failed to start: cannot listen on tcp:\/\/127\.0\.0\.1:\d+: .*EADDRINUSE/);
      assert.doesNotMatch(second.output(), /^\s+at /m);
      assert.equal(await first.stop(), 0);
    });

    it('exits 1 with one line naming ROS_DOMAIN_ID, no stack trace, when the domain id is beyond what DDS can use', async () => {
      // Cyclone DDS prints why (UDP ports past 65535) and rcl fails with "error not set, at .../node.c:252".
      const bridge = start(nodeScript('bridge', '-p url:=tcp://127.0.0.1:1'), 300);
      assert.equal(await bridge.exited(60_000), 1);
      assert.match(bridge.output(), /^ROS 2 could not create the node fastsocket_bridge: .*ROS_DOMAIN_ID 300 is above 232/m);
      assert.doesNotMatch(bridge.output(), /\.c:\d+|^\s+at /m);
    });
  });

  describe('#age, record_path, clock_sync and token_file (bridge and server in two ROS domains)', () => {
    const TOKEN = 'ros-test-token-6f1d';
    let server: Proc;
    let bridge: Proc;
    let recordPath = '';

    before(async function () {
      this.timeout(120_000);
      writeFileSync(join(graph.dir(), 'token'), `${TOKEN}\n`);
      recordPath = join(graph.dir(), 'latency.csv');
      const serverParams = paramsFile(join(graph.dir(), 'server.yaml'), {
        url: 'tcp://127.0.0.1:0', token_file: join(graph.dir(), 'token'), record_path: recordPath,
        max_connections: 2, frame_timeout_ms: 5000, max_pending_ack3: 500, diagnostics_period_s: 0.5, stats_window_s: 0.5,
      });
      server = start(nodeScript('server', `--params-file ${serverParams}`), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const bridgeParams = paramsFile(join(graph.dir(), 'bridge.yaml'), {
        url, client_id: 'vehicle_1', token_file: join(graph.dir(), 'token'), clock_sync: true, outbox_path: join(graph.dir(), 'outbox'),
        outbox_max_messages: 1000, topics: ['/chatter'],
      });
      start(nodeScript('talker', '-p rate_hz:=20.0'), vehicleDomain);
      bridge = start(nodeScript('bridge', `--params-file ${bridgeParams}`), vehicleDomain);
      await bridge.waitFor(/forwarding \/chatter/, 60_000);
    });

    it('publishes the age of each message on ~/age for ros2 topic echo', async () => {
      const echo = start('ros2 topic echo /fastsocket_server/age --once', infraDomain);
      await echo.waitFor(/data: \d+\.\d+/, 30_000);
    });

    it('writes every latency record with topic, server wall time and the clock-synced fields to record_path (csv)', async () => {
      await waitUntil(() => csvRows(recordPath).length >= 5, 'five recorded rows', 30_000);
      const rows = csvRows(recordPath);
      const now = Date.now() * 1e6;
      for (const r of rows) {
        assert.equal(r.topic, '/chatter', JSON.stringify(r));
        assert.equal(r.client_id, 'vehicle_1');
        assert.ok(Number(r.server_wall_ns) > now - 120e9 && Number(r.server_wall_ns) <= now, `server_wall_ns ${r.server_wall_ns}`);
        for (const k of ['t1_ns', 'latency_corrected_ns', 'queued_ns', 'uplink_wall_ns', 'offset_ns']) assert.match(r[k], /^-?\d+$/, `${k} in ${JSON.stringify(r)}`);
        assert.match(r.sync_ok, /^(true|false)$/);
        assert.equal(r.held_ns, '');
      }
    });

    it('shows the clock-synced bridge in the server /diagnostics', async () => {
      const echo = start('ros2 topic echo /diagnostics diagnostic_msgs/msg/DiagnosticArray', infraDomain);
      await echo.waitFor(/name: 'fastsocket_server: clock sync vehicle_1'[\s\S]*?key: offset_ms/, 30_000);
      assert.match(String(diagnosticValue(echo.output(), 'fastsocket_server: clock sync vehicle_1', 'clock_synced_records')), /^[1-9]\d*$/);
    });

    it('closes a bridge without the token before any of its messages is published, which the bridge warns about, and never logs the token', async () => {
      const intruder = start(nodeScript('bridge', '-r __node:=intruder -p topics:=[/chatter] -p client_id:=intruder -p url:=' + /listening on (\S+)/.exec(server.output())![1]), vehicleDomain);
      await server.waitFor(/closing 127\.0\.0\.1:\d+: authentication failed/, 30_000);
      await intruder.waitFor(/\[WARN\].*disconnected from tcp:\S+ before the server answered the hello \(a wrong or missing token\?/, 30_000);
      assert.equal(await intruder.stop(), 0);
      assert.ok(!csvRows(recordPath).some((r) => r.client_id === 'intruder'));
      for (const p of [server, bridge]) assert.ok(!p.output().includes(TOKEN), 'the token stays out of the log');
    });
  });

  describe('#latency per vehicle (topic_prefix "/{client_id}", two bridges sending /chatter)', () => {
    it('publishes each vehicle\'s latency on ~/latency/<client_id>/chatter, both on ~/latency/chatter, and gives each its own /diagnostics status', async () => {
      const server = start(nodeScript('server', '-r __node:=fleet_server -p url:=tcp://127.0.0.1:0 -p topic_prefix:=/{client_id} -p diagnostics_period_s:=0.5 -p stats_window_s:=0.5'), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      start(nodeScript('talker', '-r __node:=fleet_talker -p rate_hz:=20.0'), vehicleDomain);
      for (const id of ['veh1', 'veh2']) start(nodeScript('bridge', `-r __node:=bridge_${id} -p url:=${url} -p client_id:=${id} -p topics:=[/chatter]`), vehicleDomain);
      for (const id of ['veh1', 'veh2']) {
        const echo = start(`ros2 topic echo /fleet_server/latency/${id}/chatter std_msgs/msg/Float64 --once`, infraDomain);
        const [, ms] = await echo.waitFor(/data: (\d+\.\d+)/, 60_000);
        assert.ok(Number(ms) > 0 && Number(ms) < 1000, `${id} latency ${ms} ms`);
      }
      const diagnostics = start('ros2 topic echo /diagnostics diagnostic_msgs/msg/DiagnosticArray', infraDomain);
      for (const id of ['veh1', 'veh2']) {
        await diagnostics.waitFor(new RegExp(`name: 'fleet_server: /${id}/chatter'[\\s\\S]*?key: latency_p50_ms`), 30_000);
      }
      const shared = start('ros2 topic echo /fleet_server/latency/chatter std_msgs/msg/Float64 --once', infraDomain);
      await shared.waitFor(/data: (\d+\.\d+)/, 60_000);
    });
  });

  describe('#a vehicle that left, at max_topics', () => {
    it('closes its topic for the vehicle that comes next, which is then republished', async () => {
      const server = start(nodeScript('server', '-r __node:=roadside_server -p url:=tcp://127.0.0.1:0 -p topic_prefix:=/{client_id} -p max_topics:=1'), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      start(nodeScript('talker', '-r __node:=roadside_talker -r chatter:=/roadside_chatter -p rate_hz:=20.0'), vehicleDomain);
      const bridge = (id: string): Proc => start(nodeScript('bridge', `-r __node:=bridge_${id} -p url:=${url} -p client_id:=${id} -p topics:=[/roadside_chatter]`), vehicleDomain);
      const passing = bridge('car1');
      await server.waitFor(/republishing \/car1\/roadside_chatter/, 60_000);
      assert.equal(await passing.stop(), 0);
      await server.waitFor(/peer car1 disconnected/, 30_000);
      bridge('car2');
      await server.waitFor(/stopped republishing \/car1\/roadside_chatter to make room under max_topics \(1\)/, 60_000);
      await server.waitFor(/republishing \/car2\/roadside_chatter/, 10_000);
      const echo = start('ros2 topic echo /car2/roadside_chatter std_msgs/msg/String --once', infraDomain);
      await echo.waitFor(/data: '?Hello World: \d+/, 30_000);
      assert.doesNotMatch(server.output(), /max_topics \(1\) topics are republished already/);
    });
  });

  describe('#two bridges with one client_id', () => {
    it('warns, naming the client_id and both connections, since their seq counts would mix into false loss', async () => {
      const server = start(nodeScript('server', '-r __node:=twin_server -p url:=tcp://127.0.0.1:0'), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const bridges = ['twin_a', 'twin_b'].map((name) => start(nodeScript('bridge', `-r __node:=${name} -p url:=${url} -p client_id:=twin -p topics:=[/twin_chatter]`), vehicleDomain));
      await server.waitFor(/client_id twin is connected from 127\.0\.0\.1:\d+ and 127\.0\.0\.1:\d+ at once .* give each bridge its own client_id/, 60_000);
      for (const b of bridges) assert.equal(await b.stop(), 0);
      assert.equal(await server.stop(), 0);
    });
  });

  // A bridge and a server on different schemes: each side says so at once, naming the schemes.
  const schemeMismatches = [
    {
      bridge: 'ws', server: 'tcp', what: 'rather than timing out after a bad frame per header line',
      serverSays: /\[WARN\].*closing 127\.0\.0\.1:\d+: it sent an HTTP request \(a ws:\/\/ or wss:\/\/ client\? this server is tcp:\/\/\)/,
      bridgeSays: /\[WARN\].*cannot connect to ws:\S+: socket hang up without an HTTP answer \(a tcp:\/\/ or tls:\/\/ server\? a wss:\/\/ one\? /,
      serverNeverSays: /bad frame/,
    },
    {
      bridge: 'tcp', server: 'ws', what: 'rather than reconnecting in silence',
      serverSays: /\[WARN\].*closing 127\.0\.0\.1:\d+: it sent no HTTP request \(a tcp:\/\/ or tls:\/\/ client\? a wss:\/\/ one\? this server is ws:\/\/\)/,
      bridgeSays: /\[WARN\].*disconnected from tcp:\S+ before the server answered the hello \(.*a server on another scheme than tcp:\/\/\?/,
      serverNeverSays: null,
    },
  ];
  for (const c of schemeMismatches) {
    describe(`#a bridge on ${c.bridge}:// against a ${c.server}:// server`, () => {
      it(`warns on both sides at once, naming the schemes, ${c.what}`, async () => {
        const server = start(nodeScript('server', `-r __node:=scheme_server_${c.server} -p url:=${c.server}://127.0.0.1:0`), infraDomain);
        const [, port] = await server.waitFor(new RegExp(`listening on ${c.server}://127\\.0\\.0\\.1:(\\d+)`), 60_000);
        const bridge = start(nodeScript('bridge', `-r __node:=scheme_bridge_${c.bridge} -p url:=${c.bridge}://127.0.0.1:${port} -p topics:=[/scheme_chatter]`), vehicleDomain);
        await server.waitFor(c.serverSays, 30_000);
        await bridge.waitFor(c.bridgeSays, 30_000);
        if (c.serverNeverSays) assert.doesNotMatch(server.output(), c.serverNeverSays);
        assert.equal(await bridge.stop(), 0);
        assert.equal(await server.stop(), 0);
      });
    });
  }

  describe('#first message of a topic', () => {
    it('hands it to a volatile subscriber that was waiting before the server created the topic', async () => {
      const server = start(nodeScript('server', '-r __node:=once_server -p url:=tcp://127.0.0.1:0'), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const echo = start('ros2 topic echo /once std_msgs/msg/String --once --qos-reliability reliable --qos-durability volatile', infraDomain);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const info = start('ros2 topic info /once', infraDomain);
        await info.exited(30_000);
        if (/^Subscription count: 1$/m.test(info.output())) break;
        assert.ok(Date.now() < deadline, `the echo never subscribed to /once:\n${info.output()}`);
      }
      const bridge = start(nodeScript('bridge', `-r __node:=once_bridge -p url:=${url} -p topics:=[/once]`), vehicleDomain);
      // -w 1: one message, written once the bridge's subscription has matched, so the bridge surely has it.
      start('ros2 topic pub -w 1 --once --qos-durability volatile /once std_msgs/msg/String "{data: first}"', vehicleDomain);
      await echo.waitFor(/^data: first$/m, 60_000);
      assert.equal(await bridge.stop(), 0);
      assert.equal(await server.stop(), 0);
    });
  });

  describe('#raw envelope whose bytes are not a message', () => {
    it('drops it with a warning, and the next message of the topic still reaches a reliable subscriber', async () => {
      // Published, the empty bytes went out as a malformed packet the subscriber asked for again and again, and the
      // message after them waited behind it until newer ones pushed it out of the writer's history: here, never.
      const server = start(nodeScript('server', '-r __node:=raw_server -p url:=tcp://127.0.0.1:0'), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const echo = start('ros2 topic echo /rawbad std_msgs/msg/String --qos-reliability reliable --qos-durability volatile', infraDomain);
      const peer = await RawPeer.connect(url);
      const send = (seq: number, body: object): void => peer.sendFrame({
        id: `raw-${seq}`, type: 'message',
        payload: { topic: '/rawbad', type: 'std_msgs/msg/String', seq, qos: { reliability: 'reliable', durability: 'volatile', depth: 10 }, ...body },
      });
      // Until the echo has matched the server's publisher, a message goes to nobody.
      let seq = 0;
      for (;;) {
        send(seq++, { msg: { data: 'before' } });
        if (await echo.waitFor(/^data: before$/m, 1000).then(() => true, () => false)) break;
        assert.ok(seq < 60, `the echo got no message in ${seq} s:\n${echo.output()}`);
      }
      send(seq++, { cdr: '' });
      send(seq++, { msg: { data: 'after' } });
      await echo.waitFor(/^data: after$/m, 20_000);
      await server.waitFor(/dropped a message for \/rawbad \(std_msgs\/msg\/String\), field msg: not a CDR message/, 10_000);
      peer.destroy();
      assert.equal(await server.stop(), 0);
    });
  });

  describe('#a topic whose publishers turn from best_effort to reliable', () => {
    it('is republished reliable once the bridge forwards it so, so that a reliable subscriber of the server hears it', async () => {
      const server = start(nodeScript('server', '-r __node:=qos_server -p url:=tcp://127.0.0.1:0'), infraDomain);
      const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
      const bridge = start(nodeScript('bridge', `-r __node:=qos_bridge -p url:=${url} -p topics:=[/qos_up]`), vehicleDomain);
      const bestEffort = start('ros2 topic pub -r 10 --qos-reliability best_effort /qos_up std_msgs/msg/String "{data: best}"', vehicleDomain);
      await server.waitFor(/republishing \/qos_up \(std_msgs\/msg\/String, best_effort\//, 60_000);
      await bestEffort.stop();
      // The driver restarted with reliable QoS: a reliable subscriber on the vehicle hears it, and must on the server.
      start('ros2 topic pub -r 10 --qos-reliability reliable /qos_up std_msgs/msg/String "{data: reliable}"', vehicleDomain);
      await bridge.waitFor(/forwarding \/qos_up \(std_msgs\/msg\/String, json, reliable\//, 60_000);
      const echo = start('ros2 topic echo /qos_up std_msgs/msg/String --once --qos-reliability reliable --qos-durability volatile', infraDomain);
      await echo.waitFor(/^data: reliable$/m, 30_000);
      assert.match(server.output(), /republishing \/qos_up as reliable\/volatile\/depth \d+ \(was best_effort\/volatile\/depth \d+\)/);
      assert.equal(await bridge.stop(), 0);
      assert.equal(await server.stop(), 0);
    });
  });

  describe('#tls parameters', () => {
    it('forwards over mutual TLS with the certificates named by tls_cert, tls_key, tls_ca and tls_client_cert, tls_client_key', async () => {
      const certs = await testCerts();
      const pem = (name: string) => join(certs.dir, name);
      const record = join(graph.dir(), 'tls.jsonl');
      const server = start(nodeScript('server', [
        '-r __node:=tls_server -p url:=tls://127.0.0.1:0', `-p record_path:=${record}`,
        `-p tls_cert:=${pem('server.pem')} -p tls_key:=${pem('server.key')} -p tls_ca:=${pem('ca.pem')}`,
      ].join(' ')), infraDomain);
      const [, url] = await server.waitFor(/listening on (tls:\/\/127\.0\.0\.1:\d+)/, 60_000);
      start(nodeScript('talker', '-r __node:=tls_talker -r chatter:=/tls_chatter -p rate_hz:=20.0'), vehicleDomain);
      const bridge = start(nodeScript('bridge', [
        `-r __node:=tls_bridge -p url:=${url} -p client_id:=tls_vehicle -p topics:=[/tls_chatter]`,
        `-p tls_ca:=${pem('ca.pem')} -p tls_client_cert:=${pem('client.pem')} -p tls_client_key:=${pem('client.key')}`,
      ].join(' ')), vehicleDomain);
      await waitUntil(() => jsonLines(record).length >= 3, 'records over tls', 60_000);
      assert.ok(jsonLines(record).every((r) => r.topic === '/tls_chatter' && r.client_id === 'tls_vehicle'));
      assert.equal(await bridge.stop(), 0);
      assert.equal(await server.stop(), 0);
    });
  });

  describe('#max_age_ms (the link cut by stopping the server)', () => {
    it('drops what waited longer than max_age_ms while the server was down, counts it as stale, and sends the rest with its hold time', async () => {
      const port = await freePort();
      const url = `tcp://127.0.0.1:${port}`;
      const first = join(graph.dir(), 'before.jsonl');
      const second = join(graph.dir(), 'after.jsonl');
      const serverArgs = (record: string) => `-p url:=${url} -p record_path:=${record} -p diagnostics_period_s:=0.5`;
      const serverA = start(nodeScript('server', serverArgs(first)), infraDomain);
      await serverA.waitFor(/listening on/, 60_000);
      const bridgeParams = join(graph.dir(), 'age-bridge.yaml');
      writeFileSync(bridgeParams, [
        '/**:', '  ros__parameters:', `    url: "${url}"`, '    client_id: "vehicle_2"', '    diagnostics_period_s: 0.2',
        '    topic_options:', '      age_chatter:', '        name: "/age_chatter"', '        max_age_ms: 300', '',
      ].join('\n'));
      start(nodeScript('talker', '-r __node:=age_talker -r chatter:=/age_chatter -p rate_hz:=20.0'), vehicleDomain);
      const bridge = start(nodeScript('bridge', `-r __node:=age_bridge --params-file ${bridgeParams}`), vehicleDomain);
      await waitUntil(() => jsonLines(first).length >= 3, 'records before the cut', 60_000);

      assert.equal(await serverA.stop(), 0);
      const diag = start('ros2 topic echo /diagnostics diagnostic_msgs/msg/DiagnosticArray', vehicleDomain);
      await waitUntil(() => Number(diagnosticValue(diag.output(), 'age_bridge: /age_chatter', 'dropped_stale_messages')) > 0, 'stale drops in the bridge diagnostics', 30_000);
      await diag.stop();

      const serverB = start(nodeScript('server', serverArgs(second)), infraDomain);
      await serverB.waitFor(/listening on/, 60_000);
      await waitUntil(() => jsonLines(second).length >= 10, 'records after the cut', 60_000);
      const held = jsonLines(second).filter((r) => r.held_ns !== null);
      assert.ok(held.length > 0, 'the messages of the last 300 ms before the reconnect were held and then sent');
      for (const r of held) assert.ok((r.held_ns as number) <= 300e6, `held_ns ${String(r.held_ns)} within max_age_ms`);
      assert.ok(jsonLines(second).every((r) => r.topic === '/age_chatter'));
      // The stale messages took no seq, so the new server sees no loss on the topic.
      const serverDiag = start('ros2 topic echo /diagnostics diagnostic_msgs/msg/DiagnosticArray', infraDomain);
      await waitUntil(() => diagnosticValue(serverDiag.output(), 'fastsocket_server: /age_chatter', 'lost_messages') !== null, 'server topic diagnostics', 30_000);
      assert.equal(diagnosticValue(serverDiag.output(), 'fastsocket_server: /age_chatter', 'lost_messages'), '0');
      assert.equal(await bridge.stop(), 0);
    });
  });

  describe('#SIGINT while the server is unreachable', () => {
    it('says on exit how many unacknowledged messages it drops, and that outbox_path would have kept them', async () => {
      // Nothing listens there: every message stays in the outbox.
      const url = `tcp://127.0.0.1:${await freePort()}`;
      start(nodeScript('talker', '-r __node:=offline_talker -r chatter:=/offline_chatter -p rate_hz:=20.0'), vehicleDomain);
      const bridge = start(nodeScript('bridge', `-r __node:=offline_bridge -p url:=${url} -p topics:=[/offline_chatter] -p diagnostics_period_s:=0.2`), vehicleDomain);
      const diag = start('ros2 topic echo /diagnostics diagnostic_msgs/msg/DiagnosticArray', vehicleDomain);
      await waitUntil(() => Number(diagnosticValue(diag.output(), 'offline_bridge: link', 'outbox_messages')) > 0, 'messages in the bridge outbox', 60_000);
      await diag.stop();
      assert.equal(await bridge.stop(), 0);
      assert.match(bridge.output(), /shutting down with [1-9]\d* message\(s\) the server has not acknowledged: lost \(outbox_path keeps them for the next start\)/);
    });
  });
});
