/** What every subcommand gets and shares: its I/O, a cancellation signal, and the common flags. */
import type { Readable } from 'node:stream';
import { oneOfFlag, type FlagSpecs, type FlagValues } from './args';
import type { LogLevel, Stream } from './terminal';

export interface CommandContext {
  stdout: Stream;
  stderr: Stream;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM: the command finishes cleanly, prints its summary and returns. */
  signal: AbortSignal;
  /**
   * Makes writes to stdout return only once the operating system has the bytes, when stdout is a pipe or socket
   * (Node writes those asynchronously on POSIX). For output a crash must not lose: `serve --json` message lines.
   */
  blockingStdout?: () => void;
  /**
   * Writes to stdout before returning, and when the reader has gone (EPIPE) ends the process at once, as a crash
   * would: for `serve --json` message lines, whose ack 2 leaves only after the line is out.
   */
  writeStdoutNow?: (text: string) => void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpecs;
  /** Runs with the parsed flags; resolves with the exit code; throws UsageError for a bad flag value. */
  run(values: FlagValues, ctx: CommandContext): Promise<number>;
}

export const COMMON_FLAGS: FlagSpecs = {
  json: { type: 'boolean', help: 'one JSON object per line on stdout (logs stay on stderr)' },
  'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn or error (default warn)' },
  verbose: { type: 'boolean', short: 'v', help: 'same as --log-level info' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export function logLevel(values: FlagValues): LogLevel {
  return oneOfFlag(values, 'log-level', ['debug', 'info', 'warn', 'error'] as const, values.verbose === true ? 'info' : 'warn');
}

/** Help text of one command: usage line, summary, then one line per flag. */
export function commandHelp(cmd: Command): string {
  const entries = Object.entries(cmd.flags).map(([name, spec]) => {
    const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [left, spec.help] as const;
  });
  const width = Math.max(...entries.map(([left]) => left.length)) + 2;
  return [`usage: ${cmd.usage}`, '', cmd.summary, '', ...entries.map(([left, help]) => `  ${left.padEnd(width)}${help}`)].join('\n');
}
