"""SMTP, IMAP and POP3 over decrypted TLS (after STARTTLS, or on 465/993/995): who logged in, how, and whether
it worked; the mail envelope.

The command streams are read line by line (IMAP literals `{n}` are read as data, SMTP message bodies after
DATA are skipped). Credentials are taken from every login the protocols define: SMTP `AUTH`, IMAP `LOGIN` and
`AUTHENTICATE`, POP3 `USER`/`PASS`, `APOP` and `AUTH`, with the SASL mechanisms PLAIN, LOGIN, XOAUTH2 and
OAUTHBEARER (user and secret), and CRAM-MD5, DIGEST-MD5 or SCRAM (user only: no password travels). Passwords and
tokens are `Secret`s: redacted unless --show-secrets. The server's answer (SMTP 235/5xx, the IMAP tagged reply,
POP3 +OK/-ERR) is the login's result.

Bounded: lines over MAX_LINE are skipped, at most MAX_ITEMS logins, commands and addresses are kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from dissector.events import CLIENT, SERVER, Event, Flow
from dissector.plugins import SessionPlugin
from dissector_plugins.sasl import credentials, decode_b64, secret, text

MAX_LINE = 8192
MAX_ITEMS = 50
_IMAP_TAGGED = re.compile(rb"^([A-Za-z0-9.]+) (CAPABILITY|NOOP|LOGOUT|STARTTLS|AUTHENTICATE|LOGIN|ID|ENABLE|SELECT|"
                          rb"EXAMINE|LIST|LSUB|STATUS|NAMESPACE)\b", re.IGNORECASE)
_IMAP_LITERAL = re.compile(rb"\{(\d{1,9})\+?\}$")
_ADDRESS = re.compile(rb"<([^>]{0,320})>")
_PORTS = {25: "SMTP", 465: "SMTP", 587: "SMTP", 2525: "SMTP", 143: "IMAP", 993: "IMAP", 110: "POP3", 995: "POP3"}


@dataclass(slots=True, eq=False)
class MailLogin(Event):
    """A login on an SMTP, IMAP or POP3 session, when the server has answered it (or the session ended)."""

    direction: str
    protocol: str
    command: str  # AUTH, AUTHENTICATE, LOGIN, USER/PASS, APOP
    mechanism: str | None  # the SASL mechanism (PLAIN, LOGIN, XOAUTH2...), None for plain commands
    user: str | None
    password: Any = None  # a Secret: a password or a bearer token; None when the mechanism sends none
    result: str | None = None  # "ok", "failed", or None when the capture has no answer
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)  # what the host redacts


def protocol_of(data: bytes, direction: str, port: int) -> str | None:
    """The protocol a session's first plaintext (and the server port) says, or None."""
    head = data[:64]
    if direction == CLIENT:
        if head[:5].upper() in (b"EHLO ", b"HELO ", b"LHLO "):
            return "SMTP"
        if _IMAP_TAGGED.match(head):
            return "IMAP"
        if head[:4].upper() in (b"CAPA", b"APOP", b"STLS") or (head[:5].upper() == b"AUTH " and port in (110, 995)):
            return "POP3"
        if head[:4].upper() == b"USER" and port not in (21, 990):  # (FTP has USER too)
            return "POP3"
    else:
        if head.startswith((b"220 ", b"220-")) and b"FTP" not in head.upper():
            return "SMTP"
        if head.startswith((b"* OK", b"* PREAUTH")):
            return "IMAP"
        if head.startswith(b"+OK"):
            return "POP3"
    return None


class _Session:
    """Both directions of one mail session: the logins in progress and what the session document shows."""

    def __init__(self, flow: Flow, protocol: str | None) -> None:
        self.flow = flow
        self.protocol = protocol
        self.greeting: str | None = None
        self.logins: list[MailLogin] = []
        self.pending: MailLogin | None = None  # sent, not yet answered
        self.sasl: dict[str, Any] | None = None  # a SASL exchange that needs more client lines
        self.tag = b""  # IMAP: the tag of the pending login
        self.commands: list[str] = []
        self.mail_from: list[str] = []
        self.rcpt_to: list[str] = []
        self.messages = 0
        self.pop_user: str | None = None
        self.seen_line = False
        self.data_sent = False  # SMTP: DATA went out; a 354 answer starts the message body
        self.in_data = False  # SMTP: the client is sending a message body (up to its "." line)

    # ------------------------------------------------------------------ client lines
    def client_line(self, line: bytes, ts: float, literals: list[bytearray]) -> list[Event]:
        if self.sasl is not None:  # a continuation line of a SASL exchange
            return self._sasl_line(line, ts)
        words = line.split(b" ")
        if self.protocol == "IMAP":
            if len(words) < 2:
                return []
            tag, words = words[0], words[1:]
        else:
            tag = b""
        verb = words[0].upper().decode("ascii", "replace")[:20]
        if len(self.commands) < MAX_ITEMS:
            self.commands.append(verb if verb != "UID" or len(words) < 2 else f"UID {words[1].upper().decode('ascii', 'replace')[:12]}")
        args = words[1:]
        if self.protocol == "SMTP":
            if verb == "MAIL":
                self._address(line, self.mail_from)
            elif verb == "RCPT":
                self._address(line, self.rcpt_to)
            elif verb == "DATA":
                self.data_sent = True
            elif verb == "AUTH" and args:
                return self._sasl_start("AUTH", args, ts)
        elif self.protocol == "IMAP":
            self.tag = tag
            if verb == "LOGIN":
                user, password = _imap_strings(b" ".join(args), literals)
                return self._pending(ts, MailLogin(ts, None, CLIENT, "IMAP", "LOGIN", None, user, secret(password)))
            if verb == "AUTHENTICATE" and args:
                return self._sasl_start("AUTHENTICATE", args, ts)
        elif self.protocol == "POP3":
            if verb == "USER" and args:
                self.pop_user = text(args[0])
            elif verb == "PASS":
                login = MailLogin(ts, None, CLIENT, "POP3", "USER/PASS", None, self.pop_user,
                                  secret(line[5:].decode("utf-8", "replace")))
                return self._pending(ts, login)
            elif verb == "APOP" and args:
                return self._pending(ts, MailLogin(ts, None, CLIENT, "POP3", "APOP", "APOP", text(args[0])))
            elif verb == "AUTH" and args:
                return self._sasl_start("AUTH", args, ts)
        return []

    def _address(self, line: bytes, into: list[str]) -> None:
        m = _ADDRESS.search(line)
        if m and len(into) < MAX_ITEMS:
            into.append(m.group(1).decode("utf-8", "replace"))

    def _sasl_start(self, command: str, args: list[bytes], ts: float) -> list[Event]:
        mechanism = args[0].upper().decode("ascii", "replace")[:30]
        self.sasl = {"command": command, "mechanism": mechanism, "user": None, "step": 0}
        if len(args) > 1 and args[1] != b"=":  # an initial response (SMTP AUTH, IMAP SASL-IR)
            return self._sasl_line(args[1], ts)
        if len(args) > 1:  # "=": an empty initial response
            return self._sasl_line(b"", ts)
        return []

    def _sasl_line(self, line: bytes, ts: float) -> list[Event]:
        sasl = self.sasl
        assert sasl is not None
        if line == b"*":  # the client cancelled
            self.sasl = None
            return []
        raw = decode_b64(line)
        mech = sasl["mechanism"]
        protocol = self.protocol or "?"
        if mech == "LOGIN":  # the user, then the password, each in a message of its own
            if sasl["step"] == 0:
                sasl["user"], sasl["step"] = text(raw), 1
                return []
            user, password = sasl["user"], secret(text(raw))
        else:
            user, password = credentials(mech, raw)
            if mech == "PLAIN" and user is None:
                self.sasl = None
                return []
        login = MailLogin(ts, None, CLIENT, protocol, sasl["command"], mech, user, password)
        self.sasl = None
        return self._pending(ts, login)

    def _pending(self, ts: float, login: MailLogin) -> list[Event]:
        events = self._settle(None, ts) if self.pending is not None else []
        self.pending = login
        return events

    # ------------------------------------------------------------------ server lines
    def server_line(self, line: bytes, ts: float) -> list[Event]:
        if self.greeting is None and not self.commands and protocol_of(line, SERVER, 0):
            self.greeting = line[:200].decode("utf-8", "replace")  # (implicit TLS: after STARTTLS there is none)
            return []
        if self.data_sent and self.protocol == "SMTP" and line[:1].isdigit():
            self.data_sent = False
            if line[:3] == b"354":
                self.in_data = True
                self.messages += 1
        if self.pending is None:
            return []
        if self.protocol == "SMTP":
            code = line[:3]
            if line[3:4] == b"-" or not code.isdigit() or code == b"334":
                return []  # a continued reply, or the next SASL prompt
            return self._settle("ok" if code[:1] == b"2" else "failed", ts)
        if self.protocol == "IMAP":
            if self.tag and line.startswith(self.tag + b" "):
                return self._settle("ok" if line[len(self.tag) + 1:len(self.tag) + 3].upper() == b"OK" else "failed", ts)
            return []
        if line.startswith(b"+OK"):
            return self._settle("ok", ts)
        if line.startswith(b"-ERR"):
            return self._settle("failed", ts)
        return []

    def _settle(self, result: str | None, ts: float) -> list[Event]:
        login, self.pending = self.pending, None
        if login is None:
            return []
        login.result = result
        if len(self.logins) < MAX_ITEMS:
            self.logins.append(login)
        return [login]

    def fields(self) -> dict[str, Any] | None:
        if self.protocol is None and not self.logins:
            return None
        doc: dict[str, Any] = {"protocol": self.protocol, "greeting": self.greeting, "logins": [
            {"time": x.ts, "command": x.command, "mechanism": x.mechanism, "user": x.user, "password": x.password,
             "result": x.result} for x in self.logins], "commands": self.commands}
        if self.protocol == "SMTP":
            doc.update({"mail_from": self.mail_from, "rcpt_to": self.rcpt_to, "messages": self.messages})
        return doc


class _Stream:
    """One direction: bytes in, whole lines (and IMAP literals) to the session."""

    def __init__(self, session: _Session, direction: str) -> None:
        self.session = session
        self.direction = direction
        self.buf = bytearray()
        self.literal = 0  # IMAP: bytes of a literal still to come
        self.literals: list[bytearray] = []  # the client's literals of the command being read
        self.skipping = False  # inside a line longer than MAX_LINE
        self.continued = b""  # IMAP client: the command line so far, when a literal interrupted it

    def feed(self, data: bytes, ts: float) -> list[Event]:
        self.buf += data
        events: list[Event] = []
        while self.buf:
            if self.literal:
                n = min(self.literal, len(self.buf))
                if self.literals and len(self.literals[-1]) < 1024:  # (only logins read them: short ones)
                    self.literals[-1] += self.buf[:n]
                del self.buf[:n]
                self.literal -= n
                continue
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > MAX_LINE:
                    self.buf.clear()
                    self.skipping = True
                break
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[:end + 1]
            if self.skipping:
                self.skipping = False
                continue
            events += self._line(line, ts)
        return events

    def _line(self, line: bytes, ts: float) -> list[Event]:
        s = self.session
        if not s.seen_line:  # the session's first line says the protocol better than the port
            s.seen_line = True
            s.protocol = protocol_of(line, self.direction, s.flow.server_port) or s.protocol
        if self.direction == CLIENT and s.in_data:  # an SMTP message body, up to its "." line
            s.in_data = line != b"."
            return []
        if s.protocol == "IMAP":
            m = _IMAP_LITERAL.search(line)
            if m and int(m.group(1)) <= 1 << 20:  # a literal follows: the line goes on after it
                self.literal = int(m.group(1))
                if self.direction == CLIENT:
                    self.continued += line[:m.start()] + b"{}"
                    if len(self.literals) < 4:
                        self.literals.append(bytearray())
                return []
            if self.continued:
                line, self.continued = self.continued + line, b""
        if self.direction == CLIENT:
            literals, self.literals = self.literals, []
            if s.protocol == "SMTP" and line[:5].upper() == b"BDAT ":  # CHUNKING (RFC 3030): a chunk of n bytes
                size = line.split(b" ")[1]
                self.literal = int(size) if size.isdigit() else 0
                s.messages += line.upper().endswith(b" LAST")
            return s.client_line(line, ts, literals)
        return s.server_line(line, ts)

    def close(self, ts: float) -> list[Event]:
        return self.session._settle(None, ts) if self.direction == CLIENT and self.session.pending else []


class MailPlugin(SessionPlugin):
    """SMTP, IMAP and POP3: logins (user, mechanism, result; passwords and tokens redacted) and the envelope."""

    name = "mail"
    section = "mail"

    def match(self, info: Any) -> float:
        if info.alpn:
            return -1.0
        if protocol_of(info.data, info.direction, info.server_port):
            return 0.9
        return 0.3 if info.server_port in _PORTS else -1.0

    def session(self, flow: Flow) -> _Session:
        return _Session(flow, _PORTS.get(flow.server_port))

    def stream(self, session: _Session, direction: str) -> _Stream:
        return _Stream(session, direction)


# --- small decoders ----------------------------------------------------------------------------------------------

def _imap_strings(args: bytes, literals: list[bytearray]) -> tuple[str | None, str | None]:
    """The two strings of `LOGIN user password`: atoms, "quoted" strings or literals (`{}` marks where one was)."""
    out: list[str] = []
    pos, lit = 0, iter(literals)
    while pos < len(args) and len(out) < 2:
        c = args[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c == b'"':
            end, value = pos + 1, bytearray()
            while end < len(args) and args[end:end + 1] != b'"':
                if args[end:end + 1] == b"\\":
                    end += 1
                value += args[end:end + 1]
                end += 1
            out.append(text(bytes(value)))
            pos = end + 1
        elif args[pos:pos + 2] == b"{}":
            out.append(text(bytes(next(lit, b""))))
            pos += 2
        else:
            end = args.find(b" ", pos)
            end = len(args) if end < 0 else end
            out.append(text(args[pos:end]))
            pos = end
    out += [None] * (2 - len(out))  # type: ignore[list-item]
    return out[0], out[1]
