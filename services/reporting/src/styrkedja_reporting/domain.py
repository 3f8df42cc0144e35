"""Facts and aggregates of the reporting service. Pure: no I/O.

A *fact* is the current state of one assessment or forecast as far as reporting knows it.
Events are folded into facts by revision: the event with the highest revision wins whatever
order events arrive in, and a retraction/withdrawal is a revision that removes the fact's
contribution. So applying the same events in any order, any number of times, gives the same
facts — and the aggregates are kept as the sum of the facts' contributions, per level of the
governance chain (styrkedjan): group → school unit → organiser (huvudman).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from styrkedja_contracts.scales import Scale, reaches_pass

LEVELS = ("group", "school_unit", "organiser")


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

    @property
    def reaches_pass(self) -> bool:
        return reaches_pass(Scale(self.scale), self.value)


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

    @property
    def reaches_pass(self) -> bool:
        return reaches_pass(Scale.THREE_LEVEL, self.value)


def unit_id(level: str, fact: AssessmentFact | ForecastFact) -> str:
    return {"group": fact.group_id, "school_unit": fact.school_unit_code, "organiser": fact.organiser_id}[level]


def assessment_cells(fact: AssessmentFact | None) -> Counter:
    """Aggregate cells one fact counts in (nothing when retracted)."""
    if fact is None or fact.retracted:
        return Counter()
    return Counter({(level, unit_id(level, fact), fact.organiser_id, fact.subject_code, fact.school_year, fact.term,
                     fact.round, fact.kind, fact.scale, fact.year, fact.gender, fact.value): 1 for level in LEVELS})


def forecast_cells(fact: ForecastFact | None) -> Counter:
    if fact is None or fact.withdrawn:
        return Counter()
    return Counter({(level, unit_id(level, fact), fact.organiser_id, fact.subject_code, fact.school_year, fact.term,
                     fact.year, fact.gender, fact.value, fact.late): 1 for level in LEVELS})


def fold(current, incoming):
    """The newer revision wins; an equal or older one changes nothing."""
    if current is not None and current.revision >= incoming.revision:
        return current
    return incoming


def retraction_of(revision: int, data: dict) -> AssessmentFact:
    """A retraction that may arrive before the assessment it retracts: remember it as a
    retracted fact, so the (older) publication, when it comes, is ignored. Built from the
    retraction alone, never from `current`: so the stored fact is the same whatever order the
    events came in (a retracted fact counts nowhere, its content is never needed); `fold` then
    keeps whichever of it and the stored fact has the higher revision."""
    return AssessmentFact(revision=revision, retracted=True, gender="unknown", year=0, kind="", scale="", value="",
                          **data)


def withdrawal_of(revision: int, data: dict) -> ForecastFact:
    """As `retraction_of`: from the withdrawal alone."""
    return ForecastFact(revision=revision, withdrawn=True, gender="unknown", year=0, value="", late=False, **data)


def delta(cells, old, new) -> Counter:
    """What changes in the aggregates when a fact goes from `old` to `new`."""
    change = cells(new)
    change.subtract(cells(old))
    return Counter({k: v for k, v in change.items() if v})


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
