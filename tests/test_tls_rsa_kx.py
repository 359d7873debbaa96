"""RSA key exchange: key specs, key files in every format, pre-master decryption, key/certificate matching."""
from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from dissector.errors import KeyMaterialError
from dissector.tls.rsa_kx import (
    KeySpec,
    decrypt_premaster,
    load_private_key,
    parse_key_spec,
    public_key_matches,
)

KEYS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "wireshark" / "keys"
if not KEYS.is_dir():
    KEYS = Path("/work/shared/corpus/wireshark/keys")
needs_corpus = pytest.mark.skipif(not KEYS.is_dir(), reason="Wireshark corpus absent")


# --- key specs ----------------------------------------------------------------------------------------------

def exists_in(*paths):
    return lambda p: p in paths


@pytest.mark.parametrize("spec,files,expected", [
    ("server.pem", (), KeySpec(None, "server.pem", None)),
    ("10.0.0.2:443=server.pem", ("server.pem",), KeySpec(("10.0.0.2", 443), "server.pem", None)),
    ("[2001:db8::1]:8443=k.p12:secret", ("k.p12",), KeySpec(("2001:db8::1", 8443), "k.p12", "secret")),
    ("[::1]:443=/keys/a.pem", ("/keys/a.pem",), KeySpec(("::1", 443), "/keys/a.pem", None)),
    ("example.com:443=key.pem:pw", ("key.pem",), KeySpec(("example.com", 443), "key.pem", "pw")),
    ("key.p12:pa:ss:word", ("key.p12",), KeySpec(None, "key.p12", "pa:ss:word")),
    ("/srv/a:b/key.pem", ("/srv/a:b/key.pem",), KeySpec(None, "/srv/a:b/key.pem", None)),
    ("/srv/a:b/key.p12:pw", ("/srv/a:b/key.p12", "/srv/a"), KeySpec(None, "/srv/a:b/key.p12", "pw")),
    ("missing.pem:pw", (), KeySpec(None, "missing.pem:pw", None)),
    ("key.pem=x", (), KeySpec(None, "key.pem=x", None)),  # no IP:PORT before '=': all of it is the file
    ("0.0.0.0:0=key.pem", (), KeySpec(("0.0.0.0", 0), "key.pem", None)),
])
def test_parse_key_spec(spec, files, expected):
    assert parse_key_spec(spec, exists=exists_in(*files)) == expected


def test_parse_key_spec_errors():
    with pytest.raises(KeyMaterialError, match="port"):
        parse_key_spec("10.0.0.1:70000=key.pem")
    with pytest.raises(KeyMaterialError, match="no key file"):
        parse_key_spec("10.0.0.1:443=")
    with pytest.raises(KeyMaterialError):
        parse_key_spec("  ")


def test_parse_key_spec_uses_the_file_system(tmp_path):
    key = tmp_path / "server.key"
    key.write_text("x")
    assert parse_key_spec(f"127.0.0.1:443={key}:hunter2") == KeySpec(("127.0.0.1", 443), str(key), "hunter2")


# --- key files ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(65537, 2048)


def write_formats(tmp_path: Path, key) -> dict[str, Path]:
    enc = serialization.BestAvailableEncryption(b"s3cret")
    none = serialization.NoEncryption()
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    pkcs1, pkcs8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8
    files = {
        "pkcs1.pem": key.private_bytes(pem, pkcs1, none),
        "pkcs8.pem": key.private_bytes(pem, pkcs8, none),
        "enc-pkcs8.pem": key.private_bytes(pem, pkcs8, enc),
        "enc-pkcs1.pem": key.private_bytes(pem, pkcs1, enc),
        "pkcs1.der": key.private_bytes(der, pkcs1, none),
        "pkcs8.der": key.private_bytes(der, pkcs8, none),
        "enc-pkcs8.der": key.private_bytes(der, pkcs8, enc),
        "bundle.p12": pkcs12.serialize_key_and_certificates(b"k", key, None, None, enc),
        "open.p12": pkcs12.serialize_key_and_certificates(b"k", key, None, None, none),
        "cert-then-key.pem": self_signed(key).public_bytes(pem) + key.private_bytes(pem, pkcs8, none),
    }
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


def self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dissector.test")])
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def test_load_every_format(tmp_path, rsa_key):
    files = write_formats(tmp_path, rsa_key)
    for name, path in files.items():
        password = "s3cret" if name.startswith("enc") or name == "bundle.p12" else None
        key = load_private_key(str(path), password)
        assert key.private_numbers() == rsa_key.private_numbers(), name
    # a password given for an unencrypted key is ignored
    assert load_private_key(str(files["pkcs1.pem"]), "unused").key_size == 2048


@pytest.mark.parametrize("name,password,message", [
    ("enc-pkcs8.pem", None, "is encrypted: give the password"),
    ("enc-pkcs8.pem", "wrong", "wrong password"),
    ("enc-pkcs1.pem", "wrong", "wrong password"),
    ("enc-pkcs8.der", "wrong", "wrong password"),
    ("bundle.p12", "wrong", "wrong password"),
    ("bundle.p12", None, "password-protected PKCS#12"),
])
def test_load_errors(tmp_path, rsa_key, name, password, message):
    path = write_formats(tmp_path, rsa_key)[name]
    with pytest.raises(KeyMaterialError, match=message) as info:
        load_private_key(str(path), password)
    assert "\n" not in str(info.value)


def test_not_a_key_or_not_rsa(tmp_path, rsa_key):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(300))
    with pytest.raises(KeyMaterialError, match="not a private key file"):
        load_private_key(str(junk))
    cert = tmp_path / "cert.pem"
    cert.write_bytes(self_signed(rsa_key).public_bytes(serialization.Encoding.PEM))
    with pytest.raises(KeyMaterialError, match="no private key"):
        load_private_key(str(cert))
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(KeyMaterialError, match="an EC key, not an RSA key"):
        load_private_key(str(ec_key))
    with pytest.raises(KeyMaterialError, match="cannot read key file"):
        load_private_key(str(tmp_path / "missing.pem"))


# --- pre-master decryption ----------------------------------------------------------------------------------

def test_decrypt_premaster(rsa_key):
    pms = b"\x03\x03" + os.urandom(46)
    encrypted = rsa_key.public_key().encrypt(pms, padding.PKCS1v15())
    assert decrypt_premaster(rsa_key, encrypted, 0x0303) == pms
    assert decrypt_premaster(rsa_key, len(encrypted).to_bytes(2, "big") + encrypted, 0x0303) == pms  # TLS prefix
    assert decrypt_premaster(rsa_key, encrypted, 0x0301) is None  # version mismatch (rollback check)
    assert decrypt_premaster(rsa_key, encrypted, 0x0301, negotiated_version=0x0303) == pms
    other = rsa.generate_private_key(65537, 2048)
    assert decrypt_premaster(other, encrypted, 0x0303) is None  # implicit rejection: random bytes, rejected
    assert decrypt_premaster(rsa_key, encrypted[:-1], 0x0303) is None
    assert decrypt_premaster(rsa_key, encrypted + b"\x00", 0x0303) is None
    short = rsa_key.public_key().encrypt(b"\x03\x03" + os.urandom(30), padding.PKCS1v15())
    assert decrypt_premaster(rsa_key, short, 0x0303) is None  # not 48 bytes


def test_public_key_matches(rsa_key):
    cert = self_signed(rsa_key)
    assert public_key_matches(rsa_key, cert)
    assert public_key_matches(rsa_key, cert.public_key())
    assert public_key_matches(rsa_key, rsa_key)
    assert not public_key_matches(rsa.generate_private_key(65537, 1024), cert)
    assert not public_key_matches(rsa_key, ec.generate_private_key(ec.SECP256R1()).public_key())


# --- corpus keys --------------------------------------------------------------------------------------------

# rsa-p-lt-q.pcap (Wireshark test suite): the ClientKeyExchange body (with its 2-byte length) and the
# pre-master it carries; the pre-master is the one whose key block decrypts the capture's Finished messages.
P_LT_Q_CKE = bytes.fromhex(
    "008082db784f89e614b1e3eddfd48d230e3fe705b0f37b9e64412355cd5f970048c021ebebd10b2bd4b6c47a9b69391fc9d3"
    "2956d5d90ef619702a441a8fdd66c5574ec43ee1727eb31e4aea2a734ed96326acac0aa6683fe76d6115bfe9c8cc34d0ea14"
    "1b76684dde4f0cf34d194be390dbff6625c94aafb9c68b578ede473d552c")
P_LT_Q_PMS = bytes.fromhex(
    "0303b17f7b934c14f03fc6d98ab32d4331fd3688f2a05076ea7379650c31f593a6590c7a097204f2e758feec22933615")


@needs_corpus
@pytest.mark.parametrize("name", ["rsa-p-lt-q.key", "rsa-p-lt-q.p8"])
def test_key_with_p_less_than_q(name):
    key = load_private_key(str(KEYS / name))
    numbers = key.private_numbers()
    assert key.key_size == 1024
    assert numbers.p * numbers.q == numbers.public_numbers.n
    assert decrypt_premaster(key, P_LT_Q_CKE, 0x0303) == P_LT_Q_PMS
    pms = b"\x03\x01" + os.urandom(46)
    assert decrypt_premaster(key, key.public_key().encrypt(pms, padding.PKCS1v15()), 0x0301) == pms


@needs_corpus
def test_corpus_pem_keys():
    snakeoil = load_private_key(str(KEYS / "rsasnakeoil2.key"))  # PKCS#1 with trailing blank lines
    assert snakeoil.key_size == 1024
    assert load_private_key(str(KEYS / "udt-dtls.key")).key_size == 2048  # PKCS#8
    assert public_key_matches(load_private_key(str(KEYS / "rsa-p-lt-q.key")),
                              load_private_key(str(KEYS / "rsa-p-lt-q.p8")))
    # snakeoil-rsa.key (the DTLS capture's key) is the same key as rsasnakeoil2.key
    assert public_key_matches(snakeoil, load_private_key(str(KEYS / "snakeoil-rsa.key")).public_key())
    assert not public_key_matches(snakeoil, load_private_key(str(KEYS / "udt-dtls.key")))


@needs_corpus
def test_corpus_pkcs12_rc2_40():
    """key.p12: an old PKCS#12 (RC2-40 certificate bag, 3DES key bag, BER) with password WebAS."""
    key = load_private_key(str(KEYS / "key.p12"), "WebAS")
    assert key.key_size == 2048
    with open(KEYS / "key.p12", "rb") as f:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _key, cert, _extra = pkcs12.load_key_and_certificates(f.read(), b"WebAS")
    assert public_key_matches(key, cert)
    with pytest.raises(KeyMaterialError, match="wrong password"):
        load_private_key(str(KEYS / "key.p12"), "webas")
    with pytest.raises(KeyMaterialError, match="password-protected"):
        load_private_key(str(KEYS / "key.p12"))


def test_wrong_password_that_decrypts_to_garbage_is_still_called_wrong_password():
    """About once in 256, a wrong password passes the CBC padding check and the garbage then fails to parse
    ("Could not deserialize key data"): the key being encrypted still makes it a wrong password, not "not a
    key file". (Found as a 1-in-600 flake of test_load_errors on a fresh CI clone.)"""
    from dissector.tls.rsa_kx import _load

    def loader(pw):
        if pw is None:
            raise TypeError("Password was not given but private key is encrypted")
        raise ValueError("Could not deserialize key data. The data may be in an incorrect format")

    with pytest.raises(KeyMaterialError, match="k.der: wrong password"):
        _load("k.der", loader, b"wrong")

    def not_a_key(pw):
        raise ValueError("Could not deserialize key data. The data may be in an incorrect format")

    with pytest.raises(KeyMaterialError, match="is not a private key file"):
        _load("k.der", not_a_key, b"pw")
