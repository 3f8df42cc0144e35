"""GET /rapport (the quality report of a school unit or the organiser, print CSS) and
/rapport.pdf (the same page printed by Chromium). Every figure is the service's, suppression
included: `..` in the report where the pages show `..`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from styrkedja_kit.auth import Principal, Topic, reading
from styrkedja_kit.days import school_today

from ..chain.view import matrix
from ..clients import Reporting
from ..downloads import attachment_header
from ..figures import figure_table
from ..names import unit_names
from ..period import choose
from ..reads import Unavailable, or_none
from ..web.pages import Current, organiser_of, render, reporting, templates
from .pdf import PdfBusy, PdfUnavailable, html_to_pdf

router = APIRouter()
STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "app.css"
Api = Annotated[Reporting, Depends(reporting)]
Organiser = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Unit = Annotated[str | None, Query(pattern=r"^[0-9]{8}$")]
SchoolYear = Annotated[str | None, Query(pattern=r"^[0-9]{4}/[0-9]{2}$")]
Term = Annotated[Literal["HT", "VT"] | None, Query()]


def reads_support(principal: Principal | None) -> bool:
    """Whether one of the reader's roles reads support figures (the kit's policy, which reporting's support reads
    judge by): an ICT coordinator's do not — reporting refuses them (403 `roles`), and the report said "no permission
    for this level" of a level its other sections showed."""
    return principal is not None and bool(reading(principal, Topic.SUPPORT).roles)


async def report_data(api: Reporting, organiser: str, unit: str | None, school_year: str | None,
                      term: str | None, *, support: bool = True) -> dict[str, Any]:
    level, unit_id = ("school_unit", unit) if unit else ("organiser", organiser)
    cells = await api.assessment_results(level=level, organiser_id=organiser, unit_id=unit,
                                         split=["year"] if unit else None)
    period = choose(school_year, term, None, cells)
    chosen = [c for c in cells if c.get("school_year") == period.school_year and c.get("term") == period.term]
    child = "school_unit" if not unit else None
    base = {"organiser_id": organiser, "school_year": period.school_year, "term": period.term}
    fig_level = {"level": "school_unit", "unit_id": unit} if unit else {"level": "school_unit"}
    units_cells = await or_none(api.assessment_results(
        level="school_unit", organiser_id=organiser, school_year=period.school_year, term=period.term)) \
        if child else None
    # a section whose service is away for now: left out, named at the top of the report; one refused to the reader's
    # role: left out, saying it is not for the role
    away = Unavailable()
    found: list[Any] = await asyncio.gather(
        away.optional_figure("förändring", api, "trend", **base, **fig_level),
        away.optional_figure("könsskillnad", api, "gender-gap", **base, **fig_level),
        away.optional_figure("täckning", api, "coverage", **base, **fig_level),
        # a unit's rate by the unit's read, which its principal may make (the organiser view, only the organiser
        # admin's and area managers', refused the principal its own unit's figure)
        away.optional("rapporteringsgrad", api.compliance(organiser, school_year=period.school_year, term=period.term,
                                                          school_unit_code=unit, list="school_unit" if unit else None)),
        away.optional("larm", api.alerts(organiser_id=organiser, school_unit_code=unit)),
        away.optional("stödinsatser", api.support_summary(level=level, unit_id=unit_id, organiser_id=organiser))
        if support else away.refused_to_role("stödinsatser"),
        # a unit's report asks for that unit's only (it read the organiser's every unit and kept one)
        away.optional("lika", api.lika_school_units(organiser_id=organiser, school_unit_code=unit)),
        unit_names(api, organiser))
    trend, gap, coverage, compliance, alerts, support_summary, lika, names = found
    compliance_table = None if compliance is None else figure_table(compliance)
    if lika is not None and unit:
        lika = [u for u in lika if u.get("school_unit_code") == unit]
    return {"period": period, "level": level, "unit_id": unit_id,
            "results": matrix(level, chosen, key="year" if unit else "unit_id"),
            "units": matrix("school_unit", units_cells) if units_cells else None,
            "trend": trend, "gap": gap, "coverage": coverage, "compliance": compliance_table,
            "alerts": alerts, "support": support_summary, "lika": lika, "names": names, "away": away}


def _context(session: Any, organiser: str, unit: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"organiser": organiser, "unit": unit, "data": data, "today": school_today().isoformat(), "page": "rapport",
            "session": session, "principal": session.principal}


@router.get("/rapport")
async def report(request: Request, session: Current, api: Api, huvudman: Organiser = None, enhet: Unit = None,
                 lasar: SchoolYear = None, termin: Term = None) -> Response:
    organiser = organiser_of(session, huvudman)
    data = await report_data(api, organiser, enhet, lasar, termin, support=reads_support(session.principal))
    context = _context(session, organiser, enhet, data)
    return render(request, "report.html", session, **{k: v for k, v in context.items()
                                                        if k not in ("session", "principal")})


@router.get("/rapport.pdf")
async def report_pdf(request: Request, session: Current, api: Api, huvudman: Organiser = None, enhet: Unit = None,
                     lasar: SchoolYear = None, termin: Term = None) -> Response:
    organiser = organiser_of(session, huvudman)
    data = await report_data(api, organiser, enhet, lasar, termin, support=reads_support(session.principal))
    html = templates.get_template("report.html").render({**_context(session, organiser, enhet, data),
                                                          "request": request, "printing": True})
    try:
        pdf = await html_to_pdf(html, STYLESHEET, chromium=request.app.state.settings.chromium)
    except PdfUnavailable as error:
        answer = render(request, "error.html", session, status_code=503, title="PDF kunde inte skapas",
                        message=f"{error}. Skriv ut sidan från webbläsaren i stället (Skriv ut → Spara som PDF).")
        if isinstance(error, PdfBusy):
            answer.headers["Retry-After"] = "10"
        return answer
    # the period is reporting's when the page named none: any text (`attachment_header` keeps it a name)
    name = f"kvalitetsrapport-{enhet or organiser}-{data['period'].term}-{data['period'].school_year}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": attachment_header(name)})
