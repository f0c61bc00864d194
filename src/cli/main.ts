#!/usr/bin/env node
/**
 * The `fastsocket` command: serve, send, demo. The only CLI code that touches process: argv, signals, exit.
 * Exit codes: 0 success, 1 failure (e.g. not everything delivered), 2 usage error.
 */
import { readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { closest } from '../fastsocket';
import { parseFlags, UsageError } from './args';
import { commandHelp, type Command, type CommandContext } from './command';
import { demoCommand } from './demo';
import { sendCommand } from './send';
import { serveCommand } from './serve';

export const COMMANDS: readonly Command[] = [serveCommand, sendCommand, demoCommand];

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function overview(): string {
  return [
    'fastsocket: JSON messages over tcp/tls/ws/wss with a three-way ack that measures one-way latency without synchronised clocks.',
    '',
    'usage: fastsocket <command> [flags]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(7)}${c.summary}`),
    '  help   fastsocket help [command]: this text, or one command\'s flags',
    '',
    'fastsocket --version prints the version. Exit codes: 0 success, 1 failure, 2 usage error.',
    'Limit flags are the protocol\'s limits in kebab-case (docs/cli.md, Limits); a token comes from --token-file or $FASTSOCKET_TOKEN.',
  ].join('\n');
}

/** `fastsocket --help`: the overview, then every command's flags, so one page answers every question. */
function fullHelp(): string {
  return [overview(), ...COMMANDS.map((c) => `\n${commandHelp(c)}`)].join('\n');
}

function version(): string {
  // dist/cli/main.js and build/src/cli/main.js sit at different depths below package.json.
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fastsocket' && pkg.version) return pkg.version;
    } catch {
      // not here: keep walking up
    }
  }
  return 'unknown';
}

function unknownCommand(name: string): string {
  const guess = closest(name, [...COMMANDS.map((c) => c.name), 'help']);
  return `unknown command ${JSON.stringify(name)}${guess === null ? '' : ` (did you mean ${guess}?)`}`;
}

/** Each flag that `command` does not take, with the name of a command that does. */
function flagsOfOtherCommands(command: Command): Record<string, string> {
  const elsewhere: Record<string, string> = {};
  for (const other of COMMANDS) {
    for (const flag of Object.keys(other.flags)) if (!(flag in command.flags)) elsewhere[flag] ??= other.name;
  }
  return elsewhere;
}

/** Runs one command line; resolves with the exit code. Usage errors become one line on stderr and exit 2. */
export async function main(argv: string[], ctx: CommandContext): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      ctx.stderr.write(`${overview()}\n`);
      return EXIT_USAGE;
    }
    if (name === '--help' || name === '-h') {
      ctx.stdout.write(`${fullHelp()}\n`);
      return EXIT_OK;
    }
    if (name === 'help') {
      const topic = rest[0] === undefined ? undefined : COMMANDS.find((c) => c.name === rest[0]);
      if (rest[0] !== undefined && !topic) throw new UsageError(`help: ${unknownCommand(rest[0])}`);
      ctx.stdout.write(`${topic ? commandHelp(topic) : fullHelp()}\n`);
      return EXIT_OK;
    }
    if (name === '--version' || name === '-V') {
      ctx.stdout.write(`${version()}\n`);
      return EXIT_OK;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(name.startsWith('-') ? `expected a command before ${name}` : unknownCommand(name));
    const values = parseFlags(rest, command.flags, flagsOfOtherCommands(command));
    if (values.help) {
      ctx.stdout.write(`${commandHelp(command)}\n`);
      return EXIT_OK;
    }
    return await command.run(values, ctx);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const where = name && COMMANDS.some((c) => c.name === name) ? ` ${name}` : '';
    ctx.stderr.write(`fastsocket${where}: ${err.message} (see fastsocket --help)\n`);
    return EXIT_USAGE;
  }
}

/**
 * Node writes to a pipe asynchronously on POSIX: once the reader lags and the pipe is full, lines wait in this
 * process, and a crash loses them. `serve --json` prints each message before its ack 2 leaves, so what its sender
 * holds an ack for must already be in the pipe: with a blocking pipe a write returns only then, and a reader that
 * falls behind slows the acks (the senders' outboxes hold the rest) instead of growing our memory. Only that
 * command asks for it: a log nobody reads should not stop a server. Files and terminals are synchronous already.
 */
function blockingStdout(): void {
  const handle = (process.stdout as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
  if (process.stdout.isTTY !== true) handle?.setBlocking?.(true);
}

/**
 * Writes `text` to stdout now. A reader that went away (`serve --json | head -1`) is known here, before the message
 * of this line is acknowledged: the stream reported it a turn later, after ack 2 had left, and the sender counted
 * delivered a message nobody read. So this ends the process at once, as a crash would: the message is not
 * acknowledged, and its sender sends it again.
 */
function writeStdoutNow(text: string): void {
  const bytes = Buffer.from(text);
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(1, bytes, done);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    process.stderr.write('fastsocket: stdout was closed: stopping before acknowledging a message that could not be printed\n');
    process.exit(EXIT_FAILURE);
  }
}

function runFromProcess(): void {
  const controller = new AbortController();
  const stop = () => {
    // A second Ctrl-C means: stop waiting for acks, now.
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A reader that went away (`fastsocket serve --json | head`) ends the command like a signal, without a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    controller.abort();
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: controller.signal, blockingStdout, writeStdoutNow }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`fastsocket: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(EXIT_FAILURE);
    },
  );
}

if (require.main === module) runFromProcess();
