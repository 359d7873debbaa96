"""`dissector connect HOST:PORT`: a TLS client that prints each handshake as dissector reads it.

It connects (loopback only, unless --allow-remote), performs the handshake with the given TLS options, sends
HTTP requests (default `GET /`), prints each response's status line and the handshake message by message
with timings (dissector's own parser over the bytes the client saw, decrypted with its own key log).
It can resume the session in a second connection (by session ID or ticket), send TLS 1.3 0-RTT early data,
send a TLS 1.3 KeyUpdate, renegotiate TLS 1.2, and run the OAuth2 authorization-code flow of `dissector
serve` (--oauth2-demo). With --capture it writes the traffic as a pcapng with the key log embedded.

Exit codes: 0 done; 2 usage error (bad options, a non-loopback host without --allow-remote, a file that
exists without --force); 3 failure (cannot connect, TLS handshake failed, unusable certificate or key,
an unexpected answer in the OAuth2 demo).
"""
from __future__ import annotations

import argparse
import codecs
import json
import os
import secrets
import shutil
import ssl
import sys
import tempfile
from urllib.parse import parse_qs, urlencode, urlsplit

from dissector.commands.serve import _sentence, add_tls_options, alpn_list

EXIT_OK, EXIT_USAGE, EXIT_FAIL = 0, 2, 3


def add_parser(sub) -> None:
    p = sub.add_parser("connect", help="TLS client: handshake, HTTP request, labelled handshake (loopback by default)",
                       description=_sentence(__doc__.split("\n\n")[0].split(": ", 1)[1]) + " "
                       + __doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("target", metavar="HOST:PORT", help="server address, e.g. 127.0.0.1:8443, [::1]:8443, localhost:8443")
    add_tls_options(p)
    c = p.add_argument_group("client")
    c.add_argument("--sni", metavar="NAME", help="server name to send (SNI) and to check the certificate against "
                                                 "(default: HOST when it is a name)")
    c.add_argument("--insecure", action="store_true", help="do not verify the server's certificate")
    c.add_argument("--allow-remote", action="store_true", help="allow a HOST that is not a loopback address")
    c.add_argument("--request", action="append", metavar="'METHOD /PATH [BODY]'",
                   help="HTTP request to send (repeatable; default 'GET /'); a BODY is sent as a form")
    c.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="extra request header (repeatable)")
    c.add_argument("--show-body", action="store_true", help="print the response bodies")
    c.add_argument("--resume", choices=["id", "ticket"],
                   help="connect a second time resuming the first session, by session ID (no tickets) or by ticket")
    c.add_argument("--early-data", metavar="TEXT",
                   help="TLS 1.3 0-RTT in a resumed second connection: 'METHOD /PATH' sends that request as early "
                        "data, other TEXT is sent as is (\\r\\n escapes allowed)")
    c.add_argument("--key-update", action="store_true", help="TLS 1.3: send KeyUpdate(update_requested) before the request")
    c.add_argument("--renegotiate", action="store_true", help="TLS 1.2: renegotiate before the request")
    c.add_argument("--oauth2-demo", action="store_true",
                   help="run the OAuth2 authorization-code flow of `dissector serve`: authorize, token, resource")
    c.add_argument("--oauth2-connections", type=int, choices=[1, 3], default=3,
                   help="the OAuth2 demo's steps over 3 connections (default) or 1")
    c.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="give up on a silent server after this long (default 10)")
    p.set_defaults(run=run)


def parse_target(text: str) -> tuple[str, int]:
    """'127.0.0.1:8443', '[::1]:8443', 'localhost:8443', 'localhost' (port 443) -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad address {text!r}: expected [IPv6]:PORT")
        port_text = rest[1:] or "443"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        raise ValueError(f"bad address {text!r}: write IPv6 addresses as [ADDRESS]:PORT")
    else:
        host, port_text = text, "443"
    if not host:
        raise ValueError(f"bad address {text!r}: no host")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad port {port_text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"bad port {port}")
    return host, port


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _headers(specs: list[str] | None) -> list[tuple[str, str]]:
    out = []
    for spec in specs or []:
        name, sep, value = spec.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
            raise ValueError(f"--header {spec!r}: expected 'NAME: VALUE'")
        out.append((name.strip(), value.strip()))
    return out


class _Run:
    """State of one `dissector connect` invocation."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="dissector-connect-")
        self.pair = None
        self.sink = None
        self.ctx: ssl.SSLContext | None = None
        self.count = 0
        self.failed = False

    def close(self) -> None:
        if self.ctx is not None:
            self.ctx.keylog_filename = None
        if self.sink is not None:
            self.sink.close()
        if self.pair is not None:
            self.pair.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    from dissector.endpoint.server import ServeError, UsageError

    state = _Run(args)
    try:
        return _run(args, state)
    except UsageError as exc:
        print(f"dissector connect: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServeError as exc:
        print(f"dissector connect: error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        state.close()


def _usage(msg: str) -> int:
    print(f"dissector connect: error: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace, state: _Run) -> int:
    from dissector.endpoint.client import parse_request_spec, resolve
    from dissector.endpoint.narrate import CaptureSink, KeylogTail, Narrator

    try:
        host, port = parse_target(args.target)
        requests = [parse_request_spec(r) for r in (args.request or ["GET /"])]
        headers = _headers(args.header)
    except ValueError as exc:
        return _usage(str(exc))
    order = ["1.0", "1.1", "1.2", "1.3"]
    if args.tls_min and args.tls_max and order.index(args.tls_min) > order.index(args.tls_max):
        return _usage(f"--tls-min {args.tls_min} is above --tls-max {args.tls_max}")
    if bool(args.cert) != bool(args.key):
        return _usage("--cert and --key go together (the client certificate and its key)")
    if args.timeout <= 0:
        return _usage("--timeout must be positive")
    if args.oauth2_demo and (args.request or args.early_data or args.resume):
        return _usage("--oauth2-demo runs its own requests: it does not combine with --request, --resume or --early-data")
    try:
        addresses = resolve(host, port, allow_remote=args.allow_remote)
    except ValueError as exc:
        return _usage(str(exc))

    ctx = _context(args, state)
    if args.capture:
        try:
            state.sink = CaptureSink(args.capture, force=args.force, application="dissector connect")
        except FileExistsError:
            return _usage(f"{args.capture} exists; use --force to overwrite it")
        except OSError as exc:
            print(f"dissector connect: error: cannot write {args.capture}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAIL
    narrator = Narrator(KeylogTail(state.keylog_path), state.sink)
    server_hostname = args.sni or (None if _is_ip(host) else host)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if port == 443 else f":{port}")
    session_maker = _Sessions(ctx, addresses, server_hostname, host_header, args, narrator, state)

    if args.oauth2_demo:
        code = _oauth2(session_maker, headers)
    else:
        code = _plain(session_maker, requests, headers)
    if state.sink is not None:
        state.sink.close()
        print(f"dissector connect: capture {args.capture}: {state.sink.connections} connection(s), "
              f"{state.sink.packets} packets, key log embedded", file=sys.stderr)
    return code


def _context(args: argparse.Namespace, state: _Run) -> ssl.SSLContext:
    """The client context: every TLS option applied by pair.TLSPair, then verification, certificate, key log."""
    from dissector.endpoint.client import describe_ssl_error, set_groups
    from dissector.endpoint.pair import PairOptions, TLSPair, Unsupported
    from dissector.endpoint.server import DEFAULT_CIPHERS, ServeError, load_cert_key, prepare_keylog, write_new_file

    opts = PairOptions(min_version=args.tls_min, max_version=args.tls_max, ciphers=args.ciphers or DEFAULT_CIPHERS,
                       tls13_ciphersuites=args.tls13_ciphers, no_ticket=args.no_tickets or args.resume == "id",
                       alpn=alpn_list(args.alpn), cert_type="ecdsa", verify=False, keylog=False)
    try:
        state.pair = pair = TLSPair(opts)
        ctx = pair.client_ctx
        if args.groups:
            set_groups(ctx, args.groups)
    except ssl.SSLError as exc:
        raise ServeError(f"this OpenSSL ({ssl.OPENSSL_VERSION}) rejects these TLS options: "
                         f"{describe_ssl_error(exc)}") from None
    except (ValueError, Unsupported) as exc:
        raise ServeError(f"cannot set up these TLS options: {exc}") from None
    if not args.insecure:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = True
        try:
            if args.ca:
                ctx.load_verify_locations(cafile=args.ca)
            else:
                ctx.load_default_certs()
        except FileNotFoundError:
            raise ServeError(f"cannot read the CA file {args.ca}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            raise ServeError(f"cannot use the CA file {args.ca}: {exc}") from None
    if args.cert:
        cert_pem, key_pem = load_cert_key(args.cert, args.key)
        cpath, kpath = os.path.join(state.tmp, "client.crt"), os.path.join(state.tmp, "client.key")
        write_new_file(cpath, cert_pem, 0o600, True)
        write_new_file(kpath, key_pem, 0o600, True)
        try:
            ctx.load_cert_chain(cpath, kpath)
        except ssl.SSLError as exc:
            raise ServeError(f"cannot use the client certificate and key: {exc}") from None
    state.keylog_path = args.keylog or os.path.join(state.tmp, "keylog.txt")
    prepare_keylog(state.keylog_path)
    ctx.keylog_filename = state.keylog_path
    state.ctx = ctx
    return ctx


class _Sessions:
    """Opens, drives, narrates and prints the connections of one invocation."""

    def __init__(self, ctx, addresses, server_hostname, host_header, args, narrator, state) -> None:
        self.ctx = ctx
        self.addresses = addresses
        self.server_hostname = server_hostname
        self.host_header = host_header
        self.args = args
        self.narrator = narrator
        self.state = state
        self.last_session: ssl.SSLSession | None = None

    def connect(self, requests, headers, session=None, early=None, key_update=False, renegotiate=False,
                title: str | None = None):
        """One connection; returns (ClientConnection or None, session document, error text or None)."""
        from dissector.endpoint.client import ClientConnection, PeerClosed, describe_ssl_error
        from dissector.endpoint.narrate import format_session

        self.state.count += 1
        title = title or f"connection {self.state.count}"
        try:
            conn = ClientConnection(self.ctx, self.addresses, self.server_hostname, self.host_header,
                                    timeout=self.args.timeout, session=session)
        except OSError as exc:
            reason = "connection refused (is the server running?)" if isinstance(exc, ConnectionRefusedError) \
                else (exc.strerror or str(exc) or type(exc).__name__)
            return None, None, f"cannot connect to {self.args.target}: {reason}"
        error = None
        stage = "handshake"
        try:
            conn.handshake(early)
            stage = "after the handshake"
            if session is not None:
                how = "a ticket (PSK)" if conn.obj.version() == "TLSv1.3" else (
                    "session ID" if self.args.resume == "id" else "session ticket")
                conn.note(f"resumption: the session was resumed with {how}" if conn.obj.session_reused
                          else "resumption: the server did not resume the session (full handshake)")
                if self.args.resume == "id" and conn.obj.version() == "TLSv1.3":
                    conn.note("resumption: TLS 1.3 has no session ID resumption; it always resumes with a ticket (PSK)")
            if renegotiate:
                conn.renegotiate()
            if key_update:
                conn.key_update()
            for item in requests:
                if callable(item):  # a request built from the previous response (the OAuth2 demo)
                    item = item(conn.responses[-1] if conn.responses else None)
                    if item is None:
                        break
                method, target, body, extra = item
                if conn.tls.eof:
                    conn.note(f"the server closed the connection: {method} {target} and later requests not sent")
                    break
                conn.request(method, target, body, list(headers) + list(extra))
            if not requests:
                conn.early_response()
            self.last_session = conn.session()
            conn.close()
        except ssl.SSLError as exc:
            error = ("handshake failed: " if stage == "handshake" else "") + describe_ssl_error(exc)
        except PeerClosed as exc:
            error = ("handshake failed: " if stage == "handshake" else "") + str(exc)
        except TimeoutError:
            error = f"the server sent nothing for {self.args.timeout:g} s"
        except OSError as exc:
            error = f"network error: {exc.strerror or exc}"
        finally:
            conn.abort()
        if error:
            conn.rec.error = error
            self.state.failed = True
        doc = self.narrator.conclude(conn.rec)
        print(format_session(conn.rec, doc, title), flush=True)
        for resp in conn.responses:
            print(resp.status_line, flush=True)
            if self.args.show_body and resp.body:
                sys.stdout.write(resp.body.decode("utf-8", "replace") + ("" if resp.body.endswith(b"\n") else "\n"))
        print(flush=True)
        return conn, doc, error


def _early(args: argparse.Namespace, headers: list[tuple[str, str]]):
    """--early-data: a request tuple for 'METHOD /path [BODY]', else the raw bytes."""
    if not args.early_data:
        return None
    from dissector.endpoint.client import parse_request_spec

    try:
        method, target, body = parse_request_spec(args.early_data)
        return (method, target, body, list(headers))
    except ValueError:
        return codecs.escape_decode(args.early_data.encode())[0]


def _plain(s: _Sessions, requests, headers) -> int:
    args = s.args
    reqs = [(m, t, b, []) for m, t, b in requests]
    conn, _, error = s.connect(reqs, headers, key_update=args.key_update, renegotiate=args.renegotiate)
    if error:
        print(f"dissector connect: error: {error}", file=sys.stderr)
        return EXIT_FAIL
    if args.resume or args.early_data:
        session = s.last_session
        if session is None:
            print("dissector connect: error: the server gave no session to resume", file=sys.stderr)
            return EXIT_FAIL
        early = _early(args, headers)
        conn2, _, error = s.connect(reqs, headers, session=session, early=early)
        if error:
            print(f"dissector connect: error: {error}", file=sys.stderr)
            return EXIT_FAIL
    return EXIT_OK


def _oauth2(s: _Sessions, headers) -> int:
    from dissector.endpoint.webapp import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REDIRECT_URI

    state = secrets.token_urlsafe(12)
    authorize = "/authorize?" + urlencode({"response_type": "code", "client_id": DEMO_CLIENT_ID,
                                           "redirect_uri": DEMO_REDIRECT_URI, "scope": "profile", "state": state})
    single = s.args.oauth2_connections == 1
    if single:
        return _oauth2_single(s, headers, authorize, state)

    def fail(step: str, why: str) -> int:
        print(f"dissector connect: error: OAuth2 demo, {step}: {why}", file=sys.stderr)
        return EXIT_FAIL

    conn, _, error = s.connect([("GET", authorize, b"", [])], headers, title="OAuth2 step 1 (authorization request)")
    if error or conn is None or not conn.responses:
        return fail("authorization request", error or "no response")
    code, why = _code_from(conn.responses[-1], state)
    if code is None:
        return fail("authorization request", why)
    token_body = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_REDIRECT_URI,
                            "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}).encode()
    conn, _, error = s.connect([("POST", "/token", token_body, [])], headers, title="OAuth2 step 2 (token request)")
    if error or conn is None or not conn.responses:
        return fail("token request", error or "no response")
    token, why = _token_from(conn.responses[-1])
    if token is None:
        return fail("token request", why)
    conn, _, error = s.connect([("GET", "/resource", b"", [("Authorization", f"Bearer {token}")])], headers,
                               title="OAuth2 step 3 (protected resource)")
    if error or conn is None or not conn.responses:
        return fail("resource request", error or "no response")
    if conn.responses[-1].status != 200:
        return fail("resource request", f"expected 200, got {conn.responses[-1].status_line}")
    print("dissector connect: OAuth2 authorization-code flow complete: authorize -> code -> token -> resource",
          file=sys.stderr)
    return EXIT_OK


def _oauth2_single(s: _Sessions, headers, authorize: str, state: str) -> int:
    """All three steps on one keep-alive connection (the next request depends on the previous answer)."""
    from dissector.endpoint.webapp import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REDIRECT_URI

    steps: dict = {}

    def token_request(prev):
        code, why = _code_from(prev, state)
        if code is None:
            steps["error"] = ("authorization request", why)
            return None
        return ("POST", "/token", urlencode({"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": DEMO_REDIRECT_URI, "client_id": DEMO_CLIENT_ID,
                                             "client_secret": DEMO_CLIENT_SECRET}).encode(), [])

    def resource_request(prev):
        token, why = _token_from(prev)
        if token is None:
            steps["error"] = ("token request", why)
            return None
        return ("GET", "/resource", b"", [("Authorization", f"Bearer {token}")])

    reqs = [("GET", authorize, b"", []), token_request, resource_request]
    conn, _, error = s.connect(reqs, headers, title="OAuth2 flow (one connection)")
    if error or conn is None:
        print(f"dissector connect: error: OAuth2 demo: {error or 'no connection'}", file=sys.stderr)
        return EXIT_FAIL
    if "error" in steps:
        step, why = steps["error"]
        print(f"dissector connect: error: OAuth2 demo, {step}: {why}", file=sys.stderr)
        return EXIT_FAIL
    if len(conn.responses) != 3 or conn.responses[-1].status != 200:
        print("dissector connect: error: OAuth2 demo: the flow did not complete", file=sys.stderr)
        return EXIT_FAIL
    print("dissector connect: OAuth2 authorization-code flow complete on one connection", file=sys.stderr)
    return EXIT_OK


def _code_from(resp, state: str) -> tuple[str | None, str]:
    if resp.status != 302:
        return None, f"expected a 302 redirect, got {resp.status_line}"
    location = resp.header("Location") or ""
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        return None, f"the server answered error={query['error'][0]}"
    if query.get("state", [None])[0] != state:
        return None, "the redirect does not carry our state (possible CSRF)"
    code = query.get("code", [None])[0]
    return (code, "") if code else (None, "no code in the redirect")


def _token_from(resp) -> tuple[str | None, str]:
    if resp.status != 200:
        return None, f"expected 200, got {resp.status_line}"
    try:
        doc = json.loads(resp.body)
    except ValueError:
        return None, "the token response is not JSON"
    if not isinstance(doc, dict) or doc.get("token_type", "").lower() != "bearer" or not doc.get("access_token"):
        return None, "no Bearer access_token in the token response"
    return doc["access_token"], ""
