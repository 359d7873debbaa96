"""HTTP/2 (ALPN h2) over decrypted TLS: streams, headers, data sizes, cookies, credentials, OAuth2.

hyper-h2's state machine is built for one endpoint and rejects a passive view (its client role refuses
server frames for streams it did not open), so this plugin uses h2's own building blocks directly:
`hyperframe` parses frames and `hpack` decodes header blocks, with one decoder per direction (each
direction has its own dynamic table). A direction's SETTINGS_HEADER_TABLE_SIZE raises the table size
the other direction's encoder may use.

Memory is bounded: DATA frames are streamed (only their sizes are counted, plus up to 64 KB of form/JSON
bodies), other frames are buffered up to MAX_FRAME, header blocks up to MAX_HEADER_BLOCK.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import hpack
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
)

from dissector.events import CLIENT, SERVER, Anomaly, Event, Flow
from dissector_plugins.http import (
    MAX_EXCHANGES,
    MAX_HEADER_BLOCK,
    Exchange,
    OAuth2Links,
    session_fields,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_FRAME = 1 << 20  # non-DATA frames larger than this are not buffered
MAX_STREAMS = 10000  # open streams tracked at once
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE, GOAWAY, CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x5, 0x7, 0x9
FLAG_END_STREAM, FLAG_END_HEADERS, FLAG_PADDED = 0x1, 0x4, 0x8
ERROR_CODES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
               9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY",
               13: "HTTP_1_1_REQUIRED"}
_HEADER = struct.Struct(">HBBBL")  # 24-bit length as u16 + u8, type, flags, stream id


class _Direction:
    __slots__ = ("name", "buf", "preface", "dead", "data_left", "pad_left", "data_sid", "data_end",
                 "block", "block_sid", "block_end_stream", "block_promised", "decoder")

    def __init__(self, name: str) -> None:
        self.name = name
        self.buf = bytearray()
        self.preface = name == CLIENT
        self.dead = False
        self.data_left = 0  # DATA payload bytes still to come in the current frame
        self.pad_left = 0
        self.data_sid = 0
        self.data_end = False
        self.block: bytearray | None = None  # header block being collected over CONTINUATION frames
        self.block_sid = 0
        self.block_end_stream = False
        self.block_promised: int | None = None
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = MAX_HEADER_BLOCK * 4


# what a connection's `tap` is given (`dissector follow --stream`): (direction, stream id, "headers", "data" or
# "reset", the header list, the bytes or the error code's name, time); an HTTP/2 PUSH_PROMISE's headers come as
# "headers" of the promised stream (the request the server makes up for it)
Tap = Callable[[str, int, str, Any, float], None]


class StreamExchanges:
    """The exchanges of one multiplexed HTTP connection (HTTP/2, HTTP/3): one per request stream, each request
    and response emitted when its side of the stream ends (a response that ends first waits for its request).
    `tap`, when set, is also given each decoded header block and each DATA chunk with its stream."""

    version = "HTTP/2"

    def __init__(self, flow: Flow, links: OAuth2Links, tap: Tap | None = None) -> None:
        self.flow = flow
        self.links = links
        self.tap = tap
        self.streams: dict[int, Exchange] = {}  # open streams
        self.exchanges: list[Exchange] = []
        self.dropped = 0
        self.goaway: dict = {}  # what GOAWAY said
        self.settings: dict[str, dict] = {}  # each side's SETTINGS

    def fields(self) -> dict[str, Any] | None:
        extra: dict[str, Any] = {}
        if self.goaway:
            extra["goaway"] = self.goaway
        if self.settings:
            extra["settings"] = self.settings
        return session_fields(self.version, self.exchanges, self.dropped, self.links, extra or None)

    def _stream(self, sid: int, ts: float) -> Exchange | None:
        ex = self.streams.get(sid)
        if ex is None:
            if len(self.streams) >= MAX_STREAMS:
                return None
            ex = self.streams[sid] = Exchange(sid, ts)
            ex.version = self.version
            if len(self.exchanges) < MAX_EXCHANGES:
                self.exchanges.append(ex)
            else:
                self.dropped += 1
        return ex

    def _end_stream(self, direction: str, sid: int, ts: float, out: list[Event]) -> None:
        ex = self.streams.get(sid)
        if ex is None:
            return
        if direction == CLIENT:
            self._end_request(ex, ts, out)
            if ex.resp_done and not ex.resp_emitted:  # a response that came before the request's end
                ex.finish_response(self.links)
                out.append(ex.response_event(self.flow, ex.resp_ts or ts))
        elif ex.status is not None and not ex.resp_emitted:
            if ex.method is not None and not ex.req_emitted:
                ex.resp_done = True  # answered before the request body ended: emit it after the request
            else:
                ex.finish_response(self.links)
                out.append(ex.response_event(self.flow, ts))
        if ex.req_emitted and (ex.resp_emitted or ex.reset):
            self.streams.pop(sid, None)

    def _end_request(self, ex: Exchange, ts: float, out: list[Event]) -> None:
        if not ex.req_emitted and ex.method is not None:
            ex.finish_request(self.links)
            out.append(ex.request_event(self.flow))

    def _flush(self, ex: Exchange, ts: float, out: list[Event]) -> None:
        """Emit what an unfinished stream has (reset, or the connection ended)."""
        if ex.method is not None and not ex.req_emitted:
            ex.finish_request(self.links)
            ex.req_done = False
            out.append(ex.request_event(self.flow))
        if ex.status is not None and not ex.resp_emitted:
            ex.finish_response(self.links)
            ex.resp_done = False
            out.append(ex.response_event(self.flow, ts))

    def _flush_all(self, ts: float, out: list[Event]) -> None:
        for ex in list(self.streams.values()):
            self._flush(ex, ts, out)
        self.streams.clear()


class H2Connection(StreamExchanges):
    """One HTTP/2 connection read from both directions' bytes (`feed`, `close`)."""

    def __init__(self, flow: Flow, links: OAuth2Links, tap: Tap | None = None) -> None:
        super().__init__(flow, links, tap)
        self.dirs = {CLIENT: _Direction(CLIENT), SERVER: _Direction(SERVER)}

    # -- framing -----------------------------------------------------------------------------------------
    def feed(self, direction: str, data: bytes, ts: float) -> list[Event]:
        d = self.dirs[direction]
        if d.dead:
            return []
        out: list[Event] = []
        buf = d.buf
        buf += data
        if d.preface:
            n = min(len(buf), len(PREFACE))
            if buf[:n] != PREFACE[:n]:
                return self._fail(d, ts, out, "http2_no_preface", "the client did not start with the HTTP/2 preface")
            if n < len(PREFACE):
                return out
            del buf[:len(PREFACE)]
            d.preface = False
        pos = 0
        end = len(buf)
        while pos < end:
            if d.data_left or d.pad_left:  # inside a DATA frame: stream it
                take = min(d.data_left, end - pos)
                if take:
                    ex = self.streams.get(d.data_sid)
                    if ex is not None or self.tap is not None:
                        chunk = bytes(buf[pos:pos + take])
                        if ex is not None:
                            (ex.add_request_body if direction == CLIENT else ex.add_response_body)(chunk)
                        if self.tap is not None:
                            self.tap(direction, d.data_sid, "data", chunk, ts)
                    pos += take
                    d.data_left -= take
                if not d.data_left:
                    skip = min(d.pad_left, end - pos)
                    pos += skip
                    d.pad_left -= skip
                if d.data_left or d.pad_left:
                    break
                if d.data_end:
                    self._end_stream(direction, d.data_sid, ts, out)
                continue
            if end - pos < 9:
                break
            hi, lo, ftype, flags, sid = _HEADER.unpack_from(buf, pos)
            length = hi << 8 | lo
            sid &= 0x7FFFFFFF
            if ftype == DATA:
                pad = 0
                head = 9
                if flags & FLAG_PADDED:
                    if end - pos < 10:
                        break
                    pad = buf[pos + 9]
                    head = 10
                if head - 9 + pad > length:
                    return self._fail(d, ts, out, "http2_frame_error", f"DATA frame on stream {sid}: padding too long")
                pos += head
                d.data_sid, d.data_end = sid, bool(flags & FLAG_END_STREAM)
                d.data_left, d.pad_left = length - (head - 9) - pad, pad
                if not d.data_left and not d.pad_left and d.data_end:
                    self._end_stream(direction, sid, ts, out)
                continue
            if length > MAX_FRAME:
                return self._fail(d, ts, out, "http2_frame_too_large",
                                  f"frame type {ftype} of {length} bytes on stream {sid} (not buffered)")
            if end - pos < 9 + length:
                break
            try:
                frame, _ = Frame.parse_frame_header(memoryview(bytes(buf[pos:pos + 9])))
                frame.parse_body(memoryview(bytes(buf[pos + 9:pos + 9 + length])))
            except (HyperframeError, ValueError) as exc:
                return self._fail(d, ts, out, "http2_frame_error", f"frame type {ftype} on stream {sid}: {exc}")
            pos += 9 + length
            if not self._frame(d, frame, ts, out):
                return out
        del buf[:pos]
        return out

    def _fail(self, d: _Direction, ts: float, out: list[Event], name: str, detail: str) -> list[Event]:
        d.dead = True
        d.buf = bytearray()
        out.append(Anomaly(ts, self.flow, "http2", name, detail + f" (rest of the {d.name} stream not parsed)", d.name))
        return out

    def _frame(self, d: _Direction, frame: Any, ts: float, out: list[Event]) -> bool:
        t = type(frame)
        if d.block is not None and t is not ContinuationFrame:
            self._fail(d, ts, out, "http2_frame_error", f"{t.__name__} inside a header block")
            return False
        if t is HeadersFrame or t is PushPromiseFrame:
            d.block = bytearray(frame.data)
            d.block_sid = frame.stream_id
            d.block_end_stream = "END_STREAM" in frame.flags
            d.block_promised = frame.promised_stream_id if t is PushPromiseFrame else None
            if "END_HEADERS" in frame.flags:
                return self._header_block(d, ts, out)
        elif t is ContinuationFrame:
            if d.block is None or frame.stream_id != d.block_sid:
                self._fail(d, ts, out, "http2_frame_error", f"unexpected CONTINUATION on stream {frame.stream_id}")
                return False
            d.block += frame.data
            if len(d.block) > MAX_HEADER_BLOCK * 4:
                self._fail(d, ts, out, "http2_header_block_too_large", f"header block on stream {d.block_sid}")
                return False
            if "END_HEADERS" in frame.flags:
                return self._header_block(d, ts, out)
        elif t is RstStreamFrame:
            if self.tap is not None:
                self.tap(d.name, frame.stream_id, "reset", ERROR_CODES.get(frame.error_code, frame.error_code), ts)
            ex = self.streams.get(frame.stream_id)
            if ex is not None:
                ex.reset = f"{ERROR_CODES.get(frame.error_code, frame.error_code)} from {d.name}"
                if frame.error_code == 0 and d.name == SERVER and not ex.req_emitted and ex.method is not None:
                    # RFC 9113 8.1: a server that has answered may reset with NO_ERROR before the request body
                    # arrives; the client's DATA frames still follow on the wire, so keep the stream for them
                    return True
                self._flush(ex, ts, out)
                self.streams.pop(frame.stream_id, None)
        elif t is SettingsFrame:
            if "ACK" not in frame.flags:
                self.settings[d.name] = {_setting_name(k): v for k, v in frame.settings.items()}
                size = frame.settings.get(SettingsFrame.HEADER_TABLE_SIZE)
                if size is not None:  # what this side's decoder allows the other side's encoder
                    other = self.dirs[SERVER if d.name == CLIENT else CLIENT].decoder
                    other.max_allowed_table_size = max(other.max_allowed_table_size, size)
        elif t is GoAwayFrame:
            self.goaway = {"from": d.name, "last_stream_id": frame.last_stream_id,
                           "error": ERROR_CODES.get(frame.error_code, str(frame.error_code))}
        return True

    def _header_block(self, d: _Direction, ts: float, out: list[Event]) -> bool:
        block, d.block = d.block, None
        try:
            raw = d.decoder.decode(bytes(block), raw=True)
        except (hpack.HPACKError, ValueError, IndexError) as exc:
            self._fail(d, ts, out, "http2_hpack_error", f"header block on stream {d.block_sid}: {exc}")
            return False
        headers = [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1")) for n, v in raw]
        sid = d.block_sid
        if self.tap is not None:
            self.tap(d.name, d.block_promised if d.block_promised is not None else sid, "headers", headers, ts)
        if d.block_promised is not None:  # PUSH_PROMISE: a request the server makes up for the client
            ex = self._stream(d.block_promised, ts)
            if ex is not None:
                ex.pushed = True
                request_headers(ex, headers)
                self._end_request(ex, ts, out)
            return True
        ex = self._stream(sid, ts)
        if ex is None:
            return True
        if d.name == CLIENT:
            if ex.method is None:
                request_headers(ex, headers)
            # else trailers: nothing more to learn
        else:
            status = next((v for n, v in headers if n == ":status"), None)
            code = int(status) if status and status.isdigit() else 0
            if 100 <= code < 200:
                if len(ex.informational) < 10:
                    ex.informational.append(code)
            elif ex.status is None:
                ex.set_response(ts, code, None, "HTTP/2", [(n, v) for n, v in headers if not n.startswith(":")])
        if d.block_end_stream:
            self._end_stream(d.name, sid, ts, out)
        return True

    def close(self, direction: str, ts: float) -> list[Event]:
        out: list[Event] = []
        d = self.dirs[direction]
        if not d.dead and (d.buf or d.data_left or d.pad_left or d.block is not None):
            out.append(Anomaly(ts, self.flow, "http2", "http2_truncated",
                               "the stream ends inside a frame or a header block", direction))
        d.dead = True
        d.buf = bytearray()
        if all(x.dead for x in self.dirs.values()):
            self._flush_all(ts, out)
        return out



def request_headers(ex: Exchange, headers: list[tuple[str, str]], version: str = "HTTP/2") -> None:
    """A request's header list (pseudo-headers first, as HTTP/2 and HTTP/3 send it) into its exchange."""
    pseudo = {n: v for n, v in headers if n.startswith(":")}
    regular = [(n, v) for n, v in headers if not n.startswith(":")]
    cookies = [v for n, v in regular if n == "cookie"]
    if len(cookies) > 1:  # HTTP/2 and HTTP/3 may split the Cookie header: join it back (RFC 9113 8.2.3)
        regular = [(n, v) for n, v in regular if n != "cookie"] + [("cookie", "; ".join(cookies))]
    method = pseudo.get(":method", "")
    # CONNECT names no path: its target is the authority, as HTTP/1.1's authority-form (RFC 9113 8.5, RFC 9114 4.4)
    target = pseudo.get(":path") or (pseudo.get(":authority", "") if method == "CONNECT" else "")
    ex.set_request(method, target, version, regular)
    ex.scheme = pseudo.get(":scheme")
    if pseudo.get(":authority"):
        ex.host = pseudo[":authority"]


def _setting_name(key: int) -> str:
    names = {1: "header_table_size", 2: "enable_push", 3: "max_concurrent_streams", 4: "initial_window_size",
             5: "max_frame_size", 6: "max_header_list_size", 8: "enable_connect_protocol"}
    return names.get(key, f"unknown_{key:#x}")


class _H2Stream:
    __slots__ = ("conn", "direction")

    def __init__(self, conn: H2Connection, direction: str) -> None:
        self.conn = conn
        self.direction = direction

    def feed(self, data: bytes, ts: float) -> list[Event]:
        return self.conn.feed(self.direction, data, ts)

    def close(self, ts: float) -> list[Event]:
        return self.conn.close(self.direction, ts)


class MultiplexedPlugin:
    """What the HTTP/2 and HTTP/3 plugins share: one connection object per flow (`connection`), both directions'
    parsers (`parser`) on it, its fields at the session's end, OAuth2 steps linked across the capture."""

    connection: Any = None
    parser: Any = None

    def __init__(self) -> None:
        self.links = OAuth2Links()
        self._flows: dict[Flow, Any] = {}

    def new_stream(self, flow: Flow, direction: str) -> Any:
        conn = self._flows.get(flow)
        if conn is None:
            conn = self._flows[flow] = self.connection(flow, self.links)
        return self.parser(conn, direction)

    def on_session_end(self, flow: Flow) -> dict[str, Any] | None:
        conn = self._flows.pop(flow, None)
        return conn.fields() if conn is not None else None


class HTTP2Plugin(MultiplexedPlugin):
    """HTTP/2 streams, headers and data sizes, cookies, credentials and OAuth2 steps (hyperframe + hpack)."""

    name = "http2"
    section = "http"
    connection = H2Connection
    parser = _H2Stream

    def match(self, info: Any) -> float:
        if (info.alpn or "").lower() == "h2":
            return 1.0
        data = info.data
        if data and info.direction == CLIENT and PREFACE.startswith(data[:len(PREFACE)]) and len(data) >= 4:
            return 0.9
        return -1.0
