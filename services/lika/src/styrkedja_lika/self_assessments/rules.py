"""Rules of self-assessments (pure): what a save may hold, when a publish is allowed, the life cycle.

The checks against the catalogue are the domain's (`domain.ratings.validate_self_assessment`); this
module adds the text rules and speaks in the service's field paths (`ratings.0.rating`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from styrkedja_contracts.calendar import DEFAULT_CALENDAR

from ..domain import (
    AssessmentStatus,
    Catalogue,
    SchoolTerm,
    SelfAssessment,
    SelfAssessmentInvalid,
    validate_self_assessment,
)
from ..problems import FieldProblem
from ..text_rules import text_problems

#: the schools' time: a day of an assessment is a Swedish day
SCHOOL_TIME = ZoneInfo(DEFAULT_CALENDAR.timezone)

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def _field(domain_field: str) -> str:
    """`ratings[0].rating` → `ratings.0.rating`, as pydantic names fields in every other answer."""
    return _BRACKETS.sub(r".\1", domain_field)


def _domain_problems(error: SelfAssessmentInvalid) -> list[FieldProblem]:
    return [FieldProblem(_field(p.field), p.rule.value, p.message) for p in error.problems]


def header(row: Mapping[str, Any]) -> dict[str, Any]:
    """The domain header of a stored self-assessment row."""
    # a row from before the day was kept: the day it was published (else made) at the school, in Swedish time — not
    # the UTC date (published 00:30 on 1 July in Sweden is 30 June in UTC: another school year)
    assessed_on = row.get("assessed_on") or (row.get("published_at") or row["created_at"]).astimezone(SCHOOL_TIME).date()
    return {"assessment_id": str(row["self_assessment_id"]), "organiser_id": row["organiser_id"],
            "school_unit_code": row["school_unit_code"], "school_form": row["school_form"],
            "catalogue_version": row["catalogue_version"], "respondent_role": row["respondent_role"],
            "assessed_on": assessed_on}


def save_problems(catalogue: Catalogue, row: Mapping[str, Any],
                  entries: Iterable[Mapping[str, Any]]) -> list[FieldProblem]:
    """Every problem of a (partial) save: indicator not in this version and school form, rating not
    on the scale, an indicator twice, a comment too long or carrying a personnummer or control
    characters."""
    items = [dict(e) for e in entries]
    problems: list[FieldProblem] = []
    try:
        validate_self_assessment(catalogue, {**header(row), "ratings": items}, require_complete=False)
    except SelfAssessmentInvalid as error:
        problems += _domain_problems(error)
    for n, item in enumerate(items):
        problems += [p for p in text_problems(f"ratings.{n}.comment", item.get("comment"), multiline=True)
                     if p.rule != "no_personal_identity_number"]  # the domain reported that one already
    return problems


def lifecycle_problem(status: AssessmentStatus, action: str) -> FieldProblem | None:
    """A final (published or private) self-assessment never changes: a new round is a new one."""
    if status is AssessmentStatus.DRAFT:
        return None
    return FieldProblem("self_assessment_id", "final",
                        f"the self-assessment is {status.value.lower()} and can no longer be {action}; "
                        "start a new self-assessment for a new round")


def finalise(catalogue: Catalogue, row: Mapping[str, Any],
             ratings: Mapping[str, tuple[str, str | None]]) -> SelfAssessment | list[FieldProblem]:
    """The complete, valid self-assessment — or every problem: each missing or invalid indicator."""
    items = [{"indicator_id": k, "rating": r, "comment": c} for k, (r, c) in ratings.items()]
    try:
        return validate_self_assessment(catalogue, {**header(row), "ratings": items}, require_complete=True)
    except SelfAssessmentInvalid as error:
        return _domain_problems(error)


def term_of(day: date | datetime) -> SchoolTerm:
    """The term a day falls in: HT from July, VT until June (the action plan's start term)."""
    if day.month >= 7:
        return SchoolTerm.parse(f"HT {day.year}/{(day.year + 1) % 100:02d}")
    return SchoolTerm.parse(f"VT {day.year - 1}/{day.year % 100:02d}")


def same_import(stored: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether a self-assessment published elsewhere, sent again, is the one stored: the same header and the same
    rating (and comment) of each indicator, in whatever order the ratings are listed — one per indicator, their order
    says nothing (a tool building them from a map lists them in another order each time; that was a 409
    `published_is_final`)."""
    def by_indicator(content: Mapping[str, Any]) -> dict[str, Any]:
        return {**content, "ratings": {r["indicator_id"]: r for r in content["ratings"]}}

    return by_indicator(stored) == by_indicator(sent)
