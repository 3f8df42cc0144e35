"""`inputs.json_body`: a body parsed and validated in one pass answers as FastAPI's own body parameter
does (the same 422 problems, field by field), and is documented the same way."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI
from pydantic import Field

from styrkedja_contracts.identifiers import StudentId
from styrkedja_kit.inputs import InputModel, StrictInt, json_body, json_body_openapi
from styrkedja_kit.problems import install_problem_handlers


class Item(InputModel):
    student_id: StudentId
    round: Annotated[StrictInt, Field(ge=1, le=4)]
    note: str | None = None


class Batch(InputModel):
    items: list[Item] = Field(min_length=1, max_length=3)


BODY = json_body(Batch)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/item")
    async def one(item: Item) -> dict[str, int]:  # makes the components the batch's schema refers to
        return {"round": item.round}

    @app.post("/fastapi")
    async def by_fastapi(batch: Batch) -> dict[str, int]:
        return {"items": len(batch.items)}

    @app.post("/one-pass", openapi_extra=json_body_openapi(Batch))
    async def one_pass(batch: Batch = BODY) -> dict[str, int]:
        return {"items": len(batch.items)}

    return app


GOOD = {"items": [{"student_id": "s-1", "round": 1}, {"student_id": "s-2", "round": 4, "note": "ok"}]}
BAD = [
    {"items": [{"student_id": "19121212-1212", "round": 1}]},
    {"items": [{"student_id": "s-1", "round": 5}, {"student_id": "s-2", "round": "1"}]},
    {"items": [{"student_id": "s-1", "round": True, "note": "a\x00b"}]},
    {"items": [{"student_id": "s-1", "round": 1, "extra": 1}]},
    {"items": []},
    {"items": [{"student_id": "s-1", "round": 1}] * 4},
    {"items": "nope"},
    {"items": [{"round": 1.0}]},
    {"other": 1},
    [1, 2],
    "a string",
    None,
]


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://t") as client:
        yield client


async def answers(client: httpx.AsyncClient, path: str, body: bytes, content_type: str | None = "application/json"):
    """Status and body (a problem's `instance` aside: the path)."""
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(path, content=body, headers=headers)
    answer = response.json()
    if response.status_code >= 400:
        assert answer.pop("instance") == path
    return response.status_code, answer


async def test_a_good_body_is_the_same_model(client) -> None:
    body = json.dumps(GOOD).encode()
    assert await answers(client, "/one-pass", body) == await answers(client, "/fastapi", body) == (200, {"items": 2})


@pytest.mark.parametrize("bad", BAD)
async def test_a_bad_body_is_the_same_problem(client, bad) -> None:
    body = json.dumps(bad).encode()
    by_fastapi = await answers(client, "/fastapi", body)
    assert by_fastapi[0] == 422
    assert await answers(client, "/one-pass", body) == by_fastapi


@pytest.mark.parametrize(("body", "content_type"), [(b"", "application/json"), (json.dumps(GOOD).encode(), None)])
async def test_no_body_or_no_media_type_is_the_same_problem(client, body, content_type) -> None:
    by_fastapi = await answers(client, "/fastapi", body, content_type)
    assert by_fastapi[0] == 422
    assert await answers(client, "/one-pass", body, content_type) == by_fastapi


@pytest.mark.parametrize("body", [b"{not json", b'{"items": [', b'{"items": [{"student_id": "s-1", "round": NaN}]}',
                                  b"[" * 100_000, b'{"items": [{"student_id": "s-\\ud800", "round": 1}]}',
                                  b'{"items": [{"student_id": "s-\xff", "round": 1}]}'])
async def test_a_body_that_is_not_json_is_the_same_problem(client, body) -> None:
    by_fastapi = await answers(client, "/fastapi", body)
    assert 400 <= by_fastapi[0] < 500
    assert await answers(client, "/one-pass", body) == by_fastapi


def test_documented_as_fastapi_documents_a_body_parameter() -> None:
    document = make_app().openapi()
    by_fastapi = document["paths"]["/fastapi"]["post"]["requestBody"]
    one_pass = document["paths"]["/one-pass"]["post"]["requestBody"]
    assert by_fastapi["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Batch"}
    assert one_pass == {**by_fastapi, "content": {"application/json": {"schema": document["components"]["schemas"][
        "Batch"]}}}
    assert one_pass["content"]["application/json"]["schema"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/Item"}


@pytest.mark.parametrize("body", [b'{"a": NaN, "b": -NaN}', b'{"a": 1, "a": 2} x', b'[{"a": 1, "a": 2}, nope]',
                                  b"[NaN, " + b"[" * 100_000])
def test_a_refusal_found_before_the_bodys_fault_leaves_it_to_the_parser(body: bytes) -> None:
    """Round 21: the scan stopped at the NaN (or the key given twice) before the fault after it, and finding where it
    stood parsed the whole body: a JSONDecodeError or RecursionError, a 500 on every batch door. Now such a body is
    no JSON, for the route's parser to name (`json_invalid`)."""
    from styrkedja_kit.inputs import json_refusal

    assert json_refusal(body) is None
    assert json_refusal(b'{"a": [1, NaN]}') == ("a.1", "non_finite_number",
                                               "NaN is not a JSON number (RFC 8259 §6); send a number or null")


@pytest.mark.parametrize("body, where", [
    (b'{"points": 2.00000000000000001}', "points"),
    (b'{"points": 1e-400}', "points"),
    (b'{"items": [{"p": 1.5}, {"p": 123456789012345678901234567890.5}]}', "items.1.p"),
    (b'{"p": 1e-400, "p": 1}', "p"),  # the first of a key given twice: where it was written
    (b'[0.1, 191212121212.00000000001]', "1"),
])
def test_a_number_a_float_holds_only_rounded_is_refused_where_it_stands(body: bytes, where: str) -> None:
    """Round 33: read as a 64-bit float, `2.00000000000000001` was `2` (a decimal of at most four places taken), `1e-400`
    was `0`. Failed before: None (taken). The number is never repeated (it may hold a personal identity number)."""
    from styrkedja_kit.inputs import json_refusal

    refused = json_refusal(body)
    assert refused is not None and refused[:2] == (where, "inexact_number"), refused
    assert "1912" not in refused[2]


@pytest.mark.parametrize("body", [
    b'{"a": 0.1, "b": -0.0, "c": 1E+2, "d": 12.3456000, "e": 0.30000000000000004, "f": 5e-324}',
    b'{"g": 1.7976931348623157e308, "h": 1e400, "i": 2.5e-3, "j": -7.25}',
])
def test_a_number_a_float_holds_as_written_is_taken(body: bytes) -> None:
    """Trailing zeros, an exponent, the float's own shortest text: the same number. `1e400` is left to the field's
    rule (`finite_number`, `int_type`), as before."""
    from styrkedja_kit.inputs import json_refusal

    assert json_refusal(body) is None
