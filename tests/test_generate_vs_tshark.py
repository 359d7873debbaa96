"""Every `dissector generate` scenario decrypts to the same bytes in tshark and in dissector analyze, and
those are the bytes the OpenSSL peers sent."""
from __future__ import annotations

import argparse
import hashlib
import json

import pytest

from dissector.commands import generate
from dissector.endpoint.scenarios import SCENARIOS
from tests.conftest import analyze, needs_tshark, tshark_follow


def _digest(data: bytes) -> dict:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@needs_tshark
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_generated_capture_decrypts_identically(tmp_path, name):
    ns = argparse.Namespace(scenarios=[name], output=str(tmp_path), list=False, mss=1460, force=False, start=None,
                            ipv6=False, port=443)
    assert generate.run(ns) == 0
    expected = json.loads((tmp_path / f"{name}.expected.json").read_text())["sessions"]
    ours = {s["client"]: s for s in analyze([tmp_path / f"{name}.pcapng"])}
    for i, exp in enumerate(expected):
        mine = ours[exp["client"]]
        assert mine["decryption"]["status"] == "decrypted", mine["decryption"]
        c, s = tshark_follow(tmp_path / f"{name}.pcapng", i, exp["client"])
        early = exp.get("early_data") or {"bytes": 0}
        # tshark's follow stream carries the 0-RTT request too; the peers' record of it is separate
        if not early["bytes"]:
            assert {"client": _digest(c), "server": _digest(s)} == exp["app_data"]
        assert mine["app_data"] == {"client": _digest(c), "server": _digest(s)}
