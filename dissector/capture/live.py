"""Live capture from a network interface, and recording it to pcapng: the only module that imports scapy.

scapy is imported inside the functions that need it, so importing this module costs nothing and the
file path never loads scapy. scapy opens the capture socket (`conf.L2listen`: PF_PACKET on Linux, BPF
or libpcap elsewhere) and compiles the BPF filter with libpcap; frames are then read straight from the
socket, so a frame costs one `recvmsg`, not a scapy packet object.

`LiveCapture(iface, bpf)` is a context manager and, like the file reader, an iterator of
`(ts: float, linktype: int, frame: bytes)`. `poll(timeout)` returns the frames ready within `timeout`
seconds (so the caller keeps control for timers and Ctrl-C); `fileno()` allows an outer `select`.
`kernel_stats()` gives the packets the kernel saw and dropped for this socket (PACKET_STATISTICS on Linux).

Linux details: on `lo` each packet is delivered twice to a PF_PACKET socket (outgoing, then incoming), so
outgoing copies are skipped there, as libpcap does; `lo` has link type 1 (Ethernet with zero MAC addresses);
a BPF program compiled by libpcap accepts at most 65535 bytes of a packet while loopback frames reach 64 KiB
plus headers, so its accept length is raised to the capture snap length. Errors are one-line
`CaptureError`s: no privileges, unknown interface (with the available ones), bad filter.

`LiveRecorder` writes the frames a live analysis consumed to a pcapng file, preceded by Decryption Secrets
Blocks holding the key log lines of the TLS sessions in it (only theirs, as soon as they are known), so
`dissector analyze` on the file decrypts what the live run decrypted.
"""
from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from dissector.capture.writer import TLS_KEYLOG, PcapngWriter
from dissector.errors import CaptureError

__all__ = ["SNAPLEN", "LiveCapture", "LiveRecorder", "list_interfaces", "open_live"]

SNAPLEN = 262144
RCVBUF = 8 << 20  # socket receive buffer: a burst waits here while we decode

_SOL_PACKET = 263
_PACKET_STATISTICS = 6
_PACKET_OUTGOING = 4
_ARPHRD_LOOPBACK = 772
_SO_ATTACH_FILTER = 26
_SO_RCVBUFFORCE = 33
_BPF_RET_K = 0x06
_TPACKET_STATS = struct.Struct("II")

NO_PRIVILEGES = "live capture needs root or CAP_NET_RAW (run it with sudo, or: setcap cap_net_raw+ep <python binary>)"


def list_interfaces() -> list[str]:
    """Names of this host's network interfaces."""
    try:
        return sorted({name for _, name in socket.if_nameindex()})
    except OSError:
        return []


def open_live(iface: str, bpf: str | None = None, **kwargs: Any) -> LiveCapture:
    return LiveCapture(iface, bpf, **kwargs)


class LiveCapture:
    """Frames from a network interface as they arrive: `(ts, linktype, frame)`."""

    def __init__(self, iface: str, bpf: str | None = None, snaplen: int = SNAPLEN, promisc: bool = False,
                 buffer_size: int = RCVBUF, max_batch: int = 512) -> None:
        self.iface = iface
        self.bpf = bpf or None
        self.snaplen = snaplen
        self.max_batch = max_batch
        self.packets = 0  # frames handed out
        self.closed = False
        self._kernel = [0, 0]  # PACKET_STATISTICS are reset on read: keep the sums
        self._sock, self._ins, self._loopback, self.linktype = _open(iface, self.bpf, snaplen, promisc, buffer_size)
        self._recv = getattr(self._sock, "_recv_raw", None) if self._ins is not None else None

    # -- reading ---------------------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._sock.fileno()

    def poll(self, timeout: float | None, wake_fd: int | None = None) -> list[tuple[float, int, bytes]]:
        """The frames that arrive within `timeout` seconds (None: wait for one), at most `max_batch`.

        Returns early, possibly with no frames, when `wake_fd` becomes readable (e.g. a signal wakeup fd).
        """
        if self.closed:
            return []
        fds = [self._sock.fileno()] if wake_fd is None else [self._sock.fileno(), wake_fd]
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError):
            return []
        if self._sock.fileno() not in ready:
            return []
        return self._drain()

    def _drain(self) -> list[tuple[float, int, bytes]]:
        out: list[tuple[float, int, bytes]] = []
        linktype, snaplen = self.linktype, self.snaplen
        recv, ins = self._recv, self._ins
        while len(out) < self.max_batch:
            try:
                if recv is not None:
                    frame, sa_ll, ts = recv(ins, snaplen)
                    if self._loopback and sa_ll and sa_ll[2] == _PACKET_OUTGOING:
                        continue  # the incoming copy of the same packet follows
                else:
                    _, frame, ts = self._sock.recv_raw(snaplen)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                raise CaptureError(f"reading from {self.iface} failed: {exc.strerror or exc}") from None
            if not frame:
                break  # the generic sockets return (None, None, None) when nothing is pending
            out.append((ts if ts is not None else time.time(), linktype, frame))
            if recv is None:
                break  # no non-blocking read for the generic sockets: one frame per readiness
        self.packets += len(out)
        return out

    def __iter__(self) -> Iterator[tuple[float, int, bytes]]:
        while not self.closed:
            yield from self.poll(0.5)

    # -- statistics and closing --------------------------------------------------------------------------
    def kernel_stats(self) -> tuple[int, int] | None:
        """(packets seen by the kernel for this socket, packets it dropped), cumulative; None if unknown."""
        if self._ins is not None and not self.closed:
            try:
                seen, drops = _TPACKET_STATS.unpack(self._ins.getsockopt(_SOL_PACKET, _PACKET_STATISTICS,
                                                                         _TPACKET_STATS.size))
            except OSError:
                return None
            self._kernel[0] += seen
            self._kernel[1] += drops
            return self._kernel[0], self._kernel[1]
        if self._ins is not None:
            return self._kernel[0], self._kernel[1]
        stats = getattr(self._sock, "stats", None)  # the libpcap socket of other platforms
        try:
            received, dropped = stats()[:2] if callable(stats) else (None, None)
        except Exception:  # noqa: BLE001 - statistics are best effort
            return None
        return None if received is None else (int(received), int(dropped))

    def close(self) -> None:
        if self.closed:
            return
        self.kernel_stats()
        self.closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open(iface: str, bpf: str | None, snaplen: int, promisc: bool, buffer_size: int) -> tuple:
    """(scapy socket, its PF_PACKET socket or None, is loopback, link type)."""
    from dissector.net.decode import SUPPORTED_LINKTYPES

    names = list_interfaces()
    if names and iface not in names:
        raise CaptureError(f"unknown interface {iface!r} (available: {', '.join(names)})")
    with _quiet_scapy():
        try:
            import scapy.arch  # noqa: F401 - selects conf.L2listen for this platform
            from scapy.config import conf
            from scapy.error import Scapy_Exception
        except ImportError as exc:
            raise CaptureError(f"live capture needs scapy, which cannot be imported: {exc}") from None
        listen = conf.L2listen
        if listen is None:
            raise CaptureError("live capture is not available on this platform (scapy has no layer-2 listener)")
        try:
            sock = listen(iface=iface, filter=bpf, promisc=promisc)
        except PermissionError:
            raise CaptureError(NO_PRIVILEGES) from None
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise CaptureError(NO_PRIVILEGES) from None
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise CaptureError(f"unknown interface {iface!r} (available: {', '.join(names) or 'none'})") from None
            if exc.errno == errno.ENETDOWN:
                raise CaptureError(f"interface {iface} is down") from None
            raise CaptureError(f"cannot capture on {iface}: {exc.strerror or exc}") from None
        except (Scapy_Exception, ImportError) as exc:
            text = str(exc)
            if bpf and ("filter" in text.lower() or isinstance(exc, ImportError)):
                raise CaptureError(f"bad capture filter {bpf!r}: {_filter_reason(text)}") from None
            raise CaptureError(f"cannot capture on {iface}: {text}") from None
    ins = getattr(sock, "ins", None)
    if not isinstance(ins, socket.socket) or getattr(socket, "AF_PACKET", None) != ins.family:
        # BPF or libpcap socket (not Linux): take scapy's word for the link type
        linktype = _scapy_linktype(sock)
        _check_linktype(sock, iface, linktype, SUPPORTED_LINKTYPES)
        return sock, None, False, linktype
    try:
        hatype = ins.getsockname()[3]
        loopback = hatype == _ARPHRD_LOOPBACK
        from scapy.data import ARPHRD_TO_DLT

        linktype = 1 if loopback else ARPHRD_TO_DLT.get(hatype, -1)
        if linktype in (12, 14):  # the platform's DLT_RAW: files say LINKTYPE_RAW
            linktype = 101
        _check_linktype(sock, iface, linktype, SUPPORTED_LINKTYPES, hatype)
        if bpf:
            _widen_filter(ins, bpf, iface, snaplen)
        for opt in (_SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                ins.setsockopt(socket.SOL_SOCKET, opt, buffer_size)
                break
            except OSError:
                continue
        ins.setblocking(False)
        ins.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, _TPACKET_STATS.size)  # start counting from now
    except BaseException:
        sock.close()
        raise
    return sock, ins, loopback, linktype


def _check_linktype(sock: Any, iface: str, linktype: int, supported: dict, hatype: int | None = None) -> None:
    if linktype in supported:
        return
    sock.close()
    what = f"hardware type {hatype}" if hatype is not None else f"link type {linktype}"
    raise CaptureError(f"interface {iface} has {what}, which dissector cannot decode "
                       f"(supported: Ethernet, Linux cooked, raw IP, loopback)")


def _scapy_linktype(sock: Any) -> int:
    from scapy.config import conf

    try:
        return int(conf.l2types.layer2num[sock.LL])
    except (AttributeError, KeyError, TypeError, ValueError):
        return 1


def _widen_filter(ins: socket.socket, bpf: str, iface: str, snaplen: int) -> None:
    """Re-attach the filter with its accept length raised from libpcap's 65535 to `snaplen`.

    scapy attached the filter before binding (so no unfiltered packet got in); SO_ATTACH_FILTER replaces
    it atomically. Without this a 64 KiB loopback segment would lose its last bytes.
    """
    try:
        from scapy.arch.common import compile_filter, free_filter
        from scapy.libs.structures import sock_fprog
    except ImportError:
        return
    try:
        prog = compile_filter(bpf, iface)
    except Exception:  # noqa: BLE001 - the filter compiled once already; keep scapy's version
        return
    try:
        for i in range(prog.bf_len):
            insn = prog.bf_insns[i]
            if insn.code == _BPF_RET_K and insn.k > 0:
                insn.k = snaplen
        ins.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, sock_fprog(prog.bf_len, prog.bf_insns))
    except OSError:
        pass
    finally:
        try:
            free_filter(prog)
        except Exception:  # noqa: BLE001
            pass


def _filter_reason(text: str) -> str:
    text = text.replace("Cannot set filter: ", "").strip()
    if "libpcap is not available" in text:
        return "libpcap, needed to compile filters, is not installed"
    return text


class _quiet_scapy:
    """scapy logs warnings (e.g. 'Unable to guess type' for lo) that are not ours to show."""

    def __enter__(self) -> None:
        self.loggers = [(lg, lg.level) for lg in (logging.getLogger(n) for n in ("scapy", "scapy.runtime",
                                                                               "scapy.loading"))]
        for lg, _ in self.loggers:
            lg.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for lg, level in self.loggers:
            lg.setLevel(level)


# ---------------------------------------------------------------------------------------------------------
# recording


class LiveRecorder:
    """A pcapng of a live run: the frames in the order they were analysed, and the key log lines they need.

    Key log files are tailed separately from the KeyStore; `sync()` reads what was appended. A line is
    written (as a Decryption Secrets Block) once its client random belongs to a TLS session of this capture
    (`want(client_random)`), so the file carries this capture's secrets and no one else's, and each block
    comes before the packets that need it (readers apply secrets in file order). Call `sync()` right after
    refreshing the KeyStore, so the file holds at least what the live analysis knew. `RSA` lines (keyed by
    encrypted pre-master, not client random) are always kept.
    """

    MAX_PENDING = 100_000  # key log lines kept for client randoms not seen (yet)

    def __init__(self, path: str, linktype: int, iface: str | None = None, keylogs: list[str] | None = None,
                 snaplen: int = SNAPLEN) -> None:
        try:
            self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise CaptureError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.path = path
        self._w = PcapngWriter(self._f)
        self._w.add_interface(linktype, snaplen, name=iface)
        self._tails = [_Tail(p) for p in keylogs or []]
        self._pending: dict[str, list[str]] = {}
        self._pending_lines = 0
        self._wanted: set[str] = set()
        self.packets = 0
        self.secret_lines = 0
        self.closed = False

    def add_keylog(self, path: str) -> None:
        self._tails.append(_Tail(path))

    def want(self, client_random: bytes) -> None:
        """A TLS session of the capture: its key log lines go into the file from now on."""
        cr = bytes(client_random).hex()
        if cr in self._wanted:
            return
        self._wanted.add(cr)
        lines = self._pending.pop(cr, None)
        if lines:
            self._pending_lines -= len(lines)
            self._secrets(lines)

    def sync(self, final: bool = False) -> None:
        """Read the lines appended to the key logs; write those of wanted sessions."""
        out: list[str] = []
        for tail in self._tails:
            for line in tail.read(final):
                fields = line.split()
                cr = fields[1].lower() if len(fields) == 3 and fields[0] != "RSA" else None
                if cr is None or cr in self._wanted:
                    out.append(line)
                    continue
                self._pending.setdefault(cr, []).append(line)
                self._pending_lines += 1
                while self._pending_lines > self.MAX_PENDING:
                    oldest = next(iter(self._pending))
                    self._pending_lines -= len(self._pending.pop(oldest))
        if out:
            self._secrets(out)

    def write(self, ts: float, frame: bytes) -> None:
        self._w.write(ts, frame)
        self.packets += 1

    def _secrets(self, lines: list[str]) -> None:
        self._w.write_secrets(("\n".join(lines) + "\n").encode(), TLS_KEYLOG)
        self.secret_lines += len(lines)

    def flush(self) -> None:
        if not self.closed:
            self._f.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.sync(final=True)  # late lines of this capture's sessions: useful to Wireshark
        finally:
            self.closed = True
            self._f.close()


class _Tail:
    """New complete lines of a growing text file (re-read from the start if it shrinks)."""

    __slots__ = ("path", "offset", "partial")

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""  # an unterminated last line already handed out

    def read(self, final: bool = False) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:
                    self.offset, self.partial = 0, ""
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        lines = [ln.strip() for ln in data[:end].decode("utf-8", "replace").split("\n")]
        out = [ln for ln in lines if ln and not ln.startswith("#")]
        self.offset += end
        if end:
            self.partial = ""
        tail = data[end:].decode("utf-8", "replace").strip()
        # an unterminated line may be half written; take it when it already looks whole (the complete
        # line is taken again later: the same entry twice is harmless)
        if tail and tail != self.partial and (final or _whole_line(tail)):
            self.partial = tail
            out.append(tail)
        return out


def _whole_line(line: str) -> bool:
    fields = line.split()
    if len(fields) != 3:
        return False
    try:
        secret = bytes.fromhex(fields[2])
        bytes.fromhex(fields[1].split(":")[-1])
    except ValueError:
        return False
    return len(secret) in (32, 48, 64) or fields[0] == "RSA"
