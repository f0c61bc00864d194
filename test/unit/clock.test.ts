import { strict as assert } from 'node:assert';
import { wallNs } from '../../src/fastsocket/clock';

const MS = 1_000_000;

describe('wallNs', () => {
  const realDateNow = Date.now;
  afterEach(() => {
    Date.now = realDateNow;
  });

  /** The system clock as Date.now() gives it, moved by `stepMs` as NTP, chrony or GNSS step it. */
  function stepSystemClock(stepMs: number): void {
    Date.now = () => realDateNow() + stepMs;
  }

  it('agrees with the system clock to within its 1 ms resolution', () => {
    const before = realDateNow() * MS;
    const wall = wallNs();
    const after = (realDateNow() + 1) * MS;
    assert.ok(wall >= before && wall <= after, `wallNs ${wall} outside [${before}, ${after}]`);
  });

  for (const stepMs of [5_000, -5_000]) {
    it(`follows a step of ${stepMs / 1000} s of the system clock made after the process started`, () => {
      // A vehicle computer starts its bridge at boot, then its time sync steps the clock: the records' wall times and
      // the clock-synced uplink must follow the clock `date` shows, not the one the process started with.
      wallNs();
      stepSystemClock(stepMs);
      const expected = Date.now() * MS;
      const wall = wallNs();
      assert.ok(Math.abs(wall - expected) <= 2 * MS, `wallNs ${(wall - realDateNow() * MS) / MS} ms from the real clock, expected ${stepMs} ms`);
      // And stays there: later reads do not drift back.
      const again = wallNs();
      assert.ok(Math.abs(again - Date.now() * MS) <= 2 * MS, `second read ${(again - Date.now() * MS) / MS} ms off`);
    });
  }
});
