"""Encrypted Client Hello (RFC 9849) on real captures (samples/real, made by make_ech_captures.sh) against Go's
crypto/tls server, which holds an ECH key (shipped as NAME.ech.pem, the ECHConfig PEM file of RFC 9934):

- go-ech: Go's client, three connections: ECH accepted, accepted after a HelloRetryRequest, and rejected (the
  client offers a config whose key the server does not have);
- chromium-ech, firefox-ech: the browsers, which learn the ECHConfig from a DNS HTTPS record; Chromium's
  hellos go through a HelloRetryRequest (its first key shares are not P-256), and Firefox logs ECH_SECRET and
  ECH_CONFIG (RFC 9850) besides the TLS secrets.

Every client's key log names an accepted session by its inner ClientHello's random, which is encrypted.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from dissector.capture.reader import open_capture
from dissector.errors import KeyMaterialError, MalformedInput
from dissector.events import TLSMessage
from dissector.pipeline import Pipeline
from dissector.tls import ech
from tests.conftest import SAMPLES, analyze, needs_tshark, tshark_follow

REAL = SAMPLES / "real"
CAP, KEYS, ECH_PEM = REAL / "go-ech.pcap", REAL / "go-ech.keys", REAL / "go-ech.ech.pem"
INNER, PUBLIC = "secret.example.test", "public.example.test"
BROWSERS = ["chromium-ech", "firefox-ech"]


def _keylog_randoms(keys=KEYS) -> set[str]:
    return {line.split()[1] for line in keys.read_text().splitlines()
            if line and not line.startswith("#") and not line.startswith("ECH_")}


@functools.cache
def _client_hellos() -> list[tuple[int, bytes]]:
    """(flow id, body) of every ClientHello in the capture, in wire order."""
    out = []
    pipe = Pipeline()
    with open_capture(str(CAP)) as cap:
        for ts, linktype, frame in cap:
            out += [(ev.flow.id, bytes(ev.body)) for ev in pipe.feed(ts, linktype, frame)
                    if isinstance(ev, TLSMessage) and ev.code == 1]
    return out


def test_hpke_matches_rfc9180_test_vector():
    # RFC 9180 A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode; the first encryption
    sk = x25519.X25519PrivateKey.from_private_bytes(
        bytes.fromhex("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8"))
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    enc = bytes.fromhex("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
    shared = ech.dhkem_decap(0x0020, sk, pk, enc)
    assert shared.hex() == "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc"
    context = ech.Context(shared, 0x0020, 1, 1, b"Ode on a Grecian Urn")
    assert context.base_nonce.hex() == "56d890e5accaaf011cff4b7d"
    sealed = bytes.fromhex("f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a")
    assert context.open(b"Count-0", sealed) == b"Beauty is truth, truth beauty"
    assert context.seq == 1


def _check_accepted(s: dict, inner_opened: bool, keys=KEYS) -> None:
    assert s["sni"] == PUBLIC  # what travelled in the clear
    assert s["ech"]["status"] == "accepted"
    assert s["ech"]["inner_random"] == s["decryption"]["key_random"]
    assert s["ech"]["inner_random"] in _keylog_randoms(keys)
    hellos = [m for m in s["messages"] if m["type"] == "ClientHello"]
    assert all(m["random"] not in _keylog_randoms(keys) for m in hellos)  # the outer random names no TLS secret
    assert s["decryption"]["status"] == "decrypted"
    if inner_opened:
        assert s["ech"]["inner_sni"] == INNER and s["ech"]["public_name"] == PUBLIC and s["ech"]["config_id"] == 7
        assert [m["ech_inner"]["sni"] for m in hellos] == [INNER] * len(hellos)
        assert s["decryption"]["detail"] == ""  # the key log matched the inner random: no search needed
    else:
        assert "inner_sni" not in s["ech"] and not any("ech_inner" in m for m in hellos)
        assert "Encrypted Client Hello" in s["decryption"]["detail"]
    assert s["certificates"]["server"]["sni_match"] is True


def _check_rejected(s: dict) -> None:
    assert s["ech"]["status"] == "rejected" and "retry configs" in s["ech"]["detail"]
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    alerts = [m for m in s["messages"] if m["type"] == "Alert"]
    assert [(a["from"], a["description"]) for a in alerts][0] == ("client", "ech_required")


def test_the_server_ech_key_opens_the_inner_client_hellos():
    s0, s1, s2 = analyze([CAP], keylogs=[KEYS], key_specs=[str(ECH_PEM)], plugins=True)
    for s in (s0, s1):
        _check_accepted(s, inner_opened=True)
        assert [r["host"] for r in s["http"]["requests"]] == [INNER]
    assert [m["type"] for m in s1["messages"]][:5] == ["ClientHello", "HelloRetryRequest", "ChangeCipherSpec",
                                                       "ChangeCipherSpec", "ClientHello"]
    _check_rejected(s2)


def test_without_the_ech_key_the_inner_random_is_found_in_the_key_log():
    s0, s1, s2 = analyze([CAP], keylogs=[KEYS])
    _check_accepted(s0, inner_opened=False)
    _check_accepted(s1, inner_opened=False)
    _check_rejected(s2)


@pytest.mark.parametrize("name", BROWSERS)
def test_browsers_inner_hellos_open_with_the_server_ech_key(name):
    cap, keys = REAL / f"{name}.pcap", REAL / f"{name}.keys"
    sessions = analyze([cap], keylogs=[keys], key_specs=[str(REAL / f"{name}.ech.pem")], plugins=True)
    assert sessions
    for s in sessions:
        _check_accepted(s, inner_opened=True, keys=keys)
        assert s["ech"]["inner_sni"] != s["sni"]
        inner = [m["ech_inner"] for m in s["messages"] if m["type"] == "ClientHello"]
        assert {tuple(h["alpn"]) for h in inner} == {("h2", "http/1.1")}  # what the browser really offers
    assert [r["host"] for s in sessions for r in s.get("http", {}).get("requests", [])][0] == INNER
    if name == "chromium-ech":  # X25519MLKEM768 and X25519 key shares, a server that takes P-256 only
        assert all("HelloRetryRequest" in [m["type"] for m in s["messages"]] for s in sessions)


def test_firefox_key_log_ech_secret_opens_the_inner_hello():
    # NSS logs ECH_SECRET and ECH_CONFIG, named by the outer random (RFC 9850): no server key is needed
    keys = REAL / "firefox-ech.keys"
    assert {line.split()[0] for line in keys.read_text().splitlines()} >= {"ECH_SECRET", "ECH_CONFIG"}
    [s] = analyze([REAL / "firefox-ech.pcap"], keylogs=[keys], plugins=True)
    _check_accepted(s, inner_opened=True, keys=keys)
    assert [r["host"] for r in s["http"]["requests"]] == [INNER]


def test_ech_secret_and_config_lines_open_the_inner_hello(tmp_path):
    # The lines Firefox writes (above), here for Go's capture, also through a HelloRetryRequest: Go logs neither,
    # so they are derived from the server's ECH key, the shared secret as the client computed it.
    [key] = ech.load_ech_keys(str(ECH_PEM), ECH_PEM.read_bytes())
    lines = []
    for _, body in _client_hellos():
        offer = ech.outer_offer(body)
        if offer.enc and offer.config_id == key.config.config_id:
            random = body[2:34].hex()
            lines += [f"ECH_SECRET {random} {ech.decapsulate(key, offer.enc).hex()}",
                      f"ECH_CONFIG {random} {key.config.raw.hex()}"]
    assert len(lines) == 4  # the two accepted sessions; the second hello after the HRR reuses the context
    log = tmp_path / "ech.keys"
    log.write_text("\n".join(lines) + "\n" + KEYS.read_text())
    s0, s1, s2 = analyze([CAP], keylogs=[log])
    _check_accepted(s0, inner_opened=True)
    _check_accepted(s1, inner_opened=True)
    _check_rejected(s2)


def _ech_pem(path, config_id: int, public_name: str = PUBLIC, with_key: bool = True, key=None) -> bytes:
    key = key or x25519.X25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    contents = (bytes([config_id]) + b"\x00\x20" + len(public).to_bytes(2, "big") + public + b"\x00\x04\x00\x01\x00\x01"
                + b"\x00" + bytes([len(public_name)]) + public_name.encode() + b"\x00\x00")
    config = b"\xfe\x0d" + len(contents).to_bytes(2, "big") + contents
    text = b""
    if with_key:
        text += key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    b64 = base64.b64encode(len(config).to_bytes(2, "big") + config)
    text += b"-----BEGIN ECHCONFIG-----\n" + b64 + b"\n-----END ECHCONFIG-----\n"
    path.write_bytes(text)
    return text


def test_a_wrong_ech_key_with_the_same_config_id_is_an_anomaly(tmp_path):
    wrong = tmp_path / "wrong.pem"
    _ech_pem(wrong, 7)
    s0, s1, _ = analyze([CAP], keylogs=[KEYS], key_specs=[str(wrong)])
    for s in (s0, s1):
        assert [a["name"] for a in s["anomalies"]] == ["ech_undecryptable"]
        assert "config id 7" in s["anomalies"][0]["detail"]
        _check_accepted(s, inner_opened=False)  # the key log search still finds the inner random


def test_ech_key_files_that_cannot_be_used(tmp_path):
    public_only = tmp_path / "public.pem"
    _ech_pem(public_only, 7, with_key=False)
    with pytest.raises(KeyMaterialError, match="without a private key"):
        ech.load_ech_keys(str(public_only), public_only.read_bytes())
    other = tmp_path / "other.pem"
    text = _ech_pem(other, 7)
    other.write_bytes(x25519.X25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                                      NoEncryption())
                      + text[text.index(b"-----BEGIN ECHCONFIG"):])
    with pytest.raises(KeyMaterialError, match="carries its private key's public key"):
        ech.load_ech_keys(str(other), other.read_bytes())
    garbled = tmp_path / "garbled.pem"
    garbled.write_bytes(text.replace(text[text.index(b"-----BEGIN ECHCONFIG"):],
                                     b"-----BEGIN ECHCONFIG-----\n!!!\n-----END ECHCONFIG-----\n"))
    with pytest.raises(KeyMaterialError, match="not a base64 ECHConfigList"):
        ech.load_ech_keys(str(garbled), garbled.read_bytes())
    run = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(CAP), "--key", str(public_only)],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "without a private key" in run.stderr


def test_the_ech_key_loads_from_the_ech_config_pem_file():
    [key] = ech.load_ech_keys(str(ECH_PEM), ECH_PEM.read_bytes())
    assert (key.config.config_id, key.config.kem_id, key.config.public_name) == (7, 0x0020, PUBLIC)
    assert key.config.suites == ((1, 1), (1, 3))


@needs_tshark
@pytest.mark.parametrize("with_ech_key", [True, False])
@pytest.mark.parametrize("name", ["go-ech", *BROWSERS])
def test_the_keys_command_lets_tshark_decrypt_the_ech_sessions(tmp_path, name, with_ech_key):
    # tshark 4.0 knows no ECH: with the client's key log it cannot find the accepted sessions' secrets (named by
    # the inner random). `dissector keys` writes them under the outer random too; tshark then decrypts the same
    # bytes as we do.
    cap, keys, pem = REAL / f"{name}.pcap", REAL / f"{name}.keys", REAL / f"{name}.ech.pem"
    out = tmp_path / "out.keys"
    args = [sys.executable, "-m", "dissector", "keys", str(cap), "--keylog", str(keys), "-o", str(out)]
    if with_ech_key:
        args += ["--key", str(pem)]
    assert subprocess.run(args, capture_output=True).returncode == 0
    sessions = analyze([cap], keylogs=[keys], key_specs=[str(pem)] if with_ech_key else [])
    for s in sessions:
        client, server = tshark_follow(cap, s["id"], s["client"], out)
        if "app_data" not in s:  # a connection the browser opened ahead and never used
            assert (client, server) == (b"", b"")
            continue
        assert hashlib.sha256(client).hexdigest() == s["app_data"]["client"]["sha256"]
        assert hashlib.sha256(server).hexdigest() == s["app_data"]["server"]["sha256"]
    assert sum(s["app_data"]["server"]["bytes"] for s in sessions if "app_data" in s) > 100
    first = min(sessions, key=lambda s: s["id"])
    assert tshark_follow(cap, first["id"], first["client"], keys) == (b"", b"")  # the client's own log: no ECH


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 299), st.binary(max_size=8))
def test_damaged_client_hellos_raise_only_malformed_input(data, at, junk):
    # the outer hello (any bytes, or a real one with bytes changed) and a decrypted inner one that is garbage
    body = _client_hellos()[0][1] if len(data) % 2 else data
    body = body[:at] + junk + body[at + len(junk):]
    for fn in (lambda: ech.outer_offer(body), lambda: ech._decode_inner(data, body),
               lambda: ech.zero_hrr_confirmation(b"\x02\x00\x00\x00" + body)):
        try:
            fn()
        except MalformedInput:
            pass
