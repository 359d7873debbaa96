"""The command line: outputs, one-line errors and exit codes, never a traceback."""
from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys

import pytest

from tests.conftest import CORPUS, SAMPLES, needs_corpus


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dissector", *args], capture_output=True, input=stdin, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dissector: error:"), err
    return lines[0]


def test_not_a_capture(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("GET / HTTP/1.1\r\n")
    assert "not a pcap" in assert_one_line_error(run("analyze", str(p)), 3)


def test_missing_file(tmp_path):
    assert_one_line_error(run("analyze", str(tmp_path / "nope.pcap")), 3)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.pcap"
    p.write_bytes(b"")
    assert_one_line_error(run("analyze", str(p)), 3)


def test_bad_key_file(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    assert_one_line_error(run("analyze", "--key", str(key), str(key)), 3)


def test_bad_psk():
    assert "not hex" in assert_one_line_error(run("analyze", "--psk", "zz", "x.pcap"), 3)


def test_usage_error_exit_code():
    assert run("analyze").returncode == 2


@needs_corpus
def test_truncated_capture_reports_what_was_read(tmp_path):
    data = (CORPUS / "captures/rsasnakeoil2.pcap").read_bytes()
    p = tmp_path / "cut.pcap"
    p.write_bytes(data[: len(data) * 2 // 3])
    proc = run("analyze", str(p), "--format", "json")
    assert proc.returncode == 4
    assert "truncated" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()
    doc = json.loads(proc.stdout)
    assert doc["sessions"] and doc["summary"]["truncated"]


@needs_corpus
def test_json_contract_and_stdin_gzip():
    raw = (CORPUS / "captures/tls12-dsb.pcapng").read_bytes()
    proc = run("analyze", "-", "--format", "json", stdin=gzip.compress(raw))
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout)
    s = doc["sessions"][0]
    assert s["client"] == "10.9.0.2:46800" and s["server"] == "93.184.216.34:443"
    assert s["version"] == "TLS 1.2" and s["cipher_suite"] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert s["sni"] == "example.com" and s["alpn"] == "http/1.1"
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    assert s["app_data"]["client"]["bytes"] == 76
    first = s["messages"][0]
    assert set(first) >= {"time", "from", "type"} and first["type"] == "ClientHello"
    alerts = [m for m in s["messages"] if m["type"] == "Alert"]
    assert alerts and alerts[0]["level"] == "warning" and alerts[0]["description"] == "close_notify"


@needs_corpus
@pytest.mark.parametrize("fmt", ["table", "csv", "jsonl"])
def test_other_formats(fmt):
    proc = run("analyze", str(CORPUS / "captures/tls13-rfc8446.pcap"), "--keylog", str(CORPUS / "keys/tls13-rfc8446.keys"),
               "--format", fmt)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    if fmt == "table":
        assert "EncryptedExtensions" in out and "TLS_AES_128_GCM_SHA256" in out and "decryption: decrypted" in out
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [r["type"] for r in rows if r["session"] == "0"][:3] == ["ClientHello", "ServerHello", "ChangeCipherSpec"]
    else:
        lines = [json.loads(line) for line in out.splitlines()]
        assert any(e["event"] == "TLSMessage" and e["type"] == "EndOfEarlyData" for e in lines)
        assert lines[-1]["event"] == "Summary"


def test_file_path_does_not_import_scapy():
    code = ("import sys; from dissector.cli import main; "
            "main(['analyze', '--help']) if False else None; import dissector.commands.analyze, dissector.pipeline; "
            "print('scapy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_verbose_table_shows_every_field():
    from tests.conftest import SAMPLES

    proc = run("analyze", str(SAMPLES / "tls13-hrr.pcapng"), "-v")
    out = proc.stdout.decode()
    assert proc.returncode == 0 and "Message details:" in out
    assert "HelloRetryRequest" in out and "selected_group: secp256r1" in out  # the HRR's key_share
    assert "supported_versions" in out and "certificates: (1)" in out


def test_unsupported_link_type_is_an_error(tmp_path):
    import struct

    p = tmp_path / "user0.pcap"
    with open(p, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147))  # LINKTYPE_USER0: private use
        for i in range(3):
            f.write(struct.pack("<IIII", 1, i, 60, 60) + b"x" * 60)
    assert "link type is not supported" in assert_one_line_error(run("analyze", str(p)), 3)


def test_json_writer_sorts_sessions_that_end_out_of_order_and_keeps_none_in_memory():
    from dissector.output.formats import JSONWriter

    out = io.StringIO()
    w = JSONWriter(out)
    arrival = [(1, 0), (0, 2), (0, 0), (1, 1), (0, 1)]  # (capture index, flow id) in the order they end
    for cap, fid in arrival:
        w.session({"id": fid, "capture_index": cap, "sni": f"h{cap}-{fid}.example", "text": "é\n\"quoted\""})
    assert not any(isinstance(v, (list, dict)) and v for v in vars(w).values() if v is not w.out)  # texts on disk
    w.end({"sessions": len(arrival)})
    doc = json.loads(out.getvalue())
    assert [(s["capture_index"], s["id"]) for s in doc["sessions"]] == sorted(arrival)
    assert doc["sessions"][3]["sni"] == "h1-0.example" and doc["sessions"][0]["text"] == "é\n\"quoted\""
    assert doc["summary"] == {"sessions": 5}


def test_json_writer_without_sessions_is_a_valid_document():
    from dissector.output.formats import JSONWriter

    out = io.StringIO()
    JSONWriter(out).end({"sessions": 0})
    assert json.loads(out.getvalue()) == {"sessions": [], "summary": {"sessions": 0}}


def test_output_encoder_writes_integers_beyond_64_bits_as_text_and_keeps_the_rest():
    from dissector.output.formats import encode
    from dissector.redact import Secret

    big = 2 ** 80
    text = encode({"n": big, "items": [1, -(2 ** 70), {"x": 2 ** 64 - 1}], "raw": b"\x01\xff", "s": Secret("pw"),
                   3: {2, 1}})
    doc = json.loads(text)
    assert doc == {"n": str(big), "items": [1, str(-(2 ** 70)), {"x": 2 ** 64 - 1}], "raw": "01ff",
                   "s": str(Secret("pw")), "3": [1, 2]}
    assert "pw" not in text


def test_session_documents_without_message_lists_keep_everything_else():
    """jsonl's collector counts messages instead of listing them (the events have their own lines): the
    rest of each document, fingerprints, findings and history included, is the same."""
    from dissector.analysis import run_captures
    from dissector.keys import build_keystore

    cap = str(SAMPLES / "tls12-resume-id.pcapng")
    full, lean = [], []
    run_captures([cap], build_keystore(), on_session=full.append, details=False)
    run_captures([cap], build_keystore(), on_session=lean.append, details=False, messages=False)
    assert len(full) == len(lean) >= 2
    for f, s in zip(full, lean, strict=True):
        assert s["messages"] == len(f["messages"]) > 5 and "tcp" not in s and f["tcp"]
        assert {k: v for k, v in f.items() if k not in ("messages", "tcp")} == \
               {k: v for k, v in s.items() if k != "messages"}


@pytest.mark.parametrize("fmt", ["jsonl", "json", "table", "csv"])
def test_a_capture_whose_name_is_not_utf8_is_analysed(tmp_path, fmt):
    """Python decodes such a name with lone surrogates, which a UTF-8 encoder refuses: the name is written
    with U+FFFD for its undecodable byte, and the analysis is not lost."""
    import os
    import shutil

    name = os.fsdecode(bytes(tmp_path) + b"/caf\xe9.pcapng")
    shutil.copy(SAMPLES / "tls13-aes128-gcm.pcapng", name)
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", name, "-f", fmt, "-q"], capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("utf-8")
    if fmt == "json":
        doc = json.loads(out)
        assert doc["sessions"][0]["capture"].endswith("caf\ufffd.pcapng")
        assert doc["sessions"][0]["decryption"]["status"] == "decrypted"
    elif fmt == "jsonl":
        summary = json.loads(out.splitlines()[-1])
        assert summary["captures"][0].endswith("caf\ufffd.pcapng") and summary["sessions"] == 1


def test_output_encoder_replaces_lone_surrogates():
    from dissector.output.formats import encode

    assert json.loads(encode({"f": "caf\udce9", "k\udce9": ["\ud800x"]})) == {"f": "caf\ufffd", "k\ufffd": ["?x"]}
    assert json.loads(encode({"mixed": {2, "a", 1}})) == {"mixed": ["a", 1, 2]}  # by repr when they do not compare


def test_output_encoder_cuts_what_nests_too_deeply_instead_of_failing():
    """A peer's JSON body (an OAuth2 token response, say) can nest deeper than orjson writes (255 levels):
    the run must go on, with the deep part replaced."""
    import io

    from dissector.events import Flow
    from dissector.output.formats import JSONLWriter
    from dissector.plugins import PluginFields

    deep: list = []
    cur = deep
    for _ in range(400):
        cur.append([])
        cur = cur[0]
    out = io.StringIO()
    w = JSONLWriter(out)
    w.event(PluginFields(1.0, Flow(3, "10.0.0.1", 1000, "10.0.0.2", 443, 0.0), "http", "http", {"v": deep}))
    w.flush()
    line = json.loads(out.getvalue())
    depth, node = 0, line["fields"]["v"]
    while isinstance(node, list):
        node, depth = node[0], depth + 1
    assert line["flow"] == 3 and node == "(nested too deeply)" and depth > 190


@pytest.mark.parametrize("command,starts", [(["analyze", "-f", "jsonl"], b'{"event":'),
                                            (["timeline", "-f", "csv"], b"capture,session,"),
                                            (["keys"], b"# ")])
def test_dash_as_output_is_stdout(tmp_path, command, starts):
    # (a file named "-" was once written instead, and even committed)
    proc = subprocess.run([sys.executable, "-m", "dissector", command[0], str(SAMPLES / "tls13-aes128-gcm.pcapng"),
                           *command[1:], "-o", "-"], capture_output=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(starts), proc.stderr
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("command", [["analyze"], ["timeline"], ["keys"]])
def test_output_that_cannot_be_written_is_a_one_line_error(tmp_path, command):
    proc = subprocess.run([sys.executable, "-m", "dissector", *command, str(SAMPLES / "tls13-aes128-gcm.pcapng"),
                           "-o", str(tmp_path)], capture_output=True, timeout=120)  # -o names a directory
    err = proc.stderr.decode()
    assert proc.returncode == 3 and err.count("\n") == 1 and err.startswith("dissector: error: ") \
        and str(tmp_path) in err and "internal error" not in err, err
