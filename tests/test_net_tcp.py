"""TCP reassembly: in-order fast path, retransmissions, overlaps, reordering, gaps, wrap-around."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dissector.net.tcp import TCPDirection, seq_delta


def collect(direction: TCPDirection, segments) -> tuple[bytes, int]:
    data = bytearray()
    gaps = 0
    for seq, payload in segments:
        for item in direction.feed(seq & 0xFFFFFFFF, payload):
            if isinstance(item, int):
                gaps += item
            else:
                data += item
    for item in direction.flush():
        if isinstance(item, int):
            gaps += item
        else:
            data += item
    return bytes(data), gaps


def test_seq_delta_wraps():
    assert seq_delta(5, 0xFFFFFFFE) == 7
    assert seq_delta(0xFFFFFFFE, 5) == -7


def test_in_order_and_retransmission():
    d = TCPDirection()
    d.syn(999)
    data, gaps = collect(d, [(1000, b"hello "), (1000, b"hello "), (1006, b"world")])
    assert data == b"hello world" and gaps == 0
    assert d.retransmitted == 1


def test_out_of_order_and_overlap():
    d = TCPDirection()
    d.syn(0)
    data, gaps = collect(d, [(7, b"world"), (1, b"hello "), (5, b"o wor"), (12, b"!")])
    assert data == b"hello world!" and gaps == 0


def test_retransmission_that_extends_a_partial_segment():
    # the zero-window-probe pattern of Wireshark's retrans-tls.pcap: 1 byte, then that byte plus the rest
    d = TCPDirection()
    data, gaps = collect(d, [(100, b"\x17"), (100, b"\x17\x03\x03\x00\x10" + b"\xaa" * 16)])
    assert data == b"\x17\x03\x03\x00\x10" + b"\xaa" * 16 and gaps == 0


def test_gap_reported_when_peer_acknowledges_unseen_bytes():
    d = TCPDirection()
    d.syn(0)
    assert d.feed(1, b"abc") == [b"abc"]
    assert d.feed(10, b"xyz") == []  # bytes 4..9 never captured
    assert d.acked(13) == []  # a reordering capture may still show them...
    assert d.acked(13) == []
    assert d.acked(13) == [6, b"xyz"]  # ...but not after three ACKs beyond the hole
    assert d.gap_bytes == 6


def test_gap_when_buffer_bound_is_hit():
    d = TCPDirection(max_buffered=10)
    d.syn(0)
    assert d.feed(100, b"0123456789") == []
    out = d.feed(110, b"abcdef")
    assert out[0] == 99 and b"".join(x for x in out if isinstance(x, bytes)) == b"0123456789abcdef"


def test_sequence_wrap_around():
    d = TCPDirection()
    d.syn(0xFFFFFFF0)
    data, gaps = collect(d, [(0xFFFFFFF1, b"A" * 20), (0x00000005, b"B" * 4)])
    assert data == b"A" * 20 + b"B" * 4 and gaps == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.lists(st.integers(0, 399), max_size=12), st.randoms(use_true_random=False),
       st.integers(0, 0xFFFFFFFF))
def test_any_segmentation_and_order_gives_the_same_stream(payload, cuts, rnd, isn):
    """Split a stream anywhere, shuffle, duplicate some segments: the output is the original stream."""
    points = sorted({c for c in cuts if 0 < c < len(payload)})
    bounds = [0, *points, len(payload)]
    segs = [((isn + 1 + a) & 0xFFFFFFFF, payload[a:b]) for a, b in zip(bounds, bounds[1:])]
    segs += [rnd.choice(segs) for _ in range(len(segs) // 2)]  # retransmissions
    rnd.shuffle(segs)
    d = TCPDirection()
    d.syn(isn)
    data, gaps = collect(d, segs)
    assert data == payload and gaps == 0


def _joined(chunks: list) -> bytes:
    assert all(type(c) is bytes for c in chunks), chunks  # (no gap)
    return b"".join(chunks)


def test_a_mid_stream_pickup_waits_for_a_segment_that_was_overtaken():
    # no SYN: the first segment seen (B) came before the one it follows (A, cut in pieces on the way)
    d = TCPDirection()
    assert d.feed(1100, b"B" * 100, 2.0) == []
    assert d.feed(1000, b"A" * 40, 2.1) == [] and d.feed(1040, b"a" * 60, 2.2) == []
    released = d.release()  # the other side spoke: each segment's bytes with the time it was sent
    assert [(ts, _joined(chunks)) for ts, chunks in released] == [(2.1, b"A" * 40), (2.2, b"a" * 60), (2.0, b"B" * 100)]
    assert d.next_seq == 1200
    assert d.feed(1200, b"C", 3.0) == [b"C"]  # then on as usual


def test_a_mid_stream_pickup_drops_an_old_retransmission_and_bounds_what_it_holds():
    d = TCPDirection()
    d.feed(500_000, b"new", 1.0)
    d.feed(100, b"old retransmission", 1.1)  # far behind the first segment seen: not the stream's start
    assert [(ts, _joined(c)) for ts, c in d.release()] == [(1.1, b""), (1.0, b"new")] and d.retransmitted == 1
    bulk = TCPDirection()  # one way, the other side only acknowledging: released once the bound is reached
    out, seq = [], 7
    for _ in range(20):
        out += bulk.feed(seq, b"x" * 1000, 0.0)
        seq += 1000
    assert len(_joined(out)) == 20_000 and bulk.held is None
    assert TCPDirection().flush() == [] and _joined(_pickup_then_flush()) == b"onetwo"


def _pickup_then_flush() -> list:
    d = TCPDirection()
    d.feed(10, b"two", 0.0)
    d.feed(7, b"one", 0.0)
    return d.flush()  # the flow ends: what was held is the stream
