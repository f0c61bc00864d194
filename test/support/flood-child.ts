/**
 * Child-process entry of the fairness test: a client that floods a server with message 1 frames as fast as the
 * kernel takes them, and reads (and drops) the acks, until it is killed. In a process of its own, so the server's
 * socket holds the backlog a flooding peer on another machine builds. argv: the server's url (tcp:// or ws://).
 */
import * as net from 'node:net';
import WebSocket from 'ws';

const url = new URL(process.argv[2] ?? '');
let next = 0;
/** The next `n` frames, each a message 1 with a small payload. */
function batch(n: number): string[] {
  const frames: string[] = [];
  for (let i = 0; i < n; i++) frames.push(`{"id":"flood-${next++}","type":"message","payload":0}`);
  return frames;
}

if (url.protocol === 'tcp:') {
  const socket = net.connect(Number(url.port), url.hostname);
  socket.on('error', () => process.exit(0));
  socket.on('data', () => undefined);
  const pump = (): void => {
    while (socket.write(batch(2000).join('\n') + '\n'));
    socket.once('drain', pump);
  };
  socket.on('connect', pump);
} else {
  const ws = new WebSocket(url);
  ws.on('error', () => process.exit(0));
  const pump = (): void => {
    while (ws.bufferedAmount < 4 * 1024 * 1024) for (const f of batch(2000)) ws.send(f);
    setImmediate(pump);
  };
  ws.on('open', pump);
}
