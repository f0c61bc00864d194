import { strict as assert } from 'node:assert';
import { FastSocketServer, type OutboxPolicy, type Scheme } from '../../src/fastsocket';
import { DelayProxy, type CutMode } from '../support/delay-proxy';
import { startClient, startServer } from '../support/fixtures';
import {
  assertCrashWithJournal,
  assertCrashWithoutJournal,
  assertLinkCut,
  crashRestartScenario,
  linkCutScenario,
  offlineFullOutboxScenario,
} from '../support/fault-scenarios';
import { audit, describeAudit } from '../support/fault-stream';
import { useTeardown } from '../support/teardown';
import { waitForEvent, waitUntil } from '../support/wait';

describe('FastSocketClient and FastSocketServer under faults', function () {
  this.timeout(60_000);
  const teardown = useTeardown();

  describe('#send across server crashes (SIGKILL, then restart on the same port)', () => {
    it('loses nothing and hands nothing over twice but a message whose journalling a crash cut short, when the server keeps a stateDir journal (3 crashes in a 50 Hz stream)', async () => {
      assertCrashWithJournal(await crashRestartScenario(teardown, { restarts: 3, stateDir: true }), 3);
    });

    it('loses nothing without a journal, and marks every repeated hand-over resent and possible_duplicate', async () => {
      assertCrashWithoutJournal(await crashRestartScenario(teardown, { restarts: 3, stateDir: false }));
    });
  });

  describe('#send across a link cut (delay proxy)', () => {
    const cases: Array<[Scheme, CutMode]> = [['tcp', 'hold'], ['tcp', 'reset'], ['ws', 'hold'], ['ws', 'reset']];
    for (const [scheme, mode] of cases) {
      it(`loses and duplicates nothing over ${scheme} when the link is cut for 1 s in '${mode}' mode`, async () => {
        assertLinkCut(await linkCutScenario(teardown, { scheme, mode, cutMs: 1_000 }), mode);
      });
    }
  });

  describe('#send while the server is down and the outbox overflows', () => {
    const policies: OutboxPolicy[] = ['drop-oldest', 'drop-newest', 'reject'];
    for (const policy of policies) {
      it(`loses only what '${policy}' reported, counts each, and duplicates nothing after the server restarts`, async () => {
        const r = await offlineFullOutboxScenario(teardown, { policy, outboxMax: 20, overflow: 10 });
        const { outcome, handovers, client } = r;
        const a = audit(outcome, handovers);
        const summary = describeAudit(a, outcome);
        const stats = client.stats();
        assert.equal(outcome.failed.size, 0, summary);
        assert.ok(outcome.dropped.size >= 10, summary);
        assert.deepEqual(a.lost, [], summary);
        assert.deepEqual(a.duplicated, [], summary);
        const delivered = new Set(handovers.map((h) => (h.payload as { seq: number }).seq));
        const droppedDelivered = [...outcome.dropped.keys()].filter((seq) => delivered.has(seq));
        if (policy === 'reject') {
          assert.equal(stats.rejected, outcome.dropped.size, JSON.stringify(stats));
          assert.equal(stats.dropped, 0);
          assert.ok([...outcome.dropped.values()].every((code) => code === 'FS_ERR_OUTBOX_FULL'));
        } else {
          assert.equal(stats.dropped, outcome.dropped.size, JSON.stringify(stats));
          assert.equal(r.dropEvents, outcome.dropped.size);
          assert.ok([...outcome.dropped.values()].every((code) => code === 'FS_ERR_DROPPED'));
        }
        if (policy === 'drop-oldest') {
          // A dropped message may still have arrived: drop-oldest evicts messages written before the crash, whose
          // ack 2 may have been lost with it, so "dropped" means "no longer retried", not "never delivered". Right
          // after the reconnect, while the outbox is still full of resends on the link, it drops the new message
          // instead: that one never arrives.
          const kept = [...Array(outcome.sent).keys()].filter((seq) => !outcome.dropped.has(seq) && seq >= r.sentBeforeKill);
          const oldestKept = Math.min(...kept);
          const newerDropped = [...outcome.dropped.keys()].filter((seq) => seq > oldestKept);
          assert.deepEqual(newerDropped.filter((seq) => delivered.has(seq)), [], 'a message dropped as newer than one kept reached the application');
        } else {
          assert.deepEqual(droppedDelivered, [], 'a refused message reached the application');
          const firstRefused = Math.min(...outcome.dropped.keys());
          assert.ok(firstRefused >= r.sentBeforeKill, 'a send was refused before the server went down');
        }
      });
    }
  });

  describe('#send while a proxy in front of a stopped server keeps closing connections', () => {
    // Regression test for FS-6-ATTEMPTS: the client counts every connection that closes with a message unacknowledged as a refusal
    // of its oldest message and drops it after maxAttempts (10). A TCP proxy, tunnel or load balancer in front of a
    // server that is down accepts and closes at once, so a plain outage drops messages although the outbox has
    // room and the server never saw them.
    it('keeps a message the server never saw, however many proxied connections closed before it came back', async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const proxy = await DelayProxy.start({ target: url });
      teardown.add(() => proxy.close());
      const client = await startClient(teardown, proxy.url);
      await client.connect();
      await server.close();
      let disconnects = 0;
      client.on('disconnect', () => disconnects++);
      const sent = client.send({ seq: 0 });
      sent.catch(() => undefined);
      await waitUntil(() => disconnects >= 15, '15 proxied connections to close', 10_000);
      assert.equal(client.stats().dropped, 0, 'the message was dropped while the server was merely down');
      const back = new FastSocketServer({ url });
      teardown.add(() => back.close());
      const arrived = waitForEvent<[{ payload: unknown }]>(back, 'message', { ms: 10_000 });
      await back.listen();
      assert.deepEqual((await arrived)[0].payload, { seq: 0 });
      await sent;
    });
  });
});
