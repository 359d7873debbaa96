"""Tests for dissector.capture.reader: pcap, pcapng and compressed captures built byte by byte, plus the Wireshark corpus."""
from __future__ import annotations

import gzip
import io
import random
import shutil
import struct
import subprocess
import sys
import tracemalloc
import types
from pathlib import Path

import pytest

from dissector.capture import reader
from dissector.capture.reader import TLS_KEYLOG, open_capture
from dissector.errors import CaptureError

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus" / "wireshark"
CAPTURES = CORPUS / "captures"

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113


# ---- builders ------------------------------------------------------------------------------------------------
def pcap(records, e="<", magic=0xA1B2C3D4, linktype=LINKTYPE_ETHERNET, snaplen=65535):
    """A pcap file: records are (seconds, fraction, data[, origlen])."""
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for sec, frac, data, *orig in records:
        out.append(struct.pack(e + "IIII", sec, frac, len(data), orig[0] if orig else len(data)) + data)
    return b"".join(out)


def pad4(data):
    return data + b"\0" * (-len(data) % 4)


def block(btype, body, e="<"):
    body = pad4(body)
    blen = 12 + len(body)
    return struct.pack(e + "II", btype, blen) + body + struct.pack(e + "I", blen)


def opt(code, value, e="<"):
    return struct.pack(e + "HH", code, len(value)) + pad4(value)


def shb(e="<", options=b""):
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options, e)


def idb(linktype, e="<", snaplen=0, tsresol=None, tsoffset=None):
    options = b""
    if tsresol is not None:
        options += opt(9, bytes([tsresol]), e)
    if tsoffset is not None:
        options += opt(14, struct.pack(e + "q", tsoffset), e)
    if options:
        options += opt(0, b"", e)
    return block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + options, e)


def epb(ifid, t, data, e="<"):
    return block(6, struct.pack(e + "IIIII", ifid, t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data, e)


def pb(ifid, t, data, e="<"):
    return block(2, struct.pack(e + "HHIIII", ifid, 0, t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data, e)


def spb(data, origlen=None, e="<"):
    return block(3, struct.pack(e + "I", len(data) if origlen is None else origlen) + data, e)


def dsb(data, stype=TLS_KEYLOG, e="<"):
    return block(10, struct.pack(e + "II", stype, len(data)) + data, e)


def frame(i, size=60):
    return bytes((i + k) & 0xFF for k in range(size))


def read_all(path, on_secrets=None):
    """[(ts, linktype, bytes)] and the closed Capture."""
    with open_capture(str(path)) as cap:
        cap.on_secrets = on_secrets
        packets = [(ts, lt, bytes(f)) for ts, lt, f in cap]
    return packets, cap


@pytest.fixture
def write(tmp_path):
    counter = iter(range(1_000_000))

    def _write(data, name=None):
        path = tmp_path / (name or f"capture{next(counter)}.bin")
        path.write_bytes(data)
        return path

    return _write


# ---- pcap ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("e", ["<", ">"])
def test_pcap_microseconds_both_byte_orders(write, e):
    data = pcap([(1700000000, 250000, frame(1)), (1700000001, 999999, frame(2, 1514)), (5, 0, b"")], e=e)
    path = write(data)
    packets, cap = read_all(path)
    assert packets == [
        (1700000000.25, LINKTYPE_ETHERNET, frame(1)),
        (1700000001 + 999999 / 1e6, LINKTYPE_ETHERNET, frame(2, 1514)),
        (5.0, LINKTYPE_ETHERNET, b""),
    ]
    assert cap.format == "pcap" and not cap.compressed
    assert cap.packets == 3
    assert cap.truncated is False and cap.warning is None
    assert cap.linktypes == {LINKTYPE_ETHERNET}
    assert cap.size == len(data) == cap.bytes_read


@pytest.mark.parametrize("e", ["<", ">"])
def test_pcap_nanoseconds_both_byte_orders(write, e):
    data = pcap([(1700000000, 123456789, frame(1)), (1700000000, 999999999, frame(2))], e=e, magic=0xA1B23C4D,
                linktype=LINKTYPE_RAW)
    packets, cap = read_all(write(data))
    assert [p[0] for p in packets] == [1700000000 + 123456789 / 1e9, 1700000000 + 999999999 / 1e9]
    assert packets[0][0] == pytest.approx(1700000000.123456789, abs=1e-6)
    assert {p[1] for p in packets} == {LINKTYPE_RAW}
    assert cap.format == "pcap-ns"


def test_pcap_magic_bytes_on_disk():
    # the four magics as they appear in files, whatever our builder does
    assert pcap([], e=">")[:4] == bytes.fromhex("a1b2c3d4")
    assert pcap([], e="<")[:4] == bytes.fromhex("d4c3b2a1")
    assert pcap([], e=">", magic=0xA1B23C4D)[:4] == bytes.fromhex("a1b23c4d")
    assert pcap([], e="<", magic=0xA1B23C4D)[:4] == bytes.fromhex("4d3cb2a1")


def test_pcap_linktype_fcs_bits_are_masked(write):
    packets, cap = read_all(write(pcap([(1, 0, b"x")], linktype=0x1000_0000 | LINKTYPE_ETHERNET)))
    assert packets[0][1] == LINKTYPE_ETHERNET
    assert cap.linktypes == {LINKTYPE_ETHERNET}


def test_pcap_header_only_is_an_empty_capture(write):
    packets, cap = read_all(write(pcap([])))
    assert packets == [] and cap.packets == 0 and not cap.truncated


def test_frames_are_views_of_the_read_buffer(write):
    with open_capture(str(write(pcap([(1, 0, frame(1))])))) as cap:
        ts, lt, f = next(cap)
        assert isinstance(f, (bytes, memoryview))
        assert bytes(f) == frame(1)
        with pytest.raises(StopIteration):
            next(cap)


# ---- pcapng --------------------------------------------------------------------------------------------------
def test_pcapng_two_interfaces_with_different_link_types(write):
    data = (shb() + idb(LINKTYPE_ETHERNET) + idb(LINKTYPE_LINUX_SLL)
            + epb(0, 1_700_000_000_000_001, frame(1))
            + epb(1, 1_700_000_000_500_000, frame(2, 33))
            + epb(0, 1_700_000_001_000_000, frame(3, 1)))
    packets, cap = read_all(write(data))
    assert packets == [
        (1_700_000_000_000_001 / 1e6, LINKTYPE_ETHERNET, frame(1)),
        (1700000000.5, LINKTYPE_LINUX_SLL, frame(2, 33)),  # padding is not part of the frame
        (1700000001.0, LINKTYPE_ETHERNET, frame(3, 1)),
    ]
    assert cap.format == "pcapng"
    assert cap.linktypes == {LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL}
    assert cap.packets == 3 and not cap.truncated and cap.warning is None


@pytest.mark.parametrize("e", ["<", ">"])
def test_pcapng_if_tsresol_and_tsoffset(write, e):
    data = (shb(e) + idb(1, e, tsresol=9) + idb(1, e, tsresol=0x80 | 10) + idb(1, e, tsresol=3, tsoffset=1000)
            + idb(1, e, tsoffset=-7)
            + epb(0, 1_700_000_000_123_456_789, b"a", e)   # nanoseconds
            + epb(1, 1_700_000_000 * 1024 + 512, b"b", e)  # 1/1024 s
            + epb(2, 1_700_000_000_250, b"c", e)           # milliseconds, + 1000 s
            + epb(3, 1_700_000_000_000_000, b"d", e))      # microseconds (default), - 7 s
    packets, _ = read_all(write(data))
    assert [p[0] for p in packets] == [
        1_700_000_000_123_456_789 / 10**9,
        1700000000.5,
        1700001000.25,
        1699999993.0,
    ]
    assert packets[0][0] == pytest.approx(1700000000.123456789, abs=1e-6)


def test_pcapng_big_endian_and_several_sections(write):
    # section 1 (big endian): interface 0 is Ethernet; section 2 (little endian): interface 0 is Linux SLL
    data = (shb(">") + idb(LINKTYPE_ETHERNET, ">") + epb(0, 1_000_000, b"first", ">")
            + shb("<") + idb(LINKTYPE_LINUX_SLL, "<") + epb(0, 2_000_000, b"second", "<"))
    packets, cap = read_all(write(data))
    assert packets == [(1.0, LINKTYPE_ETHERNET, b"first"), (2.0, LINKTYPE_LINUX_SLL, b"second")]
    assert cap.linktypes == {LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL}


def test_pcapng_interfaces_belong_to_their_section(write):
    # interface 1 exists in section 1 only: using it in section 2 is corrupt
    data = (shb() + idb(1) + idb(113) + epb(1, 0, b"ok")
            + shb() + idb(1) + epb(1, 0, b"undefined interface"))
    packets, cap = read_all(write(data))
    assert [p[2] for p in packets] == [b"ok"]
    assert cap.truncated and "corrupt after 1 packets" in cap.warning


def test_pcapng_decryption_secrets_block_calls_on_secrets_in_order(write):
    keylog1 = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    keylog2 = b"SERVER_HANDSHAKE_TRAFFIC_SECRET 01 02\n"  # odd length: padded on disk, not in the callback
    data = (shb() + idb(1) + epb(0, 1, b"p1") + dsb(keylog1) + epb(0, 2, b"p2")
            + dsb(keylog2) + dsb(b"\x01\x02\x03", stype=0x57474B4C) + epb(0, 3, b"p3"))
    events = []
    with open_capture(str(write(data))) as cap:
        cap.on_secrets = lambda stype, secret: events.append(("secrets", stype, secret, cap.packets))
        for _, _, f in cap:
            events.append(("packet", bytes(f)))
    assert events == [
        ("packet", b"p1"),
        ("secrets", TLS_KEYLOG, keylog1, 1),
        ("packet", b"p2"),
        ("secrets", TLS_KEYLOG, keylog2, 2),
        ("secrets", 0x57474B4C, b"\x01\x02\x03", 2),
        ("packet", b"p3"),
    ]
    assert all(type(ev[2]) is bytes for ev in events if ev[0] == "secrets")


def test_pcapng_secrets_without_callback_are_skipped(write):
    packets, cap = read_all(write(shb() + idb(1) + dsb(b"CLIENT_RANDOM x y\n") + epb(0, 0, b"p")))
    assert [p[2] for p in packets] == [b"p"] and not cap.truncated


def test_pcapng_simple_packet_block(write):
    # SPB: interface 0, frame length = min(original length, block data, snaplen), time of the previous packet
    data = (shb() + idb(LINKTYPE_RAW, snaplen=4) + idb(LINKTYPE_ETHERNET)
            + spb(b"abc")                    # before any timestamp: 0.0
            + epb(1, 5_000_000, b"e")
            + spb(b"abcdef")                 # cut to snaplen 4
            + spb(b"xy\0\0", origlen=2))     # original length shorter than the block data
    packets, cap = read_all(write(data))
    assert packets == [
        (0.0, LINKTYPE_RAW, b"abc"),
        (5.0, LINKTYPE_ETHERNET, b"e"),
        (5.0, LINKTYPE_RAW, b"abcd"),
        (5.0, LINKTYPE_RAW, b"xy"),
    ]
    assert not cap.truncated


def test_pcapng_obsolete_packet_block(write):
    data = shb() + idb(113) + idb(1, tsresol=9) + pb(1, 3_500_000_000, b"old") + pb(0, 1_000_000, b"sll")
    packets, _ = read_all(write(data))
    assert packets == [(3.5, 1, b"old"), (1.0, 113, b"sll")]


def test_pcapng_unknown_blocks_are_skipped(write):
    isb = block(5, struct.pack("<III", 0, 0, 0))
    custom = block(0x00000BAD, struct.pack("<I", 32473) + b"vendor data")
    nrb = block(4, b"\0" * 4)
    data = shb(options=opt(4, b"test app") + opt(0, b"")) + isb + idb(1) + custom + epb(0, 0, b"p") + nrb
    packets, cap = read_all(write(data))
    assert [p[2] for p in packets] == [b"p"] and not cap.truncated


# ---- gzip ----------------------------------------------------------------------------------------------------
def test_gzip_is_detected_by_content_not_by_name(write):
    data = shb() + idb(1) + b"".join(epb(0, i * 1000, frame(i, 100 + i)) for i in range(50))
    plain, plain_cap = read_all(write(data, "plain.pcapng"))
    compressed = gzip.compress(data)
    packets, cap = read_all(write(compressed, "misleading-name.pcap"))  # no .gz suffix
    assert packets == plain and len(packets) == 50
    assert cap.compressed and cap.format == "pcapng"
    assert cap.bytes_read == cap.size == len(compressed)
    assert not cap.truncated and cap.warning is None


def test_gzip_pcap_with_several_members(write):
    data = pcap([(i, i, frame(i)) for i in range(20)], e=">")
    two_members = gzip.compress(data[:500]) + gzip.compress(data[500:])
    packets, cap = read_all(write(two_members, "x.gz"))
    expected, _ = read_all(write(data))
    assert packets == expected and cap.compressed


def test_gzip_truncated_stream_ends_with_a_warning(write):
    data = pcap([(i, 0, frame(i, 500)) for i in range(200)])
    compressed = gzip.compress(data, compresslevel=1)
    packets, cap = read_all(write(compressed[: len(compressed) // 2]))
    assert 0 < len(packets) < 200
    assert cap.truncated and cap.warning.startswith(f"capture truncated after {len(packets)} packets")
    assert packets == read_all(write(data))[0][: len(packets)]


def test_gzip_that_is_not_a_capture(write):
    with pytest.raises(CaptureError, match=r"not a pcap or pcapng gzip-compressed file \(starts with 'hell'\)"):
        open_capture(str(write(gzip.compress(b"hello world"))))
    with pytest.raises(CaptureError, match="gzip"):
        open_capture(str(write(b"\x1f\x8b" + b"\xff" * 30)))
    with pytest.raises(CaptureError, match="empty gzip-compressed file"):
        open_capture(str(write(gzip.compress(b""))))


# ---- xz, bzip2, zstd -----------------------------------------------------------------------------------------
def _compressors():
    import bz2
    import lzma

    import zstandard

    # (the zstd command line writes a checksum by default: damage is then detected, as with the others)
    return {"xz": lzma.compress, "bzip2": bz2.compress,
            "zstd": lambda d: zstandard.ZstdCompressor(write_checksum=True).compress(d)}


@pytest.mark.parametrize("codec", ["xz", "bzip2", "zstd"])
def test_other_compressions_are_read_like_gzip(write, codec):
    compress = _compressors()[codec]
    data = shb() + idb(1) + b"".join(epb(0, i * 1000, frame(i, 100 + i)) for i in range(50))
    plain, _ = read_all(write(data, "plain.pcapng"))
    packets, cap = read_all(write(compress(data), "no-suffix"))
    assert packets == plain and cap.compressed and cap.compression == codec and cap.format == "pcapng"
    assert not cap.truncated
    # several streams (frames) one after the other, as cat or a rotating writer makes them
    two = compress(data[:700]) + compress(data[700:])
    assert read_all(write(two, "two"))[0] == plain


@pytest.mark.parametrize("codec", ["xz", "bzip2", "zstd"])
def test_other_compressions_cut_short_or_damaged_give_a_clear_result(write, codec):
    compress = _compressors()[codec]
    data = pcap([(i, 0, frame(i, 500)) for i in range(400)])
    packed = compress(data)
    for damaged in (packed[: len(packed) // 2], packed[:40] + bytes(64) + packed[104:]):
        try:
            packets, cap = read_all(write(damaged, "damaged"))
        except CaptureError as exc:  # nothing readable came out: one line that names the compression
            assert codec in str(exc) and "\n" not in str(exc)
            continue
        assert cap.truncated and cap.warning  # what came out is kept, the damage is reported
        assert packets == read_all(write(data))[0][: len(packets)] or "corrupt" in cap.warning


# ---- stdin ---------------------------------------------------------------------------------------------------
class Trickle(io.RawIOBase):
    """A pipe-like reader that hands out a few bytes per call."""

    def __init__(self, data, step):
        self._data, self._pos, self._step = data, 0, step

    def readable(self):
        return True

    def read1(self, n=-1):
        chunk = self._data[self._pos:self._pos + min(n, self._step)]
        self._pos += len(chunk)
        return chunk

    read = read1


def test_stdin_dash(monkeypatch, write):
    data = gzip.compress(pcap([(1, 5, frame(1)), (2, 6, frame(2))]))
    stdin_buffer = io.BytesIO(data)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=stdin_buffer))
    with open_capture("-") as cap:
        packets = [(ts, lt, bytes(f)) for ts, lt, f in cap]
    assert packets == [(1.000005, 1, frame(1)), (2.000006, 1, frame(2))]
    assert cap.size is None and cap.bytes_read == len(data) and cap.name == "<stdin>"
    assert not stdin_buffer.closed  # standard input is not ours to close


@pytest.mark.parametrize("step", [1, 3, 7, 100])
def test_short_reads_give_the_same_packets(monkeypatch, write, step):
    data = (shb() + idb(1) + dsb(b"CLIENT_RANDOM a b\n") + b"".join(epb(0, i, frame(i, 40 + i)) for i in range(30))
            + spb(b"tail"))
    expected, _ = read_all(write(data))
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=Trickle(data, step)))
    secrets = []
    packets, cap = read_all("-", on_secrets=lambda t, d: secrets.append(d))
    assert packets == expected and len(packets) == 31
    assert secrets == [b"CLIENT_RANDOM a b\n"]
    assert not cap.truncated


def test_stdin_through_a_real_pipe():
    data = pcap([(i, i, frame(i, 1000)) for i in range(300)], e=">", magic=0xA1B23C4D)
    code = ("from dissector.capture.reader import open_capture\n"
            "with open_capture('-') as cap:\n"
            "    n = sum(len(f) for ts, lt, f in cap)\n"
            "print(cap.packets, n, cap.truncated, cap.size)\n")
    result = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True, timeout=60)
    assert result.stdout.split() == [b"300", b"300000", b"False", b"None"]


# ---- streaming -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 5, 12, 13, 64, 1000])
def test_any_chunk_size_gives_the_same_packets(monkeypatch, write, chunk):
    ng = (shb() + idb(1) + idb(113, tsresol=9) + dsb(b"k" * 37)
          + b"".join(epb(i % 2, i * 10**6, frame(i, (i * 37) % 300)) for i in range(40))
          + shb(">") + idb(101, ">") + epb(0, 7, frame(7, 2000), ">"))
    pc = pcap([(i, i, frame(i, (i * 53) % 700)) for i in range(40)])
    gz = gzip.compress(ng)
    paths = [write(ng), write(pc), write(gz)]
    expected = [read_all(p, on_secrets=lambda t, d: None)[0] for p in paths]
    monkeypatch.setattr(reader, "CHUNK", chunk)
    for path, want in zip(paths, expected):
        secrets = []
        packets, cap = read_all(path, on_secrets=lambda t, d, seen=secrets: seen.append(d))
        assert packets == want
        assert not cap.truncated
        if path != paths[1]:
            assert secrets == [b"k" * 37]


def test_memory_does_not_grow_with_the_file(write):
    record = frame(0, 1400)
    data = pcap([(i, 0, record) for i in range(12_000)])  # ~17 MiB
    path = write(data)
    tracemalloc.start()
    try:
        with open_capture(str(path)) as cap:
            total = 0
            for _, _, f in cap:
                total += len(f)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cap.packets == 12_000 and total == 12_000 * 1400
    assert peak < 4 * reader.CHUNK < len(data) / 4


def test_large_record_spanning_many_chunks(monkeypatch, write):
    big = bytes(random.Random(5).randbytes(100_000))
    path = write(shb() + idb(1) + epb(0, 1, b"small") + epb(0, 2, big) + epb(0, 3, b"after"))
    monkeypatch.setattr(reader, "CHUNK", 4096)
    packets, cap = read_all(path)
    assert [p[2] for p in packets] == [b"small", big, b"after"] and not cap.truncated


# ---- truncation and corruption -------------------------------------------------------------------------------
def test_pcap_truncated_in_record_header_and_body(write):
    data = pcap([(1, 0, frame(1, 100)), (2, 0, frame(2, 100)), (3, 0, frame(3, 100))])
    third = 24 + 2 * 116
    for cut in (third + 5, third + 16, third + 50, len(data) - 1):
        packets, cap = read_all(write(data[:cut]))
        assert len(packets) == 2 and cap.packets == 2
        assert cap.truncated
        assert cap.warning == f"capture truncated after 2 packets (last record cut at byte {third})"


def test_pcapng_truncated(write):
    head = shb() + idb(1) + epb(0, 1, b"one")
    data = head + epb(0, 2, b"two" * 10)
    packets, cap = read_all(write(data[:-3]))
    assert [p[2] for p in packets] == [b"one"]
    assert cap.truncated and cap.warning == f"capture truncated after 1 packets (last record cut at byte {len(head)})"


def test_every_cut_point_is_handled(write):
    data = shb() + idb(1) + dsb(b"secret") + epb(0, 1, b"one") + epb(0, 2, b"two!") + spb(b"three")
    boundaries = set()
    pos = 0
    while pos < len(data):
        boundaries.add(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    boundaries.add(len(data))
    for cut in range(len(data) + 1):
        path = write(data[:cut])
        if cut < 12:
            with pytest.raises(CaptureError):
                open_capture(str(path))
            continue
        packets, cap = read_all(path)
        assert cap.truncated == (cut not in boundaries), cut
        assert cap.packets == len(packets) <= 3


@pytest.mark.parametrize("bad_length", [13, 8, 0, 64 * 1024 * 1024 + 4, 0xFFFFFFFC])
def test_pcapng_bad_block_length_is_corruption(write, bad_length):
    data = shb() + idb(1) + epb(0, 1, b"one") + struct.pack("<II", 6, bad_length) + b"\0" * 64
    packets, cap = read_all(write(data))
    assert [p[2] for p in packets] == [b"one"]
    assert cap.truncated
    assert cap.warning.startswith("capture corrupt after 1 packets") and f"bad length {bad_length}" in cap.warning


def test_pcapng_epb_caplen_beyond_its_block_is_corruption(write):
    bad = bytearray(epb(0, 1, b"abcd"))
    struct.pack_into("<I", bad, 20, 1000)  # caplen
    packets, cap = read_all(write(shb() + idb(1) + bytes(bad) + epb(0, 2, b"x")))
    assert packets == [] and cap.truncated and "malformed pcapng block of type 0x6" in cap.warning


def test_pcap_absurd_caplen_is_corruption(write):
    data = pcap([(1, 0, b"ok")]) + struct.pack("<IIII", 2, 0, 300 << 20, 300 << 20) + b"\0" * 100
    packets, cap = read_all(write(data))
    assert [p[2] for p in packets] == [b"ok"]
    assert cap.truncated and cap.warning.startswith("capture corrupt after 1 packets")
    assert str(300 << 20) in cap.warning


def test_random_damage_never_raises_anything_else(write):
    rnd = random.Random(1234)
    originals = [
        shb() + idb(1, tsresol=9) + dsb(b"CLIENT_RANDOM 00 11\n") + epb(0, 5, frame(1)) + spb(b"abc")
        + pb(0, 6, b"old") + epb(0, 7, frame(2, 90)),
        pcap([(1, 2, frame(1)), (3, 4, frame(2, 80))], magic=0xA1B23C4D),
    ]
    for i in range(400):
        data = bytearray(originals[i % 2])
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            data += rnd.randbytes(rnd.randint(1, 40))
        path = write(bytes(data), f"damaged{i}.bin")
        try:
            packets, cap = read_all(path, on_secrets=lambda t, d: None)
        except CaptureError:
            continue
        assert cap.packets == len(packets)
        assert cap.truncated == (cap.warning is not None)


# ---- not a capture -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", r"not a pcap or pcapng file \(starts with 'GET '\)"),
    (b"\x00\x01\x02\x03\x04\x05", r"not a pcap or pcapng file \(starts with bytes 00 01 02 03\)"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", r"truncated pcap file header \(6 of 24 bytes\)"),
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x00\x00\x00\x00", "bad byte-order magic"),
    (b"\x0a\x0d\x0d", r"starts with bytes 0a 0d 0d"),
    (b"\x28\xb5\x2f\xfd" + b"\0" * 20, "zstd"),
])
def test_not_a_capture(write, content, message):
    path = write(content)
    with pytest.raises(CaptureError, match=message) as info:
        open_capture(str(path))
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CaptureError, match="No such file"):
        open_capture(str(tmp_path / "nope.pcap"))
    with pytest.raises(CaptureError, match="directory"):
        open_capture(str(tmp_path))


def test_capture_error_is_raised_only_at_open(write):
    cap = open_capture(str(write(pcap([(1, 0, b"a")]))))
    try:
        assert list(cap) and cap.packets == 1
    finally:
        cap.close()
    cap.close()  # idempotent
    assert list(cap) == []


# ---- the Wireshark corpus ------------------------------------------------------------------------------------
needs_corpus = pytest.mark.skipif(not CAPTURES.is_dir(), reason="shared/corpus/wireshark is not present")


def corpus_file(name):
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"{name} is not in the corpus")
    return path


@needs_corpus
@pytest.mark.parametrize("name", ["dhe1.pcapng", "tls-fragmented-handshakes.pcap", "udt-dtls.pcapng"])
def test_corpus_gzip_gives_the_same_packets(name):
    plain, _ = read_all(corpus_file(name))
    packed, cap = read_all(corpus_file(name + ".gz"))
    assert packed == plain and len(plain) > 0
    assert cap.compressed and cap.bytes_read == cap.size


@needs_corpus
def test_corpus_tls12_dsb_calls_on_secrets_twice():
    secrets = []
    packets, cap = read_all(corpus_file("tls12-dsb.pcapng"), on_secrets=lambda t, d: secrets.append((t, d)))
    assert len(secrets) == 2
    assert all(t == TLS_KEYLOG == 0x544C534B for t, _ in secrets)
    assert all(b"CLIENT_RANDOM" in d for _, d in secrets)
    assert packets and not cap.truncated


@needs_corpus
def test_corpus_dmgr_is_linux_sll():
    packets, cap = read_all(corpus_file("dmgr.pcapng"))
    assert cap.linktypes == {LINKTYPE_LINUX_SLL}
    assert packets and all(lt == LINKTYPE_LINUX_SLL for _, lt, _ in packets)


@needs_corpus
def test_corpus_reads_every_capture_cleanly():
    for path in sorted(CAPTURES.iterdir()):
        packets, cap = read_all(path, on_secrets=lambda t, d: None)
        assert packets, path.name
        assert not cap.truncated and cap.warning is None, path.name
        assert cap.bytes_read == cap.size, path.name


@needs_corpus
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["dhe1.pcapng.gz", "dmgr.pcapng", "tls12-dsb.pcapng", "rsasnakeoil2.pcap",
                                  "tls-fragmented-handshakes.pcap", "udt-dtls.pcapng"])
def test_corpus_matches_tshark(name):
    path = corpus_file(name)
    result = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.cap_len"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines() if line]
    packets, _ = read_all(path)
    assert len(packets) == len(rows)
    assert packets[0][0] == pytest.approx(float(rows[0][0]), abs=1e-6)
    for (ts, _, f), (epoch, caplen) in zip(packets, rows):
        assert ts == pytest.approx(float(epoch), abs=1e-6)
        assert len(f) == int(caplen)
