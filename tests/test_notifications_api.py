"""/notifications: pagination, unread filter and count, read marks, preferences (LIVE-4)."""

from __future__ import annotations

from typing import Any

from quart.typing import TestClientProtocol as HttpClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ids import new_id
from core.repos import notifications
from tests.stubs import bearer, signup


async def _user(client: HttpClient, email: str) -> tuple[str, dict[str, str]]:
    tokens = await signup(client, email)
    return tokens["user"]["id"], bearer(tokens["access_token"])


async def _seed(sessions: async_sessionmaker[AsyncSession], user_id: str, n: int) -> None:
    async with sessions() as session, session.begin():
        for i in range(n):
            await notifications.add_for_event(session, event_id=new_id("evt"), user_id=user_id,
                                              type="order_executed", title=f"n{i}", body="b")


async def _json(response: Any) -> Any:
    return await response.get_json()


async def test_pages_unread_and_marks(client: HttpClient,
                                      sessions: async_sessionmaker[AsyncSession]) -> None:
    alice, auth = await _user(client, "alice@example.com")
    bob, bob_auth = await _user(client, "bob@example.com")
    await _seed(sessions, alice, 5)
    await _seed(sessions, bob, 1)
    first = await _json(await client.get("/notifications?limit=2", headers=auth))
    assert [n["title"] for n in first["items"]] == ["n4", "n3"]
    assert first["unread_count"] == 5 and first["next_cursor"]
    rest = await _json(await client.get(f"/notifications?limit=10&cursor={first['next_cursor']}",
                                        headers=auth))
    assert [n["title"] for n in rest["items"]] == ["n2", "n1", "n0"]
    assert rest["next_cursor"] is None
    target = rest["items"][0]["id"]
    read = await client.post(f"/notifications/{target}/read", headers=auth)
    assert read.status_code == 200 and (await _json(read))["is_read"] is True
    again = await client.post(f"/notifications/{target}/read", headers=auth)
    assert again.status_code == 200  # idempotent
    assert (await client.post(f"/notifications/{target}/read", headers=bob_auth)
            ).status_code == 404  # another user's is not found
    unread = await _json(await client.get("/notifications?unread=true", headers=auth))
    assert target not in [n["id"] for n in unread["items"]] and len(unread["items"]) == 4
    count = await _json(await client.get("/notifications/unread-count", headers=auth))
    assert count == {"unread_count": 4}
    done = await _json(await client.post("/notifications/read-all", headers=auth))
    assert done == {"updated": 4, "unread_count": 0}
    assert (await _json(await client.get("/notifications/unread-count", headers=bob_auth))
            ) == {"unread_count": 1}  # bob's untouched


async def test_preferences(client: HttpClient) -> None:
    _, auth = await _user(client, "alice@example.com")
    defaults = await _json(await client.get("/notifications/preferences", headers=auth))
    by_type = {p["type"]: p for p in defaults["items"]}
    assert by_type["sl_triggered"] == {"type": "sl_triggered", "in_app": True, "email": False,
                                       "push": False, "locked_in_app": False}
    assert by_type["order_failed"]["locked_in_app"] is True
    put = await client.put("/notifications/preferences", headers=auth, json={"items": [
        {"type": "sl_triggered", "in_app": False, "email": True},
        {"type": "order_failed", "push": True}]})
    assert put.status_code == 200
    after = {p["type"]: p for p in (await _json(put))["items"]}
    assert (after["sl_triggered"]["in_app"], after["sl_triggered"]["email"]) == (False, True)
    assert after["order_failed"]["push"] is True
    refused = await client.put("/notifications/preferences", headers=auth, json={
        "items": [{"type": "order_failed", "in_app": False}]})
    assert (refused.status_code, (await _json(refused))["error_code"]) == (422, "VAL_001")
    unknown = await client.put("/notifications/preferences", headers=auth, json={
        "items": [{"type": "nope"}]})
    assert unknown.status_code == 422
