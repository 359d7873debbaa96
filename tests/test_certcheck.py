"""tls/certcheck.py: validity at capture time, RFC 6125 name matching, weak keys and signatures, chain order
and verification against a CA bundle (--ca), on certificates made here with `cryptography`."""
from __future__ import annotations

import datetime
import ipaddress
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dissector.errors import KeyMaterialError
from dissector.findings import session_findings
from dissector.tls import certcheck
from dissector.tls.certcheck import TrustStore, cert_facts, check_chain, load_ca_bundle, name_matches
from tests.conftest import SAMPLES, analyze

UTC = datetime.UTC
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
WHEN = NOW.timestamp()
DAY = datetime.timedelta(days=1)

_KEYS: dict = {}


def key(kind: str = "rsa", size: int = 2048):
    """Keys are slow to make: one per kind and size for the whole module."""
    if (kind, size) not in _KEYS:
        if kind == "rsa":
            _KEYS[kind, size] = rsa.generate_private_key(public_exponent=65537, key_size=size)
        else:
            _KEYS[kind, size] = ec.generate_private_key({192: ec.SECP192R1(), 256: ec.SECP256R1()}[size])
    return _KEYS[kind, size]


def make_cert(cn: str, subject_key, issuer=None, *, sans=("example.com",), not_before=NOW - 30 * DAY,
              not_after=NOW + 365 * DAY, ca: bool = False, eku=ExtendedKeyUsageOID.SERVER_AUTH, serial: int = 0):
    """A certificate for `cn`, self-signed when `issuer` (cert, key) is None."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer if issuer else (None, subject_key)
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(subject_key.public_key()).serial_number(serial or x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        names = []
        for s in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(s)))
            except ValueError:
                names.append(x509.DNSName(s))
        if names:
            b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(*certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def resign(cert, signing_key, hash_alg, last_oid_byte: int) -> bytes:
    """The DER of `cert` re-signed with SHA-1 or MD5, which cryptography's builder refuses: the
    sha256WithRSAEncryption OID (1.2.840.113549.1.1.11) is swapped for sha1WithRSA (.5) or md5WithRSA (.4),
    same length, and the patched TBSCertificate signed again."""
    d = der(cert).replace(bytes.fromhex("2a864886f70d01010b"), bytes.fromhex("2a864886f70d0101") + bytes([last_oid_byte]))
    tbs = d[4:4 + len(cert.tbs_certificate_bytes)]  # outer SEQUENCE header is 4 bytes (30 82 len len)
    sig = signing_key.sign(tbs, padding.PKCS1v15(), hash_alg)
    return d[:-len(sig)] + sig


@pytest.fixture(scope="module")
def pki():
    root_key, inter_key, leaf_key = key("rsa", 2048), key("ec", 256), key("rsa", 3072)
    root = make_cert("Test Root CA", root_key, ca=True)
    inter = make_cert("Test Intermediate CA", inter_key, (root, root_key), ca=True)
    leaf = make_cert("www.example.com", leaf_key, (inter, inter_key), sans=("www.example.com", "*.api.example.com"))
    client = make_cert("alice", leaf_key, (inter, inter_key), sans=("alice.example.com",),
                       eku=ExtendedKeyUsageOID.CLIENT_AUTH)
    other_key = key("ec", 256)
    other_root = make_cert("Other Root CA", other_key, ca=True)
    return {"root": root, "inter": inter, "leaf": leaf, "client": client, "other_root": other_root,
            "leaf_key": leaf_key, "root_key": root_key, "inter_key": inter_key}


def trust_of(*certs) -> TrustStore:
    from cryptography.x509.verification import Store

    return TrustStore(Store(list(certs)), "test-ca.pem", len(certs))


# --- validity at capture time ---------------------------------------------------------------------------

def test_validity_at_capture_time():
    k = key()
    expired = make_cert("old.example.com", k, sans=("old.example.com",), not_before=NOW - 400 * DAY,
                        not_after=NOW - 10 * DAY)
    future = make_cert("new.example.com", k, sans=("new.example.com",), not_before=NOW + 5 * DAY)
    valid = make_cert("ok.example.com", k, sans=("ok.example.com",), not_after=NOW + 20 * DAY + DAY / 2)
    (e,) = check_chain([der(expired)], WHEN, sni="old.example.com")["chain"]
    assert e["validity"] == "expired" and e["days_left"] == -10
    (f,) = check_chain([der(future)], WHEN)["chain"]
    assert f["validity"] == "not-yet-valid"
    (v,) = check_chain([der(valid)], WHEN)["chain"]
    assert v["validity"] == "valid" and v["days_left"] == 20
    # the same certificate judged at another capture time
    (later,) = check_chain([der(valid)], WHEN + 30 * 86400)["chain"]
    assert later["validity"] == "expired"

    ids = {f["id"]: f["severity"] for f in session_findings({"certificates": {"server": check_chain(
        [der(expired)], WHEN, sni="old.example.com")}})}
    assert ids["certificate_expired"] == "high"
    ids = {f["id"]: f["severity"] for f in session_findings({"certificates": {"server": check_chain([der(future)], WHEN)}})}
    assert ids["certificate_not_yet_valid"] == "high"
    ids = {f["id"]: f["severity"] for f in session_findings({"certificates": {"server": check_chain([der(valid)], WHEN)}})}
    assert ids["certificate_expires_soon"] == "low"


# --- names (RFC 6125) -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern,name,ok", [
    ("www.example.com", "www.example.com", True),
    ("www.example.com", "WWW.Example.COM.", True),  # case and a trailing dot do not matter
    ("*.example.com", "www.example.com", True),
    ("*.example.com", "example.com", False),  # the wildcard stands for exactly one label...
    ("*.example.com", "a.b.example.com", False),  # ...not two
    ("*.example.com", ".example.com", False),  # ...and not an empty one
    ("*.com", "example.com", False),  # not directly above a one-label suffix
    ("www.*.com", "www.example.com", False),  # only the leftmost label
    ("f*.example.com", "foo.example.com", False),  # partial-label wildcards are not honoured
    ("*.*.example.com", "a.b.example.com", False),
])
def test_wildcards_per_rfc6125(pattern, name, ok):
    cert = make_cert("x", key(), sans=(pattern,))
    assert name_matches(name, cert_facts(der(cert)))[0] is ok


def test_ip_sans_and_cn_fallback():
    k = key()
    with_ip = cert_facts(der(make_cert("x", k, sans=("10.0.0.1", "host.example"))))
    assert name_matches("10.0.0.1", with_ip)[0]
    assert not name_matches("10.0.0.2", with_ip)[0]
    # the subject CN counts only when there is no DNS SAN at all (RFC 6125 6.4.4)
    cn_only = cert_facts(der(make_cert("legacy.example.com", k, sans=())))
    ok, how = name_matches("legacy.example.com", cn_only)
    assert ok and "CN" in how
    with_san = cert_facts(der(make_cert("legacy.example.com", k, sans=("other.example.com",))))
    ok, why = name_matches("legacy.example.com", with_san)
    assert not ok and "other.example.com" in why


def test_sni_mismatch_is_a_finding():
    section = check_chain([der(make_cert("a", key(), sans=("a.example.com",)))], WHEN, sni="b.example.com")
    assert section["sni_match"] is False
    (f,) = [f for f in session_findings({"certificates": {"server": section}}) if f["id"] == "certificate_name_mismatch"]
    assert f["severity"] == "high" and "b.example.com" in f["detail"]
    assert check_chain([der(make_cert("a", key(), sans=("a.example.com",)))], WHEN)["sni_match"] is None  # no SNI


# --- keys and signatures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,size,weak", [("rsa", 1024, True), ("rsa", 2048, False), ("ec", 192, True),
                                            ("ec", 256, False)])
def test_weak_keys(kind, size, weak):
    (info,) = check_chain([der(make_cert("k", key(kind, size), sans=("k.example",)))], WHEN)["chain"]
    assert info["key_size"] == size and info["weak_key"] is weak
    ids = [f["id"] for f in session_findings({"certificates": {"server": {"chain": [info]}}})]
    assert ("weak_certificate_key" in ids) is weak


@pytest.mark.parametrize("hash_alg,oid_byte,name,severity", [(hashes.SHA1(), 5, "sha1WithRSAEncryption", "medium"),
                                                               (hashes.MD5(), 4, "md5WithRSAEncryption", "high")])
def test_weak_signatures(pki, hash_alg, oid_byte, name, severity):
    k = key()
    root = make_cert("Root", k, ca=True)
    leaf = make_cert("leaf.example", key("rsa", 3072), (root, k), sans=("leaf.example",))
    weak_leaf = resign(leaf, k, hash_alg, oid_byte)
    section = check_chain([weak_leaf, der(root)], WHEN, sni="leaf.example")
    assert section["chain"][0]["signature_algorithm"] == name and section["chain"][0]["weak_signature"]
    assert not section["chain"][1]["weak_signature"]
    (f,) = [f for f in session_findings({"certificates": {"server": section}}) if f["id"] == "weak_certificate_signature"]
    assert f["severity"] == severity
    # a weak signature on a self-signed root is not a finding: a root is trusted for what it is
    weak_root = resign(root, k, hash_alg, oid_byte)
    section = check_chain([der(leaf), weak_root], WHEN, sni="leaf.example")
    assert section["chain"][1]["weak_signature"]
    assert "weak_certificate_signature" not in [f["id"] for f in session_findings({"certificates": {"server": section}})]


# --- chains -----------------------------------------------------------------------------------------------

def test_self_signed_and_chain_order(pki):
    self_signed = make_cert("me.example", key(), sans=("me.example",))
    section = check_chain([der(self_signed)], WHEN, sni="me.example")
    assert section["chain"][0]["self_signed"] and section["chain_ordered"]
    assert "self_signed_certificate" in [f["id"] for f in session_findings({"certificates": {"server": section}})]

    good = check_chain([der(pki["leaf"]), der(pki["inter"]), der(pki["root"])], WHEN, sni="www.example.com")
    assert good["chain_ordered"] and good["sni_match"] and not good["chain"][0]["self_signed"]
    assert [f["id"] for f in session_findings({"certificates": {"server": good}})] == []

    bad = check_chain([der(pki["leaf"]), der(pki["root"]), der(pki["inter"])], WHEN, sni="www.example.com")
    assert bad["chain_ordered"] is False and "Test Intermediate CA" in bad["chain_issue"]
    (f,) = [f for f in session_findings({"certificates": {"server": bad}}) if f["id"] == "certificate_chain_order"]
    assert f["severity"] == "low"


def test_wildcard_san_of_a_chain(pki):
    assert check_chain([der(pki["leaf"])], WHEN, sni="v1.api.example.com")["sni_match"]
    assert not check_chain([der(pki["leaf"])], WHEN, sni="api.example.com")["sni_match"]


def test_verification_against_a_ca(pki):
    chain = [der(pki["leaf"]), der(pki["inter"])]
    trust = trust_of(pki["root"])
    ok = check_chain(chain, WHEN, sni="www.example.com", trust=trust)
    assert ok["verification"]["status"] == "verified", ok["verification"]
    assert check_chain(chain, WHEN, sni="x.api.example.com", trust=trust)["verification"]["status"] == "verified"

    wrong_name = check_chain(chain, WHEN, sni="evil.example.net", trust=trust)["verification"]
    assert wrong_name["status"] == "failed" and wrong_name["detail"]
    other_ca = check_chain(chain, WHEN, sni="www.example.com", trust=trust_of(pki["other_root"]))
    assert other_ca["verification"]["status"] == "failed"
    ids = {f["id"]: f for f in session_findings({"certificates": {"server": other_ca}})}
    assert ids["certificate_untrusted"]["severity"] == "high"
    assert other_ca["verification"]["detail"] in ids["certificate_untrusted"]["detail"]

    missing_intermediate = check_chain([der(pki["leaf"])], WHEN, sni="www.example.com", trust=trust)
    assert missing_intermediate["verification"]["status"] == "failed"

    # verification happens at the capture time: the same chain after the leaf expired
    later = check_chain(chain, WHEN + 400 * 86400, sni="www.example.com", trust=trust)["verification"]
    assert later["status"] == "failed" and later["detail"]
    # and the cache of verified chains does not leak a success outside its validity window
    assert check_chain(chain, WHEN, sni="www.example.com", trust=trust)["verification"]["status"] == "verified"
    assert check_chain(chain, WHEN + 400 * 86400, sni="www.example.com", trust=trust)["verification"]["status"] == "failed"


def test_client_chain_verification(pki):
    section = check_chain([der(pki["client"]), der(pki["inter"])], WHEN, client=True, trust=trust_of(pki["root"]))
    assert section["verification"]["status"] == "verified", section["verification"]
    assert "sni_match" not in section
    bad = check_chain([der(pki["client"]), der(pki["inter"])], WHEN, client=True, trust=trust_of(pki["other_root"]))
    assert bad["verification"]["status"] == "failed"
    assert "client_certificate_untrusted" in [f["id"] for f in session_findings(
        {"certificates": {"server": None, "client": bad}})]


def test_unparsable_certificate_is_reported_not_raised():
    section = check_chain([b"\x30\x03\x02\x01\x00"], WHEN, sni="x")
    assert "error" in section["chain"][0]
    assert section["sni_match"] is None


def test_load_ca_bundle(tmp_path, pki):
    good = tmp_path / "ca.pem"
    good.write_bytes(pem(pki["root"], pki["other_root"]))
    assert load_ca_bundle(str(good)).count == 2
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(KeyMaterialError):
        load_ca_bundle(str(empty))
    with pytest.raises(KeyMaterialError):
        load_ca_bundle(str(tmp_path / "missing.pem"))


# --- sessions ---------------------------------------------------------------------------------------------

def test_tls13_without_keys_says_the_certificate_is_encrypted():
    (doc,) = analyze([SAMPLES / "tls13-aes128-gcm.pcap"])  # the pcap has no embedded key log
    assert doc["decryption"]["status"] == "no-key"
    assert doc["certificates"] == {"server": None, "note": "certificate encrypted (TLS 1.3 without keys)"}
    (decrypted,) = analyze([SAMPLES / "tls13-aes128-gcm.pcapng"])  # keys embedded: the certificate is read
    assert decrypted["certificates"]["server"]["chain"][0]["subject"] == "CN=localhost"


def test_resumed_session_has_no_certificate():
    first, second = analyze([SAMPLES / "tls13-resume.pcapng"])
    assert first["certificates"]["server"]["chain"]
    assert second["certificates"]["note"] == "no certificate: the session was resumed"


def test_mutual_tls_client_certificate():
    (doc,) = analyze([SAMPLES / "tls12-mtls.pcapng"])
    certs = doc["certificates"]
    assert certs["server"]["chain"][0]["subject"] == "CN=localhost" and certs["server"]["sni_match"] is True
    (client,) = certs["client"]["chain"]
    assert client["subject"] == "CN=client" and client["key_type"] == "EC (secp256r1)" and client["validity"] == "valid"


def test_no_certificate_work_without_details():
    from dissector.analysis import run_captures
    from dissector.keys import build_keystore

    docs: list[dict] = []
    run_captures([str(SAMPLES / "tls12-mtls.pcapng")], build_keystore([], [], []), on_session=docs.append,
                 details=False)
    (doc,) = docs
    assert "certificates" not in doc and doc["fingerprints"]["ja3_hash"] and isinstance(doc["findings"], list)


# --- --ca end to end --------------------------------------------------------------------------------------

def _capture_with_chain(tmp_path, pki, hostname="www.example.com"):
    from dissector.capture.writer import PcapWriter
    from dissector.endpoint.pair import PairOptions, run_pair
    from dissector.endpoint.synth import synthesize

    leaf_key_pem = pki["leaf_key"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
    # a chain valid today (the pair runs now), from a root made with the module's keys
    now = datetime.datetime.now(UTC)
    root = make_cert("Test Root CA", pki["root_key"], ca=True, not_before=now - DAY, not_after=now + 120 * DAY)
    inter = make_cert("Test Intermediate CA", pki["inter_key"], (root, pki["root_key"]), ca=True,
                      not_before=now - DAY, not_after=now + 90 * DAY)
    leaf = make_cert("www.example.com", pki["leaf_key"], (inter, pki["inter_key"]), sans=("www.example.com",),
                     not_before=now - DAY, not_after=now + 60 * DAY)
    opts = PairOptions(max_version="1.2", server_cert_pem=pem(leaf, inter), server_key_pem=leaf_key_pem,
                       server_hostname=hostname, verify=False)
    result = run_pair(opts, exchange=[("client", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")])
    path = tmp_path / "chain.pcap"
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for ts, frame in synthesize(result.chunks):
            w.write(ts, frame)
    return path, root


def test_ca_option_end_to_end(tmp_path, pki, capsys):
    from dissector.cli import main

    cap, root = _capture_with_chain(tmp_path, pki)
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root))
    other = tmp_path / "other.pem"
    other.write_bytes(pem(pki["other_root"]))

    assert main(["analyze", str(cap), "--ca", str(ca), "-f", "json", "-q"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["sessions"]
    server = doc["certificates"]["server"]
    assert [c["subject"] for c in server["chain"]] == ["CN=www.example.com", "CN=Test Intermediate CA"]
    assert server["verification"]["status"] == "verified", server["verification"]
    assert server["chain_ordered"] and server["sni_match"]
    assert not [f for f in doc["findings"] if f["id"].startswith("certificate")]

    assert main(["analyze", str(cap), "--ca", str(other), "-q"]) == 0
    table = capsys.readouterr().out
    assert "verification failed" in table and "certificate_untrusted" in table

    assert main(["analyze", str(cap), "-f", "json", "-q"]) == 0  # no --ca: no verification at all
    (doc,) = json.loads(capsys.readouterr().out)["sessions"]
    assert "verification" not in doc["certificates"]["server"]
    assert certcheck.current_trust() is None  # the option does not outlive its run

    bad = tmp_path / "bad.pem"
    bad.write_text("hello\n")
    assert main(["analyze", str(cap), "--ca", str(bad), "-q"]) == 3
    assert "CA bundle" in capsys.readouterr().err


def test_ca_option_with_a_name_mismatch(tmp_path, pki, capsys):
    from dissector.cli import main

    cap, root = _capture_with_chain(tmp_path, pki, hostname="shop.example.org")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root))
    assert main(["analyze", str(cap), "--ca", str(ca), "-f", "json", "-q"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["sessions"]
    server = doc["certificates"]["server"]
    assert server["sni"] == "shop.example.org" and server["sni_match"] is False
    assert server["verification"]["status"] == "failed"
    ids = [f["id"] for f in doc["findings"]]
    assert "certificate_name_mismatch" in ids and "certificate_untrusted" in ids


def test_a_certificate_with_a_negative_serial_is_described_without_python_warnings():
    # Some old CAs and self-signed tools wrote negative serials (RFC 5280 4.1.2.2 forbids them); cryptography
    # parses them with a deprecation warning, which must not reach the user's terminal as a Python warning
    import warnings

    from dissector.tls.handshake import describe_certificate

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "negative.example")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x7A11).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    at = der.index(b"\x02\x02\x7a\x11")  # the serial INTEGER: made negative (the signature no longer fits; parsing works)
    der[at + 2] = 0xFA
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = describe_certificate(bytes(der))
        facts = certcheck.cert_facts(bytes(der))
    assert info["serial_not_positive"] is True and info["subject"] == "CN=negative.example"
    assert facts.error is None
