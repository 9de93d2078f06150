"""bcrypt password hashing, off the event loop (DESIGN §7)."""

from __future__ import annotations

import asyncio

import bcrypt

MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything past 72 bytes; we refuse it instead


def hash_password(password: str, rounds: int) -> str:
    """A bcrypt hash of `password` at cost `rounds`."""
    raw = password.encode()
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError("password longer than 72 bytes")
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, hashed: str) -> bool:
    """True if `password` matches `hashed`."""
    raw = password.encode()
    if len(raw) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(raw, hashed.encode())


async def hash_password_async(password: str, rounds: int) -> str:
    """`hash_password` in a worker thread so a login storm does not stall the loop."""
    return await asyncio.to_thread(hash_password, password, rounds)


async def verify_password_async(password: str, hashed: str) -> bool:
    """`verify_password` in a worker thread."""
    return await asyncio.to_thread(verify_password, password, hashed)
