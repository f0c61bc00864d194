/**
 * Child-process entry of fault-process.ts: a FastSocketClient with a persistent outbox that a test can SIGKILL
 * while messages are unacknowledged. Configured by FASTSOCKET_FAULT_CLIENT (JSON); commanded over IPC.
 */
import { FastSocketClient, type FastSocketClientOptions } from '../../src/fastsocket';

export interface ClientChildConfig {
  options: FastSocketClientOptions;
}

/** `send`: queue payloads `{ seq }` for seq in [from, from + count); reply once queued, or once acked when `waitAcks`. */
export type ToClientChild = { type: 'send'; from: number; count: number; waitAcks: boolean };
export type FromClientChild =
  | { type: 'ready'; outboxMessages: number }
  | { type: 'queued'; outboxMessages: number }
  | { type: 'acked'; ids: string[] }
  | { type: 'failed'; error: string };

function send(msg: FromClientChild): void {
  process.send?.(msg);
}

function main(): void {
  const config = JSON.parse(process.env.FASTSOCKET_FAULT_CLIENT ?? '') as ClientChildConfig;
  const client = new FastSocketClient(config.options);
  process.on('message', (msg: ToClientChild) => {
    if (msg.type !== 'send') return;
    const acks: Promise<{ id: string }>[] = [];
    for (let seq = msg.from; seq < msg.from + msg.count; seq++) acks.push(client.send({ seq }));
    // send() appends to the outbox file synchronously, so once it has returned the messages survive a SIGKILL.
    if (!msg.waitAcks) {
      for (const a of acks) a.catch(() => undefined);
      send({ type: 'queued', outboxMessages: client.stats().outbox_messages });
      return;
    }
    Promise.all(acks).then(
      (results) => send({ type: 'acked', ids: results.map((r) => r.id) }),
      (err: Error) => send({ type: 'failed', error: err.stack ?? String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', outboxMessages: client.stats().outbox_messages });
}

if (require.main === module) main();
