/**
 * Conformance as another implementation sees it: test/interop/spec-peer.py, written from PROTOCOL.md alone (its own
 * NDJSON and WebSocket framing), probes our server and serves our client over tcp:// and ws://, in the spellings and
 * framings a third party may use (key order, spacing, escapes, ids that are not uuid4, split and batched frames,
 * CRLF, binary and fragmented WebSocket messages). Each of its checks prints one JSON line; every one must pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { FastSocketClient, FastSocketServer, type LatencyRecord, type MessageEvent } from '../../src/fastsocket';
import { PYTHON } from './python-peer';

const SPEC_PEER_PY = path.resolve(__dirname, '../../../test/interop/spec-peer.py');
const DEADLINE_MS = 20_000;

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

/** Runs spec-peer.py; `onLine` sees each stdout line as it comes. Resolves with its checks once it exits 0. */
function runPeer(args: string[], onLine: (line: Record<string, unknown>) => void = () => undefined): Promise<Check[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SPEC_PEER_PY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const checks: Check[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.check === 'string') checks.push(o as unknown as Check);
      onLine(o);
    });
    const timer = setTimeout(() => child.kill(), DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(checks);
      else reject(new Error(`spec-peer.py ${args.join(' ')} exited ${code}; checks so far ${JSON.stringify(checks)}; stderr: ${stderr}`));
    });
  });
}

function assertAllPass(checks: Check[], expected: number): void {
  const failed = checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], 'checks failed');
  assert.equal(checks.length, expected, `checks run: ${checks.map((c) => c.check).join('; ')}`);
}

describe('interop: a peer written from PROTOCOL.md alone', function () {
  this.timeout(30_000);
  for (const scheme of ['tcp', 'ws'] as const) {
    describe(`${scheme}://`, () => {
      it('our server acks every frame it sends, whatever the spelling and framing, and hands each message over once', async () => {
        const server = new FastSocketServer({ url: `${scheme}://127.0.0.1:0` });
        const messages: MessageEvent[] = [];
        const latencies: LatencyRecord[] = [];
        server.on('message', (m) => messages.push(m));
        server.on('latency', (r) => latencies.push(r));
        try {
          const checks = await runPeer(['probe', await server.listen()]);
          assertAllPass(checks, scheme === 'ws' ? 8 : 7);
          const ids = messages.map((m) => m.id);
          assert.equal(new Set(ids).size, ids.length, 'a message was handed over twice');
          for (const id of ['1', ' ', 'a\nb', '\u0000', '\u{1F600}'.repeat(128), 's/1', '\ud800', 'f0', 'f39']) assert.ok(ids.includes(id), `message ${JSON.stringify(id)} not handed over`);
          const byId = new Map(messages.map((m) => [m.id, m]));
          assert.ok(Number.isNaN(byId.get('p0')?.payload), 'NaN payload');
          assert.equal(byId.get('p4')?.payload, Infinity, '1e400 payload');
          assert.deepEqual([byId.get('p6')?.payload, byId.get('p7')?.payload, byId.get('p10')?.payload, byId.get('p11')?.payload], [0, '', null, false]);
          assert.equal(byId.get('r1')?.resent, true);
          assert.equal(byId.get('k1')?.client_id, 'spec-peer');
          const k1 = latencies.filter((r) => r.id === 'k1');
          assert.deepEqual(k1.map((r) => [r.resent, r.t1_ns, r.pc_ns]), [[false, 1000, 5], [true, 1000, null]]);
          assert.deepEqual(latencies.filter((r) => /^t\d$/.test(r.id)).map((r) => r.t1_ns), [1000, 1000, 0]);
          const stats = server.stats();
          assert.equal(stats.bad_frames, 0);
          assert.equal(stats.ack3_unknown, 2);
        } finally {
          await server.close();
        }
      });

      it('our client says hello, reads acks 2 in any spelling and framing, and answers each with an integer T1', async () => {
        const count = 12;
        let client: FastSocketClient | null = null;
        let sent: Promise<unknown> | null = null;
        const checks = await runPeer(['serve', scheme, String(count)], (line) => {
          if (typeof line.url !== 'string') return;
          client = new FastSocketClient({ url: line.url, clientId: 'spec-client' });
          sent = Promise.all(Array.from({ length: count }, (_, i) => client!.send({ i, nan: NaN })));
        });
        try {
          assert.ok(sent, 'spec-peer.py printed no url');
          await sent;
          assertAllPass(checks, scheme === 'ws' ? 6 : 5);
          assert.equal(client!.stats().delivered, count);
          assert.equal(client!.stats().bad_frames, 0);
        } finally {
          (client as FastSocketClient | null)?.destroy();
        }
      });
    });
  }
});
