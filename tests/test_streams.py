"""ensure_streams() is idempotent and fixes drift; COMMANDS drops duplicate intents."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from core import subjects
from core.messages import OrderCommand, encode
from core.streams import (
    StreamChange,
    StreamDriftError,
    StreamSpecOptions,
    ensure_streams,
    stream_specs,
)


async def _drop_all(js: JetStreamContext) -> None:
    for info in await js.streams_info():
        assert info.config.name
        await js.delete_stream(info.config.name)


async def test_creates_every_stream_then_changes_nothing(js: JetStreamContext) -> None:
    await _drop_all(js)
    first = await ensure_streams(js)
    assert first == {name: StreamChange.CREATED for name in ("TICKS", "COMMANDS", "EVENTS", "DLQ")}
    second = await ensure_streams(js)
    assert set(second.values()) == {StreamChange.UNCHANGED}


async def test_stream_configs_match_the_design(js: JetStreamContext) -> None:
    ticks = (await js.stream_info("TICKS")).config
    assert ticks.storage == StorageType.MEMORY and ticks.subjects == ["ticks.>"]
    assert ticks.max_age == pytest.approx(86400)
    commands = (await js.stream_info("COMMANDS")).config
    assert commands.storage == StorageType.FILE
    assert commands.retention == RetentionPolicy.WORK_QUEUE
    assert commands.duplicate_window == pytest.approx(86400)
    events = (await js.stream_info("EVENTS")).config
    assert events.max_age == pytest.approx(7 * 86400)
    assert events.duplicate_window == pytest.approx(86400)
    assert (await js.stream_info("DLQ")).config.subjects == ["dlq.>"]


async def test_drift_in_limits_is_fixed(js: JetStreamContext) -> None:
    events = (await js.stream_info("EVENTS")).config
    events.max_age = 3600
    events.duplicate_window = 60
    events.subjects = ["events.>", "stray.>"]
    await js.update_stream(events)

    report = await ensure_streams(js)

    assert report["EVENTS"] == StreamChange.UPDATED
    assert report["COMMANDS"] == StreamChange.UNCHANGED
    fixed = (await js.stream_info("EVENTS")).config
    assert fixed.max_age == pytest.approx(7 * 86400)
    assert fixed.duplicate_window == pytest.approx(86400)
    assert fixed.subjects == ["events.>"]
    assert set((await ensure_streams(js)).values()) == {StreamChange.UNCHANGED}


async def test_drift_that_would_lose_data_is_refused(js: JetStreamContext) -> None:
    await js.delete_stream("TICKS")
    await js.add_stream(StreamConfig(name="TICKS", subjects=["ticks.>"],
                                     storage=StorageType.FILE))
    with pytest.raises(StreamDriftError, match="TICKS has storage"):
        await ensure_streams(js)


async def test_replicas_follow_the_options() -> None:
    specs = stream_specs(StreamSpecOptions(replicas=3))
    assert {spec.num_replicas for spec in specs} == {3}


def _command(action: str = "BUY") -> OrderCommand:
    return OrderCommand(user_id="usr_A", strategy_id="str_B", trading_day="2026-11-25",
                        action=action, reason="schedule", issued_at=1)


async def test_commands_stream_drops_a_duplicate_intent(js: JetStreamContext) -> None:
    cmd = _command()
    subject = subjects.order_command(cmd.user_id, cmd.strategy_id)
    msg_id = subjects.order_msg_id(cmd.strategy_id, cmd.trading_day, cmd.action)

    first = await js.publish(subject, encode(cmd), headers={subjects.MSG_ID_HEADER: msg_id})
    again = await js.publish(subject, encode(cmd), headers={subjects.MSG_ID_HEADER: msg_id})

    assert first.stream == "COMMANDS" and not first.duplicate
    assert again.duplicate is True and again.seq == first.seq
    assert (await js.stream_info("COMMANDS")).state.messages == 1

    sell = _command("SELL")
    other = await js.publish(subject, encode(sell), headers={
        subjects.MSG_ID_HEADER: subjects.order_msg_id(sell.strategy_id, sell.trading_day,
                                                      sell.action)})
    assert not other.duplicate
    assert (await js.stream_info("COMMANDS")).state.messages == 2


async def test_events_stream_drops_a_republished_event(js: JetStreamContext) -> None:
    subject = subjects.event("usr_A", "str_B", "ORDER_EXECUTED")
    headers = {subjects.MSG_ID_HEADER: "evt_SAME"}
    await js.publish(subject, b"{}", headers=headers)
    again = await js.publish(subject, b"{}", headers=headers)
    assert again.duplicate is True
    assert (await js.stream_info("EVENTS")).state.messages == 1
