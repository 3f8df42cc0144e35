"""What real SS 12000 servers differ in, each with the rule the importer keeps (docs/import.md, "A server"):
the base path, redirects, next links, page tokens with reserved characters, dates with offsets, ids in either
case, what /deletedEntities holds and how much of it is kept, and what is left out under a refused parent.
Each test failed on the code before this round where its docstring says so."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import GROUP_REFUSED
from styrkedja_cli.ss12000.models import source_date, timestamp
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError
from styrkedja_cli.ss12000.summary import _said

ZONE = ZoneInfo("Europe/Stockholm")
SINCE = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
HUV = {"id": "8e2c7a34-1c1b-4a4e-9d2f-0a6b5c4d3e21", "displayName": "Kommunen", "organisationType": "Huvudman",
       "municipalityCode": "2999", "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-01T08:00:00Z"}}
SU = {"id": "5B0D6E8F-2A4C-4E6B-8D0F-1A3C5E7F9B2D", "displayName": "Skolan", "organisationType": "Skolenhet",
      "schoolUnitCode": "29990011", "parentOrganisation": {"id": HUV["id"].upper()},
      "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-01T08:00:00Z"}}
STUDENT = "0b2d4f6a-8c1e-4a3b-9d5f-7e9a1b3c5d7f"
GROUP = {"id": "2d4f6b8c-0e3a-4c5d-9f7b-9a1c3e5f7b9d", "displayName": "7A", "groupType": "Klass",
         "startDate": "2026-08-17", "organisation": {"id": SU["id"].lower()},
         "groupMemberships": [{"person": {"id": STUDENT}, "startDate": "2026-08-17"}],
         "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-01T08:00:00Z"}}


class Server:
    """A server at `base` (a host and a base path): `{data, pageToken}` pages of `cap` items, the token an offset;
    `routes` answers a path first (a response, or a function of the request: a redirect, another status)."""

    def __init__(self, entities: dict[str, list[Any]], *, base: str = "https://ss12000.test/v2.0", cap: int = 1,
                 routes: dict[str, Any] | None = None, link: bool = False) -> None:
        self.entities, self.base, self.cap, self.routes, self.link = entities, httpx.URL(base), cap, routes or {}, link
        self.asked: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        if request.url.path in self.routes:
            route = self.routes[request.url.path]
            return route(request) if callable(route) else route
        if request.url.host != self.base.host or not request.url.path.startswith(self.base.path.rstrip("/") + "/"):
            return httpx.Response(404, json={"code": "not_found", "message": "no such path"})
        entity = request.url.path[len(self.base.path.rstrip("/")) + 1:].rstrip("/")
        items = self.entities.get(entity, [])
        if entity == "deletedEntities":
            return httpx.Response(200, json=items[int(request.url.params.get("pageToken", 0))])
        at = int(request.url.params.get("pageToken", 0))
        size = min(int(request.url.params.get("limit", self.cap)), self.cap)  # the server's own largest page
        body: dict[str, Any] = {"data": items[at:at + size]}
        headers = {"content-type": "application/json; charset=utf-8"}
        if at + size < len(items):
            if self.link:  # relative to the page, as RFC 8288 reads it
                headers["link"] = f'<?{httpx.QueryParams({"pageToken": str(at + size)})}>; rel="next"'
            else:
                body["pageToken"] = str(at + size)
        return httpx.Response(200, json=body, headers=headers)

    def source(self, url: str | None = None, **options: Any) -> HttpSource:
        client = httpx.Client(base_url=(url or str(self.base)).rstrip("/"), transport=httpx.MockTransport(self.handle),
                              headers={"Authorization": "Bearer secret"})
        return HttpSource(url or str(self.base), client=client, page_size=100, sleep=lambda _: None, **options)


def ids(source: HttpSource, entity: str = "organisations") -> list[str]:
    return [item.id for item in source.read(entity, None, lambda *_: None)]


# -- base path, redirects, next links ------------------------------------------------------------------------------

def test_a_url_without_the_apis_version_path_is_said_on_the_404() -> None:
    """Failed on the old code: `HTTP 404` alone, for the commonest mistake with a server (its API at …/v2.0)."""
    server = Server({"organisations": [HUV]})
    with pytest.raises(SourceError, match=r"organisations, page 1: HTTP 404 \(not_found: no such path\); is --url "
                                          r"the API's base\? .* e.g. https://ss12000.test/v2.0$"):
        ids(server.source("https://ss12000.test"))
    assert ids(server.source("https://ss12000.test/v2.0/")) == [HUV["id"]]  # a trailing slash is the same base


def test_a_redirect_on_the_same_server_is_followed_with_the_token_and_one_elsewhere_is_refused_without_it() -> None:
    """Failed on the old code: no redirect was followed, so a server that moved its API (`/v2.0/organisations` →
    `/api/v2.0/organisations/`, http → https) could not be read. Now a same-server one is; another host is
    refused naming it, and the token never goes there."""
    moved = Server({"organisations": [HUV, SU]}, base="https://ss12000.test/api/v2.0", cap=1, routes={
        "/v2.0/organisations": lambda request: httpx.Response(308, headers={
            "location": f"/api/v2.0/organisations/?{request.url.query.decode()}"})})
    assert ids(moved.source("https://ss12000.test/v2.0")) == [HUV["id"], SU["id"].lower()]
    assert [(r.url.path, r.headers["authorization"]) for r in moved.asked] == [
        ("/v2.0/organisations", "Bearer secret"), ("/api/v2.0/organisations/", "Bearer secret")] * 2
    assert moved.asked[3].url.params["pageToken"] == "1"  # the query of the page asked goes along the redirect

    upgraded = Server({"organisations": [HUV]}, base="https://ss12000.test/v2.0", routes={})
    first = httpx.Response(301, headers={"location": "https://ss12000.test/v2.0/organisations?limit=100"})
    asked: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return first if request.url.scheme == "http" else upgraded.handle(request)

    client = httpx.Client(base_url="http://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
    assert ids(HttpSource("http://ss12000.test/v2.0", client=client)) == [HUV["id"]]
    assert [u.scheme for u in asked] == ["http", "https"]

    for elsewhere in ("https://other.test/v2.0/organisations", "https://ss12000.test:8443/v2.0/organisations",
                      "//other.test/v2.0/organisations"):
        away = Server({"organisations": [HUV]}, routes={
            "/v2.0/organisations": httpx.Response(302, headers={"location": elsewhere})})
        with pytest.raises(SourceError, match=r"organisations, page 1: HTTP 302 redirects to another server "
                                              r"\(https://(other.test|ss12000.test:8443)\): not followed"):
            ids(away.source())
        assert [r.url.host for r in away.asked] == ["ss12000.test"]
    down = Server({"organisations": [HUV]}, routes={
        "/v2.0/organisations": httpx.Response(302, headers={"location": "http://ss12000.test/v2.0/organisations"})})
    with pytest.raises(SourceError, match=r"redirects to another server \(http://ss12000.test\)"):  # https → http
        ids(down.source())


def test_a_redirect_loop_stops_after_five() -> None:
    loop = Server({}, routes={"/v2.0/organisations": httpx.Response(307, headers={"location": "organisations"})})
    with pytest.raises(SourceError, match="organisations, page 1: more than 5 redirects"):
        ids(loop.source())
    assert len(loop.asked) == 6


def test_a_relative_next_link_is_read_against_its_page() -> None:
    """Failed on the old code: `Link: <?pageToken=1>; rel="next"` was joined to the base URL (…/v2.0/?pageToken=1),
    a 404 on page 2 (the spec-driven property found it)."""
    server = Server({"organisations": [HUV, SU]}, link=True)
    assert ids(server.source()) == [HUV["id"], SU["id"].lower()]
    # the link's own query, and the `limit` it lacked (every page is asked with the same query: round 25)
    assert [str(r.url) for r in server.asked][1] == "https://ss12000.test/v2.0/organisations?pageToken=1&limit=100"


def test_a_page_token_with_reserved_characters_goes_back_as_given() -> None:
    tokens = ["a+b/c==", "x y&z=1", "ö%20"]
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        asked.append(token or "")
        at = 0 if token is None else tokens.index(token) + 1
        return httpx.Response(200, json={"data": [{**HUV, "id": f"o{at}"}],
                                         "pageToken": tokens[at] if at < len(tokens) else None})

    client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
    assert ids(HttpSource("https://ss12000.test/v2.0", client=client)) == ["o0", "o1", "o2", "o3"]
    assert asked == ["", *tokens]


# -- dates, ids ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "day"), [
    ("2026-08-17+02:00", date(2026, 8, 17)), ("2026-08-17Z", date(2026, 8, 17)),  # XML Schema's xs:date
    ("2026-08-17-05:00", date(2026, 8, 17)),
    ("2026-08-16T22:00:00+0000", date(2026, 8, 17)), ("2026-08-16T23:30:00.5-02", date(2026, 8, 17)),
    ("2026-08-17T08:00:00+0200", date(2026, 8, 17))])
def test_a_date_with_an_offset_is_its_day(written: str, day: date) -> None:
    """Failed on the old code: a date with an offset (Java's and .NET's XML-bred serialisers write `2026-08-17+02:00`)
    or a date-time with a basic offset (`+0200`, Java's SimpleDateFormat) refused its whole page."""
    assert source_date(written) == day


def test_a_leap_second_is_the_last_second_of_its_minute() -> None:
    """Failed on the old code: RFC 3339 allows `23:59:60`; `meta.modified` so refused its page."""
    assert timestamp("2016-12-31T23:59:60Z") == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_ids_in_either_case_are_one_entity_across_pages_and_references() -> None:
    """An id in upper case on one page and in lower case on the next (or in a reference) is one entity, read once."""
    server = Server({"organisations": [HUV, SU, {**SU, "id": SU["id"].lower(), "parentOrganisation": {
        "id": HUV["id"]}}], "groups": [GROUP]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    units = [(c["data"]["unit_type"], c["data"]["unit_id"]) for c in the_plan.changes["organisations"]]
    assert units == [("organiser", "2999"), ("school_unit", SU["id"].lower())]
    assert [c["data"]["parent_id"] for c in the_plan.changes["groups"]] == [SU["id"].lower()]


# -- what hangs under a refused parent ------------------------------------------------------------------------------

def test_a_group_refused_for_its_name_leaves_out_its_memberships_and_says_why() -> None:
    """Failed on the old code: a group's name the directory cannot take (spec-valid: "" or 201 characters) refused
    the whole page, and a group refused for its content had its memberships sent for a group reporting does not
    have. Now the group alone is refused (its field and rule), what hangs under it left out naming it, and the
    summary says per refused parent why, and what was left out under it."""
    for name, rule in (("", "displayName: String should have at least 1 character"),
                       ("x" * 201, "displayName: String should have at most 200 characters")):
        server = Server({"organisations": [HUV, SU], "groups": [{**GROUP, "displayName": name}]})
        the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
        assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [("groups", GROUP["id"], rule)]
        assert "memberships" not in the_plan.changes
        assert [(r.entity, r.id, r.reason) for r in the_plan.under_refused] == [
            ("memberships", f"{GROUP['id']}/{STUDENT}", f"{GROUP_REFUSED} ({GROUP['id']})")]
        said = _said(the_plan, [])
        assert f"{GROUP_REFUSED}: 1 memberships" in said
        assert f"groups {GROUP['id']}: refused ({rule}); left out under it: 1 memberships" in said


def test_a_refused_school_units_reason_is_said_with_what_was_left_out_under_it() -> None:
    """The unit's id and its reason on one line with the counts under it (before: the counts of all refused units
    together, and each item naming the unit, its reason only on the unit's own line)."""
    server = Server({"organisations": [HUV, {**SU, "schoolUnitCode": "123"}], "groups": [GROUP]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    said = _said(the_plan, [])
    line = next(s for s in said if s.startswith(f"organisations {SU['id'].lower()}: refused (schoolUnitCode:"))
    assert line.endswith("; left out under it: 1 groups, 1 memberships"), line


# -- /deletedEntities ------------------------------------------------------------------------------------------------

def test_deleted_entities_keeps_the_kinds_it_imports_in_any_shape_and_spelling() -> None:
    """The specification spells the activities' list `activitites`; persons' and the kinds not imported (absences,
    calendar events…) are skipped as they stream by (before: every kind's ids kept, persons' excepted)."""
    pages = [{"data": {"organisations": [HUV["id"]], "groups": [GROUP["id"].upper()], "persons": [STUDENT],
                       "absences": ["ab1", "ab2"], "activitites": ["act1"], "duties": None,
                       "calendarEvents": [{"id": "ce1"}]}, "pageToken": "1"},
             {"data": [{"id": "d1", "type": "Duty"}, {"id": STUDENT, "type": "Person"}, {"id": "r1", "type": "Room"},
                       "g9"], "pageToken": None}]
    server = Server({"deletedEntities": pages})
    assert server.source().deleted(SINCE) == [HUV["id"], GROUP["id"], "act1", "d1", "g9"]
    assert [set(r.url.params) for r in server.asked] == [{"after", "limit"}, {"pageToken", "limit"}]


@pytest.mark.parametrize(("page", "rule"), [
    ({"data": {"groups": [1]}}, "'groups' holds an id that is not a string"),
    ({"data": {"groups": "g1"}}, "'groups' must be a list"),
    ({"data": [{"type": "Group"}]}, "'data' holds an id that is not a string"),
    ({"data": "x"}, "expected an object of id lists"),
    ({"data": {}, "pageToken": 5}, "pageToken must be a string"),
    ({"groups": "g1"}, "'groups' must be a list"),
    ('{"data": {"groups": ["g1"], "groups": ["g2"]}}', "an object holds the key 'groups' twice"),
])
def test_a_deleted_entities_page_of_another_shape_is_refused_naming_the_rule(page: Any, rule: str) -> None:
    text = page if isinstance(page, str) else json.dumps(page)
    server = Server({}, routes={"/v2.0/deletedEntities": httpx.Response(200, text=text)})
    with pytest.raises(SourceError, match=f"deletedEntities, page 1: .*{rule}"):
        server.source().deleted(SINCE)


def test_a_deleted_entities_page_is_streamed_its_ids_kept_not_its_objects(tmp_path: Path) -> None:
    """Failed on the old code, which parsed a page whole: a page of 300,000 absences' ids and 20,000 groups' became
    every object of it at once. Now what is held beyond the page's bytes is the groups' ids."""
    absences = [{"id": f"0000{n:04x}-0000-4000-8000-000000000000", "type": "Absence", "meta": {}}
                for n in range(60_000)]
    body = json.dumps({"data": [*absences, *({"id": f"g{n}", "type": "Group"} for n in range(2_000))]}).encode()
    server = Server({}, routes={"/v2.0/deletedEntities": httpx.Response(200, content=body)})
    source = server.source()
    tracemalloc.start()
    try:
        found = source.deleted(SINCE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found) == 2_000
    assert peak - len(body) < 2_000_000, peak  # parsed whole: some 30 MB for the absences' objects

    (tmp_path / "deletedEntities.json").write_bytes(body)
    tracemalloc.start()
    try:
        assert len(FolderSource(tmp_path).deleted(SINCE)) == 2_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def test_an_empty_last_page_answering_with_the_token_it_was_asked_with_ends_the_list() -> None:
    """Failed on the old code ("the server repeated a pageToken"): a cursor API's last page, empty, gives back the
    cursor it was asked with. Any other repeat is still a loop: A, B, A … or a page with items repeating its token."""
    def serve(pages: list[dict[str, Any]]) -> HttpSource:
        def handle(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=pages[{"": 0, "A": 1, "B": 2}[request.url.params.get("pageToken", "")]])

        client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
        return HttpSource("https://ss12000.test/v2.0", client=client)

    assert ids(serve([{"data": [HUV], "pageToken": "A"}, {"data": [], "pageToken": "A"}])) == [HUV["id"]]
    with pytest.raises(SourceError, match="organisations, page 2: the server repeated a pageToken"):
        ids(serve([{"data": [HUV], "pageToken": "A"}, {"data": [{**HUV, "id": "o2"}], "pageToken": "A"}]))
    with pytest.raises(SourceError, match="organisations, page 3: the server repeated a pageToken"):
        ids(serve([{"data": [HUV], "pageToken": "A"}, {"data": [], "pageToken": "B"}, {"data": [], "pageToken": "A"}]))


def test_a_group_fetched_by_id_is_asked_in_the_servers_own_case_too() -> None:
    """Failed on the old code: an incremental run asks for a group an activity names by its id, in lower case as
    ids are read; a server that keeps ids as text answered 404 for its upper-case group, and the activity was refused
    as naming an unknown group."""
    upper = GROUP["id"].upper()

    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == f"/v2.0/groups/{upper}":
            return httpx.Response(200, json={**GROUP, "id": upper})
        return httpx.Response(404, json={"code": "not_found", "message": "no such group"})

    client = httpx.Client(base_url="https://ss12000.test/v2.0", transport=httpx.MockTransport(handle))
    source = HttpSource("https://ss12000.test/v2.0", client=client)
    assert source.one("groups", GROUP["id"].lower()).id == GROUP["id"].lower()
    assert source.one("groups", "not-a-uuid") is None
    assert asked == [f"/v2.0/groups/{GROUP['id'].lower()}", f"/v2.0/groups/{upper}", "/v2.0/groups/not-a-uuid"]


def test_a_group_served_without_its_memberships_keeps_those_reporting_holds() -> None:
    """`groupMemberships` is optional on a group (a server may serve memberships only on persons, with
    `expand=groupMemberships`). Failed on the old code: such a group read as one with no members, and a full import
    removed every membership reporting held for it (or, with many, stopped as a mass removal every run). Now its
    members are unknown: none sent, none removed, said; a group served with `"groupMemberships": []` has none."""
    from styrkedja_cli.ss12000.moves import vanished

    bare = {k: v for k, v in GROUP.items() if k != "groupMemberships"}
    empty = {**GROUP, "id": "g-empty", "displayName": "7B", "groupMemberships": []}
    server = Server({"organisations": [HUV, SU], "groups": [bare, empty]})
    the_plan, _ = read_and_plan(server.source(), since=None, naive_zone=ZONE)
    assert the_plan.members_unknown == {GROUP["id"]}
    held = {"2999": [(f"membership:{GROUP['id']}-{STUDENT}", GROUP["id"]), ("membership:g-empty-x", "g-empty")]}
    sent = {("2999", f"unit:group:29990011:{GROUP['id']}"), ("2999", "unit:group:29990011:g-empty")}
    assert vanished(the_plan, sent, held) == [("2999", "membership:g-empty-x")]
    assert any(line.startswith("groups: 1 served without groupMemberships") for line in _said(the_plan, []))
