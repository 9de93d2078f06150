"""E-mail and push senders behind interfaces; the MVP senders log (chosen by settings)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from core.mail import LogMailer, Mail, Mailer
from core.settings import Settings

log = logging.getLogger("algo.pipeline.notifier.push")


@dataclass(frozen=True, slots=True)
class Push:
    """One push message to all of a user's devices."""

    user_id: str
    title: str
    body: str
    data: dict[str, Any]


class PushSender(Protocol):
    """Anything that can deliver a Push (FCM, APNs, web push …)."""

    async def send(self, push: Push) -> None:
        """Deliver `push` (or raise)."""
        ...


class LogPushSender:
    """MVP sender: logs the push instead of sending it."""

    async def send(self, push: Push) -> None:
        """Log that a push went out."""
        log.info("push sent", extra={"user_id": push.user_id, "title": push.title})


@dataclass(frozen=True, slots=True)
class Senders:
    """The notifier's outbound channels."""

    mail: Mailer
    push: PushSender


def build_senders(settings: Settings) -> Senders:
    """The senders chosen by `ALGO_MAILER` and `ALGO_PUSH_SENDER`."""
    # One choice of each so far ("log"); a real provider adds a Literal value and a branch.
    return Senders(mail=LogMailer(settings.data_dir / "outbox"), push=LogPushSender())


__all__ = ["Mail", "Push", "PushSender", "Senders", "build_senders"]
