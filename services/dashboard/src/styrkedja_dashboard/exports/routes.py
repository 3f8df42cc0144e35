"""GET /ladda-ner/{table}.{csv|xlsx}: reporting's own CSV and xlsx of a table the page shows,
fetched with the signed-in user's token and passed through (the service applies scope and
suppression: `..` in the file where the page shows `..`). Only the tables named here, only the
parameters they take."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection
from typing import Annotated, Literal
from urllib.parse import unquote

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response, StreamingResponse

from styrkedja_contracts.identifiers import BIDI_CONTROLS, canonical_organiser_id

from ..clients import Reporting
from ..downloads import attachment_header
from ..web.methods import HEAD_ONLY
from ..web.pages import Current, reporting

router = APIRouter()

#: each table's own parameters exactly: reporting refuses a query parameter its operation does not take
#: (`unknown_parameter`), so a name another table takes is not passed on
_FIGURE = ("level", "organiser_id", "unit_id", "subject_code", "school_year", "term", "round", "year")
_WINDOW = ("school_year", "term")
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "resultat": ("/v1/results/assessments", ("level", "organiser_id", "unit_id", "subject_code", "school_year",
                                             "term", "round", "kind", "year", "gender", "split")),
    "prognoser": ("/v1/results/forecasts", ("level", "organiser_id", "unit_id", "subject_code", "school_year",
                                            "term", "year", "gender", "split")),
    "trend": ("/v1/figures/trend", (*_FIGURE, "compare", "gender")),
    "historik": ("/v1/figures/history", (*_FIGURE, "compare", "periods")),
    "konsskillnad": ("/v1/figures/gender-gap", _FIGURE),
    "aktualitet": ("/v1/figures/freshness", _FIGURE),
    "tackning": ("/v1/figures/coverage", _FIGURE),
    "nedbrytning": ("/v1/figures/drill-down", _FIGURE),
    "prognos-mot-utfall": ("/v1/figures/forecast-outcome", (*_FIGURE, "gender")),
    "meritvarde": ("/v1/figures/merit", (*_FIGURE, "gender")),
    "rapportering": ("/v1/compliance/organisers/{organiser_id}/school-units", _WINDOW),
    "rapportering-enhet": ("/v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}",
                           (*_WINDOW, "list", "only_missing")),
    "rapportering-saknas": ("/v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}/items",
                            (*_WINDOW, "status")),
    "lika-sammanstallning": ("/v1/lika/compilation", ("organiser_id", "school_unit_code", "area_id", "school_form",
                                                      "indicator_id", "lika_area")),
}
# matched whole (`fullmatch`): with `match`, `$` also takes a value ending in a newline
_PATH_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_QUERY_VALUE = re.compile(r"[\w ./:-]{0,100}")


def upstream_query(name: str, request: Request, *, organisers: Collection[str]) -> tuple[str, list[tuple[str, str]]]:
    """The service path and the query to send: path parameters filled from the query, the rest
    only among the table's own parameters. An `organiser_id` only among the session's `organisers` (in any
    spelling: sent in the token's), else a 403 before any read — as every page refuses one."""
    if name not in TABLES:
        # not echoed: any text fits in the path (`/ladda-ner/Din inloggning har gått ut, ring 070-….csv`), and the
        # page would have said it in the dashboard's own voice
        raise HTTPException(404, f"Tabellen finns inte. Tabellerna som kan laddas ner: {', '.join(TABLES)}.")
    path, allowed = TABLES[name]
    query = request.query_params
    chosen = query.get("organiser_id")
    if chosen is not None:
        if canonical_organiser_id(chosen) not in organisers:
            # the download was the one read that took any organiser to reporting, the refusal left to it
            raise HTTPException(403, "Du har inte behörighet till den huvudmannen.")
        query = QueryParams([(k, canonical_organiser_id(v) if k == "organiser_id" else v) for k, v in query.multi_items()])
    for field in re.findall(r"{(\w+)}", path):
        value = query.get(field)
        if not value or not _PATH_VALUE.fullmatch(value):
            raise HTTPException(422, f"Kontrollera: {field} (saknas eller har fel form).")
        path = path.replace("{" + field + "}", value)
    params: list[tuple[str, str]] = []
    for key, value in query.multi_items():
        if key in allowed:
            if not _QUERY_VALUE.fullmatch(value):
                raise HTTPException(422, f"Kontrollera: {key} (otillåtna tecken).")
            params.append((key, value))
    return path, params


@router.get("/ladda-ner/{name}.{fmt}")
async def download(request: Request, session: Current, api: Annotated[Reporting, Depends(reporting)], name: str,
                   fmt: Literal["csv", "xlsx"]) -> Response:
    path, params = upstream_query(name, request, organisers=session.principal.organisers if session.principal else ())
    upstream = await api.download(path, [*params, ("format", fmt)])
    return await passed_on(request, upstream, MEDIA_TYPES[fmt], attachment(upstream.headers.get("content-disposition"),
                                                                          f"{name}.{fmt}"))


#: what a download is served as, whatever the service said: a file, never a page of this site (a `text/html`
#: or `inline` answer would be shown as the dashboard's own page)
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
#: reporting's own (`exports.response.content_disposition`): an ASCII name, and the UTF-8 one percent-encoded
_DISPOSITION = re.compile(r'attachment; filename="[A-Za-z0-9 _.()-]{1,160}"(; filename\*=UTF-8\'\'[A-Za-z0-9%._~-]{1,600})?')


async def _as_it_arrives(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_bytes():
            yield chunk
    finally:
        await upstream.aclose()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


async def passed_on(request: Request, upstream: httpx.Response, media_type: str, disposition: str) -> Response:
    """A service's file (`Api.download`, still open) passed on as it arrives, then closed: an export of a million
    rows was read whole into memory first, and as many times at once as people asked for one. A service that
    goes away mid-file breaks the connection, so the browser sees the file unfinished, never a short one whole.
    For a HEAD (`web.methods.HEAD_ONLY`) the service's file is closed once its headers are in: a HEAD of an export
    was the whole export read from the service and thrown away."""
    headers = {"Content-Disposition": disposition}
    if request.scope.get(HEAD_ONLY):
        await upstream.aclose()
        return StreamingResponse(_nothing(), media_type=media_type, headers=headers)
    return StreamingResponse(_as_it_arrives(upstream), media_type=media_type, headers=headers)


def attachment(said: str | None, fallback: str) -> str:
    """The service's own `attachment; filename="…"` when it is of plain characters — its UTF-8 name too, once
    decoded (`_plain_name`) — else the fallback name."""
    found = _DISPOSITION.fullmatch(said) if said is not None else None
    if found is not None and (found.group(1) is None or _plain_name(found.group(1))):
        return found.group(0)
    return attachment_header(fallback)


#: what a file's name must not hold once decoded: controls, the bidirectional controls (`Rapport<U+202E>xslx.exe`
#: is shown as `Rapportexe.xlsx`), path separators, and a name of dots alone
_NOT_IN_A_NAME = re.compile("[\x00-\x1f\x7f-\x9f/\\:*?\"<>|" + BIDI_CONTROLS + "\u200b-\u200f\u2028\u2029\ufeff]")


def _plain_name(parameter: str) -> bool:
    """`; filename*=UTF-8''…`'s name, percent-decoded as UTF-8: a name a person reads as it is stored."""
    try:
        name = unquote(parameter.partition("''")[2], errors="strict")
    except UnicodeDecodeError:
        return False
    return bool(name.strip(". ")) and _NOT_IN_A_NAME.search(name) is None
