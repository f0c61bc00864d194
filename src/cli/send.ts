/** `fastsocket send`: send N payloads (or stdin's lines), wait for their acks, and report what arrived. */
import * as fs from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { DEFAULT_URL, FastSocketClient, JsonDepthError, MAX_TIMER_MS, messageFrameBytes, parseJson, stringifyJson, validateClientLimits, type ClientLimits, type ClientStats } from '../fastsocket';
import {
  asUsageError, CLIENT_LIMIT_OPTIONS, CLIENT_TLS_SPEC, clientTls, intFlag, jsonFlag, limitFlagSpecs, limitOptions, numberFlag,
  OUTBOX_POLICY_SPEC, outboxPolicy, stringFlag, throwIfPathError, token, TOKEN_SPEC, UsageError, type FlagValues,
} from './args';
import { COMMON_FLAGS, logLevel, type Command, type CommandContext } from './command';
import { connectWithin, repeat, sendAll, Tally, type LoopEnd, type Outgoing } from './send-loop';
import { formatTable, ms, round, Terminal } from './terminal';

const PROGRESS_INTERVAL_MS = 200;
/** After SIGINT or SIGTERM, how long acks already on their way are still waited for. */
const INTERRUPT_GRACE_MS = 1000;
/** Node's timers hold at most 2^31 - 1 ms (24.8 days); a longer --timeout fired after 1 ms, before any connect. */
const MAX_TIMEOUT_S = Math.floor(MAX_TIMER_MS / 1000);

export const sendCommand: Command = {
  name: 'send',
  summary: 'Send messages to a fastsocket server and report delivery and round-trip times. Exit 0 if all were delivered, 1 if not.',
  usage: 'fastsocket send [--url tcp://127.0.0.1:8888] [--count N] [--payload-bytes B | --payload JSON | --stdin] [--rate HZ] [--json]',
  flags: {
    url: { type: 'string', value: 'URL', help: `server to send to (default ${DEFAULT_URL})` },
    count: { type: 'string', value: 'N', help: 'messages to send (default 1000; with --stdin: at most N lines)' },
    'payload-bytes': { type: 'string', value: 'B', help: "payload: a JSON string of B 'x' characters (default 100)" },
    payload: { type: 'string', value: 'JSON', help: 'payload: this JSON value (NaN and Infinity allowed)' },
    stdin: { type: 'boolean', help: 'payloads: one JSON value per stdin line until end of input (bad lines are skipped and count as failed)' },
    rate: { type: 'string', value: 'HZ', help: 'messages per second (default: as fast as the outbox allows)' },
    'client-id': { type: 'string', value: 'ID', help: 'name this client to the server (sent in a hello)' },
    timeout: { type: 'string', value: 'S', help: 'seconds to wait for the first connection, and for acks after the last message (default 30)' },
    'clock-sync': { type: 'boolean', help: 'add wall-clock timestamps for the clock-synced latency extension' },
    'outbox-path': { type: 'string', value: 'FILE', help: 'keep unacknowledged messages in FILE, to be resent by the next run' },
    ...limitFlagSpecs(CLIENT_LIMIT_OPTIONS),
    ...OUTBOX_POLICY_SPEC,
    ...TOKEN_SPEC,
    ...CLIENT_TLS_SPEC,
    ...COMMON_FLAGS,
  },
  run: send,
};

async function send(v: FlagValues, ctx: CommandContext): Promise<number> {
  const sources = ['payload-bytes', 'payload', 'stdin'].filter((f) => v[f] !== undefined);
  if (sources.length > 1) throw new UsageError(`${sources.map((s) => `--${s}`).join(' and ')} exclude each other: pick one payload source`);
  const fromStdin = v.stdin === true;
  // Node reads a directory on stdin as an empty stream: `send --stdin < dir` sent nothing and exited 0.
  if (fromStdin && ctx.stdin === process.stdin && stdinIsDirectory()) throw new UsageError('--stdin: standard input is a directory, not a stream of lines');
  const count = intFlag(v, 'count', 0, 1000);
  const rate = numberFlag(v, 'rate', 0);
  const timeoutMs = Math.round(numberFlag(v, 'timeout', 0, 30, MAX_TIMEOUT_S)! * 1000);
  const json = v.json === true;
  const term = new Terminal(ctx.stdout, ctx.stderr, 'send');
  const logger = term.logger(logLevel(v));
  // `cat data.ndjson | fastsocket send` sent the generated payloads and said nothing of the lines it left unread.
  if (sources.length === 0 && ctx.stdin === process.stdin && stdinIsPipeOrFile()) {
    logger.warn(`standard input is not read without --stdin: sending ${count} payloads of 100 'x' characters instead`);
  }

  const policy = outboxPolicy(v);
  const limits = limitOptions(v, CLIENT_LIMIT_OPTIONS);
  // Checked before the payload is measured against them: `--max-frame-bytes 0` read "the payload is 102 bytes, more
  // than --max-frame-bytes (0)", as if the payload were at fault.
  let checked: ClientLimits;
  try {
    checked = validateClientLimits(limits);
  } catch (err) {
    asUsageError(err);
  }
  const maxInFlight = checked.outboxMaxMessages;
  const maxInFlightBytes = checked.outboxMaxBytes;
  let source: Iterable<Outgoing> | AsyncIterable<Outgoing>;
  if (fromStdin) source = stdinPayloads(ctx.stdin, v.count !== undefined ? count : Infinity, ctx.signal);
  else {
    // Not `??`: `--payload null` is a value to send, not an absent flag.
    const given = jsonFlag(v, 'payload');
    const payload = given !== undefined ? given.value : 'x'.repeat(intFlag(v, 'payload-bytes', 0, 100));
    let json: string;
    try {
      json = stringifyJson(payload);
    } catch (err) {
      throw new UsageError(`--payload cannot be sent as JSON: ${(err as Error).message}`);
    }
    const bytes = Buffer.byteLength(json);
    // Caught here once, rather than as the same refusal for each of --count messages. The frame is the payload in
    // its message 1 envelope, at its largest (a resend with every optional field).
    const maxFrame = checked.maxFrameBytes;
    const frameBytes = messageFrameBytes(bytes);
    if (frameBytes > maxFrame) {
      throw new UsageError(`the payload is ${bytes} bytes, ${frameBytes} as a message frame: more than --max-frame-bytes (${maxFrame})`);
    }
    if (bytes > maxInFlightBytes) throw new UsageError(`the payload is ${bytes} bytes, more than --outbox-max-bytes (${maxInFlightBytes})`);
    source = repeat(payload, bytes, count);
  }

  const serverUrl = stringFlag(v, 'url') ?? DEFAULT_URL;
  const tls = clientTls(v, serverUrl);
  let client: FastSocketClient;
  try {
    client = new FastSocketClient({
      url: serverUrl,
      clientId: stringFlag(v, 'client-id'),
      token: token(v, ctx.env),
      tls,
      clockSync: v['clock-sync'] === true,
      outboxPath: stringFlag(v, 'outbox-path'),
      connectTimeoutMs: Math.max(1, Math.min(10_000, timeoutMs)),
      outboxPolicy: policy,
      logger,
      ...limits,
    });
  } catch (err) {
    // The outbox file is opened in the constructor: a path we cannot use (a folder, under a file) is a bad --outbox-path.
    throwIfPathError(err, v, 'outbox-path');
    asUsageError(err);
  }
  // Why the last attempt failed, for the last line: with --log-level error it is the only one about connecting.
  let lastFailure = null as Error | null;
  client.on('disconnect', ({ error }) => (lastFailure = error ?? lastFailure));
  // Closes and failed dials once connected: an outbox that overflowed then did so because the server was away.
  let connectedOnce = false;
  let lostConnection = 0;
  client.on('connect', () => (connectedOnce = true));
  client.on('disconnect', () => (lostConnection += connectedOnce ? 1 : 0));
  if (json) {
    client.on('connect', ({ url }) => term.json({ event: 'connected', url }));
    // A ws server's close code and reason, when it began the close: error alone is null for a 1008 "token expired".
    client.on('disconnect', ({ error, closeCode, closeReason }) =>
      term.json({ event: 'disconnected', error: error?.message ?? null, ...(closeCode === null ? {} : { close_code: closeCode, close_reason: closeReason }) }),
    );
  }

  const tally = new Tally();
  const planned = () => (fromStdin ? tally.inputs : count);
  const progress = setInterval(() => {
    const total = fromStdin ? '' : `/${count}`;
    term.live(`${client.connected ? 'connected' : 'connecting'}  queued ${tally.queued}${total}  delivered ${tally.delivered}  in flight ${tally.inFlight}  rtt p50 ${ms(tally.rtt.total().p50)} ms`);
  }, PROGRESS_INTERVAL_MS);

  // The client retries the first connect by itself; --timeout bounds how long we let it.
  const connected = await connectWithin(client, timeoutMs, ctx.signal);
  let end: LoopEnd | 'unreachable' = 'unreachable';
  if (connected) {
    end = await sendAll(
      client,
      source,
      {
        rate,
        maxInFlight,
        maxInFlightBytes,
        stallTimeoutMs: timeoutMs,
        signal: ctx.signal,
        onReject: (why) => logger.warn(why),
      },
      tally,
    );
    if (end === 'stalled') logger.error(`no ack for ${timeoutMs / 1000} s with the outbox window full; not sending the rest`);
  } else {
    // The error's own message starts "cannot connect to <url>: "; its cause says the rest.
    const why = lastFailure === null ? '' : `: ${lastFailure.cause instanceof Error ? lastFailure.cause.message : lastFailure.message}`;
    // Interrupted before the first connection (a server holding the handshake), send exited 1 with no word of why.
    logger.error(
      ctx.signal.aborted
        ? `interrupted (SIGINT or SIGTERM) before connecting to ${client.url}${why ? `; the last attempt failed${why}` : ''}`
        : `could not connect to ${client.url} within ${timeoutMs / 1000} s${why}`,
    );
  }
  // After an interrupt, wait at most 1 s more for acks already on their way, also when the interrupt comes while
  // waiting for the last acks; then what is still unacknowledged is given up.
  let giveUp: NodeJS.Timeout | undefined;
  const interrupted = (): void => {
    giveUp = setTimeout(() => client.destroy(), Math.min(timeoutMs, INTERRUPT_GRACE_MS));
  };
  if (ctx.signal.aborted) interrupted();
  else ctx.signal.addEventListener('abort', interrupted, { once: true });
  // A stalled run has already waited --timeout since its last message was queued, with no ack at all: waiting as long
  // again made `send --timeout 30` against a server that reads and never acks end after 60 s.
  const stats = await client.close({ timeoutMs: end === 'stalled' ? 0 : timeoutMs });
  ctx.signal.removeEventListener('abort', interrupted);
  clearTimeout(giveUp);
  clearInterval(progress);
  const failed = planned() - tally.delivered;
  const result = summary(stats, tally, failed);
  const shortfall = tally.rateShortfall(rate);
  if (shortfall) logger.warn(shortfall);
  // Unreachable, the last line stays the one that says why the last attempt to connect failed.
  if (failed > 0 && end !== 'unreachable') {
    logger.error(whyFailed(failed, planned(), tally, { policy, timeoutMs, rate, maxAttempts: limits.maxAttempts ?? 0, lostConnection, interrupted: ctx.signal.aborted }));
  }
  if (json) term.json(result);
  else {
    term.endLive();
    term.line(humanSummary(client.url, result, tally));
  }
  await term.drain();
  // Ctrl-C is how a --stdin stream ends (tail -f | fastsocket send --stdin): what was read counts, not what was not.
  const finished = end === 'done' || (fromStdin && end === 'aborted');
  return finished && failed === 0 ? 0 : 1;
}

/** The line that says why `send` exits 1: a summary with `failed` above 0 said how many, not why. */
function whyFailed(
  failed: number,
  planned: number,
  tally: Tally,
  o: { policy: string; timeoutMs: number; rate?: number; maxAttempts: number; lostConnection: number; interrupted: boolean },
): string {
  const notQueued = planned - tally.badInputs - tally.queued;
  const outboxFull = tally.dropped - tally.droppedMaxAttempts;
  const unacknowledged = tally.undelivered - tally.tooLarge;
  // An outage fills the outbox at any rate: blaming the rate sent users looking for a link that was too slow.
  const overflow =
    o.rate === undefined
      ? ''
      : o.lostConnection > 0
        ? `: the connection to the server was lost (${o.lostConnection} disconnects and failed dials) and the outbox filled meanwhile; --outbox-max-messages and --outbox-max-bytes bound how long an outage it bridges at --rate`
        : ': the acks did not keep up with --rate';
  const parts = [
    tally.badInputs > 0 ? `${tally.badInputs} input ${tally.badInputs === 1 ? 'line' : 'lines'} skipped` : '',
    outboxFull > 0 ? `${outboxFull} dropped from the full outbox (--outbox-policy ${o.policy}${overflow})` : '',
    tally.droppedMaxAttempts > 0 ? `${tally.droppedMaxAttempts} dropped after --max-attempts ${o.maxAttempts} connections closed with each unacknowledged` : '',
    tally.tooLarge > 0 ? `${tally.tooLarge} refused as too large (the warnings above say for what)` : '',
    // After SIGINT the wait for acks was cut short: "within --timeout 600 s" named a wait that never happened.
    unacknowledged > 0 ? `${unacknowledged} refused or not acknowledged ${o.interrupted ? 'when interrupted (SIGINT or SIGTERM)' : `within --timeout ${o.timeoutMs / 1000} s`}` : '',
    notQueued > 0 ? `${notQueued} never sent` : '',
  ].filter((p) => p !== '');
  return `${failed} of ${planned} messages not delivered: ${parts.join(', ')}`;
}

function stdinIsDirectory(): boolean {
  return stdinStat()?.isDirectory() ?? false;
}

/** Whether standard input is a shell pipe or a redirected file: data a user may have meant to send. */
function stdinIsPipeOrFile(): boolean {
  const stat = stdinStat();
  return stat !== null && (stat.isFIFO() || stat.isFile());
}

function stdinStat(): fs.Stats | null {
  try {
    return fs.fstatSync(0);
  } catch {
    return null;
  }
}

/** One payload per non-blank stdin line; a line that is not JSON becomes an error entry naming its number. */
async function* stdinPayloads(input: Readable, limit: number, signal: AbortSignal): AsyncIterable<Outgoing> {
  if (limit <= 0) return;
  // Lines are split as bytes (latin1 is one char per byte; \r and \n never occur inside a UTF-8 sequence) and
  // decoded strictly below: decoded by readline, a line of invalid UTF-8 was sent with U+FFFD in place of its bytes.
  input.setEncoding('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  // The signal ends the iteration, so Ctrl-C does not wait for a line that a terminal may never send.
  const lines = createInterface({ input, crlfDelay: Infinity, signal });
  let lineNo = 0;
  let taken = 0;
  for await (const raw of lines) {
    lineNo++;
    const bytes = Buffer.from(raw, 'latin1');
    let line: string;
    try {
      line = utf8.decode(bytes);
    } catch {
      yield { error: `stdin line ${lineNo} skipped: not UTF-8` };
      if (++taken >= limit) break;
      continue;
    }
    // RFC 8259 §8.1 lets a parser ignore a byte order mark; kept, it made the first line of a file saved with one "not JSON".
    if (lineNo === 1 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.trim() === '') continue;
    try {
      yield { payload: parseJson(line), bytes: bytes.length, label: `stdin line ${lineNo}` };
    } catch (err) {
      yield { error: `stdin line ${lineNo} skipped: ${err instanceof JsonDepthError ? err.message : `not JSON (${(err as Error).message})`}` };
    }
    if (++taken >= limit) break;
  }
  lines.close();
}

interface SendSummary {
  event: 'summary';
  sent: number;
  delivered: number;
  failed: number;
  dropped: number;
  resent: number;
  reconnects: number;
  /** null when nothing was delivered. */
  rtt_p50_us: number | null;
  rtt_p99_us: number | null;
  msgs_per_s: number;
}

function summary(stats: ClientStats, tally: Tally, failed: number): SendSummary {
  const rtt = tally.rttMicros();
  return {
    event: 'summary',
    sent: stats.sent,
    delivered: tally.delivered,
    failed,
    // The client's own count: outbox policy (reject included), --max-attempts, a payload over the server's limit.
    dropped: stats.dropped + stats.rejected,
    resent: stats.resent,
    reconnects: stats.reconnects,
    rtt_p50_us: rtt.p50,
    rtt_p99_us: rtt.p99,
    msgs_per_s: round(tally.msgsPerSecond),
  };
}

function humanSummary(url: string, s: SendSummary, tally: Tally): string {
  const r = tally.rtt.total();
  const counts = formatTable(
    [`sent to ${url}`, 'count'],
    [
      ['sent', s.sent],
      ['delivered', s.delivered],
      ['failed', s.failed],
      ['dropped (outbox policy, --max-attempts, too large)', s.dropped],
      ['resent after a reconnect', s.resent],
      ['reconnects', s.reconnects],
      ['delivered per second', s.msgs_per_s],
    ].map(([k, n]) => [String(k), String(n)]),
  );
  const rtt = formatTable(
    ['round trip (ms)', 'count', 'p50', 'p90', 'p99', 'mean', 'max'],
    [['T1: message written -> ack read', String(r.count), ...[r.p50, r.p90, r.p99, r.mean, r.max].map((v) => (r.count === 0 ? '-' : ms(v)))]],
  );
  const bad = tally.badInputs > 0 ? `\n${tally.badInputs} input lines were not JSON (or not UTF-8) and were skipped` : '';
  return `${counts}\n\n${rtt}${bad}`;
}
