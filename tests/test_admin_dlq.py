"""/admin/dlq: list, inspect, retry once (the executor still makes at most one order per
intent), discard — every change audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import subjects
from core.clock import FakeClock
from core.commands import build_command
from core.db.enums import OrderAction, OrderStatus
from core.db.models import Order
from core.embedded.stack import Endpoints
from core.messages import encode
from tests.admin_kit import audit_rows, roles
from tests.conftest import make_settings
from tests.order_kit import TRADING_DAY, Kit, at
from tests.stubs import eventually

DLQ_SUBJECT = "dlq.commands.executor"


@pytest.fixture
def kit(endpoints: Endpoints, tmp_path: Path, sessions: async_sessionmaker[AsyncSession],
        redis: Redis, nc: NatsClient, js: JetStreamContext) -> Kit:
    """An executor kit at 09:30 IST on a trading day."""
    settings = make_settings(endpoints, tmp_path, executor_ack_wait_s=2.0,
                             order_lock_ttl_s=2.0, executor_max_deliver=4)
    return Kit(settings, sessions, redis, nc, js, FakeClock(at(9, 30)))


async def park(js: JetStreamContext, body: bytes, subject: str, reason: str = "boom") -> int:
    """Put a message on the DLQ as the executor's dead-letter path does."""
    ack = await js.publish(DLQ_SUBJECT, body, headers={
        "Algo-Reason": reason, "Algo-Subject": subject, "Algo-Deliveries": "4",
        subjects.MSG_ID_HEADER: f"{subject}:dlq"})
    return int(ack.seq)


def command_bytes(kit: Kit, user_id: str, strategy_id: str, action: OrderAction) -> bytes:
    """An encoded command for today's trading day."""
    return encode(build_command(kit.clock.now(), user_id=user_id, strategy_id=strategy_id,
                                trading_day=TRADING_DAY.isoformat(), action=action,
                                reason="test"))


async def order_count(sessions: async_sessionmaker[AsyncSession], strategy_id: str) -> int:
    """How many order rows a strategy has."""
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Order).where(
            Order.strategy_id == strategy_id))).scalar_one())


async def test_list_inspect_and_discard(client: HttpClient,
                                        sessions: async_sessionmaker[AsyncSession],
                                        js: JetStreamContext) -> None:
    accounts = await roles(client, sessions)
    headers = accounts.admin_headers
    seqs = [await park(js, b'{"v":1,"user_id":"usr_1"}', f"cmd.order.usr_1.str_{i}",
                       reason=f"reason {i}") for i in range(3)]
    seqs.append(await park(js, b"\xffnot json", "cmd.order.usr_1.str_x"))
    page1 = await (await client.get("/admin/dlq?limit=3", headers=headers)).get_json()
    assert [d["seq"] for d in page1["items"]] == seqs[:3]
    first = page1["items"][0]
    assert first["reason"] == "reason 0"
    assert first["original_subject"] == "cmd.order.usr_1.str_0"
    assert first["deliveries"] == 4
    assert first["command"] == {"v": 1, "user_id": "usr_1"}
    assert first["retry"] is None
    assert first["parked_at"] is not None
    page2 = await (await client.get(f"/admin/dlq?limit=3&cursor={page1['next_cursor']}",
                                    headers=headers)).get_json()
    assert [d["seq"] for d in page2["items"]] == seqs[3:]
    assert page2["items"][0]["command"] is None
    assert page2["items"][0]["raw"].endswith("not json")
    assert page2["next_cursor"] is None

    one = await client.get(f"/admin/dlq/{seqs[1]}", headers=headers)
    assert (await one.get_json())["reason"] == "reason 1"
    # Neither a broken body nor a body that is no command can be retried.
    for seq in (seqs[0], seqs[3]):
        refused = await client.post(f"/admin/dlq/{seq}/retry", headers=headers)
        assert refused.status_code == 409, seq
    gone = await client.delete(f"/admin/dlq/{seqs[1]}", headers=headers)
    assert gone.status_code == 204
    assert (await client.get(f"/admin/dlq/{seqs[1]}", headers=headers)).status_code == 404
    assert (await client.delete(f"/admin/dlq/{seqs[1]}", headers=headers)).status_code == 404
    listed = await (await client.get("/admin/dlq", headers=headers)).get_json()
    assert [d["seq"] for d in listed["items"]] == [seqs[0], seqs[2], seqs[3]]
    [row] = await audit_rows(sessions, "admin.dlq.discard")
    assert (row.target_type, row.target_id) == ("dlq_message", str(seqs[1]))
    assert row.details["reason"] == "reason 1"
    assert row.details["command"] == {"v": 1, "user_id": "usr_1"}
    assert await audit_rows(sessions, "admin.dlq.retry") == []


async def test_retry_runs_a_command_once_and_never_makes_a_second_order(
        kit: Kit, client: HttpClient, sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext) -> None:
    accounts = await roles(client, sessions)
    headers = accounts.admin_headers
    done = await kit.running_strategy("a@example.com")
    fresh = await kit.running_strategy("b@example.com")
    factory = kit.counting_factory()
    async with kit.executor(factory) as executor:
        await kit.command(done, OrderAction.BUY)
        assert (await kit.settled(done.id, OrderAction.BUY)).status == OrderStatus.FILLED
        assert len(factory.calls) == 1
        # The BUY of `done` is parked although it was executed (say its ack was lost); the
        # BUY of `fresh` was parked before any order row was written.
        again = await park(js, command_bytes(kit, done.user_id, done.id, OrderAction.BUY),
                           subjects.order_command(done.user_id, done.id))
        first = await park(js, command_bytes(kit, fresh.user_id, fresh.id, OrderAction.BUY),
                           subjects.order_command(fresh.user_id, fresh.id))

        retried = await client.post(f"/admin/dlq/{again}/retry", headers=headers)
        assert retried.status_code == 200, await retried.get_data()
        body = await retried.get_json()
        assert body["retry"]["msg_id"] == f"{done.id}:{TRADING_DAY.isoformat()}:BUY:retry:{again}"
        assert body["retry"]["duplicate"] is False
        assert body["retry"]["actor_id"] == accounts.admin["user"]["id"]
        await eventually(lambda: executor.consumer.handled == 2, message="retry handled")
        assert len(factory.calls) == 1  # the order existed: no second broker order
        assert await order_count(sessions, done.id) == 1

        twice = await client.post(f"/admin/dlq/{again}/retry", headers=headers)
        assert twice.status_code == 409

        assert (await client.post(f"/admin/dlq/{first}/retry", headers=headers)).status_code \
            == 200
        assert (await kit.settled(fresh.id, OrderAction.BUY)).status == OrderStatus.FILLED
        await eventually(lambda: executor.consumer.handled == 3, message="second retry")
        assert len(factory.calls) == 2
        assert await order_count(sessions, fresh.id) == 1
        assert executor.consumer.dead_lettered == 0
    listed = await (await client.get("/admin/dlq", headers=headers)).get_json()
    assert all(d["retry"] is not None for d in listed["items"])
    rows = await audit_rows(sessions, "admin.dlq.retry")
    assert [r.target_id for r in rows] == [str(again), str(first)]
    assert rows[0].details["command_seq"] == body["retry"]["command_seq"]
    assert rows[0].details["action"] == "BUY"
