"""`dissector credentials`: the credentials every plugin found, across captures and protocols, redacted unless
--show-secrets; each says whether it travelled inside TLS and how the server answered."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from tests.conftest import SAMPLES

REAL = SAMPLES / "real"


def credentials(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dissector", "credentials", *args], capture_output=True, text=True,
                          timeout=120)


CAPTURES = [str(REAL / f"{n}.pcap") for n in ("cleartext-ftp", "starttls-ftp", "cleartext-imap", "starttls-imap",
                                             "nginx-h1")]
KEYS = ["--keylog", str(REAL / "starttls-ftp.keys"), "--keylog", str(REAL / "starttls-imap.keys"),
        "--keylog", str(REAL / "nginx-h1.keys")]


def test_every_protocols_credentials_in_one_list():
    run = credentials(*CAPTURES, *KEYS, "-f", "json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)["credentials"]
    seen = [(r["capture"].rsplit("/", 1)[1], r["protocol"], r["kind"], r["user"], r["result"], r["transport"])
            for r in rows]
    assert seen[:5] == [
        ("cleartext-ftp.pcap", "FTP", "USER/PASS", "alice", "failed", "cleartext"),
        ("cleartext-ftp.pcap", "FTP", "USER/PASS", "alice", "ok", "cleartext"),
        ("starttls-ftp.pcap", "FTP", "USER", "anonymous", "ok", "TLS"),
        ("cleartext-imap.pcap", "IMAP", "AUTHENTICATE PLAIN", "alice", "ok", "cleartext"),
        ("starttls-imap.pcap", "IMAP", "AUTHENTICATE PLAIN", "alice", "ok", "TLS")]
    http = [(r["kind"], r["user"], r["result"]) for r in rows[5:]]
    assert ("login form", "alice", 200) in http and ("Authorization Basic", "alice", 200) in http
    assert any(kind == "Authorization Bearer" for kind, _, _ in http)
    secrets = [r["secret"] for r in rows if r["secret"] is not None]
    assert secrets and all(s.startswith("<redacted") for s in secrets)  # nothing shown without --show-secrets


def test_show_secrets_table_and_csv():
    run = credentials(str(REAL / "cleartext-ftp.pcap"), "--show-secrets")
    assert run.returncode == 0 and "rabbit" in run.stdout and "wonderland" in run.stdout
    assert run.stdout.strip().endswith("2 credential(s), 2 of them in the clear, in 2 session(s)")
    hidden = credentials(str(REAL / "cleartext-ftp.pcap"))
    assert "wonderland" not in hidden.stdout and "<redacted 10 chars>" in hidden.stdout
    rows = list(csv.DictReader(io.StringIO(credentials(str(REAL / "cleartext-ftp.pcap"), "-f", "csv").stdout)))
    assert [(r["protocol"], r["user"], r["result"]) for r in rows] == [("FTP", "alice", "failed"), ("FTP", "alice", "ok")]


def test_a_capture_without_credentials_and_a_bad_file(tmp_path):
    run = credentials(str(SAMPLES / "tls13-aes128-gcm.pcap"))
    assert run.returncode == 0 and run.stdout.strip() == "0 credential(s), 0 of them in the clear, in 1 session(s)"
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"not a capture")
    run = credentials(str(bad))
    assert run.returncode != 0 and "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_an_http_proxys_credentials_crossed_in_the_clear_though_the_session_is_tls():
    # curl --proxy-user alice:wonderland through tinyproxy (BasicAuth): Proxy-Authorization in the CONNECT, before TLS
    cap, keys = str(REAL / "proxy-connect-auth.pcap"), ["--keylog", str(REAL / "proxy-connect-auth.keys")]
    [row] = json.loads(credentials(cap, *keys, "-f", "json").stdout)["credentials"]
    assert (row["protocol"], row["kind"], row["user"], row["secret"], row["result"], row["transport"]) == \
        ("HTTP proxy", "Proxy-Authorization Basic", "alice", "<redacted 10 chars>", "ok", "cleartext")
    shown = credentials(cap, *keys, "--show-secrets")
    assert "wonderland" in shown.stdout and "1 of them in the clear" in shown.stdout
    plain = credentials(str(REAL / "proxy-connect.pcap"), "--keylog", str(REAL / "proxy-connect.keys"), "-f", "json")
    assert json.loads(plain.stdout)["credentials"] == []  # (the same without credentials)


def test_jsonl_lines_of_the_proxy_credentials_redacted_unless_asked():
    cap, keys = str(REAL / "proxy-connect-auth.pcap"), ["--keylog", str(REAL / "proxy-connect-auth.keys")]

    def lines(*extra: str) -> list[dict]:
        out = subprocess.run([sys.executable, "-m", "dissector", "analyze", cap, *keys, "-f", "jsonl", *extra],
                             capture_output=True, text=True, timeout=120).stdout
        return [json.loads(line) for line in out.splitlines()]

    for extra, password in (((), "<redacted 10 chars>"), (("--show-secrets",), "wonderland"),
                            (("--show-secrets", "--jobs", "2"), "wonderland")):
        got = lines(*extra)
        [info] = [d["info"] for d in got if d["event"] == "TransportInfo" and d["section"] == "proxy_authorization"]
        [session] = [d for d in got if d["event"] == "Session"]
        assert info["password"] == session["proxy_authorization"]["password"] == password, extra
