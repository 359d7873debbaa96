"""--jobs N: flows sharded across processes give exactly the output of one process."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import CORPUS, SAMPLES, needs_corpus


def run(*args: str) -> bytes:
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", *args, "-q"], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


@needs_corpus
@pytest.mark.parametrize("fmt", ["jsonl", "json", "table", "csv"])
def test_sharded_output_equals_single_process(fmt):
    caps = [str(CORPUS / "captures/tls12-chacha20poly1305.pcap"), str(CORPUS / "captures/tls-fragmented-handshakes.pcap")]
    keys = ["--keylog", str(CORPUS / "keys/tls12-chacha20poly1305.keys")]
    assert run(*caps, *keys, "-f", fmt, "-j", "2") == run(*caps, *keys, "-f", fmt, "-j", "1")


def test_sharded_resumption_with_rsa_key_stays_in_one_worker():
    # a resumed session needs the master secret of the first one: sharding by host pair keeps them together
    cap = str(SAMPLES / "tls12-resume-id.pcap")
    keys = ["--keylog", str(SAMPLES / "tls12-resume-id.keys")]
    assert run(cap, *keys, "-f", "json", "-j", "3") == run(cap, *keys, "-f", "json", "-j", "1")


def test_jobs_rejects_stdin():
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", "-", "-j", "2"], input=b"", capture_output=True,
                          timeout=60)
    assert proc.returncode == 3 and b"--jobs needs regular files" in proc.stderr
