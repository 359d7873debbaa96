"""capture/writer.py: files parsed back by hand, and by tshark when it is installed."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess

import pytest

from dissector.capture.writer import TLS_KEYLOG, PcapngWriter, PcapWriter

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

FRAMES = [
    (1700000000.000001, b"\x00" * 60),
    (1700000000.5, bytes(range(256)) * 3),
    (1700000001.9999996, b"\xff" * 61),  # rounds up into the next second
]
KEYLOG = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"  # 176 bytes, not a multiple of 4 + 1


def _pcap(nanosecond: bool = False, snaplen: int = 262144) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=1, nanosecond=nanosecond, snaplen=snaplen)
    for ts, frame in FRAMES:
        w.write(ts, frame)
    assert w.packets == len(FRAMES)
    return buf.getvalue()


def _parse_pcap(data: bytes):
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data, 0)
    off, records = 24, []
    while off < len(data):
        sec, frac, incl, orig = struct.unpack_from("<IIII", data, off)
        records.append((sec, frac, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    assert off == len(data)
    return (magic, major, minor, snaplen, linktype), records


def test_pcap_header_and_records_microseconds():
    (magic, major, minor, snaplen, linktype), records = _parse_pcap(_pcap())
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 262144, 1)
    assert [(r[0], r[1]) for r in records] == [(1700000000, 1), (1700000000, 500000), (1700000002, 0)]
    assert [r[3] for r in records] == [f for _, f in FRAMES]
    assert [r[2] for r in records] == [len(f) for _, f in FRAMES]


def test_pcap_nanoseconds():
    (magic, *_), records = _parse_pcap(_pcap(nanosecond=True))
    assert magic == 0xA1B23C4D
    assert records[1][:2] == (1700000000, 500000000)
    assert all(r[1] < 1_000_000_000 for r in records)


def test_pcap_snaplen_truncates_but_keeps_original_length():
    (*_, snaplen, _), records = _parse_pcap(_pcap(snaplen=64))
    assert snaplen == 64
    assert [len(r[3]) for r in records] == [60, 64, 61]
    assert [r[2] for r in records] == [60, 768, 61]


def _blocks(data: bytes):
    off, out = 0, []
    while off < len(data):
        btype, total = struct.unpack_from("<II", data, off)
        assert total % 4 == 0 and total >= 12
        (trailer,) = struct.unpack_from("<I", data, off + total - 4)
        assert trailer == total
        out.append((btype, data[off + 8:off + total - 4]))
        off += total
    assert off == len(data)
    return out


def _pcapng(secrets: bytes | None = KEYLOG) -> bytes:
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    assert w.add_interface(1, name="lo") == 0
    if secrets is not None:
        w.write_secrets(secrets)
    for ts, frame in FRAMES:
        w.write(ts, frame)
    return buf.getvalue()


def test_pcapng_blocks_by_hand():
    blocks = _blocks(_pcapng())
    assert [b[0] for b in blocks] == [0x0A0D0D0A, 1, 0x0A, 6, 6, 6]
    magic, major, minor, section_len = struct.unpack_from("<IHHq", blocks[0][1])
    assert (magic, major, minor, section_len) == (0x1A2B3C4D, 1, 0, -1)
    linktype, _, snaplen = struct.unpack_from("<HHI", blocks[1][1])
    assert (linktype, snaplen) == (1, 262144)
    assert b"lo" in blocks[1][1][8:]
    stype, slen = struct.unpack_from("<II", blocks[2][1])
    assert (stype, slen) == (TLS_KEYLOG, len(KEYLOG)) and TLS_KEYLOG == 0x544C534B
    assert blocks[2][1][8:8 + slen] == KEYLOG
    assert len(blocks[2][1][8:]) % 4 == 0  # padded
    for (ts, frame), (_, body) in zip(FRAMES, blocks[3:]):
        iface, hi, lo, cap, orig = struct.unpack_from("<IIIII", body)
        assert iface == 0 and cap == orig == len(frame)
        assert body[20:20 + cap] == frame
        assert ((hi << 32) | lo) == round(ts * 1_000_000)


def test_pcapng_adds_an_interface_when_needed_and_checks_ids():
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    w.write(1.0, b"\x00" * 14)
    assert [b[0] for b in _blocks(buf.getvalue())] == [0x0A0D0D0A, 1, 6]
    with pytest.raises(ValueError):
        w.write(1.0, b"\x00" * 14, interface=3)


def test_pcapng_nanosecond_interface():
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    w.add_interface(1, tsresol=9)
    w.write(2.25, b"\x00" * 14)
    body = _blocks(buf.getvalue())[2][1]
    _, hi, lo, _, _ = struct.unpack_from("<IIIII", body)
    assert (hi << 32) | lo == 2_250_000_000


def _tshark_lens(path) -> list[int]:
    out = subprocess.run([TSHARK, "-r", str(path), "-T", "fields", "-e", "frame.len"], capture_output=True,
                         text=True, check=True).stdout
    return [int(x) for x in out.split()]


@needs_tshark
@pytest.mark.parametrize("kind", ["pcap", "pcap-ns", "pcapng", "pcapng-nosecrets"])
def test_tshark_reads_the_files(tmp_path, kind):
    data = {"pcap": _pcap, "pcap-ns": lambda: _pcap(nanosecond=True), "pcapng": _pcapng,
            "pcapng-nosecrets": lambda: _pcapng(None)}[kind]()
    path = tmp_path / f"f.{kind.split('-')[0]}"
    path.write_bytes(data)
    assert _tshark_lens(path) == [len(f) for _, f in FRAMES]
    out = subprocess.run([TSHARK, "-r", str(path), "-T", "fields", "-e", "frame.time_epoch"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert [round(float(x), 6) for x in out] == [1700000000.000001, 1700000000.5, 1700000002.0]
