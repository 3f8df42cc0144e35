"""GET /kedjan (the chain) and its CSV/xlsx downloads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import RedirectResponse, Response

from styrkedja_contracts.identifiers import canonical_organiser_id
from styrkedja_kit.auth import GRANTS, Level, Role

from ..clients import Reporting, UpstreamError, query_string
from ..downloads import csv_response, xlsx_response
from ..names import unit_names
from ..period import Period, choose
from ..reads import Unavailable, figure_or_none
from ..unit.routes import unit_page
from ..web.pages import Current, organiser_of, organisers_of, render, reporting
from .figures import cell_extras, unit_extras
from .view import Matrix, matrix, table

router = APIRouter()
T = TypeVar("T")
DrillLevel = Literal["organiser", "area", "school_unit", "group"]

SCHOOL_YEAR = r"^[0-9]{4}/[0-9]{2}$"
UNIT = r"^[A-Za-z0-9_./-]{1,64}$"


@dataclass
class Filters:
    huvudman: str | None
    niva: Literal["area", "school_unit", "group"]
    enhet: str | None
    lasar: str | None
    termin: Literal["HT", "VT"] | None
    omgang: int | None
    amne: str | None
    chosen_level: bool = True  # False: the user did not pick a level (`default_level` may change it)

    def query(self, **override: object) -> str:
        values = {k: v for k, v in vars(self).items() if k != "chosen_level"} | override
        return query_string(**values)


def default_level(session: Current, f: Filters) -> Filters:
    """Unless the user picked one, the chain lists school units — or, for a reader who may not see
    school units (a politician), the areas: the finest level the roles may read, not a refusal."""
    p = session.principal
    if f.chosen_level or p is None:
        return f
    levels = {level for role in p.roles for level in GRANTS[role].levels}
    if Level.SCHOOL_UNIT not in levels and Level.AREA in levels:
        f.niva = "area"
    return f


def filters(huvudman: Annotated[str | None, Query(pattern=UNIT)] = None,
            niva: Annotated[Literal["area", "school_unit", "group"] | None, Query()] = None,
            enhet: Annotated[str | None, Query(pattern=UNIT)] = None,
            lasar: Annotated[str | None, Query(pattern=SCHOOL_YEAR)] = None,
            termin: Annotated[Literal["HT", "VT"] | None, Query()] = None,
            omgang: Annotated[int | None, Query(ge=1, le=4)] = None,
            amne: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{3,16}$")] = None) -> Filters:
    return Filters(huvudman, niva or "school_unit", enhet, lasar, termin, omgang, amne, chosen_level=niva is not None)


Chosen = Annotated[Filters, Depends(filters)]
Api = Annotated[Reporting, Depends(reporting)]


async def _or_denied(read: Awaitable[T]) -> T | None:
    """A table outside the user's scope is left out (the page says so); the service decided."""
    try:
        return await read
    except UpstreamError as error:
        if error.status == 403:
            return None
        raise


async def tables(api: Reporting, organiser: str, f: Filters) -> dict[str, Matrix | None]:
    async def results(level: str, unit_id: str | None = None, split: list[str] | None = None) -> list[dict]:
        return await api.assessment_results(level=level, unit_id=unit_id, split=split, organiser_id=organiser,
                                            subject_code=f.amne, school_year=f.lasar, term=f.termin, round=f.omgang)

    async def assessed(level: str, unit_id: str | None = None, split: list[str] | None = None,
                       key: str = "unit_id") -> Matrix:
        return matrix(level, await results(level, unit_id, split), key=key)

    async def forecast(unit_id: str) -> Matrix:
        cells = await api.forecast_results(level="school_unit", unit_id=unit_id, organiser_id=organiser,
                                           school_year=f.lasar, term=f.termin, split=["year"])
        return matrix("school_unit", [c for c in cells if not f.amne or c.get("subject_code") == f.amne], key="year")

    if f.enhet:
        years, forecasts = await asyncio.gather(_or_denied(assessed("school_unit", f.enhet, ["year"], "year")),
                                                _or_denied(forecast(f.enhet)))
        return {"years": years, "forecasts": forecasts}
    whole, units = await asyncio.gather(_or_denied(assessed("organiser", organiser)), _or_denied(assessed(f.niva)))
    return {"organiser": whole, "units": units}


#: the chain's added figures, by reporting's name and the page's word
EXTRAS = {"trend": "trend", "gender-gap": "könsskillnad", "freshness": "aktualitet", "coverage": "täckning"}


async def extras(api: Reporting, organiser: str, f: Filters, period: Period,
                 away: Unavailable | None = None) -> dict[str, object]:
    """Trend, gender gap, freshness and coverage of the chain's level for the period; one whose service is
    away for now is left out and named in `away` (the shares are the page, these only add to it)."""
    away = Unavailable() if away is None else away
    params = {"level": f.niva, "organiser_id": organiser, "subject_code": f.amne, **period.params()}
    trend, gap, fresh, cover = await asyncio.gather(*(away.optional_figure(word, api, name, **params)
                                                      for name, word in EXTRAS.items()))
    return {"cells": cell_extras(trend, gap), "units": unit_extras(fresh, cover)}


def _start_unit(session: Current) -> str | None:
    """Where a principal or teacher starts: their own unit (the organiser level is not theirs)."""
    p = session.principal
    if p is None or p.has(Role.ORGANISER_ADMIN, Role.AREA_MANAGER, Role.POLITICIAN, Role.PUBLIC):
        return None
    units = sorted(p.school_units | {g.school_unit_code for g in p.groups})
    return units[0] if units else None


@router.get("/kedjan")
async def chain(request: Request, session: Current, api: Api, f: Chosen) -> Response:
    organiser = organiser_of(session, default_level(session, f).huvudman)
    if not f.enhet and not request.url.query and (unit := _start_unit(session)):
        return RedirectResponse("/kedjan?" + f.query(enhet=unit, huvudman=organiser), status_code=303)
    found = await tables(api, organiser, f)
    if f.enhet:
        return await unit_page(request, session, api, organiser, f, found)
    cells = [c for m in (found.get("organiser"),) if m for c in m.cells]
    period = choose(f.lasar, f.termin, f.omgang, cells)
    away = Unavailable()
    more, names = await asyncio.gather(extras(api, organiser, f, period, away), unit_names(api, organiser))

    def unit_link(unit: str) -> str:
        if f.niva == "school_unit":
            return "/kedjan?" + f.query(enhet=unit, niva="school_unit")
        return "/nedbrytning?" + query_string(huvudman=organiser, niva=f.niva, enhet=unit, lasar=period.school_year,
                                                termin=period.term, omgang=f.omgang, amne=f.amne)

    return render(request, "chain.html", session, f=f, organiser=organiser, organisers=organisers_of(session),
                  tables=found, page="kedjan", unit_names=names, away=away, own_units=sorted(session.principal.school_units)
                  if session.principal else [], period=period, extras=more, unit_link=unit_link,
                  organiser_link=lambda _: "/nedbrytning?" + query_string(
                      huvudman=organiser, niva="organiser", lasar=period.school_year, termin=period.term,
                      omgang=f.omgang, amne=f.amne),
                  export_query=query_string(level=f.niva, organiser_id=organiser, subject_code=f.amne,
                                            **period.params()))


@router.get("/kedjan/export.{fmt}")
async def chain_export(session: Current, api: Api, f: Chosen, fmt: Literal["csv", "xlsx"]) -> Response:
    organiser = organiser_of(session, default_level(session, f).huvudman)
    found, names = await asyncio.gather(tables(api, organiser, f), unit_names(api, organiser))
    m = found.get("years") if f.enhet else found.get("units")
    if m is None:
        raise HTTPException(403, "Du har inte behörighet att se de här uppgifterna.")
    header, rows = table(m)
    if f.enhet:
        header[0] = "Årskurs"
    else:  # the id (what other systems and the filters take) and beside it the name, empty where none is known
        header.insert(1, "Namn")
        for row in rows:
            row.insert(1, names.name(m.level, row[0]))
    stem = f"maluppfyllelse-{f.enhet or organiser}"
    return (csv_response if fmt == "csv" else xlsx_response)(stem, header, rows)


CHILD = {"organiser": "area", "area": "school_unit", "school_unit": "group", "group": "student"}
#: the rule of `/nedbrytning?enhet=…` without `niva` whose unit the directory does not place at one level
LEVEL_OF_UNIT_RULE = "level_of_unit"
#: the rule of `/nedbrytning?niva=organiser&enhet=…` naming another unit than the organiser
NOT_THE_ORGANISER_RULE = "not_the_organiser"
#: the rule of `/nedbrytning?niva=area` (or school_unit, group) without `enhet`
UNIT_OF_LEVEL_RULE = "unit_of_level"


async def level_of(api: Reporting, organiser: str, unit: str) -> DrillLevel:
    """The level of `unit` for a drill-down whose link said none (`/nedbrytning?enhet=12345678`, typed or shared):
    the organiser's own id is the organiser; any other unit is looked up in the directory (the names the pages
    read anyway, `unit_names`), where it must be at exactly one level. The page headed such a school unit
    "Huvudman 12345678" and listed areas under it (`niva` defaulted to the organiser). A unit the directory does not
    place (unknown, not the user's to read, or an id two levels share) is a 422 naming `niva`, never a guess."""
    if canonical_organiser_id(unit) == organiser:
        return "organiser"
    names = await unit_names(api, organiser)
    levels = {level for level, unit_id in names.known if unit_id == unit and level in CHILD and level != "organiser"}
    if len(levels) == 1:
        return levels.pop()  # type: ignore[return-value]
    raise RequestValidationError([{"loc": ("query", "niva"), "type": LEVEL_OF_UNIT_RULE, "msg": "niva: the level of "
                                   "enhet, which the directory does not place at one level", "input": None}])


@router.get("/nedbrytning")
async def drill_down(request: Request, session: Current, api: Api,
                     huvudman: Annotated[str | None, Query(pattern=UNIT)] = None,
                     niva: Annotated[Literal["organiser", "area", "school_unit", "group"] | None, Query()] = None,
                     enhet: Annotated[str | None, Query(pattern=UNIT)] = None,
                     lasar: Annotated[str | None, Query(pattern=SCHOOL_YEAR)] = None,
                     termin: Annotated[Literal["HT", "VT"] | None, Query()] = None,
                     omgang: Annotated[int | None, Query(ge=1, le=4)] = None,
                     amne: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{3,16}$")] = None) -> Response:
    """The list behind a figure: the unit's children one level down with their share and gender
    gap; under a group, the students (pseudonymous ids) — as far as the service lets the user see."""
    f = Filters(huvudman, "school_unit", None, lasar, termin, omgang, amne)
    organiser = organiser_of(session, f.huvudman)
    unit = enhet or organiser
    if niva is None:
        niva = await level_of(api, organiser, unit)
    if niva != "organiser" and not enhet:  # (`niva=group` alone was the organiser's id asked and headed as a group's)
        raise RequestValidationError([{"loc": ("query", "enhet"), "type": UNIT_OF_LEVEL_RULE, "input": None,
                                       "msg": "enhet: the unit whose children to list, at a level below the organiser"}])
    if niva == "organiser":  # (`niva=organiser&enhet=12345678` was headed "Huvudman 12345678", areas listed under it)
        if canonical_organiser_id(unit) != organiser:
            raise RequestValidationError([{"loc": ("query", "enhet"), "type": NOT_THE_ORGANISER_RULE, "input": None,
                                           "msg": "enhet: at niva=organiser, the organiser (huvudman) or none"}])
        unit = organiser
    if not lasar:
        whole = await api.assessment_results(level="organiser", organiser_id=organiser, subject_code=amne)
        period = choose(None, termin, omgang, whole)
    else:
        period = choose(lasar, termin, omgang, [])
    params = {"level": niva, "organiser_id": organiser, "unit_id": unit, "subject_code": amne, **period.params()}
    found, names = await asyncio.gather(figure_or_none(api, "drill-down", **params), unit_names(api, organiser))
    child = CHILD[niva]

    def link(child_id: str) -> str | None:
        if child == "student":
            return None
        if child == "school_unit":
            return "/kedjan?" + query_string(huvudman=organiser, enhet=child_id, lasar=period.school_year,
                                             termin=period.term, omgang=omgang, amne=amne)
        return "/nedbrytning?" + query_string(huvudman=organiser, niva=child, enhet=child_id,
                                              lasar=period.school_year, termin=period.term, omgang=omgang, amne=amne)

    return render(request, "drill_down.html", session, organiser=organiser, niva=niva, unit=unit, child=child,
                  period=period, table=found, link=link, page="kedjan", unit_names=names,
                  export_query=query_string(**params))
