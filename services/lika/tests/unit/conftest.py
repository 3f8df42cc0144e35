"""Shared fixtures for the LIKA domain unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from styrkedja_lika.domain import (
    Activity,
    Area,
    AssessmentStatus,
    Catalogue,
    CatalogueLibrary,
    Indicator,
    OwnerRole,
    Rating,
    RespondentRole,
    SchoolForm,
    SelfAssessment,
    load_catalogue,
    load_catalogues,
)

ORGANISER = "2999"


@pytest.fixture(scope="session")
def library() -> CatalogueLibrary:
    return load_catalogues()


@pytest.fixture(scope="session")
def cat1() -> Catalogue:
    return load_catalogue("2026.1")


@pytest.fixture(scope="session")
def cat2() -> Catalogue:
    return load_catalogue("2026.2")


def _assessment(
    catalogue: Catalogue,
    ratings: Mapping[str, Any],
    *,
    school_form: SchoolForm = SchoolForm.COMPULSORY_SCHOOL,
    assessment_id: str = "a-1",
    school_unit_code: str = "12345678",
    organiser_id: str = ORGANISER,
    respondent_role: RespondentRole = RespondentRole.PRINCIPAL,
    status: AssessmentStatus = AssessmentStatus.PUBLISHED,
    published_at: datetime | None = datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    assessed_on: date = date(2026, 3, 1),
    default: Rating | None = None,
) -> SelfAssessment:
    """A self-assessment; indicators not in ``ratings`` get ``default`` (or stay unrated)."""
    full: dict[str, Any] = {}
    if default is not None:
        full = dict.fromkeys(catalogue.indicator_ids(school_form), default)
    full.update(ratings)
    return SelfAssessment(
        assessment_id=assessment_id,
        organiser_id=organiser_id,
        school_unit_code=school_unit_code,
        school_form=school_form,
        catalogue_version=catalogue.version,
        respondent_role=respondent_role,
        status=status,
        assessed_on=assessed_on,
        published_at=published_at if status is AssessmentStatus.PUBLISHED else None,
        ratings=full,
    )


@pytest.fixture
def make_assessment() -> Callable[..., SelfAssessment]:
    return _assessment


ActSpec = tuple[str, Rating, int, OwnerRole] | tuple[str, Rating, int, OwnerRole, Sequence[str]]


def _build_catalogue(
    indicators: Sequence[tuple[str, Area, Sequence[ActSpec]] | tuple[str, Area, Sequence[ActSpec], Sequence[str]]],
    *,
    version: str = "2099.1",
    school_form: SchoolForm = SchoolForm.COMPULSORY_SCHOOL,
) -> Catalogue:
    """A small in-memory catalogue (not subject to the 6–10 per area rule).

    ``indicators``: ``(id, area, activities[, tags])`` with activities
    ``(id, from_level, priority, owner[, requires])``.
    """
    built = []
    for spec in indicators:
        ind_id, area, acts = spec[0], spec[1], spec[2]
        tags = tuple(spec[3]) if len(spec) > 3 else ()
        built.append(
            Indicator(
                id=ind_id,
                school_form=school_form,
                area=area,
                title=f"Titel {ind_id}",
                description=f"Beskrivning {ind_id}",
                levels={r: f"{ind_id} {r}" for r in Rating if r is not Rating.NOT_RELEVANT},
                tags=tags,
                activities=tuple(
                    Activity(
                        id=a[0],
                        indicator_id=ind_id,
                        from_level=a[1],
                        priority=a[2],
                        owner=a[3],
                        title=f"Aktivitet {a[0]}",
                        requires=tuple(a[4]) if len(a) > 4 else (),
                    )
                    for a in acts
                ),
            )
        )
    return Catalogue(
        version=version,
        title="Testkatalog",
        valid_from=date(2099, 1, 1),
        scale_labels={r: r.value.lower() for r in Rating},
        area_labels={a: a.value.title() for a in Area},
        school_form_labels={f: f.value.title() for f in SchoolForm},
        owner_role_labels={o: o.value.title() for o in OwnerRole},
        tags={"digitala_nationella_prov": "Digitala nationella prov", "annat": "Annat"},
        indicators=tuple(built),
    )


@pytest.fixture
def build_catalogue() -> Callable[..., Catalogue]:
    return _build_catalogue
