"""The scheduler's one wait: until an instant on the service's clock, or until woken."""

from __future__ import annotations

import asyncio
from datetime import datetime

from core.clock import Clock, sleep_until


async def wait_until(clock: Clock, when: datetime, wake: asyncio.Event) -> None:
    """Return once `clock` reaches `when`, or as soon as `wake` is set, whichever is first.

    The delay is computed inside the sleeping task (by `sleep_until`), at the moment it
    starts sleeping, so time that passes before the task runs is never slept twice.
    """
    if wake.is_set():
        return
    sleeper = asyncio.create_task(sleep_until(clock, when))
    woken = asyncio.create_task(wake.wait())
    try:
        await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, woken):
            task.cancel()
        # Their own cancellations are results here; a cancellation of this task still raises.
        await asyncio.gather(sleeper, woken, return_exceptions=True)
