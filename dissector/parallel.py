"""Analysing one capture with several processes: flows are sharded, results merged in wire order.

Every worker reads the whole capture and tracks every flow's lifetime (so flow ids agree), but
reassembles and decrypts only the flows of its shard. Workers write their output lines to temporary
files, each line keyed by (capture, packet number, worker, sequence); the parent merges the files by
that key, so the merged output is in the same order a single process would produce.

TLS <= 1.2 resumption needs the master secret of an earlier session of the same client. With RSA keys
or PSKs (where the secret is not in a key log) flows are sharded by host pair, so a client's sessions
stay in one worker.
"""
from __future__ import annotations

import heapq
import io
import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable
from typing import Any

from dissector.errors import CaptureError, DissectorError
from dissector.events import Event
from dissector.tls.keystore import KeyStore


def _worker(index: int, jobs: int, paths: list[str], keys: KeyStore, out_path: str, jsonl: bool, verbose: bool,
            details: bool, plugins: Any, show_secrets: bool) -> None:
    from dissector.analysis import run_captures
    from dissector.output.formats import JSONLWriter

    position = [0, 0]
    seq = [0]
    with open(out_path, "w", encoding="utf-8") as out:
        def key(flow_id: int) -> str:
            # wire order: capture, packet, then flow (several flows end at one packet), then emission order
            seq[0] += 1
            return f"{position[0]:04d}{position[1]:012d}{flow_id + 1:010d}{index:03d}{seq[0]:012d}"

        buf = io.StringIO()
        writer = JSONLWriter(buf, verbose=verbose) if jsonl else None

        def on_event(ev: Event) -> None:
            if writer is None:
                return
            writer.event(ev)
            out.write(key(ev.flow.id if ev.flow is not None else -1) + "\tE\t" + buf.getvalue())
            buf.seek(0)
            buf.truncate()

        def on_session(doc: dict) -> None:
            if writer is not None:
                writer.session(doc)
                out.write(key(doc["id"]) + "\tE\t" + buf.getvalue())
                buf.seek(0)
                buf.truncate()
            else:
                out.write(key(doc["id"]) + "\tS\t" + json.dumps(doc, default=str) + "\n")

        try:
            result = run_captures(paths, keys, on_event=on_event if jsonl else None, on_session=on_session,
                                  pipeline_options={"shard": (index, jobs), "shard_by_hosts": bool(keys.rsa_keys or keys.psks)},
                                  plugins=plugins, show_secrets=show_secrets, details=details, position=position)
        except DissectorError as exc:
            out.write(f"{'9' * 41}\tX\t{json.dumps(str(exc))}\n")
            return
        stats = {
            "packets": result.packets, "sessions": result.sessions, "decryption": result.decryption,
            "truncated": result.truncated,
            "non_tls_flows": sum(s.non_tls_flows for s in result.pipeline_stats),
            "anomalies": [s.anomalies for s in result.pipeline_stats],
        }
        out.write(f"{'9' * 41}\tZ\t{json.dumps(stats)}\n")


def run_parallel(paths: list[str], keys: KeyStore, jobs: int, *, jsonl: bool, verbose: bool, details: bool,
                 write_line: Callable[[str], None], on_session: Callable[[dict], None], plugins: Any = None,
                 show_secrets: bool = False) -> dict:
    """Run `jobs` workers over the captures; hand merged jsonl lines or session docs to the callbacks.

    Returns the merged run statistics (packets, sessions, decryption, truncated, non_tls_flows, anomalies).
    """
    for p in paths:
        if p == "-" or not os.path.isfile(p):
            raise CaptureError(f"{p}: --jobs needs regular files (stdin and pipes are read by one process)")
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="dissector-") as tmp:
        files = [os.path.join(tmp, f"worker{i}.txt") for i in range(jobs)]
        procs = [ctx.Process(target=_worker, args=(i, jobs, paths, keys, files[i], jsonl, verbose, details,
                                                   plugins, show_secrets), daemon=True) for i in range(jobs)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        if any(proc.exitcode != 0 for proc in procs):
            raise DissectorError("a worker process failed; run with --jobs 1 for the details")
        handles = [open(f, encoding="utf-8") for f in files]
        merged: dict[str, Any] = {"packets": 0, "sessions": 0, "decryption": {}, "truncated": [],
                                  "non_tls_flows": 0, "anomalies": {}}
        try:
            for line in heapq.merge(*handles):
                _, kind, payload = line.split("\t", 2)
                if kind == "E":
                    write_line(payload)
                elif kind == "S":
                    on_session(json.loads(payload))
                elif kind == "X":
                    raise CaptureError(json.loads(payload))
                elif kind == "Z":
                    _merge_stats(merged, json.loads(payload))
        finally:
            for h in handles:
                h.close()
    return merged


def _merge_stats(merged: dict, stats: dict) -> None:
    merged["packets"] = max(merged["packets"], stats["packets"])  # every worker reads every packet
    merged["sessions"] += stats["sessions"]
    for k, v in stats["decryption"].items():
        merged["decryption"][k] = merged["decryption"].get(k, 0) + v
    if not merged["truncated"]:
        merged["truncated"] = stats["truncated"]
    merged["non_tls_flows"] += stats["non_tls_flows"]
    for d in stats["anomalies"]:
        for k, v in d.items():
            merged["anomalies"][k] = merged["anomalies"].get(k, 0) + v
