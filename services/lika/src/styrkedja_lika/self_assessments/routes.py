"""HTTP routes of self-assessments."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from styrkedja_contracts.events.lika import SchoolForm
from styrkedja_contracts.identifiers import OrganiserId, SchoolUnitCode
from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal

from ..access.actor import reader, writer
from ..catalogue.library import library
from ..domain import AREA_ORDER, AssessmentStatus, Rating, score_ratings
from .schemas import (
    AreaScoreOut,
    DraftIn,
    FinaliseIn,
    PublishedOut,
    RatingOut,
    RatingsIn,
    SelfAssessmentOut,
    SelfAssessmentPublishedIn,
    SelfAssessmentSummary,
)
from .service import SelfAssessments

router = APIRouter(prefix="/v1/self-assessments", tags=["self-assessments"])


def service(request: Request, caller: Principal = reader) -> SelfAssessments:
    runtime = runtime_of(request)
    return SelfAssessments(runtime.db, runtime.require_outbox(), runtime.settings.max_event_bytes, caller)


def write_service(request: Request, caller: Principal = writer) -> SelfAssessments:
    runtime = runtime_of(request)
    return SelfAssessments(runtime.db, runtime.require_outbox(), runtime.settings.max_event_bytes, caller)


#: For reads: the caller's read scope decides per self-assessment.
Service = Annotated[SelfAssessments, Depends(service)]
#: For writes: only the roles that write LIKA get this far; ownership is decided per self-assessment.
WriteService = Annotated[SelfAssessments, Depends(write_service)]


def summary(row: dict[str, Any], ratings: dict[str, tuple[str, str | None]]) -> SelfAssessmentSummary:
    catalogue = library().get(row["catalogue_version"])
    indicators = len(catalogue.indicator_ids(row["school_form"])) if catalogue else None
    return SelfAssessmentSummary(**{k: row[k] for k in SelfAssessmentSummary.model_fields
                                    if k not in ("rated", "indicators")}, rated=len(ratings), indicators=indicators)


def full(row: dict[str, Any], ratings: dict[str, tuple[str, str | None]]) -> SelfAssessmentOut:
    catalogue = library().get(row["catalogue_version"])
    if catalogue is None:  # imported against a catalogue version this service does not ship
        area_of = {r["indicator_id"]: r["area"] for r in row["ratings"] or ()}
        rows = [RatingOut(indicator_id=k, area=area_of.get(k), rating=r, comment=c) for k, (r, c) in ratings.items()]
        return SelfAssessmentOut(**summary(row, ratings).model_dump(), ratings=rows, missing=[], scores=[])
    order = catalogue.indicator_ids(row["school_form"])
    known = [i for i in order if i in ratings] + [k for k in ratings if k not in set(order)]
    rows = [RatingOut(indicator_id=k, area=catalogue.indicator(k).area.value if catalogue.has_indicator(k) else None,
                      rating=ratings[k][0], comment=ratings[k][1]) for k in known]
    card = score_ratings(catalogue, row["school_form"], {k: Rating(r) for k, (r, _) in ratings.items()})
    scores = [AreaScoreOut(area=s.area.value if s.area else None, mean_level=s.mean_level, percent=s.percent,
                           indicators=s.indicators, rated=s.indicators - s.unrated, not_relevant=s.not_relevant)
              for s in (*(card.areas[a] for a in AREA_ORDER), card.overall)]
    return SelfAssessmentOut(**summary(row, ratings).model_dump(), ratings=rows,
                             missing=[i for i in order if i not in ratings], scores=scores)


@router.post("", response_model=SelfAssessmentOut, status_code=201,
             responses={200: {"description": "The same draft again (same id and header): nothing stored",
                              "model": SelfAssessmentOut},
                        409: {"description": "The id is taken by another self-assessment"}})
async def create_draft(body: DraftIn, svc: WriteService, response: Response) -> SelfAssessmentOut:
    row, ratings, created = await svc.create_draft(body)
    if not created:
        response.status_code = 200
    return full(row, ratings)


@router.get("", response_model=list[SelfAssessmentSummary])
async def list_of_unit(svc: Service, organiser_id: Annotated[OrganiserId, Query()],
                       school_unit_code: Annotated[SchoolUnitCode, Query()],
                       school_form: Annotated[SchoolForm | None, Query()] = None,
                       status: Annotated[list[AssessmentStatus] | None, Query()] = None,
                       ) -> list[SelfAssessmentSummary]:
    """A school unit's self-assessments over time, oldest first."""
    statuses = [s.value for s in status or AssessmentStatus]
    found = await svc.of_unit(organiser_id, school_unit_code, school_form.value if school_form else None, statuses)
    return [summary(row, ratings) for row, ratings in found]


@router.get("/{self_assessment_id}", response_model=SelfAssessmentOut)
async def get_one(self_assessment_id: UUID, svc: Service) -> SelfAssessmentOut:
    return full(*await svc.get(self_assessment_id))


@router.patch("/{self_assessment_id}/ratings", response_model=SelfAssessmentOut,
              responses={409: {"description": "The self-assessment is final"}})
async def save_ratings(self_assessment_id: UUID, body: RatingsIn, svc: WriteService) -> SelfAssessmentOut:
    """Save some ratings (and comments) of a draft, in any order; an indicator saved again is replaced."""
    return full(*await svc.save(self_assessment_id, body.ratings))


@router.delete("/{self_assessment_id}/ratings/{indicator_id}", status_code=204)
async def remove_rating(self_assessment_id: UUID, indicator_id: str, svc: WriteService) -> Response:
    await svc.remove_rating(self_assessment_id, indicator_id)
    return Response(status_code=204)


@router.post("/{self_assessment_id}/publish", response_model=SelfAssessmentOut,
             responses={422: {"description": "Incomplete or invalid: every missing or invalid indicator"}})
async def publish(self_assessment_id: UUID, svc: WriteService, body: FinaliseIn | None = None) -> SelfAssessmentOut:
    return full(*await svc.finalise(self_assessment_id, publish=True, start_term=body.start_term if body else None))


@router.post("/{self_assessment_id}/keep-private", response_model=SelfAssessmentOut,
             responses={422: {"description": "Incomplete or invalid: every missing or invalid indicator"}})
async def keep_private(self_assessment_id: UUID, svc: WriteService, body: FinaliseIn | None = None) -> SelfAssessmentOut:
    """Make the self-assessment final without publishing it: it never leaves the service."""
    return full(*await svc.finalise(self_assessment_id, publish=False,
                                    start_term=body.start_term if body else None))


@router.post("/published", response_model=PublishedOut, status_code=201,
             responses={200: {"description": "The same self-assessment again: nothing stored, no event",
                              "model": PublishedOut}})
async def import_published(item: SelfAssessmentPublishedIn, svc: WriteService, response: Response) -> PublishedOut:
    """The door for a self-assessment published in another tool, sent in whole."""
    result = await svc.import_published(item)
    if result.status == "unchanged":
        response.status_code = 200
    return result
