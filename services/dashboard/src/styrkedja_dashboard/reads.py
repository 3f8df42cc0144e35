"""Reads a page may do without: a figure the service has none of for the user (scope) or cannot
give for the choice is left out of the page, which says so; other errors are the page's error.
A figure that only adds to a page (a trend beside the share) and whose service is away for a moment is
left out too, named in the page's list of what could not be fetched (`Unavailable`): the page is shown
with what there is, not a 503 for the whole of it."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from styrkedja_kit.auth import ROLE_RULE

from .clients import Reporting, UpstreamError
from .figures import FigureTable, figure_table

T = TypeVar("T")
OPTIONAL = (403, 404, 422)


async def or_none(read: Awaitable[T]) -> T | None:
    try:
        return await read
    except UpstreamError as error:
        if error.status in OPTIONAL:
            return None
        raise


async def figure_or_none(api: Reporting, name: str, **params: object) -> FigureTable | None:
    body = await or_none(api.figure(name, **params))  # type: ignore[arg-type]
    return None if body is None else figure_table(body)


class Unavailable(list[str]):
    """What a page could not fetch just now (the service busy, unreachable or slow), in the words the page
    uses; the page says so and how to get it (reload in a moment). And, apart (`not_for_role`), what the service
    refuses the reader's roles: the page says the section is not for the role — "no permission for this level" was
    said of the very level the page showed (an ICT coordinator's or a politician's alerts, the coordinator's support)."""

    def __init__(self) -> None:
        super().__init__()
        self.not_for_role: list[str] = []

    async def optional(self, what: str, read: Awaitable[T]) -> T | None:
        """`read`'s answer; None where its service refuses it (`refused`) or is away for now (`unless_away`)."""
        return await self.refused(what, self.unless_away(what, read))

    async def refused(self, what: str, read: Awaitable[T]) -> T | None:
        """`read`'s answer; None where its service refuses it (`OPTIONAL`: `what` noted as not for the reader's role
        where the refusal names `ROLE_RULE`), as `or_none` reads — for a page whose service away is its error (the
        compliance page: its every section is reporting's)."""
        try:
            return await read
        except UpstreamError as error:
            if error.status not in OPTIONAL:
                raise
            if error.status == 403 and ROLE_RULE in error.rules:
                self.not_for_role.append(what)
            return None

    async def optional_figure(self, what: str, api: Reporting, name: str, **params: object) -> FigureTable | None:
        """A figure table, as `optional` reads."""
        body = await self.optional(what, api.figure(name, **params))  # type: ignore[arg-type]
        return None if body is None else figure_table(body)

    async def refused_to_role(self, what: str) -> None:
        """No read: `what` is known not to be for the reader's roles (the kit's policy), so it is not asked."""
        self.not_for_role.append(what)

    def not_for(self, caption: object) -> bool:
        """Whether a section of this caption is one the service refuses the reader's roles."""
        return isinstance(caption, str) and any(caption.lower().startswith(what) for what in self.not_for_role)

    async def unless_away(self, what: str, read: Awaitable[T]) -> T | None:
        """`read`'s answer; None, with `what` noted, when its service is away for now (503) or answered with an
        error (502)."""
        try:
            return await read
        except UpstreamError as error:
            if error.status in (502, 503):
                self.append(what)
                return None
            raise

    def covers(self, caption: object) -> bool:
        """Whether a section of this caption is one that could not be fetched (the page says so, not "no
        permission")."""
        return isinstance(caption, str) and any(caption.lower().startswith(what) for what in self)
