import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');

/** The files `npm pack` puts in the tarball, from the dist/ on disk (--ignore-scripts: no rebuild). */
function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [pack] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  return new Set(pack.files.map((f) => f.path));
}

describe('the npm package', () => {
  let files = new Set<string>();

  before(function () {
    this.timeout(30_000);
    assert.ok(fs.existsSync(path.join(REPO, 'dist/fastsocket/index.js')), 'dist/ is built (npm run build) before this test');
    files = packedFiles();
  });

  it('holds what the library, the command and the ROS package need at run time, and the docs the README links to', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { main: string; types: string; bin: Record<string, string> };
    const needed = [pkg.main, pkg.types, ...Object.values(pkg.bin), 'package.json', 'package.xml', 'CMakeLists.txt', 'README.md', 'LICENSE',
      'cmake/install-runtime-node-modules.cmake',
      'bin/bridge', 'bin/server', 'bin/talker', 'bin/bridge1', 'bin/server1', 'launch/server.launch.py', 'config/bridge.yaml', 'docs/cli.md'];
    for (const f of needed) assert.ok(files.has(path.normalize(f)), `${f} is in the package`);
  });

  it('names in allowScripts every locked dependency with an install script (npm 11 warns about the others, and fails with --strict-allow-scripts)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const unreviewed = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length))
      .filter((name) => !(name in (pkg.allowScripts ?? {})));
    assert.deepEqual(unreviewed, []);
    // rclnodejs is compiled against the sourced ROS 2 by its install script: denying it would leave the nodes without it.
    assert.equal(pkg.allowScripts?.rclnodejs, true);
  });

  it('declares in package.xml the ROS packages its launch files import', () => {
    const xml = fs.readFileSync(path.join(REPO, 'package.xml'), 'utf8');
    const declared = new Set([...xml.matchAll(/<(?:exec_)?depend(?:\s[^>]*)?>([^<]+)</g)].map((m) => m[1].trim()));
    const ours = new Set(fs.readdirSync(path.join(REPO, 'launch')).filter((f) => f.endsWith('.py')).map((f) => f.replace(/\.py$/, '')));
    const imported = new Set<string>();
    for (const f of [...ours].map((m) => `${m}.py`)) {
      for (const [, mod] of fs.readFileSync(path.join(REPO, 'launch', f), 'utf8').matchAll(/^(?:from|import)\s+([A-Za-z_][\w]*)/gm)) imported.add(mod);
    }
    const python = new Set(['os', 'sys', 'json', 'tempfile']);
    const missing = [...imported].filter((m) => !python.has(m) && !ours.has(m) && !declared.has(m));
    assert.deepEqual(missing, []);
  });

  it('holds nothing of the tests, the benchmarks or their results', () => {
    const stray = [...files].filter((f) => /^(test|build|bench|results|node_modules)\//.test(f) || f.endsWith('.tgz'));
    assert.deepEqual(stray, []);
  });

  it('holds no compiled file whose source is gone (tsc leaves the output of a deleted source in dist/)', () => {
    const stale = [...files].filter((f) => /^dist\/.*\.(js|d\.ts)$/.test(f) && !fs.existsSync(path.join(REPO, 'src', f.slice('dist/'.length).replace(/(\.d)?\.ts$|\.js$/, '.ts'))));
    assert.deepEqual(stale, []);
  });

  it('holds the sources its source maps point at', () => {
    const maps = [...files].filter((f) => f.endsWith('.map'));
    assert.ok(maps.length > 0, 'the package has source maps');
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(fs.readFileSync(path.join(REPO, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of sources) {
        const target = path.normalize(path.join(path.dirname(map), sourceRoot, s));
        if (!files.has(target)) missing.push(`${map} -> ${target}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('resolves every link of its Markdown files that stays inside the package', () => {
    const broken: string[] = [];
    for (const md of [...files].filter((f) => f.endsWith('.md'))) {
      for (const [, target] of fs.readFileSync(path.join(REPO, md), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const resolved = path.normalize(path.join(path.dirname(md), target));
        if (resolved.startsWith('..')) continue;
        if (!files.has(resolved) && ![...files].some((f) => f.startsWith(`${resolved}/`))) broken.push(`${md} -> ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
