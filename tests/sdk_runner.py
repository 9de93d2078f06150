"""Running a client script of tests/sdk/ with the SDK venv's Python (see tests/sdk/).

`run_sdk_client` runs a script to its end and returns the JSON object it printed last.
`sdk_client` runs one as a conversation, for checks where the test must act on the fake
between two SDK calls (arm a fault, approve a consent, push a tick once the SDK has
subscribed): the script prints a JSON line when it reaches such a point and waits for one
on its stdin; the test reads it with `receive()` and answers with `send()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"
SCRIPTS = Path(__file__).resolve().parent / "sdk"
LINE_LIMIT = 1 << 24
"""The longest JSON line a conversing script may print."""


def sdk_python() -> Path:
    """The SDK venv's interpreter; the test is skipped where `make test` has not made it."""
    if not SDK_PYTHON.exists():
        pytest.skip("no .venv-sdk: `make test` creates it (the brokers' SDKs live there)")
    return SDK_PYTHON


async def run_sdk_client(script: str, *args: str, timeout_s: float = 60.0) -> Any:
    """Run `tests/sdk/<script>` with `args`; its last stdout line, parsed as JSON.

    A failing script fails the test with its stderr.
    """
    proc = await asyncio.create_subprocess_exec(
        str(sdk_python()), str(SCRIPTS / script), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise AssertionError(f"{script} exited {proc.returncode}: "
                             f"{err.decode(errors='replace')[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


class SdkClient:
    """A client script running under the SDK venv: JSON lines both ways."""

    def __init__(self, script: str, proc: asyncio.subprocess.Process,
                 timeout_s: float) -> None:
        self.script = script
        self.timeout_s = timeout_s
        self._proc = proc
        self._err = bytearray()
        assert proc.stderr is not None
        self._drain = asyncio.create_task(self._collect(proc.stderr))

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        """Keep its stderr (the SDKs log there), so the pipe never fills."""
        while chunk := await stream.read(65536):
            self._err.extend(chunk)

    def stderr(self) -> str:
        """What the script has written to stderr so far."""
        return self._err.decode(errors="replace")

    async def _failed(self, why: str) -> AssertionError:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._drain), 5)
        sys.stderr.write(self.stderr())
        return AssertionError(f"{self.script} {why}: {self.stderr()[-2000:]}")

    async def receive(self, timeout_s: float | None = None) -> Any:
        """The next JSON line the script printed."""
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(),
                                          timeout_s or self.timeout_s)
        except TimeoutError:
            raise await self._failed("printed nothing in time") from None
        if not line:
            code = await self._proc.wait()
            raise await self._failed(f"exited {code} before printing what the test awaited")
        return json.loads(line)

    async def send(self, message: Any = None) -> None:
        """One JSON line to the script's stdin (None: just "go on")."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self._proc.stdin.drain()

    async def finish(self) -> None:
        """Wait for the script to exit; a failure fails the test with its stderr."""
        try:
            code = await asyncio.wait_for(self._proc.wait(), self.timeout_s)
        except TimeoutError:
            raise await self._failed("did not exit in time") from None
        await self._drain
        if code != 0:
            raise await self._failed(f"exited {code}")

    async def kill(self) -> None:
        """End the script, if it still runs."""
        if self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain


@asynccontextmanager
async def sdk_client(script: str, *args: str,
                     timeout_s: float = 60.0) -> AsyncIterator[SdkClient]:
    """`tests/sdk/<script>` running with `args`, talked to with `receive()` and `send()`.

    On a clean exit from the block the script must end by itself (and with status 0);
    otherwise it is killed.
    """
    proc = await asyncio.create_subprocess_exec(
        str(sdk_python()), str(SCRIPTS / script), *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=LINE_LIMIT)
    client = SdkClient(script, proc, timeout_s)
    try:
        yield client
        await client.finish()
    finally:
        await client.kill()
