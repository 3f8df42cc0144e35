"""Hostile inputs, thirteenth round: one organiser in every spelling, at every door.

An organisation number is one organiser whichever of `2120000142`, `212000-0142`, `162120000142` or
`16212000-0142` a client writes (docs/identifiers.md). Here every read of reporting (each GET operation of its
OpenAPI document, so a route added later is swept too) is asked in every spelling, by tokens whose `organisers`
claim is written in every spelling, on data fed in every spelling (events of another producer, as reporting's
consumer applies them); every organiser-valued parameter is sent hostile values; the broker's key and the event's
data are written in different spellings; and a property run per service draws the organiser fields of generated
requests from the spellings. Reporting runs in-process on a fresh database, fed straight through its handlers.

Found and fixed (each test below failed on the old code):
- Reporting: at `level=organiser` a `unit_id` is an organiser id, but it was compared as written: `unit_id=2120000142`
  was refused 403 (`unit_id: this token may not read at organiser level here`) on results, forecasts, every figure
  and the support reads, for a token of that very organiser in any spelling, and matched nothing in the roster
  sizes and alerts. Now the organiser id's own rules (kept spelling, text rules) apply to it at that level
  (`params.unit_at_level`): every spelling reads the same cells, a personnummer in the 12-digit form is refused.
- Reporting: `/v1/alerts` with `unit_id` and no `level` compared the unit as written: the organiser's own alerts
  (kept as `212000-0142`) were not found by `unit_id=2120000142`. Now a unit id matched without a level that
  spells an organisation number is compared in the kept spelling (`params.unit_at_level`).
- Reporting: a `unit_id` (query or path) and LIKA's `area_id` took any string of the id pattern, a personal
  identity number too: `unit_id=19121212-1212` was answered 200 — `/v1/support/summary` repeated it in its body
  — and a student-level list read kept it in the audit trail's `what`. Now `UnitIdParam`: 422 naming the field and
  `no_personal_identity_number`.
- The dashboard: its pages' own patterns took `enhet=19121212-1212` as a unit and sent it on to reporting in the
  query of every read (the chain, its CSV, the drill-down); any parameter may now hold no personal identity
  number (`web.forms.no_personal_identity_number`, every route's first check): a 422 page naming it and the rule,
  before any service is asked.
- FastAPI drops every rule of a parameter declared `x: OrganiserIdParam = Query()` (the type's `Annotated`
  validators and pattern, when `Query()` is the default): a test now holds every query, path and header parameter
  of every service to the rules of its declared type.
- LIKA: listing a unit's self-assessments for an organiser (or unit) outside the token was a 403 naming
  `self_assessment_id`, a field the request does not have; now `organiser_id` (or `school_unit_code`).
- Reporting's directory kept the organiser's own unit (and an area's parent naming it) as the producer spelt it:
  the tree's root was `2120000142` while every figure names `212000-0142`. An id that spells the event's own
  organiser is now kept as the organiser (`directory.rules.organiser_spelt`; live and rebuild alike).
- The kit's audit trail kept a request's query as sent: a parameter no route reads (`note=19121212-1212`, also
  percent-encoded) went into the table. Now redacted (`audit.kept_what`).

Already fine (swept here, each a test that fails if it regresses): a token for one organiser reads another in no
spelling; a record keyed in one spelling carrying another in its data is applied, another organiser's key or a
key no organiser id spells is dead-lettered; 405 with Allow, HEAD as GET, 415 for a compressed or non-JSON body,
406 for an Accept reporting cannot answer, a repeated parameter read as its last value by check and read alike;
every refusal a problem+json of its own status with field, rule and message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import io
import json
import pkgutil
import re
import sys
import typing
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import openpyxl
import pytest
import schemathesis
from fastapi import APIRouter
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from inprocess import SERVICES, RunningService, start_service
from pydantic import TypeAdapter
from schemathesis.generation import GenerationMode
from test_hostile_round12 import ROUTES as DASHBOARD_ROUTES
from test_hostile_round12 import dashboard, serving  # noqa: F401 (the fixture, used by name)

from styrkedja_contracts import decode_event, forecast_id_for
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_contracts.topics import TOPICS, topic_for_event_type
from styrkedja_kit.consumer import Delivered, unfit
from styrkedja_kit.db import Database
from styrkedja_reporting.alerts.tables import alerts
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.params import ID_PATTERN

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: one organisation number in the four spellings a client may write, the kept one second
A = ("2120000142", "212000-0142", "162120000142", "16212000-0142")
B = ("2120000159", "212000-0159", "162120000159", "16212000-0159")
KEPT_A, KEPT_B = A[1], B[1]
UNIT_A, UNIT_B = "11111111", "22222222"
#: the reporting reads that need more than a token and a place, or change with every read
NOT_SWEPT = {"/healthz", "/readyz", "/metrics", "/v1/audit/reads"}
#: an organiser id's value that no rule lets through, with the rule each must be refused by (any organiser field)
def _at_organiser_level(value: str, rule: str) -> str:
    """The rule a `unit_id` at organiser level is refused by: the unit id's own pattern first (ASCII, no control
    character, no space), then the organiser id's, by a rule of its own (`organiser_unit_id`, round 31)."""
    if not re.fullmatch(ID_PATTERN, value) and rule in ("ascii_only", "no_control_characters", "string_pattern_mismatch"):
        return "string_pattern_mismatch"
    return "organiser_unit_id" if rule == "string_pattern_mismatch" else rule


HOSTILE_ORGANISER = [
    ("19121212-1212", "no_personal_identity_number"), ("1212121212", "no_personal_identity_number"),
    ("121212-1212", "no_personal_identity_number"), ("161212121212", "no_personal_identity_number"),
    ("16121212-1212", "no_personal_identity_number"), ("2024-01-02", "string_pattern_mismatch"),
    ("20240102", "string_pattern_mismatch"), ("2024-01-02T10:00:00", "string_pattern_mismatch"),
    ("\u0662\u0661\u0662\u0660\u0660\u0660\u0660\u0661\u0664\u0662", "ascii_only"),
    ("\uff12\uff11\uff12\uff10\uff10\uff10\uff10\uff11\uff14\uff12", "ascii_only"),
    (" 2120000142", "string_pattern_mismatch"), ("2120000142\n", "string_pattern_mismatch"),
    ("2120000142\x00", "no_control_characters"), ("212000-0142\u200b", "string_pattern_mismatch"),
    ("2" * 5000, "string_pattern_mismatch"), ("SE2120000142", "string_pattern_mismatch"),
]
#: what no unit id of any level may be (an area or a school unit's too), with the rule
HOSTILE_UNIT = [
    ("19121212-1212", "no_personal_identity_number"), ("121212-1212", "no_personal_identity_number"),
    ("1212121212", "no_personal_identity_number"), ("x_19121212_1212", "no_personal_identity_number"),
    ("\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11", "string_pattern_mismatch"),
    ("1111 1111", "string_pattern_mismatch"), ("11111111\x00", "string_pattern_mismatch"),
    ("A" * 5000, "string_pattern_mismatch"),
]


# ------------------------------------------------------------------ reporting, fed in every spelling

def event(event_type: str, **data: Any) -> Any:
    """The contracts' example of `event_type` with `data` changed, decoded as reporting's consumer decodes it."""
    document = json.loads(example_bytes(event_type))
    document["id"] = str(uuid.uuid4())
    document["data"].update(data)
    return decode_event(json.dumps(document).encode())


def organiser_events(spellings: tuple[str, ...], code: str, tag: str) -> list[Any]:
    """A directory (organiser → area → school unit → group) and twelve students' assessments and forecasts, each
    event's organiser id in the next of `spellings` (as producers that kept ids as given wrote them)."""
    def spelt(n: int) -> str:
        return spellings[n % len(spellings)]

    upserted, at = "se.styrkedja.organisation.unit_upserted.v1", "2026-09-01T08:00:00+00:00"
    out = [
        event(upserted, unit_type="organiser", unit_id=spelt(0), organiser_id=spelt(0), parent_id=None,
              name=f"Huvudman {tag}", school_unit_code=None, year=None, roster_size=None, updated_at=at),
        event(upserted, unit_type="area", unit_id=f"area-{tag}", organiser_id=spelt(1), parent_id=spelt(0),
              name=f"Område {tag}", school_unit_code=None, year=None, roster_size=None, updated_at=at),
        event(upserted, unit_type="school_unit", unit_id=f"su-{tag}", organiser_id=spelt(2), parent_id=f"area-{tag}",
              name=f"Skola {tag}", school_unit_code=code, year=None, roster_size=None, updated_at=at),
        event(upserted, unit_type="group", unit_id="7A", organiser_id=spelt(3), parent_id=f"su-{tag}", name="7A",
              school_unit_code=code, year=7, roster_size=12, updated_at=at),
    ]
    for n in range(12):
        student = dict(organiser_id=spelt(n), school_unit_code=code, group_id="7A", student_id=f"s-{tag}-{n}", year=7,
                       subject_code="GRGRMAT01", school_year="2026/27", term="HT",
                       gender="female" if n % 2 else "male")
        out.append(event("se.styrkedja.assessment.published.v1", assessment_id=str(uuid.uuid4()), revision=1,
                         value="ABCDEF"[n % 6], unmet_criteria=["Taluppfattning"] if n % 6 == 5 else [], round=1,
                         assessed_on="2026-10-01", **student))
        # the id of the key as the producer spelt the organiser (a forecast of before identity1: the event takes it)
        forecast_id = forecast_id_for(spelt(n), student["student_id"], "GRGRMAT01", "2026/27", "HT")
        out.append(event("se.styrkedja.forecast.submitted.v1", forecast_id=str(forecast_id), **student))
    out.append(event("se.styrkedja.lika.self_assessment_published.v1", self_assessment_id=str(uuid.uuid4()),
                     organiser_id=spelt(2), school_unit_code=code))
    return out


async def feed(database_url: str, events: list[Any]) -> None:
    database = Database(database_url)
    try:
        delivered = [Delivered(e, topic_for_event_type(e.type).name, 0, n) for n, e in enumerate(events)]
        async with database.sessions.begin() as session:
            await handler_registry()(session, delivered)
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def reporting(infrastructure: Any, token_issuer: Any) -> Iterator[RunningService]:
    service = start_service("reporting", infrastructure, token_issuer)
    try:
        asyncio.run(feed(service.database_url, organiser_events(A, UNIT_A, "a") + organiser_events(B, UNIT_B, "b")))
        yield service
    finally:
        service.stop()


def reader(token_issuer: Any, claimed: str) -> dict[str, str]:
    token = token_issuer.mint(roles=["organiser_admin", "platform", "ops"], organisers=[claimed], subject="round13",
                              client_id="round13-platform")
    return {"Authorization": f"Bearer {token}"}


def get_operations(service: RunningService, token_issuer: Any) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """(path, parameters by name) of every GET operation of the service's OpenAPI document."""
    document = httpx.get(f"{service.url}/openapi.json", headers=reader(token_issuer, KEPT_A)).json()
    return [(path, {p["name"]: p for p in item["get"].get("parameters", [])})
            for path, item in document["paths"].items() if "get" in item and path not in NOT_SWEPT]


DEFAULTS = {"school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01", "school_unit_code": UNIT_A,
            "round": "1", "level": "organiser", "version": "2025.1"}


def requests_of(path: str, parameters: dict[str, dict[str, Any]], organiser: str,
                unit: str | None = None, **extra: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(what, url, query) of each way this operation names `organiser`: by `organiser_id` (query or path), and where
    it takes a level and a unit, also as the unit at organiser level; with `format=csv` where it answers tables."""
    variants = [{}]
    if "unit_id" in parameters and "level" in parameters:
        variants.append({"level": "organiser", "unit_id": unit or organiser})
        if not parameters["level"].get("required"):  # a filter of any level: the unit without one
            variants.append({"unit_id": unit or organiser})
    if "format" in parameters:
        variants += [{**v, "format": fmt} for fmt in ("csv", "xlsx") for v in variants]
    for variant in variants:
        given = {"organiser_id": organiser, **variant, **extra}
        url, query = path, {}
        for name, parameter in parameters.items():
            value = given.get(name, DEFAULTS.get(name))
            if parameter["in"] == "path":
                url = url.replace("{" + name + "}", quote(value or "x", safe=""))
            elif value is not None and (parameter.get("required") or name in given or name == "term"):
                query[name] = value
        yield f"{path} {sorted(variant)}", url, query


def _readable(got: httpx.Response) -> str:
    """An answer as comparable text: a problem's status and (field, rule)s, a workbook's cell values, else the body."""
    if got.status_code >= 400:
        return json.dumps([got.json()["status"], [(e["field"], e["rule"]) for e in got.json().get("errors", [])]])
    if got.headers["content-type"].startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(got.content), read_only=True)
        return json.dumps([[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets],
                          default=str, ensure_ascii=False)
    return got.text


def test_every_read_answers_one_organiser_alike_in_every_spelling(reporting, token_issuer):
    """Every GET of reporting, asked for organiser A in each spelling (as `organiser_id` and, at organiser level,
    as `unit_id`; JSON, CSV and xlsx) by tokens claiming A in two spellings: one answer, naming A as `212000-0142`.
    Failed on the old code: a `unit_id` in another spelling than the kept one was a 403 on 13 operations."""
    answers: dict[str, dict[tuple[str, str], tuple[int, str]]] = {}
    for claimed in (A[0], A[3]):
        with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, claimed), timeout=60) as client:
            for path, parameters in get_operations(reporting, token_issuer):
                for asked in A:
                    for what, url, query in requests_of(path, parameters, asked):
                        got = client.get(url, params=query)
                        text = _readable(got)
                        answers.setdefault(what, {})[(claimed, asked)] = (got.status_code, text)
    differing = {what: {f"{c}→{a}": (s, t[:160]) for (c, a), (s, t) in by.items()}
                 for what, by in answers.items() if len(set(by.values())) > 1}
    assert not differing, json.dumps(differing, indent=1, ensure_ascii=False)[:6000]
    read = {what: next(iter(by.values())) for what, by in answers.items()}
    ok = [what for what, (status, _) in read.items() if status == 200]
    assert len(ok) >= 40, sorted(read.items())  # not a sweep of refusals
    for what in ok:  # every organiser id an answer carries is the kept one
        text = read[what][1]
        assert KEPT_A in text or "organiser_id" not in text, (what, text[:300])
        for other in (A[0], A[2], A[3]):
            assert f'"{other}"' not in text and f";{other};" not in text and not text.startswith(other), (what, other)
    cells = json.loads(read["/v1/results/assessments ['level', 'unit_id']"][1])
    assert {(c["unit_id"], c["assessed"]) for c in cells if c["gender"] is None and c["year"] is None} == {(KEPT_A, 12)}


def test_a_token_for_one_organiser_reads_the_other_in_no_spelling(reporting, token_issuer):
    """Tokens claiming B in every spelling ask every read for A in every spelling: refused (403 naming the
    organiser's field: `organiser_id` or `unit_id`), or an answer that holds nothing of A."""
    leaked, refused = [], 0
    for claimed in B:
        with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, claimed), timeout=60) as client:
            for path, parameters in get_operations(reporting, token_issuer):
                for asked in (A[0], A[2]) if claimed != B[1] else A:
                    for what, url, query in requests_of(path, parameters, asked, school_unit_code=UNIT_A):
                        got = client.get(url, params=query)
                        if 400 <= got.status_code < 500:  # refused (a problem may repeat the path)
                            refused += got.status_code == 403
                            continue
                        if got.status_code == 200 and not any(s in got.text for s in (*A, "Skola a", "s-a-", UNIT_A)):
                            continue
                        leaked.append((claimed, what, query, got.status_code, got.text[:300]))
    assert not leaked, leaked[:10]
    assert refused >= 200, refused


def _refused(got: httpx.Response, field: str, rule: str) -> str | None:
    """Why `got` is not the 422 naming `field` and `rule`, repeating no personal identity number; None if it is."""
    if contains_personal_identity_number(got.text):
        return f"{got.status_code}: the answer repeats the personal identity number"
    if got.status_code != 422 or not _problem_shaped(got):
        return f"{got.status_code}: {got.text[:160]}"
    errors = [(e["field"], e["rule"]) for e in got.json().get("errors", [])]
    return None if (field, rule) in errors else f"422 naming {errors}"


def test_an_organiser_or_unit_id_breaking_a_rule_is_a_422_naming_field_and_rule(reporting, token_issuer):
    """Every organiser-valued parameter of every read (`organiser_id` in the query or the path, `unit_id` at
    organiser level) and every unit id (`unit_id` at any level, in the query or the path; LIKA's `area_id`) sent a
    personnummer in any spelling (the 12-digit `16…` form too), a date, digits of other scripts, spaces, NUL, 5000
    characters: a 422 naming the field and the rule, never the value. Failed on the old code: `unit_id` took a
    personnummer (200, repeated by the support summary; 403 at organiser level) and a `16`+personnummer unit at
    organiser level."""
    wrong = []
    with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, A[0]), timeout=60) as client:
        for path, parameters in get_operations(reporting, token_issuer):
            targets = [(name, HOSTILE_ORGANISER, {}) for name in parameters if name == "organiser_id"]
            if "unit_id" in parameters:
                targets.append(("unit_id", HOSTILE_UNIT, {"level": "school_unit"}))
                if "level" in parameters:  # the unit id's own pattern (ASCII, no control character) speaks first
                    targets.append(("unit_id", [(v, _at_organiser_level(v, r)) for v, r in HOSTILE_ORGANISER],
                                    {"level": "organiser"}))
            if "area_id" in parameters:
                targets.append(("area_id", HOSTILE_UNIT, {}))
            for field, values, extra in targets:
                for value, rule in values:
                    given = {"organiser_id": A[0], "unit_id": UNIT_A, **extra, field: value}
                    url, query = path, {}
                    for name, parameter in parameters.items():
                        sent = given.get(name, DEFAULTS.get(name))
                        if parameter["in"] == "path":
                            url = url.replace("{" + name + "}", quote(sent or "x", safe=""))
                        elif sent is not None and (parameter.get("required") or name in given or name == "term"):
                            query[name] = sent
                    try:
                        why = _refused(client.get(url, params=query), field, rule)
                    except httpx.ReadError as e:
                        raise AssertionError((url[:100], {k: v[:30] for k, v in query.items()})) from e
                    if why:
                        wrong.append(f"{path} {field}={value[:20]!r} {extra}: {why}")
        # nothing of it reached the audit trail (the student-level lists keep the request's query there)
        trail = client.get("/v1/audit/reads", params={"organiser_id": A[0]})
        assert trail.status_code == 200 and not contains_personal_identity_number(trail.text)
    assert not wrong, "\n".join(wrong[:40]) + f"\n({len(wrong)} in all)"


# ------------------------------------------------------------------ events: the key in one spelling, the data in another

@pytest.mark.parametrize("topic", [t.name for t in TOPICS.values() if t.key == "organiser_id" and t.event_types])
def test_a_record_keyed_in_one_spelling_carrying_another_is_one_organiser(topic):
    """Another producer's record, keyed by one spelling of its organiser and carrying another in its data, decodes
    to the kept spelling and is applied (not a key mismatch); a key of another organiser in any spelling, or one
    no organiser id spells (other digits, a newline, `16`+a personnummer), goes to the dead letters."""
    event_type = TOPICS[topic].event_types[0]
    for written in A:
        document = json.loads(example_bytes(event_type))
        document["data"]["organiser_id"] = written
        if "forecast_id" in document["data"]:  # a forecast event: its id is its key's as the producer spelt the
            data = document["data"]  # organiser (`derived_from_key`)
            data["forecast_id"] = str(forecast_id_for(written, data["student_id"], data["subject_code"],
                                                      data["school_year"], data["term"]))
        decoded = decode_event(json.dumps(document).encode())
        assert decoded.data.organiser_id == KEPT_A and decoded.partition_key() == KEPT_A.encode()
        for key in A:
            assert unfit(decoded, topic, None, key=key.encode()) is None, (written, key)
        for key in (*B, "2120000142\n", "\uff12\uff11\uff12\uff10\uff10\uff10\uff10\uff11\uff14\uff12", "2120000142 ",
                    "161212121212", ""):
            assert unfit(decoded, topic, None, key=key.encode())[0] == "key_mismatch", (written, key)


def test_a_personnummer_in_a_parameter_no_route_reads_never_reaches_the_audit_trail(reporting, token_issuer):
    """A student-level read keeps its request in the audit trail; a parameter no route reads was checked by no rule.
    Failed on the old code: `note=19121212-1212` (and its percent-encoded form) was kept there as sent. Since round
    16 such a parameter is refused (`unknown_parameter`, naming it and not its value) before any read."""
    with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, A[2]), timeout=60) as client:
        asked = f"/v1/results/assessments?level=student&organiser_id={A[0]}&school_year=2026%2F27"
        for note in ("19121212-1212", "%31%39%31%32%31%32%31%32%2D%31%32%31%32", "121212%2B1212"):
            got = client.get(f"{asked}&note={note}")
            assert got.status_code == 422 and not contains_personal_identity_number(got.text), got.text[:300]
            assert [(e["field"], e["rule"]) for e in got.json()["errors"]] == [("note", "unknown_parameter")]
        trail = client.get("/v1/audit/reads", params={"organiser_id": A[3]})
    assert not [row["what"] for row in trail.json() if "note=" in row["what"]]
    assert not contains_personal_identity_number(trail.text)


def test_lika_names_the_parameter_that_left_the_tokens_scope(infrastructure, token_issuer):
    """Listing a unit's self-assessments: the organiser in any of its spellings is the token's; another organiser
    (any spelling) or another unit is a 403 naming `organiser_id` or `school_unit_code`. Failed on the old code:
    both refusals named `self_assessment_id`, a field the request does not have."""
    lika = start_service("lika", infrastructure, token_issuer)
    try:
        admin = token_issuer.mint(roles=["organiser_admin"], organisers=[A[2]], subject="round13-admin")
        principal = token_issuer.mint(roles=["principal"], organisers=[A[0]], school_units=[UNIT_A],
                                      subject="round13-rektor")
        with httpx.Client(base_url=lika.url, timeout=60) as client:
            def listed(token: str, organiser: str, unit: str) -> httpx.Response:
                return client.get("/v1/self-assessments", params={"organiser_id": organiser, "school_unit_code": unit},
                                  headers={"Authorization": f"Bearer {token}"})

            for token in (admin, principal):
                for spelling in A:
                    assert listed(token, spelling, UNIT_A).status_code == 200, spelling
                for spelling in B:
                    got = listed(token, spelling, UNIT_A)
                    assert got.status_code == 403 and [e["field"] for e in got.json()["errors"]] == ["organiser_id"]
            got = listed(principal, A[3], UNIT_B)
            assert got.status_code == 403 and [e["field"] for e in got.json()["errors"]] == ["school_unit_code"]
    finally:
        lika.stop()


# ------------------------------------------------------------------ a parameter type's rules, kept by FastAPI

def _rules_in(schema: Any) -> set[Any]:
    """The validator functions and patterns of a pydantic core schema, at any depth."""
    found: set[Any] = set()
    if isinstance(schema, dict):
        if str(schema.get("type", "")).startswith("function-"):
            function = schema["function"]["function"]
            # a length rule on a validated type is a new `functools.partial` per schema: compared by what it calls
            found.add((function.func, function.args, tuple(sorted(function.keywords.items())))
                      if isinstance(function, functools.partial) else function)
        if isinstance(schema.get("pattern"), str):
            found.add(schema["pattern"])
        for value in schema.values():
            found |= _rules_in(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _rules_in(value)
    return found


def _parameters(dependant: Any) -> Iterator[tuple[Any, Any]]:
    for field in (*dependant.query_params, *dependant.path_params, *dependant.header_params):
        yield dependant.call, field
    for sub in dependant.dependencies:
        yield from _parameters(sub)


@pytest.mark.parametrize("package", [p for p, _ in SERVICES.values()] + ["styrkedja_dashboard"])
def test_every_query_and_path_parameter_keeps_its_types_rules(package: str) -> None:
    """A parameter declared `organiser_id: OrganiserIdParam = Query()` (its type's rules in `Annotated`, the
    `Query()` as the default) loses every rule of its type in FastAPI: no kept spelling, no pattern, no personnummer
    check — `19121212-1212` is taken as it is. Written `Annotated[OrganiserIdParam, Query()]`, or `X | None =
    Query(None)`, the rules hold. Every query, path and header parameter of every route (and its dependencies)
    validates with at least the validators and patterns of its declared type. Failed on this branch's first
    version of support's `unit_id` (200 for a personnummer, and for 5000 characters)."""
    for module in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
        if ".migrations" not in module.name and not module.name.endswith(".__main__"):
            importlib.import_module(module.name)
    routes = [route for router_module in list(sys.modules.values())
              if getattr(router_module, "__name__", "").startswith(package)
              for router in vars(router_module).values() if isinstance(router, APIRouter)
              for route in router.routes if isinstance(route, APIRoute)]
    assert routes, package
    lost, looked_at = [], 0
    for route in routes:
        for call, field in _parameters(route.dependant):
            try:
                declared = typing.get_type_hints(call, include_extras=True)[field.name]
            except (KeyError, TypeError, NameError):
                continue
            wanted = _rules_in(TypeAdapter(declared).core_schema)
            looked_at += bool(wanted)
            kept = _rules_in(field._type_adapter.core_schema)
            if not wanted <= kept:
                lost.append(f"{sorted(route.methods)} {route.path} {field.name}: {sorted(map(str, wanted - kept))}")
    assert looked_at >= (package != "styrkedja_assessment"), (package, looked_at)  # assessment: ids only in bodies
    assert not lost, "\n".join(sorted(set(lost)))


# ------------------------------------------------------------------ generated requests, the organiser drawn from the spellings

#: the roles that write and read, without ops (which reads every organiser's operations state by design)
WRITERS_AND_READERS = ["platform", "principal", "organiser_admin"]
#: (kind, value, rule): the token's organiser, another organiser, or a value no organiser id may be
DRAWN = st.one_of(st.sampled_from([("own", s, "") for s in A]), st.sampled_from([("other", s, "") for s in B]),
                  st.sampled_from([("bad", v, r) for v, r in HOSTILE_ORGANISER if len(v) < 100]))
EXAMPLES_PER_OPERATION = 10


def _spelt(value: Any, organiser: str) -> tuple[Any, int]:
    """`value` with every `organiser_id` (at any depth) set to `organiser`, and how many there were."""
    if isinstance(value, dict):
        out, found = {}, 0
        for key, item in value.items():
            if key == "organiser_id":
                out[key], found = organiser, found + 1
            else:
                out[key], n = _spelt(item, organiser)
                found += n
        return out, found
    if isinstance(value, list):
        pairs = [_spelt(item, organiser) for item in value]
        return [item for item, _ in pairs], sum(n for _, n in pairs)
    return value, 0


def _organiser_values(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "organiser_id":
                yield item
            yield from _organiser_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _organiser_values(item)


def _problem_shaped(got: Any) -> bool:
    """A refusal as every service words one: problem+json, its `status` the answer's, a title and a detail, and
    each field error a field, a rule and a message."""
    kind = {k.lower(): v for k, v in got.headers.items()}.get("content-type", "")
    if not (kind[0] if isinstance(kind, list) else kind).startswith("application/problem+json"):  # schemathesis: lists
        return False
    body = got.json()
    return (body.get("status") == got.status_code and bool(body.get("title")) and isinstance(body.get("detail"), str)
            and all({"field", "rule", "message"} <= set(e) for e in body.get("errors", [])))


def _misjudged(kind: str, rule: str, got: Any, tried: dict[str, int], fields: tuple[str, ...]) -> str | None:
    """What is wrong with the answer `got` to a request whose organiser ids (`fields`) were drawn as `kind`, or
    None. A unit id's own pattern (ASCII, no control character) may speak before the organiser id's rules."""
    # a workbook (`format=xlsx`, an enum in the document since round 26) is bytes, not UTF-8 text
    text = got.content.decode("utf-8", "replace")
    said = f"{got.status_code} {text[:200]}"
    errors = got.json().get("errors", []) if got.status_code >= 400 and text.startswith("{") else []
    organiser_fields = [e for e in errors if e.get("field", "").split(".")[-1] in fields]
    rules = {rule, "string_pattern_mismatch"} if rule in ("ascii_only", "no_control_characters") and \
        "unit_id" in fields else {rule}
    if got.status_code >= 500 or contains_personal_identity_number(text):
        return said
    if got.status_code >= 400 and not _problem_shaped(got):
        return f"{said} (not a problem+json of its status)"
    if kind == "own":
        if any(e.get("rule") in ("read_scope", "write_scope") for e in organiser_fields):
            return said
        if got.status_code < 300 and text.startswith(("{", "[")) and any(
                v != KEPT_A for v in _organiser_values(got.json()) if isinstance(v, str)):
            return f"{said} (an organiser id not in its kept spelling)"
    if kind == "other" and got.status_code < 300:
        return said
    if kind == "bad":
        if got.status_code < 400:
            return said
        if organiser_fields:
            tried["named"] += 1
            return None if any(e.get("rule") in rules for e in organiser_fields) else f"{said} (wanted {rule})"
        if got.status_code == 422 and all(e.get("field") in ("body", "path") for e in errors):
            return f"{said} (a 422 naming no field)"
    return None


@pytest.mark.parametrize("running", list(SERVICES), indirect=True)
def test_generated_requests_with_the_organiser_drawn_from_its_spellings(running, token_issuer):
    """Schemathesis builds valid requests of every operation from the service's OpenAPI document; every organiser id
    in them (body at any depth, query, path) is then drawn: the token's organiser in any spelling (the token's claim
    in another), another organiser in any spelling, or a value no organiser id may be. Never a 5xx, never a
    personal identity number in an answer; the token's organiser is never refused for its scope and every organiser
    id an answer carries is the kept spelling; another organiser is never answered 2xx; a bad value is a 4xx, a 422
    naming an organiser field whenever only the organiser broke a rule."""
    name, service = running
    document = httpx.get(f"{service.url}/openapi.json", headers=reader(token_issuer, KEPT_A))
    schema = schemathesis.openapi.from_dict(document.json())
    tokens = {claim: token_issuer.mint(roles=WRITERS_AND_READERS, organisers=[claim], school_units=[UNIT_A],
                                       subject="round13", client_id="round13-platform", ttl_seconds=3600)
              for claim in A}
    wrong: list[str] = []
    tried = {"own": 0, "other": 0, "bad": 0, "named": 0}
    for operation in (result.ok() for result in schema.get_all_operations()):
        if operation.path in NOT_SWEPT:
            continue

        @seed(20261203)
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), drawn=DRAWN,
               claim=st.sampled_from(A))
        def run(case: schemathesis.Case, drawn: tuple[str, str, str], claim: str) -> None:
            kind, value, rule = drawn
            names = {p["name"] for p in case.operation.definition.raw.get("parameters", [])}
            case.body, in_body = _spelt(case.body, value) if isinstance(case.body, dict | list) else (case.body, 0)
            in_query = bool(case.query and "organiser_id" in case.query)
            in_path = bool(case.path_parameters and "organiser_id" in case.path_parameters)
            if in_query:
                case.query["organiser_id"] = value
            if in_path:
                case.path_parameters["organiser_id"] = value
            as_unit = {"unit_id", "level"} <= names
            if as_unit:  # at organiser level the unit is an organiser id too (and one period, as the figures need)
                case.query = {**(case.query or {}), "level": "organiser", "unit_id": value, "organiser_id": value}
                if "term" in names:
                    case.query = {k: v for k, v in case.query.items() if k != "round"} | {"term": "HT"}
            if not (in_body or in_query or in_path or as_unit):
                return
            tried[kind] += 1
            got = case.call(base_url=service.url, headers={"Authorization": f"Bearer {tokens[claim]}"}, timeout=60)
            why = _misjudged(kind, rule, got, tried, ("organiser_id", "unit_id") if as_unit else ("organiser_id",))
            if why:
                wrong.append(f"{case.operation.label} {kind} {value[:20]!r} (claim {claim}): {why}")

        with contextlib.suppress(Unsatisfiable):  # an operation without parameters or body
            run()
    print(name, tried)
    assert not wrong, f"{name}:\n" + "\n".join(wrong[:30]) + f"\n({len(wrong)} in all)"
    assert min(tried["own"], tried["other"], tried["bad"]) >= 2, (name, tried)
    assert tried["named"] >= tried["bad"] // 2, (name, tried)  # most bad values are named as the organiser's


# ------------------------------------------------------------------ the dashboard: no personnummer goes on to a service

DASHBOARD_PINS = ["19121212-1212", "121212+1212", "161212121212", "x_19121212_1212", "\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12"
                  "\uff11\uff12\uff11\uff12"]


@pytest.mark.parametrize("parameter", ["enhet", "huvudman", "amne", "next", "anything"])
def test_the_dashboard_refuses_a_personnummer_in_any_parameter_before_asking_a_service(dashboard, parameter):  # noqa: F811
    """Failed on the old code: `/kedjan?enhet=19121212-1212` (and its CSV, the drill-down) was a page, the number
    sent on to reporting as the unit of every read; other routes ignored it or answered 403."""
    asked: list[str] = []
    upstream = serving()

    def spy(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return upstream(request)

    client = dashboard(spy)
    for route in DASHBOARD_ROUTES:
        for pin in DASHBOARD_PINS:
            asked.clear()
            got = client.get(route, params={parameter: pin}, follow_redirects=False)
            assert got.status_code == 422, (route, parameter, pin, got.status_code, got.text[:300])
            assert f"Kontrollera: {parameter} (får inte innehålla ett personnummer)" in got.text, got.text[:500]
            assert not contains_personal_identity_number(got.text) and not asked, (route, asked)
    # the identity provider's own values are not judged, and an organiser in another spelling is a page as before
    assert client.get("/kedjan", params={"huvudman": "2120000142", "enhet": UNIT_A}).status_code == 200


def test_a_repeated_organiser_is_refused_before_the_check_or_the_read_reads_it(reporting, token_issuer):
    """`organiser_id` (or `unit_id`) sent twice: refused (422 `repeated`, round 16), so a token for A never reads B
    by putting A first or last, and no reader of the query (a proxy, a cache, the audit) takes another one than
    the service. It was read as its last value by the scope check and the read alike."""
    with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, A[0]), timeout=60) as client:
        own = client.get("/v1/results/assessments", params={"level": "organiser", "organiser_id": KEPT_A})
        assert own.status_code == 200 and json.loads(own.text)
        for name in ("organiser_id", "unit_id"):
            base = [("level", "organiser")] + ([("organiser_id", A[2])] if name == "unit_id" else [])
            for twice in ([(name, A[0]), (name, B[3])], [(name, B[0]), (name, A[3])], [(name, A[0]), (name, A[3])]):
                refused = client.get("/v1/results/assessments", params=[*base, *twice])
                assert refused.status_code == 422, refused.text
                assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [(name, "repeated")]


def test_the_directory_names_the_organisers_own_unit_in_its_kept_spelling(reporting, token_issuer):
    """The organiser's unit came as `2120000142` (and the area's parent so): the tree's root and the unit read by
    any spelling are `212000-0142`, its area under it. Failed on the old code: the root was `2120000142`, and the
    unit was found by that spelling only."""
    with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, A[3]), timeout=60) as client:
        [root] = client.get(f"/v1/directory/organisers/{A[2]}/tree").json()
        assert (root["unit_id"], [(a["unit_id"], a["parent_id"]) for a in root["children"]]) == (
            KEPT_A, [("area-a", KEPT_A)])
        for spelling in A:
            unit = client.get(f"/v1/directory/units/{spelling}",
                              params={"unit_type": "organiser", "organiser_id": A[0]})
            assert unit.status_code == 200 and unit.json()["unit_id"] == KEPT_A, (spelling, unit.text[:300])


async def _raise_alerts(database_url: str) -> None:
    """An open alert on organiser A's own unit and one on its school unit, written as the dip rules write them."""
    database = Database(database_url)
    try:
        async with database.sessions.begin() as session:
            for level, unit, code in (("organiser", KEPT_A, None), ("school_unit", UNIT_A, UNIT_A)):
                await session.execute(alerts.insert().values(
                    alert_id=uuid.uuid4(), organiser_id=KEPT_A, level=level, unit_id=unit, school_unit_code=code,
                    subject_code="GRGRMAT01", school_year="2026/27", term="HT", rule="pass_share_drop",
                    status="open", episode=1, figures={"students": 12}, raised_at=datetime.now(UTC),
                    changed_at=datetime.now(UTC)))
    finally:
        await database.dispose()


def test_a_unit_id_without_a_level_that_spells_the_organiser_is_the_organiser(reporting, token_issuer):
    """`/v1/alerts?unit_id=…` without `level`: the organiser's unit id in any spelling finds its alert (kept as
    `212000-0142`), as with `level=organiser`; a school unit code is matched as it is. Failed on the old code:
    `unit_id=2120000142` (and the 12-digit spellings) matched nothing without a level."""
    asyncio.run(_raise_alerts(reporting.database_url))
    # the alerts written here only: the module's results (of 2026-10-01) also raise freshness alerts once they are
    # 8 months old, judged at the real clock
    dips = {"rule": "pass_share_drop"}
    with httpx.Client(base_url=reporting.url, headers=reader(token_issuer, A[0]), timeout=60) as client:
        for spelling in A:
            for level in ({}, {"level": "organiser"}):
                got = client.get("/v1/alerts", params={"unit_id": spelling, **level, **dips})
                assert got.status_code == 200, (spelling, level, got.text)
                assert [(a["level"], a["unit_id"]) for a in got.json()] == [("organiser", KEPT_A)], (spelling, level)
        unit = client.get("/v1/alerts", params={"unit_id": UNIT_A, **dips}).json()
        assert [(a["level"], a["unit_id"]) for a in unit] == [("school_unit", UNIT_A)]
        refused = client.get("/v1/alerts", params={"unit_id": "161212121212"})  # "16" + a personnummer
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "unit_id", refused.text
        assert refused.json()["errors"][0]["rule"] == "no_personal_identity_number", refused.text
