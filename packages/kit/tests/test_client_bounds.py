"""One client's share of an instance (`styrkedja_kit.admission`, round 21): at most
`max_writes_per_client_in_flight` writes and `max_exports_per_client_in_flight` files of one token subject at once,
beyond them a 429 problem `client_in_flight` naming the bound, with Retry-After, before the body is read; other
clients still taken; the global bounds (503 `overloaded`) still hold; documented in the OpenAPI document.

Failed on the old code: there was no bound per client (a client's third write was taken, or waited for the global
bound's 503), and no 429 in any OpenAPI document."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from sqlalchemy import MetaData
from waiting import until

from styrkedja_kit.admission import CLIENT_REFUSED, PerClient
from styrkedja_kit.app import create_service_app, define_kit_tables, export_slots
from styrkedja_kit.auth import Role, authorize
from styrkedja_kit.settings import ServiceSettings


def _app(token_issuer: Any, **bounds: Any) -> tuple[Any, asyncio.Event, list[str]]:
    release = asyncio.Event()
    entered: list[str] = []
    router = APIRouter()

    # it reads its body itself, and documents it so (a body sent to a route documenting none is refused)
    @router.post("/v1/things", status_code=201, openapi_extra={"requestBody": {"content": {"application/json": {}}}})
    async def write(request: Request, _: Any = authorize(Role.PLATFORM)) -> dict[str, str]:
        entered.append((await request.body()).decode())
        await release.wait()
        return {"stored": "yes"}

    @router.get("/v1/things.csv", responses={200: {"content": {"text/csv": {}}, "description": "a file"}})
    async def file(request: Request, _: Any = authorize(Role.PLATFORM)) -> dict[str, str]:
        with export_slots(request).held():
            entered.append("file")
            await release.wait()
        return {"ok": "yes"}

    metadata = MetaData()
    define_kit_tables(metadata)
    settings = ServiceSettings(service_name="bounds", auth_issuer=token_issuer.url, overload_retry_after_seconds=4,
                               **bounds)
    return create_service_app(settings, metadata, [router], title="bounds", require_token=True), release, entered


def _token(token_issuer: Any, subject: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=["platform"], organisers=["2999"],
                                                            subject=subject, client_id=subject)}


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://svc", timeout=60)


def _client_refused(answer: httpx.Response, setting: str) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "4"
    error = answer.json()["errors"][0]
    assert (error["field"], error["rule"]) == ("request", "client_in_flight"), error
    assert setting in error["message"]


async def test_one_clients_writes_beyond_its_bound_are_429_and_another_client_is_still_taken(token_issuer):
    app, release, entered = _app(token_issuer, max_writes_per_client_in_flight=2, max_writes_in_flight=3)
    greedy, other = _token(token_issuer, "greedy"), _token(token_issuer, "other")
    before = CLIENT_REFUSED.labels("writes")._value.get()
    async with _client(app) as client:
        held = [asyncio.ensure_future(client.post("/v1/things", json={"n": n}, headers=greedy)) for n in range(2)]
        await until(lambda: len(entered) == 2)
        _client_refused(await client.post("/v1/things", json={"n": "third"}, headers=greedy),
                        "max_writes_per_client_in_flight")
        assert sorted(entered) == ['{"n":0}', '{"n":1}']  # the third's body never read
        assert CLIENT_REFUSED.labels("writes")._value.get() == before + 1
        theirs = asyncio.ensure_future(client.post("/v1/things", json={"n": "theirs"}, headers=other))
        await until(lambda: len(entered) == 3)
        # the instance's own bound (3 writes) still holds, for every client: a 503, not a 429
        overloaded = await client.post("/v1/things", json={"n": "more"}, headers=other)
        assert overloaded.status_code == 503 and overloaded.json()["errors"][0]["rule"] == "overloaded"
        release.set()
        assert [a.status_code for a in await asyncio.gather(*held, theirs)] == [201, 201, 201]
        assert (await client.post("/v1/things", json={"n": "again"}, headers=greedy)).status_code == 201


async def test_one_clients_files_beyond_its_bound_are_429_and_counts_are_forgotten(token_issuer):
    app, release, entered = _app(token_issuer, max_exports_per_client_in_flight=2, max_exports_in_flight=3)
    greedy, other = _token(token_issuer, "greedy"), _token(token_issuer, "other")
    async with _client(app) as client:
        held = [asyncio.ensure_future(client.get("/v1/things.csv", headers=greedy)) for _ in range(2)]
        await until(lambda: len(entered) == 2)
        _client_refused(await client.get("/v1/things.csv", headers=greedy), "max_exports_per_client_in_flight")
        theirs = asyncio.ensure_future(client.get("/v1/things.csv", headers=other))
        await until(lambda: len(entered) == 3)
        overloaded = await client.get("/v1/things.csv", headers=_token(token_issuer, "third"))
        assert overloaded.status_code == 503 and overloaded.json()["errors"][0]["rule"] == "overloaded"
        assert app.state.client_export_slots.held_now == {"greedy": 2, "other": 1}  # the refused took nothing
        release.set()
        assert [a.status_code for a in await asyncio.gather(*held, theirs)] == [200, 200, 200]
    assert app.state.client_export_slots.held_now == {}  # a client at 0 is forgotten
    assert app.state.export_slots.held_now == 0


def test_the_bounds_default_to_32_writes_and_2_files_and_are_documented(token_issuer):
    settings = ServiceSettings()
    assert (settings.max_writes_per_client_in_flight, settings.max_exports_per_client_in_flight) == (32, 2)
    app, _, _ = _app(token_issuer)
    paths = app.openapi()["paths"]
    for operation in (paths["/v1/things"]["post"], paths["/v1/things.csv"]["get"]):
        documented = operation["responses"]["429"]
        assert "client_in_flight" in documented["description"]
        assert "Retry-After" in documented["headers"]
    assert "429" not in paths["/healthz"]["get"]["responses"]


def test_per_client_counts_refuse_a_bound_below_one_and_drop_clients_at_zero():
    with pytest.raises(ValueError):
        PerClient("x", 0, "x")
    bound = PerClient("writes", 1, "max_writes_per_client_in_flight")
    assert bound.take("a") and not bound.take("a") and bound.take("b")
    bound.give("a")
    bound.give("b")
    assert bound.held_now == {}
