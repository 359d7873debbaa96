"""Turning command-line key options into a KeyStore (the only place key files are read)."""
from __future__ import annotations

import re
import socket

from dissector.errors import KeyMaterialError
from dissector.tls.keystore import KeyStore, RSAKey


def build_keystore(keylogs: list[str] | None = None, key_specs: list[str] | None = None,
                   psks: list[str] | None = None) -> KeyStore:
    """Load every key option; raises KeyMaterialError (one line) for anything unusable."""
    store = KeyStore()
    for path in keylogs or []:
        try:
            store.keylog.load(path)
        except OSError as exc:
            raise KeyMaterialError(f"cannot read key log {path}: {exc.strerror or exc}") from None
    if key_specs:
        from dissector.tls import rsa_kx  # cryptography's x509 and key loading: only when keys are given
    for spec in key_specs or []:
        ks = rsa_kx.parse_key_spec(spec)
        data = rsa_kx.read_key_file(ks.path)  # (read once: what kind of key it holds is told by its content)
        ech_keys = _ech_keys(ks.path, data)
        if ech_keys:
            store.ech_keys += ech_keys
            continue
        openvpn_key = _openvpn_static_key(ks.path, data)
        if openvpn_key is not None:
            store.openvpn_keys.append(openvpn_key)
            continue
        key = rsa_kx.load_private_key(ks.path, ks.password, data)
        server = None
        if ks.server is not None:
            host, port = ks.server
            server = (_normalise_ip(host), port)
        store.rsa_keys.append(RSAKey(key, ks.path, server))
    for text in psks or []:
        identity, _, hex_text = text.rpartition("=")  # [IDENTITY=]HEX
        try:
            psk = bytes.fromhex(hex_text.strip().removeprefix("0x"))
        except ValueError:
            raise KeyMaterialError(f"--psk {text!r} is not hex ([IDENTITY=]HEX)") from None
        if not psk:
            raise KeyMaterialError("--psk is empty")
        store.psks.append(psk)
        if identity:
            store.psk_identities[identity] = psk
    return store


def _ech_keys(path: str, data: bytes) -> list:
    """The keys of an ECHConfig PEM file (a server's ECH key, RFC 9934), or [] for any other file."""
    from dissector.tls import ech

    return ech.load_ech_keys(path, data) if ech.is_ech_pem(data) else []


_OPENVPN_KEY = re.compile(r"-----BEGIN OpenVPN Static key V1-----(.*?)-----END OpenVPN Static key V1-----", re.S)


def _openvpn_static_key(path: str, data: bytes) -> bytes | None:
    """The 256 bytes of an OpenVPN static key file (`openvpn --genkey secret`: tls-auth, tls-crypt), or None for any
    other file."""
    if b"OpenVPN Static key" not in data:
        return None
    m = _OPENVPN_KEY.search(data.decode("ascii", "replace"))
    if m is None:
        return None
    try:
        key = bytes.fromhex("".join(m.group(1).split()))
    except ValueError:
        raise KeyMaterialError(f"{path}: an OpenVPN static key that is not hex") from None
    if len(key) != 256:
        raise KeyMaterialError(f"{path}: an OpenVPN static key of {len(key)} bytes, not 256")
    return key


def _normalise_ip(host: str) -> str:
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(fam, socket.inet_pton(fam, host))
        except OSError:
            continue
    return host
