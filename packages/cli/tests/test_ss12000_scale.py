"""Round 27: a whole municipality as other SS 12000 servers serve it (290 school units, 100,000 students, 4,000
groups of 25), its memberships on the groups or only on the persons, in pages of the server's own size (1, 7, 1,000,
10,000), and an import stopped on the way. Measured by `bench/ss12000_municipality.py` (seconds and peak RSS are
there, never asserted here); what it found is pinned below. Each test failed on the code before it, as its
docstring says.

* memberships served only on persons (`expand=groupMemberships`) were held as pydantic models while the plan was
  made, some 1 KB each (a municipality's 100,000: 95 MB more peak than the same served on their groups); now
  compact, as a group's own entries are;
"""

from __future__ import annotations

import tracemalloc

from styrkedja_cli.ss12000.mapping import Plan, members_of
from styrkedja_cli.ss12000.models import ENTITIES, Compact, Shared


def test_memberships_stated_only_on_persons_are_held_compact_while_the_plan_is_made() -> None:
    """4,000 persons, each stating 5 of 800 groups (`_embedded.groupMemberships`, the groups without their own
    list): what `members_of` holds for them, per membership. Failed on the old code: 1,035 bytes each (a pydantic
    `Membership` and its `Ref` per entry); now some 150 (the person's Ref once for its 5, a compact membership and
    where it is stated)."""
    shared = Shared()
    groups = [shared.compact(ENTITIES["groups"].model_validate({
        "id": f"g{n}", "displayName": f"G{n}", "organisation": {"id": "su1"}})) for n in range(800)]
    persons = [shared.compact(ENTITIES["persons"].model_validate({"id": f"p{n}", "_embedded": {"groupMemberships": [
        {"group": {"id": f"g{(n + k * 97) % 800}"}, "startDate": "2026-08-17", "endDate": "2027-06-11"}
        for k in range(5)]}})) for n in range(4000)]
    tracemalloc.start()
    try:
        members = members_of(groups, persons, Plan())  # type: ignore[arg-type]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held / 20_000 < 300, f"{held / 20_000:.0f} bytes a membership"
    first = members["g3"][0]
    assert isinstance(first.membership, Compact)
    assert (first.path, first.membership.person.id, str(first.membership.start_date),
            str(first.membership.end_date)) == ("_embedded.groupMemberships[0]", "p3", "2026-08-17", "2027-06-11")
