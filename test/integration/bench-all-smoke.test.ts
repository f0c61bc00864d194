import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasMosquitto } from '../support/mosquitto';

/** Compiled to build/test/integration/, beside build/bench/. */
const RUN_ALL_JS = path.resolve(__dirname, '../../bench/run-all.js');
const DEADLINE_MS = 150_000;

/**
 * Written out here rather than imported, so that a part or a row silently dropped from the run fails this test.
 * Each part's rows and the metrics every one of its rows must carry as a positive number.
 */
const PARTS: Record<string, { rows: number; metrics: string[]; file: string }> = {
  // --quick runs the protocol benchmark at one payload size: eight implementations, seven without mosquitto.
  protocol: { rows: hasMosquitto() ? 8 : 7, metrics: ['rtt_p50_us', 'rtt_p99_us', 'msgs_s', 'server_rss_peak_mb'], file: 'protocol-quick.json' },
  // The calibration row and eight link conditions, tcp and ws.
  estimator: { rows: 18, metrics: ['truth_p50_ms', 'corrected_median_err_us', 'corrected_p95_err_us', 'seed_median_err_us', 'clock_synced_median_err_us'], file: 'estimator-quick.json' },
  v2x: { rows: 2, metrics: ['latency_p50_ms', 'latency_p99_ms', 'delivered', 'msgs_s', 'server_rss_peak_mb'], file: 'v2x-quick.json' },
  'fan-in': { rows: 2, metrics: ['latency_p50_ms', 'latency_p99_ms', 'delivered', 'msgs_s', 'server_rss_peak_mb'], file: 'fan-in-quick.json' },
  // The band can be 0 on a short run, so only the levels are checked.
  soak: { rows: 2, metrics: ['rss_warmup_end_mb', 'rss_max_mb'], file: 'soak-quick.json' },
};

interface Row {
  benchmark: string;
  case: string;
  metrics: Record<string, unknown>;
  result: string;
}

function isPositive(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

describe('bench/run-all.js', () => {
  describe('--quick --json', () => {
    let dir: string;
    let run: { code: number | null; stdout: string; stderr: string };

    before(async function () {
      this.timeout(DEADLINE_MS + 5000);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-bench-all-'));
      // execFile kills the child at the timeout; a failed run still yields its output for the assertions below.
      run = await new Promise((resolve) => {
        execFile(
          process.execPath,
          [RUN_ALL_JS, '--quick', '--json', '--out', path.join(dir, 'all.json')],
          { timeout: DEADLINE_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
        );
      });
    });

    after(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('exits 0 and prints one JSON document that it also writes to --out', () => {
      assert.equal(run.code, 0, `exit ${run.code}; stderr: ${run.stderr.slice(-2000)}`);
      const printed = JSON.parse(run.stdout);
      assert.deepEqual(printed, JSON.parse(fs.readFileSync(path.join(dir, 'all.json'), 'utf8')));
      assert.equal(printed.benchmark, 'all');
      assert.equal(printed.quick, true);
      assert.deepEqual(printed.errors, []);
    });

    it('has the rows of every part, each with positive numbers', () => {
      const rows = JSON.parse(run.stdout).rows as Row[];
      for (const [part, expected] of Object.entries(PARTS)) {
        const mine = rows.filter((r) => r.benchmark === part);
        assert.equal(mine.length, expected.rows, `${part}: ${mine.length} rows`);
        for (const r of mine) {
          assert.ok(r.case.length > 0 && r.result.length > 0, `${part}: empty case or result`);
          for (const key of expected.metrics) assert.ok(isPositive(r.metrics[key]), `${part} ${r.case}: ${key} = ${r.metrics[key]}`);
        }
      }
    });

    it('writes each part\'s own JSON beside --out', () => {
      for (const [part, { file }] of Object.entries(PARTS)) {
        const report = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
        assert.equal(report.quick, true, `${file}: quick`);
        assert.equal(report.benchmark, part, `${file}: benchmark`);
      }
    });

    it('shows progress on stderr', () => {
      for (const part of Object.keys(PARTS)) assert.match(run.stderr, new RegExp(`\\] .*${part}`, 'i'), `no progress line for ${part}`);
    });
  });
});
