"""Mutation fuzzing over real captures: damage their packets and run the whole analysis (plugins included) on each
damaged copy; report every bug met, with where it was raised, and keep a capture that reproduces it.

    python tools/fuzz_captures.py 'samples/real/*.pcap' 'samples/real/quic/*.pcap' --mutants 100 --seed 1
    python tools/fuzz_captures.py 'fuzz-bugs/bug-*.pcap' --mutants 0    # after a fix: the kept ones, as they are

A bug is what should never happen, whatever the input: an exception out of the analysis, an `internal_error`
anomaly (the pipeline caught a bug on one flow and stopped reading it) or a `plugin_error` one. Damage is what
captures really show: bytes changed, a packet cut short (a snapshot length), bytes inserted, packets reordered.
Each capture is analysed with the key material beside it (NAME.keys, NAME.key.pem, NAME.psk), so the damage
reaches the decrypted layers too. The exit status is 1 when a bug was met.
"""
from __future__ import annotations

import argparse
import glob
import os
import random
import sys
import traceback
from collections import Counter
from pathlib import Path

from dissector.analysis import run_captures
from dissector.capture.reader import open_capture
from dissector.capture.writer import PcapWriter
from dissector.errors import DissectorError
from dissector.keys import build_keystore
from dissector.pipeline import Pipeline
from dissector.plugins import PluginHost, load_plugins


def mutate(frames: list[bytes], rng: random.Random) -> list[bytes]:
    """A damaged copy: one to three packets with bytes changed, cut short or with bytes inserted (past the link
    header), and one time in five the packets in another order."""
    out = list(frames)
    for _ in range(rng.choice((1, 1, 2, 3))):
        i = rng.randrange(len(out))
        b = bytearray(out[i])
        if len(b) < 60:
            continue
        start = rng.randrange(14, min(80, len(b)))
        op = rng.random()
        if op < 0.6:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(start, len(b))] = rng.randrange(256)
        elif op < 0.8:
            del b[rng.randrange(start, len(b)):]
        else:
            k = rng.randrange(start, len(b))
            b[k:k] = rng.randbytes(rng.randint(1, 40))
        out[i] = bytes(b)
    if rng.random() < 0.2:
        rng.shuffle(out)
    return out


class Bugs:
    """The bugs met, by where they were raised; the first capture of each is kept in `keep`."""

    def __init__(self, keep: Path) -> None:
        self.keep = keep
        self.count: Counter[str] = Counter()
        self.first: dict[str, str] = {}
        self.current: tuple[str, Path] | None = None  # (the original capture, the damaged copy)

    def met(self, exc: BaseException) -> None:
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        key = f"{type(exc).__name__} at {where.filename}:{where.lineno} ({where.name})" if where else repr(exc)
        self.count[key] += 1
        if key not in self.first and self.current is not None:
            original, damaged = self.current
            kept = self.keep / f"bug-{len(self.first) + 1}{damaged.suffix}"
            kept.write_bytes(damaged.read_bytes())
            self.first[key] = f"from {original}, kept as {kept}\n" + "".join(traceback.format_exception(exc))[-1500:]


def watch(bugs: Bugs) -> None:
    """Hear about the bugs the pipeline and the plugin host catch (they go on, as they must, so no exception
    reaches the caller)."""
    internal = Pipeline._internal_error

    def internal_error(self, state, exc, *rest):  # type: ignore[no-untyped-def]
        bugs.met(exc)
        return internal(self, state, exc, *rest)

    Pipeline._internal_error = internal_error  # type: ignore[method-assign]
    plugin_error = PluginHost._error

    def host_error(self, plugin, where, exc, *rest):  # type: ignore[no-untyped-def]
        bugs.met(exc)
        return plugin_error(self, plugin, where, exc, *rest)

    PluginHost._error = host_error  # type: ignore[method-assign]


def key_material(capture: Path) -> tuple[list[str], list[str], list[str]]:
    base = capture.with_suffix("")
    keylogs = [str(base) + ".keys"] if Path(str(base) + ".keys").exists() else []
    keys = [str(base) + ".key.pem"] if Path(str(base) + ".key.pem").exists() else []
    psks = [Path(str(base) + ".psk").read_text().strip()] if Path(str(base) + ".psk").exists() else []
    return keylogs, keys, psks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patterns", nargs="+", help="capture files or glob patterns")
    ap.add_argument("--mutants", type=int, default=50,
                    help="damaged copies of each capture (default 50); 0: each capture as it is, once (to check "
                         "that the kept reproducers of a bug no longer meet it)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default="fuzz-bugs", help="directory for the captures that reproduce a bug")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    keep = Path(args.keep)
    keep.mkdir(parents=True, exist_ok=True)
    bugs = Bugs(keep)
    watch(bugs)
    plugins = load_plugins()
    captures = sorted({Path(p) for pattern in args.patterns for p in glob.glob(pattern)})
    damaged = keep / f"current-{os.getpid()}.pcap"
    runs = 0
    for capture in captures:
        with open_capture(str(capture)) as cap:
            rows = [(ts, lt, bytes(frame)) for ts, lt, frame in cap]
        if not rows or len({lt for _, lt, _ in rows}) != 1:
            continue  # (a pcap has one link type: captures with several are left out)
        linktype = rows[0][1]
        keylogs, keys, psks = key_material(capture)
        try:
            store = build_keystore(keylogs, keys, psks)
        except DissectorError:  # (an ECDSA server key, say: no use for decryption)
            store = build_keystore(keylogs, [], psks)
        times = [ts for ts, _, _ in rows]
        for _ in range(max(args.mutants, 1)):
            frames = [frame for _, _, frame in rows]
            if args.mutants:
                frames = mutate(frames, rng)
            with open(damaged, "wb") as f:
                w = PcapWriter(f, linktype)
                for ts, frame in zip(times, frames):
                    w.write(ts, frame)
            bugs.current = (str(capture), damaged)
            try:
                run_captures([str(damaged)], store, on_event=lambda ev: None, on_session=lambda doc: None,
                             plugins=plugins)
            except DissectorError:
                pass  # a documented error: fine
            except Exception as exc:  # noqa: BLE001 - what this tool looks for
                bugs.met(exc)
            runs += 1
    damaged.unlink(missing_ok=True)
    for key, n in bugs.count.most_common():
        print(f"{n} x {key}\n  {bugs.first.get(key, '')}")
    print(f"{runs} run(s) over {len(captures)} capture(s), {sum(bugs.count.values())} bug(s) met")
    return 1 if bugs.count else 0


if __name__ == "__main__":
    sys.exit(main())
