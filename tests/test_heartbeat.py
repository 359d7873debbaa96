"""TLS heartbeats (RFC 6520) and Heartbleed (CVE-2014-0160), on real captures (samples/real,
make_heartbeat_captures.sh): gnutls-serv pinging gnutls-cli inside a TLS 1.2 session, and a scanner's probe (a
HeartbeatRequest that claims 16384 bytes and carries none) against gnutls-serv, which is not vulnerable. No
vulnerable server can be run here: its answer (OpenSSL 1.0.1f's, 16 KB of memory cut into two records) is built
from the RFC's message layout behind the real probe."""
from __future__ import annotations

import struct
import subprocess

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.events import Flow, TLSMessage
from dissector.findings import HandshakeNotes, session_findings
from dissector.net.decode import decode_frame
from dissector.tls.handshake import parse_heartbeat
from tests.conftest import SAMPLES, analyze, needs_tshark, tcp_frame

REAL = SAMPLES / "real"
PING = REAL / "gnutls-tls12-heartbeat.pcap"
PING_KEYS = REAL / "gnutls-tls12-heartbeat.keys"
PROBE = REAL / "heartbleed-probe.pcap"


def _heartbeats(s: dict) -> list[tuple]:
    return [(m["from"], m.get("heartbeat_type"), m.get("payload_length"), m["length"])
            for m in s["messages"] if m["type"] == "Heartbeat"]


def _ids(s: dict) -> set[str]:
    return {f["id"] for f in s["findings"]}


def _tshark_heartbeats(path, keys=None) -> list[tuple]:
    cmd = ["tshark", "-r", str(path), "-Y", "tls.record.content_type == 24", "-T", "fields", "-e", "tcp.srcport",
           "-e", "tls.heartbeat_message.type", "-e", "tls.heartbeat_message.payload_length", "-e", "tls.record.length"]
    if keys:
        cmd[3:3] = ["-o", f"tls.keylog_file:{keys}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]


def test_an_honest_heartbeat_is_read_and_raises_no_alarm():
    [s] = analyze([PING], keylogs=[str(PING_KEYS)])
    assert s["decryption"]["status"] == "decrypted"
    # gnutls-serv pings when the client's line "**HEARTBEAT**" reaches it; the client echoes the payload
    assert _heartbeats(s) == [("server", "heartbeat_request", 284, 303), ("client", "heartbeat_response", 284, 303)]
    assert "heartbeat_extension" in _ids(s) and not {"heartbleed_probe", "heartbleed_leak"} & _ids(s)
    [dark] = analyze([PING])  # without the key log: two encrypted records of one size, an honest exchange
    assert [(m["from"], m["encrypted"], m["length"]) for m in dark["messages"] if m["type"] == "Heartbeat"] == [
        ("server", True, 327), ("client", True, 327)]
    assert not {"heartbleed_probe", "heartbleed_leak"} & _ids(dark)
    assert not dark.get("app_data") or all(d["records"] == 3 for d in dark["app_data"].values())


@needs_tshark
def test_heartbeats_read_as_tshark_reads_them():
    [s] = analyze([PING], keylogs=[str(PING_KEYS)])
    ports = {"server": "4433", "client": s["client"].rsplit(":", 1)[1]}
    ours = [(ports[d], "1" if t == "heartbeat_request" else "2", str(n), str(length + 24))
            for d, t, n, length in _heartbeats(s)]  # tshark gives the record's length: GCM's nonce and tag added
    assert ours == _tshark_heartbeats(PING, PING_KEYS)
    [probe] = analyze([PROBE])
    assert [("1", "16384", "3")] == [row[1:] for row in _tshark_heartbeats(PROBE)]
    assert _heartbeats(probe) == [("client", "heartbeat_request", 16384, 3)]


def test_a_heartbleed_probe_is_a_high_finding_and_a_fixed_server_leaks_nothing():
    [s] = analyze([PROBE])
    [probe] = [m for m in s["messages"] if m["type"] == "Heartbeat"]
    assert probe["payload_length_exceeds_record"] is True and probe["from"] == "client"
    [finding] = [f for f in s["findings"] if f["id"] == "heartbleed_probe"]
    assert finding["severity"] == "high" and "claims 16384 bytes of payload and carries 0" in finding["detail"]
    assert "heartbleed_leak" not in _ids(s)
    assert s["messages"][-1]["type"] == "Alert" and s["messages"][-1]["description"] == "unexpected_message"


def _with_a_leaking_answer(path) -> None:
    """The probe capture (as raw IP) up to the probe, then what OpenSSL 1.0.1f answered: a HeartbeatResponse that
    claims the 16384 bytes asked for, 16381 of them in a full record and the rest (with the padding) in a second."""
    with open_capture(str(PROBE)) as cap:
        frames = [(ts, bytes(f)[14:]) for ts, _, f in cap]
    kept, server_next = [], 0
    for ts, ip in frames:
        seg = decode_frame(101, ip)
        kept.append((ts, ip))
        if seg.sport == 4433:
            server_next = seg.seq + len(seg.payload) + (1 if seg.flags & 0x02 else 0)
        elif bytes(seg.payload[:1]) == b"\x18":
            client_port, client_ip, t = seg.sport, seg.src, ts
            break
    memory = bytes(range(256)) * 64
    answer = b"\x02\x40\x00" + memory[:16381]
    stream = (b"\x18\x03\x02" + struct.pack("!H", len(answer)) + answer
              + b"\x18\x03\x02\x00\x13" + memory[16381:16384] + bytes(16))
    for i in range(0, len(stream), 1448):
        kept.append((t + 0.001, tcp_frame(4433, client_port, server_next + i, 0x18, stream[i:i + 1448],
                                          src=bytes([10, 99, 5, 1]), dst=client_ip)))
    with open(path, "wb") as out:
        w = PcapWriter(out, 101)
        for ts, ip in kept:
            w.write(ts, ip)


def test_a_vulnerable_servers_answer_is_a_leak(tmp_path):
    _with_a_leaking_answer(tmp_path / "leak.pcap")
    [s] = analyze([tmp_path / "leak.pcap"])
    assert _heartbeats(s) == [("client", "heartbeat_request", 16384, 3),
                              ("server", "heartbeat_response", 16384, 16384), ("server", "heartbeat_response", None, 19)]
    beats = [m for m in s["messages"] if m["type"] == "Heartbeat"]
    assert beats[2].get("continuation") is True  # not read as a message of its own
    [leak] = [f for f in s["findings"] if f["id"] == "heartbleed_leak"]
    assert leak["severity"] == "high" and "answered a 3-byte heartbeat request with 16403 bytes" in leak["detail"]
    assert "heartbleed_probe" in _ids(s)


def _event(direction: str, length: int, info: dict | None, encrypted: bool = False) -> TLSMessage:
    flow = Flow(0, "10.0.0.1", 1, "10.0.0.2", 443, 0.0)
    return TLSMessage(0.0, flow, direction, "Heartbeat", encrypted, length, _info=info)


def test_encrypted_heartbeats_are_judged_by_their_sizes():
    doc = {"version": "TLS 1.2", "decryption": {"status": "no-key"}}
    notes = HandshakeNotes()
    for ev in (_event("client", 60, {"encrypted": True}), _event("server", 60, {"encrypted": True}),
               _event("client", 60, {"encrypted": True}), _event("server", 16424, {"encrypted": True}),
               _event("server", 40, {"encrypted": True})):
        assert HandshakeNotes.wants(ev)
        notes.add(ev)
    [leak] = [f for f in session_findings(doc, notes) if f["id"] == "heartbleed_leak"]
    assert "with 16464 bytes" in leak["detail"] and "told by the record sizes" in leak["detail"]
    honest = HandshakeNotes()
    for ev in (_event("client", 60, {"encrypted": True}), _event("server", 60, {"encrypted": True})):
        honest.add(ev)
    assert not [f for f in session_findings(doc, honest) if f["id"].startswith("heartbleed")]


def test_heartbeat_fields():
    assert parse_heartbeat(b"\x01\x00\x04abcd" + bytes(16)) == (
        {"length": 23, "heartbeat_type": "heartbeat_request", "payload_length": 4}, 0)
    assert parse_heartbeat(b"\x01\xff\xff") == ({"length": 3, "heartbeat_type": "heartbeat_request",
                                                 "payload_length": 65535, "payload_length_exceeds_record": True}, 0)
    fields, owed = parse_heartbeat(b"\x02\x01\x00" + bytes(100))
    assert fields["payload_length_exceeds_record"] and owed == 3 + 256 + 16 - 103
    assert parse_heartbeat(bytes(50), owed) == ({"length": 50, "heartbeat_type": "heartbeat_response",
                                                 "continuation": True}, owed - 50)
    assert parse_heartbeat(b"\x01") == ({"length": 1, "malformed": True}, 0)
