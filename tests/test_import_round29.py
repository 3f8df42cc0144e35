"""The SS 12000 import into a running reporting service (round 29), from a server serving what a municipality's does and
the specification allows: a principal whose duty moves from the school unit to the Verksamhetsområde above it, a
staff group with its staff meeting, and a server refusing the incremental run's filter (`meta.modified.after`).

Before: the duty at the area and the meeting were refused (every run exited 3), and the refusal kept the principal's
duty at the school unit in reporting's directory (and the school's results readable with it); the incremental run
stopped at the filter's 400. Now both are left out by design, the duty reporting held is removed, and the
incremental run reads the lists whole: everything it sends is `unchanged`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from inprocess import ORGANISER, RunningService, auth

from styrkedja_cli.ss12000.command import held, read_and_plan, send
from styrkedja_cli.ss12000.source import HttpSource

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ZONE = ZoneInfo("Europe/Stockholm")
META = {"created": "2026-08-01T08:00:00+02:00", "modified": "2026-08-02T08:00:00+02:00"}
HUV = {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": ORGANISER,
       "meta": META}
AREA = {"id": "vo", "displayName": "Område norr", "organisationType": "Verksamhetsområde",
        "parentOrganisation": {"id": "huv"}, "meta": META}
SU = {"id": "su", "displayName": "Skolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990029",
      "parentOrganisation": {"id": "vo"}, "meta": META}
CLASS = {"id": "g1", "displayName": "7A", "groupType": "Klass", "organisation": {"id": "su"}, "startDate": "2026-08-17",
         "meta": META, "groupMemberships": [{"person": {"id": "p1"}}, {"person": {"id": "p2"}}]}
STAFF = {"id": "gs", "displayName": "Personalen", "groupType": "Personalgrupp", "organisation": {"id": "su"},
         "startDate": "2026-08-01", "meta": META, "groupMemberships": [{"person": {"id": "t1"}}]}
TEACHER = {"id": "d1", "person": {"id": "t1"}, "dutyAt": {"id": "su"}, "dutyRole": "Lärare", "startDate": "2026-08-01",
           "meta": META}
PRINCIPAL = {"id": "d-rektor", "person": {"id": "t2"}, "dutyAt": {"id": "su"}, "dutyRole": "Rektor",
             "startDate": "2026-08-01", "meta": META}
MOVED = {**PRINCIPAL, "dutyAt": {"id": "vo"}, "dutyRole": "Verksamhetschef",
         "meta": {**META, "modified": "2026-08-20T08:00:00+02:00"}}
LESSON = {"id": "a1", "groups": [{"id": "g1"}], "teachers": [{"duty": {"id": "d1"}}], "meta": META}
MEETING = {"id": "a-meeting", "activityType": "Läraraktivitet", "groups": [{"id": "gs"}],
           "teachers": [{"duty": {"id": "d1"}}], "meta": META}


def serving(entities: dict[str, list[dict[str, Any]]], *, refuse_filter: bool = False) -> HttpSource:
    """A server of `entities`, one page each; with `refuse_filter`, 400 to `meta.modified.after` (a parameter it
    lacks), and no deletions."""
    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.removeprefix("/v2.0/")
        if refuse_filter and "meta.modified.after" in request.url.params:
            return httpx.Response(400, json={"code": "invalid_parameter", "message": "okänd parameter"})
        if entity == "deletedEntities":
            return httpx.Response(200, json={"data": {}})
        return httpx.Response(200, json={"data": entities.get(entity, [])})

    client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
    return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)


def test_what_is_left_out_by_design_goes_from_the_directory_and_a_refused_filter_reads_whole(
        reporting: RunningService, token_issuer: Any) -> None:
    before = {"organisations": [HUV, AREA, SU], "groups": [CLASS], "duties": [TEACHER, PRINCIPAL],
              "activities": [LESSON], "persons": [], "syllabuses": []}
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        first, _ = read_and_plan(serving(before), since=None, naive_zone=ZONE)
        assert first.refused == [] and first.left_out == []
        send(client, first, [], removed_at=datetime.now(UTC), full=True)
        assert "duty:d-rektor" in dict(held(client, ORGANISER))

        after = {**before, "groups": [CLASS, STAFF], "duties": [TEACHER, MOVED], "activities": [LESSON, MEETING]}
        second, _ = read_and_plan(serving(after), since=None, naive_zone=ZONE)
        assert second.refused == [], second.refused  # before: the principal's duty and the meeting (exit 3)
        assert {(r.entity, r.id) for r in second.left_out} == {
            ("groups", "gs"), ("activities", "a-meeting"), ("duties", "d-rektor")}
        summary = send(client, second, [], removed_at=datetime.now(UTC), full=True)
        assert summary["duties"]["removed"] == 1, summary
        keys = dict(held(client, ORGANISER))
        assert "duty:d-rektor" not in keys and "duty:d1" in keys  # before: kept at the school unit
        assert {source for key, source in keys.items() if key.startswith("teaching_assignment:")} == {"a1"}
        assert not any(key.endswith(":gs") for key in keys)

        # an incremental run against a server that refuses the filter: the lists read whole, nothing changed
        since = datetime(2026, 9, 1, tzinfo=UTC)
        incremental, deleted = read_and_plan(serving(after, refuse_filter=True), since=since, naive_zone=ZONE)
        assert [c["source_id"] for c in incremental.changes["groups"]] == ["g1"]
        third = send(client, incremental, deleted, removed_at=datetime.now(UTC))
        assert all(set(counts) <= {"unchanged", "left out"} for counts in third.values()), third
        assert dict(held(client, ORGANISER)) == keys
