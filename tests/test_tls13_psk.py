"""TLS 1.3 on an external pre-shared key (RFC 8446 2.2, 4.2.9, 4.2.11), real captures (samples/real,
make_real_captures.sh): with no (EC)DHE (psk_ke) the PSK alone (--psk) decrypts the session, the PSK being the one
whose binder the ClientHello carries; with (EC)DHE (psk_dhe_ke) it cannot, and the session says so.
tests/test_real_peers.py compares the PSK-only plaintext with tshark's, decrypted with the client's key log."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import SAMPLES, analyze, plaintext

REAL = SAMPLES / "real"
PSK = (REAL / "gnutls-tls13-psk.psk").read_text().strip()  # (make_real_captures.sh: the same PSK for all three)
PSK_KE = ["gnutls-tls13-psk", "gnutls-openssl-tls13-psk"]  # gnutls-cli against gnutls-serv, and against s_server


@pytest.mark.parametrize("name", PSK_KE)
def test_the_psk_alone_decrypts_a_psk_ke_session(name):
    cap = REAL / f"{name}.pcap"
    [s] = analyze([cap], psks=[PSK])
    assert s["decryption"] == {"status": "decrypted", "detail": ""}  # both Finished verified
    assert s["version"] == "TLS 1.3" and s["resumed"] is True  # (the server took a PSK)
    [fs] = [f for f in s["findings"] if f["id"] == "no_forward_secrecy"]
    assert fs["severity"] == "medium" and "(psk_ke)" in fs["detail"]
    assert [m["type"] for m in s["messages"] if m["type"] == "Finished"] == ["Finished", "Finished"]
    with_psk = plaintext([cap], psks=[PSK])
    with_log = plaintext([cap], keylogs=[REAL / f"{name}.keys"])
    assert with_psk == with_log and with_psk[(0, "client")].startswith(b"GET / HTTP/1.0")


@pytest.mark.parametrize("name", PSK_KE)
def test_keys_turns_the_psk_into_the_key_log_the_client_wrote(name, tmp_path):
    out = tmp_path / "k.keys"
    proc = subprocess.run([sys.executable, "-m", "dissector", "keys", str(REAL / f"{name}.pcap"), "--psk", PSK,
                           "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ours = {tuple(line.split()) for line in out.read_text().splitlines() if not line.startswith("#")}
    theirs = {tuple(line.split()) for line in (REAL / f"{name}.keys").read_text().splitlines() if line.strip()}
    labels = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
              "SERVER_TRAFFIC_SECRET_0"}
    assert {t for t in ours if t[0] in labels} == {t for t in theirs if t[0] in labels} and len(ours) >= 4


@pytest.mark.parametrize("name", PSK_KE)
def test_a_wrong_psk_or_none_says_what_would_decrypt(name):
    [wrong] = analyze([REAL / f"{name}.pcap"], psks=["00" * 32])
    assert wrong["decryption"]["status"] == "no-key"
    assert "fits the ClientHello's binder for the identity the server took ('dissector')" in wrong["decryption"]["detail"]
    [none] = analyze([REAL / f"{name}.pcap"])
    assert "the PSK: --psk HEX" in none["decryption"]["detail"]


def test_a_psk_with_ecdhe_needs_the_key_log():
    cap = REAL / "openssl-tls13-psk-dhe.pcap"
    [s] = analyze([cap], psks=[PSK])
    assert s["decryption"]["status"] == "no-key" and "(psk_dhe_ke)" in s["decryption"]["detail"]
    [keyed] = analyze([cap], keylogs=[str(REAL / "openssl-tls13-psk-dhe.keys")], psks=[PSK])
    assert keyed["decryption"] == {"status": "decrypted", "detail": ""}
    [none] = analyze([cap])
    assert "--psk" not in none["decryption"]["detail"]  # (the PSK would not help: no hint to give it)
    assert "no_forward_secrecy" not in [f["id"] for f in none["findings"]]  # (ECDHE: forward secret)


def test_secrets_derived_from_a_psk_are_not_a_key_log_the_user_gave():
    psk_session, other = analyze([REAL / "gnutls-tls13-psk.pcap", REAL / "openssl-tls13.pcap"], psks=[PSK])
    assert psk_session["decryption"]["status"] == "decrypted"
    assert other["decryption"]["detail"].startswith("TLS 1.3 session: a key log (--keylog, SSLKEYLOGFILE) is needed")


def test_psks_named_by_identity_pick_their_sessions():
    other = "11" * 32
    # TLS 1.2 PSK suites: the ClientKeyExchange's identity picks the PSK given for it
    tls12 = REAL / "gnutls-tls12-psk.pcap"
    [s] = analyze([tls12], psks=[f"someone-else={other}", f"dissector={PSK}"])
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    [s] = analyze([tls12], psks=[f"someone-else={other}"])
    assert s["decryption"]["status"] == "no-key" and "--psk dissector=HEX" in s["decryption"]["detail"]
    [s] = analyze([tls12], psks=[other, PSK])  # unnamed: the first does not open the first record, the second does
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    [s] = analyze([tls12], psks=[other, "22" * 32])
    assert s["decryption"]["status"] == "failed"
    # TLS 1.3: the binder finds the PSK among all given, named or not
    [s] = analyze([REAL / "gnutls-tls13-psk.pcap"], psks=[other, f"someone-else={other}", f"x={PSK}"])
    assert s["decryption"] == {"status": "decrypted", "detail": ""}


def test_a_psk_that_is_not_hex_is_a_one_line_error():
    proc = subprocess.run([sys.executable, "-m", "dissector", "analyze", str(REAL / "gnutls-tls12-psk.pcap"),
                           "--psk", "dissector=xyz"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0 and "[IDENTITY=]HEX" in proc.stderr


def test_explain_tells_an_external_psk_from_a_resumption():
    from dissector.output.explain import explain_session

    [psk_ke] = analyze([REAL / "gnutls-tls13-psk.pcap"], psks=[PSK])
    text = explain_session(psk_ke)
    assert "it also brought a pre-shared key (identity 'dissector')" in text
    assert "It took the pre-shared key (identity 'dissector'), so no certificate was needed, and no (EC)DHE" in text
    [dhe] = analyze([REAL / "openssl-tls13-psk-dhe.pcap"])
    assert "It took the pre-shared key (identity 'dissector'), so no certificate was needed." in explain_session(dhe)
    resumed = analyze([REAL / "openssl-tls13-resume.pcap"])[-1]
    assert "It resumed an earlier session" in explain_session(resumed) and "pre-shared key" not in explain_session(resumed)


def test_a_full_run_key_log_does_not_stop_a_psk_session(monkeypatch):
    # the secrets the run's key log learns are bounded (memory follows live flows); each session keeps its own
    import dissector.tls.keylog as keylog

    monkeypatch.setattr(keylog, "MAX_LEARNED", 0)
    [s] = analyze([REAL / "gnutls-tls13-psk.pcap"], psks=[PSK])
    assert s["decryption"] == {"status": "decrypted", "detail": ""} and s["app_data"]["server"]["bytes"] > 0
