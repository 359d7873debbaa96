"""TLS record framing for one direction of a stream, with resynchronisation after garbage or gaps.

`RecordReader.feed(data)` appends bytes; `records()` yields complete records as
(content_type, version, body) tuples. A header that cannot be a TLS record raises MalformedInput
once; the reader then scans forward for the next plausible header (Pipeline turns the error into an
Anomaly). An SSLv2-format ClientHello at the very start of the client's stream is reported with
content type SSL2_CLIENT_HELLO.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator

from dissector.errors import MalformedInput

MAX_CIPHERTEXT = (1 << 14) + 2048  # RFC 5246 6.2.3: TLSCiphertext.length limit
SSL2_CLIENT_HELLO = -2  # pseudo content type for an SSLv2-format ClientHello
_HDR = struct.Struct("!BHH")
VALID_TYPES = frozenset((20, 21, 22, 23, 24))


def plausible_header(buf, pos: int) -> bool:
    """Could a TLS record header start at buf[pos]? (5 bytes must be available)."""
    return (buf[pos] in VALID_TYPES and buf[pos + 1] == 3 and buf[pos + 2] <= 4
            and ((buf[pos + 3] << 8) | buf[pos + 4]) <= MAX_CIPHERTEXT)


def looks_like_ssl2_client_hello(buf, pos: int = 0) -> bool:
    """SSLv2 record header (2-byte, high bit set) carrying CLIENT-HELLO with a version 2.0 or 3.x."""
    if len(buf) - pos < 5:
        return False
    return (buf[pos] & 0x80 != 0 and buf[pos + 2] == 1
            and ((buf[pos + 3] == 3 and buf[pos + 4] <= 4) or (buf[pos + 3] == 0 and buf[pos + 4] == 2)))


def looks_like_tls(buf) -> bool:
    """Does a stream starting with `buf` look like TLS (a handshake or alert record, or SSLv2 hello)?"""
    if len(buf) >= 5 and buf[0] in (21, 22) and buf[1] == 3 and buf[2] <= 4:
        return ((buf[3] << 8) | buf[4]) <= MAX_CIPHERTEXT
    return looks_like_ssl2_client_hello(buf)


class RecordReader:
    __slots__ = ("buf", "pos", "first", "resync", "records_read", "max_length")

    def __init__(self, allow_ssl2: bool = True) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.first = allow_ssl2  # only the first record of a stream may be SSLv2
        self.resync = False
        self.records_read = 0
        self.max_length = MAX_CIPHERTEXT

    def feed(self, data: bytes) -> None:
        if self.pos and self.pos == len(self.buf):
            self.buf = bytearray(data)
            self.pos = 0
        else:
            if self.pos > 65536:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += data

    def whole(self, data: bytes) -> list[tuple[int, int, bytes]] | None:
        """The fast path of feed() + records() for the common case, nothing buffered and no resync pending:
        the complete records at the start of `data`, as a list; what follows them (part of a record, or a
        header that `records()` will report) is buffered. None when the case is not the common one: then
        call feed() and records()."""
        if self.pos != len(self.buf) or self.resync or self.first:
            return None
        out = []
        n = len(data)
        pos = 0
        unpack, limit = _HDR.unpack_from, self.max_length
        while n - pos >= 5:
            ctype, version, length = unpack(data, pos)
            end = pos + 5 + length
            if end > n or ctype not in VALID_TYPES or version >> 8 != 3 or length > limit:
                break
            out.append((ctype, version, data[pos + 5:end]))
            pos = end
        self.records_read += len(out)
        if pos < n:
            self.buf = bytearray(data[pos:])
            self.pos = 0
        return out

    def gap(self) -> None:
        """Bytes were lost: drop the partial record and look for the next header."""
        self.buf = bytearray()
        self.pos = 0
        self.resync = True
        self.first = False

    def buffered(self) -> int:
        return len(self.buf) - self.pos

    def records(self) -> Iterator[tuple[int, int, bytes]]:
        buf = self.buf
        end = len(buf)
        unpack = _HDR.unpack_from
        while True:
            pos = self.pos
            if end - pos < 5:
                return
            if self.resync:
                if not self._find_header():
                    return
                pos = self.pos
            if self.first:
                self.first = False
                if looks_like_ssl2_client_hello(buf, pos):
                    n = ((buf[pos] & 0x7F) << 8) | buf[pos + 1]
                    if end - pos < 2 + n:
                        self.first = True
                        return
                    self.pos = pos + 2 + n
                    self.records_read += 1
                    yield SSL2_CLIENT_HELLO, 2, bytes(buf[pos + 2:pos + 2 + n])
                    continue
            ctype, version, length = unpack(buf, pos)
            if ctype not in VALID_TYPES or version >> 8 != 3 or length > self.max_length:
                self.resync = True
                self.pos = pos + 1
                raise MalformedInput("tls", "bad_record_header",
                                     f"type {ctype}, version 0x{version:04x}, length {length}", pos)
            if end - pos < 5 + length:
                return
            self.pos = pos + 5 + length
            self.records_read += 1
            yield ctype, version, bytes(buf[pos + 5:pos + 5 + length])

    def _find_header(self) -> bool:
        """Scan for a plausible header that the next one confirms: a candidate whose record ends exactly at the
        buffer's end is taken; one whose record goes past it waits for the bytes that confirm or refute it (a
        header's 5 bytes turn up by chance in ciphertext, about once in 2 MB, and taking one unconfirmed would cost
        a record or two more after a gap)."""
        buf = self.buf
        end = len(buf)
        pos = self.pos
        while end - pos >= 5:
            if plausible_header(buf, pos):
                nxt = pos + 5 + ((buf[pos + 3] << 8) | buf[pos + 4])
                if nxt == end or (nxt + 5 <= end and plausible_header(buf, nxt)):
                    self.pos = pos
                    self.resync = False
                    return True
                if nxt + 5 > end:
                    self.pos = pos  # wait here for more bytes
                    return False
            pos += 1
        self.pos = pos
        return False
