"""HTTP/3 (ALPN h3, RFC 9114) over decrypted QUIC: requests and responses, cookies, credentials, OAuth2.

The QUIC layer hands each STREAM's bytes over with its stream id and end (`feed_stream`). Request streams
(client-initiated bidirectional: id % 4 == 0) carry HEADERS and DATA frames both ways; unidirectional streams
start with their type: control (SETTINGS, GOAWAY), QPACK encoder and decoder, push. Header blocks are
decoded with pylsqpack (the QPACK decoder of aioquic): one decoder per direction, sized by the other
direction's SETTINGS (SETTINGS_QPACK_MAX_TABLE_CAPACITY, SETTINGS_QPACK_BLOCKED_STREAMS), and fed that
direction's encoder stream; a header block that refers to entries not yet received waits for them.

Memory is bounded: DATA is streamed (sizes, plus up to 64 KB of form/JSON bodies), other frames are buffered
up to MAX_FRAME, at most MAX_STREAMS request streams are followed at once.
"""
from __future__ import annotations

from typing import Any

import pylsqpack

from dissector.events import CLIENT, SERVER, Anomaly, Event, Flow
from dissector.tls.quic import varint as _varint
from dissector_plugins.http import OAuth2Links
from dissector_plugins.http2 import MultiplexedPlugin, StreamExchanges, Tap, request_headers

MAX_FRAME = 1 << 20  # non-DATA frames larger than this are skipped
MAX_STREAMS = 10000  # QUIC streams followed at once, per direction and kind
MAX_PENDING_ENCODER = 1 << 16  # encoder-stream bytes kept until the peer's SETTINGS size the decoder
DATA, HEADERS, SETTINGS, GOAWAY = 0x00, 0x01, 0x04, 0x07
CONTROL, PUSH, QPACK_ENCODER, QPACK_DECODER = 0x00, 0x01, 0x02, 0x03
QPACK_MAX_TABLE_CAPACITY, QPACK_BLOCKED_STREAMS = 0x01, 0x07
SETTING_NAMES = {0x01: "qpack_max_table_capacity", 0x06: "max_field_section_size", 0x07: "qpack_blocked_streams",
                 0x08: "enable_connect_protocol", 0x33: "h3_datagram"}


class _Stream:
    """One direction of one QUIC stream: its unread bytes and where the frame being read stands."""

    __slots__ = ("buf", "kind", "data_left", "skip_left", "done")

    def __init__(self, kind: int | None) -> None:
        self.buf = bytearray()
        self.kind = kind  # unidirectional: its type once read; request streams: -1
        self.data_left = 0  # DATA payload still to come
        self.skip_left = 0  # payload of a frame being skipped (unknown type, or too large)
        self.done = False


class _Decoder:
    """The QPACK state of the header blocks one direction sends."""

    def __init__(self) -> None:
        self.qpack: pylsqpack.Decoder | None = None  # made once the other side's SETTINGS say its size
        self.sized = False  # False: none yet, or a static-table-only one for header blocks before those SETTINGS
        self.pending = bytearray()  # encoder-stream bytes from before that
        self.blocked: dict[int, bytes] = {}  # header blocks waiting for encoder-stream entries, by stream id
        # header blocks that use the dynamic table while no SETTINGS have sized it (they are not in the capture)
        self.unsized: dict[int, bytes] = {}


class H3Connection(StreamExchanges):
    version = "HTTP/3"

    def __init__(self, flow: Flow, links: OAuth2Links, tap: Tap | None = None) -> None:
        super().__init__(flow, links, tap)
        self.buffers: dict[tuple[str, int], _Stream] = {}  # what is read of each QUIC stream, by (direction, id)
        self.decoders = {CLIENT: _Decoder(), SERVER: _Decoder()}
        self.closed: set[str] = set()
        # streams whose header block waits for encoder-stream entries: their DATA so far (bounded), and whether
        # the stream has already ended
        self.waiting: dict[tuple[str, int], bytearray] = {}
        self.ended_waiting: set[tuple[str, int]] = set()

    # -- bytes in ----------------------------------------------------------------------------------------
    def feed(self, direction: str, sid: int, data: bytes, ts: float, fin: bool) -> list[Event]:
        out: list[Event] = []
        st = self.buffers.get((direction, sid))
        if st is None:
            if len(self.buffers) >= 4 * MAX_STREAMS:
                return out
            st = self.buffers[(direction, sid)] = _Stream(-1 if sid % 4 == 0 else None)
        if st.done:
            return out
        st.buf += data
        try:
            self._frames(direction, sid, st, ts, out)
        except IndexError:  # a varint cut at the end of what has come: wait for more
            pass
        except pylsqpack.DecompressionFailed as exc:
            st.done = True
            out.append(Anomaly(ts, self.flow, "http3", "http3_qpack_error", f"header block on stream {sid}: {exc}",
                               direction))
        if fin:
            st.done = True
            self._stream_end(direction, sid, ts, out)
        return out

    def _frames(self, direction: str, sid: int, st: _Stream, ts: float, out: list[Event]) -> None:
        buf = st.buf
        pos = 0
        if st.kind is None:  # a unidirectional stream: its type first
            st.kind, pos = _varint(buf, 0)
            del buf[:pos]
            pos = 0
        if st.kind == QPACK_ENCODER:
            self._encoder_bytes(direction, bytes(buf), ts, out)
            buf.clear()
            return
        if st.kind not in (-1, CONTROL):  # push, QPACK decoder, reserved: nothing to read for us
            buf.clear()
            return
        while pos < len(buf):
            if st.data_left:
                take = min(st.data_left, len(buf) - pos)
                self._body(direction, sid, bytes(buf[pos:pos + take]), ts)
                st.data_left -= take
                pos += take
                continue
            if st.skip_left:
                take = min(st.skip_left, len(buf) - pos)
                st.skip_left -= take
                pos += take
                continue
            start = pos
            try:
                ftype, pos = _varint(buf, pos)
                length, pos = _varint(buf, pos)
            except IndexError:
                pos = start
                break
            if ftype == DATA:
                st.data_left = length
                continue
            if ftype not in (HEADERS, SETTINGS, GOAWAY) or length > MAX_FRAME:
                st.skip_left = length
                continue
            if len(buf) - pos < length:
                pos = start
                break
            payload = bytes(buf[pos:pos + length])
            pos += length
            try:
                if ftype == HEADERS and st.kind == -1:
                    self._header_block(direction, sid, payload, ts, out)
                elif ftype == SETTINGS and st.kind == CONTROL:
                    self._settings(direction, payload, ts, out)
                elif ftype == GOAWAY and st.kind == CONTROL:
                    self.goaway[direction], _ = _varint(payload, 0)
            except IndexError:  # a varint cut inside the frame: the frame is malformed, the stream goes on
                out.append(Anomaly(ts, self.flow, "http3", "http3_malformed_frame",
                                   f"frame type {ftype:#x} on stream {sid} ends inside a field", direction))
        del buf[:pos]

    # -- QPACK -------------------------------------------------------------------------------------------
    def _settings(self, direction: str, payload: bytes, ts: float, out: list[Event]) -> None:
        values: dict[int, int] = {}
        pos = 0
        while pos < len(payload):
            key, pos = _varint(payload, pos)
            values[key], pos = _varint(payload, pos)
        self.settings[direction] = {SETTING_NAMES.get(k, f"unknown_{k:#x}"): v for k, v in values.items()
                                    if k in SETTING_NAMES}
        # this side decodes what the other one sends: the other direction's decoder gets this side's sizes
        dec = self.decoders[SERVER if direction == CLIENT else CLIENT]
        if not dec.sized:  # (a static-only decoder made before held no entries: the encoder could add none yet)
            dec.qpack = pylsqpack.Decoder(values.get(QPACK_MAX_TABLE_CAPACITY, 0), values.get(QPACK_BLOCKED_STREAMS, 0))
            dec.sized = True
            if dec.pending:
                pending, dec.pending = bytes(dec.pending), bytearray()
                self._encoder_bytes(SERVER if direction == CLIENT else CLIENT, pending, ts, out)

    def _encoder_bytes(self, direction: str, data: bytes, ts: float, out: list[Event]) -> None:
        dec = self.decoders[direction]
        if not dec.sized:
            if len(dec.pending) + len(data) <= MAX_PENDING_ENCODER:
                dec.pending += data
            if dec.unsized:
                self._size_from_encoder(direction, ts, out)
            return
        try:
            unblocked = dec.qpack.feed_encoder(data)
        except pylsqpack.EncoderStreamError as exc:
            out.append(Anomaly(ts, self.flow, "http3", "http3_qpack_error", f"encoder stream: {exc}", direction))
            return
        for sid in unblocked:
            block = dec.blocked.pop(sid, None)
            if block is not None:
                self._headers(direction, sid, dec.qpack.resume_header(sid)[1], ts, out)

    def _header_block(self, direction: str, sid: int, block: bytes, ts: float, out: list[Event]) -> None:
        dec = self.decoders[direction]
        if not dec.sized and block[:1] != b"\x00":  # Required Insert Count > 0: the dynamic table, not yet sized
            dec.unsized[sid] = block
            self.waiting[(direction, sid)] = bytearray()
            self._size_from_encoder(direction, ts, out)
            return
        if dec.qpack is None:  # before the peer's SETTINGS the dynamic table is empty: the static table will do
            dec.qpack = pylsqpack.Decoder(0, 0)
        self._decode(direction, sid, block, ts, out)

    def _decode(self, direction: str, sid: int, block: bytes, ts: float, out: list[Event]) -> None:
        dec = self.decoders[direction]
        try:
            _, headers = dec.qpack.feed_header(sid, block)
        except pylsqpack.StreamBlocked:
            dec.blocked[sid] = block
            self.waiting[(direction, sid)] = bytearray()
            return
        self._headers(direction, sid, headers, ts, out)

    def _size_from_encoder(self, direction: str, ts: float, out: list[Event]) -> None:
        """The peer's SETTINGS are not in the capture, yet header blocks use the dynamic table: size the decoder by
        the capacity the encoder stream sets first (Set Dynamic Table Capacity, RFC 9204 4.3.1; encoders set the
        peer's maximum), then read the encoder stream and the blocks that waited."""
        dec = self.decoders[direction]
        capacity = _capacity_instruction(dec.pending)
        if capacity is None:
            return  # (the encoder stream has not come yet)
        dec.qpack, dec.sized = pylsqpack.Decoder(capacity, MAX_STREAMS), True
        pending, dec.pending = bytes(dec.pending), bytearray()
        self._encoder_bytes(direction, pending, ts, out)
        blocks, dec.unsized = dec.unsized, {}
        for sid, block in blocks.items():
            self._decode(direction, sid, block, ts, out)

    # -- exchanges ---------------------------------------------------------------------------------------
    def _headers(self, direction: str, sid: int, raw: list[tuple[bytes, bytes]], ts: float, out: list[Event]) -> None:
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
        if self.tap is not None:
            self.tap(direction, sid, "headers", headers, ts)
        ex = self._stream(sid, ts)
        if ex is not None and direction == CLIENT:
            if ex.method is None:
                request_headers(ex, headers, "HTTP/3")
        elif ex is not None:
            status = next((v for n, v in headers if n == ":status"), None)
            code = int(status) if status and status.isdigit() else 0
            if 100 <= code < 200:
                if len(ex.informational) < 10:
                    ex.informational.append(code)
            elif ex.status is None:
                ex.set_response(ts, code, None, "HTTP/3", [(n, v) for n, v in headers if not n.startswith(":")])
        body = self.waiting.pop((direction, sid), None)  # what came while the header block waited
        if body:
            self._body(direction, sid, bytes(body), ts)
        if (direction, sid) in self.ended_waiting:
            self.ended_waiting.discard((direction, sid))
            self._stream_end(direction, sid, ts, out)

    def _body(self, direction: str, sid: int, data: bytes, ts: float) -> None:
        waiting = self.waiting.get((direction, sid))
        if waiting is not None:
            if len(waiting) < MAX_FRAME:
                waiting += data
            return
        if self.tap is not None:
            self.tap(direction, sid, "data", data, ts)
        ex = self.streams.get(sid)
        if ex is not None:
            (ex.add_request_body if direction == CLIENT else ex.add_response_body)(data)

    def _stream_end(self, direction: str, sid: int, ts: float, out: list[Event]) -> None:
        if (direction, sid) in self.waiting:  # ended before its header block could be read: ends once it is
            self.ended_waiting.add((direction, sid))
        elif sid % 4 == 0:  # a request stream
            self._end_stream(direction, sid, ts, out)

    def close(self, direction: str, ts: float) -> list[Event]:
        """End of the session (per direction): what an unfinished stream has is emitted once both have ended."""
        out: list[Event] = []
        self.closed.add(direction)
        if len(self.closed) == 2:
            for side, dec in self.decoders.items():
                for sid in sorted({*dec.blocked, *dec.unsized}):
                    out.append(Anomaly(ts, self.flow, "http3", "http3_headers_unreadable",
                                       f"the header block on stream {sid} refers to QPACK table entries that are not in "
                                       "the capture (its encoder stream, or the packets that carry it, are missing)",
                                       side))
            self._flush_all(ts, out)
        return out


def _capacity_instruction(data: bytes | bytearray) -> int | None:
    """The capacity of a Set Dynamic Table Capacity instruction (001 and a 5-bit prefix integer) at the start of
    encoder-stream bytes, or None."""
    if not data or data[0] & 0xE0 != 0x20:
        return None
    value = data[0] & 0x1F
    if value < 0x1F:
        return value
    shift = 0
    for byte in data[1:10]:
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value
    return None


class _H3Direction:
    __slots__ = ("conn", "direction")

    def __init__(self, conn: H3Connection, direction: str) -> None:
        self.conn = conn
        self.direction = direction

    def feed(self, data: bytes, ts: float) -> list[Event]:  # bytes without a stream: not QUIC, nothing to read
        return []

    def feed_stream(self, stream: int, data: bytes, ts: float, fin: bool) -> list[Event]:
        return self.conn.feed(self.direction, stream, data, ts, fin)

    def close(self, ts: float) -> list[Event]:
        return self.conn.close(self.direction, ts)


class HTTP3Plugin(MultiplexedPlugin):
    """HTTP/3 requests and responses over QUIC: headers (QPACK, pylsqpack), data sizes, cookies, credentials."""

    name = "http3"
    section = "http"
    connection = H3Connection
    parser = _H3Direction

    def match(self, info: Any) -> float:
        alpn = (info.alpn or "").lower()
        return 1.0 if alpn == "h3" or alpn.startswith("h3-") else -1.0
