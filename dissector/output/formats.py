"""Output formats: each a writer that consumes events and finished sessions.

FORMATS maps a name to a writer class (mitmproxy export style). A writer gets every event
(`event`), every finished session (`session`) and the run summary at the end (`end`).
"""
from __future__ import annotations

import csv
import tempfile
from array import array
from collections.abc import Iterator
from typing import IO, Any

import orjson

from dissector.events import (
    AppData,
    Decryption,
    Event,
    FlowEnd,
    SessionInfo,
    SessionStart,
    TCPEvent,
    TLSMessage,
    TransportInfo,
)
from dissector.redact import scrub

# how a session not over TCP is named after its endpoints
TRANSPORT_NAMES = {"udp": " (DTLS over UDP)", "quic": " (QUIC)", "eapol": " (TLS inside EAP over 802.1X EAPOL)",
                   "radius": " (TLS inside EAP over RADIUS)", "openvpn": " (TLS inside OpenVPN over UDP)"}


def transport_name(doc: dict) -> str:
    """How a session not over TCP is named after its endpoints: " (DTLS over UDP)", " (QUIC v1)"..."""
    quic = doc.get("quic_connection")
    if quic and quic.get("version"):
        return f" ({quic['version']})"
    return TRANSPORT_NAMES.get(doc.get("transport") or "", "")


DETAIL_KEYS = ("sni", "alpn", "cipher_suite", "selected_version", "level", "description", "request_update")


def message_detail(m: dict) -> str:
    """A short human summary of a message's fields, for tables and CSV."""
    parts = []
    t = m.get("type")
    if t == "Alert":
        if m.get("encrypted") and not m.get("description"):
            return "encrypted"
        return f"{m.get('level')} {m.get('description')}"
    if t == "ClientHello":
        parts.append(m.get("version", ""))
        if m.get("supported_versions"):
            parts.append("versions " + ",".join(v.replace("TLS ", "") for v in m["supported_versions"][:4]))
        parts.append(f"{len(m.get('cipher_suites', []))} suites")
        if m.get("sni"):
            parts.append(f"SNI {m['sni']}")
        if m.get("alpn"):
            parts.append("ALPN " + ",".join(m["alpn"]))
        if m.get("session_id"):
            parts.append("session id")
        if m.get("ssl2_format"):
            parts.append("SSLv2 format")
        inner = m.get("ech_inner")
        if inner:
            parts.append(f"ECH inner: SNI {inner.get('sni') or '-'}" + (f", ALPN {','.join(inner['alpn'])}"
                                                                      if inner.get("alpn") else ""))
    elif t in ("ServerHello", "HelloRetryRequest"):
        parts.append(m.get("selected_version") or m.get("version", ""))
        parts.append(m.get("cipher_suite", ""))
        if m.get("alpn"):
            parts.append("ALPN " + ",".join(m["alpn"]))
    elif t == "Certificate" or t == "CompressedCertificate":
        certs = m.get("certificates", [])
        if m.get("algorithm"):
            parts.append(f"{m['algorithm']} {m.get('compressed_length')} -> {m.get('uncompressed_length')} bytes")
        if m.get("error"):
            parts.append(m["error"])
        if certs and m.get("certificate_type") == "RawPublicKey":
            parts.append("raw public key")
            parts.append(f"{certs[0].get('key_type', '?')} {certs[0].get('key_size', '')}".strip())
        elif certs:
            c = certs[0]
            parts.append(f"{len(certs)} cert(s): {c.get('subject', '?')}")
            if c.get("key_type"):
                parts.append(f"{c['key_type']} {c.get('key_size', '')}".strip())
            if c.get("ocsp"):  # TLS 1.3: stapled in the leaf's entry
                parts.append(ocsp_text(c["ocsp"]))
    elif t == "ServerKeyExchange":
        for k in ("named_curve", "dh_prime_bits", "psk_identity_hint", "signature_algorithm"):
            if m.get(k) not in (None, ""):
                parts.append(f"{k.replace('_', ' ')} {m[k]}")
    elif t == "ClientKeyExchange":
        if m.get("encrypted_pre_master_length"):
            parts.append(f"encrypted pre-master {m['encrypted_pre_master_length']} bytes")
        if m.get("psk_identity"):
            parts.append(f"PSK identity {m['psk_identity']}")
    elif t == "CertificateStatus" and m.get("ocsp"):
        parts.append(ocsp_text(m["ocsp"]))
    elif t == "NewSessionTicket":
        parts.append(f"lifetime {m.get('lifetime_hint')} s, ticket {m.get('ticket_length')} bytes")
    elif t == "KeyUpdate":
        parts.append(str(m.get("request_update")))
    elif t == "Finished" and m.get("verify_data"):
        parts.append(f"verify_data {m['verify_data'][:24]}")
    elif t == "Heartbeat":
        parts.append(heartbeat_text(m))
    if t == "EncryptedHandshakeMessage":
        parts.append("encrypted, no key to read it")
    if m.get("retransmission"):  # DTLS: a flight sent again after a timeout
        parts.insert(0, "retransmission")
    return ", ".join(p for p in parts if p)


def process_text(p: dict) -> str:
    """The local process of a session (macOS PKTAP): "curl (pid 4242)", and the app a daemon acted for."""
    text = f"{p.get('name')} (pid {p.get('pid')})"
    if p.get("effective_name"):
        text += f" for {p['effective_name']} (pid {p.get('effective_pid')})"
    return text


def heartbeat_text(m: dict) -> str:
    """A heartbeat record in a few words: "request, payload 16384 bytes claimed, 0 carried (Heartbleed probe)"."""
    if m.get("encrypted") and not m.get("heartbeat_type"):
        return f"encrypted, {m.get('length')} bytes"
    if m.get("continuation"):
        return f"response continued, {m.get('length')} bytes"
    kind = str(m.get("heartbeat_type", "")).removeprefix("heartbeat_")
    if m.get("malformed"):
        return f"malformed, {m.get('length')} bytes"
    claimed, carried = m.get("payload_length"), max(0, (m.get("length") or 0) - 3)
    if m.get("payload_length_exceeds_record"):
        what = "Heartbleed probe" if kind == "request" else "leaking memory: Heartbleed"
        return f"{kind}, payload {claimed} bytes claimed, {carried} carried ({what})"
    return f"{kind}, payload {claimed} bytes"


def ocsp_text(o: dict) -> str:
    """A stapled OCSP response in a few words: "OCSP good (until 2036-11-23)"."""
    if o.get("error"):
        return "OCSP: " + o["error"]
    if o.get("response_status") != "successful":
        return f"OCSP responder: {o.get('response_status')}"
    text = f"OCSP {o.get('cert_status')}"
    if o.get("cert_status") == "revoked":
        text += f" since {(o.get('revocation_time') or '?')[:10]}" + (f" ({o['revocation_reason']})"
                                                                      if o.get("revocation_reason") else "")
    return text + (f" (until {o['next_update'][:10]})" if o.get("next_update") else "")


MAX_TABLE_REQUESTS = 10
_SKIP_DETAIL = {"time", "from", "type"}


def details_pane(doc: dict, t0: float) -> str:
    """Every field of every message, indented like a packet-details pane (`analyze -v`)."""
    lines = ["  Message details:"]
    for i, m in enumerate(doc["messages"]):
        lines.append(f"  [{i}] {(m['time'] - t0) * 1000:.3f} ms {m['from']} {m['type']}")
        for k, v in m.items():
            if k not in _SKIP_DETAIL:
                _detail_lines(lines, k, v, 6)
    return "\n".join(lines) + "\n"


def _detail_lines(lines: list[str], key: str, value: Any, indent: int) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        lines.append(f"{pad}{key}:")
        for k, v in value.items():
            _detail_lines(lines, k, v, indent + 2)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        lines.append(f"{pad}{key}: ({len(value)})")
        for i, item in enumerate(value):
            name = item.get("name") or item.get("subject") or str(i)
            _detail_lines(lines, f"- {name}", {k: v for k, v in item.items() if k != "name"}, indent + 2)
    elif isinstance(value, list):
        text = ", ".join(str(x) for x in value)
        lines.append(f"{pad}{key}: {text if len(text) < 400 else text[:400] + '...'}")
    else:
        lines.append(f"{pad}{key}: {value}")



def request_url(host: str | None, target: str) -> str:
    """Where a request goes: the host before an origin-form target ("/path"); an absolute URL, CONNECT's host:port
    or "*" stands alone."""
    return f"{host or ''}{target}" if target.startswith("/") else target


def began_after(upgrade: str) -> str:
    """'after STARTTLS (SMTP)', 'after 20 bytes of an unrecognised protocol' (an upgrade that says "after" itself)."""
    return upgrade if upgrade.startswith("after ") else f"after {upgrade}"


def proxy_credentials_text(doc: dict) -> str:
    """', with Basic credentials for user alice sent to the proxy in the clear' (an HTTP proxy's CONNECT), or ''."""
    proxy = doc.get("proxy_authorization")
    if not isinstance(proxy, dict):
        return ""
    who = f" for user {proxy['user']}" if proxy.get("user") else ""
    return f", with {proxy.get('scheme')} credentials{who} sent to the proxy in the clear"


def request_line(r: dict) -> str:
    """One HTTP request as a line: method, host+target, status, and what it carried (auth, OAuth2, cookies)."""
    target = str(r.get("target") or "")
    if len(target) > 70:
        target = target[:67] + "..."
    parts = [str(r.get("method") or "?"), request_url(r.get("host"), target), "->", str(r.get("status") or "no response")]
    auth = r.get("auth")
    if isinstance(auth, dict) and auth.get("scheme"):
        proxy = "proxy " if auth.get("header") == "Proxy-Authorization" else ""
        parts.append(f"[{proxy}{auth['scheme']}{' ' + auth['user'] if auth.get('user') else ''}]")
    if r.get("oauth2_step"):
        parts.append(f"[OAuth2 {r['oauth2_step']}]")
    if r.get("set_cookies"):
        parts.append(f"[sets {len(r['set_cookies'])} cookie(s)]")
    return " ".join(parts)


class Writer:
    details = True  # whether session documents need every field of every message
    messages = True  # whether they list the messages and TCP events at all (else only count the messages)

    def __init__(self, out: IO[str], verbose: bool = False, show_secrets: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self.show_secrets = show_secrets

    def event(self, ev: Event) -> None:
        pass

    def session(self, doc: dict) -> None:
        pass

    def end(self, summary: dict) -> None:
        pass

    def flush(self) -> None:
        """Write out what is held back (writers that batch their output)."""


class JSONWriter(Writer):
    """One JSON document: {"sessions": [...], "summary": {...}}, sessions in (capture, flow id) order.

    Sessions end in any order, and the document lists them sorted, so they wait for the end: each is
    encoded on one compact line (`encode_bytes`) as soon as it ends and written to a temporary file. Memory
    keeps two numbers per session (its order key and where its text starts), whatever the capture's size.
    """

    def __init__(self, out: IO[str], verbose: bool = False, show_secrets: bool = False) -> None:
        super().__init__(out, verbose, show_secrets)
        self._spill: IO[bytes] | None = None  # made at the first session
        self._keys = array("q")  # capture index << 40 | flow id, per session in arrival order
        self._starts = array("q")  # where each session's text starts in the spill file
        self._size = 0

    def session(self, doc: dict) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="dissector-json-")
        data = encode_bytes(doc)
        self._keys.append(doc.get("capture_index", 0) << 40 | doc["id"])
        self._starts.append(self._size)
        self._spill.write(data)
        self._size += len(data)

    def end(self, summary: dict) -> None:
        out = self.out
        out.write('{"sessions": [')
        for i, text in enumerate(self._sorted_sessions()):
            out.write("\n" if i == 0 else ",\n")
            out.write(text)
        out.write('\n],\n"summary": ')
        out.write(encode_bytes(summary, orjson.OPT_INDENT_2).decode("utf-8"))
        out.write("}\n")

    def _sorted_sessions(self) -> Iterator[str]:
        spill = self._spill
        if spill is None:
            return
        keys, starts = self._keys, self._starts
        starts.append(self._size)  # the end of the last one
        order = range(len(keys))
        if any(keys[i] > keys[i + 1] for i in range(len(keys) - 1)):
            order = sorted(order, key=keys.__getitem__)
        try:
            spill.flush()
            position = -1
            for i in order:
                if starts[i] != position:
                    spill.seek(starts[i])
                position = starts[i + 1]
                yield spill.read(position - starts[i]).decode("utf-8")
        finally:
            spill.close()
            self._spill = None


class JSONLWriter(Writer):
    """One JSON object per event, as it is produced; a session summary line when each session ends.

    Every line is a dict encoded by orjson (which also writes a float in a third of the time repr()
    takes); the frequent events carry a few fixed fields, the others all of theirs. Lines are collected
    and written `batch` at a time (a list append costs a fraction of a text-file write); `batch=1` writes
    each line at once (live).
    """

    details = False
    messages = False  # the events are lines of their own: the Session line counts the messages

    def __init__(self, out: IO[str], verbose: bool = False, show_secrets: bool = False, batch: int = 256) -> None:
        super().__init__(out, verbose, show_secrets)
        self.batch = batch
        self._lines: list[str] = []
        self._put = out.write if batch <= 1 else self._lines.append  # batch <= 1: nothing is held back

    def flush(self) -> None:
        if self._lines:
            self.out.write("".join(self._lines))
            self._lines.clear()

    def event(self, ev: Event) -> None:
        if len(self._lines) >= self.batch:
            self.flush()
        line = self._line(ev)
        try:  # encode_line, without its two calls: this runs once per event
            self._put(orjson.dumps(line, default=_default, option=_LINE_OPTIONS).decode("utf-8"))
        except TypeError:
            self._put(encode_line(line))

    def _line(self, ev: Event) -> dict[str, Any]:
        flow = ev.flow
        fid = flow.id if flow is not None else None
        t = type(ev)
        if t is AppData:
            return {"event": "AppData", "time": ev.ts, "flow": fid, "from": ev.direction, "length": ev.length,
                    "decrypted": ev.data is not None}
        if t is TLSMessage:
            d: dict[str, Any] = {"event": "TLSMessage", "time": ev.ts, "flow": fid, "from": ev.direction,
                                 "type": ev.type}
            if ev.encrypted:
                d["encrypted"] = True
            if self.verbose:  # every parsed field
                for k, v in ev.info.items():
                    d.setdefault(k, v)
            elif ev.type == "Alert":
                info = ev.info
                if "level" in info:
                    d["level"], d["description"] = info["level"], info["description"]
            return d
        if t is TCPEvent:
            return {"event": "TCPEvent", "time": ev.ts, "flow": fid, "direction": ev.direction, "state": ev.state}
        if t is SessionStart:
            d = {"event": "SessionStart", "time": ev.ts, "flow": fid}
            if ev.cleartext:
                d["cleartext"] = True
            if ev.upgrade:
                d["upgrade"] = ev.upgrade
            return d
        if t is FlowEnd:
            return {"event": "FlowEnd", "time": ev.ts, "flow": fid, "reason": ev.reason}
        if t is SessionInfo:
            d = {"event": "SessionInfo", "time": ev.ts, "flow": fid, "version": ev.version,
                 "cipher_suite": ev.cipher_suite, "sni": ev.sni, "alpn": ev.alpn, "resumed": ev.resumed}
            if ev.ech is not None:
                d["ech"] = ev.ech
            return d
        if t is Decryption:
            d = {"event": "Decryption", "time": ev.ts, "flow": fid, "status": ev.status, "detail": ev.detail}
            if ev.key_random:
                d["key_random"] = ev.key_random.hex()
            return d
        if t is TransportInfo:  # (what it carries may hold a secret: an HTTP proxy's credentials)
            return {"event": "TransportInfo", "time": ev.ts, "flow": fid, "section": ev.section,
                    "info": scrub(ev.info, self.show_secrets)}
        d = {"event": ev.kind, "time": ev.ts, "flow": fid}
        for k, v in ev.fields().items():
            d[k] = v
        return d

    def session(self, doc: dict) -> None:
        d = {"event": "Session", **{k: v for k, v in doc.items() if k not in ("messages", "tcp")}}
        m = doc["messages"]
        d["messages"] = m if type(m) is int else len(m)  # a count already when the collector kept no list
        self._put(encode_line(d))

    def end(self, summary: dict) -> None:
        self.flush()
        self.out.write(encode({"event": "Summary", **summary}))
        self.out.write("\n")


class CSVWriter(Writer):
    """One row per message, with the session's parameters repeated so each row stands alone."""

    COLUMNS = ["session", "client", "server", "version", "cipher_suite", "sni", "decryption", "history",
               "time", "relative_ms", "from", "type", "detail", "ja3_hash", "ja4", "findings"]

    def __init__(self, out: IO[str], verbose: bool = False, show_secrets: bool = False) -> None:
        super().__init__(out, verbose, show_secrets)
        self.w = csv.writer(out)
        self.w.writerow(self.COLUMNS)

    def session(self, doc: dict) -> None:
        t0 = _first_time(doc)
        fp = doc.get("fingerprints") or {}
        findings = ";".join(f"{f['severity']}:{f['id']}" for f in doc.get("findings") or ())
        for m in doc["messages"]:
            self.w.writerow([doc["id"], doc["client"], doc["server"], doc["version"] or "", doc["cipher_suite"] or "",
                             doc["sni"] or "", doc["decryption"]["status"], doc.get("history", ""),
                             f"{m['time']:.6f}", f"{(m['time'] - t0) * 1000:.3f}", m["from"], m["type"],
                             message_detail(m), fp.get("ja3_hash") or "", fp.get("ja4") or "", findings])


class TableWriter(Writer):
    """Per session: a header with the negotiated parameters, then its messages with relative times."""

    def session(self, doc: dict) -> None:
        from tabulate import tabulate

        dec = doc["decryption"]
        head = [
            f"Session {doc['id']}: {doc['client']} -> {doc['server']}" + transport_name(doc),
            f"  version {doc['version'] or '?'}   suite {doc['cipher_suite'] or '?'}"
            + (f"   SNI {doc['sni']}" if doc.get("sni") else "") + (f"   ALPN {doc['alpn']}" if doc.get("alpn") else "")
            + ("   resumed" if doc.get("resumed") else ""),
            f"  decryption: {dec['status']}" + (f" ({dec['detail']})" if dec.get("detail") else ""),
        ]
        if doc.get("process"):
            head.append("  process: " + process_text(doc["process"]))
        if doc.get("ech"):
            head.insert(2, "  " + ech_line(doc["ech"]))
        if doc.get("cleartext"):  # plain HTTP read by the plugins: there is no TLS to describe
            head[1:3] = ["  cleartext: no TLS on this connection, everything below travelled unencrypted"]
        if doc.get("upgrade"):
            head.insert(1, f"  TLS began {began_after(doc['upgrade'])} on this connection{proxy_credentials_text(doc)}")
        if doc.get("eap"):
            head.insert(1, "  " + eap_line(doc["eap"]))
        if doc.get("openvpn"):
            head.insert(1, "  " + openvpn_line(doc["openvpn"]))
        for i, step in enumerate(doc.get("quic") or []):  # Retry, Version Negotiation, in their order
            head.insert(1 + i, f"  QUIC {step['packet']}{' (ignored)' if step.get('ignored') else ''}: "
                               f"{step.get('detail')}")
        if doc.get("app_data"):
            ad = doc["app_data"]
            head.append(f"  application data: client {ad['client']['bytes']} bytes, server {ad['server']['bytes']} bytes")
        if doc.get("early_data"):
            ed = doc["early_data"]
            quic = doc.get("transport") == "quic"
            dropped = " (the server discarded them; the client sent the same bytes again in 1-RTT)" if quic else \
                " (not in the application data: the server discarded it)"
            head.append(f"  0-RTT early data: {ed['status']}, {ed['records']} {'packet(s)' if quic else 'record(s)'}, "
                        f"{ed['bytes']} bytes" + (dropped if ed["status"] == "rejected" else "")
                        + (f"; {ed['detail']}" if ed.get("detail") else ""))
        head += session_assessment_lines(doc)
        t0 = _first_time(doc)
        items = [(m["time"], 1, i, m) for i, m in enumerate(doc["messages"])]
        items += [(e["time"], 0, i, e) for i, e in enumerate(doc.get("tcp", []))]
        rows = []
        for when, is_msg, _, m in sorted(items, key=lambda x: x[:3]):
            arrow = "C -> S" if m["from"] == "client" else "C <- S"
            if is_msg:
                lock = "*" if m.get("encrypted") else ""
                rows.append([f"{(when - t0) * 1000:9.3f}", arrow, m["type"] + lock, message_detail(m)])
            else:
                extra = f"{m['missing']} bytes missing from the capture" if m["event"] == "GAP" else ""
                rows.append([f"{(when - t0) * 1000:9.3f}", arrow, f"TCP {m['event']}", extra])
        self.out.write("\n".join(head) + "\n")
        if rows:
            self.out.write(tabulate(rows, headers=["ms", "dir", "message", "detail"], tablefmt="simple",
                                    disable_numparse=True) + "\n")
            if any(m.get("encrypted") for m in doc["messages"]):
                self.out.write("  (* sent encrypted)\n")
        if self.verbose:
            self.out.write(details_pane(doc, t0))
        http = doc.get("http") or {}
        requests = http.get("requests") or []
        if requests:
            self.out.write(f"  {http.get('protocol', 'HTTP')} requests:\n")
            for r in requests[:MAX_TABLE_REQUESTS]:
                self.out.write("    " + request_line(r) + "\n")
            if len(requests) > MAX_TABLE_REQUESTS:
                self.out.write(f"    ... {len(requests) - MAX_TABLE_REQUESTS} more (dissector http lists them all)\n")
        mail = doc.get("mail") or {}
        if mail.get("logins"):
            self.out.write(f"  {mail.get('protocol') or 'mail'} logins:\n")
            for x in mail["logins"][:MAX_TABLE_REQUESTS]:
                how = " ".join(p for p in (x.get("command"), x.get("mechanism")) if p)
                secret = f", password {x['password']}" if x.get("password") else ""
                self.out.write(f"    {how}: user {x.get('user')}{secret} -> {x.get('result') or 'no answer'}\n")
        xmpp = doc.get("xmpp") or {}
        if xmpp.get("logins"):
            self.out.write(f"  XMPP logins (domain {xmpp.get('domain')}):\n")
            for x in xmpp["logins"][:MAX_TABLE_REQUESTS]:
                secret = f", password {x['password']}" if x.get("password") else ""
                self.out.write(f"    {x.get('mechanism')}: user {x.get('user')}{secret} -> {x.get('result') or 'no answer'}\n")
        ftp = doc.get("ftp") or {}
        if ftp.get("logins") or ftp.get("transfers"):
            self.out.write("  FTP:\n")
            for x in ftp.get("logins", [])[:MAX_TABLE_REQUESTS]:
                secret = f", password {x['password']}" if x.get("password") else ""
                self.out.write(f"    login: user {x.get('user')}{secret} -> {x.get('result') or 'no answer'}\n")
            for t in ftp.get("transfers", [])[:MAX_TABLE_REQUESTS]:
                self.out.write(f"    {t['command']} {t.get('path') or ''}".rstrip() + f" -> {t.get('reply') or 'no answer'}\n")
        for a in doc.get("anomalies", [])[:5]:
            self.out.write(f"  ! {a['name']}: {a['detail']}\n")
        self.out.write("\n")

    def end(self, summary: dict) -> None:
        self.out.write(summary_line(summary) + "\n")


def summary_line(summary: dict) -> str:
    """The run in one line: sessions, packets, decryption, what was skipped, findings."""
    clear = summary.get("cleartext_sessions") or 0
    parts = [f"{summary['sessions'] - clear} TLS session(s)" + (f", {clear} cleartext session(s)" if clear else ""),
             f"{summary['packets']} packets"]
    by = summary.get("decryption", {})
    if by:
        parts.append(", ".join(f"{n} {k}" for k, n in sorted(by.items())))
    if summary.get("non_tls_flows"):
        parts.append(f"{summary['non_tls_flows']} non-TLS TCP flow(s) ignored")
    if summary.get("quic_packets"):
        parts.append(f"{summary['quic_packets']} QUIC (HTTP/3) packet(s) not analysed: their connections' "
                     "Initial packets are not in the capture")
    if summary.get("snapped_packets"):
        parts.append(f"{summary['snapped_packets']} packet(s) cut short by the capture's snapshot length")
    if summary.get("findings") is not None:
        parts.append("findings: " + (", ".join(f"{n} {sev}" for sev, n in summary["findings"].items() if n)
                                     or "none"))
    return "Summary: " + "; ".join(parts)


def session_assessment_lines(doc: dict) -> list[str]:
    """Table lines for a session's fingerprints, certificate and findings (highest severity first)."""
    lines = []
    fp = doc.get("fingerprints")
    if fp and (fp.get("ja3_hash") or fp.get("ja4") or fp.get("ja3s_hash")):
        parts = []
        if fp.get("ja3_hash"):
            parts.append(f"JA3 {fp['ja3_hash']}")
        if fp.get("ja4"):
            parts.append(f"JA4 {fp['ja4']}")
        if fp.get("ja3s_hash"):
            parts.append(f"JA3S {fp['ja3s_hash']}")
        lines.append("  fingerprints: " + "   ".join(parts))
    certs = doc.get("certificates")
    if certs is not None and not doc.get("cleartext"):
        lines.append("  certificate: " + _certificate_text(certs))
    findings = doc.get("findings")
    if findings is not None:
        groups: dict[str, list[str]] = {}
        for f in findings:  # already sorted from the highest severity down
            ids = groups.setdefault(f["severity"], [])
            if f["id"] not in ids:
                ids.append(f["id"])
        lines.append("  findings: " + ("; ".join(f"[{sev}] {', '.join(ids)}" for sev, ids in groups.items())
                                       or "none"))
    return lines


def _certificate_text(certs: dict) -> str:
    from dissector.tls.certcheck import validity_text

    server = certs.get("server")
    if not server or not server.get("chain"):
        return certs.get("note") or "none"
    leaf = server["chain"][0]
    key = f"{leaf.get('key_type', '?')} {leaf.get('key_size', '')}".strip()
    if server.get("raw_public_key"):
        return f"raw public key (RFC 7250), {key}, SHA-256 {leaf.get('sha256', '?')[:16]}...: no certificate to check"
    parts = [f"{leaf.get('subject') or leaf.get('error', '?')} ({key})", validity_text(leaf)]
    if len(server["chain"]) > 1:
        parts.append(f"chain of {len(server['chain'])}" + ("" if server.get("chain_ordered", True) else " out of order"))
    if leaf.get("self_signed"):
        parts.append("self-signed")
    if server.get("sni_match") is not None:
        parts.append("SNI matches" if server["sni_match"] else "SNI does not match")
    ver = server.get("verification")
    if ver:
        parts.append("verified" if ver["status"] == "verified" else f"verification {ver['status']}: {ver['detail']}")
    if server.get("ocsp"):
        o = server["ocsp"]
        parts.append("stapled " + ocsp_text(o) + ("" if o.get("validity", "current") == "current"
                                                   else f", {o['validity']} at capture time"))
    client = certs.get("client")
    if client and client.get("chain"):
        parts.append(f"client certificate {client['chain'][0].get('subject', '?')}")
    return ", ".join(parts)


def eap_line(eap: dict) -> str:
    """The EAP conversation a TLS session travelled in, in one line."""
    via = f" via the authenticator {eap['authenticator']}" if eap.get("authenticator") else ""
    who = f" for identity {eap['identity']!r}" if eap.get("identity") is not None else ""
    outcome = {"Success": "EAP-Success", "Failure": "EAP-Failure"}.get(eap.get("outcome") or "", "no outcome in the capture")
    return f"{eap.get('method') or 'EAP'} over {eap.get('carrier')}{via}{who}: {outcome}"


def openvpn_line(info: dict) -> str:
    """The OpenVPN session a TLS session was the control channel of, in one line."""
    data = info.get("data_packets") or {}
    key = f" under key id {info['key_id']} (a renegotiation)" if info.get("key_id") else ""
    return (f"OpenVPN over {info.get('transport')}: the TLS session is its control channel{key} (static-key "
            f"protection: {info.get('control_channel')}); {data.get('client', 0)} + {data.get('server', 0)} data "
            "packets meanwhile")


def ech_line(info: dict) -> str:
    """One line on a session's Encrypted Client Hello: whether the server took the inner hello, and its name."""
    name = f" (inner SNI {info['inner_sni']}" + (f", public name {info['public_name']})" if info.get("public_name")
                                                 else ")") if info.get("inner_sni") else ""
    if info["status"] == "accepted":
        line = f"Encrypted Client Hello: accepted{name}"
        return line if info.get("inner_sni") else line + f", inner random {info['inner_random'][:16]}..."
    return f"Encrypted Client Hello: rejected{name}; " + info.get("detail", "")


def _first_time(doc: dict) -> float:
    times = [m["time"] for m in doc["messages"]] + [e["time"] for e in doc.get("tcp", [])]
    return min(times) if times else 0.0


def _default(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray, memoryview)):
        return bytes(o).hex()
    if isinstance(o, (set, frozenset)):
        try:
            return sorted(o)
        except TypeError:  # values that do not compare (1 and "a"): a stable order all the same
            return sorted(o, key=repr)
    return printable(str(o))


_OPTIONS = orjson.OPT_NON_STR_KEYS
_LINE_OPTIONS = _OPTIONS | orjson.OPT_APPEND_NEWLINE


def encode_bytes(obj: Any, option: int = 0) -> bytes:
    """Compact JSON of one output object (orjson: several times faster than json's C encoder).

    Bytes become hex, sets sorted lists, anything else unknown its str() (a Secret shows redacted). What
    orjson refuses is made writable first: an integer beyond 64 bits (a plugin's, or a number in a peer's
    JSON body) becomes its decimal text, a string with lone surrogates (a file name that is not UTF-8, as
    Python decodes it) gets U+FFFD for its undecodable bytes, and what nests deeper than 200 levels is
    replaced by "(nested too deeply)"."""
    try:
        return orjson.dumps(obj, default=_default, option=_OPTIONS | option)
    except TypeError:
        return orjson.dumps(_jsonable(obj), default=_default, option=_OPTIONS | option)


def encode(obj: Any) -> str:
    return encode_bytes(obj).decode("utf-8")


def encode_line(obj: Any) -> str:
    """`encode` with the newline that ends a jsonl line."""
    return encode_bytes(obj, orjson.OPT_APPEND_NEWLINE).decode("utf-8")


def printable(text: str) -> str:
    """A string that UTF-8 can encode: the undecodable bytes of a non-UTF-8 file name become U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that no byte was decoded into
        return text.encode("utf-8", "replace").decode("utf-8")


def _jsonable(obj: Any, depth: int = 0) -> Any:
    if depth > 200:  # orjson stops at 255 levels; a peer's JSON body can nest deeper than that
        return "(nested too deeply)"
    t = type(obj)
    if t is int and not -(1 << 63) <= obj < 1 << 64:
        return str(obj)
    if t is str:
        return printable(obj)
    if isinstance(obj, dict):
        return {printable(k) if type(k) is str else k: _jsonable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in obj]
    return obj


FORMATS: dict[str, type[Writer]] = {"table": TableWriter, "json": JSONWriter, "jsonl": JSONLWriter, "csv": CSVWriter}
