"""Capture writers: classic pcap and pcapng (with Decryption Secrets Blocks).

Both write little-endian files to an already open binary file object and never close it.
Timestamps are floats in seconds since the epoch, as everywhere in dissector.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

__all__ = ["PcapWriter", "PcapngWriter", "TLS_KEYLOG", "LINKTYPE_ETHERNET", "LINKTYPE_RAW"]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
TLS_KEYLOG = 0x544C534B  # "TLSK": NSS key log text in a Decryption Secrets Block

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
DEFAULT_SNAPLEN = 262144

# pcapng block types and options
BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_EPB = 0x00000006
BT_DSB = 0x0000000A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9

_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
_BLOCK_HEAD = struct.Struct("<II")
_U32 = struct.Struct("<I")


def _split_ts(ts: float, units_per_second: int) -> tuple[int, int]:
    """(seconds, fraction in units) with the rounding carried into the seconds."""
    sec = int(ts // 1)
    frac = round((ts - sec) * units_per_second)
    if frac >= units_per_second:
        sec += 1
        frac -= units_per_second
    return sec, frac


def _pad4(n: int) -> int:
    return -n % 4


class PcapWriter:
    """Classic libpcap file: `PcapWriter(f).write(ts, frame)`."""

    def __init__(self, f: BinaryIO, linktype: int = LINKTYPE_ETHERNET, nanosecond: bool = False,
                 snaplen: int = DEFAULT_SNAPLEN) -> None:
        self._f = f
        self.linktype = linktype
        self.snaplen = snaplen
        self._units = 1_000_000_000 if nanosecond else 1_000_000
        magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
        f.write(_PCAP_HEADER.pack(magic, 2, 4, 0, 0, snaplen, linktype))
        self.packets = 0

    def write(self, ts: float, frame: bytes) -> None:
        sec, frac = _split_ts(ts, self._units)
        caplen = min(len(frame), self.snaplen)
        self._f.write(_PCAP_RECORD.pack(sec, frac, caplen, len(frame)))
        self._f.write(frame[:caplen] if caplen < len(frame) else frame)
        self.packets += 1


class PcapngWriter:
    """pcapng file: one Section Header Block, then interfaces, packets and secrets in call order.

    Wireshark applies a Decryption Secrets Block to the packets that follow it, so write secrets first.
    """

    def __init__(self, f: BinaryIO, application: str | None = "dissector") -> None:
        self._f = f
        self._interfaces: list[tuple[int, int, int]] = []  # (linktype, snaplen, units per second)
        opts = self._options([(SHB_USERAPPL, application.encode())] if application else [])
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts
        self._block(BT_SHB, body)
        self.packets = 0

    # -- blocks ------------------------------------------------------------------------------------
    def _block(self, block_type: int, body: bytes) -> None:
        total = 12 + len(body)
        self._f.write(_BLOCK_HEAD.pack(block_type, total) + body + _U32.pack(total))

    @staticmethod
    def _options(options: list[tuple[int, bytes]]) -> bytes:
        if not options:
            return b""
        out = bytearray()
        for code, value in options:
            out += struct.pack("<HH", code, len(value)) + value + b"\0" * _pad4(len(value))
        out += struct.pack("<HH", OPT_ENDOFOPT, 0)
        return bytes(out)

    def add_interface(self, linktype: int = LINKTYPE_ETHERNET, snaplen: int = DEFAULT_SNAPLEN,
                      name: str | None = None, tsresol: int = 6) -> int:
        """Interface Description Block; returns the interface id for `write`. `tsresol` is a power of ten."""
        options: list[tuple[int, bytes]] = []
        if name:
            options.append((IF_NAME, name.encode()))
        if tsresol != 6:
            options.append((IF_TSRESOL, bytes([tsresol])))
        self._block(BT_IDB, struct.pack("<HHI", linktype, 0, snaplen) + self._options(options))
        self._interfaces.append((linktype, snaplen, 10 ** tsresol))
        return len(self._interfaces) - 1

    def write(self, ts: float, frame: bytes, interface: int = 0) -> None:
        """Enhanced Packet Block. Adds an Ethernet interface first if none was added."""
        if not self._interfaces and interface == 0:
            self.add_interface()
        if not 0 <= interface < len(self._interfaces):
            raise ValueError(f"no interface {interface}: call add_interface() first")
        _, snaplen, units = self._interfaces[interface]
        sec, frac = _split_ts(ts, units)
        t = sec * units + frac
        caplen = min(len(frame), snaplen)
        data = frame[:caplen] if caplen < len(frame) else frame
        head = struct.pack("<IIIII", interface, t >> 32, t & 0xFFFFFFFF, caplen, len(frame))
        self._block(BT_EPB, head + bytes(data) + b"\0" * _pad4(caplen))
        self.packets += 1

    def write_secrets(self, data: bytes, secret_type: int = TLS_KEYLOG) -> None:
        """Decryption Secrets Block (e.g. an NSS key log) for the packets written after it."""
        data = bytes(data)
        self._block(BT_DSB, struct.pack("<II", secret_type, len(data)) + data + b"\0" * _pad4(len(data)))
