"""Builders for the admin API tests: the three roles' tokens, strategies and orders in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.enums import Role
from core.db.models import AuditLog, Order, OrderLog, Strategy
from core.ids import new_id
from core.repos import users
from core.security.passwords import hash_password
from tests.stubs import PASSWORD, bearer, login, make_admin, signup


@dataclass
class Roles:
    """An admin, a trader and a broker operator, logged in."""

    admin: dict[str, Any]
    trader: dict[str, Any]
    operator: dict[str, Any]

    @property
    def admin_headers(self) -> dict[str, str]:
        """The admin's Authorization header."""
        return bearer(self.admin["access_token"])

    @property
    def others(self) -> list[dict[str, str]]:
        """The headers of the two roles that may not use the admin API."""
        return [bearer(self.trader["access_token"]), bearer(self.operator["access_token"])]


async def roles(client: HttpClient, sessions: async_sessionmaker[AsyncSession]) -> Roles:
    """One account of each role."""
    admin = await make_admin(client, sessions)
    trader = await signup(client, "trader@example.com")
    async with sessions() as session, session.begin():
        await users.create_user(session, email="ops@example.com",
                                password_hash=hash_password(PASSWORD, 4), role=Role.BROKER)
    return Roles(admin, trader, await login(client, "ops@example.com"))


async def add_strategy(sessions: async_sessionmaker[AsyncSession], user_id: str, *,
                       status: str = "CREATED", position: str = "NONE", symbol: str = "INFY",
                       simulated: bool = False) -> Strategy:
    """A strategy row put straight into the database."""
    row = Strategy(id=new_id("str"), user_id=user_id, name=f"s-{symbol}", exchange="NSE",
                   symbol=symbol, buy_time=time(9, 20), sell_time=time(15, 0),
                   stop_loss_type="PRICE", stop_loss_value=Decimal(1400), quantity=1,
                   status=status, position=position, is_simulated=simulated, rev=1)
    async with sessions() as session, session.begin():
        session.add(row)
    return row


async def add_order(sessions: async_sessionmaker[AsyncSession], strategy: Strategy, *,
                    action: str = "BUY", status: str = "FILLED", day: date | None = None,
                    trace_id: str | None = None) -> Order:
    """An order with one attempt log."""
    order_id = new_id("ord")
    order = Order(id=order_id, user_id=strategy.user_id, strategy_id=strategy.id,
                  trading_day=day or date(2026, 11, 25), action=action,
                  side="BUY" if action == "BUY" else "SELL", exchange=strategy.exchange,
                  symbol=strategy.symbol, quantity=strategy.quantity, broker_type="paper",
                  client_tag=order_id, status=status, attempts=1, trace_id=trace_id)
    async with sessions() as session, session.begin():
        session.add(order)
        await session.flush()
        session.add(OrderLog(order_id=order_id, strategy_id=strategy.id,
                             user_id=strategy.user_id, attempt=1, action=action, status=status,
                             outcome="accepted", request={"qty": 1}, response={"ok": True},
                             latency_us=1500, trace_id=trace_id))
    return order


async def audit_rows(sessions: async_sessionmaker[AsyncSession],
                     action: str | None = None) -> list[AuditLog]:
    """Audit rows, oldest first (of one action if given)."""
    query = select(AuditLog).order_by(AuditLog.id)
    if action is not None:
        query = query.where(AuditLog.action == action)
    async with sessions() as session:
        return list((await session.execute(query)).scalars())
