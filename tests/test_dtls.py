"""DTLS 1.0 / 1.2 over UDP: datagrams, epochs, fragmented and retransmitted handshake messages, the cookie
exchange, and decryption through the TLS key schedules.

The sessions come from real DTLS captures of the Wireshark corpus (OpenSSL and GnuTLS peers; the corpus
manifest itself is checked in test_corpus.py). Here the same datagrams are rewritten the way real networks
and stacks deliver them (handshake messages cut into fragments that arrive out of order and twice, whole
flights sent again, a second association on the same addresses, the handshake missing) and the analysis
must stay the one of the clean capture.
"""
from __future__ import annotations

import struct

import pytest

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.net.decode import UDP_DATAGRAM, decode_tcp
from dissector.tls.dtls import HEADER_LEN, RECORD_HEADER, _Reassembly, looks_like_dtls, whole_records
from tests.conftest import CORPUS, SAMPLES, analyze, message_list, needs_corpus, reversed_runs

PSK_CAPTURE = "captures/dtls12-aes128ccm8.pcap"  # GnuTLS, DTLS 1.2 PSK AES-128-CCM-8, HelloVerifyRequest
PSK = "ca19e028a8a372ad2d325f950fcaceed"
RSA_CAPTURE = "captures/udt-dtls.pcapng.gz"  # DTLS 1.0 RSA AES256-CBC-SHA, ClientHello sent twice, then HVR
RSA_KEY = "keys/udt-dtls.key"

Datagram = tuple[float, bytes, int, bytes, int, bytes]  # ts, src, sport, dst, dport, UDP payload


def datagrams(path) -> list[Datagram]:
    out = []
    with open_capture(str(path)) as cap:
        for ts, linktype, frame in cap:
            t = decode_tcp(linktype, memoryview(frame))
            if t and t[7] & UDP_DATAGRAM:
                _, src, dst, sport, dport, _, _, _, payload = t
                out.append((ts, src, sport, dst, dport, bytes(payload)))
    return out


def udp_frame(src: bytes, sport: int, dst: bytes, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    return b"\x02\0\0\0\0\2\x02\0\0\0\0\1\x08\x00" + ip + udp


def write(path, grams: list[Datagram]) -> None:
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for ts, src, sport, dst, dport, payload in grams:
            w.write(ts, udp_frame(src, sport, dst, dport, payload))


def records(payload: bytes) -> list[tuple[int, int, int, int, bytes]]:
    """(type, version, epoch, seq, body) of each record of a datagram."""
    out, pos = [], 0
    while pos < len(payload):
        ctype, version, epoch, hi, lo, n = RECORD_HEADER.unpack_from(payload, pos)
        out.append((ctype, version, epoch, (hi << 32) | lo, payload[pos + HEADER_LEN:pos + HEADER_LEN + n]))
        pos += HEADER_LEN + n
    return out


def record(ctype: int, version: int, epoch: int, seq: int, body: bytes) -> bytes:
    return RECORD_HEADER.pack(ctype, version, epoch, seq >> 32, seq & 0xFFFFFFFF, len(body)) + body


def fragments(message: bytes, size: int) -> list[bytes]:
    """A whole DTLS handshake message (12-byte header and body) cut into fragments of `size` body bytes."""
    mtype, length, mseq = message[0], int.from_bytes(message[1:4], "big"), message[4:6]
    body = message[12:]
    cuts = range(0, max(length, 1), size)
    return [bytes([mtype]) + length.to_bytes(3, "big") + mseq + off.to_bytes(3, "big")
            + len(body[off:off + size]).to_bytes(3, "big") + body[off:off + size] for off in cuts]


def refragment(grams: list[Datagram], size: int) -> list[Datagram]:
    """Cut every plaintext handshake message into small fragments, one record and one datagram each; send
    them last fragment first, and every fragment of a message cut in several twice (a message in one piece
    sent twice would be a retransmission, listed again)."""
    out: list[Datagram] = []
    for ts, src, sport, dst, dport, payload in grams:
        rest = []
        for ctype, version, epoch, seq, body in records(payload):
            if ctype != 22 or epoch:
                rest.append(record(ctype, version, epoch, seq, body))
                continue
            pos = 0
            while pos < len(body):
                n = int.from_bytes(body[pos + 9:pos + 12], "big")
                pieces = fragments(body[pos:pos + 12 + n], size)
                for piece in reversed(pieces):
                    for _ in range(2 if len(pieces) > 1 else 1):
                        out.append((ts, src, sport, dst, dport, record(22, version, 0, seq, piece)))
                pos += 12 + n
        if rest:
            out.append((ts, src, sport, dst, dport, b"".join(rest)))
    return out


def session(path, **keys) -> dict:
    [s] = analyze([path], **keys)
    return s


def psk_keys() -> dict:
    return {"psks": [PSK]}


def rsa_keys() -> dict:
    return {"key_specs": [str(CORPUS / RSA_KEY)]}


CASES = [(PSK_CAPTURE, psk_keys), (RSA_CAPTURE, rsa_keys)]


@needs_corpus
@pytest.mark.parametrize("name,keys", CASES, ids=["dtls12-psk", "dtls10-rsa"])
def test_a_clean_capture_decrypts_and_verifies_both_finished(name, keys):
    s = session(CORPUS / name, **keys())
    assert s["transport"] == "udp" and s["decryption"] == {"status": "decrypted", "detail": ""}
    assert [m["type"] for m in s["messages"]].count("Finished") == 2
    assert not s.get("anomalies")
    assert s["fingerprints"]["ja4"].startswith("dd")  # JA4: "d" for DTLS, then the version (d1, d2)
    assert "renegotiation" not in str(s.get("findings"))  # the cookie exchange's second ClientHello is not one


@needs_corpus
@pytest.mark.parametrize("name,keys", CASES, ids=["dtls12-psk", "dtls10-rsa"])
def test_fragmented_reordered_and_duplicated_handshake_fragments_change_nothing(tmp_path, name, keys):
    clean = session(CORPUS / name, **keys())
    grams = datagrams(CORPUS / name)
    cut = refragment(grams, 40)
    assert len(cut) > len(grams) + 6  # the ClientHellos are cut in several fragments (the Certificate in dozens)
    write(tmp_path / "cut.pcap", cut)
    s = session(tmp_path / "cut.pcap", **keys())
    assert message_list(s["messages"]) == message_list(clean["messages"])
    assert s["app_data"] == clean["app_data"]
    assert s["decryption"]["status"] == "decrypted"
    assert not s.get("anomalies")


def reverse_flights(grams: list[Datagram]) -> list[Datagram]:
    """One plaintext handshake message per datagram, and each side's run of them (a flight) sent last first."""
    single = refragment(grams, 1 << 24)  # no message is cut: one whole message per datagram
    out: list[Datagram] = []
    run: list[Datagram] = []
    for g in single + [(0.0, b"", 0, b"", 0, b"")]:
        rec = records(g[5])[0] if g[5] else None
        if run and (rec is None or rec[0] != 22 or rec[2] or g[1:3] != run[0][1:3]):
            out.extend((ts, *rest) for ts, (_, *rest) in zip((r[0] for r in run), reversed(run)))
            run = []
        if rec is not None and rec[0] == 22 and not rec[2]:
            run.append(g)
        elif g[5]:
            out.append(g)
    return out


DTLS_REAL = SAMPLES / "real" / "dtls"


@pytest.mark.parametrize("path,keys", [
    pytest.param(CORPUS / PSK_CAPTURE, psk_keys, id="dtls12-psk", marks=needs_corpus),
    pytest.param(CORPUS / RSA_CAPTURE, rsa_keys, id="dtls10-rsa", marks=needs_corpus),
    pytest.param(DTLS_REAL / "openssl-dtls12-ecdhe.pcap",
                 lambda: {"keylogs": [str(DTLS_REAL / "openssl-dtls12-ecdhe.keys")]}, id="openssl-dtls12-ecdhe"),
    pytest.param(DTLS_REAL / "gnutls-dtls12.pcap",
                 lambda: {"keylogs": [str(DTLS_REAL / "gnutls-dtls12.keys")]}, id="gnutls-dtls12"),
])
def test_a_flight_whose_datagrams_arrive_out_of_order_is_read_in_message_seq_order(tmp_path, path, keys):
    # a DTLS peer handles handshake messages by message_seq (RFC 6347 4.2.2): so must the state and the transcript
    clean = session(path, **keys())
    grams = datagrams(path)
    shuffled = reverse_flights(grams)
    firsts = [records(g[5])[0][4][0] for g in shuffled if records(g[5])[0][0] == 22 and not records(g[5])[0][2]]
    assert firsts != sorted(firsts, key=[records(g[5])[0][4][0] for g in refragment(grams, 1 << 24)].index)
    write(tmp_path / "reversed.pcap", shuffled)
    s = session(tmp_path / "reversed.pcap", **keys())
    assert message_list(s["messages"]) == message_list(clean["messages"])
    assert s["decryption"] == clean["decryption"] == {"status": "decrypted", "detail": ""}
    assert s["app_data"] == clean["app_data"]
    assert not s.get("anomalies")


def _real_dtls() -> list:
    paths = sorted(DTLS_REAL.glob("*.pcap")) + [SAMPLES / "real" / "webrtc" / "firefox-dtls13.pcap"]
    return [pytest.param(p, id=p.stem) for p in paths]


@pytest.mark.parametrize("path", _real_dtls())
def test_real_captures_delivered_out_of_order_read_the_same(tmp_path, path):
    # every run of datagrams a side sent back to back arrives last first: a Finished before the ChangeCipherSpec
    # that starts its epoch (DTLS 1.2), encrypted handshake records before the ServerHello and a client's first
    # application data before its Finished (DTLS 1.3), a flight's messages in reverse; as a peer, the analysis
    # holds what came early until what it depends on has come
    with open_capture(str(path)) as cap:
        rows = [(ts, lt, bytes(f)) for ts, lt, f in cap]
    (linktype,) = {lt for _, lt, _ in rows}
    frames = [(ts, f) for ts, _, f in rows]
    shuffled = reversed_runs(frames, linktype)
    assert [f for _, f in shuffled] != [f for _, f in frames]
    with open(tmp_path / "r.pcap", "wb") as f:
        w = PcapWriter(f, linktype)
        for ts, frame in shuffled:
            w.write(ts, frame)
    keys = {"keylogs": [str(path.with_suffix(".keys"))]}
    want, got = analyze([path], **keys), analyze([tmp_path / "r.pcap"], **keys)
    assert len(got) == len(want)

    def handshake(s: dict) -> list:  # (a ChangeCipherSpec is listed on arrival, the messages in message_seq order)
        return [(m["from"], m["type"]) for m in s["messages"]
                if m["type"] != "ChangeCipherSpec" and not m.get("retransmission")]

    for a, b in zip(want, got):
        assert handshake(b) == handshake(a)
        assert b["decryption"] == a["decryption"] == {"status": "decrypted", "detail": ""}
        assert {d: r["records"] for d, r in b["app_records"].items()} == \
            {d: r["records"] for d, r in a["app_records"].items()}
        assert {d: v["bytes"] for d, v in b["app_data"].items()} == {d: v["bytes"] for d, v in a["app_data"].items()}
        assert not b.get("anomalies")


@needs_corpus
def test_a_message_missing_from_the_capture_holds_back_the_rest_of_its_flight_only_until_the_peer_answers(tmp_path):
    single = refragment(datagrams(CORPUS / RSA_CAPTURE), 1 << 24)
    cert = [g for g in single if records(g[5])[0][0] == 22 and records(g[5])[0][4][0] == 11]
    assert len(cert) == 1
    single.remove(cert[0])
    write(tmp_path / "lost.pcap", single)
    clean = session(CORPUS / RSA_CAPTURE, **rsa_keys())
    s = session(tmp_path / "lost.pcap", **rsa_keys())
    assert message_list(s["messages"]) == [m for m in message_list(clean["messages"]) if m[1] != "Certificate"]
    # the records still authenticate; the Finished messages cannot be checked, and the session says why
    assert s["decryption"]["status"] == "decrypted" and s["app_data"] == clean["app_data"]
    assert {a["name"] for a in s["anomalies"]} == {"finished_unverifiable"}


@needs_corpus
def test_a_retransmitted_flight_is_listed_again_and_changes_nothing(tmp_path):
    grams = datagrams(CORPUS / PSK_CAPTURE)
    # the server's flight ServerHello, ServerHelloDone (frame 4, 5) sent again after it, as after a timeout
    again = [g for g in grams if records(g[5])[0][0] == 22 and g[5][13] in (2, 14) and records(g[5])[0][2] == 0]
    assert len(again) == 2
    i = grams.index(again[-1]) + 1
    write(tmp_path / "rtx.pcap", grams[:i] + again + grams[i:])
    clean = session(CORPUS / PSK_CAPTURE, **psk_keys())
    s = session(tmp_path / "rtx.pcap", **psk_keys())
    types = [(m["from"], m["type"], bool(m.get("retransmission"))) for m in s["messages"]]
    assert types.count(("server", "ServerHello", True)) == 1
    assert types.count(("server", "ServerHelloDone", True)) == 1
    assert types.count(("server", "ServerHello", False)) == 1
    assert s["app_data"] == clean["app_data"] and s["decryption"] == clean["decryption"]
    assert s["fingerprints"] == clean["fingerprints"] and s.get("findings") == clean.get("findings")


@needs_corpus
def test_a_new_association_on_the_same_addresses_is_a_new_session(tmp_path):
    grams = datagrams(CORPUS / PSK_CAPTURE)
    later = [(ts + 60, *rest) for ts, *rest in grams]
    write(tmp_path / "twice.pcap", grams + later)
    a, b = analyze([tmp_path / "twice.pcap"], psks=[PSK])
    assert (a["client"], a["server"]) == (b["client"], b["server"])
    assert a["app_data"] == b["app_data"] and b["decryption"]["status"] == "decrypted"
    assert a["end"]["reason"] == "a new DTLS association on the same addresses"


@needs_corpus
def test_keys_missing_or_wrong_are_explained(tmp_path):
    s = session(CORPUS / PSK_CAPTURE)
    assert s["decryption"]["status"] == "no-key" and "--psk" in s["decryption"]["detail"]
    assert ("client", "EncryptedHandshakeMessage") in message_list(s["messages"])
    s = session(CORPUS / PSK_CAPTURE, psks=["00" * 16])
    assert s["decryption"]["status"] == "failed" and "does not match" in s["decryption"]["detail"]
    assert "app_data" not in s
    s = session(CORPUS / RSA_CAPTURE, key_specs=[str(CORPUS / "keys/snakeoil-rsa.key")])
    assert s["decryption"]["status"] == "no-key" and "does not match the server certificate" in s["decryption"]["detail"]


@needs_corpus
def test_a_capture_that_starts_after_the_handshake(tmp_path):
    grams = [g for g in datagrams(CORPUS / PSK_CAPTURE) if any(r[2] for r in records(g[5]))]
    write(tmp_path / "late.pcap", grams)
    s = session(tmp_path / "late.pcap", psks=[PSK])
    assert (s["client"], s["server"]) == ("127.0.0.1:54273", "127.0.0.1:4433")  # the lower port serves
    assert s["decryption"]["status"] == "no-key" and "not in the capture" in s["decryption"]["detail"]


@needs_corpus
def test_damaged_datagrams_are_anomalies_not_errors(tmp_path):
    grams = datagrams(CORPUS / PSK_CAPTURE)
    bad = []
    for ts, src, sport, dst, dport, payload in grams:
        bad.append((ts, src, sport, dst, dport, payload))
        if payload[0] == 22 and payload[13] == 2:  # after the ServerHello: a record that claims too much,
            bad.append((ts, src, sport, dst, dport, payload[:11] + b"\xff\xff" + payload[13:40]))
            bad.append((ts, src, sport, dst, dport, payload + b"\x17\xfe"))  # stray bytes after the records
            frag = bytearray(payload)
            frag[13 + 9:13 + 12] = (5000).to_bytes(3, "big")  # a fragment longer than its message
            bad.append((ts, src, sport, dst, dport, bytes(frag)))
    write(tmp_path / "bad.pcap", bad)
    s = session(tmp_path / "bad.pcap", psks=[PSK])
    names = {a["name"] for a in s["anomalies"]}
    assert {"bad_record_header", "trailing_bytes", "malformed_handshake_fragment"} <= names
    assert s["decryption"]["status"] == "decrypted"  # the rest of the session is still read


def test_record_header_recognition():
    hello = record(22, 0xFEFD, 0, 0, b"\x01" + b"\0" * 11)
    assert looks_like_dtls(hello) and whole_records(hello) and whole_records(hello + hello)
    assert looks_like_dtls(record(23, 0x0100, 1, 5, b"x"))  # OpenSSL's pre-standard DTLS 1.0
    assert not looks_like_dtls(record(22, 0x0303, 0, 0, b"x"))  # a TLS version
    assert not looks_like_dtls(record(30, 0xFEFD, 0, 0, b"x"))  # an unknown content type
    assert not whole_records(hello + b"\0")
    assert not whole_records(hello[:-1])


def test_fragment_reassembly_in_any_order():
    r = _Reassembly(11, 10)
    assert not r.add(6, b"ghij")
    assert not r.add(0, b"abc")
    assert not r.add(2, b"cd")  # overlaps what is there
    assert r.add(4, b"ef")
    assert bytes(r.data) == b"abcdefghij"
    assert _Reassembly(14, 0).add(0, b"")  # ServerHelloDone: empty


@needs_corpus
@pytest.mark.parametrize("seed", range(4))
def test_damaged_dtls_datagrams_never_hit_an_internal_error(seed, tmp_path):
    import random

    rng = random.Random(seed)
    for name, keys in CASES + [("captures/snakeoil-dtls.pcap", lambda: {"key_specs": [str(CORPUS / "keys/snakeoil-rsa.key")]})]:
        damaged = []
        for ts, src, sport, dst, dport, payload in datagrams(CORPUS / name):
            data = bytearray(payload)
            for _ in range(rng.randint(0, 3)):
                i = rng.randrange(len(data))
                data[i] = rng.randrange(256) if rng.random() < 0.5 else data[i] ^ (1 << rng.randrange(8))
            if rng.random() < 0.2:
                data = data[:rng.randrange(len(data) + 1)]
            damaged.append((ts, src, sport, dst, dport, bytes(data)))
        write(tmp_path / "damaged.pcap", damaged)
        for s in analyze([tmp_path / "damaged.pcap"], **keys()):
            assert not [a for a in s.get("anomalies") or [] if a["name"] == "internal_error"], (name, s["anomalies"])


def test_udp_that_is_not_dtls_is_dropped_at_decode_and_dtls_on_any_port_is_kept():
    from dissector.net.decode import decode_tcp

    hello = record(22, 0xFEFD, 0, 0, b"\x01" + b"\0" * 40)
    for sport, dport in ((40000, 5684), (5684, 40000), (53, 53)):  # CoAP over DTLS, and a made-up port pair
        t = decode_tcp(1, udp_frame(b"\x0a\0\0\1", sport, b"\x0a\0\0\2", dport, hello))
        assert t[7] == UDP_DATAGRAM and (t[3], t[4]) == (sport, dport) and bytes(t[8]) == hello
    rtp = bytes([0x80, 0x60]) + bytes(170)
    assert decode_tcp(1, udp_frame(b"\x0a\0\0\1", 16384, b"\x0a\0\0\2", 16385, rtp)) is None
    assert decode_tcp(1, udp_frame(b"\x0a\0\0\1", 5353, b"\x0a\0\0\2", 53, b"\x16\x03\x01" + bytes(40))) is None  # TLS


def test_dtls_srtp_and_connection_id_extensions_are_parsed():
    # use_srtp (RFC 5764: WebRTC's DTLS carries the media keys' profiles) and connection_id (RFC 9146)
    from dissector.buffer import Buffer
    from dissector.tls.extensions import parse_extensions

    srtp = b"\x00\x04\x00\x07\x00\x01" + b"\x02\xab\xcd"  # two profiles, a 2-byte MKI
    cid = b"\x04\x01\x02\x03\x04"
    block = b"\x00\x0e" + len(srtp).to_bytes(2, "big") + srtp + b"\x00\x36" + len(cid).to_bytes(2, "big") + cid
    exts = parse_extensions(Buffer(len(block).to_bytes(2, "big") + block), "client_hello")
    assert exts[0] == {"type": 14, "name": "use_srtp", "length": 9, "profiles": ["SRTP_AEAD_AES_128_GCM",
                       "SRTP_AES128_CM_HMAC_SHA1_80"], "mki": "abcd"}
    assert exts[1]["name"].startswith("connection_id") and exts[1]["cid"] == "01020304"


@needs_corpus
def test_dtls13_unified_header_records_are_listed_encrypted_and_never_start_a_flow(tmp_path):
    # RFC 9147 4: 001CSLEE. After a DTLS handshake, such records join its flow as encrypted records; alone (no
    # DTLS flow on the addresses) they are nothing; a connection ID (C) or a length past the datagram is an anomaly
    grams = datagrams(CORPUS / PSK_CAPTURE)
    ts, src, sport, dst, dport, _ = grams[-1]
    handshake_epoch = bytes([0b00101110, 0x00, 0x07, 0x00, 0x03]) + b"abc"  # S: 16-bit seq, L: length, epoch 2
    app_epoch = bytes([0b00100011, 0x09]) + b"rest of datagram"  # 8-bit seq, no length, epoch 3
    with_cid = bytes([0b00111110, 0, 0, 0, 0])
    too_long = bytes([0b00101110, 0x00, 0x08, 0x01, 0x00]) + b"x"
    extra = [(ts + 1, src, sport, dst, dport, handshake_epoch + app_epoch), (ts + 2, src, sport, dst, dport, with_cid),
             (ts + 3, src, sport, dst, dport, too_long)]
    write(tmp_path / "u.pcap", grams + extra)
    [s] = analyze([tmp_path / "u.pcap"], psks=[PSK])
    assert [m["type"] for m in s["messages"]][-1] == "EncryptedHandshakeMessage"
    assert [a["name"] for a in s["anomalies"]] == ["bad_record_header", "bad_record_header"]
    write(tmp_path / "alone.pcap", extra)
    assert analyze([tmp_path / "alone.pcap"]) == []
