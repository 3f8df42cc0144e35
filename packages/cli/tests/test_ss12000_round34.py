"""Session 34: SS 12000 servers that are not conformant, item by item. An item that breaks the specification on its
own — a teacher entry without its `duty` (the case seen: it stopped the import), a membership that is no object, an
enrolment without `enroledAt`, a `meta` or a `syllabus` of the wrong type — is refused on its own, named by its
entity, its id, the path and the rule; an entry of an item's list (`models.ENTRY_LISTS`: an activity's `teachers` and
`groups`, a group's `groupMemberships`, a person's `enrolments` and memberships) alone, its item read without it. The
rest of the page and of the import carry on, and a full import keeps what came of a refused item before
(`moves.kept_back`). Only an item whose id cannot be read stops the import (refused, it would read as deleted).

Each case is a stub server of the specification (`SpecServer`) serving one item changed; each failed on the code
before it (the page was refused, the import stopped), but those marked as read alike (an unknown field, `{}` for
`meta`), which check that nothing is refused that the specification allows."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_ss12000_servers import Reporting, dump, row, run
from test_ss12000_spec import ACTIVITY, DUTY, GROUP, HUV, SINCE, STUDENT, SU, TEACHER, ZONE, SpecServer

from ss12000_fixtures import GROUP as F_GROUP
from ss12000_fixtures import HUV as F_HUV
from ss12000_fixtures import SU as F_SU
from styrkedja_cli.ss12000.command import read_and_plan
from styrkedja_cli.ss12000.mapping import GROUP_REFUSED, ORGANISATION_REFUSED
from styrkedja_cli.ss12000.moves import kept_back
from styrkedja_cli.ss12000.source import SourceError

SYLLABUS = {"id": "5a7c9e1f-3b6d-4f8a-8c0e-2d4f6a8c0e2a", "subjectCode": "GRGRMAT01", "startSchoolYear": 7,
            "endSchoolYear": 9}
OTHER_GROUP = {**GROUP, "id": "6b8d0f2a-4c7e-4a9b-9d1f-3e5a7c9e1f3b", "displayName": "7B",
               "groupMemberships": [{"person": {"id": STUDENT}, "startDate": "2026-08-17"}]}
OTHER_DUTY = {**DUTY, "id": "7c9e1a3b-5d8f-4b0c-8e2a-4f6b8d0a2c4d", "person": {"id": "8d0f2b4c-6e9a-4c1d-9f3b-5a7c9e1b3d5e"}}
ENROLMENT = {"enroledAt": {"id": SU["id"]}, "schoolYear": 7, "schoolType": "GR", "startDate": "2026-08-17"}
PERSON = {"id": STUDENT, "enrolments": [ENROLMENT]}


def source(**changed: Any) -> dict[str, list[dict[str, Any]]]:
    """The whole source: two groups, two duties, one activity teaching both groups by both duties, a syllabus and a
    person; `changed` maps "<entity>" to a function changing a deep copy of that entity's first item."""
    served = {"organisations": [HUV, SU], "groups": [GROUP, OTHER_GROUP], "duties": [DUTY, OTHER_DUTY],
              "activities": [{**ACTIVITY, "syllabus": {"id": SYLLABUS["id"]},
                              "groups": [{"id": GROUP["id"]}, {"id": OTHER_GROUP["id"]}],
                              "teachers": [{"duty": {"id": DUTY["id"]}}, {"duty": {"id": OTHER_DUTY["id"]}}]}],
              "syllabuses": [SYLLABUS], "persons": [PERSON]}
    served = copy.deepcopy(served)
    for entity, change in changed.items():
        index = 1 if entity == "organisations" else 0  # (the Skolenhet: the Huvudman's faults are the tree's)
        change(served[entity][index])
    return served


def setting(path: str, value: Any) -> Any:
    """A change setting `path` ("teachers.1.duty": keys and list indices) to `value` (`DROP`: removing it)."""
    def change(item: dict[str, Any]) -> None:
        *above, last = path.split(".")
        holder: Any = item
        for step in above:
            holder = holder[int(step)] if step.isdigit() else holder[step]
        if value is DROP:
            del holder[int(last) if last.isdigit() else last]
        elif last.isdigit():
            holder[int(last)] = value
        else:
            holder[last] = value
    return change


DROP = object()
A, G, G2, D, P, S = ACTIVITY["id"], GROUP["id"], OTHER_GROUP["id"], DUTY["id"], STUDENT, SYLLABUS["id"]
OTHER_TEACHER = OTHER_DUTY["person"]["id"]
NOT_AN_OBJECT = "must be a JSON object, not {}"

#: (what is changed, the refusals (entity, id, reason), the teaching assignments sent (group, teacher), the
#: memberships sent (group, student))
CASES: list[tuple[str, dict[str, Any], set[tuple[str, str, str]], set[tuple[str, str]], set[tuple[str, str]]]] = [
    # an activity's teachers: each entry on its own
    ("a teacher without its duty", {"activities": setting("teachers.1.duty", DROP)},
     {("activities", A, "teachers[1].duty: Field required")}, {(G, TEACHER), (G2, TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher's duty null", {"activities": setting("teachers.1.duty", None)},
     {("activities", A, "teachers[1].duty: Field required")}, {(G, TEACHER), (G2, TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher entry empty", {"activities": setting("teachers.1", {})},
     {("activities", A, "teachers[1].duty: Field required")}, {(G, TEACHER), (G2, TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher's duty empty", {"activities": setting("teachers.1.duty", {})},
     {("activities", A, "teachers[1].duty.id: Field required")}, {(G, TEACHER), (G2, TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher's duty a text", {"activities": setting("teachers.1.duty", D)},
     {("activities", A, "teachers[1].duty: " + NOT_AN_OBJECT.format("a string"))}, {(G, TEACHER), (G2, TEACHER)},
     {(G, P), (G2, P)}),
    ("a teacher's duty id a number", {"activities": setting("teachers.1.duty.id", 7)},
     {("activities", A, "teachers[1].duty.id: Value error, must be text (a JSON string, as SS 12000 has it), not a "
                        "number: a number may have lost leading zeros")},
     {(G, TEACHER), (G2, TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher entry a text", {"activities": setting("teachers.0", "teacher")},
     {("activities", A, "teachers[0]: " + NOT_AN_OBJECT.format("a string"))},
     {(G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher entry null", {"activities": setting("teachers.0", None)},
     {("activities", A, "teachers[0]: " + NOT_AN_OBJECT.format("null"))},
     {(G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher's date no date", {"activities": setting("teachers.1.startDate", "17/08/2026")},
     {("activities", A, "teachers[1].startDate: Value error, must be a date (RFC 3339 full-date YYYY-MM-DD, SS "
                        "12000's format date) or an RFC 3339 date-time (YYYY-MM-DDThh:mm:ss, optionally a fraction "
                        "and an offset)")}, {(G, TEACHER), (G2, TEACHER)}, {(G, P), (G2, P)}),
    ("a teacher entry with a field unknown", {"activities": setting("teachers.1.grader", {"x": [1]})},
     set(), {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    # the list itself not a list: the activity's teachers are not known, the activity refused whole
    ("teachers an object", {"activities": setting("teachers", {"duty": {"id": D}})},
     {("activities", A, "teachers: Input should be a valid list (page 1, item 0)")}, set(), {(G, P), (G2, P)}),
    # an activity's groups: each entry on its own
    ("a group reference empty", {"activities": setting("groups.0", {})},
     {("activities", A, "groups[0].id: Field required")}, {(G2, TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("a group reference a text", {"activities": setting("groups.1", G2)},
     {("activities", A, "groups[1]: " + NOT_AN_OBJECT.format("a string"))}, {(G, TEACHER), (G, OTHER_TEACHER)},
     {(G, P), (G2, P)}),
    ("a group reference of dots", {"activities": setting("groups.1.id", "..")},
     {("activities", A, "groups[1].id: Value error, must not be only dots: `.` and `..` are path segments (/groups/.. "
                        "is the API's root)")}, {(G, TEACHER), (G, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    # an activity's syllabus and meta: what its teaching is (its subject, its time): the activity refused whole
    ("a syllabus reference empty", {"activities": setting("syllabus", {})},
     {("activities", A, "syllabus.id: Field required (page 1, item 0)")}, set(), {(G, P), (G2, P)}),
    ("a syllabus reference a list", {"activities": setting("syllabus", [S])},
     {("activities", A, "syllabus: " + NOT_AN_OBJECT.format("a list") + " (page 1, item 0)")}, set(),
     {(G, P), (G2, P)}),
    ("an activity's meta a text", {"activities": setting("meta", "2026-09-02")},
     {("activities", A, "meta: " + NOT_AN_OBJECT.format("a string") + " (page 1, item 0)")}, set(),
     {(G, P), (G2, P)}),
    ("an activity's meta.modified a number", {"activities": setting("meta", {"modified": 1788336000000})},
     {("activities", A, "meta.modified: Value error, must be an RFC 3339 timestamp written as text (SS 12000's "
                        "format date-time: YYYY-MM-DDThh:mm:ss, optionally a fraction and an offset), not a number "
                        "(page 1, item 0)")}, set(), {(G, P), (G2, P)}),
    ("an activity's meta empty", {"activities": setting("meta", {})}, set(),
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    # a group's memberships: each entry on its own; the group refused with it (nothing of it removed)
    ("a membership null", {"groups": setting("groupMemberships.0", None)},
     {("groups", G, "groupMemberships[0]: " + NOT_AN_OBJECT.format("null"))},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G2, P)}),
    ("a membership's person a text", {"groups": setting("groupMemberships.0.person", P)},
     {("groups", G, "groupMemberships[0].person: " + NOT_AN_OBJECT.format("a string"))},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G2, P)}),
    ("a membership's person empty", {"groups": setting("groupMemberships.0.person", {})},
     {("groups", G, "groupMemberships[0].person.id: Field required")},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G2, P)}),
    ("a membership's end no date", {"groups": setting("groupMemberships.0.endDate", [2026, 6, 12])},
     {("groups", G, "groupMemberships[0].endDate: Value error, must be a date written YYYY-MM-DD as text (SS 12000: "
                    "format date), not a list")},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G2, P)}),
    # a group refused whole (its memberships no list, its organisation missing): its teaching left out under it
    ("memberships a text", {"groups": setting("groupMemberships", "7A")},
     {("groups", G, "groupMemberships: Input should be a valid list (page 1, item 0)")},
     {(G2, TEACHER), (G2, OTHER_TEACHER)}, {(G2, P)}),
    ("a group without its organisation", {"groups": setting("organisation", DROP)},
     {("groups", G, "organisation: Field required (page 1, item 0)")},
     {(G2, TEACHER), (G2, OTHER_TEACHER)}, {(G2, P)}),
    ("a group with a field unknown", {"groups": setting("x-vendor", {"a": None})}, set(),
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    # a duty refused whole: the teaching by it refused naming it
    ("a duty's dutyAt empty", {"duties": setting("dutyAt", {})},
     {("duties", D, "dutyAt.id: Field required (page 1, item 0)"),
      ("activities", A, f"teachers[0].duty: duty {D} was refused")},
     {(G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("a duty's person a text", {"duties": setting("person", TEACHER)},
     {("duties", D, "person: " + NOT_AN_OBJECT.format("a string") + " (page 1, item 0)"),
      ("activities", A, f"teachers[0].duty: duty {D} was refused")},
     {(G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    # a syllabus refused whole: the activity's subject is not known, its teaching refused
    ("a syllabus's year a text", {"syllabuses": setting("startSchoolYear", "7")},
     {("syllabuses", S, "startSchoolYear: Value error, must be an integer (a JSON number, as SS 12000 has it), not "
                        "text (a JSON string) (page 1, item 0)"),
      ("activities", A, f"syllabus: syllabus {S} was refused")}, set(), {(G, P), (G2, P)}),
    # a person's enrolments: each on its own
    ("an enrolment without enroledAt", {"persons": setting("enrolments.0.enroledAt", DROP)},
     {("persons", P, "enrolments[0].enroledAt: Field required")},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("an enrolment a number", {"persons": setting("enrolments.0", 7)},
     {("persons", P, "enrolments[0]: " + NOT_AN_OBJECT.format("a number"))},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("an enrolment cancelled \"no\"", {"persons": setting("enrolments.0.cancelled", "no")},
     {("persons", P, "enrolments[0].cancelled: Value error, must be true or false (a JSON boolean, as SS 12000 has "
                     "it), not text (a JSON string)")},
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    # a Skolenhet refused whole: what is at it left out under it, kept
    ("a school unit's meta a list", {"organisations": setting("meta", [])}, set(),
     {(G, TEACHER), (G2, TEACHER), (G, OTHER_TEACHER), (G2, OTHER_TEACHER)}, {(G, P), (G2, P)}),
    ("a school unit's parentOrganisation a text", {"organisations": setting("parentOrganisation", HUV["id"])},
     {("organisations", SU["id"], "parentOrganisation: " + NOT_AN_OBJECT.format("a string") + " (page 1, item 1)")},
     set(), set()),
]


@pytest.mark.parametrize(("changed", "refused", "taught", "members"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_an_item_or_an_entry_that_breaks_the_specification_is_refused_on_its_own(
        changed: dict[str, Any], refused: set[tuple[str, str, str]], taught: set[tuple[str, str]],
        members: set[tuple[str, str]]) -> None:
    the_plan, _ = read_and_plan(SpecServer(source(**changed)).source(), since=None, naive_zone=ZONE)
    assert {(r.entity, r.id, r.reason) for r in the_plan.refused} == refused
    assert {(c["data"]["group_id"], c["data"]["teacher_id"]) for c in the_plan.changes.get("activities", [])} == taught
    assert {(c["data"]["group_id"], c["data"]["student_id"])
            for c in the_plan.changes.get("memberships", [])} == members
    # what came of a refused item before is kept by a full import (a refusal never reads as a deletion)
    assert {ident for entity, ident, _ in refused if entity != "persons"} <= kept_back(the_plan)


def test_a_school_unit_refused_as_read_leaves_out_what_is_at_it_as_under_a_refused_unit() -> None:
    served = source(organisations=setting("parentOrganisation", HUV["id"]))
    the_plan, _ = read_and_plan(SpecServer(served).source(), since=None, naive_zone=ZONE)
    left = {(r.entity, r.id, r.reason) for r in the_plan.under_refused}
    assert {("groups", G, f"{ORGANISATION_REFUSED} ({SU['id']})"), ("duties", D, f"{ORGANISATION_REFUSED} ({SU['id']})"),
            ("duties", OTHER_DUTY["id"], f"{ORGANISATION_REFUSED} ({SU['id']})")} <= left
    assert {G, G2, D, SU["id"]} <= kept_back(the_plan)


def test_an_activity_of_a_group_refused_as_read_is_left_out_under_it() -> None:
    served = source(groups=setting("organisation", DROP))
    the_plan, _ = read_and_plan(SpecServer(served).source(), since=None, naive_zone=ZONE)
    assert ("activities", A, f"{GROUP_REFUSED} ({G})") in {(r.entity, r.id, r.reason) for r in the_plan.under_refused}


def test_a_persons_membership_refused_leaves_the_members_of_groups_stated_by_persons_unknown() -> None:
    """A group served without its `groupMemberships` takes them from its persons: one of them refused (its group no
    object), whose membership it was is not known — nothing of the group's members is removed."""
    bare = {k: v for k, v in GROUP.items() if k != "groupMemberships"}
    person = {**PERSON, "_embedded": {"groupMemberships": [{"group": {"id": G}}, {"group": "7B"}]}}
    served = {**source(), "groups": [bare], "persons": [person]}
    the_plan, _ = read_and_plan(SpecServer(served).source(), since=None, naive_zone=ZONE)
    assert {(r.entity, r.id, r.reason) for r in the_plan.refused} >= {
        ("persons", P, "_embedded.groupMemberships[1].group: " + NOT_AN_OBJECT.format("a string"))}
    assert [c["data"]["student_id"] for c in the_plan.changes["memberships"]] == [P]  # the readable one: sent
    assert G in the_plan.members_unknown


@pytest.mark.parametrize(("item", "said"), [
    ({"displayName": "7A", "organisation": {"id": SU["id"]}}, "groups, page 1, item 0: id: Field required"),
    ("7A", "groups, page 1, item 0: must be a JSON object, not a string"),
    ({**GROUP, "id": 17}, "groups, page 1, item 0: id: Value error, must be text"),
])
def test_an_item_whose_id_cannot_be_read_stops_the_import_naming_it(item: Any, said: str) -> None:
    """Refused on its own, a full import would read the item as deleted: nothing names what it was."""
    with pytest.raises(SourceError, match=f"^{said}".replace("(", r"\(").replace(")", r"\)")):
        read_and_plan(SpecServer(source() | {"groups": [item, OTHER_GROUP]}).source(), since=None, naive_zone=ZONE)


def test_the_command_imports_the_rest_says_each_refusal_and_counts_it(tmp_path: Path, monkeypatch) -> None:
    """The case seen: a teacher entry without its duty stopped the import (exit 1, nothing sent). Now the rest is
    imported, the refusal said with its path and rule and counted (exit 3, --strict), nothing is removed of the
    activity, and no traceback."""
    teaching = "teaching_assignment:held-before"
    reporting = Reporting({("2999", teaching): ("digest", "a1")})
    args = dump(tmp_path, activities=[{"id": "a1", "groups": [{"id": "g1"}],
                                       "teachers": [{"duty": {"id": "d1"}}, {"startDate": "2026-08-17"}]}])
    exit_code, said = run(monkeypatch, args, None, reporting)
    assert exit_code == 3, said
    assert "refused activities a1: teachers[1].duty: Field required" in said
    assert row(said, "activities") == ["1", "0", "0", "0", "1", "0"], said  # created, …, refused, left out
    assert reporting.published[("2999", teaching)][0] != "removed"  # kept: a refusal is no deletion
    assert "Traceback" not in said
    assert json.loads((tmp_path / "activities.json").read_text())["data"][0]["teachers"][1] == {
        "startDate": "2026-08-17"}  # (the source as served: nothing was changed in it)


def test_only_organiser_says_an_organiser_whose_items_were_all_refused_is_in_the_source(tmp_path, monkeypatch) -> None:
    """Failed on the old code: `--only-organiser 2999: the source has nothing of it to import` beside the refusal of
    its Huvudman (a name the directory cannot take) and what was left out under it — the source has it; the run
    refused it."""
    args = dump(tmp_path, organisations=[{**F_HUV, "displayName": " "}, F_SU])
    exit_code, said = run(monkeypatch, [*args, "--only-organiser", "2999"], None, Reporting())
    assert exit_code == 3, said
    assert "refused organisations huv: displayName:" in said, said
    assert "the source has nothing of it" not in said, said


def test_only_organiser_marks_a_refusal_no_organiser_can_be_told_of_as_of_the_whole_source(
        tmp_path, monkeypatch) -> None:
    """A person is no organiser's: its refused enrolment was listed with --only-organiser as if it were that
    organiser's, unlike the summary's other lines of the whole source. Now marked as they are; without the flag, as
    before. A group's refusal is its organiser's, unmarked."""
    persons = [{"id": "p1", "enrolments": [{"schoolYear": 7}]}]
    groups = [F_GROUP, {**F_GROUP, "id": "g2", "displayName": "7B", "groupMemberships": [None]}]
    args = dump(tmp_path, persons=persons, groups=groups)
    exit_code, said = run(monkeypatch, [*args, "--only-organiser", "2999"], None, Reporting())
    assert exit_code == 3, said
    assert ("refused persons p1: enrolments[0].enroledAt: Field required (of the whole source: not told per "
            "organiser)") in said, said
    assert re.search(r"refused groups g2: groupMemberships\[0\]: must be a JSON object, not null(?! \(of)", said), said
    _, whole = run(monkeypatch, args, None, Reporting())
    assert "refused persons p1: enrolments[0].enroledAt: Field required" in whole
    assert "(of the whole source" not in whole, whole


def test_many_entries_of_one_item_refused_are_said_ten_and_counted() -> None:
    """A group whose every entry a server wrote wrong (a list of ids instead of objects): ten said, the rest counted,
    the group refused once per line said — not a line per entry."""
    group = {**GROUP, "groupMemberships": [STUDENT] * 25}
    the_plan, _ = read_and_plan(SpecServer(source() | {"groups": [group]}).source(), since=None, naive_zone=ZONE)
    said = [r.reason for r in the_plan.refused if r.entity == "groups"]
    assert said == [f"groupMemberships[{n}]: must be a JSON object, not a string" for n in range(10)] + [
        "15 more entries refused so (the first 10 said)"]
    assert G in kept_back(the_plan)  # nothing of it removed: its members are not known


def test_what_hangs_under_an_organisation_refused_as_read_is_left_out_under_it_not_moved() -> None:
    """An area refused as it was read (its `meta` a number): a school unit below it was refused as having no Huvudman
    above it — or, with --organiser, sent straight under the organiser, out of its area. Now left out under the
    refused area, what hangs under it too, all of it kept."""
    area = {"id": "va", "displayName": "Område", "organisationType": "Verksamhetsområde",
            "parentOrganisation": {"id": HUV["id"]}, "meta": 5}
    served = source() | {"organisations": [HUV, area, {**SU, "parentOrganisation": {"id": "va"}}]}
    the_plan, _ = read_and_plan(SpecServer(served).source(), since=None, naive_zone=ZONE)
    assert [(r.entity, r.id) for r in the_plan.refused] == [("organisations", "va")]
    assert ("organisations", SU["id"], f"{ORGANISATION_REFUSED} (va)") in {
        (r.entity, r.id, r.reason) for r in the_plan.under_refused}
    assert [c["data"]["unit_type"] for c in the_plan.changes["organisations"]] == ["organiser"]
    assert {"va", SU["id"], G, G2, D, A} <= kept_back(the_plan)


def test_a_source_whose_only_huvudman_was_refused_as_read_says_so() -> None:
    """Failed on the old code: the page stopped the import; on the first of this session's code, "none is of
    organisationType Huvudman … name the organiser with --organiser" — wrong: it has one, refused."""
    served = source() | {"organisations": [{**HUV, "meta": "x"}, SU]}
    with pytest.raises(SourceError, match=r"^organisations: none read is of organisationType Huvudman, and "
                                          r"organisations were refused as they were read \(1; the first: "
                                          rf"{HUV['id']}: meta: must be a JSON object"):
        read_and_plan(SpecServer(served).source(), since=None, naive_zone=ZONE)


def test_an_incremental_run_asking_for_a_group_by_its_id_refuses_it_on_its_own() -> None:
    """An incremental run asks for an unchanged group a changed activity names (`/groups/{id}`): one that breaks the
    specification stopped the run; now it is refused, the activity's teaching of it left out under it, the rest sent."""
    unchanged = {**GROUP, "meta": {"modified": "2026-08-01T08:00:00Z"}}
    broken = {**OTHER_GROUP, "organisation": "skolan", "meta": {"modified": "2026-08-01T08:00:00Z"}}
    served = source() | {"groups": [unchanged, broken]}
    served["activities"][0]["meta"] = {"modified": "2026-09-02T09:00:00Z"}
    the_plan, _ = read_and_plan(SpecServer(served).source(), since=SINCE, naive_zone=ZONE)
    assert ("groups", G2, f"organisation: must be a JSON object, not a string (asked by its id, /groups/{G2})") in {
        (r.entity, r.id, r.reason) for r in the_plan.refused}
    assert ("activities", A, f"{GROUP_REFUSED} ({G2})") in {(r.entity, r.id, r.reason) for r in the_plan.under_refused}
    assert {(c["data"]["group_id"], c["data"]["teacher_id"]) for c in the_plan.changes["activities"]} == {
        (G, TEACHER), (G, OTHER_TEACHER)}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into `value` (keys and list indices), itself first."""
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*prefix, index))
    return out


#: what a non-conformant server writes where something else belongs
SWEPT = (None, {}, [], "x", 7)


@pytest.mark.parametrize("entity", ["organisations", "groups", "duties", "activities", "syllabuses", "persons"])
def test_any_field_of_any_item_written_wrong_is_planned_or_stops_only_for_an_id(entity: str) -> None:
    """Every field and entry of every item of the source (`source()`, a person stating memberships too) set to each of
    `SWEPT`: the import plans the rest — never a traceback, and stopping only where an id cannot be read (or the
    source's only Huvudman is refused, which names it). 2,952 such runs with more values and --since found none."""
    base = source()
    base["persons"][0]["_embedded"] = {"groupMemberships": [{"group": {"id": G2}, "startDate": "2026-08-17"}]}
    index = 1 if entity == "organisations" else 0
    for path in _paths(base[entity][index])[1:]:
        for value in SWEPT:
            served = copy.deepcopy(base)
            holder: Any = served[entity][index]
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = value
            try:
                read_and_plan(SpecServer(served).source(), since=None, naive_zone=ZONE)
            except SourceError as stopped:
                assert path[-1] == "id" and len(path) == 1 or "organisations: none read" in str(stopped), (
                    path, value, str(stopped))
