import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_CLIENT_LIMITS, DEFAULT_SERVER_LIMITS, DEFAULT_SILENCE_TIMEOUT_MS, FastSocketClient, FastSocketServer } from '../../src/fastsocket';
import { CLIENT_LIMIT_OPTIONS, limitFlagSpecs, SERVER_LIMIT_OPTIONS } from '../../src/cli/args';
import { readBridgeConfig } from '../../src/ros/bridge-config';
import { readServerConfig } from '../../src/ros/server-config';
import { MemoryRosGraph, type MemoryRosNode } from '../support/memory-ros-port';

const REPO = resolve(__dirname, '../../..');
const MiB = 1024 * 1024;

/** The cells of each row of the first Markdown table after the line `heading`, header and rule left out. */
function tableAfter(file: string, heading: string): string[][] {
  const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
  const at = lines.indexOf(heading);
  assert.ok(at >= 0, `${file} has no line "${heading}"`);
  const start = lines.findIndex((l, i) => i > at && l.startsWith('|'));
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i].split('|').slice(1, -1).map((c) => c.trim()));
  assert.ok(rows.length > 0, `${file}: no table after "${heading}"`);
  return rows;
}

/** A default as the docs write it: `16 MiB`, `16777216 (16 MiB)`, `10000`, `` `drop-oldest` ``, `empty`. */
function documented(cell: string): number | string {
  const text = cell.replace(/`/g, '');
  const mib = /^(\d+) MiB$/.exec(text);
  if (mib) return Number(mib[1]) * MiB;
  const n = /^(\d+(?:\.\d+)?)\b/.exec(text);
  if (n) return Number(n[1]);
  return text === 'empty' ? '' : text;
}

const camel = (name: string): string => name.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Every default the library exports, by option name. */
const LIBRARY_DEFAULTS: Record<string, number | string> = {
  ...DEFAULT_SERVER_LIMITS,
  ...DEFAULT_CLIENT_LIMITS,
  silenceTimeoutMs: DEFAULT_SILENCE_TIMEOUT_MS,
};

/** The `(default N)` of each limit flag in `fastsocket --help`, by option name. */
function helpDefaults(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of [...SERVER_LIMIT_OPTIONS, ...CLIENT_LIMIT_OPTIONS]) {
    const help = limitFlagSpecs([name])[name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)].help;
    const m = /\(default (\d+)/.exec(help);
    assert.ok(m, `the help of ${name} names its default: ${help}`);
    out[name] = Number(m[1]);
  }
  return out;
}

/** The options a constructor accepts, as its error for an unknown one lists them. */
function knownOptions(construct: () => unknown): string[] {
  try {
    construct();
  } catch (err) {
    const m = /known options: (.*)$/.exec((err as Error).message);
    assert.ok(m, (err as Error).message);
    return m[1].split(', ');
  }
  assert.fail('an unknown option was accepted');
}

function declaredDefaults(node: MemoryRosNode): Map<string, number | string | boolean> {
  return new Map(node.declarations.map((d) => [d.name, typeof d.defaultValue === 'bigint' ? Number(d.defaultValue) : (d.defaultValue as string | boolean)]));
}

describe('documented defaults', () => {
  describe('README.md "Limits and defaults"', () => {
    it('quotes the defaults the library exports', () => {
      const rows = tableAfter('README.md', '### Limits and defaults');
      for (const [names, defaults] of rows) {
        const keys = names.split(' / ').map(camel);
        const values = defaults.split(' / ').map(documented);
        assert.equal(keys.length, values.length, names);
        keys.forEach((k, i) => assert.equal(values[i], LIBRARY_DEFAULTS[k], `README: ${names}`));
      }
      assert.equal(rows.length, 9);
    });
  });

  describe('fastsocket --help', () => {
    it('names the defaults the library applies', () => {
      const help = helpDefaults();
      for (const [name, value] of Object.entries(help)) {
        if (name in LIBRARY_DEFAULTS) assert.equal(value, LIBRARY_DEFAULTS[name], `--help of ${name}`);
      }
      assert.equal(help.maxAttempts, 0);
    });
  });

  describe('docs/cli.md "Limits"', () => {
    it('quotes the defaults of fastsocket serve --help', () => {
      const help = helpDefaults();
      const rows = tableAfter('docs/cli.md', '### Limits');
      for (const [flag, value] of rows) {
        const name = camel(/^`--([a-z0-9-]+)/.exec(flag)![1]);
        if (value === 'none') continue;
        assert.equal(documented(value), help[name], `docs/cli.md: ${flag}`);
      }
    });
  });

  describe('docs/ros2.md "Limits and reliability parameters"', () => {
    it('quotes the defaults the nodes declare', () => {
      const server = new MemoryRosGraph().createNode('fastsocket_server');
      readServerConfig(server);
      const bridge = new MemoryRosGraph().createNode('fastsocket_bridge');
      readBridgeConfig(bridge, 'h');
      const declared = { server: declaredDefaults(server), bridge: declaredDefaults(bridge) };
      const rows = tableAfter('docs/ros2.md', '## Limits and reliability parameters');
      for (const [node, param, value] of rows) {
        const name = param.replace(/`/g, '');
        const defaults = declared[node as 'server' | 'bridge'];
        assert.ok(defaults?.has(name), `docs/ros2.md: the ${node} has no parameter ${name}`);
        assert.equal(documented(value), defaults.get(name), `docs/ros2.md: ${node} ${name}`);
      }
    });
  });

  describe('docs/library.md "Options"', () => {
    const tables: Array<[string, () => unknown]> = [
      ['The server, `new FastSocketServer(options)`:', () => new FastSocketServer({ noSuchOption: 1 } as never)],
      ['The client, `new FastSocketClient(options)`:', () => new FastSocketClient({ noSuchOption: 1 } as never)],
    ];
    for (const [heading, construct] of tables) {
      it(`lists every option and default of ${heading.split(',')[0].slice(4)}`, () => {
        const rows = tableAfter('docs/library.md', heading);
        const listed: string[] = [];
        for (const [names, defaults] of rows) {
          const keys = [...names.matchAll(/`(\w+)`/g)].map((m) => m[1]);
          listed.push(...keys);
          const values = defaults.split(', ').map(documented);
          if (values.length !== keys.length) continue;
          keys.forEach((k, i) => {
            if (k in LIBRARY_DEFAULTS) assert.equal(values[i], LIBRARY_DEFAULTS[k], `docs/library.md: ${k}`);
          });
        }
        assert.deepEqual([...listed].sort(), knownOptions(construct).sort());
      });
    }
  });
});
