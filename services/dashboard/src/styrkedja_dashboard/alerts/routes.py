"""GET /larm (open alerts with filters, a page at a time, CSV/xlsx of every one) and POST /larm/{id}/kvittera
(acknowledge with a comment; CSRF-checked, then back to the list)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator
from starlette.responses import RedirectResponse, Response

from styrkedja_contracts.identifiers import check_text

from ..clients import Reporting, UpstreamError, query_string
from ..downloads import csv_response, xlsx_response
from ..names import NO_NAMES, UnitNames, unit_names
from ..shapes import number
from ..web.forms import PAGE_CURSOR_RULE
from ..web.pages import Current, organiser_of, render, reporting
from ..web.security import check_csrf, safe_next

router = APIRouter()

RULES = {"pass_share_drop": "Andelen har sjunkit", "below_forecast": "Utfallet under prognosen",
         "freshness_red": "Gammalt underlag"}
STATUSES = {"open": "öppet", "acknowledged": "kvitterat", "resolved": "åtgärdat"}
ALL = "alla"  # the status filter's "every status" (an empty choice would mean the default, open)
UNIT = r"^[A-Za-z0-9_./:-]{1,64}$"
Api = Annotated[Reporting, Depends(reporting)]


def _filters(organiser: str, enhet: str | None, status: str | None, regel: str | None,
             amne: str | None) -> dict[str, Any]:
    return {"organiser_id": organiser, "school_unit_code": enhet, "status": None if status == ALL else status,
            "rule": regel, "subject_code": amne}


async def _alerts(api: Reporting, organiser: str, enhet: str | None, status: str | None, regel: str | None,
                  amne: str | None) -> list[dict[str, Any]]:
    return await api.alerts(**_filters(organiser, enhet, status, regel, amne))


Status = Annotated[Literal["open", "acknowledged", "resolved", "alla"], Query()]
Rule = Annotated[Literal["pass_share_drop", "below_forecast", "freshness_red"] | None, Query()]
Unit = Annotated[str | None, Query(pattern=r"^[0-9]{8}$")]
Subject = Annotated[str | None, Query(pattern=r"^[A-Z0-9]{3,16}$")]
Organiser = Annotated[str | None, Query(pattern=UNIT)]
#: the next page's position as reporting's `Link: rel="next"` named it (its cursor's length and alphabet: anything
#: else is refused here, naming this page's field, before reporting refuses it naming its own)
After = Annotated[str | None, Query(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_-]+$")]


async def _page(api: Reporting, efter: str | None, filters: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A page of alerts; a cursor reporting refuses as none of its own (an edited `efter`, or one of another
    choice's list) is this page's 422 naming `efter`, not reporting's naming its `after` in English."""
    try:
        return await api.alert_page(after=efter, **filters)
    except UpstreamError as error:
        if efter is not None and error.status == 422 and PAGE_CURSOR_RULE in error.rules:
            raise RequestValidationError([{"loc": ("query", "efter"), "type": PAGE_CURSOR_RULE,
                                           "msg": "not a cursor of this list"}]) from None
        raise


@router.get("/larm")
async def alert_list(request: Request, session: Current, api: Api, huvudman: Organiser = None, enhet: Unit = None,
                     status: Status = "open", regel: Rule = None, amne: Subject = None,
                     kvitterat: Annotated[bool, Query()] = False, efter: After = None) -> Response:
    """A page of `ALERT_PAGE` alerts, and a link to the next where reporting names one (`efter`, its cursor): the
    list is paged by reporting, and the page showed its first page as if it were every alert."""
    organiser = organiser_of(session, huvudman)
    (found, following), names = await asyncio.gather(
        _page(api, efter, _filters(organiser, enhet, status, regel, amne)), unit_names(api, organiser))
    query = query_string(huvudman=organiser, enhet=enhet, status=status, regel=regel, amne=amne)
    return render(request, "alerts.html", session, organiser=organiser, alerts=found, enhet=enhet, status=status,
                  regel=regel, amne=amne, rules=RULES, statuses=STATUSES, query=query, done=kvitterat, page="larm",
                  unit_names=names, withheld_of=withheld_figures, efter=efter,
                  this_page=f"{query}&{query_string(efter=efter)}" if efter else query,
                  # encoded as every value of a query: the cursor is reporting's text, not the page's
                  following=following and f"{query}&{query_string(efter=following)}")


@router.get("/larm/export.{fmt}")
async def alert_export(session: Current, api: Api, fmt: Literal["csv", "xlsx"], huvudman: Organiser = None,
                       enhet: Unit = None, status: Status = "open", regel: Rule = None,
                       amne: Subject = None) -> Response:
    organiser = organiser_of(session, huvudman)
    found, names = await asyncio.gather(_alerts(api, organiser, enhet, status, regel, amne),
                                        unit_names(api, organiser))
    header = ["Nivå", "Enhet", "Namn", "Ämne", "Årskurs", "Läsår", "Termin", "Omgång", "Larm", "Status", "Andel",
              "Jämförd andel", "Förändring (procentenheter)", "Elever", "Larmat", "Kommentar"]
    rows = [_row(a, names) for a in found if isinstance(a, dict)]
    rows = [[float(n) if (n := number(v)) is not None and i in SHARES else v for i, v in enumerate(r)]
            for r in rows]
    if fmt == "csv":
        return csv_response(f"larm-{organiser}", header, rows)
    return xlsx_response(f"larm-{organiser}", header, rows, share_columns=SHARES)  # the change is in points


#: the download's share columns (the share and the compared share)
SHARES = {10, 11}
#: the figures an alert of a rule is raised on: an open or acknowledged one has them, so one sent without them is one
#: reporting withholds from this reader (a figure no count as shown gives, where counts are rounded), not one missing
RAISED_ON = {"pass_share_drop": ("share", "compared_share", "change_points"), "below_forecast": ("change_points",)}
#: the alerts still standing on the figures they were raised on (a resolved one's are of its resolution: may be none)
STANDING = ("open", "acknowledged")
#: a withheld figure in a download, as the chain's tables write it (`chain.view.table`)
WITHHELD = ".."


def withheld_figures(alert: dict[str, Any]) -> frozenset[str]:
    """Pure: the figures of `alert` withheld from the reader — shown as `..` with the reason, as every withheld
    figure is, not as a dash (no figure) or left out."""
    figures = alert.get("figures")
    if alert.get("status") not in STANDING or not isinstance(figures, dict):
        return frozenset()
    rule = alert.get("rule")
    raised_on = RAISED_ON.get(rule, ()) if isinstance(rule, str) else ()
    return frozenset(k for k in raised_on if figures.get(k) is None)


def _row(alert: dict[str, Any], names: UnitNames = NO_NAMES) -> list[Any]:
    """One alert as a download row; a field reporting left out (another version, or a hostile one) is an
    empty cell, as on the page, never a 500. The unit's name beside its id (empty where none is known)."""
    a, figures = alert.get, alert.get("figures")
    f = (figures if isinstance(figures, dict) else {}).get
    rule, status, raised = a("rule"), a("status"), a("raised_at")
    withheld = withheld_figures(alert)
    return [a("level"), a("unit_id"), names.name(a("level"), a("unit_id")), a("subject_code"), a("year"), a("school_year"), a("term"), a("round"),
            RULES.get(rule, rule) if isinstance(rule, str) else rule,
            STATUSES.get(status, status) if isinstance(status, str) else status,
            *(WITHHELD if k in withheld else f(k) for k in ("share", "compared_share", "change_points")), f("students"),
            str(raised)[:16].replace("T", " ") if raised is not None else None, a("comment")]


@router.post("/larm/{alert_id}/kvittera")
async def acknowledge(request: Request, session: Current, api: Api, alert_id: UUID,
                      csrf: Annotated[str | None, Form()] = None,
                      # the contracts' text rules, judged here: a personal identity number in a comment was sent on to
                      # reporting (which refused it, in English, naming its own field); now a 422 naming this form's
                      kommentar: Annotated[str, Form(min_length=1, max_length=2000), AfterValidator(check_text)] = "",
                      tillbaka: Annotated[str | None, Form(max_length=500)] = None) -> Response:
    check_csrf(session.csrf, csrf)
    await api.acknowledge(str(alert_id), kommentar.strip())
    # back to the alert list the form came from, never elsewhere (`/larm` itself or its query, a local path)
    back = safe_next(tillbaka, "/larm")
    back = back if back == "/larm" or back.startswith("/larm?") else "/larm"
    return RedirectResponse(back + ("&" if "?" in back else "?") + "kvitterat=true", status_code=303)
