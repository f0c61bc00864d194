/** Runs server-child.js as a separate process that a test can SIGKILL and start again on the same port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { FastSocketServerOptions } from '../../src/fastsocket';
import { Teardown } from './teardown';
import { withDeadline } from './wait';

export interface ChildMessage {
  id: string;
  payload: unknown;
  resent: boolean;
  possible_duplicate: boolean;
}

export class ServerProcess extends EventEmitter<{ message: [ChildMessage] }> {
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, readonly url: string, lines: readline.Interface) {
    super();
    this.exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event: string } & ChildMessage;
      if (event.event === 'message') this.emit('message', { id: event.id, payload: event.payload, resent: event.resent, possible_duplicate: event.possible_duplicate });
    });
  }

  /** Starts the child and resolves once it listens; SIGKILLed at teardown if still running. */
  static async start(
    teardown: Teardown,
    options: Pick<FastSocketServerOptions, 'url' | 'stateDir'> & Record<string, unknown>,
    { crashOnMessage }: { crashOnMessage?: number } = {},
  ): Promise<ServerProcess> {
    const args = JSON.stringify({ server: options, crashOnMessage });
    const child = spawn(process.execPath, [path.join(__dirname, 'server-child.js'), args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    teardown.add(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = readline.createInterface({ input: child.stdout! });
    const url = await withDeadline(
      new Promise<string>((resolve, reject) => {
        const onLine = (line: string): void => {
          const event = JSON.parse(line) as { event: string; url?: string };
          if (event.event !== 'listening') return;
          lines.off('line', onLine);
          resolve(event.url!);
        };
        lines.on('line', onLine);
        child.once('close', (code) => reject(new Error(`server child exited with ${code} before listening: ${stderr}`)));
      }),
      'the server child to listen',
      10_000,
    );
    return new ServerProcess(child, url, lines);
  }

  /** Resolves once the child has exited on its own (e.g. crashOnMessage) and every line it printed has been read. */
  died(ms = 5_000): Promise<void> {
    return withDeadline(this.exited, 'the server child to die', ms);
  }

  /** SIGKILLs the child and resolves once it is gone and every line it printed has been read. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await withDeadline(this.exited, 'the server child to die');
  }
}
