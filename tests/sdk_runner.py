"""Running a client script of tests/sdk/ with the SDK venv's Python (see tests/sdk/)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"
SCRIPTS = Path(__file__).resolve().parent / "sdk"


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
