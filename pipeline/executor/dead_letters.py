"""The dead-letter path (RUN-7): a command that cannot be executed is parked on
`dlq.commands.executor` with why, and its owner and the admins hear of it."""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from core import subjects
from core.events import EventPublisher, EventType
from core.messages import OrderCommand

log = logging.getLogger("algo.pipeline.executor")

SUBJECT: Final = subjects.dlq(subjects.COMMANDS, "executor")
REASON_HEADER: Final = subjects.DLQ_REASON_HEADER
SUBJECT_HEADER: Final = subjects.DLQ_SUBJECT_HEADER
DELIVERIES_HEADER: Final = subjects.DLQ_DELIVERIES_HEADER


class DeadLetters:
    """Parks commands on the DLQ stream and raises an ERROR event for each."""

    def __init__(self, js: JetStreamContext, events: EventPublisher) -> None:
        self._js = js
        self._events = events

    async def park(self, msg: Msg, command: OrderCommand | None, reason: str) -> None:
        """Copy the command to the DLQ stream (idempotently), then announce it."""
        original = msg.headers or {}
        headers = {REASON_HEADER: reason[:1000], SUBJECT_HEADER: msg.subject,
                   DELIVERIES_HEADER: str(msg.metadata.num_delivered)}
        if subjects.MSG_ID_HEADER in original:
            headers[subjects.MSG_ID_HEADER] = f"{original[subjects.MSG_ID_HEADER]}:dlq"
        await self._js.publish(SUBJECT, msg.data, headers=headers)
        if command is None:
            return
        # The event is informative; the command itself is safe on the DLQ already.
        with contextlib.suppress(Exception):
            await self._events.publish(self._events.build(
                EventType.ERROR, user_id=command.user_id, strategy_id=command.strategy_id,
                rev=command.rev, data={"kind": "command_dead_lettered",
                                       "action": command.action,
                                       "trading_day": command.trading_day,
                                       "message": f"{command.action} could not be executed: "
                                                  f"{reason}"}))
