"""The fake Dhan's state: the account, its sessions, the order book, prices, the scrip
master, and the fault switches tests arm. Written from the protocol facts (Dhan API v2
docs; dhan-oss/DhanHQ-py src/dhanhq and its tests/data answers), never from the adapter."""

from __future__ import annotations

import itertools
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import pyotp

IST: Final = ZoneInfo("Asia/Kolkata")
HEADER: Final = ("SEM_EXM_EXCH_ID,SEM_SEGMENT,SEM_SMST_SECURITY_ID,SEM_INSTRUMENT_NAME,"
                 "SEM_EXPIRY_CODE,SEM_TRADING_SYMBOL,SEM_LOT_UNITS,SEM_CUSTOM_SYMBOL,"
                 "SEM_EXPIRY_DATE,SEM_STRIKE_PRICE,SEM_OPTION_TYPE,SEM_TICK_SIZE,"
                 "SEM_EXPIRY_FLAG,SEM_EXCH_INSTRUMENT_TYPE,SEM_SERIES,SM_SYMBOL_NAME")
LISTED: Final = {"RELIANCE": 2885, "INFY": 1594, "SBIN": 3045, "HDFCBANK": 1333,
                 "TCS": 11536}
"""NSE equities by security id (the exchange tokens; RELIANCE 2885 in every broker)."""
SEGMENTS: Final = ("NSE_EQ", "NSE_FNO", "NSE_CURRENCY", "BSE_EQ", "BSE_FNO", "BSE_CURRENCY",
                   "MCX_COMM")
PRODUCTS: Final = ("CNC", "INTRADAY", "MARGIN", "MTF", "CO", "BO")
ORDER_TYPES: Final = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_MARKET")
CORRELATION: Final = re.compile(r"[A-Za-z0-9 _-]{1,30}")


def scrip_master(extra_rows: int = 60) -> str:
    """A compact scrip master: our equities (EQ and a BE twin of RELIANCE), an index and
    filler equities, so that a truncated one looks truncated."""
    rows = [HEADER]
    for symbol, security_id in LISTED.items():
        rows.append(f"NSE,E,{security_id},EQUITY,0,{symbol},1.0,{symbol.title()},,,,"
                    f"5.0000,NA,ES,EQ,{symbol} LTD")
    rows.append("NSE,E,99885,EQUITY,0,RELIANCE,1.0,Reliance BE,,,,5.0000,NA,ES,BE,RELIANCE")
    rows.append("NSE,I,13,INDEX,0,NIFTY,1.0,Nifty 50,,,,5.0000,NA,INDEX,NA,NIFTY 50")
    rows.append("BSE,E,500325,EQUITY,0,RELIANCE,1.0,Reliance,,,,5.0000,NA,ES,A,RELIANCE")
    rows.append("NSE,D,49081,FUTIDX,0,NIFTY-Nov2026-FUT,75.0,NIFTY NOV FUT,2026-11-26 14:30:00,"
                "-0.01000,XX,10.0000,M,FUTIDX,NA,NIFTY")
    for n in range(extra_rows):
        rows.append(f"NSE,E,{20000 + n},EQUITY,0,FILL{n},1.0,Filler {n},,,,5.0000,NA,ES,EQ,"
                    f"FILLER {n}")
    return "\n".join(rows) + "\n"


class DhanError(Exception):
    """An error answer: HTTP status + Dhan's error body."""

    def __init__(self, status: int, code: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"errorType": error_type, "errorCode": code, "errorMessage": message}


INVALID_AUTH: Final = (401, "DH-901", "Invalid_Authentication",
                       "Client ID or user generated access token is invalid or expired.")


@dataclass
class Fault:
    """A switch for the next `count` calls of a group ("order", "read", "any")."""

    kind: str
    """reject | rms_reject | accept_then_timeout | error_5xx | book_then_5xx | rate_limit |
    token_expired | invalid_token"""
    group: str = "order"
    count: int = 1
    status: int = 400
    code: str = "DH-906"
    error_type: str = "Order_Error"
    message: str = "fake: order rejected"
    hang_s: float = 5.0


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    query: dict[str, str]
    body: Any


@dataclass
class DhanBook:
    """Everything the fake server knows."""

    client_id: str = "1100000001"
    pin: str = "123456"
    totp: str = "654321"
    """A code the fake always takes (the SDK tests send it as is)."""
    totp_secret: str = field(default_factory=pyotp.random_base32)
    """The account's TOTP secret: a code of it (current ±1 window) is taken too."""
    app_id: str = "fake-app-id"
    app_secret: str = "fake-app-secret"
    redirect_url: str = "http://127.0.0.1:9/dhan/callback"
    prices: dict[tuple[str, str], Decimal] = field(default_factory=lambda: {
        ("NSE_EQ", "2885"): Decimal("2500.75"), ("NSE_EQ", "1594"): Decimal("1074.35"),
        ("NSE_EQ", "3045"): Decimal("470.00")})
    scrip_csv: str = field(default_factory=scrip_master)
    hold_orders: bool = False
    """True: new orders stay PENDING until `fill()`."""
    access_tokens: set[str] = field(default_factory=set)
    expired_tokens: set[str] = field(default_factory=set)
    consents: set[str] = field(default_factory=set)
    token_ids: set[str] = field(default_factory=set)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- sessions ---------------------------------------------------------------------

    def issue_access_token(self) -> str:
        """A live session, as if the user had generated a token on web.dhan.co."""
        token = "eyJ" + secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        return token

    def expire(self, token: str) -> None:
        """The token's 24 hours are over."""
        self.access_tokens.discard(token)
        self.expired_tokens.add(token)

    def session(self) -> dict[str, Any]:
        """The auth server's answer with a new token."""
        expiry = (datetime.now(IST) + timedelta(hours=24)).replace(microsecond=0)
        return {"dhanClientId": self.client_id, "dhanClientName": "FAKE TRADER",
                "dhanClientUcc": "FAKE1234", "givenPowerOfAttorney": False,
                "accessToken": self.issue_access_token(),
                "expiryTime": expiry.replace(tzinfo=None).isoformat()}

    def authorize(self, token: str | None, client_id: str | None) -> None:
        """Check `access-token` (and `client-id` when sent)."""
        if token not in self.access_tokens or client_id not in (None, self.client_id):
            raise DhanError(*INVALID_AUTH)

    def pin_login(self, client_id: str, pin: str, totp: str) -> dict[str, Any]:
        """POST /app/generateAccessToken."""
        code_ok = totp == self.totp or pyotp.TOTP(self.totp_secret).verify(totp,
                                                                            valid_window=1)
        if client_id != self.client_id or pin != self.pin or not code_ok:
            raise DhanError(400, "DH-901", "Invalid_Authentication", "Invalid PIN or TOTP")
        return self.session()

    def app(self, app_id: str | None, app_secret: str | None) -> None:
        """Check the API key headers of the consent flow."""
        if app_id != self.app_id or app_secret != self.app_secret:
            raise DhanError(401, "DH-901", "Invalid_Authentication", "Invalid app credentials")

    def consent(self, client_id: str) -> str:
        """POST /app/generate-consent: a consent the user may now approve."""
        if client_id != self.client_id:
            raise DhanError(400, "DH-905", "Input_Exception", "Invalid client id")
        consent = str(uuid.uuid4())
        self.consents.add(consent)
        return consent

    def approve(self, consent: str) -> str:
        """The user logged in on the consent page: a single-use tokenId."""
        if consent not in self.consents:
            raise DhanError(400, "DH-905", "Input_Exception", "Invalid consentAppId")
        self.consents.discard(consent)
        token_id = secrets.token_hex(16)
        self.token_ids.add(token_id)
        return token_id

    def consume(self, token_id: str) -> dict[str, Any]:
        """GET /app/consumeApp-consent."""
        if token_id not in self.token_ids:
            raise DhanError(400, "DH-901", "Invalid_Authentication", "Invalid tokenId")
        self.token_ids.discard(token_id)
        return self.session()

    # ---- faults -----------------------------------------------------------------------

    def arm(self, fault: Fault) -> None:
        """Arm a switch."""
        self.faults.append(fault)

    def take_fault(self, group: str) -> Fault | None:
        """Consume one use of the first switch matching `group`."""
        for fault in self.faults:
            if fault.group in (group, "any"):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # ---- the scrip master ---------------------------------------------------------------

    def listed(self, segment: str, security_id: str) -> str | None:
        """The trading symbol of a listed instrument (always from the good master)."""
        exch, _, kind = segment.partition("_")
        seg = {"EQ": "E", "FNO": "D", "CURRENCY": "C", "COMM": "M", "I": "I"}.get(kind)
        for line in scrip_master().splitlines()[1:]:
            cells = line.split(",")
            if cells[0] == exch and cells[1] == seg and cells[2] == security_id:
                return cells[5]
        return None

    # ---- orders -----------------------------------------------------------------------

    def place(self, body: dict[str, Any], *, rms_reject: str | None = None) -> dict[str, Any]:
        """POST /orders: validate like Dhan, book, fill (unless held)."""
        symbol = _validate(self, body)
        order_id = f"52261125{next(self._ids):06d}"
        now = datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")
        order: dict[str, Any] = {
            "dhanClientId": self.client_id, "orderId": order_id, "exchangeOrderId": None,
            "correlationId": body.get("correlationId"), "orderStatus": "TRANSIT",
            "transactionType": body["transactionType"],
            "exchangeSegment": body["exchangeSegment"], "productType": body["productType"],
            "orderType": body["orderType"], "validity": body["validity"],
            "tradingSymbol": symbol, "securityId": str(body["securityId"]),
            "quantity": int(body["quantity"]), "disclosedQuantity": 0, "price": 0.0,
            "triggerPrice": 0.0, "afterMarketOrder": bool(body.get("afterMarketOrder")),
            "boProfitValue": 0.0, "boStopLossValue": 0.0, "legName": None,
            "createTime": now, "updateTime": now, "exchangeTime": None,
            "drvExpiryDate": None, "drvOptionType": None, "drvStrikePrice": 0.0,
            "omsErrorCode": None, "omsErrorDescription": None, "algoId": None,
            "remainingQuantity": int(body["quantity"]), "averageTradedPrice": 0.0,
            "filledQty": 0}
        self.orders[order_id] = order
        price = self.prices.get((order["exchangeSegment"], order["securityId"]))
        if rms_reject is not None or price is None:
            order.update(orderStatus="REJECTED", omsErrorCode="RMS",
                         omsErrorDescription=rms_reject or f"fake: no price for {symbol}")
        elif self.hold_orders:
            order.update(orderStatus="PENDING", exchangeOrderId=f"1100{order_id}")
        else:
            self.fill(order_id)
        return {"orderId": order_id, "orderStatus": "TRANSIT"}

    def fill(self, order_id: str) -> None:
        """Trade an order whole at the current price."""
        order = self.orders[order_id]
        price = self.prices[(order["exchangeSegment"], order["securityId"])]
        order.update(orderStatus="TRADED", averageTradedPrice=float(price),
                     filledQty=order["quantity"], remainingQuantity=0,
                     exchangeOrderId=f"1100{order_id}",
                     exchangeTime=datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S"))

    def by_correlation(self, correlation_id: str) -> dict[str, Any] | None:
        """The latest order carrying `correlation_id`."""
        found = [o for o in self.orders.values() if o["correlationId"] == correlation_id]
        return found[-1] if found else None

    def positions(self) -> list[dict[str, Any]]:
        """GET /positions from the traded orders."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for order in self.orders.values():
            if order["orderStatus"] != "TRADED":
                continue
            key = (order["exchangeSegment"], order["securityId"], order["productType"])
            row = rows.setdefault(key, {
                "dhanClientId": self.client_id, "tradingSymbol": order["tradingSymbol"],
                "securityId": order["securityId"], "positionType": "CLOSED",
                "exchangeSegment": order["exchangeSegment"],
                "productType": order["productType"], "buyAvg": 0.0, "costPrice": 0.0,
                "buyQty": 0, "sellAvg": 0.0, "sellQty": 0, "netQty": 0,
                "realizedProfit": 0.0, "unrealizedProfit": 0.0, "rbiReferenceRate": 1.0,
                "multiplier": 1, "carryForwardBuyQty": 0, "carryForwardSellQty": 0,
                "carryForwardBuyValue": 0.0, "carryForwardSellValue": 0.0,
                "dayBuyQty": 0, "daySellQty": 0, "dayBuyValue": 0.0, "daySellValue": 0.0,
                "drvExpiryDate": None, "drvOptionType": None, "drvStrikePrice": 0.0,
                "crossCurrency": False})
            side = "Buy" if order["transactionType"] == "BUY" else "Sell"
            row[f"day{side}Qty"] += order["filledQty"]
            row[f"day{side}Value"] += order["averageTradedPrice"] * order["filledQty"]
            row[f"{side.lower()}Qty"] = row[f"day{side}Qty"]
            row["netQty"] = row["dayBuyQty"] - row["daySellQty"]
            row["positionType"] = ("LONG" if row["netQty"] > 0 else
                                   "SHORT" if row["netQty"] < 0 else "CLOSED")
        return list(rows.values())


def _validate(book: DhanBook, body: dict[str, Any]) -> str:
    """Dhan's input checks on a new order (400 DH-905 when they fail); the symbol."""
    def bad(message: str) -> DhanError:
        return DhanError(400, "DH-905", "Input_Exception", message)

    if body.get("dhanClientId") != book.client_id:
        raise bad("Invalid dhanClientId")
    for name in ("transactionType", "exchangeSegment", "productType", "orderType",
                 "validity", "securityId", "quantity"):
        if body.get(name) in (None, ""):
            raise bad(f"Missing required field {name}")
    checks = {"transactionType": ("BUY", "SELL"), "exchangeSegment": SEGMENTS,
              "productType": PRODUCTS, "orderType": ORDER_TYPES, "validity": ("DAY", "IOC")}
    for name, allowed in checks.items():
        if body[name] not in allowed:
            raise bad(f"Invalid {name}")
    if not isinstance(body["quantity"], int) or body["quantity"] <= 0:
        raise bad("Invalid quantity")
    correlation = body.get("correlationId")
    if correlation is not None and not CORRELATION.fullmatch(str(correlation)):
        raise bad("Invalid correlationId")
    symbol = book.listed(body["exchangeSegment"], str(body["securityId"]))
    if symbol is None:
        raise bad("Invalid securityId")
    return symbol
