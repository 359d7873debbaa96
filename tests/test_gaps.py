"""Lost segments: the gap is reported, TLS resynchronises, and decryption resumes after it where the
cipher allows (AEAD, TLS 1.1+ CBC) or stops with a reason (RC4, TLS 1.0 CBC chaining)."""
from __future__ import annotations

import functools
import random

from dissector.capture.writer import PcapWriter
from dissector.endpoint.scenarios import build
from dissector.net.decode import decode_frame
from tests.conftest import analyze


@functools.cache
def large_transfer():
    return build("large-transfer")


def write(path, frames) -> None:
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for ts, frame in frames:
            w.write(ts, frame)


def server_data_frames(frames) -> list[int]:
    out = []
    for i, (_, frame) in enumerate(frames):
        seg = decode_frame(1, frame)
        if seg is not None and seg.sport == 443 and len(seg.payload) > 1000:
            out.append(i)
    return out


def test_a_lost_segment_is_reported_and_decryption_resumes(tmp_path):
    cap = large_transfer()
    frames = list(cap.frames)
    data = server_data_frames(frames)
    drop = data[len(data) // 2]
    write(tmp_path / "lost.pcap", frames[:drop] + frames[drop + 1:])
    (tmp_path / "k.keys").write_text(cap.keylog)
    (s,) = analyze([tmp_path / "lost.pcap"], keylogs=[str(tmp_path / "k.keys")])
    gaps = [e for e in s["tcp"] if e["event"] == "GAP"]
    assert gaps and gaps[0]["from"] == "server" and gaps[0]["missing"] > 1000
    assert any(a["name"] == "records_lost" for a in s["anomalies"])
    assert s["decryption"]["status"] == "decrypted"
    sent = cap.expected["sessions"][0]["app_data"]
    assert s["app_data"]["client"] == sent["client"]  # the client's side is untouched
    # the server side lost one record or two (a segment can finish one and start the next), not more
    assert sent["server"]["bytes"] - 2 * 16384 <= s["app_data"]["server"]["bytes"] < sent["server"]["bytes"]


def test_reordered_and_duplicated_segments_change_nothing(tmp_path):
    cap = large_transfer()
    frames = list(cap.frames)
    rnd = random.Random(7)
    data = server_data_frames(frames)
    for _ in range(40):  # swap neighbouring data segments and duplicate some
        i = rnd.choice(data[:-1])
        frames[i], frames[i + 1] = frames[i + 1], frames[i]
    for i in rnd.sample(data, 10):
        frames.insert(i, frames[i])
    write(tmp_path / "shuffled.pcap", frames)
    (tmp_path / "k.keys").write_text(cap.keylog)
    (s,) = analyze([tmp_path / "shuffled.pcap"], keylogs=[str(tmp_path / "k.keys")])
    assert s["app_data"] == cap.expected["sessions"][0]["app_data"]
    assert not [e for e in s["tcp"] if e["event"] == "GAP"]
