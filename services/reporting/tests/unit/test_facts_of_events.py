"""The results handler builds its facts straight from the decoded events' attributes (no
`model_dump` per event): the same facts, field for field and type for type, as the stored shape
of the event's data (`registry.plain_data`: enums as their plain values)."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    forecast_id_for,
    new_event,
)
from styrkedja_reporting.registry import plain_data
from styrkedja_reporting.results.handlers import _TO_FACT
from styrkedja_reporting.results.rules import AssessmentFact, ForecastFact, retraction_of, withdrawal_of

AT = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)  # a moment whose day differs in Stockholm: Sweden's day counts (28t)
SWEDEN = ZoneInfo("Europe/Stockholm")
PLACE = dict(organiser_id="2999", school_unit_code="29990001", group_id="9A", student_id="s-1",
             subject_code="GRGRMAT01", school_year="2026/27")


def _published() -> AssessmentPublishedV1:
    return AssessmentPublishedV1(assessment_id=uuid.uuid4(), revision=3, teacher_id="t-1", gender="female", year=9,
                                 kind="term_grade", scale="AF", value="E", term="VT", round=2,
                                 assessed_on=date(2027, 2, 1), published_at=AT, **PLACE)


def _submitted() -> ForecastSubmittedV1:
    forecast_id = forecast_id_for("2999", "s-1", "GRGRMAT01", "2026/27", "VT")  # PLACE's (`derived_from_key`)
    return ForecastSubmittedV1(forecast_id=forecast_id, revision=2, teacher_id="t-1", gender="male", year=9,
                               term="VT", value="NOT_REACHED", submitted_at=AT, window_deadline=date(2027, 4, 2),
                               late=True, **PLACE)


def _expected(data, kind: str):
    plain = plain_data(new_event(data, source="/t"))
    if kind == "assessment":
        names = {f.name for f in fields(AssessmentFact)}
        # the time its run was first reported (rounds33): a publication's own, until a later revision folds it
        return AssessmentFact(retracted=False, received_at=plain["published_at"],
                              **{k: v for k, v in plain.items() if k in names})
    if kind == "forecast":
        names = {f.name for f in fields(ForecastFact)} - {"submitted_on"}
        return ForecastFact(withdrawn=False, submitted_on=plain["submitted_at"].astimezone(SWEDEN).date(),
                            **{k: v for k, v in plain.items() if k in names})
    keep = ("school_unit_code", "group_id", "student_id", "subject_code", "school_year", "term", "organiser_id")
    if kind == "retraction":
        return retraction_of(plain["revision"], {"assessment_id": plain["assessment_id"], "round": plain["round"],
                                                 "received_at": plain["retracted_at"], **{k: plain[k] for k in keep}})
    return withdrawal_of(plain["revision"], {"forecast_id": plain["forecast_id"], **{k: plain[k] for k in keep}})


def _cases():
    published, submitted = _published(), _submitted()
    retracted = AssessmentRetractedV1(assessment_id=published.assessment_id, revision=4, term="VT", round=2,
                                      retracted_at=AT, **PLACE)
    withdrawn = ForecastWithdrawnV1(forecast_id=submitted.forecast_id, revision=3, term="VT", withdrawn_at=AT, **PLACE)
    return [(published, "assessment"), (submitted, "forecast"), (retracted, "retraction"), (withdrawn, "withdrawal")]


@pytest.mark.parametrize(("data", "kind"), _cases(), ids=lambda c: c if isinstance(c, str) else "")
def test_the_fact_of_an_event_is_its_stored_data(data, kind):
    fact = _TO_FACT[type(data).event_type](data)
    expected = _expected(data, kind)
    assert fact == expected
    for name in (f.name for f in fields(fact)):  # plain values (what the tables and the cell keys hold)
        assert type(getattr(fact, name)) is type(getattr(expected, name)), name
