"""Link types of captures made on other systems: BSD and macOS (PPP, pflog, enc, PKTAP), routers (Cisco HDLC),
PPPoE without Ethernet, 802.11 behind PPI, Prism and AVS radio headers, and Linux's NFLOG. Real captures' packets
are re-framed as each link type records them (IPv4 and IPv6); the analysis must be that of the original capture,
and tshark must read the re-framed file the same way. samples/real/nflog-tls13.pcap is an NFLOG capture the Linux
kernel wrote (make_nflog_capture.sh), checked against tshark too."""
from __future__ import annotations

import struct
import subprocess

import pytest

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.net.decode import decode_frame, unwrap
from tests.conftest import SAMPLES, analyze, needs_tshark, plaintext, tshark_follow

REAL = SAMPLES / "real"
CAPTURES = {"v4": (REAL / "openssl-tls13.pcap", REAL / "openssl-tls13.keys"),
            "v6": (REAL / "openssl-tls13-ipv6.pcap", REAL / "openssl-tls13-ipv6.keys")}
AP = bytes.fromhex("02000000aa01")
SNAP = bytes.fromhex("aaaa03000000")


def _ppp(ip: bytes, v6: bool) -> bytes:
    return b"\xff\x03" + (b"\x00\x57" if v6 else b"\x00\x21") + ip


def _pppoe(ip: bytes, v6: bool) -> bytes:
    return struct.pack("!BBHH", 0x11, 0, 0x2a, len(ip) + 2) + (b"\x00\x57" if v6 else b"\x00\x21") + ip


def _c_hdlc(ip: bytes, v6: bool) -> bytes:
    return b"\x0f\x00" + (b"\x86\xdd" if v6 else b"\x08\x00") + ip


def _enc(ip: bytes, v6: bool) -> bytes:  # af (host order), SPI, flags
    return struct.pack("<I", 24 if v6 else 2) + struct.pack("!II", 0x1000, 0) + ip


def _pflog(ip: bytes, v6: bool) -> bytes:
    """OpenBSD's pfloghdr: 61 bytes (its length in the first byte), padded to 64."""
    head = struct.pack("!BBBB16s16sIIIIIIB", 61, 24 if v6 else 2, 0, 0, b"em0", b"", 3, 0xFFFFFFFF,
                       0xFFFFFFFF, 0xFFFFFFFF, 0, 0, 1)
    return head + bytes(3) + ip


def _nflog(ip: bytes, v6: bool) -> bytes:
    """An NFLOG record as Linux writes it on x86: the header, NFULA_PACKET_HDR, NFULA_PREFIX, NFULA_PAYLOAD."""
    def tlv(kind: int, value: bytes) -> bytes:
        raw = struct.pack("<HH", 4 + len(value), kind) + value
        return raw + bytes(-len(raw) % 4)
    return (struct.pack("!BBH", 10 if v6 else 2, 0, 5) + tlv(1, struct.pack("!HBx", 0x86DD if v6 else 0x0800, 3))
            + tlv(10, b"tls\x00") + tlv(9, ip))


def _pktap(eth: bytes) -> bytes:
    """macOS's pktap_header (108 bytes): length, next type 1 (a packet), link type 1 (Ethernet), interface, process."""
    head = struct.pack("<III24sIIII i17s3xIHHi17s3x", 108, 1, 1, b"en0", 0, 2, 0, 0, 4242, b"curl", 0, 6, 0,
                       4242, b"curl")
    assert len(head) == 108
    return head + eth


def _ppi(eth: bytes) -> bytes:
    return struct.pack("<BBHI", 0, 0, 8, 1) + eth


def _wlan(eth: bytes, from_server: bool) -> bytes:
    """The Ethernet frame as an 802.11 data frame between a station and its access point (FromDS / ToDS)."""
    dst, src = eth[0:6], eth[6:12]
    fc, addrs = (b"\x08\x02", dst + AP + src) if from_server else (b"\x08\x01", AP + src + dst)
    return fc + bytes(2) + addrs + bytes(2) + SNAP + eth[12:14] + eth[14:]


def _prism(frame: bytes) -> bytes:
    return struct.pack("<II16s", 0x41, 144, b"wlan0") + bytes(120) + frame


def _avs(frame: bytes) -> bytes:
    return struct.pack("!II", 0x80211001, 64) + bytes(56) + frame


IP_FRAMERS = {9: _ppp, 50: _ppp, 51: _pppoe, 104: _c_hdlc, 109: _enc, 117: _pflog, 239: _nflog}
ETH_FRAMERS = {258: _pktap, 192: _ppi}
WLAN_FRAMERS = {119: _prism, 163: _avs}
LINKTYPES = sorted([*IP_FRAMERS, *ETH_FRAMERS, *WLAN_FRAMERS])


def _reframe(name: str, linktype: int, path) -> None:
    capture = CAPTURES[name][0]
    with open_capture(str(capture)) as cap:
        rows = [(ts, bytes(frame)) for ts, _, frame in cap]
    server_mac = rows[1][1][6:12]  # the SYN-ACK's sender
    with open(path, "wb") as out:
        w = PcapWriter(out, linktype)
        for ts, eth in rows:
            if linktype in IP_FRAMERS:
                frame = IP_FRAMERS[linktype](eth[14:], name == "v6")
            elif linktype in ETH_FRAMERS:
                frame = ETH_FRAMERS[linktype](eth)
            else:
                frame = WLAN_FRAMERS[linktype](_wlan(eth, eth[6:12] == server_mac))
            w.write(ts, frame)


def _essentials(s: dict) -> tuple:
    return ([(m["from"], m["type"]) for m in s["messages"]], s["client"], s["server"], s["version"],
            s["cipher_suite"], s["decryption"], s.get("app_data"))


@pytest.mark.parametrize("linktype", LINKTYPES)
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_a_capture_of_another_link_type_reads_like_the_ethernet_one(name, linktype, tmp_path):
    capture, keys = CAPTURES[name]
    _reframe(name, linktype, tmp_path / "x.pcap")
    want = analyze([capture], keylogs=[str(keys)])
    got = analyze([tmp_path / "x.pcap"], keylogs=[str(keys)])
    assert [_essentials(s) for s in got] == [_essentials(s) for s in want]
    assert want and want[0]["decryption"]["status"] == "decrypted"


@needs_tshark
@pytest.mark.parametrize("linktype", LINKTYPES)
def test_tshark_reads_the_reframed_capture_as_we_do(linktype, tmp_path):
    _reframe("v6", linktype, tmp_path / "x.pcap")

    def handshake_types(path) -> list[str]:
        out = subprocess.run(["tshark", "-r", str(path), "-Y", "tls.handshake", "-T", "fields", "-e",
                              "tls.handshake.type"], capture_output=True, text=True, timeout=60, check=True).stdout
        return out.split()

    assert handshake_types(tmp_path / "x.pcap") == handshake_types(CAPTURES["v6"][0]) != []


def test_nflog_in_big_endian_and_records_without_a_payload():
    ip = bytes.fromhex("4500002800010000400600000a0000010a000002") + struct.pack("!HHIIBBHHH", 1, 443, 5, 0, 0x50,
                                                                                    0x02, 1024, 0, 0)
    record = _nflog(ip, False)
    swapped = bytearray(record)
    pos = 4
    while pos < len(swapped):  # the same record as a big-endian host writes it
        length, kind = struct.unpack_from("<HH", swapped, pos)
        struct.pack_into(">HH", swapped, pos, length, kind)
        pos += (length + 3) & ~3
    for frame in (record, bytes(swapped)):
        seg = decode_frame(239, frame)
        assert seg is not None and (seg.sport, seg.dport, seg.flags) == (1, 443, 0x02)
    assert decode_frame(239, record[:-len(ip) - 4]) is None  # no NFULA_PAYLOAD: nothing to read
    assert decode_frame(239, record[:6]) is None  # a TLV cut short


def test_damaged_wrappers_are_skipped_not_raised():
    assert unwrap(258, memoryview(struct.pack("<III", 2000, 1, 1) + bytes(20))) is None  # longer than the frame
    assert unwrap(258, memoryview(struct.pack("<III", 12, 2, 1) + bytes(20))) is None  # not a packet
    assert unwrap(192, memoryview(struct.pack("<BBHI", 1, 0, 8, 1) + bytes(20))) is None  # PPI version 1
    assert decode_frame(258, bytes(5)) is None and decode_frame(163, bytes(7)) is None
    assert decode_frame(117, b"") is None and decode_frame(9, b"\xff\x03\xc0\x21") is None  # LCP, not IP


NFLOG = (REAL / "nflog-tls13.pcap", REAL / "nflog-tls13.keys")


def test_a_real_nflog_capture_decrypts():
    # IPv4, then IPv6, logged by an nftables rule to group 5 and read with `tcpdump -i nflog:5`
    sessions = analyze([NFLOG[0]], keylogs=[str(NFLOG[1])])
    assert [(s["client"].rsplit(":", 1)[0], s["server"].rsplit(":", 1)[1]) for s in sessions] == [
        ("127.0.0.1", "4433"), ("[::1]", "4433")]
    for s in sessions:
        assert s["decryption"] == {"status": "decrypted", "detail": ""} and not s.get("anomalies")
        assert [e["event"] for e in s["tcp"]][:3] == ["SYN", "SYN-ACK", "ESTABLISHED"]
    data = plaintext([NFLOG[0]], keylogs=[NFLOG[1]])
    assert data[(0, "client")].startswith(b"GET / HTTP/1.1\r\nHost: nflog.example.test")
    assert data[(1, "server")].endswith(b"\r\n\r\nlogged by netfilter\n")


@needs_tshark
def test_the_real_nflog_capture_decrypts_as_tshark_decrypts_it():
    sessions = analyze([NFLOG[0]], keylogs=[str(NFLOG[1])])
    data = plaintext([NFLOG[0]], keylogs=[NFLOG[1]])
    for i, s in enumerate(sessions):
        assert tshark_follow(NFLOG[0], i, s["client"], NFLOG[1]) == (data[(i, "client")], data[(i, "server")])


def _pktap_named(eth: bytes, pid: int, name: bytes, epid: int, ename: bytes) -> bytes:
    head = struct.pack("<III24sIIII i17s3xIHHi17s3x", 108, 1, 1, b"en0", 0, 2, 0, 0, pid, name, 0, 6, 0, epid, ename)
    return head + eth


def test_a_pktap_capture_names_each_sessions_process(tmp_path):
    # macOS PKTAP headers name the process of each packet (and the app a daemon acts for): the session says it,
    # as tshark reads it (pktap.pid, pktap.cmdname, pktap.epid, pktap.ecmdname)
    from dissector.output.explain import explain_session

    _reframe("v4", 258, tmp_path / "p.pcap")
    [s] = analyze([tmp_path / "p.pcap"], keylogs=[str(CAPTURES["v4"][1])])
    assert s["process"] == {"pid": 4242, "name": "curl"}
    assert "The capture names the local process: curl (pid 4242) (macOS PKTAP)." in explain_session(s)
    from dissector.output.timeline import render_svg, session_timeline

    tl = session_timeline(s)
    assert tl["process"] == {"pid": 4242, "name": "curl"} and "curl (pid 4242)" in render_svg(tl)
    with open_capture(str(CAPTURES["v4"][0])) as cap:
        rows = [(ts, bytes(f)) for ts, _, f in cap]
    with open(tmp_path / "d.pcap", "wb") as out:
        w = PcapWriter(out, 258)
        for i, (ts, eth) in enumerate(rows):  # the first packets name no process (pid -1): a later one does
            named = i >= 2
            w.write(ts, _pktap_named(eth, 99 if named else -1, b"nsurlsessiond" if named else b"",
                                     501 if named else -1, b"Safari" if named else b""))
    [s] = analyze([tmp_path / "d.pcap"], keylogs=[str(CAPTURES["v4"][1])])
    assert s["process"] == {"pid": 99, "name": "nsurlsessiond", "effective_pid": 501, "effective_name": "Safari"}
    assert s["decryption"]["status"] == "decrypted"


@needs_tshark
def test_tshark_reads_the_same_process_from_pktap(tmp_path):
    _reframe("v4", 258, tmp_path / "p.pcap")
    out = subprocess.run(["tshark", "-r", str(tmp_path / "p.pcap"), "-T", "fields", "-e", "pktap.pid", "-e",
                          "pktap.cmdname"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert set(out.splitlines()) == {"4242\tcurl"}
