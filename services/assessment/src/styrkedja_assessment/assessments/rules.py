"""Rules of a published assessment (bedömning). Pure: no I/O.

- the value is on a known scale (A–F, or the three-level scale), in a subject of the anpassad grundskola on its
  variant (A–E: it gives no F; the subject list's school form);
- a value below the pass level names the unmet knowledge criteria (kunskapskrav/kriterier);
- a term grade (terminsbetyg) is on the A–F scale, and of year 6 or later (grades are given from year 6);
- it was assessed in its school year (1 July – 30 June; the contracts' `within_school_year`, the event's own rule);
- revisions are numbered, increase, and only the newest counts; a retraction is a revision too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from styrkedja_contracts.events.assessment import assessed_outside_school_year
from styrkedja_contracts.identifiers import SCHOOL_YEAR_RULE, within_school_year
from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_contracts.subjects import subject_list
from styrkedja_kit.revisions import Decision, Stored, decide_change, decide_removal
from styrkedja_kit.rules import RuleViolation, check_on_scale

#: The school form whose subjects are graded on the scale's special-school variant (`scale_values(special_school=True)`).
SPECIAL_SCHOOL_FORM = "anpassad_grundskola"


def special_school(subject_code: str) -> bool:
    """Whether results in this subject are on the anpassad grundskola's scale (A–E): its school form on the list."""
    subject = subject_list().subjects.get(subject_code)
    return subject is not None and subject.school_form == SPECIAL_SCHOOL_FORM


def check_result(kind: str, scale: Scale, value: str, unmet_criteria: tuple[str, ...], *,
                 special_school: bool = False) -> None:
    """`special_school`: the subject is the anpassad grundskola's (`special_school(subject_code)`), whose AF scale has
    no F — an F there was stored and counted below pass, a grade the school form does not give."""
    check_on_scale(scale, value, special_school=special_school)
    if kind == "term_grade" and scale is not Scale.AF:
        raise RuleViolation("scale", "term_grade_on_af_scale", "a term grade must be on the AF scale")
    if not reaches_pass(scale, value) and not unmet_criteria:
        raise RuleViolation("unmet_criteria", "criteria_required_below_pass",
                            f"value {value!r} is below the pass level: name at least one unmet criterion")


#: The first year (årskurs) with grades (skollagen 10 kap. 13 §: betyg from year 6; in the anpassad grundskola only on
#: request, from year 6 too).
FIRST_GRADED_YEAR = 6


def check_graded_year(kind: str, year: int) -> None:
    """A term grade is of a year with grades: a term grade of year 3 was stored and counted among the unit's grades."""
    if kind == "term_grade" and year < FIRST_GRADED_YEAR:
        raise RuleViolation("year", "term_grade_from_year_6",
                            f"grades are given from year {FIRST_GRADED_YEAR}: a term grade of year {year} is none "
                            "(an assessment or written report of the year is)")


def check_assessed_on(assessed_on: date, school_year: str) -> None:
    if not within_school_year(assessed_on, school_year):
        raise RuleViolation("assessed_on", SCHOOL_YEAR_RULE, assessed_outside_school_year(school_year))


#: What is stored for an assessment now (`removed` = retracted).
Current = Stored


def decide_publish(current: Current | None, requested_revision: int | None, content: dict[str, Any]) -> tuple[Decision, int]:
    return decide_change(current, requested_revision, content)


def decide_retract(current: Current | None, requested_revision: int | None) -> tuple[Decision, int]:
    return decide_removal(current, requested_revision, id_field="assessment_id", noun="assessment")
