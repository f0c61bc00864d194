/**
 * Finds the entries of `--params-file` files that rclnodejs silently skips for a node. rclnodejs applies only `/**`
 * and the bare node name, where rclcpp and rclpy also apply the full name (`/fastsocket_bridge:`, which is what
 * `ros2 param dump` writes, and what launch_ros writes for a parameters dict given with a namespace) and wildcards.
 * A node whose file is keyed so would otherwise start on its defaults (another url, no topics) without a word.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** The values that follow any of `flags` in the `--ros-args` sections of `argv`, in order. */
function rosArgValues(argv: readonly string[], flags: readonly string[]): string[] {
  const values: string[] = [];
  let inRosArgs = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--ros-args') inRosArgs = true;
    else if (argv[i] === '--') inRosArgs = false;
    else if (inRosArgs && flags.includes(argv[i]) && i + 1 < argv.length) values.push(argv[++i]);
  }
  return values;
}

/** The `--params-file` paths of the `--ros-args` sections of `argv`, in order. */
export function paramsFiles(argv: readonly string[]): string[] {
  return rosArgValues(argv, ['--params-file']);
}

/**
 * One warning per params file key that rclcpp would apply to the node `fqn` and rclnodejs ignores, and one per file
 * with no key for the node at all. Never throws: a file rcl accepted but that cannot be read here is passed over.
 * @param name the node's name after remapping, e.g. `fastsocket_bridge`
 * @param fqn its fully qualified name, e.g. `/fastsocket_bridge`
 */
export function ignoredParamsFileKeys(argv: readonly string[], name: string, fqn: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string[] {
  const warnings: string[] = [];
  for (const file of paramsFiles(argv)) {
    let keys: string[];
    try {
      // Only the keys count here: no warning for tags such as the !!python/tuple launch_ros writes for a list.
      const doc: unknown = parseYaml(read(file), { logLevel: 'error' });
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) continue;
      keys = Object.keys(doc);
    } catch {
      continue;
    }
    if (keys.length === 0 || keys.includes('/**') || keys.includes(name)) continue;
    const skipped = keys.filter((k) => rclcppApplies(k, fqn));
    const fix = `key it "${name}:" or "/**:"`;
    if (skipped.length > 0) {
      for (const k of skipped) warnings.push(`params file ${file}: key "${k}" is ignored (rclnodejs applies only "/**" and the bare node name); ${fix}`);
    } else {
      warnings.push(`params file ${file} has no key for this node (${name}), only ${keys.map((k) => `"${k}"`).join(', ')}, so none of it applies; ${fix}`);
    }
  }
  return warnings;
}

/** Whether rclcpp would apply the params file key `key` to the node `fqn`: a full name, `*` one token, `**` any. */
function rclcppApplies(key: string, fqn: string): boolean {
  const absolute = key.startsWith('/') ? key : `/${key}`;
  const pattern = absolute
    .split('/')
    .slice(1)
    .map((token) => (token === '**' ? '(/[^/]+)*' : `/${token === '*' ? '[^/]+' : token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    .join('');
  return new RegExp(`^${pattern}$`).test(fqn);
}

/**
 * One warning per `-p key:=value` (or `--param`) for all nodes that the node never sees because a params file sets
 * the same key under its bare name: rclnodejs applies the bare name's entries over the `/**` ones whatever their
 * order, where rclcpp lets the later one win, so `--params-file f.yaml -p url:=...` kept the file's url in silence.
 * Never throws: a file that cannot be read here is passed over.
 * @param name the node's name after remapping, e.g. `fastsocket_bridge`
 */
export function shadowedCommandLineParams(argv: readonly string[], name: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string[] {
  const overrides: Array<{ key: string; raw: string }> = [];
  for (const param of rosArgValues(argv, ['-p', '--param'])) {
    const m = /^([^:]+):=(.*)$/s.exec(param);
    if (m) overrides.push({ key: m[1], raw: m[2] });
  }
  if (overrides.length === 0) return [];
  const warnings: string[] = [];
  for (const file of paramsFiles(argv)) {
    let own: Map<string, unknown>;
    try {
      const doc: unknown = parseYaml(read(file), { logLevel: 'error' });
      own = flatten((doc as Record<string, { ros__parameters?: unknown } | undefined> | null)?.[name]?.ros__parameters);
    } catch {
      continue;
    }
    for (const { key, raw } of overrides) {
      if (!own.has(key) || sameValue(own.get(key), raw)) continue;
      warnings.push(
        `-p ${key}:=${raw} on the command line does not apply: params file ${file} sets ${key} under "${name}:", which rclnodejs applies over ` +
          `every "/**" value, the command line's included; write -p ${name}:${key}:=${raw}`,
      );
    }
  }
  return warnings;
}

/** A ros__parameters map's values by their dotted names, as rcl flattens nested maps. */
function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, v);
  }
  return out;
}

/** Whether the command line's `raw` value (YAML, as rcl reads it) is the file's. */
function sameValue(fileValue: unknown, raw: string): boolean {
  try {
    return JSON.stringify(parseYaml(raw, { logLevel: 'error' })) === JSON.stringify(fileValue);
  } catch {
    return false;
  }
}
