"""Record decryptors, built once per key and direction.

Every class has `decrypt(seq, content_type, version, fragment) -> (content_type, plaintext)`:
- `seq` is the 64-bit record sequence number (for DTLS: epoch << 48 | sequence number),
- `content_type` and `version` are the values of the record header (they enter the MAC or the AAD),
- `fragment` is the record body, bytes or a memoryview.
Failures raise `DecryptError` with a short reason: "bad record MAC", "bad padding", "AEAD tag mismatch",
"record too short", "record length not a multiple of the block size", "no inner content type".

Cipher objects are made in the constructor and kept: one AEAD object per key; one CBC decryption
context for the whole direction (for SSL 3.0 / TLS 1.0 the next record's IV is the last ciphertext block
of the previous one, which is exactly the state a CBC context carries; for TLS 1.1+ the explicit IV block
is fed through the same context and its output dropped, since CBC decryption of block i only depends on
ciphertext blocks i-1 and i); one RC4 context whose keystream runs on across records.
"""
from __future__ import annotations

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers import algorithms as decrepit
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from dissector.errors import DecryptError, MalformedInput

SSL3 = 0x0300
TLS10 = 0x0301
TLS13 = 0x0304
DTLS10 = 0xFEFF
DTLS10_OPENSSL = 0x0100
_SEQ48 = (1 << 48) - 1

BAD_MAC = "bad record MAC"
BAD_PADDING = "bad padding"
BAD_TAG = "AEAD tag mismatch"
TOO_SHORT = "record too short"
BAD_LENGTH = "record length not a multiple of the block size"
NO_CONTENT_TYPE = "no inner content type"


class UnsupportedCipher(ValueError):
    """A cipher (or MAC) this build cannot decrypt; `cipher` holds its name."""

    def __init__(self, cipher: str, reason: str = "") -> None:
        self.cipher = cipher
        self.reason = reason
        super().__init__(f"unsupported cipher {cipher}" + (f": {reason}" if reason else ""))


# --- MACs ---------------------------------------------------------------------------------------------------

_MAC_HASHES = {"MD5": hashes.MD5, "SHA1": hashes.SHA1, "SHA": hashes.SHA1, "SHA256": hashes.SHA256,
               "SHA384": hashes.SHA384}


def _mac_hash(mac_alg: str) -> hashes.HashAlgorithm:
    try:
        return _MAC_HASHES[mac_alg.upper().replace("-", "")]()
    except KeyError:
        raise UnsupportedCipher(str(mac_alg), "unknown MAC algorithm") from None


class _RecordMac:
    """HMAC (TLS) or the SSL 3.0 pad1/pad2 MAC over seq + type [+ version] + length + data, keyed once."""

    __slots__ = ("size", "_ssl3", "_inner", "_outer", "_hmac")

    def __init__(self, mac_alg: str, mac_key: bytes, ssl3: bool) -> None:
        algorithm = _mac_hash(mac_alg)
        mac_key = bytes(mac_key)
        self.size = algorithm.digest_size
        if len(mac_key) != self.size:
            raise UnsupportedCipher(str(mac_alg), f"MAC key of {len(mac_key)} bytes, {self.size} expected")
        self._ssl3 = ssl3
        if ssl3:
            pad_len = 48 if isinstance(algorithm, hashes.MD5) else 40
            self._inner = hashes.Hash(algorithm)
            self._inner.update(mac_key + b"\x36" * pad_len)
            self._outer = hashes.Hash(algorithm)
            self._outer.update(mac_key + b"\x5c" * pad_len)
            self._hmac = None
        else:
            self._hmac = hmac.HMAC(mac_key, algorithm)
            self._inner = self._outer = None

    def compute(self, seq: int, content_type: int, version: int, data, extra=None) -> bytes:
        """MAC of one record; `extra` (a second buffer) is appended to `data` (used for EtM: IV + body)."""
        length = len(data) + (len(extra) if extra is not None else 0)
        if self._ssl3:
            h = self._inner.copy()
            h.update(seq.to_bytes(8, "big") + bytes((content_type, length >> 8, length & 0xFF)))
            h.update(data)
            if extra is not None:
                h.update(extra)
            o = self._outer.copy()
            o.update(h.finalize())
            return o.finalize()
        h = self._hmac.copy()
        h.update(seq.to_bytes(8, "big")
                 + bytes((content_type, version >> 8, version & 0xFF, length >> 8, length & 0xFF)))
        h.update(data)
        if extra is not None:
            h.update(extra)
        return h.finalize()


def _make_mac(mac_alg: str | None, mac_key: bytes | None, version: int) -> _RecordMac | None:
    if not mac_alg:
        return None
    return _RecordMac(mac_alg, mac_key or b"", version == SSL3)


def _check_mac(mac: _RecordMac, seq: int, content_type: int, version: int, plain, received,
               old_dtls: bool = False) -> None:
    if mac.compute(seq, content_type, version, plain) != received:
        # OpenSSL before 0.9.8f (DTLS version 0x0100) computed the DTLS MAC as TLS 1.0 does: version
        # 0x0301 and the 48-bit sequence number without the epoch. Checked after the RFC 4347 MAC fails,
        # as Wireshark does.
        if old_dtls and mac.compute(seq & _SEQ48, content_type, TLS10, plain) == received:
            return
        raise DecryptError(BAD_MAC)


# --- NULL and stream ciphers --------------------------------------------------------------------------------

class NullProtection:
    """NULL cipher: the fragment is the plaintext followed by the MAC (if any)."""

    __slots__ = ("_mac", "_mac_len", "_old_dtls")

    def __init__(self, mac_alg: str | None, mac_key: bytes | None, version: int) -> None:
        self._mac = _make_mac(mac_alg, mac_key, version)
        self._mac_len = self._mac.size if self._mac else 0
        self._old_dtls = version in (DTLS10, DTLS10_OPENSSL)

    def decrypt(self, seq: int, content_type: int, version: int, fragment) -> tuple[int, bytes]:
        mac_len = self._mac_len
        if not mac_len:
            return content_type, bytes(fragment)
        if len(fragment) < mac_len:
            raise DecryptError(TOO_SHORT)
        data = bytes(fragment)
        plain = data[:-mac_len]
        _check_mac(self._mac, seq, content_type, version, plain, data[-mac_len:], self._old_dtls)
        return content_type, plain


class UnverifiedNullProtection:
    """A NULL-cipher record read without the keys: the content is in the clear, so it is returned as it
    is, minus the trailing MAC (`mac_len` bytes), which cannot be checked without the MAC key.

    No key is involved, so a record too short to hold its MAC is malformed (MalformedInput: an anomaly
    on the session, which goes on), never a sign of wrong key material (DecryptError)."""

    __slots__ = ("_mac_len",)

    def __init__(self, mac_len: int) -> None:
        self._mac_len = mac_len

    def decrypt(self, seq: int, content_type: int, version: int, fragment) -> tuple[int, bytes]:
        mac_len = self._mac_len
        if len(fragment) < mac_len:
            raise MalformedInput("tls", "record_shorter_than_mac", f"a {len(fragment)}-byte NULL-cipher record "
                                 f"cannot hold its {mac_len}-byte MAC")
        return content_type, bytes(fragment[:len(fragment) - mac_len])


def _stream_algorithm(cipher_name: str, key: bytes):
    name = cipher_name.upper()
    if name.startswith("RC4") or name.startswith("ARC4"):
        return decrepit.ARC4(key)
    raise UnsupportedCipher(cipher_name, "not a known stream cipher")


class StreamProtection:
    """RC4 with MAC-then-encrypt; the keystream continues from one record to the next."""

    __slots__ = ("_ctx", "_mac", "_mac_len")

    def __init__(self, cipher_name: str, key: bytes, mac_alg: str | None, mac_key: bytes | None,
                 version: int) -> None:
        try:
            self._ctx = Cipher(_stream_algorithm(cipher_name, bytes(key)), mode=None).decryptor()
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise UnsupportedCipher(cipher_name, str(exc)) from None
        self._mac = _make_mac(mac_alg, mac_key, version)
        self._mac_len = self._mac.size if self._mac else 0

    def decrypt(self, seq: int, content_type: int, version: int, fragment) -> tuple[int, bytes]:
        # The keystream must advance even for a record that then fails its MAC check: the sender's did.
        data = self._ctx.update(fragment)
        mac_len = self._mac_len
        if not mac_len:
            return content_type, data
        if len(data) < mac_len:
            raise DecryptError(TOO_SHORT)
        plain = data[:-mac_len]
        _check_mac(self._mac, seq, content_type, version, plain, data[-mac_len:])
        return content_type, plain


# --- CBC ----------------------------------------------------------------------------------------------------

def _block_algorithm(cipher_name: str, key: bytes):
    """The `cryptography` block cipher for a suite cipher name such as "AES-128-CBC" or "3DES-EDE-CBC"."""
    name = cipher_name.upper().replace("_", "-")
    if name.startswith("AES"):
        return algorithms.AES(key)
    if name.startswith("CAMELLIA"):
        return decrepit.Camellia(key)
    if name.startswith("3DES") or name.startswith("DES-EDE") or name.startswith("DES3"):
        if len(key) != 24:
            raise UnsupportedCipher(cipher_name, f"3DES key of {len(key)} bytes, 24 expected")
        return decrepit.TripleDES(key)
    if name.startswith("DES"):  # single DES (DES-CBC, DES40-CBC): 3DES with K1 = K2 = K3
        if len(key) != 8:
            raise UnsupportedCipher(cipher_name, f"DES key of {len(key)} bytes, 8 expected")
        return decrepit.TripleDES(key * 3)
    if name.startswith("SEED"):
        return decrepit.SEED(key)
    if name.startswith("IDEA"):
        return decrepit.IDEA(key)
    raise UnsupportedCipher(cipher_name, "no such block cipher in cryptography")


class CBCProtection:
    """Block cipher in CBC mode, MAC-then-encrypt or (RFC 7366) encrypt-then-MAC.

    SSL 3.0 and TLS 1.0 chain the IV across records (the first IV comes from the key block); TLS 1.1+
    and DTLS carry an explicit IV at the start of each record (`iv` is then unused). Padding: TLS checks
    that every padding byte equals the padding length; SSL 3.0 only that the padding is shorter than a
    block.
    """

    __slots__ = ("_ctx", "_bs", "_explicit_iv", "_ssl3", "_mac", "_mac_len", "_etm", "_old_dtls")

    def __init__(self, cipher_name: str, key: bytes, iv: bytes | None, mac_alg: str, mac_key: bytes,
                 version: int, encrypt_then_mac: bool = False) -> None:
        key = bytes(key)
        try:
            algorithm = _block_algorithm(cipher_name, key)
            bs = algorithm.block_size // 8
            self._explicit_iv = version not in (SSL3, TLS10)
            if not self._explicit_iv and (iv is None or len(iv) != bs):
                raise UnsupportedCipher(cipher_name, f"an IV of {bs} bytes is needed for SSL 3.0 / TLS 1.0")
            first_iv = bytes(iv) if not self._explicit_iv else bytes(bs)
            self._ctx = Cipher(algorithm, modes.CBC(first_iv)).decryptor()
        except (ValueError, UnsupportedAlgorithm) as exc:
            if isinstance(exc, UnsupportedCipher):
                raise
            raise UnsupportedCipher(cipher_name, str(exc)) from None
        if encrypt_then_mac and version == SSL3:
            raise UnsupportedCipher(cipher_name, "SSL 3.0 has no encrypt-then-MAC")
        self._bs = bs
        self._ssl3 = version == SSL3
        self._mac = _make_mac(mac_alg, mac_key, version)
        if self._mac is None:
            raise UnsupportedCipher(cipher_name, "a CBC suite needs a MAC")
        self._mac_len = self._mac.size
        self._etm = encrypt_then_mac
        self._old_dtls = version in (DTLS10, DTLS10_OPENSSL)

    def decrypt(self, seq: int, content_type: int, version: int, fragment) -> tuple[int, bytes]:
        bs = self._bs
        mac_len = self._mac_len
        n = len(fragment)
        skip = bs if self._explicit_iv else 0
        if self._etm:
            body_len = n - mac_len
            if body_len < skip + bs:
                raise DecryptError(TOO_SHORT)
            if body_len % bs:
                raise DecryptError(BAD_LENGTH)
            view = memoryview(fragment)
            body = view[:body_len]
            if self._mac.compute(seq, content_type, version, body) != bytes(view[body_len:]):
                # Keep the chain of SSL 3.0 / TLS 1.0 in step with the sender before failing.
                self._ctx.update(body)
                raise DecryptError(BAD_MAC)
            plain = self._ctx.update(body)
            pad = plain[-1]
            if pad + 1 > len(plain) - skip or plain[-1 - pad:-1] != bytes((pad,)) * pad:
                raise DecryptError(BAD_PADDING)
            return content_type, plain[skip:len(plain) - pad - 1]

        if n % bs:
            raise DecryptError(BAD_LENGTH)
        if n < skip + max(bs, mac_len + 1):
            raise DecryptError(TOO_SHORT)
        plain = self._ctx.update(fragment)
        pad = plain[-1]
        end = len(plain) - pad - 1  # end of content + MAC
        if end - mac_len < skip:
            raise DecryptError(BAD_PADDING)
        if self._ssl3:
            if pad >= bs:
                raise DecryptError(BAD_PADDING)
        elif plain[end:-1] != bytes((pad,)) * pad:
            raise DecryptError(BAD_PADDING)
        content = plain[skip:end - mac_len]
        _check_mac(self._mac, seq, content_type, version, content, plain[end - mac_len:end], self._old_dtls)
        return content_type, content


# --- AEAD ---------------------------------------------------------------------------------------------------

def _aead(cipher_name: str, key: bytes, tag_len: int):
    """(AEAD object, kind) where kind is "gcm", "ccm" or "chacha"."""
    name = cipher_name.upper().replace("_", "-")
    try:
        if name.startswith("AES") and name.endswith("GCM"):
            if tag_len != 16:
                raise UnsupportedCipher(cipher_name, f"GCM with a {tag_len}-byte tag")
            return AESGCM(key), "gcm"
        if name.startswith("AES") and ("CCM" in name):
            return AESCCM(key, tag_length=tag_len), "ccm"
        if name.endswith("-OLD"):
            raise UnsupportedCipher(cipher_name, "the pre-RFC 7905 ChaCha20-Poly1305 construction")
        if name.startswith("CHACHA20"):
            if tag_len != 16:
                raise UnsupportedCipher(cipher_name, f"ChaCha20-Poly1305 with a {tag_len}-byte tag")
            return ChaCha20Poly1305(key), "chacha"
    except (ValueError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, UnsupportedCipher):
            raise
        raise UnsupportedCipher(cipher_name, str(exc)) from None
    raise UnsupportedCipher(cipher_name, "no such AEAD in cryptography")


class AEAD12Protection:
    """TLS 1.2 / DTLS 1.2 AEAD.

    AES-GCM and AES-CCM(-8) (RFC 5288, RFC 6655): nonce = 4-byte fixed IV + 8-byte explicit nonce taken
    from the start of the record. ChaCha20-Poly1305 (RFC 7905): nonce = 12-byte fixed IV XOR the
    zero-padded sequence number, no explicit nonce. AAD = seq(8) + type + version + plaintext length.
    """

    __slots__ = ("_aead", "_tag_len", "_explicit", "_fixed_iv", "_iv_int")

    def __init__(self, cipher_name: str, key: bytes, fixed_iv: bytes, tag_len: int = 16) -> None:
        self._aead, kind = _aead(cipher_name, bytes(key), tag_len)
        self._tag_len = tag_len
        self._explicit = kind != "chacha"
        fixed_iv = bytes(fixed_iv)
        want = 4 if self._explicit else 12
        if len(fixed_iv) != want:
            raise UnsupportedCipher(cipher_name, f"fixed IV of {len(fixed_iv)} bytes, {want} expected")
        self._fixed_iv = fixed_iv
        self._iv_int = int.from_bytes(fixed_iv, "big")

    def decrypt(self, seq: int, content_type: int, version: int, fragment) -> tuple[int, bytes]:
        n = len(fragment)
        if self._explicit:
            plain_len = n - 8 - self._tag_len
            if plain_len < 0:
                raise DecryptError(TOO_SHORT)
            view = memoryview(fragment)
            nonce = self._fixed_iv + bytes(view[:8])
            body = view[8:]
        else:
            plain_len = n - self._tag_len
            if plain_len < 0:
                raise DecryptError(TOO_SHORT)
            nonce = (self._iv_int ^ seq).to_bytes(12, "big")
            body = fragment
        aad = seq.to_bytes(8, "big") + bytes((content_type, version >> 8, version & 0xFF,
                                              plain_len >> 8, plain_len & 0xFF))
        try:
            return content_type, self._aead.decrypt(nonce, body, aad)
        except InvalidTag:
            raise DecryptError(BAD_TAG) from None


AAD_HEADER = "header"  # RFC 8446 and drafts from -25: AAD = the 5-byte record header
AAD_NONE = "none"      # drafts before -25: empty AAD


def aad_mode_for_draft(draft: int | None) -> str:
    """TLS 1.3 drafts before -25 authenticated no additional data; -25 and RFC 8446 the record header."""
    return AAD_NONE if draft is not None and draft < 25 else AAD_HEADER


class AEAD13Protection:
    """TLS 1.3 record protection: nonce = IV XOR padded seq; the plaintext ends with the real content type,
    followed by optional zero padding."""

    __slots__ = ("_aead", "_tag_len", "_iv_int", "_header_aad")

    def __init__(self, cipher_name: str, key: bytes, iv: bytes, tag_len: int = 16,
                 aad_mode: str = AAD_HEADER) -> None:
        self._aead, _ = _aead(cipher_name, bytes(key), tag_len)
        if len(iv) != 12:
            raise UnsupportedCipher(cipher_name, f"IV of {len(iv)} bytes, 12 expected")
        if aad_mode not in (AAD_HEADER, AAD_NONE):
            raise ValueError(f"aad_mode must be {AAD_HEADER!r} or {AAD_NONE!r}")
        self._tag_len = tag_len
        self._iv_int = int.from_bytes(bytes(iv), "big")
        self._header_aad = aad_mode == AAD_HEADER

    def decrypt(self, seq: int, content_type: int, version: int, fragment) -> tuple[int, bytes]:
        n = len(fragment)
        aad = bytes((content_type, version >> 8, version & 0xFF, n >> 8, n & 0xFF)) if self._header_aad else None
        return self.open(seq, aad, fragment)

    def open(self, seq: int, aad: bytes | None, fragment) -> tuple[int, bytes]:
        """Decrypt with the associated data given (DTLS 1.3: its unified header); (content type, content)."""
        if len(fragment) < self._tag_len + 1:
            raise DecryptError(TOO_SHORT)
        nonce = (self._iv_int ^ seq).to_bytes(12, "big")
        try:
            plain = self._aead.decrypt(nonce, fragment, aad)
        except InvalidTag:
            raise DecryptError(BAD_TAG) from None
        end = len(plain)
        if end and plain[-1] == 0:  # zero padding after the content type
            end = len(plain.rstrip(b"\x00"))
        if not end:
            raise DecryptError(NO_CONTENT_TYPE)
        return plain[end - 1], plain[:end - 1]


class SampleMask:
    """A header-protection mask from a 16-byte sample of a record's ciphertext: AES-ECB of the sample, or ChaCha20
    keyed with the sample as counter (4 bytes, little endian) and nonce (RFC 9001 5.4 for QUIC packet numbers,
    RFC 9147 4.2.3 for DTLS 1.3 record numbers). One AES-ECB context serves every mask (ECB keeps no state)."""

    __slots__ = ("key", "ecb")

    def __init__(self, key: bytes, chacha: bool) -> None:
        self.key = bytes(key)
        self.ecb = None if chacha else Cipher(algorithms.AES(self.key), modes.ECB()).encryptor()

    def mask(self, sample: bytes) -> bytes:
        """Five bytes of mask (QUIC uses all five, DTLS 1.3 one or two)."""
        if self.ecb is None:
            return Cipher(algorithms.ChaCha20(self.key, bytes(sample)), mode=None).encryptor().update(bytes(5))
        return self.ecb.update(bytes(sample))[:5]


def expand_record_number(largest: int, truncated: int, bits: int) -> int:
    """The full number closest to the one after `largest`, from its low `bits` (RFC 9000 A.3 for QUIC packet
    numbers, RFC 9147 4.2.2 for DTLS 1.3 record numbers)."""
    expected = largest + 1
    win = 1 << bits
    hwin, mask = win // 2, win - 1
    candidate = (expected & ~mask) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


# --- factory ------------------------------------------------------------------------------------------------

def make_protection(version: int, suite, key: bytes, iv: bytes | None, mac_key: bytes | None, *,
                    encrypt_then_mac: bool = False, tls13: bool = False, draft: int | None = None):
    """The decryptor for one direction, from a suite row (`cipher`, `mode`, `mac`, `tag_len`) and its keys.

    `version` is the negotiated protocol version (wire int). TLS 1.3 (`tls13=True` or version 0x0304):
    `iv` is the 12-byte traffic IV; `draft` selects the AAD of old drafts. Raises `UnsupportedCipher`.
    """
    cipher = str(suite.cipher)
    mode = suite.mode
    tag_len = int(getattr(suite, "tag_len", 0) or 0)
    if not tag_len:
        tag_len = 8 if cipher.upper().replace("_", "-").endswith(("CCM-8", "CCM8")) else 16
    if tls13 or version == TLS13:
        return AEAD13Protection(cipher, key, iv or b"", tag_len, aad_mode_for_draft(draft))
    if mode == "aead":
        return AEAD12Protection(cipher, key, iv or b"", tag_len)
    if mode == "cbc":
        return CBCProtection(cipher, key, iv, suite.mac, mac_key or b"", version, encrypt_then_mac)
    if mode == "stream":
        return StreamProtection(cipher, key, suite.mac, mac_key, version)
    if mode == "null":
        return NullProtection(suite.mac, mac_key, version)
    raise UnsupportedCipher(cipher, f"unknown mode {mode!r}")
