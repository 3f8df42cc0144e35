"""The rebuild's pass figure made in parts of the organisers (`rebuild.parts`, session 36) makes the same rows as one
statement and as the incremental apply, figure_students written in its key's order: three organisers with the same students' pseudonyms and record ids (a record
is identified within its organiser), students in two groups and two school units of one organiser."""

from __future__ import annotations

from collections import Counter

import pytest

from styrkedja_contracts import new_event
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import rebuild

from .test_batch_split import CODES, NORTH, ORG, SOUTH, delivered, in_batches, loop_on, make_log
from .test_rebuild import GROUP, database_rows, physical_order_is_key_order

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: the other organisers (one below ORG's id, one above it in the database's order) and their school unit codes
OTHERS = {"2996": 1, "3001": 2}


def _of(organiser: str, shift: int, event):
    """`event` as `organiser`'s: its organiser, school units, areas and units renamed, ids and students kept."""
    codes = {code: str(int(code) + shift) for code in CODES}
    names = {ORG: organiser, NORTH: f"{NORTH}-{organiser}", SOUTH: f"{SOUTH}-{organiser}",
             **{f"su-{code}": f"su-{other}" for code, other in codes.items()}, **codes}
    data = event.data
    changed = {name: names.get(value, value) for name in ("organiser_id", "school_unit_code", "unit_id", "parent_id")
               if isinstance(value := getattr(data, name, None), str)}
    return new_event(data.model_copy(update=changed), source="/t")


def three_organisers(seed: int) -> list:
    log = make_log(seed)
    out = list(log)
    for organiser, shift in OTHERS.items():
        out += [_of(organiser, shift, event) for event in make_log(seed + shift)]
    return out


async def _rebuilt(db: Database, log: list, parts: int):
    return await rebuild(db, delivered(log), group_id=GROUP, next_offsets={},
                         handles=handler_registry(live_alerts=False).handles, chunk=101, connections=2,
                         pass_parts=parts)


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("incremental", "whole", "parts", "more parts")}


async def test_pass_in_parts_of_the_organisers_makes_the_same_rows_as_one_statement_and_the_apply(settings,
                                                                                                  database_urls,
                                                                                                  monkeypatch):
    monkeypatch.setenv("STYRKEDJA_REBUILD_LEVEL_PARTS", "true")  # the levels in the same parts (after38)
    log = three_organisers(36)
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), log, 50)
        whole = await _rebuilt(dbs["whole"], log, 1)
        parts = await _rebuilt(dbs["parts"], log, 2)
        more = await _rebuilt(dbs["more parts"], log, 5)  # more parts than organisers: one each, the rest idle
        assert "figures.pass" in whole.timeline and not any(k.startswith("figures.pass.") for k in whole.timeline)
        assert {k for k in parts.timeline if k.startswith("figures.pass.")} == {"figures.pass.0", "figures.pass.1"}
        assert len([k for k in more.timeline if k.startswith("figures.pass.")]) == 5
        # the later parts' figure_students rows appended after the earlier ones': the heap in the key's order
        assert {k for k in parts.timeline if k.startswith("figures.students.")} == {"figures.students.1"}
        for way in ("whole", "parts", "more parts"):
            assert await physical_order_is_key_order(dbs[way], "figure_students"), way
        # the levels in the same parts (after38), their later parts appended in order: the aggregates' heap in its
        # key's order too
        assert "levels.assessment_aggregates" in whole.timeline and not any(
            k.startswith(("levels.assessment_aggregates.", "levels.appended.")) for k in whole.timeline)
        assert {k for k in parts.timeline if k.startswith("levels.")} >= {
            "levels.assessment_aggregates.0", "levels.assessment_aggregates.1", "levels.appended.1"}
        assert len([k for k in more.timeline if k.startswith("levels.appended.")]) == 4
        for way in ("whole", "parts", "more parts"):
            assert await physical_order_is_key_order(dbs[way], "assessment_aggregates"), way
        # the judgement waits for every part of the levels, the appended ones too
        assert parts.timeline["alerts.judge"][0] >= parts.timeline["levels.appended.1"][1]
        start, end = parts.timeline["figures.pass"]  # the parts' span
        assert start <= min(parts.timeline[f"figures.pass.{i}"][0] for i in range(2)) and end >= max(
            parts.timeline[f"figures.pass.{i}"][1] for i in range(2))

        reference = await database_rows(dbs["incremental"])
        organisers = Counter(row[2] for row in reference["figure_pass"])
        assert set(organisers) == {ORG, *OTHERS}, organisers  # every organiser has cells
        # the same student pseudonym counted once in each organiser it is in
        assert {row[2] for row in reference["figure_students"] if row[7] == "s-1"} == {ORG, *OTHERS}
        for way in ("whole", "parts", "more parts"):
            found = await database_rows(dbs[way])
            for table, expected in reference.items():
                if table == "consumer_offsets":
                    continue
                assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
    finally:
        for db in dbs.values():
            await db.dispose()
