"""TLS carried in EAP (802.1X): EAP-TLS (RFC 5216, 9190), PEAP, EAP-TTLS (RFC 5281), EAP-FAST (RFC 4851), TEAP
(RFC 7170), between a supplicant (the TLS client) and an EAP server (the TLS server).

Two carriers: EAPOL frames on Ethernet (type 0x888E: the supplicant and the authenticator), and RADIUS over UDP
(ports 1812, 1645: the authenticator relays each EAP packet to the RADIUS server in EAP-Message attributes, RFC 3579).
`EAPRouter.route` turns one frame or datagram into the conversation it belongs to and its EAP packet; RADIUS carries
the conversations of many supplicants between one authenticator (NAS) and one server, told apart by the supplicant's
Calling-Station-Id, and a server's answer is matched to the request it answers by the RADIUS Identifier.

`EAPConnection(TLSConnection)` reads the EAP packets of one conversation: the TLS bytes of the TLS-based methods go to
the TLS state machine as a byte stream per direction (EAP fragments, the L/M flags, need no reassembly of their own:
the record layer reassembles records across them), so every handshake message is labelled and, with the server's
RSA key or a key log, decrypted (PEAP and TTLS carry their inner authentication as application data). EAP
retransmissions (the same packet again) are skipped; EAP-Success or EAP-Failure ends the conversation, and the
session's `eap` section (a TransportInfo event) says what EAP said besides TLS.
"""
from __future__ import annotations

from dissector.events import Flow, SessionStart, TransportInfo
from dissector.tls.connection import TLSConnection
from dissector.tls.keystore import KeyStore

TLS_METHODS = {13: "EAP-TLS", 21: "EAP-TTLS", 25: "PEAP", 43: "EAP-FAST", 55: "TEAP"}
OTHER_METHODS = {4: "EAP-MD5", 6: "EAP-GTC", 17: "LEAP", 18: "EAP-SIM", 23: "EAP-AKA", 26: "EAP-MSCHAPv2",
                 47: "EAP-PSK", 50: "EAP-AKA'", 52: "EAP-PWD"}
_EAP_REQUEST, _EAP_RESPONSE, _EAP_SUCCESS, _EAP_FAILURE = 1, 2, 3, 4
_MAX_PENDING = 4096  # RADIUS requests waiting for their answer (the oldest is forgotten first)


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


class EAPRouter:
    """Which EAP conversation a frame belongs to, who sent it, and its EAP packet.

    EAPOL: a conversation is known by its authenticator's MAC address. Both ends may send to the PAE group address
    (01:80:c2:00:00:03: an 802.1X link is point to point), so a frame names only its sender: a supplicant's frame to
    a group address belongs to the authenticator it last talked to, or to the last one heard."""

    def __init__(self) -> None:
        # (server ip, server port, NAS ip, NAS port, RADIUS identifier) -> conversation key, for the server's answer
        self.pending: dict[tuple, tuple] = {}
        self.authenticator_of: dict[bytes, bytes] = {}  # supplicant MAC -> the authenticator it talks to
        self.last_authenticator = b""

    def eapol(self, src: bytes, dst: bytes, frame) -> tuple[tuple, bool, bytes, str] | None:
        """An EAPOL frame: (conversation key, sent by the supplicant?, EAP packet (b"" for EAPOL-Start/Logoff),
        the supplicant's MAC address as text or ""), or None for frames that carry nothing of a conversation
        (EAPOL-Key, announcements)."""
        if len(frame) < 4:
            return None
        kind, length = frame[1], int.from_bytes(frame[2:4], "big")
        if kind == 0 and length >= 4 and len(frame) >= 8:
            eap = bytes(frame[4:4 + length])
            from_client = eap[0] == _EAP_RESPONSE
        elif kind in (1, 2):  # EAPOL-Start, EAPOL-Logoff: from the supplicant
            eap, from_client = b"", True
        else:
            return None
        group = dst[0] & 1
        if from_client:
            client, server = src, (self.authenticator_of.get(src) or self.last_authenticator) if group else dst
        else:
            client, server = (b"" if group else dst), src
            self.last_authenticator = src
        if client and server and self.authenticator_of.get(client) != server:
            if len(self.authenticator_of) >= _MAX_PENDING:
                del self.authenticator_of[next(iter(self.authenticator_of))]
            self.authenticator_of[client] = server
        return ("eapol", server or client), from_client, eap, mac_text(client) if client else ""

    def radius(self, src: bytes, sport: int, dst: bytes, dport: int, packet) -> tuple[tuple, bool, bytes, str] | None:
        """A RADIUS packet: (conversation key, sent on the supplicant's behalf?, the EAP packet its EAP-Message
        attributes carry, the Calling-Station-Id or ""), or None when it carries no EAP or answers no request seen."""
        if len(packet) < 20:
            return None
        code, ident, length = packet[0], packet[1], int.from_bytes(packet[2:4], "big")
        eap, station, pos, end = bytearray(), "", 20, min(length, len(packet))
        while pos + 2 <= end:
            atype, alen = packet[pos], packet[pos + 1]
            if alen < 2:
                break
            if atype == 79:  # EAP-Message: one EAP packet, cut into attributes of at most 253 bytes
                eap += packet[pos + 2:pos + alen]
            elif atype == 31:  # Calling-Station-Id: the supplicant (its MAC address, as text)
                station = bytes(packet[pos + 2:pos + alen]).decode("utf-8", "replace")
            pos += alen
        if code == 1:  # Access-Request: from the authenticator (NAS), on the supplicant's behalf
            key = ("radius", src, sport, dst, dport, station)
            if len(self.pending) >= _MAX_PENDING:
                del self.pending[next(iter(self.pending))]
            self.pending[(dst, dport, src, sport, ident)] = key
            return (key, True, bytes(eap), "") if eap else None
        key = self.pending.pop((src, sport, dst, dport, ident), None)
        if key is None or not eap:
            return None
        return key, False, bytes(eap), ""


class EAPConnection(TLSConnection):
    """The TLS session inside one EAP conversation; `datagram(direction, eap_packet, ts)` takes its EAP packets."""

    def __init__(self, flow: Flow, keys: KeyStore, out: list, max_handshake: int, carrier: str,
                 authenticator: str = "") -> None:
        super().__init__(flow, keys, out, max_handshake)
        self.carrier = carrier  # "EAPOL" or "RADIUS"
        self.authenticator = authenticator  # RADIUS: the NAS that relays the conversation
        self.method = ""
        self.identity: str | None = None
        self.offered: list[str] = []  # the methods a supplicant's Nak asked for instead
        self.outcome = ""
        self.started = False  # a TLS-based method began: the conversation is a TLS session
        self.last: dict[str, tuple[int, bytes]] = {}  # direction -> (EAP identifier, packet) last read
        self.ended = ""  # (stays so: the pipeline ends an EAP conversation, from the packet, in every shard)

    def datagram(self, direction: str, eap: bytes, ts: float) -> None:
        if not eap:  # EAPOL-Start or -Logoff
            return
        if len(eap) < 4:
            self._anomaly(ts, "eap", "truncated_eap_packet", f"{len(eap)} bytes", direction)
            return
        code, ident, length = eap[0], eap[1], int.from_bytes(eap[2:4], "big")
        if length < 4 or length > len(eap):
            self._anomaly(ts, "eap", "bad_eap_length", f"EAP length {length}, {len(eap)} bytes carried", direction)
            return
        eap = eap[:length]
        if code in (_EAP_SUCCESS, _EAP_FAILURE):  # (the pipeline ends the conversation)
            self.outcome = "Success" if code == _EAP_SUCCESS else "Failure"
            return
        if code not in (_EAP_REQUEST, _EAP_RESPONSE) or length < 5:
            return
        etype = eap[4]
        if etype == 1:  # Identity
            if code == _EAP_RESPONSE:
                self.identity = eap[5:].decode("utf-8", "replace")
            return
        if etype == 3 and code == _EAP_RESPONSE:  # Nak: the supplicant wants another method
            self.offered = [TLS_METHODS.get(t) or OTHER_METHODS.get(t) or f"type {t}" for t in eap[5:]]
            return
        if etype not in TLS_METHODS:
            if not self.method:
                self.method = OTHER_METHODS.get(etype, f"EAP type {etype}")
            return
        if self.last.get(direction) == (ident, eap):  # a retransmission: read once
            return
        self.last[direction] = (ident, eap)
        self.method = TLS_METHODS[etype]
        if not self.started:
            self.started = True
            self.out.append(SessionStart(ts, self.flow))
        self._tls_data(direction, etype, eap, ts)

    def _tls_data(self, direction: str, etype: int, eap: bytes, ts: float) -> None:
        """The TLS bytes of one packet of a TLS-based method: after the flags (L: the TLS message's length follows;
        TEAP's O: the length of outer TLVs that follow the TLS data), to the TLS record stream."""
        if len(eap) < 6:
            return  # (an empty acknowledgement has its flags byte; nothing shorter is valid)
        flags, pos, end = eap[5], 6, len(eap)
        if flags & 0x80:
            pos += 4
        if etype == 55 and flags & 0x10:
            end -= int.from_bytes(eap[pos:pos + 4], "big")
            pos += 4
        if pos < end:
            self.data(direction, eap[pos:end], ts)

    def close(self, ts: float) -> None:
        if self.started:  # (a conversation of another method is no TLS session: nothing to say of it)
            super().close(ts)
            info = {"carrier": self.carrier, "method": self.method, "identity": self.identity,
                    "outcome": self.outcome or None}
            if self.authenticator:
                info["authenticator"] = self.authenticator
            if self.offered:
                info["offered"] = self.offered
            self.out.append(TransportInfo(ts, self.flow, "eap", info))
