import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseJson, type FastSocketClient } from '../../src/fastsocket';
import { DelayProxy } from '../support/delay-proxy';
import { startClient, startRawPeer } from '../support/fixtures';
import { isMessage, RawServer } from '../support/raw-server';
import { testCerts } from '../support/tls-certs';
import { useTeardown, type Teardown } from '../support/teardown';
import { waitUntil, withDeadline } from '../support/wait';

/** The command as installed: `npm run build` compiles it to dist/ (package.json bin). */
const MAIN = path.resolve(__dirname, '../../../dist/cli/main.js');
const DEADLINE_MS = 15_000;

type Json = Record<string, unknown>;

/** A `fastsocket` process whose stdout and stderr are split into lines as they arrive. */
class Cli extends EventEmitter {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  /** @param fileSizeKb the largest file (KiB) the process may write (RLIMIT_FSIZE): a disk that fills up, without root. */
  constructor(args: string[], { env, stdin, fileSizeKb }: { env?: NodeJS.ProcessEnv; stdin?: string | Buffer; fileSizeKb?: number } = {}) {
    super();
    const [command, ...rest] = fileSizeKb === undefined
      ? [process.execPath, MAIN, ...args]
      : ['/bin/sh', '-c', `ulimit -f ${fileSizeKb} && exec "$0" "$@"`, process.execPath, MAIN, ...args];
    this.child = spawn(command, rest, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.split('stdout', this.stdout);
    this.split('stderr', this.stderr);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    if (stdin !== undefined) this.child.stdin!.end(stdin);
  }

  /** stdout lines parsed as JSON (Python-style NaN accepted), keeping those of one event. */
  events(event: string): Json[] {
    return this.stdout.filter((l) => l.startsWith('{')).map((l) => parseJson(l) as Json).filter((o) => o.event === event);
  }

  /** Resolves with the first JSON line of `event` on stdout that satisfies `filter`, past or future. */
  waitForEvent(event: string, filter: (o: Json) => boolean = () => true, ms = DEADLINE_MS): Promise<Json> {
    return withDeadline(
      new Promise<Json>((resolve) => {
        const check = () => {
          const found = this.events(event).find(filter);
          if (!found) return;
          this.off('line', check);
          resolve(found);
        };
        this.on('line', check);
        check();
      }),
      `a "${event}" line from fastsocket ${this.describe()}`,
      ms,
    );
  }

  /** Resolves with the exit code; fails the test if the process is still running after `ms`. */
  exitCode(ms = DEADLINE_MS): Promise<number | null> {
    return withDeadline(this.exited, `fastsocket ${this.describe()} to exit (stderr: ${this.stderr.join(' | ')})`, ms);
  }

  private describe(): string {
    return this.child.spawnargs.slice(2).join(' ');
  }

  private split(name: 'stdout' | 'stderr', into: string[]): void {
    let rest = '';
    this.child[name]!.setEncoding('utf8');
    this.child[name]!.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      into.push(...parts);
      if (parts.length > 0) this.emit('line');
    });
  }
}

function startCli(teardown: Teardown, args: string[], opts?: { env?: NodeJS.ProcessEnv; stdin?: string | Buffer; fileSizeKb?: number }): Cli {
  const cli = new Cli(args, opts);
  teardown.add(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  return cli;
}

/** Starts `serve --json` on port 0 and resolves with the process and the URL of its listening line. */
async function startServe(teardown: Teardown, url: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ serve: Cli; url: string }> {
  const serve = startCli(teardown, ['serve', '--url', url, '--json', ...extra], { env });
  const listening = await serve.waitForEvent('listening');
  return { serve, url: listening.url as string };
}

/** Starts `serve` on tcp port 0 with its human-readable output and resolves with the URL of its first line. */
async function startServeHuman(teardown: Teardown): Promise<{ serve: Cli; url: string }> {
  const serve = startCli(teardown, ['serve', '--url', 'tcp://127.0.0.1:0']);
  await waitUntil(() => serve.stdout.length > 0, 'the listening line', DEADLINE_MS);
  return { serve, url: /(tcp:\/\/127\.0\.0\.1:\d+)/.exec(serve.stdout[0])![1] };
}

function tmpDir(teardown: Teardown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-cli-'));
  teardown.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on right now (bound on 127.0.0.1, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('fastsocket CLI', function () {
  this.timeout(60_000);
  const teardown = useTeardown();

  before(function () {
    assert.ok(fs.existsSync(MAIN), `${MAIN} is missing: run npm run build first`);
  });

  describe('serve and send', () => {
    for (const scheme of ['tcp', 'ws']) {
      it(`delivers every message over ${scheme} and prints a message and a latency line for each`, async () => {
        const { serve, url } = await startServe(teardown, `${scheme}://127.0.0.1:0`);
        assert.match(url, scheme === 'ws' ? /^ws:\/\/127\.0\.0\.1:\d+\/$/ : /^tcp:\/\/127\.0\.0\.1:\d+$/);
        const send = startCli(teardown, ['send', '--url', url, '--count', '200', '--payload-bytes', '20', '--client-id', 'veh-17', '--json']);

        assert.equal(await send.exitCode(), 0);
        const summary = send.events('summary');
        assert.equal(summary.length, 1);
        assert.equal(send.stdout.at(-1), JSON.stringify(summary[0]), 'the summary is the last line');
        assert.deepEqual(
          { sent: summary[0].sent, delivered: summary[0].delivered, failed: summary[0].failed, dropped: summary[0].dropped, resent: summary[0].resent },
          { sent: 200, delivered: 200, failed: 0, dropped: 0, resent: 0 },
        );
        assert.ok((summary[0].rtt_p50_us as number) > 0 && (summary[0].rtt_p99_us as number) >= (summary[0].rtt_p50_us as number));
        assert.ok((summary[0].msgs_per_s as number) > 0);

        await waitUntil(() => serve.events('latency').length >= 200, '200 latency lines', DEADLINE_MS);
        const messages = serve.events('message');
        assert.equal(messages.length, 200);
        assert.ok(messages.every((m) => m.payload === 'x'.repeat(20) && m.client_id === 'veh-17' && m.resent === false));
        const latencies = serve.events('latency');
        assert.deepEqual(new Set(latencies.map((l) => l.id)), new Set(messages.map((m) => m.id)));
        for (const l of latencies) {
          assert.ok(Number.isInteger(l.t1_ns) && Number.isInteger(l.t2_ns) && Number.isInteger(l.latency_ns), JSON.stringify(l));
          assert.ok((l.latency_corrected_ns as number) > 0 && l.client_id === 'veh-17', JSON.stringify(l));
        }
      });
    }

    it('prints a payload as it was received, Python-style NaN and integers beyond a double included', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const payload = '{"v": NaN, "s": "\u00fc\u20ac", "stamp_ns": 1764412345123456789, "id": 18446744073709551615}';
      const send = startCli(teardown, ['send', '--url', url, '--count', '1', '--payload', payload, '--json']);
      assert.equal(await send.exitCode(), 0);
      await serve.waitForEvent('message');
      const line = serve.stdout.find((l) => l.includes('"event":"message"'))!;
      assert.ok(line.endsWith('"payload":{"v":NaN,"s":"\u00fc\u20ac","stamp_ns":1764412345123456789,"id":18446744073709551615}}'), line);
    });

    it('takes the last value of a flag given twice, so a script can append an override to its defaults', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', 'tcp://127.0.0.1:9', '--count', '5', '--json', '--url', url, '--count', '2']);
      assert.equal(await send.exitCode(), 0, send.stderr.join('\n'));
      assert.equal(send.events('summary')[0]?.delivered, 2);
      await waitUntil(() => serve.events('message').length >= 2, 'two message lines', DEADLINE_MS);
    });

    it('sends --payload null as null, not as the default payload', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--count', '2', '--payload', 'null', '--json']);
      assert.equal(await send.exitCode(), 0, send.stderr.join('\n'));
      await waitUntil(() => serve.events('message').length >= 2, 'two message lines', DEADLINE_MS);
      assert.deepEqual(serve.events('message').map((m) => m.payload), [null, null]);
    });

    it('prints human-readable tables without --json', async () => {
      const { url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--count', '10']);
      assert.equal(await send.exitCode(), 0);
      assert.ok(send.stdout.some((l) => /^delivered\s+10$/.test(l)) && send.stdout.some((l) => /^failed\s+0$/.test(l)), send.stdout.join('\n'));
      assert.ok(send.stdout.some((l) => /^T1: message written -> ack read\s+10\s/.test(l)), send.stdout.join('\n'));
    });
  });

  describe('send --stdin', () => {
    it('sends one payload per line, skips a line that is not JSON or nests too deep, counts each as failed and exits 1', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const deep = `${'['.repeat(1001)}${']'.repeat(1001)}`;
      const send = startCli(teardown, ['send', '--url', url, '--stdin', '--json'], { stdin: `{"a": 1}\nnot json\n${deep}\n\n[1, 2]\n"three"\n` });

      assert.equal(await send.exitCode(), 1);
      const [summary] = send.events('summary');
      assert.deepEqual({ sent: summary.sent, delivered: summary.delivered, failed: summary.failed }, { sent: 3, delivered: 3, failed: 2 });
      assert.ok(send.stderr.some((l) => l.includes('line 2') && l.includes('not JSON')), `stderr names the bad line: ${send.stderr.join(' | ')}`);
      assert.ok(send.stderr.some((l) => l.includes('line 3') && l.includes('deeper than 1000 levels')), `stderr names the deep line: ${send.stderr.join(' | ')}`);
      await waitUntil(() => serve.events('message').length >= 3, 'three message lines', DEADLINE_MS);
      assert.deepEqual(serve.events('message').map((m) => m.payload), [{ a: 1 }, [1, 2], 'three']);
    });

    it('names the line of a payload too large for --max-frame-bytes, skips it and sends the rest', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--stdin', '--json', '--max-frame-bytes', '300'], { stdin: `"small"\n"${'x'.repeat(400)}"\n"after"\n` });
      assert.equal(await send.exitCode(), 1);
      assert.equal(send.events('summary')[0]?.delivered, 2);
      assert.ok(send.stderr.some((l) => l.includes('stdin line 2 skipped') && l.includes('max_frame_bytes')), `stderr names the line: ${send.stderr.join(' | ')}`);
      await waitUntil(() => serve.events('message').length >= 2, 'two message lines', DEADLINE_MS);
      assert.deepEqual(serve.events('message').map((m) => m.payload), ['small', 'after']);
    });

    it('skips a line of invalid UTF-8 as a bad line, rather than sending it with U+FFFD in place of its bytes', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const stdin = Buffer.concat([Buffer.from('"a\xff\xfeb"\n', 'latin1'), Buffer.from('"\u00e9\u20ac"\r\n"last"')]);
      const send = startCli(teardown, ['send', '--url', url, '--stdin', '--json'], { stdin });

      assert.equal(await send.exitCode(), 1);
      const [summary] = send.events('summary');
      assert.deepEqual({ sent: summary.sent, delivered: summary.delivered, failed: summary.failed }, { sent: 2, delivered: 2, failed: 1 });
      assert.ok(send.stderr.some((l) => l.includes('line 1') && l.includes('not UTF-8')), `stderr names the bad line: ${send.stderr.join(' | ')}`);
      assert.ok(send.stderr.some((l) => l.includes('1 of 3 messages not delivered: 1 input line skipped')), send.stderr.join(' | '));
      await waitUntil(() => serve.events('message').length >= 2, 'two message lines', DEADLINE_MS);
      assert.deepEqual(serve.events('message').map((m) => m.payload), ['\u00e9\u20ac', 'last']);
    });

    // `send < data.ndjson` or `cat data.ndjson | send`, with --stdin forgotten, sent the generated payloads and said
    // nothing of the lines it left unread: the summary read "delivered 1000", and the data never went.
    it('warns that standard input is not read when it is a file or a pipe and no payload flag is given', async () => {
      const { url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const file = path.join(tmpDir(teardown), 'data.ndjson');
      fs.writeFileSync(file, '{"a": 1}\n');
      const fd = fs.openSync(file, 'r');
      const child = spawn(process.execPath, [MAIN, 'send', '--url', url, '--count', '2', '--json'], { stdio: [fd, 'pipe', 'pipe'] });
      fs.closeSync(fd);
      teardown.add(() => child.kill('SIGKILL'));
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout!.resume();
      const code = await withDeadline(new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))), 'send to exit', DEADLINE_MS);
      assert.equal(code, 0, stderr);
      assert.match(stderr, /standard input is not read without --stdin/);
    });

    it('reads a file that starts with a UTF-8 byte order mark (as Notepad saves one) from its first line', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--stdin', '--json'], { stdin: Buffer.from('\ufeff{"a": 1}\n2\n') });

      assert.equal(await send.exitCode(), 0, send.stderr.join(' | '));
      await waitUntil(() => serve.events('message').length >= 2, 'two message lines', DEADLINE_MS);
      assert.deepEqual(serve.events('message').map((m) => m.payload), [{ a: 1 }, 2]);
    });
  });

  describe('usage errors', () => {
    const cases: [string[], string][] = [
      [['send', '--bogus'], '--bogus'],
      [['send', '--count', 'many'], '--count'],
      [['send', '--count'], '--count'],
      [['send', '--rate', '0'], '--rate'],
      // Past Node's 2^31 - 1 ms timer limit: the wait for the first connect ended after 1 ms.
      [['send', '--url', 'tcp://127.0.0.1:1', '--timeout', '3000000'], '--timeout'],
      [['send', '--payload', '{nope'], '--payload'],
      [['send', '--url', 'tcp://127.0.0.1:1', '--reconnect-max-ms', '3000000000'], '--reconnect-max-ms'],
      [['send', '--stdin', '--payload-bytes', '5'], '--stdin'],
      [['send', '--outbox-policy', 'keep-all'], '--outbox-policy'],
      [['send', '--payload-bytes', '2000', '--max-frame-bytes', '1000'], '--max-frame-bytes'],
      [['serve', '--max-frame-bytes', '1'], '--max-frame-bytes'],
      [['serve', '--idle-timeout-ms=0'], '--idle-timeout-ms'],
      [['serve', '--url', 'http://127.0.0.1:0'], '--url'],
      [['serve', '--url', 'tcp://127.0.0.1:65536'], '--url'],
      // It was retried until --timeout (ECONNREFUSED) and exited 1.
      [['send', '--url', 'tcp://127.0.0.1:0', '--timeout', '2'], '--url'],
      [['serve', '--url', 'tls://127.0.0.1:0'], '--cert'],
      [['serve', '--record-format', 'xml', '--record', 'x'], '--record-format'],
      [['serve', '--url', 'tcp://127.0.0.1:0', '--cert', __filename, '--key', __filename], '--cert and --key need a tls:// or wss:// --url'],
      [['send', '--url', 'ws://127.0.0.1:1/', '--ca', __filename], '--ca needs a tls:// or wss:// --url'],
      [['send', '--url', 'tcp://127.0.0.1:1', '--servername', 'infra.example.org'], '--servername needs a tls:// or wss:// --url'],
      [['send', '--url', 'tls://127.0.0.1:1', '--servername', '127.0.0.1'], '--servername "127.0.0.1" is an address'],
      [['serve', '--url', 'tls://127.0.0.1:0', '--cert', __filename, '--key', __filename], '--cert: '],
      // 950 bytes of payload fit under 1000, the message 1 frame around them does not.
      [['send', '--payload-bytes', '950', '--max-frame-bytes', '1000'], 'as a message frame: more than --max-frame-bytes'],
      [['serve', '--url', 'tcp://127.0.0.1:0', '--state-dir', path.join(__filename, 'not-a-folder')], '--state-dir'],
      // A file in place of the folder, and an outbox path that is a folder or under a file: each was an internal error
      // with a stack trace.
      [['serve', '--url', 'tcp://127.0.0.1:0', '--state-dir', __filename], '--state-dir'],
      [['send', '--url', 'tcp://127.0.0.1:9', '--outbox-path', __dirname], '--outbox-path'],
      [['send', '--url', 'tcp://127.0.0.1:9', '--outbox-path', path.join(__filename, 'outbox.log')], '--outbox-path'],
      [['frobnicate'], 'frobnicate'],
      // Each was "the payload is 102 bytes, more than --... (0)", blaming the payload for the flag's bad value.
      [['send', '--url', 'tcp://127.0.0.1:9', '--max-frame-bytes', '0'], '--max-frame-bytes must be an integer from 64'],
      [['send', '--url', 'tcp://127.0.0.1:9', '--outbox-max-bytes', '0'], '--outbox-max-bytes must be an integer from 1'],
    ];
    for (const [args, flag] of cases) {
      it(`exits 2 with one line naming ${flag} when given: ${args.join(' ')}`, async () => {
        const cli = startCli(teardown, args);
        assert.equal(await cli.exitCode(), 2);
        assert.equal(cli.stderr.length, 1, cli.stderr.join('\n'));
        assert.ok(cli.stderr[0].includes(flag) && cli.stderr[0].includes('fastsocket --help'), cli.stderr[0]);
        assert.deepEqual(cli.stdout, []);
      });
    }

    // Each said only "unknown command" or "unknown option", and the reader had to find the right name in --help.
    const typos: [string[], string][] = [
      [['sned'], 'unknown command "sned" (did you mean send?)'],
      [['send', '--cuont', '3'], 'unknown option --cuont (did you mean --count?)'],
      [['serve', '--max-frame-byte', '100'], 'unknown option --max-frame-byte (did you mean --max-frame-bytes?)'],
      [['serve', '--count', '5'], 'unknown option --count (it is a flag of send)'],
      [['demo', '--client-cert', 'x'], 'unknown option --client-cert (it is a flag of send)'],
    ];
    for (const [args, says] of typos) {
      it(`exits 2 suggesting the name meant for: ${args.join(' ')}`, async () => {
        const cli = startCli(teardown, args);
        assert.equal(await cli.exitCode(), 2);
        assert.equal(cli.stderr.length, 1, cli.stderr.join('\n'));
        assert.ok(cli.stderr[0].includes(says), cli.stderr[0]);
      });
    }

    it('gives no hint for a flag named like a property every object has (--constructor, --__proto__)', async () => {
      for (const flag of ['--constructor', '--__proto__']) {
        const cli = startCli(teardown, ['send', flag]);
        assert.equal(await cli.exitCode(), 2);
        assert.deepEqual(cli.stderr, [`fastsocket send: unknown option ${flag} (see fastsocket --help)`]);
      }
    });

    it('exits 2 naming --outbox-path and leaves the file as it was when it names a file that is not an outbox', async () => {
      const file = path.join(tmpDir(teardown), 'bridge.yaml');
      fs.writeFileSync(file, 'url: tcp://10.0.0.5:8888\nclient_id: vehicle_1\n');
      const cli = startCli(teardown, ['send', '--url', 'tcp://127.0.0.1:9', '--outbox-path', file]);
      assert.equal(await cli.exitCode(), 2);
      assert.equal(cli.stderr.length, 1, cli.stderr.join('\n'));
      assert.match(cli.stderr[0], /--outbox-path: .*is not an outbox file/);
      assert.equal(fs.readFileSync(file, 'utf8'), 'url: tcp://10.0.0.5:8888\nclient_id: vehicle_1\n');
    });

    it('exits 2 naming --stdin when standard input is a directory, which Node reads as an empty stream', async () => {
      const dir = tmpDir(teardown);
      const fd = fs.openSync(dir, 'r');
      const child = spawn(process.execPath, [MAIN, 'send', '--stdin', '--url', 'tcp://127.0.0.1:9', '--timeout', '1'], { stdio: [fd, 'pipe', 'pipe'] });
      fs.closeSync(fd);
      teardown.add(() => child.kill('SIGKILL'));
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await withDeadline(new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))), 'send to exit', DEADLINE_MS);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /--stdin: standard input is a directory/);
    });

    it('exits 2 naming --cert and --key when they are swapped', async () => {
      const certs = await testCerts();
      const cli = startCli(teardown, ['serve', '--url', 'tls://127.0.0.1:0', '--cert', path.join(certs.dir, 'server.key'), '--key', path.join(certs.dir, 'server.pem')]);
      assert.equal(await cli.exitCode(), 2);
      assert.match(cli.stderr.join('\n'), /--cert: .*server\.key" is not a PEM certificate/);
    });

    // docs/security.md: a key of another certificate is "one line naming the flag or parameter and the path", as the
    // ROS parameters tls_cert/tls_key do; the line named the two flags only, not which files did not match.
    it('exits 2 naming --cert and --key with their paths when the key belongs to another certificate', async () => {
      const certs = await testCerts();
      const cli = startCli(teardown, ['serve', '--url', 'tls://127.0.0.1:0', '--cert', path.join(certs.dir, 'server.pem'), '--key', path.join(certs.dir, 'client.key')]);
      assert.equal(await cli.exitCode(), 2);
      assert.equal(cli.stderr.length, 1, cli.stderr.join('\n'));
      assert.match(cli.stderr[0], /--cert ".*server\.pem" and --key ".*client\.key" do not belong together/);
    });

    it('exits 2 naming --client-cert and --client-key with their paths when the key belongs to another certificate', async () => {
      const certs = await testCerts();
      const f = (name: string) => path.join(certs.dir, name);
      const cli = startCli(teardown, ['send', '--url', 'tls://127.0.0.1:9', '--timeout', '1', '--ca', f('ca.pem'), '--client-cert', f('client.pem'), '--client-key', f('server.key')]);
      assert.equal(await cli.exitCode(), 2);
      assert.match(cli.stderr.join('\n'), /--client-cert ".*client\.pem" and --client-key ".*server\.key" do not belong together/);
    });

    it('exits 0 and prints every command for --help', async () => {
      const cli = startCli(teardown, ['--help']);
      assert.equal(await cli.exitCode(), 0);
      for (const flag of ['serve', 'send', 'demo', '--max-pending-ack3', '--outbox-policy', '--record-format', '--token-file']) {
        assert.ok(cli.stdout.some((l) => l.includes(flag)), `help mentions ${flag}`);
      }
    });
  });

  describe('send: first connection', () => {
    it('delivers everything to a server that starts after send, retrying the first connect', async () => {
      const port = await freePort();
      const url = `tcp://127.0.0.1:${port}`;
      const send = startCli(teardown, ['send', '--url', url, '--count', '50', '--timeout', '20', '--json']);
      const failure = await send.waitForEvent('disconnected');
      assert.equal(typeof failure.error, 'string', 'the first connect failed');

      const { serve } = await startServe(teardown, url);
      assert.equal(await send.exitCode(), 0);
      const [summary] = send.events('summary');
      assert.equal(summary.delivered, 50);
      await waitUntil(() => serve.events('message').length >= 50, 'fifty message lines', DEADLINE_MS);
    });

    it('exits 1 and counts every message as failed when no server appears within --timeout', async () => {
      const send = startCli(teardown, ['send', '--url', `tcp://127.0.0.1:${await freePort()}`, '--count', '7', '--timeout', '0.5', '--json']);
      assert.equal(await send.exitCode(), 1);
      const [summary] = send.events('summary');
      assert.deepEqual({ sent: summary.sent, delivered: summary.delivered, failed: summary.failed }, { sent: 0, delivered: 0, failed: 7 });
      assert.deepEqual({ p50: summary.rtt_p50_us, p99: summary.rtt_p99_us, rate: summary.msgs_per_s }, { p50: null, p99: null, rate: 0 }, 'no round trip was measured');
    });
  });

  describe('serve: shutdown', () => {
    it('prints the summary and exits 0 on SIGTERM', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--count', '20', '--json']);
      assert.equal(await send.exitCode(), 0);
      await waitUntil(() => serve.events('latency').length >= 20, 'twenty latency lines', DEADLINE_MS);

      serve.child.kill('SIGTERM');
      assert.equal(await serve.exitCode(), 0);
      const summary = serve.events('summary');
      assert.equal(summary.length, 1);
      assert.equal(serve.stdout.at(-1), JSON.stringify(summary[0]), 'the summary is the last line');
      assert.deepEqual(
        Object.fromEntries(['connections', 'messages', 'duplicates', 'latencies', 'ack3_unknown', 'ack3_expired', 'bad_frames', 'closed_bad', 'closed_oversize', 'closed_idle'].map((k) => [k, summary[0][k]])),
        { connections: 1, messages: 20, duplicates: 0, latencies: 20, ack3_unknown: 0, ack3_expired: 0, bad_frames: 0, closed_bad: 0, closed_oversize: 0, closed_idle: 0 },
      );
    });

    it('prints the counters and the latency table on SIGINT without --json', async () => {
      const { serve, url } = await startServeHuman(teardown);
      const send = startCli(teardown, ['send', '--url', url, '--count', '30']);
      assert.equal(await send.exitCode(), 0);

      serve.child.kill('SIGINT');
      assert.equal(await serve.exitCode(), 0);
      assert.ok(serve.stdout.some((l) => /^messages\s+30$/.test(l)), serve.stdout.join('\n'));
      for (const row of ['latency (T1 - T2/2)', 'latency corrected', 'round trip (T1)']) {
        assert.ok(serve.stdout.some((l) => l.startsWith(row) && /\s30\s/.test(l)), `row ${row} with 30 samples:\n${serve.stdout.join('\n')}`);
      }
    });
  });

  describe('serve --state-dir on a full disk', () => {
    it('keeps serving, hands no resend over twice, warns once and counts journal_errors when the journal cannot grow', async () => {
      const stateDir = tmpDir(teardown);
      // 8 KiB hold about 210 journal records of 39 bytes: the rest of the 300 ids find the "disk" full.
      const serve = startCli(teardown, ['serve', '--url', 'tcp://127.0.0.1:0', '--json', '--state-dir', stateDir], { fileSizeKb: 8 });
      const url = (await serve.waitForEvent('listening')).url as string;
      const ids = Array.from({ length: 300 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
      for (const resent of [false, true]) {
        const peer = await startRawPeer(teardown, url);
        for (const id of ids) peer.sendFrame({ id, type: 'message', payload: id, ...(resent ? { resent } : {}) });
        await peer.waitForFrame((f) => f.id === ids.at(-1), 'the ack 2 of the last message', DEADLINE_MS);
        peer.destroy();
      }
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exitCode(), 0, serve.stderr.join('\n'));
      const handed = serve.events('message').map((m) => m.id as string);
      assert.equal(handed.length, 300, `each message handed over once (${handed.length - new Set(handed).size} twice)`);
      assert.deepEqual(new Set(handed), new Set(ids));
      const summary = serve.events('summary')[0];
      assert.ok((summary.journal_errors as number) > 0, 'journal_errors counts the failed writes');
      assert.equal(summary.duplicates, 300);
      const warnings = serve.stderr.filter((l) => l.includes('seen-ids journal'));
      assert.equal(warnings.length, 1, `one warning, not one per message:\n${serve.stderr.slice(0, 5).join('\n')}`);
      assert.match(warnings[0], /EFBIG/);
    });
  });

  describe('send --outbox-path on a full disk', () => {
    it('delivers every message from memory and warns once when the outbox file cannot grow', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const outbox = path.join(tmpDir(teardown), 'outbox.log');
      // 8 KiB hold about 35 records of a 100-byte message: the rest find the "disk" full.
      const send = startCli(teardown, ['send', '--url', url, '--count', '300', '--outbox-path', outbox, '--json'], { fileSizeKb: 8 });
      assert.equal(await send.exitCode(), 0, send.stderr.join('\n'));
      const summary = send.events('summary')[0];
      assert.deepEqual({ delivered: summary.delivered, failed: summary.failed }, { delivered: 300, failed: 0 });
      const warnings = send.stderr.filter((l) => l.includes('outbox file'));
      assert.equal(warnings.length, 1, `one warning, not one per message:\n${send.stderr.slice(0, 5).join('\n')}`);
      assert.match(warnings[0], /EFBIG/);
      await waitUntil(() => serve.events('message').length >= 300, 'the server to print 300 messages', DEADLINE_MS);
    });
  });

  describe('serve: the latency table beside the clock-synced uplink and the age', () => {
    /** count and p50 (ms) of one row of the latency table, or undefined when the table lacks it. */
    function row(lines: string[], label: string): { count: number; p50: number } | undefined {
      const line = lines.find((l) => l.startsWith(label));
      if (line === undefined) return undefined;
      const [count, p50] = line.slice(label.length).trim().split(/\s+/).map(Number);
      return { count, p50 };
    }

    it('shows the 5 ms uplink of a 5/35 ms link next to the ~20 ms clock-free estimate, and the age, for a --clock-sync client', async () => {
      const { serve, url } = await startServeHuman(teardown);
      const proxy = await DelayProxy.start({ target: url, up: { delayMs: 5 }, down: { delayMs: 35 } });
      teardown.add(() => proxy.close());
      const send = startCli(teardown, ['send', '--url', proxy.url, '--count', '20', '--rate', '100', '--clock-sync']);
      assert.equal(await send.exitCode(), 0);

      serve.child.kill('SIGINT');
      assert.equal(await serve.exitCode(), 0);
      const table = serve.stdout.join('\n');
      const corrected = row(serve.stdout, 'latency corrected ((T1 - ps)/2)');
      const uplink = row(serve.stdout, 'uplink, clock-synced (uplink_wall_ns)');
      const age = row(serve.stdout, 'age (queued + corrected)');
      const roundTrip = row(serve.stdout, 'round trip (T1)');
      assert.ok(corrected && uplink && age && roundTrip, `rows for the corrected estimate, the uplink, the age and the round trip:\n${table}`);
      assert.deepEqual([corrected.count, uplink.count, age.count], [20, 20, 20], table);
      // The clock-free estimate sits at the mean of the two directions, half the round trip, the uplink well below it.
      // Against half the measured round trip, not a fixed 35 ms: once in CI every round trip took 95 ms, not 40.
      assert.ok(corrected.p50 >= 19 && Math.abs(corrected.p50 - roundTrip.p50 / 2) < 5, table);
      assert.ok(uplink.p50 >= 4.5 && uplink.p50 < corrected.p50 - 10, table);
      assert.ok(age.p50 >= corrected.p50, table);
      assert.match(table, /\(uplink: 20 clock-synced records, \d+ with sync_ok\)/);
    });

    it('leaves the uplink row out for a client without --clock-sync', async () => {
      const { serve, url } = await startServeHuman(teardown);
      const send = startCli(teardown, ['send', '--url', url, '--count', '10']);
      assert.equal(await send.exitCode(), 0);

      serve.child.kill('SIGINT');
      assert.equal(await serve.exitCode(), 0);
      assert.equal(row(serve.stdout, 'uplink, clock-synced'), undefined, serve.stdout.join('\n'));
      assert.equal(row(serve.stdout, 'age (queued + corrected)')?.count, 10, serve.stdout.join('\n'));
    });
  });

  describe('send: why it failed', () => {
    it('says on stderr why it exits 1 when messages were not acknowledged within --timeout', async () => {
      // A server that reads and never acks: the summary said failed 5, and nothing said why.
      const raw = await RawServer.start(teardown);
      const send = startCli(teardown, ['send', '--url', raw.url, '--count', '5', '--timeout', '1', '--json']);
      assert.equal(await send.exitCode(), 1);
      assert.equal(send.events('summary')[0]?.failed, 5);
      assert.ok(send.stderr.some((l) => l.includes('5 of 5 messages not delivered: 5 refused or not acknowledged within --timeout 1 s')), send.stderr.join('\n'));
    });

    it('ends once no ack came for --timeout with the window full, without waiting --timeout again for the same acks', async () => {
      // A server that reads and never acks: send stopped queueing after --timeout 8 s, then close() waited another 8 s
      // for acks to messages that had had none in all that time (60 s for the default --timeout 30).
      const raw = await RawServer.start(teardown);
      const send = startCli(teardown, ['send', '--url', raw.url, '--count', '5', '--outbox-max-messages', '2', '--timeout', '8', '--json']);
      await (await raw.connection(1)).waitForCount(isMessage, 2, 'the 2 messages of the window');
      await waitUntil(() => send.stderr.some((l) => l.includes('no ack for 8 s with the outbox window full')), 'the stall line', 20_000);
      assert.equal(await send.exitCode(4000), 1);
      assert.deepEqual(send.events('summary').map((s) => [s.sent, s.failed]), [[2, 5]]);
      assert.ok(send.stderr.at(-1)?.includes('5 of 5 messages not delivered: 2 refused or not acknowledged within --timeout 8 s, 3 never sent'), send.stderr.join('\n'));
    });

    // Both said what did not happen: "3 dropped from the full outbox (--outbox-policy drop-oldest)" for drops by
    // --max-attempts, and "refused or not acknowledged within --timeout 30 s" for messages the server's hello had
    // declared too large, refused at once.
    it('names --max-attempts, not the outbox policy, when messages were dropped after that many connections closed', async () => {
      const { url } = await startServe(teardown, 'tcp://127.0.0.1:0', ['--max-frame-bytes', '1000']);
      const send = startCli(teardown, ['send', '--url', url, '--count', '2', '--payload-bytes', '2000', '--max-attempts', '2', '--reconnect-min-ms', '10', '--json']);
      assert.equal(await send.exitCode(), 1);
      const why = send.stderr.at(-1) ?? '';
      assert.ok(why.includes('2 of 2 messages not delivered: 2 dropped after --max-attempts 2') && !why.includes('outbox'), why);
    });

    it('names the server\'s max_frame_bytes, not --timeout, when the server\'s hello declared the messages too large', async () => {
      const { url } = await startServe(teardown, 'tcp://127.0.0.1:0', ['--max-frame-bytes', '1000']);
      const send = startCli(teardown, ['send', '--url', url, '--count', '2', '--payload-bytes', '2000', '--client-id', 'veh-17', '--json']);
      assert.equal(await send.exitCode(), 1);
      const why = send.stderr.at(-1) ?? '';
      assert.ok(why.includes('2 of 2 messages not delivered: 2 refused as too large') && !why.includes('--timeout'), why);
    });

    it('says the outbox overflowed because the server went away, not because the acks did not keep up with --rate', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--count', '400', '--rate', '200', '--outbox-max-messages', '10', '--timeout', '1', '--json']);
      await serve.waitForEvent('message');
      serve.child.kill('SIGKILL');
      assert.equal(await send.exitCode(), 1);
      const [summary] = send.events('summary');
      assert.ok((summary?.dropped as number) > 0, JSON.stringify(summary));
      const why = send.stderr.find((l) => l.includes('messages not delivered:'));
      assert.match(why ?? '', /dropped from the full outbox \(--outbox-policy drop-oldest: the connection to the server was lost/, send.stderr.join('\n'));
      assert.doesNotMatch(why ?? '', /did not keep up/);
    });

    it('warns when --rate is beyond what the process can queue, instead of reporting a run paced as asked', async () => {
      const { url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--count', '300', '--rate', '1e9', '--json']);
      assert.equal(await send.exitCode(), 0);
      assert.ok(send.stderr.some((l) => /--rate 1000000000 was not reached: messages were queued at [\d.]+ per second/.test(l)), send.stderr.join('\n'));
    });
  });

  describe('send and SIGINT', () => {
    it('prints the summary soon after SIGINT while waiting for the last acks, not after --timeout', async () => {
      // A server that reads and never acks: send queues its 5 messages, then waits up to --timeout for acks.
      const raw = await RawServer.start(teardown);
      const send = startCli(teardown, ['send', '--url', raw.url, '--count', '5', '--timeout', '600', '--json']);
      await (await raw.connection(1)).waitForCount(isMessage, 5, 'the 5 messages');
      send.child.kill('SIGINT');
      assert.equal(await send.exitCode(), 1);
      const [summary] = send.events('summary');
      assert.deepEqual({ delivered: summary?.delivered, failed: summary?.failed }, { delivered: 0, failed: 5 });
      // It said "5 refused or not acknowledged within --timeout 600 s", a wait that never happened.
      const why = send.stderr.at(-1) ?? '';
      assert.ok(why.includes('5 of 5 messages not delivered') && why.includes('interrupt') && !why.includes('--timeout'), why);
    });

    it('takes a connection that answers nothing for --silence-timeout-ms for dead, and resends on a new one', async () => {
      // A server that reads and never acks nor closes: a NAT that dropped the mapping looks the same to the client.
      const raw = await RawServer.start(teardown);
      const send = startCli(teardown, ['send', '--url', raw.url, '--count', '3', '--timeout', '600', '--silence-timeout-ms', '300', '--json']);
      const first = await (await raw.connection(1)).waitForCount(isMessage, 3, 'the 3 messages');
      const again = await (await raw.connection(2)).waitForCount(isMessage, 3, 'the 3 messages again');
      assert.deepEqual(again.map((m) => [m.id, m.resent]), first.map((m) => [m.id, true]));
      send.child.kill('SIGINT');
      assert.equal(await send.exitCode(), 1);
      assert.ok(send.stderr.some((l) => /nothing read from it for \d+ ms .*silenceTimeoutMs 300/.test(l)), send.stderr.join('\n'));
    });

    it('says it was interrupted before connecting when SIGINT comes while a server holds the upgrade', async () => {
      // A server that accepts and never answers: send exited 1 with a summary of 5 failed and not a word on stderr.
      const silent = net.createServer();
      const accepted = new Promise<void>((resolve) => silent.once('connection', () => resolve()));
      const sockets: net.Socket[] = [];
      silent.on('connection', (s) => sockets.push(s));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      teardown.add(() => {
        for (const s of sockets) s.destroy();
        silent.close();
      });
      const url = `ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
      const send = startCli(teardown, ['send', '--url', url, '--count', '5', '--timeout', '600', '--json']);
      await withDeadline(accepted, 'the connection of send', DEADLINE_MS);
      send.child.kill('SIGINT');
      assert.equal(await send.exitCode(), 1);
      assert.deepEqual(send.events('summary').map((s) => [s.sent, s.failed]), [[0, 5]]);
      assert.deepEqual(send.stderr.filter((l) => l !== ''), [`fastsocket send: error: interrupted (SIGINT or SIGTERM) before connecting to ${url}`]);
    });

    it("prints a ws:// server's close code and reason in --json's disconnected events", async () => {
      // error alone was null for a 1008 "token expired" as for an idle timeout: a JSON reader could not tell them apart.
      const http = await import('node:http');
      const { WebSocketServer } = await import('ws');
      const server = http.createServer();
      const wss = new WebSocketServer({ server });
      wss.on('connection', (ws) => ws.close(1008, 'token expired'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      teardown.add(() => {
        for (const ws of wss.clients) ws.terminate();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      });
      const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
      const send = startCli(teardown, ['send', '--url', url, '--count', '1', '--timeout', '600', '--json']);
      const closed = await send.waitForEvent('disconnected');
      send.child.kill('SIGINT');
      assert.deepEqual(closed, { event: 'disconnected', error: null, close_code: 1008, close_reason: 'token expired' });
      assert.equal(await send.exitCode(), 1);
    });

    it('exits 0 on SIGINT with --stdin when every line read was delivered', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      const send = startCli(teardown, ['send', '--url', url, '--stdin', '--json']);
      // stdin stays open, as with tail -f: only SIGINT ends the stream.
      send.child.stdin!.write('{"n":1}\n{"n":2}\n');
      await serve.waitForEvent('message', (m) => (m.payload as Json).n === 2);
      send.child.kill('SIGINT');
      assert.equal(await send.exitCode(), 0, send.stderr.join('\n'));
      const [summary] = send.events('summary');
      assert.deepEqual({ sent: summary?.sent, delivered: summary?.delivered, failed: summary?.failed }, { sent: 2, delivered: 2, failed: 0 });
    });
  });

  describe('serve --json: a reader that went away', () => {
    it('does not acknowledge a message whose line could not be printed, and exits 1 saying why', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0');
      // serve --json | head -1: the reader has the listening line and is gone. The message line failed after its
      // ack 2 had left, so send counted delivered a message that nobody read, and serve exited 0.
      serve.child.stdout!.destroy();
      const send = startCli(teardown, ['send', '--url', url, '--count', '1', '--timeout', '1', '--json']);
      assert.equal(await send.exitCode(), 1);
      assert.equal(send.events('summary')[0]?.delivered, 0);
      assert.equal(await serve.exitCode(), 1);
      assert.ok(serve.stderr.some((l) => l.includes('stdout was closed: stopping before acknowledging')), serve.stderr.join('\n'));
    });
  });

  describe('serve --json: a crash with a reader that lags', () => {
    /** The write(2) system call number, for reading /proc/PID/syscall. */
    const WRITE_SYSCALL: Record<string, string> = { x64: '1', arm64: '64' };

    /**
     * True while the process's main thread sleeps in write(1, ...): its stdout (a socketpair or pipe) is full.
     * /proc/PID/syscall names the call a blocked thread is in and its arguments.
     */
    function blockedOnStdout(pid: number): boolean {
      try {
        const [nr, fd] = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ');
        return nr === WRITE_SYSCALL[process.arch] && fd === '0x1';
      } catch {
        return false;
      }
    }

    function skipWithoutSyscall(ctx: Mocha.Context): void {
      if (fs.existsSync('/proc/self/syscall') && WRITE_SYSCALL[process.arch]) return;
      console.log('      skipped: needs /proc/PID/syscall (Linux, x64 or arm64) to see the server block on its stdout');
      ctx.skip();
    }

    /** `serve --json` whose reader takes the listening line and then stops reading, as a consumer fallen behind would. */
    async function serveWithLaggingReader(): Promise<{ child: ChildProcess; chunks: Buffer[]; closed: Promise<void>; url: string }> {
      const child = spawn(process.execPath, [MAIN, 'serve', '--url', 'tcp://127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      teardown.add(() => child.kill('SIGKILL'));
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      const chunks: Buffer[] = [];
      const firstLine = await withDeadline(
        new Promise<string>((resolve) => {
          const onData = (d: Buffer): void => {
            chunks.push(d);
            const text = Buffer.concat(chunks).toString();
            if (!text.includes('\n')) return;
            child.stdout!.off('data', onData);
            child.stdout!.pause();
            resolve(text.slice(0, text.indexOf('\n')));
          };
          child.stdout!.on('data', onData);
        }),
        'the listening line',
        DEADLINE_MS,
      );
      return { child, chunks, closed, url: (JSON.parse(firstLine) as Json).url as string };
    }

    it('has printed every message a client holds ack 2 for when it is SIGKILLed', async function () {
      skipWithoutSyscall(this);
      const { child, chunks, closed, url } = await serveWithLaggingReader();
      const client: FastSocketClient = await startClient(teardown, url);
      const COUNT = 1000;
      const acked = new Set<string>();
      for (let i = 0; i < COUNT; i++) client.send({ i, pad: 'p'.repeat(1000) }).then((r) => acked.add(r.id), () => undefined);
      // Either everything is acked (the lines wait somewhere) or the server waits for its reader, whose pipe is full.
      await waitUntil(() => acked.size === COUNT || blockedOnStdout(child.pid!), `all ${COUNT} acks, or the server blocked writing its stdout (${acked.size} acked)`, DEADLINE_MS);
      const ackedAtKill = new Set(acked);
      child.kill('SIGKILL');
      child.stdout!.on('data', (d: Buffer) => chunks.push(d));
      await withDeadline(closed, 'the killed server to close its pipes', DEADLINE_MS);

      // Whole lines only: the kill can cut the last one short.
      const lines = Buffer.concat(chunks).toString().split('\n').slice(0, -1);
      const printed = new Set(lines.filter((l) => l.includes('"event":"message"')).map((l) => (JSON.parse(l) as Json).id as string));
      const lost = [...ackedAtKill].filter((id) => !printed.has(id));
      assert.equal(lost.length, 0, `${lost.length} of ${ackedAtKill.size} acked messages were never printed`);
    });

    it('says that the latency of what arrived while it waited for its reader includes the wait', async function () {
      // While serve waits on its stdout it reads nothing: messages wait in the socket and their latency reads the
      // reader's backlog as link delay (a reader at 20 ms a line behind 100 messages/s: a 20/20 ms link read 700 ms).
      skipWithoutSyscall(this);
      const { child, url } = await serveWithLaggingReader();
      const stderr: string[] = [];
      child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
      const client: FastSocketClient = await startClient(teardown, url);
      const COUNT = 1000;
      let acked = 0;
      for (let i = 0; i < COUNT; i++) void client.send({ i, pad: 'p'.repeat(1000) }).then(() => acked++);
      await waitUntil(() => blockedOnStdout(child.pid!), `the server blocked writing its stdout (${acked} acked)`, DEADLINE_MS);
      // The reader comes back 50 ms later: that is the lag, not a wait for anything.
      await new Promise((resolve) => setTimeout(resolve, 50));
      child.stdout!.resume();
      await waitUntil(() => acked === COUNT, () => `all ${COUNT} acks (${acked})`, DEADLINE_MS);
      await client.close();
      child.kill('SIGINT');
      await withDeadline(new Promise((resolve) => child.once('exit', resolve)), 'serve to exit', DEADLINE_MS);
      const text = stderr.join('');
      assert.match(text, /printing a message line waited \d+ ms for the reader of stdout; messages that arrive while serve waits are not read, so their latency includes the wait/, text);
      assert.match(text, /stdout kept serve waiting \d+ ms in all \(\d+ writes of 10 ms or more\)/, text);
    });
  });

  describe('serve --record', () => {
    async function recordRun(file: string, serveFlags: string[] = [], sendFlags: string[] = []): Promise<void> {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0', ['--record', file, ...serveFlags]);
      const send = startCli(teardown, ['send', '--url', url, '--count', '25', '--client-id', 'rsu,"1"', '--json', ...sendFlags]);
      assert.equal(await send.exitCode(), 0);
      await waitUntil(() => serve.events('latency').length >= 25, 'twenty-five latency lines', DEADLINE_MS);
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exitCode(), 0);
    }

    it('writes one JSON line per latency record with the server wall time', async () => {
      const file = path.join(tmpDir(teardown), 'latency.jsonl');
      const before = Date.now() * 1e6;
      await recordRun(file);
      const rows = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
      assert.equal(rows.length, 25);
      for (const r of rows) {
        assert.ok((r.server_wall_ns as number) >= before && (r.server_wall_ns as number) <= Date.now() * 1e6, JSON.stringify(r));
        assert.ok(Number.isInteger(r.t1_ns) && Number.isInteger(r.latency_corrected_ns) && r.client_id === 'rsu,"1"', JSON.stringify(r));
      }
    });

    it('writes CSV with a header row when --record-format csv, clock-synced columns filled for a --clock-sync client', async () => {
      const file = path.join(tmpDir(teardown), 'latency.txt');
      await recordRun(file, ['--record-format', 'csv'], ['--clock-sync']);
      const [header, ...rows] = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
      const columns = header.split(',');
      for (const c of ['server_wall_ns', 'id', 'peer', 'client_id', 't1_ns', 't2_ns', 'latency_ns', 'ps_ns', 'pc_ns', 'latency_corrected_ns', 'queued_ns', 'uplink_wall_ns', 'offset_ns', 'sync_ok']) {
        assert.ok(columns.includes(c), `column ${c} in ${header}`);
      }
      assert.equal(rows.length, 25);
      const clientId = columns.indexOf('client_id');
      const t1 = columns.indexOf('t1_ns');
      for (const row of rows) {
        // The client id holds a comma and quotes, so it is quoted and shifts nothing: split outside quotes.
        const cells = row.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, ''));
        assert.equal(cells[clientId], '"rsu,""1"""', row);
        assert.match(cells[t1], /^\d+$/, row);
        assert.match(cells[columns.indexOf('uplink_wall_ns')], /^-?\d+$/, row);
        assert.match(cells[columns.indexOf('sync_ok')], /^(true|false)$/, row);
      }
    });
  });

  describe('security flags', () => {
    it('sends over tls:// with --cert/--key on serve, --ca on send, and a token from --token-file and FASTSOCKET_TOKEN', async () => {
      const certs = await testCerts();
      const tokenFile = path.join(tmpDir(teardown), 'token');
      fs.writeFileSync(tokenFile, 's3cret\n');
      const f = (name: string) => path.join(certs.dir, name);
      const { serve, url } = await startServe(teardown, 'tls://127.0.0.1:0', ['--cert', f('server.pem'), '--key', f('server.key'), '--token-file', tokenFile]);
      const send = startCli(teardown, ['send', '--url', url, '--count', '5', '--ca', f('ca.pem'), '--json'], { env: { FASTSOCKET_TOKEN: 's3cret' } });
      assert.equal(await send.exitCode(), 0);
      assert.equal(send.events('summary')[0].delivered, 5);
      await waitUntil(() => serve.events('message').length >= 5, 'five message lines', DEADLINE_MS);
    });

    // A roadside unit dialled by address, its certificate naming a host: without --servername the only way in was
    // turning verification off. The server's certificate lists localhost and 127.0.0.1, not other.example.
    it('verifies the server certificate against --servername instead of the --url host', async () => {
      const certs = await testCerts();
      const f = (name: string) => path.join(certs.dir, name);
      const { url } = await startServe(teardown, 'tls://127.0.0.1:0', ['--cert', f('server.pem'), '--key', f('server.key')]);
      const good = startCli(teardown, ['send', '--url', url, '--count', '2', '--ca', f('ca.pem'), '--servername', 'localhost', '--json']);
      assert.equal(await good.exitCode(), 0, good.stderr.join('\n'));
      assert.equal(good.events('summary')[0].delivered, 2);
      const wrong = startCli(teardown, ['send', '--url', url, '--count', '1', '--timeout', '1', '--ca', f('ca.pem'), '--servername', 'other.example', '--log-level', 'error']);
      assert.equal(await wrong.exitCode(), 1);
      assert.match(wrong.stderr.join('\n'), /other\.example/);
    });

    // The last line said only "could not connect to tls://... within 1 s": why was in the warnings, which
    // --log-level error hides.
    it('ends with why the last attempt failed when send cannot connect: a server certificate it does not trust', async () => {
      const certs = await testCerts();
      const f = (name: string) => path.join(certs.dir, name);
      const { url } = await startServe(teardown, 'tls://127.0.0.1:0', ['--cert', f('server.pem'), '--key', f('server.key')]);
      const send = startCli(teardown, ['send', '--url', url, '--count', '1', '--timeout', '1', '--log-level', 'error']);
      assert.equal(await send.exitCode(), 1);
      assert.equal(send.stderr.length, 1, send.stderr.join('\n'));
      assert.match(send.stderr[0], /could not connect to tls:\/\/127\.0\.0\.1:\d+ within 1 s: the server's certificate was refused: .*--ca/);
    });

    it('delivers nothing and exits 1 when the token is wrong', async () => {
      const { serve, url } = await startServe(teardown, 'tcp://127.0.0.1:0', [], { FASTSOCKET_TOKEN: 'right' });
      const send = startCli(teardown, ['send', '--url', url, '--count', '3', '--timeout', '1', '--json'], { env: { FASTSOCKET_TOKEN: 'wrong' } });
      assert.equal(await send.exitCode(), 1);
      assert.equal(send.events('summary')[0].delivered, 0);
      assert.deepEqual(serve.events('message'), []);
    });
  });

  describe('demo', () => {
    it('runs a server and a client in one process and prints the latency table', async () => {
      const demo = startCli(teardown, ['demo', '--count', '40', '--rate', '400']);
      assert.equal(await demo.exitCode(), 0);
      for (const row of ['latency (T1 - T2/2)', 'latency corrected', 'round trip (T1)']) {
        assert.ok(demo.stdout.some((l) => l.startsWith(row) && /\s40\s/.test(l)), `row ${row} with 40 samples:\n${demo.stdout.join('\n')}`);
      }
    });

    it('reports every CPM message delivered and recorded over ws with --json', async () => {
      const demo = startCli(teardown, ['demo', '--url', 'ws://127.0.0.1:0', '--count', '30', '--rate', '1000', '--json']);
      assert.equal(await demo.exitCode(), 0);
      const [summary] = demo.events('summary');
      assert.deepEqual(
        { delivered: summary.delivered, received: summary.received, records: summary.latency_records, failed: summary.failed },
        { delivered: 30, received: 30, records: 30, failed: 0 },
      );
      assert.ok((summary.payload_bytes as number) > 1300 && (summary.payload_bytes as number) < 1600, `CPM payload of ~1.4 KB: ${summary.payload_bytes}`);
      assert.equal((summary.latency_corrected as Json).count, 30);
    });
  });
});
