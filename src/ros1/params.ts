/**
 * ROS 1 private parameters in the port's terms. The parameter server holds a tree (`~topic_options/fix/type`);
 * the port speaks in dotted names (`topic_options.fix.type`) with typed values, as rclnodejs reports them, so
 * the same config readers serve both ROS versions.
 */
import { ParameterError } from '../ros/errors';
import type { ParamState, ParamValue } from '../ros/port';

/** A ROS 1 parameter (sub)tree as XML-RPC delivers it. */
export type Ros1ParamTree = Readonly<Record<string, unknown>>;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Date);
}

/** Every leaf of `tree`, by dotted name. */
export function flattenParams(tree: Ros1ParamTree, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(tree)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (isMap(value)) for (const [k, v] of flattenParams(value, name)) out.set(k, v);
    else out.set(name, value);
  }
  return out;
}

/** Sets `value` at the dotted or slashed `name` of a copy of `tree`. */
export function withParam(tree: Ros1ParamTree, name: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = name.split(/[./]/);
  const copy: Record<string, unknown> = { ...tree };
  if (rest.length === 0) copy[head] = value;
  else copy[head] = withParam(isMap(tree[head]) ? (tree[head] as Ros1ParamTree) : {}, rest.join('.'), value);
  return copy;
}

/**
 * Types a ROS 1 value the way rclnodejs types a ROS 2 one. XML-RPC does not tell `1.0` from `1`, so a whole
 * number is an integer (the readers accept integers where a double is meant); an empty list is `not_set`.
 * @throws ParameterError for a list of mixed types or a value of no parameter type
 */
export function toParamState(name: string, value: unknown): ParamState {
  const state = (type: ParamState['type'], v: ParamValue | undefined): ParamState => ({ name, type, value: v });
  if (typeof value === 'boolean') return state('bool', value);
  if (typeof value === 'string') return state('string', value);
  if (typeof value === 'number') return Number.isInteger(value) ? state('integer', BigInt(value)) : state('double', value);
  if (value instanceof Uint8Array) return state('byte_array', value);
  if (Array.isArray(value)) {
    if (value.length === 0) return state('not_set', undefined);
    if (value.every((x) => typeof x === 'string')) return state('string_array', value as string[]);
    if (value.every((x) => typeof x === 'boolean')) return state('bool_array', value as boolean[]);
    if (value.every((x) => typeof x === 'number' && Number.isInteger(x))) return state('integer_array', (value as number[]).map((x) => BigInt(x)));
    if (value.every((x) => typeof x === 'number')) return state('double_array', value as number[]);
    throw new ParameterError(name, 'a list must hold values of one type (strings, numbers or booleans)');
  }
  if (isMap(value)) throw new ParameterError(name, 'expected a single value or a list, got a map');
  throw new ParameterError(name, `unsupported value ${String(value)}`);
}
