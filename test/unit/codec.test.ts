import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  decodeClientFrame,
  decodeFrame,
  decodeServerFrame,
  encodeAck2,
  encodeAck3,
  encodeHello,
  encodeMessage,
  encodeMessageBytes,
  encodePayload,
  payloadJsonBytes,
  messageFrameBytes,
} from '../../src/fastsocket/codec';
import { ProtocolError, type ProtocolErrorReason } from '../../src/fastsocket/errors';

const ID = '6f1c1f2e-8a43-4d7e-9a57-0c3b5e1e9d11';

function rejects(data: string | Buffer, reason: ProtocolErrorReason, decode: (d: string | Buffer) => unknown = decodeFrame): void {
  assert.throws(
    () => decode(data),
    (err: unknown) => {
      assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
      assert.equal(err.code, 'FS_ERR_PROTOCOL');
      assert.equal(err.reason, reason);
      return true;
    },
  );
}

describe('codec', () => {
  describe('#decodeFrame', () => {
    it('decodes message 1 with any JSON payload, falsy ones included', () => {
      for (const payload of [{ a: [1, 'x', null] }, 'text', 0, '', {}, [], false, null, 1.5e300]) {
        const frame = decodeFrame(JSON.stringify({ id: ID, type: 'message', payload }));
        assert.deepEqual(frame, { type: 'message', id: ID, payload });
      }
    });

    it('decodes message 1 from a Buffer', () => {
      assert.deepEqual(decodeFrame(Buffer.from(`{"id":"${ID}","type":"message","payload":"é✓"}`)), {
        type: 'message',
        id: ID,
        payload: 'é✓',
      });
    });

    it('decodes ack 2 (no send_and_ack_time_ns)', () => {
      assert.deepEqual(decodeFrame(`{"id":"${ID}","type":"ack"}`), { type: 'ack', id: ID });
    });

    it('decodes ack 3 with its integer T1', () => {
      assert.deepEqual(decodeFrame(`{"id":"${ID}","type":"ack","send_and_ack_time_ns":123456789}`), {
        type: 'ack',
        id: ID,
        send_and_ack_time_ns: 123456789,
      });
    });

    it('decodes a hello with client_id and token', () => {
      assert.deepEqual(decodeFrame('{"type":"hello","protocol":1,"client_id":"veh-17","token":"s3cret"}'), {
        type: 'hello',
        protocol: 1,
        client_id: 'veh-17',
        token: 's3cret',
      });
    });

    it('decodes a hello with a null client_id as one without', () => {
      assert.deepEqual(decodeFrame('{"type":"hello","protocol":1,"client_id":null}'), { type: 'hello', protocol: 1 });
    });

    it('keeps a server hello\'s server_instance when it is a string of 1 to 128 characters, and ignores it otherwise', () => {
      assert.deepEqual(decodeServerFrame('{"type":"hello","protocol":1,"max_frame_bytes":1024,"server_instance":"b1946ac9-2f2a-4c1e-9d7e-0f6b5d1c9a11"}'), {
        type: 'hello', protocol: 1, max_frame_bytes: 1024, server_instance: 'b1946ac9-2f2a-4c1e-9d7e-0f6b5d1c9a11',
      });
      for (const bad of ['""', '42', 'null', JSON.stringify('x'.repeat(129))]) {
        assert.deepEqual(decodeServerFrame(`{"type":"hello","protocol":1,"server_instance":${bad}}`), { type: 'hello', protocol: 1 }, bad);
      }
    });

    it('keeps the extension fields of message 1 and ack 3 when they are well formed', () => {
      assert.deepEqual(decodeFrame(`{"id":"${ID}","type":"message","payload":1,"resent":true,"queued_ns":5,"client_send_wall_ns":7}`), {
        type: 'message',
        id: ID,
        payload: 1,
        resent: true,
        queued_ns: 5,
        client_send_wall_ns: 7,
      });
      assert.deepEqual(decodeFrame(`{"id":"${ID}","type":"ack","send_and_ack_time_ns":9,"pc_ns":3,"client_recv_wall_ns":4}`), {
        type: 'ack',
        id: ID,
        send_and_ack_time_ns: 9,
        pc_ns: 3,
        client_recv_wall_ns: 4,
      });
    });

    it('ignores unknown fields and malformed extension fields', () => {
      const frame = decodeFrame(
        `{"id":"${ID}","type":"message","payload":2,"future":{"x":1},"resent":"yes","queued_ns":-1,"client_send_wall_ns":1.5}`,
      );
      assert.deepEqual(frame, { type: 'message', id: ID, payload: 2 });
    });

    it('ignores wall-clock fields beyond what an int64 of ns can hold, which no clock writes (1e300 made uplink_wall_ns -1e300)', () => {
      const frame = decodeFrame(`{"id":"${ID}","type":"message","payload":2,"client_send_wall_ns":1e300}`);
      assert.deepEqual(frame, { type: 'message', id: ID, payload: 2 });
      const ack = decodeFrame(`{"id":"${ID}","type":"ack","send_and_ack_time_ns":5,"client_recv_wall_ns":9223372036854777856}`);
      assert.deepEqual(ack, { type: 'ack', id: ID, send_and_ack_time_ns: 5 });
      const now = decodeFrame(`{"id":"${ID}","type":"message","payload":2,"client_send_wall_ns":1764230400000000000}`);
      assert.equal((now as { client_send_wall_ns?: number }).client_send_wall_ns, 1764230400000000000);
    });

    it('reads wall-clock ns a peer wrote exactly (time.time_ns()), and hands a payload integer beyond a double over exact', () => {
      const frame = decodeFrame(`{"id":"${ID}","type":"message","payload":{"station_id":18446744073709551615},"client_send_wall_ns":1764412345123456789}`);
      assert.deepStrictEqual(frame, { type: 'message', id: ID, payload: { station_id: 18446744073709551615n }, client_send_wall_ns: 1764412345123456789 });
    });

    it('accepts Python NaN, Infinity and -Infinity in a payload as the float values', () => {
      const frame = decodeFrame(`{"id": "${ID}", "type": "message", "payload": {"a": NaN, "b": [Infinity, -Infinity], "c": "NaN"}}`);
      assert.equal(frame.type, 'message');
      const payload = (frame as { payload: { a: number; b: number[]; c: string } }).payload;
      assert.ok(Number.isNaN(payload.a));
      assert.deepEqual(payload.b, [Infinity, -Infinity]);
      assert.equal(payload.c, 'NaN');
    });

    it('accepts an id of exactly 128 characters', () => {
      const id = 'x'.repeat(128);
      assert.equal(decodeFrame(JSON.stringify({ id, type: 'ack' })).type, 'ack');
    });

    it('counts an id in characters (code points), not UTF-16 units: 128 emoji are accepted, 129 refused with invalid_id', () => {
      const id = '😀'.repeat(128);
      assert.equal(id.length, 256);
      assert.deepEqual(decodeFrame(JSON.stringify({ id, type: 'ack' })), { type: 'ack', id });
      rejects(JSON.stringify({ id: id + '😀', type: 'ack' }), 'invalid_id');
      rejects(JSON.stringify({ id: id + 'x', type: 'message', payload: 1 }), 'invalid_id');
    });

    it('counts a hello client_id in code points too: 256 emoji are accepted, 257 refused with invalid_field', () => {
      const clientId = '🚗'.repeat(256);
      assert.deepEqual(decodeFrame(JSON.stringify({ type: 'hello', protocol: 1, client_id: clientId })), { type: 'hello', protocol: 1, client_id: clientId });
      rejects(JSON.stringify({ type: 'hello', protocol: 1, client_id: clientId + '🚗' }), 'invalid_field');
    });

    for (const [name, text] of [
      ['through JSON.parse', '{"id":"a","type":"message","payload":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}}'],
      ['through the NaN-tolerant parser', '{"id":"a","type":"message","payload":{"n":NaN,"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}}'],
    ] as const) {
      it(`keeps __proto__ and constructor keys as own properties and pollutes nothing (${name})`, () => {
        const frame = decodeFrame(text) as { payload: Record<string, unknown> };
        const payload = frame.payload;
        assert.ok(Object.prototype.hasOwnProperty.call(payload, '__proto__'), '__proto__ is an own property');
        assert.deepEqual(Object.getOwnPropertyDescriptor(payload, '__proto__')?.value, { polluted: 1 });
        assert.equal(Object.getPrototypeOf(payload), Object.prototype, 'prototype of the payload is unchanged');
        assert.ok(Object.prototype.hasOwnProperty.call(payload, 'constructor'));
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
        assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
      });
    }

    it('keeps a top-level __proto__ key from changing how the frame is read', () => {
      const frame = decodeFrame(`{"__proto__":{"type":"message","id":"evil"},"id":"${ID}","type":"ack"}`);
      assert.deepEqual(frame, { type: 'ack', id: ID });
      assert.equal(({} as Record<string, unknown>).type, undefined);
    });

    describe('rejections', () => {
      it('rejects invalid UTF-8 with reason invalid_utf8', () => {
        rejects(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'invalid_utf8');
        // An overlong encoding of "/" and a lone continuation byte.
        rejects(Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","type":"ack"}')]), 'invalid_utf8');
        rejects(Buffer.from([0x80]), 'invalid_utf8');
      });

      it('rejects text that is not JSON with reason invalid_json', () => {
        for (const text of ['{', '{"id":"a",}', 'hello', '{"id":"a" "type":"ack"}', "{'id':'a'}", '{"a":nan}', '{"a":-NaN}', '{"a":NaN}x', '']) {
          rejects(text, 'invalid_json');
        }
      });

      it('rejects JSON that is not an object with reason not_object', () => {
        for (const text of ['[1,2]', '"message"', '42', 'null', 'true', '[]', 'NaN']) rejects(text, 'not_object');
      });

      it('rejects a missing or non-string type with reason invalid_type', () => {
        for (const text of [`{"id":"${ID}"}`, `{"id":"${ID}","type":1}`, `{"id":"${ID}","type":null}`, `{"id":"${ID}","type":["ack"]}`]) {
          rejects(text, 'invalid_type');
        }
      });

      it('rejects an unknown type with reason unknown_type', () => {
        for (const type of ['msg', 'ACK', 'Message', '', 'ack3']) rejects(JSON.stringify({ id: ID, type, payload: 1 }), 'unknown_type');
      });

      it('names an unknown type in its error on one line, its control characters and line separators escaped', () => {
        const type = 'x\n\u001b[2J\u0085\u2028y';
        assert.throws(() => decodeFrame(JSON.stringify({ id: ID, type })), (e: unknown) => {
          assert.ok(e instanceof ProtocolError);
          assert.equal(e.message, 'unknown frame type "x\\n\\u001b[2J\\u0085\\u2028y"');
          return true;
        });
      });

      it('rejects an unknown type without an id, as a hello has none, with reason unknown_type rather than invalid_id', () => {
        for (const type of ['ping', 'subscribe', 'Hello']) rejects(JSON.stringify({ type }), 'unknown_type');
      });

      it('rejects a bad id with reason invalid_id: a number, empty, 129 characters, missing, null, an object', () => {
        for (const id of [42, '', 'x'.repeat(129), undefined, null, { a: 1 }, ['a']]) {
          rejects(JSON.stringify({ id, type: 'message', payload: 1 }), 'invalid_id');
          rejects(JSON.stringify({ id, type: 'ack', send_and_ack_time_ns: 1 }), 'invalid_id');
        }
      });

      it('rejects message 1 without a payload with reason missing_payload', () => {
        rejects(`{"id":"${ID}","type":"message"}`, 'missing_payload');
      });

      it('rejects send_and_ack_time_ns that is a string, a float, negative, beyond 2^53 or null with reason invalid_ack_time', () => {
        for (const t1 of ['"123"', '1.5', '-1', '9007199254740993', 'null', 'NaN', 'Infinity', 'true', '{}']) {
          rejects(`{"id":"${ID}","type":"ack","send_and_ack_time_ns":${t1}}`, 'invalid_ack_time');
        }
      });

      it('rejects a hello with a bad protocol, client_id or token with reason invalid_field', () => {
        for (const text of [
          '{"type":"hello"}',
          '{"type":"hello","protocol":"1"}',
          '{"type":"hello","protocol":0}',
          '{"type":"hello","protocol":1.5}',
          '{"type":"hello","protocol":1,"client_id":7}',
          `{"type":"hello","protocol":1,"client_id":"${'c'.repeat(257)}"}`,
          '{"type":"hello","protocol":1,"token":12345}',
        ]) {
          rejects(text, 'invalid_field');
        }
      });

      it('never throws anything but a ProtocolError, whatever the bytes', () => {
        const frameLike = fc.oneof(
          fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .record({
              id: fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.constant(null)),
              type: fc.constantFrom('message', 'ack', 'hello', 'x', 1),
              payload: fc.jsonValue(),
              send_and_ack_time_ns: fc.oneof(fc.integer(), fc.double(), fc.string()),
              protocol: fc.oneof(fc.integer(), fc.string()),
            }, { requiredKeys: [] })
            .map((o) => JSON.stringify(o)),
          fc.string().map((s) => s.replace(/null/g, 'NaN')),
        );
        fc.assert(
          fc.property(frameLike, (data) => {
            try {
              const frame = decodeFrame(data);
              assert.ok(['message', 'ack', 'hello'].includes(frame.type));
            } catch (err) {
              assert.ok(err instanceof ProtocolError, `threw ${String(err)}`);
            }
          }),
          { numRuns: 2000 },
        );
      });

      it('rejects deeply nested JSON with a ProtocolError rather than overflowing the stack', () => {
        for (const depth of [5_000, 200_000]) {
          const deep = `{"id":"a","type":"message","payload":${'['.repeat(depth)}NaN${']'.repeat(depth)}}`;
          try {
            decodeFrame(deep);
          } catch (err) {
            assert.ok(err instanceof ProtocolError, `depth ${depth} threw ${String(err)}`);
            assert.equal(err.reason, 'invalid_json');
          }
        }
      });
    });
  });

  describe('#decodeClientFrame', () => {
    it('accepts message 1, ack 3 and hello', () => {
      assert.equal(decodeClientFrame(`{"id":"${ID}","type":"message","payload":1}`).type, 'message');
      assert.equal(decodeClientFrame(`{"id":"${ID}","type":"ack","send_and_ack_time_ns":1}`).type, 'ack');
      assert.equal(decodeClientFrame('{"type":"hello","protocol":1}').type, 'hello');
    });

    it('rejects an ack without send_and_ack_time_ns (only the server sends ack 2) with reason invalid_ack_time', () => {
      rejects(`{"id":"${ID}","type":"ack"}`, 'invalid_ack_time', decodeClientFrame);
    });
  });

  describe('#decodeServerFrame', () => {
    it('accepts ack 2 and hello, and reads an ack carrying T1 as a plain ack 2', () => {
      assert.deepEqual(decodeServerFrame(`{"id":"${ID}","type":"ack"}`), { type: 'ack', id: ID });
      assert.deepEqual(decodeServerFrame(`{"id":"${ID}","type":"ack","send_and_ack_time_ns":5}`), { type: 'ack', id: ID });
      assert.deepEqual(decodeServerFrame('{"type":"hello","protocol":1}'), { type: 'hello', protocol: 1 });
    });

    it('rejects message 1 (a server never sends it) with reason unknown_type', () => {
      rejects(`{"id":"${ID}","type":"message","payload":1}`, 'unknown_type', decodeServerFrame);
    });

    it('reads from bytes exactly what the general path reads from the same ack 2, for any id and any spelling', () => {
      // An ack 2 as encodeAck2 writes it (read from the bytes for plain ids), and as other peers may write it.
      const spellings = (id: string): string[] => [
        encodeAck2(id),
        `{"id": ${JSON.stringify(id)}, "type": "ack"}`,
        `{"type":"ack","id":${JSON.stringify(id)}}`,
        `{"id":${JSON.stringify(id)},"type":"ack","extra":1}`,
      ];
      fc.assert(
        fc.property(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/), fc.string({ minLength: 1, maxLength: 128 })), (id) => {
          for (const text of spellings(id)) {
            assert.deepEqual(decodeServerFrame(Buffer.from(text, 'utf8')), { type: 'ack', id }, text);
            assert.deepEqual(decodeServerFrame(text), { type: 'ack', id }, text);
          }
        }),
        { numRuns: 500 },
      );
    });

    it('rejects an ack 2 of the plain shape whose id is empty or longer than 128 characters with reason invalid_id', () => {
      rejects(Buffer.from('{"id":"","type":"ack"}'), 'invalid_id', decodeServerFrame);
      rejects(Buffer.from(`{"id":"${'a'.repeat(129)}","type":"ack"}`), 'invalid_id', decodeServerFrame);
      assert.deepEqual(decodeServerFrame(Buffer.from(`{"id":"${'a'.repeat(128)}","type":"ack"}`)), { type: 'ack', id: 'a'.repeat(128) });
    });

    it('does not take bytes that only look like a plain ack 2 for one', () => {
      // A quote or a backslash inside, a truncated tail, trailing bytes after the object: the general path decides.
      rejects(Buffer.from('{"id":"a"b","type":"ack"}'), 'invalid_json', decodeServerFrame);
      assert.deepEqual(decodeServerFrame(Buffer.from('{"id":"a\\u0041","type":"ack"}')), { type: 'ack', id: 'aA' });
      rejects(Buffer.from('{"id":"abc","type":"ack"'), 'invalid_json', decodeServerFrame);
      rejects(Buffer.from('{"id":"abc","type":"ack"}}'), 'invalid_json', decodeServerFrame);
      rejects(Buffer.from([...Buffer.from('{"id":"a'), 0xff, ...Buffer.from('","type":"ack"}')]), 'invalid_utf8', decodeServerFrame);
    });
  });

  describe('#encodeMessage', () => {
    it('writes message 1 with the seed field names and no newline, which decodes back', () => {
      const text = encodeMessage(ID, encodePayload({ s: 'line1\nline2', n: NaN }), { resent: true, queuedNs: 12.4 });
      assert.ok(!text.includes('\n'), 'no raw newline in a frame');
      const parsed = decodeFrame(text) as { payload: { s: string; n: number }; resent: boolean; queued_ns: number };
      assert.equal(parsed.payload.s, 'line1\nline2');
      assert.ok(Number.isNaN(parsed.payload.n));
      assert.equal(parsed.resent, true);
      assert.equal(parsed.queued_ns, 12);
    });

    it('omits resent when false', () => {
      assert.deepEqual(JSON.parse(encodeMessage(ID, '1', { resent: false })), { id: ID, type: 'message', payload: 1 });
    });

    it('round-trips any id and JSON payload through decodeFrame', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 128 }), fc.jsonValue(), (id, payload) => {
          const text = encodeMessage(id, encodePayload(payload));
          assert.ok(!text.includes('\n'));
          const frame = decodeFrame(Buffer.from(text, 'utf8'));
          // JSON cannot tell -0 from 0.
          assert.deepEqual(frame, { type: 'message', id, payload: JSON.parse(JSON.stringify(payload)) });
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('#encodeMessageBytes', () => {
    it('writes the UTF-8 bytes of encodeMessage\'s text, for ASCII and other payloads, plain and escaped ids', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 40 })),
          fc.oneof(fc.string({ unit: 'binary-ascii' }), fc.string({ unit: 'binary' }), fc.jsonValue().map((v) => encodePayload(v))),
          fc.record({ resent: fc.boolean(), queuedNs: fc.nat(), clientSendWallNs: fc.option(fc.nat(), { nil: undefined }) }),
          (id, text, extra) => {
            const json = encodePayload(text);
            const bytes = encodeMessageBytes(id, json, Buffer.byteLength(json), extra);
            assert.ok(bytes.equals(Buffer.from(encodeMessage(id, json, extra), 'utf8')));
          },
        ),
        { numRuns: 1000 },
      );
    });
  });

  describe('#payloadJsonBytes', () => {
    it("is the UTF-8 length of encodePayload's JSON, for strings with and without escapes and for other values", () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' }), fc.jsonValue()), (payload) => {
          const json = encodePayload(payload);
          assert.equal(payloadJsonBytes(payload, json), Buffer.byteLength(json));
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('#messageFrameBytes', () => {
    it('is at least the size of a resent, clock-synced message 1 with a uuid id, queued for a day, stamped with a wall clock of 2026', () => {
      // Wall-clock ns have 19 digits until 2286; a bound of 16 let a message at the server's max_frame_bytes (learnt from
      // its hello) out 1 to 3 bytes too large once it had waited 2.8 hours, and the server closed every connection on it.
      const payload = encodePayload('x'.repeat(100));
      const wall2026 = Date.UTC(2026, 10, 27) * 1e6;
      const text = encodeMessage('00000000-0000-4000-8000-000000000000', payload, { resent: true, queuedNs: 86_400e9, clientSendWallNs: wall2026 });
      assert.ok(Buffer.byteLength(text) <= messageFrameBytes(Buffer.byteLength(payload)), `${Buffer.byteLength(text)} > ${messageFrameBytes(Buffer.byteLength(payload))}`);
    });

    it('counts the id it is given: 128 characters, escaped or not, make the frame longer than a UUID does', () => {
      const payload = encodePayload('x'.repeat(100));
      for (const id of ['v'.repeat(128), '\u0001'.repeat(128), '😀'.repeat(128)]) {
        const text = encodeMessage(id, payload, { resent: true, queuedNs: 86_400e9, clientSendWallNs: Date.UTC(2026, 10, 27) * 1e6 });
        assert.ok(Buffer.byteLength(text) <= messageFrameBytes(Buffer.byteLength(payload), id), `${Buffer.byteLength(text)} > ${messageFrameBytes(Buffer.byteLength(payload), id)}`);
        assert.ok(messageFrameBytes(Buffer.byteLength(payload), id) > messageFrameBytes(Buffer.byteLength(payload)));
      }
    });
  });

  describe('#encodeAck2', () => {
    it('writes ack 2 exactly as the seed does', () => {
      assert.deepEqual(JSON.parse(encodeAck2(ID)), { id: ID, type: 'ack' });
    });
  });

  describe('#encodeAck3', () => {
    it('writes T1 as a JSON integer even when given a fractional number', () => {
      const text = encodeAck3(ID, 1234.6, { pcNs: 10.2 });
      assert.match(text, /"send_and_ack_time_ns":1235[,}]/);
      assert.deepEqual(decodeClientFrame(text), { type: 'ack', id: ID, send_and_ack_time_ns: 1235, pc_ns: 10 });
    });
  });

  describe('#encodeHello', () => {
    it('writes a hello that decodes back, without client_id or token when none is given', () => {
      assert.deepEqual(JSON.parse(encodeHello()), { type: 'hello', protocol: 1 });
      assert.deepEqual(decodeFrame(encodeHello('veh-17', 'tok')), { type: 'hello', protocol: 1, client_id: 'veh-17', token: 'tok' });
    });
  });
});
