/**
 * The server SIGKILLed and restarted on the same port while a client streams numbered messages: with a stateDir
 * journal every message reaches the application exactly once; without one none is lost and every repeat is marked.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SendResult } from '../../src/fastsocket';
import type { DeliveredRecord } from '../support/fault-server-child';
import { readDelivered, ServerProcess } from '../support/fault-process';
import { startClient } from '../support/fixtures';
import { useTeardown } from '../support/teardown';
import { waitUntil } from '../support/wait';

const MESSAGES = 600;
const RESTARTS = 3;

interface Run {
  handed: DeliveredRecord[];
  results: SendResult[];
  resentByClient: number;
}

describe('FastSocketServer restart', () => {
  const teardown = useTeardown();

  /** A scratch folder for one test: the hand-over record (the application's truth) and the stateDir. */
  function scratch(): { deliveredFile: string; stateDir: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-restart-'));
    teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
    return { deliveredFile: path.join(dir, 'delivered.jsonl'), stateDir: path.join(dir, 'state') };
  }

  /**
   * Streams MESSAGES numbered payloads (5 every 5 ms) and SIGKILLs the server each time another quarter of them
   * has been handed over, starting it again on the same port with the same options. The child records each
   * hand-over with a synchronous file write inside its 'message' handler, before ack 2 can leave, so the record
   * survives the SIGKILL (a line on a stdout pipe would not: Node writes pipes asynchronously on POSIX).
   */
  async function streamThroughRestarts(withState: boolean): Promise<Run> {
    const { deliveredFile, stateDir } = scratch();
    const server = await ServerProcess.start(teardown, { options: withState ? { stateDir } : {}, deliveredFile });
    const client = await startClient(teardown, server.url, { reconnectMinMs: 10, reconnectMaxMs: 50 });

    const sends: Array<Promise<SendResult>> = [];
    const producer = setInterval(() => {
      for (let k = 0; k < 5 && sends.length < MESSAGES; k++) sends.push(client.send({ seq: sends.length, pad: 'p'.repeat(200) }));
      if (sends.length >= MESSAGES) clearInterval(producer);
    }, 5);
    teardown.add(() => clearInterval(producer));

    for (let r = 1; r <= RESTARTS; r++) {
      const target = Math.floor((r * MESSAGES) / (RESTARTS + 1));
      await waitUntil(() => readDelivered(deliveredFile).length >= target, `${target} messages handed over before restart ${r}`, 10_000);
      // The crash comes with a message in flight: the server is frozen first, and one more message is written to it
      // before the SIGKILL, so it goes unacknowledged and must be resent. A SIGKILL alone could land after the last
      // ack 2 of a burst had left, and a run whose three crashes all did resent nothing (seen once in CI).
      server.freeze();
      if (sends.length < MESSAGES) {
        const written = client.stats().sent;
        sends.push(client.send({ seq: sends.length, pad: 'p'.repeat(200) }));
        await waitUntil(() => client.stats().sent > written, `a message written to the frozen server before restart ${r}`);
      }
      await server.kill();
      await server.restart();
    }
    // Promise.all takes the array as it is: once the last restart is over, the producer may still be adding sends
    // (it took 580 of 600 once, so the run ended early and the check below failed).
    await waitUntil(() => sends.length >= MESSAGES, 'the producer to queue every message', 10_000);
    const results = await Promise.all(sends);
    assert.equal(sends.length, MESSAGES, 'the producer finished');
    await server.kill();
    return { handed: readDelivered(deliveredFile), results, resentByClient: client.stats().resent };
  }

  const seqOf = (m: DeliveredRecord): number => (m.payload as { seq: number }).seq;

  function assertNoneLost(run: Run): void {
    const seen = new Set(run.handed.map(seqOf));
    const missing = Array.from({ length: MESSAGES }, (_, i) => i).filter((i) => !seen.has(i));
    assert.deepEqual(missing, [], 'every message reached the application');
    assert.equal(run.results.length, MESSAGES);
  }

  it('hands every message over across SIGKILLs with a stateDir, repeating at most one per crash and only marked', async () => {
    const run = await streamThroughRestarts(true);
    assertNoneLost(run);
    // Exactly once is out of reach when the kill can land between the application's handling and the journal
    // write (no shared transaction); what is promised is no loss, and a repeat only from that window, marked.
    const seen = new Set<number>();
    const repeats: DeliveredRecord[] = [];
    for (const m of run.handed) {
      if (seen.has(seqOf(m))) repeats.push(m);
      seen.add(seqOf(m));
    }
    assert.ok(repeats.length <= RESTARTS, `${repeats.length} messages handed over twice in ${RESTARTS} crashes`);
    assert.ok(repeats.every((m) => m.possible_duplicate), 'a repeat is marked as a possible duplicate');
    assert.ok(run.resentByClient > 0, 'the restarts really did interrupt the stream (the client resent something)');
  });

  for (const withState of [true, false]) {
    it(`hands over again a message whose hand-over a crash interrupted (${withState ? 'with' : 'without'} a stateDir)`, async () => {
      const { deliveredFile, stateDir } = scratch();
      const server = await ServerProcess.start(teardown, { options: withState ? { stateDir } : {}, deliveredFile, crashOnMessage: 5 });
      const client = await startClient(teardown, server.url, { reconnectMinMs: 10, reconnectMaxMs: 50 });
      const sends = Array.from({ length: 10 }, (_, seq) => client.send({ seq }));
      await server.died();
      assert.equal(readDelivered(deliveredFile).length, 4, 'the fifth hand-over was interrupted');

      await server.restart();
      await Promise.all(sends);
      await server.kill();
      const handed = readDelivered(deliveredFile);
      const seqs = handed.map(seqOf).sort((a, b) => a - b);
      assert.deepEqual([...new Set(seqs)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every message reached the application, the interrupted one included');
      if (withState) assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'and only once');
    });
  }

  it('hands each message over once across SIGKILLs that come right after a compaction of the journal', async () => {
    const { deliveredFile, stateDir } = scratch();
    // A journal of 40 ids is compacted every 41 to 81 messages.
    const server = await ServerProcess.start(teardown, { options: { stateDir, dedupCapacity: 40 }, deliveredFile, crashAfterCompaction: true });
    const client = await startClient(teardown, server.url, { reconnectMinMs: 10, reconnectMaxMs: 50 });
    let finished = false;
    // Five at a time, in one write: the message after the one whose id started a compaction comes in the same read,
    // so the crash lands before that one's ack 2 has left, and its resend must be known from the new journal. At most
    // five in flight, so that what a resend can repeat is always among the newest 40 ids.
    const sending = (async () => {
      for (let seq = 0; seq < 300; seq += 5) await Promise.all([0, 1, 2, 3, 4].map((k) => client.send({ seq: seq + k })));
      finished = true;
    })();
    let crashes = 0;
    while (!finished) {
      await waitUntil(() => finished || !server.alive, 'the messages to be sent or the server to crash', 20_000);
      if (finished) break;
      crashes++;
      await server.restart();
    }
    await sending;
    await server.kill();
    const seqs = readDelivered(deliveredFile).map(seqOf).sort((a, b) => a - b);
    assert.ok(crashes >= 3, `${crashes} crashes after a compaction`);
    assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i), 'every message handed over, and once');
  });

  it('loses no message across SIGKILLs without a stateDir, and marks every repeat resent', async () => {
    const run = await streamThroughRestarts(false);
    assertNoneLost(run);
    const firstSeen = new Set<number>();
    let repeats = 0;
    for (const m of run.handed) {
      const seq = seqOf(m);
      if (firstSeen.has(seq)) {
        repeats++;
        assert.equal(m.resent, true, `repeat of message ${seq} is marked resent`);
        assert.equal(m.possible_duplicate, true, `repeat of message ${seq} is marked as a possible duplicate`);
      }
      firstSeen.add(seq);
    }
    assert.ok(run.resentByClient > 0, 'the restarts really did interrupt the stream (the client resent something)');
    assert.ok(repeats <= run.resentByClient, 'a repeat can only come from a resend');
  });
});
