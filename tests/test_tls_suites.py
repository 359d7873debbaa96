"""The cipher suite table in dissector.tls.suites."""

import re
import ssl
from pathlib import Path

import pytest

from dissector.tls import suites as suites_module
from dissector.tls.constants import is_grease
from dissector.tls.suites import (
    DECRYPTABLE_CIPHERS,
    SSL2_CIPHER_KINDS,
    SUITES,
    SUITES_BY_NAME,
    Suite,
    can_decrypt,
    ssl2_cipher_name,
    suite_name,
)

MODES = {"stream", "cbc", "aead", "null"}
MACS = {"MD5": 16, "SHA1": 20, "SHA256": 32, "SHA384": 48}

# (code, name, kx, auth, cipher, mode, key_len, iv_len, block_size, tag_len, mac, mac_len, prf_hash)
# Values from the defining RFCs: RFC 5246 (6.3 / Appendix C), RFC 5288 (3: 4-byte salt, 16-byte tag),
# RFC 5289, RFC 6655 (CCM, CCM_8 = 8-byte tag), RFC 5487, RFC 7905 (12-byte IV), RFC 8446 (B.4),
# RFC 8442, RFC 4279, RFC 4162, RFC 5932.
# fmt: off
SPOT = [
    (0x0000, "TLS_NULL_WITH_NULL_NULL", "NULL", "NULL", "NULL", "null", 0, 0, 0, 0, None, 0, "sha256"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5", "RSA", "RSA", "NULL", "null", 0, 0, 0, 0, "MD5", 16, "sha256"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA", "RSA", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA1", 20, "sha256"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5", "RSA", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "MD5", 16, "sha256"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA", "RSA", "RSA", "RC4-128", "stream", 16, 0, 0, 0, "SHA1", 20, "sha256"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", "RSA", "RSA", "IDEA-CBC", "cbc", 16, 8, 8, 0, "SHA1", 20, "sha256"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA", "RSA", "RSA", "DES-CBC", "cbc", 8, 8, 8, 0, "SHA1", 20, "sha256"),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20, "sha256"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", "DHE", "RSA", "3DES-EDE-CBC", "cbc", 24, 8, 8, 0, "SHA1", 20,
     "sha256"),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20,
     "sha256"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20, "sha256"),
    (0x003B, "TLS_RSA_WITH_NULL_SHA256", "RSA", "RSA", "NULL", "null", 0, 0, 0, 0, "SHA256", 32, "sha256"),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "RSA", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA256", 32,
     "sha256"),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "RSA", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA256", 32,
     "sha256"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", "RSA", "RSA", "CAMELLIA-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20,
     "sha256"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", "RSA", "RSA", "CAMELLIA-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20,
     "sha256"),
    (0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", "PSK", "PSK", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", "RSA", "RSA", "SEED-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20, "sha256"),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0,
     "sha256"),
    (0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", "PSK", "PSK", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0, "sha384"),
    (0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", "PSK", "PSK", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48,
     "sha384"),
    (0x00B1, "TLS_PSK_WITH_NULL_SHA384", "PSK", "PSK", "NULL", "null", 0, 0, 0, 0, "SHA384", 48, "sha384"),
    (0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "SCSV", "SCSV", "NULL", "null", 0, 0, 0, 0, None, 0, "sha256"),
    (0x1301, "TLS_AES_128_GCM_SHA256", "TLS13", "TLS13", "AES-128-GCM", "aead", 16, 12, 16, 16, None, 0, "sha256"),
    (0x1302, "TLS_AES_256_GCM_SHA384", "TLS13", "TLS13", "AES-256-GCM", "aead", 32, 12, 16, 16, None, 0, "sha384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256", "TLS13", "TLS13", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0,
     "sha256"),
    (0x1304, "TLS_AES_128_CCM_SHA256", "TLS13", "TLS13", "AES-128-CCM", "aead", 16, 12, 16, 16, None, 0, "sha256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256", "TLS13", "TLS13", "AES-128-CCM-8", "aead", 16, 12, 16, 8, None, 0, "sha256"),
    (0x5600, "TLS_FALLBACK_SCSV", "SCSV", "SCSV", "NULL", "null", 0, 0, 0, 0, None, 0, "sha256"),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE", "ECDSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20,
     "sha256"),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE", "RSA", "AES-128-CBC", "cbc", 16, 16, 16, 0, "SHA1", 20,
     "sha256"),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA1", 20,
     "sha256"),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE", "ECDSA", "AES-128-CBC", "cbc", 16, 16, 16, 0,
     "SHA256", 32, "sha256"),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE", "ECDSA", "AES-256-CBC", "cbc", 32, 16, 16, 0,
     "SHA384", 48, "sha384"),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE", "RSA", "AES-256-CBC", "cbc", 32, 16, 16, 0, "SHA384", 48,
     "sha384"),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE", "ECDSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0,
     "sha256"),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE", "ECDSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0,
     "sha384"),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE", "RSA", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0,
     "sha256"),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE", "RSA", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0,
     "sha384"),
    (0xC09C, "TLS_RSA_WITH_AES_128_CCM", "RSA", "RSA", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    (0xC09D, "TLS_RSA_WITH_AES_256_CCM", "RSA", "RSA", "AES-256-CCM", "aead", 32, 4, 16, 16, None, 0, "sha256"),
    (0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", "RSA", "RSA", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    (0xC0A4, "TLS_PSK_WITH_AES_128_CCM", "PSK", "PSK", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0, "sha256"),
    (0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", "PSK", "PSK", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0, "sha256"),
    (0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", "DHE_PSK", "PSK", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0,
     "sha256"),
    (0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE", "ECDSA", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None, 0,
     "sha256"),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "RSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16,
     None, 0, "sha256"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE", "ECDSA", "CHACHA20-POLY1305", "aead", 32, 12, 0,
     16, None, 0, "sha256"),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE", "RSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16,
     None, 0, "sha256"),
    (0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", "PSK", "PSK", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16, None, 0,
     "sha256"),
    (0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "ECDHE_PSK", "PSK", "CHACHA20-POLY1305", "aead", 32, 12, 0,
     16, None, 0, "sha256"),
    (0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "DHE_PSK", "PSK", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16,
     None, 0, "sha256"),
    (0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", "RSA_PSK", "RSA", "CHACHA20-POLY1305", "aead", 32, 12, 0, 16,
     None, 0, "sha256"),
    (0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", "ECDHE_PSK", "PSK", "AES-128-GCM", "aead", 16, 4, 16, 16, None, 0,
     "sha256"),
    (0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", "ECDHE_PSK", "PSK", "AES-256-GCM", "aead", 32, 4, 16, 16, None, 0,
     "sha384"),
    (0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", "ECDHE_PSK", "PSK", "AES-128-CCM-8", "aead", 16, 4, 16, 8, None,
     0, "sha256"),
    (0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", "ECDHE_PSK", "PSK", "AES-128-CCM", "aead", 16, 4, 16, 16, None, 0,
     "sha256"),
]

FIELDS = ("code", "name", "kx", "auth", "cipher", "mode", "key_len", "iv_len", "block_size", "tag_len", "mac",
          "mac_len", "prf_hash")
# fmt: on


@pytest.mark.parametrize("row", SPOT, ids=lambda r: f"0x{r[0]:04X}")
def test_spot_rows(row):
    suite = SUITES[row[0]]
    for field, expected in zip(FIELDS, row):
        assert getattr(suite, field) == expected, (field, suite)
    assert not suite.export and suite.export_key_len == 0


@pytest.mark.parametrize(
    "code, cipher, key_len, export_key_len",
    [
        (0x0003, "RC4-40", 16, 5),  # RFC 2246 6.3: 5 secret bytes expanded to 16
        (0x0006, "RC2-CBC-40", 16, 5),
        (0x0008, "DES40-CBC", 8, 5),
        (0x0014, "DES40-CBC", 8, 5),
        (0x0026, "DES40-CBC", 8, 5),  # KRB5 names it DES_CBC_40
        (0x0028, "RC4-40", 16, 5),
    ],
)
def test_export_rows(code, cipher, key_len, export_key_len):
    suite = SUITES[code]
    assert suite.export and "EXPORT" in suite.name
    assert (suite.cipher, suite.key_len, suite.export_key_len) == (cipher, key_len, export_key_len)
    assert not can_decrypt(suite)


def test_row_count_and_keys():
    assert len(SUITES) >= 300
    for code, suite in SUITES.items():
        assert isinstance(suite, Suite)
        assert suite.code == code
        assert 0 <= code <= 0xFFFF
        assert not is_grease(code)
    assert len({s.name for s in SUITES.values()}) == len(SUITES), "duplicate suite names"
    assert SUITES_BY_NAME == {s.name: s for s in SUITES.values()}


def test_rows_are_written_out_in_the_source():
    # One literal row per suite: the table is not derived from names at import time.
    source = Path(suites_module.__file__).read_text()
    literal_codes = [int(h, 16) for h in re.findall(r"^\s*_S\(0x([0-9A-Fa-f]{4}),", source, flags=re.M)]
    assert len(literal_codes) == len(SUITES)
    assert sorted(literal_codes) == sorted(SUITES)


def test_field_types_and_vocabulary():
    for s in SUITES.values():
        assert s.name.startswith(("TLS_", "SSL_")), s
        assert s.mode in MODES, s
        assert s.prf_hash in {"sha256", "sha384", "streebog256", "sm3"}, s
        for f in ("key_len", "iv_len", "block_size", "tag_len", "mac_len", "export_key_len"):
            assert isinstance(getattr(s, f), int) and getattr(s, f) >= 0, (f, s)


def test_sha384_suites_use_sha384_prf():
    for s in SUITES.values():
        if s.name.endswith("SHA384"):
            assert s.prf_hash == "sha384", s
        elif s.prf_hash == "sha384":
            pytest.fail(f"{s.name} uses sha384 without being a SHA384 suite")


def test_aead_rows():
    for s in SUITES.values():
        if s.mode == "aead":
            assert s.mac is None and s.mac_len == 0, s
            assert s.tag_len > 0 and s.key_len > 0, s
            assert s.aead
            if s.cipher.endswith("CCM-8"):
                assert s.tag_len == 8, s
            if s.tls13:
                assert s.iv_len >= 8, s  # RFC 8446 5.3: iv_length >= max(8, N_MIN)
                if s.cipher.startswith(("AES-", "CHACHA20")):
                    assert s.iv_len == 12, s
            elif s.cipher.endswith(("-GCM", "-CCM", "-CCM-8")):
                assert s.iv_len == 4, s  # RFC 5288 / RFC 6655 implicit salt
        else:
            assert s.tag_len == 0, s


def test_cbc_stream_null_rows():
    for s in SUITES.values():
        if s.mode == "cbc":
            assert s.block_size in (8, 16) and s.iv_len == s.block_size, s
            assert s.key_len > 0, s
        if s.mode == "stream":
            assert s.block_size == 0 or s.cipher.startswith(("KUZNYECHIK", "MAGMA", "GOST")), s
        if s.mode == "null":
            assert s.key_len == 0 and s.iv_len == 0 and s.block_size == 0, s
        if s.mode in ("cbc", "stream") and s.mac in MACS:
            assert s.mac_len == MACS[s.mac], s
        if s.mode in ("cbc", "stream"):
            assert s.mac is not None and s.mac_len > 0, s


def test_mac_matches_name_suffix():
    for s in SUITES.values():
        if s.mode == "aead" or s.mac is None or s.kx == "GOSTR341112_256":
            continue
        suffix = {"MD5": "_MD5", "SHA1": "_SHA", "SHA256": "_SHA256", "SHA384": "_SHA384"}[s.mac]
        assert s.name.endswith(suffix), s


def test_export_flags_consistent():
    for s in SUITES.values():
        assert s.export == ("EXPORT" in s.name), s
        assert (s.export_key_len > 0) == s.export, s
        if s.export:
            assert s.export_key_len <= s.key_len, s


def test_tls13_rows():
    tls13 = {code for code, s in SUITES.items() if s.tls13}
    assert {0x1301, 0x1302, 0x1303, 0x1304, 0x1305} <= tls13
    for code in tls13:
        assert SUITES[code].auth == "TLS13" and SUITES[code].mode == "aead"


def test_non_iana_rows():
    assert SUITES[0xCC13].name == "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_OLD"
    assert SUITES[0xCC14].name == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_OLD"
    assert SUITES[0xCC15].name == "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_OLD"
    # the draft construction is not RFC 7905 ChaCha20-Poly1305: no fixed IV, not decryptable here
    assert SUITES[0xCC13].iv_len == 0 and not can_decrypt(0xCC13)
    assert SUITES[0x0062].export and SUITES[0x0062].export_key_len == 8


def test_suite_name():
    assert suite_name(0x002F) == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert suite_name(0x0A0A) == "GREASE (0x0a0a)"
    assert suite_name(0xFAFA) == "GREASE (0xfafa)"
    assert suite_name(0x0047) == "unknown(0x0047)"
    assert suite_name(0xFF00) == "unknown(0xff00)"
    for odd in (None, "x", -1, [1]):
        assert suite_name(odd).startswith("unknown(")  # type: ignore[arg-type]


def test_ssl2_cipher_kinds():
    assert SSL2_CIPHER_KINDS[0x010080] == "SSL2_RC4_128_WITH_MD5"
    assert SSL2_CIPHER_KINDS[0x0700C0] == "SSL2_DES_192_EDE3_CBC_WITH_MD5"
    assert len(SSL2_CIPHER_KINDS) == 8
    assert all(k > 0xFFFF for k in SSL2_CIPHER_KINDS)
    assert ssl2_cipher_name(0x060040) == "SSL2_DES_64_CBC_WITH_MD5"
    assert ssl2_cipher_name(0x00002F) == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert ssl2_cipher_name(0x090080) == "unknown(0x090080)"


def test_can_decrypt():
    assert can_decrypt(SUITES[0xC02F])
    assert can_decrypt(0x1301)
    assert can_decrypt(0xCCA8)
    assert can_decrypt(0x000A)
    assert can_decrypt(0x0005)
    assert can_decrypt(0x0000)
    assert not can_decrypt(0x00FF)  # SCSV
    assert not can_decrypt(0x5600)
    assert not can_decrypt(0x0003)  # export RC4-40
    assert not can_decrypt(0xC03C)  # ARIA
    assert not can_decrypt(0xC07A)  # Camellia-GCM
    assert not can_decrypt(0x1234)
    every_cipher = {s.cipher for s in SUITES.values()}
    assert DECRYPTABLE_CIPHERS <= every_cipher


# --- DECRYPTABLE_CIPHERS really are available in the installed cryptography --------------------


def _camellia():
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import Camellia
    except ImportError:  # cryptography < 47
        from cryptography.hazmat.primitives.ciphers.algorithms import Camellia
    return Camellia


def _run_cipher(name: str, key_len: int, iv_len: int) -> None:
    from cryptography.hazmat.decrepit.ciphers import algorithms as decrepit
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

    key = bytes(range(key_len))
    nonce = bytes(12)
    if name == "NULL":
        return
    if name == "RC4-128":
        Cipher(decrepit.ARC4(key), mode=None).decryptor().update(b"x")
    elif name == "DES-CBC":  # single DES as 3DES with K1 = K2 = K3
        Cipher(decrepit.TripleDES(key * 3), modes.CBC(bytes(iv_len))).decryptor().update(bytes(8))
    elif name == "3DES-EDE-CBC":
        Cipher(decrepit.TripleDES(key), modes.CBC(bytes(iv_len))).decryptor().update(bytes(8))
    elif name == "IDEA-CBC":
        Cipher(decrepit.IDEA(key), modes.CBC(bytes(iv_len))).decryptor().update(bytes(8))
    elif name == "SEED-CBC":
        Cipher(decrepit.SEED(key), modes.CBC(bytes(iv_len))).decryptor().update(bytes(16))
    elif name.startswith("AES-") and name.endswith("-CBC"):
        Cipher(algorithms.AES(key), modes.CBC(bytes(iv_len))).decryptor().update(bytes(16))
    elif name.startswith("CAMELLIA-") and name.endswith("-CBC"):
        Cipher(_camellia()(key), modes.CBC(bytes(iv_len))).decryptor().update(bytes(16))
    elif name.endswith("-GCM") and name.startswith("AES-"):
        AESGCM(key).decrypt(nonce, AESGCM(key).encrypt(nonce, b"x", b"ad"), b"ad")
    elif name.startswith("AES-") and name.endswith("-CCM-8"):
        a = AESCCM(key, tag_length=8)
        a.decrypt(nonce, a.encrypt(nonce, b"x", b"ad"), b"ad")
    elif name.startswith("AES-") and name.endswith("-CCM"):
        a = AESCCM(key, tag_length=16)
        a.decrypt(nonce, a.encrypt(nonce, b"x", b"ad"), b"ad")
    elif name == "CHACHA20-POLY1305":
        a = ChaCha20Poly1305(key)
        a.decrypt(nonce, a.encrypt(nonce, b"x", b"ad"), b"ad")
    else:
        raise AssertionError(f"no instantiation recipe for {name}")


@pytest.mark.parametrize("cipher", sorted(DECRYPTABLE_CIPHERS))
def test_decryptable_cipher_is_available(cipher):
    suite = next(s for s in SUITES.values() if s.cipher == cipher)
    _run_cipher(cipher, suite.key_len, suite.block_size or 16)


# --- cross-check against the OpenSSL that Python's ssl module links ----------------------------


def _openssl_ciphers() -> list[dict]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    except ssl.SSLError:
        ctx.set_ciphers("ALL:COMPLEMENTOFALL")
    return ctx.get_ciphers()


def test_agrees_with_openssl():
    ciphers = _openssl_ciphers()
    if len(ciphers) < 20:
        pytest.skip("the linked OpenSSL offers too few cipher suites to compare")
    digests = {"md5": "MD5", "sha1": "SHA1", "sha256": "SHA256", "sha384": "SHA384", None: None}
    checked = 0
    for info in ciphers:
        code = info["id"] & 0xFFFF
        suite = SUITES.get(code)
        assert suite is not None, info
        bits = info["alg_bits"]
        expected_key = 24 if suite.cipher == "3DES-EDE-CBC" else bits // 8
        assert suite.key_len == expected_key, (suite, info)
        assert suite.aead == bool(info["aead"]), (suite, info)
        if not suite.aead:
            assert suite.mac == digests[info["digest"]], (suite, info)
        checked += 1
    assert checked >= 20
