"""The tick recorder: every tick the feed publishes, appended to a JSONL file that the replay
source (replay.py) and the playground's replay engine read back.

One line per tick, `{"exchange","symbol","ltp_paise","exchange_ts"}`, written through a
buffer (no I/O per tick beyond a memory copy); `flush()` runs with the publisher's flushes and
`close()` on shutdown. A day's file is the feed's record of that day (ALGO_FEED_RECORD_PATH
may name the day: `{day}` is replaced by the IST date the recorder was opened on).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import msgspec

from core.clock import Clock, trading_day
from core.messages import Tick


def recording_path(template: Path, clock: Clock) -> Path:
    """The file to record into: `{day}` in the name becomes today's IST date."""
    return Path(str(template).replace("{day}", trading_day(clock).isoformat()))


class _Line(msgspec.Struct, array_like=False):
    exchange: str
    symbol: str
    ltp_paise: int
    exchange_ts: int


class TickRecorder:
    """Appends ticks to a JSONL file."""

    def __init__(self, path: Path, *, buffer_bytes: int = 1 << 20) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] | None = path.open("ab", buffering=buffer_bytes)
        self._encode = msgspec.json.Encoder().encode
        self.recorded = 0

    def record(self, tick: Tick) -> None:
        """Append one tick (buffered)."""
        if self._file is None:
            return
        self._file.write(self._encode(_Line(tick.exchange, tick.symbol, tick.ltp_paise,
                                            tick.exchange_ts)) + b"\n")
        self.recorded += 1

    def flush(self) -> None:
        """Push the buffer to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close; later ticks are not recorded."""
        if self._file is not None:
            file, self._file = self._file, None
            file.close()
