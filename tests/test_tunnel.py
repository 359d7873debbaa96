"""The CONNECT exchange inside a decrypted TLS session (dissector/tunnel.py): what opens a tunnel, what does not, and
the bytes handed to the session inside it. The real HTTPS-proxy capture is in tests/test_real_peers.py."""
from __future__ import annotations

import pytest

from dissector.events import CLIENT, SERVER
from dissector.tunnel import MAX_HEAD, MAX_TRIES, TunnelWatch

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
    assert feed(w, (CLIENT, HELLO), (SERVER, b"\x16\x03\x03")) == [(CLIENT, HELLO), (SERVER, b"\x16\x03\x03")]


def test_bytes_sent_before_the_answer_or_with_it_go_to_the_tunnel_in_order():
    w = TunnelWatch()
    assert feed(w, (CLIENT, REQUEST + HELLO[:4]), (CLIENT, HELLO[4:])) == []  # the client did not wait
    assert feed(w, (SERVER, OK + b"\x16\x03\x03")) == [(CLIENT, HELLO), (SERVER, b"\x16\x03\x03")]


def test_a_refusal_then_a_second_request_with_credentials():
    w = TunnelWatch()
    refused = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
    again = REQUEST.replace(b"\r\n\r\n", b"\r\nProxy-Authorization: Basic dTpw\r\n\r\n")
    assert feed(w, (CLIENT, REQUEST), (SERVER, refused)) == [] and not w.open
    assert feed(w, (CLIENT, again), (SERVER, OK), (CLIENT, HELLO)) == [(CLIENT, HELLO)] and w.open


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
