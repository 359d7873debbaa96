"""`dissector http CAPTURE...`: every HTTP request of the decrypted sessions, one row each."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from dissector.analysis import run_captures
from dissector.commands.analyze import add_key_options
from dissector.commands.plugins import add_plugin_options, plugins_from_args
from dissector.keys import build_keystore

COLUMNS = ["time", "session", "client", "method", "url", "status", "auth", "oauth2", "cookies"]


def add_parser(sub) -> None:
    p = sub.add_parser("http", help="list the HTTP requests of the decrypted sessions",
                       description="Decrypt what the keys allow and list every HTTP/1.x and HTTP/2 request: time, "
                                   "session, client, method, host and target, status, auth scheme, OAuth2 step and "
                                   "number of cookies. Secrets are redacted unless --show-secrets.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), - for stdin")
    add_key_options(p)
    p.add_argument("--format", "-f", choices=["table", "json", "csv"], default="table",
                   help="output format (default table)")
    add_plugin_options(p, choose=False)
    p.set_defaults(run=run)


def request_rows(sessions: list[dict]) -> list[dict]:
    rows = []
    for doc in sorted(sessions, key=lambda d: (d.get("capture_index", 0), d["id"])):
        http = doc.get("http")
        if not http:
            continue
        for r in http.get("requests", []):
            auth = r.get("auth") or {}
            scheme = auth.get("scheme")
            if scheme and auth.get("user"):
                scheme = f"{scheme} {auth['user']}"
            elif r.get("credentials"):
                cred = r["credentials"]
                scheme = f"form {cred.get('user') or ''}".strip()
            steps = [s for s in (r.get("oauth2_step"), r.get("oauth2_response_step")) if s]
            rows.append({
                "time": r.get("time"), "session": doc["id"], "client": doc["client"], "server": doc["server"],
                "protocol": r.get("version"), "method": r.get("method"), "host": r.get("host"),
                "target": r.get("target"), "status": r.get("status"), "auth": scheme,
                "oauth2": "/".join(steps) or None, "cookies": len(r.get("cookies") or []),
                "set_cookies": len(r.get("set_cookies") or []), "capture": doc.get("capture"),
            })
    return rows


def _time(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def run(args: argparse.Namespace) -> int:
    plugins = plugins_from_args(args)
    keys = build_keystore(args.keylog, args.key, args.psk)
    sessions: list[dict] = []
    result = run_captures(args.captures, keys, on_session=sessions.append, plugins=plugins,
                          show_secrets=args.show_secrets, details=False)
    rows = request_rows(sessions)
    out = sys.stdout
    if args.format == "json":
        json.dump({"requests": rows}, out, indent=1, default=str)
        out.write("\n")
    elif args.format == "csv":
        import csv

        w = csv.writer(out)
        keys_ = list(rows[0]) if rows else COLUMNS
        w.writerow(keys_)
        for r in rows:
            w.writerow(["" if r[k] is None else r[k] for k in keys_])
    else:
        from tabulate import tabulate

        table = [[_time(r["time"]), r["session"], r["client"], r["method"], f"{r['host'] or ''}{r['target']}",
                  r["status"] if r["status"] is not None else "-", r["auth"] or "", r["oauth2"] or "", r["cookies"]]
                 for r in rows]
        if table:
            out.write(tabulate(table, headers=COLUMNS, tablefmt="simple", disable_numparse=True) + "\n")
        decrypted = result.decryption.get("decrypted", 0)
        out.write(f"{len(rows)} request(s) in {decrypted} decrypted of {result.sessions} TLS session(s)\n")
    for warning in result.truncated:
        print(f"dissector: warning: {warning}", file=sys.stderr)
    return 4 if result.truncated else 0
