"""The SS 12000 import into a running reporting service (round 30): a principal's reads after importing a server
that hangs its Rektor's duty on a Rektorsområde and its groups on a Skola or a Klass, as real servers do.

Before: the Rektor's duty at the Rektorsområde was left out ("no Skolenhet"), so the principal read no school unit
of its own; the groups at the Skola and at the Klass were refused (every run exiting 3), their rosters missing. Now
the duty is one duty of the directory at each Skolenhet of the Rektorsområde, and the principal reads exactly those
units (`reader_of`, as every read of reporting completes a reader) — not the other Rektorsområde's; the groups are
the school unit's. When the duty moves to the other Rektorsområde, a full run removes the old units' duties and the
principal reads only the new one's; moved above the units (the Förvaltning), an incremental run removes them all.
A duty placed so that ended yesterday or starts tomorrow gives no unit today (reporting judges each unit's duty's
dates on each read)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from inprocess import ORGANISER, RunningService, auth
from sqlalchemy import text

from styrkedja_cli.ss12000.command import held, read_and_plan, send
from styrkedja_cli.ss12000.source import HttpSource
from styrkedja_contracts import decode_event
from styrkedja_kit.auth.principal import Principal, Role
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.access.scope import reader_of
from styrkedja_reporting.main import handler_registry

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ZONE = ZoneInfo("Europe/Stockholm")
META = {"created": "2026-08-01T08:00:00+02:00", "modified": "2026-08-02T08:00:00+02:00"}
HUV = {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": ORGANISER,
       "meta": META}
FORV = {"id": "forv", "displayName": "Förvaltningen", "organisationType": "Förvaltning",
        "parentOrganisation": {"id": "huv"}, "meta": META}
RO_A = {"id": "ro-a", "displayName": "Rektorsområde A", "organisationType": "Rektorsområde",
        "parentOrganisation": {"id": "forv"}, "meta": META}
RO_B = {**RO_A, "id": "ro-b", "displayName": "Rektorsområde B"}
SKOLA = {"id": "skola", "displayName": "Norrskolan", "organisationType": "Skola", "parentOrganisation": {"id": "ro-a"},
         "meta": META}
A1 = {"id": "su-a1", "displayName": "Norrskolan F-6", "organisationType": "Skolenhet", "schoolUnitCode": "29990301",
      "parentOrganisation": {"id": "skola"}, "meta": META}
A2 = {**A1, "id": "su-a2", "displayName": "Åsen", "schoolUnitCode": "29990302", "parentOrganisation": {"id": "ro-a"}}
B1 = {**A1, "id": "su-b1", "displayName": "Södra", "schoolUnitCode": "29990401", "parentOrganisation": {"id": "ro-b"}}
KLASS = {"id": "k7a", "displayName": "7A", "organisationType": "Klass", "parentOrganisation": {"id": "su-b1"},
         "meta": META}
ORGS = [HUV, FORV, RO_A, RO_B, SKOLA, A1, A2, B1, KLASS]
AT_SKOLA = {"id": "g-skola", "displayName": "4A", "groupType": "Klass", "organisation": {"id": "skola"},
            "startDate": "2026-08-17", "meta": META, "groupMemberships": [{"person": {"id": "p1"}}]}
AT_KLASS = {**AT_SKOLA, "id": "g-klass", "displayName": "7A", "organisation": {"id": "k7a"},
            "groupMemberships": [{"person": {"id": "p2"}}]}
RECTOR = {"id": "d-rektor", "person": {"id": "rektor-1"}, "dutyAt": {"id": "ro-a"}, "dutyRole": "Rektor",
          "startDate": "2026-08-01", "meta": META}


def serving(entities: dict[str, list[dict[str, Any]]]) -> HttpSource:
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.removeprefix("/v2.0/")
        if entity == "deletedEntities":
            return httpx.Response(200, json={"data": {}})
        return httpx.Response(200, json={"data": entities.get(entity, [])})

    client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
    return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)


def units_read_by(service: RunningService, person: str, applied: list[int]) -> set[str]:
    """The school units the principal `person` reads, as reporting completes a reader from its directory — after
    the directory events the import's writes put in reporting's outbox (past `applied[0]`) are applied by reporting's
    own handlers, as its consumer (off here) would."""
    async def read() -> set[str]:
        database = Database(service.database_url)
        try:
            async with database.sessions.begin() as session:
                rows = (await session.execute(text("SELECT id, topic, payload FROM outbox WHERE id > :after "
                                                   "ORDER BY id"), {"after": applied[0]})).all()
                await handler_registry(live_alerts=False)(session, [
                    Delivered(decode_event(bytes(r.payload)), r.topic, 0, r.id) for r in rows])
                applied[0] = max([applied[0], *(r.id for r in rows)])
            async with database.sessions() as session:
                reader = await reader_of(session, Principal(subject=person, roles=frozenset({Role.PRINCIPAL}),
                                                            organisers=frozenset({ORGANISER})))
                return set(reader.school_units)
        finally:
            await database.dispose()
    return asyncio.run(read())


def imported(client: httpx.Client, duties: list[dict[str, Any]], *, since: datetime | None = None) -> Any:
    source = {"organisations": ORGS, "groups": [AT_SKOLA, AT_KLASS] if since is None else [], "duties": duties,
              "activities": [], "persons": [], "syllabuses": []}
    the_plan, deleted = read_and_plan(serving(source), since=since, naive_zone=ZONE)
    assert the_plan.refused == [], the_plan.refused
    return send(client, the_plan, deleted, removed_at=datetime.now(UTC), full=since is None)


def test_a_rektor_of_a_rektorsomrade_reads_exactly_its_school_units_and_a_move_takes_the_old_ones_away(
        reporting: RunningService, token_issuer: Any) -> None:
    applied = [0]
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        summary = imported(client, [RECTOR])
        assert summary["duties"]["created"] == 2 and summary["groups"]["created"] == 2, summary
        keys = dict(held(client, ORGANISER))
        assert {"duty:d-rektor:29990301", "duty:d-rektor:29990302"} <= keys.keys(), keys
        assert {key for key in keys if key.startswith("unit:group:")} == {
            "unit:group:29990301:g-skola", "unit:group:29990401:g-klass"}
        assert units_read_by(reporting, "rektor-1", applied) == {"29990301", "29990302"}  # before: none

        imported(client, [{**RECTOR, "dutyAt": {"id": "ro-b"}}])  # a full run: moved to the other Rektorsområde
        assert units_read_by(reporting, "rektor-1", applied) == {"29990401"}

        imported(client, [RECTOR])  # back, then above the units in an incremental run (duties are read whole)
        assert units_read_by(reporting, "rektor-1", applied) == {"29990301", "29990302"}
        imported(client, [{**RECTOR, "dutyAt": {"id": "forv"}}], since=datetime(2026, 9, 1, tzinfo=UTC))
        assert units_read_by(reporting, "rektor-1", applied) == set()
        assert not [key for key in dict(held(client, ORGANISER)) if key.startswith("duty:")]


def test_a_rektors_duty_ending_yesterday_or_starting_tomorrow_gives_no_unit_today(reporting: RunningService,
                                                                                   token_issuer: Any) -> None:
    """The dates of a duty placed at several units are each unit's duty's: reporting judges them on each read (its
    current duties), so a Rektor whose duty at ro-a ended yesterday and one whose duty at ro-b starts tomorrow read no
    unit today, and one whose duty runs reads its two. Failed on the old code for the running one (no unit: the duty
    at the Rektorsområde was left out)."""
    today = datetime.now(ZONE).date()
    ended = {**RECTOR, "id": "d-ended", "person": {"id": "rektor-ended"}, "startDate": "2025-08-01",
             "endDate": (today - timedelta(days=1)).isoformat()}
    ahead = {**RECTOR, "id": "d-ahead", "person": {"id": "rektor-ahead"}, "dutyAt": {"id": "ro-b"},
             "startDate": (today + timedelta(days=1)).isoformat()}
    applied = [0]
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        imported(client, [RECTOR, ended, ahead])
        assert units_read_by(reporting, "rektor-ended", applied) == set()
        assert units_read_by(reporting, "rektor-ahead", applied) == set()
        assert units_read_by(reporting, "rektor-1", applied) == {"29990301", "29990302"}


TEACHER = {"id": "d-teach", "person": {"id": "teacher-1"}, "dutyAt": {"id": "su-a1"}, "dutyRole": "Lärare",
           "startDate": "2026-08-01", "meta": META}
TAUGHT = {**AT_SKOLA, "id": "g-4b", "displayName": "4B", "organisation": {"id": "su-a1"}}
MATHS = {"id": "a-ma", "displayName": "Matematik 4B", "groups": [{"id": "g-4b"}],
         "teachers": [{"duty": {"id": "d-teach"}}], "startDate": "2026-08-17", "meta": META}


def groups_read_by(service: RunningService, person: str, applied: list[int]) -> set[tuple[str, str]]:
    """The (school unit code, group) pairs the teacher `person` reads, as reporting completes a reader — after the
    import's directory events are applied (`units_read_by`)."""
    units_read_by(service, person, applied)

    async def read() -> set[tuple[str, str]]:
        database = Database(service.database_url)
        try:
            async with database.sessions() as session:
                reader = await reader_of(session, Principal(subject=person, roles=frozenset({Role.TEACHER}),
                                                            organisers=frozenset({ORGANISER})))
                return {(g.school_unit_code, g.group_id) for g in reader.groups}
        finally:
            await database.dispose()
    return asyncio.run(read())


def test_an_incremental_run_moving_or_leaving_out_a_group_takes_its_unchanged_teaching_with_it(
        reporting: RunningService, token_issuer: Any) -> None:
    """Failed on the old code: an incremental run in which only the group changed (moved to another school unit, then
    to a Rektorsområde of two units: left out) removed the group where reporting held it, but the teacher kept reading
    it there — the assignment's activity did not change, so it was neither read nor traceable to the group. Now the
    run reads the activities whole then: moved, the teacher reads the group at its new unit only; left out, not at
    all (as a full run has it)."""
    def source(groups: list[dict[str, Any]], *, since: datetime | None) -> HttpSource:
        served = {"organisations": ORGS, "groups": groups, "duties": [TEACHER], "activities": [MATHS],
                  "persons": [], "syllabuses": []}

        def handle(request: httpx.Request) -> httpx.Response:
            entity = request.url.path.removeprefix("/v2.0/")
            if entity == "deletedEntities":
                return httpx.Response(200, json={"data": {}})
            changed_only = entity == "activities" and "meta.modified.after" in request.url.params
            return httpx.Response(200, json={"data": [] if changed_only else served.get(entity, [])})

        client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
        return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)

    since, applied = datetime(2026, 9, 1, tzinfo=UTC), [0]
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        def imported_since(group: dict[str, Any]) -> None:
            the_plan, deleted = read_and_plan(source([group], since=since), since=since, naive_zone=ZONE,
                                              held=lambda organisers: {o: held(client, o) for o in organisers})
            assert the_plan.refused == [], the_plan.refused
            send(client, the_plan, deleted, removed_at=datetime.now(UTC))

        the_plan, deleted = read_and_plan(source([TAUGHT], since=None), since=None, naive_zone=ZONE)
        send(client, the_plan, deleted, removed_at=datetime.now(UTC), full=True)
        assert groups_read_by(reporting, "teacher-1", applied) == {("29990301", "g-4b")}
        imported_since({**TAUGHT, "organisation": {"id": "su-a2"}})
        assert groups_read_by(reporting, "teacher-1", applied) == {("29990302", "g-4b")}  # before: 29990301 still
        imported_since({**TAUGHT, "organisation": {"id": "ro-a"}})
        assert groups_read_by(reporting, "teacher-1", applied) == set()
        assert not [key for key in dict(held(client, ORGANISER)) if key.startswith(("teaching_assignment:",
                                                                                    "unit:group:"))]
