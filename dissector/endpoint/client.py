"""TLS over a real socket with every byte seen, and the client behind `dissector connect`.

`SocketTLS` drives an `ssl.SSLObject` over two `MemoryBIO`s and moves the bytes between them and a blocking
socket itself, so each chunk that goes out or comes in is recorded (`narrate.Recording`) with its time. Both
`dissector serve` (server side) and `dissector connect` (client side) use it.

`ClientConnection` is one TLS connection from the client side: handshake (optionally with 0-RTT early data),
KeyUpdate, TLS 1.2 renegotiation, HTTP/1.1 requests (h11) and close. Things Python's ssl does not expose go
through `pair.OpenSSLBridge` (TLS 1.3 suites, KeyUpdate, early data) or the small `set_groups` /
`renegotiate` helpers below, which use the same self-checked pointers; each raises `pair.Unsupported` with a
clear reason when it cannot be done.

Only loopback addresses are used unless the caller allows others (`resolve(..., allow_remote=True)`).
"""
from __future__ import annotations

import ctypes
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from dissector import __version__

from .narrate import Recording
from .pair import CLIENT, SERVER, Chunk, OpenSSLBridge, Unsupported

__all__ = ["SocketTLS", "ClientConnection", "HTTPResponse", "PeerClosed", "set_groups", "renegotiate",
           "resolve", "is_loopback", "parse_request_spec", "build_request", "describe_ssl_error", "USER_AGENT"]

USER_AGENT = f"dissector-connect/{__version__}"
RECV_SIZE = 65536
MAX_RESPONSE_BODY = 16 << 20
SSL_CTRL_SET_GROUPS_LIST = 92  # SSL_CTX_set1_groups_list is a macro over SSL_CTX_ctrl


class PeerClosed(ConnectionError):
    """The peer closed the TCP connection while TLS data was still expected."""


# ---------------------------------------------------------------------------------------------------
# libssl extras (through the self-checking bridge of pair.py)
# ---------------------------------------------------------------------------------------------------

def _bridge(what: str) -> OpenSSLBridge:
    try:
        return OpenSSLBridge.get()
    except (OSError, AttributeError, Unsupported) as exc:
        raise Unsupported(f"{what} needs libssl through ctypes: {exc}") from exc


def set_groups(ctx: ssl.SSLContext, groups: str) -> None:
    """The key exchange groups a context offers/accepts, in preference order ("X25519:P-256:ffdhe2048").

    Python only has set_ecdh_curve (one curve); a list goes through SSL_CTX_set1_groups_list.
    """
    names = [g.strip() for g in groups.replace(",", ":").split(":") if g.strip()]
    if not names:
        raise ValueError("no group named")
    try:
        bridge = _bridge("a list of groups")
        fn = bridge.lib.SSL_CTX_ctrl
        fn.restype, fn.argtypes = ctypes.c_long, [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
        ptr = bridge.ctx_pointer(ctx)
    except Unsupported:
        if len(names) != 1:
            raise
        ctx.set_ecdh_curve(names[0])
        return
    if fn(ptr, SSL_CTRL_SET_GROUPS_LIST, 0, ":".join(names).encode()) != 1:
        bridge.lib.ERR_clear_error()
        raise ValueError(f"this OpenSSL ({ssl.OPENSSL_VERSION}) does not know the group list {':'.join(names)!r}")


def renegotiate(obj: ssl.SSLObject) -> None:
    """Schedule a TLS <= 1.2 renegotiation (SSL_renegotiate); the next do_handshake() performs it."""
    if obj.version() == "TLSv1.3":
        raise Unsupported("TLS 1.3 has no renegotiation (it has KeyUpdate and post-handshake authentication)")
    bridge = _bridge("renegotiation (Python's ssl has no API for it)")
    fn = bridge.lib.SSL_renegotiate
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_void_p]
    if fn(bridge.ssl_pointer(obj)) != 1:
        bridge.lib.ERR_clear_error()
        raise Unsupported("OpenSSL refused to start a renegotiation (SSL_renegotiate failed: the peer may not "
                          "support secure renegotiation, or it is disabled)")


# ---------------------------------------------------------------------------------------------------
# TLS over a socket, every byte recorded
# ---------------------------------------------------------------------------------------------------

class SocketTLS:
    """An SSLObject whose bytes this object moves to and from a socket (blocking, with a timeout)."""

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext, server_side: bool, rec: Recording,
                 server_hostname: str | None = None, session: ssl.SSLSession | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sock = sock
        self.rec = rec
        self.clock = clock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=None if server_side else server_hostname, session=session)
        self.me, self.peer = (SERVER, CLIENT) if server_side else (CLIENT, SERVER)
        self.eof = False
        self.closed = False

    # -- raw byte movement -------------------------------------------------------------------------
    def flush(self) -> None:
        data = self.outgoing.read()
        if data and not self.closed:
            self.rec.chunks.append(Chunk(self.clock(), self.me, data))
            self.sock.sendall(data)

    def fill(self, timeout: float | None = None) -> bool:
        """Read what the peer sent into the TLS object; False at end of stream."""
        if self.eof:
            return False
        old = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(RECV_SIZE)
        finally:
            if timeout is not None:
                self.sock.settimeout(old)
        if not data:
            self.eof = True
            self.incoming.write_eof()
            if self.rec.closer is None:
                self.rec.closer = self.peer
            return False
        self.rec.chunks.append(Chunk(self.clock(), self.peer, data))
        self.incoming.write(data)
        return True

    def call(self, fn: Callable[[], object]) -> object:
        """Run an SSLObject call to completion, moving bytes as OpenSSL asks."""
        while True:
            try:
                result = fn()
            except ssl.SSLWantReadError:
                self.flush()
                if self.eof:  # OpenSSL saw the end of the stream and still wants more
                    raise PeerClosed(f"the {self.peer} closed the connection") from None
                self.fill()  # at the end of the stream the next call raises SSLEOFError or SSLZeroReturnError
                continue
            except BaseException:
                try:
                    self.flush()  # an alert OpenSSL generated before raising
                except OSError:
                    pass
                raise
            self.flush()
            return result

    # -- TLS operations ------------------------------------------------------------------------------
    def handshake(self) -> None:
        self.call(self.obj.do_handshake)

    def read(self, n: int = RECV_SIZE) -> bytes:
        """Application data; b"" when the peer sent close_notify or closed TCP."""
        try:
            return self.call(lambda: self.obj.read(n))  # type: ignore[return-value]
        except ssl.SSLZeroReturnError:
            return b""
        except (ssl.SSLEOFError, PeerClosed):
            self.rec.notes.append(f"the {self.peer} closed TCP without a close_notify alert")
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self.call(lambda v=view: self.obj.write(v))
            view = view[n:]  # type: ignore[index]

    def drain(self, timeout: float) -> bytes:
        """Whatever application data arrives within `timeout` (post-handshake messages are processed too)."""
        out = bytearray()
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                out += self.obj.read(RECV_SIZE)
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            self.flush()
            try:
                if not self.fill(timeout=left):
                    break
            except TimeoutError:
                break
        self.flush()
        return bytes(out)

    def close(self, timeout: float = 1.0) -> None:
        """close_notify, wait (briefly) for the peer's, then close the socket."""
        if self.closed:
            return
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    self.obj.unwrap()
                    self.flush()
                    break
                except ssl.SSLWantReadError:
                    self.flush()
                    left = deadline - time.monotonic()
                    if left <= 0 or not self.fill(timeout=left):
                        break
        except (ssl.SSLError, OSError, ValueError):
            pass
        self.abort()

    def abort(self) -> None:
        if self.closed:
            return
        try:
            self.flush()
        except OSError:
            pass
        self.closed = True
        if self.rec.closer is None:
            self.rec.closer = self.me
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.rec.end = self.clock()


# ---------------------------------------------------------------------------------------------------
# addresses
# ---------------------------------------------------------------------------------------------------

def is_loopback(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def resolve(host: str, port: int, allow_remote: bool = False) -> list[tuple[int, tuple]]:
    """(family, sockaddr) to try for HOST:PORT. Refuses (ValueError) non-loopback addresses unless allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc.strerror}") from None
    out = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        if not allow_remote and not is_loopback(sockaddr[0]):
            raise ValueError(f"{host} ({sockaddr[0]}) is not a loopback address; pass --allow-remote to connect "
                             "to other hosts")
        out.append((family, sockaddr))
    if not out:
        raise ValueError(f"no IPv4/IPv6 address for {host!r}")
    return out


def _endpoint(addr: tuple) -> tuple[str, int]:
    return (addr[0].split("%", 1)[0], addr[1])


# ---------------------------------------------------------------------------------------------------
# HTTP helpers
# ---------------------------------------------------------------------------------------------------

def parse_request_spec(spec: str) -> tuple[str, str, bytes]:
    """'GET /', 'POST /login user=a&password=b' -> (method, target, body). Raises ValueError."""
    parts = spec.strip().split(None, 2)
    if len(parts) < 2 or not parts[0].isalpha() or not parts[0].isupper() or not parts[1].startswith(("/", "*")):
        raise ValueError(f"request {spec!r}: expected 'METHOD /path [BODY]', e.g. 'GET /' or 'POST /login user=alice'")
    return parts[0], parts[1], (parts[2].encode() if len(parts) > 2 else b"")


def build_request(method: str, target: str, host: str, body: bytes = b"",
                  headers: list[tuple[str, str]] | None = None) -> h11.Request:
    """The h11 Request `dissector connect` sends: Host, User-Agent, Accept, the extra headers, body headers."""
    hdrs = [("Host", host), ("User-Agent", USER_AGENT), ("Accept", "*/*")]
    names = set()
    for name, value in headers or []:
        names.add(name.lower())
        hdrs.append((name, value))
    if body or method in ("POST", "PUT", "PATCH"):
        if "content-type" not in names:
            hdrs.append(("Content-Type", "application/x-www-form-urlencoded"))
        hdrs.append(("Content-Length", str(len(body))))
    return h11.Request(method=method, target=target, headers=hdrs)


@dataclass(slots=True)
class HTTPResponse:
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        return f"HTTP/{self.http_version} {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def describe_ssl_error(exc: BaseException) -> str:
    """One line for a TLS failure, with a hint where OpenSSL's reason has a usual cause."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"certificate verification failed: {exc.verify_message or exc.reason} "
                "(trust the server's certificate with --ca FILE, or skip verification with --insecure)")
    reason = getattr(exc, "reason", None) or ""
    text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    hints = {
        "NO_PROTOCOLS_AVAILABLE": "this OpenSSL allows none of the requested TLS versions at its security level "
                                  "(TLS 1.0/1.1 need ':@SECLEVEL=0' in --ciphers)",
        "NO_CIPHERS_AVAILABLE": "no cipher suite is usable with these options",
        "NO_SHARED_CIPHER": "client and server have no cipher suite in common",
        "SSLV3_ALERT_HANDSHAKE_FAILURE": "the peer refused the handshake (no common version, suite or group?)",
        "TLSV1_ALERT_PROTOCOL_VERSION": "the peer does not accept this TLS version",
        "UNSUPPORTED_PROTOCOL": "the peer's TLS version is not allowed here",
        "WRONG_VERSION_NUMBER": "the peer did not answer with TLS (is it plain HTTP?)",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate (--cert/--key)",
        "SSLV3_ALERT_BAD_CERTIFICATE": "the peer rejected a certificate",
        "PEER_DID_NOT_RETURN_A_CERTIFICATE": "the client sent no certificate but one is required",
        "NO_RENEGOTIATION": "the peer refused to renegotiate (OpenSSL 3 servers refuse client-initiated "
                            "renegotiation unless allowed: `dissector serve --allow-renegotiation`, "
                            "`openssl s_server -client_renegotiation`)",
        "NO_SUITABLE_KEY_SHARE": "no key exchange group in common (--groups)",
        "NO_SHARED_GROUPS": "no key exchange group in common (--groups)",
    }
    hint = hints.get(reason)
    return f"{text}" + (f": {hint}" if hint else "")


# ---------------------------------------------------------------------------------------------------
# the client connection
# ---------------------------------------------------------------------------------------------------

class ClientConnection:
    """One client connection: TCP connect, TLS, HTTP/1.1 requests, close; everything recorded."""

    def __init__(self, ctx: ssl.SSLContext, addresses: list[tuple[int, tuple]], server_hostname: str | None,
                 host_header: str, timeout: float = 10.0, session: ssl.SSLSession | None = None) -> None:
        self.host_header = host_header
        self.timeout = timeout
        last: OSError | None = None
        sock = None
        for family, sockaddr in addresses:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(sockaddr)
            except OSError as exc:
                s.close()
                last = exc
                continue
            sock = s
            break
        if sock is None:
            assert last is not None
            raise last
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rec = Recording(client=_endpoint(sock.getsockname()), server=_endpoint(sock.getpeername()),
                             start=time.time())
        try:
            self.tls = SocketTLS(sock, ctx, False, self.rec, server_hostname=server_hostname, session=session)
        except BaseException:
            sock.close()
            raise
        self.http = h11.Connection(h11.CLIENT)
        self.early_data = b""
        self.early_accepted: bool | None = None
        self._early_is_http = False
        self._pending_early_request: tuple | None = None
        self._early_method, self._early_target = "GET", "/"
        self.responses: list[HTTPResponse] = []

    @property
    def obj(self) -> ssl.SSLObject:
        return self.tls.obj

    def note(self, text: str) -> None:
        self.rec.notes.append(text)

    # -- handshake ----------------------------------------------------------------------------------
    def handshake(self, early_data: bytes | tuple[str, str, bytes, list] | None = None) -> None:
        """Full or resumed handshake; `early_data` (raw bytes, or a request spec tuple) goes out as 0-RTT."""
        if early_data:
            if isinstance(early_data, tuple):
                data = self._request_bytes(*early_data)
                self._early_is_http = True
                self._early_method, self._early_target = early_data[0], early_data[1]
            else:
                data = early_data
            try:
                _bridge("TLS 1.3 early data").write_early_data(self.obj, data)
            except Unsupported as exc:
                self.note(f"0-RTT: not sent: {exc}")
                if self._early_is_http:
                    self.http = h11.Connection(h11.CLIENT)  # not sent: send it again normally
                    self._early_is_http = False
                    self._pending_early_request = early_data  # type: ignore[assignment]
            else:
                self.early_data = data
                self.tls.flush()
        self.tls.handshake()
        if self.early_data:
            self.early_accepted = _bridge("TLS 1.3 early data").early_data_accepted(self.obj)
            if self.early_accepted:
                self.note(f"0-RTT: {len(self.early_data)} bytes of early data sent and accepted by the server")
            else:
                self.note(f"0-RTT: the server rejected the {len(self.early_data)} bytes of early data; "
                          "they are sent again after the handshake")
                self.tls.write(self.early_data)

    def key_update(self) -> bool:
        """Send a KeyUpdate (update_requested) before the next application data. False (noted) if impossible."""
        try:
            _bridge("TLS 1.3 KeyUpdate").key_update(self.obj, request_peer=True)
        except Unsupported as exc:
            self.note(f"KeyUpdate: not possible: {exc}")
            return False
        self.note("KeyUpdate: scheduled (update_requested); it goes out before the next request")
        return True

    def renegotiate(self) -> bool:
        """Client-initiated TLS 1.2 renegotiation. False (noted) if this OpenSSL/peer/version does not allow it."""
        try:
            renegotiate(self.obj)
            self.tls.handshake()
        except Unsupported as exc:
            self.note(f"renegotiation: not possible: {exc}")
            return False
        self.note("renegotiation: a second handshake completed over the encrypted connection")
        return True

    # -- HTTP ---------------------------------------------------------------------------------------
    def _request_bytes(self, method: str, target: str, body: bytes, headers: list | None) -> bytes:
        req = build_request(method, target, self.host_header, body, headers)
        out = self.http.send(req) or b""
        if body:
            out += self.http.send(h11.Data(data=body)) or b""
        out += self.http.send(h11.EndOfMessage()) or b""
        return out

    def request(self, method: str, target: str, body: bytes = b"",
                headers: list[tuple[str, str]] | None = None) -> HTTPResponse:
        self.early_response()  # the answer to a 0-RTT request comes first
        self.tls.write(self._request_bytes(method, target, body, headers))
        resp = self._read_response(method, target)
        self.responses.append(resp)
        return resp

    def early_response(self) -> HTTPResponse | None:
        """The answer to an HTTP request sent as early data, when no other request follows."""
        pending = self._pending_early_request
        if pending is not None:
            self._pending_early_request = None
            self.tls.write(self._request_bytes(*pending))
            resp = self._read_response(pending[0], pending[1])
            self.responses.append(resp)
            return resp
        if self._early_is_http:
            self._early_is_http = False
            resp = self._read_response(self._early_method, self._early_target, early=True)
            self.responses.append(resp)
            return resp
        return None

    def _read_response(self, method: str, target: str, early: bool = False) -> HTTPResponse:
        resp: HTTPResponse | None = None
        body = bytearray()
        while True:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError as exc:
                raise PeerClosed(f"the server's HTTP response is malformed: {exc}") from None
            if event is h11.NEED_DATA:
                data = self.tls.read()
                self.http.receive_data(data)  # b"" = end of stream
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                resp = HTTPResponse(event.status_code, event.reason.decode("latin-1"),
                                    event.http_version.decode("ascii"),
                                    [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers])
            elif isinstance(event, h11.Data):
                if len(body) < MAX_RESPONSE_BODY:
                    body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                if resp is None:
                    raise PeerClosed("the server closed the connection without an HTTP response")
                break
        assert resp is not None
        resp.body = bytes(body)
        shown = target if len(target) <= 100 else target[:97] + "..."
        self.note(f"HTTP: {method} {shown}{' (sent as 0-RTT early data)' if early else ''} -> {resp.status_line} "
                  f"({len(resp.body)} bytes)")
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()
        return resp

    def raw(self, data: bytes, wait: float = 1.0) -> bytes:
        """Send raw application bytes and collect what comes back within `wait` seconds."""
        self.tls.write(data)
        return self.tls.drain(wait)

    # -- end ----------------------------------------------------------------------------------------
    def session(self) -> ssl.SSLSession | None:
        """The session to resume; reads pending post-handshake messages (TLS 1.3 tickets) first."""
        current = self.obj.session
        if self.obj.version() == "TLSv1.3" and not (current and current.has_ticket) and not self.tls.eof \
                and not self.tls.closed:
            extra = self.tls.drain(0.2)
            if extra:
                self.note(f"{len(extra)} unexpected bytes of application data after the response")
        return self.obj.session

    def close(self) -> None:
        self.tls.close(timeout=min(1.0, self.timeout))

    def abort(self) -> None:
        self.tls.abort()
