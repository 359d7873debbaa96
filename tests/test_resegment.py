"""Metamorphic checks on real captures: what TCP may do to a stream on its way must not change the analysis.

Each real-peer capture (samples/real) and each TCP capture of the public corpus is rewritten with packets the
way a network and a capture host deliver them: neighbouring segments of one direction swapped, segments
retransmitted, a segment resent as two overlapping ones, a segment cut into pieces of 1-7 bytes. Reassembly
must give the same session documents, times apart (versions, suites, messages and their fields, TCP events,
anomalies, decryption, decrypted bytes, what the plugins read, how TLS was reached from another protocol) as
the capture as it was recorded.

IPv4 packets are also sent as fragments (8 to 512 bytes, in order or last first), which IP reassembly must undo.

What is left alone, because it changes what the capture means: the SYN (it carries the initial sequence number,
and TCP Fast Open data) and datagrams (their order is their content's order). The segments of a flow whose SYN is
not in the capture move too: its first segment may arrive after its successor.
"""
from __future__ import annotations

import collections
import functools
import random

import pytest

from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.net.decode import SYN, UDP_DATAGRAM, decode_frame
from tests.conftest import CORPUS, SAMPLES, analyze, corpus_key_args, corpus_manifest

REAL = SAMPLES / "real"
REBUILT_LINKTYPES = {1, 113, 228}  # Ethernet, Linux cooked (SLL), raw IPv4


def _real_cases() -> list:
    out = []
    for p in sorted(REAL.glob("*.pcap")):
        if not p.with_suffix(".keys").exists():
            continue
        keys = {"keylogs": [str(p.with_suffix(".keys"))]}
        if p.with_suffix(".ech.pem").exists():
            keys["key_specs"] = [str(p.with_suffix(".ech.pem"))]
        out.append(pytest.param(p, keys, id=p.stem))
    return out


def _corpus_cases() -> list:
    manifest = corpus_manifest()
    if manifest is None:
        return [pytest.param(None, None, id="corpus", marks=pytest.mark.skip(reason="no ../shared/corpus"))]
    dsb = pytest.mark.skip(reason="its secrets are in the pcapng's Decryption Secrets Blocks, which the rewritten "
                                  "pcap does not carry")
    return [pytest.param(CORPUS / c["file"], corpus_key_args(c.get("key_material", {})), id=c["id"],
                         marks=[dsb] if c.get("decryption_secrets_blocks") else [])
            for c in manifest["captures"]]


TIMES = frozenset(("time", "first", "last", "response_time", "capture"))  # (and the file's name)


def _untimed(value):
    """A session document without its times: a segment resent later, or in pieces, moves them."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _digest(sessions: list[dict]) -> dict:
    return {s["client"]: _untimed(s) for s in sessions}


def _rebuilt(linktype: int, frame: bytes, cuts: list[tuple[int, int]]) -> list[bytes]:
    """The frame's TCP segment resent as the payload slices `cuts`, every length and checksum recomputed
    (also those of the outer headers of a tunnel)."""
    from scapy.all import IP, TCP, CookedLinux, Ether, Raw

    pkt = {1: Ether, 113: CookedLinux, 228: IP}[linktype](frame)
    data = bytes(pkt[TCP].payload)
    out = []
    for start, end in cuts:
        q = pkt.copy()
        q[TCP].remove_payload()
        q[TCP].seq = (pkt[TCP].seq + start) & 0xFFFFFFFF
        q[TCP].add_payload(Raw(data[start:end]))
        layer = q
        while layer and not isinstance(layer, Raw):
            for field in ("len", "plen", "chksum"):
                if field in layer.fields:
                    delattr(layer, field)
            layer = layer.payload
        out.append(bytes(q))
    return out


def _pieces(n: int, rnd: random.Random) -> list[tuple[int, int]]:
    if rnd.random() < 0.5:  # two overlapping segments: [0, k) and [j, n), j < k
        k = rnd.randrange(2, n)
        j = rnd.randrange(1, k)
        return [(0, k), (j, n)]
    cuts, a = [], 0
    while a < n:  # pieces of 1-7 bytes
        b = min(n, a + rnd.randint(1, 7))
        cuts.append((a, b))
        a = b
    return cuts


def impaired(frames: list[tuple[float, bytes]], seed: int, linktype: int = 1) -> list[tuple[float, bytes]]:
    rnd = random.Random(seed)
    segs = [decode_frame(linktype, memoryview(frame)) for _, frame in frames]
    movable = [seg is not None and not seg.flags & UDP_DATAGRAM and bool(len(seg.payload)) and not seg.flags & SYN
               for seg in segs]  # TCP data segments (those of flows picked up mid-stream too)
    frames = list(frames)
    i = 0
    while i < len(frames) - 1:  # swap neighbours of one direction
        a, b = segs[i], segs[i + 1]
        if (movable[i] and movable[i + 1] and (a.src, a.sport, a.dst, a.dport) == (b.src, b.sport, b.dst, b.dport)
                and rnd.random() < 0.5):
            (ta, fa), (tb, fb) = frames[i], frames[i + 1]
            frames[i], frames[i + 1] = (ta, fb), (tb, fa)
            segs[i], segs[i + 1] = b, a
            i += 2
        else:
            i += 1
    out = []
    for (ts, frame), seg, ok in zip(frames, segs, movable):
        if ok and seg is not None and not seg.flags & SYN and len(seg.payload) >= 4:
            r = rnd.random()
            if r < 0.25 and len(seg.payload) <= 4000:
                out.extend((ts, piece) for piece in _rebuilt(linktype, frame, _pieces(len(seg.payload), rnd)))
                continue
            if r < 0.4:
                out.append((ts, frame))  # retransmitted
        out.append((ts, frame))
    return out


def fragmented(frames: list[tuple[float, bytes]], seed: int) -> list[tuple[float, bytes]]:
    """Ethernet frames with every other IPv4 packet over 300 bytes sent as fragments of 8 to 512 bytes, half of
    them last fragment first (a tunnel's small MTU on the way; for an overlay, its outer packets)."""
    from scapy.all import IP, Ether, fragment, raw

    rnd = random.Random(seed)
    out = []
    for ts, frame in frames:
        pkt = Ether(frame)
        if IP in pkt and len(pkt) > 300 and rnd.random() < 0.5 and not pkt[IP].flags.MF and pkt[IP].frag == 0:
            ip = pkt[IP]
            ip.flags = 0  # (clear Don't Fragment)
            pieces = fragment(ip, fragsize=rnd.choice([8, 64, 256, 512]))
            if rnd.random() < 0.5:
                pieces.reverse()
            out.extend((ts, raw(Ether(src=pkt.src, dst=pkt.dst, type=0x0800) / piece)) for piece in pieces)
        else:
            out.append((ts, frame))
    return out


@functools.cache
def _frames(path) -> tuple[list[tuple[float, bytes]], set[int]]:
    with open_capture(str(path)) as cap:
        rows = [(ts, lt, bytes(frame)) for ts, lt, frame in cap]
    return [(ts, frame) for ts, _, frame in rows], {lt for _, lt, _ in rows}


def _check(tmp_path, path, keys: dict, seeds=(1, 2)) -> None:
    frames, linktypes = _frames(path)
    if len(linktypes) != 1 or not linktypes <= REBUILT_LINKTYPES:
        pytest.skip(f"link types {sorted(linktypes)}: the rewriting handles Ethernet, Linux cooked and raw IPv4")
    (linktype,) = linktypes
    want = _digest(analyze([path], plugins=True, **keys))
    assert want, "no session in the capture as recorded"
    for seed in seeds:
        out = tmp_path / f"impaired-{seed}.pcap"
        with open(out, "wb") as f:
            w = PcapWriter(f, linktype)
            for ts, frame in impaired(frames, seed, linktype):
                w.write(ts, frame)
        assert _digest(analyze([out], plugins=True, **keys)) == want, f"seed {seed}"


@pytest.mark.parametrize("path,keys", _real_cases())
def test_real_capture_resegmented_reordered_and_retransmitted_reads_the_same(tmp_path, path, keys):
    _check(tmp_path, path, keys)


@pytest.mark.parametrize("path,keys", _corpus_cases())
def test_corpus_capture_resegmented_reordered_and_retransmitted_reads_the_same(tmp_path, path, keys):
    _check(tmp_path, path, keys)


@pytest.mark.parametrize("path,keys", _real_cases()[::4] + _corpus_cases())
def test_ip_fragments_in_any_order_read_the_same(tmp_path, path, keys):
    frames, linktypes = _frames(path)
    if linktypes != {1}:
        pytest.skip(f"link types {sorted(linktypes)}: the fragmenting handles Ethernet")
    out = tmp_path / "fragmented.pcap"
    with open(out, "wb") as f:
        w = PcapWriter(f)
        for ts, frame in fragmented(frames, 3):
            w.write(ts, frame)
    assert _digest(analyze([out], plugins=True, **keys)) == _digest(analyze([path], plugins=True, **keys))


def test_the_rewriting_does_what_it_says():
    # the checks above must not pass because nothing was changed
    frames, _ = _frames(REAL / "firefox-h2.pcap")
    out = impaired(frames, 1)
    before, after = collections.Counter(f for _, f in frames), collections.Counter(f for _, f in out)
    assert sum(1 for f, n in after.items() if n > before.get(f, 0) > 0) >= 5  # retransmitted
    assert sum(1 for f in before if f not in after) >= 5  # resent in pieces
    assert min(len(decode_frame(1, memoryview(f)).payload) or 99 for _, f in out) <= 3
    kept = [f for _, f in frames if f in after]
    assert kept != list(dict.fromkeys(f for _, f in out if f in before))  # reordered
    pieces = fragmented(frames, 3)
    assert len(pieces) > len(frames) + 20 and min(len(f) for _, f in pieces) < 60  # 8-byte fragments
