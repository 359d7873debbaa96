"""Analysing one capture with several processes: flows are sharded, results merged in wire order.

Every worker reads the whole capture and tracks every flow's lifetime (so flow ids agree), but
reassembles and decrypts only the flows of its shard. Workers write their output to temporary files
as blocks: the consecutive output of one flow at one packet, behind a binary header that carries the
block's place in wire order, (capture, packet, phase, flow). The parent merges the files by that key,
so the merged output is what a single process would write. Phase 1 marks the flows ended by an idle
sweep: a single process emits them after the packet's own flow, in flow id order.

TLS <= 1.2 resumption needs the master secret of an earlier session of the same client. With RSA keys
or PSKs (where the secret is not in a key log) flows are sharded by host pair, so a client's sessions
stay in one worker.
"""
from __future__ import annotations

import heapq
import json
import multiprocessing
import os
import struct
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from dissector.analysis import add_counts
from dissector.errors import CaptureError, DissectorError
from dissector.events import Event
from dissector.findings import SEVERITIES
from dissector.output.formats import encode_bytes
from dissector.tls.keystore import KeyStore

# capture, packet, phase, flow id + 1 (0: no flow), kind, payload length; the first four order the blocks
_BLOCK = struct.Struct("<HQBIBI")
TEXT, SESSION = 0, 1  # block kinds: output text (jsonl), one session document as JSON (other formats)


class _BlockWriter:
    """Collects a worker's output text and writes it as blocks, one per (capture, packet, phase, flow).

    `at(capture, packet, flow_id)` opens the block of an event (cheap when it is the open one); the
    phase is looked up only when a block opens. Finished blocks are written to the file 256 at a time.
    """

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.key: tuple = ()
        self.capture = self.packet = self.flow = -2
        self.parts: list[str] = []
        self.write = self.parts.append  # the writer's `out.write`: text goes into the open block
        self.done: list[bytes] = []  # finished blocks (header, payload, header, payload...) not yet written
        self.swept: Callable[[int, int], bool] = lambda packet, flow_id: False

    def at(self, capture: int, packet: int, flow_id: int) -> None:
        if packet != self.packet or flow_id != self.flow or capture != self.capture:
            self.flush()
            self.capture, self.packet, self.flow = capture, packet, flow_id
            self.key = (capture, packet, 1 if self.swept(packet, flow_id) else 0, flow_id + 1)

    def flush(self) -> None:
        if self.parts:
            data = "".join(self.parts).encode("utf-8")
            self.parts.clear()
            self._add(TEXT, data)

    def _add(self, kind: int, data: bytes) -> None:
        done = self.done
        done.append(_BLOCK.pack(*self.key, kind, len(data)))
        done.append(data)
        if len(done) >= 512:
            self.f.write(b"".join(done))
            done.clear()

    def session(self, doc: dict) -> None:
        self.flush()
        self._add(SESSION, encode_bytes(doc))

    def close(self) -> None:
        self.flush()
        if self.done:
            self.f.write(b"".join(self.done))
            self.done.clear()


def _worker(index: int, jobs: int, paths: list[str], keys: KeyStore, out_path: str, jsonl: bool, verbose: bool,
            details: bool, plugins: Any, show_secrets: bool) -> None:
    from dissector.analysis import run_captures
    from dissector.output.formats import JSONLWriter

    position = [0, 0]
    with open(out_path, "wb") as f:
        blocks = _BlockWriter(f)
        writer = JSONLWriter(blocks, verbose=verbose, batch=1) if jsonl else None  # blocks hold the lines
        at = blocks.at

        def on_pipeline(pipe: Any) -> None:
            # flows ended by the idle sweep of a packet come after that packet's own flow (phase 1)
            blocks.swept = lambda packet, flow_id: pipe.swept_at == packet + 1 and flow_id in pipe.swept

        def on_event(ev: Event) -> None:
            flow = ev.flow
            at(position[0], position[1], flow.id if flow is not None else -1)
            writer.event(ev)

        def on_session(doc: dict) -> None:
            at(position[0], position[1], doc["id"])
            if writer is not None:
                writer.session(doc)
            else:
                blocks.session(doc)

        try:
            result = run_captures(paths, keys, on_event=on_event if jsonl else None, on_session=on_session,
                                  pipeline_options={"shard": (index, jobs), "shard_by_hosts": bool(keys.rsa_keys or keys.psks)},
                                  plugins=plugins, show_secrets=show_secrets, details=details, position=position,
                                  on_pipeline=on_pipeline)
        except DissectorError as exc:
            stats: dict[str, Any] = {"error": str(exc)}
        else:
            stats = result.counts()
        blocks.close()
    with open(out_path + ".stats", "w", encoding="utf-8") as sf:
        json.dump(stats, sf)


def _blocks(f: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """A worker's blocks as (order key, kind, payload); the key is (capture, packet, phase, flow) as one int."""
    read = f.read
    size = _BLOCK.size
    unpack = _BLOCK.unpack
    while True:
        head = read(size)
        if len(head) < size:
            return
        capture, packet, phase, flow, kind, n = unpack(head)
        yield (((capture << 40 | packet) << 1 | phase) << 32 | flow), kind, read(n)


def run_parallel(paths: list[str], keys: KeyStore, jobs: int, *, jsonl: bool, verbose: bool, details: bool,
                 write_text: Callable[[str], None], on_session: Callable[[dict], None], plugins: Any = None,
                 show_secrets: bool = False) -> dict:
    """Run `jobs` workers over the captures; hand merged jsonl text or session docs to the callbacks.

    Returns the merged run statistics, as `RunResult.counts()` gives them for one process.
    """
    for p in paths:
        if p == "-" or not os.path.isfile(p):
            raise CaptureError(f"{p}: --jobs needs regular files (stdin and pipes are read by one process)")
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="dissector-") as tmp:
        files = [os.path.join(tmp, f"worker{i}.bin") for i in range(jobs)]
        procs = [ctx.Process(target=_worker, args=(i, jobs, paths, keys, files[i], jsonl, verbose, details,
                                                   plugins, show_secrets), daemon=True) for i in range(jobs)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        if any(proc.exitcode != 0 for proc in procs):
            raise DissectorError("a worker process failed; run with --jobs 1 for the details")
        merged: dict[str, Any] = {"packets": 0, "sessions": 0, "decryption": {}, "truncated": [],
                                  "non_tls_flows": 0, "anomalies": {}, "findings": dict.fromkeys(SEVERITIES, 0)}
        error = None
        for path in files:
            with open(path + ".stats", encoding="utf-8") as sf:
                stats = json.load(sf)
            if "error" in stats:
                error = stats["error"]
            else:
                _merge_stats(merged, stats)
        handles = [open(f, "rb", buffering=1 << 20) for f in files]
        text: list[bytes] = []  # consecutive text blocks, written about 1 MB at a time
        size = 0
        try:
            for _, kind, payload in heapq.merge(*(_blocks(h) for h in handles)):
                if kind == TEXT:
                    text.append(payload)
                    size += len(payload)
                    if size < 1 << 20:
                        continue
                if text:
                    write_text(b"".join(text).decode("utf-8"))
                    text.clear()
                    size = 0
                if kind != TEXT:
                    on_session(orjson.loads(payload))
            if text:
                write_text(b"".join(text).decode("utf-8"))
        finally:
            for h in handles:
                h.close()
    if error is not None:  # what was analysed before it is written, as one process would
        raise CaptureError(error)
    return merged


def _merge_stats(merged: dict, stats: dict) -> None:
    merged["packets"] = max(merged["packets"], stats["packets"])  # every worker reads every packet
    merged["sessions"] += stats["sessions"]
    merged["non_tls_flows"] += stats["non_tls_flows"]
    if not merged["truncated"]:
        merged["truncated"] = stats["truncated"]
    for key in ("decryption", "anomalies", "findings"):
        add_counts(merged[key], stats[key])
