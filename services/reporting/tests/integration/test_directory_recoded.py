"""Round 26 (dir26): a school unit whose school unit code changes (the same unit id, another code: a source
correcting a mistyped code, Skolverket re-coding a unit) — against a real PostgreSQL.

Failed on the old code: the placement of the code it had before stayed in its area (`school_unit_placements`
kept the old code under `north`, and results reported under that code kept counting in the area's cells), and a
removal of the unit through `POST /v1/directory/removals` named the code it was first published with (the
`directory_published` row kept its first code), so the unit's current code stayed placed after the unit was gone.
Now a school unit's placement is recomputed for the codes it had before the batch as well as the one it has
(`directory.handlers`), and what the write path publishes follows the code each change sends (`directory.writes`).
"""

from __future__ import annotations

import json
from uuid import uuid5

import pytest
from sqlalchemy import text

from styrkedja_reporting.results.tables import ASSESSMENTS

from .test_directory import NS, Feeder, directory, materialised, published, removed_unit, unit

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def _placed(database) -> dict[str, tuple[str, str | None]]:
    async with database.sessions() as session:
        rows = (await session.execute(text(
            "SELECT school_unit_code, organiser_id, area_id FROM school_unit_placements"))).all()
    return {code: (organiser, area) for code, organiser, area in rows}


async def test_a_school_unit_given_another_code_leaves_its_old_code_unplaced(database):
    feed = Feeder(database)
    await feed(directory(), [published(uuid5(NS, "recoded"), 1, "B", "2999", "11111111", "7A", "s-r")])
    assert (await _placed(database))["11111111"] == ("2999", "north")
    assert (await materialised(database))[("area", "north", "B")] == 1
    await feed([unit("school_unit", "su-a", "2999", "north", code="11119999", at=5)])
    placed = await _placed(database)
    assert placed["11119999"] == ("2999", "north")
    assert "11111111" not in placed  # the old code is no school of north any more
    assert ("area", "north", "B") not in await materialised(database)  # nor are the results under it
    async with database.sessions() as session:
        assert set((await ASSESSMENTS.mismatches(session)).values()) == {0}
    # and back, in one batch with a move: the newest change of the batch decides
    await feed([unit("school_unit", "su-a", "2999", "south", code="11111111", at=6),
                unit("school_unit", "su-a", "2999", "north", code="11119999", at=7)])
    placed = await _placed(database)
    assert placed["11119999"] == ("2999", "north") and "11111111" not in placed
    await feed([removed_unit("school_unit", "su-a", "2999", code="11119999", at=8)])
    placed = await _placed(database)
    assert "11119999" not in placed and "11111111" not in placed


def _school(code: str, at: str) -> dict:
    return {"items": [{"type": "se.styrkedja.organisation.unit_upserted.v1", "source_id": "src-recoded", "data": {
        "unit_type": "school_unit", "unit_id": "recoded", "organiser_id": "2999", "parent_id": "2999",
        "name": "Omkodad skola", "school_unit_code": code, "updated_at": at}}]}


async def test_a_removal_names_the_code_the_school_unit_was_last_sent_with(client, database):
    for code, at in (("29990021", "2026-09-01T08:00:00+00:00"), ("29990022", "2026-09-01T09:00:00+00:00")):
        answer = await client.post("/v1/directory/changes", json=_school(code, at))
        assert answer.status_code == 200, answer.text
    removed = await client.post("/v1/directory/removals", json={
        "source_ids": ["src-recoded"], "removed_at": "2026-09-02T08:00:00+00:00"})
    assert removed.status_code == 200 and removed.json()["removed"] == 1, removed.text
    async with database.sessions() as session:
        payloads = (await session.execute(text("SELECT payload FROM outbox ORDER BY id"))).scalars().all()
    [removal] = [event for event in map(json.loads, payloads) if event["type"].endswith("entity_removed.v1")]
    assert removal["data"]["school_unit_code"] == "29990022"


async def _tables(database) -> dict[str, set[tuple]]:
    async with database.sessions() as session:
        return {name: {tuple(str(v) for v in row) for row in (await session.execute(text(
            f"SELECT * FROM {name}"))).all()} for name in ("school_unit_placements", "directory_units")}


async def test_the_placements_are_the_same_however_the_log_is_cut_into_batches(database):
    """Live (one event a batch, as a trickle arrives) and rebuild (the log in big batches) alike. Failed on the old
    code: a school unit removed, or re-coded, in a batch after the one that placed it left a placement row (in no
    area) that the log read in one batch never had, and a unit removed in the batch that created it held no name or
    parent where two batches kept them — the tables differed by how the log was cut."""
    log = [*directory(), unit("school_unit", "su-a", "2999", "north", code="11119999", at=5),
           removed_unit("school_unit", "su-b", "2999", code="22222222", at=6),
           unit("school_unit", "su-d", "3001", "3001", code="44444444", at=7),
           removed_unit("school_unit", "su-d", "3001", code="44444444", at=8),
           unit("school_unit", "su-e", "2999", "south", code="55555555", at=7),
           unit("school_unit", "su-e", "2999", "north", code="55555555", at=8)]
    await Feeder(database)(*[[event] for event in log])
    trickled = await _tables(database)
    async with database.sessions.begin() as session:
        await session.execute(text("TRUNCATE school_unit_placements, directory_units, directory_roster_sizes"))
    await Feeder(database)(log)
    assert await _tables(database) == trickled
    assert {row[0]: row[2] for row in trickled["school_unit_placements"]} == {
        "11119999": "north", "55555555": "north"}


@pytest.mark.parametrize("batched", ["one batch", "two batches"])
async def test_a_change_at_the_same_time_as_the_last_one_is_applied_as_the_door_answered_it(database, batched):
    """An SS 12000 item whose own `meta.modified` stays while what the import derives from it changes (a school
    unit's area is read from its parent organisations): the door compares content, answered `changed` and published
    the change, and the directory kept the first content — the newest change won only when strictly newer. Failed
    on the old code (the school stayed in north). Now at the same time the later change of the log wins, as the door
    published it (a removal at that time still wins over an upsert, whatever the order)."""
    feed = Feeder(database)
    await feed(directory())
    first = unit("school_unit", "su-a", "2999", "north", code="11111111", at=5)
    second = unit("school_unit", "su-a", "2999", "south", code="11111111", at=5)
    await feed(*([[first, second]] if batched == "one batch" else [[first], [second]]))
    assert (await _placed(database))["11111111"] == ("2999", "south")
    await feed([removed_unit("school_unit", "su-a", "2999", code="11111111", at=5)],
               [unit("school_unit", "su-a", "2999", "north", code="11111111", at=5)])
    assert "11111111" not in await _placed(database)
