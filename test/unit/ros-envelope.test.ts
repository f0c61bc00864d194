import { strict as assert } from 'node:assert';
import { parseEnvelope } from '../../src/ros/envelope';
import { EnvelopeError } from '../../src/ros/errors';

const GOOD = { topic: '/chatter', type: 'std_msgs/msg/String', seq: 41, stamp_ns: 1.7e18, qos: { reliability: 'reliable', durability: 'volatile', depth: 10 }, msg: { data: 'hi' } };

describe('parseEnvelope', () => {
  describe('#valid', () => {
    it('reads the JSON-mode envelope of PROTOCOL.md §4', () => {
      const e = parseEnvelope(GOOD);
      assert.deepEqual(e, { topic: '/chatter', type: 'std_msgs/msg/String', seq: 41, stampNs: 1.7e18, heldNs: 0, dropped: 0, qos: GOOD.qos, body: { kind: 'json', msg: { data: 'hi' } }, typeHash: null });
    });

    it('reads the dropped extension, and ignores a value that is not a whole number', () => {
      assert.equal(parseEnvelope({ ...GOOD, dropped: 3 }).dropped, 3);
      for (const bad of [-1, 2.5, '3', null, 2 ** 60]) assert.equal(parseEnvelope({ ...GOOD, dropped: bad }).dropped, 0, String(bad));
    });

    it('reads the held_ns extension, and ignores a value that is not a positive whole number of ns', () => {
      assert.equal(parseEnvelope({ ...GOOD, held_ns: 70_000_000 }).heldNs, 70_000_000);
      for (const bad of [-5, 1.5, '9', null]) assert.equal(parseEnvelope({ ...GOOD, held_ns: bad }).heldNs, 0, String(bad));
    });

    it('reads the type_hash extension, and ignores a value that is not a non-empty string', () => {
      assert.equal(parseEnvelope({ ...GOOD, type_hash: 'RIHS01_ab' }).typeHash, 'RIHS01_ab');
      for (const bad of ['', 7, null, ['RIHS01_ab']]) assert.equal(parseEnvelope({ ...GOOD, type_hash: bad }).typeHash, null, String(bad));
    });

    it('reads the raw-mode envelope and decodes the bytes', () => {
      const e = parseEnvelope({ ...GOOD, msg: undefined, cdr: Buffer.from([0, 1, 0, 0, 9]).toString('base64') });
      assert.deepEqual(e.body, { kind: 'cdr', bytes: Buffer.from([0, 1, 0, 0, 9]) });
    });

    it('reads a stamp a peer wrote exactly in ns (a bigint from parseJson) to the ~256 ns a double holds', () => {
      assert.equal(parseEnvelope({ ...GOOD, stamp_ns: 1764412345123456789n }).stampNs, 1764412345123456789);
    });

    it('normalises a ROS 1 type name and accepts a missing qos and stamp', () => {
      const e = parseEnvelope({ topic: '/chatter', type: 'std_msgs/String', seq: 0, msg: {} });
      assert.equal(e.type, 'std_msgs/msg/String');
      assert.equal(e.qos, null);
      assert.equal(e.stampNs, null);
    });
  });

  describe('#invalid', () => {
    const cases: Array<[string, unknown, string]> = [
      ['the payload is a string', 'hello', 'payload'],
      ['the topic is relative', { ...GOOD, topic: 'chatter' }, 'topic'],
      ['the topic has a space', { ...GOOD, topic: '/a b' }, 'topic'],
      ['the type is not a type name', { ...GOOD, type: 'String' }, 'type'],
      ['seq is negative', { ...GOOD, seq: -1 }, 'seq'],
      ['seq is a string', { ...GOOD, seq: '4' }, 'seq'],
      ['seq is an integer beyond a double (a bigint)', { ...GOOD, seq: 2n ** 64n }, 'seq'],
      ['the topic is an object holding a bigint', { ...GOOD, topic: { n: 2n ** 64n } }, 'topic'],
      ['qos.reliability is unknown', { ...GOOD, qos: { ...GOOD.qos, reliability: 'x' } }, 'qos.reliability'],
      ['qos.depth is fractional', { ...GOOD, qos: { ...GOOD.qos, depth: 1.5 } }, 'qos.depth'],
      ['cdr is not base64', { ...GOOD, msg: undefined, cdr: '!!!!' }, 'cdr'],
      ['neither msg nor cdr is there', { ...GOOD, msg: undefined }, 'msg'],
    ];
    for (const [what, payload, field] of cases) {
      it(`throws EnvelopeError naming ${field} when ${what}`, () => {
        assert.throws(() => parseEnvelope(payload), (e: unknown) => e instanceof EnvelopeError && e.code === 'FS_ROS_ERR_ENVELOPE' && e.field === field);
      });
    }
  });
});
