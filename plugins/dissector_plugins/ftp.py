"""FTP control connections, in the clear or decrypted (explicit FTPS after AUTH TLS/SSL, implicit on 990): who
logged in and whether it worked, the commands, and the files listed, fetched and stored.

The control channel is read line by line (RFC 959): USER and PASS make a login, whose result is the server's
reply to PASS (230 logged in, 530 refused; a 230 right after USER needs no password). The password is a `Secret`,
redacted unless --show-secrets; an anonymous login's "password" (by convention an e-mail address) is one too.
Transfers (RETR, STOR, STOU, APPE, LIST, NLST, MLSD) are listed with their argument and the final reply code.

Bounded: lines over MAX_LINE are skipped; at most MAX_ITEMS logins, commands and transfers are kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dissector.events import CLIENT, SERVER, Event, Flow
from dissector.plugins import SessionPlugin
from dissector.redact import Secret

MAX_LINE = 4096
MAX_ITEMS = 50
_PORTS = (21, 990)
_TRANSFERS = frozenset((b"RETR", b"STOR", b"STOU", b"APPE", b"LIST", b"NLST", b"MLSD"))
_ANONYMOUS = frozenset(("anonymous", "ftp"))


@dataclass(slots=True, eq=False)
class FTPLogin(Event):
    """A USER/PASS login on an FTP control connection, once the server has answered it (or the session ended)."""

    direction: str
    user: str | None
    password: Any = None  # a Secret; None when the server let the user in without one
    result: str | None = None  # "ok", "failed", or None when the capture has no answer
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)  # what the host redacts


def looks_like_ftp(data: bytes, direction: str, port: int) -> bool:
    """Does a control connection's first plaintext look like FTP: a server greeting naming FTP, or a first client
    command only FTP has (USER only on FTP's ports: POP3 has it too)?"""
    head = data[:64].upper()
    if direction == SERVER:
        return head.startswith((b"220 ", b"220-")) and b"FTP" in head
    return (head.startswith((b"AUTH TLS", b"AUTH SSL", b"FEAT", b"SYST", b"OPTS UTF8"))
            or (head.startswith(b"USER ") and port in _PORTS))


class _Session:
    """Both directions of one control connection."""

    def __init__(self) -> None:
        self.greeting: str | None = None
        self.user: str | None = None  # from the last USER
        self.pending: FTPLogin | None = None  # PASS sent (or USER, for a 230 without one), not yet answered
        self.logins: list[FTPLogin] = []
        self.commands: list[str] = []
        self.transfers: list[dict[str, Any]] = []
        self.transfer: dict[str, Any] | None = None  # waiting for its final reply

    def client_line(self, line: bytes, ts: float) -> list[Event]:
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        if len(self.commands) < MAX_ITEMS:
            self.commands.append(verb.decode("ascii", "replace"))
        if verb == b"USER":
            self.user = _text(arg)
            self.pending = FTPLogin(ts, None, CLIENT, self.user)  # answered 230: in without a password
        elif verb == b"PASS":
            self.pending = FTPLogin(ts, None, CLIENT, self.user, Secret(_text(arg)))
        elif verb in _TRANSFERS and len(self.transfers) < MAX_ITEMS:
            self.transfer = {"time": ts, "command": verb.decode(), "path": _text(arg) or None, "reply": None}
            self.transfers.append(self.transfer)
        return []

    def server_line(self, line: bytes, ts: float) -> list[Event]:
        code = line[:3]
        if not code.isdigit() or line[3:4] == b"-":
            return []  # a continued reply: its last line has the code and a space
        if self.greeting is None and code == b"220" and not self.commands:
            self.greeting = _text(line[4:])[:200]
            return []
        if self.transfer is not None and code[:1] in b"2345" and code not in (b"150", b"125"):
            self.transfer["reply"] = int(code)  # 226/250 done, 4xx/5xx not
            self.transfer = None
        if self.pending is None:
            return []
        if code == b"331" or code == b"332":  # the password (or an account) is next
            return []
        login, self.pending = self.pending, None
        if code == b"230" or code[:1] in b"45":
            login.result = "ok" if code == b"230" else "failed"
            if len(self.logins) < MAX_ITEMS:
                self.logins.append(login)
            return [login]
        return []

    def close(self) -> list[Event]:
        login, self.pending = self.pending, None
        if login is not None and login.password is not None and len(self.logins) < MAX_ITEMS:
            self.logins.append(login)  # a password with no answer in the capture
            return [login]
        return []

    def fields(self) -> dict[str, Any] | None:
        if self.greeting is None and not self.commands:
            return None
        return {"greeting": self.greeting, "logins": [
            {"time": x.ts, "user": x.user, "anonymous": (x.user or "").lower() in _ANONYMOUS, "password": x.password,
             "result": x.result} for x in self.logins], "commands": self.commands, "transfers": self.transfers}


class _Stream:
    """One direction of the control connection: bytes in, whole lines to the session."""

    def __init__(self, session: _Session, direction: str) -> None:
        self.session = session
        self.direction = direction
        self.buf = bytearray()
        self.skipping = False  # inside a line longer than MAX_LINE

    def feed(self, data: bytes, ts: float) -> list[Event]:
        self.buf += data
        events: list[Event] = []
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > MAX_LINE:
                    self.buf.clear()
                    self.skipping = True
                return events
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[:end + 1]
            if self.skipping:
                self.skipping = False
                continue
            if self.direction == CLIENT:
                events += self.session.client_line(line, ts)
            else:
                events += self.session.server_line(line, ts)

    def close(self, ts: float) -> list[Event]:
        return self.session.close() if self.direction == CLIENT else []


class FTPPlugin(SessionPlugin):
    """FTP control connections: logins (user, result; passwords redacted), commands and file transfers."""

    name = "ftp"
    section = "ftp"

    def match(self, info: Any) -> float:
        if info.alpn:
            return -1.0
        if looks_like_ftp(info.data, info.direction, info.server_port):
            return 0.9
        return 0.3 if info.server_port in _PORTS else -1.0

    def session(self, flow: Flow) -> _Session:
        return _Session()

    def stream(self, session: _Session, direction: str) -> _Stream:
        return _Stream(session, direction)


def _text(b: bytes) -> str:
    return b.strip().decode("utf-8", "replace")
