import { strict as assert } from 'node:assert';
import { LatencyRecorder } from '../../src/fastsocket';

/** Every case throws before the file is opened, so no path here is ever created. */
const PATH = '/nonexistent-fastsocket-dir/latency.jsonl';

function throwsNaming(make: () => unknown, name: string): void {
  assert.throws(make, (err: unknown) => {
    assert.ok(err instanceof TypeError, `a TypeError, got ${String(err)}`);
    assert.match(err.message, new RegExp(`\\b${name}\\b`), `the message names ${name}`);
    return true;
  });
}

describe('LatencyRecorder', () => {
  describe('#constructor', () => {
    it('throws a TypeError naming path when it is not a non-empty string', () => {
      for (const bad of ['', null, 5]) throwsNaming(() => new LatencyRecorder(bad as never, 'jsonl'), 'path');
    });

    it('throws a TypeError naming format when it is not jsonl or csv', () => {
      for (const bad of ['xml', '', undefined]) throwsNaming(() => new LatencyRecorder(PATH, bad as never), 'format');
    });

    it('throws a TypeError naming extraColumns when it is not a list of non-empty strings', () => {
      for (const bad of ['topic', [1], [''], null]) throwsNaming(() => new LatencyRecorder(PATH, 'csv', { extraColumns: bad as never }), 'extraColumns');
    });

    it('throws a TypeError naming clock when it is not a function returning a number', () => {
      for (const bad of [0, null, 'now', process.hrtime.bigint]) throwsNaming(() => new LatencyRecorder(PATH, 'csv', { clock: bad as never }), 'clock');
    });

    it('throws a TypeError naming an unknown (misspelt) option', () => {
      throwsNaming(() => new LatencyRecorder(PATH, 'csv', { extraColumn: ['topic'] } as never), 'extraColumn');
    });
  });
});
