import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, tsc, userProject } from '../support/user-project';

/** The code block under the README's heading `## The library`, as a user copies it. */
function readmeLibraryExample(): string {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## The library\n'));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'the README has a ts block under "## The library"');
  return block[1];
}

describe('the README example of the library', () => {
  let dir = '';
  let example = '';

  before(() => {
    assert.ok(fs.existsSync(path.join(REPO, 'dist/fastsocket/index.d.ts')), 'dist/ is built (npm run build) before this test');
    dir = userProject('readme-example');
    example = readmeLibraryExample();
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [resolution, flags] of [
    ['node16', ['--module', 'node16', '--moduleResolution', 'node16']],
    // The library's declarations are checked once, above: this one looks at resolution alone.
    ['bundler', ['--module', 'esnext', '--moduleResolution', 'bundler', '--skipLibCheck']],
  ] as const) {
    it(`type-checks as written under strict, with the published types (${resolution} resolution)`, function () {
      this.timeout(60_000);
      fs.writeFileSync(path.join(dir, `example-${resolution}.mts`), example);
      tsc(dir, ['--noEmit', '--strict', '--target', 'es2022', '--types', 'node', ...flags, `example-${resolution}.mts`]);
    });
  }

  it('runs as written (an ES module), prints what it says, and leaves nothing running', function () {
    this.timeout(30_000);
    fs.writeFileSync(path.join(dir, 'example.mjs'), example);
    // The process ends on its own: a timer or socket left open would keep it running until the timeout kills it.
    const run = spawnSync(process.execPath, ['--unhandled-rejections=strict', '--trace-warnings', 'example.mjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual({ status: run.status, signal: run.signal, stderr: run.stderr }, { status: 0, signal: null, stderr: '' });
    const out = run.stdout;
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 2, out);
    assert.equal(lines[0], 'got { speed: 13.9 } from veh-17');
    assert.match(lines[1], /^[0-9a-f-]{36}: \d+\.\d{3} ms$/);
  });
});
