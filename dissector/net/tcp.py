"""Per-direction TCP reassembly: in-order bytes out, retransmissions dropped, gaps reported.

The fast path is the common case: a segment that starts exactly where the stream is expected and
nothing is buffered goes straight through. Out-of-order segments wait in a small dict keyed by
sequence number, bounded by `max_buffered` bytes; when the bound is hit, or the peer acknowledges
bytes the capture never showed, the hole is given up as a gap (an int in the output).

A direction picked up mid-stream (no SYN) starts at its first byte; but its first segment may have overtaken the
ones before it. So its first segments are held (at most HOLD_BYTES, HOLD_SEGMENTS) until the other side speaks, or
the flow ends, or the bound is reached (`release`): the stream then starts at the earliest of them, and they go
through reassembly in sequence order.
"""
from __future__ import annotations

MOD = 1 << 32
HALF = 1 << 31
HOLD_BYTES = 16384  # held at a mid-stream pickup, per direction (a reordering window, not a stream)
HOLD_SEGMENTS = 256


def seq_delta(a: int, b: int) -> int:
    """a - b in sequence space, as a signed number (RFC 1982 style)."""
    d = (a - b) & 0xFFFFFFFF
    return d - MOD if d >= HALF else d


class TCPDirection:
    """One direction of a connection. `feed` returns a list of bytes (in order) and ints (gap sizes)."""

    __slots__ = ("next_seq", "pending", "pending_bytes", "max_buffered", "fin_seq", "bytes_in_order",
                 "retransmitted", "out_of_order", "gap_bytes", "hole_acked", "syn_seq", "held")

    def __init__(self, max_buffered: int = 4 << 20) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.max_buffered = max_buffered
        self.fin_seq: int | None = None
        self.bytes_in_order = 0
        self.retransmitted = 0
        self.out_of_order = 0
        self.gap_bytes = 0
        self.hole_acked = 0  # ACKs seen for bytes beyond the first hole (the capture missed them)
        self.syn_seq: int | None = None
        self.held: list[tuple[int, bytes, float]] | None = None  # picked up mid-stream: the first segments, times

    def syn(self, seq: int) -> None:
        """The SYN's sequence number: data starts one past it. A retransmitted SYN (the same number) changes nothing:
        with TCP Fast Open its data may already have been delivered."""
        if seq == self.syn_seq:
            return
        self.syn_seq = seq
        self.next_seq = (seq + 1) & 0xFFFFFFFF
        self.pending.clear()
        self.pending_bytes = 0
        self.held = None

    def feed(self, seq: int, payload, ts: float = 0.0) -> list:
        """Accept a segment's payload at `seq` (sent at `ts`); return what became contiguous."""
        n = len(payload)
        expected = self.next_seq
        if expected is None:  # picked up mid-stream
            if n:
                held = self.held
                if held is None:
                    held = self.held = []
                held.append((seq, bytes(payload), ts))
                if len(held) < HOLD_SEGMENTS and sum(len(h[1]) for h in held) < HOLD_BYTES:
                    return []
            if self.held:
                return [c for _, chunks in self.release() for c in chunks]
            self.next_seq = seq  # (a segment without data: the next byte this side sends)
            return []
        d = (seq - expected) & 0xFFFFFFFF
        if d == 0 and not self.pending:
            if n == 0:
                return []
            self.next_seq = (expected + n) & 0xFFFFFFFF
            self.bytes_in_order += n
            return [bytes(payload)]
        if d >= HALF:  # starts before what we already have: retransmission or overlap
            d -= MOD
            if d + n <= 0:
                if n:
                    self.retransmitted += 1
                return []
            payload = payload[-d:]
            n += d
            self.retransmitted += 1
            seq = expected
            d = 0
        if n == 0:
            return []
        if d > 0:
            self.out_of_order += 1
            old = self.pending.get(seq)
            if old is None or len(old) < n:
                self.pending_bytes += n - (len(old) if old else 0)
                self.pending[seq] = bytes(payload)
            if self.pending_bytes > self.max_buffered or (self.hole_acked and len(self.pending) > 8):
                return self._skip_to_pending()
            return []
        out = [bytes(payload)]
        self.next_seq = (expected + n) & 0xFFFFFFFF
        self.bytes_in_order += n
        self.hole_acked = 0
        if self.pending:
            self._drain(out)
        return out

    def _drain(self, out: list) -> None:
        """Move buffered segments that are now contiguous (trimming overlaps) to `out`."""
        pending = self.pending
        progress = True
        while pending and progress:
            progress = False
            for s in sorted(pending, key=lambda x: seq_delta(x, self.next_seq)):
                d = seq_delta(s, self.next_seq)
                if d > 0:
                    break
                data = pending.pop(s)
                self.pending_bytes -= len(data)
                if d + len(data) <= 0:
                    continue
                data = data[-d:] if d < 0 else data
                out.append(data)
                self.next_seq = (self.next_seq + len(data)) & 0xFFFFFFFF
                self.bytes_in_order += len(data)
                progress = True
                break

    def _skip_to_pending(self) -> list:
        """Give up on the hole before the first buffered segment: report it and continue after it."""
        if not self.pending or self.next_seq is None:
            return []
        first = min(self.pending, key=lambda x: seq_delta(x, self.next_seq))
        missing = seq_delta(first, self.next_seq)
        self.hole_acked = 0
        out: list = []
        if missing > 0:
            out.append(missing)
            self.gap_bytes += missing
            self.next_seq = first
        self._drain(out)
        return out

    def cut(self, seq: int, n: int) -> list:
        """`n` bytes at `seq` are known to be missing (the end of a packet the capture cut short). When they are the
        next bytes of the stream, they are skipped now, as a gap, rather than found later as a hole that holds
        back every segment after it until the peer's ACKs give it up."""
        if n <= 0 or self.pending or self.next_seq != seq & 0xFFFFFFFF:
            return []
        self.next_seq = (seq + n) & 0xFFFFFFFF
        self.gap_bytes += n
        return [n]

    def acked(self, ack: int) -> list:
        """The peer acknowledged up to `ack`: bytes before it that we never saw are lost in the capture."""
        if not self.pending or self.next_seq is None:
            return []
        if seq_delta(ack, self.next_seq) <= 0:
            return []
        first = min(self.pending, key=lambda x: seq_delta(x, self.next_seq))
        if seq_delta(ack, first) >= 0:
            # the hole is acknowledged: it was delivered but the capture missed it. A capture taken at a
            # point that reorders packets can still show it a little later, so give it up only on the
            # third such ACK (or when more segments pile up behind the hole, see feed()).
            self.hole_acked += 1
            if self.hole_acked >= 3:
                return self._skip_to_pending()
        return []

    def release(self) -> list[tuple[float, list]]:
        """The segments held at a mid-stream pickup start the stream (the other side spoke, the flow ends, or the
        bound is reached): what each makes contiguous, with the time it was sent."""
        held = self.held
        if not held:
            return []
        self.held = None
        first = held[0][0]
        held.sort(key=lambda h: seq_delta(h[0], first))
        # the stream starts at the earliest held segment, unless it lies far behind the first one seen (an old
        # retransmission: reassembly then drops it)
        self.next_seq = next(seq for seq, _, _ in held if seq_delta(first, seq) <= 2 * HOLD_BYTES)
        return [(ts, self.feed(seq, data)) for seq, data, ts in held]

    def flush(self) -> list:
        """End of stream: hand out everything still buffered, with the gaps between."""
        out: list = [c for _, chunks in self.release() for c in chunks] if self.held else []
        while self.pending:
            out.extend(self._skip_to_pending())
        return out
