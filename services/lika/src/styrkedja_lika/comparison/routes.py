"""Compare any two self-assessments of the same school form — over time, or between raters."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import ValidationError

from styrkedja_kit.rules import RuleViolation

from ..catalogue.library import library
from ..domain import Comparison, NotComparable, compare_self_assessments
from ..self_assessments.routes import Service
from ..self_assessments.service import to_domain

router = APIRouter(prefix="/v1/self-assessments", tags=["comparison"])


@router.get("/compare", response_model=Comparison)
async def compare(svc: Service, first: Annotated[UUID, Query(description="e.g. the older one")],
                  second: Annotated[UUID, Query(description="e.g. the newer one, or another rater's")],
                  ) -> Comparison:
    """Both ratings and the change per indicator, radar data per area and per indicator, and the
    indicators that differ by two steps or more (discussion points)."""
    (row_a, ratings_a), (row_b, ratings_b) = await svc.get_many({"first": first, "second": second})
    try:
        return compare_self_assessments(to_domain(row_a, ratings_a), to_domain(row_b, ratings_b), library())
    except (NotComparable, ValidationError) as error:  # e.g. imported against an unknown catalogue
        raise RuleViolation("second", "not_comparable", str(error)) from None
