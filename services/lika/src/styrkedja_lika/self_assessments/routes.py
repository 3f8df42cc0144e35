"""HTTP routes of self-assessments."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from styrkedja_contracts.events.lika import SchoolForm
from styrkedja_contracts.identifiers import OrganiserId, SchoolUnitCode
from styrkedja_kit.auth import Principal

from ..access.actor import reader, writer
from ..catalogue.library import library
from ..domain import AREA_ORDER, AssessmentStatus, Rating, score_ratings
from ..domain.ratings import Rule
from .schemas import (
    AreaScoreOut,
    DraftIn,
    FinaliseIn,
    IndicatorId,
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
    return SelfAssessments.of(request, caller)


def write_service(request: Request, caller: Principal = writer) -> SelfAssessments:
    return SelfAssessments.of(request, caller)


#: For reads: the caller's read scope decides per self-assessment.
Service = Annotated[SelfAssessments, Depends(service)]
#: For writes: only the roles that write LIKA get this far; ownership is decided per self-assessment.
WriteService = Annotated[SelfAssessments, Depends(write_service)]


#: a page of the list: at most this many self-assessments (`limit`), and this many when `limit` is left out — a unit
#: rates itself a few times a year, so a client that never pages (one written before the list paged) gets them all
#: on the first page; a client making drafts without end no longer makes every list answer grow with them
MAX_PAGE = 1000
#: the ratings' rules a write answers 422 with, named in the document (round 31's campaign, run again on the final
#: code: a schema-valid publish of a draft missing ratings, a rating of an indicator not in the catalogue, were 422s
#: whose rules — against the catalogue and the stored draft, no JSON Schema keyword's — the document never named)
RATINGS_REFUSED: dict[int | str, dict[str, Any]] = {422: {"description": (
    "Incomplete or invalid: every missing or invalid indicator, each naming its field and its rule (one of "
    + ", ".join(f"`{rule.value}`" for rule in Rule) + "; `rating_missing`: an indicator of the catalogue version "
    "not rated, `unknown_indicator`: one not in it)")}}
#: publishing (or keeping private) a draft that is not complete and valid: a state of the stored draft (a publish
#: sends no ratings), a 409 as every refusal by what is stored — the draft final (`final`), dated after today
#: (`not_in_future`); the same request passes once the draft's ratings are saved (round 32: it was a 422)
FINALISE_REFUSED: dict[int | str, dict[str, Any]] = {409: {"description": (
    "The draft cannot be made final as it stands (nothing changed, no event): already final (`final`), dated after "
    "today (`not_in_future`), or not complete and valid — every missing or invalid indicator of the stored draft, "
    "each naming its field and its rule (one of " + ", ".join(f"`{rule.value}`" for rule in Rule)
    + "; `rating_missing`: an indicator of the catalogue version not rated, `unknown_indicator`: one not in it). "
    "Save the draft's ratings and send the same request again.")}}
DEFAULT_PAGE = 100


def summary(row: dict[str, Any], rated: int) -> SelfAssessmentSummary:
    catalogue = library().get(row["catalogue_version"])
    indicators = len(catalogue.indicator_ids(row["school_form"])) if catalogue else None
    return SelfAssessmentSummary(**{k: row[k] for k in SelfAssessmentSummary.model_fields
                                    if k not in ("rated", "indicators")}, rated=rated, indicators=indicators)


def full(row: dict[str, Any], ratings: dict[str, tuple[str, str | None]]) -> SelfAssessmentOut:
    catalogue = library().get(row["catalogue_version"])
    if catalogue is None:  # imported against a catalogue version this service does not ship
        area_of = {r["indicator_id"]: r["area"] for r in row["ratings"] or ()}
        rows = [RatingOut(indicator_id=k, area=area_of.get(k), rating=r, comment=c) for k, (r, c) in ratings.items()]
        return SelfAssessmentOut(**summary(row, len(ratings)).model_dump(), ratings=rows, missing=[], scores=[])
    order = catalogue.indicator_ids(row["school_form"])
    known = [i for i in order if i in ratings] + [k for k in ratings if k not in set(order)]
    rows = [RatingOut(indicator_id=k, area=catalogue.indicator(k).area.value if catalogue.has_indicator(k) else None,
                      rating=ratings[k][0], comment=ratings[k][1]) for k in known]
    card = score_ratings(catalogue, row["school_form"], {k: Rating(r) for k, (r, _) in ratings.items()})
    scores = [AreaScoreOut(area=s.area.value if s.area else None, mean_level=s.mean_level, percent=s.percent,
                           indicators=s.indicators, rated=s.indicators - s.unrated, not_relevant=s.not_relevant)
              for s in (*(card.areas[a] for a in AREA_ORDER), card.overall)]
    return SelfAssessmentOut(**summary(row, len(ratings)).model_dump(), ratings=rows,
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


@router.get("", response_model=list[SelfAssessmentSummary],
            responses={200: {"description": "A page of the list; the next page, if any, is named by the `Link` header",
                             "headers": {"Link": {
                                 "description": "`</v1/self-assessments?…&after=ID>; rel=\"next\"` (the request's "
                                                "query, `after` the page's last id) when there is a next page; absent "
                                                "on the last page",
                                 "schema": {"type": "string"}}}}})
async def list_of_unit(request: Request, response: Response, svc: Service,
                       organiser_id: Annotated[OrganiserId, Query()],
                       school_unit_code: Annotated[SchoolUnitCode, Query()],
                       school_form: Annotated[SchoolForm | None, Query()] = None,
                       status: Annotated[list[AssessmentStatus] | None, Query()] = None,
                       after: Annotated[UUID | None, Query(
                           description="The next page: the self-assessments after this one (the previous page's "
                                       "last, as its `Link: rel=\"next\"` names it; one of this school unit's, else a 422 "
                                       "`listed_id`); omitted: the first page")] = None,
                       limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=(
                           f"At most this many on a page (1-{MAX_PAGE}, default {DEFAULT_PAGE})"))] = DEFAULT_PAGE,
                       ) -> list[SelfAssessmentSummary]:
    """A school unit's self-assessments over time, oldest first, a page at a time: a first page without `after`,
    each next named by the `Link` header (`rel="next"`), none on the last."""
    statuses = [s.value for s in status or AssessmentStatus]
    found, next_after = await svc.of_unit(organiser_id, school_unit_code, school_form.value if school_form else None,
                                          statuses, after=after, limit=limit)
    if next_after is not None:
        # path and query, no host: the client asked this host (a proxy's own name is not the one this process sees)
        following = request.url.include_query_params(after=next_after)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [summary(row, rated) for row, rated in found]


@router.get("/{self_assessment_id}", response_model=SelfAssessmentOut)
async def get_one(self_assessment_id: UUID, svc: Service) -> SelfAssessmentOut:
    return full(*await svc.get(self_assessment_id))


@router.patch("/{self_assessment_id}/ratings", response_model=SelfAssessmentOut,
              responses={409: {"description": "The self-assessment is final"}, **RATINGS_REFUSED})
async def save_ratings(self_assessment_id: UUID, body: RatingsIn, svc: WriteService) -> SelfAssessmentOut:
    """Save some ratings (and comments) of a draft, in any order; an indicator saved again is replaced."""
    return full(*await svc.save(self_assessment_id, body.ratings))


@router.delete("/{self_assessment_id}/ratings/{indicator_id}", status_code=204)
async def remove_rating(self_assessment_id: UUID, indicator_id: IndicatorId, svc: WriteService) -> Response:
    await svc.remove_rating(self_assessment_id, indicator_id)
    return Response(status_code=204)


@router.post("/{self_assessment_id}/publish", response_model=SelfAssessmentOut,
             responses=FINALISE_REFUSED)
async def publish(self_assessment_id: UUID, svc: WriteService, body: FinaliseIn | None = None) -> SelfAssessmentOut:
    return full(*await svc.finalise(self_assessment_id, publish=True, start_term=body.start_term if body else None))


@router.post("/{self_assessment_id}/keep-private", response_model=SelfAssessmentOut,
             responses=FINALISE_REFUSED)
async def keep_private(self_assessment_id: UUID, svc: WriteService, body: FinaliseIn | None = None) -> SelfAssessmentOut:
    """Make the self-assessment final without publishing it: it never leaves the service."""
    return full(*await svc.finalise(self_assessment_id, publish=False,
                                    start_term=body.start_term if body else None))


@router.post("/published", response_model=PublishedOut, status_code=201,
             responses={200: {"description": "The same self-assessment again: nothing stored, no event",
                              "model": PublishedOut}, **RATINGS_REFUSED})
async def import_published(item: SelfAssessmentPublishedIn, svc: WriteService, response: Response) -> PublishedOut:
    """The door for a self-assessment published in another tool, sent in whole."""
    result = await svc.import_published(item)
    if result.status == "unchanged":
        response.status_code = 200
    return result
