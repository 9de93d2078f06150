"""The fake Kite's state: the app's keys and sessions, the order book, prices, and the
fault switches tests arm. Written from the protocol facts (Kite Connect v3 docs and
zerodha/kiteconnect-mocks), never from the adapter's code."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

MOCKS: Final = Path(__file__).parent / "mocks"
IST: Final = ZoneInfo("Asia/Kolkata")

# Our own rows on top of the published sample master (which lists none of these):
# instrument_token = exchange_token << 8 | 1 (NSE). RELIANCE 2885, INFY 1594, SBIN 3045.
EXTRA_INSTRUMENTS: Final = (
    "738561,2885,RELIANCE,RELIANCE INDUSTRIES,0.0,,0.0,0.05,1,EQ,NSE,NSE\n"
    "408065,1594,INFY,INFOSYS,0.0,,0.0,0.05,1,EQ,NSE,NSE\n"
    "779521,3045,SBIN,STATE BANK OF INDIA,0.0,,0.0,0.05,1,EQ,NSE,NSE\n")
TAG_MAX: Final = 20


def mock(name: str) -> Any:
    """A published mock response, parsed."""
    return json.loads((MOCKS / name).read_text())


def sample_instruments() -> str:
    """The published sample master plus RELIANCE, INFY and SBIN."""
    return (MOCKS / "instruments_nse.csv").read_text().rstrip("\n") + "\n" + EXTRA_INSTRUMENTS


class KiteError(Exception):
    """An error answer: HTTP status + Kite's error envelope."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


@dataclass
class Fault:
    """A switch for the next `count` calls of a group ("order", "read", "any")."""

    kind: str
    """reject | rms_reject | accept_then_timeout | error_5xx | book_then_5xx | rate_limit |
    token_expired"""
    group: str = "order"
    count: int = 1
    status: int = 400
    error_type: str = "InputException"
    message: str = "fake: rejected"
    hang_s: float = 5.0


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    query: list[tuple[str, str]]


@dataclass
class KiteBook:
    """Everything the fake server knows."""

    api_key: str = "fakekey"
    api_secret: str = "fakesecret"
    user_id: str = "ZX1234"
    prices: dict[str, Decimal] = field(default_factory=lambda: {
        "NSE:RELIANCE": Decimal("2500.75"), "NSE:INFY": Decimal("1074.35"),
        "NSE:SBIN": Decimal("470.00")})
    instruments_csv: str = field(default_factory=sample_instruments)
    hold_orders: bool = False
    """True: new orders stay OPEN until `fill()`."""
    request_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- sessions ---------------------------------------------------------------------

    def issue_request_token(self) -> str:
        """What Kite's login redirect would hand the app."""
        token = secrets.token_hex(16)
        self.request_tokens.add(token)
        return token

    def issue_access_token(self) -> str:
        """A live session, as if the user had logged in."""
        token = secrets.token_hex(16)
        self.access_tokens.add(token)
        return token

    def exchange(self, api_key: str, request_token: str, checksum: str) -> dict[str, Any]:
        """POST /session/token."""
        expected = hashlib.sha256(
            (self.api_key + request_token + self.api_secret).encode()).hexdigest()
        if (api_key != self.api_key or request_token not in self.request_tokens
                or checksum != expected):
            raise KiteError(403, "TokenException", "Token is invalid or has expired.")
        self.request_tokens.discard(request_token)  # single use
        data: dict[str, Any] = mock("generate_session.json")["data"]
        data.update(user_id=self.user_id, api_key=self.api_key,
                    access_token=self.issue_access_token(), public_token=secrets.token_hex(8),
                    login_time=datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S"))
        return data

    def authorize(self, header: str | None) -> None:
        """Check `Authorization: token api_key:access_token`."""
        scheme, _, credentials = (header or "").partition(" ")
        api_key, _, token = credentials.partition(":")
        if scheme != "token" or api_key != self.api_key or token not in self.access_tokens:
            raise KiteError(403, "TokenException", "Incorrect `api_key` or `access_token`.")

    def token_of(self, key: str) -> int | None:
        """The instrument_token of `EXCHANGE:SYMBOL` in the served master."""
        exchange, _, symbol = key.partition(":")
        for line in self.instruments_csv.splitlines()[1:]:
            cells = line.split(",")
            if len(cells) >= 12 and cells[2] == symbol and cells[11] == exchange:
                return int(cells[0])
        return None

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

    def place(self, variety: str, form: dict[str, str], *, rms_reject: str | None = None,
              ) -> str:
        """POST /orders/{variety}: validate like Kite, book, fill (unless held)."""
        _validate(variety, form)
        order_id = f"2611250{next(self._ids):08d}"
        key = f"{form['exchange']}:{form['tradingsymbol']}"
        price = self.prices.get(key)
        base: dict[str, Any] = copy.deepcopy(mock("order_info.json")["data"][-1])
        now = datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")
        base.update(
            order_id=order_id, exchange_order_id=None, placed_by=self.user_id, variety=variety,
            exchange=form["exchange"], tradingsymbol=form["tradingsymbol"],
            instrument_token=0, order_type=form["order_type"],
            transaction_type=form["transaction_type"], validity=form.get("validity", "DAY"),
            product=form["product"], quantity=int(form["quantity"]), price=0,
            trigger_price=0, average_price=0, filled_quantity=0,
            pending_quantity=int(form["quantity"]), cancelled_quantity=0,
            market_protection=int(form.get("market_protection", "0")),
            tag=form.get("tag") or None, order_timestamp=now, exchange_timestamp=None,
            status_message=None)
        history = [dict(base, status=s) for s in ("PUT ORDER REQ RECEIVED",
                                                  "VALIDATION PENDING", "OPEN PENDING")]
        self.orders[order_id] = history
        if rms_reject is not None:
            history.append(dict(base, status="REJECTED", status_message=rms_reject,
                                pending_quantity=0))
        elif price is None:
            history.append(dict(base, status="REJECTED", pending_quantity=0,
                                status_message=f"fake: no price for {key}"))
        elif self.hold_orders:
            history.append(dict(base, status="OPEN", exchange_order_id=f"1{order_id}"))
        else:
            self.fill(order_id)
        return order_id

    def fill(self, order_id: str) -> None:
        """Complete an order at the current price."""
        last = self.orders[order_id][-1]
        price = self.prices[f"{last['exchange']}:{last['tradingsymbol']}"]
        self.orders[order_id].append(dict(
            last, status="COMPLETE", average_price=float(price),
            filled_quantity=last["quantity"], pending_quantity=0,
            exchange_order_id=f"1{order_id}",
            exchange_timestamp=datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")))

    def order_book(self) -> list[dict[str, Any]]:
        """GET /orders: each order's latest state, oldest first."""
        return [history[-1] for history in self.orders.values()]

    def positions(self) -> dict[str, list[dict[str, Any]]]:
        """GET /portfolio/positions from the COMPLETE orders (net = day: one day)."""
        template = mock("positions.json")["data"]["net"][0]
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for order in self.order_book():
            if order["status"] != "COMPLETE":
                continue
            row = rows.setdefault((order["exchange"], order["tradingsymbol"]), dict(
                template, tradingsymbol=order["tradingsymbol"], exchange=order["exchange"],
                product=order["product"], quantity=0, buy_quantity=0, sell_quantity=0,
                buy_value=0.0, sell_value=0.0, multiplier=1, overnight_quantity=0))
            value = order["average_price"] * order["filled_quantity"]
            side = "buy" if order["transaction_type"] == "BUY" else "sell"
            row[f"{side}_quantity"] += order["filled_quantity"]
            row[f"{side}_value"] += value
            row["quantity"] = row["buy_quantity"] - row["sell_quantity"]
        net = list(rows.values())
        return {"net": net, "day": copy.deepcopy(net)}


def _validate(variety: str, form: dict[str, str]) -> None:
    """Kite's input checks on a new order (400 InputException when they fail)."""
    if variety not in ("regular", "amo", "co", "iceberg", "auction"):
        raise KiteError(400, "InputException", "Invalid `variety`.")
    for name in ("exchange", "tradingsymbol", "transaction_type", "quantity", "product",
                 "order_type"):
        if not form.get(name):
            raise KiteError(400, "InputException", f"Missing `{name}`.")
    if form["transaction_type"] not in ("BUY", "SELL"):
        raise KiteError(400, "InputException", "Invalid `transaction_type`.")
    if not form["quantity"].isdigit() or int(form["quantity"]) <= 0:
        raise KiteError(400, "InputException", "Invalid `quantity`.")
    tag = form.get("tag", "")
    if len(tag) > TAG_MAX or (tag and not tag.isalnum()):
        raise KiteError(400, "InputException", "Invalid `tag`.")
    if form["order_type"] == "MARKET" and form.get("market_protection", "0") in ("", "0"):
        raise KiteError(400, "InputException",
                        "Market orders without market protection are not allowed via API. "
                        "Please set market protection or use a Limit order.")
