"""Link, IP and TCP header decoding: one function on the per-packet hot path.

`decode_frame` returns a plain tuple (no per-layer objects) for a TCP segment, or for a UDP datagram that
may carry DTLS or QUIC (`flags` UDP_DATAGRAM, and QUIC_DATAGRAM for QUIC; see `_datagram_kind`), or None for
anything else. Headers are read with precompiled `struct.Struct.unpack_from` at offsets; the payload is a
memoryview slice of the frame, trimmed to the IP length (Ethernet padding is not payload).

Tunnels are opened and the inner packet decoded instead (what traffic mirroring and span sessions
deliver): VXLAN (UDP 4789; AWS and Azure traffic mirroring), Geneve (UDP 6081; AWS Gateway Load
Balancer), GRE with IP, Ethernet (TEB) or ERSPAN type II/III inside, IP in IP and IPv6 in IP, GTP-U (UDP
2152; a mobile network's user plane), TZSP (UDP 37008; MikroTik's packet sniffer streaming), and on
Ethernet MPLS label stacks and PPPoE sessions. Flows are keyed by the inner addresses.

Besides Ethernet, Linux cooked and raw IP, the link types of captures made elsewhere: BSD and macOS (loopback,
PPP, pflog, enc, and macOS's PKTAP, which `tcpdump -k` and `-i pktap` write), Linux's NFLOG (`tcpdump -i
nflog:N`, iptables/nftables `log group N`), routers' Cisco HDLC, and 802.11 monitor mode behind radiotap, PPI,
Prism or AVS radio headers. PKTAP, PPI, Prism and AVS are a header in front of a frame of another link type:
`unwrap` removes it.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from dissector.errors import MalformedInput

# Link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0  # BSD loopback, AF in host byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_12 = 12  # raw IP on some BSDs
LINKTYPE_RAW_14 = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # OpenBSD loopback, AF in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_IEEE802_11 = 105  # 802.11 frames (a monitor-mode capture without radio headers)
LINKTYPE_IEEE802_11_RADIOTAP = 127  # 802.11 frames behind a radiotap header (what monitor mode gives on Linux)
LINKTYPE_PPP = 9  # PPP, with or without the HDLC address and control bytes (BSD, macOS)
LINKTYPE_PPP_HDLC = 50  # PPP in HDLC-like framing (ff 03), or Cisco HDLC (NetBSD)
LINKTYPE_PPP_ETHER = 51  # PPPoE session frames without their Ethernet header (BSD)
LINKTYPE_C_HDLC = 104  # Cisco HDLC (routers' serial links): address, control, then an EtherType
LINKTYPE_ENC = 109  # OpenBSD enc(4): IPsec traffic in the clear, behind a 12-byte header
LINKTYPE_PFLOG = 117  # OpenBSD/FreeBSD/macOS pf logs: a pfloghdr (its length in the first byte), then IP
LINKTYPE_IEEE802_11_PRISM = 119  # 802.11 behind a Prism monitoring header (old Linux drivers)
LINKTYPE_IEEE802_11_AVS = 163  # 802.11 behind an AVS monitoring header
LINKTYPE_PPI = 192  # a Per-Packet Information header (AirPcap, Kismet), then a frame of the link type it names
LINKTYPE_NFLOG = 239  # Linux netfilter log: a 4-byte header, then TLVs, one of which holds the IP packet
LINKTYPE_PKTAP = 258  # macOS PKTAP: a header (interface, process) in front of a frame of the link type it names

SUPPORTED_LINKTYPES = {
    LINKTYPE_NULL: "BSD loopback", LINKTYPE_ETHERNET: "Ethernet", LINKTYPE_RAW_12: "raw IP",
    LINKTYPE_RAW_14: "raw IP", LINKTYPE_RAW: "raw IP", LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)", LINKTYPE_IPV4: "raw IPv4", LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked (SLL2)", LINKTYPE_IEEE802_11: "IEEE 802.11",
    LINKTYPE_IEEE802_11_RADIOTAP: "IEEE 802.11 with radiotap", LINKTYPE_PPP: "PPP", LINKTYPE_PPP_HDLC: "PPP",
    LINKTYPE_PPP_ETHER: "PPPoE", LINKTYPE_C_HDLC: "Cisco HDLC", LINKTYPE_ENC: "OpenBSD enc",
    LINKTYPE_PFLOG: "pflog", LINKTYPE_IEEE802_11_PRISM: "IEEE 802.11 with Prism header",
    LINKTYPE_IEEE802_11_AVS: "IEEE 802.11 with AVS header", LINKTYPE_PPI: "PPI", LINKTYPE_NFLOG: "Linux NFLOG",
    LINKTYPE_PKTAP: "macOS PKTAP",
}

_RAW_LINKTYPES = frozenset((LINKTYPE_RAW, LINKTYPE_RAW_12, LINKTYPE_RAW_14, LINKTYPE_IPV4))
ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = {0x8100, 0x88A8, 0x9100}
ETH_MPLS = {0x8847, 0x8848}
ETH_PPPOE_SESSION = 0x8864
ETH_EAPOL = 0x888E  # 802.1X: EAP between a supplicant and an authenticator
PAE_GROUP = bytes.fromhex("0180c2000003")  # 802.1X's Port Access Entity group address
RADIUS_PORTS = frozenset((1812, 1645))  # RADIUS authentication (the EAP server's side)
RADIUS_CODES = frozenset((1, 2, 3, 11))  # Access-Request, -Accept, -Reject, -Challenge
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
IPPROTO_GRE = 47
TUNNEL_PROTOS = frozenset((IPPROTO_UDP, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE))
VXLAN_PORT = 4789
GENEVE_PORT = 6081
GTPU_PORT = 2152  # GTP-U: mobile networks' user plane (3GPP TS 29.281), the phone's IP packets inside
TZSP_PORT = 37008  # TZSP: what MikroTik routers' packet sniffer streams to a collector
_UDP_TUNNEL_PORTS = frozenset((VXLAN_PORT, GENEVE_PORT, GTPU_PORT, TZSP_PORT))
MAX_TUNNEL_DEPTH = 4
IPV6_EXT_HEADERS = {0, 43, 60, 51, 135, 139, 140}  # hop-by-hop, routing, dest opts, AH, mobility, HIP, shim6
IPV6_FRAGMENT = 44

_U16 = struct.Struct("!H")
_UDP = struct.Struct("!HHH")  # source port, destination port, length
_U32_LE = struct.Struct("<I")
_I32_LE = struct.Struct("<i")
_U32_BE = struct.Struct("!I")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")  # ver/ihl, tos, total len, id, flags/frag, ttl, proto, csum, src, dst
_IPV6 = struct.Struct("!IHBB16s16s")  # ver/class/flow, payload len, next header, hop limit, src, dst
_TCP = struct.Struct("!HHIIBB")  # sport, dport, seq, ack, data offset, flags
# Ethernet type; IPv4 ver/ihl, total length, flags/fragment offset, protocol, src, dst; the TCP header as _TCP
_ETH_IPV4_TCP = struct.Struct("!12xHBxH2xH xB2x4s4sHHIIBB")

# TCP flags
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# in the flags of what decode_tcp returns: not a TCP segment but a UDP datagram that starts with a DTLS
# record header (seq and ack are 0, the payload is the UDP payload); TCP flags never reach this bit
UDP_DATAGRAM = 0x100
QUIC_DATAGRAM = 0x200  # with UDP_DATAGRAM: the payload starts like a QUIC packet (the pipeline reads it)
# a TCP segment whose packet the capture cut short (its snapshot length): the payload is only the start of it,
# and flags >> SNAPPED_SHIFT is how many bytes of the packet are missing
SNAPPED = 0x400
# with UDP_DATAGRAM: EAP that may carry TLS (EAP-TLS, PEAP...): an EAPOL frame (version 0, the MAC addresses for
# src and dst, ports 0, the payload the EAPOL header and body) or a RADIUS packet (a UDP datagram like the others)
EAP_FRAME = 0x800
SNAPPED_SHIFT = 16
_QUIC_VERSIONS = frozenset((0x00000001, 0x6B3343CF, *range(0xFF000017, 0xFF000023)))  # v1, v2, drafts 23 to 34
_DTLS_TYPES = frozenset((20, 21, 22, 23, 24, 25))
# the first UDP payload bytes _datagram_kind looks further at: QUIC (fixed bit), DTLS 1.3's unified header, DTLS
# content types (a table, so that the fast path turns most UDP, DNS and RTP, away with one lookup)
_OPENVPN_SOFT_RESETS = range(0x18, 0x20)  # P_CONTROL_SOFT_RESET_V1 with key ids 0-7: an OpenVPN renegotiation
_DATAGRAM_FIRST = bytes(1 if b & 0xC0 or b & 0xE0 == 0x20 or b in _DTLS_TYPES or b in RADIUS_CODES
                        or b in _OPENVPN_SOFT_RESETS else 0
                        for b in range(256))


class Segment(NamedTuple):
    ip_version: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    payload: memoryview


def ip_offset(linktype: int, frame: memoryview) -> tuple[int, int] | None:
    """Where the IP header starts and its version (4 or 6), or None when the frame carries no IP."""
    n = len(frame)
    if linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return None
        etype = _U16.unpack_from(frame, 12)[0]
        off = 14
        while etype in ETH_VLAN:
            if n < off + 4:
                return None
            etype = _U16.unpack_from(frame, off + 2)[0]
            off += 4
        if etype in ETH_MPLS or etype == ETH_PPPOE_SESSION:
            return _below_ethernet(frame, etype, off)
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return None
        etype, off = _U16.unpack_from(frame, 14)[0], 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if n < 20:
            return None
        etype, off = _U16.unpack_from(frame, 0)[0], 20
    elif linktype in (LINKTYPE_RAW, LINKTYPE_RAW_12, LINKTYPE_RAW_14, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if n < 1:
            return None
        version = frame[0] >> 4
        return (0, version) if version in (4, 6) else None
    elif linktype == LINKTYPE_IEEE802_11 or linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        wlan = _wlan(linktype, frame)
        if wlan is None:
            return None
        etype, off = wlan[0], wlan[1]
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if n < 4:
            return None
        family = (_U32_BE if linktype == LINKTYPE_LOOP else _U32_LE).unpack_from(frame, 0)[0]
        if family > 0xFFFF:  # written in the other byte order
            family = _U32_BE.unpack_from(frame, 0)[0] if linktype == LINKTYPE_NULL else _U32_LE.unpack_from(frame, 0)[0]
        if family == 2:
            return 4, 4
        if family in (10, 24, 28, 30):  # AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS
            return 4, 6
        return None
    elif linktype == LINKTYPE_NFLOG:
        return _nflog(frame)
    elif linktype == LINKTYPE_PPP or linktype == LINKTYPE_PPP_HDLC:
        if n >= 4 and frame[0] in (0x0F, 0x8F) and frame[1] == 0:  # Cisco HDLC, which these link types may hold too
            etype, off = _U16.unpack_from(frame, 2)[0], 4
        else:
            return _ppp(frame, 0)
    elif linktype == LINKTYPE_C_HDLC:
        if n < 4:
            return None
        etype, off = _U16.unpack_from(frame, 2)[0], 4
    elif linktype == LINKTYPE_PPP_ETHER:
        return _below_ethernet(frame, ETH_PPPOE_SESSION, 0)
    elif linktype == LINKTYPE_PFLOG:  # the header's length, padded to 4 bytes (tcpdump's BPF_WORDALIGN)
        return _ip_at(frame, (frame[0] + 3) & ~3) if n else None
    elif linktype == LINKTYPE_ENC:  # address family, SPI, flags
        return _ip_at(frame, 12)
    else:
        raise MalformedInput("link", "unsupported_linktype", f"link type {linktype} is not supported")
    if etype == ETH_IPV4:
        return off, 4
    if etype == ETH_IPV6:
        return off, 6
    return None


class Defragmenter:
    """IPv4 and IPv6 fragment reassembly, bounded in the number of pending datagrams."""

    def __init__(self, max_pending: int = 1024, max_size: int = 65535 + 40) -> None:
        self.max_pending = max_pending
        self.max_size = max_size
        self.pending: dict[tuple, dict[int, bytes]] = {}
        self.last: dict[tuple, int] = {}  # key -> total length once the last fragment is seen
        self.dropped = 0

    def add(self, key: tuple, offset: int, more: bool, data: memoryview) -> bytes | None:
        """Add one fragment; return the whole payload once every byte is there."""
        frags = self.pending.get(key)
        if frags is None:
            if len(self.pending) >= self.max_pending:
                oldest = next(iter(self.pending))
                del self.pending[oldest]
                self.last.pop(oldest, None)
                self.dropped += 1
            frags = self.pending[key] = {}
        if offset + len(data) > self.max_size:
            raise MalformedInput("ip", "fragment_too_large", f"fragment ends at {offset + len(data)}")
        frags[offset] = bytes(data)
        if not more:
            self.last[key] = offset + len(data)
        total = self.last.get(key)
        if total is None:
            return None
        out = bytearray(total)
        covered = 0
        for off in sorted(frags):
            chunk = frags[off]
            if off > covered:
                return None  # a hole
            out[off:off + len(chunk)] = chunk[: max(0, total - off)]
            covered = max(covered, off + len(chunk))
        if covered < total:
            return None
        del self.pending[key]
        del self.last[key]
        return bytes(out)


def _eapol(linktype: int, frame: memoryview) -> tuple | None:
    """An Ethernet (802.1Q tags allowed), 802.11 or Linux cooked frame of type EAPOL, as decode_tcp gives it: version
    0, the source and destination MAC addresses, flags UDP_DATAGRAM | EAP_FRAME and the EAPOL header and body; else
    None."""
    if linktype == LINKTYPE_ETHERNET and len(frame) >= 18:
        etype, off = _U16.unpack_from(frame, 12)[0], 14
        while etype in ETH_VLAN and len(frame) >= off + 8:
            etype, off = _U16.unpack_from(frame, off + 2)[0], off + 4
        src, dst = bytes(frame[6:12]), bytes(frame[0:6])
    elif linktype == LINKTYPE_IEEE802_11 or linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        wlan = _wlan(linktype, frame)
        if wlan is None:
            return None
        etype, off, src, dst = wlan
    elif linktype == LINKTYPE_LINUX_SLL or linktype == LINKTYPE_LINUX_SLL2:
        # `tcpdump -i any`: only the sender's address is recorded; the destination is taken to be the PAE group
        # address, which is what EAPRouter makes of a frame that names only its sender anyway
        sll2 = linktype == LINKTYPE_LINUX_SLL2
        if len(frame) < (20 if sll2 else 16) + 4:
            return None
        etype, off = _U16.unpack_from(frame, 0 if sll2 else 14)[0], 20 if sll2 else 16
        alen, at = (frame[11], 12) if sll2 else (_U16.unpack_from(frame, 4)[0], 6)
        if alen != 6:
            return None
        src, dst = bytes(frame[at:at + 6]), PAE_GROUP
    else:
        return None
    if etype != ETH_EAPOL:
        return None
    return 0, src, dst, 0, 0, 0, 0, UDP_DATAGRAM | EAP_FRAME, frame[off:]


_LLC_SNAP = b"\xaa\xaa\x03\x00\x00\x00"  # 802.2 LLC + SNAP with an EtherType after it (RFC 1042)


def _wlan(linktype: int, frame: memoryview) -> tuple[int, int, bytes, bytes] | None:
    """An unprotected 802.11 data frame (behind its radiotap header, if any) that carries an EtherType in LLC/SNAP:
    (EtherType, where its payload starts, source and destination MAC addresses); None for management, control,
    null and protected frames (a WPA network's traffic is encrypted; only its 802.1X/EAPOL exchange is not)."""
    off = 0
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        if len(frame) < 8 or frame[0] != 0:
            return None
        off = frame[2] | frame[3] << 8  # (radiotap's header length is little-endian)
    n = len(frame)
    if n < off + 24:
        return None
    fc0, fc1 = frame[off], frame[off + 1]
    if fc0 & 0x0C != 0x08 or fc0 & 0x40 or fc1 & 0x40:  # not data; null function (no body); protected
        return None
    a1, a2, a3 = bytes(frame[off + 4:off + 10]), bytes(frame[off + 10:off + 16]), bytes(frame[off + 16:off + 22])
    to_ds, from_ds = fc1 & 0x01, fc1 & 0x02
    body = off + 24
    if to_ds and from_ds:  # a wireless distribution system: four addresses
        dst, src = a3, bytes(frame[body:body + 6])
        body += 6
    else:
        dst = a3 if to_ds else a1
        src = a3 if from_ds else a2
    if fc0 & 0x80:  # QoS data: QoS Control, and an HT Control field when the Order bit is set
        body += 6 if fc1 & 0x80 else 2
    if n < body + 8 or frame[body:body + 6] != _LLC_SNAP:
        return None
    return _U16.unpack_from(frame, body + 6)[0], body + 8, src, dst


def decode_frame(linktype: int, frame, defrag: Defragmenter | None = None) -> Segment | None:
    """Decode one frame down to TCP: a Segment, or None for non-IP, non-TCP or incomplete fragments (a UDP
    datagram that starts with a DTLS record is a Segment too, with `flags` UDP_DATAGRAM)."""
    t = decode_tcp(linktype, frame, defrag)
    return Segment(*t) if t else None


QUIC_PORT = 443


def _below_ethernet(frame: memoryview, etype: int, off: int) -> tuple[int, int] | None:
    """Where IP starts under an MPLS label stack (RFC 3032) or a PPPoE session header (RFC 2516)."""
    n = len(frame)
    if etype == ETH_PPPOE_SESSION:  # version/type, code, session id, length; then the PPP protocol
        return _ppp(frame, off + 6)
    while True:  # MPLS: 4-byte labels down to the one with the bottom-of-stack bit
        if n < off + 5:
            return None
        bottom = frame[off + 2] & 0x01
        off += 4
        if bottom:
            break
    version = frame[off] >> 4  # no protocol field: IPv4 and IPv6 tell themselves apart by their first nibble
    return (off, version) if version in (4, 6) else None


def _ip_at(frame: memoryview, off: int) -> tuple[int, int] | None:
    """(off, IP version) when an IPv4 or IPv6 header starts at `off`, told by its first nibble."""
    if len(frame) <= off:
        return None
    version = frame[off] >> 4
    return (off, version) if version in (4, 6) else None


def _ppp(frame: memoryview, off: int) -> tuple[int, int] | None:
    """Where IP starts after a PPP header at `off`: the HDLC address and control bytes (ff 03) if present, then the
    protocol, two bytes or one when compressed (RFC 1661 6.5): 0x21 is IPv4, 0x57 IPv6."""
    n = len(frame)
    if n >= off + 2 and frame[off] == 0xFF and frame[off + 1] == 0x03:
        off += 2
    if n <= off:
        return None
    proto = frame[off]
    if proto & 1:  # an odd first byte: a one-byte (compressed) protocol field
        off += 1
    elif n >= off + 2 and proto == 0:
        proto, off = frame[off + 1], off + 2
    else:
        return None
    return (off, 4) if proto == 0x21 else (off, 6) if proto == 0x57 else None


_NFLOG_PAYLOAD = 9  # NFULA_PAYLOAD: the packet, from its IP header
_U16_PAIR_LE = struct.Struct("<HH")
_U16_PAIR_BE = struct.Struct(">HH")


def _nflog(frame: memoryview) -> tuple[int, int] | None:
    """Where IP starts in an NFLOG record: a header (family, version, resource id), then TLVs of a length (its own
    4 bytes included, padded to 4) and a type, both in the capturing host's byte order (little-endian on nearly
    every machine; a type beyond 255 means the other order)."""
    n, off = len(frame), 4
    while off + 4 <= n:
        length, kind = _U16_PAIR_LE.unpack_from(frame, off)
        if kind > 0xFF or length < 4:
            length, kind = _U16_PAIR_BE.unpack_from(frame, off)
        if length < 4 or off + length > n:
            return None
        if kind == _NFLOG_PAYLOAD:
            return _ip_at(frame, off + 4)
        off += (length + 3) & ~3
    return None


_WRAPPERS = frozenset((LINKTYPE_PKTAP, LINKTYPE_PPI, LINKTYPE_IEEE802_11_PRISM, LINKTYPE_IEEE802_11_AVS))
_PKTAP = struct.Struct("<III")  # header length, type of what follows (1: a packet), its link type (little-endian)
_PPI = struct.Struct("<HI")  # header length, link type (after a version 0 and a flags byte; little-endian)
_AVS_MAGIC = 0x80211000  # AVS headers start 0x8021100x (big-endian), also when a capture says Prism


def unwrap(linktype: int, frame: memoryview) -> tuple[int, memoryview] | None:
    """The frame behind a PKTAP, PPI, Prism or AVS header and its link type; None when the header is damaged (or a
    PKTAP record is not a packet)."""
    n = len(frame)
    if n < 8:
        return None
    if linktype == LINKTYPE_PKTAP:
        if n < 12:
            return None
        hlen, next_type, inner = _PKTAP.unpack_from(frame, 0)
        return (inner, frame[hlen:]) if next_type == 1 and 12 <= hlen <= n else None
    if linktype == LINKTYPE_PPI:
        hlen, inner = _PPI.unpack_from(frame, 2)
        return (inner, frame[hlen:]) if frame[0] == 0 and 8 <= hlen <= n else None
    if linktype == LINKTYPE_IEEE802_11_PRISM and _U32_BE.unpack_from(frame, 0)[0] & 0xFFFFFFF0 != _AVS_MAGIC:
        hlen = _U32_LE.unpack_from(frame, 4)[0]  # the message length, in the host's byte order
        if hlen > n:
            hlen = _U32_BE.unpack_from(frame, 4)[0]
    else:  # AVS: version, then the header length, big-endian
        hlen = _U32_BE.unpack_from(frame, 4)[0]
    return (LINKTYPE_IEEE802_11, frame[hlen:]) if 8 <= hlen <= n else None


def pktap_process(frame) -> dict | None:
    """The process a macOS PKTAP record names (pth_pid and pth_comm, and the effective process, pth_epid and
    pth_ecomm, when it differs: the app a daemon sends for), or None when it names none (pid 0 or -1)."""
    if len(frame) < 105 or _U32_LE.unpack_from(frame, 0)[0] < 105:
        return None
    pid, epid = _I32_LE.unpack_from(frame, 52)[0], _I32_LE.unpack_from(frame, 84)[0]
    name = bytes(frame[56:73]).split(b"\0", 1)[0].decode("utf-8", "replace")
    if pid <= 0 or not name:
        return None
    process: dict = {"pid": pid, "name": name}
    ename = bytes(frame[88:105]).split(b"\0", 1)[0].decode("utf-8", "replace")
    if epid > 0 and epid != pid and ename:
        process["effective_pid"], process["effective_name"] = epid, ename
    return process


def _decapsulate(proto: int, body: memoryview) -> tuple[int, memoryview] | None:
    """The inner frame of a tunnel packet (the IP payload `body` of protocol `proto`) and its link type;
    None when the packet is not a tunnel we open (most UDP)."""
    n = len(body)
    if proto == IPPROTO_UDP:
        if n < 16:
            return None
        dport = _U16.unpack_from(body, 2)[0]
        if dport == VXLAN_PORT and body[8] & 0x08:  # the I flag: a valid VNI follows (RFC 7348)
            return LINKTYPE_ETHERNET, body[16:]
        if dport == GENEVE_PORT and body[8] >> 6 == 0:  # version 0, options length in 4-byte words (RFC 8926)
            start = 16 + (body[8] & 0x3F) * 4
            ptype = _U16.unpack_from(body, 10)[0]
            if ptype == 0x6558:
                return LINKTYPE_ETHERNET, body[start:]
            if ptype in (ETH_IPV4, ETH_IPV6):
                return LINKTYPE_RAW, body[start:]
        if dport == GTPU_PORT:
            return _gtpu(body[8:])
        if dport == TZSP_PORT:
            return _tzsp(body[8:])
        return None
    if proto == IPPROTO_IPIP or proto == IPPROTO_IPV6:
        return LINKTYPE_RAW, body
    # GRE (RFC 2784, 2890): flags and version, protocol, then checksum, key and sequence as the flags say
    if n < 4 or body[1] & 0x07:
        return None
    flags = body[0]
    ptype = _U16.unpack_from(body, 2)[0]
    start = 4 + 4 * ((flags >> 7 & 1) + (flags >> 5 & 1) + (flags >> 4 & 1))
    if ptype in (ETH_IPV4, ETH_IPV6):
        return LINKTYPE_RAW, body[start:]
    if ptype == 0x6558:  # transparent Ethernet bridging (gretap)
        return LINKTYPE_ETHERNET, body[start:]
    if ptype == 0x88BE:  # ERSPAN type II has an 8-byte header and a GRE sequence number; type I has neither
        return LINKTYPE_ETHERNET, body[start + 8:] if flags & 0x10 else body[start:]
    if ptype == 0x22EB and n >= start + 12:  # ERSPAN type III: 12 bytes, plus 8 when the O flag is set
        return LINKTYPE_ETHERNET, body[start + 12 + (8 if body[start + 11] & 0x01 else 0):]
    return None


def _gtpu(gtp: memoryview) -> tuple[int, memoryview] | None:
    """The IP packet of a GTP-U G-PDU (TS 29.281 5): version 1, message type 255, the optional fields when any of
    the E, S or PN flags is set, then the chain of extension headers (each its length in 4-byte units, ending with
    the next one's type). Echo, error indication and end marker messages carry no packet."""
    n = len(gtp)
    if n < 8 or gtp[0] >> 4 != 0x3 or gtp[1] != 0xFF:  # version 1 and protocol type GTP; a G-PDU
        return None
    pos = 8
    if gtp[0] & 0x07:
        if n < 12:
            return None
        next_type, pos = gtp[11], 12
        while next_type:
            if pos >= n or not gtp[pos]:
                return None
            pos += gtp[pos] * 4
            if pos > n:
                return None
            next_type = gtp[pos - 1]
    return (LINKTYPE_RAW, gtp[pos:]) if _ip_at(gtp, pos) else None


_TZSP_LINKTYPES = {1: LINKTYPE_ETHERNET, 18: LINKTYPE_IEEE802_11}


def _tzsp(tzsp: memoryview) -> tuple[int, memoryview] | None:
    """The frame a TZSP packet carries: version 1, a type (0 for a received frame, 1 transmitted), the frame's
    encapsulation (1 Ethernet, 18 802.11), tagged fields up to the end tag (1; tag 0 is one byte of padding)."""
    n = len(tzsp)
    if n < 5 or tzsp[0] != 1 or tzsp[1] > 1:
        return None
    linktype = _TZSP_LINKTYPES.get(_U16.unpack_from(tzsp, 2)[0])
    pos = 4
    while linktype is not None and pos < n:
        tag = tzsp[pos]
        if tag == 1:
            return linktype, tzsp[pos + 1:]
        pos += 1 if tag == 0 else 2 + (tzsp[pos + 1] if pos + 1 < n else 0)
    return None


def _datagram_kind(udp: memoryview) -> int:
    """What a UDP datagram (`udp`: its header and payload) may carry for the pipeline, by its first payload bytes:
    UDP_DATAGRAM | QUIC_DATAGRAM for QUIC (a short header 01..., on any port: the pipeline keeps it only for a QUIC
    flow it knows; a long header 11... of a known version; a Version Negotiation, 1... with version 0; anything with
    the fixed bit to or from port 443),
    UDP_DATAGRAM for DTLS (a record header with a DTLS version, or RFC 9147's unified header 001CSLEE),
    UDP_DATAGRAM | EAP_FRAME for RADIUS (to or from its ports: the pipeline reads the EAP it carries), else 0."""
    n = len(udp)
    if n < 11 or not _DATAGRAM_FIRST[udp[8]]:
        return 0
    first = udp[8]
    if first & 0x40:
        if (not first & 0x80 or (n >= 13 and _U32_BE.unpack_from(udp, 9)[0] in _QUIC_VERSIONS)
                or _U16.unpack_from(udp, 2)[0] == QUIC_PORT or _U16.unpack_from(udp, 0)[0] == QUIC_PORT):
            return UDP_DATAGRAM | QUIC_DATAGRAM
        return 0
    if first & 0x80:  # QUIC's Version Negotiation (version 0; its fixed bit may be clear), else nothing of ours
        return UDP_DATAGRAM | QUIC_DATAGRAM if n >= 13 and not _U32_BE.unpack_from(udp, 9)[0] else 0
    if first & 0xE0 == 0x20 or (n >= 21 and first in _DTLS_TYPES and (
            (udp[9] == 0xFE and udp[10] >= 0xFC) or (udp[9] == 1 and udp[10] == 0))):
        return UDP_DATAGRAM
    if first in _OPENVPN_SOFT_RESETS and n >= 8 + 14:  # (kept by the pipeline only for a known OpenVPN flow)
        return UDP_DATAGRAM
    if first in RADIUS_CODES and n >= 28 and (_U16.unpack_from(udp, 0)[0] in RADIUS_PORTS
                                               or _U16.unpack_from(udp, 2)[0] in RADIUS_PORTS):
        return UDP_DATAGRAM | EAP_FRAME
    return 0


def decode_tcp(linktype: int, frame, defrag: Defragmenter | None = None, _depth: int = 0) -> tuple | None:
    """The hot-path form of decode_frame: a plain tuple in Segment's field order (None when the frame holds
    no TCP segment, nor a UDP datagram that _datagram_kind keeps).

    Untagged Ethernet (one unpack for all three headers) or raw IP, then IPv4 without options or fragments
    (nearly every packet), takes a straight path; everything else goes through the general code below.
    """
    mv = frame if type(frame) is memoryview else memoryview(frame)
    n = len(mv)
    if linktype == 1:
        if n >= 54:
            (etype, vihl, total, frag, proto, src, dst, sport, dport, seq, ack, doff,
             flags) = _ETH_IPV4_TCP.unpack_from(mv, 0)
            if etype == ETH_IPV4 and vihl == 0x45:
                if proto != IPPROTO_TCP:
                    if proto == IPPROTO_UDP and not frag & 0x3FFF:
                        # most UDP (DNS, RTP...) is neither a tunnel, QUIC nor DTLS: done here (the ports sit
                        # where TCP's do; the UDP header starts at byte 34)
                        if (dport not in _UDP_TUNNEL_PORTS
                                and not (_DATAGRAM_FIRST[mv[42]] and _datagram_kind(mv[34:]))):
                            return None
                    elif proto not in TUNNEL_PROTOS:
                        return None
                elif not frag & 0x3FFF and total >= 40:
                    end = 14 + total
                    if end > n:
                        flags |= SNAPPED | (end - n) << SNAPPED_SHIFT
                        end = n
                    hlen = (doff >> 4) * 4
                    if 20 <= hlen <= end - 34:
                        return 4, src, dst, sport, dport, seq, ack, flags, mv[34 + hlen:end]
        base = -1  # anything else on Ethernet: the general code
    elif linktype in _RAW_LINKTYPES:
        base = 0 if n >= 40 else -1
    else:
        base = -1
    if base >= 0 and mv[base] == 0x45:  # raw IPv4
        _, _, total, _, frag, _, proto, _, src, dst = _IPV4.unpack_from(mv, base)
        if proto != IPPROTO_TCP:
            if proto not in TUNNEL_PROTOS:
                return None
        elif not frag & 0x3FFF and total >= 40:
            end = base + total
            tcp = base + 20
            sport, dport, seq, ack, doff, flags = _TCP.unpack_from(mv, tcp)
            if end > n:
                flags |= SNAPPED | (end - n) << SNAPPED_SHIFT
                end = n
            hlen = (doff >> 4) * 4
            if 20 <= hlen <= end - tcp:
                return 4, src, dst, sport, dport, seq, ack, flags, mv[tcp + hlen:end]
    if linktype in _WRAPPERS:
        inner = unwrap(linktype, mv)
        if inner is None or _depth >= MAX_TUNNEL_DEPTH:
            return None
        return decode_tcp(inner[0], inner[1], defrag, _depth + 1)
    where = ip_offset(linktype, mv)
    if where is None:
        return _eapol(linktype, mv)
    off, version = where
    if version == 4:
        if n < off + 20:
            raise MalformedInput("ip", "truncated_ipv4_header", f"{n - off} bytes")
        vihl, _, total, ident, frag, _, proto, _, src, dst = _IPV4.unpack_from(mv, off)
        if vihl >> 4 != 4:
            raise MalformedInput("ip", "bad_ip_version", f"version {vihl >> 4} in an IPv4 frame")
        ihl = (vihl & 0x0F) * 4
        if total == 0 and ihl >= 20:
            total = n - off  # a segment captured before TCP segmentation offload: the NIC fills the length in
        if ihl < 20 or total < ihl:
            raise MalformedInput("ip", "bad_ipv4_header_length", f"IHL {ihl}, total length {total}")
        end = off + total
        snapped = end - n if end > n else 0  # bytes the capture's snapshot length cut off
        if snapped:
            end = n
        if proto != IPPROTO_TCP and proto not in TUNNEL_PROTOS:
            return None
        body = mv[off + ihl:end]
        if frag & 0x3FFF:  # MF set or a fragment offset: a fragment
            if defrag is None:
                return None
            whole = defrag.add((src, dst, ident, proto), (frag & 0x1FFF) * 8, bool(frag & 0x2000), body)
            if whole is None:
                return None
            body = memoryview(whole)
    else:
        if n < off + 40:
            raise MalformedInput("ip", "truncated_ipv6_header", f"{n - off} bytes")
        vtf, plen, nxt, _, src, dst = _IPV6.unpack_from(mv, off)
        if vtf >> 28 != 6:
            raise MalformedInput("ip", "bad_ip_version", f"version {vtf >> 28} in an IPv6 frame")
        end = off + 40 + plen
        snapped = end - n if end > n and plen != 0 else 0  # bytes the capture's snapshot length cut off
        if end > n or plen == 0:  # snapped, or a jumbogram
            end = n
        pos = off + 40
        frag_info = None
        while nxt in IPV6_EXT_HEADERS or nxt == IPV6_FRAGMENT:
            if pos + 8 > end:
                raise MalformedInput("ip", "truncated_ipv6_extension", f"next header {nxt}")
            if nxt == IPV6_FRAGMENT:
                fo = _U16.unpack_from(mv, pos + 2)[0]
                frag_info = (fo & 0xFFF8, bool(fo & 1), _U32_BE.unpack_from(mv, pos + 4)[0])
                nxt, pos = mv[pos], pos + 8
            elif nxt == 51:  # AH: length in 4-byte units, minus 2
                nxt, pos = mv[pos], pos + (mv[pos + 1] + 2) * 4
            else:
                nxt, pos = mv[pos], pos + (mv[pos + 1] + 1) * 8
        proto = nxt
        if proto != IPPROTO_TCP and proto not in TUNNEL_PROTOS:
            return None
        body = mv[pos:end]
        if frag_info is not None:
            if defrag is None:
                return None
            frag_off, more, ident = frag_info
            whole = defrag.add((src, dst, ident, proto), frag_off, more, body)
            if whole is None:
                return None
            body = memoryview(whole)
    if proto != IPPROTO_TCP:
        inner = _decapsulate(proto, body)
        if inner is None:
            kind = _datagram_kind(body) if proto == IPPROTO_UDP else 0
            if not kind:
                return None
            sport, dport, length = _UDP.unpack_from(body, 0)
            end = length if 8 <= length <= len(body) else len(body)  # the UDP length, unless the capture cut it short
            if snapped:
                kind |= SNAPPED | snapped << SNAPPED_SHIFT
            return version, src, dst, sport, dport, 0, 0, kind, body[8:end]
        if _depth >= MAX_TUNNEL_DEPTH:
            return None
        return decode_tcp(inner[0], inner[1], defrag, _depth + 1)
    if len(body) < 20:
        raise MalformedInput("tcp", "truncated_tcp_header", f"{len(body)} bytes")
    sport, dport, seq, ack, doff, flags = _TCP.unpack_from(body, 0)
    hlen = (doff >> 4) * 4
    if hlen < 20 or hlen > len(body):
        raise MalformedInput("tcp", "bad_tcp_header_length", f"data offset {hlen}, segment {len(body)} bytes")
    if snapped:
        flags |= SNAPPED | snapped << SNAPPED_SHIFT
    return version, src, dst, sport, dport, seq, ack, flags, body[hlen:]
