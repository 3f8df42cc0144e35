"""What one instance takes on at once (`styrkedja_kit.admission`, round 19): beyond `max_requests_in_flight`
requests, or `max_writes_in_flight` writes, a 503 problem naming `request` and `overloaded` with a Retry-After,
answered at once and before the body is read; the probes never counted nor refused; a slot given back however the
request ended. (Across the services: tests/test_hostile_round19.py.)

Failed on the old code: there was no bound, every request was taken on (the tests below see a 200 or a wait where
the bound answers 503)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from waiting import until

from styrkedja_kit.admission import OVERLOADED, OverloadGuard, Slots
from styrkedja_kit.problems import install_problem_handlers


def _app(max_requests: int, max_writes: int) -> tuple[FastAPI, asyncio.Event, list[str]]:
    release = asyncio.Event()
    read_bodies: list[str] = []  # the bodies the write route read, and "GET" for each read that came in
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/slow")
    async def slow() -> dict[str, str]:
        read_bodies.append("GET")
        await release.wait()
        return {"ok": "yes"}

    @app.post("/v1/slow")
    async def slow_write(request: Request) -> dict[str, str]:
        read_bodies.append((await request.body()).decode())
        await release.wait()
        return {"ok": "yes"}

    @app.get("/v1/fails")
    async def fails() -> dict[str, str]:
        raise RuntimeError("the route's own fault")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/v1/file")
    async def file(request: Request) -> dict[str, str]:
        slots: Slots = request.app.state.files
        with slots.held():
            await release.wait()
        return {"ok": "yes"}

    app.state.files = Slots("files", 1, retry_after=7)
    app.add_middleware(OverloadGuard, max_requests=max_requests, max_writes=max_writes, retry_after_seconds=3)
    return app, release, read_bodies


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://styrkedja.test")


def _overloaded(answer: httpx.Response, retry_after: str = "3") -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == retry_after
    error: dict[str, Any] = answer.json()["errors"][0]
    assert (error["field"], error["rule"]) == ("request", "overloaded"), error


async def test_a_request_beyond_the_bound_is_a_503_with_retry_after_and_the_probes_still_answer() -> None:
    app, release, entered = _app(max_requests=3, max_writes=2)
    async with _client(app) as client:
        held = [asyncio.ensure_future(client.get("/v1/slow")) for _ in range(3)]
        await until(lambda: len(entered) == 3)
        _overloaded(await client.get("/v1/slow"))
        health = await client.get("/healthz")  # an overloaded instance is alive, and says so
        assert health.status_code == 200, health.text
        release.set()
        assert [a.status_code for a in await asyncio.gather(*held)] == [200, 200, 200]
        assert (await client.get("/v1/slow")).status_code == 200  # every slot given back


async def test_writes_are_bounded_apart_and_refused_before_their_body_is_read() -> None:
    app, release, read_bodies = _app(max_requests=10, max_writes=2)
    async with _client(app) as client:
        held = [asyncio.ensure_future(client.post("/v1/slow", json={"n": n})) for n in range(2)]
        await until(lambda: len(read_bodies) == 2)
        _overloaded(await client.post("/v1/slow", json={"n": "third"}))
        assert sorted(read_bodies) == ['{"n":0}', '{"n":1}']  # the third's body never read
        read = asyncio.ensure_future(client.get("/v1/slow"))  # a read is still taken
        await until(lambda: "GET" in read_bodies)
        release.set()
        assert (await read).status_code == 200
        assert [a.status_code for a in await asyncio.gather(*held)] == [200, 200]


async def test_a_slot_is_given_back_when_the_route_fails() -> None:
    app, release, _ = _app(max_requests=1, max_writes=1)
    release.set()
    async with _client(app) as client:
        for _ in range(3):
            assert (await client.get("/v1/fails")).status_code == 500
        assert (await client.get("/v1/slow")).status_code == 200


async def test_a_routes_own_slots_answer_503_with_their_retry_after() -> None:
    app, release, _ = _app(max_requests=10, max_writes=10)
    async with _client(app) as client:
        first = asyncio.ensure_future(client.get("/v1/file"))
        await until(lambda: app.state.files.held_now == 1)
        _overloaded(await client.get("/v1/file"), retry_after="7")
        release.set()
        assert (await first).status_code == 200
        assert app.state.files.held_now == 0


def test_a_refusal_is_counted_by_its_bound() -> None:
    slots = Slots("exports (files)", 1)
    before = OVERLOADED.labels("exports")._value.get()
    assert slots.take() and not slots.take()
    assert OVERLOADED.labels("exports")._value.get() == before + 1


def test_slots_refuse_a_bound_below_one() -> None:
    with pytest.raises(ValueError):
        Slots("x", 0)
