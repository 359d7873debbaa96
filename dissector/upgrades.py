"""How TLS starts in the middle of another protocol, and what that protocol was.

Many protocols open in the clear and switch to TLS on the same TCP connection: STARTTLS commands (SMTP,
IMAP, POP3, FTP, XMPP, LDAP), database SSL requests (PostgreSQL, MySQL/MariaDB), proxies (HTTP CONNECT,
SOCKS 4 and 5; a load balancer's PROXY protocol header before the client's TLS), RDP's X.224 negotiation. The pipeline keeps watching such a flow and starts a TLS session at
the client's ClientHello. `protocol_name` names the protocol from the flow's first bytes, for the session's
`upgrade` field; a flow in a protocol it does not know is watched too, with a stricter test (the hello must
open a client write), since its bytes are arbitrary data. A first write that comes in pieces is read whole
(`may_name_later`, `hello_prefix_at`): a name, a proxy's target or the start of a hello is not decided on a few
of its bytes.
"""
from __future__ import annotations

import re

from dissector.tls.records import MAX_CIPHERTEXT

WATCH_LIMIT = 65536  # cleartext bytes of a flow watched for a ClientHello

# first bytes of protocols with a STARTTLS-style upgrade (RFC 3207, 2595, 4217, 6120, 5804, 2033; PostgreSQL
# SSLRequest)
_STARTTLS = ((b"EHLO ", "SMTP"), (b"HELO ", "SMTP"), (b"220 ", "SMTP or FTP"), (b"220-", "SMTP or FTP"),
             (b"* OK", "IMAP"), (b"+OK", "POP3"), (b"<?xml", "XMPP"), (b"<stream:stream", "XMPP"),
             (b'"IMPLEMENTATION"', "ManageSieve"), (b'"SIEVE"', "ManageSieve"),  # RFC 5804's capability greeting
             (b"LHLO ", "LMTP"),
             (b"\x00\x00\x00\x08\x04\xd2\x16\x2f", "PostgreSQL"))
_STARTTLS_STARTS = tuple(start for start, _ in _STARTTLS)
LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"  # RFC 4511 4.14.1
PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"  # HAProxy PROXY protocol version 2


def protocol_name(buf: bytes) -> str:
    """What the first bytes of a flow (in either direction) say about how TLS will begin on it, or "" when
    they are of no protocol known to upgrade: "STARTTLS (SMTP)", "HTTP CONNECT host:port", "SOCKS5"..."""
    if buf.startswith(b"CONNECT "):  # an HTTP proxy tunnel (RFC 9110 9.3.6): TLS after the proxy's 2xx
        target = bytes(buf[8:8 + 256]).split(b" ", 1)[0].split(b"\r", 1)[0]
        return "HTTP CONNECT " + target.decode("ascii", "replace")
    if buf.startswith(_STARTTLS_STARTS):
        return next(f"STARTTLS ({name})" for start, name in _STARTTLS if buf.startswith(start))
    if buf.startswith(b"PROXY ") or buf.startswith(PROXY_V2_SIGNATURE):
        return _proxy_protocol(buf)  # a load balancer's PROXY header, then the client's own bytes (TLS)
    n = len(buf)
    if n >= 5 and buf[3] == 0 and buf[4] == 10 and 16 <= int.from_bytes(buf[:3], "little") <= 1024:
        return "STARTTLS (MySQL)"  # the server's greeting: packet 0, protocol version 10; the client's SSLRequest
    if n >= 11 and buf[0] == 3 and buf[1] == 0 and buf[5] & 0xF0 == 0xE0:
        return "RDP"  # TPKT and an X.224 Connection Request; TLS (or CredSSP) follows the Connection Confirm
    if n >= 3 and buf[0] == 5 and 1 <= buf[1] <= 8 and (n == 2 + buf[1] or buf[2 + buf[1]:3 + buf[1]] == b"\x05"):
        return refine("SOCKS5", buf[2 + buf[1]:])  # the client's method list (RFC 1928), then its CONNECT request
    if n >= 9 and buf[0] == 4 and buf[1] == 1:
        return "SOCKS4 " + _socks4_target(buf)
    if n >= 30 and buf[0] == 0x30 and LDAP_STARTTLS_OID in bytes(buf[:64]):
        return "STARTTLS (LDAP)"
    return ""


_TEXT_STARTS = (b"CONNECT ", b"PROXY ", PROXY_V2_SIGNATURE) + _STARTTLS_STARTS
REFINABLE = frozenset(("SOCKS5", "STARTTLS (SMTP or FTP)"))  # names a later client write can make more precise


def may_name_later(buf: bytes) -> bool:
    """Could more bytes make `protocol_name` name this flow? (its first write came in pieces)"""
    n = len(buf)
    if n < 64 and any(len(start) > n and start.startswith(bytes(buf)) for start in _TEXT_STARTS):
        return True
    if buf.startswith((b"CONNECT ", b"PROXY ")):  # named by their whole first line
        return n < 512 and b"\n" not in bytes(buf[:512])
    if buf.startswith(PROXY_V2_SIGNATURE):  # its addresses follow a 16-byte header
        return n < 16 or n < 16 + ((buf[14] << 8) | buf[15])
    if not n:
        return False
    b0 = buf[0]
    if b0 == 5:  # SOCKS5: version, method count, methods
        return n < 2 or n < 2 + buf[1]
    if b0 == 4:  # SOCKS4: version, command, port, address, a user id; SOCKS4a then a host name (NUL-ended)
        if n < 9 or buf[1] != 1:
            return n < 2 or buf[1] == 1
        socks4a = buf[4] == 0 and buf[5] == 0 and buf[6] == 0 and buf[7] != 0
        return n < 300 and bytes(buf[8:]).count(b"\0") < (2 if socks4a else 1)
    if b0 == 3:  # RDP: TPKT, X.224 Connection Request
        return n < 11 and (n < 2 or buf[1] == 0)
    if b0 == 0x30:  # LDAP: a BER sequence, the StartTLS OID inside its first 64 bytes
        return n < 64 and LDAP_STARTTLS_OID not in bytes(buf)
    return n < 5  # a MySQL greeting: its length, then packet 0 and protocol 10


def _proxy_protocol(buf: bytes) -> str:
    """HAProxy's PROXY protocol (v1 text, v2 binary): the original client it names."""
    if buf.startswith(b"PROXY "):  # PROXY TCP4 203.0.113.7 10.0.0.2 51234 443\r\n
        parts = bytes(buf[:108]).split(b"\r\n", 1)[0].decode("ascii", "replace").split(" ")
        if len(parts) == 6 and parts[1] in ("TCP4", "TCP6"):
            host = f"[{parts[2]}]" if parts[1] == "TCP6" else parts[2]
            return f"PROXY protocol from {host}:{parts[4]}"
        return "PROXY protocol"
    if len(buf) >= 28 and buf[12] & 0x0F == 1 and buf[13] == 0x11:  # v2, PROXY command, TCP over IPv4
        return f"PROXY protocol v2 from {'.'.join(str(b) for b in buf[16:20])}:{(buf[24] << 8) | buf[25]}"
    if len(buf) >= 52 and buf[12] & 0x0F == 1 and buf[13] == 0x21:  # TCP over IPv6
        import ipaddress

        return f"PROXY protocol v2 from [{ipaddress.IPv6Address(bytes(buf[16:32]))}]:{(buf[48] << 8) | buf[49]}"
    return "PROXY protocol v2"


def refine(name: str, chunk: bytes) -> str:
    """A later client write can say more: the target of a SOCKS5 CONNECT request; whether a "220" greeting
    was an SMTP or an FTP server's (the client's first command tells). `chunk`: the client's bytes so far
    (for SOCKS5 they may still begin with its method list)."""
    if name == "SOCKS5":
        starts = (0, 2 + chunk[1]) if len(chunk) >= 2 and chunk[0] == 5 else (0,)
        for start in starts:  # the CONNECT request, or the method list and then the request
            req = chunk[start:]
            if len(req) >= 7 and req[0] == 5 and req[1] == 1 and req[2] == 0:
                target = _socks5_target(req)
                if target:
                    return f"SOCKS5 CONNECT {target}"
    elif name == "STARTTLS (SMTP or FTP)":
        if chunk[:5].upper() == b"LHLO ":  # LMTP (RFC 2033): SMTP's local delivery
            return "STARTTLS (LMTP)"
        if chunk[:5].upper() in (b"EHLO ", b"HELO "):
            return "STARTTLS (SMTP)"
        if chunk[:5].upper() in (b"AUTH ", b"USER ", b"FEAT\r"):
            return "STARTTLS (FTP)"
    return name


def _socks5_target(req: bytes) -> str:
    atyp, port_at = req[3], 0
    if atyp == 1 and len(req) >= 10:
        host, port_at = ".".join(str(b) for b in req[4:8]), 8
    elif atyp == 3 and len(req) >= 5 + req[4] + 2:
        host, port_at = bytes(req[5:5 + req[4]]).decode("ascii", "replace"), 5 + req[4]
    elif atyp == 4 and len(req) >= 22:
        import ipaddress

        host, port_at = f"[{ipaddress.IPv6Address(bytes(req[4:20]))}]", 20
    else:
        return ""
    return f"{host}:{(req[port_at] << 8) | req[port_at + 1]}"


def _socks4_target(req: bytes) -> str:
    port = (req[2] << 8) | req[3]
    if req[4] == 0 and req[5] == 0 and req[6] == 0 and req[7]:  # SOCKS4a: a host name after the user id
        rest = bytes(req[8:8 + 300]).split(b"\0")
        if len(rest) >= 2 and rest[1]:
            return f"{rest[1].decode('ascii', 'replace')}:{port}"
    return f"{'.'.join(str(b) for b in req[4:8])}:{port}"


def client_hello_at(chunk: bytes, anywhere: bool) -> int:
    """Where a TLS record carrying the start of a ClientHello begins in a client write, or -1.

    `anywhere`: also past the start of the write (a known protocol, whose last cleartext message and the
    hello may arrive in one segment, e.g. MySQL's SSLRequest when the capture host merged segments)."""
    pos = 0 if chunk[:2] == b"\x16\x03" else (chunk.find(b"\x16\x03") if anywhere else -1)
    while 0 <= pos:
        if _is_client_hello_record(chunk, pos):
            return pos
        if not anywhere:
            return -1
        pos = chunk.find(b"\x16\x03", pos + 1)
    return -1


def hello_prefix_at(chunk: bytes, anywhere: bool) -> int:
    """Where the end of a client write could be the first bytes (fewer than a hello's first 11) of a record
    carrying a ClientHello, or -1: held back, they are read with the next write (a stack that writes the
    record header apart, or a segment cut inside the header)."""
    n = len(chunk)
    start = max(0, n - 10) if anywhere else 0
    pos = chunk.find(b"\x16", start)
    while 0 <= pos:
        if n - pos < 11 and _could_start_client_hello(chunk[pos:]):
            return pos
        if not anywhere:
            return -1
        pos = chunk.find(b"\x16", pos + 1)
    return -1


def _could_start_client_hello(b: bytes) -> bool:
    """The bytes so far fit `_is_client_hello_record` (b[0] is 22)."""
    n = len(b)
    return ((n < 2 or b[1] == 3) and (n < 3 or b[2] <= 4) and (n < 5 or ((b[3] << 8) | b[4]) <= MAX_CIPHERTEXT)
            and (n < 6 or b[5] == 1) and (n < 7 or b[6] == 0) and (n < 9 or ((b[7] << 8) | b[8]) >= 40)
            and (n < 10 or b[9] == 3))


def _is_client_hello_record(b: bytes, pos: int) -> bool:
    # record: type 22, version 3.x (x <= 4), length; handshake: ClientHello (1), a length under 64 KB and
    # at least a ClientHello's minimum, then client_version 3.x
    if len(b) - pos < 11:
        return False
    return (b[pos + 2] <= 4 and ((b[pos + 3] << 8) | b[pos + 4]) <= MAX_CIPHERTEXT and b[pos + 5] == 1
            and b[pos + 6] == 0 and ((b[pos + 7] << 8) | b[pos + 8]) >= 40 and b[pos + 9] == 3)


_PROXY_AUTHORIZATION = re.compile(rb"\r\nproxy-authorization:[ \t]*([^\r\n]{1,4096})\r\n", re.IGNORECASE)


def proxy_authorization(said: bytes) -> str | None:
    """The Proxy-Authorization header's value in what a client said to a proxy in the clear (its CONNECT
    requests: a second one after a 407), or None: credentials an HTTP proxy asked for, readable by anyone on the
    path. Only the first 16 KB are searched."""
    m = _PROXY_AUTHORIZATION.search(said, 0, 16384)
    return m.group(1).decode("latin-1").strip() if m else None
