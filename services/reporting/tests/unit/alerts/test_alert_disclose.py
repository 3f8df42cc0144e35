"""The cells an alert's figures are summed from (`alerts.disclose`), pure: the complement rule judges an alert by
them, so a wrong period or unit spelling would judge it by cells it is not made of."""

from __future__ import annotations

from types import SimpleNamespace

from styrkedja_contracts.events.alert import AlertFigures
from styrkedja_kit.auth import Level, Principal, Role
from styrkedja_reporting.access.disclosure import DisclosureRules
from styrkedja_reporting.alerts.disclose import figures_shown, judged, previous_round, sources_of, withheld_sources


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


def test_an_alerts_figures_are_rounded_where_the_readers_are_and_their_shares_are_of_the_counts_as_shown() -> None:
    """`figures_shown`, the rounding that was `routes.as_read` (a route file): an area alert for an area manager with
    counts rounded to 5 — 12 students (7 reaching, 0.583) shown as 10, the share of the shown counts (5 of 10), the
    change from the shares as shown; the same alert for the organiser admin, and a group alert for the area manager,
    as stored."""
    figures = AlertFigures(students=12, compared_students=9, share=7 / 12, compared_share=6 / 9,
                           change_points=round((7 / 12 - 6 / 9) * 100, 2), threshold_points=5.0)
    rules = DisclosureRules(round_counts_to=5)
    manager = Principal("m1", frozenset({Role.AREA_MANAGER}), frozenset({"2999"}), areas=frozenset({"north"}))
    shown = figures_shown("area", figures, manager, rules)
    assert (shown.students, shown.compared_students) == (10, 10)
    assert (shown.share, shown.compared_share, shown.change_points) == (0.5, 0.5, 0.0)
    assert shown.threshold_points == 5.0
    admin = Principal("a1", frozenset({Role.ORGANISER_ADMIN}), frozenset({"2999"}))
    assert figures_shown("area", figures, admin, rules) == figures
    assert figures_shown("group", figures, manager, rules) == figures
    assert figures_shown("area", figures, manager, DisclosureRules()) == figures


def test_a_below_forecast_alerts_change_is_of_the_counts_as_shown() -> None:
    """A `below_forecast` alert has no shares: its change is the outcome's share less the forecast's of the same
    students, a net count over them (`rules.judge_below_forecast`). 22 students, 4 more said "reaches" but did not
    than the other way (−18.18 points): shown 20 students and a net of −5, −25.0 points — of the counts shown, as a
    share whose part the table does not show is. Failed on the old code: the change was always dropped (null) for a
    reader whose counts are rounded at the alert's level, so its alert said nothing of how far below."""
    figures = AlertFigures(students=22, change_points=round(-4 / 22 * 100, 2), threshold_points=10.0)
    rules = DisclosureRules(round_counts_to=5)
    manager = Principal("m1", frozenset({Role.AREA_MANAGER}), frozenset({"2999"}), areas=frozenset({"north"}))
    shown = figures_shown("area", figures, manager, rules, "below_forecast")
    assert (shown.students, shown.share, shown.compared_share, shown.change_points) == (20, None, None, -25.0)
    # a net count that rounds to none is no change as shown; a positive one rounds alike
    assert figures_shown("area", figures.model_copy(update={"change_points": round(-2 / 22 * 100, 2)}), manager,
                         rules, "below_forecast").change_points == 0.0
    assert figures_shown("area", figures.model_copy(update={"change_points": round(8 / 22 * 100, 2)}), manager,
                         rules, "below_forecast").change_points == 50.0
    # the exact change, -2/15 of the 13-17 students shown as 15, would give the 15 back: never shown
    fifteen = AlertFigures(students=15, change_points=round(-2 / 15 * 100, 2), threshold_points=10.0)
    assert figures_shown("area", fifteen, manager, rules, "below_forecast").change_points == 0.0
    assert figures_shown("area", figures, manager, rules, "below_forecast").change_points != figures.change_points
    admin = Principal("a1", frozenset({Role.ORGANISER_ADMIN}), frozenset({"2999"}))
    assert figures_shown("area", figures, admin, rules, "below_forecast") == figures
    # a change of shares (`pass_share_drop`) with no shares stays withheld: it is not a net count of its students
    assert figures_shown("area", figures, manager, rules, "pass_share_drop").change_points is None
