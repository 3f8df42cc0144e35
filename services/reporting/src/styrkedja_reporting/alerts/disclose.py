"""Complementary suppression of alert figures: an alert is listed to a reader whose figures at the alert's level are
withheld (an area manager at area level) only where its figures give nothing away that every other read withholds.

An alert's figures are a sum the disclosure decision (`access.decision`) holds no cell of: `pass_share_drop` is judged
all years together per round (`handlers`), students assessed and reaching the pass level summed over the years, now
and in the round compared with; `below_forecast` all years together per term — forecasts against their outcomes,
which are the term's results, so it rests on the results' cells of the term too (`access.disclosure`'s rule of
derived figures: privacy round 30 found it judged on the forecasts' cells alone, and listed where the term's results
were withheld, its students with an outcome and its change giving them back). The figures show the same cells per
year (`pass`, `forecast` slices), each withheld where small *or as a complement*. Where every year's cell of the
alert's unit, subject and periods is shown, the alert's figures are their sum and shares of it: nothing new. Where
one is withheld, the alert's students (its share, its change) minus the shown years give it back — so such an alert
is not listed, as an alert on too few students is not (`read_scope.small_for`). One decision, the figures' own: the
same cells withheld in every view of a state (`one_snapshot`).

`freshness_red` is not judged, and need not be: it is raised at group and school-unit level only
(`rules.FRESHNESS_LEVELS`), where no role that reads alerts has its figures withheld (`SUPPRESSED_LEVELS`: above
the unit, and every level for the politician and the public, who read no alerts) — so neither the small-cell rule
(`read_scope.small_for`) nor this one has anything to withhold there; every reader of such an alert reads the unit's
freshness figure exact. Were an alert of a rule this module cannot judge (no kinds in `_KINDS`) ever at a level the
reader's figures are withheld, it is not listed (`unjudged`): withheld, rather than shown on the small-cell rule alone
(round 24)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from fractions import Fraction
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.alert import AlertFigures, AlertRule
from styrkedja_kit.auth import Level, Principal

from ..access.complement import TOTAL
from ..access.decision import Component, decision_for
from ..access.disclosure import SHARE_DECIMALS, DisclosureRules, round_count, share_of_shown, suppressed_levels
from ..access.scope import LEVEL_NAMES
from ..results.rules import GROUP_SEPARATOR
from .handlers import ALERT_GROUP_SEPARATOR

#: rounds in a school year (`handlers`: the round compared with round 1 is the previous year's last)
ROUNDS = 4
#: per judged rule: the slice kinds of the cells its figures rest on, per year (each kind's decision family below)
_KINDS = {AlertRule.pass_share_drop.value: ("pass",), AlertRule.below_forecast.value: ("forecast", "pass")}
_FAMILY_OF = {"pass": "assessment", "forecast": "forecast"}

#: what an alert's figures are summed from: (slice kind, subject, period (school year, term or `R<n>`), level, unit)
Source = tuple[str, str, tuple[str, str], str, str]


def previous_round(school_year: str, round_: int) -> tuple[str, str]:
    """The round a round is compared with (`pass_share_drop`), as a period id (school year, `R<n>`)."""
    if round_ > 1:
        return school_year, f"R{round_ - 1}"
    start = int(school_year[:4]) - 1
    return f"{start}/{str(start + 1)[-2:]}", f"R{ROUNDS}"


def sources_of(row: Any) -> list[Source]:
    """Pure: the cells an alert's figures are summed from (every year), in the decision's spelling of its unit."""
    unit = row.unit_id.replace(ALERT_GROUP_SEPARATOR, GROUP_SEPARATOR, 1) if row.level == "group" else row.unit_id
    if row.rule == AlertRule.pass_share_drop.value:
        periods = [(row.school_year, f"R{row.round}"), previous_round(row.school_year, row.round)]
    else:
        periods = [(row.school_year, row.term)]
    return [(kind, row.subject_code, period, row.level, unit) for kind in _KINDS[row.rule] for period in periods]


def withheld_sources(cells: Iterable[tuple[Hashable, str, str, str]]) -> frozenset[Source]:
    """Pure: the decision's withheld cells (`TreeDecision.outcome_withheld_cells`) as the alert sums they are part
    of: a year's cell withheld makes its every-year sum a giveaway (its gender parts do not: the sum is of totals)."""
    out = set()
    for slice_, level, unit, gender in cells:
        if gender == TOTAL and isinstance(slice_, tuple) and len(slice_) == 4 and slice_[0] in ("pass", "forecast"):
            kind, subject, _year, period = slice_
            out.add((kind, subject, tuple(period), level, unit))
    return frozenset(out)


def judged(row: Any, suppressed: frozenset[Level]) -> bool:
    """Whether the row's figures are the decision's business: a judged rule, at a level the reader's are withheld."""
    return row.rule in _KINDS and row.subject_code is not None and LEVEL_NAMES[row.level] in suppressed and (
        row.round is not None if row.rule == AlertRule.pass_share_drop.value else row.term is not None)


def unjudged(row: Any, suppressed: frozenset[Level]) -> bool:
    """Pure: an alert at a level the reader's figures are withheld that the decision cannot judge (`judged`: a rule
    without a family here, or a cell without the subject and period it is judged by) — withheld, as nothing says its
    figures give nothing away (see the module: no such alert is raised today)."""
    return LEVEL_NAMES[row.level] in suppressed and not judged(row, suppressed)


async def complement_withheld(session: AsyncSession, rows: Sequence[Any], suppressed: frozenset[Level],
                              rules: DisclosureRules) -> set[UUID]:
    """The ids of the alerts among `rows` whose figures would give a withheld cell away (see the module); the session
    reads one snapshot (the alerts and the decision of one state). No decision is taken where no row needs one."""
    wanted = [row for row in rows if judged(row, suppressed)]
    if not wanted:
        return set()
    components: set[Component] = set()
    for row in wanted:
        components.update((_FAMILY_OF[kind], period[0], row.subject_code) for kind, _, period, _, _ in sources_of(row))
    decision = await decision_for(session, components, suppressed, rules)
    withheld = withheld_sources(decision.outcome_withheld_cells())
    return {row.alert_id for row in wanted if any(source in withheld for source in sources_of(row))}


def figures_shown(level: str, figures: AlertFigures, principal: Principal, rules: DisclosureRules,
                  rule: str | None = None) -> AlertFigures:
    """Pure: an alert's figures as the reader sees them: where the deployment rounds counts, its students rounded at
    a level suppressed for the reader, as every figure of that cell is (round 24a: an area alert showed an area
    manager the students exactly that the area's figures show rounded).

    `rule`'s change, where it is `below_forecast`, has no shares beside it: it is the outcome's share less the
    forecast's of the same students, (said "not reached" but did − said "reaches" but did not) ÷ students
    (`rules.judge_below_forecast`) — a net count of students over the students. As shown, that net count is rounded
    as a count would be and the change is of it over the students shown (`_change_of_shown`), as
    `guard.derive_from_shown` computes a share whose numerator its table does not show; the exact change beside the
    rounded students gave them back (−2/15 of 13–17 students is 15 alone)."""
    base = rules.round_counts_to
    if base is None or LEVEL_NAMES[level] not in suppressed_levels(principal):
        return figures
    f = figures
    students = round_count(f.students, base)
    compared = None if f.compared_students is None else round_count(f.compared_students, base)
    # each share of the counts as shown, the change of those shares: the exact ones gave the exact counts back beside
    # the rounded ones (privacy round 30b, as `guard.derive_from_shown` for the tables)
    share = _share_of_shown(f.share, f.students, base)
    compared_share = f.compared_share if f.compared_students is None else _share_of_shown(
        f.compared_share, f.compared_students, base)
    if rule == AlertRule.below_forecast.value:
        change = _change_of_shown(f.change_points, f.students, base)
    else:
        change = None if share is None or compared_share is None or f.change_points is None else \
            round(float((share - compared_share) * 100), 2)
    return f.model_copy(update={
        "students": students, "compared_students": compared,
        "share": None if share is None else round(float(share), SHARE_DECIMALS),
        "compared_share": None if compared_share is None else round(float(compared_share), SHARE_DECIMALS),
        "change_points": change})


def _share_of_shown(share: float | Fraction | None, students: int, base: int) -> Fraction | None:
    """An alert's share of `students` as computed from the counts the reader is shown (`students` rounded); None where
    there is no share, or no students as shown."""
    if share is None:
        return None
    return share_of_shown(round_count(round(float(share) * students), base), round_count(students, base))


def _change_of_shown(change_points: float | None, students: int, base: int) -> float | None:
    """A change that is a net count of `students` over them (`below_forecast`), in points, of the counts as shown: the
    net count (the exact change times the exact students: the change is kept to 0.01 points, exact for any cell of
    fewer than 10,000 students) rounded as a count is, either sign alike, over the students rounded; None where there
    is no change, or no students as shown."""
    if change_points is None:
        return None
    net = round(change_points * students / 100)
    shown = share_of_shown((1 if net >= 0 else -1) * round_count(abs(net), base), round_count(students, base))
    return None if shown is None else round(float(shown * 100), 2)
