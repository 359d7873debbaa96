"""HTTP/1.x over decrypted TLS: requests and responses paired, cookies, credentials and OAuth2 steps.

Passive parsing with h11, which is written for one side of a live connection:
- the client's bytes go into a SERVER-role connection, which yields requests; after each request a fresh
  connection takes over the unparsed rest (`trailing_data`), so keep-alive, pipelining and HTTP/1.0
  keep-alive all work without answering anything;
- the server's bytes go into a CLIENT-role connection that is first made to "send" (into the void) the
  request they answer: method (HEAD has no body), version, Connection and Upgrade headers, and no body
  (one h11 event per such shape, built once). h11 then frames the response exactly as the client would:
  1xx, 204/304, content-length, chunked, read-until-close. Server bytes that arrive before their request
  is known wait in a bounded buffer.

Memory is bounded: h11 never buffers bodies; we keep body sizes and at most 64 KB of form/JSON bodies
(for parameter extraction), at most MAX_EXCHANGES exchanges per session and 64 KB of header block.
Secrets are marked with dissector.redact.Secret and redacted by the host unless --show-secrets; each event
names the fields that hold one (`secret_fields`), so the host walks nothing else.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import h11

from dissector import compression
from dissector.events import CLIENT, SERVER, Anomaly, Event, Flow
from dissector.redact import (
    SECRET_PARAMS,
    Plain,
    Secret,
    SecretText,
    header_text,
    parse_authorization,
    reveal,
    target_text,
)

MAX_BODY_CAPTURE = 64 * 1024  # form / JSON bodies kept for parameter extraction
MAX_HEADER_BLOCK = 64 * 1024
MAX_EXCHANGES = 1000  # per session, in the session document
MAX_PENDING = 1000  # requests waiting for their response
MAX_WAITING = 1 << 20  # server bytes waiting for a request to pair with
MAX_HEADERS = 100  # per message, in the session document
METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
           b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"REPORT", b"SEARCH")

OAUTH2_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code", "grant_type",
                 "client_secret", "access_token", "token_type", "expires_in", "refresh_token", "id_token",
                 "code_challenge", "code_challenge_method", "code_verifier", "nonce", "error", "error_description")
STEP_ORDER = {"authorization_request": 0, "authorization_response": 1, "token_request": 2, "token_response": 3,
              "resource_request": 4}
USER_FIELDS = ("username", "user", "login", "email", "j_username", "userid", "user_id", "uname")
PASSWORD_FIELDS = ("password", "passwd", "pwd", "pass", "j_password", "passphrase")


# -- events ------------------------------------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class HTTPRequest(Event):
    """A complete HTTP request (HTTP/1.x or one HTTP/2 stream)."""

    stream: int  # HTTP/1: 1-based position on the connection; HTTP/2: stream id
    method: str
    target: Any  # str (secret query parameters redacted)
    host: str | None
    version: str
    headers: list = field(default_factory=list)
    body_size: int = 0
    content_type: str | None = None
    cookies: list = field(default_factory=list)  # cookie names
    auth: dict | None = None  # {"scheme": "Basic", "user": ..., "password": redacted} ...
    oauth2_step: str | None = None
    complete: bool = True
    _secrets: tuple[str, ...] = field(default=("target", "headers", "auth"), repr=False)  # see secret_fields
    summarized: ClassVar[bool] = True  # the session document's "http" section carries it

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """The fields that hold a Secret (the host scrubs only these): most requests carry none."""
        return self._secrets


@dataclass(slots=True, eq=False)
class HTTPResponse(Event):
    """A complete HTTP response, paired with its request by `stream`."""

    stream: int
    status: int
    reason: str | None
    version: str
    headers: list = field(default_factory=list)
    body_size: int = 0
    content_type: str | None = None
    set_cookies: list = field(default_factory=list)
    oauth2_step: str | None = None
    complete: bool = True
    _secrets: tuple[str, ...] = field(default=("headers", "set_cookies"), repr=False)  # see secret_fields
    summarized: ClassVar[bool] = True

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """The fields that hold a Secret (the host scrubs only these)."""
        return self._secrets


# -- helpers shared with http2 --------------------------------------------------------------------------

def _wants_body(content_type: str | None) -> bool:
    if not content_type:
        return False
    ct = content_type.split(";", 1)[0].strip().lower()
    return ct == "application/x-www-form-urlencoded" or ct == "application/json" or ct.endswith("+json")


def decode_content(raw: bytes, encoding: str | None) -> bytes | None:
    """A body with its Content-Encoding undone (gzip, deflate, br, zstd, also stacked); None when an
    encoding is unknown, the data is damaged, or it expands past MAX_BODY_CAPTURE (no bombs)."""
    if not encoding:
        return raw
    for name in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
        if name == "identity":
            continue
        if name not in _CONTENT_CODINGS:
            return None
        try:
            raw = compression.decompress(name, raw, MAX_BODY_CAPTURE + 1)
        except Exception:  # noqa: BLE001 - each library raises its own error type for damaged data
            return None
        if len(raw) > MAX_BODY_CAPTURE:
            return None
    return raw


_CONTENT_CODINGS = frozenset(("gzip", "x-gzip", "deflate", "br", "zstd"))  # HTTP's names among compression.CODECS


def parse_set_cookie(value: str) -> dict[str, Any]:
    """One Set-Cookie header: name, value (secret) and its attributes."""
    first, _, rest = value.partition(";")
    name, _, val = first.partition("=")
    out: dict[str, Any] = {"name": name.strip(), "value": Secret(val.strip()) if val.strip() else "",
                           "httponly": False, "secure": False, "samesite": None, "expires": None,
                           "max_age": None, "path": None, "domain": None}
    for attr in rest.split(";"):
        k, eq, v = attr.strip().partition("=")
        k = k.strip().lower()
        v = v.strip()
        if k == "httponly":
            out["httponly"] = True
        elif k == "secure":
            out["secure"] = True
        elif k == "samesite":
            out["samesite"] = v or None
        elif k == "expires":
            out["expires"] = v
        elif k == "max-age":
            try:
                out["max_age"] = int(v)
            except ValueError:
                out["max_age"] = v
        elif k == "path":
            out["path"] = v
        elif k == "domain":
            out["domain"] = v
        elif k == "partitioned":
            out["partitioned"] = True
    out["session"] = out["expires"] is None and out["max_age"] is None
    return out


def cookie_names(value: str) -> list[str]:
    return [item.partition("=")[0].strip() for item in value.split(";") if item.strip()]


def _param_value(name: str, value: Any) -> Any:
    if name in SECRET_PARAMS and value not in (None, ""):
        return Secret(value if isinstance(value, str) else json.dumps(value))
    return value


def _oauth2_params(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in OAUTH2_PARAMS and k not in out:
            out[k] = _param_value(k, v)
    return out


def _query_of(url: str) -> list[tuple[str, str]]:
    base, _, frag = url.partition("#")
    _, q, query = base.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True) if q else []
    if frag and "=" in frag:  # implicit flow: access_token in the fragment of a redirect
        pairs += parse_qsl(frag, keep_blank_values=True)
    return pairs


class OAuth2Links:
    """Links the steps of OAuth2 flows through the values they share (state, code, tokens).

    Only digests of the values are kept, in a bounded LRU map, so flows link across the sessions of a
    capture without keeping secrets around."""

    MAX_KEYS = 10000

    def __init__(self) -> None:
        self.keys: OrderedDict[bytes, int] = OrderedDict()
        self.next_id = 1
        self.steps: dict[int, list[tuple[float, int, str]]] = {}

    @staticmethod
    def _key(kind: str, value: Any) -> bytes:
        return hashlib.sha256(f"{kind}\0{reveal(value)}".encode()).digest()[:16]

    def link(self, values: list[tuple[str, Any]], known: int | None = None) -> int:
        keys = [self._key(k, v) for k, v in values if v not in (None, "")]
        fid = known
        if fid is None:
            for k in keys:
                if k in self.keys:
                    fid = self.keys[k]
                    break
        if fid is None:
            fid = self.next_id
            self.next_id += 1
        for k in keys:
            self.keys[k] = fid
            self.keys.move_to_end(k)
        while len(self.keys) > self.MAX_KEYS:
            self.keys.popitem(last=False)
        return fid

    def add_step(self, fid: int, step: str, ts: float) -> None:
        lst = self.steps.setdefault(fid, [])
        if len(lst) < 50:
            lst.append((ts, STEP_ORDER.get(step, 9), step))
        if len(self.steps) > self.MAX_KEYS:
            self.steps.pop(next(iter(self.steps)))

    def steps_of(self, fid: int) -> list[str]:
        """The flow's steps seen so far, in time order (protocol order for equal times)."""
        return [step for _, _, step in sorted(self.steps.get(fid, []))]


class Exchange:
    """One request and its response, as they are parsed; shared by HTTP/1.x and HTTP/2."""

    __slots__ = ("stream", "ts", "method", "target", "version", "req_headers", "req_body_size", "req_body",
                 "req_ct", "req_ce", "resp_ce", "req_done", "req_emitted", "resp_ts", "status", "reason", "resp_version", "resp_headers",
                 "resp_body_size", "resp_body", "resp_ct", "resp_done", "resp_emitted", "informational", "host",
                 "scheme", "cookies", "auth", "credentials", "form_fields", "set_cookies", "oauth2_step",
                 "oauth2_response_step", "oauth2_req", "oauth2_resp", "oauth2_flow", "pushed", "reset", "note",
                 "_location", "_target_out", "_req_out", "_resp_out", "_req_secrets", "_resp_secrets")

    def __init__(self, stream: int, ts: float) -> None:
        self.stream = stream
        self.ts = ts
        self.method: str | None = None
        self.target: str = ""
        self.version = "HTTP/1.1"
        self.req_headers: list[tuple[str, str]] = []
        self.req_body_size = 0
        self.req_body: bytearray | None = None
        self.req_ct: str | None = None
        self.req_ce: str | None = None  # Content-Encoding of the request body (gzip, br...)
        self.resp_ce: str | None = None
        self.req_done = False
        self.req_emitted = False
        self.resp_ts: float | None = None
        self.status: int | None = None
        self.reason: str | None = None
        self.resp_version: str | None = None
        self.resp_headers: list[tuple[str, str]] = []
        self.resp_body_size = 0
        self.resp_body: bytearray | None = None
        self.resp_ct: str | None = None
        self.resp_done = False
        self.resp_emitted = False
        self.informational: list[int] = []
        self.host: str | None = None
        self.scheme: str | None = None
        self.cookies: list[str] = []
        self.auth: dict | None = None
        self.credentials: dict | None = None
        self.form_fields: list[str] | None = None
        self.set_cookies: list[dict] = []
        self.oauth2_step: str | None = None
        self.oauth2_response_step: str | None = None
        self.oauth2_req: dict[str, Any] = {}
        self.oauth2_resp: dict[str, Any] = {}
        self.oauth2_flow: int | None = None
        self.pushed = False
        self.reset: str | None = None
        self.note: str | None = None
        self._location: str | None = None
        # what the request and response events show, made once for the events and the session document
        self._target_out: str | SecretText = ""
        self._req_out: list = []
        self._resp_out: list = []
        self._req_secrets: tuple[str, ...] = ()  # the request event's fields that hold a secret
        self._resp_secrets: tuple[str, ...] = ()

    # -- request -----------------------------------------------------------------------------------------
    def set_request(self, method: str, target: str, version: str, headers: list[tuple[str, str]]) -> None:
        self.method, self.target, self.version = method, target, version
        self.req_headers = headers
        self._target_out = target_text(target)
        self._req_out = _headers_out(headers)
        cookies: list[str] = []
        for name, value in headers:
            n = name.lower()
            if n == "host" and self.host is None:
                self.host = value
            elif n == "content-type":
                self.req_ct = value
            elif n == "content-encoding":
                self.req_ce = value
            elif n == "cookie":
                cookies += cookie_names(value)
            elif n == "authorization" and self.auth is None:
                self.auth = parse_authorization(value)
            elif n == "proxy-authorization" and self.auth is None:  # (to an HTTPS proxy: CONNECT, or a forwarded GET)
                self.auth = {**parse_authorization(value), "header": "Proxy-Authorization"}
        self.cookies = cookies
        held = (("target", type(self._target_out) is SecretText), ("headers", _secret_header(self._req_out)),
                ("auth", self.auth is not None and _secret_in(self.auth.values())))
        self._req_secrets = tuple(name for name, yes in held if yes)
        if _wants_body(self.req_ct):
            self.req_body = bytearray()

    def add_request_body(self, data: bytes | bytearray) -> None:
        self.req_body_size += len(data)
        body = self.req_body
        if body is not None:
            if len(body) + len(data) > MAX_BODY_CAPTURE:
                self.req_body = None  # too large to be a form or a token request: sizes only
            else:
                body += data

    def finish_request(self, links: OAuth2Links) -> None:
        self.req_done = True
        pairs = _query_of(self.target)
        json_body = None
        if self.req_body is not None:
            ct = (self.req_ct or "").split(";", 1)[0].strip().lower()
            raw = decode_content(bytes(self.req_body), self.req_ce)
            self.req_body = None
            if raw is None:
                pass  # an encoding we cannot undo, or larger than we keep: sizes only
            elif ct == "application/x-www-form-urlencoded":
                try:
                    form = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
                except ValueError:
                    form = []
                self.form_fields = [k for k, _ in form][:100]
                pairs += form
                self._form_credentials(form)
            else:
                json_body = _json_dict(raw)
                if json_body:
                    pairs += list(json_body.items())
        params = _oauth2_params(pairs)
        step = None
        if "response_type" in params:
            step = "authorization_request"
        elif "grant_type" in params:
            step = "token_request"
        elif ("code" in params or "error" in params) and "state" in params:
            step = "authorization_response"  # the browser bringing the code back to redirect_uri
        elif "code" in params and "redirect_uri" not in params and self.method == "GET":
            step = "authorization_response"
        elif self.auth and self.auth.get("scheme", "").lower() == "bearer":
            step = "resource_request"
        if step is None:
            return
        self.oauth2_step = step
        self.oauth2_req = params
        keys = [("state", params.get("state")), ("code", params.get("code")),
                ("refresh", params.get("refresh_token"))]
        if step == "resource_request":
            keys.append(("token", self.auth.get("token") if self.auth else None))
        self.oauth2_flow = links.link(keys, known=self.oauth2_flow)  # the response may have come first
        links.add_step(self.oauth2_flow, step, self.ts)

    def _form_credentials(self, form: list[tuple[str, str]]) -> None:
        user = password = None
        for k, v in form:
            lk = k.lower()
            if user is None and lk in USER_FIELDS:
                user = v
            elif password is None and lk in PASSWORD_FIELDS:
                password = v
        if user is not None or password is not None:
            self.credentials = {"source": "form", "user": user}
            if password is not None:
                self.credentials["password"] = Secret(password)

    # -- response ----------------------------------------------------------------------------------------
    def set_response(self, ts: float, status: int, reason: str | None, version: str,
                     headers: list[tuple[str, str]]) -> None:
        self.resp_ts = ts
        self.status, self.reason, self.resp_version = status, reason, version
        self.resp_headers = headers
        self._resp_out = _headers_out(headers)
        for name, value in headers:
            n = name.lower()
            if n == "content-type":
                self.resp_ct = value
            elif n == "content-encoding":
                self.resp_ce = value
            elif n == "set-cookie" and len(self.set_cookies) < 50:
                self.set_cookies.append(parse_set_cookie(value))
            elif n == "location":
                self._location = value
        held = (("headers", _secret_header(self._resp_out)),
                ("set_cookies", _secret_in([c["value"] for c in self.set_cookies])))
        self._resp_secrets = tuple(name for name, yes in held if yes)
        if _wants_body(self.resp_ct):
            self.resp_body = bytearray()

    def add_response_body(self, data: bytes | bytearray) -> None:
        self.resp_body_size += len(data)
        body = self.resp_body
        if body is not None:
            if len(body) + len(data) > MAX_BODY_CAPTURE:
                self.resp_body = None
            else:
                body += data

    def finish_response(self, links: OAuth2Links) -> None:
        self.resp_done = True
        params: dict[str, Any] = {}
        step = None
        if self._location and self.status is not None and 300 <= self.status < 400:
            params = _oauth2_params(_query_of(self._location))
            if "code" in params or "access_token" in params or ("error" in params and "state" in params):
                step = "authorization_response"
        if self.resp_body is not None:
            raw = decode_content(bytes(self.resp_body), self.resp_ce)
            data = _json_dict(raw) if raw is not None else None
            self.resp_body = None
            if data:
                p = _oauth2_params(data.items())
                if "access_token" in p or ("error" in p and self.oauth2_step == "token_request"):
                    step, params = "token_response", p
        if step is None:
            return
        self.oauth2_response_step = step
        self.oauth2_resp = params
        self.oauth2_flow = links.link([("state", params.get("state")), ("code", params.get("code")),
                                       ("token", params.get("access_token")),
                                       ("refresh", params.get("refresh_token"))], known=self.oauth2_flow)
        links.add_step(self.oauth2_flow, step, self.resp_ts if self.resp_ts is not None else self.ts)

    # -- output ------------------------------------------------------------------------------------------
    def request_event(self, flow: Flow | None) -> HTTPRequest:
        self.req_emitted = True
        return HTTPRequest(self.ts, flow, self.stream, self.method or "", self._target_out, self.host,
                           self.version, self._req_out, self.req_body_size, self.req_ct,
                           list(self.cookies), self.auth, self.oauth2_step, self.req_done, self._req_secrets)

    def response_event(self, flow: Flow | None, ts: float) -> HTTPResponse:
        self.resp_emitted = True
        return HTTPResponse(self.resp_ts if self.resp_ts is not None else ts, flow, self.stream, self.status or 0,
                            self.reason, self.resp_version or self.version, self._resp_out,
                            self.resp_body_size, self.resp_ct, list(self.set_cookies), self.oauth2_response_step,
                            self.resp_done, self._resp_secrets)

    def to_doc(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "time": self.ts, "stream": self.stream, "method": self.method, "host": self.host,
            "target": self._target_out, "version": self.version, "status": self.status,
            "reason": self.reason, "response_time": self.resp_ts,
            "request_headers": self._req_out, "response_headers": self._resp_out,
            "request_body_size": self.req_body_size, "response_body_size": self.resp_body_size,
            "request_content_type": self.req_ct, "content_type": self.resp_ct,
            "cookies": list(self.cookies), "set_cookies": list(self.set_cookies), "auth": self.auth,
            "oauth2_step": self.oauth2_step, "oauth2_response_step": self.oauth2_response_step,
            "complete": self.req_done and self.resp_done,
        }
        if self.oauth2_flow is not None:
            d["oauth2"] = {"flow": self.oauth2_flow, "request": self.oauth2_req, "response": self.oauth2_resp}
        if self.credentials:
            d["credentials"] = self.credentials
        if self.form_fields is not None:
            d["form_fields"] = self.form_fields
        if self.informational:
            d["informational"] = list(self.informational)
        if self.scheme:
            d["scheme"] = self.scheme
        if self.pushed:
            d["pushed"] = True
        if self.reset:
            d["reset"] = self.reset
        if self.note:
            d["note"] = self.note
        if self._req_secrets or self._resp_secrets or self.oauth2_flow is not None or self.credentials:
            return d
        return Plain(d)  # nothing secret in it: the host need not walk it


def _json_dict(raw: bytes) -> dict | None:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _headers_out(headers: list[tuple[str, str]]) -> list:
    return [[n, header_text(n, v)] for n, v in headers[:MAX_HEADERS]]


def _secret_in(values: Iterable[Any]) -> bool:
    """Whether any of these (flat) values is a Secret or a SecretText."""
    for v in values:
        if type(v) is SecretText or type(v) is Secret:
            return True
    return False


def _secret_header(headers: list[list]) -> bool:
    """Whether a value of these [name, value] pairs (from _headers_out) holds a secret."""
    for _, v in headers:
        if type(v) is SecretText:
            return True
    return False


def session_fields(protocol: str, exchanges: list[Exchange], dropped: int, links: OAuth2Links,
                   extra: dict | None = None) -> dict[str, Any] | None:
    """The session document's "http" section."""
    if not exchanges and not extra:
        return None
    reqs = [ex.to_doc() for ex in exchanges]
    out: dict[str, Any] = {"protocol": protocol, "requests": reqs}
    if dropped:
        out["requests_not_listed"] = dropped
    flows = sorted({ex.oauth2_flow for ex in exchanges if ex.oauth2_flow is not None})
    if flows:
        out["oauth2_flows"] = [{"flow": f, "steps": links.steps_of(f)} for f in flows]
    if extra:
        out.update(extra)
    return out


# -- HTTP/1.x --------------------------------------------------------------------------------------------

_EOM = h11.EndOfMessage()  # h11 events are immutable: one instance serves every send
_ANY_REQUEST = h11.Request(method=b"GET", target=b"/", headers=[(b"Host", b"unknown")])


def _h11_headers(headers: Any) -> list[tuple[str, str]]:
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers.raw_items()]


def _server_conn() -> h11.Connection:
    """A SERVER-role connection: it parses what the client sends."""
    return h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BLOCK)


def _framing_headers(ex: Exchange) -> tuple[tuple[str, str], ...]:
    return tuple((n, v) for n, v in ex.req_headers if n.lower() in ("connection", "upgrade"))


@functools.lru_cache(maxsize=256)
def _request_sent(method: str, headers: tuple[tuple[str, str], ...]) -> h11.Request:
    """The request that h11's client side "sends" before it reads the response to a request of this shape.

    Only what frames the response matters (HEAD, CONNECT, Connection and Upgrade), not the
    target or Host, so one validated event serves every request of a shape: building and checking h11
    events is a good part of h11's cost. h11 sends only HTTP/1.1, so an HTTP/1.0 request is sent as 1.1 with
    its method (a HEAD answer still has no body; the response's own version decides how it ends); a shape
    h11 refuses gets a plain GET."""
    try:
        request = h11.Request(method=method.encode("latin-1"), target=b"/", http_version=b"1.1",
                              headers=[(b"Host", b"unknown")] + [(n.encode("latin-1"), v.encode("latin-1"))
                                                                 for n, v in headers])
        trial = h11.Connection(h11.CLIENT)  # what send() refuses, it refuses for the whole shape
        trial.send(request)
        trial.send(_EOM)
    except (h11.LocalProtocolError, UnicodeError):
        return _ANY_REQUEST
    return request


def _protocol_error(exc: h11.RemoteProtocolError, side: str) -> str:
    """h11's reason, in words about the capture when the stream simply ends inside a message."""
    if "ConnectionClosed" in str(exc):
        message = "request" if side == "client" else "response"
        return f"the {side}'s stream ends before the {message} is complete (the connection closed, or its plaintext " \
               "stops there)"
    return f"{exc} (rest of the {side} stream not parsed)"


class _H1Flow:
    """Both directions of one HTTP/1.x connection."""

    def __init__(self, flow: Flow, links: OAuth2Links) -> None:
        self.flow = flow
        self.links = links
        self.exchanges: list[Exchange] = []
        self.dropped = 0
        self.count = 0
        self.pending: deque[Exchange] = deque()  # requests whose response has not ended
        self.req_conn: h11.Connection | None = None  # made when the next request's first bytes arrive
        self.cur_req: Exchange | None = None
        self.resp_conn: h11.Connection | None = None
        self.resp_buf = bytearray()  # server bytes that wait for their request
        self.resp_closed = False
        self.client_dead = False
        self.server_dead = False
        self.upgraded: str | None = None
        self.server_bytes = self.client_bytes = 0  # of each stream, all told

    # -- client -> server --------------------------------------------------------------------------------
    def feed_client(self, data: bytes, ts: float) -> list[Event]:
        self.client_bytes += len(data)
        if self.client_dead or self.upgraded:
            return []
        conn = self.req_conn
        if conn is None:
            conn = self.req_conn = _server_conn()
        conn.receive_data(data)
        out: list[Event] = []
        self._pump_requests(ts, out)
        return out

    def close_client(self, ts: float) -> list[Event]:
        out: list[Event] = []
        if not self.client_dead and not self.upgraded and self.req_conn is not None:
            self.req_conn.receive_data(b"")
            self._pump_requests(ts, out)
        ex = self.cur_req
        if ex is not None and not ex.req_emitted:
            ex.finish_request(self.links)
            ex.req_done = False
            out.append(ex.request_event(self.flow))
        return out

    def _pump_requests(self, ts: float, out: list[Event]) -> None:
        conn = self.req_conn
        while conn is not None:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self.client_dead = True
                out.append(Anomaly(ts, self.flow, "http", "http_request_error",
                                   f"request {self.count + 1}: {_protocol_error(exc, 'client')}", CLIENT))
                return
            t = type(ev)
            if t is h11.Data:
                if self.cur_req is not None:
                    self.cur_req.add_request_body(ev.data)
            elif t is h11.Request:
                self._request(ev, ts, out)
            elif t is h11.EndOfMessage:
                conn = self._request_end(conn, ts, out)
            else:  # NEED_DATA, ConnectionClosed (PAUSED cannot happen: the connection is renewed at each end)
                return

    def _request(self, ev: h11.Request, ts: float, out: list[Event]) -> None:
        self.count += 1
        ex = self.cur_req = Exchange(self.count, ts)
        ex.set_request(ev.method.decode("latin-1"), ev.target.decode("latin-1"),
                       "HTTP/" + ev.http_version.decode("latin-1"), _h11_headers(ev.headers))
        if len(self.exchanges) < MAX_EXCHANGES:
            self.exchanges.append(ex)
        else:
            self.dropped += 1
        if len(self.pending) < MAX_PENDING:
            self.pending.append(ex)
        self._responses_waiting(ts, out)

    def _responses_waiting(self, ts: float, out: list[Event]) -> None:
        """Parse server bytes that arrived before the request they answer (else wait for them)."""
        if self.resp_conn is None and (self.resp_buf or self.resp_closed) and not self.server_dead:
            self._pump_responses(ts, out)

    def _request_end(self, conn: h11.Connection, ts: float, out: list[Event]) -> h11.Connection | None:
        """Emit the request; the next one gets a fresh connection (keep-alive, pipelining and HTTP/1.0 alike),
        made now if bytes of it are already there."""
        ex = self.cur_req
        self.cur_req = None
        if ex is not None:
            ex.finish_request(self.links)
            out.append(ex.request_event(self.flow))
        rest, closed = conn.trailing_data
        nxt = None
        if rest or closed:
            nxt = _server_conn()
            if rest:
                nxt.receive_data(rest)
            if closed:
                nxt.receive_data(b"")
        self.req_conn = nxt
        self._responses_waiting(ts, out)
        return nxt

    # -- server -> client --------------------------------------------------------------------------------
    def feed_server(self, data: bytes, ts: float) -> list[Event]:
        self.server_bytes += len(data)
        if self.server_dead or self.upgraded:
            return []
        if self.resp_conn is None:
            self.resp_buf += data
        else:
            self.resp_conn.receive_data(data)
        out: list[Event] = []
        self._pump_responses(ts, out)
        return out

    def close_server(self, ts: float) -> list[Event]:
        out: list[Event] = []
        if not self.server_dead and not self.upgraded:
            if self.resp_conn is None:
                self.resp_closed = True
            else:
                self.resp_conn.receive_data(b"")
            self._pump_responses(ts, out)
        if self.pending and self.pending[0].status is not None and not self.pending[0].resp_emitted:
            ex = self.pending.popleft()
            out.append(ex.response_event(self.flow, ts))
        if self.resp_buf.strip() and not self.upgraded:
            out.append(Anomaly(ts, self.flow, "http", "http_response_without_request",
                               f"{len(self.resp_buf)} server bytes could not be paired with a request"
                               + ("" if self.client_bytes else " (the capture holds no bytes from the client on this "
                                  "connection: one direction only, or cut after the request)"), SERVER))
            self.resp_buf.clear()
        return out

    def _start_response(self) -> h11.Connection | None:
        """A CLIENT-role connection that has "sent" the oldest pending request, so that h11 frames the
        response exactly as that client would: 1xx, 204/304, HEAD, content-length, chunked, read-until-close."""
        ex = self.pending[0] if self.pending else None
        if ex is None:
            return None
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BLOCK)
        conn.send(_request_sent(ex.method or "GET", _framing_headers(ex)))
        conn.send(_EOM)
        if self.resp_buf:
            conn.receive_data(bytes(self.resp_buf))
            self.resp_buf.clear()
        if self.resp_closed:
            conn.receive_data(b"")
        self.resp_conn = conn
        return conn

    def _pump_responses(self, ts: float, out: list[Event]) -> None:
        while True:
            conn = self.resp_conn
            if conn is None:
                conn = self._start_response()
                if conn is None:
                    self._bound_waiting(ts, out)
                    return
            ex = self.pending[0]
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._response_error(ex, exc, ts, out)
                return
            t = type(ev)
            if t is h11.Data:
                ex.add_response_body(ev.data)
            elif t is h11.Response or (t is h11.InformationalResponse and ev.status_code == 101):
                ex.set_response(ts, ev.status_code, ev.reason.decode("latin-1"),
                                "HTTP/" + ev.http_version.decode("latin-1"), _h11_headers(ev.headers))
            elif t is h11.InformationalResponse:  # 100 Continue, 103 Early Hints...: the final response follows
                if len(ex.informational) < 10:
                    ex.informational.append(ev.status_code)
            elif t is h11.EndOfMessage:
                if not self._response_end(conn, ex, ts, out):
                    return
            elif ev is h11.PAUSED and conn.their_state is h11.SWITCHED_PROTOCOL:
                self._switched(ex, ts, out)
                return
            else:  # NEED_DATA, ConnectionClosed
                return

    def _bound_waiting(self, ts: float, out: list[Event]) -> None:
        if len(self.resp_buf) > MAX_WAITING:
            self.server_dead = True
            out.append(Anomaly(ts, self.flow, "http", "http_response_without_request",
                               f"{len(self.resp_buf)} server bytes without a request to answer "
                               "(rest of the server stream not parsed)", SERVER))
            self.resp_buf = bytearray()

    def _response_error(self, ex: Exchange, exc: h11.RemoteProtocolError, ts: float, out: list[Event]) -> None:
        self.server_dead = True
        why = _protocol_error(exc, "server") if self.server_bytes else \
            "the capture holds no bytes from the server on this connection (one direction only, or cut before the answer)"
        out.append(Anomaly(ts, self.flow, "http", "http_response_error", f"response to request {ex.stream}: {why}",
                           SERVER))
        if ex.status is not None and not ex.resp_emitted:
            self.pending.popleft()
            out.append(ex.response_event(self.flow, ts))

    def _response_end(self, conn: h11.Connection, ex: Exchange, ts: float, out: list[Event]) -> bool:
        """Emit the response; what follows it waits for the next request. False: nothing more to parse now."""
        self.pending.popleft()
        ex.finish_response(self.links)
        out.append(ex.response_event(self.flow, ts))
        rest, closed = conn.trailing_data
        self.resp_conn = None
        self.resp_buf = bytearray(rest)
        self.resp_closed = closed
        return bool(self.pending or rest)

    def _switched(self, ex: Exchange, ts: float, out: list[Event]) -> None:
        """101 Switching Protocols or a 2xx answer to CONNECT: what follows is not HTTP/1."""
        self.pending.popleft()
        ex.resp_done = True
        self.upgraded = "CONNECT tunnel" if ex.method == "CONNECT" else (
            next((v for n, v in ex.resp_headers if n.lower() == "upgrade"), None) or "unknown")
        ex.note = f"protocol switched to {self.upgraded}: not parsed further"
        out.append(ex.response_event(self.flow, ts))
        self.resp_conn = None

    def fields(self) -> dict[str, Any] | None:
        extra = {"upgraded": self.upgraded} if self.upgraded else None
        protocol = "HTTP/1.0" if self.exchanges and all(e.version == "HTTP/1.0" for e in self.exchanges) else "HTTP/1.1"
        return session_fields(protocol, self.exchanges, self.dropped, self.links, extra)


class _H1Stream:
    __slots__ = ("conn", "direction")

    def __init__(self, conn: _H1Flow, direction: str) -> None:
        self.conn = conn
        self.direction = direction

    def feed(self, data: bytes, ts: float) -> list[Event]:
        if self.direction == CLIENT:
            return self.conn.feed_client(data, ts)
        return self.conn.feed_server(data, ts)

    def close(self, ts: float) -> list[Event]:
        if self.direction == CLIENT:
            return self.conn.close_client(ts)
        return self.conn.close_server(ts)


def looks_like_http1(data: bytes) -> bool:
    if data.startswith(b"HTTP/1."):
        return True
    method, sp, _ = data[:16].partition(b" ")
    return bool(sp) and method in METHODS


class HTTP1Plugin:
    """HTTP/1.x requests and responses, cookies, credentials and OAuth2 steps (h11, passive)."""

    name = "http"
    section = "http"

    def __init__(self) -> None:
        self.links = OAuth2Links()
        self._flows: dict[Flow, _H1Flow] = {}

    def match(self, info: Any) -> float:
        alpn = (info.alpn or "").lower()
        if alpn == "h2" or info.data.startswith(b"PRI * HTTP/2.0"):
            return -1.0
        if alpn in ("http/1.1", "http/1.0", "http/0.9"):
            return 1.0
        return 0.8 if looks_like_http1(info.data) else -1.0

    def new_stream(self, flow: Flow, direction: str) -> _H1Stream:
        conn = self._flows.get(flow)
        if conn is None:
            conn = self._flows[flow] = _H1Flow(flow, self.links)
        return _H1Stream(conn, direction)

    def on_session_end(self, flow: Flow) -> dict[str, Any] | None:
        conn = self._flows.pop(flow, None)
        return conn.fields() if conn is not None else None
