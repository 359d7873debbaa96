"""The HTTP/1.x and HTTP/2 plugins: hand-written HTTP/1 streams, HTTP/2 bytes made by hyper-h2 itself,
split-invariance properties, secrets, OAuth2 linking, and real decrypted traffic from the corpus."""
from __future__ import annotations

import base64
import functools
import io
import json

import h2.config
import h2.connection
import h2.events
import pytest
from dissector_plugins.http import HTTP1Plugin, HTTPRequest, HTTPResponse
from dissector_plugins.http2 import HTTP2Plugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissector.events import CLIENT, SERVER, Anomaly, AppData, Event, Flow, FlowEnd, SessionInfo, SessionStart
from dissector.output.formats import JSONLWriter
from dissector.plugins import PluginFields, PluginHost, load_plugins
from dissector.redact import Plain, Secret, SecretText, scrub
from tests.conftest import CORPUS, needs_corpus

# -- helpers -----------------------------------------------------------------------------------------------

_ids = iter(range(1, 1 << 30))


def session_events(chunks: list[tuple[str, bytes]], alpn: str | None = "http/1.1", flow: Flow | None = None) -> list[Event]:
    f = flow or Flow(next(_ids), "10.0.0.1", 40000, "10.0.0.2", 443, 0.0)
    evs: list[Event] = [SessionStart(0.0, f), SessionInfo(0.0, f, "TLS 1.3", "TLS_AES_128_GCM_SHA256", "x.test", alpn)]
    evs += [AppData(1.0, f, d, len(data) + 22, data) for d, data in chunks if data]
    evs.append(FlowEnd(2.0, f, "FIN"))
    return evs


def run(client: bytes | list[bytes], server: bytes | list[bytes], *, show_secrets: bool = False,
        host: PluginHost | None = None, alpn: str | None = "http/1.1", order: list[tuple[str, bytes]] | None = None):
    """Feed one session (all client chunks, then all server chunks, unless `order`) through a PluginHost
    with both bundled plugins; return (events, the session's "http" fields)."""
    if order is None:
        cs = client if isinstance(client, list) else [client]
        ss = server if isinstance(server, list) else [server]
        order = [(CLIENT, c) for c in cs] + [(SERVER, s) for s in ss]
    host = host or PluginHost([HTTP1Plugin(), HTTP2Plugin()], show_secrets=show_secrets)
    out = host.process(session_events(order, alpn))
    fields = [e.fields_ for e in out if isinstance(e, PluginFields)]
    return out, (fields[0] if fields else None)


def summary(fields: dict) -> list[tuple]:
    return [(r["method"], r["target"], r["status"], r["request_body_size"], r["response_body_size"])
            for r in fields["requests"]]


def anomalies(events: list[Event]) -> list[str]:
    return [e.name for e in events if isinstance(e, Anomaly)]


def req(method: str, target: str, headers: str = "", body: bytes = b"", version: str = "1.1") -> bytes:
    head = f"{method} {target} HTTP/{version}\r\n" + ("Host: x.test\r\n" if version == "1.1" else "") + headers
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


# -- HTTP/1.x framing ----------------------------------------------------------------------------------------

def test_pipelined_requests_pair_in_order():
    client = req("GET", "/1") + req("GET", "/2") + req("GET", "/3")
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
              b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
              b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfour")
    out, f = run(client, server)
    assert summary(f) == [("GET", "/1", 200, 0, 3), ("GET", "/2", 404, 0, 0), ("GET", "/3", 500, 0, 4)]
    assert [r["reason"] for r in f["requests"]] == ["OK", "Not Found", "Oops"]
    reqs = [e for e in out if isinstance(e, HTTPRequest)]
    resps = [e for e in out if isinstance(e, HTTPResponse)]
    assert [e.stream for e in reqs] == [1, 2, 3] and [e.status for e in resps] == [200, 404, 500]
    assert f["protocol"] == "HTTP/1.1" and anomalies(out) == []


def test_chunked_bodies_with_trailers_and_chunked_requests():
    client = (b"POST /upload HTTP/1.1\r\nHost: x.test\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n")
    server = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
              b"5\r\nhello\r\n1a\r\n" + b"z" * 26 + b"\r\n0\r\nX-Checksum: 1\r\n\r\n")
    _, f = run(client, server)
    assert summary(f) == [("POST", "/upload", 200, 10, 31)]
    assert f["requests"][0]["content_type"] == "text/plain" and f["requests"][0]["complete"] is True


def test_keep_alive_with_content_length_over_many_records():
    client = [req("GET", "/a"), req("POST", "/b", "Content-Type: text/plain\r\n", b"x" * 300)]
    body = b"y" * 5000
    server = [b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body[:100], body[100:4000], body[4000:],
              b"HTTP/1.1 204 No Content\r\n\r\n"]
    _, f = run(client, server)
    assert summary(f) == [("GET", "/a", 200, 0, 5000), ("POST", "/b", 204, 300, 0)]


def test_head_204_and_304_have_no_body_whatever_their_headers_say():
    client = req("HEAD", "/h") + req("GET", "/nc") + req("GET", "/nm", "If-None-Match: \"x\"\r\n") + req("GET", "/last")
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 606\r\nContent-Type: text/html\r\n\r\n"
              b"HTTP/1.1 204 No Content\r\n\r\n"
              b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    out, f = run(client, server)
    assert summary(f) == [("HEAD", "/h", 200, 0, 0), ("GET", "/nc", 204, 0, 0), ("GET", "/nm", 304, 0, 0),
                          ("GET", "/last", 200, 0, 2)]
    assert anomalies(out) == []


def test_http10_head_response_has_no_body():
    client = req("HEAD", "/h", "Connection: keep-alive\r\n", version="1.0") + req("GET", "/g", version="1.0")
    server = (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n"
              b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    out, f = run(client, server)
    assert summary(f) == [("HEAD", "/h", 200, 0, 0), ("GET", "/g", 200, 0, 2)]
    assert anomalies(out) == []


def test_response_without_length_ends_at_close():
    out, f = run(req("GET", "/stream"), [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one ", b"part two"])
    assert summary(f) == [("GET", "/stream", 200, 0, 17)]
    assert f["requests"][0]["complete"] is True
    assert [type(e).__name__ for e in out].count("HTTPResponse") == 1


def test_http10_and_http10_keep_alive():
    client = req("GET", "/old", "Connection: keep-alive\r\n", version="1.0") + req("GET", "/again", version="1.0")
    server = (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc"
              b"HTTP/1.0 200 OK\r\n\r\nread until the connection closes")
    out, f = run(client, server)
    assert summary(f) == [("GET", "/old", 200, 0, 3), ("GET", "/again", 200, 0, 32)]
    assert f["protocol"] == "HTTP/1.0" and [r["version"] for r in f["requests"]] == ["HTTP/1.0", "HTTP/1.0"]
    assert anomalies(out) == []


def test_100_continue():
    client = [b"PUT /big HTTP/1.1\r\nHost: x.test\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", b"0123456789"]
    server = [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"]
    order = [(CLIENT, client[0]), (SERVER, server[0]), (CLIENT, client[1]), (SERVER, server[1])]
    _, f = run(b"", b"", order=order)
    r = f["requests"][0]
    assert (r["method"], r["status"], r["request_body_size"], r["informational"]) == ("PUT", 201, 10, [100])


def test_responses_that_arrive_before_their_request_wait_for_it():
    order = [(SERVER, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"), (CLIENT, req("GET", "/late"))]
    out, f = run(b"", b"", order=order)
    assert summary(f) == [("GET", "/late", 200, 0, 1)]


def test_truncated_response_and_request_are_reported_incomplete():
    out, f = run(req("GET", "/1") + b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part",
                 b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    assert [(r["target"], r["status"], r["complete"]) for r in f["requests"]] == [("/1", 200, False), ("/2", None, False)]
    assert [e.complete for e in out if isinstance(e, HTTPRequest)] == [True, False]
    assert "http_response_error" in anomalies(out) and "http_request_error" in anomalies(out)


def test_garbage_is_an_anomaly_not_a_crash():
    out, f = run(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nthis is \x00 not http\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert "http_request_error" in anomalies(out) and "plugin_error" not in anomalies(out)
    assert summary(f) == [("GET", "/", 200, 0, 0)]


def test_websocket_upgrade_stops_parsing():
    client = req("GET", "/chat", "Connection: Upgrade\r\nUpgrade: websocket\r\n") + b"\x81\x85masked-frame"
    server = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"
    out, f = run(b"", b"", order=[(CLIENT, client[:70]), (SERVER, server), (CLIENT, client[70:])])
    assert f["upgraded"] == "websocket" and f["requests"][0]["status"] == 101
    assert "plugin_error" not in anomalies(out)


# -- split invariance (h11 fuzz style) ----------------------------------------------------------------------

H1_CLIENT = (req("GET", "/a?x=1") + req("HEAD", "/b") +
             b"POST /c HTTP/1.1\r\nHost: x.test\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n"
             b"Content-Type: application/x-www-form-urlencoded\r\nCookie: sid=abc; theme=dark\r\n\r\n"
             b"b\r\nuser=bob&pw\r\n5\r\nd=123\r\n0\r\n\r\n" +
             req("GET", "/d", "Authorization: Basic " + base64.b64encode(b"bob:pw").decode() + "\r\n") +
             req("GET", "/e"))
H1_SERVER = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
             b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
             b"HTTP/1.1 100 Continue\r\n\r\n"
             b"HTTP/1.1 302 Found\r\nLocation: /home\r\nSet-Cookie: sid=new; HttpOnly; Secure\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
             b"HTTP/1.1 304 Not Modified\r\n\r\n"
             b"HTTP/1.1 200 OK\r\n\r\nuntil close")


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return [c for c in out if c]


def _interleave(cs: list[bytes], ss: list[bytes], picks: list[bool]) -> list[tuple[str, bytes]]:
    order, i, j = [], 0, 0
    for pick in picks + [True] * (len(cs) + len(ss)):
        if pick and i < len(cs):
            order.append((CLIENT, cs[i]))
            i += 1
        elif j < len(ss):
            order.append((SERVER, ss[j]))
            j += 1
        elif i < len(cs):
            order.append((CLIENT, cs[i]))
            i += 1
    return order


def test_h1_reference_transcript():
    out, f = run(H1_CLIENT, H1_SERVER)
    assert summary(f) == [("GET", "/a?x=1", 200, 0, 5), ("HEAD", "/b", 200, 0, 0), ("POST", "/c", 302, 16, 3),
                          ("GET", "/d", 304, 0, 0), ("GET", "/e", 200, 0, 11)]
    assert anomalies(out) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 10_000), max_size=12), st.lists(st.integers(0, 10_000), max_size=12),
       st.lists(st.booleans(), max_size=30))
def test_h1_any_split_gives_the_same_requests(ccuts, scuts, picks):
    whole = run(H1_CLIENT, H1_SERVER)[1]
    order = _interleave(_split(H1_CLIENT, ccuts), _split(H1_SERVER, scuts), picks)
    out, f = run(b"", b"", order=order)
    assert f == whole
    assert anomalies(out) == []


# -- cookies, credentials, OAuth2 -------------------------------------------------------------------------

def test_cookies_and_set_cookie_attributes():
    client = req("GET", "/", "Cookie: sid=s3cr3tvalue; theme=dark; empty=\r\n")
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
              b"Set-Cookie: sid=n3wvalue; Path=/; Domain=x.test; HttpOnly; Secure; SameSite=Strict; Max-Age=3600\r\n"
              b"Set-Cookie: theme=light; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\n"
              b"Set-Cookie: tracking=1\r\n\r\n")
    out, f = run(client, server)
    r = f["requests"][0]
    assert r["cookies"] == ["sid", "theme", "empty"]
    sid, theme, tracking = r["set_cookies"]
    assert sid == {"name": "sid", "value": "<redacted 8 chars>", "httponly": True, "secure": True, "samesite": "Strict",
                   "expires": None, "max_age": 3600, "path": "/", "domain": "x.test", "session": False}
    assert (theme["expires"], theme["session"], theme["httponly"]) == ("Wed, 21 Oct 2026 07:28:00 GMT", False, False)
    assert tracking["session"] is True and tracking["secure"] is False
    headers = dict(r["request_headers"])
    assert headers["Cookie"] == "sid=<redacted 11 chars>; theme=<redacted 4 chars>; empty="
    set_cookie_headers = [v for n, v in r["response_headers"] if n == "Set-Cookie"]
    assert set_cookie_headers[0].startswith("sid=<redacted 8 chars>; Path=/") and len(set_cookie_headers) == 3
    text = json.dumps(f)
    assert "s3cr3tvalue" not in text and "n3wvalue" not in text
    _, shown = run(client, server, show_secrets=True)
    assert shown["requests"][0]["set_cookies"][0]["value"] == "n3wvalue"
    assert dict(shown["requests"][0]["request_headers"])["Cookie"] == "sid=s3cr3tvalue; theme=dark; empty="


def test_proxy_authorization_of_a_connect_through_an_https_proxy():
    # curl --proxy https://... --proxy-user: the CONNECT, inside TLS to the proxy, carries the proxy's credentials
    cred = base64.b64encode(b"carol:pr0xy").decode()
    client = (f"CONNECT www.example.test:443 HTTP/1.1\r\nHost: www.example.test:443\r\n"
              f"Proxy-Authorization: Basic {cred}\r\n\r\n").encode()
    _, f = run(client, b"HTTP/1.1 200 Connection established\r\n\r\n")
    r = f["requests"][0]
    assert (r["method"], r["target"], r["status"]) == ("CONNECT", "www.example.test:443", 200)
    assert r["auth"] == {"scheme": "Basic", "user": "carol", "password": "<redacted 5 chars>",
                         "header": "Proxy-Authorization"}
    assert "pr0xy" not in json.dumps(f) and cred not in json.dumps(f)
    from dissector.commands.credentials import credential_rows
    from dissector.output.formats import request_line
    assert request_line(r).endswith("-> 200 [proxy Basic carol]")
    [row] = credential_rows([{"id": 0, "client": "a:1", "server": "b:2", "http": f}])
    assert (row["kind"], row["user"], row["secret"]) == ("Proxy-Authorization Basic", "carol", "<redacted 5 chars>")
    _, shown = run(client, b"HTTP/1.1 200 Connection established\r\n\r\n", show_secrets=True)
    assert shown["requests"][0]["auth"]["password"] == "pr0xy"


def test_basic_auth_user_is_decoded_and_password_redacted():
    cred = base64.b64encode(b"alice:Wonderland!").decode()
    client = req("GET", "/private", f"Authorization: Basic {cred}\r\n")
    out, f = run(client, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    r = f["requests"][0]
    assert r["auth"] == {"scheme": "Basic", "user": "alice", "password": "<redacted 11 chars>"}
    assert dict(r["request_headers"])["Authorization"] == f"Basic <redacted {len(cred)} chars>"
    assert "Wonderland" not in json.dumps(f) and cred not in json.dumps(f)
    ev = next(e for e in out if isinstance(e, HTTPRequest))
    assert ev.auth["password"] == "<redacted 11 chars>"  # the event, as jsonl prints it, too
    _, shown = run(client, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", show_secrets=True)
    assert shown["requests"][0]["auth"]["password"] == "Wonderland!"


def test_bearer_token_is_redacted_everywhere_including_jsonl():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
    client = req("GET", "/api/me", f"Authorization: Bearer {token}\r\nX-Api-Key: k3y-v4lue\r\n")
    out, f = run(client, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    r = f["requests"][0]
    assert r["auth"] == {"scheme": "Bearer", "token": f"<redacted {len(token)} chars>"}
    assert r["oauth2_step"] == "resource_request"
    buf = io.StringIO()
    w = JSONLWriter(buf)
    for e in out:
        w.event(e)
    w.flush()  # the writer holds lines back in batches
    text = buf.getvalue() + json.dumps(f)
    assert token not in text and "k3y-v4lue" not in text and '"HTTPRequest"' in text


def test_form_login_credentials():
    body = b"username=carol&password=p%40ss&remember=1"
    out, f = run(req("POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", body),
                 b"HTTP/1.1 303 See Other\r\nLocation: /\r\nContent-Length: 0\r\n\r\n")
    r = f["requests"][0]
    assert r["credentials"] == {"source": "form", "user": "carol", "password": "<redacted 4 chars>"}
    assert r["form_fields"] == ["username", "password", "remember"]


OAUTH_STATE = "af0ifjsldkj"
OAUTH_CODE = "SplxlOBeZQQYbYS6WxSbIA"
ACCESS = "2YotnFZFEjr1zCsicMWpAA"
REFRESH = "tGzv3JOkF0XG5Qx2TlKWIA"
CLIENT_SECRET = "s3cr3t-of-the-app"


def oauth2_sessions() -> list[tuple[bytes, bytes]]:
    """RFC 6749 section 4.1, one TCP connection per step, as a browser, an app and an API would."""
    authorize = req("GET", f"/authorize?response_type=code&client_id=s6BhdRkqt3&state={OAUTH_STATE}"
                           "&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb&scope=openid%20profile")
    redirect = (f"HTTP/1.1 302 Found\r\nLocation: https://client.example.com/cb?code={OAUTH_CODE}&state={OAUTH_STATE}"
                "\r\nContent-Length: 0\r\n\r\n").encode()
    callback = req("GET", f"/cb?code={OAUTH_CODE}&state={OAUTH_STATE}")
    app_home = (b"HTTP/1.1 302 Found\r\nLocation: /\r\nSet-Cookie: app_session=0123456789abcdef; HttpOnly; Secure; "
                b"SameSite=Lax; Path=/\r\nContent-Length: 0\r\n\r\n")
    form = (f"grant_type=authorization_code&code={OAUTH_CODE}&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb"
            f"&client_id=s6BhdRkqt3&client_secret={CLIENT_SECRET}").encode()
    token_req = req("POST", "/token", "Content-Type: application/x-www-form-urlencoded\r\n", form)
    token_json = json.dumps({"access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600,
                             "refresh_token": REFRESH, "id_token": "eyJ.eyJ.sig", "scope": "openid profile"}).encode()
    token_resp = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nCache-Control: no-store\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(token_json)) + token_json
    resource = req("GET", "/api/userinfo", f"Authorization: Bearer {ACCESS}\r\n")
    resource_resp = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"sub": "bob"} '
    refresh = req("POST", "/token", "Content-Type: application/x-www-form-urlencoded\r\n",
                  f"grant_type=refresh_token&refresh_token={REFRESH}".encode())
    refresh_resp = (b'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n'
                    b'{"error": "invalid_grant"} ')
    return [(authorize, redirect), (callback, app_home), (token_req, token_resp), (resource, resource_resp),
            (refresh, refresh_resp)]


def test_oauth2_authorization_code_flow_is_linked_across_sessions():
    host = PluginHost(load_plugins(["http", "http2"]))
    docs = [run(c, s, host=host)[1]["requests"][0] for c, s in oauth2_sessions()]
    steps = [(d["oauth2_step"], d["oauth2_response_step"]) for d in docs]
    assert steps == [("authorization_request", "authorization_response"), ("authorization_response", None),
                     ("token_request", "token_response"), ("resource_request", None), ("token_request", "token_response")]
    flows = {d["oauth2"]["flow"] for d in docs}
    assert len(flows) == 1  # state -> code -> access token -> refresh token link all five
    a, cb, tok, res, ref = docs
    assert a["oauth2"]["request"] == {"response_type": "code", "client_id": "s6BhdRkqt3", "state": OAUTH_STATE,
                                      "redirect_uri": "https://client.example.com/cb", "scope": "openid profile"}
    assert a["oauth2"]["response"] == {"code": f"<redacted {len(OAUTH_CODE)} chars>", "state": OAUTH_STATE}
    assert a["target"].startswith("/authorize?response_type=code&client_id=s6BhdRkqt3&state=af0ifjsldkj")
    assert cb["target"] == f"/cb?code=<redacted {len(OAUTH_CODE)} chars>&state={OAUTH_STATE}"
    assert cb["set_cookies"][0]["httponly"] and cb["set_cookies"][0]["samesite"] == "Lax"
    assert tok["oauth2"]["request"]["grant_type"] == "authorization_code"
    assert tok["oauth2"]["request"]["client_secret"] == f"<redacted {len(CLIENT_SECRET)} chars>"
    assert tok["oauth2"]["response"] == {"access_token": f"<redacted {len(ACCESS)} chars>", "token_type": "Bearer",
                                         "expires_in": 3600, "refresh_token": f"<redacted {len(REFRESH)} chars>",
                                         "id_token": "<redacted 11 chars>", "scope": "openid profile"}
    assert res["auth"]["scheme"] == "Bearer"
    assert ref["oauth2"]["response"] == {"error": "invalid_grant"}
    again = run(*oauth2_sessions()[0], host=host)[1]["requests"][0]  # the same state: the same flow
    assert again["oauth2"]["flow"] in flows
    new_authz = oauth2_sessions()[0][0].replace(OAUTH_STATE.encode(), b"another-state")
    other = run(new_authz, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", host=host)[1]["requests"][0]
    assert other["oauth2_step"] == "authorization_request" and other["oauth2"]["flow"] not in flows
    text = json.dumps(docs)
    for secret in (OAUTH_CODE, ACCESS, REFRESH, CLIENT_SECRET, "0123456789abcdef"):
        assert secret not in text


def test_oauth2_secrets_shown_on_request():
    host = PluginHost([HTTP1Plugin()], show_secrets=True)
    docs = [run(c, s, host=host)[1]["requests"][0] for c, s in oauth2_sessions()[:3]]
    assert docs[2]["oauth2"]["response"]["access_token"] == ACCESS
    assert docs[1]["target"] == f"/cb?code={OAUTH_CODE}&state={OAUTH_STATE}"


def test_bodies_are_bounded():
    big = b"a=" + b"x" * 200_000
    out, f = run(req("POST", "/big", "Content-Type: application/x-www-form-urlencoded\r\n", big),
                 b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    r = f["requests"][0]
    assert r["request_body_size"] == len(big) and "form_fields" not in r  # sizes only past 64 KB


# -- what the host is handed: which fields hold secrets, and the fields themselves ---------------------------

def _holds_secret(value: object) -> bool:
    if isinstance(value, (Secret, SecretText)):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret(v) for v in value)
    return False


def _plugin_output(plugin, client: bytes, server: bytes) -> tuple[list[Event], dict]:
    """The plugin's own events and session fields, as they are before the host scrubs them."""
    f = Flow(next(_ids), "10.0.0.1", 40000, "10.0.0.2", 443, 0.0)
    c, s = plugin.new_stream(f, CLIENT), plugin.new_stream(f, SERVER)
    evs = c.feed(client, 1.0) + s.feed(server, 1.0) + c.close(2.0) + s.close(2.0)  # the times run() gives
    return [e for e in evs if isinstance(e, (HTTPRequest, HTTPResponse))], plugin.on_session_end(f)


def _secret_cases() -> list[tuple[bytes, bytes]]:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    digest = 'Digest username="bob", realm="x", nonce="abc", uri="/", response="0123abcd"'
    return oauth2_sessions() + [
        (req("GET", "/"), ok),
        (req("GET", "/", "Cookie: sid=s3cr3t; theme=dark\r\nReferer: https://x.test/cb?code=abc\r\n"),
         b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=n3w; HttpOnly\r\nContent-Length: 0\r\n\r\n"),
        (req("GET", "/", "Authorization: Basic YWxpY2U6c2VjcmV0\r\nX-Api-Key: k3y\r\n"), ok),
        (req("GET", "/", f"Authorization: {digest}\r\n"), ok),
        (req("GET", "/", "Authorization: Basic !!!\r\n"), b"HTTP/1.1 302 Found\r\nLocation: /next\r\n\r\n"),
        (req("GET", "/", "Cookie: flag\r\n"), b"HTTP/1.1 200 OK\r\nSet-Cookie: empty=\r\nContent-Length: 0\r\n\r\n"),
    ]


def test_http_events_name_exactly_the_fields_that_hold_secrets():
    # the host scrubs only an event's secret_fields: a secret elsewhere would print redacted even with --show-secrets
    named = set()
    cases = [(HTTP1Plugin, c, s) for c, s in _secret_cases()] + [(HTTP2Plugin, *h2_reference())]
    for plugin, client, server in cases:
        evs, _ = _plugin_output(plugin(), client, server)
        assert evs
        for ev in evs:
            for name, value in ev.fields().items():
                assert _holds_secret(value) == (name in ev.secret_fields), (type(ev).__name__, name, value)
            named.update((type(ev).__name__, name) for name in ev.secret_fields)
    assert named == {("HTTPRequest", "target"), ("HTTPRequest", "headers"), ("HTTPRequest", "auth"),
                     ("HTTPResponse", "headers"), ("HTTPResponse", "set_cookies")}


def test_request_documents_marked_plain_hold_no_secret():
    # the host copies a Plain document without walking it: it must hold no secret at any depth
    kinds = set()
    cases = [(HTTP1Plugin, c, s) for c, s in _secret_cases()] + [(HTTP2Plugin, *h2_reference())]
    for plugin, client, server in cases:
        for doc in _plugin_output(plugin(), client, server)[1]["requests"]:
            kinds.add(type(doc))
            if type(doc) is Plain:
                assert not _holds_secret(doc), doc
    assert kinds == {Plain, dict}


def test_what_the_host_passes_on_matches_a_scrub_of_everything():
    for show in (False, True):
        for client, server in _secret_cases():
            out, fields = run(client, server, show_secrets=show)
            raw, raw_fields = _plugin_output(HTTP1Plugin(), client, server)
            got = [e.fields() for e in out if isinstance(e, (HTTPRequest, HTTPResponse))]
            assert got == [_scrub_all(e.fields(), show) for e in raw]
            assert fields == _scrub_all(raw_fields, show)
            assert not _holds_secret(got) and not _holds_secret(fields)
            assert all(type(d) is dict for d in fields["requests"])


def _scrub_all(value: object, show: bool) -> object:
    """A scrub that walks everything, Plain documents too."""
    if isinstance(value, dict):
        return {k: _scrub_all(v, show) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_all(v, show) for v in value]
    return scrub(value, show)


def test_http_event_fields_are_the_declared_ones_in_order():
    # what jsonl prints for HTTP events: the declared fields in declaration order, nothing private
    request_keys = ["stream", "method", "target", "host", "version", "headers", "body_size", "content_type",
                    "cookies", "auth", "oauth2_step", "complete"]
    response_keys = ["stream", "status", "reason", "version", "headers", "body_size", "content_type", "set_cookies",
                     "oauth2_step", "complete"]
    for ev in _plugin_output(HTTP1Plugin(), *oauth2_sessions()[2])[0]:
        if isinstance(ev, (HTTPRequest, HTTPResponse)):
            want = request_keys if isinstance(ev, HTTPRequest) else response_keys
            assert list(ev.fields()) == want
            assert list(ev.fields().values()) == [getattr(ev, k) for k in want]
    default = HTTPRequest(1.0, None, 1, "GET", "/", None, "HTTP/1.1")
    assert "_secrets" not in default.fields() and default.secret_fields == ("target", "headers", "auth")


# -- HTTP/2, with bytes made by hyper-h2 acting as both peers -------------------------------------------------

def h2_transcript(requests: list[tuple[list, bytes]], respond, push: dict | None = None) -> tuple[bytes, bytes]:
    """Run an h2 client and server in memory; return (client bytes, server bytes).

    `respond(stream_id, headers, body) -> (headers, body)`; `push` maps a stream id to (request headers,
    response headers, body) to push on it."""
    cl = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    sv = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    cl.initiate_connection()
    sv.initiate_connection()
    for headers, body in requests:
        sid = cl.get_next_available_stream_id()
        cl.send_headers(sid, headers, end_stream=not body)
        if body:
            cl.send_data(sid, body, end_stream=True)
    cbytes, sbytes = [], []
    got: dict[int, list] = {}
    outgoing: dict[int, bytes] = {}
    for _ in range(1000):
        c = cl.data_to_send()
        if c:
            cbytes.append(c)
            for ev in sv.receive_data(c):
                if isinstance(ev, h2.events.RequestReceived):
                    got[ev.stream_id] = [ev.headers, b""]
                elif isinstance(ev, h2.events.DataReceived):
                    got[ev.stream_id][1] += ev.data
                    sv.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    headers, body = respond(ev.stream_id, *got[ev.stream_id])
                    if push and ev.stream_id in push:
                        preq, presp, pbody = push[ev.stream_id]
                        pid = sv.get_next_available_stream_id()
                        sv.push_stream(ev.stream_id, pid, preq)
                        sv.send_headers(pid, presp, end_stream=not pbody)
                        if pbody:
                            outgoing[pid] = pbody
                    sv.send_headers(ev.stream_id, headers, end_stream=not body)
                    if body:
                        outgoing[ev.stream_id] = body
        for sid, body in list(outgoing.items()):
            while body:
                n = min(len(body), sv.local_flow_control_window(sid), sv.max_outbound_frame_size)
                if n <= 0:
                    break
                sv.send_data(sid, body[:n], end_stream=n == len(body))
                body = body[n:]
            if body:
                outgoing[sid] = body
            else:
                del outgoing[sid]
        s = sv.data_to_send()
        if s:
            sbytes.append(s)
            for ev in cl.receive_data(s):
                if isinstance(ev, h2.events.DataReceived):
                    cl.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        if not c and not s and not outgoing:
            break
    return b"".join(cbytes), b"".join(sbytes)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # 102408 bytes: more than one flow-control window


def _h2_respond(sid, headers, body):
    path = dict(headers)[b":path"]
    if path == b"/logo.png":
        return [(":status", "200"), ("content-type", "image/png"), ("set-cookie", "sid=abc123; Secure; HttpOnly")], PNG
    if path == b"/token":
        return [(":status", "200"), ("content-type", "application/json")], json.dumps(
            {"access_token": ACCESS, "token_type": "Bearer", "expires_in": 60}).encode()
    return [(":status", "404")], b""


H2_REQUESTS = [
    ([(":method", "GET"), (":path", "/logo.png"), (":authority", "x.test"), (":scheme", "https"),
      ("cookie", "a=1"), ("cookie", "b=2"), ("user-agent", "test/1.0")], b""),
    ([(":method", "POST"), (":path", "/token"), (":authority", "x.test"), (":scheme", "https"),
      ("content-type", "application/x-www-form-urlencoded"), ("authorization", "Basic " + base64.b64encode(b"app:pw").decode())],
     f"grant_type=client_credentials&scope=read&client_secret={CLIENT_SECRET}".encode()),
    ([(":method", "HEAD"), (":path", "/missing"), (":authority", "x.test"), (":scheme", "https")], b""),
]


@functools.cache
def h2_reference() -> tuple[bytes, bytes]:
    return h2_transcript(H2_REQUESTS, _h2_respond)


@pytest.fixture
def h2_bytes() -> tuple[bytes, bytes]:
    return h2_reference()


def test_h2_streams_headers_and_sizes(h2_bytes):
    c, s = h2_bytes
    assert c.startswith(b"PRI * HTTP/2.0")
    out, f = run(c, s, alpn="h2")
    assert f["protocol"] == "HTTP/2" and anomalies(out) == []
    reqs = f["requests"]
    assert [(r["stream"], r["method"], r["host"], r["target"], r["status"]) for r in reqs] == [
        (1, "GET", "x.test", "/logo.png", 200), (3, "POST", "x.test", "/token", 200), (5, "HEAD", "x.test", "/missing", 404)]
    png, token, head = reqs
    assert png["response_body_size"] == len(PNG) and png["content_type"] == "image/png"
    assert png["cookies"] == ["a", "b"]  # the split cookie headers, joined back
    assert png["set_cookies"][0]["secure"] and png["set_cookies"][0]["value"] == "<redacted 6 chars>"
    assert ["user-agent", "test/1.0"] in png["request_headers"]
    assert token["auth"] == {"scheme": "Basic", "user": "app", "password": "<redacted 2 chars>"}
    assert token["oauth2_step"] == "token_request" and token["oauth2_response_step"] == "token_response"
    assert token["oauth2"]["request"]["client_secret"] == f"<redacted {len(CLIENT_SECRET)} chars>"
    assert token["request_body_size"] == len(H2_REQUESTS[1][1])
    assert head["response_body_size"] == 0 and all(r["complete"] for r in reqs)
    assert ACCESS not in json.dumps(f) and CLIENT_SECRET not in json.dumps(f)
    kinds = [type(e).__name__ for e in out if isinstance(e, (HTTPRequest, HTTPResponse))]
    assert kinds.count("HTTPRequest") == 3 and kinds.count("HTTPResponse") == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 200_000), max_size=10), st.lists(st.integers(0, 200_000), max_size=25),
       st.lists(st.booleans(), max_size=40))
def test_h2_any_split_gives_the_same_requests(ccuts, scuts, picks):
    c, s = h2_reference()
    whole = run(c, s, alpn="h2")[1]
    out, f = run(b"", b"", alpn="h2", order=_interleave(_split(c, ccuts), _split(s, scuts), picks))
    assert f == whole and anomalies(out) == []


def test_h2_server_push_and_reset():
    push = {1: ([(":method", "GET"), (":path", "/style.css"), (":authority", "x.test"), (":scheme", "https")],
                [(":status", "200"), ("content-type", "text/css")], b"body{}")}
    c, s = h2_transcript(H2_REQUESTS[:1], _h2_respond, push=push)
    out, f = run(c, s, alpn="h2")
    by_path = {r["target"]: r for r in f["requests"]}
    assert by_path["/style.css"]["pushed"] is True and by_path["/style.css"]["response_body_size"] == 6
    assert by_path["/logo.png"]["status"] == 200

    cl = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    cl.initiate_connection()
    cl.send_headers(1, [(":method", "GET"), (":path", "/slow"), (":authority", "x"), (":scheme", "https")], end_stream=True)
    cl.reset_stream(1, error_code=8)
    out, f = run(cl.data_to_send(), b"", alpn="h2")
    assert f["requests"][0]["target"] == "/slow" and f["requests"][0]["reset"] == "CANCEL from client"


def test_h2_bad_preface_and_hpack_garbage_are_anomalies():
    out, f = run(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 20, b"", alpn="h2")
    assert "http2_no_preface" in anomalies(out) and "plugin_error" not in anomalies(out)
    bad = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x03\x01\x05\x00\x00\x00\x01" + b"\xff\xff\xff"
    out, f = run(bad, b"", alpn="h2")
    assert "http2_hpack_error" in anomalies(out) and "plugin_error" not in anomalies(out)


# -- real decrypted traffic ----------------------------------------------------------------------------------

def corpus_http(capture: str, keylogs=(), keys=()) -> list[dict]:
    from dissector.analysis import run_captures
    from dissector.keys import build_keystore

    store = build_keystore([str(CORPUS / k) for k in keylogs], list(keys), [])
    sessions: list[dict] = []
    run_captures([str(CORPUS / "captures" / capture)], store, on_session=sessions.append, plugins=load_plugins())
    return sorted(sessions, key=lambda d: d["id"])


@needs_corpus
def test_corpus_http2_data_reassembly_png():
    sessions = corpus_http("http2-data-reassembly.pcap", keylogs=["keys/http2-data-reassembly.keys"])
    (doc,) = sessions
    assert doc["alpn"] == "h2" and doc["http"]["protocol"] == "HTTP/2"
    (r,) = doc["http"]["requests"]
    assert (r["method"], r["host"], r["target"], r["scheme"], r["status"]) == (
        "GET", "172.16.5.10:8443", "/wireshark.png", "https", 200)
    assert r["content_type"] == "image/png" and r["response_body_size"] == 76091  # the PNG, IHDR to IEND
    assert r["complete"] and "anomalies" not in doc


@needs_corpus
def test_corpus_rsasnakeoil2_http11_over_ssl3():
    key = "127.0.0.1:443=" + str(CORPUS / "keys" / "rsasnakeoil2.key")
    s0, s1 = corpus_http("rsasnakeoil2.pcap", keys=[key])
    assert [(r["method"], r["target"], r["status"]) for r in s0["http"]["requests"]] == [
        ("GET", "/", 200), ("GET", "/icons/jhe061.png", 404), ("GET", "/test", 301), ("GET", "/test2/", 200),
        ("GET", "/icons/back.gif", 200), ("GET", "/test3/", 404)]
    assert [(r["target"], r["status"]) for r in s1["http"]["requests"]] == [
        ("/icons/debian/openlogo-25.jpg", 404), ("/icons/apache_pb.png", 200), ("/favicon.ico", 404),
        ("/test/", 200), ("/icons/blank.gif", 200)]
    first = s0["http"]["requests"][0]
    assert first["host"] == "localhost" and first["response_body_size"] == 5294
    assert first["content_type"] == "text/html; charset=UTF-8"
    # the same URIs as tshark's http.request.uri in Wireshark's own decryption test
    from tests.conftest import corpus_manifest

    cap = next(c for c in corpus_manifest()["captures"] if c["id"] == "rsasnakeoil2")
    observed = cap["wireshark_test_expectations"][0]["observed"]
    assert sorted({r["target"] for s in (s0, s1) for r in s["http"]["requests"]}) == sorted(observed)


@needs_corpus
def test_corpus_dmgr_login_form_and_cookies():
    (doc,) = corpus_http("dmgr.pcapng", keys=[str(CORPUS / "keys" / "key.p12") + ":WebAS"])
    reqs = doc["http"]["requests"]
    assert [(r["method"], r["target"], r["status"]) for r in reqs] == [
        ("GET", "/ibm/console/unsecureLogon.jsp", 200), ("GET", "/ibm/console/css/ISCTheme/en/Styles.css", 304),
        ("GET", "/ibm/console/images/loginBkgd.jpg", 304), ("GET", "/ibm/console/images/IBM_logo_87x30.png", 304),
        ("POST", "/ibm/console/login.do", 200), ("GET", "/ibm/console/secure/isclite/tiles/bannerframe.jsp", 200)]
    assert all(r["host"] == "localhost:9131" for r in reqs)
    login = reqs[4]
    assert login["request_body_size"] == 61 and login["credentials"] == {"source": "form", "user": "wsadmin"}
    assert [c["name"] for c in login["set_cookies"]] == [
        "com.ibm.ws.console.isBiDiEnabled", "com.ibm.ws.console.BiDiTextDirection", "com.ibm.ws.console.CSRFToken"]
    assert not any(c["httponly"] or c["secure"] for c in login["set_cookies"])
    assert reqs[0]["cookies"] == ["JSESSIONID"] and dict(reqs[0]["request_headers"])["Cookie"] == \
        "JSESSIONID=<redacted 30 chars>"
    assert reqs[0]["response_body_size"] > 0 and dict(reqs[0]["response_headers"])["Transfer-Encoding"] == "chunked"
    assert "0000UVp3b8BA4NmHe-mVDW_9ACc" not in json.dumps(doc)


@needs_corpus
def test_corpus_tls12_dsb_head_requests(capsys):
    s0, s1 = corpus_http("tls12-dsb.pcapng")
    for doc, host in ((s0, "example.com"), (s1, "example.net")):
        (r,) = doc["http"]["requests"]
        assert (r["method"], r["host"], r["target"], r["status"]) == ("HEAD", host, "/", 200)
        assert dict(r["response_headers"])["Content-Length"] == "606" and r["response_body_size"] == 0
        assert dict(r["request_headers"])["User-Agent"] == "curl/7.62.0"

    from dissector.cli import main

    assert main(["http", str(CORPUS / "captures" / "tls12-dsb.pcapng")]) == 0
    out = capsys.readouterr().out
    assert "example.com/" in out and "example.net/" in out and "HEAD" in out
    assert "2 request(s) in 2 decrypted of 2 TLS session(s)" in out
    assert main(["analyze", str(CORPUS / "captures" / "tls12-dsb.pcapng"), "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["http"]["requests"][0]["status"] for s in doc["sessions"]] == [200, 200]
    assert main(["analyze", str(CORPUS / "captures" / "tls12-dsb.pcapng"), "-f", "json", "--no-plugins"]) == 0
    assert "http" not in json.loads(capsys.readouterr().out)["sessions"][0]
    assert main(["analyze", str(CORPUS / "captures" / "tls12-dsb.pcapng"), "-f", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["method"] for d in lines if d["event"] == "HTTPRequest"] == ["HEAD", "HEAD"]


# -- robustness: damaged streams are anomalies, never plugin errors (mitmproxy test_tls_fuzz style) ----------

@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["h1", "h2"]), st.integers(0, 1 << 20), st.integers(0, 1 << 20), st.binary(max_size=64),
       st.booleans())
def test_damaged_streams_never_break_the_plugins(kind, ccut, scut, junk, junk_in_client):
    c, s = (H1_CLIENT, H1_SERVER) if kind == "h1" else h2_reference()
    c, s = c[:ccut % (len(c) + 1)], s[:scut % (len(s) + 1)]
    if junk_in_client:
        c += junk + c[len(c) // 2:]
    else:
        s += junk + s[len(s) // 2:]
    out, f = run(c, s, alpn="http/1.1" if kind == "h1" else "h2")
    assert "plugin_error" not in anomalies(out), [e.detail for e in out if isinstance(e, Anomaly)]
