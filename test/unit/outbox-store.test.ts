import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { OutboxStore, type StoredMessage } from '../../src/fastsocket/outbox-store';
import { fillDisk } from '../support/full-disk';

type Op = { add: StoredMessage } | { done: number };

/** Ops as a client makes them: adds of fresh ids, and dones of an id by its index among the adds so far. */
const opsArb = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.record({ payload: fc.jsonValue({ maxDepth: 3 }), q: fc.nat() }).map((r) => ({ kind: 'add' as const, ...r })) },
      { weight: 2, arbitrary: fc.nat().map((n) => ({ kind: 'done' as const, n })) },
    ),
    { maxLength: 40 },
  )
  .map((raw) => {
    const ops: Op[] = [];
    let adds = 0;
    for (const r of raw) {
      if (r.kind === 'add') ops.push({ add: { id: `id-${adds++}`, json: JSON.stringify(r.payload) ?? 'null', queuedWallNs: r.q } });
      else if (adds > 0) ops.push({ done: r.n % adds });
    }
    return ops;
  });

/** Applies ops to a store and returns the ops that wrote a record, in file order (a done of a non-live id writes none). */
function apply(store: OutboxStore, ops: Op[]): Op[] {
  const live = new Set<string>();
  const written: Op[] = [];
  for (const op of ops) {
    if ('add' in op) {
      store.add(op.add);
      live.add(op.add.id);
      written.push(op);
    } else {
      const id = `id-${op.done}`;
      store.done(id);
      if (live.delete(id)) written.push(op);
    }
  }
  return written;
}

/** The live messages after the first `k` written records, oldest first: what a reload must find. */
function model(written: Op[], k: number): StoredMessage[] {
  const live = new Map<string, StoredMessage>();
  for (const op of written.slice(0, k)) {
    if ('add' in op) live.set(op.add.id, op.add);
    else live.delete(`id-${op.done}`);
  }
  return [...live.values()];
}

/** [start, end) of each record's text (its newline excluded), read from the file as the store wrote it. */
function recordSpans(bytes: Buffer): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let start = 0;
  for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
    spans.push([start, nl]);
    start = nl + 1;
  }
  assert.equal(start, bytes.length, 'the store left an unterminated record behind');
  return spans;
}

describe('OutboxStore', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-outbox-'));
    file = path.join(dir, 'sub', 'outbox.log');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function reopen(): OutboxStore {
    const s = new OutboxStore(file);
    s.close();
    return s;
  }

  /** Runs ops on a fresh store, closes it, and returns what was written. */
  function writeOps(ops: Op[]): { written: Op[]; bytes: Buffer } {
    fs.rmSync(file, { force: true });
    const store = new OutboxStore(file);
    const written = apply(store, ops);
    store.close();
    return { written, bytes: fs.readFileSync(file) };
  }

  describe('#constructor', () => {
    it('starts empty, creating the folder, when the file does not exist', () => {
      const s = reopen();
      assert.deepEqual(s.messages(), []);
      assert.equal(s.skippedRecords, 0);
      assert.ok(fs.existsSync(file));
    });

    it('loads exactly the messages added and not done, oldest first, with payload and queue time intact', () => {
      fc.assert(
        fc.property(opsArb, (ops) => {
          const { written } = writeOps(ops);
          const again = reopen();
          assert.deepEqual(again.messages(), model(written, written.length));
          assert.equal(again.skippedRecords, 0);
        }),
        { numRuns: 150 },
      );
    });

    it('skips a torn last record wherever the crash cut it, and never loads a message that was not written whole', () => {
      fc.assert(
        fc.property(opsArb, fc.double({ min: 0, max: 1, noNaN: true }), (ops, where) => {
          const { written, bytes } = writeOps(ops);
          const cut = Math.floor(where * bytes.length);
          fs.writeFileSync(file, bytes.subarray(0, cut));
          const spans = recordSpans(bytes);
          // A record whose text is all there loads even if its newline is missing; one cut inside is skipped.
          const whole = spans.filter(([, end]) => end <= cut).length;
          const torn = spans.some(([start, end]) => start < cut && cut < end);
          const again = reopen();
          assert.deepEqual(again.messages(), model(written, whole));
          assert.equal(again.skippedRecords, torn ? 1 : 0);
        }),
        { numRuns: 300 },
      );
    });

    it('skips a torn last record at every byte of it', () => {
      const store = new OutboxStore(file);
      store.add({ id: 'a', json: '{"seq":0,"text":"héllo ✓ 😀"}', queuedWallNs: 1 });
      store.add({ id: 'b', json: '[1,2,3]', queuedWallNs: 2 });
      store.done('a');
      store.add({ id: 'c', json: '"the last one, with ünïcödé"', queuedWallNs: 3 });
      store.close();
      const bytes = fs.readFileSync(file);
      const spans = recordSpans(bytes);
      const [lastStart, lastEnd] = spans[spans.length - 1];
      for (let cut = lastStart; cut <= bytes.length; cut++) {
        fs.writeFileSync(file, bytes.subarray(0, cut));
        const ids = reopen().messages().map((m) => m.id);
        assert.deepEqual(ids, cut >= lastEnd ? ['b', 'c'] : ['b'], `cut at byte ${cut}`);
      }
    });

    it('loads a file whose only record was torn at any byte of it, as a crash during the first write leaves it', () => {
      const store = new OutboxStore(file);
      store.add({ id: 'a', json: '{"text":"héllo"}', queuedWallNs: 1 });
      store.close();
      const bytes = fs.readFileSync(file);
      // Up to the last byte of the record without its newline, which would be a whole record.
      for (let cut = 1; cut < bytes.length - 1; cut++) {
        fs.writeFileSync(file, bytes.subarray(0, cut));
        assert.deepEqual(reopen().messages(), [], `cut at byte ${cut}`);
      }
    });

    it('refuses a file that is not an outbox, leaving it as it was, where opening it would have emptied it', () => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      for (const content of ['url: tcp://10.0.0.5:8888\nclient_id: vehicle_1\n', 'one line without a newline', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])]) {
        fs.writeFileSync(file, content);
        assert.throws(() => new OutboxStore(file), (err: NodeJS.ErrnoException) => err.code === 'EFTYPE' && err.message.includes(file));
        assert.deepEqual(fs.readFileSync(file), Buffer.from(content));
      }
    });

    it('skips a damaged record in the middle and counts it, keeping every other record', () => {
      fc.assert(
        fc.property(opsArb.filter((ops) => ops.length >= 2), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (ops, r, o, xor) => {
          const { written, bytes } = writeOps(ops);
          const spans = recordSpans(bytes);
          const victim = r % spans.length;
          const [start, end] = spans[victim];
          const at = start + (o % (end - start));
          const damaged = Buffer.from(bytes);
          damaged[at] ^= xor;
          fc.pre(damaged[at] !== 0x0a);
          fs.writeFileSync(file, damaged);
          const again = reopen();
          assert.equal(again.skippedRecords, 1);
          assert.deepEqual(again.messages(), model(written.filter((_, i) => i !== victim), written.length - 1));
        }),
        { numRuns: 150 },
      );
    });

    it('appends on a fresh line after loading a torn file, so later records read back whole', () => {
      const s = new OutboxStore(file);
      s.add({ id: 'a', json: '1', queuedWallNs: 1 });
      s.add({ id: 'b', json: '2', queuedWallNs: 2 });
      s.close();
      fs.truncateSync(file, fs.statSync(file).size - 5);
      const after = new OutboxStore(file);
      assert.equal(after.skippedRecords, 1);
      after.add({ id: 'c', json: '3', queuedWallNs: 3 });
      after.close();
      const again = reopen();
      assert.deepEqual(again.messages().map((m) => m.id), ['a', 'c']);
      assert.equal(again.skippedRecords, 0);
    });
  });

  describe('#done', () => {
    it('compacts the file once done records dominate it, keeping exactly the live messages', () => {
      const s = new OutboxStore(file);
      for (let i = 0; i < 3000; i++) s.add({ id: `id-${i}`, json: `{"seq":${i}}`, queuedWallNs: i });
      for (let i = 0; i < 2990; i++) s.done(`id-${i}`);
      s.close();
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
      assert.ok(lines.length < 3000, `the file still holds ${lines.length} records for 10 live messages`);
      assert.deepEqual(reopen().messages().map((m) => m.id), Array.from({ length: 10 }, (_, i) => `id-${2990 + i}`));
    });

    it('writes nothing for an id that is not live', () => {
      const s = new OutboxStore(file);
      s.add({ id: 'a', json: '1', queuedWallNs: 1 });
      const size = fs.statSync(file).size;
      s.done('never-added');
      s.done('a');
      const afterDone = fs.statSync(file).size;
      s.done('a');
      s.close();
      assert.ok(afterDone > size);
      assert.equal(fs.statSync(file).size, afterDone);
    });
  });

  describe('a file that cannot be written', () => {
    const message = (i: number): StoredMessage => ({ id: `id-${i}`, json: `{"seq":${i}}`, queuedWallNs: i });

    it('throws nothing on a full disk, reports it once, and rewrites the file from memory once it can', () => {
      const errors: string[] = [];
      let now = 0;
      const s = new OutboxStore(file, (err) => errors.push((err as NodeJS.ErrnoException).code ?? err.message), () => now);
      s.add(message(0));
      s.add(message(1));
      // The next record is cut after 10 bytes.
      const disk = fillDisk(10);
      try {
        s.add(message(2));
        s.done('id-0');
        s.add(message(3));
      } finally {
        disk.restore();
      }
      assert.deepEqual(errors, ['ENOSPC'], 'one failure reported; the records after it wait for the retry');
      now += 1000;
      s.add(message(4));
      // No close(): a crash right after this finds the live messages, and nothing else.
      const again = reopen();
      assert.deepEqual(again.messages().map((m) => m.id), ['id-1', 'id-2', 'id-3', 'id-4']);
      assert.equal(again.skippedRecords, 0, 'the torn record was rewritten away');
      s.close();
    });

    it('opens on a full disk, keeping the file as it was, and rewrites it from memory once it can', () => {
      const first = new OutboxStore(file);
      first.add(message(0));
      first.add(message(1));
      first.done('id-0');
      first.close();
      const before = fs.readFileSync(file);
      const errors: string[] = [];
      let now = 0;
      const disk = fillDisk(0);
      let s: OutboxStore;
      try {
        s = new OutboxStore(file, (err) => errors.push((err as NodeJS.ErrnoException).code ?? err.message), () => now);
      } finally {
        disk.restore();
      }
      assert.deepEqual(errors, ['ENOSPC']);
      assert.deepEqual(s.messages().map((m) => m.id), ['id-1']);
      assert.deepEqual(fs.readFileSync(file), before, 'the file a failed rewrite left is the one it found');
      assert.deepEqual(fs.readdirSync(path.dirname(file)), [path.basename(file)], 'no temporary file left behind');
      now += 1000;
      s.add(message(2));
      assert.deepEqual(reopen().messages().map((m) => m.id), ['id-1', 'id-2']);
      s.close();
    });

    it('keeps its file open and whole when a compaction cannot write its temporary file, and leaves other files alone', () => {
      const errors: Error[] = [];
      let now = 0;
      const s = new OutboxStore(file, (err) => errors.push(err), () => now);
      fs.mkdirSync(`${file}.tmp`);
      for (let i = 0; i < 1002; i++) s.add(message(i));
      for (let i = 0; i < 1002; i++) s.done(`id-${i}`);
      assert.equal(errors.length, 1, 'the compaction that the done records started failed, and said so');
      // A file opened now takes the lowest free descriptor, which a store closed before its compaction gave up.
      const other = path.join(dir, 'other');
      const fd = fs.openSync(other, 'w');
      try {
        fs.rmdirSync(`${file}.tmp`);
        now += 1000;
        s.add(message(5000));
        s.close();
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(fs.readFileSync(other, 'utf8'), '', 'no record was written into a file that is not the outbox');
      assert.deepEqual(reopen().messages().map((m) => m.id), ['id-5000']);
    });
  });
});
