"""More TLS stacks as real peers, each checked here for its requests, cookie and redaction, and by
test_real_peers against tshark (messages, decrypted bytes):

- Go's crypto/tls and net/http (samples/real/go_tls_peer.go, Go 1.19): curl --http2 against a Go server
  (go-server-h2, TLS 1.3) and a Go client against nginx (go-client-tls12, TLS 1.2, the key log Go writes);
- the JDK's SunJSSE (samples/real/JavaTlsClient.java, OpenJDK 17): HttpsURLConnection against nginx with
  the RSA key exchange (java-client-tls12-rsa), decrypted with nginx's private key alone."""
from __future__ import annotations

import pytest

from tests.conftest import SAMPLES, analyze

REAL = SAMPLES / "real"


def _run(name: str) -> list[dict]:
    key = REAL / f"{name}.key.pem"
    if key.exists():  # the server's RSA key alone, no key log
        return analyze([REAL / f"{name}.pcap"], key_specs=[str(key)], plugins=True)
    return analyze([REAL / f"{name}.pcap"], keylogs=[REAL / f"{name}.keys"], plugins=True)


@pytest.mark.parametrize("name, version, alpn, requests", [
    ("go-server-h2", "TLS 1.3", "h2", [("GET", "/"), ("POST", "/login"), ("GET", "/api/me")]),
    ("go-client-tls12", "TLS 1.2", None, [("GET", "/"), ("POST", "/login")]),
    ("java-client-tls12-rsa", "TLS 1.2", None, [("GET", "/"), ("POST", "/login")]),
])
def test_sessions_decrypt_and_read(name, version, alpn, requests):
    [s] = _run(name)
    assert s["decryption"]["status"] == "decrypted"
    assert s["version"] == version and s["alpn"] == alpn
    assert {m["from"] for m in s["messages"] if m["type"] == "Finished"} == {"client", "server"}
    reqs = s["http"]["requests"]
    assert [(r["method"], r["target"]) for r in reqs] == requests
    assert all(r["status"] == 200 for r in reqs)
    login = next(r for r in reqs if r["target"] == "/login")
    assert [c["name"] for c in login["set_cookies"]] == ["session"] and "wonderland" not in str(login)
