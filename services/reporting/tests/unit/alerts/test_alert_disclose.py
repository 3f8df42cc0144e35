"""The cells an alert's figures are summed from (`alerts.disclose`), pure: the complement rule judges an alert by
them, so a wrong period or unit spelling would judge it by cells it is not made of."""

from __future__ import annotations

from types import SimpleNamespace

from styrkedja_kit.auth import Level
from styrkedja_reporting.alerts.disclose import judged, previous_round, sources_of, withheld_sources


def _row(**values):
    base = {"rule": "pass_share_drop", "level": "group", "unit_id": "11111111:7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "round": 1, "term": None}
    return SimpleNamespace(**(base | values))


def test_round_one_is_compared_with_the_previous_school_years_last_round() -> None:
    assert previous_round("2026/27", 1) == ("2025/26", "R4")
    assert previous_round("2026/27", 3) == ("2026/27", "R2")
    assert previous_round("2000/01", 1) == ("1999/00", "R4")


def test_an_alert_is_summed_from_its_round_and_the_round_compared_with_in_the_decisions_unit_spelling() -> None:
    assert sources_of(_row()) == [("pass", "GRGRMAT01", ("2026/27", "R1"), "group", "11111111/7A"),
                                  ("pass", "GRGRMAT01", ("2025/26", "R4"), "group", "11111111/7A")]
    forecast = _row(rule="below_forecast", level="area", unit_id="north", round=None, term="VT")
    # forecasts against their outcomes, the term's results (privacy round 30): both cells
    assert sources_of(forecast) == [("forecast", "GRGRMAT01", ("2026/27", "VT"), "area", "north"),
                                    ("pass", "GRGRMAT01", ("2026/27", "VT"), "area", "north")]


def test_a_withheld_year_marks_its_every_year_sum_a_gender_part_does_not() -> None:
    cells = [(("pass", "GRGRMAT01", 8, ("2026/27", "R2")), "area", "north", "*"),
             (("pass", "GRGRMAT01", 7, ("2026/27", "R2")), "area", "south", "female"),
             (("results", ("GRGRMAT01",), 7), "area", "west", "*")]
    assert withheld_sources(cells) == {("pass", "GRGRMAT01", ("2026/27", "R2"), "area", "north")}


def test_only_judged_rules_at_a_suppressed_level_are_the_decisions_business() -> None:
    above = frozenset({Level.AREA, Level.ORGANISER, Level.NATION})
    assert judged(_row(level="area", unit_id="north"), above)
    assert not judged(_row(), above)  # a group: shown exactly to this reader
    assert not judged(_row(level="area", rule="freshness_red"), above)
