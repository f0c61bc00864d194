import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeScript, REPO, useRosGraph } from './ros-harness';

/**
 * No installed ROS 2 type has a wstring field, so the suite builds one: an interface package in a scratch
 * workspace (written here rather than kept as a package.xml in the repository, which colcon would find when it
 * builds fastsocket itself).
 */
const PACKAGE_XML = `<?xml version="1.0"?>
<package format="3">
  <name>fastsocket_wstring_msgs</name><version>0.0.1</version><description>wstring test type</description>
  <maintainer email="test@example.org">test</maintainer><license>MIT</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
`;
const CMAKE = `cmake_minimum_required(VERSION 3.8)
project(fastsocket_wstring_msgs)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
rosidl_generate_interfaces(\${PROJECT_NAME} "msg/Wide.msg")
ament_package()
`;
const WIDE_MSG = 'wstring w\nwstring<=10 bounded\nwstring[] list\nstring narrow\nstring<=5 tiny\nint64 after\n';

/** `tiny`: five characters for rclpy's bound of 5, ten UTF-16 units. */
const VALUES = { w: 'wïde ✓ 🚗 日本', bounded: '0123456789', list: ['', 'ü', '🚗🚗'], narrow: 'narrow ü', tiny: '🚗🚗🚗🚗🚗', after: String(2n ** 63n - 1n) };

/** Publishes VALUES on each topic given, until killed. */
const PUBLISHER = `
import sys, rclpy
from rclpy.signals import SignalHandlerOptions
from fastsocket_wstring_msgs.msg import Wide
rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
node = rclpy.create_node('wide_publisher')
pubs = [node.create_publisher(Wide, t, 10) for t in sys.argv[1:]]
msg = Wide(w=${JSON.stringify(VALUES.w)}, bounded=${JSON.stringify(VALUES.bounded)}, list=${JSON.stringify(VALUES.list)}, narrow=${JSON.stringify(VALUES.narrow)}, tiny=${JSON.stringify(VALUES.tiny)}, after=${VALUES.after})
node.create_timer(0.1, lambda: [p.publish(msg) for p in pubs])
try:
    rclpy.spin(node)
except KeyboardInterrupt:
    pass
`;

/** Prints the first message of each topic given as one JSON line, field by field, and exits. */
const RECEIVER = `
import json, sys, rclpy
from fastsocket_wstring_msgs.msg import Wide
rclpy.init()
node = rclpy.create_node('wide_receiver')
seen = set()
def make(topic):
    def cb(m):
        if topic in seen: return
        seen.add(topic)
        print(json.dumps({'topic': topic, 'value': {'w': m.w, 'bounded': m.bounded, 'list': list(m.list), 'narrow': m.narrow, 'tiny': m.tiny, 'after': str(m.after)}}), flush=True)
    return cb
subs = [node.create_subscription(Wide, t, make(t), 10) for t in sys.argv[1:]]
while rclpy.ok() and len(seen) < len(sys.argv) - 1:
    rclpy.spin_once(node, timeout_sec=0.2)
`;

describe('fastsocket ROS 2 wstring and bounded string fields', function () {
  this.timeout(240_000);
  const graph = useRosGraph('fastsocket-wstring-');
  const { vehicleDomain, infraDomain, start } = graph;
  let setup: string[] = [];

  before(async function () {
    this.timeout(240_000);
    const ws = join(graph.dir(), 'ws');
    const pkg = join(ws, 'src', 'fastsocket_wstring_msgs');
    mkdirSync(join(pkg, 'msg'), { recursive: true });
    writeFileSync(join(pkg, 'package.xml'), PACKAGE_XML);
    writeFileSync(join(pkg, 'CMakeLists.txt'), CMAKE);
    writeFileSync(join(pkg, 'msg', 'Wide.msg'), WIDE_MSG);
    // rclnodejs generates a type's JavaScript on first use and never again: drop what an earlier run of this suite
    // generated, in case the type has changed since.
    rmSync(join(REPO, 'node_modules/rclnodejs/generated/fastsocket_wstring_msgs'), { recursive: true, force: true });
    const build = start(`bash -c 'cd ${ws} && colcon build --event-handlers console_direct+'`, vehicleDomain);
    assert.equal(await build.exited(200_000), 0, `colcon build of the wstring type failed:\n${build.output().slice(-3000)}`);
    setup = [join(ws, 'install', 'setup.bash')];
    writeFileSync(join(graph.dir(), 'publisher.py'), PUBLISHER);
    writeFileSync(join(graph.dir(), 'receiver.py'), RECEIVER);
  });

  it('delivers wstring, bounded wstring, wstring[] and a bounded string of characters beyond U+FFFF unchanged in json and in cdr encoding', async () => {
    const server = start(nodeScript('server', '-p url:=tcp://127.0.0.1:0 -p topic_prefix:=/remote'), infraDomain, setup);
    const [, url] = await server.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const params = join(graph.dir(), 'bridge.yaml');
    writeFileSync(params, [
      '/**:', '  ros__parameters:', `    url: "${url}"`, '    topics: ["/wide_json"]',
      '    topic_options:', '      wide_cdr:', '        encoding: "cdr"', '',
    ].join('\n'));
    start(`/usr/bin/python3 ${join(graph.dir(), 'publisher.py')} /wide_json /wide_cdr`, vehicleDomain, setup);
    const bridge = start(nodeScript('bridge', `--params-file ${params}`), vehicleDomain, setup);
    const receiver = start(`/usr/bin/python3 ${join(graph.dir(), 'receiver.py')} /remote/wide_json /remote/wide_cdr`, infraDomain, setup);
    for (const topic of ['/remote/wide_json', '/remote/wide_cdr']) {
      const [, value] = await receiver.waitFor(new RegExp(`\\{"topic": "${topic}", "value": (.*)\\}\\n`), 90_000);
      assert.deepEqual(JSON.parse(value), VALUES, topic);
    }
    assert.doesNotMatch(bridge.output(), /dropped a message/);
    assert.doesNotMatch(server.output(), /dropped a message/);
  });
});
