"""The audit trail of student-level reads, for the organiser admin of that organiser."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, Role, authorize
from styrkedja_kit.auth.audit import AUDIT_PAGE_MAX, audit_trail, position_at
from styrkedja_kit.inputs import OrganiserIdParam
from styrkedja_kit.paging import CURSOR_RULE, LINK_HEADER, after_query, cursor_of, next_page, position_of
from styrkedja_kit.rules import RuleViolation

from .tables import audit_reads

router = APIRouter(prefix="/v1/audit", tags=["access"])


def _ref(text: str) -> str:
    """A cursor's name of a read (its `ref`), in the one spelling the service writes: 32 lower-case hex digits."""
    if not _REF.fullmatch(text):
        raise ValueError(text)
    return text


_REF = re.compile(r"[0-9a-f]{32}")


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
    told = position_of(after, _ref)
    if organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser's audit trail")
    # the cursor tells the last row's moment and its random ref, never its id: the table's one sequence counts every
    # organiser's reads (round 30h); the page after it is keyed by the id found again here (`position_at`)
    async with runtime_of(request).db.sessions() as session:
        position = None if told is None else await position_at(session, audit_reads, organiser_id, told[0],
                                                                 UUID(hex=told[1]))
        if told is not None and position is None:
            raise RuleViolation("after", CURSOR_RULE, "not a cursor of this organiser's trail: give the `after` the "
                                "previous page's `Link: rel=\"next\"` names, or none for the first page")
        rows = await audit_trail(session, audit_reads, organiser_id, since=since, until=until, after=position,
                                 limit=limit + 1)
    page = rows[:limit]
    next_page(request, response, cursor_of(page[-1]["at"], page[-1]["ref"].hex) if len(rows) > limit else None)
    return [AuditRow(**{k: v for k, v in row.items() if k not in ("id", "ref")}) for row in page]
