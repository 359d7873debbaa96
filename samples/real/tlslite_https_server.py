"""A small HTTPS/1.1 server on tlslite-ng, for the browser captures that need certificate compression
(RFC 8879: a CompressedCertificate message instead of Certificate), which neither Debian 12's OpenSSL 3.0
nor its GnuTLS 3.7 build can send. Run by make_nginx_captures.sh inside its server namespace:

    python3 tlslite_https_server.py ADDRESS PORT CERT KEY DOCROOT ALGORITHM

ALGORITHM is the one compression the server will use (zlib, brotli or zstd; tlslite-ng needs the brotli
and zstandard packages for the last two). Serves DOCROOT's files with GET, answers POST /login with a
session cookie, POST /token with an OAuth2 token (JSON, compressed with the Content-Encoding that matches
ALGORITHM: br, zstd or deflate) and GET /api/... with JSON, like nginx does for the other browser captures.
"""
from __future__ import annotations

import http.server
import socketserver
import sys
import zlib
from pathlib import Path

from tlslite.api import X509, HandshakeSettings, SessionCache, TLSError, X509CertChain, parsePEMKey
from tlslite.integration.tlssocketservermixin import TLSSocketServerMixIn

TOKEN = (b'{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,'
         b'"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}')


def _brotli(data: bytes) -> bytes:
    import brotli

    return brotli.compress(data)


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


# certificate compression algorithm -> (Content-Encoding of the token response, compressor)
CONTENT_CODINGS = {"brotli": ("br", _brotli), "zstd": ("zstd", _zstd), "zlib": ("deflate", zlib.compress)}


def main() -> None:
    address, port, cert_file, key_file, docroot, algorithm = sys.argv[1:7]
    x509 = X509()
    x509.parse(Path(cert_file).read_text())
    chain = X509CertChain([x509])
    key = parsePEMKey(Path(key_file).read_text(), private=True)
    settings = HandshakeSettings()
    settings.certificate_compression_send = [algorithm]
    cache = SessionCache()

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a browser expects

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=docroot, **kwargs)

        def _reply(self, body: bytes, ctype: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/token":  # the body goes compressed with the certificate's algorithm's sibling
                coding, compress = CONTENT_CODINGS[algorithm]
                accepted = [c.split(";")[0].strip() for c in self.headers.get("Accept-Encoding", "").split(",")]
                extra: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"),)
                body = TOKEN
                if coding in accepted:
                    body, extra = compress(body), extra + (("Content-Encoding", coding),)
                self._reply(body, "application/json", extra)
                return
            self._reply(b"welcome, alice\n", "text/plain",
                        (("Set-Cookie", "session=abc123; Path=/; HttpOnly; Secure; SameSite=Lax"),))

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/api/"):
                self._reply(b'{"user":"alice"}\n', "application/json")
            else:
                super().do_GET()

    class Server(socketserver.ThreadingMixIn, TLSSocketServerMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address) -> None:
            # the browser closing a kept-alive connection at exit makes tlslite's reader fail: one line
            print(f"connection from {client_address[0]}:{client_address[1]} ended: "
                  f"{sys.exc_info()[0].__name__}", file=sys.stderr, flush=True)

        def handshake(self, connection) -> bool:
            try:
                connection.handshakeServer(certChain=chain, privateKey=key, settings=settings,
                                           sessionCache=cache, alpn=[bytearray(b"http/1.1")])
            except TLSError as exc:
                print(f"handshake failed: {exc}", file=sys.stderr, flush=True)
                return False
            connection.ignoreAbruptClose = True
            print(f"handshake: {connection.version}, certificate compression "
                  f"{connection.server_cert_compression_algo}", file=sys.stderr, flush=True)
            return True

    Server((address, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
