"""JSON responses encoded by msgspec: the same output as Quart's provider, several times
faster, which matters on list endpoints."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel
from quart.json.provider import DefaultJSONProvider


def _unknown(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = msgspec.json.Encoder(enc_hook=_unknown, order="sorted")


class FastJSONProvider(DefaultJSONProvider):
    """Encodes with msgspec (sorted keys, Decimal as string, datetimes as RFC 3339); what
    msgspec refuses (the OpenAPI document's integer keys) goes to the std-lib provider."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize `obj` (keyword options only reach the std-lib fallback)."""
        try:
            return _encoder.encode(obj).decode()
        except TypeError:
            return super().dumps(obj, **kwargs)
