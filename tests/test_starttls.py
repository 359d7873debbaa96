"""STARTTLS: TLS that starts in the middle of a cleartext protocol (SMTP here, PostgreSQL's SSLRequest)
is found, labelled and decrypted."""
from __future__ import annotations

import pytest

from dissector.capture.writer import PcapWriter
from dissector.endpoint.pair import Chunk, PairOptions, TLSPair
from dissector.endpoint.synth import synthesize
from tests.conftest import analyze

SMTP = [("server", b"220 mail.example ESMTP\r\n"), ("client", b"EHLO client.example\r\n"),
        ("server", b"250-mail.example\r\n250 STARTTLS\r\n"), ("client", b"STARTTLS\r\n"),
        ("server", b"220 2.0.0 Ready to start TLS\r\n")]
POSTGRES = [("client", b"\x00\x00\x00\x08\x04\xd2\x16\x2f"), ("server", b"S")]
MAIL = [("client", b"MAIL FROM:<a@example>\r\n"), ("server", b"250 OK\r\n")]


@pytest.mark.parametrize("preamble,port", [(SMTP, 25), (POSTGRES, 5432)], ids=["smtp", "postgres"])
def test_starttls_session_is_found_and_decrypted(tmp_path, preamble, port):
    with TLSPair(PairOptions()) as pair:
        result = pair.connect(MAIL)
    t0 = result.chunks[0].time
    clear = [Chunk(t0 - 0.01 + i * 0.001, sender, data, "data") for i, (sender, data) in enumerate(preamble)]
    frames = synthesize(clear + list(result.chunks), server_port=port)
    with open(tmp_path / "starttls.pcap", "wb") as f:
        w = PcapWriter(f)
        for ts, frame in frames:
            w.write(ts, frame)
    (tmp_path / "k.keys").write_text(result.keylog)
    (s,) = analyze([tmp_path / "starttls.pcap"], keylogs=[str(tmp_path / "k.keys")])
    assert s["server"].endswith(f":{port}") and s["version"] == "TLS 1.3"
    types = [m["type"] for m in s["messages"]]
    assert types[:2] == ["ClientHello", "ServerHello"] and "Finished" in types
    assert s["decryption"]["status"] == "decrypted"
    assert s["app_data"]["client"]["bytes"] == len(MAIL[0][1])
    assert s["upgrade"] == {25: "STARTTLS (SMTP or FTP)", 5432: "STARTTLS (PostgreSQL)"}[port]


@pytest.mark.parametrize("plugins", [False, True], ids=["no-plugins", "plugins"])
def test_tls_inside_an_http_proxy_tunnel_is_found_and_decrypted(plugins):
    # curl through tinyproxy (samples/real/proxy-connect: CONNECT www.example.test:443, the proxy's 200, then
    # TLS 1.3 to nginx inside the tunnel). Before, the flow was plain HTTP (with plugins) or ignored.
    from tests.conftest import SAMPLES

    real = SAMPLES / "real"
    [s] = analyze([real / "proxy-connect.pcap"], keylogs=[real / "proxy-connect.keys"], plugins=plugins)
    assert s["server"].endswith(":3128") and not s.get("cleartext")
    assert (s["version"], s["sni"], s["decryption"]["status"]) == ("TLS 1.3", "www.example.test", "decrypted")
    assert s["upgrade"] == "HTTP CONNECT www.example.test:443"
    if plugins:
        assert [(r["method"], r["target"], r["status"]) for r in s["http"]["requests"]] == [("GET", "/", 200)]


def test_upgrade_names():
    from dissector.pipeline import _upgrade_name

    assert _upgrade_name(b"CONNECT www.example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n") == \
        "HTTP CONNECT www.example.test:443"
    assert _upgrade_name(b"CONNECT [::1]:8443\r\n") == "HTTP CONNECT [::1]:8443"
    assert len(_upgrade_name(b"CONNECT " + b"a" * 5000)) == len("HTTP CONNECT ") + 256  # bounded
    assert _upgrade_name(b"* OK IMAP4rev1 ready\r\n") == "STARTTLS (IMAP)"
    assert _upgrade_name(b"\x00\x00\x00\x08\x04\xd2\x16\x2f") == "STARTTLS (PostgreSQL)"
