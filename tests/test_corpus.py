"""End to end on the public Wireshark corpus: sessions, versions, suites, messages and decrypted bytes
must be what tshark 4.0 produced (the corpus manifest)."""
from __future__ import annotations

import pytest

from tests.conftest import CORPUS, analyze, corpus_key_args, corpus_manifest, message_list

MANIFEST = corpus_manifest()
ENTRIES = (MANIFEST or {}).get("captures", [])  # TLS over TCP and DTLS over UDP ("transport": "udp")


def _norm_version(v):
    return v.split(" (")[0] if v else v


@pytest.mark.skipif(MANIFEST is None, reason="../shared/corpus is absent")
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_corpus_capture_matches_manifest(entry):
    sessions = analyze([CORPUS / entry["file"]], **corpus_key_args(entry.get("key_material") or {}))
    got = {(s["client"], s["server"]): s for s in sessions}
    for exp in entry["sessions"]:
        key = (exp["client"], exp["server"])
        assert key in got, f"session {key} missing; have {sorted(got)}"
        s = got[key]
        assert s.get("transport", "tcp") == exp.get("transport", "tcp")
        if exp.get("version"):
            assert _norm_version(s["version"]) == _norm_version(exp["version"])
        if exp.get("cipher_suite"):
            assert s["cipher_suite"] == exp["cipher_suite"]
        assert message_list(s["messages"]) == message_list(exp["messages"])
        ad = exp.get("application_data") or {}
        for side, name in (("client", "client_to_server"), ("server", "server_to_client")):
            want = ad.get(name) or {}
            if want.get("bytes"):
                assert s["app_data"][side] == {"bytes": want["bytes"], "sha256": want["sha256"]}
        if any(ad.get(n, {}).get("bytes") for n in ("client_to_server", "server_to_client")):
            assert s["decryption"]["status"] == "decrypted", s["decryption"]


@pytest.mark.skipif(MANIFEST is None, reason="../shared/corpus is absent")
def test_gzip_and_plain_copies_agree():
    a = analyze([CORPUS / "captures/dhe1.pcapng.gz"], keylogs=[str(CORPUS / "keys/dhe1_keylog.dat")])
    b = analyze([CORPUS / "captures/dhe1.pcapng"], keylogs=[str(CORPUS / "keys/dhe1_keylog.dat")])
    assert [message_list(s["messages"]) for s in a] == [message_list(s["messages"]) for s in b]
    assert a[0]["app_data"] == b[0]["app_data"]


@pytest.mark.skipif(MANIFEST is None, reason="../shared/corpus is absent")
def test_without_keys_every_session_says_why():
    sessions = analyze([CORPUS / "captures/tls12-chacha20poly1305.pcap"])
    assert len(sessions) == 7
    for s in sessions:
        assert s["decryption"]["status"] == "no-key"
        assert s["decryption"]["detail"]
        assert "app_data" not in s
        # the encrypted Finished is labelled as such, not guessed
        assert ("client", "EncryptedHandshakeMessage") in message_list(s["messages"])


@pytest.mark.skipif(MANIFEST is None, reason="../shared/corpus is absent")
def test_rsa_key_with_ecdhe_session_explains():
    sessions = analyze([CORPUS / "captures/tls12-dsb.pcapng"], key_specs=[str(CORPUS / "keys/rsasnakeoil2.key")])
    # the secrets are embedded, so they decrypt anyway; without the DSB the reason would be ECDHE
    assert all(s["decryption"]["status"] == "decrypted" for s in sessions)


@pytest.mark.skipif(MANIFEST is None, reason="../shared/corpus is absent")
def test_wrong_rsa_key_is_reported_not_guessed():
    sessions = analyze([CORPUS / "captures/rsa-p-lt-q.pcap"], key_specs=[str(CORPUS / "keys/rsasnakeoil2.key")])
    (s,) = sessions
    assert s["decryption"]["status"] == "no-key"
    assert "does not match the server certificate" in s["decryption"]["detail"]
    assert "app_data" not in s
