"""Capture-file readers: pcap, pcapng, and either compressed with gzip, xz, bzip2 or zstd, detected by content.

`open_capture(path)` returns a `Capture`: a context manager and an iterator of
`(ts: float, linktype: int, frame)`.  `frame` is a memoryview slice of a read buffer (copy what you keep).

Streaming: the file is read in chunks of `CHUNK` bytes and records are parsed by offset with precompiled
`struct.Struct.unpack_from`; memory is bounded by the chunk size and the largest record (a pcap record over
256 MiB or a pcapng block over 64 MiB is treated as corruption).  A file that ends inside a record, or that
holds a corrupt record, ends the iteration cleanly with `truncated = True` and a one-line `warning`.

Formats:
- pcap: magic a1b2c3d4 (microseconds) and a1b23c4d (nanoseconds), in either byte order.
- pcapng: any number of sections (each in its own byte order), Interface Description Blocks with their own
  link types and the options if_tsresol (power of 10 or of 2) and if_tsoffset; Enhanced Packet Blocks,
  Simple Packet Blocks (interface 0; they carry no timestamp, so they get the previous packet's time, 0.0 if
  none), obsolete Packet Blocks; Decryption Secrets Blocks go to `on_secrets`; other blocks are skipped.
- gzip (1f 8b), including multi-member files, wrapping either of the above; likewise xz, bzip2 and zstd
  (several concatenated streams or frames too).
"""
from __future__ import annotations

import bz2
import lzma
import os
import stat
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, NamedTuple

from dissector.errors import CaptureError

__all__ = ["CHUNK", "Capture", "TLS_KEYLOG", "open_capture"]

CHUNK = 1 << 20
MAX_PCAP_RECORD = 256 << 20
MAX_PCAPNG_BLOCK = 64 << 20

TLS_KEYLOG = 0x544C534B  # pcapng DSB secrets type "TLSK": NSS key log text

# pcapng option codes
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14

_PCAP_MAGICS = {
    # first four bytes of the file -> (byte order, fraction divisor, format name)
    b"\xa1\xb2\xc3\xd4": (">", 1e6, "pcap"),
    b"\xd4\xc3\xb2\xa1": ("<", 1e6, "pcap"),
    b"\xa1\xb2\x3c\x4d": (">", 1e9, "pcap-ns"),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9, "pcap-ns"),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_MAGICS = {b"\x1a\x2b\x3c\x4d": ">", b"\x4d\x3c\x2b\x1a": "<"}
_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_MAGICS = (
    (b"\xa1\xb2\xcd\x34", "a modified (Kuznetzov) pcap file, which is not supported"),
    (b"\x34\xcd\xb2\xa1", "a modified (Kuznetzov) pcap file, which is not supported"),
    (b"\x04\x22\x4d\x18", "lz4-compressed: decompress it first"),
    (b"PK\x03\x04", "a zip archive: extract the capture first"),
)


class _PcapngStructs:
    """The unpack functions of one byte order, built once."""

    __slots__ = ("u32x2", "head", "pb", "idb", "u16x2", "i64", "u32")

    def __init__(self, e: str) -> None:
        self.u32x2 = struct.Struct(e + "II").unpack_from  # block type, block total length / DSB type, length
        # block type, block length, and for an EPB: interface, ts high, ts low, caplen (origlen skipped)
        self.head = struct.Struct(e + "IIIIII4x").unpack_from
        self.pb = struct.Struct(e + "H2xIII4x").unpack_from  # interface, (drops), ts high, ts low, caplen
        self.idb = struct.Struct(e + "H2xI").unpack_from  # linktype, (reserved), snaplen
        self.u16x2 = struct.Struct(e + "HH").unpack_from  # option code, option length
        self.i64 = struct.Struct(e + "q").unpack_from
        self.u32 = struct.Struct(e + "I").unpack_from


_NG_STRUCTS = {"<": _PcapngStructs("<"), ">": _PcapngStructs(">")}


def _describe_start(head: bytes) -> str:
    start = head[:4]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in start) and any(32 < b < 127 for b in start):
        return f"starts with {start.decode('ascii')!r}"
    return "starts with bytes " + start.hex(" ")


class _Codec(NamedTuple):
    name: str
    magic: bytes
    new: Callable[[], Any]
    errors: Callable[[], tuple]  # what the decompressor raises on corrupt data


def _zstd_decompressor() -> Any:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def _zstd_errors() -> tuple:
    import zstandard

    return (zstandard.ZstdError,)


_CODECS = (
    _Codec("gzip", _GZIP_MAGIC, lambda: zlib.decompressobj(31), lambda: (zlib.error,)),
    _Codec("xz", b"\xfd7zXZ\x00", lzma.LZMADecompressor, lambda: (lzma.LZMAError,)),
    _Codec("bzip2", b"BZh", bz2.BZ2Decompressor, lambda: (OSError, ValueError)),
    _Codec("zstd", b"\x28\xb5\x2f\xfd", _zstd_decompressor, _zstd_errors),
)
_ZSTD_INPUT = 1 << 14  # zstd has no output bound per call: small inputs keep each output small


class _Decompressed:
    """A compressed capture: one or more concatenated streams (gzip members, xz streams, zstd frames...),
    decompressed a bounded amount at a time."""

    def __init__(self, read_raw: Callable[[int], bytes], head: bytes, codec: _Codec) -> None:
        self._read_raw = read_raw
        self._pending = head  # compressed bytes already read and not yet fed
        self.codec = codec
        self._errors = codec.errors()
        self._d: Any = codec.new()
        self._fed = False  # has the current stream received any input?
        self.error: str | None = None  # set when the data is corrupt or ends early

    def _input(self, limit: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:limit], self._pending[limit:]
            return data
        return self._read_raw(limit)

    def _step(self, d: Any, n: int) -> bytes | None:
        """Some output (maybe b""), or None when the input is used up."""
        name = self.codec.name
        if name == "gzip":  # zlib keeps what max_length left over in unconsumed_tail
            data = d.unconsumed_tail or self._input(CHUNK)
        elif name == "zstd":
            data = self._input(_ZSTD_INPUT)
        else:  # xz, bzip2 keep what is left over inside, and say when they need more
            if not d.needs_input:
                return d.decompress(b"", n)
            data = self._input(CHUNK)
        if not data:
            return None
        self._fed = True
        return d.decompress(data) if name == "zstd" else d.decompress(data, n)

    def read(self, n: int) -> bytes:
        """Up to about `n` decompressed bytes; b"" only at the end of the data."""
        magic = self.codec.magic
        while self._d is not None:
            d = self._d
            if d.eof:  # another stream follows only if the next bytes are its magic (else: trailing padding)
                rest = d.unused_data + self._pending
                self._pending = b""
                while len(rest) < len(magic):
                    more = self._read_raw(CHUNK)
                    if not more:
                        break
                    rest += more
                if rest.startswith(magic):
                    self._d, self._pending, self._fed = self.codec.new(), rest, False
                    continue
                self._d = None
                break
            try:
                out = self._step(d, n)
            except self._errors as exc:
                self.error = f"corrupt {self.codec.name} data ({exc})"
                self._d = None
                break
            if out is None:
                if self._fed:
                    self.error = f"the {self.codec.name} stream ends early"
                self._d = None
                break
            if out:
                return out
        return b""


class Capture:
    """An open capture file: iterate it for `(ts, linktype, frame)`.

    Attributes: `on_secrets` (callback for pcapng Decryption Secrets Blocks, called inline in file order with
    `(secrets_type, data)`), `packets` (frames yielded so far), `truncated` and `warning` (set when the file
    ends inside a record or holds a corrupt one; iteration then stops without raising), `bytes_read`
    (bytes read from the underlying, possibly compressed, file) and `size` (its size, None when unknown),
    `linktypes` (link types of the file's interfaces), `format` ("pcap", "pcap-ns" or "pcapng"),
    `compressed` and `compression` (gzip, xz, bzip2 or zstd), `name`.
    """

    def __init__(self, f: BinaryIO, name: str, size: int | None, owns_file: bool) -> None:
        self.name = name
        self.size = size
        self.on_secrets: Callable[[int, bytes], None] | None = None
        self.packets = 0
        self.truncated = False
        self.warning: str | None = None
        self.bytes_read = 0
        self.linktypes: set[int] = set()
        self.format = ""
        self.compressed = False
        self.compression = ""  # gzip, xz, bzip2 or zstd
        self._f: BinaryIO | None = f
        self._owns_file = owns_file
        read = getattr(f, "read1", None) or f.read  # read1: return what a pipe has instead of waiting for CHUNK
        self._raw_read: Callable[[int], bytes] = read
        self._read: Callable[[int], bytes] = self._counted_read
        self._unpack: _Decompressed | None = None  # the decompressor, when the file is compressed
        self._read_pos = 0  # stream offset of the next byte to read (decompressed)
        self._nxt = b""  # a chunk read ahead to complete a record crossing the chunk boundary
        self._noff = 0  # where parsing goes on in it
        self._nxt_base = 0  # stream offset of _nxt[0]
        self._gen: Iterator[tuple[float, int, Any]] = iter(())
        self._open()

    # ---- reading ---------------------------------------------------------------------------------------------
    def _counted_read(self, n: int) -> bytes:
        try:
            data = self._raw_read(n)
        except OSError as exc:
            raise CaptureError(f"{self.name}: read error: {exc.strerror or exc}") from None
        self.bytes_read += len(data)
        return data

    def _fill(self, buf: bytes, off: int, need: int) -> bytes:
        """Return buf[off:] followed by more data, at least `need` bytes unless the stream ends (file headers)."""
        rest = buf[off:]
        have = len(rest)
        parts = [rest] if have else []
        read = self._read
        while have < need:
            data = read(max(CHUNK, need - have))
            if not data:
                break
            self._read_pos += len(data)
            parts.append(data)
            have += len(data)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _next(self, buf: bytes, off: int, need: int, base: int) -> tuple[bytes, int, int]:
        """Data to go on with when buf[off:] (at stream offset base + off) holds fewer than `need` bytes.

        Returns (buffer, offset, stream offset of buffer[0]) with at least `need` bytes from offset, unless the
        stream ends.  A record that crosses a chunk boundary comes back alone in a small buffer (its bytes from
        both chunks), and the next call goes on in the new chunk: chunks are never concatenated, which keeps
        the freshly read chunk hot in the CPU cache.
        """
        read = self._read
        while True:  # runs again only after a short read
            tail = len(buf) - off
            nxt, noff = self._nxt, self._noff
            if not tail:
                if noff < len(nxt):
                    buf, off, base = nxt, noff, self._nxt_base
                    self._nxt = b""
                else:
                    base = self._read_pos
                    buf = read(CHUNK)
                    off = 0
                    self._read_pos += len(buf)
                if len(buf) - off >= need or not buf:
                    return buf, off, base
                continue  # a short read (pipe) that does not hold a whole record header
            missing = need - tail
            if noff >= len(nxt):
                nxt = read(max(CHUNK, missing))
                if not nxt:
                    return buf, off, base  # end of stream inside a record
                noff = 0
                self._nxt, self._noff = nxt, 0
                self._nxt_base = self._read_pos
                self._read_pos += len(nxt)
            if len(nxt) - noff >= missing:
                self._noff = noff + missing
                return buf[off:] + nxt[noff:noff + missing], 0, base + off
            # the next chunk does not complete the record (huge record, or short reads): read until it does
            parts = [buf[off:], nxt[noff:]]
            have = tail + len(nxt) - noff
            self._nxt, self._noff = b"", 0
            while have < need:
                data = read(max(CHUNK, need - have))
                if not data:
                    break
                self._read_pos += len(data)
                parts.append(data)
                have += len(data)
            return b"".join(parts), 0, base + off

    def _open(self) -> None:
        head = self._fill(b"", 0, 6)
        codec = next((c for c in _CODECS if head.startswith(c.magic)), None)
        if codec is not None:
            self._unpack = _Decompressed(self._counted_read, head, codec)
            self.compression = codec.name
            self._read = self._unpack.read
            self.compressed = True
            self._read_pos = 0  # offsets in messages are offsets in the decompressed stream
            head = self._fill(b"", 0, 4)
            if self._unpack.error and not head:
                raise CaptureError(f"{self.name}: {self._unpack.error}")
        what = f"{self.compression}-compressed file" if self.compressed else "file"
        if not head:
            raise CaptureError(f"{self.name}: empty {what}, not a capture")
        magic = head[:4]
        if magic in _PCAP_MAGICS:
            e, div, self.format = _PCAP_MAGICS[magic]
            head = self._fill(head, 0, 24)
            if len(head) < 24:
                raise CaptureError(f"{self.name}: truncated pcap file header ({len(head)} of 24 bytes)")
            linktype = struct.unpack_from(e + "I", head, 20)[0] & 0x0FFFFFFF
            self.linktypes.add(linktype)
            self._gen = self._pcap_records(head, 24, e, div, linktype)
        elif magic == _PCAPNG_MAGIC:
            self.format = "pcapng"
            head = self._fill(head, 0, 12)
            if len(head) < 12:
                raise CaptureError(f"{self.name}: truncated pcapng section header ({len(head)} bytes)")
            if head[8:12] not in _BYTE_ORDER_MAGICS:
                raise CaptureError(f"{self.name}: pcapng section header with a bad byte-order magic "
                                   f"({head[8:12].hex(' ')})")
            self._gen = self._pcapng_records(head)
        else:
            for prefix, desc in _OTHER_MAGICS:
                if magic.startswith(prefix):
                    raise CaptureError(f"{self.name}: {desc}")
            raise CaptureError(f"{self.name}: not a pcap or pcapng {what} ({_describe_start(head)})")

    def _stop(self, reason: str) -> None:
        """End of data inside a record or at a corrupt one: iteration ends with a warning."""
        self.truncated = True
        self.warning = f"capture {reason}"

    def _end_of_stream(self, n: int, left: int, pos: int) -> None:
        """Iteration reached the end of the data with `left` bytes of an incomplete record at byte `pos`."""
        self.packets = n
        err = self._unpack.error if self._unpack is not None else None
        if left:
            extra = f"; {err}" if err else ""
            self._stop(f"truncated after {n} packets (last record cut at byte {pos}{extra})")
        elif err:
            self._stop(f"truncated after {n} packets ({err})")

    # ---- pcap ------------------------------------------------------------------------------------------------
    def _pcap_records(self, buf: bytes, off: int, e: str, div: float, linktype: int) -> Iterator[tuple]:
        unpack = struct.Struct(e + "III4x").unpack_from  # seconds, fraction, caplen (origlen skipped)
        advance = self._next
        n = 0
        base = 0  # stream offset of buf[0]
        while True:
            end = len(buf)
            mv = memoryview(buf)
            while True:
                start = off + 16
                if start > end:
                    need = 16
                    break
                sec, frac, caplen = unpack(buf, off)
                stop = start + caplen
                if stop > end:
                    need = 16 + caplen
                    break
                off = stop
                n += 1
                self.packets = n
                yield (sec + frac / div, linktype, mv[start:stop])
            if need - 16 > MAX_PCAP_RECORD:  # a captured length over 256 MiB
                self.packets = n
                self._stop(f"corrupt after {n} packets (pcap record at byte {base + off} claims "
                           f"{need - 16} captured bytes)")
                return
            buf, off, base = advance(buf, off, need, base)
            if len(buf) - off < need:
                self._end_of_stream(n, len(buf) - off, base + off)
                return

    # ---- pcapng ----------------------------------------------------------------------------------------------
    def _pcapng_records(self, buf: bytes) -> Iterator[tuple]:
        advance = self._next
        linktypes = self.linktypes
        s = _NG_STRUCTS[_BYTE_ORDER_MAGICS[buf[8:12]]]
        u32x2 = s.u32x2
        head = s.head
        max_block = MAX_PCAPNG_BLOCK
        # per interface of the current section: (linktype, timestamp units per second, offset in seconds)
        ifaces: list[tuple[int, int, int]] = []
        snaplens: list[int] = []
        n = 0
        base = 0
        off = 0
        ts = 0.0
        btype = boff = 0
        while True:
            end = len(buf)
            mv = memoryview(buf)
            while True:
                # Block literals: 6 EPB, 3 SPB, 2 PB, 1 IDB, 10 DSB, 0x0A0D0D0A SHB (constants are faster than globals).
                if off + 28 <= end:
                    # the block header and, when this is an EPB, its fixed fields, in one call
                    btype, blen, ifid, hi, lo, caplen = head(buf, off)
                elif off + 12 <= end:
                    btype, blen = u32x2(buf, off)
                    caplen = max_block  # no EPB fits here: an EPB that claims to be complete is malformed
                else:
                    need = 12
                    break
                if btype == 0x0A0D0D0A:
                    order = _BYTE_ORDER_MAGICS.get(buf[off + 8:off + 12])
                    if order is None:
                        self.packets = n
                        self._stop(f"corrupt after {n} packets (pcapng section header at byte {base + off} "
                                   "has a bad byte-order magic)")
                        return
                    s = _NG_STRUCTS[order]
                    u32x2 = s.u32x2
                    head = s.head
                    blen = u32x2(buf, off)[1]
                    if blen < 28:
                        self.packets = n
                        self._stop(f"corrupt after {n} packets (pcapng section header at byte {base + off} "
                                   f"has a bad length {blen})")
                        return
                if blen & 3 or blen < 12 or blen > max_block:
                    self.packets = n
                    self._stop(f"corrupt after {n} packets (pcapng block at byte {base + off} "
                               f"has a bad length {blen})")
                    return
                bend = off + blen
                if bend > end:
                    need = blen
                    break
                boff = off
                off = bend
                if btype == 6:  # Enhanced Packet Block
                    if caplen > blen - 32:
                        need = -1
                        break
                    try:
                        linktype, units, tsoff = ifaces[ifid]
                    except IndexError:
                        need = -1
                        break
                    start = boff + 28
                    ts = (hi << 32 | lo) / units + tsoff
                    n += 1
                    self.packets = n
                    yield (ts, linktype, mv[start:start + caplen])
                elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
                    if blen < 16 or not ifaces:
                        need = -1
                        break
                    caplen = min(s.u32(buf, boff + 8)[0], blen - 16)
                    if snaplens[0]:
                        caplen = min(caplen, snaplens[0])
                    start = boff + 12
                    n += 1
                    self.packets = n
                    yield (ts, ifaces[0][0], mv[start:start + caplen])
                elif btype == 2:  # obsolete Packet Block
                    if blen < 32:
                        need = -1
                        break
                    ifid, hi, lo, caplen = s.pb(buf, boff + 8)
                    if caplen > blen - 32 or ifid >= len(ifaces):
                        need = -1
                        break
                    linktype, units, tsoff = ifaces[ifid]
                    start = boff + 28
                    ts = (hi << 32 | lo) / units + tsoff
                    n += 1
                    self.packets = n
                    yield (ts, linktype, mv[start:start + caplen])
                elif btype == 1:  # Interface Description Block
                    if blen < 20:
                        need = -1
                        break
                    linktype, snaplen = s.idb(buf, boff + 8)
                    units = 1_000_000
                    tsoff = 0
                    for code, vstart, vlen in _options(buf, boff + 16, bend - 4, s.u16x2):
                        if code == _OPT_IF_TSRESOL and vlen >= 1:
                            r = buf[vstart]
                            units = 1 << (r & 0x7F) if r & 0x80 else 10 ** r
                        elif code == _OPT_IF_TSOFFSET and vlen >= 8:
                            tsoff = s.i64(buf, vstart)[0]
                    ifaces.append((linktype, units, tsoff))
                    snaplens.append(snaplen)
                    linktypes.add(linktype)
                elif btype == 10:  # Decryption Secrets Block
                    if blen < 20:
                        need = -1
                        break
                    stype, slen = u32x2(buf, boff + 8)
                    if slen > blen - 20:
                        need = -1
                        break
                    callback = self.on_secrets
                    if callback is not None:
                        self.packets = n
                        callback(stype, buf[boff + 16:boff + 16 + slen])
                elif btype == 0x0A0D0D0A:  # a new section: its own interfaces
                    ifaces = []
                    snaplens = []
                # any other block type is skipped
            if need < 0:
                # a block whose contents contradict its length or refer to an undefined interface
                self.packets = n
                self._stop(f"corrupt after {n} packets (malformed pcapng block of type {btype:#x} at byte "
                           f"{base + boff})")
                return
            buf, off, base = advance(buf, off, need, base)
            if len(buf) - off < need:
                self._end_of_stream(n, len(buf) - off, base + off)
                return

    # ---- protocol --------------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[float, int, Any]]:
        # the generator itself, so that `for` loops run without a Python-level __next__ per packet
        return self._gen

    def __next__(self) -> tuple[float, int, Any]:
        return next(self._gen)

    def close(self) -> None:
        f, self._f = self._f, None
        if f is None:
            return
        try:
            self._gen.close()  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass  # not a generator, or closed from inside the iteration (on_secrets)
        if self._owns_file:
            f.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Capture {self.name!r} {self.format}{' ' + self.compression if self.compressed else ''} "
                f"packets={self.packets}{' truncated' if self.truncated else ''}>")


def _options(buf: bytes, off: int, stop: int, u16x2: Callable) -> Iterator[tuple[int, int, int]]:
    """pcapng options between off and stop as (code, value offset, value length); stops at opt_endofopt."""
    while off + 4 <= stop:
        code, length = u16x2(buf, off)
        if code == 0:
            return
        vstart = off + 4
        if vstart + length > stop:
            return  # malformed option list: ignore the rest
        yield code, vstart, length
        off = vstart + ((length + 3) & ~3)


def open_capture(path: str) -> Capture:
    """Open a pcap, pcapng or gzip-compressed capture; `"-"` reads standard input."""
    if path == "-":
        return Capture(sys.stdin.buffer, "<stdin>", None, owns_file=False)
    try:
        f = open(path, "rb", buffering=0)  # closed by Capture.close
    except IsADirectoryError:
        raise CaptureError(f"{path}: is a directory, not a capture file") from None
    except OSError as exc:
        raise CaptureError(f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise CaptureError(f"{path}: is a directory, not a capture file")
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        return Capture(f, path, size, owns_file=True)
    except BaseException:
        f.close()
        raise
