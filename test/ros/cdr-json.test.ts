import { strict as assert } from 'node:assert';
import { cdrJsonSupports, cdrToJson, rosToCdr } from '../../src/ros/cdr-json';
import { jsonToRos, rosToJson } from '../../src/ros/msg-json';
import type { RosNode, RosPort } from '../../src/ros/port';
import { qos } from '../../src/ros/qos';
import { openRclnodejsPort } from '../../src/ros/rclnodejs-port';
import { requireRos, uniqueDomains } from './ros-harness';

const b64 = (bytes: number[]): string => Buffer.from(bytes).toString('base64');
const layout = { dim: [{ label: 'rows', size: 2, stride: 6 }, { label: 'ü', size: 3, stride: 3 }], data_offset: 1 };

/** Types real middleware serializes, with values that reach every field kind, alignment and sign. */
const CASES: Array<[string, object]> = [
  ['std_msgs/msg/Empty', {}],
  ['std_msgs/msg/Bool', { data: true }],
  ['std_msgs/msg/Byte', { data: 255 }],
  ['std_msgs/msg/Char', { data: 65 }],
  ['std_msgs/msg/Int8', { data: -128 }],
  ['std_msgs/msg/UInt8', { data: 255 }],
  ['std_msgs/msg/Int16', { data: -32768 }],
  ['std_msgs/msg/UInt16', { data: 65535 }],
  ['std_msgs/msg/Int32', { data: -2147483648 }],
  ['std_msgs/msg/UInt32', { data: 4294967295 }],
  ['std_msgs/msg/Int64', { data: String(-(2n ** 63n)) }],
  ['std_msgs/msg/UInt64', { data: '18446744073709551615' }],
  ['std_msgs/msg/Float32', { data: 'Infinity' }],
  ['std_msgs/msg/Float64', { data: -2.5e-300 }],
  ['std_msgs/msg/String', { data: 'héllo ✓ "quoted"\n' }],
  ['std_msgs/msg/Int8MultiArray', { layout, data: [-128, 0, 127] }],
  ['std_msgs/msg/UInt8MultiArray', { layout, data: b64([0, 1, 127, 128, 254, 255]) }],
  ['std_msgs/msg/Int16MultiArray', { layout, data: [-32768, 7, 32767] }],
  ['std_msgs/msg/UInt16MultiArray', { layout, data: [0, 65535] }],
  ['std_msgs/msg/Int32MultiArray', { layout, data: [-2147483648, 2147483647] }],
  ['std_msgs/msg/UInt32MultiArray', { layout, data: [0, 4294967295] }],
  ['std_msgs/msg/Int64MultiArray', { layout, data: ['1152921504606846977', -3, 9007199254740991] }],
  ['std_msgs/msg/UInt64MultiArray', { layout, data: ['18446744073709551615', 0, 5] }],
  ['std_msgs/msg/Float32MultiArray', { layout, data: [0.5, 'NaN', '-Infinity', 3.4028234663852886e38] }],
  ['std_msgs/msg/Float64MultiArray', { layout, data: [0.1, 'NaN', 1e308, -0] }],
  ['service_msgs/msg/ServiceEventInfo', { event_type: 3, stamp: { sec: -5, nanosec: 6 }, client_gid: b64([200, ...Array(14).fill(1), 7]), sequence_number: '9007199254740993' }],
  ['sensor_msgs/msg/Imu', { header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'imu' }, orientation: { x: 1, y: 2, z: 3, w: 4 }, orientation_covariance: [1, 2, 3, 4, 5, 6, 7, 8, 'NaN'] }],
  ['sensor_msgs/msg/Image', { header: { stamp: { sec: 3, nanosec: 4 }, frame_id: 'cam' }, height: 2, width: 3, encoding: 'mono8', is_bigendian: 1, step: 3, data: b64([1, 2, 3, 4, 5, 6]) }],
  ['sensor_msgs/msg/PointCloud2', {
    header: { stamp: { sec: 0, nanosec: 1 }, frame_id: 'x' }, height: 1, width: 2,
    fields: [{ name: 'x', offset: 0, datatype: 7, count: 1 }, { name: 'intensity', offset: 4, datatype: 2, count: 1 }],
    is_bigendian: false, point_step: 5, row_step: 10, data: b64([0, 0, 128, 63, 9, 0, 0, 0, 64, 10]), is_dense: true,
  }],
  ['diagnostic_msgs/msg/DiagnosticArray', {
    header: { stamp: { sec: 9, nanosec: 9 }, frame_id: '' },
    status: [{ level: 2, name: 'a', message: 'b', hardware_id: '', values: [{ key: 'k', value: 'v' }, { key: '', value: 'ü' }] }, { level: 0, name: '', message: '', hardware_id: 'h', values: [] }],
  }],
  ['rcl_interfaces/msg/ParameterValue', {
    type: 9, bool_value: true, integer_value: -7, double_value: 0.25, string_value: 's',
    byte_array_value: b64([255, 0]), bool_array_value: [true, false, true], integer_array_value: ['-9223372036854775808', 1],
    double_array_value: [1.5, 'Infinity'], string_array_value: ['', 'two', 'ünï'],
  }],
  ['rcl_interfaces/msg/ParameterEvent', {
    stamp: { sec: 1, nanosec: 1 }, node: '/n',
    new_parameters: [{ name: 'p', value: { type: 2, integer_value: 5, bool_array_value: [false] } }],
    changed_parameters: [], deleted_parameters: [{ name: 'q', value: { type: 4, string_value: 'gone' } }],
  }],
];

describe('cdr-json', function () {
  this.timeout(60_000);
  const [domain] = uniqueDomains();
  let port: RosPort | null = null;
  let node: RosNode;
  const savedDomain = process.env.ROS_DOMAIN_ID;

  before(async function () {
    requireRos(this);
    process.env.ROS_DOMAIN_ID = String(domain);
    port = await openRclnodejsPort(['node', 'test']);
    node = port.createNode('fastsocket_cdr_json');
  });

  after(() => {
    port?.shutdown();
    if (savedDomain === undefined) delete process.env.ROS_DOMAIN_ID;
    else process.env.ROS_DOMAIN_ID = savedDomain;
  });

  describe('#cdrToJson', () => {
    for (const [type, json] of CASES) {
      it(`gives the JSON rosToJson makes of the delivered ${type} when given the bytes the middleware delivered for it`, async () => {
        const lookup = (t: string) => node.messageDefinition(t);
        assert.ok(cdrJsonSupports(lookup, type));
        const topic = `/cdr_json_${type.replace(/\W/g, '_')}`;
        let raw: Buffer | null = null;
        let object: unknown = null;
        let arrived: () => void = () => undefined;
        const both = new Promise<void>((resolve) => {
          arrived = () => {
            if (raw !== null && object !== null) resolve();
          };
        });
        const q = qos('reliable', 'volatile', 10);
        const subs = [
          node.createSubscription(type, topic, q, 'raw', (m) => {
            raw ??= m as Buffer;
            arrived();
          }),
          node.createSubscription(type, topic, q, 'object', (m) => {
            object ??= m;
            arrived();
          }),
        ];
        const pub = node.createPublisher(type, topic, q);
        // Until both subscriptions have matched and received one: discovery takes a few ms.
        const timer = setInterval(() => pub.publish(jsonToRos(lookup, type, json)), 20);
        let deadline: NodeJS.Timeout | undefined;
        try {
          await Promise.race([both, new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error(`no ${type} on both subscriptions within 10 s`)), 10_000)))]);
          assert.deepEqual(cdrToJson(lookup, type, raw as unknown as Buffer), rosToJson(lookup, type, object));
          assert.deepEqual(cdrToJson(lookup, type, raw as unknown as Buffer), rosToJson(lookup, type, jsonToRos(lookup, type, json)));
        } finally {
          clearInterval(timer);
          clearTimeout(deadline);
          for (const s of subs) s.destroy();
          pub.destroy();
        }
      });
    }
  });

  describe('#rosToCdr', () => {
    for (const [type, json] of CASES) {
      it(`serializes ${type} so that the middleware delivers what jsonToRos made of the JSON when the bytes are published raw`, async () => {
        const lookup = (t: string) => node.messageDefinition(t);
        const topic = `/ros_to_cdr_${type.replace(/\W/g, '_')}`;
        const q = qos('reliable', 'volatile', 10);
        let got: unknown = null;
        let arrived: () => void = () => undefined;
        const one = new Promise<void>((resolve) => (arrived = resolve));
        const sub = node.createSubscription(type, topic, q, 'object', (m) => {
          got ??= m;
          arrived();
        });
        const pub = node.createPublisher(type, topic, q);
        const plain = jsonToRos(lookup, type, json);
        const bytes = rosToCdr(lookup, type, plain);
        const timer = setInterval(() => pub.publish(bytes), 20);
        let deadline: NodeJS.Timeout | undefined;
        try {
          await Promise.race([one, new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error(`no ${type} delivered from raw bytes within 10 s`)), 10_000)))]);
          assert.deepEqual(rosToJson(lookup, type, got), rosToJson(lookup, type, plain));
          assert.deepEqual(cdrToJson(lookup, type, bytes), rosToJson(lookup, type, plain));
        } finally {
          clearInterval(timer);
          clearTimeout(deadline);
          sub.destroy();
          pub.destroy();
        }
      });
    }
  });
});
