/**
 * Where ROS 1 message definitions come from. A subscriber learns them from each publisher's connection header,
 * so the bridge forwards types this machine does not have; a publisher needs them locally: from .msg files on
 * ROS_PACKAGE_PATH, a sourced ROS 1 prefix, or Debian's /usr/share/<pkg>/msg; and, for the few types the nodes
 * publish themselves, from the copies below, so the nodes run even without the message packages.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UnknownTypeError } from '../ros/errors';
import { buildFullText, isRos1TypeName, parseFullText, parseRos1Msg, ros1Md5, Ros1MessageSpec } from './msg-spec';

/** ROS 1 texts of the types the bridge and server publish; statistics_msgs has no ROS 1 package at all. */
export const BUILTIN_MSG_TEXTS: Readonly<Record<string, string>> = {
  'std_msgs/Float64': 'float64 data',
  'std_msgs/Header': 'uint32 seq\ntime stamp\nstring frame_id',
  'diagnostic_msgs/KeyValue': 'string key\nstring value',
  'diagnostic_msgs/DiagnosticStatus':
    'byte OK=0\nbyte WARN=1\nbyte ERROR=2\nbyte STALE=3\nbyte level\nstring name\nstring message\nstring hardware_id\nKeyValue[] values',
  'diagnostic_msgs/DiagnosticArray': 'Header header\nDiagnosticStatus[] status',
  'statistics_msgs/StatisticDataPoint': 'uint8 data_type\nfloat64 data',
  'statistics_msgs/MetricsMessage':
    'string measurement_source_name\nstring metrics_source\nstring unit\ntime window_start\ntime window_stop\nStatisticDataPoint[] statistics',
  'rosgraph_msgs/Log':
    'byte DEBUG=1\nbyte INFO=2\nbyte WARN=4\nbyte ERROR=8\nbyte FATAL=16\nHeader header\nbyte level\nstring name\nstring msg\n' +
    'string file\nstring function\nuint32 line\nstring[] topics',
};

/** The folders of a colon-separated path variable, empty entries left out. */
const splitPathList = (v: string | undefined): string[] => (v ?? '').split(':').filter((p) => p !== '');

/** Folders that may hold `<pkg>/msg/<Name>.msg` (or are a package themselves), in lookup order. */
export function ros1MsgSearchPath(env: NodeJS.ProcessEnv): string[] {
  const dirs = ros1PackagePathRoots(env);
  // A sourced ROS 2 prefix holds ROS 2 .msg files of the same names, which are not ROS 1 definitions.
  if (env.ROS_VERSION !== '2') dirs.push(...splitPathList(env.CMAKE_PREFIX_PATH).map((p) => join(p, 'share')));
  dirs.push('/usr/share');
  return dirs;
}

/**
 * The folders of ROS_PACKAGE_PATH, which rospack crawls for packages at any depth (a catkin workspace's src holds
 * repositories that hold packages). A ROS 1 prefix and /usr/share hold packages one level down only, and are large.
 */
export function ros1PackagePathRoots(env: NodeJS.ProcessEnv): string[] {
  return splitPathList(env.ROS_PACKAGE_PATH);
}

export class Ros1MessageCatalog {
  private readonly specs = new Map<string, Ros1MessageSpec>();
  private readonly fullTexts = new Map<string, string>();
  /** The packages found under each crawled root, by name, made at the first lookup there. */
  private readonly crawled = new Map<string, ReadonlyMap<string, string>>();

  /**
   * @param searchPath folders that hold `<pkg>/msg/<Name>.msg` (or are a package), in lookup order
   * @param crawlRoots those of searchPath to search for packages at any depth, as rospack does (ROS_PACKAGE_PATH)
   */
  constructor(
    private readonly searchPath: readonly string[],
    private readonly builtins: Readonly<Record<string, string>> = BUILTIN_MSG_TEXTS,
    private readonly crawlRoots: readonly string[] = [],
  ) {}

  /** @throws UnknownTypeError when no definition of `type` (`pkg/Name`) is known here */
  spec(type: string): Ros1MessageSpec {
    const known = this.specs.get(type);
    if (known) return known;
    const text = this.findText(type);
    if (text === null) throw new Ros1UnknownTypeError(type, `no ${type}.msg found in ${this.searchPath.join(', ')}`);
    const spec = parseRos1Msg(type, text);
    this.specs.set(type, spec);
    return spec;
  }

  /** The full text a publisher of `type` announces (and from which its md5sum follows). @throws UnknownTypeError */
  fullText(type: string): string {
    let text = this.fullTexts.get(type);
    if (text === undefined) {
      text = buildFullText(type, (t) => this.spec(t));
      this.fullTexts.set(type, text);
    }
    return text;
  }

  /** genmsg's md5sum of `type`, which subscribers check. @throws UnknownTypeError */
  md5(type: string): string {
    return ros1Md5(type, (t) => this.spec(t));
  }

  /**
   * Takes the definitions a publisher announced; they win over local files, since they are what its bytes
   * actually follow.
   */
  learn(type: string, fullText: string): void {
    for (const [t, spec] of parseFullText(type, fullText)) this.specs.set(t, spec);
    this.fullTexts.set(type, fullText);
  }

  private findText(type: string): string | null {
    if (!isRos1TypeName(type)) return null;
    const [pkg, name] = type.split('/');
    for (const dir of this.searchPath) {
      const candidates = [join(dir, pkg, 'msg', `${name}.msg`)];
      if (basename(dir) === pkg) candidates.push(join(dir, 'msg', `${name}.msg`));
      for (const file of candidates) if (existsSync(file)) return readFileSync(file, 'utf8');
      // Only when the flat layout has nothing: the crawl reads every folder down to the packages, once per root.
      const nested = this.crawlRoots.includes(dir) ? this.packagesUnder(dir).get(pkg) : undefined;
      const file = nested === undefined ? null : join(nested, 'msg', `${name}.msg`);
      if (file !== null && existsSync(file)) return readFileSync(file, 'utf8');
    }
    return this.builtins[type] ?? null;
  }

  private packagesUnder(root: string): ReadonlyMap<string, string> {
    let found = this.crawled.get(root);
    if (found === undefined) {
      found = crawlPackages(root);
      this.crawled.set(root, found);
    }
    return found;
  }
}

/** Folders below a crawl root that rospack would not look into either. */
const MAX_CRAWL_DEPTH = 16;

/**
 * The ROS packages under `root`, by the name in their package.xml, found as rospack finds them: a folder with a
 * package.xml is a package and is not searched further; hidden folders and folders holding CATKIN_IGNORE are skipped;
 * the first package of a name wins.
 */
export function crawlPackages(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (dir: string, depth: number): void => {
    let entries;
    try {
      // A symbolic link back up the tree is followed once.
      const real = realpathSync(dir);
      if (seen.has(real)) return;
      seen.add(real);
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone, or not readable: nothing there for us, as for rospack
    }
    const names = new Set(entries.map((e) => e.name));
    if (names.has('package.xml')) {
      const name = packageName(join(dir, 'package.xml')) ?? basename(dir);
      if (!found.has(name)) found.set(name, dir);
      return;
    }
    if (names.has('CATKIN_IGNORE') || depth >= MAX_CRAWL_DEPTH) return;
    for (const e of entries) {
      if (e.name.startsWith('.') || !(e.isDirectory() || e.isSymbolicLink())) continue;
      visit(join(dir, e.name), depth + 1);
    }
  };
  visit(root, 0);
  return found;
}

/** The <name> of a package.xml, or null when it cannot be read. */
function packageName(file: string): string | null {
  try {
    return /<name>\s*([^<\s]+)\s*<\/name>/.exec(readFileSync(file, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** UnknownTypeError with the ROS 1 reason, so the server's drop accounting treats it like any unknown type. */
export class Ros1UnknownTypeError extends UnknownTypeError {
  constructor(type: string, reason: string) {
    super(type);
    this.message = `message type ${type} is not available to ROS 1 here: ${reason}`;
  }
}
