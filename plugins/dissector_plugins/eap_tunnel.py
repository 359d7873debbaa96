"""What the tunnels of PEAP and EAP-TTLS carry, once decrypted: who authenticated inside, how, and whether it worked.

EAP-TTLS (RFC 5281) sends Diameter AVPs: User-Name, and the inner authentication: PAP (User-Password, the password
itself), CHAP, or MS-CHAP-V2 (Microsoft's vendor AVPs, RFC 2548). PEAP version 0 sends EAP packets with their header
cut off (a type byte first: Identity, EAP-MSCHAPv2), except its result TLVs. Both directions are buffered (small:
an inner authentication is a few hundred bytes; at most 64 KB) and read at the session's end.

MS-CHAPv2 (RFC 2759) never sends the password, but the server's challenge, the peer's challenge and the NT response
let anyone who captured them try passwords offline: they are given as a `user::::nt_response:challenge_hash` line
(john's and hashcat's NetNTLMv1 form, mode 5500), redacted like the PAP password unless --show-secrets.
"""
from __future__ import annotations

import hashlib
from typing import Any

from dissector.plugins import BufferedPlugin
from dissector.redact import Secret

_MS_VENDOR = 311  # Microsoft's Diameter/RADIUS vendor id


class EAPTunnelPlugin(BufferedPlugin):
    """PEAP and EAP-TTLS: the inner identity and authentication (PAP password, MS-CHAPv2 hash; redacted)."""

    name = "eap_tunnel"
    section = "eap_tunnel"

    def match(self, info: Any) -> float:
        return 0.9 if info.flow.transport in ("eapol", "radius") else -1.0

    def read(self, client: bytes, server: bytes) -> dict[str, Any] | None:
        if not client:
            return None
        return ttls_fields(client) if _avps(client) else peap_fields(client, server)


def _avps(b: bytes) -> list[tuple[int, int, bytes]] | None:
    """Diameter AVPs (code, vendor, data) that fill `b` exactly, or None when it is not a run of AVPs."""
    out, pos = [], 0
    while pos < len(b):
        if pos + 8 > len(b):
            return None
        code, flags, length = int.from_bytes(b[pos:pos + 4], "big"), b[pos + 4], int.from_bytes(b[pos + 5:pos + 8], "big")
        head = 12 if flags & 0x80 else 8
        if length < head or pos + length > len(b) or flags & 0x1F:
            return None
        vendor = int.from_bytes(b[pos + 8:pos + 12], "big") if flags & 0x80 else 0
        out.append((code, vendor, b[pos + head:pos + length]))
        pos += (length + 3) & ~3  # AVPs are padded to 4 bytes
    return out or None


def ttls_fields(client: bytes) -> dict[str, Any]:
    avps = {(code, vendor): data for code, vendor, data in _avps(client) or []}
    user = _text(avps.get((1, 0)))
    fields: dict[str, Any] = {"tunnel": "EAP-TTLS", "identity": user, "auth": None, "user": user, "secret": None}
    if (2, 0) in avps:  # User-Password: PAP, the password itself (padded with zeros to 16 bytes)
        fields.update(auth="PAP", secret=Secret(avps[(2, 0)].rstrip(b"\0").decode("utf-8", "replace")))
    elif (3, 0) in avps:
        fields.update(auth="CHAP")
    elif (25, _MS_VENDOR) in avps and (11, _MS_VENDOR) in avps:  # MS-CHAP2-Response, MS-CHAP-Challenge
        response, challenge = avps[(25, _MS_VENDOR)], avps[(11, _MS_VENDOR)]
        if len(response) >= 50 and len(challenge) == 16:
            fields.update(auth="MS-CHAPv2", secret=_netntlm(user or "", challenge, response[2:18], response[26:50]))
    elif (79, 0) in avps:
        fields.update(auth="EAP")
    return fields


def peap_fields(client: bytes, server: bytes) -> dict[str, Any] | None:
    """PEAPv0: the inner Identity (type 1) and an EAP-MSCHAPv2 (type 26) exchange, header-less."""
    response = _mschapv2(client, 2)
    identity = None
    if client[:1] == b"\x01":  # Identity: the rest of the first message (up to the next one, when they ran together)
        end = response[0] if response else len(client)
        identity = _text(client[1:end]) or None
    fields: dict[str, Any] = {"tunnel": "PEAP", "identity": identity, "auth": None, "user": identity, "secret": None,
                              "result": None}
    if response is None:
        return fields if identity else None
    at, body = response
    challenge = _mschapv2(server, 1)
    user = _text(body[50:]) or identity or ""  # (the Response's Name)
    fields.update(auth="MSCHAPv2", user=user)
    if challenge is not None and len(challenge[1]) >= 17 and len(body) >= 49:
        fields["secret"] = _netntlm(user, challenge[1][1:17], body[1:17], body[25:49])
    if _mschapv2(server, 3) is not None:
        fields["result"] = "ok"
    elif _mschapv2(server, 4) is not None:
        fields["result"] = "failed"
    return fields


def _mschapv2(b: bytes, opcode: int) -> tuple[int, bytes] | None:
    """The first EAP-MSCHAPv2 message with this OpCode (1 Challenge, 2 Response, 3 Success, 4 Failure) in a PEAPv0
    stream, header-less (type 26, OpCode, MS-CHAPv2-ID, MS-Length) or with its EAP header: (where it starts, its
    Value-Size and what follows, up to MS-Length)."""
    start = 0
    while (i := b.find(bytes([26, opcode]), start)) >= 0:
        start = i + 1
        ms_length = int.from_bytes(b[i + 3:i + 5], "big")
        if ms_length >= 4 and i + 1 + ms_length <= len(b):
            return i, b[i + 5:i + 1 + ms_length]
    return None


def _netntlm(user: str, auth_challenge: bytes, peer_challenge: bytes, nt_response: bytes) -> Secret:
    """MS-CHAPv2's crackable form: the 8-byte challenge hash of RFC 2759 8.2 (SHA-1 of the peer's and the
    authenticator's challenges and the user name without its domain) and the 24-byte NT response."""
    name = user.rsplit("\\", 1)[-1]
    challenge_hash = hashlib.sha1(peer_challenge + auth_challenge + name.encode("utf-8")).digest()[:8]
    return Secret(f"{user}::::{nt_response.hex()}:{challenge_hash.hex()}")


def _text(b: bytes | None) -> str | None:
    if b is None:
        return None
    return b.rstrip(b"\0").decode("utf-8", "replace")
