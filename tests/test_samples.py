"""The committed samples (real OpenSSL traffic): decrypted bytes equal what the peers sent, and the
labelled handshake equals tshark's for the same file."""
from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from dissector.tls.constants import HANDSHAKE_TYPES
from tests.conftest import SAMPLES, analyze, needs_tshark

PCAPNGS = sorted(SAMPLES.glob("*.pcapng"))
NAMES = [p.stem for p in PCAPNGS]
RSA_KX = [n for n in NAMES if "-rsa-" in n and "ecdhe" not in n and "dhe-" not in n]


def expected(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.expected.json").read_text())


def check_against_expected(name: str, sessions: list[dict]) -> None:
    got = {s["client"]: s for s in sessions}
    for exp in expected(name)["sessions"]:
        s = got[exp["client"]]
        assert s["server"] == exp["server"]
        assert s["version"] == exp["version"] and s["cipher_suite"] == exp["cipher_suite"]
        assert s["resumed"] == exp["resumed"]
        assert s["decryption"]["status"] == "decrypted", s["decryption"]
        assert s["app_data"] == exp["app_data"]


def test_samples_are_present():
    assert len(PCAPNGS) >= 6


@pytest.mark.parametrize("name", NAMES)
def test_sample_decrypts_with_embedded_keys(name):
    check_against_expected(name, analyze([SAMPLES / f"{name}.pcapng"]))


@pytest.mark.parametrize("name", NAMES)
def test_sample_pcap_with_key_log(name):
    check_against_expected(name, analyze([SAMPLES / f"{name}.pcap"], keylogs=[str(SAMPLES / f"{name}.keys")]))


@pytest.mark.parametrize("name", RSA_KX)
def test_rsa_key_exchange_sample_decrypts_with_server_key_alone(name):
    check_against_expected(name, analyze([SAMPLES / f"{name}.pcap"], key_specs=[str(SAMPLES / f"{name}.key.pem")]))


@pytest.mark.parametrize("name", NAMES)
def test_sample_without_keys_explains(name):
    for s in analyze([SAMPLES / f"{name}.pcap"]):
        assert s["decryption"]["status"] == "no-key" and s["decryption"]["detail"]
        assert "app_data" not in s


def tshark_handshakes(path: Path) -> dict[int, list[str]]:
    """tshark's handshake message types per TCP stream, in wire order (it reads the pcapng's DSB itself)."""
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "tls.handshake.type", "-T", "fields",
                          "-e", "tcp.stream", "-e", "tls.handshake.type"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    streams: dict[int, list[str]] = defaultdict(list)
    for line in out.stdout.splitlines():
        stream, types = line.split("\t")
        streams[int(stream)] += [HANDSHAKE_TYPES[int(t)] for t in types.split(",") if t]
    return dict(streams)


@needs_tshark
@pytest.mark.parametrize("name", NAMES)
def test_handshake_sequence_matches_tshark(name):
    ours = {}
    for s in analyze([SAMPLES / f"{name}.pcapng"]):
        types = [m["type"] for m in s["messages"] if m["type"] not in ("ChangeCipherSpec", "Alert")]
        # tshark calls a HelloRetryRequest a ServerHello (type 2)
        ours[s["id"]] = ["ServerHello" if t == "HelloRetryRequest" else t for t in types]
    assert ours == tshark_handshakes(SAMPLES / f"{name}.pcapng")
