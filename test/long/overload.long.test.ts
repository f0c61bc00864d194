/**
 * Sustained load above the uplink's rate, then the link recovers: a 10 Hz camera of 150 KB (12 Mbit/s) and a 100 Hz
 * IMU through a 4 Mbit/s, 40 ms link (test/support/delay-proxy.ts) for 30 s, then 100 Mbit/s for 10 s. Runs only
 * under `npm run test:long` (FASTSOCKET_LONG=1): about 45 s.
 */
import { strict as assert } from 'node:assert';
import { type FastSocketError } from '../../src/fastsocket';
import { EstimatorLink, median, percentileOf, type EstimatorSample } from '../support/estimator-harness';
import { useTeardown } from '../support/teardown';
import { waitUntil } from '../support/wait';

const LONG = process.env.FASTSOCKET_LONG === '1';
const UP_BPS = 4_000_000;
const DELAY_MS = 40;
const OUTBOX_BYTES = 2_000_000;
const OVERLOAD_S = 30;
const RECOVERED_S = 10;
const MS = 1e6;

type Topic = 'cam' | 'imu';
interface Tagged {
  topic: Topic;
  seq: number;
}

(LONG ? describe : describe.skip)('FastSocketClient over an uplink slower than what is sent (FASTSOCKET_LONG=1)', function () {
  this.timeout(120_000);
  const teardown = useTeardown();

  it('bounds the delay by the outbox, drops only what it never sent, keeps the records right, and drains once the link recovers', async () => {
    const link = await EstimatorLink.start({
      scheme: 'tcp',
      up: { delayMs: DELAY_MS, bandwidthBps: UP_BPS },
      down: { delayMs: DELAY_MS },
      client: { outboxMaxBytes: OUTBOX_BYTES },
    });
    teardown.add(() => link.close());
    const topicOf = new Map<string, Tagged>();
    const delivered = new Set<string>();
    link.server.on('message', (m) => {
      const t = m.payload as Tagged;
      topicOf.set(m.id, t);
      delivered.add(`${t.topic}/${t.seq}`);
    });
    const dropped: string[] = [];
    const sent = { cam: 0, imu: 0 };
    const camBlob = 'c'.repeat(150_000);
    const send = (topic: Topic, blob: string): void => {
      const seq = sent[topic]++;
      link.client.send({ topic, seq, blob }).catch((err: FastSocketError) => {
        assert.equal(err.code, 'FS_ERR_DROPPED');
        dropped.push(`${topic}/${seq}`);
      });
    };
    const timers = [setInterval(() => send('cam', camBlob), 100), setInterval(() => send('imu', 'i'.repeat(300)), 10)];
    teardown.add(() => timers.forEach(clearInterval));
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
    teardown.add(() => clearInterval(sampler));

    await new Promise((resolve) => setTimeout(resolve, OVERLOAD_S * 1000));
    const overload = link.samples.slice();
    const recoveredAt = link.samples.length;
    link.proxy.setLink('up', { bandwidthBps: 100_000_000 });
    await new Promise((resolve) => setTimeout(resolve, RECOVERED_S * 1000));
    timers.forEach(clearInterval);
    clearInterval(sampler);
    await waitUntil(() => link.client.stats().outbox_messages === 0, () => `the outbox to drain (${JSON.stringify(link.client.stats())})`, 10_000);

    const stats = link.client.stats();
    const server = link.server.stats();
    const summary = JSON.stringify({ sent, dropped: dropped.length, client: stats, server, proxy: link.proxy.stats() });
    // Every drop is a message the server never had; every message it had was acknowledged and its record made.
    assert.ok(dropped.length > 0, `the link cannot carry the camera, so the outbox must drop: ${summary}`);
    assert.deepEqual(dropped.filter((d) => delivered.has(d)), [], 'a message counted as dropped reached the server');
    assert.equal(stats.unknown_acks, 0, summary);
    assert.equal(server.ack3_expired, 0, summary);

    // What is on the link at once is bounded by the outbox: its bytes at the uplink's rate, plus the link's delay.
    const uplinkMs = (s: EstimatorSample): number => s.upTruthNs / MS;
    const boundMs = ((OUTBOX_BYTES * 8) / UP_BPS) * 1000 + 2 * DELAY_MS + 1000;
    const worst = Math.max(...overload.map(uplinkMs));
    assert.ok(worst > 2000, `the uplink queue never built up (${worst.toFixed(0)} ms): not an overload`);
    assert.ok(worst < boundMs, `uplink delay reached ${worst.toFixed(0)} ms, beyond the outbox's ${boundMs.toFixed(0)} ms`);

    // The records follow the queue message by message, small messages behind big ones included.
    for (const topic of ['cam', 'imu'] as const) {
      const of = overload.filter((s) => topicOf.get(s.record.id)?.topic === topic);
      assert.ok(of.length > 10, `${topic}: ${of.length} records under overload`);
      const errorsMs = of.map((s) => Math.abs(s.record.latency_corrected_ns - s.truthNs) / MS);
      assert.ok(median(errorsMs) < 20, `${topic}: median error ${median(errorsMs).toFixed(1)} ms of the corrected estimate`);
    }

    // Recovered: the last seconds are back at the link's delay.
    const tail = link.samples.slice(recoveredAt).slice(-200).map(uplinkMs).sort((a, b) => a - b);
    assert.ok(percentileOf(tail, 50) < DELAY_MS + 100, `uplink p50 ${percentileOf(tail, 50).toFixed(0)} ms after the link recovered`);

    // Memory stays flat once the outbox is full (from 10 s on), rather than following the backlog.
    const grownMb = (Math.max(...rss.slice(10, OVERLOAD_S)) - rss[10]) / 1e6;
    assert.ok(grownMb < 60, `RSS grew by ${grownMb.toFixed(0)} MB under steady overload`);
  });
});
