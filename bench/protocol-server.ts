/**
 * One benchmark server in its own process, so its RSS can be read from /proc and it competes for the CPU like
 * the Python peer's server does. Usage: node build/bench/protocol-server.js IMPL (IMPL: raw-tcp, raw-tcp-onread, raw-ws,
 * raw-tcp-bytes, fastsocket-tcp, fastsocket-ws). Prints a ListeningLine, then a ServerSummaryLine on SIGTERM and exits 0.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { FastSocketServer } from '../src/fastsocket';
import { isNodeImpl, ListeningLine, NodeImpl, onLines, ServerSummaryLine } from './protocol-common';

const NEWLINE = 0x0a;

interface RunningServer {
  url: string;
  messages(): number;
}

/**
 * The TCP ceiling: frames newline-delimited input and echoes every complete line, one write per arriving chunk,
 * without parsing anything. No JSON protocol can beat it; it shows how much the transport itself costs.
 */
function rawTcpBytes(): Promise<RunningServer> {
  let lines = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let partial: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      const last = chunk.lastIndexOf(NEWLINE);
      if (last === -1) {
        partial.push(chunk);
        return;
      }
      for (let i = chunk.indexOf(NEWLINE); i !== -1 && i <= last; i = chunk.indexOf(NEWLINE, i + 1)) lines++;
      const complete = chunk.subarray(0, last + 1);
      socket.write(partial.length === 0 ? complete : Buffer.concat([...partial, complete]));
      partial = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
    });
  });
  return listenOn(server, 'tcp', () => lines);
}

/** The TCP floor: what an application writes by hand: parse each JSON line, write each reply as it comes. */
function rawTcp(): Promise<RunningServer> {
  let messages = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    onLines(socket, (line) => {
      messages++;
      socket.write(JSON.stringify(JSON.parse(line.toString('utf8'))) + '\n');
    });
  });
  return listenOn(server, 'tcp', () => messages);
}

/** The WebSocket floor, the same by hand with `ws`: parse each message, send each reply. */
function rawWs(): Promise<RunningServer> {
  let messages = 0;
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data: Buffer) => {
      messages++;
      ws.send(JSON.stringify(JSON.parse(data.toString('utf8'))));
    });
    ws.on('error', () => undefined);
  });
  return listenOn(httpServer, 'ws', () => messages);
}

function listenOn(server: net.Server, scheme: 'tcp' | 'ws', messages: () => number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({ url: scheme === 'tcp' ? `tcp://127.0.0.1:${port}` : `ws://127.0.0.1:${port}/`, messages });
    });
  });
}

/** fastsocket with default options and an application that only counts what it is handed, as the Python peer's --quiet does. */
async function fastsocket(scheme: 'tcp' | 'ws'): Promise<RunningServer> {
  const server = new FastSocketServer({ url: `${scheme}://127.0.0.1:0` });
  let messages = 0;
  server.on('message', () => messages++);
  const url = await server.listen();
  return { url, messages: () => messages };
}

function start(impl: NodeImpl): Promise<RunningServer> {
  switch (impl) {
    case 'raw-tcp':
    case 'raw-tcp-onread':
      return rawTcp();
    case 'raw-ws':
      return rawWs();
    case 'raw-tcp-bytes':
      return rawTcpBytes();
    case 'fastsocket-tcp':
      return fastsocket('tcp');
    case 'fastsocket-ws':
      return fastsocket('ws');
  }
}

function writeLine(line: ListeningLine | ServerSummaryLine): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function main(): Promise<void> {
  const impl = process.argv[2];
  if (process.argv.length !== 3 || !isNodeImpl(impl)) {
    process.stderr.write(`usage: protocol-server.js raw-tcp|raw-tcp-onread|raw-ws|raw-tcp-bytes|fastsocket-tcp|fastsocket-ws (got ${process.argv.slice(2).join(' ')})\n`);
    process.exit(2);
  }
  const server = await start(impl);
  const stop = () => {
    writeLine({ event: 'summary', messages: server.messages() });
    // The orchestrator has already read the peak RSS; nothing here needs an orderly shutdown.
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  writeLine({ event: 'listening', url: server.url });
}

main().catch((err: unknown) => {
  process.stderr.write(`protocol-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
