"""Shared test helpers: where the public corpus is, and running the analysis in-process."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "wireshark"
SAMPLES = ROOT / "samples"


def corpus_manifest() -> dict | None:
    path = CORPUS / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def corpus_key_args(material: dict) -> dict:
    """The manifest's key material as build_keystore() arguments."""
    keylogs = [str(CORPUS / material["keylog_file"])] if material.get("keylog_file") else []
    keys = []
    for k in material.get("rsa_keys", []):
        spec = str(CORPUS / k["file"])
        if k.get("password"):
            spec += ":" + k["password"]
        if k.get("server"):
            spec = k["server"] + "=" + spec
        keys.append(spec)
    psks = [material["psk"]] if material.get("psk") else []
    return {"keylogs": keylogs, "key_specs": keys, "psks": psks}


def analyze(paths, keylogs=(), key_specs=(), psks=(), keys=None, plugins: bool = False) -> list[dict]:
    """Run the whole pipeline over capture files and return the finished session documents."""
    from dissector.analysis import run_captures
    from dissector.keys import build_keystore
    from dissector.plugins import load_plugins

    store = keys if keys is not None else build_keystore(list(keylogs), list(key_specs), list(psks))
    sessions: list[dict] = []
    run_captures([str(p) for p in paths], store, on_session=sessions.append, plugins=load_plugins() if plugins else None)
    return sessions


def tcp_frame(sport: int, dport: int, seq: int, flags: int, data: bytes = b"", src: bytes = b"\x0a\0\0\1",
              dst: bytes = b"\x0a\0\0\2") -> bytes:
    """A raw-IPv4 (link type 101) TCP segment, built by hand for pipeline tests."""
    import struct

    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + data
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst) + tcp


def message_list(msgs: list[dict]) -> list[tuple]:
    out = []
    for m in msgs:
        if m.get("type") == "UndecryptedRecord":
            continue
        item = (m.get("from"), m.get("type"))
        if m.get("type") == "Alert":
            item += (m.get("description"),)
        out.append(item)
    return out


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
needs_corpus = pytest.mark.skipif(not (CORPUS / "manifest.json").exists(), reason="../shared/corpus is absent")
