"""`dissector live`: capture on the loopback interface while real TLS connections happen.

The end-to-end tests start `dissector live -i lo -f "tcp port PORT" --format jsonl --keylog K` as a
subprocess, make TLS connections on a random loopback port (Python's ssl, curl), stop it and check the
labelled messages and the decrypted bytes. They need root or CAP_NET_RAW and are skipped otherwise.
The key-wait logic and the error messages are also tested without privileges.
"""
from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dissector.commands.live import KeyWait
from dissector.tls.keylog import KeyLog

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 20  # seconds, for every subprocess and socket

TLS12_MESSAGES = [("client", "ClientHello"), ("server", "ServerHello"), ("server", "Certificate"),
                  ("server", "ServerKeyExchange"), ("server", "ServerHelloDone"), ("client", "ClientKeyExchange"),
                  ("client", "ChangeCipherSpec"), ("client", "Finished"), ("server", "ChangeCipherSpec"),
                  ("server", "Finished")]
TLS13_MESSAGES = [("client", "ClientHello"), ("server", "ServerHello"), ("server", "EncryptedExtensions"),
                  ("server", "Certificate"), ("server", "CertificateVerify"), ("server", "Finished"),
                  ("client", "Finished")]


def _capture_problem() -> str | None:
    """Why live capture on lo cannot be tested here, or None."""
    if not sys.platform.startswith("linux"):
        return "live capture tests run on Linux (loopback link type and PF_PACKET)"
    from dissector.capture.live import LiveCapture
    from dissector.errors import CaptureError

    try:
        LiveCapture("lo", "tcp port 9").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    return None


_PROBLEM = _capture_problem()
needs_capture = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")


# ------------------------------------------------------------------------------------------------ helpers


class TLSServer:
    """A threaded TLS server on a random loopback port: reads one request, answers `response`, closes."""

    def __init__(self, tmp: Path, response: bytes) -> None:
        from dissector.endpoint.pair import make_self_signed

        cert, key = make_self_signed()
        (tmp / "cert.pem").write_bytes(cert)
        (tmp / "key.pem").write_bytes(key)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
        self.response = response
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(TIMEOUT)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                tls.sendall(self.response)
        except (OSError, ssl.SSLError) as exc:
            self.errors.append(exc)

    def close(self) -> None:
        self.sock.close()


def http_response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body


def tls_client(port: int, keylog: Path, request: bytes, max_version: ssl.TLSVersion | None = None) -> bytes:
    """One HTTPS-like exchange with Python's ssl; the key log goes to `keylog`. Returns the response."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = str(keylog)
    if max_version is not None:
        ctx.maximum_version = max_version
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(request)
        data = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


class Live:
    """`dissector live` as a subprocess, ready once it printed its "listening" line."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "dissector", "live", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.err_head = b""
        deadline = time.monotonic() + TIMEOUT
        while b"listening" not in self.err_head:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"dissector live did not start: {self.err_head.decode()} {self.err.decode()}")
            if select.select([self.proc.stderr], [], [], left)[0]:
                line = self.proc.stderr.readline()
                if not line:
                    continue
                self.err_head += line
        self.out = b""
        self.err = b""

    def stop(self, sig: int = signal.SIGINT) -> tuple[list[dict], str]:
        """Stop it (if it has not stopped by itself); returns the jsonl events and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait()

    def wait(self) -> tuple[list[dict], str]:
        try:
            out, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail("dissector live did not stop")
        self.out, self.err = out, self.err_head + err
        text = out.decode()
        events = [json.loads(line) for line in text.splitlines()] if text.startswith("{") else []
        return events, self.err.decode()


def messages_by_flow(events: list[dict]) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for e in events:
        if e["event"] == "TLSMessage":
            out.setdefault(e["flow"], []).append((e["from"], e["type"]))
    return out


def sessions(events: list[dict]) -> dict[int, dict]:
    return {e["id"]: e for e in events if e["event"] == "Session"}


def digest(data: bytes) -> dict:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def handshake_part(msgs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The handshake, without what TLS 1.3 sends after it (tickets, close alerts) or the compatibility CCS."""
    return [m for m in msgs if m[1] not in ("NewSessionTicket", "Alert")
            and not (m[1] == "ChangeCipherSpec" and ("server", "EncryptedExtensions") in msgs)]


@pytest.fixture
def server(tmp_path):
    srv = TLSServer(tmp_path, http_response(b"hello from the server\n" * 3))
    yield srv
    srv.close()


# ------------------------------------------------------------------------------------------------ end to end


@needs_capture
def test_tls12_and_tls13_labelled_and_decrypted_live(tmp_path):
    body = os.urandom(200_000)  # loopback segments of up to 64 KiB: none may be cut by the BPF snap length
    srv = TLSServer(tmp_path, http_response(body))
    keylog = tmp_path / "keys.log"  # does not exist yet: live must pick it up when the client creates it
    live = Live("-i", "lo", "-f", f"tcp port {srv.port}", "--format", "jsonl", "--keylog", str(keylog),
                "--duration", str(TIMEOUT))
    try:
        req12 = b"GET /tls12 HTTP/1.1\r\nHost: localhost\r\n\r\n"
        req13 = b"GET /tls13 HTTP/1.1\r\nHost: localhost\r\n\r\n"
        resp12 = tls_client(srv.port, keylog, req12, ssl.TLSVersion.TLSv1_2)
        resp13 = tls_client(srv.port, keylog, req13)
    finally:
        events, err = live.stop()
        srv.close()
    assert live.proc.returncode == 0, err
    assert resp12 == resp13 == http_response(body)
    assert not srv.errors
    flows = messages_by_flow(events)
    docs = sessions(events)
    assert len(docs) == 2, err
    by_version = {d["version"]: d for d in docs.values()}
    assert set(by_version) == {"TLS 1.2", "TLS 1.3"}
    d12, d13 = by_version["TLS 1.2"], by_version["TLS 1.3"]
    assert handshake_part(flows[d12["id"]]) == TLS12_MESSAGES
    assert handshake_part(flows[d13["id"]]) == TLS13_MESSAGES
    for doc, req in ((d12, req12), (d13, req13)):
        assert doc["decryption"] == {"status": "decrypted", "detail": ""}
        assert doc["app_data"]["client"] == digest(req)
        assert doc["app_data"]["server"] == digest(http_response(body))
        assert doc["server"] == f"127.0.0.1:{srv.port}"
        assert "anomalies" not in doc, doc["anomalies"]
    # events stream as they happen: a Session line follows its own messages, before the Summary
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "Summary" and kinds.index("Session") < len(kinds) - 1
    summary = events[-1]
    assert summary["stopped"] == "interrupted" and summary["decryption"] == {"decrypted": 2}
    assert summary["kernel_dropped"] == 0 and summary["packets"] > 20
    assert "stopped (interrupted)" in err and "2 decrypted" in err and "Traceback" not in err


@needs_capture
def test_key_log_written_late_still_decrypts(tmp_path, server):
    """The key log race, made wide: the lines reach the key log 0.3 s after the whole connection.

    The live analysis holds the flow's packets until they do (--key-wait, 1 s by default). A second
    connection whose lines never come is released after the wait and reported no-key, with a warning."""
    keylog = tmp_path / "keys.log"
    keylog.write_text("")
    live = Live("-i", "lo", "-f", f"tcp port {server.port}", "--format", "jsonl", "--keylog", str(keylog),
                "--duration", str(TIMEOUT))
    try:
        private = tmp_path / "client.log"
        late_req = b"GET /late HTTP/1.1\r\n\r\n"
        tls_client(server.port, private, late_req)
        time.sleep(0.3)
        keylog.write_bytes(private.read_bytes())
        tls_client(server.port, tmp_path / "never-shown.log", b"GET /never HTTP/1.1\r\n\r\n")
        time.sleep(0.2)
    finally:
        events, err = live.stop()
    docs = sorted(sessions(events).values(), key=lambda d: d["id"])
    assert [d["decryption"]["status"] for d in docs] == ["decrypted", "no-key"], err
    assert docs[0]["app_data"]["client"] == digest(late_req)
    assert handshake_part(messages_by_flow(events)[docs[0]["id"]]) == TLS13_MESSAGES
    summary = events[-1]
    assert summary["key_waits"] == 2 and summary["key_wait_timeouts"] == 1
    assert 250 <= summary["key_wait_max_ms"] < 1000
    assert "waited 1 s for key log lines" in err


@needs_capture
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_sslkeylogfile(tmp_path, server):
    keylog = tmp_path / "curl-keys.log"
    live = Live("-i", "lo", "-f", f"tcp port {server.port}", "--format", "jsonl", "--keylog", str(keylog),
                "--duration", str(TIMEOUT))
    try:
        proc = subprocess.run(["curl", "--silent", "--show-error", "--insecure", "--max-time", "10",
                               f"https://127.0.0.1:{server.port}/"],
                              env=dict(os.environ, SSLKEYLOGFILE=str(keylog)), capture_output=True, timeout=TIMEOUT)
    finally:
        events, err = live.stop(signal.SIGTERM)
    assert proc.returncode == 0, proc.stderr
    assert live.proc.returncode == 0, err
    (doc,) = sessions(events).values()
    assert doc["decryption"]["status"] == "decrypted", err
    assert doc["app_data"]["server"] == digest(server.response)
    assert doc["app_data"]["client"] == digest(server.requests[0])
    msgs = messages_by_flow(events)[doc["id"]]
    assert msgs[0] == ("client", "ClientHello") and ("client", "Finished") in msgs
    assert doc.get("http", {}).get("requests", [{}])[0].get("target") == "/"  # the plugins run live too
    assert events[-1]["stopped"] == "terminated"


@needs_capture
def test_written_pcapng_analyzes_the_same(tmp_path, server):
    keylog = tmp_path / "keys.log"
    unrelated = "CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48
    keylog.write_text(unrelated + "\n")
    out = tmp_path / "live.pcapng"
    live = Live("-i", "lo", "-f", f"tcp port {server.port}", "--format", "jsonl", "--keylog", str(keylog),
                "-w", str(out), "--duration", str(TIMEOUT))
    try:
        tls_client(server.port, keylog, b"GET /a HTTP/1.1\r\n\r\n", ssl.TLSVersion.TLSv1_2)
        tls_client(server.port, keylog, b"GET /b HTTP/1.1\r\n\r\n")
    finally:
        events, err = live.stop()
    assert f"wrote {out}" in err
    data = out.read_bytes()
    assert unrelated.split()[1].encode() not in data  # only this capture's secrets are embedded
    # no --keylog: the secrets come from the file's Decryption Secrets Blocks
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(out), "--format", "json"], cwd=ROOT,
                          capture_output=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    offline = json.loads(proc.stdout)["sessions"]
    live_docs = sessions(events)
    live_msgs = messages_by_flow(events)
    assert len(offline) == len(live_docs) == 2
    keys = ("client", "server", "version", "cipher_suite", "decryption", "app_data", "resumed")
    for doc in offline:
        twin = live_docs[doc["id"]]
        assert {k: doc.get(k) for k in keys} == {k: twin.get(k) for k in keys}
        assert [(m["from"], m["type"]) for m in doc["messages"]] == live_msgs[doc["id"]]
        assert doc["decryption"]["status"] == "decrypted"
    assert events[-1]["packets"] == sum(1 for _ in _pcapng_packets(out))


def _pcapng_packets(path: Path):
    from dissector.capture.reader import open_capture

    with open_capture(str(path)) as cap:
        for _ts, _lt, frame in cap:
            yield bytes(frame)


@needs_capture
def test_count_stops_by_itself_and_table_format(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        live = Live("-i", "lo", "-f", f"tcp port {port}", "--count", "3")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
                pass
        finally:
            _, err = live.wait()
    finally:
        srv.close()
    assert live.proc.returncode == 0, err
    assert "stopped (--count reached): 3 packets captured" in err
    assert live.out.decode().startswith("Summary: 0 TLS session(s); 3 packets")


# ------------------------------------------------------------------------------------------------ errors


def run_live(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "dissector", "live", *args], cwd=ROOT,
                          capture_output=True, timeout=TIMEOUT)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 3, err
    assert len(lines) == 1 and lines[0].startswith("dissector: error:"), err
    return lines[0]


def test_unknown_interface_lists_the_available_ones():
    line = one_line_error(run_live("-i", "nosuch0", "--duration", "1"))
    assert "unknown interface 'nosuch0'" in line and "lo" in line


def test_no_privileges_is_a_clear_error():
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (to drop CAP_NET_RAW) is not installed")
        prefix: tuple[str, ...] = (setpriv, "--bounding-set", "-net_raw", "--inh-caps", "-net_raw")
    elif _PROBLEM is None:
        pytest.skip("this unprivileged user can capture (CAP_NET_RAW on the interpreter)")
    else:
        prefix = ()
    line = one_line_error(run_live("-i", "lo", "--duration", "1", prefix=prefix))
    assert "live capture needs root or CAP_NET_RAW" in line


@needs_capture
def test_bad_filter_is_a_clear_error():
    line = one_line_error(run_live("-i", "lo", "-f", "tcp port nosuchservice", "--duration", "1"))
    assert "bad capture filter" in line


def test_importing_live_does_not_import_scapy():
    code = "import sys, dissector.capture.live, dissector.commands.live; print('scapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert out.stdout.strip() == "False", out.stderr


# ------------------------------------------------------------------------------------------------ KeyWait


class _FakeTLS:
    def __init__(self, cr: bytes) -> None:
        self.client_random = cr


class _FakeState:
    def __init__(self, cr: bytes) -> None:
        self.tls = _FakeTLS(cr)


class _FakePipe:
    def __init__(self) -> None:
        self.flows: dict = {}

    def client_random(self, key: tuple) -> bytes:  # what Pipeline.client_random answers
        tls = getattr(self.flows.get(key), "tls", None)
        return tls.client_random if tls is not None else b""


CR_A, CR_B = bytes(range(32)), bytes(range(1, 33))
KEY_A = (b"\x7f\0\0\1", 50000, b"\x7f\0\0\1", 443)
KEY_B = (b"\x7f\0\0\1", 50001, b"\x7f\0\0\1", 443)


def _rev(key: tuple) -> tuple:
    return key[2], key[3], key[0], key[1]


def _item(n: int, key: tuple, payload: int = 100) -> list:
    return [n, float(n), 1, b"f" * 60, key, payload]


def _gate(wait: float = 1.0):
    pipe, log, clock = _FakePipe(), KeyLog(), [0.0]
    pipe.flows[KEY_A] = pipe.flows[_rev(KEY_A)] = _FakeState(CR_A)
    pipe.flows[KEY_B] = pipe.flows[_rev(KEY_B)] = _FakeState(CR_B)
    refreshed = []
    gate = KeyWait(pipe, log, wait, refresh=lambda: refreshed.append(1), clock=lambda: clock[0])
    return gate, log, clock, refreshed


def test_keywait_holds_a_flow_until_its_keys_come_and_keeps_order():
    gate, log, clock, refreshed = _gate()
    assert gate.offer(_item(0, KEY_A, payload=0)) != []  # a bare ACK never waits
    assert gate.offer(_item(1, _rev(KEY_A))) == []  # ServerHello flight: no key yet, held
    assert refreshed  # the key log was re-read before deciding to wait
    assert gate.offer(_item(2, KEY_B, payload=0)) != []  # other flows are not held
    assert gate.offer(_item(3, KEY_A, payload=0)) == []  # later frames of a held flow queue behind it
    assert gate.release(0.5) == []
    for label in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"):
        log.add_text(f"{label} {CR_A.hex()} {'11' * 32}\n")
    assert gate.release(0.5) == []  # TLS 1.3 needs all four traffic secrets
    log.add_text(f"SERVER_TRAFFIC_SECRET_0 {CR_A.hex()} {'11' * 32}\n")
    assert [it[0] for it in gate.release(0.6)] == [1, 3]
    assert not gate.holding and gate.waits == 1 and gate.timeouts == 0
    assert gate.offer(_item(4, KEY_A)) != []  # keyed: never held again


def test_keywait_gives_up_after_the_wait_once_per_session():
    gate, log, clock, _ = _gate(wait=1.0)
    assert gate.offer(_item(0, KEY_B)) == []
    assert gate.next_deadline() == 1.0
    assert gate.release(0.99) == []
    assert [it[0] for it in gate.release(1.0)] == [0]
    assert gate.timeouts == 1
    assert gate.offer(_item(1, KEY_B)) != []  # gave up: the session goes on without waiting
    log.add_text(f"CLIENT_RANDOM {CR_A.hex()} {'22' * 48}\n")
    assert gate.offer(_item(2, KEY_A)) != []  # a TLS 1.2 master secret is enough


def test_keywait_disabled_and_unknown_flows_pass():
    gate, _, _, _ = _gate(wait=0.0)
    assert gate.offer(_item(0, KEY_A)) != []
    gate, _, _, _ = _gate()
    assert gate.offer(_item(0, (b"\1\2\3\4", 1, b"\4\3\2\1", 2))) != []  # no TLS session known on it
    assert gate.offer([1, 1.0, 1, b"x", None, 0]) != []  # not TCP


@needs_capture
@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_dtls_over_udp_live(tmp_path):
    # OpenSSL's DTLS 1.2 server and client on a loopback UDP port: the association is found, labelled with its
    # cookie exchange and decrypted as it happens
    real = ROOT / "samples" / "real"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    keylog = tmp_path / "dtls.keys"
    live = Live("-i", "lo", "-f", f"udp port {port}", "--format", "jsonl", "--keylog", str(keylog),
                "--duration", str(TIMEOUT))
    server = subprocess.Popen(["openssl", "s_server", "-dtls1_2", "-accept", f"127.0.0.1:{port}", "-mtu", "1500",
                               "-cert", str(real / "server.crt.pem"), "-key", str(real / "server.key.pem"), "-quiet"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        client = subprocess.run(["openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-mtu", "1500",
                                 "-keylogfile", str(keylog), "-quiet", "-no_ign_eof"],
                                input=b"hello over DTLS\n", capture_output=True, timeout=TIMEOUT)
        time.sleep(0.5)
    finally:
        server.kill()
        server.communicate()
        events, err = live.stop()
    assert client.returncode == 0, client.stdout + client.stderr
    [doc] = sessions(events).values()
    assert (doc["transport"], doc["version"], doc["server"]) == ("udp", "DTLS 1.2", f"127.0.0.1:{port}")
    types = [t for _, t in messages_by_flow(events)[doc["id"]]]
    assert types[:3] == ["ClientHello", "HelloVerifyRequest", "ClientHello"] and types.count("Finished") == 2
    assert doc["decryption"] == {"status": "decrypted", "detail": ""}
    assert doc["app_data"]["client"] == digest(b"hello over DTLS\n")
