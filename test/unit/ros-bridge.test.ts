import { strict as assert } from 'node:assert';
import { Bridge } from '../../src/ros/bridge';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import type { RosEnvelope } from '../../src/ros/envelope';
import type { ParamValue } from '../../src/ros/port';
import { qos } from '../../src/ros/qos';
import type { DiagnosticStatusMsg } from '../../src/ros/ros-messages';
import { MemoryLink, MemoryRosGraph, MemoryRosNode } from '../support/memory-ros-port';
import { useTeardown, type Teardown } from '../support/teardown';

const RELIABLE = qos('reliable', 'volatile', 10);
const BEST_EFFORT = qos('best_effort', 'volatile', 5);
const LATCHED = qos('reliable', 'transient_local', 1);

interface Rig {
  graph: MemoryRosGraph;
  node: MemoryRosNode;
  talker: MemoryRosNode;
  link: MemoryLink;
  bridge: Bridge;
  clock: { mono: number; wall: number };
  sent(): RosEnvelope[];
}

function rig(overrides: Record<string, ParamValue | null>, teardown: Teardown, nodeName = 'fastsocket_bridge'): Rig {
  const graph = new MemoryRosGraph();
  const node = graph.createNode(nodeName, overrides);
  const talker = graph.createNode('talker');
  const link = new MemoryLink();
  const clock = { mono: 0, wall: 1_700_000_000_000_000_000 };
  const bridge = new Bridge(node, readBridgeConfig(node, 'veh-17'), link, { monotonicNs: () => clock.mono, wallNs: () => clock.wall });
  teardown.add(() => bridge.close());
  return { graph, node, talker, link, bridge, clock, sent: () => link.payloads as RosEnvelope[] };
}

/** Lets the send promises settle (they resolve in microtasks). */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

describe('Bridge', () => {
  const teardown = useTeardown();

  describe('#start', () => {
    it('waits for a publisher to learn the type when none is configured, then forwards', () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      r.bridge.start();
      assert.equal(r.bridge.topics()[0].state, 'waiting');
      assert.equal(r.node.logged('info', /waiting for a publisher on \/chatter/).length, 1);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.discover();
      pub.publish({ data: 'hello' });
      assert.equal(r.bridge.topics()[0].type, 'std_msgs/msg/String');
      assert.deepEqual(r.sent(), [{
        topic: '/chatter', type: 'std_msgs/msg/String', seq: 0, stamp_ns: r.clock.wall,
        qos: { reliability: 'reliable', durability: 'volatile', depth: 100 }, msg: { data: 'hello' },
      }]);
    });

    it('says it waits to learn whether a publisher latches, not its QoS, on ROS 1 where publishers offer no other QoS', () => {
      const r = rig({ 'topic_options.chatter.type': 'std_msgs/String' }, teardown);
      r.node.qosCanExclude = false;
      r.bridge.start();
      assert.equal(r.node.logged('info', /waiting for a publisher on \/chatter to learn whether it latches$/).length, 1, JSON.stringify(r.node.logs));
      assert.equal(r.node.logged('info', /QoS/).length, 0);
    });

    it('subscribes at once with the configured type and QoS, before any publisher exists', () => {
      const r = rig({ 'topic_options.chatter.type': 'std_msgs/String', 'topic_options.chatter.qos_preset': 'default' }, teardown);
      r.bridge.start();
      assert.equal(r.bridge.topics()[0].state, 'forwarding');
      r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE).publish({ data: 'early' });
      assert.equal(r.sent().length, 1);
    });

    it('numbers messages per topic from 0', () => {
      const r = rig({ topics: ['/a', '/b'] }, teardown);
      const a = r.talker.createPublisher('std_msgs/msg/String', '/a', RELIABLE);
      const b = r.talker.createPublisher('std_msgs/msg/Float64', '/b', RELIABLE);
      r.bridge.start();
      a.publish({ data: 'x' });
      b.publish({ data: 1 });
      a.publish({ data: 'y' });
      assert.deepEqual(r.sent().map((e) => [e.topic, e.seq]), [['/a', 0], ['/b', 0], ['/a', 1]]);
    });
  });

  describe('#discover (QoS)', () => {
    it('receives from a best-effort publisher by subscribing best-effort', () => {
      const r = rig({ topics: ['/scan'] }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/scan', BEST_EFFORT);
      r.bridge.start();
      pub.publish({ data: 2.5 });
      assert.equal(r.sent().length, 1);
      assert.deepEqual(r.sent()[0].qos, { reliability: 'best_effort', durability: 'volatile', depth: 100 });
    });

    it('receives the latched message of a transient-local publisher that published before the bridge started', () => {
      const r = rig({ topics: ['/map_info'] }, teardown);
      r.talker.createPublisher('std_msgs/msg/String', '/map_info', LATCHED).publish({ data: 'latched' });
      r.bridge.start();
      assert.deepEqual(r.sent().map((e) => [e.msg, e.qos?.durability]), [[{ data: 'latched' }, 'transient_local']]);
    });

    it('resubscribes best-effort when a best-effort publisher joins a reliable topic', () => {
      const r = rig({ topics: ['/mixed'] }, teardown);
      r.talker.createPublisher('std_msgs/msg/String', '/mixed', RELIABLE);
      r.bridge.start();
      const late = r.graph.createNode('late').createPublisher('std_msgs/msg/String', '/mixed', BEST_EFFORT);
      late.publish({ data: 'lost before resubscribing' });
      r.bridge.discover();
      late.publish({ data: 'heard' });
      assert.deepEqual(r.sent().map((e) => e.msg), [{ data: 'heard' }]);
      assert.equal(r.bridge.topics()[0].counters.resubscriptions, 1);
    });

    it('keeps its subscription when the publishers go away', () => {
      const r = rig({ topics: ['/t'] }, teardown);
      const talker = r.graph.createNode('gone');
      talker.createPublisher('std_msgs/msg/String', '/t', BEST_EFFORT);
      r.bridge.start();
      talker.destroy();
      r.bridge.discover();
      assert.equal(r.bridge.topics()[0].state, 'forwarding');
      assert.equal(r.bridge.topics()[0].counters.resubscriptions, 0);
    });
  });

  describe('#discover (what cannot be heard)', () => {
    it('subscribes once to a topic listed by a relative name and refined by topic_options, and forwards each message once', () => {
      const r = rig({ topics: ['chatter'], 'topic_options.chatter.encoding': 'cdr' }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      pub.publish({ data: 'once' });
      assert.equal(r.graph.subscriptions.filter((s) => s.topic === '/chatter').length, 1);
      assert.deepEqual(r.sent().map((e) => [e.topic, e.seq, e.cdr !== undefined]), [['/chatter', 0, true]]);
    });

    it('warns once, naming topic, configured type and the types seen, when the publishers are all of another type', () => {
      const r = rig({ 'topic_options.x.type': 'std_msgs/msg/String' }, teardown);
      r.talker.createPublisher('std_msgs/msg/Float64', '/x', RELIABLE);
      r.bridge.start();
      r.bridge.discover();
      r.bridge.discover();
      const warnings = r.node.logged('warn', /\/x/);
      assert.equal(warnings.length, 1, JSON.stringify(r.node.logs));
      assert.match(warnings[0].message, /std_msgs\/msg\/String/);
      assert.match(warnings[0].message, /std_msgs\/msg\/Float64/);
    });

    it('warns once, naming the server, when a fastsocket server on the same graph publishes a forwarded topic (a loop)', () => {
      const r = rig({ topics: ['/chatter', '/fix'] }, teardown);
      const server = r.graph.createNode('fastsocket_server');
      server.createPublisher('statistics_msgs/msg/MetricsMessage', '~/latency_stats', RELIABLE);
      server.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      server.createPublisher('std_msgs/msg/String', '/remote/fix', RELIABLE);
      r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.talker.createPublisher('std_msgs/msg/String', '/fix', RELIABLE);
      r.bridge.start();
      r.bridge.discover();
      r.bridge.discover();
      const loops = r.node.logged('warn', /fastsocket server on this ROS graph/);
      assert.equal(loops.length, 1, JSON.stringify(r.node.logs));
      assert.match(loops[0].message, /^\/chatter is published by \/fastsocket_server,/);
    });

    it('does not take a node for a server because it publishes some other latency_stats topic', () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      const other = r.graph.createNode('monitor');
      other.createPublisher('std_msgs/msg/Float64', '~/latency_stats', RELIABLE);
      other.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      r.bridge.discover();
      assert.deepEqual(r.node.logged('warn', /./), []);
    });

    it('does not warn about the type while no publisher exists or one of the configured type does', () => {
      const r = rig({ 'topic_options.x.type': 'std_msgs/msg/String' }, teardown);
      r.bridge.start();
      r.talker.createPublisher('std_msgs/msg/String', '/x', RELIABLE);
      r.talker.createPublisher('std_msgs/msg/Float64', '/x', RELIABLE);
      r.bridge.discover();
      assert.deepEqual(r.node.logged('warn', /./), []);
    });

    it('warns once, naming the topic, when a configured reliable subscription cannot hear a best-effort publisher', () => {
      const r = rig({ 'topic_options.be.qos_reliability': 'reliable' }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/be', BEST_EFFORT);
      r.bridge.start();
      r.bridge.discover();
      pub.publish({ data: 'unheard' });
      assert.equal(r.sent().length, 0, 'DDS matching drops the pair');
      const warnings = r.node.logged('warn', /\/be\b/);
      assert.equal(warnings.length, 1, JSON.stringify(r.node.logs));
      assert.match(warnings[0].message, /reliable/);
      assert.match(warnings[0].message, /best_effort/);
    });

    it('warns once, naming the topic, when a configured transient-local subscription cannot hear a volatile publisher', () => {
      const r = rig({ 'topic_options.map.qos_durability': 'transient_local' }, teardown);
      r.talker.createPublisher('std_msgs/msg/String', '/map', RELIABLE);
      r.bridge.start();
      r.bridge.discover();
      const warnings = r.node.logged('warn', /\/map\b/);
      assert.equal(warnings.length, 1, JSON.stringify(r.node.logs));
      assert.match(warnings[0].message, /transient_local/);
    });

    it('does not warn about QoS it chose itself to match the publishers', () => {
      const r = rig({ topics: ['/mixed'] }, teardown);
      r.talker.createPublisher('std_msgs/msg/String', '/mixed', BEST_EFFORT);
      r.talker.createPublisher('std_msgs/msg/String', '/mixed', LATCHED);
      r.bridge.start();
      r.bridge.discover();
      assert.deepEqual(r.node.logged('warn', /./), []);
    });
  });

  describe('#forward', () => {
    it('sends the serialized bytes base64-encoded when the topic uses cdr encoding', () => {
      const r = rig({ 'topic_options.chatter.encoding': 'cdr' }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      const message = { data: 'raw' };
      pub.publish(message);
      const env = r.sent()[0];
      assert.equal(env.msg, undefined);
      assert.deepEqual(Buffer.from(env.cdr as string, 'base64'), r.graph.serialize(message));
    });

    it('sends its type hash with cdr messages (not with json ones), so a server with another definition can refuse them', () => {
      const r = rig({ 'topic_options.chatter.encoding': 'cdr', 'topic_options.json_topic.type': 'std_msgs/msg/String' }, teardown);
      r.graph.typeHashes.set('std_msgs/msg/String', 'RIHS01_aaaa');
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      const other = r.talker.createPublisher('std_msgs/msg/String', '/json_topic', RELIABLE);
      r.bridge.start();
      pub.publish({ data: 'raw' });
      other.publish({ data: 'json' });
      assert.deepEqual(r.sent().map((e) => [e.topic, e.type_hash]), [['/chatter', 'RIHS01_aaaa'], ['/json_topic', undefined]]);
    });

    it('sends cdr messages without a type hash when the port has none for the type', () => {
      const r = rig({ 'topic_options.chatter.encoding': 'cdr' }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      pub.publish({ data: 'raw' });
      assert.equal('type_hash' in r.sent()[0], false);
    });

    it('skips messages faster than max_rate_hz', () => {
      const r = rig({ 'topic_options.fast.max_rate_hz': 10.0 }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/fast', RELIABLE);
      r.bridge.start();
      for (let i = 0; i < 10; i++) {
        pub.publish({ data: i });
        r.clock.mono += 40e6;
      }
      // At 40 ms apart, 10 Hz: slots at 0, 100, 200, 300 ms, each taken by the first message at most 25 ms before it:
      // messages 0 (0 ms), 2 (80), 5 (200) and 7 (280).
      assert.deepEqual(r.sent().map((e) => [e.seq, e.msg?.data]), [[0, 0], [1, 2], [2, 5], [3, 7]]);
      assert.equal(r.bridge.topics()[0].counters.skipped_rate, 6);
    });

    it('forwards every other message of a 10 Hz topic at max_rate_hz 5.0 although the timer jitters by +-0.5 ms', () => {
      const r = rig({ 'topic_options.gps.max_rate_hz': 5.0 }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/gps', RELIABLE);
      r.bridge.start();
      for (let i = 0; i < 100; i++) {
        r.clock.mono = 1e9 + i * 100e6 + (i % 3 === 1 ? -0.5e6 : 0.5e6);
        pub.publish({ data: i });
      }
      // 10 s of a 10 Hz topic: 50 at 5 Hz. Spacing each message at least 200 ms after the last forwarded one
      // skipped every message that came 0.5 ms early and the one after it: 34, 3.4 Hz.
      assert.equal(r.sent().length, 50);
      assert.equal(r.bridge.topics()[0].counters.skipped_rate, 50);
    });

    it('never forwards more than max_rate_hz over time, nor two messages closer than 3/4 of the period, whatever the publisher does', () => {
      const r = rig({ 'topic_options.fast.max_rate_hz': 5.0 }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/fast', RELIABLE);
      r.bridge.start();
      const forwardedAt: number[] = [];
      // 1 kHz for 10 s, a 3 s pause, then 2 s at 7 Hz (143 ms apart).
      const times = [...Array.from({ length: 10_000 }, (_, i) => i * 1e6), ...Array.from({ length: 14 }, (_, i) => 13e9 + i * 143e6)];
      for (const t of times) {
        r.clock.mono = t;
        const before = r.sent().length;
        pub.publish({ data: t });
        if (r.sent().length > before) forwardedAt.push(t);
      }
      // One per 200 ms slot, the first slot's message at 0 and the others' up to 50 ms before their slot: 50 or 51 in 10 s.
      assert.ok([50, 51].includes(forwardedAt.filter((t) => t < 10e9).length), String(forwardedAt.filter((t) => t < 10e9).length));
      for (let i = 1; i < forwardedAt.length; i++) assert.ok(forwardedAt[i] - forwardedAt[i - 1] >= 150e6, `${forwardedAt[i - 1]} -> ${forwardedAt[i]}`);
      assert.ok(forwardedAt.filter((t) => t >= 13e9).length <= 11, String(forwardedAt.filter((t) => t >= 13e9).length));
    });

    it('publishes the round-trip time in ms on ~/rtt when a message is acknowledged', async () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      r.link.rttNs = 3_500_000;
      pub.publish({ data: 'x' });
      await settle();
      assert.deepEqual(r.graph.messagesOn('/fastsocket_bridge/rtt'), [{ data: 3.5 }]);
    });

    it('publishes ~/rtt only while a subscription matches it, and still counts every delivery', async () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      r.graph.matchSubscribers = true;
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      r.link.rttNs = 3_500_000;
      pub.publish({ data: 'unheard' });
      await settle();
      assert.equal(r.graph.messagesOn('/fastsocket_bridge/rtt').length, 0);
      const heard: unknown[] = [];
      r.talker.createSubscription('std_msgs/msg/Float64', '/fastsocket_bridge/rtt', RELIABLE, 'object', (m) => heard.push(m));
      pub.publish({ data: 'heard' });
      await settle();
      assert.deepEqual(heard, [{ data: 3.5 }]);
      assert.equal(r.bridge.topics()[0].counters.delivered, 2);
    });

    it('counts and logs a message the client drops, and keeps forwarding', async () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      r.link.hold = true;
      pub.publish({ data: 'dropped' });
      r.link.dropHeld();
      r.link.hold = false;
      pub.publish({ data: 'kept' });
      await settle();
      const c = r.bridge.topics()[0].counters;
      assert.deepEqual([c.forwarded, c.delivered, c.dropped], [2, 1, 1]);
      assert.equal(r.node.logged('warn', /\/chatter dropped/).length, 1);
    });

    it('drops a message that does not fit its type with a log naming topic, type and field', () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      // Delivered straight to the subscription, as a broken middleware might: the port is a stand-in, the bridge is not.
      r.graph.subscriptions[0].onMessage({ data: 42 });
      assert.equal(r.sent().length, 0);
      assert.equal(r.node.logged('warn', /\/chatter \(std_msgs\/msg\/String\).*msg\.data/).length, 1);
    });
  });

  describe('#forward (max_age_ms)', () => {
    const MS = 1e6;

    it('hands a max_age_ms topic over at once while the link is up, with no held_ns', () => {
      const r = rig({ 'topic_options.cam.max_age_ms': 100n }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/cam', RELIABLE);
      r.bridge.start();
      pub.publish({ data: 1 });
      assert.deepEqual(r.sent().map((e) => [e.seq, e.msg?.data, e.held_ns]), [[0, 1, undefined]]);
    });

    it('holds it while the link is down, drops what is older than max_age_ms when the link is back, and sends the rest in order', () => {
      const r = rig({ 'topic_options.cam.max_age_ms': 100n, topics: ['/chatter'] }, teardown);
      const cam = r.talker.createPublisher('std_msgs/msg/Float64', '/cam', RELIABLE);
      const chatter = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      r.link.disconnect();
      cam.publish({ data: 0 });
      chatter.publish({ data: 'no max_age_ms: to the client at once' });
      r.clock.mono += 80 * MS;
      cam.publish({ data: 1 });
      r.clock.mono += 30 * MS;
      cam.publish({ data: 2 });
      assert.deepEqual(r.sent().map((e) => e.topic), ['/chatter'], 'nothing of /cam reaches the client while the link is down');
      r.clock.mono += 40 * MS;
      // Now 150, 70 and 40 ms old.
      r.link.connect();
      const cams = r.sent().filter((e) => e.topic === '/cam');
      assert.deepEqual(cams.map((e) => [e.seq, e.msg?.data]), [[0, 1], [1, 2]], 'the stale message takes no seq, so the server sees no loss');
      assert.deepEqual(cams.map((e) => e.held_ns), [70 * MS, 40 * MS], 'how long each was held, for the server\'s age');
      const c = r.bridge.topics().find((t) => t.name === '/cam')!.counters;
      assert.deepEqual([c.forwarded, c.dropped_stale, c.dropped], [3, 1, 0]);
      assert.equal(r.node.logged('warn', /dropped 1 message\(s\) on \/cam older than max_age_ms 100/).length, 1);
    });

    it('gives the client what is left of max_age_ms with each message, so that it drops rather than writes one grown older', async () => {
      const r = rig({ 'topic_options.cam.max_age_ms': 100n, topics: ['/chatter'] }, teardown);
      const cam = r.talker.createPublisher('std_msgs/msg/Float64', '/cam', RELIABLE);
      const chatter = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      cam.publish({ data: 0 });
      chatter.publish({ data: 'no max_age_ms' });
      r.link.disconnect();
      cam.publish({ data: 1 });
      r.clock.mono += 30 * MS;
      r.link.connect();
      assert.deepEqual(r.link.sendOptions, [{ maxAgeMs: 100 }, undefined, { maxAgeMs: 70 }]);
      r.link.hold = true;
      cam.publish({ data: 2 });
      r.link.expireHeld();
      await settle();
      const c = r.bridge.topics().find((t) => t.name === '/cam')!.counters;
      assert.deepEqual([c.forwarded, c.delivered, c.dropped_stale, c.dropped], [3, 2, 1, 0]);
      assert.equal(r.node.logged('warn', /dropped message\(s\) on \/cam older than max_age_ms before the link could carry them/).length, 1);
    });

    it("tells the server in the next envelopes' dropped how many numbered messages it gave up on, so it does not count them lost", async () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      await settle();
      pub.publish({ data: 'a' });
      r.link.hold = true;
      pub.publish({ data: 'b' });
      pub.publish({ data: 'c' });
      r.link.expireHeld();
      await settle();
      r.link.hold = false;
      pub.publish({ data: 'd' });
      r.link.hold = true;
      pub.publish({ data: 'e' });
      r.link.dropHeld('drop');
      await settle();
      r.link.hold = false;
      pub.publish({ data: 'f' });
      await settle();
      const sent = (r.link.payloads as Array<{ topic: string; seq: number; dropped?: number }>).filter((p) => p.topic === '/chatter');
      assert.deepEqual(sent.map((e) => [e.seq, e.dropped]), [[0, undefined], [1, undefined], [2, undefined], [3, 2], [4, 2], [5, 3]]);
    });

    it('publishes /diagnostics only while a subscription matches it, and drops stale held messages either way', () => {
      const r = rig({ 'topic_options.cam.max_age_ms': 50n }, teardown);
      r.graph.matchSubscribers = true;
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/cam', RELIABLE);
      r.bridge.start();
      r.link.disconnect();
      pub.publish({ data: 0 });
      r.clock.mono += 51 * MS;
      r.bridge.publishDiagnostics();
      assert.equal(r.graph.messagesOn('/diagnostics').length, 0);
      assert.equal(r.bridge.topics()[0].counters.dropped_stale, 1);
      r.talker.createSubscription('diagnostic_msgs/msg/DiagnosticArray', '/diagnostics', RELIABLE, 'object', () => undefined);
      r.bridge.publishDiagnostics();
      assert.equal(r.graph.messagesOn('/diagnostics').length, 1);
    });

    it('counts held messages as stale on the diagnostics tick while the link stays down', () => {
      const r = rig({ 'topic_options.cam.max_age_ms': 50n }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/cam', RELIABLE);
      r.bridge.start();
      r.link.disconnect();
      pub.publish({ data: 0 });
      pub.publish({ data: 1 });
      r.clock.mono += 51 * MS;
      r.node.fireTimers(1000);
      const [array] = r.graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const link = Object.fromEntries(array.status.find((s) => s.name === 'fastsocket_bridge: link')!.values.map((v) => [v.key, v.value]));
      const topic = Object.fromEntries(array.status.find((s) => s.name === 'fastsocket_bridge: /cam')!.values.map((v) => [v.key, v.value]));
      assert.deepEqual([link.dropped_stale_messages, link.held_messages], ['2', '0']);
      assert.deepEqual([topic.dropped_stale_messages, topic.held_messages, topic.max_age_ms, topic.dropped_messages], ['2', '0', '50', '0']);
      r.link.connect();
      assert.equal(r.sent().length, 0);
    });

    it('keeps at most outbox_max_messages held per topic, dropping the oldest as the outbox would', () => {
      const r = rig({ 'topic_options.cam.max_age_ms': 10000n, outbox_max_messages: 2n }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/Float64', '/cam', RELIABLE);
      r.bridge.start();
      r.link.disconnect();
      for (let i = 0; i < 5; i++) pub.publish({ data: i });
      r.link.connect();
      assert.deepEqual(r.sent().map((e) => [e.seq, e.msg?.data]), [[0, 3], [1, 4]]);
      const c = r.bridge.topics()[0].counters;
      assert.deepEqual([c.dropped, c.dropped_stale], [3, 0]);
    });
  });

  describe('#forward (max_age_ms, outbox_max_bytes)', () => {
    it('keeps at most outbox_max_bytes held per topic too, as the outbox measures it, dropping the oldest', () => {
      // Each envelope is some 1,150 bytes as JSON: two fit in 2,500, three do not.
      const r = rig({ 'topic_options.cam.max_age_ms': 10000n, outbox_max_bytes: 2500n }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/cam', RELIABLE);
      r.bridge.start();
      r.link.disconnect();
      for (let i = 0; i < 5; i++) pub.publish({ data: `${i}${'x'.repeat(1000)}` });
      r.link.connect();
      assert.deepEqual(r.sent().map((e) => [e.seq, String(e.msg?.data)[0]]), [[0, '3'], [1, '4']]);
      const c = r.bridge.topics()[0].counters;
      assert.deepEqual([c.dropped, c.dropped_stale], [3, 0]);
    });
  });

  describe('#forward (latched topics after a server restart)', () => {
    const MS = 1e6;
    const DEEP_LATCHED = qos('reliable', 'transient_local', 50);
    const latchedRig = () => {
      const r = rig({ topics: ['/map_info', '/chatter', '/kept_stream'] }, teardown);
      const map = r.talker.createPublisher('std_msgs/msg/String', '/map_info', LATCHED);
      const chatter = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      const stream = r.talker.createPublisher('std_msgs/msg/String', '/kept_stream', DEEP_LATCHED);
      r.bridge.start();
      r.link.helloFrom('server-A');
      return { r, map, chatter, stream };
    };
    const onTopic = (r: Rig, topic: string) => r.sent().filter((e) => e.topic === topic);
    /** /tf_static with two latching publishers, each of whose message server A has acknowledged. */
    const tfStaticDelivered = async () => {
      const r = rig({ topics: ['/tf_static'] }, teardown);
      const robot = r.talker.createPublisher('std_msgs/msg/String', '/tf_static', LATCHED);
      const lidar = r.graph.createNode('lidar_static_tf').createPublisher('std_msgs/msg/String', '/tf_static', LATCHED);
      r.bridge.start();
      r.link.helloFrom('server-A');
      robot.publish({ data: 'base_link' });
      lidar.publish({ data: 'lidar' });
      await settle();
      return { r, robot };
    };

    it('sends the last delivered message of a latched topic again when the hello names a new server instance, with a fresh seq and held_ns since receipt', async () => {
      const { r, map, chatter, stream } = latchedRig();
      assert.deepEqual(r.bridge.topics().map((t) => t.qos?.durability), ['transient_local', 'volatile', 'transient_local']);
      map.publish({ data: 'v1' });
      r.clock.mono += 10 * MS;
      map.publish({ data: 'v2' });
      r.clock.mono += 10 * MS;
      chatter.publish({ data: 'volatile' });
      stream.publish({ data: 'kept for reliability, not state' });
      await settle();
      r.link.disconnect();
      r.clock.mono += 1000 * MS;
      r.link.connect();
      r.link.helloFrom('server-B');
      const map2 = onTopic(r, '/map_info');
      assert.deepEqual(map2.map((e) => [e.seq, e.msg?.data, e.held_ns]), [[0, 'v1', undefined], [1, 'v2', undefined], [2, 'v2', 1010 * MS]]);
      assert.equal(map2[2].stamp_ns, map2[1].stamp_ns, 'the bridge receive time stays that of the original');
      assert.equal(onTopic(r, '/chatter').length, 1, 'a volatile topic is never sent again');
      assert.equal(onTopic(r, '/kept_stream').length, 1, 'nor a deeper transient_local history: it would repeat a stream to every subscriber');
      assert.deepEqual(r.bridge.topics().map((t) => t.counters.replayed), [1, 0, 0]);
      await settle();
      const c = r.bridge.topics()[0].counters;
      assert.deepEqual([c.forwarded, c.delivered, c.dropped], [2, 2, 0], 'the copy is counted as replayed only');
      assert.equal(r.node.logged('info', /server restarted .*again, 1 on \/map_info$/).length, 1);
      await settle();
      r.link.helloFrom('server-C');
      assert.deepEqual(onTopic(r, '/map_info').slice(3).map((e) => e.msg?.data), ['v2'], 'the copy is kept for the next restart');
    });

    it('keeps one message per latching publisher, as /tf_static has several, and sends them again in order', async () => {
      const { r, robot } = await tfStaticDelivered();
      r.link.helloFrom('server-B');
      assert.deepEqual(r.sent().map((e) => e.msg?.data), ['base_link', 'lidar', 'base_link', 'lidar']);
    });

    it('sends the other latching publishers\' messages to a restarted server once one that was unacknowledged is acknowledged, that one last', async () => {
      const { r, robot } = await tfStaticDelivered();
      r.link.hold = true;
      robot.publish({ data: 'base_link v2' });
      r.link.helloFrom('server-B');
      assert.deepEqual(r.sent().map((e) => e.msg?.data), ['base_link', 'lidar', 'base_link v2'], 'lidar must not overtake base_link v2');
      r.link.hold = false;
      r.link.release();
      await settle();
      assert.deepEqual(r.sent().map((e) => e.msg?.data), ['base_link', 'lidar', 'base_link v2', 'lidar', 'base_link v2']);
      assert.equal(r.bridge.topics()[0].counters.replayed, 2);
    });

    it('does not send a restarted server a latched message older than the topic\'s max_age_ms, as it drops a held one', async () => {
      const r = rig({ 'topic_options.map_info.max_age_ms': 500n }, teardown);
      const map = r.talker.createPublisher('std_msgs/msg/String', '/map_info', LATCHED);
      r.bridge.start();
      r.link.connect();
      r.link.helloFrom('server-A');
      map.publish({ data: 'v1' });
      await settle();
      r.clock.mono += 400 * MS;
      r.link.helloFrom('server-B');
      assert.deepEqual(r.sent().map((e) => [e.msg?.data, e.held_ns]), [['v1', undefined], ['v1', 400 * MS]], 'a fresh one goes again');
      await settle();
      r.link.disconnect();
      r.clock.mono += 1000 * MS;
      map.publish({ data: 'v2' });
      r.clock.mono += 1000 * MS;
      r.link.connect();
      r.link.helloFrom('server-C');
      assert.deepEqual(r.sent().map((e) => e.msg?.data), ['v1', 'v1'], 'v2, 1 s old, was dropped as stale; v1, 2.4 s old, must not go instead');
      assert.deepEqual([r.bridge.topics()[0].counters.dropped_stale, r.bridge.topics()[0].counters.replayed], [1, 1]);
    });

    it('does not send a restarted server a latched message twice when the one unacknowledged at its hello replaced every one it lacked', async () => {
      const { r, map } = latchedRig();
      map.publish({ data: 'v1' });
      await settle();
      r.link.hold = true;
      map.publish({ data: 'v2 in the outbox' });
      r.link.helloFrom('server-B');
      r.link.hold = false;
      r.link.release();
      await settle();
      assert.deepEqual(onTopic(r, '/map_info').map((e) => e.msg?.data), ['v1', 'v2 in the outbox'], 'server B has v2 (the client resent it) and v1 is older: nothing is owed');
      assert.equal(r.bridge.topics()[0].counters.replayed, 0);
    });

    it('keeps a latched message whose copy for a restarted server the outbox dropped, for the next restart', async () => {
      const { r, map } = latchedRig();
      map.publish({ data: 'v1' });
      await settle();
      r.link.hold = true;
      r.link.helloFrom('server-B');
      r.link.dropHeld();
      await settle();
      r.link.hold = false;
      r.link.helloFrom('server-C');
      await settle();
      assert.deepEqual(onTopic(r, '/map_info').map((e) => e.msg?.data), ['v1', 'v1', 'v1'], 'v1 was delivered to server A and nothing replaced it: server C must get it');
    });

    it('keeps the last message of a topic configured transient_local with depth 1 (how a latched ROS 1 topic is marked)', async () => {
      const r = rig({ 'topic_options.route.qos_durability': 'transient_local', 'topic_options.route.qos_depth': 1n }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/route', DEEP_LATCHED);
      r.bridge.start();
      r.link.helloFrom('server-A');
      pub.publish({ data: 'r1' });
      pub.publish({ data: 'r2' });
      await settle();
      r.link.helloFrom('server-B');
      assert.deepEqual(r.sent().map((e) => e.msg?.data), ['r1', 'r2', 'r2']);
    });

    it('sends nothing again on the first hello, or when the same server answers after a reconnection, or for a server that sends no instance', async () => {
      const { r, map } = latchedRig();
      map.publish({ data: 'v1' });
      await settle();
      r.link.disconnect();
      r.link.connect();
      r.link.helloFrom('server-A');
      r.link.helloFrom(null);
      assert.deepEqual(onTopic(r, '/map_info').map((e) => e.msg?.data), ['v1']);
      assert.equal(r.bridge.topics()[0].counters.replayed, 0);
    });

    it('sends nothing again while the latched message is unacknowledged (the client resends it itself), and the one before it if the outbox drops it', async () => {
      const { r, map } = latchedRig();
      map.publish({ data: 'v1' });
      await settle();
      r.link.hold = true;
      map.publish({ data: 'v2 in the outbox' });
      r.link.helloFrom('server-B');
      assert.deepEqual(onTopic(r, '/map_info').map((e) => e.msg?.data), ['v1', 'v2 in the outbox'], 'v1 must not overtake v2');
      r.link.dropHeld();
      await settle();
      assert.deepEqual(onTopic(r, '/map_info').map((e) => e.msg?.data), ['v1', 'v2 in the outbox', 'v1'], 'the last delivered one is what server B must have');
      r.link.hold = false;
      r.link.release();
      await settle();
      r.link.helloFrom('server-C');
      assert.deepEqual(onTopic(r, '/map_info').map((e) => e.msg?.data), ['v1', 'v2 in the outbox', 'v1', 'v1']);
    });

    it('keeps no more unacknowledged latched messages than it would give a restarted server, however long the outage', async () => {
      const { r, map } = latchedRig();
      map.publish({ data: 'v0' });
      await settle();
      r.link.hold = true;
      for (let i = 1; i <= 500; i++) map.publish({ data: `v${i}` });
      const kept = (r.bridge as unknown as { forwarders: Array<{ latched: unknown[] }> }).forwarders[0].latched;
      assert.equal(kept.length, 2, 'the delivered v0 and the newest unacknowledged one');
      r.link.release();
      await settle();
      r.link.hold = false;
      r.link.helloFrom('server-B');
      assert.deepEqual(onTopic(r, '/map_info').slice(-1).map((e) => e.msg?.data), ['v500'], 'the newest, again');
    });
  });

  describe('#publishDiagnostics', () => {
    it('publishes the link status with connection, outbox, drops and reconnects', async () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      r.bridge.start();
      await settle();
      r.node.fireTimers(1000);
      const [array] = r.graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const link = array.status.find((s) => s.name === 'fastsocket_bridge: link')!;
      const values = Object.fromEntries(link.values.map((v) => [v.key, v.value]));
      assert.equal(link.level, 0);
      assert.equal(values.connected, 'true');
      for (const key of ['outbox_messages', 'outbox_bytes', 'dropped_messages', 'reconnects', 'last_rtt_ms', 'dropped_stale_messages', 'held_messages']) assert.ok(key in values, key);
      assert.deepEqual([values.clock_sync, values.tls, values.token_set, values.outbox_path], ['false', 'false', 'false', '']);
      assert.equal(array.status.find((s) => s.name === 'fastsocket_bridge: /chatter')?.message, 'waiting');
    });

    /** A connected bridge on /chatter with a /diagnostics listener, whose link drops (or refuses) `count` messages. */
    async function droppedWhileConnected(count: number, policy: 'drop' | 'reject' | 'max-attempts'): Promise<ReturnType<typeof rig>> {
      const r = rig({ topics: ['/chatter'] }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.talker.createSubscription('diagnostic_msgs/msg/DiagnosticArray', '/diagnostics', RELIABLE, 'object', () => undefined);
      r.bridge.start();
      await settle();
      r.link.hold = true;
      for (let i = 0; i < count; i++) pub.publish({ data: String(i) });
      r.link.dropHeld(policy);
      await settle();
      return r;
    }

    it('reports the link as saturated while the outbox drops messages with the link up, and connected again once it stops', async () => {
      const r = await droppedWhileConnected(3, 'drop');
      const linkStatus = (): DiagnosticStatusMsg => {
        r.node.fireTimers(1000);
        const array = r.graph.messagesOn('/diagnostics').at(-1) as { status: DiagnosticStatusMsg[] };
        return array.status.find((s) => s.name === 'fastsocket_bridge: link')!;
      };
      const saturated = linkStatus();
      assert.equal(saturated.level, 1);
      assert.match(saturated.message, /^connected; saturated: 3 message\(s\) dropped since the last status, outbox full \(the link, or the server at its end, takes less than/);
      assert.match(r.node.logged('warn', /\/chatter dropped/)[0].message, /max_rate_hz/);
      const calm = linkStatus();
      assert.deepEqual([calm.level, calm.message], [0, 'connected']);
    });

    it('does not call the link saturated for a message dropped after maxAttempts connections closed on it', async () => {
      const r = await droppedWhileConnected(2, 'max-attempts');
      r.node.fireTimers(1000);
      const [array] = r.graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const link = array.status.find((s) => s.name === 'fastsocket_bridge: link')!;
      assert.deepEqual([link.level, link.message], [0, 'connected']);
      const [warning] = r.node.logged('warn', /\/chatter dropped/);
      assert.ok(warning && !/max_rate_hz/.test(warning.message), warning?.message);
    });

    it('counts the sends outbox_policy reject refused in the link\'s dropped_messages, as in the topic\'s', async () => {
      const r = await droppedWhileConnected(2, 'reject');
      r.node.fireTimers(1000);
      const [array] = r.graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const dropped = (name: string): string | undefined => array.status.find((s) => s.name === name)!.values.find((v) => v.key === 'dropped_messages')?.value;
      assert.deepEqual([dropped('fastsocket_bridge: link'), dropped('fastsocket_bridge: /chatter')], ['2', '2']);
    });

    it('names its statuses after the node, so two bridges renamed apart publish statuses of different names', async () => {
      const r = rig({ topics: ['/chatter'] }, teardown, 'bridge_veh1');
      r.bridge.start();
      await settle();
      r.node.fireTimers(1000);
      const [array] = r.graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      assert.deepEqual(array.status.map((s) => s.name), ['bridge_veh1: link', 'bridge_veh1: /chatter']);
    });
  });

  describe('#close', () => {
    it('stops forwarding and closes the link, twice without harm', async () => {
      const r = rig({ topics: ['/chatter'] }, teardown);
      const pub = r.talker.createPublisher('std_msgs/msg/String', '/chatter', RELIABLE);
      r.bridge.start();
      await r.bridge.close();
      await r.bridge.close();
      pub.publish({ data: 'after close' });
      assert.equal(r.sent().length, 0);
      assert.ok(r.link.closed);
      assert.ok(r.node.timers.every((t) => t.canceled));
    });
  });
});
