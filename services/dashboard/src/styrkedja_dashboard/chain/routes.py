"""GET /kedjan (the chain) and its CSV/xlsx downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from ..clients import Reporting, query_string
from ..downloads import csv_response, xlsx_response
from ..web.pages import Current, render, reporting
from .view import Matrix, matrix, table

router = APIRouter()

SCHOOL_YEAR = r"^\d{4}/\d{2}$"
UNIT = r"^[A-Za-z0-9_./-]{1,64}$"


@dataclass
class Filters:
    huvudman: str | None
    niva: Literal["school_unit", "group"]
    enhet: str | None
    lasar: str | None
    termin: Literal["HT", "VT"] | None
    omgang: int | None
    amne: str | None

    def query(self, **override: object) -> str:
        values = {**vars(self), **override}
        return query_string(**values)


def filters(huvudman: Annotated[str | None, Query(pattern=UNIT)] = None,
            niva: Annotated[Literal["school_unit", "group"], Query()] = "school_unit",
            enhet: Annotated[str | None, Query(pattern=UNIT)] = None,
            lasar: Annotated[str | None, Query(pattern=SCHOOL_YEAR)] = None,
            termin: Annotated[Literal["HT", "VT"] | None, Query()] = None,
            omgang: Annotated[int | None, Query(ge=1, le=4)] = None,
            amne: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{3,16}$")] = None) -> Filters:
    return Filters(huvudman, niva, enhet, lasar, termin, omgang, amne)


Chosen = Annotated[Filters, Depends(filters)]
Api = Annotated[Reporting, Depends(reporting)]


def organisers_of(session: Current) -> list[str]:
    return sorted(session.principal.organisers) if session.principal else []


async def tables(api: Reporting, organiser: str, f: Filters) -> dict[str, Matrix]:
    async def results(level: str, unit_id: str | None = None, split: list[str] | None = None) -> list[dict]:
        return await api.assessment_results(level=level, unit_id=unit_id, split=split, organiser_id=organiser,
                                            subject_code=f.amne, school_year=f.lasar, term=f.termin, round=f.omgang)

    if f.enhet:
        return {"years": matrix("school_unit", await results("school_unit", f.enhet, ["year"]), key="year")}
    return {"organiser": matrix("organiser", await results("organiser", organiser)),
            "units": matrix(f.niva, await results(f.niva))}


def _organiser(session: Current, f: Filters) -> str:
    organisers = organisers_of(session)
    if f.huvudman:
        # only a choice among the token's organisers; the service checks scope again on every read
        if f.huvudman not in organisers:
            raise HTTPException(403, "Du har inte behörighet till den huvudmannen.")
        return f.huvudman
    if not organisers:
        raise HTTPException(403, "Din inloggning saknar huvudman.")
    return organisers[0]


@router.get("/kedjan")
async def chain(request: Request, session: Current, api: Api, f: Chosen) -> Response:
    organiser = _organiser(session, f)
    found = await tables(api, organiser, f)
    return render(request, "chain.html", session, f=f, organiser=organiser, organisers=organisers_of(session),
                  tables=found, page="kedjan",
                  unit_link=lambda unit: "/kedjan?" + f.query(enhet=unit, niva="school_unit"))


@router.get("/kedjan/export.{fmt}")
async def chain_export(session: Current, api: Api, f: Chosen, fmt: Literal["csv", "xlsx"]) -> Response:
    organiser = _organiser(session, f)
    found = await tables(api, organiser, f)
    m = found.get("years") or found["units"]
    header, rows = table(m)
    if "years" in found:
        header[0] = "Årskurs"
    stem = f"maluppfyllelse-{f.enhet or organiser}"
    return (csv_response if fmt == "csv" else xlsx_response)(stem, header, rows)
