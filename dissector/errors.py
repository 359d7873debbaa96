"""Errors shared by every layer.

Parsers follow the tri-state convention: return a value, return None for "need more data",
or raise MalformedInput. Only Pipeline catches MalformedInput and turns it into an Anomaly event.
"""
from __future__ import annotations


class DissectorError(Exception):
    """Base class: an error that the CLI reports as one line, never as a traceback."""


class MalformedInput(DissectorError):
    """Bytes that do not follow the wire format of `layer`.

    `name` is a stable snake_case anomaly name (like a zeek weird), `reason` a sentence for people.
    """

    def __init__(self, layer: str, name: str, reason: str = "", offset: int | None = None) -> None:
        self.layer = layer
        self.name = name
        self.reason = reason
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(f"{layer}: {name}{where}: {reason}" if reason else f"{layer}: {name}{where}")


class UsageError(DissectorError):
    """Options that contradict each other or name something that does not exist (exit code 2)."""


class CaptureError(DissectorError):
    """A capture file that cannot be read at all (not a capture, unsupported format)."""


class KeyMaterialError(DissectorError):
    """A key, key log or PSK given on the command line that cannot be used."""


class DecryptError(Exception):
    """A record that failed to authenticate or decrypt (bad tag, MAC or padding)."""
