"""HTTP/3 over decrypted QUIC (the http3 plugin): Chromium and Firefox against aioquic (samples/real/quic/chromium-h3,
firefox-h3), checked against tshark where it can speak (tshark 4.0 reads HTTP/3 frames and SETTINGS but does not
decode QPACK), and hand-built exchanges through pylsqpack's encoder: the dynamic table, a header block that arrives before the
encoder-stream entries it needs, bodies and credentials, and every stream cut at every byte."""
from __future__ import annotations

import shutil
import subprocess

import pylsqpack
import pytest
from dissector_plugins.http3 import HTTP3Plugin

from dissector.events import CLIENT, SERVER, Flow
from tests.conftest import SAMPLES, analyze

QUIC = SAMPLES / "real" / "quic"
H3 = QUIC / "chromium-h3.pcap"
H3_KEYS = QUIC / "chromium-h3.keys"
FIREFOX = QUIC / "firefox-h3.pcap"
FIREFOX_KEYS = QUIC / "firefox-h3.keys"


def test_chromium_requests_over_http3():
    [s] = analyze([H3], keylogs=[H3_KEYS], plugins=True)
    assert s["transport"] == "quic" and s["alpn"] == "h3"
    http = s["http"]
    assert http["protocol"] == "HTTP/3"
    got = [(r["stream"], r["method"], r["host"], r["target"], r["version"], r["status"]) for r in http["requests"]]
    assert got == [(0, "GET", "www.example.test:4433", "/", "HTTP/3", 200),
                   (4, "GET", "www.example.test:4433", "/favicon.ico", "HTTP/3", 200)]
    first = http["requests"][0]
    agent = next(v for n, v in first["request_headers"] if n == "user-agent")
    assert "Chrome" in agent  # decoded from the dynamic table that Chromium's encoder stream filled
    assert http["settings"]["client"]["qpack_max_table_capacity"] == 65536
    assert http["settings"]["server"]["qpack_blocked_streams"] == 16


def test_firefox_request_over_http3():
    """Firefox ESR (neqo's QUIC and QPACK) against the same server: a second HTTP/3 client implementation."""
    [s] = analyze([FIREFOX], keylogs=[FIREFOX_KEYS], plugins=True)
    [r] = s["http"]["requests"]
    assert (r["stream"], r["method"], r["host"], r["target"], r["status"]) == (0, "GET", "browser.example.test:4433",
                                                                              "/", 200)
    assert "Firefox/" in next(v for n, v in r["request_headers"] if n == "user-agent")
    assert s["http"]["settings"]["client"]["qpack_blocked_streams"] == 20


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("cap,keys", [(H3, H3_KEYS), (FIREFOX, FIREFOX_KEYS)],
                         ids=["chromium", "firefox"])
def test_http3_frames_and_settings_as_tshark_reads_them(cap, keys):
    out = subprocess.run(["tshark", "-r", str(cap), "-o", f"tls.keylog_file:{keys}", "-Y", "http3", "-T", "fields",
                          "-e", "ip.src", "-e", "udp.srcport", "-e", "quic.stream.stream_id", "-e", "http3.frame_type",
                          "-e", "http3.settings.qpack.max_table_capacity", "-e", "http3.settings.qpack.blocked_streams"],
                         capture_output=True, text=True, timeout=120).stdout
    headers_streams: set[tuple[str, int]] = set()
    settings = {}
    for line in out.splitlines():
        _, port, sids, types, capacity, blocked = (line.split("\t") + [""] * 6)[:6]
        side = "server" if port == "4433" else "client"
        types_ = [int(t, 0) for t in types.split(",") if t]
        if capacity:
            settings[side] = (int(capacity), int(blocked))
        for sid in (int(x) for x in sids.split(",") if x):
            if sid % 4 == 0 and 1 in types_:  # a HEADERS frame on a request stream
                headers_streams.add((side, sid))
    [s] = analyze([cap], keylogs=[keys], plugins=True)
    ours = s["http"]
    assert {(side, r["stream"]) for r in ours["requests"] for side in ("client", "server")} == headers_streams
    assert settings == {side: (v["qpack_max_table_capacity"], v["qpack_blocked_streams"])
                        for side, v in ours["settings"].items()}


def _varint(n: int) -> bytes:
    for size, prefix in ((1, 0), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if n < 1 << (8 * size - 2):
            return (n | prefix << (8 * size - 8)).to_bytes(size, "big")
    raise ValueError(n)


def _frame(ftype: int, payload: bytes) -> bytes:
    return _varint(ftype) + _varint(len(payload)) + payload


def _settings(capacity: int, blocked: int) -> bytes:
    return _varint(0) + _frame(4, _varint(1) + _varint(capacity) + _varint(7) + _varint(blocked))


def _exchange() -> list[tuple[str, int, bytes, bool]]:
    """(direction, stream, bytes, fin) of two requests on one connection, the second a POST login: its header
    block refers to dynamic-table entries (lsqpack's encoder adds them at a field's second use) and arrives before
    the encoder-stream instructions that add them; the two cookie fields are joined back into one header."""
    client, server = pylsqpack.Encoder(), pylsqpack.Encoder()
    enc_c = client.apply_settings(4096, 16)  # what the server's SETTINGS allow the client's encoder
    enc_s = server.apply_settings(4096, 16)
    common = [(b":scheme", b"https"), (b":authority", b"h3.example"), (b"user-agent", b"test/1.0 " + b"a" * 40)]
    e, first = client.encode(0, [(b":method", b"GET"), (b":path", b"/")] + common)
    enc_c += e
    body = b"username=alice&password=wonderland"
    e, second = client.encode(4, [(b":method", b"POST"), (b":path", b"/login")] + common +
                              [(b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", b"sid=1"),
                               (b"cookie", b"theme=dark")])
    enc_c += e
    answers = []
    for sid in (0, 4):
        e, block = server.encode(sid, [(b":status", b"200"), (b"set-cookie", b"session=abc; Secure"),
                                       (b"content-type", b"text/plain")])
        enc_s += e
        answers.append((SERVER, sid, _frame(1, block) + _frame(0, b"welcome"), True))
    return [
        (SERVER, 3, _settings(4096, 16), False),
        (CLIENT, 2, _settings(4096, 16), False),
        (CLIENT, 0, _frame(1, first), True),
        (CLIENT, 4, _frame(1, second) + _frame(0, body), True),  # blocked until the encoder stream comes
        (CLIENT, 6, _varint(2) + enc_c, False),
        (SERVER, 7, _varint(2) + enc_s, False),
        *answers,
    ]


def _run(pieces: list[tuple[str, int, bytes, bool]], cut: int = 0) -> dict:
    plugin = HTTP3Plugin()
    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 443, 0.0, 4, "quic")
    streams = {d: plugin.new_stream(flow, d) for d in (CLIENT, SERVER)}
    for i, (d, sid, data, fin) in enumerate(pieces):
        step = cut or len(data)
        for j in range(0, len(data), step):
            streams[d].feed_stream(sid, data[j:j + step], float(i), fin and j + step >= len(data))
    for d in (CLIENT, SERVER):
        streams[d].close(99.0)
    return plugin.on_session_end(flow)


@pytest.mark.parametrize("cut", [0, 1, 3, 7])
def test_dynamic_table_blocked_header_body_and_credentials(cut):
    pieces = _exchange()
    assert len(pieces[4][2]) > 10  # the client's encoder stream does add entries
    fields = _run(pieces, cut)
    assert [(r["stream"], r["method"], r["target"]) for r in fields["requests"]] == [(0, "GET", "/"), (4, "POST", "/login")]
    r = fields["requests"][1]
    assert (r["method"], r["host"], r["target"], r["status"], r["version"]) == ("POST", "h3.example", "/login", 200,
                                                                                 "HTTP/3")
    assert r["request_body_size"] == len(b"username=alice&password=wonderland")
    assert r["response_body_size"] == len(b"welcome")
    assert r["credentials"]["user"] == "alice" and str(r["credentials"]["password"]) == "<redacted 10 chars>"
    assert r["cookies"] == ["sid", "theme"]  # the two cookie fields joined back into one header
    assert [c["name"] for c in r["set_cookies"]] == ["session"]


@pytest.mark.parametrize("cut", [0, 1, 5])
def test_the_tap_gets_each_header_block_before_the_data_that_waited_for_it(cut):
    # what `dissector follow --stream` prints: stream 4's body arrives while its header block waits for the
    # encoder stream, and must come out after that block, whole
    from dissector_plugins.http import OAuth2Links
    from dissector_plugins.http3 import H3Connection

    seen: list[tuple[str, int, str, object]] = []
    conn = H3Connection(Flow(0, "10.0.0.1", 40000, "10.0.0.2", 443, 0.0, 4, "quic"), OAuth2Links(),
                        lambda d, sid, kind, payload, ts: seen.append((d, sid, kind, payload)))
    for d, sid, data, fin in _exchange():
        step = cut or len(data)
        for j in range(0, len(data), step):
            conn.feed(d, sid, data[j:j + step], 0.0, fin and j + step >= len(data))
    for side in (CLIENT, SERVER):  # each side of stream 4: its header block, then its DATA
        kinds = [kind for d, sid, kind, _ in seen if (d, sid) == (side, 4)]
        assert kinds[0] == "headers" and len(kinds) > 1 and set(kinds[1:]) == {"data"}, side
    assert b"".join(p for d, sid, kind, p in seen if (d, sid, kind) == (CLIENT, 4, "data")) == \
        b"username=alice&password=wonderland"
    [post] = [p for d, sid, kind, p in seen if (d, sid, kind) == (CLIENT, 4, "headers")]
    assert post[:2] == [(":method", "POST"), (":path", "/login")]
    assert [v for n, v in post if n == "cookie"] == ["sid=1", "theme=dark"]  # as sent: two fields
    assert {sid for _, sid, _, _ in seen} == {0, 4}  # only request streams: not the control or QPACK streams


def test_malformed_frames_are_anomalies_and_the_stream_goes_on():
    """A SETTINGS frame whose last varint is cut, an empty GOAWAY, then a request that still reads; random bytes on
    every kind of stream never raise."""
    import random

    from dissector.events import Anomaly

    plugin = HTTP3Plugin()
    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 443, 0.0, 4, "quic")
    client, server = plugin.new_stream(flow, CLIENT), plugin.new_stream(flow, SERVER)
    evs = server.feed_stream(3, _varint(0) + _frame(4, b"\x01\x44") + _frame(7, b""), 0.0, False)
    assert [e.name for e in evs if isinstance(e, Anomaly)] == ["http3_malformed_frame"] * 2
    _, block = pylsqpack.Encoder().encode(0, [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"a"),
                                              (b":path", b"/x")])
    client.feed_stream(0, _frame(1, block), 1.0, True)
    rng = random.Random(7)
    for sid in range(12):
        (client if sid % 2 == 0 else server).feed_stream(sid + 100, bytes(rng.randrange(256) for _ in range(300)), 2.0,
                                                         True)
    client.close(3.0)
    server.close(3.0)
    [r] = plugin.on_session_end(flow)["requests"]
    assert (r["method"], r["target"]) == ("GET", "/x")


def test_without_the_peer_settings_the_encoder_stream_sizes_the_decoder():
    """The server's SETTINGS are not in the capture (as in a Chromium capture whose server packets were lost), the
    client's header block uses the dynamic table and comes before its encoder stream: the decoder is sized by the
    encoder's Set Dynamic Table Capacity, and the request reads. A block whose entries never come is reported."""
    from dissector.events import Anomaly

    pieces = [p for p in _exchange() if p[1] not in (3, 7)]  # no server control or encoder stream
    plugin = HTTP3Plugin()
    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 443, 0.0, 4, "quic")
    streams = {d: plugin.new_stream(flow, d) for d in (CLIENT, SERVER)}
    events = []
    for i, (d, sid, data, fin) in enumerate(pieces):
        events += streams[d].feed_stream(sid, data, float(i), fin)
    for d in (CLIENT, SERVER):
        events += streams[d].close(99.0)
    requests = plugin.on_session_end(flow)["requests"]
    assert [(r["stream"], r["method"], r["target"]) for r in requests] == [(0, "GET", "/"), (4, "POST", "/login")]
    # the server's second answer needs its encoder stream, which is missing: said, not guessed
    unreadable = [e for e in events if isinstance(e, Anomaly) and e.name == "http3_headers_unreadable"]
    assert [(e.direction, "stream 4" in e.detail) for e in unreadable] == [("server", True)]
    assert requests[1]["status"] is None
