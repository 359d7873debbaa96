"""curl against nginx, a browser-like session over HTTP/1.1 (TLS 1.2) and HTTP/2 (TLS 1.3), decrypted
with curl's key log (samples/real/nginx-h1 and nginx-h2, made by samples/real/make_nginx_captures.sh).

The session: GET /, POST /login (a form; Set-Cookie session with HttpOnly, Secure, SameSite=Lax), GET
/prefs (Set-Cookie theme without HttpOnly or Secure), GET /basic (Basic alice:wonderland), GET /api/me
(Bearer), GET /authorize (302 to the redirect URI with a code), POST /token (a form with the code and the
client secret; a JSON token response), GET /api/me again with the issued token.

Checked for both captures: every request with its status, in order; cookies and Set-Cookie attributes;
the auth schemes; the OAuth2 steps; every secret redacted by default and shown with --show-secrets; the
server certificate; JA3/JA3S (against tshark) and JA4 (against a JA4 computed here from tshark's view
of the ClientHello); the findings; and the requests and body sizes against tshark's HTTP and HTTP/2
dissectors.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import ssl
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES, analyze, needs_tshark

REAL = SAMPLES / "real"
CAPTURES = ("h1", "h2")
HOST = "www.example.test"

AUTHORIZE = ("/authorize?response_type=code&client_id=s6BhdRkqt3&redirect_uri=https%3A%2F%2Fclient.example.test%2Fcb"
             "&scope=openid&state=xyz")
EXPECTED = [("GET", "/", 200), ("POST", "/login", 200), ("GET", "/prefs", 200), ("GET", "/basic", 200),
            ("GET", "/api/me", 200), ("GET", AUTHORIZE, 302), ("POST", "/token", 200), ("GET", "/api/me", 200)]
LOGIN, PREFS, BASIC, API, AUTHZ, TOKEN, API2 = range(1, 8)

PASSWORD = "wonderland"
BASIC_B64 = "YWxpY2U6d29uZGVybGFuZA=="
ACCESS_TOKEN = "2YotnFZFEjr1zCsicMWpAA"
REFRESH_TOKEN = "tGzv3JOkF0XG5Qx2TlKWIA"
CODE = "SplxlOBeZQQYbYS6WxSbIA"
CLIENT_SECRET = "7Fjfp0ZBr1KtDRbnfVdmIw"
SESSION_COOKIE = "abc123"
SECRETS = (PASSWORD, BASIC_B64, ACCESS_TOKEN, REFRESH_TOKEN, CODE, CLIENT_SECRET, SESSION_COOKIE)

# Where our analysis is known to be wrong, keyed by (check, capture): strict, so that a fix turns the
# test green and forces the entry out.
KNOWN: dict[tuple[str, str], str] = {}


def cases(check: str) -> list:
    out = []
    for which in CAPTURES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[(check, which)])] if (check, which) in KNOWN else []
        out.append(pytest.param(which, id=which, marks=marks))
    return out


def paths(which: str) -> tuple[str, str]:
    return str(REAL / f"nginx-{which}.pcap"), str(REAL / f"nginx-{which}.keys")


# --- our side ----------------------------------------------------------------------------------------------

@functools.cache
def session(which: str) -> dict:
    pcap, keys = paths(which)
    sessions = analyze([pcap], keylogs=[keys], plugins=True)
    assert len(sessions) == 1, [s.get("client") for s in sessions]
    return sessions[0]


@functools.cache
def cli(which: str, fmt: str = "json", show_secrets: bool = False) -> str:
    pcap, keys = paths(which)
    args = [sys.executable, "-m", "dissector", "analyze", pcap, "--keylog", keys, "-f", fmt]
    if show_secrets:
        args.append("--show-secrets")
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def cli_session(which: str, show_secrets: bool = False) -> dict:
    (s,) = json.loads(cli(which, "json", show_secrets))["sessions"]
    return s


def requests_of(s: dict) -> list[dict]:
    return s["http"]["requests"]


def redacted(n: int) -> str:
    return f"<redacted {n} chars>"


# --- tshark's side -----------------------------------------------------------------------------------------

def tshark_packets(which: str, display_filter: str, fields: list[str]) -> list[dict]:
    """tshark -T json -e FIELD...: the layers of every matching packet, each field a list of values."""
    pcap, keys = paths(which)
    args = ["tshark", "-r", pcap, "-o", f"tls.keylog_file:{keys}", "-Y", display_filter, "-T", "json"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [p["_source"]["layers"] for p in json.loads(out.stdout or "[]")]


@functools.cache
def tshark_exchanges(which: str) -> list[dict]:
    """[{method, target, status, req_body, resp_body}] in request order, from tshark's HTTP dissectors."""
    if which == "h1":
        reqs = tshark_packets(which, "http.request", ["http.request.method", "http.request.uri",
                                                      "http.content_length_header"])
        resps = tshark_packets(which, "http.response", ["http.response.code", "http.content_length_header"])
        assert all(len(p["http.request.method"]) == 1 for p in reqs) and len(reqs) == len(resps)
        return [{"method": q["http.request.method"][0], "target": q["http.request.uri"][0],
                 "status": int(r["http.response.code"][0]),
                 "req_body": int(q.get("http.content_length_header", ["0"])[0]),
                 "resp_body": int(r.get("http.content_length_header", ["0"])[0])} for q, r in zip(reqs, resps)]
    client = session(which)["client"].rsplit(":", 1)[0]
    streams: dict[int, dict] = {}
    for p in tshark_packets(which, "http2", ["ip.src", "http2.streamid", "http2.type", "http2.length",
                                             "http2.header.name", "http2.header.value"]):
        from_client = p["ip.src"][0] == client
        types = [int(t) for t in p.get("http2.type", [])]
        sids = [int(s) for s in p.get("http2.streamid", [])]
        lengths = [int(n) for n in p.get("http2.length", [])]
        assert len(types) == len(sids) == len(lengths), p
        assert types.count(1) <= 1, "one HEADERS frame per packet at most (the header lists are not per frame)"
        for t, sid, length in zip(types, sids, lengths):
            if t == 1:
                ex = streams.setdefault(sid, {"req_body": 0, "resp_body": 0})
                headers = dict(zip(p["http2.header.name"], p["http2.header.value"]))
                if from_client:
                    ex["method"], ex["target"] = headers[":method"], headers[":path"]
                else:
                    ex["status"] = int(headers[":status"])
            elif t == 0 and sid in streams:  # DATA (no padding in these captures)
                streams[sid]["req_body" if from_client else "resp_body"] += length
    return [streams[sid] for sid in sorted(streams)]


# --- requests, statuses, cookies, auth -------------------------------------------------------------------

@pytest.mark.parametrize("which", CAPTURES)
def test_session_is_decrypted(which):
    s = session(which)
    assert s["decryption"]["status"] == "decrypted"
    assert s["sni"] == HOST
    if which == "h1":
        assert (s["version"], s["alpn"], s["http"]["protocol"]) == ("TLS 1.2", "http/1.1", "HTTP/1.1")
    else:
        assert (s["version"], s["alpn"], s["http"]["protocol"]) == ("TLS 1.3", "h2", "HTTP/2")


@pytest.mark.parametrize("which", CAPTURES)
def test_every_request_with_its_status_in_order(which):
    reqs = requests_of(session(which))
    assert [(r["method"], r["target"], r["status"]) for r in reqs] == EXPECTED
    assert all(r["host"] == HOST for r in reqs)
    if which == "h2":
        assert [r["stream"] for r in reqs] == [1, 3, 5, 7, 9, 11, 13, 15]
        assert all(r["scheme"] == "https" for r in reqs)
    else:
        assert [r["stream"] for r in reqs] == list(range(1, 9))
        assert [r["reason"] for r in reqs][AUTHZ] == "Moved Temporarily"
    assert [r["content_type"] for r in reqs] == ["text/html", "text/html", "text/html", "text/html",
                                                 "application/json", "text/html", "application/json",
                                                 "application/json"]


@pytest.mark.parametrize("which", CAPTURES)
def test_cookies_and_set_cookie_attributes(which):
    reqs = requests_of(session(which))
    (login,) = reqs[LOGIN]["set_cookies"]
    assert {k: login[k] for k in ("name", "httponly", "secure", "samesite", "path", "session")} == {
        "name": "session", "httponly": True, "secure": True, "samesite": "Lax", "path": "/", "session": True}
    assert login["value"] == redacted(len(SESSION_COOKIE))
    (prefs,) = reqs[PREFS]["set_cookies"]
    assert {k: prefs[k] for k in ("name", "httponly", "secure", "samesite", "path")} == {
        "name": "theme", "httponly": False, "secure": False, "samesite": None, "path": "/"}
    assert prefs["value"] == redacted(len("dark"))
    # what curl's cookie jar sends back: nothing before the login, then session, then both
    assert [r["cookies"] for r in reqs] == [[], [], ["session"]] + [["session", "theme"]] * 5
    assert all(not r["set_cookies"] for i, r in enumerate(reqs) if i not in (LOGIN, PREFS))
    headers = [v for n, v in reqs[BASIC]["request_headers"] if n.lower() == "cookie"]
    assert headers == [f"session={redacted(6)}; theme={redacted(4)}"]


@pytest.mark.parametrize("which", CAPTURES)
def test_auth_schemes_redacted(which):
    reqs = requests_of(session(which))
    assert reqs[BASIC]["auth"] == {"scheme": "Basic", "user": "alice", "password": redacted(len(PASSWORD))}
    for i in (API, API2):
        assert reqs[i]["auth"] == {"scheme": "Bearer", "token": redacted(len(ACCESS_TOKEN))}
    assert [i for i, r in enumerate(reqs) if r["auth"]] == [BASIC, API, API2]
    auth_headers = [v for n, v in reqs[BASIC]["request_headers"] if n.lower() == "authorization"]
    assert auth_headers == [f"Basic {redacted(len(BASIC_B64))}"]


@pytest.mark.parametrize("which", cases("form_login"))
def test_form_login(which):
    login = requests_of(session(which))[LOGIN]
    assert login["request_content_type"] == "application/x-www-form-urlencoded"
    assert login["request_body_size"] == len("user=alice&password=wonderland")
    assert login["form_fields"] == ["user", "password"]
    assert login["credentials"] == {"source": "form", "user": "alice", "password": redacted(len(PASSWORD))}
    assert login["complete"] is True
    shown = requests_of(cli_session(which, show_secrets=True))[LOGIN]
    assert shown["credentials"]["password"] == PASSWORD


# --- OAuth2 -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", CAPTURES)
def test_oauth2_authorization_request_and_response(which):
    reqs = requests_of(session(which))
    authz = reqs[AUTHZ]
    assert (authz["oauth2_step"], authz["oauth2_response_step"]) == ("authorization_request", "authorization_response")
    assert authz["oauth2"]["request"] == {"response_type": "code", "client_id": "s6BhdRkqt3",
                                          "redirect_uri": "https://client.example.test/cb", "scope": "openid",
                                          "state": "xyz"}
    assert authz["oauth2"]["response"] == {"code": redacted(len(CODE)), "state": "xyz"}
    location = [v for n, v in authz["response_headers"] if n.lower() == "location"]
    assert location == [f"https://client.example.test/cb?code={redacted(len(CODE))}&state=xyz"]
    assert [r["oauth2_step"] for r in reqs][API] == "resource_request"
    assert [r["oauth2_step"] for r in reqs][API2] == "resource_request"
    assert all(r["oauth2_step"] is None for i, r in enumerate(reqs) if i < API)


@pytest.mark.parametrize("which", CAPTURES)
def test_oauth2_token_response(which):
    token = requests_of(session(which))[TOKEN]
    assert token["oauth2_response_step"] == "token_response"
    assert token["oauth2"]["response"] == {"access_token": redacted(len(ACCESS_TOKEN)), "token_type": "Bearer",
                                           "expires_in": 3600, "refresh_token": redacted(len(REFRESH_TOKEN))}
    assert token["response_body_size"] == 122


@pytest.mark.parametrize("which", cases("token_request"))
def test_oauth2_token_request(which):
    token = requests_of(session(which))[TOKEN]
    assert token["oauth2_step"] == "token_request"
    assert token["oauth2"]["request"] == {"grant_type": "authorization_code", "code": redacted(len(CODE)),
                                          "redirect_uri": "https://client.example.test/cb", "client_id": "s6BhdRkqt3",
                                          "client_secret": redacted(len(CLIENT_SECRET))}
    assert token["form_fields"] == ["grant_type", "code", "redirect_uri", "client_id", "client_secret"]
    assert token["complete"] is True
    shown = requests_of(cli_session(which, show_secrets=True))[TOKEN]["oauth2"]["request"]
    assert (shown["code"], shown["client_secret"]) == (CODE, CLIENT_SECRET)
    table = cli(which, "table")
    assert f"POST {HOST}/token -> 200 [OAuth2 token_request]" in table


@pytest.mark.parametrize("which", cases("flow_linked"))
def test_oauth2_flow_linked_across_its_steps(which):
    """authorize -> 302 with the code -> token request with that code -> tokens -> the token used."""
    s = session(which)
    reqs = requests_of(s)
    flow = reqs[AUTHZ]["oauth2"]["flow"]
    assert reqs[TOKEN]["oauth2"]["flow"] == flow and reqs[API2]["oauth2"]["flow"] == flow
    steps = {f["flow"]: f["steps"] for f in s["http"]["oauth2_flows"]}
    assert steps[flow] == ["authorization_request", "authorization_response", "token_request", "token_response",
                           "resource_request"]


# --- secrets -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", CAPTURES)
def test_secrets_redacted_by_default(which):
    outputs = {"in-process": json.dumps(session(which)), "json": cli(which, "json"), "table": cli(which, "table"),
               "jsonl": cli(which, "jsonl")}
    for name, text in outputs.items():
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{name} output shows {leaked}"
    assert "<redacted" in outputs["json"] and "<redacted" in outputs["jsonl"]


@pytest.mark.parametrize("which", CAPTURES)
def test_show_secrets_reveals_them(which):
    reqs = requests_of(cli_session(which, show_secrets=True))
    assert reqs[LOGIN]["set_cookies"][0]["value"] == SESSION_COOKIE
    assert reqs[PREFS]["set_cookies"][0]["value"] == "dark"
    assert [v for n, v in reqs[BASIC]["request_headers"] if n.lower() == "cookie"] == ["session=abc123; theme=dark"]
    assert reqs[BASIC]["auth"] == {"scheme": "Basic", "user": "alice", "password": PASSWORD}
    assert [v for n, v in reqs[BASIC]["request_headers"] if n.lower() == "authorization"] == [f"Basic {BASIC_B64}"]
    assert reqs[API]["auth"] == {"scheme": "Bearer", "token": ACCESS_TOKEN}
    assert reqs[AUTHZ]["oauth2"]["response"]["code"] == CODE
    resp = reqs[TOKEN]["oauth2"]["response"]
    assert (resp["access_token"], resp["refresh_token"]) == (ACCESS_TOKEN, REFRESH_TOKEN)
    assert "<redacted" not in json.dumps(reqs)


@pytest.mark.parametrize("which", CAPTURES)
def test_table_lists_the_requests(which):
    table = cli(which, "table")
    head = "HTTP/1.1 requests:" if which == "h1" else "HTTP/2 requests:"
    lines = table.split(head + "\n", 1)[1].split("\n\n", 1)[0].splitlines()
    shown = [re.fullmatch(r"\s+(\S+) (\S+?)(\.\.\.)? -> (\d+)(.*)", line).groups() for line in lines]
    assert len(shown) == len(EXPECTED)
    for (method, url, cut, status, _), (m, target, st) in zip(shown, EXPECTED):
        assert (method, int(status)) == (m, st)
        assert (HOST + target).startswith(url) if cut else url == HOST + target, (url, target)
    notes = [extra.strip() for *_, extra in shown]
    assert notes[BASIC] == "[Basic alice]"
    assert notes[API] == notes[API2] == "[Bearer] [OAuth2 resource_request]"
    assert notes[AUTHZ] == "[OAuth2 authorization_request]"
    assert notes[LOGIN] == notes[PREFS] == "[sets 1 cookie(s)]"
    assert notes[0] == ""


# --- certificate, fingerprints, findings ---------------------------------------------------------------------

@pytest.mark.parametrize("which", CAPTURES)
def test_certificate_details(which):
    server = session(which)["certificates"]["server"]
    (leaf,) = server["chain"]
    der = ssl.PEM_cert_to_DER_cert((REAL / "nginx-server.crt.pem").read_text())
    assert leaf["sha256"] == hashlib.sha256(der).hexdigest()  # the certificate nginx was given
    assert (leaf["subject"], leaf["issuer"], leaf["self_signed"]) == (f"CN={HOST}", f"CN={HOST}", True)
    assert leaf["san"] == [HOST]
    assert (leaf["key_type"], leaf["key_size"], leaf["signature_algorithm"]) == ("RSA", 2048, "sha256WithRSAEncryption")
    assert leaf["validity"] == "valid" and leaf["weak_key"] is False and leaf["weak_signature"] is False
    assert (server["sni"], server["sni_match"], server["sni_match_detail"]) == (HOST, True, f"DNS SAN {HOST}")


JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}


def ja4_from_tshark(layers: dict) -> str:
    """JA4 (FoxIO spec, TLS over TCP) computed from tshark's fields of one ClientHello."""
    def grease(v: int) -> bool:
        return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)

    def sha12(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "0" * 12

    ciphers = [int(c, 16) for c in layers["tls.handshake.ciphersuite"] if not grease(int(c, 16))]
    exts = [int(e) for e in layers["tls.handshake.extension.type"] if not grease(int(e))]
    versions = [int(v, 16) for v in layers.get("tls.handshake.extensions.supported_version", []) if not grease(int(v, 16))]
    version = JA4_VERSIONS[max(versions) if versions else int(layers["tls.handshake.version"][0], 16)]
    alpn = layers.get("tls.handshake.extensions_alpn_str", [""])[0]
    a = f"t{version}{'d' if 0 in exts else 'i'}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}"
    a += alpn[0] + alpn[-1] if alpn else "00"
    b = sha12(",".join(sorted(f"{c:04x}" for c in ciphers)))
    ext_text = ",".join(sorted(f"{e:04x}" for e in exts if e not in (0, 16)))
    sigs = ",".join(f"{int(s, 16):04x}" for s in layers.get("tls.handshake.sig_hash_alg", []))
    return f"{a}_{b}_{sha12(ext_text + '_' + sigs if sigs else ext_text)}"


@pytest.mark.parametrize("which", CAPTURES)
def test_ja4_shape(which):
    fp = session(which)["fingerprints"]
    prefix = "t12d2807h1" if which == "h1" else "t13d3112h2"  # curl: 28 suites (TLS 1.2 only) / 31, ALPN
    assert re.fullmatch(prefix + r"_[0-9a-f]{12}_[0-9a-f]{12}", fp["ja4"]), fp["ja4"]
    assert fp["ja4_r"].startswith(prefix + "_")
    raw_b, raw_c = fp["ja4_r"].split("_", 2)[1:]
    assert fp["ja4"].split("_")[1] == hashlib.sha256(raw_b.encode()).hexdigest()[:12]
    assert fp["ja4"].split("_")[2] == hashlib.sha256(raw_c.encode()).hexdigest()[:12]


@needs_tshark
@pytest.mark.parametrize("which", CAPTURES)
def test_fingerprints_match_tshark(which):
    fp = session(which)["fingerprints"]
    (hello,) = tshark_packets(which, "tls.handshake.type == 1", [
        "tls.handshake.ja3", "tls.handshake.ja3_full", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
        "tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
        "tls.handshake.extensions_alpn_str", "tls.handshake.version"])
    (server_hello,) = tshark_packets(which, "tls.handshake.type == 2", ["tls.handshake.ja3s", "tls.handshake.ja3s_full"])
    assert (fp["ja3"], fp["ja3_hash"]) == (hello["tls.handshake.ja3_full"][0], hello["tls.handshake.ja3"][0])
    assert (fp["ja3s"], fp["ja3s_hash"]) == (server_hello["tls.handshake.ja3s_full"][0],
                                             server_hello["tls.handshake.ja3s"][0])
    assert fp["ja4"] == ja4_from_tshark(hello)


@pytest.mark.parametrize("which", CAPTURES)
def test_findings(which):
    findings = session(which)["findings"]
    assert sorted(f["id"] for f in findings) == ["basic_auth", "cookie_without_httponly", "cookie_without_secure",
                                                 "self_signed_certificate"]
    by_id = {f["id"]: f for f in findings}
    assert by_id["self_signed_certificate"]["severity"] == "medium"
    assert f"CN={HOST}" in by_id["self_signed_certificate"]["detail"]
    for fid in ("cookie_without_httponly", "cookie_without_secure"):  # theme (/prefs), not session (/login)
        detail = by_id[fid]["detail"]
        assert detail.endswith(": theme") and "over TLS" in detail, detail
    assert "alice" in by_id["basic_auth"]["detail"] and PASSWORD not in by_id["basic_auth"]["detail"]
    table = cli(which, "table")
    assert ("findings: [medium] self_signed_certificate, cookie_without_secure; [low] cookie_without_httponly; "
            "[info] basic_auth") in table


# --- against tshark's HTTP dissectors ------------------------------------------------------------------------

@needs_tshark
@pytest.mark.parametrize("which", CAPTURES)
def test_requests_match_tshark(which):
    theirs = tshark_exchanges(which)
    assert [(e["method"], e["target"], e["status"]) for e in theirs] == EXPECTED  # the capture is what we think
    ours = requests_of(session(which))
    assert [(r["method"], r["target"], r["status"]) for r in ours] == [
        (e["method"], e["target"], e["status"]) for e in theirs]
    assert [r["response_body_size"] for r in ours] == [e["resp_body"] for e in theirs]


@needs_tshark
@pytest.mark.parametrize("which", cases("body_sizes"))
def test_request_body_sizes_match_tshark(which):
    theirs = tshark_exchanges(which)
    assert [e["req_body"] for e in theirs] == [0, 30, 0, 0, 0, 0, 167, 0]
    ours = requests_of(session(which))
    assert [r["request_body_size"] for r in ours] == [e["req_body"] for e in theirs]
    assert all(r["complete"] for r in ours)

