"""GET /rapportering: the current reporting window's who-has-not-reported list — per school unit
(the organiser's view), per teacher and the missing reports of one unit — with reporting's own
CSV/xlsx."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..clients import Reporting, query_string
from ..figures import FigureTable, Row, Value, figure_table
from ..names import UnitNames, unit_names
from ..period import current_school_year
from ..reads import Unavailable
from ..shapes import text
from ..web.pages import Current, organiser_of, render, reporting

router = APIRouter()

LISTS = {"teacher": "per lärare", "group": "per grupp", "group_subject": "per grupp och ämne",
         "teacher_group_subject": "per lärare, grupp och ämne", "unassigned": "utan ansvarig lärare"}

#: the page's sections as `Unavailable` notes them: the beginnings of their captions (the unit's list's caption begins
#: with the unit's name, so it is matched by this word: the template's `section`)
UNITS, UNIT_LIST, MISSING = "rapporteringsgrad per skolenhet", "enhetens lista", "saknade prognoser"

STATUS_WORDS = {"missing": "saknas", "late": "sent", "on_time": "i tid", "unassigned": "utan ansvarig lärare"}


def shown(table: FigureTable | None) -> FigureTable | None:
    """For the page: columns the list does not use (every value missing, e.g. group and subject in the
    per-teacher list) left out, and the service's status codes in Swedish. Pure."""
    if table is None:
        return None
    columns = [c for c in table.columns if not table.rows or any(not r[c.key].missing for r in table.rows)]
    rows: list[dict[str, Value]] = [Row({k: Value(STATUS_WORDS.get(v.value, v.value), v.reason) if k == "status" and isinstance(v.value, str)
             else v for k, v in r.items()}) for r in table.rows]
    return FigureTable(columns, rows)


def named_groups(table: FigureTable | None, names: UnitNames, school_unit_code: str) -> FigureTable | None:
    """A unit's list with each group by its directory name (the source's group id, a key no person reads, where
    the directory has none). Pure."""
    if table is None:
        return None
    rows: list[dict[str, Value]] = []
    for row in table.rows:
        group = row.get("group_id")
        found = text(group.value) if group is not None else None
        named = names.known.get(("group", f"{school_unit_code}/{found}")) if found else None
        rows.append(Row({**row, "group_id": Value(named, group.reason)}) if named and group is not None else row)
    return FigureTable(table.columns, rows)


@router.get("/rapportering")
async def compliance(request: Request, session: Current, api: Annotated[Reporting, Depends(reporting)],
                     huvudman: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
                     enhet: Annotated[str | None, Query(pattern=r"^[0-9]{8}$")] = None,
                     lasar: Annotated[str | None, Query(pattern=r"^[0-9]{4}/[0-9]{2}$")] = None,
                     termin: Annotated[Literal["HT", "VT"] | None, Query()] = None,
                     lista: Annotated[Literal["teacher", "group", "group_subject", "teacher_group_subject",
                                              "unassigned"], Query()] = "teacher") -> Response:
    organiser = organiser_of(session, huvudman)
    school_year, term = current_school_year()
    school_year, term = lasar or school_year, termin or term
    # a section reporting refuses the reader's role (a principal's per-unit view) says so, not "no permission for
    # this level" (`Unavailable.refused`, as the other pages read); reporting away is the page's error, as before
    refused = Unavailable()
    units_read = refused.refused(UNITS, api.compliance(organiser, school_year=school_year, term=term))
    if enhet:
        units, unit_list, missing, names = await asyncio.gather(
            units_read, refused.refused(UNIT_LIST, api.compliance(organiser, school_year=school_year, term=term,
                                                                  school_unit_code=enhet, list=lista)),
            refused.refused(MISSING, api.compliance_items(organiser, enhet, school_year=school_year, term=term)),
            unit_names(api, organiser))
    else:
        (units, names), unit_list, missing = await asyncio.gather(units_read, unit_names(api, organiser)), None, None
    window = query_string(organiser_id=organiser, school_year=school_year, term=term)
    return render(request, "compliance.html", session, organiser=organiser, enhet=enhet, school_year=school_year,
                  term=term, lista=lista, lists=LISTS,
                  units=None if units is None else shown(figure_table(units)),
                  unit_list=None if unit_list is None else named_groups(shown(figure_table(unit_list)), names,
                                                                        enhet or ""),
                  missing=None if missing is None else shown(figure_table(missing)),
                  window=window, unit_query=window + (f"&school_unit_code={enhet}&list={lista}" if enhet else ""),
                  page="rapportering", unit_names=names, refused=refused, unit_list_section=UNIT_LIST,
                  unit_link=lambda code: "/rapportering?" + query_string(huvudman=organiser, enhet=code,
                                                                          lasar=school_year, termin=term))
