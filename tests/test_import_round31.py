"""The SS 12000 import into a running reporting service (round 31): a school that changed Huvudman, read by
incremental runs (`--since`); a group deleted at the source, whose teacher kept reading it; two changes in the
repeated October hour, the later ignored as older.

Before: the incremental run sent the school unit under its new organiser (and its duty, read whole), but the old
organiser's directory kept the unit with its unchanged group, membership and teaching — nothing of them was read —
and the new organiser had the unit without its group. With a token for each organiser alone (`--only-organiser`),
reporting refused the unit at the new organiser (`school_unit_code_held`) every run, the old one keeping it. Now the
run that sees the move reads the groups and activities whole: with a token for both, everything is sent at the new
organiser and removed at the old one in one run; with one token each, the old organiser's run removes it there and
the new organiser's run (which finds the unit new to its directory) sends it whole."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, RunningService

from styrkedja_cli.ss12000.command import held, read_and_plan, send
from styrkedja_cli.ss12000.mapping import keep_organisers
from styrkedja_cli.ss12000.source import HttpSource

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

from zoneinfo import ZoneInfo  # noqa: E402

ZONE = ZoneInfo("Europe/Stockholm")
FRISKOLAN = "556677-8899"
META = {"created": "2026-08-01T08:00:00+02:00", "modified": "2026-08-02T08:00:00+02:00"}
HUV = {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": ORGANISER,
       "meta": META}
HUV2 = {"id": "huv2", "displayName": "Friskolan AB", "organisationType": "Huvudman", "organisationNumber": FRISKOLAN,
        "meta": META}
SU = {"id": "su", "displayName": "Norrskolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990501",
      "parentOrganisation": {"id": "huv"}, "meta": META}
GROUP = {"id": "g-5a", "displayName": "5A", "groupType": "Klass", "organisation": {"id": "su"},
         "startDate": "2026-08-17", "meta": META, "groupMemberships": [{"person": {"id": "p1"}}]}
DUTY = {"id": "d-teach", "person": {"id": "teacher-1"}, "dutyAt": {"id": "su"}, "dutyRole": "Lärare",
        "startDate": "2026-08-01", "meta": META}
MATHS = {"id": "a-ma", "displayName": "Matematik 5A", "groups": [{"id": "g-5a"}],
         "teachers": [{"duty": {"id": "d-teach"}}], "startDate": "2026-08-17", "meta": META}
SINCE = datetime(2026, 9, 1, tzinfo=UTC)


def source(unit_under: str) -> HttpSource:
    """The source with the school unit under `unit_under`; asked for what changed since, only organisations and duties
    (read whole every run) answer anything — the group and the activity did not change."""
    served = {"organisations": [HUV, HUV2, {**SU, "parentOrganisation": {"id": unit_under}}], "groups": [GROUP],
              "duties": [DUTY], "activities": [MATHS], "persons": [], "syllabuses": []}

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.removeprefix("/v2.0/")
        if entity == "deletedEntities":
            return httpx.Response(200, json={"data": {}})
        changed_only = "meta.modified.after" in request.url.params
        return httpx.Response(200, json={"data": [] if changed_only else served.get(entity, [])})

    client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
    return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)


def imported(client: httpx.Client, unit_under: str, *, since: datetime | None,
             only: frozenset[str] | None = None) -> Any:
    the_plan, deleted = read_and_plan(source(unit_under), since=since, naive_zone=ZONE, held=None if since is None
                                      else lambda organisers: {o: held(client, o) for o in organisers
                                                               if only is None or o in only})
    if only is not None:
        keep_organisers(the_plan, only)
    said: list[str] = []
    summary = send(client, the_plan, deleted, removed_at=datetime.now(UTC), full=since is None, said=said)
    return the_plan, summary, said


def kinds(client: httpx.Client, organiser: str) -> list[str]:
    """What reporting holds for `organiser`, by kind: `unit:school_unit`, `unit:group`, `membership`, …"""
    return sorted(":".join(key.split(":")[:2]) if key.startswith("unit:") else key.split(":")[0]
                  for key, _ in held(client, organiser))


WHOLE = ["duty", "membership", "teaching_assignment", "unit:group", "unit:organiser", "unit:school_unit"]


def token(issuer: Any, *organisers: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + issuer.mint(roles=["platform"], organisers=list(organisers),
                                                     subject="import", client_id="platform-import")}


def test_a_school_that_changed_huvudman_moves_whole_in_one_incremental_run_with_a_token_for_both(
        reporting: RunningService, token_issuer: Any) -> None:
    with httpx.Client(base_url=reporting.url, headers=token(token_issuer, ORGANISER, FRISKOLAN),
                      timeout=60) as client:
        imported(client, "huv", since=None)
        assert kinds(client, ORGANISER) == WHOLE and kinds(client, FRISKOLAN) == ["unit:organiser"]
        the_plan, _, said = imported(client, "huv2", since=SINCE)
        assert the_plan.refused == [], the_plan.refused
        assert kinds(client, ORGANISER) == ["unit:organiser"], said  # before: WHOLE but the duty
        assert kinds(client, FRISKOLAN) == WHOLE, said  # before: no group, membership nor teaching
        assert any(line.startswith(f"moved to another organiser by the source ({FRISKOLAN})") for line in said), said


def test_with_a_token_for_each_organiser_the_old_ones_run_removes_it_and_the_new_ones_sends_it_whole(
        reporting: RunningService, token_issuer: Any) -> None:
    old, new = frozenset({ORGANISER}), frozenset({FRISKOLAN})
    with (httpx.Client(base_url=reporting.url, headers=token(token_issuer, ORGANISER), timeout=60) as client_a,
          httpx.Client(base_url=reporting.url, headers=token(token_issuer, FRISKOLAN), timeout=60) as client_b):
        imported(client_a, "huv", since=None, only=old)
        imported(client_b, "huv", since=None, only=new)
        assert kinds(client_a, ORGANISER) == WHOLE
        # the new organiser first: reporting refuses the unit there while the old one holds it (said, as before)
        the_plan, _, _ = imported(client_b, "huv2", since=SINCE, only=new)
        assert [(r.entity, r.id) for r in the_plan.refused] == [("organisations", "su")], the_plan.refused
        the_plan, _, said = imported(client_a, "huv2", since=SINCE, only=old)
        assert the_plan.refused == [] and kinds(client_a, ORGANISER) == ["unit:organiser"], said  # before: WHOLE
        the_plan, _, said = imported(client_b, "huv2", since=SINCE, only=new)
        assert the_plan.refused == [], the_plan.refused
        assert kinds(client_b, FRISKOLAN) == WHOLE, said  # before: refused, every run


def test_two_changes_in_the_repeated_october_hour_without_an_offset_are_both_applied_in_their_order(
        reporting: RunningService, token_issuer: Any) -> None:
    """Failed on the old code: the unit renamed at 02:50 of the first pass, then at 02:10 of the second (written without
    an offset, as some servers write local time), was dated 00:50 and 00:10 UTC (each read as the first pass): the
    second change looked older than what the directory held, and reporting kept the first name (`unchanged`). Now a
    time that is no one instant of Sweden's is dated by the import's clock, and the later run's change is applied."""
    def unit(name: str, modified: str) -> HttpSource:
        served = {"organisations": [HUV, {**SU, "displayName": name, "meta": {**META, "modified": modified}}],
                  "groups": [], "duties": [], "activities": [], "persons": [], "syllabuses": []}
        client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(
            lambda request: httpx.Response(200, json={"data": served.get(request.url.path.removeprefix("/v2.0/"),
                                                                         [])})))
        return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)

    with httpx.Client(base_url=reporting.url, headers=token(token_issuer, ORGANISER), timeout=60) as client:
        for name, modified, counted in (("Norrskolan", "2026-10-25T02:50:00", {"created": 2}),
                                        ("Norrskolan F-9", "2026-10-25T02:10:00", {"changed": 1, "unchanged": 1})):
            the_plan, deleted = read_and_plan(unit(name, modified), since=None, naive_zone=ZONE)
            summary = send(client, the_plan, deleted, removed_at=datetime.now(UTC), full=True)
            assert dict(summary["organisations"]) == counted, (name, summary)  # before: the rename `unchanged`


def test_a_group_deleted_at_the_source_is_no_longer_read_by_its_teacher_after_an_incremental_run(
        reporting: RunningService, token_issuer: Any) -> None:
    """Failed on the old code: /deletedEntities named the group (reporting removed it and its membership by their
    source id), but the teaching assignment of the unchanged activity stayed — the teacher still read the group.
    Now the run reads the activities whole and removes that teaching: the teacher reads no group, reporting holds
    none of it."""
    from test_import_round30 import groups_read_by

    def deleting_group(since: datetime | None) -> HttpSource:
        served = {"organisations": [HUV, SU], "groups": [GROUP] if since is None else [], "duties": [DUTY],
                  "activities": [MATHS], "persons": [], "syllabuses": []}

        def handle(request: httpx.Request) -> httpx.Response:
            entity = request.url.path.removeprefix("/v2.0/")
            if entity == "deletedEntities":
                return httpx.Response(200, json={"data": {"groups": [GROUP["id"]]}})
            changed_only = "meta.modified.after" in request.url.params
            return httpx.Response(200, json={"data": [] if changed_only and entity == "activities"
                                             else served.get(entity, [])})

        client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
        return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)

    applied = [0]
    with httpx.Client(base_url=reporting.url, headers=token(token_issuer, ORGANISER), timeout=60) as client:
        for since in (None, SINCE):
            the_plan, deleted = read_and_plan(deleting_group(since), since=since, naive_zone=ZONE,
                                              held=lambda organisers: {o: held(client, o) for o in organisers})
            assert the_plan.refused == [], the_plan.refused
            send(client, the_plan, deleted, removed_at=datetime.now(UTC), full=since is None)
            if since is None:
                assert groups_read_by(reporting, "teacher-1", applied) == {("29990501", "g-5a")}
        assert groups_read_by(reporting, "teacher-1", applied) == set()  # before: still ("29990501", "g-5a")
        assert kinds(client, ORGANISER) == ["duty", "unit:organiser", "unit:school_unit"]
