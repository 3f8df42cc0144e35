from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from styrkedja_contracts import (
    ALL_EVENT_MODELS,
    EVENT_MODELS,
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    LikaRating,
    LikaSelfAssessmentPublishedV1,
    OrganisationUnitUpsertedV1,
    SupportInterventionChangedV1,
    forecast_id_for,
)

NOW = datetime(2026, 10, 2, 12, 0, tzinfo=UTC)


def test_every_model_is_registered_frozen_and_strict() -> None:
    assert set(EVENT_MODELS.values()) == set(ALL_EVENT_MODELS)
    for model in ALL_EVENT_MODELS:
        assert EVENT_MODELS[model.event_type] is model
        assert model.model_config["frozen"] is True
        assert model.model_config["extra"] == "forbid"
        assert "organiser_id" in model.model_fields
        assert model.event_type.endswith(".v1")


def test_assessment_valid_and_frozen(assessment_kwargs: dict[str, Any]) -> None:
    a = AssessmentPublishedV1(**assessment_kwargs)
    assert a.unmet_criteria == ()
    with pytest.raises(ValidationError):
        a.value = "A"  # type: ignore[misc]
    assert hash(a)


def test_assessment_value_must_be_on_scale(assessment_kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="value: not a value of scale AF .* \\(value_on_scale\\)"):
        AssessmentPublishedV1(**{**assessment_kwargs, "value": "ACCEPTABLE"})
    ok = AssessmentPublishedV1(**{**assessment_kwargs, "scale": "THREE_LEVEL", "value": "ACCEPTABLE"})
    assert ok.value == "ACCEPTABLE"


def test_below_pass_requires_unmet_criteria(assessment_kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="unmet_criteria: value .F. is below the pass level: name at least one"):
        AssessmentPublishedV1(**{**assessment_kwargs, "value": "F"})
    with pytest.raises(ValidationError, match="unmet_criteria"):
        AssessmentPublishedV1(**{**assessment_kwargs, "scale": "THREE_LEVEL", "value": "NOT_REACHED"})
    a = AssessmentPublishedV1(**{**assessment_kwargs, "value": "F", "unmet_criteria": ["Taluppfattning"]})
    assert a.unmet_criteria == ("Taluppfattning",)


def test_term_grade_is_af(assessment_kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="scale: a term grade must be on the AF scale .term_grade_on_af_scale."):
        AssessmentPublishedV1(
            **{**assessment_kwargs, "kind": "term_grade", "scale": "THREE_LEVEL", "value": "ACCEPTABLE"}
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("revision", 0),
        ("year", 10),
        ("year", -1),
        ("round", 5),
        ("round", 0),
        ("school_unit_code", "1234567"),
        ("gender", "other"),
        ("term", "ST"),
        ("kind", "exam"),
        ("published_at", datetime(2026, 10, 2, 12, 0)),  # naive
        ("extra_field", "x"),
        ("student_id", "811218-9876"),
    ],
)
def test_assessment_field_rules(assessment_kwargs: dict[str, Any], field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        AssessmentPublishedV1(**{**assessment_kwargs, field: value})
    assert any(err["loc"][:1] == (field,) for err in exc.value.errors())


def test_personnummer_in_free_text_rejected(assessment_kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="personal identity number"):
        AssessmentPublishedV1(**{**assessment_kwargs, "value": "F", "unmet_criteria": ["se 811218-9876"]})


def test_retraction_revision_above_one() -> None:
    kwargs = dict(
        assessment_id=uuid.uuid4(),
        revision=1,
        organiser_id="2999",
        school_unit_code="29990011",
        group_id="g",
        student_id="s",
        subject_code="GRGRSVE01",
        school_year="2026/27",
        term="VT",
        round=3,
        retracted_at=NOW,
    )
    with pytest.raises(ValidationError):
        AssessmentRetractedV1(**kwargs)
    assert AssessmentRetractedV1(**{**kwargs, "revision": 2}).reason is None
    with pytest.raises(ValidationError):
        AssessmentRetractedV1(**{**kwargs, "revision": 2, "reason": "x" * 501})


def test_forecast_value_and_stable_id() -> None:
    fid = forecast_id_for("2999", "stu-1", "GRGRENG01", "2026/27", "VT")
    assert fid == forecast_id_for("2999", "stu-1", "GRGRENG01", "2026/27", "VT")
    assert fid != forecast_id_for("2999", "stu-1", "GRGRENG01", "2026/27", "HT")
    kwargs = dict(
        forecast_id=fid,
        revision=1,
        organiser_id="2999",
        school_unit_code="29990023",
        group_id="g",
        student_id="stu-1",
        teacher_id="t",
        gender="unknown",
        year=9,
        subject_code="GRGRENG01",
        school_year="2026/27",
        term="VT",
        value="MORE_THAN_ACCEPTABLE",
        submitted_at=NOW,
        window_deadline=date(2027, 4, 4),
        late=True,
    )
    assert ForecastSubmittedV1(**kwargs).late is True
    with pytest.raises(ValidationError):
        ForecastSubmittedV1(**{**kwargs, "value": "C"})


def test_lika_ratings() -> None:
    rating = LikaRating(indicator_id="L1", area="ledning", rating="PLANNED", comment="ok")
    kwargs = dict(
        self_assessment_id=uuid.uuid4(),
        organiser_id="2999",
        school_unit_code="29990011",
        school_form="grundskola",
        respondent_role="teacher_team",
        catalogue_version="2025.1",
        ratings=[rating],
        published_at=NOW,
    )
    assert LikaSelfAssessmentPublishedV1(**kwargs).ratings == (rating,)
    with pytest.raises(ValidationError, match="rated more than once"):
        LikaSelfAssessmentPublishedV1(**{**kwargs, "ratings": [rating, rating]})
    with pytest.raises(ValidationError):
        LikaRating(indicator_id="L1", area="ledning", rating="DONE")
    with pytest.raises(ValidationError):
        LikaRating(indicator_id="L1", area="ledning", rating="PLANNED", comment="x" * 2001)
    with pytest.raises(ValidationError, match="personal identity number") as exc:
        LikaSelfAssessmentPublishedV1(
            **{**kwargs, "ratings": [{"indicator_id": "L1", "area": "ledning", "rating": "PLANNED",
                                      "comment": "Kontakta 19811218-9876"}]}
        )
    assert exc.value.errors()[0]["loc"] == ("ratings", 0, "comment")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"unit_type": "organiser", "parent_id": "x", "school_unit_code": None, "year": None,
             "roster_size": None},
            "parent_id: must be empty",
        ),
        ({"parent_id": None}, "parent_id: is required"),
        ({"school_unit_code": None}, "school_unit_code: is required"),
        ({"unit_type": "area", "year": None, "roster_size": None}, "school_unit_code: is not allowed"),
        ({"unit_type": "school_unit"}, "year: is only allowed"),
        ({"unit_type": "area", "school_unit_code": None, "year": None}, "roster_size: is only allowed"),
        ({"roster_size": -1}, "greater than or equal to 0"),
    ],
)
def test_organisation_unit_rules(changes: dict[str, Any], message: str) -> None:
    group = dict(
        unit_type="group",
        unit_id="grp-7b",
        organiser_id="2999",
        parent_id="su-1",
        name="Björkskolan 7B",
        school_unit_code="29990011",
        year=7,
        roster_size=27,
        updated_at=NOW,
    )
    assert OrganisationUnitUpsertedV1(**group).roster_size == 27
    with pytest.raises(ValidationError, match=message):
        OrganisationUnitUpsertedV1(**{**group, **changes})


def test_organisation_organiser_and_area() -> None:
    org = OrganisationUnitUpsertedV1(
        unit_type="organiser", unit_id="2999", organiser_id="2999", name="Mittköpings kommun", updated_at=NOW
    )
    assert org.parent_id is None
    area = OrganisationUnitUpsertedV1(
        unit_type="area",
        unit_id="area-norr",
        organiser_id="2999",
        parent_id="2999",
        name="Norr",
        updated_at=NOW,
    )
    assert area.school_unit_code is None


def test_support_counts_only() -> None:
    fields = set(SupportInterventionChangedV1.model_fields)
    assert not {"student_id", "teacher_id", "gender"} & fields
    kwargs = dict(
        organiser_id="2999",
        school_unit_code="29990011",
        kind="action_programme",
        school_year="2026/27",
        term="HT",
        active_count=0,
        as_of_revision=1,
        changed_at=NOW,
    )
    assert SupportInterventionChangedV1(**kwargs).group_id is None
    for bad in ({"active_count": -1}, {"as_of_revision": 0}, {"kind": "therapy"}, {"student_id": "s"}):
        with pytest.raises(ValidationError):
            SupportInterventionChangedV1(**{**kwargs, **bad})
