"""Handshake message parsers: body bytes in, a dict of typed fields out (or MalformedInput).

Each parser takes the message body (after the 4-byte header) and a small context (negotiated
version, key exchange) where the wire format depends on it. Unknown or unparsable parts are kept as
hex rather than dropped, so nothing on the wire is silently lost.
"""
from __future__ import annotations

import hashlib
from datetime import UTC
from functools import lru_cache
from typing import Any

from dissector import compression
from dissector.buffer import Buffer
from dissector.errors import MalformedInput
from dissector.tls.constants import (
    CERTIFICATE_COMPRESSION_ALGORITHMS,
    COMPRESSION_METHODS,
    EXTENSIONS,
    GROUPS,
    HEARTBEAT_MESSAGE_TYPES,
    HRR_RANDOM,
    KEY_UPDATE_REQUEST,
    SIGNATURE_SCHEMES,
    name_of,
    version_name,
)
from dissector.tls.extensions import find, parse_extensions
from dissector.tls.suites import suite_name

Fields = dict[str, Any]


class Context:
    """What a parser needs to know about the session so far."""

    __slots__ = ("version", "tls13", "draft", "kx", "dtls")

    def __init__(self) -> None:
        self.version: int | None = None  # negotiated version; for DTLS the TLS version it is built on
        self.tls13 = False
        self.draft: int | None = None  # TLS 1.3 draft number, when a draft was negotiated
        self.kx: str | None = None  # key exchange of the negotiated suite
        self.dtls = False  # DTLS: the ClientHello carries a cookie


def parse_client_hello(body: bytes, dtls: bool = False) -> Fields:
    b = Buffer(body)
    version = b.pull_u16()
    random = b.pull_bytes(32)
    session_id = b.pull_opaque(1)
    cookie = b.pull_opaque(1) if dtls else None  # RFC 6347 4.2.1: DTLS echoes the HelloVerifyRequest cookie
    suites = b.pull_list(2, b.pull_u16)
    compression = b.pull_list(1, b.pull_u8)
    exts = parse_extensions(b, "client_hello")
    if not b.eof():
        raise MalformedInput("tls", "trailing_data", f"{b.remaining()} bytes after ClientHello")
    f: Fields = {"version": version_name(version), "version_id": version, "random": random.hex(),
                 "session_id": session_id.hex()}
    if cookie is not None:
        f["cookie"] = cookie.hex()
    f.update({"cipher_suites": [suite_name(s) for s in suites], "cipher_suite_ids": suites,
              "compression_methods": [name_of(COMPRESSION_METHODS, c) for c in compression], "extensions": exts})
    _summarise_hello(f, exts)
    return f


def parse_hello_verify_request(body: bytes, ctx: Context) -> Fields:
    """DTLS HelloVerifyRequest (RFC 6347 4.2.1): the cookie the client must send back in a new ClientHello."""
    b = Buffer(body)
    version = b.pull_u16()
    cookie = b.pull_opaque(1)
    return {"version": version_name(version), "version_id": version, "cookie": cookie.hex()}


def without_cookie(body: bytes) -> bytes:
    """A DTLS ClientHello body in TLS's shape (its cookie taken out), for code that reads TLS ClientHellos."""
    try:
        pos = 35 + body[34]
        return body[:pos] + body[pos + 1 + body[pos]:]
    except IndexError:
        return body


def parse_ssl2_client_hello(body: bytes) -> Fields:
    """An SSLv2-format CLIENT-HELLO (RFC 6101 appendix E / RFC 5246 E.2), as sent by old clients."""
    b = Buffer(body)
    if b.pull_u8() != 1:
        raise MalformedInput("tls", "not_ssl2_client_hello")
    version = b.pull_u16()
    spec_len, sid_len, chal_len = b.pull_u16(), b.pull_u16(), b.pull_u16()
    if spec_len % 3 or not 16 <= chal_len <= 32:
        raise MalformedInput("tls", "bad_ssl2_client_hello", f"cipher specs {spec_len}, challenge {chal_len}")
    specs = [int.from_bytes(b.pull_bytes(3), "big") for _ in range(spec_len // 3)]
    session_id = b.pull_bytes(sid_len)
    challenge = b.pull_bytes(chal_len)
    random = challenge.rjust(32, b"\0")  # the challenge is the right-aligned client random
    suites = [s for s in specs if s >> 16 == 0]
    return {
        "version": version_name(version), "version_id": version, "random": random.hex(), "ssl2_format": True,
        "session_id": session_id.hex(), "cipher_suites": [suite_name(s) for s in suites], "cipher_suite_ids": suites,
        "ssl2_cipher_specs": len(specs) - len(suites), "compression_methods": ["null"], "extensions": [],
    }


def parse_server_hello(body: bytes) -> Fields:
    b = Buffer(body)
    version = b.pull_u16()
    draft = version & 0xFF if version >> 8 == 0x7F else None
    random = b.pull_bytes(32)
    # TLS 1.3 drafts before 22 have no legacy_session_id and no compression method
    old_draft = draft is not None and draft < 22
    session_id = b"" if old_draft else b.pull_opaque(1)
    suite = b.pull_u16()
    compression = 0 if old_draft else b.pull_u8()
    is_hrr = random == HRR_RANDOM
    exts = parse_extensions(b, "hello_retry_request" if is_hrr else "server_hello")
    if not b.eof():
        raise MalformedInput("tls", "trailing_data", f"{b.remaining()} bytes after ServerHello")
    f: Fields = {
        "version": version_name(version), "version_id": version, "random": random.hex(),
        "session_id": session_id.hex(), "cipher_suite": suite_name(suite), "cipher_suite_id": suite,
        "compression_method": name_of(COMPRESSION_METHODS, compression), "extensions": exts,
    }
    if is_hrr:
        f["hello_retry_request"] = True
    _summarise_hello(f, exts)
    return f


def parse_hello_retry_request_draft(body: bytes) -> Fields:
    """Draft-era HelloRetryRequest (handshake type 6): version, [suite,] extensions."""
    b = Buffer(body)
    version = b.pull_u16()
    f: Fields = {"version": version_name(version), "version_id": version}
    rest = b.pull_rest()
    try:
        f["extensions"] = parse_extensions(Buffer(rest), "hello_retry_request")
    except MalformedInput:
        rb = Buffer(rest)
        f["cipher_suite"] = suite_name(rb.pull_u16())
        f["extensions"] = parse_extensions(rb, "hello_retry_request")
    return f


def _summarise_hello(f: Fields, exts: list[Fields]) -> None:
    """Lift the fields people look for first (SNI, ALPN, negotiated version) out of the extensions."""
    sni = find(exts, 0)
    if sni and sni.get("server_name"):
        f["sni"] = sni["server_name"]
    alpn = find(exts, 16)
    if alpn and alpn.get("protocols") is not None:
        f["alpn"] = alpn["protocols"]
    sv = find(exts, 43)
    if sv:
        if "versions" in sv:
            f["supported_versions"] = sv["versions"]
        elif "version_id" in sv:
            f["selected_version"] = sv["version"]
            f["selected_version_id"] = sv["version_id"]


def parse_certificate(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    f: Fields = {}
    if ctx.tls13:
        f["request_context"] = b.pull_opaque(1).hex()
    certs = []
    entry_exts: list[bytes] = []
    if not ctx.tls13 and is_raw_public_key(body):  # RFC 7250: the key itself, not a certificate list
        certs.append(b.pull_opaque(3))
        f["certificate_type"] = "RawPublicKey"
    else:
        with b.pull_block(3):
            while not b.eof():
                der = b.pull_opaque(3)
                if ctx.tls13 and (ctx.draft is None or ctx.draft >= 11):
                    entry_exts.append(b.pull_opaque(2))  # per-certificate extensions (OCSP, SCT)
                certs.append(der)
    if not b.eof():
        raise MalformedInput("tls", "trailing_data", "after Certificate")
    f["certificates"] = [describe_certificate(der) for der in certs]
    if any(c.get("type") == "RawPublicKey" for c in f["certificates"]):
        f["certificate_type"] = "RawPublicKey"
    f["_der"] = certs  # kept for key matching; not rendered
    f["_ocsp"] = None  # the leaf's stapled OCSP response (TLS 1.3: in its entry's status_request extension)
    for i, raw in enumerate(entry_exts):
        if raw:
            entry = f["certificates"][i] = dict(f["certificates"][i])  # (describe_certificate's dicts are shared)
            stapled = _certificate_entry_extensions(raw, entry)
            if i == 0:
                f["_ocsp"] = stapled
    return f


def _certificate_entry_extensions(raw: bytes, entry: Fields) -> bytes | None:
    """A TLS 1.3 CertificateEntry's extensions, into `entry`: a stapled OCSP response (status_request), SCTs
    (RFC 6962). Returns the OCSP response, if any."""
    b = Buffer(raw)
    names = []
    stapled = None
    while not b.eof():
        etype = b.pull_u16()
        data = b.pull_opaque(2)
        names.append(name_of(EXTENSIONS, etype))
        if etype == 5:
            stapled = ocsp_response(data)
            if stapled is not None:
                entry["ocsp"] = describe_ocsp_response(stapled)
        elif etype == 18 and len(data) >= 2:  # SignedCertificateTimestampList: opaque sct_list<1..2^16-1>
            entry["scts"] = _count_opaque16(data[2:])
    entry["extensions"] = names
    return stapled


def ocsp_response(status: bytes) -> bytes | None:
    """The OCSP response of a CertificateStatus structure (RFC 6066 8: status_type ocsp (1), then
    opaque response<1..2^24-1>), the body of a TLS 1.2 message or of a TLS 1.3 entry's extension; None else."""
    if len(status) < 4 or status[0] != 1:
        return None
    n = int.from_bytes(status[1:4], "big")
    return bytes(status[4:4 + n]) if len(status) >= 4 + n else None


def _count_opaque16(data: bytes) -> int:
    n = pos = 0
    while pos + 2 <= len(data):
        pos += 2 + ((data[pos] << 8) | data[pos + 1])
        n += 1
    return n


@lru_cache(maxsize=256)
def describe_ocsp_response(der: bytes) -> Fields:
    """A stapled OCSP response (RFC 6960), as `cryptography` reads it: whether the responder answered, the
    certificate's status, the serial it is about, and the response's validity (cached by content)."""
    from cryptography.x509 import ocsp

    info: Fields = {"length": len(der)}
    try:
        r = ocsp.load_der_ocsp_response(der)
        info["response_status"] = r.response_status.name.lower()
        if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return info
        info["cert_status"] = r.certificate_status.name.lower()
        info["serial"] = format(r.serial_number, "x")
        info["produced_at"] = r.produced_at_utc.isoformat()
        info["this_update"] = r.this_update_utc.isoformat()
        info["next_update"] = r.next_update_utc.isoformat() if r.next_update_utc else None
        if r.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            info["revocation_time"] = r.revocation_time_utc.isoformat() if r.revocation_time_utc else None
            info["revocation_reason"] = r.revocation_reason.name if r.revocation_reason else None
        info["responder"] = r.responder_name.rfc4514_string() if r.responder_name else \
            "key hash " + (r.responder_key_hash or b"").hex()
    except Exception as exc:  # noqa: BLE001 - a damaged response can make the parser raise anything
        info["error"] = f"not a parsable OCSP response ({type(exc).__name__}: {exc})"
    return info


def parse_compressed_certificate(body: bytes, ctx: Context) -> Fields:
    """RFC 8879 CompressedCertificate: the algorithm and sizes, then the Certificate it holds (TLS 1.3)."""
    algorithm, size, compressed = _compressed_parts(body)
    f: Fields = {"algorithm": name_of(CERTIFICATE_COMPRESSION_ALGORITHMS, algorithm), "uncompressed_length": size,
                 "compressed_length": len(compressed)}
    try:
        inner = decompress_certificate(bytes(body))
    except CertificateDecompressionError as exc:
        f["error"] = str(exc)
        return f
    tls13 = Context()
    tls13.tls13 = True
    f.update(parse_certificate(inner, tls13))
    return f


class CertificateDecompressionError(Exception):
    """A CompressedCertificate that cannot be expanded (unknown algorithm, library missing, bad data)."""


def _compressed_parts(body: bytes) -> tuple[int, int, bytes]:
    b = Buffer(body)
    algorithm, size = b.pull_u16(), b.pull_u24()
    compressed = b.pull_opaque(3)
    if not b.eof():
        raise MalformedInput("tls", "trailing_data", "after CompressedCertificate")
    return algorithm, size, compressed


@lru_cache(maxsize=64)
def decompress_certificate(body: bytes) -> bytes:
    """The Certificate message body inside a CompressedCertificate body; raises MalformedInput for a
    malformed message, CertificateDecompressionError when it cannot be expanded to its stated size."""
    algorithm, size, compressed = _compressed_parts(body)
    name = name_of(CERTIFICATE_COMPRESSION_ALGORITHMS, algorithm)
    if name not in compression.CODECS:
        raise CertificateDecompressionError(f"certificate compressed with {name}, which is not supported")
    try:
        out = compression.decompress(name, compressed, size + 1)  # one byte past the stated size at most
    except ImportError as exc:
        raise CertificateDecompressionError(f"certificate compressed with {name}: {exc.name} is not installed") from None
    except Exception as exc:  # noqa: BLE001 - each library raises its own error type for bad input
        raise CertificateDecompressionError(f"{name} data does not decompress ({type(exc).__name__})") from None
    if len(out) != size:
        raise CertificateDecompressionError(f"{name} data expands to {len(out)} bytes, the message says {size}")
    return out




def load_certificate(der: bytes) -> tuple[Any, int]:
    """`cryptography`'s certificate object for DER bytes (ValueError if unparsable) and its serial number.
    What the parser tolerates but deprecates (a serial number that is not positive, RFC 5280 4.1.2.2, warned
    about at every read of it) is not printed as a Python warning: the certificate's details say it."""
    import warnings

    from cryptography import x509
    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        cert = x509.load_der_x509_certificate(der)
        return cert, cert.serial_number


def is_raw_public_key(body: bytes) -> bool:
    """Is a TLS <= 1.2 Certificate message body a raw public key (RFC 7250 3: one SubjectPublicKeyInfo behind a
    3-byte length) rather than a certificate list? (a list's first entry length would then start with the DER
    SEQUENCE tag, 0x30: a certificate of over 3 MB)"""
    return len(body) > 4 and body[3] == 0x30 and int.from_bytes(body[:3], "big") == len(body) - 3


@lru_cache(maxsize=512)
def describe_certificate(der: bytes) -> Fields:
    """Subject, issuer, validity, SANs, key type and size of one DER certificate (cached by content); for a raw
    public key (RFC 7250), its type and size."""
    try:
        info = _describe_certificate(der)
    except Exception as exc:  # noqa: BLE001 - a damaged certificate can make the X.509 parser raise anything
        info = {"length": len(der), "sha256": hashlib.sha256(der).hexdigest(),
                "error": f"not a parsable X.509 certificate ({type(exc).__name__})"}
    if "error" in info:
        key = raw_public_key(der)
        if key is not None:
            return {"type": "RawPublicKey", "length": len(der), "sha256": info["sha256"], **_key_fields(key)}
    return info


def raw_public_key(der: bytes) -> Any:
    """The key of a DER SubjectPublicKeyInfo (what RFC 7250 sends instead of a certificate), or None."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        return load_der_public_key(bytes(der))
    except Exception:  # noqa: BLE001 - not a key either: the caller reports the certificate error
        return None


def public_key_of(der: bytes) -> Any:
    """The public key a Certificate entry presents: the certificate's, or the raw key itself (ValueError if neither)."""
    try:
        return load_certificate(der)[0].public_key()
    except ValueError:
        key = raw_public_key(der)
        if key is None:
            raise
        return key


def _describe_certificate(der: bytes) -> Fields:
    from cryptography import x509

    info: Fields = {"length": len(der), "sha256": hashlib.sha256(der).hexdigest()}
    try:
        cert, serial = load_certificate(der)
    except ValueError as exc:
        info["error"] = f"not a parsable X.509 certificate: {exc}"
        return info
    info["subject"] = cert.subject.rfc4514_string()
    info["issuer"] = cert.issuer.rfc4514_string()
    info["serial"] = format(serial, "x")
    if serial <= 0:
        info["serial_not_positive"] = True  # RFC 5280 4.1.2.2; libraries are starting to refuse such certificates
    info["not_before"] = cert.not_valid_before_utc.astimezone(UTC).isoformat()
    info["not_after"] = cert.not_valid_after_utc.astimezone(UTC).isoformat()
    info["self_signed"] = cert.subject == cert.issuer
    try:
        info["signature_algorithm"] = cert.signature_algorithm_oid._name
    except Exception:  # noqa: BLE001 - an odd OID must not stop the analysis
        info["signature_algorithm"] = cert.signature_algorithm_oid.dotted_string
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        info["san"] = [str(n.value) for n in san]
    except (x509.ExtensionNotFound, ValueError):
        info["san"] = []
    try:
        info.update(_key_fields(cert.public_key()))
    except Exception as exc:  # noqa: BLE001 - unsupported key algorithms are reported, not fatal
        info["key_type"] = f"unsupported ({exc})"
    return info


def _key_fields(key: Any) -> Fields:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return {"key_type": "RSA", "key_size": key.key_size}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"key_type": f"EC ({key.curve.name})", "key_size": key.key_size}
    if isinstance(key, dsa.DSAPublicKey):
        return {"key_type": "DSA", "key_size": key.key_size}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {"key_type": "Ed25519", "key_size": 256}
    if isinstance(key, ed448.Ed448PublicKey):
        return {"key_type": "Ed448", "key_size": 456}
    return {"key_type": type(key).__name__}


def _signature(b: Buffer, ctx: Context) -> Fields:
    if b.eof():
        return {}
    if ctx.version is not None and ctx.version >= 0x0303 or ctx.tls13:
        alg = b.pull_u16()
        sig = b.pull_opaque(2)
        return {"signature_algorithm": name_of(SIGNATURE_SCHEMES, alg), "signature_length": len(sig)}
    return {"signature_length": len(b.pull_opaque(2))}


def parse_server_key_exchange(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    kx = ctx.kx or ""
    f: Fields = {}
    if "PSK" in kx:
        f["psk_identity_hint"] = b.pull_opaque(2).decode("latin-1")
    if kx.startswith("ECDH"):
        curve_type = b.pull_u8()
        if curve_type == 3:
            f["named_curve"] = name_of(GROUPS, b.pull_u16())
        else:
            raise MalformedInput("tls", "unsupported_curve_type", f"ECParameters curve_type {curve_type}")
        f["public_key_length"] = len(b.pull_opaque(1))
    elif kx.startswith("DH"):
        p = b.pull_opaque(2)
        b.pull_opaque(2)
        ys = b.pull_opaque(2)
        f["dh_prime_bits"] = len(p.lstrip(b"\0")) * 8
        f["public_key_length"] = len(ys)
    elif kx == "RSA":  # export RSA: a temporary key
        f["rsa_modulus_bits"] = len(b.pull_opaque(2).lstrip(b"\0")) * 8
        b.pull_opaque(2)
    if kx != "PSK" and not b.eof():
        f.update(_signature(b, ctx))
    return f


def parse_client_key_exchange(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    kx = ctx.kx or ""
    f: Fields = {}
    if "PSK" in kx:
        f["psk_identity"] = b.pull_opaque(2).decode("latin-1")
    if kx in ("RSA", "RSA_PSK"):
        if ctx.version == 0x0300 and kx == "RSA":  # SSL 3.0: no length prefix
            enc = b.pull_rest()
        else:
            enc = b.pull_opaque(2)
        f["encrypted_pre_master_length"] = len(enc)
        f["_encrypted_pre_master"] = enc
    elif kx.startswith("ECDH"):
        f["public_key_length"] = len(b.pull_opaque(1))
    elif kx.startswith("DH"):
        f["public_key_length"] = len(b.pull_opaque(2))
    elif kx and kx != "PSK":
        b.pull_rest()
    return f


def parse_certificate_request(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    if ctx.tls13:
        ctxt = b.pull_opaque(1)
        return {"request_context": ctxt.hex(), "extensions": parse_extensions(b, "certificate_request")}
    types = b.pull_list(1, b.pull_u8)
    f: Fields = {"certificate_types": types}
    if ctx.version is not None and ctx.version >= 0x0303:
        f["signature_algorithms"] = [name_of(SIGNATURE_SCHEMES, a) for a in b.pull_list(2, b.pull_u16)]
    names = b.pull_list(2, lambda: b.pull_opaque(2))
    f["distinguished_names"] = len(names)
    f["certificate_authorities"] = [distinguished_name(dn) for dn in names]
    return f


_DN_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be", 0x1C: "utf-32-be",
               0x12: "ascii", 0x1A: "ascii"}  # UTF8, Printable, IA5, Teletex, BMP, Universal, Numeric, Visible


def distinguished_name(der: bytes) -> str:
    """An X.501 Name in DER (a CertificateRequest's certificate_authorities) as RFC 4514 text, through
    cryptography's Name (which has no DER reader of its own); the hex when it is not a Name."""
    from cryptography import x509

    try:
        rdns = []
        tag, pos, end = _der(der, 0)
        if tag != 0x30 or end != len(der):
            raise ValueError
        while pos < end:
            tag, p, set_end = _der(der, pos)
            attributes = []
            while p < set_end:
                _, q, seq_end = _der(der, p)
                tag_oid, q, oid_end = _der(der, q)
                vtag, v, v_end = _der(der, oid_end)
                if tag_oid != 0x06 or vtag not in _DN_STRINGS:
                    raise ValueError
                value = bytes(der[v:v_end]).decode(_DN_STRINGS[vtag])
                attributes.append(x509.NameAttribute(x509.ObjectIdentifier(_oid(der[q:oid_end])), value))
                p = seq_end
            rdns.append(x509.RelativeDistinguishedName(attributes))
            pos = set_end
        return x509.Name(rdns).rfc4514_string()
    except (ValueError, IndexError, UnicodeDecodeError):
        return bytes(der).hex()


def _der(b: bytes, pos: int) -> tuple[int, int, int]:
    """A DER element at b[pos]: (tag, where its content starts, where it ends); ValueError past the end."""
    tag, n = b[pos], b[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n, pos = int.from_bytes(b[pos:pos + k], "big"), pos + k
    if pos + n > len(b):
        raise ValueError("DER element past its end")
    return tag, pos, pos + n


def _oid(b: bytes) -> str:
    first, arcs, v = b[0], [], 0
    for byte in b[1:]:
        v = (v << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(v)
            v = 0
    return ".".join(str(x) for x in (min(first // 40, 2), first - 40 * min(first // 40, 2), *arcs))


def parse_certificate_verify(body: bytes, ctx: Context) -> Fields:
    return _signature(Buffer(body), ctx)


def parse_new_session_ticket(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    f: Fields = {"lifetime_hint": b.pull_u32()}
    if ctx.tls13:
        f["age_add"] = b.pull_u32()
        if ctx.draft is None or ctx.draft >= 21:
            f["nonce"] = b.pull_opaque(1).hex()
        ticket = b.pull_opaque(2)
        f["extensions"] = parse_extensions(b, "new_session_ticket")
    else:
        ticket = b.pull_opaque(2)
    f["ticket_length"] = len(ticket)
    f["_ticket"] = ticket
    return f


def parse_encrypted_extensions(body: bytes, ctx: Context) -> Fields:
    exts = parse_extensions(Buffer(body), "encrypted_extensions")
    f: Fields = {"extensions": exts}
    _summarise_hello(f, exts)
    return f


def parse_key_update(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    return {"request_update": name_of(KEY_UPDATE_REQUEST, b.pull_u8())}


def parse_certificate_status(body: bytes, ctx: Context) -> Fields:
    b = Buffer(body)
    kind = b.pull_u8()
    resp = b.pull_opaque(3)
    f: Fields = {"status_type": "ocsp" if kind == 1 else kind, "response_length": len(resp)}
    stapled = ocsp_response(body)
    if stapled is not None:
        f["ocsp"] = describe_ocsp_response(stapled)
    return f


def parse_finished(body: bytes, ctx: Context) -> Fields:
    return {"verify_data": bytes(body).hex()}


def parse_empty(body: bytes, ctx: Context) -> Fields:
    return {} if not body else {"data": bytes(body).hex()}


HEARTBEAT_PADDING = 16  # the least padding a HeartbeatMessage carries (RFC 6520 4)


def parse_heartbeat(body: bytes, owed: int = 0) -> tuple[Fields, int]:
    """The fields of one heartbeat record's plaintext (RFC 6520): its type, the payload length it claims, and
    `payload_length_exceeds_record` when that is more than the record carries: what a Heartbleed probe claims
    (CVE-2014-0160), and what a vulnerable peer's answer claims too. Such an answer runs on in the next records
    (OpenSSL cut its 16 KB replies into records): `owed` is how many bytes of it are still to come; a record that
    brings them is a `continuation`. Returns the fields and the bytes still owed after this record."""
    n = len(body)
    if owed:
        return {"length": n, "heartbeat_type": "heartbeat_response", "continuation": True}, max(0, owed - n)
    if n < 3:
        return {"length": n, "malformed": True}, 0
    kind, claimed = body[0], int.from_bytes(body[1:3], "big")
    fields: Fields = {"length": n, "heartbeat_type": name_of(HEARTBEAT_MESSAGE_TYPES, kind), "payload_length": claimed}
    if claimed > n - 3:
        fields["payload_length_exceeds_record"] = True
        if kind == 2:
            owed = 3 + claimed + HEARTBEAT_PADDING - n
    return fields, owed


BODY_PARSERS = {
    0: parse_empty, 3: parse_hello_verify_request, 5: parse_empty, 6: lambda body, ctx: parse_hello_retry_request_draft(body),
    8: parse_encrypted_extensions, 11: parse_certificate, 12: parse_server_key_exchange,
    13: parse_certificate_request, 14: parse_empty, 15: parse_certificate_verify, 16: parse_client_key_exchange,
    20: parse_finished, 22: parse_certificate_status, 24: parse_key_update, 4: parse_new_session_ticket,
    25: parse_compressed_certificate,
}


# --- essentials: the few fields the state machine needs, parsed fast ------------------------------------
# The full dicts above are built lazily (only when an output asks for them); the connection itself only
# needs these, for every session, so they are read with direct offsets instead of a Buffer.

class Hello:
    """What the state machine needs from a ClientHello or ServerHello."""

    __slots__ = ("version", "random", "session_id", "suites", "ext_types", "sni", "alpn", "ticket",
                 "supported_versions", "selected_version", "suite", "hrr")

    def __init__(self) -> None:
        self.version = 0
        self.random = b""
        self.session_id = b""
        self.suites = b""  # ClientHello: the raw cipher_suites vector
        self.ext_types: set[int] = set()
        self.sni: str | None = None
        self.alpn: list[str] | None = None
        self.ticket = b""
        self.supported_versions: bool = False
        self.selected_version = 0
        self.suite = -1
        self.hrr = False

    def suite_ids(self) -> list[int]:
        s = self.suites
        return [(s[i] << 8) | s[i + 1] for i in range(0, len(s) - 1, 2)]


def _ext_walk(h: Hello, body: bytes, pos: int, client: bool) -> None:
    n = len(body)
    if pos >= n:
        return
    if pos + 2 > n:
        raise MalformedInput("tls", "truncated", "extensions length")
    end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
    if end > n:
        raise MalformedInput("tls", "truncated", "extensions block")
    pos += 2
    types = h.ext_types
    while pos + 4 <= end:
        etype = (body[pos] << 8) | body[pos + 1]
        elen = (body[pos + 2] << 8) | body[pos + 3]
        data_start = pos + 4
        pos = data_start + elen
        if pos > end:
            raise MalformedInput("tls", "truncated", f"extension {etype}")
        types.add(etype)
        if etype == 0 and client and elen > 5:  # server_name: list len(2) type(1) name len(2) name
            if body[data_start + 2] == 0:
                ln = (body[data_start + 3] << 8) | body[data_start + 4]
                h.sni = body[data_start + 5:data_start + 5 + ln].decode("ascii", "replace")
        elif etype == 16 and elen > 2:
            protos, p = [], data_start + 2
            while p < pos:
                ln = body[p]
                protos.append(body[p + 1:p + 1 + ln].decode("ascii", "replace"))
                p += 1 + ln
            h.alpn = protos
        elif etype == 35 and client:
            h.ticket = bytes(body[data_start:pos])
        elif etype == 43:
            if client:
                h.supported_versions = True
            elif elen == 2:
                h.selected_version = (body[data_start] << 8) | body[data_start + 1]
    if pos != end:
        raise MalformedInput("tls", "trailing_data", "in extensions block")


def _extensions_at(body: bytes, client: bool, dtls: bool = False) -> int:
    """Where a hello body's extensions block (its 2-byte length) starts."""
    pos = 35 + body[34]
    if not client:
        return pos + 3  # cipher suite, compression method
    if dtls:
        pos += 1 + body[pos]  # the cookie
    pos += 2 + ((body[pos] << 8) | body[pos + 1])
    return pos + 1 + body[pos]


def _extension(body: bytes, pos: int, wanted: int) -> tuple[int, int] | None:
    """(start, end) of the data of extension `wanted` in the extensions block at `pos`, else None."""
    end = min(len(body), pos + 2 + ((body[pos] << 8) | body[pos + 1]))
    pos += 2
    while pos + 4 <= end:
        etype, elen = (body[pos] << 8) | body[pos + 1], (body[pos + 2] << 8) | body[pos + 3]
        if etype == wanted:
            return pos + 4, min(end, pos + 4 + elen)
        pos += 4 + elen
    return None


def psk_offer(body: bytes, dtls: bool = False) -> tuple[list[bytes], list[bytes], int] | None:
    """A ClientHello's pre_shared_key offer (RFC 8446 4.2.11): its identities, their binders, and the length of the
    hello body the binders cover (up to the binders list); None when it offers no PSK or the extension is damaged."""
    try:
        found = _extension(body, _extensions_at(body, True, dtls), 41)
        if found is None:
            return None
        pos, end = found
        ids_end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
        identities, pos = [], pos + 2
        while pos + 2 <= ids_end:
            n = (body[pos] << 8) | body[pos + 1]
            identities.append(bytes(body[pos + 2:pos + 2 + n]))
            pos += 2 + n + 4  # (and its obfuscated_ticket_age)
        truncated, binders = ids_end, []
        pos = ids_end + 2
        while pos < end:
            n = body[pos]
            binders.append(bytes(body[pos + 1:pos + 1 + n]))
            pos += 1 + n
    except IndexError:
        return None
    return (identities, binders, truncated) if identities and len(identities) == len(binders) else None


def psk_choice(body: bytes) -> tuple[int | None, bool]:
    """What a TLS 1.3 ServerHello says of PSKs: the selected identity's index (None: no PSK taken), and whether it
    carries a key_share (psk_dhe_ke: an (EC)DHE exchange as well, which the PSK alone cannot undo)."""
    try:
        pos = _extensions_at(body, False)
        found = _extension(body, pos, 41)
        selected = (body[found[0]] << 8) | body[found[0] + 1] if found and found[1] - found[0] == 2 else None
        return selected, _extension(body, pos, 51) is not None
    except IndexError:
        return None, False


def client_hello_essentials(body: bytes, dtls: bool = False) -> Hello:
    h = Hello()
    try:
        h.version = (body[0] << 8) | body[1]
        h.random = body[2:34]
        sid = body[34]
        h.session_id = body[35:35 + sid]
        pos = 35 + sid
        if dtls:
            pos += 1 + body[pos]  # the cookie
        ln = (body[pos] << 8) | body[pos + 1]
        h.suites = body[pos + 2:pos + 2 + ln]
        pos += 2 + ln
        pos += 1 + body[pos]
        if len(h.random) != 32 or pos > len(body):
            raise MalformedInput("tls", "truncated", "ClientHello")
        _ext_walk(h, body, pos, True)
    except IndexError:
        raise MalformedInput("tls", "truncated", "ClientHello") from None
    return h


def server_hello_essentials(body: bytes) -> Hello:
    h = Hello()
    try:
        h.version = (body[0] << 8) | body[1]
        h.random = body[2:34]
        old_draft = body[0] == 0x7F and body[1] < 22
        pos = 34
        if not old_draft:
            sid = body[34]
            h.session_id = body[35:35 + sid]
            pos = 35 + sid
        h.suite = (body[pos] << 8) | body[pos + 1]
        pos += 2 if old_draft else 3
        if len(h.random) != 32 or pos > len(body):
            raise MalformedInput("tls", "truncated", "ServerHello")
        h.hrr = h.random == HRR_RANDOM
        _ext_walk(h, body, pos, False)
    except IndexError:
        raise MalformedInput("tls", "truncated", "ServerHello") from None
    return h


def encrypted_extensions(body: bytes) -> Hello:
    """A TLS 1.3 EncryptedExtensions' extension types and ALPN (the state machine's fast read)."""
    h = Hello()
    _ext_walk(h, body, 0, False)
    return h


def first_certificate(body: bytes, tls13: bool) -> bytes | None:
    """The DER of the first certificate of a Certificate message (the server's own; or its raw public key)."""
    pos = 0
    if not tls13 and is_raw_public_key(body):
        return bytes(body[3:])
    if tls13:
        pos = 1 + body[0] if body else 0
    if len(body) < pos + 6:
        return None
    ln = (body[pos + 3] << 16) | (body[pos + 4] << 8) | body[pos + 5]
    der = body[pos + 6:pos + 6 + ln]
    return der if len(der) == ln and ln else None


def details(mtype: int, body: bytes, ctx: Context | None) -> Fields:
    """The full, display-oriented fields of a handshake message (what `TLSMessage.info` returns)."""
    try:
        if mtype == 1:
            return parse_client_hello(body, ctx is not None and ctx.dtls)
        if mtype == 2:
            return parse_server_hello(body)
        parser = BODY_PARSERS.get(mtype)
        if parser is None:
            return {}
        info = parser(body, ctx or Context())
        return {k: v for k, v in info.items() if not k.startswith("_")}
    except MalformedInput as exc:
        return {"malformed": exc.reason or exc.name}


def context_snapshot(ctx: Context) -> Context:
    snap = Context()
    snap.version, snap.tls13, snap.draft, snap.kx, snap.dtls = ctx.version, ctx.tls13, ctx.draft, ctx.kx, ctx.dtls
    return snap
