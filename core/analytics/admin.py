"""Platform analytics for admins (ANA-2): the platform today and overall, user growth
(new, active, churned) and orders (volume, success rate, broker mix). Answers are cached
platform-wide for the cache TTL (they are not invalidated per fill)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.analytics import figures
from core.analytics.cache import AnalyticsCache
from core.analytics.figures import Period, Totals, rate
from core.analytics.service import date_range
from core.clock import IST, Clock, trading_day
from core.repos import analytics_platform as repo

_TRUNC = {Period.DAILY: "day", Period.WEEKLY: "week", Period.MONTHLY: "month"}


class Platform(Totals, kw_only=True):
    """The platform overall (all days) and today."""

    simulated: bool
    day: date
    users_total: int
    users_active: int
    """Accounts not deleted nor deactivated."""
    strategies_total: int
    strategies_running: int
    traders_today: int
    orders_today: int
    realized_pnl_today: Decimal


class UserBucket(msgspec.Struct, kw_only=True):
    """One period of user growth."""

    start: date
    end: date
    new_users: int
    users_total: int
    """Accounts existing at the end of the period."""
    active_users: int
    """Users who tried at least one order in the period."""
    churned_users: int
    """Users active in the previous period and not in this one."""
    churn_rate: Decimal | None
    """churned_users / the previous period's active_users."""


class UserGrowth(msgspec.Struct, kw_only=True):
    """User growth per period."""

    simulated: bool
    period: Period
    start: date
    end: date
    buckets: list[UserBucket]


class OrderBucket(msgspec.Struct, kw_only=True):
    """One period of order volume."""

    start: date
    end: date
    orders_total: int = 0
    orders_filled: int = 0
    orders_rejected: int = 0
    success_rate: Decimal | None = None
    turnover: Decimal = Decimal("0.00")
    """Traded value of the filled orders (price x quantity, both sides)."""


class BrokerShare(msgspec.Struct, kw_only=True):
    """One broker type's orders over the whole range."""

    broker: str
    orders_total: int = 0
    orders_filled: int = 0
    orders_rejected: int = 0
    success_rate: Decimal | None = None
    share: Decimal | None = None
    """This broker's part of all orders in the range."""
    turnover: Decimal = Decimal("0.00")


class OrderVolume(msgspec.Struct, kw_only=True):
    """Orders per period and by broker."""

    simulated: bool
    period: Period
    start: date
    end: date
    orders_total: int
    orders_filled: int
    success_rate: Decimal | None
    buckets: list[OrderBucket]
    brokers: list[BrokerShare]


def _end_of(start: date, period: Period, end: date) -> date:
    return min(figures.next_start(start, period) - timedelta(days=1), end)


class PlatformAnalytics:
    """Admin figures, computed with SQL aggregates over the daily tables and today's orders."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: AnalyticsCache,
                 clock: Clock) -> None:
        self._sessions = sessions
        self._cache = cache
        self._clock = clock

    async def platform(self, *, simulated: bool) -> Platform:
        """Users, strategies, and order figures overall and today."""
        today = trading_day(self._clock)

        async def compute() -> Platform:
            async with self._sessions() as session:
                days = await repo.platform_days(session, simulated=simulated)
                users_total, users_active = await repo.user_counts(
                    session, self._clock.now())
                strategies_total, running = await repo.strategy_counts(
                    session, simulated=simulated)
            result = Platform(simulated=simulated, day=today, users_total=users_total,
                              users_active=users_active, strategies_total=strategies_total,
                              strategies_running=running, traders_today=0, orders_today=0,
                              realized_pnl_today=Decimal("0.00"))
            for d in days:
                result.realized_pnl += d.gross_pnl
                result.orders_total += d.orders_total
                result.orders_filled += d.orders_filled
                result.orders_rejected += d.orders_rejected
                result.trades += d.trades
                result.wins += d.wins
                result.losses += d.losses
                if d.day == today:
                    result.traders_today = d.traders
                    result.orders_today = d.orders_total
                    result.realized_pnl_today = d.gross_pnl
            return figures.finish(result)

        return await self._cache.admin(f"platform:{int(simulated)}:{today}", Platform, compute)

    async def users(self, *, simulated: bool, period: Period, start: date | None = None,
                    end: date | None = None) -> UserGrowth:
        """New, total, active and churned users per period."""
        lo, hi = date_range(self._clock, period, start, end)

        async def compute() -> UserGrowth:
            starts = figures.period_starts(lo, hi, period)
            before = figures.bucket_start(starts[0] - timedelta(days=1), period)
            async with self._sessions() as session:
                signups = await repo.signups_by_day(session, starts[0], hi)
                base_total, _ = await repo.user_counts(
                    session, datetime(starts[0].year, starts[0].month, starts[0].day,
                                      tzinfo=IST))
                pairs = await repo.active_traders(session, simulated=simulated, start=before,
                                                  end=hi, unit=_TRUNC[period])
            active: dict[date, set[str]] = defaultdict(set)
            for bucket, user_id in pairs:
                active[bucket].add(user_id)
            buckets, total, previous = [], base_total, active.get(before, set())
            for s in starts:
                e = _end_of(s, period, hi)
                new = sum(n for d, n in signups.items() if s <= d <= e)
                total += new
                now = active.get(s, set())
                churned = len(previous - now)
                buckets.append(UserBucket(start=max(s, lo), end=e, new_users=new,
                                          users_total=total, active_users=len(now),
                                          churned_users=churned,
                                          churn_rate=rate(churned, len(previous))))
                previous = now
            return UserGrowth(simulated=simulated, period=period, start=lo, end=hi,
                              buckets=buckets)

        query = f"users:{int(simulated)}:{period.value}:{lo}:{hi}"
        return await self._cache.admin(query, UserGrowth, compute)

    async def orders(self, *, simulated: bool, period: Period, start: date | None = None,
                     end: date | None = None) -> OrderVolume:
        """Order volume and success rate per period, and the broker mix over the range."""
        lo, hi = date_range(self._clock, period, start, end)

        async def compute() -> OrderVolume:
            async with self._sessions() as session:
                rows = await repo.broker_days(session, simulated=simulated, start=lo, end=hi)
            buckets = {s: OrderBucket(start=max(s, lo), end=_end_of(s, period, hi))
                       for s in figures.period_starts(lo, hi, period)}
            brokers: dict[str, BrokerShare] = {}
            for r in rows:
                bucket = buckets[figures.bucket_start(r.day, period)]
                share = brokers.setdefault(r.broker_type, BrokerShare(broker=r.broker_type))
                for target in (bucket, share):
                    target.orders_total += r.orders_total
                    target.orders_filled += r.orders_filled
                    target.orders_rejected += r.orders_rejected
                    target.turnover += r.turnover
            total = sum(b.orders_total for b in brokers.values())
            filled = sum(b.orders_filled for b in brokers.values())
            for bucket in buckets.values():
                bucket.success_rate = rate(bucket.orders_filled, bucket.orders_total)
            for share in brokers.values():
                share.success_rate = rate(share.orders_filled, share.orders_total)
                share.share = rate(share.orders_total, total)
            return OrderVolume(
                simulated=simulated, period=period, start=lo, end=hi, orders_total=total,
                orders_filled=filled, success_rate=rate(filled, total),
                buckets=list(buckets.values()),
                brokers=sorted(brokers.values(), key=lambda b: (-b.orders_total, b.broker)))

        query = f"orders:{int(simulated)}:{period.value}:{lo}:{hi}"
        return await self._cache.admin(query, OrderVolume, compute)
