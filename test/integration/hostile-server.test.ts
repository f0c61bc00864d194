/**
 * Found by pointing the client at a hostile server: a max_frame_bytes from a hello the client never asked for, or
 * from an earlier connection, made it drop every later message for good, whatever the server it talked to later.
 */
import { strict as assert } from 'node:assert';
import { FastSocketError, type FastSocketClient } from '../../src/fastsocket';
import { startClient } from '../support/fixtures';
import { isMessage, type RawConnection, RawServer } from '../support/raw-server';
import { useTeardown } from '../support/teardown';
import { waitForEvent, withDeadline } from '../support/wait';

const isHello = (f: Record<string, unknown>): boolean => f.type === 'hello';

/**
 * Sends 100 B, more than the limit of 50 the hostile hello gave: the client must write it on `conn` (not refuse it
 * as too large), and it is delivered once acknowledged there.
 */
async function deliversOver50Bytes(client: FastSocketClient, conn: RawConnection, where: string): Promise<void> {
  const sent = client.send('x'.repeat(100)).catch((e: unknown) => e);
  const first = await Promise.race([sent, conn.waitForCount(isMessage, 1, `the message on ${where}`)]);
  assert.ok(!(first instanceof FastSocketError), `send rejected: ${(first as Error).message}`);
  const [m] = first as Array<Record<string, unknown>>;
  conn.send({ id: m!.id, type: 'ack' });
  assert.deepEqual(Object.keys((await withDeadline(sent, 'the message acknowledged')) as object).sort(), ['id', 'resent', 'rtt_ns']);
}

describe('FastSocketClient against a hostile server', () => {
  const teardown = useTeardown();

  it('ignores the max_frame_bytes of a hello it did not send a hello for', async () => {
    const raw = await RawServer.start(teardown);
    const client = await startClient(teardown, raw.url);
    const heard = waitForEvent(client, 'hello');
    await client.connect();
    const conn1 = await raw.connection(1);
    conn1.send({ type: 'hello', protocol: 1, max_frame_bytes: 50 });
    await heard;
    await deliversOver50Bytes(client, conn1, 'the first connection');
    assert.equal(client.stats().dropped, 0);
  });

  it('takes the limit of each connection from that connection\'s hello answer, not from an earlier one', async () => {
    const raw = await RawServer.start(teardown);
    const client = await startClient(teardown, raw.url, { clientId: 'veh-1' });
    await client.connect();
    const conn1 = await raw.connection(1);
    await conn1.waitForFrame(isHello, 'the first hello');
    const heard = waitForEvent(client, 'hello');
    conn1.send({ type: 'hello', protocol: 1, max_frame_bytes: 50 });
    await heard;
    conn1.destroy();
    // The server behind the address now is another one (restarted with a larger limit, or one that gives none).
    const conn2 = await raw.connection(2);
    await conn2.waitForFrame(isHello, 'the second hello');
    const heardAgain = waitForEvent(client, 'hello');
    conn2.send({ type: 'hello', protocol: 1 });
    await heardAgain;
    await deliversOver50Bytes(client, conn2, 'the second connection');
    assert.equal(client.stats().dropped, 0);
  });
});
