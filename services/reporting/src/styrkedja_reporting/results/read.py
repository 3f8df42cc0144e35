"""The one read path: every endpoint gets its cells from `read_cells`.

`scope` is the seam for access control: None = everything (no caller scope yet); the access
feature will narrow the rows by the caller's scope here and suppress small cells in `_cells`,
so no route can forget either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass

from .rules import GROUP_SEPARATOR, share
from .tables import STORES

Level = Literal["student", "group", "school_unit", "area", "organiser", "nation"]
Kind = Literal["assessments", "forecasts"]
Split = Literal["gender", "year"]


class ResultCell(BaseModel):
    """One cell of the report: a unit at one level, one subject and period."""

    level: Level
    unit_id: str
    school_unit_code: str | None = None  # groups: the school unit that scopes the group id
    group_id: str | None = None
    subject_code: str
    school_year: str
    term: str
    round: int | None = None
    kind: str | None = None
    scale: str
    gender: str | None = None
    year: int | None = None
    distribution: dict[str, int]
    assessed: int
    reaching_pass: int
    share_reaching_pass: float | None


@dataclass(frozen=True)
class Filters:
    organiser_id: str | None = None
    unit_id: str | None = None
    subject_code: str | None = None
    school_year: str | None = None
    term: str | None = None
    round: int | None = None
    kind: str | None = None
    year: int | None = None
    gender: str | None = None
    split: Sequence[Split] = field(default_factory=tuple)


@dataclass(frozen=True)
class Scope:
    """What a caller may see (filled in by the access feature)."""

    organiser_ids: frozenset[str] | None = None


def scoped(query: Any, organiser_column: Any, scope: Scope | None) -> Any:
    """The seam every read (results and figures) goes through: narrow `query` to the caller's scope."""
    if scope is not None and scope.organiser_ids is not None:
        query = query.where(organiser_column.in_(sorted(scope.organiser_ids)))
    return query


_GROUP_BY = {"assessments": ("level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale"),
             "forecasts": ("level", "unit_id", "subject_code", "school_year", "term")}


async def read_cells(session: AsyncSession, kind: Kind, level: Level, filters: Filters,
                     scope: Scope | None = None) -> list[ResultCell]:
    store = STORES[kind]
    group_by = [*_GROUP_BY[kind], *filters.split]
    if level == "student":  # the facts are the student level (see rules.MATERIALISED)
        facts = store.facts.c
        source = {**{c.name: c for c in facts}, "unit_id": facts.student_id}
        condition = ~facts[store.hidden]
        count: Any = func.count()
    else:
        agg = store.aggregates.c
        source = {c.name: c for c in agg}
        condition = agg.level == level
        count = func.sum(agg.count)
    keys = [source[name].label(name) for name in group_by if name != "level"]
    query = select(literal(level).label("level"), *keys, source["value"], count.label("count")).where(condition)
    for name in ("organiser_id", "unit_id", "subject_code", "school_year", "term", "round", "kind", "year",
                 "gender"):
        value = getattr(filters, name)
        if value is not None and name in source:
            query = query.where(source[name] == value)
    query = scoped(query, source["organiser_id"], scope)
    grouping = [source[name] for name in group_by if name != "level"]
    rows = (await session.execute(query.group_by(*grouping, source["value"]).order_by(
        *grouping, source["value"]))).all()
    scale_of = (lambda cell: Scale(cell.pop("scale"))) if kind == "assessments" else (lambda cell: Scale.THREE_LEVEL)
    return _cells(rows, group_by, scale_of)


def _cells(rows, group_by: list[str], scale_of) -> list[ResultCell]:
    cells: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(getattr(row, name) for name in group_by)
        cell = cells.setdefault(key, {**dict(zip(group_by, key, strict=True)), "distribution": {}})
        cell["distribution"][row.value] = cell["distribution"].get(row.value, 0) + int(row.count)
    out = []
    for cell in cells.values():
        scale = scale_of(cell)
        assessed = sum(cell["distribution"].values())
        passing = sum(n for value, n in cell["distribution"].items() if reaches_pass(scale, value))
        if cell["level"] == "group":
            cell["school_unit_code"], cell["group_id"] = cell["unit_id"].split(GROUP_SEPARATOR, 1)
        out.append(ResultCell(**cell, scale=scale.value, assessed=assessed, reaching_pass=passing,
                              share_reaching_pass=share(passing, assessed)))
    return out
