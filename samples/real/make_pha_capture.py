#!/usr/bin/env python3
"""Make openssl-tls13-pha.pcap/.keys: TLS 1.3 post-handshake client authentication (RFC 8446 4.6.2), twice.

Both peers are OpenSSL (3.0 on Debian 12) through Python's ssl module, over real sockets on 127.0.0.1, captured
by tcpdump on lo (run as root, from this directory). The client offers post_handshake_auth; the server asks for
no certificate during the handshake, then, after the client's first line, sends a CertificateRequest; the client
answers with Certificate, CertificateVerify and Finished under its application traffic keys, and the server
asks a second time later. Each post-handshake Finished covers the handshake plus that round's messages only.

    sudo ./make_pha_capture.py
"""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "openssl-tls13-pha"
PORT = 14434


def main() -> int:
    if os.geteuid() != 0:
        print("run as root (tcpdump on lo)", file=sys.stderr)
        return 2
    pcap, keys = HERE / f"{NAME}.pcap", HERE / f"{NAME}.keys"
    for f in (pcap, keys):
        f.unlink(missing_ok=True)
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "-Z", "root", "-w", str(pcap), f"tcp port {PORT}"],
                            stderr=subprocess.DEVNULL)
    time.sleep(2.5)  # tcpdump needs a moment before it captures
    try:
        exchange(keys)
    finally:
        time.sleep(0.5)
        dump.terminate()
        dump.wait()
    print(f"{pcap.name}: {pcap.stat().st_size} bytes")
    return 0


def exchange(keylog: Path) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(HERE / "server.crt.pem", HERE / "server.key.pem")
    server_ctx.verify_mode = ssl.CERT_OPTIONAL  # with post_handshake_auth: asked after the handshake, not in it
    server_ctx.load_verify_locations(HERE / "client.crt.pem")
    server_ctx.post_handshake_auth = True
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    client_ctx.load_verify_locations(HERE / "server.crt.pem")
    client_ctx.load_cert_chain(HERE / "client.crt.pem", HERE / "client.key.pem")
    client_ctx.post_handshake_auth = True
    client_ctx.keylog_filename = str(keylog)
    listener = socket.create_server(("127.0.0.1", PORT))
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as s:
                for round_ in (1, 2):
                    s.recv(100)
                    s.verify_client_post_handshake()  # the CertificateRequest goes out with the next write
                    s.sendall(b"certificate please (round %d)\n" % round_)
                    s.recv(100)  # the client's certificate flight, then its line
                    assert s.getpeercert(), "no client certificate"
                    s.sendall(b"thank you, round %d done\n" % round_)
                s.unwrap()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT)), server_hostname="localhost") as c:
        for round_ in (1, 2):
            c.sendall(b"hello before round %d\n" % round_)
            c.recv(100)
            c.sendall(b"certificate sent (round %d)\n" % round_)
            c.recv(100)
        try:
            c.unwrap()
        except (ssl.SSLError, OSError):
            pass
    thread.join()
    listener.close()
    if errors:
        raise errors[0]


if __name__ == "__main__":
    sys.exit(main())
