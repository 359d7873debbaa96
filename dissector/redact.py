"""Secrets in plugin output: marked where they are found, redacted where they are shown.

A plugin wraps every secret it extracts (a password, a cookie value, a bearer token, an OAuth2 code...)
in `Secret`, and a string that contains secrets (a Cookie header, a query string) in `SecretText`.
The plugin host then calls `scrub(value, show_secrets)` on every event and field it passes on, which
turns them into plain strings: the real value with `--show-secrets`, else `"<redacted N chars>"`.
An event that names the fields holding secrets (`secret_fields`) has only those scrubbed, and a `Plain`
dict (vouched free of secrets) is not walked.

Safe by default: a `Secret` that escapes scrubbing prints (str, repr, JSON through `default=str`) redacted.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

# parameter names (query strings, form bodies, JSON token responses) whose values are secrets;
# state, client_id, scope, redirect_uri, token_type, expires_in are not
SECRET_PARAMS = frozenset({
    "code", "access_token", "refresh_token", "id_token", "client_secret", "client_assertion", "code_verifier",
    "password", "passwd", "pwd", "pass", "j_password", "passphrase", "secret", "token", "api_key", "apikey",
    "assertion", "device_code", "session_token", "auth_token", "sessionid", "session_id",
})
# header names whose whole value is a secret (Cookie, Set-Cookie and Authorization are parsed instead)
SECRET_HEADERS = frozenset({"x-api-key", "x-auth-token", "x-csrf-token", "x-xsrf-token", "x-amz-security-token",
                            "api-key", "x-access-token"})


def redacted(value: str | bytes) -> str:
    return f"<redacted {len(value)} chars>"


class Secret:
    """One secret value. str() and repr() never show it; `scrub(..., show_secrets=True)` does."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return redacted(self.value)

    __repr__ = __str__

    def __len__(self) -> int:
        return len(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Secret", self.value))


class SecretText:
    """A string made of plain parts and `Secret` parts, e.g. 'sid=' + Secret('abc') + '; lang=' + Secret('en')."""

    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[str | Secret]) -> None:
        self.parts = tuple(p for p in parts if p != "")

    def render(self, show_secrets: bool = False) -> str:
        if show_secrets:
            return "".join(p.value if isinstance(p, Secret) else p for p in self.parts)
        return "".join(str(p) for p in self.parts)

    def __str__(self) -> str:
        return self.render(False)

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretText) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(self.parts)


class Plain(dict):
    """A dict whose maker vouches that it holds no Secret or SecretText at any depth and will not change any
    more: scrub() copies it shallowly instead of walking it (most per-request documents of a busy plugin)."""

    __slots__ = ()


def text(parts: list[str | Secret]) -> str | SecretText:
    """A SecretText when any part is secret, else the plain string."""
    if any(isinstance(p, Secret) for p in parts):
        return SecretText(parts)
    return "".join(parts)  # type: ignore[arg-type]


def reveal(value: Any) -> Any:
    """The real value of a Secret or SecretText (for linking and comparisons inside a plugin)."""
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, SecretText):
        return value.render(True)
    return value


# leaves that are returned as they are, checked by exact type before any isinstance() walk
_LEAVES = frozenset({str, int, float, bool, type(None), bytes})


def scrub(value: Any, show_secrets: bool = False) -> Any:
    """A copy of `value` (dicts, lists, tuples nested) with every Secret/SecretText turned into a plain string.
    A `Plain` dict is copied shallowly, not walked."""
    t = type(value)
    if t in _LEAVES:
        return value
    leaves = _LEAVES  # skipped inline: a call per leaf would be most of the cost on big documents
    if t is dict:
        return {k: v if type(v) in leaves else scrub(v, show_secrets) for k, v in value.items()}
    if t is list:
        return [v if type(v) in leaves else scrub(v, show_secrets) for v in value]
    if t is SecretText:
        return value.render(show_secrets)
    if t is Secret:
        return value.value if show_secrets else redacted(value.value)
    if t is Plain:
        return dict(value)
    return _scrub_other(value, show_secrets)


def _scrub_other(value: Any, show_secrets: bool) -> Any:
    if isinstance(value, Secret):
        return value.value if show_secrets else redacted(value.value)
    if isinstance(value, SecretText):
        return value.render(show_secrets)
    if isinstance(value, dict):
        return {k: scrub(v, show_secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, show_secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub(v, show_secrets) for v in value)
    return value


def scrub_event(ev: Any, show_secrets: bool = False) -> Any:
    """Scrub an event's own fields in place (the event is the plugin's fresh object) and return it.

    An event that names the fields holding secrets in `secret_fields` (a tuple of names: a class attribute,
    or a property when the event knows it case by case) has only those scrubbed, the others are left alone:
    most events of a busy plugin carry no secret and need no walk at all."""
    names = getattr(ev, "secret_fields", None)
    items = ev.fields().items() if names is None else ((n, getattr(ev, n)) for n in names)
    for name, value in items:
        new = scrub(value, show_secrets)
        if new is not value:
            try:
                setattr(ev, name, new)
            except AttributeError:  # a read-only property: leave it
                pass
    return ev


# --- helpers for the usual places secrets hide in HTTP ---------------------------------------------------

def params_text(qs: str, secret_names: frozenset[str] = SECRET_PARAMS) -> str | SecretText:
    """A query string or form body with the values of secret parameters marked ("a=1&code=<redacted>")."""
    parts: list[str | Secret] = []
    for i, item in enumerate(qs.split("&")):
        if i:
            parts.append("&")
        name, eq, val = item.partition("=")
        if eq and val and unquote_plus(name).lower() in secret_names:
            parts += [name, "=", Secret(val)]
        else:
            parts.append(item)
    return text(parts)


def target_text(target: str) -> str | SecretText:
    """A request target with secret query (and fragment) parameters marked."""
    path, q, rest = target.partition("?")
    if not q:
        return target
    query, h, frag = rest.partition("#")
    out = params_text(query)
    parts: list[str | Secret] = [path, "?"] + (list(out.parts) if isinstance(out, SecretText) else [out])
    if h:
        f = params_text(frag)
        parts += ["#"] + (list(f.parts) if isinstance(f, SecretText) else [f])
    return text(parts)


def url_text(url: str) -> str | SecretText:
    """A URL (a Location header) with secret parameters in its query and fragment marked."""
    base, h, frag = url.partition("#")
    out = target_text(base) if "?" in base else base
    if not h:
        return out
    f = params_text(frag)
    parts = (list(out.parts) if isinstance(out, SecretText) else [out]) + ["#"]
    parts += list(f.parts) if isinstance(f, SecretText) else [f]
    return text(parts)


def cookie_text(value: str) -> str | SecretText:
    """A Cookie header with every cookie value marked secret."""
    parts: list[str | Secret] = []
    for i, item in enumerate(value.split(";")):
        if i:
            parts.append(";")
        name, eq, val = item.partition("=")
        parts.append(name + eq)
        if val:
            parts.append(Secret(val))
    return text(parts)


def set_cookie_text(value: str) -> str | SecretText:
    """A Set-Cookie header with the cookie value marked secret (attributes stay readable)."""
    first, semi, attrs = value.partition(";")
    name, eq, val = first.partition("=")
    return text([name, eq, Secret(val) if val else "", semi, attrs])


def authorization_text(value: str) -> str | SecretText:
    """An Authorization header: the scheme stays, the credentials are secret (Digest keeps its username)."""
    scheme, sp, cred = value.strip().partition(" ")
    if not cred:
        return text([Secret(value)]) if value else value
    if scheme.lower() == "digest":
        parts: list[str | Secret] = [scheme, sp]
        for i, item in enumerate(cred.split(",")):
            if i:
                parts.append(",")
            name, eq, val = item.partition("=")
            if name.strip().lower() in ("username", "realm", "uri", "algorithm", "qop", "nc"):
                parts.append(item)
            else:
                parts += [name, eq, Secret(val) if val else ""]
        return text(parts)
    return text([scheme, sp, Secret(cred)])


def _whole_secret(value: str) -> str | SecretText:
    return text([Secret(value)]) if value else value


# lower-cased header name -> how its value hides secrets; other headers are plain
_HEADER_MARKERS: dict[str, Callable[[str], str | SecretText]] = {
    "cookie": cookie_text, "set-cookie": set_cookie_text,
    "authorization": authorization_text, "proxy-authorization": authorization_text,
    "location": url_text, "content-location": url_text, "referer": url_text,
    **dict.fromkeys(SECRET_HEADERS, _whole_secret),
}


def header_text(name: str, value: str) -> str | SecretText:
    """A header value with whatever secrets it carries marked."""
    mark = _HEADER_MARKERS.get(name.lower())
    return value if mark is None else mark(value)


def auth_secret(auth: dict[str, Any]) -> Any:
    """The secret a `parse_authorization` dict holds (a password, a token or opaque credentials), or None."""
    return auth.get("password") or auth.get("token") or auth.get("credentials")


def parse_authorization(value: str) -> dict[str, Any]:
    """{'scheme': 'Basic', 'user': 'alice', 'password': Secret}, {'scheme': 'Bearer', 'token': Secret}, ..."""
    scheme, _, cred = value.strip().partition(" ")
    cred = cred.strip()
    out: dict[str, Any] = {"scheme": scheme}
    low = scheme.lower()
    if low == "basic":
        try:
            raw = base64.b64decode(cred, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            out["error"] = "credentials are not base64"
            out["credentials"] = Secret(cred)
            return out
        user, colon, password = raw.partition(":")
        out["user"] = user
        if colon:
            out["password"] = Secret(password)
    elif low == "bearer":
        out["token"] = Secret(cred)
    elif low == "digest":
        for item in cred.split(","):
            k, _, v = item.strip().partition("=")
            if k.lower() == "username":
                out["user"] = v.strip('"')
    elif cred:
        out["credentials"] = Secret(cred)
    return out
