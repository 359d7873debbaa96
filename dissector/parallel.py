"""Analysing one capture with several processes: flows are sharded, results merged in wire order.

Every worker reads the whole capture and tracks every flow's lifetime (so flow ids agree), but
reassembles and decrypts only the flows of its shard. Workers stream their output to the parent through
a pipe as blocks: the consecutive output of one flow at one packet, behind a binary header that carries
the block's place in wire order, (capture, packet, phase, flow). The parent merges the streams by that
key while the workers run, so the merged output is what a single process would write. Phase 1 marks the
flows ended by an idle sweep: a single process emits them after the packet's own flow, in flow id order.
A worker's last block holds its run statistics.

No deadlock: a worker only ever waits for room in its own pipe, and the parent only waits for a block
from a worker whose pipe it has emptied, which can therefore write.

TLS <= 1.2 resumption needs the master secret of an earlier session of the same client, which a key log
need not hold (GnuTLS logs only full handshakes) and RSA keys or PSKs never do. So whenever anything may be
decrypted (key material given, or a pcapng that can carry secrets), flows are sharded by host pair and a
client's sessions with a server stay in one worker. Only a keyless run over pcap files, which decrypts
nothing, spreads flows by 4-tuple (a better balance when few hosts talk).
"""
from __future__ import annotations

import heapq
import multiprocessing
import os
import struct
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from dissector.analysis import RunResult, add_counts
from dissector.capture.reader import open_capture
from dissector.errors import CaptureError, DissectorError
from dissector.events import Event
from dissector.output.formats import encode_bytes
from dissector.tls.keystore import KeyStore

# capture, packet, phase, flow id + 1 (0: no flow; a tunnel's inner session ids pass 2^32), kind, payload length;
# the first four order the blocks
_BLOCK = struct.Struct("<HQBQBI")
# block kinds: output text (jsonl), one session document as JSON (other formats), the run statistics (last)
TEXT, SESSION, STATS = 0, 1, 2
_PIPE_SIZE = 1 << 20  # asked of the kernel for each worker's pipe (Linux; the default is 64 KB)


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

    def statistics(self, stats: dict) -> None:
        """The worker's run statistics: the last block of its stream."""
        self.flush()
        self.key = (0, 0, 0, 0)
        self._add(STATS, encode_bytes(stats))

    def close(self) -> None:
        self.flush()
        if self.done:
            self.f.write(b"".join(self.done))
            self.done.clear()


def _worker(index: int, jobs: int, paths: list[str], keys: KeyStore, fd: int, jsonl: bool, verbose: bool,
            details: bool, plugins: Any, show_secrets: bool, close_fds: list[int], by_hosts: bool,
            progress: Callable[[int, int | None], None] | None = None) -> None:
    from dissector.analysis import run_captures
    from dissector.output.formats import JSONLWriter

    for other in close_fds:  # the parent's ends of the pipes, inherited through fork
        os.close(other)
    position = [0, 0]
    with os.fdopen(fd, "wb", buffering=1 << 20) as f:
        blocks = _BlockWriter(f)
        writer = JSONLWriter(blocks, verbose=verbose, show_secrets=show_secrets, batch=1) if jsonl else None  # blocks hold the lines
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
                                  pipeline_options={"shard": (index, jobs), "shard_by_hosts": by_hosts},
                                  plugins=plugins, show_secrets=show_secrets, details=details, position=position,
                                  on_pipeline=on_pipeline, messages=not jsonl, progress=progress)
        except DissectorError as exc:
            stats: dict[str, Any] = {"error": str(exc)}
        else:
            stats = result.counts()
        blocks.statistics(stats)
        blocks.close()


def _blocks(f: IO[bytes], stats: list[dict]) -> Iterator[tuple[int, int, bytes]]:
    """A worker's blocks as (order key, kind, payload); the key is (capture, packet, phase, flow) as one int.
    The statistics block ends the stream: it goes into `stats`."""
    read = f.read
    size = _BLOCK.size
    unpack = _BLOCK.unpack
    while True:
        head = read(size)
        if len(head) < size:
            return
        capture, packet, phase, flow, kind, n = unpack(head)
        payload = read(n)
        if kind == STATS:
            stats.append(orjson.loads(payload))
            return
        yield (((capture << 40 | packet) << 1 | phase) << 64 | flow), kind, payload


def run_parallel(paths: list[str], keys: KeyStore, jobs: int, *, jsonl: bool, verbose: bool, details: bool,
                 write_text: Callable[[str], None], on_session: Callable[[dict], None], plugins: Any = None,
                 show_secrets: bool = False, progress: Callable[[int, int | None], None] | None = None) -> dict:
    """Run `jobs` workers over the captures; hand merged jsonl text or session docs to the callbacks.

    `progress` is called by the first worker, which reads every packet like the others.
    Returns the merged run statistics, as `RunResult.counts()` gives them for one process.
    """
    for p in paths:
        if p == "-" or not os.path.isfile(p):
            raise CaptureError(f"{p}: --jobs needs regular files (stdin and pipes are read by one process)")
    by_hosts = _may_decrypt(paths, keys)
    ctx = multiprocessing.get_context("fork")
    procs, streams = [], []
    try:
        for i in range(jobs):
            r, w = os.pipe()
            _grow_pipe(w)
            mine = [s.fileno() for s in streams] + [r]  # the worker closes the parent's read ends
            proc = ctx.Process(target=_worker, args=(i, jobs, paths, keys, w, jsonl, verbose, details, plugins,
                                                     show_secrets, mine, by_hosts, progress if i == 0 else None),
                               daemon=True)
            proc.start()
            os.close(w)
            procs.append(proc)
            streams.append(os.fdopen(r, "rb", buffering=1 << 20))
        stats: list[dict] = []
        _merge(streams, stats, write_text, on_session)
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():  # the parent stopped early (an error, a closed stdout)
                proc.terminate()
        for stream in streams:
            stream.close()
    if len(stats) < jobs or any(proc.exitcode != 0 for proc in procs):
        raise DissectorError("a worker process failed; run with --jobs 1 for the details")
    merged = RunResult().counts()  # the same shape, all zero
    error = None
    for st in stats:
        if "error" in st:
            error = st["error"]
        else:
            _merge_stats(merged, st)
    if error is not None:  # what was analysed before it is written, as one process would
        raise CaptureError(error)
    return merged


def _may_decrypt(paths: list[str], keys: KeyStore) -> bool:
    """Whether the run has key material, or a pcapng that may bring some (Decryption Secrets Blocks)."""
    if not keys.empty():
        return True
    for path in paths:
        try:
            with open_capture(path) as cap:
                if cap.format == "pcapng":
                    return True
        except CaptureError:  # reported by the workers, after what the captures before it gave
            continue
    return False


def _merge(streams: list[IO[bytes]], stats: list[dict], write_text: Callable[[str], None],
           on_session: Callable[[dict], None]) -> None:
    text: list[bytes] = []  # consecutive text blocks, written about 1 MB at a time
    size = 0
    for _, kind, payload in heapq.merge(*(_blocks(s, stats) for s in streams)):
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


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)
    except (ImportError, OSError):  # not Linux, or above the system's pipe-max-size: the default will do
        pass


def _merge_stats(merged: dict, stats: dict) -> None:
    merged["packets"] = max(merged["packets"], stats["packets"])  # every worker reads every packet
    merged["sessions"] += stats["sessions"]
    merged["cleartext_sessions"] += stats["cleartext_sessions"]
    merged["non_tls_flows"] += stats["non_tls_flows"]
    merged["quic_packets"] += stats["quic_packets"]  # counted by the first worker only
    merged["snapped_packets"] += stats["snapped_packets"]  # each by the worker of its flow
    if not merged["truncated"]:
        merged["truncated"] = stats["truncated"]
    for key in ("decryption", "anomalies", "findings"):
        add_counts(merged[key], stats[key])
