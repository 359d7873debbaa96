"""NSS key log files (SSLKEYLOGFILE), also as carried in pcapng Decryption Secrets Blocks.

Lines look like `LABEL <client random hex> <secret hex>`:

- CLIENT_RANDOM: the TLS 1.0-1.2 master secret (48 bytes);
- PMS_CLIENT_RANDOM: a pre-master secret;
- CLIENT_EARLY_TRAFFIC_SECRET, CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT/SERVER_TRAFFIC_SECRET_0,
  EARLY_EXPORTER_SECRET, EXPORTER_SECRET: TLS 1.3 secrets (the hash length of the suite);
- ECH_SECRET, ECH_CONFIG: the HPKE KEM shared secret and the ECHConfig of an Encrypted Client Hello (RFC 9850),
  named by the outer ClientHello's random (with ECH accepted, the TLS 1.3 secrets are named by the inner one's);
- `RSA <first 8 bytes of the encrypted pre-master, hex> <48-byte pre-master, hex>`;
- `RSA Session-ID:<hex> Master-Key:<hex>` (the older Wireshark form): a master secret by session ID;
- QUIC_CLIENT_HANDSHAKE_TRAFFIC_SECRET and the other TLS 1.3 labels behind "QUIC_": what QUIC implementations of
  the draft years wrote (aioquic before 0.9, early ngtcp2 and quicly); read as the labels without the prefix.

Hex may be upper or lower case. `#` comments and blank lines are skipped. A malformed line is skipped and
recorded in `errors` as (source, line number, reason); a well-formed line with a label we do not know is
counted in `unknown_labels`. Later lines win over earlier ones for the same key.
"""
from __future__ import annotations

import os
from collections import Counter

from dissector.errors import KeyMaterialError

CLIENT_RANDOM = "CLIENT_RANDOM"
RSA = "RSA"
PMS_CLIENT_RANDOM = "PMS_CLIENT_RANDOM"
TLS13_LABELS = frozenset((
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET",
    "EXPORTER_SECRET",
))
ECH_LABELS = frozenset(("ECH_SECRET", "ECH_CONFIG"))
RANDOM_LABELS = frozenset((CLIENT_RANDOM, PMS_CLIENT_RANDOM)) | TLS13_LABELS | ECH_LABELS
LABELS = RANDOM_LABELS | {RSA}
_QUIC_ALIASES = {"QUIC_" + label: label for label in TLS13_LABELS}  # the drafts-era QUIC stacks' labels
MAX_LEARNED = 100_000  # secrets `learn` keeps for the run (5 per TLS 1.3 PSK session): memory stays bounded


def _hex(text: str) -> bytes | None:
    """bytes.fromhex of a field (from str.split(), so without whitespace); None if it is not hex."""
    try:
        return bytes.fromhex(text) or None
    except ValueError:
        return None


class _Source:
    __slots__ = ("path", "offset", "line_no", "tail")

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0  # bytes consumed: always at the start of a line
        self.line_no = 0  # lines consumed
        self.tail = b""  # the last line without a newline, as last parsed


class KeyLog:
    """Secrets by (label, client random), RSA pre-master secrets by encrypted-PMS prefix."""

    def __init__(self) -> None:
        self._secrets: dict[tuple[str, bytes], bytes] = {}
        self._entries: tuple[tuple, list] = ((), [])  # entries() of the last label asked, and for which size
        self._randoms: set[bytes] = set()
        self._learned = 0  # entries `learn` added
        self._rsa: dict[bytes, bytes] = {}
        self._session_ids: dict[bytes, bytes] = {}
        self._sources: list[_Source] = []
        self.errors: list[tuple[str, int, str]] = []
        self.unknown_labels: Counter[str] = Counter()

    # --- loading ---------------------------------------------------------------------------------------

    def load(self, path: str) -> int:
        """Read a key log file; returns the number of entries read. `refresh()` later reads what was appended.

        Raises KeyMaterialError if the file cannot be read.
        """
        src = _Source(str(path))
        try:
            added = self._read(src, quiet_tail=False)
        except OSError as exc:
            raise KeyMaterialError(f"cannot read key log {path}: {exc.strerror or exc}") from None
        self._sources.append(src)
        return added

    def refresh(self) -> int:
        """Read the lines appended to the loaded files since the last read (a live capture's key log grows).

        A file that became shorter was truncated or replaced: it is read again from the start. Returns the
        number of new entries.
        """
        added = 0
        for src in self._sources:
            try:
                added += self._read(src, quiet_tail=True)
            except OSError as exc:
                error = (src.path, src.line_no, f"cannot read: {exc.strerror or exc}")
                if not self.errors or self.errors[-1] != error:  # once, not on every refresh
                    self.errors.append(error)
        return added

    def _read(self, src: _Source, quiet_tail: bool) -> int:
        with open(src.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < src.offset:
                src.offset = 0
                src.line_no = 0
                src.tail = b""
            f.seek(src.offset)
            data = f.read()
        added = 0
        end = data.rfind(b"\n") + 1
        if end:
            text = data[:end].decode("utf-8", "replace")
            added = self._parse(text, src.path, src.line_no)
            src.offset += end
            src.line_no += text.count("\n")
            src.tail = b""
        # A last line without a newline: either the file simply ends that way, or the writer is in the
        # middle of it. Take it if it is a valid entry but stay at its start, so that a refresh reads it
        # again once complete (the full line then replaces it). Its errors are reported by load() only:
        # during refresh() it may be unfinished.
        tail = data[end:]
        if tail.strip() and tail != src.tail:
            src.tail = tail
            added += self._parse(tail.decode("utf-8", "replace"), src.path, src.line_no, quiet=quiet_tail)
        return added

    def add_text(self, text: str | bytes, source: str = "<text>") -> int:
        """Parse key log text (e.g. a pcapng Decryption Secrets Block); returns the number of entries read."""
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = bytes(text).decode("utf-8", "replace")
        return self._parse(text, source, 0)

    def _parse(self, text: str, source: str, first_line: int, quiet: bool = False) -> int:
        if text.startswith("\ufeff"):
            text = text[1:]
        secrets = self._secrets
        randoms = self._randoms
        errors = [] if quiet else self.errors
        added = 0
        for line_no, raw in enumerate(text.split("\n"), first_line + 1):
            line = raw.strip()
            if not line or line[0] == "#":
                continue
            fields = line.split()
            label = fields[0]
            label = _QUIC_ALIASES.get(label, label)
            if label in RANDOM_LABELS:
                if len(fields) != 3:
                    errors.append((source, line_no, f"{label} line needs 3 fields, found {len(fields)}"))
                    continue
                random = _hex(fields[1])
                if random is None or len(random) != 32:
                    errors.append((source, line_no, "client random is not 32 bytes of hex"))
                    continue
                secret = _hex(fields[2])
                if secret is None:
                    errors.append((source, line_no, "secret is not hex"))
                    continue
                if label == CLIENT_RANDOM and len(secret) != 48:
                    errors.append((source, line_no, f"master secret of {len(secret)} bytes, 48 expected"))
                    continue
                if label in ECH_LABELS:  # keyed by the outer random: not a random the TLS secrets are named by
                    secrets[(label, random)] = secret
                    added += 1
                    continue
                if label != CLIENT_RANDOM and label != "PMS_CLIENT_RANDOM" and len(secret) not in (32, 48, 64):
                    # TLS 1.3 secrets are a hash long (SHA-256/384); anything else is a cut or damaged line
                    errors.append((source, line_no, f"{label} secret of {len(secret)} bytes, 32 or 48 expected"))
                    continue
                secrets[(label, random)] = secret
                randoms.add(random)
                added += 1
            elif label == RSA:
                if len(fields) >= 2 and fields[1].startswith("Session-ID:"):
                    added += self._parse_session_id_line(fields, source, line_no, errors)
                    continue
                if len(fields) != 3:
                    errors.append((source, line_no, f"RSA line needs 3 fields, found {len(fields)}"))
                    continue
                prefix = _hex(fields[1])
                if prefix is None or len(prefix) != 8:
                    errors.append((source, line_no, "encrypted pre-master prefix is not 8 bytes of hex"))
                    continue
                pms = _hex(fields[2])
                if pms is None or len(pms) != 48:
                    errors.append((source, line_no, "pre-master secret is not 48 bytes of hex"))
                    continue
                self._rsa[prefix] = pms
                added += 1
            elif len(fields) == 3 and label.replace("_", "").isalnum() and label.isupper():
                if not quiet:
                    self.unknown_labels[label] += 1
            else:
                errors.append((source, line_no, "not a key log line"))
        return added

    def _parse_session_id_line(self, fields: list[str], source: str, line_no: int, errors: list) -> int:
        # RSA Session-ID:<hex> Master-Key:<hex>
        if len(fields) != 3 or not fields[2].startswith("Master-Key:"):
            errors.append((source, line_no, "expected 'RSA Session-ID:<hex> Master-Key:<hex>'"))
            return 0
        session_id = _hex(fields[1][len("Session-ID:"):])
        master = _hex(fields[2][len("Master-Key:"):])
        if session_id is None or master is None or len(master) != 48:
            errors.append((source, line_no, "bad Session-ID or Master-Key hex"))
            return 0
        self._session_ids[session_id] = master
        return 1

    # --- lookups ---------------------------------------------------------------------------------------

    def get(self, label: str, client_random: bytes) -> bytes | None:
        return self._secrets.get((label, bytes(client_random)))

    def rsa_premaster(self, encrypted_pms_prefix: bytes) -> bytes | None:
        """Pre-master for an RSA ClientKeyExchange, keyed by the first 8 bytes of the encrypted pre-master."""
        return self._rsa.get(bytes(encrypted_pms_prefix[:8]))

    def master_by_session_id(self, session_id: bytes) -> bytes | None:
        return self._session_ids.get(bytes(session_id))

    def entries(self, label: str) -> list[tuple[bytes, bytes]]:
        """Every (client_random, secret) of one label, in the order they were read (cached until more are read)."""
        key = (label, len(self._secrets))
        if self._entries[0] != key:
            self._entries = (key, [(random, secret) for (lab, random), secret in self._secrets.items() if lab == label])
        return self._entries[1]

    def learn(self, label: str, client_random: bytes, secret: bytes) -> None:
        """A secret the analysis derived itself (from a TLS 1.3 pre-shared key given with --psk): looked up like the
        file's, and written by `dissector keys`."""
        key = (label, bytes(client_random))
        if key not in self._secrets:
            if self._learned >= MAX_LEARNED:  # (bounded: the session keeps its own; `keys` writes the first ones)
                return
            self._learned += 1  # (not counted as read: len() says what the files gave)
        self._secrets[key] = bytes(secret)
        self._randoms.add(bytes(client_random))

    def has(self, client_random: bytes) -> bool:
        return bytes(client_random) in self._randoms

    def labels_for(self, client_random: bytes) -> list[str]:
        cr = bytes(client_random)
        return sorted(label for (label, random) in self._secrets if random == cr)

    def __len__(self) -> int:
        return len(self._secrets) - self._learned + len(self._rsa) + len(self._session_ids)

    def __bool__(self) -> bool:
        return True  # an empty key log is still a key log (do not let `if keylog:` hide it)
