"""Prefixed, time-sortable, random identifiers (`usr_01J9...`).

The body is a ULID: 48 bits of milliseconds since the epoch then 80 random bits, in
Crockford base32, so ids sort by creation time and cannot be guessed. Within one process
ids are strictly increasing: a second id in the same millisecond takes the previous one's
random part plus a random step (so "newest first" by id is exact, and still unguessable).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Final

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIXES: Final = frozenset(
    {"usr", "str", "brk", "ord", "ntf", "aud", "evt", "rtk", "ses", "pwr", "err", "olg", "req",
     "ppo", "rpl"}
)
ID_LENGTH: Final = 26
_RANDOM_BITS: Final = 80
_last = [0]
"""The last value handed out by `new_id` on the real clock (guarded by `_lock`)."""
_lock = threading.Lock()


def _encode(value: int) -> str:
    chars = []
    for _ in range(ID_LENGTH):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A new id such as `usr_01JC3...`; `prefix` must be one of `PREFIXES`."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    if now_ms is not None:
        value = (now_ms & ((1 << 48) - 1)) << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS)
        return f"{prefix}_{_encode(value)}"
    ms = time.time_ns() // 1_000_000
    with _lock:
        value = (ms & ((1 << 48) - 1)) << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS)
        if value <= _last[0]:  # same millisecond (or the clock stepped back): keep order
            value = _last[0] + 1 + secrets.randbits(40)
        _last[0] = value
    return f"{prefix}_{_encode(value)}"


def is_valid_id(value: str, prefix: str) -> bool:
    """True if `value` is a well-formed id with the given prefix."""
    head, sep, body = value.partition("_")
    return (
        sep == "_"
        and head == prefix
        and len(body) == ID_LENGTH
        and all(c in _ALPHABET for c in body)
    )


def id_timestamp_ms(value: str) -> int:
    """The creation time embedded in an id, in milliseconds since the epoch."""
    body = value.partition("_")[2]
    number = 0
    for char in body:
        number = number * 32 + _ALPHABET.index(char)
    return number >> 80


def sibling_id(value: str, n: int) -> str:
    """The `n`-th id derived from `value` (its last character moved `n` places): a fixed,
    repeatable companion id, e.g. the second event of one order outcome."""
    head, last = value[:-1], value[-1]
    return head + _ALPHABET[(_ALPHABET.index(last) + n) % len(_ALPHABET)]


def derived_id(prefix: str, *parts: str) -> str:
    """A fixed id made from `parts` (same parts, same id): the id of something that must
    exist once however often it is made, e.g. one day's token-expiry notice."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"{prefix}_{_encode(int.from_bytes(digest[:16]) >> 2)}"
