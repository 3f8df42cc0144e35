"""The import's clock against the source's (round 28t): a change dated ahead of the import's clock is refused on its
own, naming the source's field (the directory keeps the newest change, so one dated 2099 would hide every later change
until then; reporting's door refuses it too, a 422 for the whole batch it is in); `--since` without an offset is the
earliest instant it can mean across the DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from styrkedja_cli.ss12000.command import changed_since, earliest_instant
from styrkedja_cli.ss12000.mapping import plan
from styrkedja_cli.ss12000.models import Meta, Organisation

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
HUVUDMAN = {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"}


def _unit(n: int, modified: str) -> dict:
    return {"id": f"su{n}", "displayName": f"Skola {n}", "organisationType": "Skolenhet",
            "schoolUnitCode": f"299900{n:02d}", "parentOrganisation": {"id": "huv"},
            "meta": {"created": "2026-08-01T08:00:00+02:00", "modified": modified}}


def test_a_change_dated_ahead_of_the_imports_clock_is_refused_naming_the_source_field() -> None:
    """Failed on the old code: su1 and su2 were sent (2099, and an hour and a minute ahead); within the consumer's
    skew (an hour) a change is sent, as is one whose instant is now written in another offset (+14:00)."""
    units = [_unit(0, "2026-09-01T10:00:00+02:00"), _unit(1, "2099-01-01T00:00:00Z"),
             _unit(2, "2026-09-01T09:01:00Z"), _unit(3, "2026-09-01T09:00:00Z"), _unit(4, "2026-09-01T22:00:00+14:00")]
    made = plan([Organisation.model_validate(o) for o in [HUVUDMAN, *units]], [], [], [], [],
                naive_zone=ZoneInfo("Europe/Stockholm"), now=NOW, organiser=None)
    sent = {c["source_id"] for c in made.changes.get("organisations", [])}
    assert sent == {"huv", "su0", "su3", "su4"}, sent
    refused = {r.id: r.reason for r in made.refused}
    assert set(refused) == {"su1", "su2"}, refused
    assert refused["su1"] == "meta.modified: lies in the future (2099-01-01T00:00:00+00:00)", refused


@pytest.mark.parametrize(("local", "instant"), [
    (datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),  # the missing hour: 01:30 UTC before
    (datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # the repeated hour: its first time
    (datetime(2026, 6, 30, 23, 59, 59, 999999), datetime(2026, 6, 30, 21, 59, 59, 999999, tzinfo=UTC)),
    (datetime(2026, 12, 31, 23, 30), datetime(2026, 12, 31, 22, 30, tzinfo=UTC)),
])
def test_an_incremental_imports_local_since_is_the_earliest_instant_it_can_mean(local: datetime,
                                                                               instant: datetime) -> None:
    """`styrkedja import ss12000 --since` without an offset, in `--naive-timezone` (Sweden): the earliest instant, so
    nothing changed after the time the operator meant is left unread. Failed on the old code for the missing hour:
    01:30 UTC (03:30 summer time), and a unit changed at 03:10 summer time (01:10 UTC) was not read again."""
    zone = ZoneInfo("Europe/Stockholm")
    since = earliest_instant(local, zone)
    assert since == instant and since.utcoffset() == timedelta(0)
    if local == datetime(2026, 3, 29, 2, 30):
        assert changed_since(Meta(modified="2026-03-29T03:10:00"), since, zone)
        assert changed_since(Meta(modified="2026-03-29T01:10:00Z"), since, zone)
        assert not changed_since(Meta(modified="2026-03-29T01:20:00"), since, zone)  # 00:20 UTC
