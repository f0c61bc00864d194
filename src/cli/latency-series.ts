/** The three series the CLI reports from the server's latency records: seed estimate, corrected estimate, RTT. */
import { LatencyStats, type LatencyRecord, type LatencySummary } from '../fastsocket';
import { latencyTable, ms } from './terminal';

export class LatencySeries {
  readonly latency = new LatencyStats();
  readonly corrected = new LatencyStats();
  readonly rtt = new LatencyStats();
  /** Records of resent messages: reported per message but kept out of the statistics (PROTOCOL.md §4). */
  resentSkipped = 0;

  record(r: LatencyRecord): void {
    if (r.resent) {
      this.resentSkipped++;
      return;
    }
    this.latency.record(r.latency_ns);
    this.corrected.record(r.latency_corrected_ns);
    this.rtt.record(r.t1_ns);
  }

  get count(): number {
    return this.latency.total().count;
  }

  table(): string {
    return latencyTable([
      { label: 'latency (T1 - T2/2)', summary: this.latency.total() },
      { label: 'latency corrected ((T1 - ps)/2)', summary: this.corrected.total() },
      { label: 'round trip (T1)', summary: this.rtt.total() },
    ]);
  }

  /** A few words for a status line. */
  brief(): string {
    const c = this.corrected.total();
    return c.count === 0 ? 'no latency yet' : `latency p50 ${ms(c.p50)} ms p99 ${ms(c.p99)} ms`;
  }

  summaries(): { latency: LatencySummary; latency_corrected: LatencySummary; rtt: LatencySummary } {
    return { latency: this.latency.total(), latency_corrected: this.corrected.total(), rtt: this.rtt.total() };
  }
}
