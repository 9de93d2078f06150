"""The admin event stream, followed for as long as the console runs.

The server ends a stream when its credential expires (and a slow reader is cut off), so
the feed reconnects — with a fresh token and `Last-Event-ID` — and loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

import httpx

from console.api import AdminApi, error_of
from console.errors import ApiError
from console.sse import ServerEvent, SseParser

PATH: Final = "/admin/events/stream"


class EventFeed:
    """Iterate to receive the admin SSE events; reconnects with backoff forever."""

    def __init__(self, api: AdminApi, *, min_delay_s: float = 0.5, max_delay_s: float = 30.0,
                 read_timeout_s: float = 90.0) -> None:
        self._api = api
        self._min = min_delay_s
        self._max = max_delay_s
        self._read_timeout = read_timeout_s
        self.last_event_id: int | None = None
        self.connected = False
        self.connections = 0
        self.last_error: str | None = None

    async def __aiter__(self) -> AsyncIterator[ServerEvent]:
        delay = self._min
        while True:
            parser = SseParser()
            try:
                async for event in self._one_connection(parser):
                    delay = self._min
                    yield event
                delay = self._min  # a clean end: the credential expired; come back at once
            except httpx.TransportError as exc:
                self.last_error = f"{type(exc).__name__}"
            except ApiError as exc:
                if exc.status < 500 and exc.status != 429:
                    raise  # forbidden or gone: reconnecting will not help
                self.last_error = exc.error_code
            finally:
                self.connected = False
            if parser.retry_ms is not None:
                delay = max(delay, parser.retry_ms / 1000)
            await asyncio.sleep(min(delay, self._max))
            delay = min(delay * 2, self._max)

    async def _one_connection(self, parser: SseParser) -> AsyncIterator[ServerEvent]:
        token = await self._api.access_token()
        response = await self._open(token)
        if response.status_code == 401:
            await response.aclose()
            response = await self._open(await self._api.refresh(stale=token))
        try:
            if response.status_code >= 400:
                await response.aread()
                raise error_of(response)
            self.connected = True
            self.connections += 1
            self.last_error = None
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is not None:
                    if event.id is not None:
                        self.last_event_id = event.id
                    yield event
        finally:
            await response.aclose()

    async def _open(self, token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        timeout = httpx.Timeout(10.0, read=self._read_timeout)
        request = self._api.http.build_request("GET", PATH, headers=headers, timeout=timeout)
        return await self._api.http.send(request, stream=True)
