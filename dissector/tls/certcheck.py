"""Certificate checks for one session: the chain the server (and a mutual-TLS client) presented, judged
at the time of the capture.

Per certificate: the fields `handshake.describe_certificate` gives (subject, issuer, serial, validity,
SANs, key, signature algorithm, SHA-256) plus `validity` ("valid", "expired", "not-yet-valid") and
`days_left` at the session's first timestamp, `weak_key` (RSA or DSA under 2048 bits, EC under 224) and
`weak_signature` (MD2, MD5 or SHA-1). Per chain: whether the SNI matches the leaf (RFC 6125: DNS SANs,
a wildcard only as the whole leftmost label and matching exactly one label; the subject CN only when the
certificate has no DNS SAN), whether each certificate's issuer is the next one's subject, and, when a CA
bundle is configured (`--ca FILE`), verification with `cryptography.x509.verification` at the capture
time, with the verifier's error text when it fails.

The trust store is process-wide (`configure`), like a logging setup: `dissector analyze --ca` sets it
before the run (worker processes are forked and inherit it) and `SessionCollector` reads it.

Sans-IO apart from `load_ca_bundle`, which reads the PEM file it is given.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from dissector.errors import KeyMaterialError
from dissector.tls.handshake import load_certificate

__all__ = ["CertFacts", "TrustStore", "cert_facts", "check_chain", "configure", "current_trust", "load_ca_bundle",
           "name_matches", "session_certificates"]

WEAK_KEY_BITS = {"RSA": 2048, "DSA": 2048, "EC": 224}
WEAK_SIGNATURE_HASHES = ("md2", "md5", "sha1")
TLS13_ENCRYPTED = "certificate encrypted (TLS 1.3 without keys)"


@dataclass(frozen=True, slots=True)
class TrustStore:
    """CA certificates to verify chains against (a `cryptography.x509.verification.Store`)."""

    store: Any
    path: str
    count: int


_TRUST: TrustStore | None = None


def load_ca_bundle(path: str) -> TrustStore:
    """Read a PEM bundle of CA certificates; KeyMaterialError (exit code 3) if it holds none."""
    from cryptography import x509
    from cryptography.x509.verification import Store

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise KeyMaterialError(f"CA bundle {path}: {exc.strerror or exc}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise KeyMaterialError(f"CA bundle {path}: no usable PEM certificate ({exc})") from None
    if not certs:
        raise KeyMaterialError(f"CA bundle {path}: no PEM certificate in it")
    return TrustStore(Store(certs), path, len(certs))


def configure(trust: TrustStore | str | None) -> TrustStore | None:
    """Set the process-wide trust store (a TrustStore, a PEM path, or None); returns the previous one."""
    global _TRUST
    previous = _TRUST
    _TRUST = load_ca_bundle(trust) if isinstance(trust, str) else trust
    _verified.clear()
    return previous


def current_trust() -> TrustStore | None:
    return _TRUST


@dataclass(frozen=True, slots=True)
class CertFacts:
    """What the checks need from one DER certificate (parsed once per distinct certificate)."""

    cert: Any  # cryptography.x509.Certificate, or None when it does not parse
    subject: Any
    issuer: Any
    not_before: float
    not_after: float
    dns_names: tuple[str, ...]
    ip_addresses: tuple[Any, ...]
    common_names: tuple[str, ...]
    error: str | None = None


@lru_cache(maxsize=1024)
def cert_facts(der: bytes) -> CertFacts:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = load_certificate(der)[0]
        nb = cert.not_valid_before_utc.timestamp()
        na = cert.not_valid_after_utc.timestamp()
        subject, issuer = cert.subject, cert.issuer
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = tuple(n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName))
            ips = tuple(san.get_values_for_type(x509.IPAddress))
        except (x509.ExtensionNotFound, ValueError):
            dns, ips = (), ()
        cns = tuple(str(a.value).lower().rstrip(".") for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    except Exception as exc:  # noqa: BLE001 - a damaged certificate can make the X.509 parser raise anything
        return CertFacts(None, None, None, 0.0, 0.0, (), (), (), f"not a parsable X.509 certificate ({type(exc).__name__})")
    return CertFacts(cert, subject, issuer, nb, na, dns, ips, cns)


def _wildcard_match(pattern: str, name: str) -> bool:
    """RFC 6125 6.4.3, strictly: "*" only as the entire leftmost label, matching exactly one label, and
    not directly above a single-label suffix ("*.com" matches nothing)."""
    if pattern == name:
        return True
    if not pattern.startswith("*.") or "*" in pattern[2:]:
        return False
    suffix = pattern[2:]
    if "." not in suffix:
        return False
    head, dot, rest = name.partition(".")
    return bool(dot) and bool(head) and rest == suffix


def name_matches(name: str, facts: CertFacts) -> tuple[bool, str]:
    """Whether `name` (the SNI) is a name of the certificate, and how it matched or why not."""
    n = name.strip().lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(n)
    except ValueError:
        ip = None
    if ip is not None:
        if ip in facts.ip_addresses:
            return True, f"IP address SAN {ip}"
        return False, f"{ip} is not among the certificate's IP address SANs"
    for pattern in facts.dns_names:
        if _wildcard_match(pattern, n):
            return True, f"DNS SAN {pattern}"
    if facts.dns_names:
        shown = ", ".join(facts.dns_names[:5]) + (" ..." if len(facts.dns_names) > 5 else "")
        return False, f"{n} matches none of the DNS SANs ({shown})"
    for cn in facts.common_names:  # legacy: only when there is no DNS SAN at all
        if _wildcard_match(cn, n):
            return True, f"subject CN {cn} (the certificate has no DNS SAN)"
    return False, f"{n} does not match: the certificate has no DNS SAN" + (
        f" and its CN is {facts.common_names[0]}" if facts.common_names else "")


@lru_cache(maxsize=1024)
def _static_info(der: bytes) -> dict:
    """The time-independent judgement of one certificate (cached: shared, never to be modified)."""
    from dissector.tls.handshake import describe_certificate

    info = dict(describe_certificate(der))
    facts = cert_facts(der)
    if facts.cert is None and info.get("type") != "RawPublicKey":
        info.setdefault("error", facts.error)
        return info
    kt = (info.get("key_type") or "").split(" ")[0]
    limit = WEAK_KEY_BITS.get(kt)
    info["weak_key"] = bool(limit and info.get("key_size") and info["key_size"] < limit)
    if info.get("type") != "RawPublicKey":  # (a raw key carries no signature)
        sig = (info.get("signature_algorithm") or "").lower()
        info["weak_signature"] = any(h in sig for h in WEAK_SIGNATURE_HASHES)
    return info


def _judge(der: bytes, when: float) -> dict:
    """One certificate at time `when`: the static judgement plus validity and days left."""
    info = dict(_static_info(der))
    facts = cert_facts(der)
    if facts.cert is not None:
        if when < facts.not_before:
            info["validity"] = "not-yet-valid"
        elif when > facts.not_after:
            info["validity"] = "expired"
        else:
            info["validity"] = "valid"
        info["days_left"] = int((facts.not_after - when) // 86400)
        info["weak_key"] = info.pop("weak_key")  # keep the key order of the documents: validity first
        info["weak_signature"] = info.pop("weak_signature")
    return info


@lru_cache(maxsize=512)
def _chain_static(ders: tuple[bytes, ...], sni: str | None, client: bool) -> dict:
    """The time-independent part of a chain's section: order and name match (cached per chain and SNI)."""
    facts = [cert_facts(d) for d in ders]
    infos = [_static_info(d) for d in ders]
    out: dict[str, Any] = {}
    ordered, issue = True, ""
    for i in range(len(facts) - 1):
        a, b = facts[i], facts[i + 1]
        if a.cert is None or b.cert is None or a.issuer != b.subject:
            ordered = False
            issue = (f"certificate {i + 1}'s issuer ({infos[i].get('issuer', '?')}) is not certificate {i + 2}'s "
                     f"subject ({infos[i + 1].get('subject', '?')})")
            break
    out["chain_ordered"] = ordered
    if not ordered:
        out["chain_issue"] = issue
    if not client:
        out["sni"] = sni
        if sni and facts[0].cert is not None:
            out["sni_match"], out["sni_match_detail"] = name_matches(sni, facts[0])
        else:
            out["sni_match"] = None
    return out


# chains that verified, with the time window in which that result holds (every certificate of the built
# chain valid): sessions of a capture mostly share a few chains, and verification is the costly part
_verified: dict[tuple, tuple[float, float]] = {}


def _verify(ders: list[bytes], facts: list[CertFacts], when: float, subject: Any, client: bool,
            trust: TrustStore) -> dict:
    from cryptography.x509.verification import PolicyBuilder, VerificationError

    key = (tuple(ders), repr(subject), client, trust)  # the TrustStore itself: no id() reuse after GC
    window = _verified.get(key)
    if window is not None and window[0] <= when <= window[1]:
        return {"status": "verified", "detail": f"chain verified against {trust.path}"}
    leaf, intermediates = facts[0].cert, [f.cert for f in facts[1:]]
    builder = PolicyBuilder().store(trust.store).time(datetime.fromtimestamp(when, UTC))
    try:
        if client:
            if not hasattr(builder, "build_client_verifier"):
                return {"status": "not-checked", "detail": "client chains need cryptography 43 or later"}
            verified = builder.build_client_verifier().verify(leaf, intermediates)
            chain = verified.chain
        else:
            chain = builder.build_server_verifier(subject).verify(leaf, intermediates)
    except VerificationError as exc:
        return {"status": "failed", "detail": str(exc)}
    except (ValueError, TypeError) as exc:  # e.g. an unsupported key or signature algorithm
        return {"status": "failed", "detail": f"cannot verify: {exc}"}
    start = max(c.not_valid_before_utc.timestamp() for c in chain)
    end = min(c.not_valid_after_utc.timestamp() for c in chain)
    if len(_verified) > 4096:
        _verified.clear()
    _verified[key] = (start, end)
    return {"status": "verified", "detail": f"chain verified against {trust.path} ({len(chain)} certificates to the root)"}


def _server_subject(sni: str | None, facts: CertFacts, server_ip: str | None) -> tuple[Any, str]:
    from cryptography.x509.verification import DNSName, IPAddress

    candidates = []
    if sni:
        candidates.append((sni, ""))
    elif facts.dns_names:
        candidates.append((facts.dns_names[0], " (no SNI: the leaf's first DNS SAN was used as the name)"))
    if server_ip:
        candidates.append((server_ip, " (no SNI: checked against the server's IP address)" if not sni else ""))
    for name, note in candidates:
        try:
            return IPAddress(ipaddress.ip_address(name.strip("[]"))), note
        except ValueError:
            pass
        try:
            return DNSName(name.lower().rstrip(".")), note
        except ValueError:
            continue
    return None, ""


def check_chain(ders: list[bytes], when: float, *, sni: str | None = None, client: bool = False,
                trust: TrustStore | None = None, server_ip: str | None = None) -> dict[str, Any]:
    """Judge one presented chain (leaf first) at time `when` (seconds since the epoch)."""
    out: dict[str, Any] = {"chain": [_judge(der, when) for der in ders]}
    if not ders:
        out["note"] = "empty Certificate message: no certificate was sent"
        return out
    if out["chain"][0].get("type") == "RawPublicKey":  # RFC 7250: nothing to check but the key's strength
        out["raw_public_key"] = True
        out["note"] = ("a raw public key (RFC 7250) instead of a certificate: no name, issuer or validity to check; "
                       "the peer must know the key beforehand")
        return out
    out.update(_chain_static(tuple(ders), sni, client))
    if trust is not None:
        facts = [cert_facts(d) for d in ders]
        if any(f.cert is None for f in facts):
            out["verification"] = {"status": "failed", "detail": "a certificate of the chain does not parse"}
        elif client:
            out["verification"] = _verify(ders, facts, when, None, True, trust)
        else:
            subject, note = _server_subject(sni, facts[0], server_ip)
            if subject is None:
                out["verification"] = {"status": "not-checked", "detail": "no name to check the chain against"}
            else:
                v = _verify(ders, facts, when, subject, False, trust)
                v["detail"] += note
                out["verification"] = v
    return out


def certificate_ders(body: bytes, ctx: Any, compressed: bool = False) -> list[bytes]:
    """The DER certificates of a Certificate message body, or of a CompressedCertificate body when
    `compressed` (ValueError if it is malformed or does not decompress)."""
    if compressed:
        from dissector.errors import MalformedInput
        from dissector.tls.handshake import CertificateDecompressionError, decompress_certificate

        try:
            return list(_certificate_ders(decompress_certificate(bytes(body)), True, None))
        except CertificateDecompressionError as exc:
            raise ValueError(str(exc)) from None
        except MalformedInput as exc:
            raise ValueError(exc.reason or exc.name) from None
    tls13 = bool(ctx is not None and ctx.tls13)
    return list(_certificate_ders(bytes(body), tls13, ctx.draft if tls13 else None))


def _certificate_ders(body: bytes, tls13: bool, draft: int | None) -> tuple[bytes, ...]:
    return _certificate_message(body, tls13, draft)[0]


@lru_cache(maxsize=256)
def _certificate_message(body: bytes, tls13: bool, draft: int | None) -> tuple[tuple[bytes, ...], bytes | None]:
    """The DER certificates of a Certificate message, and the OCSP response stapled to the leaf (TLS 1.3)."""
    # cached by message: a server sends the same Certificate message in every full handshake
    from dissector.errors import MalformedInput
    from dissector.tls.handshake import Context, parse_certificate

    ctx = Context()
    ctx.tls13, ctx.draft = tls13, draft
    try:
        f = parse_certificate(body, ctx)
    except MalformedInput as exc:
        raise ValueError(exc.reason or exc.name) from None
    return tuple(f["_der"]), f["_ocsp"]


def ocsp_check(der: bytes, leaf: bytes | None, when: float) -> dict[str, Any]:
    """A stapled OCSP response judged at the capture time: its fields (`handshake.describe_ocsp_response`),
    `validity` (current, expired, not-yet-valid) and `for_leaf` (it is about the certificate presented)."""
    from dissector.tls.handshake import describe_ocsp_response, load_certificate

    info = {k: v for k, v in describe_ocsp_response(der).items() if k != "length"}
    if info.get("this_update"):
        at = datetime.fromtimestamp(when, UTC)
        nxt = info.get("next_update")
        info["validity"] = ("not-yet-valid" if at < datetime.fromisoformat(info["this_update"]) else
                            "expired" if nxt and at > datetime.fromisoformat(nxt) else "current")
        if leaf is not None:
            try:
                info["for_leaf"] = info["serial"] == format(load_certificate(leaf)[1], "x")
            except ValueError:
                pass
    return info


def session_certificates(server_msg: tuple | None, client_msg: tuple | None, *, when: float, sni: str | None,
                         version: str | None, resumed: bool, suite_auth: str | None, server_hello_seen: bool,
                         server_encrypted_handshake: bool, decryption: str, cert_requested: bool = False,
                         trust: TrustStore | None = None, server_ip: str | None = None,
                         gap: bool = False, certificate_status: bytes | None = None) -> dict[str, Any]:
    """The session document's "certificates" section.

    `server_msg` / `client_msg`: (body, parse context, compressed) of the first Certificate (or
    CompressedCertificate) message each side sent; `certificate_status`: the body of the server's
    CertificateStatus (TLS <= 1.2 OCSP stapling; TLS 1.3 staples it in the Certificate message)."""
    out: dict[str, Any] = {"server": None}
    if server_msg is not None:
        try:
            ders = certificate_ders(*server_msg)
            out["server"] = check_chain(ders, when, sni=sni, trust=trust, server_ip=server_ip)
            stapled = _stapled_ocsp(server_msg, certificate_status)
            if stapled is not None:
                out["server"]["ocsp"] = ocsp_check(stapled, ders[0] if ders else None, when)
        except ValueError as exc:
            out["note"] = f"malformed Certificate message: {exc}"
    else:
        tls13 = bool(version and version.startswith(("TLS 1.3", "DTLS 1.3")))
        if resumed:
            out["note"] = "no certificate: the session was resumed"
        elif tls13 and decryption == "no-key":
            out["note"] = TLS13_ENCRYPTED
        elif suite_auth in ("anon", "PSK", "SRP"):
            out["note"] = f"no certificate: the cipher suite does not use one ({suite_auth})"
        elif gap and server_hello_seen:
            out["note"] = "no certificate seen: bytes of the server's handshake went missing from the capture (a gap)"
        elif tls13 and server_encrypted_handshake:
            out["note"] = TLS13_ENCRYPTED
        elif tls13 and decryption == "failed":
            out["note"] = "certificate encrypted (TLS 1.3: the handshake could not be decrypted)"
        elif not server_hello_seen:
            out["note"] = "no certificate: the server's handshake is not in the capture"
        else:
            out["note"] = "no certificate seen"
    if client_msg is not None:
        try:
            out["client"] = check_chain(certificate_ders(*client_msg), when, client=True, trust=trust)
        except ValueError as exc:
            out["client"] = {"chain": [], "note": f"malformed Certificate message: {exc}"}
    elif cert_requested:
        out["client"] = {"chain": [], "note": "the server asked for a client certificate; none was seen"}
    return out


def validity_text(info: dict) -> str:
    """"valid until 2031-05-01 (380 days left)" and the like, for tables."""
    v = info.get("validity")
    end = (info.get("not_after") or "")[:10]
    if v == "expired":
        return f"expired {end} ({-info.get('days_left', 0)} days before the capture)"
    if v == "not-yet-valid":
        return f"not valid before {(info.get('not_before') or '')[:10]}"
    if v == "valid":
        return f"valid until {end} ({info.get('days_left')} days left)"
    return info.get("error", "unparsable")


def _stapled_ocsp(server_msg: tuple, certificate_status: bytes | None) -> bytes | None:
    if certificate_status is not None:
        from dissector.tls.handshake import ocsp_response

        return ocsp_response(bytes(certificate_status))
    body, ctx, compressed = server_msg
    if compressed or ctx is None or not ctx.tls13:
        return None
    return _certificate_message(bytes(body), True, ctx.draft)[1]
