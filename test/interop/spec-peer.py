#!/usr/bin/env python3
"""
A peer written from PROTOCOL.md alone (stdlib only, WebSocket framing by hand), for test/interop/spec-peer.test.ts.
It checks what another implementation would see of ours, in the spellings such an implementation may use:

  spec-peer.py probe URL        as a client against a server: prints one JSON line per check, {"check", "ok", "detail"}
  spec-peer.py serve SCHEME N   as a server on 127.0.0.1:0 (prints {"url"}), acks N messages in varied spellings and
                                framings, then prints its checks of the client's frames and exits
"""
import asyncio, base64, hashlib, json, os, re, struct, sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 5.0


def report(check, ok, detail=""):
    print(json.dumps({"check": check, "ok": bool(ok), "detail": str(detail)[:300]}), flush=True)
def ws_frame(payload: bytes, opcode=1, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126: hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536: hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else: hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask: return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

async def read_ws_frame(reader):
    h = await reader.readexactly(2)
    fin, opcode = h[0] & 0x80, h[0] & 0x0F
    masked, n = h[1] & 0x80, h[1] & 0x7F
    if n == 126: n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127: n = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4) if masked else None
    data = await reader.readexactly(n)
    if key: data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return bool(fin), opcode, data, bool(masked)

class Conn:
    """One peer connection, tcp (NDJSON) or ws (client side: masks; server side: doesn't)."""
    def __init__(self, reader, writer, ws=False, client=True):
        self.r, self.w, self.ws, self.client = reader, writer, ws, client
        self.frames_meta = []  # (opcode, masked) of received data frames
        self.close_code = None
    @classmethod
    async def open(cls, url, path="/", headers=None, protocols=None):
        scheme, rest = url.split("://", 1)
        hostport = rest.split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        r, w = await asyncio.open_connection(host, int(port))
        c = cls(r, w, ws=scheme == "ws")
        if c.ws:
            key = base64.b64encode(os.urandom(16)).decode()
            req = f"GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            if protocols: req += f"Sec-WebSocket-Protocol: {protocols}\r\n"
            for k, v in (headers or {}).items(): req += f"{k}: {v}\r\n"
            w.write((req + "\r\n").encode()); await w.drain()
            head = await r.readuntil(b"\r\n\r\n")
            c.handshake = head.decode("latin1")
            if " 101 " not in c.handshake.split("\r\n")[0]: raise ConnectionError(c.handshake)
            acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
            assert f"sec-websocket-accept: {acc}".lower() in c.handshake.lower(), c.handshake
        return c
    def raw(self, data: bytes): self.w.write(data)
    async def drain(self): await self.w.drain()
    def send_text(self, text: str, binary=False, nl=None):
        b = text.encode() if isinstance(text, str) else text
        if self.ws: self.w.write(ws_frame(b + (nl or b""), opcode=2 if binary else 1, mask=self.client))
        else: self.w.write(b + (nl or b"\n"))
    def send(self, obj, **kw): self.send_text(json.dumps(obj), **kw)
    async def recv_raw(self, timeout=TIMEOUT):
        """One frame's bytes, or None at close/EOF."""
        async def one():
            if not self.ws:
                line = await self.r.readline()
                return line if line else None
            parts = []
            while True:
                try: fin, op, data, masked = await read_ws_frame(self.r)
                except asyncio.IncompleteReadError: return None
                if op == 8:
                    self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                    return None
                if op == 9: self.w.write(ws_frame(data, 10, mask=self.client)); continue
                if op == 10: continue
                if op in (1, 2): self.frames_meta.append((op, masked))
                parts.append(data)
                if fin: return b"".join(parts)
        return await asyncio.wait_for(one(), timeout)
    async def recv(self, timeout=TIMEOUT):
        raw = await self.recv_raw(timeout)
        return None if raw is None else json.loads(raw)
    async def closed(self, timeout=TIMEOUT):
        """True if the peer closes (EOF / close frame) within timeout; drains frames meanwhile."""
        try:
            while True:
                if await self.recv_raw(timeout) is None: return True
        except (asyncio.TimeoutError,): return False
        except (ConnectionError,): return True
    def close(self):
        try:
            if self.ws: self.w.write(ws_frame(struct.pack("!H", 1000), 8, mask=self.client))
            self.w.close()
        except Exception: pass

class WsServerConn(Conn):
    @classmethod
    async def accept(cls, r, w):
        head = (await r.readuntil(b"\r\n\r\n")).decode("latin1")
        key = [l.split(":", 1)[1].strip() for l in head.split("\r\n") if l.lower().startswith("sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        w.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {acc}\r\n\r\n".encode())
        c = cls(r, w, ws=True, client=False); c.request = head
        return c


async def exchange(c, mid, message_text, t1="1000"):
    """Message 1 as given, reads ack 2, answers with ack 3 (T1 spelled `t1`); returns ack 2 as read."""
    c.send_text(message_text)
    await c.drain()
    ack2 = await c.recv()
    c.send_text('{"id": %s, "type": "ack", "send_and_ack_time_ns": %s}' % (json.dumps(mid), t1))
    await c.drain()
    return ack2


async def probe(url):
    ws = url.startswith("ws")
    c = await Conn.open(url, path="/any/path?q=1" if ws else "/")
    c.send({"type": "hello", "protocol": 1, "client_id": "spec-peer", "unknown_field": [1]})
    await c.drain()
    h = await c.recv()
    report("hello answered with type hello, protocol 1, no id", h.get("type") == "hello" and h.get("protocol") == 1 and "id" not in h, h)
    # Key order, extra fields, Python spacing, an ack 3 with extra fields.
    a = await exchange(c, "k1", '{"payload": {"a": [1, 2]}, "x-extra": null, "type": "message", "id": "k1"}', '1000, "pc_ns": 5, "zz": {}')
    report("keys in any order and unknown fields: ack 2 is {id, type: ack}", a == {"id": "k1", "type": "ack"}, a)
    # Ids that are not uuid4 but valid: escaped and raw non-ASCII, control characters, 128 code points, JSON escapes.
    ids = ["1", " ", "a b", "\u00e9t\u00e9", "a\nb", "\u0000", "\U0001F600" * 128, "x" * 128, '"q"', "a/b", "\\", "\u2028", "\ud800"]
    bad = []
    for mid in ids:
        for ascii_only in (True, False):
            if mid == "\ud800" and not ascii_only:
                continue
            c.send_text(json.dumps({"id": mid, "type": "message", "payload": mid}, ensure_ascii=ascii_only))
            await c.drain()
            raw = await c.recv_raw()
            if json.loads(raw) != {"id": mid, "type": "ack"} or b"\n" in raw.rstrip(b"\n"):
                bad.append((mid[:8], raw[:60]))
            c.send_text(json.dumps({"id": mid, "type": "ack", "send_and_ack_time_ns": 7}))
    a = await exchange(c, "s/1", '{"id": "s\\/1", "type": "message", "payload": 0}')
    report("ids valid by the spec but not uuid4 are acked with the same id, on one line", not bad and a == {"id": "s/1", "type": "ack"}, bad or a)
    # T1 written as JSON integers in other spellings; Python's non-finite numbers and others in payloads.
    for i, t1 in enumerate(["1e3", "1E3", "0"]):
        await exchange(c, "t%d" % i, '{"id": "t%d", "type": "message", "payload": 1}' % i, t1)
    payloads = ["NaN", "Infinity", "-Infinity", "-0.0", "1e400", "12345678901234567890", "0", '""', "{}", "[]", "null", "false"]
    for i, p in enumerate(payloads):
        a = await exchange(c, "p%d" % i, '{"id": "p%d", "type": "message", "payload": %s}' % (i, p))
    report("payloads of every JSON kind, Python's NaN/Infinity included, are acked", a == {"id": "p%d" % (len(payloads) - 1), "type": "ack"}, a)
    # Resends: a seen id is acked again; an ack 3 for an unknown or completed id is ignored and the connection stays.
    a = await exchange(c, "k1", '{"id": "k1", "type": "message", "payload": {"a": [1, 2]}, "resent": true}')
    c.send_text('{"id": "never-sent", "type": "ack", "send_and_ack_time_ns": 5}')
    c.send_text('{"id": "t0", "type": "ack", "send_and_ack_time_ns": 5}')
    a2 = await exchange(c, "r1", '{"id": "r1", "type": "message", "payload": 1, "resent": true}')
    report("a resend of a seen id is acked again, unknown acks 3 are ignored", a == {"id": "k1", "type": "ack"} and a2 == {"id": "r1", "type": "ack"}, (a, a2))
    # Framing: many frames in one write, then every byte in a write of its own, with CRLF and blank lines (tcp) or
    # fragments, a ping between them, binary messages and a trailing newline (ws).
    if ws:
        body = b'{"id": "f0", "type": "message", "payload": "frag"}'
        blob = ws_frame(body[:5], 1, fin=False) + ws_frame(b"hi", 9) + ws_frame(body[5:20], 0, fin=False) + ws_frame(body[20:], 0)
        blob += ws_frame(b'{"id": "f1", "type": "message", "payload": 1}', 2) + ws_frame(b'{"id": "f2", "type": "message", "payload": 2}\r\n')
        blob += b"".join(ws_frame(b'{"id":"f%d","type":"message","payload":%d}' % (i, i)) for i in range(3, 40))
    else:
        blob = b"".join(b'{"id": "f%d", "type": "message", "payload": %d}\r\n\r\n \n' % (i, i) for i in range(40))
    c.raw(blob)
    await c.drain()
    got = [(await c.recv())["id"] for _ in range(40)]
    for i in range(len(blob)):
        c.raw(blob[i:i + 1])
        await c.drain()
    got += [(await c.recv())["id"] for _ in range(40)]
    expected = ["f%d" % i for i in range(40)]
    report("frames in one write and split byte by byte are each acked, in order", got == expected * 2, got)
    if ws:
        report("the server sends unmasked text messages", set(c.frames_meta) == {(1, False)}, set(c.frames_meta))
        c.raw(ws_frame(struct.pack("!H", 1000), 8))
        await c.drain()
        report("a close frame is answered with a close frame", await c.closed() and c.close_code == 1000, c.close_code)
    else:
        c.raw(b'{"id": "eof", "type": "message", "payload": 1}\n')
        await c.drain()
        c.w.write_eof()
        report("a message 1 followed by a half-close is still acked", await c.recv() == {"id": "eof", "type": "ack"})
    c.w.close()


def ack2_spelling(mid, i):
    """Ack 2 as other encoders write it: spacing, key order, extra fields, every character escaped."""
    return [
        '{"id": %s, "type": "ack"}' % json.dumps(mid),
        '{"type":"ack","id":%s}' % json.dumps(mid),
        '{"id": %s, "type": "ack", "server_extra": {"a": [1, NaN]}}' % json.dumps(mid),
        '{"id":"%s","type":"ack"}' % "".join("\\u%04x" % ord(ch) for ch in mid),
        ' { "id" : %s , "type" : "ack" } ' % json.dumps(mid),
    ][i % 5]


async def serve(scheme, count):
    uuid4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    raws = []
    done = asyncio.get_running_loop().create_future()

    async def on(r, w):
        c = await WsServerConn.accept(r, w) if scheme == "ws" else Conn(r, w, client=False)
        ids = []
        try:
            while len(raws) < 1 + 2 * count:
                raw = await c.recv_raw(TIMEOUT)
                if raw is None:
                    break
                raws.append(raw)
                f = json.loads(raw)
                if f["type"] == "hello":
                    c.send_text('{"type": "hello", "protocol": 1}')
                elif f["type"] == "message":
                    ids.append(f["id"])
                    # Half the acks 2 at once, split byte by byte (tcp: with CRLF and blank lines) or as binary,
                    # fragmented messages with a ping inside (ws); the other half in one write at the end.
                    if len(ids) % 2:
                        text = ack2_spelling(f["id"], len(ids)).encode()
                        if scheme == "ws":
                            blob = ws_frame(text[:7], 1, fin=False, mask=False) + ws_frame(b"p", 9, mask=False) + ws_frame(text[7:], 0, mask=False) if len(ids) % 4 == 1 else ws_frame(text + b"\n", 2, mask=False)
                        else:
                            blob = b"\r\n" + text + b"\r\n \n"
                        for i in range(len(blob)):
                            c.raw(blob[i:i + 1])
                            await c.drain()
                    elif len(ids) == count:
                        for i, mid in enumerate(ids):
                            if i % 2:
                                c.send_text(ack2_spelling(mid, i))
                await c.drain()
            meta = c.frames_meta
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as e:
            meta = repr(e)
        if not done.done():
            done.set_result(meta)
        w.close()

    server = await asyncio.start_server(on, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"url": "%s://127.0.0.1:%d%s" % (scheme, port, "/" if scheme == "ws" else "")}), flush=True)
    meta = await asyncio.wait_for(done, 4 * TIMEOUT)
    server.close()
    frames = [json.loads(r) for r in raws]
    report("one frame per line, no raw newline inside", all(b"\n" not in r.rstrip(b"\n") for r in raws))
    report("a client with a client id says hello first: protocol 1, no id", frames[0] == {"type": "hello", "protocol": 1, "client_id": "spec-client"}, frames[0])
    msgs = [f for f in frames if f["type"] == "message"]
    acks = [f for f in frames if f["type"] == "ack"]
    report("message 1 carries a uuid4 id, type and payload", len(msgs) == count and all(uuid4.match(m["id"]) and "payload" in m for m in msgs), msgs[:1])
    report("one ack 3 per message", sorted(a["id"] for a in acks) == sorted(m["id"] for m in msgs), len(acks))
    t1s = [re.search(rb'"send_and_ack_time_ns":\s*([^,}]*)', r).group(1) for r in raws if b'"send_and_ack_time_ns"' in r]
    report("T1 is a JSON integer of digits", len(t1s) == count and all(re.fullmatch(rb"[1-9][0-9]*", t) for t in t1s), t1s[:3])
    if scheme == "ws":
        report("the client sends masked text messages", meta == [(1, True)] * len(raws), meta if isinstance(meta, str) else set(meta))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "probe":
        asyncio.run(probe(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "serve" and sys.argv[2] in ("tcp", "ws"):
        asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
