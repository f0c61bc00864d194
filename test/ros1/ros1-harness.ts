/**
 * What the real-ROS 1 tests share: whether to run (skip with one line, or fail under FASTSOCKET_REQUIRE_ROS=1),
 * a roscore of their own on a free port, and environments that keep ROS 1 and ROS 2 apart: a ROS 1 child gets
 * no trace of a sourced ROS 2 (whose PYTHONPATH alone breaks Debian's rostopic), a ROS 2 child sources Jazzy
 * itself and gets no ROS 1 variables.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Proc, REPO, startBash } from '../ros/ros-harness';

export const ROS2_SETUP = '/opt/ros/jazzy/setup.bash';
const ROS1_TOOLS = ['/usr/bin/roscore', '/usr/bin/rostopic', '/usr/bin/roslaunch', '/usr/bin/rosparam'];

/** Why the ROS 1 tests cannot run here, or null. */
export function ros1SkipReason(): string | null {
  const missing = ROS1_TOOLS.filter((t) => !existsSync(t));
  if (missing.length > 0) return `ROS 1 tools are not installed (${missing.join(', ')}; run .ci/setup-ros1.sh)`;
  if (!existsSync('/usr/share/std_msgs/msg/String.msg')) return 'ros-std-msgs is not installed (run .ci/setup-ros1.sh)';
  if (!existsSync(join(REPO, 'node_modules/@foxglove/ros1'))) return '@foxglove/ros1 is not installed (npm ci)';
  if (!existsSync(join(REPO, 'dist/nodes/bridge1.js'))) return 'dist/ is not built (npm run build)';
  return null;
}

/** Why the ROS 2 half of the cross-version tests cannot run here, or null. */
export function ros2SkipReason(): string | null {
  if (!existsSync(ROS2_SETUP)) return `ROS 2 Jazzy is not installed (${ROS2_SETUP})`;
  if (!existsSync(join(REPO, 'node_modules/rclnodejs/build/Release/rclnodejs.node'))) return 'the rclnodejs addon is not built (npm ci with ROS 2 sourced)';
  if (!existsSync(join(REPO, 'node_modules/rclnodejs/generated/std_msgs'))) return 'rclnodejs has no generated messages (npm ci with ROS 2 sourced)';
  return null;
}

const printed = new Set<string>();

/** Call in a `before` hook: skips the suite with one printed line, or throws under FASTSOCKET_REQUIRE_ROS=1. */
export function requireOrSkip(ctx: Mocha.Context, what: string, reason: string | null): void {
  if (reason === null) return;
  if (process.env.FASTSOCKET_REQUIRE_ROS === '1') throw new Error(`FASTSOCKET_REQUIRE_ROS=1 but ${reason}`);
  if (!printed.has(what)) {
    printed.add(what);
    process.stdout.write(`  ${what} skipped: ${reason}.\n`);
  }
  ctx.skip();
}

const ROS2_VARIABLES = [
  'AMENT_PREFIX_PATH', 'COLCON_PREFIX_PATH', 'CMAKE_PREFIX_PATH', 'ROS_DISTRO', 'ROS_VERSION', 'ROS_PYTHON_VERSION',
  'ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_LOCALHOST_ONLY', 'RMW_IMPLEMENTATION', 'PYTHONPATH',
];
const ROS1_VARIABLES = ['ROS_MASTER_URI', 'ROS_HOSTNAME', 'ROS_IP', 'ROS_PACKAGE_PATH', 'ROS_HOME', 'ROS_NAMESPACE'];

function withoutOptRos(list: string | undefined): string {
  return (list ?? '').split(':').filter((p) => p !== '' && !p.startsWith('/opt/ros/')).join(':');
}

/** A ROS 1 child's environment: Debian's python first, no ROS 2, everything on loopback. */
export function ros1Env(masterUri: string, rosHome: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [...ROS2_VARIABLES, ...ROS1_VARIABLES]) delete env[k];
  return {
    ...env,
    PATH: `/usr/bin:${withoutOptRos(process.env.PATH)}`,
    LD_LIBRARY_PATH: withoutOptRos(process.env.LD_LIBRARY_PATH),
    ROS_MASTER_URI: masterUri,
    ROS_HOSTNAME: '127.0.0.1',
    ROS_HOME: rosHome,
    // roslaunch finds the fastsocket package (and its launch/ros1 files and bin/ wrappers) in the checkout.
    ROS_PACKAGE_PATH: REPO,
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}

/** A ROS 2 child's environment, before it sources Jazzy: no ROS 1 variables, discovery on this machine only. */
export function ros2Env(domain: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ROS1_VARIABLES) delete env[k];
  return { ...env, PATH: `/usr/bin:${process.env.PATH ?? ''}`, ROS_DOMAIN_ID: String(domain), ROS_AUTOMATIC_DISCOVERY_RANGE: 'LOCALHOST', PYTHONUNBUFFERED: '1', ...extra };
}

/** A loopback port that was free a moment ago (roscore cannot be told to pick one itself). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Ros1Master {
  readonly uri: string;
  readonly home: string;
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Starts `script` (bash) with this master's environment; stopped by `stop()` or the caller. */
  start(script: string): Proc;
  /** Runs `script` to its end within `timeoutMs` and returns its output; fails with the output otherwise. */
  run(script: string, timeoutMs: number): Promise<string>;
  /** Stops every process started here, roscore last, and removes ROS_HOME. */
  stop(): Promise<void>;
}

/**
 * Call in a `describe` of tests that each start roscores of their own: skips the suite without ROS 1, and stops every
 * master started through the returned function once the suite is done.
 */
export function roscoresOfSuite(): () => Promise<Ros1Master> {
  const masters: Ros1Master[] = [];
  before(function () {
    requireOrSkip(this, 'ROS 1 tests', ros1SkipReason());
  });
  after(async function () {
    this.timeout(60_000);
    await Promise.all(masters.splice(0).map((m) => m.stop()));
  });
  return async () => {
    const m = await startRoscore();
    masters.push(m);
    return m;
  };
}

/** Starts roscore on a free loopback port and waits until it serves. */
export async function startRoscore(): Promise<Ros1Master> {
  const home = mkdtempSync(join(tmpdir(), 'fastsocket-ros1-'));
  const procs: Proc[] = [];
  let core: Proc | null = null;
  for (let attempt = 0; core === null; attempt++) {
    const port = await freePort();
    const uri = `http://127.0.0.1:${port}/`;
    const p = startBash(`roscore -p ${port}`, ros1Env(uri, home));
    try {
      await p.waitFor(/started core service \[\/rosout\]/, 30_000);
      core = p;
      return make(uri, core);
    } catch (err) {
      await p.stop(2000);
      // Another process may have taken the port between our probe and roscore's bind.
      if (attempt >= 2) {
        rmSync(home, { recursive: true, force: true });
        throw err;
      }
    }
  }
  throw new Error('unreachable');

  function make(uri: string, roscore: Proc): Ros1Master {
    const m: Ros1Master = {
      uri,
      home,
      env: (extra = {}) => ros1Env(uri, home, extra),
      start(script) {
        const p = startBash(script, m.env(), [], REPO);
        procs.push(p);
        return p;
      },
      async run(script, timeoutMs) {
        const p = m.start(script);
        try {
          const code = await p.exited(timeoutMs);
          if (code !== 0) throw new Error(`${script} exited ${code}:\n${p.output().slice(-3000)}`);
          return p.output();
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${script} printed:\n${p.output().slice(-3000)}`);
        } finally {
          await p.stop(2000);
        }
      },
      async stop() {
        await Promise.all(procs.splice(0).reverse().map((p) => p.stop(5000)));
        await roscore.stop(10_000);
        rmSync(home, { recursive: true, force: true });
      },
    };
    return m;
  }
}

/** Counts the lines of `text` that match `pattern`. */
export function countLines(text: string, pattern: RegExp): number {
  return text.split('\n').filter((l) => pattern.test(l)).length;
}
