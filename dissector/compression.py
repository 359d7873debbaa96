"""Bounded one-shot decompression of what peers compress: certificates (RFC 8879) and HTTP bodies.

`decompress(name, data, limit)` returns at most `limit` bytes, so a small input that would expand to
gigabytes cannot: callers ask for one byte more than they accept and treat a full result as too large.
Damaged or cut-short data raises ValueError (or the codec library's own error); an unknown name raises
KeyError. brotli and zstandard are imported on first use. (Capture files are decompressed as streams by
dissector.capture.reader instead.)
"""
from __future__ import annotations

import io
import zlib
from collections.abc import Callable


def _inflate(wbits: int) -> Callable[[bytes, int], bytes]:
    def inflate(data: bytes, limit: int) -> bytes:
        d = zlib.decompressobj(wbits)
        out = d.decompress(data, limit)
        if not d.eof and len(out) < limit:
            raise ValueError("the compressed stream is cut short")
        return out
    return inflate


_zlib, _gzip, _raw_deflate = _inflate(15), _inflate(31), _inflate(-15)


def _deflate(data: bytes, limit: int) -> bytes:
    """HTTP's "deflate" is the zlib format (RFC 9110), but some servers send a raw deflate stream."""
    try:
        return _zlib(data, limit)
    except zlib.error:
        return _raw_deflate(data, limit)


def _brotli(data: bytes, limit: int) -> bytes:
    import brotli

    d = brotli.Decompressor()
    out = d.process(data, output_buffer_limit=limit)
    if not d.is_finished() and len(out) < limit:
        raise ValueError("the brotli stream is cut short")
    return out


def _zstd(data: bytes, limit: int) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(limit)


CODECS: dict[str, Callable[[bytes, int], bytes]] = {
    "zlib": _zlib, "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "brotli": _brotli,
    "zstd": _zstd,
}


def decompress(name: str, data: bytes, limit: int) -> bytes:
    """`data` decompressed with codec `name` (a key of CODECS), at most `limit` bytes of it."""
    return CODECS[name](data, limit)
