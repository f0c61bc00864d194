import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { decodeStrictBase64 } from '../../src/ros/base64';

/** The anchored expression the ROS layer used before: the definition of strict base64 this must keep. */
const STRICT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

describe('base64', () => {
  describe('#decodeStrictBase64', () => {
    it('returns the encoded bytes when given any padded standard base64', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const back = decodeStrictBase64(Buffer.from(bytes).toString('base64'));
          return back !== null && back.equals(Buffer.from(bytes));
        }),
      );
    });

    it('accepts exactly what the strict expression accepts when given text mixing base64, padding, URL-safe and stray characters', () => {
      const chars = ['A', 'Q', 'w', '8', '+', '/', '=', '-', '_', ' ', '\n', '!', 'é', '✓'];
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...chars), { maxLength: 16 }).map((a) => a.join('')), (text) => {
          const back = decodeStrictBase64(text);
          if (!STRICT.test(text)) return back === null;
          return back !== null && back.equals(Buffer.from(text, 'base64'));
        }),
        { numRuns: 20_000 },
      );
    });

    it('returns null when given URL-safe base64, a misplaced pad or a missing pad', () => {
      for (const bad of ['AB-_', 'QQ==QQ==', 'AB=C', 'A===', 'QQ', 'QQ=', ' QQ=']) assert.equal(decodeStrictBase64(bad), null, bad);
    });
  });
});
