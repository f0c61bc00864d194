import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutboxStore, type StoredMessage } from '../../src/fastsocket/outbox-store';

const msg = (id: string, json = `{"v":"${id}"}`, queuedWallNs = 1_700_000_000_000_000_000): StoredMessage => ({ id, json, queuedWallNs });

describe('OutboxStore', () => {
  let dir: string;
  let file: string;
  const open: OutboxStore[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-outbox-'));
    file = path.join(dir, 'outbox.log');
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function make(f = file): OutboxStore {
    const s = new OutboxStore(f);
    open.push(s);
    return s;
  }

  describe('#messages', () => {
    it('lists what was added and not done, oldest first', () => {
      const s = make();
      for (const id of ['a', 'b', 'c']) s.add(msg(id));
      s.done('b');
      assert.deepEqual(s.messages().map((m) => m.id), ['a', 'c']);
    });
  });

  describe('#done', () => {
    it('ignores an id it does not hold', () => {
      const s = make();
      s.add(msg('a'));
      s.done('nobody');
      s.done('a');
      s.done('a');
      assert.deepEqual(s.messages(), []);
    });
  });

  describe('persistence', () => {
    it('survives a crash (no close) with every live message, payload and queue time intact, in order', () => {
      const s = make();
      const tricky = msg('id-2', JSON.stringify({ s: 'line\nbreak', u: 'é😀', n: null }), 1_700_000_000_123_456_789);
      s.add(msg('id-1'));
      s.add(tricky);
      s.add(msg('id-3'));
      s.done('id-1');
      const again = make();
      assert.deepEqual(again.messages(), [tricky, msg('id-3')]);
      assert.equal(again.skippedRecords, 0);
    });

    it('creates missing folders', () => {
      make(path.join(dir, 'a', 'b', 'outbox.log')).add(msg('x'));
      assert.deepEqual(make(path.join(dir, 'a', 'b', 'outbox.log')).messages().map((m) => m.id), ['x']);
    });

    it('skips a torn last record and counts it, never misreading it', () => {
      const s = make();
      s.add(msg('a'));
      s.add(msg('b'));
      s.close();
      const text = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, text.slice(0, text.length - 7)); // cut inside the last record
      const again = make();
      assert.deepEqual(again.messages().map((m) => m.id), ['a']);
      assert.equal(again.skippedRecords, 1);
    });

    it('skips a record damaged in the middle and keeps the others', () => {
      const s = make();
      for (const id of ['a', 'b', 'c']) s.add(msg(id));
      s.close();
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines[1] = lines[1]!.replace('"b"', '"B"');
      fs.writeFileSync(file, lines.join('\n'));
      const again = make();
      assert.deepEqual(again.messages().map((m) => m.id), ['a', 'c']);
      assert.equal(again.skippedRecords, 1);
    });

    it('brings a message back when its done record was torn (at least once, never lost)', () => {
      const s = make();
      s.add(msg('a'));
      s.done('a');
      s.close();
      const text = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, text.slice(0, text.length - 3));
      assert.deepEqual(make().messages().map((m) => m.id), ['a']);
    });

    it('appends after a reopen that dropped a torn record without gluing the new record to it', () => {
      const s = make();
      s.add(msg('a'));
      s.close();
      fs.appendFileSync(file, '0badc0de {"m":"tor');
      const again = make();
      again.add(msg('b'));
      again.close();
      const third = make();
      assert.deepEqual(third.messages().map((m) => m.id), ['a', 'b']);
    });

    it('skips zero bytes left by a crash', () => {
      const s = make();
      s.add(msg('a'));
      s.close();
      fs.appendFileSync(file, Buffer.alloc(64));
      assert.deepEqual(make().messages().map((m) => m.id), ['a']);
    });

    it('compacts the file once done records dominate it, keeping the live messages', () => {
      const s = make();
      s.add(msg('keep'));
      for (let i = 0; i < 3_000; i++) {
        s.add(msg(`m-${i}`));
        s.done(`m-${i}`);
      }
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
      assert.ok(lines < 2_500, `the file holds ${lines} records for 1 live message`);
      assert.deepEqual(make().messages().map((m) => m.id), ['keep']);
    });

    it('reopens to exactly the live messages after any sequence of adds and dones', () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 20 })), { maxLength: 60 }), (ops) => {
          fs.rmSync(file, { force: true });
          const s = new OutboxStore(file);
          const live = new Map<string, StoredMessage>();
          for (const [isAdd, n] of ops) {
            const id = `id-${n}`;
            if (isAdd && !live.has(id)) {
              s.add(msg(id));
              live.set(id, msg(id));
            } else if (!isAdd) {
              s.done(id);
              live.delete(id);
            }
          }
          const again = new OutboxStore(file);
          again.close();
          s.close();
          assert.deepEqual(again.messages(), [...live.values()]);
        }),
        { numRuns: 200 },
      );
    });
  });
});
