"""TLS fingerprints of the hello messages: JA3, JA3S and JA4 (the BSD-licensed TLS client fingerprint).

Pure functions over the raw handshake message bodies (without the 4-byte handshake header). The bodies
that `connection.py` hands out are complete messages, reassembled across records and TCP segments, so a
hello split over several packets is fingerprinted on all of its bytes, never on a first fragment.

JA3 / JA3S (salesforce/ja3, BSD 3-Clause): decimal values, "-" between values, "," between fields, MD5.
    JA3  = SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats  (GREASE removed)
    JA3S = SSLVersion,Cipher,Extensions
The version is the hello's own (legacy) version field; empty fields stay empty ("769,4-5,,,").

JA4 (FoxIO-LLC/ja4 technical_details/JA4.md, BSD 3-Clause; JA4S and the rest of JA4+ are under the FoxIO
License and are deliberately not implemented here):
    t13d1516h2_8daaf6152771_e5627efa2ab1
    a: protocol ("t": TLS over TCP), version (highest non-GREASE supported_versions entry, else the hello
       version: 13 12 11 10 s3 s2 s1, DTLS d1 d2 d3, unknown 00), "d" if the SNI extension is present else
       "i", cipher count and extension count (GREASE ignored, SNI and ALPN counted, capped at 99), first and
       last character of the first ALPN value ("00" without one; hex digits when either end byte is not
       alphanumeric)
    b: first 12 hex digits of SHA-256 of the sorted 4-hex-digit cipher list ("000000000000" if empty)
    c: the same over the sorted extension list without SNI (0000) and ALPN (0010), then "_" and the
       signature algorithms in wire order (no "_" when there are none); GREASE is ignored everywhere,
       signature algorithms included ("000000000000" if the extension list is empty)

An SSLv2-format ClientHello has no extensions and 3-byte cipher specs: none of these fingerprints is
defined for it (tshark leaves its ja3 empty too), so the functions return None for it.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from struct import pack, unpack_from

__all__ = ["GREASE", "ClientHelloFields", "client_hello_fields", "client_hello_key", "ja3", "ja3s", "ja4",
           "ja4_raw", "session_fingerprints"]

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))  # RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa

JA4_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
    0x0200: "s2", 0x0002: "s2", 0x0100: "s1",  # the spec has listed SSL 2.0 as both 0x0002 and 0x0200
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}
_EMPTY12 = "000000000000"


class ClientHelloFields:
    """What the fingerprints need from a ClientHello, GREASE still included (wire order)."""

    __slots__ = ("version", "ciphers", "extensions", "groups", "point_formats", "sig_algs", "versions", "alpn")

    def __init__(self) -> None:
        self.version = 0
        self.ciphers: tuple[int, ...] = ()
        self.extensions: list[int] = []
        self.groups: tuple[int, ...] = ()
        self.point_formats: bytes = b""
        self.sig_algs: tuple[int, ...] = ()
        self.versions: tuple[int, ...] | None = None  # supported_versions, None when the extension is absent
        self.alpn: bytes | None = None  # the first ALPN protocol, None without the extension


def _u16_list(data: bytes, start: int, length: int) -> tuple[int, ...]:
    length = min(length, len(data) - start)
    return unpack_from(f">{length >> 1}H", data, start) if length > 1 else ()


def client_hello_fields(body: bytes) -> ClientHelloFields:
    """Parse the parts of a ClientHello body the fingerprints use; ValueError if it is malformed."""
    return _fields_of(client_hello_key(body))


_KEYED_EXTENSIONS = frozenset((10, 11, 13, 16, 43))


def client_hello_key(body: bytes) -> tuple:
    """The raw bytes every fingerprint of this ClientHello depends on, and nothing else (no random, session
    id, key shares or SNI value): (version, cipher vector, extension types, supported_groups data,
    ec_point_formats data, signature_algorithms data, supported_versions data or None, ALPN data or None).
    Hellos of one client program share it, so it keys a cache of computed fingerprints."""
    try:
        n = len(body)
        version = (body[0] << 8) | body[1]
        pos = 35 + body[34]  # version(2) random(32) session_id<0..32>
        clen = (body[pos] << 8) | body[pos + 1]
        pos += 2
        if clen & 1 or pos + clen > n:
            raise ValueError("bad cipher_suites length")
        ciphers = body[pos:pos + clen]
        pos += clen
        pos += 1 + body[pos]  # compression_methods
    except IndexError:
        raise ValueError("truncated ClientHello") from None
    if pos > n:
        raise ValueError("truncated ClientHello")
    types: list[int] = []
    groups = formats = sigs = b""
    versions = alpn = None
    if pos + 2 <= n:  # else no extensions block (SSL 3.0 / old TLS clients)
        end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
        if end > n:
            raise ValueError("bad extensions length")
        pos += 2
        keyed = _KEYED_EXTENSIONS
        while pos + 4 <= end:
            etype = (body[pos] << 8) | body[pos + 1]
            d = pos + 4
            pos = d + ((body[pos + 2] << 8) | body[pos + 3])
            if pos > end:
                raise ValueError(f"extension {etype} overruns the extensions block")
            types.append(etype)
            if etype in keyed:
                if etype == 10:
                    groups = body[d:pos]
                elif etype == 11:
                    formats = body[d:pos]
                elif etype == 13:
                    sigs = body[d:pos]
                elif etype == 43:
                    versions = body[d:pos]
                elif alpn is None:
                    alpn = body[d:pos]
    return version, ciphers, tuple(types), groups, formats, sigs, versions, alpn


def _fields_of(key: tuple) -> ClientHelloFields:
    version, ciphers, types, groups, formats, sigs, versions, alpn = key
    f = ClientHelloFields()
    f.version = version
    f.ciphers = _u16_list(ciphers, 0, len(ciphers))
    f.extensions = list(types)
    if groups:
        f.groups = _u16_list(groups, 2, (groups[0] << 8) | groups[1] if len(groups) > 1 else 0)
    if formats:
        f.point_formats = formats[1:1 + formats[0]]
    if sigs:
        f.sig_algs = _u16_list(sigs, 2, (sigs[0] << 8) | sigs[1] if len(sigs) > 1 else 0)
    if versions is not None:  # client form: a 1-byte length, then versions
        f.versions = _u16_list(versions, 1, versions[0]) if versions else ()
    if alpn is not None:  # ALPN: list length(2), then length(1)-prefixed names: keep the first name
        f.alpn = alpn[3:3 + alpn[2]] if len(alpn) > 2 else b""
    return f


def _dash(values) -> str:
    return "-".join(map(str, values))


def _no_grease(values):
    return values if GREASE.isdisjoint(values) else [v for v in values if v not in GREASE]


def _hex_list(values) -> str:
    """4-hex-digit values joined by commas ("002f,0035"), built in C by bytes.hex."""
    return pack(f">{len(values)}H", *values).hex(",", 2)


def ja3(body: bytes, fields: ClientHelloFields | None = None) -> tuple[str, str] | None:
    """(JA3 string, its MD5) of a ClientHello body; None if the body is not a parsable ClientHello."""
    if fields is None:
        try:
            fields = client_hello_fields(body)
        except ValueError:
            return None
    text = (f"{fields.version},{_dash(_no_grease(fields.ciphers))},{_dash(_no_grease(fields.extensions))},"
            f"{_dash(_no_grease(fields.groups))},{_dash(fields.point_formats)}")
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ja3s(body: bytes) -> tuple[str, str] | None:
    """(JA3S string, its MD5) of a ServerHello body (a HelloRetryRequest is one too); None if malformed.

    Extensions are listed as sent: the JA3S reference (salesforce ja3s.py) does not remove GREASE on
    the server side (a server never sends it)."""
    try:
        version = (body[0] << 8) | body[1]
        old_draft = body[0] == 0x7F and body[1] < 22  # TLS 1.3 drafts < 22: no session_id, no compression
        pos = 34 if old_draft else 35 + body[34]
        suite = (body[pos] << 8) | body[pos + 1]
        pos += 2 if old_draft else 3
        n = len(body)
        if pos > n:
            return None
        exts = []
        if pos + 2 <= n:
            end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
            if end > n:
                return None
            pos += 2
            while pos + 4 <= end:
                exts.append((body[pos] << 8) | body[pos + 1])
                pos += 4 + ((body[pos + 2] << 8) | body[pos + 3])
            if pos > end:
                return None
    except IndexError:
        return None
    return _ja3s_of(version, suite, tuple(exts))


@lru_cache(maxsize=1024)
def _ja3s_of(version: int, suite: int, exts: tuple[int, ...]) -> tuple[str, str]:
    """JA3S text and MD5 (one server program answers with a handful of shapes: computed once each)."""
    text = f"{version},{suite},{_dash(exts)}"
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _alpn_chars(alpn: bytes | None) -> str:
    if not alpn:
        return "00"
    first, last = alpn[0], alpn[-1]
    if _alnum(first) and _alnum(last):
        return chr(first) + chr(last)
    h = alpn.hex()  # a non-alphanumeric end: first and last hex digit of the whole value
    return h[0] + h[-1]


def _alnum(b: int) -> bool:
    return 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def _ja4_parts(fields: ClientHelloFields, protocol: str) -> tuple[str, str, str]:
    version = fields.version
    if fields.versions is not None:
        offered = _no_grease(fields.versions)
        if offered:  # the highest: DTLS numbers its versions downwards (1.2 is 0xfefd, 1.3 0xfefc)
            dtls = [v for v in offered if v >> 8 == 0xFE]
            version = min(dtls) if dtls else max(offered)
    exts = _no_grease(fields.extensions)
    ciphers = _no_grease(fields.ciphers)
    a = (f"{protocol}{JA4_VERSIONS.get(version, '00')}{'d' if 0 in exts else 'i'}"
         f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{_alpn_chars(fields.alpn)}")
    c = _hex_list(sorted(e for e in exts if e != 0 and e != 16))
    sigs = _no_grease(fields.sig_algs)
    if sigs:
        c = f"{c}_{_hex_list(sigs)}"
    return a, _hex_list(sorted(ciphers)), c


def ja4(body: bytes, protocol: str = "t", fields: ClientHelloFields | None = None) -> str | None:
    """The JA4 fingerprint of a ClientHello body (`protocol` "t": TLS over TCP); None if malformed."""
    if fields is None:
        try:
            fields = client_hello_fields(body)
        except ValueError:
            return None
    a, b, c = _ja4_parts(fields, protocol)
    hb = hashlib.sha256(b.encode()).hexdigest()[:12] if b else _EMPTY12
    hc = hashlib.sha256(c.encode()).hexdigest()[:12] if c and not c.startswith("_") else _EMPTY12
    return f"{a}_{hb}_{hc}"


def ja4_raw(body: bytes, protocol: str = "t", fields: ClientHelloFields | None = None) -> str | None:
    """JA4_r: the JA4 fingerprint before hashing (sorted lists), for explaining a JA4 value."""
    if fields is None:
        try:
            fields = client_hello_fields(body)
        except ValueError:
            return None
    a, b, c = _ja4_parts(fields, protocol)
    return f"{a}_{b}_{c}"


_CLIENT_CACHE: dict[tuple, tuple[str, str, str, str]] = {}  # client_hello_key -> (ja3, ja3 MD5, ja4, ja4_r)
_CACHE_MAX = 4096


def _client_fingerprints(body: bytes, protocol: str = "t") -> tuple[str, str, str, str] | None:
    try:
        key = client_hello_key(body)
    except ValueError:
        return None
    if protocol != "t":
        key = (protocol, key)
    hit = _CLIENT_CACHE.get(key)
    if hit is not None:
        return hit
    fields = _fields_of(key if protocol == "t" else key[1])
    j3, j3h = ja3(body, fields)  # type: ignore[misc]
    a, b, c = _ja4_parts(fields, protocol)
    hb = hashlib.sha256(b.encode()).hexdigest()[:12] if b else _EMPTY12
    hc = hashlib.sha256(c.encode()).hexdigest()[:12] if c and not c.startswith("_") else _EMPTY12
    result = (j3, j3h, f"{a}_{hb}_{hc}", f"{a}_{b}_{c}")
    if len(_CLIENT_CACHE) >= _CACHE_MAX:
        _CLIENT_CACHE.clear()
    _CLIENT_CACHE[key] = result
    return result


def session_fingerprints(client_hello: bytes | None, server_hello: bytes | None,
                         protocol: str = "t") -> dict[str, str | None]:
    """The session document's "fingerprints" section from the first ClientHello and ServerHello bodies
    (in TLS's shape: a DTLS ClientHello without its cookie; `protocol` is JA4's "t" for TCP, "d" for DTLS).

    Fingerprints are cached by `client_hello_key`: the sessions of one client program cost one parse each."""
    out: dict[str, str | None] = {"ja3": None, "ja3_hash": None, "ja3s": None, "ja3s_hash": None, "ja4": None,
                                  "ja4_r": None}
    if client_hello:
        r = _client_fingerprints(client_hello, protocol)
        if r is not None:
            out["ja3"], out["ja3_hash"], out["ja4"], out["ja4_r"] = r
    if server_hello:
        r2 = ja3s(server_hello)
        if r2 is not None:
            out["ja3s"], out["ja3s_hash"] = r2
    return out
