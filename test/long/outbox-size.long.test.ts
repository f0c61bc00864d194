/**
 * A persisted outbox bigger than the longest string V8 makes (512 MiB): the file of a vehicle whose outbox_max_bytes
 * was raised for long outages. Runs only under `npm run test:long` (FASTSOCKET_LONG=1): it writes ~570 MB to the temp
 * folder and takes ~1.5 GB of memory.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FastSocketServer } from '../../src/fastsocket';
import { startClient, startServer } from '../support/fixtures';
import { useTeardown } from '../support/teardown';
import { waitUntil } from '../support/wait';

const LONG = process.env.FASTSOCKET_LONG === '1';
const MESSAGES = 19_000;
const PAYLOAD_BYTES = 30_000;

(LONG ? describe : describe.skip)('FastSocketClient outboxPath past 512 MiB (FASTSOCKET_LONG=1)', function () {
  this.timeout(300_000);
  const teardown = useTeardown();

  it('reopens an outbox file larger than a string can be and delivers every message in it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-big-outbox-'));
    teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
    const outboxPath = path.join(dir, 'outbox.log');
    // A URL nothing listens on: the messages stay in the outbox, as through an outage.
    const gone = new FastSocketServer({ url: 'tcp://127.0.0.1:0' });
    const offlineUrl = await gone.listen();
    await gone.close();
    const limits = { outboxMaxMessages: MESSAGES, outboxMaxBytes: 2 ** 30 };
    const first = await startClient(teardown, offlineUrl, { outboxPath, reconnectMinMs: 1000, reconnectMaxMs: 5000, ...limits });
    const payload = 'x'.repeat(PAYLOAD_BYTES);
    for (let i = 0; i < MESSAGES; i++) first.send({ i, payload }).catch(() => undefined);
    first.destroy();
    const bytes = fs.statSync(outboxPath).size;
    assert.ok(bytes > 0x1fffffe8, `the file (${bytes} bytes) is longer than a string can be`);

    const { server, url } = await startServer(teardown, 'tcp');
    const handed = new Set<number>();
    server.on('message', (m) => handed.add((m.payload as { i: number }).i));
    const second = await startClient(teardown, url, { outboxPath, ...limits });
    assert.equal(second.stats().outbox_messages, MESSAGES, 'every message of the file was loaded');
    await waitUntil(() => handed.size === MESSAGES, () => `every message delivered (${handed.size} of ${MESSAGES})`, 120_000);
  });
});
