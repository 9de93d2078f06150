"""The replay's message bus: JetStream's publish, kept inside the process.

The trigger, the stop-loss watcher and the executor publish commands and events through a
`JetStreamContext`; in a replay they get this bus instead, so nothing of a simulated day
reaches the live streams (where live executors would take its commands). Publishes are
de-duplicated by `Nats-Msg-Id` exactly as the streams do, and kept in order for the engine
to deliver: commands to the executor, events to the watcher.
"""

from __future__ import annotations

from typing import cast

from nats.js import JetStreamContext
from nats.js.api import PubAck

from core import subjects
from core.messages import Event, OrderCommand, decoder

STREAM = "REPLAY"


class LocalBus:
    """Collects commands and events published by the replay's components."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._seq = 0
        self._commands: list[OrderCommand] = []
        self._events: list[Event] = []
        self._decode_command = decoder(OrderCommand).decode
        self._decode_event = decoder(Event).decode
        self.duplicates = 0

    def as_jetstream(self) -> JetStreamContext:
        """This bus where a component wants JetStream (only `publish` is ever called)."""
        return cast(JetStreamContext, self)

    async def publish(self, subject: str, payload: bytes = b"", timeout: float | None = None,
                      stream: str | None = None, headers: dict[str, str] | None = None,
                      ) -> PubAck:
        """Store one message unless its `Nats-Msg-Id` was seen (then report a duplicate)."""
        self._seq += 1
        msg_id = (headers or {}).get(subjects.MSG_ID_HEADER)
        if msg_id is not None:
            if msg_id in self._seen:
                self.duplicates += 1
                return PubAck(stream=STREAM, seq=self._seq, duplicate=True)
            self._seen.add(msg_id)
        if subject.startswith("cmd."):
            self._commands.append(self._decode_command(payload))
        elif subject.startswith("events."):
            self._events.append(self._decode_event(payload))
        return PubAck(stream=STREAM, seq=self._seq, duplicate=False)

    def take_commands(self) -> list[OrderCommand]:
        """The commands published since the last call, in order."""
        taken, self._commands = self._commands, []
        return taken

    def take_events(self) -> list[Event]:
        """The events published since the last call, in order."""
        taken, self._events = self._events, []
        return taken
