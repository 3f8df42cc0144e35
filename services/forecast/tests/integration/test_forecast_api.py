"""The forecast service in-process against a real PostgreSQL: rows, outbox events, idempotency and
problem+json answers."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest
from sqlalchemy import text

from styrkedja_contracts import forecast_id_for
from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

LATE_YEAR = "2020/21"     # its windows are long past: always late
ON_TIME_YEAR = "2098/99"  # its windows are far ahead: always on time


def forecast(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": ON_TIME_YEAR, "term": "HT", "value": "ACCEPTABLE"}
    return body | overrides


async def stored(db, forecast_id) -> dict:
    async with db.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM forecasts WHERE forecast_id = :id"),
                                  {"id": forecast_id})).one()
        revisions = (await conn.execute(text("SELECT revision FROM forecast_revisions WHERE forecast_id = :id "
                                             "ORDER BY revision"), {"id": forecast_id})).scalars().all()
    return dict(row._mapping) | {"revisions": revisions}


async def outbox_events(db) -> list:
    return await testing.outbox_events(db, "styrkedja.forecasts")


async def test_submit_stores_the_forecast_and_one_event(client, db):
    response = await client.post("/v1/forecasts", json=forecast())
    assert response.status_code == 201, response.text
    body = response.json()
    expected_id = forecast_id_for("2999", "s-1", "GRGRMAT01", ON_TIME_YEAR, "HT")
    assert body == {"forecast_id": str(expected_id), "revision": 1, "withdrawn": False, "late": False,
                    "window_deadline": "2098-10-24", "status": "stored"}
    row = await stored(db, expected_id)
    assert (row["value"], row["revision"], row["late"], row["revisions"]) == ("ACCEPTABLE", 1, False, [1])

    [event] = await outbox_events(db)
    assert event.type == "se.styrkedja.forecast.submitted.v1"
    assert event.data.forecast_id == expected_id and event.data.revision == 1
    assert event.data.value == "ACCEPTABLE" and event.data.late is False
    assert str(event.data.window_deadline) == "2098-10-24"
    assert event.partition_key() == b"2999"


async def test_identical_resend_is_unchanged_and_a_change_is_the_next_revision(client, db):
    first = await client.post("/v1/forecasts", json=forecast())
    again = await client.post("/v1/forecasts", json=forecast())
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert again.json()["revision"] == 1
    assert len(await outbox_events(db)) == 1

    changed = await client.post("/v1/forecasts", json=forecast(value="NOT_REACHED"))
    assert changed.status_code == 201
    assert changed.json()["revision"] == 2 and changed.json()["forecast_id"] == first.json()["forecast_id"]
    events = await outbox_events(db)
    assert [(e.data.revision, e.data.value) for e in events] == [(1, "ACCEPTABLE"), (2, "NOT_REACHED")]
    assert len({e.id for e in events}) == 2
    row = await stored(db, UUID(first.json()["forecast_id"]))
    assert (row["value"], row["revision"], row["revisions"]) == ("NOT_REACHED", 2, [1, 2])


async def test_explicit_revision_must_be_above_the_stored_one(client, db):
    await client.post("/v1/forecasts", json=forecast(revision=3))
    response = await client.post("/v1/forecasts", json=forecast(value="NOT_REACHED", revision=3))
    assert response.status_code == 409
    assert problem_fields(response) == [("revision", "revision_must_increase")]
    same = await client.post("/v1/forecasts", json=forecast(revision=3))
    assert same.status_code == 200 and same.json()["status"] == "unchanged"
    higher = await client.post("/v1/forecasts", json=forecast(value="NOT_REACHED", revision=7))
    assert higher.status_code == 201 and higher.json()["revision"] == 7
    assert [e.data.revision for e in await outbox_events(db)] == [3, 7]


async def test_late_forecast_is_accepted_and_flagged(client, db):
    response = await client.post("/v1/forecasts", json=forecast(school_year=LATE_YEAR, term="VT"))
    assert response.status_code == 201
    assert response.json()["late"] is True and response.json()["window_deadline"] == "2021-04-02"
    [event] = await outbox_events(db)
    assert event.data.late is True and str(event.data.window_deadline) == "2021-04-02"
    assert (await stored(db, event.data.forecast_id))["late"] is True


async def test_a_given_forecast_id_must_be_the_derived_one(client):
    good = forecast_id_for("2999", "s-1", "GRGRMAT01", ON_TIME_YEAR, "HT")
    assert (await client.post("/v1/forecasts", json=forecast(forecast_id=str(good)))).status_code == 201
    response = await client.post("/v1/forecasts", json=forecast(forecast_id="00000000-0000-4000-8000-000000000000"))
    assert response.status_code == 422
    assert problem_fields(response) == [("forecast_id", "derived_from_key")]


async def test_batch_stores_all_and_resend_stores_none(client, db):
    items = [forecast(student_id=f"s-{i}", value=v)
             for i, v in enumerate(["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"])]
    response = await client.post("/v1/forecasts/batch", json={"items": items})
    assert response.status_code == 201, response.text
    assert (response.json()["stored"], response.json()["unchanged"]) == (3, 0)
    assert len(await outbox_events(db)) == 3

    items[1]["value"] = "NOT_REACHED"
    again = await client.post("/v1/forecasts/batch", json={"items": items})
    assert again.status_code == 201
    assert [i["status"] for i in again.json()["items"]] == ["unchanged", "stored", "unchanged"]
    assert again.json()["items"][1]["revision"] == 2

    same = await client.post("/v1/forecasts/batch", json={"items": items})
    assert same.status_code == 200 and same.json()["stored"] == 0
    assert len(await outbox_events(db)) == 4


async def test_batch_errors_name_the_item_and_store_nothing(client, db):
    items = [forecast(student_id="s-1"), forecast(student_id="s-2", value="E")]
    response = await client.post("/v1/forecasts/batch", json={"items": items})
    assert response.status_code == 422
    assert problem_fields(response) == [("items.1.value", "value_on_scale")]

    duplicate = [forecast(student_id="s-1"), forecast(student_id="s-1", value="NOT_REACHED")]
    response = await client.post("/v1/forecasts/batch", json={"items": duplicate})
    assert response.status_code == 422
    assert problem_fields(response) == [("items.1.forecast_id", "unique_in_batch")]

    await client.post("/v1/forecasts", json=forecast(student_id="s-2", revision=5))
    conflict = [forecast(student_id="s-1"), forecast(student_id="s-2", value="NOT_REACHED", revision=2)]
    response = await client.post("/v1/forecasts/batch", json={"items": conflict})
    assert response.status_code == 409
    assert problem_fields(response) == [("items.1.revision", "revision_must_increase")]
    assert len(await outbox_events(db)) == 1  # only the single s-2 forecast: the batches stored nothing

    for body in ({"items": []}, {"items": [forecast()] * 1001}):
        response = await client.post("/v1/forecasts/batch", json=body)
        assert response.status_code == 422 and problem_fields(response)[0][0] == "items"


@pytest.mark.parametrize(("overrides", "field", "rule"), [
    ({"value": "E"}, "value", "value_on_scale"),
    ({"student_id": "19900101-0017"}, "student_id", "no_personal_identity_number"),
    ({"subject_code": "199001010017"}, "subject_code", "no_personal_identity_number"),
    ({"school_unit_code": "1234"}, "school_unit_code", "string_pattern_mismatch"),
    ({"school_year": "2026/28"}, "school_year", "value_error"),
    ({"term": "ST"}, "term", "enum"),
    ({"year": 10}, "year", "less_than_equal"),
    ({"revision": 0}, "revision", "greater_than_equal"),
    ({"extra": 1}, "extra", "extra_forbidden"),
    ({"student_id": "s-121212\u20131212"}, "student_id", "no_personal_identity_number"),
    ({"group_id": "\uff11\uff12\uff11\uff12\uff11\uff12\uff11\uff12\uff11\uff12"}, "group_id",
     "no_personal_identity_number"),
    ({"school_unit_code": "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"}, "school_unit_code", "ascii_only"),
    ({"organiser_id": "\uff12\uff19\uff19\uff19"}, "organiser_id", "ascii_only"),
    ({"subject_code": "GRGRXYZ01"}, "subject_code", "unknown_subject_code"),
    ({"revision": "1"}, "revision", "int_type"),
    ({"year": True}, "year", "int_type"),
    ({"revision": 2147483647 + 1}, "revision", "less_than_equal"),
    ({"school_year": "9999/00"}, "school_year", "value_error"),  # its VT window would be in year 10000: was a 500
])
async def test_bad_input_is_a_problem_naming_field_and_rule(client, db, overrides, field, rule):
    response = await client.post("/v1/forecasts", json=forecast(**overrides))
    assert response.status_code == 422
    assert (field, rule) in problem_fields(response)
    body = response.json()
    assert body["status"] == 422 and body["title"] and body["detail"]
    assert await outbox_events(db) == []


async def test_withdraw(client, db):
    forecast_id = (await client.post("/v1/forecasts", json=forecast())).json()["forecast_id"]
    response = await client.post(f"/v1/forecasts/{forecast_id}/withdraw")
    assert response.status_code == 200, response.text
    assert response.json() | {} == {"forecast_id": forecast_id, "revision": 2, "withdrawn": True, "late": False,
                                    "window_deadline": "2098-10-24", "status": "stored"}
    again = await client.post(f"/v1/forecasts/{forecast_id}/withdraw", json={})
    assert again.status_code == 200 and again.json()["status"] == "unchanged" and again.json()["revision"] == 2

    events = await outbox_events(db)
    assert [e.type for e in events] == ["se.styrkedja.forecast.submitted.v1", "se.styrkedja.forecast.withdrawn.v1"]
    withdrawn = events[1].data
    assert (str(withdrawn.forecast_id), withdrawn.revision, withdrawn.student_id) == (forecast_id, 2, "s-1")
    row = await stored(db, UUID(forecast_id))
    assert (row["withdrawn"], row["revision"], row["revisions"]) == (True, 2, [1, 2])

    # a late submission (no revision, or an old one) must not resurrect it
    for late in (forecast(), forecast(revision=1), forecast(value="NOT_REACHED")):
        refused = await client.post("/v1/forecasts", json=late)
        assert refused.status_code == 409 and problem_fields(refused) == [("revision", "removed_needs_revision")]
    # restoring it names a revision above the withdrawal
    back = await client.post("/v1/forecasts", json=forecast(revision=3))
    assert back.status_code == 201 and back.json()["revision"] == 3 and back.json()["withdrawn"] is False
    assert len(await outbox_events(db)) == 3


async def test_withdraw_problems(client):
    unknown = await client.post("/v1/forecasts/00000000-0000-4000-8000-000000000000/withdraw")
    assert unknown.status_code == 404
    assert problem_fields(unknown) == [("forecast_id", "must_exist")]
    bad_id = await client.post("/v1/forecasts/not-a-uuid/withdraw")
    assert bad_id.status_code == 422 and problem_fields(bad_id)[0][0] == "forecast_id"
    forecast_id = (await client.post("/v1/forecasts", json=forecast(revision=4))).json()["forecast_id"]
    stale = await client.post(f"/v1/forecasts/{forecast_id}/withdraw", json={"revision": 3})
    assert stale.status_code == 409 and problem_fields(stale) == [("revision", "revision_must_increase")]


async def test_a_withdrawal_s_event_carries_the_id_of_its_key_a_forecast_of_before_identity1_too(
        client, db, token_issuer):
    """The withdrawal door takes only an id the service stored, which is its key's (`forecast_id_for`), and its
    event holds the same rule (`derived_from_key`, round 30a): no other id reaches the event (a 404, nothing
    recorded). A forecast stored before identity1 keeps the id of its organiser as sent then (`2120001234`, its
    migration 0005 respelled only the organiser): its withdrawal is published, its event decoded, never a 500."""
    unknown = forecast_id_for("2999", "s-9", "GRGRMAT01", ON_TIME_YEAR, "HT")  # a key's id, not stored
    missing = await client.post(f"/v1/forecasts/{unknown}/withdraw")
    assert missing.status_code == 404 and problem_fields(missing) == [("forecast_id", "must_exist")]

    token = token_issuer.mint(roles=["platform"], organisers=["212000-1234"], client_id="platform-old")
    headers = {"Authorization": f"Bearer {token}"}
    sent = await client.post("/v1/forecasts", json=forecast(organiser_id="212000-1234"), headers=headers)
    assert sent.status_code == 201, sent.text
    old = forecast_id_for("2120001234", "s-1", "GRGRMAT01", ON_TIME_YEAR, "HT")
    async with db.connect() as conn:  # as identity1 left it: the id of the spelling as sent then
        for table in ("forecast_revisions", "forecasts"):
            await conn.execute(text(f"UPDATE {table} SET forecast_id = :old WHERE forecast_id = :id"),
                               {"old": old, "id": UUID(sent.json()["forecast_id"])})
        await conn.commit()
    response = await client.post(f"/v1/forecasts/{old}/withdraw", headers=headers)
    assert response.status_code == 200, response.text
    withdrawn = (await outbox_events(db))[-1]  # decoded by the contracts, their id rule held
    assert withdrawn.type == "se.styrkedja.forecast.withdrawn.v1"
    assert (withdrawn.data.forecast_id, withdrawn.data.organiser_id) == (old, "212000-1234")


async def test_concurrent_identical_submissions_store_one_revision(client, db):
    responses = await asyncio.gather(*(client.post("/v1/forecasts", json=forecast()) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert len(await outbox_events(db)) == 1


async def test_concurrent_different_submissions_take_successive_revisions(client, db):
    values = ["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]
    responses = await asyncio.gather(*(client.post("/v1/forecasts", json=forecast(value=v)) for v in values))
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    stored_revisions = sorted(r.json()["revision"] for r in responses if r.status_code == 201)
    assert stored_revisions == list(range(1, len(stored_revisions) + 1))
    assert [e.data.revision for e in await outbox_events(db)] == stored_revisions


async def test_batch_names_every_bad_item(client, db):
    items = [forecast(student_id=f"s-{i}") for i in range(5)]
    items[1]["forecast_id"] = "00000000-0000-4000-8000-000000000001"  # not the derived id
    items[3] = forecast(student_id="s-0", value="NOT_REACHED")  # the same forecast as items.0
    response = await client.post("/v1/forecasts/batch", json={"items": items})
    assert response.status_code == 422
    assert set(problem_fields(response)) == {("items.1.forecast_id", "derived_from_key"),
                                             ("items.3.forecast_id", "unique_in_batch")}
    assert await outbox_events(db) == []


async def test_batch_and_single_answer_alike(client, db):
    """One write path: 201 when something was stored, 200 when nothing was."""
    items = [forecast(student_id=f"s-{i}") for i in range(3)]
    assert (await client.post("/v1/forecasts/batch", json={"items": items})).status_code == 201
    assert (await client.post("/v1/forecasts/batch", json={"items": items})).status_code == 200
    assert (await client.post("/v1/forecasts", json=items[0])).status_code == 200
    assert (await client.post("/v1/forecasts", json=forecast(student_id="s-9"))).status_code == 201


async def test_a_batch_sent_again_with_its_idempotency_key_is_answered_its_first_answer(client, db):
    """Failed on the old code: the batch door took no key — sent again it was answered 200 `unchanged` (ids derived
    from the content, nothing stored twice) but not its first answer, and the same key with another body was written
    as a new request. Now the first answer again (`Idempotent-Replayed: true`), another body under the key a 422
    naming the header, nothing stored."""
    items, keyed = [forecast(student_id="s-1"), forecast(student_id="s-2")], {"Idempotency-Key": "fc-batch-1"}
    first = await client.post("/v1/forecasts/batch", json={"items": items}, headers=keyed)
    assert first.status_code == 201 and first.json()["stored"] == 2, first.text
    again = await client.post("/v1/forecasts/batch", json={"items": items}, headers=keyed)
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, first.content, "true")
    changed = [items[0] | {"value": "NOT_REACHED"}, items[1]]
    reused = await client.post("/v1/forecasts/batch", json={"items": changed}, headers=keyed)
    assert reused.status_code == 422, reused.text
    assert problem_fields(reused) == [("Idempotency-Key", "idempotency_key_reused")]
    assert len(await outbox_events(db)) == 2
    # without a key, as ever: compared by the ids the content derives
    plain = await client.post("/v1/forecasts/batch", json={"items": items})
    assert (plain.status_code, plain.json()["unchanged"]) == (200, 2), plain.text
