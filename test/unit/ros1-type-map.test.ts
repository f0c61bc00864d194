import { strict as assert } from 'node:assert';
import { parseJson, stringifyJson } from '../../src/fastsocket';
import { MessageMappingError, UnknownTypeError } from '../../src/ros/errors';
import { jsonToRos, rosToJson } from '../../src/ros/msg-json';
import { Ros1MessageCatalog } from '../../src/ros1/msg-catalog';
import { Ros1TypeMapper, toRos1TypeName, toRos2TypeName } from '../../src/ros1/type-map';
import { MemoryRosGraph } from '../support/memory-ros-port';
import { ROS1_TEST_TEXTS } from '../support/ros1-msgs';

const mapper = new Ros1TypeMapper(new Ros1MessageCatalog([], ROS1_TEST_TEXTS));
const ros1Lookup = (t: string) => mapper.definition(t);
const ros2Graph = new MemoryRosGraph();
const ros2Lookup = (t: string) => ros2Graph.lookup(t);

function overTheWire(value: unknown): unknown {
  return parseJson(stringifyJson(value));
}

/** A message of fastsocket_test/AllKinds as @foxglove/ros1 reads it off the wire. */
function deliveredAllKinds(): Record<string, unknown> {
  return {
    header: { seq: 41, stamp: { sec: 1_700_000_000, nsec: 5 }, frame_id: 'base' },
    by: -6, c: 200, i8: -128, i64: -(2n ** 63n), u64: 2n ** 64n - 1n, f64: -0.5, s: 'héllo',
    t: { sec: 4_000_000_000, nsec: 999_999_999 }, d: { sec: 3, nsec: -1 },
    u8s: Uint8Array.from([0, 255]), bys: Int8Array.from([-1, 2]), i64s: BigInt64Array.from([2n ** 60n + 1n, -3n]),
    f3: Float64Array.from([1, 2, 3]), ts: [{ sec: 1, nsec: 2 }],
    headers: [{ seq: 7, stamp: { sec: 0, nsec: 0 }, frame_id: 'x' }],
  };
}

describe('ROS 1 type names', () => {
  describe('#toRos2TypeName', () => {
    it('inserts msg when given a ROS 1 name', () => {
      assert.equal(toRos2TypeName('std_msgs/String'), 'std_msgs/msg/String');
    });
  });

  describe('#toRos1TypeName', () => {
    it('drops msg when given a ROS 2 name and keeps a ROS 1 name as it is', () => {
      assert.equal(toRos1TypeName('std_msgs/msg/String'), 'std_msgs/String');
      assert.equal(toRos1TypeName('sensor_msgs/Imu'), 'sensor_msgs/Imu');
    });

    it('refuses with UnknownTypeError when the type has no ROS 1 message', () => {
      for (const t of ['builtin_interfaces/msg/Time', 'example_interfaces/srv/AddTwoInts']) {
        assert.throws(() => toRos1TypeName(t), (err: unknown) => err instanceof UnknownTypeError && err.code === 'FS_ROS_ERR_UNKNOWN_TYPE' && err.type === t);
      }
    });
  });
});

describe('Ros1TypeMapper', () => {
  describe('#definition', () => {
    it('describes a ROS 1 type in ROS 2 terms: no Header.seq, time as builtin_interfaces/Time, msg in names', () => {
      assert.deepEqual(mapper.definition('std_msgs/msg/Header'), {
        type: 'std_msgs/msg/Header',
        fields: [
          { name: 'stamp', type: 'builtin_interfaces/msg/Time', primitive: false, array: 'none' },
          { name: 'frame_id', type: 'string', primitive: true, array: 'none' },
        ],
      });
      const imu = mapper.definition('sensor_msgs/msg/Imu');
      assert.deepEqual(imu.fields.map((f) => [f.name, f.type, f.array, f.size]), ros2Lookup('sensor_msgs/msg/Imu').fields.map((f) => [f.name, f.type, f.array, f.size]));
    });

    it('throws UnknownTypeError when no ROS 1 definition exists here', () => {
      assert.throws(() => mapper.definition('nope_msgs/msg/Nothing'), UnknownTypeError);
    });
  });

  describe('#toRos2', () => {
    it('converts time, duration, byte and Header when given a message as ROS 1 delivers it', () => {
      const m = mapper.toRos2('fastsocket_test/AllKinds', deliveredAllKinds());
      assert.deepEqual(m.header, { stamp: { sec: 1_700_000_000, nanosec: 5 }, frame_id: 'base' });
      assert.equal(m.by, 250);
      assert.deepEqual(m.t, { sec: 4_000_000_000, nanosec: 999_999_999 });
      assert.deepEqual(m.d, { sec: 2, nanosec: 999_999_999 });
      assert.deepEqual(Array.from(m.bys as Uint8Array), [255, 2]);
      assert.deepEqual(m.headers, [{ stamp: { sec: 0, nanosec: 0 }, frame_id: 'x' }]);
    });
  });

  describe('#toRos1', () => {
    it('numbers the top-level Header and zeroes nested ones when publishing', () => {
      const ros2 = mapper.toRos2('fastsocket_test/AllKinds', deliveredAllKinds());
      const ros1 = mapper.toRos1('fastsocket_test/AllKinds', ros2, 12);
      assert.deepEqual(ros1.header, { seq: 12, stamp: { sec: 1_700_000_000, nsec: 5 }, frame_id: 'base' });
      assert.deepEqual(ros1.headers, [{ seq: 0, stamp: { sec: 0, nsec: 0 }, frame_id: 'x' }]);
      assert.deepEqual(ros1.t, { sec: 4_000_000_000, nsec: 999_999_999 });
    });
  });

  describe('JSON across the link', () => {
    it('gives back every ROS 1 value when a ROS 1 bridge feeds a ROS 1 server', () => {
      const type = 'fastsocket_test/msg/AllKinds';
      const json = overTheWire(rosToJson(ros1Lookup, type, mapper.toRos2('fastsocket_test/AllKinds', deliveredAllKinds())));
      const back = mapper.toRos1('fastsocket_test/AllKinds', jsonToRos(ros1Lookup, type, json), 41);
      const expected = deliveredAllKinds();
      assert.deepEqual({ ...back, i64s: Array.from(back.i64s as bigint[]), u8s: Array.from(back.u8s as Uint8Array), bys: Array.from(back.bys as Uint8Array), f3: Array.from(back.f3 as number[]) }, {
        ...expected,
        // byte is int8 in ROS 1; the bits travel as an octet and are written back as the same bits.
        by: 250, bys: [255, 2],
        d: { sec: 2, nsec: 999_999_999 },
        // ROS 2 has no seq: the publisher numbers top-level Headers itself and leaves nested ones at 0.
        headers: [{ seq: 0, stamp: { sec: 0, nsec: 0 }, frame_id: 'x' }],
        i64s: [2n ** 60n + 1n, -3n], u8s: [0, 255], f3: [1, 2, 3],
      });
    });

    it('fits the ROS 2 type when a ROS 1 bridge feeds a ROS 2 server', () => {
      const imu1 = {
        header: { seq: 3, stamp: { sec: 10, nsec: 20 }, frame_id: 'imu' },
        orientation: { x: 0, y: 0, z: 0, w: 1 }, orientation_covariance: new Float64Array(9).fill(0.5),
        angular_velocity: { x: 1, y: 2, z: 3 }, angular_velocity_covariance: new Float64Array(9),
        linear_acceleration: { x: -1, y: -2, z: 9.81 }, linear_acceleration_covariance: new Float64Array(9),
      };
      const json = overTheWire(rosToJson(ros1Lookup, 'sensor_msgs/msg/Imu', mapper.toRos2('sensor_msgs/Imu', imu1)));
      const ros2 = jsonToRos(ros2Lookup, 'sensor_msgs/msg/Imu', json);
      assert.deepEqual(ros2.header, { stamp: { sec: 10, nanosec: 20 }, frame_id: 'imu' });
      assert.deepEqual(ros2.linear_acceleration, { x: -1, y: -2, z: 9.81 });
    });

    it('fits the ROS 1 type when a ROS 2 bridge feeds a ROS 1 server', () => {
      const ros2Msg = { header: { stamp: { sec: 7, nanosec: 8 }, frame_id: 'f' }, status: [{ level: 2, name: 'n', message: 'm', hardware_id: 'h', values: [{ key: 'k', value: 'v' }] }] };
      const json = overTheWire(rosToJson(ros2Lookup, 'diagnostic_msgs/msg/DiagnosticArray', ros2Msg));
      const ros1 = mapper.toRos1('diagnostic_msgs/DiagnosticArray', jsonToRos(ros1Lookup, 'diagnostic_msgs/msg/DiagnosticArray', json), 0);
      assert.deepEqual(ros1, { header: { seq: 0, stamp: { sec: 7, nsec: 8 }, frame_id: 'f' }, status: ros2Msg.status });
    });

    it('maps the CameraInfo matrices ROS 2 renamed (D, K, R, P -> d, k, r, p) in both directions', () => {
      const roi = { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false };
      const ros1Msg = {
        header: { seq: 0, stamp: { sec: 1, nsec: 2 }, frame_id: 'cam' }, height: 480, width: 640, distortion_model: 'plumb_bob',
        D: [0.1, -0.2], K: [1, 0, 320, 0, 1, 240, 0, 0, 1], R: [1, 0, 0, 0, 1, 0, 0, 0, 1], P: [1, 0, 320, 0, 0, 1, 240, 0, 0, 0, 1, 0],
        binning_x: 0, binning_y: 0, roi,
      };
      const json = overTheWire(rosToJson(ros1Lookup, 'sensor_msgs/msg/CameraInfo', mapper.toRos2('sensor_msgs/CameraInfo', ros1Msg)));
      const ros2 = jsonToRos(ros2Lookup, 'sensor_msgs/msg/CameraInfo', json);
      assert.deepEqual({ d: Array.from(ros2.d as number[]), k: Array.from(ros2.k as number[]) }, { d: ros1Msg.D, k: ros1Msg.K });
      const back = mapper.toRos1('sensor_msgs/CameraInfo', jsonToRos(ros1Lookup, 'sensor_msgs/msg/CameraInfo', overTheWire(rosToJson(ros2Lookup, 'sensor_msgs/msg/CameraInfo', ros2))), 0);
      assert.deepEqual(Object.fromEntries(['D', 'K', 'R', 'P'].map((k) => [k, Array.from(back[k] as number[])])), { D: ros1Msg.D, K: ros1Msg.K, R: ros1Msg.R, P: ros1Msg.P });
    });

    it('names the field when ROS 2 JSON carries a field the ROS 1 type lacks', () => {
      const json = { data: 'x', extra: 1 };
      assert.throws(() => jsonToRos(ros1Lookup, 'std_msgs/msg/String', json), (err: unknown) => err instanceof MessageMappingError && err.field === 'msg.extra');
    });
  });
});
