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
