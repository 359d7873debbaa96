"""The FTP plugin: logins, commands and transfers of FTP control connections, in the clear and decrypted. Real
captures (make_starttls_captures.sh): curl and pyftpdlib in the clear (a refused password, then a good one),
curl and vsftpd with explicit FTPS; and hand-written exchanges fed whole and cut at every byte."""
from __future__ import annotations

import subprocess

import pytest
from dissector_plugins.ftp import FTPPlugin
from dissector_plugins.mail import MailPlugin

from dissector.events import CLIENT, SERVER, Flow
from dissector.plugins import SessionMatch
from dissector.redact import Secret
from tests.conftest import SAMPLES, analyze, feed_plugin, needs_tshark

REAL = SAMPLES / "real"
CLEAR = REAL / "cleartext-ftp.pcap"


def run(exchange: list[tuple[str, bytes]], cut: int = 0) -> tuple[dict | None, list]:
    return feed_plugin(FTPPlugin(), 21, exchange, cut)


def logins(doc: dict) -> list[tuple]:
    return [(x["user"], x["password"].value if isinstance(x["password"], Secret) else x["password"], x["result"])
            for x in doc["logins"]]


EXCHANGE = [(SERVER, b"220-Welcome\r\n220 FTP server ready.\r\n"), (CLIENT, b"USER alice\r\n"),
            (SERVER, b"331 Password required\r\n"), (CLIENT, b"PASS wrong\r\n"), (SERVER, b"530 Login incorrect.\r\n"),
            (CLIENT, b"USER alice\r\n"), (SERVER, b"331 Password required\r\n"), (CLIENT, b"PASS wonderland\r\n"),
            (SERVER, b"230-Hello alice\r\n230 Login successful.\r\n"), (CLIENT, b"PASV\r\n"),
            (SERVER, b"227 Entering Passive Mode (10,0,0,2,117,48)\r\n"), (CLIENT, b"STOR report.pdf\r\n"),
            (SERVER, b"150 Ok to send data.\r\n"), (SERVER, b"226 Transfer complete.\r\n"),
            (CLIENT, b"RETR missing.txt\r\n"), (SERVER, b"550 Failed to open file.\r\n"), (CLIENT, b"QUIT\r\n"),
            (SERVER, b"221 Goodbye.\r\n")]


@pytest.mark.parametrize("cut", [0, 1, 3])
def test_logins_commands_and_transfers(cut):
    doc, events = run(EXCHANGE, cut)
    assert doc["greeting"] == "FTP server ready."  # the last line of a multi-line 220
    assert logins(doc) == [("alice", "wrong", "failed"), ("alice", "wonderland", "ok")]
    assert [e.result for e in events] == ["failed", "ok"]
    assert doc["commands"] == ["USER", "PASS", "USER", "PASS", "PASV", "STOR", "RETR", "QUIT"]
    assert [(t["command"], t["path"], t["reply"]) for t in doc["transfers"]] == [
        ("STOR", "report.pdf", 226), ("RETR", "missing.txt", 550)]


def test_a_login_without_password_and_one_without_answer():
    doc, _ = run([(SERVER, b"220 vsFTPd\r\n"), (CLIENT, b"USER anonymous\r\n"), (SERVER, b"230 Login successful.\r\n")])
    assert logins(doc) == [("anonymous", None, "ok")] and doc["logins"][0]["anonymous"]
    doc, events = run([(SERVER, b"220 FTP\r\n"), (CLIENT, b"USER bob\r\n"), (SERVER, b"331 Password\r\n"),
                       (CLIENT, b"PASS hunter2\r\n")])  # the capture ends before the answer
    assert logins(doc) == [("bob", "hunter2", None)] and len(events) == 1


def test_long_lines_are_skipped_and_nothing_else_is_lost():
    doc, _ = run([(SERVER, b"220 FTP\r\n"), (CLIENT, b"X" * 10_000 + b"\r\nUSER carol\r\n"), (SERVER, b"331 P\r\n"),
                  (CLIENT, b"PASS pw\r\n"), (SERVER, b"230 OK\r\n")])
    assert logins(doc) == [("carol", "pw", "ok")]


def test_match_tells_ftp_from_pop3_and_smtp():
    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 21, 0.0)
    ftp, mail = FTPPlugin(), MailPlugin()

    def scores(port, direction, data):
        m = SessionMatch(flow, "10.0.0.1", 40000, "10.0.0.2", port, direction=direction, data=data)
        return ftp.match(m), mail.match(m)

    f, m = scores(21, SERVER, b"220 (vsFTPd 3.0.3)\r\n")
    assert f > 0.8 and m < f
    f, m = scores(21, CLIENT, b"USER anonymous\r\n")  # FTPS: the first decrypted bytes are the client's
    assert f > 0.8 and m < f
    f, m = scores(110, CLIENT, b"USER alice\r\n")  # POP3 has USER too
    assert m > 0.8 and f < m
    f, m = scores(25, SERVER, b"220 mail.example ESMTP\r\n")
    assert m > 0.8 and f < 0


def test_cleartext_ftp_logins_are_found_redacted_and_flagged():
    sessions = sorted(analyze([CLEAR], plugins=True), key=lambda s: s["id"])
    assert [s["cleartext"] for s in sessions] == [True, True]
    assert [logins(s["ftp"]) for s in sessions] == [[("alice", "<redacted 6 chars>", "failed")],
                                                     [("alice", "<redacted 10 chars>", "ok")]]
    assert [(t["command"], t["path"], t["reply"]) for t in sessions[1]["ftp"]["transfers"]] == [
        ("RETR", "hello.txt", 226)]
    for s in sessions:
        [finding] = [f for f in s["findings"] if f["id"] == "ftp_login_cleartext"]
        assert finding["severity"] == "high" and "'alice'" in finding["detail"]
    shown = sorted(analyze([CLEAR], plugins=True, show_secrets=True), key=lambda s: s["id"])
    assert [logins(s["ftp"]) for s in shown] == [[("alice", "rabbit", "failed")], [("alice", "wonderland", "ok")]]


@needs_tshark
def test_cleartext_ftp_logins_match_tshark():
    out = subprocess.run(["tshark", "-r", str(CLEAR), "-Y", "ftp", "-T", "fields", "-e", "tcp.stream",
                          "-e", "ftp.request.command", "-e", "ftp.request.arg", "-e", "ftp.response.code"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    theirs: dict[str, list] = {}
    for stream, command, arg, code in (line.split("\t") for line in out.splitlines()):
        if command in ("USER", "PASS"):
            theirs.setdefault(stream, []).append((command, arg))
        elif code in ("230", "530"):
            theirs.setdefault(stream, []).append(("reply", code))
    shown = sorted(analyze([CLEAR], plugins=True, show_secrets=True), key=lambda s: s["id"])
    assert len(theirs) == len(shown) == 2
    for s, (_, seen) in zip(shown, sorted(theirs.items())):
        [login] = s["ftp"]["logins"]
        result = {"ok": "230", "failed": "530"}[login["result"]]
        assert seen == [("USER", login["user"]), ("PASS", login["password"]), ("reply", result)]


def test_explicit_ftps_control_connection_is_read_after_decryption():
    sessions = {s["id"]: s for s in analyze([REAL / "starttls-ftp.pcap"], keylogs=[REAL / "starttls-ftp.keys"],
                                            plugins=True)}
    [control] = [s for s in sessions.values() if s.get("ftp")]
    assert control["server"].endswith(":21") and control["upgrade"] == "STARTTLS (FTP)"
    assert logins(control["ftp"]) == [("anonymous", None, "ok")]  # vsftpd's no_anon_password: in after USER
    assert [(t["command"], t["reply"]) for t in control["ftp"]["transfers"]] == [("LIST", 226), ("RETR", 226)]
    assert not [f for f in control["findings"] if f["id"] == "ftp_login_cleartext"]  # inside TLS


def test_the_summary_counts_the_cleartext_sessions_apart():
    import json
    import sys

    run = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(CLEAR), "-f", "json"], capture_output=True,
                         text=True, check=True)
    summary = json.loads(run.stdout)["summary"]
    assert (summary["sessions"], summary["cleartext_sessions"], summary["non_tls_flows"]) == (2, 2, 1)  # + data conn.
    table = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(CLEAR), str(REAL / "starttls-ftp.pcap"),
                            "--keylog", str(REAL / "starttls-ftp.keys"), "-j", "2"], capture_output=True, text=True,
                           check=True).stdout
    assert "Summary: 3 TLS session(s), 2 cleartext session(s);" in table  # (the same with two processes)
