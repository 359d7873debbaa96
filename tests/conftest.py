"""Shared test helpers: where the public corpus is, and running the analysis in-process."""
from __future__ import annotations

import json
import shutil
import subprocess
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


def analyze(paths, keylogs=(), key_specs=(), psks=(), keys=None, plugins: bool = False,
            show_secrets: bool = False) -> list[dict]:
    """Run the whole pipeline over capture files and return the finished session documents."""
    from dissector.analysis import run_captures
    from dissector.keys import build_keystore
    from dissector.plugins import load_plugins

    store = keys if keys is not None else build_keystore(list(keylogs), list(key_specs), list(psks))
    sessions: list[dict] = []
    run_captures([str(p) for p in paths], store, on_session=sessions.append, plugins=load_plugins() if plugins else None,
                 show_secrets=show_secrets)
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


def tshark_follow(pcap, stream: int, client: str, keys=None) -> tuple[bytes, bytes]:
    """tshark's decrypted application data of one TCP stream (`-z follow,tls,raw`): (client bytes, server bytes).
    `client` is the client's "ip:port" (tshark names the sides by who it saw first); `keys` a key log."""
    cmd = ["tshark", "-r", str(pcap), "-q", "-z", f"follow,tls,raw,{stream}"]
    if keys:
        cmd[3:3] = ["-o", f"tls.keylog_file:{keys}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    node0, data = None, {0: bytearray(), 1: bytearray()}
    started = False
    for line in out.splitlines():
        if line.startswith("Node 0:"):
            node0 = line.split()[-1]
        elif line.startswith("Node 1:"):
            started = True
        elif started and line.strip() and not line.startswith("="):
            data[1 if line.startswith("\t") else 0] += bytes.fromhex(line.strip())
    node0_is_client = node0 is not None and node0.rsplit(":", 1)[-1] == client.rsplit(":", 1)[-1]
    c, s = (data[0], data[1]) if node0_is_client else (data[1], data[0])
    return bytes(c), bytes(s)


def plaintext(paths, keylogs=(), key_specs=(), psks=()) -> dict[tuple[int, str], bytes]:
    """The decrypted application bytes of each flow and direction: {(flow id, "client" | "server"): bytes}."""
    from dissector.analysis import run_captures
    from dissector.events import AppData
    from dissector.keys import build_keystore

    data: dict[tuple[int, str], bytes] = {}

    def on_event(ev) -> None:
        if type(ev) is AppData and ev.data is not None:
            key = (ev.flow.id, ev.direction)
            data[key] = data.get(key, b"") + bytes(ev.data)

    run_captures([str(p) for p in paths], build_keystore([str(k) for k in keylogs], list(key_specs), list(psks)),
                 on_event=on_event)
    return data


def feed_plugin(plugin, port: int, exchange: list[tuple[str, bytes]], cut: int = 0) -> tuple[dict | None, list]:
    """Feed an exchange (in order) to an application-layer plugin's two streams of one flow to `port`; `cut` > 0
    splits every piece into chunks of that size. Returns the plugin's session fields and the events it emitted."""
    from dissector.events import CLIENT, SERVER, Flow

    flow = Flow(0, "10.0.0.1", 40000, "10.0.0.2", port, 0.0)
    streams = {d: plugin.new_stream(flow, d) for d in (CLIENT, SERVER)}
    events = []
    for i, (d, data) in enumerate(exchange):
        for j in range(0, len(data), cut or len(data)):
            events += streams[d].feed(data[j:j + (cut or len(data))], float(i))
    for d in (CLIENT, SERVER):
        events += streams[d].close(99.0)
    return plugin.on_session_end(flow), events


def reversed_runs(frames: list[tuple[float, bytes]], linktype: int) -> list[tuple[float, bytes]]:
    """Each run of packets one side sent back to back, delivered last first (the times stay in place): how
    datagrams reordered on the way arrive."""
    from dissector.net.decode import decode_frame

    out: list[tuple[float, bytes]] = []
    run: list[tuple[float, bytes]] = []
    sender = None
    for ts, frame in frames + [(0.0, b"")]:
        seg = decode_frame(linktype, memoryview(frame)) if frame else None
        if run and (seg is None or seg.sport != sender):
            out.extend(zip((t for t, _ in run), (f for _, f in reversed(run))))
            run = []
        if seg is not None:
            sender = seg.sport
            run.append((ts, frame))
        elif frame:
            out.append((ts, frame))
    return out
