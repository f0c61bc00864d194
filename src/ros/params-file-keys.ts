/**
 * Finds the entries of `--params-file` files that rclnodejs silently skips for a node. rclnodejs applies only `/**`
 * and the bare node name, where rclcpp and rclpy also apply the full name (`/fastsocket_bridge:`, which is what
 * `ros2 param dump` writes, and what launch_ros writes for a parameters dict given with a namespace) and wildcards.
 * A node whose file is keyed so would otherwise start on its defaults (another url, no topics) without a word.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** The `--params-file` paths of the `--ros-args` sections of `argv`, in order. */
export function paramsFiles(argv: readonly string[]): string[] {
  const files: string[] = [];
  let inRosArgs = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--ros-args') inRosArgs = true;
    else if (argv[i] === '--') inRosArgs = false;
    else if (inRosArgs && argv[i] === '--params-file' && i + 1 < argv.length) files.push(argv[++i]);
  }
  return files;
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
