import { strict as assert } from 'node:assert';
import { monotonicNs } from '../../src/fastsocket';
import { cpmMessage } from '../../src/cli/cpm';
import { EstimatorLink, median, type EstimatorSample, type LinkOptions } from '../support/estimator-harness';
import { useTeardown } from '../support/teardown';
import { waitForEvent, withDeadline } from '../support/wait';

const MS = 1_000_000;
/** Timing bounds are generous on purpose (a loaded CI box is slow); the benchmark measures precision. */
const TOLERANCE_MS = 2;
const SLACK_MS = 15;
/** For a single message, which a stall of this process can delay on its own. */
const OUTLIER_SLACK_MS = 150;
const COUNT = 40;
const RATE_HZ = 50;
/** Application work simulated around a message: far more than TOLERANCE_MS, so its half in an estimate shows. */
const WORK_MS = 20;
const ONE_BY_ONE = 9;

const medianOf = (samples: EstimatorSample[], pick: (s: EstimatorSample) => number | undefined): number =>
  median(samples.map((s) => {
    const v = pick(s);
    assert.ok(typeof v === 'number', `sample ${s.record.id} lacks a field: ${JSON.stringify(s.record)}`);
    return v;
  }));

const msText = (ns: number): string => `${(ns / MS).toFixed(2)} ms`;

describe('LatencyRecord', function () {
  // Client, proxy and server share this process: a CPU-starved machine can stall it for milliseconds, which lands
  // between a write and the peer's read, outside the proxy's records. A wrong estimate fails every attempt.
  this.retries(2);
  const teardown = useTeardown();

  async function startLink(options: LinkOptions): Promise<EstimatorLink> {
    const link = await EstimatorLink.start(options);
    teardown.add(() => link.close());
    return link;
  }

  /** COUNT CPM payloads at RATE_HZ through the link; resolves with every sample. */
  async function exchange(link: EstimatorLink): Promise<EstimatorSample[]> {
    await withDeadline(link.sendPaced(COUNT, RATE_HZ, (seq) => cpmMessage(seq)), `${COUNT} acks`, 10_000);
    return link.whenSamples(COUNT, 5_000);
  }

  /**
   * ONE_BY_ONE messages, each sent after the previous one's ack 2, with `afterSend` run in the same turn as send();
   * resolves with every sample.
   */
  async function exchangeOneByOne(link: EstimatorLink, afterSend: () => void): Promise<EstimatorSample[]> {
    await withDeadline(link.client.connect(), 'the client connecting');
    for (let seq = 0; seq < ONE_BY_ONE; seq++) {
      const delivered = link.client.send(cpmMessage(seq));
      afterSend();
      await withDeadline(delivered, `ack 2 of message ${seq}`);
    }
    return link.whenSamples(ONE_BY_ONE, 5_000);
  }

  for (const scheme of ['tcp', 'ws'] as const) {
    describe(`over ${scheme}:// through the delay proxy`, () => {
      describe('#latency_corrected_ns', () => {
        it('has a median within 2 ms of the ground truth median when the link is 20/20 ms', async () => {
          const link = await startLink({ scheme, up: { delayMs: 20 }, down: { delayMs: 20 } });
          const samples = await exchange(link);
          const truth = medianOf(samples, (s) => s.truthNs);
          const corrected = medianOf(samples, (s) => s.record.latency_corrected_ns);
          assert.ok(truth >= 20 * MS && truth < (20 + SLACK_MS) * MS, `ground truth ${msText(truth)}`);
          assert.ok(Math.abs(corrected - truth) <= TOLERANCE_MS * MS, `corrected ${msText(corrected)} vs truth ${msText(truth)}`);
        });

        it('reports the mean of the two directions, about 20 ms, when the link is 5/35 ms', async () => {
          const link = await startLink({ scheme, up: { delayMs: 5 }, down: { delayMs: 35 } });
          const samples = await exchange(link);
          const truth = medianOf(samples, (s) => s.truthNs);
          const corrected = medianOf(samples, (s) => s.record.latency_corrected_ns);
          assert.ok(truth >= 20 * MS && truth < (20 + SLACK_MS) * MS, `ground truth (u + d)/2 ${msText(truth)}`);
          assert.ok(Math.abs(corrected - truth) <= TOLERANCE_MS * MS, `corrected ${msText(corrected)} vs (u + d)/2 ${msText(truth)}`);
        });
      });

      describe('#ps_ns', () => {
        it('includes the time a slow message listener took, which the corrected estimate then leaves out', async () => {
          const link = await startLink({ scheme, up: { delayMs: 10 }, down: { delayMs: 10 } });
          // Ack 2 leaves only after the listeners ran: stamped earlier, their time would land in T1 and not in ps.
          link.server.on('message', () => busy(WORK_MS));
          const samples = await exchangeOneByOne(link, () => undefined);
          const ps = medianOf(samples, (s) => s.record.ps_ns);
          const truth = medianOf(samples, (s) => s.truthNs);
          const corrected = medianOf(samples, (s) => s.record.latency_corrected_ns);
          assert.ok(ps >= WORK_MS * MS, `ps_ns ${msText(ps)} with a ${WORK_MS} ms listener`);
          assert.ok(Math.abs(corrected - truth) <= TOLERANCE_MS * MS, `corrected ${msText(corrected)} vs truth ${msText(truth)}`);
        });
      });

      describe('#uplink_wall_ns', () => {
        it('reports the 5 ms uplink of a 5/35 ms link when both clocks are this host\'s', async () => {
          const link = await startLink({ scheme, up: { delayMs: 5 }, down: { delayMs: 35 } });
          const samples = await exchange(link);
          const upTruth = medianOf(samples, (s) => s.upTruthNs);
          const uplink = medianOf(samples, (s) => s.record.uplink_wall_ns ?? undefined);
          const corrected = medianOf(samples, (s) => s.record.latency_corrected_ns);
          assert.ok(upTruth >= 5 * MS && upTruth < (5 + SLACK_MS) * MS, `uplink ground truth ${msText(upTruth)}`);
          assert.ok(Math.abs(uplink - upTruth) <= TOLERANCE_MS * MS, `uplink_wall_ns ${msText(uplink)} vs truth ${msText(upTruth)}`);
          // The point of the mode: the clock-free estimate of the same messages sits at the mean, far above.
          assert.ok(corrected - uplink > 10 * MS, `corrected ${msText(corrected)} vs uplink ${msText(uplink)}`);
          assert.ok(samples.every((s) => typeof s.record.offset_ns === 'number' && typeof s.record.sync_ok === 'boolean'));
        });
      });

      describe('#queued_ns', () => {
        it('holds the time the application kept the process busy after send(), which the latency leaves out', async () => {
          const link = await startLink({ scheme, up: { delayMs: 10 }, down: { delayMs: 10 } });
          // The message is written when this turn of the event loop ends; until then it waits inside the client.
          const samples = await exchangeOneByOne(link, () => busy(WORK_MS));
          const queued = medianOf(samples, (s) => s.record.queued_ns ?? undefined);
          const truth = medianOf(samples, (s) => s.truthNs);
          const corrected = medianOf(samples, (s) => s.record.latency_corrected_ns);
          assert.ok(queued >= WORK_MS * MS, `queued_ns ${msText(queued)} after ${WORK_MS} ms of work`);
          assert.ok(Math.abs(corrected - truth) <= TOLERANCE_MS * MS, `corrected ${msText(corrected)} vs truth ${msText(truth)}`);
        });


        it('holds the 1 s a message waited in the outbox during a cut while its latency stays the link\'s', async () => {
          const link = await startLink({
            scheme,
            up: { delayMs: 20 },
            down: { delayMs: 20 },
            client: { reconnectMinMs: 50, reconnectMaxMs: 100, connectTimeoutMs: 2_000 },
          });
          // The first exchange completes (ack 3 included) before the cut, so the link is known to work.
          await withDeadline(link.client.send(cpmMessage(0)), 'the first ack before the cut');
          await link.whenSamples(1, 5_000);

          const disconnected = waitForEvent(link.client, 'disconnect');
          link.proxy.cut({ mode: 'reset' });
          await disconnected;
          const queuedAtNs = monotonicNs();
          const delivered = link.client.send(cpmMessage(1));
          await outage(1000);
          link.proxy.restore();
          const { id } = await withDeadline(delivered, 'the held message after restore');
          const outageNs = monotonicNs() - queuedAtNs;

          await link.whenSamples(2, 5_000);
          const s = link.sampleOf(id)!;
          assert.ok(s, `no latency sample for ${id}`);
          assert.ok(s.record.queued_ns !== null && s.record.queued_ns >= 1000 * MS, `queued_ns ${s.record.queued_ns}`);
          assert.ok(s.record.queued_ns <= outageNs, `queued_ns ${msText(s.record.queued_ns)} longer than the wait ${msText(outageNs)}`);
          // One message, not a median: the bound only has to tell the link's 20 ms from the 1 s outage.
          const corrected = s.record.latency_corrected_ns;
          assert.ok(corrected >= 19 * MS && corrected < (20 + OUTLIER_SLACK_MS) * MS, `corrected ${msText(corrected)} (truth ${msText(s.truthNs)})`);
        });
      });
    });
  }
});

/** Keeps this process busy, as an application's own work would: the event loop runs nothing else meanwhile. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** The length of the cut is the scenario itself, not a wait for something to happen. */
function outage(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
