/**
 * JSON as the original Python peer writes and reads it: `json.dumps` emits NaN, Infinity and -Infinity as bare
 * words, so we accept them on input and write them back the same way instead of silently turning them into null.
 */
import { randomBytes } from 'node:crypto';

const NULL_TOKEN = /[[:,]null[,\]}]/;

/**
 * Put before the text of a value that stringifyJson writes unquoted; random, so that no string anyone sends can
 * contain it. JSON.stringify escapes its NUL bytes.
 */
const RAW_MARKER = `\u0000fs${randomBytes(6).toString('hex')}\u0000`;
const QUOTED_RAW_MARKER = `"${JSON.stringify(RAW_MARKER).slice(1, -1)}`;
/** How many NEGATIVE_ZERO values have been serialised so far: a change during one call means it has some. */
let negativeZerosWritten = 0;

/**
 * Stands for -0 in a value handed to stringifyJson, which writes it as `-0.0`, where JSON.stringify would write `0`
 * and lose the sign (Python's json.dumps keeps it, and JSON.parse reads `-0.0` back as -0). The ROS converters use
 * it for float fields, which must round-trip exactly; a plain -0 elsewhere is written as 0, since finding it would
 * cost a walk over every value.
 */
export const NEGATIVE_ZERO: { toJSON(): string } = Object.freeze({
  toJSON(): string {
    negativeZerosWritten++;
    return `${RAW_MARKER}-0.0`;
  },
});

/** Removes the quotes and the marker around each marked value of JSON.stringify's output. */
function unmarkRaw(text: string): string {
  return text.split(QUOTED_RAW_MARKER).map((part, i) => (i === 0 ? part : part.replace('"', ''))).join('');
}

/** What a Base64Json writes in place of its text: a JSON string of its own, whose quotes the text goes between. */
const BASE64_MARKER = `\u0000fs${randomBytes(6).toString('hex')}b\u0000`;
const QUOTED_BASE64_MARKER = `"${JSON.stringify(BASE64_MARKER).slice(1, -1)}`;
/**
 * The texts of the Base64Json values met by the JSON.stringify call under way, in the order it wrote them; null
 * outside one, the only time a Base64Json writes its text itself.
 */
let base64Texts: string[] | null = null;

/**
 * Bytes in a payload, which stringifyJson writes as a JSON string of their base64 (PROTOCOL.md §4 carries raw CDR
 * and byte arrays so) without JSON.stringify scanning the base64 for characters to escape, of which base64 has none:
 * that scan took 2.3 ms per MB of bytes on our 2-core machine, a third of the ROS bridge's CPU per camera image.
 * Anything else (JSON.stringify, a logger) sees an ordinary base64 string.
 */
export class Base64Json {
  /** The standard, padded base64 of the bytes. */
  readonly text: string;

  constructor(bytes: Uint8Array) {
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }

  toJSON(): string {
    if (base64Texts === null) return this.text;
    base64Texts.push(this.text);
    return BASE64_MARKER;
  }
}

/**
 * JSON.stringify, noting the text of each Base64Json it meets for spliceBase64 when `mark`. Each call has its own
 * list, so a toJSON that calls stringifyJson neither empties nor fills the list of the call it runs in.
 */
function stringifyMarked(value: unknown, mark: boolean, replacer?: (key: string, v: unknown) => unknown): { text: string | undefined; texts: string[] } {
  const outer = base64Texts;
  const texts: string[] = [];
  base64Texts = mark ? texts : null;
  try {
    return { text: JSON.stringify(value, replacer), texts };
  } finally {
    base64Texts = outer;
  }
}

/**
 * Puts the noted base64 texts in place of their markers: last, so that no other pass over the text reads them.
 * Null when the markers in the text are not one per text (a toJSON ran JSON.stringify itself, so a marker went into a
 * string of its own, escaped): the texts would land on the wrong fields.
 */
function spliceBase64(text: string, texts: string[]): string | null {
  if (texts.length === 0) return text;
  const parts = text.split(QUOTED_BASE64_MARKER);
  if (parts.length !== texts.length + 1) return null;
  // Each part after the first starts with the closing quote of a marker string; its base64 goes before it. Joined
  // with +, not join(''), which copied a megabyte of base64 (1 ms) that the socket write copies anyway.
  let out = parts[0];
  for (let i = 1; i < parts.length; i++) out += '"' + texts[i - 1] + parts[i];
  return out;
}

/**
 * How many arrays and objects JSON text may have open at once. RFC 8259 §9 lets a parser set this limit, and one is
 * needed: V8 takes ~250 ns per level, so a 16 MiB frame of brackets held the event loop (and every other peer) for
 * 3.8 s, and JSON.stringify cannot write back more than a few thousand levels. The original Python peer's json module
 * fails at 1,000 (its recursion limit), so no payload it can exchange is refused by this.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * True when JSON text, as a string or as its UTF-8 bytes (no byte of a multi-byte character is ASCII, so both read
 * alike), opens more than `limit` arrays/objects at once; strings are skipped. Linear; text too short to nest that
 * deep, or with fewer opening brackets in all, is answered without the scan. A receiver checks a frame's bytes
 * before decoding them.
 */
export function nestsDeeperThan(text: string | Uint8Array, limit: number): boolean {
  if (text.length <= 2 * limit || countUpTo(text, '[', limit) + countUpTo(text, '{', limit) <= limit) return false;
  // A string is scanned as its UTF-8 bytes: encoding and scanning them takes no longer than scanning the string.
  return bytesNestDeeper(typeof text === 'string' ? Buffer.from(text) : text, limit);
}

/** How many times `c` occurs in `text` (found with indexOf, i.e. memchr), counting no further than limit + 1. */
function countUpTo(text: string | Uint8Array, c: '[' | '{', limit: number): number {
  const find = typeof text === 'string' ? (from: number) => text.indexOf(c, from) : (from: number) => text.indexOf(c.charCodeAt(0), from);
  let n = 0;
  for (let i = find(0); i !== -1 && n <= limit; i = find(i + 1)) n++;
  return n;
}

function bytesNestDeeper(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x22) {
      for (i++; i < bytes.length; i++) {
        const d = bytes[i];
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** What parseJson throws for text nested deeper than MAX_JSON_DEPTH (valid JSON otherwise, perhaps). */
export class JsonDepthError extends SyntaxError {
  constructor() {
    super(`JSON nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels`);
    this.name = 'JsonDepthError';
  }
}

/**
 * Parses JSON text, also accepting Python's bare NaN/Infinity/-Infinity. An integer a double cannot hold as written
 * (Python's ints, int64 ids, ns timestamps: 2**63, 1764412345123456789) is a bigint, which stringifyJson writes back
 * digit for digit; every other number is a number. Throws SyntaxError on anything else, JsonDepthError for nesting
 * deeper than MAX_JSON_DEPTH.
 */
export function parseJson(text: string): unknown {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new JsonDepthError();
  return parseCheckedJson(text);
}

/**
 * parseJson for text already known not to nest deeper than MAX_JSON_DEPTH.
 * @param exactPart the part of the value whose integers must be exact (a frame's payload): a rounded integer
 *   elsewhere (a Python peer's client_send_wall_ns, which the codec keeps as a number anyway) costs no second parse
 */
export function parseCheckedJson(text: string, exactPart: (value: unknown) => unknown = (value) => value): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The fast path failed: only text that mentions a non-finite word can still be valid for us, and only if
    // JSON.parse stopped at one (it reads left to right, and our grammar differs from its only at those words). A
    // message naming another token rules that out, which spares an invalid 16 MiB frame a second, slower parse.
    if (!text.includes('NaN') && !text.includes('Infinity')) throw err;
    if (/^Unexpected token '[^NI]'/.test((err as Error).message)) throw err;
    return new PermissiveParser(text).parseDocument();
  }
  // JSON.parse rounds every number to a double: a Python peer's 1764412345123456789 was handed over, printed and
  // republished as 1764412345123456800 without a word.
  return roundedAnInteger(exactPart(value), text) ? new PermissiveParser(text).parseDocument() : value;
}

/**
 * True when JSON.parse rounded an integer literal of the text to the double `value` holds. Only a value holding an
 * integer beyond 2^53 (or Infinity, what an integer beyond a double's range becomes) can have been (a walk over the
 * parsed values, cheap next to the parse); then the text between its strings is searched for such a literal that
 * JavaScript would not write back as written (its own shortest form of a double, e.g. our clients'
 * client_send_wall_ns and stamp_ns, reads back as written). Strings are skipped with indexOf, not scanned: a regular
 * expression over a camera image's base64 took as long as JSON.parse.
 */
function roundedAnInteger(value: unknown, text: string): boolean {
  return holdsUnsafeInteger(value) && hasInexactIntegerLiteral(text);
}

function holdsUnsafeInteger(v: unknown): boolean {
  if (typeof v === 'number') return (Number.isInteger(v) && !Number.isSafeInteger(v)) || v === Infinity || v === -Infinity;
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (holdsUnsafeInteger(v[i])) return true;
    return false;
  }
  for (const key in v) if (holdsUnsafeInteger((v as Record<string, unknown>)[key])) return true;
  return false;
}

/** An integer literal of 16 digits or more (2^53 has 16): not part of a fraction or an exponent. */
const LONG_INTEGER_LITERAL = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g;

/** Whether valid JSON text holds, outside its strings, an integer literal a double does not hold as written. */
function hasInexactIntegerLiteral(text: string): boolean {
  for (let pos = 0; pos < text.length; ) {
    const open = text.indexOf('"', pos);
    const end = open === -1 ? text.length : open;
    // Most stretches between strings are a colon or a comma: only one that can hold 16 digits is searched.
    if (end - pos >= 16) {
      const between = text.slice(pos, end);
      LONG_INTEGER_LITERAL.lastIndex = 0;
      for (let m = LONG_INTEGER_LITERAL.exec(between); m !== null; m = LONG_INTEGER_LITERAL.exec(between)) if (!isExactAsDouble(m[0])) return true;
    }
    if (open === -1) return false;
    let close = text.indexOf('"', open + 1);
    while (close !== -1 && isEscaped(text, close)) close = text.indexOf('"', close + 1);
    if (close === -1) return false;
    pos = close + 1;
  }
  return false;
}

/** Whether the character at `i` follows an odd number of backslashes. */
function isEscaped(text: string, i: number): boolean {
  let n = 0;
  while (text.charCodeAt(i - 1 - n) === 0x5c) n++;
  return n % 2 === 1;
}

/**
 * An integer literal that JavaScript writes back as written. Not merely one of a double's value: 2**63 is one, but
 * `serve --json` would print 9223372036854775808 as 9223372036854776000.
 */
function isExactAsDouble(integer: string): boolean {
  return String(Number(integer)) === integer;
}

/** A character JSON.stringify writes escaped (or, for a surrogate, may): a quote, a backslash, a control character. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Serialises a JSON value. Non-finite numbers become bare NaN/Infinity/-Infinity (as Python writes them) rather
 * than null; bigint becomes a decimal integer. Throws TypeError for values JSON cannot hold (a cycle, a function
 * at top level) and RangeError for nesting deeper than the engine's stack.
 */
export function stringifyJson(value: unknown): string {
  // A string cannot hold a non-finite number: skip the scan of what may be a large output. One with nothing to escape
  // is quoted without JSON.stringify, which allocates 2.2x the string's size while it builds its copy: a string
  // payload of 1 KiB was a quarter of what a one-in-flight client allocated per message, and so of its GC pauses.
  if (typeof value === 'string') return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"';
  return stringifyOnce(value, true) ?? (stringifyOnce(value, false) as string);
}

/** stringifyJson, splicing Base64Json texts in when `mark`; null when they could not be put back (spliceBase64). */
function stringifyOnce(value: unknown, mark: boolean): string | null {
  // Fast path: without a replacer. A non-finite number would have become a null token and a bigint would have
  // thrown, so output without one needs nothing more. JSON.stringify writes no whitespace, so a null value always
  // sits between [ : , and , ] }; "null" inside a string (common in base64) no longer sends us down the slow path.
  const zerosBefore = negativeZerosWritten;
  try {
    const { text: plain, texts } = stringifyMarked(value, mark);
    if (plain !== undefined && plain !== 'null' && !NULL_TOKEN.test(plain)) return spliceBase64(negativeZerosWritten === zerosBefore ? plain : unmarkRaw(plain), texts);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
  }
  let marked = false;
  const { text, texts } = stringifyMarked(value, mark, (_key, v: unknown) => {
    if (typeof v === 'number') {
      if (Number.isFinite(v)) return v;
      marked = true;
      return RAW_MARKER + (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
    }
    if (typeof v === 'bigint') {
      marked = true;
      return RAW_MARKER + v.toString();
    }
    return v;
  });
  if (text === undefined) throw new TypeError('value cannot be represented as JSON');
  return spliceBase64(marked || negativeZerosWritten !== zerosBefore ? unmarkRaw(text) : text, texts);
}

/**
 * A small recursive-descent parser, used only when JSON.parse rejected text containing NaN or Infinity, or would have
 * rounded an integer.
 */
class PermissiveParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    const value = this.value(0);
    this.skipWs();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON value');
    return value;
  }

  private value(depth: number): unknown {
    if (depth > MAX_JSON_DEPTH) this.fail('nesting too deep');
    this.skipWs();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (this.take('true')) return true;
    if (this.take('false')) return false;
    if (this.take('null')) return null;
    if (this.take('NaN')) return NaN;
    if (this.take('Infinity')) return Infinity;
    if (this.take('-Infinity')) return -Infinity;
    return this.number();
  }

  private object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    this.skipWs();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.string();
      this.skipWs();
      if (this.text[this.pos++] !== ':') this.fail('expected :');
      // defineProperty, not assignment, so a "__proto__" key stays an own property as with JSON.parse.
      Object.defineProperty(out, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected , or }');
    }
  }

  private array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.skipWs();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected , or ]');
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x22) break;
      if (c === 0x5c) this.pos++;
      else if (c < 0x20) this.fail('control character in string');
      this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private number(): number | bigint {
    const m = /-?(?:0|[1-9]\d*)((?:\.\d+)?(?:[eE][+-]?\d+)?)/y;
    m.lastIndex = this.pos;
    const match = m.exec(this.text);
    if (!match) this.fail('unexpected character');
    this.pos += match[0].length;
    return match[1] === '' && match[0].length > 15 && !isExactAsDouble(match[0]) ? BigInt(match[0]) : Number(match[0]);
  }

  private take(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private skipWs(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  private fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.pos}`);
  }
}
