"""`dissector generate SCENARIO... -o DIR`: captures made by the in-memory reference endpoint.

For each scenario it writes, into DIR:
  NAME.pcapng         the packets, with the key log embedded in a Decryption Secrets Block before them
  NAME.pcap           the same packets as classic pcap (microseconds)
  NAME.keys           the NSS key log (SSLKEYLOGFILE format)
  NAME.key.pem        the server's private key (PKCS#8, mode 0600)
  NAME.expected.json  what the peers really did: endpoints, version, IANA suite, app data bytes + SHA-256
Existing files are left alone unless --force is given.
Exit codes: 0 done; 2 usage error (unknown or impossible scenario, files exist without --force).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from dissector import __version__
from dissector.capture.writer import LINKTYPE_ETHERNET, PcapngWriter, PcapWriter
from dissector.endpoint.pair import FixedClock, Unsupported
from dissector.endpoint.scenarios import SCENARIOS, UNSUPPORTED, Capture, build

SUFFIXES = (".pcapng", ".pcap", ".keys", ".key.pem", ".expected.json")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate", help="write sample captures made by the in-memory reference TLS endpoint",
        description=__doc__.split("\n", 1)[0].split(": ", 1)[1],
        epilog="scenarios: " + ", ".join(SCENARIOS) + " (or 'all'); --list describes them",
    )
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names, or 'all'")
    p.add_argument("-o", "--output", metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--mss", type=int, default=1460, metavar="N", help="largest TCP payload per segment (default 1460)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--start", type=float, metavar="EPOCH",
                   help="deterministic timestamps: a fixed clock starting at EPOCH instead of the real time")
    p.add_argument("--ipv6", action="store_true", help="frame the connections over ::1 instead of 127.0.0.1")
    p.add_argument("--port", type=int, default=443, metavar="PORT", help="server TCP port (default 443)")
    p.set_defaults(run=run)


def _list(out) -> int:
    width = max(len(n) for n in list(SCENARIOS) + list(UNSUPPORTED))
    for name, scenario in SCENARIOS.items():
        print(f"{name:<{width}}  {scenario.summary}", file=out)
    for name, reason in UNSUPPORTED.items():
        print(f"{name:<{width}}  (not possible with Python's ssl: {reason})", file=out)
    return 0


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_capture(cap: Capture, directory: str) -> dict[str, str]:
    """Write the five files of a capture; returns {suffix: path}."""
    import io

    paths = {s: os.path.join(directory, cap.name + s) for s in SUFFIXES}
    buf = io.BytesIO()
    ng = PcapngWriter(buf, application=f"dissector {__version__} generate")
    ng.add_interface(LINKTYPE_ETHERNET, name="lo")
    ng.write_secrets(cap.keylog.encode("ascii"))
    for ts, frame in cap.frames:
        ng.write(ts, frame)
    _write(paths[".pcapng"], buf.getvalue())
    buf = io.BytesIO()
    pc = PcapWriter(buf, LINKTYPE_ETHERNET)
    for ts, frame in cap.frames:
        pc.write(ts, frame)
    _write(paths[".pcap"], buf.getvalue())
    _write(paths[".keys"], cap.keylog.encode("ascii"))
    _write(paths[".key.pem"], cap.server_key_pem, 0o600)
    _write(paths[".expected.json"], (json.dumps(cap.expected, indent=2) + "\n").encode())
    return paths


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list(sys.stdout)
    names = list(args.scenarios)
    if "all" in names:
        names = [n for n in names if n != "all"] + [n for n in SCENARIOS if n not in names]
    if not names:
        print("dissector generate: name at least one scenario (or 'all'); --list shows them", file=sys.stderr)
        return 2
    for name in names:
        if name in UNSUPPORTED:
            print(f"dissector generate: {name}: not possible with Python's ssl: {UNSUPPORTED[name]}", file=sys.stderr)
            return 2
        if name not in SCENARIOS:
            print(f"dissector generate: unknown scenario {name!r}; --list shows them", file=sys.stderr)
            return 2
    if not args.output:
        print("dissector generate: -o DIR is required", file=sys.stderr)
        return 2
    if args.mss < 1 or args.mss > 65495:
        print("dissector generate: --mss must be between 1 and 65495", file=sys.stderr)
        return 2
    if not args.force:
        for name in names:
            for suffix in SUFFIXES:
                path = os.path.join(args.output, name + suffix)
                if os.path.exists(path):
                    print(f"dissector generate: {path} exists; use --force to overwrite", file=sys.stderr)
                    return 2
    os.makedirs(args.output, exist_ok=True)
    clock = FixedClock(args.start) if args.start is not None else time.time
    for name in dict.fromkeys(names):
        try:
            cap = build(name, mss=args.mss, clock=clock, ipv6=args.ipv6, server_port=args.port)
        except Unsupported as exc:
            print(f"dissector generate: {exc}", file=sys.stderr)
            return 2
        paths = write_capture(cap, args.output)
        sessions = cap.expected["sessions"]
        s = sessions[0]
        print(f"{name}: {len(sessions)} session(s), {len(cap.frames)} frames, {s['version']} {s['cipher_suite']}"
              f" -> {paths['.pcapng']}")
    return 0
