"""Record decryptors: records are built here independently (cryptography ciphers, stdlib hmac/hashlib MACs)
and must decrypt; tampered records must raise DecryptError."""
from __future__ import annotations

import hashlib
import hmac
import os
from types import SimpleNamespace as NS

import pytest
from cryptography.hazmat.decrepit.ciphers import algorithms as decrepit
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from dissector.errors import DecryptError, MalformedInput
from dissector.tls import schedule13
from dissector.tls.protection import (
    AEAD12Protection,
    AEAD13Protection,
    CBCProtection,
    NullProtection,
    StreamProtection,
    UnsupportedCipher,
    UnverifiedNullProtection,
    aad_mode_for_draft,
    make_protection,
)

SSL3, TLS10, TLS11, TLS12, DTLS10, DTLS12 = 0x0300, 0x0301, 0x0302, 0x0303, 0xFEFF, 0xFEFD
HANDSHAKE, APP_DATA, ALERT = 22, 23, 21
MSGS = [b"GET / HTTP/1.1\r\nHost: example\r\n\r\n", b"", b"x" * 100, bytes(range(256)) * 5]


# --- independent record builders ---------------------------------------------------------------------------

def tls_mac(alg: str, key: bytes, seq: int, ctype: int, version: int, data: bytes) -> bytes:
    header = seq.to_bytes(8, "big") + bytes([ctype]) + version.to_bytes(2, "big") + len(data).to_bytes(2, "big")
    return hmac.new(key, header + data, alg).digest()


def ssl3_mac(alg: str, key: bytes, seq: int, ctype: int, data: bytes) -> bytes:
    pad = 48 if alg == "md5" else 40
    inner = hashlib.new(alg, key + b"\x36" * pad + seq.to_bytes(8, "big") + bytes([ctype])
                        + len(data).to_bytes(2, "big") + data).digest()
    return hashlib.new(alg, key + b"\x5c" * pad + inner).digest()


def block_algorithm(name: str, key: bytes):
    return {"AES": algorithms.AES, "CAMELLIA": decrepit.Camellia, "3DES": decrepit.TripleDES,
            "SEED": decrepit.SEED, "IDEA": decrepit.IDEA,
            "DES": lambda k: decrepit.TripleDES(k * 3)}[name.split("-")[0]](key)


def cbc_encrypt(name: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(block_algorithm(name, key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def tls_padding(length: int, bs: int) -> bytes:
    pad = bs - (length + 1) % bs
    return bytes([pad]) * (pad + 1)


# --- CBC ----------------------------------------------------------------------------------------------------

BLOCK_CIPHERS = [("AES-128-CBC", 16, 16), ("AES-256-CBC", 32, 16), ("CAMELLIA-128-CBC", 16, 16),
                 ("CAMELLIA-256-CBC", 32, 16), ("3DES-EDE-CBC", 24, 8), ("DES-CBC", 8, 8), ("SEED-CBC", 16, 16),
                 ("IDEA-CBC", 16, 8)]


@pytest.mark.parametrize("name,key_len,bs", BLOCK_CIPHERS, ids=[c[0] for c in BLOCK_CIPHERS])
@pytest.mark.parametrize("version", [TLS11, TLS12, DTLS10, DTLS12])
def test_cbc_explicit_iv_roundtrip(name, key_len, bs, version):
    key, mac_key = os.urandom(key_len), os.urandom(20)
    dec = CBCProtection(name, key, None, "SHA1", mac_key, version)
    for seq, msg in enumerate(MSGS):
        seq |= 1 << 48 if version in (DTLS10, DTLS12) else 0  # DTLS: epoch 1
        body = msg + tls_mac("sha1", mac_key, seq, APP_DATA, version, msg)
        body += tls_padding(len(body), bs)
        iv = os.urandom(bs)
        record = iv + cbc_encrypt(name, key, iv, body)
        assert dec.decrypt(seq, APP_DATA, version, memoryview(record)) == (APP_DATA, msg)


def test_tls10_implicit_iv_chains_across_three_records():
    key, mac_key = os.urandom(16), os.urandom(20)
    key_block_iv = os.urandom(16)  # client_write_IV: the IV of the first record only
    iv = key_block_iv
    records = []
    for seq, msg in enumerate(MSGS[:3]):
        body = msg + tls_mac("sha1", mac_key, seq, APP_DATA, TLS10, msg)
        body += tls_padding(len(body), 16)
        ct = cbc_encrypt("AES", key, iv, body)  # a fresh context per record, the IV chained by hand
        iv = ct[-16:]
        records.append(ct)
    dec = CBCProtection("AES-128-CBC", key, key_block_iv, "SHA1", mac_key, TLS10)
    for seq, (msg, record) in enumerate(zip(MSGS, records)):
        assert dec.decrypt(seq, APP_DATA, TLS10, record) == (APP_DATA, msg)
    # without the previous record the chain is wrong: record 2 alone fails to authenticate
    fresh = CBCProtection("AES-128-CBC", key, key_block_iv, "SHA1", mac_key, TLS10)
    with pytest.raises(DecryptError):
        fresh.decrypt(1, APP_DATA, TLS10, records[1])


def test_ssl3_cbc_mac_and_loose_padding():
    key, mac_key, iv = os.urandom(24), os.urandom(20), os.urandom(8)
    dec = CBCProtection("3DES-EDE-CBC", key, iv, "SHA1", mac_key, SSL3)
    for seq, msg in enumerate(MSGS):
        body = msg + ssl3_mac("sha1", mac_key, seq, APP_DATA, msg)
        pad = 8 - (len(body) + 1) % 8
        body += os.urandom(pad) + bytes([pad])  # SSL 3.0 padding bytes are arbitrary
        ct = cbc_encrypt("3DES", key, iv, body)
        iv = ct[-8:]
        assert dec.decrypt(seq, APP_DATA, SSL3, ct) == (APP_DATA, msg)


def test_ssl3_padding_longer_than_a_block_is_rejected():
    key, mac_key, iv = os.urandom(16), os.urandom(16), os.urandom(16)
    msg = b"fifteen bytes.."
    body = msg + ssl3_mac("md5", mac_key, 0, APP_DATA, msg)
    body += bytes([16]) * 17  # 15 + 16 + 17 = 48: padding valid in TLS, longer than a block for SSL 3.0
    with pytest.raises(DecryptError, match="bad padding"):
        CBCProtection("AES-128-CBC", key, iv, "MD5", mac_key, SSL3).decrypt(0, APP_DATA, SSL3,
                                                                           cbc_encrypt("AES", key, iv, body))


def test_tls_padding_bytes_must_equal_padding_length():
    key, mac_key = os.urandom(16), os.urandom(20)
    msg = b"hello"
    body = msg + tls_mac("sha1", mac_key, 0, APP_DATA, TLS12, msg)
    pad = 16 - (len(body) + 1) % 16
    good = body + bytes([pad]) * (pad + 1)
    bad = body + bytes([pad ^ 1]) + bytes([pad]) * pad
    iv = os.urandom(16)
    dec = CBCProtection("AES-128-CBC", key, None, "SHA1", mac_key, TLS12)
    assert dec.decrypt(0, APP_DATA, TLS12, iv + cbc_encrypt("AES", key, iv, good)) == (APP_DATA, msg)
    with pytest.raises(DecryptError, match="bad padding"):
        dec.decrypt(0, APP_DATA, TLS12, iv + cbc_encrypt("AES", key, iv, bad))


def test_cbc_tampering():
    key, mac_key = os.urandom(16), os.urandom(32)
    msg = b"attack at dawn" * 4
    body = msg + tls_mac("sha256", mac_key, 7, APP_DATA, TLS12, msg)
    body += tls_padding(len(body), 16)
    iv = os.urandom(16)
    record = iv + cbc_encrypt("AES", key, iv, body)
    dec = CBCProtection("AES-128-CBC", key, None, "SHA256", mac_key, TLS12)
    assert dec.decrypt(7, APP_DATA, TLS12, record) == (APP_DATA, msg)
    flipped_iv = bytes([record[0] ^ 1]) + record[1:]  # changes the first plaintext block: bad MAC
    with pytest.raises(DecryptError, match="bad record MAC"):
        dec.decrypt(7, APP_DATA, TLS12, flipped_iv)
    with pytest.raises(DecryptError, match="bad record MAC"):
        dec.decrypt(8, APP_DATA, TLS12, record)  # wrong sequence number
    with pytest.raises(DecryptError, match="bad record MAC"):
        dec.decrypt(7, HANDSHAKE, TLS12, record)  # wrong content type
    last = bytearray(record)
    last[-1] ^= 0x80  # garbles the last block: padding (or MAC) fails
    with pytest.raises(DecryptError):
        dec.decrypt(7, APP_DATA, TLS12, bytes(last))
    with pytest.raises(DecryptError, match="multiple of the block size"):
        dec.decrypt(7, APP_DATA, TLS12, record[:-1])
    with pytest.raises(DecryptError, match="record too short"):
        dec.decrypt(7, APP_DATA, TLS12, record[:32])


@pytest.mark.parametrize("version", [TLS10, TLS12])
def test_encrypt_then_mac(version):
    key, mac_key = os.urandom(32), os.urandom(32)
    dec = CBCProtection("AES-256-CBC", key, iv0 := os.urandom(16), "SHA256", mac_key, version, encrypt_then_mac=True)
    iv = iv0
    records = []
    for seq, msg in enumerate(MSGS):
        padded = msg + tls_padding(len(msg), 16)
        if version == TLS10:
            ct = cbc_encrypt("AES", key, iv, padded)
            iv = ct[-16:]
        else:
            explicit = os.urandom(16)
            ct = explicit + cbc_encrypt("AES", key, explicit, padded)
        records.append(ct + tls_mac("sha256", mac_key, seq, APP_DATA, version, ct))  # MAC over IV + ciphertext
    tampered = bytearray(records[1])
    tampered[-1] ^= 1
    assert dec.decrypt(0, APP_DATA, version, records[0]) == (APP_DATA, MSGS[0])
    with pytest.raises(DecryptError, match="bad record MAC"):
        dec.decrypt(1, APP_DATA, version, bytes(tampered))
    # the chain (TLS 1.0) stayed in step with the sender: the next record still decrypts
    assert dec.decrypt(2, APP_DATA, version, records[2]) == (APP_DATA, MSGS[2])
    assert dec.decrypt(3, APP_DATA, version, records[3]) == (APP_DATA, MSGS[3])
    with pytest.raises(DecryptError, match="record too short"):
        dec.decrypt(4, APP_DATA, version, records[0][:40])


# --- stream and NULL ----------------------------------------------------------------------------------------

def test_rc4_keystream_runs_across_records():
    key, mac_key = os.urandom(16), os.urandom(16)
    enc = Cipher(decrepit.ARC4(key), mode=None).encryptor()
    records = [enc.update(m + tls_mac("md5", mac_key, seq, APP_DATA, TLS10, m)) for seq, m in enumerate(MSGS[:3])]
    dec = StreamProtection("RC4-128", key, "MD5", mac_key, TLS10)
    for seq, (msg, record) in enumerate(zip(MSGS, records)):
        assert dec.decrypt(seq, APP_DATA, TLS10, memoryview(record)) == (APP_DATA, msg)
    # a fresh decryptor starting at the second record is at the wrong keystream offset
    with pytest.raises(DecryptError, match="bad record MAC"):
        StreamProtection("RC4-128", key, "MD5", mac_key, TLS10).decrypt(1, APP_DATA, TLS10, records[1])


def test_rc4_ssl3_mac_and_tampering():
    key, mac_key = os.urandom(16), os.urandom(20)
    enc = Cipher(decrepit.ARC4(key), mode=None).encryptor()
    msg = b"ssl 3.0 stream"
    good = enc.update(msg + ssl3_mac("sha1", mac_key, 0, APP_DATA, msg))
    bad = bytearray(enc.update(msg + ssl3_mac("sha1", mac_key, 1, APP_DATA, msg)))
    bad[0] ^= 1
    dec = StreamProtection("RC4-128", key, "SHA1", mac_key, SSL3)
    assert dec.decrypt(0, APP_DATA, SSL3, good) == (APP_DATA, msg)
    with pytest.raises(DecryptError, match="bad record MAC"):
        dec.decrypt(1, APP_DATA, SSL3, bytes(bad))
    with pytest.raises(DecryptError, match="record too short"):
        StreamProtection("RC4-128", key, "SHA1", mac_key, SSL3).decrypt(0, APP_DATA, SSL3, b"short")


def test_null_cipher():
    mac_key = os.urandom(32)
    msg = b"in the clear"
    record = msg + tls_mac("sha256", mac_key, 3, APP_DATA, TLS12, msg)
    dec = NullProtection("SHA256", mac_key, TLS12)
    assert dec.decrypt(3, APP_DATA, TLS12, record) == (APP_DATA, msg)
    with pytest.raises(DecryptError, match="bad record MAC"):
        dec.decrypt(3, APP_DATA, TLS12, b"IN" + record[2:])
    assert NullProtection(None, None, TLS12).decrypt(0, HANDSHAKE, TLS12, memoryview(msg)) == (HANDSHAKE, msg)


def test_null_cipher_without_keys_cuts_the_mac_unchecked():
    """A NULL-cipher record read without key material (no master secret): the content is in the clear;
    the MAC is cut off and cannot be checked, so a wrong MAC is no error here."""
    msg = b"in the clear"
    record = msg + tls_mac("sha1", os.urandom(20), 0, APP_DATA, TLS12, msg)
    dec = UnverifiedNullProtection(20)
    assert dec.decrypt(0, APP_DATA, TLS12, memoryview(record)) == (APP_DATA, msg)
    assert dec.decrypt(7, HANDSHAKE, TLS12, msg + bytes(20)) == (HANDSHAKE, msg)
    assert dec.decrypt(0, APP_DATA, TLS12, bytes(20)) == (APP_DATA, b"")
    with pytest.raises(MalformedInput, match="19-byte NULL-cipher record cannot hold its 20-byte MAC"):
        dec.decrypt(0, APP_DATA, TLS12, bytes(19))  # no key involved: malformed, not a key mismatch
    assert UnverifiedNullProtection(0).decrypt(0, APP_DATA, TLS12, msg) == (APP_DATA, msg)  # TLS_NULL_WITH_NULL_NULL


# --- TLS 1.2 AEAD -------------------------------------------------------------------------------------------

def aad12(seq: int, ctype: int, version: int, length: int) -> bytes:
    return seq.to_bytes(8, "big") + bytes([ctype]) + version.to_bytes(2, "big") + length.to_bytes(2, "big")


AEAD12_CASES = [("AES-128-GCM", 16, 16), ("AES-256-GCM", 32, 16), ("AES-128-CCM", 16, 16), ("AES-256-CCM", 32, 16),
                ("AES-128-CCM-8", 16, 8), ("AES-256-CCM-8", 32, 8)]


@pytest.mark.parametrize("name,key_len,tag_len", AEAD12_CASES, ids=[c[0] for c in AEAD12_CASES])
def test_aead12_gcm_ccm_explicit_nonce(name, key_len, tag_len):
    key, fixed = os.urandom(key_len), os.urandom(4)
    aead = AESGCM(key) if "GCM" in name else AESCCM(key, tag_length=tag_len)
    dec = AEAD12Protection(name, key, fixed, tag_len)
    for seq, msg in enumerate(MSGS):
        explicit = (seq + 1000).to_bytes(8, "big")  # any value: senders often use the sequence number
        record = explicit + aead.encrypt(fixed + explicit, msg, aad12(seq, APP_DATA, TLS12, len(msg)))
        assert len(record) == 8 + len(msg) + tag_len
        assert dec.decrypt(seq, APP_DATA, TLS12, memoryview(record)) == (APP_DATA, msg)
    with pytest.raises(DecryptError, match="AEAD tag mismatch"):
        dec.decrypt(0, APP_DATA, TLS12, record)  # wrong sequence number in the AAD
    tampered = bytearray(record)
    tampered[10] ^= 1
    with pytest.raises(DecryptError, match="AEAD tag mismatch"):
        dec.decrypt(seq, APP_DATA, TLS12, bytes(tampered))
    with pytest.raises(DecryptError, match="record too short"):
        dec.decrypt(seq, APP_DATA, TLS12, record[:8 + tag_len - 1])


def test_aead12_chacha20_poly1305_rfc7905_nonce():
    key, fixed = os.urandom(32), os.urandom(12)
    aead = ChaCha20Poly1305(key)
    dec = AEAD12Protection("CHACHA20-POLY1305", key, fixed)
    for seq in (0, 1, 2, 0xFFFFFFFF, (5 << 48) | 9):
        msg = b"chacha %d" % seq
        nonce = bytes(a ^ b for a, b in zip(fixed, seq.to_bytes(12, "big")))
        record = aead.encrypt(nonce, msg, aad12(seq, APP_DATA, DTLS12, len(msg)))
        assert dec.decrypt(seq, APP_DATA, DTLS12, record) == (APP_DATA, msg)
    with pytest.raises(DecryptError, match="AEAD tag mismatch"):
        dec.decrypt(seq, APP_DATA, TLS12, record)  # the version is authenticated


# --- TLS 1.3 ------------------------------------------------------------------------------------------------

AEAD13_CASES = [("AES-128-GCM", 16, 16), ("AES-256-GCM", 32, 16), ("CHACHA20-POLY1305", 32, 16),
                ("AES-128-CCM", 16, 16), ("AES-128-CCM-8", 16, 8)]


def aead13_object(name: str, key: bytes, tag_len: int):
    if "GCM" in name:
        return AESGCM(key)
    if "CCM" in name:
        return AESCCM(key, tag_length=tag_len)
    return ChaCha20Poly1305(key)


@pytest.mark.parametrize("name,key_len,tag_len", AEAD13_CASES, ids=[c[0] for c in AEAD13_CASES])
def test_aead13_roundtrip_inner_type_and_padding(name, key_len, tag_len):
    key, iv = os.urandom(key_len), os.urandom(12)
    aead = aead13_object(name, key, tag_len)
    dec = AEAD13Protection(name, key, iv, tag_len)
    cases = [(HANDSHAKE, b"\x14\x00\x00\x20" + bytes(32), 0), (APP_DATA, b"data", 100), (ALERT, b"\x01\x00", 0),
             (APP_DATA, b"", 3)]
    for seq, (inner_type, msg, padding) in enumerate(cases):
        inner = msg + bytes([inner_type]) + bytes(padding)
        n = len(inner) + tag_len
        header = bytes([APP_DATA]) + TLS12.to_bytes(2, "big") + n.to_bytes(2, "big")
        nonce = (int.from_bytes(iv, "big") ^ seq).to_bytes(12, "big")
        record = aead.encrypt(nonce, inner, header)
        assert dec.decrypt(seq, APP_DATA, TLS12, memoryview(record)) == (inner_type, msg)
    with pytest.raises(DecryptError, match="AEAD tag mismatch"):
        dec.decrypt(seq, HANDSHAKE, TLS12, record)  # the header is the AAD
    nonce = (int.from_bytes(iv, "big") ^ 9).to_bytes(12, "big")
    zeros = aead.encrypt(nonce, bytes(5), bytes([APP_DATA]) + b"\x03\x03" + (5 + tag_len).to_bytes(2, "big"))
    with pytest.raises(DecryptError, match="no inner content type"):
        dec.decrypt(9, APP_DATA, TLS12, zeros)
    with pytest.raises(DecryptError, match="record too short"):
        dec.decrypt(9, APP_DATA, TLS12, zeros[:tag_len])


def test_aead13_empty_aad_of_old_drafts():
    assert aad_mode_for_draft(None) == aad_mode_for_draft(25) == aad_mode_for_draft(28) == "header"
    assert aad_mode_for_draft(24) == aad_mode_for_draft(20) == "none"
    key, iv = os.urandom(16), os.urandom(12)
    record = AESGCM(key).encrypt(iv, b"hi\x17", None)
    assert AEAD13Protection("AES-128-GCM", key, iv, aad_mode="none").decrypt(0, APP_DATA, TLS10, record) == (
        APP_DATA, b"hi")
    with pytest.raises(DecryptError):
        AEAD13Protection("AES-128-GCM", key, iv).decrypt(0, APP_DATA, TLS10, record)


def test_tls13_draft20_record_from_corpus():
    """tls13-20-chacha20poly1305.pcap (Wireshark test suite): the server's first protected record, its
    EncryptedExtensions, with the SERVER_HANDSHAKE_TRAFFIC_SECRET of the key log. Draft 20 uses the
    "tls13 " label prefix, an empty AAD, and 0x0301 in the record header."""
    secret = bytes.fromhex("4e1fbe0594634161e1af3f8b6e940561ba3fc2174b6cefb5b0da3e040cfb23e4")
    record = bytes.fromhex("4f0e533d415300356397c7501cf92250d80760c740b93c")
    key, iv = schedule13.traffic_key_iv("sha256", secret, 32, 12, draft=20)
    suite = NS(cipher="CHACHA20-POLY1305", mode="aead", tag_len=16)
    dec = make_protection(0x7F14, suite, key, iv, None, tls13=True, draft=20)
    assert dec.decrypt(0, APP_DATA, TLS10, record) == (HANDSHAKE, bytes.fromhex("080000020000"))
    with pytest.raises(DecryptError):  # the same record with the RFC's AAD does not authenticate
        make_protection(0x0304, suite, key, iv, None, tls13=True).decrypt(0, APP_DATA, TLS10, record)


# --- factory ------------------------------------------------------------------------------------------------

def test_make_protection_dispatch():
    cbc = NS(cipher="AES-128-CBC", mode="cbc", mac="SHA1", tag_len=0)
    assert isinstance(make_protection(TLS12, cbc, bytes(16), None, bytes(20)), CBCProtection)
    assert isinstance(make_protection(TLS10, cbc, bytes(16), bytes(16), bytes(20), encrypt_then_mac=True),
                      CBCProtection)
    rc4 = NS(cipher="RC4-128", mode="stream", mac="MD5", tag_len=0)
    assert isinstance(make_protection(SSL3, rc4, bytes(16), b"", bytes(16)), StreamProtection)
    null = NS(cipher="NULL", mode="null", mac="SHA256", tag_len=0)
    assert isinstance(make_protection(TLS12, null, b"", b"", bytes(32)), NullProtection)
    gcm = NS(cipher="AES-128-GCM", mode="aead", mac=None, tag_len=16)
    assert isinstance(make_protection(TLS12, gcm, bytes(16), bytes(4), b""), AEAD12Protection)
    assert isinstance(make_protection(0x0304, gcm, bytes(16), bytes(12), None), AEAD13Protection)


def test_make_protection_ccm8_tag_length_from_name():
    key, fixed = os.urandom(16), os.urandom(4)
    suite = NS(cipher="AES-128-CCM-8", mode="aead", mac=None)  # no tag_len field
    dec = make_protection(TLS12, suite, key, fixed, None)
    record = b"\x00" * 8 + AESCCM(key, tag_length=8).encrypt(fixed + b"\x00" * 8, b"ccm8", aad12(0, 23, TLS12, 4))
    assert dec.decrypt(0, APP_DATA, TLS12, record) == (APP_DATA, b"ccm8")


@pytest.mark.parametrize("cipher,mode,key", [("ARIA-128-GCM", "aead", bytes(16)), ("ARIA-128-CBC", "cbc", bytes(16)),
                                             ("RC2-CBC-40", "cbc", bytes(16)), ("GOST28147", "cnt", bytes(32)),
                                             ("AES-128-CBC", "cbc", bytes(15)), ("3DES-EDE-CBC", "cbc", bytes(16))])
def test_unsupported_ciphers(cipher, mode, key):
    suite = NS(cipher=cipher, mode=mode, mac="SHA1" if mode != "aead" else None, tag_len=16)
    with pytest.raises(UnsupportedCipher) as info:
        make_protection(TLS12, suite, key, bytes(16), bytes(20))
    assert cipher in str(info.value) and info.value.cipher == cipher
    assert isinstance(info.value, ValueError)


def test_decryptors_are_built_once_per_key():
    # The per-record path reuses the objects made in the constructor.
    key, fixed = os.urandom(16), os.urandom(4)
    dec = AEAD12Protection("AES-128-GCM", key, fixed)
    aead_object = dec._aead
    for seq in range(3):
        explicit = seq.to_bytes(8, "big")
        dec.decrypt(seq, 23, TLS12, explicit + AESGCM(key).encrypt(fixed + explicit, b"x", aad12(seq, 23, TLS12, 1)))
    assert dec._aead is aead_object


def test_every_decryptable_suite_of_the_table_builds():
    """Each row of suites.SUITES that can_decrypt() accepts gets a decryptor from keys of the sizes
    prf.split_key_block cuts (TLS 1.3 suites: traffic key + 12-byte IV)."""
    from dissector.tls import prf
    from dissector.tls.suites import SUITES, can_decrypt

    built = 0
    for s in SUITES.values():
        if not can_decrypt(s):
            continue
        if s.tls13:
            assert isinstance(make_protection(0x0304, s, os.urandom(s.key_len), os.urandom(12), None, tls13=True),
                              AEAD13Protection), s.name
        else:
            for version in (SSL3, TLS10, TLS12) if s.mode != "aead" else (TLS12, DTLS12):
                km = prf.split_key_block(s, os.urandom(prf.key_block_length(version, s)))
                make_protection(version, s, km.client_key, km.client_iv, km.client_mac_key)
        built += 1
    assert built > 100


def test_old_openssl_dtls_mac_from_corpus():
    """snakeoil-dtls.pcap (Wireshark test suite): DTLS version 0x0100 (OpenSSL before 0.9.8f), AES-256-CBC-SHA.
    Its records carry a TLS 1.0-style MAC (version 0x0301, sequence number without the epoch). The client
    write key and MAC key are the ones the capture's RSA key yields; the plaintexts are the capture's."""
    key = bytes.fromhex("d0520bef6f2d1cf808ee586cf111a93702dbe338e533abe217682e44519c1af2")
    mac_key = bytes.fromhex("32e7e2ea2b2ec1cc614591212379793b10882f05")
    records = [
        (1, "bc8b228b9237df40e4e2ce8dce8f334b90ea4b33c5cb9a1f84596f9b06799e348607db819ed7c87e154d3424c789c166",
         b"it work !\n"),
        (3, "949a0fc7f9732e4f324fe7756d84d5c6d377f9b68f9a46bb9832f688a50d2c1ed0a2f61e3444ef318aaa61843772ab40",
         b"isn't it ?\n"),
        (2, "e2b4969434331cb15d3e103e3f29721b43654451d569cc20fa1bdf97865d981754cd2a7fdda36e6c4209ca5b50690b3b"
            "82e2a9f2d76020a7b4ac7084a1a32089", b"this is a concluant test !\n"),  # arrived out of order
    ]
    suite = NS(cipher="AES-256-CBC", mode="cbc", mac="SHA1", tag_len=0)
    dec = make_protection(0x0100, suite, key, bytes(16), mac_key)
    for seq, record, plain in records:
        assert dec.decrypt((1 << 48) | seq, APP_DATA, 0x0100, bytes.fromhex(record)) == (APP_DATA, plain)
    with pytest.raises(DecryptError, match="bad record MAC"):  # wrong sequence number
        dec.decrypt((1 << 48) | 5, APP_DATA, 0x0100, bytes.fromhex(records[0][1]))
    # the fallback is only for DTLS 1.0: the same record is not accepted as DTLS 1.2
    strict = make_protection(DTLS12, suite, key, None, mac_key)
    with pytest.raises(DecryptError, match="bad record MAC"):
        strict.decrypt((1 << 48) | 1, APP_DATA, 0x0100, bytes.fromhex(records[0][1]))
