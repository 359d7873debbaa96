"""Handshake timelines: events, phases and durations of a TLS session, and their renderings.

Sans-IO: every function here takes session documents (the dicts built by `output/sessions.py`, the
JSON contract of DESIGN.md) or the timelines made from them, and returns data or text. Nothing here
reads files or clocks, so each piece is unit-testable on hand-made documents.

- `session_timeline(doc)`: every TCP and TLS event with absolute and relative times, direction and
  phase, plus the durations people ask about. A duration that the capture cannot give is
  `{"ms": None, "reason": "..."}`: never estimated.
- `csv_text`, `json_text`: for scripts. `render_svg`: the ladder diagram of one session.
  `render_html`: a self-contained report (no network fetches, no script) of many sessions.

Every string that comes from the capture (SNI, certificate subjects, ALPN, file names) is
attacker-controlled: it only reaches HTML/SVG through `esc()`.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dissector.output.formats import message_detail, process_text
from dissector.tunnel import TUNNEL_ID_BASE

# phase id -> (label, colour). Colours are distinct in hue and lightness (readable in greyscale too).
PHASES: dict[str, tuple[str, str]] = {
    "tcp-connect": ("TCP connect", "#64748b"),
    "hello": ("Hello", "#2563eb"),
    "key-exchange": ("Certificate & key exchange", "#c2410c"),
    "finished": ("ChangeCipherSpec & Finished", "#15803d"),
    "application-data": ("Application data", "#7e22ce"),
    "close": ("Close", "#0e7490"),
    "other": ("Other", "#6b7280"),
}
ALERT_COLOUR = "#dc2626"
PHASE_OF_TYPE = {
    "ClientHello": "hello", "ServerHello": "hello", "HelloRetryRequest": "hello", "HelloRequest": "hello",
    "EncryptedExtensions": "hello", "HelloVerifyRequest": "hello",
    "Certificate": "key-exchange", "CompressedCertificate": "key-exchange", "CertificateStatus": "key-exchange",
    "ServerKeyExchange": "key-exchange",
    "CertificateRequest": "key-exchange", "ServerHelloDone": "key-exchange", "ClientKeyExchange": "key-exchange",
    "CertificateVerify": "key-exchange",
    "ChangeCipherSpec": "finished", "Finished": "finished", "EndOfEarlyData": "finished",
    "NewSessionTicket": "finished", "KeyUpdate": "application-data", "Heartbeat": "application-data",
    "Alert": "close",
}
TCP_LABELS = {"SYN": "SYN", "SYN-ACK": "SYN-ACK", "ESTABLISHED": "ACK", "FIN": "FIN", "RST": "RST",
              "GAP": "gap", "MIDSTREAM": "mid-stream"}
TCP_DETAILS = {"SYN": "client opens the TCP connection", "SYN-ACK": "server accepts",
               "ESTABLISHED": "three-way handshake complete", "FIN": "no more data from this side",
               "RST": "connection reset", "MIDSTREAM": "capture starts inside an open connection"}
DURATION_KEYS = ("tcp_connect", "tls_handshake", "first_app_data", "session")
DURATION_LABELS = {"tcp_connect": "TCP connect", "tls_handshake": "TLS handshake",
                   "first_app_data": "First application data", "session": "Session"}
DETAIL_CHARS = 60  # detail text under an arrow: what fits between the lanes
MAX_DIAGRAM_ROWS = 600  # rows drawn per ladder; the rest are counted in a note (JSON/CSV keep them all)


# ---------------------------------------------------------------------------------------------------
# Events, phases and durations


def _is_tls13(doc: dict) -> bool:
    return (doc.get("version") or "").startswith(("TLS 1.3", "DTLS 1.3"))


def _first_handshake(msgs: list[dict], tls13: bool) -> dict[str, Any]:
    """Where the first handshake starts and ends in `msgs` (wire order).

    Returns {"ch": index|None, "sh": index|None, "fin": {side: index|None}, "inferred": {side: bool}, "end": index|None}.
    In TLS <= 1.2 without a key, the first encrypted handshake message a side sends right after its
    ChangeCipherSpec is its Finished (RFC 5246 7.1), so it counts (marked inferred).
    """
    out: dict[str, Any] = {"ch": None, "sh": None, "fin": {"client": None, "server": None},
                           "inferred": {"client": False, "server": False}, "end": None}
    ch = next((i for i, m in enumerate(msgs) if m.get("type") == "ClientHello"), None)
    out["ch"] = ch
    if ch is None:
        return out
    fin = out["fin"]
    last_type: dict[str, str | None] = {"client": None, "server": None}
    for i in range(ch, len(msgs)):
        m = msgs[i]
        t, side = m.get("type"), m.get("from")
        if side not in fin:
            continue
        if t == "ClientHello" and i != ch and out["sh"] is not None:
            break  # a new handshake began before this one finished
        if t == "ServerHello" and out["sh"] is None:
            out["sh"] = i
        if fin[side] is None:
            if t == "Finished":
                fin[side] = i
            elif t == "EncryptedHandshakeMessage" and not tls13 and last_type[side] == "ChangeCipherSpec":
                fin[side] = i
                out["inferred"][side] = True
        last_type[side] = t
        if fin["client"] is not None and fin["server"] is not None:
            out["end"] = max(fin["client"], fin["server"])
            break
    return out


def _duration(start: float, end: float, frm: str, to: str, note: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"ms": round((end - start) * 1000.0, 3), "start": start, "end": end, "from": frm, "to": to}
    if note:
        d["note"] = note
    return d


def _missing(reason: str) -> dict[str, Any]:
    return {"ms": None, "reason": reason}


def _status(doc: dict) -> str:
    return str((doc.get("decryption") or {}).get("status") or "unknown")


def session_timeline(doc: dict) -> dict[str, Any]:
    """The timeline of one session document: events in time order with phases, and durations."""
    msgs: list[dict] = doc.get("messages") or []
    tcp: list[dict] = doc.get("tcp") or []
    app: dict = doc.get("app_records") or {}
    tls13 = _is_tls13(doc)
    decrypted = (doc.get("decryption") or {}).get("status") == "decrypted"
    hs = _first_handshake(msgs, tls13)
    hs_end = hs["end"]

    # -- events (a row each), sorted by time; ties keep this order: TCP open, TLS, app data, TCP close
    rows: list[tuple[float, int, int, dict]] = []
    for n, e in enumerate(tcp):
        kind = e.get("event", "?")
        ev: dict[str, Any] = {"time": e["time"], "from": e.get("from"), "layer": "tcp", "type": kind,
                              "label": TCP_LABELS.get(kind, kind),
                              "phase": "tcp-connect" if kind in ("SYN", "SYN-ACK", "ESTABLISHED", "MIDSTREAM")
                              else "close" if kind in ("FIN", "RST") else "other",
                              "encrypted": False, "detail": TCP_DETAILS.get(kind, "")}
        if kind == "GAP":
            ev["detail"] = f"{e.get('missing', '?')} bytes missing from the capture"
            ev["missing"] = e.get("missing")
        rank = 3 if kind in ("FIN", "RST") else 0 if ev["phase"] == "tcp-connect" else 1
        rows.append((e["time"], rank, n, ev))
    for n, e in enumerate(doc.get("quic") or []):  # QUIC's own steps: Retry, Version Negotiation
        label = e["packet"] + (" (ignored)" if e.get("ignored") else "")
        rows.append((e["time"], 1, -1 - n, {"time": e["time"], "from": e.get("from"), "layer": "quic",
                                           "type": e["packet"], "label": label, "phase": "hello", "encrypted": False,
                                           "detail": e.get("detail", "")}))
    handshake_no = 1
    for i, m in enumerate(msgs):
        t = m.get("type", "?")
        if hs_end is not None and i > hs_end and t in ("ClientHello", "HelloRequest"):
            if not (t == "ClientHello" and i > 0 and msgs[i - 1].get("type") == "HelloRequest"):
                handshake_no += 1
        ev = {"time": m["time"], "from": m.get("from"), "layer": "tls", "type": t, "label": t,
              "phase": _message_phase(msgs, i, hs_end), "encrypted": bool(m.get("encrypted")),
              "detail": message_detail(m), "index": i, "handshake": handshake_no}
        if t == "Alert":
            ev["level"], ev["description"] = m.get("level"), m.get("description")
            if m.get("description"):
                ev["label"] = f"Alert: {m['description']}"
                ev["detail"] = (f"{m.get('level') or '?'} alert"
                                + (": the sender closes the TLS connection in order"
                                   if m["description"] == "close_notify" else ""))
            ev["alarm"] = (m.get("description") not in (None, "", "close_notify")) or m.get("level") == "fatal"
        if t == "Heartbeat" and m.get("payload_length_exceeds_record"):  # a Heartbleed probe, or a leaking answer
            ev["alarm"] = True
        if tls13 and t == "ChangeCipherSpec":
            ev["detail"] = "middlebox compatibility only: no effect in TLS 1.3"
            ev["phase"] = None  # the phase of the row before it, filled in below
        if t == "Finished" and i == hs_end:
            ev["detail"] = ("handshake complete. " + ev["detail"]).strip()
        if i in hs["fin"].values() and t == "EncryptedHandshakeMessage":
            ev["detail"] = "no key: the first message after ChangeCipherSpec is the Finished"
            ev["label"] = "Finished (encrypted)"
            ev["phase"] = "finished"
        rows.append((m["time"], 1, len(tcp) + i, ev))
    opaque13 = tls13 and not decrypted
    for side in ("client", "server"):
        r = app.get(side)
        if not r:
            continue
        ev = {"time": r["first"], "last": r["last"], "from": side, "layer": "app",
              "records": r.get("records") or 0, "bytes": r.get("bytes") or 0, "encrypted": True}
        plain = (doc.get("app_data") or {}).get(side)
        if opaque13:
            ev.update(type="EncryptedRecords", label="Encrypted records", phase="other",
                      detail=f"{ev['records']} records, {ev['bytes']:,} bytes (no key: handshake or data)")
        else:
            ev.update(type="ApplicationData", label="Application data", phase="application-data",
                      detail=f"{ev['records']} record{'s' if ev['records'] != 1 else ''}, "
                             f"{ev['bytes']:,} bytes"
                             + (f", {plain['bytes']:,} bytes decrypted" if plain else ", not decrypted"))
            ev["decrypted"] = bool(plain)
        rows.append((r["first"], 2, 0 if side == "client" else 1, ev))
    rows.sort(key=lambda x: (x[0], x[1], x[2]))
    events = [r[3] for r in rows]
    prev = "hello"
    for ev in events:
        if ev["phase"] is None:
            ev["phase"] = prev
        prev = ev["phase"]

    # -- start / end of what the capture shows of this session
    times = [e["time"] for e in events] + [e["last"] for e in events if "last" in e]
    end_info = doc.get("end") or {}
    start = min(times) if times else end_info.get("time", 0.0)
    last_seen = max(times) if times else start
    end_reason = end_info.get("reason") or "end of capture"
    closed = end_reason in ("FIN", "RST")
    end = max(end_info.get("time", last_seen), last_seen) if closed else last_seen
    for ev in events:
        ev["t_ms"] = round((ev["time"] - start) * 1000.0, 3)
        if "last" in ev:
            ev["last_ms"] = round((ev["last"] - start) * 1000.0, 3)

    udp = doc.get("transport") in NO_TCP  # no TCP connection to open or close
    tunnelled = (doc.get("id") or 0) >= TUNNEL_ID_BASE  # inside a proxy tunnel: the outer session's TCP
    durations = {
        "tcp_connect": _missing(NO_TCP[doc["transport"]]) if udp else _missing(TUNNELLED) if tunnelled
        else _tcp_connect(tcp),
        "tls_handshake": _tls_handshake(doc, msgs, hs, tls13),
        "first_app_data": _first_app(doc, msgs, hs, app, opaque13),
        "session": _udp_session(start, end, end_reason, "EAPOL" if doc["transport"] == "eapol" else "UDP") if udp
        else _tunnel_session(start, end, end_reason) if tunnelled else _session(tcp, start, end, end_reason, closed),
    }
    kind, kind_reason = _handshake_kind(doc, msgs, hs)
    sh = msgs[hs["sh"]] if hs["sh"] is not None else None
    return {
        "id": doc.get("id"), "capture": doc.get("capture"), "capture_index": doc.get("capture_index", 0),
        "client": doc.get("client"), "server": doc.get("server"), "version": doc.get("version"),
        "cipher_suite": doc.get("cipher_suite"), "sni": doc.get("sni"), "alpn": doc.get("alpn"),
        "ech": doc.get("ech"), "process": doc.get("process"),
        "key_exchange": _key_exchange(msgs, sh),
        "handshake": kind, "handshake_reason": kind_reason,
        "decryption": doc.get("decryption") or {"status": "unknown", "detail": ""},
        "start": start, "start_iso": iso_time(start), "end": end, "end_reason": end_reason,
        "messages": len(msgs), "alerts": [e["label"] for e in events if e.get("alarm")],
        "durations": durations, "events": events,
    }


def _message_phase(msgs: list[dict], i: int, hs_end: int | None) -> str:
    t = msgs[i].get("type")
    after = hs_end is not None and i > hs_end
    if t in ("NewSessionTicket", "EncryptedHandshakeMessage") and after:
        return "application-data"  # post-handshake messages
    if t == "EncryptedHandshakeMessage":
        return "key-exchange"
    return PHASE_OF_TYPE.get(t or "", "other")


def _tcp_connect(tcp: list[dict]) -> dict[str, Any]:
    syn = next((e for e in tcp if e.get("event") == "SYN"), None)
    if syn is None:
        if any(e.get("event") == "SYN-ACK" for e in tcp):
            return _missing("no SYN in the capture (only the SYN-ACK)")
        return _missing("no SYN in the capture: it starts after the TCP connection was opened")
    est = next((e for e in tcp if e.get("event") == "ESTABLISHED" and e["time"] >= syn["time"]), None)
    if est is None:
        if not any(e.get("event") == "SYN-ACK" for e in tcp):
            return _missing("no SYN-ACK in the capture")
        return _missing("no client ACK completing the three-way handshake in the capture")
    return _duration(syn["time"], est["time"], "SYN", "ACK")


def _tls_handshake(doc: dict, msgs: list[dict], hs: dict, tls13: bool) -> dict[str, Any]:
    ch = hs["ch"]
    if ch is None:
        return _missing("no ClientHello in the capture: it starts after the handshake")
    fin = hs["fin"]
    if hs["end"] is None:
        alert = next((m for m in msgs[ch:] if m.get("type") == "Alert" and (
            m.get("level") == "fatal" or m.get("description") not in (None, "close_notify"))), None)
        if alert is not None:
            return _missing(f"the handshake failed: {alert.get('level') or ''} alert {alert.get('description')} "
                            f"from the {alert.get('from')}".replace("  ", " "))
    if hs["sh"] is None:
        return _missing("no ServerHello after the ClientHello in the capture")
    if hs["end"] is None:
        absent = [s for s in ("server", "client") if fin[s] is None]
        if tls13 and (doc.get("decryption") or {}).get("status") != "decrypted":
            return _missing("the TLS 1.3 Finished messages are encrypted and the session was not decrypted ("
                            + _status(doc) + ")")
        return _missing("no Finished from the " + " or the ".join(absent) + " in the capture")
    end = msgs[hs["end"]]
    note = None
    if any(hs["inferred"].values()):
        note = "Finished not decrypted: taken as the first handshake message after ChangeCipherSpec"
    return _duration(msgs[ch]["time"], end["time"], "ClientHello", f"Finished ({end.get('from')})", note)


def _first_app(doc: dict, msgs: list[dict], hs: dict, app: dict, opaque13: bool) -> dict[str, Any]:
    if hs["ch"] is None:
        return _missing("no ClientHello in the capture: it starts after the handshake")
    firsts = [(r["first"], side) for side, r in app.items() if r and r.get("records")]
    if not firsts:
        return _missing("no application data records in the capture")
    if opaque13:
        return _missing("TLS 1.3 not decrypted (" + _status(doc) + "): encrypted handshake records cannot be told "
                        "apart from application data")
    t, side = min(firsts)
    early = doc.get("early_data") or {}
    note = {"accepted": "0-RTT: the client's first data went before the handshake was done, and the server took it",
            "rejected": (f"the client's 0-RTT data ({early.get('bytes')} bytes) was rejected by the server: this is "
                         "what came after")}.get(early.get("status", ""))
    return _duration(msgs[hs["ch"]]["time"], t, "ClientHello", f"first application data record ({side})", note)


def _session(tcp: list[dict], start: float, end: float, reason: str, closed: bool) -> dict[str, Any]:
    has_syn = any(e.get("event") == "SYN" for e in tcp)
    frm = "SYN" if has_syn else "first packet seen"
    notes = []
    if not has_syn:
        notes.append("no SYN: already open when the capture started")
    if not closed:
        notes.append(f"not closed ({reason})")
    if notes:
        notes.append("so it lasted at least this long")
    return _duration(start, end, frm, reason if closed else "last packet seen", "; ".join(notes) or None)


TUNNELLED = ("inside a proxy tunnel: no TCP connection of its own (it rides the proxy connection's, opened before "
             "the CONNECT)")


def _tunnel_session(start: float, end: float, reason: str) -> dict[str, Any]:
    """A session inside a proxy tunnel: from its ClientHello to the end of its tunnel (or of the proxy connection)."""
    return _duration(start, end, "ClientHello in the tunnel", reason)


NO_TCP = {"udp": "DTLS over UDP: there is no connection to open (the ClientHello is the first packet)",
          "quic": "QUIC over UDP: the connection opens with the TLS handshake itself (the ClientHello is in the first "
                  "packet)",
          "eapol": "TLS inside EAP over 802.1X EAPOL: there is no TCP connection (EAP carries the handshake)",
          "radius": "TLS inside EAP over RADIUS: there is no TCP connection (RADIUS carries the EAP packets)",
          "openvpn": "TLS inside OpenVPN over UDP: there is no connection to open (the client's hard reset starts it)"}


def _udp_session(start: float, end: float, reason: str, carrier: str = "UDP") -> dict[str, Any]:
    # a UDP flow (or an EAP conversation) has no TCP packets to open or close it: it is seen from its first
    # datagram to its last
    return _duration(start, end, "first datagram", "last datagram", f"over {carrier}; the session ended at {reason}")


def _handshake_kind(doc: dict, msgs: list[dict], hs: dict) -> tuple[str | None, str]:
    if doc.get("resumed"):
        return "resumed", "the server resumed an earlier session (session ID, ticket or PSK): no certificate sent"
    if hs["sh"] is None:
        return None, "no ServerHello in the capture"
    sh = msgs[hs["sh"]]
    names = {x.get("name") for x in sh.get("extensions") or [] if isinstance(x, dict)}
    if "pre_shared_key" in names:
        return "resumed", "the ServerHello accepted a pre-shared key (TLS 1.3 resumption)"
    return "full", "new session: certificate (or PSK) and key exchange"


def _key_exchange(msgs: list[dict], sh: dict | None) -> str | None:
    """The key exchange group: from the ServerHello key_share (TLS 1.3) or the ServerKeyExchange curve."""
    if sh is None:
        return None
    for x in sh.get("extensions") or []:
        if isinstance(x, dict) and x.get("name") == "key_share" and isinstance(x.get("share"), dict):
            return x["share"].get("group")
    for m in msgs:
        if m.get("type") == "ServerKeyExchange" and m.get("named_curve"):
            return m["named_curve"]
    return None


def timelines(docs: Iterable[dict]) -> list[dict]:
    """Timelines of many sessions, in capture order then session id."""
    out = [session_timeline(d) for d in docs]
    out.sort(key=lambda t: (t.get("capture_index") or 0, t.get("id") if t.get("id") is not None else -1))
    return out


# ---------------------------------------------------------------------------------------------------
# CSV and JSON

CSV_COLUMNS = ["capture", "session", "client", "server", "version", "cipher_suite", "sni", "handshake",
               "decryption", "time", "time_utc", "relative_ms", "from", "to", "layer", "event", "phase",
               "encrypted", "detail", "tcp_connect_ms", "tls_handshake_ms", "first_app_data_ms", "session_ms"]


def csv_rows(tl: dict) -> list[list[Any]]:
    """One row per event; the session's parameters and durations repeated so each row stands alone."""
    d = tl["durations"]
    ms = [_csv_num(d[k]["ms"]) for k in DURATION_KEYS]
    rows = []
    for ev in tl["events"]:
        rows.append([tl.get("capture") or "", tl["id"], tl["client"], tl["server"], tl["version"] or "",
                     tl["cipher_suite"] or "", tl["sni"] or "", tl["handshake"] or "", tl["decryption"]["status"],
                     f"{ev['time']:.6f}", iso_time(ev["time"]), f"{ev['t_ms']:.3f}", ev.get("from") or "",
                     _other(ev.get("from")), ev["layer"], ev["type"], ev["phase"],
                     "yes" if ev.get("encrypted") else "no", _csv_text(ev.get("detail") or ""), *ms])
    return rows


def csv_text(tls: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for tl in tls:
        w.writerows(csv_rows(tl))
    return buf.getvalue()


def json_text(tls: list[dict], summary: dict | None = None) -> str:
    return json.dumps({"sessions": tls, "summary": summary or {}}, indent=1, default=str) + "\n"


def _csv_num(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def _csv_text(s: str) -> str:
    # a cell starting with = + - @ is a formula in spreadsheets; these strings come from the capture
    return "'" + s if s[:1] in ("=", "+", "-", "@") else s


def _other(side: str | None) -> str:
    return {"client": "server", "server": "client"}.get(side or "", "")


def iso_time(t: float | None) -> str:
    if t is None:
        return ""
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    except (OverflowError, OSError, ValueError):
        return str(t)


# ---------------------------------------------------------------------------------------------------
# Escaping and formatting

# characters XML 1.0 forbids, plus bidi controls that could make a hostile name read as another
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def esc(value: Any, limit: int | None = None) -> str:
    """Text from anywhere (often the capture) made safe for HTML and SVG text and attributes.

    Control and bidi characters become visible \\xNN / \\uNNNN, long text is cut with an ellipsis,
    and the result is pure ASCII (character references), so any output encoding carries it.
    """
    s = "" if value is None else str(value)
    s = _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", s)
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "\u2026"
    return html.escape(s, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")


def fmt_ms(ms: float | None) -> str:
    """A duration for people: 0.734 ms, 12.3 ms, 1.52 s, 3 min 4 s."""
    if ms is None:
        return "n/a"
    if ms < 0:
        return "-" + fmt_ms(-ms)
    if ms < 10:
        return f"{ms:.3f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    s = ms / 1000.0
    if s < 60:
        return f"{s:.2f} s"
    if s < 3600:
        return f"{int(s // 60)} min {s % 60:.0f} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def fmt_offset(ms: float) -> str:
    """A time since the start of the session, for the time axis: +2.634 ms, +1.520 s."""
    if ms < 1000:
        return f"+{ms:.3f} ms"
    return f"+{ms / 1000:.3f} s" if ms < 60000 else "+" + fmt_ms(ms)


# ---------------------------------------------------------------------------------------------------
# Ladder diagram (SVG)

W = 1000          # diagram width
X_TIME = 96       # right edge of the time labels
X_C, X_S = 190, 620  # client and server lifelines
X_PHASE = 634     # phase labels
X_BRACKET = 812   # first duration bracket; the next ones 14 px to the right
X_BLABEL = 860    # duration labels
TOP = 104         # y of the first row
ROW = 44          # minimum distance between two rows
BREAK_S = 1.0     # gaps longer than this are drawn as a break
FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
MONO = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"


def _gap_px(dt_ms: float, base: float = ROW) -> float:
    """Vertical space for a time gap: a minimum for legibility, then logarithmic so long waits stay short."""
    return base + min(70.0, 22.0 * math.log10(1.0 + max(0.0, dt_ms) / 0.5))


def layout_rows(times: list[float], bases: list[float] | None = None) -> list[float]:
    """y for each row (times in seconds, sorted): rows at one time are `base` (ROW) apart, gaps grow with log(dt)."""
    ys: list[float] = []
    y = float(TOP)
    for i, t in enumerate(times):
        if i:
            y += _gap_px((t - times[i - 1]) * 1000.0, bases[i] if bases else ROW)
        ys.append(y)
    return ys


def _y_at(t: float, times: list[float], ys: list[float]) -> float:
    """y of an arbitrary time on the piecewise scale of the rows."""
    if not times:
        return float(TOP)
    if t <= times[0]:
        return ys[0]
    for i in range(len(times) - 1, -1, -1):
        if times[i] <= t:
            if i + 1 < len(times) and times[i + 1] > times[i]:
                return ys[i] + (ys[i + 1] - ys[i]) * (t - times[i]) / (times[i + 1] - times[i])
            if i + 1 == len(times):
                return ys[i] + _gap_px((t - times[i]) * 1000.0) - ROW / 2
            return ys[i]
    return ys[0]


def _text(x: float, y: float, s: str, size: float = 12, fill: str = "#111827", anchor: str = "start",
          weight: str = "normal", family: str = FONT, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" '
            f'font-weight="{weight}" font-family="{family}"{extra}>{s}</text>')


def _lock(x: float, y: float, colour: str) -> str:
    """A small padlock (drawn, so no font is needed): marks what travelled encrypted."""
    return (f'<g class="lock" transform="translate({x:.1f},{y:.1f})"><rect x="0" y="5" width="10" height="8" rx="1.5" '
            f'fill="{colour}"/><path d="M2.3 5.5 V3.4 a2.7 2.7 0 0 1 5.4 0 V5.5" fill="none" stroke="{colour}" '
            f'stroke-width="1.6"/></g>')


def _warning(x: float, y: float) -> str:
    return (f'<g class="alarm" transform="translate({x:.1f},{y:.1f})"><polygon points="7,0 14,12.5 0,12.5" '
            f'fill="{ALERT_COLOUR}"/><text x="7" y="11" font-size="9.5" font-weight="bold" fill="#fff" '
            f'text-anchor="middle" font-family="{FONT}">!</text></g>')


def _arrow_line(x1: float, x2: float, y: float, colour: str, width: float, dashed: bool, head: float = 9) -> str:
    d = 1 if x2 > x1 else -1
    dash = ' stroke-dasharray="7 4"' if dashed else ""
    return (f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2 - d * head:.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="{width}"{dash}/>'
            f'<polygon points="{x2:.1f},{y:.1f} {x2 - d * head:.1f},{y - head / 2:.1f} {x2 - d * head:.1f},'
            f'{y + head / 2:.1f}" fill="{colour}"/>')


MARK_ROW = 26  # minimum distance before a mark (the last record of application data)


def _marks(rows: list[dict]) -> list[dict]:
    """Points on the time axis that are not messages: the last application data record of each direction."""
    out = []
    for e in rows:
        if e["layer"] == "app" and e.get("last") is not None and e["last"] > e["time"]:
            what = "application data record" if e["type"] == "ApplicationData" else "encrypted record"
            out.append({"time": e["last"], "t_ms": e["last_ms"], "from": e["from"], "mark": "app-last",
                        "label": f"last {what}", "of": e})
    return out


def render_svg(tl: dict, standalone: bool = False, max_rows: int = MAX_DIAGRAM_ROWS) -> str:
    """The ladder (sequence) diagram of one session timeline, as an SVG element (or file when standalone).

    One `<g class="arrow" data-type=...>` per TLS message, `class="tcp-arrow"` per TCP SYN/ACK/FIN/RST,
    `class="app-arrow"` per direction of application data (a summary arrow and a band over its span).
    """
    events = tl["events"]
    rows = events[:max_rows]
    hidden = len(events) - len(rows)
    # the time axis: every event is a row; marks (last app record) get a smaller row of their own
    items = sorted([(e["time"], 0, i, e) for i, e in enumerate(rows)]
                   + [(m["time"], 1, i, m) for i, m in enumerate(_marks(rows))], key=lambda x: x[:3])
    all_times = [x[0] for x in items]
    all_ys = layout_rows(all_times, [MARK_ROW if x[1] else ROW for x in items])
    ys_of = {id(x[3]): y for x, y in zip(items, all_ys)}
    ys = [ys_of[id(e)] for e in rows]
    times = [e["time"] for e in rows]
    parts: list[str] = []
    add = parts.append
    bottom = (all_ys[-1] if all_ys else TOP) + 30
    if hidden:
        bottom += 24
    end_text = _end_text(tl)
    bottom += 22
    height = int(bottom + 10)

    # background bands, one per run of rows in the same phase
    bands: list[tuple[str, int, int]] = []
    for i, e in enumerate(rows):
        if bands and bands[-1][0] == e["phase"]:
            bands[-1] = (e["phase"], bands[-1][1], i)
        else:
            bands.append((e["phase"], i, i))
    for phase, i, j in bands:
        label, colour = PHASES.get(phase, PHASES["other"])
        y1 = ys[i] - (ys[i] - ys[i - 1]) / 2 if i else ys[i] - ROW / 2 - 4
        y2 = ys[j] + (ys[j + 1] - ys[j]) / 2 if j + 1 < len(rows) else ys[j] + ROW / 2 + 2
        add(f'<rect class="phase-band" data-phase="{esc(phase)}" x="{X_TIME + 6}" y="{y1:.1f}" '
            f'width="{X_BRACKET - X_TIME - 16}" height="{max(2.0, y2 - y1):.1f}" fill="{colour}" fill-opacity="0.07"/>')
        add(f'<rect x="{X_TIME + 6}" y="{y1:.1f}" width="3" height="{max(2.0, y2 - y1):.1f}" fill="{colour}" '
            f'fill-opacity="0.7"/>')
        add(_text(X_PHASE, y1 + 15, esc(label), 11, colour, weight="bold"))

    # lane headers and lifelines
    lane_bottom = bottom - 30
    process = tl.get("process")
    for x, who, ep, extra in ((X_C, "Client", tl["client"], process_text(process) if process else None),
                              (X_S, "Server", tl["server"], f"SNI {tl['sni']}" if tl.get("sni") else None)):
        add(f'<line x1="{x}" y1="62" x2="{x}" y2="{lane_bottom:.1f}" stroke="#9ca3af" stroke-width="2"/>')
        add(f'<rect x="{x - 92}" y="8" width="184" height="{54 if extra else 46}" rx="7" fill="#f3f4f6" '
            f'stroke="#9ca3af"/>')
        add(_text(x, 26, who, 13.5, "#111827", "middle", "bold"))
        add(_text(x, 43, esc(ep, 34), 11.5 if len(ep or "") <= 24 else 9, "#374151", "middle", family=MONO))
        if extra:
            add(_text(x, 57, esc(extra, 30), 10.5, "#374151", "middle"))
    add(_text(X_TIME - 4, 84, "time since", 10, "#6b7280", "end"))
    add(_text(X_TIME - 4, 96, "first packet", 10, "#6b7280", "end"))

    # gutter: the real time of every row (a repeated time in grey), and breaks over long waits
    for i, ((t, _, _, e), y) in enumerate(zip(items, all_ys)):
        same = i and t == all_times[i - 1]
        colour = "#9ca3af" if same or "mark" in e else "#111827"
        add(f'<text class="t" x="{X_TIME - 6}" y="{y + 4:.1f}" font-size="10.5" fill="{colour}" '
            f'text-anchor="end" font-family="{MONO}"><title>{esc(iso_time(t))}</title>'
            f'{esc(fmt_offset(e["t_ms"]))}</text>')
        add(f'<line x1="{X_TIME - 2}" y1="{y:.1f}" x2="{X_C - 6}" y2="{y:.1f}" stroke="#e5e7eb" stroke-width="1"/>')
        if i and t - all_times[i - 1] >= BREAK_S:
            ym = (all_ys[i - 1] + y) / 2
            gap = fmt_ms((t - all_times[i - 1]) * 1000.0)
            for x in (X_C, X_S):
                add(f'<path d="M{x - 9} {ym - 5:.1f} l6 -4 l6 8 l6 -4" fill="none" stroke="#fff" stroke-width="6"/>'
                    f'<path d="M{x - 9} {ym - 5:.1f} l6 -4 l6 8 l6 -4" fill="none" stroke="#6b7280" '
                    f'stroke-width="1.5"/>')
            add(_text((X_C + X_S) / 2, ym + 4, f"\u2026 {esc(gap)} later \u2026", 11, "#6b7280", "middle",
                      extra=' font-style="italic"'))

    # handshake dividers (renegotiation)
    for i in range(1, len(rows)):
        hn = rows[i].get("handshake")
        if hn and hn != _prev_handshake(rows, i):
            ym = ys[i] - 24
            add(f'<line x1="{X_C + 4}" y1="{ym:.1f}" x2="{X_S - 4}" y2="{ym:.1f}" stroke="#111827" '
                f'stroke-dasharray="2 3"/>')
            add(_text(X_C + 8, ym - 3, f"renegotiation: handshake {hn}", 10, "#111827", weight="bold"))

    # application data: a band on the sender's line from the first to the last record (under the arrows)
    for (_t, kind, _, m), y in zip(items, all_ys):
        if not kind:
            continue
        e = m["of"]
        x = X_C if e["from"] == "client" else X_S
        colour = PHASES.get(e["phase"], PHASES["other"])[1]
        off = -14 if e["from"] == "client" else 4
        y1 = ys_of[id(e)]
        add(f'<g class="app-band"><rect x="{x + off}" y="{y1:.1f}" width="10" height="{max(4.0, y - y1):.1f}" rx="3" '
            f'fill="{colour}" fill-opacity="0.45"/><title>{esc(e["label"])} from the {esc(e["from"])}: '
            f'{esc(fmt_offset(e["t_ms"]))} to {esc(fmt_offset(e["last_ms"]))}</title>'
            f'<line x1="{x - 16}" y1="{y:.1f}" x2="{x + 16}" y2="{y:.1f}" stroke="{colour}" stroke-width="2"/>'
            + _text(x + 20, y + 4, esc(m["label"]) + (" (client)" if e["from"] == "client" else ""), 10, colour,
                    extra=' font-style="italic"')
            + "</g>")

    # the arrows
    for e, y in zip(rows, ys):
        parts.append(_row(e, y))

    # duration brackets
    col = 0
    for key in ("tcp_connect", "tls_handshake", "first_app_data"):
        d = tl["durations"][key]
        if d.get("ms") is None:
            continue
        y1 = _row_y(rows, ys, d["start"], first=True, default=_y_at(d["start"], times, ys))
        y2 = _row_y(rows, ys, d["end"], first=False, default=_y_at(d["end"], times, ys), key=key)
        x = X_BRACKET + 14 * col
        col += 1
        colour = "#111827"
        add(f'<g class="duration" data-duration="{key}"><path d="M{x - 5} {y1:.1f} h5 V{y2:.1f} h-5" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"/>'
            f'<line x1="{x}" y1="{y2:.1f}" x2="{X_BLABEL - 4}" y2="{y2:.1f}" stroke="{colour}" stroke-width="0.8" '
            f'stroke-dasharray="2 2"/>'
            + _text(X_BLABEL, y2 - 3, esc(DURATION_LABELS[key]), 10.5, "#374151")
            + _text(X_BLABEL, y2 + 11, esc(fmt_ms(d["ms"])), 12, colour, weight="bold") + "</g>")
    if hidden:
        add(_text((X_C + X_S) / 2, bottom - 34, f"{hidden} more events not drawn (see --format csv or json)", 11,
                  "#b91c1c", "middle"))
    add(_text((X_C + X_S) / 2, bottom - 8, esc(end_text), 11, "#374151", "middle", extra=' font-style="italic"'))
    if standalone:  # no page legend around it: say what the marks mean
        add(_lock(X_BRACKET - 6, bottom - 18, "#374151")
            + _text(X_BRACKET + 10, bottom - 8, "dashed = travelled encrypted", 10.5, "#374151"))

    title = f"TLS session {tl.get('id')}: {tl['client']} to {tl['server']}"
    head = (f'<svg class="ladder" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img" '
            f'font-family="{FONT}" aria-label="{esc(title)}"')
    if standalone:
        head = '<?xml version="1.0" encoding="UTF-8"?>\n' + head + ' xmlns="http://www.w3.org/2000/svg"'
    body = "\n".join(parts)
    return _ascii(f'{head}><title>{esc(title)}</title><rect width="100%" height="100%" fill="#ffffff"/>\n'
                  f'{body}\n</svg>\n')


def _ascii(text: str) -> str:
    """Markup as pure ASCII (character references): it survives any output encoding."""
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _end_text(tl: dict) -> str:
    dur = tl["durations"]["session"]
    total = f"session {fmt_ms(dur['ms'])}" if dur.get("ms") is not None else ""
    reason = tl.get("end_reason") or ""
    if reason in ("FIN", "RST"):
        how = "connection closed (FIN)" if reason == "FIN" else "connection reset (RST)"
    else:
        how = f"no close seen: {reason}"
    return f"end: {how}" + (f" \u00b7 {total}" if total else "")


def _prev_handshake(rows: list[dict], i: int) -> int | None:
    for j in range(i - 1, -1, -1):
        if rows[j].get("handshake"):
            return rows[j]["handshake"]
    return rows[i].get("handshake")


def _row_y(rows: list[dict], ys: list[float], t: float, first: bool, default: float, key: str = "") -> float:
    """y of the row an endpoint of a duration refers to (the exact event, not just its time)."""
    cands = [i for i, e in enumerate(rows) if e["time"] == t]
    if key == "first_app_data":
        cands = [i for i in cands if rows[i]["layer"] == "app"] or cands
    elif key == "tls_handshake" and not first:
        cands = [i for i in cands if rows[i]["type"] in ("Finished", "EncryptedHandshakeMessage")] or cands
    elif key == "tcp_connect":
        want = "SYN" if first else "ESTABLISHED"
        cands = [i for i in cands if rows[i]["type"] == want] or cands
    elif first:
        cands = [i for i in cands if rows[i]["type"] == "ClientHello"] or cands
    if not cands:
        return default
    return ys[cands[0] if first else cands[-1]]


def _row(e: dict, y: float) -> str:
    """One event as a horizontal arrow between the lanes at height y."""
    side = e.get("from")
    x1, x2 = (X_C, X_S) if side == "client" else (X_S, X_C)
    layer = e["layer"]
    colour = PHASES.get(e["phase"], PHASES["other"])[1]
    alarm = bool(e.get("alarm"))
    if alarm:
        colour = ALERT_COLOUR
    arrow = "client \u2192 server" if side == "client" else "server \u2192 client"
    tip = (f'{e["label"]} ({arrow}) at {fmt_offset(e["t_ms"])}, {iso_time(e["time"])}'
           + (f'. {e["detail"]}' if e.get("detail") else "") + (". Travelled encrypted." if e.get("encrypted")
                                                                   and layer == "tls" else ""))
    mid = (X_C + X_S) / 2
    out: list[str] = []
    if layer in ("tcp", "quic"):  # the transport's own steps: thin arrows
        if e["type"] == "GAP":
            x = X_C if side == "client" else X_S
            out.append(f'<g class="tcp-gap" data-type="GAP" data-from="{esc(side)}"><title>{esc(tip)}</title>'
                       f'<rect x="{x - 7}" y="{y - 7:.1f}" width="14" height="14" fill="#fef3c7" stroke="#b45309"/>'
                       + _text(x + (12 if side == "client" else -12), y + 4, esc(e["detail"]), 10.5, "#b45309",
                               "start" if side == "client" else "end") + "</g>")
            return "".join(out)
        c = ALERT_COLOUR if e["type"] == "RST" else colour
        out.append(f'<g class="{layer}-arrow" data-type="{esc(e["type"])}" data-from="{esc(side)}"><title>{esc(tip)}'
                   f'</title>')
        out.append(_arrow_line(x1, x2, y, c, 1.4, False, 7))
        out.append(_text(mid, y - 5, esc(e["label"]), 11.5, c, "middle", "bold", family=MONO))
        if e.get("detail"):
            out.append(_text(mid, y + 13, esc(e["detail"], 80), 10, "#6b7280", "middle"))
        out.append("</g>")
        return "".join(out)
    if layer == "app":
        out.append(f'<g class="app-arrow" data-type="{esc(e["type"])}" data-from="{esc(side)}"><title>{esc(tip)}'
                   f'</title>')
        out.append(f'<line x1="{x1}" y1="{y:.1f}" x2="{x2}" y2="{y:.1f}" stroke="{colour}" stroke-width="9" '
                   f'stroke-opacity="0.22"/>')
        out.append(_arrow_line(x1, x2, y, colour, 2.2, False, 10))
        label = e["label"] + (" \u2192" if side == "client" else "")
        label = ("\u2190 " + label) if side == "server" else label
        out.append(_text(mid, y - 6, esc(label), 12.5, colour, "middle", "bold"))
        span = fmt_ms(e["last_ms"] - e["t_ms"]) if e.get("last_ms") is not None else ""
        sub = e.get("detail", "") + (f" over {span}" if e.get("records", 0) > 1 else "")
        out.append(_text(mid, y + 15, esc(sub, 90), 10.5, "#4b5563", "middle"))
        out.append("</g>")
        return "".join(out)
    enc = bool(e.get("encrypted"))
    out.append(f'<g class="arrow" data-type="{esc(e["type"])}" data-phase="{esc(e["phase"])}" '
               f'data-from="{esc(side)}" data-encrypted="{"true" if enc else "false"}"'
               f'{" data-alert=" + chr(34) + "true" + chr(34) if alarm else ""}><title>{esc(tip)}</title>')
    out.append(_arrow_line(x1, x2, y, colour, 2.6 if alarm else 2, enc))
    label = e["label"]
    size = 13
    out.append(_text(mid, y - 6, esc(label, 48), size, colour, "middle", "bold"))
    width = min(len(label), 48) * size * 0.62
    if enc:
        out.append(_lock(mid - width / 2 - 17, y - 20, colour))
    if alarm:
        out.append(_warning(mid + width / 2 + 6, y - 19))
    if e.get("detail"):
        out.append(_text(mid, y + 15, esc(e["detail"], DETAIL_CHARS), 10.5, "#4b5563", "middle"))
    out.append("</g>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------------
# Bar chart of handshake durations


CHART_TITLES = {"tls_handshake": "TLS handshake duration per session (ClientHello to last Finished)",
                "session": "Session duration per session (no session here completed a handshake)"}


def chart_metric(tls: list[dict]) -> str:
    """Handshake durations when any session has one, else session durations (the chart says which)."""
    return "tls_handshake" if any(t["durations"]["tls_handshake"]["ms"] is not None for t in tls) else "session"


def _tick(v: float) -> str:
    if v == 0:
        return "0"
    if v >= 1000:
        return f"{v / 1000:g} s"
    return f"{float(f'{v:.3g}'):g} ms"


def render_chart(tls: list[dict], width: int = W, height: int = 280, metric: str | None = None) -> str:
    """A duration per session (handshake by default), as an SVG column chart, one column per session in order.

    Columns link to the sessions' diagrams. When a few outliers dwarf the rest, the axis stops above the
    90th percentile and the taller columns are cut, with their value written on top.
    """
    metric = metric or chart_metric(tls)
    n = len(tls)
    left, right, top, bottom = 64, 16, 52, 40
    pw, ph = width - left - right, height - top - bottom
    vals = [t["durations"][metric]["ms"] for t in tls]
    known = sorted(v for v in vals if v is not None)
    vmax = _nice(known[-1]) if known else 1.0
    if len(known) >= 10 and known[-1] > 3 * known[int(len(known) * 0.9) - 1] > 0:
        vmax = _nice(known[int(len(known) * 0.9) - 1] * 1.5)
    step = pw / max(n, 1)
    bw = max(1.0, min(28.0, step * 0.78))
    by_kind = metric == "tls_handshake"
    p: list[str] = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
                    f'font-family="{FONT}" aria-label="{esc(CHART_TITLES.get(metric, metric))}">'
                    f'<rect width="100%" height="100%" fill="#fff"/>']
    p.append(_text(left, 18, esc(CHART_TITLES.get(metric, metric)), 13, "#111827", weight="bold"))
    for k in range(5):
        v = vmax * k / 4
        y = top + ph - ph * k / 4
        p.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        p.append(_text(left - 6, y + 4, esc(_tick(v)), 10.5, "#4b5563", "end"))
    label_every = max(1, math.ceil(34 / step))
    for i, (tl, v) in enumerate(zip(tls, vals)):
        x = left + i * step + (step - bw) / 2
        name = _session_name(tl)
        href = f"#{_anchor(tl)}"
        if v is None:
            reason = tl["durations"][metric].get("reason", "")
            p.append(f'<a href="{esc(href)}"><g class="bar-missing"><title>{esc(name)}: no value '
                     f'({esc(reason)})</title><text x="{x + bw / 2:.1f}" y="{top + ph - 3:.1f}" font-size="10" '
                     f'fill="#9ca3af" text-anchor="middle" font-family="{FONT}">\u00d7</text></g></a>')
        else:
            cut = v > vmax
            h = ph if cut else max(1.0, ph * v / vmax)
            colour = (PHASES["finished"][1] if tl["handshake"] == "resumed" else PHASES["hello"][1]) if by_kind \
                else PHASES["other"][1]
            p.append(f'<a href="{esc(href)}"><rect class="bar" x="{x:.1f}" y="{top + ph - h:.1f}" width="{bw:.1f}" '
                     f'height="{h:.1f}" fill="{colour}"><title>{esc(name)}: {esc(fmt_ms(v))} '
                     f'({esc(tl["version"] or "?")}, {esc(tl["handshake"] or "?")})</title></rect></a>')
            if cut:
                p.append(f'<path d="M{x - 1:.1f} {top + 8:.1f} l{bw + 2:.1f} -5 v4 l-{bw + 2:.1f} 5 z" fill="#fff"/>'
                         + _text(x + bw / 2, top - 4, esc(fmt_ms(v)), 9.5, "#111827", "middle"))
        if i % label_every == 0:
            p.append(_text(x + bw / 2, top + ph + 14, esc(_short_id(tl)), 10, "#4b5563", "middle"))
    if known:
        med = known[len(known) // 2] if len(known) % 2 else (known[len(known) // 2 - 1] + known[len(known) // 2]) / 2
        y = top + ph - ph * min(med, vmax) / vmax
        p.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#111827" '
                 f'stroke-dasharray="5 3"/>')
        label = f"median {fmt_ms(med)}"
        p.append(f'<rect x="{left + 4}" y="{y - 15:.1f}" width="{len(label) * 6.6 + 8:.0f}" height="13" rx="2" '
                 f'fill="#fff" fill-opacity="0.9"/>' + _text(left + 8, y - 5, esc(label), 10.5, "#111827", weight="bold"))
    p.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#6b7280"/>')
    p.append(_text(left + pw / 2, height - 6, "session", 10.5, "#4b5563", "middle"))
    missing = sum(v is None for v in vals)
    legend = []
    x = left
    if by_kind:
        for kind, colour in (("full handshake", PHASES["hello"][1]), ("resumed", PHASES["finished"][1])):
            legend.append(f'<rect x="{x}" y="29" width="10" height="10" fill="{colour}"/>'
                          + _text(x + 14, 38, kind, 10.5, "#374151"))
            x += 30 + len(kind) * 6.5
    if missing:
        legend.append(_text(x, 38, f"\u00d7 no value ({missing})", 10.5, "#6b7280"))
        x += 110
    legend.append(_text(x, 38, "click a column to open its diagram", 10.5, "#6b7280"))
    p.append("".join(legend))
    p.append("</svg>")
    return "\n".join(p)


COLUMNS_MAX = 400  # up to this many sessions the chart has one column each; beyond, a histogram


def render_histogram(tls: list[dict], width: int = W, height: int = 280, metric: str | None = None,
                     bins: int = 40) -> str:
    """How many sessions took how long: the chart for captures with too many sessions for one column each."""
    metric = metric or chart_metric(tls)
    left, right, top, bottom = 64, 16, 52, 40
    pw, ph = width - left - right, height - top - bottom
    known = sorted(v for v in (t["durations"][metric]["ms"] for t in tls) if v is not None)
    title = {"tls_handshake": "TLS handshake durations (ClientHello to last Finished): sessions per duration",
             "session": "Session durations (no session here completed a handshake): sessions per duration"}
    p: list[str] = [f'<svg class="chart histogram" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                    f'role="img" font-family="{FONT}" aria-label="{esc(title.get(metric, metric))}">'
                    f'<rect width="100%" height="100%" fill="#fff"/>',
                    _text(left, 18, esc(title.get(metric, metric)), 13, "#111827", weight="bold")]
    if not known:
        p.append(_text(left, top + 20, "no values", 12, "#6b7280"))
        p.append("</svg>")
        return "\n".join(p)
    hi = known[min(len(known) - 1, int(len(known) * 0.95))]
    vmax = _nice(hi * 1.5 if known[-1] > 3 * hi > 0 else known[-1])
    counts = [0] * (bins + 1)  # the last bin: above the axis
    for v in known:
        counts[min(bins, int(v / vmax * bins)) if v < vmax else (bins if v > vmax else bins - 1)] += 1
    cmax = max(counts) or 1
    step = pw / (bins + 1)
    for i, c in enumerate(counts):
        if not c:
            continue
        h = max(1.0, ph * c / cmax)
        lo, up = vmax * i / bins, vmax * (i + 1) / bins
        what = f"over {fmt_ms(vmax)}" if i == bins else f"{fmt_ms(lo)} to {fmt_ms(up)}"
        p.append(f'<rect class="bin" x="{left + i * step + 0.5:.1f}" y="{top + ph - h:.1f}" width="{step - 1:.1f}" '
                 f'height="{h:.1f}" fill="{PHASES["hello"][1] if i < bins else ALERT_COLOUR}"><title>{c} session'
                 f'{"s" if c != 1 else ""}: {esc(what)}</title></rect>')
        if i == bins:
            p.append(_text(left + i * step + step / 2, top + ph - h - 4, f"{c} &gt; {esc(_tick(vmax))}", 10,
                           ALERT_COLOUR, "end"))
    for k in range(5):
        v = vmax * k / 4
        x = left + pw * bins / (bins + 1) * k / 4
        p.append(_text(x, top + ph + 14, esc(_tick(v)), 10.5, "#4b5563", "middle"))
        c = round(cmax * k / 4)
        y = top + ph - ph * k / 4
        p.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                 + _text(left - 6, y + 4, str(c), 10.5, "#4b5563", "end"))
    med = known[len(known) // 2]
    xm = left + pw * bins / (bins + 1) * min(med, vmax) / vmax
    p.append(f'<line x1="{xm:.1f}" y1="{top}" x2="{xm:.1f}" y2="{top + ph}" stroke="#111827" stroke-dasharray="5 3"/>'
             + f'<rect x="{xm + 2:.1f}" y="{top + 1}" width="{len(fmt_ms(med)) * 6.6 + 52:.0f}" height="13" rx="2" '
               f'fill="#fff" fill-opacity="0.9"/>'
             + _text(xm + 5, top + 11, f"median {esc(fmt_ms(med))}", 10.5, "#111827", weight="bold"))
    p.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#6b7280"/>')
    p.append(_text(left, 38, f"{len(known):,} sessions with a value, {len(tls) - len(known):,} without; "
                             "the table below lists each session", 10.5, "#6b7280"))
    p.append("</svg>")
    return "\n".join(p)


def _missing_reasons(tls: list[dict]) -> str:
    """Why sessions have no handshake duration, grouped: the chart's \u00d7 marks explained."""
    counts: dict[str, int] = {}
    for t in tls:
        d = t["durations"]["tls_handshake"]
        if d["ms"] is None:
            counts[d.get("reason", "")] = counts.get(d.get("reason", ""), 0) + 1
    if not counts:
        return ""
    items = "".join(f"<li>{n} \u00d7 {esc(r, 200)}</li>" for r, n in sorted(counts.items(), key=lambda x: -x[1])[:8])
    return f'<p class="help">Sessions without a TLS handshake duration:</p><ul class="help">{items}</ul>'


def _nice(v: float) -> float:
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= m * e:
            return m * e
    return 10 * e


# ---------------------------------------------------------------------------------------------------
# HTML report

CHART_MIN_SESSIONS = 4  # fewer sessions read better in the table alone
OPEN_SESSIONS = 3  # sessions shown open; the others are collapsed into <details>

CSS = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif;margin:0;color:#111827;background:#f9fafb;
font-size:14px;line-height:1.4}
main{max-width:1180px;margin:0 auto;padding:18px 20px 60px}
h1{font-size:22px;margin:4px 0 2px}
h2{font-size:17px;margin:26px 0 8px}
.sub{color:#4b5563;margin:0 0 12px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 14px;margin:10px 0}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;font-size:13px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:22px;height:4px;border-radius:2px}
.help{color:#4b5563;font-size:12.5px;margin:8px 0 0}
.scroll{max-height:420px;overflow:auto;border:1px solid #e5e7eb;border-radius:8px;background:#fff}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
th{position:sticky;top:0;background:#f3f4f6;z-index:1;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mono,.mono{font-family:"DejaVu Sans Mono","Liberation Mono",monospace;font-size:11.5px}
td.suite{font-size:11.5px;min-width:150px}
.nowrap,td.num{white-space:nowrap}
.na{color:#9ca3af}
.bad{color:#b91c1c;font-weight:bold}
details.session{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:12px 0}
details.session>summary{cursor:pointer;padding:10px 14px;font-weight:bold;list-style-position:outside}
details.session>summary .meta{font-weight:normal;color:#4b5563}
details.session[open]>summary{border-bottom:1px solid #e5e7eb}
.body{padding:10px 14px}
.facts{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:8px;margin:4px 0 10px}
.fact{border:1px solid #e5e7eb;border-radius:6px;padding:6px 9px;background:#f9fafb}
.fact b{display:block;font-size:17px}
.fact small{display:block;color:#4b5563;font-size:11.5px}
.params{font-size:13px;color:#374151;margin:0 0 8px}
.params span{margin-right:14px}
svg{max-width:100%;height:auto;display:block}
details.events>summary{cursor:pointer;color:#1d4ed8;margin:8px 0}
.chartbox svg{margin:0 auto}
"""


def _anchor(tl: dict) -> str:
    return f"session-{tl.get('capture_index') or 0}-{tl.get('id')}"


def _short_id(tl: dict) -> str:
    return str(tl.get("id")) if not tl.get("capture_index") else f"{tl['capture_index'] + 1}.{tl.get('id')}"


def _session_name(tl: dict) -> str:
    return f"Session {_short_id(tl)}"


def _ms_cell(d: dict) -> str:
    if d.get("ms") is None:
        return f'<td class="num na" title="{esc(d.get("reason", ""))}">n/a</td>'
    return f'<td class="num">{esc(fmt_ms(d["ms"]))}</td>'


def _fact(key: str, d: dict, extra: str = "") -> str:
    if d.get("ms") is None:
        return (f'<div class="fact" data-duration="{key}">{esc(DURATION_LABELS[key])}<b class="na">n/a</b>'
                f'<small>{esc(d.get("reason", ""))}</small></div>')
    span = f'{d["from"]} \u2192 {d["to"]}'
    note = f'<small>{esc(d["note"])}</small>' if d.get("note") else ""
    return (f'<div class="fact" data-duration="{key}">{esc(DURATION_LABELS[key])}{esc(extra)}<b>{esc(fmt_ms(d["ms"]))}'
            f'</b><small>{esc(span)}</small>{note}</div>')


def _legend() -> str:
    items = []
    for phase in ("tcp-connect", "hello", "key-exchange", "finished", "application-data", "close"):
        label, colour = PHASES[phase]
        items.append(f'<span><i class="sw" style="background:{colour}"></i>{esc(label)}</span>')
    items.append(f'<span><svg width="46" height="16" aria-hidden="true">{_lock(0, 0, "#374151")}'
                 f'<line x1="14" y1="9" x2="46" y2="9" stroke="#374151" stroke-width="2" stroke-dasharray="7 4"/>'
                 f'</svg>travelled encrypted</span>')
    items.append(f'<span><svg width="18" height="14" aria-hidden="true">{_warning(1, 0)}</svg>'
                 f'<b style="color:{ALERT_COLOUR}">alert</b> (other than close_notify)</span>')
    return (f'<div class="card"><div class="legend">{"".join(items)}</div>'
            '<p class="help">One arrow per message, at the time it was seen on the wire (written on the left; grey '
            'when it repeats the row above). Rows are spaced for reading: long waits are compressed and waits over a '
            'second are cut (\u201c\u2026 later \u2026\u201d). Application data is one arrow per direction; '
            'a band on the sender\u2019s line spans its first to last record. Hover for details.</p></div>')


def _summary_table(tls: list[dict]) -> str:
    head = ["#", "client \u2192 server", "SNI", "version", "cipher suite",
                                                     "handshake", "TCP connect", "TLS handshake",
                                                     "first app data", "session", "msgs", "decryption"]
    num = {"TCP connect", "TLS handshake", "first app data", "session", "msgs"}
    out = ['<div class="scroll"><table class="summary"><thead><tr>'
           + "".join(f'<th class="num">{h}</th>' if h in num else f"<th>{h}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for tl in tls:
        d = tl["durations"]
        dec = tl["decryption"]
        cells = [f'<td><a href="#{esc(_anchor(tl))}" title="{esc(_basename(tl.get("capture")))}">'
                 f'{esc(_short_id(tl))}</a></td>']
        cells += [f'<td class="mono">{esc(tl["client"])}<br>\u2192 {esc(tl["server"])}</td>',
                  f'<td>{_breakable(esc(tl["sni"], 64))}</td>' if tl["sni"] else '<td class="na">-</td>',
                  f'<td class="nowrap">{esc(tl["version"] or "?")}</td>',
                  f'<td class="suite">{_breakable(esc(tl["cipher_suite"] or "?"))}</td>',
                  f'<td>{esc(tl["handshake"] or "?")}</td>',
                  _ms_cell(d["tcp_connect"]), _ms_cell(d["tls_handshake"]), _ms_cell(d["first_app_data"]),
                  _ms_cell(d["session"]), f'<td class="num">{tl["messages"]}</td>',
                  f'<td title="{esc(dec.get("detail", ""))}">{esc(dec.get("status", ""))}</td>']
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _breakable(escaped: str) -> str:
    """Let long identifiers (cipher suites, host names) wrap after _ . - in a table cell."""
    return re.sub(r"([_./-])", r"\1<wbr>", escaped)


def _basename(path: str | None) -> str:
    if not path:
        return ""
    return re.split(r"[\\/]", path)[-1]


def _events_table(tl: dict) -> str:
    out = ['<details class="events"><summary>All events as a table (absolute and relative times)</summary>'
           '<div class="scroll"><table><thead><tr><th>time (UTC)</th><th class="num">+ms</th><th>direction</th>'
           '<th>event</th><th>phase</th><th>encrypted</th><th>detail</th></tr></thead><tbody>']
    for e in tl["events"]:
        arrow = "client \u2192 server" if e.get("from") == "client" else "server \u2192 client"
        cls = ' class="bad"' if e.get("alarm") else ""
        out.append(f'<tr><td class="mono">{esc(iso_time(e["time"]))}</td><td class="num">{e["t_ms"]:.3f}</td>'
                   f'<td>{arrow}</td><td{cls}>{esc(e["label"], 60)}</td>'
                   f'<td>{esc(PHASES.get(e["phase"], PHASES["other"])[0])}</td>'
                   f'<td>{"yes" if e.get("encrypted") else ""}</td><td>{esc(e.get("detail", ""), 200)}</td></tr>')
    out.append("</tbody></table></div></details>")
    return "".join(out)


def _session_section(tl: dict, open_: bool) -> str:
    d = tl["durations"]
    hs = d["tls_handshake"]
    dec = tl["decryption"]
    bits = [tl["version"] or "version ?", f"handshake {fmt_ms(hs['ms'])}" if hs["ms"] is not None
            else "handshake time n/a", tl["handshake"] or "", dec.get("status", "")]
    if tl.get("ech"):
        ech = tl["ech"]
        bits.insert(0, f"ECH {ech['status']}" + (f": {ech['inner_sni']}" if ech.get("inner_sni") else ""))
    if tl.get("sni"):
        bits.insert(0, f"SNI {tl['sni']}")
    alarm = f' <span class="bad">{esc(", ".join(tl["alerts"]), 60)}</span>' if tl["alerts"] else ""
    out = [f'<details class="session" id="{esc(_anchor(tl))}"{" open" if open_ else ""}><summary>'
           f'{esc(_session_name(tl))}: <span class="mono">{esc(tl["client"])} \u2192 {esc(tl["server"])}</span> '
           f'<span class="meta">\u00b7 {esc(" · ".join(b for b in bits if b), 140)}</span>{alarm}</summary>'
           '<div class="body">']
    params = [("capture", _basename(tl.get("capture"))), ("process", process_text(tl["process"]) if tl.get("process")
                                                         else None), ("suite", tl["cipher_suite"]),
              ("key exchange group", tl.get("key_exchange")), ("ALPN", tl.get("alpn")),
              ("handshake", f'{tl["handshake"]} \u2014 {tl["handshake_reason"]}' if tl["handshake"]
               else tl["handshake_reason"]),
              ("decryption", dec.get("status", "") + (f' ({dec["detail"]})' if dec.get("detail") else "")),
              ("started", tl["start_iso"]), ("ended", f'{tl["end_reason"]}')]
    out.append('<p class="params">' + "".join(f"<span><b>{esc(k)}</b> {esc(v, 160)}</span>"
                                                for k, v in params if v) + "</p>")
    out.append('<div class="facts">' + _fact("tcp_connect", d["tcp_connect"]) + _fact("tls_handshake", hs)
               + _fact("first_app_data", d["first_app_data"]) + _fact("session", d["session"]) + "</div>")
    out.append(render_svg(tl))
    out.append(_events_table(tl))
    out.append("</div></details>")
    return "\n".join(out)


MAX_SECTIONS = 500  # sessions with a section (durations, ladder) in one report; the table lists them all


def _captures_line(captures: list[str]) -> str:
    """The capture files of the report; numbered when several (session N.ID is session ID of capture N)."""
    if len(captures) <= 1:
        return esc(captures[0] if captures else "", 200)
    shown = ", ".join(f"{i + 1}: {esc(_basename(c), 60)}" for i, c in enumerate(captures[:6]))
    more = f" and {len(captures) - 6} more" if len(captures) > 6 else ""
    return f"{len(captures)} captures ({shown}{more}; session N.ID is session ID of capture N)"


def render_html(tls: list[dict], summary: dict | None = None, title: str = "TLS handshake timeline") -> str:
    """The self-contained report: legend, chart, summary table, then one ladder per session."""
    summary = summary or {}
    captures = list(summary.get("captures") or dict.fromkeys(t.get("capture") or "" for t in tls))
    complete = [t["durations"]["tls_handshake"]["ms"] for t in tls if t["durations"]["tls_handshake"]["ms"] is not None]
    sub = [f"{len(tls)} TLS session{'s' if len(tls) != 1 else ''}"]
    if summary.get("packets") is not None:
        sub.append(f"{summary['packets']:,} packets")
    if complete:
        sub.append(f"{len(complete)} complete handshake{'s' if len(complete) != 1 else ''}")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           # no fetches and no scripts, whatever a capture-controlled string might contain
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
           "img-src data:\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)}: {esc(', '.join(_basename(c) for c in captures[:3]), 120)}</title>",
           f"<style>{CSS}</style></head><body><main>",
           f"<h1>{esc(title)}</h1>",
           f'<p class="sub">{_captures_line(captures)} \u00b7 {esc(" · ".join(sub))}</p>']
    for w in summary.get("truncated") or []:
        out.append(f'<p class="bad">{esc(w, 300)}</p>')
    out.append(_legend())
    if not tls:
        out.append('<div class="card">No TLS session was found in the capture.</div>')
    if len(tls) >= CHART_MIN_SESSIONS:
        chart = render_chart(tls) if len(tls) <= COLUMNS_MAX else render_histogram(tls)
        out.append('<h2>Durations across sessions</h2><div class="card chartbox">' + chart
                   + _missing_reasons(tls) + "</div>")
    if len(tls) > 1:
        out.append("<h2>Sessions</h2>" + _summary_table(tls))
    if tls:
        out.append("<h2>Ladder diagrams</h2>")
        if len(tls) > OPEN_SESSIONS:
            out.append(f'<p class="sub">The first {OPEN_SESSIONS} sessions are open; click a session to open it.</p>')
    for n, tl in enumerate(tls[:MAX_SECTIONS]):
        out.append(_session_section(tl, n < OPEN_SESSIONS))
    if len(tls) > MAX_SECTIONS:
        out.append(f'<div class="card">{len(tls) - MAX_SECTIONS:,} more sessions are in the table above only, to '
                   f'keep this page light: draw one with <span class="mono">--session N.ID</span>, or use '
                   f'<span class="mono">--format json</span> or <span class="mono">csv</span> for all of them.</div>')
    out.append("</main></body></html>\n")
    return _ascii("\n".join(out))
