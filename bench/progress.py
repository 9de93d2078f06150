"""Progress lines and SIGTERM handling shared by the order benchmarks."""

from __future__ import annotations

from datetime import datetime
from types import FrameType

from core.clock import IST


def progress(message: str) -> None:
    """One progress line (the JSON result is always the last line)."""
    print(f"[{datetime.now(IST):%H:%M:%S}] {message}", flush=True)


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: unwinds through every `finally`, as Ctrl-C does."""
    raise KeyboardInterrupt
