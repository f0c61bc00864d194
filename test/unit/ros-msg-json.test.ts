import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { parseJson, stringifyJson } from '../../src/fastsocket';
import { MessageMappingError, UnknownTypeError } from '../../src/ros/errors';
import { normalizeTypeName } from '../../src/ros/message-definition';
import { defaultMessage, jsonToRos, rosToJson } from '../../src/ros/msg-json';
import { MemoryRosGraph } from '../support/memory-ros-port';

const graph = new MemoryRosGraph();
const lookup = (t: string) => graph.lookup(t);
const ALL = 'fastsocket_test/msg/AllTypes';

/** What the bridge sends and the server reads: the JSON after a trip over the wire. */
function overTheWire(value: unknown): unknown {
  return parseJson(stringifyJson(value));
}

/** A message as rclnodejs delivers it (verified on Jazzy): bigint scalars, TypedArrays, int64[] as numbers/strings. */
function deliveredAllTypes(): Record<string, unknown> {
  return {
    b: true, by: 255, c: 65, i8: -128, u8: 255, i16: -32768, u16: 65535, i32: -2147483648, u32: 4294967295,
    i64: -(2n ** 63n), u64: 2n ** 64n - 1n, f32: 1.5, f64: NaN, s: 'héllo\n"', ws: 'wide ✓', bounded_s: 'abc',
    u8s: Uint8Array.from([0, 1, 254, 255]), cs: Int8Array.from([-56, 65]), fixed_bytes: Uint8Array.from([1, 2, 3, 4]),
    i64s: ['1152921504606846977', -3, 0], u64_fixed: [0n, 18446744073709551615n, 7n],
    f64s: Float64Array.from([1.25, Infinity, -Infinity, NaN]), f32_bounded: Float32Array.from([0.5]),
    bs: [true, false], ss: ['a', ''], i32s: Int32Array.from([-1, 2]),
    t: { sec: 1_700_000_000, nanosec: 999_999_999 }, ts: [{ sec: 1, nanosec: 2 }],
    dims: [{ label: 'x', size: 3, stride: 3 }, { label: 'y', size: 1, stride: 1 }],
  };
}

describe('msg-json', () => {
  describe('#rosToJson', () => {
    it('writes every field type with the ROS-to-JSON conventions when given a delivered message', () => {
      const json = rosToJson(lookup, ALL, deliveredAllTypes());
      assert.deepEqual(json, {
        b: true, by: 255, c: 65, i8: -128, u8: 255, i16: -32768, u16: 65535, i32: -2147483648, u32: 4294967295,
        i64: '-9223372036854775808', u64: '18446744073709551615', f32: 1.5, f64: 'NaN', s: 'héllo\n"', ws: 'wide ✓', bounded_s: 'abc',
        u8s: Buffer.from([0, 1, 254, 255]).toString('base64'), cs: Buffer.from([200, 65]).toString('base64'), fixed_bytes: 'AQIDBA==',
        i64s: ['1152921504606846977', -3, 0], u64_fixed: [0, '18446744073709551615', 7],
        f64s: [1.25, 'Infinity', '-Infinity', 'NaN'], f32_bounded: [0.5],
        bs: [true, false], ss: ['a', ''], i32s: [-1, 2],
        t: { sec: 1_700_000_000, nanosec: 999_999_999 }, ts: [{ sec: 1, nanosec: 2 }],
        dims: [{ label: 'x', size: 3, stride: 3 }, { label: 'y', size: 1, stride: 1 }],
      });
    });

    it('keeps 64-bit integers inside the safe range as numbers', () => {
      assert.deepEqual(rosToJson(lookup, 'std_msgs/msg/Int64', { data: 9007199254740991n }), { data: 9007199254740991 });
      assert.deepEqual(rosToJson(lookup, 'std_msgs/msg/Int64', { data: 9007199254740992n }), { data: '9007199254740992' });
    });

    it('accepts the "123n" strings of rclnodejs json mode for int64', () => {
      assert.deepEqual(rosToJson(lookup, 'std_msgs/msg/Int64', { data: '123n' }), { data: 123 });
    });

    it('throws MessageMappingError naming the field when a message lacks the shape of its type', () => {
      assert.throws(() => rosToJson(lookup, 'std_msgs/msg/String', { data: 5 }), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg.data');
    });
  });

  describe('#jsonToRos', () => {
    it('reads back rosToJson\'s own -0 (in-process, not over the wire) as -0, scalar and array element alike', () => {
      const plain = jsonToRos(lookup, ALL, rosToJson(lookup, ALL, { ...deliveredAllTypes(), f64: -0, f64s: Float64Array.from([-0, 1]) })) as Record<string, unknown>;
      assert.ok(Object.is(plain.f64, -0), `f64 is ${String(plain.f64)}`);
      assert.ok(Object.is((plain.f64s as ArrayLike<number>)[0], -0), 'f64s[0]');
    });

    it('restores every value exactly when given what rosToJson wrote, after a trip over the wire', () => {
      const back = jsonToRos(lookup, ALL, overTheWire(rosToJson(lookup, ALL, deliveredAllTypes())));
      assert.equal(back.i64, -(2n ** 63n));
      assert.equal(back.u64, 2n ** 64n - 1n);
      assert.deepEqual(back.i64s, [1152921504606846977n, -3n, 0n]);
      assert.deepEqual(back.u64_fixed, [0n, 18446744073709551615n, 7n]);
      assert.deepEqual(back.u8s, Uint8Array.from([0, 1, 254, 255]));
      assert.deepEqual(back.cs, Int8Array.from([-56, 65]));
      assert.ok(Number.isNaN(back.f64 as number));
      assert.deepEqual(back.f64s, [1.25, Infinity, -Infinity, NaN]);
      assert.deepEqual(back.t, { sec: 1_700_000_000, nanosec: 999_999_999 });
      assert.deepEqual(back.dims, [{ label: 'x', size: 3, stride: 3 }, { label: 'y', size: 1, stride: 1 }]);
      assert.equal(back.s, 'héllo\n"');
    });

    it('takes a 64-bit integer another peer wrote as a plain JSON number beyond 2^53 exactly, and such a number for a float', () => {
      const i = jsonToRos(lookup, 'std_msgs/msg/Int64', parseJson('{"data": 9223372036854775807}'));
      assert.equal(i.data, 9223372036854775807n);
      const u = jsonToRos(lookup, 'std_msgs/msg/UInt64', parseJson('{"data": 18446744073709551615}'));
      assert.equal(u.data, 18446744073709551615n);
      const f = jsonToRos(lookup, 'std_msgs/msg/Float64', parseJson('{"data": 12345678901234567891}'));
      assert.equal(f.data, 12345678901234567891);
      assert.throws(() => jsonToRos(lookup, 'std_msgs/msg/Int64', parseJson('{"data": 9223372036854775808}')), (e: unknown) => e instanceof MessageMappingError && /out of range for int64/.test(e.message));
    });

    it('round-trips any int64 and uint64 value exactly', () => {
      fc.assert(
        fc.property(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), fc.bigInt(0n, 2n ** 64n - 1n), (i, u) => {
          const back = jsonToRos(lookup, ALL, overTheWire(rosToJson(lookup, ALL, { ...deliveredAllTypes(), i64: i, u64: u, i64s: [i.toString()] })));
          return back.i64 === i && back.u64 === u && (back.i64s as bigint[])[0] === i;
        }),
      );
    });

    it('round-trips any byte array exactly, below and above the size from which its base64 is a Base64Json', () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 4000, maxLength: 4200 })), (bytes) => {
          const back = jsonToRos(lookup, 'std_msgs/msg/UInt8MultiArray', overTheWire(rosToJson(lookup, 'std_msgs/msg/UInt8MultiArray', { layout: { dim: [], data_offset: 0 }, data: bytes })));
          return Buffer.from(back.data as Uint8Array).equals(Buffer.from(bytes));
        }),
      );
    });

    it('round-trips any float64 array exactly, non-finite values included', () => {
      fc.assert(
        fc.property(fc.array(fc.double()), (values) => {
          const json = overTheWire(rosToJson(lookup, 'std_msgs/msg/Float64MultiArray', { layout: { dim: [], data_offset: 0 }, data: Float64Array.from(values) }));
          const back = jsonToRos(lookup, 'std_msgs/msg/Float64MultiArray', json).data as number[];
          return back.length === values.length && back.every((v, i) => Object.is(v, values[i]) || (v === 0 && values[i] === 0));
        }),
      );
    });

    it('fills missing fields with their defaults', () => {
      const m = jsonToRos(lookup, 'sensor_msgs/msg/Imu', { orientation: { w: 1 } });
      assert.deepEqual(m.orientation, { x: 0, y: 0, z: 0, w: 1 });
      assert.deepEqual(m.orientation_covariance, new Array(9).fill(0));
      assert.deepEqual(m.header, { stamp: { sec: 0, nanosec: 0 }, frame_id: '' });
    });

    it('accepts ROS 1 secs/nsecs for Time', () => {
      assert.deepEqual(jsonToRos(lookup, 'std_msgs/msg/Header', { stamp: { secs: 3, nsecs: 4 }, frame_id: 'map' }), { stamp: { sec: 3, nanosec: 4 }, frame_id: 'map' });
    });

    it('returns a megabyte uint8[] as one Uint8Array equal to what was sent when given it as base64', () => {
      const pixels = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31) & 0xff);
      const back = jsonToRos(lookup, 'std_msgs/msg/UInt8MultiArray', overTheWire(rosToJson(lookup, 'std_msgs/msg/UInt8MultiArray', { layout: { dim: [], data_offset: 0 }, data: pixels })));
      assert.ok(back.data instanceof Uint8Array);
      assert.ok(Buffer.from(back.data).equals(Buffer.from(pixels)));
    });

    it('reads back its own large byte array in-process, not over the wire, as the bytes', () => {
      const pixels = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
      const json = rosToJson(lookup, 'std_msgs/msg/UInt8MultiArray', { layout: { dim: [], data_offset: 0 }, data: pixels });
      assert.deepEqual(jsonToRos(lookup, 'std_msgs/msg/UInt8MultiArray', json).data, pixels);
      assert.equal(JSON.stringify(json), JSON.stringify({ layout: { dim: [], data_offset: 0 }, data: Buffer.from(pixels).toString('base64') }));
    });

    it('returns byte arrays that own their memory when they are small enough for Node to pool', () => {
      const back = jsonToRos(lookup, 'std_msgs/msg/UInt8MultiArray', { data: 'AQID' });
      const data = back.data as Uint8Array;
      assert.deepEqual(data, Uint8Array.from([1, 2, 3]));
      assert.equal(data.buffer.byteLength, 3);
    });

    it('accepts byte arrays as JSON arrays of numbers too', () => {
      assert.deepEqual(jsonToRos(lookup, 'std_msgs/msg/UInt8MultiArray', { data: [1, 255] }).data, Uint8Array.from([1, 255]));
    });

    it('counts a bounded string in characters, as rclpy does, so five beyond U+FFFF fit string<=5', () => {
      assert.equal(jsonToRos(lookup, ALL, { bounded_s: '🚗🚗🚗🚗🚗' }).bounded_s, '🚗🚗🚗🚗🚗');
      assert.throws(() => jsonToRos(lookup, ALL, { bounded_s: '🚗🚗🚗🚗🚗🚗' }), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg.bounded_s');
    });

    const cases: Array<[string, string, unknown, string]> = [
      ['a string where a number belongs', 'std_msgs/msg/Float64', { data: 'fast' }, 'msg.data'],
      ['a number where a string belongs', 'std_msgs/msg/String', { data: 5 }, 'msg.data'],
      ['an unknown field', 'std_msgs/msg/String', { data: 'x', extra: 1 }, 'msg.extra'],
      ['an out-of-range uint8', 'std_msgs/msg/UInt8MultiArray', { data: [1, 256] }, 'msg.data[1]'],
      ['a fractional int32', 'std_msgs/msg/MultiArrayLayout', { data_offset: 1.5 }, 'msg.data_offset'],
      ['an int64 beyond 2^63', 'std_msgs/msg/Int64', { data: '9223372036854775808' }, 'msg.data'],
      ['an unsafe int64 number', 'std_msgs/msg/Int64', { data: 2 ** 60 }, 'msg.data'],
      ['a wrong fixed-array length', 'sensor_msgs/msg/Imu', { orientation_covariance: [1, 2] }, 'msg.orientation_covariance'],
      ['a too long bounded array', ALL, { f32_bounded: [1, 2, 3, 4] }, 'msg.f32_bounded'],
      ['a float32 beyond its range, which would become Infinity', ALL, { f32: 1e300 }, 'msg.f32'],
      ['a float32 element beyond its range', ALL, { f32_bounded: [1, -3.5e38] }, 'msg.f32_bounded[1]'],
      ['a too long bounded string', ALL, { bounded_s: 'abcdef' }, 'msg.bounded_s'],
      ['bad base64', 'std_msgs/msg/UInt8MultiArray', { data: 'not base64!' }, 'msg.data'],
      ['a nested field of the wrong kind', 'std_msgs/msg/Int64MultiArray', { layout: { dim: [{ label: 'x', size: -1 }] } }, 'msg.layout.dim[0].size'],
      ['an array where an object belongs', 'std_msgs/msg/Header', { stamp: [1, 2] }, 'msg.stamp'],
      ['a number where a bool belongs', ALL, { b: 1 }, 'msg.b'],
      ['a non-array for an array', ALL, { ss: 'a' }, 'msg.ss'],
      ['a field named like a member of every object', 'std_msgs/msg/String', { data: 'x', constructor: 'y' }, 'msg.constructor'],
      ['a field named __proto__, as JSON.parse makes it', 'std_msgs/msg/String', JSON.parse('{"__proto__": "y"}'), 'msg.__proto__'],
      ['a field named like a member of every object, in a type with aliases', 'builtin_interfaces/msg/Time', { secs: 1, toString: 2 }, 'msg.toString'],
    ];
    for (const [what, type, json, field] of cases) {
      it(`throws MessageMappingError naming ${field} when given ${what}`, () => {
        assert.throws(() => jsonToRos(lookup, type, json), (e: unknown) => e instanceof MessageMappingError && e.code === 'FS_ROS_ERR_MESSAGE' && e.field === field);
      });
    }

    it('throws UnknownTypeError when the type does not exist', () => {
      assert.throws(() => jsonToRos(lookup, 'nope_msgs/msg/Nope', {}), (e: unknown) => e instanceof UnknownTypeError && e.code === 'FS_ROS_ERR_UNKNOWN_TYPE');
    });
  });

  describe('#defaultMessage', () => {
    it('gives bigint zeros for 64-bit fields and sized fixed arrays', () => {
      const m = defaultMessage(lookup, ALL);
      assert.equal(m.i64, 0n);
      assert.deepEqual(m.u64_fixed, [0n, 0n, 0n]);
      assert.deepEqual(m.fixed_bytes, new Uint8Array(4));
      assert.equal((m.dims as unknown[]).length, 2);
    });
  });

  describe('#normalizeTypeName', () => {
    it('maps ROS 1 names to ROS 2 names and keeps ROS 2 names', () => {
      assert.equal(normalizeTypeName('std_msgs/String'), 'std_msgs/msg/String');
      assert.equal(normalizeTypeName('std_msgs/msg/String'), 'std_msgs/msg/String');
    });

    it('keeps the names of the messages rosidl makes of services and actions, the types of their introspection and feedback topics', () => {
      for (const name of ['std_srvs/srv/SetBool_Event', 'rcl_interfaces/srv/GetParameters_Request', 'nav2_msgs/action/NavigateToPose_FeedbackMessage']) {
        assert.equal(normalizeTypeName(name), name);
      }
    });

    it('returns null when the name is not a type name', () => {
      // A service or an action itself is not a message: std_srvs/srv/SetBool is its request and response together.
      for (const bad of ['String', 'a/b/c/d', 'std_msgs/srv/X', 'std_srvs/srv/SetBool', 'nav2_msgs/action/NavigateToPose', 'std_msgs/srv/_Event', '', '1pkg/Name']) {
        assert.equal(normalizeTypeName(bad), null, bad);
      }
    });
  });
});
