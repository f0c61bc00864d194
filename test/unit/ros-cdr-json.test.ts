import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { cdrJsonSupports, cdrToJson, checkCdr, rosToCdr } from '../../src/ros/cdr-json';
import { jsonToRos, rosToJson } from '../../src/ros/msg-json';
import { MessageMappingError } from '../../src/ros/errors';
import { parseJson, stringifyJson } from '../../src/fastsocket/json';
import { MemoryRosGraph, MSG_SOURCES } from '../support/memory-ros-port';

const graph = new MemoryRosGraph({
  ...MSG_SOURCES,
  'fastsocket_test/msg/HeaderThenDouble': 'std_msgs/Header header\nfloat64 x',
  'fastsocket_test/msg/Nothing': '',
  'fastsocket_test/msg/Nothings': 'fastsocket_test/Nothing[] items',
  'fastsocket_test/msg/Bounded': 'int32[<=2] few\nstring<=3 short',
  'fastsocket_test/msg/Wide': 'wstring w\nwstring<=10 wb\nwstring[] wl\nstring s\nint64 big',
});
const lookup = (t: string) => graph.lookup(t);

/** Header (sec, nanosec, frame_id "ab") then a float64, which ends up 8-aligned counting from after the 4-byte header. */
function headerThenDouble(le: boolean): Buffer {
  const b = Buffer.alloc(28);
  b.set([0, le ? 1 : 0, 0, 0]);
  const w32 = (v: number, at: number): void => void (le ? b.writeInt32LE(v, at) : b.writeInt32BE(v, at));
  w32(-2, 4);
  w32(7, 8);
  w32(3, 12);
  b.write('ab\0', 16);
  // The string ends at byte 19, 15 after the header: one byte of padding, and the double starts at byte 20.
  b[19] = 0xee;
  if (le) b.writeDoubleLE(0.5, 20);
  else b.writeDoubleBE(0.5, 20);
  return b;
}

describe('cdr-json', () => {
  describe('#cdrToJson', () => {
    it('aligns each primitive to its size counted from the end of the header, in either byte order', () => {
      for (const le of [true, false]) {
        const bytes = headerThenDouble(le);
        const json = cdrToJson(lookup, 'std_msgs/msg/Header', bytes);
        assert.deepEqual(json, { stamp: { sec: -2, nanosec: 7 }, frame_id: 'ab' });
        const withX = cdrToJson(lookup, 'fastsocket_test/msg/HeaderThenDouble', bytes);
        assert.deepEqual(withX, { header: { stamp: { sec: -2, nanosec: 7 }, frame_id: 'ab' }, x: 0.5 });
      }
    });

    it('keeps the sign of a -0.0 float through CDR -> JSON text -> ROS, as rosToJson does', () => {
      const cdr = Buffer.alloc(12);
      cdr.set([0, 1, 0, 0]);
      cdr.writeDoubleLE(-0, 4);
      const text = stringifyJson(cdrToJson(lookup, 'std_msgs/msg/Float64', cdr));
      assert.equal(text, '{"data":-0.0}');
      assert.equal(stringifyJson(rosToJson(lookup, 'std_msgs/msg/Float64', { data: -0 })), text);
      const back = jsonToRos(lookup, 'std_msgs/msg/Float64', parseJson(text)) as { data: number };
      assert.ok(Object.is(back.data, -0), `got ${back.data}`);
      assert.deepEqual(rosToCdr(lookup, 'std_msgs/msg/Float64', back), cdr);
    });

    it('throws MessageMappingError naming msg when the bytes end before the message does', () => {
      const bytes = headerThenDouble(true).subarray(0, 20);
      assert.throws(() => cdrToJson(lookup, 'fastsocket_test/msg/HeaderThenDouble', bytes), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg');
    });

    it('throws MessageMappingError naming msg when the encapsulation header is not CDR', () => {
      assert.throws(() => cdrToJson(lookup, 'std_msgs/msg/Float64', Buffer.from([0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg');
      assert.throws(() => cdrToJson(lookup, 'std_msgs/msg/Float64', Buffer.from([0, 1])), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg');
    });

    it('refuses a sequence count beyond the bytes left, also of empty messages, rather than reading past the end', () => {
      // 1,000,000 empty messages in 5 bytes: each took one byte unchecked, giving a million {} past the end.
      const bytes = Buffer.from([0, 1, 0, 0, 0x40, 0x42, 0x0f, 0x00, 0]);
      assert.throws(() => cdrToJson(lookup, 'fastsocket_test/msg/Nothings', bytes), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg');
    });
  });

  describe('#checkCdr', () => {
    const chatter = (data: string): Buffer => rosToCdr(lookup, 'std_msgs/msg/String', { data });
    const refused = (type: string, bytes: Buffer): void => {
      assert.throws(() => checkCdr(lookup, type, bytes), (e: unknown) => e instanceof MessageMappingError && e.field.startsWith('msg'), `${bytes.toString('hex')} refused`);
    };

    it('accepts whole messages of the type in either byte order, nested ones and arrays of every kind included', () => {
      checkCdr(lookup, 'std_msgs/msg/String', chatter('hello'));
      for (const le of [true, false]) checkCdr(lookup, 'fastsocket_test/msg/HeaderThenDouble', headerThenDouble(le));
      const plain = jsonToRos(lookup, 'std_msgs/msg/Float64MultiArray', { layout: { dim: [{ label: 'x', size: 2, stride: 1 }], data_offset: 0 }, data: [0.5, 1.5] });
      checkCdr(lookup, 'std_msgs/msg/Float64MultiArray', rosToCdr(lookup, 'std_msgs/msg/Float64MultiArray', plain));
      checkCdr(lookup, 'fastsocket_test/msg/Nothings', Buffer.from([0, 1, 0, 0, 2, 0, 0, 0, 0, 0]));
    });

    it('leaves XCDR2 bytes (encapsulation 6 to 11, a middleware configured for it) unchecked, as they were before the check', () => {
      for (const kind of [6, 7, 8, 9, 10, 11]) checkCdr(lookup, 'std_msgs/msg/String', Buffer.from([0, kind, 0, 0, 6, 0, 0, 0, 0x68, 0x69]));
      refused('std_msgs/msg/String', Buffer.from([0, 6, 0]));
      refused('std_msgs/msg/String', Buffer.from([0, 12, 0, 0, 2, 0, 0, 0, 0x41, 0]));
    });

    it('refuses bytes that are empty, shorter than the header, of another encapsulation, cut off, or whose counts run past the end', () => {
      const whole = chatter('hello');
      for (const bytes of [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 1, 0, 0]), Buffer.from([7, 9, 0, 0, 2, 0, 0, 0, 0x41, 0]), whole.subarray(0, whole.length - 1)]) {
        refused('std_msgs/msg/String', bytes);
      }
      refused('std_msgs/msg/String', Buffer.from([0, 1, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0x41, 0]));
      refused('std_msgs/msg/Float64MultiArray', Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f]));
      refused('fastsocket_test/msg/Nothings', Buffer.from([0, 1, 0, 0, 0x40, 0x42, 0x0f, 0x00, 0]));
    });

    it('refuses a string without its terminating NUL, and counts beyond a bound of the type', () => {
      refused('std_msgs/msg/String', Buffer.from([0, 1, 0, 0, 2, 0, 0, 0, 0x41, 0x42]));
      checkCdr(lookup, 'fastsocket_test/msg/Bounded', Buffer.from([0, 1, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 0x61, 0x62, 0x63, 0]));
      refused('fastsocket_test/msg/Bounded', Buffer.from([0, 1, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0]));
      refused('fastsocket_test/msg/Bounded', Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0x61, 0x62, 0x63, 0x64, 0]));
    });

    it('counts a string bound in characters, as rclpy does: three beyond U+FFFF (12 bytes) keep a bound of 3', () => {
      const short = (text: string): Buffer => {
        const utf8 = Buffer.from(`${text}\0`);
        const length = Buffer.alloc(4);
        length.writeUInt32LE(utf8.length);
        return Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]), length, utf8]);
      };
      checkCdr(lookup, 'fastsocket_test/msg/Bounded', short('\u{1F697}\u{1F697}\u{1F697}'));
      refused('fastsocket_test/msg/Bounded', short('\u{1F697}\u{1F697}\u{1F697}\u{1F697}'));
    });

    it('checks a type with a wstring up to that field when the wstring width is not known', () => {
      const cyclone = Buffer.from('00010000 04000000 61000000'.replace(/ /g, ''), 'hex');
      checkCdr(lookup, 'fastsocket_test/msg/Wide', cyclone);
      refused('fastsocket_test/msg/Wide', Buffer.from([0, 1, 0]));
    });
  });

  describe('#rosToCdr', () => {
    it('writes bytes that cdrToJson reads back as rosToJson of the same message, for any int64, float64 and byte values', () => {
      fc.assert(
        fc.property(
          fc.array(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), { maxLength: 5 }), fc.array(fc.double(), { maxLength: 5 }), fc.uint8Array({ maxLength: 9 }), fc.string(),
          (ints, doubles, bytes, label) => {
            const dims = [{ label, size: bytes.length, stride: 1 }];
            for (const [type, data] of [['std_msgs/msg/Int64MultiArray', ints], ['std_msgs/msg/Float64MultiArray', doubles], ['std_msgs/msg/UInt8MultiArray', bytes]] as const) {
              // Over the wire, as the server gets it: in memory rosToJson writes a -0.0 as a marker only stringifyJson reads.
              const plain = jsonToRos(lookup, type, parseJson(stringifyJson(rosToJson(lookup, type, { layout: { dim: dims, data_offset: 3 }, data }))));
              const bytes = rosToCdr(lookup, type, plain);
              assert.deepEqual(cdrToJson(lookup, type, bytes), rosToJson(lookup, type, plain));
              checkCdr(lookup, type, bytes);
            }
          },
        ),
      );
    });

    it('writes an empty message as one byte after the header, as rosidl sizes it', () => {
      assert.deepEqual(rosToCdr(lookup, 'fastsocket_test/msg/Nothing', {}), Buffer.from([0, 1, 0, 0, 0]));
    });
  });

  describe('wstring', () => {
    // rclpy's serialize_message under rmw_cyclonedds_cpp (Jazzy) of Wide(w='aü🚗', wb='', wl=['x', 'yz'], s='s', big=1):
    // a count of UTF-16 code units, then each unit in 4 bytes, no terminator.
    const CYCLONE = Buffer.from(
      ('00010000 04000000 61000000 fc000000 3dd80000 97de0000 00000000 02000000 01000000 78000000 02000000 79000000 7a000000 ' +
        '02000000 73000000 01000000 00000000').replace(/ /g, ''),
      'hex',
    );
    const json = { w: 'aü🚗', wb: '', wl: ['x', 'yz'], s: 's', big: 1 };

    it('reads the wstrings rmw_cyclonedds_cpp writes, surrogate pairs included, given their 4-byte width', () => {
      assert.deepEqual(cdrToJson(lookup, 'fastsocket_test/msg/Wide', CYCLONE, 4), json);
    });

    it('writes them back byte for byte', () => {
      assert.deepEqual(rosToCdr(lookup, 'fastsocket_test/msg/Wide', jsonToRos(lookup, 'fastsocket_test/msg/Wide', json), 4), CYCLONE);
    });

    it('round-trips 2-byte units as well', () => {
      const plain = jsonToRos(lookup, 'fastsocket_test/msg/Wide', json);
      const bytes = rosToCdr(lookup, 'fastsocket_test/msg/Wide', plain, 2);
      assert.equal(bytes.readUInt32LE(4), 4);
      assert.equal(bytes.readUInt16LE(8 + 2 * 2), 0xd83d);
      assert.deepEqual(cdrToJson(lookup, 'fastsocket_test/msg/Wide', bytes, 2), json);
    });

    it('throws MessageMappingError naming msg when a wstring count runs past the end', () => {
      const bad = Buffer.from(CYCLONE);
      bad.writeUInt32LE(1000, 4);
      assert.throws(() => cdrToJson(lookup, 'fastsocket_test/msg/Wide', bad, 4), (e: unknown) => e instanceof MessageMappingError && e.field === 'msg');
    });
  });

  describe('#cdrJsonSupports', () => {
    it('returns false when a wstring is anywhere in the type and its width in the middleware is not known', () => {
      assert.equal(cdrJsonSupports(lookup, 'fastsocket_test/msg/AllTypes'), false);
      assert.equal(cdrJsonSupports(lookup, 'sensor_msgs/msg/Imu'), true);
    });

    it('returns true for a type with a wstring when the width is known', () => {
      assert.equal(cdrJsonSupports(lookup, 'fastsocket_test/msg/AllTypes', 4), true);
    });
  });
});
