"""Rules of a published assessment (bedömning). Pure: no I/O.

- the value is on a known scale (A–F, or the three-level scale), in a subject of the anpassad grundskola on its
  variant (A–E: it gives no F; the subject list's school form);
- a value below the pass level names the unmet knowledge criteria (kunskapskrav/kriterier);
- a term grade (terminsbetyg) is on the A–F scale, and of year 6 or later (grades are given from year 6);
- it was assessed in its school year (1 July – 30 June; the contracts' `within_school_year`, the event's own rule);
- each of these is written once, in the contracts (`events.assessment.assessment_broken`), and the event holds them
  all (round 29r: an event of another producer breaking one was counted by reporting);
- revisions are numbered, increase, and only the newest counts; a retraction is a revision too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from styrkedja_contracts.events.assessment import (
    FIRST_GRADED_YEAR,
    SPECIAL_SCHOOL_FORM,
    assessed_outside_school_year,
    graded_year_broken,
    result_broken,
    special_school,
)
from styrkedja_contracts.events.rules import Broken
from styrkedja_contracts.identifiers import SCHOOL_YEAR_RULE, within_school_year
from styrkedja_contracts.scales import Scale
from styrkedja_kit.revisions import Decision, Stored, decide_change, decide_removal
from styrkedja_kit.rules import RuleViolation

__all__ = ["Current", "Decision", "FIRST_GRADED_YEAR", "SPECIAL_SCHOOL_FORM",
           "check_assessed_on", "check_graded_year", "check_result",
           "decide_publish", "decide_retract", "special_school"]


def _raise_first(broken: list[Broken]) -> None:
    # the door answers an item's first broken rule (the event refuses the same first one: `refuse`)
    if broken:
        raise RuleViolation(broken[0].field, broken[0].rule, broken[0].words)


def check_result(kind: str, scale: Scale, value: str, unmet_criteria: tuple[str, ...], *,
                 special_school: bool = False) -> None:
    """The contracts' `result_broken`, which the event holds too. `special_school`: the subject is the anpassad
    grundskola's (`special_school(subject_code)`), whose AF scale has no F — an F there was stored and counted below
    pass, a grade the school form does not give."""
    _raise_first(result_broken(kind, scale, value, bool(unmet_criteria), special_school=special_school))


def check_graded_year(kind: str, year: int) -> None:
    """A term grade is of a year with grades (the contracts' `graded_year_broken`, the event's rule too)."""
    _raise_first(graded_year_broken(kind, year))


def check_assessed_on(assessed_on: date, school_year: str) -> None:
    if not within_school_year(assessed_on, school_year):
        raise RuleViolation("assessed_on", SCHOOL_YEAR_RULE, assessed_outside_school_year(school_year))


#: What is stored for an assessment now (`removed` = retracted).
Current = Stored


def decide_publish(current: Current | None, requested_revision: int | None, content: dict[str, Any]) -> tuple[Decision, int]:
    return decide_change(current, requested_revision, content)


def decide_retract(current: Current | None, requested_revision: int | None) -> tuple[Decision, int]:
    return decide_removal(current, requested_revision, id_field="assessment_id", noun="assessment")
