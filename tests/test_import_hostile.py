"""The SS 12000 import against a server shaped as other servers are, into a running reporting service: what the
directory holds afterwards is what the server served, read through the differences docs/import.md names (a base
path moved behind a redirect, relative next links, ids in upper case with references in lower, 2.1.0's organisation
types, `_embedded` objects and reference names, dates with offsets), and a second run changes nothing. A group
refused for its name leaves its memberships out (before: they were sent for a group reporting did not have) and
the rest is applied; /deletedEntities in the specification's shape removes what it names."""

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
META = {"created": "2026-08-01T08:00:00+02:00", "modified": "2026-08-02T08:00:00.1234567+02:00"}
HUV = {"id": "8E2C7A34-1C1B-4A4E-9D2F-0A6B5C4D3E21", "displayName": "Kommunen", "organisationType": "Huvudman",
       "municipalityCode": ORGANISER, "meta": META, "address": {"streetAddress": "Gatan 1", "postalCode": "12345",
                                                                  "locality": "Orten", "municipalityCode": 2999}}
BRAND = {"id": "1A2B3C4D-5E6F-4A1B-8C2D-3E4F5A6B7C8D", "displayName": "Grundskolorna", "organisationType":
         "Varumärke", "parentOrganisation": {"id": HUV["id"].lower(), "displayName": "Kommunen"}, "meta": META}
SU = {"id": "5B0D6E8F-2A4C-4E6B-8D0F-1A3C5E7F9B2D", "displayName": "Skolan", "organisationType": "Skolenhet",
      "schoolUnitCode": "29990077", "schoolTypes": ["GR", "FKLASS"], "parentOrganisation": {"id": BRAND["id"].lower()},
      "startDate": "2020-08-01+02:00", "meta": META}
STUDENTS = [f"0b2d4f6a-8c1e-4a3b-9d5f-7e9a1b3c5d{n:02d}" for n in range(12)]
GROUP = {"id": "2D4F6B8C-0E3A-4C5D-9F7B-9A1C3E5F7B9D", "displayName": "7A", "groupType": "Klass", "schoolType": "GR",
         "startDate": "2026-08-17", "endDate": "2027-06-15Z", "organisation": {"id": SU["id"].lower()}, "meta": META,
         "groupMemberships": [{"person": {"id": s, "securityMarking": "Ingen"}, "startDate": "2026-08-17"}
                              for s in STUDENTS],
         "_embedded": {"assignmentRoles": [{"duty": {"id": "3e5a7c9d-1f4b-4d6e-8a8c-0b2d4f6a8c0e"},
                                            "assignmentRoleType": "Mentor"}]}}
BAD_GROUP = {**GROUP, "id": "6A7B8C9D-0E1F-4A2B-8C3D-4E5F6A7B8C9D", "displayName": ""}
DUTY = {"id": "3E5A7C9D-1F4B-4D6E-8A8C-0B2D4F6A8C0E", "person": {"id": "1c3e5a7b-9d2f-4b4c-8e6a-8f0b2c4d6e8a"},
        "dutyAt": {"id": SU["id"].lower()}, "dutyRole": "Speciallärare/specialpedagog", "startDate": "2026-08-01",
        "meta": META}
SYLLABUS = {"id": "7C8D9E0F-1A2B-4C3D-8E4F-5A6B7C8D9E0F", "subjectCode": "GRGRMAT01", "subjectName": "Matematik",
            "schoolType": "GR", "official": True, "meta": META}
ACTIVITY = {"id": "4F6B8D0E-2A5C-4E7F-9B9D-1C3E5A7B9D1F", "displayName": "7A Ma", "calendarEventsRequired": True,
            "startDate": "2026-08-17", "organisation": {"id": SU["id"].lower()}, "meta": META,
            "groups": [{"id": GROUP["id"].lower()}, {"id": BAD_GROUP["id"].lower()}],
            "teachers": [{"duty": {"id": DUTY["id"].lower()}, "grader": True}],
            "syllabus": {"id": SYLLABUS["id"].lower()}}


class MovedServer:
    """A server whose API moved from /v2.0 to /api/v2.0 (a 308 there, the query kept), paging by a `Link` relative
    to the page, two items a page."""

    def __init__(self, entities: dict[str, list[dict[str, Any]]], deleted: dict[str, Any] | None = None) -> None:
        self.entities, self.deleted = entities, deleted or {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/v2.0/"):
            query = request.url.query.decode()
            return httpx.Response(308, headers={"location": f"/api{path}{'?' + query if query else ''}"})
        entity = path.removeprefix("/api/v2.0/")
        if entity == "deletedEntities":
            return httpx.Response(200, json={"data": self.deleted, "pageToken": None})
        at = int(request.url.params.get("pageToken", "0"))
        items = self.entities.get(entity, [])
        headers = {"content-type": "application/json; charset=utf-8"}
        if at + 2 < len(items):
            headers["link"] = f'<?pageToken={at + 2}>; rel="next"'
        return httpx.Response(200, json={"data": items[at:at + 2]}, headers=headers)

    def source(self) -> HttpSource:
        client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(self.handle))
        return HttpSource("https://ss12000.test/v2.0", client=client, sleep=lambda _: None)


def test_what_another_server_serves_is_what_the_directory_holds(reporting: RunningService, token_issuer: Any):
    served = {"organisations": [HUV, BRAND, SU], "groups": [GROUP, BAD_GROUP], "duties": [DUTY],
              "syllabuses": [SYLLABUS], "activities": [ACTIVITY], "persons": []}
    the_plan, _ = read_and_plan(MovedServer(served).source(), since=None, naive_zone=ZONE)
    assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [
        ("groups", BAD_GROUP["id"].lower(), "displayName: String should have at least 1 character")]
    with httpx.Client(base_url=reporting.url, headers=auth(token_issuer), timeout=60) as client:
        summary = send(client, the_plan, [], removed_at=datetime.now(UTC), full=True)
        assert summary["memberships"]["created"] == 12 and summary["activities"]["created"] == 1
        keys = dict(held(client, ORGANISER))
        su, group = SU["id"].lower(), GROUP["id"].lower()
        units = {k for k in keys if k.startswith("unit:")}
        assert units == {f"unit:organiser::{ORGANISER}", f"unit:area::{BRAND['id'].lower()}",
                         f"unit:school_unit::{su}", f"unit:group:29990077:{group}"}, units
        assert sum(k.startswith("membership:") for k in keys) == 12  # the refused group's: none
        assert {source for key, source in keys.items() if key.startswith("membership:")} == {group}
        assert [k for k in keys if k.startswith(("duty:", "teaching_assignment:"))] and \
            {keys[k] for k in keys if k.startswith("teaching_assignment:")} == {ACTIVITY["id"].lower()}

        again, _ = read_and_plan(MovedServer(served).source(), since=None, naive_zone=ZONE)
        second = send(client, again, [], removed_at=datetime.now(UTC), full=True)
        assert all(set(counts) <= {"unchanged", "refused", "left out"} for counts in second.values()), second

        # the group deleted: /deletedEntities in the specification's shape (ids in upper case, persons beside)
        changed = {**served, "groups": [], "activities": []}
        since = datetime(2026, 9, 1, tzinfo=UTC)
        server = MovedServer(changed, deleted={"groups": [GROUP["id"]], "persons": STUDENTS[:1], "absences": ["x"]})
        incremental, deleted = read_and_plan(server.source(), since=since, naive_zone=ZONE)
        assert deleted == [group]
        send(client, incremental, deleted, removed_at=datetime.now(UTC))
        assert f"unit:group:29990077:{group}" not in {key for key, _ in held(client, ORGANISER)}
