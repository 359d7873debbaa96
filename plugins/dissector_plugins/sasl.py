"""SASL (RFC 4422) as the mail and XMPP plugins read it: who a mechanism's client message names, and the secret it
carries when the mechanism sends one (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER). CRAM-MD5, DIGEST-MD5 and SCRAM send no
password: only the user. Secrets are `Secret`s, redacted unless --show-secrets."""
from __future__ import annotations

import base64
import binascii
import re

from dissector.redact import Secret

TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER", "X-OAUTH2")


def decode_b64(data: bytes) -> bytes:
    """A SASL message's base64 (b"" when it is not base64)."""
    try:
        return base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def text(b: bytes) -> str:
    return b.decode("utf-8", "replace")[:256]


def secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def credentials(mechanism: str, raw: bytes) -> tuple[str | None, Secret | None]:
    """(user, secret) of a mechanism's client message `raw` (decoded from base64), for every mechanism but LOGIN,
    whose user and password come in two messages."""
    if mechanism == "PLAIN":  # [authzid] NUL authcid NUL password (RFC 4616)
        parts = raw.split(b"\0")
        return (text(parts[1]), secret(text(parts[2]))) if len(parts) == 3 else (None, None)
    if mechanism in TOKEN_MECHANISMS:
        fields = dict(_kv(p) for p in raw.split(b"\x01") if b"=" in p)
        token = fields.get("auth", "")
        user = fields.get("user") or _gs2_user(raw)
        if mechanism == "X-OAUTH2" and not token:  # Google Talk's: NUL user NUL token, as PLAIN
            parts = raw.split(b"\0")
            return (text(parts[1]), secret(text(parts[2]))) if len(parts) == 3 else (None, None)
        return user, secret(token.split(" ", 1)[-1]) if token else None
    if mechanism == "CRAM-MD5":  # the answer to the challenge: user SP digest
        return text(raw.rsplit(b" ", 1)[0]), None
    # DIGEST-MD5, SCRAM-*, GSSAPI...: no password on the wire; the user where the mechanism says it
    user = re.search(rb'(?:username="|n=)([^",]{1,256})', raw)
    return (text(user.group(1)) if user else None), None


def _kv(part: bytes) -> tuple[str, str]:
    k, _, v = part.partition(b"=")
    return k.decode("ascii", "replace"), v.decode("utf-8", "replace")


def _gs2_user(raw: bytes) -> str | None:
    m = re.match(rb"n,a=([^,]*),", raw)  # OAUTHBEARER's GS2 header names the user
    return text(m.group(1)) if m else None
