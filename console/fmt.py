"""Short renderings of values for narrow tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from textual.markup import escape

IST: Final = ZoneInfo("Asia/Kolkata")
DASH: Final = "\u2013"  # an en dash: "not known"


def when(value: datetime | None) -> str:
    """`DD Mon HH:MM:SS` in IST (the platform's time zone)."""
    return DASH if value is None else value.astimezone(IST).strftime("%d %b %H:%M:%S")


def clock(value: datetime | None) -> str:
    """`HH:MM:SS` in IST."""
    return DASH if value is None else value.astimezone(IST).strftime("%H:%M:%S")


def num(value: float | int | Decimal | None, digits: int = 0) -> str:
    """A number, or a dash when unknown."""
    if value is None:
        return DASH
    return f"{value:,.{digits}f}" if digits else f"{value:,}" if isinstance(value, int) \
        else f"{float(value):,.0f}"


def age(seconds: float | None) -> str:
    """`0.4s`, `12s`, `5m`, `3h`."""
    if seconds is None:
        return DASH
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def cut(text: str | None, width: int) -> str:
    """`text` on one line, at most `width` characters, escaped for Textual markup."""
    flat = " ".join((text or "").split())
    return esc(flat if len(flat) <= width else flat[: max(0, width - 1)] + "…")


def esc(text: object) -> str:
    """A value shown inside markup: brackets in data must not be read as tags."""
    return escape(str(text))


def parse_filters(text: str) -> dict[str, str]:
    """`status=FILLED user_id=usr_…` → a query mapping; a bare word becomes `q`."""
    out: dict[str, str] = {}
    words: list[str] = []
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep and key and value:
            out[key.strip()] = value.strip()
        else:
            words.append(token)
    if words:
        out["q"] = " ".join(words)
    return out


def clock_of(epoch_s: float) -> str:
    """`HH:MM:SS` in IST of an epoch time."""
    return datetime.fromtimestamp(epoch_s, IST).strftime("%H:%M:%S")
