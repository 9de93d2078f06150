"""Publishing order commands on `cmd.order.{user_id}.{strategy_id}` (DESIGN §3, §4).

Every command carries `Nats-Msg-Id = {strategy_id}:{trading_day}:{action}`, so the same
intent published twice — by two trigger replicas, a retry, a stop racing a fill — is
stored once by the COMMANDS stream.
"""

from __future__ import annotations

from datetime import datetime

from nats.js import JetStreamContext

from core import subjects
from core.db.enums import OrderAction
from core.messages import OrderCommand, encode
from core.trace import TRACE_HEADER, current_trace_id


def build_command(now: datetime, *, user_id: str, strategy_id: str, trading_day: str,
                  action: OrderAction, reason: str, rev: int = 0,
                  trigger_price_paise: int | None = None) -> OrderCommand:
    """A command issued at `now`."""
    return OrderCommand(user_id=user_id, strategy_id=strategy_id, trading_day=trading_day,
                        action=action.value, reason=reason, rev=rev,
                        issued_at=int(now.timestamp() * 1_000_000_000),
                        trigger_price_paise=trigger_price_paise)


async def publish_command(js: JetStreamContext, command: OrderCommand) -> bool:
    """Publish idempotently; returns False when the stream already had this intent."""
    headers = {subjects.MSG_ID_HEADER: subjects.order_msg_id(
        command.strategy_id, command.trading_day, command.action)}
    trace_id = current_trace_id()
    if trace_id:
        headers[TRACE_HEADER] = trace_id
    ack = await js.publish(subjects.order_command(command.user_id, command.strategy_id),
                           encode(command), headers=headers)
    return not ack.duplicate


class CommandPublisher:
    """`publish_command` bound to a JetStream context, for services that issue commands."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, command: OrderCommand) -> bool:
        """Publish idempotently; False when the stream already had this intent."""
        return await publish_command(self._js, command)
