"""export, follow and keys: decrypted data out to files, to the terminal, and as a reusable key log."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from tests.conftest import CORPUS, SAMPLES, analyze, needs_corpus, needs_tshark


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dissector", *args], capture_output=True, timeout=120)


def test_export_writes_the_plaintext_each_side_sent(tmp_path):
    name = "tls12-resume-id"
    proc = run("export", str(SAMPLES / f"{name}.pcapng"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr.decode()
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    expected = {s["client"]: s["app_data"] for s in json.loads((SAMPLES / f"{name}.expected.json").read_text())["sessions"]}
    assert len(index["sessions"]) == len(expected) == 2
    for s in index["sessions"]:
        for side in ("client", "server"):
            data = (tmp_path / "out" / s["files"][side]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == expected[s["client"]][side]["sha256"]
    again = run("export", str(SAMPLES / f"{name}.pcapng"), "-o", str(tmp_path / "out"))
    assert again.returncode == 3 and b"--force" in again.stderr


def test_follow_prints_the_conversation():
    proc = run("follow", str(SAMPLES / "tls13-aes128-gcm.pcapng"), "--session", "0")
    out = proc.stdout.decode()
    assert proc.returncode == 0
    assert "GET / HTTP/1.1" in out and "HTTP/1.1 200 OK" in out
    assert out.index("GET / HTTP/1.1") < out.index("HTTP/1.1 200 OK")
    raw = run("follow", str(SAMPLES / "tls13-aes128-gcm.pcapng"), "--session", "0", "--format", "raw").stdout
    exp = json.loads((SAMPLES / "tls13-aes128-gcm.expected.json").read_text())["sessions"][0]["app_data"]
    assert len(raw) == exp["client"]["bytes"] + exp["server"]["bytes"]


def test_follow_unknown_session_is_an_error():
    proc = run("follow", str(SAMPLES / "tls13-aes128-gcm.pcapng"), "--session", "7")
    assert proc.returncode == 3 and b"no session 7" in proc.stderr


@needs_corpus
def test_keys_turns_an_rsa_key_into_a_key_log(tmp_path):
    out = tmp_path / "k.keys"
    cap = CORPUS / "captures/rsasnakeoil2.pcap"
    proc = run("keys", str(cap), "--key", str(CORPUS / "keys/rsasnakeoil2.key"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_text().count("CLIENT_RANDOM") == 3  # initial handshake, renegotiation, resumption
    with_key = analyze([cap], key_specs=[str(CORPUS / "keys/rsasnakeoil2.key")])
    with_log = analyze([cap], keylogs=[str(out)])
    assert [s["app_data"] for s in with_log] == [s["app_data"] for s in with_key]


@needs_corpus
@needs_tshark
def test_tshark_decrypts_with_the_written_key_log(tmp_path):
    out = tmp_path / "k.keys"
    cap = CORPUS / "captures/rsa-p-lt-q.pcap"
    assert run("keys", str(cap), "--key", str(CORPUS / "keys/rsa-p-lt-q.key"), "-o", str(out)).returncode == 0
    follow = subprocess.run(["tshark", "-r", str(cap), "-o", f"tls.keylog_file:{out}", "-q", "-z", "follow,tls,raw,0"],
                            capture_output=True, text=True, timeout=120).stdout
    ours = analyze([cap], keylogs=[str(out)])[0]["app_data"]
    body = [line.strip() for line in follow.splitlines() if line.strip() and all(c in "0123456789abcdef" for c in line.strip())]
    assert sum(len(b) // 2 for b in body) == ours["client"]["bytes"] + ours["server"]["bytes"]


QUIC = SAMPLES / "real" / "quic"


def _tshark_quic_stream(name: str, stream: int) -> dict[str, bytes]:
    """tshark's `follow,quic,raw` of one stream of the capture's first connection: bytes per direction."""
    out = subprocess.run(["tshark", "-r", str(QUIC / f"{name}.pcap"), "-o", f"tls.keylog_file:{QUIC / f'{name}.keys'}",
                          "-qz", f"follow,quic,raw,0,{stream}"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    body = out.split("=" * 67)[1].splitlines()
    data = {"client": b"", "server": b""}
    for line in body:
        if line.strip() and not line.startswith(("Follow:", "Filter:", "Node ")):
            data["server" if line.startswith("\t") else "client"] += bytes.fromhex(line.strip())
    return data


def _h3_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The HTTP/3 frames (type, payload) of a request stream's bytes (RFC 9114 7.1: varint type, varint length)."""
    def varint(pos: int) -> tuple[int, int]:
        n = 1 << (data[pos] >> 6)
        return int.from_bytes(data[pos:pos + n], "big") & ((1 << (8 * n - 2)) - 1), pos + n

    frames, pos = [], 0
    while pos < len(data):
        ftype, pos = varint(pos)
        length, pos = varint(pos)
        frames.append((ftype, data[pos:pos + length]))
        pos += length
    return frames


def _h3_data(data: bytes) -> bytes:
    return b"".join(payload for ftype, payload in _h3_frames(data) if ftype == 0)


@needs_tshark
@pytest.mark.parametrize("name", ["chromium-h3", "firefox-h3"])
def test_export_and_follow_give_each_quic_stream_as_tshark_follows_it(name, tmp_path):
    keys = ["--keylog", str(QUIC / f"{name}.keys")]
    proc = run("export", str(QUIC / f"{name}.pcap"), *keys, "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr.decode()
    [s] = json.loads((tmp_path / "out" / "index.json").read_text())["sessions"]
    assert len(s["streams"]) >= 4  # HTTP/3: control and QPACK streams each way, and the requests
    for sid, files in s["streams"].items():
        theirs = _tshark_quic_stream(name, int(sid))
        for side in ("client", "server"):
            mine = (tmp_path / "out" / files[side]).read_bytes() if side in files else b""
            assert mine == theirs[side], (sid, side)
        raw = run("follow", str(QUIC / f"{name}.pcap"), *keys, "-s", "0", "--stream", sid, "--format", "raw").stdout
        if int(sid) % 4 == 0:  # an HTTP/3 request stream: its DATA (the header blocks are decoded, not raw)
            assert sorted(raw) == sorted(_h3_data(theirs["client"]) + _h3_data(theirs["server"]))
        else:
            assert sorted(raw) == sorted(theirs["client"] + theirs["server"])  # (both directions, in wire order)
    for side in ("client", "server"):  # a direction's file: all its streams, its app_data
        assert hashlib.sha256((tmp_path / "out" / s["files"][side]).read_bytes()).hexdigest() == \
            s["app_data"][side]["sha256"]
    text = run("follow", str(QUIC / f"{name}.pcap"), *keys, "-s", "0").stdout.decode()
    assert "client stream 0 (" in text and "server stream 0 (" in text
    missing = run("follow", str(QUIC / f"{name}.pcap"), *keys, "-s", "0", "--stream", "999")
    assert missing.returncode == 3 and b"no decrypted stream 999" in missing.stderr


@pytest.mark.parametrize("name", ["chromium-h3", "firefox-h3"])
def test_follow_an_http3_request_stream_decodes_its_header_blocks(name):
    cap, keys = QUIC / f"{name}.pcap", ["--keylog", str(QUIC / f"{name}.keys")]
    [s] = analyze([cap], keylogs=[keys[1]], plugins=True)
    requests = [(r["stream"], r["method"], r["target"], r["status"]) for r in s["http"]["requests"]]
    assert requests and all(method == "GET" and status == 200 for _, method, _, status in requests)
    for stream, _, path, _ in requests:
        text = run("follow", str(cap), *keys, "-s", "0", "--stream", str(stream)).stdout.decode()
        blocks = [chunk.split("\n") for chunk in text.split("=== ")[1:]]
        heads = [(b[0].split()[1], b[0].split()[4], dict(line.split(": ", 1) for line in b[1:] if line)) for b in blocks
                 if b[0].split()[4] == "HEADERS"]
        assert [(d, h[":method"], h[":path"]) for d, _, h in heads if d == "client"] == [("client", "GET", path)]
        assert [(d, h[":status"]) for d, _, h in heads if d == "server"] == [("server", "200")]
        data = run("follow", str(cap), *keys, "-s", "0", "--stream", str(stream), "--format", "raw").stdout
        assert data == b"hello over HTTP/3\n"  # what make_quic_captures.sh serves, DATA frames unwrapped
    # the control and QPACK streams stay raw bytes: stream 2 is the client's control stream (type 0x00)
    raw = run("follow", str(cap), *keys, "-s", "0", "--stream", "2", "--format", "raw").stdout
    assert raw[:1] == b"\x00" and _h3_frames(raw[1:])[0][0] == 0x04  # its first frame: SETTINGS


def test_an_rsa_key_decrypts_a_session_with_a_client_certificate_and_the_extended_master_secret(tmp_path):
    # RFC 7627's session hash covers the handshake up to the ClientKeyExchange; the client's CertificateVerify
    # follows it and must stay out (it was once hashed in, and such sessions "failed")
    from dissector.capture.reader import open_capture
    from dissector.capture.writer import PcapWriter

    proc = run("generate", "-o", str(tmp_path), "tls12-rsa-mtls")
    assert proc.returncode == 0, proc.stderr.decode()
    with open_capture(str(tmp_path / "tls12-rsa-mtls.pcapng")) as cap, open(tmp_path / "plain.pcap", "wb") as out:
        w = PcapWriter(out)  # (classic pcap: the key log embedded in the pcapng stays behind)
        for ts, _, frame in cap:
            w.write(ts, bytes(frame))
    [s] = analyze([tmp_path / "plain.pcap"], key_specs=[str(tmp_path / "tls12-rsa-mtls.key.pem")])
    [exp] = json.loads((tmp_path / "tls12-rsa-mtls.expected.json").read_text())["sessions"]
    types = [m["type"] for m in s["messages"]]
    assert types[5:8] == ["Certificate", "ClientKeyExchange", "CertificateVerify"]
    assert s["cipher_suite"] == "TLS_RSA_WITH_AES_128_GCM_SHA256"
    assert any(e["name"] == "extended_master_secret" for e in s["messages"][0]["extensions"])
    assert s["decryption"] == {"status": "decrypted", "detail": ""} and s["app_data"] == exp["app_data"]
    assert types.count("Finished") == 2


H2_CAPTURES = [("nginx-h2", 0), ("chromium-h2", 0), ("firefox-h2", 0), ("firefox-h2", 1), ("go-server-h2", 0)]


def _our_http2_stream(name: str, session: int, stream: int) -> tuple[list[tuple[str, list]], bytes, list]:
    """`follow --stream` on an HTTP/2 session: the header blocks (direction, [(name, value)]), the DATA bytes and
    the resets (direction, error)."""
    cap, keys = SAMPLES / "real" / f"{name}.pcap", SAMPLES / "real" / f"{name}.keys"
    args = ["follow", str(cap), "--keylog", str(keys), "-s", str(session), "--stream", str(stream)]
    text = run(*args).stdout.decode("latin-1").splitlines()
    blocks: list[tuple[str, list]] = []
    resets = []
    for line in text:
        if line.startswith("=== "):
            head = line.split()
            blocks.append((head[2], [])) if head[5] == "HEADERS" else blocks.append(("", []))
            if head[5] == "RST_STREAM":
                resets.append((head[2], head[-1]))
        elif blocks and blocks[-1][0]:
            name_, _, value = line.partition(": ")
            blocks[-1][1].append((name_, value))
    return [b for b in blocks if b[0]], run(*args, "--format", "raw").stdout, resets


def _tshark_http2_stream(name: str, session_stream: int, stream: int, client_port: str) -> tuple[list, bytes, list]:
    cap, keys = SAMPLES / "real" / f"{name}.pcap", SAMPLES / "real" / f"{name}.keys"
    out = subprocess.run(["tshark", "-r", str(cap), "-o", f"tls.keylog_file:{keys}", "-q", "-z",
                          f"follow,http2,raw,{session_stream},{stream}"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    node0 = next(line.split()[-1] for line in out.splitlines() if line.startswith("Node 0:"))
    blocks, data, resets = [], b"", []
    for line in out.splitlines():
        if not line.strip() or line.startswith(("=", "Follow", "Filter", "Node")):
            continue
        chunk = bytes.fromhex(line.strip())
        from_node0 = not line.startswith("\t")
        direction = "client" if from_node0 == (node0.rsplit(":", 1)[1] == client_port) else "server"
        if int.from_bytes(chunk[:3], "big") == len(chunk) - 9:  # a whole frame: DATA, or RST_STREAM...
            if chunk[3] == 0:
                pad = chunk[9] + 1 if chunk[4] & 0x08 else 0
                data += chunk[9 + (1 if pad else 0):len(chunk) - (pad - 1 if pad else 0)]
            elif chunk[3] == 3:
                resets.append((direction, chunk[9:13]))
            continue
        headers, pos = [], 0  # tshark's decoded header list: 4-byte length, name, 4-byte length, value
        while pos < len(chunk):
            n = int.from_bytes(chunk[pos:pos + 4], "big")
            name_ = chunk[pos + 4:pos + 4 + n].decode("latin-1")
            pos += 4 + n
            n = int.from_bytes(chunk[pos:pos + 4], "big")
            headers.append((name_, chunk[pos + 4:pos + 4 + n].decode("latin-1")))
            pos += 4 + n
        blocks.append((direction, headers))
    return blocks, data, [(d, "NO_ERROR" if code == bytes(4) else code.hex()) for d, code in resets]


@needs_tshark
@pytest.mark.parametrize("name,session", H2_CAPTURES)
def test_follow_an_http2_stream_as_tshark_follows_it(name, session):
    cap, keys = SAMPLES / "real" / f"{name}.pcap", SAMPLES / "real" / f"{name}.keys"
    [s] = [s for s in analyze([cap], keylogs=[str(keys)]) if s["id"] == session]
    listed = run("follow", str(cap), "--keylog", str(keys), "-s", str(session), "--stream", "2").stderr.decode()
    streams = [int(n) for n in listed.rsplit("its streams: ", 1)[1].split(", ")]
    assert streams and all(n % 2 for n in streams)  # client-initiated streams (server pushes would be even)
    for stream in streams[:4]:
        ours = _our_http2_stream(name, session, stream)
        theirs = _tshark_http2_stream(name, session, stream, s["client"].rsplit(":", 1)[1])
        assert ours == theirs, f"stream {stream}"
        assert ours[0] and ours[0][0][0] == "client" and any(n == ":method" for n, _ in ours[0][0][1])


def test_follow_names_the_http2_streams_there_are():
    proc = run("follow", str(SAMPLES / "real" / "nginx-h2.pcap"), "--keylog", str(SAMPLES / "real" / "nginx-h2.keys"),
               "-s", "0", "--stream", "2")
    assert proc.returncode == 3 and b"its streams: 1, 3, 5, 7, 9, 11, 13, 15" in proc.stderr
    plain = run("follow", str(SAMPLES / "tls13-aes128-gcm.pcapng"), "-s", "0", "--stream", "1")
    assert plain.returncode == 3 and b"not a decrypted QUIC or HTTP/2 session" in plain.stderr
