"""`manifest.json` of a backup directory: what is in it, and how to check it is whole."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Final

import msgspec

MANIFEST: Final = "manifest.json"
POSTGRES_FILE: Final = "postgres.dump"


class BackupError(RuntimeError):
    """A backup cannot be taken or restored as asked (the message says why)."""


class FileEntry(msgspec.Struct, frozen=True):
    """One file of the backup."""

    name: str
    bytes: int
    sha256: str


class StreamEntry(msgspec.Struct, frozen=True):
    """One JetStream stream snapshot, with the config and state the server reported."""

    name: str
    file: FileEntry
    config: dict[str, Any]
    state: dict[str, Any]


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `algo restore` needs to know about a backup directory."""

    v: int = 1
    created_at: str
    schema_revision: str | None
    postgres: FileEntry
    streams: list[StreamEntry]
    key_ids_in_use: dict[str, int]
    """Encryption key id → how many broker connections it seals. Ids only, never keys: the
    keys live in ALGO_ENCRYPTION_KEYS (a secrets manager), and restoring needs each of them."""

    def write(self, directory: Path) -> Path:
        """Write `manifest.json` into `directory`."""
        path = directory / MANIFEST
        path.write_bytes(msgspec.json.format(msgspec.json.encode(self), indent=2) + b"\n")
        return path

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read and decode `directory/manifest.json`."""
        path = directory / MANIFEST
        if not path.exists():
            raise BackupError(f"{path} not found: not a backup directory")
        return msgspec.json.decode(path.read_bytes(), type=cls)

    def verify(self, directory: Path) -> None:
        """Every file present with its recorded size and SHA-256."""
        for entry in [self.postgres, *(s.file for s in self.streams)]:
            if describe(directory / entry.name) != entry:
                raise BackupError(f"{entry.name} is missing or differs from the manifest")


def describe(path: Path) -> FileEntry | None:
    """Name, size and SHA-256 of a file (None if absent)."""
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return FileEntry(path.name, path.stat().st_size, digest.hexdigest())
