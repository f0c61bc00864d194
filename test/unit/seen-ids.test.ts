import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JOURNAL_FILE, SeenIds } from '../../src/fastsocket/seen-ids';
import { fillDisk } from '../support/full-disk';
import { waitUntil } from '../support/wait';

describe('SeenIds', () => {
  let dir: string;
  const open: SeenIds[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-seen-'));
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function make(capacity: number, stateDir?: string): SeenIds {
    const s = new SeenIds(capacity, stateDir);
    open.push(s);
    return s;
  }

  const journal = (): string => path.join(dir, JOURNAL_FILE);

  describe('#has', () => {
    it('knows an id once it has been added, and no other', () => {
      const s = make(10);
      assert.equal(s.has('a'), false);
      s.add('a');
      assert.equal(s.has('a'), true);
      assert.equal(s.has('b'), false);
    });
  });

  describe('#add', () => {
    it('forgets the oldest ids first once past its capacity, so memory stays bounded', () => {
      const s = make(3);
      for (const id of ['a', 'b', 'c', 'd', 'e']) s.add(id);
      assert.equal(s.size, 3);
      assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map((id) => s.has(id)), [false, false, true, true, true]);
    });

    it('keeps its size at the capacity however many ids arrive', () => {
      const s = make(100);
      for (let i = 0; i < 10_000; i++) s.add(`id-${i}`);
      assert.equal(s.size, 100);
      assert.ok(s.has('id-9999') && s.has('id-9900') && !s.has('id-9899'));
    });

    it('keeps exactly the newest ids at a capacity spread over many shards, for counters and uuids alike', () => {
      const s = make(5000);
      const counters = Array.from({ length: 12_000 }, (_, i) => `msg-${i}`);
      const uuids = Array.from({ length: 12_000 }, (_, i) => `6f1c1f2e-8a43-4d7e-9a57-${i.toString(16).padStart(12, '0')}`);
      for (const id of [...counters, ...uuids]) s.add(id);
      s.add(uuids[uuids.length - 1]);
      assert.equal(s.size, 5000);
      assert.deepEqual(s.remembered(), uuids.slice(-5000));
      assert.ok(uuids.slice(-5000).every((id) => s.has(id)), 'every newest id is known');
      assert.ok(![...counters, ...uuids.slice(0, -5000)].some((id) => s.has(id)), 'no evicted id is known');
    });

    it('writes each id to the journal before returning, so a crash right after still knows it', () => {
      const s = make(10, dir);
      s.add('first');
      s.add('second');
      // No close(): a SIGKILLed process never closes its journal.
      const again = make(10, dir);
      assert.ok(again.has('first') && again.has('second'));
    });
  });

  describe('journal', () => {
    it('creates a missing state folder', () => {
      const nested = path.join(dir, 'a', 'b');
      make(10, nested).add('x');
      assert.ok(fs.existsSync(path.join(nested, JOURNAL_FILE)));
    });

    it('survives a reopen with every id it held', () => {
      const s = make(100, dir);
      const ids = Array.from({ length: 50 }, (_, i) => `6f1c1f2e-8a43-4d7e-9a57-${String(i).padStart(12, '0')}`);
      for (const id of ids) s.add(id);
      s.close();
      const again = make(100, dir);
      assert.equal(again.size, 50);
      assert.ok(ids.every((id) => again.has(id)));
    });

    it('skips a torn last record (no newline) and never reads it as an id', () => {
      fs.writeFileSync(journal(), 'alpha\nbeta\nalph');
      const s = make(10, dir);
      assert.ok(s.has('alpha') && s.has('beta'));
      assert.equal(s.has('alph'), false);
      assert.equal(s.size, 2);
    });

    it('drops the torn record from the file, so an id appended after reopening is not glued to it', () => {
      fs.writeFileSync(journal(), 'alpha\nbe');
      const s = make(10, dir);
      s.add('gamma');
      s.close();
      const again = make(10, dir);
      assert.ok(again.has('alpha') && again.has('gamma'));
      assert.equal(again.has('begamma'), false);
      assert.equal(again.has('be'), false);
    });

    it('skips a record of zero bytes left by a crash (a file extended but not yet written)', () => {
      fs.writeFileSync(journal(), 'alpha\n\u0000\u0000\u0000\u0000\n');
      const s = make(10, dir);
      assert.equal(s.size, 1);
      assert.ok(s.has('alpha'));
    });

    it('keeps the newest ids when the journal holds more than the capacity', () => {
      fs.writeFileSync(journal(), Array.from({ length: 20 }, (_, i) => `id-${i}\n`).join(''));
      const s = make(5, dir);
      assert.equal(s.size, 5);
      assert.ok(s.has('id-19') && s.has('id-15') && !s.has('id-14'));
    });

    it('keeps as many different ids as its capacity when the journal names the newest ones twice', () => {
      // A write cut short just before its newline, then the newline written before the next record: id-3 twice.
      fs.writeFileSync(journal(), '"id-0"\n"id-1"\n"id-2"\n"id-3"\n"id-3"\n"id-4"\n');
      const s = make(3, dir);
      assert.deepEqual(s.remembered(), ['id-2', 'id-3', 'id-4']);
    });

    it('does not write an id it remembers already to the journal again', () => {
      const s = make(3, dir);
      s.add('a');
      s.add('a');
      s.close();
      assert.equal(fs.readFileSync(journal(), 'utf8'), '"a"\n');
    });

    /** Runs each compaction step at once, so that a loop of add() calls compacts as it goes. */
    const atOnce = (task: () => void): void => task();

    it('compacts the journal so that the file stays bounded', () => {
      const s = new SeenIds(10, dir, undefined, undefined, atOnce);
      open.push(s);
      for (let i = 0; i < 1_000; i++) s.add(`id-${i}`);
      const lines = fs.readFileSync(journal(), 'utf8').split('\n').filter(Boolean);
      assert.ok(lines.length <= 2 * 10 + 1, `journal has ${lines.length} lines with a capacity of 10`);
    });

    it('keeps the newest ids across a reopen, the one whose add triggered a compaction included', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), (capacity, n) => {
          fs.rmSync(journal(), { force: true });
          const s = new SeenIds(capacity, dir, undefined, undefined, atOnce);
          for (let i = 0; i < n; i++) s.add(`id-${i}`);
          s.close();
          const again = new SeenIds(capacity, dir);
          again.close();
          const kept = Array.from({ length: n }, (_, i) => `id-${i}`).filter((id) => again.has(id));
          const newest = Array.from({ length: Math.min(n, capacity) }, (_, i) => `id-${n - Math.min(n, capacity) + i}`);
          assert.deepEqual(kept, newest);
        }),
        { numRuns: 100 },
      );
    });

    it('remembers an id holding a newline as that id after a reopen, and not as its pieces', () => {
      // Any string of up to 128 characters is a valid id (PROTOCOL.md §2), "\n" included once JSON-decoded.
      const s = make(10, dir);
      s.add('evil\nvictim');
      s.close();
      const again = make(10, dir);
      assert.equal(again.has('victim'), false, 'an innocent id "victim" would be swallowed as a duplicate');
      assert.equal(again.has('evil\nvictim'), true, 'the resend of "evil\\nvictim" would be handed over twice');
    });

    it('keeps deduplicating when the journal cannot be written, reports the failure once, and writes the ids once it can', () => {
      const errors: string[] = [];
      let now = 0;
      const s = new SeenIds(10, dir, (err) => errors.push((err as NodeJS.ErrnoException).code ?? err.message), () => now);
      open.push(s);
      s.add('before');
      // The first id's record is cut after 5 bytes.
      const disk = fillDisk(5);
      try {
        s.add('during-1');
        s.add('during-2');
      } finally {
        disk.restore();
      }
      assert.ok(s.has('during-1') && s.has('during-2'), 'the ids are deduplicated in memory all the same');
      assert.deepEqual(errors, ['ENOSPC'], 'one failure reported: the second id waits for the retry rather than failing again');
      now += 1000;
      s.add('after');
      assert.deepEqual(errors, ['ENOSPC']);
      // No close(): a crash right after this still finds every id, and nothing glued to the torn record.
      const again = make(10, dir);
      assert.deepEqual(['before', 'during-1', 'during-2', 'after'].filter((id) => again.has(id)), ['before', 'during-1', 'during-2', 'after']);
      assert.equal(again.size, 4);
    });

    it('keeps its journal open and whole when a compaction cannot write its temporary file, and leaves other files alone', () => {
      const errors: Error[] = [];
      const s = new SeenIds(2, dir, (err) => errors.push(err));
      open.push(s);
      fs.mkdirSync(`${journal()}.tmp`);
      for (const id of ['a', 'b', 'c', 'd', 'e']) s.add(id);
      assert.equal(errors.length, 1, 'the compaction that the fifth id started failed, and said so');
      // A file opened now takes the lowest free descriptor, which a journal closed before its compaction gave up.
      const other = path.join(dir, 'other');
      const fd = fs.openSync(other, 'w');
      try {
        s.add('f');
        s.close();
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(fs.readFileSync(other, 'utf8'), '', 'no id was written into a file that is not the journal');
      fs.rmdirSync(`${journal()}.tmp`);
      const again = make(2, dir);
      assert.ok(again.has('e') && again.has('f'), 'the newest ids are in the journal');
    });

    it('reads the whole journal, not the temporary file, after a crash in the middle of a compaction', () => {
      fs.writeFileSync(journal(), ['a', 'b', 'c'].map((id) => `${JSON.stringify(id)}\n`).join(''));
      // What a SIGKILL while the compaction wrote its temporary file leaves beside the journal.
      fs.writeFileSync(`${journal()}.tmp`, '"b"\n"c');
      const s = make(10, dir);
      assert.deepEqual(['a', 'b', 'c'].filter((id) => s.has(id)), ['a', 'b', 'c']);
      assert.equal(s.size, 3);
    });

    describe('compaction, a step at a time', () => {
      /** A scheduler the test steps through: each call runs the oldest task waiting. */
      function steps(): { schedule: (task: () => void) => void; run(): boolean; readonly waiting: number } {
        const tasks: Array<() => void> = [];
        return {
          schedule: (task) => void tasks.push(task),
          run: () => {
            const task = tasks.shift();
            task?.();
            return task !== undefined;
          },
          get waiting() {
            return tasks.length;
          },
        };
      }
      const journalIds = (): string[] => fs.readFileSync(journal(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string);
      const ids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `id-${from + i}`);

      it('writes the new journal between event-loop turns, with the ids added meanwhile, and keeps the old one whole until the rename', () => {
        // 3,000 ids in memory when it starts: two steps of 2,000.
        const capacity = 3000;
        const step = steps();
        const s = new SeenIds(capacity, dir, undefined, undefined, step.schedule);
        open.push(s);
        for (const id of ids(0, 2 * capacity + 1)) s.add(id);
        assert.equal(step.waiting, 1, 'the journal passed twice the capacity: a compaction is under way');
        assert.ok(step.run());
        assert.ok(fs.existsSync(`${journal()}.tmp`));
        for (const id of ids(2 * capacity + 1, 2 * capacity + 11)) s.add(id);
        // A crash now finds every id in the journal, the ten added mid-compaction included.
        assert.deepEqual(journalIds().slice(-capacity), ids(2 * capacity + 11 - capacity, 2 * capacity + 11));
        while (step.run());
        assert.equal(fs.existsSync(`${journal()}.tmp`), false);
        assert.deepEqual(journalIds(), ids(2 * capacity + 1 - capacity, 2 * capacity + 11));
        // Appends go to the new journal.
        s.add('after');
        assert.equal(journalIds().at(-1), 'after');
        s.close();
        const again = make(capacity, dir);
        assert.equal(again.size, capacity);
        assert.ok(again.has('after') && again.has(`id-${2 * capacity + 10}`) && !again.has(`id-${2 * capacity + 11 - capacity}`));
      });

      it('removes its temporary file when closed mid-way, and leaves the journal whole', () => {
        const capacity = 3000;
        const step = steps();
        const s = new SeenIds(capacity, dir, undefined, undefined, step.schedule);
        for (const id of ids(0, 2 * capacity + 1)) s.add(id);
        assert.ok(step.run());
        s.close();
        while (step.run());
        assert.equal(fs.existsSync(`${journal()}.tmp`), false);
        assert.deepEqual(journalIds(), ids(0, 2 * capacity + 1));
      });

      it('runs by itself once the event loop turns (the default scheduler)', async () => {
        const capacity = 3000;
        const s = make(capacity, dir);
        for (const id of ids(0, 2 * capacity + 1)) s.add(id);
        await waitUntil(() => !fs.existsSync(`${journal()}.tmp`) && journalIds().length === capacity, 'the compaction to finish');
      });
    });

    it('remembers an id holding a NUL character after a reopen', () => {
      const s = make(10, dir);
      s.add('a\u0000b');
      s.close();
      assert.equal(make(10, dir).has('a\u0000b'), true);
    });
  });
});
