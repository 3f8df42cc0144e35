"""A unit's list of self-assessments, a page at a time (follow-up of round 26).

Found and fixed (each test failed on the old code, as said at it):
- The list had no paging and read each draft's ratings with a query of its own: a client making drafts without end made
  every list answer grow with them (5,000 drafts: 1.6-2.3 s and 1.9 MB per list). Now a page of at most `limit`
  (1-1000, default 100) oldest first, the next named by `Link: <…&after=ID>; rel="next"` — `after` and `limit` as
  reporting's `/v1/directory/held` pages — and the ratings of a page counted in one query.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from styrkedja_devstack.access_matrix import role_token
from styrkedja_devstack.testing import problem_fields, use_token

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, UNIT = "2999", "29990011"
LIST = {"organiser_id": ORG, "school_unit_code": UNIT}
DRAFT = LIST | {"school_form": "grundskola", "respondent_role": "rektor", "catalogue_version": "2026.1"}


async def drafts(db, count: int, status: str = "DRAFT", ratings: int = 2) -> list[str]:
    """`count` self-assessments of the unit stored at once (a client's loop of creates, without its minutes), each
    `ratings` indicators rated, in list order."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with db.begin() as conn:
        base = (await conn.execute(text("SELECT coalesce(max(created_at), now()) FROM self_assessments"))).scalar()
        await conn.execute(text(
            "INSERT INTO self_assessments (self_assessment_id, organiser_id, school_unit_code, school_form, "
            "respondent_role, catalogue_version, status, origin, assessed_on, created_at, updated_at) "
            "SELECT id, :org, :unit, 'grundskola', 'rektor', '2026.1', :status, 'tool', '2026-10-01', "
            "CAST(:base AS timestamptz) + n * interval '1 millisecond', now() "
            "FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS t(id, n)"),
            {"ids": ids, "org": ORG, "unit": UNIT, "status": status, "base": base})
        await conn.execute(text(
            "INSERT INTO self_assessment_ratings (self_assessment_id, indicator_id, rating, updated_at) "
            "SELECT id, 'GR-LED-0' || k, 'PLANNED', now() FROM unnest(CAST(:ids AS uuid[])) AS id, "
            "generate_series(1, :ratings) AS k"), {"ids": ids, "ratings": ratings})
    return ids


def next_link(response) -> str | None:
    return response.links.get("next", {}).get("url")


async def test_the_list_comes_a_page_at_a_time_each_once_in_order(client, db):
    """Failed on the old code: `limit` was an unknown parameter (422), and the list had no end but the data's."""
    ids = await drafts(db, 7)
    seen, url, params, pages = [], "/v1/self-assessments", LIST | {"limit": 3}, 0
    while url:
        page = await client.get(url, params=params)
        assert page.status_code == 200, page.text
        assert len(page.json()) <= 3
        seen += [(s["self_assessment_id"], s["rated"]) for s in page.json()]
        url, params, pages = next_link(page), None, pages + 1
        assert url is None or url.startswith("/v1/self-assessments?") and "limit=3" in url, url
    assert seen == [(i, 2) for i in ids] and pages == 3


async def test_a_list_without_paging_parameters_is_a_bounded_first_page(client, db):
    """Failed on the old code: 150 drafts, 150 in the answer (5,000: 1.9 MB); now the first 100, and where the rest
    are."""
    ids = await drafts(db, 150)
    first = await client.get("/v1/self-assessments", params=LIST)
    assert [s["self_assessment_id"] for s in first.json()] == ids[:100]
    rest = await client.get(next_link(first))
    assert [s["self_assessment_id"] for s in rest.json()] == ids[100:] and next_link(rest) is None


async def test_a_page_asks_the_database_alike_for_few_drafts_and_many(client, db):
    """Failed on the old code: each draft's ratings were a query of their own (a page of 40 drafts: 40 more
    queries than a page of 1)."""
    statements: list[str] = []

    def counted(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    async def asked(limit: int) -> int:
        statements.clear()
        event.listen(Engine, "before_cursor_execute", counted)
        try:
            assert len((await client.get("/v1/self-assessments", params=LIST | {"limit": limit})).json()) == limit
        finally:
            event.remove(Engine, "before_cursor_execute", counted)
        return len(statements)

    await drafts(db, 40)
    assert await asked(40) == await asked(1)


async def test_a_page_is_of_what_the_caller_reads_never_empty_before_the_end(client, db, token_issuer):
    """Failed on the old code (limit refused); filtering after the limit, the organiser admin's page of a unit's
    private self-assessments was empty with a next page. A page holds `limit` the caller reads."""
    await drafts(db, 5, status="PRIVATE")
    readable = await drafts(db, 2)
    use_token(client, role_token(token_issuer, "organiser_admin", [ORG]))
    page = await client.get("/v1/self-assessments", params=LIST | {"limit": 1})
    assert [s["self_assessment_id"] for s in page.json()] == readable[:1]
    last = await client.get(next_link(page))
    assert [s["self_assessment_id"] for s in last.json()] == readable[1:] and next_link(last) is None


@pytest.mark.parametrize(("params", "expected"), [
    ({"limit": 0}, ("limit", "greater_than_equal")), ({"limit": 1001}, ("limit", "less_than_equal")),
    ({"limit": "ten"}, ("limit", "integer_format")), ({"after": "not-an-id"}, ("after", "uuid_format")),
    ({"after": str(uuid.uuid4())}, ("after", "listed_id")),
])
async def test_a_bad_page_is_a_422_naming_the_parameter_and_its_rule(client, db, params, expected):
    """Failed on the old code: `limit` and `after` were unknown parameters. An `after` no self-assessment of the unit
    is refused, never an empty last page (a client would stop there, the rest unread)."""
    other_unit = (await client.post("/v1/self-assessments", json=DRAFT | {"school_unit_code": "29990022"})).json()
    for asked in (params, {"after": other_unit["self_assessment_id"]}) if "listed_id" in expected else (params,):
        refused = await client.get("/v1/self-assessments", params=LIST | asked)
        assert refused.status_code == 422 and problem_fields(refused) == [expected], refused.text


async def test_drafts_made_in_the_same_microsecond_are_each_listed_once(client, db):
    """Ties in `created_at` (an import stores its self-assessments with one `now`; two creates can share a
    microsecond): the cursor is (`created_at`, id), so a page boundary inside the tie skips none and repeats none —
    and a draft stored meanwhile with the tie's time but an id after the cursor's comes on a later page."""
    ids = await drafts(db, 5)
    async with db.begin() as conn:
        await conn.execute(text("UPDATE self_assessments SET created_at = (SELECT min(created_at) FROM "
                                "self_assessments) WHERE self_assessment_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})
    in_order = sorted(ids)
    first = await client.get("/v1/self-assessments", params=LIST | {"limit": 2})
    assert [s["self_assessment_id"] for s in first.json()] == in_order[:2]
    # while paging: one more in the tie, after the cursor (the greatest id there is)
    late = "ffffffff-ffff-4fff-bfff-ffffffffffff"
    async with db.begin() as conn:
        await conn.execute(text(
            "INSERT INTO self_assessments (self_assessment_id, organiser_id, school_unit_code, school_form, "
            "respondent_role, catalogue_version, status, origin, assessed_on, created_at, updated_at) "
            "SELECT CAST(:id AS uuid), organiser_id, school_unit_code, school_form, respondent_role, catalogue_version, "
            "status, origin, assessed_on, created_at, updated_at FROM self_assessments "
            "WHERE self_assessment_id = CAST(:first AS uuid)"), {"id": late, "first": ids[0]})
    seen, url = [s["self_assessment_id"] for s in first.json()], next_link(first)
    while url:
        page = await client.get(url)
        seen += [s["self_assessment_id"] for s in page.json()]
        url = next_link(page)
    assert seen == [*in_order, late]
