"""JetStream stream snapshots through the server's own API (what `nats stream backup` does).

nats-py has no snapshot call, so this speaks the documented API directly:
- `$JS.API.STREAM.SNAPSHOT.<stream>` with a deliver subject: the server streams the stream's
  store (messages with their sequence numbers, timestamps and headers, including
  `Nats-Msg-Id`, and the durable consumers with their ack floors) as chunks to that
  subject, each carrying a reply subject we answer for flow control; an empty message ends it.
- `$JS.API.STREAM.RESTORE.<stream>` with the saved config and state: the server answers with
  a subject; we send every chunk there as a request (each is acknowledged), then an empty one,
  whose answer is the restored stream's info or an error.
A restored stream is the stream as it was: same sequences (SSE clients resume by them), same
consumers and delivery state. The stream must not exist on the target server.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.msg import Msg

CHUNK_BYTES: Final = 128 * 1024


class SnapshotError(RuntimeError):
    """The server refused or broke off a snapshot or a restore."""


def _check(reply: Msg, what: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(reply.data or b"{}")
    error = body.get("error")
    if error:
        raise SnapshotError(f"{what}: {error.get('description', error)}")
    return body


async def snapshot_stream(nc: Client, stream: str, path: Path,
                          timeout_s: float = 120.0) -> dict[str, Any]:
    """Write the snapshot of `stream` to `path`; returns the server's {config, state}."""
    inbox = nc.new_inbox()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with path.open("wb") as out:

        async def on_chunk(msg: Msg) -> None:
            status = (msg.headers or {}).get("Status")
            if status and status not in ("200", "204"):
                description = (msg.headers or {}).get("Description", "")
                if not done.done():
                    done.set_exception(SnapshotError(f"snapshot of {stream}: {status} "
                                                     f"{description}"))
                return
            if not msg.data:
                if not done.done():
                    done.set_result(None)
                return
            out.write(msg.data)
            if msg.reply:
                await nc.publish(msg.reply, b"")

        sub = await nc.subscribe(inbox, cb=on_chunk)
        try:
            request = {"deliver_subject": inbox, "chunk_size": CHUNK_BYTES,
                       "no_consumers": False, "jsck": False}
            reply = await nc.request(f"$JS.API.STREAM.SNAPSHOT.{stream}",
                                     json.dumps(request).encode(), timeout=10)
            info = _check(reply, f"snapshot of {stream}")
            await asyncio.wait_for(done, timeout_s)
        finally:
            await sub.unsubscribe()
    return {"config": info.get("config"), "state": info.get("state")}


async def restore_stream(nc: Client, stream: str, path: Path, config: dict[str, Any],
                         state: dict[str, Any] | None, timeout_s: float = 120.0) -> dict[str, Any]:
    """Recreate `stream` from a snapshot file; returns the restored stream's state."""
    request = {"config": config, "state": state or {}}
    reply = await nc.request(f"$JS.API.STREAM.RESTORE.{stream}", json.dumps(request).encode(),
                             timeout=10)
    deliver = _check(reply, f"restore of {stream}").get("deliver_subject")
    if not deliver:
        raise SnapshotError(f"restore of {stream}: the server gave no deliver subject")
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            await nc.request(deliver, chunk, timeout=30)
    final = _check(await nc.request(deliver, b"", timeout=timeout_s), f"restore of {stream}")
    restored: dict[str, Any] = final.get("state") or {}
    return restored
