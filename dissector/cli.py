"""The `dissector` command line: subcommands, one-line errors and documented exit codes.

Exit codes: 0 success; 1 internal error (a bug: please report it); 2 usage error; 3 unreadable input
(not a capture, missing file, unusable key material); 4 a capture was truncated or damaged (what
could be read was analysed and reported); 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from dissector import __version__
from dissector.errors import DissectorError, UsageError

EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT = 1, 2, 3
COMMANDS = ["analyze", "export", "follow", "keys", "generate", "timeline", "plugins", "http", "credentials", "serve", "connect", "live"]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with `command` only that subcommand's (its module alone is imported: startup
    time counts when a capture takes a second)."""
    parser = argparse.ArgumentParser(prog="dissector", description="TLS-aware network traffic analyzer")
    parser.add_argument("--version", action="version", version=f"dissector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [command] if command in COMMANDS else COMMANDS:
        try:
            module = importlib.import_module(f"dissector.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"dissector.commands.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"dissector: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DissectorError as exc:  # unreadable capture, unusable key material, ...
        print(f"dissector: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except FileNotFoundError as exc:
        print(f"dissector: error: {exc.filename}: no such file", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        return 0
    except OSError as exc:  # an output that cannot be written (a directory, no permission, a full disk...)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dissector: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("dissector: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        print(f"dissector: internal error: {type(exc).__name__}: {exc} (please report this; "
              "set DISSECTOR_DEBUG=1 for details)", file=sys.stderr)
        import os

        if os.environ.get("DISSECTOR_DEBUG"):
            raise
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
