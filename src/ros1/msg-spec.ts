/**
 * ROS 1 message definitions as text: one .msg file, and the "full text" that TCPROS carries in a connection header
 * (the type's own text, then each dependency after a line of `=` and `MSG: pkg/Name`). We parse it ourselves
 * rather than with @foxglove/rosmsg because that parser folds `byte` into int8 and `char` into uint8, and the
 * ROS 2 side needs to know which fields were bytes.
 */
import { createHash } from 'node:crypto';

export const ROS1_PRIMITIVES = [
  'bool', 'byte', 'char', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
  'float32', 'float64', 'string', 'time', 'duration',
] as const;
export type Ros1Primitive = (typeof ROS1_PRIMITIVES)[number];

export interface Ros1Field {
  readonly name: string;
  /** The type as written (`uint8[]`, `Header`): genmsg's md5 of a primitive field hashes this text. */
  readonly typeText: string;
  /** A primitive, or a message type `pkg/Name`. */
  readonly type: Ros1Primitive | string;
  readonly primitive: boolean;
  /** ROS 1 has `T[N]` and `T[]` only. */
  readonly array: 'none' | 'fixed' | 'dynamic';
  readonly size?: number;
}

export interface Ros1Constant {
  readonly type: string;
  readonly name: string;
  /** The value as written, trimmed (what the md5 text holds). */
  readonly valueText: string;
}

export interface Ros1MessageSpec {
  /** `pkg/Name`. */
  readonly type: string;
  readonly fields: readonly Ros1Field[];
  readonly constants: readonly Ros1Constant[];
  /** The .msg text of this type alone, as a full text section carries it. */
  readonly text: string;
  /** Message types this one refers to directly, in order of appearance. */
  readonly dependencies: readonly string[];
}

/** A .msg text that is not valid ROS 1 syntax; `line` is 1-based. */
export class MsgSyntaxError extends Error {
  constructor(readonly type: string, readonly line: number, problem: string) {
    super(`${type}.msg line ${line}: ${problem}`);
    this.name = 'MsgSyntaxError';
  }
}

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*\/[A-Za-z][A-Za-z0-9_]*$/;
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const SECTION_RULE = /^={3,}\s*$/;

export function isRos1TypeName(name: string): boolean {
  return TYPE_NAME.test(name);
}

function isRos1Primitive(name: string): name is Ros1Primitive {
  return (ROS1_PRIMITIVES as readonly string[]).includes(name);
}

/**
 * Parses one .msg text. Constants are skipped (they do not travel); `Header` means std_msgs/Header and a bare
 * name means a type of the same package, as in genmsg.
 * @throws MsgSyntaxError
 */
export function parseRos1Msg(type: string, text: string): Ros1MessageSpec {
  const pkg = type.split('/')[0];
  const fields: Ros1Field[] = [];
  const constants: Ros1Constant[] = [];
  const dependencies: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const [typePart, rest] = splitFirst(raw.trim());
    if (typePart === '' || typePart.startsWith('#')) return;
    // A constant: `TYPE NAME=VALUE`; a string constant's value is the rest of the line, '#' included (genmsg).
    const constant = /^([A-Za-z][A-Za-z0-9_]*)\s*=(.*)$/.exec(rest);
    if (constant) {
      const value = typePart === 'string' ? constant[2] : constant[2].replace(/#.*/, '');
      constants.push({ type: typePart, name: constant[1], valueText: value.trim() });
      return;
    }
    const name = rest.replace(/#.*/, '').trim();
    if (!FIELD_NAME.test(name)) throw new MsgSyntaxError(type, i + 1, `expected "type name", got ${JSON.stringify(raw.trim())}`);
    const m = /^([A-Za-z][A-Za-z0-9_/]*)(?:\[(\d*)\])?$/.exec(typePart);
    if (!m) throw new MsgSyntaxError(type, i + 1, `bad field type ${JSON.stringify(typePart)}`);
    const [, base, size] = m;
    const primitive = isRos1Primitive(base);
    let fieldType = base;
    if (!primitive) {
      fieldType = base === 'Header' ? 'std_msgs/Header' : base.includes('/') ? base : `${pkg}/${base}`;
      if (!TYPE_NAME.test(fieldType)) throw new MsgSyntaxError(type, i + 1, `bad field type ${JSON.stringify(typePart)}`);
      if (!dependencies.includes(fieldType)) dependencies.push(fieldType);
    }
    const array: Ros1Field['array'] = size === undefined ? 'none' : size === '' ? 'dynamic' : 'fixed';
    fields.push({ name, typeText: typePart, type: fieldType, primitive, array, ...(array === 'fixed' ? { size: Number(size) } : {}) });
  });
  return { type, fields, constants, text, dependencies };
}

/**
 * Splits a full definition text into its sections, keyed by type; the first section is `type` itself.
 * @throws MsgSyntaxError
 */
export function parseFullText(type: string, fullText: string): Map<string, Ros1MessageSpec> {
  const specs = new Map<string, Ros1MessageSpec>();
  const lines = fullText.split('\n');
  let current = type;
  let body: string[] = [];
  const flush = (): void => {
    specs.set(current, parseRos1Msg(current, body.join('\n')));
    body = [];
  };
  for (let i = 0; i < lines.length; i++) {
    if (SECTION_RULE.test(lines[i].trim()) && /^MSG:\s*\S+/.test(lines[i + 1]?.trim() ?? '')) {
      flush();
      current = lines[i + 1].trim().replace(/^MSG:\s*/, '');
      if (!TYPE_NAME.test(current)) throw new MsgSyntaxError(type, i + 2, `bad section type ${JSON.stringify(current)}`);
      i++;
      continue;
    }
    body.push(lines[i]);
  }
  flush();
  return specs;
}

/**
 * The full text of `type` as genmsg writes it: own text, then every dependency (depth first, each once).
 * @param lookup returns the spec of a type or throws
 */
export function buildFullText(type: string, lookup: (type: string) => Ros1MessageSpec): string {
  const root = lookup(type);
  const order: Ros1MessageSpec[] = [];
  const seen = new Set<string>([type]);
  const visit = (spec: Ros1MessageSpec): void => {
    for (const dep of spec.dependencies) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const d = lookup(dep);
      order.push(d);
      visit(d);
    }
  };
  visit(root);
  const rule = '='.repeat(80);
  return [root.text.trimEnd(), ...order.map((d) => `${rule}\nMSG: ${d.type}\n${d.text.trimEnd()}`)].join('\n');
}

/**
 * The md5sum ROS 1 peers compare before they talk, computed as genmsg does: constants as written, primitive
 * fields as written, message fields as the md5 of their type. (@foxglove/rosmsg hashes `byte` as `int8`, which
 * gives a different sum for types such as diagnostic_msgs/DiagnosticStatus, and rostopic then refuses them.)
 */
export function ros1Md5(type: string, lookup: (type: string) => Ros1MessageSpec, cache = new Map<string, string>()): string {
  const known = cache.get(type);
  if (known !== undefined) return known;
  const spec = lookup(type);
  const lines = [
    ...spec.constants.map((c) => `${c.type} ${c.name}=${c.valueText}`),
    ...spec.fields.map((f) => (f.primitive ? `${f.typeText} ${f.name}` : `${ros1Md5(f.type, lookup, cache)} ${f.name}`)),
  ];
  const sum = createHash('md5').update(lines.join('\n')).digest('hex');
  cache.set(type, sum);
  return sum;
}

function splitFirst(line: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/.exec(line);
  return m ? [m[1], m[2]] : ['', ''];
}
