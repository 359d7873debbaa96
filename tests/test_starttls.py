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
_GREETING = (b"\x0a8.0.36\x00\x01\x00\x00\x00abcdefgh\x00\xff\xff\x21\x02\x00\xff\xdf\x15" + bytes(10)
             + b"ijklmnopqrst\x00caching_sha2_password\x00")
MYSQL = [("server", len(_GREETING).to_bytes(3, "little") + b"\x00" + _GREETING),  # server greeting, protocol 10
         ("client", b"\x20\x00\x00\x01\x05\xae\xff\x01\x00\x00\x00\x01\xff" + bytes(23))]  # SSLRequest
RDP = [("client", bytes.fromhex("030000130ee000000000000100080003000000")),  # X.224 CR + rdpNegReq (TLS, CredSSP)
       ("server", bytes.fromhex("030000130ed000001234000201080001000000"))]  # X.224 CC + rdpNegRsp (TLS)
SOCKS5 = [("client", b"\x05\x01\x00"), ("server", b"\x05\x00"),
          ("client", b"\x05\x01\x00\x03\x10www.example.test\x01\xbb"), ("server", b"\x05\x00\x00\x01" + bytes(6))]
SOCKS4A = [("client", b"\x04\x01\x01\xbb\x00\x00\x00\x01user\x00www.example.test\x00"),
           ("server", b"\x00\x5a" + bytes(6))]
LDAP = [("client", b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16" + b"1.3.6.1.4.1.1466.20037"),  # ExtendedRequest StartTLS
        ("server", bytes.fromhex("300c02010178070a010004000400"))]  # ExtendedResponse success
OTHER = [("client", b"HELLO-MYPROTO v1\n"), ("server", b"OK\n")]  # a protocol nobody knows

UPGRADES = {  # name: (preamble, port, the session's "upgrade")
    "smtp": (SMTP, 25, "STARTTLS (SMTP)"),  # the "220" greeting, then the client's EHLO
    "ftp": ([("server", b"220 FTP ready\r\n"), ("client", b"AUTH TLS\r\n"), ("server", b"234 AUTH TLS ok\r\n")], 21,
            "STARTTLS (FTP)"),
    "postgres": (POSTGRES, 5432, "STARTTLS (PostgreSQL)"),
    "mysql": (MYSQL, 3306, "STARTTLS (MySQL)"),
    "rdp": (RDP, 3389, "RDP"),
    "socks5": (SOCKS5, 1080, "SOCKS5 CONNECT www.example.test:443"),
    "socks4a": (SOCKS4A, 1080, "SOCKS4 www.example.test:443"),
    "ldap": (LDAP, 389, "STARTTLS (LDAP)"),
    "unknown": (OTHER, 7000, "after 20 bytes of an unrecognised protocol"),
}


def _write(path, chunks, port):
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for ts, frame in synthesize(chunks, server_port=port):
            w.write(ts, frame)


def _capture(tmp_path, preamble, port, merge_last_client_write=False, split_hello_at=0, pieces=0):
    with TLSPair(PairOptions()) as pair:
        result = pair.connect(MAIL)
    t0 = result.chunks[0].time
    clear = [Chunk(t0 - 0.01 + i * 0.001, sender, data, "data") for i, (sender, data) in enumerate(preamble)]
    if pieces:  # every cleartext write sent as segments of `pieces` bytes
        clear = [Chunk(c.time + j * 1e-6, c.sender, c.data[j:j + pieces], c.phase)
                 for c in clear for j in range(0, len(c.data), pieces)]
    tls = list(result.chunks)
    if split_hello_at:  # the client writes the first bytes of its hello apart (a record header on its own)
        hello = tls[0]
        tls[0:1] = [Chunk(hello.time - 0.0005, "client", hello.data[:split_hello_at], hello.phase),
                    Chunk(hello.time, "client", hello.data[split_hello_at:], hello.phase)]
    if merge_last_client_write:  # the last cleartext client message and the ClientHello in one segment
        last = max(i for i, c in enumerate(clear) if c.sender == "client")
        tls[0] = Chunk(tls[0].time, "client", clear[last].data + tls[0].data, tls[0].phase)
        del clear[last]
    _write(tmp_path / "starttls.pcap", clear + tls, port)
    (tmp_path / "k.keys").write_text(result.keylog)
    return analyze([tmp_path / "starttls.pcap"], keylogs=[str(tmp_path / "k.keys")])


@pytest.mark.parametrize("name", list(UPGRADES))
def test_starttls_session_is_found_and_decrypted(tmp_path, name):
    preamble, port, upgrade = UPGRADES[name]
    (s,) = _capture(tmp_path, preamble, port)
    assert s["server"].endswith(f":{port}") and s["version"] == "TLS 1.3"
    types = [m["type"] for m in s["messages"]]
    assert types[:2] == ["ClientHello", "ServerHello"] and "Finished" in types
    assert s["decryption"]["status"] == "decrypted"
    assert s["app_data"]["client"]["bytes"] == len(MAIL[0][1])
    assert s["upgrade"] == upgrade


@pytest.mark.parametrize("name,found", [("mysql", True), ("postgres", True), ("unknown", False)])
def test_hello_in_the_same_segment_as_the_last_cleartext_message(tmp_path, name, found):
    # a capture host that merges segments (GRO) shows MySQL's SSLRequest and the ClientHello as one write: for a
    # protocol known to upgrade the hello is found inside it; in an unknown protocol's bytes (any data: a file
    # being copied may hold a TLS record) only a hello that opens a write starts a session
    preamble, port, upgrade = UPGRADES[name]
    sessions = _capture(tmp_path, preamble, port, merge_last_client_write=True)
    assert [(s["upgrade"], s["decryption"]["status"]) for s in sessions] == ([(upgrade, "decrypted")] if found else [])


@pytest.mark.parametrize("name", ["smtp", "postgres", "mysql", "unknown"])
@pytest.mark.parametrize("split", [1, 5, 10])
def test_hello_whose_first_bytes_come_in_a_segment_of_their_own(tmp_path, name, split):
    # fewer bytes than it takes to tell a ClientHello (a record header written apart, a segment cut short)
    # are held back and read with the next write
    preamble, port, upgrade = UPGRADES[name]
    (s,) = _capture(tmp_path, preamble, port, split_hello_at=split)
    assert (s["upgrade"], s["decryption"]["status"]) == (upgrade, "decrypted")
    assert [m["type"] for m in s["messages"]][:2] == ["ClientHello", "ServerHello"]


@pytest.mark.parametrize("name", list(UPGRADES))
def test_cleartext_writes_in_small_segments_are_still_named(tmp_path, name):
    # a protocol is named from its first bytes, the SOCKS5 target and an SMTP/FTP greeting's protocol from later
    # client writes, the proxy's target from the first line: all read across segments
    preamble, port, upgrade = UPGRADES[name]
    (s,) = _capture(tmp_path, preamble, port, pieces=3)
    assert (s["upgrade"], s["decryption"]["status"]) == (upgrade, "decrypted")


def test_a_client_hello_uploaded_over_http_is_not_a_session(tmp_path):
    # plain HTTP is not watched for an upgrade: a request body may be anything, a capture with TLS in it too
    with TLSPair(PairOptions()) as pair:
        result = pair.connect(MAIL)
    hello = result.chunks[0].data
    assert hello[:2] == b"\x16\x03" and hello[5] == 1
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(hello)
    t0 = result.chunks[0].time
    _write(tmp_path / "upload.pcap", [Chunk(t0, "client", head, "data"), Chunk(t0 + 0.001, "client", hello, "data"),
                                      Chunk(t0 + 0.002, "server", b"HTTP/1.1 204 No Content\r\n\r\n", "data")], 80)
    assert analyze([tmp_path / "upload.pcap"]) == []


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
    from dissector.upgrades import protocol_name, refine

    assert protocol_name(b"CONNECT www.example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n") == \
        "HTTP CONNECT www.example.test:443"
    assert protocol_name(b"CONNECT [::1]:8443\r\n") == "HTTP CONNECT [::1]:8443"
    assert len(protocol_name(b"CONNECT " + b"a" * 5000)) == len("HTTP CONNECT ") + 256  # bounded
    assert protocol_name(b"* OK IMAP4rev1 ready\r\n") == "STARTTLS (IMAP)"
    assert protocol_name(b"\x00\x00\x00\x08\x04\xd2\x16\x2f") == "STARTTLS (PostgreSQL)"
    assert protocol_name(MYSQL[0][1]) == "STARTTLS (MySQL)"
    assert protocol_name(b"\x05\x01\x00") == "SOCKS5"
    assert protocol_name(b"\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x20\xfb") == "SOCKS5 CONNECT 127.0.0.1:8443"
    assert protocol_name(b"\x05\x01\x00\x05\x01\x00\x04" + bytes(15) + b"\x01\x01\xbb") == "SOCKS5 CONNECT [::1]:443"
    assert protocol_name(b"\x04\x01\x01\xbb\x0a\x00\x00\x02\x00") == "SOCKS4 10.0.0.2:443"
    assert protocol_name(b'"IMPLEMENTATION" "Dovecot Pigeonhole"\r\n"SIEVE" "fileinto"\r\n') == "STARTTLS (ManageSieve)"
    assert refine("STARTTLS (SMTP or FTP)", b"LHLO client.example\r\n") == "STARTTLS (LMTP)"
    assert refine("STARTTLS (SMTP or FTP)", b"EHLO client.example\r\n") == "STARTTLS (SMTP)"
    for other in (b"SSH-2.0-OpenSSH_9.2\r\n", b"\x00\x00\x00\x85\xffSMBr", b"GET / HTTP/1.1\r\n", b"\x05\x09abc",
                  b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"):  # an LDAP bind, not StartTLS
        assert protocol_name(other) == ""


REAL_UPGRADES = {  # samples/real, made by make_starttls_captures.sh with real clients and servers
    "starttls-mysql": "STARTTLS (MySQL)",  # the mariadb client and MariaDB 10.11
    "starttls-mysql-openssl": "STARTTLS (MySQL)",  # openssl s_client -starttls mysql
    "starttls-postgres": "STARTTLS (PostgreSQL)",  # psql and PostgreSQL 15
    "starttls-smtp": "STARTTLS (SMTP)",  # curl and aiosmtpd
    "starttls-ldap": "STARTTLS (LDAP)",  # ldapsearch -ZZ and slapd
    "starttls-imap": "STARTTLS (IMAP)",  # curl and Dovecot
    "starttls-pop3": "STARTTLS (POP3)",  # curl and Dovecot: STLS (RFC 2595)
    "starttls-xmpp": "STARTTLS (XMPP)",  # openssl s_client -starttls xmpp and Prosody
    "starttls-sieve": "STARTTLS (ManageSieve)",  # openssl s_client -starttls sieve and Dovecot (RFC 5804)
    "starttls-lmtp": "STARTTLS (LMTP)",  # openssl s_client -starttls lmtp and Dovecot (RFC 2033)
    "socks5-tls": "SOCKS5 CONNECT www.example.test:443",  # curl through microsocks to nginx
    # make_nginx_captures.sh: curl through tinyproxy (HTTP CONNECT), without and with proxy credentials
    "proxy-connect": "HTTP CONNECT www.example.test:443",
    "proxy-connect-auth": "HTTP CONNECT www.example.test:443",
    # make_nginx_captures.sh: curl through HAProxy 2.6 (send-proxy, send-proxy-v2) to nginx's proxy_protocol port
    "haproxy-proxy-v1": "PROXY protocol from 127.0.0.1:",
    "haproxy-proxy-v2": "PROXY protocol v2 from 127.0.0.1:",
}


CONNECT_ = b"CONNECT www.example.test:443 HTTP/1.1\r\nHost: www.example.test:443\r\n"
PROXY_CREDS = b"Proxy-Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n"  # alice:wonderland


@pytest.mark.parametrize("preamble,user", [
    ([("client", CONNECT_ + PROXY_CREDS + b"\r\n"), ("server", b"HTTP/1.1 200 Connection established\r\n\r\n")],
     "alice"),
    # asked again after the proxy's 407: the second request carries them
    ([("client", CONNECT_ + b"\r\n"), ("server", b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                                 b"Proxy-Authenticate: Basic realm=\"p\"\r\n\r\n"),
      ("client", CONNECT_ + PROXY_CREDS + b"\r\n"), ("server", b"HTTP/1.1 200 Connection established\r\n\r\n")],
     "alice"),
    ([("client", CONNECT_ + b"\r\n"), ("server", b"HTTP/1.1 200 Connection established\r\n\r\n")], None),
])
@pytest.mark.parametrize("pieces", [0, 7])  # (each cleartext write whole, or in segments of 7 bytes)
def test_credentials_sent_to_an_http_proxy_in_the_clear(tmp_path, preamble, user, pieces):
    (s,) = _capture(tmp_path, preamble, 3128, pieces=pieces)
    assert s["upgrade"] == "HTTP CONNECT www.example.test:443" and s["decryption"]["status"] == "decrypted"
    names = [f["id"] for f in s["findings"]]
    if user is None:
        assert "proxy_authorization" not in s and "proxy_credentials_cleartext" not in names
        return
    proxy = s["proxy_authorization"]
    assert (proxy["scheme"], proxy["user"], proxy["password"], proxy["result"]) == \
        ("Basic", "alice", "<redacted 10 chars>", "ok")
    assert "proxy_credentials_cleartext" in names


@pytest.mark.parametrize("name", list(REAL_UPGRADES))
def test_real_upgrades_are_named_and_decrypted(name):
    from tests.conftest import SAMPLES

    real = SAMPLES / "real"
    [s] = analyze([real / f"{name}.pcap"], keylogs=[real / f"{name}.keys"])
    assert s["upgrade"].startswith(REAL_UPGRADES[name]) and s["upgrade"] == s["upgrade"].strip()
    assert s["decryption"]["status"] == "decrypted" and s["app_data"]["client"]["bytes"] > 0
    if name.startswith("haproxy"):  # nginx answers with the client address the PROXY header gave it
        port = s["upgrade"].rsplit(":", 1)[1]
        assert port.isdigit() and s["app_data"]["server"]["bytes"] > 0


def test_real_ftps_control_connection_and_its_resumed_data_connections():
    # make_starttls_captures.sh ftp: curl and vsftpd, explicit FTPS. The control connection turns to TLS after
    # curl's AUTH SSL; each passive data connection (a listing, then a file) starts with TLS and resumes the control
    # connection's TLS 1.3 session, as vsftpd's require_ssl_reuse demands; curl's key log covers all three.
    from tests.conftest import SAMPLES, plaintext

    cap, keys = SAMPLES / "real" / "starttls-ftp.pcap", SAMPLES / "real" / "starttls-ftp.keys"
    sessions = {s["id"]: s for s in analyze([cap], keylogs=[keys])}
    control = next(s for s in sessions.values() if s["server"].endswith(":21"))
    data = [s for s in sessions.values() if s is not control]
    assert control["upgrade"] == "STARTTLS (FTP)" and not control["resumed"]
    assert len(data) == 2 and all(s["resumed"] and 30000 <= int(s["server"].rsplit(":", 1)[1]) <= 30009 for s in data)
    assert {s["decryption"]["status"] for s in sessions.values()} == {"decrypted"}
    text = plaintext([cap], [keys])
    commands = text[(control["id"], "client")]
    assert b"USER anonymous" in commands and b"PROT P" in commands and b"EPSV" in commands
    assert b"RETR hello.txt" in commands and b"229 Entering Extended Passive Mode" in text[(control["id"], "server")]
    assert b"230 Login successful" in text[(control["id"], "server")]
    listing, file = (text.get((s["id"], "server"), b"") for s in sorted(data, key=lambda s: s["id"]))
    assert listing.startswith(b"-rw-r--r--") and listing.endswith(b"hello.txt\r\n") and file == b"hello over FTPS\n"


_V2 = (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes([203, 0, 113, 7, 10, 0, 0, 2])
       + (51234).to_bytes(2, "big") + (443).to_bytes(2, "big"))


@pytest.mark.parametrize("header,upgrade", [
    (b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 443\r\n", "PROXY protocol from 203.0.113.7:51234"),
    (_V2, "PROXY protocol v2 from 203.0.113.7:51234"),
], ids=["v1", "v2"])
def test_tls_behind_a_load_balancers_proxy_protocol_header(tmp_path, header, upgrade):
    # HAProxy, AWS NLB and others put a PROXY header in front of the client's bytes, in the same segment as its
    # ClientHello: the session is found and names the client the header carries
    (s,) = _capture(tmp_path, [("client", header)], 443, merge_last_client_write=True)
    assert s["upgrade"] == upgrade
    assert s["decryption"]["status"] == "decrypted" and s["app_data"]["client"]["bytes"] == len(MAIL[0][1])


def test_the_table_and_explain_say_after_once(tmp_path):
    # an unknown protocol's upgrade already reads "after N bytes of ...": no "TLS began after after"
    import io

    from dissector.output.explain import ExplainWriter
    from dissector.output.formats import TableWriter

    preamble, port, upgrade = UPGRADES["unknown"]
    (s,) = _capture(tmp_path, preamble, port)
    for writer in (TableWriter, ExplainWriter):
        out = io.StringIO()
        writer(out).session(s)
        text = out.getvalue()
        assert f"TLS began {upgrade}" in text and "after after" not in text, writer
