"""The whole analysis as one sans-IO object: frames in, events out.

`Pipeline.feed(ts, linktype, frame)` decodes the frame, finds its flow, reassembles TCP, detects
TLS and drives the flow's `TLSConnection`. It returns the events that frame caused (often none).
No I/O and no clock: time comes from the frames. MalformedInput from any layer becomes an Anomaly
here, and nothing else escapes `feed()`; one bad packet never stops the capture.
"""
from __future__ import annotations

import socket
import zlib
from dataclasses import dataclass, field

from dissector.errors import MalformedInput
from dissector.events import (
    CLIENT,
    SERVER,
    Anomaly,
    AppData,
    Event,
    Flow,
    FlowEnd,
    SessionStart,
    TCPEvent,
    TCPGap,
    TransportInfo,
)
from dissector.net.decode import (
    ACK,
    EAP_FRAME,
    FIN,
    QUIC_DATAGRAM,
    RST,
    SNAPPED,
    SNAPPED_SHIFT,
    SYN,
    UDP_DATAGRAM,
    Defragmenter,
    decode_tcp,
    pktap_process,
)
from dissector.net.tcp import TCPDirection
from dissector.redact import parse_authorization
from dissector.tls.connection import TLSConnection
from dissector.tls.dtls import DTLSConnection, starts_association, whole_records
from dissector.tls.eap import EAPConnection, EAPRouter, mac_text
from dissector.tls.keystore import KeyStore
from dissector.tls.openvpn import (
    OpenVPNConnection,
    TLSCrypt,
    client_reset_layout,
    dynamic_tls_crypt,
    framed_client_reset_layout,
    renegotiation,
)
from dissector.tls.quic import QUICConnection, client_initial, quic_version
from dissector.tls.records import looks_like_tls, plausible_header
from dissector.tunnel import TunnelWatch, tunnel_flow
from dissector.upgrades import (
    REFINABLE,
    WATCH_LIMIT,
    client_hello_at,
    hello_prefix_at,
    may_name_later,
    protocol_name,
    proxy_authorization,
    refine,
)

PROBE_LIMIT = 16384  # bytes of a stream's start kept to decide whether it is TLS
# a mail or FTP connection that may still start TLS (STARTTLS, AUTH TLS) keeps its cleartext this long for the
# plugins; should it end (or go past this) without TLS, the plugins read it as a cleartext session (logins in the
# clear)
CLEARTEXT_HOLD = 16384
LOGIN_UPGRADES = frozenset(("STARTTLS (SMTP)", "STARTTLS (SMTP or FTP)", "STARTTLS (IMAP)", "STARTTLS (POP3)",
                            "STARTTLS (FTP)"))


@dataclass(slots=True)
class Stats:
    packets: int = 0
    tcp_packets: int = 0
    non_tcp: int = 0
    quic: int = 0  # QUIC packets not analysed (their connection's Initial packets are not in the capture)
    dtls_packets: int = 0  # UDP datagrams of DTLS flows
    malformed: int = 0
    flows: int = 0
    tls_flows: int = 0
    cleartext_flows: int = 0
    non_tls_flows: int = 0
    evicted: int = 0
    snapped: int = 0  # TCP segments of analysed flows, and DTLS/QUIC datagrams, the snapshot length cut short
    anomalies: dict[str, int] = field(default_factory=dict)


class FlowState:
    """Everything kept per TCP connection: both directions' reassembly and the TLS state."""

    __slots__ = ("flow", "dirs", "tls", "probe", "ignored", "last_ts", "fin", "rst", "syn_seen", "client_addr",
                 "established", "keys", "foreign", "cleartext", "starttls", "upgrade", "snapped", "held",
                 "client_said", "tunnel", "inner", "pickup", "process", "proxy_auth")

    def __init__(self, flow: Flow, client_addr: tuple) -> None:
        self.flow = flow
        self.client_addr = client_addr  # (ip bytes, port) of the client side
        self.dirs = {CLIENT: TCPDirection(), SERVER: TCPDirection()}
        self.tls: TLSConnection | None = None
        self.probe: dict[str, bytes] = {}
        self.ignored = False
        self.last_ts = flow.start_ts
        self.fin = {CLIENT: False, SERVER: False}
        self.rst = False
        self.syn_seen = False
        self.established = False
        self.keys: tuple = ()
        self.foreign = False
        self.cleartext = False  # plain HTTP handed to plugins as it is
        self.starttls = 0  # bytes seen of another protocol, watched for TLS starting later (STARTTLS, proxies...)
        self.upgrade = ""  # that protocol, as SessionStart.upgrade tells it ("" when unrecognised)
        self.snapped = False  # the capture cut a packet of this connection short (its snapshot length)
        self.held: list | None = None  # a watched mail or FTP connection's cleartext so far: (time, direction, bytes)
        self.client_said = b""  # the client's bytes since the upgrade was named, while a later write may refine it
        self.tunnel: TunnelWatch | None = None  # a decrypted TLS session watched for a CONNECT tunnel (tunnel.py)
        self.pickup = False  # a direction holds its first segments (TCPDirection.held: picked up mid-stream)
        self.inner: dict[int, TLSConnection] | None = None  # the TLS sessions inside its tunnels, by tunnel number
        self.process: dict | None = None  # the local process of a macOS PKTAP capture (decode.pktap_process)
        self.proxy_auth: str | None = None  # the Proxy-Authorization an HTTP proxy's CONNECT carried in the clear


class DatagramFlowState:
    """Everything kept per UDP flow that carries DTLS or QUIC, or per EAP conversation: the connection's state
    (datagrams need no reassembly)."""

    __slots__ = ("flow", "dirs", "tls", "ignored", "last_ts", "keys", "foreign", "client_addr", "encrypted", "openvpn",
                 "key_ids", "process")
    starttls = 0  # (what _end asks of a TCP flow)
    held = None
    inner = None

    def __init__(self, flow: Flow, client_addr: tuple) -> None:
        self.flow = flow
        self.client_addr = client_addr
        self.dirs: dict = {}  # no TCP directions to flush at the end
        self.tls: DTLSConnection | QUICConnection | EAPConnection | OpenVPNConnection | None = None
        self.ignored = False
        self.last_ts = flow.start_ts
        self.keys: tuple = ()
        self.foreign = False
        self.encrypted = False  # a record of epoch 1 or later went by: a new epoch-0 ClientHello is a new association
        self.openvpn: tuple[str, int] | None = None  # OpenVPN: how its control channel is protected (openvpn.py)
        self.key_ids = (0, -1)  # OpenVPN: the key id of the TLS session followed, and the one before it
        self.process: dict | None = None


class Pipeline:
    def __init__(self, keys: KeyStore | None = None, idle_timeout: float = 600.0, max_flows: int = 200_000,
                 max_handshake: int = 1 << 16, shard: tuple[int, int] | None = None,
                 shard_by_hosts: bool = False, cleartext_http: bool = False) -> None:
        self.keys = keys if keys is not None else KeyStore()
        # parallel runs: this pipeline analyses only the flows whose hash falls in its shard (index, count),
        # but it tracks every flow's lifetime so flow ids agree across the shards
        self.shard = shard
        self.shard_by_hosts = shard_by_hosts
        self.cleartext_http = cleartext_http  # also hand plain-HTTP flows to the plugins as sessions
        self.idle_timeout = idle_timeout
        self.max_flows = max_flows
        self.max_handshake = max_handshake
        self.flows: dict[tuple, FlowState] = {}
        self.closed: dict[tuple, int] = {}  # recently ended 4-tuples: their late ACKs start no new flow
        self.max_closed = 20_000
        self.defrag = Defragmenter()
        self.eap_router = EAPRouter()  # which EAP conversation an EAPOL frame or a RADIUS packet belongs to
        self.stats = Stats()
        self.next_id = 0
        self.last_sweep = 0.0
        self.now = 0.0
        # the flows ended by the idle sweep of packet number `swept_at` (parallel runs order their lines by it)
        self.swept: frozenset[int] = frozenset()
        self.swept_at = -1

    # ------------------------------------------------------------------ per frame
    def feed(self, ts: float, linktype: int, frame) -> list[Event]:
        out: list[Event] = []
        self.stats.packets += 1
        self.now = ts
        try:
            seg = decode_tcp(linktype, frame, self.defrag)
        except MalformedInput as exc:
            if self.shard is None or self.shard[0] == 0:  # frame-level anomalies: reported by one shard only
                self.stats.malformed += 1
                self._count(exc.name)
                out.append(Anomaly(ts, None, exc.layer, exc.name, exc.reason))
            return out
        if seg is None:
            self.stats.non_tcp += 1
            return out
        version, src, dst, sport, dport, seq, ack, flags, payload = seg
        if flags & UDP_DATAGRAM:
            key = (src, sport, dst, dport, 17)
            if flags & QUIC_DATAGRAM:
                self._quic(ts, version, key, payload, out)
            elif flags & EAP_FRAME:
                self._eap(ts, version, src, sport, dst, dport, payload, out)
            else:
                self._datagram(ts, version, key, payload, out)
            if linktype == 258:  # LINKTYPE_PKTAP (a constant: this test runs on every packet)
                self._pktap(self.flows.get(key), frame)
            if flags & SNAPPED:
                self._snapped_datagram(key)
            if ts - self.last_sweep > 30.0:
                self._sweep(ts, out)
            return out
        self.stats.tcp_packets += 1
        key = (src, sport, dst, dport)
        state = self.flows.get(key)
        if state is not None and flags & SYN and not flags & ACK and (state.rst or all(state.fin.values())
                                                                    or state.established):
            self._end(state, ts, "port reused by a new connection", out)  # a new SYN on a closed 4-tuple
            state = None
        if state is None:
            if not flags & SYN and not len(payload):
                closed = self.closed.get(key)
                if closed is not None or flags & (FIN | RST):
                    return out  # a late ACK/FIN/RST of a connection that is over: not a new flow
            state = self._new_flow(ts, version, key, flags, out)
        state.last_ts = ts
        if linktype == 258:  # LINKTYPE_PKTAP (a constant: this test runs on every packet)
            self._pktap(state, frame)
        if state.foreign:
            if flags & (SYN | FIN | RST) or not state.established:  # else nothing to follow
                self._foreign_segment(state, src, sport, flags, payload, ts)
        else:
            direction = CLIENT if (src, sport) == state.client_addr else SERVER
            if flags & SNAPPED:
                self._snapped(state, ts, out)
            try:
                self._segment(state, direction, seq, ack, flags, payload, ts, out)
            except MalformedInput as exc:
                self._count(exc.name)
                out.append(Anomaly(ts, state.flow, exc.layer, exc.name, exc.reason, direction))
        if ts - self.last_sweep > 30.0:  # on every packet of every shard, so evictions (and ids) agree
            self._sweep(ts, out)
        return out

    @staticmethod
    def _pktap(state: FlowState | DatagramFlowState | None, frame) -> None:
        """macOS PKTAP: the local process a flow's packets name, from the first packet that names one."""
        if state is not None and state.process is None:
            state.process = pktap_process(frame)

    def _snapped(self, state: FlowState, ts: float, out: list) -> None:
        """A segment cut short by the capture: the end of its payload is missing (`_segment` makes it a gap)."""
        self.stats.snapped += 1
        if not state.snapped:
            state.snapped = True
            self._count("snapped_packet")
            out.append(Anomaly(ts, state.flow, "capture", "snapped_packet",
                               "the capture cut this connection's packets short (its snapshot length): the end of "
                               "their payload is missing, and so are those bytes of the stream. Capture again without "
                               "a size limit (tcpdump -s 0; Wireshark: no packet size limit)"))
        if state.tls is not None:
            state.tls.snapped = True

    def _snapped_datagram(self, key: tuple) -> None:
        """A DTLS or QUIC datagram cut short by the capture: counted (once over the shards); its records say the rest."""
        if self.shard is None or self.shard[0] == 0:
            self.stats.snapped += 1
        state = self.flows.get(key)
        if state is not None and state.tls is not None:
            state.tls.snapped = True

    def _foreign_segment(self, state: FlowState, src: bytes, sport: int, flags: int, payload, ts: float) -> None:
        """Another shard's flow: only follow its lifetime (same ids everywhere), emit nothing."""
        direction = CLIENT if (src, sport) == state.client_addr else SERVER
        if flags & SYN:
            state.syn_seen = True
        elif flags & ACK and state.syn_seen and not state.established and direction == CLIENT and not len(payload):
            state.established = True
        if flags & RST:
            state.rst = True
        if flags & FIN:
            state.fin[direction] = True
        if state.rst or (state.fin[CLIENT] and state.fin[SERVER]):
            self._end(state, ts, "", [])

    def _segment(self, state: FlowState, direction: str, seq: int, ack: int, flags: int, payload, ts: float,
                 out: list) -> None:
        flow = state.flow
        mine = state.dirs[direction]
        if flags & (SYN | FIN | RST):
            if flags & SYN:
                mine.syn(seq)
                state.syn_seen = True
                out.append(TCPEvent(ts, flow, direction, "SYN-ACK" if flags & ACK else "SYN"))
            if flags & RST:
                state.rst = True
                out.append(TCPEvent(ts, flow, direction, "RST"))
        elif flags & ACK and not state.established and state.syn_seen and direction == CLIENT and not payload:
            state.established = True
            out.append(TCPEvent(ts, flow, direction, "ESTABLISHED"))
        if flags & ACK:
            other = SERVER if direction == CLIENT else CLIENT
            odir = state.dirs[other]
            if odir.pending:  # only a direction with a hole can learn something from the peer's ACK
                lost = odir.acked(ack)
                if lost:
                    self._deliver(state, other, lost, ts, out)
        if payload:
            if state.ignored:
                return
            if flags & SYN:  # TCP Fast Open: data in the SYN starts one past it (the SYN takes a sequence number)
                seq = (seq + 1) & 0xFFFFFFFF
            if state.pickup:  # picked up mid-stream: a side's first segments are held until the other speaks
                other = SERVER if direction == CLIENT else CLIENT
                for held_ts, held in state.dirs[other].release():
                    self._deliver(state, other, held, held_ts, out)
                state.pickup = mine.held is not None
            chunks = mine.feed(seq, payload, ts)
            if not chunks and mine.held is not None:
                state.pickup = True
            if flags & SNAPPED:  # the rest of this segment is not in the capture: a gap right after it
                chunks += mine.cut(seq + len(payload), flags >> SNAPPED_SHIFT)
            if chunks:
                self._deliver(state, direction, chunks, ts, out)
        if flags & (FIN | RST):
            if flags & FIN and not state.fin[direction]:
                state.fin[direction] = True
                out.append(TCPEvent(ts, flow, direction, "FIN"))
            if state.rst or (state.fin[CLIENT] and state.fin[SERVER]):
                self._end(state, ts, "RST" if state.rst else "FIN", out)

    def _deliver(self, state: FlowState, direction: str, chunks: list, ts: float, out: list) -> None:
        for chunk in chunks:
            if state.ignored:
                return
            tls = state.tls
            if type(chunk) is int:
                self._count("tcp_gap")
                out.append(TCPGap(ts, state.flow, direction, chunk))
                if tls is not None:
                    tls.out = out
                    tls.gap(direction, chunk, ts)
                continue
            if state.cleartext:
                out.append(AppData(ts, state.flow, direction, len(chunk), chunk))
                continue
            try:
                if tls is None:
                    if state.starttls:
                        self._starttls(state, direction, chunk, ts, out)
                    else:
                        self._detect(state, direction, chunk, ts, out)
                    continue
                tls.out = out
                if state.tunnel is None:
                    tls.data(direction, chunk, ts)
                else:
                    mark = len(out)
                    tls.data(direction, chunk, ts)
                    self._tunnel(state, out, mark, ts)
            except Exception as exc:  # noqa: BLE001 - a bug on one flow must not stop the capture
                self._internal_error(state, exc, direction, ts, out)
                return

    def _detect(self, state: FlowState, direction: str, chunk: bytes, ts: float, out: list) -> str:
        """Is this flow TLS? Look at the start of each direction's stream for a record header.

        The first bytes of each direction are kept (bounded) until they decide it, so a header split
        over segments is still recognised. A capture that starts mid-connection is TLS when a chain of
        plausible record headers is found. Returns the chunk's direction, which changes when a mid-stream
        flow turns out to be the other way round (the side that sends the ClientHello is the client).
        """
        probe = state.probe
        buf = probe.get(direction, b"") + chunk
        verdict = looks_like_tls(buf) if len(buf) >= 5 else None
        if not verdict and not state.syn_seen and len(buf) >= 5:
            verdict = _record_chain(buf)
        if verdict:
            if not state.syn_seen and direction == SERVER and _is_client_hello(buf):
                self._swap(state)
                direction = CLIENT
            tls = self._start_tls(state, ts, out)
            other = SERVER if direction == CLIENT else CLIENT
            pending_other = probe.get(other, b"")
            state.probe = {}
            if not looks_like_tls(buf):
                tls.sides[direction].reader.resync = True
            tls.data(direction, buf, ts)
            if pending_other:
                tls.data(other, pending_other, ts)
            return direction
        if not verdict and direction == CLIENT and (openvpn := framed_client_reset_layout(buf)) is not None:
            tls = state.tls = OpenVPNConnection(state.flow, self.keys, out, self.max_handshake, openvpn, "TCP")
            self.stats.tls_flows += 1
            state.probe = {}
            out.append(SessionStart(ts, state.flow))
            tls.data(direction, buf, ts)
            return direction
        if len(buf) < PROBE_LIMIT and not verdict and may_name_later(buf):  # a known protocol's first write, in pieces
            probe[direction] = buf
            return direction
        name = protocol_name(buf) if len(buf) >= 3 else ""
        if name:
            # a protocol known to upgrade (STARTTLS, a database SSL request, a proxy, RDP): TLS may start later on
            # this connection (an HTTP proxy's CONNECT request is not handed to the plugins as HTTP)
            state.upgrade = name
            state.probe = {}
            if self.cleartext_http and name in LOGIN_UPGRADES:
                state.held = []
            if direction == CLIENT:  # the hello may follow in the same segment (e.g. after an SSLRequest)
                self._starttls(state, direction, buf, ts, out)
            else:
                state.starttls = len(buf)
                if state.held is not None:
                    state.held.append((ts, direction, buf))
            return direction
        if self.cleartext_http and len(buf) >= 8 and _looks_like_http(buf):
            state.cleartext = True
            state.probe = {}
            self.stats.cleartext_flows += 1
            out.append(SessionStart(ts, state.flow, True))
            other = _other(direction)
            out.append(AppData(ts, state.flow, direction, len(buf), buf))
            if probe.get(other):
                out.append(AppData(ts, state.flow, other, len(probe[other]), probe[other]))
            return direction
        if verdict is False and len(buf) >= 5 and state.syn_seen and not _looks_like_http(buf):
            # another protocol: watched for a while, in case TLS starts at one of the client's writes
            state.starttls = len(buf)
            state.probe = {}
            return direction
        if len(buf) >= PROBE_LIMIT or (verdict is False and len(buf) >= 5 and state.syn_seen):
            state.ignored = True
            state.probe = {}
            self.stats.non_tls_flows += 1
            return direction
        probe[direction] = buf
        return direction

    def _starttls(self, state: FlowState, direction: str, chunk: bytes, ts: float, out: list) -> None:
        """A flow in another protocol, watched: TLS starts at a ClientHello the client sends (for a protocol known
        to upgrade, anywhere in a write; for an unknown one, only at the start of one: its bytes are any data)."""
        if direction == CLIENT:
            partial = state.probe.pop(CLIENT, None)
            if partial is not None:  # the first bytes of what may be a hello, held back from the last write
                chunk = partial + chunk
            if state.proxy_auth is None and state.upgrade.startswith("HTTP CONNECT") and len(state.client_said) < 16384:
                # an HTTP proxy's CONNECT request, in as many segments as it takes, or a second one after a 407
                state.client_said = (state.client_said + chunk)[:16384]
                state.proxy_auth = proxy_authorization(state.client_said)
            if state.upgrade in REFINABLE:  # (on the client's bytes so far: the write may come in pieces)
                said = state.client_said = (state.client_said + chunk)[:4096]
                state.upgrade = refine(state.upgrade, said)
                if state.held is not None and state.upgrade not in LOGIN_UPGRADES:
                    state.held = None
            anywhere = bool(state.upgrade)
            pos = client_hello_at(chunk, anywhere)
            if pos >= 0:
                upgrade = state.upgrade or f"after {state.starttls + pos} bytes of an unrecognised protocol"
                state.starttls = 0
                state.held = None
                self._start_tls(state, ts, out, upgrade).data(direction, chunk[pos:] if pos else chunk, ts)
                return
            pos = hello_prefix_at(chunk, anywhere)
            if pos >= 0:
                state.probe[CLIENT] = chunk[pos:]
                chunk = chunk[:pos]
                if not chunk:
                    return
        state.starttls += len(chunk)
        if state.held is not None:
            state.held.append((ts, direction, chunk))
            if state.starttls > CLEARTEXT_HOLD:
                self._held_cleartext(state, out)
                return
        if state.starttls > WATCH_LIMIT:
            state.starttls = 0
            state.ignored = True
            self.stats.non_tls_flows += 1

    def _start_tls(self, state: FlowState, ts: float, out: list, upgrade: str = "") -> TLSConnection:
        """TLS begins on a TCP flow: its connection and its SessionStart (`upgrade`: how, after another protocol)."""
        tls = state.tls = TLSConnection(state.flow, self.keys, out, self.max_handshake)
        tls.snapped = state.snapped
        self.stats.tls_flows += 1
        if not self.keys.empty():  # (what it decrypts may be a CONNECT tunnel to another TLS server)
            state.tunnel = TunnelWatch()
        out.append(SessionStart(ts, state.flow, False, upgrade))
        if state.proxy_auth is not None:  # the proxy took the credentials (TLS began): they crossed in the clear
            out.append(TransportInfo(ts, state.flow, "proxy_authorization",
                                     {"time": ts, **parse_authorization(state.proxy_auth), "result": "ok"}))
        state.client_said = b""
        return tls

    def _tunnel(self, state: FlowState, out: list, mark: int, ts: float) -> None:
        """The outer session's new application data: watched for CONNECT exchanges; the bytes of each open tunnel
        are handed to the TLS session inside it (events of its own flow, after the outer session's)."""
        flow, watch = state.flow, state.tunnel
        for i in range(mark, len(out)):
            ev = out[i]
            if type(ev) is not AppData or ev.flow is not flow:
                continue
            if ev.data is None:
                state.tunnel = None  # not decrypted: nothing to watch
                return
            parts = watch.feed(ev.direction, ev.data)
            if parts is None:
                state.tunnel = None
                return
            inners = state.inner
            for number, direction, data in parts:
                inner = inners.get(number) if inners is not None else None
                if data is None:  # the tunnel's HTTP/2 stream has ended: so has the session inside it
                    if inner is not None:
                        del inners[number]
                        self._end_inner(inner, ts, "its HTTP/2 CONNECT stream ended", out)
                    continue
                if inner is None:
                    if not looks_like_tls(data):  # a tunnel, but not to a TLS server
                        if watch.drop(number):
                            state.tunnel = None
                            return
                        continue
                    inner = TLSConnection(tunnel_flow(flow, ts, number), self.keys, out, self.max_handshake)
                    inners = state.inner = inners if inners is not None else {}
                    inners[number] = inner
                    self.stats.tls_flows += 1
                    how = "HTTP/2 CONNECT" if watch.h2 is not None else "HTTP CONNECT"
                    out.append(SessionStart(ts, inner.flow, False, f"{how} {watch.target_of(number)} inside TLS "
                                                                    f"session {flow.id} (an HTTPS proxy)"))
                inner.out = out
                inner.data(direction, data, ts)

    @staticmethod
    def _end_inner(inner: TLSConnection, ts: float, reason: str, out: list) -> None:
        inner.out = out
        inner.close(ts)
        out.append(FlowEnd(ts, inner.flow, reason))

    def _held_cleartext(self, state: FlowState, out: list) -> None:
        """A mail or FTP connection that did not start TLS: from here on a cleartext session, its held bytes first."""
        held, state.held = state.held or [], None
        state.starttls = 0
        state.cleartext = True
        self.stats.cleartext_flows += 1
        out.append(SessionStart(held[0][0] if held else self.now, state.flow, True))
        for ts, direction, chunk in held:
            out.append(AppData(ts, state.flow, direction, len(chunk), chunk))

    # ------------------------------------------------------------------ DTLS over UDP
    def _datagram(self, ts: float, version: int, key: tuple, payload, out: list) -> None:
        """One UDP datagram that starts with a DTLS record header (or an OpenVPN packet: they share first bytes)."""
        state = self.flows.get(key)
        if state is not None and state.flow.transport == "openvpn":
            current, previous = state.key_ids
            kid = renegotiation(payload, current, previous)
            if kid is not None:  # a new TLS session on the OpenVPN session: a session of its own
                layout, client_addr = state.openvpn, state.client_addr
                wrap = state.tls.renegotiation_keys() if state.tls is not None else []
                if dynamic_tls_crypt(payload):  # (decided from the packet: in every shard)
                    layout = ("tls-crypt", 32)
                self._end(state, ts, f"OpenVPN renegotiation (key id {kid})", out)
                state = self._new_datagram_flow(ts, version, key, payload, out, openvpn=layout,
                                                client_is_src=(key[0], key[1]) == client_addr, key_ids=(kid, current))
                if state.tls is not None and layout[0] == "tls-crypt" and wrap:
                    state.tls.tls_crypt = TLSCrypt(wrap)
            state.last_ts = ts
            self._feed_datagram(state, ts, key, payload, out)
            return
        if state is None and (openvpn := client_reset_layout(payload)) is not None:
            state = self._new_datagram_flow(ts, version, key, payload, out, openvpn=openvpn)
            self._feed_datagram(state, ts, key, payload, out)
            return
        if state is not None and state.encrypted and starts_association(payload):  # RFC 6347 4.2.8
            self._end(state, ts, "a new DTLS association on the same addresses", out)
            state = None
        if state is None:
            if not whole_records(payload) or (key in self.closed and not starts_association(payload)):
                return  # not DTLS after all, or a late datagram of an association that is over
            state = self._new_datagram_flow(ts, version, key, payload, out)
        self.stats.dtls_packets += 1
        state.last_ts = ts
        if payload[0] & 0xE0 == 0x20 or payload[3] or payload[4]:  # a DTLS 1.3 record, or the first record's epoch
            state.encrypted = True
        self._feed_datagram(state, ts, key, payload, out)

    def _feed_datagram(self, state: DatagramFlowState, ts: float, key: tuple, payload, out: list,
                       direction: str = "") -> None:
        """Hand a datagram to its flow's DTLS, QUIC, OpenVPN or EAP connection; end the flow when the connection says
        it is over (close_notify both ways, a fatal alert, CONNECTION_CLOSE: UDP has no FIN; an EAP conversation's end
        is decided by _eap, from the packet)."""
        tls = state.tls
        if tls is None or state.ignored:
            return  # another shard's flow
        direction = direction or (CLIENT if (key[0], key[1]) == state.client_addr else SERVER)
        tls.out = out
        try:
            tls.datagram(direction, payload, ts)
        except Exception as exc:  # noqa: BLE001 - a bug on one flow must not stop the capture
            self._internal_error(state, exc, direction, ts, out)
            return
        if tls.ended:  # reported now, not at an idle timeout
            self._end(state, ts, tls.ended, out)

    def _internal_error(self, state: FlowState | DatagramFlowState, exc: Exception, direction: str, ts: float,
                        out: list) -> None:
        """A bug met on one flow: reported on it (with what was raised), and the flow is analysed no further."""
        self._count("internal_error")
        out.append(Anomaly(ts, state.flow, "tls", "internal_error",
                           f"{type(exc).__name__}: {exc}; this flow is no longer analysed", direction))
        state.ignored = True

    def _quic(self, ts: float, version: int, key: tuple, payload, out: list) -> None:
        """One UDP datagram that starts like a QUIC packet: a flow begins at a long-header packet."""
        state = self.flows.get(key)
        if state is None:
            if key in self.closed or not client_initial(payload):
                # not analysed: a connection met after its Initial packets (counted once, by the first shard);
                # a short header only on port 443, since any UDP payload may start with its two bits
                if (self.shard is None or self.shard[0] == 0) and (quic_version(payload) or 443 in (key[1], key[3])):
                    self.stats.quic += 1
                return
            state = self._new_datagram_flow(ts, version, key, payload, out, quic=True)
        state.last_ts = ts
        self._feed_datagram(state, ts, key, payload, out)

    # ------------------------------------------------------------------ TLS inside EAP (802.1X)
    def _eap(self, ts: float, version: int, src: bytes, sport: int, dst: bytes, dport: int, payload,
             out: list) -> None:
        """An EAPOL frame (version 0) or a RADIUS packet: its EAP packet to the EAP conversation it belongs to."""
        router = self.eap_router
        routed = router.eapol(src, dst, payload) if version == 0 else router.radius(src, sport, dst, dport, payload)
        if routed is None:
            return
        key, from_client, eap, client = routed
        state = self.flows.get(key)
        if state is None:
            if not eap:
                return  # an EAPOL-Start or -Logoff outside a conversation
            state = self._new_eap_flow(ts, version, key, out)
        state.last_ts = ts
        if version == 0 and client and state.flow.client_ip != client:  # (EAPOL: first heard from the supplicant)
            state.flow.client_ip = client
        tls = state.tls
        started = tls is not None and tls.started
        self._feed_datagram(state, ts, key, eap, out, CLIENT if from_client else SERVER)
        if tls is not None and tls.started and not started:
            self.stats.tls_flows += 1
        # the end, decided from the packet so that every shard ends the conversation (and numbers the next alike)
        if eap and eap[0] in (3, 4) and len(eap) >= 4:
            self._end(state, ts, "EAP-Success" if eap[0] == 3 else "EAP-Failure", out)
        elif version == 0 and from_client and not eap and payload[1] == 2:
            self._end(state, ts, "EAPOL-Logoff", out)

    def _new_eap_flow(self, ts: float, version: int, key: tuple, out: list) -> DatagramFlowState:
        """An EAP conversation: between a supplicant's and an authenticator's MAC addresses (EAPOL), or of one
        supplicant (its Calling-Station-Id) relayed by an authenticator to a RADIUS server."""
        if key[0] == "eapol":  # (the supplicant's address is filled in by _eap once a frame names it)
            flow = Flow(self.next_id, "", 0, mac_text(key[1]), 0, ts, 0, "eapol")
            carrier, nas = "EAPOL", ""
        else:
            _, nas_ip, nas_port, server_ip, server_port, station = key
            fam = socket.AF_INET6 if version == 6 else socket.AF_INET
            ip = socket.inet_ntop(fam, nas_ip)
            nas = f"[{ip}]:{nas_port}" if version == 6 else f"{ip}:{nas_port}"
            # the client: the supplicant, as the authenticator names it, else the authenticator
            flow = Flow(self.next_id, station or ip, 0 if station else nas_port, socket.inet_ntop(fam, server_ip),
                        server_port, ts, version, "radius")
            carrier = "RADIUS"
        self.next_id += 1
        self.stats.flows += 1
        state = DatagramFlowState(flow, ())
        if len(self.flows) >= 2 * self.max_flows:
            self._evict_oldest(ts, out)
        state.keys = (key,)
        self.flows[key] = state
        if self.shard is not None and self.shard[0] != 0:  # (one shard reads every EAP conversation)
            state.foreign = True
            return state
        state.tls = EAPConnection(flow, self.keys, out, self.max_handshake, carrier, nas)
        return state

    def _new_datagram_flow(self, ts: float, version: int, key: tuple, payload, out: list,
                           quic: bool = False, openvpn: tuple[str, int] | None = None,
                           client_is_src: bool | None = None, key_ids: tuple[int, int] = (0, -1)) -> DatagramFlowState:
        src, sport, dst, dport, _ = key
        # the ClientHello's sender is the client; with a HelloVerifyRequest or ServerHello the other side is;
        # met mid-association, the lower port serves. QUIC: the sender of the client Initial; OpenVPN: of the
        # client's hard reset
        if client_is_src is None:  # (else known already: an OpenVPN renegotiation's new session)
            hello = not quic and payload[0] == 22 and not payload[3] and not payload[4] and len(payload) > 13
            if quic or openvpn or (hello and payload[13] == 1):
                client_is_src = True
            elif hello and payload[13] in (2, 3):
                client_is_src = False
            else:
                client_is_src = sport > dport or (sport == dport and src > dst)
        csrc, cport, ssrc, sport_ = (src, sport, dst, dport) if client_is_src else (dst, dport, src, sport)
        fam = socket.AF_INET6 if version == 6 else socket.AF_INET
        flow = Flow(self.next_id, socket.inet_ntop(fam, csrc), cport, socket.inet_ntop(fam, ssrc), sport_, ts, version,
                    "quic" if quic else "openvpn" if openvpn else "udp")
        self.next_id += 1
        self.stats.flows += 1
        state = DatagramFlowState(flow, (csrc, cport))
        state.openvpn, state.key_ids = openvpn, key_ids
        if len(self.flows) >= 2 * self.max_flows:
            self._evict_oldest(ts, out)
        state.keys = (key, (dst, dport, src, sport, 17))
        self.flows[key] = self.flows[state.keys[1]] = state
        if self.shard is not None and _shard_of(key[:4], self.shard[1], self.shard_by_hosts) != self.shard[0]:
            state.foreign = True
            return state
        if openvpn:
            state.tls = OpenVPNConnection(flow, self.keys, out, self.max_handshake, openvpn, key_id=key_ids[0])
        else:
            state.tls = (QUICConnection if quic else DTLSConnection)(flow, self.keys, out, self.max_handshake)
        self.stats.tls_flows += 1
        out.append(SessionStart(ts, flow))
        return state

    def _swap(self, state: FlowState) -> None:
        f = state.flow
        f.client_ip, f.server_ip = f.server_ip, f.client_ip
        f.client_port, f.server_port = f.server_port, f.client_port
        state.dirs = {CLIENT: state.dirs[SERVER], SERVER: state.dirs[CLIENT]}
        src, sport, dst, dport = state.keys[0]
        state.client_addr = (dst, dport) if state.client_addr == (src, sport) else (src, sport)

    # ------------------------------------------------------------------ flows
    def _new_flow(self, ts: float, version: int, key: tuple, flags: int, out: list) -> FlowState:
        src, sport, dst, dport = key
        # the SYN sender is the client; with a SYN-ACK the other side is; mid-stream, the lower port serves
        if flags & SYN and flags & ACK:
            client_is_src = False
        elif flags & SYN:
            client_is_src = True
        else:
            client_is_src = sport > dport or (sport == dport and src > dst)
        csrc, cport, ssrc, sport_ = (src, sport, dst, dport) if client_is_src else (dst, dport, src, sport)
        fam = socket.AF_INET6 if version == 6 else socket.AF_INET
        flow = Flow(self.next_id, socket.inet_ntop(fam, csrc), cport, socket.inet_ntop(fam, ssrc), sport_, ts, version)
        self.next_id += 1
        self.stats.flows += 1
        state = FlowState(flow, (csrc, cport))
        if self.shard is not None:
            state.foreign = _shard_of(key, self.shard[1], self.shard_by_hosts) != self.shard[0]
            if state.foreign:
                state.ignored = True
        if len(self.flows) >= 2 * self.max_flows:
            self._evict_oldest(ts, out)
        state.keys = (key, (dst, dport, src, sport))
        self.flows[key] = state
        self.flows[state.keys[1]] = state
        if not flags & SYN and not state.foreign:
            out.append(TCPEvent(ts, flow, CLIENT, "MIDSTREAM"))
        return state

    def _end(self, state: FlowState, ts: float, reason: str, out: list) -> None:
        if state.foreign:
            out = []  # discarded: another shard reports this flow
        for d, tcp_dir in state.dirs.items():  # client first (none for a UDP flow)
            if tcp_dir.held:  # segments held at a mid-stream pickup, at their own times
                for held_ts, held in tcp_dir.release():
                    self._deliver(state, d, held, held_ts, out)
            rest = tcp_dir.flush()
            if rest and not state.ignored:
                self._deliver(state, d, rest, ts, out)
        if state.held is not None and state.probe.get(CLIENT):  # the client's last bytes, held back by _starttls
            state.held.append((ts, CLIENT, state.probe.pop(CLIENT)))
        if state.held:  # a mail or FTP connection that never started TLS: its cleartext, for the plugins
            self._held_cleartext(state, out)
        if state.tls is not None:
            state.tls.out = out
            state.tls.close(ts)
        elif state.starttls and not state.foreign:  # watched to its end, and no TLS came
            self.stats.non_tls_flows += 1
        if state.process:  # (for a session's document: other flows' are dropped)
            out.append(TransportInfo(ts, state.flow, "process", state.process))
        out.append(FlowEnd(ts, state.flow, reason))
        if state.inner:  # the sessions inside its CONNECT tunnels end with it
            for inner in state.inner.values():
                self._end_inner(inner, ts, reason, out)
        closed = self.closed
        for k in state.keys:
            if self.flows.get(k) is state:
                del self.flows[k]
            closed[k] = state.flow.id
        while len(closed) > self.max_closed:
            del closed[next(iter(closed))]

    def _sweep(self, ts: float, out: list) -> None:
        self.last_sweep = ts
        stale = {id(s): s for s in self.flows.values() if ts - s.last_ts > self.idle_timeout}
        if stale:
            self.swept = frozenset(s.flow.id for s in stale.values())
            self.swept_at = self.stats.packets
        for s in sorted(stale.values(), key=lambda st: st.flow.id):
            self.stats.evicted += 1
            self._end(s, ts, "idle timeout", out)

    def _evict_oldest(self, ts: float, out: list) -> None:
        oldest = min(self.flows.values(), key=lambda s: s.last_ts)
        self.stats.evicted += 1
        self._end(oldest, ts, "flow table full", out)

    def client_random(self, key: tuple) -> bytes:
        """The client random of the TLS session on the flow with this 4-tuple (b"" before its ClientHello)."""
        state = self.flows.get(key)
        tls = state.tls if state is not None else None
        return tls.client_random if tls is not None else b""

    def finish(self) -> list[Event]:
        """End of input: close every flow still open."""
        out: list[Event] = []
        states = {id(s): s for s in self.flows.values()}
        for state in sorted(states.values(), key=lambda st: st.flow.id):
            self._end(state, self.now, "end of capture", out)
        return out

    def _count(self, name: str) -> None:
        self.stats.anomalies[name] = self.stats.anomalies.get(name, 0) + 1


def _shard_of(key: tuple, count: int, by_hosts: bool) -> int:
    """A direction-independent hash of a flow (or of its two hosts) into `count` shards."""
    src, sport, dst, dport = key
    if by_hosts:
        a, b = sorted((src, dst))
    else:
        a, b = sorted((src + sport.to_bytes(2, "big"), dst + dport.to_bytes(2, "big")))
    return zlib.crc32(a + b) % count


_HTTP_STARTS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ",
                b"PRI * HTTP/2.0", b"HTTP/1.")


def _looks_like_http(buf: bytes) -> bool:
    return buf.startswith(_HTTP_STARTS)


def _other(direction: str) -> str:
    return SERVER if direction == CLIENT else CLIENT


def _record_chain(buf: bytes) -> bool:
    """Mid-stream pickup: two consecutive plausible TLS record headers somewhere in the first bytes."""
    end = min(len(buf), 4096)
    for pos in range(0, end - 5):
        if plausible_header(buf, pos):
            nxt = pos + 5 + ((buf[pos + 3] << 8) | buf[pos + 4])
            if nxt == len(buf) and pos == 0:
                return True
            if nxt + 5 <= len(buf) and plausible_header(buf, nxt):
                return True
    return False


def _is_client_hello(chunk: bytes) -> bool:
    return (len(chunk) > 5 and chunk[0] == 22 and chunk[5] == 1) or (len(chunk) > 2 and chunk[0] & 0x80 and chunk[2] == 1)
