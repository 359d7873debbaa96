"""TLS cipher suites: one explicit row per suite.

The table below is written out by hand-reviewed rows (it is *not* derived from the suite names at
import time).  It holds every cipher suite assigned in the IANA "TLS Cipher Suites" registry plus a
few well-known unregistered code points that still show up in captures (marked "not IANA-assigned").

Column meanings (see :class:`Suite`):

* ``kx`` / ``auth``: key exchange and server authentication.  ``DH_anon`` / ``ECDH_anon`` suites are
  listed as ``kx="DHE"`` / ``kx="ECDHE"`` with ``auth="anon"``: their ServerKeyExchange carries
  ephemeral parameters without a signature.  TLS 1.3 suites use ``"TLS13"`` for both, the two
  signalling values use ``"SCSV"``.
* ``cipher`` / ``mode``: canonical bulk cipher name and ``"stream"``, ``"cbc"``, ``"aead"`` or ``"null"``.
* ``key_len``: cipher key bytes (for export ciphers: the *expanded* key; ``export_key_len`` is the
  secret part, 5 bytes for 40-bit, 7 for 56-bit, 8 for 56-bit DES).
* ``iv_len``: CBC: the block size (TLS 1.0 derives it from the key block; TLS 1.1+ sends it
  explicitly); TLS 1.2 GCM/CCM: the 4-byte implicit salt; ChaCha20-Poly1305 (RFC 7905) and TLS 1.3:
  the 12-byte static IV; stream/null: 0.
* ``block_size``: the underlying block cipher's block (also for GCM/CCM), 0 for stream ciphers.
* ``tag_len``: AEAD tag bytes, 0 otherwise.  ``mac`` / ``mac_len``: the record HMAC, None/0 for AEAD.
* ``prf_hash``: hash of the TLS 1.2 PRF / TLS 1.3 HKDF (``sha384`` for the SHA384 suites, otherwise
  ``sha256``; GOST suites use ``streebog256`` and the ShangMi suites ``sm3``).  SSL 3.0 and
  TLS 1.0/1.1 always use their fixed MD5+SHA-1 constructions whatever this says.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import is_grease

__all__ = [
    "DECRYPTABLE_CIPHERS",
    "SSL2_CIPHER_KINDS",
    "SUITES",
    "SUITES_BY_NAME",
    "Suite",
    "can_decrypt",
    "ssl2_cipher_name",
    "suite_name",
]


@dataclass(frozen=True, slots=True)
class Suite:
    code: int
    name: str  # IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    kx: str  # RSA DH DHE ECDH ECDHE PSK DHE_PSK RSA_PSK ECDHE_PSK SRP KRB5 ECCPWD GOSTR341112_256 TLS13 NULL SCSV
    auth: str  # RSA DSS ECDSA PSK SRP KRB5 ECCPWD GOSTR341112_256 anon NULL TLS13 SCSV
    cipher: str  # canonical bulk cipher, e.g. "AES-128-GCM", "3DES-EDE-CBC", "RC4-128", "NULL"
    mode: str  # "stream", "cbc", "aead" or "null"
    key_len: int
    iv_len: int
    block_size: int
    tag_len: int
    mac: str | None  # "MD5", "SHA1", "SHA256", "SHA384" (GOST: OMAC/IMIT); None for AEAD
    mac_len: int
    prf_hash: str  # "sha256" or "sha384" (GOST: "streebog256", ShangMi: "sm3")
    export: bool = False
    export_key_len: int = 0

    @property
    def tls13(self) -> bool:
        """True for the TLS 1.3 suites (HKDF key schedule, 12-byte per-record nonce)."""
        return self.kx == "TLS13"

    @property
    def aead(self) -> bool:
        return self.mode == "aead"


_S = Suite

# fmt: off
# code, name, kx, auth, cipher, mode, key_len, iv_len, block_size, tag_len, mac, mac_len, prf_hash[, export, export_key_len]
_ROWS: tuple[Suite, ...] = (
    # RFC 5246 / RFC 4346 / RFC 2246: RSA, DH, DHE, anon; export suites (RFC 4346)
    _S(0x0000, "TLS_NULL_WITH_NULL_NULL", "NULL", "NULL", "NULL", "null", 0, 0, 0, 0, None, 0, "sha256"),
    _S(0x0001, "TLS_RSA_WITH_NULL_MD5", "RSA", "RSA", "NULL", "null", 0, 0, 0, 0, "MD5", 16, "sha256"),
    _S(0x0002, "TLS_RSA_WITH_NULL_SHA", "RSA", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "RSA", "RSA", "RC4-40", "stream", 16, 0, 0, 0, "MD5", 16, "sha256", True, 5),
    _S(0x0004, "TLS_RSA_WITH_RC4_128_MD5", "RSA", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "MD5", 16, "sha256"),
    _S(0x0005, "TLS_RSA_WITH_RC4_128_SHA", "RSA", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", "RSA", "RSA", "RC2-CBC-40", "cbc", 16, 8, 8, 0, "MD5", 16, "sha256", True, 5),
    _S(0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", "RSA", "RSA", "IDEA-CBC", "cbc", 16, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", "RSA", "RSA", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", "RSA", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA", "DH", "DSS", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA", "DH", "DSS", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", "DH", "DSS", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA", "DH", "RSA", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA", "DH", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", "DH", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", "DHE", "DSS", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", "DHE", "DSS", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", "DHE", "DSS", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", "DHE", "RSA", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", "DHE", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", "DHE", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", "DHE", "anon", "RC4-40", "stream", 16, 0, 0, 0, "MD5", 16, "sha256", True, 5),
    _S(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", "DHE", "anon", "RC4-128", "stream", 16, 0, 0, 0, "MD5", 16, "sha256"),
    _S(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", "DHE", "anon", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA", "DHE", "anon", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", "DHE", "anon", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),

    # RFC 2712: Kerberos
    _S(0x001E, "TLS_KRB5_WITH_DES_CBC_SHA", "KRB5", "KRB5", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x001F, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA", "KRB5", "KRB5", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0020, "TLS_KRB5_WITH_RC4_128_SHA", "KRB5", "KRB5", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x0021, "TLS_KRB5_WITH_IDEA_CBC_SHA", "KRB5", "KRB5", "IDEA-CBC", "cbc", 16, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0022, "TLS_KRB5_WITH_DES_CBC_MD5", "KRB5", "KRB5", "DES-CBC", "cbc", 8, 8, 8, 0, "MD5", 16, "sha256"),
    _S(0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5", "KRB5", "KRB5", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "MD5", 16, "sha256"),
    _S(0x0024, "TLS_KRB5_WITH_RC4_128_MD5", "KRB5", "KRB5", "RC4-128", "stream", 16, 0, 0, 0, "MD5", 16, "sha256"),
    _S(0x0025, "TLS_KRB5_WITH_IDEA_CBC_MD5", "KRB5", "KRB5", "IDEA-CBC", "cbc", 16, 8, 8, 0, "MD5", 16, "sha256"),
    _S(0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA", "KRB5", "KRB5", "DES40-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x0027, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA", "KRB5", "KRB5", "RC2-CBC-40", "cbc", 16, 8, 8, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x0028, "TLS_KRB5_EXPORT_WITH_RC4_40_SHA", "KRB5", "KRB5", "RC4-40", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256", True, 5),
    _S(0x0029, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5", "KRB5", "KRB5", "DES40-CBC", "cbc", 8, 8, 8, 0, "MD5", 16, "sha256", True, 5),
    _S(0x002A, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5", "KRB5", "KRB5", "RC2-CBC-40", "cbc", 16, 8, 8, 0, "MD5", 16, "sha256", True, 5),
    _S(0x002B, "TLS_KRB5_EXPORT_WITH_RC4_40_MD5", "KRB5", "KRB5", "RC4-40", "stream", 16, 0, 0, 0, "MD5", 16, "sha256", True, 5),

    # RFC 4785: PSK with NULL encryption
    _S(0x002C, "TLS_PSK_WITH_NULL_SHA", "PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x002D, "TLS_DHE_PSK_WITH_NULL_SHA", "DHE_PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x002E, "TLS_RSA_PSK_WITH_NULL_SHA", "RSA_PSK", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),

    # RFC 5246 / RFC 3268: AES-CBC
    _S(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", "DH", "DSS", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", "DH", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "DHE", "DSS", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", "DHE", "anon", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", "DH", "DSS", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", "DH", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "DHE", "DSS", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", "DHE", "anon", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x003B, "TLS_RSA_WITH_NULL_SHA256", "RSA", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA256", 32, "sha256"),
    _S(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "RSA", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", "DH", "DSS", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", "DH", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", "DHE", "DSS", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),

    # RFC 5932: Camellia-CBC
    _S(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", "RSA", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA", "DH", "DSS", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA", "DH", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", "DHE", "DSS", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", "DHE", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA", "DHE", "anon", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),

    # Not IANA-assigned: draft-ietf-tls-56-bit-ciphersuites-01 (OpenSSL EXP1024-*)
    _S(0x0060, "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5", "RSA", "RSA", "RC4-56", "stream", 16, 0, 0, 0, "MD5", 16, "sha256", True, 7),
    _S(0x0061, "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5", "RSA", "RSA", "RC2-CBC-56", "cbc", 16, 8, 8, 0, "MD5", 16, "sha256", True, 7),
    _S(0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA", "RSA", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 8),
    _S(0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA", "DHE", "DSS", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256", True, 8),
    _S(0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", "RSA", "RSA", "RC4-56", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256", True, 7),
    _S(0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA", "DHE", "DSS", "RC4-56", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256", True, 7),
    _S(0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA", "DHE", "DSS", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),

    # RFC 5246: AES-CBC with SHA-256
    _S(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", "DH", "DSS", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", "DH", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", "DHE", "DSS", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", "DHE", "anon", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", "DHE", "anon", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),

    # RFC 5932: Camellia-CBC
    _S(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", "RSA", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA", "DH", "DSS", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA", "DH", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", "DHE", "DSS", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", "DHE", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA", "DHE", "anon", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),

    # RFC 4279: PSK
    _S(0x008A, "TLS_PSK_WITH_RC4_128_SHA", "PSK", "PSK", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA", "PSK", "PSK", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", "PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", "PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA", "DHE_PSK", "PSK", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA", "DHE_PSK", "PSK", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", "DHE_PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", "DHE_PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA", "RSA_PSK", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA", "RSA_PSK", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", "RSA_PSK", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", "RSA_PSK", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),

    # RFC 4162: SEED
    _S(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", "RSA", "RSA", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA", "DH", "DSS", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA", "DH", "RSA", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA", "DHE", "DSS", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA", "DHE", "RSA", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA", "DHE", "anon", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),

    # RFC 5288: AES-GCM
    _S(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", "DH", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", "DH", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "DHE", "DSS", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "DHE", "DSS", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", "DH", "DSS", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", "DH", "DSS", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", "DHE", "anon", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", "DHE", "anon", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),

    # RFC 5487: PSK with AES-GCM, AES-CBC SHA-256/384, NULL
    _S(0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "PSK", "PSK", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "PSK", "PSK", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", "DHE_PSK", "PSK", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", "DHE_PSK", "PSK", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", "RSA_PSK", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", "RSA_PSK", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", "PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", "PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0x00B0, "TLS_PSK_WITH_NULL_SHA256", "PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA256", 32, "sha256"),
    _S(0x00B1, "TLS_PSK_WITH_NULL_SHA384", "PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA384", 48, "sha384"),
    _S(0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", "DHE_PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", "DHE_PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256", "DHE_PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA256", 32, "sha256"),
    _S(0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384", "DHE_PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA384", 48, "sha384"),
    _S(0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", "RSA_PSK", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", "RSA_PSK", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256", "RSA_PSK", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA256", 32, "sha256"),
    _S(0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384", "RSA_PSK", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA384", 48, "sha384"),

    # RFC 5932: Camellia-CBC with SHA-256
    _S(0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256", "RSA", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00BB, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256", "DH", "DSS", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00BC, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256", "DH", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00BD, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256", "DHE", "DSS", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", "DHE", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00BF, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256", "DHE", "anon", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256", "RSA", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00C1, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256", "DH", "DSS", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00C2, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256", "DH", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00C3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256", "DHE", "DSS", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256", "DHE", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256", "DHE", "anon", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32, "sha256"),

    # RFC 8998: ShangMi (TLS 1.3)
    _S(0x00C6, "TLS_SM4_GCM_SM3", "TLS13", "TLS13", "SM4-GCM", "aead", 16, 12, 16, 16, None, 0, "sm3"),
    _S(0x00C7, "TLS_SM4_CCM_SM3", "TLS13", "TLS13", "SM4-CCM", "aead", 16, 12, 16, 16, None, 0, "sm3"),

    # RFC 5746: renegotiation SCSV
    _S(0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "SCSV", "SCSV", "NULL", "null", 0, 0, 0, 0, None, 0, "sha256"),

    # RFC 8446: TLS 1.3
    _S(0x1301, "TLS_AES_128_GCM_SHA256", "TLS13", "TLS13", "AES-128-GCM", "aead", 16, 12, 16, 16, None, 0, "sha256"),
    _S(0x1302, "TLS_AES_256_GCM_SHA384", "TLS13", "TLS13", "AES-256-GCM", "aead", 32, 12, 16, 16, None, 0, "sha384"),
    _S(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS13", "TLS13", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0x1304, "TLS_AES_128_CCM_SHA256", "TLS13", "TLS13", "AES-128-CCM", "aead", 16, 12, 16, 16, None, 0, "sha256"),
    _S(0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS13", "TLS13", "AES-128-CCM-8", "aead", 16, 12, 16, 8, None, 0, "sha256"),

    # draft-irtf-cfrg-aegis-aead: AEGIS (TLS 1.3)
    _S(0x1306, "TLS_AEGIS_256_SHA384", "TLS13", "TLS13", "AEGIS-256", "aead", 32, 32, 16, 16, None, 0, "sha384"),
    _S(0x1307, "TLS_AEGIS_128L_SHA256", "TLS13", "TLS13", "AEGIS-128L", "aead", 16, 16, 16, 16, None, 0, "sha256"),

    # RFC 7507: fallback SCSV
    _S(0x5600, "TLS_FALLBACK_SCSV", "SCSV", "SCSV", "NULL", "null", 0, 0, 0, 0, None, 0, "sha256"),

    # RFC 8422 (RFC 4492): ECDH, ECDHE, ECDH_anon
    _S(0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA", "ECDH", "ECDSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", "ECDH", "ECDSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA", "ECDH", "ECDSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "ECDH", "ECDSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", "ECDH", "ECDSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", "ECDHE", "ECDSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE", "ECDSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", "ECDHE", "ECDSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE", "ECDSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE", "ECDSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA", "ECDH", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA", "ECDH", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA", "ECDH", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", "ECDH", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", "ECDH", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", "ECDHE", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", "ECDHE", "anon", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", "ECDHE", "anon", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", "ECDHE", "anon", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", "ECDHE", "anon", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", "ECDHE", "anon", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),

    # RFC 5054: SRP
    _S(0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA", "SRP", "SRP", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC01B, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA", "SRP", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC01C, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA", "SRP", "DSS", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA", "SRP", "SRP", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC01E, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA", "SRP", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC01F, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA", "SRP", "DSS", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA", "SRP", "SRP", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA", "SRP", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA", "SRP", "DSS", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),

    # RFC 5289: ECC with SHA-256/384 and AES-GCM
    _S(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE", "ECDSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE", "ECDSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "ECDH", "ECDSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "ECDH", "ECDSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "ECDH", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", "ECDH", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE", "ECDSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE", "ECDSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "ECDH", "ECDSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", "ECDH", "ECDSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "ECDH", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", "ECDH", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),

    # RFC 5489: ECDHE_PSK
    _S(0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA", "ECDHE_PSK", "PSK", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA", "ECDHE_PSK", "PSK", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", "ECDHE_PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", "ECDHE_PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    _S(0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", "ECDHE_PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", "ECDHE_PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA", "ECDHE_PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    _S(0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256", "ECDHE_PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA256", 32, "sha256"),
    _S(0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384", "ECDHE_PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA384", 48, "sha384"),

    # RFC 6209: ARIA
    _S(0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", "RSA", "RSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC03D, "TLS_RSA_WITH_ARIA_256_CBC_SHA384", "RSA", "RSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC03E, "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256", "DH", "DSS", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC03F, "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384", "DH", "DSS", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC040, "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256", "DH", "RSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC041, "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384", "DH", "RSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC042, "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256", "DHE", "DSS", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC043, "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384", "DHE", "DSS", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC044, "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256", "DHE", "RSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC045, "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384", "DHE", "RSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC046, "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256", "DHE", "anon", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC047, "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384", "DHE", "anon", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC048, "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256", "ECDHE", "ECDSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC049, "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384", "ECDHE", "ECDSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC04A, "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256", "ECDH", "ECDSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC04B, "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384", "ECDH", "ECDSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC04C, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256", "ECDHE", "RSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC04D, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384", "ECDHE", "RSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC04E, "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256", "ECDH", "RSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC04F, "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384", "ECDH", "RSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256", "RSA", "RSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384", "RSA", "RSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256", "DHE", "RSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384", "DHE", "RSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC054, "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256", "DH", "RSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC055, "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384", "DH", "RSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256", "DHE", "DSS", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384", "DHE", "DSS", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC058, "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256", "DH", "DSS", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC059, "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384", "DH", "DSS", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC05A, "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256", "DHE", "anon", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC05B, "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384", "DHE", "anon", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", "ECDHE", "ECDSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384", "ECDHE", "ECDSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC05E, "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256", "ECDH", "ECDSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC05F, "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384", "ECDH", "ECDSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", "ECDHE", "RSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384", "ECDHE", "RSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC062, "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256", "ECDH", "RSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC063, "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384", "ECDH", "RSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC064, "TLS_PSK_WITH_ARIA_128_CBC_SHA256", "PSK", "PSK", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC065, "TLS_PSK_WITH_ARIA_256_CBC_SHA384", "PSK", "PSK", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC066, "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256", "DHE_PSK", "PSK", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC067, "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384", "DHE_PSK", "PSK", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC068, "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256", "RSA_PSK", "RSA", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC069, "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384", "RSA_PSK", "RSA", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256", "PSK", "PSK", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384", "PSK", "PSK", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC06C, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256", "DHE_PSK", "PSK", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC06D, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384", "DHE_PSK", "PSK", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC06E, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256", "RSA_PSK", "RSA", "ARIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC06F, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384", "RSA_PSK", "RSA", "ARIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC070, "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256", "ECDHE_PSK", "PSK", "ARIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC071, "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384", "ECDHE_PSK", "PSK", "ARIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),

    # RFC 6367: Camellia (ECC, GCM, PSK)
    _S(0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", "ECDHE", "ECDSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", "ECDHE", "ECDSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC074, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256", "ECDH", "ECDSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC075, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384", "ECDH", "ECDSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", "ECDHE", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384", "ECDHE", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC078, "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256", "ECDH", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC079, "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384", "ECDH", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC07A, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256", "RSA", "RSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC07B, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384", "RSA", "RSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC07C, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", "DHE", "RSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC07D, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", "DHE", "RSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC07E, "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256", "DH", "RSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC07F, "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384", "DH", "RSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC080, "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256", "DHE", "DSS", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC081, "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384", "DHE", "DSS", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC082, "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256", "DH", "DSS", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC083, "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384", "DH", "DSS", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC084, "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256", "DHE", "anon", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC085, "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384", "DHE", "anon", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", "ECDHE", "ECDSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", "ECDHE", "ECDSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC088, "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", "ECDH", "ECDSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC089, "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", "ECDH", "ECDSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC08A, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", "ECDHE", "RSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC08B, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", "ECDHE", "RSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC08C, "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256", "ECDH", "RSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC08D, "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384", "ECDH", "RSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC08E, "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256", "PSK", "PSK", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC08F, "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384", "PSK", "PSK", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC090, "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256", "DHE_PSK", "PSK", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC091, "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384", "DHE_PSK", "PSK", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC092, "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256", "RSA_PSK", "RSA", "CAMELLIA-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC093, "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384", "RSA_PSK", "RSA", "CAMELLIA-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256", "PSK", "PSK", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384", "PSK", "PSK", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", "DHE_PSK", "PSK", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", "DHE_PSK", "PSK", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256", "RSA_PSK", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384", "RSA_PSK", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),
    _S(0xC09A, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256", "ECDHE_PSK", "PSK", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32, "sha256"),
    _S(0xC09B, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384", "ECDHE_PSK", "PSK", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48, "sha384"),

    # RFC 6655 / RFC 7251: AES-CCM
    _S(0xC09C, "TLS_RSA_WITH_AES_128_CCM", "RSA", "RSA", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC09D, "TLS_RSA_WITH_AES_256_CCM", "RSA", "RSA", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha256"),
    _S(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", "DHE", "RSA", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", "DHE", "RSA", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", "RSA", "RSA", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", "RSA", "RSA", "AES-256-CCM-8", "aead", 32, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", "DHE", "RSA", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", "DHE", "RSA", "AES-256-CCM-8", "aead", 32, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0A4, "TLS_PSK_WITH_AES_128_CCM", "PSK", "PSK", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0A5, "TLS_PSK_WITH_AES_256_CCM", "PSK", "PSK", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM", "DHE_PSK", "PSK", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM", "DHE_PSK", "PSK", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", "PSK", "PSK", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8", "PSK", "PSK", "AES-256-CCM-8", "aead", 32, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", "DHE_PSK", "PSK", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8", "DHE_PSK", "PSK", "AES-256-CCM-8", "aead", 32, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE", "ECDSA", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE", "ECDSA", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE", "ECDSA", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    _S(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", "ECDHE", "ECDSA", "AES-256-CCM-8", "aead", 32, 4, 16, 8, None, 0, "sha256"),

    # RFC 8492: ECCPWD
    _S(0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", "ECCPWD", "ECCPWD", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0B1, "TLS_ECCPWD_WITH_AES_256_GCM_SHA384", "ECCPWD", "ECCPWD", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xC0B2, "TLS_ECCPWD_WITH_AES_128_CCM_SHA256", "ECCPWD", "ECCPWD", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xC0B3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384", "ECCPWD", "ECCPWD", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),

    # RFC 9150: integrity-only (HMAC) TLS 1.3 suites
    _S(0xC0B4, "TLS_SHA256_SHA256", "TLS13", "TLS13", "HMAC-SHA256", "aead", 32, 32, 0, 32, None, 0, "sha256"),
    _S(0xC0B5, "TLS_SHA384_SHA384", "TLS13", "TLS13", "HMAC-SHA384", "aead", 48, 48, 0, 48, None, 0, "sha384"),

    # RFC 9189 (TLS 1.2) and RFC 9367 (TLS 1.3): GOST
    _S(0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", "GOSTR341112_256", "GOSTR341112_256", "KUZNYECHIK-CTR-OMAC", "stream", 32, 8, 16, 0, "KUZNYECHIK-OMAC", 16, "streebog256"),
    _S(0xC101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC", "GOSTR341112_256", "GOSTR341112_256", "MAGMA-CTR-OMAC", "stream", 32, 4, 8, 0, "MAGMA-OMAC", 8, "streebog256"),
    _S(0xC102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT", "GOSTR341112_256", "GOSTR341112_256", "GOST28147-CNT", "stream", 32, 8, 8, 0, "GOST28147-IMIT", 4, "streebog256"),
    _S(0xC103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L", "TLS13", "TLS13", "KUZNYECHIK-MGM-L", "aead", 32, 16, 16, 16, None, 0, "streebog256"),
    _S(0xC104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L", "TLS13", "TLS13", "MAGMA-MGM-L", "aead", 32, 8, 8, 8, None, 0, "streebog256"),
    _S(0xC105, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S", "TLS13", "TLS13", "KUZNYECHIK-MGM-S", "aead", 32, 16, 16, 16, None, 0, "streebog256"),
    _S(0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", "TLS13", "TLS13", "MAGMA-MGM-S", "aead", 32, 8, 8, 8, None, 0, "streebog256"),

    # Not IANA-assigned: draft-agl-tls-chacha20poly1305 (pre-RFC 7905 ChaCha20, 64-bit nonce, no fixed IV)
    _S(0xCC13, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_OLD", "ECDHE", "RSA", "CHACHA20-POLY1305-OLD", "aead", 32, 0, 0, 16, None, 0, "sha256"),
    _S(0xCC14, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_OLD", "ECDHE", "ECDSA", "CHACHA20-POLY1305-OLD", "aead", 32, 0, 0, 16, None, 0, "sha256"),
    _S(0xCC15, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_OLD", "DHE", "RSA", "CHACHA20-POLY1305-OLD", "aead", 32, 0, 0, 16, None, 0, "sha256"),

    # RFC 7905: ChaCha20-Poly1305
    _S(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "RSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "ECDSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE", "RSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", "PSK", "PSK", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "ECDHE_PSK", "PSK", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "DHE_PSK", "PSK", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),
    _S(0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", "RSA_PSK", "RSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0, "sha256"),

    # RFC 8442: ECDHE_PSK with AES-GCM/CCM
    _S(0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", "ECDHE_PSK", "PSK", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    _S(0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", "ECDHE_PSK", "PSK", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    _S(0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", "ECDHE_PSK", "PSK", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    _S(0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", "ECDHE_PSK", "PSK", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),

    # Not IANA-assigned: Netscape/NSS FIPS suites (SSL 3.0 era)
    _S(0xFEFE, "SSL_RSA_FIPS_WITH_DES_CBC_SHA", "RSA", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xFEFF, "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA", "RSA", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xFFE0, "SSL_RSA_OLDFIPS_WITH_3DES_EDE_CBC_SHA", "RSA", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    _S(0xFFE1, "SSL_RSA_OLDFIPS_WITH_DES_CBC_SHA", "RSA", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
)
# fmt: on

SUITES: dict[int, Suite] = {s.code: s for s in _ROWS}
SUITES_BY_NAME: dict[str, Suite] = {s.name: s for s in _ROWS}

# Bulk ciphers that the installed ``cryptography`` can run (checked by tests/test_tls_suites.py):
# AES-GCM/CCM/ChaCha20-Poly1305 (primitives.ciphers.aead), AES-CBC, Camellia-CBC, and from
# ``hazmat.decrepit``: ARC4, TripleDES (single DES as K1=K2=K3), IDEA, SEED.
DECRYPTABLE_CIPHERS: frozenset[str] = frozenset(
    {
        "NULL",
        "RC4-128",
        "DES-CBC",
        "3DES-EDE-CBC",
        "IDEA-CBC",
        "SEED-CBC",
        "AES-128-CBC",
        "AES-256-CBC",
        "CAMELLIA-128-CBC",
        "CAMELLIA-256-CBC",
        "AES-128-GCM",
        "AES-256-GCM",
        "AES-128-CCM",
        "AES-256-CCM",
        "AES-128-CCM-8",
        "AES-256-CCM-8",
        "CHACHA20-POLY1305",
    }
)


def can_decrypt(suite: Suite | int) -> bool:
    """Whether records protected with ``suite`` (a Suite or a code) can be decrypted here."""
    if not isinstance(suite, Suite):
        suite = SUITES.get(suite)  # type: ignore[arg-type]
        if suite is None:
            return False
    return suite.kx != "SCSV" and not suite.export and suite.cipher in DECRYPTABLE_CIPHERS


def suite_name(code: int) -> str:
    """IANA name of a cipher suite, "GREASE (0x0a0a)" for GREASE values, else "unknown(0x....)"."""
    try:
        suite = SUITES.get(code)
    except TypeError:
        return f"unknown({code!r})"
    if suite is not None:
        return suite.name
    if is_grease(code):
        return f"GREASE (0x{code:04x})"
    if isinstance(code, int) and code >= 0:
        return f"unknown(0x{code:04x})"
    return f"unknown({code!r})"


# SSL 2.0 CIPHER-KINDs (3 bytes) as offered in SSLv2-format ClientHellos (draft-hickman-netscape-ssl-00).
# A kind 0x00XXYY in such a hello is the TLS suite 0xXXYY.
SSL2_CIPHER_KINDS: dict[int, str] = {
    0x010080: "SSL2_RC4_128_WITH_MD5",
    0x020080: "SSL2_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL2_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL2_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL2_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL2_DES_192_EDE3_CBC_WITH_MD5",
    0x080080: "SSL2_RC4_64_WITH_MD5",
}


def ssl2_cipher_name(kind: int) -> str:
    """Name of a 3-byte SSLv2 cipher kind; 0x00XXYY kinds are named as the TLS suite 0xXXYY."""
    name = SSL2_CIPHER_KINDS.get(kind) if isinstance(kind, int) else None
    if name is not None:
        return name
    if isinstance(kind, int) and 0 <= kind <= 0xFFFF:
        return suite_name(kind)
    if isinstance(kind, int) and kind >= 0:
        return f"unknown(0x{kind:06x})"
    return f"unknown({kind!r})"
