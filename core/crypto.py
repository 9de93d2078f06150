"""Broker secrets at rest: AES-256-GCM with a key id and the owner as associated data (BRK-7).

A sealed value is `key_id ":" nonce(12) ciphertext+tag`. The key id names which of the
configured keys (`ALGO_ENCRYPTION_KEYS`, the first one encrypts) sealed it, so keys can be
rotated; the user id is the associated data, so a ciphertext copied into another user's
row fails to open. `reseal()` moves a value to the current key (`algo keys rotate`, see
core/connections/rotation.py): old keys stay configured, and so readable, until no stored
value names them any more.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES: Final = 12


class SecretUnreadable(ValueError):
    """A sealed value that no configured key opens (wrong key, owner or a damaged blob)."""


class UnknownKey(SecretUnreadable):
    """The value names a key id this process is not configured with: a fault of the local
    configuration (`ALGO_ENCRYPTION_KEYS` lacks a key, e.g. mid-rotation), not of the value,
    which a correctly configured process may well open."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"sealed with key {key_id!r}, which is not configured here")
        self.key_id = key_id


class SecretBox:
    """Seals and opens short secrets with the configured keys."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = next(iter(keys))

    @property
    def current_key_id(self) -> str:
        """The id of the key new values are sealed with."""
        return self._current

    def seal(self, plaintext: str, *, owner: str) -> bytes:
        """Encrypt `plaintext` for `owner` (a user id) with the current key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), owner.encode())
        return self._current.encode() + b":" + nonce + sealed

    @property
    def key_ids(self) -> list[str]:
        """Every configured key id, the current one first."""
        return list(self._keys)

    @staticmethod
    def key_id_of(blob: bytes) -> str | None:
        """The key id a sealed value names (None if it names none)."""
        key_id, sep, _ = bytes(blob).partition(b":")
        return key_id.decode(errors="replace") if sep else None

    def is_current(self, blob: bytes) -> bool:
        """True if `blob` is sealed with the current key (nothing for rotation to do)."""
        return self.key_id_of(blob) == self._current

    def reseal(self, blob: bytes, *, owner: str) -> bytes:
        """`blob` sealed with the current key (itself when it already is); SecretUnreadable
        if no configured key opens it."""
        if self.is_current(blob):
            return bytes(blob)
        return self.seal(self.open(blob, owner=owner), owner=owner)

    def open(self, blob: bytes, *, owner: str) -> str:
        """Decrypt a value sealed for `owner`; SecretUnreadable if it cannot be."""
        key_id, sep, rest = bytes(blob).partition(b":")
        name = key_id.decode(errors="replace")
        aead = self._keys.get(name)
        if not sep or len(rest) <= NONCE_BYTES:
            raise SecretUnreadable("malformed sealed value")
        if aead is None:
            raise UnknownKey(name)
        try:
            return aead.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], owner.encode()).decode()
        except InvalidTag as exc:
            raise SecretUnreadable("secret does not open for this owner and key") from exc
