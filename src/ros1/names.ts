/**
 * ROS 1 command-line arguments (what roslaunch and `rosrun` pass: `__name:=`, `__ns:=`, `_param:=value`,
 * `from:=to` remaps) and ROS 1 name resolution (global, relative, private `~name`, then remapping).
 */
import { parse as parseYaml } from 'yaml';
import { ParameterError, RosError } from '../ros/errors';

export interface Ros1Args {
  /** `__name:=`: replaces the node's default name. */
  readonly name: string | null;
  /** `__ns:=`, else ROS_NAMESPACE. */
  readonly namespace: string | null;
  readonly masterUri: string | null;
  /** `__hostname:=` or `__ip:=`: the address other nodes use to reach this one. */
  readonly hostname: string | null;
  /** `_param:=value`, value parsed as YAML as roscpp does. */
  readonly params: Readonly<Record<string, unknown>>;
  /** `from:=to`, unresolved. */
  readonly remaps: ReadonlyArray<readonly [string, string]>;
  /** Everything that is not a ROS argument. */
  readonly rest: readonly string[];
}

/**
 * @param args the arguments after the script (process.argv.slice(2))
 * @throws ParameterError for a `_param:=` with a name ROS 1 would not accept
 */
export function parseRos1Args(args: readonly string[]): Ros1Args {
  let name: string | null = null;
  let namespace: string | null = null;
  let masterUri: string | null = null;
  let hostname: string | null = null;
  const params: Record<string, unknown> = {};
  const remaps: Array<[string, string]> = [];
  const rest: string[] = [];
  for (const arg of args) {
    const i = arg.indexOf(':=');
    if (i <= 0) {
      rest.push(arg);
      continue;
    }
    const key = arg.slice(0, i);
    const value = arg.slice(i + 2);
    if (key === '__name') name = value;
    else if (key === '__ns') namespace = value;
    else if (key === '__master') masterUri = value;
    else if (key === '__hostname' || key === '__ip') hostname = value;
    else if (key.startsWith('__')) continue; // __log and friends: nothing for us to do
    else if (key.startsWith('_')) {
      const param = key.slice(1);
      if (!/^[A-Za-z][A-Za-z0-9_]*(\/[A-Za-z][A-Za-z0-9_]*)*$/.test(param)) throw new ParameterError(param, `${JSON.stringify(key)} is not a private parameter name`);
      params[param] = parseParamValue(value);
    } else remaps.push([key, value]);
  }
  return { name, namespace, masterUri, hostname, params, remaps, rest };
}

function parseParamValue(text: string): unknown {
  try {
    return parseYaml(text) ?? text;
  } catch {
    return text;
  }
}

const BASE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const NAME_RULE = 'letters, digits and _, starting with a letter';

/**
 * The master registers any name, so a typo (`__name:=my bridge`) ran as a node other nodes could not name; roscpp
 * refuses to start with one.
 * @param source where the name came from, for the message (`__name`, `ROS_NAMESPACE`, ...)
 * @throws RosError FS_ROS_ERR_PARAM when `name` is not a ROS 1 node name
 */
export function checkNodeName(name: string, source: string): void {
  if (!BASE_NAME.test(name)) throw new RosError('FS_ROS_ERR_PARAM', `${source} ${JSON.stringify(name)} is not a ROS 1 node name: ${NAME_RULE}`);
}

/** @throws RosError FS_ROS_ERR_PARAM when a part of namespace `ns` is not a ROS 1 name */
export function checkNamespace(ns: string, source: string): void {
  if (!ns.split('/').every((part) => part === '' || BASE_NAME.test(part))) {
    throw new RosError('FS_ROS_ERR_PARAM', `${source} ${JSON.stringify(ns)} is not a ROS 1 namespace: names of ${NAME_RULE}, separated by /`);
  }
}

/** Joins and normalises a namespace: leading slash, no trailing slash except the root. */
export function normalizeNamespace(ns: string | null | undefined): string {
  const trimmed = (ns ?? '').replace(/\/+/g, '/').replace(/\/$/, '');
  if (trimmed === '') return '/';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/** Resolves names the ROS 1 way for one node. */
export class Ros1Names {
  readonly fullyQualifiedName: string;
  private readonly remaps = new Map<string, string>();

  constructor(
    readonly namespace: string,
    readonly nodeName: string,
    remaps: ReadonlyArray<readonly [string, string]> = [],
  ) {
    this.fullyQualifiedName = join(namespace, nodeName);
    for (const [from, to] of remaps) this.remaps.set(this.expand(from), this.expand(to));
  }

  /** `~x` and `~/x` are private (ROS 2 spells them `~/x`), `/x` global, anything else relative to the namespace. */
  resolve(name: string): string {
    const expanded = this.expand(name);
    return this.remaps.get(expanded) ?? expanded;
  }

  private expand(name: string): string {
    if (name.startsWith('~')) return join(this.fullyQualifiedName, name.slice(1).replace(/^\//, ''));
    if (name.startsWith('/')) return normalizeNamespace(name);
    return join(this.namespace, name);
  }
}

function join(ns: string, name: string): string {
  if (name === '') return ns;
  return ns === '/' ? `/${name}` : `${ns}/${name}`;
}
