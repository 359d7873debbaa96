"""Tunnels: a real TLS capture seen through VXLAN, Geneve, GRE (IP, Ethernet, ERSPAN II/III), IP in IP,
GTP-U, TZSP, MPLS and PPPoE must read exactly as the capture itself: the same sessions, messages and decrypted
bytes; and tshark must find the same handshake messages in each.

The encapsulations are built here around every frame of samples/real/openssl-tls12-ecdhe.pcap (real
OpenSSL peers), following each format's RFC; samples/real/openssl-tls13-vxlan.pcap is a real one, made by
the Linux kernel's VXLAN driver (samples/real/make_real_captures.sh).
"""
from __future__ import annotations

import struct
import subprocess

import pytest

from tests.conftest import SAMPLES, analyze, message_list, needs_tshark

REAL = SAMPLES / "real"
INNER = REAL / "openssl-tls12-ecdhe.pcap"
OUTER_SRC, OUTER_DST = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"


def _ipv4(proto: int, payload: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, OUTER_SRC, OUTER_DST) + payload


def _ipv6(nxt: int, payload: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, b"\xfd" + b"\0" * 14 + b"\1",
                       b"\xfd" + b"\0" * 14 + b"\2") + payload


def _udp(dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", 49152, dport, 8 + len(payload), 0) + payload


def _eth(etype: int, payload: bytes) -> bytes:
    return MAC + struct.pack("!H", etype) + payload


def _gre(ptype: int, payload: bytes, key: bool = False, seq: bool = False, csum: bool = False) -> bytes:
    flags = (0x80 if csum else 0) | (0x20 if key else 0) | (0x10 if seq else 0)
    extra = (b"\0\0\0\0" if csum else b"") + (b"\0\0\0\x2a" if key else b"") + (b"\0\0\0\x07" if seq else b"")
    return struct.pack("!BBH", flags, 0, ptype) + extra + payload


def _gtp(ip: bytes, extensions: bool = False) -> bytes:
    """A GTP-U G-PDU (TS 29.281): TEID 0x2a; with `extensions`, the sequence number and a PDU Session Container
    extension header (what a 5G user plane sends), which ends the chain."""
    if not extensions:
        return struct.pack("!BBHI", 0x30, 0xFF, len(ip), 0x2A) + ip
    rest = struct.pack("!HBB", 7, 0, 0x85) + bytes([1, 0x10, 0x09, 0]) + ip
    return struct.pack("!BBHI", 0x36, 0xFF, len(rest), 0x2A) + rest


# name -> how one inner Ethernet frame travels (the result is an outer Ethernet frame)
WRAPS = {
    "vxlan": lambda f: _eth(0x0800, _ipv4(17, _udp(4789, b"\x08\0\0\0\0\0\x2a\0" + f))),
    "vxlan-over-ipv6": lambda f: _eth(0x86DD, _ipv6(17, _udp(4789, b"\x08\0\0\0\0\0\x2a\0" + f))),
    "geneve-ethernet-with-options": lambda f: _eth(0x0800, _ipv4(17, _udp(6081, bytes([0x02, 0]) + b"\x65\x58"
                                                                          + b"\0\0\x2a\0" + b"\x01" * 8 + f))),
    "geneve-ip": lambda f: _eth(0x0800, _ipv4(17, _udp(6081, b"\0\0\x08\x00\0\0\x2a\0" + f[14:]))),
    "gre-ip": lambda f: _eth(0x0800, _ipv4(47, _gre(0x0800, f[14:]))),
    "gre-ip-key-seq-csum": lambda f: _eth(0x0800, _ipv4(47, _gre(0x0800, f[14:], key=True, seq=True, csum=True))),
    "gretap": lambda f: _eth(0x0800, _ipv4(47, _gre(0x6558, f, key=True))),
    "erspan-1": lambda f: _eth(0x0800, _ipv4(47, _gre(0x88BE, f))),
    "erspan-2": lambda f: _eth(0x0800, _ipv4(47, _gre(0x88BE, b"\x10\x01\0\x05\0\0\0\x09" + f, seq=True))),
    "erspan-3": lambda f: _eth(0x0800, _ipv4(47, _gre(0x22EB, b"\x20\x01\0\x05" + b"\0" * 7 + b"\x00" + f,
                                                       seq=True))),
    "erspan-3-subheader": lambda f: _eth(0x0800, _ipv4(47, _gre(0x22EB, b"\x20\x01\0\x05" + b"\0" * 7 + b"\x01"
                                                                 + b"\0" * 8 + f, seq=True))),
    "ip-in-ip": lambda f: _eth(0x0800, _ipv4(4, f[14:])),
    "ipv4-in-ipv6": lambda f: _eth(0x86DD, _ipv6(4, f[14:])),
    "mpls-two-labels": lambda f: _eth(0x8847, b"\x00\x01\x00\x40" + b"\x00\x02\x01\x40" + f[14:]),
    "pppoe": lambda f: _eth(0x8864, b"\x11\x00\x00\x2a" + struct.pack("!H", len(f) - 12) + b"\x00\x21" + f[14:]),
    "vlan-then-mpls": lambda f: _eth(0x8100, b"\x00\x64\x88\x47" + b"\x00\x01\x01\x40" + f[14:]),
    "vxlan-in-gre": lambda f: _eth(0x0800, _ipv4(47, _gre(0x0800, _ipv4(17, _udp(4789, b"\x08\0\0\0\0\0\x2a\0"
                                                                                 + f))))),
    "gtp-u": lambda f: _eth(0x0800, _ipv4(17, _udp(2152, _gtp(f[14:])))),
    "gtp-u-extension-headers": lambda f: _eth(0x0800, _ipv4(17, _udp(2152, _gtp(f[14:], extensions=True)))),
    "gtp-u-over-ipv6": lambda f: _eth(0x86DD, _ipv6(17, _udp(2152, _gtp(f[14:])))),
    "tzsp": lambda f: _eth(0x0800, _ipv4(17, _udp(37008, b"\x01\x00\x00\x01\x01" + f))),
    "tzsp-tagged": lambda f: _eth(0x0800, _ipv4(17, _udp(37008, b"\x01\x00\x00\x01" + b"\x00\x0a\x01\x06"
                                                         + b"\x28\x04\x00\x00\x00\x07" + b"\x01" + f))),
}


def _rewrap(src, dst, wrap) -> None:
    data = src.read_bytes()
    out = [data[:24]]
    pos = 24
    while pos + 16 <= len(data):
        ts_s, ts_us, caplen, _ = struct.unpack_from("<IIII", data, pos)
        frame = wrap(data[pos + 16:pos + 16 + caplen])
        out.append(struct.pack("<IIII", ts_s, ts_us, len(frame), len(frame)) + frame)
        pos += 16 + caplen
    dst.write_bytes(b"".join(out))


def _summary(sessions: list[dict]) -> list[tuple]:
    return [(s["client"], s["server"], s["version"], s["cipher_suite"], s["decryption"]["status"],
             tuple(message_list(s["messages"])), str(s["app_data"])) for s in sessions]


@pytest.mark.parametrize("name", WRAPS)
def test_a_tunnelled_capture_reads_as_the_capture_itself(name, tmp_path):
    assert INNER.read_bytes()[20:24] == b"\x01\0\0\0"  # Ethernet, little-endian pcap: what _rewrap expects
    wrapped = tmp_path / f"{name}.pcap"
    _rewrap(INNER, wrapped, WRAPS[name])
    keys = [REAL / "openssl-tls12-ecdhe.keys"]
    want = _summary(analyze([INNER], keylogs=keys))
    assert want and want[0][4] == "decrypted"
    assert _summary(analyze([wrapped], keylogs=keys)) == want


def _tshark_handshakes(path) -> list[str]:
    return subprocess.run(["tshark", "-r", str(path), "-Y", "tls.handshake", "-T", "fields", "-e",
                           "tls.handshake.type"], capture_output=True, text=True, timeout=60, check=True).stdout.split()


@needs_tshark
@pytest.mark.parametrize("name", WRAPS)
def test_tshark_opens_the_tunnel_as_we_do(name, tmp_path):
    wrapped = tmp_path / f"{name}.pcap"
    _rewrap(INNER, wrapped, WRAPS[name])
    assert _tshark_handshakes(wrapped) == _tshark_handshakes(INNER) != []


def test_gtp_u_signalling_and_damaged_tunnel_headers_are_skipped():
    from dissector.net.decode import decode_tcp

    def opened(dport: int, payload: bytes) -> bool:  # (the outer datagram itself may still come back, as any UDP)
        seg = decode_tcp(1, _eth(0x0800, _ipv4(17, _udp(dport, payload))))
        return seg is not None and seg[4] != dport

    inner = bytes.fromhex("450000280001000040060000c0a80001c0a8000201bb0050000000010000000050021000" "00000000")
    assert opened(2152, _gtp(inner)) and opened(2152, _gtp(inner, extensions=True))
    assert opened(37008, b"\x01\x00\x00\x01\x01" + bytes(12) + b"\x08\x00" + inner)
    echo = struct.pack("!BBHIHBB", 0x32, 1, 4, 0, 1, 0, 0)  # Echo Request: no packet inside
    assert not opened(2152, echo)
    assert not opened(2152, _gtp(inner, extensions=True)[:14])  # the extension chain runs past the datagram
    looping = struct.pack("!BBHIHBB", 0x34, 0xFF, 8, 0, 0, 0, 0x85) + b"\x00\x00\x00\x85"  # a zero length
    assert not opened(2152, looping)
    assert not opened(37008, b"\x01\x00\x00\x01\x05")  # no end tag
    assert not opened(37008, b"\x01\x04\x00\x01\x01" + bytes(60))  # a keepalive, not a frame


def test_tunnels_nest_only_so_deep(tmp_path):
    from dissector.net.decode import MAX_TUNNEL_DEPTH, decode_tcp

    frame = INNER.read_bytes()[24 + 16:]  # the first frame: the SYN
    frame = frame[:struct.unpack_from("<I", INNER.read_bytes(), 24 + 8)[0]]
    assert decode_tcp(1, frame) is not None
    for _ in range(MAX_TUNNEL_DEPTH):
        frame = WRAPS["gretap"](frame)
    assert decode_tcp(1, frame) is not None
    assert decode_tcp(1, WRAPS["gretap"](frame)) is None  # one more level is ignored, not recursed into


def test_plain_udp_and_unknown_gre_are_not_tunnels():
    from dissector.net.decode import decode_tcp

    assert decode_tcp(1, _eth(0x0800, _ipv4(17, _udp(53, b"\0" * 40)))) is None
    assert decode_tcp(1, _eth(0x0800, _ipv4(47, _gre(0x880B, b"\0" * 40)))) is None  # PPP in GRE: not opened
    assert decode_tcp(1, _eth(0x0800, _ipv4(47, b"\x00\x01\x08\x00" + b"\0" * 40))) is None  # GRE version 1
