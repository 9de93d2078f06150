"""The bus floor the order path stands on: one COMMANDS hop with de-duplication and
double ack, and pipelined TICKS publishing. Starts its own nats-server.

    .venv/bin/python bench/jetstream_hop.py [--seconds N]

Prints one JSON object last: hop latency percentiles (ms) and publish rates (msg/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from core import aio, subjects
from core.embedded.nats_server import EmbeddedNats
from core.embedded.process import pick_port
from core.messages import OrderCommand, Tick, encode
from core.nats import connect_nats
from core.streams import ensure_streams


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)


async def command_hop(js: JetStreamContext, seconds: float) -> dict[str, float]:
    """Awaited publish with Nats-Msg-Id → pull fetch → ack_sync, one command at a time."""
    sub = await js.pull_subscribe(
        subjects.COMMANDS_ALL, durable="bench-executor", stream=subjects.COMMANDS,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=1000))
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        cmd = OrderCommand(user_id="usr_bench", strategy_id=f"str_{n}", trading_day="2026-11-25",
                           action="BUY", reason="bench", issued_at=time.time_ns())
        started = time.perf_counter()
        await js.publish(subjects.order_command(cmd.user_id, cmd.strategy_id), encode(cmd),
                         headers={subjects.MSG_ID_HEADER: subjects.order_msg_id(
                             cmd.strategy_id, cmd.trading_day, cmd.action)})
        msgs = await sub.fetch(1, timeout=5)
        await msgs[0].ack_sync()
        latencies.append((time.perf_counter() - started) * 1000)
    await sub.unsubscribe()
    return {
        "commands": len(latencies),
        "hop_p50_ms": _pct(latencies, 0.50),
        "hop_p99_ms": _pct(latencies, 0.99),
        "hop_mean_ms": round(statistics.fmean(latencies), 4),
    }


async def awaited_publish_rate(js: JetStreamContext, seconds: float) -> float:
    """Events published one at a time, each ack awaited."""
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        await js.publish(subjects.event("usr_bench", "str_1", "BENCH"), b"{}",
                         headers={subjects.MSG_ID_HEADER: f"evt_{n}"})
    return round(n / (time.perf_counter() - started))


async def pipelined_tick_rate(js: JetStreamContext, seconds: float, window: int = 256) -> float:
    """Ticks published with up to `window` acks outstanding, as the feed does."""
    tick = Tick(exchange="NSE", symbol="RELIANCE", ltp_paise=250_000, exchange_ts=0,
                received_ts=0)
    body, subject = encode(tick), subjects.tick("NSE", "RELIANCE")
    pending: set[asyncio.Future[object]] = set()
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    n = 0
    while time.perf_counter() < deadline:
        pending.add(asyncio.ensure_future(js.publish(subject, body)))
        n += 1
        if len(pending) >= window:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*pending)
    return round(n / (time.perf_counter() - started))


async def main(seconds: float) -> dict[str, object]:
    """Run every measurement against a fresh embedded nats-server."""
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        server = EmbeddedNats(Path(tmp), pick_port(0), pick_port(0))
        server.start()
        try:
            nc = await connect_nats(server.url, name="bench")
            js = nc.jetstream()
            await ensure_streams(js)
            share = seconds / 3
            result: dict[str, object] = {"bench": "jetstream_hop", "seconds": seconds}
            result.update(await command_hop(js, share))
            result["awaited_publish_per_s"] = await awaited_publish_rate(js, share)
            result["pipelined_tick_publish_per_s"] = await pipelined_tick_rate(js, share)
            await nc.drain()
            return result
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    print(json.dumps(aio.run(main(parser.parse_args().seconds))))
