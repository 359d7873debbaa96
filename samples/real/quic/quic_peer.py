#!/usr/bin/env python3
"""A QUIC server and client (aioquic) for make_quic_captures.sh: the client opens one bidirectional stream, sends a
line and reads the server's echo of it; the client writes its TLS secrets (SSLKEYLOGFILE format) to a key log.

    quic_peer.py server PORT CERT KEY [--retry] [--tickets] [--forget-tickets] [--v1-only] [--draft N]
                                                  (--retry: a Retry packet first, RFC 9000 8.1.2; --v1-only: QUIC v2
                                                  is answered with Version Negotiation; --tickets: session
                                                  tickets that allow 0-RTT, kept in memory; --forget-tickets: issue
                                                  them but never find them again, so resumption and 0-RTT fail)
    quic_peer.py h3server ADDRESS PORT CERT KEY   (HTTP/3: every request gets a short text/plain answer)
    quic_peer.py client PORT KEYLOG [--cipher AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256]
                        [--v2 [--v1-too]]  (--v2: QUIC v2 only; --v1-too: v2 first, v1 after a Version Negotiation)
                        [--key-update]   (--key-update: update the 1-RTT keys (RFC 9001 6) before sending the line)
                        [--0rtt]         (--0rtt: a first connection takes a session ticket, a second one resumes
                                          with it and sends its line as 0-RTT data, before the handshake is done)
                        [--draft N]      (--draft N, server and client: only the IETF draft version 0xff0000NN;
                                          aioquic 0.8.8 speaks drafts 25-27, 0.9.20 drafts 29-32)
"""
from __future__ import annotations

import asyncio
import inspect
import ssl
import sys

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite

ALPN = ["echo"]
H3_BODY = b"hello over HTTP/3\n"


class Echo(QuicConnectionProtocol):
    def quic_event_received(self, event) -> None:
        if isinstance(event, StreamDataReceived):
            self._quic.send_stream_data(event.stream_id, b"echo: " + event.data, end_stream=event.end_stream)
            self.transmit()


class H3Server(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from aioquic.h3.connection import H3Connection

        self.h3 = H3Connection(self._quic)

    def quic_event_received(self, event) -> None:
        from aioquic.h3.events import HeadersReceived

        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.h3.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-type", b"text/plain"),
                                                    (b"content-length", str(len(H3_BODY)).encode())])
                self.h3.send_data(ev.stream_id, H3_BODY, end_stream=True)
        self.transmit()


async def run_h3_server(address: str, port: int, cert: str, key: str) -> None:
    from aioquic.h3.connection import H3_ALPN

    cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    cfg.load_cert_chain(cert, key)
    await serve(address, port, configuration=cfg, create_protocol=H3Server)
    print("listening", flush=True)
    await asyncio.Future()


def draft_versions() -> list | None:
    """[the draft version] of --draft N, else None (the aioquic of the day's own versions)."""
    if "--draft" not in sys.argv:
        return None
    return [QuicProtocolVersion(0xFF000000 + int(sys.argv[sys.argv.index("--draft") + 1]))]


async def run_server(port: int, cert: str, key: str, retry: bool, tickets: bool, forget: bool = False,
                     v1_only: bool = False) -> None:
    versions = draft_versions() or [QuicProtocolVersion.VERSION_1] + ([] if v1_only else [QuicProtocolVersion.VERSION_2])
    cfg = QuicConfiguration(is_client=False, alpn_protocols=ALPN, supported_versions=versions)
    cfg.load_cert_chain(cert, key)
    store: dict = {}
    ticket_options = {"session_ticket_handler": lambda t: store.__setitem__(t.ticket, t),
                      "session_ticket_fetcher": (lambda t: None) if forget else store.pop} if tickets else {}
    if "stateless_retry" in inspect.signature(serve).parameters:  # aioquic before 0.9
        ticket_options["stateless_retry"] = retry
    else:
        ticket_options["retry"] = retry
    await serve("127.0.0.1", port, configuration=cfg, create_protocol=Echo, **ticket_options)
    print("listening", flush=True)
    await asyncio.Future()


async def run_client_0rtt(port: int, keylog: str) -> None:
    tickets: list = []
    with open(keylog, "a") as log:
        for attempt in range(2):
            cfg = QuicConfiguration(is_client=True, alpn_protocols=ALPN, server_name="localhost")
            cfg.verify_mode = ssl.CERT_NONE
            cfg.secrets_log_file = log
            if tickets:
                cfg.session_ticket = tickets[-1]
            async with connect("127.0.0.1", port, configuration=cfg, session_ticket_handler=tickets.append,
                               wait_connected=not tickets) as proto:
                reader, writer = await proto.create_stream()  # the second time: before the handshake is done
                writer.write(b"hello over QUIC, %s\n" % (b"in 0-RTT" if attempt else b"taking a ticket"))
                writer.write_eof()
                print((await reader.read()).decode().strip(), flush=True)
                await asyncio.sleep(0.2)  # the NewSessionTicket comes after the handshake


async def run_client(port: int, keylog: str, cipher: str | None, v2: bool, key_update: bool = False,
                     v1_too: bool = False) -> None:
    cfg = QuicConfiguration(is_client=True, alpn_protocols=ALPN, server_name="localhost")
    cfg.verify_mode = ssl.CERT_NONE
    if cipher:
        cfg.cipher_suites = [CipherSuite[cipher]]
    if v2:
        cfg.original_version = QuicProtocolVersion.VERSION_2
        cfg.supported_versions = [QuicProtocolVersion.VERSION_2] + ([QuicProtocolVersion.VERSION_1] if v1_too else [])
    drafts = draft_versions()
    if drafts:  # (aioquic before 0.9.21 starts in its first supported version; it has no original_version)
        cfg.supported_versions = drafts
    with open(keylog, "a") as log:
        cfg.secrets_log_file = log
        async with connect("127.0.0.1", port, configuration=cfg) as proto:
            if key_update:
                await proto.ping()  # a round trip: the server's HANDSHAKE_DONE has come, the handshake is confirmed
                proto._quic.request_key_update()  # the line and the echo travel under the next generation of keys
            reader, writer = await proto.create_stream()
            writer.write(b"hello over QUIC\n")
            writer.write_eof()
            print((await reader.read()).decode().strip(), flush=True)


def main() -> None:
    role = sys.argv[1]
    if role == "h3server":
        asyncio.run(run_h3_server(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
        return
    port = int(sys.argv[2])
    if role == "server":
        asyncio.run(run_server(port, sys.argv[3], sys.argv[4], "--retry" in sys.argv, "--tickets" in sys.argv,
                               "--forget-tickets" in sys.argv, "--v1-only" in sys.argv))
    elif "--0rtt" in sys.argv:
        asyncio.run(run_client_0rtt(port, sys.argv[3]))
    else:
        cipher = sys.argv[sys.argv.index("--cipher") + 1] if "--cipher" in sys.argv else None
        asyncio.run(run_client(port, sys.argv[3], cipher, "--v2" in sys.argv, "--key-update" in sys.argv,
                               "--v1-too" in sys.argv))


if __name__ == "__main__":
    main()
