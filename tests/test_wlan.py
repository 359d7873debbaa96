"""802.11 monitor-mode captures (link types 105 and 127, radiotap): the unprotected data frames of an open network
carry IP, and a WPA-Enterprise network's 802.1X exchange (EAPOL, before any key exists) carries EAP-TLS in the
clear. Real captures' frames are re-framed as 802.11 QoS data frames between a station and an access point (the
way a monitor interface records them), among a beacon, a null frame and a protected frame that must be skipped;
the analysis must be that of the original capture, and tshark must read the re-framed file the same way."""
from __future__ import annotations

import struct
import subprocess

import pytest

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from tests.conftest import SAMPLES, analyze, needs_tshark

AP = bytes.fromhex("02000000aa01")
RADIOTAP = bytes([0, 0, 8, 0, 0, 0, 0, 0])  # version 0, length 8, no fields
SNAP = bytes.fromhex("aaaa03000000")
BEACON = bytes.fromhex("8000") + bytes(2) + b"\xff" * 6 + AP + AP + bytes(2) + bytes(12) + b"\x00\x04test"
CASES = {  # capture -> key option, and the MAC address of the access point's side of each frame
    "eapol": (SAMPLES / "real" / "eap" / "eapol-eap-tls12-rsa.pcap",
              {"key_specs": [str(SAMPLES / "real" / "eap" / "eap-server.key.pem")]}),
    "tcp": (SAMPLES / "real" / "openssl-tls12-rsa.pcap", {"keylogs": [str(SAMPLES / "real" / "openssl-tls12-rsa.keys")]}),
}


def _from_ap(name: str, eth: bytes) -> bool:
    if name == "eapol":
        return eth[6:12] == bytes.fromhex("0200008e0001")  # hostapd's side, the authenticator
    return struct.unpack_from("!H", eth, 34)[0] in (443, 4433)  # the TLS server's side


def _as_wlan(name: str, eth: bytes, linktype: int, seq: int) -> bytes:
    """An Ethernet frame as the 802.11 QoS data frame a monitor interface records (FromDS from the AP, ToDS to it)."""
    dst, src, etype, payload = eth[0:6], eth[6:12], eth[12:14], eth[14:]
    if _from_ap(name, eth):
        fc, addrs = bytes([0x88, 0x02]), dst + AP + src
    else:
        fc, addrs = bytes([0x88, 0x01]), AP + src + dst
    frame = fc + bytes(2) + addrs + struct.pack("<H", seq << 4) + bytes(2) + SNAP + etype + payload
    return RADIOTAP + frame if linktype == 127 else frame


def _rewrite(name: str, path, linktype: int) -> None:
    capture = CASES[name][0]
    with open_capture(str(capture)) as cap:
        rows = [(ts, bytes(f)) for ts, _, f in cap]
    noise = [bytes.fromhex("4801") + bytes(2) + AP + bytes(6) + AP + bytes(2),  # a null function frame, to the AP
             bytes.fromhex("8842") + bytes(2) + bytes(6) + AP + bytes(6) + bytes(4) + SNAP + b"\x08\x00" + bytes(40)]
    with open(path, "wb") as out:
        w = PcapWriter(out, linktype)
        for i, (ts, frame) in enumerate(rows):
            if i % 3 == 0:  # a beacon, and a null or a protected frame, between the real frames
                for extra in (BEACON, noise[i % 2]):
                    w.write(ts, RADIOTAP + extra if linktype == 127 else extra)
            w.write(ts, _as_wlan(name, frame, linktype, i))


def _essentials(s: dict) -> tuple:
    return ([(m["from"], m["type"]) for m in s["messages"]], s["version"], s["cipher_suite"], s["decryption"],
            s.get("app_data"), s.get("eap"))


@pytest.mark.parametrize("linktype", [105, 127])
@pytest.mark.parametrize("name", sorted(CASES))
def test_an_802_11_capture_reads_like_the_wired_one(name, linktype, tmp_path):
    capture, keys = CASES[name]
    _rewrite(name, tmp_path / "wlan.pcap", linktype)
    want = analyze([capture], **keys)
    got = analyze([tmp_path / "wlan.pcap"], **keys)
    assert [_essentials(s) for s in got] == [_essentials(s) for s in want] and want
    assert want[0]["decryption"]["status"] == "decrypted"


@needs_tshark
@pytest.mark.parametrize("name", sorted(CASES))
def test_tshark_reads_the_802_11_capture_as_we_do(name, tmp_path):
    _rewrite(name, tmp_path / "wlan.pcap", 127)

    def handshake_types(path) -> list[str]:
        out = subprocess.run(["tshark", "-r", str(path), "-Y", "tls.handshake", "-T", "fields", "-e",
                              "tls.handshake.type"], capture_output=True, text=True, timeout=60, check=True).stdout
        return out.split()

    assert handshake_types(tmp_path / "wlan.pcap") == handshake_types(CASES[name][0]) != []


def test_unsupported_link_types_are_still_refused(tmp_path):
    with open(tmp_path / "x.pcap", "wb") as out:
        PcapWriter(out, 147).write(0.0, bytes(64))  # LINKTYPE_USER0: private, not read
    proc = subprocess.run(["python", "-m", "dissector", "analyze", str(tmp_path / "x.pcap")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3 and "link type is not supported" in proc.stderr and "IEEE 802.11" in proc.stderr
