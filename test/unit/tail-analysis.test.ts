import { strict as assert } from 'node:assert';
import type { GcPause } from '../../bench/gc-marks';
import { analyse, SETTLE_MS, touchedBy } from '../../bench/tail-analysis';

describe('bench:tail analysis', () => {
  it('marks the exchanges a pause overlaps or ended less than SETTLE_MS before, and no other', () => {
    const series = { start_ms: [1000, 1001, 1002, 1003], rtt_ns: [50_000, 50_000, 50_000, 50_000] };
    const pauses: GcPause[] = [
      // Inside exchange 1 (1001.00-1001.05) and over; exchange 2 begins 0.43 ms after it ended.
      [1001.02, 0.55, 'minor'],
      // Ends 0.1 ms before exchange 3 begins.
      [1002.8, 0.1, 'minor'],
    ];
    assert.ok(SETTLE_MS > 0.1 && SETTLE_MS < 0.43, 'the cases above straddle SETTLE_MS');
    assert.deepEqual([...touchedBy(series, pauses)], [0, 1, 0, 1]);
  });

  it('says which side\'s pauses touched the exchanges at or above the p99, and what the p99 is without the touched ones', () => {
    // 200 exchanges 2 ms apart, 50 us each, except four of 1 ms: two with a server pause inside, one with a client one.
    const n = 200;
    const start_ms = Array.from({ length: n }, (_, i) => 5000 + 2 * i);
    const rtt_ns = start_ms.map(() => 50_000);
    for (const i of [20, 60, 100, 140]) rtt_ns[i] = 1_000_000;
    const inside = (i: number): number => start_ms[i] + 0.2;
    const server: GcPause[] = [[start_ms[0] - 100, 0.5, 'minor'], [inside(20), 0.5, 'minor'], [inside(60), 0.5, 'minor']];
    const client: GcPause[] = [[inside(100), 0.6, 'major']];
    const row = analyse('fastsocket-ws', 1024, [{ series: { start_ms, rtt_ns }, pauses: { server, client } }]);
    assert.equal(row.exchanges, n);
    assert.equal(row.rtt_p50_us, 50);
    assert.equal(row.rtt_p99_us, 1000);
    assert.deepEqual(row.slowest, { count: 4, server_gc: 0.5, client_gc: 0.25, none: 0.25 });
    assert.equal(row.touched_share, 3 / n);
    assert.equal(row.untouched_p99_us, 50, 'the one slow exchange no pause touched is past the p99 of the 197 untouched');
    // The pause before the first measured exchange (the warm-up's) is not counted.
    assert.equal(row.gc.server.scavenges_per_10k, (2 * 10000) / n);
    assert.equal(row.gc.server.scavenge_mean_ms, 0.5);
    assert.deepEqual([row.gc.client.scavenges_per_10k, row.gc.client.other_pauses, row.gc.client.other_max_ms], [0, 1, 0.6]);
  });

  it('pools the runs of a row', () => {
    const run = (rtt: number) => ({ series: { start_ms: [1, 2, 3], rtt_ns: [rtt, rtt, rtt] }, pauses: { server: [], client: [] } });
    const row = analyse('raw-tcp', 100, [run(10_000), run(30_000)]);
    assert.equal(row.exchanges, 6);
    assert.equal(row.rtt_p50_us, 30);
    assert.equal(row.rtt_p99_us, 30);
    assert.equal(row.touched_share, 0);
  });
});
