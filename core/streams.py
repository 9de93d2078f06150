"""`ensure_streams()`: create the four streams of DESIGN §3, or bring them back to spec.

Idempotent; run at every start. A drift the server can change in place (limits, subjects,
dedup window, replicas) is updated; one it cannot (storage, retention) is refused loudly,
because fixing it would mean deleting the stream and its unacknowledged orders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from core import subjects

log = logging.getLogger("algo.streams")

DAY: Final = 24 * 3600.0

# Fields compared to detect drift; anything else on the server is left as the server has it.
_COMPARED: Final = (
    "subjects", "retention", "storage", "max_age", "duplicate_window", "max_bytes",
    "num_replicas", "discard", "max_msgs_per_subject", "allow_direct", "max_msg_size",
)
_IMMUTABLE: Final = ("storage", "retention")


class StreamDriftError(RuntimeError):
    """A stream differs from spec in a way that cannot be fixed without losing data."""


class StreamChange(StrEnum):
    """What `ensure_streams()` did to one stream."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class StreamSpecOptions:
    """Deployment-dependent knobs of the stream specs."""

    replicas: int = 1
    ticks_max_bytes: int = 256 * 1024 * 1024


def stream_specs(options: StreamSpecOptions) -> list[StreamConfig]:
    """The desired configuration of every stream."""
    return [
        StreamConfig(
            name=subjects.TICKS,
            description="Normalised last-traded-price ticks",
            subjects=[subjects.TICKS_ALL],
            storage=StorageType.MEMORY,
            retention=RetentionPolicy.LIMITS,
            max_age=DAY,
            max_bytes=options.ticks_max_bytes,
            discard=DiscardPolicy.OLD,
            num_replicas=options.replicas,
            # Ticks carry no Nats-Msg-Id, so the window costs nothing; 2 min is the
            # server's own default, stated so the drift check compares like with like.
            duplicate_window=2 * 60.0,
            max_msgs_per_subject=-1,
            allow_direct=True,
            max_msg_size=-1,
        ),
        StreamConfig(
            name=subjects.COMMANDS,
            description="Order commands, each consumed once",
            subjects=[subjects.COMMANDS_ALL],
            storage=StorageType.FILE,
            retention=RetentionPolicy.WORK_QUEUE,
            max_age=0,
            max_bytes=-1,
            discard=DiscardPolicy.OLD,
            num_replicas=options.replicas,
            duplicate_window=DAY,
            max_msgs_per_subject=-1,
            allow_direct=False,
            max_msg_size=-1,
        ),
        StreamConfig(
            name=subjects.EVENTS,
            description="Everything users, admins and services may need to see",
            subjects=[subjects.EVENTS_ALL],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=7 * DAY,
            max_bytes=-1,
            discard=DiscardPolicy.OLD,
            num_replicas=options.replicas,
            duplicate_window=DAY,
            max_msgs_per_subject=-1,
            allow_direct=True,
            max_msg_size=-1,
        ),
        StreamConfig(
            name=subjects.DLQ,
            description="Commands that exhausted their deliveries",
            subjects=[subjects.DLQ_ALL],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=0,
            max_bytes=-1,
            discard=DiscardPolicy.OLD,
            num_replicas=options.replicas,
            duplicate_window=2 * 60.0,
            max_msgs_per_subject=-1,
            allow_direct=False,
            max_msg_size=-1,
        ),
    ]


def _drift(current: StreamConfig, wanted: StreamConfig) -> dict[str, tuple[object, object]]:
    diff: dict[str, tuple[object, object]] = {}
    for field in _COMPARED:
        have, want = getattr(current, field), getattr(wanted, field)
        if field == "subjects":
            have, want = sorted(have or []), sorted(want or [])
        elif field in ("max_age", "duplicate_window"):
            have, want = round(float(have or 0), 3), round(float(want or 0), 3)
        elif field == "allow_direct":
            have, want = bool(have), bool(want)
        if have != want:
            diff[field] = (have, want)
    return diff


async def ensure_streams(js: JetStreamContext,
                         options: StreamSpecOptions | None = None) -> dict[str, StreamChange]:
    """Create missing streams and update drifted ones; returns what was done to each."""
    report: dict[str, StreamChange] = {}
    for wanted in stream_specs(options or StreamSpecOptions()):
        assert wanted.name is not None
        try:
            info = await js.stream_info(wanted.name)
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("stream created", extra={"stream": wanted.name})
            report[wanted.name] = StreamChange.CREATED
            continue
        diff = _drift(info.config, wanted)
        if not diff:
            report[wanted.name] = StreamChange.UNCHANGED
            continue
        fatal = sorted(set(diff) & set(_IMMUTABLE))
        if fatal:
            raise StreamDriftError(
                f"stream {wanted.name} has {', '.join(fatal)} {[diff[f][0] for f in fatal]}"
                f" but must have {[diff[f][1] for f in fatal]}; move its messages and recreate it"
            )
        await js.update_stream(wanted)
        log.warning("stream config drift fixed",
                    extra={"stream": wanted.name, "drift": {k: list(v) for k, v in diff.items()}})
        report[wanted.name] = StreamChange.UPDATED
    return report
