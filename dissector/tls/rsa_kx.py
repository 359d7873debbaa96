"""RSA key exchange: private keys given on the command line, pre-master decryption, key/certificate matching.

Key specs are `[IP:PORT=]FILE[:PASSWORD]`, for example `key.pem`, `10.0.0.2:443=key.pem`,
`[2001:db8::1]:443=server.p12:secret`.

Password rule: a path may itself contain ':'. If the whole text after the optional `IP:PORT=` is an
existing file, it is the path and there is no password. Otherwise it is split at the LAST ':' whose left
part is an existing file (so, for `dir:x/key.p12:pa:ss`, the longest existing prefix wins and the password
may contain ':'). If no prefix is an existing file, the whole text is the path (loading will then report
the missing file) and there is no password.

Key files: PEM (PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY", encrypted PKCS#8 "ENCRYPTED PRIVATE KEY",
legacy encrypted PEM), DER (PKCS#1 or PKCS#8) and PKCS#12, including old RC2-40-encrypted bundles
(cryptography >= 42 reads them; it warns that such a bundle is BER, not DER, and that warning is silenced).
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_private_key, load_pem_private_key, pkcs12

from dissector.errors import KeyMaterialError

SSL3 = 0x0300


@dataclass(slots=True, frozen=True)
class KeySpec:
    server: tuple[str, int] | None  # (ip or host, port) the key is bound to, or None for any server
    path: str
    password: str | None


_SERVER = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.%a-zA-Z]+)\]|(?P<host>[^\s:=\[\]/]+)):(?P<port>\d{1,5})=(?P<rest>.*)$")


def parse_key_spec(spec: str, exists: Callable[[str], bool] = os.path.isfile) -> KeySpec:
    """Split `[IP:PORT=]FILE[:PASSWORD]` (see the module docstring for the password rule).

    `exists` decides which prefixes are files (tests pass their own). Raises KeyMaterialError for an
    empty spec, an empty file name or a port above 65535.
    """
    spec = spec.strip()
    server = None
    rest = spec
    m = _SERVER.match(spec)
    if m:
        port = int(m.group("port"))
        if port > 65535:
            raise KeyMaterialError(f"key spec {spec!r}: port {port} out of range")
        server = (m.group("v6") or m.group("host"), port)
        rest = m.group("rest")
    if not rest:
        raise KeyMaterialError(f"key spec {spec!r} names no key file")
    if exists(rest) or ":" not in rest:
        return KeySpec(server, rest, None)
    pos = len(rest)
    while (pos := rest.rfind(":", 0, pos)) > 0:
        if exists(rest[:pos]):
            return KeySpec(server, rest[:pos], rest[pos + 1:])
    return KeySpec(server, rest, None)


_PEM_KEY = re.compile(rb"-----BEGIN ((?:RSA |ENCRYPTED |EC |DSA )?PRIVATE KEY)-----.*?-----END \1-----", re.S)


def _describe(key) -> str:
    from cryptography.hazmat.primitives.asymmetric import dh, dsa, ec, ed448, ed25519, x448, x25519

    for kind, article in ((ec.EllipticCurvePrivateKey, "an EC"), (dsa.DSAPrivateKey, "a DSA"),
                          (ed25519.Ed25519PrivateKey, "an Ed25519"), (ed448.Ed448PrivateKey, "an Ed448"),
                          (x25519.X25519PrivateKey, "an X25519"), (x448.X448PrivateKey, "an X448"),
                          (dh.DHPrivateKey, "a DH")):
        if isinstance(key, kind):
            return article
    return "a non-RSA"


def read_key_file(path: str) -> bytes:
    """A key file's bytes; KeyMaterialError with a one-line reason when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read key file {path}: {exc.strerror or exc}") from None


def load_private_key(path: str, password: str | bytes | None = None, data: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM, DER or PKCS#12 (`data`: the file's bytes, when already read);
    KeyMaterialError with a one-line reason otherwise."""
    if data is None:
        data = read_key_file(path)
    pw = password.encode("utf-8") if isinstance(password, str) else password
    if pw == b"":
        pw = None

    if b"-----BEGIN" in data:
        m = _PEM_KEY.search(data)
        if m is None:
            raise KeyMaterialError(f"{path}: no private key in this PEM file")
        key = _load(path, lambda p: load_pem_private_key(m.group(0), p), pw)
    elif _looks_like_pfx(data):
        key = _load_pkcs12(path, data, pw)
    else:
        key = _load(path, lambda p: load_der_private_key(data, p), pw)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyMaterialError(f"{path} holds {_describe(key)} key, not an RSA key")
    return key


def _load(path: str, loader, pw: bytes | None):
    try:
        return loader(pw)
    except TypeError as exc:
        if "not encrypted" in str(exc).lower() and pw is not None:
            return _load(path, loader, None)  # a password for an unencrypted key: ignore it
        if _asks_for_password(exc):
            raise KeyMaterialError(f"{path} is encrypted: give the password as FILE:PASSWORD") from None
        raise KeyMaterialError(f"{path}: {exc}") from None
    except ValueError:
        # an encrypted key that does not load with the password given: the password is wrong, whatever the
        # error says (usually a padding failure; about once in 256 the garbage passes it and fails to parse)
        if pw is not None and _is_encrypted(loader):
            raise KeyMaterialError(f"{path}: wrong password") from None
        raise KeyMaterialError(f"{path} is not a private key file (PEM, DER or PKCS#12)") from None
    except Exception as exc:  # cryptography's UnsupportedAlgorithm and friends
        raise KeyMaterialError(f"{path}: {exc}") from None


def _asks_for_password(exc: TypeError) -> bool:
    """cryptography's TypeError for an encrypted key loaded without a password."""
    text = str(exc).lower()
    return "encrypted" in text and "not encrypted" not in text


def _is_encrypted(loader) -> bool:
    """Whether the key needs a password (the loader refuses to go on without one)."""
    try:
        loader(None)
    except TypeError as exc:
        return _asks_for_password(exc)
    except Exception:  # noqa: BLE001 - anything else: not known to be encrypted
        return False
    return False


def _load_pkcs12(path: str, data: bytes, pw: bytes | None):
    try:
        with warnings.catch_warnings():
            # Old (RC2-40) bundles are BER, not DER: cryptography reads them and warns; say nothing.
            warnings.filterwarnings("ignore", message="PKCS#12 bundle could not be parsed as DER")
            key, _cert, _extra = pkcs12.load_key_and_certificates(data, pw)
    except ValueError as exc:
        if "password" in str(exc).lower():
            return _pkcs12_password_error(path, data, pw)
        raise KeyMaterialError(f"{path} is not a private key file (PEM, DER or PKCS#12)") from None
    except Exception as exc:
        raise KeyMaterialError(f"{path}: {exc}") from None
    if key is None:
        raise KeyMaterialError(f"{path}: this PKCS#12 file holds no private key")
    return key


def _looks_like_pfx(data: bytes) -> bool:
    """A DER SEQUENCE whose first member is INTEGER 3 (the PFX version): a PKCS#12 file.

    PKCS#1 and PKCS#8 keys start with INTEGER 0, encrypted PKCS#8 with a SEQUENCE.
    """
    return data[:1] == b"\x30" and b"\x02\x01\x03" in data[2:7]


def _pkcs12_password_error(path: str, data: bytes, pw: bytes | None):
    # cryptography says "Invalid password or PKCS12 data" for both; the data is a PFX, so it is the password.
    if pw is None:
        raise KeyMaterialError(f"{path} is a password-protected PKCS#12 file: give it as FILE:PASSWORD")
    raise KeyMaterialError(f"{path}: wrong password")


def decrypt_premaster(key: rsa.RSAPrivateKey, encrypted: bytes, client_hello_version: int,
                      negotiated_version: int | None = None) -> bytes | None:
    """The 48-byte pre-master secret of an RSA ClientKeyExchange, or None if it does not decrypt.

    `encrypted` is the EncryptedPreMasterSecret; the 2-byte length that TLS (not SSL 3.0) puts in front of
    it is removed if present. PKCS#1 v1.5 with implicit rejection returns random bytes for a wrong key,
    so the result is only accepted if it is 48 bytes and starts with the ClientHello version (or with the
    negotiated version, which some old clients put there by mistake).
    """
    size = (key.key_size + 7) // 8
    data = bytes(encrypted)
    if len(data) == size + 2 and int.from_bytes(data[:2], "big") == size:
        data = data[2:]
    if len(data) > size:
        return None
    if len(data) < size:  # an encoder dropped leading zero bytes
        data = bytes(size - len(data)) + data
    try:
        pms = key.decrypt(data, padding.PKCS1v15())
    except ValueError:
        return None
    if len(pms) != 48:
        return None
    version = (pms[0] << 8) | pms[1]
    if version == client_hello_version or (negotiated_version is not None and version == negotiated_version):
        return pms
    return None


def _public_numbers(obj):
    if isinstance(obj, x509.Certificate):
        obj = obj.public_key()
    if isinstance(obj, rsa.RSAPrivateKey):
        obj = obj.public_key()
    if isinstance(obj, rsa.RSAPublicKey):
        return obj.public_numbers()
    return None


def public_key_matches(key, cert_public_key) -> bool:
    """Do an RSA private key and a certificate (or its public key) share the modulus and exponent?"""
    mine = _public_numbers(key)
    theirs = _public_numbers(cert_public_key)
    return mine is not None and theirs is not None and mine.n == theirs.n and mine.e == theirs.e
