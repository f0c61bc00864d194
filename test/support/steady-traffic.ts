/**
 * A well-behaved client that keeps sending numbered messages (the next as soon as the previous is acknowledged)
 * while a test attacks the same server, and the check that it was served correctly the whole time.
 */
import { strict as assert } from 'node:assert';
import type { FastSocketClient, MessageEvent } from '../../src/fastsocket';
import { waitUntil } from './wait';

export interface Numbered {
  tag: string;
  i: number;
}

export class SteadyTraffic {
  private next = 0;
  private acked = 0;
  private stopped = false;
  private running: Promise<void> | null = null;
  readonly failures: unknown[] = [];

  constructor(private readonly client: FastSocketClient, readonly tag: string) {}

  start(): this {
    this.running ??= this.loop();
    return this;
  }

  get ackedCount(): number {
    return this.acked;
  }

  /** Resolves once `n` more messages have been acknowledged from now: the server is still serving this client. */
  async more(n: number, what = `${n} more acknowledged messages from the well-behaved client`): Promise<void> {
    const target = this.acked + n;
    await waitUntil(() => this.acked >= target || this.failures.length > 0, what);
    assert.deepEqual(this.failures, [], 'the well-behaved client saw no failure');
  }

  /**
   * Stops sending and checks what the server handed over from this client: every message exactly once, in order,
   * intact, never marked resent, and that the client never had to reconnect.
   */
  async stopAndVerify(messages: readonly MessageEvent[]): Promise<void> {
    this.stopped = true;
    await this.running;
    assert.deepEqual(this.failures, [], 'the well-behaved client saw no failure');
    const mine = messages.filter((m) => (m.payload as Numbered | null)?.tag === this.tag);
    assert.equal(mine.length, this.acked, 'every acknowledged message was handed over once');
    mine.forEach((m, i) => {
      assert.deepStrictEqual(m.payload, { tag: this.tag, i }, `message ${i} of the well-behaved client`);
      assert.equal(m.resent, false);
    });
    assert.equal(this.client.stats().reconnects, 0, 'the well-behaved client was never disconnected');
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const i = this.next++;
      try {
        await this.client.send({ tag: this.tag, i });
        this.acked++;
      } catch (err) {
        this.failures.push(err);
        return;
      }
    }
  }
}
