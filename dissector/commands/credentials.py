"""`dissector credentials CAPTURE...`: every credential the plugins found, one row each, across protocols.

What Wireshark's Tools > Credentials lists, from the session documents: HTTP Authorization headers (Basic,
Bearer, Digest and other schemes) and login forms, SMTP/IMAP/POP3 logins, FTP logins. Each row says whether it
travelled inside TLS or in the clear, and how the server answered. Secrets are redacted unless --show-secrets.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator

from dissector.analysis import run_captures
from dissector.commands.analyze import add_key_options
from dissector.commands.http import _time
from dissector.commands.plugins import add_plugin_options, plugins_from_args
from dissector.keys import build_keystore

COLUMNS = ["time", "session", "client", "server", "protocol", "kind", "user", "secret", "result", "transport"]


def add_parser(sub) -> None:
    p = sub.add_parser("credentials", help="list the credentials found in the sessions (HTTP, mail, FTP)",
                       description="Decrypt what the keys allow and list every credential the plugins found: HTTP "
                                   "Authorization headers and login forms, SMTP, IMAP and POP3 logins, FTP logins; "
                                   "for each, whether it travelled in the clear and how the server answered. "
                                   "Secrets are redacted unless --show-secrets.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), - for stdin")
    add_key_options(p)
    p.add_argument("--format", "-f", choices=["table", "json", "csv"], default="table",
                   help="output format (default table)")
    add_plugin_options(p, choose=False)
    p.set_defaults(run=run)


def credential_rows(sessions: list[dict]) -> list[dict]:
    """One row per credential, in session order: HTTP, then mail, then FTP logins of each session."""
    rows = []
    for doc in sorted(sessions, key=lambda d: (d.get("capture_index", 0), d["id"])):
        transport = "cleartext" if doc.get("cleartext") else "TLS"
        for ts, protocol, kind, user, secret, result in _found(doc):
            rows.append({"time": ts, "session": doc["id"], "client": doc["client"], "server": doc["server"],
                         "protocol": protocol, "kind": kind, "user": user, "secret": secret, "result": result,
                         "transport": transport, "capture": doc.get("capture")})
    return rows


def _found(doc: dict) -> Iterator[tuple]:
    """(time, protocol, kind, user, secret, result) of each credential in one session document."""
    for r in (doc.get("http") or {}).get("requests", []):
        protocol, status = r.get("version") or "HTTP", r.get("status")
        auth = r.get("auth")
        if auth:
            secret = auth.get("password") or auth.get("token") or auth.get("credentials")
            yield r.get("time"), protocol, f"Authorization {auth.get('scheme')}", auth.get("user"), secret, status
        cred = r.get("credentials")
        if cred:
            yield r.get("time"), protocol, f"login {cred.get('source') or 'form'}", cred.get("user"), \
                cred.get("password"), status
    mail = doc.get("mail") or {}
    for x in mail.get("logins", []):
        kind = " ".join(p for p in (x.get("command"), x.get("mechanism")) if p)
        yield x.get("time"), mail.get("protocol") or "mail", kind, x.get("user"), x.get("password"), x.get("result")
    for x in (doc.get("ftp") or {}).get("logins", []):
        kind = "USER/PASS" if x.get("password") is not None else "USER"
        yield x.get("time"), "FTP", kind, x.get("user"), x.get("password"), x.get("result")


def run(args: argparse.Namespace) -> int:
    plugins = plugins_from_args(args)
    keys = build_keystore(args.keylog, args.key, args.psk)
    sessions: list[dict] = []
    result = run_captures(args.captures, keys, on_session=sessions.append, plugins=plugins,
                          show_secrets=args.show_secrets, details=False)
    rows = credential_rows(sessions)
    out = sys.stdout
    if args.format == "json":
        json.dump({"credentials": rows}, out, indent=1, default=str)
        out.write("\n")
    elif args.format == "csv":
        import csv

        w = csv.writer(out)
        w.writerow(COLUMNS + ["capture"])
        for r in rows:
            w.writerow(["" if r[k] is None else r[k] for k in COLUMNS + ["capture"]])
    else:
        from tabulate import tabulate

        several = len(args.captures) > 1  # session ids restart in each capture: name it
        table = [[_time(r["time"]), r["session"], r["client"], r["server"], r["protocol"], r["kind"],
                  r["user"] or "", r["secret"] or "", "-" if r["result"] is None else r["result"], r["transport"]]
                 + ([os.path.basename(r["capture"] or "")] if several else []) for r in rows]
        if table:
            out.write(tabulate(table, headers=COLUMNS + (["capture"] if several else []), tablefmt="simple",
                               disable_numparse=True) + "\n")
        clear = sum(r["transport"] == "cleartext" for r in rows)
        out.write(f"{len(rows)} credential(s), {clear} of them in the clear, in {result.sessions} session(s)\n")
    for warning in result.truncated:
        print(f"dissector: warning: {warning}", file=sys.stderr)
    return 4 if result.truncated else 0
