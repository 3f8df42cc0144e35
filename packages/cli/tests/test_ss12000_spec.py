"""The importer against a server that does what the SS 12000:2020 API v2 specification allows, and no more.

Checked against the implementation specification of SS 12000:2020 by SIS TK450 (openapi.yaml 2.0.0, with
common.yaml, Organisation/Group/Duty/Person/Enrolment/Activity/Syllabus.yaml, paths/*.yaml and
paths/searchParameters.yaml) and against Skolverket's reference API (dnp-ss12000-reference-api, its exposed
openapi.yml and RequestHelper): what a server may leave out, add, spell otherwise or answer, each served by
`SpecServer` below. The server is an `httpx.MockTransport` handler: no network."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import NO_PERSON, NO_TYPE, STAFF_GROUP_RULE
from styrkedja_cli.ss12000.moves import vanished
from styrkedja_cli.ss12000.oauth import ClientCredentials
from styrkedja_cli.ss12000.source import HttpSource, SourceError
from styrkedja_cli.ss12000.summary import _said
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
#: where `SpecServer`'s token endpoint answers (its `token` variation)
TOKEN_URL = "https://idp.example/token"
FILTERS = ("meta.created.before", "meta.created.after", "meta.modified.before", "meta.modified.after", "after",
           "entities", "sortkey", "expand", "expandReferenceNames")


class SpecServer:
    """An SS 12000 server by the letter: `{data, pageToken}` pages of at most `cap` items (fewer than asked is
    allowed), an opaque pageToken, the last page's token null (and an empty last page), `meta.modified.after`
    exclusive, and a pageToken combined with any filter answered 400 in the specification's error shape
    (`400_invalid_filter`: filters "kan inte kombineras med pageToken", only `limit` may go along), as
    Skolverket's reference API does (`RequestHelper.queryParamsValid`).

    Its variations, as other servers of the specification answer: `inclusive`, `meta.modified.after` on or after
    (the reference API's own words: "modified on or after this timestamp"); `fastapi`, errors as a FastAPI server
    raises them (`{"detail": {code, message}}`, and its validation's 422 `{"detail": [{loc, msg}]}` for a `limit`
    over `max_limit`), and a token endpoint (`TOKEN_URL`) reading the client's id and secret from the form alone,
    answering HTTP Basic with FastAPI's 422 for the form's missing field (John-Hammer/ss12000-demo-sis)."""

    def __init__(self, entities: dict[str, list[dict[str, Any]]], *, cap: int = 2,
                 deleted: dict[str, list[str]] | None = None, inclusive: bool = False, fastapi: bool = False,
                 max_limit: int | None = None, deleted_at: dict[str, str] | None = None) -> None:
        self.entities, self.cap, self.deleted = entities, cap, deleted or {}
        self.deleted_at = deleted_at or {}  # when an id of `deleted` was deleted: filtered by `after` as the lists
        self.inclusive, self.fastapi, self.max_limit = inclusive, fastapi, max_limit
        self.asked: list[httpx.URL] = []
        self.issued: list[str] = []  # tokens the form-only endpoint gave

    def _error(self, status: int, code: str, message: str) -> httpx.Response:
        body = {"code": code, "message": message}
        return httpx.Response(status, json={"detail": body} if self.fastapi else body)

    def _since(self, stamp: str, after: datetime) -> bool:
        """Whether `stamp` (as the server stores it) passes its filter `after`: `>`, or `>=` if `inclusive`."""
        when = datetime.fromisoformat(stamp)
        return when > after or (self.inclusive and when == after)

    def token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        missing = [name for name in ("grant_type", "client_id", "client_secret") if name not in form]
        if missing:  # FastAPI's `Form(...)`: HTTP Basic is no form field
            return httpx.Response(422, json={"detail": [{"type": "missing", "loc": ["body", name],
                                                         "msg": "Field required", "input": None}
                                                        for name in missing]})
        self.issued.append(f"tok-{len(self.issued) + 1}")
        return httpx.Response(200, json={"access_token": self.issued[-1], "token_type": "bearer", "expires_in": 3600})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return self.token(request)
        if self.issued and request.headers.get("authorization") != f"Bearer {self.issued[-1]}":
            return httpx.Response(401, json={"detail": "Invalid or expired token"})
        self.asked.append(request.url)
        params = request.url.params
        if "pageToken" in params and any(f in params for f in FILTERS):
            return self._error(400, "invalid_filter", "Filter kan inte kombineras med pageToken")
        if self.max_limit is not None and int(params.get("limit", 0)) > self.max_limit:
            return httpx.Response(422, json={"detail": [{
                "type": "less_than_equal", "loc": ["query", "limit"], "input": params["limit"],
                "msg": f"Input should be less than or equal to {self.max_limit}"}]})
        entity, _, ident = request.url.path.strip("/").partition("/")
        if entity == "deletedEntities":
            after = datetime.fromisoformat(params["after"]) if "after" in params else None
            return httpx.Response(200, json={"data": {kind: [i for i in ids if after is None or i not in self.deleted_at
                                                             or self._since(self.deleted_at[i], after)]
                                                      for kind, ids in self.deleted.items()}, "pageToken": None})
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
            items = [i for i in items if self._since(i.get("meta", {}).get("modified", "1970-01-01T00:00:00Z"), after)]
        size = min(int(params.get("limit", self.cap)), self.cap)
        page = items[state["at"]:state["at"] + size]
        more = state["at"] + size <= len(items)  # a last page that is empty, as servers send it
        token = base64.urlsafe_b64encode(json.dumps({**state, "at": state["at"] + size}).encode()).decode()
        return httpx.Response(200, json={"data": page, "pageToken": token if more else None})

    def source(self, page_size: int = 100, auth: ClientCredentials | None = None,
               on_note: Callable[[str], None] | None = None) -> HttpSource:
        client = httpx.Client(transport=httpx.MockTransport(self.handle), base_url="http://ss12000.example")
        return HttpSource("http://ss12000.example", client=client, page_size=page_size, sleep=lambda _: None,
                          auth=auth, on_note=on_note)

    def client_credentials(self) -> ClientCredentials:
        """A grant of the server's own token endpoint (`TOKEN_URL`)."""
        return ClientCredentials(TOKEN_URL, "importer", "s3cret",
                                 client=httpx.Client(transport=httpx.MockTransport(self.handle)), sleep=lambda _: None)


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
    assert [u.params["meta.modified.after"] for u in firsts] == ["2026-09-01T11:59:59+00:00"]  # SINCE_SLACK
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
    assert asked[0].params["after"] == "2026-09-01T11:59:59+00:00" and set(asked[1].params) == {"pageToken", "limit"}


@pytest.mark.parametrize(("status", "body", "said"), [
    (400, {"code": "invalid_filter", "message": "Filter kan inte kombineras med pageToken"},
     r"HTTP 400 \(invalid_filter: Filter kan inte kombineras med pageToken\)"),
    (401, {"code": "token_expired", "message": "Token\nexpired"}, r"HTTP 401 \(token_expired: Token expired\)"),
    (403, {"code": "forbidden", "message": f"no access for {PIN}"}, r"HTTP 403 \(forbidden: no access for \[REDACTED\]\)"),
    (404, None, r"HTTP 404; is --url the API.s base\? SS 12000 servers serve it under its version, e.g. "
               r"http://ss12000.example/v2.0$"),
    (500, {"error": {"code": 500, "message": "Internal server error."}},  # Skolverket's reference API's shape
     r"HTTP 500 \(500: Internal server error.\)"),
    (500, "<html>oops</html>", r"HTTP 500 \(a text/plain body, no SS 12000 error\)$"),
])
def test_an_error_in_the_specifications_shape_is_named_with_its_code_and_message(status, body, said) -> None:
    """Failed on the old code: only the status was said ("HTTP 400"), not the server's code and message."""
    def handle(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, **({"text": body} if isinstance(body, str) else {"json": body}))

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.example")
    with pytest.raises(SourceError, match=f"organisations, page 1: {said}") as error:
        HttpSource("http://ss12000.example", client=client, sleep=lambda _: None).read(  # a 5xx: asked again, unwaited
            "organisations", None, lambda *_: None)
    assert not contains_personal_identity_number(str(error.value))


GONE = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def test_uuids_in_upper_case_and_references_in_lower_case_name_one_entity() -> None:
    """`format: uuid` is case-insensitive: a server that writes its ids in upper case and its references in
    lower case (or the other way) is read as one entity, ids kept in lower case. Failed on the old code: the
    group was refused ("its organisation is not a known Skolenhet") and the activity with it."""
    upper = {**SU, "id": SU["id"].upper()}
    group = {**GROUP, "id": GROUP["id"].upper(), "groupMemberships": [{"person": {"id": STUDENT.upper()}}]}
    activity = {**ACTIVITY, "groups": [{"id": GROUP["id"]}], "teachers": [{"duty": {"id": DUTY["id"].upper()}}]}
    server = SpecServer({"organisations": [HUV, upper], "groups": [group], "duties": [DUTY],
                         "activities": [activity]}, deleted={"groups": [GONE.upper()]})
    the_plan, deleted = read_and_plan(server.source(), since=SINCE, naive_zone=ZONE)
    assert the_plan.refused == []
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == [GROUP["id"]]
    assert [c["data"]["student_id"] for c in the_plan.changes["memberships"]] == [STUDENT]
    assert [c["data"]["teacher_id"] for c in the_plan.changes["activities"]] == [TEACHER]
    # removes what an import of either spelling sent (another group's: one /deletedEntities names is not sent,
    # listed or not — deleted wins, round 31b)
    assert deleted == [GONE]


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
    assert ("memberships", f"groupMemberships[0].{NO_PERSON}") in refused and ("duties", NO_PERSON) in refused
    assert ("activities", "teachers.duty: duty duty-without-person is not known") in refused
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
    sent = json.dumps({entity: list(changes) for entity, changes in the_plan.changes.items()}, ensure_ascii=False)
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
    assert {r.reason for r in the_plan.refused} == {f"municipalityCode, organisationNumber: {PIN_ERROR}"}
    assert not any(contains_personal_identity_number(f"{r.id} {r.reason}") for r in the_plan.refused)


# --- second pass (ss12000d): dates, organisation trees, a source without a Huvudman, recreated entities,
# securityMarking. Each against the specification's Organisation.yaml/common.yaml (openapi.yaml 2.0.0) and
# Skolverket's reference API (its exposed openapi.yml and schema/organisation.schema.json)


@pytest.mark.parametrize(("written", "day"), [
    ("2026-08-17", "2026-08-17"),
    ("2026-08-17T00:00:00", "2026-08-17"),  # .NET's DateTime of a date column, no offset: Stockholm time
    ("2026-08-17T10:15:00", "2026-08-17"),  # a time of day: its day (refused the page before)
    ("2026-08-16T22:00:00Z", "2026-08-17"),  # Stockholm's midnight in UTC: the Stockholm day, not the UTC one
    ("2026-08-16t22:00:00.1234567z", "2026-08-17"),  # RFC 3339 §5.6: lower case t and z, any fraction
    ("2026-08-17T23:30:00+02:00", "2026-08-17"),
    ("2026-08-17T23:30:00-05:00", "2026-08-18"),  # the same instant is the next day in Stockholm
    ("2026-08-17 08:00:00+02:00", "2026-08-17"),  # RFC 3339's note: a space for T
])
def test_a_date_written_as_a_date_time_is_its_day_in_stockholm(written, day) -> None:
    """`format: date` is a full-date, but servers serialise date columns as date-times: the day is taken in
    Europe/Stockholm, with an offset converted to it, without one read as Stockholm time; the import says how
    many dates came so. Failed on the old code: a time of day or an offset refused the whole page ("Datetimes
    provided to dates should have zero time"), a UTC midnight was the day before."""
    group = {**GROUP, "startDate": written, "groupMemberships": [{"person": {"id": STUDENT}, "startDate": written,
                                                                  "endDate": written}]}
    server = SpecServer({"organisations": [HUV, {**SU, "startDate": written}], "groups": [group],
                         "duties": [{**DUTY, "startDate": written}]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert the_plan.refused == []
    membership = the_plan.changes["memberships"][0]["data"]
    assert membership["start_date"] == membership["end_date"] == day
    assert the_plan.changes["duties"][0]["data"]["start_date"] == day
    counted = {"startDate": 4, "endDate": 1} if "T" in written.upper() or " " in written else {}
    assert the_plan.dates_from_date_times == counted


@pytest.mark.parametrize(("written", "rule"), [
    ("17/08/2026", r"must be a date \(RFC 3339 full-date YYYY-MM-DD, SS 12000's format date\) or an RFC 3339"),
    ("2026-08-17T10:15", "must be a date"),  # no seconds: not RFC 3339
    ("2026-W34-1", "must be a date"),  # ISO 8601, which fromisoformat reads, but not RFC 3339
    ("2026-02-30", "not a real day"),
    ("2026-08-17T24:00:00", "not a real day"),
])
def test_a_date_in_no_form_the_specification_allows_refuses_the_item_naming_field_and_rule(written, rule) -> None:
    server = SpecServer({"organisations": [HUV, SU], "groups": [{**GROUP, "endDate": written}]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)  # (its page: session 34)
    [refused] = the_plan.refused
    assert (refused.entity, refused.id) == ("groups", GROUP["id"])
    assert re.match(f"endDate: Value error, {rule}", refused.reason), refused.reason


def org(ident: str, kind: str, parent: str | None, **more: Any) -> dict[str, Any]:
    return {"id": ident, "displayName": ident.title(), "organisationType": kind,
            **({"parentOrganisation": {"id": parent}} if parent else {}), **more}


def test_several_levels_above_the_school_unit_map_to_organiser_area_school_unit() -> None:
    """Huvudman → Förvaltning → Verksamhetsområde → Rektorsområde → Skola → Skolenhet, a Stadsdel with its school
    unit, a Förvaltning with its own, a company group above the Huvudman (organisationType Övrigt): the area is
    the topmost Verksamhetsområde or Stadsdel, else the topmost level that can be one (never a Skola); the other
    levels are folded, said and not sent. Failed on the old code: every level was an area under the organiser,
    the Förvaltning and the Rektorsområde empty areas, the school unit in the Skola's "area", and the company
    group refused ("no Huvudman above it")."""
    owner = {**HUV, "parentOrganisation": {"id": "koncern"}}
    tree = [org("koncern", "Övrigt", None), owner, org("forvaltning", "Förvaltning", HUV["id"]),
            org("vo-grund", "Verksamhetsområde", "forvaltning"), org("ro-norr", "Rektorsområde", "vo-grund"),
            org("skola-1", "Skola", "ro-norr"), {**SU, "parentOrganisation": {"id": "skola-1"}},
            org("su-2", "Skolenhet", "vo-grund", schoolUnitCode="29990012"),
            org("stadsdel", "Stadsdel", HUV["id"]), org("su-3", "Skolenhet", "stadsdel", schoolUnitCode="29990013"),
            org("gy-forv", "Förvaltning", HUV["id"]), org("su-4", "Skolenhet", "gy-forv", schoolUnitCode="29990014"),
            org("skola-2", "Skola", HUV["id"]), org("su-5", "Skolenhet", "skola-2", schoolUnitCode="29990015"),
            org("vo-ny", "Verksamhetsområde", "forvaltning")]  # no school unit yet: would be the area
    the_plan, _ = read_and_plan(SpecServer({"organisations": tree}, cap=5).source(), since=None, naive_zone=ZONE)
    assert the_plan.refused == []
    units = {c["data"]["unit_id"]: (c["data"]["unit_type"], c["data"].get("parent_id"))
             for c in the_plan.changes["organisations"]}
    assert units == {"2999": ("organiser", None), "vo-grund": ("area", "2999"), "stadsdel": ("area", "2999"),
                     "gy-forv": ("area", "2999"), "vo-ny": ("area", "2999"), SU["id"]: ("school_unit", "vo-grund"),
                     "su-2": ("school_unit", "vo-grund"), "su-3": ("school_unit", "stadsdel"),
                     "su-4": ("school_unit", "gy-forv"), "su-5": ("school_unit", "2999")}
    assert {f.id for f in the_plan.folded} == {"koncern", "forvaltning", "ro-norr", "skola-1", "skola-2"}
    reasons = {f.id: f.reason for f in the_plan.folded}
    assert reasons["ro-norr"] == reasons["skola-1"].replace("Skola", "Rektorsområde") == (
        "organisationType Rektorsområde: inside area vo-grund: its school units are that area's")
    assert reasons["skola-2"] == "organisationType Skola: its school units hang under the organiser (no area above them)"
    assert reasons["koncern"] == "above its Huvudman: no level of the directory"
    held = {"2999": [("unit:area::ro-norr", "ro-norr")]}  # an area an earlier import made of a folded level
    assert vanished(the_plan, set(), held) == [("2999", "unit:area::ro-norr")]


REFERENCE_ORGS = [  # Skolverket's reference API: id, schoolUnitCode, displayName; no type, parent or meta
    {"id": SU["id"], "schoolUnitCode": "29990011", "displayName": "Skolan"},
    {"id": "8b0e4c3d-2f5a-4b7c-9d1e-4f6a8b0c2d3e", "schoolUnitCode": "29990012", "displayName": "Skolan 2"}]


def test_skolverkets_reference_api_without_a_huvudman_needs_the_organiser_named() -> None:
    """Its organisations carry no organisationType and no parent: without a Huvudman whose the units are is
    unknown, and the import stops naming the rule and the flag, before anything is sent; with `--organiser` they
    are that organiser's school units (an organisation without a type is a Skolenhet when it has a code, else
    refused naming the field). Failed on the old code: every page refused ("organisationType: Field required")."""
    untyped = {"id": "no-type", "displayName": "Okänd"}
    server = SpecServer({"organisations": [*REFERENCE_ORGS, untyped], "groups": [GROUP]})
    with pytest.raises(SourceError, match=r"organisations: none is of organisationType Huvudman.*--organiser"):
        read_and_plan(server.source(), since=None, naive_zone=ZONE)
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE, organiser=("2999", "Kommunen"))
    units = {c["data"]["unit_id"]: c for c in the_plan.changes["organisations"]}
    assert next(iter(units)) == "2999"  # the organiser first, as a Huvudman usually comes
    assert units["2999"]["data"] | {"updated_at": None} == {
        "unit_type": "organiser", "unit_id": "2999", "organiser_id": "2999", "name": "Kommunen", "parent_id": None,
        "school_unit_code": None, "year": None, "roster_size": None, "updated_at": None}
    assert units["2999"]["source_id"] is None  # from no entity of the source
    assert [(units[o["id"]]["data"]["parent_id"], units[o["id"]]["data"]["school_unit_code"])
            for o in REFERENCE_ORGS] == [("2999", "29990011"), ("2999", "29990012")]
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == [GROUP["id"]]
    assert [(r.id, r.reason) for r in the_plan.refused] == [("no-type", NO_TYPE)]
    assert NO_TYPE.startswith("organisationType: ")
    with pytest.raises(SourceError, match=r"--organiser: the source has its own Huvudman"):
        read_and_plan(SpecServer({"organisations": [HUV, SU]}).source(), since=None, naive_zone=ZONE,
                      organiser=("2999", "Kommunen"))


@pytest.mark.parametrize(("flags", "said"), [
    (["--organiser", "29"], "--organiser: String should match pattern"),
    (["--organiser", "121212-1212"], "--organiser: "),  # a sole trader's number: a personal identity number
    (["--organiser", "2999", "--organiser-name", ""], "--organiser-name: "),
    (["--organiser-name", "Kommunen"], "--organiser-name goes with --organiser"),
])
def test_the_organiser_flags_are_checked_by_the_contracts_rules(tmp_path, flags, said) -> None:
    from typer.testing import CliRunner

    from styrkedja_cli.main import app

    result = CliRunner().invoke(app, ["import", "ss12000", "--dir", str(tmp_path), *flags])
    assert result.exit_code == 2 and said in " ".join(result.output.split()), result.output
    assert "1212-1212" not in result.output


def test_one_school_unit_code_on_two_units_or_one_group_name_twice_is_refused_as_possibly_recreated() -> None:
    """A source that deleted a school unit (or a group) and made it anew under a new id, and still serves the
    old: both refused naming the field and the other id, listed apart in the summary, nothing of them sent and
    nothing held for them removed (a refusal protects) — the directory is never left with both, half-applied.
    Two groups of one name at one unit in other periods (7A this year and last) are two groups. Failed on the
    old code: both units were sent with one code, both groups under one name."""
    again = {**SU, "id": "9c1f5d4e-3a6b-4c8d-8e2f-5a7b9c1d3e4f"}
    groups = [GROUP, {**GROUP, "id": "grp-again"}, {**GROUP, "id": "grp-last-year", "startDate": "2025-08-18"},
              {**GROUP, "id": "grp-other-unit", "organisation": {"id": "su-2"}}]
    server = SpecServer({"organisations": [HUV, SU, again, org("su-2", "Skolenhet", HUV["id"],
                                                               schoolUnitCode="29990012")], "groups": groups})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert [r.id for r in the_plan.recreated] == [SU["id"], again["id"]]
    assert the_plan.recreated[0].reason.startswith(f"schoolUnitCode: the same as on {again['id']} (2 Skolenheter")
    assert [c["data"]["unit_id"] for c in the_plan.changes["organisations"]] == ["2999", "su-2"]
    assert {r.id for r in the_plan.refused} == {SU["id"], again["id"]}
    # what hangs under either is left out with it, naming the unit (it was refused as "not a known Skolenhet")
    assert {(r.entity, r.id, r.reason) for r in the_plan.under_refused if r.entity == "groups"} == {
        ("groups", g["id"], f"left out: its school unit was refused ({SU['id']})") for g in groups[:3]}

    the_plan, _ = read_and_plan(SpecServer({"organisations": [HUV, SU], "groups": groups[:3]}).source(),
                                since=None, naive_zone=ZONE)
    assert [r.id for r in the_plan.recreated] == [GROUP["id"], "grp-again"]
    assert the_plan.recreated[1].reason.startswith(f"displayName: the same as on {GROUP['id']} (2 groups")
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == ["grp-last-year"]
    held = {"2999": [(f"unit:group:29990011:{GROUP['id']}", GROUP["id"]), ("membership:m1", GROUP["id"])]}
    assert vanished(the_plan, set(), held) == []  # what came from the old one stays until the source has one


class Reporting:
    """Reporting's directory writes as the importer sees them: what it holds, each change created."""

    def __init__(self, holds: list[tuple[str, str]]) -> None:
        self.holds, self.asked = holds, []  # type: list[tuple[str, str]], list[str]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(f"{request.method} {request.url.path}")
        if request.url.path == "/v1/directory/held":
            return httpx.Response(200, json={"items": [{"organiser_id": "2999", "entity_key": k} for k, _ in
                                                       self.holds], "source_ids": [s for _, s in self.holds]})
        body = json.loads(request.content)
        if request.url.path == "/v1/directory/removals":
            keys = [e["entity_key"] for e in body.get("entities", [])]
            keys += [k for k, source_id in self.holds if source_id in body.get("source_ids", [])]
            return httpx.Response(200, json={"created": 0, "changed": 0, "removed": len(keys), "unchanged": 0,
                                             "items": [{"status": "removed", "entity_key": k} for k in keys]})
        keys = [f"unit:{d['unit_type']}:{d['school_unit_code'] if d['unit_type'] == 'group' else ''}:{d['unit_id']}"
                if "unit_type" in d else f"other:{n}" for n, d in enumerate(i["data"] for i in body["items"])]
        return httpx.Response(200, json={"created": len(keys), "changed": 0, "removed": 0, "unchanged": 0,
                                         "items": [{"status": "created", "entity_key": k} for k in keys]})


def test_a_unit_deleted_and_recreated_under_a_new_id_is_said_in_a_full_imports_summary() -> None:
    """The source no longer serves the old id: a full import removes it and creates the new one, and the summary
    says so, per place (an organiser's school units, a school unit's groups), for a person to judge: the
    directory's history stays with the old id. Failed on the old code: only counts (1 created, 1 removed)."""
    from styrkedja_cli.ss12000.command import send

    new_su, new_group = {**SU, "id": "su-new"}, {**GROUP, "id": "grp-new", "organisation": {"id": "su-new"}}
    the_plan, _ = read_and_plan(SpecServer({"organisations": [HUV, new_su], "groups": [new_group]}).source(),
                                since=None, naive_zone=ZONE)
    reporting = Reporting([("unit:organiser::2999", HUV["id"]), (f"unit:school_unit::{SU['id']}", SU["id"]),
                           (f"unit:group:29990011:{GROUP['id']}", GROUP["id"])])
    notes: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(reporting.handle), base_url="http://reporting") as client:
        send(client, the_plan, [], removed_at=SINCE, full=True, notes=notes)
    assert notes == [
        f"school unit 29990011: group {GROUP['id']} removed and grp-new new — if the source deleted and recreated "
        "it under a new id, its history stays with the old id",
        f"organiser 2999: school unit {SU['id']} removed and su-new (school unit code 29990011) new — if the "
        "source deleted and recreated it under a new id, its history stays with the old id"]


def test_a_unit_deleted_and_recreated_is_said_in_an_incremental_imports_summary() -> None:
    """/deletedEntities names the old id, the changed entities hold the new one: said as in a full import."""
    from styrkedja_cli.ss12000.command import send

    new_group = {**GROUP, "id": "grp-new", "meta": {"modified": "2026-09-03T08:00:00Z"}}
    server = SpecServer({"organisations": [HUV, SU], "groups": [new_group]}, deleted={"groups": [GROUP["id"]]})
    the_plan, deleted = read_and_plan(server.source(), since=SINCE, naive_zone=ZONE)
    reporting = Reporting([(f"unit:group:29990011:{GROUP['id']}", GROUP["id"])])
    notes: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(reporting.handle), base_url="http://reporting") as client:
        send(client, the_plan, deleted, removed_at=SINCE, notes=notes)
    assert notes == [f"school unit 29990011: group {GROUP['id']} removed and grp-new new — if the source deleted "
                     "and recreated it under a new id, its history stays with the old id"]


def test_a_source_lacking_most_of_an_organiser_stops_before_anything_is_sent() -> None:
    """What reporting holds is read first: a full import whose source lacks most of an organiser stops with
    nothing applied. Failed on the old code: every change was sent first, the removals then refused."""
    from styrkedja_cli.ss12000.command import send

    reporting = Reporting([("unit:organiser::2999", HUV["id"])] + [(f"unit:group:29990011:g{n}", f"g{n}")
                                                                   for n in range(60)])
    the_plan, _ = read_and_plan(SpecServer({"organisations": [HUV, SU]}).source(), since=None, naive_zone=ZONE)
    with (httpx.Client(transport=httpx.MockTransport(reporting.handle), base_url="http://reporting") as client,
          pytest.raises(SourceError, match="the source lacks 60 of the 61 entities")):
        send(client, the_plan, [], removed_at=SINCE, full=True)
    assert reporting.asked == ["GET /v1/directory/held"]


def test_a_protected_persons_membership_and_duty_are_imported_as_anyones() -> None:
    """securityMarking (Sekretessmarkering, Skyddad folkbokföring) on a person or a person reference is never
    read: the changes sent, the refusals and what the summary says are the same, byte for byte, as for a person
    without one — no flag, nothing left out (a protected student missing from a roster would stand out by the
    difference), the same pseudonymous id."""
    def source(marking: str | None) -> SpecServer:
        mark = {"securityMarking": marking} if marking else {}
        person = {"id": STUDENT, **mark}
        group = {**GROUP, "groupMemberships": [{"person": person, "startDate": "2026-08-17"}]}
        bad = {**GROUP, "id": "bad", "organisation": {"id": "elsewhere"}, "groupMemberships": [{"person": person}]}
        return SpecServer({"organisations": [HUV, SU], "groups": [group, bad], "persons": [
            {"id": STUDENT, **mark, "enrolments": [{"enroledAt": {"id": SU["id"]}, "schoolYear": 7}]}],
            "duties": [{**DUTY, "person": {"id": TEACHER, **mark}}]})

    plans = [read_and_plan(source(m).source(), since=None, naive_zone=ZONE)[0]
             for m in (None, "Ingen", "Sekretessmarkering", "Skyddad folkbokföring")]
    for the_plan in plans:  # the duty has no meta: its time is the run's, which differs from run to run
        duty = the_plan.changes["duties"][0]  # a copy (`mapping.Changes`): put back changed
        the_plan.changes["duties"][0] = {**duty, "data": {**duty["data"], "updated_at": None}}
    said = [json.dumps([{entity: list(changes) for entity, changes in p.changes.items()}, [vars(r) for r in p.refused],
                        _said(p, [])], sort_keys=True) for p in plans]
    assert said[0] == said[1] == said[2] == said[3] and "ekretess" not in said[3] and "Skyddad" not in said[3]
    assert [c["data"]["student_id"] for c in plans[3].changes["memberships"]] == [STUDENT]
    assert plans[3].changes["groups"][0]["data"]["year"] == 7 and [r.id for r in plans[3].refused] == ["bad"]


def test_the_summary_says_what_was_folded_recreated_and_read_from_date_times(tmp_path, monkeypatch) -> None:
    """The command's own output, from a folder of a server's answers: the counts, then each refusal, what may be
    recreated, the levels folded and the dates read from date-times, with the zone."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from styrkedja_cli.main import app
    from styrkedja_cli.ss12000 import command

    again = {**SU, "id": "su-again", "schoolUnitCode": "29990012"}
    organisations = [HUV, org("forvaltning", "Förvaltning", HUV["id"]), org("vo", "Verksamhetsområde", "forvaltning"),
                     {**SU, "parentOrganisation": {"id": "vo"}}, again, {**again, "id": "su-again-2"}]
    (tmp_path / "organisations.json").write_text(json.dumps({"data": organisations, "pageToken": None}))
    (tmp_path / "groups.json").write_text(json.dumps([{**GROUP, "startDate": "2026-08-16T22:00:00Z"}]))
    for entity in ("duties", "activities"):
        (tmp_path / f"{entity}.json").write_text("[]")
    reporting = Reporting([("unit:organiser::2999", HUV["id"])])
    real_client = httpx.Client
    monkeypatch.setattr(command, "httpx", SimpleNamespace(
        Client=lambda **kwargs: real_client(transport=httpx.MockTransport(reporting.handle), **kwargs),
        HTTPError=httpx.HTTPError))
    result = CliRunner().invoke(app, ["import", "ss12000", "--dir", str(tmp_path)])
    said = " ".join(result.output.split())
    assert result.exit_code == 3, said  # two refused: the rest imported, not a silent success
    assert "possibly recreated under a new id (2 refused, nothing of them applied): organisations su-again, " \
           "organisations su-again-2" in said
    assert ("not a level of the directory, organisations forvaltning: organisationType Förvaltning: above a "
            "Verksamhetsområde or Stadsdel: each of its school units is in the one below it") in said
    assert "startDate: 1 dates written as a date-time, read as their day in Europe/Stockholm" in said
    assert "refused organisations su-again: schoolUnitCode: the same as on su-again-2" in said
