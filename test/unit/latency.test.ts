import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { latencyRecord, type ExchangeTimes } from '../../src/fastsocket/latency';

const base: ExchangeTimes = {
  id: 'id-1',
  peer: '127.0.0.1:5000',
  clientId: 'veh-17',
  resent: false,
  t1Ns: 0,
  readAtNs: 0,
  ack2AtNs: 0,
  ack3AtNs: 0,
};

/**
 * One exchange on a link with uplink delay u and downlink delay d, server turnaround ps and client turnaround pc,
 * timed as each side's monotonic clock sees it (the two clocks have unrelated origins).
 */
function exchange(u: number, d: number, ps: number, pc: number, serverOrigin: number): ExchangeTimes {
  const readAt = serverOrigin + u;
  const ack2At = readAt + ps;
  const t1 = u + ps + d;
  const ack3At = ack2At + d + pc + u;
  return { ...base, t1Ns: t1, readAtNs: readAt, ack2AtNs: ack2At, ack3AtNs: ack3At, pcNs: pc };
}

describe('latency', () => {
  describe('#latencyRecord', () => {
    it('computes T2 from ack 2 written to ack 3 read, and latency = T1 - T2/2', () => {
      const r = latencyRecord({ ...base, t1Ns: 4_000, readAtNs: 1_000, ack2AtNs: 1_500, ack3AtNs: 5_000 });
      assert.equal(r.t1_ns, 4_000);
      assert.equal(r.t2_ns, 3_500);
      assert.equal(r.ps_ns, 500);
      assert.equal(r.latency_ns, 4_000 - 3_500 / 2);
      assert.equal(r.latency_corrected_ns, (4_000 - 500) / 2);
      assert.equal(r.t2_start, 'ack2_written');
    });

    it('carries the identity fields through and reports missing pc/queued as null', () => {
      const r = latencyRecord({ ...base, resent: true, t1Ns: 10, readAtNs: 0, ack2AtNs: 0, ack3AtNs: 10 });
      assert.deepEqual(
        { id: r.id, peer: r.peer, client_id: r.client_id, resent: r.resent, pc_ns: r.pc_ns, queued_ns: r.queued_ns },
        { id: 'id-1', peer: '127.0.0.1:5000', client_id: 'veh-17', resent: true, pc_ns: null, queued_ns: null },
      );
    });

    it('has every field of PROTOCOL.md §3, the clock-synced ones null outside clock-synced mode', () => {
      const r = latencyRecord({ ...base, t1Ns: 10, ack3AtNs: 10 });
      const fields = ['id', 'peer', 'client_id', 'resent', 't1_ns', 't2_ns', 'latency_ns', 'ps_ns', 'pc_ns',
        'latency_corrected_ns', 'queued_ns', 'uplink_wall_ns', 'offset_ns', 'sync_ok'];
      assert.deepEqual(fields.filter((k) => !(k in r)), []);
      assert.deepEqual([r.uplink_wall_ns, r.offset_ns, r.sync_uncertainty_ns, r.sync_ok], [null, null, null, null]);
    });

    it('reports the client turnaround and queueing time when the client sent them', () => {
      const r = latencyRecord({ ...base, t1Ns: 10, ack3AtNs: 10, pcNs: 7, queuedNs: 1_000_000 });
      assert.equal(r.pc_ns, 7);
      assert.equal(r.queued_ns, 1_000_000);
    });

    it('rounds to whole nanoseconds when T2 or T1 - ps is odd', () => {
      const r = latencyRecord({ ...base, t1Ns: 1_001, readAtNs: 0, ack2AtNs: 0, ack3AtNs: 1_001 });
      assert.ok(Number.isInteger(r.latency_ns) && Number.isInteger(r.latency_corrected_ns));
      assert.ok(Math.abs(r.latency_ns - 500.5) <= 0.5);
      assert.ok(Math.abs(r.latency_corrected_ns - 500.5) <= 0.5);
    });

    it('equals the one-way delay on a symmetric link with no turnaround, whatever the clock origins', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1e10 }), fc.integer({ min: 0, max: 1e12 }), (oneWay, origin) => {
          const r = latencyRecord(exchange(oneWay, oneWay, 0, 0, origin));
          assert.equal(r.latency_ns, oneWay);
          assert.equal(r.latency_corrected_ns, oneWay);
        }),
      );
    });

    it('gives (u + d)/2 + ps - pc/2, and (u + d)/2 once corrected for ps, on any link', () => {
      const ns = fc.integer({ min: 0, max: 1e10 });
      fc.assert(
        fc.property(ns, ns, ns, ns, fc.integer({ min: 0, max: 1e12 }), (u, d, ps, pc, origin) => {
          const r = latencyRecord(exchange(u, d, ps, pc, origin));
          assert.equal(r.t1_ns, u + ps + d);
          assert.equal(r.t2_ns, d + pc + u);
          assert.equal(r.ps_ns, ps);
          assert.ok(Math.abs(r.latency_ns - ((u + d) / 2 + ps - pc / 2)) <= 0.5, `latency ${r.latency_ns}`);
          assert.ok(Math.abs(r.latency_corrected_ns - (u + d) / 2) <= 0.5, `corrected ${r.latency_corrected_ns}`);
        }),
      );
    });
  });
});
