"""DTLS 1.0 and 1.2 (RFC 4347, RFC 6347): TLS over datagrams.

`DTLSConnection.datagram(direction, payload, ts)` takes one UDP payload: one or more whole DTLS records,
each with an explicit epoch and sequence number. What differs from TLS over TCP, and is handled here:

- records are decrypted by their own epoch and sequence number (no running counter), so loss,
  reordering and retransmission of datagrams cost nothing but the records themselves;
- a ChangeCipherSpec sent in epoch e starts epoch e + 1 for its sender (a retransmitted one changes
  nothing);
- handshake messages carry a 12-byte header (message_seq, fragment_offset, fragment_length) and may be
  fragmented over records and datagrams; fragments are reassembled per message_seq;
- whole flights are retransmitted on timeout: a message seen again is listed again, as tshark does, with
  "retransmission": true, and does not touch the state;
- datagrams may arrive out of order: as a DTLS peer does (RFC 6347 4.2.2), a message that comes before the
  one with the message_seq it expects waits for it, so the handshake state and the transcript take them
  in their sending order; it waits until the other side speaks (a peer answers a flight once it has all
  of it), MAX_WAITING messages or the end of the association, whichever comes first; an encrypted record
  that overtakes what starts its epoch (a Finished before its ChangeCipherSpec; in DTLS 1.3 handshake records
  before the ServerHello, application data before the sender's Finished) is held until that comes;
- HelloVerifyRequest (cookie exchange) restarts the handshake: the transcript that Finished covers begins
  with the second ClientHello and hashes each message with its 12-byte header as if unfragmented
  (OpenSSL's pre-standard DTLS 1.0, version 0x0100, hashed every message's body alone, from the first
  ClientHello on).

Keys, PRFs, cipher suites, resumption, Finished verification and the decryption status are TLSConnection's:
DTLS 1.0 derives keys like TLS 1.1 and DTLS 1.2 like TLS 1.2 (`prf.py`, `protection.py` know the versions).

DTLS 1.3 (RFC 9147) takes TLS 1.3's key schedule with "dtls13" labels, from the key log's traffic secrets. Its
encrypted records have a unified header (001CSLEE: connection ID, 8 or 16 bits of the record number, length,
the epoch's low two bits) whose record number is itself encrypted with a mask from the ciphertext (`_Epoch13`);
the epoch is told by those two bits (2: handshake, 3: application data, then one more per KeyUpdate), the full
record number by the largest one decrypted in that epoch. Handshake messages keep the 12-byte header on the
wire but enter the transcript as in TLS 1.3, without message_seq and fragment fields; ACK records list the
record numbers a side received.
"""
from __future__ import annotations

import struct
import zlib
from typing import Any

from dissector.errors import DecryptError
from dissector.events import AppData, Flow, TLSMessage
from dissector.tls import handshake as hs
from dissector.tls import schedule13
from dissector.tls.connection import FAILED, Direction, TLSConnection
from dissector.tls.constants import HANDSHAKE_TYPES, name_of
from dissector.tls.keystore import KeyStore
from dissector.tls.protection import SampleMask, expand_record_number, make_protection
from dissector.tls.records import VALID_TYPES
from dissector.tls.suites import Suite

DTLS_VERSIONS = frozenset((0xFEFF, 0xFEFD, 0xFEFC, 0x0100))  # 1.0, 1.2, 1.3 (plaintext records), OpenSSL's old 1.0
# the TLS version whose message formats each DTLS version uses (for the handshake parsers); OpenSSL's
# pre-standard DTLS sent the RSA-encrypted pre-master secret without a length, as SSL 3.0 does
TLS_EQUIVALENT = {0xFEFF: 0x0302, 0x0100: 0x0300, 0xFEFD: 0x0303, 0xFEFC: 0x0304}
RECORD_HEADER = struct.Struct("!BHHHIH")  # type, version, epoch, sequence number (48 bits), length
HEADER_LEN = RECORD_HEADER.size  # 13
MAX_PENDING_MESSAGES = 32  # handshake messages being reassembled per direction
MAX_WAITING = 8  # whole handshake messages per direction held back for an earlier message_seq that is missing
MAX_HELD = 32  # encrypted records per association held until their epoch's keys are known
DTLS_OPENSSL_OLD = 0x0100  # OpenSSL's DTLS1_BAD_VER: DTLS 1.0 as OpenSSL spoke it before RFC 4347 was final
DTLS13 = 0xFEFC
ACK = 26  # DTLS 1.3's ACK record (RFC 9147 7)


def looks_like_dtls(payload, pos: int = 0) -> bool:
    """Does a DTLS record header (a known content type and a DTLS version) start at payload[pos]?"""
    return (len(payload) - pos >= HEADER_LEN and payload[pos] in VALID_TYPES
            and ((payload[pos + 1] == 0xFE and payload[pos + 2] >= 0xFC)
                 or (payload[pos + 1] == 1 and payload[pos + 2] == 0)))


def whole_records(payload) -> bool:
    """Is the payload nothing but well-formed DTLS records? (how a flow met mid-association is recognised)"""
    pos, n = 0, len(payload)
    while pos < n:
        if not looks_like_dtls(payload, pos):
            return False
        pos += HEADER_LEN + ((payload[pos + 11] << 8) | payload[pos + 12])
    return pos == n


def starts_association(payload) -> bool:
    """Does the datagram open a handshake: an epoch-0 ClientHello fragment with message_seq 0?"""
    return (len(payload) >= 25 and payload[0] == 22 and payload[3] == 0 and payload[4] == 0
            and payload[13] == 1 and payload[17] == 0 and payload[18] == 0)


class _Reassembly:
    """One handshake message arriving in fragments."""

    __slots__ = ("mtype", "length", "data", "ranges")

    def __init__(self, mtype: int, length: int) -> None:
        self.mtype = mtype
        self.length = length
        self.data = bytearray(length)
        self.ranges: list[list[int]] = []  # received [start, end) intervals, sorted and merged

    def add(self, offset: int, fragment: bytes) -> bool:
        """Add a fragment; True once every byte of the message is there."""
        end = offset + len(fragment)
        self.data[offset:end] = fragment
        merged: list[list[int]] = []
        for r in sorted(self.ranges + [[offset, end]]):
            if merged and r[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(r)
        self.ranges = merged
        return merged == [[0, self.length]] or self.length == 0


class _Epoch13:
    """One direction's keys for one DTLS 1.3 epoch: record protection, the record number mask (RFC 9147 4.2.3),
    and the largest record number decrypted so far (the reference for the next truncated one)."""

    __slots__ = ("aead", "sn", "largest")

    def __init__(self, suite: Suite, hash_name: str, secret: bytes) -> None:
        key, iv = schedule13.traffic_key_iv(hash_name, secret, suite.key_len, 12, dtls=True)
        self.aead: Any = make_protection(DTLS13, suite, key, iv, b"", tls13=True)
        sn_key = schedule13.hkdf_expand_label(hash_name, secret, b"sn", b"", suite.key_len, schedule13.DTLS13_PREFIX)
        self.sn = SampleMask(sn_key, "CHACHA" in str(suite.cipher).upper())
        self.largest = -1


class DTLSConnection(TLSConnection):
    dtls = True
    tracks_early_data = False
    HANDLERS = {**TLSConnection.HANDLERS, 3: "_on_hello_verify_request"}

    def __init__(self, flow: Flow, keys: KeyStore, out: list, max_handshake: int = 1 << 16) -> None:
        super().__init__(flow, keys, out, max_handshake)
        self.ctx.dtls = True
        self.sides = {d: Direction(False) for d in self.sides}  # no SSLv2 hello over datagrams
        self.epochs: dict[str, dict[int, object]] = {d: {0: None} for d in self.sides}  # epoch -> decryptor
        self.pending: dict[str, dict[int, _Reassembly]] = {d: {} for d in self.sides}
        self.seen: dict[str, dict[tuple, tuple]] = {d: {} for d in self.sides}  # (epoch, seq) -> message digest
        self.mseq = 0  # message_seq of the message being handled (its transcript header)
        self.next_mseq: dict[str, int | None] = {d: None for d in self.sides}  # None: not known yet
        self.waiting: dict[str, dict[int, tuple]] = {d: {} for d in self.sides}  # message_seq -> message
        self.hello_request = False  # the last message was the server's HelloRequest: its answer is message 1
        self.held: list[tuple] = []  # encrypted records that came before their epoch began: see _hold
        self.holding = True  # False while the held records are read for the last time
        self.cookie_exchange: list[bytes] = []  # the first ClientHello and the HelloVerifyRequest, as hashed
        self.closed_by: set[str] = set()  # the sides that sent close_notify
        self.ended = ""  # why the association is over (UDP has no FIN): "close_notify", "fatal alert"
        self.dtls13 = False
        self.epochs13: dict[str, dict[int, _Epoch13 | None]] = {d: {} for d in self.sides}

    # ------------------------------------------------------------------ records
    def datagram(self, direction: str, payload, ts: float) -> None:
        side = self.sides[direction]
        pos, n = 0, len(payload)
        while n - pos >= HEADER_LEN or (pos < n and payload[pos] & 0xE0 == 0x20):
            if payload[pos] & 0xE0 == 0x20:  # DTLS 1.3's unified header (RFC 9147 4): always encrypted
                pos = self._unified_record(direction, side, payload, pos, ts)
                if pos < 0:
                    return
                continue
            ctype, version, epoch, seq_hi, seq_lo, length = RECORD_HEADER.unpack_from(payload, pos)
            end = pos + HEADER_LEN + length
            if ctype not in VALID_TYPES or version not in DTLS_VERSIONS or end > n:
                what = ("a DTLS 1.2 connection ID record (RFC 9146), not read" if ctype == 25 else
                        f"type {ctype}, version 0x{version:04x}, length {length}, {n - pos} bytes left")
                self._anomaly(ts, "tls", "bad_record_header", what + "; the rest of the datagram is skipped",
                              direction)
                self.transcript_gap = True  # what it held is lost, handshake messages perhaps
                return
            body = bytes(payload[pos + HEADER_LEN:end])
            pos = end
            side.records += 1
            self._dtls_record(direction, side, ctype, version, epoch, (seq_hi << 32) | seq_lo, body, ts)
        if pos < n:
            self._anomaly(ts, "tls", "trailing_bytes", f"{n - pos} bytes after the last DTLS record", direction)
        if self.held:
            self._replay()

    def _hold(self, item: tuple) -> bool:
        """Keep an encrypted record that overtook what starts its epoch (the ChangeCipherSpec before it; in DTLS 1.3
        the ServerHello), to read it once that has come; False when it cannot wait."""
        if not self.holding or len(self.held) >= MAX_HELD:
            return False
        self.held.append(item)
        return True

    def _replay(self) -> None:
        """Read the held records again: those whose epoch has begun are read, the others wait on (all are read,
        as encrypted if need be, when `holding` is off)."""
        waiting, self.held = self.held, []
        for item in waiting:
            direction, side = item[0], self.sides[item[0]]
            if item[1]:  # a DTLS 1.3 record: (direction, True, record, time)
                self._unified_record(direction, side, item[2], 0, item[3])
            else:
                _, _, ctype, version, epoch, seq, body, ts = item
                self._dtls_record(direction, side, ctype, version, epoch, seq, body, ts)

    def _unified_record(self, direction: str, side: Direction, payload, pos: int, ts: float) -> int:
        """A DTLS 1.3 record (header 001CSLEE: connection ID, 8/16-bit sequence number, length present, the low
        epoch bits). Decrypted when its epoch's keys are known, else listed as encrypted (epoch 2 carries the
        handshake, 3 and later the application data). Returns where the next record starts, or -1 when the
        rest of the datagram cannot be read."""
        b0, n = payload[pos], len(payload)
        if b0 & 0x10:
            self._anomaly(ts, "tls", "bad_record_header", "a DTLS 1.3 record with a connection ID (its length "
                          "was negotiated), not read; the rest of the datagram is skipped", direction)
            return -1
        sn_len = 2 if b0 & 0x08 else 1
        start = pos + 1 + sn_len
        if b0 & 0x04:
            if start + 2 > n:
                self._anomaly(ts, "tls", "trailing_bytes", f"{n - pos} bytes after the last DTLS record", direction)
                return -1
            length, start = (payload[start] << 8) | payload[start + 1], start + 2
        else:
            length = n - start
        if start + length > n:
            self._anomaly(ts, "tls", "bad_record_header", f"a DTLS 1.3 record of {length} bytes, {n - start} in the "
                          "datagram; the rest of the datagram is skipped", direction)
            return -1
        epoch_no, keys = self._epoch13(direction, b0 & 0x03)
        epochs = self.epochs13[direction]
        # before the ServerHello (the handshake keys come with it), or the epoch after one with keys (they come when
        # that one ends: a client's first application data overtaking its Finished)
        if epoch_no not in epochs and (self.suite is None or epochs.get(epoch_no - 1) is not None) and \
                self._hold((direction, True, bytes(payload[pos:start + length]), ts)):
            return start + length
        side.records += 1
        self.saw_encrypted = side.encrypted = True
        body = bytes(payload[start:start + length])
        if keys is None or length < 16:  # (the record number mask needs a 16-byte sample)
            self._undecrypted(direction, side, 22 if epoch_no == 2 else 23, length, ts)
            return start + length
        mask = keys.sn.mask(body[:16])
        header = bytearray(payload[pos:start])
        truncated = 0
        for i in range(sn_len):
            header[1 + i] ^= mask[i]
            truncated = (truncated << 8) | header[1 + i]
        seq = expand_record_number(keys.largest, truncated, 8 * sn_len)
        try:  # the associated data is the header with the record number in the clear (RFC 9147 4.2.3)
            ctype, plain = keys.aead.open(seq, bytes(header), body)
        except DecryptError as exc:
            self.epochs13[direction][epoch_no] = None
            self._set_status(FAILED, f"a {direction} record of epoch {epoch_no} failed to decrypt ({exc}): the key "
                                     "material does not match this session")
            self._undecrypted(direction, side, 22 if epoch_no == 2 else 23, length, ts)
            return start + length
        keys.largest = max(keys.largest, seq)
        side.decrypted_records += 1
        self._content(direction, side, ctype, epoch_no, plain, ts, True)
        return start + length

    def _epoch13(self, direction: str, low_bits: int) -> tuple[int, _Epoch13 | None]:
        """The epoch a unified header's two low bits name: the latest one known with those bits (2 before any
        is known: the handshake)."""
        epochs = self.epochs13[direction]
        matching = [e for e in epochs if e & 0x03 == low_bits]
        if not matching:
            return (low_bits if low_bits >= 2 else low_bits + 4), None
        epoch = max(matching)
        return epoch, epochs[epoch]

    def _protection13(self, suite: Suite, secret: bytes) -> Any:
        if self.dtls13:
            return _Epoch13(suite, self.hash13, secret)
        return super()._protection13(suite, secret)

    def _tls13_handshake_keys(self, ts: float) -> None:
        super()._tls13_handshake_keys(ts)
        if self.dtls13:
            for d, side in self.sides.items():
                self.epochs13[d][2] = side.protection

    def _tls13_switch(self, direction: str, label: str, ts: float) -> None:
        super()._tls13_switch(direction, label, ts)
        if self.dtls13:
            self.epochs13[direction][3] = self.sides[direction].protection

    def _on_key_update(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        super()._on_key_update(direction, side, _, raw, ts)
        if self.dtls13 and side.protection is not None:  # the sender's next records are in the next epoch
            epochs = self.epochs13[direction]
            epochs[max(epochs, default=2) + 1] = side.protection

    def _dtls_record(self, direction: str, side: Direction, ctype: int, version: int, epoch: int, seq: int,
                     body: bytes, ts: float) -> None:
        encrypted = epoch > 0
        if encrypted:
            self.saw_encrypted = True
            side.encrypted = True
            epochs = self.epochs[direction]
            prot = epochs.get(epoch)
            if prot is None:
                if epoch not in epochs and epoch == max(epochs) + 1 and \
                        self._hold((direction, False, ctype, version, epoch, seq, body, ts)):
                    return  # before the ChangeCipherSpec that starts its epoch
                self._undecrypted(direction, side, ctype, len(body), ts)
                return
            try:
                ctype, body = prot.decrypt((epoch << 48) | seq, ctype, version, body)  # type: ignore[attr-defined]
            except DecryptError as exc:
                self.epochs[direction][epoch] = None
                self._set_status(FAILED, f"a {direction} record failed to decrypt ({exc}): the key material does "
                                         "not match this session")
                self._undecrypted(direction, side, ctype, len(body), ts)
                return
            side.decrypted_records += 1
        self._content(direction, side, ctype, epoch, body, ts, encrypted)

    def _content(self, direction: str, side: Direction, ctype: int, epoch: int, body: bytes, ts: float,
                 encrypted: bool) -> None:
        """A record's content, decrypted if it was encrypted."""
        if ctype == 22:
            self._fragments(direction, side, epoch, body, ts, encrypted)
        elif ctype == 23:
            self.out.append(AppData(ts, self.flow, direction, len(body), body))
        elif ctype == 20:
            self.out.append(TLSMessage(ts, self.flow, direction, "ChangeCipherSpec", False, len(body)))
            if len(body) == 3 and self.next_mseq[direction] is not None:  # OpenSSL's old DTLS numbered its CCS
                self.next_mseq[direction] = max(self.next_mseq[direction], ((body[1] << 8) | body[2]) + 1)
            if epoch + 1 not in self.epochs[direction]:  # else a retransmitted flight's
                self._change_cipher_spec(direction, side, ts)
                self.epochs[direction][epoch + 1] = side.protection
        elif ctype == 21:
            self._alerts(direction, body, ts, encrypted)
        elif ctype == 24:
            self._heartbeat(direction, body, ts, encrypted)
        elif ctype == ACK:
            self.out.append(TLSMessage(ts, self.flow, direction, "ACK", encrypted, len(body),
                                       _info={"records": _acked(body)}))

    # ------------------------------------------------------------------ handshake
    def _fragments(self, direction: str, side: Direction, epoch: int, body: bytes, ts: float, encrypted: bool) -> None:
        pos, n = 0, len(body)
        while n - pos >= 12:
            mtype = body[pos]
            length = int.from_bytes(body[pos + 1:pos + 4], "big")
            mseq = (body[pos + 4] << 8) | body[pos + 5]
            offset = int.from_bytes(body[pos + 6:pos + 9], "big")
            flen = int.from_bytes(body[pos + 9:pos + 12], "big")
            start, pos = pos + 12, pos + 12 + flen
            if length > self.max_handshake:
                self._anomaly(ts, "tls", "handshake_message_too_large",
                              f"{name_of(HANDSHAKE_TYPES, mtype)} claims {length} bytes", direction)
                return
            if offset + flen > length or pos > n:
                self._anomaly(ts, "tls", "malformed_handshake_fragment",
                              f"{name_of(HANDSHAKE_TYPES, mtype)} fragment at {offset}+{flen} of {length} bytes, "
                              f"{n - start} in the record", direction)
                return
            fragment = body[start:pos]
            if offset == 0 and flen == length:
                self._complete(direction, side, epoch, mtype, mseq, fragment, ts, encrypted)
                continue
            pending = self.pending[direction]
            r = pending.get(mseq)
            if r is None or r.mtype != mtype or r.length != length:
                if len(pending) >= MAX_PENDING_MESSAGES:
                    del pending[next(iter(pending))]
                r = pending[mseq] = _Reassembly(mtype, length)
            if r.add(offset, fragment):
                del pending[mseq]
                self._complete(direction, side, epoch, mtype, mseq, bytes(r.data), ts, encrypted)
        if pos != n:
            self._anomaly(ts, "tls", "malformed_handshake_fragment", f"{n - pos} stray bytes in a handshake record",
                          direction)

    def _complete(self, direction: str, side: Direction, epoch: int, mtype: int, mseq: int, body: bytes, ts: float,
                  encrypted: bool) -> None:
        """A whole handshake message: handled once, in message_seq order; a retransmitted copy is only listed."""
        waiting = self.waiting[direction]
        if mseq in waiting:  # a copy of a message that is already waiting
            return
        digest = (mtype, len(body), zlib.crc32(body))
        seen = self.seen[direction]
        if seen.get((epoch, mseq)) == digest:
            info = hs.details(mtype, body, self.ctx)
            info["retransmission"] = True
            name = "HelloRetryRequest" if mtype == 2 and body[2:34] == hs.HRR_RANDOM else \
                HANDSHAKE_TYPES.get(mtype) or name_of(HANDSHAKE_TYPES, mtype)
            self.out.append(TLSMessage(ts, self.flow, direction, name, encrypted, len(body) + 4, mtype, body,
                                       self.ctx, info))
            return
        other = "server" if direction == "client" else "client"
        if self.waiting[other]:  # a peer answers a flight once it has all of it: what still waits lost a message
            self._release(other, True)
        expected = self.next_mseq[direction]
        if expected is not None and expected < mseq <= expected + MAX_WAITING:
            waiting[mseq] = (epoch, mtype, mseq, body, ts, encrypted)
            if len(waiting) >= MAX_WAITING:  # the missing one is not coming: go on without it
                self._release(direction, True)
            return
        if waiting and expected is not None and mseq < expected:  # a new handshake: the old one's messages first
            self._release(direction, True)
        self._handle(direction, epoch, mtype, mseq, body, ts, encrypted)
        self._release(direction, False)

    def _handle(self, direction: str, epoch: int, mtype: int, mseq: int, body: bytes, ts: float,
                encrypted: bool) -> None:
        self.seen[direction][(epoch, mseq)] = (mtype, len(body), zlib.crc32(body))
        self.next_mseq[direction] = mseq + 1
        if mtype == 1 and mseq == 0 and not self.hello_request:
            self.next_mseq["server"] = 0  # a ClientHello opens a handshake: the server answers with message 0
        self.hello_request = mtype == 0
        self.mseq = mseq
        raw = bytes((mtype,)) + len(body).to_bytes(3, "big") + body
        self._message(direction, self.sides[direction], mtype, raw, ts, encrypted)

    def _release(self, direction: str, everything: bool) -> None:
        """Handle the waiting messages that are next in line; `everything`: also past missing ones."""
        waiting = self.waiting[direction]
        while waiting:
            item = waiting.pop(self.next_mseq[direction], None)
            if item is None:
                if not everything:
                    return
                item = waiting.pop(min(waiting))
                self.transcript_gap = True  # a message is missing from the transcript
            self._handle(direction, *item)

    def close(self, ts: float) -> None:
        if self.held:  # their epoch never began in the capture: listed as encrypted
            self.holding = False
            self._replay()
        for direction, waiting in self.waiting.items():
            if waiting:
                self._release(direction, True)
        super().close(ts)

    def _alerts(self, direction: str, body: bytes, ts: float, encrypted: bool) -> None:
        super()._alerts(direction, body, ts, encrypted)
        for i in range(0, len(body) - 1, 2):
            if body[i] == 2:  # fatal: the association is over
                self.ended = "fatal alert"
            elif body[i + 1] == 0:
                self.closed_by.add(direction)
                if len(self.closed_by) == 2:
                    self.ended = self.ended or "close_notify"

    def _hashed(self, raw: bytes) -> None:
        if self.dtls13:  # RFC 9147 5.2: as TLS 1.3 hashes it, without message_seq and fragment fields
            self.transcript.append(raw)
            return
        if self.version == DTLS_OPENSSL_OLD:  # OpenSSL before 0.9.8f hashed the message bodies alone
            self.transcript.append(raw[4:])
            return
        # RFC 6347 4.2.6: each message enters the hash with its DTLS header, as one fragment
        n = raw[1:4]
        self.transcript.append(raw[:4] + self.mseq.to_bytes(2, "big") + b"\0\0\0" + n + raw[4:])

    def _on_hello_verify_request(self, direction: str, side: Direction, _: object, raw: bytes, ts: float) -> None:
        # the exchange restarts: the next ClientHello (with the cookie) is the first of the handshake
        self.handshakes = 0
        self._hashed(raw)
        self.cookie_exchange, self.transcript = self.transcript, []

    def _on_server_hello(self, direction: str, side: Direction, h: hs.Hello, raw: bytes, ts: float) -> None:
        if h.selected_version == DTLS13 and not self.dtls13:
            # the messages hashed so far (the ClientHello) enter DTLS 1.3's transcript without their DTLS fields
            self.dtls13 = True
            self.transcript = [m[:4] + m[12:] for m in self.transcript]
        super()._on_server_hello(direction, side, h, raw, ts)
        if self.version == DTLS_OPENSSL_OLD:
            # its hash also covers the first ClientHello and the HelloVerifyRequest, bodies only (the messages
            # so far were hashed before the version was known)
            self.transcript = [m[12:] for m in self.cookie_exchange + self.transcript[:-1]] + [raw[4:]]
        self.ctx.dtls = True
        self.ctx.version = TLS_EQUIVALENT.get(self.version or 0, self.ctx.version)


def _acked(body: bytes) -> list[list[int]]:
    """The [epoch, record number] pairs of an ACK record (RFC 9147 7: a list of 16-byte RecordNumbers)."""
    if len(body) < 2:
        return []
    n = min((body[0] << 8) | body[1], len(body) - 2)
    return [[int.from_bytes(body[i:i + 8], "big"), int.from_bytes(body[i + 8:i + 16], "big")]
            for i in range(2, 2 + n - n % 16, 16)]
