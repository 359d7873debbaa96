"""Encrypted Client Hello (RFC 9849): opening the inner ClientHello, and the server's acceptance signal.

An ECH-offering client sends a ClientHelloOuter whose encrypted_client_hello extension holds the real
ClientHello (the "inner" one: real server name, ALPN, random), sealed with HPKE (RFC 9180, base mode) to
the server's ECH key. It opens with either

* the server's ECH key: an ECHConfig PEM file (RFC 9934, what `openssl ech` writes: a PKCS#8 private key
  and the base64 ECHConfigList), loaded by `load_ech_keys`; or
* a key log's ECH_SECRET (the HPKE KEM shared secret) and ECH_CONFIG lines, keyed by the outer random
  (RFC 9850), which NSS, BoringSSL and wolfSSL write.

HPKE is put together here from `cryptography`'s primitives (X25519/X448/ECDH, HKDF, AES-GCM, ChaCha20-
Poly1305): its own HPKE API seals and opens without associated data, and ECH authenticates the whole
outer ClientHello as associated data. The server says it accepted ECH in the last 8 bytes of the
ServerHello random (or in the HelloRetryRequest's encrypted_client_hello extension), a value only the
inner ClientHello's random can produce (`accept_confirmation`).
"""
from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from dissector.buffer import Buffer
from dissector.errors import DecryptError, KeyMaterialError, MalformedInput
from dissector.tls import schedule13

ECH_EXTENSION = 0xFE0D  # encrypted_client_hello, and the ECHConfig version this module reads
OUTER_EXTENSIONS = 0xFD00  # ech_outer_extensions: extensions the inner ClientHello copies from the outer one

# DHKEM: kem id -> (curve, KDF hash, shared secret length) (RFC 9180 7.1)
KEMS: dict[int, tuple[str, str, int]] = {0x0010: ("P-256", "sha256", 32), 0x0011: ("P-384", "sha384", 48),
                                         0x0012: ("P-521", "sha512", 64), 0x0020: ("X25519", "sha256", 32),
                                         0x0021: ("X448", "sha512", 64)}
KDFS: dict[int, str] = {1: "sha256", 2: "sha384", 3: "sha512"}
AEADS: dict[int, tuple[Any, int]] = {1: (AESGCM, 16), 2: (AESGCM, 32), 3: (ChaCha20Poly1305, 32)}  # class, key size
_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


@dataclass(frozen=True, slots=True)
class ECHConfig:
    raw: bytes  # the whole ECHConfig (version, length, contents): HPKE's info holds it
    config_id: int
    kem_id: int
    public_key: bytes
    suites: tuple[tuple[int, int], ...]  # (kdf id, aead id)
    public_name: str


@dataclass(frozen=True, slots=True)
class ECHKey:
    config: ECHConfig
    private_key: Any  # X25519PrivateKey, X448PrivateKey or EllipticCurvePrivateKey
    path: str


@dataclass(slots=True)
class InnerHello:
    """An opened ClientHelloInner: the message as the server hashes it (4-byte header and body)."""

    raw: bytes
    random: bytes


class Context:
    """An HPKE receiver context in base mode (RFC 9180 5.1): opens ciphertexts in sequence. ECH opens the
    inner ClientHello with it, and after a HelloRetryRequest the second one with the next sequence number
    (RFC 9849 6.1.5)."""

    __slots__ = ("aead", "base_nonce", "seq", "config")

    def __init__(self, shared_secret: bytes, kem_id: int, kdf_id: int, aead_id: int, info: bytes,
                 config: ECHConfig | None = None) -> None:
        if kdf_id not in KDFS or aead_id not in AEADS or kem_id not in KEMS:
            raise DecryptError(f"HPKE suite kem {kem_id:#06x}, kdf {kdf_id}, aead {aead_id} is not supported")
        cls, key_len = AEADS[aead_id]
        suite_id = b"HPKE" + struct.pack("!HHH", kem_id, kdf_id, aead_id)
        hash_name = KDFS[kdf_id]
        psk_id_hash = _labeled_extract(hash_name, suite_id, b"", b"psk_id_hash", b"")  # mode_base: no PSK
        info_hash = _labeled_extract(hash_name, suite_id, b"", b"info_hash", info)
        context = b"\x00" + psk_id_hash + info_hash
        secret = _labeled_extract(hash_name, suite_id, shared_secret, b"secret", b"")
        self.aead = cls(_labeled_expand(hash_name, suite_id, secret, b"key", context, key_len))
        self.base_nonce = _labeled_expand(hash_name, suite_id, secret, b"base_nonce", context, 12)
        self.seq = 0
        self.config = config

    @classmethod
    def for_ech(cls, shared_secret: bytes, config: ECHConfig, kdf_id: int, aead_id: int) -> Context:
        """The context of an ECH offer: HPKE's info is "tls ech", a zero byte and the ECHConfig (RFC 9849 6.1)."""
        return cls(shared_secret, config.kem_id, kdf_id, aead_id, b"tls ech\x00" + config.raw, config)

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        nonce = (int.from_bytes(self.base_nonce, "big") ^ self.seq).to_bytes(12, "big")
        try:
            plain = self.aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptError("the inner ClientHello does not authenticate under this ECH key") from None
        self.seq += 1
        return plain


def _labeled_extract(hash_name: str, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return schedule13.hkdf_extract(hash_name, salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(hash_name: str, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return schedule13.hkdf_expand(hash_name, prk, struct.pack("!H", length) + b"HPKE-v1" + suite_id + label + info,
                                  length)


# ---------------------------------------------------------------------------------------------- configs and keys

def parse_config(raw: bytes) -> ECHConfig | None:
    """One ECHConfig (version, length, contents); None for a version other than RFC 9849's (0xfe0d)."""
    b = Buffer(raw)
    version = b.pull_u16()
    contents = Buffer(b.pull_opaque(2))
    if version != ECH_EXTENSION:
        return None
    config_id, kem_id = contents.pull_u8(), contents.pull_u16()
    public_key = contents.pull_opaque(2)
    suites_raw = Buffer(contents.pull_opaque(2))
    suites = []
    while not suites_raw.eof():
        suites.append((suites_raw.pull_u16(), suites_raw.pull_u16()))
    contents.pull_u8()  # maximum_name_length
    public_name = contents.pull_opaque(1).decode("ascii", "replace")
    return ECHConfig(bytes(raw), config_id, kem_id, public_key, tuple(suites), public_name)


def parse_config_list(data: bytes) -> list[ECHConfig]:
    """An ECHConfigList: the configs of the version this module reads (others are skipped, as clients do)."""
    outer = Buffer(data)
    b = Buffer(outer.pull_opaque(2))
    configs = []
    while not b.eof():
        start = b.pos
        b.pull_u16()
        b.pull_opaque(2)
        config = parse_config(bytes(b.data[start:b.pos]))
        if config is not None:
            configs.append(config)
    return configs


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.S)


def is_ech_pem(data: bytes) -> bool:
    return b"-----BEGIN ECHCONFIG-----" in data


def load_ech_keys(path: str, data: bytes) -> list[ECHKey]:
    """The keys of an ECHConfig PEM file (RFC 9934): one private key, and the ECHConfigList whose configs carry
    its public key. KeyMaterialError with a one-line reason for anything unusable."""
    key = None
    configs: list[ECHConfig] = []
    for m in _PEM_BLOCK.finditer(data):
        label, body = m.group(1), m.group(2)
        if label == b"ECHCONFIG":
            try:
                configs += parse_config_list(base64.b64decode(b"".join(body.split()), validate=True))
            except (ValueError, MalformedInput):
                raise KeyMaterialError(f"{path}: its ECHCONFIG is not a base64 ECHConfigList") from None
        elif label.endswith(b"PRIVATE KEY"):
            try:
                key = load_pem_private_key(m.group(0), None)
            except (ValueError, TypeError) as exc:
                raise KeyMaterialError(f"{path}: its ECH private key does not load ({exc})") from None
    if key is None:
        raise KeyMaterialError(f"{path}: an ECHConfig PEM file without a private key (only a server's file has one)")
    public = _public_bytes(key)
    mine = [c for c in configs if c.public_key == public]
    if not mine:
        raise KeyMaterialError(f"{path}: no ECHConfig (version 0xfe0d) in it carries its private key's public key")
    return [ECHKey(c, key, path) for c in mine]


def _public_bytes(key: Any) -> bytes:
    """The KEM's serialisation of a private key's public key (RFC 9180 7.1.1): raw for X25519/X448,
    an uncompressed point for the NIST curves."""
    if isinstance(key, (x25519.X25519PrivateKey, x448.X448PrivateKey)):
        return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return b""


def decapsulate(key: ECHKey, enc: bytes) -> bytes:
    """DHKEM Decap (RFC 9180 4.1) with a server ECH key: the KEM shared secret of the client's encapsulated key."""
    return dhkem_decap(key.config.kem_id, key.private_key, key.config.public_key, enc)


def dhkem_decap(kem_id: int, sk: Any, public_key: bytes, enc: bytes) -> bytes:
    """DHKEM Decap (RFC 9180 4.1): DH with the sender's ephemeral key, then ExtractAndExpand over enc and the
    recipient's serialised public key."""
    if kem_id not in KEMS:
        raise DecryptError(f"HPKE KEM {kem_id:#06x} is not supported")
    curve, hash_name, size = KEMS[kem_id]
    try:
        if curve == "X25519":
            dh = sk.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
        elif curve == "X448":
            dh = sk.exchange(x448.X448PublicKey.from_public_bytes(enc))
        else:
            dh = sk.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[curve](), enc))
    except ValueError:
        raise DecryptError("the ClientHello's ECH encapsulated key is not a valid public key") from None
    suite_id = b"KEM" + struct.pack("!H", kem_id)
    prk = _labeled_extract(hash_name, suite_id, b"", b"eae_prk", dh)
    return _labeled_expand(hash_name, suite_id, prk, b"shared_secret", enc + public_key, size)


# ---------------------------------------------------------------------------------------------- the ClientHello

@dataclass(slots=True)
class OuterOffer:
    """The encrypted_client_hello extension of a ClientHelloOuter, and where its payload sits in the body."""

    kdf_id: int
    aead_id: int
    config_id: int
    enc: bytes
    payload: bytes
    payload_at: int  # offset of the payload in the ClientHello body


def _extensions(body: bytes) -> tuple[int, list[tuple[int, int, int]]]:
    """A ClientHello body's extensions: (offset of the extensions block, [(type, data start, data end)...])."""
    b = Buffer(body)
    b.pull_u16()
    b.pull_bytes(32)
    b.pull_opaque(1)
    b.pull_opaque(2)
    b.pull_opaque(1)
    block = b.pos
    end = block + 2 + b.pull_u16()
    if end > len(body):
        raise MalformedInput("tls", "malformed_client_hello", "extensions run past the ClientHello")
    exts = []
    pos = block + 2
    while pos + 4 <= end:
        etype, elen = struct.unpack_from("!HH", body, pos)
        if pos + 4 + elen > end:
            raise MalformedInput("tls", "malformed_client_hello", f"extension {etype} runs past the extensions")
        exts.append((etype, pos + 4, pos + 4 + elen))
        pos += 4 + elen
    return block, exts


def outer_offer(body: bytes) -> OuterOffer | None:
    """The outer ECH offer of a ClientHello body, or None (no extension, or the inner/other type)."""
    for etype, start, end in _extensions(body)[1]:
        if etype != ECH_EXTENSION:
            continue
        b = Buffer(body, start=start, end=end)
        if b.pull_u8() != 0:
            return None
        kdf_id, aead_id, config_id = b.pull_u16(), b.pull_u16(), b.pull_u8()
        enc = b.pull_opaque(2)
        at = b.pos + 2
        payload = b.pull_opaque(2)
        return OuterOffer(kdf_id, aead_id, config_id, enc, payload, at)
    return None


def open_inner(body: bytes, offer: OuterOffer, context: Context) -> InnerHello:
    """Open a ClientHelloOuter's payload and rebuild the ClientHelloInner (RFC 9849 5.1, 5.2)."""
    aad = body[:offer.payload_at] + bytes(len(offer.payload)) + body[offer.payload_at + len(offer.payload):]
    encoded = context.open(aad, offer.payload)
    inner = _decode_inner(encoded, body)
    return InnerHello(b"\x01" + len(inner).to_bytes(3, "big") + inner, inner[2:34])


def _decode_inner(encoded: bytes, outer: bytes) -> bytes:
    """EncodedClientHelloInner -> ClientHelloInner body: the outer session id put back, ech_outer_extensions
    replaced by the outer extensions it names, the padding dropped."""
    block, exts = _extensions(encoded)
    b = Buffer(encoded)
    b.pull_bytes(34)
    if b.pull_opaque(1):
        raise MalformedInput("tls", "malformed_ech", "the inner ClientHello carries a session id of its own")
    outer_buf = Buffer(outer)
    outer_buf.pull_bytes(34)
    session_id = outer_buf.pull_opaque(1)
    outer_exts = {t: outer[s - 4:e] for t, s, e in _extensions(outer)[1]}
    rebuilt = []
    for etype, start, end in exts:
        if etype == OUTER_EXTENSIONS:
            names = Buffer(encoded, start=start, end=end)
            types = Buffer(names.pull_opaque(1))
            while not types.eof():
                t = types.pull_u16()
                if t not in outer_exts or t == ECH_EXTENSION:
                    raise MalformedInput("tls", "malformed_ech",
                                         f"ech_outer_extensions names extension {t}, which the outer ClientHello lacks")
                rebuilt.append(outer_exts[t])
        else:
            rebuilt.append(encoded[start - 4:end])
    ext_block = b"".join(rebuilt)
    middle = encoded[35:block]  # cipher suites and compression methods
    return (encoded[:34] + bytes([len(session_id)]) + session_id + middle + len(ext_block).to_bytes(2, "big")
            + ext_block)


class InnerHelloState:
    """An opened inner ClientHello, its HPKE context (a second hello after a HelloRetryRequest opens with it),
    and the transcript the handshake has if the server accepts it."""

    __slots__ = ("context", "inner", "transcript")

    def __init__(self, context: Context, inner: InnerHello) -> None:
        self.context = context
        self.inner = inner
        self.transcript = [inner.raw]

    def inner_sni(self) -> str | None:
        from dissector.tls.handshake import client_hello_essentials

        return client_hello_essentials(self.inner.raw[4:]).sni

    def open_second(self, raw: bytes) -> InnerHello | None:
        """The ClientHello sent again after a HelloRetryRequest: its inner hello joins the transcript."""
        try:
            offer = outer_offer(raw[4:])
            inner = open_inner(raw[4:], offer, self.context) if offer is not None else None
        except (DecryptError, MalformedInput):
            return None
        if inner is not None:
            self.transcript.append(inner.raw)
        return inner

    def retry_request(self, hash_name: str, hrr: bytes) -> bool:
        """Whether a HelloRetryRequest confirms the inner ClientHello (its encrypted_client_hello extension,
        RFC 9849 7.2.1); if so the inner transcript goes on from message_hash(ClientHelloInner1) and it."""
        zeroed, confirmation = zero_hrr_confirmation(hrr)
        first = schedule13.message_hash(hash_name, self.transcript[0])
        if confirmation != accept_confirmation(hash_name, self.inner.random, [first, zeroed],
                                               b"hrr ech accept confirmation"):
            return False
        self.transcript = [first, hrr]
        return True

    def accepted_by(self, hash_name: str, server_hello: bytes) -> bool:
        """Whether the ServerHello's random ends with the confirmation only the inner ClientHello's random
        gives (RFC 9849 7.2); if so the transcript is the inner one's, the ServerHello added."""
        zeroed = server_hello[:30] + bytes(8) + server_hello[38:]  # header, legacy_version, the random's 24 first
        if server_hello[30:38] != accept_confirmation(hash_name, self.inner.random, self.transcript + [zeroed],
                                                      b"ech accept confirmation"):
            return False
        self.transcript.append(server_hello)
        return True

    def info(self, status: str, detail: str = "") -> dict[str, Any]:
        """What a session says about its ECH: status, the inner name, the config; the random when accepted."""
        config = self.context.config
        d: dict[str, Any] = {"status": status, "inner_sni": self.inner_sni()}
        if status == "accepted":
            d["inner_random"] = self.inner.random.hex()
        if config is not None:
            d["config_id"], d["public_name"] = config.config_id, config.public_name
        if detail:
            d["detail"] = detail
        return d


def open_client_hello(raw: bytes, keylog: Any, ech_keys: list[ECHKey]) -> tuple[InnerHelloState | None, str]:
    """Open the inner ClientHello of a ClientHelloOuter (handshake header and body) with a key log's ECH_SECRET
    and ECH_CONFIG (named by the outer random) or a server ECH key with the offer's config id. Returns the
    state, or None and why a key that should have opened it did not ("" when none applied: no key for
    this config, or a GREASE offer, whose config id is random)."""
    body = raw[4:]
    try:
        offer = outer_offer(body)
    except MalformedInput:
        return None, ""  # the message's own parse reports it
    if offer is None:
        return None, ""
    why = ""
    for context in _contexts(offer, keylog, ech_keys, body[2:34]):
        try:
            return InnerHelloState(context, open_inner(body, offer, context)), ""
        except (DecryptError, MalformedInput) as exc:
            why = (f"an ECH key for config id {offer.config_id} was given, but the inner ClientHello does not "
                   f"open with it: {exc}")
    return None, why


def _contexts(offer: OuterOffer, keylog: Any, ech_keys: list[ECHKey], outer_random: bytes) -> list[Context]:
    contexts = []
    secret = keylog.get("ECH_SECRET", outer_random)
    config_raw = keylog.get("ECH_CONFIG", outer_random)
    try:
        config = parse_config(config_raw) if secret and config_raw else None
        if config is not None:
            contexts.append(Context.for_ech(secret, config, offer.kdf_id, offer.aead_id))
    except (MalformedInput, DecryptError):
        pass
    for key in ech_keys:
        if key.config.config_id != offer.config_id:
            continue  # another server's key, or a GREASE offer (a random config id)
        try:
            contexts.append(Context.for_ech(decapsulate(key, offer.enc), key.config, offer.kdf_id, offer.aead_id))
        except DecryptError:
            continue
    return contexts


def accept_confirmation(hash_name: str, inner_random: bytes, transcript: list[bytes], label: bytes) -> bytes:
    """The 8 bytes a server that accepted ECH puts in its ServerHello random (label b"ech accept confirmation")
    or HelloRetryRequest extension (b"hrr ech accept confirmation"): `transcript` ends with that message,
    the confirmation zeroed (RFC 9849 7.2, 7.2.1)."""
    prk = schedule13.hkdf_extract(hash_name, None, inner_random)
    th = schedule13.transcript_hash(hash_name, b"".join(transcript))
    return schedule13.hkdf_expand_label(hash_name, prk, label, th, 8)


def zero_hrr_confirmation(hrr: bytes) -> tuple[bytes, bytes]:
    """A HelloRetryRequest (header and body) with its encrypted_client_hello confirmation zeroed, and that
    confirmation (b"" when the extension is absent)."""
    body = hrr[4:]
    b = Buffer(body)
    b.pull_u16()
    b.pull_bytes(32)
    b.pull_opaque(1)
    b.pull_bytes(3)
    end = b.pos + 2 + b.pull_u16()
    pos = b.pos
    while pos + 4 <= min(end, len(body)):
        etype, elen = struct.unpack_from("!HH", body, pos)
        if etype == ECH_EXTENSION and elen == 8:
            at = 4 + pos + 4
            return hrr[:at] + bytes(8) + hrr[at + 8:], hrr[at:at + 8]
        pos += 4 + elen
    return hrr, b""
