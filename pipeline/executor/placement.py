"""Steps 4-5 of the order path (DESIGN §4): send with our client tag and classify.

    accepted   → follow the broker order to a fill or a rejection
    rejected   → final, never retried
    not sent   → retried after 1 s, 2 s, 4 s (proven never to have reached the broker)
    ambiguous  → look the tag up: adopt the order if found, send again only if absent
    token dead → final; the user must log in to the broker again

The kill switch and the per-account rate limit are consulted before every send.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final, Protocol

from brokers.base import BaseBroker, BrokerOrder, OrderRequest
from brokers.errors import (
    Ambiguous,
    BrokerError,
    NotSent,
    OrderRejected,
    RateLimited,
    TokenExpired,
)
from core.clock import Clock
from core.db.enums import OrderStatus
from core.ratelimit import Rate, RateLimiter
from pipeline.executor.errors import Halted, LookupFailed
from pipeline.executor.outcome import Attempt, Outcome, status_of

NOT_SENT_BACKOFF_S: Final = (1.0, 2.0, 4.0)
LOOKUP_BACKOFF_S: Final = (0.5, 1.0, 2.0)
FOLLOW_DELAYS_S: Final = (0.2, 0.3, 0.5, 1.0, 2.0)
MAX_PROVEN_ABSENT: Final = 3
"""Sends that each ended ambiguous with the order then proven absent, before giving up."""


class HaltCheck(Protocol):
    """The kill switch as the placer sees it (core.halts.HaltStore)."""

    async def reason(self, user_id: str) -> str | None:
        """Why trading is halted for the user, None if it is not; raises if unknown."""
        ...


class LeaseCheck(Protocol):
    """The order lock as the placer sees it (pipeline.executor.locks.Lease)."""

    async def check(self) -> None:
        """Raise LeaseLost unless the lock is still this worker's."""
        ...


def _us(start: float) -> int:
    return int((time.perf_counter() - start) * 1_000_000)


class Placer:
    """Takes one order to the broker and back, never sending it twice."""

    def __init__(self, clock: Clock, halts: HaltCheck, limiter: RateLimiter, rate: Rate, *,
                 fill_timeout_s: float, not_sent_backoff: Sequence[float] = NOT_SENT_BACKOFF_S,
                 lookup_backoff: Sequence[float] = LOOKUP_BACKOFF_S) -> None:
        self._clock = clock
        self._halts = halts
        self._limiter = limiter
        self._rate = rate
        self._fill_timeout_s = fill_timeout_s
        self._not_sent_backoff = tuple(not_sent_backoff)
        self._lookup_backoff = tuple(lookup_backoff)

    async def settle(self, broker: BaseBroker, request: OrderRequest, *, user_id: str,
                     fresh: bool, broker_order_id: str | None, lease: LeaseCheck,
                     may_send: bool = True) -> Outcome:
        """Place the order, or, when an earlier try may have reached the broker (`fresh`
        False), first find out whether it did; an order proven absent is sent only if
        `may_send` (the market is still open for it)."""
        outcome = Outcome(OrderStatus.PENDING)
        if broker_order_id is not None:
            return await self._follow(broker, await self._by_id(broker, broker_order_id,
                                                                 outcome), outcome)
        if not fresh:
            found = await self.lookup(broker, request.client_tag, outcome)
            if found is not None:
                return await self._follow(broker, found, outcome)
            if not may_send:
                outcome.status = OrderStatus.FAILED
                outcome.reason = "never reached the broker, and its market has closed"
                return outcome
        try:
            return await self._send(broker, request, user_id, outcome, lease)
        except Halted as exc:
            # Nothing of this order is at the broker (every earlier try was proven absent).
            outcome.status = OrderStatus.SKIPPED
            outcome.reason = f"trading halted: {exc}"
            return outcome

    async def resolve(self, broker: BaseBroker, client_tag: str, broker_order_id: str | None,
                      ) -> Outcome | None:
        """Reconciliation: the order's state at the broker, None if it is absent. Never sends."""
        outcome = Outcome(OrderStatus.PENDING)
        found = (await self._by_id(broker, broker_order_id, outcome) if broker_order_id
                 else await self.lookup(broker, client_tag, outcome))
        if found is None:
            return None
        outcome.status = status_of(found)
        outcome.broker_order = found
        return outcome

    async def _send(self, broker: BaseBroker, request: OrderRequest, user_id: str,
                    outcome: Outcome, lease: LeaseCheck) -> Outcome:
        not_sent = iter(self._not_sent_backoff)
        absent = 0
        while True:
            await self._clear_to_send(user_id, broker.account, outcome)
            await lease.check()
            outcome.sends += 1
            start = time.perf_counter()
            try:
                placed = await broker.place_order(request)
            except OrderRejected as exc:
                return self._final(outcome, OrderStatus.REJECTED, exc, request, start,
                                   "rejected")
            except TokenExpired as exc:
                return self._final(outcome, OrderStatus.FAILED, exc, request, start,
                                   "token_expired",
                                   reason="broker session expired; log in to the broker again")
            except NotSent as exc:
                self._log(outcome, "place", "not_sent", request, exc, start)
                delay = next(not_sent, None)
                if delay is None:
                    outcome.status = OrderStatus.FAILED
                    outcome.reason = f"not sent after {outcome.sends} tries: {exc.message}"
                    return outcome
                if isinstance(exc, RateLimited):
                    delay = max(delay, exc.retry_after_s)
                await self._clock.sleep(delay)
                continue
            except Ambiguous as exc:
                self._log(outcome, "place", "ambiguous", request, exc, start)
                found = await self.lookup(broker, request.client_tag, outcome)
                if found is not None:
                    return await self._follow(broker, found, outcome)
                absent += 1
                if absent >= MAX_PROVEN_ABSENT:
                    outcome.status = OrderStatus.FAILED
                    outcome.reason = (f"broker failed {absent} times and never booked the "
                                      f"order: {exc.message}")
                    return outcome
                continue
            outcome.attempts.append(Attempt("place", "accepted", request.as_log(),
                                            placed.as_log(), latency_us=_us(start)))
            return await self._follow(broker, placed, outcome)

    async def _clear_to_send(self, user_id: str, account: str, outcome: Outcome) -> None:
        while True:
            decision = await self._limiter.hit("broker", account, self._rate)
            if decision.allowed:
                break
            await self._clock.sleep(decision.retry_after_ms / 1000)
        # Last, right before the send (a rate-limit wait may have seen a halt engaged). A
        # Redis failure propagates: not knowing whether trading is halted means not sending.
        reason = await self._halts.reason(user_id)
        if reason is not None:
            outcome.attempts.append(Attempt("place", "halted", error=reason))
            raise Halted(reason)

    async def lookup(self, broker: BaseBroker, client_tag: str, outcome: Outcome,
                     ) -> BrokerOrder | None:
        """The order carrying `client_tag` at the broker, None if proven absent."""
        delays = iter(self._lookup_backoff)
        while True:
            start = time.perf_counter()
            try:
                found = await broker.find_by_tag(client_tag)
            except (BrokerError, TimeoutError, OSError) as exc:
                self._log(outcome, "lookup", "unavailable", {"client_tag": client_tag}, exc,
                          start)
                delay = next(delays, None)
                if delay is None:
                    raise LookupFailed(str(exc), outcome) from exc
                await self._clock.sleep(delay)
                continue
            outcome.attempts.append(Attempt(
                "lookup", "found" if found else "absent", {"client_tag": client_tag},
                found.as_log() if found else None, latency_us=_us(start)))
            return found

    async def _by_id(self, broker: BaseBroker, broker_order_id: str, outcome: Outcome,
                     ) -> BrokerOrder:
        delays = iter(self._lookup_backoff)
        while True:
            start = time.perf_counter()
            try:
                found = await broker.get_order(broker_order_id)
            except (BrokerError, TimeoutError, OSError) as exc:
                self._log(outcome, "poll", "unavailable", {"broker_order_id": broker_order_id},
                          exc, start)
                delay = next(delays, None)
                if delay is None:
                    raise LookupFailed(str(exc), outcome) from exc
                await self._clock.sleep(delay)
                continue
            outcome.attempts.append(Attempt("poll", found.status.value.lower(),
                                            {"broker_order_id": broker_order_id},
                                            found.as_log(), latency_us=_us(start)))
            return found

    async def _follow(self, broker: BaseBroker, order: BrokerOrder, outcome: Outcome,
                      ) -> Outcome:
        """Poll an accepted order until the broker settles it or the fill timeout passes
        (then it stays ACCEPTED and reconciliation finishes it)."""
        waited = 0.0
        delays = iter(FOLLOW_DELAYS_S)
        while not order.status.final and waited < self._fill_timeout_s:
            delay = next(delays, FOLLOW_DELAYS_S[-1])
            await self._clock.sleep(delay)
            waited += delay
            start = time.perf_counter()
            try:
                order = await broker.get_order(order.broker_order_id)
            except (BrokerError, TimeoutError, OSError) as exc:
                self._log(outcome, "poll", "unavailable",
                          {"broker_order_id": order.broker_order_id}, exc, start)
        outcome.status = status_of(order)
        outcome.broker_order = order
        if outcome.status is not OrderStatus.FILLED:
            outcome.reason = order.message
        return outcome

    def _final(self, outcome: Outcome, status: OrderStatus, exc: BrokerError,
               request: OrderRequest, start: float, kind: str, *, reason: str | None = None,
               ) -> Outcome:
        self._log(outcome, "place", kind, request, exc, start)
        outcome.status = status
        outcome.reason = reason or exc.message
        return outcome

    @staticmethod
    def _log(outcome: Outcome, kind: str, result: str, request: OrderRequest | dict[str, str],
             exc: BaseException, start: float) -> None:
        response = exc.response if isinstance(exc, BrokerError) else None
        outcome.attempts.append(Attempt(
            kind, result, request.as_log() if isinstance(request, OrderRequest) else request,
            response, error=str(exc) or type(exc).__name__, latency_us=_us(start)))
