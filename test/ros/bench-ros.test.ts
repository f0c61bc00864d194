import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasMosquitto } from '../support/mosquitto';
import { requireRos, uniqueDomains } from './ros-harness';

/** Compiled to build/test/ros/, beside build/bench/. */
const ROS_JS = path.resolve(__dirname, '../../bench/ros.js');
const DEADLINE_MS = 120_000;

interface PathRow {
  path: string;
  label: string;
  domains: number[];
  latency_1khz_sent: number;
  latency_1khz_received: number;
  cpu_us_per_msg_1khz: Record<string, number>;
  image: { sent: number; received: number };
}

describe('bench/ros.js', function () {
  this.timeout(DEADLINE_MS + 10_000);
  let dir = '';

  before(function () {
    requireRos(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-bench-ros-'));
  });
  after(() => {
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('--quick --paths mqtt', () => {
    it('carries messages through the MQTT bridge, or skips the path naming apt-get install mosquitto without mosquitto', async () => {
      const [a, b] = uniqueDomains();
      const out = path.join(dir, 'ros-quick.json');
      // On a deadline execFile sends SIGTERM, on which the bench stops its children and the broker.
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile(process.execPath, [ROS_JS, '--quick', '--paths', 'mqtt', '--domains', `${a},${b}`, '--out', out], { timeout: DEADLINE_MS }, (err, so, se) => (
          err ? reject(new Error(`${err.message}\n${se.slice(-3000)}`)) : resolve({ stdout: so, stderr: se })));
      });
      const rows = (JSON.parse(fs.readFileSync(out, 'utf8')) as { results: PathRow[] }).results;
      const skipLine = /^bench:ros skipping mqtt: .*apt-get install mosquitto/m;
      if (!hasMosquitto()) {
        assert.match(stderr, skipLine);
        assert.deepEqual(rows, []);
        return;
      }
      assert.doesNotMatch(stderr, skipLine);
      assert.equal(rows.length, 1);
      const [row] = rows;
      assert.equal(row.label, 'MQTT bridge (mosquitto, QoS 1, CDR bytes)');
      assert.deepEqual(row.domains, [a, b]);
      assert.ok(row.latency_1khz_sent > 0);
      // A smoke test of the path, not of its loss: a loaded CI machine may drop a few from a DDS keep-last queue.
      assert.ok(row.latency_1khz_received > row.latency_1khz_sent / 2 && row.latency_1khz_received <= row.latency_1khz_sent, JSON.stringify(row));
      assert.ok(row.image.received > 0 && row.image.received <= row.image.sent, JSON.stringify(row.image));
      for (const p of ['bridge', 'server', 'mosquitto']) assert.ok(row.cpu_us_per_msg_1khz[p] > 0, `cpu of ${p}`);
      assert.match(stdout, /not mqtt_client itself; it gives no per-message one-way latency/);
    });
  });
});
