/**
 * `npm run bench:frames`: the CPU a large ROS message (a camera image as CDR) costs from its bytes to the frame's
 * bytes on the bridge, and from the frame's bytes to the message on the server, side by side with the plain way
 * (the baseline): the envelope with its base64 as a string through JSON.stringify, the frame built as one string and
 * encoded as UTF-8 at the write, read back with a UTF-8 decode. fastsocket's way: a Base64Json spliced in after
 * JSON.stringify, the frame written straight into one buffer (encodeMessageBytes), an ASCII frame read as latin1.
 * Same envelope, same bytes on the wire (checked). Each step runs `--runs` times after two warm-up runs, in this one
 * process; the table gives CPU ms per run (process.cpuUsage), which holds up on a busy machine where wall time does not.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { Base64Json, decodeFrame, encodeMessage, encodeMessageBytes, encodePayload } from '../src/fastsocket';
import { benchCli, describeMachine, fmt, machine, type Machine, positiveOption, renderTable, type Report } from './bench-kit';

const ID = '6f1c2a52-3b1e-4f7a-9a57-1d2c3b4a5f60';
const SIZES = [64 * 1024, 1024 * 1024, 4 * 1024 * 1024];

interface Row {
  bytes: number;
  /** CPU ms per run of each step, and their sum, for the baseline and for fastsocket. */
  baseline: { encode_ms: number; decode_ms: number };
  fastsocket: { encode_ms: number; decode_ms: number };
}

interface FramesReport extends Report {
  benchmark: 'frames';
  machine: Machine;
  runs: number;
  rows: Row[];
}

/** CPU ms per call of `fn`, over `runs` calls after two warm-up calls. */
function cpuMs(runs: number, fn: () => unknown): number {
  fn();
  fn();
  const start = process.cpuUsage();
  for (let i = 0; i < runs; i++) fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / runs;
}

function envelope(cdr: string | Base64Json): object {
  return { topic: '/camera/image_raw', type: 'sensor_msgs/msg/Image', seq: 1, stamp_ns: 1_764_000_000_000_000_000, cdr };
}

/** The plain way: the base64 as a string, JSON.stringify, one frame string, UTF-8 at the write. */
function baselineFrame(cdr: Buffer): Buffer {
  const json = JSON.stringify(envelope(cdr.toString('base64')));
  return Buffer.from(encodeMessage(ID, json, { queuedNs: 1234 }) + '\n', 'utf8');
}

/** fastsocket's way, as the bridge and its client do it. */
function fastsocketFrame(cdr: Buffer): Buffer {
  const json = encodePayload(envelope(new Base64Json(cdr)));
  const bytes = Buffer.byteLength(json);
  return Buffer.concat([encodeMessageBytes(ID, json, bytes, { queuedNs: 1234 }), Buffer.from('\n')]);
}

/** The plain way back, as a careful receiver does it: check the UTF-8, decode it, JSON.parse, base64 decode. */
function baselineRead(frame: Buffer): Buffer {
  const body = frame.subarray(0, frame.length - 1);
  if (!isUtf8(body)) throw new Error('not UTF-8');
  const m = JSON.parse(body.toString('utf8')) as { payload: { cdr: string } };
  return Buffer.from(m.payload.cdr, 'base64');
}

/** fastsocket's way back: decodeFrame (latin1 for an ASCII frame), base64 decode. */
function fastsocketRead(frame: Buffer): Buffer {
  const m = decodeFrame(frame.subarray(0, frame.length - 1)) as { payload: { cdr: string } };
  return Buffer.from(m.payload.cdr, 'base64');
}

benchCli<FramesReport>({
  name: 'frames',
  usage: '[--runs N]',
  options: { runs: { type: 'string' } },
  async run(values, { progress }) {
    const quick = values.quick === true;
    const runs = Math.round(positiveOption(values, 'runs', quick ? 3 : 30));
    const m = machine();
    const rows: Row[] = [];
    const sizes = quick ? [SIZES[0]] : SIZES;
    for (const [i, bytes] of sizes.entries()) {
      progress(i / sizes.length, `${bytes} B`);
      const cdr = randomBytes(bytes);
      const a = baselineFrame(cdr);
      const b = fastsocketFrame(cdr);
      if (!a.equals(b)) throw new Error(`the two ways wrote different frames for ${bytes} B`);
      if (!baselineRead(a).equals(cdr) || !fastsocketRead(b).equals(cdr)) throw new Error(`a frame of ${bytes} B did not read back`);
      rows.push({
        bytes,
        baseline: { encode_ms: cpuMs(runs, () => baselineFrame(cdr)), decode_ms: cpuMs(runs, () => baselineRead(a)) },
        fastsocket: { encode_ms: cpuMs(runs, () => fastsocketFrame(cdr)), decode_ms: cpuMs(runs, () => fastsocketRead(b)) },
      });
    }
    progress(1, 'done');
    return { benchmark: 'frames', quick, machine: { ...m, loadavg_end: os.loadavg() }, runs, rows };
  },
  render(r) {
    const size = (b: number) => (b >= 1024 * 1024 ? `${b / 1024 / 1024} MiB` : `${b / 1024} KiB`);
    const table = renderTable(
      ['CDR bytes', 'baseline encode ms', 'fastsocket encode ms', 'ratio', 'baseline decode ms', 'fastsocket decode ms', 'ratio'],
      r.rows.map((x) => [
        size(x.bytes),
        fmt(x.baseline.encode_ms, 2), fmt(x.fastsocket.encode_ms, 2), `${fmt(x.fastsocket.encode_ms / x.baseline.encode_ms, 2)}x`,
        fmt(x.baseline.decode_ms, 2), fmt(x.fastsocket.decode_ms, 2), `${fmt(x.fastsocket.decode_ms / x.baseline.decode_ms, 2)}x`,
      ]),
    );
    return [
      `bench:frames: ${describeMachine(r.machine)}; CPU ms per run, ${r.runs} runs after 2 warm-up runs${r.quick ? '; QUICK: not for quoting' : ''}`,
      'encode: CDR bytes -> base64 -> envelope JSON -> message 1 frame bytes (the bridge); decode: frame bytes -> payload -> CDR bytes (the server)',
      'baseline: base64 string + JSON.stringify + frame string + UTF-8 at the write; fastsocket: Base64Json + encodeMessageBytes, latin1 read',
      '',
      table,
    ].join('\n');
  },
});
