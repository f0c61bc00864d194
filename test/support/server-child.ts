/**
 * A FastSocketServer in a child process, for tests that SIGKILL a server mid-stream. Usage:
 *   node server-child.js '{"server":{"url":"tcp://127.0.0.1:0","stateDir":"/tmp/x"},"crashOnMessage":5}'
 * With crashOnMessage N the process SIGKILLs itself while handing over its Nth message, before printing it: a crash
 * in the middle of the application's handling.
 * Prints one JSON line per event on stdout: {"event":"listening","url":...} first, then
 * {"event":"message","id":...,"payload":...,"resent":...,"possible_duplicate":...} per message handed over.
 * stdout is a pipe, and Node writes pipes synchronously, so a printed line survives a SIGKILL right after it.
 */
import { FastSocketServer, type FastSocketServerOptions } from '../../src/fastsocket';

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as { server: FastSocketServerOptions; crashOnMessage?: number };
  const server = new FastSocketServer(args.server);
  let handed = 0;
  server.on('message', (m) => {
    if (++handed === args.crashOnMessage) process.kill(process.pid, 'SIGKILL');
    print({ event: 'message', id: m.id, payload: m.payload, resent: m.resent, possible_duplicate: m.possible_duplicate });
  });
  const url = await server.listen();
  print({ event: 'listening', url });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`server-child: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
