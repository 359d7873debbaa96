"""`dissector analyze CAPTURE...`: label every TLS message, decrypt what the keys allow, report."""
from __future__ import annotations

import argparse
import sys

from dissector.analysis import print_progress_factory, run_captures
from dissector.keys import build_keystore
from dissector.output.formats import FORMATS

EXIT_OK, EXIT_TRUNCATED = 0, 4


def add_key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keylog", action="append", metavar="FILE", help="NSS key log (SSLKEYLOGFILE); repeatable")
    p.add_argument("--key", action="append", metavar="[IP:PORT=]FILE[:PASSWORD]",
                   help="server RSA private key (PEM, DER, PKCS#8, PKCS#12); repeatable")
    p.add_argument("--psk", action="append", metavar="HEX", help="TLS 1.2 pre-shared key in hex; repeatable")


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="label every TLS handshake message, decrypt with the given keys",
                       description="Reassemble TCP and TLS in each capture, label every handshake message and "
                                   "decrypt what the key material allows.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), - for stdin")
    add_key_options(p)
    p.add_argument("--format", "-f", choices=sorted(FORMATS), default="table", help="output format (default table)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="every field of every message (jsonl)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    keys = build_keystore(args.keylog, args.key, args.psk)
    for source, line, reason in keys.keylog.errors[:5]:
        print(f"dissector: warning: key log {source} line {line}: {reason} (skipped)", file=sys.stderr)
    if len(keys.keylog.errors) > 5:
        print(f"dissector: warning: {len(keys.keylog.errors) - 5} more bad key log lines skipped", file=sys.stderr)
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        writer = FORMATS[args.format](out, verbose=args.verbose)
        progress = None
        if not args.quiet and sys.stderr.isatty():
            progress = print_progress_factory()
        result = run_captures(args.captures, keys, on_event=writer.event, on_session=writer.session, progress=progress)
        if progress is not None:
            sys.stderr.write("\r" + " " * 40 + "\r")
        summary = {
            "captures": args.captures, "packets": result.packets, "sessions": result.sessions,
            "decryption": result.decryption,
            "non_tls_flows": sum(s.non_tls_flows for s in result.pipeline_stats),
            "anomalies": _merge([s.anomalies for s in result.pipeline_stats]),
            "keylog_bad_lines": len(keys.keylog.errors),
        }
        if result.truncated:
            summary["truncated"] = result.truncated
        writer.end(summary)
    finally:
        if out is not sys.stdout:
            out.close()
    for warning in result.truncated:
        print(f"dissector: warning: {warning}", file=sys.stderr)
    return EXIT_TRUNCATED if result.truncated else EXIT_OK


def _merge(dicts: list[dict]) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out
