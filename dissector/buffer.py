"""A cursor over bytes for parsing TLS structures (RFC 8446 section 3 presentation language).

Every pull checks the length first and raises MalformedInput on a short buffer, so a parser built
on it can never index past the end or raise anything but the documented error.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from dissector.errors import MalformedInput

T = TypeVar("T")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class Buffer:
    __slots__ = ("data", "pos", "end", "layer")

    def __init__(self, data: bytes | memoryview, layer: str = "tls", start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end
        self.layer = layer

    def remaining(self) -> int:
        return self.end - self.pos

    def eof(self) -> bool:
        return self.pos >= self.end

    def _need(self, n: int) -> int:
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise MalformedInput(self.layer, "truncated", f"needs {n} bytes, {self.end - pos} left", pos)
        self.pos = pos + n
        return pos

    def pull_u8(self) -> int:
        return self.data[self._need(1)]

    def pull_u16(self) -> int:
        return _U16.unpack_from(self.data, self._need(2))[0]

    def pull_u24(self) -> int:
        p = self._need(3)
        d = self.data
        return (d[p] << 16) | (d[p + 1] << 8) | d[p + 2]

    def pull_u32(self) -> int:
        return _U32.unpack_from(self.data, self._need(4))[0]

    def pull_bytes(self, n: int) -> bytes:
        p = self._need(n)
        return bytes(self.data[p:p + n])

    def pull_varint(self) -> int:
        """A QUIC variable-length integer (RFC 9000 16): 1, 2, 4 or 8 bytes, the length in the first two bits."""
        first = self.pull_u8()
        v = first & 0x3F
        for byte in self.pull_bytes((1 << (first >> 6)) - 1):
            v = (v << 8) | byte
        return v

    def pull_rest(self) -> bytes:
        return self.pull_bytes(self.end - self.pos)

    def pull_opaque(self, length_size: int) -> bytes:
        """opaque x<0..2^(8*length_size)-1>: a length prefix then that many bytes."""
        return self.pull_bytes(self._pull_len(length_size))

    def _pull_len(self, length_size: int) -> int:
        if length_size == 1:
            return self.pull_u8()
        if length_size == 2:
            return self.pull_u16()
        if length_size == 3:
            return self.pull_u24()
        return self.pull_u32()

    @contextmanager
    def pull_block(self, length_size: int) -> Iterator[int]:
        """A length-prefixed block; the body must consume it exactly."""
        n = self._pull_len(length_size)
        if self.pos + n > self.end:
            raise MalformedInput(self.layer, "truncated", f"block of {n} bytes, {self.end - self.pos} left", self.pos)
        outer_end = self.end
        self.end = self.pos + n
        try:
            yield n
            if self.pos != self.end:
                raise MalformedInput(self.layer, "trailing_data", f"{self.end - self.pos} bytes left in block", self.pos)
        finally:
            self.end = outer_end

    def pull_list(self, length_size: int, item: Callable[[], T]) -> list[T]:
        """A length-prefixed vector of items, each pulled by `item`."""
        out: list[T] = []
        with self.pull_block(length_size):
            while self.pos < self.end:
                out.append(item())
        return out
