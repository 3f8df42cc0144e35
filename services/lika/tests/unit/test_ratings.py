"""Validation of self-assessments against a catalogue version."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from styrkedja_lika.domain import (
    MAX_COMMENT_LENGTH,
    AssessmentStatus,
    Catalogue,
    Rating,
    RatingEntry,
    Rule,
    SchoolForm,
    SelfAssessment,
    SelfAssessmentInvalid,
    validate_self_assessment,
)

PIN = "19121212-1212"  # Skatteverkets testpersonnummer, giltig kontrollsiffra
PIN_SHORT = "121212-1212"
SAMORDNINGSNUMMER = "701063-2391"


def _body(catalogue: Catalogue, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "assessment_id": "v-1",
        "organiser_id": "2999",
        "school_unit_code": "12345678",
        "school_form": "grundskola",
        "catalogue_version": catalogue.version,
        "respondent_role": "rektor",
        "status": "PUBLISHED",
        "assessed_on": "2026-03-01",
        "published_at": "2026-03-02T10:00:00+00:00",
        "ratings": [
            {"indicator_id": i, "rating": "STARTED", "comment": None}
            for i in catalogue.indicator_ids(SchoolForm.COMPULSORY_SCHOOL)
        ],
    }
    body.update(overrides)
    return body


def _problems(catalogue: Catalogue, body: Any, **kw: Any) -> list[tuple[str | None, str, str]]:
    with pytest.raises(SelfAssessmentInvalid) as exc:
        validate_self_assessment(catalogue, body, **kw)
    return [(p.indicator_id, p.rule.value, p.field) for p in exc.value.problems]


def test_complete_assessment_is_valid_and_returned_as_model(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"][0]["rating"] = "NOT_RELEVANT"
    body["ratings"][1]["comment"] = "Nätverket byts under höstlovet."
    result = validate_self_assessment(cat1, body)
    assert isinstance(result, SelfAssessment)
    assert result.rating_of("GR-LED-01") is Rating.NOT_RELEVANT
    assert result.ratings["GR-LED-02"].comment == "Nätverket byts under höstlovet."
    assert len(result.ratings) == 28
    # a model round-trips through the same validation
    assert validate_self_assessment(cat1, result) == result


def test_missing_rating_names_the_indicator(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"] = [r for r in body["ratings"] if r["indicator_id"] not in {"GR-INF-02", "GR-ANV-07"}]
    problems = _problems(cat1, body)
    assert problems == [
        ("GR-INF-02", "rating_missing", "ratings[GR-INF-02]"),
        ("GR-ANV-07", "rating_missing", "ratings[GR-ANV-07]"),
    ]


def test_draft_may_be_incomplete_but_publishing_requires_all(cat1: Catalogue) -> None:
    body = _body(cat1, status="DRAFT", published_at=None)
    body["ratings"] = body["ratings"][:3]
    draft = validate_self_assessment(cat1, body)
    assert draft.status is AssessmentStatus.DRAFT and len(draft.ratings) == 3
    assert len(_problems(cat1, body, require_complete=True)) == 25
    private = dict(body, status="PRIVATE")
    assert {rule for _, rule, _ in _problems(cat1, private)} == {"rating_missing"}


def test_value_not_on_scale(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"][4]["rating"] = "DONE"
    body["ratings"][5]["rating"] = 3
    body["ratings"][6].pop("rating")
    problems = _problems(cat1, body)
    ids = [i for i, _, _ in problems]
    assert ids == ["GR-LED-05", "GR-LED-06", "GR-LED-07"]
    assert {rule for _, rule, _ in problems} == {"not_on_scale"}
    assert problems[0][2] == "ratings[4].rating"


@pytest.mark.parametrize("number", [PIN, PIN_SHORT, "191212121212", SAMORDNINGSNUMMER])
def test_comment_with_personal_identity_number_is_rejected(cat1: Catalogue, number: str) -> None:
    body = _body(cat1)
    body["ratings"][2]["comment"] = f"Eleven {number} behöver talsyntes."
    problems = _problems(cat1, body)
    assert problems == [("GR-LED-03", "no_personal_identity_number", "ratings[2].comment")]


def test_comment_with_other_numbers_is_allowed(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"][2]["comment"] = "Skolenhet 12345678, organisationsnummer 212000-1234, 30 datorer."
    validate_self_assessment(cat1, body)


def test_assessment_comment_and_long_comments_are_checked(cat1: Catalogue) -> None:
    body = _body(cat1, comment=f"Kontakt: {PIN}")
    body["ratings"][0]["comment"] = "x" * (MAX_COMMENT_LENGTH + 1)
    problems = _problems(cat1, body)
    assert (None, "no_personal_identity_number", "comment") in problems
    assert ("GR-LED-01", "comment_too_long", "ratings[0].comment") in problems


def test_unknown_indicator_and_indicator_of_another_school_form(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"].append({"indicator_id": "GR-LED-99", "rating": "PLANNED"})
    body["ratings"].append({"indicator_id": "FO-LED-01", "rating": "PLANNED"})
    problems = _problems(cat1, body)
    assert ("GR-LED-99", "unknown_indicator", "ratings[28].indicator_id") in problems
    assert ("FO-LED-01", "unknown_indicator", "ratings[29].indicator_id") in problems


def test_retired_indicator_is_unknown_in_the_new_version(cat2: Catalogue) -> None:
    body = _body(cat2)
    body["ratings"].append({"indicator_id": "GR-ANV-06", "rating": "STARTED"})
    assert _problems(cat2, body) == [("GR-ANV-06", "unknown_indicator", "ratings[28].indicator_id")]


def test_duplicate_rating(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"].append({"indicator_id": "GR-KOM-01", "rating": "ACHIEVED"})
    assert _problems(cat1, body) == [("GR-KOM-01", "unique_indicator", "ratings[28].indicator_id")]


def test_catalogue_version_mismatch(cat1: Catalogue, cat2: Catalogue) -> None:
    body = _body(cat1)
    problems = _problems(cat2, body)
    assert (None, "catalogue_version_mismatch", "catalogue_version") in problems
    # GR-ANV-06 is not in 2026.2 and GR-ANV-08 is missing
    assert ("GR-ANV-06", "unknown_indicator", "ratings[26].indicator_id") in problems
    assert ("GR-ANV-08", "rating_missing", "ratings[GR-ANV-08]") in problems


def test_header_problems_are_all_reported(cat1: Catalogue) -> None:
    body = _body(cat1, school_unit_code="123", respondent_role="JANITOR", organiser_id=PIN)
    del body["assessed_on"]
    body["extra"] = 1
    problems = _problems(cat1, body)
    fields = {(f, rule) for _, rule, f in problems}
    assert ("school_unit_code", "invalid_field") in fields
    assert ("respondent_role", "invalid_field") in fields
    assert ("organiser_id", "invalid_field") in fields
    assert ("assessed_on", "missing_field") in fields
    assert ("extra", "invalid_field") in fields


def test_published_needs_published_at(cat1: Catalogue) -> None:
    problems = _problems(cat1, _body(cat1, published_at=None))
    assert problems == [(None, "published_at_required", "published_at")]


def test_mapping_form_of_ratings(cat1: Catalogue) -> None:
    ratings: dict[str, Any] = dict.fromkeys(cat1.indicator_ids("grundskola"), "PLANNED")
    ratings["GR-LED-01"] = {"rating": "ACHIEVED", "comment": "Klart."}
    ratings["GR-LED-02"] = "SOMETIMES"
    problems = _problems(cat1, _body(cat1, ratings=ratings))
    assert problems == [("GR-LED-02", "not_on_scale", "ratings[GR-LED-02].rating")]
    ratings["GR-LED-02"] = "STARTED"
    result = validate_self_assessment(cat1, _body(cat1, ratings=ratings))
    assert result.ratings["GR-LED-01"] == RatingEntry(indicator_id="GR-LED-01", rating=Rating.ACHIEVED, comment="Klart.")


def test_problem_message_is_readable(cat1: Catalogue) -> None:
    body = _body(cat1)
    body["ratings"][0]["rating"] = "MAYBE"
    with pytest.raises(SelfAssessmentInvalid) as exc:
        validate_self_assessment(cat1, body)
    problem = exc.value.problems[0]
    assert problem.rule is Rule.NOT_ON_SCALE
    assert "'MAYBE' is not on the scale" in problem.message
    assert "GR-LED-01: not_on_scale" in str(exc.value)


def test_model_itself_refuses_personal_identity_numbers() -> None:
    with pytest.raises(ValidationError):
        RatingEntry(indicator_id="GR-LED-01", rating=Rating.STARTED, comment=f"se {PIN}")


def test_rating_scale_order_and_levels() -> None:
    assert [r.level for r in Rating] == [0, 1, 2, 3, 4, None]
    assert Rating.from_level(3) is Rating.ALMOST_THERE
    assert not Rating.NOT_RELEVANT.is_scored


def test_the_domain_names_a_personal_identity_number_by_the_contracts_rule():
    """Round 26: the domain's word (`personal_identity_number`) was another than every other door's."""
    from styrkedja_contracts.identifiers import PIN_RULE
    from styrkedja_lika.domain.ratings import Rule

    assert Rule.PERSONAL_IDENTITY_NUMBER.value == PIN_RULE
