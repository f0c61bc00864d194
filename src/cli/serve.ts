/** `fastsocket serve`: a server that prints every message and latency record until SIGINT/SIGTERM. */
import {
  DEFAULT_URL, FastSocketServer, LatencyRecorder, monotonicNs, RECORD_FORMATS, recordFormatFor, type LatencyRecord, type Logger, type MessageEvent,
  type ServerStats,
} from '../fastsocket';
import {
  asUsageError, limitFlagSpecs, limitOptions, oneOfFlag, SERVER_LIMIT_OPTIONS, SERVER_TLS_SPEC, serverTls,
  stringFlag, throwIfPathError, token, TOKEN_SPEC, UsageError, type FlagValues,
} from './args';
import { COMMON_FLAGS, logLevel, type Command, type CommandContext } from './command';
import { LatencySeries } from './latency-series';
import { formatTable, Terminal } from './terminal';

const STATUS_INTERVAL_TTY_MS = 500;
const STATUS_INTERVAL_LOG_MS = 10_000;
/** A write to stdout that took this long waited for its reader: the pipe was full. */
const STDOUT_BLOCKED_MS = 10;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Receive messages, ack them, and report the one-way latency of each (docs/protocol.md) until Ctrl-C.',
  usage: 'fastsocket serve [--url tcp://127.0.0.1:8888] [--json] [--state-dir DIR] [--record FILE] [limit flags]',
  flags: {
    url: { type: 'string', value: 'URL', help: `where to listen: tcp://, tls://, ws:// or wss:// (default ${DEFAULT_URL}; port 0 picks a free port)` },
    'state-dir': { type: 'string', value: 'DIR', help: 'journal of seen ids, so each message is handed over once even across a crash' },
    record: { type: 'string', value: 'FILE', help: 'write one line per latency record, with server_wall_ns, to FILE' },
    'record-format': { type: 'string', value: 'FORMAT', help: 'jsonl or csv (default: csv if FILE ends in .csv, else jsonl)' },
    ...limitFlagSpecs(SERVER_LIMIT_OPTIONS),
    ...TOKEN_SPEC,
    ...SERVER_TLS_SPEC,
    ...COMMON_FLAGS,
  },
  run: serve,
};

async function serve(v: FlagValues, ctx: CommandContext): Promise<number> {
  const json = v.json === true;
  // Message lines are hand-overs: one its sender holds an ack for must survive our crash (Terminal.jsonNow).
  if (json) ctx.blockingStdout?.();
  const stdoutWait = new StdoutWait();
  const term = new Terminal(ctx.stdout, ctx.stderr, 'serve', json && ctx.writeStdoutNow ? stdoutWait.timed(ctx.writeStdoutNow) : undefined);
  const logger = term.logger(logLevel(v));
  stdoutWait.logger = logger;
  const recordPath = stringFlag(v, 'record');
  if (v['record-format'] !== undefined && recordPath === undefined) throw new UsageError('--record-format needs --record FILE');
  const recordFormat = oneOfFlag(v, 'record-format', RECORD_FORMATS, recordFormatFor(recordPath ?? ''));

  const listenUrl = stringFlag(v, 'url') ?? DEFAULT_URL;
  const tls = serverTls(v, listenUrl);
  const limits = limitOptions(v, SERVER_LIMIT_OPTIONS);
  let server: FastSocketServer;
  try {
    server = new FastSocketServer({
      url: listenUrl,
      stateDir: stringFlag(v, 'state-dir'),
      token: token(v, ctx.env),
      tls,
      logger,
      ...limits,
    });
  } catch (err) {
    // The seen-ids journal is opened in the constructor: a folder we cannot use is a bad --state-dir.
    throwIfPathError(err, v, 'state-dir');
    asUsageError(err);
  }
  let recorder: LatencyRecorder | null = null;
  if (recordPath !== undefined) {
    try {
      recorder = new LatencyRecorder(recordPath, recordFormat);
    } catch (err) {
      await server.close();
      throw new UsageError(`--record: cannot write ${JSON.stringify(recordPath)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  const series = new LatencySeries(limits.syncMaxUncertaintyNs);
  server.on('connection', ({ peer }) => logger.debug(`connection from ${peer}`));
  server.on('disconnect', ({ peer }) => logger.debug(`${peer} disconnected`));
  server.on('latency', (r: LatencyRecord) => {
    recorder?.write(r);
    series.record(r);
    if (json) term.json({ event: 'latency', ...r });
  });
  if (json) server.on('message', (m: MessageEvent) => printMessage(term, m, logger.error));

  let url: string;
  try {
    url = await server.listen();
  } catch (err) {
    logger.error((err as Error).message);
    recorder?.close();
    await server.close();
    await term.drain();
    return 1;
  }
  if (json) term.json({ event: 'listening', url });
  else term.line(`fastsocket serve: listening on ${url}${recorder ? `, recording to ${recorder.path}` : ''} (Ctrl-C to stop)`);
  term.flush();

  const status = () => `${url}  ${statusLine(server.stats())}  ${series.brief()}`;
  let lastLogged = '';
  const timer = json
    ? null
    : setInterval(
        () => {
          if (term.interactive) term.live(status());
          else if (status() !== lastLogged) term.note(`fastsocket serve: ${(lastLogged = status())}`);
        },
        term.interactive ? STATUS_INTERVAL_TTY_MS : STATUS_INTERVAL_LOG_MS,
      );

  await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true })));
  if (timer) clearInterval(timer);
  await server.close();
  recorder?.close();
  const stats = server.stats();
  stdoutWait.report();
  if (json) term.json(summary(stats, recorder));
  else {
    term.endLive();
    term.line(summaryTable(stats, recorder));
    term.line('');
    term.line(series.table());
    if (series.resentSkipped > 0) term.line(`(${series.resentSkipped} records of resent messages left out of the statistics)`);
  }
  await term.drain();
  return 0;
}

/**
 * Time `serve --json` spent waiting for the reader of its stdout (blocking, so that what is acked is printed). While
 * it waits it reads nothing: the messages that arrive meanwhile wait in the socket, and that wait lands in their
 * latency as if the link had taken it (a reader taking 20 ms a line behind 100 messages/s made a 20/20 ms link read
 * 700 ms, p50). Said once when it first happens and in total at the end.
 */
class StdoutWait {
  private blockedNs = 0;
  private writes = 0;
  logger: Logger | null = null;

  timed(write: (text: string) => void): (text: string) => void {
    return (text) => {
      const start = monotonicNs();
      write(text);
      const tookNs = monotonicNs() - start;
      if (tookNs < STDOUT_BLOCKED_MS * 1e6) return;
      if (this.writes++ === 0) {
        this.logger?.warn(
          `printing a message line waited ${Math.round(tookNs / 1e6)} ms for the reader of stdout; messages that arrive while serve waits are ` +
            'not read, so their latency includes the wait as if the link had taken it: read stdout faster, or use --record FILE',
        );
      }
      this.blockedNs += tookNs;
    };
  }

  report(): void {
    if (this.writes === 0) return;
    this.logger?.warn(`stdout kept serve waiting ${Math.round(this.blockedNs / 1e6)} ms in all (${this.writes} writes of ${STDOUT_BLOCKED_MS} ms or more); the latency of messages that arrived meanwhile includes it`);
  }
}

function printMessage(term: Terminal, m: MessageEvent, onError: (msg: string) => void): void {
  try {
    term.jsonNow({ event: 'message', id: m.id, peer: m.peer, client_id: m.client_id, resent: m.resent, payload: m.payload });
  } catch (err) {
    // A payload JSON.parse accepted can still be too deeply nested for JSON.stringify.
    onError(`cannot print the payload of message ${m.id}: ${(err as Error).message}`);
    term.jsonNow({ event: 'message', id: m.id, peer: m.peer, client_id: m.client_id, resent: m.resent, payload: null, payload_error: (err as Error).message });
  }
}

function statusLine(s: ServerStats): string {
  return `${s.connections} connected (${s.connections_total} total), ${s.messages} messages, ${s.latencies} latencies, ${s.bad_frames} bad frames`;
}

/** The summary line of issue 2 (its fields first), then the server's other counters. */
function summary(s: ServerStats, recorder: LatencyRecorder | null): Record<string, unknown> {
  const {
    connections: _open, connections_total, messages, duplicates, latencies, ack3_unknown, ack3_expired, bad_frames, closed_bad,
    closed_oversize, closed_idle, bad_frames_by_reason, ...rest
  } = s;
  return {
    event: 'summary', connections: connections_total, messages, duplicates, latencies, ack3_unknown, ack3_expired, bad_frames,
    closed_bad, closed_oversize, closed_idle, ...rest, bad_frames_by_reason, ...(recorder ? { recorded: recorder.records } : {}),
  };
}

function summaryTable(s: ServerStats, recorder: LatencyRecorder | null): string {
  const rows: [string, ...number[]][] = [
    ['connections', s.connections_total],
    ['refused connections', s.connections_refused],
    ['messages', s.messages],
    ['duplicates (acked again, not handed over)', s.duplicates],
    ['resent by clients', s.resent],
    ['latency records', s.latencies],
    ['ack 3 unknown / of them late / expired', s.ack3_unknown, s.ack3_late, s.ack3_expired],
    ['bad frames', s.bad_frames],
    ['closed: bad / oversize / idle / frame timeout', s.closed_bad, s.closed_oversize, s.closed_idle, s.closed_frame_timeout],
    ['authentication failures', s.auth_failures],
  ];
  if (s.journal_errors > 0) rows.push(['failed writes of the --state-dir journal', s.journal_errors]);
  if (recorder) rows.push([`recorded to ${recorder.path}`, recorder.records]);
  return formatTable(['server', 'count'], rows.map(([label, ...n]) => [label, n.join(' / ')]));
}
