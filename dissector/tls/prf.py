"""Key derivation for SSL 3.0 and TLS 1.0-1.2 (and DTLS 1.0/1.2): PRFs, master secret, key block, Finished.

Small pure functions over bytes. All hashing and HMAC goes through `cryptography`.

Versions are wire integers. DTLS 1.0 (0xfeff) and OpenSSL's pre-standard DTLS (0x0100) derive keys like
TLS 1.1, DTLS 1.2 (0xfefd) like TLS 1.2. TLS 1.3 has its own schedule (`schedule13.py`).

References: SSL 3.0 = RFC 6101 sections 5.6.3 (Finished) and 6.1-6.2 (key derivation); TLS 1.0 = RFC 2246
section 5 (PRF); TLS 1.2 = RFC 5246 section 5; extended master secret = RFC 7627; PSK = RFC 4279 section 2.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

SSL3 = 0x0300
TLS10 = 0x0301
TLS11 = 0x0302
TLS12 = 0x0303
TLS13 = 0x0304
DTLS10 = 0xFEFF
DTLS10_OPENSSL = 0x0100  # OpenSSL's DTLS1_BAD_VER, before RFC 4347 was final
DTLS12 = 0xFEFD

_TLS10_LIKE = frozenset((TLS10, TLS11, DTLS10, DTLS10_OPENSSL))
_TLS12_LIKE = frozenset((TLS12, DTLS12))

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """A `cryptography` hash object for "md5", "sha1", "sha256", "sha384" (any case, "SHA-256" too)."""
    try:
        return _HASHES[name.lower().replace("-", "")]()
    except KeyError:
        raise ValueError(f"unknown hash {name!r}") from None


def digest(name: str, data: bytes) -> bytes:
    h = hashes.Hash(hash_algorithm(name))
    h.update(data)
    return h.finalize()


def _label(label: bytes | str) -> bytes:
    return label.encode("ascii") if isinstance(label, str) else bytes(label)


def _family(version: int) -> str:
    """'ssl3', 'tls10' (TLS 1.0/1.1, DTLS 1.0) or 'tls12' (TLS 1.2, DTLS 1.2); ValueError otherwise."""
    if version == SSL3:
        return "ssl3"
    if version in _TLS10_LIKE:
        return "tls10"
    if version in _TLS12_LIKE:
        return "tls12"
    raise ValueError(f"no SSL 3.0 / TLS 1.0-1.2 key derivation for version 0x{version:04x}")


# --- PRFs ---------------------------------------------------------------------------------------------------

def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash(secret, seed) of RFC 5246 section 5, truncated to `length` bytes."""
    base = hmac.HMAC(bytes(secret), hash_algorithm(hash_name))
    out = bytearray()
    a = seed
    while len(out) < length:
        h = base.copy()
        h.update(a)
        a = h.finalize()
        h = base.copy()
        h.update(a)
        h.update(seed)
        out += h.finalize()
    return bytes(out[:length])


def ssl3_prf(secret: bytes, seed: bytes, length: int) -> bytes:
    """SSL 3.0 key expansion: MD5(secret + SHA1("A" + secret + seed)) + MD5(secret + SHA1("BB" + ...)) + ..."""
    secret = bytes(secret)
    seed = bytes(seed)
    out = bytearray()
    i = 0
    while len(out) < length:
        if i >= 26:
            raise ValueError("SSL 3.0 PRF output is limited to 26 MD5 blocks (416 bytes)")
        salt = bytes([0x41 + i]) * (i + 1)  # "A", "BB", "CCC", ...
        sha = hashes.Hash(hashes.SHA1())
        sha.update(salt + secret + seed)
        md5 = hashes.Hash(hashes.MD5())
        md5.update(secret + sha.finalize())
        out += md5.finalize()
        i += 1
    return bytes(out[:length])


def tls10_prf(secret: bytes, label: bytes | str, seed: bytes, length: int) -> bytes:
    """TLS 1.0/1.1 PRF: P_MD5(S1, label + seed) XOR P_SHA1(S2, label + seed), S1/S2 the two halves of secret."""
    secret = bytes(secret)
    half = (len(secret) + 1) // 2
    label_seed = _label(label) + bytes(seed)
    md5 = p_hash("md5", secret[:half], label_seed, length)
    sha = p_hash("sha1", secret[len(secret) - half:], label_seed, length)
    return (int.from_bytes(md5, "big") ^ int.from_bytes(sha, "big")).to_bytes(length, "big")


def tls12_prf(hash_name: str, secret: bytes, label: bytes | str, seed: bytes, length: int) -> bytes:
    """TLS 1.2 PRF: P_<hash>(secret, label + seed)."""
    return p_hash(hash_name, secret, _label(label) + bytes(seed), length)


def prf(version: int, prf_hash: str, secret: bytes, label: bytes | str, seed: bytes, length: int) -> bytes:
    """The TLS PRF of `version` (TLS 1.0/1.1: MD5+SHA1, TLS 1.2: `prf_hash`). Not defined for SSL 3.0."""
    family = _family(version)
    if family == "tls10":
        return tls10_prf(secret, label, seed, length)
    if family == "tls12":
        return tls12_prf(prf_hash, secret, label, seed, length)
    raise ValueError("SSL 3.0 has no labelled PRF")


# --- master secret and key block ----------------------------------------------------------------------------

def master_secret(version: int, prf_hash: str, pre_master: bytes, client_random: bytes, server_random: bytes,
                  session_hash: bytes | None = None) -> bytes:
    """The 48-byte master secret; with `session_hash`, the RFC 7627 extended master secret."""
    family = _family(version)
    if family == "ssl3":
        if session_hash is not None:
            raise ValueError("SSL 3.0 has no extended master secret")
        return ssl3_prf(pre_master, bytes(client_random) + bytes(server_random), 48)
    if session_hash is not None:
        return prf(version, prf_hash, pre_master, b"extended master secret", session_hash, 48)
    return prf(version, prf_hash, pre_master, b"master secret", bytes(client_random) + bytes(server_random), 48)


def key_block(version: int, prf_hash: str, master: bytes, client_random: bytes, server_random: bytes,
              length: int) -> bytes:
    """`length` bytes of key material (note the seed order: server random first)."""
    seed = bytes(server_random) + bytes(client_random)
    if _family(version) == "ssl3":
        return ssl3_prf(master, seed, length)
    return prf(version, prf_hash, master, b"key expansion", seed, length)


@dataclass(slots=True, frozen=True)
class KeyMaterial:
    client_mac_key: bytes
    server_mac_key: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def _sizes(suite) -> tuple[int, int, int]:
    """(mac_len, key_len, iv_len) taken from the key block for `suite`.

    Export suites take only `export_key_len` key bytes from the key block (5 for 40-bit ciphers);
    `export_key_material` then expands them to the cipher's `key_len`.
    """
    mode = suite.mode
    mac_len = 0 if mode == "aead" or not suite.mac else int(suite.mac_len or 0)
    key_len = int(suite.key_len or 0)
    if getattr(suite, "export", False) and getattr(suite, "export_key_len", 0):
        key_len = int(suite.export_key_len)
    iv_len = int(suite.iv_len or 0) if mode in ("cbc", "aead") else 0
    return mac_len, key_len, iv_len


def key_block_length(version: int, suite) -> int:
    """Bytes of key block `suite` needs: 2 x (MAC key + key + IV).

    CBC IVs are counted for every version: SSL 3.0 and TLS 1.0 use them, TLS 1.1+ derive them too (they
    come last, so the other values are the same either way) and ignore them. AEAD suites take the fixed
    IV (4 bytes for GCM/CCM, 12 for ChaCha20-Poly1305) and no MAC key.
    """
    _family(version)
    mac_len, key_len, iv_len = _sizes(suite)
    return 2 * (mac_len + key_len + iv_len)


def split_key_block(suite, block: bytes) -> KeyMaterial:
    """Cut a key block into client/server MAC keys, keys and IVs (RFC 5246 section 6.3 order)."""
    mac_len, key_len, iv_len = _sizes(suite)
    need = 2 * (mac_len + key_len + iv_len)
    if len(block) < need:
        raise ValueError(f"key block of {len(block)} bytes, {need} needed")
    b = bytes(block)
    parts = []
    pos = 0
    for size in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
        parts.append(b[pos:pos + size])
        pos += size
    return KeyMaterial(*parts)


def export_key_material(version: int, km: KeyMaterial, client_random: bytes, server_random: bytes,
                        final_key_len: int, iv_len: int) -> KeyMaterial:
    """Final write keys and IVs of an export suite (SSL 3.0: RFC 6101 6.2.2; TLS 1.0: RFC 2246 6.3).

    `km` holds the short (e.g. 5-byte) keys from the key block; `final_key_len` is the cipher's real key
    size (16 for RC4/RC2, 8 for DES). TLS 1.1 and later have no export suites.
    """
    cr, sr = bytes(client_random), bytes(server_random)
    family = _family(version)
    if family == "ssl3":
        def md5(data: bytes) -> bytes:
            return digest("md5", data)
        ck = md5(km.client_key + cr + sr)[:final_key_len]
        sk = md5(km.server_key + sr + cr)[:final_key_len]
        civ = md5(cr + sr)[:iv_len]
        siv = md5(sr + cr)[:iv_len]
    elif version == TLS10:
        ck = tls10_prf(km.client_key, b"client write key", cr + sr, final_key_len)
        sk = tls10_prf(km.server_key, b"server write key", cr + sr, final_key_len)
        iv_block = tls10_prf(b"", b"IV block", cr + sr, 2 * iv_len)
        civ, siv = iv_block[:iv_len], iv_block[iv_len:]
    else:
        raise ValueError(f"no export key derivation for version 0x{version:04x}")
    return KeyMaterial(km.client_mac_key, km.server_mac_key, ck, sk, civ, siv)


# --- handshake hashes and Finished ---------------------------------------------------------------------------

def session_hash(version: int, prf_hash: str, msgs: bytes) -> bytes:
    """RFC 7627 session_hash over the handshake messages: MD5 + SHA1 before TLS 1.2, the PRF hash after."""
    family = _family(version)
    if family == "tls12":
        return digest(prf_hash, msgs)
    return digest("md5", msgs) + digest("sha1", msgs)


_SSL3_PAD1 = b"\x36" * 48
_SSL3_PAD2 = b"\x5c" * 48


def _ssl3_finished_half(name: str, pad_len: int, master: bytes, msgs: bytes, sender: bytes) -> bytes:
    inner = hashes.Hash(hash_algorithm(name))
    inner.update(msgs)
    inner.update(sender)
    inner.update(master)
    inner.update(_SSL3_PAD1[:pad_len])
    outer = hashes.Hash(hash_algorithm(name))
    outer.update(master)
    outer.update(_SSL3_PAD2[:pad_len])
    outer.update(inner.finalize())
    return outer.finalize()


def finished_verify_data(version: int, prf_hash: str, master: bytes, from_client: bool,
                         handshake_hash_input: bytes) -> bytes:
    """The Finished body expected from the client (`from_client`) or the server.

    `handshake_hash_input` is every handshake message so far, headers included: 4-byte headers for TLS;
    for DTLS the 12-byte DTLS headers of the reassembled messages (fragment_offset 0, fragment_length =
    length), without the first ClientHello and the HelloVerifyRequest (RFC 6347 section 4.2.6).
    SSL 3.0 gives 36 bytes (MD5 + SHA1 halves), TLS 12 bytes.
    """
    master = bytes(master)
    msgs = bytes(handshake_hash_input)
    family = _family(version)
    if family == "ssl3":
        sender = b"CLNT" if from_client else b"SRVR"
        return (_ssl3_finished_half("md5", 48, master, msgs, sender)
                + _ssl3_finished_half("sha1", 40, master, msgs, sender))
    label = b"client finished" if from_client else b"server finished"
    return prf(version, prf_hash, master, label, session_hash(version, prf_hash, msgs), 12)


def psk_premaster(psk: bytes, other_secret: bytes | None = None) -> bytes:
    """RFC 4279 pre-master secret: uint16 len + other_secret + uint16 len + psk (zeros for plain PSK)."""
    psk = bytes(psk)
    other = bytes(len(psk)) if other_secret is None else bytes(other_secret)
    return len(other).to_bytes(2, "big") + other + len(psk).to_bytes(2, "big") + psk
