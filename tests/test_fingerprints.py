"""tls/fingerprints.py: JA3, JA3S and JA4 against the published example values of their specifications,
against tshark's ja3/ja3s on every sample and corpus capture, and on hellos split across records and TCP
segments (the fingerprint is that of the whole, reassembled message)."""
from __future__ import annotations

import hashlib
import ipaddress
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissector.tls.fingerprints import ja3, ja3s, ja4, ja4_raw, session_fingerprints
from tests.conftest import CORPUS, SAMPLES, analyze, corpus_key_args, corpus_manifest

# --- published example values -------------------------------------------------------------------------------
# JA4: FoxIO-LLC/ja4, technical_details/JA4.md (BSD 3-Clause part of JA4+), sections "Cipher hash",
# "Extension hash", "Example" and "Raw Output". (The banner line of that page shows
# t13d1516h2_8daaf6152771_b186095e22b6, an older value that the worked example below it does not produce;
# the worked example, the Rust reference's unit test and s2n-tls's compliance tests all give e5627efa2ab1.)
SPEC_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C,
                0x009D, 0x002F, 0x0035]
SPEC_EXTENSIONS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023, 0x0012, 0x002B,
                   0xFF01, 0x000B, 0x000A, 0x0015]
SPEC_SIG_ALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
JA4_SPEC = "t13d1516h2_8daaf6152771_e5627efa2ab1"
JA4_R_SPEC = ("t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,"
              "000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601")
JA4_C_SHA256_SPEC = "e5627efa2ab19723084c1033a96c694a45826ab5a460d2d3fd5ffcfe97161c95"
JA4_C_NO_SIGALGS_SPEC = "6d807ffa2a79"  # "If there are no signature algorithms in the hello packet"
# JA3: salesforce/ja3 README.md, "How it works"
JA3_SPEC = ("769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0", "ada70206e40642a3e4461f35503241d5")
JA3_SPEC_NO_EXT = ("769,4-5-10-9-100-98-3-6-19-18-99,,,", "de350869b8c85de67a350c8d186f11e6")
# JA3S: salesforce/ja3 README.md gives the field order (SSLVersion,Cipher,SSLExtension) but no input/hash pair;
# this pair is that order applied to a TLS 1.0 ServerHello, the hash computed with md5sum.
JA3S_EXAMPLE = ("769,47,65281-0-11-35-5-16", "836ce314215654b5b1f85f97c73e506f")

GREASE = [0x0A0A, 0x1A1A, 0x2A2A, 0x3A3A, 0xFAFA]


def ext(etype: int, data: bytes = b"") -> bytes:
    return struct.pack(">HH", etype, len(data)) + data


def u16s(values, length_bytes: int = 2) -> bytes:
    data = b"".join(struct.pack(">H", v) for v in values)
    return (struct.pack(">H", len(data)) if length_bytes == 2 else bytes([len(data)])) + data


def sni(name: str) -> bytes:
    n = name.encode()
    return ext(0, struct.pack(">HBH", len(n) + 3, 0, len(n)) + n)


def alpn(*protocols: bytes) -> bytes:
    body = b"".join(bytes([len(p)]) + p for p in protocols)
    return ext(16, struct.pack(">H", len(body)) + body)


def client_hello(version: int, ciphers, extensions=None, session_id: bytes = b"") -> bytes:
    body = struct.pack(">H", version) + bytes(range(32)) + bytes([len(session_id)]) + session_id
    body += u16s(ciphers) + b"\x01\x00"
    if extensions is not None:
        e = b"".join(extensions)
        body += struct.pack(">H", len(e)) + e
    return body


def server_hello(version: int, suite: int, ext_types=None) -> bytes:
    body = struct.pack(">H", version) + bytes(32) + b"\x00" + struct.pack(">HB", suite, 0)
    if ext_types is not None:
        e = b"".join(ext(t) for t in ext_types)
        body += struct.pack(">H", len(e)) + e
    return body


def spec_hello(sig_algs=SPEC_SIG_ALGS, grease: bool = True) -> bytes:
    """The JA4 spec's example ClientHello, with GREASE where Chrome puts it (JA4 must ignore all of it)."""
    exts = [ext(GREASE[0])] if grease else []
    for t in SPEC_EXTENSIONS:
        if t == 0:
            exts.append(sni("example.com"))
        elif t == 0x10:
            exts.append(alpn(b"h2", b"http/1.1"))
        elif t == 0x0D:
            exts.append(ext(13, u16s(([GREASE[1]] if grease else []) + list(sig_algs))))
        elif t == 0x2B:
            exts.append(ext(43, u16s(([GREASE[2]] if grease else []) + [0x0304, 0x0303], 1)))
        elif t == 0x0A:
            exts.append(ext(10, u16s(([GREASE[3]] if grease else []) + [0x001D, 0x0017, 0x0018])))
        else:
            exts.append(ext(t))
    if grease:
        exts.append(ext(GREASE[4], b"\x00"))
    return client_hello(0x0303, ([GREASE[0]] if grease else []) + SPEC_CIPHERS, exts, session_id=bytes(32))


# --- JA4 ----------------------------------------------------------------------------------------------------

def test_ja4_spec_example():
    assert ja4(spec_hello()) == JA4_SPEC
    assert ja4_raw(spec_hello()) == JA4_R_SPEC
    assert ja4(spec_hello(grease=False)) == JA4_SPEC  # GREASE changes nothing
    c = JA4_R_SPEC.split("_", 2)[2]
    assert hashlib.sha256(c.encode()).hexdigest() == JA4_C_SHA256_SPEC


def test_ja4_without_signature_algorithms():
    # the signature_algorithms extension is still listed; with no algorithms in it the string ends without "_"
    assert ja4(spec_hello(sig_algs=())).split("_")[2] == JA4_C_NO_SIGALGS_SPEC


@pytest.mark.parametrize("first_alpn,expected", [
    (b"h2", "h2"), (b"http/1.1", "h1"),  # the spec's examples
    (b"\xab", "ab"), (b"\xab\xcd", "ad"), (b"\x30\xab", "3b"), (b"\x30\x31\xab\xcd", "3d"),
    (b"\x30\xab\xcd\x31", "01"),  # the spec's non-alphanumeric examples
    (b"h", "hh"),  # a single character is both first and last
    (b"", "00"), (None, "00"),
])
def test_ja4_alpn_characters(first_alpn, expected):
    exts = [sni("a.example")] + ([alpn(first_alpn, b"h2")] if first_alpn is not None else [])
    assert ja4(client_hello(0x0303, [0x1301], exts))[8:10] == expected


@pytest.mark.parametrize("versions,legacy,expected", [
    ([0x0304, 0x0303], 0x0303, "13"), ([GREASE[0], 0x0303, 0x0302], 0x0303, "12"), (None, 0x0303, "12"),
    (None, 0x0302, "11"), (None, 0x0301, "10"), (None, 0x0300, "s3"), (None, 0x0200, "s2"), (None, 0x1234, "00"),
    ([0x7F17], 0x0303, "00"),  # a TLS 1.3 draft is not in the spec's table
])
def test_ja4_version(versions, legacy, expected):
    exts = [ext(43, u16s(versions, 1))] if versions is not None else []
    assert ja4(client_hello(legacy, [0x002F], exts))[1:3] == expected


def test_ja4_sni_counts_and_empty_lists():
    assert ja4(client_hello(0x0303, [0x002F], [sni("x.example")]))[3] == "d"
    assert ja4(client_hello(0x0303, [0x002F], [ext(5)]))[3] == "i"
    many = client_hello(0x0303, list(range(1, 120)), [ext(t) for t in range(100, 230)])
    assert ja4(many)[4:8] == "9999"  # counts stop at 99
    # SNI and ALPN count as extensions but are left out of the hash; nothing left: twelve zeros
    only = ja4(client_hello(0x0303, [], [sni("x.example"), alpn(b"h2")]))
    assert only == "t12d0002h2_000000000000_000000000000"


def test_ja4_ignores_grease_in_signature_algorithms():
    # "ignore GREASE values anywhere it sees them" (JA4.md; FoxIO-LLC/ja4 issue 305 for the sigalgs)
    base = client_hello(0x0303, [0x002F], [ext(13, u16s([0x0403, 0x0804]))])
    greased = client_hello(0x0303, [0x002F], [ext(13, u16s([0x8A8A, 0x0403, 0x0804]))])
    assert ja4(base) == ja4(greased)


def test_cache_key_ignores_what_changes_per_connection():
    from dissector.tls import fingerprints as fp

    def hello(random: bytes, session_id: bytes, name: str, share: bytes, ciphers=SPEC_CIPHERS) -> bytes:
        exts = [sni(name), ext(51, struct.pack(">HHH", len(share) + 4, 29, len(share)) + share),
                ext(43, u16s([0x0304, 0x0303], 1)), ext(13, u16s(SPEC_SIG_ALGS)), alpn(b"h2")]
        body = client_hello(0x0303, ciphers, exts, session_id=session_id)
        return body[:2] + random + body[34:]

    a = hello(b"\x01" * 32, b"\x02" * 32, "a.example", b"\x03" * 32)
    b = hello(b"\x04" * 32, b"", "another.example.org", b"\x05" * 32)
    assert fp.client_hello_key(a) == fp.client_hello_key(b)
    fp._CLIENT_CACHE.clear()
    cold = session_fingerprints(a, None)
    assert session_fingerprints(b, None) == cold == session_fingerprints(a, None)  # the second and third: cached
    reordered = hello(b"\x01" * 32, b"", "a.example", b"\x03" * 32, ciphers=list(reversed(SPEC_CIPHERS)))
    other = session_fingerprints(reordered, None)
    assert other["ja3"] != cold["ja3"] and other["ja4"] == cold["ja4"]  # JA4 sorts, JA3 keeps the wire order


# --- JA3 / JA3S ---------------------------------------------------------------------------------------------

def test_ja3_spec_examples():
    hello = client_hello(769, [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
                         [sni("example.com"), ext(10, u16s([23, 24, 25])), ext(11, b"\x01\x00")])
    assert ja3(hello) == JA3_SPEC
    assert ja3(client_hello(769, [4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99])) == JA3_SPEC_NO_EXT


def test_ja3_removes_grease_everywhere():
    hello = client_hello(771, [0x2A2A, 4865], [ext(0x0A0A), ext(10, u16s([0x3A3A, 29])), ext(11, b"\x01\x00"),
                                               ext(0xFAFA, b"\x00")])
    assert ja3(hello)[0] == "771,4865,10-11,29,0"


def test_ja3s_format():
    assert ja3s(server_hello(769, 47, [65281, 0, 11, 35, 5, 16])) == JA3S_EXAMPLE
    assert ja3s(server_hello(768, 53))[0] == "768,53,"  # no extensions: the field stays empty, as tshark has it


def test_malformed_hellos_give_none():
    good = spec_hello()
    assert ja3(good[:40]) is None and ja4(good[:40]) is None and ja3s(b"\x03\x03") is None
    bad_length = good[:67] + b"\xff\xfe" + good[69:]  # a cipher_suites length past the end (32-byte session id)
    assert ja4(bad_length) is None
    fps = session_fingerprints(b"\x03", b"\x03")
    assert all(v is None for v in fps.values())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400))
def test_arbitrary_bytes_never_raise(data, cut):
    session_fingerprints(data, data)
    session_fingerprints(spec_hello()[:cut] + data, server_hello(0x0303, 0x1301, [43, 51])[:cut] + data)


# --- reassembly: a hello split over records and segments -------------------------------------------------

def _split_client_hello_records(data: bytes, parts: int) -> bytes:
    """The client's first flight with its ClientHello record cut into `parts` records."""
    assert data[0] == 22
    length = struct.unpack(">H", data[3:5])[0]
    msg, rest = data[5:5 + length], data[5 + length:]
    step = -(-len(msg) // parts)
    return b"".join(data[:3] + struct.pack(">H", len(msg[i:i + step])) + msg[i:i + step]
                    for i in range(0, len(msg), step)) + rest


def test_hello_split_over_records_and_segments(tmp_path):
    from dissector.capture.writer import PcapWriter
    from dissector.endpoint.pair import PairOptions, run_pair
    from dissector.endpoint.synth import synthesize

    result = run_pair(PairOptions(alpn=["h2", "http/1.1"], server_hostname="localhost"),
                      exchange=[("client", b"GET / HTTP/1.1\r\n\r\n")])
    chunks = list(result.chunks)
    first = next(i for i, c in enumerate(chunks) if c.sender == "client")
    hello_body = chunks[first].data[9:5 + struct.unpack(">H", chunks[first].data[3:5])[0]]
    expected = session_fingerprints(hello_body, None)
    assert expected["ja4"].startswith("t13d") and expected["ja4"][8:10] == "h2"

    split = list(chunks)
    split[first] = type(chunks[first])(chunks[first].time, "client", _split_client_hello_records(chunks[first].data, 4),
                                       chunks[first].phase)
    for name, chs, mss in (("whole", chunks, 1460), ("segments", chunks, 37), ("records+segments", split, 53)):
        path = tmp_path / f"{name}.pcap"
        with open(path, "wb") as f:
            w = PcapWriter(f)
            for ts, frame in synthesize(chs, mss=mss):
                w.write(ts, frame)
        (doc,) = analyze([path])
        for k in ("ja3", "ja3_hash", "ja4", "ja4_r"):
            assert doc["fingerprints"][k] == expected[k], (name, k)
        if shutil.which("tshark"):
            assert tshark_fingerprints(path)[(doc["client"], doc["server"])]["ja3"] == expected["ja3"], name


# --- tshark cross-check -------------------------------------------------------------------------------------

def _endpoint(ip: str, port: str) -> str:
    a = ipaddress.ip_address(ip)
    return f"[{a}]:{port}" if a.version == 6 else f"{a}:{port}"


def tshark_fingerprints(path) -> dict:
    """{(client, server): {"ja3": first ClientHello's ja3_full, "ja3s": first ServerHello's ja3s_full}}."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2", "-T", "fields",
         "-E", "occurrence=a", "-E", "aggregator=|", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
         "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "tls.handshake.ja3_full",
         "-e", "tls.handshake.ja3s_full"], capture_output=True, text=True, check=True, timeout=300).stdout
    found: dict = {}
    for line in out.splitlines():
        f = line.split("\t")
        src, dst = _endpoint(f[0] or f[1], f[2]), _endpoint(f[3] or f[4], f[5])
        if f[6]:
            found.setdefault((src, dst), {}).setdefault("ja3", f[6].split("|")[0])
        if f[7]:
            found.setdefault((dst, src), {}).setdefault("ja3s", f[7].split("|")[0])
    return found


MANIFEST = corpus_manifest()
CORPUS_TCP = [e for e in (MANIFEST or {}).get("captures", [])
              if not all(s.get("transport") == "udp" for s in e["sessions"])]
CAPTURES = [pytest.param(p, {}, id=p.name) for p in sorted(SAMPLES.glob("*.pcapng"))] + [
    pytest.param(CORPUS / e["file"], corpus_key_args(e.get("key_material") or {}), id="corpus-" + e["id"])
    for e in CORPUS_TCP]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("path,keys", CAPTURES)
def test_ja3_and_ja3s_agree_with_tshark(path, keys):
    sessions = analyze([path], **keys)
    theirs = tshark_fingerprints(path)
    assert sessions
    for doc in sessions:
        fp = doc["fingerprints"]
        t = theirs.get((doc["client"], doc["server"]), {})
        assert fp["ja3"] == t.get("ja3"), (doc["client"], doc["server"])
        assert fp["ja3s"] == t.get("ja3s"), (doc["client"], doc["server"])
        if fp["ja3"]:
            assert fp["ja3_hash"] == hashlib.md5(fp["ja3"].encode()).hexdigest()
