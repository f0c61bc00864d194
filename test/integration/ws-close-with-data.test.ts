/**
 * A WebSocket close frame read in the same chunk as messages before it. ws answers the close at once, inside the read,
 * and drops whatever is sent after; the replies those messages queued (an ack 2 from the server, an ack 3 from the
 * client) must be written before that answer, as RFC 6455 allows, or they are lost.
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { FastSocketClient } from '../../src/fastsocket';
import { startServer } from '../support/fixtures';
import { message1, RawPeer, wsFrameBytes } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { waitUntil } from '../support/wait';

const ID = '0b7e9a52-3c1d-4f6e-8a2b-9d4c5e6f7a81';

/** An unmasked server-to-client frame (opcode 1: text, 8: close), payload under 126 bytes. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

const CLOSE_1000 = Buffer.from([0x03, 0xe8]);

describe('ws:// close frame read together with the messages before it', () => {
  const teardown = useTeardown();

  it('the server acks a message that arrives in one read with the close frame after it, before answering the close', async () => {
    const { server, url } = await startServer(teardown, 'ws');
    const peer = await RawPeer.connectRawWebSocket(url);
    teardown.add(() => peer.destroy());
    let received = Buffer.alloc(0);
    peer.stream.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    peer.sendBytes(Buffer.concat([wsFrameBytes(message1(ID, 'last words')), wsFrameBytes(CLOSE_1000, 0x8)]));
    await peer.waitClosed();
    const text = received.toString('latin1');
    const ack = text.indexOf(`{"id":"${ID}","type":"ack"}`);
    const closeReply = received.indexOf(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
    assert.ok(ack >= 0, `no ack 2 for the message before the close; read ${JSON.stringify(text)}`);
    assert.ok(closeReply > ack, `the close was answered before the ack 2 (${closeReply} < ${ack})`);
    assert.equal(server.stats().messages, 1);
  });

  it('the client sends the ack 3 of an ack 2 that arrives in one read with the close frame after it', async () => {
    // A server that, for the first message, writes its ack 2 and a close frame in one write, and records the frames
    // it then reads from the client.
    const httpServer = http.createServer();
    const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });
    const read: Array<Record<string, unknown>> = [];
    wss.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        read.push(frame);
        if (frame.type === 'message' && read.filter((f) => f.type === 'message').length === 1) {
          const raw = (ws as unknown as { _socket: Socket })._socket;
          raw.write(Buffer.concat([serverFrame(0x1, Buffer.from(`{"id":${JSON.stringify(frame.id)},"type":"ack"}`)), serverFrame(0x8, CLOSE_1000)]));
        }
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    teardown.add(
      () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          httpServer.close(() => resolve());
        }),
    );
    const client = new FastSocketClient({ url: `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/` });
    teardown.add(() => client.destroy());
    await client.connect();
    const sent = await client.send('last words');
    await waitUntil(
      () => read.some((f) => f.type === 'ack' && f.id === sent.id),
      () => `no ack 3 for ${sent.id} reached the server; it read ${JSON.stringify(read)}`,
    );
  });
});
