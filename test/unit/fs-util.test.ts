import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { forEachLine, replaceFile } from '../../src/fastsocket/fs-util';

describe('fs-util', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-fs-util-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('#forEachLine', () => {
    it('returns false for a file that does not exist', () => {
      assert.equal(forEachLine(path.join(dir, 'none'), () => assert.fail('no line')), false);
    });

    it('throws EISDIR naming the path for a directory', () => {
      assert.throws(
        () => forEachLine(dir, () => assert.fail('no line')),
        (e: NodeJS.ErrnoException) => e.code === 'EISDIR' && e.message.includes(dir),
      );
    });

    it('gives the lines of any text as split() would, whatever the chunk size cuts (multi-byte characters included)', () => {
      const file = path.join(dir, 'lines');
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.integer({ min: 1, max: 16 }), (text, chunkBytes) => {
          fs.writeFileSync(file, text);
          const got: Array<[string, boolean]> = [];
          forEachLine(file, (line, terminated) => got.push([line, terminated]), chunkBytes);
          const parts = text.split('\n');
          const tail = parts.pop()!;
          const expected: Array<[string, boolean]> = parts.map((p) => [p, true]);
          if (tail !== '') expected.push([tail, false]);
          assert.deepEqual(got, expected);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('#replaceFile', () => {
    it('writes every record, in order, across its write batches', () => {
      const file = path.join(dir, 'out');
      fs.writeFileSync(file, 'old\n');
      const records = Array.from({ length: 3000 }, (_, i) => `${i} ${'x'.repeat(1000)}\n`);
      replaceFile(file, records);
      assert.equal(fs.readFileSync(file, 'utf8'), records.join(''));
      assert.equal(fs.existsSync(`${file}.tmp`), false);
    });
  });
});
