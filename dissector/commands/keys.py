"""`dissector keys CAPTURE... --key ... -o FILE`: an NSS key log for every session that could be decrypted.

What an RSA key (or a PSK, or the session cache) unlocked becomes CLIENT_RANDOM lines that Wireshark,
tshark or any other tool can reuse without the private key. A TLS 1.3 session whose server accepted
Encrypted Client Hello is named by its inner ClientHello's random (RFC 9850); its secrets are written under
the outer ClientHello's random too, for tools that cannot open the inner hello (Wireshark 4.0).
"""
from __future__ import annotations

import argparse
import os
import sys

from dissector.analysis import run_captures
from dissector.commands.analyze import add_key_options
from dissector.errors import DissectorError
from dissector.keys import build_keystore

TLS13_LABELS = ("CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET")


def add_parser(sub) -> None:
    p = sub.add_parser("keys", help="write an NSS key log for every session that could be decrypted",
                       description="Derive the secrets of every decryptable session (e.g. with a server RSA key) and "
                                   "write them as an NSS key log (SSLKEYLOGFILE format).")
    p.add_argument("captures", nargs="+", metavar="CAPTURE")
    add_key_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="key log file to write ('-' for stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.output != "-" and os.path.exists(args.output) and not args.force:
        raise DissectorError(f"{args.output} exists; use --force to overwrite")
    keys = build_keystore(args.keylog, args.key, args.psk)
    randoms: list[bytes] = []
    outer: dict[int, bytes] = {}  # flow id -> the random of its last ClientHello
    aliases: dict[bytes, bytes] = {}  # ECH: inner random -> outer random
    decrypted = [0]

    def on_session(doc: dict) -> None:
        if doc["decryption"]["status"] == "decrypted":
            decrypted[0] += 1

    def on_event(ev) -> None:
        name = type(ev).__name__
        if name == "TLSMessage" and ev.type == "ClientHello" and ev.code == 1:
            randoms.append(bytes(ev.body[2:34]))
            outer[ev.flow.id] = bytes(ev.body[2:34])
        elif name == "Decryption" and ev.key_random:  # ECH: the key log names the session by its inner hello
            randoms.append(ev.key_random)
            if ev.flow.id in outer:
                aliases[ev.key_random] = outer[ev.flow.id]

    run_captures(args.captures, keys, on_event=on_event, on_session=on_session, details=False)
    lines = ["# written by dissector keys from " + ", ".join(args.captures)]
    seen = set()
    for cr, master in keys.learned.items():  # every TLS <= 1.2 master secret a session established
        seen.add(cr)
        lines.append(f"CLIENT_RANDOM {cr.hex()} {master.hex()}")
    for cr in randoms:  # TLS 1.3: the traffic secrets that were used
        if cr in seen:
            continue
        seen.add(cr)
        for label in TLS13_LABELS:
            secret = keys.keylog.get(label, cr)
            if secret is not None:
                lines.append(f"{label} {cr.hex()} {secret.hex()}")
                if cr in aliases:
                    lines.append(f"{label} {aliases[cr].hex()} {secret.hex()}")
    text = "\n".join(lines) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    print(f"{len(lines) - 1} key log line(s) for {decrypted[0]} decrypted session(s) written to {args.output}",
          file=sys.stderr)
    return 0
