"""Results read API: thin, every cell comes from `read.read_cells`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from styrkedja_kit.app import runtime_of

from ..freshness import set_freshness
from ..params import ID_PATTERN, ORGANISER_PATTERN, SCHOOL_YEAR_PATTERN, SUBJECT_PATTERN
from .read import Filters, Level, ResultCell, Split, read_cells

router = APIRouter(prefix="/v1", tags=["results"])


@router.get("/results/assessments", response_model=list[ResultCell])
async def assessment_results(
        request: Request, response: Response, level: Level,
        organiser_id: str | None = Query(None, pattern=ORGANISER_PATTERN),
        unit_id: str | None = Query(None, pattern=ID_PATTERN),
        subject_code: str | None = Query(None, pattern=SUBJECT_PATTERN),
        school_year: str | None = Query(None, pattern=SCHOOL_YEAR_PATTERN),
        term: Literal["HT", "VT"] | None = None, round: int | None = Query(None, ge=1, le=4),
        kind: Literal["assessment", "written_report", "term_grade"] | None = None,
        year: int | None = Query(None, ge=0, le=9),
        gender: Literal["female", "male", "unknown"] | None = None,
        split: list[Split] = Query(default=[])) -> list[ResultCell]:
    """Distribution over the scale, number assessed and number/share reaching the pass level.
    A group's unit id is `<school_unit_code>/<group_id>` (group ids are scoped by school unit)."""
    filters = Filters(organiser_id=organiser_id, unit_id=unit_id, subject_code=subject_code,
                      school_year=school_year, term=term, round=round, kind=kind, year=year, gender=gender,
                      split=tuple(split))
    async with runtime_of(request).db.sessions() as session:
        cells = await read_cells(session, "assessments", level, filters)
        await set_freshness(session, response)
    return cells


@router.get("/results/forecasts", response_model=list[ResultCell])
async def forecast_results(
        request: Request, response: Response, level: Level,
        organiser_id: str | None = Query(None, pattern=ORGANISER_PATTERN),
        unit_id: str | None = Query(None, pattern=ID_PATTERN),
        subject_code: str | None = Query(None, pattern=SUBJECT_PATTERN),
        school_year: str | None = Query(None, pattern=SCHOOL_YEAR_PATTERN),
        term: Literal["HT", "VT"] | None = None,
        year: int | None = Query(None, ge=0, le=9),
        gender: Literal["female", "male", "unknown"] | None = None,
        split: list[Split] = Query(default=[])) -> list[ResultCell]:
    """Forecasts (prognoser): not reached / acceptable / more than acceptable, and share reaching pass."""
    filters = Filters(organiser_id=organiser_id, unit_id=unit_id, subject_code=subject_code,
                      school_year=school_year, term=term, year=year, gender=gender, split=tuple(split))
    async with runtime_of(request).db.sessions() as session:
        cells = await read_cells(session, "forecasts", level, filters)
        await set_freshness(session, response)
    return cells
