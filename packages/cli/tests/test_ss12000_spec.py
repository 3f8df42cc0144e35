"""The importer against a server that does what the SS 12000:2020 API v2 specification allows, and no more.

Checked against the implementation specification of SS 12000:2020 by SIS TK450 (openapi.yaml 2.0.0, with
common.yaml, Organisation/Group/Duty/Person/Enrolment/Activity/Syllabus.yaml, paths/*.yaml and
paths/searchParameters.yaml) and against Skolverket's reference API (dnp-ss12000-reference-api, its exposed
openapi.yml and RequestHelper): what a server may leave out, add, spell otherwise or answer, each served by
`SpecServer` below. The server is an `httpx.MockTransport` handler: no network."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from styrkedja_cli.ss12000.command import read_and_plan, vanished
from styrkedja_cli.ss12000.mapping import NO_PERSON, STAFF_GROUP_RULE
from styrkedja_cli.ss12000.source import HttpSource, SourceError
from styrkedja_contracts.identifiers import PIN_ERROR, contains_personal_identity_number

ZONE = ZoneInfo("Europe/Stockholm")
SINCE = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
PIN = "19121212-1212"
HUV = {"id": "4f1c2a7e-0c3b-4d8e-9a61-2b7f0e5d9c11", "displayName": "Kommunen", "organisationType": "Huvudman",
       "municipalityCode": "2999", "organisationNumber": "212000-2999", "meta": {"created": "2026-08-01T08:00:00Z"}}
SU = {"id": "7a9d3b2c-1e4f-4a6b-8c0d-3e5f7a9b1c2d", "displayName": "Skolan", "organisationType": "Skolenhet",
      "schoolUnitCode": "29990011", "parentOrganisation": {"id": HUV["id"]}, "schoolTypes": ["GR"],
      "meta": {"created": "2026-08-01T08:00:00Z"}}
STUDENT, TEACHER = "0b2d4f6a-8c1e-4a3b-9d5f-7e9a1b3c5d7f", "1c3e5a7b-9d2f-4b4c-8e6a-8f0b2c4d6e8a"
GROUP = {"id": "2d4f6b8c-0e3a-4c5d-9f7b-9a1c3e5f7b9d", "displayName": "7A", "groupType": "Klass",
         "startDate": "2026-08-17", "organisation": {"id": SU["id"]},
         "groupMemberships": [{"person": {"id": STUDENT}, "startDate": "2026-08-17"}],
         "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-09-02T08:00:00Z"}}
DUTY = {"id": "3e5a7c9d-1f4b-4d6e-8a8c-0b2d4f6a8c0e", "person": {"id": TEACHER}, "dutyAt": {"id": SU["id"]},
        "dutyRole": "Lärare", "startDate": "2026-08-01"}
ACTIVITY = {"id": "4f6b8d0e-2a5c-4e7f-9b9d-1c3e5a7b9d1f", "displayName": "7A Matematik", "organisation": {
    "id": SU["id"]}, "calendarEventsRequired": True, "startDate": "2026-08-17", "groups": [{"id": GROUP["id"]}],
    "teachers": [{"duty": {"id": DUTY["id"]}}], "meta": {"modified": "2026-09-02T09:00:00Z"}}
FILTERS = ("meta.created.before", "meta.created.after", "meta.modified.before", "meta.modified.after", "after",
           "entities", "sortkey", "expand", "expandReferenceNames")


class SpecServer:
    """An SS 12000 server by the letter: `{data, pageToken}` pages of at most `cap` items (fewer than asked is
    allowed), an opaque pageToken, the last page's token null (and an empty last page), `meta.modified.after`
    exclusive, and a pageToken combined with any filter answered 400 in the specification's error shape
    (`400_invalid_filter`: filters "kan inte kombineras med pageToken", only `limit` may go along), as
    Skolverket's reference API does (`RequestHelper.queryParamsValid`)."""

    def __init__(self, entities: dict[str, list[dict[str, Any]]], *, cap: int = 2,
                 deleted: dict[str, list[str]] | None = None) -> None:
        self.entities, self.cap, self.deleted = entities, cap, deleted or {}
        self.asked: list[httpx.URL] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url)
        params = request.url.params
        if "pageToken" in params and any(f in params for f in FILTERS):
            return httpx.Response(400, json={"code": "invalid_filter",
                                             "message": "Filter kan inte kombineras med pageToken"})
        entity, _, ident = request.url.path.strip("/").partition("/")
        if entity == "deletedEntities":
            return httpx.Response(200, json={"data": self.deleted, "pageToken": None})
        items = self.entities.get(entity, [])
        if ident:
            found = [i for i in items if i["id"] == ident]
            return httpx.Response(200, json=found[0]) if found else httpx.Response(404)
        if "pageToken" in params:
            state = json.loads(base64.urlsafe_b64decode(params["pageToken"]))
        else:
            state = {"at": 0, "after": params.get("meta.modified.after")}
        if state["after"]:
            after = datetime.fromisoformat(state["after"])
            items = [i for i in items if datetime.fromisoformat(i.get("meta", {}).get(
                "modified", "1970-01-01T00:00:00Z")) > after]
        size = min(int(params.get("limit", self.cap)), self.cap)
        page = items[state["at"]:state["at"] + size]
        more = state["at"] + size <= len(items)  # a last page that is empty, as servers send it
        token = base64.urlsafe_b64encode(json.dumps({**state, "at": state["at"] + size}).encode()).decode()
        return httpx.Response(200, json={"data": page, "pageToken": token if more else None})

    def source(self, page_size: int = 100) -> HttpSource:
        client = httpx.Client(transport=httpx.MockTransport(self.handle), base_url="http://ss12000.example")
        return HttpSource("http://ss12000.example", client=client, page_size=page_size, sleep=lambda _: None)


def changed(ident: str, minute: int) -> dict[str, Any]:
    return {**GROUP, "id": ident, "displayName": f"G{minute}", "groupMemberships": [],
            "meta": {"modified": f"2026-09-0{2 + minute % 2}T08:{minute:02d}:00Z"}}


def test_an_incremental_run_pages_on_with_the_token_alone() -> None:
    """The filter goes with the first page only: the token carries it. Failed on the old code: page 2 asked
    `pageToken` with `meta.modified.after` beside it, which the spec answers 400 (the run stopped)."""
    groups = [changed(f"g{n}", n) for n in range(5)] + [{**GROUP, "id": "old", "meta": {
        "modified": "2026-08-01T08:00:00Z"}}]
    server = SpecServer({"groups": groups})
    read = server.source(page_size=2).read("groups", SINCE, lambda *_: None)
    assert [g.id for g in read] == [f"g{n}" for n in range(5)]
    firsts = [u for u in server.asked if "pageToken" not in u.params]
    assert [u.params["meta.modified.after"] for u in firsts] == ["2026-09-01T12:00:00+00:00"]
    assert all(set(u.params) == {"limit", "pageToken"} for u in server.asked if u not in firsts)
    assert set(firsts[0].params) == {"limit", "meta.modified.after"}  # no expand, sortkey: the plain shapes


def test_a_page_smaller_than_asked_and_an_empty_last_page_read_everything_once() -> None:
    server = SpecServer({"groups": [changed(f"g{n}", n) for n in range(4)]}, cap=2)
    read = server.source(page_size=500).read("groups", None, lambda *_: None)
    assert [g.id for g in read] == ["g0", "g1", "g2", "g3"] and len(server.asked) == 3  # 2, 2, then 0


def test_deleted_entities_page_on_with_the_token_alone() -> None:
    """Failed on the old code: page 2 asked `after` beside the pageToken (400 by the spec)."""
    pages = [{"data": {"groups": ["g1"]}, "pageToken": "t1"}, {"data": {"groups": ["g2"]}, "pageToken": None}]
    asked: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        if "pageToken" in request.url.params and "after" in request.url.params:
            return httpx.Response(400, json={"code": "invalid_filter", "message": "after och pageToken"})
        return httpx.Response(200, json=pages[1 if "pageToken" in request.url.params else 0])

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    assert HttpSource("http://ss12000.example", client=client).deleted(SINCE) == ["g1", "g2"]
    assert asked[0].params["after"] == "2026-09-01T12:00:00+00:00" and set(asked[1].params) == {"pageToken", "limit"}


@pytest.mark.parametrize(("status", "body", "said"), [
    (400, {"code": "invalid_filter", "message": "Filter kan inte kombineras med pageToken"},
     r"HTTP 400 \(invalid_filter: Filter kan inte kombineras med pageToken\)"),
    (401, {"code": "token_expired", "message": "Token\nexpired"}, r"HTTP 401 \(token_expired: Token expired\)"),
    (403, {"code": "forbidden", "message": f"no access for {PIN}"}, r"HTTP 403 \(forbidden: no access for \[REDACTED\]\)"),
    (404, None, r"HTTP 404$"),
    (500, {"error": {"code": 500, "message": "Internal server error."}},  # Skolverket's reference API's shape
     r"HTTP 500 \(500: Internal server error.\)"),
    (500, "<html>oops</html>", r"HTTP 500$"),
])
def test_an_error_in_the_specifications_shape_is_named_with_its_code_and_message(status, body, said) -> None:
    """Failed on the old code: only the status was said ("HTTP 400"), not the server's code and message."""
    def handle(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, **({"text": body} if isinstance(body, str) else {"json": body}))

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    with pytest.raises(SourceError, match=f"organisations, page 1: {said}") as error:
        HttpSource("http://ss12000.example", client=client).read("organisations", None, lambda *_: None)
    assert not contains_personal_identity_number(str(error.value))


def test_uuids_in_upper_case_and_references_in_lower_case_name_one_entity() -> None:
    """`format: uuid` is case-insensitive: a server that writes its ids in upper case and its references in
    lower case (or the other way) is read as one entity, ids kept in lower case. Failed on the old code: the
    group was refused ("its organisation is not a known Skolenhet") and the activity with it."""
    upper = {**SU, "id": SU["id"].upper()}
    group = {**GROUP, "id": GROUP["id"].upper(), "groupMemberships": [{"person": {"id": STUDENT.upper()}}]}
    activity = {**ACTIVITY, "groups": [{"id": GROUP["id"]}], "teachers": [{"duty": {"id": DUTY["id"].upper()}}]}
    server = SpecServer({"organisations": [HUV, upper], "groups": [group], "duties": [DUTY],
                         "activities": [activity]}, deleted={"groups": [GROUP["id"].upper()]})
    the_plan, deleted = read_and_plan(server.source(), since=SINCE, naive_zone=ZONE)
    assert the_plan.refused == []
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == [GROUP["id"]]
    assert [c["data"]["student_id"] for c in the_plan.changes["memberships"]] == [STUDENT]
    assert [c["data"]["teacher_id"] for c in the_plan.changes["activities"]] == [TEACHER]
    assert deleted == [GROUP["id"]]  # removes what an import of either spelling sent


def test_a_duty_or_a_membership_without_its_person_is_refused_alone() -> None:
    """The spec requires neither a duty's person nor a membership's: each such one is refused naming the field
    and the rule, the rest imported. Failed on the old code: the whole page was refused, so the import stopped."""
    group = {**GROUP, "groupMemberships": [{"startDate": "2026-08-17"}, {"person": {"id": STUDENT}}]}
    lone = {**DUTY, "id": "duty-without-person"}
    del lone["person"]
    activity = {**ACTIVITY, "teachers": [{"duty": {"id": "duty-without-person"}}, {"duty": {"id": DUTY["id"]}}]}
    server = SpecServer({"organisations": [HUV, SU], "groups": [group], "duties": [lone, DUTY],
                         "activities": [activity]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert [c["data"]["student_id"] for c in the_plan.changes["memberships"]] == [STUDENT]
    assert [c["data"]["duty_id"] for c in the_plan.changes["duties"]] == [DUTY["id"]]
    assert [c["data"]["teacher_id"] for c in the_plan.changes["activities"]] == [TEACHER]
    refused = {(r.entity, r.reason) for r in the_plan.refused}
    assert ("memberships", NO_PERSON) in refused and ("duties", NO_PERSON) in refused
    assert ("activities", "duty duty-without-person is not known") in refused
    assert NO_PERSON.startswith("person: ")  # the field, then the rule


@pytest.mark.parametrize(("huvudman", "organiser"), [
    ({"municipalityCode": "0180", "organisationNumber": "212000-0142"}, "0180"),  # a municipality
    ({"municipalityCode": "0180"}, "0180"),
    ({"organisationNumber": "212000-0142"}, "212000-0142"),
    ({"municipalityCode": "0180", "organisationNumber": "556677-8899"}, "556677-8899"),  # a company in Stockholm
    ({"municipalityCode": "1480", "organisationNumber": "232100-0131"}, "232100-0131"),  # a region's school
    # one organiser however the server spells its number (failed on the old code: kept as sent, so a server
    # writing 5566778899 and a platform writing 556677-8899 split one organiser's aggregates in two)
    ({"municipalityCode": "0180", "organisationNumber": "5566778899"}, "556677-8899"),
    ({"municipalityCode": "0180", "organisationNumber": "165566778899"}, "556677-8899"),
    ({"organisationNumber": "2120000142"}, "212000-0142"),
    ({"municipalityCode": "0180", "organisationNumber": "162120000142"}, "0180"),  # still a municipality's
])
def test_a_huvudman_other_than_a_municipality_is_known_by_its_organisation_number(huvudman, organiser) -> None:
    """SS 12000's municipalityCode is the municipality where the organisation is. Failed on the old code: an
    independent school's Huvudman carrying 0180 was imported as organiser 0180, the City of Stockholm."""
    owner = {**{k: v for k, v in HUV.items() if k not in ("municipalityCode", "organisationNumber")}, **huvudman}
    server = SpecServer({"organisations": [owner, SU]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert {c["data"]["organiser_id"] for c in the_plan.changes["organisations"]} == {organiser}
    # the organiser's own unit and its school unit's parent are named by the same spelling
    assert {c["data"]["unit_id"] for c in the_plan.changes["organisations"]
            if c["data"]["unit_type"] == "organiser"} == {organiser}


def test_what_a_server_may_add_or_leave_out_is_read_and_nothing_personal_is_kept() -> None:
    """Unknown fields and extension objects, `_embedded` (an expanded duty carries its person, civicNo and
    all), `displayName` in references (expandReferenceNames), securityMarking on a person reference, code
    values the importer does not know (organisation types, duty roles, group and school types), meta with a
    fractional second and an offset, or no meta at all: all read; no civic number, name, or security marking
    in what is sent, however the server spells the field."""
    person = {"id": STUDENT, "displayName": "Elev Elevsson", "securityMarking": "Skyddad folkbokföring"}
    area = {"id": "area-1", "displayName": "Förvaltningen", "organisationType": "Förvaltning",
            "parentOrganisation": {"id": HUV["id"], "displayName": "Kommunen"}, "x-vendor": {"any": [1, 2]}}
    su = {**SU, "parentOrganisation": {"id": "area-1"}, "schoolTypes": ["GR", "NYSKOLFORM"]}
    group = {**GROUP, "groupType": "Nyttgrupptyp", "schoolType": "NYSKOLFORM", "groupMemberships": [
        {"person": person, "startDate": "2026-08-17", "x-role": "elev"}],
        "meta": {"created": "2026-08-01T08:00:00.1234567+02:00", "modified": "2026-09-02T10:00:00.5+02:00"}}
    duty = {**DUTY, "dutyRole": "Förstelärare", "signature": "EEL", "dutyPercent": 100, "person": {
        "id": TEACHER, "securityMarking": "Sekretessmarkering"}, "_embedded": {"person": {
            "id": TEACHER, "givenName": "Lärare", "familyName": "Lärarsson", "civicNo": {"value": "191212121212"},
            "personnummer": PIN, "CivicNo": PIN}}}
    persons = [{"id": STUDENT, "givenName": "Elev", "familyName": "Elevsson", "civicNo": {
        "value": "191212121212", "nationality": "SE"}, "securityMarking": "Skyddad folkbokföring",
        "enrolments": [{"enroledAt": {"id": SU["id"]}, "schoolYear": 7, "schoolType": "GR",
                        "startDate": "2026-08-17", "x-extra": True}]}]
    server = SpecServer({"organisations": [HUV, area, su], "persons": persons, "groups": [group],
                         "duties": [duty], "activities": [{**ACTIVITY, "activityType": "Nyaktivitetstyp"}]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert the_plan.refused == []
    units = {c["data"]["unit_id"]: c["data"] for c in the_plan.changes["organisations"]}
    assert units["area-1"]["unit_type"] == "area" and units[SU["id"]]["parent_id"] == "area-1"
    assert the_plan.changes["groups"][0]["data"]["year"] == 7
    assert the_plan.changes["groups"][0]["data"]["updated_at"] == "2026-09-02T10:00:00.500000+02:00"
    assert the_plan.changes["duties"][0]["data"]["duty_role"] == "Förstelärare"
    sent = json.dumps(the_plan.changes, ensure_ascii=False)
    assert not contains_personal_identity_number(sent) and "191212121212" not in sent
    for kept_out in ("Elevsson", "Lärarsson", "Skyddad", "Sekretess", "securityMarking", "civicNo", "x-"):
        assert kept_out not in sent, kept_out


def test_a_server_without_syllabuses_like_skolverkets_reference_api_is_imported_without_subjects() -> None:
    """Skolverket's reference API serves organisations, persons, groups, activities and duties, no /syllabuses:
    a 403 or 404 there costs the subjects (said by the command), not the import; any other entity's 404 stops
    it. Failed on the old code: "syllabuses, page 1: HTTP 404" stopped the import."""
    server = SpecServer({"organisations": [HUV, SU], "groups": [GROUP], "duties": [DUTY], "activities": [
        {**ACTIVITY, "syllabus": {"id": "5a7c9e1f-3b6d-4f8a-8cae-2d4f6b8d0e2a"}}]})
    serve = server.handle

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/syllabuses", gone):
            return httpx.Response(404, json={"code": "not_found", "message": "Posten hittades inte."})
        return serve(request)

    server.handle = handle  # type: ignore[method-assign]
    gone = "/nothing"
    source = server.source()
    the_plan, _ = read_and_plan(source, since=None, naive_zone=ZONE)
    assert [c["data"]["subject_code"] for c in the_plan.changes["activities"]] == [None]
    assert source.held_back == {"syllabuses": 404} and the_plan.refused == []
    gone = "/activities"
    with pytest.raises(SourceError, match=r"activities, page 1: HTTP 404 \(not_found: Posten hittades inte.\)"):
        read_and_plan(server.source(), since=None, naive_zone=ZONE)


def test_a_staff_group_is_left_out_named_and_what_came_from_it_before_goes() -> None:
    """groupType Personalgrupp: "a group whose members are staff". The directory's memberships are students'
    (roster sizes, the students of a group): such a group is left out, named with the field and the rule, and
    a full import removes what an earlier one took from it. Failed on the old code: its teachers were imported
    as the students of a group."""
    staff = {**GROUP, "id": "staff-1", "groupType": "Personalgrupp", "groupMemberships": [
        {"person": {"id": TEACHER}}]}
    server = SpecServer({"organisations": [HUV, SU], "groups": [GROUP, staff]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == [GROUP["id"]]
    assert [c["data"]["student_id"] for c in the_plan.changes["memberships"]] == [STUDENT]
    assert [(r.entity, r.id, r.reason) for r in the_plan.left_out] == [("groups", "staff-1", STAFF_GROUP_RULE)]
    assert STAFF_GROUP_RULE.startswith("groupType: ") and the_plan.refused == []
    held = {"2999": [("unit:group:29990011:staff-1", "staff-1"), ("membership:m-staff", "staff-1")]}
    assert vanished(the_plan, set(), held) == [("2999", key) for key, _ in held["2999"]]  # nothing protects them


def test_a_503_that_stays_is_named_with_the_specifications_other_meaning() -> None:
    """SS 12000's `503_overload`: "the answer is too large for the server". Asked again a few times (it may be
    busy), then the import stops naming the page, the server's words and what may mend it."""
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(503, json={
        "code": "overload", "message": "Svaret är för stort"})), base_url="http://ss12000.example")
    source = HttpSource("http://ss12000.example", client=client, page_size=10_000, sleep=lambda _: None)
    with pytest.raises(SourceError, match=r"groups, page 1: HTTP 503 \(overload: Svaret är för stort\); .* "
                                          r"a page too large for the server: try a smaller --page-size"):
        source.read("groups", None, lambda *_: None)


def test_a_sole_traders_huvudman_whose_organisation_number_is_a_personal_identity_number_is_refused() -> None:
    """A sole trader's organisation number is their personal identity number: such a Huvudman (and what hangs
    under it) is refused naming the field and the rule, never made the municipality, never repeating it."""
    owner = {**HUV, "municipalityCode": "0180", "organisationNumber": "121212-1212"}
    the_plan, _ = read_and_plan(SpecServer({"organisations": [owner, SU]}).source(), since=None, naive_zone=ZONE)
    assert "organisations" not in the_plan.changes
    assert {r.reason for r in the_plan.refused} == {f"unit_id: {PIN_ERROR}", f"organiser_id: {PIN_ERROR}"}
    assert not any(contains_personal_identity_number(f"{r.id} {r.reason}") for r in the_plan.refused)
