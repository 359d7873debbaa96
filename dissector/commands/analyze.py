"""`dissector analyze CAPTURE...`: label every TLS message, decrypt what the keys allow, report."""
from __future__ import annotations

import argparse
import sys

from dissector.analysis import print_progress_factory, run_captures
from dissector.commands.plugins import add_plugin_options, plugins_from_args
from dissector.errors import CaptureError
from dissector.keys import build_keystore
from dissector.net.decode import SUPPORTED_LINKTYPES
from dissector.output.explain import ExplainWriter
from dissector.output.formats import FORMATS
from dissector.tls import certcheck

WRITERS = {**FORMATS, "explain": ExplainWriter}  # (explain builds on the writers of formats.py)

EXIT_OK, EXIT_TRUNCATED = 0, 4


def add_key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keylog", action="append", metavar="FILE", help="NSS key log (SSLKEYLOGFILE); repeatable")
    p.add_argument("--key", action="append", metavar="[IP:PORT=]FILE[:PASSWORD]",
                   help="server RSA private key (PEM, DER, PKCS#8, PKCS#12), a server's ECH key (ECHConfig PEM) or "
                        "an OpenVPN static key (tls-crypt, tls-auth); repeatable")
    p.add_argument("--psk", action="append", metavar="[IDENTITY=]HEX",
                   help="a pre-shared key in hex (TLS 1.2 PSK suites; TLS 1.3 without (EC)DHE), optionally for one "
                        "PSK identity; repeatable")


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="label every TLS handshake message, decrypt with the given keys",
                       description="Reassemble TCP and TLS in each capture, label every handshake message and "
                                   "decrypt what the key material allows.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), - for stdin")
    add_key_options(p)
    p.add_argument("--format", "-f", choices=sorted(WRITERS), default="table", help="output format (default table)")
    p.add_argument("--ca", metavar="FILE", help="CA bundle (PEM): verify server and client certificate chains "
                                                "against it at the time of the capture")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout ('-': stdout)")
    p.add_argument("-v", "--verbose", action="store_true", help="every field of every message (table: a details pane per session; jsonl: every field)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-j", "--jobs", type=_jobs, default=0, metavar="N",
                   help="worker processes, flows sharded between them (default: one per core for captures over "
                        "64 MB, else 1; output order is the same either way)")
    add_plugin_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    plugins = plugins_from_args(args)
    keys = build_keystore(args.keylog, args.key, args.psk)
    for source, line, reason in keys.keylog.errors[:5]:
        print(f"dissector: warning: key log {source} line {line}: {reason} (skipped)", file=sys.stderr)
    if len(keys.keylog.errors) > 5:
        print(f"dissector: warning: {len(keys.keylog.errors) - 5} more bad key log lines skipped", file=sys.stderr)
    trust = certcheck.load_ca_bundle(args.ca) if getattr(args, "ca", None) else None
    previous_trust = certcheck.configure(trust)  # process-wide: SessionCollector (and forked workers) read it
    to_file = args.output and args.output != "-"
    out = open(args.output, "w", encoding="utf-8", newline="") if to_file else sys.stdout
    writer = None
    try:
        writer = WRITERS[args.format](out, verbose=args.verbose, show_secrets=args.show_secrets)
        progress = None
        if not args.quiet and sys.stderr.isatty():
            progress = print_progress_factory()
        jobs = args.jobs or auto_jobs(args.captures)
        details = writer.details or args.verbose or trust is not None  # --ca: certificates even in jsonl
        if jobs > 1:
            from dissector.parallel import run_parallel

            stats = run_parallel(args.captures, keys, jobs, jsonl=args.format == "jsonl", verbose=args.verbose,
                                 details=details, write_text=out.write, on_session=writer.session, plugins=plugins,
                                 show_secrets=args.show_secrets, progress=progress)
        else:
            result = run_captures(args.captures, keys, on_event=writer.event, on_session=writer.session,
                                  progress=progress, details=details, plugins=plugins, show_secrets=args.show_secrets,
                                  messages=writer.messages)
            stats = result.counts()
        if progress is not None:
            sys.stderr.write("\r" + " " * 40 + "\r")
        truncated = stats["truncated"]
        summary = {"captures": args.captures, **{k: stats[k] for k in ("packets", "sessions", "cleartext_sessions",
                                                                          "decryption", "non_tls_flows", "quic_packets",
                                                                          "snapped_packets", "anomalies")},
                   "keylog_bad_lines": len(keys.keylog.errors), "findings": stats["findings"]}
        if truncated:
            summary["truncated"] = truncated
        writer.end(summary)
    except BaseException:
        if writer is not None:
            writer.flush()  # what was analysed before the error is still written
        raise
    finally:
        certcheck.configure(previous_trust)
        if out is not sys.stdout:
            out.close()
    for warning in truncated:
        print(f"dissector: warning: {warning}", file=sys.stderr)
    if summary["snapped_packets"]:
        print(f"dissector: warning: {summary['snapped_packets']} packet(s) cut short by the capture's snapshot length: "
              "bytes of their streams are missing (capture again without a size limit, e.g. tcpdump -s 0)",
              file=sys.stderr)
    undecodable = summary["anomalies"].get("unsupported_linktype", 0)
    if undecodable and undecodable == summary["packets"]:
        raise CaptureError(f"no packet could be decoded: the capture's link type is not supported (supported: "
                           f"{', '.join(sorted(set(SUPPORTED_LINKTYPES.values())))})")
    if undecodable:
        print(f"dissector: warning: {undecodable} packet(s) of an unsupported link type were skipped", file=sys.stderr)
    return EXIT_TRUNCATED if truncated else EXIT_OK


def _jobs(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("--jobs takes a number from 1 to 64")
    return n


def auto_jobs(paths: list[str], threshold: int = 64 << 20) -> int:
    """One worker per core (at most 4) for large regular files, else a single process."""
    import os

    try:
        total = sum(os.path.getsize(p) for p in paths if p != "-")
    except OSError:
        return 1
    if "-" in paths or total < threshold:
        return 1
    return max(1, min(4, os.cpu_count() or 1))
