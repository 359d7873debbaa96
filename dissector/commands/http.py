"""`dissector http CAPTURE...`: every HTTP request of the decrypted sessions, one row each."""
from __future__ import annotations

import argparse
import sys

from dissector.commands.listing import add_listing_arguments, analyse, finish, iso_ms, write_rows
from dissector.output.formats import request_url

COLUMNS = ["time", "session", "client", "method", "url", "status", "auth", "oauth2", "cookies"]


def add_parser(sub) -> None:
    p = sub.add_parser("http", help="list the HTTP requests of the decrypted sessions",
                       description="Decrypt what the keys allow and list every HTTP/1.x and HTTP/2 request: time, "
                                   "session, client, method, host and target, status, auth scheme, OAuth2 step and "
                                   "number of cookies. Secrets are redacted unless --show-secrets.")
    add_listing_arguments(p)
    p.set_defaults(run=run)


def request_rows(sessions: list[dict]) -> list[dict]:
    rows = []
    for doc in sessions:
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


def run(args: argparse.Namespace) -> int:
    sessions, result = analyse(args)
    rows = request_rows(sessions)
    write_rows(args, "requests", rows, COLUMNS, lambda r: [
        iso_ms(r["time"]), r["session"], r["client"], r["method"], request_url(r["host"], r["target"] or ""),
        r["status"] if r["status"] is not None else "-", r["auth"] or "", r["oauth2"] or "", r["cookies"]])
    if args.format == "table":
        decrypted = result.decryption.get("decrypted", 0)
        sys.stdout.write(f"{len(rows)} request(s) in {decrypted} decrypted of {result.sessions} TLS session(s)\n")
    return finish(result)
