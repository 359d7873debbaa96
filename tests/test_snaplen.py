"""Captures whose snapshot length cut packets short (tcpdump -s 1500, Wireshark's packet size limit).

The captured part of each such packet is used, the rest of it becomes a TCP gap at once (so later segments are
not held back behind a hole), the session says its packets were cut, and a decryption that stops at such a gap
is not blamed on the key material.
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.net.decode import SNAPPED, SNAPPED_SHIFT, decode_tcp
from dissector.net.tcp import TCPDirection
from tests.conftest import SAMPLES, analyze, needs_tshark, tcp_frame

REAL = SAMPLES / "real"
LARGE = REAL / "openssl-tls13-large.pcap"  # OpenSSL over a veth with MTU 1500: full-size frames of 1514 bytes
LARGE_KEYS = REAL / "openssl-tls13-large.keys"


def _snap(src, dst, snaplen: int) -> int:
    """Copy a pcap with a snapshot length; returns how many frames it cut."""
    cut = 0
    with open_capture(str(src)) as cap, open(dst, "wb") as f:
        w = PcapWriter(f, snaplen=snaplen)
        for ts, _linktype, frame in cap:
            cut += len(frame) > snaplen
            w.write(ts, bytes(frame))
    return cut


def test_decode_marks_a_cut_segment_with_the_bytes_it_lacks():
    frame = tcp_frame(40000, 443, 1000, 0x18, b"x" * 100)
    whole = decode_tcp(101, frame)
    assert not whole[7] & SNAPPED and bytes(whole[8]) == b"x" * 100
    cut = decode_tcp(101, frame[:-30])  # raw IPv4
    assert cut[7] & SNAPPED and cut[7] >> SNAPPED_SHIFT == 30 and cut[7] & 0xFF == 0x18 and len(cut[8]) == 70
    eth = b"\x00\x01" * 3 + b"\x00\x02" * 3 + b"\x08\x00" + frame
    cut = decode_tcp(1, eth[:-30])  # the Ethernet fast path
    assert cut[7] >> SNAPPED_SHIFT == 30 and len(cut[8]) == 70
    tcp = frame[20:]
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, b"\0" * 15 + b"\1", b"\0" * 15 + b"\2") + tcp
    cut = decode_tcp(101, ip6[:-30])  # IPv6 (the general path)
    assert cut[7] >> SNAPPED_SHIFT == 30 and len(cut[8]) == 70


def test_tcp_cut_skips_the_missing_bytes_as_a_gap_only_when_they_come_next():
    d = TCPDirection()
    d.syn(999)
    assert d.feed(1000, b"a" * 70) == [b"a" * 70]
    assert d.cut(1070, 30) == [30]
    assert d.feed(1100, b"b" * 10) == [b"b" * 10]  # in order: not held back behind a hole
    assert d.cut(1070, 30) == []  # not the next bytes (a retransmission of the cut segment)
    assert d.gap_bytes == 30


def test_capture_cut_to_1500_bytes(tmp_path):
    snapped = tmp_path / "snap1500.pcap"
    cut = _snap(LARGE, snapped, 1500)
    assert cut > 20
    [whole] = analyze([str(LARGE)], keylogs=[str(LARGE_KEYS)])
    [doc] = analyze([str(snapped)], keylogs=[str(LARGE_KEYS)])
    assert [a["name"] for a in doc["anomalies"]].count("snapped_packet") == 1
    gaps = [t for t in doc["tcp"] if t["event"] == "GAP"]
    assert gaps and all(g["missing"] == 14 for g in gaps)  # each full-size frame lost its last 14 bytes
    # decryption went as far as the cut allows; its failure names the missing bytes and the snapshot length,
    # and does not blame the keys (records before and after the gaps decrypted)
    detail = doc["decryption"]["detail"]
    assert doc["decryption"]["status"] == "failed"
    assert "went missing from the capture" in detail and "the key material is right" in detail
    assert "snapshot length" in detail and "does not match" not in detail
    # the Certificate was in a cut segment: the note says so (not "the handshake could not be decrypted")
    assert "went missing from the capture" in doc["certificates"]["note"]
    # what could be decrypted is listed at the time it was sent (not when later ACKs gave the holes up)
    times = {(m["from"], m["type"]): m["time"] for m in whole["messages"]}
    seen = [(m["from"], m["type"], m["time"]) for m in doc["messages"] if (m["from"], m["type"]) in times]
    assert ("server", "CertificateVerify") in {(f, t) for f, t, _ in seen}
    assert all(ts == times[(f, t)] for f, t, ts in seen if t != "NewSessionTicket")


def test_cli_warns_and_counts_the_cut_packets(tmp_path):
    snapped = tmp_path / "snap.pcap"
    cut = _snap(LARGE, snapped, 1500)
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(snapped), "-f", "json", "-q"],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["summary"]["snapped_packets"] == cut
    assert proc.stderr.decode().count("\n") == 1 and f"{cut} packet(s) cut short" in proc.stderr.decode()
    table = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(snapped), "-q"], capture_output=True,
                           timeout=120).stdout.decode()
    assert "cut short by the capture's snapshot length" in table


@needs_tshark
def test_cut_packets_counted_as_tshark_counts_them(tmp_path):
    snapped = tmp_path / "snap.pcap"
    _snap(REAL / "openssl-tls12-rsa.pcap", snapped, 1200)
    tshark = subprocess.run(["tshark", "-r", str(snapped), "-Y", "frame.cap_len < frame.len && tcp"],
                            capture_output=True, timeout=120).stdout.decode().strip().splitlines()
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(snapped), "-f", "json", "-q"],
                          capture_output=True, timeout=120)
    assert tshark and json.loads(proc.stdout)["summary"]["snapped_packets"] == len(tshark)


def test_capture_cut_inside_the_handshake(tmp_path):
    """-s 120 keeps 66 bytes of each segment: the hellos are cut, so nothing can be matched to a key, and the
    session says why; the closing alerts, whose ChangeCipherSpec was cut, are encrypted alerts (not 26 alerts
    read from ciphertext)."""
    snapped = tmp_path / "snap120.pcap"
    _snap(SAMPLES / "tls12-rsa-aes128-cbc.pcap", snapped, 120)
    [doc] = analyze([str(snapped)], key_specs=[str(SAMPLES / "tls12-rsa-aes128-cbc.key.pem")])
    alerts = [m for m in doc["messages"] if m["type"] == "Alert"]
    assert [(m["from"], m.get("encrypted")) for m in alerts] == [("client", True), ("server", True)]
    assert doc["decryption"]["status"] == "no-key" and "snapshot length" in doc["decryption"]["detail"]


@needs_tshark
def test_encrypted_alerts_of_a_cut_capture_as_tshark_reads_them(tmp_path):
    snapped = tmp_path / "snap120.pcap"
    _snap(SAMPLES / "tls12-rsa-aes128-cbc.pcap", snapped, 120)
    tshark = subprocess.run(["tshark", "-r", str(snapped), "-T", "fields", "-e", "_ws.col.Info"], capture_output=True,
                            timeout=120).stdout.decode()
    [doc] = analyze([str(snapped)])
    ours = sum(1 for m in doc["messages"] if m["type"] == "Alert" and m.get("encrypted"))
    assert ours == tshark.count("Encrypted Alert") == 2


@needs_tshark
def test_cut_dtls_datagrams_are_counted_too(tmp_path):
    snapped = tmp_path / "dtls.pcap"
    cut = _snap(REAL / "dtls" / "openssl-dtls12-ecdhe.pcap", snapped, 300)
    tshark = subprocess.run(["tshark", "-r", str(snapped), "-Y", "frame.cap_len < frame.len && udp"],
                            capture_output=True, timeout=120).stdout.decode().strip().splitlines()
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(snapped), "-f", "json", "-q"],
                          capture_output=True, timeout=120)
    assert cut and json.loads(proc.stdout)["summary"]["snapped_packets"] == len(tshark) == cut


def test_a_finished_whose_handshake_was_cut_is_unverifiable_not_a_key_failure(tmp_path):
    """DTLS datagrams cut at 300 bytes lose the Certificate and ServerKeyExchange: the records still decrypt and
    authenticate, so the keys are right; the Finished cannot be checked against an incomplete transcript, which
    is an anomaly, not a wrong key."""
    snapped = tmp_path / "dtls.pcap"
    _snap(REAL / "dtls" / "openssl-dtls12-ecdhe.pcap", snapped, 300)
    [doc] = analyze([str(snapped)], keylogs=[str(REAL / "dtls" / "openssl-dtls12-ecdhe.keys")])
    assert doc["decryption"]["status"] == "decrypted"
    assert doc["app_data"]["client"]["bytes"] > 0 and doc["app_data"]["server"]["bytes"] > 0
    unverifiable = [a for a in doc["anomalies"] if a["name"] == "finished_unverifiable"]
    assert unverifiable and "snapshot length" in unverifiable[0]["detail"]


def test_a_finished_that_does_not_match_a_complete_transcript_still_fails(tmp_path):
    """The other side of the rule above: no bytes missing, a transcript that differs (one byte of the server's
    certificate signature flipped on the wire, which the key schedule does not use) fails the session."""
    from dissector.pipeline import Pipeline

    src = SAMPLES / "tls12-ecdhe-rsa-aes128-gcm.pcap"
    data = bytearray(src.read_bytes())
    pipe = Pipeline()
    body = None
    with open_capture(str(src)) as cap:
        for ts, linktype, frame in cap:
            for ev in pipe.feed(ts, linktype, frame):
                if getattr(ev, "type", None) == "Certificate" and ev.direction == "server":
                    body = bytes(ev.body)
    at = data.find(body) + len(body) - 1  # the message's last byte: the end of the certificate's signature
    assert body and at > 0 and data.count(body) == 1
    data[at] ^= 0xFF
    tampered = tmp_path / "tampered.pcap"
    tampered.write_bytes(data)
    [doc] = analyze([str(tampered)], keylogs=[str(SAMPLES / "tls12-ecdhe-rsa-aes128-gcm.keys")])
    assert doc["decryption"]["status"] == "failed" and "does not match the handshake transcript" in \
        doc["decryption"]["detail"]
