"""What a broker connection must never do, against the running app and the brokers' fakes:
finish a login link for someone else, switch to another broker account, be marked invalid
for a temporary broker error, send its token to another broker's API, be disconnected under
an unfinished order, or wait for a login its connector makes by itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import IST, RealClock
from core.connections import vault
from core.connections.model import CredentialState, not_ready_reason
from core.connections.renewal import Renewer
from core.connections.service import ConnectionService
from core.crypto import SecretBox
from core.db.enums import OrderStatus, Role
from core.db.models import BrokerCredential, Order
from core.errors import Conflict
from core.ids import new_id
from core.repos import users
from core.repos.audit import Actor
from tests.broker_api_kit import KITE_ONLY, Api, audit, credential
from tests.broker_api_kit import api as api  # the fixtures
from tests.broker_api_kit import case as case
from tests.broker_api_kit import recorder as recorder
from tests.broker_logins import AngelLogin, KiteLogin
from tests.fakes.angel import Fault as AngelFault
from tests.fakes.kite import Fault as KiteFault
from tests.stubs import bearer, signup


def _state(url: str) -> str:
    return parse_qs(parse_qs(urlsplit(url).query)["redirect_params"][0])["state"][0]


@KITE_ONLY
async def test_a_login_link_finishes_only_for_the_user_who_started_it(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """B starts a Kite login and sends the link to A; A logs in on Kite's page. A's
    redirect (with A's authentication) must not put A's session on B's connection."""
    _, out = await api.connect(credentials=api.app_secrets())
    pending, state = out["connection"], _state(out["login_url"])
    b_headers = api.headers
    api.headers = bearer((await signup(api.client, "victim@example.com"))["access_token"])
    redirect = {"request_token": api.fake.book.issue_request_token(), "status": "success",
                "action": "login", "state": state}
    status, body = await api.call("GET", "/broker/callback/zerodha", query_string=redirect)
    assert (status, body["error_code"]) == (400, "BRK_006"), body
    row = await credential(sessions, pending["id"])
    assert (row.encrypted_access_token, row.client_id, row.is_valid) == (None, None, False)
    assert [a for a, _ in await audit(sessions)] == ["broker.connect"]

    # The state was left for its own user, whose login finishes and names the account.
    api.headers = b_headers
    status, done = await api.call("GET", "/broker/callback/zerodha", query_string={
        **redirect, "request_token": api.fake.book.issue_request_token()})
    assert status == 200, done
    assert (done["id"], done["state"], done["account_id"]) == (
        pending["id"], "connected", api.fake.book.user_id)


async def test_a_login_for_another_broker_account_is_refused(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """A connection that traded on one account never switches to another: its exits and
    its orders' look-ups by tag would go to the wrong account."""
    connection = await api.logged_in()
    async with sessions() as session, session.begin():  # it was connected to account OTHER1
        await session.execute(update(BrokerCredential)
                              .where(BrokerCredential.id == connection["id"])
                              .values(client_id="OTHER1"))
    before = await credential(sessions, connection["id"])
    status, out = await api.connect(credential_id=connection["id"], code=api.case.code())
    assert (status, out["error_code"]) == (409, "BRK_010"), out
    assert out["details"]["account_id"] == "OTHER1"
    assert out["details"]["login_account_id"] == api.case.account_id
    after = await credential(sessions, connection["id"])
    assert (after.client_id, after.encrypted_access_token, after.token_expires_at) == (
        "OTHER1", before.encrypted_access_token, before.token_expires_at)


@KITE_ONLY
async def test_the_callback_of_a_reconnect_cannot_switch_the_account(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    connection = await api.logged_in()
    async with sessions() as session, session.begin():
        await session.execute(update(BrokerCredential)
                              .where(BrokerCredential.id == connection["id"])
                              .values(client_id="OTHER1"))
    status, out = await api.connect(credential_id=connection["id"])
    assert status == 200 and out["login_url"], out
    assert isinstance(api.case, KiteLogin)
    status, body = await api.call("GET", "/broker/callback/zerodha",
                                  query_string=api.case.redirect(out["login_url"]))
    assert (status, body["error_code"]) == (409, "BRK_010"), body
    assert (await credential(sessions, connection["id"])).client_id == "OTHER1"


@pytest.mark.parametrize("case", ["angel_one", "zerodha"], indirect=True)
async def test_a_temporary_broker_error_in_a_probe_leaves_the_session_valid(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Angel's HTTP 200 AB1004 "Something went wrong", Kite's non-token 4xx: the broker
    is unreachable for now, the session is not refused."""
    connection = await api.logged_in()
    if isinstance(api.case, AngelLogin):
        api.case.kit.fake.book.arm(AngelFault("reject", group="read", count=50,
                                              code="AB1004", message="Something went wrong"))
    else:
        api.fake.book.arm(KiteFault("reject", group="read", count=50, status=400,
                                    error_type="GeneralException"))
    _, listed = await api.call("GET", "/broker/status", query_string={"check": "true"})
    [item] = listed["connections"]
    assert (item["connection"]["state"], item["connection"]["status_reason"]) == (
        "connected", None), item
    assert item["health"]["reachable"] is False
    assert (await credential(sessions, connection["id"])).is_valid is True


@KITE_ONLY
async def test_validate_never_sends_a_stored_token_to_another_broker(api: Api) -> None:
    connection = await api.logged_in()
    status, out = await api.call("POST", "/broker/validate", json={
        "broker_type": "fyers", "credential_id": connection["id"]})
    assert (status, out["error_code"]) == (404, "BRK_008"), out


@KITE_ONLY
async def test_disconnect_is_refused_while_an_order_on_it_is_unfinished(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """A STOPPED strategy whose BUY is still UNKNOWN: the executor needs the connection's
    session to find out whether it exists at the broker."""
    connection = await api.logged_in()
    status, strategy = await api.call("POST", "/strategies", json={
        "name": "s", "symbol": "NSE:INFY", "buy_time": "09:20:00", "sell_time": "15:10:00",
        "stop_loss": {"type": "PERCENT", "value": "1"}, "quantity": 1,
        "broker_credential_id": connection["id"]})
    assert status == 201, strategy
    order_id = new_id("ord")
    owner = (await credential(sessions, connection["id"])).user_id
    async with sessions() as session, session.begin():
        session.add(Order(id=order_id, user_id=owner,
                          strategy_id=strategy["id"], trading_day=date(2026, 11, 25),
                          action="BUY", side="BUY", exchange="NSE", symbol="INFY",
                          quantity=1, broker_type="zerodha",
                          broker_credential_id=connection["id"], client_tag="tag-unfinished",
                          status=OrderStatus.UNKNOWN.value))
    path, query = "/broker/disconnect", {"credential_id": connection["id"]}
    status, out = await api.call("DELETE", path, query_string=query)
    assert (status, out["error_code"]) == (409, "BRK_012"), out
    assert out["details"] == {"orders": [order_id], "strategies": [strategy["id"]]}
    assert (await credential(sessions, connection["id"])).encrypted_access_token

    async with sessions() as session, session.begin():
        await session.execute(update(Order).where(Order.id == order_id)
                              .values(status=OrderStatus.FILLED.value))
    status, _ = await api.call("DELETE", path, query_string=query)
    assert status == 204


def test_an_expired_angel_session_is_no_reason_to_hold_a_buy() -> None:
    now = datetime(2026, 11, 25, 9, 30, tzinfo=IST)

    def state(broker: str, **kw: object) -> CredentialState:
        fields: dict[str, object] = {
            "id": "brk_1", "user_id": "usr_1", "broker_type": broker, "is_valid": True,
            "has_token": True, "token_expires_at": now - timedelta(hours=1),
            "status_reason": None, **kw}
        return CredentialState(**fields)  # type: ignore[arg-type]

    assert not_ready_reason(state("angel_one"), now) is None
    assert not_ready_reason(state("angel_one", is_valid=False,
                                  status_reason="token_expired"), now) is None
    assert "not valid" in (not_ready_reason(state(
        "angel_one", is_valid=False, status_reason="rejected_by_broker",
        token_expires_at=now + timedelta(hours=1)), now) or "")
    assert "expired" in (not_ready_reason(state("zerodha"), now) or "")
    assert "expired" in (not_ready_reason(state("dhan"), now) or "")


@pytest.mark.parametrize("case", ["dhan"], indirect=True)
async def test_a_dhan_pin_and_totp_connection_is_renewed_without_its_user(
        api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The token check (and a status check) logs it in again and stores the session, as
    the Angel adapter does by itself; nobody is asked to log in."""
    connection = await api.logged_in()
    now = datetime.now(IST)
    expired = {"token_expires_at": now - timedelta(minutes=1), "is_valid": False,
               "status_reason": "token_expired"}
    async with sessions() as session, session.begin():
        await session.execute(update(BrokerCredential)
                              .where(BrokerCredential.id == connection["id"]).values(expired))
    _, listed = await api.call("GET", "/broker/status", query_string={"check": "true"})
    assert listed["connections"][0]["connection"]["state"] == "connected", listed
    row = await credential(sessions, connection["id"])
    assert row.is_valid and row.token_expires_at is not None and row.token_expires_at > now

    from brokers.connectors import build_connectors
    async with sessions() as session, session.begin():
        await session.execute(update(BrokerCredential)
                              .where(BrokerCredential.id == connection["id"]).values(expired))
    renewer = Renewer(sessions, SecretBox(api.settings.encryption_key_map),
                      build_connectors(api.settings, RealClock()), RealClock())
    report = await renewer.renew_due(now + timedelta(hours=8))
    assert (report.renewed, report.refused, report.unreachable) == ([connection["id"]], [], [])
    row = await credential(sessions, connection["id"])
    assert (row.is_valid, row.status_reason, row.client_id) == (True, None,
                                                                api.case.account_id)
    assert [a for a, _ in await audit(sessions)].count("broker.renew") == 2
    async with sessions() as session:
        rows = (await session.execute(select(BrokerCredential))).scalars().all()
    assert len(rows) == 1


async def test_the_market_data_connection_cannot_be_disconnected(
        sessions: async_sessionmaker[AsyncSession], redis: Redis) -> None:
    """It streams every user's ticks (ALGO_FEED_BROKER_CREDENTIAL): BRK_011."""
    box = SecretBox({"k1": b"k" * 32})
    async with sessions() as session, session.begin():
        admin = await users.create_user(session, email="feed@example.com", password_hash="x",
                                        role=Role.ADMIN)
        rows = [BrokerCredential(id=new_id("brk"), user_id=admin.id, broker_type="zerodha",
                                 is_valid=True) for _ in range(2)]
        for row in rows:
            vault.seal(box, row, {"api_key": "k", "api_secret": "s"}, "t")
            session.add(row)
    feed, other = (row.id for row in rows)
    service = ConnectionService(sessions, redis, box, {}, RealClock(), feed_credential_id=feed)
    who = Actor(admin.id, "admin")
    with pytest.raises(Conflict) as refused:
        await service.disconnect(who, feed)
    assert refused.value.code.code == "BRK_011"
    assert (await credential(sessions, feed)).deleted_at is None
    await service.disconnect(who, other)
    assert (await credential(sessions, other)).deleted_at is not None
