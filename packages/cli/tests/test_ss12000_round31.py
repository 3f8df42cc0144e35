"""Round 31: what an incremental run (`--since`) missed, and the edges of `--only-organiser`. Each test failed on the
code before it, as its docstring says (checked by running it with the change taken out).

* a person (or any item) whose `meta.modified` has no offset and falls in the repeated October hour was read as the
  first of the two instants it can mean: changed in the second, it was taken as unchanged after a `--since` between
  them, and what it stated (a membership of an unchanged group) was not read. Now the latest instant it can mean.
  Sent as a change's time (`updated_at`), such a time is dated by the import's clock: two changes in that hour were
  dated in the wrong order, and reporting ignored the later as older (tests/test_import_round31.py).
* a group (or a duty) /deletedEntities names kept the teaching assignment of an unchanged activity naming it (the
  assignment came from the activity, not read): a teacher kept reading a group the source no longer has. Now such a
  run reads the activities whole and leaves that teaching out by design, and what reporting held of it is removed.
* a group an incremental run read (changed, or named by a changed activity) whose own list no longer has a member
  kept that membership in reporting until a full run. Now its list is the whole of its members, as in a full run.
  A person /deletedEntities names (its ids were skipped unread) kept its memberships of unchanged groups: now such a
  run reads the groups whole, and what none states any longer goes.
* a school unit (or a group) the source placed under another Huvudman was sent at the new organiser by an
  incremental run, but the old one kept it, with its unchanged groups, memberships and teaching (reporting refused it
  at the new one for a token of it alone): the old organiser's readers kept reading it until a full run. Now such a
  run reads the groups and activities whole, sends them at the new organiser and removes them from the old one.

The servers are `httpx.MockTransport` handlers, reporting a stub comparing as reporting does."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from test_ss12000_round30 import ByCode
from test_ss12000_servers import SINCE, Reporting, dump, entities, planned, row, run, server, source_of

from ss12000_fixtures import ACTIVITY, DUTY, GROUP, HUV, SU, ZONE
from styrkedja_cli.ss12000.command import changed_since, earliest_instant
from styrkedja_cli.ss12000.mapping import DELETED_AT_SOURCE, DUTY_DELETED_TAUGHT, GROUP_LEFT_OUT_TAUGHT, plan
from styrkedja_cli.ss12000.models import Meta, Organisation

NO_DELETIONS = {"deletedEntities": lambda request: httpx.Response(200, json={"data": {}})}


def by_id_or_list(items: list[dict[str, Any]], changed: Collection[str] = ()
                  ) -> Callable[[httpx.Request], httpx.Response]:
    """An entity's list (only the `changed` ids when asked with `meta.modified.after`) and each item by its id."""
    def answer(request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").removeprefix("v2/").split("/")
        if len(parts) == 2:
            found = [i for i in items if i["id"] == parts[1]]
            return (httpx.Response(200, json=found[0]) if found else
                    httpx.Response(404, json={"code": "not_found", "message": "no such entity"}))
        if "meta.modified.after" in request.url.params:
            return httpx.Response(200, json={"data": [i for i in items if i["id"] in changed]})
        return httpx.Response(200, json={"data": items})
    return answer


def test_a_person_changed_in_the_repeated_october_hour_without_an_offset_is_read_as_changed() -> None:
    """Failed on the old code: `meta.modified` 02:30 without an offset on the last Sunday of October was read as
    00:30 UTC (the first 02:30), before a `--since` of 02:45 (the first, 00:45 UTC) — so the person who joined the
    unchanged group g1 in the second 02:30 (01:30 UTC) was taken as unchanged, g1 not asked for, the membership not
    sent. Now the latest instant it can mean: the membership is read (again, at worst: `unchanged` at reporting). A
    time with an offset is the one instant it says."""
    since = earliest_instant(datetime(2026, 10, 25, 2, 45), ZONE)
    bare = {k: v for k, v in GROUP.items() if k != "groupMemberships"}
    person = {"id": "p1", "meta": {"modified": "2026-10-25T02:30:00"},
              "_embedded": {"groupMemberships": [{"group": {"id": "g1"}}]}}
    the_plan, _ = planned(server(entities(groups=by_id_or_list([bare]), activities=[], persons=[person],
                                          **NO_DELETIONS)), since=since)
    assert [(c["data"]["group_id"], c["data"]["student_id"]) for c in the_plan.changes.get("memberships", [])] == [
        ("g1", "p1")], the_plan.changes
    assert changed_since(Meta(modified="2026-10-25T02:30:00"), since, ZONE)
    assert not changed_since(Meta(modified="2026-10-25T02:30:00+02:00"), since, ZONE)  # the first 02:30, said so
    assert changed_since(Meta(modified="2026-10-25T02:30:00+01:00"), since, ZONE)
    # as a change's time: the import's clock (`now`), where an offset or a time Sweden has once is the source's own
    units = [{**SU, "id": f"su{n}", "schoolUnitCode": f"2999001{n}", "meta": {"modified": modified}}
             for n, modified in enumerate(["2026-10-25T02:10:00", "2026-03-29T02:30:00", "2026-10-25T02:10:00+01:00",
                                           "2026-10-25T03:10:00"])]
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    made = plan([Organisation.model_validate(o) for o in [HUV, *units]], [], [], [], [], naive_zone=ZONE, now=now)
    assert [datetime.fromisoformat(c["data"]["updated_at"]) for c in made.changes["organisations"][1:]] == [
        now, now, datetime(2026, 10, 25, 1, 10, tzinfo=UTC), datetime(2026, 10, 25, 2, 10, tzinfo=UTC)]
    # the missing hour of March: 02:30 is no instant of Sweden's; its latest reading (01:30 UTC) is after 01:00 UTC
    assert changed_since(Meta(modified="2026-03-29T02:30:00"), earliest_instant(datetime(2026, 3, 29, 3, 0), ZONE),
                         ZONE)


def live(reporting: Reporting, *prefixes: str) -> list[str]:
    """The keys reporting holds (not removed) that start with any of `prefixes`."""
    return sorted(k for (_, k), (digest, _) in reporting.published.items()
                  if digest != "removed" and k.startswith(prefixes))


def deleting(**kinds: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json={"data": kinds})


INCREMENTAL = ["--url", "http://ss12000.test/v2", "--since", SINCE.isoformat()]


def test_a_group_or_a_duty_deleted_at_the_source_takes_the_teaching_of_an_unchanged_activity_with_it(
        tmp_path, monkeypatch) -> None:
    """Failed on the old code: /deletedEntities named g1 (reporting removes the group and its memberships by their
    source id), but the teaching assignment of the unchanged activity a1 naming it came from a1, which was not read:
    it stayed, the teacher reading a group the source no longer has, until a full run. Alike for the duty d1 deleted
    (duties are read whole; its assignment stayed). Now the run reads the activities whole, leaves that teaching out
    by design (said, exit 0) and removes the assignment; the activity's other group's teaching is sent and kept. A
    changed activity naming the deleted group is left out so too, where it was refused as naming a group not known
    (exit 3, every run)."""
    g2 = {**GROUP, "id": "g2", "displayName": "7B", "groupMemberships": []}
    both = {**ACTIVITY, "groups": [{"id": "g1"}, {"id": "g2"}]}
    first = ByCode()
    exit_code, said = run(monkeypatch, dump(tmp_path, groups=[GROUP, g2], activities=[both]), None, first)
    assert exit_code == 0 and row(said, "activities")[0] == "2", said
    assignments = live(first, "teaching_assignment:")
    for activity_changed in (False, True):
        reporting = ByCode(held=first.published)
        handle = server(entities(groups=by_id_or_list([g2]), activities=by_id_or_list(
            [both], changed=["a1"] if activity_changed else []), deletedEntities=deleting(groups=["g1"])))
        exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
        assert exit_code == 0, said
        assert ("left out by design, activities a1: " + GROUP_LEFT_OUT_TAUGHT.format(
            n=0, group="g1", why=DELETED_AT_SOURCE)) in said, said
        kept = live(reporting, "teaching_assignment:")
        assert len(kept) == 1 and kept[0] in assignments, (activity_changed, said)
    # a duty deleted: the teaching by it goes, the group stays
    reporting = ByCode(held=first.published)
    handle = server(entities(groups=by_id_or_list([GROUP, g2]), duties=[], activities=by_id_or_list([both]),
                             deletedEntities=deleting(duties=["d1"])))
    exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
    assert exit_code == 0, said
    assert "left out by design, activities a1: " + DUTY_DELETED_TAUGHT.format(n=0, duty="d1") in said, said
    assert live(reporting, "teaching_assignment:") == [], said
    assert live(reporting, "unit:group:") == ["unit:group:29990011:g1", "unit:group:29990011:g2"]


def test_a_run_deleting_nothing_reporting_holds_reads_only_the_activities_that_changed(tmp_path, monkeypatch) -> None:
    """Pinned with the rule above: /deletedEntities naming what reporting does not hold (a group deleted before it
    was ever imported, an absence) reads the activities as far as they changed, as before (a person named reads the
    groups and activities whole: below)."""
    first = ByCode()
    assert run(monkeypatch, dump(tmp_path), None, first)[0] == 0
    asked: list[bool] = []
    activities = by_id_or_list([ACTIVITY])

    def watching(request: httpx.Request) -> httpx.Response:
        asked.append("meta.modified.after" in request.url.params)
        return activities(request)

    handle = server(entities(groups=by_id_or_list([GROUP]), activities=watching,
                             deletedEntities=deleting(groups=["g-never"], absences=["x9"])))
    exit_code, said = run(monkeypatch, INCREMENTAL, handle, ByCode(held=first.published))
    assert exit_code == 0 and asked == [True], (asked, said)


HUV2 = {"id": "huv2", "displayName": "Friskolan AB", "organisationType": "Huvudman",
        "organisationNumber": "556677-8899"}
FRISKOLAN = "556677-8899"


def held_by(reporting: Reporting, organiser: str) -> list[str]:
    return sorted(k for (o, k), (digest, _) in reporting.published.items() if o == organiser and digest != "removed")


def test_a_school_unit_moved_to_another_huvudman_leaves_the_old_organiser_in_an_incremental_run(tmp_path,
                                                                                                monkeypatch) -> None:
    """Failed on the old code: the incremental run sent the school unit su (and its duty, read whole) under
    556677-8899, but 2999 kept the unit, its unchanged group, membership and teaching assignment (nothing of them
    read), and the new organiser had the unit without its group. Now the run reads the groups and activities whole:
    the group, its membership and teaching are sent at 556677-8899, and what 2999 held of them removed, said."""
    first = Reporting()
    exit_code, said = run(monkeypatch, dump(tmp_path, organisations=[HUV, HUV2, SU]), None, first)
    assert exit_code == 0, said
    before = held_by(first, "2999")
    assert len(before) == 6 and held_by(first, FRISKOLAN) == ["unit:organiser:None:556677-8899"], before
    moved = {**SU, "parentOrganisation": {"id": "huv2"}}
    reporting, asked = Reporting(held=first.published), []
    groups = by_id_or_list([GROUP])

    def watching(request: httpx.Request) -> httpx.Response:
        asked.append(("changed " if "meta.modified.after" in request.url.params else "whole ") + request.url.path)
        return groups(request)

    handle = server(entities(organisations=[HUV, HUV2, moved], groups=watching, activities=by_id_or_list([ACTIVITY]),
                             **NO_DELETIONS))
    exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
    assert exit_code == 0, said
    assert held_by(reporting, "2999") == ["unit:organiser:None:2999"], said
    now = held_by(reporting, FRISKOLAN)
    assert [k.split(":")[0] for k in now] == ["duty", "membership", "teaching_assignment", "unit", "unit", "unit"], now
    assert ("moved to another organiser by the source (556677-8899): groups g1, organisations su; removed from "
            "organiser 2999's directory with what hung under them") in said, said
    assert asked == ["changed /v2/groups", "whole /v2/groups"], asked


def test_only_organiser_with_strict_counts_the_other_organisers_refusals_with_theirs_not_as_this_imports(
        tmp_path, monkeypatch) -> None:
    """Failed on the old code: `--only-organiser 2999 --strict` exited 3, listing `refused groups g-fri: displayName:
    …` and the duty at the other organiser's unit — items of 556677-8899, left out by the flag anyway, which this
    import can neither send nor mend. Now they are counted with that organiser's (`… 2 refused, 1 left out)`), not
    listed (nor the membership left out under the refused group), and exit 0; a refusal of 2999's own still exits 3, as does one whose organiser is not known (a group at an
    organisation the source lacks)."""
    su2 = {**SU, "id": "su2", "schoolUnitCode": "29990022", "parentOrganisation": {"id": "huv2"}}
    theirs = [{**GROUP, "id": "g-fri", "displayName": "", "organisation": {"id": "su2"}}]
    duty = {"id": "d-fri", "dutyAt": {"id": "su2"}, "dutyRole": "Lärare"}  # no person: refused
    only = ["--only-organiser", "2999"]
    exit_code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, HUV2, SU, su2], groups=[GROUP, *theirs],
                                              duties=[DUTY, duty]), *only], None, Reporting())
    assert exit_code == 0, said
    assert "--only-organiser: organiser 556677-8899 not imported (2 organisations, 2 refused, 1 left out)" in said, said
    assert "g-fri" not in said and "d-fri" not in said, said
    mine = {**GROUP, "id": "g-own", "displayName": "", "organisation": {"id": "su"}, "groupMemberships": []}
    nowhere = {**GROUP, "id": "g-nowhere", "organisation": {"id": "nowhere"}, "groupMemberships": []}
    for extra, refused in ((mine, "refused groups g-own: displayName:"), (nowhere, "refused groups g-nowhere:")):
        exit_code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, HUV2, SU, su2],
                                                  groups=[GROUP, *theirs, extra]), *only], None, Reporting())
        assert exit_code == 3 and refused in said and "--strict: 1 refused, 0 left out" in said, said


def test_a_member_dropped_from_the_list_of_a_group_an_incremental_run_reads_leaves_it(tmp_path, monkeypatch) -> None:
    """Failed on the old code: g1 changed (its list without p1: the student left, or was deleted at the source), the
    incremental run sent the group and kept the membership reporting held — a student of a group they are no longer in
    until a full run. Now removed, as a full run removes it; a group read without its list whose persons do not all
    state theirs (members unknown) keeps what reporting holds, as a full run does."""
    first = Reporting()
    assert run(monkeypatch, dump(tmp_path, persons=[{"id": "p1"}, {"id": "p2"}],
                                 groups=[{**GROUP, "groupMemberships": [{"person": {"id": "p1"}},
                                                                         {"person": {"id": "p2"}}]}]),
               None, first)[0] == 0
    assert len(live(first, "membership:")) == 2
    for group, kept in (({**GROUP, "groupMemberships": [{"person": {"id": "p2"}}]}, 1),
                        ({k: v for k, v in GROUP.items() if k != "groupMemberships"}, 2)):
        reporting = Reporting(held=first.published)
        handle = server(entities(groups=[group], activities=[], persons=[{"id": "p2"}], **NO_DELETIONS))
        exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
        assert exit_code == 0 and len(live(reporting, "membership:")) == kept, said


def test_a_person_deleted_at_the_source_leaves_the_unchanged_groups_it_was_in(tmp_path, monkeypatch) -> None:
    """Failed on the old code: /deletedEntities named the student p1 (its ids skipped unread, as persons' are), the
    group g1 did not change — the server states memberships on its persons, or updated g1's list without its
    `meta.modified` — and the membership stayed: a deleted student in the group until a full run. Now a run whose
    /deletedEntities names a person reads the groups whole, and removes what no list states any longer, in either
    shape of the server; the other member stays."""
    two = [{"person": {"id": "p1"}}, {"person": {"id": "p2"}}]
    first = Reporting()
    assert run(monkeypatch, dump(tmp_path, persons=[{"id": "p1"}, {"id": "p2"}],
                                 groups=[{**GROUP, "groupMemberships": two}]), None, first)[0] == 0
    on_persons = {k: v for k, v in GROUP.items() if k != "groupMemberships"}
    p2_states = {"id": "p2", "_embedded": {"groupMemberships": [{"group": {"id": "g1"}}]}}
    for group, person in (({**GROUP, "groupMemberships": [two[1]]}, {"id": "p2"}), (on_persons, p2_states)):
        reporting = Reporting(held=first.published)
        handle = server(entities(groups=by_id_or_list([group]), activities=[], persons=[person],
                                 deletedEntities=deleting(persons=["p1"])))
        exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
        assert exit_code == 0 and len(live(reporting, "membership:")) == 1, (group, said)
        assert live(reporting, "unit:group:") == live(first, "unit:group:")


def test_a_group_or_a_duty_moved_alone_to_another_huvudmans_school_unit_leaves_the_old_organiser(
        tmp_path, monkeypatch) -> None:
    """Failed on the old code for the group: g1 moved to su2 of 556677-8899 (the group changed, so read) was sent
    there without its teaching (the activity unchanged), and 2999 kept the group, its membership and the teaching.
    Now both follow it, and 2999 holds none of them; the duty moved alone (duties read whole) leaves 2999 too, its
    teaching staying the group's organiser's (as `Teaching across organisers` has it)."""
    su2 = {**SU, "id": "su2", "schoolUnitCode": "29990022", "parentOrganisation": {"id": "huv2"}}
    orgs = [HUV, HUV2, SU, su2]
    first = Reporting()
    assert run(monkeypatch, dump(tmp_path, organisations=orgs), None, first)[0] == 0
    moved_group = {**GROUP, "organisation": {"id": "su2"}}
    reporting = Reporting(held=first.published)
    handle = server(entities(organisations=orgs, groups=by_id_or_list([moved_group], changed=["g1"]),
                             activities=by_id_or_list([ACTIVITY]), **NO_DELETIONS))
    exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
    assert exit_code == 0, said
    assert [k.split(":")[0] for k in held_by(reporting, "2999")] == ["duty", "unit", "unit"], said
    assert [k.split(":")[0] for k in held_by(reporting, FRISKOLAN)] == [
        "membership", "teaching_assignment", "unit", "unit", "unit"], said
    reporting = Reporting(held=first.published)
    handle = server(entities(organisations=orgs, groups=by_id_or_list([GROUP]), duties=[{**DUTY, "dutyAt": {"id": "su2"}}],
                             activities=by_id_or_list([ACTIVITY]), **NO_DELETIONS))
    exit_code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
    assert exit_code == 0, said
    assert [k.split(":")[0] for k in held_by(reporting, "2999")] == [
        "membership", "teaching_assignment", "unit", "unit", "unit"], said
    assert [k.split(":")[0] for k in held_by(reporting, FRISKOLAN)] == ["duty", "unit", "unit"], said


@pytest.mark.parametrize("body", [
    {"data": {"groups": ["g1"], "persons": ["p1", {"id": "p2"}], "absences": ["x1"]}},  # the spec's shape, {id} too
    {"persons": ["p1", "p2"], "groups": ["g1"]},  # no envelope
    {"data": [{"id": "g1", "type": "groups"}, {"id": "p1", "type": "Person"}, {"id": "p2", "entityType": "persons"},
              {"id": "x1", "type": "absences"}]},  # a flat list of typed ids, the type in any case or key
])
def test_the_persons_deleted_entities_names_are_counted_in_every_shape_never_read(body) -> None:
    """New with the rule above (a run whose /deletedEntities names a person reads the groups whole): the persons are
    counted in each shape servers send (`Person` as EndPointsEnum has no such value, yet servers write it), their
    ids never among those returned as removals (round 31b holds them apart: test_ss12000_round31b)."""
    source, _ = source_of(server({"deletedEntities": lambda request: httpx.Response(200, json=body)}))
    assert source.deleted(SINCE) == ["g1"] and source.persons_deleted == 2


def test_a_source_placing_most_of_an_organiser_under_another_huvudman_at_once_stops_unless_asked(
        tmp_path, monkeypatch) -> None:
    """New with the move rule (a guard as a full run's): the only school unit of 2999, with 60 members, placed under
    556677-8899 in one incremental run would take 63 of 2999's 64 entities. Stopped with nothing sent, as a full run
    lacking most of an organiser is; `--allow-mass-removal` moves it."""
    members = [{"person": {"id": f"p{n}"}} for n in range(60)]
    group = {**GROUP, "groupMemberships": members}
    first = Reporting()
    assert run(monkeypatch, dump(tmp_path, organisations=[HUV, HUV2, SU], groups=[group], activities=[]), None,
               first)[0] == 0
    moved = {**SU, "parentOrganisation": {"id": "huv2"}}
    for flags, stopped in (([], True), (["--allow-mass-removal"], False)):
        reporting = Reporting(held=first.published)
        handle = server(entities(organisations=[HUV, HUV2, moved], groups=by_id_or_list([group]), activities=[],
                                 **NO_DELETIONS))
        exit_code, said = run(monkeypatch, [*INCREMENTAL, *flags], handle, reporting)
        if stopped:
            assert exit_code == 1 and "the source lacks 63 of the 64 entities reporting holds for 2999" in said, said
            assert reporting.posts == 0, said
        else:
            assert exit_code == 0 and held_by(reporting, "2999") == ["unit:organiser:None:2999"], said
