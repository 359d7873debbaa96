"""Fold the event stream into one summary per TLS session: the shape of the JSON contract.

`SessionCollector.add(event)` consumes events; a session is complete at its FlowEnd and is then
handed to `on_session` (so table output can print sessions as they finish) and kept in `sessions`
only when `keep` is set (JSON needs them all; jsonl and streaming tables do not).

At the end of each session `dissector.findings.enrich` adds "fingerprints" (JA3, JA3S, JA4 of the first
hellos, always), "certificates" (only when `details`: the chains judged at the session's first timestamp,
verified against the CA store of `--ca` when there is one) and "findings"; what they need is noted on the way
by `HandshakeNotes` (the hello bodies and the first Certificate message of each side, nothing unbounded).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from dissector.events import (
    Anomaly,
    AppData,
    Decryption,
    EarlyData,
    Event,
    FlowEnd,
    QUICEvent,
    SessionInfo,
    SessionStart,
    TCPEvent,
    TCPGap,
    TLSMessage,
    TransportInfo,
)
from dissector.findings import HandshakeNotes, enrich
from dissector.plugins import PluginFields
from dissector.redact import scrub
from dissector.tls import certcheck

MAX_ANOMALIES = 50
MAX_TCP_EVENTS = 20
# zeek-style history: one letter per message, upper case from the client, lower case from the server
HISTORY_LETTERS = {
    "ClientHello": "H", "ServerHello": "H", "HelloRetryRequest": "R", "Certificate": "C",
    "CompressedCertificate": "C", "ServerKeyExchange": "K",
    "ClientKeyExchange": "K", "CertificateRequest": "Q", "ServerHelloDone": "D", "CertificateVerify": "V",
    "ChangeCipherSpec": "X", "Finished": "F", "NewSessionTicket": "T", "EncryptedExtensions": "E",
    "EncryptedHandshakeMessage": "N", "HelloRequest": "B", "KeyUpdate": "U", "EndOfEarlyData": "O",
    "CertificateStatus": "S", "Alert": "A", "HelloVerifyRequest": "W",  # (DTLS: the server wants a cookie)
}
MAX_HISTORY = 60


class Session:
    """One TLS session as it is being collected."""

    __slots__ = ("flow", "doc", "hashes", "first_ts", "history", "other_events", "records", "notes", "early_hash")

    def __init__(self, event: Event, messages: bool = True) -> None:
        flow = event.flow
        assert flow is not None
        self.flow = flow
        self.first_ts = flow.start_ts
        self.hashes: dict[str, Any] = {}
        self.records: dict[str, list] = {}  # direction -> [records, bytes on the wire, first time, last time]
        self.history: list[str] = []
        self.doc: dict[str, Any] = {
            "id": flow.id, "client": flow.client, "server": flow.server, "version": None, "cipher_suite": None,
            "sni": None, "alpn": None, "resumed": False, "messages": [] if messages else 0,  # else their count
            "decryption": {"status": "not-encrypted", "detail": ""},
        }
        if flow.transport != "tcp":  # DTLS; the field is absent for TLS over TCP
            self.doc["transport"] = flow.transport
        self.other_events: list[dict] = []
        self.notes = HandshakeNotes()  # hello bodies and certificates for fingerprints, certificates, findings
        self.early_hash: Any = None  # SHA-256 of the rejected 0-RTT plaintext (False once a record had none)

    def finish(self) -> dict[str, Any]:
        doc = self.doc
        # the flow may have been turned round after the first packet (mid-stream capture)
        doc["client"], doc["server"] = self.flow.client, self.flow.server
        if self.hashes:
            doc["app_data"] = {side: {"bytes": n, "sha256": h.hexdigest()} for side, (n, h) in
                               ((s, self.hashes[s]) for s in ("client", "server") if s in self.hashes)}
            for side in ("client", "server"):
                doc["app_data"].setdefault(side, {"bytes": 0, "sha256": hashlib.sha256().hexdigest()})
        if self.records:
            doc["app_records"] = {side: {"records": r[0], "bytes": r[1], "first": r[2], "last": r[3]}
                                  for side, r in self.records.items()}
        if self.early_hash:
            doc["early_data"]["sha256"] = self.early_hash.hexdigest()
        doc["history"] = "".join(self.history)
        if self.other_events:
            doc["events"] = self.other_events
        return doc


class SessionCollector:
    def __init__(self, on_session: Callable[[dict], None] | None = None, keep: bool = True,
                 details: bool = True, trust: certcheck.TrustStore | None | bool = True, messages: bool = True,
                 show_secrets: bool = False) -> None:
        self.on_session = on_session
        self.show_secrets = show_secrets  # (a carrier's secret, such as an HTTP proxy's credentials, shown)
        self.keep = keep
        self.details = details  # include every parsed field of every message (else type, direction, alerts)
        # list the messages and TCP events in the document; else "messages" is their count and there is no
        # "tcp" (what a jsonl Session line shows: the events have lines of their own)
        self.messages = messages
        # CA store for certificate verification (True: the process-wide one that `analyze --ca` configures)
        self.trust = certcheck.current_trust() if trust is True else trust or None
        self.open: dict[int, Session] = {}
        self.sessions: list[dict] = []
        self.tcp: dict[int, list] = {}  # TCP events that came before TLS was detected on the flow

    def add(self, ev: Event) -> None:
        flow = ev.flow
        if flow is None:
            return
        s = self.open.get(flow.id)
        t = type(ev)
        if t is AppData:
            if s is None:
                return
            rec = s.records.get(ev.direction)
            if rec is None:
                s.records[ev.direction] = [1, ev.length, ev.ts, ev.ts]
            else:
                rec[0] += 1
                rec[1] += ev.length
                rec[3] = ev.ts
            if ev.data is not None:
                h = s.hashes.get(ev.direction)
                if h is None:
                    s.hashes[ev.direction] = [len(ev.data), hashlib.sha256(ev.data)]
                else:
                    h[0] += len(ev.data)
                    h[1].update(ev.data)
            return
        if t is TLSMessage:
            if s is not None:
                if not self.messages:
                    s.doc["messages"] += 1
                else:
                    m = {"time": ev.ts, "from": ev.direction, "type": ev.type}
                    if ev.encrypted:
                        m["encrypted"] = True
                    if self.details or ev.code < 0:
                        for k, v in ev.info.items():
                            m.setdefault(k, v)
                    s.doc["messages"].append(m)
                if HandshakeNotes.wants(ev):
                    s.notes.add(ev)
                if len(s.history) < MAX_HISTORY:
                    letter = HISTORY_LETTERS.get(ev.type, "?")
                    s.history.append(letter if ev.direction == "client" else letter.lower())
            return
        if t is SessionStart:
            s = self.open[flow.id] = Session(ev, self.messages)
            if ev.cleartext:  # plain HTTP: no TLS, read by the plugins as it is
                s.doc["cleartext"] = True
            if ev.upgrade:
                s.doc["upgrade"] = ev.upgrade
            if self.messages:
                s.doc["tcp"] = self.tcp.pop(flow.id, None) or []
            return
        if t is TCPEvent or t is TCPGap:
            if t is TCPGap and s is not None:
                s.notes.gap = True
            if not self.messages:
                return
            item = {"time": ev.ts, "from": ev.direction, "event": ev.state if t is TCPEvent else "GAP"}
            if t is TCPGap:
                item["missing"] = ev.missing
            if s is not None:
                if len(s.doc["tcp"]) < MAX_TCP_EVENTS:
                    s.doc["tcp"].append(item)
            elif ev.state != "MIDSTREAM" if t is TCPEvent else True:
                lst = self.tcp.setdefault(flow.id, [])
                if len(lst) < MAX_TCP_EVENTS:
                    lst.append(item)
            return
        if s is None:
            if t is FlowEnd:
                self.tcp.pop(flow.id, None)
            return
        if t is SessionInfo:
            d = s.doc
            if d["version"] is None:
                d["version"], d["cipher_suite"] = ev.version, ev.cipher_suite
            d["sni"] = d["sni"] or ev.sni
            d["alpn"] = d["alpn"] or ev.alpn
            d["resumed"] = d["resumed"] or ev.resumed
            if ev.ech is not None:
                d["ech"] = ev.ech
        elif t is EarlyData:
            _early_data(s, ev)
        elif t is TransportInfo:  # EAP, OpenVPN, an HTTP proxy: what the carrier of the TLS session says besides TLS
            s.doc[ev.section] = scrub(ev.info, self.show_secrets)
        elif t is QUICEvent:  # Retry, Version Negotiation: QUIC's own steps of the handshake, as "tcp" lists TCP's
            item = {"time": ev.ts, "from": ev.direction, "packet": ev.packet, "detail": ev.detail}
            if ev.ignored:
                item["ignored"] = True
            lst = s.doc.setdefault("quic", [])
            if len(lst) < MAX_TCP_EVENTS:
                lst.append(item)
        elif t is Decryption:
            s.doc["decryption"] = {"status": ev.status, "detail": ev.detail}
            if ev.key_random:
                s.doc["decryption"]["key_random"] = ev.key_random.hex()
        elif t is Anomaly:
            lst = s.doc.setdefault("anomalies", [])
            if len(lst) < MAX_ANOMALIES:
                lst.append({"time": ev.ts, "layer": ev.layer, "name": ev.name, "detail": ev.detail})
        elif t is FlowEnd:
            del self.open[flow.id]
            doc = s.finish()
            try:  # fingerprints, certificates (when details are wanted) and findings, once per session
                enrich(doc, s.notes, when=s.first_ts, details=self.details, trust=self.trust,
                       server_ip=s.flow.server_ip)
            except Exception as exc:  # noqa: BLE001 - a bug here must not lose the session: report it on it
                doc.setdefault("anomalies", []).append({"time": ev.ts, "layer": "analysis", "name": "analysis_error",
                                                        "detail": f"{type(exc).__name__}: {exc}"})
            doc["end"] = {"time": ev.ts, "reason": ev.reason}
            if self.keep:
                self.sessions.append(doc)
            if self.on_session is not None:
                self.on_session(doc)
        elif t is PluginFields:  # a plugin's fields for the session: doc["http"] = {...}
            s.doc[ev.section] = ev.fields_
        elif getattr(ev, "summarized", False):  # plugin events whose content the plugin's fields carry
            pass
        else:  # other plugin events: kept generically
            if len(s.other_events) < 1000:
                s.other_events.append({"time": ev.ts, "kind": ev.kind, **_jsonable(ev.fields())})


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        out[k] = v.hex() if isinstance(v, (bytes, bytearray, memoryview)) else v
    return out


def _early_data(s: Session, ev: EarlyData) -> None:
    """A session's `early_data`: what became of its 0-RTT data, and how much there was (a rejected record's
    plaintext is hashed: it is not in `app_data`, since the server discarded it)."""
    ed = s.doc.get("early_data")
    if ed is None:
        ed = s.doc["early_data"] = {"status": ev.status, "detail": ev.detail, "records": 0, "bytes": 0}
    ed["records"] += ev.records
    ed["bytes"] += ev.length
    if ev.status == "rejected" and ev.records:
        if ev._data is None or s.early_hash is False:
            s.early_hash = False  # (some of it was not decrypted: no hash)
        else:
            if s.early_hash is None:
                s.early_hash = hashlib.sha256()
            s.early_hash.update(ev._data)
