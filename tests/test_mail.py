"""The mail plugin: SMTP, IMAP and POP3 logins and envelopes in decrypted sessions. Real captures (curl and
Dovecot, curl and aiosmtpd, behind STARTTLS) and hand-written exchanges for every login form, fed in one piece
and cut at every byte."""
from __future__ import annotations

import base64

import pytest
from dissector_plugins.mail import MailPlugin

from dissector.events import CLIENT, SERVER, Flow
from dissector.redact import Secret
from tests.conftest import SAMPLES, analyze, feed_plugin

REAL = SAMPLES / "real"


def run(port: int, exchange: list[tuple[str, bytes]], cut: int = 0) -> tuple[dict, list]:
    return feed_plugin(MailPlugin(), port, exchange, cut)


def logins(doc: dict) -> list[tuple]:
    return [(x["command"], x["mechanism"], x["user"], x["password"].value if isinstance(x["password"], Secret)
             else x["password"], x["result"]) for x in doc["logins"]]


def b64(s: bytes) -> bytes:
    return base64.b64encode(s)


SMTP_LOGIN = [
    (SERVER, b"220 mail.example ESMTP\r\n"), (CLIENT, b"EHLO client.example\r\n"),
    (SERVER, b"250-mail.example\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n"),
    (CLIENT, b"AUTH LOGIN\r\n"), (SERVER, b"334 VXNlcm5hbWU6\r\n"), (CLIENT, b64(b"alice") + b"\r\n"),
    (SERVER, b"334 UGFzc3dvcmQ6\r\n"), (CLIENT, b64(b"wrong") + b"\r\n"), (SERVER, b"535 5.7.8 no\r\n"),
    (CLIENT, b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n"), (SERVER, b"235 2.7.0 ok\r\n"),
    (CLIENT, b"MAIL FROM:<alice@example.test> SIZE=30\r\n"), (SERVER, b"250 ok\r\n"),
    (CLIENT, b"RCPT TO:<bob@example.test>\r\n"), (SERVER, b"250 ok\r\n"), (CLIENT, b"DATA\r\n"),
    (SERVER, b"354 go\r\n"), (CLIENT, b"Subject: x\r\nAUTH PLAIN looks like a command\r\n\r\nhi\r\n.\r\n"),
    (SERVER, b"250 queued\r\n"), (CLIENT, b"QUIT\r\n"), (SERVER, b"221 bye\r\n"),
]
IMAP_LOGIN = [
    (SERVER, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
    (CLIENT, b'a1 LOGIN "bob" "se\\"cret"\r\n'), (SERVER, b"a1 NO [AUTHENTICATIONFAILED] no\r\n"),
    (CLIENT, b"a2 LOGIN {5}\r\n"), (SERVER, b"+ go\r\n"), (CLIENT, b"alice {10}\r\n"), (SERVER, b"+ go\r\n"),
    (CLIENT, b"wonderland\r\n"), (SERVER, b"a2 OK logged in\r\n"),
    (CLIENT, b"a3 AUTHENTICATE XOAUTH2\r\n"), (SERVER, b"+ \r\n"),
    (CLIENT, b64(b"user=carol@example.test\x01auth=Bearer ya29.token\x01\x01") + b"\r\n"), (SERVER, b"a3 OK\r\n"),
    (CLIENT, b"a4 SELECT INBOX\r\n"), (SERVER, b"* 1 EXISTS\r\na4 OK done\r\n"),
    (CLIENT, b"a5 UID FETCH 1 BODY[]\r\n"), (SERVER, b"* 1 FETCH (BODY[] {16}\r\na5 OK fake\r\nx\r\n)\r\na5 OK done\r\n"),
]
POP3_LOGIN = [
    (SERVER, b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"), (CLIENT, b"USER alice\r\n"),
    (SERVER, b"+OK\r\n"), (CLIENT, b"PASS wonder land\r\n"), (SERVER, b"+OK maildrop has 1 message\r\n"),
    (CLIENT, b"AUTH CRAM-MD5\r\n"), (SERVER, b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
    (CLIENT, b64(b"tim b913a602c7eda7a495b4e6e7334d3890") + b"\r\n"), (SERVER, b"-ERR no\r\n"),
    (CLIENT, b"RETR 1\r\n"), (SERVER, b"+OK\r\nbody\r\n.\r\n"), (CLIENT, b"QUIT\r\n"), (SERVER, b"+OK bye\r\n"),
]


@pytest.mark.parametrize("cut", [0, 1, 3, 7])
def test_smtp_logins_and_envelope(cut):
    doc, events = run(587, SMTP_LOGIN, cut)
    assert doc["protocol"] == "SMTP" and doc["greeting"] == "220 mail.example ESMTP"
    assert logins(doc) == [("AUTH", "LOGIN", "alice", "wrong", "failed"), ("AUTH", "PLAIN", "alice", "wonderland", "ok")]
    assert (doc["mail_from"], doc["rcpt_to"], doc["messages"]) == (["alice@example.test"], ["bob@example.test"], 1)
    assert doc["commands"] == ["EHLO", "AUTH", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"]  # (not the body's lines)
    assert [e.result for e in events] == ["failed", "ok"]


@pytest.mark.parametrize("cut", [0, 1, 5])
def test_imap_logins_with_quoted_strings_literals_and_oauth(cut):
    doc, _ = run(993, IMAP_LOGIN, cut)
    assert doc["protocol"] == "IMAP" and doc["greeting"].startswith("* OK")
    assert logins(doc) == [("LOGIN", None, "bob", 'se"cret', "failed"), ("LOGIN", None, "alice", "wonderland", "ok"),
                           ("AUTHENTICATE", "XOAUTH2", "carol@example.test", "ya29.token", "ok")]
    assert doc["commands"] == ["LOGIN", "LOGIN", "AUTHENTICATE", "SELECT", "UID FETCH"]


@pytest.mark.parametrize("cut", [0, 2])
def test_pop3_user_pass_and_cram_md5(cut):
    doc, _ = run(995, POP3_LOGIN, cut)
    assert doc["protocol"] == "POP3"
    assert logins(doc) == [("USER/PASS", None, "alice", "wonder land", "ok"), ("AUTH", "CRAM-MD5", "tim", None, "failed")]


def test_a_login_without_an_answer_is_kept_with_no_result():
    doc, events = run(143, IMAP_LOGIN[:2])  # the capture ends before the server answers
    assert logins(doc) == [("LOGIN", None, "bob", 'se"cret', None)] and len(events) == 1


def test_the_plugin_only_takes_mail():
    from dissector.plugins import SessionMatch

    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 443, 0.0)
    p = MailPlugin()
    assert p.match(SessionMatch(flow, "10.0.0.1", 40000, "10.0.0.2", 443, data=b"GET / HTTP/1.1\r\n")) < 0
    assert p.match(SessionMatch(flow, "10.0.0.1", 40000, "10.0.0.2", 7000, data=b"EHLO x\r\n")) > 0.8
    assert p.match(SessionMatch(flow, "10.0.0.1", 40000, "10.0.0.2", 993, direction=SERVER, data=b"* OK hi")) > 0.8
    assert p.match(SessionMatch(flow, "10.0.0.1", 40000, "10.0.0.2", 143, alpn="imap", data=b"x")) < 0


def test_real_imap_login_behind_starttls_is_redacted_unless_asked():
    # curl AUTHENTICATE PLAIN (SASL-IR) as alice to Dovecot (samples/real/starttls-imap)
    keys = [REAL / "starttls-imap.keys"]
    [s] = analyze([REAL / "starttls-imap.pcap"], keylogs=keys, plugins=True)
    mail = s["mail"]
    assert mail["protocol"] == "IMAP" and mail["greeting"] is None  # (the greeting came before STARTTLS)
    [login] = mail["logins"]
    assert (login["command"], login["mechanism"], login["user"], login["result"]) == ("AUTHENTICATE", "PLAIN", "alice", "ok")
    assert login["password"] == "<redacted 10 chars>"
    assert mail["commands"][:4] == ["CAPABILITY", "AUTHENTICATE", "SELECT", "UID FETCH"]


def test_real_pop3_login_behind_stls():
    # curl to Dovecot's POP3 (samples/real/starttls-pop3): CAPA and STLS in the clear, then AUTH PLAIN as alice and
    # RETR 1 inside TLS
    [s] = analyze([REAL / "starttls-pop3.pcap"], keylogs=[REAL / "starttls-pop3.keys"], plugins=True)
    mail = s["mail"]
    assert (mail["protocol"], mail["greeting"], mail["commands"]) == ("POP3", None, ["CAPA", "AUTH", "RETR", "QUIT"])
    [login] = mail["logins"]
    assert (login["command"], login["mechanism"], login["user"], login["result"]) == ("AUTH", "PLAIN", "alice", "ok")
    assert login["password"] == "<redacted 10 chars>"


def test_real_smtp_envelope_behind_starttls():
    # curl to aiosmtpd (samples/real/starttls-smtp): no login, one mail
    [s] = analyze([REAL / "starttls-smtp.pcap"], keylogs=[REAL / "starttls-smtp.keys"], plugins=True)
    mail = s["mail"]
    assert (mail["protocol"], mail["logins"], mail["messages"]) == ("SMTP", [], 1)
    assert (mail["mail_from"], mail["rcpt_to"]) == (["alice@example.test"], ["bob@example.test"])


def test_the_table_shows_the_login_redacted():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(REAL / "starttls-imap.pcap"), "--keylog",
                          str(REAL / "starttls-imap.keys"), "-q"], capture_output=True, text=True, timeout=60).stdout
    assert "IMAP logins:\n    AUTHENTICATE PLAIN: user alice, password <redacted 10 chars> -> ok\n" in out
    assert "wonderland" not in out


# -- mail that never starts TLS: a cleartext session for the plugins ------------------------------------------

def test_real_imap_login_in_cleartext_is_a_high_finding():
    """curl to Dovecot with TLS off (samples/real/cleartext-imap): the connection is watched for STARTTLS, never
    starts TLS, and is read by the plugins as a cleartext session, whose login is a high finding."""
    [s] = analyze([REAL / "cleartext-imap.pcap"], plugins=True)
    assert s["cleartext"] is True and s["version"] is None and s["decryption"]["status"] == "not-encrypted"
    mail = s["mail"]
    assert mail["protocol"] == "IMAP" and mail["greeting"].startswith("* OK")
    [login] = mail["logins"]
    assert (login["command"], login["mechanism"], login["user"], login["result"]) == ("AUTHENTICATE", "PLAIN", "alice", "ok")
    assert login["password"] == "<redacted 10 chars>"
    assert mail["commands"][:4] == ["CAPABILITY", "AUTHENTICATE", "SELECT", "UID FETCH"]
    [finding] = [f for f in s["findings"] if f["id"] == "mail_login_cleartext"]
    assert finding["severity"] == "high" and "'alice'" in finding["detail"] and "wonderland" not in finding["detail"]
    assert s["app_data"]["client"]["bytes"] == 124  # every byte of both directions, in order
    # without plugins the connection is no session at all, as before
    assert analyze([REAL / "cleartext-imap.pcap"], plugins=False) == []


def test_the_cleartext_login_matches_what_tshark_sees():
    import shutil
    import subprocess

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    out = subprocess.run(["tshark", "-r", str(REAL / "cleartext-imap.pcap"), "-Y", "imap.request", "-T", "fields",
                          "-e", "imap.request"], capture_output=True, text=True, timeout=60).stdout
    line = next(x for x in out.splitlines() if "AUTHENTICATE PLAIN" in x)
    _, user, password = base64.b64decode(line.split()[-1]).split(b"\0")
    [s] = analyze([REAL / "cleartext-imap.pcap"], plugins=True)
    [login] = s["mail"]["logins"]
    assert login["user"] == user.decode() and login["password"] == f"<redacted {len(password)} chars>"


def _mail_flow(server: list[bytes], client: list[bytes]) -> list:
    """Events of a hand-built TCP connection to port 143: the server's and the client's writes, alternating."""
    from dissector.pipeline import Pipeline
    from tests.conftest import tcp_frame as frame

    srv = dict(src=b"\x0a\0\0\2", dst=b"\x0a\0\0\1")
    pipe = Pipeline(cleartext_http=True)
    evs = pipe.feed(0.0, 101, frame(40000, 143, 99, 0x02))
    evs += pipe.feed(0.1, 101, frame(143, 40000, 499, 0x12, **srv))
    evs += pipe.feed(0.2, 101, frame(40000, 143, 100, 0x10))
    seq = {"c": 100, "s": 500}
    t = 1.0
    for s_data, c_data in zip(server, client + [b""] * (len(server) - len(client))):
        for who, data in (("s", s_data), ("c", c_data)):
            if data:
                f = frame(143, 40000, seq["s"], 0x18, data, **srv) if who == "s" else frame(40000, 143, seq["c"], 0x18, data)
                evs += pipe.feed(t, 101, f)
                seq[who] += len(data)
                t += 1.0
    evs += pipe.feed(t, 101, frame(40000, 143, seq["c"], 0x11))
    evs += pipe.feed(t + 1, 101, frame(143, 40000, seq["s"], 0x11, **srv))
    return evs + pipe.finish()


def test_a_cleartext_mail_connection_longer_than_the_hold_is_handed_over_whole():
    from dissector.events import AppData, SessionStart
    from dissector.pipeline import CLEARTEXT_HOLD

    big = [b"* 1 FETCH (BODY[] {%d}\r\n" % 5000 + b"x" * 5000 + b")\r\n" for _ in range(6)]
    evs = _mail_flow([b"* OK ready\r\n"] + big, [b"a1 LOGIN alice wonderland\r\n"] + [b"a2 NOOP\r\n"] * 6)
    starts = [e for e in evs if isinstance(e, SessionStart)]
    assert len(starts) == 1 and starts[0].cleartext and starts[0].ts == 1.0
    data = [e for e in evs if isinstance(e, AppData)]
    assert sum(e.length for e in data) > CLEARTEXT_HOLD  # the held part, then the rest as it came
    assert [e.ts for e in data] == sorted(e.ts for e in data)


def test_starttls_after_cleartext_commands_is_still_a_tls_session():
    from dissector.events import SessionStart

    body = bytes([3, 3]) + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00"
    hello = bytes([1]) + len(body).to_bytes(3, "big") + body
    record = bytes([22, 3, 1]) + len(hello).to_bytes(2, "big") + hello
    evs = _mail_flow([b"* OK ready\r\n", b"a1 OK begin TLS\r\n"], [b"a1 STARTTLS\r\n", record])
    starts = [e for e in evs if isinstance(e, SessionStart)]
    assert [(s.cleartext, s.upgrade) for s in starts] == [(False, "STARTTLS (IMAP)")]
