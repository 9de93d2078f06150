"""The fake Fyers' state: the app, its auth codes and JWT access tokens, the order book,
prices, the symbol master, and the fault switches tests arm. Written from the protocol
facts (Fyers API v3 docs; PROTOCOLS.md §3), never from the adapter's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

IST: Final = ZoneInfo("Asia/Kolkata")
TAG_MAX: Final = 30
SESSION_S: Final = 24 * 3600
_SIGNING_KEY: Final = secrets.token_bytes(32)

# fytoken, name, ISIN, ticker, scrip code: our three shares, a BE-series share, an index.
_LISTED: Final = (
    ("10100000002885", "RELIANCE INDUSTRIES LTD", "INE002A01018", "NSE:RELIANCE-EQ", 2885),
    ("10100000001594", "INFOSYS LIMITED", "INE009A01021", "NSE:INFY-EQ", 1594),
    ("10100000003045", "STATE BANK OF INDIA", "INE062A01020", "NSE:SBIN-EQ", 3045),
    ("101000000014366", "VODAFONE IDEA LIMITED", "INE669E01016", "NSE:IDEA-EQ", 14366),
    ("10100000004716", "CENTRAL BANK OF INDIA", "INE483A01010", "NSE:CENTRALBK-BE", 4716),
    ("101000000026000", "Nifty 50", "", "NSE:NIFTY50-INDEX", 26000),
)


def master_row(fytoken: str, name: str, isin: str, ticker: str, scrip: int) -> str:
    """One NSE_CM.csv row in the documented column order (21 columns, no header)."""
    symbol = ticker.split(":")[1].rsplit("-", 1)[0]
    return ",".join([fytoken, name, "0", "1", "0.05", isin, "0915-1530|1815-1915:",
                     "1764028800", "", ticker, "10", "10", str(scrip), symbol, str(scrip),
                     "-1.0", "XX", fytoken, "None", "0", "0.0"])


def sample_master(extra: int = 60) -> str:
    """The listed rows plus `extra` made-up shares, so a truncated copy looks short."""
    rows = [master_row(*listed) for listed in _LISTED]
    rows += [master_row(f"1010000000{9000 + i}", f"FAKE SHARE {i}", f"INE9{i:05d}A01",
                        f"NSE:FAKE{i}-EQ", 9000 + i) for i in range(extra)]
    return "\n".join(rows) + "\n"


def topic_of(ticker: str) -> str | None:
    """The data socket topic of a listed ticker ("sf|nse_cm|2885")."""
    for fytoken, _, _, listed, _ in _LISTED:
        if listed == ticker:
            return f"sf|nse_cm|{fytoken[10:]}"
    if ticker.startswith("NSE:FAKE"):
        return f"sf|nse_cm|{9000 + int(ticker[8:].split('-')[0])}"
    return None


def fytoken_of(ticker: str) -> str | None:
    """The fytoken of a listed ticker."""
    return next((f for f, _, _, t, _ in _LISTED if t == ticker), None)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FyersError(Exception):
    """An error answer: HTTP status + Fyers' `{"s": "error", "code", "message"}`."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Fault:
    """A switch for the next `count` calls of a group ("order", "read", "any")."""

    kind: str
    """reject | rms_reject | accept_then_timeout | no_ack | error_5xx | book_then_5xx |
    rate_limit | token_expired"""
    group: str = "order"
    count: int = 1
    status: int = 400
    code: int = -99
    message: str = "fake: rejected"
    hang_s: float = 5.0


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    """By lower-cased name."""
    body: Any
    query: list[tuple[str, str]]


@dataclass
class FyersBook:
    """Everything the fake server knows."""

    app_id: str = "FAKEAPP1-100"
    secret: str = "fakesecret"
    fy_id: str = "XF12345"
    prices: dict[str, Decimal] = field(default_factory=lambda: {
        "NSE:RELIANCE-EQ": Decimal("2500.75"), "NSE:INFY-EQ": Decimal("1074.35"),
        "NSE:SBIN-EQ": Decimal("470.00")})
    master_csv: str = field(default_factory=sample_master)
    hold_orders: bool = False
    """True: new orders stay pending (status 6) until `fill()`."""
    auth_codes: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, str] = field(default_factory=dict)
    """Live access token → its hsm_key."""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- sessions ---------------------------------------------------------------------

    def issue_auth_code(self) -> str:
        """What Fyers' login redirect would hand the app (`auth_code`)."""
        code = self._jwt({"sub": "auth_code", "app_id": self.app_id.split("-")[0],
                          "exp": int(time.time()) + 300})
        self.auth_codes.add(code)
        return code

    def issue_access_token(self, *, lifetime_s: int = SESSION_S, hsm: bool = True) -> str:
        """A live session, as if the user had logged in: a JWT with `exp` and `hsm_key`."""
        key = secrets.token_hex(16)
        claims: dict[str, Any] = {"sub": "access_token", "fy_id": self.fy_id,
                                  "exp": int(time.time()) + lifetime_s, "appType": 100}
        if hsm:
            claims["hsm_key"] = key
        token = self._jwt(claims)
        self.access_tokens[token] = key
        return token

    def app_id_hash(self) -> str:
        """sha256("app_id:secret") as the app must send it."""
        return hashlib.sha256(f"{self.app_id}:{self.secret}".encode()).hexdigest()

    def validate_authcode(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /api/v3/validate-authcode."""
        if body.get("grant_type") != "authorization_code":
            raise FyersError(400, -50, "Invalid grant_type")
        if body.get("appIdHash") != self.app_id_hash():
            raise FyersError(400, -371, "Invalid appIdHash")
        code = body.get("code")
        if code not in self.auth_codes:
            raise FyersError(400, -374, "Invalid auth code")
        self.auth_codes.discard(code)  # single use
        refresh = self._jwt({"sub": "refresh_token", "exp": int(time.time()) + 15 * 86400})
        self.refresh_tokens.add(refresh)
        return {"s": "ok", "code": 200, "message": "",
                "access_token": self.issue_access_token(), "refresh_token": refresh}

    def authorize(self, header: str | None, *, with_app_id: bool = True) -> str:
        """Check `Authorization: app_id:access_token` (the bare token for symbol-token);
        returns the token."""
        app_id, _, token = (header or "").rpartition(":") if with_app_id else ("", "",
                                                                                header or "")
        if (with_app_id and app_id != self.app_id) or token not in self.access_tokens:
            raise FyersError(401, -16, "Could not authenticate the user")
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        if claims["exp"] < time.time():
            raise FyersError(401, -8, "Your token has expired. Please generate a token")
        return token

    def _jwt(self, claims: dict[str, Any]) -> str:
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps({"iss": "api.fyers.in", "iat": int(time.time()),
                                **claims}).encode())
        signature = hmac.new(_SIGNING_KEY, f"{head}.{body}".encode(), hashlib.sha256)
        return f"{head}.{body}.{_b64(signature.digest())}"

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

    def place(self, body: dict[str, Any], *, rms_reject: str | None = None) -> str:
        """POST /api/v3/orders/sync: validate like Fyers, book, fill (unless held)."""
        _validate(body, self.master_csv)
        order_id = f"26112500{next(self._ids):06d}"
        ticker = body["symbol"]
        tag = body.get("orderTag")
        self.orders[order_id] = {
            "clientId": self.fy_id, "id": order_id, "id_fyers": secrets.token_hex(8),
            "exchOrdId": "", "qty": body["qty"], "remainingQuantity": body["qty"],
            "filledQty": 0, "discloseQty": 0, "limitPrice": 0, "stopPrice": 0,
            "tradedPrice": 0, "type": body["type"], "fyToken": fytoken_of(ticker) or "",
            "exchange": 10, "segment": 10, "symbol": ticker, "instrument": 0,
            "message": "", "offlineOrder": False,
            "orderDateTime": datetime.now(IST).strftime("%d-%b-%Y %H:%M:%S"),
            "orderValidity": body.get("validity", "DAY"), "pan": "",
            "productType": body["productType"], "side": body["side"], "status": 4,
            "source": "API", "ex_sym": ticker.split(":")[1].rsplit("-", 1)[0],
            "description": "", "ch": 0, "chp": 0, "lp": 0, "slNo": len(self.orders) + 1,
            "dqQtyRem": 0, "orderNumStatus": f"{order_id}:4", "disclosedQty": 0,
            "orderTag": f"1:{tag}" if tag else "2:Untagged", "takeProfit": 0,
            "stopLoss": 0}
        price = self.prices.get(ticker)
        if rms_reject is not None or price is None:
            self._set(order_id, 5, message=rms_reject or f"fake: no price for {ticker}")
        elif self.hold_orders:
            self._set(order_id, 6)
        else:
            self.fill(order_id)
        return order_id

    def fill(self, order_id: str) -> None:
        """Trade an order in full at the current price."""
        order = self.orders[order_id]
        price = self.prices[order["symbol"]]
        order.update(tradedPrice=float(price), filledQty=order["qty"], remainingQuantity=0,
                     exchOrdId=f"1100000{order_id}", lp=float(price))
        self._set(order_id, 2)

    def _set(self, order_id: str, status: int, message: str = "") -> None:
        order = self.orders[order_id]
        order.update(status=status, orderNumStatus=f"{order_id}:{status}", message=message)

    def order_book(self, *, order_id: str | None = None,
                   tag: str | None = None) -> list[dict[str, Any]]:
        """GET /api/v3/orders, optionally filtered by id or by orderTag ("1:<tag>")."""
        book = list(self.orders.values())
        if order_id is not None:
            book = [o for o in book if o["id"] == order_id]
        if tag is not None:
            book = [o for o in book if o["orderTag"] == tag]
        return book

    def positions(self) -> dict[str, Any]:
        """GET /api/v3/positions from the traded orders."""
        rows: dict[str, dict[str, Any]] = {}
        for order in self.orders.values():
            if order["status"] != 2:
                continue
            ticker = order["symbol"]
            row = rows.setdefault(ticker, {
                "netQty": 0, "qty": 0, "avgPrice": 0.0, "netAvg": 0.0, "side": 0,
                "productType": order["productType"], "realized_profit": 0.0,
                "unrealized_profit": 0.0, "pl": 0.0, "ltp": float(self.prices[ticker]),
                "buyQty": 0, "buyAvg": 0.0, "buyVal": 0.0, "sellQty": 0, "sellAvg": 0.0,
                "sellVal": 0.0, "slNo": len(rows), "fyToken": order["fyToken"],
                "crossCurrency": "N", "rbiRefRate": 1.0, "qtyMulti_com": 1.0,
                "segment": 10, "symbol": ticker, "id": f"{ticker}-{order['productType']}",
                "cfBuyQty": 0, "cfSellQty": 0, "dayBuyQty": 0, "daySellQty": 0,
                "exchange": 10})
            side = "buy" if order["side"] == 1 else "sell"
            row[f"{side}Qty"] += order["filledQty"]
            row[f"{side}Val"] += order["tradedPrice"] * order["filledQty"]
            row[f"day{side.title()}Qty"] += order["filledQty"]
            row["netQty"] = row["buyQty"] - row["sellQty"]
            row["qty"] = abs(row["netQty"])
            row["side"] = (row["netQty"] > 0) - (row["netQty"] < 0)
        net = list(rows.values())
        overall = {"count_total": len(net), "count_open": sum(1 for r in net if r["netQty"]),
                   "pl_total": 0.0, "pl_realized": 0.0, "pl_unrealized": 0.0}
        return {"s": "ok", "code": 200, "message": "", "netPositions": net,
                "overall": overall}


def _validate(body: dict[str, Any], master: str) -> None:
    """Fyers' input checks on a new order (400, code -50 / -300, when they fail)."""
    for name in ("symbol", "qty", "type", "side", "productType"):
        if body.get(name) in (None, ""):
            raise FyersError(400, -50, f"Invalid input: {name} is required")
    if f",{body['symbol']}," not in master:
        raise FyersError(400, -300, "Invalid symbol provided")
    if not isinstance(body["qty"], int) or body["qty"] <= 0:
        raise FyersError(400, -50, "Invalid input: qty")
    if body["type"] not in (1, 2, 3, 4) or body["side"] not in (1, -1):
        raise FyersError(400, -50, "Invalid input: type or side")
    if body["productType"] not in ("CNC", "INTRADAY", "MARGIN", "CO", "BO", "MTF"):
        raise FyersError(400, -50, "Invalid input: productType")
    tag = body.get("orderTag")
    if tag is not None and (not isinstance(tag, str) or not 1 <= len(tag) <= TAG_MAX
                            or not tag.isalnum() or tag == "Untagged"):
        raise FyersError(400, -50, "Invalid input: orderTag")
