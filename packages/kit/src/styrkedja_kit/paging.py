"""Keyset paging of a list read, as LIKA's list of a unit's self-assessments pages: a first page without `after`, each
next named by the `Link` header (`<path?query&after=…>; rel="next"`), none on the last; `limit` rows a page.

A page starts after a position in the list's order — the sort key and the id of the previous page's last row —
never at an offset: a row arriving between two pages (before the position, as the newest does in a newest-first
list) moves no other row into or out of the next page, so none is skipped or repeated. LIKA's `after` is the last
row's id, looked up again; a list ordered by something that changes (an alert's `changed_at`) would find that row
elsewhere by the next page, so here the cursor carries the position itself: the sort key's moment and the id, as
the service wrote them (`cursor_of`). A list whose ids count other tenants' rows (the audit trail's one sequence)
names the row by a random reference of its own beside the moment instead (`auth.audit.position_at`): a cursor tells
nothing a row of the page did not, and names the row whatever is committed since (a count of the rows left at the
moment did not: a row committed later at that moment shifted it). Any other text, a cursor edited or made up, is a 422 naming `after` and the
rule `page_cursor`: only one the service wrote is read (it is written again and compared)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from .rules import RuleViolation

__all__ = ["CURSOR_MAX_LENGTH", "CURSOR_PATTERN", "CURSOR_RULE", "LINK_HEADER", "after_query", "cursor_of",
           "next_page", "position_of"]

#: the rule a cursor the service did not write breaks
CURSOR_RULE = "page_cursor"
#: a cursor is at most this long (a moment and a UUID, an integer or 32 hex digits, in base64)
CURSOR_MAX_LENGTH = 120
#: and in URL-safe base64's alphabet, unpadded (its documented pattern)
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"

Id = TypeVar("Id", UUID, int, str)

#: the `Link` header of a paged read's 200, for its OpenAPI document
LINK_HEADER: dict[str, Any] = {
    "description": "`<path?…&after=CURSOR>; rel=\"next\"` (the request's path and query, `after` naming the page's "
                   "last row) when there is a next page; absent on the last page.",
    "schema": {"type": "string"}}


def after_query(order: str) -> Any:
    """The `after` query parameter of a list in `order` (its default, bounds and description)."""
    return Query(None, min_length=1, max_length=CURSOR_MAX_LENGTH, pattern=CURSOR_PATTERN, description=(
        f"The next page: the rows after the previous page's last in the list's order ({order}), as its "
        "`Link: rel=\"next\"` names it; omitted: the first page. Only a cursor the service wrote is taken "
        f"(anything else: 422 `{CURSOR_RULE}`). A row arriving between two pages moves no other into or out of "
        "the next."))


def cursor_of(at: datetime, row_id: UUID | int | str) -> str:
    """The cursor of a position: the moment (in UTC, to the microsecond) and the id, in URL-safe base64."""
    text = f"{at.astimezone(UTC).isoformat(timespec='microseconds')}|{row_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def position_of(after: str | None, id_type: Callable[[str], Id]) -> tuple[datetime, Id] | None:
    """The position a cursor names (None: the first page); a 422 naming `after` unless `cursor_of` wrote it."""
    if after is None:
        return None
    try:
        text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode("ascii")
        moment, _, id_text = text.partition("|")
        at = datetime.fromisoformat(moment)
        position = (at, id_type(id_text))
        if at.tzinfo is None or cursor_of(*position) != after:  # its one spelling: the service's own
            raise ValueError(after)
    except (ValueError, OverflowError, binascii.Error, UnicodeError):
        raise RuleViolation("after", CURSOR_RULE, "not a cursor of this list: give the `after` the previous page's "
                            "`Link: rel=\"next\"` names, or none for the first page") from None
    return position


def next_page(request: Request, response: Response, cursor: str | None) -> None:
    """The `Link` header naming the next page (the request's path and query, `after` the cursor); none when None."""
    if cursor is not None:
        # path and query, no host: the client asked this host (a proxy's own name is not the one this process sees)
        following = request.url.include_query_params(after=cursor)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
