"""What a live endpoint connection did, told by dissector itself: recordings -> frames -> labelled messages.

`dissector serve` and `dissector connect` drive OpenSSL over `MemoryBIO`s, so they see every byte each side
sent. A `Recording` keeps those bytes as `pair.Chunk`s with the real times and the real addresses. Here:

- `frames(recording)` frames them as the TCP connection that carried them (`synth.synthesize`, real ports);
- `Narrator.narrate(recording)` runs those frames through `dissector.pipeline.Pipeline`, decrypting with the key
  log the endpoint itself writes (so encrypted handshake messages are labelled too), and returns the session
  document, the same one `dissector analyze --format json` gives for a capture of the connection;
- `format_session(...)` turns it into the narration: one line per message, with times from the first byte;
- `KeylogTail` reads what OpenSSL appended to a key log file; `CaptureSink` writes the frames of each
  connection to one pcapng, each preceded by a Decryption Secrets Block with the new key log lines.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from dissector import __version__
from dissector.capture.writer import LINKTYPE_ETHERNET, PcapngWriter
from dissector.output.formats import message_detail
from dissector.output.sessions import SessionCollector
from dissector.pipeline import Pipeline
from dissector.tls.keystore import KeyStore

from .pair import CLIENT, SERVER, Chunk
from .synth import Frame, synthesize

__all__ = ["Recording", "Narrator", "KeylogTail", "CaptureSink", "frames", "format_session", "handshake_messages"]

GAP = 0.000001  # spacing of synthesized segments: the narration keeps the real times within microseconds
LATENCY = 0.000002


@dataclass(slots=True)
class Recording:
    """One TCP connection as an endpoint saw it."""

    client: tuple[str, int]
    server: tuple[str, int]
    start: float  # connect() / accept() time
    chunks: list[Chunk] = field(default_factory=list)
    closer: str | None = None  # the side that closed TCP first
    end: float | None = None
    error: str | None = None  # why the connection failed, if it did
    notes: list[str] = field(default_factory=list)  # what the endpoint itself did (HTTP exchanges, KeyUpdate...)

    def sent(self, side: str) -> int:
        return sum(len(c.data) for c in self.chunks if c.sender == side)


def frames(rec: Recording) -> list[Frame]:
    """The connection's frames: TCP handshake, the recorded bytes as segments, FIN teardown."""
    chunks = sorted(rec.chunks, key=lambda c: c.time)  # the two directions were recorded by different calls
    start = min([rec.start] + [c.time for c in chunks[:1]]) - 3 * LATENCY
    return synthesize(chunks, client_ip=rec.client[0], server_ip=rec.server[0], client_port=rec.client[1],
                      server_port=rec.server[1], closer=rec.closer or CLIENT, gap=GAP, latency=LATENCY,
                      start=start)


class KeylogTail:
    """The complete lines appended to a key log file since the last call (thread-safe)."""

    def __init__(self, path: str, from_start: bool = False) -> None:
        self.path = path
        self.lock = threading.Lock()
        try:
            self.offset = 0 if from_start else os.path.getsize(path)
        except OSError:
            self.offset = 0

    def read_new(self) -> str:
        with self.lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.offset)
                    data = f.read()
            except OSError:
                return ""
            end = data.rfind(b"\n") + 1
            self.offset += end
            return data[:end].decode("ascii", "replace")


class Narrator:
    """Runs recordings through the analyzer with one shared KeyStore (so resumed sessions find their keys).

    `conclude(rec)` takes the key log lines OpenSSL appended since the last call, frames the recording,
    writes it to the capture (when there is one) and returns the session document.
    """

    def __init__(self, keylog: KeylogTail | None = None, sink: CaptureSink | None = None) -> None:
        self.keylog = keylog
        self.sink = sink
        self.keys = KeyStore()
        self.lock = threading.Lock()

    def conclude(self, rec: Recording) -> dict | None:
        """The session document of the connection (None when no TLS was seen on it)."""
        with self.lock:
            text = self.keylog.read_new() if self.keylog is not None else ""
            if text:
                self.keys.keylog.add_text(text, "endpoint key log")
            frame_list = frames(rec)
            if self.sink is not None:
                self.sink.add(frame_list, text)
            docs: list[dict] = []
            collector = SessionCollector(docs.append, keep=False, details=True)
            pipe = Pipeline(self.keys)
            for ts, frame in frame_list:
                for ev in pipe.feed(ts, LINKTYPE_ETHERNET, frame):
                    collector.add(ev)
            for ev in pipe.finish():
                collector.add(ev)
        return docs[0] if docs else None


def handshake_messages(doc: dict | None) -> list[str]:
    """The message types of a session document in wire order, e.g. ["ClientHello", "ServerHello", ...]."""
    return [m["type"] for m in doc["messages"]] if doc else []


def _ms(t: float, t0: float) -> str:
    return f"{(t - t0) * 1000:+10.3f} ms"


def format_session(rec: Recording, doc: dict | None, title: str) -> str:
    """The narration of one connection: a header, one line per TLS message, then what happened."""
    c, s = rec.client, rec.server
    cl = f"[{c[0]}]:{c[1]}" if ":" in c[0] else f"{c[0]}:{c[1]}"
    sv = f"[{s[0]}]:{s[1]}" if ":" in s[0] else f"{s[0]}:{s[1]}"
    lines = [f"{title}: {cl} -> {sv}"]
    if doc is None:
        sent = rec.sent(CLIENT)
        lines.append(f"  no TLS seen ({sent} bytes from the client, {rec.sent(SERVER)} from the server)")
    else:
        params = [doc.get("version") or "version ?", doc.get("cipher_suite") or "suite ?"]
        if doc.get("sni"):
            params.append(f"SNI {doc['sni']}")
        if doc.get("alpn"):
            params.append(f"ALPN {doc['alpn']}")
        if doc.get("resumed"):
            params.append("resumed")
        lines[0] += "  " + "  ".join(params)
        t0 = rec.chunks[0].time if rec.chunks else rec.start
        width = max([len(m["type"]) + (1 if m.get("encrypted") else 0) for m in doc["messages"]] + [10])
        for m in doc["messages"]:
            arrow = "->" if m["from"] == CLIENT else "<-"
            name = m["type"] + ("*" if m.get("encrypted") else "")
            detail = message_detail(m)
            lines.append(f"  {_ms(m['time'], t0)}  C {arrow} S  {name:<{width}}  {detail}".rstrip())
        done = _handshake_done(doc)
        dec = doc["decryption"]
        summary = [f"decryption: {dec['status']}" + (f" ({dec['detail']})" if dec.get("detail") else "")]
        if done is not None:
            summary.insert(0, f"handshake {((done - t0) * 1000):.3f} ms")
        if doc.get("app_data"):
            ad = doc["app_data"]
            summary.append(f"application data: client {ad['client']['bytes']} bytes, server {ad['server']['bytes']} bytes")
        lines.append("  " + "; ".join(summary))
        if any(m.get("encrypted") for m in doc["messages"]):
            lines.append("  (* sent encrypted, decrypted with the key log this endpoint wrote)")
        for a in doc.get("anomalies", [])[:5]:
            lines.append(f"  ! {a['name']}: {a['detail']}")
    for note in rec.notes:
        lines.append(f"  {note}")
    if rec.error:
        lines.append(f"  error: {rec.error}")
    if rec.end is not None:
        closer = f" (TCP closed first by the {rec.closer})" if rec.closer else ""
        lines.append(f"  connection over after {(rec.end - rec.start) * 1000:.1f} ms{closer}")
    return "\n".join(lines)


def _handshake_done(doc: dict) -> float | None:
    """Time of the last Finished of the (first) handshake."""
    finished = [m["time"] for m in doc["messages"] if m["type"] == "Finished"]
    return finished[1] if len(finished) >= 2 else (finished[0] if finished else None)


class CaptureSink:
    """One pcapng for all of an endpoint's connections; thread-safe; each connection is written when it ends."""

    def __init__(self, path: str, force: bool = False, application: str = f"dissector {__version__}") -> None:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        fd = os.open(path, flags, 0o600)
        os.fchmod(fd, 0o600)  # the key log is embedded: an overwritten file must not keep a wider mode
        self.path = path
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.writer = PcapngWriter(self.file, application=application)
        self.writer.add_interface(LINKTYPE_ETHERNET, name="lo")
        self.file.flush()
        self.lock = threading.Lock()
        self.connections = 0

    @property
    def packets(self) -> int:
        return self.writer.packets

    def add(self, frame_list: Sequence[Frame], keylog_text: str = "") -> None:
        with self.lock:
            if self.file.closed:
                return
            if keylog_text.strip():
                self.writer.write_secrets(keylog_text.encode("ascii", "replace"))
            for ts, frame in frame_list:
                self.writer.write(ts, frame)
            self.connections += 1
            self.file.flush()

    def close(self) -> None:
        with self.lock:
            if not self.file.closed:
                self.file.flush()
                self.file.close()
