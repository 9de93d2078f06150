"""The base of every pipeline role: NATS service registration, heartbeat, graceful stop.

Each role's counters (`counters()`) go out with its heartbeat in Redis (read by the web's
health and metrics) and answer `$SRV.STATS` (as the `data` of its `counters` endpoint) and
requests on `algo.service.{role}.counters`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from typing import Any, ClassVar

import nats.micro
from nats.micro.request import Request
from nats.micro.service import EndpointStats, ServiceConfig
from nats.micro.service import Service as MicroService

from core import redis_keys
from pipeline import counters as role_counters
from pipeline.context import ServiceContext

VERSION = "0.1.0"


class Service:
    """Subclasses set `role` and override `on_start` / `on_stop`; the rest is shared."""

    role: ClassVar[str] = "service"
    description: ClassVar[str] = ""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.log = logging.getLogger(f"algo.pipeline.{self.role}")
        self._micro: MicroService | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False
        self.started_at: float | None = None

    @property
    def heartbeat_key(self) -> str:
        """This instance's heartbeat key in Redis."""
        return redis_keys.heartbeat(self.role, self.ctx.instance)

    async def start(self) -> None:
        """Register with `$SRV`, start beating, then start the role's own work."""
        self.started_at = self.ctx.clock.now().timestamp()
        self._micro = await nats.micro.add_service(self.ctx.nc, ServiceConfig(
            name=f"algo-{self.role}", version=VERSION,
            description=self.description or f"algo {self.role} service",
            metadata={"instance": self.ctx.instance}, stats_handler=self._stats,
        ))
        await self._micro.add_endpoint(name="counters", handler=self._answer_counters,
                                       subject=f"algo.service.{self.role}.counters")
        await self.beat()
        self._heartbeat = asyncio.create_task(self._beat_forever(), name=f"{self.role}-heartbeat")
        await self.on_start()
        self.log.info("service started", extra={"role": self.role, "instance": self.ctx.instance})

    async def stop(self) -> None:
        """Stop the role's work first, then the heartbeat and the `$SRV` registration."""
        try:
            await self.on_stop()
        finally:
            if self._heartbeat is not None:
                # A flag as well as cancel(): a cancellation swallowed inside a Redis call
                # must not keep the loop beating, nor this stop waiting for it.
                self._stopping = True
                self._heartbeat.cancel()
                await asyncio.wait([self._heartbeat], timeout=1.0)
            with contextlib.suppress(Exception):
                await self.ctx.redis.delete(self.heartbeat_key)
            if self._micro is not None:
                with contextlib.suppress(Exception):
                    await self._micro.stop()
            self.log.info("service stopped", extra={"role": self.role})

    def counters(self) -> dict[str, Any]:
        """This role's counters (JSON values); roles that keep them on the service override."""
        read = role_counters.BY_ROLE.get(self.role)
        return read(self) if read is not None else {}

    def _safe_counters(self) -> dict[str, Any]:
        try:
            return self.counters()
        except Exception as exc:  # noqa: BLE001 — a broken counter must not stop a beat
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}

    def _stats(self, endpoint: EndpointStats) -> dict[str, Any]:
        return self._safe_counters()

    async def _answer_counters(self, request: Request) -> None:
        body = {"role": self.role, "instance": self.ctx.instance,
                "counters": self._safe_counters()}
        await request.respond(json.dumps(body).encode())

    async def beat(self) -> None:
        """Write the heartbeat key with a TTL; health checks read its age."""
        payload = {
            "role": self.role,
            "instance": self.ctx.instance,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "ts": self.ctx.clock.now().timestamp(),
            "started_at": self.started_at,
            "version": VERSION,
            "counters": self._safe_counters(),
        }
        await self.ctx.redis.set(self.heartbeat_key, json.dumps(payload),
                                 px=int(self.ctx.settings.heartbeat_ttl_s * 1000))

    async def _beat_forever(self) -> None:
        while not self._stopping:
            await self.ctx.clock.sleep(self.ctx.settings.heartbeat_interval_s)
            if self._stopping:
                return
            try:
                await self.beat()
            except Exception as exc:  # noqa: BLE001 — Redis down: keep beating when it returns
                self.log.warning("heartbeat failed: %s", exc)

    async def on_start(self) -> None:
        """Start consumers and tasks (override)."""

    async def on_stop(self) -> None:
        """Stop consumers and tasks, finishing in-flight work (override)."""
