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


def test_sharded_resumption_whose_key_log_has_only_the_full_handshake():
    """GnuTLS logs a CLIENT_RANDOM line only for full handshakes: the resumed session's secret comes from the
    session it resumes, so both must be in one worker even with a key log alone."""
    cap = str(SAMPLES / "real" / "gnutls-tls12-resume.pcap")
    keys = ["--keylog", str(SAMPLES / "real" / "gnutls-tls12-resume.keys")]
    one = run(cap, *keys, "-f", "json", "-j", "1")
    assert run(cap, *keys, "-f", "json", "-j", "2") == one
    assert one.count(b'"status":"decrypted"') == 2


def test_jobs_rejects_stdin():
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", "-", "-j", "2"], input=b"", capture_output=True,
                          timeout=60)
    assert proc.returncode == 3 and b"--jobs needs regular files" in proc.stderr


def test_shards_agree_on_flow_ids_across_idle_eviction():
    """Idle flows are evicted on the same packet in every shard, so a later flow gets the same id everywhere."""
    from dissector.pipeline import Pipeline
    from tests.conftest import tcp_frame as frame

    hello = bytes([22, 3, 1, 0, 4, 1, 0, 0, 0])
    packets = [(0.0, frame(40000, 443, 0, 0x02)), (1.0, frame(40000, 443, 1, 0x18, hello)),
               (900.0, frame(40002, 443, 0, 0x02)),  # another flow (another shard), later: the first is idle
               (901.0, frame(40000, 443, 50, 0x18, hello))]  # the first 4-tuple again, without a SYN

    def ids(pipe):
        seen = {}
        for ts, f in packets:
            for ev in pipe.feed(ts, 101, f):
                if ev.flow is not None:
                    seen.setdefault((ev.flow.client_port, ev.flow.id), ts)
        for ev in pipe.finish():
            if ev.flow is not None:
                seen.setdefault((ev.flow.client_port, ev.flow.id), None)
        return set(seen)

    single = ids(Pipeline())
    sharded = set().union(*(ids(Pipeline(shard=(i, 2))) for i in range(2)))
    assert sharded == single and len(single) == 3


def test_sharded_output_order_when_a_packet_sweeps_idle_flows(tmp_path):
    """A late packet of a new flow ends idle flows of both shards: the lines come in the single-process order."""
    from dissector.capture.writer import LINKTYPE_RAW, PcapWriter
    from tests.conftest import tcp_frame as frame

    path = tmp_path / "sweep.pcap"
    with open(path, "wb") as f:
        w = PcapWriter(f, linktype=LINKTYPE_RAW)
        for i in range(8):  # eight connections that go idle (their hashes fall in both shards)
            w.write(float(i), frame(40000 + i, 443, 0, 0x02))
        w.write(900.0, frame(41000, 443, 0, 0x02))  # a newer flow: its packet sweeps the eight idle ones
        w.write(901.0, frame(41001, 443, 0, 0x02))
    assert run(str(path), "-f", "jsonl", "-j", "2") == run(str(path), "-f", "jsonl", "-j", "1")


def test_sharded_run_writes_what_it_analysed_before_a_bad_capture(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all\n")
    args = [str(SAMPLES / "tls12-rsa-aes128-cbc.pcap"), str(bad), "-f", "jsonl", "-q"]
    outs = []
    for jobs in ("1", "2"):
        proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", *args, "-j", jobs], capture_output=True,
                              timeout=120)
        assert proc.returncode == 3 and proc.stderr.count(b"\n") == 1 and b"not a pcap or pcapng" in proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and b'"event":"Session"' in outs[0]


class _DiesInWorker1:
    """A plugin that kills the process of shard 1 at its first session (a crash no Python handler sees)."""

    name = "dies"

    def match(self, info):
        import os

        if _SHARD[0] == 1:
            os._exit(9)
        return -1.0

    def new_stream(self, flow, direction):
        return None


_SHARD = [0]


def test_a_worker_that_dies_gives_a_one_line_error_not_a_hang(monkeypatch):
    """The parent reads the workers' pipes while they run: one that dies mid-stream (no statistics block)
    must end the run with the documented error, without waiting forever for the other stream; the
    output of shard 0 up to there is still merged."""
    import io

    from dissector import parallel
    from dissector.errors import DissectorError
    from dissector.tls.keystore import KeyStore

    real_worker = parallel._worker

    def worker(index, *args):
        _SHARD[0] = index
        real_worker(index, *args)

    monkeypatch.setattr(parallel, "_worker", worker)
    # the loopback samples (key logs inside: plugins see plaintext) go to shard 1 by host pair, the
    # network-namespace capture to shard 0
    caps = [str(p) for p in sorted(SAMPLES.glob("*.pcapng"))] + [str(SAMPLES / "real" / "openssl-tls12-dhe.pcap")]
    out = io.StringIO()
    with pytest.raises(DissectorError, match="a worker process failed"):
        parallel.run_parallel(caps, KeyStore(), 2, jsonl=True, verbose=False, details=False, write_text=out.write,
                              on_session=lambda doc: None, plugins=[_DiesInWorker1()])
    assert '"event":"TCPEvent"' in out.getvalue()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_progress_bar_on_a_terminal_with_and_without_jobs(tmp_path, jobs):
    """stderr a terminal: a progress bar, cleared at the end, also when workers do the reading."""
    import os
    import pty
    import select
    import struct

    from dissector.capture.writer import PcapWriter

    path = tmp_path / "many.pcap"
    with open(path, "wb") as f:  # 40,000 small TCP packets (the bar moves every 16,384)
        w = PcapWriter(f)
        for i in range(40000):
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
            tcp = struct.pack("!HHIIBBHHH", 40000 + i % 500, 80, i, 0, 0x50, 0x10, 1024, 0, 0)
            w.write(1.0 + i / 1000, b"\x00\x01" * 3 + b"\x00\x02" * 3 + b"\x08\x00" + ip + tcp)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dissector", "analyze", str(path), "-f", "jsonl", "-o", os.devnull,
                             "-j", jobs], stderr=slave)
    os.close(slave)
    seen = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=60) == 0
    assert seen.count(b"\r[") >= 2 and seen.endswith(b" " * 40 + b"\r"), seen[-200:]


@needs_corpus
def test_sharded_output_with_dtls_equals_single_process():
    # DTLS flows (UDP) take their ids from the same counter as TCP flows, in every worker
    caps = [str(CORPUS / f"captures/{n}") for n in ("dtls12-aes128ccm8.pcap", "tls12-chacha20poly1305.pcap",
                                                       "udt-dtls.pcapng.gz", "snakeoil-dtls.pcap")]
    keys = ["--keylog", str(CORPUS / "keys/tls12-chacha20poly1305.keys"), "--psk", "ca19e028a8a372ad2d325f950fcaceed",
            "--key", str(CORPUS / "keys/udt-dtls.key"), "--key", str(CORPUS / "keys/snakeoil-rsa.key")]
    for fmt in ("jsonl", "json"):
        one = run(*caps, *keys, "-f", fmt, "-j", "1")
        assert run(*caps, *keys, "-f", fmt, "-j", "2") == one
        assert one.count(b'"transport":"udp"') >= 3


def test_sharded_output_with_eap_and_openvpn_equals_single_process(tmp_path):
    # EAP conversations (one worker reads them all) and OpenVPN flows among TCP ones: ids and output agree. The
    # captures go in one file, so that the flows of the several kinds share one flow table
    from dissector.capture.reader import open_capture
    from dissector.capture.writer import PcapWriter

    real = SAMPLES / "real"
    names = ["eap/freeradius-eap-tls12-resume.pcap", "openvpn/openvpn-udp-reneg.pcap", "eap/eapol-peap-mschapv2.pcap",
             "openvpn/openvpn-tcp-rsa.pcap", "openssl-tls12-rsa.pcap"]
    frames = []
    for n in names:
        with open_capture(str(real / n)) as cap:
            rows = [(ts, bytes(f)) for ts, _, f in cap]
        frames += [(1000.0 + ts - rows[0][0], f) for ts, f in rows]
    with open(tmp_path / "mixed.pcap", "wb") as out:
        w = PcapWriter(out)
        for ts, f in sorted(frames, key=lambda x: x[0]):
            w.write(ts, f)
    keys = ["--key", str(real / "eap/eap-server.key.pem"), "--key", str(real / "openvpn/ovpn-server.key.pem"),
            "--keylog", str(real / "openssl-tls12-rsa.keys")]
    for fmt in ("jsonl", "json"):
        one = run(str(tmp_path / "mixed.pcap"), *keys, "-f", fmt, "-j", "1")
        assert run(str(tmp_path / "mixed.pcap"), *keys, "-f", fmt, "-j", "2") == one
        assert one.count(b'"status":"decrypted"') >= 6
