"""Round 26, the LIKA service's domain rules as a principal, another school's principal, an organiser admin and a
hostile client see them.

Found and fixed (each test failed on the old code, as said at it):
- A self-assessment's id told whoever held it that it exists, and whose it is: every route naming one answered an id
  never stored with a 404 and another organiser's or unit's (or a private one, to the organiser admin) with a 403 —
  a write's naming that self-assessment's school unit and organiser. Now what the caller may not read is answered as
  an id never stored, on every route that names one (and on the comparison, naming its `first` or `second`); a 403
  is left for what the caller sees but may not change.
- The action plan's `?tag=` (and its to-do export's) found a tag only in the case it was typed, where `?owner=` and
  reporting's compilation of the same plan find either in any case: the unit's to-do list and its organiser's
  disagreed; and "IT" and "it" were two tags of one activity. Now a tag is one tag in any case, as an owner is
  (`action_plans.rules.folded`, reporting's caseless match).
- A personal identity number in a draft's comment was named `personal_identity_number` (the LIKA domain's word), in
  the same comment imported, in a note and at every other door `no_personal_identity_number` (the contracts'
  `PIN_RULE`, as docs/platforms.md lists it). Now the one name.
- Two edits of one activity made from the same reading of the plan: the later silently overwrote the earlier (a lost
  update); an edit had no way to name the revision it was made on. Now it may (`revision`): another edit since is a
  409 `revision_changed`, nothing changed, no event.
- The exports' "Publicerad" was the UTC time written as a local one: 00:30 on 1 July in Sweden read 30 June 22:30, a
  day before the self-assessment's own "Värderingsdatum" and in another school year than reporting's compilation
  counts it. Now the school's time.
- The organiser admin could keep a unit's draft private: a private self-assessment is the unit's alone, so the
  admin's answer was the last it could read of it (its retry: "no such self-assessment"), and the unit found its
  draft hidden from its organiser by another than itself. Now only the unit keeps its self-assessment private
  (least privilege; 403 `unit_only`).
- An indicator rated twice in one body: the save named it `ratings.1` / `duplicate_rating`, the import
  `ratings.1.indicator_id` / `unique_indicator`. Now the import's answer at both doors.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from styrkedja_devstack.access_matrix import role_token
from styrkedja_devstack.testing import problem_fields, use_token

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER_ORG = "2999", "1480"
UNIT, SIBLING = "29990011", "29990022"
DRAFT = {"organiser_id": ORG, "school_unit_code": UNIT, "school_form": "grundskola", "respondent_role": "rektor",
         "catalogue_version": "2026.1"}


async def indicator_ids(client) -> list[str]:
    body = (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()
    return [i["id"] for area in body["areas"] for i in area["indicators"]]


async def made(client, ids: list[str], action: str | None, **draft) -> str:
    """A draft of every indicator rated, made final by `action` (`publish`, `keep-private`; None: left a draft)."""
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT | draft)).json()["self_assessment_id"]
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings",
                               json={"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in ids]})
    assert saved.status_code == 200, saved.text
    if action:
        assert (await client.post(f"/v1/self-assessments/{sa_id}/{action}")).status_code == 200
    return sa_id


def requests(sa_id: str, indicator: str, activity: str) -> list[tuple[str, str, dict | None]]:
    """Every request that names a self-assessment by its id."""
    base = f"/v1/self-assessments/{sa_id}"
    return [("GET", base, None), ("GET", f"{base}/export.xlsx", None), ("GET", f"{base}/action-plan", None),
            ("GET", f"{base}/action-plan/export.xlsx", None),
            ("PATCH", f"{base}/ratings", {"ratings": [{"indicator_id": indicator, "rating": "STARTED"}]}),
            ("DELETE", f"{base}/ratings/{indicator}", None), ("POST", f"{base}/publish", {}),
            ("POST", f"{base}/keep-private", {}),
            ("PATCH", f"{base}/action-plan/items/{activity}", {"status": "done"})]


def cells(content: bytes) -> set[object]:
    """Every value of the workbook's cells."""
    book = load_workbook(io.BytesIO(content))
    return {cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row}


def answer(response, sa_id: str) -> tuple[int, str, str]:
    """What a response tells: its status and its problem, the id it was asked about written as `ID`."""
    return response.status_code, response.headers.get("content-type", ""), response.text.replace(sa_id, "ID")


#: (caller, what it asks about): another organiser's principal and another unit's, each of a draft, a published and a
#: private one; the organiser admin of a private one (it reads its organiser's others)
CASES = [(caller, action) for caller in ("other organiser", "other unit") for action in ("publish", "keep-private", None)
         ] + [("organiser admin", "keep-private")]


@pytest.mark.parametrize(("caller", "action"), CASES)
async def test_a_self_assessment_the_caller_may_not_read_is_answered_as_one_never_stored(
        client, token_issuer, action, caller):
    """Failed on the old code: a 403 (`out_of_scope`; a write's `not_owner` "this token may not change the
    self-assessments of school unit 29990011 of organiser 2999") where an id never stored is a 404 `not_found`: the
    answer told another organiser's principal that the id is a self-assessment, and whose."""
    ids = await indicator_ids(client)
    sa_id = await made(client, ids, action)
    plan = (await client.get(f"/v1/self-assessments/{sa_id}/action-plan")).json() if action else {}
    activity = plan["items"][0]["activity_id"] if plan else "GR-LED-01-A1"
    use_token(client, {"other organiser": role_token(token_issuer, "principal", [OTHER_ORG], school_units=[UNIT]),
                       "other unit": role_token(token_issuer, "principal", [ORG], school_units=[SIBLING]),
                       "organiser admin": role_token(token_issuer, "organiser_admin", [ORG])}[caller])
    never = str(uuid.uuid4())
    for method, path, body in requests(sa_id, ids[0], activity):
        theirs = await client.request(method, path, json=body)
        none = await client.request(method, path.replace(sa_id, never), json=body)
        assert answer(theirs, sa_id) == answer(none, never), (method, path)
        assert theirs.status_code == 404 and UNIT not in theirs.text, theirs.text
    theirs = await client.get("/v1/self-assessments/compare", params={"first": sa_id, "second": sa_id})
    nones = await client.get("/v1/self-assessments/compare", params={"first": never, "second": never})
    assert answer(theirs, sa_id) == answer(nones, never) and theirs.status_code == 404, theirs.text


async def test_a_tag_is_one_tag_in_any_case_as_the_organisers_compilation_reads_it(client):
    """Failed on the old code: the plan's `?tag=` found a tag in the case it was typed only ("Nätverk", not
    "nätverk"), where its `?owner=` and reporting's compilation of the same plan (`/v1/lika/compilation/activities
    ?tag=`: "any case, however its letters are typed") find it in any: a unit's to-do list and its organiser's
    disagreed. And an activity took "IT" and "it" as two tags, one to every filter."""
    ids = await indicator_ids(client)
    sa_id = await made(client, ids, "publish")
    plan = f"/v1/self-assessments/{sa_id}/action-plan"
    target = (await client.get(plan)).json()["items"][0]["activity_id"]
    twice = await client.patch(f"{plan}/items/{target}", json={"tags": ["IT", "it"]})
    assert twice.status_code == 422 and problem_fields(twice) == [("tags", "unique_tags")], twice.text
    edited = await client.patch(f"{plan}/items/{target}", json={"tags": ["Nätverk", "ÅTGÄRD"]})
    assert edited.status_code == 200, edited.text
    for tag in ("Nätverk", "nätverk", "NA\u0308TVERK", "åtgärd", "a\u030atga\u0308rd"):
        found = await client.get(plan, params={"tag": tag})
        assert [i["activity_id"] for i in found.json()["items"]] == [target], (tag, found.text[:300])
        exported = await client.get(f"{plan}/export.xlsx", params={"tag": tag})
        assert exported.status_code == 200 and target in cells(exported.content), tag


async def test_a_personal_identity_number_in_a_comment_is_named_by_the_one_rule_every_door_names_it_by(client):
    """Failed on the old code: a draft's save named it `personal_identity_number` (the LIKA domain's own word), where
    the import of the same comment, an action plan's note and every other door of every service name it
    `no_personal_identity_number` (the contracts' `PIN_RULE`, docs/platforms.md): a client that acts on that rule
    (asks the user to remove the number) missed it on LIKA's save."""
    ids = await indicator_ids(client)
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    comment = "Se 19900101-0017"
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings", json={"ratings": [
        {"indicator_id": ids[0], "rating": "PLANNED", "comment": comment}]})
    imported = await client.post("/v1/self-assessments/published", json=DRAFT | {"ratings": [
        {"indicator_id": ids[0], "area": "ledning", "rating": "PLANNED", "comment": comment}]})
    assert problem_fields(saved) == problem_fields(imported) == [("ratings.0.comment", "no_personal_identity_number")]
    assert "0017" not in saved.text + imported.text


async def test_two_edits_made_on_one_revision_of_the_plan_lose_neither(client, db):
    """Failed on the old code: two people editing one activity from the same reading of the plan (both at revision
    2) — the later edit silently overwrote the earlier (a lost update), and an edit could not say which revision it
    was made on (`revision` in the body was a 422 `extra_forbidden`). Now an edit may name the plan's revision it
    was made on: another edit since is a 409 `revision_changed` naming `revision`, nothing changed, no event."""
    ids = await indicator_ids(client)
    sa_id = await made(client, ids, "publish")
    plan = f"/v1/self-assessments/{sa_id}/action-plan"
    read = (await client.get(plan)).json()
    target, revision = read["items"][0]["activity_id"], read["revision"]
    first = await client.patch(f"{plan}/items/{target}", json={"note": "Anna tar det", "revision": revision})
    assert first.status_code == 200 and first.json()["revision"] == revision + 1, first.text
    events = await plan_events(db)
    second = await client.patch(f"{plan}/items/{target}", json={"note": "Bertil tar det", "revision": revision})
    assert second.status_code == 409 and problem_fields(second) == [("revision", "revision_changed")], second.text
    after = (await client.get(plan)).json()
    assert (after["revision"], after["items"][0]["note"]) == (revision + 1, "Anna tar det")
    assert await plan_events(db) == events
    again = await client.patch(f"{plan}/items/{target}", json={"note": "Bertil tar det", "revision": revision + 1})
    assert again.status_code == 200 and again.json()["revision"] == revision + 2, again.text
    unnamed = await client.patch(f"{plan}/items/{target}", json={"status": "done"})  # as before: applies to the newest
    assert unnamed.status_code == 200 and unnamed.json()["revision"] == revision + 3, unnamed.text
    for wrong in (0, -1, "3", 3.0, True, 2**31):
        refused = await client.patch(f"{plan}/items/{target}", json={"status": "dropped", "revision": wrong})
        assert refused.status_code == 422 and [f for f, _ in problem_fields(refused)] == ["revision"], wrong
    alone = await client.patch(f"{plan}/items/{target}", json={"revision": revision + 3})
    assert alone.status_code == 422 and problem_fields(alone) == [("body", "nothing_to_change")], alone.text


async def plan_events(db) -> int:
    async with db.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM outbox WHERE position('action_plan_changed' in convert_from(payload, 'UTF8')) > 0"))
                ).scalar_one()


@pytest.mark.parametrize("export", ["export.xlsx", "action-plan/export.xlsx"])
async def test_an_export_gives_the_time_of_publication_in_the_schools_time(client, db, export):
    """Failed on the old code: the workbook's "Publicerad" was the time in UTC written as a local time (a spreadsheet
    has no time zones): published at 00:30 on 1 July in Sweden, it said 30 June 22:30 — a day before its own
    "Värderingsdatum" (the school's day), in the school year before the one reporting's compilation of the same
    self-assessment counts it in (`published_on`, Swedish time)."""
    ids = await indicator_ids(client)
    sa_id = await made(client, ids, "publish")
    async with db.begin() as conn:
        await conn.execute(text("UPDATE self_assessments SET published_at = '2026-06-30T22:30:00Z', "
                                "assessed_on = '2026-07-01' WHERE self_assessment_id = :id"), {"id": sa_id})
    exported = await client.get(f"/v1/self-assessments/{sa_id}/{export}")
    assert exported.status_code == 200, exported.text
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    about = {row[0].value: row[1].value for row in sheet.iter_rows(max_col=2) if row[0].value}
    assert about["Publicerad"] == datetime(2026, 7, 1, 0, 30), about
    assert about["Värderingsdatum"] == datetime(2026, 7, 1)


async def test_only_the_unit_keeps_its_self_assessment_private(client, token_issuer, db):
    """Failed on the old code: the organiser admin could keep a unit's draft private — a private self-assessment is
    the unit's alone, so the admin's own answer (200, every rating and comment) was the last it could read of it: the
    same keep-private again (a retry after a timeout, answered as the first for the unit) said the self-assessment
    did not exist, and the unit found its draft final, hidden from its organiser by another than itself. Now keeping
    private is the unit's own act (its principal or ICT coordinator): the organiser admin's is a 403 `unit_only`,
    nothing changed; it still publishes."""
    ids = await indicator_ids(client)
    sa_id = await made(client, ids, None)
    other = await made(client, ids, None)
    use_token(client, role_token(token_issuer, "organiser_admin", [ORG]))
    refused = await client.post(f"/v1/self-assessments/{sa_id}/keep-private")
    assert refused.status_code == 403 and problem_fields(refused) == [("school_unit_code", "unit_only")], refused.text
    assert "PLANNED" not in refused.text
    assert (await client.get(f"/v1/self-assessments/{sa_id}")).json()["status"] == "DRAFT"
    assert (await client.post(f"/v1/self-assessments/{other}/publish")).status_code == 200
    use_token(client, role_token(token_issuer, "ict_coordinator", [ORG], school_units=[UNIT]))
    kept = await client.post(f"/v1/self-assessments/{sa_id}/keep-private")
    assert kept.status_code == 200 and kept.json()["status"] == "PRIVATE", kept.text
    assert (await client.post(f"/v1/self-assessments/{sa_id}/keep-private")).status_code == 200


async def test_an_indicator_rated_twice_in_one_body_is_named_alike_at_both_doors(client):
    """Failed on the old code: a draft's save named it `ratings.1` / `duplicate_rating`, the import of the same
    ratings `ratings.1.indicator_id` / `unique_indicator`: one mistake, two answers a client must know."""
    ids = await indicator_ids(client)
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    twice = [{"indicator_id": ids[0], "rating": "PLANNED"}, {"indicator_id": ids[0], "rating": "STARTED"}]
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings", json={"ratings": twice})
    imported = await client.post("/v1/self-assessments/published", json=DRAFT | {
        "ratings": [r | {"area": "ledning"} for r in twice]})
    assert problem_fields(saved) == problem_fields(imported) == [("ratings.1.indicator_id", "unique_indicator")]
