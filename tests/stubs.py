"""Shared test helpers: waiting without sleeping, and builders."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(condition: Callable[[], Any], timeout: float = 5.0,
                     interval: float = 0.02, message: str = "condition") -> Any:
    """Poll `condition` (sync or async) until it returns a truthy value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        try:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            last = result
            last_exc = None
            if result:
                return result
        except AssertionError as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{message} not met within {timeout}s (last value {last!r})") from last_exc
        await asyncio.sleep(interval)
