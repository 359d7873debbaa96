"""NSS key log parsing: labels, bad lines with line numbers, growing files, corpus files, 100k lines."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from dissector.errors import KeyMaterialError
from dissector.tls.keylog import KeyLog

CORPUS_KEYS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "wireshark" / "keys"
if not CORPUS_KEYS.is_dir():
    CORPUS_KEYS = Path("/work/shared/corpus/wireshark/keys")

CR1 = bytes(range(32))
CR2 = bytes(range(32, 64))
MS = bytes(range(100, 148))

SAMPLE = f"""# SSL/TLS secrets log file
CLIENT_RANDOM {CR1.hex()} {MS.hex().upper()}

CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR2.hex().upper()} {"11" * 32}
SERVER_HANDSHAKE_TRAFFIC_SECRET {CR2.hex()} {"22" * 32}
CLIENT_TRAFFIC_SECRET_0 {CR2.hex()} {"33" * 48}
SERVER_TRAFFIC_SECRET_0 {CR2.hex()} {"44" * 48}
CLIENT_EARLY_TRAFFIC_SECRET {CR2.hex()} {"55" * 32}
EARLY_EXPORTER_SECRET {CR2.hex()} {"66" * 32}
EXPORTER_SECRET {CR2.hex()} {"77" * 32}
PMS_CLIENT_RANDOM {CR1.hex()} {"88" * 20}
RSA 0123456789abcdef {"99" * 48}
CLIENT_RANDOM {CR1.hex()} {"ab" * 47}
CLIENT_RANDOM {CR1.hex()[:-2]} {MS.hex()}
CLIENT_RANDOM {CR1.hex()}
SERVER_TRAFFIC_SECRET_1 {CR2.hex()} {"aa" * 32}
CLIENT_RANDOM {CR1.hex()} {"zz" * 48}
this is not a key log line
RSA Session-ID:{"0a" * 32} Master-Key:{"0b" * 48}
"""


def test_parse_all_labels_and_report_bad_lines():
    log = KeyLog()
    added = log.add_text(SAMPLE, "sample.keys")
    assert added == 11
    assert len(log) == 11
    assert log.get("CLIENT_RANDOM", CR1) == MS  # upper-case hex
    assert log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", CR2) == b"\x11" * 32  # upper-case random
    assert log.get("SERVER_HANDSHAKE_TRAFFIC_SECRET", CR2) == b"\x22" * 32
    assert log.get("CLIENT_TRAFFIC_SECRET_0", CR2) == b"\x33" * 48
    assert log.get("SERVER_TRAFFIC_SECRET_0", CR2) == b"\x44" * 48
    assert log.get("CLIENT_EARLY_TRAFFIC_SECRET", CR2) == b"\x55" * 32
    assert log.get("EARLY_EXPORTER_SECRET", CR2) == b"\x66" * 32
    assert log.get("EXPORTER_SECRET", CR2) == b"\x77" * 32
    assert log.get("PMS_CLIENT_RANDOM", CR1) == b"\x88" * 20
    assert log.rsa_premaster(bytes.fromhex("0123456789abcdef")) == b"\x99" * 48
    assert log.rsa_premaster(bytes.fromhex("0123456789abcdef") + b"rest of the encrypted pre-master") == b"\x99" * 48
    assert log.master_by_session_id(b"\x0a" * 32) == b"\x0b" * 48
    assert log.get("CLIENT_RANDOM", CR2) is None and log.get("NOPE", CR1) is None
    assert log.has(CR1) and log.has(memoryview(CR2)) and not log.has(bytes(32))
    assert log.labels_for(CR1) == ["CLIENT_RANDOM", "PMS_CLIENT_RANDOM"]
    assert dict(log.unknown_labels) == {"SERVER_TRAFFIC_SECRET_1": 1}
    assert [(src, line) for src, line, _reason in log.errors] == [("sample.keys", n) for n in (13, 14, 15, 17, 18)]
    reasons = dict(((line, reason) for _src, line, reason in log.errors))
    assert "48 expected" in reasons[13]
    assert "client random" in reasons[14]
    assert "3 fields" in reasons[15]
    assert "not hex" in reasons[17]
    assert "not a key log line" in reasons[18]


def test_later_lines_win_and_crlf_and_bom():
    log = KeyLog()
    text = f"\ufeffCLIENT_RANDOM {CR1.hex()} {'00' * 48}\r\nCLIENT_RANDOM {CR1.hex()} {MS.hex()}\r\n"
    assert log.add_text(text.encode("utf-8"), "dsb") == 2
    assert log.get("CLIENT_RANDOM", CR1) == MS
    assert len(log) == 1 and not log.errors


def test_empty_keylog_is_still_truthy():
    log = KeyLog()
    assert len(log) == 0 and log  # `if keylog:` must not hide a key log that has no entries yet


def test_load_and_refresh_growing_file(tmp_path):
    path = tmp_path / "sslkeys.log"
    path.write_text(f"# header\nCLIENT_RANDOM {CR1.hex()} {MS.hex()}\n")
    log = KeyLog()
    assert log.load(str(path)) == 1
    assert log.refresh() == 0
    with path.open("a") as f:  # the writer is in the middle of a line
        f.write(f"CLIENT_TRAFFIC_SECRET_0 {CR2.hex()} {'12' * 16}")
    log.refresh()
    with path.open("a") as f:
        f.write(f"{'12' * 16}\nbad line\n")
    log.refresh()
    assert log.get("CLIENT_TRAFFIC_SECRET_0", CR2) == b"\x12" * 32  # the complete line replaced the partial one
    assert log.errors == [(str(path), 4, "not a key log line")]  # line numbers continue across refreshes
    with path.open("a") as f:
        f.write(f"SERVER_TRAFFIC_SECRET_0 {CR2.hex()} {'34' * 32}\n")
    assert log.refresh() == 1
    assert log.get("SERVER_TRAFFIC_SECRET_0", CR2) == b"\x34" * 32
    # replaced by a shorter file: read again from the start
    path.write_text(f"CLIENT_RANDOM {CR2.hex()} {MS.hex()}\n")
    assert log.refresh() == 1
    assert log.get("CLIENT_RANDOM", CR2) == MS


def test_last_line_without_newline(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"CLIENT_RANDOM {CR1.hex()} {MS.hex()}")
    log = KeyLog()
    assert log.load(str(path)) == 1
    assert log.refresh() == 0  # not counted again
    path.write_text(f"CLIENT_RANDOM {CR1.hex()} {MS.hex()}\nbroken")
    log.refresh()
    assert log.errors == []  # an unfinished last line is not reported while refreshing
    log2 = KeyLog()
    log2.load(str(path))
    assert log2.errors == [(str(path), 2, "not a key log line")]  # but load() reports it


def test_missing_file():
    with pytest.raises(KeyMaterialError, match="cannot read key log"):
        KeyLog().load("/nonexistent/sslkeylog.txt")


def test_100k_lines_fast():
    lines = [f"CLIENT_RANDOM {i.to_bytes(32, 'big').hex()} {MS.hex()}" for i in range(50_000)]
    lines += [f"SERVER_TRAFFIC_SECRET_0 {i.to_bytes(32, 'big').hex()} {'ab' * 32}" for i in range(50_000)]
    text = "\n".join(lines)
    log = KeyLog()
    start = time.perf_counter()
    assert log.add_text(text, "big") == 100_000
    elapsed = time.perf_counter() - start
    assert len(log) == 100_000 and not log.errors
    assert log.get("CLIENT_RANDOM", (49_999).to_bytes(32, "big")) == MS
    assert elapsed < 2.0, f"100k lines took {elapsed:.2f}s"


CORPUS_FILES = [
    ("dhe1_keylog.dat", 1),                  # comment line, upper-case master secret
    ("http2-data-reassembly.keys", 1),       # no final newline
    ("tls12-chacha20poly1305.keys", 8),      # CLIENT_RANDOM lines and one RSA line
    ("tls13-rfc8446.keys", 9),
    ("tls13-rfc8446-noearly.keys", 8),
    ("tls13-20-chacha20poly1305.keys", 8),
    ("tls12-dsb-1.keys", 1),
]


@pytest.mark.skipif(not CORPUS_KEYS.is_dir(), reason="Wireshark corpus absent")
@pytest.mark.parametrize("name,entries", CORPUS_FILES, ids=[n for n, _ in CORPUS_FILES])
def test_corpus_key_logs(name, entries):
    log = KeyLog()
    assert log.load(str(CORPUS_KEYS / name)) == entries
    assert len(log) == entries and not log.errors and not log.unknown_labels
    if name == "dhe1_keylog.dat":
        cr = bytes.fromhex("531f88d114fcf9ce9729b5458f73e1807324459029ee4bea43f8ee4ce06c77c0")
        assert log.get("CLIENT_RANDOM", cr).hex().upper().startswith("3CC9E5068E674393")


def test_half_written_tls13_line_is_rejected_not_used():
    from dissector.tls.keylog import KeyLog

    kl = KeyLog()
    cr = "ab" * 32
    kl.add_text(f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {'cd' * 20}\n", "live")  # cut after 20 of 32 bytes
    assert kl.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", bytes.fromhex(cr)) is None
    assert kl.errors and "32 or 48" in kl.errors[0][2]


def test_quic_prefixed_labels_of_the_draft_years():
    # aioquic before 0.9 (and early ngtcp2, quicly) wrote the TLS 1.3 labels behind "QUIC_"
    r, secret = "ab" * 32, "cd" * 32
    kl = KeyLog()
    kl.add_text(f"QUIC_CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {secret}\nQUIC_SERVER_TRAFFIC_SECRET_0 {r} {secret}\n"
                f"QUIC_CLIENT_RANDOM {r} {'ef' * 48}\n")
    assert kl.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", bytes.fromhex(r)) == bytes.fromhex(secret)
    assert kl.get("SERVER_TRAFFIC_SECRET_0", bytes.fromhex(r)) == bytes.fromhex(secret)
    assert kl.get("CLIENT_RANDOM", bytes.fromhex(r)) is None  # only TLS 1.3's labels had the prefix
    assert not kl.errors and kl.unknown_labels["QUIC_CLIENT_RANDOM"] == 1
