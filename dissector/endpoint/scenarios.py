"""The named scenarios of `dissector generate`: what a TLSPair does, and the capture it becomes.

A scenario runs one or more connections between in-memory peers (`pair.TLSPair`), each carrying a small
HTTP/1.1 exchange, and `build()` turns them into a `Capture`: time-ordered frames (`synth`), the NSS key
log, the server key, and `expected`: what the peers really did (endpoints, version, IANA suite, app data
bytes and SHA-256 per direction), in the shape of the `dissector analyze --format json` sessions.

`UNSUPPORTED` names the scenarios that Python's ssl cannot produce, with the reason.
"""
from __future__ import annotations

import base64
import hashlib
import json
import ssl
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .pair import CLIENT, SERVER, ConnectionResult, PairOptions, TLSPair, Unsupported, make_self_signed
from .synth import Frame, merge, synthesize

__all__ = ["SCENARIOS", "UNSUPPORTED", "Scenario", "Capture", "build", "http_exchange", "iana_suite"]

Clock = Callable[[], float]
Exchange = list[tuple[str, bytes]]

# OpenSSL cipher name -> (IANA code point, IANA name), for the suites the scenarios can negotiate.
OPENSSL_TO_IANA: dict[str, tuple[int, str]] = {
    "DES-CBC3-SHA": (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    "AES128-SHA": (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    "DHE-RSA-AES128-SHA": (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    "AES256-SHA": (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    "DHE-RSA-AES256-SHA": (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    "AES128-SHA256": (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    "AES256-SHA256": (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    "DHE-RSA-AES128-SHA256": (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    "DHE-RSA-AES256-SHA256": (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    "AES128-GCM-SHA256": (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    "AES256-GCM-SHA384": (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    "DHE-RSA-AES128-GCM-SHA256": (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    "DHE-RSA-AES256-GCM-SHA384": (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    "TLS_AES_128_GCM_SHA256": (0x1301, "TLS_AES_128_GCM_SHA256"),
    "TLS_AES_256_GCM_SHA384": (0x1302, "TLS_AES_256_GCM_SHA384"),
    "TLS_CHACHA20_POLY1305_SHA256": (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    "TLS_AES_128_CCM_SHA256": (0x1304, "TLS_AES_128_CCM_SHA256"),
    "TLS_AES_128_CCM_8_SHA256": (0x1305, "TLS_AES_128_CCM_8_SHA256"),
    "ECDHE-ECDSA-AES128-SHA": (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    "ECDHE-ECDSA-AES256-SHA": (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    "ECDHE-RSA-AES128-SHA": (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    "ECDHE-RSA-AES256-SHA": (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    "ECDHE-ECDSA-AES128-SHA256": (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    "ECDHE-ECDSA-AES256-SHA384": (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    "ECDHE-RSA-AES128-SHA256": (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    "ECDHE-RSA-AES256-SHA384": (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    "ECDHE-ECDSA-AES128-GCM-SHA256": (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    "ECDHE-ECDSA-AES256-GCM-SHA384": (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    "ECDHE-RSA-AES128-GCM-SHA256": (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    "ECDHE-RSA-AES256-GCM-SHA384": (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    "ECDHE-RSA-CHACHA20-POLY1305": (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    "ECDHE-ECDSA-CHACHA20-POLY1305": (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    "DHE-RSA-CHACHA20-POLY1305": (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
}

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def iana_suite(openssl_name: str, code: int | None = None) -> tuple[int | None, str]:
    """(code point, IANA name) for an OpenSSL cipher name; checks it against `code` when given."""
    if openssl_name in OPENSSL_TO_IANA:
        value, name = OPENSSL_TO_IANA[openssl_name]
        if code is not None and code != value:
            raise ValueError(f"{openssl_name}: OpenSSL says 0x{code:04X}, the table says 0x{value:04X}")
        return value, name
    if code is not None:
        try:
            from dissector.tls.suites import SUITES  # the analyzer's table, when it exists
        except ImportError:
            SUITES = {}
        suite = SUITES.get(code)
        if suite is not None:
            return code, suite.name
        return code, f"unknown(0x{code:04X})"
    return None, f"unknown({openssl_name})"


def http_exchange(body: bytes, path: str = "/", status: str = "200 OK", content_type: str = "text/html; charset=utf-8",
                  host: str = "localhost") -> Exchange:
    """A GET request from the client and its response from the server."""
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dissector-generate/0.1\r\n"
               f"Accept: */*\r\n\r\n").encode()
    response = (f"HTTP/1.1 {status}\r\nServer: dissector-endpoint\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return [(CLIENT, request), (SERVER, response)]


def _page(title: str) -> bytes:
    return (f"<!doctype html>\n<html><head><title>{title}</title></head>\n"
            f"<body><h1>{title}</h1><p>Served by the dissector reference endpoint.</p></body></html>\n").encode()


@dataclass(slots=True)
class Connection:
    result: ConnectionResult
    closer: str = CLIENT


@dataclass(slots=True)
class Run:
    connections: list[Connection]
    server_key_pem: bytes


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    run: Callable[[Clock], Run]


# -- scenario bodies -----------------------------------------------------------------------------

def _single(options: PairOptions, title: str, key_update: str | None = None, exchange: Exchange | None = None):
    def run(clock: Clock) -> Run:
        with TLSPair(options, clock) as pair:
            result = pair.connect(exchange or http_exchange(_page(title)), key_update=key_update)
            return Run([Connection(result)], pair.server_key_pem)
    return run


def _resume(options: PairOptions, title: str):
    def run(clock: Clock) -> Run:
        with TLSPair(options, clock) as pair:
            first = pair.connect(http_exchange(_page(title + " (full handshake)")))
            second = pair.connect(http_exchange(_page(title + " (resumed)"), path="/again"), session=first.session)
            if not second.resumed:
                raise RuntimeError(f"{title}: the second connection did not resume the session")
            return Run([Connection(first), Connection(second)], pair.server_key_pem)
    return run


def _zero_rtt(clock: Clock) -> Run:
    with TLSPair(PairOptions(max_early_data=16384), clock) as pair:
        first = pair.connect(http_exchange(_page("tls13-0rtt (full handshake)")))
        (_, request), (_, response) = http_exchange(_page("tls13-0rtt (0-RTT request)"), path="/early")
        second = pair.connect([(SERVER, response)], session=first.session, early_data=request)
        if not (second.resumed and second.early_data_accepted):
            raise RuntimeError("tls13-0rtt: the server did not accept the early data")
        return Run([Connection(first), Connection(second)], pair.server_key_pem)


def _large(clock: Clock) -> Run:
    body = hashlib.shake_256(b"dissector large-transfer").digest(1 << 20)
    with TLSPair(PairOptions(), clock) as pair:
        result = pair.connect(http_exchange(body, path="/large.bin", content_type="application/octet-stream"))
        return Run([Connection(result)], pair.server_key_pem)


MANY_SESSIONS = 6


def _many(clock: Clock) -> Run:
    """Several sessions from one server key: TLS 1.3, TLS 1.2 ECDHE and TLS 1.2 RSA in turn."""
    cert, key = make_self_signed("rsa")
    variants = [
        PairOptions(),
        PairOptions(max_version="1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256"),
        PairOptions(max_version="1.2", ciphers="AES128-GCM-SHA256"),
    ]
    conns = []
    for i in range(MANY_SESSIONS):
        opts = variants[i % len(variants)]
        opts.server_cert_pem, opts.server_key_pem = cert, key
        with TLSPair(opts, clock) as pair:
            conns.append(Connection(pair.connect(http_exchange(_page(f"session {i + 1}"), path=f"/page/{i + 1}"))))
    return Run(conns, key)


def _http(clock: Clock) -> Run:
    exchange = http_exchange(_page("index")) + http_exchange(b"not found\n", path="/favicon.ico",
                                                             status="404 Not Found", content_type="text/plain")
    with TLSPair(PairOptions(alpn=["http/1.1"]), clock) as pair:
        return Run([Connection(pair.connect(exchange))], pair.server_key_pem)


def oauth2_exchange() -> Exchange:
    """A login, a Basic-auth request and an OAuth2 authorization-code flow, answered by the real web app.

    Requests are written here; each response is what `dissector serve`'s application answers (the
    authorization code and the tokens it issues are then used by the next request).
    """
    from urllib.parse import parse_qs, urlencode, urlsplit

    from dissector.endpoint.webapp import (
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_PASSWORD,
        DEMO_REDIRECT_URI,
        DEMO_USER,
        WebApp,
    )

    conn = WebApp().connection()
    out: list[tuple[str, bytes]] = []

    def ask(method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes = b"") -> bytes:
        lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "User-Agent: dissector-generate/0.1"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body:
            lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        response = conn.receive(request)
        out.extend([(CLIENT, request), (SERVER, response)])
        return response

    def header(response: bytes, name: str) -> str:
        for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
            k, _, v = line.decode("latin-1").partition(":")
            if k.strip().lower() == name:
                return v.strip()
        raise RuntimeError(f"oauth2: no {name} header in the response")

    login = urlencode({"user": DEMO_USER, "password": DEMO_PASSWORD}).encode()
    cookie = header(ask("POST", "/login", body=login), "set-cookie").split(";", 1)[0]
    basic = base64.b64encode(f"{DEMO_USER}:{DEMO_PASSWORD}".encode()).decode()
    ask("GET", "/basic", [("Authorization", f"Basic {basic}")])
    state = "af0ifjsldkj"
    query = urlencode({"response_type": "code", "client_id": DEMO_CLIENT_ID, "redirect_uri": DEMO_REDIRECT_URI,
                       "scope": "profile", "state": state})
    location = header(ask("GET", f"/authorize?{query}", [("Cookie", cookie)]), "location")
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_REDIRECT_URI,
                      "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}).encode()
    tokens = ask("POST", "/token", body=form)
    access = json.loads(tokens.split(b"\r\n\r\n", 1)[1])["access_token"]
    ask("GET", "/resource", [("Authorization", f"Bearer {access}")])
    return out


def _oauth2(clock: Clock) -> Run:
    with TLSPair(PairOptions(alpn=["http/1.1"]), clock) as pair:
        return Run([Connection(pair.connect(oauth2_exchange()))], pair.server_key_pem)


def _hrr(clock: Clock) -> Run:
    # OpenSSL clients key-share only their first group (X25519); a server limited to P-256 must send a
    # HelloRetryRequest. Python has no set_groups, but set_ecdh_curve() sets a one-group list on OpenSSL 3.
    run = _single(PairOptions(server_groups="prime256v1"), "tls13-hrr")(clock)
    if not _has_hrr(run.connections[0].result):
        raise RuntimeError("tls13-hrr: the server did not send a HelloRetryRequest")
    return run


def _has_hrr(result: ConnectionResult) -> bool:
    first = next((c.data for c in result.chunks if c.sender == SERVER), b"")
    # record header (5) + handshake header (4) + legacy_version (2), then the random
    return len(first) >= 43 and first[0] == 22 and first[5] == 2 and first[11:43] == HRR_RANDOM


_T12 = dict(max_version="1.2")

SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("tls12-rsa-aes128-cbc", "TLS 1.2, RSA key exchange, AES128-SHA (Encrypt-then-MAC): the server key alone decrypts it",
             _single(PairOptions(**_T12, ciphers="AES128-SHA"), "tls12-rsa-aes128-cbc")),
    Scenario("tls12-rsa-aes256-gcm", "TLS 1.2, RSA key exchange, AES256-GCM-SHA384",
             _single(PairOptions(**_T12, ciphers="AES256-GCM-SHA384"), "tls12-rsa-aes256-gcm")),
    Scenario("tls12-rsa-cbc-no-etm", "TLS 1.2, RSA key exchange, AES128-SHA with MAC-then-encrypt (SSL_OP_NO_ENCRYPT_THEN_MAC)",
             _single(PairOptions(**_T12, ciphers="AES128-SHA", no_encrypt_then_mac=True), "tls12-rsa-cbc-no-etm")),
    Scenario("tls12-ecdhe-rsa-aes128-gcm", "TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256: needs the key log",
             _single(PairOptions(**_T12, ciphers="ECDHE-RSA-AES128-GCM-SHA256"), "tls12-ecdhe-rsa-aes128-gcm")),
    Scenario("tls12-ecdhe-ecdsa-chacha20", "TLS 1.2, ECDHE-ECDSA-CHACHA20-POLY1305 with a P-256 certificate",
             _single(PairOptions(**_T12, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305", cert_type="ecdsa"),
                     "tls12-ecdhe-ecdsa-chacha20")),
    Scenario("tls12-dhe-rsa-aes256-cbc-sha256", "TLS 1.2, DHE-RSA-AES256-SHA256 (ffdhe2048)",
             _single(PairOptions(**_T12, ciphers="DHE-RSA-AES256-SHA256"), "tls12-dhe-rsa-aes256-cbc-sha256")),
    Scenario("tls10-rsa-aes128-cbc", "TLS 1.0, RSA key exchange, AES128-SHA (implicit CBC IVs)",
             _single(PairOptions(min_version="1.0", max_version="1.0", ciphers="AES128-SHA:@SECLEVEL=0"),
                     "tls10-rsa-aes128-cbc")),
    Scenario("tls11-ecdhe-rsa-aes256-cbc", "TLS 1.1, ECDHE-RSA-AES256-SHA (explicit CBC IVs)",
             _single(PairOptions(min_version="1.1", max_version="1.1", ciphers="ECDHE-RSA-AES256-SHA:@SECLEVEL=0"),
                     "tls11-ecdhe-rsa-aes256-cbc")),
    Scenario("tls12-resume-id", "TLS 1.2, two connections: the second resumes by session ID (no tickets)",
             _resume(PairOptions(**_T12, ciphers="ECDHE-RSA-AES128-GCM-SHA256", no_ticket=True), "tls12-resume-id")),
    Scenario("tls12-resume-ticket", "TLS 1.2, two connections: the second resumes with a session ticket",
             _resume(PairOptions(**_T12, ciphers="ECDHE-RSA-AES128-GCM-SHA256"), "tls12-resume-ticket")),
    Scenario("tls12-mtls", "TLS 1.2 with a client certificate (ECDSA P-256): CertificateRequest, Certificate, CertificateVerify",
             _single(PairOptions(**_T12, ciphers="ECDHE-RSA-AES128-GCM-SHA256", client_cert=True), "tls12-mtls")),
    Scenario("tls12-rsa-mtls", "TLS 1.2, RSA key exchange with a client certificate and the extended master secret "
                               "(its session hash stops at the ClientKeyExchange, before the CertificateVerify): the "
                               "server key alone decrypts it",
             _single(PairOptions(**_T12, ciphers="AES128-GCM-SHA256", client_cert=True), "tls12-rsa-mtls")),
    Scenario("tls13-aes128-gcm", "TLS 1.3, TLS_AES_128_GCM_SHA256 (suite chosen through the libssl bridge)",
             _single(PairOptions(tls13_ciphersuites="TLS_AES_128_GCM_SHA256"), "tls13-aes128-gcm")),
    Scenario("tls13-aes256-gcm", "TLS 1.3 with OpenSSL's defaults: TLS_AES_256_GCM_SHA384, X25519",
             _single(PairOptions(), "tls13-aes256-gcm")),
    Scenario("tls13-chacha20", "TLS 1.3, TLS_CHACHA20_POLY1305_SHA256 (suite chosen through the libssl bridge)",
             _single(PairOptions(tls13_ciphersuites="TLS_CHACHA20_POLY1305_SHA256"), "tls13-chacha20")),
    Scenario("tls13-mtls", "TLS 1.3 with a client certificate", _single(PairOptions(client_cert=True), "tls13-mtls")),
    Scenario("tls13-hrr", "TLS 1.3 HelloRetryRequest: client key-shares X25519, the server accepts only P-256", _hrr),
    Scenario("tls13-resume", "TLS 1.3, two connections: the second resumes with a PSK from a NewSessionTicket (psk_dhe_ke)",
             _resume(PairOptions(), "tls13-resume")),
    Scenario("tls13-keyupdate", "TLS 1.3: the client sends KeyUpdate(update_requested) before its request, the server answers with its own",
             _single(PairOptions(), "tls13-keyupdate", key_update=CLIENT)),
    Scenario("tls13-0rtt", "TLS 1.3, two connections: the second resumes and sends its request as 0-RTT early data "
             "(EndOfEarlyData; through the libssl bridge)", _zero_rtt),
    Scenario("large-transfer", "TLS 1.3, a 1 MiB HTTP response (many full-size records and TCP segments)", _large),
    Scenario("many-sessions", f"{MANY_SESSIONS} sessions in one capture, one server key: TLS 1.3, TLS 1.2 ECDHE and TLS 1.2 RSA in turn",
             _many),
    Scenario("http", "TLS 1.3 with ALPN http/1.1: two requests on one keep-alive connection (200 and 404)", _http),
    Scenario("oauth2", "TLS 1.3, one keep-alive connection to the serve web app: login cookie, Basic auth and an "
                       "OAuth2 authorization-code flow (authorize, token, Bearer resource)", _oauth2),
]}

UNSUPPORTED: dict[str, str] = {
    "ssl3": "this OpenSSL is built without SSLv3 (ssl.HAS_SSLv3 is False; asking for it gives "
            "NO_PROTOCOLS_AVAILABLE) and Python 3.11 has no PROTOCOL_SSLv3",
}


# -- build ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Capture:
    name: str
    frames: list[Frame]
    keylog: str
    server_key_pem: bytes
    expected: dict


def client_ports(name: str, count: int) -> list[int]:
    """Deterministic, ephemeral-range client ports for a scenario's connections."""
    base = 32768 + zlib.crc32(name.encode()) % 20000
    return [base + 7 * i for i in range(count)]


def _digest(data: bytes) -> dict:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def build(scenario: Scenario | str, mss: int = 1460, clock: Clock = time.time, ipv6: bool = False,
          server_port: int = 443) -> Capture:
    """Run a scenario and frame it. Raises `Unsupported` for the names in UNSUPPORTED."""
    if isinstance(scenario, str):
        if scenario in UNSUPPORTED:
            raise Unsupported(f"{scenario}: {UNSUPPORTED[scenario]}")
        scenario = SCENARIOS[scenario]
    run = scenario.run(clock)
    client_ip, server_ip = ("::1", "::1") if ipv6 else ("127.0.0.1", "127.0.0.1")
    ports = client_ports(scenario.name, len(run.connections))
    streams: list[list[Frame]] = []
    sessions = []
    keylog = []
    for conn, port in zip(run.connections, ports):
        r = conn.result
        streams.append(synthesize(r.chunks, client_ip=client_ip, server_ip=server_ip, client_port=port,
                                  server_port=server_port, mss=mss, closer=conn.closer))
        keylog.append(r.keylog)
        code, iana = iana_suite(r.cipher, r.cipher_id)
        fmt = "[{}]:{}" if ipv6 else "{}:{}"
        sessions.append({
            "client": fmt.format(client_ip, port),
            "server": fmt.format(server_ip, server_port),
            "version": r.version_name,
            "cipher_suite": iana,
            "cipher_suite_id": f"0x{code:04X}" if code is not None else None,
            "openssl_cipher": r.cipher,
            "sni": r.sni,
            "alpn": r.alpn,
            "resumed": r.resumed,
            "hello_retry_request": _has_hrr(r),
            "client_certificate": r.client_cert,
            "key_updates": r.key_updates,
            "early_data": _digest(r.early_data) if r.early_data else None,
            "early_data_accepted": r.early_data_accepted,
            "start": r.chunks[0].time if r.chunks else None,
            "app_data": {"client": _digest(r.client_sent), "server": _digest(r.server_sent)},
        })
    expected = {
        "scenario": scenario.name,
        "summary": scenario.summary,
        "generator": {"python": sys.version.split()[0], "openssl": ssl.OPENSSL_VERSION, "mss": mss},
        "sessions": sessions,
    }
    frames = merge(*streams) if len(streams) > 1 else streams[0]
    return Capture(scenario.name, frames, _merge_keylogs(keylog), run.server_key_pem, expected)


def _merge_keylogs(parts: list[str]) -> str:
    """One NSS key log: a single comment header, then every secret line in connection order."""
    lines = [line for part in parts for line in part.splitlines() if line.strip() and not line.startswith("#")]
    return "# TLS secrets log file, generated by OpenSSL / Python (dissector generate)\n" + "".join(
        line + "\n" for line in lines)


def names(include_unsupported: bool = False) -> Sequence[str]:
    out = list(SCENARIOS)
    if include_unsupported:
        out += list(UNSUPPORTED)
    return out
