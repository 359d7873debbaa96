"""`dissector follow CAPTURE --session N`: one session's decrypted conversation, like tshark's follow."""
from __future__ import annotations

import argparse
import sys

from dissector.analysis import run_captures
from dissector.commands.analyze import add_key_options
from dissector.errors import DissectorError
from dissector.events import AppData, Event, TLSMessage
from dissector.keys import build_keystore


def add_parser(sub) -> None:
    p = sub.add_parser("follow", help="print one session's decrypted conversation (ascii or hex)",
                       description="Print the application data of one TLS session in wire order, each chunk marked "
                                   "with its direction, like tshark's 'Follow TLS Stream'.")
    p.add_argument("capture", metavar="CAPTURE")
    add_key_options(p)
    p.add_argument("--session", "-s", type=int, required=True, metavar="N", help="session id (see analyze)")
    p.add_argument("--stream", type=int, metavar="ID",
                   help="QUIC: only this stream (each chunk is marked with its stream otherwise)")
    p.add_argument("--format", choices=["ascii", "hex", "raw"], default="ascii",
                   help="ascii (non-printable bytes as '.'), hex (a hex dump) or raw (the bytes only, to a file)")
    p.set_defaults(run=run)


def hexdump(data: bytes, offset: int = 0) -> str:
    lines = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset + i:08x}  {hexpart:<47}  {text}")
    return "\n".join(lines)


def printable(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 or b in (9, 10, 13) else "." for b in data)


def run(args: argparse.Namespace) -> int:
    keys = build_keystore(args.keylog, args.key, args.psk)
    state = {"found": False, "status": None, "undecrypted": 0, "streams": set()}
    offsets: dict[tuple[str, int | None], int] = {}  # (direction, QUIC stream) -> bytes shown so far
    raw_out = sys.stdout.buffer

    def on_event(ev: Event) -> None:
        if ev.flow is None or ev.flow.id != args.session:
            return
        state["found"] = True
        if type(ev) is AppData:
            if ev.data is None:
                state["undecrypted"] += 1
                return
            if ev.stream is not None:
                state["streams"].add(ev.stream)
            if args.stream is not None and ev.stream != args.stream:
                return
            if args.format == "raw":
                raw_out.write(ev.data)
                return
            arrow = f"{ev.flow.client} -> {ev.flow.server}" if ev.direction == "client" else \
                f"{ev.flow.server} -> {ev.flow.client}"
            off = offsets.get((ev.direction, ev.stream), 0)
            stream = f" stream {ev.stream}" if ev.stream is not None else ""
            print(f"=== {ev.ts:.6f} {ev.direction}{stream} ({arrow}) {len(ev.data)} bytes")
            print(hexdump(ev.data, off) if args.format == "hex" else printable(ev.data))
            offsets[(ev.direction, ev.stream)] = off + len(ev.data)
        elif type(ev) is TLSMessage and ev.type == "Alert" and args.format != "raw":
            print(f"=== {ev.ts:.6f} {ev.direction} alert {ev.info.get('level')} {ev.info.get('description')}")

    def on_session(doc: dict) -> None:
        if doc["id"] == args.session:
            state["status"] = doc["decryption"]

    run_captures([args.capture], keys, on_event=on_event, on_session=on_session, details=False)
    if not state["found"]:
        raise DissectorError(f"no session {args.session} in {args.capture} (dissector analyze lists them)")
    if args.stream is not None and args.stream not in state["streams"]:
        known = ", ".join(str(n) for n in sorted(state["streams"])) or "none (not a decrypted QUIC session)"
        raise DissectorError(f"session {args.session} has no decrypted stream {args.stream}; its streams: {known}")
    status = state["status"]
    if status and status["status"] != "decrypted":
        print(f"dissector: session {args.session} was not decrypted: {status['status']}"
              + (f" ({status['detail']})" if status["detail"] else ""), file=sys.stderr)
        return 0
    if state["undecrypted"]:
        print(f"dissector: {state['undecrypted']} record(s) of session {args.session} could not be decrypted",
              file=sys.stderr)
    return 0
