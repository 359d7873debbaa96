"""TLS inside EAP (802.1X): real captures of hostapd and wpa_supplicant / eapol_test (samples/real/eap,
make_eap_captures.sh) and of FreeRADIUS with eapol_test (make_freeradius_captures.sh), over EAPOL frames and over
RADIUS. Every handshake message is labelled as tshark labels it,
the TLS 1.2 sessions decrypt with the EAP server's RSA key (both Finished verified), and what PEAP and EAP-TTLS carry
inside the tunnel is the application data."""
from __future__ import annotations

import functools
import subprocess

import pytest

from dissector.tls.constants import ALERT_DESCRIPTIONS, HANDSHAKE_TYPES, name_of
from tests.conftest import SAMPLES, analyze, needs_tshark

EAP = SAMPLES / "real" / "eap"
KEY = str(EAP / "eap-server.key.pem")
NAMES = sorted(p.stem for p in EAP.glob("*.pcap"))
# capture -> (method, TLS version, outcome, identity)
EXPECTED = {
    "eapol-eap-tls12-rsa": ("EAP-TLS", "TLS 1.2", "Success", "eap-client"),
    "eapol-eap-tls13": ("EAP-TLS", "TLS 1.3", "Success", "eap-client"),
    "eapol-peap-mschapv2": ("PEAP", "TLS 1.2", "Success", "alice"),
    "eapol-eap-tls-unknown-ca": ("EAP-TLS", "TLS 1.2", "Failure", "eap-client"),
    "sll2-eap-tls12-rsa": ("EAP-TLS", "TLS 1.2", "Success", "eap-client"),  # `tcpdump -i any` on the authenticator
    "radius-eap-tls12-rsa": ("EAP-TLS", "TLS 1.2", "Success", "eap-client"),
    "radius-eap-tls13": ("EAP-TLS", "TLS 1.3", "Success", "eap-client"),
    "radius-peap-mschapv2": ("PEAP", "TLS 1.2", "Success", "alice"),
    "radius-ttls-pap": ("EAP-TTLS", "TLS 1.2", "Success", "bob"),
    "freeradius-eap-tls12-rsa": ("EAP-TLS", "TLS 1.2", "Success", "eap-client"),
    "freeradius-eap-tls13": ("EAP-TLS", "TLS 1.3", "Success", "eap-client"),
    "freeradius-peap-mschapv2": ("PEAP", "TLS 1.2", "Success", "carol"),
    "freeradius-ttls-pap": ("EAP-TTLS", "TLS 1.2", "Success", "dave"),
}
RESUME = "freeradius-eap-tls12-resume"  # two authentications: the second resumes the first's TLS session
SINGLE = sorted(EXPECTED)


@functools.cache
def ours(name: str, keyed: bool = True) -> dict:
    [s] = analyze([EAP / f"{name}.pcap"], key_specs=[KEY] if keyed else [])
    return s


def test_the_captures_are_present():
    assert NAMES == sorted([*EXPECTED, RESUME])


@pytest.mark.parametrize("name", SINGLE)
def test_each_conversation_is_one_session_with_its_eap_facts(name):
    method, version, outcome, identity = EXPECTED[name]
    s = ours(name)
    carrier = "RADIUS" if "radius" in name else "EAPOL"
    assert s["transport"] == carrier.lower() and s["version"] == version
    assert {k: s["eap"][k] for k in ("carrier", "method", "outcome", "identity")} == {
        "carrier": carrier, "method": method, "outcome": outcome, "identity": identity}
    assert s["end"]["reason"] == f"EAP-{outcome}" and not s.get("anomalies")
    if carrier == "EAPOL":  # the supplicant's and the authenticator's MAC addresses
        assert (s["client"], s["server"]) == ("02:00:00:8e:00:02", "02:00:00:8e:00:01")
    else:  # the supplicant as the authenticator names it (Calling-Station-Id); the RADIUS server
        assert s["client"] == "02-00-00-00-00-01" and s["server"] == "127.0.0.1:1812"
        assert s["eap"]["authenticator"].startswith("127.0.0.1:")


@pytest.mark.parametrize("name", [n for n in SINGLE if EXPECTED[n][1] == "TLS 1.2" and EXPECTED[n][2] == "Success"])
def test_tls12_sessions_decrypt_with_the_eap_servers_rsa_key(name):
    s = ours(name)
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    assert s["cipher_suite"] == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert [(m["from"], m["type"]) for m in s["messages"] if m["type"] == "Finished"] == [
        ("client", "Finished"), ("server", "Finished")]
    without = ours(name, keyed=False)
    assert without["decryption"]["status"] == "no-key" and "RSA" in without["decryption"]["detail"]


def test_what_the_tunnels_carry_is_the_application_data(tmp_path):
    # EAP-TTLS/PAP: the User-Name and User-Password AVPs (RFC 5281 11.2); PEAP: the inner identity and EAP-MSCHAPv2
    proc = subprocess.run(["python", "-m", "dissector", "follow", str(EAP / "radius-ttls-pap.pcap"), "--key", KEY,
                           "-s", "0", "--format", "raw"], capture_output=True, timeout=60, cwd=SAMPLES.parent)
    assert b"\x00\x00\x00\x01\x40\x00\x00\x0bbob\x00" in proc.stdout and b"test-password-2" in proc.stdout
    peap = subprocess.run(["python", "-m", "dissector", "follow", str(EAP / "eapol-peap-mschapv2.pcap"), "--key", KEY,
                           "-s", "0", "--format", "raw"], capture_output=True, timeout=60, cwd=SAMPLES.parent).stdout
    assert b"\x01alice" in peap and b"\x1a\x02" in peap  # Identity alice, an MSCHAPv2 Response


def test_a_resumed_eap_tls_session_decrypts_with_the_master_secret_of_the_first():
    # FreeRADIUS's TLS session cache: the second authentication resumes by session ID, with no Certificate; the
    # RSA key only unlocks the first, whose master secret the second reuses
    first, second = analyze([EAP / f"{RESUME}.pcap"], key_specs=[KEY])
    assert (first["resumed"], second["resumed"]) == (False, True)
    assert [(m["from"], m["type"]) for m in second["messages"]] == [
        ("client", "ClientHello"), ("server", "ServerHello"), ("server", "ChangeCipherSpec"), ("server", "Finished"),
        ("client", "ChangeCipherSpec"), ("client", "Finished")]
    assert second["messages"][0]["session_id"] == first["messages"][1]["session_id"] != ""
    assert first["decryption"] == second["decryption"] == {"status": "decrypted", "detail": ""}
    assert first["eap"]["outcome"] == second["eap"]["outcome"] == "Success"
    alone = analyze([EAP / f"{RESUME}.pcap"], key_specs=[])
    assert [s["decryption"]["status"] for s in alone] == ["no-key", "no-key"]


def test_tls13_eap_tls_decrypts_with_freeradius_key_log():
    [s] = analyze([EAP / "freeradius-eap-tls13.pcap"], keylogs=[str(EAP / "freeradius-eap-tls13.keys")])
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    types = [(m["from"], m["type"]) for m in s["messages"] if m["type"] != "ChangeCipherSpec"]
    assert types == [("client", "ClientHello"), ("server", "ServerHello"), ("server", "EncryptedExtensions"),
                     ("server", "CertificateRequest"), ("server", "Certificate"), ("server", "CertificateVerify"),
                     ("server", "Finished"), ("client", "Certificate"), ("client", "CertificateVerify"),
                     ("client", "Finished")]
    # RFC 9190 2.5: the server's one-byte 0x00 application data says the handshake is over
    assert s["app_data"]["server"]["bytes"] == 1 and s["app_data"]["client"]["bytes"] == 0


def test_a_supplicant_that_does_not_trust_the_server_says_so():
    s = ours("eapol-eap-tls-unknown-ca")
    alerts = [(m["from"], m["level"], m["description"]) for m in s["messages"] if m["type"] == "Alert"]
    assert alerts == [("client", "fatal", "unknown_ca")]
    assert s["certificates"]["server"]["chain"][0]["subject"].startswith("CN=eap-server.example.test")


def _tshark_messages(name: str) -> list[tuple[str, str]]:
    """tshark's plaintext handshake messages, ChangeCipherSpecs and alerts, with their direction: EAP Requests
    (RADIUS Access-Challenges) come from the server, Responses (Access-Requests) from the client."""
    out = subprocess.run(["tshark", "-r", str(EAP / f"{name}.pcap"), "-T", "fields", "-e", "eap.code",
                          "-e", "tls.record.content_type", "-e", "tls.handshake.type", "-e", "tls.alert_message.desc",
                          "-E", "occurrence=a", "-E", "aggregator=,"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    messages = []
    for line in out.splitlines():
        code, ctypes, types, alerts = (line.split("\t") + ["", "", "", ""])[:4]
        side = "client" if code.split(",")[0] == "2" else "server"
        types_left = [int(t) for t in types.split(",") if t]
        alerts_left = [a for a in alerts.split(",") if a]
        for ctype in (int(c) for c in ctypes.split(",") if c):
            if ctype == 22:  # (these captures have their plaintext handshake messages before any CCS of a frame)
                messages += [(side, name_of(HANDSHAKE_TYPES, t)) for t in types_left]
                types_left = []
            elif ctype == 20:
                messages.append((side, "ChangeCipherSpec"))
            elif ctype == 21 and alerts_left:
                messages.append((side, f"Alert/{name_of(ALERT_DESCRIPTIONS, int(alerts_left.pop(0)))}"))
    return messages


# tshark 4.0 keeps one TLS session per UDP conversation: the second authentication's ClientHello and the rest of
# its handshake are shown as encrypted (test_a_resumed_eap_tls_session... checks them)
TSHARK_ONE_SESSION = pytest.mark.xfail(strict=True, reason="tshark 4.0 reads a second TLS handshake on the same "
                                                           "RADIUS conversation as encrypted records of the first")


@needs_tshark
@pytest.mark.parametrize("name", [*SINGLE, pytest.param(RESUME, marks=TSHARK_ONE_SESSION)])
def test_plaintext_messages_match_tshark(name):
    mine = []
    for s in analyze([EAP / f"{name}.pcap"]):
        for m in s["messages"]:
            if not m.get("encrypted"):
                mine.append((m["from"], m["type"] if m["type"] != "Alert" else f"Alert/{m['description']}"))
    theirs = _tshark_messages(name)
    assert mine == theirs
    assert any(t == "ServerHello" for _, t in mine)


def _frames(name: str) -> list[tuple[float, bytes]]:
    from dissector.capture.reader import open_capture

    with open_capture(str(EAP / f"{name}.pcap")) as cap:
        return [(ts, bytes(f)) for ts, _, f in cap]


def _write(path, frames, linktype: int = 1) -> None:
    from dissector.capture.writer import PcapWriter

    with open(path, "wb") as out:
        w = PcapWriter(out, linktype)
        for ts, f in frames:
            w.write(ts, f)


def _essentials(s: dict) -> tuple:
    return (s["client"], s["server"], s["eap"], [(m["from"], m["type"]) for m in s["messages"]], s["decryption"],
            s.get("app_data"))


def test_conversations_interleaved_and_retransmitted_read_the_same(tmp_path):
    # two RADIUS conversations through two authenticator ports, their packets interleaved, each sent twice (a
    # RADIUS retransmission, and the EAP packet in it a retransmission too); and an EAPOL conversation sent twice
    names = ["radius-eap-tls12-rsa", "radius-ttls-pap", "eapol-peap-mschapv2"]
    alone = {n: _essentials(ours(n)) for n in names}
    mixed = []
    for i, name in enumerate(names):
        frames = _frames(name)
        t0 = frames[0][0]
        mixed += [(1000.0 + (ts - t0) + i * 0.0001, f) for ts, f in frames for _ in range(2)]
    mixed.sort(key=lambda x: x[0])
    _write(tmp_path / "mixed.pcap", mixed)
    got = sorted((_essentials(s) for s in analyze([tmp_path / "mixed.pcap"], key_specs=[KEY])), key=str)
    assert got == sorted(alone.values(), key=str)


def test_a_supplicant_that_sends_to_the_group_address_is_paired_with_its_authenticator(tmp_path):
    # both ends of an 802.1X link may address the PAE group address 01:80:c2:00:00:03: the conversation is the
    # authenticator's, and the supplicant's frames join the authenticator it talks to
    group = bytes.fromhex("0180c2000003")
    frames = [(ts, group + f[6:]) for ts, f in _frames("eapol-eap-tls12-rsa")]
    _write(tmp_path / "group.pcap", frames)
    [s] = analyze([tmp_path / "group.pcap"], key_specs=[KEY])
    assert _essentials(s) == _essentials(ours("eapol-eap-tls12-rsa"))


def test_a_linux_cooked_capture_of_the_authenticator_reads_like_the_supplicants():
    # `tcpdump -i any` records only each frame's sender (SLL2): the same conversation, from the other side
    assert _essentials(ours("sll2-eap-tls12-rsa"))[:2] == _essentials(ours("eapol-eap-tls12-rsa"))[:2]
    mine, theirs = ours("sll2-eap-tls12-rsa"), ours("eapol-eap-tls12-rsa")
    assert [(m["from"], m["type"]) for m in mine["messages"]] == [(m["from"], m["type"]) for m in theirs["messages"]]
    assert mine["decryption"] == theirs["decryption"] == {"status": "decrypted", "detail": ""}


def test_damaged_eap_never_hits_an_internal_error(tmp_path):
    import random

    rng = random.Random(7)
    for name in NAMES:
        for _ in range(4):
            frames = [(ts, bytearray(f)) for ts, f in _frames(name)]
            for _ in range(rng.randint(1, 6)):
                _, f = rng.choice(frames)
                i = rng.randrange(14, len(f))
                f[i] = rng.randrange(256)
            _write(tmp_path / "d.pcap", [(ts, bytes(f)) for ts, f in frames])
            for s in analyze([tmp_path / "d.pcap"], key_specs=[KEY], plugins=True):
                assert not [a for a in s.get("anomalies") or [] if a["name"] in ("internal_error", "plugin_error")]


def _md4(data: bytes) -> bytes:
    """RFC 1320 MD4 (hashlib's OpenSSL 3 has none): the NT hash under MS-CHAPv2."""
    import struct

    def rotl(x, n):
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    msg = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = h
        for i in range(16):  # round 1
            k, s = i, (3, 7, 11, 19)[i % 4]
            a, b, c, d = d, rotl((a + ((b & c) | (~b & d)) + x[k]) & 0xFFFFFFFF, s), b, c
        for i in range(16):  # round 2
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a, b, c, d = d, rotl((a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999) & 0xFFFFFFFF, s), b, c
        for i in range(16):  # round 3
            k, s = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i], (3, 9, 11, 15)[i % 4]
            a, b, c, d = d, rotl((a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1) & 0xFFFFFFFF, s), b, c
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, (a, b, c, d))]
    return struct.pack("<4I", *h)


def _nt_response(password: str, challenge_hash: bytes) -> bytes:
    """RFC 2759 8.5 ChallengeResponse: the challenge hash DES-encrypted under three 7-byte parts of the NT hash."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    z = _md4(password.encode("utf-16-le")) + bytes(5)
    out = b""
    for i in range(3):
        k = int.from_bytes(z[i * 7:i * 7 + 7], "big")
        key = bytes(((k >> (49 - 7 * j)) & 0x7F) << 1 for j in range(8))  # 7 bits per byte, parity bit left 0
        enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # (one key three times: single DES)
        out += enc.update(challenge_hash) + enc.finalize()
    return out


def test_md4_of_rfc_1320():
    assert _md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert _md4(b"message digest").hex() == "d9130a8164549fe818874806e1c7014b"


@pytest.mark.parametrize("name,user,password", [("eapol-peap-mschapv2", "alice", "test-password-1"),
                                                ("radius-peap-mschapv2", "alice", "test-password-1"),
                                                ("freeradius-peap-mschapv2", "carol", "test-password-3")])
def test_the_mschapv2_hash_of_a_peap_tunnel_is_the_users_password_s(name, user, password):
    [s] = analyze([EAP / f"{name}.pcap"], key_specs=[KEY], plugins=True, show_secrets=True)
    inner = s["eap_tunnel"]
    assert (inner["tunnel"], inner["identity"], inner["auth"], inner["user"], inner["result"]) == (
        "PEAP", user, "MSCHAPv2", user, "ok")
    name_, _, _, _, nt_response, challenge_hash = inner["secret"].split(":")
    assert name_ == user and len(bytes.fromhex(challenge_hash)) == 8
    assert _nt_response(password, bytes.fromhex(challenge_hash)).hex() == nt_response  # john/hashcat would find it
    assert _nt_response("wrong-password", bytes.fromhex(challenge_hash)).hex() != nt_response


def test_the_pap_password_of_a_ttls_tunnel_is_redacted_unless_asked():
    [s] = analyze([EAP / "radius-ttls-pap.pcap"], key_specs=[KEY], plugins=True)
    assert s["eap_tunnel"] == {"tunnel": "EAP-TTLS", "identity": "bob", "auth": "PAP", "user": "bob",
                               "secret": "<redacted 15 chars>"}
    [shown] = analyze([EAP / "radius-ttls-pap.pcap"], key_specs=[KEY], plugins=True, show_secrets=True)
    assert shown["eap_tunnel"]["secret"] == "test-password-2"
    [eap_tls] = analyze([EAP / "radius-eap-tls12-rsa.pcap"], key_specs=[KEY], plugins=True)
    assert "eap_tunnel" not in eap_tls  # (EAP-TLS has no inner authentication)


def test_credentials_lists_what_the_tunnels_carried():
    proc = subprocess.run(["python", "-m", "dissector", "credentials", *[str(EAP / f"{n}.pcap") for n in NAMES],
                           "--key", KEY, "--format", "json"], capture_output=True, text=True, timeout=120)
    import json

    rows = [(r["protocol"], r["kind"], r["user"], r["result"]) for r in json.loads(proc.stdout)["credentials"]]
    assert sorted(rows) == [("EAP-TTLS", "PAP", "bob", "ok"), ("EAP-TTLS", "PAP", "dave", "ok"),
                            ("PEAP", "MSCHAPv2", "alice", "ok"), ("PEAP", "MSCHAPv2", "alice", "ok"),
                            ("PEAP", "MSCHAPv2", "carol", "ok")]
    assert "test-password" not in proc.stdout


def test_explain_tells_the_eap_conversation():
    from dissector.output.explain import explain_session

    text = explain_session(ours("radius-ttls-pap"))
    assert "inside EAP-TTLS packets, carried by RADIUS" in text and "for identity 'bob': EAP-Success" in text
    assert text.rstrip().endswith("The EAP conversation ended with EAP-Success.") or \
        "The EAP conversation ended with EAP-Success." in text
    failed = explain_session(ours("eapol-eap-tls-unknown-ca"))
    assert "The client ended it with a fatal alert: unknown_ca. The EAP server answered EAP-Failure." in failed
    assert "802.1X EAPOL frames" in failed
