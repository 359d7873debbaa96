"""What the commands that list what the plugins found (`http`, `credentials`) share: their options, the run over
the captures, and the JSON, CSV and table output of their rows."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from dissector.analysis import RunResult, run_captures
from dissector.commands.analyze import add_key_options
from dissector.commands.plugins import add_plugin_options, plugins_from_args
from dissector.keys import build_keystore


def add_listing_arguments(p: argparse.ArgumentParser) -> None:
    """CAPTURE..., the key options, --format table|json|csv and the plugin options."""
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), - for stdin")
    add_key_options(p)
    p.add_argument("--format", "-f", choices=["table", "json", "csv"], default="table",
                   help="output format (default table)")
    add_plugin_options(p, choose=False)


def analyse(args: argparse.Namespace) -> tuple[list[dict], RunResult]:
    """Every session document of the captures (plugins on, secrets redacted unless --show-secrets)."""
    sessions: list[dict] = []
    result = run_captures(args.captures, build_keystore(args.keylog, args.key, args.psk), on_session=sessions.append,
                          plugins=plugins_from_args(args), show_secrets=args.show_secrets, details=False)
    sessions.sort(key=lambda d: (d.get("capture_index", 0), d["id"]))
    return sessions, result


def write_rows(args: argparse.Namespace, name: str, rows: list[dict], columns: list[str],
               table_row: Callable[[dict], list]) -> None:
    """JSON ({name: rows}), CSV (every field of the rows) or a table (`columns`, one `table_row` per row)."""
    out = sys.stdout
    if args.format == "json":
        json.dump({name: rows}, out, indent=1, default=str)
        out.write("\n")
    elif args.format == "csv":
        import csv

        w = csv.writer(out)
        fields = list(rows[0]) if rows else columns
        w.writerow(fields)
        for r in rows:
            w.writerow(["" if r[k] is None else r[k] for k in fields])
    elif rows:
        from tabulate import tabulate

        out.write(tabulate([table_row(r) for r in rows], headers=columns, tablefmt="simple",
                           disable_numparse=True) + "\n")


def finish(result: RunResult) -> int:
    """Warn about truncated captures; the exit status (4 when one was)."""
    for warning in result.truncated:
        print(f"dissector: warning: {warning}", file=sys.stderr)
    return 4 if result.truncated else 0


def iso_ms(ts: float | None) -> str:
    """A row's time: UTC to the millisecond."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
