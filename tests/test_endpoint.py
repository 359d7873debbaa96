"""endpoint/: the in-memory TLS pair, TCP framing, scenarios and the generate command."""
from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import shutil
import stat
import struct
import subprocess

import pytest

from dissector.capture.writer import PcapngWriter
from dissector.commands import generate
from dissector.endpoint.pair import CLIENT, SERVER, Chunk, FixedClock, PairOptions, TLSPair, run_pair
from dissector.endpoint.scenarios import SCENARIOS, build, http_exchange
from dissector.endpoint.synth import TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, checksum, synthesize
from tests.conftest import tshark_follow

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

EXCHANGE = http_exchange(b"<html>hello</html>\n")
REQUEST, RESPONSE = EXCHANGE[0][1], EXCHANGE[1][1]


def _client_random(chunks: list[Chunk]) -> str:
    hello = chunks[0].data
    assert hello[0] == 22 and hello[5] == 1  # handshake record, ClientHello
    return hello[11:43].hex()


# -- pair ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("version, label", [("1.2", "CLIENT_RANDOM"), ("1.3", "CLIENT_TRAFFIC_SECRET_0")])
def test_pair_round_trip(version, label):
    opts = PairOptions(min_version=version, max_version=version)
    r = run_pair(opts, EXCHANGE, clock=FixedClock())
    assert r.version == f"TLSv{version}" and r.version_name == f"TLS {version}"
    assert r.client_sent == REQUEST == r.server_received
    assert r.server_sent == RESPONSE == r.client_received
    assert r.sni == "localhost"
    assert f"{label} {_client_random(r.chunks)} " in r.keylog
    assert b"PRIVATE KEY" in r.server_key_pem
    assert r.chunks[0].sender == CLIENT
    times = [c.time for c in r.chunks]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert [c.phase for c in r.chunks][-2:] == ["close", "close"]
    # each side's close_notify is the last thing it wrote
    assert {c.sender for c in r.chunks if c.phase == "close"} == {CLIENT, SERVER}


def test_pair_tls10_needs_no_warning_filter():
    # pytest runs with filterwarnings=error: the pair must keep TLS 1.0's DeprecationWarnings to itself
    opts = PairOptions(min_version="1.0", max_version="1.0", ciphers="AES128-SHA:@SECLEVEL=0")
    r = run_pair(opts, EXCHANGE)
    assert (r.version, r.cipher, r.cipher_id) == ("TLSv1", "AES128-SHA", 0x002F)
    assert r.client_received == RESPONSE


def test_pair_resumes_by_session_id():
    with TLSPair(PairOptions(max_version="1.2", no_ticket=True)) as pair:
        first = pair.connect(EXCHANGE)
        second = pair.connect(EXCHANGE, session=first.session)
    assert not first.resumed and second.resumed
    assert first.session.id == second.session.id
    # an abbreviated handshake: no Certificate, so the server's first flight is small
    assert len([c for c in second.chunks if c.sender == SERVER][0].data) < 300


def test_pair_mutual_tls_and_alpn():
    r = run_pair(PairOptions(client_cert=True, alpn=["http/1.1"]), EXCHANGE)
    assert r.client_cert and r.alpn == "http/1.1"
    assert r.server_received == REQUEST


def test_pair_given_certificate_is_used():
    with TLSPair() as first:
        cert, key = first.server_cert_pem, first.server_key_pem
    r = run_pair(PairOptions(server_cert_pem=cert, server_key_pem=key), EXCHANGE)
    assert r.server_key_pem == key and r.server_cert_pem == cert


def test_pair_tls13_suite_key_update_and_early_data_through_the_bridge():
    r = run_pair(PairOptions(tls13_ciphersuites="TLS_CHACHA20_POLY1305_SHA256"), EXCHANGE + EXCHANGE,
                 key_update=CLIENT)
    assert (r.cipher, r.cipher_id) == ("TLS_CHACHA20_POLY1305_SHA256", 0x1303)
    assert r.key_updates == {CLIENT: 1, SERVER: 1}
    assert r.client_received == RESPONSE * 2 and r.server_received == REQUEST * 2
    with TLSPair(PairOptions(max_early_data=16384)) as pair:
        first = pair.connect(EXCHANGE)
        second = pair.connect([(SERVER, RESPONSE)], session=first.session, early_data=REQUEST)
    assert second.resumed and second.early_data_accepted
    assert second.server_received == REQUEST == second.client_sent
    assert "CLIENT_EARLY_TRAFFIC_SECRET " in second.keylog


def test_pair_hello_retry_request():
    r = run_pair(PairOptions(server_groups="prime256v1"), EXCHANGE)
    server_first = next(c.data for c in r.chunks if c.sender == SERVER)
    assert server_first[11:43].hex().startswith("cf21ad74e59a6111")  # the HelloRetryRequest random
    assert [c.sender for c in r.chunks[:3]] == [CLIENT, SERVER, CLIENT]  # ClientHello, HRR, ClientHello again


def test_pair_is_reproducible_in_time_with_a_fixed_clock():
    a = run_pair(PairOptions(), EXCHANGE, clock=FixedClock(1000.0, 0.001))
    assert [c.time for c in a.chunks] == [1000.0 + 0.001 * i for i in range(len(a.chunks))]


# -- synth ---------------------------------------------------------------------------------------

def _parse(frame: bytes):
    """Ethernet/IP/TCP by hand, checking both checksums; returns (src, dst, sport, dport, seq, ack, flags, payload)."""
    (eth_type,) = struct.unpack_from("!H", frame, 12)
    if eth_type == 0x0800:
        ihl = (frame[14] & 0x0F) * 4
        ip = frame[14:14 + ihl]
        assert checksum(ip) == 0, "bad IPv4 header checksum"
        total = struct.unpack_from("!H", ip, 2)[0]
        assert total == len(frame) - 14
        src, dst = ip[12:16], ip[16:20]
        tcp = frame[14 + ihl:]
        pseudo = src + dst + struct.pack("!xBH", 6, len(tcp))
    else:
        assert eth_type == 0x86DD
        plen = struct.unpack_from("!H", frame, 18)[0]
        assert frame[20] == 6 and plen == len(frame) - 54
        src, dst = frame[22:38], frame[38:54]
        tcp = frame[54:]
        pseudo = src + dst + struct.pack("!I3xB", len(tcp), 6)
    assert checksum(pseudo + tcp) == 0, "bad TCP checksum"
    sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", tcp)
    return src, dst, sport, dport, seq, ack, off_flags & 0x3F, tcp[(off_flags >> 12) * 4:]


def _chunks() -> list[Chunk]:
    return [
        Chunk(10.0, CLIENT, b"a" * 300),
        Chunk(10.001, SERVER, bytes(range(256)) * 10),  # 2560 bytes
        Chunk(10.002, CLIENT, b"b" * 50),
        Chunk(10.002, CLIENT, b"c" * 250),  # same recorded time: must still be later on the wire
        Chunk(10.003, SERVER, b"d" * 999),
    ]


@pytest.mark.parametrize("client_ip", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("mss", [100, 1460])
def test_synth_framing(client_ip, mss):
    chunks = _chunks()
    frames = synthesize(chunks, client_ip=client_ip, client_port=51000, server_port=8443, mss=mss)
    parsed = [_parse(f) for _, f in frames]
    times = [t for t, _ in frames]
    assert all(b - a >= 0.000001 for a, b in zip(times, times[1:])), "timestamps must increase"
    assert times[3] >= chunks[0].time

    flags = [p[6] for p in parsed]
    assert flags[:3] == [TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK]
    assert flags[-3:] == [TCP_FIN | TCP_ACK, TCP_FIN | TCP_ACK, TCP_ACK]
    assert all(f & TCP_ACK for f in flags[1:])
    addr = ipaddress.ip_address(client_ip).packed
    assert all(p[0] == addr == p[1] for p in parsed)

    streams = {CLIENT: bytearray(), SERVER: bytearray()}
    isn = {CLIENT: parsed[0][4], SERVER: parsed[1][4]}
    nxt = {CLIENT: isn[CLIENT] + 1, SERVER: isn[SERVER] + 1}
    assert parsed[1][5] == nxt[CLIENT] and parsed[2][5] == nxt[SERVER]
    psh_segments = []
    for _src, _dst, sport, dport, seq, ack, fl, payload in parsed[3:]:
        who = CLIENT if sport == 51000 else SERVER
        peer = SERVER if who == CLIENT else CLIENT
        assert (sport, dport) == ((51000, 8443) if who == CLIENT else (8443, 51000))
        assert seq == nxt[who], "sequence numbers must be contiguous"
        assert ack == nxt[peer], "ACK must cover everything the peer sent"
        assert len(payload) <= mss
        streams[who] += payload
        nxt[who] += len(payload) + (1 if fl & TCP_FIN else 0)
        if fl & TCP_PSH:
            psh_segments.append((who, len(streams[who])))
        if payload and not fl & TCP_PSH:
            assert len(payload) == mss, "only the last segment of a write may be short"
    assert bytes(streams[CLIENT]) == b"".join(c.data for c in chunks if c.sender == CLIENT)
    assert bytes(streams[SERVER]) == b"".join(c.data for c in chunks if c.sender == SERVER)
    # PSH exactly at the end of every write
    ends, totals = [], {CLIENT: 0, SERVER: 0}
    for c in chunks:
        totals[c.sender] += len(c.data)
        ends.append((c.sender, totals[c.sender]))
    assert psh_segments == ends


def test_synth_syn_carries_mss_option():
    frames = synthesize(_chunks(), mss=1200)
    tcp = frames[0][1][34:]
    options = tcp[20:(tcp[12] >> 4) * 4]
    assert options[:4] == struct.pack("!BBH", 2, 4, 1200)


def test_synth_is_deterministic():
    a = synthesize(_chunks(), client_port=50123)
    b = synthesize(_chunks(), client_port=50123)
    assert a == b
    assert synthesize(_chunks(), client_port=50124) != a


def test_synth_server_closes_first():
    parsed = [_parse(f) for _, f in synthesize(_chunks(), closer=SERVER, client_port=50000, server_port=443)]
    assert parsed[-3][2] == 443 and parsed[-3][6] == TCP_FIN | TCP_ACK


# -- scenarios and generate ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_build(name):
    cap = build(name, mss=1460, clock=FixedClock())
    sessions = cap.expected["sessions"]
    assert sessions and all(s["cipher_suite"].startswith("TLS_") for s in sessions)
    assert all(s["version"].startswith("TLS 1.") for s in sessions)
    assert cap.keylog.startswith("#") and cap.keylog.endswith("\n")
    times = [t for t, _ in cap.frames]
    assert times == sorted(times)
    syns = [f for _, f in cap.frames if _parse(f)[6] == TCP_SYN]
    assert len(syns) == len(sessions)


def _args(out, names, **kw):
    ns = argparse.Namespace(scenarios=names, output=str(out), list=False, mss=1460, force=False, start=None,
                            ipv6=False, port=443)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_generate_command_writes_files_and_refuses_to_overwrite(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    generate.add_parser(parser.add_subparsers())
    assert generate.run(_args(tmp_path, ["tls12-rsa-aes128-cbc"], start=1700000000.0)) == 0
    base = tmp_path / "tls12-rsa-aes128-cbc"
    for suffix in generate.SUFFIXES:
        assert os.path.getsize(f"{base}{suffix}") > 0
    assert stat.S_IMODE(os.stat(f"{base}.key.pem").st_mode) == 0o600
    with open(f"{base}.expected.json") as f:
        expected = json.load(f)
    s = expected["sessions"][0]
    assert (s["version"], s["cipher_suite"], s["server"]) == ("TLS 1.2", "TLS_RSA_WITH_AES_128_CBC_SHA", "127.0.0.1:443")
    assert s["app_data"]["client"]["bytes"] > 30
    assert generate.run(_args(tmp_path, ["tls12-rsa-aes128-cbc"])) == 2
    assert "--force" in capsys.readouterr().err
    assert generate.run(_args(tmp_path, ["tls12-rsa-aes128-cbc"], force=True)) == 0
    assert generate.run(_args(tmp_path, ["no-such-scenario"])) == 2
    assert generate.run(_args(tmp_path, [], list=True)) == 0


@needs_tshark
@pytest.mark.parametrize("name", ["tls12-rsa-aes128-cbc", "tls13-aes128-gcm", "tls12-resume-id", "tls13-hrr",
                                  "tls13-0rtt"])
def test_tshark_decrypts_generated_captures(tmp_path, name):
    assert generate.run(_args(tmp_path, [name])) == 0
    expected = json.loads((tmp_path / f"{name}.expected.json").read_text())
    for i, session in enumerate(expected["sessions"]):
        # the pcapng carries its key log in a DSB; the pcap needs the .keys file
        for pcap, keys in ((tmp_path / f"{name}.pcapng", None), (tmp_path / f"{name}.pcap", tmp_path / f"{name}.keys")):
            c, s = tshark_follow(pcap, i, session["client"], keys)
            assert hashlib.sha256(c).hexdigest() == session["app_data"]["client"]["sha256"]
            assert hashlib.sha256(s).hexdigest() == session["app_data"]["server"]["sha256"]
    out = subprocess.run([TSHARK, "-r", str(tmp_path / f"{name}.pcapng"), "-Y", "tls.handshake", "-T", "fields",
                          "-e", "tls.handshake.type"], capture_output=True, text=True, check=True).stdout
    types = [int(t) for line in out.split() for t in line.split(",")]
    assert types[:2] == [1, 2] and 20 in types  # ClientHello, ServerHello, ..., Finished


@needs_tshark
def test_tshark_decrypts_rsa_with_the_server_key_alone(tmp_path):
    name = "tls12-rsa-aes128-cbc"
    assert generate.run(_args(tmp_path, [name])) == 0
    key = tmp_path / f"{name}.key.pem"
    out = subprocess.run([TSHARK, "-r", str(tmp_path / f"{name}.pcap"), "-o", f'uat:rsa_keys:"{key}",""', "-q",
                          "-z", "follow,tls,ascii,0"], capture_output=True, text=True, check=True).stdout
    assert "GET / HTTP/1.1" in out and "HTTP/1.1 200 OK" in out


@needs_tshark
def test_tshark_sees_valid_checksums(tmp_path):
    chunks = _chunks()
    path = tmp_path / "c.pcapng"
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.add_interface(1)
        for ts, frame in synthesize(chunks, mss=536) + synthesize(chunks, client_ip="::1", client_port=50001):
            w.write(ts, frame)
    out = subprocess.run([TSHARK, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                          "-T", "fields", "-e", "tcp.checksum.status", "-e", "tcp.analysis.flags"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows and all(r[0] == "1" for r in rows), "every TCP checksum is good"
    assert all(len(r) < 2 or r[1] == "" for r in rows), "no TCP analysis warnings"
