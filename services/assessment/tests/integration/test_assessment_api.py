"""The assessment service in-process against a real PostgreSQL: rows, revisions, outbox events,
idempotency, all-or-nothing batches and problem+json answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_contracts.events.assessment import AssessmentPublishedV1, AssessmentRetractedV1
from styrkedja_devstack import testing
from styrkedja_devstack.pytest_plugin import migrated_database, recycle_database
from styrkedja_devstack.testing import PROBLEM_JSON, async_engine, problem_fields, service_client
from styrkedja_kit.inputs import BATCH_CAP

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.fixture(scope="module")
def refusing_settings(infrastructure, token_issuer) -> Iterator[AssessmentSettings]:
    url = migrated_database(infrastructure, "styrkedja_assessment")
    yield AssessmentSettings(database_url=url, outbox_enabled=False, auth_issuer=token_issuer.url,
                             kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    recycle_database(infrastructure, "styrkedja_assessment", url)


@pytest.fixture(scope="module")
async def refusing(refusing_settings, token_issuer) -> AsyncIterator[tuple[Any, Any]]:
    """(client, db) of one service and database for the module's refusals, instead of a start and a database
    each: every one of them is refused before anything is written, and asserts that nothing was (so a refusal
    that stored a row fails itself and every one after it). The token is the conftest's `client_token`."""
    token = token_issuer.mint(roles=["platform"], organisers=["2999"], client_id="platform-test")
    async with service_client("styrkedja_assessment", refusing_settings, token=token) as client, \
            async_engine(refusing_settings.database_url) as db:
        yield client, db


def assessment(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1,
            "assessed_on": "2026-10-01"}
    return body | overrides


async def outbox_events(db) -> list:
    events = await testing.outbox_events(db, "styrkedja.assessments")
    assert all(event.partition_key() == event.data.organiser_id.encode() for event in events)
    return events


async def count(db, table: str) -> int:
    async with db.connect() as conn:
        return (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()


async def stored(db, assessment_id) -> dict:
    async with db.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM assessments WHERE assessment_id = :id"),
                                  {"id": assessment_id})).one()
        revisions = (await conn.execute(text("SELECT revision, retraction FROM assessment_revisions "
                                             "WHERE assessment_id = :id ORDER BY revision"),
                                        {"id": assessment_id})).all()
    return dict(row._mapping) | {"revisions": [tuple(r) for r in revisions]}


async def publish(client, **overrides) -> dict:
    response = await client.post("/v1/assessments", json=assessment(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


async def test_publish_stores_row_revision_and_exactly_one_event(client, db):
    response = await client.post("/v1/assessments", json=assessment(value="F", unmet_criteria=["Taluppfattning"]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["revision"], body["retracted"], body["status"]) == (1, False, "stored")
    assessment_id = UUID(body["assessment_id"])

    row = await stored(db, assessment_id)
    assert (row["revision"], row["retracted"], row["student_id"], row["kind"], row["round"]) == \
        (1, False, "s-1", "assessment", 1)
    assert row["content"]["value"] == "F" and row["content"]["unmet_criteria"] == ["Taluppfattning"]
    assert row["revisions"] == [(1, False)]

    [event] = await outbox_events(db)
    assert event.type == "se.styrkedja.assessment.published.v1"
    assert isinstance(event.data, AssessmentPublishedV1)
    assert (event.data.assessment_id, event.data.revision, event.data.value) == (assessment_id, 1, "F")
    assert event.data.unmet_criteria == ("Taluppfattning",)
    assert event.partition_key() == b"2999"
    async with db.connect() as conn:
        event_id = (await conn.execute(text("SELECT event_id FROM assessment_revisions"))).scalar_one()
    assert event_id == event.id


async def test_identical_resend_is_unchanged_and_a_change_is_revision_two(client, db):
    first = await publish(client)
    assessment_id = first["assessment_id"]
    again = await client.post("/v1/assessments", json=assessment(assessment_id=assessment_id))
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["revision"]) == ("unchanged", 1)
    assert len(await outbox_events(db)) == 1

    changed = await client.post("/v1/assessments", json=assessment(assessment_id=assessment_id, value="A"))
    assert changed.status_code == 201, changed.text
    assert (changed.json()["revision"], changed.json()["assessment_id"]) == (2, assessment_id)
    events = await outbox_events(db)
    assert [(e.data.revision, e.data.value) for e in events] == [(1, "C"), (2, "A")]
    assert len({e.id for e in events}) == 2
    row = await stored(db, UUID(assessment_id))
    assert (row["revision"], row["content"]["value"], row["revisions"]) == (2, "A", [(1, False), (2, False)])


async def test_stale_explicit_revision_conflicts(client, db):
    assessment_id = (await publish(client, revision=3))["assessment_id"]
    stale = await client.post("/v1/assessments", json=assessment(assessment_id=assessment_id, value="B", revision=2))
    assert stale.status_code == 409
    assert problem_fields(stale) == [("revision", "revision_must_increase")]
    assert [e.data.revision for e in await outbox_events(db)] == [3]
    assert (await stored(db, UUID(assessment_id)))["content"]["value"] == "C"


async def test_one_result_per_student_subject_kind_and_round(client, db):
    first = await publish(client)
    other_id = "00000000-0000-4000-8000-000000000001"
    response = await client.post("/v1/assessments", json=assessment(assessment_id=other_id, value="A"))
    assert response.status_code == 409
    assert problem_fields(response) == [("body", "one_result_per_key")]
    assert first["assessment_id"] in response.json()["detail"]  # says which assessment to revise instead
    # another round, kind, school year or term is another result: VT round 1 is not HT round 1
    assert (await publish(client, round=2))["revision"] == 1
    assert (await publish(client, kind="written_report"))["revision"] == 1
    assert (await publish(client, school_year="2027/28", assessed_on="2027-10-01"))["revision"] == 1
    assert (await publish(client, term="VT"))["revision"] == 1
    assert await count(db, "assessments") == 5 and len(await outbox_events(db)) == 5


@pytest.mark.parametrize(("overrides", "field", "rule"), [
    ({"value": "F"}, "unmet_criteria", "criteria_required_below_pass"),
    ({"scale": "THREE_LEVEL", "value": "NOT_REACHED"}, "unmet_criteria", "criteria_required_below_pass"),
    ({"value": "G"}, "value", "value_on_scale"),
    ({"kind": "term_grade", "scale": "THREE_LEVEL", "value": "ACCEPTABLE"}, "scale", "term_grade_on_af_scale"),
    ({"student_id": "19900101-0017"}, "student_id", "no_personal_identity_number"),
    ({"value": "F", "unmet_criteria": ["Eleven 900101-0017 når inte målen"]}, "unmet_criteria.0",
     "no_personal_identity_number"),
    # the spellings that slipped through: Unicode dashes and spaces, full-width digits
    ({"student_id": "s-19121212\u20131212"}, "student_id", "no_personal_identity_number"),
    ({"value": "F", "unmet_criteria": ["gäller 19121212\u00a0-\u00a01212"]}, "unmet_criteria.0",
     "no_personal_identity_number"),
    ({"value": "F", "unmet_criteria": ["\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12\uff0d\uff11\uff12"
                                        "\uff11\uff12"]}, "unmet_criteria.0", "no_personal_identity_number"),
    ({"value": "F", "unmet_criteria": ["gäller 121212\u20111212"]}, "unmet_criteria.0",
     "no_personal_identity_number"),
    # codes are ASCII only
    ({"school_unit_code": "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"}, "school_unit_code", "ascii_only"),
    ({"school_unit_code": "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"}, "school_unit_code", "ascii_only"),
    ({"organiser_id": "\u0662\u0669\u0669\u0669"}, "organiser_id", "ascii_only"),
    # control characters in free text (PostgreSQL refuses NUL: it was a 500)
    ({"value": "F", "unmet_criteria": ["nul\x00byte"]}, "unmet_criteria.0", "no_control_characters"),
    ({"value": "F", "unmet_criteria": ["escape\x1b[31m"]}, "unmet_criteria.0", "no_control_characters"),
    # strict types: a string is not a number, a boolean is not an integer
    ({"revision": "1"}, "revision", "int_type"),
    ({"revision": True}, "revision", "int_type"),
    ({"year": 7.0}, "year", "int_type"),
    ({"revision": 2147483648}, "revision", "less_than_equal"),
    ({"subject_code": "GRGRXYZ01"}, "subject_code", "unknown_subject_code"),
    ({"kind": "exam"}, "kind", "enum"),
    ({"round": 5}, "round", "less_than_equal"),
    ({"year": "seven"}, "year", "int_type"),
    ({"assessed_on": "yesterday"}, "assessed_on", "date_format"),  # RFC 3339 full-date only (round 28t)
    ({"assessed_on": "2026-11-02T00:00:00+14:00"}, "assessed_on", "date_format"),  # no date-time as a date
    ({"assessment_id": "not-a-uuid"}, "assessment_id", "uuid_parsing"),
    ({"unmet_criteria": "Taluppfattning"}, "unmet_criteria", "list_type"),
    ({"extra": 1}, "extra", "extra_forbidden"),
])
async def test_bad_input_is_a_problem_naming_field_and_rule(refusing, overrides, field, rule):
    client, db = refusing
    response = await client.post("/v1/assessments", json=assessment(**overrides))
    assert response.status_code == 422, response.text
    assert (field, rule) in problem_fields(response)
    assert await count(db, "assessments") == 0 and await outbox_events(db) == []


@pytest.mark.parametrize(("content", "body"), [
    ("application/json", b"{not json"),
    ("application/json", b"[1, 2]"),
    ("application/json", b'"a string"'),
    ("application/json", b""),
    ("text/plain", b"hello"),
    ("application/json", b'{"items": "nope"}'),
])
async def test_malformed_bodies_are_4xx_problems_never_500(refusing, content, body):
    client, db = refusing
    for path in ("/v1/assessments", "/v1/assessments/batch"):
        response = await client.post(path, content=body, headers={"content-type": content})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert response.json()["status"] == response.status_code
    assert await count(db, "assessments") == 0


async def test_batch_of_1000_is_stored_with_its_events_in_one_transaction(client, db):
    items = [assessment(student_id=f"s-{i}", value="CDEF"[i % 4],
                        unmet_criteria=["Taluppfattning"] if i % 4 == 3 else []) for i in range(1000)]
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 201, response.text
    assert (response.json()["stored"], response.json()["unchanged"]) == (1000, 0)
    assert len({i["assessment_id"] for i in response.json()["items"]}) == 1000

    events = await outbox_events(db)
    assert len(events) == 1000
    assert {str(e.data.assessment_id) for e in events} == {i["assessment_id"] for i in response.json()["items"]}
    assert await count(db, "assessments") == 1000 and await count(db, "assessment_revisions") == 1000
    async with db.connect() as conn:  # every row written by the same PostgreSQL transaction
        writers = (await conn.execute(text(
            "SELECT count(DISTINCT xmin::text) FROM (SELECT xmin FROM outbox UNION ALL SELECT xmin FROM assessments "
            "UNION ALL SELECT xmin FROM assessment_revisions) t"))).scalar_one()
    assert writers == 1


async def test_batch_over_the_limit_or_empty_is_refused(client, db):
    items = [assessment(student_id=f"s-{i}") for i in range(1001)]
    for body in ({"items": items}, {"items": []}):
        response = await client.post("/v1/assessments/batch", json=body)
        assert response.status_code == 422
        assert problem_fields(response)[0][0] == "items"
    assert await count(db, "assessments") == 0 and await outbox_events(db) == []


@pytest.mark.parametrize(("bad", "field", "rule", "status"), [
    ({"value": "F"}, "items.2.unmet_criteria", "criteria_required_below_pass", 422),
    ({"student_id": "19900101-0017"}, "items.2.student_id", "no_personal_identity_number", 422),
    ({"round": 0}, "items.2.round", "greater_than_equal", 422),
])
async def test_batch_with_one_bad_item_stores_nothing(refusing, bad, field, rule, status):
    client, db = refusing
    items = [assessment(student_id=f"s-{i}") for i in range(5)]
    items[2] |= bad
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == status
    assert (field, rule) in problem_fields(response)
    assert await count(db, "assessments") == 0 and await outbox_events(db) == []


async def test_batch_conflicting_with_stored_state_stores_nothing(client, db):
    holder = await publish(client, student_id="s-3")
    items = [assessment(student_id=f"s-{i}") for i in range(5)]  # items.3 is s-3 again under a new id
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 409
    assert [f for f, _ in problem_fields(response)] and problem_fields(response)[0][1] == "one_result_per_key"
    assert problem_fields(response)[0][0].startswith("items.3")

    items[3]["assessment_id"] = holder["assessment_id"]
    items[3]["revision"] = 1
    items[3]["value"] = "A"  # a change with a stale explicit revision
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 409
    assert problem_fields(response) == [("items.3.revision", "revision_must_increase")]
    assert await count(db, "assessments") == 1 and len(await outbox_events(db)) == 1

    items[3]["revision"] = 2
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 201, response.text
    assert (response.json()["stored"], response.json()["items"][3]["revision"]) == (5, 2)
    assert await count(db, "assessments") == 5 and len(await outbox_events(db)) == 6


async def test_retract_is_the_next_revision_with_its_event(client, db):
    assessment_id = (await publish(client, value="B"))["assessment_id"]
    response = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"reason": "fel elev"})
    assert response.status_code == 200, response.text
    assert response.json() == {"assessment_id": assessment_id, "revision": 2, "retracted": True, "status": "stored"}
    again = await client.post(f"/v1/assessments/{assessment_id}/retract", json={})
    assert again.status_code == 200 and (again.json()["status"], again.json()["revision"]) == ("unchanged", 2)

    events = await outbox_events(db)
    assert [e.type for e in events] == ["se.styrkedja.assessment.published.v1",
                                        "se.styrkedja.assessment.retracted.v1"]
    retraction = events[1].data
    assert isinstance(retraction, AssessmentRetractedV1)
    assert (str(retraction.assessment_id), retraction.revision, retraction.reason) == (assessment_id, 2, "fel elev")
    assert (retraction.student_id, retraction.subject_code, retraction.round) == ("s-1", "GRGRMAT01", 1)
    row = await stored(db, UUID(assessment_id))
    assert (row["retracted"], row["revision"], row["revisions"]) == (True, 2, [(1, False), (2, True)])

    # a late publish (the original again, or one without a revision) must not resurrect it
    for late in (assessment(assessment_id=assessment_id, value="B"),
                 assessment(assessment_id=assessment_id, value="B", revision=1)):
        refused = await client.post("/v1/assessments", json=late)
        assert refused.status_code == 409, refused.text
        assert problem_fields(refused) == [("revision", "removed_needs_revision")]
    assert (await stored(db, UUID(assessment_id)))["retracted"] is True
    # restoring it names a revision above the retraction
    back = await client.post("/v1/assessments", json=assessment(assessment_id=assessment_id, value="B", revision=3))
    assert back.status_code == 201 and (back.json()["revision"], back.json()["retracted"]) == (3, False)
    assert [e.data.revision for e in await outbox_events(db)] == [1, 2, 3]


async def test_retract_problems(client, db):
    unknown = await client.post("/v1/assessments/00000000-0000-4000-8000-000000000000/retract", json={})
    assert unknown.status_code == 404
    assert problem_fields(unknown) == [("assessment_id", "must_exist")]
    bad_id = await client.post("/v1/assessments/not-a-uuid/retract", json={})
    assert bad_id.status_code == 422 and problem_fields(bad_id)[0][0] == "assessment_id"

    assessment_id = (await publish(client, revision=4))["assessment_id"]
    stale = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"revision": 3})
    assert stale.status_code == 409 and problem_fields(stale) == [("revision", "revision_must_increase")]
    pin = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"reason": "gäller 19900101-0017"})
    assert pin.status_code == 422 and problem_fields(pin) == [("reason", "no_personal_identity_number")]
    dashed = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"reason": "gäller 121212\u20131212"})
    assert dashed.status_code == 422 and problem_fields(dashed) == [("reason", "no_personal_identity_number")]
    nul = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"reason": "fel\x00"})
    assert nul.status_code == 422 and problem_fields(nul) == [("reason", "no_control_characters")]
    loose = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"revision": "5"})
    assert loose.status_code == 422 and problem_fields(loose) == [("revision", "int_type")]
    assert len(await outbox_events(db)) == 1
    # no body at all is a retraction with the next revision
    bare = await client.post(f"/v1/assessments/{assessment_id}/retract")
    assert bare.status_code == 200, bare.text
    assert bare.json()["revision"] == 5


async def test_revision_beyond_the_stored_range_is_a_problem_not_500(client, db):
    response = await client.post("/v1/assessments", json=assessment(revision=2**31))
    assert response.status_code == 422, response.text
    assert problem_fields(response)[0][0] == "revision"
    assessment_id = (await publish(client))["assessment_id"]
    response = await client.post(f"/v1/assessments/{assessment_id}/retract", json={"revision": 2**31})
    assert response.status_code == 422, response.text
    assert problem_fields(response)[0][0] == "revision"
    assert len(await outbox_events(db)) == 1


async def test_batch_holding_one_key_twice_is_refused_by_name(client, db):
    items = [assessment(student_id="s-1"), assessment(student_id="s-2"), assessment(student_id="s-1", value="A")]
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 422, response.text
    assert [rule for _, rule in problem_fields(response)] == ["one_result_per_key"]
    assert problem_fields(response)[0][0].startswith("items.2")
    assert await count(db, "assessments") == 0 and await outbox_events(db) == []


async def test_batch_names_every_bad_item(client, db):
    items = [assessment(student_id=f"s-{i}") for i in range(6)]
    items[1] |= {"value": "F"}  # a domain rule
    items[3] |= {"value": "G"}
    items[4] |= {"student_id": "s-1"}  # the same key as items.1
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 422, response.text
    assert set(problem_fields(response)) == {("items.1.unmet_criteria", "criteria_required_below_pass"),
                                             ("items.3.value", "value_on_scale"),
                                             ("items.4", "one_result_per_key")}
    schema_errors = [assessment(student_id="19121212-1212"), assessment(), assessment(round=9)]
    response = await client.post("/v1/assessments/batch", json={"items": schema_errors})
    assert response.status_code == 422
    assert {f for f, _ in problem_fields(response)} == {"items.0.student_id", "items.2.round"}
    assert await count(db, "assessments") == 0 and await outbox_events(db) == []


async def test_batch_conflicts_name_every_item(client, db):
    await publish(client, student_id="s-1", revision=5)
    await publish(client, student_id="s-2")
    first = (await client.post("/v1/assessments", json=assessment(student_id="s-3"))).json()
    items = [assessment(student_id="s-1"), assessment(student_id="s-2"),
             assessment(student_id="s-3", assessment_id=first["assessment_id"], revision=1, value="A")]
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 409
    assert set(problem_fields(response)) == {("items.0", "one_result_per_key"), ("items.1", "one_result_per_key"),
                                             ("items.2.revision", "revision_must_increase")}


async def test_batch_over_the_configured_limit_names_it(fresh_database, infrastructure, db, client_token):
    settings = AssessmentSettings(database_url=fresh_database("styrkedja_assessment"), outbox_enabled=False,
                                  kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers, max_batch_items=3)
    async with testing.service_client("styrkedja_assessment", settings, token=client_token) as small:
        response = await small.post("/v1/assessments/batch",
                                    json={"items": [assessment(student_id=f"s-{i}") for i in range(4)]})
        assert response.status_code == 422
        assert problem_fields(response) == [("items", "max_batch_items")]
        assert "3" in response.json()["detail"]
        # the published schema says the same limit (a client sending what it allows is not refused for the size)
        document = (await small.get("/openapi.json")).json()
        caps = [node["maxItems"] for node in _arrays(document) if "maxItems" in node]
        assert 3 in caps and BATCH_CAP not in caps, caps  # the batch bodies' items (other arrays keep their own)


def _arrays(node):
    if isinstance(node, dict):
        if node.get("type") == "array":
            yield node
        for value in node.values():
            yield from _arrays(value)
    elif isinstance(node, list):
        for value in node:
            yield from _arrays(value)


async def test_body_over_the_limit_is_413_and_not_json_is_415(fresh_database, infrastructure, client_token):
    settings = AssessmentSettings(database_url=fresh_database("styrkedja_assessment"), outbox_enabled=False,
                                  kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                                  max_request_body_bytes=2048)
    async with testing.service_client("styrkedja_assessment", settings, token=client_token) as small:
        big = {"items": [assessment(student_id=f"s-{i}") for i in range(20)]}
        response = await small.post("/v1/assessments/batch", json=big)
        assert response.status_code == 413
        assert problem_fields(response) == [("body", "max_body_bytes")]

        async def chunks():  # no Content-Length: counted while it streams in
            for _ in range(10):
                yield b" " * 1000

        response = await small.post("/v1/assessments", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413, response.text
        response = await small.post("/v1/assessments", content=b"a=1", headers={"content-type": "text/plain"})
        assert response.status_code == 415
        assert problem_fields(response) == [("content-type", "json_body")]
        assert (await small.post("/v1/assessments", json=assessment())).status_code == 201


async def test_openapi_documents_every_problem(client):
    document = (await client.get("/openapi.json")).json()
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    publish_responses = document["paths"]["/v1/assessments"]["post"]["responses"]
    for status in ("400", "409", "413", "415", "422"):
        assert publish_responses[status]["content"] == {PROBLEM_JSON: {"schema": ref}}, status
    retract_responses = document["paths"]["/v1/assessments/{assessment_id}/retract"]["post"]["responses"]
    assert {"404", "409", "422"} <= set(retract_responses)
    assert "/metrics" not in document["paths"]  # not served on the API's port unless configured (round 30o)
    assert "HTTPValidationError" not in document["components"]["schemas"]
