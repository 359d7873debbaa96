"""IANA names for TLS protocol values.

Every table is a plain ``dict[int, str]`` so that lookups are one hash probe; a few IntEnums
cover the values the parsers branch on.  Names are the registry names (RFC 8446, RFC 5246,
RFC 8422, RFC 7919, RFC 6066, RFC 8447 and the IANA "TLS Parameters" / "TLS Extensions"
registries); values that are in common use but were never registered (draft code points,
vendor experiments) are included where they are well documented, with a comment saying so.

Lookup helpers never raise: :func:`name_of` returns ``"unknown(0x....)"`` for a value that is
not in the table, and ``"GREASE (0x....)"`` for an RFC 8701 GREASE value.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ALERT_DESCRIPTIONS",
    "ALERT_LEVELS",
    "CERTIFICATE_COMPRESSION_ALGORITHMS",
    "CERTIFICATE_STATUS_TYPES",
    "CERTIFICATE_TYPES",
    "CLIENT_CERTIFICATE_TYPES",
    "COMPRESSION_METHODS",
    "CONTENT_TYPE_NAMES",
    "DOWNGRADE_TLS11",
    "DOWNGRADE_TLS12",
    "EC_CURVE_TYPES",
    "EC_POINT_FORMATS",
    "EXTENSIONS",
    "GREASE_PSK_KEY_EXCHANGE_MODES",
    "GROUPS",
    "HANDSHAKE_TYPES",
    "HASH_ALGORITHMS",
    "HEARTBEAT_MESSAGE_TYPES",
    "HEARTBEAT_MODES",
    "HRR_RANDOM",
    "KEY_UPDATE_REQUEST",
    "MAX_FRAGMENT_LENGTHS",
    "PSK_KEY_EXCHANGE_MODES",
    "SERVER_NAME_TYPES",
    "SIGNATURE_ALGORITHMS",
    "SIGNATURE_SCHEMES",
    "VERSIONS",
    "AlertDescription",
    "AlertLevel",
    "ContentType",
    "ExtensionType",
    "HandshakeType",
    "is_grease",
    "name_of",
    "tls13_draft",
    "version_name",
]


# --------------------------------------------------------------------------------------------
# Record layer: ContentType (RFC 8446 5.1, RFC 6520, RFC 9146, RFC 9147)
# --------------------------------------------------------------------------------------------


class ContentType(IntEnum):
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24
    TLS12_CID = 25
    ACK = 26


CONTENT_TYPE_NAMES: dict[int, str] = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",  # RFC 6520
    25: "tls12_cid",  # RFC 9146
    26: "ack",  # RFC 9147 (DTLS 1.3)
    27: "return_routability_check",  # draft-ietf-tls-dtls-rrc
}


# --------------------------------------------------------------------------------------------
# Protocol versions
# --------------------------------------------------------------------------------------------

VERSIONS: dict[int, str] = {
    0x0002: "SSL 2.0",
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
    0x0100: "DTLS 1.0 (OpenSSL pre-0.9.8f)",
}


def tls13_draft(v: int) -> int | None:
    """The TLS 1.3 draft number of a 0x7fNN version (NN in hex, e.g. 0x7f14 -> 20), else None.

    Facebook's experimental drafts (0xfbNN, e.g. 0xfb17 = draft 23) also return their draft number.
    """
    if not isinstance(v, int):
        return None
    if v & 0xFF00 == 0x7F00 or v & 0xFF00 == 0xFB00:
        return v & 0xFF
    return None


def version_name(v: int) -> str:
    """Display name of a protocol version: "TLS 1.2", "TLS 1.3 (draft 23)", "GREASE (0x1a1a)" ..."""
    try:
        name = VERSIONS.get(v)
        if name is not None:
            return name
        if v & 0xFF00 == 0x7F00:
            return f"TLS 1.3 (draft {v & 0xFF})"
        if v & 0xFF00 == 0xFB00:  # Facebook/fizz experimental: 0xfb17 = draft 23, 0xfb1a = draft 26
            return f"TLS 1.3 (Facebook draft {v & 0xFF})"
        if is_grease(v):
            return f"GREASE (0x{v:04x})"
        return f"unknown(0x{v:04x})"
    except (TypeError, ValueError):
        return f"unknown({v!r})"


# --------------------------------------------------------------------------------------------
# Handshake message types (IANA "TLS HandshakeType"), CamelCase as used by the JSON contract
# --------------------------------------------------------------------------------------------


class HandshakeType(IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    HELLO_VERIFY_REQUEST = 3
    NEW_SESSION_TICKET = 4
    END_OF_EARLY_DATA = 5
    HELLO_RETRY_REQUEST = 6
    ENCRYPTED_EXTENSIONS = 8
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CERTIFICATE_VERIFY = 15
    CLIENT_KEY_EXCHANGE = 16
    FINISHED = 20
    CERTIFICATE_URL = 21
    CERTIFICATE_STATUS = 22
    SUPPLEMENTAL_DATA = 23
    KEY_UPDATE = 24
    COMPRESSED_CERTIFICATE = 25
    MESSAGE_HASH = 254


HANDSHAKE_TYPES: dict[int, str] = {
    0: "HelloRequest",
    1: "ClientHello",
    2: "ServerHello",
    3: "HelloVerifyRequest",  # DTLS (RFC 6347)
    4: "NewSessionTicket",  # RFC 5077 / RFC 8446
    5: "EndOfEarlyData",  # RFC 8446
    6: "HelloRetryRequest",  # TLS 1.3 drafts; final RFC 8446 sends a ServerHello with HRR_RANDOM
    8: "EncryptedExtensions",  # RFC 8446
    9: "RequestConnectionId",  # RFC 9147
    10: "NewConnectionId",  # RFC 9147
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
    17: "ClientCertificateRequest",  # RFC 9261 (exported authenticators)
    20: "Finished",
    21: "CertificateURL",  # RFC 6066
    22: "CertificateStatus",  # RFC 6066
    23: "SupplementalData",  # RFC 4680
    24: "KeyUpdate",  # RFC 8446
    25: "CompressedCertificate",  # RFC 8879
    26: "EKTKey",  # RFC 8870
    67: "NextProtocol",  # not IANA: NPN (draft-agl-tls-nextprotoneg)
    254: "MessageHash",  # RFC 8446 4.4.1 (synthetic, only inside the transcript hash)
}


# --------------------------------------------------------------------------------------------
# Alerts (RFC 8446 6, RFC 5246 7.2, IANA "TLS Alerts")
# --------------------------------------------------------------------------------------------


class AlertLevel(IntEnum):
    WARNING = 1
    FATAL = 2


ALERT_LEVELS: dict[int, str] = {1: "warning", 2: "fatal"}


class AlertDescription(IntEnum):
    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    RECORD_OVERFLOW = 22
    HANDSHAKE_FAILURE = 40
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100
    MISSING_EXTENSION = 109
    UNSUPPORTED_EXTENSION = 110
    UNRECOGNIZED_NAME = 112
    BAD_CERTIFICATE_STATUS_RESPONSE = 113
    UNKNOWN_PSK_IDENTITY = 115
    CERTIFICATE_REQUIRED = 116
    NO_APPLICATION_PROTOCOL = 120
    ECH_REQUIRED = 121


ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",  # reserved since TLS 1.1
    22: "record_overflow",
    30: "decompression_failure",  # reserved in TLS 1.3
    40: "handshake_failure",
    41: "no_certificate",  # SSL 3.0 only
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    52: "too_many_cids_requested",  # RFC 9147
    60: "export_restriction",  # reserved since TLS 1.1
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",  # RFC 7507
    90: "user_canceled",
    100: "no_renegotiation",  # reserved in TLS 1.3
    109: "missing_extension",  # RFC 8446
    110: "unsupported_extension",
    111: "certificate_unobtainable",  # RFC 6066, reserved in TLS 1.3
    112: "unrecognized_name",  # RFC 6066
    113: "bad_certificate_status_response",  # RFC 6066
    114: "bad_certificate_hash_value",  # RFC 6066, reserved in TLS 1.3
    115: "unknown_psk_identity",  # RFC 4279
    116: "certificate_required",  # RFC 8446
    117: "general_error",  # RFC 9846 (rfc8446bis)
    120: "no_application_protocol",  # RFC 7301
    121: "ech_required",  # draft-ietf-tls-esni
}


# --------------------------------------------------------------------------------------------
# Extensions (IANA "TLS ExtensionType Values")
# --------------------------------------------------------------------------------------------


class ExtensionType(IntEnum):
    SERVER_NAME = 0
    MAX_FRAGMENT_LENGTH = 1
    STATUS_REQUEST = 5
    SUPPORTED_GROUPS = 10
    EC_POINT_FORMATS = 11
    SIGNATURE_ALGORITHMS = 13
    USE_SRTP = 14
    HEARTBEAT = 15
    APPLICATION_LAYER_PROTOCOL_NEGOTIATION = 16
    SIGNED_CERTIFICATE_TIMESTAMP = 18
    CLIENT_CERTIFICATE_TYPE = 19
    SERVER_CERTIFICATE_TYPE = 20
    PADDING = 21
    ENCRYPT_THEN_MAC = 22
    EXTENDED_MASTER_SECRET = 23
    COMPRESS_CERTIFICATE = 27
    RECORD_SIZE_LIMIT = 28
    DELEGATED_CREDENTIAL = 34
    SESSION_TICKET = 35
    KEY_SHARE_DRAFT = 40
    PRE_SHARED_KEY = 41
    EARLY_DATA = 42
    SUPPORTED_VERSIONS = 43
    COOKIE = 44
    PSK_KEY_EXCHANGE_MODES = 45
    CERTIFICATE_AUTHORITIES = 47
    OID_FILTERS = 48
    POST_HANDSHAKE_AUTH = 49
    SIGNATURE_ALGORITHMS_CERT = 50
    KEY_SHARE = 51
    QUIC_TRANSPORT_PARAMETERS = 57
    NEXT_PROTOCOL_NEGOTIATION = 13172
    APPLICATION_SETTINGS_OLD = 17513
    APPLICATION_SETTINGS = 17613
    ECH_OUTER_EXTENSIONS = 0xFD00
    ENCRYPTED_CLIENT_HELLO = 0xFE0D
    RENEGOTIATION_INFO = 0xFF01


EXTENSIONS: dict[int, str] = {
    0: "server_name",  # RFC 6066
    1: "max_fragment_length",  # RFC 6066
    2: "client_certificate_url",  # RFC 6066
    3: "trusted_ca_keys",  # RFC 6066
    4: "truncated_hmac",  # RFC 6066
    5: "status_request",  # RFC 6066
    6: "user_mapping",  # RFC 4681
    7: "client_authz",  # RFC 5878
    8: "server_authz",  # RFC 5878
    9: "cert_type",  # RFC 6091
    10: "supported_groups",  # RFC 8422, RFC 7919 (was "elliptic_curves")
    11: "ec_point_formats",  # RFC 8422
    12: "srp",  # RFC 5054
    13: "signature_algorithms",  # RFC 8446
    14: "use_srtp",  # RFC 5764
    15: "heartbeat",  # RFC 6520
    16: "application_layer_protocol_negotiation",  # RFC 7301
    17: "status_request_v2",  # RFC 6961
    18: "signed_certificate_timestamp",  # RFC 6962
    19: "client_certificate_type",  # RFC 7250
    20: "server_certificate_type",  # RFC 7250
    21: "padding",  # RFC 7685
    22: "encrypt_then_mac",  # RFC 7366
    23: "extended_master_secret",  # RFC 7627
    24: "token_binding",  # RFC 8472
    25: "cached_info",  # RFC 7924
    26: "tls_lts",  # draft-gutmann-tls-lts
    27: "compress_certificate",  # RFC 8879
    28: "record_size_limit",  # RFC 8449
    29: "pwd_protect",  # RFC 8492
    30: "pwd_clear",  # RFC 8492
    31: "password_salt",  # RFC 8492
    32: "ticket_pinning",  # RFC 8672
    33: "tls_cert_with_extern_psk",  # RFC 8773
    34: "delegated_credential",  # RFC 9345
    35: "session_ticket",  # RFC 5077 / RFC 8447
    36: "TLMSP",  # ETSI TS 103 523-2
    37: "TLMSP_proxying",  # ETSI TS 103 523-2
    38: "TLMSP_delegate",  # ETSI TS 103 523-2
    39: "supported_ekt_ciphers",  # RFC 8870
    40: "key_share (draft)",  # TLS 1.3 drafts up to -22; now reserved
    41: "pre_shared_key",  # RFC 8446
    42: "early_data",  # RFC 8446
    43: "supported_versions",  # RFC 8446
    44: "cookie",  # RFC 8446
    45: "psk_key_exchange_modes",  # RFC 8446
    46: "ticket_early_data_info (draft)",  # TLS 1.3 draft -18; now reserved
    47: "certificate_authorities",  # RFC 8446
    48: "oid_filters",  # RFC 8446
    49: "post_handshake_auth",  # RFC 8446
    50: "signature_algorithms_cert",  # RFC 8446
    51: "key_share",  # RFC 8446
    52: "transparency_info",  # RFC 9162
    53: "connection_id (deprecated)",  # draft-ietf-tls-dtls-connection-id-07
    54: "connection_id",  # RFC 9146
    55: "external_id_hash",  # RFC 8844
    56: "external_session_id",  # RFC 8844
    57: "quic_transport_parameters",  # RFC 9001
    58: "ticket_request",  # RFC 9149
    59: "dnssec_chain",  # RFC 9102
    60: "sequence_number_encryption_algorithms",  # draft-pismenny-tls-dtls-plaintext-sequence-number
    61: "rrc",  # draft-ietf-tls-dtls-rrc
    62: "tls_flags",  # draft-ietf-tls-tlsflags
    13172: "next_protocol_negotiation",  # not IANA: 0x3374, draft-agl-tls-nextprotoneg
    17513: "application_settings (old)",  # not IANA: 0x4469, ALPS (BoringSSL, old code point)
    17613: "application_settings",  # not IANA: 0x44cd, ALPS (BoringSSL, new code point)
    30031: "channel_id (old)",  # not IANA: 0x754f, draft-balfanz-tls-channelid-00
    30032: "channel_id",  # not IANA: 0x7550, draft-balfanz-tls-channelid-01
    0xCA34: "trust_anchors",  # not IANA yet: draft-ietf-tls-trust-anchor-ids (BoringSSL, Chromium)
    0xFD00: "ech_outer_extensions",  # draft-ietf-tls-esni
    0xFE0D: "encrypted_client_hello",  # draft-ietf-tls-esni
    0xFF01: "renegotiation_info",  # RFC 5746
    0xFFA5: "quic_transport_parameters (draft)",  # not IANA: draft-ietf-quic-tls before -33
    0xFFCE: "encrypted_server_name",  # not IANA: draft-ietf-tls-esni-01..-06 (ESNI)
}


# --------------------------------------------------------------------------------------------
# Named groups (IANA "TLS Supported Groups"; RFC 8422, RFC 7919, RFC 8446)
# --------------------------------------------------------------------------------------------

GROUPS: dict[int, str] = {
    1: "sect163k1",
    2: "sect163r1",
    3: "sect163r2",
    4: "sect193r1",
    5: "sect193r2",
    6: "sect233k1",
    7: "sect233r1",
    8: "sect239k1",
    9: "sect283k1",
    10: "sect283r1",
    11: "sect409k1",
    12: "sect409r1",
    13: "sect571k1",
    14: "sect571r1",
    15: "secp160k1",
    16: "secp160r1",
    17: "secp160r2",
    18: "secp192k1",
    19: "secp192r1",
    20: "secp224k1",
    21: "secp224r1",
    22: "secp256k1",
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    26: "brainpoolP256r1",  # RFC 7027
    27: "brainpoolP384r1",  # RFC 7027
    28: "brainpoolP512r1",  # RFC 7027
    29: "x25519",  # RFC 8422
    30: "x448",  # RFC 8422
    31: "brainpoolP256r1tls13",  # RFC 8734
    32: "brainpoolP384r1tls13",  # RFC 8734
    33: "brainpoolP512r1tls13",  # RFC 8734
    34: "GC256A",  # RFC 9189
    35: "GC256B",  # RFC 9189
    36: "GC256C",  # RFC 9189
    37: "GC256D",  # RFC 9189
    38: "GC512A",  # RFC 9189
    39: "GC512B",  # RFC 9189
    40: "GC512C",  # RFC 9189
    41: "curveSM2",  # RFC 8998
    256: "ffdhe2048",  # RFC 7919
    257: "ffdhe3072",  # RFC 7919
    258: "ffdhe4096",  # RFC 7919
    259: "ffdhe6144",  # RFC 7919
    260: "ffdhe8192",  # RFC 7919
    0x0200: "MLKEM512",  # draft-connolly-tls-mlkem-key-agreement
    0x0201: "MLKEM768",  # draft-connolly-tls-mlkem-key-agreement
    0x0202: "MLKEM1024",  # draft-connolly-tls-mlkem-key-agreement
    0x11EB: "SecP256r1MLKEM768",  # draft-kwiatkowski-tls-ecdhe-mlkem
    0x11EC: "X25519MLKEM768",  # draft-kwiatkowski-tls-ecdhe-mlkem
    0x11ED: "SecP384r1MLKEM1024",  # draft-kwiatkowski-tls-ecdhe-mlkem
    0x6399: "X25519Kyber768Draft00",  # obsolete pre-standard hybrid (draft-tls-westerbaan-xyber768d00)
    0x639A: "SecP256r1Kyber768Draft00",  # obsolete pre-standard hybrid (draft-kwiatkowski-tls-ecdhe-kyber)
    0xFF01: "arbitrary_explicit_prime_curves",  # RFC 8422 (deprecated)
    0xFF02: "arbitrary_explicit_char2_curves",  # RFC 8422 (deprecated)
}


# --------------------------------------------------------------------------------------------
# Signature schemes (IANA "TLS SignatureScheme", RFC 8446 4.2.3) plus the TLS 1.2
# hash/signature pairs (RFC 5246 7.4.1.4.1) that have no TLS 1.3 name.
# --------------------------------------------------------------------------------------------

SIGNATURE_SCHEMES: dict[int, str] = {
    # TLS 1.2 HashAlgorithm x SignatureAlgorithm pairs without a SignatureScheme name
    0x0101: "md5_rsa",
    0x0102: "md5_dsa",
    0x0103: "md5_ecdsa",
    0x0202: "sha1_dsa",
    0x0301: "sha224_rsa",
    0x0302: "sha224_dsa",
    0x0303: "sha224_ecdsa",
    0x0402: "sha256_dsa",
    0x0502: "sha384_dsa",
    0x0602: "sha512_dsa",
    # SignatureScheme registry
    0x0201: "rsa_pkcs1_sha1",
    0x0203: "ecdsa_sha1",
    0x0401: "rsa_pkcs1_sha256",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0420: "rsa_pkcs1_sha256_legacy",  # draft-davidben-tls13-pkcs1
    0x0501: "rsa_pkcs1_sha384",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0520: "rsa_pkcs1_sha384_legacy",  # draft-davidben-tls13-pkcs1
    0x0601: "rsa_pkcs1_sha512",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0620: "rsa_pkcs1_sha512_legacy",  # draft-davidben-tls13-pkcs1
    0x0704: "eccsi_sha256",  # draft-wang-tls-raw-public-key-with-ibc
    0x0705: "iso_ibs1",  # draft-wang-tls-raw-public-key-with-ibc
    0x0706: "iso_ibs2",  # draft-wang-tls-raw-public-key-with-ibc
    0x0707: "iso_chinese_ibs",  # draft-wang-tls-raw-public-key-with-ibc
    0x0708: "sm2sig_sm3",  # RFC 8998
    0x0709: "gostr34102012_256a",  # RFC 9367
    0x070A: "gostr34102012_256b",  # RFC 9367
    0x070B: "gostr34102012_256c",  # RFC 9367
    0x070C: "gostr34102012_256d",  # RFC 9367
    0x070D: "gostr34102012_512a",  # RFC 9367
    0x070E: "gostr34102012_512b",  # RFC 9367
    0x070F: "gostr34102012_512c",  # RFC 9367
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",  # RFC 8734
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",  # RFC 8734
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",  # RFC 8734
    0x0840: "gostr34102012_256",  # RFC 9189 (TLS 1.2: intrinsic hash 8, signature 64)
    0x0841: "gostr34102012_512",  # RFC 9189 (TLS 1.2: intrinsic hash 8, signature 65)
    0x0904: "mldsa44",  # draft-ietf-tls-mldsa
    0x0905: "mldsa65",  # draft-ietf-tls-mldsa
    0x0906: "mldsa87",  # draft-ietf-tls-mldsa
}

# TLS 1.2 components (RFC 5246 7.4.1.4.1, RFC 8422, RFC 9189): for naming pairs not listed above.
HASH_ALGORITHMS: dict[int, str] = {
    0: "none",
    1: "md5",
    2: "sha1",
    3: "sha224",
    4: "sha256",
    5: "sha384",
    6: "sha512",
    8: "intrinsic",
}

SIGNATURE_ALGORITHMS: dict[int, str] = {
    0: "anonymous",
    1: "rsa",
    2: "dsa",
    3: "ecdsa",
    7: "ed25519",
    8: "ed448",
    64: "gostr34102012_256",
    65: "gostr34102012_512",
}


# --------------------------------------------------------------------------------------------
# Smaller registries
# --------------------------------------------------------------------------------------------

EC_POINT_FORMATS: dict[int, str] = {
    0: "uncompressed",
    1: "ansiX962_compressed_prime",
    2: "ansiX962_compressed_char2",
}

EC_CURVE_TYPES: dict[int, str] = {
    1: "explicit_prime",
    2: "explicit_char2",
    3: "named_curve",
}

COMPRESSION_METHODS: dict[int, str] = {
    0: "null",
    1: "DEFLATE",  # RFC 3749
    64: "LZS",  # RFC 3943
}

PSK_KEY_EXCHANGE_MODES: dict[int, str] = {
    0: "psk_ke",
    1: "psk_dhe_ke",
}

# RFC 8701 GREASE values for the one-byte PskKeyExchangeMode field.
GREASE_PSK_KEY_EXCHANGE_MODES: frozenset[int] = frozenset({0x0B, 0x2A, 0x49, 0x68, 0x87, 0xA6, 0xC5, 0xE4})

CERTIFICATE_STATUS_TYPES: dict[int, str] = {
    1: "ocsp",  # RFC 6066
    2: "ocsp_multi",  # RFC 6961
}

# TLS ClientCertificateType (CertificateRequest.certificate_types, TLS <= 1.2)
CLIENT_CERTIFICATE_TYPES: dict[int, str] = {
    1: "rsa_sign",
    2: "dss_sign",
    3: "rsa_fixed_dh",
    4: "dss_fixed_dh",
    5: "rsa_ephemeral_dh",  # reserved
    6: "dss_ephemeral_dh",  # reserved
    20: "fortezza_dms",  # reserved
    64: "ecdsa_sign",  # RFC 8422
    65: "rsa_fixed_ecdh",  # RFC 8422 (deprecated)
    66: "ecdsa_fixed_ecdh",  # RFC 8422 (deprecated)
    67: "gost_sign256",  # RFC 9189
    68: "gost_sign512",  # RFC 9189
}

# TLS Certificate Types (client_certificate_type / server_certificate_type extensions, RFC 7250)
CERTIFICATE_TYPES: dict[int, str] = {
    0: "X509",
    1: "OpenPGP",
    2: "RawPublicKey",
    3: "1609Dot2",  # IEEE 1609.2 (draft-tls-certieee1609)
}

KEY_UPDATE_REQUEST: dict[int, str] = {
    0: "update_not_requested",
    1: "update_requested",
}

# IANA "TLS Certificate Compression Algorithm IDs" (RFC 8879)
CERTIFICATE_COMPRESSION_ALGORITHMS: dict[int, str] = {
    1: "zlib",
    2: "brotli",
    3: "zstd",
}

SERVER_NAME_TYPES: dict[int, str] = {0: "host_name"}

# RFC 6066 4: max_fragment_length values
MAX_FRAGMENT_LENGTHS: dict[int, str] = {1: "2^9", 2: "2^10", 3: "2^11", 4: "2^12"}

HEARTBEAT_MODES: dict[int, str] = {1: "peer_allowed_to_send", 2: "peer_not_allowed_to_send"}
HEARTBEAT_MESSAGE_TYPES: dict[int, str] = {1: "heartbeat_request", 2: "heartbeat_response"}


# --------------------------------------------------------------------------------------------
# Special values
# --------------------------------------------------------------------------------------------

# RFC 8446 4.1.3: a ServerHello whose random is SHA-256("HelloRetryRequest") is a HelloRetryRequest.
HRR_RANDOM: bytes = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

# RFC 8446 4.1.3: last 8 bytes of ServerHello.random when a TLS 1.3 server negotiates an older version.
DOWNGRADE_TLS12: bytes = b"DOWNGRD\x01"
DOWNGRADE_TLS11: bytes = b"DOWNGRD\x00"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def is_grease(v: int) -> bool:
    """True for the RFC 8701 GREASE values 0x0a0a, 0x1a1a, ..., 0xfafa (16-bit code points)."""
    return isinstance(v, int) and 0 <= v <= 0xFFFF and (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def name_of(table: dict[int, str], value: int) -> str:
    """Name of ``value`` in ``table``; "GREASE (0x0a0a)" for GREASE, else "unknown(0x....)". Never raises."""
    try:
        name = table.get(value)
    except TypeError:  # unhashable value
        return f"unknown({value!r})"
    if name is not None:
        return name
    if not isinstance(value, int) or isinstance(value, bool):
        return f"unknown({value!r})"
    if table is PSK_KEY_EXCHANGE_MODES and value in GREASE_PSK_KEY_EXCHANGE_MODES:
        return f"GREASE (0x{value:02x})"
    if is_grease(value):
        return f"GREASE (0x{value:04x})"
    if value < 0:
        return f"unknown({value})"
    return f"unknown(0x{value:04x})"
