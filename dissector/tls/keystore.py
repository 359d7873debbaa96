"""All key material of one run: key logs, RSA keys, PSKs, and the secrets sessions taught us.

One KeyStore is shared by every connection of an invocation (also across several capture files), so
a TLS <= 1.2 session resumed by session ID or ticket finds the master secret its first handshake
established, even when that was an RSA-key decryption.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dissector.tls.keylog import KeyLog


@dataclass(slots=True)
class RSAKey:
    key: Any  # cryptography RSAPrivateKey
    path: str
    server: tuple[str, int] | None = None  # pinned to this server ip:port, or any


@dataclass(slots=True)
class KeyStore:
    keylog: KeyLog = field(default_factory=KeyLog)
    rsa_keys: list[RSAKey] = field(default_factory=list)
    psks: list[bytes] = field(default_factory=list)
    psk_identities: dict[str, bytes] = field(default_factory=dict)  # --psk IDENTITY=HEX: the PSK of an identity
    ech_keys: list[Any] = field(default_factory=list)  # ech.ECHKey: servers' ECH keys (ECHConfig PEM files)
    openvpn_keys: list[bytes] = field(default_factory=list)  # OpenVPN static keys (tls-crypt, tls-auth): 256 bytes
    by_session_id: dict[bytes, bytes] = field(default_factory=dict)  # TLS <= 1.2 session ID -> master secret
    by_ticket: dict[bytes, bytes] = field(default_factory=dict)  # TLS <= 1.2 session ticket -> master secret
    learned: dict[bytes, bytes] = field(default_factory=dict)  # client random -> master secret we derived
    max_cached: int = 100_000
    # ClientHello randoms seen in this run (not candidates for another session's hidden ECH inner random), and
    # how many more key log entries that search may try in all (about 10 us each)
    seen_randoms: set[bytes] = field(default_factory=set)
    search_trials_left: int = 100_000  # key log entries tried for sessions whose random is hidden or missing

    def empty(self) -> bool:
        return not (len(self.keylog) or self.rsa_keys or self.psks or self.ech_keys or self.openvpn_keys
                    or self.by_session_id
                    or self.by_ticket)

    def remember(self, client_random: bytes, master: bytes, session_id: bytes = b"", ticket: bytes = b"") -> None:
        """Cache a master secret for resumption and for `dissector keys` (bounded)."""
        if len(self.learned) < self.max_cached:
            self.learned[client_random] = master
        if session_id and len(self.by_session_id) < self.max_cached:
            self.by_session_id[session_id] = master
        if ticket and len(self.by_ticket) < self.max_cached:
            self.by_ticket[ticket] = master

    def psk_for(self, identity: str | None) -> bytes | None:
        """The PSK for a TLS 1.2 session's identity (its ClientKeyExchange's): the one given for that identity, else
        the first given without one, else None (the PSKs given all belong to other identities, or there are none)."""
        if identity is not None and identity in self.psk_identities:
            return self.psk_identities[identity]
        named = set(map(id, self.psk_identities.values()))
        return next((psk for psk in self.psks if id(psk) not in named), None)

    def add_secrets_block(self, secret_type: int, data: bytes) -> None:
        """A pcapng Decryption Secrets Block: TLS key logs are used, other kinds ignored."""
        if secret_type == 0x544C534B:
            self.keylog.add_text(data.decode("utf-8", "replace"), "pcapng secrets block")
