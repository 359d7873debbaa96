"""The TLS server behind `dissector serve`: real sockets, OpenSSL over MemoryBIO, every byte seen.

`Server(config)` accepts TCP connections (a thread per connection; the accept loop polls so Ctrl-C and
`stop()` work), drives each one with `client.SocketTLS` (the server side of an `ssl.SSLObject` over two
`MemoryBIO`s), serves `webapp.WebApp` over it, and at the end of each connection narrates its handshake with
`narrate.Narrator` (dissector's own pipeline over the recorded bytes, decrypted with the key log the server
writes) and appends it to the capture, when one is asked for.

The SSL context comes from `pair.TLSPair`, which applies every option (versions, suites, TLS 1.3 suites through
the libssl bridge, DH parameters, early data...). Its in-memory client doubles as a preflight: one handshake
in memory before listening, so a version/suite combination this OpenSSL cannot do is a clear error at start,
not a failure for every client.

Errors a user can fix raise `ServeError` (the CLI exits 3) or `UsageError` (exit 2), each with one line.
"""
from __future__ import annotations

import errno
import os
import selectors
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from dissector import errors
from dissector.errors import DissectorError

from .client import PeerClosed, SocketTLS, describe_ssl_error, is_loopback, set_groups
from .narrate import CaptureSink, KeylogTail, Narrator, Recording, format_session
from .pair import OpenSSLBridge, PairOptions, TLSPair, Unsupported, make_self_signed
from .webapp import WebApp

__all__ = ["ServeConfig", "Server", "ServeError", "UsageError", "load_cert_key", "write_new_file",
           "GENERATED_NAMES", "prepare_keylog", "DEFAULT_CIPHERS"]

# Python's default cipher list leaves out what textbooks show (RSA key exchange, CBC with SHA-1); both endpoints
# start from OpenSSL's own default, as openssl s_client/s_server and curl do
DEFAULT_CIPHERS = "DEFAULT"

# OpenSSL 3.0 servers refuse client-initiated renegotiation unless this option is set; Python does not name it
OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8

GENERATED_NAMES = {"rsa": ("dissector-serve.crt", "dissector-serve.key"),
                   "ecdsa": ("dissector-serve-ecdsa.crt", "dissector-serve-ecdsa.key")}


class ServeError(DissectorError):
    """Something in the environment or the given files prevents serving (exit 3)."""


class UsageError(errors.UsageError):
    """Options that cannot work together, or a file that exists without --force (exit 2)."""


@dataclass(slots=True)
class ServeConfig:
    bind: str = "127.0.0.1"
    port: int = 8443
    tls_min: str | None = None
    tls_max: str | None = None
    ciphers: str | None = None
    tls13_ciphers: str | None = None
    groups: str | None = None
    cert: str | None = None
    key: str | None = None
    ecdsa: bool = False
    out_dir: str = "."
    require_client_cert: bool = False
    ca: str | None = None
    alpn: Sequence[str] | None = None
    no_tickets: bool = False
    max_early_data: int = 0
    allow_renegotiation: bool = False
    keylog: str | None = None
    capture: str | None = None
    once: bool = False
    force: bool = False
    timeout: float = 30.0
    max_connections: int = 64


# ---------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------

def write_new_file(path: str, data: bytes, mode: int, force: bool) -> None:
    """Create `path` with `mode`; an existing file is replaced only with `force` (else UsageError)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} exists; use --force to overwrite it") from None
    except OSError as exc:
        raise ServeError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # an overwritten file keeps its old mode otherwise
        f.write(data)


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ServeError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def load_cert_key(cert_path: str, key_path: str) -> tuple[bytes, bytes]:
    """A certificate (chain) and its private key, PEM or DER, checked to match; returned as PEM."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    data = _read(cert_path, "certificate")
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ServeError(f"{cert_path} is not a PEM or DER X.509 certificate") from None
    kdata = _read(key_path, "private key")
    try:
        if b"-----BEGIN" in kdata:
            key = serialization.load_pem_private_key(kdata, password=None)
        else:
            key = serialization.load_der_private_key(kdata, password=None)
    except TypeError:
        raise ServeError(f"{key_path} is encrypted; write it without a passphrase first "
                         f"(openssl pkey -in {key_path} -out plain.key)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ServeError(f"{key_path} is not a PEM or DER private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certs[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise ServeError(f"the private key {key_path} does not belong to the certificate {cert_path}")
    cert_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem


def prepare_keylog(path: str) -> None:
    """Make sure a key log file exists with mode 0600 before OpenSSL appends to it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise ServeError(f"cannot write the key log {path}: {exc.strerror or exc}") from None
    os.close(fd)


def _version_text(lo: str | None, hi: str | None) -> str:
    if lo and hi:
        return f"TLS {lo}" if lo == hi else f"TLS {lo}-{hi}"
    if lo:
        return f"TLS {lo} and later"
    if hi:
        return f"TLS up to {hi}"
    return "OpenSSL's default TLS versions"


# ---------------------------------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Stats:
    connections: int = 0
    handshakes: int = 0
    failed: int = 0
    requests: int = 0
    messages: list[str] = field(default_factory=list)


class Server:
    def __init__(self, config: ServeConfig, out: TextIO | None = None, log: TextIO | None = None) -> None:
        self.cfg = config
        self.out = out or sys.stdout
        self.log = log or sys.stderr
        self.pair: TLSPair | None = None
        self.ctx: ssl.SSLContext | None = None
        self.listener: socket.socket | None = None
        self.sink: CaptureSink | None = None
        self.narrator: Narrator | None = None
        self.webapp = WebApp()
        self.stats = Stats()
        self.port = 0
        self.cert_files: tuple[str, str] | None = None
        self._tmp: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._print_lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._active: dict[int, SocketTLS] = {}
        self._closed = False

    # -- setup ---------------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        with self._print_lock:
            print(f"dissector serve: {text}", file=self.log, flush=True)

    def setup(self) -> None:
        """Everything that can fail before serving: files, TLS context (with a preflight handshake), socket."""
        cfg = self.cfg
        try:
            self._check_options()
            cert_pem, key_pem, to_write = self._certificate()
            self._context(cert_pem, key_pem)
            self._keylog()
            if cfg.capture:
                try:
                    self.sink = CaptureSink(cfg.capture, force=cfg.force, application="dissector serve")
                except FileExistsError:
                    raise UsageError(f"{cfg.capture} exists; use --force to overwrite it") from None
                except OSError as exc:
                    raise ServeError(f"cannot write the capture {cfg.capture}: {exc.strerror or exc}") from None
            self.narrator = Narrator(KeylogTail(self._keylog_path), self.sink)
            self._listen()
            if to_write:  # a generated pair is written once everything else worked
                (cert_path, key_path), kind = self.cert_files, to_write  # type: ignore[misc]
                write_new_file(key_path, key_pem, 0o600, cfg.force)
                write_new_file(cert_path, cert_pem, 0o644, cfg.force)
                self._say(f"generated a self-signed {kind.upper()} certificate for localhost, 127.0.0.1 and ::1: "
                          f"{cert_path} (key {key_path}, mode 0600)")
        except BaseException:
            self.close()
            raise

    def _check_options(self) -> None:
        cfg = self.cfg
        order = ["1.0", "1.1", "1.2", "1.3"]
        if cfg.tls_min and cfg.tls_max and order.index(cfg.tls_min) > order.index(cfg.tls_max):
            raise UsageError(f"--tls-min {cfg.tls_min} is above --tls-max {cfg.tls_max}")
        if bool(cfg.cert) != bool(cfg.key):
            raise UsageError("--cert and --key go together")
        if cfg.require_client_cert and not cfg.ca:
            raise UsageError("--require-client-cert needs --ca FILE (the CA certificates that sign client certificates)")
        if cfg.max_early_data < 0:
            raise UsageError("--max-early-data must not be negative")
        if not 0 <= cfg.port <= 65535:
            raise UsageError(f"--port {cfg.port} is not a TCP port")

    def _certificate(self) -> tuple[bytes, bytes, str | None]:
        """(certificate PEM, key PEM, key type to write out or None). Generated pairs are written by setup()."""
        cfg = self.cfg
        if cfg.cert and cfg.key:
            self.cert_files = (cfg.cert, cfg.key)
            return (*load_cert_key(cfg.cert, cfg.key), None)
        kind = "ecdsa" if cfg.ecdsa else "rsa"
        cert_path, key_path = (os.path.join(cfg.out_dir, n) for n in GENERATED_NAMES[kind])
        if not cfg.force:
            for path in (cert_path, key_path):
                if os.path.exists(path):
                    raise UsageError(f"{path} exists; pass --cert {cert_path} --key {key_path} to serve with it, "
                                     "or --force to generate a new pair")
        if not os.path.isdir(cfg.out_dir):
            raise ServeError(f"--out-dir {cfg.out_dir}: no such directory")
        cert_pem, key_pem = make_self_signed(kind)
        self.cert_files = (cert_path, key_path)
        return cert_pem, key_pem, kind

    def _context(self, cert_pem: bytes, key_pem: bytes) -> None:
        cfg = self.cfg
        opts = PairOptions(min_version=cfg.tls_min, max_version=cfg.tls_max, ciphers=cfg.ciphers or DEFAULT_CIPHERS,
                           tls13_ciphersuites=cfg.tls13_ciphers, no_ticket=cfg.no_tickets,
                           server_cert_pem=cert_pem, server_key_pem=key_pem, alpn=list(cfg.alpn) if cfg.alpn else None,
                           max_early_data=cfg.max_early_data, verify=False, server_hostname="localhost")
        what = f"{_version_text(cfg.tls_min, cfg.tls_max)}" + (f", ciphers {cfg.ciphers!r}" if cfg.ciphers else "") \
            + (f", TLS 1.3 suites {cfg.tls13_ciphers!r}" if cfg.tls13_ciphers else "") \
            + (f", groups {cfg.groups!r}" if cfg.groups else "")
        try:
            self.pair = TLSPair(opts)
            if cfg.groups:
                set_groups(self.pair.server_ctx, cfg.groups)
                set_groups(self.pair.client_ctx, cfg.groups)
        except ssl.SSLError as exc:
            if "KEY_VALUES_MISMATCH" in str(exc) or "PEM" in str(exc) or "X509" in str(exc):
                raise ServeError(f"cannot use the certificate and key: {exc}") from None
            raise ServeError(f"this OpenSSL ({ssl.OPENSSL_VERSION}) rejects {what}: {describe_ssl_error(exc)}") from None
        except (ValueError, Unsupported) as exc:
            raise ServeError(f"cannot set up {what}: {exc}") from None
        # preflight: one handshake in memory with the same settings on both sides
        try:
            result = self.pair.connect([])
        except ssl.SSLError as exc:
            raise ServeError(f"this OpenSSL ({ssl.OPENSSL_VERSION}) cannot complete a handshake with {what} "
                             f"and this {'ECDSA' if self._key_type(key_pem) == 'ec' else 'RSA'} certificate: "
                             f"{describe_ssl_error(exc)}") from None
        except (RuntimeError, Unsupported) as exc:
            raise ServeError(f"a test handshake with {what} failed: {exc}") from None
        self.preflight = result
        ctx = self.pair.server_ctx
        if cfg.allow_renegotiation:
            if ssl.OPENSSL_VERSION_INFO < (3, 0):
                raise ServeError(f"{ssl.OPENSSL_VERSION} has no option to allow client-initiated renegotiation")
            ctx.options |= OP_ALLOW_CLIENT_RENEGOTIATION
        if cfg.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            try:
                ctx.load_verify_locations(cafile=cfg.ca)
            except FileNotFoundError:
                raise ServeError(f"cannot read the CA file {cfg.ca}: no such file") from None
            except (ssl.SSLError, OSError) as exc:
                raise ServeError(f"cannot use the CA file {cfg.ca}: {exc}") from None
        self.ctx = ctx

    @staticmethod
    def _key_type(key_pem: bytes) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = serialization.load_pem_private_key(key_pem, None)
        return "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"

    def _keylog(self) -> None:
        assert self.ctx is not None
        if self.cfg.keylog:
            path = self.cfg.keylog
            prepare_keylog(path)
        else:
            self._tmp = tempfile.mkdtemp(prefix="dissector-serve-")
            path = os.path.join(self._tmp, "keylog.txt")
            prepare_keylog(path)
        self._keylog_path = path
        try:
            self.ctx.keylog_filename = path
        except OSError as exc:
            raise ServeError(f"cannot write the key log {path}: {exc.strerror or exc}") from None

    def _listen(self) -> None:
        cfg = self.cfg
        try:
            family = socket.AF_INET6 if ":" in cfg.bind else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise ServeError(f"cannot create a socket for {cfg.bind}: {exc.strerror or exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((cfg.bind, cfg.port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            where = f"[{cfg.bind}]:{cfg.port}" if family == socket.AF_INET6 else f"{cfg.bind}:{cfg.port}"
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"{where} is already in use (another server is listening there; pick another "
                                 "--port)") from None
            if exc.errno == errno.EACCES:
                raise ServeError(f"no permission to listen on {where} (ports below 1024 need privileges)") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ServeError(f"{cfg.bind} is not an address of this machine") from None
            raise ServeError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        self.listener = sock
        self.port = sock.getsockname()[1]

    def banner(self) -> str:
        cfg = self.cfg
        host = f"[{cfg.bind}]" if ":" in cfg.bind else cfg.bind
        parts = [_version_text(cfg.tls_min, cfg.tls_max)]
        if cfg.alpn:
            parts.append("ALPN " + ",".join(cfg.alpn))
        if cfg.require_client_cert:
            parts.append("client certificates required")
        if cfg.no_tickets:
            parts.append("no session tickets")
        if cfg.max_early_data:
            parts.append(f"0-RTT up to {cfg.max_early_data} bytes")
        if cfg.allow_renegotiation:
            parts.append("client renegotiation allowed")
        if cfg.keylog:
            parts.append(f"key log {cfg.keylog}")
        if cfg.capture:
            parts.append(f"capture {cfg.capture}")
        stop = "serving one connection" if cfg.once else "Ctrl-C stops"
        return f"listening on https://{host}:{self.port}/ ({'; '.join(parts)}); {stop}"

    # -- serving -------------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Accept and serve until stop() (or one connection with `once`)."""
        assert self.listener is not None
        if not is_loopback(self.cfg.bind):
            self._say(f"warning: {self.cfg.bind} is not a loopback address: other machines can connect")
        self._say(self.banner())
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                if not sel.select(timeout=0.2):
                    continue
                try:
                    sock, _ = self.listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    self._say(f"accept failed: {exc.strerror or exc}")
                    continue
                with self._lock:
                    self.stats.connections += 1
                    number = self.stats.connections
                    busy = len(self._active) >= self.cfg.max_connections
                if busy:
                    self._say(f"connection {number}: refused, {self.cfg.max_connections} connections are open")
                    sock.close()
                    continue
                if self.cfg.once:
                    self.handle(sock, number)
                    break
                t = threading.Thread(target=self._run_thread, args=(sock, number), daemon=True,
                                     name=f"dissector-serve-{number}")
                with self._lock:
                    self._threads.add(t)
                t.start()
        finally:
            sel.close()

    def _run_thread(self, sock: socket.socket, number: int) -> None:
        try:
            self.handle(sock, number)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def handle(self, sock: socket.socket, number: int) -> Recording:
        """Serve one accepted connection to its end, then narrate it."""
        assert self.ctx is not None and self.narrator is not None
        sock.settimeout(self.cfg.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer, local = sock.getpeername(), sock.getsockname()
        except OSError:
            sock.close()
            return Recording(("?", 0), ("?", 0), time.time(), error="the client left before being served")
        rec = Recording(client=(peer[0], peer[1]), server=(local[0], local[1]), start=time.time())
        tls = SocketTLS(sock, self.ctx, True, rec)
        app = self.webapp.connection()
        with self._lock:
            self._active[number] = tls
        handshake_done = False
        seen = 0
        try:
            data = b""
            if self.cfg.max_early_data:
                data = self._early_data(tls)
                if data:
                    rec.notes.append(f"0-RTT: {len(data)} bytes of early data received before the handshake ended")
            tls.handshake()
            handshake_done = True
            while not self._stop.is_set() or data:
                if data:
                    reply = app.receive(data)
                    seen = self._note_exchanges(rec, app, seen)
                    if reply:
                        tls.write(reply)
                    if app.closed:
                        break
                data = tls.read()
                if not data:
                    app.receive(b"")
                    break
            tls.close()
        except ssl.SSLError as exc:
            rec.error = ("handshake failed: " if not handshake_done else "") + describe_ssl_error(exc)
        except PeerClosed as exc:
            rec.error = ("handshake failed: " if not handshake_done else "") + str(exc)
        except TimeoutError:
            rec.error = f"no data from the client for {self.cfg.timeout:g} s: connection closed"
        except OSError as exc:
            rec.error = f"network error: {exc.strerror or exc}"
        except RuntimeError as exc:  # the libssl bridge (early data)
            rec.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one connection's bug must not take the server down
            rec.error = f"internal error: {type(exc).__name__}: {exc} (please report this)"
        finally:
            tls.abort()
            with self._lock:
                self._active.pop(number, None)
                self.stats.handshakes += handshake_done
                self.stats.failed += not handshake_done
                self.stats.requests += len(app.exchanges)
        self._note_exchanges(rec, app, seen)
        try:
            doc = self.narrator.conclude(rec)
        except Exception as exc:  # noqa: BLE001 - narration must never take the server down
            doc = None
            rec.notes.append(f"(narration failed: {type(exc).__name__}: {exc})")
        text = format_session(rec, doc, f"connection {number}")
        with self._print_lock:
            try:
                print(text + "\n", file=self.out, flush=True)
            except (OSError, ValueError):
                pass
        return rec

    @staticmethod
    def _note_exchanges(rec: Recording, app, seen: int) -> int:
        for ex in app.exchanges[seen:]:
            target = ex.target if len(ex.target) <= 100 else ex.target[:97] + "..."
            rec.notes.append(f"HTTP: {ex.method} {target} -> {ex.status} {ex.reason}".rstrip())
        return len(app.exchanges)

    @staticmethod
    def _early_data(tls: SocketTLS) -> bytes:
        """Server with 0-RTT enabled: read the early data (if any) while the handshake starts."""
        bridge = OpenSSLBridge.get()
        out = bytearray()
        while True:
            data, finished = bridge.read_early_data(tls.obj)
            out += data
            tls.flush()
            if finished:
                return bytes(out)
            if not tls.fill():
                raise PeerClosed("the client closed the connection during the handshake")

    # -- shutdown ------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask serve_forever() to return and the open connections to end (thread-safe)."""
        self._stop.set()
        with self._lock:
            active = list(self._active.values())
        for tls in active:
            try:
                tls.sock.shutdown(socket.SHUT_RDWR)  # the connection's thread sees the end and finishes
            except OSError:
                pass

    def close(self, wait: float = 5.0) -> None:
        """Stop, wait for the connections' threads, flush the capture, remove temporary files."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        if self.listener is not None:
            self.listener.close()
        deadline = time.monotonic() + wait
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self.sink is not None:
            self.sink.close()
        if self.pair is not None:
            if self.ctx is not None:
                self.ctx.keylog_filename = None
            self.pair.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def summary(self) -> str:
        s = self.stats
        parts = [f"{s.connections} connection(s)", f"{s.handshakes} handshake(s) completed"]
        if s.failed:
            parts.append(f"{s.failed} failed")
        parts.append(f"{s.requests} HTTP request(s)")
        if self.sink is not None:
            parts.append(f"capture {self.sink.path}: {self.sink.connections} connection(s), {self.sink.packets} packets")
        return "; ".join(parts)
