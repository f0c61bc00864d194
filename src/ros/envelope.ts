/** The ROS envelope of PROTOCOL.md §4: what the bridge sends as `payload` and the server unpacks. */
import { stringifyJson, type Base64Json } from '../fastsocket';
import { decodeStrictBase64 } from './base64';
import { EnvelopeError } from './errors';
import { normalizeTypeName } from './message-definition';
import type { JsonValue } from './msg-json';
import { isValidTopicName } from './params';
import { DURABILITIES, Durability, EnvelopeQos, Reliability, RELIABILITIES } from './qos';

export interface RosEnvelope {
  topic: string;
  /** `pkg/msg/Name` (a ROS 1 name `pkg/Name` is accepted on input and normalised). */
  type: string;
  seq: number;
  /** Bridge receive wall time, ns since the epoch. */
  stamp_ns?: number;
  /**
   * Extension: ns the bridge held the message before handing it to its client (a max_age_ms topic while the link
   * was down), so the server's age counts that wait too; absent when it was handed over at once.
   */
  held_ns?: number;
  /**
   * Extension: how many seqs of this bridge run on this topic the bridge dropped itself after numbering them (outbox
   * full, older than max_age_ms, too large), so the server does not count them as lost; absent while none.
   */
  dropped?: number;
  qos?: EnvelopeQos;
  /** JSON mode. */
  msg?: { [key: string]: JsonValue };
  /** Raw mode: base64 of the serialized message (ROS 2 to ROS 2 only). */
  cdr?: string | Base64Json;
  /**
   * Extension, raw mode: the bridge's type hash of `type` (ROS 2's `RIHS01_...`), so a server whose definition of the
   * type differs refuses the bytes instead of publishing them misread.
   */
  type_hash?: string;
}

/** What the server needs from an envelope, checked. */
export interface ParsedEnvelope {
  topic: string;
  type: string;
  seq: number;
  stampNs: number | null;
  /** 0 when absent: an optional extension, so a value that is not a whole number of ns is ignored, not refused. */
  heldNs: number;
  /** 0 when absent; an optional extension, so a value that is not a whole number >= 0 is ignored, not refused. */
  dropped: number;
  qos: EnvelopeQos | null;
  body: { kind: 'json'; msg: unknown } | { kind: 'cdr'; bytes: Buffer };
  /** null when absent (an optional extension: a value that is not a non-empty string is ignored, not refused). */
  typeHash: string | null;
}

/** A wrong envelope value as an error shows it: any JSON value (a bigint too), cut short. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = stringifyJson(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

/**
 * Checks a received payload against §4.
 * @throws EnvelopeError naming the envelope field that is wrong
 */
export function parseEnvelope(payload: unknown): ParsedEnvelope {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new EnvelopeError('payload', 'is not a JSON object');
  const p = payload as Record<string, unknown>;
  if (typeof p.topic !== 'string' || !isValidTopicName(p.topic) || !p.topic.startsWith('/')) {
    throw new EnvelopeError('topic', `expected an absolute ROS topic name, got ${shown(p.topic)}`);
  }
  const type = typeof p.type === 'string' ? normalizeTypeName(p.type) : null;
  if (type === null) throw new EnvelopeError('type', `expected a type name like pkg/msg/Name, got ${shown(p.type)}`);
  if (typeof p.seq !== 'number' || !Number.isSafeInteger(p.seq) || p.seq < 0) throw new EnvelopeError('seq', `expected an integer >= 0, got ${shown(p.seq)}`);
  // A peer writing ns exactly (time.time_ns()) gives a bigint: a double keeps it to ~256 ns.
  const stamp = typeof p.stamp_ns === 'bigint' ? Number(p.stamp_ns) : p.stamp_ns;
  const stampNs = typeof stamp === 'number' && Number.isFinite(stamp) ? stamp : null;
  const heldNs = wholeOrZero(p.held_ns);
  const dropped = wholeOrZero(p.dropped);
  const qos = p.qos === undefined || p.qos === null ? null : parseQos(p.qos);
  let body: ParsedEnvelope['body'];
  if (p.cdr !== undefined) {
    const bytes = typeof p.cdr === 'string' ? decodeStrictBase64(p.cdr) : null;
    if (bytes === null) throw new EnvelopeError('cdr', 'expected a base64 string');
    body = { kind: 'cdr', bytes };
  } else if (p.msg !== undefined) {
    body = { kind: 'json', msg: p.msg };
  } else {
    throw new EnvelopeError('msg', 'missing: an envelope carries msg (JSON) or cdr (raw)');
  }
  const typeHash = typeof p.type_hash === 'string' && p.type_hash.length > 0 ? p.type_hash : null;
  return { topic: p.topic, type, seq: p.seq, stampNs, heldNs, dropped, qos, body, typeHash };
}

/** An optional whole-number extension field: its value when a positive safe integer, else 0 (ignored, not refused). */
function wholeOrZero(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

function parseQos(value: unknown): EnvelopeQos {
  if (typeof value !== 'object' || value === null) throw new EnvelopeError('qos', 'expected an object');
  const q = value as Record<string, unknown>;
  if (!RELIABILITIES.includes(q.reliability as Reliability)) throw new EnvelopeError('qos.reliability', `expected one of ${RELIABILITIES.join(', ')}`);
  if (!DURABILITIES.includes(q.durability as Durability)) throw new EnvelopeError('qos.durability', `expected one of ${DURABILITIES.join(', ')}`);
  if (typeof q.depth !== 'number' || !Number.isSafeInteger(q.depth) || q.depth < 0 || q.depth > 100_000) {
    throw new EnvelopeError('qos.depth', 'expected an integer from 0 to 100000');
  }
  return { reliability: q.reliability as Reliability, durability: q.durability as Durability, depth: q.depth };
}
