"""`dissector timeline CAPTURE...`: handshake timelines as a ladder-diagram report, SVG, CSV or JSON."""
from __future__ import annotations

import argparse
import os
import sys

from dissector import __version__
from dissector.analysis import print_progress_factory, run_captures
from dissector.commands.analyze import add_key_options
from dissector.keys import build_keystore
from dissector.output import timeline as tlmod

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_TRUNCATED = 0, 2, 3, 4
FORMATS = ("html", "svg", "csv", "json")
SUFFIXES = {".html": "html", ".htm": "html", ".svg": "svg", ".csv": "csv", ".json": "json"}


def add_parser(sub) -> None:
    p = sub.add_parser("timeline", help="handshake timelines: ladder diagrams (HTML/SVG), CSV or JSON",
                       description="Per TLS session: every TCP and TLS event with its time, direction and "
                                   "handshake phase, and the TCP connect, TLS handshake, first application data "
                                   "and session durations. The HTML report is self-contained (opens from disk, "
                                   "fetches nothing).")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), - for stdin")
    add_key_options(p)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE instead of stdout ('-': stdout; its suffix .html/.svg/.csv/.json picks the format)")
    p.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="output format (default: from the -o suffix, else html)")
    p.add_argument("--session", metavar="[N.]ID",
                   help="only this session: its id as in the report (N.ID for the Nth capture given)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def choose_format(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    if output and output != "-":
        return SUFFIXES.get(os.path.splitext(output)[1].lower(), "html")
    return "html"


def _match_session(spec: str, n_captures: int):
    """A predicate for --session: 'ID' (first capture that has it) or 'N.ID' (Nth capture, from 1).

    Raises ValueError with a sentence for a spec that names no session."""
    cap, _, sid = spec.rpartition(".")
    try:
        want_id = int(sid)
        want_cap = int(cap) - 1 if cap else None
    except ValueError:
        raise ValueError(f"--session {spec}: expected ID or N.ID (session ID of the Nth capture)") from None
    if want_cap is not None and not 0 <= want_cap < n_captures:
        raise ValueError(f"--session {spec}: there {'is' if n_captures == 1 else 'are'} {n_captures} capture(s)")
    return lambda doc: doc.get("id") == want_id and (want_cap is None or doc.get("capture_index") == want_cap)


def run(args: argparse.Namespace) -> int:
    fmt = choose_format(args.format, args.output)
    try:
        wanted = _match_session(args.session, len(args.captures)) if args.session else None
    except ValueError as exc:
        print(f"dissector timeline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    keys = build_keystore(args.keylog, args.key, args.psk)
    for source, line, reason in keys.keylog.errors[:5]:
        print(f"dissector: warning: key log {source} line {line}: {reason} (skipped)", file=sys.stderr)
    if len(keys.keylog.errors) > 5:
        print(f"dissector: warning: {len(keys.keylog.errors) - 5} more bad key log lines skipped", file=sys.stderr)
    docs: list[dict] = []

    def on_session(doc: dict) -> None:
        if wanted is None or wanted(doc):
            docs.append(doc)

    progress = None
    if not args.quiet and sys.stderr.isatty():
        progress = print_progress_factory()
    result = run_captures(args.captures, keys, on_session=on_session, progress=progress)
    if progress is not None:
        sys.stderr.write("\r" + " " * 40 + "\r")
    if wanted is not None and args.session and "." not in args.session:
        ids = {(d.get("capture_index"), d.get("id")) for d in docs}
        if len(ids) > 1:  # the same id in several captures: keep the first capture's
            first = min(i for i, _ in ids)
            docs = [d for d in docs if d.get("capture_index") == first]
    tls = tlmod.timelines(docs)
    summary = {"captures": list(args.captures), "packets": result.packets, "sessions": result.sessions,
               "decryption": result.decryption, "generator": f"dissector {__version__}"}
    if result.truncated:
        summary["truncated"] = result.truncated

    if fmt == "svg":
        if not tls:
            what = f"no TLS session {args.session}" if args.session else "no TLS session"
            print(f"dissector: error: {what} in the capture: nothing to draw", file=sys.stderr)
            return EXIT_INPUT
        text = tlmod.render_svg(tls[0], standalone=True)
    elif fmt == "csv":
        text = tlmod.csv_text(tls)
    elif fmt == "json":
        text = tlmod.json_text(tls, summary)
    else:
        text = tlmod.render_html(tls, summary)
    if args.session and not tls:
        print(f"dissector: warning: no TLS session {args.session} in the capture", file=sys.stderr)

    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    for warning in result.truncated:
        print(f"dissector: warning: {warning}", file=sys.stderr)
    return EXIT_TRUNCATED if result.truncated else EXIT_OK
