"""Read APIs of the reporting service (thin: queries live in persistence)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request

from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.app import runtime_of

from . import persistence as db
from .domain import share
from .schemas import Consistency, Level, LikaUnit, ResultCell

router = APIRouter(prefix="/v1", tags=["reporting"])

Split = Literal["gender", "year"]


def _cells(rows, group_by: list[str], scale_of) -> list[ResultCell]:
    cells: dict[tuple, dict] = {}
    for row in rows:
        key = tuple(getattr(row, name) for name in group_by)
        cell = cells.setdefault(key, {**dict(zip(group_by, key)), "distribution": {}})
        cell["distribution"][row.value] = cell["distribution"].get(row.value, 0) + int(row.count)
    out = []
    for cell in cells.values():
        scale = scale_of(cell)
        assessed = sum(cell["distribution"].values())
        passing = sum(n for value, n in cell["distribution"].items() if reaches_pass(scale, value))
        out.append(ResultCell(**cell, scale=scale.value, assessed=assessed, reaching_pass=passing,
                              share_reaching_pass=share(passing, assessed)))
    return out


@router.get("/results/assessments", response_model=list[ResultCell])
async def assessment_results(request: Request, level: Level, organiser_id: str | None = None,
                             unit_id: str | None = None,
                             subject_code: str | None = None, school_year: str | None = None,
                             term: Literal["HT", "VT"] | None = None, round: int | None = Query(None, ge=1, le=4),
                             kind: str | None = None, split: list[Split] = Query(default=[])) -> list[ResultCell]:
    """Distribution over the scale, number assessed and number/share reaching the pass level."""
    group_by = ["level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", *split]
    filters = {"level": level, "organiser_id": organiser_id, "unit_id": unit_id, "subject_code": subject_code,
               "school_year": school_year, "term": term, "round": round, "kind": kind}
    async with runtime_of(request).db.sessions() as session:
        rows = await db.read_cells(session, db.ASSESSMENTS, filters, group_by)
    return _cells(rows, group_by, lambda cell: Scale(cell.pop("scale")))


@router.get("/results/forecasts", response_model=list[ResultCell])
async def forecast_results(request: Request, level: Level, organiser_id: str | None = None,
                           unit_id: str | None = None,
                           subject_code: str | None = None, school_year: str | None = None,
                           term: Literal["HT", "VT"] | None = None,
                           split: list[Split] = Query(default=[])) -> list[ResultCell]:
    """Forecasts (prognoser): not reached / acceptable / more than acceptable, and share reaching pass."""
    group_by = ["level", "unit_id", "subject_code", "school_year", "term", *split]
    filters = {"level": level, "organiser_id": organiser_id, "unit_id": unit_id, "subject_code": subject_code,
               "school_year": school_year, "term": term}
    async with runtime_of(request).db.sessions() as session:
        rows = await db.read_cells(session, db.FORECASTS, filters, group_by)
    return _cells(rows, group_by, lambda cell: Scale.THREE_LEVEL)


@router.get("/lika/school-units", response_model=list[LikaUnit])
async def lika_latest(request: Request, organiser_id: str | None = None,
                      school_unit_code: str | None = None) -> list[LikaUnit]:
    """The newest published LIKA self-assessment of each school unit."""
    async with runtime_of(request).db.sessions() as session:
        rows = await db.read_lika(session, organiser_id, school_unit_code)
    return [LikaUnit(**{**row._mapping, "self_assessment_id": str(row.self_assessment_id)}) for row in rows]


@router.get("/admin/consistency", response_model=Consistency, tags=["ops"])
async def consistency(request: Request) -> Consistency:
    """Invariant 3: every materialised cell equals the same figure recomputed from the facts."""
    async with runtime_of(request).db.sessions() as session:
        a = await db.ASSESSMENTS.mismatches(session, "retracted")
        f = await db.FORECASTS.mismatches(session, "withdrawn")
    return Consistency(assessment_cell_mismatches=a, forecast_cell_mismatches=f, consistent=a == f == 0)
