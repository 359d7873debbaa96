"""DTLS captures of real OpenSSL and GnuTLS peers (samples/real/dtls, made by make_dtls_captures.sh over network
namespaces): our analysis must agree with tshark's on every UDP flow, with the same keys given to both: the
endpoints, version and cipher suite, the handshake messages in order with their direction (every retransmitted
copy listed, as tshark lists it; a fragmented message once, where it is complete) and the decrypted application
bytes of each direction. Each capture is also read with no keys, where the messages that travelled in the clear
must be tshark's and the rest encrypted on both sides."""
from __future__ import annotations

import functools
import json
import subprocess

import pytest

from dissector.tls.constants import ALERT_DESCRIPTIONS, HANDSHAKE_TYPES, name_of
from tests.conftest import SAMPLES, analyze, message_list, needs_tshark, plaintext

DTLS = SAMPLES / "real" / "dtls"
NAMES = sorted(p.stem for p in DTLS.glob("*.pcap"))


def key_modes(name: str) -> list[str]:
    modes = ["keylog", "none"]
    if (DTLS / f"{name}.key.pem").exists():
        modes.append("rsa-key")
    if (DTLS / f"{name}.psk").exists():
        modes.append("psk")
    return modes


CASES = [(n, m) for n in NAMES for m in key_modes(n)]


@functools.cache
def ours(name: str, mode: str) -> dict[str, dict]:
    kw: dict = {}
    if mode == "keylog":
        kw["keylogs"] = [str(DTLS / f"{name}.keys")]
    elif mode == "rsa-key":
        kw["key_specs"] = [str(DTLS / f"{name}.key.pem")]
    elif mode == "psk":
        kw["psks"] = [(DTLS / f"{name}.psk").read_text().strip()]
    return {s["client"]: s for s in analyze([DTLS / f"{name}.pcap"], **kw)}


def _tshark_opts(name: str, mode: str) -> list[str]:
    if mode == "keylog":
        return ["-o", f"tls.keylog_file:{DTLS / f'{name}.keys'}"]
    if mode == "rsa-key":
        return ["-o", f'uat:rsa_keys:"{DTLS / f"{name}.key.pem"}",""']
    if mode == "psk":
        return ["-o", f"dtls.psk:{(DTLS / f'{name}.psk').read_text().strip()}"]
    return []


def _as_list(x) -> list:
    return x if isinstance(x, list) else [] if x is None else [x]


def _hex(data: str) -> bytes:
    return bytes.fromhex(data.replace(":", ""))


@functools.cache
def theirs(name: str, mode: str) -> dict[str, dict]:
    """tshark's view per UDP flow, keyed by the client endpoint: messages and decrypted bytes per direction."""
    out = subprocess.run(["tshark", "-r", str(DTLS / f"{name}.pcap"), *_tshark_opts(name, mode), "-T", "json",
                          "--no-duplicate-keys", "-J", "ip ipv6 udp dtls data"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    flows: dict[str, dict] = {}
    client_of: dict[str, str] = {}
    for packet in json.loads(out):
        layers = packet["_source"]["layers"]
        if "dtls" not in layers:
            continue
        ip = layers.get("ip") or layers.get("ipv6")
        src = ip.get("ip.src") or ip.get("ipv6.src")
        six = "ipv6" in layers
        sport = layers["udp"]["udp.srcport"]
        me = f"[{src}]:{sport}" if six else f"{src}:{sport}"
        stream = layers["udp"]["udp.stream"]
        records = []
        for dtls in _as_list(layers["dtls"]):
            records += _as_list(dtls.get("dtls.record"))
        for rec in records:
            if rec.get("dtls.record.content_type") == "22" and stream not in client_of:
                hs = _as_list(rec.get("dtls.handshake"))
                if hs and isinstance(hs[0], dict) and hs[0].get("dtls.handshake.type") == "1":
                    client_of[stream] = me
        client = client_of.get(stream)
        if client is None:
            continue
        flow = flows.setdefault(client, {"messages": [], "client": b"", "server": b""})
        side = "client" if me == client else "server"
        for rec in records:
            ctype = rec.get("dtls.record.content_type")
            if ctype == "22":
                hs = [h for h in _as_list(rec.get("dtls.handshake")) if isinstance(h, dict)]
                if not hs:  # not decrypted: tshark shows the text "Encrypted Handshake Message"
                    flow["messages"].append((side, "EncryptedHandshakeMessage"))
                for h in hs:
                    length, offset = int(h["dtls.handshake.length"]), int(h["dtls.handshake.fragment_offset"])
                    if offset + int(h["dtls.handshake.fragment_length"]) == length:  # complete here
                        flow["messages"].append((side, name_of(HANDSHAKE_TYPES, int(h["dtls.handshake.type"]))))
            elif ctype == "20":
                flow["messages"].append((side, "ChangeCipherSpec"))
            elif ctype == "21":
                alert = rec.get("dtls.alert_message")
                desc = name_of(ALERT_DESCRIPTIONS, int(alert["dtls.alert_message.desc"])) if alert else None
                flow["messages"].append((side, "Alert", desc))
        for data in _as_list(layers.get("data")):
            flow[side] += _hex(data["data.data"])
    return flows


def test_dtls_captures_are_present():
    assert len(NAMES) >= 10, NAMES


@needs_tshark
@pytest.mark.parametrize("name,mode", CASES)
def test_sessions_versions_and_messages_match_tshark(name, mode):
    mine, tshark = ours(name, mode), theirs(name, mode)
    assert sorted(mine) == sorted(tshark)
    for client, s in mine.items():
        assert s["transport"] == "udp"
        assert message_list(s["messages"]) == tshark[client]["messages"], client
        assert not s.get("anomalies"), s["anomalies"]


@needs_tshark
@pytest.mark.parametrize("name,mode", [c for c in CASES if c[1] != "none"])
def test_decrypted_application_data_matches_tshark(name, mode):
    import hashlib

    mine, tshark = ours(name, mode), theirs(name, mode)
    for client, s in mine.items():
        assert s["decryption"] == {"status": "decrypted", "detail": ""}
        for side in ("client", "server"):
            want = tshark[client][side]
            assert want, (client, side)
            assert s["app_data"][side] == {"bytes": len(want), "sha256": hashlib.sha256(want).hexdigest()}


@pytest.mark.parametrize("name", NAMES)
def test_both_finished_messages_verify(name, monkeypatch):
    from dissector.tls.connection import TLSConnection

    seen = []
    close = TLSConnection.close
    monkeypatch.setattr(TLSConnection, "close", lambda self, ts: (seen.append(self.finished_verified), close(self, ts)))
    ours.cache_clear()
    sessions = ours(name, "keylog")
    assert seen and all(n == 2 for n in seen) and len(seen) == len(sessions)


def test_what_the_captures_exercise():
    # the features the capture script was asked for are really in the captures
    lossy = ours("openssl-dtls12-lossy", "keylog")
    [s] = lossy.values()
    assert sum(1 for m in s["messages"] if m.get("retransmission")) >= 5
    [s] = ours("openssl-dtls12-fragmented", "keylog").values()
    assert [m["type"] for m in s["messages"]][:6] == ["ClientHello", "HelloVerifyRequest", "ClientHello", "ServerHello",
                                                      "Certificate", "ServerKeyExchange"]
    a, b = sorted(ours("openssl-dtls12-resume", "keylog").values(), key=lambda s: s["id"])
    assert (a["resumed"], b["resumed"]) == (False, True)
    [s] = ours("openssl-dtls12-ipv6", "keylog").values()
    assert s["client"].startswith("[fd99::")
    assert {s["version"] for n in NAMES for s in ours(n, "keylog").values()} == {"DTLS 1.0", "DTLS 1.2"}


def test_a_resumed_association_decrypts_from_the_first_ones_ticket(tmp_path):
    # the key log of the first association alone: the second resumes its ticket, whose master secret is cached
    lines = [ln for ln in (DTLS / "openssl-dtls12-resume.keys").read_text().splitlines() if ln.startswith("CLIENT_RANDOM")]
    (tmp_path / "first.keys").write_text(lines[0] + "\n")
    a, b = sorted(analyze([DTLS / "openssl-dtls12-resume.pcap"], keylogs=[str(tmp_path / "first.keys")]),
                  key=lambda s: s["id"])
    assert b["resumed"] and b["decryption"]["status"] == "decrypted" and b["app_data"] == a["app_data"]


def test_an_association_ends_at_close_notify_both_ways_and_late_datagrams_start_nothing(tmp_path):
    # UDP has no FIN: the session is reported when both sides have sent close_notify (live output does not wait for
    # the idle timeout); a copy of the last datagram arriving later is not a new session
    from dissector.capture.reader import open_capture
    from dissector.capture.writer import PcapWriter

    [s] = ours("openssl-dtls12-ecdhe", "keylog").values()
    assert s["end"]["reason"] == "close_notify"
    with open_capture(str(DTLS / "openssl-dtls12-ecdhe.pcap")) as cap:
        frames = [(ts, bytes(frame)) for ts, _, frame in cap]
    with open(tmp_path / "late.pcap", "wb") as f:
        w = PcapWriter(f)
        for ts, frame in frames + [(frames[-1][0] + 1, frames[-1][1])]:
            w.write(ts, frame)
    [again] = analyze([tmp_path / "late.pcap"], keylogs=[str(DTLS / "openssl-dtls12-ecdhe.keys")])
    assert again["app_data"] == s["app_data"]


def test_dtls_10_is_a_legacy_version_finding():
    for name in ("openssl-dtls10", "gnutls-dtls10"):
        [s] = ours(name, "keylog").values()
        assert "legacy_protocol_version" in {f["id"] for f in s["findings"]}, name
    [s] = ours("openssl-dtls12-ecdhe", "keylog").values()
    assert "legacy_protocol_version" not in {f["id"] for f in s["findings"]}


WEBRTC = SAMPLES / "real" / "webrtc" / "chromium-dtls13.pcap"


def test_chromium_webrtc_dtls13_is_labelled_and_its_encrypted_records_listed():
    # headless Chromium's WebRTC data channel between two RTCPeerConnections (webrtc/make_webrtc_capture.sh):
    # BoringSSL negotiates DTLS 1.3, with a post-quantum key share that fragments the ClientHello over two
    # datagrams; STUN shares the 4-tuple. No key log exists for WebRTC: the records after the ServerHello (RFC 9147
    # unified header) are listed as encrypted, and the status says why nothing is decrypted.
    [s] = analyze([WEBRTC])
    assert (s["transport"], s["version"], s["cipher_suite"]) == ("udp", "DTLS 1.3", "TLS_AES_128_GCM_SHA256")
    types = [(m["from"], m["type"]) for m in s["messages"]]
    assert types[:2] == [("client", "ClientHello"), ("server", "ServerHello")]
    assert {t for _, t in types[2:]} == {"EncryptedHandshakeMessage"} and {d for d, _ in types[2:]} == {"client", "server"}
    assert s["app_records"]["client"]["records"] > 0 and s["app_records"]["server"]["records"] > 0
    assert s["decryption"]["status"] == "no-key" and "DTLS 1.3" in s["decryption"]["detail"]
    hello = s["messages"][0]
    srtp = next(e for e in hello["extensions"] if e["name"] == "use_srtp")
    assert "SRTP_AEAD_AES_128_GCM" in srtp["profiles"] and "X25519MLKEM768" in str(hello["extensions"])
    assert s["fingerprints"]["ja4"].startswith("dd3")  # JA4: DTLS, its highest offered version 1.3
    assert not s.get("anomalies") and "no_secure_renegotiation" not in str(s.get("findings"))


@needs_tshark
def test_chromium_webrtc_plaintext_handshake_matches_tshark():
    # tshark 4.0 reads the plaintext part (it does not parse the unified header): the same two messages, the
    # ClientHello complete in its second fragment
    out = subprocess.run(["tshark", "-r", str(WEBRTC), "-Y", "dtls.handshake", "-T", "fields", "-e", "udp.srcport",
                          "-e", "dtls.handshake.type", "-e", "dtls.handshake.fragment_offset",
                          "-e", "dtls.handshake.fragment_length", "-e", "dtls.handshake.length"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    complete = [int(t) for _, t, off, flen, n in (line.split("\t") for line in out.splitlines())
                if int(off) + int(flen) == int(n)]
    [s] = analyze([WEBRTC])
    assert [name_of(HANDSHAKE_TYPES, t) for t in complete] == [m["type"] for m in s["messages"][:2]]
    assert len(out.splitlines()) == 3  # two fragments of the ClientHello, then the ServerHello


FIREFOX = SAMPLES / "real" / "webrtc" / "firefox-dtls13.pcap"
FIREFOX_KEYS = FIREFOX.with_suffix(".keys")


def _plaintext(path, keylogs) -> dict[str, bytes]:
    """The decrypted application bytes of each direction (all flows of the capture)."""
    data = {"client": b"", "server": b""}
    for (_, direction), chunk in plaintext([path], keylogs).items():
        data[direction] += chunk
    return data


def test_firefox_webrtc_dtls13_decrypts_with_its_key_log(monkeypatch):
    # headless Firefox's WebRTC data channel (webrtc/make_webrtc_capture.sh firefox): NSS negotiates DTLS 1.3 and
    # logs its secrets. The unified-header records open: record numbers unmasked, "dtls13" key labels, the header
    # as associated data; both Finished verify against the transcript (TLS 1.3 style, without DTLS fields).
    from dissector.tls.connection import TLSConnection

    verified = []
    close = TLSConnection.close

    def spy(self, ts):
        verified.append((self.finished_verified, self.status))
        return close(self, ts)

    monkeypatch.setattr(TLSConnection, "close", spy)
    [s] = analyze([FIREFOX], keylogs=[FIREFOX_KEYS])
    assert verified == [(2, "decrypted")]
    assert (s["transport"], s["version"], s["alpn"]) == ("udp", "DTLS 1.3", "webrtc")
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    first = [(m["from"], m["type"]) for m in s["messages"] if not m.get("retransmission")]
    assert first[:10] == [("client", "ClientHello"), ("server", "ServerHello"), ("server", "EncryptedExtensions"),
                          ("server", "CertificateRequest"), ("server", "Certificate"), ("server", "CertificateVerify"),
                          ("server", "Finished"), ("client", "Certificate"), ("client", "CertificateVerify"),
                          ("client", "Finished")]
    assert [(m["from"], m["description"]) for m in s["messages"] if m["type"] == "Alert"] == [
        ("server", "close_notify"), ("client", "close_notify")]
    acks = [m for m in s["messages"] if m["type"] == "ACK"]
    assert acks and all(r[0] >= 2 for m in acks for r in m["records"])  # handshake epochs and later
    assert s["app_data"]["client"]["bytes"] > 100 and s["app_data"]["server"]["bytes"] > 100
    # SCTP inside: the data channel's label and the two messages of page.html
    plain = _plaintext(FIREFOX, [FIREFOX_KEYS])
    both = plain["client"] + plain["server"]
    assert b"chat" in both and both.count(b"ping") == both.count(b"pong") == 1
    assert (b"ping" in plain["client"]) != (b"pong" in plain["client"])  # one peer asks, the other answers


def test_firefox_webrtc_dtls13_without_keys_and_with_wrong_ones(tmp_path):
    [s] = analyze([FIREFOX])
    assert s["decryption"]["status"] == "no-key" and s["decryption"]["detail"].startswith("DTLS 1.3 session")
    assert {m["type"] for m in s["messages"][2:]} == {"EncryptedHandshakeMessage"}
    wrong = tmp_path / "wrong.keys"
    lines = [line.split() for line in FIREFOX_KEYS.read_text().splitlines() if line and not line.startswith("#")]
    wrong.write_text("".join(f"{label} {random} {secret[:-2]}{(int(secret[-2:], 16) ^ 1):02x}\n"
                             for label, random, secret in lines))
    [s] = analyze([FIREFOX], keylogs=[wrong])
    assert s["decryption"]["status"] == "failed" and "epoch 2 failed to decrypt" in s["decryption"]["detail"]
    assert _plaintext(FIREFOX, [wrong]) == {"client": b"", "server": b""}
