import { strict as assert } from 'node:assert';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { FrameConnection } from '../../src/fastsocket/transport';

/**
 * FrameConnection's write scheduling, driven through a transport that records each write it is handed instead of
 * sending it. `read` stands for one chunk arriving: the frames it carries are handed over, and whatever their
 * handlers queue is what the server writes back.
 */
class RecordingConnection extends FrameConnection {
  readonly peer = '127.0.0.1:1';
  readonly writes: string[][] = [];

  read(handle: () => void): void {
    this.beginRead();
    try {
      handle();
    } finally {
      this.endRead();
    }
  }

  /** A read whose end the transport never reports. */
  readWithoutEnd(): void {
    this.beginRead();
  }

  /** Calls to the transport to stop and start reading, in order. */
  readonly reading: Array<'stop' | 'start'> = [];

  /** A read of `bytes` bytes, as a transport reports it: handed over, then a large one lets other connections read. */
  readBytes(bytes: number): void {
    this.read(() => undefined);
    this.yieldAfterRead(bytes);
  }

  protected stopReading(): void {
    this.reading.push('stop');
  }
  protected startReading(): void {
    this.reading.push('start');
  }
  protected transportBuffered(): number {
    return 0;
  }
  protected writeFrames(frames: string[]): boolean {
    // The array is the connection's, reused once this returns.
    this.writes.push([...frames]);
    return true;
  }
  protected closeTransport(): void {}
  protected destroyTransport(): void {}
}

describe('FrameConnection', () => {
  describe("#write, replyFlush 'read' (server side)", () => {
    it('writes the replies queued during a read in one write when that read ends, not a loop turn later', () => {
      const conn = new RecordingConnection('read');
      conn.read(() => {
        conn.write('{"a":1}');
        conn.write('{"a":2}');
        conn.write('{"a":3}');
        assert.equal(conn.writes.length, 0, 'nothing written while the read is still being handled');
      });
      assert.deepEqual(conn.writes, [['{"a":1}', '{"a":2}', '{"a":3}']]);
    });

    it('builds a lazy frame at the write, after everything the read handed over', () => {
      const conn = new RecordingConnection('read');
      const order: string[] = [];
      conn.read(() => {
        conn.writeLazy(() => {
          order.push('built');
          return '{"ack":1}';
        }, 9);
        order.push('handler done');
      });
      assert.deepEqual(order, ['handler done', 'built']);
      assert.deepEqual(conn.writes, [['{"ack":1}']]);
    });

    it('writes what is queued outside a read at the end of the turn', async () => {
      const conn = new RecordingConnection('read');
      conn.write('{"hello":1}');
      conn.write('{"hello":2}');
      assert.equal(conn.writes.length, 0);
      await nextTurn();
      assert.deepEqual(conn.writes, [['{"hello":1}', '{"hello":2}']]);
    });

    it('writes a frame queued before a read once, in the write at the end of that read', async () => {
      const conn = new RecordingConnection('read');
      conn.write('{"early":1}');
      conn.read(() => conn.write('{"ack":1}'));
      assert.deepEqual(conn.writes, [['{"early":1}', '{"ack":1}']]);
      await nextTurn();
      assert.equal(conn.writes.length, 1);
    });

    it('still writes later frames when a read handler throws', async () => {
      const conn = new RecordingConnection('read');
      assert.throws(() =>
        conn.read(() => {
          conn.write('{"ack":1}');
          throw new Error('handler failed');
        }),
      );
      assert.deepEqual(conn.writes, [['{"ack":1}']]);
      conn.write('{"later":1}');
      await nextTurn();
      assert.deepEqual(conn.writes, [['{"ack":1}'], ['{"later":1}']]);
    });

    it('does not hold the replies of a read whose end is never reported past the next read', () => {
      const conn = new RecordingConnection('read');
      conn.readWithoutEnd();
      conn.write('{"ack":1}');
      conn.read(() => conn.write('{"ack":2}'));
      assert.deepEqual(conn.writes, [['{"ack":1}'], ['{"ack":2}']]);
    });

    it('writes nothing once closed', async () => {
      const conn = new RecordingConnection('read');
      conn.destroy();
      conn.read(() => conn.write('{"ack":1}'));
      await nextTurn();
      assert.deepEqual(conn.writes, []);
    });
  });

  describe("#write, replyFlush 'settled' (client side)", () => {
    it('holds an ack 3 queued by a read until the promise callbacks the read set off have run, however deep, and writes it with theirs', async () => {
      const conn = new RecordingConnection('settled');
      let resolveSend!: () => void;
      const sent = new Promise<void>((resolve) => (resolveSend = resolve));
      // The application awaits its send() through two async layers and one more await, then sends the next message.
      const layer = async () => {
        await sent;
      };
      void (async () => {
        await layer();
        await null;
        conn.write('{"message":2}');
      })();
      // Scheduled before the read: it runs at the end of this turn, when the old end-of-turn flush would happen.
      const writesAtTurnEnd = new Promise<number>((resolve) => setImmediate(() => resolve(conn.writes.length)));
      conn.read(() => {
        conn.write('{"ack3":1}');
        resolveSend();
      });
      assert.equal(conn.writes.length, 0, 'not written at the end of the read');
      assert.equal(await writesAtTurnEnd, 1, 'written before the end of the turn');
      assert.deepEqual(conn.writes, [['{"ack3":1}', '{"message":2}']]);
    });

    it('writes what is queued outside a read at the end of the turn, in one write', async () => {
      const conn = new RecordingConnection('settled');
      conn.write('{"message":1}');
      await Promise.resolve();
      conn.write('{"message":2}');
      assert.equal(conn.writes.length, 0);
      await nextTurn();
      assert.deepEqual(conn.writes, [['{"message":1}', '{"message":2}']]);
    });
  });

  describe('#afterRead', () => {
    it('runs deferred work once the replies of the read have been written, and at once outside a read', () => {
      const conn = new RecordingConnection('read');
      const seen: number[] = [];
      conn.read(() => {
        conn.afterRead(() => seen.push(conn.writes.length));
        conn.write('{"ack2":1}');
        conn.afterRead(() => seen.push(conn.writes.length));
      });
      assert.deepEqual(seen, [1, 1], 'both ran, after the one write');
      conn.afterRead(() => seen.push(-1));
      assert.deepEqual(seen, [1, 1, -1], 'outside a read: at once');
    });

    it('emits an error for a callback that throws and still runs the others', () => {
      const conn = new RecordingConnection('read');
      const errors: Error[] = [];
      conn.on('error', (err) => errors.push(err));
      let ran = false;
      conn.read(() => {
        conn.afterRead(() => {
          throw new Error('record failed');
        });
        conn.afterRead(() => (ran = true));
      });
      assert.equal(ran, true);
      assert.deepEqual(errors.map((e) => e.message), ['record failed']);
    });
  });

  describe('#frameReadAtNs', () => {
    it('stamps every frame of a read with the time the read began, before any of them was handled', () => {
      const conn = new RecordingConnection('read');
      let now = 1_000;
      conn.readClock = () => now;
      const seen: number[] = [];
      conn.read(() => {
        now += 70; // decoding the first frame
        seen.push(conn.frameReadAtNs());
        now += 70; // and the second
        seen.push(conn.frameReadAtNs());
      });
      assert.deepEqual(seen, [1_000, 1_000]);
      now = 5_000;
      assert.equal(conn.frameReadAtNs(), 5_000, 'outside a read: now');
    });
  });

  describe('reading turns between connections', () => {
    it("stops a server connection's reading for one turn of the event loop after a read of 16 KiB or more, not after a smaller one", async () => {
      const conn = new RecordingConnection('read');
      conn.readBytes(16 * 1024 - 1);
      assert.deepEqual(conn.reading, []);
      conn.readBytes(64 * 1024);
      assert.deepEqual(conn.reading, ['stop']);
      await nextTurn();
      assert.deepEqual(conn.reading, ['stop', 'start']);
    });

    it("does not stop a server connection while it is its server's only one: the turn is nobody else's", () => {
      const conn = new RecordingConnection('read');
      let others = false;
      conn.othersOpen = () => others;
      conn.readBytes(64 * 1024);
      assert.deepEqual(conn.reading, []);
      others = true;
      conn.readBytes(64 * 1024);
      assert.deepEqual(conn.reading, ['stop']);
    });

    it('does not stop a client connection (replyFlush settled): it reads from one server only', () => {
      const conn = new RecordingConnection('settled');
      conn.readBytes(64 * 1024);
      assert.deepEqual(conn.reading, []);
    });

    it('leaves a connection paused for backpressure during the turn paused after it, until resumeReading()', async () => {
      const conn = new RecordingConnection('read');
      conn.readBytes(64 * 1024);
      conn.pauseReading();
      await nextTurn();
      assert.deepEqual(conn.reading, ['stop', 'stop']);
      conn.resumeReading();
      assert.deepEqual(conn.reading, ['stop', 'stop', 'start']);
    });

    it('starts reading again after the turn when the connection was closed during it, to notice the peer closing its side', async () => {
      const conn = new RecordingConnection('read');
      conn.readBytes(64 * 1024);
      conn.close();
      await nextTurn();
      assert.deepEqual(conn.reading, ['stop', 'start']);
    });

    it('starts reading once, after the turn, when resumeReading() comes during it', async () => {
      const conn = new RecordingConnection('read');
      conn.readBytes(64 * 1024);
      conn.pauseReading();
      conn.resumeReading();
      assert.deepEqual(conn.reading, ['stop', 'stop']);
      await nextTurn();
      assert.deepEqual(conn.reading, ['stop', 'stop', 'start']);
    });
  });
});

