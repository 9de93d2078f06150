"""SmartAPI JSON bodies, as typed msgspec Structs (unknown fields are ignored).

Envelope (SmartAPI docs, "Response structure"; angel-one/smartapi-python @ff60852
SmartApi/smartConnect.py `_request`): `{"status": true, "message": "SUCCESS",
"errorcode": "", "data": ...}`; a failure has `status` false (the docs' sample even sends
the string "false") and an `errorcode` such as AB1007. Dead tokens have been seen answered
with another spelling, `{"success": false, "errorCode": "AG8001", ...}`
(brokers PROTOCOLS notes §4.5), so both are read. Numbers arrive as JSON strings or
numbers depending on the endpoint (positions are all strings), hence `Num`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

Num = str | int | float
"""A number as Angel sends it: sometimes a JSON string, sometimes a JSON number."""


def decimal(value: Num | None) -> Decimal:
    """An Angel number as Decimal (blank or unreadable: 0)."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def integer(value: Num | None) -> int:
    """An Angel quantity as int."""
    return int(decimal(value))


class Envelope(msgspec.Struct, frozen=True):
    """Every JSON answer; `data` is decoded later into the endpoint's own type."""

    status: bool | str | None = None
    success: bool | str | None = None
    message: str | None = None
    errorcode: str | None = None
    error_code_alt: str | None = msgspec.field(default=None, name="errorCode")
    data: msgspec.Raw = msgspec.Raw(b"null")

    @property
    def ok(self) -> bool:
        """True when Angel says the call succeeded."""
        return _true(self.status if self.success is None else self.success)

    @property
    def code(self) -> str:
        """The error code, whichever spelling carried it."""
        return self.errorcode or self.error_code_alt or ""


def _true(value: bool | str | None) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Tokens(msgspec.Struct, frozen=True, rename="camel"):
    """`loginByPassword` and `generateTokens` data."""

    jwt_token: str
    refresh_token: str
    feed_token: str


class Profile(msgspec.Struct, frozen=True):
    """`getProfile` data."""

    clientcode: str
    name: str | None = None
    email: str | None = None


class PlacedOrder(msgspec.Struct, frozen=True):
    """`placeOrder` data."""

    orderid: str
    uniqueorderid: str | None = None
    script: str | None = None


class Order(msgspec.Struct, frozen=True):
    """One entry of `getOrderBook`, or `details/{uniqueorderid}` data."""

    orderid: str
    status: str = ""
    orderstatus: str = ""
    uniqueorderid: str | None = None
    ordertag: str | None = None
    exchange: str = ""
    tradingsymbol: str = ""
    symboltoken: str = ""
    transactiontype: str = ""
    producttype: str = ""
    ordertype: str = ""
    variety: str = ""
    quantity: Num = "0"
    filledshares: Num = "0"
    unfilledshares: Num = "0"
    averageprice: Num = 0
    text: str | None = None
    updatetime: str | None = None
    exchorderupdatetime: str | None = None
    exchangeorderid: str | None = None


class Position(msgspec.Struct, frozen=True):
    """One entry of `getPosition` (every number a string)."""

    exchange: str
    tradingsymbol: str
    netqty: Num = "0"
    symboltoken: str = ""
    producttype: str = ""
    buyamount: Num = "0"
    sellamount: Num = "0"


class Ltp(msgspec.Struct, frozen=True):
    """`getLtpData` data."""

    exchange: str
    tradingsymbol: str
    symboltoken: str
    ltp: Num
