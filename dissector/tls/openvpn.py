"""TLS inside OpenVPN's control channel (OpenVPN 2.x over UDP or TCP): the handshake that authenticates a VPN.

An OpenVPN packet starts with its opcode (5 bits) and key id (3 bits). Control packets carry the session id (8 bytes),
an array of acknowledged packet ids, and, but for P_ACK_V1, a message packet id: OpenVPN's reliability layer over
UDP, whose P_CONTROL_V1 payloads, put in packet-id order with retransmissions dropped, are the TLS byte stream of each
direction. Data packets (P_DATA_V1/V2) carry the tunnel's traffic under keys TLS agreed on: they are counted.

The control channel may be protected by a static key, which the client's first packet (P_CONTROL_HARD_RESET_CLIENT_V2)
tells apart by where its zeros fall:
- tls-auth: an HMAC (its size depends on `auth`: 16 to 64 bytes), a replay packet id and a time after the session id;
  the TLS inside is readable (the HMAC is skipped, not checked);
- tls-crypt: a packet id and time, a 32-byte tag, then everything encrypted with the static key: the TLS inside
  is read when the key file is given (--key ta.key; the tags say which key opens it), else the session says why not.
OpenVPN 2.6 also wraps its renegotiations' control channels this way ("dynamic tls-crypt"), with a key exported from
the first TLS session (DYNAMIC_TLS_CRYPT_LABEL) and kept: when that session was decrypted, the later ones are opened
with it (`TLSCrypt`: AES-256-CTR, and an HMAC-SHA256 tag that must verify).
Key id 0 is the first TLS session. A renegotiation (every hour by default) starts another, under the next key id, with
a P_CONTROL_SOFT_RESET_V1: the pipeline ends the session and starts a new one for that key id (`renegotiation`).
Over TCP each packet is preceded by its length (two bytes): `data` splits the stream into packets.
"""
from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dissector.events import CLIENT, SERVER, Flow, TransportInfo
from dissector.tls.connection import NO_KEY, TLSConnection
from dissector.tls.keystore import KeyStore

(P_CONTROL_HARD_RESET_CLIENT_V1, P_CONTROL_HARD_RESET_SERVER_V1, P_CONTROL_SOFT_RESET_V1, P_CONTROL_V1, P_ACK_V1,
 P_DATA_V1, P_CONTROL_HARD_RESET_CLIENT_V2, P_CONTROL_HARD_RESET_SERVER_V2, P_DATA_V2) = range(1, 10)
_DATA = (P_DATA_V1, P_DATA_V2)
_HMAC_SIZES = (20, 32, 16, 28, 48, 64)  # tls-auth's HMAC by `auth`: SHA1 (the default), SHA256, MD5, SHA224...
MAX_WAITING = 64  # control packets held for a packet id that has not come
DYNAMIC_TLS_CRYPT_LABEL = "EXPORTER-OpenVPN-dynamic-tls-crypt"  # OpenVPN 2.6: 256 bytes, a key2 (two keys)
_PLAUSIBLE_TIME = (946684800, 4102444800)  # a packet's time field: 2000 to 2100


def client_reset_layout(payload) -> tuple[str, int] | None:
    """How a client's first OpenVPN packet (P_CONTROL_HARD_RESET_CLIENT_V2, key id 0, over UDP) protects the control
    channel: ("plain", 0), ("tls-auth", HMAC size) or ("tls-crypt", 32); None when it is no such packet."""
    n = len(payload)
    if n < 14 or payload[0] != P_CONTROL_HARD_RESET_CLIENT_V2 << 3:
        return None
    if _reset_body(payload, 9):
        return "plain", 0
    for size in _HMAC_SIZES:  # HMAC, packet id, time, then the plain fields
        p = 9 + size
        if n >= p + 13 and _plausible_replay(payload, p) and _reset_body(payload, p + 8):
            return "tls-auth", size
    if n >= 9 + 8 + 32 + 5 and _plausible_replay(payload, 9):
        return "tls-crypt", 32
    return None


def framed_client_reset_layout(stream) -> tuple[str, int] | None:
    """client_reset_layout of the first packet of an OpenVPN-over-TCP stream (its two-byte length first)."""
    if len(stream) < 16:
        return None
    n = int.from_bytes(stream[:2], "big")
    return client_reset_layout(stream[2:2 + n]) if len(stream) >= 2 + n else None


def renegotiation(payload, key_id: int, previous: int) -> int | None:
    """The key id of a new TLS session that this packet of an OpenVPN flow starts (a P_CONTROL_SOFT_RESET_V1, or the
    first P_CONTROL_V1 of a key id other than the current and the one before it), else None."""
    if not len(payload):
        return None
    op, kid = payload[0] >> 3, payload[0] & 7
    if op in (P_CONTROL_SOFT_RESET_V1, P_CONTROL_V1) and kid != key_id and kid != previous:
        return kid
    return None


def _plausible_replay(b, p: int) -> bool:
    """A replay packet id (small, not 0) and a Unix time at b[p:p+8]."""
    pid, when = int.from_bytes(b[p:p + 4], "big"), int.from_bytes(b[p + 4:p + 8], "big")
    return 0 < pid < 1 << 16 and _PLAUSIBLE_TIME[0] < when < _PLAUSIBLE_TIME[1]


def _reset_body(b, p: int) -> bool:
    """A hard reset's plain fields at b[p:]: no acknowledgements, message packet id 0, then nothing or whole TLVs
    (OpenVPN 2.6's early negotiation: type, length, value)."""
    if len(b) < p + 5 or b[p] != 0 or any(b[p + 1:p + 5]):
        return False
    pos = p + 5
    while pos < len(b):
        if pos + 4 > len(b):
            return False
        pos += 4 + int.from_bytes(b[pos + 2:pos + 4], "big")
    return pos == len(b)


class TLSCrypt:
    """tls-crypt's wrapping, under one of some candidate keys (each a key2: two keys of a 64-byte cipher part and a
    64-byte HMAC part, one per direction): tag = HMAC-SHA256(header + plaintext), ciphertext = AES-256-CTR under the
    tag's first 16 bytes. The candidate whose tag verifies is kept (`key2`)."""

    def __init__(self, candidates: list[bytes]) -> None:
        self.keys = [(key2[i:i + 32], key2[i + 64:i + 96], key2) for key2 in candidates for i in (0, 128)]
        self.of: dict[str, tuple[bytes, bytes, bytes]] = {}  # direction -> the key that opened its packets
        self.key2: bytes | None = None

    def open(self, direction: str, packet: bytes) -> bytes | None:
        """The plaintext after a packet's header (opcode, session id, packet id, time) and tag; None when the tag
        does not verify."""
        if len(packet) < 49:
            return None  # (cut short: no whole tag)
        header, tag, body = packet[:17], packet[17:49], packet[49:]
        known = self.of.get(direction)
        for key in ([known] if known else self.keys):
            decryptor = Cipher(algorithms.AES(key[0]), modes.CTR(tag[:16])).decryptor()
            plain = decryptor.update(body) + decryptor.finalize()
            if hmac.compare_digest(hmac.digest(key[1], header + plain, "sha256"), tag):
                self.of[direction], self.key2 = key, key[2]
                return plain
        return None


def dynamic_tls_crypt(payload) -> bool:
    """Is this control packet of an OpenVPN flow without a static key wrapped like tls-crypt (a packet id and a
    time after the session id): a renegotiation under OpenVPN 2.6's dynamic tls-crypt?"""
    return len(payload) >= 9 + 8 + 32 and _plausible_replay(payload, 9)


class OpenVPNConnection(TLSConnection):
    """The TLS session of one OpenVPN session's control channel; `datagram(direction, packet, ts)` takes its packets."""

    def __init__(self, flow: Flow, keys: KeyStore, out: list, max_handshake: int, layout: tuple[str, int],
                 carrier: str = "UDP", key_id: int = 0, tls_crypt: TLSCrypt | None = None) -> None:
        super().__init__(flow, keys, out, max_handshake)
        self.layout, self.hmac_size = layout
        self.tls_crypt = tls_crypt  # the key that opens a tls-crypt control channel, when it is known
        self.dynamic = layout[0] == "tls-crypt" and key_id > 0  # (a renegotiation's dynamic tls-crypt)
        self.unopened: set[str] = set()  # directions with a control packet the tls-crypt key did not open
        self.carrier = carrier
        self.key_id = key_id  # the key id whose TLS session this is: 0, or a renegotiation's
        self.next_pid = {CLIENT: 0, SERVER: 0}  # the next message packet id to hand on, per direction
        self.waiting: dict[str, dict[int, bytes]] = {CLIENT: {}, SERVER: {}}
        self.data_packets = {CLIENT: 0, SERVER: 0}
        self.control_packets = {CLIENT: 0, SERVER: 0}
        self.key_ids: set[int] = set()  # renegotiations: the key ids after 0
        self.framing: dict[str, bytes | None] = {CLIENT: b"", SERVER: b""}  # TCP: a packet's first bytes, so far
        self.ended = ""

    def data(self, direction: str, chunk: bytes, ts: float) -> None:
        """OpenVPN over TCP: the stream of a direction, each packet behind its two-byte length."""
        buf = self.framing[direction]
        if buf is None:
            return  # (the framing was lost in a gap)
        buf += chunk
        pos = 0
        while len(buf) - pos >= 2:
            n = int.from_bytes(buf[pos:pos + 2], "big")
            if len(buf) - pos - 2 < n:
                break
            self.datagram(direction, buf[pos + 2:pos + 2 + n], ts)
            pos += 2 + n
        self.framing[direction] = buf[pos:]

    def gap(self, direction: str, missing: int, ts: float) -> None:
        """Bytes lost from a TCP stream: where the next packet starts is unknown, so the direction is read no more."""
        self.framing[direction] = None
        self._anomaly(ts, "openvpn", "framing_lost", f"{missing} bytes of the {direction}'s OpenVPN stream are not in "
                                                     "the capture; its packets after them are not read", direction)
        TLSConnection.gap(self, direction, missing, ts)

    def datagram(self, direction: str, b, ts: float) -> None:
        if not len(b):
            return
        op, key_id = b[0] >> 3, b[0] & 7
        if op in _DATA:
            self.data_packets[direction] += 1
            return
        self.control_packets[direction] += 1
        if key_id != self.key_id:
            self.key_ids.add(key_id)
            return
        if op == P_ACK_V1:
            return
        p = 9 + (self.hmac_size + 8 if self.layout == "tls-auth" else 0)
        if self.layout == "tls-crypt":
            if self.tls_crypt is None and self.keys.openvpn_keys and not self.dynamic:
                self.tls_crypt = TLSCrypt(self.keys.openvpn_keys)  # (the static keys given: the one that opens)
            if self.tls_crypt is None:
                return
            plain = self.tls_crypt.open(direction, bytes(b))
            if plain is None:
                if direction not in self.unopened:  # (said once per direction)
                    self.unopened.add(direction)
                    self._anomaly(ts, "openvpn", "tls_crypt_tag_mismatch", f"a {direction} control packet does not "
                                                                           "open with the tls-crypt key", direction)
                return
            b, p = plain, 0
        if len(b) > p:  # the acknowledged packet ids, and the remote session id after them
            p += 1 + 4 * b[p] + (8 if b[p] else 0)
        if len(b) < p + 4:
            self._anomaly(ts, "openvpn", "truncated_packet", f"a control packet of {len(b)} bytes", direction)
            return
        pid = int.from_bytes(b[p:p + 4], "big")
        if op in (P_CONTROL_HARD_RESET_CLIENT_V2, P_CONTROL_HARD_RESET_SERVER_V2, P_CONTROL_HARD_RESET_CLIENT_V1,
                  P_CONTROL_HARD_RESET_SERVER_V1, P_CONTROL_SOFT_RESET_V1):
            self._reliable(direction, pid, b"", ts)  # (a reset takes the first packet id and carries no TLS)
        elif op == P_CONTROL_V1:
            self._reliable(direction, pid, bytes(b[p + 4:]), ts)

    def _reliable(self, direction: str, pid: int, payload: bytes, ts: float) -> None:
        """OpenVPN's reliability layer: payloads handed on in packet-id order, each once."""
        nxt = self.next_pid[direction]
        if pid < nxt:
            return  # a retransmission
        waiting = self.waiting[direction]
        waiting[pid] = payload
        nxt = self._hand_on(direction, nxt, ts)
        if len(waiting) > MAX_WAITING:  # a packet id that never comes: go on after it
            self._anomaly(ts, "openvpn", "control_packets_lost", f"{direction} control packet {nxt} is not in the "
                                                                  "capture; the TLS stream goes on after it", direction)
            TLSConnection.gap(self, direction, 1, ts)
            nxt = self._hand_on(direction, min(waiting), ts)
        self.next_pid[direction] = nxt

    def _hand_on(self, direction: str, nxt: int, ts: float) -> int:
        """The waiting payloads from packet id `nxt` on, as long as they follow each other, to the TLS stream; the
        next packet id to wait for."""
        waiting = self.waiting[direction]
        while nxt in waiting:
            data = waiting.pop(nxt)
            nxt += 1
            if data:
                TLSConnection.data(self, direction, data, ts)
        return nxt

    def renegotiation_keys(self) -> list[bytes]:
        """The candidate keys that wrap the renegotiations' control channels (OpenVPN 2.6's dynamic tls-crypt): the
        one a renegotiation already opened with; else the key this first TLS session exports, XORed with the static
        tls-auth or tls-crypt key when there is one (each given key is a candidate). [] when unknown."""
        if self.dynamic:
            return [self.tls_crypt.key2] if self.tls_crypt is not None and self.tls_crypt.key2 else []
        exported = self.export_keying_material(DYNAMIC_TLS_CRYPT_LABEL, 256)
        if exported is None:
            return []
        if self.layout == "plain":
            return [exported]
        statics = [self.tls_crypt.key2] if self.tls_crypt is not None and self.tls_crypt.key2 else self.keys.openvpn_keys
        return [bytes(a ^ b for a, b in zip(exported, key)) for key in statics]

    def close(self, ts: float) -> None:
        if self.layout == "tls-crypt" and self.tls_crypt is None:
            self._set_status(NO_KEY, "the control channel of this renegotiation is wrapped with a key exported from the "
                                     "first TLS session (OpenVPN's dynamic tls-crypt), which was not decrypted"
                             if self.dynamic else "the control channel is encrypted with tls-crypt's static key: give "
                                                  "the key file (--key ta.key) to read the TLS handshake inside it")
        elif self.layout == "tls-crypt" and self.tls_crypt.key2 is None:
            self._set_status(NO_KEY, "no key given opens the tls-crypt control channel (its tags do not verify)")
        super().close(ts)
        protection = {"plain": "none", "tls-auth": f"tls-auth (a {self.hmac_size}-byte HMAC)",
                      "tls-crypt": "dynamic tls-crypt (a key exported from the first TLS session)" if self.dynamic
                      else "tls-crypt (encrypted with a static key)"}[self.layout]
        self.out.append(TransportInfo(ts, self.flow, "openvpn", {
            "transport": self.carrier, "control_channel": protection, "key_id": self.key_id,
            "control_packets": dict(self.control_packets), "data_packets": dict(self.data_packets),
            "other_key_ids": sorted(self.key_ids)}))
