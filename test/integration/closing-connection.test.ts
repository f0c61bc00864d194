/**
 * A connection the server is closing (refused past max_connections, or closed for a reason) still reads its socket,
 * to notice the peer's end; what the peer sends meanwhile must not be handled or buffered.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseUrl } from '../../src/fastsocket';
import { FrameConnection, listen } from '../../src/fastsocket/transport';
import { serverTls } from '../support/fixtures';
import { message1 } from '../support/raw-peer';
import { useTeardown } from '../support/teardown';
import { testCerts } from '../support/tls-certs';
import { waitForEvent, withDeadline } from '../support/wait';

describe('FrameConnection (tcp, tls)', () => {
  const teardown = useTeardown();

  before(async () => {
    await testCerts();
  });

  describe('#close', () => {
    for (const scheme of ['tcp', 'tls'] as const) {
      // Regression test: a closing connection went on feeding what it read to its framer until the delayed destroy, so
      // refused peers each writing a long line without a newline made the server buffer all of it (40 x 15 MB: +600 MB).
      it(`takes in nothing a ${scheme} peer sends once it is closing: no frames, no unfinished frame held`, async () => {
        let closing: FrameConnection | undefined;
        const frames: Buffer[] = [];
        let onClosed = (): void => undefined;
        const closed = new Promise<void>((resolve) => (onClosed = resolve));
        const listener = await listen(parseUrl(`${scheme}://127.0.0.1:0`), {
          maxFrameBytes: 16 * 1024 * 1024,
          ...(scheme === 'tls' ? { tls: await serverTls() } : {}),
          onConnection: (conn) => {
            closing = conn;
            conn.on('frame', (frame) => frames.push(frame));
            conn.on('error', () => undefined);
            conn.once('close', onClosed);
            // As the server refuses a connection past max_connections, before reading anything from it.
            conn.close('overload');
          },
        });
        teardown.add(() => listener.close());
        const { port } = listener.endpoint;
        // Half-open, so the peer goes on writing after the server's end, as a hostile one would.
        const tcp = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
        const peer = scheme === 'tcp' ? tcp : tls.connect({ socket: tcp, host: '127.0.0.1', ca: (await testCerts()).ca });
        tcp.on('error', () => undefined);
        peer.on('error', () => undefined);
        teardown.add(() => tcp.destroy());
        await waitForEvent(peer, scheme === 'tcp' ? 'connect' : 'secureConnect');

        peer.write(`${message1('after-close', 1)}\n`.repeat(100));
        peer.write(Buffer.alloc(4 * 1024 * 1024, 0x61));
        peer.end();
        // The connection closes once it has read up to the peer's end (or at its delayed destroy): all was read by then.
        await withDeadline(closed, 'the closing connection to close', 10_000);
        assert.equal(frames.length, 0, 'frames handed over after close()');
        assert.equal(closing?.partialSinceMs, null, 'an unfinished frame held after close()');
      });
    }
  });
});
