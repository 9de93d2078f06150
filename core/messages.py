"""Message bodies on NATS, declared once as msgspec Structs; every one has a version `v`.

Prices on the hot path are integer paise (DESIGN §3); never a float for money.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec

SCHEMA_VERSION: Final = 1


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    """A normalised last-traded-price tick on `ticks.{exchange}.{symbol}`."""

    v: int = SCHEMA_VERSION
    exchange: str
    symbol: str
    ltp_paise: int
    exchange_ts: int
    """Exchange timestamp, epoch nanoseconds."""
    received_ts: int
    """When our feed received it, epoch nanoseconds."""


class OrderCommand(msgspec.Struct, frozen=True, kw_only=True):
    """An order intent on `cmd.order.{user_id}.{strategy_id}`; executed at most once."""

    v: int = SCHEMA_VERSION
    user_id: str
    strategy_id: str
    trading_day: str
    """ISO date in IST."""
    action: str
    """An `OrderAction` value."""
    reason: str
    """What caused it: schedule, stop_loss, target, trailing, square_off, admin."""
    issued_at: int
    """Epoch nanoseconds when the command was made."""
    rev: int = 0
    trigger_price_paise: int | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Anything a user, an admin or a service may need to see, on `events.…`."""

    v: int = SCHEMA_VERSION
    id: str
    """`evt_…`, also the `Nats-Msg-Id`, so a republished event is dropped by the stream."""
    type: str
    user_id: str
    strategy_id: str | None = None
    rev: int = 0
    ts: int
    """Epoch nanoseconds."""
    data: dict[str, Any] = msgspec.field(default_factory=dict)


_encoder = msgspec.json.Encoder()
T = TypeVar("T", bound=msgspec.Struct)


def encode(message: msgspec.Struct) -> bytes:
    """JSON bytes of a message."""
    return _encoder.encode(message)


def decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    """A reusable typed decoder (build once, outside the hot loop)."""
    return msgspec.json.Decoder(kind)
