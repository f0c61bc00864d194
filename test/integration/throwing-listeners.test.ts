import { strict as assert } from 'node:assert';
import { DroppedError, FastSocketError, FastSocketServer, nodeTimers } from '../../src/fastsocket';
import { capturingLogger, startClient, startServer, unreachableUrl } from '../support/fixtures';
import { useTeardown } from '../support/teardown';
import { waitForEvent, withDeadline } from '../support/wait';

/** A listener with a bug in it. */
const buggy = (event: string) => () => {
  throw new Error(`bug in the application's ${event} listener`);
};

/** Whether the logger said, at error, that the listener of `event` threw. */
const loggedThrow = (lines: string[], event: string) => lines.some((l) => l.startsWith('error ') && l.includes(`'${event}' listener threw`) && l.includes(`bug in the application's ${event} listener`));

describe('an application listener that throws', () => {
  const teardown = useTeardown();

  describe('on FastSocketClient', () => {
    it("'connect': connect() still resolves, and the client sends", async () => {
      const { url } = await startServer(teardown, 'tcp');
      const logger = capturingLogger();
      const client = await startClient(teardown, url, { logger });
      client.on('connect', buggy('connect'));
      await withDeadline(client.connect(), 'connect() with a throwing connect listener');
      await withDeadline(client.send('after'), 'a send after it');
      assert.ok(loggedThrow(logger.lines, 'connect'), logger.lines.join('\n'));
    });

    it("'disconnect': the client still reconnects to a server restarted at its address", async () => {
      const { server, url } = await startServer(teardown, 'tcp');
      const logger = capturingLogger();
      const client = await startClient(teardown, url, { logger });
      client.on('disconnect', buggy('disconnect'));
      await client.send('before');
      const disconnected = waitForEvent(client, 'disconnect');
      await server.close();
      await disconnected;
      const again = new FastSocketServer({ url });
      teardown.add(() => again.close());
      await again.listen();
      await withDeadline(client.send('after'), 'a send after the server restarted');
      assert.ok(loggedThrow(logger.lines, 'disconnect'), logger.lines.join('\n'));
    });

    it("'ack': close() does not wait out its timeout once every message is acknowledged", async () => {
      const { url } = await startServer(teardown, 'tcp');
      const client = await startClient(teardown, url, { logger: capturingLogger() });
      client.on('ack', buggy('ack'));
      const sends = [1, 2, 3].map((i) => client.send(i));
      const stats = await withDeadline(client.close({ timeoutMs: 600_000 }), 'close() after every ack');
      await Promise.all(sends);
      assert.equal(stats.delivered, 3);
    });

    it("'drop': send() returns its rejected promise, not a throw", async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'), { outboxMaxMessages: 1, outboxPolicy: 'drop-newest', logger: capturingLogger() });
      client.on('drop', buggy('drop'));
      client.send(1).catch(() => undefined);
      let second: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        second = client.send(2);
      });
      await assert.rejects(second!, (e: unknown) => e instanceof DroppedError && e.reason === 'outbox_full');
    });

    it("'closing': close() still closes, and rejects what was unacknowledged with FS_ERR_CLOSED", async () => {
      const client = await startClient(teardown, await unreachableUrl('tcp'), { logger: capturingLogger() });
      client.on('closing', buggy('closing'));
      const sent = client.send(1);
      sent.catch(() => undefined);
      let closed: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        closed = client.close({ timeoutMs: 0 });
      });
      await withDeadline(closed!, 'close()');
      await assert.rejects(sent, (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_CLOSED');
    });
  });

  describe('on FastSocketServer', () => {
    for (const event of ['connection', 'disconnect'] as const) {
      it(`'${event}': is logged, and close() resolves once the client is gone`, async () => {
        const logger = capturingLogger();
        // close() gives up waiting for its peers' 'disconnect' after 2 s: without that timer, only they can end it.
        const { server, url } = await startServer(teardown, 'tcp', { logger, timers: { ...nodeTimers, setTimeout: () => ({ unref: () => undefined }), clearTimeout: () => undefined } });
        server.on(event, buggy(event));
        const client = await startClient(teardown, url);
        await client.send('x');
        await withDeadline(client.close(), 'the client to close');
        await withDeadline(server.close(), 'server.close()');
        assert.ok(loggedThrow(logger.lines, event), logger.lines.join('\n'));
      });
    }

    it("'message': the other listeners still get the message", async () => {
      const { server, url } = await startServer(teardown, 'tcp', { logger: capturingLogger() });
      server.on('message', buggy('message'));
      const handed = waitForEvent(server, 'message');
      const client = await startClient(teardown, url);
      await client.send('x');
      await handed;
    });
  });
});
