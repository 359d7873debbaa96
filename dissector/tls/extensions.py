"""Hello extensions: each known one parsed into typed fields, unknown ones kept raw (hex).

`parse_extensions(data, context)` returns a list of dicts {"type": int, "name": str, ...fields}.
`context` is the message carrying them ("client_hello", "server_hello", "hello_retry_request",
"encrypted_extensions", "certificate_request", "new_session_ticket", "certificate") since several
extensions (supported_versions, key_share, pre_shared_key, early_data) differ by message.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dissector.buffer import Buffer
from dissector.errors import MalformedInput
from dissector.tls.constants import (
    CERTIFICATE_COMPRESSION_ALGORITHMS,
    COMPRESSION_METHODS,
    EC_POINT_FORMATS,
    EXTENSIONS,
    GROUPS,
    PSK_KEY_EXCHANGE_MODES,
    SIGNATURE_SCHEMES,
    name_of,
    version_name,
)

Fields = dict[str, Any]


def _server_name(b: Buffer, ctx: str) -> Fields:
    if b.eof():  # the server's empty acknowledgement
        return {}
    names = []
    with b.pull_block(2):
        while not b.eof():
            kind = b.pull_u8()
            host = b.pull_opaque(2)
            if kind == 0:
                names.append(host.decode("ascii", "replace"))
    return {"server_name": names[0] if names else None, "names": names}


def _alpn(b: Buffer, ctx: str) -> Fields:
    protos = b.pull_list(2, lambda: b.pull_opaque(1).decode("ascii", "replace"))
    return {"protocols": protos}


def _supported_versions(b: Buffer, ctx: str) -> Fields:
    if ctx == "client_hello":
        vs = b.pull_list(1, b.pull_u16)
        return {"versions": [version_name(v) for v in vs], "version_ids": vs}
    v = b.pull_u16()
    return {"version": version_name(v), "version_id": v}


def _groups(b: Buffer, ctx: str) -> Fields:
    gs = b.pull_list(2, b.pull_u16)
    return {"groups": [name_of(GROUPS, g) for g in gs]}


def _key_share_entry(b: Buffer) -> Fields:
    group = b.pull_u16()
    key = b.pull_opaque(2)
    return {"group": name_of(GROUPS, group), "key_exchange_length": len(key)}


def _key_share(b: Buffer, ctx: str) -> Fields:
    if ctx == "client_hello":
        return {"shares": b.pull_list(2, lambda: _key_share_entry(b))}
    if ctx == "hello_retry_request":
        return {"selected_group": name_of(GROUPS, b.pull_u16())}
    return {"share": _key_share_entry(b)}


def _sig_algs(b: Buffer, ctx: str) -> Fields:
    algs = b.pull_list(2, b.pull_u16)
    return {"algorithms": [name_of(SIGNATURE_SCHEMES, a) for a in algs]}


def _session_ticket(b: Buffer, ctx: str) -> Fields:
    ticket = b.pull_rest()
    return {"ticket_length": len(ticket), "ticket": ticket.hex()} if ticket else {"ticket_length": 0}


def _renegotiation_info(b: Buffer, ctx: str) -> Fields:
    data = b.pull_opaque(1)
    return {"renegotiated_connection": data.hex()}


def _psk_modes(b: Buffer, ctx: str) -> Fields:
    return {"modes": [name_of(PSK_KEY_EXCHANGE_MODES, m) for m in b.pull_list(1, b.pull_u8)]}


def _psk_identity(b: Buffer) -> Fields:
    identity = b.pull_opaque(2)
    age = b.pull_u32()
    return {"identity_length": len(identity), "identity": identity.hex(), "obfuscated_ticket_age": age}


def _pre_shared_key(b: Buffer, ctx: str) -> Fields:
    if ctx == "client_hello":
        ids = b.pull_list(2, lambda: _psk_identity(b))
        binders = b.pull_list(2, lambda: b.pull_opaque(1))
        return {"identities": ids, "binders": len(binders)}
    return {"selected_identity": b.pull_u16()}


def _early_data(b: Buffer, ctx: str) -> Fields:
    if ctx == "new_session_ticket":
        return {"max_early_data_size": b.pull_u32()}
    return {}


def _point_formats(b: Buffer, ctx: str) -> Fields:
    return {"formats": [name_of(EC_POINT_FORMATS, f) for f in b.pull_list(1, b.pull_u8)]}


def _status_request(b: Buffer, ctx: str) -> Fields:
    if b.eof():
        return {}
    kind = b.pull_u8()
    b.pull_rest()
    return {"status_type": "ocsp" if kind == 1 else kind}


def _record_size_limit(b: Buffer, ctx: str) -> Fields:
    return {"limit": b.pull_u16()}


def _max_fragment_length(b: Buffer, ctx: str) -> Fields:
    code = b.pull_u8()
    return {"max_fragment_length": {1: 512, 2: 1024, 3: 2048, 4: 4096}.get(code, code)}


def _cookie(b: Buffer, ctx: str) -> Fields:
    return {"cookie_length": len(b.pull_opaque(2))}


def _padding(b: Buffer, ctx: str) -> Fields:
    return {"length": len(b.pull_rest())}


HPKE_KDFS = {1: "HKDF-SHA256", 2: "HKDF-SHA384", 3: "HKDF-SHA512"}  # RFC 9180
HPKE_AEADS = {1: "AES-128-GCM", 2: "AES-256-GCM", 3: "ChaCha20Poly1305", 0xFFFF: "export-only"}


def _compress_certificate(b: Buffer, ctx: str) -> Fields:
    algs = b.pull_list(1, b.pull_u16)
    return {"algorithms": [name_of(CERTIFICATE_COMPRESSION_ALGORITHMS, a) for a in algs], "algorithm_ids": algs}


def _delegated_credential(b: Buffer, ctx: str) -> Fields:
    if ctx == "certificate":  # the credential itself, in a Certificate entry
        return {"credential_length": len(b.pull_rest())}
    return _sig_algs(b, ctx)  # the signature schemes the client accepts for a credential (RFC 9345)


def _application_settings(b: Buffer, ctx: str) -> Fields:
    """ALPS (BoringSSL): the client lists the ALPN protocols it has settings for; EncryptedExtensions
    carries the server's settings for the negotiated protocol (HTTP/2 SETTINGS frames' payload)."""
    if ctx == "client_hello":
        return _alpn(b, ctx)
    return {"settings_length": len(b.pull_rest())}


def _encrypted_client_hello(b: Buffer, ctx: str) -> Fields:
    """ECH (draft-ietf-tls-esni): the outer ClientHello's HPKE suite, config id and sizes (the encrypted
    inner ClientHello is opaque without the server's ECH key; browsers send a random "GREASE" one when
    the server has no ECH config, which looks the same on the wire)."""
    if ctx == "client_hello":
        kind = b.pull_u8()
        if kind == 1:
            return {"ech_type": "inner"}
        if kind != 0:
            return {"ech_type": kind, "payload_length": len(b.pull_rest())}
        kdf, aead, config_id = b.pull_u16(), b.pull_u16(), b.pull_u8()
        enc = b.pull_opaque(2)
        payload = b.pull_opaque(2)
        return {"ech_type": "outer", "kdf": name_of(HPKE_KDFS, kdf), "aead": name_of(HPKE_AEADS, aead),
                "config_id": config_id, "enc_length": len(enc), "payload_length": len(payload)}
    if ctx == "hello_retry_request":
        return {"confirmation": b.pull_rest().hex()}
    return {"retry_configs_length": len(b.pull_rest())}  # EncryptedExtensions: the server's ECHConfigList


def _relative_oid(raw: bytes) -> str:
    """A relative object identifier (its base-128 arcs, without the first-two-arcs packing) as dotted text."""
    arcs, value = [], 0
    for byte in raw:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(str(value))
            value = 0
    if raw and raw[-1] & 0x80:
        raise MalformedInput("tls", "bad_trust_anchor_id", "a trust anchor ID ends inside an arc")
    return ".".join(arcs)


def _trust_anchors(b: Buffer, ctx: str) -> Fields:
    """Trust Anchor IDs (draft-ietf-tls-trust-anchor-ids, BoringSSL's code point 0xca34): the CAs the
    client trusts, each a relative OID."""
    if ctx == "client_hello":
        return {"trust_anchors": b.pull_list(2, lambda: _relative_oid(b.pull_opaque(1)))}
    return {}


SRTP_PROFILES = {  # RFC 5764 4.1.2, RFC 7714 14.2 (IANA "DTLS-SRTP Protection Profiles")
    0x0001: "SRTP_AES128_CM_HMAC_SHA1_80", 0x0002: "SRTP_AES128_CM_HMAC_SHA1_32",
    0x0005: "SRTP_NULL_HMAC_SHA1_80", 0x0006: "SRTP_NULL_HMAC_SHA1_32",
    0x0007: "SRTP_AEAD_AES_128_GCM", 0x0008: "SRTP_AEAD_AES_256_GCM",
}


def _use_srtp(b: Buffer, ctx: str) -> Fields:
    """DTLS-SRTP (RFC 5764, WebRTC media keys): the SRTP protection profiles offered or chosen, and the MKI."""
    profiles = b.pull_list(2, b.pull_u16)
    mki = b.pull_opaque(1)
    return {"profiles": [name_of(SRTP_PROFILES, p) for p in profiles], "mki": mki.hex()}


def _connection_id(b: Buffer, ctx: str) -> Fields:
    """DTLS 1.2 Connection ID (RFC 9146): the CID the sender wants in the records it receives."""
    return {"cid": b.pull_opaque(1).hex()}


def _empty(b: Buffer, ctx: str) -> Fields:
    return {}


CERTIFICATE_TYPES = {0: "X509", 1: "OpenPGP", 2: "RawPublicKey"}  # RFC 7250


def _certificate_type(b: Buffer, ctx: str) -> Fields:
    """client_/server_certificate_type (RFC 7250): the types a ClientHello accepts, the one the server chose."""
    if ctx == "client_hello":
        return {"types": [name_of(CERTIFICATE_TYPES, t) for t in b.pull_list(1, b.pull_u8)]}
    return {"type": name_of(CERTIFICATE_TYPES, b.pull_u8())}


def _signed_certificate_timestamp(b: Buffer, ctx: str) -> Fields:
    """RFC 6962: empty in a ClientHello (a request); else the list of SCTs, counted."""
    if b.eof():
        return {}
    return {"scts": len(b.pull_list(2, lambda: b.pull_opaque(2)))}


def _certificate_authorities(b: Buffer, ctx: str) -> Fields:
    """RFC 8446 4.2.4: the distinguished names of the CAs whose certificates the sender accepts."""
    from dissector.tls.handshake import distinguished_name

    return {"authorities": [distinguished_name(dn) for dn in b.pull_list(2, lambda: b.pull_opaque(2))]}


# RFC 9000 18.2 (and 9221, 9287, 9368): QUIC transport parameters, by id; those that are not integers
QUIC_TRANSPORT_PARAMETERS = {
    0x00: "original_destination_connection_id", 0x01: "max_idle_timeout", 0x02: "stateless_reset_token",
    0x03: "max_udp_payload_size", 0x04: "initial_max_data", 0x05: "initial_max_stream_data_bidi_local",
    0x06: "initial_max_stream_data_bidi_remote", 0x07: "initial_max_stream_data_uni",
    0x08: "initial_max_streams_bidi", 0x09: "initial_max_streams_uni", 0x0A: "ack_delay_exponent",
    0x0B: "max_ack_delay", 0x0C: "disable_active_migration", 0x0D: "preferred_address",
    0x0E: "active_connection_id_limit", 0x0F: "initial_source_connection_id", 0x10: "retry_source_connection_id",
    0x11: "version_information", 0x20: "max_datagram_frame_size", 0x2AB2: "grease_quic_bit",
}
_QUIC_OPAQUE_PARAMETERS = frozenset((0x00, 0x02, 0x0D, 0x0F, 0x10, 0x11))


def _quic_transport_parameters(b: Buffer, ctx: str) -> Fields:
    """QUIC transport parameters (RFC 9000 18): integers as numbers, connection IDs and the rest as hex;
    reserved (GREASE) ids 31 * N + 27 are counted, other unknown ones kept by their id."""
    params: dict[str, Any] = {}
    grease = 0
    while not b.eof():
        pid = b.pull_varint()
        value = b.pull_bytes(b.pull_varint())
        if pid % 31 == 27:
            grease += 1
            continue
        name = QUIC_TRANSPORT_PARAMETERS.get(pid, f"0x{pid:x}")
        if pid in QUIC_TRANSPORT_PARAMETERS and pid not in _QUIC_OPAQUE_PARAMETERS:
            params[name] = Buffer(value).pull_varint() if value else True  # (an empty one is a flag)
        else:
            params[name] = value.hex()
    out: Fields = {"parameters": params}
    if grease:
        out["grease"] = grease
    return out


PARSERS: dict[int, Callable[[Buffer, str], Fields]] = {
    0: _server_name, 1: _max_fragment_length, 5: _status_request, 10: _groups, 11: _point_formats,
    13: _sig_algs, 14: _use_srtp, 16: _alpn, 21: _padding, 22: _empty, 23: _empty, 27: _compress_certificate,
    28: _record_size_limit, 35: _session_ticket, 40: _key_share, 41: _pre_shared_key, 42: _early_data,
    43: _supported_versions, 44: _cookie, 45: _psk_modes, 49: _empty, 50: _sig_algs, 51: _key_share, 54: _connection_id,
    34: _delegated_credential, 17513: _application_settings, 17613: _application_settings,
    18: _signed_certificate_timestamp, 19: _certificate_type, 20: _certificate_type, 47: _certificate_authorities,
    57: _quic_transport_parameters, 0xFFA5: _quic_transport_parameters,
    0xCA34: _trust_anchors, 0xFE0D: _encrypted_client_hello, 0xFF01: _renegotiation_info,
}


def parse_extensions(b: Buffer, context: str) -> list[Fields]:
    """The extensions block (u16 length, then entries) at the buffer's position; absent -> []."""
    if b.eof():
        return []
    out: list[Fields] = []
    with b.pull_block(2):
        while not b.eof():
            etype = b.pull_u16()
            data = b.pull_opaque(2)
            entry: Fields = {"type": etype, "name": name_of(EXTENSIONS, etype), "length": len(data)}
            parser = PARSERS.get(etype)
            if parser is not None:
                inner = Buffer(data, "tls")
                try:
                    entry.update(parser(inner, context))
                    if not inner.eof():
                        raise MalformedInput("tls", "extension_trailing_data", entry["name"])
                except MalformedInput as exc:
                    entry["malformed"] = exc.reason or exc.name
                    entry["data"] = data.hex()
            elif data:
                entry["data"] = data.hex()
            out.append(entry)
    return out


def find(extensions: list[Fields], etype: int) -> Fields | None:
    for e in extensions:
        if e["type"] == etype:
            return e
    return None


__all__ = ["parse_extensions", "find", "COMPRESSION_METHODS"]
