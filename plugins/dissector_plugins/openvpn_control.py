"""What OpenVPN's control channel carries inside TLS, once decrypted: the key-method-2 exchange and the control
messages after it.

Each side first sends a key-method-2 message: four zero bytes, the method (2), its key source (the client's
pre-master and two randoms, 112 bytes; the server's two randoms, 64 bytes), then length-prefixed strings: the
options string (the settings both ends must agree on), and from the client the user name and password of
`auth-user-pass` and its peer info (IV_VER=..., one per line). Then NUL-terminated text messages: PUSH_REQUEST,
PUSH_REPLY (the routes, addresses and options the server pushes), AUTH_FAILED... The password is a `Secret`, redacted
unless --show-secrets; the key source is not kept.
"""
from __future__ import annotations

from typing import Any

from dissector.events import CLIENT
from dissector.plugins import BufferedPlugin
from dissector.redact import Secret

_KEY_SOURCE = {CLIENT: 112, "server": 64}


class OpenVPNControlPlugin(BufferedPlugin):
    """OpenVPN's control channel: options, the auth-user-pass login (password redacted), peer info, pushed settings."""

    name = "openvpn_control"
    section = "openvpn_control"

    def match(self, info: Any) -> float:
        return 0.9 if bytes(info.data[:5]) == b"\0\0\0\0\x02" else -1.0

    def read(self, client: bytes, server: bytes) -> dict[str, Any] | None:
        fields: dict[str, Any] = {"options": {}, "user": None, "password": None, "peer_info": None, "messages": []}
        for side, data in ((CLIENT, client), ("server", server)):
            rest = _key_method_2(data, side, fields)
            fields["messages"] += [{"from": side, "text": m} for m in _texts(rest)][:20]
        texts = [m["text"] for m in fields["messages"]]
        fields["result"] = "failed" if any(t.startswith("AUTH_FAILED") for t in texts) else \
            "ok" if any(t.startswith("PUSH_REPLY") for t in texts) else None
        return fields


def _key_method_2(b: bytes, side: str, fields: dict[str, Any]) -> bytes:
    """Read one side's key-method-2 message into `fields`; return what follows it."""
    if b[:5] != b"\0\0\0\0\x02" or len(b) < 5 + _KEY_SOURCE[side]:
        return b
    pos = 5 + _KEY_SOURCE[side]
    strings = []
    for _ in range(4 if side == CLIENT else 1):  # options; the client's user name, password and peer info
        if pos + 2 > len(b):
            break
        n = int.from_bytes(b[pos:pos + 2], "big")
        strings.append(b[pos + 2:pos + 2 + n].rstrip(b"\0").decode("utf-8", "replace"))
        pos += 2 + n
    if strings:
        fields["options"][side] = strings[0]
    if side == CLIENT and len(strings) >= 3:
        fields["user"] = strings[1] or None
        fields["password"] = Secret(strings[2]) if strings[2] else None
    if side == CLIENT and len(strings) >= 4:
        fields["peer_info"] = dict(line.split("=", 1) for line in strings[3].splitlines() if "=" in line)
    if side != CLIENT:  # (the server's empty user name and password fields)
        while pos + 2 <= len(b) and b[pos:pos + 2] == b"\0\0":
            pos += 2
    return b[pos:]


def _texts(b: bytes) -> list[str]:
    """The NUL-terminated control messages (PUSH_REQUEST, PUSH_REPLY,..., AUTH_FAILED...)."""
    return [t.decode("utf-8", "replace") for t in b.split(b"\0") if t.strip()]
