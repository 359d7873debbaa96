"""`dissector serve`: a real TLS server on loopback that narrates every handshake it does.

It serves a small HTTP/1.1 application (a page, a login that sets a session cookie, Basic and Bearer
authorization, an OAuth2 authorization-code flow) so that clients such as curl, `openssl s_client` or
`dissector connect` produce traffic worth analysing. At the end of each connection it prints the handshake,
message by message with timings, as dissector's own parser reads it (decrypted with the key log the server
writes). With --capture it also writes the traffic as a pcapng with the key log embedded.

Exit codes: 0 stopped cleanly (Ctrl-C, or --once after one connection); 2 usage error (incompatible options,
a file that exists without --force); 3 cannot serve (port in use, unreadable or bad certificate/key/CA, a
version/suite combination this OpenSSL cannot do).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from dissector.endpoint.webapp import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USER

VERSIONS = ["1.0", "1.1", "1.2", "1.3"]
EXIT_USAGE, EXIT_SERVE = 2, 3


def add_tls_options(p: argparse.ArgumentParser) -> None:
    """The TLS options `serve` and `connect` share."""
    g = p.add_argument_group("TLS")
    g.add_argument("--tls-min", choices=VERSIONS, metavar="VERSION", help="lowest TLS version: 1.0, 1.1, 1.2 or 1.3")
    g.add_argument("--tls-max", choices=VERSIONS, metavar="VERSION", help="highest TLS version: 1.0, 1.1, 1.2 or 1.3")
    g.add_argument("--ciphers", metavar="LIST",
                   help="OpenSSL cipher string for TLS 1.0-1.2, e.g. AES128-SHA (RSA key exchange) or "
                        "ECDHE-RSA-AES128-GCM-SHA256 (default: OpenSSL's DEFAULT, as openssl s_client and curl use, "
                        "not Python's stricter list); TLS 1.0/1.1 need ':@SECLEVEL=0' with this OpenSSL")
    g.add_argument("--tls13-ciphers", metavar="LIST",
                   help="TLS 1.3 suites, e.g. TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256")
    g.add_argument("--groups", metavar="LIST", help="key exchange groups in preference order, e.g. X25519:P-256")
    g.add_argument("--cert", metavar="FILE",
                   help="certificate (chain), PEM or DER: the server's for serve, the client's for connect")
    g.add_argument("--key", metavar="FILE", help="private key of --cert, PEM or DER, not encrypted")
    g.add_argument("--ca", metavar="FILE", help="CA certificates (PEM) to verify the peer's certificate with")
    g.add_argument("--alpn", metavar="LIST", help="ALPN protocols, comma-separated, e.g. http/1.1")
    g.add_argument("--no-tickets", action="store_true",
                   help="no session tickets (TLS 1.2 resumption by session ID; OpenSSL's SSL_OP_NO_TICKET)")
    g.add_argument("--keylog", metavar="FILE", help="append the NSS key log (SSLKEYLOGFILE format) to FILE (mode 0600)")
    g.add_argument("--capture", metavar="FILE.pcapng",
                   help="write the traffic as pcapng, with the key log in a Decryption Secrets Block")
    g.add_argument("--force", action="store_true", help="overwrite existing output files")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def alpn_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [p.strip() for p in text.split(",") if p.strip()] or None


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="run a TLS server on loopback that narrates each handshake (HTTP/1.1 demo application)",
        description=_sentence(__doc__.split("\n\n")[0].split(": ", 1)[1]) + " " + __doc__.split("\n\n")[1].replace("\n", " "),
        epilog=f"The application: GET / ; POST /login (user={DEMO_USER}&password={DEMO_PASSWORD}) sets a session "
               "cookie; GET /basic needs HTTP Basic; GET /api/me and GET /resource need a Bearer token; OAuth2: "
               f"GET /authorize?response_type=code&client_id={DEMO_CLIENT_ID}&redirect_uri=...&scope=...&state=... "
               f"then POST /token (client_secret={DEMO_CLIENT_SECRET}). Without --cert/--key a self-signed pair is "
               "written to --out-dir. `dissector connect 127.0.0.1:8443 --insecure` or "
               "`curl --insecure https://127.0.0.1:8443/` talk to it.",
    )
    p.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8443, help="TCP port (default 8443; 0 picks a free port)")
    add_tls_options(p)
    p.add_argument("--ecdsa", action="store_true", help="generate an ECDSA P-256 certificate instead of RSA 2048")
    p.add_argument("--out-dir", default=".", metavar="DIR",
                   help="where the generated certificate and key go (default: the current directory)")
    p.add_argument("--require-client-cert", action="store_true",
                   help="mutual TLS: require a client certificate signed by a CA in --ca")
    p.add_argument("--max-early-data", type=int, default=0, metavar="BYTES",
                   help="TLS 1.3: accept 0-RTT early data up to BYTES in resumed sessions (default 0: none)")
    p.add_argument("--allow-renegotiation", action="store_true",
                   help="TLS 1.2: accept client-initiated renegotiation (OpenSSL 3 refuses it by default)")
    p.add_argument("--once", action="store_true", help="serve one connection, then exit")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="close a connection that stays silent this long (default 30)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dissector.endpoint.server import ServeConfig, ServeError, Server, UsageError

    cfg = ServeConfig(
        bind=args.bind, port=args.port, tls_min=args.tls_min, tls_max=args.tls_max, ciphers=args.ciphers,
        tls13_ciphers=args.tls13_ciphers, groups=args.groups, cert=args.cert, key=args.key, ecdsa=args.ecdsa,
        out_dir=args.out_dir, require_client_cert=args.require_client_cert, ca=args.ca, alpn=alpn_list(args.alpn),
        no_tickets=args.no_tickets, max_early_data=args.max_early_data,
        allow_renegotiation=args.allow_renegotiation, keylog=args.keylog, capture=args.capture,
        once=args.once, force=args.force, timeout=args.timeout,
    )
    if args.timeout <= 0:
        print("dissector serve: error: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    server = Server(cfg)
    try:
        server.setup()
    except UsageError as exc:
        print(f"dissector serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServeError as exc:
        print(f"dissector serve: error: {exc}", file=sys.stderr)
        return EXIT_SERVE
    previous: dict = {}
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, frame):  # SIGTERM shuts down as cleanly as Ctrl-C
            raise KeyboardInterrupt

        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, on_term)
        # Ctrl-C must work even when started from a shell that ignores SIGINT for background jobs
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted = False
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            server.close()
        except KeyboardInterrupt:
            pass
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(f"dissector serve: {'stopped' if interrupted else 'done'}: {server.summary()}", file=sys.stderr, flush=True)
    return 0
