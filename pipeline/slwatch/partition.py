"""Which symbols one slwatch replica watches: `ALGO_SLWATCH_PARTITION = i/N`.

A symbol belongs to slot `crc32("EXCHANGE:SYMBOL") % N`: stable across processes, hosts
and Python versions (unlike `hash()`), so N replicas with slots 0..N-1 cover every symbol
exactly once. The feed or a benchmark can compute the same slot with `slot_of`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

from core.settings import parse_partition

_TICKS_PREFIX: Final = "ticks."


def slot_of(exchange: str, symbol: str, count: int) -> int:
    """The slot of a symbol among `count` replicas."""
    return zlib.crc32(f"{exchange}:{symbol}".encode()) % count


@dataclass(frozen=True, slots=True)
class Partition:
    """Slot `index` of `count`."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, raw: str) -> Partition:
        """From the `i/N` setting (SettingsError when malformed)."""
        index, count = parse_partition(raw)
        return cls(index, count)

    def owns(self, exchange: str, symbol: str) -> bool:
        """True if this replica watches the symbol."""
        return self.count == 1 or slot_of(exchange, symbol, self.count) == self.index

    def owns_subject(self, subject: str) -> bool:
        """`owns` for a tick subject `ticks.{exchange}.{symbol}` (anything else: False)."""
        if not subject.startswith(_TICKS_PREFIX):
            return False
        exchange, sep, symbol = subject[len(_TICKS_PREFIX):].partition(".")
        return bool(sep) and self.owns(exchange, symbol)
