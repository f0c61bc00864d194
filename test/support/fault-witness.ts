/**
 * A well-behaved client that keeps sending while a test attacks the same server, and then proves it was served
 * correctly throughout: every payload handed over once and intact, one consistent latency record per message,
 * acknowledgements arriving while the attack ran (not only after it), and no round trip starved.
 */
import { strict as assert } from 'node:assert';
import type { FastSocketClient, FastSocketServer, LatencyRecord, MessageEvent, SendResult } from '../../src/fastsocket';
import { startClient } from './fixtures';
import { Teardown } from './teardown';
import { DEFAULT_DEADLINE_MS, waitUntil, withDeadline } from './wait';

export const WITNESS_ID = 'witness';

/** Payloads with the shapes attackers abuse, sent correctly: they must arrive exactly as sent. */
function witnessPayload(seq: number): unknown {
  const shapes: unknown[] = [
    { seq, text: 'plain ascii' },
    { seq, text: 'héllo ✓ 😀 \u2028\u2029 "quoted" \\ back\nslash' },
    JSON.parse(`{"seq":${seq},"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}`),
    { seq, n: [0, -1, 1.5e300, -2.5e-300, 9007199254740991], nested: [[[[{ deep: [seq] }]]]] },
    { seq, nonFinite: [NaN, Infinity, -Infinity] },
  ];
  return shapes[seq % shapes.length];
}

export class Witness {
  private readonly sent = new Map<string, unknown>();
  private readonly results = new Map<string, SendResult & { ackedAt: number }>();
  private readonly failures: unknown[] = [];
  private readonly handed: MessageEvent[] = [];
  private readonly latencies: LatencyRecord[] = [];
  private running = true;
  private inFlight = 0;
  private seq = 0;

  private constructor(private readonly client: FastSocketClient) {}

  /**
   * Connects to `url` and starts sending, `concurrency` messages in flight at a time, until stop(). Only the
   * server's events carrying the witness's client id are checked.
   */
  static async start(teardown: Teardown, server: FastSocketServer, url: string, concurrency = 2): Promise<Witness> {
    const client = await startClient(teardown, url, { clientId: WITNESS_ID });
    const w = new Witness(client);
    server.on('message', (m) => m.client_id === WITNESS_ID && w.handed.push(m));
    server.on('latency', (r) => r.client_id === WITNESS_ID && w.latencies.push(r));
    teardown.add(() => void (w.running = false));
    await client.connect();
    for (let i = 0; i < concurrency; i++) w.next();
    return w;
  }

  /** Acks received so far. */
  get acked(): number {
    return this.results.size;
  }

  /** Acks received within [fromMs, toMs] of performance.now(). */
  ackedBetween(fromMs: number, toMs: number): number {
    return [...this.results.values()].filter((r) => r.ackedAt >= fromMs && r.ackedAt <= toMs).length;
  }

  /** Stops sending, waits for the last acks and latency records, and asserts the witness was served correctly. */
  async stopAndVerify({ maxRttMs = 2_000 }: { maxRttMs?: number } = {}): Promise<void> {
    this.running = false;
    await waitUntil(() => this.inFlight === 0, 'the witness to get its last acks');
    await waitUntil(() => this.latencies.length >= this.results.size, 'a latency record for every witness message', DEFAULT_DEADLINE_MS);
    assert.deepEqual(this.failures, [], 'a witness send failed');
    assert.equal(this.results.size, this.sent.size, 'a witness message was never acknowledged');
    assert.equal(this.handed.length, this.sent.size, 'witness messages handed over a number of times other than once each');
    for (const m of this.handed) {
      assert.ok(this.sent.has(m.id), `a witness message ${m.id} was handed over that the witness never had acknowledged`);
      assert.deepEqual(m.payload, this.sent.get(m.id), 'a witness payload was changed on the way');
      assert.equal(m.resent, false);
    }
    assert.equal(new Set(this.handed.map((m) => m.id)).size, this.handed.length, 'a witness message was handed over twice');
    const byId = new Map(this.latencies.map((r) => [r.id, r]));
    assert.equal(byId.size, this.latencies.length, 'two latency records for one witness message');
    for (const [id, res] of this.results) {
      const rec = byId.get(id);
      assert.ok(rec, `no latency record for witness message ${id}`);
      assert.equal(rec.t1_ns, res.rtt_ns, 'the server recorded a T1 other than the one the client measured');
      assert.equal(rec.resent, false);
      assert.ok(rec.t2_ns >= 0 && rec.ps_ns >= 0, `negative turnaround in ${JSON.stringify(rec)}`);
      assert.equal(rec.latency_ns, Math.round(rec.t1_ns - rec.t2_ns / 2), 'latency is not T1 - T2/2');
      assert.ok(res.rtt_ns < maxRttMs * 1e6, `a witness round trip took ${(res.rtt_ns / 1e6).toFixed(1)} ms during the attack`);
    }
  }

  private next(): void {
    if (!this.running) return;
    const payload = witnessPayload(this.seq++);
    this.inFlight++;
    withDeadline(this.client.send(payload), 'a witness ack', 10_000).then(
      (r) => {
        this.sent.set(r.id, payload);
        this.results.set(r.id, { ...r, ackedAt: performance.now() });
      },
      (err: unknown) => this.failures.push(err),
    ).finally(() => {
      this.inFlight--;
      // A pause between sends, so the witness shares the loop with the attack instead of flooding it.
      setTimeout(() => this.next(), 1);
    });
  }
}
