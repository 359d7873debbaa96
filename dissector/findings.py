"""Findings: what is weak or risky about a session, as a list of {"severity", "id", "detail"}.

`severity` is "high", "medium", "low" or "info"; `id` is a stable snake_case name (the list of ids is
FINDING_IDS below); `detail` is a sentence for people. The list is sorted from the highest severity down.

Sources:
- the negotiated version and cipher suite (legacy versions, weak or export suites, no forward secrecy),
- the hellos (compression, heartbeat, secure renegotiation), the ServerKeyExchange (weak DH groups),
- the "certificates" section (see dissector/tls/certcheck.py),
- the decryption status ("failed"),
- the HTTP plugins' section doc["http"]["requests"] (cookies without Secure/HttpOnly, credentials and
  OAuth2 secrets on cleartext HTTP).

`HandshakeNotes` keeps, per session and bounded, what the session-end work needs (the first hello bodies,
the first Certificate message of each side, a few flags); `enrich` is what `SessionCollector` calls when a
session ends to add "fingerprints", "certificates" (only when the output wants details) and "findings".
"""
from __future__ import annotations

from typing import Any

from dissector.redact import auth_secret
from dissector.tls.certcheck import TrustStore, session_certificates
from dissector.tls.constants import HRR_RANDOM
from dissector.tls.fingerprints import session_fingerprints
from dissector.tls.handshake import without_cookie
from dissector.tls.suites import SUITES_BY_NAME

__all__ = ["FINDING_IDS", "SEVERITIES", "HandshakeNotes", "count_by_severity", "enrich", "session_findings"]

SEVERITIES = ("high", "medium", "low", "info")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

FINDING_IDS = {
    # protocol and cipher suite
    "legacy_protocol_version": "SSL 2.0/3.0 (high), TLS 1.0/1.1 and DTLS 1.0 (medium)",
    "sslv2_client_hello": "the client sent an SSLv2-format ClientHello",
    "export_cipher_suite": "an export-grade suite (40/56-bit keys)",
    "null_cipher": "a NULL-encryption suite: records travel in cleartext",
    "anonymous_key_exchange": "an anonymous (unauthenticated) suite",
    "rc4_cipher": "RC4 (RFC 7465 prohibits it)",
    "weak_cipher": "DES, RC2 or IDEA",
    "triple_des_cipher": "3DES (64-bit blocks: Sweet32)",
    "cbc_sha1_suite": "CBC with an HMAC-SHA1/MD5 MAC (low)",
    "no_forward_secrecy": "RSA, static DH/ECDH or plain PSK key exchange, TLS 1.3 psk_ke",
    "weak_dh_group": "a finite-field DH group under 2048 bits",
    "tls_compression": "TLS compression (CRIME)",
    "heartbeat_extension": "the server accepted the heartbeat extension",
    "heartbleed_probe": "a HeartbeatRequest claims more payload than it carries (CVE-2014-0160)",
    "heartbleed_leak": "a heartbeat answer far longer than its request: memory leaked (CVE-2014-0160)",
    "no_secure_renegotiation": "the server does not support RFC 5746 renegotiation_info",
    "insecure_renegotiation": "a renegotiation without renegotiation_info",
    "renegotiation": "the session renegotiated (info)",
    "decryption_failed": "the key material did not decrypt the session",
    "early_data_accepted": "the server took TLS 1.3 0-RTT data, which can be replayed (low)",
    # certificates (each also as client_<id> for the mutual-TLS client certificate)
    "certificate_expired": "a certificate of the chain had expired at capture time",
    "certificate_not_yet_valid": "a certificate of the chain was not valid yet at capture time",
    "certificate_expires_soon": "the leaf expires within 30 days of the capture (low)",
    "certificate_name_mismatch": "the SNI is not a name of the server certificate",
    "self_signed_certificate": "the leaf is self-signed",
    "weak_certificate_key": "RSA/DSA under 2048 bits, EC under 224",
    "weak_certificate_signature": "signed with MD2/MD5 (high) or SHA-1 (medium)",
    "certificate_chain_order": "an issuer is not the next certificate's subject",
    "certificate_untrusted": "the chain does not verify against --ca",
    "certificate_revoked": "the server's stapled OCSP response says its certificate is revoked (high)",
    "ocsp_response_stale": "the stapled OCSP response is expired, not yet valid, about another certificate, or "
                           "not a usable answer (low)",
    # HTTP (doc["http"] from the HTTP plugins)
    "cookie_without_secure": "Set-Cookie without Secure",
    "cookie_without_httponly": "Set-Cookie without HttpOnly",
    "cookie_set_cleartext": "Set-Cookie on cleartext HTTP",
    "cookie_sent_cleartext": "Cookie sent on cleartext HTTP",
    "basic_auth_cleartext": "Authorization: Basic on cleartext HTTP",
    "bearer_token_cleartext": "Authorization: Bearer on cleartext HTTP",
    "password_cleartext": "a login form's password on cleartext HTTP",
    "oauth2_secret_cleartext": "OAuth2 client_secret, code or tokens on cleartext HTTP",
    "basic_auth": "Basic authentication over TLS (info)",
    # mail and FTP (doc["mail"], doc["ftp"] from their plugins)
    "mail_login_cleartext": "an SMTP, IMAP or POP3 login on a connection that never started TLS",
    "ftp_login_cleartext": "an FTP password sent on a control connection that never started TLS",
    # an HTTP proxy (doc["proxy_authorization"], from the pipeline)
    "proxy_credentials_cleartext": "credentials sent to an HTTP proxy in the clear, in the CONNECT before TLS",
}

EXPIRY_WARNING_DAYS = 30
_SECRET_OAUTH2 = ("client_secret", "code", "access_token", "refresh_token", "id_token")
_NO_FS_KX = {"RSA": "RSA", "DH": "static DH", "ECDH": "static ECDH", "PSK": "plain PSK", "RSA_PSK": "RSA-PSK",
             "KRB5": "Kerberos"}
_NOTED_CODES = frozenset((1, 2, 3, 11, 12, 13, 22, 25))
_NOTED_TYPES = frozenset(("EncryptedHandshakeMessage", "ClientHello", "Heartbeat"))  # record-level items (code -1)
LEAK_MARGIN = 64  # heartbeat answer bytes beyond the request's that no honest peer sends (its padding is 16 or so)


class HandshakeNotes:
    """The few handshake facts a session keeps for its end-of-session work (bounded: two hello bodies,
    one Certificate message per side, one ServerKeyExchange)."""

    __slots__ = ("client_hello", "server_hello", "negotiated_hello", "client_hellos", "hrr", "hvr",
                 "server_cert", "client_cert", "server_kx", "cert_request", "server_encrypted", "ssl2_hello", "gap",
                 "certificate_status", "heartbeat_request", "heartbeat_answer", "heartbleed_probe", "heartbleed_leak")

    def __init__(self) -> None:
        self.client_hello: bytes | None = None  # first ClientHello body
        self.server_hello: bytes | None = None  # first ServerHello body (a HelloRetryRequest if there was one)
        self.negotiated_hello: bytes | None = None  # first ServerHello that is not a HelloRetryRequest
        self.client_hellos = 0
        self.hrr = False
        self.hvr = False  # DTLS HelloVerifyRequest: the ClientHello is sent again, with a cookie
        self.server_cert: tuple | None = None  # (body, parse context, compressed)
        self.client_cert: tuple | None = None
        self.server_kx: tuple | None = None
        self.cert_request = False
        self.server_encrypted = False  # the server sent handshake messages nobody could decrypt
        self.ssl2_hello = False
        self.gap = False  # bytes of the connection went missing from the capture (a TCP gap)
        self.certificate_status: bytes | None = None  # the server's first CertificateStatus body (OCSP stapling)
        # heartbeats (RFC 6520): the last request (its sender, record length, whether it was encrypted), the bytes
        # of heartbeat records the other side sent since, and what gave Heartbleed away (see _heartbeat)
        self.heartbeat_request: tuple[str, int, bool] | None = None
        self.heartbeat_answer = 0
        self.heartbleed_probe: tuple[str, int, int] | None = None  # (sender, payload claimed, payload carried)
        self.heartbleed_leak: tuple[str, int, int, bool] | None = None  # (requester, answer, request, encrypted)

    @staticmethod
    def wants(ev: Any) -> bool:
        c = ev.code
        return c in _NOTED_CODES or (c < 0 and ev.type in _NOTED_TYPES)

    def add(self, ev: Any) -> None:
        """Note one TLSMessage event (call it for the events `wants` accepts)."""
        c = ev.code
        if ev._info is not None and ev._info.get("retransmission"):  # DTLS: a copy of a message already noted
            return
        if c == 1 or (c < 0 and ev.type == "ClientHello"):
            self.client_hellos += 1
            if c < 0:  # an SSLv2-format ClientHello: parsed fields only, no TLS body (and no fingerprint)
                self.ssl2_hello = True
            elif self.client_hellos == 1:  # the fingerprints are those of the first hello, as other tools do
                self.client_hello = ev.body
        elif c == 3:
            self.hvr = True
        elif c == 2:
            body = ev.body
            if self.server_hello is None:
                self.server_hello = body
            if body[2:34] == HRR_RANDOM:
                self.hrr = True
            elif self.negotiated_hello is None:
                self.negotiated_hello = body
        elif c == 11 or c == 25:  # Certificate, or CompressedCertificate (RFC 8879)
            noted = (ev.body, ev.ctx, c == 25)
            if ev.direction == "server":
                if self.server_cert is None:
                    self.server_cert = noted
            elif self.client_cert is None:
                self.client_cert = noted
        elif c == 12:
            if self.server_kx is None:
                self.server_kx = (ev.body, ev.ctx)
        elif c == 13:
            self.cert_request = True
        elif c == 22:
            if ev.direction == "server" and self.certificate_status is None:
                self.certificate_status = ev.body
        elif c < 0 and ev.type == "Heartbeat":
            self._heartbeat(ev)
        elif c < 0 and ev.direction == "server":  # EncryptedHandshakeMessage
            self.server_encrypted = True

    def _heartbeat(self, ev: Any) -> None:
        """A heartbeat record: a request starts an exchange, the other side's records are its answer. A plaintext
        request that claims more payload than it carries is a Heartbleed probe; an answer far longer than its
        request leaked memory (told by the record sizes alone when the heartbeats are encrypted)."""
        info = ev._info or {}
        kind = info.get("heartbeat_type")
        request = self.heartbeat_request
        if kind == "heartbeat_request" or (kind is None and (request is None or request[0] == ev.direction)):
            self.judge_heartbeats()
            self.heartbeat_request = (ev.direction, ev.length, kind is None)
            self.heartbeat_answer = 0
            if info.get("payload_length_exceeds_record") and self.heartbleed_probe is None:
                self.heartbleed_probe = (ev.direction, info.get("payload_length", 0), max(0, ev.length - 3))
        elif request is not None and request[0] != ev.direction:
            self.heartbeat_answer += ev.length

    def judge_heartbeats(self) -> None:
        """Whether the answer to the last heartbeat request leaked (called at each request and at the end)."""
        request = self.heartbeat_request
        if request is not None and self.heartbleed_leak is None and self.heartbeat_answer > request[1] + LEAK_MARGIN:
            self.heartbleed_leak = (request[0], self.heartbeat_answer, request[1], request[2])

    @property
    def renegotiations(self) -> int:
        return max(0, self.client_hellos - 1 - (1 if self.hrr else 0) - (1 if self.hvr else 0))


def enrich(doc: dict, notes: HandshakeNotes, *, when: float, details: bool = True, trust: TrustStore | None = None,
           server_ip: str | None = None) -> None:
    """Add "fingerprints", "certificates" (when `details`) and "findings" to a finished session document."""
    protocol = {"udp": "d", "quic": "q"}.get(doc.get("transport") or "", "t")  # JA4's transport letter
    hello = notes.client_hello
    if hello and protocol == "d":  # fingerprints read a TLS ClientHello: the DTLS one without its cookie
        hello = without_cookie(hello)
    doc["fingerprints"] = session_fingerprints(hello, notes.server_hello, protocol)
    if details:
        suite = SUITES_BY_NAME.get(doc.get("cipher_suite") or "")
        ech = doc.get("ech") or {}
        # with ECH accepted the server answers the inner ClientHello: its name is the one the certificate must hold
        sni = ech.get("inner_sni") if ech.get("status") == "accepted" and ech.get("inner_sni") else doc.get("sni")
        doc["certificates"] = session_certificates(
            notes.server_cert, notes.client_cert, when=when, sni=sni, version=doc.get("version"),
            resumed=bool(doc.get("resumed")), suite_auth=suite.auth if suite else None,
            server_hello_seen=notes.server_hello is not None, server_encrypted_handshake=notes.server_encrypted,
            decryption=doc["decryption"]["status"], cert_requested=notes.cert_request, trust=trust,
            server_ip=server_ip, gap=notes.gap, certificate_status=notes.certificate_status)
    doc["findings"] = session_findings(doc, notes)


def count_by_severity(findings_lists) -> dict[str, int]:
    """{"high": n, "medium": n, "low": n, "info": n} over several sessions' findings lists."""
    out = dict.fromkeys(SEVERITIES, 0)
    for lst in findings_lists:
        for f in lst or ():
            out[f["severity"]] = out.get(f["severity"], 0) + 1
    return out


class _Out:
    __slots__ = ("items", "seen")

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.seen: set = set()

    def add(self, severity: str, fid: str, detail: str) -> None:
        key = (fid, detail)
        if key not in self.seen:
            self.seen.add(key)
            self.items.append({"severity": severity, "id": fid, "detail": detail})


def session_findings(doc: dict, notes: HandshakeNotes | None = None) -> list[dict]:
    """The findings of one session document (plus what `notes` saw of its handshake, when given)."""
    out = _Out()
    _protocol(doc, notes, out)
    certs = doc.get("certificates")
    if certs:
        if certs.get("server"):
            _certificates(certs["server"], "", out)
            if certs["server"].get("ocsp"):
                _ocsp(certs["server"]["ocsp"], out)
        if certs.get("client") and certs["client"].get("chain"):
            _certificates(certs["client"], "client_", out)
    early = doc.get("early_data")
    if early and early.get("status") == "accepted" and early.get("records"):  # (an offer with no data: nothing)
        size = f"{early['bytes']} bytes of " if early.get("bytes") else ""
        out.add("low", "early_data_accepted", f"the server took {size}0-RTT data: whoever recorded it can send it "
                                              "again, so it must not change anything (RFC 8446 8)")
    dec = doc.get("decryption") or {}
    if dec.get("status") == "failed":
        out.add("low", "decryption_failed", f"decryption failed: {dec.get('detail') or 'no reason given'}")
    http = doc.get("http")
    if isinstance(http, dict) and http.get("requests"):
        _http(doc, http["requests"], out)
    mail = doc.get("mail")
    if isinstance(mail, dict) and mail.get("logins") and is_cleartext(doc):
        _mail_logins(mail, out)
    ftp = doc.get("ftp")
    if isinstance(ftp, dict) and ftp.get("logins") and is_cleartext(doc):
        _ftp_logins(ftp, out)
    proxy = doc.get("proxy_authorization")
    if isinstance(proxy, dict):
        who = f" of user {proxy['user']!r}" if proxy.get("user") else ""
        what = "password" if proxy.get("password") else "token" if proxy.get("token") else "credentials"
        out.add("high" if auth_secret(proxy) else "medium", "proxy_credentials_cleartext",
                f"{proxy.get('scheme')} {what}{who} sent to the HTTP proxy in the clear (Proxy-Authorization in the "
                "CONNECT request, before TLS): anyone on the path to the proxy can read it")
    return sorted(out.items, key=lambda f: _RANK.get(f["severity"], 9))


def _ocsp(o: dict, out: _Out) -> None:
    if o.get("cert_status") == "revoked":
        out.add("high", "certificate_revoked", f"the server stapled an OCSP response that says its certificate was "
                                               f"revoked on {o.get('revocation_time')}"
                                               + (f" ({o['revocation_reason']})" if o.get("revocation_reason") else ""))
    elif o.get("error") or o.get("response_status") != "successful":
        out.add("low", "ocsp_response_stale", "the stapled OCSP response is no answer: "
                                              + (o.get("error") or f"the responder said {o.get('response_status')}"))
    elif o.get("validity") != "current":
        out.add("low", "ocsp_response_stale", f"the stapled OCSP response is {o.get('validity')} at the capture time "
                                              f"(this update {o.get('this_update')}, next {o.get('next_update')})")
    elif o.get("for_leaf") is False:
        out.add("low", "ocsp_response_stale", f"the stapled OCSP response is about serial {o.get('serial')}, not the "
                                              "server's certificate")


def _mail_logins(mail: dict, out: _Out) -> None:
    protocol = mail.get("protocol") or "mail"
    for login in mail["logins"]:
        how = " ".join(p for p in (login.get("command"), login.get("mechanism")) if p) or "login"
        out.add("high", "mail_login_cleartext", f"{protocol} {how} of user {login.get('user')!r} sent in cleartext "
                                                "(the connection never started TLS)")


def _ftp_logins(ftp: dict, out: _Out) -> None:
    for login in ftp["logins"]:
        if login.get("password") is None or login.get("anonymous"):
            continue  # no password, or an anonymous login's conventional e-mail address
        out.add("high", "ftp_login_cleartext", f"FTP password of user {login.get('user')!r} sent in cleartext "
                                               f"(login {login.get('result') or 'unanswered'}; the control connection "
                                               "never started TLS)")


# --- protocol, suite, hellos ---------------------------------------------------------------------------

def _protocol(doc: dict, notes: HandshakeNotes | None, out: _Out) -> None:
    version = doc.get("version") or ""
    if version in ("SSL 2.0", "SSL 3.0"):
        why = "POODLE, RFC 7568" if version == "SSL 3.0" else "RFC 6176"
        out.add("high", "legacy_protocol_version", f"{version} is broken and prohibited ({why})")
    elif version in ("TLS 1.0", "TLS 1.1"):
        out.add("medium", "legacy_protocol_version", f"{version} is deprecated (RFC 8996): use TLS 1.2 or 1.3")
    elif version.startswith("DTLS 1.0"):  # (also OpenSSL's pre-standard 0x0100)
        out.add("medium", "legacy_protocol_version", f"{version} is deprecated (RFC 8996): use DTLS 1.2 or 1.3")
    if notes is not None and notes.ssl2_hello:
        out.add("low", "sslv2_client_hello", "the client sent an SSLv2-format ClientHello (an SSL 2.0 era client)")
    suite = SUITES_BY_NAME.get(doc.get("cipher_suite") or "")
    facts = _server_hello_facts(notes.negotiated_hello) if notes is not None and notes.negotiated_hello else None
    if suite is not None and not suite.tls13:
        _suite(suite, out, etm=facts is not None and 22 in facts[1])
    if notes is None:
        return
    if notes.server_kx is not None and suite is not None and suite.kx in ("DHE", "DHE_PSK"):
        _dh_group(notes.server_kx, out)
    _heartbleed(notes, out)
    if facts is None:
        return
    compression, ext_types = facts
    if version.startswith(("TLS 1.3", "DTLS 1.3")) and 41 in ext_types and 51 not in ext_types:
        out.add("medium", "no_forward_secrecy", "TLS 1.3 on a pre-shared key with no (EC)DHE (psk_ke): whoever gets "
                                                "the PSK can decrypt this session and every other made with it")
    if compression:
        out.add("medium", "tls_compression", f"TLS compression is on (method {compression}): secrets in the "
                                             "records can be recovered from their sizes (CRIME)")
    if 15 in ext_types:
        out.add("low", "heartbeat_extension", "the server accepted the heartbeat extension (RFC 6520), the code "
                                              "path of Heartbleed (CVE-2014-0160)")
    if not version.startswith(("TLS 1.3", "DTLS 1.3")) and version:
        secure = 0xFF01 in ext_types
        if not secure:
            out.add("low", "no_secure_renegotiation", "the server did not send renegotiation_info: it does not "
                                                      "support secure renegotiation (RFC 5746)")
        renegs = notes.renegotiations
        if renegs:
            if secure:
                out.add("info", "renegotiation", f"the session renegotiated ({renegs} time(s)) with "
                                                 "renegotiation_info (RFC 5746)")
            else:
                out.add("high", "insecure_renegotiation", f"the session renegotiated ({renegs} time(s)) without "
                                                          "renegotiation_info: open to prefix injection "
                                                          "(CVE-2009-3555)")


def _heartbleed(notes: HandshakeNotes, out: _Out) -> None:
    notes.judge_heartbeats()
    if notes.heartbleed_probe is not None:
        sender, claimed, carried = notes.heartbleed_probe
        out.add("high", "heartbleed_probe", f"the {sender} sent a HeartbeatRequest that claims {claimed} bytes of "
                                            f"payload and carries {carried}: a Heartbleed probe (CVE-2014-0160)")
    if notes.heartbleed_leak is not None:
        requester, answer, request, encrypted = notes.heartbleed_leak
        other = "server" if requester == "client" else "client"
        how = " (told by the record sizes: the heartbeats are encrypted)" if encrypted else ""
        out.add("high", "heartbleed_leak", f"the {other} answered a {request}-byte heartbeat request with {answer} "
                                           f"bytes: it sent back memory the request never held, it is vulnerable to "
                                           f"Heartbleed (CVE-2014-0160){how}")


def _suite(suite: Any, out: _Out, etm: bool = False) -> None:
    name, cipher = suite.name, suite.cipher
    flagged = False
    if suite.export:
        out.add("high", "export_cipher_suite", f"{name} is an export suite ({suite.export_key_len * 8}-bit "
                                               "secret key): breakable (FREAK, Logjam)")
        flagged = True
    if cipher == "NULL":
        out.add("high", "null_cipher", f"{name} does not encrypt: the application data is in cleartext")
        flagged = True
    if suite.auth == "anon":
        out.add("high", "anonymous_key_exchange", f"{name} does not authenticate the server: anyone in the "
                                                  "path can intercept the session")
    if cipher.startswith("RC4"):
        out.add("high", "rc4_cipher", f"{name} uses RC4, prohibited by RFC 7465 (biased keystream)")
        flagged = True
    elif cipher.startswith(("DES", "RC2")) and not flagged:
        out.add("high", "weak_cipher", f"{name} uses {cipher}, breakable by exhaustive key search")
        flagged = True
    elif cipher.startswith("3DES") or cipher.startswith("IDEA"):
        out.add("medium", "triple_des_cipher" if cipher.startswith("3DES") else "weak_cipher",
                f"{name} uses {cipher}, a 64-bit block cipher (Sweet32, CVE-2016-2183)")
        flagged = True
    if suite.mode == "cbc" and suite.mac in ("SHA1", "MD5") and not flagged:
        how = "encrypt-then-MAC negotiated" if etm else "MAC-then-encrypt: padding-oracle prone"
        out.add("low", "cbc_sha1_suite", f"{name}: CBC with HMAC-{suite.mac} ({how}); prefer an AEAD suite")
    kx = _NO_FS_KX.get(suite.kx)
    if kx is not None:
        out.add("medium", "no_forward_secrecy", f"{kx} key exchange ({name}): whoever gets the server's "
                                                "long-term key can decrypt recorded traffic")


def _dh_group(server_kx: tuple, out: _Out) -> None:
    from dissector.errors import MalformedInput
    from dissector.tls.handshake import Context, parse_server_key_exchange

    body, ctx = server_kx
    try:
        bits = parse_server_key_exchange(body, ctx or Context()).get("dh_prime_bits")
    except MalformedInput:
        return
    if bits and bits < 2048:
        out.add("high" if bits < 1024 else "medium", "weak_dh_group",
                f"the server's DH group is {bits} bits (under 2048: Logjam-class precomputation)")


def _server_hello_facts(body: bytes) -> tuple[int, set[int]] | None:
    """(compression method, extension types) of a ServerHello body, None if it is malformed."""
    try:
        if body[0] == 0x7F and body[1] < 22:  # early TLS 1.3 drafts: no compression field
            return 0, set()
        pos = 35 + body[34] + 2
        compression = body[pos]
        pos += 1
        types: set[int] = set()
        n = len(body)
        if pos + 2 <= n:
            end = min(n, pos + 2 + ((body[pos] << 8) | body[pos + 1]))
            pos += 2
            while pos + 4 <= end:
                types.add((body[pos] << 8) | body[pos + 1])
                pos += 4 + ((body[pos + 2] << 8) | body[pos + 3])
        return compression, types
    except IndexError:
        return None


# --- certificates ----------------------------------------------------------------------------------------

def _cert_label(prefix: str, i: int, info: dict) -> str:
    side = "client" if prefix else "server"
    role = "certificate" if i == 0 else f"chain certificate {i + 1}"
    return f"{side} {role} {info.get('subject') or info.get('sha256', '')[:16]}"


def _certificates(section: dict, prefix: str, out: _Out) -> None:
    chain = section.get("chain") or []
    for i, info in enumerate(chain):
        label = _cert_label(prefix, i, info)
        validity = info.get("validity")
        if validity == "expired":
            out.add("high", prefix + "certificate_expired",
                    f"{label} expired on {(info.get('not_after') or '')[:10]}, {-info.get('days_left', 0)} days "
                    "before the capture")
        elif validity == "not-yet-valid":
            out.add("high", prefix + "certificate_not_yet_valid",
                    f"{label} is not valid before {(info.get('not_before') or '')[:10]} (after the capture)")
        elif validity == "valid" and i == 0 and info.get("days_left", 999) < EXPIRY_WARNING_DAYS:
            out.add("low", prefix + "certificate_expires_soon",
                    f"{label} expires on {(info.get('not_after') or '')[:10]}, {info.get('days_left')} days after "
                    "the capture")
        if info.get("weak_key"):
            size = info.get("key_size") or 0
            sev = "high" if (info.get("key_type") in ("RSA", "DSA") and size < 1024) or size < 160 else "medium"
            out.add(sev, prefix + "weak_certificate_key", f"{label} has a weak key: {info.get('key_type')} {size} bits")
        # the signature on a self-signed certificate (a root) is not what makes it trusted
        if info.get("weak_signature") and not (i > 0 and info.get("self_signed")):
            alg = info.get("signature_algorithm") or "?"
            sev = "medium" if "sha1" in alg.lower() else "high"
            out.add(sev, prefix + "weak_certificate_signature", f"{label} is signed with {alg} (collisions are "
                                                                "practical: forgeable)")
    if chain and chain[0].get("self_signed"):
        out.add("medium" if not prefix else "low", prefix + "self_signed_certificate",
                f"{_cert_label(prefix, 0, chain[0])} is self-signed: nothing vouches for it")
    if section.get("sni_match") is False:
        out.add("high", "certificate_name_mismatch", f"the server certificate is not valid for the SNI: "
                                                     f"{section.get('sni_match_detail', '')}")
    if section.get("chain_ordered") is False:
        out.add("low", prefix + "certificate_chain_order",
                f"the {'client' if prefix else 'server'} chain is out of order: {section.get('chain_issue', '')}")
    ver = section.get("verification")
    if ver and ver.get("status") == "failed":
        out.add("high", prefix + "certificate_untrusted",
                f"the {'client' if prefix else 'server'} chain does not verify: {ver.get('detail', '')}")


# --- HTTP --------------------------------------------------------------------------------------------------

def is_cleartext(doc: dict) -> bool:
    """Whether the session's application data crossed the network unencrypted: no TLS at all (a plain
    HTTP flow), or a NULL-encryption suite."""
    if doc.get("cleartext") is True:
        return True
    suite = SUITES_BY_NAME.get(doc.get("cipher_suite") or "")
    if suite is not None:
        return suite.cipher == "NULL"
    return doc.get("version") is None and (doc.get("decryption") or {}).get("status") == "not-encrypted"


def _names(values: list[str], limit: int = 8) -> str:
    uniq = list(dict.fromkeys(v for v in values if v))
    return ", ".join(uniq[:limit]) + (f" and {len(uniq) - limit} more" if len(uniq) > limit else "")


def _http(doc: dict, requests: list[dict], out: _Out) -> None:
    clear = is_cleartext(doc)
    where = "over cleartext HTTP" if clear else "over TLS"
    no_secure: list[str] = []
    no_httponly: list[str] = []
    set_clear: list[str] = []
    sent_clear: list[str] = []
    for r in requests:
        host = r.get("host") or doc.get("sni") or doc.get("server") or "?"
        for c in r.get("set_cookies") or ():
            name = c.get("name") or "?"
            if not c.get("value") or c.get("max_age") == 0:
                continue  # a cookie being deleted
            if clear:
                set_clear.append(name)
            if not c.get("secure"):
                no_secure.append(name)
            if not c.get("httponly"):
                no_httponly.append(name)
        if clear and r.get("cookies"):
            sent_clear += r["cookies"]
        auth = r.get("auth") or {}
        scheme = (auth.get("scheme") or "").lower()
        target = f"{r.get('method') or '?'} {host}{r.get('target') or ''}"[:200]
        if scheme == "basic":
            if clear:
                out.add("high", "basic_auth_cleartext", f"Basic credentials of user {auth.get('user')!r} sent in "
                                                        f"cleartext: {target}")
            else:
                out.add("info", "basic_auth", f"Basic authentication (user {auth.get('user')!r}): the password "
                                              f"travels with every request ({target})")
        elif scheme == "bearer" and clear:
            out.add("high", "bearer_token_cleartext", f"a Bearer token sent in cleartext: {target}")
        cred = r.get("credentials") or {}
        if clear and cred.get("password") not in (None, ""):
            out.add("high", "password_cleartext", f"a password (user {cred.get('user')!r}, {cred.get('source')}) "
                                                  f"sent in cleartext: {target}")
        if clear:
            oauth = r.get("oauth2") or {}
            leaked = [k for part in ("request", "response") for k in _SECRET_OAUTH2
                      if (oauth.get(part) or {}).get(k) not in (None, "")]
            if leaked:
                out.add("high", "oauth2_secret_cleartext", f"OAuth2 {', '.join(dict.fromkeys(leaked))} sent in "
                                                           f"cleartext: {target}")
    if set_clear:
        out.add("high", "cookie_set_cleartext", f"cookies set in cleartext (readable on the wire): {_names(set_clear)}")
    if sent_clear:
        out.add("medium", "cookie_sent_cleartext", f"cookies sent in cleartext: {_names(sent_clear)}")
    if no_secure:
        out.add("medium", "cookie_without_secure", f"cookies set {where} without the Secure attribute (a browser "
                                                   f"also sends them over plain HTTP): {_names(no_secure)}")
    if no_httponly:
        out.add("low", "cookie_without_httponly", f"cookies set {where} without HttpOnly (readable by scripts): "
                                                  f"{_names(no_httponly)}")
