"""Round 32 (respell32): the directory's events published before the door kept the organiser's spelling (round 26)
stay on `styrkedja.organisation` as they were sent — the organiser's own unit as `2120001234`, a parent naming it
`162120001234`, a removal of it as `16212000-1234`, the record's organiser id in an old spelling too. A replay of
them (the live consumer after a reset, a rebuild) holds the organiser's unit once, in the kept spelling, by the
decoder (`canonical_organiser_id` on the organiser id) and the handler (`rules.organiser_spelt` on the unit ids),
and writes nothing to `directory_published` (the door's own record, kept by a rebuild: `rebuild.bulk.KEPT`). So
nothing depends on the write path's old fix-up of published keys (`writes._respell`, done once by migration 0035
now). Fails if the handler keeps the ids as sent (three units of one organiser, the area under a root that is not
in the tree)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from styrkedja_contracts import decode_event
from styrkedja_kit.db import Database

from .test_directory import Feeder, removed_unit, unit
from .test_rebuild import rebuilt

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "212000-1234"


def as_sent(event, spelling: str):
    """The record as the old door published it, read back: its organiser id in `spelling`."""
    doc = json.loads(event.to_bytes())
    doc["data"]["organiser_id"] = spelling
    return decode_event(json.dumps(doc).encode())


def old_log() -> list:
    return [as_sent(unit("organiser", "2120001234", ORG, None), "2120001234"),
            as_sent(unit("area", "norr", ORG, "162120001234", at=1), "162120001234"),
            as_sent(unit("school_unit", "su-x", ORG, "norr", code="44444444", at=1), "2120001234"),
            # the organiser's unit sent again in another spelling, later removed in a third
            as_sent(unit("organiser", "162120001234", ORG, None, at=2), ORG),
            as_sent(unit("area", "syd", ORG, "2120001234", at=3), ORG),
            as_sent(removed_unit("area", "syd", ORG, at=4), "16212000-1234"),
            as_sent(removed_unit("organiser", "16212000-1234", ORG, at=5), "16212000-1234")]


async def _directory(db: Database) -> tuple[list, int]:
    async with db.sessions() as session:
        units = (await session.execute(text(
            "SELECT organiser_id, unit_type, unit_id, parent_id, removed FROM directory_units "
            "ORDER BY unit_type, unit_id"))).all()
        published = (await session.execute(text("SELECT count(*) FROM directory_published"))).scalar_one()
    return [tuple(row) for row in units], published


async def test_old_spellings_replayed_live_or_rebuilt_are_one_unit_in_the_kept_spelling(settings, fresh_database):
    live, rebuild = Database(fresh_database("styrkedja_reporting")), Database(fresh_database("styrkedja_reporting"))
    try:
        await Feeder(live)(old_log())
        report = await rebuilt(settings, rebuild, old_log())
        assert report.failed == []
        for db in (live, rebuild):
            assert await _directory(db) == ([
                (ORG, "area", "norr", ORG, False), (ORG, "area", "syd", None, True),  # a removal keeps no parent
                (ORG, "organiser", ORG, None, True), (ORG, "school_unit", "su-x", "norr", False)], 0)
    finally:
        await live.dispose()
        await rebuild.dispose()
