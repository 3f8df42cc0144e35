"""Facts and aggregates of the reporting service. Pure: no I/O.

A *fact* is the current state of one assessment or forecast as far as reporting knows it.
Events are folded into facts by revision: the event with the highest revision wins whatever
order events arrive in, and a retraction/withdrawal is a revision that removes the fact's
contribution. So applying the same events in any order, any number of times, gives the same
facts (but an assessment's `received_at`: the first time of its current run, as the log has it, `fold`) — and
the aggregates are kept as the sum of the facts' contributions, per level of the governance chain (styrkedjan): student → group → school unit → area (verksamhetsområde) →
organiser (huvudman) → nation (the student level is read from the facts and the nation level from
the organiser level's cells, see MATERIALISED).

A group is named by its school unit and its id together (`<school_unit_code>/<group_id>`):
two schools may both have a "7A". The area comes from the directory (the school unit's
placement); a result whose school unit is not placed in an area counts in every other level.
Every cell keeps the organiser as a dimension: one organiser's events touch only its own rows
(one writer per partition), and a nation read sums the organiser level's cells over organisers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any, TypeVar

from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.days import school_today

LEVELS = ("student", "group", "school_unit", "area", "organiser", "nation")
# The student level is the facts themselves (one fact = one student, subject and period): read
# straight from the fact tables, never copied into the aggregates, where it would be most of the
# rows and most of the writes while every cell holds exactly the fact it came from. The nation level
# is the organiser level's cells read as the nation's (`read_level`): with the organiser in every
# cell's key, its cells were a row-for-row copy of the organiser's (a fifth of every cell table's rows
# and writes; migration 0022, bench/results/apply18.json).
MATERIALISED = LEVELS[1:-1]
NATION = "SE"
GROUP_SEPARATOR = "/"  # not allowed in a group id, so `<school_unit_code>/<group_id>` is unambiguous
#: The level whose stored cells a level is read from: itself, or the organiser's for the nation.
STORED_LEVEL = {**{level: level for level in MATERIALISED}, "nation": "organiser"}


def read_level(level: str) -> str:
    """The stored level a read of `level` takes its cells from (the nation: the organiser's, unit = NATION)."""
    return STORED_LEVEL.get(level, level)

Placement = dict[str, str | None]
"""School unit code → the area it is placed in (None or absent: not placed)."""


@dataclass(frozen=True)
class AssessmentFact:
    assessment_id: Any
    revision: int
    retracted: bool
    organiser_id: str
    school_unit_code: str
    group_id: str
    student_id: str
    gender: str
    year: int
    subject_code: str
    kind: str
    scale: str
    value: str
    school_year: str
    term: str
    round: int
    # the day the result was set (freshness, forecast against outcome); None for a retraction
    # and for facts stored before the figures existed (a rebuild fills it in)
    assessed_on: date | None = None
    # when the current run was first reported (compliance's lateness in a round, `fold`): a publication's
    # `published_at` and the earliest of its run's, a retraction's own `retracted_at` — migration 0037 (it was
    # compliance's own table, a second row per assessment)
    received_at: datetime | None = None

    @property
    def reaches_pass(self) -> bool:
        return reaches_pass(self.scale, self.value)  # a stored text: the scale's look-up takes it as is


@dataclass(frozen=True)
class ForecastFact:
    forecast_id: Any
    revision: int
    withdrawn: bool
    organiser_id: str
    school_unit_code: str
    group_id: str
    student_id: str
    gender: str
    year: int
    subject_code: str
    value: str
    school_year: str
    term: str
    late: bool
    submitted_on: date | None = None  # the day the forecast was submitted; None for a withdrawal

    @property
    def reaches_pass(self) -> bool:
        return reaches_pass(Scale.THREE_LEVEL, self.value)


FactT = TypeVar("FactT")


_MISSING: Any = object()  # a value not given to a `fact_maker` constructor


def fact_maker(cls: type[FactT]) -> Callable[..., FactT]:
    """A constructor of the frozen fact dataclass `cls` taking its fields positionally (all of them; with
    fewer, `cls` itself: its defaults and errors): the fields set at once, not one `object.__setattr__` each
    as the frozen dataclass's `__init__` does (half its cost, at thousands of facts per batch). Equal to
    `cls(*values)` (`tests/unit/test_signatures.py`). Its code is made for `cls`'s fields (as `namedtuple`
    makes its `__new__`): a parameter per field and the instance's dict as one literal — no `*values` tuple,
    length check and `zip` per fact (~2 us of ~4 per fact, thousands of facts per batch)."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]  # a dataclass (not expressible as a bound)
    if not all(name.isidentifier() and not name.startswith("_") for name in names):
        raise ValueError(f"{cls.__name__}: a field name unfit for a parameter")
    given = ", ".join(names)
    source = (f"def make({', '.join(f'{n}=_MISSING' for n in names)}):\n"
              f"    if {names[-1]} is _MISSING:  # fewer values: the dataclass's defaults and errors\n"
              f"        return _cls(*[_v for _v in ({given},) if _v is not _MISSING])\n"
              f"    _fact = _new(_cls)\n"
              f"    _fact.__dict__.update({{{', '.join(f'{n!r}: {n}' for n in names)}}})\n"
              f"    return _fact\n")
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_cls": cls, "_new": object.__new__}
    exec(source, namespace)  # noqa: S102  # our own source, of the dataclass's field names (identifiers)
    make: Callable[..., FactT] = namespace["make"]
    return make


def group_key(school_unit_code: str, group_id: str) -> str:
    return f"{school_unit_code}{GROUP_SEPARATOR}{group_id}"


def units(fact: AssessmentFact | ForecastFact, placement: Placement) -> list[tuple[str, str]]:
    """(level, unit id) of every materialised level the fact counts in (the nation is read from the organiser's)."""
    out = [("group", group_key(fact.school_unit_code, fact.group_id)), ("school_unit", fact.school_unit_code)]
    area = placement.get(fact.school_unit_code)
    if area is not None:
        out.append(("area", area))
    out.append(("organiser", fact.organiser_id))
    return out


def assessment_cells(fact: AssessmentFact | None, placement: Placement) -> Counter[Any]:
    """Aggregate cells one fact counts in (nothing when retracted)."""
    if fact is None or fact.retracted:
        return Counter()
    rest = (fact.organiser_id, fact.subject_code, fact.school_year, fact.term, fact.round, fact.kind, fact.scale,
            fact.year, fact.gender, fact.value)
    return Counter({(level, unit, *rest): 1 for level, unit in units(fact, placement)})


def forecast_cells(fact: ForecastFact | None, placement: Placement) -> Counter[Any]:
    if fact is None or fact.withdrawn:
        return Counter()
    rest = (fact.organiser_id, fact.subject_code, fact.school_year, fact.term, fact.year, fact.gender, fact.value,
            fact.late)
    return Counter({(level, unit, *rest): 1 for level, unit in units(fact, placement)})


def assessment_signature(fact: AssessmentFact | None) -> tuple[Any, ...] | None:
    """What decides an assessment's cells (`assessment_cells`), placement aside: facts with one
    signature count in the same cells, so a batch's deltas are summed per signature first and each
    signature expanded once (`signature_cells`). None where the fact counts nowhere."""
    if fact is None or fact.retracted:
        return None
    return (fact.school_unit_code, fact.group_id, fact.organiser_id, fact.subject_code, fact.school_year, fact.term,
            fact.round, fact.kind, fact.scale, fact.year, fact.gender, fact.value)


def forecast_signature(fact: ForecastFact | None) -> tuple[Any, ...] | None:
    """As `assessment_signature`, for `forecast_cells`."""
    if fact is None or fact.withdrawn:
        return None
    return (fact.school_unit_code, fact.group_id, fact.organiser_id, fact.subject_code, fact.school_year, fact.term,
            fact.year, fact.gender, fact.value, fact.late)


def signature_cells(signature: tuple[Any, ...], placement: Placement) -> list[tuple[Any, ...]]:
    """The cells of a signature: its units × the rest of it (as `assessment_cells`/`forecast_cells`)."""
    school_unit_code, group_id, organiser_id = signature[0], signature[1], signature[2]
    rest = signature[2:]
    out = [("group", group_key(school_unit_code, group_id), *rest), ("school_unit", school_unit_code, *rest)]
    area = placement.get(school_unit_code)
    if area is not None:
        out.append(("area", area, *rest))
    out.append(("organiser", organiser_id, *rest))
    return out


def fold(current: Any, incoming: Any) -> Any:
    """The newer revision wins; an older one changes nothing; of two facts of one revision, the greater by `tie_order`
    (the same one again changes nothing). A total order on (revision, content), so the fact is the same whatever
    order the events came in. Two events of one record and revision with different content come only from a
    producer at fault, and across partitions: a producer keying one organiser's records under two spellings of its
    id (`2120001234` and `212000-1234`, which `topics.key_mismatch` lets through as the same organiser) puts them on
    two partitions, which the live consumer and the rebuild each interleave as they come. The first in arrival
    order won before: the live figures and a rebuild's (`rebuild.bulk._facts`, the same order in SQL) could differ.

    An assessment's `received_at` alone follows its run (`run_time`), as compliance's round reports did: it depends
    on which revisions came before (the log's order), not on the content alone."""
    if current is None:
        return incoming
    if incoming.revision > current.revision:
        return run_time(current, incoming, incoming)
    if incoming.revision < current.revision or incoming == current:
        return current
    return run_time(current, incoming, incoming if tie_order(incoming) > tie_order(current) else current)


def run_time(current: Any, incoming: Any, folded: Any) -> Any:
    """`folded` (what `fold` decided of `current` and `incoming`: the newer, or the tie's winner) with the time its run
    was first reported (`compliance.rules.fold_round_report`): a publication continuing a publication's run — a newer
    revision, or a twin of the same — keeps the run's earliest time (a correction after the deadline of an on-time
    assessment stays on time); a retraction ends the run and keeps its own time, as does a publication after one (a
    new run). Forecasts have no such time (their run is `compliance_forecast_runs`)."""
    if type(folded) is not AssessmentFact or folded.retracted or current.retracted or incoming.retracted:
        return folded
    times = [t for t in (current.received_at, incoming.received_at) if t is not None]
    earliest = min(times) if times else None
    if earliest == folded.received_at:
        return folded
    made = replace(folded, received_at=earliest)
    return current if made == current else made  # a twin of the state, later in time: the state as it is


def tie_order(fact: Any) -> tuple[tuple[int, Any], ...]:
    """What decides between two facts of one record and revision: their fields after the id and revision, in the
    fact's order, each compared as the rebuild's SQL does (`rebuild.bulk.tie_order_sql`: text by code point, as
    `COLLATE "C"` compares UTF-8; false before true; None below any value, `DESC NULLS LAST`). The removed flag comes
    first: a retraction or withdrawal wins a tie with a publication."""
    return tuple((0, 0) if value is None else (1, value) for value in _after_revision(fact))


def _after_revision(fact: Any) -> tuple[Any, ...]:
    return tuple(getattr(fact, f.name) for f in fields(fact)[2:])


def retraction_of(revision: int, data: dict[Any, Any]) -> AssessmentFact:
    """A retraction that may arrive before the assessment it retracts: remember it as a
    retracted fact, so the (older) publication, when it comes, is ignored. Built from the
    retraction alone, never from `current`: so the stored fact is the same whatever order the
    events came in (a retracted fact counts nowhere, its content is never needed); `fold` then
    keeps whichever of it and the stored fact has the higher revision."""
    return AssessmentFact(revision=revision, retracted=True, gender="unknown", year=0, kind="", scale="", value="",
                          **data)


def withdrawal_of(revision: int, data: dict[Any, Any]) -> ForecastFact:
    """As `retraction_of`: from the withdrawal alone."""
    return ForecastFact(revision=revision, withdrawn=True, gender="unknown", year=0, value="", late=False, **data)


def delta(cells, old, new, placement: Placement) -> Counter[Any]:
    """What changes in the aggregates when a fact goes from `old` to `new`."""
    change = cells(new, placement)
    change.subtract(cells(old, placement))
    return Counter({k: v for k, v in change.items() if v})


def submitted_day(moment: datetime) -> date:
    """The day of a forecast's `submitted_at` in Sweden (`styrkedja_kit.days.school_today`): its `submitted_on`,
    compared with results' `assessed_on`, a Swedish school's own calendar day. Round 25b made it the same whatever
    offset the event was written with, but took UTC's day: a forecast sent at 00:30 in Sweden (22:30 or 23:30 UTC the
    day before) was a day early, so a result assessed that same Swedish day counted as the forecast's later outcome;
    across the DST change the hour of difference moves (an hour in winter, two in summer)."""
    return school_today(moment)


def resolve(current: dict[Any, Any], incoming: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Fold a whole batch into the stored facts in memory: fact id → newest fact."""
    out = dict(current)
    for fact_id, fact in incoming:
        out[fact_id] = fold(out.get(fact_id), fact)
    return out


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
