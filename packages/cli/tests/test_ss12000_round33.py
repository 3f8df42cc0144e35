"""Round 33: what servers of the specification send that the importer did not read right, each against
`SpecServer` (`test_ss12000_spec.py`) in the variation that answers so, each failing on the code before it.

* A token endpoint reading the client's id and secret from the form alone, answering HTTP Basic with a web
  framework's 422 for the missing form field (FastAPI's `Form(...)`: John-Hammer/ss12000-demo-sis): the import
  stopped at `token endpoint: HTTP 422`, never asking by the form, which the endpoint takes.
* Errors as FastAPI raises them (`{"detail": {"code", "message"}}`, its validation's `{"detail": [{"loc", "msg"}]}`):
  said as "an application/json body, no SS 12000 error", so which parameter the server refused went unsaid.
* `meta.modified.after` is "on or after" (Skolverket's reference API), `>` on other servers, and many store whole
  seconds: a change in the second of `--since` was skipped — by the server's filter (`meta.modified.after`,
  `/deletedEntities?after=`) or by the importer's own check of a person — and for ever, as the next run's `--since`
  is later. Now both ask a second early (`SINCE_SLACK`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_ss12000_round30 import ByCode
from test_ss12000_round31 import FRISKOLAN, HUV2, INCREMENTAL, NO_DELETIONS, by_id_or_list, held_by
from test_ss12000_round32 import BOTH, G2, SU2
from test_ss12000_servers import Reporting, dump, entities, run, server
from test_ss12000_spec import ACTIVITY, DUTY, GROUP, HUV, SINCE, STUDENT, SU, ZONE, SpecServer

from ss12000_fixtures import ACTIVITY as F_ACTIVITY
from ss12000_fixtures import GROUP as F_GROUP
from ss12000_fixtures import HUV as F_HUV
from ss12000_fixtures import SU as F_SU
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.oauth import ClientCredentials, TokenError
from styrkedja_cli.ss12000.source import HttpSource, SourceError


def test_a_token_endpoint_taking_the_client_only_in_the_form_is_asked_so_after_its_422() -> None:
    """Failed on the old code: `token endpoint: HTTP 422` stopped the import before its first page."""
    server = SpecServer({"organisations": [HUV, SU], "groups": [GROUP], "duties": [DUTY], "activities": [ACTIVITY]},
                        fastapi=True)
    said: list[str] = []
    the_plan, _ = read_and_plan(server.source(auth=server.client_credentials(), on_note=said.append), since=None,
                                naive_zone=ZONE)
    assert [c["source_id"] for c in the_plan.changes["groups"]] == [GROUP["id"]]
    assert server.issued == ["tok-1"]  # one token, by the form, kept for the run
    assert [s for s in said if s.startswith("token endpoint")] == ["token endpoint: the client's id and secret taken by the form (client_secret_post), "
                          "refused by HTTP Basic: sent so from now on"]


def test_a_token_endpoints_framework_error_is_said_with_its_words() -> None:
    """A 400 in a framework's shape (`{"detail": …}`, no RFC 6749 `error`) is no grant's last word either: every way
    is asked, and the last answer's words said. Failed on the old code: `token endpoint: HTTP 400`, nothing more."""
    forms: list[bytes] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        forms.append(request.content)
        return httpx.Response(400, json={"detail": "Unsupported grant_type.\nUse 'client_credentials'."})

    auth = ClientCredentials("https://idp.example/token", "importer", "s3cret",
                             client=httpx.Client(transport=httpx.MockTransport(refuse)), sleep=lambda _: None)
    with pytest.raises(TokenError) as raised:
        auth.header()
    assert str(raised.value) == "token endpoint: HTTP 400 (Unsupported grant_type. Use 'client_credentials'.)"
    assert len(forms) == 2 and b"client_secret=s3cret" in forms[-1]  # Basic as given, then the form
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(("max_limit", "said"), [
    (50, r"organisations, page 1: HTTP 422 \(query\.limit: Input should be less than or equal to 50\); the page "
         r"was asked with limit=100"),
])
def test_a_fastapi_servers_validation_error_names_the_parameter_it_refused(max_limit: int, said: str) -> None:
    """Failed on the old code: `HTTP 422 (a application/json body, no SS 12000 error)`."""
    server = SpecServer({"organisations": [HUV, SU]}, fastapi=True, max_limit=max_limit)
    with pytest.raises(SourceError, match=said):
        server.source(page_size=100).read("organisations", None, lambda *_: None)
    assert [s.id for s in server.source(page_size=max_limit).read("organisations", None, lambda *_: None)] == [
        HUV["id"], SU["id"]]


def test_an_ss12000_error_nested_in_fastapis_detail_is_said_with_its_code_and_message() -> None:
    """A server raising `HTTPException(400, detail={"code", "message"})` (the specification's error as FastAPI's
    detail). Failed on the old code: said as "an application/json body, no SS 12000 error"."""
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(400, json={"detail": {
        "code": "invalid_page_token", "message": "pageToken is not valid"}})), base_url="http://ss12000.example")
    with pytest.raises(SourceError, match=r"organisations, page 1: HTTP 400 \(invalid_page_token: pageToken is not "
                                          r"valid\)"):
        HttpSource("http://ss12000.example", client=client).read("organisations", None, lambda *_: None)


def _stated_at(modified: str) -> dict[str, Any]:
    """A student stating its membership of the group on itself (`_embedded.groupMemberships`, as servers answer
    `/persons?expand=groupMemberships`), changed at `modified`."""
    return {"id": STUDENT, "givenName": "Elev", "familyName": "Elevsson", "meta": {"modified": modified},
            "_embedded": {"groupMemberships": [{"group": {"id": GROUP["id"]}, "person": {"id": STUDENT},
                                                "startDate": "2026-08-17"}]}}


@pytest.mark.parametrize("modified", ["2026-09-01T12:00:00Z", "2026-09-01T14:00:00+02:00",
                                      "2026-09-01T12:00:00.000+00:00"])
def test_a_person_changed_at_since_itself_has_its_memberships_read(modified: str) -> None:
    """An incremental run reads persons whole and asks for the groups a person changed since states memberships of.
    "Since" is on or after, as the specification's filter: a person changed in the very second `--since` names (a
    server writing whole seconds, the last run started in the second of the change) changed. Failed on the old
    code: taken as unchanged, the unchanged group was not asked for and the student's membership not sent."""
    old_group = {k: v for k, v in GROUP.items() if k != "groupMemberships"} | {
        "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-01T08:00:00Z"}}
    server = SpecServer({"organisations": [HUV, SU], "groups": [old_group], "duties": [DUTY], "activities": [],
                         "persons": [_stated_at(modified)]}, inclusive=True)
    the_plan, _ = read_and_plan(server.source(), since=SINCE, naive_zone=ZONE)
    assert [(c["data"]["group_id"], c["data"]["student_id"]) for c in the_plan.changes.get("memberships", [])] == [
        (GROUP["id"], STUDENT)]
    assert any(u.path == f"/groups/{GROUP['id']}" for u in server.asked)


def test_a_person_changed_before_since_is_not_read_again() -> None:
    """The bound stays a bound: a second before `--since` is unchanged (its membership kept as reporting holds it)."""
    old_group = {k: v for k, v in GROUP.items() if k != "groupMemberships"} | {
        "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-01T08:00:00Z"}}
    server = SpecServer({"organisations": [HUV, SU], "groups": [old_group], "duties": [DUTY], "activities": [],
                         "persons": [_stated_at("2026-09-01T11:59:59Z")]}, inclusive=True)
    the_plan, _ = read_and_plan(server.source(), since=SINCE, naive_zone=ZONE)
    assert the_plan.changes.get("memberships", []) == []
    assert not any(u.path == f"/groups/{GROUP['id']}" for u in server.asked)


#: a run's `--since` with a fraction (the last run's start, as `date --iso-8601=ns` or Python writes it)
MID_SECOND = SINCE.replace(microsecond=500_000)


def test_a_change_a_whole_second_server_dates_before_a_fractional_since_is_read() -> None:
    """A server storing whole seconds (MySQL's DATETIME) writes a change at 12:00:00.7 as 12:00:00, and filters `>`:
    asked `meta.modified.after=12:00:00.5`, it left the change out — and every later run's `--since` is later still.
    The filter is asked a second early (`SINCE_SLACK`). Failed on the old code: the changed group was not read."""
    changed_group = {**GROUP, "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-09-01T12:00:00Z"}}
    server = SpecServer({"organisations": [HUV, SU], "groups": [changed_group], "duties": [DUTY], "activities": [],
                         "persons": []})
    the_plan, _ = read_and_plan(server.source(), since=MID_SECOND, naive_zone=ZONE)
    assert [c["source_id"] for c in the_plan.changes["groups"]] == [GROUP["id"]]
    assert [(c["data"]["group_id"], c["data"]["student_id"]) for c in the_plan.changes["memberships"]] == [
        (GROUP["id"], STUDENT)]
    assert [u.params["meta.modified.after"] for u in server.asked if u.path == "/groups"] == [
        "2026-09-01T11:59:59.500000+00:00"]


def test_a_deletion_a_whole_second_server_dates_before_a_fractional_since_is_applied() -> None:
    """`/deletedEntities?after=` alike: a group deleted at 12:00:00.7, stored 12:00:00, filtered `>` — its removal
    was never read, the group kept in reporting until a full run. Failed on the old code: not named."""
    gone = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    server = SpecServer({"organisations": [HUV, SU], "groups": [], "duties": [], "activities": [], "persons": []},
                        deleted={"groups": [gone, "5e10f18c-6d0d-450b-a4b8-fa99e1053f78"]},
                        deleted_at={gone: "2026-09-01T12:00:00Z",
                                    "5e10f18c-6d0d-450b-a4b8-fa99e1053f78": "2026-09-01T11:59:58Z"})
    _, deleted = read_and_plan(server.source(), since=MID_SECOND, naive_zone=ZONE)
    assert deleted == [gone]


def test_a_person_a_whole_second_server_dates_before_a_fractional_since_has_its_memberships_read() -> None:
    """The importer's own check of a person's `meta.modified` alike (persons are read whole). Failed on the old code:
    12:00:00 was before 12:00:00.5, the person unchanged, the group not asked for, the membership not sent."""
    old_group = {k: v for k, v in GROUP.items() if k != "groupMemberships"} | {
        "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-01T08:00:00Z"}}
    server = SpecServer({"organisations": [HUV, SU], "groups": [old_group], "duties": [DUTY], "activities": [],
                         "persons": [_stated_at("2026-09-01T12:00:00Z")]})
    the_plan, _ = read_and_plan(server.source(), since=MID_SECOND, naive_zone=ZONE)
    assert [(c["data"]["group_id"], c["data"]["student_id"]) for c in the_plan.changes.get("memberships", [])] == [
        (GROUP["id"], STUDENT)]


# -- a token for many organisers: what is read of those the source has nothing of -----------------------------------

class Paging(ByCode):
    """Reporting's stub listing what it holds as reporting does: in key order from `after`, `limit` a page (at most
    `cap`), `next_after` the page's last key when more follow; each listing's pages counted per organiser."""

    def __init__(self, *args: Any, cap: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cap = cap
        self.listed: dict[str, list[str | None]] = {}  # organiser → the `after` of each page asked

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/directory/held":
            return super().handle(request)
        organiser, after = request.url.params["organiser_id"], request.url.params.get("after")
        self.listed.setdefault(organiser, []).append(after)
        live = sorted((k, source) for (o, k), (digest, source) in self.published.items()
                      if o == organiser and digest != "removed" and (after is None or k > after))
        page = live[:min(int(request.url.params["limit"]), self.cap)]
        return httpx.Response(200, json={"items": [{"organiser_id": organiser, "entity_key": k} for k, _ in page],
                                         "source_ids": [s for _, s in page],
                                         "next_after": page[-1][0] if len(live) > len(page) else None})


#: the independent school's group with 30 members: its memberships most of what its organiser holds
CLASS = {**G2, "groupMemberships": [{"person": {"id": f"p{n:02}"}} for n in range(30)]}


def _both(tmp_path: Any, monkeypatch: Any) -> Reporting:
    first = ByCode()
    source = dump(tmp_path, organisations=[F_HUV, HUV2, F_SU, SU2], groups=[F_GROUP, CLASS])
    code, said = run(monkeypatch, [*source, *BOTH], None, first)
    assert code == 0 and len(held_by(first, FRISKOLAN)) == 33, said  # its Huvudman, su2, g2, 30 memberships
    return first


def test_an_organiser_the_source_has_nothing_of_is_listed_without_its_memberships(tmp_path, monkeypatch) -> None:
    """A token for the municipality and the independent school, a source holding only the municipality's: the run
    needs of the school's organiser only whether it holds anything and what source ids (a school moved from it). Failed
    on the old code: its every membership was listed, every run — 11 pages of 3 here (of 1,000 at reporting), where
    one page and then the keys past the memberships are read now; what it holds kept and said, exit 3 as before."""
    reporting = Paging(held=_both(tmp_path, monkeypatch).published)
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[F_HUV, F_SU]), *BOTH], None, reporting)
    assert code == 3, said
    assert (f"organiser {FRISKOLAN} (the --reporting-token's): the source has nothing of it, and reporting holds 3 of "
            "its entities and its memberships (not counted): kept") in said, said
    assert len(held_by(reporting, FRISKOLAN)) == 33
    assert reporting.listed[FRISKOLAN] == [None, "n"], reporting.listed  # a page of memberships, then past them
    assert len(reporting.listed["2999"]) == 2  # the source's own organiser whole: its 6 keys in pages of 3


@pytest.mark.parametrize("incremental", [False, True])
def test_a_school_moved_from_an_organiser_read_without_its_memberships_takes_them_along(
        tmp_path, monkeypatch, incremental: bool) -> None:
    """The independent school's su2 placed under the municipality's Huvudman: the run finds it held at 556677-8899 by
    the unit's and the group's source ids, reads that organiser whole then, and removes there the unit, the group and
    every membership — none left behind by the listing that skipped them."""
    reporting = Paging(held=_both(tmp_path, monkeypatch).published)
    moved = {**SU2, "parentOrganisation": {"id": F_HUV["id"]}}
    if incremental:
        handle = server(entities(organisations=[F_HUV, F_SU, moved], groups=by_id_or_list([F_GROUP, CLASS]),
                                 activities=by_id_or_list([F_ACTIVITY]), **NO_DELETIONS))
        code, said = run(monkeypatch, [*INCREMENTAL, *BOTH], handle, reporting)
    else:
        source = dump(tmp_path, organisations=[F_HUV, F_SU, moved], groups=[F_GROUP, CLASS])
        code, said = run(monkeypatch, [*source, *BOTH], None, reporting)
    assert held_by(reporting, FRISKOLAN) == [f"unit:organiser:None:{FRISKOLAN}"], said
    assert len([k for k in held_by(reporting, "2999") if k.startswith("membership:")]) == 31, said
    assert "moved to another organiser by the source (2999)" in said, said
    assert "n" in reporting.listed[FRISKOLAN] and reporting.listed[FRISKOLAN].count(None) == 2  # skimmed, then whole
