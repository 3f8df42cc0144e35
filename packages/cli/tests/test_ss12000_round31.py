"""Round 31: what an incremental run (`--since`) missed, and the edges of `--only-organiser`. Each test failed on the
code before it, as its docstring says (checked by running it with the change taken out).

* a person (or any item) whose `meta.modified` has no offset and falls in the repeated October hour was read as the
  first of the two instants it can mean: changed in the second, it was taken as unchanged after a `--since` between
  them, and what it stated (a membership of an unchanged group) was not read. Now the latest instant it can mean.

The servers are `httpx.MockTransport` handlers, reporting a stub comparing as reporting does."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import httpx
from test_ss12000_servers import entities, planned, server

from ss12000_fixtures import GROUP, ZONE
from styrkedja_cli.ss12000.command import changed_since, earliest_instant
from styrkedja_cli.ss12000.models import Meta

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
    # the missing hour of March: 02:30 is no instant of Sweden's; its latest reading (01:30 UTC) is after 01:00 UTC
    assert changed_since(Meta(modified="2026-03-29T02:30:00"), earliest_instant(datetime(2026, 3, 29, 3, 0), ZONE),
                         ZONE)
