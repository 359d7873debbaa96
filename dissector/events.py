"""Every event the pipeline emits: the contract that all outputs and plugins consume.

Events are small slotted dataclasses. They carry the frame timestamp, the flow they belong to and,
where it matters, the direction ("client" for client->server, "server" for server->client).
Plugins add their own events by subclassing `Event`; outputs render unknown events generically.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLIENT = "client"
SERVER = "server"


@dataclass(slots=True, eq=False)
class Flow:
    """One TCP connection (one `tcp.stream` in Wireshark terms), or the UDP flow of one DTLS association.
    Shared by all its events."""

    id: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    start_ts: float
    ip_version: int = 4  # 0: the endpoints are not IP addresses (EAP over EAPOL: MAC addresses, port 0)
    transport: str = "tcp"  # or "udp" (DTLS), "quic", "eapol" or "radius" (TLS inside EAP)

    @property
    def client(self) -> str:
        return _endpoint(self.client_ip, self.client_port, self.ip_version)

    @property
    def server(self) -> str:
        return _endpoint(self.server_ip, self.server_port, self.ip_version)


def _endpoint(ip: str, port: int, ip_version: int) -> str:
    if not port:  # not an IP endpoint: an 802.1X supplicant, by its MAC address
        return ip
    return f"[{ip}]:{port}" if ip_version == 6 else f"{ip}:{port}"


@dataclass(slots=True, eq=False)
class Event:
    ts: float
    flow: Flow | None

    @property
    def kind(self) -> str:
        return type(self).__name__

    def fields(self) -> dict[str, Any]:
        """The event's own fields (everything but ts and flow), for generic rendering."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = _field_names(type(self))
        return {name: getattr(self, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # event class -> the names fields() shows, found once per class


def _field_names(cls: type) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for klass in cls.__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in ("ts", "flow", "body", "ctx") and not name.startswith("_"):
                seen.setdefault(name, None)
    return tuple(seen)


@dataclass(slots=True, eq=False)
class TCPEvent(Event):
    """A TCP control event: SYN, SYN-ACK, ACK (handshake complete), FIN, RST, or a mid-stream pickup."""

    direction: str
    state: str  # "SYN" | "SYN-ACK" | "ESTABLISHED" | "FIN" | "RST" | "MIDSTREAM"


@dataclass(slots=True, eq=False)
class TCPGap(Event):
    """Bytes that never appeared in the capture (a lost segment); parsing resynchronises after it."""

    direction: str
    missing: int


@dataclass(slots=True, eq=False)
class QUICEvent(Event):
    """A QUIC packet of the transport's own that changes the handshake's course: "Retry" (the server wants the
    client to prove its address with a token) or "Version Negotiation" (the server does not speak the client's
    version). `ignored`: the client must discard it (RFC 9000 6.2, 17.2.5.2), and it changed nothing."""

    direction: str
    packet: str
    detail: str = ""
    ignored: bool = False


@dataclass(slots=True, eq=False)
class TransportInfo(Event):
    """What the protocol that carried a TLS session says besides TLS, at its end: `doc[section] = info`. "eap": the
    EAP conversation (carrier, method, identity, authenticator, outcome); "openvpn": the OpenVPN session (how its
    control channel is protected, data packets, renegotiations)."""

    section: str
    info: dict[str, Any]


@dataclass(slots=True, eq=False)
class SessionStart(Event):
    """TLS was detected on a flow (or, with `cleartext`, plain HTTP that plugins will read). `upgrade` says
    how TLS began when not at the connection's start: "STARTTLS (SMTP)", "HTTP CONNECT host:443"..."""

    cleartext: bool = False
    upgrade: str = ""


@dataclass(slots=True, eq=False)
class TLSMessage(Event):
    """A handshake message, a ChangeCipherSpec or an Alert, in wire order.

    `type` is the RFC name in CamelCase (ClientHello, ChangeCipherSpec, Alert, EncryptedHandshakeMessage...).
    `info` holds the parsed fields (versions, randoms, extensions, certificates, alert level/description);
    for handshake messages it is parsed from `body` on first access, so outputs that do not show
    fields do not pay for them.
    """

    direction: str
    type: str
    encrypted: bool = False  # carried encrypted (and decrypted), or could not be decrypted
    length: int = 0
    code: int = -1  # handshake type, -1 for record-level items
    body: bytes = b""
    ctx: Any = None  # the parse context (negotiated version, key exchange) at the time
    _info: dict[str, Any] | None = None

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            if self.code >= 0:
                from dissector.tls.handshake import details

                self._info = details(self.code, self.body, self.ctx)
            else:
                self._info = {}
        return self._info


@dataclass(slots=True, eq=False)
class AppData(Event):
    """One application_data record. `data` is the plaintext when decrypted, else None. QUIC: the STREAM bytes of
    stream `stream`, `fin` when they end it."""

    direction: str
    length: int
    data: bytes | None = None
    stream: int | None = None
    fin: bool = False


@dataclass(slots=True, eq=False)
class EarlyData(Event):
    """What became of a TLS 1.3 client's 0-RTT application data (RFC 8446 4.2.10), once the handshake tells:
    `status` accepted | rejected | unknown, `detail` how that is known. `records` and `length`: the 0-RTT
    application records this event accounts for (one that comes after the decision has an event of its own).
    Accepted records are application data like any other; rejected ones the server discarded, so they are not:
    their plaintext (`_data`, when the early secret was known) is only hashed for the session's `early_data`."""

    direction: str
    status: str
    detail: str = ""
    records: int = 0
    length: int = 0
    _data: bytes | None = None


@dataclass(slots=True, eq=False)
class Decryption(Event):
    """The decryption status of a session: decrypted | no-key | failed | not-encrypted, with a reason.
    `key_random`: the client random the key log names the session by, when it is not the ClientHello's
    (the hidden inner ClientHello of Encrypted Client Hello)."""

    status: str
    detail: str = ""
    key_random: bytes = b""


@dataclass(slots=True, eq=False)
class SessionInfo(Event):
    """Negotiated parameters, emitted once the ServerHello is seen (and again on renegotiation)."""

    version: str | None
    cipher_suite: str | None
    sni: str | None = None
    alpn: str | None = None
    resumed: bool = False
    ech: dict[str, Any] | None = None  # Encrypted Client Hello: status (accepted, rejected), inner_sni...


@dataclass(slots=True, eq=False)
class Anomaly(Event):
    """Something off on the wire, like a zeek weird: a stable snake_case `name` and a sentence."""

    layer: str
    name: str
    detail: str = ""
    direction: str | None = None


@dataclass(slots=True, eq=False)
class FlowEnd(Event):
    """The flow is over (FIN/RST both ways, idle timeout, or end of capture); no more events for it."""

    reason: str = ""
