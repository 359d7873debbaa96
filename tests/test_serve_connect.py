"""`dissector serve` and `dissector connect` against each other and against real peers (openssl, curl, tshark).

Everything binds and connects to 127.0.0.1 only, on ports the kernel picks. Every subprocess and socket has
a timeout, so a broken peer fails a test in seconds instead of hanging it. Tests that need a tool skip when
it is not installed.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import h11
import pytest

from dissector.endpoint.client import build_request, is_loopback, parse_request_spec, resolve
from dissector.endpoint.pair import make_self_signed
from dissector.endpoint.server import ServeConfig, ServeError, Server, UsageError, load_cert_key
from dissector.endpoint.webapp import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
    DEMO_USER,
    WebApp,
)

TIMEOUT = 30  # seconds, for any one subprocess
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
TSHARK = shutil.which("tshark")


def _bridge_works() -> bool:
    """The ctypes bridge to libssl (TLS 1.3 suites, KeyUpdate, 0-RTT, group lists, renegotiation)."""
    import ssl

    from dissector.endpoint.pair import OpenSSLBridge, Unsupported

    try:
        OpenSSLBridge.get().ctx_pointer(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return True
    except (OSError, AttributeError, Unsupported):
        return False


needs_bridge = pytest.mark.skipif(not _bridge_works(), reason="no ctypes bridge to this Python's libssl")
LISTENING = re.compile(r"listening on https://127\.0\.0\.1:(\d+)/")

TLS12_FLIGHT = ["ClientHello", "ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone",
                "ClientKeyExchange", "ChangeCipherSpec", "Finished*"]
TLS13_FLIGHT = ["ClientHello", "ServerHello", "EncryptedExtensions*", "Certificate*", "CertificateVerify*",
                "Finished*"]


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------

def dissector(*args: str, cwd: str | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dissector", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def message_lines(text: str) -> list[str]:
    """The message names of a narration, in order ("Finished*" keeps its encrypted mark)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s+[+-]\s*[\d.]+ ms\s+C (?:->|<-) S\s+(\S+)", line)
        if m:
            out.append(m.group(1))
    return out


def contains_in_order(items: list[str], wanted: list[str]) -> bool:
    it = iter(items)
    return all(any(x == w for x in it) for w in wanted)


class Background:
    """A subprocess whose output is read while it runs (so a full pipe never blocks it)."""

    def __init__(self, argv: list[str], cwd: str | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE,
                                     cwd=cwd)
        self.out = bytearray()
        self.err = bytearray()

    def pump(self, timeout: float) -> None:
        streams = {self.proc.stdout: self.out, self.proc.stderr: self.err}
        ready, _, _ = select.select([s for s in streams if not s.closed], [], [], timeout)
        for s in ready:
            data = os.read(s.fileno(), 65536)
            if data:
                streams[s] += data

    def wait_for(self, pattern: re.Pattern | str, stream: str = "err", timeout: float = 20.0) -> re.Match:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        while True:
            text = (self.err if stream == "err" else self.out).decode(errors="replace")
            m = rx.search(text)
            if m:
                return m
            if self.proc.poll() is not None:
                self.pump(0.1)
                text = (self.err if stream == "err" else self.out).decode(errors="replace")
                if rx.search(text):
                    return rx.search(text)  # type: ignore[return-value]
                raise AssertionError(f"process exited ({self.proc.returncode}) before {rx.pattern!r}:\n"
                                     f"{self.err.decode(errors='replace')}\n{self.out.decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {rx.pattern!r}:\n{self.err.decode(errors='replace')}")
            self.pump(0.1)

    def finish(self, timeout: float = 15.0, sig: int | None = None) -> tuple[int, str, str]:
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=5)
        self.out += out or b""
        self.err += err or b""
        return self.proc.returncode, self.out.decode(errors="replace"), self.err.decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish(timeout=5)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, str]:
    """A server pair (SANs localhost, 127.0.0.1, ::1) and a client pair, written as PEM files."""
    d = tmp_path_factory.mktemp("certs")
    out = {}
    for name, kind, cn in (("server", "rsa", "localhost"), ("client", "ecdsa", "client")):
        cert, key = make_self_signed(kind, cn)
        (d / f"{name}.crt").write_bytes(cert)
        (d / f"{name}.key").write_bytes(key)
        os.chmod(d / f"{name}.key", 0o600)
        out[name + "_cert"], out[name + "_key"] = str(d / f"{name}.crt"), str(d / f"{name}.key")
    return out


@pytest.fixture
def serve_once(certs, tmp_path):
    """Start `dissector serve --once` on a random port: returns a function (extra args) -> (Background, port)."""
    started: list[Background] = []

    def start(*extra: str) -> tuple[Background, int]:
        bg = Background([sys.executable, "-m", "dissector", "serve", "--port", "0", "--once", "--timeout", "10",
                         "--cert", certs["server_cert"], "--key", certs["server_key"], *extra], cwd=str(tmp_path))
        started.append(bg)
        port = int(bg.wait_for(LISTENING).group(1))
        return bg, port

    yield start
    for bg in started:
        bg.kill()


class ThreadServer:
    """`Server` in a thread of the test process (fast; several connections)."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.out, self.log = io.StringIO(), io.StringIO()
        self.server = Server(cfg, out=self.out, log=self.log)
        self.server.setup()
        self.port = self.server.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> str:
        self.server.close()
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.out.getvalue()


@pytest.fixture
def thread_server(certs, tmp_path):
    servers: list[ThreadServer] = []

    def start(**kw) -> ThreadServer:
        cfg = ServeConfig(port=0, cert=certs["server_cert"], key=certs["server_key"], timeout=10.0, **kw)
        ts = ThreadServer(cfg)
        servers.append(ts)
        return ts

    yield start
    for ts in servers:
        ts.server.close()
        ts.thread.join(10)


def analyze_json(path: str) -> dict:
    r = dissector("analyze", path, "-f", "json", "-q")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def expected_request(method: str, target: str, host: str, body: bytes = b"", headers=None) -> bytes:
    conn = h11.Connection(h11.CLIENT)
    data = conn.send(build_request(method, target, host, body, headers)) or b""
    if body:
        data += conn.send(h11.Data(data=body)) or b""
    return data + (conn.send(h11.EndOfMessage()) or b"")


def tshark_client_bytes(path: str, port: int, stream: int = 0) -> bytes:
    """The client's decrypted bytes of one TLS stream, as tshark follows them with the embedded keys.

    tshark prints node 0's data unindented and node 1's indented with a tab; node 0 is whoever sent the
    first decrypted record (the server in TLS 1.3, whose handshake records look like application data).
    """
    r = subprocess.run([TSHARK, "-r", path, "-d", f"tcp.port=={port},tls", "-q", "-z", f"follow,tls,raw,{stream}"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    node0 = re.search(r"(?m)^Node 0: .*:(\d+)$", r.stdout)
    client_indented = node0 is not None and int(node0.group(1)) == port
    data = bytearray()
    for line in r.stdout.splitlines():
        indented = line.startswith("\t")
        if re.fullmatch(r"[0-9a-f]+", line.strip()) and indented == client_indented:
            data += bytes.fromhex(line.strip())
    return bytes(data)


# ---------------------------------------------------------------------------------------------------
# the web application (sans-IO)
# ---------------------------------------------------------------------------------------------------

def _http(conn, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    out = conn.receive(raw)
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(": ")
        headers.setdefault(k.lower(), v)
    return status, headers, body


def test_webapp_login_basic_bearer_and_oauth2():
    app = WebApp()
    c = app.connection()
    status, headers, body = _http(c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and b"dissector serve" in body
    form = f"user={DEMO_USER}&password={DEMO_PASSWORD}".encode()
    status, headers, _ = _http(c, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
                                  b"urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(form), form))
    assert status == 200
    cookie = headers["set-cookie"]
    assert re.fullmatch(r"session=[\w-]+; Path=/; HttpOnly; Secure; SameSite=Lax", cookie)
    status, _, body = _http(c, b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + cookie.split(";")[0].encode() + b"\r\n\r\n")
    assert f"Logged in as {DEMO_USER}".encode() in body
    status, _, _ = _http(c, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 21\r\n\r\nuser=alice&password=x")
    assert status == 401

    status, headers, _ = _http(c, b"GET /basic HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 401 and headers["www-authenticate"].startswith('Basic realm="dissector"')
    basic = base64.b64encode(f"{DEMO_USER}:{DEMO_PASSWORD}".encode())
    status, _, _ = _http(c, b"GET /basic HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + basic + b"\r\n\r\n")
    assert status == 200

    status, headers, _ = _http(c, b"GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    status, _, _ = _http(c, b"GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n")
    assert status == 401

    target = (f"/authorize?response_type=code&client_id={DEMO_CLIENT_ID}&redirect_uri={DEMO_REDIRECT_URI}"
              "&scope=profile&state=st4te").encode()
    status, headers, _ = _http(c, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 302
    location = headers["location"]
    assert location.startswith(DEMO_REDIRECT_URI + "?code=") and location.endswith("&state=st4te")
    code = re.search(r"code=([^&]+)", location).group(1)
    form = (f"grant_type=authorization_code&code={code}&redirect_uri={DEMO_REDIRECT_URI}&client_id={DEMO_CLIENT_ID}"
            f"&client_secret={DEMO_CLIENT_SECRET}").encode()
    req = b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(form), form)
    status, headers, body = _http(c, req)
    assert status == 200 and headers["content-type"] == "application/json"
    token = json.loads(body)
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0 and token["refresh_token"]
    assert token["scope"] == "profile"
    assert _http(c, req)[0] == 400  # a code is single use
    auth = b"Authorization: Bearer " + token["access_token"].encode()
    status, _, body = _http(c, b"GET /resource HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n\r\n")
    assert status == 200 and json.loads(body)["owner"] == DEMO_USER
    status, _, body = _http(c, b"GET /api/me HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\nConnection: close\r\n\r\n")
    assert status == 200 and c.closed
    wrong = form.replace(DEMO_CLIENT_SECRET.encode(), b"wrong")
    c2 = app.connection()
    assert _http(c2, b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(wrong), wrong))[0] == 401
    assert _http(app.connection(), b"NOT HTTP\r\n\r\n")[0] == 400


def test_request_spec_and_loopback_checks():
    assert parse_request_spec("GET /") == ("GET", "/", b"")
    assert parse_request_spec("POST /login user=a&password=b") == ("POST", "/login", b"user=a&password=b")
    with pytest.raises(ValueError):
        parse_request_spec("get")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.1.2.3")
    assert not is_loopback("192.0.2.1") and not is_loopback("::ffff:192.0.2.1")
    with pytest.raises(ValueError, match="not a loopback address"):
        resolve("192.0.2.1", 443)
    assert all(is_loopback(addr[0]) for _, addr in resolve("127.0.0.1", 443))


def test_load_cert_key_errors(certs, tmp_path):
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate\n")
    with pytest.raises(ServeError, match="not a PEM or DER X.509 certificate"):
        load_cert_key(str(bad), certs["server_key"])
    with pytest.raises(ServeError, match="does not belong to the certificate"):
        load_cert_key(certs["server_cert"], certs["client_key"])
    with pytest.raises(ServeError, match="cannot read the private key"):
        load_cert_key(certs["server_cert"], str(tmp_path / "missing.key"))
    cert, key = load_cert_key(certs["server_cert"], certs["server_key"])
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE KEY" in key


# ---------------------------------------------------------------------------------------------------
# safety: files, ports, combinations
# ---------------------------------------------------------------------------------------------------

def test_generated_pair_is_written_0600_and_never_overwritten(tmp_path):
    server = Server(ServeConfig(port=0, out_dir=str(tmp_path), ecdsa=True), out=io.StringIO(), log=io.StringIO())
    try:
        server.setup()
    finally:
        server.close()
    key, cert = tmp_path / "dissector-serve-ecdsa.key", tmp_path / "dissector-serve-ecdsa.crt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"BEGIN CERTIFICATE" in cert.read_bytes()
    before = key.read_bytes()
    r = dissector("serve", "--port", "0", "--ecdsa", "--out-dir", str(tmp_path))
    assert r.returncode == 2
    assert "exists" in r.stderr and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert key.read_bytes() == before
    with pytest.raises(UsageError):
        Server(ServeConfig(port=0, out_dir=str(tmp_path), ecdsa=True)).setup()


def test_bad_certificate_exits_3_with_one_line(tmp_path, certs):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    r = dissector("serve", "--port", "0", "--cert", str(bad), "--key", certs["server_key"])
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dissector serve: error:") and "bad.pem" in lines[0]
    assert "Traceback" not in r.stderr
    r = dissector("serve", "--port", "0", "--cert", certs["server_cert"], "--key", certs["client_key"])
    assert r.returncode == 3 and "does not belong" in r.stderr


def test_port_in_use_exits_3(certs):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = dissector("serve", "--port", str(port), "--cert", certs["server_cert"], "--key", certs["server_key"])
    assert r.returncode == 3
    assert r.stderr.strip() == f"dissector serve: error: 127.0.0.1:{port} is already in use (another server is " \
                               "listening there; pick another --port)"


@pytest.mark.parametrize("args, words", [
    (["--tls-max", "1.0", "--ciphers", "AES128-SHA"], "cannot complete a handshake"),
    (["--tls-min", "1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"], "no shared cipher"),
    (["--ciphers", "NO-SUCH-CIPHER"], "No cipher can be selected"),
    (["--tls13-ciphers", "TLS_NO_SUCH_SUITE"], "TLS 1.3 cipher suites"),
    (["--groups", "no-such-group"], "group"),
])
def test_unsupported_combination_exits_3(certs, args, words):
    r = dissector("serve", "--port", "0", "--cert", certs["server_cert"], "--key", certs["server_key"], *args)
    assert r.returncode == 3, r.stderr
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2(certs, tmp_path):
    r = dissector("serve", "--port", "0", "--tls-min", "1.3", "--tls-max", "1.2")
    assert r.returncode == 2 and "above" in r.stderr
    r = dissector("serve", "--port", "0", "--require-client-cert", "--cert", certs["server_cert"],
                  "--key", certs["server_key"])
    assert r.returncode == 2 and "--ca" in r.stderr
    existing = tmp_path / "exists.pcapng"
    existing.write_bytes(b"keep me")
    r = dissector("serve", "--port", "0", "--capture", str(existing), "--cert", certs["server_cert"],
                  "--key", certs["server_key"])
    assert r.returncode == 2 and "--force" in r.stderr and existing.read_bytes() == b"keep me"


def test_connect_refuses_non_loopback_and_reports_refused_port():
    r = dissector("connect", "192.0.2.1:443")
    assert r.returncode == 2 and "--allow-remote" in r.stderr
    r = dissector("connect", f"127.0.0.1:{free_port()}", "--insecure", "--timeout", "5")
    assert r.returncode == 3 and "refused" in r.stderr


# ---------------------------------------------------------------------------------------------------
# real peers against `dissector serve`
# ---------------------------------------------------------------------------------------------------

@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
@pytest.mark.parametrize("version, flight", [("-tls1_2", TLS12_FLIGHT), ("-tls1_3", TLS13_FLIGHT)])
def test_openssl_s_client_against_serve(serve_once, version, flight):
    bg, port = serve_once()
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", version, "-servername", "localhost",
                        "-ign_eof"], input=request, capture_output=True, timeout=TIMEOUT)
    assert b"HTTP/1.1 200 OK" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert b"dissector serve" in r.stdout
    code, out, err = bg.finish()
    assert code == 0, err
    assert contains_in_order(message_lines(out), flight), out
    assert "HTTP: GET / -> 200 OK" in out
    assert "SNI localhost" in out and "decryption: decrypted" in out
    assert "1 handshake(s) completed" in err


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_against_serve(serve_once):
    bg, port = serve_once("--alpn", "http/1.1")
    r = subprocess.run([CURL, "--insecure", "--silent", "--show-error", "--max-time", "10", "-i",
                        "--data", f"user={DEMO_USER}&password={DEMO_PASSWORD}", f"https://127.0.0.1:{port}/login"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/1.1 200 OK")
    assert re.search(r"(?im)^set-cookie: session=[\w-]+; Path=/; HttpOnly; Secure; SameSite=Lax", r.stdout)
    code, out, err = bg.finish()
    assert code == 0, err
    assert contains_in_order(message_lines(out), TLS13_FLIGHT), out
    assert "ALPN http/1.1" in out and "HTTP: POST /login -> 200 OK" in out


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_get_with_ca_tls12_rsa_key_exchange(serve_once, certs):
    bg, port = serve_once("--tls-max", "1.2", "--ciphers", "AES128-GCM-SHA256")
    r = subprocess.run([CURL, "--cacert", certs["server_cert"], "--silent", "--show-error", "--max-time", "10",
                        f"https://localhost:{port}/"], capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode == 6:  # localhost does not resolve here
        pytest.skip("localhost does not resolve")
    assert r.returncode == 0, r.stderr
    assert "<h1>dissector serve</h1>" in r.stdout
    code, out, err = bg.finish()
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in out
    names = message_lines(out)
    assert "ServerKeyExchange" not in names  # RSA key exchange
    assert contains_in_order(names, ["ClientHello", "ServerHello", "Certificate", "ServerHelloDone",
                                     "ClientKeyExchange", "ChangeCipherSpec", "Finished*"])


# ---------------------------------------------------------------------------------------------------
# `dissector connect` against openssl s_server
# ---------------------------------------------------------------------------------------------------

@pytest.fixture
def s_server(certs):
    started: list[Background] = []

    def start(*extra: str) -> int:
        for _ in range(5):
            port = free_port()
            bg = Background([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-www", "-cert",
                             certs["server_cert"], "-key", certs["server_key"], *extra])
            started.append(bg)
            try:
                bg.wait_for("ACCEPT", stream="out", timeout=10)
                return port
            except AssertionError:
                bg.kill()  # the port was taken in between: try another
        raise AssertionError("openssl s_server did not start")

    yield start
    for bg in started:
        bg.kill()


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
@pytest.mark.parametrize("version, flight, suite", [
    ("-tls1_2", TLS12_FLIGHT + ["ChangeCipherSpec", "Finished*"], "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    ("-tls1_3", TLS13_FLIGHT + ["Finished*"], "TLS_AES_256_GCM_SHA384"),
])
def test_connect_against_openssl_s_server(s_server, certs, version, flight, suite):
    port = s_server(version)
    r = dissector("connect", f"127.0.0.1:{port}", "--ca", certs["server_cert"], "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    assert re.search(r"(?m)^HTTP/1\.0 200 ok$", r.stdout), r.stdout
    assert suite in r.stdout
    assert contains_in_order(message_lines(r.stdout), flight), r.stdout
    assert "decryption: decrypted" in r.stdout


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
@needs_bridge
def test_connect_resume_by_id_and_renegotiate_against_s_server(s_server):
    port = s_server("-tls1_2", "-client_renegotiation")
    r = dissector("connect", f"127.0.0.1:{port}", "--insecure", "--resume", "id", "--renegotiate", "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    first, second = r.stdout.split("connection 2:")
    assert "renegotiation: a second handshake completed" in first
    assert contains_in_order(message_lines(first), ["Finished*", "Finished*", "ClientHello*", "ServerHello*",
                                                    "ClientKeyExchange*", "Finished*", "Finished*"])
    assert "resumed" in second.splitlines()[0] and "resumed with session ID" in second
    assert "Certificate" not in message_lines(second)


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_connect_verification_failure_is_one_line(s_server):
    port = s_server("-tls1_3")
    r = dissector("connect", f"127.0.0.1:{port}", "--timeout", "10")  # self-signed, no --ca
    assert r.returncode == 3
    assert "certificate verification failed" in r.stderr and "--insecure" in r.stderr
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------------------------------------------
# connect <-> serve
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("server_options", [{}, {"tls_max": "1.2", "ciphers": "AES128-GCM-SHA256"}],
                         ids=["tls13", "tls12-rsa-kx"])
def test_round_trip_capture_decrypts_to_the_bytes_sent(thread_server, tmp_path, certs, server_options):
    server_pcap = str(tmp_path / "server.pcapng")
    ts = thread_server(capture=server_pcap, keylog=str(tmp_path / "server.keys"), **server_options)
    client_pcap = str(tmp_path / "client.pcapng")
    body = f"user={DEMO_USER}&password={DEMO_PASSWORD}"
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--ca", certs["server_cert"], "--request", f"POST /login {body}",
                  "--capture", client_pcap, "--keylog", str(tmp_path / "client.keys"), "--timeout", "10")
    assert r.returncode == 0, r.stderr
    assert re.search(r"(?m)^HTTP/1\.1 200 OK$", r.stdout)
    narration = ts.close()
    assert "HTTP: POST /login -> 200 OK" in narration
    assert stat.S_IMODE(os.stat(tmp_path / "client.keys").st_mode) == 0o600
    sent = expected_request("POST", "/login", f"127.0.0.1:{ts.port}", body.encode())
    docs = {}
    for pcap in (client_pcap, server_pcap):
        doc = docs[pcap] = analyze_json(pcap)
        (session,) = doc["sessions"]
        assert session["decryption"]["status"] == "decrypted"
        assert session["server"] == f"127.0.0.1:{ts.port}"
        assert session["app_data"]["client"] == {"bytes": len(sent), "sha256": hashlib.sha256(sent).hexdigest()}
        follow = subprocess.run([sys.executable, "-m", "dissector", "follow", pcap, "--session", "0", "--format",
                                 "raw"], capture_output=True, timeout=TIMEOUT)
        assert follow.returncode == 0 and follow.stdout.startswith(sent)
        if TSHARK:
            assert tshark_client_bytes(pcap, ts.port) == sent
    # both endpoints recorded the same connection
    c, s = docs[client_pcap]["sessions"][0], docs[server_pcap]["sessions"][0]
    assert c["client"] == s["client"] and c["app_data"] == s["app_data"]
    assert [m["type"] for m in c["messages"]] == [m["type"] for m in s["messages"]]


def test_oauth2_demo_capture(thread_server, tmp_path):
    ts = thread_server()
    pcap = str(tmp_path / "oauth2.pcapng")
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--oauth2-demo", "--capture", pcap,
                  "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "OAuth2 authorization-code flow complete" in r.stderr
    narration = ts.close()
    assert "HTTP: POST /token -> 200 OK" in narration and "HTTP: GET /resource -> 200 OK" in narration
    doc = analyze_json(pcap)
    assert len(doc["sessions"]) == 3
    assert all(s["decryption"]["status"] == "decrypted" for s in doc["sessions"])
    if any("http" in s for s in doc["sessions"]):  # the HTTP plugin is installed
        steps = {req.get("oauth2_step") for s in doc["sessions"] for req in s.get("http", {}).get("requests", [])}
        assert {"authorization_request", "token_request", "resource_request"} <= steps
    token = subprocess.run([sys.executable, "-m", "dissector", "follow", pcap, "--session", "1", "--format", "raw"],
                           capture_output=True, timeout=TIMEOUT)
    assert b"grant_type=authorization_code" in token.stdout and b'"token_type": "Bearer"' in token.stdout


def test_oauth2_demo_on_one_connection(thread_server):
    ts = thread_server()
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--oauth2-demo", "--oauth2-connections", "1",
                  "--timeout", "10")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("connection over") == 1
    assert re.findall(r"(?m)^HTTP/1\.1 .*$", r.stdout) == ["HTTP/1.1 302 Found", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]
    ts.close()


@needs_bridge
def test_resume_by_ticket_with_0rtt_and_key_update(thread_server):
    ts = thread_server(max_early_data=16384)
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--sni", "localhost", "--key-update",
                  "--early-data", "GET /api/me", "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    first, second = r.stdout.split("connection 2:")
    assert contains_in_order(message_lines(first), ["Finished*", "KeyUpdate*", "KeyUpdate*"])
    assert "resumed" in second.splitlines()[0]
    assert "EndOfEarlyData*" in message_lines(second)
    assert "0-RTT: " in second and "accepted by the server" in second
    assert "GET /api/me (sent as 0-RTT early data) -> HTTP/1.1 401 Unauthorized" in second
    narration = ts.close()
    assert "0-RTT: " in narration and "early data received" in narration


@needs_bridge
def test_zero_rtt_refused_is_reported(thread_server):
    ts = thread_server()  # no --max-early-data: tickets do not allow 0-RTT
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--early-data", "GET /", "--timeout", "10")
    assert r.returncode == 0, r.stderr
    second = r.stdout.split("connection 2:")[1]
    assert "0-RTT: not sent" in second
    assert re.findall(r"(?m)^HTTP/1\.1 .*$", second) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]
    ts.close()


@needs_bridge
def test_tls12_resume_by_id_renegotiation_and_key_update_refusal(thread_server):
    ts = thread_server(allow_renegotiation=True, no_tickets=True)
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--tls-max", "1.2", "--resume", "id",
                  "--renegotiate", "--key-update", "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    first, second = r.stdout.split("connection 2:")
    assert "KeyUpdate: not possible: KeyUpdate exists only in TLS 1.3" in first
    assert "renegotiation: a second handshake completed" in first
    assert message_lines(first).count("ClientHello*") == 1
    assert "resumed with session ID" in second
    narration = ts.close()
    assert narration.count("connection ") >= 2


@needs_bridge
def test_renegotiation_refused_by_default(thread_server):
    ts = thread_server()
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--tls-max", "1.2", "--renegotiate",
                  "--timeout", "10")
    assert r.returncode == 3
    assert "no_renegotiation" in r.stdout and "--allow-renegotiation" in r.stderr
    ts.close()


def test_mutual_tls(thread_server, certs):
    ts = thread_server(require_client_cert=True, ca=certs["client_cert"], tls_max="1.2")
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--cert", certs["client_cert"],
                  "--key", certs["client_key"], "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    assert contains_in_order(message_lines(r.stdout), ["CertificateRequest", "ServerHelloDone", "Certificate",
                                                       "ClientKeyExchange", "CertificateVerify"])
    assert "CN=client" in r.stdout
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--timeout", "10")
    assert r.returncode == 3 and "handshake failed" in r.stderr
    narration = ts.close()
    assert "error: handshake failed" in narration


@needs_bridge
def test_tls13_mutual_tls_and_suite_choice(thread_server, certs):
    ts = thread_server(require_client_cert=True, ca=certs["client_cert"], tls13_ciphers="TLS_CHACHA20_POLY1305_SHA256")
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--cert", certs["client_cert"],
                  "--key", certs["client_key"], "--timeout", "10")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "TLS_CHACHA20_POLY1305_SHA256" in r.stdout
    assert contains_in_order(message_lines(r.stdout), ["EncryptedExtensions*", "CertificateRequest*", "Certificate*",
                                                       "CertificateVerify*", "Finished*", "Certificate*",
                                                       "CertificateVerify*", "Finished*"])
    ts.close()


@needs_bridge
def test_groups_list_forces_hello_retry_request(thread_server):
    ts = thread_server(groups="P-256")
    r = dissector("connect", f"127.0.0.1:{ts.port}", "--insecure", "--groups", "X25519:P-256", "--timeout", "10")
    assert r.returncode == 0, r.stderr
    assert contains_in_order(message_lines(r.stdout), ["ClientHello", "HelloRetryRequest", "ClientHello", "ServerHello"])
    ts.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stops_cleanly_on_a_signal(certs, tmp_path, sig):
    pcap = tmp_path / "live.pcapng"
    bg = Background([sys.executable, "-m", "dissector", "serve", "--port", "0", "--cert", certs["server_cert"],
                     "--key", certs["server_key"], "--capture", str(pcap), "--timeout", "10"])
    try:
        port = int(bg.wait_for(LISTENING).group(1))
        for _ in range(2):
            r = dissector("connect", f"127.0.0.1:{port}", "--insecure", "--timeout", "10")
            assert r.returncode == 0, r.stderr
        bg.wait_for(r"connection 2: ", stream="out")
        code, out, err = bg.finish(sig=sig)
    finally:
        bg.kill()
    assert code == 0, err
    assert "stopped: 2 connection(s); 2 handshake(s) completed" in err
    assert "capture " + str(pcap) + ": 2 connection(s)" in err
    doc = analyze_json(str(pcap))
    assert [s["decryption"]["status"] for s in doc["sessions"]] == ["decrypted", "decrypted"]


def test_plain_http_to_the_tls_port_is_narrated(thread_server):
    ts = thread_server()
    with socket.create_connection(("127.0.0.1", ts.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while "connection 1:" not in ts.out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    narration = ts.close()
    assert "connection 1:" in narration and "error: handshake failed" in narration
