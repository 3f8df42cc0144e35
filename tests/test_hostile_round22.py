"""Hostile inputs, round 22: the kinds of value earlier rounds' rules did not reach — moments at the ends of the
calendar, header parameters, decimals and plain integers in bodies, Accept on two lines, a directory tree that loops
or nests deep, an idempotency key across scopes.

Found and fixed (each test failed on the old code, as said at it):
- A date-time query parameter in year 9999 behind UTC (`9999-12-31T23:59:59-01:00`), or in year 1 ahead of it, passed
  every rule of the kit's strict parameters (only its RFC 3339 shape was judged) and became an OverflowError where it
  was turned into UTC: reporting's `GET /v1/audit/reads?since=…` / `until=…` and `POST
  /v1/admin/alerts/freshness-sweep?at=…` answered a plain-text 500 and dropped the connection. Now a date or a
  date-time in a query lies in the years every body and event allows (1900–2199): a 422 naming the parameter and
  `date_range` (the kit's `parameters`). The sweep's `at` (pydantic's `AwareDatetime`, not `datetime`) was judged as
  text: `at=1700000000` was read as a Unix timestamp; now `datetime_format` like every date-time parameter.
- A header parameter (reporting's `Idempotency-Key` on the directory writes) was judged by no rule of the kit's strict
  parameters: sent twice with two keys, the first was read (Starlette), where a proxy, a gateway's retry or the
  client's own log reads the last or both joined, and a personal identity number as the key was taken and kept with
  the write's outcome in the idempotency table for a day. Now a 422 naming the header and `single_header`, or the
  text rule it broke (`no_personal_identity_number`), for every header parameter of every operation (the kit's
  `parameters`, packages/kit/tests/test_parameters.py).
- A decimal given as text in a body (reporting's alert thresholds, `drop_points` and `below_forecast_points`) was read
  by pydantic's lax rules: `"5_0"` was 50, `"١٠"` (Arabic-Indic) 10, `"  5 "`, `"+5"`, `".5"` and `"5."` numbers,
  `"1E+1"` kept and answered so, `-0.0` kept as `-0`, and `"0E-1000000"` (a zero: no decimal places to refuse) a
  plain-text 500 when PostgreSQL's numeric refused it. Now every decimal field of every body (the kit's
  `InputModel`, `add_decimal_rules`) takes text in plain notation only (`decimal_format`), a zero as `0`
  (packages/kit/tests/test_input_safety.py).
- Reporting's directory tree (`GET /v1/directory/organisers/{id}/tree`) left out, without a word, an area that named
  itself its parent (the contracts let an area hang under an area and cannot see a loop one event at a time), two
  areas each naming the other, and everything below them: they hung under no root. Now such units are roots, as a
  unit whose parent is not known (services/reporting/tests/unit/test_directory_tree.py).
- The same tree nested a chain of areas each under the one before as deep as it went: 300 were past what the answer's
  serialiser takes, and every read of the tree was a 500. Now a unit that would hang more than `MAX_TREE_DEPTH` (32)
  levels below its root is a root, every unit kept once.
- `Accept` sent as two header fields was read by its first alone (Starlette's `headers.get`), where RFC 9110 §5.3
  makes them one list (a proxy may join them): `Accept: text/html` and `Accept: application/json` was a 406 on every
  operation of the four services (and the dashboard), `text/html` and `text/csv` a 406 on reporting's tables, and
  reporting's kept answers were keyed by the first field too. Now every field is read, joined (the kit's
  `negotiation.accept_of`; packages/kit/tests/test_negotiation.py).
- LIKA's publish and keep-private took a `start_term` of any school year its type allows (to 9998/99): `HT 9998/99`
  made the plan's suggested terms, counted on from it, leave that range, a plain-text 500; a school year out of range
  was refused with pydantic's own text (`1 validation error for SchoolTerm ... https://errors.pydantic.dev/...`), and
  `HT 2026/27 ` or `HT<no-break space>2026/27` were taken. Now one spelling in the years every request date lies in
  (`term_format`, `date_range`, `school_year_format`; services/lika/tests/unit/test_start_term.py).
- Two body fields typed plain `int` escaped the bodies' strict integers: LIKA's action-plan item `priority` and
  reporting's alert thresholds `min_students` took `"2"`, `2.0`, `1e0` and `true` (stored as 1). Now every plain
  `int` or `bool` field of a body is strict (`int_type`; the kit's `InputModel`, `add_strict_numbers`).
- Reporting's `Idempotency-Key` was the client's alone, while a removal by source ids acts within the token's
  organisers: a platform writing for two organisers with one client id (its key a SHA-256 of the body, as
  docs/platforms.md suggests) had the second organiser's removal answered with the first's outcome
  (`Idempotent-Replayed: true`) and never applied. Now keys are per client and organisers
  (services/reporting/tests/integration/test_directory_idempotency.py).
- A UUID in a body was read by pydantic's lax rules: `urn:uuid:…`, `{…}`, 32 hex digits without hyphens — each
  stored as the canonical id, where a gateway, an audit or the client's log comparing the body's text
  saw another id (a query's UUID has taken one spelling since round 16). Now `uuid_format` naming the field, for every
  UUID field of every body (the kit's `InputModel`, `add_uuid_rules`); text that is no UUID at all keeps pydantic's
  `uuid_parsing`.

- `If-None-Match` on two lines was read by its first alone: the tags on the second never matched reporting's kept
  answer (the whole answer again, never a 304). Now every field is read, as one list.

Left: LIKA's door for self-assessments published elsewhere keeps its own body model (`SelfAssessmentPublishedIn`, unchanged since
v1), whose `self_assessment_id` still takes the lax spellings.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, RunningService, auth, start_service
from test_hostile_http import Attack, fill, operations
from test_hostile_round13 import feed

from styrkedja_contracts import decode_event
from styrkedja_contracts.examples import example_bytes

#: at the ends of the calendar: each past what `datetime` can hold once it is in UTC, or outside the years bodies take
FAR_MOMENTS = ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59Z",
               "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]
FAR_DAYS = ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"]


def _temporal_parameters(operation: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, format) of each query parameter that is a date or a date-time, as the OpenAPI document says."""
    out = []
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        formats = {schema.get("format")} | {s.get("format") for s in schema.get("anyOf", [])}
        for wanted in ("date", "date-time"):
            if parameter["in"] == "query" and wanted in formats:
                out.append((parameter["name"], wanted))
    return out


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_date_or_moment_at_the_ends_of_the_calendar_is_a_422_naming_the_parameter(running, token_issuer):
    """Failed on the old code: reporting's audit trail (`since`, `until`) and freshness sweep (`at`) answered a
    plain-text 500 for the moments past `datetime.max` or before `datetime.min` in UTC, and 200 for the rest."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    try:
        for method, path, operation in operations(attack):
            # the organiser the token holds, where the operation takes one: the read then reaches the database
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            given = {"organiser_id": ORGANISER} if "organiser_id" in names else {}
            for parameter, kind in _temporal_parameters(operation):
                for value in FAR_MOMENTS if kind == "date-time" else FAR_DAYS:
                    what = f"{method} {path} {parameter}={value}"
                    try:
                        got = attack.client.request(method, fill(path), params={**given, parameter: value})
                    except httpx.HTTPError as lost:  # the old code's 500 dropped the connection
                        attack.wrong.append(f"{what}: {lost!r}")
                        continue
                    attack.judge(what, got)
                    errors = got.json().get("errors", []) if got.status_code == 422 else []
                    if (parameter, "date_range") not in [(e["field"], e["rule"]) for e in errors]:
                        attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        if name == "reporting":  # the audit trail, the sweep, the freshness and roster dates: all swept
            assert attack.sent >= 30
    finally:
        attack.client.close()


REMOVAL = json.dumps({"source_ids": ["round-22-none"], "removed_at": "2026-01-01T00:00:00Z"}).encode()


def _header_parameters(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_header_parameter_sent_twice_or_holding_a_personal_identity_number_is_a_422_naming_it(running, token_issuer):
    """Failed on the old code: reporting's directory writes answered 200 to two `Idempotency-Key`s (the first read)
    and to `Idempotency-Key: 19121212-1212` (kept with the outcome)."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    swept = 0
    try:
        for method, path, operation in operations(attack):
            for header in _header_parameters(operation):
                swept += 1
                for sent, rule in [([(header, "key-a"), (header, "key-b")], "single_header"),
                                   ([(header, "key-a"), (header.lower(), "key-a")], "single_header"),
                                   ([(header, "19121212-1212")], "no_personal_identity_number"),
                                   ([(header, "elev_121212.1212")], "no_personal_identity_number")]:
                    headers = [*attack.client.headers.multi_items(), ("content-type", "application/json"), *sent]
                    # a body the removals take (elsewhere refused beside the header: the header is named all the same)
                    got = attack.client.request(method, fill(path), content=REMOVAL, headers=headers)
                    what = f"{method} {path} {sent}"
                    attack.judge(what, got)
                    errors = got.json().get("errors", []) if got.status_code == 422 else []
                    if (header, rule) not in [(e["field"], e["rule"]) for e in errors]:
                        attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        if name == "reporting":  # /v1/directory/changes and /removals
            assert swept >= 2
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_decimal_given_as_text_in_a_body_is_in_plain_notation(running, token_issuer):
    """Failed on the old code: reporting's alert thresholds answered a plain-text 500 to `"0E-1000000"`, and 200 to
    the rest (`"5_0"` stored as 50)."""
    name, service = running
    if name != "reporting":
        pytest.skip("the only body with decimals: reporting's alert thresholds")
    attack = Attack(name, service, auth(token_issuer))
    try:
        for field in ("drop_points", "below_forecast_points"):
            for text in ["0E-1000000", "5_0", "\u0661\u0660", "  5 ", "+5", ".5", "1E+1"]:
                what = f"PUT thresholds {field}={text!r}"
                try:
                    got = attack.client.put(f"/v1/alert-thresholds/{ORGANISER}", json={field: text})
                except httpx.HTTPError as lost:
                    attack.wrong.append(f"{what}: {lost!r}")
                    continue
                attack.judge(what, got)
                errors = got.json().get("errors", []) if got.status_code == 422 else []
                if [(e["field"], e["rule"]) for e in errors] != [(field, "decimal_format")]:
                    attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
        kept = attack.client.put(f"/v1/alert-thresholds/{ORGANISER}", json={"drop_points": -0.0,
                                                                            "below_forecast_points": "12.5"})
        assert (kept.status_code, kept.json()["drop_points"], kept.json()["below_forecast_points"]) == (200, "0", "12.5")
    finally:
        attack.client.close()


UPSERTED = "se.styrkedja.organisation.unit_upserted.v1"
#: the organiser of the nested areas: none of the other tests' (a reporting of its own, fed through its handlers)
NESTING = "2998"


def _unit_event(**data: Any) -> Any:
    document = json.loads(example_bytes(UPSERTED))
    document["id"] = str(uuid.uuid4())
    document["data"].update({"organiser_id": NESTING, "school_unit_code": None, "year": None, "roster_size": None,
                             "updated_at": "2026-09-01T08:00:00+00:00", **data})
    return decode_event(json.dumps(document).encode())


@pytest.fixture(scope="module")
def nested_reporting(infrastructure: Any, token_issuer: Any) -> Iterator[RunningService]:
    """Reporting holding an organiser with 300 areas each under the one before, and a school unit at the bottom, as a
    producer straight to the topic may send them (the contracts let an area hang under an area)."""
    service = start_service("reporting", infrastructure, token_issuer)
    try:
        events = [_unit_event(unit_type="organiser", unit_id=NESTING, parent_id=None, name="Huvudman 22")]
        events += [_unit_event(unit_type="area", unit_id=f"area-{n}", parent_id=f"area-{n - 1}" if n else NESTING,
                               name=f"Område {n}") for n in range(300)]
        events.append(_unit_event(unit_type="school_unit", unit_id="su-deep", parent_id="area-299", name="Skola djup",
                                  school_unit_code="29980001"))
        asyncio.run(feed(service.database_url, events))
        yield service
    finally:
        service.stop()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_the_directory_tree_of_areas_nested_300_deep_is_read_every_unit_once(nested_reporting, token_issuer):
    """Failed on the old code: a 500 (`Maximum serialization depth exceeded`) for the tree's every read."""
    token = token_issuer.mint(roles=["organiser_admin"], organisers=[NESTING], subject="round22", client_id="round22")
    got = httpx.get(f"{nested_reporting.url}/v1/directory/organisers/{NESTING}/tree",
                    headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert got.status_code == 200, got.text[:300]
    held: list[str] = []

    def walk(unit: dict[str, Any]) -> None:
        held.append(unit["unit_id"])
        for child in unit["children"]:
            walk(child)

    for root in got.json():
        walk(root)
    assert sorted(held) == sorted([NESTING, "su-deep", *(f"area-{n}" for n in range(300))])


@pytest.mark.integration
@pytest.mark.postgres_only
def test_accept_sent_as_two_fields_is_read_as_one_list_on_every_operation(running, token_issuer):
    """Failed on the old code: 406 naming `Accept` on every operation (the first field, `text/html`, read alone)."""
    name, service = running
    attack = Attack(name, service, auth(token_issuer))
    attack.client.headers.pop("accept", None)  # httpx's own `*/*`: only the two fields below are sent
    own = list(attack.client.headers.multi_items())
    try:
        for method, path, operation in operations(attack):
            body = {"content": b"{}", "headers": [("content-type", "application/json")]} if (
                "requestBody" in operation) else {"content": None, "headers": []}
            headers = [*own, *body["headers"], ("accept", "text/html"), ("accept", "application/json")]
            got = attack.client.request(method, fill(path), content=body["content"], headers=headers)
            what = f"{method} {path} accept text/html + application/json"
            attack.judge(what, got)
            if got.status_code == 406:
                attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        if name == "reporting":  # a table asked for as CSV on the second line
            table = f"/v1/results/assessments?level=organiser&organiser_id={ORGANISER}"
            for _ in range(2):  # the second from reporting's kept answers
                got = attack.client.get(table, headers=[*own, ("accept", "text/html"), ("accept", "text/csv")])
                if (got.status_code, got.headers.get("content-type", "")[:8]) != (200, "text/csv"):
                    attack.wrong.append(f"GET {table} accept text/html + text/csv: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_start_term_at_the_end_of_the_school_years_is_a_422_naming_it(running, token_issuer):
    """Failed on the old code: a plain-text 500 at publish (and at keep-private) for `HT 9998/99`."""
    name, service = running
    if name != "lika":
        pytest.skip("LIKA's finalising doors")
    attack = Attack(name, service, auth(token_issuer))
    try:
        catalogue = attack.client.get("/v1/catalogue/2026.2", params={"school_form": "grundskola"}).json()
        indicators = [i["id"] for area in catalogue["areas"] for i in area["indicators"]]
        for door in ("publish", "keep-private"):
            draft = attack.client.post("/v1/self-assessments", json={
                "organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
                "respondent_role": "rektor", "catalogue_version": "2026.2"}).json()["self_assessment_id"]
            rated = attack.client.patch(f"/v1/self-assessments/{draft}/ratings", json={
                "ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in indicators]})
            assert rated.status_code == 200, rated.text[:300]
            what = f"POST {door} start_term HT 9998/99"
            try:
                got = attack.client.post(f"/v1/self-assessments/{draft}/{door}", json={"start_term": "HT 9998/99"})
            except httpx.HTTPError as lost:
                attack.wrong.append(f"{what}: {lost!r}")
                continue
            attack.judge(what, got)
            errors = got.json().get("errors", []) if got.status_code == 422 else []
            if [(e["field"], e["rule"]) for e in errors] != [("start_term", "date_range")]:
                attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_plain_integer_field_of_a_body_takes_no_text_float_or_boolean(running, token_issuer):
    """Failed on the old code: reporting stored `min_students` 1 for `true` and 20 for `"20"` and `20.0`; LIKA took a
    priority of `"2"`, `2.0` and `true`."""
    name, service = running
    if name not in ("reporting", "lika"):
        pytest.skip("the two bodies with a plain integer: reporting's thresholds, LIKA's action-plan items")
    attack = Attack(name, service, auth(token_issuer))
    try:
        if name == "reporting":
            target, field, method = f"/v1/alert-thresholds/{ORGANISER}", "min_students", "PUT"
        else:
            catalogue = attack.client.get("/v1/catalogue/2026.2", params={"school_form": "grundskola"}).json()
            indicators = [i["id"] for area in catalogue["areas"] for i in area["indicators"]]
            draft = attack.client.post("/v1/self-assessments", json={
                "organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
                "respondent_role": "rektor", "catalogue_version": "2026.2"}).json()["self_assessment_id"]
            attack.client.patch(f"/v1/self-assessments/{draft}/ratings", json={
                "ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in indicators]})
            assert attack.client.post(f"/v1/self-assessments/{draft}/publish", json={}).status_code == 200
            plan = attack.client.get(f"/v1/self-assessments/{draft}/action-plan").json()
            activity = plan["items"][0]["activity_id"]
            target, field, method = f"/v1/self-assessments/{draft}/action-plan/items/{activity}", "priority", "PATCH"
        for given in ['"2"', "2.0", "1e0", "true"]:
            got = attack.client.request(method, target, content=f'{{"{field}": {given}}}'.encode(),
                                        headers={"content-type": "application/json"})
            what = f"{method} {target} {field}={given}"
            attack.judge(what, got)
            errors = got.json().get("errors", []) if got.status_code == 422 else []
            if [(e["field"], e["rule"]) for e in errors] != [(field, "int_type")]:
                attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_a_uuid_in_a_body_in_another_spelling_is_a_422_naming_it(running, token_issuer):
    """Failed on the old code: the assessment was stored (201) under the canonical spelling of each."""
    name, service = running
    if name != "assessment":
        pytest.skip("one writer of records by id stands for the kit's rule (InputModel: every body's UUID fields)")
    attack = Attack(name, service, auth(token_issuer))
    try:
        example = json.loads(example_bytes("se.styrkedja.assessment.published.v1"))["data"]
        body = {k: example[k] for k in ("school_unit_code", "group_id", "teacher_id", "gender", "year", "subject_code",
                                        "kind", "scale", "value", "unmet_criteria", "school_year", "term", "round",
                                        "assessed_on")}
        for n, spelling in enumerate(["urn:uuid:{}", "{{{}}}", "{}"]):
            record = uuid.uuid4()
            given = spelling.format(record if n < 2 else record.hex)
            got = attack.client.post("/v1/assessments", json={**body, "organiser_id": ORGANISER,
                                                              "student_id": f"s-r22-uuid-{n}", "assessment_id": given})
            what = f"POST /v1/assessments assessment_id={given}"
            attack.judge(what, got)
            errors = got.json().get("errors", []) if got.status_code == 422 else []
            if [(e["field"], e["rule"]) for e in errors] != [("assessment_id", "uuid_format")]:
                attack.wrong.append(f"{what}: {got.status_code} {got.text[:160]!r}")
        assert not attack.wrong, "\n".join(attack.wrong[:20])
    finally:
        attack.client.close()


@pytest.mark.integration
@pytest.mark.postgres_only
def test_if_none_match_on_two_lines_is_one_list(running, token_issuer):
    """Failed on the old code: a 200 with the whole answer (the second line's tag never read)."""
    name, service = running
    if name != "reporting":
        pytest.skip("reporting's kept answers carry ETags")
    attack = Attack(name, service, auth(token_issuer))
    try:
        table = f"/v1/results/assessments?level=organiser&organiser_id={ORGANISER}"
        attack.client.get(table)
        etag = attack.client.get(table).headers["etag"]  # kept by now
        own = [(k, v) for k, v in attack.client.headers.multi_items()]
        again = attack.client.get(table, headers=[*own, ("if-none-match", '"another"'), ("if-none-match", etag)])
        assert (again.status_code, again.content) == (304, b""), again.text[:200]
    finally:
        attack.client.close()
