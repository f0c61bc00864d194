/**
 * The library's types as a user's code sees them: the assertions here are checked by tsc (npm run build:test), so a
 * change that loosens an event's or a record's type (to `any`, or `Error` where a code is promised) fails the build.
 */
import { strict as assert } from 'node:assert';
import {
  FastSocketClient, FastSocketServer, type FastSocketClientOptions, type FastSocketServerOptions,
  type FastSocketError, type FastSocketErrorCode, type LatencyRecord, type MessageEvent, type PeerInfo, type ProtocolError, type SendResult,
} from '../../src/fastsocket';

/** true when A and B are the same type (any is the same only as any). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(check: Equals<A, B>): void => assert.equal(check, true);

describe('the public types', () => {
  it("type every event's argument, the latency record's fields and send()'s result, with no any", () => {
    const server = new FastSocketServer({ url: 'tcp://127.0.0.1:0' });
    server.on('message', (m) => {
      same<typeof m, MessageEvent>(true);
      same<typeof m.payload, unknown>(true);
    });
    server.on('latency', (r) => {
      same<typeof r, LatencyRecord>(true);
      same<typeof r.latency_ns, number>(true);
      same<typeof r.latency_corrected_ns, number>(true);
      same<typeof r.pc_ns, number | null>(true);
      same<typeof r.sync_ok, boolean | null>(true);
    });
    server.on('connection', (p) => same<typeof p, PeerInfo>(true));
    server.on('bad-frame', (b) => same<typeof b.error, ProtocolError>(true));
    // @ts-expect-error: not an event of the server
    server.on('error', () => undefined);

    const client = new FastSocketClient({ url: 'tcp://127.0.0.1:1' });
    // A failed connection's error has a code (FS_ERR_CONNECT), without a cast.
    client.on('disconnect', ({ error }) => same<typeof error, FastSocketError | null>(true));
    client.on('drop', ({ reason }) => same<typeof reason, FastSocketErrorCode>(true));
    client.on('ack', (a) => same<typeof a, SendResult>(true));
    // @ts-expect-error: not an event of the client
    client.on('latency', () => undefined);
    const sent = client.send({ speed: 13.9 });
    sent.catch(() => undefined);
    same<typeof sent, Promise<SendResult>>(true);
    client.destroy();

    // @ts-expect-error: a misspelt option
    assert.throws(() => new FastSocketClient({ maxFrameByte: 100 }));
    // @ts-expect-error: not an outbox policy
    assert.throws(() => new FastSocketClient({ outboxPolicy: 'drop-all' }));
    // undefined is an option "not given", not what an injected function may return.
    // @ts-expect-error: newId returns a string
    const noId: FastSocketClientOptions = { newId: () => undefined };
    // @ts-expect-error: the clock returns ns
    const noClock: FastSocketServerOptions = { wallClock: () => undefined };
    assert.ok(noId && noClock);
  });
});
