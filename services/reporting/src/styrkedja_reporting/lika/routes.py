"""LIKA read API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from styrkedja_kit.app import runtime_of

from ..freshness import set_freshness
from ..params import ORGANISER_PATTERN
from .tables import read_lika

router = APIRouter(prefix="/v1", tags=["lika"])


class LikaUnit(BaseModel):
    school_unit_code: str
    organiser_id: str
    self_assessment_id: str
    school_form: str
    respondent_role: str
    catalogue_version: str
    published_at: datetime
    ratings: list[dict]


@router.get("/lika/school-units", response_model=list[LikaUnit])
async def lika_latest(request: Request, response: Response,
                      organiser_id: str | None = Query(None, pattern=ORGANISER_PATTERN),
                      school_unit_code: str | None = Query(None, pattern="^[0-9]{8}$")) -> list[LikaUnit]:
    """The newest published LIKA self-assessment of each school unit."""
    async with runtime_of(request).db.sessions() as session:
        rows = await read_lika(session, organiser_id, school_unit_code)
        await set_freshness(session, response)
    return [LikaUnit(**{**row._mapping, "self_assessment_id": str(row.self_assessment_id)}) for row in rows]
