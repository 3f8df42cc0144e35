"""What the kit's app documents of its answers, as a client generated from the OpenAPI document reads it (round 29):
every refusal the guards send is documented on the operation it reaches, every header they or the kit's routes send
is documented on its response, integer bounds are integers, and a 405's `Allow` is the document's methods."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import MetaData

from styrkedja_kit.app import create_service_app, define_kit_tables
from styrkedja_kit.documented import document_headers, integer_bounds
from styrkedja_kit.problems import literal_templates
from styrkedja_kit.settings import ServiceSettings

router = APIRouter()


class Thing(BaseModel):
    year: int = Field(ge=0, le=9)


@router.get("/v1/things/{thing_id}")
async def read_thing(thing_id: str) -> dict[str, str]:
    return {"thing_id": thing_id}


@router.post("/v1/things/special")
async def special(thing: Thing) -> dict[str, str]:
    return {"ok": "yes"}


@router.post("/v1/sweep")
async def sweep(at: Annotated[int | None, Query(ge=1, le=100)] = None) -> dict[str, str]:
    return {"swept": "yes"}


@router.patch("/v1/things/{thing_id}")
async def edit(thing_id: str, thing: Thing) -> dict[str, str]:
    return {"ok": "yes"}


@router.post("/v1/keyed")
async def keyed(thing: Thing, key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> dict[str, str]:
    return {"ok": "yes"}


@router.get("/v1/file", responses={200: {"content": {"text/csv": {}}}})
async def file() -> Response:
    return Response("a;b\r\n", media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="x.csv"'})


def _app() -> Any:
    settings = ServiceSettings(service_name="documented", database_url="postgresql+asyncpg://d@127.0.0.1:9/d")
    metadata = MetaData()
    define_kit_tables(metadata, outbox=False)
    return create_service_app(settings, metadata, [router], title="documented", uses_outbox=False)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _app().openapi()  # type: ignore[no-any-return]


def test_a_body_method_documents_the_guards_refusals_whether_or_not_it_reads_a_body(document):
    """Failed on the old code: `/v1/sweep` (a POST reading no body) documented neither 413 nor 415 nor 408, which the
    `RequestGuard` answers before routing, by the method alone; no GET documented 413 (a declared length over the
    bound)."""
    sweep = document["paths"]["/v1/sweep"]["post"]["responses"]
    assert {"400", "408", "413", "415"} <= set(sweep), sorted(sweep)
    assert "413" in document["paths"]["/v1/things/{thing_id}"]["get"]["responses"]
    assert "415" not in document["paths"]["/v1/things/{thing_id}"]["get"]["responses"]  # a GET's body is `no_body`


def test_the_headers_sent_are_documented_on_their_responses(document):
    """Failed on the old code: none of these headers was documented."""
    file_ok = document["paths"]["/v1/file"]["get"]["responses"]["200"]
    assert "Content-Disposition" in file_ok.get("headers", {})
    keyed = document["paths"]["/v1/keyed"]["post"]["responses"]
    assert "Idempotent-Replayed" in keyed["200"]["headers"]
    assert "Retry-After" in keyed["409"]["headers"]
    assert "Accept-Patch" in document["paths"]["/v1/things/{thing_id}"]["patch"]["responses"]["415"]["headers"]
    assert "Accept-Encoding" in document["paths"]["/v1/things/special"]["post"]["responses"]["415"]["headers"]
    # JSON is no file, and an operation without the key sends no replay header
    assert "Content-Disposition" not in (document["paths"]["/v1/things/special"]["post"]["responses"]["200"]
                                         .get("headers") or {})
    assert "Idempotent-Replayed" not in (document["paths"]["/v1/things/special"]["post"]["responses"]["200"]
                                         .get("headers") or {})


def test_integer_bounds_are_integers(document):
    """Failed on the old code: `maximum: 9.0` (FastAPI's model of the document types every bound `float`), which
    generators paste into their own validation (`@Min(1.0)` does not compile)."""
    year = document["components"]["schemas"]["Thing"]["properties"]["year"]
    assert (year["minimum"], year["maximum"]) == (0, 9) and type(year["maximum"]) is int, year
    at = next(p for p in document["paths"]["/v1/sweep"]["post"]["parameters"] if p["name"] == "at")["schema"]
    bounds = [o for o in at.get("anyOf", [at]) if o.get("type") == "integer"][0]
    assert type(bounds["minimum"]) is int and type(bounds["maximum"]) is int, at
    # a number keeps its fraction; the functions are idempotent
    assert integer_bounds({"type": "number", "maximum": 2.5}) == {"type": "number", "maximum": 2.5}
    assert document_headers(integer_bounds(document)) == document


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/v1/things/special", "POST"),  # the GET of `{thing_id}` matches the path too; the document's path is POST
    ("PUT", "/v1/things/t1", "GET, HEAD, PATCH"),
    ("DELETE", "/v1/sweep", "POST"),
])
async def test_a_405_allows_the_methods_the_document_has_at_that_path(method, path, allow):
    """Failed on the old code: `PUT /v1/things/special` said `Allow: GET, HEAD, POST`."""
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/things/special"),
    ("HEAD", "/v1/things/special"),
    ("PATCH", "/v1/things/special"),
])
async def test_a_fixed_path_is_its_own_template_s_and_a_method_it_does_not_answer_is_a_405(method, path):
    """`/v1/things/special` answers POST only, and `/v1/things/{thing_id}` GET and PATCH match the path too: the router
    took the first route answering the method, so a GET was `read_thing("special")` (and at a service's id route a
    422 naming an id no client sent). The document matches the fixed template first, and so does the app now: a 405
    with its `Allow`, naming the method. Failed on the old code: 200 and 422 (round 30a)."""
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path, json={"year": 1} if method == "PATCH" else None)
        taken = await client.post(path, json={"year": 1})  # its own method still answered
        templated = await client.get("/v1/things/ordinary")  # and the template's at any other id
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    if method != "HEAD":
        assert response.json()["errors"][0]["rule"] == "method_not_allowed", response.json()
    assert taken.status_code == 200 and taken.json() == {"ok": "yes"}, taken.text
    assert templated.status_code == 200 and templated.json() == {"thing_id": "ordinary"}, templated.text


def test_the_fixed_templates_are_found_from_the_document_s_paths():
    """Each template another matches — a parameter of that one where this one has a fixed segment — with its methods,
    most literal first; a template beside no such other (or one differing in a fixed segment only) is none."""
    ops: dict[str, Any] = {"get": {}}
    paths = {"/a/{id}": ops, "/a/fixed": {"post": {}, "parameters": []}, "/a/{id}/b": ops, "/a/x/b": {"delete": {}},
             "/a/fixed/{part}": ops, "/c/one": ops, "/c/two": ops, "/{all}/x/b": ops}
    found = [(template, sorted(methods)) for template, _, methods in literal_templates(paths)]
    # (`/a/{id}/b` is no more literal than `/{all}/x/b`: each has a parameter where the other has a fixed segment)
    assert found == [("/a/fixed", ["POST"]), ("/a/x/b", ["DELETE"])]
