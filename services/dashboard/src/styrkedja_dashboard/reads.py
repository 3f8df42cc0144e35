"""Reads a page may do without: a figure the service has none of for the user (scope) or cannot
give for the choice is left out of the page, which says so; other errors are the page's error."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

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
