"""Compliance "twins": one record (an assessment of a round with a deadline, a forecast) revised — moved to another
student or group by a newer revision, the revisions arriving in order or not, retracted or withdrawn and handed in
again — counts once, where its newest revision puts it, in every compliance read (the unit, teacher and item lists)
and in a rebuild from the same log; never twice (a row of the replaced revision beside the newest's)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from styrkedja_contracts import new_event
from styrkedja_kit.db import Database

from .test_batch_split import in_batches, loop_on
from .test_compliance import DIRECTORY, MATHS, ORG, UNIT, WINDOW, consistent, forecast, withdrawn
from .test_compliance_rounds import BASE as ROUND_BASE
from .test_compliance_rounds import ROUND, STOCKHOLM, calendar, published, retracted
from .test_directory import Feeder
from .test_rebuild import OFFSETS, database_rows, rebuilt

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ON_TIME = datetime(2026, 10, 20, 10, tzinfo=STOCKHOLM)


def moved(event, revision: int, **place):
    """`event` again as `revision`, in another place (student, group), a day later."""
    data = event.data
    at = {k: getattr(data, k) + timedelta(days=revision) for k in ("published_at", "submitted_at") if hasattr(data, k)}
    return new_event(data.model_copy(update={"revision": revision, **at, **place}), source="/test")


ASSESSMENT = published("s-1", "7A", MATHS, ON_TIME)
FORECAST = forecast("s-1", "7A", MATHS)
#: each log's newest state: the assessment and the forecast each count once, for s-2 of 7A
LOGS = {
    "in order": [ASSESSMENT, moved(ASSESSMENT, 2, student_id="s-2"), FORECAST, moved(FORECAST, 2, student_id="s-2")],
    "newest first": [moved(ASSESSMENT, 2, student_id="s-2"), ASSESSMENT, moved(FORECAST, 2, student_id="s-2"),
                     FORECAST],
    "retracted, again": [ASSESSMENT, retracted("s-1", "7A", MATHS), moved(ASSESSMENT, 3, student_id="s-2"),
                         FORECAST, withdrawn("s-1", "7A", MATHS), moved(FORECAST, 3, student_id="s-2")],
    "retracted, again, newest first": [moved(ASSESSMENT, 3, student_id="s-2"), retracted("s-1", "7A", MATHS),
                                       ASSESSMENT, moved(FORECAST, 3, student_id="s-2"),
                                       withdrawn("s-1", "7A", MATHS), FORECAST],
    "via another group": [ASSESSMENT, moved(ASSESSMENT, 2, student_id="s-5", group_id="7B"),
                          moved(ASSESSMENT, 3, student_id="s-2"), FORECAST,
                          moved(FORECAST, 2, student_id="s-5", group_id="7B"), moved(FORECAST, 3, student_id="s-2")],
}


async def reported(client, base: str, params: dict) -> list[tuple[str, str, str, str]]:
    """Every reported item of the window (on time or late), and the counts of every list, checked against them."""
    items = []
    for status in ("on_time", "late"):
        rows = (await client.get(f"{base}/{UNIT}/items", params={**params, "status": status})).json()["rows"]
        items += [(r["group_id"], r["subject_code"], r["student_id"], status) for r in rows]
    units = (await client.get(base, params=params)).json()["rows"]
    assert [r["reported"] for r in units] == [len(items)], units
    for list_ in ("teacher", "group"):
        rows = (await client.get(f"{base}/{UNIT}", params={**params, "list": list_})).json()["rows"]
        assert sum(r["on_time"] + r["late"] for r in rows) == len(items), (list_, rows)
    return sorted(items)


@pytest.mark.parametrize("log", list(LOGS))
async def test_a_revised_record_counts_once_where_its_newest_revision_is(client, database, log):  # noqa: F811
    feed = Feeder(database)
    await feed([calendar()] + DIRECTORY, *[[e] for e in LOGS[log]])  # one batch each: folded from the stored state
    expected_round = [("7A", MATHS, "s-2", "on_time")]  # every revision before the round's deadline
    assert await reported(client, ROUND_BASE, ROUND) == expected_round
    assert await reported(client, f"/v1/compliance/organisers/{ORG}/school-units", WINDOW) == [
        ("7A", MATHS, "s-2", "on_time")]
    assert await consistent(client)
    await feed(LOGS[log])  # a replay in one batch: nothing moves
    assert await reported(client, ROUND_BASE, ROUND) == expected_round and await consistent(client)


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("live", "rebuild")}


@pytest.mark.parametrize("log", ["newest first", "retracted, again, newest first", "via another group"])
async def test_a_revised_record_is_rebuilt_as_live(settings, database_urls, log):
    events = [calendar()] + DIRECTORY + LOGS[log]
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["live"]), events, 1)
        await rebuilt(settings, dbs["rebuild"], events)
        live, again = await database_rows(dbs["live"]), await database_rows(dbs["rebuild"])
        for table in ("assessment_facts", "compliance_forecast_runs"):  # the round state is the fact (rounds33)
            assert sum(live[table].values()) == 1, (table, live[table])
        for table, expected in live.items():
            if table != OFFSETS:
                assert again[table] == expected, (table, again[table] - expected, expected - again[table])
    finally:
        for db in dbs.values():
            await db.dispose()
