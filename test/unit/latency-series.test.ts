import { strict as assert } from 'node:assert';
import { LatencySeries } from '../../src/cli/latency-series';
import { latencyRecord, latencySource } from '../../src/fastsocket';

const MS = 1_000_000;

/** The record of one exchange over a symmetric link of `oneWayNs`, with no turnaround. */
function recordOf(id: string, clientId: string | null, peer: string, oneWayNs: number) {
  return latencyRecord({
    id, peer, clientId, resent: false, t1Ns: 2 * oneWayNs, readAtNs: 0, ack2AtNs: 0, ack3AtNs: 2 * oneWayNs, pcNs: 0, queuedNs: 0,
  });
}

describe('LatencySeries', () => {
  describe('#record', () => {
    it('reports the jitter of each link, not the difference between two clients on links of 20 and 80 ms', () => {
      const series = new LatencySeries();
      for (let i = 0; i < 100; i++) {
        const wobble = (i % 2) * 0.1 * MS;
        series.record(recordOf(`a-${i}`, 'veh-a', '10.0.0.1:40001', 20 * MS + wobble));
        series.record(recordOf(`b-${i}`, null, `10.0.0.2:${40000 + (i >> 4)}`, 80 * MS + wobble));
      }
      const { latency_corrected: c, rtt, age } = series.summaries();
      assert.equal(c.count, 200);
      // Each link alternates by 0.1 ms; the second client reconnects (new port) every 16 messages and stays one sender.
      for (const s of [c, age]) assert.ok(Math.abs(s.jitter - 0.1 * MS) < 1_000, `jitter ${s.jitter} ns`);
      assert.ok(Math.abs(rtt.jitter - 0.2 * MS) < 1_000, `rtt jitter ${rtt.jitter} ns`);
    });
  });

  describe('#table', () => {
    it('says the clocks are apart when the records prove it, also when they are sync_ok (a client clock 5 s behind)', () => {
      const series = new LatencySeries(1 * MS);
      for (let i = 0; i < 3; i++) {
        series.record({
          ...recordOf(`a-${i}`, 'veh-a', '10.0.0.1:40001', 20 * MS),
          uplink_wall_ns: 5_020 * MS, offset_ns: 5_000 * MS + i * MS, sync_uncertainty_ns: 0.2 * MS, sync_ok: true,
        });
      }
      const table = series.table();
      assert.match(table, /3 clock-synced records, 3 with sync_ok; 3 show the clocks apart, by up to 5001\.800 ms at least \(offset_ns\): their uplink is off by as much\)/, table);
    });

    it('says nothing of the clocks when the offset is within its uncertainty (one host, an asymmetric link)', () => {
      const series = new LatencySeries(1 * MS);
      series.record({ ...recordOf('a', 'veh-a', '10.0.0.1:40001', 20 * MS), uplink_wall_ns: 5 * MS, offset_ns: -15 * MS, sync_uncertainty_ns: 20 * MS, sync_ok: false });
      assert.doesNotMatch(series.table(), /apart/);
    });

    it('says how many samples were above the range rather than print its top as their max (an age after a 5 h outage)', () => {
      const series = new LatencySeries();
      series.record(recordOf('a', 'veh-a', '10.0.0.1:40001', 20 * MS));
      const fiveHours = 5 * 3600 * 1000 * MS;
      series.record(latencyRecord({
        id: 'b', peer: '10.0.0.1:40001', clientId: 'veh-a', resent: true, t1Ns: 40 * MS, readAtNs: 0, ack2AtNs: 0, ack3AtNs: 40 * MS, pcNs: 0, queuedNs: fiveHours,
      }));
      const table = series.table();
      assert.match(table, /\(age \(queued \+ corrected\): 1 of its samples above 3600000\.000 ms, the top of the range, counted as 3600000\.000 ms\)/, table);
    });
  });
});

describe('latencySource', () => {
  it('names a sender whose hello gave an empty client_id by its host, as one with no client_id', () => {
    // A third-party peer may send client_id "" (the server node files it under /anonymous): taken as a name, every such
    // sender on every host was one source, and their interleaved samples read as jitter again.
    assert.deepEqual(
      [latencySource({ client_id: '', peer: '10.0.0.1:40001' }), latencySource({ client_id: '', peer: '10.0.0.2:40001' })],
      ['10.0.0.1', '10.0.0.2'],
    );
    assert.equal(latencySource({ client_id: 'veh-a', peer: '10.0.0.1:40001' }), 'veh-a');
  });
});
