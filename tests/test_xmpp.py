"""XMPP client streams (the xmpp plugin): a real STARTTLS session of openssl s_client with Prosody
(samples/real/starttls-xmpp), and hand-written streams for the SASL mechanisms clients use, the server's answers,
the resource binding, streams cut anywhere and the bound on what is kept."""
from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from dissector_plugins.xmpp import MAX_BUFFER, XMPPPlugin

from dissector.events import CLIENT, SERVER, Flow
from tests.conftest import SAMPLES, analyze

REAL = SAMPLES / "real"
HEADER = (b"<?xml version='1.0'?><stream:stream to='chat.example' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
SERVER_HEADER = (b"<?xml version='1.0'?><stream:stream from='chat.example' id='1' xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
SASL = b"urn:ietf:params:xml:ns:xmpp-sasl"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def run(pieces: list[tuple[str, bytes]], cut: int = 0) -> tuple[dict | None, list]:
    plugin = XMPPPlugin()
    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 5222, 0.0)
    streams = {d: plugin.new_stream(flow, d) for d in (CLIENT, SERVER)}
    events = []
    for i, (d, data) in enumerate(pieces):
        step = cut or len(data)
        for j in range(0, len(data), step):
            events += streams[d].feed(data[j:j + step], float(i))
    for d in (CLIENT, SERVER):
        events += streams[d].close(99.0)
    return plugin.on_session_end(flow), events


def test_the_real_starttls_session_and_its_login():
    # openssl s_client -starttls xmpp to Prosody, then SASL PLAIN as alice inside TLS
    [s] = analyze([REAL / "starttls-xmpp.pcap"], keylogs=[REAL / "starttls-xmpp.keys"], plugins=True)
    x = s["xmpp"]
    assert (x["protocol"], x["domain"], x["jid"]) == ("XMPP", "www.example.test", None)  # (s_client binds nothing)
    [login] = x["logins"]
    assert (login["mechanism"], login["user"], login["result"]) == ("PLAIN", "alice", "ok")
    assert login["password"] == "<redacted 10 chars>"
    [shown] = analyze([REAL / "starttls-xmpp.pcap"], keylogs=[REAL / "starttls-xmpp.keys"], plugins=True,
                      show_secrets=True)
    assert shown["xmpp"]["logins"][0]["password"] == "wonderland"
    out = subprocess.run([sys.executable, "-m", "dissector", "credentials", str(REAL / "starttls-xmpp.pcap"), "--keylog",
                          str(REAL / "starttls-xmpp.keys")], capture_output=True, text=True, timeout=60).stdout
    assert "XMPP" in out and "SASL PLAIN" in out and "alice" in out and "wonderland" not in out


@pytest.mark.parametrize("cut", [0, 1, 5, 64])
def test_plain_then_scram_after_a_failure_and_the_bound_jid(cut):
    pieces = [
        (CLIENT, HEADER), (SERVER, SERVER_HEADER + b"<stream:features><mechanisms xmlns='" + SASL + b"'>"
                          b"<mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"),
        (CLIENT, b"<auth xmlns='" + SASL + b"' mechanism='PLAIN'>" + b64(b"\0bob\0wrong") + b"</auth>"),
        (SERVER, b"<failure xmlns='" + SASL + b"'><not-authorized/></failure>"),
        (CLIENT, b'<auth xmlns="' + SASL + b'" mechanism="SCRAM-SHA-1">' + b64(b"n,,n=bob,r=abcdef") + b"</auth>"),
        (SERVER, b"<challenge xmlns='" + SASL + b"'>" + b64(b"r=abcdefgh,s=c2FsdA==,i=4096") + b"</challenge>"),
        (CLIENT, b"<response xmlns='" + SASL + b"'>" + b64(b"c=biws,r=abcdefgh,p=cHJvb2Y=") + b"</response>"),
        (SERVER, b"<success xmlns='" + SASL + b"'>" + b64(b"v=c2lnbmF0dXJl") + b"</success>"),
        (CLIENT, HEADER + b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                          b"<resource>laptop</resource></bind></iq>"),
        (SERVER, SERVER_HEADER + b"<iq type='result' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                                 b"<jid>bob@chat.example/laptop</jid></bind></iq>"),
    ]
    fields, events = run(pieces, cut)
    assert (fields["domain"], fields["jid"]) == ("chat.example", "bob@chat.example/laptop")
    assert [(x["mechanism"], x["user"], x["result"]) for x in fields["logins"]] == \
        [("PLAIN", "bob", "failed"), ("SCRAM-SHA-1", "bob", "ok")]
    assert str(fields["logins"][0]["password"]) == "<redacted 5 chars>" and fields["logins"][1]["password"] is None
    assert [type(e).__name__ for e in events] == ["XMPPLogin", "XMPPLogin"]  # (each when the server answered)


def test_login_in_steps_an_oauth_token_and_an_unanswered_login():
    login = [(CLIENT, HEADER), (CLIENT, b"<auth xmlns='" + SASL + b"' mechanism='LOGIN'/>"),
             (SERVER, b"<challenge xmlns='" + SASL + b"'>VXNlcm5hbWU6</challenge>"),
             (CLIENT, b"<response xmlns='" + SASL + b"'>" + b64(b"carol") + b"</response>"),
             (CLIENT, b"<response xmlns='" + SASL + b"'>" + b64(b"s3cret") + b"</response>"),
             (SERVER, b"<success xmlns='" + SASL + b"'/>")]
    fields, _ = run(login)
    assert [(x["mechanism"], x["user"], str(x["password"]), x["result"]) for x in fields["logins"]] == \
        [("LOGIN", "carol", "<redacted 6 chars>", "ok")]
    token = [(CLIENT, HEADER), (CLIENT, b"<auth xmlns='" + SASL + b"' mechanism='X-OAUTH2'>" +
                                b64(b"\0dave@chat.example\0ya29.token") + b"</auth>")]  # no answer in the capture
    fields, events = run(token)
    assert [(x["mechanism"], x["user"], str(x["password"]), x["result"]) for x in fields["logins"]] == \
        [("X-OAUTH2", "dave@chat.example", "<redacted 10 chars>", None)]
    assert len(events) == 1  # reported once, when the client's side ended


def test_what_is_kept_is_bounded_and_other_streams_are_not_taken():
    flood = b"<message to='x'><body>" + b"a" * (4 * MAX_BUFFER)  # an element that never ends
    plugin = XMPPPlugin()
    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", 5222, 0.0)
    stream = plugin.new_stream(flow, CLIENT)
    stream.feed(HEADER, 0.0)
    for i in range(0, len(flood), 4096):
        stream.feed(flood[i:i + 4096], 1.0)
        assert len(stream.buf) <= MAX_BUFFER + 4096
    assert plugin.on_session_end(flow)["domain"] == "chat.example"

    class Info:
        alpn, server_port, direction = None, 443, CLIENT
        data = b"GET / HTTP/1.1\r\n"
    assert plugin.match(Info) < 0
    Info.data = b"<?xml version='1.0'?><stream:stream"
    assert plugin.match(Info) > 0.8
    Info.alpn, Info.data = "xmpp-client", b""
    assert plugin.match(Info) == 1.0
