"""Follow-ups of round 26: a comment saying nothing, and a rating off the scale, answered alike at both doors.

Found and fixed (each test failed on the old code, as said at it):
- An empty or blank comment ("", spaces, line breaks) was stored as given, and so was a note: a comment "there" that
  says nothing, exported as a cell that looks empty and is not. LIKA's rule for optional text typed by people is
  the owner's and a tag's (and the kit's for an optional query parameter): it says something, or it is left out
  (`null`) — else 422 `not_blank` naming the field. Now for comments (at a save and at the import door, the same
  field path) and notes too.
- A rating off the scale was `not_on_scale` at a save and `enum` at the import door: one mistake, two codes. Now
  the save's (the domain's rule) at both, naming `ratings.N.rating`.
"""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, UNIT = "2999", "29990011"
DRAFT = {"organiser_id": ORG, "school_unit_code": UNIT, "school_form": "grundskola", "respondent_role": "rektor",
         "catalogue_version": "2026.1"}
BLANK = ["", " ", "   ", "\n", " \r\n\t ", "\u00a0", "\u3000\u200b"]


async def leadership(client) -> list[str]:
    """The indicators of area `ledning`."""
    body = (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()
    return [i["id"] for area in body["areas"] if area["id"] == "ledning" for i in area["indicators"]]


async def first_indicator(client) -> str:
    return (await leadership(client))[0]


@pytest.mark.parametrize("comment", BLANK)
async def test_a_comment_saying_nothing_is_refused_alike_at_a_save_and_at_the_import(client, comment):
    """Failed on the old code: a save and an import stored the blank comment as given (200, 201)."""
    indicator = await first_indicator(client)
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    rated = {"indicator_id": indicator, "rating": "PLANNED"}
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings", json={"ratings": [rated | {"comment": comment}]})
    imported = await client.post("/v1/self-assessments/published", json=DRAFT | {
        "ratings": [rated | {"area": "ledning", "comment": comment}]})
    assert saved.status_code == imported.status_code == 422, (saved.text, imported.text)
    assert problem_fields(saved) == problem_fields(imported) == [("ratings.0.comment", "not_blank")]
    assert (await client.get(f"/v1/self-assessments/{sa_id}")).json()["ratings"] == []
    # a comment left out, or null, is no comment; one that says something is kept as written, line breaks and all
    for kept, stored in ((None, None), ("Plan finns.\n\n  Beslut i dec.  ", "Plan finns.\n\n  Beslut i dec.  ")):
        again = await client.patch(f"/v1/self-assessments/{sa_id}/ratings",
                                   json={"ratings": [rated | {"comment": kept}]})
        assert again.status_code == 200 and again.json()["ratings"][0]["comment"] == stored, again.text


@pytest.mark.parametrize("note", ["", "  \n "])
async def test_a_note_saying_nothing_is_refused_as_a_comment_is(client, note):
    """Failed on the old code: the note was stored as given (200)."""
    body = (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()
    every = [i["id"] for area in body["areas"] for i in area["indicators"]]
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    await client.patch(f"/v1/self-assessments/{sa_id}/ratings",
                       json={"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in every]})
    assert (await client.post(f"/v1/self-assessments/{sa_id}/publish")).status_code == 200
    activity = (await client.get(f"/v1/self-assessments/{sa_id}/action-plan")).json()["items"][0]["activity_id"]
    edited = await client.patch(f"/v1/self-assessments/{sa_id}/action-plan/items/{activity}", json={"note": note})
    assert edited.status_code == 422 and problem_fields(edited) == [("note", "not_blank")], edited.text


@pytest.mark.parametrize(("rating", "rule"), [
    ("GREAT", "not_on_scale"), ("planned", "not_on_scale"), ("PLANNED ", "not_on_scale"),
    # no text of a rating's length: pydantic's string rules, alike at both doors
    ("", "string_too_short"), ("X" * 33, "string_too_long"), (3, "string_type"), (None, "string_type")])
async def test_a_rating_off_the_scale_is_named_alike_at_a_save_and_at_the_import(client, rating, rule):
    """Failed on the old code: the import answered each `enum`, where a save names the rule broken (`not_on_scale`,
    the domain's, for a word off the scale)."""
    first, second = (await leadership(client))[:2]
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    ratings = [{"indicator_id": first, "rating": "PLANNED"}, {"indicator_id": second, "rating": rating}]
    saved = await client.patch(f"/v1/self-assessments/{sa_id}/ratings", json={"ratings": ratings})
    imported = await client.post("/v1/self-assessments/published", json=DRAFT | {
        "ratings": [r | {"area": "ledning"} for r in ratings]})
    assert saved.status_code == imported.status_code == 422, (saved.text, imported.text)
    assert problem_fields(saved) == problem_fields(imported) == [("ratings.1.rating", rule)]
    assert saved.json()["errors"] == imported.json()["errors"]
    if rule == "not_on_scale":
        assert f"{rating!r} is not on the scale (NOT_PLANNED, PLANNED, STARTED, ALMOST_THERE, ACHIEVED, NOT_RELEVANT)" \
            in imported.text
