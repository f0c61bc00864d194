/**
 * Deterministic, varied JSON payloads for the interop tests: the kinds of values where a JavaScript and a Python
 * JSON codec are most likely to disagree (escapes, astral-plane characters, float formatting, huge strings).
 */

import { seededRandom } from '../support/seeded-random';

export { seededRandom };

const STRING_PIECES = [
  'plain ascii', 'é', 'ñandú', 'Ελληνικά', 'кириллица', '漢字かな', '한국어', 'עברית', 'العربية',
  '😀', '🇪🇸', '👩‍👩‍👧', '𝄞', '𐍈', '\u{10FFFF}', // astral plane (surrogate pairs in UTF-16 and in Python's \u escapes)
  '\n', '\r\n', '\t', '"', '\\', '/', '\b', '\f', '\u0000', '\u001f', '\u007f', '\u2028', '\u2029', '\ufeff',
  'e\u0301', // combining accent
  '\ud800', '\udfff', // lone surrogates: legal in JSON text, and both codecs keep them
  '{"not":"an object"}', 'NaN', 'Infinity', 'null', ' ',
];

/** Numbers at the edges of double precision; each must survive repr() in Python and the shortest form in JS. */
export const EDGE_NUMBERS: readonly number[] = [
  2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e308, -1e308, Number.MAX_VALUE, 5e-324, -5e-324, 2.2250738585072014e-308,
  0.1 + 0.2, 0.1, 1 / 3, Number.EPSILON, 1e21, 1e-7, 123456789.12345679, 0, 1, -1, 4294967296, 1.5, 100,
];

export interface PayloadOptions {
  count: number;
  seed: number;
  /** Strings of about this many characters, a few of them. */
  largeStringChars: number;
  largeStrings: number;
  /** Include NaN/Infinity/-Infinity values (they travel as bare words, as Python writes them). */
  nonFinite: boolean;
}

/** `count` payloads: a fixed set of edge cases first, then random nested values. */
export function makePayloads(opts: PayloadOptions): unknown[] {
  const rnd = seededRandom(opts.seed);
  const out: unknown[] = [
    // Falsy values: the original never hands these over; ours and the reference peer must.
    0, '', {}, [], null, false, true,
    ...EDGE_NUMBERS,
    EDGE_NUMBERS,
    // Integers a double cannot hold as written (Python ints, int64 ids, ns timestamps): bigints on our side.
    { stamp_ns: 1764412345123456789n, station_id: 2n ** 64n - 1n, ids: [9007199254740993n, -(2n ** 63n) - 1n, 2 ** 53] },
    // From JSON text, because an object literal would treat __proto__ as the prototype, not as a key.
    JSON.parse('{"__proto__":{"x":1},"constructor":1,"":"empty key","ключ 😀":"unicode key"}'),
    cpmRecord(rnd),
    ...STRING_PIECES,
    STRING_PIECES.join(''),
  ];
  if (opts.nonFinite) out.push(NaN, Infinity, -Infinity, { nan: NaN, inf: [Infinity, -Infinity], n: 1 });
  for (let i = 0; i < opts.largeStrings; i++) out.push(largeString(rnd, opts.largeStringChars));
  while (out.length < opts.count) out.push(randomValue(rnd, 0));
  return out.slice(0, opts.count);
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)];
}

function randomString(rnd: () => number, maxPieces: number): string {
  let s = '';
  const n = Math.floor(rnd() * maxPieces);
  for (let i = 0; i < n; i++) s += pick(rnd, STRING_PIECES);
  return s;
}

/** A finite double from random bits, so formatting is exercised beyond hand-picked values. */
function randomDouble(rnd: () => number): number {
  const view = new DataView(new ArrayBuffer(8));
  for (;;) {
    view.setUint32(0, Math.floor(rnd() * 2 ** 32));
    view.setUint32(4, Math.floor(rnd() * 2 ** 32));
    const v = view.getFloat64(0);
    // -0 is left out: JSON.stringify(-0) is "0" in every JavaScript encoder, so it cannot round-trip from our side.
    if (Number.isFinite(v) && !Object.is(v, -0)) return v;
  }
}

function randomValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth < 5 && r < 0.3) {
    const o: Record<string, unknown> = {};
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) o[randomString(rnd, 3) + i] = randomValue(rnd, depth + 1);
    return o;
  }
  if (depth < 5 && r < 0.45) return Array.from({ length: Math.floor(rnd() * 6) }, () => randomValue(rnd, depth + 1));
  if (r < 0.65) return randomString(rnd, 8);
  if (r < 0.75) return randomDouble(rnd);
  if (r < 0.85) return pick(rnd, EDGE_NUMBERS);
  if (r < 0.9) return Math.floor((rnd() - 0.5) * 2 ** 53);
  return pick(rnd, [true, false, null, 0, '']);
}

/** Mostly non-ASCII, so its UTF-8 size (what limits frames) is well above its length in characters. */
function largeString(rnd: () => number, chars: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < chars) {
    const p = pick(rnd, STRING_PIECES);
    parts.push(p);
    n += p.length;
  }
  return parts.join('');
}

/** The original's example workload: an ETSI CPM perceived-object record, about 1.4 KB of nested JSON. */
export function cpmRecord(rnd: () => number = seededRandom(1)): Record<string, unknown> {
  const withConfidence = (v: number, c: number) => ({ value: v, confidence: c });
  const vec = () => ({
    x: withConfidence(Math.round((rnd() - 0.5) * 20000), 5),
    y: withConfidence(Math.round((rnd() - 0.5) * 20000), 5),
    z: withConfidence(Math.round(rnd() * 300), 10),
  });
  return {
    header: { protocolVersion: 2, messageId: 14, stationId: 3735928559 },
    generationDeltaTime: Math.floor(rnd() * 65536),
    perceivedObject: {
      objectId: Math.floor(rnd() * 256),
      measurementDeltaTime: -12,
      position: vec(),
      velocity: { polarVelocity: { velocityMagnitude: withConfidence(1234, 3), velocityDirection: withConfidence(2700, 2) } },
      acceleration: { cartesianAcceleration: vec() },
      angles: { zAngle: withConfidence(1800, 4), yAngle: withConfidence(0, 127), xAngle: withConfidence(0, 127) },
      zAngularVelocity: withConfidence(-15, 3),
      objectDimensionX: withConfidence(45, 2),
      objectDimensionY: withConfidence(18, 2),
      objectDimensionZ: withConfidence(15, 2),
      objectAge: 1500,
      objectPerceptionQuality: 12,
      sensorIdList: [1, 2, 5],
      classification: [
        { objectClass: { vehicleSubClass: 'passengerCar' }, confidence: 87 },
        { objectClass: { vehicleSubClass: 'lightTruck' }, confidence: 9 },
      ],
      mapPosition: { mapReference: { roadSegment: { id: 4242, region: 7 } }, laneId: 2, longitudinalLanePosition: 1234.5 },
    },
  };
}
