"""A sans-IO TLS client/server pair: two stdlib `ssl.SSLObject`s over `MemoryBIO`s in one process.

`TLSPair(options).connect(exchange)` runs one connection in memory: handshake, application data, close
(close_notify both ways through `unwrap`). Every chunk of bytes that either side hands to its outgoing BIO
is recorded as a `Chunk(time, sender, data)`, in the order it was produced, which is the order a real
network would carry it. `endpoint.synth` turns those chunks into TCP frames.

Python's `ssl` does not expose everything OpenSSL can do. Two things here go around it through a small,
self-checking ctypes bridge to the very libssl that `_ssl` uses (see `OpenSSLBridge`): TLS 1.3 cipher suite
selection (`SSL_CTX_set_ciphersuites`) and TLS 1.3 KeyUpdate (`SSL_key_update`). The bridge reads the
`SSL_CTX *` / `SSL *` pointers out of CPython's `_ssl` objects and refuses to work unless OpenSSL confirms them
(the options it reports must equal `SSLContext.options`, `SSL_get_SSL_CTX` must return the context's
pointer, `SSL_is_server` must agree). If a check fails, `Unsupported` is raised and nothing is called.

This module and `synth` are the only ones under dissector/ besides capture/ that read a clock; the clock is
injectable (`FixedClock`) for reproducible output.
"""
from __future__ import annotations

import ctypes
import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Chunk", "ConnectionResult", "FixedClock", "PairOptions", "TLSPair", "Unsupported",
    "make_self_signed", "run_pair", "FFDHE2048_PEM", "OP_NO_ENCRYPT_THEN_MAC",
]

CLIENT = "client"
SERVER = "server"

# SSL_OP_NO_ENCRYPT_THEN_MAC is SSL_OP_BIT(19) in OpenSSL 1.1.1 and 3.x; Python's ssl does not name it, but
# SSLContext.options passes unknown bits through to SSL_CTX_set_options.
OP_NO_ENCRYPT_THEN_MAC = getattr(ssl, "OP_NO_ENCRYPT_THEN_MAC", 1 << 19)

# RFC 7919 ffdhe2048, so that DHE suites work (OpenSSL 3.0 servers have no DH group unless given one).
FFDHE2048_PEM = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
# SSLObject.version() -> the name used in our JSON ("TLS 1.2")
VERSION_NAMES = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3",
                 "SSLv3": "SSL 3.0"}

_MAX_PUMP_ROUNDS = 64


class Unsupported(RuntimeError):
    """Something this Python/OpenSSL cannot do (the message says what and why)."""


class FixedClock:
    """A deterministic clock: `start`, then `start + step`, `start + 2*step`, ... on each call."""

    def __init__(self, start: float = 1_700_000_000.0, step: float = 0.000250) -> None:
        self.start = start
        self.step = step
        self._n = 0

    def __call__(self) -> float:
        t = self.start + self._n * self.step
        self._n += 1
        return t


@dataclass(frozen=True, slots=True)
class Chunk:
    """The bytes one side wrote to the network in one go (one `send()` on a real socket)."""

    time: float
    sender: str  # "client" or "server"
    data: bytes
    phase: str = "handshake"  # handshake | data | close


@dataclass(slots=True)
class PairOptions:
    """How to configure both sides. Version strings are "1.0" ... "1.3"."""

    min_version: str | None = None
    max_version: str | None = None
    ciphers: str | None = None  # OpenSSL cipher string for TLS <= 1.2, applied to both sides
    client_ciphers: str | None = None  # overrides `ciphers` on the client
    tls13_ciphersuites: str | None = None  # e.g. "TLS_AES_128_GCM_SHA256" (through the ctypes bridge)
    no_ticket: bool = False  # ssl.OP_NO_TICKET on both sides: TLS 1.2 resumption by session ID only
    no_encrypt_then_mac: bool = False  # SSL_OP_NO_ENCRYPT_THEN_MAC on both sides
    server_groups: str | None = None  # one curve name (set_ecdh_curve; Python has no set_groups)
    client_groups: str | None = None  # one curve name: the client then offers and key-shares only that
    cert_type: str = "rsa"  # rsa | ecdsa: the generated server certificate
    server_cert_pem: bytes | None = None
    server_key_pem: bytes | None = None
    client_cert: bool = False  # mutual TLS with a generated client certificate
    client_cert_type: str = "ecdsa"
    alpn: Sequence[str] | None = None
    server_hostname: str | None = "localhost"  # SNI and the name checked in the certificate
    dh_params: bytes | None = None  # PEM; FFDHE2048 is loaded when ciphers mention DHE and none is given
    max_early_data: int = 0  # server: allow TLS 1.3 0-RTT up to this many bytes (through the ctypes bridge)
    keylog: bool = True
    verify: bool = True  # the client verifies the server certificate (it is its own trust anchor)


@dataclass(slots=True)
class ConnectionResult:
    """What one connection of the pair did."""

    chunks: list[Chunk]
    keylog: str  # NSS key log lines written during this connection
    server_key_pem: bytes
    server_cert_pem: bytes
    version: str  # OpenSSL's name, e.g. "TLSv1.2"
    cipher: str  # OpenSSL's name, e.g. "ECDHE-RSA-AES128-GCM-SHA256"
    cipher_id: int | None  # IANA code point, e.g. 0xC02F (from SSLContext.get_ciphers)
    alpn: str | None
    sni: str | None
    resumed: bool
    session: ssl.SSLSession | None  # the client's session: pass it to connect(session=...) to resume
    client_sent: bytes
    server_sent: bytes
    client_received: bytes
    server_received: bytes
    client_cert: bool = False
    key_updates: dict[str, int] | None = None  # KeyUpdate messages sent per side, {"client": 1, "server": 1}
    early_data: bytes = b""  # what the client sent as 0-RTT data (also part of client_sent)
    early_data_accepted: bool = False

    @property
    def version_name(self) -> str:
        return VERSION_NAMES.get(self.version, self.version)


def make_self_signed(kind: str = "rsa", common_name: str = "localhost",
                     not_before: datetime.datetime | None = None) -> tuple[bytes, bytes]:
    """A self-signed certificate and its PKCS#8 key, both PEM: RSA 2048 or ECDSA P-256."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key type {kind!r}: rsa or ecdsa")
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(common_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem


# ---------------------------------------------------------------------------------------------------
# ctypes bridge to the libssl that _ssl is linked against
# ---------------------------------------------------------------------------------------------------

class OpenSSLBridge:
    """Calls into the process's libssl for the two things Python's ssl module does not expose.

    CPython 3.11 lays out `PySSLContext` as {PyObject_HEAD; SSL_CTX *ctx; ...} and `PySSLSocket` as
    {PyObject_HEAD; PyObject *Socket; SSL *ssl; ...}. Every pointer read here is confirmed by OpenSSL
    before use, so a different layout gives `Unsupported`, never a wild call.
    """

    _instance: OpenSSLBridge | None = None

    def __init__(self) -> None:
        import _ssl  # noqa: F401  (make sure libssl is mapped)

        path = None
        try:
            with open("/proc/self/maps") as maps:
                for line in maps:
                    if "libssl.so" in line:
                        path = line.split()[-1]
                        break
        except OSError:
            path = None
        if path is None:
            raise Unsupported("cannot locate the libssl that Python's _ssl module uses (needs /proc/self/maps)")
        lib = ctypes.CDLL(path)
        vp, c_int, u64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
        self._sig(lib.SSL_CTX_get_options, u64, [vp])
        self._sig(lib.SSL_get_SSL_CTX, vp, [vp])
        self._sig(lib.SSL_is_server, c_int, [vp])
        self._sig(lib.SSL_CTX_set_ciphersuites, c_int, [vp, ctypes.c_char_p])
        self._sig(lib.SSL_key_update, c_int, [vp, c_int])
        self._sig(lib.SSL_get_key_update_type, c_int, [vp])
        self._sig(lib.SSL_CTX_set_max_early_data, c_int, [vp, ctypes.c_uint32])
        self._sig(lib.SSL_write_early_data, c_int, [vp, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)])
        self._sig(lib.SSL_read_early_data, c_int, [vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)])
        self._sig(lib.SSL_get_early_data_status, c_int, [vp])
        self._sig(lib.SSL_get_error, c_int, [vp, c_int])
        self._sig(lib.ERR_clear_error, None, [])  # libssl depends on libcrypto, so dlsym finds it
        self.lib = lib

    @staticmethod
    def _sig(fn, restype, argtypes) -> None:
        fn.restype = restype
        fn.argtypes = argtypes

    @classmethod
    def get(cls) -> OpenSSLBridge:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def ctx_pointer(self, ctx: ssl.SSLContext) -> int:
        if type(ctx).__mro__[-2].__name__ != "_SSLContext" or object.__basicsize__ != 16:
            raise Unsupported("unexpected CPython object layout for SSLContext")
        ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
        if not ptr or self.lib.SSL_CTX_get_options(ptr) != int(ctx.options) & 0xFFFFFFFFFFFFFFFF:
            raise Unsupported("could not confirm the SSL_CTX pointer of an SSLContext")
        return ptr

    def ssl_pointer(self, obj: ssl.SSLObject) -> int:
        inner = obj._sslobj  # the _ssl._SSLSocket
        if type(inner).__name__ != "_SSLSocket":
            raise Unsupported("unexpected type for SSLObject._sslobj")
        ptr = ctypes.c_void_p.from_address(id(inner) + object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)).value
        if not ptr:
            raise Unsupported("could not read the SSL pointer of an SSLObject")
        ctx_ptr = self.ctx_pointer(obj.context)
        if self.lib.SSL_get_SSL_CTX(ptr) != ctx_ptr or bool(self.lib.SSL_is_server(ptr)) != obj.server_side:
            raise Unsupported("could not confirm the SSL pointer of an SSLObject")
        return ptr

    def set_ciphersuites(self, ctx: ssl.SSLContext, suites: str) -> None:
        if not self.lib.SSL_CTX_set_ciphersuites(self.ctx_pointer(ctx), suites.encode()):
            raise ValueError(f"OpenSSL rejected TLS 1.3 cipher suites {suites!r}")

    def key_update(self, obj: ssl.SSLObject, request_peer: bool = True) -> None:
        """Schedule a KeyUpdate; it is sent before the next application data this side writes."""
        if obj.version() != "TLSv1.3":
            raise Unsupported("KeyUpdate exists only in TLS 1.3")
        if not self.lib.SSL_key_update(self.ssl_pointer(obj), 1 if request_peer else 0):
            self.lib.ERR_clear_error()
            raise Unsupported("SSL_key_update failed")

    # TLS 1.3 early data (0-RTT)
    def set_max_early_data(self, ctx: ssl.SSLContext, size: int) -> None:
        """Server: the early data limit announced in its tickets (0 = no 0-RTT)."""
        if not self.lib.SSL_CTX_set_max_early_data(self.ctx_pointer(ctx), size):
            self.lib.ERR_clear_error()
            raise Unsupported("SSL_CTX_set_max_early_data failed")

    def write_early_data(self, obj: ssl.SSLObject, data: bytes) -> None:
        """Client, before the handshake: ClientHello plus `data` as 0-RTT application data."""
        written = ctypes.c_size_t(0)
        if not self.lib.SSL_write_early_data(self.ssl_pointer(obj), data, len(data), ctypes.byref(written)) \
                or written.value != len(data):
            self.lib.ERR_clear_error()
            raise Unsupported("SSL_write_early_data failed (does the session allow early data?)")

    def read_early_data(self, obj: ssl.SSLObject) -> tuple[bytes, bool]:
        """Server: the early data available now, and whether the early data phase is over."""
        ptr = self.ssl_pointer(obj)
        buf = ctypes.create_string_buffer(1 << 14)
        got = ctypes.c_size_t(0)
        out = bytearray()
        while True:
            r = self.lib.SSL_read_early_data(ptr, buf, len(buf), ctypes.byref(got))
            if r == 1:  # SSL_READ_EARLY_DATA_SUCCESS
                out += buf.raw[:got.value]
            elif r == 2:  # SSL_READ_EARLY_DATA_FINISH
                out += buf.raw[:got.value]
                return bytes(out), True
            else:
                err = self.lib.SSL_get_error(ptr, r)
                if err == 2:  # SSL_ERROR_WANT_READ
                    return bytes(out), False
                self.lib.ERR_clear_error()
                raise RuntimeError(f"SSL_read_early_data failed (SSL_get_error {err})")

    def early_data_accepted(self, obj: ssl.SSLObject) -> bool:
        return self.lib.SSL_get_early_data_status(self.ssl_pointer(obj)) == 2  # SSL_EARLY_DATA_ACCEPTED


def _bridge(what: str) -> OpenSSLBridge:
    try:
        return OpenSSLBridge.get()
    except (OSError, AttributeError) as exc:
        raise Unsupported(f"{what} needs libssl through ctypes: {exc}") from exc


# ---------------------------------------------------------------------------------------------------
# the pair
# ---------------------------------------------------------------------------------------------------

class TLSPair:
    """A server and a client context; each `connect()` runs one connection between them in memory.

    Contexts live as long as the pair, so a second connection can resume the first one's session
    (the server keeps its session cache and ticket keys). Use as a context manager, or call `close()`.
    """

    def __init__(self, options: PairOptions | None = None, clock: Callable[[], float] = time.time) -> None:
        self.options = opts = options or PairOptions()
        self.clock = clock
        self._tmp = tempfile.mkdtemp(prefix="dissector-pair-")
        try:
            if opts.server_cert_pem and opts.server_key_pem:
                self.server_cert_pem, self.server_key_pem = opts.server_cert_pem, opts.server_key_pem
            else:
                self.server_cert_pem, self.server_key_pem = make_self_signed(opts.cert_type)
            self.client_cert_pem = self.client_key_pem = None
            if opts.client_cert:
                self.client_cert_pem, self.client_key_pem = make_self_signed(opts.client_cert_type, "client")
            self.keylog_path = os.path.join(self._tmp, "keylog.txt")
            self._keylog_offset = 0
            self.server_ctx = self._server_context()
            self.client_ctx = self._client_context()
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise

    # -- contexts ----------------------------------------------------------------------------------
    def _file(self, name: str, data: bytes) -> str:
        path = os.path.join(self._tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def _common(self, ctx: ssl.SSLContext, ciphers: str | None) -> None:
        opts = self.options
        with warnings.catch_warnings():
            # TLSVersion.TLSv1/TLSv1_1 and @SECLEVEL=0 are deprecated; this endpoint exists to produce them
            warnings.simplefilter("ignore", DeprecationWarning)
            if opts.min_version:
                ctx.minimum_version = _VERSIONS[opts.min_version]
            if opts.max_version:
                ctx.maximum_version = _VERSIONS[opts.max_version]
        if ciphers:
            ctx.set_ciphers(ciphers)
        if opts.tls13_ciphersuites:
            _bridge("TLS 1.3 cipher suite selection").set_ciphersuites(ctx, opts.tls13_ciphersuites)
        if opts.no_ticket:
            ctx.options |= ssl.OP_NO_TICKET
        if opts.no_encrypt_then_mac:
            ctx.options |= OP_NO_ENCRYPT_THEN_MAC
        if opts.alpn:
            ctx.set_alpn_protocols(list(opts.alpn))

    def _server_context(self) -> ssl.SSLContext:
        opts = self.options
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._common(ctx, opts.ciphers)
        ctx.load_cert_chain(self._file("server.crt", self.server_cert_pem), self._file("server.key", self.server_key_pem))
        if opts.server_groups:
            ctx.set_ecdh_curve(opts.server_groups)
        if opts.dh_params or (opts.ciphers and "DH" in opts.ciphers.replace("ECDH", "")):
            ctx.load_dh_params(self._file("dh.pem", opts.dh_params or FFDHE2048_PEM))
        if opts.max_early_data:
            _bridge("TLS 1.3 early data").set_max_early_data(ctx, opts.max_early_data)
        if opts.client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=self.client_cert_pem.decode())
        self.sni_seen: str | None = None

        def sni_callback(obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            self.sni_seen = name

        ctx.sni_callback = sni_callback
        return ctx

    def _client_context(self) -> ssl.SSLContext:
        opts = self.options
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._common(ctx, opts.client_ciphers or opts.ciphers)
        if opts.verify:
            ctx.load_verify_locations(cadata=self.server_cert_pem.decode())
            ctx.check_hostname = bool(opts.server_hostname)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if opts.client_groups:
            ctx.set_ecdh_curve(opts.client_groups)
        if opts.client_cert:
            ctx.load_cert_chain(self._file("client.crt", self.client_cert_pem), self._file("client.key", self.client_key_pem))
        if opts.keylog:
            ctx.keylog_filename = self.keylog_path  # the client logs every secret of the connection
        return ctx

    def close(self) -> None:
        if getattr(self, "client_ctx", None) is not None:
            self.client_ctx.keylog_filename = None  # closes OpenSSL's BIO on the file
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> TLSPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_keylog(self) -> str:
        try:
            with open(self.keylog_path, "rb") as f:
                f.seek(self._keylog_offset)
                data = f.read()
        except FileNotFoundError:
            return ""
        self._keylog_offset += len(data)
        return data.decode("ascii", "replace")

    # -- one connection --------------------------------------------------------------------------
    def connect(self, exchange: Iterable[tuple[str, bytes]] = (), session: ssl.SSLSession | None = None,
                closer: str = CLIENT, key_update: str | None = None, early_data: bytes = b"") -> ConnectionResult:
        """Run one connection: handshake, each (sender, data) of `exchange` in turn, then close.

        `closer` sends close_notify first. `key_update` ("client" or "server", TLS 1.3 only) makes that side
        send a KeyUpdate (requesting the peer's) before its first application data write.
        `early_data` (TLS 1.3, with a `session` from a server whose `max_early_data` allows it) is sent by the
        client as 0-RTT data right after its ClientHello and read by the server before the handshake ends.
        """
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        server = self.server_ctx.wrap_bio(s_in, s_out, server_side=True)
        client = self.client_ctx.wrap_bio(c_in, c_out, server_side=False,
                                          server_hostname=self.options.server_hostname, session=session)
        self.sni_seen = None
        chunks: list[Chunk] = []
        sides = {CLIENT: (client, c_out, s_in), SERVER: (server, s_out, c_in)}
        sent = {CLIENT: bytearray(), SERVER: bytearray()}
        received = {CLIENT: bytearray(), SERVER: bytearray()}
        phase = "handshake"

        def flush(who: str) -> None:
            _, out, peer_in = sides[who]
            data = out.read()
            if data:
                chunks.append(Chunk(self.clock(), who, data, phase))
                peer_in.write(data)

        def step(fn: Callable[[], object]) -> bool:
            try:
                fn()
                return True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return False

        def drain_reads(who: str) -> None:
            obj = sides[who][0]
            while True:
                try:
                    data = obj.read(1 << 20)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
                if not data:
                    break
                received[who] += data
            flush(who)

        # handshake
        handshake = {CLIENT: client.do_handshake, SERVER: server.do_handshake}
        early_pending = False
        if early_data:
            bridge = _bridge("TLS 1.3 early data")
            bridge.write_early_data(client, early_data)
            sent[CLIENT] += early_data
            early_pending = True

            def server_handshake() -> None:
                nonlocal early_pending
                if early_pending:
                    data, finished = bridge.read_early_data(server)
                    received[SERVER] += data
                    if not finished:
                        raise ssl.SSLWantReadError()
                    early_pending = False
                server.do_handshake()

            handshake[SERVER] = server_handshake
        done = {CLIENT: False, SERVER: False}
        for _ in range(_MAX_PUMP_ROUNDS):
            for who in (CLIENT, SERVER):
                if not done[who]:
                    done[who] = step(handshake[who])
                flush(who)
            if all(done.values()):
                break
        else:
            raise RuntimeError("TLS handshake did not complete")
        flush(CLIENT)
        flush(SERVER)

        # application data
        phase = "data"
        key_updates = {CLIENT: 0, SERVER: 0}
        for who, data in exchange:
            obj = sides[who][0]
            if key_update == who and key_updates[who] == 0:
                _bridge("TLS 1.3 KeyUpdate").key_update(obj, request_peer=True)
                key_updates[who] += 1
            elif key_update and key_update != who and key_updates[key_update] and not key_updates[who]:
                key_updates[who] += 1  # update_requested: OpenSSL sends ours before this write
            obj.write(data)
            sent[who] += data
            flush(who)
            peer = SERVER if who == CLIENT else CLIENT
            drain_reads(peer)
        # let the client read anything still pending (TLS 1.3 NewSessionTicket, a KeyUpdate)
        drain_reads(CLIENT)
        drain_reads(SERVER)
        resumable = client.session

        # close_notify both ways
        phase = "close"
        first, second = (client, server) if closer == CLIENT else (server, client)
        fw, sw = (CLIENT, SERVER) if closer == CLIENT else (SERVER, CLIENT)
        step(first.unwrap)
        flush(fw)
        step(second.unwrap)
        flush(sw)
        step(first.unwrap)
        flush(fw)

        cipher = client.cipher()
        assert cipher is not None
        return ConnectionResult(
            chunks=chunks,
            keylog=self._read_keylog(),
            server_key_pem=self.server_key_pem,
            server_cert_pem=self.server_cert_pem,
            version=client.version() or "",
            cipher=cipher[0],
            cipher_id=_cipher_id(self.client_ctx, cipher[0]),
            alpn=client.selected_alpn_protocol(),
            sni=self.sni_seen,
            resumed=client.session_reused,
            session=resumable,
            client_sent=bytes(sent[CLIENT]),
            server_sent=bytes(sent[SERVER]),
            client_received=bytes(received[CLIENT]),
            server_received=bytes(received[SERVER]),
            client_cert=bool(self.options.client_cert),
            key_updates=key_updates,
            early_data=early_data,
            early_data_accepted=bool(early_data) and _bridge("TLS 1.3 early data").early_data_accepted(server),
        )


def _cipher_id(ctx: ssl.SSLContext, name: str) -> int | None:
    for c in ctx.get_ciphers():
        if c["name"] == name:
            return c["id"] & 0xFFFF
    return None


def run_pair(options: PairOptions | None = None, exchange: Iterable[tuple[str, bytes]] = (),
             clock: Callable[[], float] = time.time, **connect_kwargs: object) -> ConnectionResult:
    """One connection with a fresh pair."""
    with TLSPair(options, clock) as pair:
        return pair.connect(exchange, **connect_kwargs)  # type: ignore[arg-type]
