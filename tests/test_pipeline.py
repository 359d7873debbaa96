"""The pipeline as a whole: robust to broken frames, and independent of how the stream is cut."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissector.capture.reader import open_capture
from dissector.events import CLIENT, SERVER, Flow, TLSMessage
from dissector.keys import build_keystore
from dissector.net.decode import SUPPORTED_LINKTYPES, decode_frame
from dissector.pipeline import Pipeline
from dissector.tls.connection import TLSConnection
from tests.conftest import CORPUS, needs_corpus


def frames(path):
    with open_capture(str(path)) as cap:
        return [(ts, lt, bytes(f)) for ts, lt, f in cap]


def stream_chunks(path, server_port: int) -> list[tuple[str, bytes]]:
    """Both directions' TCP payloads in capture order (the corpus captures used here have no loss)."""
    out = []
    for _ts, lt, f in frames(path):
        seg = decode_frame(lt, f)
        if seg is None or not len(seg.payload):
            continue
        out.append((SERVER if seg.sport == server_port else CLIENT, bytes(seg.payload)))
    return out


def labels(path, chunks, keys, cuts: list[int] | None = None):
    out: list = []
    conn = TLSConnection(Flow(0, "10.0.0.1", 1, "10.0.0.2", 443, 0.0), keys, out)
    rnd = random.Random(0)
    for direction, data in chunks:
        if cuts is None:
            conn.data(direction, data, 0.0)
            continue
        pos = 0
        while pos < len(data):
            step = rnd.choice(cuts)
            conn.data(direction, data[pos:pos + step], 0.0)
            pos += step
    conn.close(0.0)
    msgs = [(e.direction, e.type) for e in out if isinstance(e, TLSMessage)]
    data = {d: b"".join(e.data for e in out if type(e).__name__ == "AppData" and e.direction == d and e.data)
            for d in (CLIENT, SERVER)}
    return msgs, data


@needs_corpus
@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=6))
def test_splitting_the_stream_anywhere_gives_the_same_events(cuts):
    path = CORPUS / "captures/tls12-dsb.pcapng"
    keys = build_keystore([str(CORPUS / "keys/tls12-dsb-1.keys"), str(CORPUS / "keys/tls12-dsb-2.keys")])
    chunks = stream_chunks(path, 443)
    first_conn = []
    for d, c in chunks:  # the first TCP connection only
        first_conn.append((d, c))
        if d == SERVER and c[:2] == b"\x15\x03":
            break
    whole = labels(path, first_conn, keys)
    assert ("client", "Finished") in whole[0] and whole[1][CLIENT]
    assert labels(path, first_conn, keys, cuts) == whole


@needs_corpus
def test_truncated_and_corrupted_frames_never_raise():
    rnd = random.Random(1234)
    for name in ("rsasnakeoil2.pcap", "tls13-rfc8446.pcap", "dmgr.pcapng", "tls12-dsb.pcapng"):
        keys = build_keystore([str(CORPUS / "keys/tls13-rfc8446.keys")])
        pipe = Pipeline(keys)
        for ts, lt, f in frames(CORPUS / "captures" / name):
            cut = f[: rnd.randrange(len(f) + 1)]
            noisy = bytearray(f)
            for _ in range(3):
                noisy[rnd.randrange(len(noisy))] = rnd.randrange(256)
            for frame in (cut, bytes(noisy), f):
                for ev in pipe.feed(ts, lt, frame):
                    assert getattr(ev, "name", "") != "internal_error", ev.detail
        pipe.finish()
        assert "internal_error" not in pipe.stats.anomalies


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(sorted(SUPPORTED_LINKTYPES)), st.binary(max_size=200))
def test_random_frames_never_raise(linktype, frame):
    pipe = Pipeline()
    pipe.feed(1.0, linktype, frame)
    pipe.finish()
    assert "internal_error" not in pipe.stats.anomalies


def test_unsupported_linktype_is_an_anomaly_not_a_crash():
    pipe = Pipeline()
    events = pipe.feed(1.0, 147, b"\x00" * 60)
    assert events and events[0].name == "unsupported_linktype"


@pytest.mark.parametrize("payload", [b"GET / HTTP/1.1\r\n\r\n", b"SSH-2.0-OpenSSH\r\n"])
def test_non_tls_streams_are_ignored_and_counted(payload):
    from tests.conftest import tcp_frame as frame

    pipe = Pipeline()
    # a hand-built SYN / data exchange on port 443 that is not TLS

    pipe.feed(1.0, 101, frame(40000, 443, 0, 0x02))
    pipe.feed(1.1, 101, frame(40000, 443, 1, 0x18, payload))
    pipe.finish()
    assert pipe.stats.non_tls_flows == 1 and pipe.stats.tls_flows == 0


def _udp_frame(sport: int, dport: int, payload: bytes, v6: bool = False) -> bytes:
    """Ethernet + IPv4/IPv6 + UDP, built by hand."""
    import struct

    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if v6:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64, b"\x20\x01" + b"\0" * 13 + b"\1",
                         b"\x20\x01" + b"\0" * 13 + b"\2")
        etype = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\x0a\0\0\1", b"\x0a\0\0\2")
        etype = 0x0800
    return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + ip + udp


def test_quic_packets_are_counted_and_named_in_the_summary():
    from dissector.analysis import RunResult
    from dissector.output.formats import TableWriter

    pipe = Pipeline()
    initial = bytes([0xC3, 0, 0, 0, 1]) + b"\x08" + b"\x11" * 8 + b"\0" * 40  # a long-header QUIC v1 packet
    short = bytes([0x43]) + b"\x22" * 30  # a short-header (1-RTT) packet
    frames = [_udp_frame(50000, 443, initial), _udp_frame(443, 50000, short), _udp_frame(50000, 443, initial, v6=True),
              _udp_frame(50000, 53, initial),  # a known QUIC version: QUIC on any port
              _udp_frame(50000, 5353, short),  # a short header off port 443: any UDP may start so
              _udp_frame(50000, 443, b"\x00" * 20)]  # fixed bit clear: not QUIC
    for f in frames:  # (garbage Initials: no client Initial opens, so no connection starts)
        assert pipe.feed(0.0, 1, f) == []
    assert pipe.stats.quic == 4
    result = RunResult(packets=6, pipeline_stats=[pipe.stats])
    assert result.counts()["quic_packets"] == 4
    import io

    out = io.StringIO()
    TableWriter(out).end({"sessions": 0, "packets": 5, "quic_packets": 3})
    assert "3 QUIC (HTTP/3) packet(s) not analysed: their connections' Initial packets" in out.getvalue()


def test_ipv4_total_length_zero_is_read_to_the_frame_end_as_tso_captures_show_it(tmp_path):
    # A host capturing its own traffic before TCP segmentation offload sees IPv4 total length 0 on large
    # segments (the NIC fills it in); Wireshark reads such a packet to the end of the frame, and so must we.
    import struct

    from tests.conftest import SAMPLES, analyze

    src = SAMPLES / "real" / "openssl-tls13-large.pcap"
    data = bytearray(src.read_bytes())
    pos, changed = 24, 0
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        frame = pos + 16
        if data[frame + 12:frame + 14] == b"\x08\x00" and caplen > 1000:  # Ethernet, IPv4, a large segment
            data[frame + 16:frame + 18] = b"\0\0"
            changed += 1
        pos = frame + caplen
    assert changed > 10
    zeroed = tmp_path / "tso.pcap"
    zeroed.write_bytes(bytes(data))
    keys = [SAMPLES / "real" / "openssl-tls13-large.keys"]
    want, got = analyze([src], keylogs=keys), analyze([zeroed], keylogs=keys)
    assert [s["decryption"]["status"] for s in got] == ["decrypted"]
    assert [s["app_data"] for s in got] == [s["app_data"] for s in want]
    assert not got[0].get("anomalies")


def _damaged(path, rng: random.Random, tmp_path, most: int):
    """A copy of a pcap with 1 to `most` damages past the first 66 bytes of frames over 80 bytes (inside their
    payloads): a bit flipped, 8 bytes zeroed, or a byte set."""
    import struct

    data = bytearray(path.read_bytes())
    frames, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        if caplen > 80:
            frames.append((pos + 16, caplen))
        pos += 16 + caplen
    for _ in range(rng.randint(1, most)):
        off, length = rng.choice(frames)
        i = off + rng.randint(66, length - 1)
        kind = rng.randrange(3)
        if kind == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[i:i + 8] = bytes(len(data[i:i + 8]))
        else:
            data[i] = rng.randrange(256)
    damaged = tmp_path / path.name
    damaged.write_bytes(bytes(data))
    return damaged


def _no_internal_error(sessions: list[dict], name: str) -> None:
    assert sessions, name
    for s in sessions:
        assert not [a for a in s.get("anomalies") or [] if a["name"] == "internal_error"], (name, s["anomalies"])


@pytest.mark.parametrize("seed", range(6))
def test_damaged_real_captures_never_hit_an_internal_error(seed, tmp_path):
    # Bytes flipped, zeroed or set inside the TCP payloads of real captures (key logs given, plugins on):
    # every damage must end as a reported anomaly, a failed decryption or a gap, never as an internal error
    # (which stops the analysis of that flow).
    from tests.conftest import SAMPLES, analyze

    rng = random.Random(seed)
    names = ["openssl-tls12-ecdhe", "openssl-tls13", "gnutls-tls12-rsa", "chromium-tlslite-brotli", "nginx-h2",
             "openssl-tls12-lossy", "firefox-h2", "go-client-tls12"]
    for name in rng.sample(names, 3):
        damaged = _damaged(SAMPLES / "real" / f"{name}.pcap", rng, tmp_path, 6)
        _no_internal_error(analyze([damaged], keylogs=[SAMPLES / "real" / f"{name}.keys"], plugins=True), name)


@pytest.mark.parametrize("seed", range(4))
def test_damaged_ech_dtls13_and_quic_0rtt_captures_never_hit_an_internal_error(seed, tmp_path):
    # the same damage in the captures whose decryption takes the newest paths: inner ClientHellos opened with the
    # server's ECH key (also after a HelloRetryRequest) or Firefox's ECH_SECRET, DTLS 1.3's masked record numbers
    # and epochs, QUIC 0-RTT packets
    from tests.conftest import SAMPLES, analyze

    rng = random.Random(seed)
    for name in ["go-ech", "chromium-ech", "firefox-ech", "webrtc/firefox-dtls13", "quic/quic-aioquic-0rtt"]:
        path = SAMPLES / "real" / f"{name}.pcap"
        pem = path.with_suffix(".ech.pem")
        damaged = _damaged(path, rng, tmp_path, 4)
        _no_internal_error(analyze([damaged], keylogs=[path.with_suffix(".keys")],
                                   key_specs=[str(pem)] if pem.exists() else [], plugins=True), name)


@needs_corpus
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_bug_on_one_flow_is_reported_on_it_and_the_others_go_on(monkeypatch, tmp_path, transport):
    # "one broken packet or session never stops the rest of a capture": a state machine that raises is reported
    # as internal_error on its own session, which is analysed no further; the other sessions are not touched
    from dissector.tls.connection import TLSConnection
    from dissector.tls.dtls import DTLSConnection
    from tests.conftest import analyze
    from tests.test_dtls import PSK, PSK_CAPTURE, datagrams, write

    cls, method = (TLSConnection, "data") if transport == "tcp" else (DTLSConnection, "datagram")
    original = getattr(cls, method)

    def buggy(self, direction, data, ts):
        if self.flow.id == 0 and direction == "server":
            raise KeyError("a bug")
        return original(self, direction, data, ts)

    monkeypatch.setattr(cls, method, buggy)
    if transport == "tcp":
        path, keys = CORPUS / "captures/tls12-chacha20poly1305.pcap", {
            "keylogs": [str(CORPUS / "keys/tls12-chacha20poly1305.keys")]}
    else:  # two DTLS associations from two client ports
        grams = datagrams(CORPUS / PSK_CAPTURE)
        other = [(ts + 1, src, sport + (sport != 4433), dst, dport + (dport != 4433), p) for ts, src, sport, dst, dport, p
                 in grams]
        path, keys = tmp_path / "two.pcap", {"psks": [PSK]}
        write(path, grams + other)
    sessions = analyze([path], **keys)
    broken = [s for s in sessions if any(a["name"] == "internal_error" for a in s.get("anomalies") or [])]
    assert [s["id"] for s in broken] == [0]
    assert "KeyError: 'a bug'" in broken[0]["anomalies"][0]["detail"]
    rest = [s for s in sessions if s["id"] != 0]
    assert len(rest) == (6 if transport == "tcp" else 1)
    assert all(s["decryption"]["status"] == "decrypted" and s["app_data"] for s in rest)


def test_tcp_fast_open_data_in_the_syn_starts_one_past_it():
    """TCP Fast Open: the ClientHello rides in the SYN; the SYN takes a sequence number, so its data starts at
    seq + 1 (the whole capture is in samples/real/tfo-tls13, checked against tshark in test_real_peers)."""
    from dissector.events import TLSMessage
    from dissector.pipeline import Pipeline
    from tests.conftest import tcp_frame as frame

    body = bytes([3, 3]) + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00"
    hello = bytes([1]) + len(body).to_bytes(3, "big") + body
    record = bytes([22, 3, 1]) + len(hello).to_bytes(2, "big") + hello
    pipe = Pipeline()
    evs = pipe.feed(0.0, 101, frame(40000, 443, 1000, 0x02, record))  # SYN with data
    evs += pipe.feed(0.1, 101, frame(443, 40000, 5000, 0x12, src=b"\x0a\0\0\2", dst=b"\x0a\0\0\1"))
    evs += pipe.feed(0.2, 101, frame(40000, 443, 1001 + len(record), 0x10))
    evs += pipe.finish()
    assert [(e.ts, e.type) for e in evs if isinstance(e, TLSMessage)] == [(0.0, "ClientHello")]
    assert pipe.stats.tls_flows == 1
    # the SYN sent again with its data (no SYN-ACK in time): the ClientHello is not read twice
    pipe = Pipeline()
    evs = pipe.feed(0.0, 101, frame(40000, 443, 1000, 0x02, record))
    evs += pipe.feed(1.0, 101, frame(40000, 443, 1000, 0x02, record))
    evs += pipe.feed(1.1, 101, frame(443, 40000, 5000, 0x12, src=b"\x0a\0\0\2", dst=b"\x0a\0\0\1"))
    evs += pipe.finish()
    assert [(e.ts, e.type) for e in evs if isinstance(e, TLSMessage)] == [(0.0, "ClientHello")]
