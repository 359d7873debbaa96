"""TLS inside OpenVPN's control channel: real captures of OpenVPN 2.6 peers (samples/real/openvpn,
make_openvpn_captures.sh) over UDP and TCP, without a static key, with tls-auth (SHA1 and SHA256 HMACs) and with
tls-crypt. The handshake is read through OpenVPN's reliability layer, labelled as tshark labels it, and decrypted with
the server's RSA key (TLS 1.2, RSA key exchange); the control channel's key-method-2 exchange then gives the options
and the auth-user-pass login."""
from __future__ import annotations

import functools
import subprocess

import pytest

from dissector.tls.constants import HANDSHAKE_TYPES, name_of
from tests.conftest import SAMPLES, analyze, needs_tshark

OVPN = SAMPLES / "real" / "openvpn"
KEY = str(OVPN / "ovpn-server.key.pem")
NAMES = sorted(p.stem for p in OVPN.glob("*.pcap"))
RSA = "TLS_RSA_WITH_AES_128_CBC_SHA"
# capture -> (carrier, server port, control channel protection, TLS version, suite)
EXPECTED = {
    "openvpn-udp-rsa": ("UDP", 1194, "none", "TLS 1.2", RSA),
    "openvpn-udp-tlsauth-sha1": ("UDP", 1194, "tls-auth (a 20-byte HMAC)", "TLS 1.3", "TLS_AES_256_GCM_SHA384"),
    "openvpn-udp-tlsauth-sha256": ("UDP", 1194, "tls-auth (a 32-byte HMAC)", "TLS 1.2", RSA),
    "openvpn-udp-tlscrypt": ("UDP", 1194, "tls-crypt (encrypted with a static key)", None, None),
    "openvpn-tcp-rsa": ("TCP", 1194, "none", "TLS 1.2", RSA),
    "openvpn-udp-port443-tls13": ("UDP", 443, "none", "TLS 1.3", "TLS_AES_256_GCM_SHA384"),
}
RENEG = "openvpn-udp-reneg"  # the first TLS session and two renegotiations (reneg-sec 4)
TLSCRYPT_RENEG = "openvpn-udp-tlscrypt-reneg"  # the same under a static tls-crypt key
SINGLE = sorted(EXPECTED)


@functools.cache
def ours(name: str, keyed: bool = True, plugins: bool = False) -> dict:
    [s] = analyze([OVPN / f"{name}.pcap"], key_specs=[KEY] if keyed else [], plugins=plugins)
    return s


def test_the_captures_are_present():
    assert NAMES == sorted([*EXPECTED, RENEG, TLSCRYPT_RENEG])


@pytest.mark.parametrize("name", SINGLE)
def test_each_openvpn_session_is_one_tls_session(name):
    carrier, port, protection, version, suite = EXPECTED[name]
    s = ours(name)
    assert s.get("transport") == ("openvpn" if carrier == "UDP" else None)  # (over TCP: a TCP session)
    assert s["server"] == f"10.99.6.1:{port}" and s["client"].startswith("10.99.6.2:")
    ovpn = s["openvpn"]
    assert (ovpn["transport"], ovpn["control_channel"], s["version"], s["cipher_suite"]) == (
        carrier, protection, version, suite)
    assert ovpn["data_packets"]["client"] >= 2 and ovpn["data_packets"]["server"] >= 2  # the pings in the tunnel
    assert not s.get("anomalies")
    if suite == RSA:
        assert s["decryption"] == {"status": "decrypted", "detail": ""}
        assert [m["from"] for m in s["messages"] if m["type"] == "Finished"] == ["client", "server"]
    elif protection.startswith("tls-crypt"):
        assert s["messages"] == [] and "tls-crypt" in s["decryption"]["detail"]
    else:
        assert s["decryption"]["status"] == "no-key" and [m["type"] for m in s["messages"]][:2] == [
            "ClientHello", "ServerHello"]


@pytest.mark.parametrize("name,static", [(RENEG, None), (TLSCRYPT_RENEG, "ovpn-tc.key")])
def test_each_renegotiation_is_a_session_opened_with_the_dynamic_tls_crypt_key(name, static):
    # OpenVPN 2.6 wraps renegotiations' control channels with a key exported from the first TLS session (dynamic
    # tls-crypt; XORed with the static tls-crypt key when there is one): with the server's RSA key the first session
    # decrypts, then the key opens the next ones (their tags verify), and each handshake decrypts with the RSA key
    statics = [str(OVPN / static)] if static else []
    sessions = analyze([OVPN / f"{name}.pcap"], key_specs=[*statics, KEY])
    assert [s["openvpn"]["key_id"] for s in sessions] == [0, 1, 2]
    first = "tls-crypt (encrypted with a static key)" if static else "none"
    assert [s["openvpn"]["control_channel"] for s in sessions] == [first] + [
        "dynamic tls-crypt (a key exported from the first TLS session)"] * 2
    assert [s["end"]["reason"] for s in sessions] == ["OpenVPN renegotiation (key id 1)",
                                                      "OpenVPN renegotiation (key id 2)", "end of capture"]
    for s in sessions:
        assert s["decryption"] == {"status": "decrypted", "detail": ""} and not s.get("anomalies")
        assert [m["from"] for m in s["messages"] if m["type"] == "Finished"] == ["client", "server"]
        assert s["client"] == sessions[0]["client"] and s["server"] == "10.99.6.1:1194"
    assert len({s["messages"][0]["random"] for s in sessions}) == 3  # three handshakes
    without = analyze([OVPN / f"{name}.pcap"], key_specs=statics)
    assert [s["decryption"]["status"] for s in without] == ["no-key"] * 3
    assert "dynamic tls-crypt" in without[1]["decryption"]["detail"] and without[1]["messages"] == []


def test_the_control_channel_gives_the_options_and_the_login():
    s = ours("openvpn-udp-rsa", plugins=True)
    control = s["openvpn_control"]
    assert control["user"] == "erin" and control["password"] == "<redacted 15 chars>" and control["result"] == "ok"
    assert control["options"]["client"].endswith("key-method 2,tls-client")
    assert control["options"]["server"].endswith("key-method 2,tls-server")
    assert control["peer_info"]["IV_VER"].startswith("2.6")
    assert any(m["from"] == "server" and m["text"].startswith("PUSH_REPLY,") for m in control["messages"])
    [shown] = analyze([OVPN / "openvpn-udp-rsa.pcap"], key_specs=[KEY], plugins=True, show_secrets=True)
    assert shown["openvpn_control"]["password"] == "test-password-5"
    tcp = ours("openvpn-tcp-rsa", plugins=True)["openvpn_control"]
    assert tcp["user"] is None and tcp["result"] == "ok"  # (no auth-user-pass there)


def test_credentials_lists_the_openvpn_login():
    proc = subprocess.run(["python", "-m", "dissector", "credentials", str(OVPN / "openvpn-udp-rsa.pcap"), "--key", KEY,
                           "--format", "csv"], capture_output=True, text=True, timeout=120, cwd=SAMPLES.parent)
    assert "OpenVPN,auth-user-pass,erin,<redacted 15 chars>,ok" in proc.stdout and "test-password-5" not in proc.stdout


@pytest.mark.parametrize("name", [*SINGLE, RENEG, TLSCRYPT_RENEG])
def test_control_packets_out_of_order_and_again_read_the_same(name, tmp_path):
    # UDP: each run of datagrams one side sent back to back delivered last first, and every control packet twice
    # (OpenVPN's reliability layer puts them back in packet-id order and drops the copies)
    from dissector.capture.reader import open_capture
    from dissector.capture.writer import PcapWriter
    from tests.conftest import reversed_runs

    if name in EXPECTED and EXPECTED[name][0] == "TCP":
        pytest.skip("over TCP, reordering is TCP's (test_resegment)")
    with open_capture(str(OVPN / f"{name}.pcap")) as cap:
        frames = [(ts, bytes(f)) for ts, _, f in cap]
    shuffled = [x for ts_f in reversed_runs(frames, 1) for x in (ts_f, ts_f)]
    with open(tmp_path / "r.pcap", "wb") as out:
        w = PcapWriter(out)
        for ts, f in shuffled:
            w.write(ts, f)
    keys = [KEY, str(OVPN / "ovpn-tc.key")]
    got_all = analyze([tmp_path / "r.pcap"], key_specs=keys)
    want_all = analyze([OVPN / f"{name}.pcap"], key_specs=keys)
    assert len(got_all) == len(want_all)
    for got, want in zip(got_all, want_all):
        assert [(m["from"], m["type"]) for m in got["messages"]] == [(m["from"], m["type"]) for m in want["messages"]]
        assert got["decryption"] == want["decryption"] and got.get("app_data") == want.get("app_data")
        assert got["openvpn"]["control_channel"] == want["openvpn"]["control_channel"]


TSHARK_OPTIONS = {  # how tshark 4.0 is told what the capture is
    "openvpn-udp-rsa": ["-d", "udp.port==1194,openvpn"],
    "openvpn-tcp-rsa": ["-d", "tcp.port==1194,openvpn"],
    "openvpn-udp-port443-tls13": ["-d", "udp.port==443,openvpn"],
    "openvpn-udp-tlsauth-sha1": ["-d", "udp.port==1194,openvpn", "-o", "openvpn.tls_auth:TRUE",
                                 "-o", "openvpn.tls_auth_hmac_size:20"],
    "openvpn-udp-tlsauth-sha256": ["-d", "udp.port==1194,openvpn", "-o", "openvpn.tls_auth:TRUE",
                                   "-o", "openvpn.tls_auth_hmac_size:32"],
}


def _tshark_messages(name: str) -> list[tuple[str, str]]:
    out = subprocess.run(["tshark", "-r", str(OVPN / f"{name}.pcap"), *TSHARK_OPTIONS[name], "-T", "fields", "-e",
                          "ip.src", "-e", "tls.handshake.type", "-E", "occurrence=a", "-E", "aggregator=,"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    theirs = []
    for line in out.splitlines():
        src, types = (line.split("\t") + [""])[:2]
        side = "client" if src == "10.99.6.2" else "server"
        theirs += [(side, name_of(HANDSHAKE_TYPES, int(t))) for t in types.split(",") if t]
    return theirs


def _mine(name: str) -> list[tuple[str, str]]:
    return [(m["from"], m["type"]) for m in ours(name, keyed=False)["messages"]
            if m["type"] not in ("ChangeCipherSpec", "Alert") and not m.get("encrypted")]


@needs_tshark
@pytest.mark.parametrize("name", sorted(TSHARK_OPTIONS))
def test_the_hellos_match_tshark(name):
    theirs = _tshark_messages(name)
    assert theirs[:2] == [("client", "ClientHello"), ("server", "ServerHello")]
    assert _mine(name)[:len(theirs)] == theirs


# tshark 4.0 labels an OpenVPN control channel's TLS only as far as its first records that span control packets: the
# server's Certificate onward (cut over several P_CONTROL_V1 packets) is not reassembled. Both Finished messages
# verify here (test_each_openvpn_session_is_one_tls_session), which needs every handshake byte, in order.
TSHARK_NO_REASSEMBLY = pytest.mark.xfail(strict=True, reason="tshark 4.0 does not reassemble TLS records that span "
                                                             "OpenVPN control packets")


@needs_tshark
@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if EXPECTED[n][3] == "TLS 1.3" else [TSHARK_NO_REASSEMBLY])
                                  for n in sorted(TSHARK_OPTIONS)])
def test_plaintext_handshake_messages_match_tshark(name):
    assert _mine(name) == _tshark_messages(name)


def test_a_static_tls_crypt_key_given_opens_the_control_channel(tmp_path):
    cap = OVPN / "openvpn-udp-tlscrypt.pcap"
    [s] = analyze([cap], key_specs=[str(OVPN / "ovpn-tc.key"), KEY])
    hello, plain_hello = s["messages"][0], ours("openvpn-udp-port443-tls13")["messages"][0]
    assert [m["type"] for m in s["messages"]][:2] == ["ClientHello", "ServerHello"] and not s.get("anomalies")
    assert hello["cipher_suites"] == plain_hello["cipher_suites"]  # (the same OpenVPN client, unwrapped)
    assert s["version"] == "TLS 1.3" and "key log" in s["decryption"]["detail"]
    [wrong] = analyze([cap], key_specs=[str(OVPN / "ovpn-ta.key")])  # another static key: its tags do not verify
    assert wrong["messages"] == [] and wrong["decryption"]["detail"].startswith("no key given opens")
    assert {a["name"] for a in wrong["anomalies"]} == {"tls_crypt_tag_mismatch"}
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN OpenVPN Static key V1-----\n00ff\n-----END OpenVPN Static key V1-----\n")
    from dissector.errors import KeyMaterialError
    from dissector.keys import build_keystore

    with pytest.raises(KeyMaterialError, match="OpenVPN static key of 2 bytes"):
        build_keystore(key_specs=[str(bad)])


@pytest.mark.parametrize("seed", range(3))
def test_damaged_openvpn_packets_never_hit_an_internal_error(seed, tmp_path):
    import random

    from dissector.capture.reader import open_capture
    from dissector.capture.writer import PcapWriter

    rng = random.Random(seed)
    keys = [KEY, str(OVPN / "ovpn-tc.key")]
    for name in NAMES:
        with open_capture(str(OVPN / f"{name}.pcap")) as cap:
            frames = [(ts, bytearray(f)) for ts, _, f in cap]
        for _ in range(rng.randint(1, 8)):
            _, f = rng.choice(frames)
            i = rng.randrange(42, len(f)) if len(f) > 42 else 0
            if rng.random() < 0.7:
                f[i] = rng.randrange(256)
            else:
                del f[i:i + rng.randint(1, 60)]
        with open(tmp_path / "d.pcap", "wb") as out:
            w = PcapWriter(out)
            for ts, f in frames:
                w.write(ts, bytes(f))
        for s in analyze([tmp_path / "d.pcap"], key_specs=keys, plugins=True):
            bad = [a for a in s.get("anomalies") or [] if a["name"] in ("internal_error", "plugin_error")]
            assert not bad, (name, bad)
