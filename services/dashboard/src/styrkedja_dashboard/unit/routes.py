"""A school unit's page (reached as /kedjan?enhet=…): heat map of subject × year, term history
chart, forecast against outcome, merit value and eligibility (year 9), students at risk (scoped by
the service) and the unit's alerts."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from styrkedja_contracts.subjects import subject_name

from ..chain.view import Matrix
from ..clients import Reporting, query_string
from ..figures import FigureTable, Value
from ..names import unit_names
from ..period import Period, choose
from ..reads import Unavailable
from ..shapes import number, text
from ..web.pages import render
from ..web.sessions import Session

if TYPE_CHECKING:
    from ..chain.routes import Filters


def history_chart(history: FigureTable | None) -> dict[str, Any]:
    """Series per subject (and year, where the unit has several) over the periods, oldest first;
    a withheld share is a gap in the line (null), never a guess."""
    if history is None:
        return {"periods": [], "series": []}
    periods: list[str] = []
    series: dict[str, dict[str, float | None]] = {}
    years = {text(r["year"].value) for r in history.rows}
    for row in history.rows:
        period = text(row["period"].value) or "–"
        if period not in periods:
            periods.append(period)
        name = subject_name(text(row["subject_code"].value) or "–")
        if len(years) > 1:
            name += f" åk {text(row['year'].value) or '–'}"
        share: Value = row.get("share", Value(None))
        series.setdefault(name, {})[period] = number(share.value)
    return {"periods": periods,
            "series": [{"name": n, "data": [v.get(p) for p in periods]} for n, v in sorted(series.items())]}


async def unit_data(api: Reporting, organiser: str, unit: str, period: Period,
                    away: Unavailable | None = None) -> dict[str, Any]:
    """The unit page's sections beside its heat map; one whose service is away for now is left out and named in
    `away`."""
    away = Unavailable() if away is None else away
    base = {"level": "school_unit", "organiser_id": organiser, "unit_id": unit}
    history, outcome, merit, at_risk, alerts = await asyncio.gather(
        away.optional_figure("terminshistorik", api, "history", periods=6, **base, **period.params()),
        away.optional_figure("prognos mot utfall", api, "forecast-outcome", **base, school_year=period.school_year,
                             term=period.term),
        away.optional_figure("meritvärde", api, "merit", **base, school_year=period.school_year, term=period.term),
        away.optional("elever i riskzonen", api.students_at_risk(unit, school_year=period.school_year,
                                                                 term=period.term)),
        away.optional("larm", api.alerts(organiser_id=organiser, school_unit_code=unit)))
    return {"history": history, "chart": history_chart(history), "outcome": outcome, "merit": merit,
            "at_risk": at_risk, "alerts": alerts}


async def unit_page(request: Request, session: Session, api: Reporting, organiser: str, f: Filters,
                    found: dict[str, Matrix | None]) -> Response:
    assert f.enhet is not None
    years = found.get("years")
    period = choose(f.lasar, f.termin, f.omgang, years.cells if years else [])
    away = Unavailable()
    data, names = await asyncio.gather(unit_data(api, organiser, f.enhet, period, away), unit_names(api, organiser))
    figure_query = query_string(level="school_unit", organiser_id=organiser, unit_id=f.enhet,
                                school_year=period.school_year, term=period.term)
    return render(request, "unit.html", session, f=f, organiser=organiser, tables=found, period=period,
                  data=data, chart_json=json.dumps(data["chart"], ensure_ascii=False).replace("<", "\\u003c"), figure_query=figure_query,
                  page="kedjan", unit_names=names, away=away, own_units=sorted(session.principal.school_units) if session.principal else [])
