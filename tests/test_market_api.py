"""/market/ltp: the feed's cached price; unknown and unquoted instruments are 404."""

from __future__ import annotations

from quart.typing import TestClientProtocol as HttpClient
from redis.asyncio import Redis

from core import redis_keys
from tests.stubs import bearer, signup


async def test_ltp_comes_from_the_feed_cache(client: HttpClient, redis: Redis) -> None:
    token = (await signup(client, "quote@example.com"))["access_token"]
    await redis.set(redis_keys.ltp("NSE", "RELIANCE"), 251_005)
    response = await client.get("/market/ltp/NSE/reliance", headers=bearer(token))
    assert response.status_code == 200
    assert await response.get_json() == {"exchange": "NSE", "symbol": "RELIANCE",
                                         "ltp": "2510.05", "ltp_paise": 251005,
                                         "source": "feed"}


async def test_unquoted_unknown_and_malformed_instruments(client: HttpClient) -> None:
    token = (await signup(client, "quote@example.com"))["access_token"]
    unquoted = await client.get("/market/ltp/NSE/INFY", headers=bearer(token))
    assert unquoted.status_code == 404
    assert (await unquoted.get_json())["error_code"] == "MKT_001"
    unknown = await client.get("/market/ltp/NSE/NOSUCHCO", headers=bearer(token))
    assert unknown.status_code == 404
    assert (await unknown.get_json())["error_code"] == "STR_012"
    bad = await client.get("/market/ltp/LSE/VOD", headers=bearer(token))
    assert bad.status_code == 422
    assert (await bad.get_json())["error_code"] == "STR_011"


async def test_ltp_needs_a_login(client: HttpClient) -> None:
    assert (await client.get("/market/ltp/NSE/RELIANCE")).status_code == 401
