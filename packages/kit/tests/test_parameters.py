"""Query and path parameters read strictly (`styrkedja_kit.parameters`): the rules, and an app that applies them
(no database needed). Each case named here was taken by pydantic's lax mode before the rule (said at each)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote_to_bytes
from uuid import UUID

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Path, Query
from pydantic import AwareDatetime

from styrkedja_kit.app import RequestGuard, _odd_path
from styrkedja_kit.inputs import DateParam, OrganiserIdParam, json_refusal, key_given_twice
from styrkedja_kit.parameters import (
    Parameter,
    describe,
    judge,
    parameters_of,
    query_items,
    strict_parameters,
    value_error,
)
from styrkedja_kit.problems import document_problems, install_problem_handlers


def make_app(unknown: Literal["refuse", "ignore"] = "refuse") -> FastAPI:
    app = FastAPI(dependencies=[Depends(strict_parameters(unknown))])
    install_problem_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=4096)

    @app.get("/rounds/{round}")
    async def one_round(round: Annotated[int, Path(ge=1, le=4)], year: int | None = Query(None, ge=0, le=9),
                        flag: bool = False, on: DateParam | None = None, day: date | None = None,
                        id: UUID | None = None, organiser_id: OrganiserIdParam | None = None,
                        split: list[Literal["gender", "year"]] = Query(default=[]),
                        owner: Annotated[str | None, Query(max_length=100)] = None,
                        unit: Annotated[str | None, Query(pattern=r"^\d{8}$")] = None,
                        delta: int | None = None) -> dict[str, object]:
        return {"round": round, "year": year, "flag": flag, "split": split, "delta": delta, "unit": unit}

    @app.post("/bodies")
    async def bodies(body: dict[str, object]) -> dict[str, str]:
        return {"ok": "yes"}

    return app


async def _get(app: FastAPI, target: str, headers: list[tuple[bytes, bytes]] | None = None) -> httpx.Response:
    """GET `target` as written, as a server hands it to the app (httpx would resolve a `..` segment itself), with
    `headers` as sent (a header twice too)."""
    raw_path, _, query = target.encode().partition(b"?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"), "raw_path": raw_path,
             "query_string": query, "root_path": "", "headers": [(b"host", b"t"), *(headers or [])],
             "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return httpx.Response(start["status"], headers=start["headers"], content=body)


def _errors(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [(e["field"], e["rule"]) for e in response.json()["errors"]]


LAX_INTEGERS = ["1_0", "%2B1", "%201", "1%20", "1.0", "%EF%BC%91", "%D9%A3", "01", "-0", "0x1", "1e0", "", "9" * 5000]


@pytest.mark.parametrize("value", LAX_INTEGERS)
async def test_an_integer_in_a_query_is_ascii_digits_only(value) -> None:
    """Failed on the old code for 1_0 (read as 10: refused only by the bound), +1, ' 1', '1 ', 1.0, 01, -0 (read as
    1, 1, 1, 1, 1 and 0: answered as if asked right)."""
    response = await _get(make_app(), f"/rounds/2?year={value}")
    assert response.status_code == 422
    assert _errors(response) in ([("year", "integer_format")], [("year", "less_than_equal")])


@pytest.mark.parametrize("value", ["1_0", "+1", "%201", "01", "-0", "%EF%BC%92"])
async def test_an_integer_in_a_path_is_ascii_digits_only(value) -> None:
    response = await _get(make_app(), f"/rounds/{value}")
    assert response.status_code == 422 and _errors(response) == [("round", "integer_format")], response.text


async def test_integers_in_their_plain_spelling_and_their_bounds() -> None:
    app = make_app()
    assert (await _get(app, "/rounds/4?year=0&delta=-5")).json()["delta"] == -5  # unbounded: negative makes sense
    assert _errors(await _get(app, "/rounds/5")) == [("round", "less_than_equal")]
    assert _errors(await _get(app, "/rounds/2?year=-3")) == [("year", "greater_than_equal")]  # below its least
    assert _errors(await _get(app, "/rounds/2?delta=-0")) == [("delta", "integer_format")]
    assert _errors(await _get(app, "/rounds/2?delta=99999999999")) == [("delta", "less_than_equal")]  # a database int
    assert _errors(await _get(app, "/rounds/2?delta=-" + "9" * 40)) == [("delta", "greater_than_equal")]


@pytest.mark.parametrize(("query", "field", "rule"), [
    ("flag=1", "flag", "bool_parsing"), ("flag=yes", "flag", "bool_parsing"), ("flag=TRUE", "flag", "bool_parsing"),
    ("flag=on", "flag", "bool_parsing"),
    ("id=12345678123456781234567812345678", "id", "uuid_format"),
    ("id=%7B12345678-1234-5678-1234-567812345678%7D", "id", "uuid_format"),
    ("id=urn:uuid:12345678-1234-5678-1234-567812345678", "id", "uuid_format"),
    ("day=2026-01-01T00:00:00", "day", "date_format"), ("on=2026-01-01T00:00:00", "on", "date_format"),
    ("year=7&year=8", "year", "repeated"), ("year=7&year=7", "year", "repeated"),
    ("yaer=7", "yaer", "unknown_parameter"),
    ("year=%ff", "year", "utf8"), ("owner=%00", "owner", "no_control_characters"),
    ("owner=19121212-1212", "owner", "no_personal_identity_number"),
    ("owner=", "owner", "not_blank"), ("owner", "owner", "not_blank"), ("owner=+", "owner", "not_blank"),
    ("owner=%20%09", "owner", "not_blank"),
    ("unit=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%98", "unit",
     "string_pattern_mismatch"),
])
async def test_each_rule_is_a_problem_naming_the_parameter_and_the_rule(query, field, rule) -> None:
    """Failed on the old code for all but the text rules on `owner` and the date-time as `on`: `flag=1`, `yes`, `on`
    were true, the UUIDs the same id, a date-time at midnight a date, `year` twice its last value, `yaer` ignored,
    `%ff` U+FFFD, full-width digits a match for `\\d{8}`, NUL and a personnummer in plain text were let through, an
    empty or blank `owner` was a filter by "" (round 23c)."""
    response = await _get(make_app(), f"/rounds/2?{query}")
    assert response.status_code == 422, response.text
    assert _errors(response) == [(field, rule)]


async def test_what_the_rules_allow_passes() -> None:
    response = await _get(make_app(), "/rounds/3?year=9&flag=true&on=2026-01-01&day=2026-02-28&split=gender&split=year"
                                      "&id=12345678-1234-5678-1234-56781234567A&organiser_id=2120001234&owner=%C3%85sa"
                                      "&unit=12345678&delta=0")
    assert response.status_code == 200, response.text
    assert response.json() == {"round": 3, "year": 9, "flag": True, "split": ["gender", "year"], "delta": 0,
                               "unit": "12345678"}


async def test_a_required_parameter_left_out_is_named_beside_the_broken_rules() -> None:
    app = FastAPI(dependencies=[Depends(strict_parameters())])
    install_problem_handlers(app)

    @app.get("/compare")
    async def compare(first: UUID, second: UUID) -> dict[str, str]:
        return {"first": str(first)}

    assert _errors(await _get(app, "/compare?first=x")) == [("first", "uuid_format"), ("second", "missing")]
    assert _errors(await _get(app, "/compare?first=" + "1" * 32)) == [("first", "uuid_format"), ("second", "missing")]


async def test_unknown_parameters_may_be_ignored_where_the_app_says_so() -> None:
    app = make_app("ignore")
    assert (await _get(app, "/rounds/2?utm_source=mail&session_state=x")).status_code == 200
    assert _errors(await _get(app, "/rounds/2?year=1_0")) == [("year", "integer_format")]


def _moments_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(strict_parameters())])
    install_problem_handlers(app)

    @app.get("/moments")
    async def moments(since: datetime | None = None, at: AwareDatetime | None = None,
                      day: date | None = None) -> dict[str, str | None]:
        # what a route then does with it: a moment in UTC, as asyncpg sends a timestamptz (OverflowError past its max)
        return {"since": since and since.astimezone(UTC).isoformat(), "at": at and at.astimezone(UTC).isoformat(),
                "day": day and day.isoformat()}

    return app


@pytest.mark.parametrize(("query", "field", "rule"), [
    ("since=9999-12-31T23:59:59-14:00", "since", "date_range"), ("since=9999-12-31T23:59:59Z", "since", "date_range"),
    ("since=0001-01-01T00:00:00%2B01:00", "since", "date_range"), ("since=1899-12-31T23:59:59Z", "since", "date_range"),
    ("at=9999-12-31T23:59:59-01:00", "at", "date_range"), ("at=0001-01-01T00:00:00%2B14:00", "at", "date_range"),
    ("day=9999-12-31", "day", "date_range"), ("day=0001-01-01", "day", "date_range"),
    ("at=1700000000", "at", "datetime_format"), ("at=2026-01-01", "at", "datetime_format"),
    ("at=2026-01-01T00:00:00", "at", "datetime_format"), ("at=2026-01-01+00:00:00Z", "at", "datetime_format"),
])
async def test_a_date_or_moment_in_a_query_is_one_of_the_years_bodies_take(query, field, rule) -> None:
    """Failed on the old code: a moment in year 9999 behind UTC, or in year 1 ahead of it, passed every rule and was
    an OverflowError where it became UTC (reporting's audit trail and freshness sweep: a plain-text 500, the
    connection dropped); `at` as pydantic's `AwareDatetime` was no date-time to the rule (a text), so
    `1700000000` (ten digits: a personnummer's length) was read as a Unix timestamp."""
    response = await _get(_moments_app(), f"/moments?{query}")
    assert response.status_code == 422, response.text
    assert _errors(response) == [(field, rule)]


async def test_moments_in_the_years_bodies_take_pass() -> None:
    response = await _get(_moments_app(), "/moments?since=2199-12-31T23:59:59-14:00&at=1900-01-01T00:00:00%2B14:00"
                                          "&day=2026-02-28")
    assert response.status_code == 200, response.text
    assert response.json() == {"since": "2200-01-01T13:59:59+00:00", "at": "1899-12-31T10:00:00+00:00",
                               "day": "2026-02-28"}


async def test_a_moment_in_a_query_takes_the_fraction_a_body_takes() -> None:
    """Round 28t: RFC 3339 sets no bound on a fraction's digits, nor do the bodies and events (the contracts'
    `DATETIME_TEXT`): .NET writes seven. Failed on the old code: a 422 `datetime_format` for the query alone. A leap
    day of a leap year is a day; one of another year is no date (422)."""
    response = await _get(_moments_app(), "/moments?at=2028-02-29T23:59:59.9999999%2B01:00&day=2028-02-29")
    assert response.status_code == 200, response.text
    assert response.json()["at"] == "2028-02-29T22:59:59.999999+00:00" and response.json()["day"] == "2028-02-29"
    response = await _get(_moments_app(), "/moments?day=2027-02-29")
    assert response.status_code == 422 and [field for field, _ in _errors(response)] == ["day"]


def _keyed_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(strict_parameters())])
    install_problem_handlers(app)

    @app.get("/keyed")
    async def keyed(key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> dict[str, str | None]:
        return {"key": key}

    return app


@pytest.mark.parametrize(("headers", "rule"), [
    ([(b"idempotency-key", b"k1"), (b"idempotency-key", b"k2")], "single_header"),
    ([(b"Idempotency-Key", b"k1"), (b"IDEMPOTENCY-KEY", b"k1")], "single_header"),
    ([(b"idempotency-key", b"19121212-1212")], "no_personal_identity_number"),
    ([(b"idempotency-key", b"elev_121212.1212")], "no_personal_identity_number"),
    ([(b"idempotency-key", b"k\x1b[2J")], "no_control_characters"),
])
async def test_a_header_parameter_is_sent_once_and_obeys_the_text_rules(headers, rule) -> None:
    """Failed on the old code: a header parameter was judged by no rule of the kit's; two `Idempotency-Key`s were read
    as the first (a proxy reading the last, or both joined, saw another request), and a personal identity number as
    the key was taken (reporting kept it with the write's outcome for a day)."""
    app = _keyed_app()
    response = await _get(app, "/keyed", headers)
    assert response.status_code == 422, response.text
    assert _errors(response) == [("Idempotency-Key", rule)]
    assert (await _get(app, "/keyed", [(b"idempotency-key", b"k-1")])).json() == {"key": "k-1"}  # once: taken
    assert (await _get(app, "/keyed")).json() == {"key": None}


@pytest.mark.parametrize("key", [
    "33120660dd74efd6785c6f106a511d2bba5446cd8707267608fb754503dd9578",  # SHA-256 of "styrkedja-1457"
    "3211227768A51C00FB85225F61E70EC189C956B95D0FA3C51D0777CB819F9D76",
])
async def test_a_digest_as_the_key_is_taken_though_its_digits_look_like_a_personal_number(key: str) -> None:
    """Failed on the old code: these SHA-256 digests hold ten or twelve digits that pass for a personnummer by chance
    (one digest in about 1,900), so the SS 12000 importer's chunk keys — digests — were now and then refused (CI)."""
    response = await _get(_keyed_app(), "/keyed", [(b"idempotency-key", key.encode())])
    assert response.status_code == 200, response.text
    assert response.json() == {"key": key}


def test_a_query_string_is_percent_encoded_utf8() -> None:
    assert query_items(b"a=%C3%85&b=x+y&&c") == ([("a", "\u00c5"), ("b", "x y"), ("c", "")], [])
    items, errors = query_items(b"q=\xc3\x96&r=%fe")
    assert items == [] and [(e["loc"], e["type"]) for e in errors] == [(("query", "q"), "percent_encoding"),
                                                                       (("query", "r"), "utf8")]


def test_the_rules_of_one_value() -> None:
    year = Parameter("year", "query", "integer", low=0, high=9)
    assert value_error(year, "9") is None
    assert value_error(year, "10")["type"] == "less_than_equal"  # type: ignore[index]
    flag = Parameter("flag", "query", "boolean")
    assert [value_error(flag, v) is None for v in ("true", "false", "True", "1")] == [True, True, False, False]
    number = Parameter("share", "query", "number")
    assert [value_error(number, v) is None for v in ("0.5", "-1", "NaN", "Infinity", "1e309", "-0.0")] == [
        True, True, False, False, False, True]


def test_every_parameter_of_an_operation_is_read_with_its_kind_and_bounds() -> None:
    app = make_app()
    route = next(r for r in app.routes if getattr(r, "path", "") == "/rounds/{round}")
    known = parameters_of(route)  # type: ignore[arg-type]
    assert known.path["round"] == Parameter("round", "path", "integer", low=1, high=4, required=True)
    assert known.query["year"].low == 0 and known.query["delta"].low == -(2**31)
    assert known.query["split"].many and not known.query["year"].many
    assert known.query["owner"].text_rules and not known.query["organiser_id"].text_rules  # its type checks it
    assert {known.query[n].kind for n in ("flag", "on", "day", "id")} == {"boolean", "date", "uuid"}
    assert judge(known, b"year=1&year=2&zzz=1", {"round": "2"}, unknown="ignore")[0]["type"] == "repeated"


def test_the_openapi_document_says_the_rules() -> None:
    document = describe(document_problems(make_app().openapi()))
    parameters = {p["name"]: p for p in document["paths"]["/rounds/{round}"]["get"]["parameters"]}
    assert "ASCII digits only" in parameters["year"]["description"] and "Given once" in parameters["year"]["description"]
    assert "`true` or `false`" in parameters["flag"]["description"]
    assert "more than once" in parameters["split"]["description"]
    assert "unknown query parameter is a 422" in document["info"]["description"]
    assert all("422" in op["responses"] for item in document["paths"].values() for op in item.values())


@pytest.mark.parametrize(("path", "rule"), [
    ("/rounds/..", "dot_segment"), ("/rounds/%2e%2E", "dot_segment"), ("/rounds/./x", "dot_segment"),
    ("/rounds/%ff", "utf8"), ("/rounds/%C3", "utf8")])
async def test_a_path_no_operation_can_mean_is_a_400_naming_the_path(path, rule) -> None:
    """Failed on the old code: `..` and `%ff` reached routes as parameters (422 on the id's pattern, or a 404 naming
    nothing)."""
    response = await _get(make_app(), path)
    assert response.status_code == 400 and _errors(response) == [("path", rule)], response.text


async def test_a_control_character_in_a_path_parameter_is_named_by_it() -> None:
    app = FastAPI(dependencies=[Depends(strict_parameters())])
    install_problem_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=4096)

    @app.get("/versions/{version}")
    async def version(version: str) -> dict[str, str]:
        return {"version": version}

    for sent in ("/versions/2026.1%00", "/versions/a%01b", "/versions/%1B"):
        response = await _get(app, sent)
        assert response.status_code == 422 and _errors(response) == [("version", "no_control_characters")], sent
    assert (await _get(app, "/versions/2026.1")).json() == {"version": "2026.1"}


def test_odd_paths_and_plain_ones() -> None:
    assert _odd_path(b"/v1/catalogue/2026.1") is None and _odd_path(b"/v1/x/export.xlsx") is None
    assert _odd_path(b"/v1/a...") is None and _odd_path(b"/v1/%C3%85sa") is None
    assert _odd_path(b"/v1/.%2e/x") == _odd_path(b"/v1/..")


@pytest.mark.parametrize(("body", "where"), [
    (b'{"revision": NaN}', "revision"), (b'{"a": [1, {"b": Infinity}]}', "a.1.b"), (b'[-Infinity]', "0"),
    (b'NaN', "body")])
def test_nan_and_infinity_are_no_json(body, where) -> None:
    assert json_refusal(body) == (where, "non_finite_number", json_refusal(body)[2])  # type: ignore[index]
    assert "RFC 8259" in json_refusal(body)[2]  # type: ignore[index]


def test_json_refusal_keeps_the_key_given_twice_and_passes_plain_json() -> None:
    assert json_refusal(b'{"a": 1, "a": 2}')[:2] == ("a", "duplicate_key")  # type: ignore[index]
    assert key_given_twice(b'{"a": 1, "a": 2}') == ("a", "a")
    assert json_refusal(b'{"a": 1e309, "b": "NaN", "c": -0}') is None  # a number JSON has (the route judges it)
    assert json_refusal(b"not json") is None


async def test_nan_in_a_body_is_a_422_naming_where() -> None:
    """Failed on the old code: accepted (a loosely typed field took NaN as a float)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app()), base_url="http://t") as client:
        response = await client.post("/bodies", content=b'{"x": {"y": NaN}}', headers={"content-type": "application/json"})
        assert response.status_code == 422 and _errors(response) == [("x.y", "non_finite_number")]
        assert (await client.post("/bodies", json={"x": 1})).status_code == 200


async def test_a_routes_refusal_that_names_nothing_names_the_request_and_its_statuss_rule() -> None:
    """Failed on the old code: `Problem(404, ...)` and `HTTPException(409, ...)` without errors were problems
    naming no field and no rule (round 16's fuzz found reporting's unit and alert 404s so)."""
    from fastapi import HTTPException

    from styrkedja_kit.problems import Problem

    app = make_app()

    @app.get("/gone")
    async def gone() -> None:
        raise Problem(404, "Not found", "no such unit")

    @app.get("/clash")
    async def clash() -> None:
        raise HTTPException(409, "taken")

    assert _errors(await _get(app, "/gone")) == [("request", "not_found")]
    assert _errors(await _get(app, "/clash")) == [("request", "conflict")]
    assert _errors(await _get(app, "/nowhere")) == [("path", "no_such_route")]
