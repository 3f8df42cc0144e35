"""A forecast handed in on time and corrected after the deadline stays on time in the compliance lists (round 26b's
"Not done"): the forecast service flags each revision late by its own time, and the lists took the newest
revision's flag. Now compliance keeps each forecast's run (`compliance_forecast_runs`, `rules.ForecastRun`): on time when a
submission above its newest withdrawal was — live in any order and rebuilt alike."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from styrkedja_contracts import new_event
from styrkedja_kit.db import Database

from .test_batch_split import in_batches, loop_on
from .test_compliance import DIRECTORY, ENGLISH, MATHS, ORG, UNIT, WINDOW, consistent, forecast, withdrawn
from .test_directory import Feeder
from .test_rebuild import OFFSETS, database_rows, rebuilt

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def revised(event, revision: int, late: bool):
    """`event` (a submission) again as `revision`, submitted a week later and flagged `late` by the forecast service."""
    return new_event(event.data.model_copy(update={
        "revision": revision, "late": late, "value": "NOT_REACHED",
        "submitted_at": event.data.submitted_at + timedelta(days=7 * revision)}), source="/test")


#: s-1 maths: on time, corrected twice after the deadline → on time; s-2 maths: first handed in after the deadline →
#: late; s-3 maths: on time, withdrawn, handed in again after the deadline → late (a new run, as an assessment
#: retracted and published again); s-1 English: late, corrected on time (the calendar's fault, say) → on time (on
#: time wins within a run); s-4 maths: late, then a twin of its revision on time → on time in either order
LOG = [
    forecast("s-1", "7A", MATHS), forecast("s-2", "7A", MATHS, late=True), forecast("s-3", "7A", MATHS),
    forecast("s-1", "7A", ENGLISH, late=True), forecast("s-4", "7A", MATHS, late=True),
]
CORRECTIONS = [
    revised(LOG[0], 2, late=True), revised(LOG[0], 3, late=True),
    withdrawn("s-3", "7A", MATHS), revised(LOG[2], 3, late=True),
    revised(LOG[3], 2, late=False),
    revised(LOG[4], 1, late=False),  # a twin of revision 1 (another value, on time)
]


async def statuses(client) -> dict[tuple[str, str], str]:
    out = {}
    for status in ("on_time", "late", "missing"):
        rows = (await client.get(f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items",
                                 params={**WINDOW, "status": status})).json()["rows"]
        out |= {(r["student_id"], r["subject_code"]): status for r in rows if r["group_id"] == "7A"}
    return out


EXPECTED = {("s-1", MATHS): "on_time", ("s-2", MATHS): "late", ("s-3", MATHS): "late", ("s-4", MATHS): "on_time",
            ("s-1", ENGLISH): "on_time", ("s-2", ENGLISH): "missing", ("s-3", ENGLISH): "missing",
            ("s-4", ENGLISH): "missing"}


async def test_an_on_time_forecast_corrected_after_the_deadline_stays_on_time(client, database):
    # failed before: s-1's maths listed late (its newest revision's flag)
    feed = Feeder(database)
    await feed(DIRECTORY, LOG)
    assert (await statuses(client))[("s-1", MATHS)] == "on_time"
    for correction in CORRECTIONS:  # one batch each: the run is folded from the stored state
        await feed([correction])
    assert await statuses(client) == EXPECTED
    units = (await client.get(f"/v1/compliance/organisers/{ORG}/school-units", params=WINDOW)).json()["rows"]
    assert [(r["on_time"], r["late"]) for r in units] == [(3, 2)]
    assert await consistent(client)
    await feed(DIRECTORY + LOG + CORRECTIONS)  # a replay: nothing moves
    assert await statuses(client) == EXPECTED and await consistent(client)


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("live", "other order", "rebuild")}


async def test_the_forecast_runs_are_the_same_live_in_either_order_and_rebuilt(settings, database_urls):
    # failed before: s-1's maths late in all three (the newest revision's flag)
    log = DIRECTORY + LOG + CORRECTIONS
    other = DIRECTORY + (LOG + CORRECTIONS)[::-1]  # every correction before what it corrects, the twins swapped
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["live"]), log, 3)
        await in_batches(loop_on(settings, dbs["other order"]), other, 4)
        await rebuilt(settings, dbs["rebuild"], log)
        reference = await database_rows(dbs["live"])
        items = Counter((row[6], row[5], row[-1]) for row in reference["compliance_items"].elements()
                        if row[4] == "7A")
        assert {(s, x): status for (s, x, status) in items} == EXPECTED
        assert reference["compliance_forecast_runs"]
        for way in ("other order", "rebuild"):
            found = await database_rows(dbs[way])
            for table, expected in reference.items():
                if table != OFFSETS:
                    assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
    finally:
        for db in dbs.values():
            await db.dispose()
