"""A page of the alert list read place by place (round 31, alertidx31): for each kind of reader that reads alerts
(the organiser admin, an area manager, a principal, a teacher, a teacher that is also a principal of its group's
unit — the politician reads none), the statement of a page reads its rows from the indexes of the list's order
within each place (`ix_alerts_*_newest`), at most `limit` + 1 of each, however many alerts the places hold — and its
pages, one after another, answer exactly the whole list (same rows, same order, none twice)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import insert, text

from styrkedja_reporting.alerts.queries import AlertScope, list_alerts, list_query
from styrkedja_reporting.alerts.tables import alerts

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER = "2999", "0180"
T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
FIGURES = {"students": 12, "compared_students": 12, "share": 0.5, "compared_share": 1.0, "change_points": -50.0,
           "threshold_points": 10.0}
#: (organiser, level, unit_id, school_unit_code): the places the alerts are raised at
PLACES = [(ORG, "group", "11111111:7A", "11111111"), (ORG, "group", "11111111:7B", "11111111"),
          (ORG, "school_unit", "11111111", "11111111"), (ORG, "area", "north", None),
          (ORG, "group", "22222222:7A", "22222222"), (ORG, "school_unit", "22222222", "22222222"),
          (ORG, "area", "south", None), (ORG, "organiser", ORG, None),
          (OTHER, "school_unit", "33333333", "33333333"), (OTHER, "group", "33333333:1A", "33333333")]
READERS = {
    "organiser_admin": AlertScope(organiser_ids=frozenset({ORG})),
    "organiser_admin_of_two": AlertScope(organiser_ids=frozenset({ORG, OTHER})),
    "area_manager": AlertScope(organiser_ids=frozenset({ORG}), school_unit_codes=frozenset({"11111111"}),
                               area_ids=frozenset({"north"})),
    "principal": AlertScope(organiser_ids=frozenset({ORG}), school_unit_codes=frozenset({"11111111"})),
    "teacher": AlertScope(organiser_ids=frozenset({ORG}), school_unit_codes=frozenset(),
                          group_unit_ids=frozenset({"11111111:7A", "22222222:7A"})),
    # its group's alerts are also its unit's: each once
    "teacher_and_principal": AlertScope(organiser_ids=frozenset({ORG}), school_unit_codes=frozenset({"11111111"}),
                                        group_unit_ids=frozenset({"11111111:7A", "22222222:7A"})),
}


def _alerts(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` alerts over the places, three at each moment (ties broken by id), a third of them resolved."""
    rnd = random.Random(seed)
    rows = []
    for n in range(count):
        organiser, level, unit_id, code = PLACES[rnd.randrange(len(PLACES))]
        at = T0 + timedelta(minutes=n // 3)
        rows.append(dict(alert_id=uuid4(), organiser_id=organiser, level=level, unit_id=unit_id,
                         school_unit_code=code, subject_code="GRGRMAT01", year=None, school_year="2026/27", term=None,
                         round=2, rule="pass_share_drop", status="resolved" if n % 3 == 0 else "open", episode=1,
                         raised_at=at, changed_at=at, figures=FIGURES))
    return rows


async def _stored(db: Any, count: int, seed: int) -> None:
    async with db.sessions.begin() as session:
        await session.execute(insert(alerts), _alerts(count, seed))
        await session.execute(text("ANALYZE alerts"))


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("filters", [{}, {"status": "open"}, {"level": "group", "organiser_id": ORG}],
                         ids=["all", "open", "groups"])
async def test_the_pages_read_place_by_place_answer_the_whole_list(db, reader, filters):
    """Paged 7 at a time from the first page: the whole list (one statement, no limit, every candidate sorted), row
    for row — ties at one moment, a group alert in two of the reader's places, two organisers."""
    await _stored(db, 400, seed=31)
    scope = READERS[reader]
    async with db.snapshot() as session:
        whole = [row.alert_id for row in await list_alerts(session, filters, scope, None)]
        paged: list[Any] = []
        after = None
        for _ in range(200):
            page = await list_alerts(session, filters, scope, 7, after)
            paged += [row.alert_id for row in page]
            if len(page) < 7:
                break
            after = page[-1].changed_at, page[-1].alert_id
    assert whole and paged == whole


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("reader", sorted(READERS))
async def test_a_page_reads_at_most_limit_rows_of_each_place_however_many_alerts_it_holds(db, reader):
    """EXPLAIN ANALYZE of a first page and of a page after a position in the middle, 3,000 alerts: every node reading
    the alerts table is an index scan returning at most `limit` + 1 rows a loop (a loop per place, or a row by id).
    Failed before (alertidx31): a bitmap heap scan of every candidate of the organiser — 1,500–3,000 rows a page —
    then a sort; and without the indexes, the same statement read each place by a sequential scan."""
    await _stored(db, 12000, seed=32)
    scope, limit = READERS[reader], 10
    async with db.snapshot() as session:
        middle = (await list_alerts(session, {}, scope, None))[600]
        conn = await session.connection()
        for after in (None, (middle.changed_at, middle.alert_id)):
            query = list_query({}, scope, limit + 1, after)
            assert query is not None
            compiled = query.compile(dialect=conn.dialect)
            answer = await conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled),
                                                tuple(compiled.params[k] for k in compiled.positiontup or ()))
            found = answer.scalar_one()
            [plan] = json.loads(found) if isinstance(found, str) else found
            read = [node for node in _nodes(plan["Plan"]) if node.get("Relation Name") == "alerts"]
            assert read, plan
            for node in read:
                assert node["Node Type"] in ("Index Scan", "Index Only Scan"), (after, node)
                assert node["Actual Rows"] <= limit + 1, (after, node)
