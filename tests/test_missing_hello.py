"""Sessions whose capture lacks a hello: it started a moment after the ClientHello, or only one direction was
captured (asymmetric routing, a one-way mirror port). Every key derives from the ClientHello's random and the
ServerHello's choices, so the key log is searched instead: its entries for randoms not seen are tried on the first
encrypted record, which only the right one opens (AEAD tag or MAC); without a ServerHello, the ClientHello's TLS 1.3
suites are tried. The Finished messages cannot be checked (their transcript starts with the missing hello), and the
session says so. Real captures of OpenSSL and GnuTLS peers (samples/real), rewritten without those packets."""
from __future__ import annotations

import pytest

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.net.decode import decode_frame
from tests.conftest import SAMPLES, analyze

REAL = SAMPLES / "real"
NAMES = ["openssl-tls10", "openssl-tls12-ecdhe", "openssl-tls12-rsa", "openssl-tls13", "gnutls-tls12",
         "gnutls-tls13", "gnutls-tls12-3des", "openssl-tls12-chacha20", "openssl-tls13-aes128gcm"]
SERVER_PORT = 4433


def _rewrite(tmp_path, name: str, keep) -> str:
    """The capture with only the frames `keep(is_client, payload)` accepts."""
    out = tmp_path / f"{name}.pcap"
    with open_capture(str(REAL / f"{name}.pcap")) as cap, open(out, "wb") as f:
        w = PcapWriter(f)
        for ts, linktype, frame in cap:
            seg = decode_frame(linktype, memoryview(frame))
            if seg is None or keep(seg.dport == SERVER_PORT, bytes(seg.payload)):
                w.write(ts, bytes(frame))
    return str(out)


def _is_client_hello(payload: bytes) -> bool:
    return len(payload) > 5 and payload[0] == 22 and payload[5] == 1


def _keys(name: str) -> dict:
    return {"keylogs": [str(REAL / f"{name}.keys")]}


def _whole(name: str) -> dict:
    [s] = analyze([REAL / f"{name}.pcap"], **_keys(name))
    assert s["decryption"]["status"] == "decrypted"
    return s


@pytest.mark.parametrize("name", NAMES)
def test_capture_that_starts_after_the_client_hello(tmp_path, name):
    [s] = analyze([_rewrite(tmp_path, name, lambda client, p: not (client and _is_client_hello(p)))], **_keys(name))
    whole = _whole(name)
    assert s["decryption"]["status"] == "decrypted", s["decryption"]
    assert "ClientHello is not in the capture" in s["decryption"]["detail"]
    assert s["app_data"] == whole["app_data"]
    assert (s["version"], s["cipher_suite"]) == (whole["version"], whole["cipher_suite"])
    assert "ClientHello" not in [m["type"] for m in s["messages"]]
    assert not [a for a in s.get("anomalies", []) if a["name"] != "finished_unverifiable"]


@pytest.mark.parametrize("name", NAMES)
def test_only_the_server_side_captured(tmp_path, name):
    [s] = analyze([_rewrite(tmp_path, name, lambda client, p: not client)], **_keys(name))
    whole = _whole(name)
    assert s["decryption"]["status"] == "decrypted", s["decryption"]
    assert s["app_data"]["server"] == whole["app_data"]["server"] and s["app_data"]["client"]["bytes"] == 0
    if name == "openssl-tls13":  # the HTTP plugin says why its response has no request
        [s] = analyze([_rewrite(tmp_path, name, lambda client, p: not client)], plugins=True, **_keys(name))
        [why] = [a["detail"] for a in s["anomalies"] if a["name"] == "http_response_without_request"]
        assert "no bytes from the client" in why


@pytest.mark.parametrize("name", NAMES)
def test_only_the_client_side_captured(tmp_path, name):
    [s] = analyze([_rewrite(tmp_path, name, lambda client, p: client)], **_keys(name))
    whole = _whole(name)
    if whole["version"] == "TLS 1.3":  # the suite is found among the ClientHello's; the keys need nothing else
        assert s["decryption"]["status"] == "decrypted", s["decryption"]
        assert "ServerHello is not in the capture" in s["decryption"]["detail"]
        assert (s["version"], s["cipher_suite"]) == (whole["version"], whole["cipher_suite"])
        assert s["app_data"]["client"] == whole["app_data"]["client"]
        # the HTTP plugin says why its request has no answer
        [s] = analyze([_rewrite(tmp_path, name, lambda client, p: client)], plugins=True, **_keys(name))
        [why] = [a["detail"] for a in s["anomalies"] if a["name"] == "http_response_error"]
        assert "no bytes from the server" in why
    else:  # TLS <= 1.2 keys derive from the ServerHello's random too: nothing can be done, and it is said
        assert s["decryption"] == {"status": "no-key",
                                   "detail": "no ServerHello in the capture: the negotiated cipher suite is unknown"}


def test_without_the_key_log_the_reason_is_the_missing_hello(tmp_path):
    path = _rewrite(tmp_path, "openssl-tls12-rsa", lambda client, p: not (client and _is_client_hello(p)))
    [s] = analyze([path], key_specs=[str(REAL / "openssl-tls12-rsa.key.pem")])
    # an RSA key opens the pre-master secret, but the master secret also needs the ClientHello's random
    assert s["decryption"]["status"] == "no-key" and "starts after the ClientHello" in s["decryption"]["detail"]


def test_a_key_log_without_the_session_says_so(tmp_path):
    path = _rewrite(tmp_path, "openssl-tls13", lambda client, p: not (client and _is_client_hello(p)))
    [s] = analyze([path], keylogs=[str(REAL / "gnutls-tls13.keys")])  # another session's key log
    assert s["decryption"]["status"] == "no-key"
