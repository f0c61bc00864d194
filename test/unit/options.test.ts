import { strict as assert } from 'node:assert';
import { FastSocketClient } from '../../src/fastsocket/client';
import { FastSocketError, OptionError } from '../../src/fastsocket/errors';
import { DEFAULT_CLIENT_LIMITS, DEFAULT_SERVER_LIMITS } from '../../src/fastsocket/options';
import { FastSocketServer } from '../../src/fastsocket/server';

/** Asserts that `make` throws a TypeError (an OptionError) naming `option` (the contract: "a bad option names it"). */
function throwsNaming(make: () => unknown, option: string, what: string): void {
  assert.throws(make, (err: unknown) => {
    assert.ok(err instanceof TypeError, `${what}: expected a TypeError, got ${String(err)}`);
    assert.ok(err instanceof OptionError, `${what}: expected an OptionError, got ${String(err)}`);
    assert.equal(err.code, 'FS_ERR_INVALID_OPTION');
    assert.equal(err.option, option, `${what}: names ${option}`);
    return true;
  }, `${what}: no TypeError`);
}

const notIntegers = [0.5, NaN, Infinity, -Infinity, '10', null, true, {}, [1], 10n];

/** Bad values per option: each must be refused with a TypeError naming the option. */
const SERVER_BAD: Record<string, unknown[]> = {
  maxFrameBytes: [...notIntegers, 0, -1, 63, 2 ** 31 + 1],
  maxBadFrames: [...notIntegers, 0, -1],
  frameTimeoutMs: [...notIntegers, 0, -5],
  idleTimeoutMs: [...notIntegers, 0, -5],
  maxConnections: [...notIntegers, 0, -1],
  ack3TimeoutMs: [...notIntegers, 0],
  maxPendingAck3: [...notIntegers, 0],
  dedupCapacity: [...notIntegers.filter((v) => v !== null), 0],
  writeHighWaterBytes: [...notIntegers.filter((v) => v !== null), 0],
  token: ['', 5, {}, null],
  stateDir: ['', 5, {}, null],
  logger: [null, 5, {}, { debug() {}, info() {}, warn() {} }, console.log],
  // process.hrtime.bigint returns a bigint: latency records then never came, without a word.
  clock: [5, 'now', {}, process.hrtime.bigint, () => NaN, () => '5'],
  wallClock: [5, process.hrtime.bigint, () => undefined],
  timers: [5, {}, null, { setTimeout() {}, clearTimeout() {}, setInterval() {} }],
};

const CLIENT_BAD: Record<string, unknown[]> = {
  outboxMaxMessages: [...notIntegers, 0, -1],
  outboxMaxBytes: [...notIntegers, 0],
  outboxPolicy: ['drop-random', 'DROP-OLDEST', '', 0, null],
  // Past 2^31 - 1 ms Node's timers fire after 1 ms: a reconnect every millisecond.
  reconnectMinMs: [...notIntegers, 0, 2 ** 31],
  reconnectMaxMs: [...notIntegers, 0, 50, 2 ** 31],
  reconnectJitter: [-0.1, 1.5, NaN, '0.2', null],
  maxFrameBytes: [...notIntegers, 0, 63],
  connectTimeoutMs: [...notIntegers.filter((v) => v !== null), 0, 2 ** 31],
  writeHighWaterBytes: [...notIntegers.filter((v) => v !== null), 0],
  clockSync: ['yes', 1],
  clientId: ['', 5, {}, 'c'.repeat(257), '🚗'.repeat(257)],
  token: ['', 5, {}, null],
  logger: [null, 5, {}, { debug() {}, info() {}, warn() {} }],
  // process.hrtime.bigint returns a bigint: send() then never resolved, without a word.
  clock: [5, 'now', process.hrtime.bigint, () => Infinity],
  random: [5, 'x'],
  timers: [5, {}, null, { setTimeout() {}, clearTimeout() {}, setInterval() {} }],
  newId: [5, 'id', null],
};

describe('options', () => {
  describe('FastSocketServer#constructor', () => {
    it('applies the defaults of PROTOCOL.md §6', () => {
      assert.deepEqual(
        { ...DEFAULT_SERVER_LIMITS },
        {
          maxFrameBytes: 16 * 1024 * 1024,
          maxBadFrames: 10,
          frameTimeoutMs: 10_000,
          idleTimeoutMs: 120_000,
          maxConnections: 1024,
          ack3TimeoutMs: 10_000,
          maxPendingAck3: 10_000,
        },
      );
      assert.ok(new FastSocketServer({ url: 'tcp://127.0.0.1:0' }));
    });

    it('accepts every option at its smallest valid value, and undefined as "use the default"', () => {
      const server = new FastSocketServer({
        url: 'tcp://127.0.0.1:0', maxFrameBytes: 64, maxBadFrames: 1, frameTimeoutMs: 1, idleTimeoutMs: 1, maxConnections: 1,
        ack3TimeoutMs: 1, maxPendingAck3: 1, dedupCapacity: 1, writeHighWaterBytes: 1, token: 't',
      } as never);
      assert.equal(server.url, null, 'not listening before listen()');
      assert.ok(new FastSocketServer({ url: 'tcp://127.0.0.1:0', maxFrameBytes: undefined, logger: undefined }));
    });

    for (const [option, values] of Object.entries(SERVER_BAD)) {
      it(`throws a TypeError naming ${option} when it is invalid`, () => {
        for (const value of values) {
          throwsNaming(() => new FastSocketServer({ url: 'tcp://127.0.0.1:0', [option]: value }), option, `${option}=${String(value)}`);
        }
      });
    }

    it('throws a TypeError naming an unknown (misspelt) option', () => {
      throwsNaming(() => new FastSocketServer({ url: 'tcp://127.0.0.1:0', maxFrameByte: 100 } as never), 'maxFrameByte', 'typo');
      throwsNaming(() => new FastSocketServer({ state_dir: '/tmp/x' } as never), 'state_dir', 'snake case');
    });

    it('throws a TypeError naming tls when a secure scheme has no certificate or key', () => {
      for (const url of ['tls://127.0.0.1:0', 'wss://127.0.0.1:0']) {
        throwsNaming(() => new FastSocketServer({ url }), 'tls', url);
        throwsNaming(() => new FastSocketServer({ url, tls: { cert: 'x' } }), 'tls.cert', `${url} without key, and cert not PEM`);
      }
    });

    it('throws FS_ERR_INVALID_URL for a bad url', () => {
      assert.throws(() => new FastSocketServer({ url: 'http://127.0.0.1:1' }), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_INVALID_URL');
    });

    // A url read from a config where it was null listened on tcp://127.0.0.1:8888 without a word, as the limits did
    // before null was refused for them.
    it('throws FS_ERR_INVALID_URL for a null url, rather than listening on the default', () => {
      assert.throws(() => new FastSocketServer({ url: null as never }), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_INVALID_URL' && /got null/.test(e.message));
    });

    it('throws a TypeError when the options are not an object', () => {
      assert.throws(() => new FastSocketServer(null as never), TypeError);
      assert.throws(() => new FastSocketServer('tcp://127.0.0.1:1' as never), TypeError);
    });
  });

  describe('FastSocketClient#constructor', () => {
    it('applies the defaults of PROTOCOL.md §6', () => {
      assert.equal(DEFAULT_CLIENT_LIMITS.outboxMaxMessages, 10_000);
      assert.equal(DEFAULT_CLIENT_LIMITS.outboxMaxBytes, 64 * 1024 * 1024);
      assert.equal(DEFAULT_CLIENT_LIMITS.outboxPolicy, 'drop-oldest');
      assert.equal(DEFAULT_CLIENT_LIMITS.reconnectMinMs, 100);
      assert.equal(DEFAULT_CLIENT_LIMITS.reconnectMaxMs, 5_000);
      assert.equal(DEFAULT_CLIENT_LIMITS.reconnectJitter, 0.2);
      const c = new FastSocketClient();
      assert.equal(c.url, 'tcp://127.0.0.1:8888');
      assert.equal(c.connected, false);
    });

    it('counts clientId in characters (code points), as the server counts a hello client_id', () => {
      assert.ok(new FastSocketClient({ clientId: '🚗'.repeat(256) }));
    });

    it('accepts every outbox policy', () => {
      for (const outboxPolicy of ['drop-oldest', 'drop-newest', 'reject'] as const) assert.ok(new FastSocketClient({ outboxPolicy }));
    });

    for (const [option, values] of Object.entries(CLIENT_BAD)) {
      it(`throws a TypeError naming ${option} when it is invalid`, () => {
        for (const value of values) {
          const extra = option === 'reconnectMaxMs' ? { reconnectMinMs: 100 } : {};
          throwsNaming(() => new FastSocketClient({ url: 'tcp://127.0.0.1:1', ...extra, [option]: value }), option, `${option}=${String(value)}`);
        }
      });
    }

    it('throws a TypeError for null as for the limits, not silently taking the default', () => {
      // maxFrameBytes: null is refused; the options below took null as "use the default" when this was written.
      for (const option of ['connectTimeoutMs', 'writeHighWaterBytes', 'clockSync', 'clock', 'random']) {
        throwsNaming(() => new FastSocketClient({ url: 'tcp://127.0.0.1:1', [option]: null }), option, `client ${option}=null`);
      }
      for (const option of ['dedupCapacity', 'writeHighWaterBytes', 'clock']) {
        throwsNaming(() => new FastSocketServer({ url: 'tcp://127.0.0.1:0', [option]: null }), option, `server ${option}=null`);
      }
    });

    it('throws a TypeError naming an unknown (misspelt) option', () => {
      throwsNaming(() => new FastSocketClient({ outboxPolicyy: 'reject' } as never), 'outboxPolicyy', 'typo');
    });

    it('says which option a misspelt one, or one in the snake_case of the README and the ROS parameters, likely meant', () => {
      const suggested = (make: () => unknown) => {
        try {
          make();
        } catch (err) {
          return /\(did you mean (\w+)\?\)/.exec((err as Error).message)?.[1] ?? null;
        }
        assert.fail('no error');
      };
      assert.equal(suggested(() => new FastSocketClient({ maxFrameByte: 100 } as never)), 'maxFrameBytes');
      assert.equal(suggested(() => new FastSocketClient({ outbox_max_messages: 100 } as never)), 'outboxMaxMessages');
      assert.equal(suggested(() => new FastSocketServer({ 'max-pending-ack3': 10 } as never)), 'maxPendingAck3');
      assert.equal(suggested(() => new FastSocketClient({ url: 'tls://h:1', tls: { rejectUnauthorised: false } } as never)), 'rejectUnauthorized');
      assert.equal(suggested(() => new FastSocketClient({ colour: 'red' } as never)), null);
    });

    it('throws a TypeError naming tls.servername when it is an address or no host name, and takes a host name', () => {
      for (const servername of ['10.0.0.1', '::1', '[::1]', '', 'infra example.org', 'https://infra.example.org', 'a..b', '-a.example']) {
        throwsNaming(() => new FastSocketClient({ url: 'tls://127.0.0.1:1', tls: { servername } }), 'tls.servername', JSON.stringify(servername));
      }
      for (const servername of ['infra.example.org', 'localhost', 'rsu-12.example.org.', 'RSU12', 'rsu_12.corp.example']) assert.ok(new FastSocketClient({ url: 'tls://10.0.0.1:1', tls: { servername } }), servername);
      throwsNaming(() => new FastSocketClient({ client_id: 'a' } as never), 'client_id', 'snake case');
    });

    it('throws FS_ERR_INVALID_URL for a bad url', () => {
      assert.throws(() => new FastSocketClient({ url: 'tcp://h:1/path' }), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_INVALID_URL');
    });

    it('throws FS_ERR_INVALID_URL for a null url, rather than dialling the default', () => {
      assert.throws(() => new FastSocketClient({ url: null as never }), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_INVALID_URL' && /got null/.test(e.message));
    });

    it('throws FS_ERR_INVALID_URL for port 0, which a server can listen on but a client cannot reach', () => {
      for (const url of ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/']) {
        assert.throws(() => new FastSocketClient({ url }), (e: unknown) => e instanceof FastSocketError && e.code === 'FS_ERR_INVALID_URL', url);
      }
    });
  });
});
