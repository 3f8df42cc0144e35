"""The alert list and the audit trail page by keyset, as LIKA's list does (round 30a): a first page without `after`,
each next named by `Link: rel="next"`, none on the last. Before, both answered `limit` rows and no more: a client
could not read past the first page (the alerts beyond 5,000, the reads beyond 10,000), and no offset would have
held still while alerts were raised and reads recorded.

Paged through while rows arrive between the pages — newest (before the first page), in the middle of the order,
at the same moment as a page's last row with a smaller and a greater id, and oldest — every row there at the start
is seen exactly once, none twice, and each arriving behind the page read last is seen too."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Engine

from styrkedja_kit.db import Database
from styrkedja_kit.paging import cursor_of
from styrkedja_reporting.access.tables import audit_reads
from styrkedja_reporting.alerts.tables import alerts

from .test_alert_scope import ORG, PLACES, _bearer
from .test_directory import Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
FIGURES = {"students": 12, "compared_students": 12, "share": 0.5, "compared_share": 1.0, "change_points": -50.0,
           "threshold_points": 10.0}


def _alert(alert_id: UUID, changed_at: datetime, n: int) -> dict[str, Any]:
    level, unit_id, code = PLACES[n % len(PLACES)]
    return dict(alert_id=alert_id, organiser_id=ORG, level=level, unit_id=unit_id, school_unit_code=code,
                subject_code="GRGRMAT01", year=None, school_year="2026/27", term=None, round=2,
                rule="pass_share_drop", status="open", episode=1, raised_at=changed_at, changed_at=changed_at,
                figures=FIGURES)


def _next(answer: Any) -> str | None:
    """The `after` the answer's `Link: rel="next"` names, checked as a link to the same read."""
    link = answer.links.get("next", {}).get("url")
    if link is None:
        return None
    parts = urlsplit(link)
    assert not parts.netloc and parts.path == answer.request.url.path, link
    query = parse_qs(parts.query)
    assert all(query[k] == v for k, v in parse_qs(answer.request.url.query.decode()).items() if k != "after"), link
    [after] = query["after"]
    return after


async def _page_through(client: Any, path: str, params: dict[str, Any], headers: dict[str, str], key: str,
                        between: Any) -> list[Any]:
    """Every page of a read, `between(last row)` run after each; the rows' `key`s in the order read."""
    seen: list[Any] = []
    after = None
    for _ in range(1000):
        answer = await client.get(path, params={**params, **({"after": after} if after else {})}, headers=headers)
        assert answer.status_code == 200, answer.text
        rows = answer.json()
        seen += [row[key] for row in rows]
        after = _next(answer)
        if after is None:
            return seen
        assert rows, "a next page named after an empty one"
        await between(rows[-1])
    raise AssertionError("no last page")


@pytest.fixture
async def database(settings):
    database = Database(settings.database_url)
    await Feeder(database)(directory())
    yield database
    await database.dispose()


@pytest.mark.parametrize("reader", ["organiser_admin", "principal"])
async def test_the_alert_list_pages_every_alert_exactly_once_while_alerts_arrive(database, bare_client, token_issuer,
                                                                               reader):
    """The organiser admin's list (the limit in SQL) and a principal's (each row judged at its own level, then the
    page cut). Failed on the old code: no `Link` on the first page (and `after` an unknown parameter)."""
    rnd = random.Random(30)
    first = [_alert(uuid4(), T0 + timedelta(minutes=n // 3), n) for n in range(60)]  # three at each moment
    async with database.sessions.begin() as session:
        await session.execute(insert(alerts), first)
    headers = _bearer(token_issuer, roles=[reader], **({"school_units": ["11111111"]} if reader == "principal"
                                                        else {}))
    readable = {a["alert_id"] for a in first if reader == "organiser_admin" or a["school_unit_code"] == "11111111"}
    arrived_behind: set[UUID] = set()
    arrived_before: set[UUID] = set()

    async def arrive(last: dict[str, Any]) -> None:
        at = datetime.fromisoformat(last["changed_at"])
        last_id = UUID(last["alert_id"])
        low, high = UUID(int=0), UUID(int=2**128 - 1)
        oldest = T0 - timedelta(days=1, seconds=len(arrived_behind))  # older than every alert before it
        behind = [_alert(high, at, 2), _alert(uuid4(), at - timedelta(seconds=rnd.randint(1, 3000)), 2),
                  _alert(uuid4(), oldest, 2)]  # (level 'school_unit' of 11111111: every reader's)
        before = [_alert(low, at, 2), _alert(uuid4(), datetime.now(UTC), 2)]
        fresh = [a for a in behind + before if a["alert_id"] not in arrived_behind | arrived_before | {last_id}]
        async with database.sessions.begin() as session:
            await session.execute(insert(alerts), fresh)
        arrived_behind.update(a["alert_id"] for a in fresh if a in behind)
        arrived_before.update(a["alert_id"] for a in fresh if a in before)

    seen = await _page_through(bare_client, "/v1/alerts", {"organiser_id": ORG, "limit": 7}, headers, "alert_id",
                               arrive)
    counts = Counter(UUID(s) for s in seen)
    assert [i for i, n in counts.items() if n > 1] == []
    assert readable <= set(counts), len(readable - set(counts))
    assert arrived_behind and arrived_behind <= set(counts)
    assert not (arrived_before & set(counts))
    assert set(counts) == readable | arrived_behind


async def test_the_audit_trail_pages_every_read_exactly_once_while_reads_are_recorded(database, bare_client,
                                                                                    token_issuer):
    """Failed on the old code: no `Link` on the first page (and `after` an unknown parameter)."""
    def row(at: datetime, n: int) -> dict[str, Any]:
        return dict(at=at, subject=f"reader-{n}", client_id=None, roles="principal", organiser_id=ORG,
                    level="student", what=f"GET /v1/results/assessments?n={n}", scope={})

    async with database.sessions.begin() as session:
        await session.execute(insert(audit_reads), [row(T0 + timedelta(seconds=n // 4), n) for n in range(50)])
    headers = _bearer(token_issuer, roles=["organiser_admin"])
    count = iter(range(1000, 2000))
    behind: set[str] = set()

    async def recorded(last: dict[str, Any]) -> None:
        at = datetime.fromisoformat(last["at"])
        n = next(count)  # the same moment as the last row: a greater id, before it; and older than every row
        fresh = [row(datetime.now(UTC), n), row(at, n + 1000), row(T0 - timedelta(days=1, seconds=n), n + 2000)]
        behind.add(fresh[-1]["subject"])
        async with database.sessions.begin() as session:
            await session.execute(insert(audit_reads), fresh)

    seen = await _page_through(bare_client, "/v1/audit/reads", {"organiser_id": ORG, "limit": 6}, headers, "subject",
                               recorded)
    counts = Counter(seen)
    assert [s for s, n in counts.items() if n > 1] == []
    assert set(counts) == {f"reader-{n}" for n in range(50)} | behind


@pytest.mark.parametrize("path", ["/v1/alerts", "/v1/audit/reads"])
async def test_a_cursor_the_service_did_not_write_is_a_422_naming_after(database, bare_client, token_issuer, path):
    """An edited, made-up or foreign cursor, one too long, one of other characters: 422 naming `after` (`page_cursor`,
    the length's and the pattern's rules).
    Failed on the old code: `after` was an unknown parameter (422 `unknown_parameter`)."""
    headers = _bearer(token_issuer, roles=["organiser_admin"])
    wrong_kind = cursor_of(T0, 7) if path == "/v1/alerts" else cursor_of(T0, uuid4())  # the other read's id
    for after, rule in [("x", "page_cursor"), (cursor_of(T0, uuid4()) + "A", "page_cursor"),
                        (wrong_kind, "page_cursor"), ("A" * 121, "string_too_long"),
                        ("x/y", "string_pattern_mismatch")]:
        answer = await bare_client.get(path, params={"organiser_id": ORG, "after": after}, headers=headers)
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("after", rule)], answer.text
    last = await bare_client.get(path, params={"organiser_id": ORG}, headers=headers)  # nothing more: no next
    assert last.status_code == 200 and "link" not in last.headers, last.headers


class _AlertReads:
    """A hook on every engine: the LIMIT of each statement reading the alert list (`queries.list_alerts`, ordered by
    `changed_at` newest first), None where it had none — so a test asserts the rows a page read, not its time."""

    def __init__(self) -> None:
        self.limits: list[int | None] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM alerts" not in statement or "ORDER BY alerts.changed_at DESC" not in statement:
            return
        found = re.search(r"LIMIT \$(\d+)", statement)
        self.limits.append(None if found is None else int(parameters[int(found.group(1)) - 1]))


@pytest.fixture
def alert_reads():
    reads = _AlertReads()
    event.listen(Engine, "before_cursor_execute", reads)
    yield reads
    event.remove(Engine, "before_cursor_execute", reads)


def _place(level: str, unit_id: str, code: str | None, changed_at: datetime, students: int = 12) -> dict[str, Any]:
    return {**_alert(uuid4(), changed_at, 0), "level": level, "unit_id": unit_id, "school_unit_code": code,
            "figures": {**FIGURES, "students": students}}


@pytest.mark.parametrize("reader", ["teacher", "area_manager"])
async def test_a_page_of_a_scoped_reader_reads_limit_rows_at_a_time_and_answers_as_the_whole_list(
        database, bare_client, token_issuer, alert_reads, reader):
    """A reader whose scope holds 5 of the organiser's 405 alerts, paged 2 at a time: the same rows in the same order
    as its whole list, and each statement of a page reads at most `limit` + 1 rows. The teacher of 11111111/7A: 200
    alerts of 7B and of the school unit 11111111 (its unit, not its group) newer than its own; the area manager of
    north: 200 area alerts of north on too few students (withheld from it: `small_for`) newer than its 5, and 200 of
    south. Failed on the old code: each page read every candidate after the position in one statement, no LIMIT (the
    teacher's 200 of the unit too)."""
    own = ([_place("group", "11111111:7A", "11111111", T0 - timedelta(minutes=n)) for n in range(5)]
           if reader == "teacher" else
           [_place(*PLACES[n % 4], T0 - timedelta(minutes=n)) for n in range(5)])  # 11111111's and north's
    noise = ([_place(*(PLACES[1] if n % 2 else PLACES[2]), T0 + timedelta(minutes=n)) for n in range(200)]
             if reader == "teacher" else
             [_place("area", "north", None, T0 + timedelta(minutes=n), students=3) for n in range(200)])
    noise += [_place(*PLACES[4 + n % 4], T0 + timedelta(seconds=n)) for n in range(200)]  # south and the organiser's
    async with database.sessions.begin() as session:
        await session.execute(insert(alerts), own + noise)
    headers = _bearer(token_issuer, roles=[reader], **({"groups": ["11111111/7A"]} if reader == "teacher"
                                                        else {"areas": ["north"]}))
    whole = await bare_client.get("/v1/alerts", params={"organiser_id": ORG}, headers=headers)
    assert [row["alert_id"] for row in whole.json()] == [str(a["alert_id"]) for a in own], whole.text
    alert_reads.limits.clear()
    seen = await _page_through(bare_client, "/v1/alerts", {"organiser_id": ORG, "limit": 2}, headers, "alert_id",
                               _nothing)
    assert seen == [str(a["alert_id"]) for a in own]
    assert alert_reads.limits and all(limit == 3 for limit in alert_reads.limits), alert_reads.limits
    if reader == "teacher":  # its candidates are its group's alerts: one statement a page
        assert len(alert_reads.limits) == 3, alert_reads.limits


async def _nothing(last: dict[str, Any]) -> None:
    return None


async def test_a_read_committed_between_two_pages_at_the_same_moment_with_a_smaller_id_skips_no_row(
        database, bare_client, token_issuer):
    """A read's `at` is its transaction's start (`now()`), its id the sequence's value at the insert, and the two
    commit in any order: a read of a transaction started at the same microsecond as four others, inserted before them
    (a smaller id), commits after the first page was read. Paged two at a time, every read is on exactly one page.
    Failed on the old cursor (the moment and how many of the organiser's reads at it were left, counted again on the
    next page): the late read was among those counted, the cursor named one read fewer of the four, and one of them
    was skipped — on no page."""
    def row(n: int) -> dict[str, Any]:
        return dict(at=T0, subject=f"reader-{n}", client_id=None, roles="principal", organiser_id=ORG,
                    level="student", what=f"GET /v1/results/assessments?n={n}", scope={})

    headers = _bearer(token_issuer, roles=["organiser_admin"])
    async with database.engine.connect() as late:
        transaction = await late.begin()
        await late.execute(insert(audit_reads), [row(0)])  # its id first, its commit last
        async with database.sessions.begin() as session:
            await session.execute(insert(audit_reads), [row(n) for n in range(1, 5)])
        committed = False

        async def commit_the_late_read(last: dict[str, Any]) -> None:
            nonlocal committed
            if not committed:
                await transaction.commit()
                committed = True

        seen = await _page_through(bare_client, "/v1/audit/reads", {"organiser_id": ORG, "limit": 2}, headers,
                                   "subject", commit_the_late_read)
    assert committed
    assert sorted(seen) == [f"reader-{n}" for n in range(5)], seen


async def test_an_audit_cursor_naming_no_read_of_the_organiser_is_a_422_naming_after(database, bare_client,
                                                                                     token_issuer):
    """A cursor in the service's spelling whose ref names no read of this organiser at its moment — made up, or
    another organiser's read: 422 naming `after` (`page_cursor`), not a page starting anywhere."""
    async with database.sessions.begin() as session:
        await session.execute(insert(audit_reads), [dict(
            at=T0, subject="reader-other", client_id=None, roles="principal", organiser_id="0180", level="student",
            what="GET /v1/results/assessments", scope={})])
        [other] = (await session.execute(select(audit_reads.c.ref))).scalars().all()
    headers = _bearer(token_issuer, roles=["organiser_admin"])
    for ref in (uuid4(), other):
        answer = await bare_client.get("/v1/audit/reads", params={"organiser_id": ORG, "after": cursor_of(T0, ref.hex)},
                                       headers=headers)
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["rule"]) for e in answer.json()["errors"]] == [("after", "page_cursor")], answer.text
