"""The two figures that depend on several facts at once — forecast against outcome (a forecast
and the same student's results in that subject and term) and merit value (a student's term grades
in a term) — kept by deltas too: for the student-subject-terms and student-terms a batch touched,
the facts are loaded once (one statement per fact table), the state before the batch is those
facts with the batch's changed ones put back to their old versions, and the delta is
contribution(after) − contribution(before)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, reaches_pass

from ..results.handlers import BatchChanges
from ..results.rules import AssessmentFact, ForecastFact, Placement, units
from ..results.tables import ASSESSMENTS, FORECASTS, FactStore, placement_of
from ..staging import json_rows, quoted, text_rows_of_json
from .facts import Forecast, Result, ResultKind
from .forecast_outcome import ForecastCell, ForecastTally, Outcome, Pairing, forecast_outcome_contribution
from .merit import MeritCell, MeritTally, merit_contribution
from .periods import SchoolYear, Term
from .state import apply
from .tables import FORECAST_COUNTERS, MERIT, counters_of
from .tables import FORECASTS as FORECAST_TABLE

PairKey = tuple[str, str, str, str]  # student, subject, school year, term
TermKey = tuple[str, str, str]  # student, school year, term


# The stored strings as the figures' enums and school year, looked up once per distinct value (an
# enum's constructor per row was the hottest line of this module).
_gender = functools.cache(Gender)
_term = functools.cache(Term)
_kind = functools.cache(ResultKind)
_scale = functools.cache(Scale)
_school_year = functools.cache(SchoolYear.parse)


def result_id_of(fact: Any) -> str:
    """A `Result`'s id: the fact's id and organiser (an `AssessmentFact` or a row of its table). The figures that
    pair or group a student's results across organisers (forecast against outcome, merit) break a tie by it; two
    organisers may hold a record under one id (`results.tables.fact_table`), and by the id alone which of them won
    depended on the order the facts were read in. The ids are of one length: ordered by the id first, as before,
    the organiser only between equal ids."""
    return f"{fact.assessment_id} {fact.organiser_id}"


def to_result(fact: AssessmentFact | None, placement: Placement) -> Result | None:
    """Reporting's stored fact as the figures' `Result` (None: retracted, or stored without a date)."""
    if fact is None or fact.retracted or fact.assessed_on is None:
        return None
    return Result(result_id=result_id_of(fact), student_id=fact.student_id, subject_code=fact.subject_code,
                  year=fact.year, gender=_gender(fact.gender), units=tuple(units(fact, placement)),
                  school_year=_school_year(fact.school_year), term=_term(fact.term), round=fact.round,
                  kind=_kind(fact.kind), scale=_scale(fact.scale), value=fact.value,
                  assessed_on=fact.assessed_on)


#: where a result was set: (organiser, school unit code, group)
Place = tuple[str, str, str]


def term_grades_of(result_rows: Iterable[Any]) -> tuple[dict[str, list[Result]], dict[str, Place]]:
    """Pure: the term grades among stored assessment rows, per student, and where each was set (by result id) — what
    a student-level merit figure rests on (`access.guard.merit_set_elsewhere`, the drill-down's per student)."""
    by_student: dict[str, list[Result]] = {}
    place: dict[str, Place] = {}
    names = [f.name for f in dataclasses.fields(AssessmentFact)]
    for row in result_rows:
        fact = AssessmentFact(**{n: getattr(row, n) for n in names})
        result = to_result(fact, {})
        if result is not None and result.kind is ResultKind.term_grade:
            by_student.setdefault(result.student_id, []).append(result)
            place[result.result_id] = (fact.organiser_id, fact.school_unit_code, fact.group_id)
    return by_student, place


def to_forecast(fact: ForecastFact | None, placement: Placement) -> Forecast | None:
    if fact is None or fact.withdrawn or fact.submitted_on is None:
        return None
    return Forecast(forecast_id=str(fact.forecast_id), student_id=fact.student_id, subject_code=fact.subject_code,
                    year=fact.year, gender=_gender(fact.gender), units=tuple(units(fact, placement)),
                    school_year=_school_year(fact.school_year), term=_term(fact.term), value=fact.value,
                    submitted_on=fact.submitted_on)


# ---------------------------------------------------------------- keys of the state tables

def forecast_key(organiser_id: str, cell: ForecastCell) -> tuple[Any, ...]:
    level, unit_id = cell.unit
    return (level, unit_id, organiser_id, cell.subject_code, cell.year, _gender(cell.gender).value,
            str(cell.period.school_year), cell.period.term.value)


def merit_key(organiser_id: str, cell: MeritCell) -> tuple[Any, ...]:
    level, unit_id = cell.unit
    return (level, unit_id, organiser_id, cell.year, _gender(cell.gender).value, str(cell.period.school_year),
            cell.period.term.value)


def forecast_state(forecasts: Iterable[ForecastFact], results: Iterable[AssessmentFact],
                   placement: Placement) -> dict[tuple[Any, ...], ForecastTally]:
    """The forecast-against-outcome state of these facts (each forecast paired with the results)."""
    by_key: dict[PairKey, list[Result]] = {}
    for fact in results:
        result = to_result(fact, placement)
        if result is not None:
            by_key.setdefault((fact.student_id, fact.subject_code, fact.school_year, fact.term), []).append(result)
    state: dict[tuple[Any, ...], ForecastTally] = {}
    for stored in forecasts:
        forecast = to_forecast(stored, placement)
        if forecast is None:
            continue
        paired = by_key.get((stored.student_id, stored.subject_code, stored.school_year, stored.term), [])
        contribution = forecast_outcome_contribution(Pairing(forecast, tuple(paired)))
        apply(state, {forecast_key(stored.organiser_id, c): t for c, t in contribution.items()})
    return state


_OUTCOME_AT = {name: n for n, name in enumerate(FORECAST_COUNTERS)}  # an outcome's position in the counters
_NO_OUTCOME = _OUTCOME_AT[Outcome.no_outcome.value]
_HELD = _OUTCOME_AT[Outcome.held.value]
_SAID_REACHES = _OUTCOME_AT[Outcome.said_reaches_did_not.value]
_SAID_NOT_REACHED = _OUTCOME_AT[Outcome.said_not_reached_did.value]


@functools.cache
def _reaches(scale: str, value: str) -> bool:
    return reaches_pass(Scale(scale), value)


def forecast_counts(forecasts: Iterable[ForecastFact], results: Iterable[AssessmentFact],
                    placement: Placement) -> dict[tuple[Any, ...], list[int]]:
    """`forecast_state` as counters (`FORECAST_COUNTERS` order) straight from the stored facts, for the apply
    path: no `Result`/`Forecast` objects, the pairing's key once per forecast instead of `is_candidate` per
    result (the results are grouped by that key), the outcome by `outcome_of`'s order — term grade, day,
    round, result id (`result_id_of`). `tests/unit/figures/test_forecast_counts.py` holds it equal to `forecast_state`."""
    by_key: dict[PairKey, list[AssessmentFact]] = {}
    for fact in results:
        if not fact.retracted and fact.assessed_on is not None:
            by_key.setdefault((fact.student_id, fact.subject_code, fact.school_year, fact.term), []).append(fact)
    state: dict[tuple[Any, ...], list[int]] = {}
    for stored in forecasts:
        day = stored.submitted_on
        if stored.withdrawn or day is None:
            continue
        best: tuple[Any, ...] | None = None
        outcome: AssessmentFact | None = None
        for result in by_key.get((stored.student_id, stored.subject_code, stored.school_year, stored.term), ()):
            assessed_on = result.assessed_on
            assert assessed_on is not None
            if assessed_on > day:
                order = (result.kind == "term_grade", assessed_on, result.round or 0, str(result.assessment_id),
                         result.organiser_id)  # `result_id_of`'s order
                if best is None or order > best:
                    best, outcome = order, result
        if outcome is None:
            at = _NO_OUTCOME
        else:
            said = _reaches(Scale.THREE_LEVEL.value, stored.value)
            at = (_HELD if _reaches(outcome.scale, outcome.value) == said
                  else _SAID_REACHES if said else _SAID_NOT_REACHED)
        rest = (stored.organiser_id, stored.subject_code, stored.year, stored.gender, stored.school_year, stored.term)
        for level, unit_id in units(stored, placement):
            key = (level, unit_id, *rest)
            counts = state.get(key)
            if counts is None:
                state[key] = counts = [0] * len(FORECAST_COUNTERS)
            counts[at] += 1
    return state


def merit_state(grades: Iterable[AssessmentFact], placement: Placement) -> dict[tuple[Any, ...], MeritTally]:
    """The merit state of these term grades (grouped per student and term)."""
    by_student: dict[TermKey, list[tuple[Result, str]]] = {}
    for fact in grades:
        result = to_result(fact, placement)
        if result is not None and fact.kind == "term_grade":
            by_student.setdefault((fact.student_id, fact.school_year, fact.term), []).append(
                (result, fact.organiser_id))
    state: dict[tuple[Any, ...], MeritTally] = {}
    for items in by_student.values():
        contribution = merit_contribution([r for r, _ in items])
        if not contribution:
            continue
        organiser = dict(c.unit for c in contribution).get("organiser")  # the newest grade's organiser
        apply(state, {merit_key(organiser or items[0][1], c): t for c, t in contribution.items()})
    return state


# ---------------------------------------------------------------- loading the facts a batch touched

async def _load(session: AsyncSession, store: FactStore, hidden: str, keys: Sequence[tuple[Any, ...]], names: Sequence[str],
                where: str = "") -> list[Any]:
    if not keys:
        return []
    sql, params = load_statement(store, hidden, keys, names, where)
    make = store.make
    return [make(*row) for row in (await session.execute(text(sql), params)).all()]


def load_statement(store: FactStore, hidden: str, keys: Sequence[tuple[Any, ...]], names: Sequence[str],
                   where: str = "") -> tuple[str, dict[str, Any]]:
    """`_load`'s SELECT and parameters: the facts, not `hidden`, of the keys (`names`' values, each fact matching
    one key at most) and `where`."""
    cols = ", ".join(f"f.{quoted(n)}" for n in store.fact_fields)
    on = " AND ".join(f"f.{quoted(n)} = k.{quoted(n)}" for n in names)
    # the keys as one JSON parameter (`staging.json_rows`: no asyncpg type check per array element)
    keys_sql = text_rows_of_json("CAST(:keys AS text)", names)
    if store is ASSESSMENTS and names[0] == "student_id":
        # each key drives an index scan of its student's results (`results.tables.FACTS_NEWEST_INDEX`'s student
        # prefix: LATERAL, OFFSET 0 keeping the join out of the planner's hands). Joined as a plain JOIN, the keys'
        # function scan (estimated at 100 rows) met the term grades as a nested loop over a sequential scan of
        # every organiser's results — 300 term keys × 4,800 term grades compared, ~0.4 s of PostgreSQL per batch
        # of term grades at 86k results (bench/README.md apply37), a scan that grows with the whole table
        sql = (f"SELECT {cols} FROM ({keys_sql}) AS k CROSS JOIN LATERAL (SELECT * FROM {store.facts.name} f "
               f"WHERE {on} AND NOT f.{hidden} {where} OFFSET 0) f")
    else:
        sql = f"SELECT {cols} FROM {store.facts.name} f JOIN ({keys_sql}) AS k ON {on} WHERE NOT f.{hidden} {where}"
    return sql, {"keys": json_rows(sorted(set(keys)))}


def _before(after: Iterable[Any], changes: Sequence[tuple[Any, Any]], id_field: str, in_scope) -> list[Any]:
    """The facts as they were before the batch: the changed ones put back to their old versions. A fact is
    known by its organiser and id (`FactStore.key_of`): another organiser's record under the same id is another."""
    key_of = attrgetter("organiser_id", id_field)
    changed = {key_of(new): old for old, new in changes}
    out = [f for f in after if key_of(f) not in changed]
    return out + [old for old in changed.values() if old is not None and in_scope(old)]


def _signed_counts(after: dict[Any, list[int]], before: dict[Any, list[int]]) -> list[tuple[Any, ...]]:
    """`_signed_rows` of counter lists."""
    rows = {key: list(counts) for key, counts in after.items()}
    for key, counts in before.items():
        row = rows.get(key)
        if row is None:
            rows[key] = [-n for n in counts]
        else:
            rows[key] = [a - b for a, b in zip(row, counts, strict=True)]
    return [(*key, *values) for key, values in rows.items() if any(values)]


def _signed_rows(after: dict[Any, Any], before: dict[Any, Any], n_values: int) -> list[tuple[Any, ...]]:
    rows: dict[tuple[Any, ...], list[int]] = {}
    for key, tally in after.items():
        rows.setdefault(key, [0] * n_values)
        rows[key] = [a + b for a, b in zip(rows[key], counters_of(tally), strict=True)]
    for key, tally in before.items():
        rows.setdefault(key, [0] * n_values)
        rows[key] = [a - b for a, b in zip(rows[key], counters_of(tally), strict=True)]
    return [(*key, *values) for key, values in rows.items() if any(values)]


async def apply_linked(session: AsyncSession, changes: BatchChanges) -> None:
    pair_keys: set[PairKey] = set()
    term_keys: set[TermKey] = set()
    touched: list[AssessmentFact | ForecastFact | None] = [f for pair in changes.assessments for f in pair]
    touched += [f for pair in changes.forecasts for f in pair]
    for fact in touched:
        if fact is not None:
            pair_keys.add((fact.student_id, fact.subject_code, fact.school_year, fact.term))
    for old, new in changes.assessments:
        for fact in (old, new):
            if fact is not None and fact.kind == "term_grade":
                term_keys.add((fact.student_id, fact.school_year, fact.term))
    if not pair_keys:
        return

    pair_names = ("student_id", "subject_code", "school_year", "term")
    forecasts_after = await _load(session, FORECASTS, "withdrawn", list(pair_keys), pair_names)
    forecasts_before = _before(forecasts_after, changes.forecasts, "forecast_id",
                               lambda f: not f.withdrawn)
    # only the student-subject-terms with a forecast (now or before) need their results
    forecast_keys = {(f.student_id, f.subject_code, f.school_year, f.term)
                     for f in [*forecasts_after, *forecasts_before]}
    result_keys = forecast_keys
    results_after = await _load(session, ASSESSMENTS, "retracted", list(result_keys), pair_names)
    # a fact's old version is compared by key: a revision may move a result to another subject or term
    grades_after = await _load(session, ASSESSMENTS, "retracted", list(term_keys),
                               ("student_id", "school_year", "term"), "AND f.kind = 'term_grade'")

    def in_pairs(f: AssessmentFact) -> bool:
        return not f.retracted and (f.student_id, f.subject_code, f.school_year, f.term) in result_keys

    def in_terms(f: AssessmentFact) -> bool:
        return not f.retracted and f.kind == "term_grade" and (f.student_id, f.school_year, f.term) in term_keys

    results_before = _before(results_after, [(o, n) for o, n in changes.assessments if in_pairs(n) or
                                             (o is not None and in_pairs(o))], "assessment_id", in_pairs)
    grades_before = _before(grades_after, [(o, n) for o, n in changes.assessments if in_terms(n) or
                                           (o is not None and in_terms(o))], "assessment_id", in_terms)
    codes = {f.school_unit_code for f in [*forecasts_after, *forecasts_before, *grades_after, *grades_before]}
    placement = {**changes.placement, **await placement_of(session, codes - set(changes.placement))}

    await FORECAST_TABLE.add(session, _signed_counts(forecast_counts(forecasts_after, results_after, placement),
                                                     forecast_counts(forecasts_before, results_before, placement)))
    await MERIT.add(session, _signed_rows(merit_state(grades_after, placement),
                                          merit_state(grades_before, placement), len(MERIT.values)))
