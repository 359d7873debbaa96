"""`dissector credentials CAPTURE...`: every credential the plugins found, one row each, across protocols.

What Wireshark's Tools > Credentials lists, from the session documents: HTTP Authorization headers (Basic,
Bearer, Digest and other schemes) and login forms, SMTP/IMAP/POP3 logins, FTP logins, the authentication
inside PEAP and EAP-TTLS tunnels (a PAP password, an MS-CHAPv2 hash to crack offline), and OpenVPN's
auth-user-pass login inside its control channel. Each row says whether it
travelled inside TLS or in the clear, and how the server answered. Secrets are redacted unless --show-secrets.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from dissector.commands.listing import add_listing_arguments, analyse, finish, iso_ms, write_rows
from dissector.redact import auth_secret

COLUMNS = ["time", "session", "client", "server", "protocol", "kind", "user", "secret", "result", "transport"]


def add_parser(sub) -> None:
    p = sub.add_parser("credentials", help="list the credentials found in the sessions (HTTP, mail, XMPP, FTP)",
                       description="Decrypt what the keys allow and list every credential the plugins found: HTTP "
                                   "Authorization headers and login forms, SMTP, IMAP and POP3 logins, FTP logins; "
                                   "for each, whether it travelled in the clear and how the server answered. "
                                   "Secrets are redacted unless --show-secrets.")
    add_listing_arguments(p)
    p.set_defaults(run=run)


def credential_rows(sessions: list[dict]) -> list[dict]:
    """One row per credential, sessions in the order given: HTTP, then mail, XMPP and FTP logins of each."""
    rows = []
    for doc in sessions:
        transport = "cleartext" if doc.get("cleartext") else "TLS"
        found = [(*item, transport) for item in _found(doc)]
        proxy = doc.get("proxy_authorization")
        if proxy:  # given to an HTTP proxy in its CONNECT, before TLS began: in the clear, whatever came after
            found.insert(0, (proxy.get("time"), "HTTP proxy", f"Proxy-Authorization {proxy.get('scheme')}",
                             proxy.get("user"), auth_secret(proxy), proxy.get("result"), "cleartext"))
        for ts, protocol, kind, user, secret, result, how in found:
            rows.append({"time": ts, "session": doc["id"], "client": doc["client"], "server": doc["server"],
                         "protocol": protocol, "kind": kind, "user": user, "secret": secret, "result": result,
                         "transport": how, "capture": doc.get("capture")})
    return rows


def _found(doc: dict) -> Iterator[tuple]:
    """(time, protocol, kind, user, secret, result) of each credential inside one session document."""
    for r in (doc.get("http") or {}).get("requests", []):
        protocol, status = r.get("version") or "HTTP", r.get("status")
        auth = r.get("auth")
        if auth:
            yield r.get("time"), protocol, f"{auth.get('header') or 'Authorization'} {auth.get('scheme')}", \
                auth.get("user"), auth_secret(auth), status
        cred = r.get("credentials")
        if cred:
            yield r.get("time"), protocol, f"login {cred.get('source') or 'form'}", cred.get("user"), \
                cred.get("password"), status
    mail = doc.get("mail") or {}
    for x in mail.get("logins", []):
        kind = " ".join(p for p in (x.get("command"), x.get("mechanism")) if p)
        yield x.get("time"), mail.get("protocol") or "mail", kind, x.get("user"), x.get("password"), x.get("result")
    for x in (doc.get("xmpp") or {}).get("logins", []):
        yield x.get("time"), "XMPP", f"SASL {x.get('mechanism')}", x.get("user"), x.get("password"), x.get("result")
    for x in (doc.get("ftp") or {}).get("logins", []):
        kind = "USER/PASS" if x.get("password") is not None else "USER"
        yield x.get("time"), "FTP", kind, x.get("user"), x.get("password"), x.get("result")
    ovpn = doc.get("openvpn_control")
    if ovpn and (ovpn.get("user") or ovpn.get("password")):  # OpenVPN's auth-user-pass, inside its TLS session
        yield (doc.get("end") or {}).get("time"), "OpenVPN", "auth-user-pass", ovpn.get("user"), ovpn.get("password"), \
            ovpn.get("result")
    inner = doc.get("eap_tunnel")
    if inner and inner.get("auth"):  # PEAP, EAP-TTLS: the authentication inside the tunnel; else the EAP outcome
        outcome = {"Success": "ok", "Failure": "failed"}.get((doc.get("eap") or {}).get("outcome") or "")
        yield (doc.get("end") or {}).get("time"), inner.get("tunnel"), inner["auth"], inner.get("user"), \
            inner.get("secret"), inner.get("result") or outcome


def run(args: argparse.Namespace) -> int:
    sessions, result = analyse(args)
    rows = credential_rows(sessions)
    several = len(args.captures) > 1  # session ids restart in each capture: the table names it
    write_rows(args, "credentials", rows, COLUMNS + (["capture"] if several else []), lambda r: [
        iso_ms(r["time"]), r["session"], r["client"], r["server"], r["protocol"], r["kind"], r["user"] or "",
        r["secret"] or "", "-" if r["result"] is None else r["result"], r["transport"]]
        + ([os.path.basename(r["capture"] or "")] if several else []))
    if args.format == "table":
        clear = sum(r["transport"] == "cleartext" for r in rows)
        sys.stdout.write(f"{len(rows)} credential(s), {clear} of them in the clear, in {result.sessions} session(s)\n")
    return finish(result)
