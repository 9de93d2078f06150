"""A lean HTTP/1.1 keep-alive load generator for the benchmarks.

httpx spends more CPU per request than the server under test does, so at hundreds of
concurrent clients it measures itself; this client pre-builds each request's bytes and
parses only the status line and Content-Length.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """Latencies (seconds) of completed requests, error count, wall time."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def percentile_ms(self, q: float) -> float:
        """The q-quantile latency in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    @property
    def per_s(self) -> float:
        """Completed requests per second."""
        return round(len(self.latencies) / self.elapsed_s, 1) if self.elapsed_s else 0.0


def build_request(method: str, path: str, host: str, headers: dict[str, str] | None = None,
                  body: bytes = b"") -> bytes:
    """The bytes of one keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(host: str, port: int, requests: Sequence[bytes], clients: int,
                      seconds: float) -> LoadResult:
    """`clients` connections, each sending its request again as soon as the last answered.

    Every connection is opened and used once before the clock starts; a connection the
    server closes is reopened and counted as an error.
    """
    result = LoadResult()
    warmed = 0
    go = asyncio.Event()
    deadline = started = 0.0

    async def worker(i: int) -> None:
        nonlocal warmed, deadline, started
        request = requests[i % len(requests)]
        reader, writer = await asyncio.open_connection(host, port)
        await _exchange(reader, writer, request)
        warmed += 1
        if warmed == clients:  # the last one in starts the clock for everyone
            started = time.perf_counter()
            deadline = started + seconds
            go.set()
        await go.wait()
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                status = await _exchange(reader, writer, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status >= 400:
                result.errors += 1
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(clients)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def paced(host: str, port: int, requests: Sequence[bytes], clients: int,
                per_client_per_s: float, seconds: float) -> LoadResult:
    """`clients` connections, each sending on a fixed schedule (random phase).

    Latency counts from the scheduled send time, so a slow answer that delays the next
    request is charged to that request too (no coordinated omission).
    """
    result = LoadResult()
    interval = 1.0 / per_client_per_s
    rng = random.Random(7)
    phases = [rng.random() * interval for _ in range(clients)]
    connections = await asyncio.gather(*(asyncio.open_connection(host, port)
                                         for _ in range(clients)))
    for i, (reader, writer) in enumerate(connections):
        await _exchange(reader, writer, requests[i % len(requests)])
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(i: int) -> None:
        reader, writer = connections[i]
        request = requests[i % len(requests)]
        scheduled = started + phases[i]
        while scheduled < deadline:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                status = await _exchange(reader, writer, request)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                scheduled += interval
                continue
            result.latencies.append(time.perf_counter() - scheduled)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status >= 400:
                result.errors += 1
            scheduled += interval
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(clients)))
    result.elapsed_s = time.perf_counter() - started
    return result
