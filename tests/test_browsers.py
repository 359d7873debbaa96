"""Real browsers: headless Chromium 156 (BoringSSL) and Firefox ESR 153 (NSS) loading one page with its
subresources (samples/real/*-h2 from nginx over HTTP/2, *-tlslite-* from tlslite-ng over HTTP/1.1 with a
compressed certificate), decrypted with each browser's own key log (SSLKEYLOGFILE). Made by
samples/real/make_nginx_captures.sh; tests/test_real_peers.py also checks their handshake messages and
decrypted bytes against tshark.

The page: GET /, /style.css, /logo.svg, /app.js, whose synchronous requests POST /login (Set-Cookie
session), POST /token (an OAuth2 token request with a client secret; the JSON answer comes compressed with
gzip, br, zstd or deflate) and GET /api/me with a Bearer token and the cookie.
"""
from __future__ import annotations

import functools
import hashlib
import ssl
import subprocess
import zlib

import pytest

from dissector.errors import MalformedInput
from dissector.tls.extensions import _relative_oid
from dissector.tls.handshake import CertificateDecompressionError, decompress_certificate, details
from tests.conftest import SAMPLES, analyze, needs_tshark

REAL = SAMPLES / "real"
# capture -> (browser, ALPN, certificate compression used by the server, the token response's Content-Encoding)
CAPTURES = {
    "chromium-h2": ("chromium", "h2", None, "gzip"),
    "firefox-h2": ("firefox", "h2", None, "gzip"),
    "chromium-tlslite-brotli": ("chromium", "http/1.1", "brotli", "br"),
    "firefox-tlslite-zstd": ("firefox", "http/1.1", "zstd", "zstd"),
    "firefox-tlslite-zlib": ("firefox", "http/1.1", "zlib", "deflate"),
}
COMPRESSED = [n for n, (_, _, alg, _) in CAPTURES.items() if alg]
TOKEN = "2YotnFZFEjr1zCsicMWpAA"
REFRESH = "tGzv3JOkF0XG5Qx2TlKWIA"
CLIENT_SECRET = "7Fjfp0ZBr1KtDRbnfVdmIw"
SERVER_DER = ssl.PEM_cert_to_DER_cert((REAL / "browser-server.crt.pem").read_text())


@functools.cache
def sessions(name: str, show_secrets: bool = False) -> tuple[dict, ...]:
    if show_secrets:
        from dissector.analysis import run_captures
        from dissector.keys import build_keystore
        from dissector.plugins import load_plugins

        out: list[dict] = []
        run_captures([str(REAL / f"{name}.pcap")], build_keystore([str(REAL / f"{name}.keys")], [], []),
                     on_session=out.append, plugins=load_plugins(), show_secrets=True)
        return tuple(out)
    return tuple(analyze([REAL / f"{name}.pcap"], keylogs=[REAL / f"{name}.keys"], plugins=True))


def requests(name: str, show_secrets: bool = False) -> list[dict]:
    reqs = [r for s in sessions(name, show_secrets) for r in (s.get("http") or {}).get("requests", [])]
    return sorted(reqs, key=lambda r: r["time"])


def client_hellos(name: str) -> list[dict]:
    return [m for s in sessions(name) for m in s["messages"] if m["type"] == "ClientHello"]


def extension(hello: dict, name: str) -> dict:
    found = [e for e in hello["extensions"] if e["name"] == name]
    assert len(found) == 1, (name, [e["name"] for e in hello["extensions"]])
    return found[0]


@pytest.mark.parametrize("name", CAPTURES)
def test_every_session_decrypts_with_the_browsers_key_log(name):
    ss = sessions(name)
    assert ss
    for s in ss:
        assert s["decryption"]["status"] == "decrypted", (s["id"], s["decryption"])
        assert s["version"] == "TLS 1.3"
        assert s["sni"] == "browser.example.test"
        assert s["alpn"] == CAPTURES[name][1]
        finished = [m for m in s["messages"] if m["type"] == "Finished"]
        assert {m["from"] for m in finished} == {"client", "server"}


@pytest.mark.parametrize("name", CAPTURES)
def test_the_page_and_its_subresources_are_requested_in_order(name):
    reqs = requests(name)
    seen = [(r["method"], r["target"]) for r in reqs]
    for wanted in [("GET", "/"), ("GET", "/style.css"), ("GET", "/logo.svg"), ("GET", "/app.js"),
                   ("POST", "/login"), ("POST", "/token"), ("GET", "/api/me")]:
        assert wanted in seen, (wanted, seen)
    # the script's requests are synchronous: each answer comes before the next request is sent
    assert seen.index(("POST", "/login")) < seen.index(("POST", "/token")) < seen.index(("GET", "/api/me"))
    # everything is served (or revalidated); a browser's own /favicon.ico request finds nothing
    assert all(r["status"] in (200, 304) or (r["target"], r["status"]) == ("/favicon.ico", 404) for r in reqs), \
        [(r["target"], r["status"]) for r in reqs]
    assert {r["version"] for r in reqs} == {"HTTP/2" if CAPTURES[name][1] == "h2" else "HTTP/1.1"}


@pytest.mark.parametrize("name", CAPTURES)
def test_cookie_and_bearer_token_are_found_and_redacted(name):
    login = next(r for r in requests(name) if r["target"] == "/login")
    api = next(r for r in requests(name) if r["target"] == "/api/me")
    assert [c["name"] for c in login["set_cookies"]] == ["session"]
    assert login["set_cookies"][0]["value"] != "abc123"
    assert "session" in api["cookies"]
    assert api["auth"]["scheme"] == "Bearer" and TOKEN not in str(api["auth"])
    shown = next(r for r in requests(name, show_secrets=True) if r["target"] == "/api/me")
    assert shown["auth"]["token"] == TOKEN


@pytest.mark.parametrize("name", CAPTURES)
def test_a_compressed_token_response_is_read_and_its_tokens_redacted(name):
    token = next(r for r in requests(name) if r["target"] == "/token")
    encodings = [v for k, v in token["response_headers"] if k.lower() == "content-encoding"]
    assert encodings == [CAPTURES[name][3]]
    assert token["oauth2_step"] == "token_request"
    assert token["oauth2_response_step"] == "token_response"  # read from the decompressed JSON body
    response = token["oauth2"]["response"]
    assert response["token_type"] == "Bearer" and response["expires_in"] == 3600
    text = str(token)
    assert TOKEN not in text and REFRESH not in text and CLIENT_SECRET not in text
    shown = next(r for r in requests(name, show_secrets=True) if r["target"] == "/token")
    assert shown["oauth2"]["response"]["access_token"] == TOKEN
    assert shown["oauth2"]["response"]["refresh_token"] == REFRESH
    # the token request and the API call that uses the token are linked into one OAuth2 flow
    api = next(r for r in requests(name) if r["target"] == "/api/me")
    assert api["oauth2"]["flow"] == token["oauth2"]["flow"]


@pytest.mark.parametrize("name", CAPTURES)
def test_the_server_certificate_is_the_one_the_server_was_given(name):
    full = [s for s in sessions(name) if not s["resumed"]]
    assert full
    for s in full:
        chain = s["certificates"]["server"]["chain"]
        assert chain[0]["sha256"] == hashlib.sha256(SERVER_DER).hexdigest()
        assert chain[0]["issuer"] == "CN=dissector test CA"


@pytest.mark.parametrize("name", COMPRESSED)
def test_compressed_certificate_is_expanded(name):
    algorithm = CAPTURES[name][2]
    msgs = [m for s in sessions(name) for m in s["messages"] if m["type"] == "CompressedCertificate"]
    assert msgs and not [m for s in sessions(name) for m in s["messages"] if m["type"] == "Certificate"]
    for m in msgs:
        assert m["from"] == "server" and m["encrypted"]
        assert m["algorithm"] == algorithm
        assert m["compressed_length"] < m["uncompressed_length"]
        # a TLS 1.3 Certificate body with one entry: context (1), list (3), entry (3 + DER + 2)
        assert m["uncompressed_length"] == 1 + 3 + 3 + len(SERVER_DER) + 2
        assert [c["subject"] for c in m["certificates"]] == ["CN=browser.example.test"]


@needs_tshark
@pytest.mark.parametrize("name", COMPRESSED)
def test_compressed_certificate_matches_tshark(name):
    out = subprocess.run(["tshark", "-r", str(REAL / f"{name}.pcap"), "-o", f"tls.keylog_file:{REAL / f'{name}.keys'}",
                          "-Y", "tls.handshake.type==25", "-T", "fields", "-e", "tls.compress_certificate.algorithm",
                          "-e", "tls.compress_certificate.uncompressed_length", "-e", "x509sat.uTF8String"],
                         capture_output=True, text=True, check=True).stdout
    theirs = [line.split("\t") for line in out.splitlines() if line]
    ours = [m for s in sorted(sessions(name), key=lambda s: s["id"]) for m in s["messages"]
            if m["type"] == "CompressedCertificate"]
    ids = {"zlib": "1", "brotli": "2", "zstd": "3"}
    assert [[ids[m["algorithm"]], str(m["uncompressed_length"])] for m in ours] == [t[:2] for t in theirs]
    for m, t in zip(ours, theirs):
        if t[2]:  # tshark 4.0 expands brotli only; where it did, it read the same names
            assert "browser.example.test" in t[2].split(",")
            assert m["certificates"][0]["subject"] == "CN=browser.example.test"


def test_chromium_client_hello():
    for hello in client_hellos("chromium-h2"):
        assert hello["cipher_suites"][0].startswith("GREASE")
        assert hello["supported_versions"][0].startswith("GREASE")
        shares = extension(hello, "key_share")["shares"]
        assert {"group": "X25519MLKEM768", "key_exchange_length": 1216} in shares
        assert {"group": "x25519", "key_exchange_length": 32} in shares
        ech = extension(hello, "encrypted_client_hello")
        assert ech["ech_type"] == "outer" and ech["kdf"].startswith("HKDF-") and ech["enc_length"] == 32
        assert ech["payload_length"] > 100
        anchors = extension(hello, "trust_anchors")["trust_anchors"]
        assert anchors and all(a.replace(".", "").isdigit() for a in anchors)
        assert extension(hello, "application_settings")["protocols"] == ["h2"]
        assert extension(hello, "compress_certificate")["algorithms"] == ["brotli"]
        assert "mldsa65" in extension(hello, "signature_algorithms")["algorithms"]


def test_firefox_client_hello():
    for hello in client_hellos("firefox-h2"):
        assert not any(s.startswith("GREASE") for s in hello["cipher_suites"])
        assert extension(hello, "record_size_limit")["limit"] == 16385
        assert extension(hello, "compress_certificate")["algorithms"] == ["zlib", "brotli", "zstd"]
        assert "ecdsa_secp256r1_sha256" in extension(hello, "delegated_credential")["algorithms"]
        assert extension(hello, "encrypted_client_hello")["ech_type"] == "outer"
        assert [s["group"] for s in extension(hello, "key_share")["shares"]] == ["X25519MLKEM768", "x25519",
                                                                                  "secp256r1"]


@needs_tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_client_hello_extension_types_match_tshark(name):
    out = subprocess.run(["tshark", "-r", str(REAL / f"{name}.pcap"), "-Y", "tls.handshake.type==1", "-T", "fields",
                          "-e", "tls.handshake.extension.type"], capture_output=True, text=True, check=True).stdout
    theirs = sorted(line for line in out.splitlines() if line)
    ours = sorted(",".join(str(e["type"]) for e in h["extensions"]) for h in client_hellos(name))
    assert ours == theirs


# --- certificate compression and the new extensions, on built bytes ----------------------------------

def _compressed(algorithm: int, payload: bytes, stated: int | None = None) -> bytes:
    size = len(payload) if stated is None else stated
    if algorithm == 1:
        data = zlib.compress(payload)
    elif algorithm == 2:
        import brotli

        data = brotli.compress(payload)
    else:
        import zstandard

        data = zstandard.ZstdCompressor().compress(payload)
    return algorithm.to_bytes(2, "big") + size.to_bytes(3, "big") + len(data).to_bytes(3, "big") + data


CERT_BODY = b"\x00" + (len(SERVER_DER) + 5).to_bytes(3, "big") + len(SERVER_DER).to_bytes(3, "big") + SERVER_DER + b"\0\0"


@pytest.mark.parametrize("algorithm", [1, 2, 3])
def test_decompress_certificate_each_algorithm(algorithm):
    assert decompress_certificate(_compressed(algorithm, CERT_BODY)) == CERT_BODY
    info = details(25, _compressed(algorithm, CERT_BODY), None)
    assert info["certificates"][0]["subject"] == "CN=browser.example.test"


@pytest.mark.parametrize("algorithm", [1, 2, 3])
def test_a_certificate_larger_than_stated_is_refused_not_expanded(algorithm):
    bomb = _compressed(algorithm, b"\0" * 5_000_000, stated=1000)  # a few KB that would expand to 5 MB
    with pytest.raises(CertificateDecompressionError, match="1000"):
        decompress_certificate(bomb)


def test_undecompressable_certificates_say_why():
    with pytest.raises(CertificateDecompressionError, match="unknown"):
        decompress_certificate(b"\x00\x09" + b"\x00\x00\x10" + b"\x00\x00\x01" + b"x")
    with pytest.raises(CertificateDecompressionError, match="brotli data does not decompress"):
        decompress_certificate(b"\x00\x02" + b"\x00\x00\x10" + b"\x00\x00\x04" + b"junk")
    with pytest.raises(MalformedInput):
        decompress_certificate(b"\x00\x01\x00\x00\x10\x00\x00\x09abc")  # shorter than it says
    info = details(25, b"\x00\x02" + b"\x00\x00\x10" + b"\x00\x00\x04" + b"junk", None)
    assert info["algorithm"] == "brotli" and "does not decompress" in info["error"]


def test_relative_oid():
    assert _relative_oid(bytes.fromhex("82df130201")) == "44947.2.1"
    assert _relative_oid(b"\x01") == "1"
    with pytest.raises(MalformedInput):
        _relative_oid(b"\x82")


def test_a_session_offering_ech_without_key_log_entry_says_ech_may_hide_its_random():
    # the key log of another capture: no entry for this session's random
    ss = analyze([REAL / "chromium-h2.pcap"], keylogs=[REAL / "firefox-h2.keys"])
    for s in ss:
        assert s["decryption"]["status"] == "no-key"
        assert "Encrypted Client Hello" in s["decryption"]["detail"]
    plain = analyze([REAL / "openssl-tls13.pcap"], keylogs=[REAL / "firefox-h2.keys"])
    assert "Encrypted Client Hello" not in plain[0]["decryption"]["detail"]


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "br", "zstd", "gzip, br", "identity"])
def test_content_encodings_are_undone(encoding):
    import gzip

    import brotli
    import zstandard
    from dissector_plugins.http import decode_content

    body = b'{"access_token":"abc"}'
    data = body
    for name in [e.strip() for e in encoding.split(",")]:
        data = {"gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
                "zstd": zstandard.ZstdCompressor().compress, "identity": bytes}[name](data)
    assert decode_content(data, encoding) == body


def test_content_encoding_bombs_and_unknown_codings_give_nothing():
    import gzip

    import zstandard
    from dissector_plugins.http import decode_content

    assert decode_content(gzip.compress(b"\0" * 10_000_000), "gzip") is None
    assert decode_content(zstandard.ZstdCompressor().compress(b"\0" * 10_000_000), "zstd") is None
    assert decode_content(b"junk", "br") is None and decode_content(b"junk", "gzip") is None
    assert decode_content(b"data", "compress") is None
    raw = zlib.compressobj(wbits=-15)
    assert decode_content(raw.compress(b"{}") + raw.flush(), "deflate") == b"{}"  # raw deflate, as some send


def _renamed_keylog(name: str, tmp_path) -> object:
    """The capture's key log with every client random replaced: what a key log looks like for sessions whose
    server accepted ECH (the secrets are logged under the inner ClientHello's random, never on the wire)."""
    import os

    names: dict[str, str] = {}
    out = []
    for line in (REAL / f"{name}.keys").read_text().splitlines():
        if line and not line.startswith("#"):
            label, random, secret = line.split()
            line = f"{label} {names.setdefault(random, os.urandom(32).hex())} {secret}"
        out.append(line)
    path = tmp_path / f"{name}-inner.keys"
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize("name", ["chromium-h2", "firefox-h2"])
def test_sessions_keyed_by_a_hidden_inner_random_are_found_by_trying_the_key_log(name, tmp_path):
    # These browsers' ClientHellos carry an encrypted_client_hello extension (GREASE here). With accepted
    # ECH a real key log names the session by the inner ClientHello's random; dissector then tries the key
    # log's other entries on the server's first encrypted record, whose AEAD tag fits only the right one.
    want = {s["id"]: s for s in sessions(name)}
    keylog = _renamed_keylog(name, tmp_path)
    got = analyze([REAL / f"{name}.pcap"], keylogs=[keylog], plugins=True)
    assert len(got) == len(want)
    logged = {line.split()[1] for line in keylog.read_text().splitlines() if line and not line.startswith("#")}
    for s in got:
        assert s["decryption"]["status"] == "decrypted", s["decryption"]
        assert "Encrypted Client Hello" in s["decryption"]["detail"]
        assert s["decryption"]["key_random"] in logged  # the random the key log names it by
        assert s.get("app_data") == want[s["id"]].get("app_data")
        assert [m["type"] for m in s["messages"]] == [m["type"] for m in want[s["id"]]["messages"]]
    assert [r["target"] for s in got for r in (s.get("http") or {}).get("requests", [])]


def test_no_inner_random_search_without_an_ech_offer(tmp_path):
    # an OpenSSL client offers no ECH: a key log under other randoms is simply not this session's
    path = tmp_path / "other.keys"
    path.write_text("".join(f"{line.split()[0]} {'ab' * 32} {line.split()[2]}\n"
                            for line in (REAL / "openssl-tls13.keys").read_text().splitlines()
                            if line and not line.startswith("#")))
    [s] = analyze([REAL / "openssl-tls13.pcap"], keylogs=[path])
    assert s["decryption"]["status"] == "no-key"
    assert "Encrypted Client Hello" not in s["decryption"]["detail"]


def test_the_inner_random_search_has_a_budget(tmp_path):
    from dissector.keys import build_keystore

    store = build_keystore([str(_renamed_keylog("chromium-h2", tmp_path))], [], [])
    store.search_trials_left = 0
    got = analyze([REAL / "chromium-h2.pcap"], keys=store)
    assert {s["decryption"]["status"] for s in got} == {"no-key"}


def test_keys_command_writes_the_inner_random_lines(tmp_path):
    import subprocess
    import sys

    keylog = _renamed_keylog("chromium-h2", tmp_path)
    out = tmp_path / "out.keys"
    subprocess.run([sys.executable, "-m", "dissector", "keys", str(REAL / "chromium-h2.pcap"), "--keylog",
                    str(keylog), "-o", str(out)], check=True, capture_output=True)
    written = {tuple(line.split()) for line in out.read_text().splitlines() if line and not line.startswith("#")}
    original = {tuple(line.split()) for line in keylog.read_text().splitlines() if line and not line.startswith("#")}
    inner = {w for w in written if w[1] in {o[1] for o in original}}
    assert inner and inner <= original
    assert {w[0] for w in inner} >= {"SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"}
    # the same secrets again under each session's outer random (its ClientHello's): the capture's real key log
    real = {tuple(line.split()) for line in (REAL / "chromium-h2.keys").read_text().splitlines()
            if line and not line.startswith("#")}
    assert written - inner == {r for r in real if r[0] in {w[0] for w in inner}}
