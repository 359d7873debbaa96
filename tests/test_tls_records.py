"""Record framing: split records, many per chunk, bad headers resynchronise, SSLv2 hellos."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissector.errors import MalformedInput
from dissector.tls.records import SSL2_CLIENT_HELLO, RecordReader, looks_like_tls


def rec(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    return bytes([ctype]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def drain(reader: RecordReader) -> tuple[list, list]:
    recs, errors = [], []
    while True:
        try:
            recs.extend(reader.records())
            return recs, errors
        except MalformedInput as exc:
            errors.append(exc.name)


STREAM = rec(22, b"\x01" * 50) + rec(20, b"\x01") + rec(22, b"F" * 40) + rec(23, b"x" * 300) + rec(21, b"\x01\x00")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, len(STREAM) - 1), max_size=20))
def test_any_split_gives_the_same_records(cuts):
    reader = RecordReader()
    got = []
    bounds = [0, *sorted(set(cuts)), len(STREAM)]
    for a, b in zip(bounds, bounds[1:]):
        reader.feed(STREAM[a:b])
        recs, errors = drain(reader)
        assert not errors
        got += recs
    assert [(t, len(b)) for t, _, b in got] == [(22, 50), (20, 1), (22, 40), (23, 300), (21, 2)]


def test_garbage_then_resync():
    reader = RecordReader(allow_ssl2=False)
    reader.feed(b"\x99garbage!" + rec(22, b"abc") + rec(23, b"defg"))
    recs, errors = drain(reader)
    assert errors == ["bad_record_header"]
    assert [(t, b) for t, _, b in recs] == [(22, b"abc"), (23, b"defg")]


def test_absurd_length_is_malformed():
    reader = RecordReader(allow_ssl2=False)
    reader.feed(b"\x17\x03\x03\xff\xff" + b"\0" * 10)
    with pytest.raises(MalformedInput):
        list(reader.records())


def test_gap_resynchronises_at_next_header():
    reader = RecordReader()
    reader.feed(rec(23, b"a" * 100)[:50])
    assert drain(reader) == ([], [])
    reader.gap()
    reader.feed(b"a" * 30 + rec(23, b"b" * 10) + rec(23, b"c" * 5))
    recs, _ = drain(reader)
    assert [b for _, _, b in recs] == [b"b" * 10, b"c" * 5]


def test_ssl2_client_hello_is_recognised():
    body = bytes([1, 3, 0, 0, 3, 0, 0, 0, 16]) + b"\x00\x00\x2f" + b"C" * 16
    wire = bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body
    assert looks_like_tls(wire)
    reader = RecordReader()
    reader.feed(wire)
    (rec_,) = list(reader.records())
    assert rec_[0] == SSL2_CLIENT_HELLO and rec_[2] == body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_malformed_input(data):
    reader = RecordReader()
    reader.feed(data)
    drain(reader)  # MalformedInput is handled; anything else fails the test
