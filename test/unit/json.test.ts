import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { Base64Json, JsonDepthError, MAX_JSON_DEPTH, NEGATIVE_ZERO, nestsDeeperThan, parseJson, stringifyJson } from '../../src/fastsocket/json';

/** JSON values that also hold Python's non-finite floats (no -0: JSON cannot carry it). */
const pythonJsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double().filter((d) => !Object.is(d, -0)),
    fc.constantFrom(NaN, Infinity, -Infinity),
    fc.integer(),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
})).value;

/** What Python's `json.dumps` writes (", " and ": " separators, bare NaN/Infinity), as a reference encoder. */
function pythonDumps(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(pythonDumps).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pythonDumps(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

describe('json', () => {
  describe('#nestsDeeperThan', () => {
    /** The greatest number of arrays/objects open at once, by the engine's own reading of the text. */
    function depthOf(v: unknown): number {
      if (v === null || typeof v !== 'object') return 0;
      return 1 + Math.max(0, ...Object.values(v as object).map(depthOf));
    }

    it('agrees with the depth of the parsed value, for strings and for UTF-8 bytes, brackets and escapes inside strings included', () => {
      const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', 'é', '🚗');
      const value = fc.letrec((tie) => ({
        v: fc.oneof(
          { depthSize: 'large', maxDepth: 12 },
          fc.integer(),
          fc.array(tricky).map((parts) => parts.join('')),
          fc.array(tie('v'), { maxLength: 3 }),
          fc.dictionary(fc.array(tricky).map((p) => p.join('')), tie('v'), { maxKeys: 3 }),
        ),
      })).v;
      fc.assert(
        fc.property(value, fc.integer({ min: 0, max: 14 }), (v, limit) => {
          const text = JSON.stringify(v);
          const expected = depthOf(v) > limit;
          assert.equal(nestsDeeperThan(text, limit), expected, text);
          assert.equal(nestsDeeperThan(Buffer.from(text), limit), expected, text);
          assert.equal(nestsDeeperThan(new Uint8Array(Buffer.from(text)), limit), expected, text);
        }),
        { numRuns: 3000 },
      );
    });

    it('counts exactly at the limit, also when the text is long enough for the full scan', () => {
      const nested = (d: number, pad = 0) => `${'['.repeat(d)}"${' '.repeat(pad)}"${']'.repeat(d)}`;
      assert.equal(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
      assert.equal(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
      // Many brackets that never nest deeply, and brackets inside a string that do not count.
      const wide = `[${'[],'.repeat(5000)}"${'['.repeat(5000)}"]`;
      assert.equal(nestsDeeperThan(wide, MAX_JSON_DEPTH), false);
      assert.equal(nestsDeeperThan(Buffer.from(wide), MAX_JSON_DEPTH), false);
    });
  });

  describe('#parseJson', () => {
    it('parses Python NaN, Infinity and -Infinity anywhere a number can stand', () => {
      const v = parseJson('{"a": NaN, "b": [Infinity, -Infinity, 1], "c": {"d": -Infinity}}') as {
        a: number;
        b: number[];
        c: { d: number };
      };
      assert.ok(Number.isNaN(v.a));
      assert.deepEqual(v.b, [Infinity, -Infinity, 1]);
      assert.equal(v.c.d, -Infinity);
      assert.ok(Number.isNaN(parseJson('NaN') as number));
      assert.equal(parseJson(' \t\r\n-Infinity \n'), -Infinity);
    });

    it('rejects words that are not Python non-finite floats with a SyntaxError', () => {
      for (const text of ['nan', 'NAN', 'inf', 'infinity', '+Infinity', '-NaN', 'NaNa', '[NaN,]', '{"a":NaN,}', '[NaN Infinity]', '{NaN:1}', '[Infinity', '"NaN']) {
        assert.throws(() => parseJson(text), SyntaxError, text);
      }
    });

    it('rejects what JSON.parse rejects even when the text mentions NaN', () => {
      for (const text of ['[NaN, 01]', '[NaN, 1.]', '[NaN, .5]', '[NaN, "a\tb"]', "[NaN, 'x']", '[NaN, "\\x"]', '[NaN, -]', '[NaN, 0x10]', '[NaN] [1]']) {
        assert.throws(() => parseJson(text), SyntaxError, text);
      }
    });

    it('keeps an integer a double would round as a bigint, digit for digit through stringifyJson (Python ints, ns timestamps)', () => {
      const v = parseJson('{"stamp_ns": 1764412345123456789, "id": [9223372036854775808, -9223372036854775809], "ok": 9007199254740991}') as Record<string, unknown>;
      assert.deepStrictEqual(v, { stamp_ns: 1764412345123456789n, id: [9223372036854775808n, -9223372036854775809n], ok: 9007199254740991 });
      assert.equal(stringifyJson(v), '{"stamp_ns":1764412345123456789,"id":[9223372036854775808,-9223372036854775809],"ok":9007199254740991}');
      assert.equal(parseJson('12345678901234567891'), 12345678901234567891n);
      assert.deepStrictEqual(parseJson('[NaN, 12345678901234567891]'), [NaN, 12345678901234567891n]);
    });

    it('keeps an integer beyond a double\'s range (Python\'s 10**400) as a bigint, not Infinity; 1e400 stays Infinity', () => {
      // JSON.parse gives Infinity for both, which no unsafe-integer check saw: the int came out as Infinity (serve --json
      // printed Infinity) unless another long integer in the same text sent it through the exact parser.
      const huge = `1${'0'.repeat(400)}`;
      assert.equal(parseJson(huge), 10n ** 400n);
      assert.deepStrictEqual(parseJson(`{"a": -${huge}, "b": 1e400, "c": -1E+400}`), { a: -(10n ** 400n), b: Infinity, c: -Infinity });
      assert.equal(stringifyJson(parseJson(`[${huge}]`)), `[${huge}]`);
    });

    it('keeps numbers JavaScript wrote, fractions, exponents and digits inside strings as they were', () => {
      // JavaScript writes the shortest digits of a double: they read back as the same double.
      assert.equal(parseJson(JSON.stringify(1764412345123456789)), 1764412345123456789);
      assert.equal(typeof parseJson('[9007199254740992]'), 'object');
      assert.deepStrictEqual(parseJson('[9007199254740992, 12345678901234567891.5, 1.2345678901234567e+25, 100000000000000000000]'), [
        2 ** 53, 12345678901234567891.5, 1.2345678901234567e25, 1e20,
      ]);
      // The same double is in a string and written otherwise as a number: the number is still read exactly.
      assert.deepStrictEqual(parseJson('{"a": 9007199254740993, "s": "x 9007199254740992 y", "b": 9007199254740992}'), { a: 9007199254740993n, s: 'x 9007199254740992 y', b: 2 ** 53 });
      assert.deepStrictEqual(parseJson('["\\\\", 9007199254740993, "\\"1e30\\"", 1.9007199254740993e5]'), ['\\', 9007199254740993n, '"1e30"', 190071.99254740993]);
      assert.deepStrictEqual(parseJson('{"s": "12345678901234567891", "t": "a, 12345678901234567891 b"}'), { s: '12345678901234567891', t: 'a, 12345678901234567891 b' });
    });

    it('reads every integer Python can write exactly: a number when a double holds it as written, else a bigint', () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), fc.boolean(), (n, spaced) => {
          const text = spaced ? `{"n": ${n}}` : `[${n}]`;
          const parsed = parseJson(text) as Record<string, unknown> | unknown[];
          const got = Array.isArray(parsed) ? parsed[0] : parsed.n;
          assert.equal(BigInt(got as number | bigint), n);
          if (n >= -(2n ** 53n - 1n) && n <= 2n ** 53n - 1n) assert.equal(typeof got, 'number');
          assert.equal(stringifyJson(parsed), spaced ? `{"n":${n}}` : `[${n}]`);
        }),
        { numRuns: 2000 },
      );
    });

    it('parses everything Python json.dumps writes back to the same value', () => {
      fc.assert(
        fc.property(pythonJsonValue, (v) => {
          assert.deepStrictEqual(parseJson(pythonDumps(v)), v);
        }),
        { numRuns: 2000 },
      );
    });

    it('agrees with JSON.parse on any text without non-finite words', () => {
      fc.assert(
        fc.property(fc.oneof(fc.json(), fc.string()).filter((t) => !t.includes('NaN') && !t.includes('Infinity')), (text) => {
          let expected: unknown;
          let expectedThrew = false;
          try {
            expected = JSON.parse(text);
          } catch {
            expectedThrew = true;
          }
          if (expectedThrew) assert.throws(() => parseJson(text));
          else assert.deepStrictEqual(parseJson(text), expected);
        }),
        { numRuns: 2000 },
      );
    });

    it('agrees with JSON.parse on strings and escapes inside text that needs the NaN-tolerant path', () => {
      fc.assert(
        fc.property(fc.json(), (text) => {
          const expected = JSON.parse(text) as unknown;
          const parsed = parseJson(`[NaN, ${text}]`) as unknown[];
          assert.ok(Number.isNaN(parsed[0]));
          assert.deepStrictEqual(parsed[1], expected);
        }),
        { numRuns: 2000 },
      );
    });

    it('keeps __proto__ as an own property on the NaN-tolerant path, like JSON.parse', () => {
      const v = parseJson('{"__proto__": {"x": NaN}, "y": 1}') as Record<string, unknown>;
      assert.ok(Object.prototype.hasOwnProperty.call(v, '__proto__'));
      assert.equal(Object.getPrototypeOf(v), Object.prototype);
      assert.deepStrictEqual(Object.keys(v), ['__proto__', 'y']);
      assert.equal(({} as Record<string, unknown>).x, undefined);
    });

    it('throws a JsonDepthError when text nests deeper than MAX_JSON_DEPTH, NaN-tolerant path included', () => {
      assert.equal((parseJson(`${'['.repeat(MAX_JSON_DEPTH)}NaN${']'.repeat(MAX_JSON_DEPTH)}`) as unknown[]).length, 1);
      for (const inner of ['1', 'NaN']) {
        const text = `${'['.repeat(MAX_JSON_DEPTH + 1)}${inner}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
        assert.throws(() => parseJson(text), (err: unknown) => err instanceof JsonDepthError && err instanceof SyntaxError);
      }
    });

    it('keeps the last of duplicate keys, like JSON.parse', () => {
      assert.deepStrictEqual(parseJson('{"a": 1, "a": NaN}'), { a: NaN });
    });
  });

  describe('#stringifyJson', () => {
    it('writes non-finite numbers as Python does, not as null', () => {
      assert.equal(stringifyJson({ a: NaN, b: [Infinity, -Infinity] }), '{"a":NaN,"b":[Infinity,-Infinity]}');
      assert.equal(stringifyJson(NaN), 'NaN');
    });

    it('writes NEGATIVE_ZERO as -0.0, which parses back to -0, alone or beside non-finite numbers and bigints', () => {
      assert.equal(stringifyJson({ a: NEGATIVE_ZERO, b: [1, NEGATIVE_ZERO] }), '{"a":-0.0,"b":[1,-0.0]}');
      assert.equal(stringifyJson({ a: NEGATIVE_ZERO, n: NaN, big: 2n ** 64n }), '{"a":-0.0,"n":NaN,"big":18446744073709551616}');
      assert.equal(stringifyJson([NEGATIVE_ZERO]), '[-0.0]');
      const back = parseJson(stringifyJson({ x: NEGATIVE_ZERO })) as { x: number };
      assert.ok(Object.is(back.x, -0));
      // A call without one is untouched by an earlier call with one.
      assert.equal(stringifyJson({ s: 'plain', z: 0 }), '{"s":"plain","z":0}');
    });

    it('finds a non-finite number beside strings that spell null, and leaves those strings alone', () => {
      const text = 'bnullA,null]{:null}';
      assert.equal(stringifyJson({ s: text, n: NaN }), `{"s":${JSON.stringify(text)},"n":NaN}`);
      assert.equal(stringifyJson([text, -Infinity, null]), `[${JSON.stringify(text)},-Infinity,null]`);
      assert.equal(stringifyJson({ s: text }), JSON.stringify({ s: text }));
      assert.equal(stringifyJson(null), 'null');
    });

    it('writes a bigint as a decimal integer', () => {
      assert.equal(stringifyJson({ big: 12345678901234567890n }), '{"big":12345678901234567890}');
    });

    it('writes a string as JSON.stringify does, whatever it holds (quotes, controls, lone or paired surrogates)', () => {
      const samples = ['', 'plain', 'x'.repeat(4096), 'a"b', 'back\\slash', 'tab\tnl\n', '\u0000\u001f\u007f', 'é€😀', '\ud800', 'a\udc00b', '\u2028\u2029'];
      for (const s of samples) assert.equal(stringifyJson(s), JSON.stringify(s), JSON.stringify(s));
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary-ascii' })), (s) => {
          assert.equal(stringifyJson(s), JSON.stringify(s));
        }),
        { numRuns: 2000 },
      );
    });

    it('writes the same as JSON.stringify when every number is finite', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => {
          assert.equal(stringifyJson(v), JSON.stringify(v));
        }),
        { numRuns: 1000 },
      );
    });

    it('never produces a raw newline, so the output is always one frame', () => {
      fc.assert(
        fc.property(pythonJsonValue, (v) => {
          assert.ok(!stringifyJson(v).includes('\n'));
        }),
      );
    });

    it('round-trips through parseJson, non-finite numbers included', () => {
      fc.assert(
        fc.property(pythonJsonValue, (v) => {
          assert.deepStrictEqual(parseJson(stringifyJson(v)), v);
        }),
        { numRuns: 2000 },
      );
    });

    it('leaves strings that look like its internal marker untouched', () => {
      const tricky = { s: '\u0000fs000000000000\u0000NaN', t: '"NaN"', n: NaN, u: 'Infinity' };
      assert.deepStrictEqual(parseJson(stringifyJson(tricky)), tricky);
    });

    it('writes a Base64Json as the JSON string of its base64, wherever it stands and beside every special value', () => {
      // Each byte string stands in the value twice: as a Base64Json, and as its base64 text in the reference copy.
      type Pair = readonly [unknown, unknown];
      const withBytes = fc.letrec((tie) => ({
        value: fc.oneof(
          { depthSize: 'small' },
          pythonJsonValue.map((v) => [v, v] as const),
          fc.uint8Array({ maxLength: 40 }).map((b) => [new Base64Json(b), Buffer.from(b).toString('base64')] as const),
          fc.constantFrom([NEGATIVE_ZERO, NEGATIVE_ZERO] as const, [10n ** 20n, 10n ** 20n] as const),
          fc.array(tie('value') as fc.Arbitrary<Pair>, { maxLength: 4 }).map((items) => [items.map((i) => i[0]), items.map((i) => i[1])] as const),
          fc
            .dictionary(fc.string({ maxLength: 6 }), tie('value') as fc.Arbitrary<Pair>, { maxKeys: 4, noNullPrototype: true })
            .map((d) => [Object.fromEntries(Object.entries(d).map(([k, i]) => [k, i[0]])), Object.fromEntries(Object.entries(d).map(([k, i]) => [k, i[1]]))] as const),
        ),
      })).value as fc.Arbitrary<Pair>;
      fc.assert(
        fc.property(withBytes, ([value, reference]) => {
          assert.equal(stringifyJson(value), stringifyJson(reference));
        }),
        { numRuns: 2000 },
      );
    });

    it('writes a Base64Json of a megabyte, and a view into a larger buffer, as Buffer#toString(\'base64\') does', () => {
      const big = Buffer.alloc((1 << 20) + 3, 0xfb);
      big[7] = 0;
      const view = big.subarray(5, big.length - 2);
      const text = stringifyJson({ topic: '/cam', cdr: new Base64Json(view), seq: 1 });
      assert.equal(text, `{"topic":"/cam","cdr":"${view.toString('base64')}","seq":1}`);
      assert.equal(JSON.stringify({ b: new Base64Json(view) }), JSON.stringify({ b: view.toString('base64') }));
    });

    it('writes every Base64Json as its base64 when a toJSON inside the value calls stringifyJson or JSON.stringify', () => {
      const [a, b, c] = [1, 2, 3].map((n) => new Base64Json(Buffer.alloc(n, n)));
      const reference = (inner: unknown) => JSON.stringify({ a, inner, c });
      const nested = { a, inner: { toJSON: () => JSON.parse(stringifyJson({ b })) as unknown }, c };
      assert.equal(stringifyJson(nested), reference({ b: b.text }));
      const asText = { a, inner: { toJSON: () => stringifyJson({ b }) }, c };
      assert.equal(stringifyJson(asText), reference(JSON.stringify({ b: b.text })));
      const plain = { a, inner: { toJSON: () => JSON.stringify({ b }) }, c };
      assert.equal(stringifyJson(plain), reference(JSON.stringify({ b: b.text })));
    });

    it('throws a TypeError for a cycle and for a value JSON cannot hold', () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      assert.throws(() => stringifyJson(cyclic), TypeError);
      assert.throws(() => stringifyJson(() => 1), TypeError);
      assert.throws(() => stringifyJson(undefined), TypeError);
    });
  });
});
