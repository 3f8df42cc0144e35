"""What real SS 12000 servers do that the specification's happy path does not (round f): a 204 for an empty list,
memberships served only on persons, refusals that must name the source's own field, busy and failing servers
(429 with Retry-After in seconds or as an HTTP date, 503, 500, a connection reset mid-page, a timeout), pages that
loop, repeat, differ in case, carry a BOM or bytes that are not UTF-8, errors as `application/problem+json`, and an
OAuth 2.0 token that expires during the import. `Weather` wraps a server (`Served`) with the faults; every pause is
recorded, never slept. Each test failed on the code before it, as its docstring says."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ss12000_fixtures import ACTIVITY, DUTY, GROUP, HUV, PIN, SU, ZONE
from styrkedja_cli.main import app
from styrkedja_cli.ss12000 import command, summary
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import TWICE
from styrkedja_cli.ss12000.oauth import ClientCredentials
from styrkedja_cli.ss12000.source import FolderSource, HttpSource, SourceError
from styrkedja_contracts.identifiers import contains_personal_identity_number

REAL_CLIENT = httpx.Client  # the class itself, as the tests below replace it for the command
GROUP = {**GROUP, "groupMemberships": [{"person": {"id": "p1"}, "startDate": "2026-08-17"}]}
PERSONS = [{"id": "p1", "givenName": "A", "familyName": "B", "civicNo": {"value": PIN}}]


def directory(**entities: Any) -> dict[str, list[Any]]:
    return {"organisations": [HUV, SU], "groups": [GROUP], "duties": [DUTY], "activities": [ACTIVITY],
            "persons": PERSONS, "syllabuses": [], **entities}


class Served:
    """A server of `entities`, `cap` items a page, paged by pageToken (the offset); `asked` every request's URL."""

    def __init__(self, entities: dict[str, list[Any]], cap: int = 2) -> None:
        self.entities, self.cap = entities, cap
        self.asked: list[httpx.URL] = []

    def page(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url)
        entity = request.url.path.strip("/")
        if entity not in self.entities:
            return httpx.Response(404, json={"code": "not_found", "message": "no such path"})
        at = int(request.url.params.get("pageToken", "0"))
        items = self.entities[entity][at:at + self.cap]
        more = at + self.cap < len(self.entities[entity])
        return httpx.Response(200, json={"data": items, **({"pageToken": str(at + self.cap)} if more else {})})


def source_of(handle: Callable[[httpx.Request], httpx.Response], **options: Any
              ) -> tuple[HttpSource, list[float], list[str]]:
    slept: list[float] = []
    said: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.test")
    source = HttpSource("http://ss12000.test", client=client, page_size=2, sleep=slept.append,
                        on_retry=lambda what, seconds: said.append(f"{what}; {seconds:g}"), on_note=said.append,
                        **options)
    return source, slept, said


def plan(source: HttpSource) -> Any:
    return read_and_plan(source, since=None, naive_zone=ZONE)[0]


def memberships(the_plan: Any) -> set[tuple[str, str, str | None, str | None]]:
    return {(c["data"]["group_id"], c["data"]["student_id"], c["data"]["start_date"], c["data"]["end_date"])
            for c in the_plan.changes.get("memberships", [])}


# -- 1. a 204 No Content on a list -----------------------------------------------------------------------------------

def test_a_204_on_a_list_is_an_empty_page_and_said() -> None:
    """Failed on the old code: `groups, page 2: HTTP 204` stopped the import (and /persons answered 204 stopped it
    at its first page)."""
    served = Served(directory(groups=[GROUP, {**GROUP, "id": "g2", "displayName": "7B"}]), cap=2)

    def handle(request: httpx.Request) -> httpx.Response:
        entity = request.url.path.strip("/")
        if entity == "persons" or (entity == "activities" and "pageToken" not in request.url.params):
            served.asked.append(request.url)
            return httpx.Response(204)
        return served.page(request)

    source, _, said = source_of(handle)
    the_plan = plan(source)
    assert {c["data"]["unit_id"] for c in the_plan.changes["groups"]} == {"g1", "g2"}
    assert "activities" not in the_plan.changes and not the_plan.refused
    assert "persons, page 1: HTTP 204 No Content, read as an empty page" in said
    assert "activities, page 1: HTTP 204 No Content, read as an empty page" in said
    assert source.notes == [s for s in said if "204" in s]


# -- 2. memberships wherever the specification lets a server state them --------------------------------------------

BARE = {k: v for k, v in GROUP.items() if k != "groupMemberships"}


def on_person(ident: str, *groups: str, where: str = "_embedded", **dates: str) -> dict[str, Any]:
    """A person stating its memberships of `groups`, in `_embedded.groupMemberships` (expand) or on itself."""
    entries = [{"group": {"id": g, "displayName": "7A", "groupType": "Klass"}, **dates} for g in groups]
    person = {"id": ident, "givenName": "A", "familyName": "B", "civicNo": {"value": PIN}}
    if where == "_embedded":
        return {**person, "_embedded": {"groupMemberships": entries, "duties": [{"civicNo": PIN}]}}
    return {**person, "groupMemberships": entries}


@pytest.mark.parametrize("where", ["_embedded", "person"])
def test_memberships_served_only_on_persons_are_imported(where: str) -> None:
    """Failed on the old code: a group without `groupMemberships` imported no memberships at all, and the persons'
    (`expand=groupMemberships`) were never asked for nor read. Now /persons is asked with the expansion (only
    then), and every person stating a list makes the groups' members known: none left unknown."""
    persons = [on_person("p1", "g1", where=where, startDate="2026-08-17"),
               on_person("p2", "g1", where=where, startDate="2026-09-01", endDate="2027-06-10"),
               on_person("p3", where=where)]
    served = Served(directory(groups=[BARE], persons=persons))
    the_plan = plan(source_of(served.page)[0])
    assert memberships(the_plan) == {("g1", "p1", "2026-08-17", None), ("g1", "p2", "2026-09-01", "2027-06-10")}
    assert not the_plan.members_unknown and not the_plan.refused
    persons_asked = [u for u in served.asked if u.path == "/persons"]
    # every page: a server may honour `expand` per request (it is no filter, which a pageToken carries: round 25)
    assert all(u.params["expand"] == "groupMemberships" for u in persons_asked)
    assert all("expand" not in u.params for u in served.asked if u.path != "/persons")
    assert not contains_personal_identity_number(repr(the_plan))


def test_persons_are_not_asked_to_expand_when_every_group_has_its_list() -> None:
    served = Served(directory(persons=[on_person("p1", "g1")]))
    plan(source_of(served.page)[0])
    assert all("expand" not in u.params for u in served.asked)


def test_a_group_that_states_its_list_wins_over_what_persons_state_and_the_difference_is_said() -> None:
    """The rule for conflicts: a group's own list is whole. Failed before: there was no rule (persons were not
    read); a person saying otherwise must neither add a member nor change dates, and it is said, counted."""
    group = {**GROUP, "groupMemberships": [{"person": {"id": "p1"}, "startDate": "2026-08-17"}]}
    persons = [on_person("p1", "g1", startDate="2026-08-17", endDate="2026-12-31"),  # another end: the group's
               on_person("p2", "g1", startDate="2026-08-17")]  # not in the group's list: not a member
    the_plan = plan(source_of(Served(directory(groups=[group], persons=persons)).page)[0])
    assert memberships(the_plan) == {("g1", "p1", "2026-08-17", None)}
    assert the_plan.membership_conflicts == {"g1": 3}  # p1's other end, p2, and the group's p1 unconfirmed
    said = summary._said(the_plan, [])
    assert any(line.startswith("memberships: 3 stated on persons otherwise than by their group's own "
                               "groupMemberships, in 1 groups: the group's list was imported (g1)") for line in said)


def test_a_membership_stated_twice_with_other_ends_is_refused_naming_both_places() -> None:
    """Failed before: both were sent under one membership id (the last one written won, by chance)."""
    person = on_person("p1", "g1", startDate="2026-08-17")
    person["_embedded"]["groupMemberships"].append({"group": {"id": "g1"}, "startDate": "2026-08-17",
                                                     "endDate": "2026-12-31"})
    the_plan = plan(source_of(Served(directory(groups=[BARE], persons=[person])).page)[0])
    assert "memberships" not in the_plan.changes
    assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [
        ("memberships", "g1/p1", TWICE.format(path="_embedded.groupMemberships[0]",
                                              other="_embedded.groupMemberships[1]"))]


def test_a_server_without_the_expansion_is_asked_again_plainly_and_the_members_stay_unknown() -> None:
    served = Served(directory(groups=[BARE], persons=[{"id": "p1", "givenName": "A", "familyName": "B"}]))

    def handle(request: httpx.Request) -> httpx.Response:
        if "expand" in request.url.params:
            served.asked.append(request.url)
            return httpx.Response(400, json={"code": "invalid_expand", "message": "expand stöds inte"})
        return served.page(request)

    source, _, said = source_of(handle)
    the_plan = plan(source)
    assert the_plan.members_unknown == {"g1"} and "memberships" not in the_plan.changes
    assert ("persons, page 1: HTTP 400 to expand=groupMemberships (invalid_expand: expand stöds inte): asked again "
            "without it (what persons would state of their groups is not read)") in said


def test_a_persons_membership_without_its_group_is_refused_naming_the_person_and_the_field() -> None:
    person = on_person("p1", "g1", startDate="2026-08-17")
    person["_embedded"]["groupMemberships"].insert(0, {"startDate": "2026-08-17"})
    person["_embedded"]["groupMemberships"].append({"group": {"id": "elsewhere"}})
    the_plan = plan(source_of(Served(directory(groups=[BARE], persons=[person])).page)[0])
    assert memberships(the_plan) == {("g1", "p1", "2026-08-17", None)}
    assert [(r.entity, r.id, r.reason.split(":")[0]) for r in the_plan.refused] == [
        ("persons", "p1", "_embedded.groupMemberships[0].group")]
    assert the_plan.memberships_of_unserved_groups == 1


# -- 3. a refusal names the field as the source has it -------------------------------------------------------------

@pytest.mark.parametrize(("entities", "entity", "field"), [
    ({"organisations": [HUV, {**SU, "schoolUnitCode": PIN}]}, "organisations", "schoolUnitCode"),
    ({"organisations": [HUV, {**SU, "displayName": ""}]}, "organisations", "displayName"),
    ({"organisations": [{**HUV, "municipalityCode": None, "organisationNumber": "121212-1212"}, SU]},
     "organisations", "municipalityCode, organisationNumber"),
    ({"groups": [{**GROUP, "displayName": "x" * 201}]}, "groups", "displayName"),
    ({"groups": [{**GROUP, "groupMemberships": [{"person": {"id": PIN.replace("-", "")}}]}]}, "memberships",
     "groupMemberships[0].person.id"),
    ({"duties": [{**DUTY, "dutyRole": "x" * 201}]}, "duties", "dutyRole"),
    ({"duties": [{**DUTY, "person": {"id": PIN.replace("-", "")}}]}, "duties", "person.id"),
    ({"groups": [BARE], "persons": [on_person(PIN.replace("-", ""), "g1", startDate="2026-08-17")]}, "memberships",
     "id"),
])
def test_a_refusal_names_the_source_field_the_operator_can_mend(entities, entity, field) -> None:
    """Failed on the old code: reasons named the directory contract's fields (`school_unit_code`, `name`,
    `student_id`, `person_id`, `duty_role`, `organiser_id`), which no SS 12000 server has."""
    the_plan = plan(source_of(Served(directory(**entities)).page)[0])
    reasons = [(r.entity, r.reason.rsplit(": ", 1)[0].split(": ")[0]) for r in the_plan.refused]
    assert (entity, field) in reasons, the_plan.refused
    for r in the_plan.refused:
        assert not any(name in r.reason.split(":")[0] for name in ("school_unit_code", "student_id", "person_id",
                                                                   "duty_role", "organiser_id", "unit_id"))
        assert not contains_personal_identity_number(f"{r.id} {r.reason}")


# -- 4. busy, failing and slow servers -------------------------------------------------------------------------------

def _reset_mid_page(request: httpx.Request) -> httpx.Response:
    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"data": [{"id": "huv", "displayName": "Kom'
            raise httpx.ReadError("connection reset by peer", request=request)

    return httpx.Response(200, stream=Broken(), headers={"content-type": "application/json"})


WEATHER: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "429 seconds": lambda r: httpx.Response(429, headers={"Retry-After": "7"}),
    "429 date": lambda r: httpx.Response(429, headers={"Retry-After": format_datetime(
        datetime.now(UTC) + timedelta(seconds=30), usegmt=True)}),
    "503": lambda r: httpx.Response(503, json={"code": "503_overload", "message": "later"}),
    "502": lambda r: httpx.Response(502, text="<html>bad gateway</html>"),
    "500": lambda r: httpx.Response(500, json={"code": "internal", "message": "deadlock victim"}),
    "reset mid-page": _reset_mid_page,
    "read timeout": lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
    "closed before answering": lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("closed", request=r)),
}


class Weather:
    """`served` with a fault on the n-th requests named in `faults` (n counted from 1), answered normally after."""

    def __init__(self, served: Served, faults: dict[int, str]) -> None:
        self.served, self.faults, self.calls = served, faults, 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        fault = self.faults.get(self.calls)
        return WEATHER[fault](request) if fault else self.served.page(request)


def _changes(the_plan: Any) -> Any:
    """The plan's changes, but for `updated_at` (the time of planning for an item without `meta`)."""
    return {e: sorted(json.dumps({**c, "data": {**c["data"], "updated_at": None}}, sort_keys=True) for c in cs)
            for e, cs in the_plan.changes.items()}


@pytest.mark.parametrize("fault", sorted(WEATHER))
def test_a_server_failing_for_a_while_is_asked_again_and_imports_the_same(fault: str) -> None:
    """On every page of every entity in turn (a fault on request 1, 3, 5, …). Failed on the old code for "500":
    a single 500 (a database restart, a deadlock victim) stopped the import."""
    calm = plan(source_of(Served(directory()).page)[0])
    weather = Weather(Served(directory()), dict.fromkeys(range(1, 40, 2), fault))
    source, slept, said = source_of(weather.handle)
    assert _changes(plan(source)) == _changes(calm)
    assert slept and all(0 <= s <= 120 for s in slept) and len(said) == len(slept)
    if fault == "429 seconds":
        assert set(slept) == {7}
    if fault == "429 date":
        assert all(20 <= s <= 30 for s in slept)


@pytest.mark.parametrize(("fault", "said"), [  # (the test's client has httpx's default timeout, 5 s)
    ("500", r"^organisations, page 1: HTTP 500 \(internal: deadlock victim\)$"),
    ("503", r"^organisations, page 1: HTTP 503 \(503_overload: later\); the specification's 503 also means"),
    ("read timeout", r"^organisations, page 1: the SS 12000 server at http://ss12000.test did not answer within 5 s "
                     r"\(--timeout, ReadTimeout, 6 attempts\); its address is set by --url$"),
    ("reset mid-page", r"^organisations, page 1: ReadError \(6 attempts\): the connection broke while the answer was "
                       r"read \(reset by the server, or on the way\)$"),
])
def test_a_server_failing_for_good_stops_after_bounded_attempts_naming_why(fault: str, said: str) -> None:
    source, slept, _ = source_of(Weather(Served(directory()), dict.fromkeys(range(1, 100), fault)).handle)
    with pytest.raises(SourceError, match=said):
        plan(source)
    assert slept == [1, 2, 4, 8, 16]  # six attempts, growing pauses: 31 s at most, not for ever


def test_a_connect_timeout_is_named_with_the_clients_own_timeout() -> None:
    client = httpx.Client(transport=httpx.MockTransport(
        lambda r: (_ for _ in ()).throw(httpx.ConnectTimeout("no route", request=r))),
        base_url="http://ss12000.test", timeout=httpx.Timeout(5.0, connect=2.5))
    source = HttpSource("http://ss12000.test", client=client, sleep=lambda _: None, attempts=2)
    # in every command's words (styrkedja_kit.reach): which server, after how long, what sets the wait and the address
    with pytest.raises(SourceError, match=r"^organisations, page 1: the SS 12000 server at http://ss12000.test did not "
                                          r"answer within 2.5 s \(--timeout, ConnectTimeout, 2 attempts\); its address "
                                          r"is set by --url$"):
        source.read("organisations", None, lambda *_: None)


# -- 5. pages that are large, loop, repeat, differ in case, or are not UTF-8 ---------------------------------------

def test_a_huge_page_is_read_whole() -> None:
    """A server ignoring `limit`: one page of 30,000 groups (gzip), read as streamed items."""
    groups = [{**BARE, "id": f"g{n}", "displayName": f"G{n}"} for n in range(30_000)]

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.dumps({"data": groups if request.url.path == "/groups" else []}).encode()
        return httpx.Response(200, content=gzip.compress(body), headers={"content-encoding": "gzip"})

    source, _, _ = source_of(handle)
    counted: list[int] = []
    assert len(source.read("groups", None, lambda _, n: counted.append(n))) == 30_000
    assert counted[-1] == 30_000


def test_pagination_tokens_that_loop_stop_with_a_clear_error() -> None:
    """A → B → A: stopped at the third page, never read for ever."""
    tokens = {None: "A", "A": "B", "B": "A"}

    def handle(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        return httpx.Response(200, json={"data": [{**HUV, "id": f"o-{token}"}], "pageToken": tokens[token]})

    source, _, _ = source_of(handle)
    with pytest.raises(SourceError, match=r"^organisations, page 3: the server repeated a pageToken$"):
        source.read("organisations", None, lambda *_: None)


def test_duplicate_ids_across_pages_and_uuids_differing_in_case_are_read_once() -> None:
    ident = "2d4f6b8c-0e3a-4c5d-9f7b-9a1c3e5f7b9d"
    group = {**GROUP, "id": ident}
    pages = [[GROUP, group], [GROUP, {**group, "id": ident.upper()}], [{**GROUP, "displayName": "7Z"}]]

    def handle(request: httpx.Request) -> httpx.Response:
        at = int(request.url.params.get("pageToken", "0"))
        return httpx.Response(200, json={"data": pages[at], **({"pageToken": str(at + 1)} if at < 2 else {})})

    source, _, _ = source_of(handle)
    with pytest.raises(SourceError, match="groups, page 3: item g1 is on page 1 too, with other content"):
        source.read("groups", None, lambda *_: None)
    del pages[2]
    pages[1].append(GROUP)
    source, _, _ = source_of(lambda request: handle(request) if int(request.url.params.get("pageToken", "0")) < 2
                             else httpx.Response(200, json={"data": []}))
    assert [g.id for g in source.read("groups", None, lambda *_: None)] == ["g1", ident]


def test_ids_of_one_entity_differing_only_in_case_are_imported_as_given_and_said() -> None:
    """The rule stays (test_ss12000_hostile_round2: an id that is no UUID is exact), but it is no longer silent:
    on the old code `G1` and `g1` went in as two groups without a word, which a source comparing ids without case
    (as many databases do) means as one."""
    groups = [GROUP, {**GROUP, "id": "G1", "displayName": "7B"}, {**GROUP, "id": "g2", "displayName": "7C"}]
    the_plan = plan(source_of(Served(directory(groups=groups)).page)[0])
    assert [c["data"]["unit_id"] for c in the_plan.changes["groups"]] == ["g1", "G1", "g2"]
    assert the_plan.case_apart == ["groups G1, g1"]
    assert ("ids differing only in case, imported as two (ids that are no UUIDs are exact; if the source reads them "
            "as one, mend it there): groups G1, g1") in summary._said(the_plan, [])


@pytest.mark.parametrize(("body", "said"), [
    (b'\xef\xbb\xbf{"data": [{"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman"}]}', None),
    (b'{"data": [{"id": "huv", "displayName": "Kommun\xe5n"}]}', r"not UTF-8 \(byte E5 at line 1, column 47\)"),
])
def test_a_bom_is_read_and_bytes_that_are_not_utf8_are_named_by_place(body: bytes, said: str | None) -> None:
    source, _, _ = source_of(lambda request: httpx.Response(200, content=body))
    if said is None:
        assert [o.id for o in source.read("organisations", None, lambda *_: None)] == ["huv"]
        return
    with pytest.raises(SourceError, match=said):
        source.read("organisations", None, lambda *_: None)


# -- 6. a server's problem+json ---------------------------------------------------------------------------------------

def test_a_problem_json_error_is_shown_to_the_operator() -> None:
    """Failed on the old code: an RFC 9457 problem said only "HTTP 403" (its title and detail were not read)."""
    problem = {"type": "https://ss12000.test/problems/scope", "title": "Forbidden", "status": 403,
               "detail": f"the token lacks the scope groups.read ({PIN})"}
    source, _, _ = source_of(lambda request: httpx.Response(
        403, content=json.dumps(problem).encode(), headers={"content-type": "application/problem+json"}))
    with pytest.raises(SourceError) as raised:
        source.read("groups", None, lambda *_: None)
    assert str(raised.value) == ("groups, page 1: HTTP 403 (Forbidden: the token lacks the scope groups.read "
                                 "([REDACTED]): type https://ss12000.test/problems/scope)")


# -- 7. an OAuth 2.0 token that expires during the import ------------------------------------------------------------

class Issuer:
    """A token endpoint (client credentials) and a server taking only the token issued last."""

    def __init__(self, served: Served, *, expires_after: int = 3, refuse_new: bool = False) -> None:
        self.served, self.expires_after, self.refuse_new = served, expires_after, refuse_new
        self.issued: list[str] = []
        self.used = 0
        self.forms: list[str] = []

    def token(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Basic ")
        self.forms.append(request.content.decode())
        self.issued.append(f"tok-{len(self.issued) + 1}")
        self.used = 0
        return httpx.Response(200, json={"access_token": self.issued[-1], "token_type": "Bearer",
                                         "expires_in": 3600})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "idp.test":
            return self.token(request)
        self.used += 1
        if request.headers.get("authorization") != f"Bearer {self.issued[-1]}" or (
                self.used > self.expires_after and len(self.issued) == 1) or (self.refuse_new and len(self.issued) > 1):
            return httpx.Response(401, json={"code": "token_expired", "message": "expired"})
        return self.served.page(request)


def _oauth_source(issuer: Issuer) -> tuple[HttpSource, list[str]]:
    transport = httpx.MockTransport(issuer.handle)
    auth = ClientCredentials("https://idp.test/token", "importer", "s3cret", scope="ss12000.read",
                             client=httpx.Client(transport=transport))
    said: list[str] = []
    client = httpx.Client(transport=transport, base_url="http://ss12000.test")
    return HttpSource("http://ss12000.test", client=client, page_size=2, sleep=lambda _: None, auth=auth,
                      on_note=said.append), said


def test_a_token_expiring_mid_import_is_renewed_once_and_the_import_completes() -> None:
    """Failed before: there was no client credentials grant, and a 401 on a later page stopped the import."""
    issuer = Issuer(Served(directory()))
    source, said = _oauth_source(issuer)
    assert _changes(plan(source)) == _changes(plan(source_of(Served(directory()).page)[0]))
    assert issuer.issued == ["tok-1", "tok-2"]
    assert issuer.forms[0] == "grant_type=client_credentials&scope=ss12000.read"
    renewed = [s for s in said if "401" in s]
    assert len(renewed) == 1 and renewed[0].endswith(", page 1: HTTP 401, a new token asked for and the page asked "
                                                     "again"), said
    assert not any("s3cret" in s or "tok-" in s for s in said)


def test_a_401_to_the_renewed_token_stops_the_import() -> None:
    source, _ = _oauth_source(Issuer(Served(directory()), refuse_new=True))
    with pytest.raises(SourceError, match=r", page 1: HTTP 401 \(token_expired: expired\); the server does not take a token just issued by "
                       r"--token-url either"):
        plan(source)


def test_a_token_is_renewed_before_it_expires() -> None:
    now = [0.0]
    issuer = Issuer(Served(directory()), expires_after=10_000)
    auth = ClientCredentials("https://idp.test/token", "importer", "s3cret",
                             client=httpx.Client(transport=httpx.MockTransport(issuer.handle)), clock=lambda: now[0])
    assert auth.header() == "Bearer tok-1" and auth.header() == "Bearer tok-1"
    now[0] = 3600 - 29  # within EARLY_SECONDS of its expiry
    assert auth.header() == "Bearer tok-2"


def test_a_token_endpoint_refusing_the_client_stops_naming_its_error_never_the_secret() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(401, json={
        "error": "invalid_client", "error_description": "unknown client"}))
    auth = ClientCredentials("https://idp.test/token", "importer", "s3cret", client=httpx.Client(transport=transport))
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"data": []})),
                          base_url="http://ss12000.test")
    with pytest.raises(SourceError) as raised:
        HttpSource("http://ss12000.test", client=client, auth=auth).read("organisations", None, lambda *_: None)
    assert str(raised.value) == ("organisations, page 1: token endpoint: HTTP 401 (invalid_client: unknown client)")


# -- 8. the command: exit codes, what was imported and refused, progress, civic numbers -----------------------------

class Reporting:
    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[Any] = []
        self.fail_after = fail_after

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/directory/held":
            return httpx.Response(200, json={"items": [], "source_ids": []})
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            return httpx.Response(422, json={"title": "refused"})
        items = json.loads(request.content)["items"]
        self.sent += items
        return httpx.Response(200, json={"created": len(items), "changed": 0, "removed": 0, "unchanged": 0,
                                         "items": [{"status": "created", "entity_key": f"k{len(self.sent)}-{n}"}
                                                   for n, _ in enumerate(items)]})


def invoke(monkeypatch: pytest.MonkeyPatch, server: Callable[[httpx.Request], httpx.Response],
           reporting: Reporting, *flags: str) -> tuple[int, str]:
    real = REAL_CLIENT

    def route(request: httpx.Request) -> httpx.Response:
        return reporting.handle(request) if request.url.port == 8104 else server(request)

    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=httpx.MockTransport(route), **kw))
    monkeypatch.setattr(command.time, "sleep", lambda _: None)
    result = CliRunner().invoke(app, ["import", "ss12000", "--url", "http://ss12000.test", "--token", "t",
                                      "--reporting-url", "http://127.0.0.1:8104", *flags])
    return result.exit_code, " ".join(result.output.split())


def test_the_command_says_a_204_as_it_reads_and_exits_0_when_everything_was_imported(monkeypatch) -> None:
    served = Served(directory())
    code, said = invoke(monkeypatch, lambda r: httpx.Response(204) if r.url.path == "/syllabuses"
                        else served.page(r), Reporting())
    assert code == 0, said
    assert "syllabuses, page 1: HTTP 204 No Content, read as an empty page" in said
    assert "read groups" in said and "send memberships" in said  # progress


def test_the_command_exits_3_on_a_refusal_and_1_on_a_stop_saying_what_was_applied(monkeypatch) -> None:
    """Failed on the old code: a run that refused items exited 0 (only --strict said otherwise), and a stop while
    sending said nothing of what reporting had taken before it."""
    refused = Served(directory(duties=[DUTY, {**DUTY, "id": "d9", "dutyAt": {"id": "nowhere"}}]))
    code, said = invoke(monkeypatch, refused.page, Reporting())
    assert code == 3 and "refused duties d9: dutyAt: not a known Skolenhet" in said, said
    code, said = invoke(monkeypatch, Served(directory()).page, Reporting(fail_after=1))
    assert code == 1 and "import stopped: reporting refused the" in said, said
    assert "applied before the import stopped" in said and "organisations │ 2" in said, said
    code, said = invoke(monkeypatch, lambda r: httpx.Response(404), Reporting())
    assert code == 1 and "nothing was sent to reporting" in said, said


def test_the_command_takes_client_credentials_and_checks_them_as_usage(monkeypatch) -> None:
    issuer = Issuer(Served(directory()))
    monkeypatch.setenv("STYRKEDJA_SS12000_CLIENT_SECRET", "s3cret")
    real = REAL_CLIENT
    reporting = Reporting()
    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=httpx.MockTransport(
        lambda r: reporting.handle(r) if r.url.port == 8104 else issuer.handle(r)), **kw))
    result = CliRunner().invoke(app, ["import", "ss12000", "--url", "http://ss12000.test", "--token-url",
                                      "https://idp.test/token", "--client-id", "importer",
                                      "--reporting-url", "http://127.0.0.1:8104"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and issuer.issued == ["tok-1", "tok-2"] and "s3cret" not in said, said
    for flags, rule in ((["--token", "t", "--token-url", "https://idp.test/t", "--client-id", "x"], "not both"),
                        (["--token-url", "http://idp.test/t", "--client-id", "x"], "https"),
                        (["--client-id", "x"], "go with --token-url")):
        result = CliRunner().invoke(app, ["import", "ss12000", "--url", "http://ss12000.test", *flags])
        assert result.exit_code == 2 and rule in " ".join(result.output.split()), result.output


CIVIC_PLACES: list[dict[str, Any]] = [
    {"civicNo": {"value": PIN, "nationality": "SE"}}, {"civicNo": PIN}, {"CivicNo": PIN}, {"civic_no": PIN},
    {"personnummer": PIN}, {"externalIdentifiers": [{"value": PIN, "context": "personnummer"}]},
    {"_embedded": {"groupMemberships": [{"group": {"id": "g1", "displayName": PIN}, "civicNo": PIN}],
                   "duties": [{"person": {"civicNo": {"value": PIN}}}], "responsibleFor": [{"civicNo": PIN}]}},
    {"enrolments": [{"enroledAt": {"id": "su", "civicNo": PIN}, "schoolType": "GR", "startDate": "2026-08-17",
                     "specification": PIN}]},
    {"responsibles": [{"person": {"id": "r1", "civicNo": {"value": PIN}}}]},
]


@pytest.mark.parametrize("place", CIVIC_PLACES)
def test_a_civic_number_is_never_read_in_wherever_a_person_carries_it(tmp_path, place) -> None:
    """What is kept of a person (its id, enrolments' school unit, year and dates, its memberships' group and dates)
    holds no civic number, whatever field or spelling a server puts it in; nor does anything sent or said."""
    person = {"id": "p1", "givenName": "A", "familyName": "B", "birthDate": "2012-12-12", **place}
    for entity, items in directory(groups=[BARE], persons=[person]).items():
        (tmp_path / f"{entity}.json").write_text(json.dumps({"data": items}), encoding="utf-8")
    read = FolderSource(tmp_path).read("persons", None, lambda *_: None)
    kept = repr([p.model_dump() for p in read])
    assert not contains_personal_identity_number(kept) and "121212" not in kept.replace("2012-12-12", ""), kept
    the_plan, _ = read_and_plan(FolderSource(tmp_path), since=None, naive_zone=ZONE)
    everything = repr((the_plan, summary._said(the_plan, [])))
    assert not contains_personal_identity_number(everything)


def test_the_help_names_the_new_flags() -> None:
    helped = " ".join(CliRunner().invoke(app, ["import", "ss12000", "--help"]).output.split())
    for flag in ("--token-url", "--client-id", "--client-secret", "--timeout", "--lenient"):
        assert flag in helped, helped
