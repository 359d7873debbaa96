"""`--format explain`: each session told in sentences, in the order a textbook walks through a handshake: the
connection, what the client offered, what the server chose, how it proved who it is, the keys, the data, the end.

Everything said comes from the session document (the JSON contract) and its timeline (`timeline.py`): nothing is
inferred that the capture does not show, and what it cannot show is said as such ("the capture starts after...").
"""
from __future__ import annotations

from typing import Any

from dissector.output.formats import (
    Writer,
    began_after,
    eap_line,
    ocsp_text,
    openvpn_line,
    process_text,
    proxy_credentials_text,
    request_line,
    summary_line,
    transport_name,
)
from dissector.tunnel import TUNNEL_ID_BASE

LISTED = 6  # names listed before "and N more"


class ExplainWriter(Writer):
    details = True
    messages = True

    def session(self, doc: dict) -> None:
        self.out.write(explain_session(doc) + "\n\n")

    def end(self, summary: dict) -> None:
        self.out.write(summary_line(summary) + "\n")


def explain_session(doc: dict) -> str:
    """The session as a short text: a heading, then one paragraph per stage."""
    from dissector.output import timeline as tlm  # (its durations; imported only when explaining)

    head = f"Session {doc['id']}: {doc['client']} -> {doc['server']}{transport_name(doc)}"
    msgs = doc.get("messages") or []
    durations = tlm.timelines([doc])[0]["durations"]
    process = doc.get("process")
    parts = [f"The capture names the local process: {process_text(process)} (macOS PKTAP)." if process else "",
             _connection(doc, durations), _client_hello(doc, msgs), _server_hello(doc, msgs),
             _identity(doc, msgs), _keys(doc, durations), _data(doc, durations), _end(doc)]
    findings = doc.get("findings") or []
    if findings:
        parts.append("Worth knowing: " + "; ".join(f"{f['detail']} [{f['severity']}]" for f in findings[:6]) + ".")
    return head + "\n" + "\n".join("  " + p for p in parts if p)


def _names(items: list, n: int = LISTED) -> str:
    shown = ", ".join(str(x) for x in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _ext(m: dict, name: str) -> dict | None:
    return next((e for e in m.get("extensions") or [] if e.get("name") == name), None)


def _ms(d: dict) -> str | None:
    from dissector.output.timeline import fmt_ms

    return fmt_ms(d["ms"]) if d.get("ms") is not None else None


def _connection(doc: dict, durations: dict) -> str:
    transport = doc.get("transport")
    if transport in ("eapol", "radius"):
        eap = doc.get("eap") or {}
        text = (f"There is no TCP connection: the TLS handshake travels inside {eap.get('method') or 'EAP'} packets, "
                f"carried by {'802.1X EAPOL frames between the supplicant and the authenticator' if transport == 'eapol' else 'RADIUS between the authenticator and the RADIUS server'}. "
                f"{eap_line(eap)}.")
    elif transport == "openvpn":
        text = ("Over UDP there is no connection to open: the OpenVPN client's hard reset starts the session, and the "
                "TLS handshake runs inside OpenVPN's control channel.")
    elif transport in ("udp", "quic"):
        text = "Over UDP there is no connection to open: the ClientHello is in the first datagram."
        text += "".join(" " + _quic_step(e) for e in doc.get("quic") or [])
    elif doc["id"] >= TUNNEL_ID_BASE:  # (its bytes are another session's plaintext: no TCP of its own)
        return (f"It runs inside a proxy tunnel: TLS began {began_after(doc.get('upgrade') or 'a CONNECT')}, on the proxy "
                "connection's TCP; its records are that session's decrypted bytes.")
    elif _ms(durations["tcp_connect"]):
        text = f"The TCP connection opened in {_ms(durations['tcp_connect'])} (SYN, SYN-ACK, ACK)."
    else:
        text = "The capture starts after the TCP connection opened."
    if doc.get("upgrade"):
        text += f" TLS began {began_after(doc['upgrade'])}{proxy_credentials_text(doc)}."
    if doc.get("openvpn"):
        text += f" {openvpn_line(doc['openvpn'])}."
    return text


def _quic_step(e: dict) -> str:
    if e.get("ignored"):
        return f"A {e['packet']} packet came and was ignored, as the client must ({e.get('detail')})."
    if e["packet"] == "Retry":
        return ("The server answered with a Retry: before it spends anything on the connection, the client must "
                "show it can receive at its address, so it sent its ClientHello again with the server's token "
                f"({e.get('detail')}).")
    return (f"The server does not speak the client's QUIC version (Version Negotiation: {e.get('detail')}), so the "
            "client started again with one it does.")


def _client_hello(doc: dict, msgs: list[dict]) -> str:
    ch = next((m for m in msgs if m["type"] == "ClientHello"), None)
    if ch is None:
        return "The ClientHello is not in the capture, so what the client offered is unknown."
    sv = _ext(ch, "supported_versions")
    versions = sv.get("versions") if sv else [ch.get("version")]
    suites = [s for s in ch.get("cipher_suites") or [] if "GREASE" not in str(s) and "SCSV" not in str(s)]
    text = f"The client offered {_names(versions or ['?'])} with {len(suites)} cipher suite(s) ({_names(suites, 3)})"
    ks = _ext(ch, "key_share")
    if ks and ks.get("shares"):
        groups = [s.get("group") for s in ks["shares"] if "GREASE" not in str(s.get("group"))]
        text += f", key shares for {_names(groups)}"
    if ch.get("sni") or doc.get("sni"):
        text += f", for the server name {ch.get('sni') or doc.get('sni')}"
    alpn = _ext(ch, "application_layer_protocol_negotiation")
    if alpn and alpn.get("protocols"):
        text += f", application protocols {_names(alpn['protocols'])}"
    extras = []
    external = _external_psk(ch)
    if external is not None:
        extras.append(f"a pre-shared key (identity {external!r})")
    elif _ext(ch, "pre_shared_key"):
        extras.append("a ticket to resume an earlier session")
    elif ch.get("session_id") and not sv:
        extras.append("a session ID to resume")
    if _ext(ch, "early_data"):
        extras.append("0-RTT early data")
    if _ext(ch, "encrypted_client_hello"):
        extras.append("an Encrypted Client Hello")
    if extras:
        text += "; it also brought " + " and ".join(extras)
    return text + "."


def _external_psk(ch: dict) -> str | None:
    """The identity of a TLS 1.3 ClientHello's first PSK when it is an external one (a key agreed out of band), not
    a resumption ticket: its obfuscated_ticket_age is 0 (RFC 8446 4.2.11) and it reads as text."""
    psk = _ext(ch, "pre_shared_key")
    ids = psk.get("identities") if psk else None
    if not ids or ids[0].get("obfuscated_ticket_age"):
        return None
    try:
        name = bytes.fromhex(ids[0].get("identity", "")).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return name if name.isprintable() and name else None


def _server_hello(doc: dict, msgs: list[dict]) -> str:
    sh = next((m for m in msgs if m["type"] == "ServerHello"), None)
    if sh is None:
        return "No ServerHello is in the capture, so the server's choices are unknown."
    text = ""
    if any(m["type"] == "HelloRetryRequest" for m in msgs):
        text = "The server first asked for another key share (HelloRetryRequest), then "
    else:
        text = "The server "
    text += f"chose {doc.get('version') or '?'} and {doc.get('cipher_suite') or '?'}"
    ks = _ext(sh, "key_share")
    ske = next((m for m in msgs if m["type"] == "ServerKeyExchange"), {})
    if ks and ks.get("share"):
        text += f", with an ephemeral {ks['share'].get('group')} key exchange"
    elif ske.get("named_curve") or ske.get("dh_prime_bits"):
        group = ske.get("named_curve") or f"{ske['dh_prime_bits']}-bit finite-field"
        text += f", with an ephemeral {group} key exchange"
    elif any(m["type"] == "ClientKeyExchange" and m.get("encrypted_pre_master_length") for m in msgs):
        text += "; the client sent the pre-master secret encrypted to the server's RSA key (so whoever has that " \
                "key can decrypt the session)"
    if doc.get("alpn"):
        text += f", and {doc['alpn']} as the application protocol"
    text += "."
    ch = next((m for m in msgs if m["type"] == "ClientHello"), None)
    external = _external_psk(ch) if ch else None
    if doc.get("resumed") and external is not None:
        text += (f" It took the pre-shared key (identity {external!r}), so no certificate was needed"
                 + ("" if ks else ", and no (EC)DHE either: the PSK alone keys the session") + ".")
    elif doc.get("resumed"):
        text += " It resumed an earlier session, so no certificate was needed."
    ech = doc.get("ech")
    if ech:
        text += f" Encrypted Client Hello: {ech.get('status')}" + (
            f" (the real server name was {ech['inner_sni']})" if ech.get("inner_sni") else "") + "."
    return text


def _identity(doc: dict, msgs: list[dict]) -> str:
    server = (doc.get("certificates") or {}).get("server")
    if not server or not server.get("chain"):
        note = (doc.get("certificates") or {}).get("note")
        return f"No server certificate was seen ({note})." if note and not doc.get("resumed") else ""
    leaf = server["chain"][0]
    if server.get("raw_public_key"):
        return f"The server proved its identity with a raw public key ({leaf.get('key_type')}), not a certificate."
    text = (f"The server presented a certificate for {leaf.get('subject')} ({leaf.get('key_type')} "
            f"{leaf.get('key_size')}), issued by {leaf.get('issuer')}")
    if leaf.get("self_signed"):
        text += " (self-signed)"
    if server.get("sni_match") is False:
        text += ", which does not match the server name asked for"
    if leaf.get("validity") and leaf["validity"] != "valid":
        text += f", {leaf['validity']} at the time of the capture"
    text += "."
    if server.get("ocsp"):
        text += f" It stapled a revocation answer: {ocsp_text(server['ocsp'])}."
    if any(m["type"] == "CertificateVerify" and m["from"] == "server" for m in msgs) or \
            any(m["type"] == "ServerKeyExchange" for m in msgs):
        text += " It signed the handshake with the certificate's key."
    if any(m["type"] == "Certificate" and m["from"] == "client" for m in msgs):
        client = (doc.get("certificates") or {}).get("client") or {}
        subject = (client.get("chain") or [{}])[0].get("subject")
        text += f" The client authenticated too ({subject})." if subject else " The server asked for a client " \
                                                                             "certificate; the client sent none."
    return text


def _keys(doc: dict, durations: dict) -> str:
    dec = doc.get("decryption") or {}
    hs = _ms(durations["tls_handshake"])
    text = f"The handshake took {hs}. " if hs else ""
    status = dec.get("status")
    if status == "decrypted":
        unchecked = [a for a in doc.get("anomalies") or [] if a.get("name") == "finished_unverifiable"]
        text += "The session was decrypted with the keys given" + (
            f" ({dec['detail']})." if dec.get("detail") else
            f"; its records authenticated, but {unchecked[0]['detail']}." if unchecked else
            "; its records authenticated and both Finished messages matched the handshake, so the keys are the "
            "right ones.")
    elif status == "not-encrypted":
        text += f"Nothing was encrypted ({dec.get('detail') or 'no encrypted records'})."
    else:
        text += f"It was not decrypted: {dec.get('detail') or status}."
    early = doc.get("early_data")
    if early:
        text += (f" The client's 0-RTT data ({early.get('bytes')} bytes) was {early.get('status')}: "
                 f"{early.get('detail')}.")
    return text


def _data(doc: dict, durations: dict) -> str:
    ad = doc.get("app_data")
    parts = []
    if ad:
        parts.append(f"The client sent {ad['client']['bytes']} bytes of application data and the server "
                     f"{ad['server']['bytes']}")
    elif doc.get("app_records"):
        n = sum(r.get("records", 0) for r in doc["app_records"].values())
        parts.append(f"{n} application data record(s) went by, encrypted")
    first = _ms(durations["first_app_data"])
    if first and parts:
        parts[-1] += f"; the first came {first} after the ClientHello"
    http: dict[str, Any] = doc.get("http") or {}
    requests = http.get("requests") or []
    if requests:
        shown = "; ".join(request_line(r) for r in requests[:3])
        parts.append(f"{http.get('protocol', 'HTTP')}: {shown}" + (f" and {len(requests) - 3} more"
                                                                   if len(requests) > 3 else ""))
    return (". ".join(parts) + ".") if parts else ""


def _end(doc: dict) -> str:
    msgs = doc.get("messages") or []
    closes = [m["from"] for m in msgs if m["type"] == "Alert" and m.get("description") == "close_notify"]
    fatal = [m for m in msgs if m["type"] == "Alert" and m.get("level") == "fatal"]
    end = doc.get("end") or {}
    if fatal:
        a = fatal[0]
        text = f"The {a['from']} ended it with a fatal alert: {a.get('description')}."
        return text + (f" The EAP server answered {end['reason']}." if doc.get("eap") and end.get("reason") else "")
    if doc.get("eap") and not closes:  # (EAP methods end the TLS session with EAP-Success or -Failure, not an alert)
        outcome = (doc["eap"] or {}).get("outcome")
        return f"The EAP conversation ended with EAP-{outcome}." if outcome else \
            f"The capture ends before the EAP conversation does ({end.get('reason') or 'no outcome'})."
    if closes:
        who = " and ".join(dict.fromkeys(closes))
        text = f"The {who} closed the session properly (close_notify)"
    else:
        text = "No close_notify was seen"
    reason = end.get("reason")
    return text + (f", then the connection ended ({reason})." if reason and reason != "close_notify" else ".")
