"""The per-flow TLS state machine: records in, labelled messages, decrypted data and a status out.

`TLSConnection.data(direction, bytes, ts)` takes one direction's reassembled TCP bytes. Records are
framed by `records.RecordReader`, decrypted when keys are known, and handshake messages are
reassembled across records and parsed. Everything it learns goes out as events (appended to the
list passed in): `TLSMessage`, `AppData`, `SessionInfo`, `Decryption`, `Anomaly`.

Keys: TLS <= 1.2 derives the master secret at the first ChangeCipherSpec of each handshake, from a
key log line, the session cache (resumption), an RSA private key or a PSK. TLS 1.3 takes the traffic
secrets from the key log. The Finished messages are verified against the transcript, so wrong keys
are never reported as a decryption.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from dissector.errors import DecryptError, MalformedInput
from dissector.events import CLIENT, SERVER, Anomaly, AppData, Decryption, EarlyData, Flow, SessionInfo, TLSMessage
from dissector.tls import handshake as hs
from dissector.tls import prf, schedule13
from dissector.tls.constants import (
    ALERT_DESCRIPTIONS,
    ALERT_LEVELS,
    HANDSHAKE_TYPES,
    HRR_RANDOM,
    name_of,
    version_name,
)
from dissector.tls.keystore import KeyStore
from dissector.tls.protection import UnverifiedNullProtection, make_protection
from dissector.tls.records import SSL2_CLIENT_HELLO, RecordReader
from dissector.tls.suites import SUITES, Suite, can_decrypt

if TYPE_CHECKING:
    from dissector.tls import ech  # imported where ECH is met: HPKE's key types cost every run a little

MAX_HANDSHAKE_MESSAGE = 1 << 16  # bytes; a bigger message is reported, not buffered (config)
_HS_HDR = struct.Struct("!BBH")

# decryption status values (the JSON contract)
DECRYPTED, NO_KEY, FAILED, NOT_ENCRYPTED = "decrypted", "no-key", "failed", "not-encrypted"
APP_ONLY = ("the key log has this session's application traffic secrets but not its handshake ones "
            "(*_HANDSHAKE_TRAFFIC_SECRET): no record has decrypted with them yet")
APP_ONLY_DECRYPTED = ("application data only{}: the key log has no handshake traffic secrets "
                      "(*_HANDSHAKE_TRAFFIC_SECRET) for this session, so its encrypted handshake messages "
                      "(certificate, Finished) stay encrypted and unverified")
ECH_INNER = ("the key log names this session by another client random ({}...), found by trying its entries: "
             "the server accepted Encrypted Client Hello, and that is the random of the inner ClientHello, which "
             "stays encrypted; the Finished messages are not checked (their transcript holds it)")
NO_SERVER_HELLO = ("the ServerHello is not in the capture: the cipher suite ({}) was found by trying the ClientHello's "
                   "TLS 1.3 suites on the client's first encrypted record; the Finished messages are not checked (their "
                   "transcript holds the server's messages)")
NO_HELLO = ("the ClientHello is not in the capture: its client random ({}...) was found by trying the key log's entries "
            "on the first encrypted record; the Finished messages are not checked (their transcript starts with the "
            "ClientHello)")
PSK_WITH_DHE = ("the server took a pre-shared key together with an (EC)DHE exchange (psk_dhe_ke): the PSK (--psk) "
                "alone cannot decrypt it, a key log (--keylog) is needed")
PSK_NO_MATCH = ("none of the pre-shared keys given (--psk) fits the ClientHello's binder for the identity the server "
                "took ({}): the PSK is another one")
MAX_EARLY_HELD = 1 << 20  # bytes of 0-RTT data held until the handshake says whether the server took it
MAX_APP_ONLY_TRIALS = 16  # more encrypted records than a TLS 1.3 handshake has: the secret does not fit


class Direction:
    """Record-layer state of one direction."""

    __slots__ = ("reader", "hs_buf", "protection", "seq", "encrypted", "pending", "undecryptable",
                 "secret", "early", "next13", "app_only", "records", "decrypted_records", "lost_records", "missing")

    def __init__(self, allow_ssl2: bool) -> None:
        self.reader = RecordReader(allow_ssl2)
        self.hs_buf = bytearray()
        self.protection: Any = None  # current record decryptor
        self.seq = 0
        self.encrypted = False  # records on the wire are protected
        self.pending: Any = None  # TLS <= 1.2: decryptor to switch to at this side's ChangeCipherSpec
        self.undecryptable = False  # keys failed: stop trying, report records as encrypted
        self.secret: bytes | None = None  # TLS 1.3: current traffic secret (for KeyUpdate)
        self.early = False  # TLS 1.3 client: 0-RTT records may come now
        self.next13: tuple[Any, bytes] | None = None  # TLS 1.3 client: handshake keys to try after early data
        # TLS 1.3 with only the application traffic secret in the key log: next13 holds its keys, and records
        # that fail them are the encrypted handshake (not a failure) until the first one that decrypts;
        # app_only counts those records
        self.app_only = 0
        self.records = 0
        self.decrypted_records = 0
        self.lost_records = 0  # after a capture gap: how many sequence numbers to try ahead
        self.missing = 0  # bytes of this direction's stream missing from the capture (TCP gaps)


class TLSConnection:
    # handshake type -> the method that updates the state, by name: a subclass overrides a method, not the table
    HANDLERS = {1: "_on_client_hello", 2: "_on_server_hello", 4: "_on_new_session_ticket", 5: "_on_end_of_early_data",
                8: "_on_encrypted_extensions", 11: "_on_certificate", 13: "_on_certificate_request",
                16: "_on_client_key_exchange", 20: "_on_finished", 24: "_on_key_update",
                25: "_on_compressed_certificate"}
    dtls = False  # DTLSConnection (dtls.py) reads datagrams of DTLS records
    tracks_early_data = True  # the session says what became of 0-RTT data (DTLS 1.3's is not followed)

    def __init__(self, flow: Flow, keys: KeyStore, out: list, max_handshake: int = MAX_HANDSHAKE_MESSAGE) -> None:
        self.flow = flow
        self.keys = keys
        self.out = out
        self.max_handshake = max_handshake
        self.sides = {CLIENT: Direction(True), SERVER: Direction(False)}
        self.ctx = hs.Context()
        self.suite: Suite | None = None
        self.version: int | None = None  # negotiated
        self.client_version = 0  # ClientHello.legacy_version (RSA pre-master check)
        self.client_random = b""
        self.server_random = b""
        self.ch_session_id = b""
        self.session_id = b""
        self.offered_ticket = b""
        self.offered_early_data = False
        # TLS 1.3 0-RTT: "" (none offered), "pending" until the handshake says what the server made of it, then
        # "accepted" or "rejected" (see _early_decided); the client's early application records wait meanwhile
        self.early_data = ""
        self.early_held: list[AppData] = []
        self.early_bytes = 0  # of early_held
        self.offered_ech = False  # the ClientHello carries encrypted_client_hello (real or GREASE)
        self.app_only_detail = ""  # the status detail once application data decrypts without handshake keys
        # TLS 1.3 secrets are looked up by this random: the ClientHello's, or, when the server accepted Encrypted
        # Client Hello, the encrypted inner ClientHello's, found by trying the key log's entries (key_search); so
        # is the random of a session whose ClientHello is not in the capture (hello_missing)
        self.key_random = b""
        self.key_search = False
        self.ech_inner = False
        self.hello_missing = False
        self.suite_tried = False  # (the search of _search_suite is made once)
        # the inner ClientHello opened with an ECH key (see _open_ech), until the ServerHello says whether the
        # server took it; then what the session says about ECH (SessionInfo.ech)
        self.ech: ech.InnerHelloState | None = None
        self.message: TLSMessage | None = None  # the handshake message being handled (its event, already emitted)
        self.ech_info: dict[str, Any] | None = None
        self.heartbeat_owed: dict[str, int] | None = None  # bytes of an overlong heartbeat answer still to come
        # TLS 1.3 with a PSK given (--psk) and no (EC)DHE: the key schedule it starts (application secrets come at
        # the server Finished), or why the PSK could not serve
        self.psk_schedule: schedule13.KeySchedule | None = None
        self.psk_secrets: dict[str, bytes] | None = None  # the TLS 1.3 secrets it gave, by key log label
        self.psk_reason = ""
        self.psk_others: list[bytes] = []  # TLS 1.2: PSKs given for no identity, to try if the first does not fit
        self.client_done = False  # TLS 1.3: the client's Finished (or its first application record) went by
        self.handshake_messages = 0  # TLS 1.3: transcript entries up to the client's Finished (post-handshake auth)
        self.post_auths = 0  # TLS 1.3 post-handshake authentications (client Finished after the handshake)
        self.ems = False
        self.ems_upto: int | None = None  # transcript entries the extended master secret covers
        self.etm = False
        self.resumed = False
        self.sni: str | None = None
        self.alpn: str | None = None
        self.server_cert_der: bytes | None = None
        self.encrypted_pms: bytes | None = None
        self.psk_identity: str | None = None
        self.master: bytes | None = None
        self.transcript: list[bytes] = []
        self.handshakes = 0
        self.status: str | None = None
        self.detail = ""
        self.status_sent: tuple[str, str] | None = None
        self.saw_encrypted = False
        self.saw_client_hello = False
        self.finished_verified = 0
        self.hash13 = "sha256"
        self._pending_ticket = b""
        self.early_skipped = False
        self.snapped = False  # the capture cut packets of this connection short (set by the pipeline)
        self.transcript_gap = False  # bytes went missing since the handshake began: its transcript may lack messages

    # ------------------------------------------------------------------ input
    def data(self, direction: str, data: bytes, ts: float) -> None:
        side = self.sides[direction]
        reader = side.reader
        records = reader.whole(data)
        if records is None:
            reader.feed(data)
        else:
            for ctype, version, body in records:
                side.records += 1
                try:
                    self._record(direction, side, ctype, version, body, ts)
                except MalformedInput as exc:  # this record is malformed: the next ones are still read
                    self._anomaly(ts, exc.layer, exc.name, exc.reason, direction)
            if reader.buffered() < 5:
                return
        while True:
            try:
                for ctype, version, body in side.reader.records():
                    side.records += 1
                    self._record(direction, side, ctype, version, body, ts)
                return
            except MalformedInput as exc:
                self._anomaly(ts, exc.layer, exc.name, exc.reason, direction)

    def gap(self, direction: str, missing: int, ts: float) -> None:
        side = self.sides[direction]
        side.reader.gap()
        side.hs_buf.clear()
        side.missing += missing
        self.transcript_gap = True
        if side.protection is None or self.suite is None:
            return
        chained = self.suite.mode == "stream" or (self.suite.mode == "cbc" and (self.version or 0) <= 0x0301)
        if chained and not self.ctx.tls13:
            # an RC4 keystream and TLS 1.0 CBC chaining cannot continue across lost bytes
            side.protection = None
            side.undecryptable = True
            self._set_status(FAILED, f"{missing} bytes of the {direction}'s stream are missing from the capture; "
                                     f"decryption stops there (the part before the gap was decrypted){self._why_missing()}")
        else:
            # the sequence number of the next record we see is unknown: each lost record needs 5+ bytes
            side.lost_records = min(4096, 1 + missing // 5)

    def close(self, ts: float) -> None:
        """End of flow: emit the final decryption status."""
        if self.early_data == "pending":
            self._early_decided("unknown", "the handshake that would tell is not in the capture, or stayed encrypted",
                                ts)
        if self.status is None:
            if any(s.decrypted_records for s in self.sides.values()):
                self._set_status(DECRYPTED, "")
            elif self.saw_encrypted:
                self._set_status(NO_KEY, self._no_key_reason())
            elif self.saw_client_hello:
                self._set_status(NOT_ENCRYPTED, "no encrypted records in the capture")
        self._emit_status(ts)

    # ------------------------------------------------------------------ records
    def _record(self, direction: str, side: Direction, ctype: int, version: int, body: bytes, ts: float) -> None:
        if ctype == SSL2_CLIENT_HELLO:
            self._ssl2_client_hello(body, ts)
            return
        tls13 = self.ctx.tls13 or side.early
        encrypted = side.encrypted and not (tls13 and ctype != 23)  # (a TLS 1.3 record of another type is in the clear)
        if encrypted:
            self.saw_encrypted = True
            if side.protection is None and side.next13 is None:
                if not (self.key_search and tls13 and direction == SERVER
                        and self._search_key_random(ctype, version, body, ts)) \
                        and not (direction == CLIENT and self.suite is None and not self.suite_tried
                                 and self._search_suite(ctype, version, body, ts)) \
                        and not (self.key_search and not tls13 and self._search_master(direction, ctype, version, body,
                                                                                      ts)):
                    self._undecrypted(direction, side, ctype, len(body), ts)
                    return
            plain = self._decrypt(direction, side, ctype, version, body, ts)
            if plain is None:
                return
            ctype, body = plain
        if ctype == 22:
            self._handshake_bytes(direction, side, body, ts, encrypted)
        elif ctype == 23:
            if self.early_data and side.early and direction == CLIENT:
                self._early_record(AppData(ts, self.flow, direction, len(body), body))
            else:
                self.out.append(AppData(ts, self.flow, direction, len(body), body))
        elif ctype == 20:
            self.out.append(TLSMessage(ts, self.flow, direction, "ChangeCipherSpec", False, len(body)))
            if not tls13:
                self._change_cipher_spec(direction, side, ts)
        elif ctype == 21:
            self._alerts(direction, body, ts, encrypted)
        elif ctype == 24:
            self._heartbeat(direction, body, ts, encrypted)

    def _heartbeat(self, direction: str, body: bytes, ts: float, encrypted: bool) -> None:
        """A heartbeat record's plaintext (RFC 6520): its fields, a leaking answer's continuation records told apart."""
        owed = self.heartbeat_owed
        info, left = hs.parse_heartbeat(body, owed.get(direction, 0) if owed else 0)
        if left or owed:
            if owed is None:
                owed = self.heartbeat_owed = {}
            owed[direction] = left
        self.out.append(TLSMessage(ts, self.flow, direction, "Heartbeat", encrypted, len(body), _info=info))

    def _undecrypted(self, direction: str, side: Direction, ctype: int, length: int, ts: float) -> None:
        if ctype == 22:
            self.out.append(TLSMessage(ts, self.flow, direction, "EncryptedHandshakeMessage", True, length))
        elif ctype == 21:
            self.out.append(TLSMessage(ts, self.flow, direction, "Alert", True, length, _info={"encrypted": True}))
        elif ctype == 20:
            self.out.append(TLSMessage(ts, self.flow, direction, "ChangeCipherSpec", False, length))
        elif ctype == 24:  # its type and lengths are encrypted: only the record's length is known
            self.out.append(TLSMessage(ts, self.flow, direction, "Heartbeat", True, length,
                                       _info={"length": length, "encrypted": True}))
        else:
            self.out.append(AppData(ts, self.flow, direction, length, None))

    def _decrypt(self, direction: str, side: Direction, ctype: int, version: int, body: bytes,
                 ts: float) -> tuple[int, bytes] | None:
        if side.protection is not None:
            try:
                result = side.protection.decrypt(side.seq, ctype, version, body)
                side.seq += 1
                side.decrypted_records += 1
                return result
            except DecryptError as exc:
                err = str(exc)
                if self.psk_others and side.seq == 0 and not side.decrypted_records:
                    result = self._try_other_psks(direction, ctype, version, body)
                    if result is not None:
                        return result
                if side.lost_records:
                    result = self._resync_after_gap(direction, side, ctype, version, body, ts)
                    if result is not None:
                        return result
        else:
            err = "no early-data key"
        if side.next13 is not None:  # TLS 1.3 client after 0-RTT: is this the first handshake-key record?
            prot, secret = side.next13
            try:
                result = prot.decrypt(0, ctype, version, body)
            except DecryptError:
                result = None
            if result is not None:
                if self.early_data == "pending" and direction == CLIENT:
                    self._early_decided("rejected", "the client went on to its handshake keys without EndOfEarlyData: "
                                                    "the server did not take the 0-RTT data", ts)
                side.protection, side.secret, side.next13, side.seq, side.early = prot, secret, None, 1, False
                side.decrypted_records += 1
                if side.app_only:
                    side.app_only = 0
                    self.client_done = self.client_done or direction == CLIENT
                    self._set_status(DECRYPTED, self.app_only_detail)
                return result
            if side.app_only:  # still the encrypted handshake, unless there are more records than it has, or
                side.app_only += 1  # the server's flight is over (the client has finished its handshake)
                if side.app_only <= MAX_APP_ONLY_TRIALS and not (direction == SERVER and self.client_done):
                    self._undecrypted(direction, side, 22, len(body), ts)
                    return None
                side.next13, side.app_only = None, 0
                err = "the application traffic secret does not decrypt the records after the handshake"
        if side.early:  # 0-RTT data we have no key for (or the server rejected): skip it, not a failure
            side.seq += 1 if side.protection is not None else 0
            self.early_skipped = True  # EndOfEarlyData may be among them: the transcript is incomplete
            ev = AppData(ts, self.flow, direction, len(body), None)
            if self.early_data and direction == CLIENT:
                self._early_record(ev)
            else:
                self.out.append(ev)
            return None
        side.protection = None
        side.undecryptable = True
        self._set_status(FAILED, self._failure_reason(direction, side, err))
        self._undecrypted(direction, side, ctype, len(body), ts)
        return None

    def _failure_reason(self, direction: str, side: Direction, err: str) -> str:
        """Why a record did not decrypt: wrong key material, unless bytes went missing before it (a record cut by a
        gap, a false record header found after one) while other records decrypted, which shows the keys right."""
        decrypted = sum(s.decrypted_records for s in self.sides.values())
        if side.missing and decrypted:
            return (f"a {direction} record failed to decrypt ({err}) after {side.missing} bytes of the {direction}'s "
                    f"stream went missing from the capture; decryption of that side stops there (the key material is "
                    f"right: {decrypted} records decrypted){self._why_missing()}")
        if side.missing:
            return (f"a {direction} record failed to decrypt ({err}) after {side.missing} bytes of the {direction}'s "
                    f"stream went missing from the capture: either the key material does not match this session or "
                    f"the gap broke the record stream{self._why_missing()}")
        return f"a {direction} record failed to decrypt ({err}): the key material does not match this session"

    def _why_missing(self) -> str:
        if not self.snapped:
            return ""
        return ("; the capture cut packets short (its snapshot length): capture again without a size limit "
                "(tcpdump -s 0)")

    def _resync_after_gap(self, direction: str, side: Direction, ctype: int, version: int, body: bytes,
                          ts: float) -> tuple[int, bytes] | None:
        """After lost bytes, find how many records were lost by trying the next sequence numbers."""
        limit, side.lost_records = side.lost_records, 0
        for skipped in range(1, limit + 1):
            try:
                result = side.protection.decrypt(side.seq + skipped, ctype, version, body)
            except DecryptError:
                continue
            side.seq += skipped + 1
            side.decrypted_records += 1
            self._anomaly(ts, "tls", "records_lost", f"{skipped} {direction} record(s) lost in a capture gap; "
                          "decryption resumed after them", direction)
            return result
        return None

    def _alerts(self, direction: str, body: bytes, ts: float, encrypted: bool) -> None:
        if len(body) < 2:
            self._anomaly(ts, "tls", "truncated_alert", f"{len(body)} bytes", direction)
            return
        if not encrypted and len(body) != 2:
            # not a 2-byte alert: an encrypted one whose ChangeCipherSpec the capture lost (as Wireshark reads it)
            self.saw_encrypted = True
            self._undecrypted(direction, self.sides[direction], 21, len(body), ts)
            return
        for i in range(0, len(body) - 1, 2):
            info = {"level": name_of(ALERT_LEVELS, body[i]), "description": name_of(ALERT_DESCRIPTIONS, body[i + 1])}
            self.out.append(TLSMessage(ts, self.flow, direction, "Alert", encrypted, 2, _info=info))

    # ------------------------------------------------------------------ handshake
    def _handshake_bytes(self, direction: str, side: Direction, body: bytes, ts: float, encrypted: bool) -> None:
        buf = side.hs_buf
        buf += body
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            mtype, hi, lo = _HS_HDR.unpack_from(buf, pos)
            length = (hi << 16) | lo
            if length > self.max_handshake:
                self._anomaly(ts, "tls", "handshake_message_too_large",
                              f"{name_of(HANDSHAKE_TYPES, mtype)} claims {length} bytes", direction)
                buf.clear()
                return
            if n - pos < 4 + length:
                break
            raw = bytes(buf[pos:pos + 4 + length])
            pos += 4 + length
            self._message(direction, side, mtype, raw, ts, encrypted)
        del buf[:pos]

    def _message(self, direction: str, side: Direction, mtype: int, raw: bytes, ts: float, encrypted: bool) -> None:
        body = raw[4:]
        name = HANDSHAKE_TYPES.get(mtype) or name_of(HANDSHAKE_TYPES, mtype)
        essentials: object = None
        try:
            if mtype == 1:
                essentials = hs.client_hello_essentials(body, self.dtls)
            elif mtype == 2:
                essentials = hs.server_hello_essentials(body)
                if essentials.hrr:
                    name = "HelloRetryRequest"
        except MalformedInput as exc:
            self._anomaly(ts, "tls", f"malformed_{name.lower()}", exc.reason, direction)
            self.out.append(TLSMessage(ts, self.flow, direction, name, encrypted, len(raw), mtype, body, self.ctx))
            return
        self.message = TLSMessage(ts, self.flow, direction, name, encrypted, len(raw), mtype, body, self.ctx)
        self.out.append(self.message)
        handler = self.HANDLERS.get(mtype)
        if handler is not None:
            try:
                getattr(self, handler)(direction, side, essentials, raw, ts)
            except MalformedInput as exc:
                self._anomaly(ts, "tls", f"malformed_{name.lower()}", exc.reason, direction)
        elif mtype != 0 and not (self.ctx.tls13 and mtype in (4, 24)):
            self._hashed(raw)

    def _ssl2_client_hello(self, body: bytes, ts: float) -> None:
        try:
            info = hs.parse_ssl2_client_hello(body)
        except MalformedInput as exc:
            self._anomaly(ts, exc.layer, exc.name, exc.reason, CLIENT)
            return
        self.out.append(TLSMessage(ts, self.flow, CLIENT, "ClientHello", False, len(body), _info=info))
        h = hs.Hello()
        h.version, h.random, h.session_id = info["version_id"], bytes.fromhex(info["random"]), b""
        self._on_client_hello(CLIENT, self.sides[CLIENT], h, b"", ts)
        self.transcript = [body]  # the SSLv2 message (without record header) starts the handshake hash

    def _on_client_hello(self, direction: str, side: Direction, h: hs.Hello, raw: bytes, ts: float) -> None:
        self.saw_client_hello = True
        if h.version and not self.ctx.tls13:
            self.client_version = h.version
        if self.ctx.tls13 and self.handshakes:  # the second ClientHello after a HelloRetryRequest
            self._hashed(raw)
            if self.ech is not None:
                self._open_second_inner(raw, ts)
            return
        self.handshakes += 1
        if self.handshakes > 1:  # renegotiation: a new handshake under the current keys
            self.master = self.server_cert_der = self.encrypted_pms = None
            self.resumed = False
            self._pending_ticket = b""
        self.client_random = self.key_random = bytes(h.random)
        self.key_search = self.ech_inner = False
        self.ech = self.ech_info = None
        if len(self.keys.seen_randoms) < self.keys.max_cached:
            self.keys.seen_randoms.add(self.client_random)
        self.ch_session_id = bytes(h.session_id)
        self.offered_ticket = h.ticket
        self.offered_early_data = 42 in h.ext_types
        self.offered_ech = 0xFE0D in h.ext_types
        if self.handshakes == 1:
            self.sni = h.sni
        self.transcript = []
        self.transcript_gap = False
        if raw:
            self._hashed(raw)
            if self.offered_ech and (self.keys.ech_keys or len(self.keys.keylog)):
                self._open_ech(raw, ts)
        if self.offered_early_data and h.supported_versions:  # TLS 1.3 0-RTT: early data may follow right away
            secret = self.keys.keylog.get("CLIENT_EARLY_TRAFFIC_SECRET", self.client_random)
            self.early_data = "pending" if self.tracks_early_data else ""
            side.early = True
            side.encrypted = True
            if secret is not None:
                suite = SUITES.get(_first_tls13_suite(h.suite_ids()))
                if suite is not None:
                    side.protection = self._protection13(suite, secret)
                    side.secret = secret
                    side.seq = 0

    def _on_server_hello(self, direction: str, side: Direction, h: hs.Hello, raw: bytes, ts: float) -> None:
        self._hashed(raw)
        version = h.selected_version or h.version
        self.version = version
        draft = version & 0xFF if version >> 8 == 0x7F else None
        tls13 = version in (0x0304, 0xFEFC) or draft is not None  # TLS 1.3, DTLS 1.3, TLS 1.3 drafts
        self.suite = SUITES.get(h.suite)
        ctx = hs.Context()  # a new object: messages already emitted keep the context they were parsed in
        ctx.version, ctx.tls13, ctx.draft, ctx.kx = version, tls13, draft, self.suite.kx if self.suite else None
        self.ctx = ctx
        self.server_random = bytes(h.random)
        self.session_id = bytes(h.session_id)
        exts = h.ext_types
        self.ems = 23 in exts
        self.etm = 22 in exts
        if h.alpn:
            self.alpn = h.alpn[0]
        if h.hrr:
            if self.early_data == "pending":
                self._early_decided("rejected", "the server answered with a HelloRetryRequest, which rejects early data "
                                                "(RFC 8446 4.1.2)", ts)
            # RFC 8446 4.4.1: ClientHello1 is replaced by message_hash(Hash(ClientHello1))
            if tls13 and self.suite:
                self.hash13 = self.suite.prf_hash
                self.transcript = [schedule13.message_hash(self.hash13, self.transcript[0]), raw]
                if self.ech is not None:
                    self._ech_retry_request(raw)
            self._session_info(ts)
            return
        if tls13:  # PSK resumption: the server selected one of the offered identities
            self.resumed = 41 in exts
        else:
            self.resumed = bool(self.session_id) and self.session_id == self.ch_session_id
        if tls13:
            if self.ech is not None and self.suite is not None:
                self._ech_server_hello(raw)
            self._tls13_handshake_keys(ts)
        self._session_info(ts)

    def _early_record(self, ev: AppData) -> None:
        """A client 0-RTT application record: held until the handshake says what the server made of it."""
        if self.early_data == "pending" and self.early_bytes < MAX_EARLY_HELD:
            self.early_held.append(ev)
            self.early_bytes += ev.length
        elif self.early_data == "rejected":
            self.out.append(EarlyData(ev.ts, self.flow, CLIENT, "rejected", "", 1, ev.length, ev.data))
        else:
            self.out.append(ev)

    def _early_decided(self, status: str, detail: str, ts: float) -> None:
        """The handshake tells what became of the 0-RTT data: accepted records go on as application data, rejected
        ones do not (the server discarded them)."""
        held, self.early_held, self.early_bytes = self.early_held, [], 0
        self.early_data = status
        data = [ev.data for ev in held]
        self.out.append(EarlyData(ts, self.flow, CLIENT, status, detail, len(held), sum(ev.length for ev in held),
                                  b"".join(data) if held and None not in data and status == "rejected" else None))
        if status != "rejected":
            self.out.extend(held)

    def _session_info(self, ts: float) -> None:
        self.out.append(SessionInfo(ts, self.flow, self.version_name(), self.suite.name if self.suite else None,
                                    self.sni, self.alpn, self.resumed, self.ech_info))

    def version_name(self) -> str | None:
        return version_name(self.version) if self.version is not None else None

    def _on_certificate(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        self._hashed(raw)
        if direction == SERVER:
            self.server_cert_der = hs.first_certificate(raw[4:], self.ctx.tls13)

    def _on_compressed_certificate(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        self._hashed(raw)  # RFC 8879 4: the transcript holds the message as sent, compressed
        if direction == SERVER:
            try:
                self.server_cert_der = hs.first_certificate(hs.decompress_certificate(bytes(raw[4:])), True)
            except (hs.CertificateDecompressionError, MalformedInput):
                pass  # the message's own details say why

    def _on_client_key_exchange(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        self._hashed(raw)
        self.ems_upto = len(self.transcript)  # (a client's CertificateVerify comes after: not in the session hash)
        info = hs.parse_client_key_exchange(raw[4:], self.ctx)
        self.encrypted_pms = info.get("_encrypted_pre_master")
        self.psk_identity = info.get("psk_identity")

    def _on_new_session_ticket(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        if self.ctx.tls13:
            return
        self._hashed(raw)
        ticket = hs.parse_new_session_ticket(raw[4:], self.ctx).get("_ticket")
        if ticket and self.master:
            self.keys.remember(self.client_random, self.master, ticket=ticket)
        elif ticket:
            self._pending_ticket = ticket

    def _on_finished(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        expected = None
        verify = raw[4:]
        if self.ctx.tls13:
            # after the handshake, a client Finished ends a post-handshake authentication (RFC 8446 4.6.2): its
            # key is the current application traffic secret, and no key changes
            post = direction == CLIENT and self.client_done
            self.post_auths += post
            if (side.secret is not None and not (direction == CLIENT and self.early_skipped)
                    and self._transcript_readable()):
                th = schedule13.transcript_hash(self.hash13, b"".join(self.transcript))
                expected = schedule13.finished_verify_data(self.hash13, side.secret, th, self.ctx.draft, self.dtls)
            self._hashed(raw)
            if direction == SERVER:
                if self.psk_schedule is not None:
                    self._tls13_psk_application_secrets()
                self._tls13_switch(SERVER, "SERVER_TRAFFIC_SECRET_0", ts)
            elif not post:
                self.client_done = True
                self.handshake_messages = len(self.transcript)
                self._tls13_switch(CLIENT, "CLIENT_TRAFFIC_SECRET_0", ts)
        else:
            if self.master is not None and self.version is not None and self.suite is not None \
                    and self._transcript_readable():
                try:
                    expected = prf.finished_verify_data(self.version, self.suite.prf_hash, self.master,
                                                        direction == CLIENT, b"".join(self.transcript))
                except ValueError:
                    expected = None
            self._hashed(raw)
        if expected is not None:
            if expected == verify:
                self.finished_verified += 1
                if self.status is None or self.status == DECRYPTED:
                    self._set_status(DECRYPTED, "")
            elif self.transcript_gap:
                # its record decrypted and authenticated, so the keys are right: the transcript lacks messages
                self._anomaly(ts, "tls", "finished_unverifiable",
                              f"the {direction} Finished cannot be checked: handshake messages went missing from the "
                              f"capture, so the transcript is incomplete{self._why_missing()}", direction)
            else:
                self._set_status(FAILED, f"the {direction} Finished message does not match the handshake "
                                         "transcript: the key material is wrong for this session")

    def _on_certificate_request(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        if self.ctx.tls13 and self.client_done:
            # post-handshake authentication: each one's Finished covers the handshake and its own messages only
            del self.transcript[self.handshake_messages:]
        self._hashed(raw)

    def _on_key_update(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        if side.secret is None or self.suite is None:
            return
        side.secret = schedule13.next_traffic_secret(self.hash13, side.secret, self.ctx.draft, self.dtls)
        side.protection = self._protection13(self.suite, side.secret)
        side.seq = 0

    def _on_end_of_early_data(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        self._hashed(raw)
        if self.early_data == "pending":
            self._early_decided("accepted", "the client sent EndOfEarlyData, which it does only when the server took "
                                            "its 0-RTT data", ts)
        if side.app_only:  # no handshake key: the application key waits for the first record it decrypts
            side.protection = None
        elif side.next13 is not None:
            side.protection, side.secret = side.next13
            side.next13 = None
            side.seq = 0
        side.early = False

    def _on_encrypted_extensions(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        self._hashed(raw)
        ee = hs.encrypted_extensions(raw[4:])
        if ee.alpn:
            self.alpn = ee.alpn[0]
        if self.early_data == "pending":
            if 42 in ee.ext_types:
                self._early_decided("accepted", "the server's EncryptedExtensions carry early_data", ts)
            else:
                self._early_decided("rejected", "the server's EncryptedExtensions carry no early_data: it skipped the "
                                                "0-RTT data (RFC 8446 4.2.10)", ts)
        if 0xFE0D in ee.ext_types and self.offered_ech and self.ech_info is None:
            # retry_configs: the server did not use the inner ClientHello, and tells the client its ECH keys
            self.ech_info = {"status": "rejected",
                             "detail": ("the server did not take an inner ClientHello: it sent retry configs (its ECH "
                                        "keys) in EncryptedExtensions, as it also does for a browser's GREASE offer")}
        if ee.alpn or self.ech_info is not None:
            self._session_info(ts)

    # ------------------------------------------------------------------ TLS <= 1.2 keys
    def _change_cipher_spec(self, direction: str, side: Direction, ts: float) -> None:
        if self.master is None and self.suite is not None and self.status not in (FAILED,):
            self._derive_tls12_keys(ts)
        side.encrypted = True
        side.seq = 0
        side.protection = side.pending
        side.pending = None  # without keys the records are reported as encrypted; close() says why
        self.saw_encrypted = True

    def _derive_tls12_keys(self, ts: float) -> None:
        suite, version = self.suite, self.version
        if suite is None or version is None:
            return
        if not self.client_random:  # no ClientHello: no key derives without its random; a key log may still name it
            self.key_search = len(self.keys.keylog) > 0 and suite.mode != "null"
            self._set_status(NO_KEY, self._no_key_reason())
            return
        master, why = self._find_master()
        if master is None:
            if suite.mode == "null":
                self._read_null_cipher_in_clear(suite, why)
                return
            self._set_status(NO_KEY, why)
            return
        if not can_decrypt(suite):
            self.master = master
            self._set_status(NO_KEY, f"cipher suite {suite.name} ({suite.cipher}) is not supported for decryption")
            return
        try:
            cprot, sprot = self._tls12_protections(master, self.client_random)
        except ValueError as exc:
            self._set_status(NO_KEY, f"cannot decrypt {suite.name}: {exc}")
            return
        self.master = master
        self.sides[CLIENT].pending = cprot
        self.sides[SERVER].pending = sprot
        self.keys.remember(self.client_random, master, session_id=self.session_id,
                           ticket=self._pending_ticket)

    def _transcript_readable(self) -> bool:
        """Does the capture show every message the Finished messages cover? Not after ECH (the transcript holds the
        inner ClientHello, which is encrypted), with only the application secrets (the handshake messages stayed
        encrypted), or when a hello is not in the capture."""
        return not (self.ech_inner or self.app_only_detail or self.hello_missing)

    def _tls12_protections(self, master: bytes, client_random: bytes) -> tuple[Any, Any]:
        """The client's and the server's record protection from a master secret (ValueError if unusable)."""
        suite, version = self.suite, self.version
        assert suite is not None and version is not None
        block = prf.key_block(version, suite.prf_hash, master, client_random, self.server_random,
                              prf.key_block_length(version, suite))
        km = prf.split_key_block(suite, block)
        if suite.export:
            km = prf.export_key_material(version, km, client_random, self.server_random,
                                         suite.key_len, suite.iv_len if suite.mode == "cbc" else 0)
        return (make_protection(version, suite, km.client_key, km.client_iv, km.client_mac_key,
                                encrypt_then_mac=self.etm),
                make_protection(version, suite, km.server_key, km.server_iv, km.server_mac_key,
                                encrypt_then_mac=self.etm))

    def _read_null_cipher_in_clear(self, suite: Suite, why: str) -> None:
        """A NULL-encryption suite without key material: the records are not encrypted, so they are read
        as sent (the MAC cut off, unchecked), as tshark does. Nothing is authenticated: neither the
        record MACs nor the Finished messages can be verified, so the session is "not-encrypted", not
        "decrypted"."""
        reader = UnverifiedNullProtection(suite.mac_len)
        for side in self.sides.values():
            side.pending = reader
        self._set_status(NOT_ENCRYPTED, f"{suite.name} does not encrypt: its records were read in the clear, "
                                        f"their MACs and the Finished messages unverified ({why})")

    def _find_master(self) -> tuple[bytes | None, str]:
        """The master secret from whatever key material fits, or None and the reason why not."""
        keylog = self.keys.keylog
        cr = self.client_random
        master = keylog.get("CLIENT_RANDOM", cr)
        if master is not None:
            return master, ""
        if self.resumed or (self.offered_ticket and self.encrypted_pms is None and self.server_cert_der is None):
            master = self.keys.by_session_id.get(self.session_id) if self.resumed else None
            if master is None and self.offered_ticket:
                master = self.keys.by_ticket.get(self.offered_ticket)
            if master is not None:
                self.resumed = True
                return master, ""
            if self.resumed or self.encrypted_pms is None:
                return None, (f"resumed session whose original handshake is not in the capture: a key log line for "
                              f"client random {cr.hex()[:16]}... is needed")
        suite, version = self.suite, self.version
        assert suite is not None and version is not None
        pms = keylog.get("PMS_CLIENT_RANDOM", cr)
        kx = suite.kx
        if pms is None and kx in ("RSA", "RSA_PSK") and self.encrypted_pms:
            pms = keylog.rsa_premaster(self.encrypted_pms[:8])
            if pms is None:
                pms, why = self._rsa_premaster()
                if pms is None:
                    return None, why
        psk = self.keys.psk_for(self.psk_identity) if kx in ("PSK", "RSA_PSK") else None
        if kx == "PSK" and psk is not None and self.psk_identity not in self.keys.psk_identities:
            # several PSKs given for no identity: the first is taken, the others tried if it does not decrypt
            self.psk_others = [other for other in self.keys.psks if other is not psk
                               and other not in self.keys.psk_identities.values()]
        if pms is not None and kx == "RSA_PSK":
            if psk is None:
                return None, "RSA_PSK key exchange: a PSK (--psk) is needed besides the RSA key" + self._psk_named()
            pms = prf.psk_premaster(psk, pms)
        if pms is None and kx == "PSK" and psk is not None:
            pms = prf.psk_premaster(psk)
        if pms is None and kx == "PSK" and self.keys.psks:
            return None, "PSK key exchange: none of the pre-shared keys given is for this session" + self._psk_named()
        if pms is None:
            return None, self._no_key_reason()
        return self._master_from(pms), ""

    def _master_from(self, pms: bytes) -> bytes:
        suite, version = self.suite, self.version
        assert suite is not None and version is not None
        session_hash = None
        if self.ems:  # RFC 7627 4: the handshake messages up to and including the ClientKeyExchange
            session_hash = prf.session_hash(version, suite.prf_hash, b"".join(self.transcript[:self.ems_upto]))
        return prf.master_secret(version, suite.prf_hash, pms, self.client_random, self.server_random, session_hash)

    def _try_other_psks(self, direction: str, ctype: int, version: int, body: bytes) -> tuple[int, bytes] | None:
        """The first encrypted record of a TLS 1.2 PSK session did not open with the first PSK given: try the others
        given for no identity. The one that opens it keys both sides."""
        others, self.psk_others = self.psk_others, []
        for psk in others:
            master = self._master_from(prf.psk_premaster(psk))
            try:
                cprot, sprot = self._tls12_protections(master, self.client_random)
                result = (cprot if direction == CLIENT else sprot).decrypt(0, ctype, version, body)
            except (DecryptError, ValueError):
                continue
            self.master = master
            mine, theirs = (cprot, sprot) if direction == CLIENT else (sprot, cprot)
            side = self.sides[direction]
            side.protection, side.seq = mine, 1
            side.decrypted_records += 1
            other = self.sides[SERVER if direction == CLIENT else CLIENT]
            if other.protection is not None:  # past its ChangeCipherSpec already (none of its records opened yet)
                other.protection = theirs
            else:
                other.pending = theirs
            self.keys.remember(self.client_random, master, session_id=self.session_id, ticket=self._pending_ticket)
            return result
        return None

    def _psk_named(self) -> str:
        """What a TLS 1.2 PSK session's identity is, for a reason that asks for its PSK."""
        who = self.psk_identity
        return f" (its identity is {who!r}: --psk {who}=HEX)" if who else ""

    def _rsa_premaster(self) -> tuple[bytes | None, str]:
        if not self.keys.rsa_keys:
            return None, self._no_key_reason()
        from dissector.tls import rsa_kx  # loads cryptography's x509 and asymmetric modules: only with RSA keys

        cert_key = None
        if self.server_cert_der is not None:
            try:
                cert_key = hs.public_key_of(self.server_cert_der)
            except ValueError:
                cert_key = None
        server = (self.flow.server_ip, self.flow.server_port)
        candidates = []
        for k in self.keys.rsa_keys:
            if k.server is not None and k.server[1] not in (0, server[1]):
                continue
            if k.server is not None and k.server[0] not in ("0.0.0.0", "::", "any", server[0]):
                continue
            if cert_key is not None and not rsa_kx.public_key_matches(k.key, cert_key):
                continue
            candidates.append(k)
        if not candidates:
            if cert_key is not None:
                return None, "the RSA key given does not match the server certificate"
            return None, f"no RSA key given for server {self.flow.server}"
        for k in candidates:
            pms = rsa_kx.decrypt_premaster(k.key, self.encrypted_pms, self.client_version)
            if pms is not None:
                return pms, ""
        return None, "the RSA key could not decrypt the pre-master secret (wrong key for this session)"

    def _no_key_reason(self) -> str:
        cr = self.client_random.hex()
        if not self.client_random and self.snapped:
            return ("the ClientHello is not complete in the capture: the capture cut packets short (its snapshot length), "
                    "so no keys can be matched; capture again without a size limit (tcpdump -s 0)")
        if not self.client_random:
            return "the handshake is not in the capture (it starts after the ClientHello), so no keys can be matched"
        if self.suite is None and self.snapped:
            return ("the ServerHello is not complete in the capture (the capture cut packets short: its snapshot "
                    "length), so the negotiated cipher suite is unknown")
        if self.suite is None:
            return "no ServerHello in the capture: the negotiated cipher suite is unknown"
        kx = self.suite.kx
        have_log = len(self.keys.keylog) > 0
        if self.ctx.tls13:
            if have_log and self.ech_info is not None and self.key_random != self.client_random:
                return (f"no key log entry for the inner ClientHello's random {self.key_random.hex()[:16]}... (the "
                        "server accepted Encrypted Client Hello: the TLS 1.3 secrets are named by that random)")
            if have_log and self.offered_ech:
                return (f"no key log entry for client random {cr[:16]}... (TLS 1.3 traffic secrets); the ClientHello "
                        "offers Encrypted Client Hello: if the server accepted it, the key log names this session by "
                        "the random of the encrypted inner ClientHello, and none of its other entries fits either")
            if self.psk_reason:
                return self.psk_reason
            if have_log:
                return f"no key log entry for client random {cr[:16]}... (TLS 1.3 traffic secrets)"
            return (f"{'DTLS' if self.dtls else 'TLS'} 1.3 session: a key log (--keylog, SSLKEYLOGFILE) is needed; "
                    "an RSA key cannot decrypt it" + (" (nor, since the server took a pre-shared key with no (EC)DHE, "
                                                      "the PSK: --psk HEX)" if self.resumed and self._psk_ke() else ""))
        if kx in ("ECDHE", "DHE", "ECDH", "DH", "ECDHE_PSK", "DHE_PSK", "SRP"):
            if have_log:
                return f"no key log entry for client random {cr[:16]}..."
            if self.keys.rsa_keys:
                return f"{kx} key exchange: an RSA key cannot decrypt it, a key log is needed"
            return f"{kx} key exchange: a key log (--keylog) is needed"
        if kx == "PSK":
            return "PSK key exchange: the pre-shared key (--psk HEX) is needed"
        if kx in ("RSA", "RSA_PSK"):
            if have_log and not self.keys.rsa_keys:
                return f"no key log entry for client random {cr[:16]}... and no RSA key (--key) given"
            return "RSA key exchange: the server's RSA private key (--key) or a key log is needed"
        return f"no key given for {kx} key exchange"

    def _psk_ke(self) -> bool:
        """Did the server take a pre-shared key with no (EC)DHE (so that the PSK alone would decrypt)?"""
        if not self.ctx.tls13 or self.dtls or len(self.transcript) < 2:
            return False
        for raw in self.transcript:
            if raw[:1] == b"\x02" and raw[6:38] != HRR_RANDOM:  # the ServerHello (a HelloRetryRequest is not it)
                selected, with_dhe = hs.psk_choice(raw[4:])
                return selected is not None and not with_dhe
        return False

    # ------------------------------------------------------------------ Encrypted Client Hello
    def _open_ech(self, raw: bytes, ts: float) -> None:
        """Open the inner ClientHello of an ECH offer with a key log's ECH_SECRET or a server ECH key (--key);
        its fields join the ClientHello's (`ech_inner`). Which hello the server took, the ServerHello says."""
        from dissector.tls import ech  # HPKE's key types: loaded only where ECH is met

        self.ech, why = ech.open_client_hello(raw, self.keys.keylog, self.keys.ech_keys)
        if self.ech is not None:
            self._show_inner(self.ech.inner.raw)
        elif why:
            self._anomaly(ts, "tls", "ech_undecryptable", why, CLIENT)

    def _show_inner(self, inner: bytes) -> None:
        """The opened inner ClientHello's fields join those of the ClientHello being handled."""
        if self.message is not None and self.message.code == 1:
            self.message.info["ech_inner"] = hs.details(1, inner[4:], None)

    def _open_second_inner(self, raw: bytes, ts: float) -> None:
        """After a HelloRetryRequest the client seals its second inner ClientHello with the same context."""
        state = self.ech
        assert state is not None
        inner = state.open_second(raw)
        if inner is None:
            self._ech_rejected("the second ClientHello's inner hello does not open")
        else:
            self._show_inner(inner.raw)

    def _ech_retry_request(self, raw: bytes) -> None:
        assert self.ech is not None
        if not self.ech.retry_request(self.hash13, raw):
            self._ech_rejected("the HelloRetryRequest does not confirm the inner ClientHello: the handshake is the "
                               "outer one's")

    def _ech_server_hello(self, raw: bytes) -> None:
        """With ECH accepted the inner hello is the handshake's: in the transcript, and as the random the key log
        names the session by."""
        state = self.ech
        assert state is not None and self.suite is not None
        self.hash13 = self.suite.prf_hash
        if not state.accepted_by(self.hash13, raw):
            self._ech_rejected("the server did not confirm the inner ClientHello: the handshake is the outer one's")
            return
        self.transcript = state.transcript
        self.key_random = state.inner.random
        self.ech = None
        self.ech_info = state.info("accepted")

    def _ech_rejected(self, detail: str) -> None:
        state = self.ech
        assert state is not None
        self.ech = None
        self.ech_info = state.info("rejected", detail)

    # ------------------------------------------------------------------ TLS 1.3 keys
    def _protection13(self, suite: Suite, secret: bytes) -> Any:
        key, iv = schedule13.traffic_key_iv(suite.prf_hash, secret, suite.key_len, 12, self.ctx.draft)
        return make_protection(0x0304, suite, key, iv, b"", tls13=True, draft=self.ctx.draft)

    def _tls13_handshake_keys(self, ts: float) -> None:
        suite = self.suite
        for side in self.sides.values():
            side.encrypted = True
        server, client = self.sides[SERVER], self.sides[CLIENT]
        if suite is None:
            return
        self.hash13 = suite.prf_hash
        keylog = self.keys.keylog
        s_secret = keylog.get("SERVER_HANDSHAKE_TRAFFIC_SECRET", self.key_random)
        c_secret = keylog.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", self.key_random)
        if s_secret is None and c_secret is None and self.keys.psks and can_decrypt(suite):
            c_secret, s_secret = self._tls13_psk_secrets(suite) or (None, None)
        if not can_decrypt(suite):
            self._set_status(NO_KEY, f"cipher suite {suite.name} is not supported for decryption")
            return
        if s_secret is not None:
            server.protection, server.secret, server.seq = self._protection13(suite, s_secret), s_secret, 0
        if c_secret is not None:
            prot = self._protection13(suite, c_secret)
            if client.early:
                client.next13 = (prot, c_secret)
            else:
                client.protection, client.secret, client.seq = prot, c_secret, 0
        if self._tls13_app_only_keys(suite, s_secret, c_secret):
            self._set_status(NO_KEY, APP_ONLY)
        elif s_secret is None and c_secret is None:
            # the key log may still name the session: by the encrypted inner ClientHello's random (ECH), or by the
            # random of a ClientHello the capture does not hold
            self.key_search = (self.offered_ech or not self.client_random) and len(keylog) > 0 and not self.ech_inner
            self._set_status(NO_KEY, self._no_key_reason())

    def _tls13_psk_secrets(self, suite: Suite) -> tuple[bytes, bytes] | None:
        """TLS 1.3 on a pre-shared key with no (EC)DHE (psk_ke, RFC 8446 4.2.9): the key schedule needs the PSK alone.
        The PSK given (--psk) is the one whose binder (4.2.11.2) is the ClientHello's for the identity the server
        took. Returns the (client, server) handshake traffic secrets, which the key log learns (so `dissector keys`
        writes them); the application ones follow at the server Finished (`_tls13_psk_application_secrets`)."""
        if self.dtls or self.ctx.draft or len(self.transcript) < 2 or not self.client_random:
            return None
        selected, with_dhe = hs.psk_choice(self.transcript[-1][4:])
        if selected is None:
            return None
        if with_dhe:
            self.psk_reason = PSK_WITH_DHE
            return None
        hello = self.transcript[-2]
        offer = hs.psk_offer(hello[4:])
        if offer is None or selected >= len(offer[1]):
            return None
        identities, binders, covered = offer
        h = suite.prf_hash
        binder_hash = schedule13.transcript_hash(h, b"".join(self.transcript[:-2]) + hello[:4 + covered])
        for psk in self.keys.psks:
            for resumption in (False, True):  # an external PSK's binder key, or a resumption PSK's
                ks = schedule13.KeySchedule(h)
                ks.extract_early(psk)
                binder = schedule13.finished_verify_data(h, ks.binder_key(resumption), binder_hash)
                if binder != binders[selected]:
                    continue
                ks.extract_handshake(None)  # psk_ke: no (EC)DHE, a string of zeros in its place
                secrets = ks.handshake_traffic_secrets(schedule13.transcript_hash(h, b"".join(self.transcript)))
                self.psk_schedule, self.psk_secrets = ks, {}
                self._psk_learn("CLIENT_HANDSHAKE_TRAFFIC_SECRET", secrets[0])
                self._psk_learn("SERVER_HANDSHAKE_TRAFFIC_SECRET", secrets[1])
                return secrets
        self.psk_reason = PSK_NO_MATCH.format(_identity_text(identities[selected]))
        return None

    def _tls13_psk_application_secrets(self) -> None:
        """The application traffic and exporter secrets of a session keyed by its PSK, at the server Finished."""
        ks, h = self.psk_schedule, self.hash13
        ks.extract_master()
        th = schedule13.transcript_hash(h, b"".join(self.transcript))
        client, server = ks.application_traffic_secrets(th)
        for label, secret in (("CLIENT_TRAFFIC_SECRET_0", client), ("SERVER_TRAFFIC_SECRET_0", server),
                              ("EXPORTER_SECRET", ks.exporter_master_secret(th))):
            self._psk_learn(label, secret)

    def _psk_learn(self, label: str, secret: bytes) -> None:
        """A secret the PSK gave: the session's own (what it decrypts with), and the run's key log's while it has room
        (what `dissector keys` writes)."""
        assert self.psk_secrets is not None
        self.psk_secrets[label] = secret
        self.keys.keylog.learn(label, self.key_random, secret)

    def _tls13_secret(self, label: str, random: bytes) -> bytes | None:
        """A TLS 1.3 secret of this session: derived from its PSK, or from the key log."""
        if self.psk_secrets is not None and label in self.psk_secrets:
            return self.psk_secrets[label]
        return self.keys.keylog.get(label, random)

    def _tls13_app_only_keys(self, suite: Suite, s_secret: bytes | None, c_secret: bytes | None) -> bool:
        """A side without its handshake secret but with its application one: the handshake stays encrypted,
        its records fail the application keys, and the first record that fits them switches the side over."""
        sides = []
        for name, secret, label in ((SERVER, s_secret, "SERVER_TRAFFIC_SECRET_0"),
                                    (CLIENT, c_secret, "CLIENT_TRAFFIC_SECRET_0")):
            app = self.keys.keylog.get(label, self.key_random) if secret is None else None
            if app is not None:
                side = self.sides[name]
                side.next13, side.app_only = (self._protection13(suite, app), app), 1
                sides.append(name)
        if sides:
            self.app_only_detail = APP_ONLY_DECRYPTED.format("" if len(sides) == 2 else f" from the {sides[0]}")
        return bool(sides)

    def _search_master(self, direction: str, ctype: int, version: int, body: bytes, ts: float) -> bool:
        """TLS <= 1.2 without the ClientHello: its random, which every key derives from, is missing. Try the key
        log's CLIENT_RANDOM entries (of randoms not seen) on the first encrypted record: the keys they give with the
        ServerHello's random open it only for the right one (its MAC or AEAD tag)."""
        self.key_search = False
        suite, keys = self.suite, self.keys
        if suite is None or self.version is None or not can_decrypt(suite) or not self.server_random:
            return False
        for random, master in keys.keylog.entries("CLIENT_RANDOM"):
            if random in keys.seen_randoms:
                continue
            if keys.search_trials_left <= 0:
                return False
            keys.search_trials_left -= 1
            try:
                cprot, sprot = self._tls12_protections(master, random)
                (cprot if direction == CLIENT else sprot).decrypt(0, ctype, version, body)
            except (DecryptError, ValueError):
                continue
            self.client_random = self.key_random = random
            self.hello_missing = True
            self._derive_tls12_keys(ts)
            for side in self.sides.values():  # the sides already past their ChangeCipherSpec take their keys now
                if side.encrypted and side.protection is None:
                    side.protection, side.pending, side.seq = side.pending, None, 0
            self._set_status(DECRYPTED, NO_HELLO.format(random.hex()[:16]))
            return True
        return False

    def _search_suite(self, ctype: int, version: int, body: bytes, ts: float) -> bool:
        """No ServerHello in the capture (only the client's side was captured, say), so the suite is unknown: try
        the ClientHello's TLS 1.3 suites with its client handshake secret on the client's first encrypted record,
        and go on as if the server had chosen the one that opens it."""
        self.suite_tried = True
        secret = self.keys.keylog.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", self.client_random)
        if secret is None or ctype != 23 or not self.transcript:
            return False
        try:
            hello = hs.client_hello_essentials(self.transcript[0][4:], self.dtls)
        except MalformedInput:
            return False
        for sid in hello.suite_ids():
            suite = SUITES.get(sid)
            if suite is None or not 0x1301 <= sid <= 0x1305 or schedule13.hash_len(suite.prf_hash) != len(secret):
                continue
            try:
                self._protection13(suite, secret).decrypt(0, ctype, version, body)
            except DecryptError:
                continue
            self.version, self.suite, self.hello_missing = 0x0304, suite, True
            self.ctx.version, self.ctx.tls13, self.ctx.kx = 0x0304, True, suite.kx
            self._tls13_handshake_keys(ts)
            self._session_info(ts)
            self._set_status(DECRYPTED, NO_SERVER_HELLO.format(suite.name))
            return True
        return False

    def _search_key_random(self, ctype: int, version: int, body: bytes, ts: float) -> bool:
        """The key log names this session by a random the capture does not show: the inner ClientHello's when the
        server accepted ECH (it is encrypted on the wire), or that of a ClientHello missing from the capture. Find
        it by trying the entries of other randoms on the server's first encrypted record (its AEAD tag only fits
        the right key), then take both sides' handshake keys."""
        self.key_search = False
        suite = self.suite
        if suite is None:
            return False
        size = schedule13.hash_len(suite.prf_hash)
        keys = self.keys
        seen = keys.seen_randoms
        for random, secret in keys.keylog.entries("SERVER_HANDSHAKE_TRAFFIC_SECRET"):
            if random in seen or len(secret) != size:
                continue
            if keys.search_trials_left <= 0:  # the run's budget for these searches is spent
                return False
            keys.search_trials_left -= 1
            try:
                self._protection13(suite, secret).decrypt(0, ctype, version, body)
            except DecryptError:
                continue
            self.key_random = random
            if not self.client_random:
                self.hello_missing = True
                self._tls13_handshake_keys(ts)
                self._set_status(DECRYPTED, NO_HELLO.format(random.hex()[:16]))
                return True
            self.ech_inner = True
            self.ech_info = {"status": "accepted", "inner_random": random.hex(),
                             "detail": "the key log names the session by this random, not the outer one's"}
            self._session_info(ts)
            self._tls13_handshake_keys(ts)
            self._set_status(DECRYPTED, ECH_INNER.format(random.hex()[:16]))
            return True
        return False

    def _tls13_switch(self, direction: str, label: str, ts: float) -> None:
        side = self.sides[direction]
        secret = self._tls13_secret(label, self.key_random)
        if secret is None or self.suite is None:
            side.protection = None
            side.secret = None
            if self.status is None:
                self._set_status(NO_KEY, f"no {label} key log entry for client random {self.client_random.hex()[:16]}...")
            return
        side.protection, side.secret, side.seq, side.early, side.next13 = (
            self._protection13(self.suite, secret), secret, 0, False, None)

    def _hashed(self, raw: bytes) -> None:
        """Add a handshake message (4-byte header and body) to the transcript that Finished covers."""
        self.transcript.append(raw)

    def export_keying_material(self, label: str, length: int) -> bytes | None:
        """The session's keying material exporter, without a context value (RFC 5705 for TLS 1.0-1.2, from the
        master secret; RFC 8446 7.5 for TLS 1.3, from the key log's EXPORTER_SECRET); None when the secret is
        unknown. What protocols on top of TLS derive their own keys with (OpenVPN, EAP-TLS 1.3...)."""
        version, suite = self.version, self.suite
        if version is None or suite is None:
            return None
        if not self.ctx.tls13:
            if self.master is None or version < 0x0301:
                return None
            return prf.prf(version, suite.prf_hash, self.master, label, self.client_random + self.server_random, length)
        secret = self._tls13_secret("EXPORTER_SECRET", self.key_random or self.client_random)
        if secret is None:
            return None
        h = suite.prf_hash
        derived = schedule13.derive_secret(h, secret, label, prf.digest(h, b""))
        return schedule13.hkdf_expand_label(h, derived, "exporter", prf.digest(h, b""), length)

    # ------------------------------------------------------------------ status and anomalies
    def _set_status(self, status: str, detail: str) -> None:
        if self.status == FAILED and status != FAILED:
            return  # a failure stands: later good records do not make the session trustworthy
        self.status, self.detail = status, detail

    def _emit_status(self, ts: float) -> None:
        cur = (self.status or "", self.detail)
        if self.status is not None and cur != self.status_sent:
            self.status_sent = cur
            self.out.append(Decryption(ts, self.flow, self.status, self.detail,
                                       self.key_random if self.key_random != self.client_random else b""))

    def _anomaly(self, ts: float, layer: str, name: str, detail: str, direction: str | None = None) -> None:
        self.out.append(Anomaly(ts, self.flow, layer, name, detail, direction))


def _identity_text(identity: bytes) -> str:
    """A PSK identity for people: quoted when it reads as text, else its size (a resumption ticket)."""
    try:
        text = identity.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    return repr(text) if text.isprintable() and 0 < len(text) <= 64 else f"a {len(identity)}-byte ticket"


def _first_tls13_suite(suite_ids: list[int]) -> int:
    for s in suite_ids:
        if 0x1301 <= s <= 0x1305:
            return s
    return -1

