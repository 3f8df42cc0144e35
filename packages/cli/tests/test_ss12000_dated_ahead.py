"""A source whose clock is wrong: a change dated ahead of the import's clock is refused on its own, naming the source's
field (round 28t). The directory keeps the newest change, so one dated 2099 would hide every later change until then;
reporting's door refuses it too (a 422 for the whole batch it is in)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from styrkedja_cli.ss12000.mapping import plan
from styrkedja_cli.ss12000.models import Organisation

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
