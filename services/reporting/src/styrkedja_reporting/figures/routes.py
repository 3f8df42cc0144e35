"""Figure read API: trend, term history, gender gap, freshness, coverage and drill-down. Every
endpoint is a table that answers as JSON, CSV or xlsx (`format=` or `Accept`, see `exports/`);
the cells come from `figures.read` (lookups in the materialised state), the figure from the pure
rules in this folder.

Access: every endpoint takes `Ask` (the `ask` dependency), which carries the route's guard and the
reader's scope (`access.guard.strict_scope`: a named unit must be readable, without one the whole
organiser); `_respond` withholds small figures at the reader's suppressed levels; the drill-down
into a group's students is a student-level read (audited)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import reaches_pass
from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, authorize_read, readable_levels
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.days import school_today
from styrkedja_kit.db import one_snapshot
from styrkedja_kit.inputs import DateParam, OrganiserIdParam, SchoolYearParam, SubjectCodeParam
from styrkedja_kit.rules import RuleViolation

from ..access.answers import ANSWERS, keep_answer
from ..access.complement import EveryCellWithheld, TreeDecision, derived_withheld, shown
from ..access.decision import (
    Component,
    coverage_slice,
    decision_for,
    forecast_slice,
    merit_slice,
    pass_slice,
    undecided,
)
from ..access.guard import (
    check_read,
    merit_withheld_of_groups,
    reads_every_place,
    strict_scope,
    students_withheld,
    withhold_all_but,
    withhold_small,
)
from ..directory.disclose import roster_withheld
from ..exports import table as t
from ..exports.negotiate import TABLE_RESPONSES, FormatParam
from ..exports.response import export_response, give_back
from ..freshness import set_freshness
from ..params import UnitIdParam, unit_of_level
from ..results.read import Scope
from ..results.rules import AssessmentFact, ForecastFact
from .coverage import coverage_of_count
from .facts import Result
from .forecast_outcome import ForecastTally, classify, forecast_against_outcome, outcome_of
from .freshness import FreshnessBands, freshness
from .linked import term_grades_of, to_forecast, to_result
from .merit import (
    MeritTally,
    final_grades,
    is_eligible,
    merit_contribution,
    merit_figures,
    merit_value,
    passes_all,
)
from .pass_share import gender_gap, pass_share, trend
from .periods import Comparison, Period, RoundPeriod, SchoolYear, Term, TermPeriod, compared_with, history
from .read import (
    CellFilters,
    child_units,
    linked_facts_of_group,
    read_dates,
    read_pass,
    read_students,
    read_sums,
    roster_sizes,
    students_of_group,
)
from .subjects import ELIGIBILITY_RULES, MERIT_YEAR
from .tables import FORECASTS, MERIT

router = APIRouter(prefix="/v1/figures", tags=["figures"])

FigureLevel = Literal["group", "school_unit", "area", "organiser", "nation"]
TEXT, INT, SHARE, NUMBER, DATE = (t.ColumnType.text, t.ColumnType.integer, t.ColumnType.share, t.ColumnType.number,
                                  t.ColumnType.date)


@dataclass(frozen=True)
class Ask:
    """The cell a figure request names: level, filters and one period (a term or a round)."""

    level: FigureLevel
    filters: CellFilters
    period: Period
    format: str | None
    scope: Scope | None = None
    session: AsyncSession | None = field(default=None, compare=False, repr=False)

    @property
    def period_id(self) -> tuple[str, str]:
        return _period_id(self.period)


def _period_id(period: Period) -> tuple[str, str]:
    if isinstance(period, RoundPeriod):
        return str(period.school_year), f"R{period.round}"
    return str(period.school_year), period.term.value


def _period_text(period_id: tuple[str, str]) -> str:
    return f"{period_id[0]} {period_id[1]}"


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: the access check, the figure's reads and the freshness headers
    share it (and its connection); `_respond` commits (the drill-down's audit row), closing ends it."""
    async with runtime_of(request).db.sessions() as session:
        await one_snapshot(session)  # the cells and their disclosure decision: one state
        yield session


@asynccontextmanager
async def _session(a: Ask) -> AsyncIterator[AsyncSession]:
    """The request's session (`request_session`), left open for `_respond`."""
    assert a.session is not None
    yield a.session


async def ask(*, request: Request, level: FigureLevel,
        school_year: Annotated[SchoolYearParam, Query()],
        term: Literal["HT", "VT"] | None = None, round: int | None = Query(None, ge=1, le=4),
        organiser_id: OrganiserIdParam | None = Query(None),
        unit_id: UnitIdParam | None = Query(None),
        subject_code: SubjectCodeParam | None = Query(None),
        year: int | None = Query(None, ge=0, le=9),
        format: FormatParam = None,
        principal: Principal = authorize_read(),
        session: AsyncSession = Depends(request_session)) -> Ask:
    if (term is None) == (round is None):
        raise RuleViolation("term", "one_period", "name exactly one period: a term (HT/VT) or a round (1–4)")
    unit_id = unit_of_level(level, unit_id)
    start = SchoolYear.parse(school_year)
    period: Period = TermPeriod(start, Term(term)) if term is not None else RoundPeriod(start, round or 1)
    scope = await strict_scope(session, request, principal, AuthLevel[level.upper()], organiser_id, unit_id)
    request.state.figure_scope = (level, scope, session)
    return Ask(level, CellFilters(organiser_id=organiser_id, unit_id=unit_id, subject_code=subject_code, year=year),
               period, format, scope, session)


#: The answers kept (`access.answers`: per state version, reader class and request), in front of
#: these routes; `_respond` says which may be kept — every one but the audited student-level reads.
_ANSWERS = ANSWERS


async def _respond(request: Request, table: t.Table, fmt: str | None) -> Response:
    level, scope, session = request.state.figure_scope  # set by `ask`: every figure passes disclosure here
    response: Response = export_response(request, withhold_small(table, level, scope), fmt)
    try:
        keep_answer(request, scope)  # an audited read (`guard.audit`) is never kept all the same
        await set_freshness(session, response, request)
        await session.commit()  # the drill-down's audit row with its read; a read-only transaction otherwise
    except BaseException:
        # never sent: a file's export slot, taken above (before the commit, so that a refusal is not audited), is
        # given back here — only its sending would, and every export was refused 503 once all slots were lost so
        give_back(response)
        raise
    return response


def _suppressed_at(a: Ask, level: str) -> bool:
    return a.scope is not None and AuthLevel[level.upper()] in a.scope.suppressed


async def _decision(session: AsyncSession, a: Ask, level: str, components: Iterable[Component]) \
        -> TreeDecision | None:
    """The one decision on these components (`access.decision`: the whole tree, whatever this request
    selected), or None when the reader sees the level exactly."""
    if not _suppressed_at(a, level):
        return None
    assert a.scope is not None
    if undecided(level, a.scope.suppressed):  # no decision of the class covers the level: every figure withheld
        return EveryCellWithheld.make(a.scope.rules)
    return await decision_for(session, components, a.scope.suppressed, a.scope.rules)


def _subjects(family: str, cells: Iterable[tuple[Any, ...]], periods: Iterable[tuple[str, str]]) -> set[Component]:
    """The components of a family's cells (unit, subject, …) in these periods."""
    return {(family, school_year, cell[1]) for cell in cells for school_year, _ in periods}


def _hidden(decision: TreeDecision | None, slice_: Any, level: str, unit: str, gender: str = "*") -> bool:
    return decision is not None and decision.withheld(slice_, level, unit, gender)


def _outcome(decision: TreeDecision | None, slice_: Any, level: str, unit: str, gender: str,
             assessed: Any, reaching: Any, share: Any) -> tuple[Any, Any, Any]:
    """A pass cell's students assessed, reaching the pass level and share as this reader sees them:
    all withheld, or the outcome withheld (`~100` in the share under the optional rule)."""
    if _hidden(decision, slice_, level, unit, gender):
        return t.Withheld(), t.Withheld(), t.Withheld()
    if decision is not None and decision.near_full(slice_, level, unit, gender):
        return assessed, t.Withheld(), t.Approximately()
    if decision is not None and decision.outcome_withheld(slice_, level, unit, gender):
        return assessed, t.Withheld(), t.Withheld()
    return assessed, reaching, share




def _pass_slice(cell: tuple[Any, ...], pid: tuple[str, str]) -> Hashable:
    return pass_slice(cell[1], cell[2], pid)


def _name(kind: str, a: Ask) -> str:
    return f"{kind}-{a.level}-{a.filters.organiser_id or 'alla'}-{a.period_id[0]}-{a.period_id[1]}"


#: What a share of a figure table is of, for the disclosure rules (`guard.derive_from_shown`): the students reaching
#: the pass level of those assessed; the forecasts that held of those with an outcome.
_SHARE = t.Ratio("reaching", ("assessed",))
_HELD = t.Ratio("held", ("held", "said_reaches_did_not", "said_not_reached_did"))
_CELL_COLUMNS = [t.Column("level", "Nivå"), t.Column("unit_id", "Enhet", width=24),
                 t.Column("subject_code", "Ämne", width=12), t.Column("year", "Årskurs", INT)]


@router.get("/trend", responses=TABLE_RESPONSES)
async def trend_figure(request: Request, a: Ask = Depends(ask),
                       compare: Comparison = Comparison.previous_term,
                       gender: Literal["female", "male", "unknown"] | None = None) -> Response:
    """Förändring: share reaching the pass level now and in the period compared with (previous
    round; previous term or the same term last school year — the caller picks)."""
    previous = compared_with(a.period, compare)
    now_id, then_id = a.period_id, _period_id(previous)
    async with _session(a) as session:
        tallies = await read_pass(session, a.level, a.filters, [now_id, then_id])
        decision = await _decision(session, a, a.level, _subjects("assessment", (c for c, _ in tallies),
                                                                   [now_id, then_id]))
    cells = sorted({cell for cell, _ in tallies})
    g = Gender(gender) if gender else None
    part = g.value if g else "*"

    def rows() -> Iterator[t.Row]:
        for cell in cells:
            tr = trend(tallies.get((cell, now_id)), tallies.get((cell, then_id)), g)
            now, then = _pass_slice(cell, now_id), _pass_slice(cell, then_id)
            yield (a.level, *cell, _period_text(now_id),
                   *_outcome(decision, now, a.level, cell[0], part, tr.current.assessed, tr.current.reaching,
                             tr.current.share), _period_text(then_id),
                   *_outcome(decision, then, a.level, cell[0], part, tr.previous.assessed, tr.previous.reaching,
                             tr.previous.share),
                   *shown(derived_withheld(decision, (now, a.level, cell[0], part), (then, a.level, cell[0], part)),
                          tr.change))

    columns = [*_CELL_COLUMNS, t.Column("period", "Period"), t.Column("assessed", "Bedömda", INT),
               t.Column("reaching", "Når godtagbar nivå", INT), t.Column("share", "Andel", SHARE, of=_SHARE),
               t.Column("previous_period", "Jämförd period"), t.Column("previous_assessed", "Bedömda då", INT),
               t.Column("previous_reaching", "Når godtagbar nivå då", INT),
               t.Column("previous_share", "Andel då", SHARE, of=t.Ratio("previous_reaching", ("previous_assessed",))),
               t.Column("change", "Förändring", SHARE, of=t.Difference("share", "previous_share"))]
    return await _respond(request, t.Table(_name("trend", a), columns, rows(), "Trend"), a.format)


@router.get("/history", responses=TABLE_RESPONSES)
async def term_history_figure(request: Request, a: Ask = Depends(ask), periods: int = Query(6, ge=1, le=20),
                              compare: Comparison = Comparison.previous_term) -> Response:
    """Terminshistorik: the share in the last `periods` periods ending with the one asked for,
    oldest first (`compare` steps: previous round, previous term or same term each year)."""
    if isinstance(a.period, RoundPeriod):
        compare = Comparison.previous_round
    elif compare is Comparison.previous_round:
        raise RuleViolation("compare", "comparison_for_terms",
                            "a term history steps by previous_term or same_term_last_year")
    ids = [_period_id(p) for p in history(a.period, periods, compare)]
    async with _session(a) as session:
        tallies = await read_pass(session, a.level, a.filters, ids)
        decision = await _decision(session, a, a.level, _subjects("assessment", (c for c, _ in tallies), ids))
    cells = sorted({cell for cell, _ in tallies})

    def rows() -> Iterator[t.Row]:
        for cell in cells:
            for pid in ids:
                s = pass_share(tallies.get((cell, pid)))
                yield (a.level, *cell, _period_text(pid),
                       *_outcome(decision, _pass_slice(cell, pid), a.level, cell[0], "*", s.assessed, s.reaching,
                                 s.share))

    columns = [*_CELL_COLUMNS, t.Column("period", "Period"), t.Column("assessed", "Bedömda", INT),
               t.Column("reaching", "Når godtagbar nivå", INT), t.Column("share", "Andel", SHARE, of=_SHARE)]
    return await _respond(request, t.Table(_name("terminshistorik", a), columns, rows(), "Historik"), a.format)


@router.get("/gender-gap", responses=TABLE_RESPONSES)
async def gender_gap_figure(request: Request, a: Ask = Depends(ask)) -> Response:
    """Könsskillnad: girls' share reaching the pass level minus boys'; unknown gender is out of the
    gap but in the total."""
    async with _session(a) as session:
        tallies = await read_pass(session, a.level, a.filters, [a.period_id])
        decision = await _decision(session, a, a.level, _subjects("assessment", (c for c, _ in tallies),
                                                                   [a.period_id]))

    def rows() -> Iterator[t.Row]:
        for (cell, pid), tally in sorted(tallies.items()):
            gap = gender_gap(tally)
            slice_ = _pass_slice(cell, pid)
            girls, boys, total = (_outcome(decision, slice_, a.level, cell[0], part, f.assessed, f.reaching, f.share)
                                  for part, f in (("female", gap.girls), ("male", gap.boys), ("*", gap.total)))
            either = derived_withheld(decision, *((slice_, a.level, cell[0], part) for part in ("female", "male")))
            yield (a.level, *cell, _period_text(a.period_id), girls[0], girls[2], boys[0], boys[2], total[0],
                   total[2], *shown(either, gap.gap))

    columns = [*_CELL_COLUMNS, t.Column("period", "Period"), t.Column("girls_assessed", "Flickor bedömda", INT),
               t.Column("girls_share", "Andel flickor", SHARE, of=t.Ratio(None, ("girls_assessed",))),
               t.Column("boys_assessed", "Pojkar bedömda", INT),
               t.Column("boys_share", "Andel pojkar", SHARE, of=t.Ratio(None, ("boys_assessed",))),
               t.Column("assessed", "Bedömda totalt", INT),
               t.Column("share", "Andel totalt", SHARE, of=t.Ratio(None, ("assessed",))),
               t.Column("gap", "Könsskillnad", SHARE, of=t.Difference("girls_share", "boys_share"))]
    return await _respond(request, t.Table(_name("konsskillnad", a), columns, rows(), "Könsskillnad"), a.format)


@router.get("/freshness", responses=TABLE_RESPONSES)
async def freshness_figure(request: Request, a: Ask = Depends(ask),
                           today: DateParam | None = Query(None, description="the day ages are counted to")) \
        -> Response:
    """Aktualitet: the newest result behind each cell, its age in days and a band (thresholds in
    the service settings: `freshness_yellow_from_months`, `freshness_red_after_months`)."""
    settings = runtime_of(request).settings
    bands = FreshnessBands(getattr(settings, "freshness_yellow_from_months", 4),
                           getattr(settings, "freshness_red_after_months", 8))
    day = today or school_today()
    async with _session(a) as session:
        dates = await read_dates(session, a.level, a.filters, a.period_id)
        # a cell's dates rest on its results: the decision on its assessed students
        decision = await _decision(session, a, a.level, _subjects("assessment", dates, [a.period_id]))

    def rows() -> Iterator[t.Row]:
        for cell, multiset in sorted(dates.items()):
            f = freshness(multiset, day, bands)
            hidden = _hidden(decision, _pass_slice(cell, a.period_id), a.level, cell[0])
            yield (a.level, *cell, _period_text(a.period_id), *shown(hidden, f.newest, f.age_days, f.band.value))

    columns = [*_CELL_COLUMNS, t.Column("period", "Period"), t.Column("newest", "Senaste bedömning", DATE),
               t.Column("age_days", "Ålder (dagar)", INT), t.Column("band", "Aktualitet")]
    return await _respond(request, t.Table(_name("aktualitet", a), columns, rows(), "Aktualitet"), a.format)


@router.get("/coverage", responses=TABLE_RESPONSES)
async def coverage_figure(request: Request, a: Ask = Depends(ask),
                          on: DateParam | None = Query(None, description="the roster date (today by default)")) \
        -> Response:
    """Täckning: students with a result out of the roster size from the directory; `unknown`
    where the directory has no roster for the unit, `empty` for an empty roster (never ÷0)."""
    day = on or school_today()
    async with _session(a) as session:
        students = await read_students(session, a.level, a.filters, a.period_id)
        rosters = await roster_sizes(session, a.level, a.filters.organiser_id, day)
        decision = await _decision(session, a, a.level, _subjects("assessment", students, [a.period_id]))
        # a roster size is the directory's: withheld as its roster-sizes read withholds it (one decision)
        roster_hidden = set() if a.scope is None else await roster_withheld(
            session, a.level, a.filters.organiser_id, sorted({cell[0] for cell in students}), day,
            a.scope.suppressed, a.scope.rules)

    def rows() -> Iterator[t.Row]:
        for cell, n in sorted(students.items()):
            c = coverage_of_count(n, rosters.get(cell[0]))
            hidden = _hidden(decision, coverage_slice(cell[1], cell[2], a.period_id), a.level, cell[0])
            roster, share = shown(cell[0] in roster_hidden, c.roster_size, c.share)  # the share gives the size back
            yield (a.level, *cell, _period_text(a.period_id),
                   *shown(hidden, c.with_result, roster, share, c.status.value))

    columns = [*_CELL_COLUMNS, t.Column("period", "Period"), t.Column("with_result", "Elever med resultat", INT),
               t.Column("roster_size", "Elever enligt register", INT),
               t.Column("share", "Täckning", SHARE, of=t.Ratio("with_result", ("roster_size",))),
               t.Column("roster", "Register")]
    return await _respond(request, t.Table(_name("tackning", a), columns, rows(), "Täckning"), a.format)


DrillFigure = Literal["pass", "forecast-outcome", "merit"]
#: The columns of a drill-down's student table shown where its figures are withheld (`guard.students_withheld`).
_STUDENT_KEYS = frozenset({"group", "student_id", "subject_code", "year"})


def _children_readable(a: Ask, child_level: str) -> None:
    """The drill-down shows a level below the one asked for: one the reader reads, or one whose figures it sees
    withheld where small (a politician's school units under an area, the public's areas under an organiser). An ICT
    coordinator (its school units, at school-unit level only) read the exact figures of each group of its unit,
    a group of one student its result, where every other read refuses it the group level (round 24a). The
    student level is judged where it is read (`check_read`, audited)."""
    if child_level == "student" or a.scope is None or a.scope.principal is None:
        return
    child = AuthLevel[child_level.upper()]
    if child not in readable_levels(a.scope.principal) and child not in a.scope.suppressed:
        raise AccessDenied("level", "read_scope", f"this token may not read at {child_level} level, the level "
                                                  f"below {a.level}")


@router.get("/drill-down", responses=TABLE_RESPONSES)
async def drill_down(request: Request, a: Ask = Depends(ask), figure: DrillFigure = "pass") -> Response:
    """Each cell's children one level down (nation → organisers → areas → school units → groups)
    for a figure: `pass` (share reaching the pass level and the gender gap), `forecast-outcome` or
    `merit` (merit value, all pass, eligibility; per term). Under a group, the pseudonymous student
    ids: with their latest result per subject (`pass`), each forecast with its outcome
    (`forecast-outcome`), or each student's merit value and eligibility (`merit`)."""
    unit_id = a.filters.unit_id
    if unit_id is None and a.level != "nation":
        raise RuleViolation("unit_id", "required_for_drill_down", "name the unit whose children to list")
    if figure != "pass":
        _term_only(a)
    async with _session(a) as session:
        child_level, child_filters = await child_units(session, a.level, unit_id or "", a.filters.organiser_id)
        _children_readable(a, child_level)
        school_year, period = a.period_id
        if child_level == "student":
            code, _, group = (unit_id or "").partition("/")
            assert a.scope is not None and a.scope.principal is not None
            await check_read(session, request, a.scope.principal, AuthLevel.STUDENT, a.filters.organiser_id,
                             school_unit_code=code, group_id=group, field="unit_id")  # audited
            if figure == "pass":
                students = await students_of_group(
                    session, unit_id or "", a.filters.subject_code, a.filters.year, school_year,
                    None if period.startswith("R") else period, int(period[1:]) if period.startswith("R") else None)
                table = _student_table(a, students)
            else:
                forecasts, results = await linked_facts_of_group(session, unit_id or "", school_year, period,
                                                                 a.filters.subject_code, a.filters.year)
                table = (_student_forecast_table(a, forecasts, results) if figure == "forecast-outcome"
                         else _student_merit_table(a, results))
            if students_withheld(a.scope):  # as the results' student level is for this reader
                table = withhold_all_but(table, _STUDENT_KEYS)
            return await _respond(request, table, a.format)
        child_filters = CellFilters(**{**child_filters.__dict__, "subject_code": a.filters.subject_code,
                                       "year": a.filters.year})
        if figure == "forecast-outcome":
            sums = await read_sums(session, FORECASTS, child_level, child_filters, a.period_id,
                                   ("unit_id", "subject_code", "year"))
            decision = await _decision(session, a, child_level, _forecast_components(sums, a.period_id))
        elif figure == "merit":
            merit_filters = CellFilters(**{**child_filters.__dict__, "subject_code": None})
            sums = await read_sums(session, MERIT, child_level, merit_filters, a.period_id, ("unit_id", "year"))
            decision = await _decision(session, a, child_level, [("merit", *a.period_id)])
        else:
            tallies = await read_pass(session, child_level, child_filters, [a.period_id])
            decision = await _decision(session, a, child_level, _subjects("assessment", (c for c, _ in tallies),
                                                                         [a.period_id]))
    parent = [t.Column("parent_level", "Nivå"), t.Column("parent_id", "Enhet", width=24),
              t.Column("level", "Undernivå"), t.Column("unit_id", "Underenhet", width=24)]
    head = (a.level, unit_id or "SE", child_level)
    if figure == "forecast-outcome":
        def forecast_rows() -> Iterator[t.Row]:
            for cell, values in sorted(sums.items()):
                f = forecast_against_outcome(ForecastTally(*values))
                hidden = derived_withheld(decision, *_forecast_inputs(cell, a.period_id, child_level, "*"))
                yield (*head, *cell, _period_text(a.period_id), *shown(hidden, f.held, f.said_reaches_did_not,
                                                                       f.said_not_reached_did, f.no_outcome,
                                                                       f.share_held))

        columns = [*parent, t.Column("subject_code", "Ämne", width=12), t.Column("year", "Årskurs", INT),
                   t.Column("period", "Termin"), *_FORECAST_COLUMNS]
        return await _respond(request, t.Table(_name("nedbrytning-prognos", a), columns, forecast_rows(),
                                               "Nedbrytning"), a.format)
    if figure == "merit":
        def merit_rows() -> Iterator[t.Row]:
            for (child, year), values in sorted(sums.items()):
                hidden = _hidden(decision, merit_slice(year, a.period_id), child_level, child)
                yield (*head, child, year, _period_text(a.period_id),
                       *shown(hidden, *_merit_values(MeritTally(*values))))

        columns = [*parent, t.Column("year", "Årskurs", INT), t.Column("period", "Termin"), *_merit_columns()]
        return await _respond(request, t.Table(_name("nedbrytning-merit", a), columns, merit_rows(), "Nedbrytning"),
                              a.format)

    def rows() -> Iterator[t.Row]:
        for (cell, pid), tally in sorted(tallies.items()):
            gap = gender_gap(tally)
            slice_ = _pass_slice(cell, pid)
            either = derived_withheld(decision, *((slice_, child_level, cell[0], part) for part in ("female", "male")))
            yield (*head, *cell, _period_text(a.period_id),
                   *_outcome(decision, slice_, child_level, cell[0], "*", gap.total.assessed, gap.total.reaching,
                             gap.total.share), *shown(either, gap.gap))

    columns = [*parent, t.Column("subject_code", "Ämne", width=12), t.Column("year", "Årskurs", INT),
               t.Column("period", "Period"), t.Column("assessed", "Bedömda", INT),
               t.Column("reaching", "Når godtagbar nivå", INT), t.Column("share", "Andel", SHARE, of=_SHARE),
               t.Column("gap", "Könsskillnad", SHARE)]  # its gender parts not shown: withheld where counts are rounded
    return await _respond(request, t.Table(_name("nedbrytning", a), columns, rows(), "Nedbrytning"), a.format)


_FORECAST_COLUMNS = [t.Column("held", "Prognosen höll", INT),
                     t.Column("said_reaches_did_not", "Sade når, nådde inte", INT),
                     t.Column("said_not_reached_did", "Sade når inte, nådde", INT),
                     t.Column("no_outcome", "Utfall saknas", INT),
                     t.Column("share_held", "Andel som höll", SHARE, of=_HELD)]


def _merit_columns() -> list[t.Column]:
    columns = [t.Column("merit_students", "Elever (åk 9)", INT),
               t.Column("mean_merit_value", "Genomsnittligt meritvärde", NUMBER),
               t.Column("graded_students", "Elever med betyg", INT),
               t.Column("all_pass", "Godtagbart i alla ämnen", INT),
               t.Column("share_all_pass", "Andel godtagbart i alla ämnen", SHARE,
                        of=t.Ratio("all_pass", ("graded_students",)))]
    for name, rule in ELIGIBILITY_RULES.items():
        columns += [t.Column(f"eligible_{name}", f"Behöriga: {rule.name}", INT, width=30),
                    t.Column(f"share_eligible_{name}", f"Andel behöriga: {rule.name}", SHARE, width=30,
                             of=t.Ratio(f"eligible_{name}", ("merit_students",)))]
    return columns


def _merit_values(tally: MeritTally) -> tuple[Any, ...]:
    m = merit_figures(tally)
    return (m.merit_students, m.mean_merit_value, m.graded_students, m.all_pass, m.share_all_pass,
            *[v for name in ELIGIBILITY_RULES for v in (m.eligible[name], m.share_eligible[name])])


def _facts(rows: list[Any], fact_type: type) -> list[Any]:
    names = [f.name for f in dataclasses.fields(fact_type)]
    return [fact_type(**{n: getattr(r, n) for n in names}) for r in rows]


def _student_forecast_table(a: Ask, forecast_rows: list[Any], result_rows: list[Any]) -> t.Table:
    """Each forecast of the group's students with the outcome the rule picks (`outcome_of`)."""
    results: dict[tuple[str, str], list[Result]] = {}
    for fact in _facts(result_rows, AssessmentFact):
        result = to_result(fact, {})
        if result is not None:
            results.setdefault((result.student_id, result.subject_code), []).append(result)
    forecasts = [f for f in (to_forecast(x, {}) for x in _facts(forecast_rows, ForecastFact)) if f is not None]

    def rows() -> Iterator[t.Row]:
        for f in sorted(forecasts, key=lambda f: (f.student_id, f.subject_code, f.forecast_id)):
            paired = results.get((f.student_id, f.subject_code), [])
            outcome = outcome_of(f, paired)
            yield (a.filters.unit_id or "", f.student_id, f.subject_code, f.year, f.value, f.submitted_on,
                   outcome.kind.value if outcome else None, outcome.value if outcome else None,
                   outcome.assessed_on if outcome else None, classify(f, paired).value)

    columns = [t.Column("group", "Grupp", width=24), t.Column("student_id", "Elev (pseudonym)", width=40),
               t.Column("subject_code", "Ämne", width=12), t.Column("year", "Årskurs", INT),
               t.Column("forecast", "Prognos"), t.Column("submitted_on", "Prognos lämnad", DATE),
               t.Column("outcome_kind", "Utfall, slag"), t.Column("outcome", "Utfall"),
               t.Column("outcome_on", "Utfall, datum", DATE), t.Column("verdict", "Prognos mot utfall", width=24)]
    return t.Table(_name("elever-prognos", a), columns, rows(), "Elever")


def _student_merit_table(a: Ask, result_rows: list[Any]) -> t.Table:
    """Each student whose newest term grade of the term is set in this group (where the merit
    figure counts them): number of grades, merit value (year 9), all pass, eligibility."""
    group = ("group", a.filters.unit_id or "")
    by_student, place = term_grades_of(result_rows)  # place: result id → where it was set
    reader = a.scope.principal if a.scope is not None else None

    def rows() -> Iterator[t.Row]:
        for student, results in sorted(by_student.items()):
            cells = merit_contribution(results)
            if not any(c.unit == group for c in cells):
                continue
            year = next(iter(cells)).year
            final = final_grades(results)
            grades = {s: r.value for s, r in final.items()}
            figures = (len(grades), merit_value(grades) if year == MERIT_YEAR else None,
                       "ja" if passes_all(grades) else "nej",
                       *["ja" if is_eligible(rule, grades) else "nej" for rule in ELIGIBILITY_RULES.values()])
            # every subject's grade is in these figures: withheld unless the reader reads each group they were set in
            hidden = reader is not None and not reads_every_place(reader, (place[r.result_id] for r in final.values()))
            yield (group[1], student, year, *shown(hidden, *figures))

    columns = [t.Column("group", "Grupp", width=24), t.Column("student_id", "Elev (pseudonym)", width=40),
               t.Column("year", "Årskurs", INT), t.Column("grades", "Betyg", INT),
               t.Column("merit_value", "Meritvärde", NUMBER), t.Column("all_pass", "Godtagbart i alla ämnen")]
    columns += [t.Column(f"eligible_{name}", f"Behörig: {rule.name}", width=30)
                for name, rule in ELIGIBILITY_RULES.items()]
    return t.Table(_name("elever-merit", a), columns, rows(), "Elever")


def _student_table(a: Ask, students: list[Any]) -> t.Table:
    def rows() -> Iterator[t.Row]:
        for s in students:
            yield (a.filters.unit_id or "", s.student_id, s.subject_code, s.year, s.kind, s.value,
                   "ja" if reaches_pass(s.scale, s.value) else "nej", s.assessed_on)

    columns = [t.Column("group", "Grupp", width=24), t.Column("student_id", "Elev (pseudonym)", width=40),
               t.Column("subject_code", "Ämne", width=12), t.Column("year", "Årskurs", INT),
               t.Column("kind", "Slag"), t.Column("value", "Resultat"), t.Column("reaches", "Når godtagbar nivå"),
               t.Column("assessed_on", "Bedömd", DATE)]
    return t.Table(_name("elever", a), columns, rows(), "Elever")



def _forecast_components(cells: Iterable[tuple[Any, ...]], period: tuple[str, str]) -> set[Component]:
    """Forecast against outcome's components: the forecasts' and the results' (the outcomes are results)."""
    cells = list(cells)
    return _subjects("forecast", cells, [period]) | _subjects("assessment", cells, [period])


def _forecast_inputs(cell: tuple[Any, ...], period: tuple[str, str], level: str, gender: str) \
        -> tuple[tuple[Hashable, str, str, str], ...]:
    """The cells a forecast-against-outcome row (unit, subject, year) rests on: its forecasts, and the results of the
    term its outcomes are among — shown beside a withheld results cell, "said reaches, did not" and "no outcome" gave
    the term's small count of students assessed, and how many of them reached the pass level, back (privacy round
    30)."""
    return ((forecast_slice(cell[1], cell[2], period), level, cell[0], gender),
            (pass_slice(cell[1], cell[2], period), level, cell[0], gender))


def _term_only(a: Ask) -> None:
    if isinstance(a.period, RoundPeriod):
        raise RuleViolation("round", "term_figure", "this figure is per term: name a term (HT/VT), not a round")


@router.get("/forecast-outcome", responses=TABLE_RESPONSES)
async def forecast_outcome_figure(request: Request, a: Ask = Depends(ask),
                                  gender: Literal["female", "male", "unknown"] | None = None) -> Response:
    """Prognos mot utfall: of the forecasts for the term, how many held, how many said "reaches"
    but the later outcome did not, the reverse, and how many have no outcome yet."""
    _term_only(a)
    filters = CellFilters(**{**a.filters.__dict__, "gender": gender})
    async with _session(a) as session:
        keys = ("unit_id", "subject_code", "year")
        sums = await read_sums(session, FORECASTS, a.level, filters, a.period_id, keys)
        decision = await _decision(session, a, a.level, _forecast_components(sums, a.period_id))

    def rows() -> Iterator[t.Row]:
        for cell, values in sorted(sums.items()):
            f = forecast_against_outcome(ForecastTally(*values))
            hidden = derived_withheld(decision, *_forecast_inputs(cell, a.period_id, a.level, gender or "*"))
            yield (a.level, *cell, _period_text(a.period_id), *shown(hidden, f.held, f.said_reaches_did_not,
                                                                     f.said_not_reached_did, f.no_outcome,
                                                                     f.share_held))

    columns = [*_CELL_COLUMNS, t.Column("period", "Termin"), t.Column("held", "Prognosen höll", INT),
               t.Column("said_reaches_did_not", "Sade når, nådde inte", INT),
               t.Column("said_not_reached_did", "Sade når inte, nådde", INT),
               t.Column("no_outcome", "Utfall saknas", INT), t.Column("share_held", "Andel som höll", SHARE, of=_HELD)]
    return await _respond(request, t.Table(_name("prognos-mot-utfall", a), columns, rows(), "Prognos mot utfall"),
                          a.format)


@router.get("/merit", responses=TABLE_RESPONSES)
async def merit_figure(request: Request, a: Ask = Depends(ask),
                       gender: Literal["female", "male", "unknown"] | None = None) -> Response:
    """Meritvärde (mean, year 9), share reaching the pass level in all subjects (years 6–9) and
    eligibility for the upper-secondary programme groups (year 9), from the term grades."""
    _term_only(a)
    filters = CellFilters(**{**a.filters.__dict__, "subject_code": None, "gender": gender})
    async with _session(a) as session:
        sums = await read_sums(session, MERIT, a.level, filters, a.period_id, ("unit_id", "year"))
        decision = await _decision(session, a, a.level, [("merit", *a.period_id)])
        elsewhere = await merit_withheld_of_groups(
            session, a.scope.principal if a.scope is not None else None, a.filters.organiser_id,
            {unit_id for unit_id, _ in sums} if a.level == "group" else (), a.period_id, a.filters.year)

    def rows() -> Iterator[t.Row]:
        for (unit_id, year), values in sorted(sums.items()):
            hidden = (_hidden(decision, merit_slice(year, a.period_id), a.level, unit_id, gender or "*")
                      or (unit_id, year) in elsewhere)
            yield (a.level, unit_id, year, _period_text(a.period_id),
                   *shown(hidden, *_merit_values(MeritTally(*values))))

    columns = [t.Column("level", "Nivå"), t.Column("unit_id", "Enhet", width=24), t.Column("year", "Årskurs", INT),
               t.Column("period", "Termin"), *_merit_columns()]
    return await _respond(request, t.Table(_name("meritvarde", a), columns, rows(), "Meritvärde"), a.format)
