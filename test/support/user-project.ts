import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository: build/test/support is three folders below it. */
export const REPO = path.resolve(__dirname, '../../..');

/**
 * A project folder (build/<name>, inside the repo so that tsc finds @types/node above it as a user's project has it in
 * its own node_modules) that depends on this package as an installed one would: `fastsocket` resolves through
 * package.json's `main` and `types` to dist/, not to the sources. The package is its package.json and a link to dist/,
 * not a link to the repo: that made a loop (the repo holds the project), and roslaunch, which follows links looking
 * for a launch file, found server.launch in fastsocket under build/readme-example/node_modules/fastsocket/build/...
 * ever deeper and refused to choose, so every ROS 1 test run after this one failed. The caller removes it after.
 */
export function userProject(name: string): string {
  const project = path.join(REPO, 'build', name);
  fs.rmSync(project, { recursive: true, force: true });
  const pkg = path.join(project, 'node_modules', 'fastsocket');
  fs.mkdirSync(pkg, { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'dist'), path.join(pkg, 'dist'), 'dir');
  return project;
}

/** Runs the repo's tsc with `args` in `cwd`; throws with tsc's report (its stdout) when it finds errors. */
export function tsc(cwd: string, args: readonly string[]): void {
  const bin = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    throw new Error(`tsc: ${(err as { stdout?: string }).stdout ?? err}`);
  }
}
