import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Compiled to build/test/integration/, beside build/bench/. */
const PROTOCOL_JS = path.resolve(__dirname, '../../bench/protocol.js');
const DEADLINE_MS = 150_000;

/** Written out here rather than imported, so that a row silently dropped from the benchmark fails this test. */
const IMPLS = ['python-peer', 'raw-tcp', 'raw-tcp-onread', 'raw-ws', 'raw-tcp-bytes', 'fastsocket-tcp', 'fastsocket-ws'];
const SIZES = [100, 1024, 65536];
const ROW_NUMBERS = ['rtt_p50_us', 'rtt_p99_us', 'msgs_per_s', 'mb_per_s', 'server_rss_idle_kb', 'server_rss_peak_kb'];
const RATIO_NUMBERS = ['msgs_per_s', 'rtt_p50', 'rtt_p99', 'server_rss_peak'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

type Row = Record<string, unknown> & { impl: string; payload_bytes: number };

function isPositive(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

describe('bench/protocol.js', () => {
  describe('--quick --json', () => {
    let dir: string;
    let child: ChildProcess | undefined;
    let run: Run;

    before(async function () {
      this.timeout(DEADLINE_MS + 5000);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-bench-'));
      run = await new Promise<Run>((resolve, reject) => {
        const c = spawn(process.execPath, [PROTOCOL_JS, '--quick', '--json', '--out', path.join(dir, 'protocol.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
        child = c;
        let stdout = '';
        let stderr = '';
        c.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
        c.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
        const timer = setTimeout(() => reject(new Error(`benchmark not finished within ${DEADLINE_MS} ms; stderr: ${stderr.slice(-2000)}`)), DEADLINE_MS);
        c.on('error', reject);
        c.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    });

    after(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('exits 0 and prints one JSON document that it also writes to --out', () => {
      assert.equal(run.code, 0, `exit ${run.code}; stderr: ${run.stderr.slice(-2000)}`);
      const printed = JSON.parse(run.stdout);
      const written = JSON.parse(fs.readFileSync(path.join(dir, 'protocol.json'), 'utf8'));
      assert.deepEqual(printed, written);
      assert.equal(printed.benchmark, 'protocol');
      assert.equal(printed.quick, true);
    });

    it('reports every implementation at every payload size with positive numbers', () => {
      const rows = JSON.parse(run.stdout).rows as Row[];
      assert.equal(rows.length, IMPLS.length * SIZES.length);
      for (const impl of IMPLS) {
        for (const bytes of SIZES) {
          const row = rows.find((r) => r.impl === impl && r.payload_bytes === bytes);
          assert.ok(row, `no row for ${impl} at ${bytes} B`);
          for (const key of ROW_NUMBERS) assert.ok(isPositive(row[key]), `${impl} ${bytes} B: ${key} = ${row[key]}`);
          // CPU time comes in clock ticks (10 ms), which a quick run's smallest rows may not fill.
          const cpu = row.server_cpu_us_per_msg;
          assert.ok(typeof cpu === 'number' && Number.isFinite(cpu) && cpu >= 0, `${impl} ${bytes} B: server_cpu_us_per_msg = ${cpu}`);
        }
      }
    });

    it('compares each fastsocket row with the Python peer and the raw echo of its transport (tcp: both read paths)', () => {
      const ratios = JSON.parse(run.stdout).ratios as Row[];
      const expected = [
        ['fastsocket-tcp', 'python-peer'], ['fastsocket-tcp', 'raw-tcp'], ['fastsocket-tcp', 'raw-tcp-onread'],
        ['fastsocket-ws', 'python-peer'], ['fastsocket-ws', 'raw-ws'],
      ];
      for (const bytes of SIZES) {
        for (const [impl, versus] of expected) {
          const r = ratios.find((x) => x.impl === impl && x.versus === versus && x.payload_bytes === bytes);
          assert.ok(r, `no ratio ${impl} vs ${versus} at ${bytes} B`);
          for (const key of RATIO_NUMBERS) assert.ok(isPositive(r[key]), `${impl} vs ${versus} ${bytes} B: ${key} = ${r[key]}`);
        }
      }
    });
  });
});
