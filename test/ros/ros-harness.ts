/**
 * What the real-ROS 2 tests share: deciding whether to run (skip with one line, or fail under
 * FASTSOCKET_REQUIRE_ROS=1), unique domain ids, and child processes in their own process group so that
 * `ros2 launch` receives SIGINT and nothing outlives the test.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rosUnavailableReason } from '../../src/ros/rclnodejs-port';

export const REPO = resolve(__dirname, '../../..');
export const FIXTURES = join(REPO, 'test/ros/fixtures');

/** Why the ROS 2 tests cannot run here, or null. */
export function rosSkipReason(): string | null {
  const reason = rosUnavailableReason();
  if (reason !== null) return `ROS 2 is not usable (${reason})`;
  if (!existsSync(join(REPO, 'node_modules/rclnodejs/generated/std_msgs'))) return 'rclnodejs has no generated messages (npm ci with ROS 2 sourced)';
  if (!existsSync(join(REPO, 'node_modules/rclnodejs/build/Release/rclnodejs.node'))) return 'the rclnodejs addon is not built (npm ci with ROS 2 sourced)';
  return null;
}

let printed = false;

/**
 * Call in a `before` hook: skips the suite (printing why, once per run) when ROS 2 is not usable, or fails it when
 * FASTSOCKET_REQUIRE_ROS=1, as in CI, where a skipped ROS suite would hide a broken setup.
 */
export function requireRos(ctx: Mocha.Context): void {
  const reason = rosSkipReason();
  if (reason === null) return;
  if (process.env.FASTSOCKET_REQUIRE_ROS === '1') throw new Error(`FASTSOCKET_REQUIRE_ROS=1 but ${reason}`);
  if (!printed) {
    printed = true;
    process.stdout.write(`  ROS 2 tests skipped: ${reason}.\n`);
  }
  ctx.skip();
}

/**
 * Three ROS_DOMAIN_IDs (1..99) that no other run on this machine is likely to use at the same time, or those of
 * FASTSOCKET_TEST_ROS_DOMAINS (`45,46`; a missing third repeats the second) where runs share a machine by plan.
 */
export function uniqueDomains(): [number, number, number] {
  const given = (process.env.FASTSOCKET_TEST_ROS_DOMAINS ?? '').split(',').filter((d) => d !== '').map(Number);
  if (given.length > 0) {
    assert.ok(given.length >= 2 && given.every((d) => Number.isInteger(d) && d >= 0 && d <= 232), `FASTSOCKET_TEST_ROS_DOMAINS=${process.env.FASTSOCKET_TEST_ROS_DOMAINS}: expected two or three domain ids`);
    return [given[0], given[1], given[2] ?? given[1]];
  }
  const base = 1 + 3 * ((process.pid + Math.floor(Date.now() / 1000)) % 33);
  return [base, base + 1, base + 2];
}

export interface Proc {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr; rejects at the deadline or when the process exits first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (null if killed by a signal). */
  exited(timeoutMs: number): Promise<number | null>;
  /** SIGINT to the whole group, then SIGKILL after `graceMs`; resolves with the exit code. Idempotent. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Runs `script` in bash (ROS and `setupFiles` sourced) in a new process group.
 * The caller registers `stop()` as teardown.
 */
export function startBash(script: string, env: NodeJS.ProcessEnv, setupFiles: string[] = [], cwd?: string): Proc {
  const sources = setupFiles.map((f) => `source ${JSON.stringify(f)}`).join('; ');
  const child = spawn('bash', ['-c', `set +u; ${sources}${sources ? '; ' : ''}exec ${script}`], {
    env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => {
    exitCode = code;
    for (const l of [...listeners]) l();
    r(code);
  }));
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // Already gone.
    }
  };
  let stopping: Promise<number | null> | null = null;
  return {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolvePromise, reject) => {
        const check = (): void => {
          const m = out.match(pattern);
          if (m) finish(() => resolvePromise(m));
          else if (exitCode !== undefined) finish(() => reject(new Error(`process exited (${exitCode}) before printing ${pattern}; output:\n${out.slice(-3000)}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`))), timeoutMs);
        const finish = (f: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    exited(timeoutMs) {
      return Promise.race([exit, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs).unref())]);
    },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (exitCode !== undefined) {
          signalGroup('SIGKILL');
          return exitCode;
        }
        signalGroup('SIGINT');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        const code = await exit;
        clearTimeout(timer);
        // Whatever the leader left behind in its group goes too.
        signalGroup('SIGKILL');
        return code;
      })();
      return stopping;
    },
  };
}

/** Environment for a child in `domain`, discovery limited to this machine. */
export function rosEnv(domain: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // ROS's Python tools need Debian's python3 first on PATH.
  const path = `/usr/bin:${process.env.PATH ?? ''}`;
  return { ...process.env, PATH: path, ROS_DOMAIN_ID: String(domain), ROS_AUTOMATIC_DISCOVERY_RANGE: 'LOCALHOST', PYTHONUNBUFFERED: '1', ...extra };
}

/** `node dist/nodes/<name>.js --ros-args ...`: the nodes as ros2 run starts them, without a colcon build. */
export function nodeScript(name: string, rosArgs: string): string {
  return `node ${join(REPO, 'dist/nodes', `${name}.js`)} --ros-args ${rosArgs}`;
}

/**
 * A TCP port that was free a moment ago, for a server that must come back on the same address after a restart
 * (the bridge reconnects to its configured url), where port 0 cannot be used: bind 127.0.0.1:0, close, pass it on.
 */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/** Two ROS domains (vehicle, infrastructure) and a scratch directory for one describe block. */
export interface RosGraph {
  readonly vehicleDomain: number;
  readonly infraDomain: number;
  /** The scratch directory, made in `before`. */
  dir(): string;
  /** Starts a bash script in `domain`, after sourcing `setupFiles` (e.g. a workspace); it is stopped in `after`. */
  start(script: string, domain: number, setupFiles?: string[]): Proc;
}

/**
 * Registers the before/after hooks every real-graph suite needs: skip (or fail under FASTSOCKET_REQUIRE_ROS) without
 * ROS, a built dist/, a scratch directory, and in teardown every started process stopped, both domains' ros2
 * daemons stopped and the directory removed. Call it inside the suite's describe.
 */
export function useRosGraph(tmpPrefix: string): RosGraph {
  const [vehicleDomain, infraDomain] = uniqueDomains();
  const procs: Proc[] = [];
  let dir = '';
  before(function () {
    requireRos(this);
    assert.ok(existsSync(join(REPO, 'dist/nodes/server.js')), 'dist/ is built (npm run build) before the ROS tests');
    dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  });
  after(async function () {
    this.timeout(60_000);
    await Promise.all(procs.map((p) => p.stop()));
    if (dir) {
      for (const d of [vehicleDomain, infraDomain]) await startBash('ros2 daemon stop', rosEnv(d)).exited(20_000).catch(() => null);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    vehicleDomain,
    infraDomain,
    dir: () => dir,
    start: (script, domain, setupFiles = []) => {
      const p = startBash(script, rosEnv(domain), setupFiles);
      procs.push(p);
      return p;
    },
  };
}
