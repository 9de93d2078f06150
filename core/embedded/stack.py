"""The three servers together, and where they are (`endpoints.json`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from core.embedded.nats_server import EmbeddedNats
from core.embedded.postgres import EmbeddedPostgres
from core.embedded.process import pick_port
from core.embedded.redis_server import EmbeddedRedis
from core.settings import Settings


@dataclass(frozen=True)
class Endpoints:
    """Where a running system is; written to `<data dir>/endpoints.json`."""

    web_url: str | None
    nats_url: str
    nats_monitor_url: str | None
    database_url: str
    redis_url: str
    started: tuple[str, ...]

    def public(self) -> dict[str, object]:
        """The endpoints with any password removed from the database URL."""
        data = asdict(self)
        data["database_url"] = redact_url(self.database_url)
        data["started"] = list(self.started)
        return data

    def write(self, data_dir: Path) -> Path:
        """Write `endpoints.json` for the console and scripts."""
        path = data_dir / "endpoints.json"
        path.write_text(json.dumps(self.public(), indent=2) + "\n")
        return path


def redact_url(url: str) -> str:
    """`scheme://user:secret@host` → `scheme://user@host`."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


class EmbeddedStack:
    """Starts whichever of NATS, PostgreSQL and Redis the settings leave without a URL."""

    def __init__(self, settings: Settings, *, persistent_redis: bool = True) -> None:
        self.settings = settings
        root = settings.data_dir.resolve()
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        if settings.nats_url is None:
            self.nats = EmbeddedNats(root / "nats", pick_port(settings.nats_port),
                                     pick_port(settings.nats_monitor_port))
        if settings.database_url is None:
            self.postgres = EmbeddedPostgres(root / "postgres")
        if settings.redis_url is None:
            self.redis = EmbeddedRedis(root / "redis", pick_port(settings.redis_port),
                                       persistent=persistent_redis)

    def start(self) -> Endpoints:
        """Start what is needed and wait until every server is ready."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # nats and redis boot while PostgreSQL initialises.
            for server in (self.nats, self.redis):
                if server is not None:
                    server.launch()
            if self.postgres is not None:
                self.postgres.start()
            for server in (self.nats, self.redis):
                if server is not None:
                    server.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.endpoints()

    def endpoints(self, web_url: str | None = None) -> Endpoints:
        """The URLs in use, embedded or external."""
        started = tuple(name for name, server in
                        (("nats", self.nats), ("postgres", self.postgres), ("redis", self.redis))
                        if server is not None)
        return Endpoints(
            web_url=web_url,
            nats_url=self.nats.url if self.nats else str(self.settings.nats_url),
            nats_monitor_url=self.nats.monitor_url if self.nats else None,
            database_url=self.postgres.url if self.postgres else str(self.settings.database_url),
            redis_url=self.redis.url if self.redis else str(self.settings.redis_url),
            started=started,
        )

    def stop(self) -> None:
        """Stop every server this stack started, in reverse order of need."""
        for server in (self.redis, self.nats, self.postgres):
            if server is not None:
                server.stop()
