"""The OAuth2 sample (the serve web app's flow over TLS 1.3): every step labelled, secrets redacted."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import SAMPLES, analyze


def test_oauth2_flow_is_labelled_and_redacted():
    (s,) = analyze([SAMPLES / "oauth2.pcapng"], plugins=True)
    assert s["decryption"]["status"] == "decrypted" and s["alpn"] == "http/1.1"
    reqs = s["http"]["requests"]
    assert [(r["method"], r["target"].split("?")[0], r["status"]) for r in reqs] == [
        ("POST", "/login", 200), ("GET", "/basic", 200), ("GET", "/authorize", 302), ("POST", "/token", 200),
        ("GET", "/resource", 200)]
    assert [r["oauth2_step"] for r in reqs][2:] == ["authorization_request", "token_request", "resource_request"]
    assert reqs[1]["auth"]["scheme"] == "Basic" and reqs[1]["auth"]["user"] == "alice"
    assert reqs[4]["auth"]["scheme"] == "Bearer"
    text = json.dumps(s)
    for secret in ("wonderland", "demo-client-secret"):
        assert secret not in text  # redacted by default
    assert "<redacted" in text


def test_show_secrets_reveals_them():
    out = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(SAMPLES / "oauth2.pcapng"), "-f", "json",
                          "--show-secrets"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "wonderland" in out.stdout and "demo-client-secret" in out.stdout


def test_table_lists_the_requests():
    out = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(SAMPLES / "oauth2.pcapng")],
                         capture_output=True, text=True, timeout=120).stdout
    assert "HTTP/1.1 requests:" in out
    assert "GET localhost/basic -> 200 [Basic alice]" in out
    assert "[OAuth2 token_request]" in out and "wonderland" not in out
