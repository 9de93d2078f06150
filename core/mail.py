"""Outgoing mail behind one interface; the MVP sender writes to the log and an outbox."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

log = logging.getLogger("algo.mail")


@dataclass(frozen=True, slots=True)
class Mail:
    """One message."""

    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Anything that can deliver a Mail."""

    async def send(self, mail: Mail) -> None:
        """Deliver `mail` (or raise)."""
        ...


class LogMailer:
    """Development sender: logs the envelope and appends the message to `outbox.jsonl`.

    The body (which may hold a reset token) goes only to the outbox file in the data
    directory, never to the shared log.
    """

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox = outbox_dir / "outbox.jsonl"

    async def send(self, mail: Mail) -> None:
        """Append to the outbox and log that a mail went out."""
        record = {"ts": datetime.now(UTC).isoformat(), **asdict(mail)}
        await asyncio.to_thread(self._append, json.dumps(record))
        log.info("mail queued to outbox", extra={"to": mail.to, "subject": mail.subject,
                                                 "outbox": str(self.outbox)})

    def _append(self, line: str) -> None:
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("a") as handle:
            handle.write(line + "\n")
