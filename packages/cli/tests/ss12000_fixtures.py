"""The SS 12000 items the importer's tests build their sources from (`from ss12000_fixtures import HUV, SU, …`):
a Huvudman (a municipality), a Skolenhet under it, a group there with one member, a teacher's duty there and an
activity in which that teacher teaches the group — the least a source holds for every entity to be imported.
A test changes only what it is about (`{**GROUP, "startDate": None}`); the UUID-keyed items of the spec tests
(`test_ss12000_spec.py`, `test_ss12000_servers_differ.py`) stay there, as their ids' spelling is what they test."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

#: the zone of a source's timestamps without one (the command's default, `--naive-timezone`)
ZONE = ZoneInfo("Europe/Stockholm")
#: a personal identity number (the Tax Agency's test person): never read in, never said
PIN = "19121212-1212"
HUV = {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"}
SU = {"id": "su", "displayName": "Skolan", "organisationType": "Skolenhet", "schoolUnitCode": "29990011",
      "parentOrganisation": {"id": "huv"}}
GROUP = {"id": "g1", "displayName": "7A", "organisation": {"id": "su"}, "startDate": "2026-08-17",
         "groupMemberships": [{"person": {"id": "p1"}}]}
DUTY = {"id": "d1", "person": {"id": "t1"}, "dutyAt": {"id": "su"}, "dutyRole": "Lärare"}
ACTIVITY = {"id": "a1", "groups": [{"id": "g1"}], "teachers": [{"duty": {"id": "d1"}}]}


def refused_as_read(source: Any, entity: str) -> str:
    """What reading `entity` from `source` refused on its own (session 34: an item that breaks the specification is
    refused alone, `Shared.refused`, or an entry of one of its lists, `Shared.faults`), each "<entity> <id>: <reason>",
    joined by "; " ("" when nothing was)."""
    source.read(entity, None, lambda *_: None)
    said = [f"{kind} {ident}: {why}" for (kind, ident), why in source.shared.refused.items()]
    said += [f"{kind} {ident}: {fault}" for (kind, ident), faults in source.shared.faults.items() for fault in faults]
    return "; ".join(said)
