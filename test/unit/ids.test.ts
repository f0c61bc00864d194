import { strict as assert } from 'node:assert';
import { newMessageId } from '../../src/fastsocket/ids';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newMessageId', () => {
  // 10,000 ids take the pool (4,096 ids) through two refills.
  const ids = Array.from({ length: 10_000 }, () => newMessageId());

  it('makes version 4 UUIDs in lower case', () => {
    const bad = ids.filter((id) => !UUID_V4.test(id));
    assert.deepEqual(bad, []);
  });

  it('never repeats an id, across refills of its pool included', () => {
    assert.equal(new Set(ids).size, ids.length);
  });

  it('draws every random digit from all 16 values', () => {
    // A byte left stale or zeroed by a wrong offset would pin some positions to one digit.
    for (let pos = 0; pos < 36; pos++) {
      if ([8, 13, 14, 18, 23].includes(pos)) continue; // dashes, the version digit
      const digits = new Set(ids.map((id) => id[pos]));
      assert.ok(digits.size >= (pos === 19 ? 4 : 16), `position ${pos} took only ${[...digits].join('')}`);
    }
  });
});
