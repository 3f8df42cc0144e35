"""Round 32: what incremental and whole runs still missed. Each test failed on the code before it, as its docstring
says (checked by running it with the change taken out).

* a group whose list held a refused membership (a student stated twice with two ends) and no longer held another
  member: the refusal's id (`g1/p2`) held the whole group back as refused, so the member dropped from its list stayed
  a member in reporting — in an incremental run (`left_behind`) and in a full one (`vanished`) alike. Now a refused
  membership keeps only what reporting holds of it (its key, `Plan.refused_memberships`); what the list no longer
  states goes.

The servers are `httpx.MockTransport` handlers, reporting a stub comparing as reporting does."""

from __future__ import annotations

from typing import Any

from test_ss12000_round30 import ByCode
from test_ss12000_round31 import INCREMENTAL, NO_DELETIONS, by_id_or_list, live
from test_ss12000_servers import Reporting, dump, entities, run, server

from ss12000_fixtures import ACTIVITY, GROUP

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
