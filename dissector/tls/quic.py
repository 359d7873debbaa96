"""QUIC (RFC 9000, 9001; version 2, RFC 9369): the TLS 1.3 handshake inside it, and its decrypted streams.

`QUICConnection.datagram(direction, payload, ts)` takes one UDP payload: one or more QUIC packets. Initial packets
are protected with keys every observer can derive from the client's first Destination Connection ID, so the
ClientHello and ServerHello are read without any key material, as Wireshark does. Handshake and 1-RTT packets
need the key log: the same CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET and *_TRAFFIC_SECRET_0 lines as TLS 1.3, from
which the QUIC packet keys are derived ("quic key", "quic iv", "quic hp").

Per packet: header protection is removed (AES-ECB or ChaCha20 mask over a sample of the ciphertext), the packet
number is recovered, the payload is opened with the AEAD, and the frames are read: CRYPTO frames carry the TLS
handshake messages (reassembled per packet number space and handed to the TLS state machine, so every message is
labelled and both Finished are verified), STREAM frames the application data (in order per stream, as AppData
of the direction). Other frames are skipped. A packet that does not open is counted as encrypted, never emitted
as plaintext.

Key updates (RFC 9001 6): a 1-RTT packet that the current keys do not open is tried with the next generation (then
the peer has updated: the connection switches to it) and the previous one (a packet reordered across the update).
0-RTT packets (a resumed client's data before the handshake is done) open with CLIENT_EARLY_TRAFFIC_SECRET and the
cipher suite of the ticket's session, which the packet itself tells: each TLS 1.3 suite the ClientHello offers is
tried; their STREAM frames join the client's streams (0-RTT and 1-RTT share one packet number space and the
streams). A server that rejects 0-RTT has the client send the data again in 1-RTT, where the same stream
offsets are already delivered.
Packets that arrive before what their keys come from (a Handshake or 1-RTT packet before the Initial that carries
the ServerHello, a 0-RTT packet before the ClientHello: datagrams reordered on the way) wait, as an endpoint
buffers them (RFC 9001 5.7), and are read once the hello is (MAX_HELD of them; the rest, and any still waiting when
the connection ends, count as encrypted).
Retry and Version Negotiation packets become QUICEvents and start the handshake again from the client's next Initial,
unless the client must discard them (a second Retry, one whose integrity tag does not verify, one after the server's
Initial; a Version Negotiation that lists the client's version). Not followed: connection IDs that change
mid-connection.
"""
from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from dissector.events import CLIENT, SERVER, AppData, EarlyData, Flow, QUICEvent, TLSMessage, TransportInfo
from dissector.tls import schedule13
from dissector.tls.connection import FAILED, TLSConnection
from dissector.tls.keystore import KeyStore
from dissector.tls.protection import SampleMask, expand_record_number
from dissector.tls.suites import SUITES, Suite

V1, V2 = 0x00000001, 0x6B3343CF
# the IETF drafts that real captures still hold (2019-2021: Chrome's h3-27 and h3-29, Firefox's and the libraries'
# drafts up to 34): version 0xff0000NN, the same packets and labels as v1, but their own Initial salt and Retry key
DRAFTS = range(0xFF000017, 0xFF000023)  # draft-23 to draft-34
VERSIONS = {V1: "QUIC v1", V2: "QUIC v2"} | {v: f"QUIC draft-{v & 0xFF}" for v in DRAFTS}
_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_DRAFT23_SALT = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")  # draft-23 to 28
_DRAFT29_SALT = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")  # draft-29 to 32
_SALTS = {V1: _V1_SALT, V2: bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")} | {
    v: _DRAFT23_SALT if v <= 0xFF00001C else _DRAFT29_SALT if v <= 0xFF000020 else _V1_SALT for v in DRAFTS}
_LABEL_PREFIX = {V2: "quicv2"}  # (every other version: "quic")
# long header packet types, by version: Initial, 0-RTT, Handshake, Retry
_TYPES = {V2: {1: "initial", 2: "0rtt", 3: "handshake", 0: "retry"}}
_TYPES_V1 = {0: "initial", 1: "0rtt", 2: "handshake", 3: "retry"}
MAX_STREAM_BUFFER = 1 << 20  # out-of-order stream bytes kept per direction
MAX_HELD = 32  # packets per connection waiting for the hello their keys depend on


def quic_version(payload) -> int | None:
    """The version of a long-header QUIC packet at the start of `payload` (known versions only), else None."""
    if len(payload) < 7 or payload[0] & 0xC0 != 0xC0:
        return None
    v = int.from_bytes(payload[1:5], "big")
    return v if v in VERSIONS else None


def client_initial(payload) -> bool:
    """Is the datagram's first packet a client's Initial, that opens with the keys of its Destination Connection
    ID? (what starts a QUIC connection; a server's Initial cannot be opened without the client's first one)"""
    version = quic_version(payload)
    if version is None or (_TYPES.get(version) or _TYPES_V1)[(payload[0] >> 4) & 0x03] != "initial":
        return False
    try:
        p = 5
        dcid = bytes(payload[p + 1:p + 1 + payload[p]])
        p += 1 + payload[p]
        p += 1 + payload[p]
        token_len, p = varint(payload, p)
        length, p = varint(payload, p + token_len)
        if p + length > len(payload):
            return False
        open_packet(initial_keys(dcid, version)[0], payload, 0, p, p + length, -1, True)
        return True
    except (IndexError, InvalidTag, ValueError):
        return False


def open_packet(keys: _PacketKeys, b, start: int, pn_at: int, end: int, largest: int,
                long_header: bool) -> tuple[int, int, bytes]:
    """Remove header protection from the packet at b[start:end] (its packet number at `pn_at`), recover the full
    packet number (`largest`: the largest seen in its space) and open the payload: (first byte, packet number,
    plaintext). IndexError when the packet is too short for a sample, InvalidTag when it does not open."""
    sample = bytes(b[pn_at + 4:pn_at + 20])
    if len(sample) < 16:
        raise IndexError
    mask = keys.hp.mask(sample)
    first = b[start] ^ (mask[0] & (0x0F if long_header else 0x1F))
    pn_len = (first & 0x03) + 1
    truncated = int.from_bytes(bytes(x ^ m for x, m in zip(b[pn_at:pn_at + pn_len], mask[1:1 + pn_len])), "big")
    pn = expand_record_number(largest, truncated, pn_len * 8)
    header = bytes([first]) + bytes(b[start + 1:pn_at]) + truncated.to_bytes(pn_len, "big")
    nonce = (int.from_bytes(keys.iv, "big") ^ pn).to_bytes(12, "big")
    return first, pn, keys.aead.decrypt(nonce, bytes(b[pn_at + pn_len:end]), header)


# the Retry Integrity Tag's AES-128-GCM key and nonce, by version (RFC 9001 5.8, RFC 9369 3.3.3; draft-ietf-quic-tls
# 25 to 28 and 29 to 32, 5.8; drafts 23 and 24 had no tag)
_RETRY_V1 = (bytes.fromhex("be0c690b9f66575a1d766b54e368c84e"), bytes.fromhex("461599d35d632bf2239825bb"))
_RETRY_DRAFT25 = (bytes.fromhex("4d32ecdb2a2133c841e4043df27d4430"), bytes.fromhex("4d1611d05513a552c587d575"))
_RETRY_DRAFT29 = (bytes.fromhex("ccce187ed09a09d05728155a6cb96be1"), bytes.fromhex("e54930f97f2136f0530a8c1c"))
_RETRY_INTEGRITY = {V1: _RETRY_V1,
                    V2: (bytes.fromhex("8fb4b01b56ac48e260fbcbcead7ccc92"), bytes.fromhex("d86969bc2d7c6d9990efb04a"))
                    } | {v: _RETRY_DRAFT25 if v <= 0xFF00001C else _RETRY_DRAFT29 if v <= 0xFF000020 else _RETRY_V1
                         for v in DRAFTS if v >= 0xFF000019}


def retry_tag_verifies(version: int, original_dcid: bytes, packet: bytes) -> bool | None:
    """Does a Retry packet's integrity tag (its last 16 bytes) verify, for the Destination Connection ID of the
    client's first Initial? None for a version whose tag key is not known (draft versions)."""
    key_nonce = _RETRY_INTEGRITY.get(version)
    if key_nonce is None or len(packet) < 16:
        return None
    pseudo = bytes([len(original_dcid)]) + original_dcid + packet[:-16]
    try:
        AESGCM(key_nonce[0]).decrypt(key_nonce[1], packet[-16:], pseudo)
    except InvalidTag:
        return False
    return True


def varint(b, pos: int) -> tuple[int, int]:
    """A QUIC variable-length integer (RFC 9000 16) at b[pos]: (value, next position); IndexError when cut."""
    first = b[pos]
    n = 1 << (first >> 6)
    if pos + n > len(b):
        raise IndexError
    v = first & 0x3F
    for i in range(1, n):
        v = (v << 8) | b[pos + i]
    return v, pos + n


class _PacketKeys:
    """AEAD, IV and header-protection key of one direction and packet number space."""

    __slots__ = ("aead", "iv", "hp", "suite_cipher", "hash_name", "secret", "version")

    def __init__(self, suite_cipher: str, hash_name: str, secret: bytes, version: int) -> None:
        self.suite_cipher, self.hash_name, self.secret, self.version = suite_cipher, hash_name, secret, version
        prefix = _LABEL_PREFIX.get(version, "quic")
        key_len = 32 if ("256" in suite_cipher or "CHACHA" in suite_cipher.upper()) else 16
        key = schedule13.hkdf_expand_label(hash_name, secret, f"{prefix} key", b"", key_len)
        self.iv = schedule13.hkdf_expand_label(hash_name, secret, f"{prefix} iv", b"", 12)
        chacha = "CHACHA" in suite_cipher.upper()
        self.hp = SampleMask(schedule13.hkdf_expand_label(hash_name, secret, f"{prefix} hp", b"", key_len), chacha)
        self.aead = ChaCha20Poly1305(key) if chacha else AESGCM(key)

    def updated(self) -> _PacketKeys:
        """The next generation of 1-RTT keys after a key update (RFC 9001 6.1): a new secret from "quic ku" (QUIC v2:
        "quicv2 ku"), hence a new key and IV; header protection is never updated."""
        prefix = _LABEL_PREFIX.get(self.version, "quic")
        secret = schedule13.hkdf_expand_label(self.hash_name, self.secret, f"{prefix} ku", b"", len(self.secret))
        nxt = _PacketKeys(self.suite_cipher, self.hash_name, secret, self.version)
        nxt.hp = self.hp
        return nxt


def initial_keys(dcid: bytes, version: int) -> tuple[_PacketKeys, _PacketKeys]:
    """(client, server) Initial packet keys, from the client's first Destination Connection ID (RFC 9001 5.2)."""
    initial = schedule13.hkdf_extract("sha256", _SALTS[version], dcid)
    client = schedule13.hkdf_expand_label("sha256", initial, "client in", b"", 32)
    server = schedule13.hkdf_expand_label("sha256", initial, "server in", b"", 32)
    return (_PacketKeys("AES-128-GCM", "sha256", client, version), _PacketKeys("AES-128-GCM", "sha256", server, version))


class _Space:
    """One direction's state in one packet number space: keys, the largest packet number, the CRYPTO stream."""

    __slots__ = ("keys", "largest", "crypto_next", "crypto_pending", "next_keys", "prev_keys", "key_updates")

    def __init__(self) -> None:
        self.keys: _PacketKeys | None = None
        self.next_keys: _PacketKeys | None = None  # 1-RTT: the generation after `keys`, made when first tried
        self.prev_keys: _PacketKeys | None = None  # 1-RTT: the generation before, for packets reordered across an update
        self.key_updates = 0
        self.largest = -1
        self.crypto_next = 0
        self.crypto_pending: dict[int, bytes] = {}


class QUICConnection(TLSConnection):
    # (its 0-RTT packets are read by _open_early and counted there, for the session's early_data)
    def __init__(self, flow: Flow, keys: KeyStore, out: list, max_handshake: int = 1 << 16) -> None:
        super().__init__(flow, keys, out, max_handshake)
        self.quic_version = 0
        self.initial_dcid = b""
        self.cids: dict[str, bytes] = {CLIENT: b"", SERVER: b""}  # each side's Source Connection ID
        self.spaces = {d: {"initial": _Space(), "handshake": _Space(), "app": _Space()} for d in (CLIENT, SERVER)}
        self.early = _Space()  # the client's 0-RTT packets: their keys and largest packet number
        self.early_suites: list[Suite] = []  # the TLS 1.3 suites the ClientHello offers (0-RTT uses one of them)
        self.early_counts = [0, 0]  # 0-RTT packets and their STREAM bytes, until the server's answer (early_data)
        self.streams: dict[tuple[str, int], list] = {}  # (direction, stream id) -> [next offset, {offset: data}]
        self.ended = ""  # "CONNECTION_CLOSE" once a side closed the connection (as DTLSConnection.ended)
        self.held: list[tuple[str, bool, bytes, float]] = []  # (direction, long header, packet, time): see _hold
        self.holding = True  # False while the held packets are read for the last time
        self.retried = False  # a Retry was accepted: the client ignores any other (RFC 9000 17.2.5.2)

    # ------------------------------------------------------------------ packets
    def datagram(self, direction: str, payload, ts: float) -> None:
        pos, n = 0, len(payload)
        if payload[0] & 0x80 and n >= 7 and not any(payload[1:5]):  # (its fixed bit may be clear: RFC 9000 17.2.1)
            self._read(self._version_negotiation, direction, payload, 0, ts)
            return
        while pos < n:
            b0 = payload[pos]
            if not b0 & 0x40:  # the fixed bit is clear: padding after the packets, or not QUIC
                return
            end = self._read(self._long_packet if b0 & 0x80 else self._short_packet, direction, payload, pos, ts)
            if end is None:
                break
            pos = end
        if self.held:
            self._replay()

    def _read(self, read: Any, direction: str, b, pos: int, ts: float) -> int | None:
        """One packet read by `read` (which returns where the next one starts, if any follows); None, with a truncated_packet
        anomaly, when the packet is cut short (its fields run past the datagram's end: IndexError), and the other
        packets are read on."""
        try:
            return read(direction, b, pos, ts)
        except IndexError:
            self._anomaly(ts, "quic", "truncated_packet", f"a QUIC packet cut short at byte {pos}", direction)
            return None

    def _long_packet(self, direction: str, b, pos: int, ts: float) -> int:
        b0 = b[pos]
        version = int.from_bytes(b[pos + 1:pos + 5], "big")
        if version not in VERSIONS:
            self._anomaly(ts, "quic", "unknown_version", f"QUIC version 0x{version:08x}", direction)
            return len(b)
        self.quic_version = self.quic_version or version
        p = pos + 5
        dcid = bytes(b[p + 1:p + 1 + b[p]])
        p += 1 + b[p]
        scid = bytes(b[p + 1:p + 1 + b[p]])
        p += 1 + b[p]
        kind = (_TYPES.get(version) or _TYPES_V1)[(b0 >> 4) & 0x03]
        if kind == "retry":
            self._retry(direction, b, pos, version, scid, ts)
            return len(b)
        if kind == "initial":
            token_len, p = varint(b, p)
            p += token_len
        length, p = varint(b, p)
        end = p + length
        if end > len(b):
            raise IndexError
        self.cids[direction] = scid
        if kind == "initial" and direction == CLIENT and dcid != self.initial_dcid and not self.initial_dcid:
            self.initial_dcid = dcid
            c, s = initial_keys(dcid, version)
            self.spaces[CLIENT]["initial"].keys, self.spaces[SERVER]["initial"].keys = c, s
        if kind == "0rtt":
            self._open_early(direction, b, pos, p, end, ts)
            return end
        self._open(direction, kind, b, pos, p, end, ts, long_header=True)
        return end

    def _retry(self, direction: str, b, pos: int, version: int, scid: bytes, ts: float) -> None:
        """A Retry: the server wants the client to prove its address. The client starts again, from a new ClientHello
        and the Connection ID the server gave, unless it must discard the packet (RFC 9000 17.2.5.2: one Retry per
        connection attempt, none after the server's Initial; RFC 9001 5.8: the integrity tag must verify)."""
        token = len(b) - (pos + 7 + b[pos + 5] + len(scid)) - 16
        verified = retry_tag_verifies(version, self.initial_dcid, bytes(b[pos:])) if self.initial_dcid else None
        if direction != SERVER:
            why = "sent by the client"
        elif self.retried:
            why = "a second Retry: a client accepts one per connection attempt (RFC 9000 17.2.5.2)"
        elif self.spaces[SERVER]["initial"].largest >= 0:
            why = "it came after the server's Initial, so the client discards it (RFC 9000 17.2.5.2)"
        elif verified is False:
            why = "its integrity tag does not verify (RFC 9001 5.8): corrupted or forged, the client discards it"
        elif token <= 0 or scid == self.initial_dcid:
            why = "malformed (no token, or the server kept the client's connection ID): the client discards it"
        else:
            self.retried = True
            self._transport_event(direction, "Retry", ts, f"a token of {token} bytes; the client starts again with the "
                                  f"connection ID {scid.hex()}" + ("; integrity tag verified" if verified else ""))
            self._restart()
            return
        self._transport_event(direction, "Retry", ts, why, ignored=True)

    def _version_negotiation(self, direction: str, b, pos: int, ts: float) -> None:
        """A Version Negotiation packet: the server does not speak the client's version and lists those it does; the
        client starts again with one of them (RFC 9000 6), unless it must discard the packet (6.2)."""
        p = pos + 5
        p += 1 + b[p]
        p += 1 + b[p]
        listed = [int.from_bytes(b[i:i + 4], "big") for i in range(p, len(b) - 3, 4)]
        names = ", ".join(VERSIONS.get(v, f"0x{v:08x}") for v in listed if v & 0x0F0F0F0F != 0x0A0A0A0A) or "none"
        if direction != SERVER:
            why = "sent by the client"
        elif self.spaces[SERVER]["initial"].largest >= 0:
            why = "it came after the server's Initial, so the client discards it (RFC 9000 6.2)"
        elif self.quic_version in listed:
            why = "it lists the client's own version, so the client discards it (RFC 9000 6.2)"
        else:
            self._transport_event(direction, "Version Negotiation", ts, f"the server speaks {names}")
            self.quic_version = 0  # (the client's next Initial says which version it chose)
            self._restart()
            return
        self._transport_event(direction, "Version Negotiation", ts, f"the server speaks {names}; ignored: {why}", True)

    def _restart(self) -> None:
        """The client starts the connection again (after a Retry or a Version Negotiation): new Initial keys from its
        next Initial's Destination Connection ID, and a new ClientHello, the first of the handshake (as after a DTLS
        HelloVerifyRequest)."""
        self.initial_dcid = b""
        for d in (CLIENT, SERVER):
            self.spaces[d]["initial"] = _Space()
            self.sides[d].hs_buf.clear()
        self.handshakes = 0

    def _transport_event(self, direction: str, packet: str, ts: float, detail: str, ignored: bool = False) -> None:
        self.out.append(QUICEvent(ts, self.flow, direction, packet, detail, ignored))

    def _open_early(self, direction: str, b, start: int, pn_at: int, end: int, ts: float) -> None:
        """A 0-RTT packet: CLIENT_EARLY_TRAFFIC_SECRET's keys, for the suite that opens it (the ticket's session's)."""
        st = self.early
        secret = self.keys.keylog.get("CLIENT_EARLY_TRAFFIC_SECRET", self.key_random or self.client_random)
        if st.keys is not None:
            candidates = [st.keys]
        elif secret is not None and direction == CLIENT:
            candidates = [_PacketKeys(str(suite.cipher), suite.prf_hash, secret, self.quic_version)
                          for suite in self.early_suites]
        else:
            candidates = []
            if direction == CLIENT and not self.saw_client_hello and self._hold(direction, True, b, start, end, ts):
                return
        for keys in candidates:
            try:
                _, pn, plain = open_packet(keys, b, start, pn_at, end, st.largest, True)
            except InvalidTag:
                continue
            st.keys, st.largest = keys, max(st.largest, pn)
            self.sides[direction].decrypted_records += 1
            mark = len(self.out)
            self._frames(direction, "app", plain, ts)
            self._early_packet(sum(ev.length for ev in self.out[mark:] if type(ev) is AppData), ts)
            return
        self._early_packet(0, ts)
        self._opaque(direction, "app", end - pn_at, ts)

    def _early_packet(self, stream_bytes: int, ts: float) -> None:
        """A 0-RTT packet counted for the session's early_data (its STREAM bytes, when it opened): until the
        server's answer tells what became of them, then as an event of its own."""
        if self.early_data == "pending":
            self.early_counts[0] += 1
            self.early_counts[1] += stream_bytes
        elif self.early_data:
            self.out.append(EarlyData(ts, self.flow, CLIENT, self.early_data, "", 1, stream_bytes))

    def _early_decided(self, status: str, detail: str, ts: float) -> None:
        # (the 0-RTT packets' STREAM data went to the client's streams as it came: a client whose 0-RTT was rejected
        # sends the same bytes again in 1-RTT, at the same offsets)
        self.early_data = status
        self.out.append(EarlyData(ts, self.flow, CLIENT, status, detail, *self.early_counts))

    def _on_client_hello(self, direction: str, side: Any, h: Any, raw: bytes, ts: float) -> None:
        super()._on_client_hello(direction, side, h, raw, ts)
        # QUIC carries 0-RTT in its own packets (and has no EndOfEarlyData, RFC 9001 8.3): the client's handshake
        # keys apply at once, not after the early data as over TCP
        side.early, side.protection, side.secret = False, None, None
        if self.offered_early_data:
            self.early_suites = [SUITES[s] for s in h.suite_ids() if 0x1301 <= s <= 0x1305 and s in SUITES]

    def _short_packet(self, direction: str, b, pos: int, ts: float) -> int:
        other = SERVER if direction == CLIENT else CLIENT
        cid_len = len(self.cids[other])  # packets carry the Connection ID their receiver chose
        self._open(direction, "app", b, pos, pos + 1 + cid_len, len(b), ts, long_header=False)
        return len(b)

    def _open(self, direction: str, space: str, b, start: int, pn_at: int, end: int, ts: float,
              long_header: bool) -> None:
        st = self.spaces[direction][space]
        if st.keys is None and space != "initial":
            self._space_keys(space)
        keys = st.keys
        if keys is None:
            if space == "initial" or self.suite is not None or not self._hold(direction, long_header, b, start, end, ts):
                self._opaque(direction, space, end - pn_at, ts)
            return
        try:
            first, pn, plain = open_packet(keys, b, start, pn_at, end, st.largest, long_header)
        except InvalidTag:
            # wrong keys; or, once 1-RTT packets have opened, a key update (or a packet from before one)
            opened = None if long_header or st.largest < 0 else self._other_generation(st, b, start, pn_at, end)
            if opened is None:
                if space != "initial" and (long_header or st.largest < 0):
                    self._set_status(FAILED, f"a {direction} {space} packet did not open with the key log's secrets: "
                                               "the key material does not match this connection")
                self._opaque(direction, space, end - pn_at, ts)
                return
            first, pn, plain = opened
        st.largest = max(st.largest, pn)
        self.sides[direction].decrypted_records += space != "initial"
        self._frames(direction, space, plain, ts)

    @staticmethod
    def _other_generation(st: _Space, b, start: int, pn_at: int, end: int) -> tuple[int, int, bytes] | None:
        """A 1-RTT packet that the current keys do not open: the next generation (the peer updated its keys: switch to
        it) or the previous one (a packet sent before the update, arriving late). None when neither opens it."""
        if st.next_keys is None:
            st.next_keys = st.keys.updated()
        try:
            opened = open_packet(st.next_keys, b, start, pn_at, end, st.largest, False)
        except InvalidTag:
            opened = None
        if opened is not None:
            st.prev_keys, st.keys, st.next_keys = st.keys, st.next_keys, None
            st.key_updates += 1
            return opened
        if st.prev_keys is not None:
            try:
                return open_packet(st.prev_keys, b, start, pn_at, end, st.largest, False)
            except InvalidTag:
                return None
        return None

    def _hold(self, direction: str, long_header: bool, b, start: int, end: int, ts: float) -> bool:
        """Keep a packet whose keys depend on a hello not read yet (its datagram overtook the hello's); False when
        it cannot wait (too many wait, or the connection is over)."""
        if not self.holding or len(self.held) >= MAX_HELD:
            return False
        self.held.append((direction, long_header, bytes(b[start:end]), ts))
        return True

    def _replay(self) -> None:
        """Read the held packets again: those whose hello has come are read, the others wait on (all are read, as
        encrypted if need be, when `holding` is off)."""
        waiting, self.held = self.held, []
        for direction, long_header, packet, ts in waiting:
            self._read(self._long_packet if long_header else self._short_packet, direction, packet, 0, ts)

    def close(self, ts: float) -> None:
        if self.held:  # their hello never came: counted as encrypted
            self.holding = False
            self._replay()
        if self.quic_version:  # the session's quic_connection section: the version it spoke
            self.out.append(TransportInfo(ts, self.flow, "quic_connection", {
                "version": VERSIONS.get(self.quic_version, f"0x{self.quic_version:08x}"),
                "version_id": self.quic_version}))
        super().close(ts)

    def _opaque(self, direction: str, space: str, length: int, ts: float) -> None:
        self.saw_encrypted = True
        if space == "handshake":
            self.out.append(TLSMessage(ts, self.flow, direction, "EncryptedHandshakeMessage", True, length))
        else:
            self.out.append(AppData(ts, self.flow, direction, length, None))

    # ------------------------------------------------------------------ frames
    def _frames(self, direction: str, space: str, p: bytes, ts: float) -> None:
        pos, n = 0, len(p)
        while pos < n:
            ftype, pos = varint(p, pos)
            if ftype == 0x00 or ftype == 0x01 or ftype == 0x1E:  # PADDING, PING, HANDSHAKE_DONE
                continue
            if ftype in (0x02, 0x03):  # ACK
                _, pos = varint(p, pos)
                _, pos = varint(p, pos)
                count, pos = varint(p, pos)
                _, pos = varint(p, pos)
                for _ in range(2 * count + (3 if ftype == 0x03 else 0)):
                    _, pos = varint(p, pos)
            elif ftype == 0x06:  # CRYPTO
                offset, pos = varint(p, pos)
                length, pos = varint(p, pos)
                self._crypto(direction, space, offset, p[pos:pos + length], ts)
                pos += length
            elif 0x08 <= ftype <= 0x0F:  # STREAM
                sid, pos = varint(p, pos)
                offset = 0
                if ftype & 0x04:
                    offset, pos = varint(p, pos)
                if ftype & 0x02:
                    length, pos = varint(p, pos)
                else:
                    length = n - pos
                self._stream(direction, sid, offset, p[pos:pos + length], ts, bool(ftype & 0x01))
                pos += length
            elif ftype in (0x1C, 0x1D):  # CONNECTION_CLOSE
                self.ended = "CONNECTION_CLOSE"
                _, pos = varint(p, pos)
                if ftype == 0x1C:
                    _, pos = varint(p, pos)
                length, pos = varint(p, pos)
                pos += length
            elif ftype == 0x07:  # NEW_TOKEN
                length, pos = varint(p, pos)
                pos += length
            elif ftype == 0x18:  # NEW_CONNECTION_ID
                _, pos = varint(p, pos)
                _, pos = varint(p, pos)
                pos += 1 + p[pos] + 16
            elif ftype in (0x04,):  # RESET_STREAM
                for _ in range(3):
                    _, pos = varint(p, pos)
            elif ftype in (0x05, 0x11):  # STOP_SENDING, MAX_STREAM_DATA
                for _ in range(2):
                    _, pos = varint(p, pos)
            elif ftype in (0x10, 0x12, 0x13, 0x14, 0x16, 0x17, 0x19):  # MAX_DATA, MAX_STREAMS, *_BLOCKED, RETIRE
                _, pos = varint(p, pos)
            elif ftype == 0x15:  # STREAM_DATA_BLOCKED
                for _ in range(2):
                    _, pos = varint(p, pos)
            elif ftype in (0x1A, 0x1B):  # PATH_CHALLENGE, PATH_RESPONSE
                pos += 8
            elif ftype in (0x30, 0x31):  # DATAGRAM (RFC 9221)
                length = n - pos
                if ftype == 0x31:
                    length, pos = varint(p, pos)
                pos += length
            else:  # an extension frame we do not know: its length is unknown, the rest of the packet is skipped
                return
            if pos > n:
                raise IndexError

    def _crypto(self, direction: str, space: str, offset: int, data: bytes, ts: float) -> None:
        st = self.spaces[direction][space]
        if offset + len(data) <= st.crypto_next:
            return  # retransmitted
        if offset > st.crypto_next:
            if len(st.crypto_pending) < 64:
                st.crypto_pending[offset] = bytes(data)
            return
        data = bytes(data[st.crypto_next - offset:])
        while True:
            st.crypto_next += len(data)
            self._handshake_bytes(direction, self.sides[direction], data, ts, space != "initial")
            nxt = min((o for o in st.crypto_pending if o <= st.crypto_next), default=None)
            if nxt is None:
                return
            chunk = st.crypto_pending.pop(nxt)
            data = chunk[st.crypto_next - nxt:]

    def _stream(self, direction: str, sid: int, offset: int, data: bytes, ts: float, fin: bool = False) -> None:
        state = self.streams.get((direction, sid))
        if state is None:
            # next offset, pending {offset: bytes}, their size, the final size once a FIN told it (-1 before)
            state = self.streams[(direction, sid)] = [0, {}, 0, -1]
        if fin:
            state[3] = offset + len(data)
        if offset + len(data) <= state[0]:
            if fin and not data and state[0] == state[3]:  # an empty STREAM frame that only ends the stream
                self.out.append(AppData(ts, self.flow, direction, 0, b"", sid, True))
            return
        pending = state[1]
        if offset > state[0]:
            if offset not in pending or len(pending[offset]) < len(data):
                state[2] += len(data) - len(pending.get(offset, b""))
                pending[offset] = bytes(data)
            if state[2] <= MAX_STREAM_BUFFER:
                return
            # bytes the capture never showed (lost before the capture point): go on after the hole, as TCP does
            skip = min(pending)
            self._anomaly(ts, "quic", "stream_gap", f"{skip - state[0]} bytes of stream {sid} missing from the "
                          "capture; the stream goes on after them", direction)
            state[0], offset = skip, skip
            data = pending.pop(skip)
            state[2] -= len(data)
        data = bytes(data[state[0] - offset:])
        while data:
            state[0] += len(data)
            self.out.append(AppData(ts, self.flow, direction, len(data), data, sid, state[0] == state[3]))
            if not pending:
                return
            nxt = state[0] if state[0] in pending else min((o for o in pending if o <= state[0]), default=None)
            if nxt is None:
                return
            chunk = pending.pop(nxt)
            state[2] -= len(chunk)
            data = chunk[state[0] - nxt:]

    # ------------------------------------------------------------------ keys
    def _space_keys(self, space: str) -> None:
        """Handshake or 1-RTT packet keys from the key log, once the ServerHello has named the suite."""
        suite: Suite | None = self.suite
        if suite is None or not self.client_random:
            return
        labels = {"handshake": ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET"),
                  "app": ("CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")}[space]
        for direction, label in zip((CLIENT, SERVER), labels):
            # (key_random: the inner ClientHello's when the server accepted ECH, else the ClientHello's)
            secret = self.keys.keylog.get(label, self.key_random or self.client_random)
            if secret is not None and self.spaces[direction][space].keys is None:
                self.spaces[direction][space].keys = _PacketKeys(str(suite.cipher), suite.prf_hash, secret,
                                                                 self.quic_version)
