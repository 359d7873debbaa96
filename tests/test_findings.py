"""findings.py: per-session findings on the corpus and the samples, on hand-made hellos and session documents
(cipher suites, HTTP cookies and credentials), and their rendering (table, CSV, run summary)."""
from __future__ import annotations

import csv
import io
import json
import struct

import pytest

from dissector.events import TLSMessage
from dissector.findings import FINDING_IDS, SEVERITIES, HandshakeNotes, count_by_severity, session_findings
from dissector.tls.handshake import Context
from tests.conftest import CORPUS, SAMPLES, analyze, needs_corpus


def ids(findings: list[dict]) -> dict[str, str]:
    return {f["id"]: f["severity"] for f in findings}


def check_shape(findings: list[dict]) -> None:
    ranks = [SEVERITIES.index(f["severity"]) for f in findings]
    assert ranks == sorted(ranks), "highest severity first"
    for f in findings:
        assert set(f) == {"severity", "id", "detail"} and f["detail"]
        assert f["id"].removeprefix("client_") in FINDING_IDS, f["id"]


# --- the public corpus ---------------------------------------------------------------------------------------

@needs_corpus
def test_rsasnakeoil2_ssl3_with_rsa_key_exchange():
    key = "127.0.0.1:443=" + str(CORPUS / "keys" / "rsasnakeoil2.key")
    s0, s1 = analyze([CORPUS / "captures" / "rsasnakeoil2.pcap"], key_specs=[key])
    for doc in (s0, s1):
        check_shape(doc["findings"])
        found = ids(doc["findings"])
        assert found["legacy_protocol_version"] == "high" and found["no_forward_secrecy"] == "medium"
    # the first session starts with an SSLv2-format hello, renegotiates without RFC 5746, and its server
    # certificate is an MD5-signed 1024-bit snakeoil
    found = ids(s0["findings"])
    assert found["sslv2_client_hello"] == "low" and found["insecure_renegotiation"] == "high"
    assert found["weak_certificate_signature"] == "high" and found["weak_certificate_key"] == "medium"
    assert s0["fingerprints"]["ja3"] is None  # no JA3 for an SSLv2-format hello (tshark has none either)
    assert ids(s1["findings"])["triple_des_cipher"] == "medium"
    assert s1["certificates"]["note"] == "no certificate: the session was resumed"


@needs_corpus
def test_dmgr_cookies_without_httponly_or_secure_over_tls10():
    from dissector.analysis import run_captures
    from dissector.keys import build_keystore
    from dissector.plugins import load_plugins

    store = build_keystore([], [str(CORPUS / "keys" / "key.p12") + ":WebAS"], [])
    docs: list[dict] = []
    run_captures([str(CORPUS / "captures" / "dmgr.pcapng")], store, on_session=docs.append, plugins=load_plugins())
    (doc,) = docs
    check_shape(doc["findings"])
    found = ids(doc["findings"])
    assert doc["version"] == "TLS 1.0" and found["legacy_protocol_version"] == "medium"
    assert found["cookie_without_httponly"] == "low" and found["cookie_without_secure"] == "medium"
    detail = next(f["detail"] for f in doc["findings"] if f["id"] == "cookie_without_secure")
    assert "over TLS" in detail and "com.ibm.ws.console.CSRFToken" in detail
    assert "<redacted" not in detail and "0000UVp3b8BA4NmHe" not in json.dumps(doc["findings"])
    # a login form over TLS is not a cleartext credential
    assert "password_cleartext" not in found and "cookie_set_cleartext" not in found
    # the leaf is issued to oc6748504754.ibm.com (no DNS SAN) while the client asked for localhost
    assert found["certificate_name_mismatch"] == "high" and found["weak_certificate_signature"] == "medium"


@needs_corpus
def test_secure_renegotiation_is_info_only():
    (doc,) = analyze([CORPUS / "captures" / "tls-renegotiation.pcap"],
                     key_specs=[str(CORPUS / "keys" / "rsasnakeoil2.key")])
    found = ids(doc["findings"])
    assert found.get("renegotiation") == "info" and "insecure_renegotiation" not in found
    assert "no_secure_renegotiation" not in found


@needs_corpus
def test_psk_suites_and_tls13_drafts():
    from tests.conftest import corpus_key_args, corpus_manifest

    entry = next(e for e in corpus_manifest()["captures"] if e["id"] == "tls12-aes128ccm")
    (psk,) = analyze([CORPUS / entry["file"]], **corpus_key_args(entry["key_material"]))
    assert psk["decryption"]["status"] == "decrypted"
    assert ids(psk["findings"]) == {"no_forward_secrecy": "medium"}
    assert psk["certificates"]["note"].startswith("no certificate: the cipher suite does not use one")
    for doc in analyze([CORPUS / "captures" / "tls13-20-chacha20poly1305.pcap"]):
        assert "legacy_protocol_version" not in ids(doc["findings"])


@needs_corpus
def test_every_corpus_session_has_well_formed_findings():
    from tests.conftest import corpus_key_args, corpus_manifest

    for entry in corpus_manifest()["captures"]:
        if all(s.get("transport") == "udp" for s in entry["sessions"]):
            continue
        for doc in analyze([CORPUS / entry["file"]], **corpus_key_args(entry.get("key_material") or {})):
            check_shape(doc["findings"])
            assert "analysis_error" not in json.dumps(doc.get("anomalies", []))


# --- the samples ---------------------------------------------------------------------------------------------

SAMPLE_FINDINGS = {  # every sample's certificate is a self-signed "localhost" made by the endpoint
    "tls10-rsa-aes128-cbc": [{"legacy_protocol_version", "no_forward_secrecy", "cbc_sha1_suite",
                              "self_signed_certificate"}],
    "tls11-ecdhe-rsa-aes256-cbc": [{"legacy_protocol_version", "cbc_sha1_suite", "self_signed_certificate"}],
    "tls12-rsa-aes128-cbc": [{"no_forward_secrecy", "cbc_sha1_suite", "self_signed_certificate"}],
    "tls12-rsa-cbc-no-etm": [{"no_forward_secrecy", "cbc_sha1_suite", "self_signed_certificate"}],
    "tls12-dhe-rsa-aes256-cbc-sha256": [{"self_signed_certificate"}],  # ffdhe2048: not a weak group
    "tls12-ecdhe-rsa-aes128-gcm": [{"self_signed_certificate"}],
    "tls12-ecdhe-ecdsa-chacha20": [{"self_signed_certificate"}],
    "tls12-mtls": [{"self_signed_certificate", "client_self_signed_certificate"}],
    "tls12-resume-id": [{"self_signed_certificate"}, set()],  # the resumed session shows no certificate
    "tls13-aes128-gcm": [{"self_signed_certificate"}],
    "tls13-hrr": [{"self_signed_certificate"}],
    "tls13-keyupdate": [{"self_signed_certificate"}],
    "tls13-resume": [{"self_signed_certificate"}, set()],
    "tls13-0rtt": [{"self_signed_certificate"}, {"early_data_accepted"}],  # (its pcapng holds the secrets)
}


@pytest.mark.parametrize("name", sorted(SAMPLE_FINDINGS))
def test_sample_findings(name):
    docs = analyze([SAMPLES / f"{name}.pcapng"])
    assert [set(ids(d["findings"])) for d in docs] == SAMPLE_FINDINGS[name]
    for d in docs:
        check_shape(d["findings"])
    if name == "tls12-rsa-aes128-cbc":  # Encrypt-then-MAC is negotiated there, and the finding says so
        detail = next(f["detail"] for f in docs[0]["findings"] if f["id"] == "cbc_sha1_suite")
        assert "encrypt-then-MAC negotiated" in detail


# --- cipher suites -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suite,expected", [
    ("TLS_RSA_WITH_RC4_128_SHA", {"rc4_cipher": "high", "no_forward_secrecy": "medium"}),
    ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", {"export_cipher_suite": "high", "rc4_cipher": "high",
                                        "no_forward_secrecy": "medium"}),
    ("TLS_RSA_WITH_NULL_SHA256", {"null_cipher": "high", "no_forward_secrecy": "medium"}),
    ("TLS_DH_anon_WITH_AES_128_CBC_SHA", {"anonymous_key_exchange": "high", "cbc_sha1_suite": "low"}),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", {"triple_des_cipher": "medium", "no_forward_secrecy": "medium"}),
    ("TLS_DHE_RSA_WITH_DES_CBC_SHA", {"weak_cipher": "high"}),
    ("TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", {"no_forward_secrecy": "medium"}),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", {"cbc_sha1_suite": "low"}),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", {}),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", {}),
    ("TLS_AES_128_GCM_SHA256", {}),
])
def test_cipher_suite_findings(suite, expected):
    doc = {"version": "TLS 1.3" if suite.count("_") == 3 else "TLS 1.2", "cipher_suite": suite,
           "decryption": {"status": "no-key", "detail": ""}}
    assert ids(session_findings(doc)) == expected


@pytest.mark.parametrize("version,severity", [("SSL 3.0", "high"), ("TLS 1.0", "medium"), ("TLS 1.1", "medium"),
                                              ("TLS 1.2", None), ("TLS 1.3", None)])
def test_legacy_versions(version, severity):
    found = ids(session_findings({"version": version, "cipher_suite": None, "decryption": {"status": "no-key"}}))
    assert found.get("legacy_protocol_version") == severity


def test_decryption_failure_is_a_finding():
    doc = {"version": "TLS 1.2", "cipher_suite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
           "decryption": {"status": "failed", "detail": "the client Finished message does not match"}}
    (f,) = session_findings(doc)
    assert f["id"] == "decryption_failed" and "Finished" in f["detail"]


# --- hellos --------------------------------------------------------------------------------------------------

def _server_hello(suite: int, compression: int = 0, ext_types=(), version: int = 0x0303) -> bytes:
    exts = b"".join(struct.pack(">HH", t, 1 if t == 0xFF01 else 0) + (b"\x00" if t == 0xFF01 else b"")
                    for t in ext_types)
    return struct.pack(">H", version) + bytes(32) + b"\x00" + struct.pack(">HB", suite, compression) + \
        struct.pack(">H", len(exts)) + exts


def _notes(*events) -> HandshakeNotes:
    notes = HandshakeNotes()
    for direction, code, body, ctx in events:
        ev = TLSMessage(0.0, None, direction, "x", False, len(body) + 4, code, body, ctx)
        if HandshakeNotes.wants(ev):
            notes.add(ev)
    return notes


def _ctx(kx: str) -> Context:
    ctx = Context()
    ctx.version, ctx.kx = 0x0303, kx
    return ctx


def test_compression_heartbeat_and_renegotiation_info():
    doc = {"version": "TLS 1.2", "cipher_suite": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "decryption": {}}
    notes = _notes(("client", 1, b"ch1", None), ("server", 2, _server_hello(0xC02F, 1, (15,)), None))
    found = ids(session_findings(doc, notes))
    assert found == {"tls_compression": "medium", "heartbeat_extension": "low", "no_secure_renegotiation": "low"}
    secure = _notes(("server", 2, _server_hello(0xC02F, 0, (0xFF01,)), None))
    assert ids(session_findings(doc, secure)) == {}
    # a second ClientHello on the connection is a renegotiation, a HelloRetryRequest's second hello is not
    reneg = _notes(("client", 1, b"ch1", None), ("server", 2, _server_hello(0xC02F), None), ("client", 1, b"ch2", None))
    assert ids(session_findings(doc, reneg))["insecure_renegotiation"] == "high"
    hrr = struct.pack(">H", 0x0303) + bytes.fromhex(
        "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c") + b"\x00\x13\x01\x00\x00\x00"
    notes13 = _notes(("client", 1, b"ch1", None), ("server", 2, hrr, None), ("client", 1, b"ch2", None),
                     ("server", 2, _server_hello(0x1301, 0, (43,)), None))
    assert notes13.renegotiations == 0 and notes13.server_hello == hrr
    assert ids(session_findings({"version": "TLS 1.3", "cipher_suite": "TLS_AES_128_GCM_SHA256"}, notes13)) == {}


def _dhe_server_key_exchange(prime_bits: int) -> bytes:
    p = b"\xff" * (prime_bits // 8)
    return (struct.pack(">H", len(p)) + p + b"\x00\x01\x02" + struct.pack(">H", len(p)) + b"\x01" * len(p)
            + b"\x04\x01" + struct.pack(">H", 4) + b"sig!")


@pytest.mark.parametrize("bits,severity", [(512, "high"), (1024, "medium"), (2048, None)])
def test_weak_dh_groups(bits, severity):
    doc = {"version": "TLS 1.2", "cipher_suite": "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "decryption": {}}
    notes = _notes(("server", 2, _server_hello(0x009E, 0, (0xFF01,)), None),
                   ("server", 12, _dhe_server_key_exchange(bits), _ctx("DHE")))
    assert ids(session_findings(doc, notes)).get("weak_dh_group") == severity


# --- HTTP ----------------------------------------------------------------------------------------------------

def _http_doc(suite: str | None, version: str | None) -> dict:
    redacted = "<redacted 12 chars>"
    return {
        "version": version, "cipher_suite": suite, "sni": "app.example",
        "decryption": {"status": "not-encrypted" if suite is None else "decrypted", "detail": ""},
        "http": {"protocol": "HTTP/1.1", "requests": [
            {"method": "POST", "host": "app.example", "target": "/login", "cookies": [],
             "credentials": {"source": "form", "user": "bob", "password": redacted},
             "set_cookies": [
                 {"name": "sid", "value": redacted, "httponly": False, "secure": False, "max_age": None},
                 {"name": "pref", "value": redacted, "httponly": True, "secure": True, "max_age": 3600},
                 {"name": "old", "value": "", "httponly": False, "secure": False, "max_age": 0}]},  # a deletion
            {"method": "GET", "host": "app.example", "target": "/api", "cookies": ["sid"],
             "auth": {"scheme": "Basic", "user": "app", "password": redacted}},
            {"method": "GET", "host": "api.example", "target": "/me", "cookies": [],
             "auth": {"scheme": "Bearer", "token": redacted}},
            {"method": "POST", "host": "idp.example", "target": "/token", "cookies": [],
             "oauth2": {"flow": 1, "request": {"grant_type": "authorization_code", "code": redacted,
                                               "client_secret": redacted},
                        "response": {"access_token": redacted, "token_type": "Bearer"}}},
        ]},
    }


def test_http_credentials_over_cleartext():
    findings = session_findings(_http_doc(None, None))
    check_shape(findings)
    found = ids(findings)
    for fid in ("password_cleartext", "basic_auth_cleartext", "bearer_token_cleartext", "oauth2_secret_cleartext",
                "cookie_set_cleartext"):
        assert found[fid] == "high", fid
    assert found["cookie_sent_cleartext"] == "medium"
    assert found["cookie_without_secure"] == "medium" and found["cookie_without_httponly"] == "low"
    oauth = next(f["detail"] for f in findings if f["id"] == "oauth2_secret_cleartext")
    assert "client_secret" in oauth and "code" in oauth and "access_token" in oauth and "redacted" not in oauth
    without = next(f["detail"] for f in findings if f["id"] == "cookie_without_secure")
    assert "sid" in without and "pref" not in without and "old" not in without


def test_http_over_tls_only_cookie_attributes():
    found = ids(session_findings(_http_doc("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS 1.2")))
    assert found == {"cookie_without_secure": "medium", "cookie_without_httponly": "low", "basic_auth": "info"}


def test_null_cipher_http_is_cleartext():
    found = ids(session_findings(_http_doc("TLS_RSA_WITH_NULL_SHA256", "TLS 1.2")))
    assert found["null_cipher"] == "high" and found["password_cleartext"] == "high"


def test_count_by_severity():
    a = [{"severity": "high", "id": "x", "detail": "d"}, {"severity": "low", "id": "y", "detail": "d"}]
    assert count_by_severity([a, None, a[:1]]) == {"high": 2, "medium": 0, "low": 1, "info": 0}


# --- output --------------------------------------------------------------------------------------------------

def _cli(args: list[str], capsys) -> str:
    from dissector.cli import main

    assert main(args) == 0
    return capsys.readouterr().out


def test_table_csv_json_and_summary(capsys):
    caps = [str(SAMPLES / "tls10-rsa-aes128-cbc.pcapng"), str(SAMPLES / "tls13-aes128-gcm.pcap")]
    doc = json.loads(_cli(["analyze", *caps, "-f", "json", "-q"], capsys))
    assert doc["summary"]["findings"] == count_by_severity(s["findings"] for s in doc["sessions"])
    assert doc["summary"]["findings"] == {"high": 0, "medium": 3, "low": 1, "info": 0}
    for s in doc["sessions"]:  # the contract fields are still there, with the new sections beside them
        assert {"client", "server", "version", "cipher_suite", "sni", "alpn", "messages", "decryption"} <= set(s)
        assert {"fingerprints", "certificates", "findings"} <= set(s)

    table = _cli(["analyze", *caps, "-q"], capsys)
    assert table.count("  fingerprints: JA3 ") == 2 and "JA4 t10d" in table and "JA4 t13d" in table
    assert "  findings: [medium] legacy_protocol_version, no_forward_secrecy, self_signed_certificate; " \
           "[low] cbc_sha1_suite" in table
    assert "  certificate: certificate encrypted (TLS 1.3 without keys)" in table
    assert "findings: 3 medium, 1 low" in table.splitlines()[-1]

    rows = list(csv.DictReader(io.StringIO(_cli(["analyze", caps[0], "-f", "csv", "-q"], capsys))))
    assert rows and all(r["ja4"].startswith("t10d") and len(r["ja3_hash"]) == 32 for r in rows)
    assert rows[0]["findings"].startswith("medium:legacy_protocol_version;")

    lines = [json.loads(line) for line in _cli(["analyze", *caps, "-f", "jsonl", "-q"], capsys).splitlines()]
    sessions = [x for x in lines if x["event"] == "Session"]
    assert all(s["fingerprints"]["ja4"] and "certificates" not in s for s in sessions)  # jsonl: no details
    assert lines[-1]["findings"] == count_by_severity(s["findings"] for s in sessions)
