/** The single place where bytes become typed frames (and typed frames become bytes). */
import { isAscii, isUtf8 } from 'node:buffer';
import { ProtocolError } from './errors';
import { quoteForLog } from './logger';
import { MAX_JSON_DEPTH, nestsDeeperThan, parseCheckedJson, stringifyJson } from './json';
import {
  Ack2Frame,
  Ack3Frame,
  ClientFrame,
  Frame,
  HelloFrame,
  MAX_CLIENT_ID_LENGTH,
  MAX_ID_LENGTH,
  MessageFrame,
  PROTOCOL_VERSION,
  ServerFrame,
} from './wire';

/** Decodes one frame (without its newline). Throws ProtocolError with a stable `reason`. */
export function decodeFrame(data: Buffer | string): Frame {
  // ASCII (every frame of ours whose payload is, base64 images included) is read as latin1, which copies bytes where
  // utf8 decodes them: 0.29 against 0.88 ms per MB here. isAscii also stands in for the isUtf8 check it implies.
  const ascii = typeof data !== 'string' && isAscii(data);
  if (typeof data !== 'string' && !ascii && !isUtf8(data)) throw new ProtocolError('invalid_utf8', 'frame is not valid UTF-8');
  // Before JSON.parse, which takes ~250 ns per level: a 16 MiB frame of brackets held the event loop for 3.8 s.
  if (nestsDeeperThan(data, MAX_JSON_DEPTH)) {
    throw new ProtocolError('invalid_json', `frame of ${data.length} ${typeof data === 'string' ? 'characters' : 'bytes'} nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const text = typeof data === 'string' ? data : data.toString(ascii ? 'latin1' : 'utf8');
  let value: unknown;
  try {
    value = parseCheckedJson(text, payloadOf);
  } catch (err) {
    // V8's message quotes the input, which may hold a secret (a malformed hello's token): report only where it broke.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new ProtocolError('invalid_json', `frame of ${text.length} characters is not valid JSON${at ? ` (at position ${at})` : ''}`);
  }
  return validateFrame(value);
}

/** A frame's payload, the only part whose integers must come through exact. */
function payloadOf(frame: unknown): unknown {
  return typeof frame === 'object' && frame !== null ? (frame as { payload?: unknown }).payload : undefined;
}

/**
 * How to close a connection after too many bad frames in a row (§5): WebSocket 1007 for bytes that are not JSON,
 * 1008 for JSON that breaks the protocol.
 */
export function badFrameCloseReason(err: ProtocolError): 'invalid_data' | 'policy' {
  return err.reason === 'invalid_json' || err.reason === 'invalid_utf8' ? 'invalid_data' : 'policy';
}

/** Decodes a frame a server may receive: message 1, ack 3 or hello. */
export function decodeClientFrame(data: Buffer | string): ClientFrame {
  const frame = decodeFrame(data);
  if (frame.type === 'ack' && !('send_and_ack_time_ns' in frame)) {
    throw new ProtocolError('invalid_ack_time', 'ack from a client must carry send_and_ack_time_ns');
  }
  return frame as ClientFrame;
}

/** Decodes a frame a client may receive: ack 2 or hello. */
export function decodeServerFrame(data: Buffer | string): ServerFrame {
  if (typeof data !== 'string') {
    const id = plainAck2Id(data);
    if (id !== null) return { type: 'ack', id };
  }
  const frame = decodeFrame(data);
  if (frame.type === 'message') throw new ProtocolError('unknown_type', 'a server does not send type "message"');
  if (frame.type === 'ack') return { type: 'ack', id: frame.id };
  return frame;
}

function validateFrame(value: unknown): Frame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('not_object', 'frame is not a JSON object');
  }
  const o = value as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string') throw new ProtocolError('invalid_type', 'frame has no string "type"');
  if (type === 'hello') return validateHello(o);
  // Before the id: a frame of a type we do not know (a newer peer's, id-less like hello) was reported as a bad id.
  if (type !== 'message' && type !== 'ack') throw new ProtocolError('unknown_type', `unknown frame type ${quoteForLog(type.slice(0, 40))}`);
  const id = o.id;
  if (!isMessageId(id)) {
    throw new ProtocolError('invalid_id', `frame "id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  if (type === 'message') {
    if (!Object.prototype.hasOwnProperty.call(o, 'payload')) {
      throw new ProtocolError('missing_payload', 'message frame has no "payload"');
    }
    const frame: MessageFrame = { type: 'message', id, payload: o.payload };
    if (o.resent === true) frame.resent = true;
    const queued = optionalDuration(o, 'queued_ns');
    if (queued !== undefined) frame.queued_ns = queued;
    const wall = optionalWallTime(o, 'client_send_wall_ns');
    if (wall !== undefined) frame.client_send_wall_ns = wall;
    return frame;
  }
  if (o.send_and_ack_time_ns === undefined) return { type: 'ack', id } satisfies Ack2Frame;
  const t1 = o.send_and_ack_time_ns;
  if (typeof t1 !== 'number' || !Number.isSafeInteger(t1) || t1 < 0) {
    throw new ProtocolError('invalid_ack_time', '"send_and_ack_time_ns" must be a non-negative JSON integer');
  }
  const frame: Ack3Frame = { type: 'ack', id, send_and_ack_time_ns: t1 };
  const pc = optionalDuration(o, 'pc_ns');
  if (pc !== undefined) frame.pc_ns = pc;
  const wall = optionalWallTime(o, 'client_recv_wall_ns');
  if (wall !== undefined) frame.client_recv_wall_ns = wall;
  return frame;
}

/**
 * Whether `s` has more than `max` characters as PROTOCOL.md §2 and Python's len() count them: code points, so an
 * emoji (two UTF-16 code units) counts once. Only a string of more than `max` code units needs counting.
 */
export function longerThan(s: string, max: number): boolean {
  if (s.length <= max) return false;
  if (s.length > 2 * max) return true;
  let n = 0;
  for (const _ of s) if (++n > max) return true;
  return false;
}

/** Whether `id` can be a message id (PROTOCOL.md §2): a non-empty string of at most MAX_ID_LENGTH characters. */
export function isMessageId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && !longerThan(id, MAX_ID_LENGTH);
}

function validateHello(o: Record<string, unknown>): HelloFrame {
  const protocol = o.protocol;
  if (typeof protocol !== 'number' || !Number.isInteger(protocol) || protocol < 1) {
    throw new ProtocolError('invalid_field', 'hello "protocol" must be a positive integer');
  }
  const frame: HelloFrame = { type: 'hello', protocol };
  if (o.client_id !== undefined && o.client_id !== null) {
    if (typeof o.client_id !== 'string' || longerThan(o.client_id, MAX_CLIENT_ID_LENGTH)) {
      throw new ProtocolError('invalid_field', `hello "client_id" must be a string of at most ${MAX_CLIENT_ID_LENGTH} characters`);
    }
    frame.client_id = o.client_id;
  }
  if (typeof o.max_frame_bytes === 'number' && Number.isSafeInteger(o.max_frame_bytes) && o.max_frame_bytes > 0) {
    frame.max_frame_bytes = o.max_frame_bytes;
  }
  // Extension fields are ignored, not refused, when malformed.
  if (typeof o.server_instance === 'string' && o.server_instance.length > 0 && !longerThan(o.server_instance, MAX_ID_LENGTH)) {
    frame.server_instance = o.server_instance;
  }
  // null as absent, as for client_id: a Python peer writes an unset token as null (json.dumps(None)).
  if (o.token !== undefined && o.token !== null) {
    if (typeof o.token !== 'string') throw new ProtocolError('invalid_field', 'hello "token" must be a string');
    frame.token = o.token;
  }
  return frame;
}

/** An optional extension field: ignored unless it is a non-negative safe integer (unknown shapes are tolerated). */
function optionalDuration(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** 2^63: ns since the epoch as every clock API writes them fit an int64 (until the year 2262). */
const MAX_WALL_NS = 2 ** 63;

/**
 * Wall-clock ns since the epoch are above 2^53, so they are integers but not "safe" ones; written exactly (a peer's
 * time.time_ns()) they parse as a bigint, kept to the ~256 ns a double holds of them.
 */
function optionalWallTime(o: Record<string, unknown>, key: string): number | undefined {
  const v = typeof o[key] === 'bigint' ? Number(o[key]) : o[key];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < MAX_WALL_NS ? v : undefined;
}

const PLAIN_ID = /^[A-Za-z0-9_.:-]*$/;

/** uuids and most ids need no escaping, and JSON.stringify would cost more than the rest of an ack. */
function jsonId(id: string): string {
  return PLAIN_ID.test(id) ? `"${id}"` : JSON.stringify(id);
}

export interface MessageExtra {
  resent?: boolean | undefined;
  queuedNs?: number | undefined;
  clientSendWallNs?: number | undefined;
}

/** Encodes message 1. `payloadJson` is the already-serialised payload (serialised once, at send time). */
export function encodeMessage(id: string, payloadJson: string, extra?: MessageExtra): string {
  return messageHead(id) + payloadJson + messageTail(extra);
}

/** What precedes the payload in message 1. */
function messageHead(id: string): string {
  return `{"id":${jsonId(id)},"type":"message","payload":`;
}

/** What follows the payload in message 1; ASCII only. */
function messageTail(extra?: MessageExtra): string {
  let s = '';
  if (extra?.resent) s += ',"resent":true';
  if (extra?.queuedNs !== undefined) s += `,"queued_ns":${Math.round(extra.queuedNs)}`;
  if (extra?.clientSendWallNs !== undefined) s += `,"client_send_wall_ns":${Math.round(extra.clientSendWallNs)}`;
  return s + '}';
}

/**
 * encodeMessage's frame as its UTF-8 bytes, written straight into one buffer; `payloadBytes` is the UTF-8 length
 * of `payloadJson`. For a large payload (a camera image): the string encodeMessage builds is flattened and then
 * encoded at the write, a copy of every byte more, 1-1.5 ms per MB on our 2-core machine; an ASCII payload (base64
 * images are) is copied as latin1, which needs no encoding.
 */
export function encodeMessageBytes(id: string, payloadJson: string, payloadBytes: number, extra?: MessageExtra): Buffer {
  const head = messageHead(id);
  const tail = messageTail(extra);
  const headBytes = Buffer.byteLength(head);
  const frame = Buffer.allocUnsafe(headBytes + payloadBytes + tail.length);
  frame.write(head, 0, 'utf8');
  frame.write(payloadJson, headBytes, payloadBytes === payloadJson.length ? 'latin1' : 'utf8');
  frame.write(tail, headBytes + payloadBytes, 'latin1');
  return frame;
}

/** An id as newMessageId makes them: what messageFrameBytes counts when it is given none. */
const UUID_ID = '00000000-0000-4000-8000-000000000000';

/**
 * What encodeMessage adds at most to a payload besides its id, with every optional field at its longest: a wall clock
 * in ns has 19 digits (until 2286), more than MAX_SAFE_INTEGER's 16.
 */
const MESSAGE_FRAME_OVERHEAD =
  Buffer.byteLength(encodeMessage(UUID_ID, '', { resent: true, queuedNs: Number.MAX_SAFE_INTEGER, clientSendWallNs: MAX_WALL_NS })) - jsonId(UUID_ID).length;

/**
 * The most bytes a client's message 1 with id `id` carrying a payload of `payloadBytes` (JSON, UTF-8) can take on the
 * wire. The id counts: one of 128 characters (§2) takes 92 bytes more than a UUID, or hundreds once escaped.
 */
export function messageFrameBytes(payloadBytes: number, id = UUID_ID): number {
  return payloadBytes + MESSAGE_FRAME_OVERHEAD + Buffer.byteLength(jsonId(id));
}

/** encodeAck2's text around a plain id; plainAck2Id reads exactly this back. */
const ACK2_HEAD = '{"id":"';
const ACK2_TAIL = '","type":"ack"}';

/** Encodes ack 2, the server's answer to message 1 (PROTOCOL.md §2). */
export function encodeAck2(id: string): string {
  return PLAIN_ID.test(id) ? ACK2_HEAD + id + ACK2_TAIL : `{"id":${JSON.stringify(id)},"type":"ack"}`;
}

/** What encodeAck2 writes around a plain id, as bytes for plainAck2Id. */
const ACK2_HEAD_BYTES = Buffer.from(ACK2_HEAD);
const ACK2_TAIL_BYTES = Buffer.from(ACK2_TAIL);

/** The bytes PLAIN_ID allows (none needs escaping in JSON, each is one byte in UTF-8). */
const PLAIN_ID_BYTE = new Uint8Array(128);
for (let c = 0; c < PLAIN_ID_BYTE.length; c++) PLAIN_ID_BYTE[c] = PLAIN_ID.test(String.fromCharCode(c)) ? 1 : 0;

/**
 * The id of an ack 2 written exactly as encodeAck2 writes it for a plain id (`{"id":"<id>","type":"ack"}`), read
 * from the bytes; null for anything else (another peer's spacing, escapes, other fields), which then takes the
 * general path to the same result. A one-in-flight client decodes one per round trip: skipping isUtf8 + toString +
 * JSON.parse took ~3.5 us off its RTT p50 at 100 B (paired runs, docs/benchmarks.md).
 */
function plainAck2Id(data: Buffer): string | null {
  const idEnd = data.length - ACK2_TAIL_BYTES.length;
  if (idEnd <= ACK2_HEAD_BYTES.length || idEnd - ACK2_HEAD_BYTES.length > MAX_ID_LENGTH) return null;
  if (data.compare(ACK2_HEAD_BYTES, 0, ACK2_HEAD_BYTES.length, 0, ACK2_HEAD_BYTES.length) !== 0) return null;
  if (data.compare(ACK2_TAIL_BYTES, 0, ACK2_TAIL_BYTES.length, idEnd, data.length) !== 0) return null;
  for (let i = ACK2_HEAD_BYTES.length; i < idEnd; i++) if (PLAIN_ID_BYTE[data[i]] !== 1) return null;
  return data.toString('latin1', ACK2_HEAD_BYTES.length, idEnd);
}

/**
 * Encodes ack 3, the client's answer to ack 2, carrying T1 and, when known, its own turnaround and wall clock
 * (PROTOCOL.md §2, §3).
 */
export function encodeAck3(id: string, t1Ns: number, extra?: { pcNs?: number | undefined; clientRecvWallNs?: number | undefined }): string {
  let s = `{"id":${jsonId(id)},"type":"ack","send_and_ack_time_ns":${Math.round(t1Ns)}`;
  if (extra?.pcNs !== undefined) s += `,"pc_ns":${Math.round(extra.pcNs)}`;
  if (extra?.clientRecvWallNs !== undefined) s += `,"client_recv_wall_ns":${Math.round(extra.clientRecvWallNs)}`;
  return s + '}';
}

/** A hello: a client's (clientId, token) or a server's answer (maxFrameBytes, serverInstance). */
export function encodeHello(clientId?: string | null, token?: string, maxFrameBytes?: number, serverInstance?: string): string {
  const hello: HelloFrame = { type: 'hello', protocol: PROTOCOL_VERSION };
  if (clientId !== undefined && clientId !== null) hello.client_id = clientId;
  if (token !== undefined) hello.token = token;
  if (maxFrameBytes !== undefined) hello.max_frame_bytes = maxFrameBytes;
  if (serverInstance !== undefined) hello.server_instance = serverInstance;
  return JSON.stringify(hello);
}

/**
 * Serialises a payload once; Python-style non-finite numbers are kept. Throws TypeError for what JSON cannot hold
 * and RangeError for a payload nested so deep that its message frame would pass MAX_JSON_DEPTH, which every
 * receiver refuses.
 */
export function encodePayload(payload: unknown): string {
  const json = stringifyJson(payload);
  // A JSON string nests nothing; scanning one would also flatten the quoted copy stringifyJson returns, a copy more.
  if (typeof payload !== 'string' && nestsDeeperThan(json, MAX_JSON_DEPTH - 1)) {
    throw new RangeError(`payload nests arrays/objects deeper than ${MAX_JSON_DEPTH - 1} levels (${MAX_JSON_DEPTH} with its message frame)`);
  }
  return json;
}

/**
 * The UTF-8 length of `json`, which encodePayload made of `payload`. A string's JSON with nothing escaped in it is the
 * string between two quotes: its length is the string's, read without flattening the quoted copy (Buffer.byteLength
 * would, allocating it again).
 */
export function payloadJsonBytes(payload: unknown, json: string): number {
  return typeof payload === 'string' && json.length === payload.length + 2 ? Buffer.byteLength(payload) + 2 : Buffer.byteLength(json);
}
