"""Captures of real OpenSSL and GnuTLS peers (samples/real, made by samples/real/make_real_captures.sh over
network namespaces): our analysis must agree with tshark's on every TCP stream, with the same keys given
to both: the client and server endpoints, the negotiated version and cipher suite, the ordered handshake
messages with their direction, and the decrypted application bytes of each direction.

A capture is analysed once per kind of key material that ships with it: the key log (NAME.keys, every
capture), the server's RSA key alone (NAME.key.pem, RSA key exchange) and the PSK alone (NAME.psk); and
once with no keys at all ("none"), where the handshake messages that travelled in the clear must be
the same as tshark's (the encrypted ones are left out on both sides: tshark gives them no type).
"""
from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess

import pytest

from dissector.tls.connection import TLSConnection
from dissector.tls.constants import HANDSHAKE_TYPES, version_name
from dissector.tls.suites import DECRYPTABLE_CIPHERS, SUITES_BY_NAME, suite_name
from dissector.tunnel import TUNNEL_ID_BASE
from tests.conftest import SAMPLES, analyze, needs_tshark

REAL = SAMPLES / "real"
# the TLS captures: each ships with its key log (cleartext-* ones have no TLS, tests/test_mail.py reads them)
NAMES = sorted(p.stem for p in REAL.glob("*.pcap") if p.with_suffix(".keys").exists())
IMPAIRED = [n for n in NAMES if n.endswith("-lossy")]

# Options tshark needs to be the reference for these captures: reassemble out-of-order segments
# (off by default in tshark 4.0, which would otherwise skip reordered records of the lossy captures).
TSHARK_OPTS = ["-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE",
               "-o", "tls.desegment_ssl_records:TRUE", "-o", "tls.desegment_ssl_application_data:TRUE"]

# The cipher-family captures (issue 3): make_real_captures.sh forces one suite on both peers of each.
# Version and suite of every session, with our analysis and with tshark's.
SUITE_CAPTURES: dict[str, tuple[str, str]] = {
    "openssl-tls12-null": ("TLS 1.2", "TLS_RSA_WITH_NULL_SHA256"),
    "openssl-tls12-camellia": ("TLS 1.2", "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"),
    "openssl-tls12-seed": ("TLS 1.2", "TLS_RSA_WITH_SEED_CBC_SHA"),
    "openssl-tls12-ccm": ("TLS 1.2", "TLS_RSA_WITH_AES_128_CCM"),
    "openssl-tls12-dhe-ccm8": ("TLS 1.2", "TLS_DHE_RSA_WITH_AES_256_CCM_8"),
    "openssl-tls13-ccm": ("TLS 1.3", "TLS_AES_128_CCM_SHA256"),
    "openssl-tls13-ccm8": ("TLS 1.3", "TLS_AES_128_CCM_8_SHA256"),
    "openssl-tls12-dhe": ("TLS 1.2", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    "openssl-tls12-chacha20": ("TLS 1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    "openssl-tls13-aes128gcm": ("TLS 1.3", "TLS_AES_128_GCM_SHA256"),
    "gnutls-tls12-3des": ("TLS 1.2", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    "gnutls-tls10-dhe-3des": ("TLS 1.0", "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    "gnutls-tls12-rc4": ("TLS 1.2", "TLS_RSA_WITH_RC4_128_SHA"),
    "gnutls-tls11-rc4-md5": ("TLS 1.1", "TLS_RSA_WITH_RC4_128_MD5"),
    "gnutls-tls12-null": ("TLS 1.2", "TLS_RSA_WITH_NULL_SHA"),
    "gnutls-tls12-camellia": ("TLS 1.2", "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    "gnutls-tls12-dhe-ccm": ("TLS 1.2", "TLS_DHE_RSA_WITH_AES_256_CCM"),
    "gnutls-tls12-ccm8": ("TLS 1.2", "TLS_RSA_WITH_AES_128_CCM_8"),
    "gnutls-tls13-ccm": ("TLS 1.3", "TLS_AES_128_CCM_SHA256"),
    "gnutls-tls13-ccm8": ("TLS 1.3", "TLS_AES_128_CCM_8_SHA256"),
    "gnutls-tls13-chacha20": ("TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256"),
}

# What the decryptor supports but no peer on the capture machine (Debian 12: OpenSSL 3.0, GnuTLS 3.7) can
# negotiate any more, so no real capture shows it (samples/real/README.md). Kept strict: a capture that
# brings one of them in must remove it from here.
NOT_CAPTURED_CIPHERS = {
    "DES-CBC": "single DES suites are gone from OpenSSL 3 (no weak-ssl-ciphers) and GnuTLS",
    "IDEA-CBC": "Debian's OpenSSL is built with no-idea; GnuTLS has no IDEA",
}
NOT_CAPTURED_VERSIONS = {
    "SSL 3.0": "OpenSSL 3.0 (no-ssl3) and GnuTLS 3.7 (no +VERS-SSL3.0) are both built without it",
}

# Every known disagreement between our analysis and tshark, keyed by (check, capture, key mode).
# Each is a real finding about the analyzer (tshark is the reference): keep it strict, so that the
# fix makes the test pass and forces the entry to be removed.
KNOWN: dict[tuple[str, str, str], str] = {}

# Where tshark 4.0 is the one that is wrong, shown by what the peers sent and by the Finished messages that verify
# (strict: a tshark that gets it right makes these fail, and the entry goes). The capture's own test checks the
# bytes the peers sent.
_PHA = ("tshark 4.0 stops decrypting the client after its first TLS 1.3 post-handshake Finished: the client's "
        "later lines and its answer to the second CertificateRequest stay encrypted for it (the bytes the peers "
        "wrote and the four verified Finished are checked in test_post_handshake_authentication)")
_ECH = ("tshark 4.0 has no Encrypted Client Hello: the key log names the accepted sessions by their inner "
        "ClientHello's random, which is encrypted (it reads neither the server's ECH key nor ECH_SECRET lines), so "
        "their records stay encrypted for it (tests/test_ech.py has tshark decrypt the same bytes with the key "
        "log `dissector keys` writes)")
_FTP = ("tshark 4.0 does not follow FTP's AUTH SSL: it shows the control connection's TLS records as FTP commands "
        "and replies, so it lists only the two data connections (tests/test_starttls.py reads the decrypted control "
        "connection)")
_EARLY = ("tshark 4.0 counts the client's rejected 0-RTT data as application data, though the server discarded it "
          "(test_rejected_early_data_is_not_application_data checks what the client sent in it, and that the rest "
          "is tshark's stream)")
TSHARK_WRONG: dict[tuple[str, str, str], str] = {
    ("app_data", "openssl-tls13-0rtt-rejected", "keylog"): _EARLY,
    ("app_data", "openssl-tls13-0rtt-hrr", "keylog"): _EARLY,
    ("sessions", "starttls-ftp", "keylog"): _FTP,
    ("sessions", "starttls-ftp", "none"): _FTP,
    ("messages", "openssl-tls13-pha", "keylog"): _PHA,
    ("app_data", "openssl-tls13-pha", "keylog"): _PHA,
    **{(check, name, "keylog"): _ECH for check in ("messages", "app_data")
       for name in ("go-ech", "chromium-ech", "firefox-ech")},
}


def key_modes(name: str, with_none: bool = True) -> list[str]:
    modes = ["keylog"]
    if (REAL / f"{name}.key.pem").exists():
        modes.append("rsa-key")
    if (REAL / f"{name}.psk").exists():
        modes.append("psk")
    if with_none:
        modes.append("none")
    return modes


def cases(check: str) -> list:
    out = []
    for name in NAMES:
        for mode in key_modes(name, with_none=check != "app_data"):
            marks = []
            if (check, name, mode) in KNOWN:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN[(check, name, mode)]))
            if (check, name, mode) in TSHARK_WRONG:
                marks.append(pytest.mark.xfail(strict=True, reason=TSHARK_WRONG[(check, name, mode)]))
            out.append(pytest.param(name, mode, id=f"{name}[{mode}]", marks=marks))
    return out


# --- our side ------------------------------------------------------------------------------------


@functools.cache
def ours(name: str, mode: str) -> tuple:
    kwargs: dict = {"keylogs": [], "key_specs": [], "psks": []}
    if mode == "keylog":
        kwargs["keylogs"] = [str(REAL / f"{name}.keys")]
        if (REAL / f"{name}.ech.pem").exists():  # the server's ECH key: the inner ClientHellos open
            kwargs["key_specs"] = [str(REAL / f"{name}.ech.pem")]
    elif mode == "rsa-key":
        kwargs["key_specs"] = [str(REAL / f"{name}.key.pem")]
    elif mode == "psk":
        kwargs["psks"] = [(REAL / f"{name}.psk").read_text().strip()]
    return tuple(analyze([REAL / f"{name}.pcap"], **kwargs))


def our_sessions(name: str, mode: str) -> dict[str, dict]:
    """Our sessions by client endpoint; a session inside another's CONNECT tunnel is left out (tshark 4.0 shows the
    tunnel's bytes as HTTP continuation data: test_tls_inside_an_https_proxy_tunnel checks them)."""
    sessions = {}
    for s in ours(name, mode):
        if s["id"] >= TUNNEL_ID_BASE:
            continue
        assert s["client"] not in sessions, f"two sessions for client {s['client']}"
        sessions[s["client"]] = s
    return sessions


def our_messages(session: dict) -> list[tuple[str, str]]:
    """(direction, handshake type) in order; tshark counts a HelloRetryRequest as a ServerHello."""
    out = []
    for m in session["messages"]:
        t = m["type"]
        if t in ("ChangeCipherSpec", "Alert", "Heartbeat", "UndecryptedRecord", "EncryptedHandshakeMessage"):
            continue
        out.append((m["from"], "ServerHello" if t == "HelloRetryRequest" else t))
    return out


# --- tshark's side -------------------------------------------------------------------------------


# TLS 1.3 on a PSK with no (EC)DHE: we decrypt with the PSK alone, tshark 4.0 does not (its tls.psk serves TLS 1.2
# PSK suites only), so its reference for our PSK-only run is its run with the client's key log: the same bytes
TLS13_PSK = frozenset(("gnutls-tls13-psk", "gnutls-openssl-tls13-psk"))


def tshark_key_opts(name: str, mode: str) -> list[str]:
    if mode == "keylog" or (mode == "psk" and name in TLS13_PSK):
        return ["-o", f"tls.keylog_file:{REAL / f'{name}.keys'}"]
    if mode == "rsa-key":
        return ["-o", f'uat:rsa_keys:"{REAL / f"{name}.key.pem"}",""']
    if mode == "psk":
        return ["-o", f"tls.psk:{(REAL / f'{name}.psk').read_text().strip()}"]
    if mode == "none":
        return []
    raise ValueError(mode)


def run_tshark(args: list[str]) -> str:
    out = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def endpoint(ip: str, port: str) -> str:
    ip = ip.split(",")[-1]  # tunnelled packets list the outer address first: the flow is the inner one
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tls.handshake.type", "tls.handshake.version",
          "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite",
          "tls.handshake.extensions_server_name"]


@functools.cache
def theirs(name: str, mode: str) -> dict[int, dict]:
    """Per TCP stream that carries TLS: client, server, version, cipher_suite, messages [(from, type)]."""
    args = ["-r", str(REAL / f"{name}.pcap"), *TSHARK_OPTS, *tshark_key_opts(name, mode), "-T", "fields",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        args += ["-e", f]
    streams: dict[int, dict] = {}
    for line in run_tshark(args).splitlines():
        row = dict(zip(FIELDS, line.split("\t")))
        if not row.get("tcp.stream"):
            continue
        st = streams.setdefault(int(row["tcp.stream"]), {"client": None, "server": None, "messages": [],
                                                         "version": None, "cipher_suite": None,
                                                         "sni": None})
        src = endpoint(row["ip.src"] or row["ipv6.src"], row["tcp.srcport"])
        dst = endpoint(row["ip.dst"] or row["ipv6.dst"], row["tcp.dstport"])
        if row["tcp.flags.syn"] in ("1", "True") and row["tcp.flags.ack"] in ("0", "False") and st["client"] is None:
            st["client"], st["server"] = src, dst
        types = [int(t) for t in row["tls.handshake.type"].split(",") if t]
        if not types:
            continue
        assert st["client"] is not None, f"{name}: stream {row['tcp.stream']} has no SYN"
        side = "client" if src == st["client"] else "server"
        st["messages"] += [(side, HANDSHAKE_TYPES.get(t, f"unknown({t})")) for t in types]
        if side == "client" and 1 in types and st["sni"] is None:  # the first ClientHello's SNI
            st["sni"] = row["tls.handshake.extensions_server_name"].split(",")[0] or None
        if side == "server" and 2 in types:  # the (last) ServerHello decides version and suite
            sv = [int(v, 16) for v in row["tls.handshake.extensions.supported_version"].split(",") if v]
            legacy = [int(v, 16) for v in row["tls.handshake.version"].split(",") if v]
            suites = [int(c, 16) for c in row["tls.handshake.ciphersuite"].split(",") if c]
            assert len(suites) == 1 and len(legacy) == 1 and len(sv) <= 1, (name, row)
            st["version"] = version_name(sv[0] if sv else legacy[0])
            st["cipher_suite"] = suite_name(suites[0])
    return {n: st for n, st in streams.items() if st["messages"]}


@functools.cache
def tshark_app_data_all(name: str, mode: str) -> dict[int, dict[str, bytes]]:
    """tshark's decrypted application data per stream and direction (`-z follow,tls,raw,N`, all streams
    in one run). Directions are told by port: "Node 0" is whichever side tshark saw first (tshark 4.0
    prints Node 1 as ":0"), and the lines of Node 1 are indented with a tab."""
    ref = theirs(name, mode)
    if not ref:
        return {}
    args = ["-r", str(REAL / f"{name}.pcap"), *TSHARK_OPTS, *tshark_key_opts(name, mode), "-q"]
    for n in sorted(ref):
        args += ["-z", f"follow,tls,raw,{n}"]
    result: dict[int, dict[str, bytearray]] = {}
    stream = node0 = None
    body = False
    for line in run_tshark(args).splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            stream, node0, body = int(line.rsplit(" ", 1)[1]), None, False
            result[stream] = {"client": bytearray(), "server": bytearray()}
        elif line.startswith("Node 0: "):
            node0 = line[len("Node 0: "):]
        elif line.startswith("Node 1: "):
            body = True
        elif line.startswith("====="):
            body = False
        elif body and line.strip():
            server_port = ref[stream]["server"].rsplit(":", 1)[1]
            first, second = ("server", "client") if node0.rsplit(":", 1)[1] == server_port else ("client", "server")
            result[stream][second if line.startswith("\t") else first] += bytes.fromhex(line.strip())
    assert sorted(result) == sorted(ref), f"{name}: tshark followed {sorted(result)}, expected {sorted(ref)}"
    return {n: {k: bytes(v) for k, v in d.items()} for n, d in result.items()}


def tshark_app_data(name: str, mode: str, stream: int) -> dict[str, bytes]:
    return tshark_app_data_all(name, mode)[stream]


# --- the checks ----------------------------------------------------------------------------------


def test_real_captures_are_present():
    assert len(NAMES) >= 50
    for name in NAMES:
        assert (REAL / f"{name}.keys").exists(), name
    assert sorted(set(SUITE_CAPTURES) - set(NAMES)) == []


def session_suites(name: str, mode: str = "keylog") -> set[tuple[str, str]]:
    return {(s["version"], s["cipher_suite"]) for s in ours(name, mode)}


@pytest.mark.parametrize("name", sorted(SUITE_CAPTURES))
def test_cipher_family_captures_negotiate_their_suite(name):
    """Each cipher-family capture holds sessions of exactly the suite the script forced, decrypted with
    every kind of key material that ships with it (an RSA key exchange also has its server key)."""
    assert session_suites(name) == {SUITE_CAPTURES[name]}
    suite = SUITES_BY_NAME[SUITE_CAPTURES[name][1]]
    assert ("rsa-key" in key_modes(name)) == (suite.kx == "RSA"), "RSA key exchange captures keep NAME.key.pem"
    for mode in key_modes(name, with_none=False):
        for s in ours(name, mode):
            assert s["decryption"] == {"status": "decrypted", "detail": ""}, (mode, s["client"])
            assert (s.get("app_data") or {}).get("client", {}).get("bytes"), (mode, s["client"])
            assert (s.get("app_data") or {}).get("server", {}).get("bytes"), (mode, s["client"])


def test_every_decryptable_cipher_has_a_real_capture():
    """Issue 3: every bulk cipher, record MAC, key exchange and protocol version the decryptor supports is
    in at least one real capture, except those no installed peer can negotiate (listed above, strict)."""
    seen = [SUITES_BY_NAME[s["cipher_suite"]] for name in NAMES for s in ours(name, "keylog")]
    ciphers = {suite.cipher for suite in seen}
    assert sorted(DECRYPTABLE_CIPHERS - ciphers - set(NOT_CAPTURED_CIPHERS)) == []
    assert sorted(ciphers & set(NOT_CAPTURED_CIPHERS)) == []
    assert {"MD5", "SHA1", "SHA256", "SHA384"} <= {suite.mac for suite in seen}
    assert {"RSA", "DHE", "ECDHE", "PSK", "TLS13"} <= {suite.kx for suite in seen}
    versions = {s["version"] for name in NAMES for s in ours(name, "keylog")}
    assert {"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"} <= versions
    assert sorted(versions & set(NOT_CAPTURED_VERSIONS)) == []


@pytest.mark.parametrize("name,mode", [pytest.param(n, m, id=f"{n}[{m}]") for n in NAMES
                                       for m in key_modes(n, with_none=False)])
def test_every_finished_message_verifies(name, mode, monkeypatch):
    """With the keys that ship with a capture, both Finished messages of every handshake (renegotiations
    included) match the transcript: "decrypted" rests on verified key material, not on records that
    happened to decrypt."""
    seen: list[tuple[int, int, str | None]] = []
    close = TLSConnection.close

    def spy(self, ts):
        seen.append((self.handshakes, self.finished_verified - self.post_auths, self.status))
        return close(self, ts)

    monkeypatch.setattr(TLSConnection, "close", spy)
    ours.__wrapped__(name, mode)
    assert seen
    for handshakes, verified, status in seen:  # (and a Finished per TLS 1.3 post-handshake authentication)
        assert handshakes >= 1 and verified == 2 * handshakes and status == "decrypted", seen


NULL_CAPTURES = [n for n, (_, suite) in SUITE_CAPTURES.items() if SUITES_BY_NAME[suite].cipher == "NULL"]


@pytest.mark.parametrize("name", NULL_CAPTURES)
def test_null_cipher_without_keys_is_read_in_the_clear(name):
    """A NULL-encryption suite does not encrypt: without any key the records are read as they are (the
    handshake messages after ChangeCipherSpec, the alerts, the application data), and the session is
    "not-encrypted" with the reason why nothing could be verified, not "no-key" as if it were encrypted."""
    keyed = our_sessions(name, "keylog")
    for client, s in our_sessions(name, "none").items():
        assert s["decryption"]["status"] == "not-encrypted", s["decryption"]
        assert "does not encrypt" in s["decryption"]["detail"] and "unverified" in s["decryption"]["detail"]
        assert s["app_data"] == keyed[client]["app_data"]
        assert our_messages(s) == our_messages(keyed[client])
        assert not [m for m in s["messages"] if m["type"] == "EncryptedHandshakeMessage"]


@needs_tshark
@pytest.mark.parametrize("name", NULL_CAPTURES)
def test_null_cipher_without_keys_matches_tshark(name):
    """tshark reads NULL-cipher records without keys too: the same application bytes."""
    mine = our_sessions(name, "none")
    for n, st in theirs(name, "none").items():
        want = tshark_app_data(name, "none", n)
        got = mine[st["client"]]["app_data"]
        for side in ("client", "server"):
            assert (got[side]["bytes"], got[side]["sha256"]) == (len(want[side]), hashlib.sha256(want[side]).hexdigest())


@needs_tshark
@pytest.mark.parametrize("name", sorted(SUITE_CAPTURES))
def test_tshark_sees_the_forced_suite(name):
    assert {(st["version"], st["cipher_suite"]) for st in theirs(name, "keylog").values()} == {SUITE_CAPTURES[name]}


@needs_tshark
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=_ECH))
                                  if n in ("chromium-ech", "firefox-ech") else n for n in NAMES])
def test_tshark_decrypts_the_capture(name):
    """The committed keys work: with each kind of key material, tshark decrypts application data in
    the capture (not on every stream: the first connection of gnutls-cli --resume sends none)."""
    for mode in key_modes(name, with_none=False):
        decrypted = 0
        for n in theirs(name, mode):
            data = tshark_app_data(name, mode, n)
            decrypted += len(data["client"]) + len(data["server"])
        assert decrypted, f"{name} [{mode}]: tshark decrypted nothing"


@needs_tshark
@pytest.mark.parametrize("name", IMPAIRED)
def test_impaired_captures_have_retransmissions_and_reordering(name):
    out = run_tshark(["-r", str(REAL / f"{name}.pcap"), "-T", "fields", "-e", "frame.number",
                      "-Y", "tcp.analysis.retransmission"])
    assert len(out.split()) >= 1
    out = run_tshark(["-r", str(REAL / f"{name}.pcap"), "-T", "fields", "-e", "frame.number",
                      "-Y", "tcp.analysis.out_of_order"])
    assert len(out.split()) >= 1


@needs_tshark
@pytest.mark.parametrize("name,mode", cases("sessions"))
def test_sessions_versions_suites_match_tshark(name, mode):
    mine = our_sessions(name, mode)
    ref = theirs(name, mode)
    assert sorted(mine) == sorted(st["client"] for st in ref.values())
    for n, st in ref.items():
        s = mine[st["client"]]
        got = (s["server"], s["version"], s["cipher_suite"], s["sni"])
        want = (st["server"], st["version"], st["cipher_suite"], st["sni"])
        assert got == want, f"stream {n} ({st['client']})"


@needs_tshark
@pytest.mark.parametrize("name,mode", cases("messages"))
def test_handshake_messages_match_tshark(name, mode):
    mine = our_sessions(name, mode)
    for n, st in theirs(name, mode).items():
        assert our_messages(mine[st["client"]]) == st["messages"], f"stream {n} ({st['client']})"


@needs_tshark
@pytest.mark.parametrize("name,mode", cases("app_data"))
def test_decrypted_application_data_matches_tshark(name, mode):
    mine = our_sessions(name, mode)
    for n, st in theirs(name, mode).items():
        s = mine[st["client"]]
        assert s["decryption"]["status"] == "decrypted", (n, s["decryption"])
        want = tshark_app_data(name, mode, n)
        got = s.get("app_data") or {}
        for side in ("client", "server"):
            mine_side = got.get(side) or {"bytes": 0, "sha256": hashlib.sha256(b"").hexdigest()}
            ref = {"bytes": len(want[side]), "sha256": hashlib.sha256(want[side]).hexdigest()}
            if mine_side["bytes"] == 0 and ref["bytes"] == 0:
                continue
            assert (mine_side["bytes"], mine_side["sha256"]) == (ref["bytes"], ref["sha256"]), \
                f"stream {n} ({st['client']}), {side} -> {'server' if side == 'client' else 'client'}"


@pytest.mark.parametrize("name,how", [("openssl-tls13-0rtt-rejected", "EncryptedExtensions carry no early_data"),
                                      ("openssl-tls13-0rtt-hrr", "HelloRetryRequest")])
def test_rejected_early_data_is_not_application_data(name, how):
    # the resumed connection sends its request as 0-RTT data; the server skips it (no early_data in its
    # EncryptedExtensions; or a HelloRetryRequest), and s_client sends the request again after the handshake
    request = b"GET / HTTP/1.0\r\n\r\n"
    first, second = ours(name, "keylog")
    assert "early_data" not in first and second["decryption"]["status"] == "decrypted"
    ed = second["early_data"]
    assert (ed["status"], ed["records"], ed["bytes"]) == ("rejected", 1, len(request)) and how in ed["detail"]
    assert ed["sha256"] == hashlib.sha256(request).hexdigest()
    assert second["app_data"]["client"] == {"bytes": len(request), "sha256": hashlib.sha256(request).hexdigest()}
    if shutil.which("tshark"):  # tshark's client stream: the rejected request, then ours
        n = next(n for n, st in theirs(name, "keylog").items() if st["client"] == second["client"])
        assert tshark_app_data(name, "keylog", n)["client"] == request + request
    # the HTTP plugin sees one request, answered
    [s] = [s for s in analyze([REAL / f"{name}.pcap"], keylogs=[str(REAL / f"{name}.keys")], plugins=True)
           if s["client"] == second["client"]]
    assert [(r["method"], r.get("status")) for r in s["http"]["requests"]] == [("GET", 200)]
    assert not s.get("anomalies")


def test_accepted_early_data_is_application_data():
    for name in ("openssl-tls13-0rtt", "gnutls-tls13-0rtt"):
        resumed = [s for s in ours(name, "keylog") if "early_data" in s]
        assert len(resumed) == 1 and resumed[0]["early_data"]["status"] == "accepted"
        assert resumed[0]["early_data"]["records"] == 1 and "sha256" not in resumed[0]["early_data"]
        assert resumed[0]["app_data"]["client"]["bytes"] >= resumed[0]["early_data"]["bytes"]
        assert "early_data_accepted" in [f["id"] for f in resumed[0]["findings"]]


OCSP = {"openssl-tls12-ocsp": "good", "openssl-tls13-ocsp": "good", "openssl-tls13-ocsp-revoked": "revoked"}


@pytest.mark.parametrize("name", sorted(OCSP))
def test_stapled_ocsp_response(name):
    # OCSP stapling: a CertificateStatus message (TLS 1.2), or the leaf's status_request entry extension inside the
    # encrypted Certificate (TLS 1.3); the response is read with cryptography and judged at the capture time
    [s] = ours(name, "keylog")
    o = s["certificates"]["server"]["ocsp"]
    assert (o["response_status"], o["cert_status"], o["validity"], o["for_leaf"]) == ("successful", OCSP[name],
                                                                                        "current", True)
    assert len(s["certificates"]["server"]["chain"]) == 2 and o["responder"] == "CN=dissector test CA"
    ids = [f["id"] for f in s["findings"]]
    assert ("certificate_revoked" in ids) == (OCSP[name] == "revoked")
    if OCSP[name] == "revoked":
        assert o["revocation_reason"] == "key_compromise" and o["revocation_time"].startswith("2026-11-01")
    where = "CertificateStatus" if "tls12" in name else "Certificate"
    message = next(m for m in s["messages"] if m["type"] == where)
    assert (message.get("ocsp") or message["certificates"][0]["ocsp"])["serial"] == o["serial"]
    if shutil.which("tshark"):
        out = run_tshark(["-r", str(REAL / f"{name}.pcap"), *tshark_key_opts(name, "keylog"), "-Y", "ocsp", "-T",
                          "fields", "-e", "ocsp.responseStatus", "-e", "ocsp.serialNumber", "-e", "ocsp.certStatus"])
        status, serial, cert_status = out.split()  # (tshark prints the serial's DER bytes: maybe a leading 00)
        assert (status, int(serial, 16), cert_status) == ("0", int(o["serial"], 16),
                                                          {"good": "0", "revoked": "1"}[OCSP[name]])


@pytest.mark.parametrize("name", ["gnutls-tls12-rawpk", "gnutls-tls13-rawpk"])
def test_raw_public_key_instead_of_a_certificate(name):
    # RFC 7250 (server_certificate_type RawPublicKey): TLS 1.2 sends the SubjectPublicKeyInfo alone, TLS 1.3 in a
    # certificate entry; either way it is the server's key, and there is no certificate to judge
    from cryptography.hazmat.primitives import serialization

    [s] = ours(name, "keylog")
    spki = serialization.load_pem_private_key((REAL / "server.key.pem").read_bytes(), None).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    server = s["certificates"]["server"]
    assert server["raw_public_key"] and "RFC 7250" in server["note"]
    assert server["chain"] == [{"type": "RawPublicKey", "length": len(spki), "sha256": hashlib.sha256(spki).hexdigest(),
                                "key_type": "RSA", "key_size": 2048, "weak_key": False}]
    cert = next(m for m in s["messages"] if m["type"] == "Certificate" and m["from"] == "server")
    assert cert["certificate_type"] == "RawPublicKey" and s["decryption"]["status"] == "decrypted"
    # negotiated: the ClientHello's server_certificate_type lists it, the server's answer names it (TLS 1.2 in its
    # ServerHello, TLS 1.3 in its EncryptedExtensions)
    hello = next(m for m in s["messages"] if m["type"] == "ClientHello")
    assert "RawPublicKey" in {e["name"]: e for e in hello["extensions"]}["server_certificate_type"]["types"]
    answer = next(m for m in s["messages"] if m["type"] in ("ServerHello", "EncryptedExtensions")
                  and any(e["name"] == "server_certificate_type" for e in m.get("extensions", [])))
    assert {e["name"]: e for e in answer["extensions"]}["server_certificate_type"]["type"] == "RawPublicKey"
    assert not [f for f in s["findings"] if "certificate" in f["id"]]


@pytest.mark.parametrize("name", ["openssl-tls12-mtls", "gnutls-tls13-mtls"])
def test_certificate_request_names_the_cas_it_accepts(name):
    # TLS 1.2: the CertificateRequest's distinguished names; TLS 1.3: its certificate_authorities extension. Both
    # servers were given the client's self-signed certificate as their CA file
    from cryptography import x509

    subject = x509.load_pem_x509_certificate((REAL / "client.crt.pem").read_bytes()).subject.rfc4514_string()
    [s] = ours(name, "keylog")
    request = next(m for m in s["messages"] if m["type"] == "CertificateRequest")
    ext = {e["name"]: e for e in request.get("extensions", [])}
    names = request.get("certificate_authorities") or ext["certificate_authorities"]["authorities"]
    assert names == [subject] == ["CN=dissector test client"]


def test_distinguished_names_read_as_cryptography_writes_them():
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from dissector.tls.handshake import distinguished_name

    rdn = x509.RelativeDistinguishedName
    name = x509.Name([rdn([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
                      rdn([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Société, \"Générale\" + Co")]),
                      rdn([x509.NameAttribute(NameOID.COMMON_NAME, "a"),  # two attributes in one RDN
                           x509.NameAttribute(NameOID.EMAIL_ADDRESS, "x@example.com")]),
                      rdn([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "example")])])
    assert distinguished_name(name.public_bytes()) == name.rfc4514_string()
    assert distinguished_name(b"\x30\x05\x31\x03\x30\x01") == "3005310330 01".replace(" ", "")  # not a Name: hex


@pytest.mark.parametrize("name", ["chromium-h2-proxy", "firefox-h2-proxy"])
def test_tls_inside_the_http2_connect_streams_of_an_https_proxy(name):
    # the browser -> nghttpx (an HTTPS proxy speaking HTTP/2) -> tinyproxy -> nginx: every tunnel is a CONNECT stream
    # of an HTTP/2 connection, with TLS to nginx inside it. The origin leg of the same run (proxy to nginx, plain
    # TCP, compared with tshark like every capture here) holds the same inner sessions: they must read the same.
    keys = [str(REAL / f"{name}.keys")]
    client_leg = analyze([REAL / f"{name}.pcap"], keylogs=keys, plugins=True)
    origin_leg = analyze([REAL / f"{name}-origin.pcap"], keylogs=keys, plugins=True)
    inner = [s for s in client_leg if s["id"] >= TUNNEL_ID_BASE]
    assert len(inner) == len(origin_leg) >= 2
    outer = {s["id"]: s for s in client_leg if s["id"] < TUNNEL_ID_BASE}
    for outer_id in {s["id"] % TUNNEL_ID_BASE for s in inner}:
        tunnels = sorted(s["id"] // TUNNEL_ID_BASE for s in inner if s["id"] % TUNNEL_ID_BASE == outer_id)
        assert tunnels == list(range(1, len(tunnels) + 1))  # numbered as the proxy opened them
        connects = [(r["method"], r["target"], r["status"]) for r in outer[outer_id]["http"]["requests"]]
        assert connects == [("CONNECT", "browser.example.test:443", 200)] * len(tunnels)
    direct = {s["messages"][0]["random"]: s for s in origin_leg}
    for s in inner:
        o = direct.pop(s["messages"][0]["random"])
        assert s["upgrade"] == (f"HTTP/2 CONNECT browser.example.test:443 inside TLS session {s['id'] % TUNNEL_ID_BASE} "
                                "(an HTTPS proxy)")
        assert s["decryption"] == o["decryption"] == {"status": "decrypted", "detail": ""}
        ours_, direct_ = ([(m["from"], m["type"]) for m in x["messages"]] for x in (s, o))
        # Chromium resets a tunnel it did not use (RST_STREAM): the proxy dropped what nginx still sent on it (a
        # NewSessionTicket), which only the origin leg holds
        assert ours_ == (direct_ if s.get("http") else direct_[:len(ours_)])
        assert {("client", "Finished"), ("server", "Finished")} <= set(ours_)  # (Firefox resumes: no Certificate)
        assert (s["version"], s["cipher_suite"], s["sni"], s["alpn"]) == (o["version"], o["cipher_suite"], o["sni"], o["alpn"])
        assert s.get("app_data") == o.get("app_data")
        assert [(r["method"], r["target"], r["status"]) for r in (s.get("http") or {}).get("requests", [])] == \
            [(r["method"], r["target"], r["status"]) for r in (o.get("http") or {}).get("requests", [])]
    fetched = {r["target"] for s in inner for r in (s.get("http") or {}).get("requests", [])}
    assert {"/", "/style.css", "/login", "/token", "/api/me"} <= fetched  # the page, through the proxy


def test_tls_inside_an_https_proxy_tunnel():
    # curl -> squid over TLS (https_port) -> CONNECT www.example.test:443 -> nginx: the outer session is the proxy's,
    # the inner one nginx's, both in curl's key log; the inner session is read from the outer one's plaintext
    outer, inner = ours("https-proxy-connect", "keylog")
    assert (outer["id"], inner["id"]) == (0, TUNNEL_ID_BASE)
    assert inner["upgrade"] == "HTTP CONNECT www.example.test:443 inside TLS session 0 (an HTTPS proxy)"
    for s in (outer, inner):
        assert s["decryption"] == {"status": "decrypted", "detail": ""}  # (both Finished messages verified)
    assert (inner["sni"], inner["alpn"], inner["version"]) == ("www.example.test", "http/1.1", "TLS 1.3")
    assert inner["certificates"]["server"]["sni_match"] and outer["sni"] is None
    # the inner session's records are the tunnel's bytes: what follows the CONNECT exchange in the outer plaintext
    both = {s["id"]: s for s in analyze([REAL / "https-proxy-connect.pcap"],
                                        keylogs=[str(REAL / "https-proxy-connect.keys")], plugins=True)}
    assert [(r["method"], r["target"], r["status"]) for r in both[0]["http"]["requests"]] == \
        [("CONNECT", "www.example.test:443", 200)]
    assert [(r["method"], r["target"], r["status"]) for r in both[TUNNEL_ID_BASE]["http"]["requests"]] == \
        [("GET", "/", 200)]
    if shutil.which("tshark"):  # tshark reads the outer session only, to the same bytes
        [st] = theirs("https-proxy-connect", "keylog").values()
        assert (st["client"], st["version"]) == (outer["client"], outer["version"])


def test_null_cipher_record_shorter_than_its_mac_is_called_malformed():
    """Without keys a NULL-cipher record is only cut from its MAC; one shorter than the MAC is a malformed
    record (an anomaly on the session), not a sign of wrong key material (no key was used): the session
    keeps its status and the records after it are still read."""
    from dissector.capture.reader import open_capture
    from dissector.events import Anomaly, AppData, Decryption
    from dissector.pipeline import Pipeline

    pipe = Pipeline()
    conns = []
    with open_capture(str(REAL / "openssl-tls12-null.pcap")) as cap:
        for ts, linktype, frame in cap:
            pipe.feed(ts, linktype, frame)
            conns += [s.tls for s in pipe.flows.values() if s.tls is not None and s.tls not in conns]
    tls = conns[0]
    out: list = []
    tls.out = out
    after = b"still read" + bytes(32)
    tls.data("client", bytes([23, 3, 3, 0, 4]) + b"abcd" + bytes([23, 3, 3, 0, len(after)]) + after, 99.0)
    tls.close(99.0)
    anomalies = [e for e in out if isinstance(e, Anomaly)]
    assert [(a.name, a.direction) for a in anomalies] == [("record_shorter_than_mac", "client")]
    assert "4-byte NULL-cipher record cannot hold its 32-byte MAC" in anomalies[0].detail
    assert [e.data for e in out if isinstance(e, AppData)] == [b"still read"]
    assert not [e for e in out if isinstance(e, Decryption)]  # the status did not change
    assert tls.status == "not-encrypted" and "key material" not in tls.detail


TLS13_CAPTURES = [n for n in NAMES if "tls13" in n or n.endswith("-h2") or "tlslite" in n]


@pytest.mark.parametrize("name", TLS13_CAPTURES)
def test_tls13_application_data_decrypts_with_only_the_application_secrets(name, tmp_path):
    # Some key logs hold only CLIENT_/SERVER_TRAFFIC_SECRET_0 (filtered, or written by tools that export no
    # handshake secrets): the application data must still decrypt, the same bytes as with the full log.
    full = REAL / f"{name}.keys"
    stripped = tmp_path / "app-only.keys"
    stripped.write_text("".join(line for line in full.read_text().splitlines(keepends=True)
                                if "HANDSHAKE_TRAFFIC_SECRET" not in line))
    want = {s["id"]: s for s in analyze([REAL / f"{name}.pcap"], keylogs=[full])}
    got = {s["id"]: s for s in analyze([REAL / f"{name}.pcap"], keylogs=[stripped])}
    checked = 0
    for sid, s in got.items():
        if want[sid]["version"] != "TLS 1.3" or not want[sid].get("app_data"):
            continue  # (a session with nothing after its handshake has nothing these secrets decrypt)
        assert s["decryption"]["status"] == "decrypted", (sid, s["decryption"])
        assert "application data only" in s["decryption"]["detail"]
        assert s["app_data"] == want[sid]["app_data"], sid  # 0-RTT data included: it has its own secret
        assert "EncryptedHandshakeMessage" in [m["type"] for m in s["messages"]]
        checked += 1
    assert checked


def test_a_wrong_application_secret_fails_instead_of_passing_for_handshake(tmp_path):
    lines = [line for line in (REAL / "openssl-tls13.keys").read_text().splitlines() if "HANDSHAKE" not in line]
    bad = []
    for line in lines:
        if line.startswith("SERVER_TRAFFIC_SECRET_0"):
            label, random, secret = line.split()
            line = f"{label} {random} {'0' if secret[0] != '0' else '1'}{secret[1:]}"
        bad.append(line)
    keys = tmp_path / "bad.keys"
    keys.write_text("\n".join(bad) + "\n")
    [s] = analyze([REAL / "openssl-tls13.pcap"], keylogs=[keys])
    assert s["decryption"]["status"] == "failed"
    assert "application traffic secret" in s["decryption"]["detail"]


def test_post_handshake_authentication():
    # openssl-tls13-pha (make_pha_capture.py): the server asks for the client's certificate twice after the
    # handshake; each time the client answers with Certificate, CertificateVerify and Finished under its
    # application keys, which do not change. Every line both peers wrote decrypts, and all four Finished verify.
    [s] = ours("openssl-tls13-pha", "keylog")
    client = b"".join(b"hello before round %d\n" % r + b"certificate sent (round %d)\n" % r for r in (1, 2))
    server = b"".join(b"certificate please (round %d)\n" % r + b"thank you, round %d done\n" % r for r in (1, 2))
    assert s["app_data"]["client"] == {"bytes": len(client), "sha256": hashlib.sha256(client).hexdigest()}
    assert s["app_data"]["server"] == {"bytes": len(server), "sha256": hashlib.sha256(server).hexdigest()}
    assert s["decryption"] == {"status": "decrypted", "detail": ""}
    types = [(m["from"], m["type"]) for m in s["messages"]]
    after = types[types.index(("client", "Finished")) + 1:]
    assert after.count(("server", "CertificateRequest")) == 2
    assert after.count(("client", "Certificate")) == after.count(("client", "Finished")) == 2
