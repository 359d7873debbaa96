"""The CONNECT exchange inside a decrypted TLS session (dissector/tunnel.py): what opens a tunnel, what does not, and
the bytes handed to the session inside it, over HTTP/1.1 and over HTTP/2 (each CONNECT stream a tunnel). The real
HTTPS-proxy captures are in tests/test_real_peers.py."""
from __future__ import annotations

import pytest

from dissector.events import CLIENT, SERVER
from dissector.tunnel import H2_PREFACE, MAX_EARLY, MAX_HEAD, MAX_TRIES, TunnelWatch

REQUEST = b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"
OK = b"HTTP/1.1 200 Connection established\r\n\r\n"
HELLO = b"\x16\x03\x01\x00\x05hello"


def feed(watch: TunnelWatch, *parts: tuple[str, bytes]) -> list:
    out: list = []
    for direction, data in parts:
        got = watch.feed(direction, data)
        if got is None:
            return [None]
        out += got
    return out


@pytest.mark.parametrize("cut", [1, 3, 8, 20, len(REQUEST) - 1])
def test_a_request_in_pieces_then_a_2xx_opens_the_tunnel(cut):
    w = TunnelWatch()
    assert feed(w, (CLIENT, REQUEST[:cut]), (CLIENT, REQUEST[cut:]), (SERVER, OK[:5]), (SERVER, OK[5:])) == []
    assert w.open and w.target == "example.test:443"
    assert feed(w, (CLIENT, HELLO), (SERVER, b"\x16\x03\x03")) == [(1, CLIENT, HELLO), (1, SERVER, b"\x16\x03\x03")]


def test_bytes_sent_before_the_answer_or_with_it_go_to_the_tunnel_in_order():
    w = TunnelWatch()
    assert feed(w, (CLIENT, REQUEST + HELLO[:4]), (CLIENT, HELLO[4:])) == []  # the client did not wait
    assert feed(w, (SERVER, OK + b"\x16\x03\x03")) == [(1, CLIENT, HELLO), (1, SERVER, b"\x16\x03\x03")]


def test_a_refusal_then_a_second_request_with_credentials():
    w = TunnelWatch()
    refused = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
    again = REQUEST.replace(b"\r\n\r\n", b"\r\nProxy-Authorization: Basic dTpw\r\n\r\n")
    assert feed(w, (CLIENT, REQUEST), (SERVER, refused)) == [] and not w.open
    assert feed(w, (CLIENT, again), (SERVER, OK), (CLIENT, HELLO)) == [(1, CLIENT, HELLO)] and w.open


def test_refused_too_often_ends_the_watch():
    w = TunnelWatch()
    refused = b"HTTP/1.1 403 Forbidden\r\n\r\n"
    parts = [(CLIENT, REQUEST), (SERVER, refused)] * MAX_TRIES
    assert feed(w, *parts) == [None]


@pytest.mark.parametrize("parts", [
    [(CLIENT, b"GET / HTTP/1.1\r\n\r\n")],  # an ordinary request
    [(CLIENT, b"CONNEC"), (CLIENT, b"X")],  # not CONNECT after all
    [(SERVER, b"220 mail.example ESMTP\r\n")],  # the server speaks first
    [(CLIENT, b"CONNECT " + b"a" * MAX_HEAD)],  # a head that never ends
    [(CLIENT, REQUEST), (SERVER, b"SSH-2.0-OpenSSH\r\n\r\n")],  # no HTTP answer
    [(CLIENT, b"CONNECT example.test:443\r\n\r\n")],  # no HTTP version
])
def test_what_is_not_a_connect_exchange_ends_the_watch(parts):
    assert feed(TunnelWatch(), *parts) == [None]


# -- HTTP/2: CONNECT streams (RFC 9113 8.5) ---------------------------------------------------------------------

def h2_frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


SETTINGS = h2_frame(4, 0, 0, b"\x00\x01\x00\x01\x00\x00")  # SETTINGS_HEADER_TABLE_SIZE 65536
SETTINGS_ACK = h2_frame(4, 1, 0, b"")


class H2:
    """Both sides' HPACK encoders: header blocks as a real client and proxy would encode them (the dynamic table
    fills, so later blocks refer to earlier ones)."""

    def __init__(self) -> None:
        import hpack
        self.enc = {CLIENT: hpack.Encoder(), SERVER: hpack.Encoder()}

    def headers(self, direction: str, sid: int, fields: list[tuple[str, str]], end_stream: bool = False) -> bytes:
        return h2_frame(1, 0x4 | (0x1 if end_stream else 0), sid, self.enc[direction].encode(fields))

    def connect(self, sid: int, target: str = "example.test:443") -> bytes:
        return self.headers(CLIENT, sid, [(":method", "CONNECT"), (":authority", target), ("user-agent", "t/1")])


def h2_feed(watch: TunnelWatch, *parts: tuple[str, bytes], cut: int = 0) -> list:
    """Feed whole, or `cut` bytes at a time."""
    if cut:
        parts = tuple((d, data[i:i + cut]) for d, data in parts for i in range(0, len(data), cut))
    return feed(watch, *parts)


@pytest.mark.parametrize("cut", [0, 1, 7, 100])
def test_http2_connect_streams_are_tunnels_of_their_own(cut):
    h = H2()
    w = TunnelWatch()
    got = h2_feed(w, (SERVER, SETTINGS),  # (a server's SETTINGS may come before the client's preface)
                  (CLIENT, H2_PREFACE + SETTINGS + h.connect(1, "a.test:443") + h.connect(3, "b.test:443")),
                  (SERVER, SETTINGS_ACK + h.headers(SERVER, 1, [(":status", "200")])),
                  (CLIENT, h2_frame(0, 0, 1, HELLO) + h2_frame(0, 0, 3, b"\x16\x03\x01\x00\x02hi")),  # 3: not open yet
                  (SERVER, h.headers(SERVER, 3, [(":status", "200")]) + h2_frame(0, 0x1, 1, b"\x16\x03\x03")),
                  (CLIENT, h2_frame(0, 0x1, 1, b"bye") + h2_frame(3, 0, 3, b"\x00\x00\x00\x08")),  # END_STREAM, RST
                  cut=cut)
    assert w.h2 is not None and (w.target_of(1), w.target_of(2)) == ("a.test:443", "b.test:443")
    joined: dict = {}
    ends = []
    for number, direction, data in got:
        if data is None:
            ends.append(number)
        else:
            joined[(number, direction)] = joined.get((number, direction), b"") + data
    assert joined == {(1, CLIENT): HELLO + b"bye", (2, CLIENT): b"\x16\x03\x01\x00\x02hi", (1, SERVER): b"\x16\x03\x03"}
    assert sorted(ends) == [1, 2]  # tunnel 1: END_STREAM both ways; tunnel 2: reset


def test_http2_refused_connect_extended_connect_padding_and_continuation():
    import hpack
    h = H2()
    w = TunnelWatch()
    # a CONNECT refused (407) carries nothing; an extended CONNECT (RFC 8441 websocket) is no TCP tunnel; a third
    # CONNECT's header block is split over HEADERS and CONTINUATION, its answer and DATA padded (each side's blocks
    # are encoded in the order they are sent: the decoders follow the encoders' tables)
    steps = [(CLIENT, H2_PREFACE + h.connect(1)),
             (SERVER, h.headers(SERVER, 1, [(":status", "407")], end_stream=True)),
             (CLIENT, h2_frame(0, 0, 1, HELLO)),
             (CLIENT, h.headers(CLIENT, 3, [(":method", "CONNECT"), (":protocol", "websocket"),
                                            (":scheme", "https"), (":path", "/chat"), (":authority", "d.test")])),
             (SERVER, h.headers(SERVER, 3, [(":status", "200")])),
             (CLIENT, h2_frame(0, 0, 3, HELLO))]
    block = h.enc[CLIENT].encode([(":method", "CONNECT"), (":authority", "c.test:443")])
    steps.append((CLIENT, h2_frame(1, 0, 5, block[:3]) + h2_frame(9, 0x4, 5, block[3:])))
    padded_ok = h2_frame(1, 0x4 | 0x8, 5, b"\x03" + h.enc[SERVER].encode([(":status", "200")]) + b"\x00" * 3)
    steps.append((SERVER, padded_ok + h2_frame(0, 0x8, 5, b"\x02" + HELLO + b"\x00\x00")))
    got = h2_feed(w, *steps)
    assert got == [(1, SERVER, HELLO)] and w.target_of(1) == "c.test:443"
    assert isinstance(w.h2.sides[CLIENT].decoder, hpack.Decoder)


@pytest.mark.parametrize("parts", [
    [(CLIENT, H2_PREFACE + h2_frame(1, 0x4, 1, b"\x82\x87\x84\x41\x01a"))],  # GET https://a/: an ordinary session
    [(CLIENT, H2_PREFACE[:10] + b"X")],  # not the preface after all
    [(CLIENT, H2_PREFACE + h2_frame(1, 0x0, 1, b"\x82") + h2_frame(0, 0, 1, b"x"))],  # a block not continued
    [(CLIENT, H2_PREFACE + h2_frame(1, 0x4, 1, b"\xff\xff\xff\xff"))],  # a header block HPACK cannot read
])
def test_what_ends_the_http2_watch(parts):
    assert feed(TunnelWatch(), *parts) == [None]


def test_an_http2_watch_holds_bounded_bytes():
    h = H2()
    w = TunnelWatch()
    assert feed(w, (CLIENT, H2_PREFACE + h.connect(1))) == []
    # the client does not wait for the answer: at most MAX_EARLY bytes are kept for the tunnel
    chunk = h2_frame(0, 0, 1, b"x" * 16384)
    for _ in range(MAX_EARLY // 16384 + 10):
        assert feed(w, (CLIENT, chunk)) == []
    [(number, direction, data)] = feed(w, (SERVER, h.headers(SERVER, 1, [(":status", "200")])))
    assert (number, direction) == (1, CLIENT) and len(data) <= MAX_EARLY


def test_a_proxy_connection_that_first_forwards_plain_http_is_still_watched():
    # browsers send their http:// requests to an HTTPS proxy on the same HTTP/2 connection as their CONNECTs
    h = H2()
    w = TunnelWatch()
    get = h.headers(CLIENT, 1, [(":method", "GET"), (":scheme", "http"), (":authority", "plain.test"), (":path", "/")],
                    end_stream=True)
    got = feed(w, (CLIENT, H2_PREFACE + SETTINGS + get),
               (SERVER, h.headers(SERVER, 1, [(":status", "200")]) + h2_frame(0, 0x1, 1, b"<html>")),
               (CLIENT, h.connect(3)), (SERVER, h.headers(SERVER, 3, [(":status", "200")])),
               (CLIENT, h2_frame(0, 0, 3, HELLO)))
    assert got == [(1, CLIENT, HELLO)] and w.target_of(1) == "example.test:443"
