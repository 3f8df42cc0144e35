"""Round 24 (c), the LIKA service's routes (see tests/test_hostile_round24c.py for the round)."""

from __future__ import annotations

import html
import io
import re
import zipfile

import pytest
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

DRAFT = {"organiser_id": "2999", "school_unit_code": "29990011", "school_form": "grundskola",
         "respondent_role": "rektor", "catalogue_version": "2026.1"}


async def final(client, action: str = "publish", **draft) -> str:
    """A self-assessment made final (`publish` or `keep-private`), every indicator rated: its id."""
    ids = [i["id"] for a in (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()[
        "areas"] for i in a["indicators"]]
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT | draft)).json()["self_assessment_id"]
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings",
                               json={"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in ids]})
    assert saved.status_code == 200, saved.text
    assert (await client.post(f"/v1/self-assessments/{sa_id}/{action}")).status_code == 200
    return sa_id


@pytest.mark.parametrize("action", ["publish", "keep-private"])
async def test_an_owner_longer_than_100_characters_once_formed_is_a_422_naming_it(client, action):
    """Failed on the old code: an owner of 100 characters that Unicode's NFC makes 200 (U+0958, a composition
    exclusion, is two characters in NFC) passed the length rule, which counted the text as sent, and was stored formed:
    a 500 (the column holds 100) for a private plan, a 422 naming `action_plan` (the event's rule) for a published
    one."""
    sa_id = await final(client, action)
    plan = f"/v1/self-assessments/{sa_id}/action-plan"
    target = (await client.get(plan)).json()["items"][0]["activity_id"]
    edited = await client.patch(f"{plan}/items/{target}", json={"owner": "\u0958" * 100})
    assert edited.status_code == 422, edited.text
    assert problem_fields(edited) == [("owner", "too_long")]
    fits = await client.patch(f"{plan}/items/{target}", json={"owner": "\u0958" * 50})
    assert fits.status_code == 200 and len(fits.json()["item"]["owner"]) == 100, fits.text


PUBLISHED = {"self_assessment_id": "0b7e6a52-3c1d-4f8e-9a2b-5d4c3b2a1f00", "organiser_id": "2999",
             "school_unit_code": "29990011", "school_form": "grundskola", "respondent_role": "rektor",
             "catalogue_version": "2026.1",
             "ratings": [{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED", "comment": "Plan"},
                         {"indicator_id": "GR-LED-02", "area": "ledning", "rating": "ACHIEVED"},
                         {"indicator_id": "GR-INF-01", "area": "infrastruktur", "rating": "PLANNED",
                          "comment": None}]}


async def test_an_import_sent_again_with_its_ratings_in_another_order_is_the_same_self_assessment(client, db):
    """Failed on the old code: the same self-assessment sent again by the other tool with its ratings listed in
    another order (a tool building them from a map: Go's, a JSON object's keys) was a 409 `published_is_final`, "a
    different self-assessment is already stored under this id": ratings are one per indicator, their order says
    nothing."""
    first = await client.post("/v1/self-assessments/published", json=PUBLISHED)
    assert first.status_code == 201, first.text
    for ratings in (PUBLISHED["ratings"][::-1], [{k: v for k, v in r.items() if v is not None}
                                                 for r in PUBLISHED["ratings"][1:] + PUBLISHED["ratings"][:1]]):
        again = await client.post("/v1/self-assessments/published", json=PUBLISHED | {"ratings": ratings})
        assert (again.status_code, again.json()["status"]) == (200, "unchanged"), again.text
    changed = PUBLISHED["ratings"][::-1]
    changed[0] = changed[0] | {"rating": "ACHIEVED"}
    other = await client.post("/v1/self-assessments/published", json=PUBLISHED | {"ratings": changed})
    assert other.status_code == 409 and problem_fields(other) == [("self_assessment_id", "published_is_final")]


def as_a_spreadsheet_shows(xlsx: bytes) -> list[str]:
    """Every text of the workbook's first sheet as Excel and LibreOffice show it: `_xHHHH_` is the character HHHH
    (ECMA-376 ST_Xstring), which openpyxl's reading does not decode."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        sheet = archive.read(sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))[0])
    texts = [html.unescape(t) for t in re.findall(r"<t[^>]*>(.*?)</t>", sheet.decode(), re.S)]
    return [re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), t) for t in texts]


async def test_a_comment_is_exported_as_typed_even_where_it_looks_like_an_escape(client):
    """Failed on the old code: a comment holding `_x0041_` (or `_x000D_`) was written to the xlsx as it is, which
    Excel and LibreOffice show as "A" (a carriage return): the export that keeps every comment showed another one."""
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    comment = "Filen heter plan_x0041_v2 och rad_x000D_2; __x0042__ och _X0043_ står kvar"
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings", json={"ratings": [
        {"indicator_id": "GR-LED-01", "rating": "STARTED", "comment": comment}]})
    assert saved.status_code == 200, saved.text
    export = await client.get(f"/v1/self-assessments/{sa_id}/export.xlsx")
    assert export.status_code == 200, export.text
    assert comment in as_a_spreadsheet_shows(export.content)


async def test_an_action_plan_at_the_last_database_integer_is_a_409_not_a_500(client, db):
    """Failed on the old code: the edit's next revision overflowed the column in the database (a 500). Every fact a
    service numbers says so alike: 409 `revisions_exhausted` naming `revision` (the kit's `following_revision`)."""
    sa_id = await final(client, "keep-private")
    plan = f"/v1/self-assessments/{sa_id}/action-plan"
    target = (await client.get(plan)).json()["items"][0]["activity_id"]
    async with db.begin() as conn:
        await conn.execute(text(f"UPDATE action_plans SET revision = {2**31 - 1}"))
    edited = await client.patch(f"{plan}/items/{target}", json={"status": "done"})
    assert edited.status_code == 409 and problem_fields(edited) == [("revision", "revisions_exhausted")], edited.text
    assert (await client.get(plan)).json()["items"][0]["status"] == "planned"  # nothing written


@pytest.mark.parametrize(("action", "status", "other"), [("publish", "PUBLISHED", "keep-private"),
                                                         ("keep-private", "PRIVATE", "publish")])
async def test_the_same_publish_or_keep_private_again_is_answered_as_the_first(client, db, action, status, other):
    """Failed on the old code: a client's retry of its publish (after a timeout: the first had made it final) was a
    409 `final`, "can no longer be published; start a new self-assessment for a new round" — telling a client whose
    publish had succeeded that it had not. Now 200 with the self-assessment as it stands, no second event; the other
    action, or another start term than the plan's, is still the 409."""
    sa_id = await final(client, action)
    events = await testing.outbox_events(db, "styrkedja.lika")
    first = await client.get(f"/v1/self-assessments/{sa_id}")
    for body in (None, {}, {"start_term": (await client.get(
            f"/v1/self-assessments/{sa_id}/action-plan")).json()["start_term"]}):
        again = await client.post(f"/v1/self-assessments/{sa_id}/{action}", json=body)
        assert (again.status_code, again.json()["status"]) == (200, status), again.text
        assert again.json() == first.json()
    for path, body in ((other, None), (action, {"start_term": "VT 2031/32"})):
        refused = await client.post(f"/v1/self-assessments/{sa_id}/{path}", json=body)
        assert refused.status_code == 409 and problem_fields(refused) == [("self_assessment_id", "final")], \
            refused.text
    assert len(await testing.outbox_events(db, "styrkedja.lika")) == len(events)


async def test_a_drafts_day_and_a_plans_start_term_are_the_schools_not_utcs(client, swedish_midsummer_night):
    """Failed on the old code: at 00:30 on 1 July in Sweden (22:30 UTC on 30 June) a draft was dated 30 June and its
    plan started in VT 2026/27, a term already over: the day was UTC's, not the school's."""
    sa_id = await final(client, "publish")
    assert (await client.get(f"/v1/self-assessments/{sa_id}")).json()["assessed_on"] == "2027-07-01"
    assert (await client.get(f"/v1/self-assessments/{sa_id}/action-plan")).json()["start_term"] == "HT 2027/28"


async def test_an_activity_stored_before_a_rule_of_the_event_is_named_and_can_be_mended(client, db):
    """Failed on the old code: an activity whose tags were stored before a rule of today's event (a zero-width space,
    two tags that are one once formed) made every edit of the published plan a 422 naming `action_plan` and `tags.0`,
    whichever activity was edited: the client could not tell which activity to mend. Now a 409 naming that activity
    and its field; editing it mends it, and the plan can be edited again."""
    sa_id = await final(client, "publish")
    plan = f"/v1/self-assessments/{sa_id}/action-plan"
    first, stale = [i["activity_id"] for i in (await client.get(plan)).json()["items"][:2]]
    async with db.begin() as conn:  # as stored before the name rules
        await conn.execute(text("UPDATE action_plan_items SET tags = CAST(:tags AS jsonb) WHERE activity_id = :id"),
                           {"tags": '["Skola\\u200b", "wifi"]', "id": stale})
    edited = await client.patch(f"{plan}/items/{first}", json={"status": "done"})
    assert edited.status_code == 409, edited.text
    assert problem_fields(edited) == [(f"items.{stale}.tags.0", "no_invisible_characters")]
    mended = await client.patch(f"{plan}/items/{stale}", json={"tags": ["Skola", "wifi"]})
    assert mended.status_code == 200, mended.text
    assert (await client.patch(f"{plan}/items/{first}", json={"status": "done"})).status_code == 200
