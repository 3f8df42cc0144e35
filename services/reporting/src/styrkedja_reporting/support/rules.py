"""Pure parts: the facts kept of support interventions and plans, and the aggregate cells each
fact counts in. No free text ever reaches reporting (the events carry none)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from operator import attrgetter
from typing import Any

from styrkedja_contracts.scales import reaches_pass

from ..results.rules import AssessmentFact, Placement, group_key, units

#: Statuses in which an intervention is active (beslutad, pågående).
ACTIVE_STATUSES = ("decided", "in_progress")
#: Statuses with an evaluation outcome.
EVALUATED_STATUSES = ("evaluated", "closed")
KINDS = ("extra_adjustment", "investigation", "special_support", "action_programme")
OPEN_INVESTIGATION_STATUSES = ("proposed", "decided", "in_progress")
NO_SUBJECT = ""  # an intervention not tied to one subject

#: Figures that rest on few, sensitive students (counts of students with special support): the
#: read path applies the small-group rule to them at every level above the school unit, for every
#: role (`access.disclosure`; wiring is the next phase, the responses already say `sensitive`).
SENSITIVE_FIGURES = frozenset({"support_by_kind", "evaluation_outcomes", "below_pass_without_support",
                               "open_investigations", "results_before_after"})


@dataclass
class SupportFact:
    intervention_id: Any
    revision: int
    retracted: bool
    organiser_id: str
    school_unit_code: str
    group_id: str
    student_id: str
    kind: str
    status: str
    subject_code: str
    start_date: str  # ISO date, '' when retracted before it was seen
    evaluation_date: str
    evaluation_outcome: str  # '' when none


@dataclass(frozen=True)
class NewestResult:
    """What the below-pass rule reads of a stored result (`below_pass_cells`, `below_pass_change`): its key, its
    order (`newest_first`), whether it is retracted or reaches the pass level, and its group — an `AssessmentFact`'s
    fields less the revision, gender, year, date and received time. The newest unchanged results are read as these
    (`linked.newest_unchanged_statement`: ~5,000 per batch of results; the five other columns' decoding, a date and a
    time among them, was ~40 % of the rows' decoding: bench/README.md apply37)."""

    assessment_id: Any
    retracted: bool
    organiser_id: str
    school_unit_code: str
    group_id: str
    student_id: str
    subject_code: str
    kind: str
    scale: str
    value: str
    school_year: str
    term: str
    round: int

    @property
    def reaches_pass(self) -> bool:
        return reaches_pass(self.scale, self.value)  # as `AssessmentFact.reaches_pass`


#: `NewestResult`'s fields: the columns of the facts' table read for it
NEWEST_FIELDS = tuple(f.name for f in fields(NewestResult))
#: a result as the below-pass rule takes it: a fact of the batch, or a stored one as read for the rule
Ranked = AssessmentFact | NewestResult


@dataclass
class PlanFact:
    plan_id: Any
    revision: int
    retracted: bool
    organiser_id: str
    school_unit_code: str
    group_id: str
    subject_code: str
    school_year: str
    term: str


def support_cells(fact: SupportFact | None, placement: Placement) -> Counter[Any]:
    """Cells one intervention counts in: per level, kind, subject, status and outcome."""
    if fact is None or fact.retracted:
        return Counter()
    rest = (fact.organiser_id, fact.kind, fact.subject_code, fact.status, fact.evaluation_outcome)
    return Counter({(level, unit, *rest): 1 for level, unit in units(fact, placement)})  # type: ignore[arg-type]


def student_cells(fact: SupportFact | None, placement: Placement) -> Counter[Any]:
    """The rows one intervention counts in the per-student multiset: per level, kind, subject,
    status, outcome, start date and student (distinct students are read from it per unit)."""
    if fact is None or fact.retracted:
        return Counter()
    rest = (fact.organiser_id, fact.kind, fact.subject_code, fact.status, fact.evaluation_outcome, fact.start_date,
            fact.student_id)
    return Counter({(level, unit, *rest): 1 for level, unit in units(fact, placement)})  # type: ignore[arg-type]


def newest_first(fact: Ranked) -> tuple[Any, ...]:
    """Order of one student's results in a subject: the newest school year, VT after HT, the
    latest round, a term grade over an assessment of the same round, then the id (a total order)."""
    return (fact.school_year, fact.term == "VT", fact.round, fact.kind == "term_grade", str(fact.assessment_id))


def is_active(fact: SupportFact) -> bool:
    return not fact.retracted and fact.status in ACTIVE_STATUSES


def below_pass_cells(results: Iterable[Ranked], supports: Iterable[SupportFact]) -> Counter[Any]:
    """Students below the pass level without any support: for every (organiser, student,
    subject) whose newest result does not reach the pass level and that has no active
    intervention in the subject nor one for all subjects, one row, at the group of that newest
    result (`below_pass_row`). Pure: the apply path (before and after a batch, for the students it
    touched) and the recomputation use the same rule."""
    newest: dict[tuple[str, str, str], Ranked] = {}
    _newest_per_key(results, newest)
    supported = {(f.organiser_id, f.student_id, f.subject_code) for f in supports if is_active(f)}
    out: Counter[Any] = Counter()
    for (organiser, student, subject), fact in newest.items():
        if fact.reaches_pass or (organiser, student, subject) in supported \
                or (organiser, student, NO_SUBJECT) in supported:
            continue
        out[below_pass_row(fact)] += 1
    return out


def below_pass_row(fact: Ranked) -> tuple[str, str, str, str, str]:
    """The stored row (level, unit, organiser, subject, student) of a student × subject whose newest result is
    `fact`: the group level only. The levels above are read from the group rows (a student × subject has one newest
    result, so one group row: its school unit, area and organiser hold it once each): they were four rows more per
    student × subject, 1.18 rows per event of ~7.1 written by the apply path (bench/README.md apply34)."""
    return ("group", group_key(fact.school_unit_code, fact.group_id), fact.organiser_id, fact.subject_code,
            fact.student_id)


_KEY_OF = attrgetter("organiser_id", "student_id", "subject_code")  # a result's (organiser, student, subject), in C
#: `newest_first` but the id: the id (a `str` of the UUID per comparison, the costliest part) only breaks a tie
_ORDER_OF = attrgetter("school_year", "term", "round", "kind")


def _newer(fact: Ranked, than: Ranked) -> bool:
    """`newest_first(fact) > newest_first(than)`, the ids compared only where the rest ties."""
    year, term, rnd, kind = _ORDER_OF(fact)
    other_year, other_term, other_rnd, other_kind = _ORDER_OF(than)
    mine = (year, term == "VT", rnd, kind == "term_grade")
    other = (other_year, other_term == "VT", other_rnd, other_kind == "term_grade")
    if mine != other:
        return mine > other
    return str(fact.assessment_id) > str(than.assessment_id)


def _newest_per_key(facts: Iterable[Ranked], into: dict[tuple[str, str, str], Ranked]) -> None:
    """`into` per (organiser, student, subject): the newest (`newest_first`) of what it held and `facts`' not
    retracted."""
    held = into.get
    for fact in facts:
        if fact.retracted:
            continue
        key = _KEY_OF(fact)
        current = held(key)
        if current is None or _newer(fact, current):
            into[key] = fact


_RETRACTED = attrgetter("retracted")


def _newest_of_unique(facts: Sequence[Ranked]) -> dict[tuple[str, str, str], Ranked]:
    """`_newest_per_key(facts, {})` where the facts hold each key at most once and none is retracted — the newest
    unchanged results as read (`linked.newest_unchanged_statement`: one row per key, not retracted) — keyed in C;
    otherwise the comparisons of `_newest_per_key`."""
    by_key = dict(zip(map(_KEY_OF, facts), facts, strict=True))
    if len(by_key) == len(facts) and not any(map(_RETRACTED, facts)):
        return by_key
    out: dict[tuple[str, str, str], Ranked] = {}
    _newest_per_key(facts, out)
    return out


#: whether a result reaches the pass level, per (scale, value) as stored (a handful of pairs): one dict look-up per
#: fact, not the property's two calls (`AssessmentFact.reaches_pass`, `scales.reaches_pass`)
_REACHES: dict[tuple[str, str], bool] = {}


def _reaches(fact: Ranked) -> bool:
    pair = (fact.scale, fact.value)
    reached = _REACHES.get(pair)
    if reached is None:
        reached = _REACHES[pair] = fact.reaches_pass  # raises on a value off its scale, as the property does
    return reached


def below_pass_change(unchanged: Sequence[Ranked], before: Iterable[Ranked],
                      after: Iterable[Ranked], supports: Iterable[SupportFact]) -> Counter[Any]:
    """`below_pass_cells(unchanged + after) − below_pass_cells(unchanged + before)` with the same `supports` (a
    batch of results: the interventions did not change), worked out per (organiser, student, subject) whose newest
    result differs between the two — the rest cancel out."""
    base = _newest_of_unique(unchanged)
    newest_before, newest_after = dict(base), dict(base)
    _newest_per_key(before, newest_before)
    _newest_per_key(after, newest_after)
    supported = {(f.organiser_id, f.student_id, f.subject_code) for f in supports if is_active(f)}
    out: dict[Any, int] = {}  # a plain dict: a Counter's `+=` on a new key costs a Python call (`__missing__`)
    was_of = newest_before.get
    for key, now in newest_after.items():  # a key of the before side only (its newest retracted) comes after
        was = was_of(key)
        if was is now:
            continue
        if supported and (key in supported or (key[0], key[1], NO_SUBJECT) in supported):
            continue
        if not _reaches(now):
            row = below_pass_row(now)
            out[row] = out.get(row, 0) + 1
        if was is not None and not _reaches(was):
            row = below_pass_row(was)
            out[row] = out.get(row, 0) - 1
    for key in newest_before.keys() - newest_after.keys():
        if supported and (key in supported or (key[0], key[1], NO_SUBJECT) in supported):
            continue
        was = newest_before[key]
        if not _reaches(was):
            row = below_pass_row(was)
            out[row] = out.get(row, 0) - 1
    return Counter(out)


#: Statuses whose start counts as "support started" (a proposal has not started).
STARTED_STATUSES = ("decided", "in_progress", "evaluated", "closed")


def support_starts(supports: Iterable[SupportFact]) -> dict[tuple[str, str, str], date]:
    """Per (organiser, student, subject): the day support in that subject started — the earliest
    start of its started interventions (all-subject interventions have no supported subject)."""
    out: dict[tuple[str, str, str], date] = {}
    for fact in supports:
        if fact.retracted or fact.status not in STARTED_STATUSES or fact.subject_code == NO_SUBJECT \
                or not fact.start_date:
            continue
        key = (fact.organiser_id, fact.student_id, fact.subject_code)
        start = date.fromisoformat(fact.start_date)
        out[key] = min(out.get(key, start), start)
    return out


def phase(assessed_on: date, started: date) -> str:
    """A result dated before the day support started is `before`; on or after it, `after`."""
    return "before" if assessed_on < started else "after"


def plan_cells(fact: PlanFact | None, placement: Placement) -> Counter[Any]:
    if fact is None or fact.retracted:
        return Counter()
    rest = (fact.organiser_id, fact.subject_code, fact.school_year, fact.term)
    return Counter({(level, unit, *rest): 1 for level, unit in units(fact, placement)})  # type: ignore[arg-type]


def support_fact(data: dict[str, Any]) -> SupportFact:
    return SupportFact(
        intervention_id=data["intervention_id"], revision=data["revision"], retracted=False,
        organiser_id=data["organiser_id"], school_unit_code=data["school_unit_code"], group_id=data["group_id"],
        student_id=data["student_id"], kind=data["kind"], status=data["status"],
        subject_code=data.get("subject_code") or NO_SUBJECT, start_date=_iso(data.get("start_date")),
        evaluation_date=_iso(data.get("evaluation_date")), evaluation_outcome=data.get("evaluation_outcome") or "")


def support_retraction(data: dict[str, Any]) -> SupportFact:
    """From the retraction alone (it may arrive before what it retracts; see results.rules)."""
    return SupportFact(
        intervention_id=data["intervention_id"], revision=data["revision"], retracted=True,
        organiser_id=data["organiser_id"], school_unit_code=data["school_unit_code"], group_id=data["group_id"],
        student_id=data["student_id"], kind=data["kind"], status="", subject_code=data.get("subject_code") or "",
        start_date="", evaluation_date="", evaluation_outcome="")


def plan_fact(data: dict[str, Any], *, retracted: bool = False) -> PlanFact:
    return PlanFact(plan_id=data["plan_id"], revision=data["revision"], retracted=retracted,
                    organiser_id=data["organiser_id"], school_unit_code=data["school_unit_code"],
                    group_id=data["group_id"], subject_code=data["subject_code"], school_year=data["school_year"],
                    term=data["term"])


def _iso(value: Any) -> str:
    return "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
