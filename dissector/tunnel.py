"""TLS inside TLS: a client that reaches an HTTPS proxy (TLS to the proxy), asks it for a tunnel with HTTP CONNECT,
and then talks TLS to the origin server through it (curl --proxy https://..., browsers with an HTTPS proxy).

The outer session's decrypted bytes are watched (`TunnelWatch`): the client's CONNECT request, the proxy's answer;
a 2xx answer opens the tunnel, and every byte after it, in each direction, belongs to the inner session, which
the pipeline reads with a TLSConnection of its own (on a Flow of its own, `tunnel_flow`). A refusal (407 Proxy
Authentication Required, say) lets the client try again on the same connection. The watch stops at the first
sign that this is not a CONNECT exchange, and holds at most MAX_HEAD bytes of each head.

The inner session's id is the outer one's plus TUNNEL_ID_BASE: derived, not counted, so that the processes of a
parallel run, which each count every flow but decrypt only their own, agree on every id.
"""
from __future__ import annotations

from dissector.events import CLIENT, Flow

TUNNEL_ID_BASE = 1_000_000_000  # inner session id = outer session id + this
MAX_HEAD = 8192  # bytes of a CONNECT request or of its answer, up to the blank line
MAX_TRIES = 4  # CONNECT requests refused on one connection before the watch gives up


class TunnelWatch:
    """The decrypted bytes of one outer TLS session, until a CONNECT tunnel opens (or it is clear none will)."""

    __slots__ = ("request", "response", "target", "early", "tries", "open")

    def __init__(self) -> None:
        self.request = b""  # the client's bytes of the request head so far
        self.response = b""  # the proxy's bytes of its answer's head so far
        self.target = ""  # host:port of the CONNECT request, once its head is whole
        self.early = b""  # client bytes after the request head, before the answer: the inner hello, say
        self.tries = 0
        self.open = False

    def feed(self, direction: str, data: bytes) -> list[tuple[str, bytes]] | None:
        """Bytes of one direction: what they carry for the inner session (once the tunnel is open), or None when
        this is not (or no longer) a CONNECT exchange: the watch is over."""
        if self.open:
            return [(direction, data)]
        if direction == CLIENT:
            if self.target:  # the request is whole: the client's next bytes wait for the answer
                self.early += data
                return [] if len(self.early) <= 1 << 20 else None
            self.request += data
            if not b"CONNECT ".startswith(self.request[:8]):
                return None
            end = self.request.find(b"\r\n\r\n")
            if end < 0:
                return [] if len(self.request) <= MAX_HEAD else None
            line = self.request[:self.request.find(b"\r\n")].split(b" ")
            if len(line) != 3:
                return None
            self.target = line[1].decode("ascii", "replace")
            self.early, self.request = self.request[end + 4:], b""
            return []
        if not self.target:  # the proxy speaks first: not an answer to a CONNECT
            return None
        self.response += data
        end = self.response.find(b"\r\n\r\n")
        if end < 0:
            return [] if len(self.response) <= MAX_HEAD else None
        status = self.response[:self.response.find(b"\r\n")].split(b" ")
        if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
            return None
        rest, self.response = self.response[end + 4:], b""
        if status[1].startswith(b"2"):
            self.open = True
            out = [(CLIENT, self.early)] if self.early else []
            self.early = b""
            if rest:
                out.append((direction, rest))
            return out
        self.tries += 1  # refused: the client may ask again (with credentials) on the same connection
        self.target, self.request, self.early = "", self.early, b""
        return [] if self.tries < MAX_TRIES else None


def tunnel_flow(outer: Flow, ts: float) -> Flow:
    """The Flow of the session inside an outer one's tunnel: the same TCP endpoints, an id derived from the outer's."""
    return Flow(TUNNEL_ID_BASE + outer.id, outer.client_ip, outer.client_port, outer.server_ip, outer.server_port, ts,
                outer.ip_version)
