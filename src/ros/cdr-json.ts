/**
 * Serialized ROS 2 messages (CDR, as `rcl_take_serialized_message` gives them) straight to the JSON of msg-json.ts,
 * and messages as jsonToRos makes them straight to CDR, without rclnodejs message objects. rclnodejs' object take
 * constructs two message wrappers per message and copies every field through ref-napi structs: about 100 us of the
 * bridge's main thread per 100 B message, a quarter of its CPU at 1 kHz; its publish of a plain object costs the
 * server about 50 us the same way. Taking and publishing the bytes (raw mode) and walking the type definition here
 * gives the same messages at a few microseconds.
 *
 * The format is XCDR1 (what rmw_fastrtps and rmw_cyclonedds write for ROS 2 types): a 4-byte encapsulation header
 * (`00 01` little endian, `00 00` big endian), then the fields in order, each primitive aligned to its own size
 * counted from the end of the header; strings and sequences as a uint32 count (strings: bytes including the
 * terminating NUL) and the elements; fixed arrays without a count; a message with no fields as one byte.
 * A wstring is a uint32 count of UTF-16 code units, then the units without a terminator, each as wide as the
 * middleware makes it (rmw_cyclonedds_cpp: 4 bytes): `wstringUnitBytes`. Where that width is not known, types with a
 * wstring are not handled here: see `cdrJsonSupports`.
 */
import { NEGATIVE_ZERO } from '../fastsocket';
import { MessageMappingError } from './errors';
import type { DefinitionLookup, FieldDefinition, MessageDefinition } from './message-definition';
import { base64Value, JsonValue } from './msg-json';

const HEADER_BYTES = 4;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const BYTE_ARRAY_TYPES = new Set(['uint8', 'byte', 'char']);

/** Bytes per UTF-16 code unit of a serialized wstring; undefined where the middleware's width is not known. */
export type WstringUnitBytes = 2 | 4 | undefined;

/** True when `type` has a wstring field anywhere, nested messages included. */
export function hasWstring(lookup: DefinitionLookup, type: string): boolean {
  const seen = new Set<string>();
  const walk = (t: string): boolean => {
    if (seen.has(t)) return false;
    seen.add(t);
    return lookup(t).fields.some((f) => (f.primitive ? f.type === 'wstring' : walk(f.type)));
  };
  return walk(type);
}

/** True when every field of `type`, nested ones included, can be converted here: a wstring only with its width. */
export function cdrJsonSupports(lookup: DefinitionLookup, type: string, wstringUnitBytes?: WstringUnitBytes): boolean {
  return wstringUnitBytes !== undefined || !hasWstring(lookup, type);
}

/**
 * Decodes serialized bytes of `type` into the JSON `rosToJson` gives for the same message.
 * @throws MessageMappingError (field `msg`) when the bytes are not a CDR message of that type
 */
export function cdrToJson(lookup: DefinitionLookup, type: string, bytes: Buffer, wstringUnitBytes?: WstringUnitBytes): { [key: string]: JsonValue } {
  checkHeader(bytes);
  const reader = new CdrReader(bytes, bytes[1] === 1, wstringUnitBytes);
  try {
    return reader.message(lookup, lookup(type));
  } catch (err) {
    if (err instanceof RangeError) throw new MessageMappingError('msg', `serialized ${type} ends early (${bytes.length} bytes)`);
    throw err;
  }
}

/**
 * Checks that `bytes` hold a whole CDR message of `type` (every count within the bytes, strings NUL-terminated,
 * bounds kept) without decoding it: the server publishes a sender's raw bytes, and Cyclone DDS sends fewer than 4
 * as a malformed packet that its reliable readers refuse and ask for again until newer messages push it out of the
 * writer's history, holding back the topic's other senders; a subscriber cannot take a cut-off one. The walk costs
 * one step per field, not per byte of a primitive array. Past a wstring whose width is not known, nothing is checked;
 * nor is XCDR2 (encapsulation 6-11), which only a middleware configured for it writes.
 * @throws MessageMappingError (field `msg`) saying what is wrong
 */
export function checkCdr(lookup: DefinitionLookup, type: string, bytes: Buffer, wstringUnitBytes?: WstringUnitBytes): void {
  // XCDR2 (a middleware set to it: encapsulation 6 to 11) aligns and delimits otherwise; published unchecked, as before.
  if (bytes.length >= HEADER_BYTES && bytes[0] === 0 && bytes[1] >= 6 && bytes[1] <= 11) return;
  checkHeader(bytes);
  const checker = new CdrChecker(bytes, bytes[1] === 1, wstringUnitBytes);
  try {
    checker.message(lookup, lookup(type));
  } catch (err) {
    if (err === UNKNOWN_WIDTH) return;
    if (err instanceof RangeError) throw new MessageMappingError('msg', `serialized ${type} ends early (${bytes.length} bytes)`);
    throw err;
  }
}

function checkHeader(bytes: Buffer): void {
  if (bytes.length < HEADER_BYTES || bytes[0] !== 0 || bytes[1] > 1) throw new MessageMappingError('msg', 'not a CDR message (bad encapsulation header)');
}

const PRIMITIVE_BYTES: Readonly<Record<string, number>> = {
  bool: 1, byte: 1, char: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, int64: 8, uint64: 8, float64: 8,
};
const UNKNOWN_WIDTH = Symbol('wstring of unknown width');

/** CdrReader's walk without the values: positions, counts and bounds only. */
class CdrChecker {
  private pos = HEADER_BYTES;

  constructor(
    private readonly buf: Buffer,
    private readonly le: boolean,
    private readonly wstringUnitBytes: WstringUnitBytes,
  ) {}

  message(lookup: DefinitionLookup, def: MessageDefinition): void {
    if (def.fields.length === 0) this.skip(1);
    for (const field of def.fields) this.field(lookup, field);
  }

  private field(lookup: DefinitionLookup, field: FieldDefinition): void {
    if (field.array === 'none') return this.element(lookup, field);
    const count = field.array === 'fixed' ? (field.size as number) : this.uint32();
    if (field.array === 'bounded' && count > (field.size as number)) throw new MessageMappingError(`msg.${field.name}`, `${count} elements in a sequence of at most ${field.size}`);
    // Every element takes a byte at least: a count beyond the bytes left is cut off, however the elements look.
    if (count > this.buf.length - this.pos) throw new RangeError('count past the end');
    const size = field.primitive ? PRIMITIVE_BYTES[field.type] : undefined;
    if (size !== undefined) {
      // Elements of one size stay aligned once the first is.
      if (count > 0) this.align(size);
      return this.skip(count * size);
    }
    for (let i = 0; i < count; i++) this.element(lookup, field);
  }

  private element(lookup: DefinitionLookup, field: FieldDefinition): void {
    if (!field.primitive) return this.message(lookup, lookup(field.type));
    if (field.type === 'string') {
      const length = this.uint32();
      if (length === 0) throw new RangeError('string without its NUL');
      this.skip(length);
      if (this.buf[this.pos - 1] !== 0) throw new MessageMappingError(`msg.${field.name}`, 'string without its terminating NUL');
      // The bound counts characters, as rclpy checks it; a string of more bytes than that may still keep it.
      if (field.stringBound !== undefined && length - 1 > field.stringBound) {
        const characters = [...this.buf.toString('utf8', this.pos - length, this.pos - 1)].length;
        if (characters > field.stringBound) throw new MessageMappingError(`msg.${field.name}`, `string of ${characters} characters, at most ${field.stringBound}`);
      }
      return;
    }
    if (field.type === 'wstring') {
      if (this.wstringUnitBytes === undefined) throw UNKNOWN_WIDTH;
      const units = this.uint32();
      return this.skip(units * this.wstringUnitBytes);
    }
    const size = PRIMITIVE_BYTES[field.type];
    if (size === undefined) throw new MessageMappingError('msg', `${field.type} is not decoded from CDR here`);
    this.align(size);
    this.skip(size);
  }

  private uint32(): number {
    this.align(4);
    this.skip(4);
    return this.le ? this.buf.readUInt32LE(this.pos - 4) : this.buf.readUInt32BE(this.pos - 4);
  }

  private skip(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError('past the end');
    this.pos += n;
  }

  private align(n: number): void {
    const misalignment = (this.pos - HEADER_BYTES) % n;
    if (misalignment !== 0) this.pos += n - misalignment;
  }
}

class CdrReader {
  private pos = HEADER_BYTES;

  constructor(
    private readonly buf: Buffer,
    private readonly le: boolean,
    private readonly wstringUnitBytes: WstringUnitBytes,
  ) {}

  message(lookup: DefinitionLookup, def: MessageDefinition): { [key: string]: JsonValue } {
    const out: { [key: string]: JsonValue } = {};
    // rosidl gives an empty message one uint8 member so that it has a size; rclnodejs does not list it.
    if (def.fields.length === 0) this.take(1);
    for (const field of def.fields) out[field.name] = this.field(lookup, field);
    return out;
  }

  private field(lookup: DefinitionLookup, field: FieldDefinition): JsonValue {
    if (field.array === 'none') return this.element(lookup, field);
    const count = field.array === 'fixed' ? (field.size as number) : this.uint32();
    // Every element takes a byte at least, and an array of 30 million is 240 MB before its first element is read.
    if (count > this.buf.length - this.pos) throw new RangeError('count past the end');
    if (field.primitive && BYTE_ARRAY_TYPES.has(field.type)) {
      const end = this.pos + count;
      const bytes = this.buf.subarray(this.pos, end);
      this.pos = end;
      return base64Value(bytes);
    }
    const out: JsonValue[] = new Array<JsonValue>(count);
    for (let i = 0; i < count; i++) out[i] = this.element(lookup, field);
    return out;
  }

  private element(lookup: DefinitionLookup, field: FieldDefinition): JsonValue {
    if (!field.primitive) return this.message(lookup, lookup(field.type));
    const b = this.buf;
    switch (field.type) {
      case 'bool':
        return this.take(1) !== 0;
      case 'byte':
      case 'uint8':
        return this.take(1);
      // rclnodejs delivers char as int8, and rosToJson writes what it delivers.
      case 'char':
      case 'int8':
        return (this.take(1) << 24) >> 24;
      case 'int16':
        this.align(2);
        return this.advance(2, this.le ? b.readInt16LE(this.pos) : b.readInt16BE(this.pos));
      case 'uint16':
        this.align(2);
        return this.advance(2, this.le ? b.readUInt16LE(this.pos) : b.readUInt16BE(this.pos));
      case 'int32':
        this.align(4);
        return this.advance(4, this.le ? b.readInt32LE(this.pos) : b.readInt32BE(this.pos));
      case 'uint32':
        return this.uint32();
      case 'int64':
      case 'uint64': {
        this.align(8);
        const signed = field.type === 'int64';
        const big = this.le ? (signed ? b.readBigInt64LE(this.pos) : b.readBigUInt64LE(this.pos)) : signed ? b.readBigInt64BE(this.pos) : b.readBigUInt64BE(this.pos);
        return this.advance(8, big > MAX_SAFE || big < -MAX_SAFE ? big.toString() : Number(big));
      }
      case 'float32':
        this.align(4);
        return finite(this.advance(4, this.le ? b.readFloatLE(this.pos) : b.readFloatBE(this.pos)));
      case 'float64':
        this.align(8);
        return finite(this.advance(8, this.le ? b.readDoubleLE(this.pos) : b.readDoubleBE(this.pos)));
      case 'string': {
        const length = this.uint32();
        const end = this.pos + length;
        if (length === 0 || end > b.length) throw new RangeError('bad string length');
        // The count includes the terminating NUL.
        const text = b.toString('utf8', this.pos, end - 1);
        this.pos = end;
        return text;
      }
      case 'wstring': {
        const width = this.wstringUnitBytes;
        if (width === undefined) throw new MessageMappingError('msg', 'wstring is not decoded from CDR here: its width in this middleware is not known');
        const units = this.uint32();
        if (this.pos + units * width > b.length) throw new RangeError('bad wstring length');
        const codes = new Array<number>(units);
        for (let i = 0; i < units; i++) {
          codes[i] = width === 4 ? (this.le ? b.readUInt32LE(this.pos) : b.readUInt32BE(this.pos)) : this.le ? b.readUInt16LE(this.pos) : b.readUInt16BE(this.pos);
          this.pos += width;
        }
        // UTF-16 code units, as JS strings hold them: surrogate pairs come out as the character they encode.
        let text = '';
        for (let i = 0; i < units; i += 4096) text += String.fromCharCode(...codes.slice(i, i + 4096));
        return text;
      }
      default:
        throw new MessageMappingError('msg', `${field.type} is not decoded from CDR here`);
    }
  }

  private uint32(): number {
    this.align(4);
    return this.advance(4, this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos));
  }

  private take(n: 1): number {
    if (this.pos + n > this.buf.length) throw new RangeError('past the end');
    return this.buf[this.pos++];
  }

  private advance<T>(n: number, value: T): T {
    this.pos += n;
    return value;
  }

  private align(n: number): void {
    const misalignment = (this.pos - HEADER_BYTES) % n;
    if (misalignment !== 0) this.pos += n - misalignment;
  }
}

/**
 * Serializes a message as `jsonToRos` returns it (checked values, every field present: bigint for 64-bit integers,
 * Uint8Array/Int8Array for byte arrays) into little-endian CDR with its encapsulation header, ready for a raw
 * publish. Only for what jsonToRos has checked: it does not validate again.
 */
export function rosToCdr(lookup: DefinitionLookup, type: string, message: Record<string, unknown>, wstringUnitBytes?: WstringUnitBytes): Buffer {
  const writer = new CdrWriter(wstringUnitBytes);
  writer.message(lookup, lookup(type), message);
  return writer.finish();
}

class CdrWriter {
  private buf = Buffer.alloc(256);
  private pos = HEADER_BYTES;

  constructor(private readonly wstringUnitBytes: WstringUnitBytes) {
    this.buf.set([0, 1, 0, 0]);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  message(lookup: DefinitionLookup, def: MessageDefinition, value: Record<string, unknown>): void {
    if (def.fields.length === 0) this.uint8(0);
    for (const field of def.fields) this.field(lookup, field, value[field.name]);
  }

  private field(lookup: DefinitionLookup, field: FieldDefinition, value: unknown): void {
    if (field.array === 'none') return this.element(lookup, field, value);
    const items = value as ArrayLike<unknown>;
    if (field.array !== 'fixed') this.uint32(items.length);
    if (field.primitive && BYTE_ARRAY_TYPES.has(field.type)) {
      const bytes = items as Uint8Array | Int8Array;
      this.reserve(bytes.length);
      this.buf.set(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), this.pos);
      this.pos += bytes.length;
      return;
    }
    for (let i = 0; i < items.length; i++) this.element(lookup, field, items[i]);
  }

  private element(lookup: DefinitionLookup, field: FieldDefinition, value: unknown): void {
    if (!field.primitive) return this.message(lookup, lookup(field.type), value as Record<string, unknown>);
    switch (field.type) {
      case 'bool':
        return this.uint8(value ? 1 : 0);
      case 'byte':
      case 'uint8':
      case 'char':
      case 'int8':
        return this.uint8((value as number) & 0xff);
      case 'int16':
      case 'uint16':
        return this.put(2, (b, at) => b.writeUInt16LE((value as number) & 0xffff, at));
      case 'int32':
        return this.put(4, (b, at) => b.writeInt32LE(value as number, at));
      case 'uint32':
        return this.uint32(value as number);
      case 'int64':
      case 'uint64':
        return this.put(8, (b, at) => b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value as bigint)), at));
      case 'float32':
        return this.put(4, (b, at) => b.writeFloatLE(value as number, at));
      case 'float64':
        return this.put(8, (b, at) => b.writeDoubleLE(value as number, at));
      case 'string': {
        const length = Buffer.byteLength(value as string);
        this.uint32(length + 1);
        this.reserve(length + 1);
        this.buf.write(value as string, this.pos, 'utf8');
        this.buf[this.pos + length] = 0;
        this.pos += length + 1;
        return;
      }
      case 'wstring': {
        const width = this.wstringUnitBytes;
        if (width === undefined) throw new MessageMappingError('msg', 'wstring is not encoded to CDR here: its width in this middleware is not known');
        const text = value as string;
        this.uint32(text.length);
        this.reserve(text.length * width);
        for (let i = 0; i < text.length; i++) {
          if (width === 4) this.buf.writeUInt32LE(text.charCodeAt(i), this.pos);
          else this.buf.writeUInt16LE(text.charCodeAt(i), this.pos);
          this.pos += width;
        }
        return;
      }
      default:
        throw new MessageMappingError('msg', `${field.type} is not encoded to CDR here`);
    }
  }

  private uint8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  private uint32(v: number): void {
    this.put(4, (b, at) => b.writeUInt32LE(v, at));
  }

  /** Writes one primitive of `size` bytes at its alignment. */
  private put(size: number, write: (buf: Buffer, at: number) => unknown): void {
    this.align(size);
    write(this.buf, this.pos);
    this.pos += size;
  }

  /** Pads with zeros to a multiple of `n` after the header, and makes room for an element of that size. */
  private align(n: number): void {
    const misalignment = (this.pos - HEADER_BYTES) % n;
    const padding = misalignment === 0 ? 0 : n - misalignment;
    this.reserve(padding + n);
    this.buf.fill(0, this.pos, this.pos + padding);
    this.pos += padding;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

function finite(n: number): JsonValue {
  if (n === 0 && Object.is(n, -0)) return NEGATIVE_ZERO;
  if (Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}
