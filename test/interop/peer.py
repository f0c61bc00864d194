#!/usr/bin/python3
"""Reference fastSocket peer in the style of the ORIGINAL Python implementation (tcp:// only).

Written from ../../../shared/seed/fastSocket-Readme.md and PROTOCOL.md §3, for the interop tests and the protocol
benchmark. Python 3.11 standard library only; run it with /usr/bin/python3.

What it keeps from the original, on purpose, because that is what the wire and the timings look like:
  * asyncio streams; one `readline()` per frame (limit raised to 64 MiB, since asyncio's default of 64 KiB makes
    the original give up on large payloads); every write is `json.dumps(msg) + "\\n"` followed by `await drain()`.
  * ids are uuid4 strings; T1 and T2 come from time.monotonic_ns().
  * the server starts T2 when message 1 ARRIVES (so its estimate is (u+d)/2 + ps/2 - pc/2), and hands the payload
    to its "application" (stdout) only after ack 3, as `latency = T1 - T2/2`.
What it does NOT copy, so that it keeps serving and every message is accounted for:
  * a non-JSON line, a frame of the wrong shape or an ack 3 for an unknown id is reported and skipped instead of
    ending the connection's handler; a line above the limit closes only that connection.
  * falsy payloads (0, "", {}, null, false) are handed over like any other.
  * the client registers an id (and starts T1) before writing message 1, so an ack 2 that overtakes drain() is
    not ignored.
  * completed ids are remembered in a bounded window (for resend dedup), not forever.
  * a hello frame (PROTOCOL.md §4; the original knows none) is reported and ignored, never answered.

CLI (every line on stdout is one JSON object; diagnostics go to stderr):

  peer.py serve [--host 127.0.0.1] [--port 8888] [--quiet] [--read-limit BYTES] [--exit-on-eof]
      First line: {"event":"listening","port":N}. Then, unless --quiet:
        {"event":"message","id":..,"peer":"host:port","duplicate":false,"payload":..}   (after ack 3, as the original)
        {"event":"latency","id":..,"peer":..,"t1_ns":..,"t2_ns":..,"latency_ns":..,"t2_start":"message_arrived"}
        {"event":"bad_frame","peer":..,"reason":..} / {"event":"ack3_unknown","id":..} / {"event":"hello_ignored"}
      On SIGTERM/SIGINT: {"event":"summary","connections":..,"messages":..,"duplicates":..,"latencies":..,
        "ack3_unknown":..,"bad_frames":..,"closed_oversize":..,"peak_rss_kb":..} and exit 0.

  peer.py send --port N [--host 127.0.0.1] [--count N] [--payloads FILE.jsonl | --payload-json JSON |
               --payload-bytes B] [--pipeline [--window W] | --rate HZ] [--timeout S] [--events] [--rtts]
               [--read-limit BYTES]
      Sends --count messages (default: the number of lines of --payloads, else 1000); payloads come from FILE.jsonl
      (one JSON value per line, Python syntax so NaN/Infinity allowed, cycled), a single JSON value, or a string of
      B "x" characters (default 100). Answers every ack 2 with ack 3 carrying T1.
      Default mode is one-in-flight: write message 1, wait for its ack 2, write ack 3, next. --rate HZ paces those
      starts. --pipeline writes all messages back to back (at most W unacknowledged when --window is given) while
      acks are read concurrently.
      With --events, one {"event":"delivered","id":..,"rtt_ns":..} per ack 2. The last line is
        {"event":"summary","sent":..,"delivered":..,"failed":..,"ack2_unknown":..,"rtt_p50_us":..,"rtt_p99_us":..,
         "rtt_mean_us":..,"msgs_per_s":..,"mb_per_s":..,"elapsed_s":..}  (+ "rtt_ns":[...] with --rtts)
      where msgs_per_s = delivered / (last ack 2 - first write). The first connect is retried for up to 5 s.
      Exit 0 if everything was delivered, 1 if not, 2 on a usage error.

  --read-limit BYTES (both modes): the readline() limit, default 64 MiB; 65536 reproduces the original exactly.
  --exit-on-eof (serve): stop, as on SIGTERM, when stdin reaches end of file, so a server spawned with a stdin
      pipe does not outlive a parent that died without cleaning up.
"""

import argparse
import asyncio
import collections
import json
import math
import os
import resource
import signal
import sys
import time
import uuid

READ_LIMIT = 64 * 1024 * 1024
COMPLETED_WINDOW = 65536
MAX_ID_LENGTH = 128
CONNECT_RETRY_S = 5.0


class Out:
    """Writes JSON lines to stdout, flushing once per event-loop turn so bursts cost one syscall, not one each."""

    def __init__(self, loop):
        self._loop = loop
        self._scheduled = False

    def emit(self, obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self):
        self._scheduled = False
        sys.stdout.flush()


def log(msg):
    print(f"peer.py: {msg}", file=sys.stderr, flush=True)


async def write_frame(writer, msg):
    writer.write((json.dumps(msg) + "\n").encode("utf-8"))
    await writer.drain()


def parse_frame(line):
    """Returns (frame dict, None) or (None, reason) for a line the original would have choked on."""
    try:
        # Decoded as UTF-8 explicitly: json.loads on bytes would sniff UTF-16/32 from a stray BOM.
        frame = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        return None, f"invalid_json: {err}"
    if not isinstance(frame, dict):
        return None, "not_object"
    if frame.get("type") == "hello":
        return frame, None
    fid = frame.get("id")
    if not isinstance(fid, str) or not fid or len(fid) > MAX_ID_LENGTH:
        return None, "invalid_id"
    if frame.get("type") not in ("message", "ack"):
        return None, "unknown_type"
    return frame, None


class Server:
    def __init__(self, out, quiet):
        self.out = out
        self.quiet = quiet
        self.completed = collections.OrderedDict()
        self.stats = dict(connections=0, messages=0, duplicates=0, latencies=0, ack3_unknown=0, bad_frames=0,
                          closed_oversize=0)

    def emit(self, obj):
        if not self.quiet:
            self.out.emit(obj)

    async def handle(self, reader, writer):
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        self.stats["connections"] += 1
        # id -> (T2 start, payload, resent): per connection, because only this connection can send its ack 3.
        pending = {}
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:
                    self.stats["closed_oversize"] += 1
                    self.emit({"event": "closed_oversize", "peer": peer})
                    break
                if not line:
                    break
                arrived = time.monotonic_ns()
                if not line.strip():
                    continue
                frame, reason = parse_frame(line)
                if frame is None:
                    self.stats["bad_frames"] += 1
                    self.emit({"event": "bad_frame", "peer": peer, "reason": reason})
                    continue
                ftype = frame["type"]
                if ftype == "hello":
                    self.emit({"event": "hello_ignored", "peer": peer})
                elif ftype == "message":
                    await self.on_message(writer, peer, pending, frame, arrived)
                elif "send_and_ack_time_ns" in frame:
                    self.on_ack3(peer, pending, frame, arrived)
                else:
                    self.stats["bad_frames"] += 1
                    self.emit({"event": "bad_frame", "peer": peer, "reason": "ack_without_time"})
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def on_message(self, writer, peer, pending, frame, arrived):
        fid = frame["id"]
        if fid in pending:
            # A resend of a message still waiting for ack 3: ack it again, keep the first arrival time.
            self.stats["duplicates"] += 1
            self.emit({"event": "duplicate", "id": fid, "peer": peer})
        elif fid in self.completed:
            self.stats["duplicates"] += 1
            self.emit({"event": "duplicate", "id": fid, "peer": peer})
        else:
            # As the original: T2 starts at arrival of message 1, not when ack 2 is written.
            pending[fid] = (arrived, frame.get("payload"), bool(frame.get("resent", False)))
        await write_frame(writer, {"id": fid, "type": "ack"})

    def on_ack3(self, peer, pending, frame, arrived):
        fid = frame["id"]
        t1 = frame["send_and_ack_time_ns"]
        entry = pending.pop(fid, None)
        if entry is None or not isinstance(t1, int) or isinstance(t1, bool):
            self.stats["ack3_unknown"] += 1
            self.emit({"event": "ack3_unknown", "id": fid, "peer": peer})
            return
        start, payload, resent = entry
        self.completed[fid] = True
        if len(self.completed) > COMPLETED_WINDOW:
            self.completed.popitem(last=False)
        t2 = arrived - start
        self.stats["messages"] += 1
        self.stats["latencies"] += 1
        self.emit({"event": "message", "id": fid, "peer": peer, "resent": resent, "payload": payload})
        self.emit({"event": "latency", "id": fid, "peer": peer, "resent": resent, "t1_ns": t1, "t2_ns": t2,
                   "latency_ns": t1 - t2 // 2, "t2_start": "message_arrived"})


async def serve(args):
    loop = asyncio.get_running_loop()
    out = Out(loop)
    server = Server(out, args.quiet)
    srv = await asyncio.start_server(server.handle, args.host, args.port, limit=args.read_limit)
    port = srv.sockets[0].getsockname()[1]
    out.emit({"event": "listening", "port": port})
    out.flush()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    if args.exit_on_eof:
        fd = sys.stdin.fileno()

        def on_stdin():
            if not os.read(fd, 65536):
                loop.remove_reader(fd)
                stop.done() or stop.set_result(None)

        loop.add_reader(fd, on_stdin)
    await stop
    srv.close()
    out.emit({"event": "summary", **server.stats, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
    out.flush()
    return 0


def load_payloads(args):
    if args.payloads:
        with open(args.payloads, "r", encoding="utf-8") as f:
            values = [json.loads(line) for line in f if line.strip()]
        if not values:
            raise ValueError(f"--payloads {args.payloads}: no JSON lines")
        return values
    if args.payload_json is not None:
        return [json.loads(args.payload_json)]
    return ["x" * args.payload_bytes]


async def connect(host, port, limit):
    deadline = time.monotonic() + CONNECT_RETRY_S
    while True:
        try:
            return await asyncio.open_connection(host, port, limit=limit)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.05)


class Client:
    def __init__(self, out, events):
        self.out = out
        self.events = events
        self.inflight = {}  # id -> (T1 start, future or None)
        self.rtts = []
        self.sent = 0
        self.sent_bytes = 0
        self.ack2_unknown = 0
        self.first_write = None
        self.last_ack2 = None
        self.closed = None

    async def send(self, writer, payload, waiter=None):
        fid = str(uuid.uuid4())
        data = (json.dumps({"id": fid, "type": "message", "payload": payload}) + "\n").encode("utf-8")
        # Registered before the write, unlike the original, so a fast ack 2 always finds it.
        start = time.monotonic_ns()
        self.inflight[fid] = (start, waiter)
        if self.first_write is None:
            self.first_write = start
        writer.write(data)
        self.sent += 1
        self.sent_bytes += len(data)
        await writer.drain()

    async def read_acks(self, reader, writer, on_ack=None):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                now = time.monotonic_ns()
                frame, reason = parse_frame(line)
                if frame is None or frame.get("type") != "ack":
                    log(f"ignored frame from server: {reason or frame.get('type')}")
                    continue
                entry = self.inflight.pop(frame["id"], None)
                if entry is None:
                    self.ack2_unknown += 1
                    continue
                start, waiter = entry
                t1 = now - start
                self.last_ack2 = now
                self.rtts.append(t1)
                if self.events:
                    self.out.emit({"event": "delivered", "id": frame["id"], "rtt_ns": t1})
                await write_frame(writer, {"id": frame["id"], "type": "ack", "send_and_ack_time_ns": t1})
                if waiter is not None and not waiter.done():
                    waiter.set_result(t1)
                if on_ack is not None:
                    on_ack()
        except (ConnectionError, OSError, ValueError) as err:
            self.closed = err
        finally:
            for _, waiter in self.inflight.values():
                if waiter is not None and not waiter.done():
                    waiter.set_exception(ConnectionError("connection closed"))


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


async def send(args):
    loop = asyncio.get_running_loop()
    out = Out(loop)
    payloads = args.payload_values
    count = args.count if args.count is not None else (len(payloads) if args.payloads else 1000)
    reader, writer = await connect(args.host, args.port, args.read_limit)
    client = Client(out, args.events)
    window = asyncio.Semaphore(args.window) if args.pipeline and args.window else None
    all_acked = asyncio.Event()
    if count == 0:
        all_acked.set()

    def on_ack():
        if window is not None:
            window.release()
        if len(client.rtts) >= count:
            all_acked.set()

    acks = asyncio.create_task(client.read_acks(reader, writer, on_ack))
    def on_acks_done(_task):
        all_acked.set()
        # The connection is gone: nothing will release the window any more, so stop waiting on it.
        for _ in range(count if window is not None else 0):
            window.release()

    acks.add_done_callback(on_acks_done)
    deadline = loop.time() + args.timeout
    try:
        if args.pipeline:
            for i in range(count):
                if window is not None:
                    await asyncio.wait_for(window.acquire(), deadline - loop.time())
                if acks.done():
                    break
                await client.send(writer, payloads[i % len(payloads)])
        else:
            period = 1.0 / args.rate if args.rate else 0.0
            next_start = loop.time()
            for i in range(count):
                if period:
                    # Pacing, not synchronisation: keeps the requested message rate.
                    await asyncio.sleep(max(0.0, next_start - loop.time()))
                    next_start += period
                waiter = loop.create_future()
                await client.send(writer, payloads[i % len(payloads)], waiter)
                await asyncio.wait_for(waiter, deadline - loop.time())
        await asyncio.wait_for(all_acked.wait(), max(0.0, deadline - loop.time()))
    except (asyncio.TimeoutError, ConnectionError, OSError) as err:
        log(f"stopped early: {type(err).__name__}: {err}")
    # Let the last ack 3 reach the socket before closing, as the original's drain() per write does.
    try:
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    acks.cancel()
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass
    delivered = len(client.rtts)
    rtts = sorted(client.rtts)
    span_s = ((client.last_ack2 - client.first_write) / 1e9) if delivered and client.last_ack2 else 0.0
    summary = {
        "event": "summary",
        "sent": client.sent,
        "delivered": delivered,
        "failed": count - delivered,
        "ack2_unknown": client.ack2_unknown,
        "rtt_p50_us": None if not rtts else percentile(rtts, 50) / 1000,
        "rtt_p99_us": None if not rtts else percentile(rtts, 99) / 1000,
        "rtt_mean_us": None if not rtts else sum(rtts) / len(rtts) / 1000,
        "msgs_per_s": delivered / span_s if span_s > 0 else None,
        "mb_per_s": client.sent_bytes * delivered / max(client.sent, 1) / 1e6 / span_s if span_s > 0 else None,
        "elapsed_s": span_s,
    }
    if args.rtts:
        summary["rtt_ns"] = client.rtts
    out.emit(summary)
    out.flush()
    return 0 if delivered == count else 1


def main(argv):
    parser = argparse.ArgumentParser(prog="peer.py", description="fastSocket reference peer (original Python style)")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8888)
    s.add_argument("--quiet", action="store_true", help="no per-message lines, only listening and summary")
    s.add_argument("--exit-on-eof", action="store_true", help="stop when stdin reaches end of file")
    c = sub.add_parser("send")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--count", type=int)
    src = c.add_mutually_exclusive_group()
    src.add_argument("--payloads", metavar="FILE.jsonl")
    src.add_argument("--payload-json", metavar="JSON")
    src.add_argument("--payload-bytes", type=int, default=100, metavar="B")
    mode = c.add_mutually_exclusive_group()
    mode.add_argument("--pipeline", action="store_true")
    mode.add_argument("--rate", type=float, metavar="HZ")
    c.add_argument("--window", type=int, metavar="W", help="with --pipeline: most unacknowledged messages")
    c.add_argument("--timeout", type=float, default=30.0, metavar="S")
    c.add_argument("--events", action="store_true", help="one line per ack 2")
    c.add_argument("--rtts", action="store_true", help="all RTTs (ns) in the summary")
    for p in (s, c):
        p.add_argument("--read-limit", type=int, default=READ_LIMIT, metavar="BYTES", help="readline() limit")
    args = parser.parse_args(argv)
    if args.read_limit < 1:
        parser.error("--read-limit must be >= 1")
    if args.mode == "send":
        if args.count is not None and args.count < 0:
            parser.error("--count must be >= 0")
        if args.payload_bytes < 0:
            parser.error("--payload-bytes must be >= 0")
        if args.rate is not None and not args.rate > 0:
            parser.error("--rate must be > 0")
        if args.window is not None and args.window < 1:
            parser.error("--window must be >= 1")
        if args.window is not None and not args.pipeline:
            parser.error("--window needs --pipeline")
        if not args.timeout > 0:
            parser.error("--timeout must be > 0")
        try:
            args.payload_values = load_payloads(args)
        except (OSError, ValueError) as err:
            parser.error(f"bad payload: {err}")
    try:
        return asyncio.run(serve(args) if args.mode == "serve" else send(args))
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
