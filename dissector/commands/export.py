"""`dissector export CAPTURE... -o DIR`: each session's decrypted application data, per direction, to files."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import IO

from dissector.analysis import run_captures
from dissector.commands.analyze import add_key_options
from dissector.errors import DissectorError
from dissector.events import AppData, Event
from dissector.keys import build_keystore


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write each session's decrypted application data to files",
                       description="Write each TLS session's decrypted application data, one file per direction "
                                   "(for QUIC also one per stream and direction), plus index.json describing every "
                                   "session (also the ones not decrypted, and why).")
    p.add_argument("captures", nargs="+", metavar="CAPTURE")
    add_key_options(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write to (created if needed)")
    p.add_argument("--force", action="store_true", help="write into a directory that already has an index.json")
    p.set_defaults(run=run)


def _safe(endpoint: str) -> str:
    return re.sub(r"[^0-9A-Za-z.]+", "_", endpoint).strip("_")


class Exporter:
    """Streams plaintext to files as records are decrypted: nothing is held in memory.

    A direction's file holds its bytes in the order they were decrypted (their SHA-256 is the session's
    `app_data`); a QUIC session's streams also get a file each per direction, since its direction files
    interleave them."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        # (capture, flow id, direction, QUIC stream or None) -> (open file, its name)
        self.files: dict[tuple[int, int, str, int | None], tuple[IO[bytes], str]] = {}
        self.capture_index = 0
        self.index: list[dict] = []

    def event(self, ev: Event) -> None:
        if type(ev) is not AppData or ev.data is None or ev.flow is None:
            return
        self._write((self.capture_index, ev.flow.id, ev.direction, None), ev)
        if ev.stream is not None:
            self._write((self.capture_index, ev.flow.id, ev.direction, ev.stream), ev)

    def _write(self, key: tuple[int, int, str, int | None], ev: AppData) -> None:
        entry = self.files.get(key)
        if entry is None:
            f = ev.flow
            stream = f"-stream{key[3]}" if key[3] is not None else ""
            name = f"{self.capture_index:02d}-{f.id:05d}-{_safe(f.client)}-{_safe(f.server)}-{ev.direction}{stream}.bin"
            entry = self.files[key] = (open(os.path.join(self.dir, name), "wb"), name)
        entry[0].write(ev.data)

    def session(self, doc: dict) -> None:
        item = {k: doc.get(k) for k in ("capture", "id", "client", "server", "version", "cipher_suite", "sni", "alpn",
                                         "decryption", "app_data")}
        item["files"] = {}
        capture, sid = doc.get("capture_index", 0), doc["id"]
        for key in [k for k in self.files if k[0] == capture and k[1] == sid]:
            f, name = self.files.pop(key)
            f.close()
            if key[3] is None:
                item["files"][key[2]] = name
            else:  # {"streams": {"0": {"client": name, "server": name}, ...}}
                item.setdefault("streams", {}).setdefault(str(key[3]), {})[key[2]] = name
        if "streams" in item:
            item["streams"] = dict(sorted(item["streams"].items(), key=lambda kv: int(kv[0])))
        self.index.append(item)

    def close(self) -> None:
        for f, _, _ in self.files.values():
            f.close()


def run(args: argparse.Namespace) -> int:
    keys = build_keystore(args.keylog, args.key, args.psk)
    os.makedirs(args.output, exist_ok=True)
    index_path = os.path.join(args.output, "index.json")
    if os.path.exists(index_path) and not args.force:
        raise DissectorError(f"{args.output} already holds an export (index.json); use --force to overwrite")
    exporter = Exporter(args.output)
    try:
        for i, path in enumerate(args.captures):
            exporter.capture_index = i
            run_captures([path], keys, on_event=exporter.event, on_session=exporter.session, details=False)
    finally:
        exporter.close()
    with open(index_path, "w", encoding="utf-8") as f:
        json.dump({"sessions": exporter.index}, f, indent=1)
    done = sum(1 for s in exporter.index if s["files"])
    print(f"{done} of {len(exporter.index)} session(s) exported to {args.output} (see index.json)", file=sys.stderr)
    return 0
