/**
 * Found by pointing the client at a hostile server: a max_frame_bytes from a hello the client never asked for, or
 * from an earlier connection, made it drop every later message for good, whatever the server it talked to later.
 */
import { strict as assert } from 'node:assert';
import { FastSocketError } from '../../src/fastsocket';
import { startClient } from '../support/fixtures';
import { isMessage, RawServer } from '../support/raw-server';
import { useTeardown } from '../support/teardown';
import { waitForEvent, withDeadline } from '../support/wait';

const isHello = (f: Record<string, unknown>): boolean => f.type === 'hello';

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
    const sent = client.send('x'.repeat(100)).catch((e: unknown) => e);
    const first = await Promise.race([sent, conn1.waitForCount(isMessage, 1, 'the message on the first connection')]);
    assert.ok(!(first instanceof FastSocketError), `send rejected: ${(first as Error).message}`);
    const [m] = first as Array<Record<string, unknown>>;
    conn1.send({ id: m!.id, type: 'ack' });
    assert.deepEqual(Object.keys((await withDeadline(sent, 'the message acknowledged')) as object).sort(), ['id', 'resent', 'rtt_ns']);
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
    const sent = client.send('x'.repeat(100)).catch((e: unknown) => e);
    const first = await Promise.race([sent, conn2.waitForCount(isMessage, 1, 'the message on the second connection')]);
    assert.ok(!(first instanceof FastSocketError), `send rejected: ${(first as Error).message}`);
    const [m] = first as Array<Record<string, unknown>>;
    conn2.send({ id: m!.id, type: 'ack' });
    assert.deepEqual(Object.keys((await withDeadline(sent, 'the message acknowledged')) as object).sort(), ['id', 'resent', 'rtt_ns']);
    assert.equal(client.stats().dropped, 0);
  });
});
