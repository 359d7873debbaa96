"""Real-looking TCP framing for the byte chunks a `TLSPair` connection recorded.

`synthesize(chunks, ...)` returns `[(ts, frame)]` Ethernet frames of one TCP connection, in time order:

- three-way handshake: SYN and SYN-ACK carry MSS, SACK-permitted and window-scale options, then an ACK;
- each chunk (one write by one side) is cut into segments of at most `mss` bytes with contiguous sequence
  numbers; the last segment of a write carries PSH; the receiver sends a pure ACK after every second
  full segment (delayed ACK) and at the end of a write, unless its own next write carries the ACK;
- teardown: FIN/ACK from the closing side, FIN/ACK back, final ACK;
- valid IPv4 header and TCP checksums (IPv6 when the addresses are IPv6, ethertype 0x86dd);
- timestamps follow the recorded chunk times, pushed forward where needed so that every frame is at
  least `gap` after the previous one (the file formats keep microseconds).

Pure and deterministic: the same chunks, addresses and ports always give the same frames.
"""
from __future__ import annotations

import ipaddress
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .pair import CLIENT, SERVER, Chunk

__all__ = ["TCP_FIN", "TCP_SYN", "TCP_RST", "TCP_PSH", "TCP_ACK", "Frame", "synthesize", "checksum",
           "merge", "CLIENT_MAC", "SERVER_MAC"]

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
CLIENT_MAC = bytes.fromhex("020000000001")  # locally administered
SERVER_MAC = bytes.fromhex("020000000002")
WSCALE = 7
WINDOW = 512  # << WSCALE = 64 KiB
SYN_WINDOW = 65495

Frame = tuple[float, bytes]

_ETH = struct.Struct("!6s6sH")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIHHHH")


def checksum(data: bytes) -> int:
    """Internet checksum (RFC 1071) of `data`, padded to an even length."""
    if len(data) % 2:
        data += b"\0"
    # 2**16 == 1 (mod 0xFFFF): the one's-complement sum of the 16-bit words is the number mod 0xFFFF,
    # except that a nonzero input never sums to +0 in one's complement.
    s = int.from_bytes(data, "big") % 0xFFFF
    if s == 0 and any(data):
        s = 0xFFFF
    return ~s & 0xFFFF


@dataclass(slots=True)
class _Side:
    ip: bytes
    port: int
    mac: bytes
    seq: int  # next sequence number to send
    ip_id: int


def _isn(*parts: object) -> int:
    return zlib.crc32(repr(parts).encode()) & 0xFFFFFFFF


class _Builder:
    def __init__(self, ip_version: int, client: _Side, server: _Side) -> None:
        self.v6 = ip_version == 6
        self.sides = {CLIENT: client, SERVER: server}

    def frame(self, who: str, flags: int, payload: bytes = b"", options: bytes = b"",
              window: int = WINDOW) -> bytes:
        me = self.sides[who]
        peer = self.sides[SERVER if who == CLIENT else CLIENT]
        ack = peer.seq if flags & TCP_ACK else 0
        offset = (20 + len(options)) // 4
        tcp_len = 20 + len(options) + len(payload)
        header = _TCP.pack(me.port, peer.port, me.seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (offset << 12) | flags,
                           window, 0, 0) + options
        if self.v6:
            pseudo = me.ip + peer.ip + struct.pack("!I3xB", tcp_len, 6)
        else:
            pseudo = me.ip + peer.ip + struct.pack("!xBH", 6, tcp_len)
        csum = checksum(pseudo + header + payload)
        tcp = header[:16] + struct.pack("!H", csum) + header[18:] + payload
        if self.v6:
            ip = _IP6.pack(6 << 28, tcp_len, 6, 64, me.ip, peer.ip)
            eth_type = ETH_IPV6
        else:
            ip = _IP4.pack(0x45, 0, 20 + tcp_len, me.ip_id, 0x4000, 64, 6, 0, me.ip, peer.ip)
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            me.ip_id = (me.ip_id + 1) & 0xFFFF
            eth_type = ETH_IPV4
        me.seq = (me.seq + len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)) & 0xFFFFFFFF
        return _ETH.pack(peer.mac, me.mac, eth_type) + ip + tcp


def _syn_options(mss: int) -> bytes:
    # Linux order without timestamps: MSS, NOP, NOP, SACK permitted, NOP, window scale
    return struct.pack("!BBH", 2, 4, mss) + b"\x01\x01\x04\x02\x01" + struct.pack("!BBB", 3, 3, WSCALE)


def synthesize(chunks: Sequence[Chunk], *, client_ip: str = "127.0.0.1", server_ip: str | None = None,
               client_port: int = 50000, server_port: int = 443, mss: int = 1460, closer: str = CLIENT,
               gap: float = 0.000010, latency: float = 0.000030, client_isn: int | None = None,
               server_isn: int | None = None, start: float | None = None,
               client_mac: bytes = CLIENT_MAC, server_mac: bytes = SERVER_MAC) -> list[Frame]:
    """Frames of one TCP connection carrying `chunks` (see the module docstring).

    `gap` is the spacing of back-to-back segments and `latency` the delay before the peer's answer
    (SYN-ACK, ACKs). `start` is the time of the SYN (default: just before the first chunk).
    """
    if mss < 1:
        raise ValueError("mss must be positive")
    cip = ipaddress.ip_address(client_ip)
    sip = ipaddress.ip_address(server_ip or ("::1" if cip.version == 6 else "127.0.0.1"))
    if cip.version != sip.version:
        raise ValueError("client and server addresses must be the same IP version")
    if client_isn is None:
        client_isn = _isn(str(cip), client_port, str(sip), server_port, "client")
    if server_isn is None:
        server_isn = _isn(str(cip), client_port, str(sip), server_port, "server")
    client = _Side(cip.packed, client_port, client_mac, client_isn, _isn(client_port, "id") & 0xFFFF)
    server = _Side(sip.packed, server_port, server_mac, server_isn, _isn(server_port, "id") & 0xFFFF)
    b = _Builder(cip.version, client, server)
    frames: list[Frame] = []
    first = chunks[0].time if chunks else 0.0
    now = (start if start is not None else first - 3 * latency - gap)
    shift = 0.0

    def emit(ts: float, who: str, flags: int, payload: bytes = b"", **kw: object) -> float:
        nonlocal now
        ts = max(ts, now + gap if frames else ts)
        frames.append((ts, b.frame(who, flags, payload, **kw)))  # type: ignore[arg-type]
        now = ts
        return ts

    emit(now, CLIENT, TCP_SYN, options=_syn_options(mss), window=SYN_WINDOW)
    emit(now + latency, SERVER, TCP_SYN | TCP_ACK, options=_syn_options(mss), window=SYN_WINDOW)
    emit(now + latency, CLIENT, TCP_ACK)

    for i, chunk in enumerate(chunks):
        who = chunk.sender
        peer = SERVER if who == CLIENT else CLIENT
        target = chunk.time + shift
        if target < now + latency:
            shift += now + latency - target
            target = now + latency
        data = chunk.data
        n = max(1, -(-len(data) // mss))
        nxt = chunks[i + 1].sender if i + 1 < len(chunks) else closer
        for k in range(n):
            seg = data[k * mss:(k + 1) * mss]
            last = k == n - 1
            emit(target if k == 0 else now + gap, who, TCP_ACK | (TCP_PSH if last else 0), seg)
            if (not last and k % 2 == 1) or (last and nxt != peer):
                emit(now + latency, peer, TCP_ACK)

    # teardown
    other = SERVER if closer == CLIENT else CLIENT
    emit(now + latency, closer, TCP_FIN | TCP_ACK)
    emit(now + latency, other, TCP_FIN | TCP_ACK)
    emit(now + latency, closer, TCP_ACK)
    return frames


def merge(*connections: Iterable[Frame]) -> list[Frame]:
    """Frames of several connections in one time-ordered list (stable for equal times)."""
    out = [f for conn in connections for f in conn]
    out.sort(key=lambda f: f[0])
    return out
