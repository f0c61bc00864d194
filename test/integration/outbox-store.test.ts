import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger, MessageEvent } from '../../src/fastsocket';
import { OutboxStore } from '../../src/fastsocket/outbox-store';
import { JOURNAL_FILE } from '../../src/fastsocket/seen-ids';
import { DelayProxy } from '../support/delay-proxy';
import { ClientProcess, readDelivered, ServerProcess } from '../support/fault-process';
import { tempDir } from '../support/fault-scenarios';
import { startClient, startServer } from '../support/fixtures';
import { isAck2, message1, RawPeer } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { collect, waitUntil } from '../support/wait';

const seqOf = (m: { payload: unknown }): number => (m.payload as { seq: number }).seq;

describe('FastSocketClient and FastSocketServer persistent state across a crash', function () {
  this.timeout(30_000);
  const teardown = useTeardown();

  describe('FastSocketClient outboxPath', () => {
    /**
     * A client process delivers seqs 0-4, then queues 5-14 while the link is held (so none is acknowledged) and is
     * SIGKILLed. Returns the server, its hand-overs so far and the outbox file left behind.
     */
    async function crashWithUnacked(): Promise<{ url: string; messages: MessageEvent[]; outboxPath: string }> {
      const { server, url } = await startServer(teardown, 'tcp');
      const messages = collect<MessageEvent>(server, 'message');
      const proxy = await DelayProxy.start({ target: url });
      teardown.add(() => proxy.close());
      const outboxPath = path.join(tempDir(teardown, 'outbox'), 'outbox.log');
      const { client } = await ClientProcess.start(teardown, { url: proxy.url, outboxPath, clientId: 'veh-crash' });
      await client.sendAcked(0, 5);
      proxy.cut({ mode: 'hold' });
      assert.equal(await client.queue(5, 10), 10);
      await client.kill();
      // Bytes the dead client wrote are still held in the proxy; dropping them is what a crash does to them.
      await proxy.close();
      assert.deepEqual(messages.map(seqOf), [0, 1, 2, 3, 4]);
      return { url, messages, outboxPath };
    }

    it('delivers after a restart, marked resent, every message a SIGKILLed client had not had acknowledged', async () => {
      const { url, messages, outboxPath } = await crashWithUnacked();
      const client = await startClient(teardown, url, { outboxPath, clientId: 'veh-crash' });
      await waitUntil(() => messages.length >= 15, 'the 10 unacknowledged messages to arrive after the restart', 10_000);
      assert.deepEqual(messages.map(seqOf), Array.from({ length: 15 }, (_, i) => i));
      assert.deepEqual(messages.map((m) => m.resent), [...Array(5).fill(false), ...Array(10).fill(true)]);
      await waitUntil(() => client.stats().outbox_messages === 0, 'every resend to be acknowledged');
      assert.equal(client.stats().resent, 10);
      await client.close();
      assert.deepEqual(new OutboxStore(outboxPath).messages(), [], 'acknowledged messages are still in the outbox file');
    });

    it('skips a torn last record of a SIGKILLed client, delivering every whole one and nothing misread', async () => {
      const { url, messages, outboxPath } = await crashWithUnacked();
      const size = fs.statSync(outboxPath).size;
      fs.truncateSync(outboxPath, size - 7);
      const lines: string[] = [];
      const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
      const client = await startClient(teardown, url, { outboxPath, clientId: 'veh-crash', logger });
      await waitUntil(() => messages.length >= 14, 'the 9 whole unacknowledged messages to arrive after the restart', 10_000);
      await waitUntil(() => client.stats().outbox_messages === 0, 'every resend to be acknowledged');
      assert.deepEqual(messages.map(seqOf), Array.from({ length: 14 }, (_, i) => i));
      assert.ok(lines.some((l) => l.includes('skipped 1')), `no warning about the damaged record: ${lines.join(' | ')}`);
    });
  });

  describe('FastSocketServer stateDir journal', () => {
    it('keeps deduplicating the ids before a torn last line, forgets the torn one, and never reads its piece as an id', async () => {
      const dir = tempDir(teardown, 'journal');
      const stateDir = path.join(dir, 'state');
      const deliveredFile = path.join(dir, 'delivered.jsonl');
      const server = await ServerProcess.start(teardown, { options: { stateDir }, deliveredFile });
      const ids = ['journal-a-0001', 'journal-b-0002', 'journal-c-0003'];
      const send = async (list: string[], extra: Record<string, unknown>): Promise<void> => {
        const peer = await RawPeer.connect(server.url);
        teardown.add(() => peer.destroy());
        for (const id of list) peer.sendFrame(message1(id, { id }, extra));
        await Promise.all(list.map((id) => peer.waitForFrame(isAck2(id), `ack 2 of ${id}`)));
        peer.destroy();
      };
      await send(ids, {});
      await server.kill();
      // A crash in the middle of journaling the last id leaves part of its record and no newline.
      const journal = path.join(stateDir, JOURNAL_FILE);
      const text = fs.readFileSync(journal, 'utf8');
      assert.ok(text.endsWith('\n'), 'the journal does not end with a whole record');
      const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
      fs.writeFileSync(journal, text.slice(0, lastStart + Math.ceil((text.length - 1 - lastStart) / 2)));
      await server.restart();
      await send(ids, { resent: true });
      // Whatever piece of the torn record is left must not pass for an id: every prefix of the torn id is new.
      const prefixes = Array.from({ length: ids[2].length - 1 }, (_, i) => ids[2].slice(0, i + 1));
      await send(prefixes, {});
      const run1 = readDelivered(deliveredFile).filter((r) => r.run === 1);
      assert.deepEqual(run1.map((r) => [r.id, r.resent]), [['journal-c-0003', true], ...prefixes.map((id) => [id, false])]);
      assert.equal((await server.stats()).stats.duplicates, 2);
    });
  });
});
