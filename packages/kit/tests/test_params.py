"""The parameter types a route uses for its query and path parameters: a bad one is a 422
problem naming the parameter and the rule (no database needed)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from styrkedja_kit.app import RequestGuard
from styrkedja_kit.inputs import OrganiserIdParam, SafeTextParam, SchoolUnitCodeParam, SubjectCodeParam
from styrkedja_kit.problems import install_problem_handlers


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=1024)

    @app.get("/units/{school_unit_code}")
    async def unit(school_unit_code: SchoolUnitCodeParam, organiser_id: OrganiserIdParam | None = None,
                   subject_code: SubjectCodeParam | None = None, q: SafeTextParam | None = None) -> dict[str, str]:
        return {"school_unit_code": school_unit_code}

    return app


@pytest.mark.parametrize(("path", "params", "field", "rule"), [
    ("/units/\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", {}, "school_unit_code", "ascii_only"),
    ("/units/1234", {}, "school_unit_code", "string_pattern_mismatch"),
    ("/units/12345678", {"organiser_id": "29\x0099"}, "organiser_id", "no_control_characters"),
    ("/units/12345678", {"organiser_id": "\u0662\u0669\u0669\u0669"}, "organiser_id", "ascii_only"),
    ("/units/12345678", {"q": "nul\x00"}, "q", "no_control_characters"),
    ("/units/12345678", {"q": "elev 19121212\u20131212"}, "q", "no_personal_identity_number"),
    ("/units/12345678", {"subject_code": "GRGRXYZ01"}, "subject_code", "unknown_subject_code"),
])
async def test_bad_parameters_are_problems_naming_parameter_and_rule(path, params, field, rule) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app()), base_url="http://t") as client:
        response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = [(e["field"], e["rule"]) for e in response.json()["errors"]]
    assert (field, rule) in errors, errors


async def test_good_parameters_pass() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app()), base_url="http://t") as client:
        response = await client.get("/units/12345678", params={"organiser_id": "2999", "subject_code": "GRGRMAT01",
                                                                "q": "Läsår 2026/27\tHT"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/units/12345678%2Fx", "/units/12345678%2f", "/units/..%5Cx", "/units/%5c",
                                  "/units%2F12345678"])
async def test_an_encoded_separator_in_the_path_is_a_400_naming_the_path_and_rule(path) -> None:
    """Failed on the old code: the server decodes `%2F` before routing, so the request went to another route than
    the one its segments named (or a 404 naming nothing)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app()), base_url="http://t") as client:
        response = await client.get(path)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("path", "encoded_separator")]


async def test_an_encoded_separator_in_the_query_or_other_encoded_bytes_in_the_path_are_left_to_the_routes() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app()), base_url="http://t") as client:
        assert (await client.get("/units/12345678", params={"q": "a/b\\c"})).status_code == 200
        assert (await client.get("/units/%31%32345678")).json() == {"school_unit_code": "12345678"}
