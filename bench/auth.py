"""Authentication under load: login throughput and p99 at 50 concurrent logins, and p99 of an
authenticated GET (/auth/me) at 200 concurrent clients each asking once a second, plus the
same 200 clients asking back-to-back (saturation). Starts its own servers and one web
process, with production bcrypt cost (12) and rate limits lifted.

    .venv/bin/python bench/auth.py [--seconds N]

Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
from pathlib import Path

import httpx

from bench.httpload import build_request, closed_loop, paced
from bench.webproc import start_web, stop_web
from core import aio
from core.db import migrate
from core.embedded.process import pick_port
from core.embedded.stack import EmbeddedStack
from core.settings import Settings

PASSWORD = "bench-password-1"  # noqa: S105 — throwaway accounts in a temporary database
LOGIN_CLIENTS = 50
GET_CLIENTS = 200
GET_RATE_PER_CLIENT = 1.0
"""Each GET client asks once a second (a dashboard polling); saturation is measured too."""


def _login_request(host: str, email: str) -> bytes:
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    return build_request("POST", "/auth/login", host, {"Content-Type": "application/json"}, body)


async def run(host: str, port: int, seconds: float, emails: list[str]) -> dict[str, object]:
    """Both measurements against a running web process."""
    netloc = f"{host}:{port}"
    logins = await closed_loop(host, port, [_login_request(netloc, e) for e in emails],
                               LOGIN_CLIENTS, seconds / 2)
    async with httpx.AsyncClient(base_url=f"http://{netloc}") as http:
        tokens = []
        for email in emails:
            response = await http.post("/auth/login",
                                       json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            tokens.append(response.json()["access_token"])
    me = [build_request("GET", "/auth/me", netloc, {"Authorization": f"Bearer {t}"})
          for t in tokens]
    gets = await paced(host, port, me, GET_CLIENTS, GET_RATE_PER_CLIENT, seconds / 4)
    saturated = await closed_loop(host, port, me, GET_CLIENTS, seconds / 4)
    return {
        "bench": "auth",
        "seconds": seconds,
        "bcrypt_rounds": 12,
        "login_clients": LOGIN_CLIENTS,
        "logins": len(logins.latencies),
        "login_per_s": logins.per_s,
        "login_p50_ms": logins.percentile_ms(0.5),
        "login_p99_ms": logins.percentile_ms(0.99),
        "login_errors": logins.errors,
        "get_clients": GET_CLIENTS,
        "get_rate_per_client": GET_RATE_PER_CLIENT,
        "gets": len(gets.latencies),
        "get_per_s": gets.per_s,
        "get_p50_ms": gets.percentile_ms(0.5),
        "get_p99_ms": gets.percentile_ms(0.99),
        "get_errors": gets.errors,
        "saturated_get_per_s": saturated.per_s,
        "saturated_get_p50_ms": saturated.percentile_ms(0.5),
        "saturated_get_p99_ms": saturated.percentile_ms(0.99),
    }


async def _create_users(settings: Settings, database_url: str, count: int) -> list[str]:
    from core.bootstrap import create_account
    from core.db.enums import Role

    emails = [f"bench{i}@example.com" for i in range(count)]
    await asyncio.gather(*(create_account(settings, database_url, email=e, role=Role.USER,
                                          password=PASSWORD) for e in emails))
    return emails


def main(seconds: float, users: int) -> dict[str, object]:
    """Start servers and the web process, measure, stop everything."""
    with tempfile.TemporaryDirectory(prefix="algo-bench-") as tmp:
        settings = Settings(env="dev", data_dir=Path(tmp), nats_port=0, nats_monitor_port=0,
                            redis_port=0)
        stack = EmbeddedStack(settings, persistent_redis=False)
        endpoints = stack.start()
        web: subprocess.Popen[bytes] | None = None
        try:
            migrate.upgrade(endpoints.database_url)
            emails = aio.run(_create_users(settings, endpoints.database_url, users))
            port = pick_port(0)
            web = start_web(endpoints, tmp, port, ALGO_DB_POOL_SIZE="20")
            return aio.run(run("127.0.0.1", port, seconds, emails))
        finally:
            stop_web(web)
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(main(args.seconds, args.users)))
