"""The LIKA service's door for self-assessments published elsewhere, in-process against a real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

SELF_ASSESSMENT_ID = "3f0b8c1e-2a4d-4e6f-8a9b-0c1d2e3f4a5b"


def published(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.1",
            "ratings": [{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED",
                         "comment": "Plan finns, ej förankrad"},
                        {"indicator_id": "GR-INF-01", "area": "infrastruktur", "rating": "ACHIEVED"}]}
    return body | overrides


async def stored_rows(db) -> list[dict]:
    async with db.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM self_assessments ORDER BY created_at"))).all()
    return [dict(r._mapping) for r in rows]


async def outbox_events(db) -> list:
    return await testing.outbox_events(db, "styrkedja.lika")


async def test_publish_stores_the_self_assessment_and_one_event(client, db):
    response = await client.post("/v1/self-assessments/published",
                                 json=published(self_assessment_id=SELF_ASSESSMENT_ID))
    assert response.status_code == 201, response.text
    assert response.json()["self_assessment_id"] == SELF_ASSESSMENT_ID
    assert response.json()["status"] == "stored"

    [row] = await stored_rows(db)
    assert str(row["self_assessment_id"]) == SELF_ASSESSMENT_ID
    assert (row["school_form"], row["respondent_role"], row["catalogue_version"]) == ("grundskola", "rektor",
                                                                                      "2026.1")
    assert row["ratings"][0] == {"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED",
                                 "comment": "Plan finns, ej förankrad"}

    [event] = await outbox_events(db)
    assert event.type == "se.styrkedja.lika.self_assessment_published.v1"
    assert str(event.data.self_assessment_id) == SELF_ASSESSMENT_ID
    assert [r.indicator_id for r in event.data.ratings] == ["GR-LED-01", "GR-INF-01"]
    assert event.data.ratings[0].comment == "Plan finns, ej förankrad"
    assert event.id == row["event_id"] and event.partition_key() == b"2999"


async def test_identical_resend_is_unchanged_and_a_different_one_conflicts(client, db):
    body = published(self_assessment_id=SELF_ASSESSMENT_ID)
    first = await client.post("/v1/self-assessments/published", json=body)
    again = await client.post("/v1/self-assessments/published", json=body)
    assert again.status_code == 200
    assert again.json() == first.json() | {"status": "unchanged"}
    assert len(await outbox_events(db)) == 1 and len(await stored_rows(db)) == 1

    changed = published(self_assessment_id=SELF_ASSESSMENT_ID, catalogue_version="2026.2")
    response = await client.post("/v1/self-assessments/published", json=changed)
    assert response.status_code == 409
    assert problem_fields(response) == [("self_assessment_id", "published_is_final")]
    assert len(await outbox_events(db)) == 1


async def test_without_an_id_each_publication_is_new(client, db):
    a = await client.post("/v1/self-assessments/published", json=published())
    b = await client.post("/v1/self-assessments/published", json=published())
    assert a.status_code == b.status_code == 201
    assert a.json()["self_assessment_id"] != b.json()["self_assessment_id"]
    assert len(await outbox_events(db)) == 2


@pytest.mark.parametrize(("body", "field", "rule"), [
    (published(ratings=[{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED",
                         "comment": "Eleven 19900101-0017 saknar dator"}]),
     "ratings.0.comment", "no_personal_identity_number"),
    (published(ratings=[{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED"},
                        {"indicator_id": "GR-INF-01", "area": "infrastruktur", "rating": "ACHIEVED",
                         "comment": "Se 900101-0017"}]),
     "ratings.1.comment", "no_personal_identity_number"),
    (published(ratings=[{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED"},
                        {"indicator_id": "GR-LED-01", "area": "ledning", "rating": "ACHIEVED"}]),
     "ratings.1.indicator_id", "unique_indicator"),
    (published(ratings=[]), "ratings", "too_short"),
    (published(ratings=[{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "GREAT"}]),
     "ratings.0.rating", "not_on_scale"),  # as a save names it (it was `enum` here)
    (published(school_form="universitet"), "school_form", "enum"),
    (published(respondent_role="elev"), "respondent_role", "enum"),
    (published(school_unit_code="1"), "school_unit_code", "string_pattern_mismatch"),
    (published(organiser_id="x"), "organiser_id", "string_pattern_mismatch"),
    (published(self_assessment_id="nope"), "self_assessment_id", "uuid_parsing"),
])
async def test_bad_input_is_a_problem_naming_field_and_rule(client, db, body, field, rule):
    response = await client.post("/v1/self-assessments/published", json=body)
    assert response.status_code == 422, response.text
    assert (field, rule) in problem_fields(response)
    assert response.json()["status"] == 422
    assert await outbox_events(db) == [] and await stored_rows(db) == []


async def test_a_self_assessment_too_large_for_an_event_is_refused(settings, db, client_token):
    ratings = [{"indicator_id": f"GR-LED-0{i}", "area": "ledning", "rating": "STARTED", "comment": "x" * 2000}
               for i in range(1, 8)]
    async with testing.service_client("styrkedja_lika", settings.model_copy(update={"max_event_bytes": 10_000}),
                                      token=client_token) as client:
        response = await client.post("/v1/self-assessments/published", json=published(ratings=ratings))
    assert response.status_code == 422
    assert problem_fields(response) == [("ratings", "event_size_limit")]
    assert await stored_rows(db) == []


@pytest.mark.parametrize(("body", "expected"), [
    (published(catalogue_version="1999.1"), [("catalogue_version", "unknown_catalogue_version")]),
    (published(ratings=[{"indicator_id": "GR-LED-99", "area": "ledning", "rating": "STARTED"},
                        {"indicator_id": "FO-LED-01", "area": "ledning", "rating": "STARTED"},
                        {"indicator_id": "GR-INF-01", "area": "ledning", "rating": "STARTED",
                         "comment": "rad\x00brytning"}]),
     [("ratings.0.indicator_id", "unknown_indicator"), ("ratings.1.indicator_id", "unknown_indicator"),
      ("ratings.2.area", "indicator_area"), ("ratings.2.comment", "no_control_characters")]),
])
async def test_what_is_rated_must_be_in_the_catalogue_version(client, db, body, expected):
    response = await client.post("/v1/self-assessments/published", json=body)
    assert response.status_code == 422
    assert problem_fields(response) == expected
    assert await stored_rows(db) == [] and await outbox_events(db) == []


async def test_one_organiser_in_any_spelling_publishes_and_lists_one_unit(settings, db, token_issuer):
    """A principal whose token names `2120001234` publishes as `212000-1234` and resends as `162120001234`:
    one self-assessment, stored, listed and keyed under `212000-1234`. Failed on the old code: a 403 (the
    claim as typed), and the list by another spelling found nothing."""
    token = token_issuer.mint(roles=["principal"], organisers=["2120001234"], school_units=["12345678"],
                              subject="rektor-spelling")
    async with testing.service_client("styrkedja_lika", settings, token=token) as client:
        body = published(self_assessment_id=SELF_ASSESSMENT_ID, organiser_id="212000-1234")
        first = await client.post("/v1/self-assessments/published", json=body)
        assert first.status_code == 201, first.text
        again = await client.post("/v1/self-assessments/published", json=body | {"organiser_id": "162120001234"})
        assert (again.status_code, again.json()["status"]) == (200, "unchanged"), again.text
        listed = await client.get("/v1/self-assessments", params={"organiser_id": "2120001234",
                                                                   "school_unit_code": "12345678"})
        assert listed.status_code == 200, listed.text
        assert [s["self_assessment_id"] for s in listed.json()] == [SELF_ASSESSMENT_ID]
    [row] = await stored_rows(db)
    [event] = await outbox_events(db)
    assert row["organiser_id"] == event.data.organiser_id == "212000-1234" and event.partition_key() == b"212000-1234"
