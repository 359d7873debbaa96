"""`dissector plugins`: the installed application-layer plugins and where they come from.

Also the plugin options shared by `analyze` and `http` (`--plugins`, `--no-plugins`, `--show-secrets`).
"""
from __future__ import annotations

import argparse
import json
import sys

from dissector.errors import UsageError
from dissector.plugins import GROUP, discover, load_plugins


def add_plugin_options(p: argparse.ArgumentParser, choose: bool = True) -> None:
    if choose:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--plugins", metavar="NAME,...", help="run only these plugins (see `dissector plugins`)")
        g.add_argument("--no-plugins", action="store_true", help="run no application-layer plugin")
    p.add_argument("--show-secrets", action="store_true",
                   help="show passwords, cookie values, tokens and OAuth2 codes instead of redacting them")


def plugins_from_args(args: argparse.Namespace) -> list:
    """The plugins the options ask for. Raises UsageError for an unknown name."""
    if getattr(args, "no_plugins", False):
        return []
    names = getattr(args, "plugins", None)
    wanted = [n.strip() for n in names.split(",") if n.strip()] if names else None
    try:
        return load_plugins(wanted)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def add_parser(sub) -> None:
    p = sub.add_parser("plugins", help="list the installed application-layer plugins",
                       description=f"List the plugins registered under the entry-point group {GROUP!r}.")
    p.add_argument("--format", "-f", choices=["table", "json"], default="table", help="output format (default table)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    entries = discover()
    rows = [{"name": e.name, "section": getattr(e.plugin, "section", None) or e.name if e.plugin else None,
             "entry_point": e.value, "distribution": e.dist, "status": "ok" if e.error is None else "error",
             "error": e.error, "description": e.description} for e in entries]
    if args.format == "json":
        json.dump({"group": GROUP, "plugins": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print(f"no plugins installed (entry-point group {GROUP})")
        return 0
    from tabulate import tabulate

    table = [[r["name"], r["entry_point"], r["distribution"] or "?",
              r["description"] if r["status"] == "ok" else f"ERROR: {r['error']}"] for r in rows]
    print(tabulate(table, headers=["plugin", "entry point", "from", "description"], tablefmt="simple"))
    return 0
