"""`dissector follow CAPTURE --session N`: one session's decrypted conversation, like tshark's follow; with
`--stream ID`, one QUIC stream, or one HTTP/2 or HTTP/3 request stream (its header blocks decoded, its DATA),
like tshark's `-z follow,http2`."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from dissector.analysis import run_captures
from dissector.commands.analyze import add_key_options
from dissector.errors import DissectorError
from dissector.events import AppData, Event, Flow, SessionInfo, TLSMessage
from dissector.keys import build_keystore


def add_parser(sub) -> None:
    p = sub.add_parser("follow", help="print one session's decrypted conversation (ascii or hex)",
                       description="Print the application data of one TLS session in wire order, each chunk marked "
                                   "with its direction, like tshark's 'Follow TLS Stream'.")
    p.add_argument("capture", metavar="CAPTURE")
    add_key_options(p)
    p.add_argument("--session", "-s", type=int, required=True, metavar="N", help="session id (see analyze)")
    p.add_argument("--stream", type=int, metavar="ID",
                   help="only this stream: a QUIC stream (each chunk is marked with its stream otherwise), or an "
                        "HTTP/2 or HTTP/3 request stream, its header blocks decoded and its DATA")
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


def _arrow(flow: Flow, direction: str) -> str:
    return f"{flow.client} -> {flow.server}" if direction == "client" else f"{flow.server} -> {flow.client}"


def _request_streams(tap: Callable[..., None]) -> tuple[Callable[[AppData], None], Callable[[AppData], None]]:
    """What feeds a session's decrypted bytes to the bundled HTTP/2 or HTTP/3 plugin's connection reader, which hands
    `tap` each header block and DATA chunk with its request stream: (TCP bytes -> HTTP/2, QUIC stream bytes ->
    HTTP/3). A TCP session that is not HTTP/2 gives it nothing."""
    try:
        from dissector_plugins.http import OAuth2Links
        from dissector_plugins.http2 import H2Connection
        from dissector_plugins.http3 import H3Connection
    except ImportError:
        raise DissectorError("--stream reads HTTP/2 and HTTP/3 with the bundled plugins, which cannot be imported "
                             "(reinstall dissector)") from None
    conns: dict[str, Any] = {}

    def http2(ev: AppData) -> None:
        if "h2" not in conns:
            conns["h2"] = H2Connection(ev.flow, OAuth2Links(), tap)
        conns["h2"].feed(ev.direction, ev.data, ev.ts)

    def http3(ev: AppData) -> None:
        if "h3" not in conns:
            conns["h3"] = H3Connection(ev.flow, OAuth2Links(), tap)
        conns["h3"].feed(ev.direction, ev.stream, ev.data, ev.ts, ev.fin)

    return http2, http3


def run(args: argparse.Namespace) -> int:
    keys = build_keystore(args.keylog, args.key, args.psk)
    state = {"found": False, "status": None, "undecrypted": 0, "streams": set()}
    offsets: dict[tuple[str, int | None], int] = {}  # (direction, stream) -> bytes shown so far
    raw_out = sys.stdout.buffer
    flows: list[Flow] = []

    def show(direction: str, stream: int | None, data: bytes, ts: float, flow: Flow, what: str = "") -> None:
        if args.format == "raw":
            raw_out.write(data)
            return
        off = offsets.get((direction, stream), 0)
        mark = (f" stream {stream}" if stream is not None else "") + what
        print(f"=== {ts:.6f} {direction}{mark} ({_arrow(flow, direction)}) {len(data)} bytes")
        print(hexdump(data, off) if args.format == "hex" else printable(data))
        offsets[(direction, stream)] = off + len(data)

    def request_tap(direction: str, stream: int, kind: str, payload, ts: float) -> None:
        state["streams"].add(stream)
        if stream != args.stream:
            return
        if kind == "data":
            show(direction, stream, payload, ts, flows[0], " DATA")
        elif args.format == "raw":
            return
        elif kind == "headers":
            print(f"=== {ts:.6f} {direction} stream {stream} HEADERS ({_arrow(flows[0], direction)})")
            print("\n".join(f"{name}: {value}" for name, value in payload))
        else:
            print(f"=== {ts:.6f} {direction} stream {stream} RST_STREAM ({_arrow(flows[0], direction)}) {payload}")

    http2, http3 = _request_streams(request_tap) if args.stream is not None else (None, None)
    alpn: list[str] = []  # the session's, once its ServerHello says

    def on_event(ev: Event) -> None:
        if ev.flow is None or ev.flow.id != args.session:
            return
        state["found"] = True
        if not flows:
            flows.append(ev.flow)
        if type(ev) is AppData:
            if ev.data is None:
                state["undecrypted"] += 1
                return
            if ev.stream is None and http2 is not None:  # a TCP session's stream: HTTP/2's
                http2(ev)
                return
            if ev.stream is not None:
                state["streams"].add(ev.stream)
                if http3 is not None and alpn and alpn[-1].startswith("h3"):
                    http3(ev)  # (every stream: the control and QPACK streams decode the request streams)
                    if args.stream % 4 == 0:  # a request stream: shown decoded, by the tap
                        return
            if args.stream is not None and ev.stream != args.stream:
                return
            show(ev.direction, ev.stream, ev.data, ev.ts, ev.flow)
        elif type(ev) is SessionInfo:
            alpn.append((ev.alpn or "").lower())
        elif type(ev) is TLSMessage and ev.type == "Alert" and args.format != "raw":
            print(f"=== {ev.ts:.6f} {ev.direction} alert {ev.info.get('level')} {ev.info.get('description')}")

    def on_session(doc: dict) -> None:
        if doc["id"] == args.session:
            state["status"] = doc["decryption"]

    run_captures([args.capture], keys, on_event=on_event, on_session=on_session, details=False)
    if not state["found"]:
        raise DissectorError(f"no session {args.session} in {args.capture} (dissector analyze lists them)")
    if args.stream is not None and args.stream not in state["streams"]:
        known = ", ".join(str(n) for n in sorted(state["streams"])) or "none (not a decrypted QUIC or HTTP/2 session)"
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
