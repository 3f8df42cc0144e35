"""Where counts are rounded, every figure beside them is of the counts as shown (privacy round 30b): the one rule of
the figure and support tables (`access.guard.withhold_small` → `derive_from_shown`), pure."""

from __future__ import annotations

from styrkedja_kit.auth import Level
from styrkedja_reporting.access.disclosure import Disclosure, DisclosureRules, Reason
from styrkedja_reporting.access.guard import withhold_small
from styrkedja_reporting.exports.table import Approximately, Column, ColumnType, Difference, Ratio, Table, Withheld
from styrkedja_reporting.results.read import Scope

INT, SHARE, NUMBER = ColumnType.integer, ColumnType.share, ColumnType.number
ROUNDED = Scope(suppressed=frozenset(Level), rules=DisclosureRules(round_counts_to=5))


def _shown(columns: list[Column], *rows: tuple, scope: Scope = ROUNDED) -> list[dict]:
    table = withhold_small(Table("t", columns, list(rows)), "area", scope)
    return [dict(zip((c.key for c in columns), row, strict=True)) for row in table.rows]  # type: ignore[union-attr]


def test_a_forecast_share_is_of_the_counts_shown() -> None:
    """16 held and 6 not (0.7273, only 16/22 of the counts that round to 15 and 5): shown 15 and 5, and 0.75."""
    columns = [Column("level", "Nivå"), Column("held", "h", INT), Column("said_reaches_did_not", "s", INT),
               Column("said_not_reached_did", "n", INT), Column("no_outcome", "o", INT),
               Column("share_held", "a", SHARE,
                      of=Ratio("held", ("held", "said_reaches_did_not", "said_not_reached_did")))]
    [row] = _shown(columns, ("area", 16, 6, 0, 0, 0.7273))
    assert (row["held"], row["said_reaches_did_not"], row["share_held"]) == (15, 5, 0.75)


def test_a_mean_merit_value_beside_rounded_students_is_withheld() -> None:
    """A mean (merit points ÷ students) with the students rounded gives them back as a share does; no count of the
    row gives it again: withheld. Its shares are of the counts shown."""
    columns = [Column("level", "Nivå"), Column("merit_students", "m", INT), Column("mean_merit_value", "v", NUMBER),
               Column("graded_students", "g", INT), Column("all_pass", "p", INT),
               Column("share_all_pass", "s", SHARE, of=Ratio("all_pass", ("graded_students",)))]
    [row] = _shown(columns, ("area", 22, 231.36, 22, 16, 0.7273))
    assert isinstance(row["mean_merit_value"], Withheld)
    assert (row["merit_students"], row["share_all_pass"]) == (20, 0.75)


def test_a_share_of_a_part_the_table_does_not_show_and_a_difference() -> None:
    """The gender gap's table shows each part's students and share, not its students reaching: the count is the share
    of the exact students, rounded as shown; the gap is the difference of the shares shown; a `~100` stays."""
    columns = [Column("level", "Nivå"), Column("girls_assessed", "g", INT),
               Column("girls_share", "gs", SHARE, of=Ratio(None, ("girls_assessed",))),
               Column("boys_assessed", "b", INT), Column("boys_share", "bs", SHARE, of=Ratio(None, ("boys_assessed",))),
               Column("gap", "d", SHARE, of=Difference("girls_share", "boys_share")),
               Column("other_share", "x", SHARE)]
    row, near = _shown(columns, ("area", 11, 1.0, 11, 0.4545, 0.5455, 0.5),
                       ("area", 22, Approximately(), 11, 0.4545, Withheld(), 0.5))
    assert (row["girls_assessed"], row["girls_share"], row["boys_share"], row["gap"]) == (10, 1.0, 0.5, 0.5)
    assert isinstance(row["other_share"], Withheld)  # says not what it is of: withheld where counts are rounded
    assert isinstance(near["girls_share"], Approximately) and isinstance(near["gap"], Withheld)


def test_exact_readers_and_counts_not_rounded_keep_their_shares() -> None:
    columns = [Column("level", "Nivå"), Column("reaching", "r", INT), Column("assessed", "a", INT),
               Column("share", "s", SHARE, of=Ratio("reaching", ("assessed",))), Column("mean", "m", NUMBER)]
    assert _shown(columns, ("area", 16, 22, 0.7273, 2.5), scope=Scope(suppressed=frozenset(Level)))[0]["share"] \
        == 0.7273
    assert _shown(columns, ("area", 16, 22, 0.7273, 2.5), scope=Scope(rules=DisclosureRules(round_counts_to=5)))[0][
        "mean"] == 2.5  # no level suppressed: nothing rounded


def test_the_results_share_is_of_the_counts_shown() -> None:
    from styrkedja_reporting.access.disclosure import Cell

    disclosure = Disclosure({"south": Cell(Level.AREA, 22)}, frozenset(), frozenset(), frozenset(),
                            DisclosureRules(round_counts_to=5))
    figure = disclosure.share("south", 0.7273, of=(16, 22))
    assert (figure.value, figure.reason) == (0.75, Reason.EXISTS)
    assert disclosure.share("south", 0.7273).value is None  # what it is of unknown: withheld
    assert Disclosure({"south": Cell(Level.AREA, 22)}, frozenset(), frozenset(), frozenset(),
                      DisclosureRules()).share("south", 0.7273, of=(16, 22)).value == 0.7273


def test_a_results_cell_whose_students_round_to_none_says_its_share_is_withheld() -> None:
    """Counts rounded to 5, a unit of 2 students (both reaching) read by a reader who sees units exactly: 0 assessed
    as shown, no share of the counts shown — withheld as resting on too few students (`..`), not no figure. Failed on
    the old code: the share null and the cell's reason EXISTS, which the dashboard showed as "–" (no figure)."""
    from styrkedja_reporting.access.disclosure import Cell
    from styrkedja_reporting.results.read import ResultCell, _disclosed

    disclosure = Disclosure({"u": Cell(Level.SCHOOL_UNIT, 2), "v": Cell(Level.SCHOOL_UNIT, 22)}, frozenset(),
                            frozenset(), frozenset(), DisclosureRules(round_counts_to=5))

    def cell(assessed: int, reaching: int) -> ResultCell:
        return ResultCell(level="school_unit", unit_id="u", subject_code="GRGRMAT01", school_year="2026/27",
                          term="HT", round=1, kind="assessment", scale="AF", organiser_id="org0",
                          distribution={"C": reaching, "F": assessed - reaching}, assessed=assessed,
                          reaching_pass=reaching, share_reaching_pass=reaching / assessed)
    few = _disclosed(cell(2, 2), disclosure, "u")
    assert (few.assessed, few.reaching_pass, few.share_reaching_pass) == (0, 0, None)
    assert few.reason == Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS.value
    shown = _disclosed(cell(22, 16), disclosure, "v")
    assert (shown.assessed, shown.share_reaching_pass, shown.reason) == (20, 0.75, "EXISTS")
