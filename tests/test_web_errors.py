"""Every failure leaves the web app in the catalogued error format."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel, Field
from quart import Blueprint, Quart
from quart.typing import TestClientProtocol as HttpClient
from quart_schema import validate_request

from core.errors import Conflict, RateLimited

probe = Blueprint("probe", __name__, url_prefix="/_probe")


class Thing(BaseModel):
    """A request body with rules."""

    name: str = Field(min_length=1)
    quantity: int = Field(gt=0)


@probe.post("/things")
@validate_request(Thing)
async def create_thing(data: Thing) -> tuple[dict[str, object], int]:
    """Accept a valid thing."""
    return {"name": data.name}, 201


@probe.get("/boom")
async def boom() -> str:
    """Fail unexpectedly."""
    raise RuntimeError("secret internal detail")


@probe.get("/conflict")
async def conflict() -> str:
    """Fail with a domain error."""
    raise Conflict("strategy is running", details={"status": "RUNNING"})


@probe.get("/limited")
async def limited() -> str:
    """Fail with a rate limit."""
    raise RateLimited(retry_after=7)


@pytest.fixture
async def probe_client(app: Quart) -> AsyncIterator[HttpClient]:
    app.register_blueprint(probe)
    async with app.test_app() as test_app:
        yield test_app.test_client()


def assert_error_body(body: dict[str, object], code: str) -> None:
    assert set(body) == {"error_code", "message", "details", "trace_id"}
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["trace_id"], str) and body["trace_id"]


async def test_404_unknown_route(probe_client: HttpClient) -> None:
    response = await probe_client.get("/no/such/route")
    assert response.status_code == 404
    assert_error_body(await response.get_json(), "SYS_002")


async def test_405_wrong_method_names_allowed_methods(probe_client: HttpClient) -> None:
    response = await probe_client.delete("/health/live")
    assert response.status_code == 405
    assert_error_body(await response.get_json(), "SYS_003")
    assert "GET" in response.headers["Allow"]


async def test_422_schema_validation_lists_fields(probe_client: HttpClient) -> None:
    response = await probe_client.post("/_probe/things", json={"name": "", "quantity": 0})
    assert response.status_code == 422
    body = await response.get_json()
    assert_error_body(body, "VAL_001")
    assert {d["field"] for d in body["details"]} == {"name", "quantity"}


async def test_422_missing_body_fields(probe_client: HttpClient) -> None:
    response = await probe_client.post("/_probe/things", json={})
    assert response.status_code == 422
    assert_error_body(await response.get_json(), "VAL_001")


async def test_malformed_json_is_a_client_error(probe_client: HttpClient) -> None:
    response = await probe_client.post("/_probe/things", data=b"{not json",
                                       headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    body = await response.get_json()
    assert body["error_code"] in ("VAL_001", "VAL_002")


async def test_valid_request_passes(probe_client: HttpClient) -> None:
    response = await probe_client.post("/_probe/things", json={"name": "x", "quantity": 2})
    assert response.status_code == 201
    assert await response.get_json() == {"name": "x"}


async def test_500_hides_internals(probe_client: HttpClient) -> None:
    response = await probe_client.get("/_probe/boom", headers={"X-Request-ID": "req-abc-123"})
    assert response.status_code == 500
    body = await response.get_json()
    assert_error_body(body, "SYS_001")
    assert "secret internal detail" not in str(body)
    assert body["trace_id"] == "req-abc-123"
    assert response.headers["X-Request-ID"] == "req-abc-123"


async def test_domain_error_keeps_code_and_details(probe_client: HttpClient) -> None:
    response = await probe_client.get("/_probe/conflict")
    assert response.status_code == 409
    body = await response.get_json()
    assert_error_body(body, "SYS_007")
    assert body["details"] == {"status": "RUNNING"}


async def test_rate_limit_sets_retry_after(probe_client: HttpClient) -> None:
    response = await probe_client.get("/_probe/limited")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert_error_body(await response.get_json(), "SYS_005")


async def test_unsafe_request_id_is_replaced(probe_client: HttpClient) -> None:
    response = await probe_client.get("/health/live", headers={"X-Request-ID": "bad id <x>;drop"})
    assert response.headers["X-Request-ID"] != "bad id <x>;drop"
    assert len(response.headers["X-Request-ID"]) == 32


async def test_openapi_and_docs_are_served(client: HttpClient) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    assert "/health/ready" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
