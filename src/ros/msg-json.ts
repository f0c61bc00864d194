/**
 * ROS message <-> JSON, following the usual ROS-to-JSON conventions of PROTOCOL.md §4: 64-bit integers outside the
 * safe range as decimal strings, uint8[]/byte[]/char[] as base64, other numeric arrays as JSON arrays, non-finite
 * floats as "NaN"/"Infinity"/"-Infinity". Both directions walk the type definition, so no value depends on how
 * rclnodejs happened to deliver it (int64 scalars arrive as bigint, int64[] elements as numbers or strings,
 * float64[] as Float64Array, char[] as Int8Array).
 */
import { Base64Json, longerThan, NEGATIVE_ZERO } from '../fastsocket';
import { decodeStrictBase64 } from './base64';
import { MessageMappingError } from './errors';
import { DefinitionLookup, FieldDefinition, MessageDefinition, PrimitiveType } from './message-definition';

/**
 * NEGATIVE_ZERO stands for a float field's -0, which stringifyJson writes as -0.0 (JSON.stringify: 0); a Base64Json
 * for a large byte array, which it writes as the base64 string.
 */
export type JsonValue = null | boolean | number | string | typeof NEGATIVE_ZERO | Base64Json | JsonValue[] | { [key: string]: JsonValue };

/** From this many bytes on, a byte array's base64 is a Base64Json: below, JSON.stringify's scan costs less than the splice. */
const BASE64_JSON_MIN_BYTES = 4096;

/** A byte array as JSON: its base64 (PROTOCOL.md §4), as a Base64Json once it is large. */
export function base64Value(bytes: Buffer): string | Base64Json {
  return bytes.length >= BASE64_JSON_MIN_BYTES ? new Base64Json(bytes) : bytes.toString('base64');
}

const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  byte: [0n, 255n],
  // ROS 2 maps char to an 8-bit unsigned value, rclnodejs to int8: accept both views of the byte.
  char: [-128n, 255n],
  int8: [-128n, 127n],
  uint8: [0n, 255n],
  int16: [-32768n, 32767n],
  uint16: [0n, 65535n],
  int32: [-2147483648n, 2147483647n],
  uint32: [0n, 4294967295n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const BYTE_ARRAY_TYPES = new Set(['uint8', 'byte', 'char']);
const WIDE_INTEGERS = new Set(['int64', 'uint64']);
const FLOATS = new Set(['float32', 'float64']);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Time and Duration as ROS 1 writes them (`secs`/`nsecs`), so ROS 1 senders' JSON fits ROS 2 types. */
const FIELD_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'builtin_interfaces/msg/Time': { secs: 'sec', nsecs: 'nanosec' },
  'builtin_interfaces/msg/Duration': { secs: 'sec', nsecs: 'nanosec' },
};

/**
 * Converts a message as rclnodejs delivers it into JSON-safe data.
 * @throws MessageMappingError when the message does not have the shape of its type (a bug upstream, not user input)
 */
export function rosToJson(lookup: DefinitionLookup, type: string, message: unknown): { [key: string]: JsonValue } {
  return encodeMessage(lookup, lookup(type), message, 'msg');
}

/**
 * Converts JSON into a plain message object that rclnodejs can publish: int64/uint64 as bigint, byte arrays as
 * Uint8Array, missing fields filled with their defaults.
 * @throws MessageMappingError naming the first field that does not fit (`msg.data[3]`); UnknownTypeError from `lookup`
 */
export function jsonToRos(lookup: DefinitionLookup, type: string, json: unknown): Record<string, unknown> {
  return decodeMessage(lookup, lookup(type), json, 'msg');
}

/** The default value of every field, as `jsonToRos` would fill them. */
export function defaultMessage(lookup: DefinitionLookup, type: string): Record<string, unknown> {
  return decodeMessage(lookup, lookup(type), {}, 'msg');
}

function encodeMessage(lookup: DefinitionLookup, def: MessageDefinition, message: unknown, path: string): { [key: string]: JsonValue } {
  if (typeof message !== 'object' || message === null) throw new MessageMappingError(path, `expected a ${def.type} object`);
  const src = message as Record<string, unknown>;
  const out: { [key: string]: JsonValue } = {};
  for (const field of def.fields) out[field.name] = encodeField(lookup, field, src[field.name], `${path}.${field.name}`);
  return out;
}

function encodeField(lookup: DefinitionLookup, field: FieldDefinition, value: unknown, path: string): JsonValue {
  if (field.array === 'none') return encodeElement(lookup, field, value, path);
  if (field.primitive && BYTE_ARRAY_TYPES.has(field.type)) return base64Value(bytesOf(value, path));
  if (!isArrayLike(value)) throw new MessageMappingError(path, 'expected an array');
  const out: JsonValue[] = [];
  for (let i = 0; i < value.length; i++) out.push(encodeElement(lookup, field, value[i], `${path}[${i}]`));
  return out;
}

function encodeElement(lookup: DefinitionLookup, field: FieldDefinition, value: unknown, path: string): JsonValue {
  if (!field.primitive) return encodeMessage(lookup, lookup(field.type), value, path);
  const t = field.type as PrimitiveType;
  if (t === 'bool') return Boolean(value);
  if (t === 'string' || t === 'wstring') {
    if (typeof value !== 'string') throw new MessageMappingError(path, 'expected a string');
    return value;
  }
  if (FLOATS.has(t)) {
    // NEGATIVE_ZERO: rosToJson's own -0, handed back without going through the wire (where it is -0.0, parsed as -0).
    const n = value === NEGATIVE_ZERO ? -0 : typeof value === 'string' ? parseNonFinite(value) : value;
    if (typeof n !== 'number') throw new MessageMappingError(path, `expected a ${t}`);
    if (n === 0 && Object.is(n, -0)) return NEGATIVE_ZERO;
    return Number.isFinite(n) ? n : nonFiniteName(n);
  }
  const big = toBigInt(value);
  if (big === null) throw new MessageMappingError(path, `expected an ${t}`);
  if (WIDE_INTEGERS.has(t) && (big > MAX_SAFE || big < -MAX_SAFE)) return big.toString();
  return Number(big);
}

function decodeMessage(lookup: DefinitionLookup, def: MessageDefinition, json: unknown, path: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MessageMappingError(path, `expected a JSON object for ${def.type}, got ${describe(json)}`);
  }
  const src = json as Record<string, unknown>;
  const aliases = FIELD_ALIASES[def.type] ?? {};
  const known = new Set(def.fields.map((f) => f.name));
  const given = new Map<string, unknown>();
  for (const key of Object.keys(src)) {
    // Own aliases only: `constructor`, `toString` or `__proto__` found Object.prototype's members, so a message with such a
    // field went out with defaults for what it meant to set, where any other unknown field is refused.
    const name = known.has(key) ? key : Object.hasOwn(aliases, key) ? aliases[key] : undefined;
    if (name === undefined) throw new MessageMappingError(`${path}.${key}`, `${def.type} has no field ${key}`);
    given.set(name, src[key]);
  }
  const out: Record<string, unknown> = {};
  for (const field of def.fields) {
    const fieldPath = `${path}.${field.name}`;
    out[field.name] = given.has(field.name) ? decodeField(lookup, field, given.get(field.name), fieldPath) : defaultField(lookup, field, fieldPath);
  }
  return out;
}

function decodeField(lookup: DefinitionLookup, field: FieldDefinition, value: unknown, path: string): unknown {
  if (field.array === 'none') return decodeElement(lookup, field, value, path);
  const byteArray = field.primitive && BYTE_ARRAY_TYPES.has(field.type);
  let bytes: Uint8Array | null = null;
  let elements: unknown[] = [];
  if (byteArray && (typeof value === 'string' || value instanceof Base64Json)) {
    // Checked and handed over as bytes: a megabyte image must never become a million-element JS array.
    bytes = decodeBase64(typeof value === 'string' ? value : value.text, path);
  } else if (Array.isArray(value)) {
    elements = value;
  } else {
    throw new MessageMappingError(path, `expected an array${byteArray ? ' or a base64 string' : ''}, got ${describe(value)}`);
  }
  const length = bytes ? bytes.length : elements.length;
  if (field.array === 'fixed' && length !== field.size) {
    throw new MessageMappingError(path, `expected exactly ${field.size} elements, got ${length}`);
  }
  if (field.array === 'bounded' && length > (field.size ?? 0)) {
    throw new MessageMappingError(path, `expected at most ${field.size} elements, got ${length}`);
  }
  if (!bytes && byteArray) {
    bytes = Uint8Array.from(elements.map((e, i) => decodeElement(lookup, field, e, `${path}[${i}]`)) as number[], (n) => n & 0xff);
  }
  // rclnodejs stores char[] as int8 and rejects bytes above 127 given as Uint8Array: hand it the same bytes as Int8Array.
  if (bytes) return field.type === 'char' ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  return elements.map((e, i) => decodeElement(lookup, field, e, `${path}[${i}]`));
}

function decodeElement(lookup: DefinitionLookup, field: FieldDefinition, value: unknown, path: string): unknown {
  if (!field.primitive) return decodeMessage(lookup, lookup(field.type), value, path);
  const t = field.type as PrimitiveType;
  if (t === 'bool') {
    if (typeof value !== 'boolean') throw new MessageMappingError(path, `expected true or false, got ${describe(value)}`);
    return value;
  }
  if (t === 'string' || t === 'wstring') {
    if (typeof value !== 'string') throw new MessageMappingError(path, `expected a string, got ${describe(value)}`);
    // The bound counts characters, as rclpy checks it; one beyond U+FFFF is two units of value.length.
    if (field.stringBound !== undefined && longerThan(value, field.stringBound)) {
      throw new MessageMappingError(path, `expected at most ${field.stringBound} characters, got ${[...value].length}`);
    }
    return value;
  }
  if (FLOATS.has(t)) {
    // NEGATIVE_ZERO: rosToJson's own -0, handed back without going through the wire (where it is -0.0, parsed as -0).
    // A bigint: an integer the peer wrote with more digits than a double holds (parseJson), rounded here as rclpy would.
    const n = value === NEGATIVE_ZERO ? -0 : typeof value === 'string' ? parseNonFinite(value) : typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number') throw new MessageMappingError(path, `expected a number or "NaN"/"Infinity"/"-Infinity", got ${describe(value)}`);
    // Written as float32 it would become Infinity without a word, where an integer out of range is refused (so is it by rclpy).
    if (t === 'float32' && Number.isFinite(n) && !Number.isFinite(Math.fround(n))) throw new MessageMappingError(path, `${n} is out of range for float32`);
    return n;
  }
  const big = typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint' ? toBigInt(value) : null;
  if (big === null) throw new MessageMappingError(path, `expected an integer (${t}), got ${describe(value)}`);
  const [min, max] = INTEGER_RANGES[t];
  if (big < min || big > max) throw new MessageMappingError(path, `${big} is out of range for ${t}`);
  return WIDE_INTEGERS.has(t) ? big : Number(big);
}

function defaultField(lookup: DefinitionLookup, field: FieldDefinition, path: string): unknown {
  const byteArray = field.primitive && BYTE_ARRAY_TYPES.has(field.type);
  const bytes = (n: number): Uint8Array | Int8Array => (field.type === 'char' ? new Int8Array(n) : new Uint8Array(n));
  if (field.array === 'dynamic' || field.array === 'bounded') return byteArray ? bytes(0) : [];
  if (field.array === 'fixed') {
    if (byteArray) return bytes(field.size ?? 0);
    return Array.from({ length: field.size ?? 0 }, (_, i) => defaultElement(lookup, field, `${path}[${i}]`));
  }
  return defaultElement(lookup, field, path);
}

function defaultElement(lookup: DefinitionLookup, field: FieldDefinition, path: string): unknown {
  if (!field.primitive) return decodeMessage(lookup, lookup(field.type), {}, path);
  if (field.type === 'bool') return false;
  if (field.type === 'string' || field.type === 'wstring') return '';
  return WIDE_INTEGERS.has(field.type) ? 0n : 0;
}

function toBigInt(value: unknown): bigint | null {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : null;
  // rclnodejs' json serialization mode writes int64 scalars as "123n".
  if (typeof value === 'string' && /^-?\d{1,20}n?$/.test(value)) return BigInt(value.endsWith('n') ? value.slice(0, -1) : value);
  return null;
}

function parseNonFinite(s: string): number | undefined {
  if (s === 'NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return undefined;
}

function nonFiniteName(n: number): string {
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

function bytesOf(value: unknown, path: string): Buffer {
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return Buffer.from(value.map((n) => Number(n) & 0xff));
  throw new MessageMappingError(path, 'expected a byte array');
}

function decodeBase64(s: string, path: string): Uint8Array {
  const bytes = decodeStrictBase64(s);
  if (bytes === null) throw new MessageMappingError(path, 'expected base64 (a byte array is sent as a base64 string)');
  // A plain Uint8Array of its own memory: small Buffers are views into Node's shared pool, which must not leak out.
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length) return new Uint8Array(bytes.buffer, 0, bytes.length);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
