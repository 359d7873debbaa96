"""`dissector live -i IFACE`: capture on an interface and analyse it as it happens.

The same chain as for files (`analysis.Analysis`: `Pipeline` -> plugins -> `SessionCollector`), fed from
`capture.live.LiveCapture` instead of a file: jsonl prints each event as it happens, table prints each
session when it ends. The key logs given with --keylog are re-read while capturing, so a browser or curl
started with SSLKEYLOGFILE decrypts live; a key log that does not exist yet is read once it appears.

The key log race. A client writes its key log line at about the moment it sends the messages that need
it, and the analysis looks keys up exactly once: at the ServerHello for TLS 1.3, at the ChangeCipherSpec
for TLS <= 1.2. Reading the log "often" still loses that race. So `KeyWait` holds back the frames of a TLS
flow whose client random (known once its ClientHello went through the pipeline) does not yet have a
complete set of key log entries: from the flow's next frame carrying data, until the entries appear or
`--key-wait` seconds (default 1) pass. While frames are held the key log is re-read every few ms, so the
delay is the client's own processing time plus a few ms. Held frames are released in capture order and
keep their capture timestamps, so the analysis is exactly what a file with the key log would give. The
core stays sans-IO and unchanged: waiting is wall-clock policy and lives here, at the edge.

Ctrl-C (SIGINT) or SIGTERM, --count and --duration stop cleanly: held frames get their last chance at the
key log, open flows are finished, output is flushed, the pcapng (-w) is closed and a summary (packets,
sessions, decryption, kernel drops) goes to stderr.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

from dissector.commands.analyze import add_key_options
from dissector.commands.plugins import add_plugin_options, plugins_from_args
from dissector.errors import MalformedInput
from dissector.keys import build_keystore

KEYLOG_INTERVAL = 0.5  # seconds between key log re-reads when nothing waits for a key
HOLD_INTERVAL = 0.001  # ... and while frames wait for one
STATUS_INTERVAL = 0.5
TLS13_SECRETS = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                 "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")


def add_parser(sub) -> None:
    p = sub.add_parser("live", help="capture on an interface and analyse TLS as it happens (root or CAP_NET_RAW)",
                       description="Capture on a network interface and analyse it as it happens: each handshake "
                                   "message as it is seen (--format jsonl) or each session when it ends (table). "
                                   "Key logs are re-read as they grow, so a client started with SSLKEYLOGFILE "
                                   "decrypts live. Ctrl-C stops and prints a summary on stderr.")
    p.add_argument("-i", "--interface", required=True, metavar="IFACE", help="interface to capture on, e.g. lo")
    p.add_argument("-f", "--filter", metavar="BPF", help='capture filter in tcpdump syntax, e.g. "tcp port 443"')
    add_key_options(p)
    p.add_argument("-w", "--write", metavar="FILE", help="also write the capture to FILE (pcapng, with the key "
                                                         "log lines of its sessions embedded)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table", help="output format (default table)")
    p.add_argument("-c", "--count", type=_positive_int, metavar="N", help="stop after N packets")
    p.add_argument("--duration", type=_positive_float, metavar="SECONDS", help="stop after SECONDS")
    p.add_argument("--key-wait", type=_non_negative_float, default=1.0, metavar="SECONDS",
                   help="how long a TLS flow's packets may wait for its key log lines (default 1; 0: never wait)")
    p.add_argument("--promisc", action="store_true", help="put the interface in promiscuous mode")
    p.add_argument("-v", "--verbose", action="store_true", help="every field of every message (jsonl)")
    p.add_argument("-q", "--quiet", action="store_true", help="no banner, status line or summary on stderr")
    add_plugin_options(p)
    p.set_defaults(run=run)


# ---------------------------------------------------------------------------------------------------------
# waiting for key log lines


def frame_item(n: int, ts: float, linktype: int, frame: bytes) -> list:
    """`[n, ts, linktype, frame, key, payload length]`: key is the flow key the pipeline files the frame under,
    (src, sport, dst, dport) for TCP and (src, sport, dst, dport, 17) for DTLS over UDP; None when it is neither
    (or malformed: the pipeline reports that)."""
    from dissector.net.decode import UDP_DATAGRAM, decode_frame

    try:
        seg = decode_frame(linktype, frame)
    except MalformedInput:
        seg = None
    if seg is None:
        return [n, ts, linktype, frame, None, 0]
    key = (seg.src, seg.sport, seg.dst, seg.dport) + ((17,) if seg.flags & UDP_DATAGRAM else ())
    return [n, ts, linktype, frame, key, len(seg.payload)]


def client_random(pipe: Any, key: tuple | None) -> bytes:
    """The client random of the TLS session on this flow, once its ClientHello went through the pipeline."""
    return pipe.client_random(key) if key is not None else b""


class _Held:
    __slots__ = ("cr", "deadline", "items", "since")

    def __init__(self, cr: bytes, deadline: float, since: float) -> None:
        self.cr = cr
        self.deadline = deadline
        self.since = since
        self.items: list[list] = []


class KeyWait:
    """Holds back a TLS flow's frames until the key log has its secrets, or `wait` seconds pass.

    `offer(item)` returns the items that may be fed now (in order); `release(now)` returns held items
    whose keys arrived or whose time is up, in capture order. Items come from `frame_item`. A client random counts as keyed when the key log has its TLS <= 1.2 master (or pre-master)
    secret, or all four TLS 1.3 traffic secrets (the version is not known before the ServerHello, which
    is itself held). Each client random is waited for at most once.
    """

    def __init__(self, pipe: Any, keylog: Any, wait: float, refresh: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, max_frames: int = 20_000,
                 max_bytes: int = 64 << 20) -> None:
        self.pipe = pipe
        self.keylog = keylog
        self.wait = wait
        self.refresh = refresh
        self.clock = clock
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.held: dict[tuple, _Held] = {}  # both directions' flow keys -> the same _Held
        self.decided: OrderedDict[bytes, bool] = OrderedDict()  # client random -> keyed (True) or gave up
        self.held_bytes = 0
        self.waits = 0  # flows that had to wait
        self.timeouts = 0  # ... and whose keys never came
        self.waited = 0.0  # total seconds waited by flows whose keys came
        self.max_waited = 0.0

    @property
    def holding(self) -> bool:
        return bool(self.held)

    def next_deadline(self) -> float | None:
        return min((h.deadline for h in self.held.values()), default=None)

    def keyed(self, cr: bytes) -> bool:
        get = self.keylog.get
        if get("CLIENT_RANDOM", cr) is not None or get("PMS_CLIENT_RANDOM", cr) is not None:
            return True
        return all(get(label, cr) is not None for label in TLS13_SECRETS)

    def offer(self, item: list) -> list[list]:
        key = item[4]
        if key is None:
            return [item]
        held = self.held.get(key)
        if held is not None:
            held.items.append(item)
            self.held_bytes += len(item[3])
            if len(held.items) > self.max_frames or self.held_bytes > self.max_bytes:
                return self._release(held, self.clock(), gave_up=True)
            return []
        if self.wait <= 0 or not item[5]:
            return [item]  # a frame with no data cannot trigger a key lookup
        cr = client_random(self.pipe, key)
        if not cr or cr in self.decided:
            return [item]
        if not self.keyed(cr) and self.refresh is not None:
            self.refresh()  # the line may have been written since the last read
        if self.keyed(cr):
            self._decide(cr, True)
            return [item]
        now = self.clock()
        held = _Held(cr, now + self.wait, now)
        held.items.append(item)
        self.held_bytes += len(item[3])
        src, sport, dst, dport = key[:4]
        self.held[key] = self.held[(dst, dport, src, sport, *key[4:])] = held
        self.waits += 1
        return []

    def release(self, now: float, force: bool = False) -> list[list]:
        out: list[list] = []
        for held in {id(h): h for h in self.held.values()}.values():
            if self.keyed(held.cr):
                out += self._release(held, now, gave_up=False)
            elif force or now >= held.deadline:
                out += self._release(held, now, gave_up=True)
        if len(out) > 1:
            out.sort(key=lambda it: it[0])
        return out

    def _release(self, held: _Held, now: float, gave_up: bool) -> list[list]:
        for k in [k for k, h in self.held.items() if h is held]:
            del self.held[k]
        self.held_bytes -= sum(len(it[3]) for it in held.items)
        if gave_up:
            self.timeouts += 1
        else:
            self.waited += now - held.since
            self.max_waited = max(self.max_waited, now - held.since)
        self._decide(held.cr, not gave_up)
        return held.items

    def _decide(self, cr: bytes, keyed: bool) -> None:
        self.decided[cr] = keyed
        while len(self.decided) > 100_000:
            self.decided.popitem(last=False)


# ---------------------------------------------------------------------------------------------------------
# the command


class _Console:
    """stdout for the output writer, and a status line on stderr that never mixes into it."""

    def __init__(self, out: IO[str], err: IO[str], status: bool) -> None:
        self.out = out
        self.err = err
        self.status = status
        self.shown = False
        self.dirty = False

    def write(self, text: str) -> int:
        if self.shown:
            self.clear()
        self.dirty = True
        return self.out.write(text)

    def flush(self) -> None:
        if self.dirty:
            self.out.flush()
            self.dirty = False

    def __getattr__(self, name: str) -> Any:  # anything else a writer may ask of its stream
        return getattr(self.out, name)

    def show(self, text: str) -> None:
        if self.status:
            self.err.write("\r" + text[:160] + "\033[K")
            self.err.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.err.write("\r\033[K")
            self.err.flush()
            self.shown = False


def run(args: argparse.Namespace) -> int:
    from dissector.analysis import Analysis
    from dissector.capture.live import LiveCapture, LiveRecorder
    from dissector.net.decode import SUPPORTED_LINKTYPES
    from dissector.output.formats import FORMATS

    plugins = plugins_from_args(args)
    err = sys.stderr
    keys = build_keystore(None, args.key, args.psk)
    waiting_for: list[str] = []  # key logs that do not exist yet
    for path in args.keylog or []:
        if os.path.exists(path):
            keys.keylog.load(path)
        else:
            waiting_for.append(path)
            print(f"dissector: warning: key log {path} does not exist yet; it is read when it appears", file=err)
    for source, line, reason in keys.keylog.errors[:5]:
        print(f"dissector: warning: key log {source} line {line}: {reason} (skipped)", file=err)

    cap = LiveCapture(args.interface, args.filter, promisc=args.promisc)
    recorder = None
    try:
        if args.write:
            recorder = LiveRecorder(args.write, cap.linktype, args.interface, list(args.keylog or []))
        console = _Console(sys.stdout, err, status=not args.quiet and err.isatty())
        writer = FORMATS[args.format](console, verbose=args.verbose)

        def session_done(doc: dict) -> None:
            doc["interface"] = args.interface
            writer.session(doc)

        analysis = Analysis(keys, writer.event, session_done, plugins, args.show_secrets,
                            details=writer.details or args.verbose, messages=writer.messages)
        pipe = analysis.pipe
        last_refresh = [time.monotonic()]

        def refresh_keys() -> None:
            last_refresh[0] = time.monotonic()
            for path in list(waiting_for):
                if os.path.exists(path):
                    try:
                        keys.keylog.load(path)
                    except Exception:  # noqa: BLE001 - still being created: try again next time
                        continue
                    waiting_for.remove(path)
            keys.keylog.refresh()
            if recorder is not None:
                recorder.sync()  # after the KeyStore: the file then holds at least what the analysis knows

        gate = KeyWait(pipe, keys.keylog, args.key_wait if args.keylog else 0.0, refresh_keys)
        feed = analysis.feed

        def process(item: list) -> None:
            _, ts, linktype, frame, key, _ = item
            evs = feed(ts, linktype, frame)
            if recorder is not None:
                cr = client_random(pipe, key)
                if cr:
                    recorder.want(cr)
                recorder.write(ts, frame)
            if evs:
                writer.flush()  # live output appears as the packets arrive

        if recorder is not None:
            recorder.sync()
        stop = _Stopper()
        stop.install()
        try:
            if not args.quiet:
                what = f" (filter: {args.filter})" if args.filter else ""
                link = SUPPORTED_LINKTYPES.get(cap.linktype, str(cap.linktype))
                print(f"dissector live: listening on {args.interface}{what}, link type {cap.linktype} ({link}); "
                      "Ctrl-C to stop", file=err, flush=True)
            reason, packets = _capture_loop(args, cap, gate, process, refresh_keys, last_refresh, stop, console,
                                            analysis)
        finally:
            stop.uninstall()
            console.clear()
        # the end: held frames get their last chance at the key log, then every open flow is finished
        end = time.monotonic() + (args.key_wait if gate.holding else 0)
        while gate.holding and time.monotonic() < end:
            refresh_keys()
            for item in gate.release(time.monotonic()):
                process(item)
            if gate.holding:
                time.sleep(HOLD_INTERVAL)
        for item in gate.release(time.monotonic(), force=True):
            process(item)
        analysis.finish()
        kernel = cap.kernel_stats()
        cap.close()
        drops = kernel[1] if kernel else None
        stats = pipe.stats
        summary = {"interface": args.interface, "filter": args.filter, "packets": packets,
                   "sessions": analysis.sessions, "decryption": analysis.decryption,
                   "non_tls_flows": stats.non_tls_flows, "quic_packets": stats.quic,
                   "snapped_packets": stats.snapped, "anomalies": dict(stats.anomalies),
                   "kernel_dropped": drops, "keylog_bad_lines": len(keys.keylog.errors),
                   "key_waits": gate.waits, "key_wait_timeouts": gate.timeouts,
                   "key_wait_max_ms": round(gate.max_waited * 1000, 1), "stopped": reason}
        writer.end(summary)
        console.flush()
    finally:
        cap.close()
        if recorder is not None:
            recorder.close()
    _report(args, summary, recorder, gate, err)
    return 0


def _capture_loop(args: argparse.Namespace, cap: Any, gate: KeyWait, process: Callable[[list], None],
                  refresh_keys: Callable[[], None], last_refresh: list, stop: _Stopper, console: _Console,
                  analysis: Any) -> tuple[str, int]:
    """Capture until stopped; returns why it stopped and how many packets it took."""
    start = time.monotonic()
    until = start + args.duration if args.duration else None
    count = args.count
    n = 0
    next_status = start + STATUS_INTERVAL
    offer, release = gate.offer, gate.release

    def ingest(frames: list) -> None:
        nonlocal n
        if count is not None and n + len(frames) > count:
            frames = frames[:count - n]
        for ts, linktype, frame in frames:
            for item in offer(frame_item(n, ts, linktype, frame)):
                process(item)
            n += 1

    while True:
        now = time.monotonic()
        reason = stop.reason or ("--duration reached" if until is not None and now >= until else "")
        if reason:
            # what the kernel already captured belongs to the run (a Ctrl-C right after a connection
            # must not lose its last packets)
            for _ in range(1000):
                frames = cap.poll(0)
                if not frames or (count is not None and n >= count):
                    break
                ingest(frames)
            return reason, n
        if count is not None and n >= count:
            return "--count reached", n
        timeout = max(0.0, last_refresh[0] + KEYLOG_INTERVAL - now)
        if gate.holding:
            timeout = min(timeout, HOLD_INTERVAL, max(0.0, (gate.next_deadline() or now) - now))
        if until is not None:
            timeout = min(timeout, until - now)
        if console.status:
            timeout = min(timeout, max(0.0, next_status - now))
        frames = cap.poll(timeout, stop.fd)
        stop.drain()
        if frames:
            ingest(frames)
        now = time.monotonic()
        if now - last_refresh[0] >= (HOLD_INTERVAL if gate.holding else KEYLOG_INTERVAL):
            refresh_keys()
        if gate.holding:
            for item in release(now):
                process(item)
        console.flush()
        if console.status and now >= next_status:
            next_status = now + STATUS_INTERVAL
            k = cap.kernel_stats()
            dec = analysis.decryption.get("decrypted", 0)
            console.show(f"{n} packets, {analysis.sessions} sessions ({dec} decrypted)"
                         + (f", {k[1]} dropped by the kernel" if k and k[1] else "")
                         + (f", {len(gate.held) // 2} waiting for keys" if gate.holding else ""))


def _report(args: argparse.Namespace, summary: dict, recorder: Any, gate: KeyWait, err: IO[str]) -> None:
    drops = summary["kernel_dropped"]
    if not args.quiet:
        by = summary["decryption"]
        dec = ", ".join(f"{n} {k}" for k, n in sorted(by.items()))
        print(f"dissector live: stopped ({summary['stopped']}): {summary['packets']} packets captured, "
              f"{'unknown' if drops is None else drops} dropped by the kernel; {summary['sessions']} TLS "
              f"session(s){': ' + dec if dec else ''}", file=err)
        if recorder is not None:
            print(f"dissector live: wrote {recorder.path} ({recorder.packets} packets, "
                  f"{recorder.secret_lines} key log lines)", file=err)
    if drops:
        print(f"dissector: warning: the kernel dropped {drops} packet(s): sessions may have gaps "
              "(narrow the capture with -f)", file=err)
    if gate.timeouts:
        print(f"dissector: warning: {gate.timeouts} TLS session(s) waited {args.key_wait:g} s for key log lines "
              "that did not come (is the client writing SSLKEYLOGFILE to the --keylog file?)", file=err)
    err.flush()


class _Stopper:
    """SIGINT and SIGTERM set a stop reason and wake the capture loop's select at once."""

    def __init__(self) -> None:
        self.reason = ""
        self.fd: int | None = None
        self._old: dict[int, Any] = {}
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._old_wakeup = -1

    def _handler(self, signum: int, _frame: Any) -> None:
        self.reason = "interrupted" if signum == signal.SIGINT else "terminated"

    def install(self) -> None:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread: stop by --count/--duration only
            return
        r, w = socket.socketpair()
        r.setblocking(False)
        w.setblocking(False)
        try:
            self._old_wakeup = signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
        except ValueError:
            r.close()
            w.close()
            return
        self._pair = (r, w)
        self.fd = r.fileno()

    def drain(self) -> None:
        if self._pair is not None:
            try:
                while self._pair[0].recv(512):
                    pass
            except OSError:
                pass

    def uninstall(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        if self._pair is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            for s in self._pair:
                s.close()
            self._pair = None
            self.fd = None


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _positive_float(text: str) -> float:
    x = float(text)
    if not x > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return x


def _non_negative_float(text: str) -> float:
    x = float(text)
    if not x >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return x
