"""The dip rule's per-batch shortcuts judge exactly what judging each cell anew would: the cells'
periods made once per touched round (the round after it too, across the school year), the verdicts
shared by equal tallies of one organiser only (each organiser has its own thresholds)."""

from fractions import Fraction

from styrkedja_reporting.alerts import handlers
from styrkedja_reporting.alerts.handlers import Touched, _cells_of, _judged_pass_drop, next_round
from styrkedja_reporting.alerts.rules import Thresholds, Verdict
from styrkedja_reporting.figures.periods import RoundPeriod, SchoolYear


def test_a_touched_round_is_judged_with_the_round_after_it_across_the_school_year():
    touched = {Touched("2999", "12345678", "7A", "GRGRMAT01", "2026/27", 4),
               Touched("2999", "12345678", "7A", "GRGRMAT01", "2026/27", 2)}
    cells = _cells_of(touched, {"12345678": "north"})
    periods = {c[4] for c in cells}
    assert periods == {RoundPeriod(SchoolYear(2026), 4), RoundPeriod(SchoolYear(2027), 1),
                       RoundPeriod(SchoolYear(2026), 2), RoundPeriod(SchoolYear(2026), 3)}
    assert next_round(RoundPeriod(SchoolYear(2026), 4)) == RoundPeriod(SchoolYear(2027), 1)
    # four levels × two periods × two rounds touched
    assert len(cells) == 4 * 2 * 2


async def test_equal_tallies_of_two_organisers_are_judged_by_each_ones_thresholds(monkeypatch):
    # the same counts in both organisers' school units: 30 of 40 reach the pass level now, 36 of 40 before
    # (a drop of 15 points): a dip for the organiser whose threshold is 10 points, not for the one of 20
    now, then = RoundPeriod(SchoolYear(2026), 2), RoundPeriod(SchoolYear(2026), 1)

    async def pass_counts(session, keys):  # noqa: ANN001, ANN202
        return {key: ((40, 30) if key[5] == 2 else (40, 36)) for key in keys}

    async def load_thresholds(session, organisers):  # noqa: ANN001, ANN202
        return {"1111": Thresholds(drop_points=Fraction(20)), "2222": Thresholds(drop_points=Fraction(10))}

    monkeypatch.setattr(handlers, "_pass_counts", pass_counts)
    monkeypatch.setattr(handlers, "load_thresholds", load_thresholds)
    cells = {("school_unit", "11110000", "1111", "GRGRMAT01", now), ("school_unit", "22220000", "2222", "GRGRMAT01", now),
             ("organiser", "1111", "1111", "GRGRMAT01", now), ("organiser", "2222", "2222", "GRGRMAT01", now),
             ("school_unit", "11110000", "1111", "GRGRMAT01", then)}
    judged = {(cell.organiser_id, cell.unit, cell.period): observation.verdict
              for cell, observation in await _judged_pass_drop(None, cells)}  # type: ignore[arg-type]
    assert judged[("1111", ("school_unit", "11110000"), now)] is Verdict.fine
    assert judged[("1111", ("organiser", "1111"), now)] is Verdict.fine
    assert judged[("2222", ("school_unit", "22220000"), now)] is Verdict.dipping
    assert judged[("2222", ("organiser", "2222"), now)] is Verdict.dipping
