#!/usr/bin/env python3
"""Generate the benchmark captures from real OpenSSL sessions (the project's in-memory reference endpoint).

Usage (from the repository root, with dissector installed, e.g. `pip install -e .`):

    python benchmarks/make_captures.py --out bench-data [--sessions 10000] [--bulk-mb 500] [--jobs 2] [--seed 1]

Writes into DIR:

  sessions.pcap + sessions.keys   --sessions short TLS sessions (default 10,000; about 18 packets each), each a
                                  TCP handshake, a full TLS handshake, one or two small HTTP/1.1 requests and
                                  responses, close_notify both ways and a FIN teardown. The mix: TLS 1.2
                                  ECDHE-RSA-AES128-GCM-SHA256, TLS 1.2 RSA key exchange AES128-SHA
                                  (encrypt-then-MAC) and AES256-SHA256 (MAC-then-encrypt), TLS 1.3
                                  TLS_AES_128_GCM_SHA256 / TLS_AES_256_GCM_SHA384 / TLS_CHACHA20_POLY1305_SHA256.
                                  Six servers (127.0.0.10-15, port 443, one certificate and name each); 250 client
                                  hosts in 127.1.0.0/16 with increasing ephemeral ports (no 4-tuple is reused);
                                  Poisson arrivals (2 ms mean gap) and per-connection round-trip times of
                                  0.2-4 ms, so about a dozen connections are open at any time.
  bulk.pcap + bulk.keys           three long downloads running at the same time, --bulk-mb MB (10^6 bytes) of
                                  application data in total: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, TLS 1.3
                                  TLS_AES_256_GCM_SHA384 and TLS 1.3 TLS_CHACHA20_POLY1305_SHA256; the servers
                                  write 64 KB at a time (16 KB records), MSS 1460, a delayed ACK every second
                                  segment, frames paced as on a 1 Gbit/s link.
  check-sessions.pcap             the first 300 sessions of sessions.pcap (complete flows; same key log), and
  check-bulk.pcap                 the first 20,000 frames of bulk.pcap (all three handshakes and requests):
                                  small files on which run.py checks that each tool really did the work.
  manifest.json                   what the files hold: packets, bytes, sessions, requests, application bytes,
                                  suites, and the same for the check files (run.py reads it).

The short sessions are made by `--jobs` worker processes (each drives one `TLSPair` per configuration and
streams its connections, in start order, into a time-sorted part file); the parts are then merged by timestamp.
The bulk capture is made by one more task, streamed: 64 KB of application data at a time goes through the
OpenSSL pair and straight out as frames, so memory stays small whatever --bulk-mb is. (`TLSPair.connect` and
`synth.synthesize` keep a whole connection in memory, so the bulk sessions drive the pair's SSL contexts
directly and frame the bytes with a streaming TCP framer that follows `synth`'s rules.)
"""
from __future__ import annotations

import argparse
import hashlib
import heapq
import ipaddress
import json
import multiprocessing
import os
import random
import ssl
import struct
import sys
import time
from dataclasses import dataclass, field

from dissector.capture.writer import PcapWriter
from dissector.endpoint.pair import FixedClock, PairOptions, TLSPair, make_self_signed
from dissector.endpoint.scenarios import http_exchange, iana_suite
from dissector.endpoint.synth import CLIENT_MAC, SERVER_MAC, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, checksum, synthesize

CLIENT, SERVER = "client", "server"
MB = 1_000_000
START = 1_700_000_000.0  # capture start (2023-11-14 22:13:20 UTC)
SERVER_PORT = 443
CLIENT_HOSTS = 250
CHECK_SESSIONS = 300
CHECK_BULK_FRAMES = 20_000
MEAN_ARRIVAL_GAP = 0.002  # seconds between connection starts (Poisson)
RTT_RANGE = (0.0002, 0.004)  # per connection: the delay between one side's write and the other's answer
SECOND_REQUEST = 0.2  # share of sessions with a second request on the same connection
BODY_RANGE = (300, 7000)  # HTTP response body sizes, bytes
BULK_WRITE = 64 * 1024
LINK_BPS = 1_000_000_000  # bulk frame pacing

_PCAP_RECORD = struct.Struct("<IIII")


# ---------------------------------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    name: str
    weight: int
    max_version: str | None = None
    ciphers: str | None = None
    tls13: str | None = None
    no_etm: bool = False
    hostname: str = "localhost"


# The client offers its usual TLS 1.2 list; the server is limited to one suite and picks it.
CLIENT_TLS12 = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:" \
               "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-SHA:" \
               "AES256-GCM-SHA384:AES128-GCM-SHA256:AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA"

SESSION_CONFIGS = [
    Config("tls12-ecdhe-rsa-aes128-gcm", 30, max_version="1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256",
           hostname="shop.example"),
    Config("tls12-rsa-aes128-cbc-etm", 8, max_version="1.2", ciphers="AES128-SHA", hostname="legacy.example"),
    Config("tls12-rsa-aes256-cbc-sha256", 7, max_version="1.2", ciphers="AES256-SHA256", no_etm=True,
           hostname="intranet.example"),
    Config("tls13-aes128-gcm", 20, tls13="TLS_AES_128_GCM_SHA256", hostname="api.example"),
    Config("tls13-aes256-gcm", 20, tls13="TLS_AES_256_GCM_SHA384", hostname="www.example"),
    Config("tls13-chacha20", 15, tls13="TLS_CHACHA20_POLY1305_SHA256", hostname="mobile.example"),
]

BULK_CONFIGS = [
    Config("tls12-ecdhe-rsa-aes128-gcm", 1, max_version="1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256",
           hostname="files.example"),
    Config("tls13-aes256-gcm", 1, tls13="TLS_AES_256_GCM_SHA384", hostname="cdn.example"),
    Config("tls13-chacha20", 1, tls13="TLS_CHACHA20_POLY1305_SHA256", hostname="video.example"),
]


def make_pair(cfg: Config) -> TLSPair:
    cert, key = make_self_signed("rsa", cfg.hostname)
    opts = PairOptions(max_version=cfg.max_version, ciphers=cfg.ciphers,
                       client_ciphers=CLIENT_TLS12 if cfg.ciphers else None,
                       tls13_ciphersuites=cfg.tls13, no_encrypt_then_mac=cfg.no_etm, alpn=["http/1.1"],
                       server_hostname=cfg.hostname, server_cert_pem=cert, server_key_pem=key)
    return TLSPair(opts, FixedClock(START))


def suite_label(version_name: str, cipher: str, cipher_id: int | None) -> str:
    return f"{version_name} {iana_suite(cipher, cipher_id)[1]}"


# ---------------------------------------------------------------------------------------------------
# the short-sessions plan (deterministic from the seed; every worker recomputes it)
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Planned:
    index: int
    start: float
    rtt: float
    config: int
    client_ip: str
    client_port: int
    client_mac: bytes
    bodies: tuple[int, ...]


def make_plan(n: int, seed: int) -> list[Planned]:
    rng = random.Random(seed)
    weights = [c.weight for c in SESSION_CONFIGS]
    plan = []
    t = START
    for i in range(n):
        t += rng.expovariate(1 / MEAN_ARRIVAL_GAP)
        host, k = i % CLIENT_HOSTS, i // CLIENT_HOSTS
        ip = str(ipaddress.IPv4Address("127.1.0.1") + host)
        port = 32768 + (host * 131 + k) % 28232  # unique per host for 28,232 connections
        cfg = rng.choices(range(len(SESSION_CONFIGS)), weights)[0]
        nreq = 2 if rng.random() < SECOND_REQUEST else 1
        bodies = tuple(rng.randint(*BODY_RANGE) for _ in range(nreq))
        mac = bytes([0x02, 0x00, 0x00, 0x01, host >> 8, host & 0xFF])
        plan.append(Planned(i, t, rng.uniform(*RTT_RANGE), cfg, ip, port, mac, bodies))
    return plan


_FILLER = b"".join(
    b"<p>Item %d: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n" % i
    for i in range(200))


def page(size: int, title: str) -> bytes:
    head = f"<!doctype html>\n<html><head><title>{title}</title></head><body>\n".encode()
    tail = b"</body></html>\n"
    fill = max(0, size - len(head) - len(tail))
    return head + (_FILLER * (fill // len(_FILLER) + 1))[:fill] + tail


def exchange_for(p: Planned, hostname: str) -> list[tuple[str, bytes]]:
    ex: list[tuple[str, bytes]] = []
    for j, size in enumerate(p.bodies):
        path = f"/catalog/{p.index}" if j == 0 else f"/catalog/{p.index}/details?page={j}"
        ex += http_exchange(page(size, f"item {p.index}.{j}"), path=path, host=hostname)
    return ex


@dataclass
class Stats:
    packets: int = 0
    sessions: int = 0
    requests: int = 0
    app_bytes: int = 0
    suites: dict[str, int] = field(default_factory=dict)
    tls12_sessions: int = 0
    tls12_requests: int = 0
    tls12_app_bytes: int = 0
    seconds: float = 0.0

    def add(self, other: Stats) -> None:
        for k in ("packets", "sessions", "requests", "app_bytes", "tls12_sessions", "tls12_requests",
                  "tls12_app_bytes"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k, v in other.suites.items():
            self.suites[k] = self.suites.get(k, 0) + v

    def count(self, version_name: str, suite: str, requests: int, app_bytes: int) -> None:
        self.sessions += 1
        self.requests += requests
        self.app_bytes += app_bytes
        self.suites[suite] = self.suites.get(suite, 0) + 1
        if version_name == "TLS 1.2":
            self.tls12_sessions += 1
            self.tls12_requests += requests
            self.tls12_app_bytes += app_bytes


def sessions_worker(args: tuple[int, int, int, int, str]) -> tuple[int, dict]:
    """Worker `idx` of `jobs`: the planned connections i with i % jobs == idx, into a time-sorted part file."""
    idx, jobs, n, seed, out = args
    t0 = time.perf_counter()
    plan = make_plan(n, seed)[idx::jobs]
    pairs = [make_pair(c) for c in SESSION_CONFIGS]
    stats = Stats()
    pending: list[tuple[float, int, bytes]] = []  # frames of connections still in flight, a heap by time
    seq = 0
    with open(part_path(out, idx, ".pcap"), "wb") as f, open(part_path(out, idx, ".keys"), "w") as keys:
        w = PcapWriter(f)
        for p in plan:
            while pending and pending[0][0] < p.start:  # nothing later can start before p.start
                ts, _, frame = heapq.heappop(pending)
                w.write(ts, frame)
            cfg = SESSION_CONFIGS[p.config]
            pair = pairs[p.config]
            pair.clock = FixedClock(p.start + 2 * p.rtt, p.rtt)
            r = pair.connect(exchange_for(p, cfg.hostname))
            if r.client_received != r.server_sent or r.server_received != r.client_sent:
                raise RuntimeError(f"connection {p.index}: the peers did not receive what was sent")
            frames = synthesize(r.chunks, client_ip=p.client_ip, server_ip=f"127.0.0.{10 + p.config}",
                                client_port=p.client_port, server_port=SERVER_PORT, latency=p.rtt,
                                start=p.start, client_mac=p.client_mac, server_mac=SERVER_MAC)
            for ts, frame in frames:
                heapq.heappush(pending, (ts, seq, frame))
                seq += 1
            keys.write("".join(line + "\n" for line in r.keylog.splitlines()
                               if line.strip() and not line.startswith("#")))
            stats.count(r.version_name, suite_label(r.version_name, r.cipher, r.cipher_id), len(p.bodies),
                        len(r.client_sent) + len(r.server_sent))
        while pending:
            ts, _, frame = heapq.heappop(pending)
            w.write(ts, frame)
        stats.packets = w.packets
    for pair in pairs:
        pair.close()
    stats.seconds = time.perf_counter() - t0
    return idx, stats.__dict__


def part_path(out: str, idx: int, ext: str) -> str:
    return os.path.join(out, f".sessions.part{idx}{ext}")


def pcap_records(path: str):
    """(sec, usec, raw record) of a pcap file written by PcapWriter (little-endian, microseconds)."""
    with open(path, "rb", buffering=1 << 20) as f:
        f.read(24)
        while True:
            head = f.read(16)
            if len(head) < 16:
                return
            sec, usec, caplen, _ = _PCAP_RECORD.unpack(head)
            yield sec, usec, head + f.read(caplen)


def merge_parts(out: str, jobs: int, plan: list[Planned]) -> tuple[int, int]:
    """Merge the part files by timestamp into sessions.pcap, and the first CHECK_SESSIONS flows into
    check-sessions.pcap. Returns (packets, check packets)."""
    check_clients = {(ipaddress.IPv4Address(p.client_ip).packed, p.client_port) for p in plan[:CHECK_SESSIONS]}
    packets = check_packets = 0
    with open(os.path.join(out, "sessions.pcap"), "wb") as f, \
            open(os.path.join(out, "check-sessions.pcap"), "wb") as cf:
        PcapWriter(f), PcapWriter(cf)  # the file headers
        streams = [pcap_records(part_path(out, i, ".pcap")) for i in range(jobs)]
        for _, _, rec in heapq.merge(*streams, key=lambda r: (r[0], r[1])):
            f.write(rec)
            packets += 1
            # record header 16, Ethernet 14, IPv4 (no options) 20: src 26..30, dst 30..34, ports 34..38
            src, dst = rec[42:46], rec[46:50]
            sport, dport = struct.unpack_from("!HH", rec, 50)
            if (src, sport) in check_clients or (dst, dport) in check_clients:
                cf.write(rec)
                check_packets += 1
    with open(os.path.join(out, "sessions.keys"), "w") as keys:
        keys.write("# TLS secrets log file: benchmarks/make_captures.py (OpenSSL through the reference endpoint)\n")
        for i in range(jobs):
            with open(part_path(out, i, ".keys")) as part:
                while block := part.read(1 << 20):
                    keys.write(block)
    for i in range(jobs):
        os.unlink(part_path(out, i, ".pcap"))
        os.unlink(part_path(out, i, ".keys"))
    return packets, check_packets


# ---------------------------------------------------------------------------------------------------
# bulk: streamed connections
# ---------------------------------------------------------------------------------------------------

_ETH = struct.Struct("!6s6sH")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIHHHH")
_SYN_OPTIONS = struct.pack("!BBH", 2, 4, 1460) + b"\x01\x01\x04\x02\x01" + struct.pack("!BBB", 3, 3, 7)


class Link:
    """The shared clock of the bulk capture and its writers: frames are written as they are made."""

    def __init__(self, writers: list[tuple[PcapWriter, int]]) -> None:
        self.now = START
        self.writers = writers  # (writer, frame limit)

    def emit(self, frame: bytes, dt: float) -> None:
        self.now += dt
        for w, limit in self.writers:
            if w.packets < limit:
                w.write(self.now, frame)

    def wire_time(self, nbytes: int) -> float:
        return (nbytes + 24) * 8 / LINK_BPS  # preamble, FCS and inter-frame gap included


class StreamingTCP:
    """One IPv4 TCP connection framed as it goes (the rules of `dissector.endpoint.synth`: SYN options,
    segments of at most `mss` bytes with PSH on the last one of a write, a pure ACK from the receiver after
    every second segment, checksums, a FIN teardown), without keeping the connection in memory."""

    def __init__(self, link: Link, client_ip: str, server_ip: str, client_port: int, server_port: int,
                 mss: int = 1460, rtt: float = 0.0002) -> None:
        self.link, self.mss, self.rtt = link, mss, rtt
        self.ip = {CLIENT: ipaddress.IPv4Address(client_ip).packed, SERVER: ipaddress.IPv4Address(server_ip).packed}
        self.port = {CLIENT: client_port, SERVER: server_port}
        self.mac = {CLIENT: CLIENT_MAC, SERVER: SERVER_MAC}
        h = hashlib.sha256(f"{client_ip}:{client_port}".encode()).digest()
        self.seq = {CLIENT: int.from_bytes(h[:4], "big"), SERVER: int.from_bytes(h[4:8], "big")}
        self.ip_id = {CLIENT: int.from_bytes(h[8:10], "big"), SERVER: int.from_bytes(h[10:12], "big")}
        self.unacked = {CLIENT: 0, SERVER: 0}  # segments received and not yet acknowledged

    @staticmethod
    def peer(who: str) -> str:
        return SERVER if who == CLIENT else CLIENT

    def frame(self, who: str, flags: int, payload: bytes = b"", dt: float | None = None,
              options: bytes = b"", window: int = 512) -> None:
        peer = self.peer(who)
        ack = self.seq[peer] if flags & TCP_ACK else 0
        tcp_len = 20 + len(options) + len(payload)
        header = _TCP.pack(self.port[who], self.port[peer], self.seq[who], ack,
                           ((20 + len(options)) // 4 << 12) | flags, window, 0, 0) + options
        pseudo = self.ip[who] + self.ip[peer] + struct.pack("!xBH", 6, tcp_len)
        csum = checksum(pseudo + header + payload)
        ip = _IP4.pack(0x45, 0, 20 + tcp_len, self.ip_id[who], 0x4000, 64, 6, 0, self.ip[who], self.ip[peer])
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        self.ip_id[who] = (self.ip_id[who] + 1) & 0xFFFF
        frame = _ETH.pack(self.mac[peer], self.mac[who], 0x0800) + ip + header[:16] + struct.pack("!H", csum) \
            + header[18:] + payload
        self.seq[who] = (self.seq[who] + len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)) & 0xFFFFFFFF
        self.unacked[who] = 0  # this frame acknowledges everything received
        self.link.emit(frame, self.link.wire_time(len(frame)) if dt is None else dt)

    def open(self) -> None:
        self.frame(CLIENT, TCP_SYN, options=_SYN_OPTIONS, window=65495, dt=self.rtt)
        self.frame(SERVER, TCP_SYN | TCP_ACK, options=_SYN_OPTIONS, window=65495, dt=self.rtt / 2)
        self.frame(CLIENT, TCP_ACK, dt=self.rtt / 2)

    def send(self, who: str, data: bytes, first_dt: float | None = None) -> None:
        """One write: segments, the receiver ACKing every second one."""
        peer = self.peer(who)
        n = max(1, -(-len(data) // self.mss))
        for k in range(n):
            seg = data[k * self.mss:(k + 1) * self.mss]
            self.frame(who, TCP_ACK | (TCP_PSH if k == n - 1 else 0), seg, dt=first_dt if k == 0 else None)
            self.unacked[peer] += 1
            if self.unacked[peer] >= 2:
                self.frame(peer, TCP_ACK, dt=0.000001)

    def flush_ack(self, who: str) -> None:
        """`who` acknowledges what it has received (delayed-ACK timer, or before going quiet)."""
        if self.unacked[who]:
            self.frame(who, TCP_ACK, dt=self.rtt / 2)

    def close(self, closer: str = CLIENT) -> None:
        other = self.peer(closer)
        self.frame(closer, TCP_FIN | TCP_ACK, dt=self.rtt / 2)
        self.frame(other, TCP_FIN | TCP_ACK, dt=self.rtt / 2)
        self.frame(closer, TCP_ACK, dt=self.rtt / 2)


class BulkDownload:
    """One long HTTP download through a real OpenSSL client/server pair, framed as it is produced."""

    def __init__(self, cfg: Config, link: Link, client_port: int, server_ip: str, body_bytes: int) -> None:
        self.cfg = cfg
        self.pair = make_pair(cfg)
        self.tcp = StreamingTCP(link, "127.1.0.200", server_ip, client_port, SERVER_PORT)
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        self.server = self.pair.server_ctx.wrap_bio(s_in, s_out, server_side=True)
        self.client = self.pair.client_ctx.wrap_bio(c_in, c_out, server_side=False,
                                                    server_hostname=self.pair.options.server_hostname)
        self.sides = {CLIENT: (self.client, c_out, s_in), SERVER: (self.server, s_out, c_in)}
        self.body_bytes = body_bytes
        self.body_sent = 0
        self.sent = {CLIENT: 0, SERVER: 0}
        self.received = {CLIENT: 0, SERVER: 0}
        self.digest_sent = hashlib.sha256()
        self.digest_received = hashlib.sha256()
        self.keylog = ""

    def flush(self, who: str, dt: float | None = None) -> bool:
        _, out, peer_in = self.sides[who]
        data = out.read()
        if data:
            self.tcp.send(who, data, first_dt=dt)
            peer_in.write(data)
        return bool(data)

    def drain(self, who: str) -> None:
        obj = self.sides[who][0]
        while True:
            try:
                data = obj.read(1 << 17)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not data:
                break
            self.received[who] += len(data)
            if who == CLIENT:
                self.digest_received.update(data)

    def write(self, who: str, data: bytes, dt: float | None = None) -> None:
        self.sides[who][0].write(data)
        self.sent[who] += len(data)
        if who == SERVER:
            self.digest_sent.update(data)
        self.flush(who, dt)
        self.drain(self.tcp.peer(who))

    def open(self) -> None:
        self.tcp.open()
        rtt = self.tcp.rtt
        done = {CLIENT: False, SERVER: False}
        for _ in range(64):
            for who in (CLIENT, SERVER):
                if not done[who]:
                    try:
                        self.sides[who][0].do_handshake()
                        done[who] = True
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
                self.flush(who, dt=rtt / 2)
            if all(done.values()):
                break
        else:
            raise RuntimeError(f"{self.cfg.name}: TLS handshake did not complete")
        request = http_exchange(b"", path=f"/downloads/{self.cfg.name}.bin", host=self.cfg.hostname)[0][1]
        self.write(CLIENT, request, dt=rtt / 2)
        self.drain(CLIENT)  # TLS 1.3 NewSessionTickets
        self.tcp.flush_ack(SERVER)
        header = (f"HTTP/1.1 200 OK\r\nServer: dissector-endpoint\r\nContent-Type: application/octet-stream\r\n"
                  f"Content-Length: {self.body_bytes}\r\n\r\n").encode()
        self.write(SERVER, header, dt=rtt / 2)

    def pump(self, block: bytes) -> bool:
        """Write the next piece of the body; False when the body is complete."""
        n = min(BULK_WRITE, self.body_bytes - self.body_sent)
        if n <= 0:
            return False
        off = self.body_sent % (len(block) - BULK_WRITE)
        self.write(SERVER, block[off:off + n])
        self.body_sent += n
        return self.body_sent < self.body_bytes

    def close(self) -> None:
        self.tcp.flush_ack(CLIENT)
        rtt = self.tcp.rtt
        for who in (CLIENT, SERVER, CLIENT):  # close_notify both ways, as TLSPair.connect does
            try:
                self.sides[who][0].unwrap()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            self.flush(who, dt=rtt / 2)
        self.tcp.close(CLIENT)
        if self.received[CLIENT] != self.sent[SERVER] or self.received[SERVER] != self.sent[CLIENT] \
                or self.digest_received.digest() != self.digest_sent.digest():
            raise RuntimeError(f"{self.cfg.name}: the client did not receive what the server sent")
        with open(self.pair.keylog_path) as f:
            self.keylog = "".join(line for line in f if line.strip() and not line.startswith("#"))
        self.version = self.client.version()
        self.cipher = self.client.cipher()[0]
        self.cipher_id = next((c["id"] & 0xFFFF for c in self.pair.client_ctx.get_ciphers()
                               if c["name"] == self.cipher), None)
        self.pair.close()


def bulk_worker(args: tuple[str, int]) -> tuple[str, dict]:
    out, total = args
    t0 = time.perf_counter()
    block = hashlib.shake_256(b"dissector benchmark bulk").digest(1 << 20)
    per = -(-total // len(BULK_CONFIGS))
    stats = Stats()
    with open(os.path.join(out, "bulk.pcap"), "wb") as f, open(os.path.join(out, "check-bulk.pcap"), "wb") as cf:
        w, cw = PcapWriter(f), PcapWriter(cf)
        link = Link([(w, 1 << 62), (cw, CHECK_BULK_FRAMES)])
        downloads = [BulkDownload(cfg, link, 41000 + 17 * i, f"127.0.0.{20 + i}", per)
                     for i, cfg in enumerate(BULK_CONFIGS)]
        for d in downloads:
            d.open()
        active = list(downloads)
        while active:  # round robin: three downloads sharing the link
            active = [d for d in active if d.pump(block)]
        for d in downloads:
            d.close()
        stats.packets = w.packets
        check_packets = cw.packets
    with open(os.path.join(out, "bulk.keys"), "w") as keys:
        keys.write("# TLS secrets log file: benchmarks/make_captures.py (OpenSSL through the reference endpoint)\n")
        for d in downloads:
            keys.write(d.keylog)
    for d in downloads:
        name = {"TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}.get(d.version, d.version)
        stats.count(name, suite_label(name, d.cipher, d.cipher_id), 1, d.sent[CLIENT] + d.sent[SERVER])
    stats.seconds = time.perf_counter() - t0
    result = stats.__dict__
    result["check_packets"] = check_packets
    result["body_bytes"] = per * len(downloads)
    return "bulk", result


# ---------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    ap.add_argument("--sessions", type=int, default=10_000, metavar="N", help="short sessions (default 10000)")
    ap.add_argument("--bulk-mb", type=float, default=500, metavar="MB",
                    help="application data in the bulk capture, MB of 10^6 bytes (default 500)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                    help="worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the session plan (default 1)")
    args = ap.parse_args(argv)
    if args.sessions < CHECK_SESSIONS or args.bulk_mb <= 0 or args.jobs < 1:
        ap.error(f"--sessions must be at least {CHECK_SESSIONS}, --bulk-mb and --jobs positive")
    out = args.out
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    plan = make_plan(args.sessions, args.seed)
    tasks: list = [(bulk_worker, (out, int(args.bulk_mb * MB)))]
    tasks += [(sessions_worker, (i, args.jobs, args.sessions, args.seed, out)) for i in range(args.jobs)]
    print(f"generating {args.sessions:,} sessions and {args.bulk_mb:g} MB of bulk data in {args.jobs} process(es)...",
          flush=True)
    ctx = multiprocessing.get_context("spawn")
    results: dict = {}
    with ctx.Pool(args.jobs) as pool:  # the bulk task first: it is the longest single task
        asyncs = [pool.apply_async(fn, (a,)) for fn, a in tasks]
        for a in asyncs:
            key, res = a.get()
            results[key] = res
            what = "bulk" if key == "bulk" else f"sessions part {key}"
            print(f"  {what}: {res['sessions']:,} sessions, {res['packets']:,} packets in {res['seconds']:.1f} s",
                  flush=True)
    t_merge = time.perf_counter()
    packets, check_packets = merge_parts(out, args.jobs, plan)
    print(f"  merged the session parts in {time.perf_counter() - t_merge:.1f} s", flush=True)

    sess = Stats()
    for i in range(args.jobs):
        part = Stats(**{k: v for k, v in results[i].items()})
        sess.add(part)
    if packets != sess.packets:
        raise RuntimeError(f"merge wrote {packets} packets, the parts hold {sess.packets}")
    check = Stats()
    for p in plan[:CHECK_SESSIONS]:
        cfg = SESSION_CONFIGS[p.config]
        check.count("TLS 1.2" if cfg.max_version == "1.2" else "TLS 1.3", cfg.name, len(p.bodies), 0)
    bulk = results["bulk"]

    def size(name: str) -> int:
        return os.path.getsize(os.path.join(out, name))

    manifest = {
        "generator": {
            "script": "benchmarks/make_captures.py", "python": sys.version.split()[0], "openssl": ssl.OPENSSL_VERSION,
            "sessions": args.sessions, "bulk_mb": args.bulk_mb, "seed": args.seed, "jobs": args.jobs,
            "seconds": round(time.perf_counter() - t0, 1),
        },
        "captures": {
            "sessions": {
                "file": "sessions.pcap", "keys": "sessions.keys", "bytes": size("sessions.pcap"),
                "packets": packets, "sessions": sess.sessions, "requests": sess.requests, "app_bytes": sess.app_bytes,
                "tls12_sessions": sess.tls12_sessions, "tls12_requests": sess.tls12_requests,
                "tls12_app_bytes": sess.tls12_app_bytes, "suites": dict(sorted(sess.suites.items())),
                "check": {"file": "check-sessions.pcap", "bytes": size("check-sessions.pcap"), "packets": check_packets,
                          "sessions": check.sessions, "requests": check.requests,
                          "tls12_sessions": check.tls12_sessions, "tls12_requests": check.tls12_requests},
            },
            "bulk": {
                "file": "bulk.pcap", "keys": "bulk.keys", "bytes": size("bulk.pcap"),
                "packets": bulk["packets"], "sessions": bulk["sessions"], "requests": bulk["requests"],
                "app_bytes": bulk["app_bytes"], "tls12_sessions": bulk["tls12_sessions"],
                "tls12_requests": bulk["tls12_requests"], "tls12_app_bytes": bulk["tls12_app_bytes"],
                "suites": dict(sorted(bulk["suites"].items())),
                "check": {"file": "check-bulk.pcap", "bytes": size("check-bulk.pcap"),
                          "packets": bulk["check_packets"], "sessions": bulk["sessions"],
                          "requests": bulk["requests"], "tls12_sessions": bulk["tls12_sessions"],
                          "tls12_requests": bulk["tls12_requests"]},
            },
        },
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    for c in manifest["captures"].values():
        print(f"{c['file']}: {c['packets']:,} packets, {c['bytes'] / MB:,.1f} MB, {c['sessions']:,} sessions, "
              f"{c['requests']:,} HTTP requests, {c['app_bytes'] / MB:,.1f} MB of application data "
              f"(key log {c['keys']}: {size(c['keys']) / MB:.1f} MB)")
        for suite, count in c["suites"].items():
            print(f"    {count:>7,}  {suite}")
        k = c["check"]
        print(f"  {k['file']}: {k['packets']:,} packets, {k['sessions']} sessions, {k['requests']} requests")
    print(f"done in {manifest['generator']['seconds']:.1f} s -> {os.path.join(out, 'manifest.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
