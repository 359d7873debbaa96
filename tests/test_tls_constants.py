"""IANA tables and lookup helpers in dissector.tls.constants."""

import hashlib

import pytest

from dissector.tls import constants as c
from dissector.tls.constants import (
    ALERT_DESCRIPTIONS,
    ALERT_LEVELS,
    CONTENT_TYPE_NAMES,
    EXTENSIONS,
    GROUPS,
    HANDSHAKE_TYPES,
    PSK_KEY_EXCHANGE_MODES,
    SIGNATURE_SCHEMES,
    VERSIONS,
    AlertDescription,
    ContentType,
    ExtensionType,
    HandshakeType,
    is_grease,
    name_of,
    tls13_draft,
    version_name,
)

GREASE_VALUES = [0x0A0A + 0x1010 * i for i in range(16)]

ALL_TABLES = {
    "CONTENT_TYPE_NAMES": c.CONTENT_TYPE_NAMES,
    "VERSIONS": c.VERSIONS,
    "HANDSHAKE_TYPES": c.HANDSHAKE_TYPES,
    "ALERT_LEVELS": c.ALERT_LEVELS,
    "ALERT_DESCRIPTIONS": c.ALERT_DESCRIPTIONS,
    "EXTENSIONS": c.EXTENSIONS,
    "GROUPS": c.GROUPS,
    "SIGNATURE_SCHEMES": c.SIGNATURE_SCHEMES,
    "HASH_ALGORITHMS": c.HASH_ALGORITHMS,
    "SIGNATURE_ALGORITHMS": c.SIGNATURE_ALGORITHMS,
    "EC_POINT_FORMATS": c.EC_POINT_FORMATS,
    "EC_CURVE_TYPES": c.EC_CURVE_TYPES,
    "COMPRESSION_METHODS": c.COMPRESSION_METHODS,
    "PSK_KEY_EXCHANGE_MODES": c.PSK_KEY_EXCHANGE_MODES,
    "CERTIFICATE_STATUS_TYPES": c.CERTIFICATE_STATUS_TYPES,
    "CLIENT_CERTIFICATE_TYPES": c.CLIENT_CERTIFICATE_TYPES,
    "CERTIFICATE_TYPES": c.CERTIFICATE_TYPES,
    "KEY_UPDATE_REQUEST": c.KEY_UPDATE_REQUEST,
    "CERTIFICATE_COMPRESSION_ALGORITHMS": c.CERTIFICATE_COMPRESSION_ALGORITHMS,
    "SERVER_NAME_TYPES": c.SERVER_NAME_TYPES,
    "MAX_FRAGMENT_LENGTHS": c.MAX_FRAGMENT_LENGTHS,
    "HEARTBEAT_MODES": c.HEARTBEAT_MODES,
    "HEARTBEAT_MESSAGE_TYPES": c.HEARTBEAT_MESSAGE_TYPES,
}


@pytest.mark.parametrize("name", sorted(ALL_TABLES))
def test_tables_are_int_to_unique_nonempty_str(name):
    table = ALL_TABLES[name]
    assert isinstance(table, dict) and table
    for k, v in table.items():
        assert type(k) is int and 0 <= k <= 0xFFFF, (name, k)
        assert isinstance(v, str) and v.strip() == v and v, (name, k)
    assert len(set(table.values())) == len(table), f"duplicate names in {name}"


@pytest.mark.parametrize("name", sorted(ALL_TABLES))
def test_tables_hold_no_grease(name):
    assert not any(is_grease(k) for k in ALL_TABLES[name])


def test_content_types():
    assert ContentType.CHANGE_CIPHER_SPEC == 20
    assert ContentType.ALERT == 21
    assert ContentType.HANDSHAKE == 22
    assert ContentType.APPLICATION_DATA == 23
    assert ContentType.HEARTBEAT == 24
    for member in ContentType:
        assert CONTENT_TYPE_NAMES[member] == member.name.lower()


def test_handshake_types_use_json_contract_names():
    # DESIGN.md: message "type" names are the RFC names in CamelCase.
    expected = {
        0: "HelloRequest",
        1: "ClientHello",
        2: "ServerHello",
        3: "HelloVerifyRequest",
        4: "NewSessionTicket",
        5: "EndOfEarlyData",
        6: "HelloRetryRequest",
        8: "EncryptedExtensions",
        11: "Certificate",
        12: "ServerKeyExchange",
        13: "CertificateRequest",
        14: "ServerHelloDone",
        15: "CertificateVerify",
        16: "ClientKeyExchange",
        17: "ClientCertificateRequest",
        20: "Finished",
        21: "CertificateURL",
        22: "CertificateStatus",
        23: "SupplementalData",
        24: "KeyUpdate",
        25: "CompressedCertificate",
        26: "EKTKey",
        254: "MessageHash",
    }
    for code, name in expected.items():
        assert HANDSHAKE_TYPES[code] == name


def test_handshake_enum_matches_table():
    for member in HandshakeType:
        camel = "".join(part.capitalize() for part in member.name.split("_"))
        assert HANDSHAKE_TYPES[member].lower() == camel.lower(), member


def test_alerts():
    assert ALERT_LEVELS == {1: "warning", 2: "fatal"}
    spot = {
        0: "close_notify",
        10: "unexpected_message",
        20: "bad_record_mac",
        21: "decryption_failed",
        22: "record_overflow",
        30: "decompression_failure",
        40: "handshake_failure",
        41: "no_certificate",
        42: "bad_certificate",
        48: "unknown_ca",
        50: "decode_error",
        51: "decrypt_error",
        70: "protocol_version",
        80: "internal_error",
        86: "inappropriate_fallback",
        90: "user_canceled",
        100: "no_renegotiation",
        109: "missing_extension",
        110: "unsupported_extension",
        112: "unrecognized_name",
        115: "unknown_psk_identity",
        116: "certificate_required",
        120: "no_application_protocol",
        121: "ech_required",
    }
    for code, name in spot.items():
        assert ALERT_DESCRIPTIONS[code] == name
    for member in AlertDescription:
        assert ALERT_DESCRIPTIONS[member] == member.name.lower()
    assert all(n == n.lower() and " " not in n for n in ALERT_DESCRIPTIONS.values())


def test_extensions():
    spot = {
        0: "server_name",
        1: "max_fragment_length",
        5: "status_request",
        10: "supported_groups",
        11: "ec_point_formats",
        13: "signature_algorithms",
        14: "use_srtp",
        15: "heartbeat",
        16: "application_layer_protocol_negotiation",
        18: "signed_certificate_timestamp",
        21: "padding",
        22: "encrypt_then_mac",
        23: "extended_master_secret",
        27: "compress_certificate",
        28: "record_size_limit",
        35: "session_ticket",
        40: "key_share (draft)",
        41: "pre_shared_key",
        42: "early_data",
        43: "supported_versions",
        44: "cookie",
        45: "psk_key_exchange_modes",
        47: "certificate_authorities",
        48: "oid_filters",
        49: "post_handshake_auth",
        50: "signature_algorithms_cert",
        51: "key_share",
        57: "quic_transport_parameters",
        17513: "application_settings (old)",
        0xFE0D: "encrypted_client_hello",
        0xFF01: "renegotiation_info",
    }
    for code, name in spot.items():
        assert EXTENSIONS[code] == name
    # every registry value 0..62 is named (40 and 46 were draft-era, now reserved)
    assert set(range(63)) <= set(EXTENSIONS)


def test_extension_enum_matches_table():
    renamed = {
        ExtensionType.KEY_SHARE_DRAFT: "key_share (draft)",
        ExtensionType.APPLICATION_SETTINGS_OLD: "application_settings (old)",
    }
    for member in ExtensionType:
        assert EXTENSIONS[member] == renamed.get(member, member.name.lower()), member


def test_groups():
    spot = {
        23: "secp256r1",
        24: "secp384r1",
        25: "secp521r1",
        26: "brainpoolP256r1",
        29: "x25519",
        30: "x448",
        256: "ffdhe2048",
        260: "ffdhe8192",
        0x11EB: "SecP256r1MLKEM768",
        0x11EC: "X25519MLKEM768",
        0x6399: "X25519Kyber768Draft00",
    }
    for code, name in spot.items():
        assert GROUPS[code] == name


def test_signature_schemes():
    spot = {
        0x0201: "rsa_pkcs1_sha1",
        0x0203: "ecdsa_sha1",
        0x0401: "rsa_pkcs1_sha256",
        0x0403: "ecdsa_secp256r1_sha256",
        0x0501: "rsa_pkcs1_sha384",
        0x0503: "ecdsa_secp384r1_sha384",
        0x0601: "rsa_pkcs1_sha512",
        0x0603: "ecdsa_secp521r1_sha512",
        0x0804: "rsa_pss_rsae_sha256",
        0x0805: "rsa_pss_rsae_sha384",
        0x0806: "rsa_pss_rsae_sha512",
        0x0807: "ed25519",
        0x0808: "ed448",
        0x0809: "rsa_pss_pss_sha256",
        0x080B: "rsa_pss_pss_sha512",
        0x0301: "sha224_rsa",
        0x0303: "sha224_ecdsa",
        0x0402: "sha256_dsa",
    }
    for code, name in spot.items():
        assert SIGNATURE_SCHEMES[code] == name


def test_small_registries():
    assert c.COMPRESSION_METHODS == {0: "null", 1: "DEFLATE", 64: "LZS"}
    assert PSK_KEY_EXCHANGE_MODES == {0: "psk_ke", 1: "psk_dhe_ke"}
    assert c.KEY_UPDATE_REQUEST == {0: "update_not_requested", 1: "update_requested"}
    assert c.EC_POINT_FORMATS[0] == "uncompressed"
    assert c.CERTIFICATE_STATUS_TYPES[1] == "ocsp"
    assert c.CLIENT_CERTIFICATE_TYPES[1] == "rsa_sign"
    assert c.CLIENT_CERTIFICATE_TYPES[64] == "ecdsa_sign"
    assert c.CERTIFICATE_COMPRESSION_ALGORITHMS == {1: "zlib", 2: "brotli", 3: "zstd"}


def test_special_values():
    assert c.HRR_RANDOM == hashlib.sha256(b"HelloRetryRequest").digest()
    assert c.HRR_RANDOM[:4] == bytes.fromhex("cf21ad74") and len(c.HRR_RANDOM) == 32
    assert c.DOWNGRADE_TLS12 == bytes.fromhex("444f574e47524401")
    assert c.DOWNGRADE_TLS11 == bytes.fromhex("444f574e47524400")


# --- GREASE and the lookup helpers -----------------------------------------------------------


@pytest.mark.parametrize("v", GREASE_VALUES)
def test_is_grease_true(v):
    assert is_grease(v)


@pytest.mark.parametrize("v", [0x0000, 0x0A0B, 0x0B0A, 0x1A2A, 0x0A1A, 0xFAFB, 0x0303, 0x1301, -1, 0x10A0A, 0x0A])
def test_is_grease_false(v):
    assert not is_grease(v)


def test_is_grease_odd_inputs():
    assert not is_grease("0a0a")  # type: ignore[arg-type]
    assert not is_grease(None)  # type: ignore[arg-type]


def test_name_of():
    assert name_of(EXTENSIONS, 0) == "server_name"
    assert name_of(EXTENSIONS, 0x0A0A) == "GREASE (0x0a0a)"
    assert name_of(GROUPS, 0xFAFA) == "GREASE (0xfafa)"
    assert name_of(EXTENSIONS, 0x1234) == "unknown(0x1234)"
    assert name_of(ALERT_DESCRIPTIONS, 7) == "unknown(0x0007)"
    assert name_of(GROUPS, 0xABCD) == "unknown(0xabcd)"
    assert name_of(PSK_KEY_EXCHANGE_MODES, 0x2A) == "GREASE (0x2a)"
    assert name_of(PSK_KEY_EXCHANGE_MODES, 2) == "unknown(0x0002)"


@pytest.mark.parametrize("value", [None, "abc", -5, 1.5, [1], b"\x00", 2**40])
def test_name_of_never_raises(value):
    result = name_of(EXTENSIONS, value)
    assert isinstance(result, str) and result.startswith("unknown(")


def test_version_name_known():
    for code, name in VERSIONS.items():
        assert version_name(code) == name
    assert version_name(0x0303) == "TLS 1.2"
    assert version_name(0x0304) == "TLS 1.3"
    assert version_name(0x0300) == "SSL 3.0"
    assert version_name(0xFEFD) == "DTLS 1.2"


def test_version_name_drafts_grease_unknown():
    assert version_name(0x7F14) == "TLS 1.3 (draft 20)"
    assert version_name(0x7F17) == "TLS 1.3 (draft 23)"
    assert version_name(0x7F1C) == "TLS 1.3 (draft 28)"
    assert version_name(0xFB17) == "TLS 1.3 (Facebook draft 23)"
    assert version_name(0xFB1A) == "TLS 1.3 (Facebook draft 26)"
    assert version_name(0x1A1A) == "GREASE (0x1a1a)"
    assert version_name(0xDADA) == "GREASE (0xdada)"
    assert version_name(0x0305) == "unknown(0x0305)"
    assert version_name(None).startswith("unknown(")  # type: ignore[arg-type]


def test_tls13_draft():
    assert tls13_draft(0x7F14) == 20
    assert tls13_draft(0x7F1C) == 28
    assert tls13_draft(0xFB17) == 23
    assert tls13_draft(0x0304) is None
    assert tls13_draft(0x0303) is None
    assert tls13_draft(0x1A1A) is None
