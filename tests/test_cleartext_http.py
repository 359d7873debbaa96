"""Plain HTTP on TCP: with plugins on, it becomes a session the HTTP plugin reads, and credentials sent
in the clear are findings. Without plugins it is counted as a non-TLS flow and skipped."""
from __future__ import annotations

import base64

from dissector.capture.writer import PcapWriter
from dissector.endpoint.pair import Chunk
from dissector.endpoint.synth import synthesize
from tests.conftest import analyze

BASIC = base64.b64encode(b"alice:wonderland").decode()
REQUEST = (f"GET /admin HTTP/1.1\r\nHost: intranet.example\r\nAuthorization: Basic {BASIC}\r\n"
           "Cookie: session=s3cr3t\r\n\r\n").encode()
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            b"Set-Cookie: session=n3w; Path=/\r\n\r\nhello")


def write_capture(path) -> None:
    frames = synthesize([Chunk(1.0, "client", REQUEST, "data"), Chunk(1.001, "server", RESPONSE, "data")],
                        server_port=80, start=0.999)
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for ts, frame in frames:
            w.write(ts, frame)


def test_plain_http_is_read_and_its_credentials_are_findings(tmp_path):
    write_capture(tmp_path / "http.pcap")
    (s,) = analyze([tmp_path / "http.pcap"], plugins=True)
    assert s["cleartext"] is True and s["version"] is None and s["server"].endswith(":80")
    (r,) = s["http"]["requests"]
    assert (r["method"], r["target"], r["status"]) == ("GET", "/admin", 200)
    assert r["auth"]["scheme"] == "Basic" and r["auth"]["user"] == "alice"
    assert "wonderland" not in str(s) and "s3cr3t" not in str(s)
    ids = {f["id"] for f in s["findings"]}
    assert {"basic_auth_cleartext", "cookie_sent_cleartext", "cookie_set_cleartext"} <= ids


def test_without_plugins_plain_http_is_only_counted(tmp_path):
    write_capture(tmp_path / "http.pcap")
    assert analyze([tmp_path / "http.pcap"]) == []
