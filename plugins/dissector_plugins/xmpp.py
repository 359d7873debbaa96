"""XMPP client streams (RFC 6120) over decrypted TLS (after STARTTLS, or direct TLS on 5223): the domain the
client asked for, its SASL logins (user, mechanism, result; PLAIN's password and OAuth tokens redacted unless
--show-secrets) and the address the server bound for it.

XMPP is a stream of XML elements that restarts after TLS and after SASL. The few elements that matter are found
in the text as it comes, without an XML parser (none is needed for these, and none then parses what a peer
sends): the stream header's `to`, `<auth mechanism=...>` and the `<response>`s after it, the server's `<success>`
or `<failure>`, and the `<jid>` of a resource binding. Each direction keeps at most MAX_BUFFER bytes of text that
holds no complete element of interest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from dissector.events import CLIENT, Event, Flow
from dissector.plugins import SessionPlugin
from dissector_plugins.sasl import credentials, decode_b64, secret, text

MAX_BUFFER = 1 << 16
MAX_LOGINS = 50
_PORTS = (5222, 5223)
_STREAM_TO = re.compile(rb"<(?:stream:)?stream\b[^>]*?\sto=['\"]([^'\"]{1,256})['\"]")
_AUTH = re.compile(rb"<auth\b[^>]*?\bmechanism=['\"]([A-Za-z0-9_-]{1,40})['\"][^>]*?(?:/>|>([^<]{0,16384})</auth>)")
_RESPONSE = re.compile(rb"<response\b[^>]*?(?:/>|>([^<]{0,16384})</response>)")
_RESULT = re.compile(rb"<(success|failure)\b")
_JID = re.compile(rb"<jid>([^<]{1,512})</jid>")


@dataclass(slots=True, eq=False)
class XMPPLogin(Event):
    """A SASL login on an XMPP stream, when the server has answered it (or the session ended)."""

    direction: str
    mechanism: str
    user: str | None
    password: Any = None  # a Secret: a password or an OAuth token; None when the mechanism sends none
    result: str | None = None  # "ok", "failed", or None when the capture has no answer
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)  # what the host redacts


class _Session:
    """Both directions of one XMPP stream."""

    def __init__(self) -> None:
        self.domain: str | None = None
        self.jid: str | None = None
        self.logins: list[XMPPLogin] = []
        self.pending: XMPPLogin | None = None  # a login the server has not answered yet
        self.login_user: list[str | None] | None = None  # LOGIN in progress: [its user, once sent]

    def client(self, buf: bytearray, ts: float) -> list[Event]:
        out: list[Event] = []
        if self.domain is None and (m := _STREAM_TO.search(buf)):
            self.domain = text(m.group(1))
        end = 0
        for m in _AUTH.finditer(buf):
            out += self._auth(m.group(1).decode("ascii").upper(), decode_b64(m.group(2) or b""), ts)
            end = m.end()
        if self.login_user is not None:
            for m in _RESPONSE.finditer(buf, end):  # LOGIN: the user, then the password, as challenge responses
                self._login_step(decode_b64(m.group(1) or b""), ts)
                end = m.end()
        _consume(buf, end)
        return out

    def server(self, buf: bytearray, ts: float) -> list[Event]:
        out: list[Event] = []
        end = 0
        for m in _RESULT.finditer(buf):
            out += self._settle("ok" if m.group(1) == b"success" else "failed")
            end = m.end()
        if (m := _JID.search(buf)) is not None:
            self.jid = text(m.group(1))
            end = max(end, m.end())
        _consume(buf, end)
        return out

    def _auth(self, mechanism: str, raw: bytes, ts: float) -> list[Event]:
        out = self._settle(None)  # (an earlier login the server never answered)
        if mechanism == "LOGIN":
            self.login_user = [text(raw) if raw else None]
        else:
            user, password = credentials(mechanism, raw)
            self.pending = XMPPLogin(ts, None, CLIENT, mechanism, user, password)
        return out

    def _login_step(self, raw: bytes, ts: float) -> None:
        assert self.login_user is not None
        if self.login_user[0] is None:
            self.login_user[0] = text(raw)
            return
        self.pending = XMPPLogin(ts, None, CLIENT, "LOGIN", self.login_user[0], secret(text(raw)))
        self.login_user = None

    def _settle(self, result: str | None) -> list[Event]:
        login, self.pending = self.pending, None
        if login is None or len(self.logins) >= MAX_LOGINS:
            return []
        login.result = result
        self.logins.append(login)
        return [login]

    def fields(self) -> dict[str, Any] | None:
        self._settle(None)
        if self.domain is None and not self.logins:
            return None
        return {"protocol": "XMPP", "domain": self.domain, "jid": self.jid, "logins": [
            {"time": x.ts, "mechanism": x.mechanism, "user": x.user, "password": x.password, "result": x.result}
            for x in self.logins]}


def _consume(buf: bytearray, end: int) -> None:
    """Drop what has been read, and never keep more than MAX_BUFFER bytes of text waiting for an element's end."""
    del buf[:end]
    if len(buf) > MAX_BUFFER:
        del buf[:len(buf) - MAX_BUFFER]


class _Stream:
    __slots__ = ("session", "direction", "buf")

    def __init__(self, session: _Session, direction: str) -> None:
        self.session = session
        self.direction = direction
        self.buf = bytearray()

    def feed(self, data: bytes, ts: float) -> list[Event]:
        self.buf += data
        return self.session.client(self.buf, ts) if self.direction == CLIENT else self.session.server(self.buf, ts)

    def close(self, ts: float) -> list[Event]:
        # the client's side ended: a login still waiting for its answer is reported without one
        return self.session._settle(None) if self.direction == CLIENT else []


class XMPPPlugin(SessionPlugin):
    """XMPP client streams: the domain, SASL logins (user, mechanism, result; secrets redacted), the bound JID."""

    name = "xmpp"
    section = "xmpp"

    def match(self, info: Any) -> float:
        if (info.alpn or "").lower() == "xmpp-client":  # XEP-0368 direct TLS
            return 1.0
        head = bytes(info.data[:64]).lstrip()
        if head.startswith((b"<?xml", b"<stream:stream")):
            return 0.9
        return 0.3 if info.server_port in _PORTS and not info.alpn else -1.0

    def session(self, flow: Flow) -> _Session:
        return _Session()

    def stream(self, session: _Session, direction: str) -> _Stream:
        return _Stream(session, direction)
