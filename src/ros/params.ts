/**
 * Declares parameters with descriptors and reads them with type checks, so a bad value is reported by parameter
 * name instead of surfacing later as a confusing failure. Numbers are lenient on purpose: YAML `rate: 10` arrives
 * as an integer even where a double is meant.
 */
import { closest, fileSystemErrorText, parseUrl } from '../fastsocket';
import { ParameterError } from './errors';
import { ParamState, ParamType, ParamValue, RosNode } from './port';

/**
 * Parameters a node may be given without declaring them: ROS-wide ones (rclcpp's and rclpy's `use_sim_time`,
 * `start_type_description_service`, `qos_overrides.*`) and `log_level`, which the ROS 1 port reads itself.
 */
const NOT_OURS = new Set(['use_sim_time', 'start_type_description_service', 'log_level']);
const NOT_OURS_PREFIXES = ['qos_overrides.'];

export class ParamReader {
  private readonly declared = new Set<string>();

  constructor(private readonly node: RosNode) {}

  string(name: string, defaultValue: string, description: string): string {
    const p = this.declare(name, 'string', defaultValue, description);
    if (p.type !== 'string') throw mismatch(p, 'a string');
    return p.value as string;
  }

  /** @param choices the allowed values, listed in the error */
  choice<T extends string>(name: string, defaultValue: T, choices: readonly T[], description: string): T {
    // Quoted, so that an allowed empty string shows as "" rather than as nothing.
    const listed = choices.map((c) => JSON.stringify(c)).join(', ');
    const value = this.string(name, defaultValue, `${description} One of: ${listed}.`);
    if (!(choices as readonly string[]).includes(value)) {
      throw new ParameterError(name, `expected one of ${listed}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  }

  double(name: string, defaultValue: number, description: string, check?: (n: number) => string | null): number {
    const p = this.declare(name, 'double', defaultValue, description);
    let n: number;
    if (p.type === 'double') n = p.value as number;
    else if (p.type === 'integer') n = Number(p.value as bigint);
    else throw mismatch(p, 'a number');
    const problem = check?.(n);
    if (problem) throw new ParameterError(name, `${problem}, got ${n}`);
    return n;
  }

  integer(name: string, defaultValue: number, description: string, check?: (n: number) => string | null): number {
    const p = this.declare(name, 'integer', BigInt(defaultValue), description);
    if (p.type !== 'integer') throw mismatch(p, 'an integer');
    const big = p.value as bigint;
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ParameterError(name, `${big} is too large`);
    }
    const n = Number(big);
    const problem = check?.(n);
    if (problem) throw new ParameterError(name, `${problem}, got ${n}`);
    return n;
  }

  boolean(name: string, defaultValue: boolean, description: string): boolean {
    const p = this.declare(name, 'bool', defaultValue, description);
    if (p.type !== 'bool') throw mismatch(p, 'true or false');
    return p.value as boolean;
  }

  /** A url the core can use (tcp://, tls://, ws://, wss://), checked now so a bad one is named before any socket. */
  url(name: string, defaultValue: string, description: string): string {
    const url = this.string(name, defaultValue, description);
    try {
      parseUrl(url);
    } catch (err) {
      throw new ParameterError(name, (err as Error).message);
    }
    return url;
  }

  stringArray(name: string, defaultValue: string[], description: string): string[] {
    const p = this.declare(name, 'string_array', defaultValue, description);
    // An empty YAML list arrives with no type at all (rclnodejs): it means the default, which is empty too.
    if (p.type === 'not_set') return [...defaultValue];
    if (p.type !== 'string_array') throw mismatch(p, 'a list of strings');
    return [...(p.value as string[])];
  }

  /**
   * Warns once about each override (params file, `-p`) that no read declared, with the closest known name when it
   * is a likely typo. Not an error: one params file is often shared by several nodes.
   */
  warnUnknownOverrides(): void {
    // A name set both under `/**` and under the node's own key is listed twice.
    for (const name of new Set(this.node.parameterOverrides().map((p) => p.name))) {
      if (this.declared.has(name) || NOT_OURS.has(name) || NOT_OURS_PREFIXES.some((p) => name.startsWith(p))) continue;
      const guess = closest(name, this.declared);
      this.node.logger.warn(`parameter ${name} is not a parameter of this node; ignored${guess === null ? '' : ` (did you mean ${guess}?)`}`);
    }
  }

  private declare(name: string, type: ParamType, defaultValue: ParamValue, description: string): ParamState {
    this.declared.add(name);
    return this.node.declareParameter({ name, type, defaultValue, description, readOnly: true });
  }
}

function mismatch(p: ParamState, expected: string): ParameterError {
  return new ParameterError(p.name, `expected ${expected}, got ${p.type === 'not_set' ? 'an empty value' : `${p.type} ${formatValue(p.value)}`}`);
}

function formatValue(v: ParamValue | undefined): string {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `[${Array.from(v).join(', ')}]`;
  if (Array.isArray(v)) return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  return JSON.stringify(v);
}

/**
 * A topic name as a user writes it, with the ROS 1 private form `~scan` taken as the ROS 2 one, `~/scan` (both mean
 * the node's own scan); anything else unchanged.
 */
export function normalizePrivateName(name: string): string {
  return /^~[^/]/.test(name) ? `~/${name.slice(1)}` : name;
}

/** A ROS 2 topic name: absolute, relative or private (`~/x`); no empty tokens, tokens not starting with a digit. */
export function isValidTopicName(name: string): boolean {
  return /^(~\/|\/)?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/.test(name);
}

export function positive(n: number): string | null {
  return n > 0 && Number.isFinite(n) ? null : 'must be greater than 0';
}

export function nonNegative(n: number): string | null {
  return n >= 0 && Number.isFinite(n) ? null : 'must be 0 or more';
}

/**
 * Runs `open` (which creates or opens `path`), reporting a file-system failure (an error with an errno code) as a
 * ParameterError naming `param`; other errors pass through.
 */
export function openParamPath<T>(param: string, path: string | null, open: () => T): T {
  try {
    return open();
  } catch (err) {
    const text = fileSystemErrorText(err);
    if (path === null || text === null) throw err;
    throw new ParameterError(param, `cannot use ${JSON.stringify(path)}: ${text}`);
  }
}

export function between(min: number, max: number): (n: number) => string | null {
  return (n) => (n >= min && n <= max ? null : `must be from ${min} to ${max}`);
}
