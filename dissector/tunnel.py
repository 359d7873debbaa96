"""TLS inside TLS: a client that reaches an HTTPS proxy (TLS to the proxy), asks it for a tunnel with HTTP CONNECT,
and then talks TLS to the origin server through it (curl --proxy https://..., browsers with an HTTPS proxy).

The outer session's decrypted bytes are watched (`TunnelWatch`). Its first client bytes tell how the client talks
to the proxy:

* HTTP/1.1: the client's CONNECT request, the proxy's answer; a 2xx answer opens the tunnel, and every byte after
  it, in each direction, belongs to the one inner session. A refusal (407 Proxy Authentication Required, say) lets
  the client try again on the same connection.
* HTTP/2 (the connection preface; browsers speak it to an HTTPS proxy that offers h2): each CONNECT stream
  (RFC 9113 8.5) is a tunnel of its own, opened by the proxy's 2xx HEADERS, carried in the stream's DATA frames,
  ended by END_STREAM both ways or RST_STREAM (`H2Tunnels`). Every header block is HPACK-decoded to keep the
  decoders' tables in step. A connection whose first request is neither a CONNECT nor a forwarded http:// one
  (`:scheme http`, which browsers also send their HTTPS proxy) is an ordinary HTTP/2 session: the watch ends.

`feed` hands back (tunnel number, direction, bytes) for the inner sessions, bytes None when that tunnel has ended,
and None when this is not (or no longer) a CONNECT exchange: the watch is over. The pipeline reads each tunnel's
bytes with a TLSConnection of its own, on a Flow of its own (`tunnel_flow`). Every buffer is bounded.

The inner session's id is derived from the outer one's, not counted: tunnel n (1, 2...) of outer session i is
n * TUNNEL_ID_BASE + i, so that the processes of a parallel run, which each count every flow but decrypt only
their own, agree on every id.
"""
from __future__ import annotations

from dissector.events import CLIENT, SERVER, Flow

TUNNEL_ID_BASE = 1_000_000_000  # inner session id = tunnel number * this + outer session id
MAX_HEAD = 8192  # bytes of a CONNECT request or of its answer, up to the blank line
MAX_TRIES = 4  # CONNECT requests refused on one connection before the watch gives up
MAX_EARLY = 1 << 20  # client bytes kept while the proxy has not answered a CONNECT yet
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_H2_TUNNELS = 10_000  # CONNECT streams open at once on one connection
MAX_HEADER_BLOCK = 1 << 20  # a header block continued past this is not followed (a frame is at most 16 MB)
# tunnel bytes for the pipeline: (tunnel number, direction, bytes), bytes None when the tunnel has ended
Parts = list[tuple[int, str, bytes | None]]


class TunnelWatch:
    """The decrypted bytes of one outer TLS session, until a CONNECT tunnel opens (or it is clear none will)."""

    __slots__ = ("request", "response", "target", "early", "tries", "open", "h2", "server_first")

    def __init__(self) -> None:
        self.request = b""  # the client's bytes of the request head so far
        self.response = b""  # the proxy's bytes of its answer's head so far
        self.target = ""  # host:port of the CONNECT request, once its head is whole
        self.early = b""  # client bytes after the request head, before the answer: the inner hello, say
        self.tries = 0
        self.open = False
        self.h2: H2Tunnels | None = None  # the client spoke HTTP/2: its tunnels
        self.server_first = b""  # the server's bytes before the client's first: an HTTP/2 server's SETTINGS

    def target_of(self, number: int) -> str:
        return self.h2.target_of(number) if self.h2 is not None else self.target

    def drop(self, number: int) -> bool:
        """Tunnel `number` does not carry TLS: forget it. True when the watch is over (an HTTP/1.1 connection's
        one tunnel)."""
        if self.h2 is None:
            return True
        self.h2.drop(number)
        return False

    def feed(self, direction: str, data: bytes) -> Parts | None:
        """Bytes of one direction: what they carry for the inner sessions, or None when the watch is over."""
        if self.h2 is not None:
            return self.h2.feed(direction, data)
        if self.open:
            return [(1, direction, data)]
        if direction == CLIENT:
            if self.target:  # the request is whole: the client's next bytes wait for the answer
                self.early += data
                return [] if len(self.early) <= MAX_EARLY else None
            self.request += data
            if not b"CONNECT ".startswith(self.request[:8]):
                return self._http2() if not self.tries else None
            end = self.request.find(b"\r\n\r\n")
            if end < 0:
                return [] if len(self.request) <= MAX_HEAD else None
            line = self.request[:self.request.find(b"\r\n")].split(b" ")
            if len(line) != 3:
                return None
            self.target = line[1].decode("ascii", "replace")
            self.early, self.request, self.server_first = self.request[end + 4:], b"", b""
            return []
        if not self.target:
            if self.request or self.tries or not _h2_settings_start(self.server_first + data):
                return [] if self.request or self.tries else None  # (not an answer to anything yet: skipped)
            self.server_first += data  # an HTTP/2 server's first frames may come before the client's preface
            return [] if len(self.server_first) <= MAX_HEAD else None
        self.response += data
        end = self.response.find(b"\r\n\r\n")
        if end < 0:
            return [] if len(self.response) <= MAX_HEAD else None
        status = self.response[:self.response.find(b"\r\n")].split(b" ")
        if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
            return None
        rest, self.response = self.response[end + 4:], b""
        if status[1].startswith(b"2"):
            self.open = True
            out: Parts = [(1, CLIENT, self.early)] if self.early else []
            self.early = b""
            if rest:
                out.append((1, direction, rest))
            return out
        self.tries += 1  # refused: the client may ask again (with credentials) on the same connection
        self.target, self.request, self.early = "", self.early, b""
        return [] if self.tries < MAX_TRIES else None

    def _http2(self) -> Parts | None:
        """The client's first bytes are not a CONNECT request: an HTTP/2 connection preface, or the watch is over."""
        n = min(len(self.request), len(H2_PREFACE))
        if self.request[:n] != H2_PREFACE[:n]:
            return None
        if n < len(H2_PREFACE):
            return []
        self.h2 = H2Tunnels()
        request, server, self.request, self.server_first = self.request, self.server_first, b"", b""
        out = self.h2.feed(SERVER, server) if server else []
        more = self.h2.feed(CLIENT, request[len(H2_PREFACE):]) if out is not None else None
        return None if more is None else out + more


def _h2_settings_start(data: bytes) -> bool:
    """Do these bytes start with an HTTP/2 SETTINGS frame (type 4, stream 0, a multiple of 6 bytes long)?"""
    if len(data) < 9:
        return len(data) < 4 or data[3] == 4
    return data[3] == 4 and not any(data[5:9]) and int.from_bytes(data[:3], "big") % 6 == 0


class _H2Side:
    """What one direction of the HTTP/2 connection has sent: unread bytes, its HPACK state, an unfinished header
    block (HEADERS or PUSH_PROMISE waiting for CONTINUATION)."""

    __slots__ = ("buf", "decoder", "block", "block_sid", "block_end")

    def __init__(self) -> None:
        import hpack  # (only once a client speaks HTTP/2 in a decrypted session: not at start-up)

        self.buf = bytearray()
        self.decoder = hpack.Decoder()
        # the encoder announces its table size in the block (RFC 7541 6.3); the peer's SETTINGS cap it, which the
        # capture may not hold: allow any size HTTP/2 allows
        self.decoder.max_allowed_table_size = 1 << 31
        self.block: bytearray | None = None
        self.block_sid = 0  # the stream the block is for (0: a PUSH_PROMISE's, decoded only to keep HPACK in step)
        self.block_end = False  # the HEADERS frame ended its stream


class _Tunnel:
    __slots__ = ("target", "number", "open", "early", "ended", "delivered")

    def __init__(self, target: str) -> None:
        self.target = target  # host:port the client asked for
        self.number = 0  # counted when the proxy opens it (1, 2...)
        self.open = False  # the proxy answered 2xx
        self.early = bytearray()  # the client's DATA before that answer
        self.ended: set[str] = set()  # the directions that sent END_STREAM
        self.delivered = False  # bytes of it went to the pipeline


class H2Tunnels:
    """The CONNECT streams of one HTTP/2 connection to a proxy (RFC 9113 8.5): each a tunnel."""

    def __init__(self) -> None:
        self.sides = {CLIENT: _H2Side(), SERVER: _H2Side()}
        self.tunnels: dict[int, _Tunnel] = {}  # by stream id, while open
        self.count = 0  # tunnels opened
        # host:port of the tunnels that have carried bytes, until `target_of` asks (the pipeline does at once)
        self.targets: dict[int, str] = {}
        self.proxy = False  # a request has shown this is a proxy's connection

    def target_of(self, number: int) -> str:
        """The host:port of tunnel `number`, asked once, when its inner session starts (then forgotten)."""
        return self.targets.pop(number, "")

    def drop(self, number: int) -> None:
        for sid, t in list(self.tunnels.items()):
            if t.number == number:
                del self.tunnels[sid]
        self.targets.pop(number, None)

    def feed(self, direction: str, data: bytes) -> Parts | None:
        side = self.sides[direction]
        buf = side.buf
        buf += data
        out: Parts = []
        pos, end = 0, len(buf)
        while end - pos >= 9:
            length = int.from_bytes(buf[pos:pos + 3], "big")
            if end - pos - 9 < length:
                break
            ftype, flags = buf[pos + 3], buf[pos + 4]
            sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            payload = bytes(buf[pos + 9:pos + 9 + length])
            pos += 9 + length
            if not self._frame(direction, side, ftype, flags, sid, payload, out):
                return None
        del buf[:pos]
        return out

    def _frame(self, direction: str, side: _H2Side, ftype: int, flags: int, sid: int, payload: bytes,
               out: Parts) -> bool:
        """One frame; False when the connection cannot be followed (an ordinary HTTP/2 session, or HPACK lost)."""
        if side.block is not None and ftype != 9:  # a header block must go on in CONTINUATION frames
            return False
        if ftype == 0:  # DATA
            t = self.tunnels.get(sid)
            if t is not None:
                data = _unpadded(payload, flags)
                if data:
                    if t.open:
                        self._deliver(t, direction, data, out)
                    elif direction == CLIENT and len(t.early) + len(data) <= MAX_EARLY:
                        t.early += data
                if flags & 0x1:
                    self._ended(sid, t, direction, out)
        elif ftype in (1, 5):  # HEADERS, PUSH_PROMISE: a header block, maybe continued
            block = _unpadded(payload, flags)
            if ftype == 1 and flags & 0x20:  # PRIORITY fields
                block = block[5:]
            elif ftype == 5:  # the promised stream id: the block is a request the server makes up
                block, sid = block[4:], 0
            side.block, side.block_sid, side.block_end = bytearray(block), sid, ftype == 1 and bool(flags & 0x1)
            if flags & 0x4:
                return self._header_block(direction, side, out)
        elif ftype == 9:  # CONTINUATION
            if side.block is None or len(side.block) + len(payload) > MAX_HEADER_BLOCK:
                return False
            side.block += payload
            if flags & 0x4:
                return self._header_block(direction, side, out)
        elif ftype == 3:  # RST_STREAM
            t = self.tunnels.pop(sid, None)
            if t is not None and t.open:
                out.append((t.number, direction, None))
        return True

    def _header_block(self, direction: str, side: _H2Side, out: Parts) -> bool:
        block, sid, ended = bytes(side.block or b""), side.block_sid, side.block_end
        side.block = None
        from hpack import HPACKError

        try:
            fields = dict(side.decoder.decode(block, raw=True))
        except HPACKError:
            return False  # the tables are out of step: nothing after this can be read
        if sid == 0:  # (a PUSH_PROMISE)
            return True
        if direction == CLIENT:
            method = fields.get(b":method")
            if not self.proxy:
                # a proxy's connection carries CONNECTs and forwarded http:// requests; the first other request
                # (https, to the server itself) makes it an ordinary HTTP/2 session
                if method != b"CONNECT" and fields.get(b":scheme") != b"http":
                    return False
                self.proxy = True
            # (an extended CONNECT, RFC 8441, names a :protocol such as websocket: not a TCP tunnel)
            if method == b"CONNECT" and b":protocol" not in fields and len(self.tunnels) < MAX_H2_TUNNELS:
                self.tunnels[sid] = _Tunnel(fields.get(b":authority", b"").decode("ascii", "replace"))
            return True
        t = self.tunnels.get(sid)
        if t is None:
            return True
        status = fields.get(b":status", b"")
        if not t.open and status.startswith(b"2"):
            t.open = True
            self.count += 1
            t.number = self.count
            if t.early:
                self._deliver(t, CLIENT, bytes(t.early), out)
                t.early = bytearray()
        elif not t.open and not status.startswith(b"1"):  # refused: no tunnel
            del self.tunnels[sid]
            return True
        if ended:
            self._ended(sid, t, direction, out)
        return True

    def _deliver(self, t: _Tunnel, direction: str, data: bytes, out: Parts) -> None:
        if not t.delivered:
            t.delivered = True
            self.targets[t.number] = t.target
        out.append((t.number, direction, data))

    def _ended(self, sid: int, t: _Tunnel, direction: str, out: Parts) -> None:
        t.ended.add(direction)
        if len(t.ended) == 2:
            del self.tunnels[sid]
            if t.open:
                out.append((t.number, direction, None))


def _unpadded(payload: bytes, flags: int) -> bytes:
    """A DATA, HEADERS or PUSH_PROMISE payload without its padding (the PADDED flag, 0x8)."""
    if not flags & 0x8:
        return payload
    if not payload or payload[0] >= len(payload):
        return b""
    return payload[1:len(payload) - payload[0]]


def tunnel_flow(outer: Flow, ts: float, number: int = 1) -> Flow:
    """The Flow of the session inside tunnel `number` of an outer session: the same TCP endpoints, an id derived
    from the outer's."""
    return Flow(number * TUNNEL_ID_BASE + outer.id, outer.client_ip, outer.client_port, outer.server_ip,
                outer.server_port, ts, outer.ip_version)
