import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LatencyRecord, MessageEvent } from '../../src/fastsocket';
import { ParameterError } from '../../src/ros/errors';
import { Bridge } from '../../src/ros/bridge';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import type { ParamValue } from '../../src/ros/port';
import { qos } from '../../src/ros/qos';
import { rosToCdr } from '../../src/ros/cdr-json';
import type { DiagnosticStatusMsg } from '../../src/ros/ros-messages';
import { readServerConfig } from '../../src/ros/server-config';
import { ServerNode } from '../../src/ros/server-node';
import { MemoryLink, MemoryRosGraph, MemoryRosNode } from '../support/memory-ros-port';
import { useTeardown } from '../support/teardown';

const WALL0 = 1_700_000_000_000_000_000;

function server(overrides: Record<string, ParamValue | null> = {}, nodeName = 'fastsocket_server'): { graph: MemoryRosGraph; node: MemoryRosNode; srv: ServerNode; clock: { wall: number } } {
  const graph = new MemoryRosGraph();
  const node = graph.createNode(nodeName, overrides);
  const clock = { wall: WALL0 };
  const srv = new ServerNode(node, readServerConfig(node), { wallNs: () => clock.wall });
  srv.start();
  return { graph, node, srv, clock };
}

let nextId = 0;
function message(payload: unknown, extra: Partial<MessageEvent> = {}): MessageEvent {
  return { id: `id${nextId++}`, payload, peer: '127.0.0.1:5000', client_id: 'veh-17', resent: false, possible_duplicate: false, queued_ns: null, ...extra };
}

function envelope(seq: number, msg: unknown = { data: `m${seq}` }, extra: object = {}): object {
  return { topic: '/chatter', type: 'std_msgs/msg/String', seq, stamp_ns: WALL0, qos: { reliability: 'reliable', durability: 'volatile', depth: 10 }, msg, ...extra };
}

function latency(id: string, correctedNs: number, resent = false, extra: Partial<LatencyRecord> = {}): LatencyRecord {
  return {
    id, peer: '127.0.0.1:5000', client_id: 'veh-17', resent, t1_ns: 2 * correctedNs, t2_ns: 2 * correctedNs, latency_ns: correctedNs,
    ps_ns: 0, pc_ns: 0, latency_corrected_ns: correctedNs, queued_ns: null, uplink_wall_ns: null, offset_ns: null,
    sync_uncertainty_ns: null, sync_ok: null, t2_start: 'ack2_written', ...extra,
  };
}

/** A message on /chatter and its latency record, as the core server would emit them. */
function exchange(srv: ServerNode, seq: number, record: Partial<LatencyRecord> & { correctedNs?: number } = {}): string {
  const m = message(envelope(seq));
  srv.handleMessage(m);
  const { correctedNs = 1e6, ...extra } = record;
  srv.handleLatency(latency(m.id, correctedNs, false, extra));
  return m.id;
}

/** Attaches a stand-in for the core server, whose events tell the node which peers are connected as which client id. */
function attachLink(srv: ServerNode): { connect(peer: string, clientId: string): void; hello(peer: string, clientId: string): void; disconnect(peer: string, clientId: string): void } {
  const link = new EventEmitter();
  srv.attach(Object.assign(link, { stats: () => ({}) as never }) as unknown as Parameters<ServerNode['attach']>[0]);
  return {
    connect(peer, clientId) {
      link.emit('connection', { peer, client_id: null });
      this.hello(peer, clientId);
    },
    hello: (peer, clientId) => link.emit('hello', { peer, client_id: clientId }),
    disconnect: (peer, clientId) => link.emit('disconnect', { peer, client_id: clientId }),
  };
}

function scratchDir(teardown: ReturnType<typeof useTeardown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastsocket-record-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function values(status: DiagnosticStatusMsg | undefined): Record<string, string> {
  assert.ok(status, 'status present');
  return Object.fromEntries(status.values.map((v) => [v.key, v.value]));
}

describe('ServerNode', () => {
  describe('#handleMessage', () => {
    it('republishes a topic anew towards reliable and transient_local as senders forward it so, never back, so that two senders who differ cannot make it flap', () => {
      const { graph, node, srv } = server();
      const send = (seq: number, reliability: string, durability: string, clientId: string, depth = 5) =>
        srv.handleMessage(message(envelope(seq, undefined, { qos: { reliability, durability, depth } }), { client_id: clientId, peer: `10.0.0.1:${clientId.length}` }));
      const chatter = () => graph.publishers.filter((p) => p.topic === '/chatter').map((p) => `${p.qos.reliability}/${p.qos.durability}/${p.qos.depth}`);
      send(0, 'best_effort', 'volatile', 'veh_a');
      assert.deepEqual(chatter(), ['best_effort/volatile/5']);
      send(0, 'reliable', 'volatile', 'veh_bb');
      assert.deepEqual(chatter(), ['reliable/volatile/5'], 'a reliable subscriber hears the reliable sender');
      for (let seq = 1; seq < 4; seq++) send(seq, 'best_effort', 'volatile', 'veh_a');
      send(1, 'reliable', 'transient_local', 'veh_bb', 1);
      send(4, 'best_effort', 'volatile', 'veh_a', 100);
      assert.deepEqual(chatter(), ['reliable/transient_local/1'], 'late joiners get the latched depth, not a volatile stream\'s');
      assert.equal(node.logged('info', /^republishing \/chatter as /).length, 2);
      assert.equal(graph.messagesOn('/chatter').length, 7, 'no message lost to the change');
    });

    it('makes a ROS 1 topic\'s publisher anew only to latch it, since every ROS 1 subscriber hears every publisher', () => {
      const { graph, node, srv } = server();
      node.qosCanExclude = false;
      const send = (seq: number, reliability: string, durability: string) =>
        srv.handleMessage(message(envelope(seq, undefined, { qos: { reliability, durability, depth: 5 } })));
      const chatter = () => graph.publishers.filter((p) => p.topic === '/chatter').map((p) => `${p.qos.reliability}/${p.qos.durability}`);
      send(0, 'best_effort', 'volatile');
      send(1, 'reliable', 'volatile');
      assert.deepEqual(chatter(), ['best_effort/volatile']);
      // A bridge restarted with the topic marked transient_local, as docs/ros1.md says to mark a latched topic: a
      // subscriber that comes later gets its message only from a latched publisher.
      send(2, 'reliable', 'transient_local');
      assert.deepEqual(chatter(), ['best_effort/transient_local']);
    });

    it('tracks at most 256 senders of a topic one by one, keeping the counts of those it stops tracking in the totals', () => {
      const { srv } = server();
      // Senders without a client_id are their host:port: a client reconnecting 300 times is 300 senders.
      for (let i = 0; i < 300; i++) {
        for (const seq of [0, 2]) srv.handleMessage(message(envelope(seq), { client_id: null, peer: `127.0.0.1:${10_000 + i}` }));
      }
      assert.equal(srv.topicCounts('/chatter')!.size, 256);
      const status = values(srv.diagnostics().find((s) => s.name === 'fastsocket_server: /chatter'));
      assert.deepEqual([status.lost_messages, status.messages, status.senders], ['300', '600', '256']);
    });

    it('republishes at most max_topics topics, dropping and counting messages for further ones, and keeps serving those it has', () => {
      const { graph, node, srv } = server({ max_topics: 3n, topic_prefix: '/{client_id}' });
      const link = attachLink(srv);
      // A client under ever new ids (or ever new topic names) must not grow the publishers without bound.
      for (let i = 0; i < 50; i++) {
        link.connect(`10.0.0.1:${1000 + i}`, `veh${i}`);
        srv.handleMessage(message(envelope(i), { client_id: `veh${i}`, peer: `10.0.0.1:${1000 + i}` }));
      }
      srv.handleMessage(message(envelope(50), { client_id: 'veh0', peer: '10.0.0.1:1000' }));
      assert.deepEqual(['/veh0/chatter', '/veh1/chatter', '/veh2/chatter'].map((t) => graph.messagesOn(t).length), [2, 1, 1]);
      assert.equal(graph.publishers.filter((p) => p.type === 'std_msgs/msg/String').length, 3);
      assert.equal(srv.dropCounts().topic_limit, 47);
      assert.equal(node.logged('warn', /max_topics \(3\)/).length, 1, 'one line for the lot, not one per topic');
    });

    it('closes the topics of a vehicle that left when max_topics is reached, so that vehicles arriving later are republished', () => {
      const { graph, srv } = server({ max_topics: 2n, topic_prefix: '/{client_id}' });
      const link = attachLink(srv);
      const peer = (clientId: string) => `10.0.0.1:${1000 + clientId.charCodeAt(4)}`;
      const send = (clientId: string, topic: string) =>
        srv.handleMessage(message(envelope(0, { data: `${clientId}${topic}` }, { topic }), { client_id: clientId, peer: peer(clientId) }));
      link.connect(peer('veh-a'), 'veh-a');
      for (const topic of ['/chatter', '/fix']) send('veh-a', topic);
      link.disconnect(peer('veh-a'), 'veh-a');
      link.connect(peer('veh-b'), 'veh-b');
      for (const topic of ['/chatter', '/fix']) send('veh-b', topic);
      link.connect(peer('veh-c'), 'veh-c');
      send('veh-c', '/chatter');
      assert.deepEqual(['/veh_b/chatter', '/veh_b/fix', '/veh_c/chatter'].map((t) => graph.messagesOn(t).length), [1, 1, 0]);
      assert.equal(srv.dropCounts().topic_limit, 1, 'veh-b is connected: its topics stay');
      const topics = graph.publishers.map((p) => p.topic).sort();
      assert.deepEqual(topics.filter((t) => /chatter|fix/.test(t)), [
        '/fastsocket_server/latency/chatter', '/fastsocket_server/latency/fix', '/fastsocket_server/latency/veh_b/chatter',
        '/fastsocket_server/latency/veh_b/fix', '/veh_b/chatter', '/veh_b/fix',
      ]);
      assert.equal(srv.topicCounts('/veh_a/chatter'), undefined);
      link.disconnect(peer('veh-b'), 'veh-b');
      send('veh-c', '/chatter');
      assert.equal(graph.messagesOn('/veh_c/chatter').length, 1, 'a disconnect after a search that found nothing makes room again');
    });

    it('closes a latched topic of a vehicle that left only when no ordinary one of a vehicle that left is idle', () => {
      const { graph, srv } = server({ max_topics: 3n, topic_prefix: '/{client_id}' });
      const link = attachLink(srv);
      const latched = { reliability: 'reliable', durability: 'transient_local', depth: 1 } as const;
      const send = (clientId: string, topic: string, q?: typeof latched) =>
        srv.handleMessage(message(envelope(0, { data: `${clientId}${topic}` }, { topic, ...(q ? { qos: q } : {}) }), { client_id: clientId, peer: `10.0.0.1:${clientId.length}` }));
      link.connect('10.0.0.1:5', 'veh-a');
      send('veh-a', '/map', latched);
      send('veh-a', '/fix');
      link.disconnect('10.0.0.1:5', 'veh-a');
      link.connect('10.0.0.1:6', 'veh-bb');
      send('veh-bb', '/fix');
      send('veh-bb', '/odom');
      assert.equal(srv.topicCounts('/veh_a/fix'), undefined, 'the ordinary topic made room');
      assert.notEqual(srv.topicCounts('/veh_a/map'), undefined, 'the latched one, older, stays');
      send('veh-bb', '/scan');
      assert.equal(srv.topicCounts('/veh_a/map'), undefined, 'with no ordinary idle topic left, the latched one goes');
      assert.equal(graph.messagesOn('/veh_bb/scan').length, 1);
    });

    it('republishes a JSON message on its topic with its type and the sender QoS', () => {
      const { graph, srv } = server();
      srv.handleMessage(message(envelope(0, { data: 'hi' }, { qos: { reliability: 'best_effort', durability: 'transient_local', depth: 3 } })));
      assert.deepEqual(graph.messagesOn('/chatter'), [{ data: 'hi' }]);
      const pub = graph.publishers.find((p) => p.topic === '/chatter')!;
      assert.equal(pub.type, 'std_msgs/msg/String');
      assert.deepEqual(pub.qos, qos('best_effort', 'transient_local', 3));
    });

    it('republishes a service\'s introspection message (std_srvs/srv/SetBool_Event), a topic type that is not pkg/msg/Name', () => {
      const { graph, node, srv } = server();
      const event = { info: { event_type: 1, stamp: { sec: 5, nanosec: 6 }, client_gid: Buffer.alloc(16, 7).toString('base64'), sequence_number: 3 }, request: [{ data: true }], response: [] };
      srv.handleMessage(message({ ...envelope(0, event), topic: '/arm/_service_event', type: 'std_srvs/srv/SetBool_Event' }));
      assert.deepEqual(node.logged('warn', /./), []);
      const [got] = graph.messagesOn('/arm/_service_event') as Array<{ request: unknown[] }>;
      assert.deepEqual(got.request, [{ data: true }]);
      assert.equal(graph.publishers.find((p) => p.topic === '/arm/_service_event')!.type, 'std_srvs/srv/SetBool_Event');
    });

    it('uses the configured default QoS when the envelope carries none', () => {
      const { graph, srv } = server({ qos_reliability: 'best_effort', qos_depth: 7n });
      srv.handleMessage(message(envelope(0, { data: 'x' }, { qos: undefined })));
      assert.deepEqual(graph.publishers.find((p) => p.topic === '/chatter')!.qos, qos('best_effort', 'volatile', 7));
    });

    it('republishes CDR bytes untouched', () => {
      const { graph, srv } = server();
      const bytes = graph.serialize({ data: 'raw' });
      srv.handleMessage(message({ topic: '/chatter', type: 'std_msgs/msg/String', seq: 0, cdr: bytes.toString('base64') }));
      assert.deepEqual(graph.messagesOn('/chatter'), [bytes]);
    });

    it('logs a sender naming ever new topics of an unknown type, or too long for ROS, in a bounded number of warnings, the rest at debug', () => {
      // Logged once per topic, and the sender picks the topics: a warning per message, 7,000 a second.
      const { node, srv } = server();
      for (let i = 0; i < 3000; i++) {
        srv.handleMessage(message({ topic: `/u${i}`, type: 'nope_msgs/msg/Nope', seq: 0, msg: {} }));
        srv.handleMessage(message({ topic: `/${'a'.repeat(250)}${i}`, type: 'std_msgs/msg/String', seq: 0, msg: { data: 'x' } }));
      }
      assert.equal(srv.dropCounts().unknown_type, 3000);
      const warned = node.logged('warn', /dropped a message for/).length;
      assert.ok(warned > 0 && warned <= 100, `${warned} warnings for 6,000 messages`);
      assert.equal(warned + node.logged('debug', /dropped a message for/).length, 6000, 'every line still at debug');
    });

    it('drops messages for its own outputs (~/latency, ~/latency/<topic>, ~/age, ~/latency_stats), logged once per topic, and republishes its neighbours', () => {
      // A sender's Float64 99999 on /fastsocket_server/latency came out beside the measured latencies.
      const { graph, node, srv } = server();
      const own = ['/fastsocket_server/latency', '/fastsocket_server/latency/chatter', '/fastsocket_server/age', '/fastsocket_server/latency_stats'];
      for (const topic of [...own, ...own]) srv.handleMessage(message({ topic, type: 'std_msgs/msg/Float64', seq: 0, msg: { data: 99999 } }));
      assert.equal(srv.dropCounts().own_topic, 8);
      for (const topic of own) assert.deepEqual(graph.messagesOn(topic), [], topic);
      assert.equal(node.logged('warn', /output of this server/).length, 4);
      srv.handleMessage(message({ topic: '/fastsocket_server/chatter', type: 'std_msgs/msg/Float64', seq: 0, msg: { data: 1 } }));
      assert.equal(graph.messagesOn('/fastsocket_server/chatter').length, 1);
    });

    it('drops raw bytes that are not a whole CDR message of their type, counted as bad messages and logged once, and publishes whole ones', () => {
      // Fewer than 4 bytes went out from Cyclone DDS as a malformed packet that held back the topic's other senders for 5 s.
      const graph = new MemoryRosGraph();
      const node = Object.assign(graph.createNode('fastsocket_server', {}), { rawIsCdr: true });
      const srv = new ServerNode(node, readServerConfig(node));
      srv.start();
      const cdr = (bytes: Buffer, seq: number) => message({ topic: '/chatter', type: 'std_msgs/msg/String', seq, cdr: bytes.toString('base64') });
      const whole = rosToCdr((t) => graph.lookup(t), 'std_msgs/msg/String', { data: 'whole' });
      const bad = [Buffer.alloc(0), Buffer.from([0]), whole.subarray(0, whole.length - 2), Buffer.from([0, 1, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0x41, 0])];
      bad.forEach((bytes, i) => srv.handleMessage(cdr(bytes, i)));
      srv.handleMessage(cdr(whole, bad.length));
      assert.deepEqual(graph.messagesOn('/chatter'), [whole]);
      assert.equal(srv.dropCounts().bad_message, bad.length);
      const lines = node.logged('warn', /dropped a message for \/chatter/);
      assert.equal(lines.length, 1, 'one line, not one per message');
      assert.match(lines[0].message, /std_msgs\/msg\/String.*field msg: not a CDR message/);
    });

    it('drops CDR bytes whose type hash differs from its own definition\'s, logged once and counted, and publishes matching ones', () => {
      const { graph, node, srv } = server();
      graph.typeHashes.set('std_msgs/msg/String', 'RIHS01_server');
      const cdr = (bytes: Buffer, typeHash?: string) =>
        message({ topic: '/chatter', type: 'std_msgs/msg/String', seq: 0, cdr: bytes.toString('base64'), ...(typeHash ? { type_hash: typeHash } : {}) });
      for (const data of ['a', 'b', 'c']) srv.handleMessage(cdr(graph.serialize({ data }), 'RIHS01_vehicle'));
      assert.deepEqual(graph.messagesOn('/chatter'), []);
      assert.equal(graph.publishers.filter((p) => p.topic === '/chatter').length, 0, 'no publisher opened for bytes it refuses');
      assert.equal(srv.dropCounts().type_mismatch, 3);
      const lines = node.logged('warn', /type_hash|type hash/);
      assert.equal(lines.length, 1, 'one line for the topic, not one per message');
      assert.match(lines[0].message, /\/chatter.*std_msgs\/msg\/String.*RIHS01_vehicle from veh-17, RIHS01_server here.*encoding "json"/);
      const same = graph.serialize({ data: 'same' });
      const unhashed = graph.serialize({ data: 'none' });
      srv.handleMessage(cdr(same, 'RIHS01_server'));
      srv.handleMessage(cdr(unhashed));
      assert.deepEqual(graph.messagesOn('/chatter'), [same, unhashed]);
    });

    it('publishes CDR bytes with a type hash when it has no hash of its own to compare (another distribution)', () => {
      const { graph, srv } = server();
      const bytes = graph.serialize({ data: 'raw' });
      srv.handleMessage(message({ topic: '/chatter', type: 'std_msgs/msg/String', seq: 0, cdr: bytes.toString('base64'), type_hash: 'RIHS01_vehicle' }));
      assert.deepEqual(graph.messagesOn('/chatter'), [bytes]);
      assert.equal(srv.dropCounts().type_mismatch, 0);
    });

    it('puts the sender id into the topic when topic_prefix has {client_id}, so vehicles do not merge', () => {
      const { graph, srv } = server({ topic_prefix: '/{client_id}' });
      srv.handleMessage(message(envelope(0), { client_id: 'veh-17' }));
      srv.handleMessage(message(envelope(0), { client_id: '9lives' }));
      assert.equal(graph.messagesOn('/veh_17/chatter').length, 1);
      assert.equal(graph.messagesOn('/_9lives/chatter').length, 1);
    });

    it('files an empty client_id with the senders that have none, under /anonymous, rather than on the invalid //chatter', () => {
      const { graph, srv } = server({ topic_prefix: '/{client_id}' });
      srv.handleMessage(message(envelope(0), { client_id: '' }));
      srv.handleMessage(message(envelope(1), { client_id: null }));
      assert.equal(graph.messagesOn('/anonymous/chatter').length, 2);
    });

    it('publishes int64, uint8[] and float64[] values exactly', () => {
      const { graph, srv } = server();
      srv.handleMessage(message({ topic: '/i', type: 'std_msgs/msg/Int64MultiArray', seq: 0, msg: { data: ['1152921504606846977', -3] } }));
      srv.handleMessage(message({ topic: '/u', type: 'std_msgs/msg/UInt8MultiArray', seq: 0, msg: { data: 'AP8=' } }));
      srv.handleMessage(message({ topic: '/f', type: 'std_msgs/msg/Float64MultiArray', seq: 0, msg: { data: [0.1, 'NaN', '-Infinity'] } }));
      assert.deepEqual((graph.messagesOn('/i')[0] as { data: bigint[] }).data, [1152921504606846977n, -3n]);
      assert.deepEqual((graph.messagesOn('/u')[0] as { data: Uint8Array }).data, Uint8Array.from([0, 255]));
      assert.deepEqual((graph.messagesOn('/f')[0] as { data: number[] }).data, [0.1, NaN, -Infinity]);
    });

    const bad: Array<[string, unknown, string, RegExp]> = [
      ['the payload is not an envelope', 'hello', 'bad_envelope', /envelope payload/],
      ['the type is unknown here', envelope(0, {}, { type: 'nav2_msgs/msg/Secret' }), 'unknown_type', /\/chatter \(nav2_msgs\/msg\/Secret\)/],
      ['the JSON does not fit the type', envelope(0, { data: 5 }), 'bad_message', /\/chatter \(std_msgs\/msg\/String\), field msg\.data: expected/],
    ];
    for (const [what, payload, reason, logLine] of bad) {
      it(`drops, counts and logs the message when ${what}, and keeps serving other topics`, () => {
        const { graph, node, srv } = server();
        srv.handleMessage(message(payload));
        srv.handleMessage(message({ topic: '/other', type: 'std_msgs/msg/Float64', seq: 0, msg: { data: 1.5 } }));
        assert.equal(srv.dropCounts()[reason as 'bad_message'], 1);
        assert.equal(node.logged('warn', logLine).length, 1);
        assert.deepEqual(graph.messagesOn('/other'), [{ data: 1.5 }]);
        assert.equal(graph.messagesOn('/chatter').length, 0);
      });
    }

    it('names the field of a bad message once', () => {
      const { node, srv } = server();
      srv.handleMessage(message(envelope(0, { data: 5 })));
      assert.equal(node.logged('warn', /field msg\.data: field/).length, 0, node.logs.map((l) => l.message).join('\n'));
    });

    it('logs each kind of bad envelope, not only the first kind', () => {
      const { node, srv } = server();
      srv.handleMessage(message('hello'));
      srv.handleMessage(message({ topic: 'no-slash', type: 'std_msgs/msg/String', seq: 0, msg: {} }));
      srv.handleMessage(message({ topic: '/t', type: 'std_msgs/msg/String', seq: -1, msg: {} }));
      assert.equal(srv.dropCounts().bad_envelope, 3);
      for (const field of [/envelope payload/, /envelope topic/, /envelope seq/]) assert.equal(node.logged('warn', field).length, 1, `${field}`);
    });

    it('drops a message whose type differs from the one its topic already carries', () => {
      const { graph, srv } = server();
      srv.handleMessage(message(envelope(0)));
      srv.handleMessage(message({ topic: '/chatter', type: 'std_msgs/msg/Float64', seq: 1, msg: { data: 1 } }));
      assert.equal(srv.dropCounts().type_conflict, 1);
      assert.equal(graph.messagesOn('/chatter').length, 1);
    });

    it('names the vehicle that sends another type on a shared topic, once per vehicle and type, and counts every message', () => {
      const { graph, node, srv } = server({ topic_prefix: '/fleet' });
      srv.handleMessage(message(envelope(0)));
      const float = (seq: number, clientId: string) => message({ topic: '/chatter', type: 'std_msgs/msg/Float64', seq, msg: { data: seq } }, { client_id: clientId });
      for (let seq = 0; seq < 5; seq++) srv.handleMessage(float(seq, 'veh-18'));
      srv.handleMessage(float(0, 'veh-19'));
      assert.deepEqual(graph.messagesOn('/fleet/chatter'), [{ data: 'm0' }]);
      assert.equal(srv.dropCounts().type_conflict, 6);
      const lines = node.logged('warn', /type std_msgs\/msg\/Float64 differs/).map((l) => l.message);
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(lines[0], /^dropped a message for \/fleet\/chatter from veh-18: .*; further messages of std_msgs\/msg\/Float64 from veh-18 for \/fleet\/chatter are dropped without a log line/);
      assert.match(lines[1], / from veh-19: /);
    });

    it('counts loss, duplicates and reordering per topic and per sender', () => {
      const { srv } = server();
      for (const seq of [0, 1, 3, 2, 2, 6]) srv.handleMessage(message(envelope(seq)));
      srv.handleMessage(message(envelope(5), { client_id: 'veh-18' }));
      const counts = srv.topicCounts('/chatter')!;
      assert.deepEqual(counts.get('veh-17'), { received: 6, lost: 2, sender_dropped: 0, duplicates: 1, reordered: 1, late: 0, restarts: 0 });
      assert.deepEqual(counts.get('veh-18'), { received: 1, lost: 0, sender_dropped: 0, duplicates: 0, reordered: 0, late: 0, restarts: 0 });
    });

    it('counts a bridge restart on a topic with one message per run (latched) as a restart, and a resent copy as a duplicate', () => {
      const { srv } = server();
      for (const resent of [false, false, true]) srv.handleMessage(message(envelope(0), { resent }));
      assert.deepEqual(srv.topicCounts('/chatter')!.get('veh-17'), { received: 3, lost: 0, sender_dropped: 0, duplicates: 1, reordered: 0, late: 0, restarts: 1 });
    });
  });

  describe('#handleLatency', () => {
    it('publishes the corrected latency in ms on ~/latency and ~/latency/<topic without prefix>', () => {
      const { graph, srv } = server({ topic_prefix: '/remote' });
      const m = message(envelope(0));
      srv.handleMessage(m);
      srv.handleLatency(latency(m.id, 1_250_000));
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency'), [{ data: 1.25 }]);
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency/chatter'), [{ data: 1.25 }]);
      assert.equal(graph.publishers.filter((p) => p.topic === '/fastsocket_server/latency/remote/chatter').length, 0, 'a fixed prefix tells no vehicles apart');
      assert.equal(graph.messagesOn('/remote/chatter').length, 1);
    });

    it('attributes a record to its topic while it is among the newest maxPendingIds messages whose record has not come', () => {
      const graph = new MemoryRosGraph();
      const node = graph.createNode('fastsocket_server', {});
      const srv = new ServerNode(node, readServerConfig(node), { wallNs: () => WALL0, maxPendingIds: 2 });
      srv.start();
      const [lost, a, b] = [0, 1, 2].map((seq) => {
        const m = message(envelope(seq));
        srv.handleMessage(m);
        return m.id;
      });
      srv.handleLatency(latency(b, 2e6));
      const c = message(envelope(3));
      srv.handleMessage(c);
      srv.handleLatency(latency(a, 1e6));
      srv.handleLatency(latency(lost, 9e6));
      srv.handleLatency(latency(c.id, 3e6));
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency/chatter'), [{ data: 2 }, { data: 1 }, { data: 3 }], 'the oldest record-less message was given up for the fourth');
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency'), [{ data: 2 }, { data: 1 }, { data: 9 }, { data: 3 }]);
    });

    it('keeps the latency of two vehicles sending the same topic apart with topic_prefix {client_id}: own topic, own statistics', () => {
      const { graph, srv } = server({ topic_prefix: '/{client_id}' });
      for (const [clientId, ns] of [['veh1', 1e6], ['veh2', 7e6], ['veh1', 3e6], ['veh-2', 9e6]] as const) {
        const m = message(envelope(nextId), { client_id: clientId });
        srv.handleMessage(m);
        srv.handleLatency(latency(m.id, ns, false, { client_id: clientId }));
      }
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency/veh1/chatter'), [{ data: 1 }, { data: 3 }]);
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency/veh2/chatter'), [{ data: 7 }]);
      // An id that is not a ROS name token is sanitised as in the republished name.
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency/veh_2/chatter'), [{ data: 9 }]);
      // The topic without prefix still carries them all, as for a single vehicle.
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency/chatter'), [{ data: 1 }, { data: 7 }, { data: 3 }, { data: 9 }]);
      srv.closeWindow();
      const status = (topic: string): Record<string, string> => values(srv.diagnostics().find((s) => s.name === `fastsocket_server: ${topic}`));
      assert.deepEqual([status('/veh1/chatter').latency_window_samples, status('/veh1/chatter').latency_max_ms], ['2', '3']);
      assert.deepEqual([status('/veh2/chatter').latency_window_samples, status('/veh2/chatter').latency_max_ms], ['1', '7']);
      assert.deepEqual([status('/veh_2/chatter').latency_window_samples, status('/veh_2/chatter').latency_max_ms], ['1', '9']);
    });

    it('opens its ~/latency/<topic> publishers once per topic, not once per message, and none for a topic it refuses', () => {
      const { graph, srv } = server({ topic_prefix: '/{client_id}' });
      for (let i = 0; i < 5; i++) srv.handleMessage(message(envelope(i), { client_id: 'veh1' }));
      srv.handleMessage(message(envelope(0, {}, { type: 'nav2_msgs/msg/Secret', topic: '/secret' }), { client_id: 'veh1' }));
      assert.deepEqual(graph.publishers.map((p) => p.topic).filter((t) => t.startsWith('/fastsocket_server/latency/')), [
        '/fastsocket_server/latency/chatter',
        '/fastsocket_server/latency/veh1/chatter',
      ]);
    });

    it('still republishes a topic whose latency topic name ROS refuses, and says so once', () => {
      const { graph, node, srv } = server();
      graph.maxTopicNameLength = 40;
      const topic = '/a_topic_name_of_thirty_five_chars';
      for (let i = 0; i < 3; i++) srv.handleMessage(message(envelope(i, { data: 'x' }, { topic })));
      assert.equal(graph.messagesOn(topic).length, 3);
      assert.equal(node.logged('warn', /no ~\/latency\/a_topic_name_of_thirty_five_chars .*still in ~\/latency and \/diagnostics/).length, 1);
      assert.equal(graph.publishers.filter((p) => p.topic === topic).length, 1);
      assert.deepEqual(srv.dropCounts(), { bad_envelope: 0, own_topic: 0, unknown_type: 0, bad_message: 0, type_conflict: 0, type_mismatch: 0, publish_failed: 0, topic_limit: 0 });
    });

    it('publishes a window of statistics on ~/latency_stats and leaves resends out of it', () => {
      const { graph, srv, clock } = server();
      for (const [ns, resent] of [[1e6, false], [3e6, false], [50e6, true]] as const) {
        const m = message(envelope(nextId), { resent });
        srv.handleMessage(m);
        srv.handleLatency(latency(m.id, ns, resent));
      }
      clock.wall += 1e9;
      srv.closeWindow();
      const [metrics] = graph.messagesOn('/fastsocket_server/latency_stats') as Array<{ unit: string; window_start: object; window_stop: object; statistics: Array<{ data_type: number; data: number }> }>;
      assert.equal(metrics.unit, 'ms');
      assert.deepEqual(metrics.window_start, { sec: 1_700_000_000, nanosec: 0 });
      assert.deepEqual(metrics.window_stop, { sec: 1_700_000_001, nanosec: 0 });
      const byType = new Map(metrics.statistics.map((s) => [s.data_type, s.data]));
      assert.equal(byType.get(1), 2);
      assert.equal(byType.get(2), 1);
      assert.equal(byType.get(3), 3);
      assert.equal(byType.get(4), 1);
      assert.equal(byType.get(5), 2);
    });

    it('publishes ~/latency, ~/latency/<topic> and ~/age only while a subscription matches each, and keeps the statistics either way', () => {
      const { graph, srv, clock } = server();
      graph.matchSubscribers = true;
      const listener = graph.createNode('listener');
      const heard: Record<string, unknown[]> = {};
      const listen = (topic: string): void => {
        heard[topic] = [];
        listener.createSubscription('std_msgs/msg/Float64', topic, qos('reliable', 'volatile', 10), 'object', (m) => heard[topic].push(m));
      };
      exchange(srv, 0, { correctedNs: 1e6, queued_ns: 0 });
      assert.equal(graph.messagesOn('/fastsocket_server/latency').length, 0);
      assert.equal(graph.messagesOn('/fastsocket_server/latency/chatter').length, 0);
      assert.equal(graph.messagesOn('/fastsocket_server/age').length, 0);
      listen('/fastsocket_server/latency');
      listen('/fastsocket_server/age');
      exchange(srv, 1, { correctedNs: 3e6, queued_ns: 0 });
      assert.deepEqual(heard['/fastsocket_server/latency'], [{ data: 3 }]);
      assert.deepEqual(heard['/fastsocket_server/age'], [{ data: 3 }]);
      assert.equal(graph.messagesOn('/fastsocket_server/latency/chatter').length, 0);
      clock.wall += 1e9;
      srv.closeWindow();
      const [metrics] = graph.messagesOn('/fastsocket_server/latency_stats') as Array<{ statistics: Array<{ data_type: number; data: number }> }>;
      assert.equal(new Map(metrics.statistics.map((x) => [x.data_type, x.data])).get(5), 2, 'both records counted');
    });

    it('still publishes ~/latency for a message that was not a ROS envelope', () => {
      const { graph, srv } = server();
      srv.handleLatency(latency('unknown-id', 2e6));
      assert.deepEqual(graph.messagesOn('/fastsocket_server/latency'), [{ data: 2 }]);
    });
  });

  describe('#handleLatency (age)', () => {
    it('publishes the age of each message on ~/age: time queued in the client plus the corrected latency, in ms', () => {
      const { graph, srv } = server();
      exchange(srv, 0, { correctedNs: 1_250_000, queued_ns: 30_000_000 });
      exchange(srv, 1, { correctedNs: 2_000_000, queued_ns: 0 });
      assert.deepEqual(graph.messagesOn('/fastsocket_server/age'), [{ data: 31.25 }, { data: 2 }]);
    });

    it('adds the time the bridge held the message (held_ns) to its age', () => {
      const { graph, srv } = server();
      const m = message(envelope(0, { data: 'held' }, { held_ns: 250_000_000 }));
      srv.handleMessage(m);
      srv.handleLatency(latency(m.id, 1e6, false, { queued_ns: 4_000_000 }));
      assert.deepEqual(graph.messagesOn('/fastsocket_server/age'), [{ data: 255 }]);
    });

    it('publishes no age for a client that does not report queued_ns, since its latency alone would understate it', () => {
      const { graph, srv } = server();
      exchange(srv, 0, { queued_ns: null });
      assert.equal(graph.messagesOn('/fastsocket_server/age').length, 0);
      assert.equal(graph.messagesOn('/fastsocket_server/latency').length, 1);
    });

    it('publishes /diagnostics only while a subscription matches it', () => {
      const { graph, srv } = server();
      graph.matchSubscribers = true;
      srv.publishDiagnostics();
      assert.equal(graph.messagesOn('/diagnostics').length, 0);
      graph.createNode('listener').createSubscription('diagnostic_msgs/msg/DiagnosticArray', '/diagnostics', qos('reliable', 'volatile', 10), 'object', () => undefined);
      srv.publishDiagnostics();
      assert.equal(graph.messagesOn('/diagnostics').length, 1);
    });

    it('reports age percentiles per topic and for the link in /diagnostics, resends included', () => {
      const { graph, srv } = server();
      exchange(srv, 0, { queued_ns: 9_000_000 });
      const m = message(envelope(1), { resent: true });
      srv.handleMessage(m);
      srv.handleLatency(latency(m.id, 1e6, true, { queued_ns: 1_999_000_000 }));
      srv.closeWindow();
      srv.publishDiagnostics();
      const [array] = graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const topic = values(array.status.find((s) => s.name === 'fastsocket_server: /chatter'));
      assert.deepEqual([topic.age_window_samples, topic.age_max_ms, topic.latency_window_samples], ['2', '2000', '1']);
      assert.equal(values(array.status.find((s) => s.name === 'fastsocket_server: link')).age_records, '2');
    });

    it('reports NaN, not 0 ms, for the latency and age of a window without records, as ~/latency_stats does', () => {
      const { srv } = server();
      exchange(srv, 0);
      srv.closeWindow();
      srv.closeWindow();
      for (const name of ['fastsocket_server: /chatter', 'fastsocket_server: link']) {
        const v = values(srv.diagnostics().find((s) => s.name === name));
        assert.deepEqual([v.latency_window_samples, v.age_window_samples], ['0', '0'], name);
        for (const key of ['latency_mean_ms', 'latency_min_ms', 'latency_max_ms', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'latency_jitter_ms', 'age_p50_ms', 'age_p95_ms', 'age_max_ms']) {
          assert.equal(v[key], 'NaN', `${name} ${key}`);
        }
      }
    });
  });

  describe('#handleLatency (record_path)', () => {
    const teardown = useTeardown();

    it('writes one JSON line per latency record with the full record, the republished topic and the server wall time', () => {
      const dir = scratchDir(teardown);
      const { srv } = server({ record_path: join(dir, 'run.jsonl'), topic_prefix: '/remote' });
      const id = exchange(srv, 0, { correctedNs: 1_500_000, queued_ns: 20_000 });
      srv.handleLatency(latency('not-an-envelope', 3e6));
      srv.close();
      const rows = readFileSync(join(dir, 'run.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(rows[0], { ...latency(id, 1_500_000, false, { queued_ns: 20_000 }), server_wall_ns: WALL0, topic: '/remote/chatter', held_ns: null });
      assert.deepEqual([rows.length, rows[1].id, rows[1].topic], [2, 'not-an-envelope', null]);
    });

    it('writes CSV with a header naming topic and every record field when record_format is csv', () => {
      const dir = scratchDir(teardown);
      const { srv } = server({ record_path: join(dir, 'run.txt'), record_format: 'csv' });
      exchange(srv, 0, { correctedNs: 1e6, uplink_wall_ns: 400_000, offset_ns: -12, sync_uncertainty_ns: 50_000, sync_ok: true });
      srv.close();
      const [header, row, ...rest] = readFileSync(join(dir, 'run.txt'), 'utf8').trimEnd().split('\n');
      const cells = Object.fromEntries(header.split(',').map((c, i) => [c, row.split(',')[i]]));
      assert.equal(rest.length, 0);
      assert.deepEqual(header.split(',').slice(0, 4), ['server_wall_ns', 'topic', 'held_ns', 'id']);
      assert.deepEqual([cells.topic, cells.latency_corrected_ns, cells.uplink_wall_ns, cells.sync_ok, cells.queued_ns], ['/chatter', '1000000', '400000', 'true', '']);
    });

    it('throws ParameterError naming record_path at start when the file cannot be created', () => {
      const dir = scratchDir(teardown);
      const node = new MemoryRosGraph().createNode('fastsocket_server', { record_path: join(dir, 'no', 'such', 'dir.jsonl') });
      const srv = new ServerNode(node, readServerConfig(node));
      assert.throws(() => srv.start(), (e: unknown) => e instanceof ParameterError && e.parameter === 'record_path');
    });
  });

  describe('#handleLatency (clock sync)', () => {
    /** veh-17's clock-sync status and /chatter's topic status after one window of these exchanges. */
    const diagnosticsAfter = (...records: Array<Parameters<typeof exchange>[2]>) => {
      const { graph, srv } = server();
      attachLink(srv).connect('127.0.0.1:5000', 'veh-17');
      records.forEach((r, i) => exchange(srv, i, r));
      srv.closeWindow();
      srv.publishDiagnostics();
      const [array] = graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const clock = array.status.find((s) => s.name === 'fastsocket_server: clock sync veh-17')!;
      return { clock, topic: values(array.status.find((s) => s.name === 'fastsocket_server: /chatter')) };
    };

    it('shows each clock-synced sender in /diagnostics and the synced uplink beside the latency of its topic, sync_ok records only', () => {
      const { clock, topic } = diagnosticsAfter(
        { correctedNs: 20e6, uplink_wall_ns: 5_000_000, offset_ns: 150_000, sync_uncertainty_ns: 200_000, sync_ok: true },
        { correctedNs: 20e6, uplink_wall_ns: 90_000_000, offset_ns: 1_400_000, sync_uncertainty_ns: 3_000_000, sync_ok: false },
      );
      const c = values(clock);
      assert.equal(clock.level, 1, 'WARN: the latest record is not sync_ok');
      assert.deepEqual([c.clock_synced_records, c.sync_ok_records, c.sync_ok, c.offset_ms, c.sync_uncertainty_ms, c.uplink_wall_ms], ['2', '1', 'false', '1.4', '3', '90']);
      assert.deepEqual([topic.uplink_wall_window_samples, topic.uplink_wall_p50_ms, topic.latency_p50_ms], ['1', '5', '20']);
    });

    it('warns that the clocks are seconds apart when a sync_ok record proves it, and keeps its uplink out of the uplink statistics', () => {
      // A sync_ok record has a precisely known offset, not a small one: a vehicle whose clock is 5 s ahead, on a fast
      // link, is sync_ok while every uplink_wall_ns it gives is 5 s off. Its status said 'clocks agree' (OK).
      const { clock, topic } = diagnosticsAfter(
        { correctedNs: 20e6, uplink_wall_ns: 20_100_000, offset_ns: 100_000, sync_uncertainty_ns: 200_000, sync_ok: true },
        { correctedNs: 20e6, uplink_wall_ns: 5_020_000_000, offset_ns: 5_000_000_000, sync_uncertainty_ns: 200_000, sync_ok: true },
      );
      assert.equal(clock.level, 1, `WARN, not ${clock.level} '${clock.message}'`);
      assert.match(clock.message, /clocks at least 4999\.800 ms apart/);
      assert.deepEqual([topic.uplink_wall_window_samples, topic.uplink_wall_max_ms], ['1', '20.1']);
    });

    it('marks the clock status of a sender that disconnected STALE, not the WARN of its last record', () => {
      const { srv } = server();
      const link = attachLink(srv);
      link.connect('127.0.0.1:5000', 'veh-17');
      exchange(srv, 0, { uplink_wall_ns: 90_000_000, offset_ns: 1_400_000, sync_uncertainty_ns: 3_000_000, sync_ok: false });
      const level = (): number => srv.diagnostics().find((s) => s.name === 'fastsocket_server: clock sync veh-17')!.level;
      assert.equal(level(), 1);
      link.disconnect('127.0.0.1:5000', 'veh-17');
      assert.equal(level(), 3);
      link.connect('127.0.0.1:5001', 'veh-17');
      assert.equal(level(), 1);
    });

    it('adds no clock status or uplink values when no record is clock-synced', () => {
      const { graph, srv } = server();
      exchange(srv, 0);
      srv.closeWindow();
      srv.publishDiagnostics();
      const [array] = graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      assert.equal(array.status.filter((s) => s.name.includes('clock sync')).length, 0);
      assert.ok(!('uplink_wall_p50_ms' in values(array.status.find((s) => s.name === 'fastsocket_server: /chatter'))));
    });
  });

  describe('#publishDiagnostics', () => {
    it('publishes the link status and one status per topic with percentiles, loss and drops, keys carrying units', () => {
      const { graph, srv } = server();
      for (const seq of [0, 2]) {
        const m = message(envelope(seq));
        srv.handleMessage(m);
        srv.handleLatency(latency(m.id, 4e6));
      }
      srv.handleMessage(message('not an envelope'));
      srv.closeWindow();
      srv.publishDiagnostics();
      const [array] = graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const link = values(array.status.find((s) => s.name === 'fastsocket_server: link'));
      assert.equal(link.dropped_messages, '1');
      assert.equal(link.latency_p95_ms, '4');
      const topic = values(array.status.find((s) => s.name === 'fastsocket_server: /chatter'));
      assert.deepEqual([topic.messages, topic.lost_messages, topic.latency_p50_ms, topic.latency_window_samples], ['2', '1', '4', '2']);
      for (const key of ['latency_p99_ms', 'latency_jitter_ms', 'resent_messages', 'duplicate_messages', 'reordered_messages', 'dropped_messages']) assert.ok(key in topic, key);
    });

    it("shows the seqs the bridge dropped itself as sender_dropped_messages, not lost_messages, and stays OK for them", () => {
      const { graph, srv } = server();
      // seq 1 expired in the bridge's outbox (dropped: 1 from seq 3 on); seq 4 was lost on the way.
      for (const [seq, dropped] of [[0, 0], [2, 0], [3, 1], [5, 1]]) srv.handleMessage(message(envelope(seq, undefined, dropped > 0 ? { dropped } : {})));
      srv.publishDiagnostics();
      const [array] = graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      const status = array.status.find((s) => s.name === 'fastsocket_server: /chatter')!;
      const topic = values(status);
      assert.deepEqual([topic.lost_messages, topic.sender_dropped_messages], ['1', '1']);
      srv.handleMessage(message(envelope(6, undefined, { dropped: 2 })));
      srv.publishDiagnostics();
      const again = (graph.messagesOn('/diagnostics').at(-1) as { status: DiagnosticStatusMsg[] }).status.find((s) => s.name === 'fastsocket_server: /chatter')!;
      assert.deepEqual([values(again).lost_messages, values(again).sender_dropped_messages, again.level], ['0', '2', 0]);
    });

    it('shows the latency records the core server lost: expired, and of those, expired before their late ack 3 came', () => {
      const { srv } = server();
      const link = new EventEmitter();
      srv.attach(Object.assign(link, { stats: () => ({ ack3_expired: 7, ack3_late: 5 }) }) as unknown as Parameters<ServerNode['attach']>[0]);
      const status = values(srv.diagnostics().find((s) => s.name === 'fastsocket_server: link'));
      assert.deepEqual([status.ack3_expired, status.ack3_late], ['7', '5']);
    });

    it('names its statuses after the node, so two servers renamed apart publish statuses of different names', () => {
      const { graph, srv } = server({}, 'server_rsu4');
      srv.handleMessage(message(envelope(0)));
      srv.closeWindow();
      srv.publishDiagnostics();
      const [array] = graph.messagesOn('/diagnostics') as Array<{ status: DiagnosticStatusMsg[] }>;
      assert.deepEqual(array.status.map((s) => s.name), ['server_rsu4: link', 'server_rsu4: /chatter']);
    });
  });
});

describe('ServerNode#attach', () => {
  it('warns once when a client_id is connected twice at once, not when one bridge reconnects', () => {
    const { node, srv } = server();
    const link = attachLink(srv);
    const connect = (peer: string): void => link.connect(peer, 'veh-17');
    connect('10.0.0.1:1000');
    link.disconnect('10.0.0.1:1000', 'veh-17');
    connect('10.0.0.1:1001');
    assert.equal(node.logged('warn', /client_id/).length, 0);
    connect('10.0.0.2:2000');
    assert.equal(node.logged('warn', /^client_id veh-17 is connected from 10\.0\.0\.2:2000 and 10\.0\.0\.1:1001 at once /).length, 1);
    assert.equal(node.logged('warn', /client_id/).length, 1);
  });

  it('logs a peer that connects and closes in a loop in a bounded number of info lines, the rest at debug', () => {
    // Logged before its hello, such a peer needs no token: two info lines a connection were 6,700 a second.
    const { node, srv } = server();
    const link = new EventEmitter();
    srv.attach(Object.assign(link, { stats: () => ({}) }) as unknown as Parameters<ServerNode['attach']>[0]);
    for (let i = 0; i < 5000; i++) {
      link.emit('connection', { peer: `10.0.0.9:${i}`, client_id: null });
      link.emit('disconnect', { peer: `10.0.0.9:${i}`, client_id: null });
    }
    const info = node.logged('info', /^peer 10\.0\.0\.9:/).length;
    assert.ok(info > 0 && info <= 100, `${info} info lines for 10,000 events`);
    assert.equal(info + node.logged('debug', /^peer 10\.0\.0\.9:/).length, 10_000, 'every line still at debug');
  });

  it('logs which client_id each connection is, once per connection however often it says hello', () => {
    const { node, srv } = server();
    const link = attachLink(srv);
    link.connect('10.0.0.1:1000', 'vehicle_1');
    for (let i = 0; i < 3; i++) link.hello('10.0.0.1:1000', 'vehicle_1');
    link.connect('10.0.0.2:2000', 'vehicle_2');
    assert.deepEqual(node.logged('info', / is client_id /).map((l) => l.message), ['peer 10.0.0.1:1000 is client_id vehicle_1', 'peer 10.0.0.2:2000 is client_id vehicle_2']);
  });
});

describe('Bridge and ServerNode', () => {
  describe('#forwarding between two ROS domains', () => {
    it('delivers every message with exact values and publishes its latency', async () => {
      const vehicle = new MemoryRosGraph();
      const bridgeNode = vehicle.createNode('fastsocket_bridge', { topics: ['/chatter', '/ints'], 'topic_options.bytes.encoding': 'cdr' });
      const { graph: infra, srv } = server({ topic_prefix: '/remote' });
      const link = new MemoryLink();
      link.rttNs = 1e6;
      link.sink = (payload, id) => {
        srv.handleMessage(message(payload, { id }));
        srv.handleLatency(latency(id, 0.5e6));
      };
      const bridge = new Bridge(bridgeNode, readBridgeConfig(bridgeNode, 'veh-17'), link);
      const talker = vehicle.createNode('talker');
      const chatter = talker.createPublisher('std_msgs/msg/String', '/chatter', qos('best_effort', 'volatile', 5));
      const ints = talker.createPublisher('std_msgs/msg/Int64MultiArray', '/ints', qos('reliable', 'volatile', 10));
      bridge.start();
      try {
        chatter.publish({ data: 'one' });
        ints.publish({ layout: { dim: [], data_offset: 0 }, data: [9007199254740993n, -1n] });
        chatter.publish({ data: 'two' });
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(infra.messagesOn('/remote/chatter'), [{ data: 'one' }, { data: 'two' }]);
        assert.deepEqual((infra.messagesOn('/remote/ints')[0] as { data: bigint[] }).data, [9007199254740993n, -1n]);
        assert.equal(infra.publishers.find((p) => p.topic === '/remote/chatter')!.qos.reliability, 'best_effort');
        assert.equal(infra.messagesOn('/fastsocket_server/latency').length, 3);
        assert.equal(vehicle.messagesOn('/fastsocket_bridge/rtt').length, 3);
      } finally {
        await bridge.close();
      }
    });
  });
});
