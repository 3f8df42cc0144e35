"""Round 32: what incremental and whole runs still missed. Each test failed on the code before it, as its docstring
says (checked by running it with the change taken out).

* a group whose list held a refused membership (a student stated twice with two ends) and no longer held another
  member: the refusal's id (`g1/p2`) held the whole group back as refused, so the member dropped from its list stayed
  a member in reporting — in an incremental run (`left_behind`) and in a full one (`vanished`) alike. Now a refused
  membership keeps only what reporting holds of it (its key, `Plan.refused_memberships`); what the list no longer
  states goes.
* a Huvudman gone from the source entirely was noticed only when --only-organiser named it: a full run kept all it
  held, saying nothing, and a school moved from it stayed there. Now the organisers the --reporting-token is for (its
  `organisers` claim) are read too: a school the source placed elsewhere moves (full runs too), the rest is kept and
  said naming `--gone-organiser`, which removes it in a full run; --strict exits 3.
* with --only-organiser, the summary's lines counted the whole source: now only its organisers' items, and what no
  organiser can be told of is marked as of the whole source.

The servers are `httpx.MockTransport` handlers, reporting a stub comparing as reporting does."""

from __future__ import annotations

import base64
import json
from typing import Any

from test_ss12000_round30 import ByCode
from test_ss12000_round31 import FRISKOLAN, HUV2, INCREMENTAL, NO_DELETIONS, by_id_or_list, held_by, live
from test_ss12000_servers import Reporting, dump, entities, run, server

from ss12000_fixtures import ACTIVITY, GROUP, HUV, SU
from styrkedja_cli.ss12000.command import token_organisers

THREE = [{"person": {"id": "p1"}}, {"person": {"id": "p2"}}, {"person": {"id": "p3"}}]
#: p2 stated twice with two ends (refused, both entries), p3 gone from the list
TWICE_NO_P3 = [{"person": {"id": "p1"}},
               {"person": {"id": "p2"}, "startDate": "2026-08-17", "endDate": "2027-06-10"},
               {"person": {"id": "p2"}, "startDate": "2026-08-17", "endDate": "2027-06-20"}]


def _first(tmp_path: Any, monkeypatch: Any) -> Reporting:
    first = ByCode()
    code, said = run(monkeypatch, dump(tmp_path, groups=[{**GROUP, "groupMemberships": THREE}]), None, first)
    assert code == 0 and len(live(first, "membership:")) == 3, said
    return first


def test_an_incremental_run_removes_a_member_dropped_from_a_list_that_also_holds_a_refused_membership(
        tmp_path, monkeypatch) -> None:
    """Failed on the old code: g1 changed, its list stating p2 twice with two ends (refused) and p3 no more. The
    refused `g1/p2` held g1 back in `left_behind`: p3 stayed a member of g1 until a full run (and past it, below).
    Now p3's membership goes; p2's, refused, is kept as reporting holds it; p1's stays."""
    first = _first(tmp_path, monkeypatch)
    before = live(first, "membership:")
    reporting = ByCode(held=first.published)
    handle = server(entities(groups=by_id_or_list([{**GROUP, "groupMemberships": TWICE_NO_P3}], changed=["g1"]),
                             activities=by_id_or_list([ACTIVITY]), **NO_DELETIONS))
    code, said = run(monkeypatch, INCREMENTAL, handle, reporting)
    assert code == 3 and "refused memberships g1/p2: groupMemberships[1]: stated again" in said, said
    after = live(reporting, "membership:")
    assert len(after) == 2 and set(after) < set(before), said  # p1's and p2's (refused: kept), not p3's


def test_a_full_run_removes_a_member_dropped_from_a_list_that_also_holds_a_refused_membership(
        tmp_path, monkeypatch) -> None:
    """Failed on the old code: as above in a full run — `vanished` kept everything of g1's source id (its every
    membership) for the refused `g1/p2`, so p3, gone from the source, stayed a member of g1 however many full runs."""
    first = _first(tmp_path, monkeypatch)
    before = live(first, "membership:")
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, dump(tmp_path, groups=[{**GROUP, "groupMemberships": TWICE_NO_P3}]), None,
                     reporting)
    assert code == 3 and "refused memberships g1/p2: groupMemberships[1]: stated again" in said, said
    after = live(reporting, "membership:")
    assert len(after) == 2 and set(after) < set(before), said


def test_a_membership_refused_for_its_content_keeps_what_reporting_holds_of_it(tmp_path, monkeypatch) -> None:
    """With the rule above: a membership refused by the contract's rules (an end before its start) is no deletion —
    reporting's membership of that student stays; only the student dropped from the list goes."""
    first = _first(tmp_path, monkeypatch)
    bad_end = [{"person": {"id": "p1"}}, {"person": {"id": "p2"}, "endDate": "2020-01-01"}]
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, dump(tmp_path, groups=[{**GROUP, "groupMemberships": bad_end}]), None, reporting)
    assert code == 3 and "refused memberships g1/p2" in said, said
    assert len(live(reporting, "membership:")) == 2, said


# -- a Huvudman gone from the source --------------------------------------------------------------------------------

def token_for(*organisers: str) -> str:
    """A reporting token as `styrkedja token` issues one, its `organisers` claim the ones given (the stub does not
    check the signature; reporting does)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256'})}.{part({'sub': 'import', 'roles': ['platform'], 'organisers': list(organisers)})}.c2ln"


BOTH = ["--reporting-token", token_for("2999", FRISKOLAN)]
SU2 = {**SU, "id": "su2", "schoolUnitCode": "29990022", "parentOrganisation": {"id": "huv2"}}
G2 = {**GROUP, "id": "g2", "organisation": {"id": "su2"}, "groupMemberships": [{"person": {"id": "p2"}}]}


def _two_organisers(tmp_path: Any, monkeypatch: Any) -> Reporting:
    first = ByCode()
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, HUV2, SU, SU2], groups=[GROUP, G2]), *BOTH],
                     None, first)
    assert code == 0 and len(held_by(first, FRISKOLAN)) == 4, said  # its Huvudman, su2, g2, p2's membership
    return first


def test_a_full_run_keeps_and_says_a_huvudman_gone_from_the_source_that_the_token_is_for(tmp_path, monkeypatch) -> None:
    """Failed on the old code: the source no longer had the Huvudman 556677-8899 at all (nor its school su2). A full
    run read what reporting holds only for the organisers the source lists: 556677-8899 kept su2, its group and
    membership, nothing said, exit 0 — unnoticed for ever. Now the organisers the --reporting-token is for (its
    `organisers` claim) are read too: what such an organiser holds is kept (a whole organiser gone at once is what a
    wrong source looks like too), said naming it and the flag that removes it, and --strict exits 3."""
    first = _two_organisers(tmp_path, monkeypatch)
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, SU]), *BOTH], None, reporting)
    assert code == 3, said
    # (its memberships not read, round 33: a run needs none of an organiser the source has nothing of)
    assert (f"organiser {FRISKOLAN} (the --reporting-token's): the source has nothing of it, and reporting holds 3 of "
            f"its entities and its memberships (not counted): kept") in said and f"--gone-organiser {FRISKOLAN} removes it" in said, said
    assert "--strict: 0 refused, 0 left out, 1 organisers the source has nothing of kept (exit 3" in said, said
    assert len(held_by(reporting, FRISKOLAN)) == 4 and len(held_by(reporting, "2999")) == 6, said


def test_gone_organiser_removes_the_huvudman_gone_from_the_source_whole(tmp_path, monkeypatch) -> None:
    """With the rule above: `--gone-organiser` names the organiser, and the full run removes all reporting holds for
    it (the flag names it, so no mass-removal guard), the other organiser's as any full run. A token without the claim
    (or no JWT) tells nothing: as before, nothing read, nothing said."""
    first = _two_organisers(tmp_path, monkeypatch)
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, SU]), *BOTH, "--gone-organiser", FRISKOLAN],
                     None, reporting)
    assert code == 0 and held_by(reporting, FRISKOLAN) == [] and len(held_by(reporting, "2999")) == 6, said
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, SU]), "--reporting-token", "opaque-token"],
                     None, reporting)
    assert code == 0 and len(held_by(reporting, FRISKOLAN)) == 4 and FRISKOLAN not in said, said


def test_gone_organiser_is_refused_for_an_incremental_run_and_for_an_organiser_the_source_has(
        tmp_path, monkeypatch) -> None:
    """--gone-organiser removes a whole organiser: only by a full run (usage, exit 2), and never one the source has
    anything of (stopped before anything is sent, exit 1)."""
    first = _two_organisers(tmp_path, monkeypatch)
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, [*INCREMENTAL, "--gone-organiser", FRISKOLAN], None, reporting)
    assert code == 2 and "--gone-organiser goes with a full run" in said, said
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, HUV2, SU, SU2], groups=[GROUP, G2]), *BOTH,
                                   "--gone-organiser", FRISKOLAN], None, reporting)
    assert code == 1 and reporting.posts == 0, said
    assert f"--gone-organiser {FRISKOLAN}: the source has it still" in said, said


def test_an_incremental_run_moves_a_school_from_a_huvudman_gone_from_the_source_the_token_is_for(
        tmp_path, monkeypatch) -> None:
    """Failed on the old code: as round 31b's, without --only-organiser: the source no longer listed 2999, its school
    su now under 556677-8899. The run read only 556677-8899's holdings, sent su there and left 2999 holding su with
    its group, membership, duty and teaching, nothing said. Now the token's organisers are read: su moves (removed at
    2999 with what hung under it), what 2999 holds besides (its own unit) is kept and said, exit 3."""
    first = ByCode()
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, HUV2, SU]), *BOTH], None, first)
    assert code == 0 and len(held_by(first, "2999")) == 6, said
    moved = {**SU, "parentOrganisation": {"id": "huv2"}}
    reporting = ByCode(held=first.published)
    handle = server(entities(organisations=[HUV2, moved], groups=by_id_or_list([GROUP]),
                             activities=by_id_or_list([ACTIVITY]), **NO_DELETIONS))
    code, said = run(monkeypatch, [*INCREMENTAL, *BOTH], handle, reporting)
    assert code == 3, said
    assert held_by(reporting, "2999") == ["unit:organiser:None:2999"], said
    assert ("organiser 2999 (the --reporting-token's): the source has nothing of it, and reporting holds 1 of its "
            "entities: kept") in said, said


def test_the_organisers_of_a_token_are_read_from_its_claim_and_nothing_else() -> None:
    """Each id in its one spelling; a token that is no JWT, or whose claim is no list of organiser ids: none."""
    def claims(value: Any) -> str:
        return "e30." + base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=") + ".c"
    assert token_organisers(token_for("2120001234", "2999")) == {"212000-1234", "2999"}
    for token in (None, "", "opaque", "a.b.c", "a..c", token_for(), claims(None), claims([1]),
                  claims({"organisers": "2999"}), claims({"organisers": [1, None, "x y", {"id": "2999"}]})):
        assert token_organisers(token) == frozenset(), token


# -- --only-organiser: the summary lines of what the run considers alone -------------------------------------------

DUTY2 = {"id": "d2", "person": {"id": "t2"}, "dutyAt": {"id": "su2"}, "dutyRole": "Vaktmästare"}
KLASS = {**GROUP, "id": "k2", "displayName": "7K", "groupType": "Klass", "organisation": {"id": "su2"},
         "groupMemberships": [{"person": {"id": "p2"}}]}
OTHER_KLASS = {**KLASS, "id": "k3", "displayName": "7L"}
ODD = {**GROUP, "id": "g2", "displayName": "Odd", "groupType": "Påhittad", "organisation": {"id": "su2"},
       "startDate": "2026-08-17T00:00:00+02:00"}
UNSTATED = {"id": "g3", "displayName": "Utan lista", "organisation": {"id": "su2"}, "startDate": "2026-08-17"}
ACROSS = {"id": "a2", "groups": [{"id": "g2"}], "teachers": [{"duty": {"id": "d1"}}], "syllabus": {"id": "sy"}}
CLASS_UNIT = {"id": "k-unit", "displayName": "Klass 7K", "organisationType": "Klass", "parentOrganisation": {"id": "su2"}}


def test_only_organiser_says_only_what_it_considers_of_that_organiser(tmp_path, monkeypatch) -> None:
    """Failed on the old code: with --only-organiser 2999, the summary still counted the independent school's items
    (556677-8899's, neither sent nor read for it): its group of an unknown type and its duty's unknown role, the
    unknown subject of its teaching and the teaching across organisers, its students in two classes, its group
    without a list and its organisation folded. Now each line counts only the organisers imported; a run of both
    says them all. What no organiser can be told of (a date as read, a person's) is said as of the whole source."""
    source = dump(tmp_path, organisations=[HUV, SU, HUV2, SU2, CLASS_UNIT],
                  groups=[GROUP, ODD, UNSTATED, KLASS, OTHER_KLASS], duties=[
                      {"id": "d1", "person": {"id": "t1"}, "dutyAt": {"id": "su"}, "dutyRole": "Lärare"}, DUTY2],
                  activities=[ACTIVITY, ACROSS], syllabuses=[{"id": "sy", "subjectCode": "QQQ"}],
                  persons=[{"id": "p1"}, {"id": "p2"}])
    whole = ["groups.groupType: 1 of a value that is not SS 12000's", "duties.dutyRole: 1 of a value",
             "syllabus.subjectCode: 1 codes not on Skolverket's subject list",
             "teaching assignments: 1 whose teacher's duty is at another organiser's school unit",
             "memberships: students in two groups of type Klass at once, in 2 classes",
             "groups: 1 served without groupMemberships", "not a level of the directory, organisations k-unit"]
    code, said = run(monkeypatch, source, None, ByCode())
    for line in whole:
        assert line in said, (line, said)
    code, said = run(monkeypatch, [*source, "--only-organiser", "2999"], None, ByCode())
    assert code == 0, said
    for line in whole:
        assert line not in said, (line, said)
    assert ("dates written as a date-time, read as their day in Europe/Stockholm (of the whole source: not told per "
            "organiser)") in said, said


def test_a_refused_membership_without_any_start_keeps_its_key_as_the_reference_api_serves_it(
        tmp_path, monkeypatch) -> None:
    """A variation of the first tests: Skolverket's reference API states no start on the group nor its memberships (the
    start is the day the group came into the source, `meta.created`). The refused entries' key is worked out as a
    sent one's would be, so p2's membership held from before is kept and p3's, dropped from the list, goes."""
    bare = {k: v for k, v in GROUP.items() if k != "startDate"} | {"meta": {"created": "2026-08-10T08:00:00Z"}}
    first = ByCode()
    code, said = run(monkeypatch, dump(tmp_path, groups=[{**bare, "groupMemberships": THREE}]), None, first)
    assert code == 0 and len(live(first, "membership:")) == 3, said
    twice = [{"person": {"id": "p1"}}, {"person": {"id": "p2"}, "endDate": "2027-06-10"},
             {"person": {"id": "p2"}, "endDate": "2027-06-20"}]
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, dump(tmp_path, groups=[{**bare, "groupMemberships": twice}]), None, reporting)
    assert code == 3 and "refused memberships g1/p2" in said, said
    after = live(reporting, "membership:")
    assert len(after) == 2 and set(after) < set(live(first, "membership:")), said


def test_a_refused_membership_stated_on_persons_keeps_only_its_key(tmp_path, monkeypatch) -> None:
    """A variation of the first tests: the server states memberships on persons alone (`_embedded.groupMemberships`,
    the group without its list; every person states theirs, so the members are known). p2 states g1 twice with two
    ends (refused), p3 states it no more: p3's membership goes, p2's is kept. Failed on the old code as the first."""
    bare = {k: v for k, v in GROUP.items() if k != "groupMemberships"}

    def person(pid: str, *entries: dict[str, Any]) -> dict[str, Any]:
        return {"id": pid, "_embedded": {"groupMemberships": [{"group": {"id": "g1"}, **e} for e in entries]}}

    first = ByCode()
    persons = [person("p1", {}), person("p2", {}), person("p3", {})]
    code, said = run(monkeypatch, dump(tmp_path, groups=[bare], persons=persons), None, first)
    assert code == 0 and len(live(first, "membership:")) == 3, said
    persons = [person("p1", {}), person("p2", {"endDate": "2027-06-10"}, {"endDate": "2027-06-20"}), person("p3")]
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, dump(tmp_path, groups=[bare], persons=persons), None, reporting)
    assert code == 3 and "refused memberships g1/p2" in said, said
    after = live(reporting, "membership:")
    assert len(after) == 2 and set(after) < set(live(first, "membership:")), said


def test_an_organisation_number_in_either_spelling_names_the_one_organiser(tmp_path, monkeypatch) -> None:
    """A variation: the token's claim and --gone-organiser may spell the organisation number without its dash (as a
    source's `organisationNumber` may, 5566778899): each is read in the one spelling reporting keeps (556677-8899),
    so the organiser gone from the source is noticed, and removed, all the same."""
    first = _two_organisers(tmp_path, monkeypatch)
    undashed = ["--reporting-token", token_for("2999", "5566778899")]
    reporting = ByCode(held=first.published)
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, SU]), *undashed], None, reporting)
    assert code == 3 and f"organiser {FRISKOLAN} (the --reporting-token's): the source has nothing of it" in said, said
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, SU]), *undashed, "--gone-organiser",
                                   "5566778899"], None, reporting)
    assert code == 0 and held_by(reporting, FRISKOLAN) == [], said


def test_a_full_run_moves_a_school_from_a_huvudman_gone_from_the_source_the_token_is_for(tmp_path, monkeypatch) -> None:
    """Failed on the old code: the source no longer had 2999's Huvudman, and its school su was under 556677-8899. A
    full run sent su there and left 2999 holding su, its group, membership, duty and teaching (2999 was not read; and
    reporting refuses the unit at the new organiser while the old one holds its code). Now a full run takes from an
    organiser the token is for what the source placed under another, as an incremental run does, said; the rest of
    2999 (its own unit) is kept and said, exit 3."""
    first = ByCode()
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV, HUV2, SU]), *BOTH], None, first)
    assert code == 0 and len(held_by(first, "2999")) == 6, said
    reporting = ByCode(held=first.published)
    moved = {**SU, "parentOrganisation": {"id": "huv2"}}
    code, said = run(monkeypatch, [*dump(tmp_path, organisations=[HUV2, moved]), *BOTH], None, reporting)
    assert code == 3, said
    assert held_by(reporting, "2999") == ["unit:organiser:None:2999"], said
    assert [k.split(":")[0] for k in held_by(reporting, FRISKOLAN)] == [
        "duty", "membership", "teaching_assignment", "unit", "unit", "unit"], said
    assert f"moved to another organiser by the source ({FRISKOLAN})" in said, said
    assert "organiser 2999 (the --reporting-token's): the source has nothing of it, and reporting holds 1" in said, said


def test_gone_organiser_removes_past_the_mass_removal_guard_which_still_guards_the_others(
        tmp_path, monkeypatch) -> None:
    """All of an organiser gone is more than half of it: the guard would stop every --gone-organiser of more than 50
    entities. The flag names the organiser, so its removal passes; the organisers the source lists stay guarded."""
    first = ByCode()
    assert run(monkeypatch, dump(tmp_path), None, first)[0] == 0
    many = {(FRISKOLAN, f"membership:m{n}"): ("digest", "g9") for n in range(60)}
    reporting = ByCode(held={**first.published, **many})
    code, said = run(monkeypatch, [*dump(tmp_path), *BOTH, "--gone-organiser", FRISKOLAN], None, reporting)
    assert code == 0 and held_by(reporting, FRISKOLAN) == [] and len(held_by(reporting, "2999")) == 6, said
    lacking = {("2999", f"membership:x{n}"): ("digest", "gx") for n in range(60)}
    reporting = ByCode(held={**first.published, **many, **lacking})
    code, said = run(monkeypatch, [*dump(tmp_path), *BOTH, "--gone-organiser", FRISKOLAN], None, reporting)
    assert code == 1 and "the source lacks 60 of the 66 entities reporting holds for 2999" in said, said
    assert reporting.posts == 0, said
