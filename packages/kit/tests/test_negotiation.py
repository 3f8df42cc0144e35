"""The kit's one Accept rule (`negotiation`): an operation answers JSON (problem+json when it refuses) and the types
its 200 documents; an Accept header admitting none of them is a 406 problem naming the header."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Response
from starlette.datastructures import Headers

from styrkedja_kit.negotiation import accept_of, acceptable, admits
from styrkedja_kit.problems import Problem, install_problem_handlers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def make_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(acceptable)])
    install_problem_handlers(app)
    router = APIRouter()

    @router.get("/json")
    async def json_only() -> dict[str, int]:
        return {"a": 1}

    @router.get("/book", response_class=Response, responses={200: {"content": {XLSX: {}}}})
    async def book() -> Response:
        return Response(b"PK", media_type=XLSX)

    app.include_router(router)
    return app


async def get(path: str, accept: str | None) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        request = client.build_request("GET", path)
        if accept is None:
            del request.headers["accept"]
        else:
            request.headers["accept"] = accept
        return await client.send(request)


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/json", "application/problem+json", "application/*",
                                    "text/html, */*;q=0.1", "application/xml;q=1, application/json;q=0.001",
                                    "APPLICATION/JSON; charset=utf-8"])
async def test_an_accept_header_admitting_json_or_anything_is_answered(accept: str | None) -> None:
    assert (await get("/json", accept)).status_code == 200


@pytest.mark.parametrize("accept", ["application/xml", "text/csv", "text/html", "application/json;q=0",
                                    "*/*;q=0, text/plain", XLSX,
                                    # no media ranges (round 21: `*/json` and `*/json;q=1, text/html` were answered in
                                    # JSON, the `*` matching any type)
                                    "*/json", "*/json;q=1, text/html", "*/problem+json", "json", "application",
                                    "/json", "application/json/x", "*/*/*", "*", ",,,", "a" * 10_000])
async def test_an_accept_header_admitting_none_of_the_types_is_a_406_naming_the_header(accept: str) -> None:
    got = await get("/json", accept)
    assert got.status_code == 406 and got.headers["content-type"] == "application/problem+json", got.text
    assert [(e["field"], e["rule"]) for e in got.json()["errors"]] == [("Accept", "not_acceptable")]
    assert "application/json" in got.json()["errors"][0]["message"]


async def test_a_type_an_operation_documents_for_its_200_is_admitted_there_only() -> None:
    assert (await get("/book", XLSX)).status_code == 200
    assert (await get("/json", XLSX)).status_code == 406
    assert (await get("/book", "application/xml")).status_code == 406


async def test_a_weight_that_is_not_a_qvalue_is_a_400_naming_the_header() -> None:
    got = await get("/json", "application/xml;q=NaN")
    assert got.status_code == 400 and got.json()["errors"][0]["field"] == "Accept", got.text


def test_only_media_ranges_admit() -> None:
    """RFC 9110 §12.5.1: `*/*`, `type/*`, `type/subtype`; `*` is a type only in `*/*`."""
    assert not admits("*/json", ["application/json"]) and not admits("*/csv", ["text/csv"])
    assert admits("*/json, application/json", ["application/json"]) and admits("text/*", ["text/csv"])
    assert admits(" application/json ; q=1", ["application/json"])


def test_admits_reads_weights_and_wildcards() -> None:
    assert admits(None, ["application/json"]) and admits("text/*", ["text/csv; charset=utf-8"])
    assert not admits("text/csv;q=0", ["text/csv"]) and not admits("image/png", ["application/json"])
    with pytest.raises(Problem):
        admits("text/csv;q=2", ["text/csv"])


async def test_accept_sent_as_two_fields_is_one_list() -> None:
    """Failed on the old code: the first field alone was read, so `text/html` and `application/json` on two lines was
    a 406 (and on the book, `application/json` then the workbook's type admitted JSON only, where a proxy joining
    the two fields, as RFC 9110 §5.3 allows, asked for either)."""
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for path, fields, status in [("/json", ["text/html", "application/json"], 200),
                                     ("/json", ["application/json;q=0", "text/html"], 406),
                                     ("/book", ["text/html", XLSX], 200),
                                     ("/json", ["text/html", "application/xml"], 406)]:
            headers = httpx.Headers([("accept", value) for value in fields])
            answer = await client.get(path, headers=headers)
            assert answer.status_code == status, (path, fields, answer.text)
    assert accept_of(Headers(raw=[(b"accept", b"text/html"), (b"x", b"y"), (b"accept", b"*/*;q=0.1")])) == \
        "text/html, */*;q=0.1"
    assert accept_of(Headers(raw=[])) is None
