"""Schemas of /market."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel


class LtpOut(BaseModel):
    """The last traded price of one instrument."""

    exchange: str
    symbol: str
    ltp: Decimal
    ltp_paise: int
    source: str
    """`feed` (the live cache) or the broker it was asked from."""
