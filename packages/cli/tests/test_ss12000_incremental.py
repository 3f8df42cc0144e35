"""Incremental runs (`--since`) as honest as full ones, and servers that page without progress (round i). Each test
failed on the code before it, as its docstring says:

* a chunk reporting applied but answered 500 on a `--since` run: what reporting did not hold as the run began is
  counted created (it was `unsure`, as reporting's holdings were read by full runs only); a removal /deletedEntities
  names, applied and answered 500, is counted removed (it was 0, "not counted");
* a server answering empty pages with a new pageToken for ever stops after `--max-empty-pages` of them, naming the
  endpoint (it was bounded only by `--max-pages`, 100,000 requests), nothing sent; so does one serving the same items
  again under new tokens, and /deletedEntities alike;
* a school unit removed at the source leaves no group of it silently in reporting's directory on a `--since` run:
  the groups reporting holds under a school unit code the source no longer has are said; a group the source moved
  to another school unit is removed where reporting held it (it stayed there, one group in two places);
* servers unlike ours: an end before its start is refused naming the source's fields (it named the contract's,
  and "data"), and a student in two classes at once is said.

The sources are folders or `httpx.MockTransport` handlers, reporting a stub comparing as reporting does."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_ss12000_servers import Reporting, dump, entities, failing_once, planned, row, run, server

from ss12000_fixtures import GROUP, HUV, SU
from styrkedja_cli.ss12000 import command
from styrkedja_cli.ss12000.source import HttpSource, SourceError
from styrkedja_cli.ss12000.summary import _said

SINCE = "2026-09-01T12:00:00+00:00"


class Removing(Reporting):
    """Reporting's stub removing by source id too (as `/v1/directory/removals` does with `source_ids`), and keying a
    group by its school unit code, as reporting does (two schools may both have a 7A)."""

    @staticmethod
    def key(data: dict[str, Any]) -> str:
        if data.get("unit_type") == "group":
            return f"unit:group:{data['school_unit_code']}:{data['unit_id']}"
        if "unit_type" in data:
            return f"unit:{data['unit_type']}::{data['unit_id']}"
        return Reporting.key(data)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/directory/removals":
            body = json.loads(request.content)
            if body.get("source_ids"):
                self.posts += 1
                instead = self.fail(self.posts)
                if instead is not None and not self.applied:
                    return instead
                items = []
                for where, (digest, source) in sorted(self.published.items()):
                    if source in body["source_ids"] and digest != "removed":
                        self.published[where] = ("removed", source)
                        items.append({"status": "removed", "entity_key": where[1]})
                answer = {"created": 0, "changed": 0, "unchanged": 0, "removed": len(items), "items": items}
                return instead if instead is not None else httpx.Response(200, json=answer)
        return super().handle(request)


def imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **over: Any) -> Removing:
    """Reporting after a full import of the source (`over` as `entities`)."""
    first = Removing()
    full = tmp_path / "full"
    full.mkdir()
    exit_code, said = run(monkeypatch, dump(full, **over), None, first)
    assert exit_code == 0, said
    return first


def incremental(tmp_path: Path, name: str = "since", **over: Any) -> list[str]:
    """The arguments of a `--since` run of a folder holding the source (`over` as `entities`), /deletedEntities
    empty unless given."""
    folder = tmp_path / name
    folder.mkdir()
    return [*dump(folder, **{"deletedEntities": {}, **over}), "--since", SINCE]


# -- 1. what a chunk sent again applied, counted as a full run counts it ------------------------------------------

def test_an_incremental_chunk_applied_but_answered_500_counts_what_it_created(tmp_path, monkeypatch) -> None:
    """Failed before: the groups chunk of a `--since` run (one new group, one held) was applied and answered 500;
    asked again, both came back `unchanged`, and both were counted `unsure` — the run did not know what reporting
    held. Now it asks (as a full run does): the new group is counted created, only the held one `unsure`."""
    first = imported(tmp_path, monkeypatch)
    new = {**GROUP, "id": "g2", "displayName": "7B"}
    reporting = Removing(held=first.published, fail=failing_once(2))  # organisations, then groups
    exit_code, said = run(monkeypatch, incremental(tmp_path, groups=[GROUP, new]), None, reporting)
    assert exit_code == 0, said
    assert row(said, "groups")[:5] == ["1", "0", "0", "0", "1"], said
    assert ("groups changes, items 1-2 of 2: reporting answered HTTP 500 and took them when asked again, answering 2 "
            "`unchanged` that the attempt may have applied: 1 it did not hold when the import began are counted "
            "created, 1 are counted unsure") in said, said


def test_an_incremental_removal_applied_but_answered_500_is_counted_removed(tmp_path, monkeypatch) -> None:
    """Failed before: /deletedEntities named the group; reporting removed it and its membership, answered 500, and
    removed nothing when asked again: the summary said 0 removed ("what that attempt removed is not counted"). Now
    what reporting held of those ids as the run began and holds no longer is counted removed."""
    first = imported(tmp_path, monkeypatch)
    posts = 2  # organisations, duties: then the removals
    reporting = Removing(held=first.published, fail=failing_once(posts + 1))
    exit_code, said = run(monkeypatch, incremental(tmp_path, groups=[], activities=[],
                                                   deletedEntities={"groups": ["g1"]}), None, reporting)
    assert exit_code == 0, said
    assert row(said, "deletedEntities")[2] == "2", said
    assert ("removals, items 1-1 of 1: reporting answered HTTP 500 and took them when asked again: 2 that attempt "
            "removed are counted removed") in said, said


# -- 2. a server paging without progress -----------------------------------------------------------------------------

def source_of(handle: Any, **kw: Any) -> HttpSource:
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://ss12000.test/v2.0")
    return HttpSource("http://ss12000.test/v2.0", client=client, sleep=lambda _: None, **kw)


def endless(items: list[dict[str, Any]] | None = None) -> tuple[Any, list[int]]:
    """A server answering every page of groups with `items` (none) and a token it never gave before."""
    asked: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(1)
        return httpx.Response(200, json={"data": items or [], "pageToken": f"t{len(asked)}"})
    return handle, asked


def test_empty_pages_with_new_tokens_for_ever_stop_naming_the_endpoint() -> None:
    """Failed before: 100,000 requests (`--max-pages`) of empty pages before the import stopped. Now the 100th
    empty page in a row with a new token stops it, naming the endpoint and the flag."""
    handle, asked = endless()
    with pytest.raises(SourceError) as stopped:
        source_of(handle).read("groups", None, lambda *_: None)
    assert str(stopped.value) == (
        "groups, page 100: 100 pages in a row without a new item, each with a new pageToken or next link: the "
        "server's GET /groups makes no progress (a paging loop at the server; --max-empty-pages if its pages may be "
        "empty so long)")
    assert len(asked) == 100


def test_the_same_items_again_under_new_tokens_are_no_progress_either() -> None:
    """Failed before: a page served again and again under new tokens was read once each time (the same item twice
    is read once) until `--max-pages`. Pages that bring nothing new count as empty ones."""
    handle, asked = endless([GROUP])
    with pytest.raises(SourceError, match=r"^groups, page 6: 5 pages in a row without a new item"):
        source_of(handle, max_empty_pages=5).read("groups", None, lambda *_: None)
    assert len(asked) == 6  # the first page brought the group


def test_empty_pages_between_full_ones_are_paged_through() -> None:
    """Pins what held: a server filtering after paging (empty pages, then items) is read to its end, as long as
    fewer than `max_empty_pages` empty pages come in a row."""
    pages = [[], [], [GROUP], [], [{**GROUP, "id": "g2"}]]

    def handle(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("pageToken", "0"))
        return httpx.Response(200, json={"data": pages[n], "pageToken": str(n + 1) if n + 1 < len(pages) else None})
    read = source_of(handle, max_empty_pages=3).read("groups", None, lambda *_: None)
    assert [g.id for g in read] == ["g1", "g2"]


def test_deleted_entities_paging_without_progress_stops_but_a_page_of_kinds_not_read_is_progress() -> None:
    """Failed before: /deletedEntities answering empty pages with new tokens was bounded only by `--max-pages`. A page
    listing only absences (a kind the importer skips) is no empty page: it is paged on (ten such, then empty ones).
    """
    asked: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(1)
        data: dict[str, Any] = {"absences": [f"a{len(asked)}"]} if len(asked) <= 10 else {}
        return httpx.Response(200, json={"data": data, "pageToken": f"t{len(asked)}"})
    with pytest.raises(SourceError, match=r"^deletedEntities, page 12: 2 pages in a row without a new item.*GET "
                                          r"/deletedEntities"):
        source_of(handle, max_empty_pages=2, max_pages=20).deleted(datetime.fromisoformat(SINCE))

    asked.clear()
    with pytest.raises(SourceError, match=r"^deletedEntities, page 20: more than 20 pages"):
        source_of(lambda r: (asked.append(1), httpx.Response(200, json={
            "data": {"absences": ["a1"]}, "pageToken": f"t{len(asked)}"}))[1],
            max_empty_pages=2, max_pages=20).deleted(datetime.fromisoformat(SINCE))


def test_the_command_stops_with_exit_1_and_nothing_sent(monkeypatch) -> None:
    """The command: exit 1, the server's problem named, nothing sent to reporting, no traceback."""
    handle, _ = endless()
    reporting = Removing()
    exit_code, said = run(monkeypatch, ["--url", "http://ss12000.test/v2", "--max-empty-pages", "3"],
                          server(entities(groups=handle)), reporting)
    assert exit_code == 1, said
    assert "import stopped: groups, page 3: 3 pages in a row without a new item" in said, said
    assert "nothing was sent to reporting" in said and reporting.posts == 0, said
    assert "Traceback" not in said


# -- 3. what the source removed, on an incremental run ----------------------------------------------------------------

def test_groups_of_a_school_unit_gone_at_the_source_are_said_on_an_incremental_run(tmp_path, monkeypatch) -> None:
    """Failed before: /deletedEntities named the school unit, not its groups: the run removed the unit, said nothing,
    and reporting kept its group and membership under it. Now the groups reporting holds under a school unit code
    no Skolenhet of the source has are said, with what removes them."""
    first = imported(tmp_path, monkeypatch)
    reporting = Removing(held=first.published)
    exit_code, said = run(monkeypatch, incremental(tmp_path, organisations=[HUV], groups=[], duties=[], activities=[],
                                                   deletedEntities={"organisations": ["su"]}), None, reporting)
    assert exit_code == 0, said
    assert row(said, "deletedEntities")[2] == "1", said
    assert ("groups: reporting holds 1 under school unit codes no Skolenhet of the source has (29990011: g1): their "
            "school unit is gone at the source, and /deletedEntities did not name them; an incremental run removes "
            "only what it names — a full import (without --since) removes them") in said, said
    # named by /deletedEntities too: removed, nothing said
    reporting = Removing(held=first.published)
    exit_code, said = run(monkeypatch, incremental(tmp_path, "again", organisations=[HUV], groups=[], duties=[],
                                                   activities=[], deletedEntities={"organisations": ["su"],
                                                                                   "groups": ["g1"]}), None, reporting)
    assert exit_code == 0, said
    assert "reporting holds" not in said, said


def test_a_group_moved_to_another_school_unit_leaves_no_copy_behind(tmp_path, monkeypatch) -> None:
    """Failed before: a `--since` run read the group, changed since, under its new school unit: a group's key is
    scoped by its school unit code, so reporting created it there and kept it where it was — one group in two
    school units, its old place for ever (only a full import removed it). Now the old place is removed and said."""
    su2 = {**SU, "id": "su2", "displayName": "Skolan 2", "schoolUnitCode": "29990012"}
    first = imported(tmp_path, monkeypatch, organisations=[HUV, SU, su2])
    reporting = Removing(held=first.published)
    moved = {**GROUP, "organisation": {"id": "su2"}}
    exit_code, said = run(monkeypatch, incremental(tmp_path, organisations=[HUV, SU, su2], groups=[moved]), None,
                          reporting)
    assert exit_code == 0, said
    live = sorted(k for (_, k), (digest, _) in reporting.published.items()
                  if k.startswith("unit:group:") and digest != "removed")
    assert live == ["unit:group:29990012:g1"], live
    assert row(said, "groups")[:3] == ["1", "0", "1"], said
    assert ("groups moved to school unit code 29990012 by the source: g1 (from 29990011); removed where reporting "
            "held them") in said, said


# -- servers unlike ours ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("group, member, reason", [
    ({"startDate": "2026-08-17", "endDate": "2026-06-01"}, {},
     "endDate: must not be before groupMemberships[0].startDate, startDate"),
    ({}, {"startDate": "2026-09-01", "endDate": "2026-08-01"},
     "groupMemberships[0].endDate: must not be before groupMemberships[0].startDate"),
])
def test_an_end_before_its_start_is_refused_naming_the_sources_fields(group, member, reason) -> None:
    """Failed before: `refused memberships g1/p1: data: Value error, end_date must not be before start_date` — the
    directory contract's names, and "data", where the operator mends `endDate` at the source."""
    served = entities(groups=[{**GROUP, **group, "groupMemberships": [{"person": {"id": "p1"}, **member}]}])
    the_plan, _ = planned(server(served))
    assert [(r.entity, r.id, r.reason) for r in the_plan.refused] == [("memberships", "g1/p1", reason)]


def test_a_student_in_two_classes_at_once_is_said_a_move_between_them_is_not() -> None:
    """Failed before: a student in two groups of type Klass at the same time (a move between classes whose old
    membership the source never ended) was imported in both, unsaid. Now said, per class, counted; a student who
    moved (the old membership ended before the new one began) is not."""
    klass = {**GROUP, "groupType": "Klass"}
    other = {**klass, "id": "g2", "displayName": "7B",
             "groupMemberships": [{"person": {"id": "p1"}, "startDate": "2027-01-07"},
                                  {"person": {"id": "p2"}, "startDate": "2027-01-07"}]}
    moved = {**klass, "groupMemberships": [{"person": {"id": "p1"}, "endDate": "2026-12-20"}]}
    the_plan, _ = planned(server(entities(groups=[moved, other], persons=[{"id": "p1"}, {"id": "p2"}])))
    assert the_plan.in_two_classes == {}
    taught = {**GROUP, "id": "g3", "displayName": "Ma 7", "groupType": "Undervisning"}  # many at once: as it is
    the_plan, _ = planned(server(entities(groups=[klass, other, taught], persons=[{"id": "p1"}, {"id": "p2"}])))
    assert the_plan.in_two_classes == {"g1": 1, "g2": 1}
    said = _said(the_plan, [])
    assert ("memberships: students in two groups of type Klass at once, in 2 classes (g1: 1, g2: 1): imported as "
            "given, each counted in both; a move between classes needs the old membership's endDate at the source"
            ) in said, said


@pytest.mark.parametrize("answer", [
    httpx.Response(404, json={"code": "not_found", "message": "finns inte"}), httpx.Response(501, text="Not Implemented"),
    httpx.Response(405)])
def test_a_server_without_deleted_entities_stops_an_incremental_run_saying_what_does(monkeypatch, answer) -> None:
    """Failed before: `deletedEntities, page 1: HTTP 404 (not_found: finns inte)` and no word of what to do. A server
    without the endpoint cannot tell an incremental run what it deleted: the run stops with nothing sent (as before),
    and says that a full import is what removes what the source no longer has."""
    served = entities(deletedEntities=lambda request: answer)
    exit_code, said = run(monkeypatch, ["--url", "http://ss12000.test/v2", "--since", SINCE], server(served),
                          Removing())
    assert exit_code == 1, said
    assert (f"import stopped: deletedEntities, page 1: HTTP {answer.status_code}") in said, said
    assert ("the server seems not to serve /deletedEntities, without which an incremental run (--since) would remove "
            "nothing the source deleted: import without --since") in said, said
    assert "nothing was sent to reporting" in said


def test_a_next_link_that_is_no_url_is_named_so() -> None:
    """Failed before: `Link: <http://[::1>; rel="next"` was "the next page's link points at another server": it points
    nowhere."""
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [GROUP]}, headers={"link": '<http://[::1>; rel="next"'})
    with pytest.raises(SourceError, match=r'^groups, page 1: the next page\'s link \(Link: rel="next"\) is not a URL$'):
        source_of(handle).read("groups", None, lambda *_: None)


def test_a_long_import_logged_to_a_file_says_how_far_it_is(tmp_path, monkeypatch) -> None:
    """Failed before: written to a log (no terminal), rich draws its progress bars once, at the end: a long import's
    log said nothing for an hour. Now each bar says how far it is on a line of its own, at most every 30 s (here: at
    each step)."""
    monkeypatch.setattr(command, "LOGGED_PROGRESS_SECONDS", 0.0)
    exit_code, said = run(monkeypatch, dump(tmp_path), None, Removing())
    assert exit_code == 0, said
    assert "read groups: 1 " in said and "send memberships: 1 of 1 " in said, said
