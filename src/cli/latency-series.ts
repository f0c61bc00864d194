/**
 * The series the CLI reports from the server's latency records: seed estimate, corrected estimate, round trip, and,
 * side by side with them, the clock-synced uplink and the age of information when the client reports them.
 */
import { clocksApartNs, LatencyStats, latencySource, type LatencyRecord, type LatencySummary } from '../fastsocket';
import { latencyTable, ms } from './terminal';

export class LatencySeries {
  readonly latency = new LatencyStats();
  readonly corrected = new LatencyStats();
  readonly rtt = new LatencyStats();
  /** uplink_wall_ns of the records that carry it (clock-synced clients), resends left out like the estimates. */
  readonly uplink = new LatencyStats();
  /** Age of information, queued_ns + latency_corrected_ns, of every record that carries queued_ns, resends included. */
  readonly age = new LatencyStats();
  /** Records of resent messages: reported per message but kept out of the statistics (PROTOCOL.md §4). */
  resentSkipped = 0;
  /** Clock-synced records whose sync_ok was true. */
  syncOk = 0;
  /** Clock-synced records proving the clocks more than syncMaxUncertaintyNs apart, and the most any of them proved. */
  clocksApart = 0;
  clocksApartMaxNs = 0;

  /** @param syncMaxUncertaintyNs the server's: clocks proved further apart than this are said to disagree. */
  constructor(private readonly syncMaxUncertaintyNs = 1_000_000) {}

  record(r: LatencyRecord): void {
    // Per sender, so that clients on links of different delays do not read as jitter.
    const source = latencySource(r);
    // How old resent messages get is what age is for, so they count there (as in the ROS server node's ~/age).
    if (r.queued_ns !== null) this.age.record(r.queued_ns + r.latency_corrected_ns, source);
    if (r.resent) {
      this.resentSkipped++;
      return;
    }
    this.latency.record(r.latency_ns, source);
    this.corrected.record(r.latency_corrected_ns, source);
    this.rtt.record(r.t1_ns, source);
    if (r.uplink_wall_ns !== null) {
      this.uplink.record(r.uplink_wall_ns, source);
      if (r.sync_ok === true) this.syncOk++;
      const apart = clocksApartNs(r);
      if (apart > this.syncMaxUncertaintyNs) {
        this.clocksApart++;
        this.clocksApartMaxNs = Math.max(this.clocksApartMaxNs, apart);
      }
    }
  }

  get count(): number {
    return this.latency.total().count;
  }

  table(): string {
    const uplink = this.uplink.total();
    const age = this.age.total();
    const table = latencyTable([
      { label: 'latency (T1 - T2/2)', summary: this.latency.total() },
      { label: 'latency corrected ((T1 - ps)/2)', summary: this.corrected.total() },
      { label: 'round trip (T1)', summary: this.rtt.total() },
      ...(uplink.count > 0 ? [{ label: 'uplink, clock-synced (uplink_wall_ns)', summary: uplink }] : []),
      ...(age.count > 0 ? [{ label: 'age (queued + corrected)', summary: age }] : []),
    ]);
    if (uplink.count === 0) return table;
    const negative = uplink.clamped_low > 0 ? `; ${uplink.clamped_low} negative, shown as 0: the clocks disagree` : '';
    // sync_ok says the offset is known precisely, not that it is small: clocks 5 s apart on a fast link are sync_ok.
    const apart = this.clocksApart > 0
      ? `; ${this.clocksApart} show the clocks apart, by up to ${ms(this.clocksApartMaxNs)} ms at least (offset_ns): their uplink is off by as much`
      : '';
    return `${table}\n(uplink: ${uplink.count} clock-synced records, ${this.syncOk} with sync_ok${negative}${apart})`;
  }

  /** A few words for a status line. */
  brief(): string {
    const c = this.corrected.total();
    return c.count === 0 ? 'no latency yet' : `latency p50 ${ms(c.p50)} ms p99 ${ms(c.p99)} ms`;
  }

  summaries(): { latency: LatencySummary; latency_corrected: LatencySummary; rtt: LatencySummary; uplink_wall: LatencySummary; age: LatencySummary } {
    return { latency: this.latency.total(), latency_corrected: this.corrected.total(), rtt: this.rtt.total(), uplink_wall: this.uplink.total(), age: this.age.total() };
  }
}
