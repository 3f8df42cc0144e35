"""Catalogue endpoints: school forms and versions; one version's areas, indicators, rating scale
and suggested activities."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ..access.actor import catalogue_reader
from ..domain import AREA_ORDER, RATED_SCALE, Catalogue, Rating, SchoolForm
from ..self_assessments.schemas import CatalogueVersion
from .library import catalogue_for, library

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"], dependencies=[catalogue_reader])


class Labelled(BaseModel):
    id: str
    label: str


class VersionOut(BaseModel):
    version: str
    title: str
    valid_from: date
    previous_version: str | None


class CatalogueIndex(BaseModel):
    latest_version: str
    versions: list[VersionOut]
    school_forms: list[Labelled]


class ScaleStep(BaseModel):
    id: str
    label: str
    level: int | None


class ActivityOut(BaseModel):
    id: str
    from_level: str
    priority: int
    owner: str
    title: str
    description: str | None
    requires: list[str]


class IndicatorOut(BaseModel):
    id: str
    school_form: str
    title: str
    description: str
    levels: dict[str, str]
    tags: list[str]
    activities: list[ActivityOut]


class AreaOut(BaseModel):
    id: str
    label: str
    indicators: list[IndicatorOut]


class CatalogueOut(VersionOut):
    scale: list[ScaleStep]
    school_forms: list[Labelled]
    owner_roles: list[Labelled]
    tags: list[Labelled]
    areas: list[AreaOut]
    retired_indicators: list[str]


def _version(c: Catalogue) -> VersionOut:
    return VersionOut(version=c.version, title=c.title, valid_from=c.valid_from, previous_version=c.previous_version)


@router.get("", response_model=CatalogueIndex)
async def index() -> CatalogueIndex:
    lib = library()
    latest = lib.latest
    return CatalogueIndex(
        latest_version=latest.version,
        versions=[_version(lib[v]) for v in lib],
        school_forms=[Labelled(id=f.value, label=latest.school_form_labels[f]) for f in SchoolForm])


@router.get("/{version}", response_model=CatalogueOut,
            responses={404: {"description": "No such catalogue version"}})
async def one_version(version: CatalogueVersion, school_form: SchoolForm | None = Query(None)) -> CatalogueOut:
    c = catalogue_for(version, field="version", status=404)
    indicators = c.indicators if school_form is None else c.indicators_for(school_form)
    return CatalogueOut(
        **_version(c).model_dump(),
        scale=[ScaleStep(id=r.value, label=c.scale_labels[r], level=r.level) for r in (*RATED_SCALE,
                                                                                         Rating.NOT_RELEVANT)],
        school_forms=[Labelled(id=f.value, label=c.school_form_labels[f]) for f in SchoolForm],
        owner_roles=[Labelled(id=r.value, label=label) for r, label in c.owner_role_labels.items()],
        tags=[Labelled(id=t, label=label) for t, label in c.tags.items()],
        areas=[AreaOut(id=a.value, label=c.area_labels[a], indicators=[
            IndicatorOut(id=i.id, school_form=i.school_form.value, title=i.title, description=i.description,
                         levels={r.value: text for r, text in i.levels.items()}, tags=list(i.tags),
                         activities=[ActivityOut(id=x.id, from_level=x.from_level.value, priority=x.priority,
                                                 owner=x.owner.value, title=x.title, description=x.description,
                                                 requires=list(x.requires)) for x in i.activities])
            for i in indicators if i.area is a]) for a in AREA_ORDER],
        retired_indicators=[r.id for r in c.retired])
