"""The audit trail of student-level reads, for the organiser admin of that organiser."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, Role, authorize
from styrkedja_kit.auth.audit import AUDIT_AT_ONE_MOMENT_MAX, AUDIT_PAGE_MAX, audit_trail, position_at, rows_left_at
from styrkedja_kit.inputs import OrganiserIdParam
from styrkedja_kit.paging import LINK_HEADER, after_query, cursor_of, next_page, position_of
from styrkedja_kit.rules import RuleViolation

from .tables import audit_reads

router = APIRouter(prefix="/v1/audit", tags=["access"])


def _left(text: str) -> int:
    """A cursor's count of rows left at its moment (`rows_left_at`); out of its bounds: no cursor the service wrote
    (a number past PostgreSQL's bigint was a 500, and the connection's next request was reset)."""
    left = int(text)
    if not 0 <= left <= AUDIT_AT_ONE_MOMENT_MAX:
        raise ValueError(text)
    return left


class AuditRow(BaseModel):
    at: datetime
    subject: str
    client_id: str | None = None
    roles: str
    organiser_id: str | None = None
    level: str
    what: str
    scope: dict[str, Any]


@router.get("/reads", response_model=list[AuditRow],
            responses={200: {"description": "A page of the trail; the next page, if any, is named by the `Link` "
                                            "header", "headers": {"Link": LINK_HEADER}}})
async def audit_reads_of(*, request: Request, response: Response, organiser_id: Annotated[OrganiserIdParam, Query()],
                         since: datetime | None = Query(None, description="From this moment on (included)."),
                         until: datetime | None = Query(None, description="Before this moment (not included); not "
                                                        "before `since` (equal: an empty window)."),
                         after: str | None = after_query("newest first"),
                         limit: int = Query(1000, ge=1, le=AUDIT_PAGE_MAX,
                                            description=f"At most this many on a page (1-{AUDIT_PAGE_MAX})"),
                         principal: Principal = authorize(Role.ORGANISER_ADMIN, description="audit trail")
                         ) -> list[AuditRow]:
    """Who read student-level data of this organiser, newest first (who, role, what, when), a page at a time: a first
    page without `after`, each next named by the `Link` header (`rel="next"`), none on the last. A read recorded
    while a client pages is before its first page: every row of the window is on exactly one page."""
    if since is not None and until is not None and until < since:
        # compared as instants: `until=…T02:30:00+02:00` is before `since=…T02:30:00+01:00` (the repeated hour of the
        # last Sunday of October), though its text is not; a window ending before it starts was answered as empty,
        # as if no one had read anything (swapped bounds, most often)
        raise RuleViolation("until", "not_before_since", "until must not be before since (they are compared as "
                            "instants, whatever offset each is written with)")
    told = position_of(after, _left)
    if organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser's audit trail")
    # the cursor tells the last row's moment and how many of this organiser's rows at it are left, never the row's
    # id: the table's one sequence counts every organiser's reads (round 30h)
    async with runtime_of(request).db.sessions() as session:
        position = None if told is None else await position_at(session, audit_reads, organiser_id, *told)
        rows = await audit_trail(session, audit_reads, organiser_id, since=since, until=until, after=position,
                                 limit=limit + 1)
        page = rows[:limit]
        cursor = None if len(rows) <= limit else cursor_of(page[-1]["at"], await rows_left_at(
            session, audit_reads, organiser_id, page[-1]["at"], page[-1]["id"]))
    next_page(request, response, cursor)
    return [AuditRow(**{k: v for k, v in row.items() if k != "id"}) for row in page]
