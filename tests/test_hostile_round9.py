"""Hostile inputs, ninth round: races, servers that fail midway, read parameters others control. Fuzzers and
platforms send in parallel: the same record POSTed at once (single and batch, by id and by natural key), two
revisions of one record at once, a retraction racing its revision, concurrent LIKA draft saves, publishes and
plan edits, two directory imports of one organiser at once, settings written at once, more requests than the
service has connections. Every service in-process (`inprocess.start_service`) on a fresh database; each race is
sent by one asyncio client, many requests in flight at once.

Never a 5xx (a unique violation, a deadlock, a serialisation failure or a busy pool becomes the documented
answer or a bounded retry), nothing stored or published twice, and only the newest revision counts.

Found and fixed (each tested where it lives, and here over HTTP where it shows there):
- Reporting's directory (`directory/writes.py`): two imports of the same data at once both answered `created`
  and both published every new entity (16 writers of 25 groups: 400 events); one organiser's writers now take
  turns (services/reporting/tests/integration/test_directory_races.py).
- The kit: every pool connection busy past `database_pool_timeout_seconds` was a plain-text 500; now a 503
  `database_busy` problem with Retry-After (refused or lost connections, lock and statement timeouts too), and
  a deadlock or serialisation failure outside the write path a 409 `concurrent_change`
  (packages/kit/tests/test_database_refusals.py). The write path tries a publish that loses races three times,
  not two, before its 409.
- The kit's token check: an issuer whose discovery document or JWKS is JSON of another shape was a 500 for
  every request; now no key, a 401 (packages/kit/tests/test_jwks_shapes.py).
- Reporting's reads: a read refused for its scope named `scope`, not the parameter that steered it there.
- The contracts' calendar: a window ending past `date.max` (school year 9998/99, week 52, 60 grace days) was an
  OverflowError, a forecast's 500 (packages/contracts/tests/test_calendar.py).
- The SS 12000 importer against a server failing midway (packages/cli/tests/test_ss12000_midway.py).

Already fine (kept here as a sweep): the kit's write path (rows locked in id order, races retried), lika (rows
locked), the forecast calendar (its row locked, a first PUT's unique violation retried), the alert thresholds."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, RunningService, auth, start_service
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

pytestmark = [pytest.mark.integration]

UNIT = "29990011"
#: requests in flight at once per race (the services' pools hold 20 connections each)
AT_ONCE = 16


@pytest.fixture(scope="module")
def services(infrastructure, token_issuer) -> Iterator[dict[str, RunningService]]:
    started: dict[str, RunningService] = {}
    try:
        for name in ("assessment", "forecast", "lika", "reporting"):
            started[name] = start_service(name, infrastructure, token_issuer)
        yield started
    finally:
        for service in started.values():
            service.stop()


async def _count(service: RunningService, sql: str, **params: Any) -> int:
    """A count in the service's database, on a connection of the test's own loop (the service's pool is its
    server thread's)."""
    engine = create_async_engine(service.server.config.app.state.runtime.db.url,  # type: ignore[attr-defined]
                                 poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql), params)).scalar_one())
    finally:
        await engine.dispose()


async def _at_once(client: httpx.AsyncClient, requests: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    answers = await asyncio.gather(*(client.request(method, url, json=body) for method, url, body in requests))
    for answer in answers:
        assert answer.status_code < 500, (answer.request.method, answer.request.url, answer.text[:500])
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json"), answer.text[:300]
    return answers


def _rules(answers: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter((a.status_code, a.json()["errors"][0]["rule"] if a.status_code >= 400 else a.json().get(
        "status", "")) for a in answers)


def _client(service: RunningService, token_issuer: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=service.url, headers=auth(token_issuer), timeout=120)


def assessment(student: str, value: str = "C", **extra: Any) -> dict[str, Any]:
    return {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "7A", "student_id": student,
            "teacher_id": "t-81", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": value, "unmet_criteria": ["Taluppfattning"] if value == "F" else [],
            "school_year": "2026/27", "term": "HT", "round": 1, "assessed_on": "2026-11-02", **extra}


def forecast(student: str, value: str = "ACCEPTABLE", **extra: Any) -> dict[str, Any]:
    return {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "7A", "student_id": student,
            "teacher_id": "t-81", "gender": "male", "year": 7, "subject_code": "GRGRMAT01", "school_year": "2026/27",
            "term": "HT", "value": value, **extra}


def _student() -> str:
    """A fresh pseudonymous id of letters only: ten random hex digits are now and then all digits, and a
    valid personnummer (refused, 422), as a probe of this round found."""
    return "stu-" + uuid.uuid4().hex[:10].translate(str.maketrans("0123456789", "ghijklmnop"))


# -- the same record at once ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, path, make, table, id_field", [
    ("assessment", "/v1/assessments", assessment, "assessment_revisions", "assessment_id"),
    ("forecast", "/v1/forecasts", forecast, "forecast_revisions", "forecast_id"),
])
async def test_the_same_record_posted_at_once_is_stored_once(services, token_issuer, name, path, make, table,
                                                             id_field) -> None:
    """The same body sixteen times at once (an assessment with its id; a forecast, whose id is derived from its
    key): one `stored`, the rest `unchanged`, one revision and one outbox event."""
    service = services[name]
    body = make(_student(), **({id_field: str(uuid.uuid4())} if name == "assessment" else {}))
    async with _client(service, token_issuer) as client:
        answers = await _at_once(client, [("POST", path, body)] * AT_ONCE)
    assert _rules(answers) == {(201, "stored"): 1, (200, "unchanged"): AT_ONCE - 1}, _rules(answers)
    assert {a.json()["revision"] for a in answers} == {1}
    record_id = answers[0].json()[id_field]
    assert {a.json()[id_field] for a in answers} == {record_id}
    assert await _count(service, f"SELECT count(*) FROM {table} WHERE {id_field} = :id", id=record_id) == 1
    assert await _count(service, "SELECT count(*) FROM outbox WHERE convert_from(payload, 'UTF8')::jsonb "
                                 "-> 'data' ->> :field = :id", field=id_field, id=record_id) == 1


async def test_one_assessment_without_an_id_posted_at_once_is_stored_once_the_rest_409(services, token_issuer):
    """No id (each request would make its own): the natural key's unique index decides. One stored, the rest
    a 409 naming `one_result_per_key` (or `concurrent_change` where a retry lost a second race)."""
    service = services["assessment"]
    student = _student()
    async with _client(service, token_issuer) as client:
        answers = await _at_once(client, [("POST", "/v1/assessments", assessment(student))] * AT_ONCE)
    rules = _rules(answers)
    assert rules[(201, "stored")] == 1, rules
    assert set(rules) - {(201, "stored")} <= {(409, "one_result_per_key"), (409, "concurrent_change")}, rules
    assert await _count(service, "SELECT count(*) FROM assessments WHERE student_id = :s", s=student) == 1


async def test_batches_over_the_same_records_in_every_order_at_once_never_fail(services, token_issuer):
    """Sixteen batches over the same twelve assessments (ids given), each in another order, half of them with
    another value: every answer a 2xx or a 409 `concurrent_change`; each record's newest revision is the
    last one stored, numbered without a gap, and every revision has its event."""
    service = services["assessment"]
    records = [(str(uuid.uuid4()), _student()) for _ in range(12)]
    batches = []
    for n in range(AT_ONCE):
        order = records[n % 12:] + records[:n % 12]
        if n % 2:
            order.reverse()
        batches.append({"items": [assessment(student, "B" if n % 4 < 2 else "C", assessment_id=record_id)
                                  for record_id, student in order]})
    async with _client(service, token_issuer) as client:
        answers = await _at_once(client, [("POST", "/v1/assessments/batch", b) for b in batches])
    assert set(_rules(answers)) <= {(201, ""), (200, ""), (409, "concurrent_change")}, _rules(answers)
    ids = [record_id for record_id, _ in records]
    gaps = await _count(service, "SELECT count(*) FROM assessments a WHERE a.assessment_id = ANY(CAST(:ids AS uuid[])) "
                                 "AND a.revision <> (SELECT count(*) FROM assessment_revisions r "
                                 "WHERE r.assessment_id = a.assessment_id)", ids=ids)
    assert gaps == 0
    revisions = await _count(service, "SELECT count(*) FROM assessment_revisions WHERE assessment_id = "
                                      "ANY(CAST(:ids AS uuid[]))", ids=ids)
    events = await _count(service, "SELECT count(*) FROM outbox WHERE (convert_from(payload, 'UTF8')::jsonb -> 'data' "
                                   "->> 'assessment_id') = ANY(:ids)", ids=ids)
    assert events == revisions


async def test_overlapping_batches_of_new_forecasts_at_once_store_each_revision_once(services, token_issuer):
    """Sixteen batches of 100 new forecasts (ids derived from their keys), each another window of 150 students,
    half with another value, sent at once: a 2xx or a 409 `concurrent_change` (after `WritePath.race_attempts`
    tries); each forecast's revisions numbered without a gap, each with its one event."""
    service = services["forecast"]
    students = [_student() for _ in range(150)]
    batches = []
    for n in range(AT_ONCE):
        window = (students[n * 9:] + students[:n * 9])[:100]
        batches.append({"items": [forecast(s, "NOT_REACHED" if n % 2 else "ACCEPTABLE")
                                  for s in (window if n % 3 else window[::-1])]})
    async with _client(service, token_issuer) as client:
        answers = await _at_once(client, [("POST", "/v1/forecasts/batch", b) for b in batches])
    assert set(_rules(answers)) <= {(201, ""), (200, ""), (409, "concurrent_change")}, _rules(answers)
    assert await _count(service, "SELECT count(*) FROM forecasts f WHERE f.student_id = ANY(:s) AND f.revision <> "
                                 "(SELECT count(*) FROM forecast_revisions r WHERE r.forecast_id = f.forecast_id)",
                        s=students) == 0
    revisions = await _count(service, "SELECT count(*) FROM forecast_revisions r JOIN forecasts f USING (forecast_id) "
                                      "WHERE f.student_id = ANY(:s)", s=students)
    events = await _count(service, "SELECT count(*) FROM outbox WHERE convert_from(payload, 'UTF8')::jsonb -> 'data' "
                                   "->> 'student_id' = ANY(:s)", s=students)
    assert events == revisions > 0


async def test_two_revisions_and_a_retraction_of_one_assessment_at_once(services, token_issuer):
    """Revision 2 twice with other values, and a retraction naming revision 2, at once, many times over:
    exactly one of them is revision 2, the others a 409 naming the rule; the stored row is what that one
    said."""
    service = services["assessment"]
    async with _client(service, token_issuer) as client:
        for _ in range(4):
            record_id, student = str(uuid.uuid4()), _student()
            first = await client.post("/v1/assessments", json=assessment(student, assessment_id=record_id))
            assert first.status_code == 201, first.text
            answers = await _at_once(client, [
                ("POST", "/v1/assessments", assessment(student, "A", assessment_id=record_id, revision=2)),
                ("POST", "/v1/assessments", assessment(student, "F", assessment_id=record_id, revision=2)),
                ("POST", f"/v1/assessments/{record_id}/retract", {"revision": 2, "reason": "fel elev"}),
            ] * 3)
            won = [a for a in answers if a.status_code < 300 and a.json().get("status") == "stored"]
            assert len(won) == 1, _rules(answers)
            assert all(a.status_code in (200, 409) for a in answers if a not in won), _rules(answers)
            assert await _count(service, "SELECT count(*) FROM assessment_revisions WHERE assessment_id = :id",
                                id=record_id) == 2
            retracted = won[0].json()["retracted"]
            assert await _count(service, "SELECT count(*) FROM assessments WHERE assessment_id = :id AND revision = 2 "
                                         "AND retracted = :r", id=record_id, r=retracted) == 1


# -- lika: drafts, saves and publishes at once -----------------------------------------------------------------

async def _indicators(client: httpx.AsyncClient) -> list[str]:
    body = (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()
    return [i["id"] for area in body["areas"] for i in area["indicators"]]


def _draft(sa_id: str) -> dict[str, Any]:
    return {"self_assessment_id": sa_id, "organiser_id": ORGANISER, "school_unit_code": UNIT,
            "school_form": "grundskola", "respondent_role": "rektor", "catalogue_version": "2026.1"}


async def test_lika_drafts_saves_and_publishes_at_once(services, token_issuer):
    """One draft created sixteen times at once (one 201); every rating saved by sixteen requests at once,
    then a publish racing more saves: one publish, its event once; the saves after it a 409 `final`, and
    what was published is what was saved before it."""
    service = services["lika"]
    sa_id = str(uuid.uuid4())
    async with _client(service, token_issuer) as client:
        created = await _at_once(client, [("POST", "/v1/self-assessments", _draft(sa_id))] * AT_ONCE)
        assert Counter(a.status_code for a in created) == {201: 1, 200: AT_ONCE - 1}
        ids = await _indicators(client)
        ratings = [{"indicator_id": i, "rating": "STARTED"} for i in ids]
        saves = [("PATCH", f"/v1/self-assessments/{sa_id}/ratings", {"ratings": ratings[n::4]}) for n in range(4)]
        await _at_once(client, saves * 4)
        late = {"ratings": [{"indicator_id": ids[0], "rating": "ACHIEVED"}]}
        answers = await _at_once(client, [("POST", f"/v1/self-assessments/{sa_id}/publish", {})] * 4
                                 + [("PATCH", f"/v1/self-assessments/{sa_id}/ratings", late)] * 4
                                 + [("POST", f"/v1/self-assessments/{sa_id}/keep-private", {})] * 2)
        rules = _rules(answers)
        published = [a for a in answers if a.request.url.path.endswith("/publish") and a.status_code == 200]
        # one publish made it final; the others, the same request again, are answered as it (round 24c), its event
        # once (below)
        assert published and all(a.json() == published[0].json() for a in published), rules
        # a save may also land before the publish (a 200 of the draft): then it is part of what was published
        saved_first = [a for a in answers if a.request.method == "PATCH" and a.status_code == 200]
        assert all(a.json()["status"] == "DRAFT" for a in saved_first), rules
        assert set(rules) - {(200, "PUBLISHED"), (200, "DRAFT")} <= {(409, "final")}, rules
        assert rules[(200, "DRAFT")] == len(saved_first), rules  # keep-private never wins over a draft here
        stored = (await client.get(f"/v1/self-assessments/{sa_id}")).json()
        assert stored["status"] == "PUBLISHED"
        first = next(r["rating"] for r in stored["ratings"] if r["indicator_id"] == ids[0])
        assert first == ("ACHIEVED" if saved_first else "STARTED"), (first, rules)
    assert await _count(service, "SELECT count(*) FROM outbox WHERE convert_from(payload, 'UTF8')::jsonb ->> 'type' "
                                 "LIKE '%self_assessment_published%' AND convert_from(payload, 'UTF8')::jsonb "
                                 "-> 'data' ->> 'self_assessment_id' = :id", id=sa_id) == 1
    # the published plan's item edited sixteen times at once, each edit a change: each its own revision and event
    async with _client(service, token_issuer) as client:
        plan = (await client.get(f"/v1/self-assessments/{sa_id}/action-plan")).json()
        activity = plan["items"][0]["activity_id"]
        edits = await _at_once(client, [("PATCH", f"/v1/self-assessments/{sa_id}/action-plan/items/{activity}",
                                         {"owner": f"Ansvarig {n}"}) for n in range(AT_ONCE)])
        revisions = sorted(e.json()["revision"] for e in edits)
        assert revisions == list(range(plan["revision"] + 1, plan["revision"] + 1 + AT_ONCE)), revisions
        assert (await client.get(f"/v1/self-assessments/{sa_id}/action-plan")).json()["revision"] == revisions[-1]
    assert await _count(service, "SELECT count(*) FROM outbox WHERE convert_from(payload, 'UTF8')::jsonb ->> 'type' "
                                 "LIKE '%action_plan_changed%' AND convert_from(payload, 'UTF8')::jsonb "
                                 "-> 'data' ->> 'self_assessment_id' = :id", id=sa_id) == revisions[-1]


# -- reporting: directory imports, settings ----------------------------------------------------------------------

def _directory_changes(tag: str, count: int) -> dict[str, Any]:
    return {"items": [{"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {
        "unit_type": "group", "unit_id": f"{tag}-{n}", "organiser_id": ORGANISER, "parent_id": UNIT,
        "name": f"Grupp {n}", "school_unit_code": UNIT, "year": 7, "updated_at": "2026-09-01T08:00:00+00:00"}}
        for n in range(count)]}


async def test_two_directory_imports_of_one_organiser_at_once_publish_each_change_once(services, token_issuer):
    """Failed on the old code: every one of the racing imports answered `created` for every group and
    published it (up to 16 events per group); now one `created` per group, the rest `unchanged`."""
    service = services["reporting"]
    tag = f"race{uuid.uuid4().hex[:8]}"
    body = _directory_changes(tag, 25)
    async with _client(service, token_issuer) as client:
        answers = await _at_once(client, [("POST", "/v1/directory/changes", body)] * AT_ONCE)
    assert sum(a.json()["created"] for a in answers) == 25
    assert sum(a.json()["unchanged"] for a in answers) == 25 * (AT_ONCE - 1)
    assert await _count(service, "SELECT count(*) FROM outbox WHERE convert_from(payload, 'UTF8')::jsonb "
                                 "-> 'data' ->> 'unit_id' LIKE :tag", tag=f"{tag}-%") == 25


async def test_settings_written_at_once_never_fail(services, token_issuer):
    """The forecast calendar and the alert thresholds of one organiser, PUT sixteen times at once (the same,
    and two different bodies): 2xx or a 409 naming the rule; the calendar's revisions without a gap."""
    forecast_service, reporting = services["forecast"], services["reporting"]
    async with _client(forecast_service, token_issuer) as client:
        answers = await _at_once(client, [("PUT", f"/v1/calendars/{ORGANISER}", {"grace_days": days})
                                          for days in [3, 4] * (AT_ONCE // 2)])
        assert set(_rules(answers)) <= {(200, "stored"), (200, "unchanged"), (409, "concurrent_change"),
                                        (409, "stale_revision")}, _rules(answers)
    async with _client(reporting, token_issuer) as client:
        thresholds = [{"drop_points": 10, "below_forecast_points": 15, "min_students": 10},
                      {"drop_points": 12, "below_forecast_points": 15, "min_students": 10}]
        await _at_once(client, [("PUT", f"/v1/alert-thresholds/{ORGANISER}", t) for t in thresholds * (AT_ONCE // 2)])


# -- more requests at once than the service has connections ------------------------------------------------------

@pytest.fixture
def small_pool(infrastructure, token_issuer) -> Iterator[RunningService]:
    """The assessment service with two database connections (a pool of one and one overflow), a request
    waiting at most a second for one."""
    service = start_service("assessment", infrastructure, token_issuer, database_pool_size=1,
                            database_pool_timeout_seconds=1.0)
    try:
        yield service
    finally:
        service.stop()


async def test_requests_waiting_longer_than_the_pool_timeout_get_a_503_with_retry_after(small_pool, token_issuer):
    """A client (or another instance) holds an assessment's row; revisions of it, sent at once, take both
    connections and wait for that row, and the others wait for a connection. Failed on the old code: those
    got a plain-text 500 (the pool's TimeoutError, after 30 s). Now a 503 problem naming `database_busy` with a
    Retry-After, and the ones that held a connection are stored once the row is free."""
    record_id, student = str(uuid.uuid4()), _student()
    async with _client(small_pool, token_issuer) as client:
        first = await client.post("/v1/assessments", json=assessment(student, assessment_id=record_id))
        assert first.status_code == 201, first.text
        engine = create_async_engine(small_pool.server.config.app.state.runtime.db.url,  # type: ignore[attr-defined]
                                     poolclass=NullPool)
        try:
            async with engine.connect() as holder:
                await holder.execute(text("SELECT 1 FROM assessments WHERE assessment_id = :id FOR UPDATE"),
                                     {"id": record_id})
                sent = [asyncio.ensure_future(client.post("/v1/assessments", json=assessment(
                    student, value, assessment_id=record_id))) for value in "ABDE"]
                await asyncio.sleep(4)  # past the pool timeout of those without a connection
                await holder.rollback()
            answers = await asyncio.gather(*sent)
        finally:
            await engine.dispose()
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 2, 503: 2}, [(a.status_code, a.text[:200]) for a in answers]
    for busy in (a for a in answers if a.status_code == 503):
        assert busy.headers["content-type"].startswith("application/problem+json")
        assert busy.json()["errors"][0] == {**busy.json()["errors"][0], "field": "request", "rule": "database_busy"}
        assert busy.headers["retry-after"] == "2"
    assert await _count(small_pool, "SELECT revision FROM assessments WHERE assessment_id = :id", id=record_id) == 3


# -- read parameters naming another organiser or unit --------------------------------------------------------

OTHER_ORGANISER, OTHER_UNIT = "1480", "14800011"
#: an ordinary value of each query or path parameter reporting's reads take, the scope ones set per request
ORDINARY = {"level": "school_unit", "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT", "round": "1",
            "kind": "assessment", "format": "json", "school_form": "grundskola", "split": "gender",
            "alert_id": str(uuid.uuid4()), "unit_id": UNIT, "school_unit_code": UNIT, "organiser_id": ORGANISER}


def _reads(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """(path template, ordinary values, the parameters naming a scope) of every GET under /v1."""
    for path, item in spec["paths"].items():
        operation = item.get("get")
        if operation is None or not path.startswith("/v1/"):
            continue
        names = [p["name"] for p in operation.get("parameters", [])]
        scope = [n for n in names if n in ("organiser_id", "unit_id", "school_unit_code")]
        if scope:
            # a term and a round are one period too many (`one_period`): the round only where the path names it
            yield path, {n: ORDINARY[n] for n in names if n in ORDINARY and (n != "round" or "{round}" in path)}, scope


async def test_a_read_naming_another_organiser_or_unit_never_answers_its_data(services, token_issuer):
    """Every reporting read that names a scope, asked by a principal of one school unit of organiser 2999 for
    another organiser (its id in every scope parameter) or another school unit: a 4xx problem naming a scope
    parameter, or (the lists the reader's scope narrows) a 200 holding nothing of the other's. Failed on the
    old code: the results and support reads named `scope`, not the parameter (`unit_id`, `organiser_id`);
    none answered another's data. (A principal's own unit with data and another's: reporting's test_access.)"""
    reporting = services["reporting"]
    token = token_issuer.mint(roles=["principal"], organisers=[ORGANISER], school_units=[UNIT], subject="rektor-h9",
                              ttl_seconds=3600)
    async with httpx.AsyncClient(base_url=reporting.url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60) as client:
        spec = (await client.get("/openapi.json")).json()
        reads = list(_reads(spec))
        assert len(reads) > 10
        answered = []
        named: list[Any] = []
        for path, values, scope in reads:
            for foreign in ({n: OTHER_ORGANISER if n == "organiser_id" else OTHER_UNIT for n in scope},
                            {n: OTHER_UNIT for n in scope if n != "organiser_id"}):
                if not foreign:
                    continue
                asked = values | foreign
                url = path.format(**asked)
                query = {k: v for k, v in asked.items() if "{" + k + "}" not in path}
                answer = await client.get(url, params=query)
                assert answer.status_code < 500, (url, query, answer.text[:300])
                if answer.status_code < 300:
                    assert OTHER_UNIT not in answer.text and OTHER_ORGANISER not in answer.text, (url, answer.text)
                else:
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    said = {(e["field"], e["rule"]) for e in answer.json().get("errors", [])}
                    named.append((url, sorted(foreign), said))
                    # the parameter that steered out of scope, named; or refused for the role before any scope,
                    # or (a unit looked up under the token's organiser) no such unit
                    assert said & {(n, "read_scope") for n in foreign} or ("roles", "role") in said or (
                        answer.status_code == 404), (url, query, answer.text[:300])
                answered.append((answer.status_code, url, sorted(foreign)))
        leaked = [a for a in answered if a[0] < 400 and a[1] not in NARROWING_LISTS]
        assert not leaked, leaked


#: lists whose rows the reader's scope narrows (a filter outside it finds no row, as a filter that matches
#: nothing): a 200, whose rows never name the other unit or organiser (`_no_foreign_rows`)
NARROWING_LISTS = frozenset({"/v1/directory/roster-sizes", "/v1/lika/school-units", "/v1/alerts"})


# -- the last school year a date can hold ----------------------------------------------------------------------

async def test_a_window_whose_deadline_falls_past_the_last_date_is_not_a_500(services, token_issuer):
    """A calendar of the latest weeks each term may have and 60 grace days, and a forecast for the last school year
    the contract takes (9998/99): its deadline falls in year 10000. Failed on the old code: a 500 (OverflowError in
    the window's arithmetic). Since round 24c a school year a request names ends at 2198/99 (a 422 naming it; the
    contracts' window still ends at the last date there is, `test_calendar`), and the last one is on time."""
    service = services["forecast"]
    organiser = "2998"
    token = token_issuer.mint(roles=["platform", "organiser_admin"], organisers=[organiser], subject="h9-calendar",
                              client_id="platform-h9", ttl_seconds=3600)
    async with httpx.AsyncClient(base_url=service.url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60) as client:
        calendar = {"grace_days": 60, "forecast_windows": [{"term": "HT", "iso_week": 52},
                                                           {"term": "VT", "iso_week": 26}]}
        put = await client.put(f"/v1/calendars/{organiser}", json=calendar)
        assert put.status_code == 200, put.text
        for school_year, term in (("9998/99", "VT"), ("9998/99", "HT"), ("2198/99", "VT"), ("2198/99", "HT")):
            answer = await client.post("/v1/forecasts", json=forecast(
                _student(), organiser_id=organiser, school_unit_code="29980011", school_year=school_year, term=term))
            if school_year == "9998/99":
                assert answer.status_code == 422, (school_year, term, answer.text[:300])
                assert [e["field"] for e in answer.json()["errors"]] == ["school_year"]
                continue
            assert answer.status_code == 201, (school_year, term, answer.text[:300])
            assert answer.json()["late"] is False
