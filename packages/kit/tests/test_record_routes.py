"""`record_routes.add_record_routes`: the write routes of a revisioned record are documented exactly as
the hand-written route functions they replace (the same OpenAPI document, byte for byte), and answer,
parse and check the token in the same order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, Field

from styrkedja_contracts.identifiers import StudentId
from styrkedja_kit.auth import Principal
from styrkedja_kit.inputs import BatchItems, InputModel, RemovalRevision, Revision, json_body, json_body_openapi
from styrkedja_kit.problems import install_problem_handlers, problem_responses
from styrkedja_kit.record_routes import RecordRoutes, add_record_routes
from styrkedja_kit.writes import single_answer


class ThingIn(InputModel):
    thing_id: UUID | None = Field(None, description="Omit for a new thing.")
    revision: Revision | None = None
    student_id: StudentId


class ThingBatchIn(InputModel):
    items: BatchItems[ThingIn]


class DropIn(InputModel):
    revision: RemovalRevision | None = None


class ThingOut(BaseModel):
    thing_id: UUID
    revision: int
    dropped: bool
    status: str


class ThingBatchOut(BaseModel):
    items: list[ThingOut]
    stored: int
    unchanged: int


def _token(request: Request) -> Any:
    """Stands in for `authorize_write`: a request without a token is a 401."""
    if "authorization" not in request.headers:
        raise HTTPException(401, "no token")
    return request.headers["authorization"]


WRITER = Depends(_token)
calls: list[tuple[str, Any]] = []


class Things:
    def __init__(self, principal: Any) -> None:
        self.principal = principal

    async def keep(self, items: Sequence[ThingIn]) -> list[ThingOut]:
        calls.append(("keep", [item.student_id for item in items]))
        status = "unchanged" if items[0].revision == 1 else "stored"
        return [ThingOut(thing_id=items[0].thing_id or uuid4(), revision=1, dropped=False, status=status)]

    async def keep_batch(self, items: Sequence[ThingIn]) -> tuple[int, bytes]:
        calls.append(("keep_batch", [item.student_id for item in items]))
        return 200, b'{"items":[],"stored":0,"unchanged":0}'

    async def drop(self, thing_id: UUID, request: DropIn) -> ThingOut:
        calls.append(("drop", (thing_id, request, self.principal)))
        return ThingOut(thing_id=thing_id, revision=2, dropped=True, status="stored")


def _service(request: Request, principal: Principal) -> Things:
    return Things(principal)


BATCH_DOC = """All or nothing; a problem names every bad item (`items.<index>.<field>`). An item for an
    organiser the token may not write for is a 403 naming it."""
DROP_DOC = """Drop a thing as its next revision. An id never stored is a 404."""


def by_hand() -> APIRouter:
    """The routes as the assessment service wrote them before the kit declared them."""
    router = APIRouter(prefix="/v1/things", tags=["things"])
    batch_body = json_body(ThingBatchIn)

    @router.post("", response_model=ThingOut, status_code=201, responses={
        200: {"description": "The same thing again", "model": ThingOut}, **problem_responses(409)})
    async def keep(item: ThingIn, request: Request, response: Response, principal: Principal = WRITER) -> ThingOut:
        return single_answer(await _service(request, principal).keep([item]), response)

    @router.post("/batch", response_model=ThingBatchOut, status_code=201, responses={
        200: {"description": "Every thing was already stored", "model": ThingBatchOut},
        **problem_responses(409)}, openapi_extra=json_body_openapi(ThingBatchIn))
    async def keep_batch(request: Request, principal: Principal = WRITER,
                         batch: ThingBatchIn = batch_body) -> Response:
        """All or nothing; a problem names every bad item (`items.<index>.<field>`). An item for an
        organiser the token may not write for is a 403 naming it."""
        status, body = await _service(request, principal).keep_batch(batch.items)
        return Response(body, status_code=status, media_type="application/json")

    @router.post("/{thing_id}/drop", response_model=ThingOut, responses=problem_responses(404, 409))
    async def drop(thing_id: UUID, request: Request, body: DropIn | None = None,
                   principal: Principal = WRITER) -> ThingOut:
        """Drop a thing as its next revision. An id never stored is a 404."""
        return await _service(request, principal).drop(thing_id, body or DropIn())

    return router


def by_kit() -> APIRouter:
    router = APIRouter(prefix="/v1/things", tags=["things"])
    add_record_routes(router, RecordRoutes(
        id_name="thing_id", writer=WRITER, service=_service,
        item=ThingIn, answer=ThingOut, batch=ThingBatchIn, batch_answer=ThingBatchOut, removal=DropIn,
        write="keep", write_batch="keep_batch", remove="drop",
        store=Things.keep, store_batch=Things.keep_batch, take_back=Things.drop,
        same_again="The same thing again", batch_same_again="Every thing was already stored",
        batch_doc=BATCH_DOC, remove_doc=DROP_DOC))
    return router


def _app(router: APIRouter) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app


def test_the_document_is_the_hand_written_routes_one() -> None:
    kit, hand = _app(by_kit()).openapi(), _app(by_hand()).openapi()
    assert json.dumps(kit, ensure_ascii=False) == json.dumps(hand, ensure_ascii=False)  # key order too
    drop = kit["paths"]["/v1/things/{thing_id}/drop"]["post"]
    assert drop["operationId"] == "drop_v1_things__thing_id__drop_post" and drop["summary"] == "Drop"
    assert [p["name"] for p in drop["parameters"]] == ["thing_id"]


@pytest.fixture
async def client() -> Any:
    calls.clear()
    transport = httpx.ASGITransport(app=_app(by_kit()))
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 headers={"authorization": "Bearer t"}) as client:
        yield client


async def test_a_single_write_is_201_or_200_when_the_same_again(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/things", json={"student_id": "s-1"})).status_code == 201
    assert (await client.post("/v1/things", json={"student_id": "s-1", "revision": 1})).status_code == 200
    assert calls == [("keep", ["s-1"]), ("keep", ["s-1"])]


async def test_a_batch_is_parsed_once_and_answered_as_the_service_encoded_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things/batch", json={"items": [{"student_id": "s-1"}, {"student_id": "s-2"}]})
    assert (response.status_code, response.content) == (200, b'{"items":[],"stored":0,"unchanged":0}')
    assert response.headers["content-type"] == "application/json"
    assert calls == [("keep_batch", ["s-1", "s-2"])]
    bad = await client.post("/v1/things/batch", json={"items": [{"student_id": "s-1", "extra": 1}]})
    assert bad.status_code == 422 and "items.0.extra" in bad.text


async def test_the_token_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/things/batch", json={"items": "nope"}, headers={"authorization": ""})
    assert response.status_code == 422  # a token (even an empty one) lets the body be read
    del client.headers["authorization"]
    assert (await client.post("/v1/things/batch", json={"items": "nope"})).status_code == 401
    assert (await client.post(f"/v1/things/{uuid4()}/drop", json={"revision": "x"})).status_code == 401
    assert calls == []


async def test_a_removal_gets_the_path_id_the_body_or_an_empty_one_and_the_token(client: httpx.AsyncClient) -> None:
    thing = uuid4()
    assert (await client.post(f"/v1/things/{thing}/drop")).json()["dropped"] is True
    assert (await client.post(f"/v1/things/{thing}/drop", json={"revision": 3})).status_code == 200
    assert calls == [("drop", (thing, DropIn(), "Bearer t")), ("drop", (thing, DropIn(revision=3), "Bearer t"))]
    assert (await client.post("/v1/things/not-a-uuid/drop")).status_code == 422
