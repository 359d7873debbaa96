"""`dissector analyze --format explain`: each session told in sentences, from the session document. Real captures
(samples/real); each sentence checked is one the capture's facts call for, and one it must not say."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import SAMPLES

REAL = SAMPLES / "real"


def explain(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "dissector", "analyze", *args, "-f", "explain", "-q"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def keylog(name: str) -> list[str]:
    return [str(REAL / f"{name}.pcap"), "--keylog", str(REAL / f"{name}.keys")]


def test_a_tls13_session_from_connection_to_close():
    text = explain(*keylog("openssl-tls13"))
    assert text.startswith("Session 0: 10.99.0.2:")
    for sentence in ("The TCP connection opened in", "The client offered TLS 1.3 with 3 cipher suite(s)",  # (its SCSV is not a suite)
                     "for the server name localhost", "The server chose TLS 1.3 and TLS_AES_256_GCM_SHA384, with an "
                     "ephemeral x25519 key exchange", "The server presented a certificate for CN=localhost",
                     "It signed the handshake with the certificate's key",
                     "both Finished messages matched the handshake", "HTTP/1.0: GET / -> 200",
                     "closed the session properly (close_notify)", "Summary: 1 TLS session(s)"):
        assert sentence in text, sentence
    assert "rejected" not in text and "not decrypted" not in text


def test_rsa_key_exchange_and_resumption_and_0rtt_rejected():
    rsa = explain(str(REAL / "openssl-tls12-rsa.pcap"), "--key", str(REAL / "openssl-tls12-rsa.key.pem"))
    assert "the client sent the pre-master secret encrypted to the server's RSA key" in rsa
    rejected = explain(*keylog("openssl-tls13-0rtt-rejected")).split("\n\n")[1]
    assert "it also brought a ticket to resume an earlier session and 0-RTT early data" in rejected
    assert "It resumed an earlier session, so no certificate was needed" in rejected
    assert "The client's 0-RTT data (18 bytes) was rejected" in rejected


def test_what_the_capture_cannot_show_is_said_as_such():
    text = explain(str(REAL / "quic" / "chromium-h3.pcap"))  # no key log
    assert "Over UDP there is no connection to open" in text
    assert "It was not decrypted: TLS 1.3 session: a key log" in text
    assert "application data record(s) went by, encrypted" in text


@pytest.mark.parametrize("name,sentence", [
    ("go-ech", "Encrypted Client Hello: accepted (the real server name was secret.example.test)"),
    ("openssl-tls12-mtls", "The client authenticated too (CN=dissector test client)"),
    ("openssl-tls13-ocsp-revoked", "It stapled a revocation answer: OCSP revoked since 2026-11-01"),
    ("gnutls-tls13-rawpk", "with a raw public key (RSA), not a certificate"),
    ("https-proxy-connect", "It runs inside a proxy tunnel: TLS began after HTTP CONNECT www.example.test:443 inside "
                            "TLS session 0"),
    ("chromium-h2-proxy", "It runs inside a proxy tunnel: TLS began after HTTP/2 CONNECT browser.example.test:443 "
                          "inside TLS session 3"),
    ("proxy-connect-auth", "TLS began after HTTP CONNECT www.example.test:443, with Basic credentials for user alice "
                           "sent to the proxy in the clear."),
])
def test_what_a_session_did_is_told(name, sentence):
    args = keylog(name) + (["--key", str(REAL / f"{name}.ech.pem")] if name == "go-ech" else [])
    text = explain(*args)
    assert sentence in text
    assert "The capture starts after the TCP connection opened. TLS began after HTTP" not in text  # (a tunnel's)


def test_the_module_imports_first_and_alone():
    # (no import cycle with formats.py, whichever is imported first)
    code = "import dissector.output.explain as e; import dissector.output.formats as f; print(e.ExplainWriter.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ExplainWriter", out.stderr
