"""The fake SmartAPI's state: the account's secrets and sessions, the order book, prices,
and the fault switches tests arm. Written from the protocol facts (SmartAPI docs and
angel-one/smartapi-python), never from the adapter's code. Documented codes are used where
Angel documents one (AB1007, AB1050, AB8050, AB4008, AB1013, AG8001); the validation and
RMS codes (AB4009, AB4036, AB1019, AG8004) are the fake's own: Angel's are not published."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import pyotp

from tests.fakes.angel.master import listing, master_json

IST: Final = ZoneInfo("Asia/Kolkata")
TAG_MAX: Final = 20
"""Angel refuses an ordertag longer than this with AB4008 (forum topic 4859)."""
SESSION_S: Final = 28 * 3600


class AngelError(Exception):
    """An error answer: HTTP status + Angel's error envelope."""

    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class InvalidToken(Exception):
    """A call with a jwtToken Angel does not know (answered in the `success` spelling)."""


@dataclass
class Fault:
    """A switch for the next `count` calls of a group ("order", "read", "any")."""

    kind: str
    """reject | accept_then_timeout | error_5xx | rate_limit | token_expired"""
    group: str = "order"
    count: int = 1
    code: str = "AB4036"
    message: str = "fake: order rejected by RMS"
    hang_s: float = 5.0


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: str


def fake_jwt(client_code: str) -> str:
    """A JWT-shaped token with `exp` 28 h ahead (the signature means nothing)."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    claims = {"username": client_code, "exp": int(time.time()) + SESSION_S,
              "jti": secrets.token_hex(8)}
    return f"{part({'alg': 'HS512'})}.{part(claims)}.{secrets.token_urlsafe(16)}"


@dataclass
class AngelBook:
    """Everything the fake server knows."""

    api_key: str = "fakeangelkey"
    client_code: str = "A1234567"
    pin: str = "1234"
    totp_secret: str = field(default_factory=pyotp.random_base32)
    prices: dict[tuple[str, str], int] = field(default_factory=lambda: {
        ("NSE", "RELIANCE-EQ"): 250_075, ("NSE", "SBIN-EQ"): 47_000,
        ("NSE", "INFY-EQ"): 107_435})
    """Paise, by (exchange, Angel tradingsymbol)."""
    master: bytes = field(default_factory=master_json)
    hold_orders: bool = False
    jwts: set[str] = field(default_factory=set)
    feed_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    logins: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- sessions ---------------------------------------------------------------------

    def issue_session(self) -> dict[str, str]:
        """A live session, as a login makes it."""
        tokens = {"jwtToken": fake_jwt(self.client_code),
                  "refreshToken": secrets.token_hex(16), "feedToken": secrets.token_hex(16)}
        self.jwts.add(tokens["jwtToken"])
        self.refresh_tokens.add(tokens["refreshToken"])
        self.feed_tokens.add(tokens["feedToken"])
        return tokens

    def login(self, body: dict[str, Any]) -> dict[str, str]:
        """loginByPassword: client code, PIN and a TOTP of the current ±1 window."""
        if body.get("clientcode") != self.client_code or body.get("password") != self.pin:
            raise AngelError("AB1007", "Invalid clientcode or password")
        if not pyotp.TOTP(self.totp_secret).verify(str(body.get("totp", "")),
                                                   valid_window=1):
            raise AngelError("AB1050", "Invalid totp")
        self.logins += 1
        return {**self.issue_session(), "state": body.get("state", "")}

    def refresh(self, refresh_token: str) -> dict[str, str]:
        """generateTokens."""
        if refresh_token not in self.refresh_tokens:
            raise AngelError("AB8050", "Invalid Refresh Token")
        return self.issue_session()

    def authorize(self, api_key: str | None, authorization: str | None) -> None:
        """X-PrivateKey and `Authorization: Bearer jwt` (the bare jwt accepted too)."""
        if api_key != self.api_key:
            raise AngelError("AG8004", "Invalid API Key", status=403)
        token = (authorization or "").removeprefix("Bearer ").strip()
        if token not in self.jwts:
            raise InvalidToken()

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

    # ---- orders -----------------------------------------------------------------------

    def place(self, body: dict[str, Any]) -> dict[str, str]:
        """placeOrder: validate like Angel, book, fill (unless held)."""
        _validate(body)
        row = listing().get((body["exchange"], body["tradingsymbol"]))
        if row is None or row["token"] != body["symboltoken"]:
            raise AngelError("AB1019", "Invalid symboltoken")  # checked before booking
        number = next(self._ids)
        order_id = f"2611250000{number:05d}"
        unique = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{number:04d}"
        now = datetime.now(IST).strftime("%d-%b-%Y %H:%M:%S")
        quantity = str(int(body["quantity"]))
        self.orders[order_id] = {
            "variety": body["variety"], "ordertype": body["ordertype"],
            "producttype": body["producttype"], "duration": body["duration"],
            "price": 0.0, "triggerprice": 0.0, "quantity": quantity,
            "disclosedquantity": "0", "squareoff": 0.0, "stoploss": 0.0,
            "trailingstoploss": 0.0, "tradingsymbol": body["tradingsymbol"],
            "transactiontype": body["transactiontype"], "exchange": body["exchange"],
            "symboltoken": body["symboltoken"], "ordertag": body.get("ordertag", ""),
            "instrumenttype": row["instrumenttype"], "strikeprice": -1.0, "optiontype": "",
            "expirydate": row["expiry"], "lotsize": row["lotsize"], "cancelsize": "0",
            "averageprice": 0.0, "filledshares": "0", "unfilledshares": quantity,
            "orderid": order_id, "text": "", "status": "open pending",
            "orderstatus": "open pending", "updatetime": now, "exchtime": "",
            "exchorderupdatetime": "", "fillid": "", "filltime": "", "parentorderid": "",
            "uniqueorderid": unique, "exchangeorderid": ""}
        price = self.prices.get((body["exchange"], body["tradingsymbol"]))
        if price is None:
            self._set(order_id, "rejected", text="fake: no price for this instrument")
        elif self.hold_orders:
            self._set(order_id, "open", exchangeorderid=f"1100000{order_id[-8:]}")
        else:
            self.fill(order_id)
        return {"script": body["tradingsymbol"], "orderid": order_id,
                "uniqueorderid": unique}

    def fill(self, order_id: str) -> None:
        """Complete an order at the current price."""
        order = self.orders[order_id]
        price = self.prices[(order["exchange"], order["tradingsymbol"])]
        self._set(order_id, "complete", averageprice=price / 100,
                  filledshares=order["quantity"], unfilledshares="0",
                  exchangeorderid=f"1100000{order_id[-8:]}",
                  exchtime=datetime.now(IST).strftime("%d-%b-%Y %H:%M:%S"))

    def _set(self, order_id: str, status: str, **changes: Any) -> None:
        self.orders[order_id].update(status=status, orderstatus=status, **changes)

    def by_unique(self, unique: str) -> dict[str, Any] | None:
        """The order with this uniqueorderid."""
        return next((o for o in self.orders.values() if o["uniqueorderid"] == unique), None)

    def positions(self) -> list[dict[str, str]]:
        """getPosition from the complete orders; every number a string, as Angel sends."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for order in self.orders.values():
            if order["status"] != "complete":
                continue
            key = (order["exchange"], order["tradingsymbol"])
            row = rows.setdefault(key, {"buyqty": 0, "sellqty": 0, "buyamount": 0.0,
                                        "sellamount": 0.0, "order": order})
            side = "buy" if order["transactiontype"] == "BUY" else "sell"
            row[f"{side}qty"] += int(order["filledshares"])
            row[f"{side}amount"] += order["averageprice"] * int(order["filledshares"])
        return [_position(r) for r in rows.values()]


def _position(row: dict[str, Any]) -> dict[str, str]:
    order = row["order"]
    net = row["buyqty"] - row["sellqty"]
    buy_avg = row["buyamount"] / row["buyqty"] if row["buyqty"] else 0.0
    sell_avg = row["sellamount"] / row["sellqty"] if row["sellqty"] else 0.0
    return {
        "exchange": order["exchange"], "symboltoken": order["symboltoken"],
        "producttype": order["producttype"], "tradingsymbol": order["tradingsymbol"],
        "symbolname": order["tradingsymbol"].removesuffix("-EQ"),
        "instrumenttype": order["instrumenttype"], "priceden": "1.00", "pricenum": "1.00",
        "genden": "1.00", "gennum": "1.00", "precision": "2", "multiplier": "-1",
        "boardlotsize": "1", "buyqty": str(row["buyqty"]), "sellqty": str(row["sellqty"]),
        "buyamount": f"{row['buyamount']:.2f}", "sellamount": f"{row['sellamount']:.2f}",
        "symbolgroup": "EQ", "strikeprice": "-1", "optiontype": "", "expirydate": "",
        "lotsize": "1", "cfbuyqty": "0", "cfsellqty": "0", "cfbuyamount": "0.00",
        "cfsellamount": "0.00", "buyavgprice": f"{buy_avg:.2f}",
        "sellavgprice": f"{sell_avg:.2f}", "avgnetprice": f"{buy_avg:.2f}",
        "netvalue": f"{row['sellamount'] - row['buyamount']:.2f}", "netqty": str(net),
        "totalbuyvalue": f"{row['buyamount']:.2f}",
        "totalsellvalue": f"{row['sellamount']:.2f}", "cfbuyavgprice": "0.00",
        "cfsellavgprice": "0.00", "totalbuyavgprice": f"{buy_avg:.2f}",
        "totalsellavgprice": f"{sell_avg:.2f}", "netprice": f"{buy_avg:.2f}"}


_CHOICES: Final = {
    "variety": ("NORMAL", "STOPLOSS", "AMO", "ROBO"),
    "transactiontype": ("BUY", "SELL"),
    "exchange": ("NSE", "BSE", "NFO", "MCX", "BFO", "CDS"),
    "ordertype": ("MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"),
    "producttype": ("DELIVERY", "CARRYFORWARD", "MARGIN", "INTRADAY", "BO"),
    "duration": ("DAY", "IOC"),
}


def _validate(body: dict[str, Any]) -> None:
    """Angel's input checks on a new order (status false, nothing booked)."""
    for name, allowed in _CHOICES.items():
        if body.get(name) not in allowed:
            raise AngelError("AB1012" if name == "producttype" else "AB4009",
                             f"Invalid {name}")
    for name in ("tradingsymbol", "symboltoken", "quantity"):
        if not str(body.get(name, "")):
            raise AngelError("AB4009", f"{name} is required")
    if not str(body["quantity"]).isdigit() or int(body["quantity"]) <= 0:
        raise AngelError("AB4009", "Invalid quantity")
    if len(str(body.get("ordertag", ""))) > TAG_MAX:
        raise AngelError("AB4008", "Ordertag length should not exceed 20 characters")
