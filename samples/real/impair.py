#!/usr/bin/env python3
"""A tiny netem stand-in: forward Ethernet frames between two interfaces, delaying, reordering and
dropping TCP frames, for the kernels that have no sch_netem (make_real_captures.sh uses it when
`tc qdisc add ... netem` is refused).

    impair.py IF_A IF_B [--delay MS] [--reorder PCT] [--loss PCT] [--seed N]

It behaves like `tc qdisc add dev X root netem delay MS reorder PCT loss PCT` on both interfaces: each
TCP frame is dropped with probability `loss`; of the rest, `reorder` percent are sent at once and the
others after `delay` milliseconds, so the ones sent at once overtake those still waiting. Frames that
are not TCP (ARP, neighbour discovery) pass at once and are never dropped. The random generators are
seeded (one per direction), so the same frame sequence is treated the same way on every run; timing on
a real machine still varies. Runs until SIGTERM/SIGINT; prints what it did on stderr at exit.
Linux only, needs CAP_NET_RAW (it opens AF_PACKET sockets).
"""
from __future__ import annotations

import argparse
import heapq
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def is_tcp(frame: bytes) -> bool:
    if len(frame) < 14:
        return False
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800 and len(frame) >= 24:
        return frame[23] == 6
    if ethertype == 0x86DD and len(frame) >= 21:
        return frame[20] == 6
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--delay", type=float, default=5.0, help="milliseconds (default 5)")
    ap.add_argument("--reorder", type=float, default=25.0, help="percent sent without delay (default 25)")
    ap.add_argument("--loss", type=float, default=0.0, help="percent of TCP frames dropped (default 0)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    socks = {}
    for name in (args.if_a, args.if_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        socks[name] = s
    other = {args.if_a: socks[args.if_b], args.if_b: socks[args.if_a]}
    rng = {args.if_a: random.Random(args.seed), args.if_b: random.Random(args.seed + 1)}
    stats = {name: {"tcp": 0, "dropped": 0, "immediate": 0, "delayed": 0} for name in socks}
    queue: list[tuple[float, int, socket.socket, bytes]] = []
    counter = 0
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    by_fd = {s.fileno(): name for name, s in socks.items()}
    while running:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            out.send(frame)
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            name = by_fd[s.fileno()]
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:  # our own sends on this interface
                    continue
                out = other[name]
                if not is_tcp(frame):
                    out.send(frame)
                    continue
                st, r = stats[name], rng[name]
                st["tcp"] += 1
                if r.random() * 100 < args.loss:
                    st["dropped"] += 1
                elif r.random() * 100 < args.reorder or args.delay <= 0:
                    st["immediate"] += 1
                    out.send(frame)
                else:
                    st["delayed"] += 1
                    counter += 1
                    heapq.heappush(queue, (time.monotonic() + args.delay / 1000, counter, out, frame))
    for _, _, out, frame in sorted(queue):
        out.send(frame)
    for name, st in stats.items():
        print(f"impair: from {name}: {st}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
