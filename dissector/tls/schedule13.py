"""The TLS 1.3 key schedule (RFC 8446 section 7), as small pure functions plus a `KeySchedule` helper.

HKDF is computed with `cryptography`'s HMAC (extract) and HKDFExpand (expand).

Drafts: draft-ietf-tls-tls13 before -20 prefixed every HKDF label with "TLS 1.3, " (and used long labels
such as "application traffic secret" for KeyUpdate); draft-20 moved to the RFC's "tls13 " prefix and short
labels. `label_prefix(draft)` makes that choice explicit: pass `draft=None` for RFC 8446, or the draft
number announced in supported_versions (0x7f00 | draft). Drafts are decrypted from key-log traffic secrets,
so only `traffic_key_iv`, `finished_key` and `next_traffic_secret` take a draft. `KeySchedule` follows the
final RFC labels (including the "derived" step, which drafts before -22 did not have).
"""
from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from dissector.tls.prf import hash_algorithm

RFC_PREFIX = b"tls13 "
OLD_DRAFT_PREFIX = b"TLS 1.3, "
DTLS13_PREFIX = b"dtls13"  # RFC 9147 5.9: DTLS 1.3's labels, otherwise TLS 1.3's key schedule


def label_prefix(draft: int | None, dtls: bool = False) -> bytes:
    """HKDF label prefix: b"TLS 1.3, " for drafts before -20, b"tls13 " for draft-20 onwards and RFC 8446,
    b"dtls13" for DTLS 1.3."""
    if dtls:
        return DTLS13_PREFIX
    if draft is not None and draft < 20:
        return OLD_DRAFT_PREFIX
    return RFC_PREFIX


def hash_len(hash_name: str) -> int:
    return hash_algorithm(hash_name).digest_size


def transcript_hash(hash_name: str, messages: bytes) -> bytes:
    h = hashes.Hash(hash_algorithm(hash_name))
    h.update(bytes(messages))
    return h.finalize()


def message_hash(hash_name: str, client_hello: bytes) -> bytes:
    """message_hash(Hash(ClientHello1)): what stands for the first ClientHello in the transcript after a
    HelloRetryRequest (RFC 8446 4.4.1)."""
    digest = transcript_hash(hash_name, client_hello)
    return bytes([254, 0, 0, len(digest)]) + digest


def hkdf_extract(hash_name: str, salt: bytes | None, ikm: bytes | None) -> bytes:
    """HKDF-Extract (RFC 5869): HMAC(salt, ikm); an empty salt or ikm means HashLen zero bytes."""
    size = hash_len(hash_name)
    h = hmac.HMAC(bytes(salt) if salt else bytes(size), hash_algorithm(hash_name))
    h.update(bytes(ikm) if ikm else bytes(size))
    return h.finalize()


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869) with a raw info (HPKE's labels are not TLS's)."""
    return HKDFExpand(hash_algorithm(hash_name), length, bytes(info)).derive(bytes(prk))


def _bytes(label: bytes | str) -> bytes:
    return label.encode("ascii") if isinstance(label, str) else bytes(label)


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes | str, context: bytes, length: int,
                      prefix: bytes = RFC_PREFIX) -> bytes:
    """HKDF-Expand-Label: HKDF-Expand(secret, HkdfLabel(length, prefix + label, context), length)."""
    full = prefix + _bytes(label)
    context = bytes(context)
    if len(full) > 255 or len(context) > 255:
        raise ValueError("HKDF label or context longer than 255 bytes")
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    algorithm = hash_algorithm(hash_name)
    if length <= algorithm.digest_size:
        # one output block, T(1) = HMAC(secret, info | 0x01) (RFC 5869 2.3): every label of the key schedule.
        # The same bytes as HKDFExpand, whose object costs more than the HMAC itself.
        h = hmac.HMAC(bytes(secret), algorithm)
        h.update(info + b"\x01")
        return h.finalize()[:length]
    return HKDFExpand(algorithm, length, info).derive(bytes(secret))


def derive_secret(hash_name: str, secret: bytes, label: bytes | str, transcript_hash: bytes,
                  prefix: bytes = RFC_PREFIX) -> bytes:
    """Derive-Secret with the transcript hash already computed (Hash(messages))."""
    return hkdf_expand_label(hash_name, secret, label, transcript_hash, hash_len(hash_name), prefix)


def traffic_key_iv(hash_name: str, secret: bytes, key_len: int, iv_len: int = 12,
                   draft: int | None = None, dtls: bool = False) -> tuple[bytes, bytes]:
    """Record protection key and IV from a traffic secret (RFC 8446 section 7.3)."""
    prefix = label_prefix(draft, dtls)
    return (hkdf_expand_label(hash_name, secret, b"key", b"", key_len, prefix),
            hkdf_expand_label(hash_name, secret, b"iv", b"", iv_len, prefix))


def finished_key(hash_name: str, base_key_secret: bytes, draft: int | None = None, dtls: bool = False) -> bytes:
    return hkdf_expand_label(hash_name, base_key_secret, b"finished", b"", hash_len(hash_name),
                             label_prefix(draft, dtls))


def finished_verify_data(hash_name: str, base_key_secret: bytes, transcript_hash: bytes,
                         draft: int | None = None, dtls: bool = False) -> bytes:
    """HMAC(finished_key, transcript hash): the body of a Finished (or a PSK binder)."""
    h = hmac.HMAC(finished_key(hash_name, base_key_secret, draft, dtls), hash_algorithm(hash_name))
    h.update(bytes(transcript_hash))
    return h.finalize()


def next_traffic_secret(hash_name: str, secret: bytes, draft: int | None = None, dtls: bool = False) -> bytes:
    """application_traffic_secret_N+1 after a KeyUpdate."""
    label = b"application traffic secret" if draft is not None and draft < 20 else b"traffic upd"
    return hkdf_expand_label(hash_name, secret, label, b"", hash_len(hash_name), label_prefix(draft, dtls))


class KeySchedule:
    """The RFC 8446 secrets of one connection, stage by stage.

    Usage (each stage needs the one before)::

        ks = KeySchedule("sha256")
        ks.extract_early(psk=None)                      # Early Secret (no PSK: zeros)
        ks.extract_handshake(ecdhe_shared_secret)       # Handshake Secret
        c_hs, s_hs = ks.handshake_traffic_secrets(hash_ch_sh)
        ks.extract_master()                             # Master Secret
        c_ap, s_ap = ks.application_traffic_secrets(hash_ch_to_server_finished)
    """

    __slots__ = ("hash_name", "hash_len", "early_secret", "handshake_secret", "master_secret", "_empty_hash")

    def __init__(self, hash_name: str) -> None:
        self.hash_name = hash_name
        self.hash_len = hash_len(hash_name)
        self.early_secret: bytes | None = None
        self.handshake_secret: bytes | None = None
        self.master_secret: bytes | None = None
        self._empty_hash = transcript_hash(hash_name, b"")

    def _derived(self, secret: bytes) -> bytes:
        return derive_secret(self.hash_name, secret, b"derived", self._empty_hash)

    def extract_early(self, psk: bytes | None = None) -> bytes:
        self.early_secret = hkdf_extract(self.hash_name, None, psk)
        return self.early_secret

    def extract_handshake(self, shared_secret: bytes) -> bytes:
        if self.early_secret is None:
            self.extract_early(None)
        self.handshake_secret = hkdf_extract(self.hash_name, self._derived(self.early_secret), shared_secret)
        return self.handshake_secret

    def extract_master(self) -> bytes:
        if self.handshake_secret is None:
            raise ValueError("extract_handshake() first")
        self.master_secret = hkdf_extract(self.hash_name, self._derived(self.handshake_secret), None)
        return self.master_secret

    def _need(self, secret: bytes | None, stage: str) -> bytes:
        if secret is None:
            raise ValueError(f"{stage}() first")
        return secret

    # early secret stage
    def binder_key(self, resumption: bool = True) -> bytes:
        label = b"res binder" if resumption else b"ext binder"
        return derive_secret(self.hash_name, self._need(self.early_secret, "extract_early"), label, self._empty_hash)

    def client_early_traffic_secret(self, hash_ch: bytes) -> bytes:
        return derive_secret(self.hash_name, self._need(self.early_secret, "extract_early"), b"c e traffic", hash_ch)

    def early_exporter_secret(self, hash_ch: bytes) -> bytes:
        return derive_secret(self.hash_name, self._need(self.early_secret, "extract_early"), b"e exp master", hash_ch)

    # handshake secret stage
    def handshake_traffic_secrets(self, hash_ch_sh: bytes) -> tuple[bytes, bytes]:
        """(client, server) handshake traffic secrets; `hash_ch_sh` = Hash(ClientHello..ServerHello)."""
        secret = self._need(self.handshake_secret, "extract_handshake")
        return (derive_secret(self.hash_name, secret, b"c hs traffic", hash_ch_sh),
                derive_secret(self.hash_name, secret, b"s hs traffic", hash_ch_sh))

    # master secret stage
    def application_traffic_secrets(self, hash_to_server_finished: bytes) -> tuple[bytes, bytes]:
        """(client, server) application traffic secrets 0; hash of ClientHello..server Finished."""
        secret = self._need(self.master_secret, "extract_master")
        return (derive_secret(self.hash_name, secret, b"c ap traffic", hash_to_server_finished),
                derive_secret(self.hash_name, secret, b"s ap traffic", hash_to_server_finished))

    def exporter_master_secret(self, hash_to_server_finished: bytes) -> bytes:
        return derive_secret(self.hash_name, self._need(self.master_secret, "extract_master"), b"exp master",
                             hash_to_server_finished)

    def resumption_master_secret(self, hash_to_client_finished: bytes) -> bytes:
        return derive_secret(self.hash_name, self._need(self.master_secret, "extract_master"), b"res master",
                             hash_to_client_finished)

    def resumption_psk(self, resumption_master: bytes, ticket_nonce: bytes) -> bytes:
        return hkdf_expand_label(self.hash_name, resumption_master, b"resumption", ticket_nonce, self.hash_len)
