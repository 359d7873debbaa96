"""SSL 3.0 / TLS 1.0-1.2 key derivation against published vectors, the Wireshark corpus and OpenSSL itself."""
from __future__ import annotations

import datetime
import ssl
import struct
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from dissector.tls import prf
from dissector.tls.protection import make_protection

h = bytes.fromhex
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "wireshark"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/wireshark")


# --- PRF vectors ------------------------------------------------------------------------------------------

def test_tls12_prf_sha256_ietf_vector():
    # TLS 1.2 PRF test vector posted to the IETF TLS WG list (P_SHA256), 100 bytes.
    out = prf.tls12_prf("sha256", h("9bbe436ba940f017b17652849a71db35"), b"test label",
                        h("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out == h(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
        "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66")


def test_tls12_prf_sha384_ietf_vector():
    # The P_SHA384 companion vector from the same set, 148 bytes.
    out = prf.tls12_prf("sha384", h("b80b733d6ceefcdc71566ea48e5567df"), "test label",
                        h("cd665cf6a8447dd6ff8b27555edb7465"), 148)
    assert out == h(
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
        "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
        "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
        "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
        "91c8f3a26854308d5eaa3be85e0990703d73e56f")


def test_tls10_prf_vector():
    # TLS 1.0 PRF test vector from the ietf-tls mailing list (imc.org msg01589): secret 48 x 0xab,
    # label "PRF Testvector", seed 64 x 0xcd, 104 bytes.
    out = prf.tls10_prf(b"\xab" * 48, b"PRF Testvector", b"\xcd" * 64, 104)
    assert out == h(
        "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754"
        "443bcf9a296519bc289abcbc1187e4ebd31e602353776c408aafb74cbc85eff6"
        "9255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f"
        "1afbc655a8c9a013")


def test_tls10_master_secret_and_key_block_nist_cavs():
    # NIST CAVS TLS 1.0/1.1 KDF vectors as used by OpenSSL (test/recipes/30-test_evp_data/evpkdf_tls11_prf.txt).
    master = prf.master_secret(
        prf.TLS10, "sha256",
        h("bded7fa5c1699c010be23dd06ada3a48349f21e5f86263d512c0c5cc379f0e780ec55d9844b2f1db02a96453513568d0"),
        client_random=h("e5acaf549cd25c22d964c0d930fa4b5261d2507fad84c33715b7b9a864020693"),
        server_random=h("135e4d557fdf3aa6406d82975d5c606a9734c9334b42136e96990fbd5358cdb2"))
    assert master == h("2f6962dfbc744c4b2138bb6b3d33054c5ecc14f24851d9896395a44ab3964efc"
                       "2090c5bf51a0891209f46c1e1e998f62")
    block = prf.key_block(prf.TLS11, "sha256", master,
                          client_random=h("d58a7b1cd4fedaa232159df652ce188f9d997e061b9bf48e83b62990440931f6"),
                          server_random=h("67267e650eb32444119d222a368c191af3082888dc35afe8368e638c828874be"),
                          length=104)
    assert block == h(
        "3088825988e77fce68d19f756e18e43eb7fe672433504feaf99b3c503d9091b164f166db301d70c9fc0870b4a94563907bee1a61"
        "fb786cb717576890bcc51cb9ead97e01d0a2fea99c953377b195205ff07b369589178796edc963fd80fdbe518a2fc1c35c18ae8d")


def test_tls12_master_secret_and_key_block_nist_cavs():
    # NIST CAVS TLS 1.2 (SHA-256) KDF vectors as used by OpenSSL (evpkdf_tls12_prf.txt); DTLS 1.2 is the same.
    master = prf.master_secret(
        prf.TLS12, "sha256",
        h("f8938ecc9edebc5030c0c6a441e213cd24e6f770a50dda07876f8d55da062bcadb386b411fd4fe4313a604fce6c17fbc"),
        h("36c129d01a3200894b9179faac589d9835d58775f9b5ea3587cb8fd0364cae8c"),
        h("f6c9575ed7ddd73e1f7d16eca115415812a43c2b747daaaae043abfb50053fce"))
    assert master == h("202c88c00f84a17a20027079604787461176455539e705be730890602c289a50"
                       "01e34eeb3a043e5d52a65e66125188bf")
    block = prf.key_block(prf.DTLS12, "sha256", master,
                          h("62e1fd91f23f558a605f28478c58cf72637b89784d959df7e946d3f07bd1b616"),
                          h("ae6c806f8ad4d80784549dff28a4b58fd837681a51d928c3e30ee5ff14f39868"), 128)
    assert block == h(
        "d06139889fffac1e3a71865f504aa5d0d2a2e89506c6f2279b670c3e1b74f531016a2530c51a3a0f7e1d6590d0f0566b"
        "2f387f8d11fd4f731cdd572d2eae927f6f2f81410b25e6960be68985add6c38445ad9f8c64bf8068bf9a6679485d966f"
        "1ad6f68b43495b10a683755ea2b858d70ccac7ec8b053c6bd41ca299d4e51928")


def test_tls12_prf_odd_length_secret_openssl_vector():
    # OpenSSL evpkdf_tls12_prf.txt: an 11-byte secret with the "extended master secret" label.
    out = prf.tls12_prf("sha256", h("0102030405060708090a0b"), "extended master secret",
                        h("36c129d01a3200894b9179faac589d9835d58775f9b5ea3587cb8fd0364cae8c"
                          "f6c9575ed7ddd73e1f7d16eca115415812a43c2b747daaaae043abfb50053fce"), 48)
    assert out == h("8cb203c99a13871fd96cecd2770720df3c4ebd49e1cbc956fddb400f9c051fb6"
                    "9b63d7abb2f996f4e4d1ac0e9153f51b")


def test_versions():
    for v in (prf.TLS10, prf.TLS11, prf.DTLS10, prf.DTLS10_OPENSSL):
        assert prf.prf(v, "sha384", b"k", b"l", b"s", 20) == prf.tls10_prf(b"k", b"l", b"s", 20)
    for v in (prf.TLS12, prf.DTLS12):
        assert prf.prf(v, "sha384", b"k", b"l", b"s", 20) == prf.tls12_prf("sha384", b"k", b"l", b"s", 20)
    with pytest.raises(ValueError):
        prf.master_secret(prf.TLS13, "sha256", b"x" * 48, bytes(32), bytes(32))
    with pytest.raises(ValueError):
        prf.master_secret(prf.SSL3, "sha256", b"x" * 48, bytes(32), bytes(32), session_hash=bytes(36))


def test_ssl3_prf_construction():
    # RFC 6101 6.2.2: MD5(secret + SHA1("A" + secret + seed)) + MD5(secret + SHA1("BB" + secret + seed)) + ...
    import hashlib
    secret, seed = bytes(range(48)), bytes(range(100, 164))
    want = b"".join(hashlib.md5(secret + hashlib.sha1(bytes([65 + i]) * (i + 1) + secret + seed).digest()).digest()
                    for i in range(4))
    assert prf.ssl3_prf(secret, seed, 60) == want[:60]


# --- key block layout -------------------------------------------------------------------------------------

def suite(cipher, mode, key_len, iv_len, mac, mac_len, tag_len=0, prf_hash="sha256"):
    return NS(cipher=cipher, mode=mode, key_len=key_len, iv_len=iv_len, block_size=iv_len if mode == "cbc" else 0,
              tag_len=tag_len, mac=mac, mac_len=mac_len, prf_hash=prf_hash, export=False)


KEY_BLOCK_LENGTHS = [
    # RFC 5246 appendix C / RFC 5288 / RFC 6655 / RFC 7905 sizes: 2 x (MAC key + key + IV)
    (suite("AES-128-CBC", "cbc", 16, 16, "SHA1", 20), 104),                 # TLS_RSA_WITH_AES_128_CBC_SHA
    (suite("AES-256-CBC", "cbc", 32, 16, "SHA256", 32), 160),               # TLS_RSA_WITH_AES_256_CBC_SHA256
    (suite("3DES-EDE-CBC", "cbc", 24, 8, "SHA1", 20), 104),                 # TLS_RSA_WITH_3DES_EDE_CBC_SHA
    (suite("RC4-128", "stream", 16, 0, "MD5", 16), 64),                     # TLS_RSA_WITH_RC4_128_MD5
    (suite("NULL", "null", 0, 0, "SHA1", 20), 40),                          # TLS_RSA_WITH_NULL_SHA
    (suite("AES-128-GCM", "aead", 16, 4, None, 0, 16), 40),                 # TLS_RSA_WITH_AES_128_GCM_SHA256
    (suite("AES-256-GCM", "aead", 32, 4, None, 0, 16, "sha384"), 72),       # TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    (suite("AES-128-CCM-8", "aead", 16, 4, None, 0, 8), 40),                # TLS_PSK_WITH_AES_128_CCM_8
    (suite("CHACHA20-POLY1305", "aead", 32, 12, None, 0, 16), 88),          # TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305
]


@pytest.mark.parametrize("s,length", KEY_BLOCK_LENGTHS, ids=[s.cipher for s, _ in KEY_BLOCK_LENGTHS])
def test_key_block_length_and_split(s, length):
    for version in (prf.SSL3, prf.TLS10, prf.TLS12, prf.DTLS10):
        assert prf.key_block_length(version, s) == length
    block = bytes(range(length))
    km = prf.split_key_block(s, block)
    parts = [km.client_mac_key, km.server_mac_key, km.client_key, km.server_key, km.client_iv, km.server_iv]
    assert b"".join(parts) == block
    mac_len = 0 if s.mode == "aead" else s.mac_len
    iv_len = s.iv_len if s.mode in ("cbc", "aead") else 0
    assert [len(p) for p in parts] == [mac_len, mac_len, s.key_len, s.key_len, iv_len, iv_len]
    with pytest.raises(ValueError):
        prf.split_key_block(s, block[:-1])


def test_export_suite_key_block_and_final_keys():
    import hashlib
    # TLS_RSA_EXPORT_WITH_RC4_40_MD5: 5 secret key bytes per side in the key block, expanded to 16
    rc4_40 = NS(cipher="RC4-40", mode="stream", key_len=16, iv_len=0, mac="MD5", mac_len=16, export=True,
                export_key_len=5)
    assert prf.key_block_length(prf.SSL3, rc4_40) == 2 * (16 + 5)
    block = bytes(range(42))
    km = prf.split_key_block(rc4_40, block)
    assert km.client_key == block[32:37] and km.server_key == block[37:42]
    cr, sr = b"c" * 32, b"s" * 32
    final = prf.export_key_material(prf.SSL3, km, cr, sr, 16, 0)  # RFC 6101 6.2.2
    assert final.client_key == hashlib.md5(km.client_key + cr + sr).digest()
    assert final.server_key == hashlib.md5(km.server_key + sr + cr).digest()
    final = prf.export_key_material(prf.TLS10, km, cr, sr, 16, 0)  # RFC 2246 6.3
    assert final.client_key == prf.tls10_prf(km.client_key, b"client write key", cr + sr, 16)
    assert final.client_mac_key == km.client_mac_key
    with pytest.raises(ValueError):
        prf.export_key_material(prf.TLS11, km, cr, sr, 16, 0)


def test_psk_premaster_rfc4279():
    psk = h("ca19e028a8a372ad2d325f950fcaceed")
    assert prf.psk_premaster(psk) == b"\x00\x10" + bytes(16) + b"\x00\x10" + psk
    other = bytes(range(48))
    assert prf.psk_premaster(psk, other) == b"\x00\x30" + other + b"\x00\x10" + psk


def test_session_hash():
    import hashlib
    msgs = b"handshake messages"
    assert prf.session_hash(prf.TLS10, "sha256", msgs) == hashlib.md5(msgs).digest() + hashlib.sha1(msgs).digest()
    assert prf.session_hash(prf.TLS12, "sha384", msgs) == hashlib.sha384(msgs).digest()


# --- real handshakes: DTLS 1.2 PSK (corpus, as hex), SSL 3.0 (corpus pcap), OpenSSL (live, EMS) ------------

# dtls12-aes128ccm8.pcap (Wireshark test suite): DTLS 1.2, TLS_PSK_WITH_AES_128_CCM_8, PSK below.
DTLS_PSK = h("ca19e028a8a372ad2d325f950fcaceed")
DTLS_CH = h("0100004a000100000000004afefd588e5f9dc778cef22405f42f9bea25928bd0312ce14d642d034d24f4fab672fc0010"
            "113a3f65af4602091fc0afee6e919ba20002c0a80100000e000500050100000000ff01000100")
DTLS_SH = h("0200004d000100000000004dfefd588e5f36a2c95dca786113f723f3701be3cc12c043ea812558987da545ed726a20a1"
            "7a78670883e4f524a2701f2f87c0aad7f1f425099822d0bd7416b5261397ddc0a8000005ff01000100")
DTLS_SHD = h("0e0000000002000000000000")
DTLS_CKE = h("100000060002000000000006000474657374")  # PSK identity "test"
DTLS_CLIENT_FINISHED = h("00010000000000006540080120371f2ea6aa2bc268161620c792f47021205e56a0b64f34ee4b27b0")
DTLS_SERVER_FINISHED = h("00010000000000004dd9e249e86b60a5811b9f002123eb0ec23b260587d25b07fae6691f2a99e28d")
CCM8 = suite("AES-128-CCM-8", "aead", 16, 4, None, 0, 8)


def test_dtls12_psk_ccm8_handshake_from_corpus():
    cr, sr = DTLS_CH[14:46], DTLS_SH[14:46]
    master = prf.master_secret(prf.DTLS12, "sha256", prf.psk_premaster(DTLS_PSK), cr, sr)
    km = prf.split_key_block(CCM8, prf.key_block(prf.DTLS12, "sha256", master, cr, sr,
                                                 prf.key_block_length(prf.DTLS12, CCM8)))
    transcript = DTLS_CH + DTLS_SH + DTLS_SHD + DTLS_CKE
    client = make_protection(prf.DTLS12, CCM8, km.client_key, km.client_iv, None)
    ctype, fin = client.decrypt(1 << 48, 22, 0xFEFD, DTLS_CLIENT_FINISHED)
    assert ctype == 22 and fin[:1] == b"\x14"
    assert fin[12:] == prf.finished_verify_data(prf.DTLS12, "sha256", master, True, transcript)
    server = make_protection(prf.DTLS12, CCM8, km.server_key, km.server_iv, None)
    _, sfin = server.decrypt(1 << 48, 22, 0xFEFD, DTLS_SERVER_FINISHED)
    assert sfin[12:] == prf.finished_verify_data(prf.DTLS12, "sha256", master, False, transcript + fin)


def _tcp_streams(path: Path) -> tuple[bytes, bytes]:
    """(client bytes, server bytes) of the first TCP connection of a clean capture (no loss)."""
    dpkt = pytest.importorskip("dpkt")
    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert reader.datalink() == 1
        segments: dict[bool, dict[int, bytes]] = {True: {}, False: {}}
        client = None
        for _ts, frame in reader:
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = ip.data
            if client is None and tcp.flags & dpkt.tcp.TH_SYN:
                client = (bytes(ip.src), tcp.sport)
            if client is not None and tcp.data:
                if (bytes(ip.src), tcp.sport) == client:
                    segments[True].setdefault(tcp.seq, bytes(tcp.data))
                elif (bytes(ip.dst), tcp.dport) == client:
                    segments[False].setdefault(tcp.seq, bytes(tcp.data))
    streams = []
    for side in (True, False):
        segs = segments[side]
        # first connection only: follow the sequence numbers from the lowest one while they are contiguous
        seq = min(segs)
        out = bytearray()
        while seq in segs:
            out += segs[seq]
            seq += len(segs[seq])
        streams.append(bytes(out))
    return streams[0], streams[1]


def _records(data: bytes, pos: int = 0):
    while pos + 5 <= len(data):
        ctype, version, length = struct.unpack_from("!BHH", data, pos)
        yield ctype, version, data[pos + 5:pos + 5 + length]
        pos += 5 + length


def _messages(data: bytes):
    pos = 0
    while pos + 4 <= len(data):
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        yield data[pos], data[pos:pos + 4 + length]
        pos += 4 + length


@pytest.mark.skipif(not (CORPUS / "captures" / "rsasnakeoil2.pcap").exists(), reason="Wireshark corpus absent")
def test_ssl3_handshake_rsasnakeoil2():
    """SSL 3.0 RSA handshake (SSLv2-format ClientHello): master secret, key block, SSL 3.0 MAC and CBC
    decrypt the Finished messages, and both Finished values match."""
    from dissector.tls.rsa_kx import decrypt_premaster, load_private_key

    key = load_private_key(str(CORPUS / "keys" / "rsasnakeoil2.key"))
    cs, ss = _tcp_streams(CORPUS / "captures" / "rsasnakeoil2.pcap")
    v2_len = ((cs[0] & 0x7F) << 8) | cs[1]
    v2 = cs[2:2 + v2_len]  # SSLv2 CLIENT-HELLO: the handshake hash covers it without its 2-byte header
    specs, sid, chal = struct.unpack("!HHH", v2[3:9])
    challenge = v2[9 + specs + sid:9 + specs + sid + chal]
    client_random = bytes(32 - len(challenge)) + challenge
    server_records = list(_records(ss))
    server_msgs = list(_messages(b"".join(b for t, _v, b in server_records[:3] if t == 22)))
    assert [t for t, _m in server_msgs] == [2, 11, 14]
    server_hello = server_msgs[0][1]
    version = int.from_bytes(server_hello[4:6], "big")
    assert version == prf.SSL3
    server_random = server_hello[6:38]
    client_records = list(_records(cs, 2 + v2_len))
    cke = client_records[0][2]
    assert cke[0] == 16 and client_records[1][0] == 20
    pms = decrypt_premaster(key, cke[4:], int.from_bytes(v2[1:3], "big"))
    assert pms is not None

    s = suite("AES-256-CBC", "cbc", 32, 16, "SHA1", 20)
    master = prf.master_secret(version, "", pms, client_random, server_random)
    km = prf.split_key_block(s, prf.key_block(version, "", master, client_random, server_random,
                                              prf.key_block_length(version, s)))
    transcript = v2 + b"".join(m for _t, m in server_msgs) + cke
    client = make_protection(version, s, km.client_key, km.client_iv, km.client_mac_key)
    ctype, fin = client.decrypt(0, 22, version, client_records[2][2])
    assert ctype == 22 and fin[:4] == b"\x14\x00\x00\x24"
    assert fin[4:] == prf.finished_verify_data(version, "", master, True, transcript)
    ccs = next(i for i, r in enumerate(server_records) if r[0] == 20)
    server = make_protection(version, s, km.server_key, km.server_iv, km.server_mac_key)
    _, sfin = server.decrypt(0, 22, version, server_records[ccs + 1][2])
    assert sfin[4:] == prf.finished_verify_data(version, "", master, False, transcript + fin)
    # the chained CBC state carries on into the application data
    ctype, request = client.decrypt(1, 23, version, client_records[3][2])
    assert ctype == 23 and request.startswith(b"GET / HTTP/1.1\r\n")


# --- OpenSSL (stdlib ssl over memory BIOs): extended master secret, encrypt-then-MAC --------------------

def _self_signed(tmp_path: Path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dissector.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return key, cert_path, key_path


def _handshake(tmp_path: Path, version: ssl.TLSVersion, ciphers: str):
    key, cert_path, key_path = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.keylog_filename = str(tmp_path / "keys.log")
    for ctx in (server_ctx, client_ctx):
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_ciphers(ciphers)
    bios = [ssl.MemoryBIO() for _ in range(4)]
    client = client_ctx.wrap_bio(bios[0], bios[1], server_side=False)
    server = server_ctx.wrap_bio(bios[2], bios[3], server_side=True)
    wire = {True: bytearray(), False: bytearray()}
    done = {True: False, False: False}
    for _ in range(20):
        for is_client, obj, out_bio, peer_in in ((True, client, bios[1], bios[2]), (False, server, bios[3], bios[0])):
            if not done[is_client]:
                try:
                    obj.do_handshake()
                    done[is_client] = True
                except ssl.SSLWantReadError:
                    pass
            data = out_bio.read()
            wire[is_client] += data
            peer_in.write(data)
        if all(done.values()):
            break
    assert all(done.values())
    return key, bytes(wire[True]), bytes(wire[False]), (tmp_path / "keys.log").read_text()


def _extensions(hello: bytes, server: bool) -> set[int]:
    pos = 4 + 2 + 32
    pos += 1 + hello[pos]
    if server:
        pos += 3
    else:
        pos += 2 + int.from_bytes(hello[pos:pos + 2], "big")
        pos += 1 + hello[pos]
    end = pos + 2 + int.from_bytes(hello[pos:pos + 2], "big")
    pos += 2
    found = set()
    while pos < end:
        found.add(int.from_bytes(hello[pos:pos + 2], "big"))
        pos += 4 + int.from_bytes(hello[pos + 2:pos + 4], "big")
    return found


OPENSSL_CASES = [
    # (TLS version, OpenSSL cipher string, suite, wire version)
    ("TLSv1", "AES128-SHA:@SECLEVEL=0", suite("AES-128-CBC", "cbc", 16, 16, "SHA1", 20), prf.TLS10),
    ("TLSv1_2", "AES128-SHA256:@SECLEVEL=0", suite("AES-128-CBC", "cbc", 16, 16, "SHA256", 32), prf.TLS12),
    ("TLSv1_2", "AES256-GCM-SHA384", suite("AES-256-GCM", "aead", 32, 4, None, 0, 16, "sha384"), prf.TLS12),
]


@pytest.mark.parametrize("tls_version,ciphers,s,wire_version", OPENSSL_CASES,
                         ids=[c[1].split(":")[0] + "-" + c[0] for c in OPENSSL_CASES])
def test_openssl_extended_master_secret_and_encrypt_then_mac(tmp_path, tls_version, ciphers, s, wire_version):
    """OpenSSL negotiates RFC 7627 extended master secret (and RFC 7366 encrypt-then-MAC for CBC): the
    master secret we derive from the RSA pre-master equals the one OpenSSL logs, and our decryptors
    open both Finished messages."""
    from dissector.tls.keylog import KeyLog
    from dissector.tls.rsa_kx import decrypt_premaster

    try:
        key, cwire, swire, log = _handshake(tmp_path, getattr(ssl.TLSVersion, tls_version), ciphers)
    except ssl.SSLError as exc:  # a build without the old protocol
        pytest.skip(f"OpenSSL refused {tls_version} {ciphers}: {exc}")
    crecords, srecords = list(_records(cwire)), list(_records(swire))
    ccs_c = next(i for i, r in enumerate(crecords) if r[0] == 20)
    ccs_s = next(i for i, r in enumerate(srecords) if r[0] == 20)
    smsgs = list(_messages(b"".join(b for t, _v, b in srecords[:ccs_s] if t == 22)))
    cmsgs = list(_messages(b"".join(b for t, _v, b in crecords[:ccs_c] if t == 22)))
    client_hello, server_hello = cmsgs[0][1], smsgs[0][1]
    version = int.from_bytes(server_hello[4:6], "big")
    assert version == wire_version
    exts = _extensions(server_hello, server=True)
    assert 0x0017 in exts  # extended_master_secret
    etm = 0x0016 in exts
    assert etm == (s.mode == "cbc")
    cke = next(m for t, m in cmsgs if t == 16)
    # the server's first flight ends with ServerHelloDone; a NewSessionTicket may follow before its CCS
    shd = next(i for i, (t, _m) in enumerate(smsgs) if t == 14)
    first_flight = b"".join(m for _t, m in smsgs[:shd + 1])
    second_flight = b"".join(m for _t, m in smsgs[shd + 1:])
    transcript = client_hello + first_flight + cke
    pms = decrypt_premaster(key, cke[4:], int.from_bytes(client_hello[4:6], "big"))
    assert pms is not None
    cr, sr = client_hello[6:38], server_hello[6:38]
    master = prf.master_secret(version, s.prf_hash, pms, cr, sr,
                               session_hash=prf.session_hash(version, s.prf_hash, transcript))
    keylog = KeyLog()
    keylog.add_text(log, "openssl")
    assert master == keylog.get("CLIENT_RANDOM", cr)
    assert master != prf.master_secret(version, s.prf_hash, pms, cr, sr)

    km = prf.split_key_block(s, prf.key_block(version, s.prf_hash, master, cr, sr, prf.key_block_length(version, s)))
    client = make_protection(version, s, km.client_key, km.client_iv, km.client_mac_key, encrypt_then_mac=etm)
    _, fin = client.decrypt(0, 22, crecords[ccs_c + 1][1], crecords[ccs_c + 1][2])
    assert fin[4:] == prf.finished_verify_data(version, s.prf_hash, master, True, transcript)
    server = make_protection(version, s, km.server_key, km.server_iv, km.server_mac_key, encrypt_then_mac=etm)
    _, sfin = server.decrypt(0, 22, srecords[ccs_s + 1][1], srecords[ccs_s + 1][2])
    assert sfin[4:] == prf.finished_verify_data(version, s.prf_hash, master, False,
                                                transcript + fin + second_flight)
