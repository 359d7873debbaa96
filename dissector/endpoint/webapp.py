"""The small HTTP/1.1 application that `dissector serve` runs over TLS: sans-IO, bytes in, bytes out.

It exists to put on the wire what the HTTP plugin decodes:

- `GET /`: an HTML page (it greets the user when the `session` cookie is valid);
- `POST /login` (form `user`, `password`): sets `Set-Cookie: session=...; Path=/; HttpOnly; Secure; SameSite=Lax`;
- `GET /basic`: needs `Authorization: Basic` (401 with `WWW-Authenticate: Basic realm=...` otherwise);
- `GET /api/me`: needs `Authorization: Bearer <access token>` (401 with `WWW-Authenticate: Bearer ...`);
- OAuth2 authorization code flow (RFC 6749 section 4.1):
  `GET /authorize?response_type=code&client_id=..&redirect_uri=..&scope=..&state=..` -> 302 to redirect_uri with
  `code` and `state`; `POST /token` (form grant_type=authorization_code, code, redirect_uri, client_id,
  client_secret; or grant_type=refresh_token) -> JSON {access_token, token_type "Bearer", expires_in,
  refresh_token, scope}; `GET /resource` with the Bearer token.

`WebApp` holds the state shared by all connections (sessions, codes, tokens); `WebApp.connection()` gives an
`HTTPConnection` for one TCP/TLS connection: `receive(data) -> bytes` returns what to send back, `closed`
says whether the connection should be closed after sending it (Connection: close, HTTP/1.0, a protocol
error). `exchanges` lists (method, target, status) of the requests answered, for the narration.
Thread-safe: the shared state is guarded by a lock.
"""
from __future__ import annotations

import base64
import binascii
import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import h11

__all__ = ["WebApp", "HTTPConnection", "DEMO_USER", "DEMO_PASSWORD", "DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET",
           "DEMO_REDIRECT_URI", "REALM", "Exchange"]

DEMO_USER = "alice"
DEMO_PASSWORD = "wonderland"
DEMO_CLIENT_ID = "dissector-demo"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_REDIRECT_URI = "https://localhost/callback"
REALM = "dissector"
SERVER_NAME = "dissector-serve"
CODE_LIFETIME = 600.0
TOKEN_LIFETIME = 3600
MAX_BODY = 64 * 1024
MAX_STATE = 10_000  # sessions, codes and tokens kept (oldest dropped first)


@dataclass(slots=True)
class Exchange:
    method: str
    target: str
    status: int
    reason: str


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


_REASONS = {200: "OK", 204: "No Content", 302: "Found", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large", 500: "Internal Server Error"}


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n").encode()


def _json(status: int, obj: dict, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(status, (json.dumps(obj, indent=1) + "\n").encode(), "application/json",
                     (headers or []) + [("Cache-Control", "no-store"), ("Pragma", "no-cache")])


class _Store:
    """A bounded dict with expiry, oldest entries dropped first."""

    def __init__(self, limit: int = MAX_STATE) -> None:
        self.items: dict[str, tuple[float, dict]] = {}
        self.limit = limit

    def put(self, key: str, value: dict, lifetime: float, now: float) -> None:
        self.items[key] = (now + lifetime, value)
        while len(self.items) > self.limit:
            del self.items[next(iter(self.items))]

    def get(self, key: str, now: float) -> dict | None:
        item = self.items.get(key)
        if item is None:
            return None
        if item[0] < now:
            del self.items[key]
            return None
        return item[1]

    def pop(self, key: str, now: float) -> dict | None:
        value = self.get(key, now)
        self.items.pop(key, None)
        return value


class WebApp:
    """The application state shared by every connection of one server."""

    def __init__(self, users: dict[str, str] | None = None, clients: dict[str, str] | None = None,
                 token: Callable[[int], str] = secrets.token_urlsafe, clock: Callable[[], float] = time.time) -> None:
        self.users = users if users is not None else {DEMO_USER: DEMO_PASSWORD}
        self.clients = clients if clients is not None else {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}
        self.token = token
        self.clock = clock
        self.sessions = _Store()
        self.codes = _Store()
        self.access = _Store()
        self.refresh = _Store()
        self.lock = threading.Lock()

    def connection(self) -> HTTPConnection:
        return HTTPConnection(self)

    # -- request handling -------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Response:
        url = urlsplit(target)
        path, query = url.path or "/", dict(parse_qsl(url.query, keep_blank_values=True))
        routes = {
            "/": ("GET", self._index), "/login": ("POST", self._login), "/basic": ("GET", self._basic),
            "/api/me": ("GET", self._me), "/authorize": ("GET", self._authorize), "/token": ("POST", self._token),
            "/resource": ("GET", self._resource), "/logout": ("POST", self._logout),
        }
        route = routes.get(path)
        if route is None:
            return _Response(404, _page("Not found", f"<p>No page at {html.escape(path)}.</p>"))
        allowed, fn = route
        if method != allowed and not (method == "HEAD" and allowed == "GET"):
            return _Response(405, _page("Method not allowed", f"<p>Use {allowed}.</p>"), headers=[("Allow", allowed)])
        form = {}
        if method == "POST":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        with self.lock:
            return fn(query=query, form=form, headers=headers)

    def _index(self, headers: dict[str, str], **_: object) -> _Response:
        user = self._session_user(headers)
        who = f"<p>Logged in as {html.escape(user)}.</p>" if user else "<p>Not logged in.</p>"
        return _Response(200, _page("dissector serve", who + (
            "\n<form method=\"post\" action=\"/login\"><input name=\"user\"> <input name=\"password\" type=\"password\">"
            " <button>Log in</button></form>\n<ul><li><a href=\"/basic\">/basic</a> (HTTP Basic)</li>"
            "<li>/api/me (Bearer token)</li><li><a href=\"/authorize?response_type=code&amp;client_id="
            f"{DEMO_CLIENT_ID}&amp;redirect_uri={DEMO_REDIRECT_URI}&amp;scope=profile&amp;state=xyz\">OAuth2</a></li></ul>")))

    def _session_user(self, headers: dict[str, str]) -> str | None:
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "session":
                found = self.sessions.get(value, self.clock())
                if found:
                    return found["user"]
        return None

    def _login(self, form: dict[str, str], **_: object) -> _Response:
        user, password = form.get("user") or form.get("username", ""), form.get("password", "")
        if not user or self.users.get(user) != password:
            return _Response(401, _page("Login failed", "<p>Wrong user or password.</p>"))
        sid = self.token(24)
        self.sessions.put(sid, {"user": user}, 86400.0, self.clock())
        return _Response(200, _page("Welcome", f"<p>Logged in as {html.escape(user)}.</p>"),
                         headers=[("Set-Cookie", f"session={sid}; Path=/; HttpOnly; Secure; SameSite=Lax")])

    def _logout(self, headers: dict[str, str], **_: object) -> _Response:
        return _Response(200, _page("Logged out", "<p>Bye.</p>"),
                         headers=[("Set-Cookie", "session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")])

    def _basic(self, headers: dict[str, str], **_: object) -> _Response:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if user and self.users.get(user) == password:
                return _Response(200, _page("Basic authentication", f"<p>Hello {html.escape(user)}.</p>"))
        return _Response(401, _page("Authentication required", "<p>HTTP Basic credentials needed.</p>"),
                         headers=[("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')])

    def _bearer(self, headers: dict[str, str]) -> tuple[dict | None, _Response | None]:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, _json(401, {"error": "invalid_request", "error_description": "a Bearer token is required"},
                               [("WWW-Authenticate", f'Bearer realm="{REALM}"')])
        grant = self.access.get(value.strip(), self.clock())
        if grant is None:
            return None, _json(401, {"error": "invalid_token", "error_description": "unknown or expired token"},
                               [("WWW-Authenticate", f'Bearer realm="{REALM}", error="invalid_token"')])
        return grant, None

    def _me(self, headers: dict[str, str], **_: object) -> _Response:
        grant, error = self._bearer(headers)
        if error:
            return error
        assert grant is not None
        return _json(200, {"user": grant["user"], "client_id": grant["client_id"], "scope": grant["scope"]})

    def _resource(self, headers: dict[str, str], **_: object) -> _Response:
        grant, error = self._bearer(headers)
        if error:
            return error
        assert grant is not None
        return _json(200, {"resource": "the protected resource", "owner": grant["user"], "scope": grant["scope"],
                           "items": [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]})

    def _authorize(self, query: dict[str, str], headers: dict[str, str], **_: object) -> _Response:
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.clients or not redirect_uri.startswith(("https://", "http://")):
            # RFC 6749 4.1.2.1: do not redirect to an unverified URI
            return _Response(400, _page("Bad authorization request", "<p>Unknown client_id or bad redirect_uri.</p>"))
        state = query.get("state")
        params: dict[str, str] = {}
        if query.get("response_type") != "code":
            params["error"] = "unsupported_response_type"
        else:
            code = self.token(18)
            user = self._session_user(headers) or DEMO_USER  # the demo user consents automatically
            self.codes.put(code, {"client_id": client_id, "redirect_uri": redirect_uri, "user": user,
                                  "scope": query.get("scope", "")}, CODE_LIFETIME, self.clock())
            params["code"] = code
        if state is not None:
            params["state"] = state
        return _Response(302, b"", "text/plain", [("Location", _add_query(redirect_uri, params))])

    def _client_auth(self, form: dict[str, str], headers: dict[str, str]) -> str | None:
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret")
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":  # RFC 6749 2.3.1: client_secret_basic
            try:
                client_id, _, client_secret = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
        if client_id in self.clients and self.clients[client_id] == client_secret:
            return client_id
        return None

    def _token(self, form: dict[str, str], headers: dict[str, str], **_: object) -> _Response:
        client_id = self._client_auth(form, headers)
        if client_id is None:
            return _json(401, {"error": "invalid_client"}, [("WWW-Authenticate", f'Basic realm="{REALM}"')])
        now = self.clock()
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), now)
            if grant is None or grant["client_id"] != client_id or grant["redirect_uri"] != form.get("redirect_uri"):
                return _json(400, {"error": "invalid_grant"})
        elif grant_type == "refresh_token":
            grant = self.refresh.pop(form.get("refresh_token", ""), now)
            if grant is None or grant["client_id"] != client_id:
                return _json(400, {"error": "invalid_grant"})
        else:
            return _json(400, {"error": "unsupported_grant_type"})
        access, refresh = self.token(32), self.token(32)
        record = {"client_id": client_id, "user": grant["user"], "scope": grant["scope"],
                  "redirect_uri": grant.get("redirect_uri")}
        self.access.put(access, record, TOKEN_LIFETIME, now)
        self.refresh.put(refresh, record, 30 * 86400, now)
        return _json(200, {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                           "refresh_token": refresh, "scope": grant["scope"]})


def _add_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query and params else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class HTTPConnection:
    """One connection's HTTP/1.1 server state (h11): `receive(data) -> bytes to send`."""

    def __init__(self, app: WebApp) -> None:
        self.app = app
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
        self.closed = False
        self.exchanges: list[Exchange] = []
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._too_big = False

    def receive(self, data: bytes) -> bytes:
        """Feed bytes from the client (b"" = the client closed); returns the bytes to send back."""
        if self.closed:
            return b""
        self.h11.receive_data(data)
        out = bytearray()
        while not self.closed:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                out += self._error(exc.error_status_hint, str(exc))
                break
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if event is h11.PAUSED and self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
                    self.h11.start_next_cycle()
                    continue
                break
            if isinstance(event, h11.ConnectionClosed):
                self.closed = True
                break
            if isinstance(event, h11.Request):
                self._request, self._body, self._too_big = event, bytearray(), False
            elif isinstance(event, h11.Data):
                if len(self._body) + len(event.data) > MAX_BODY:
                    self._too_big = True
                else:
                    self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                out += self._respond()
                if self.h11.our_state is h11.MUST_CLOSE:
                    self.closed = True
                elif self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
                    self.h11.start_next_cycle()
        return bytes(out)

    def _respond(self) -> bytes:
        req = self._request
        assert req is not None
        method, target = req.method.decode("ascii", "replace"), req.target.decode("ascii", "replace")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in req.headers}
        if self._too_big:
            resp = _Response(413, _page("Too large", "<p>The request body is too large.</p>"))
        else:
            try:
                resp = self.app.handle(method, target, headers, bytes(self._body))
            except Exception as exc:  # noqa: BLE001 - a bug answers 500, the server keeps running
                resp = _Response(500, _page("Internal error", html.escape(f"{type(exc).__name__}: {exc}")))
        return self._send(method, target, resp)

    def _send(self, method: str, target: str, resp: _Response) -> bytes:
        reason = _REASONS.get(resp.status, "")
        body = b"" if method == "HEAD" else resp.body
        headers = [("Server", SERVER_NAME), ("Content-Type", resp.content_type),
                   ("Content-Length", str(len(resp.body)))] + resp.headers
        self.exchanges.append(Exchange(method, target, resp.status, reason))
        out = self.h11.send(h11.Response(status_code=resp.status, reason=reason.encode(), headers=headers)) or b""
        if body:
            out += self.h11.send(h11.Data(data=body)) or b""
        out += self.h11.send(h11.EndOfMessage()) or b""
        return out

    def _error(self, status: int, detail: str) -> bytes:
        self.closed = True
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return b""
        resp = _Response(status, _page("Bad request", f"<p>{html.escape(detail)}</p>"), headers=[("Connection", "close")])
        try:
            return self._send("", "?", resp)
        except h11.LocalProtocolError:
            return b""
