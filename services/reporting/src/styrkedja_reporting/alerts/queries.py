"""Queries of the alerts API: the list narrowed to a reader's scope, one alert and its
acknowledgement, an organiser's thresholds. The routes decide the scope (`read_scope.scope_of`) and
call these; the handlers keep their own batch queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, or_, select, true, union
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.sets import any_of

from .rules import Alert
from .tables import alert_comments, alert_thresholds, alerts


@dataclass(frozen=True)
class AlertScope:
    """What a caller may see (filled in by the access feature): None = no limit on that axis.

    `school_unit_codes` and `area_ids` only narrow the candidates in SQL (group and school-unit alerts of those
    units, area alerts of those areas); the route then keeps the rows the reader may read at their own level
    (`read_scope.readable_rows`, the kit's `may_read`): a teacher's group is not the whole school unit."""

    organiser_ids: frozenset[str] | None = None
    school_unit_codes: frozenset[str] | None = None  # a scoped reader: only group / school-unit alerts of these
    group_unit_ids: frozenset[str] = frozenset()  # ... group alerts of these (a teacher's groups, `<code>:<group>`)
    area_ids: frozenset[str] = frozenset()  # ... and area alerts of these (an area manager's areas)


def _list_order(table: Any) -> tuple[ColumnElement[Any], ...]:
    """The list's total order: newest change first, then by id (`ix_alerts_*_newest` hold it within each place)."""
    return table.c.changed_at.desc(), table.c.alert_id


def _conditions(table: Any, filters: dict[str, Any], after: tuple[datetime, UUID] | None
                ) -> list[ColumnElement[bool]]:
    """Every filter that is not None, and the rows after the position `after` in the list's order."""
    c = table.c
    found = [c[name] == value for name, value in filters.items() if value is not None]
    if after is not None:  # after it in this order: changed before it, or at the same moment with a greater id
        changed_at, alert_id = after
        # `<=` is implied by the OR below, but only it bounds an index scan: without it a later page scanned every
        # alert of the place before its position (the OR is a filter, not a start)
        found += [c.changed_at <= changed_at,
                  or_(c.changed_at < changed_at, and_(c.changed_at == changed_at, c.alert_id > alert_id))]
    return found


def _values(values: frozenset[str], column: Any) -> Any:
    """The values as one row each (`unnest` of one array parameter: one statement text however many)."""
    array = bindparam(None, sorted(values), type_=ARRAY(column.type))
    return func.unnest(array).table_valued("value").render_derived()


def _newest_in_places(organisers: frozenset[str], column: Any | None, values: frozenset[str], level: str | None,
                      conditions: Callable[[Any], list[ColumnElement[bool]]], limit: int) -> Select[Any]:
    """The positions (changed_at, alert_id) of the first `limit` alerts, in the list's order, of each organiser and
    each place value (`column` = value, of `level`; None: the organiser's own). Each is one index scan of
    (organiser_id[, column], changed_at DESC, alert_id) reading `limit` rows: a lateral subquery per pair, equality
    on both. `= ANY(array)` over the places in one scan gives the rows place by place, not in the list's order, so
    PostgreSQL sorted every alert of the places for each page."""
    candidate = alerts.alias("candidate")
    organiser = _values(organisers, alerts.c.organiser_id)
    where = [candidate.c.organiser_id == organiser.c.value, *conditions(candidate)]
    source: Any = organiser
    if column is not None:
        place = _values(values, column)
        where.append(candidate.c[column.name] == place.c.value)
        source = organiser.join(place, true())
    if level is not None:
        where.append(candidate.c.level == level)
    newest = select(candidate.c.changed_at, candidate.c.alert_id).where(*where).order_by(
        *_list_order(candidate)).limit(limit).lateral()
    return select(newest.c.changed_at, newest.c.alert_id).select_from(source.join(newest, true()))


def _places(scope: AlertScope) -> list[tuple[Any | None, frozenset[str], str | None]]:
    """The scope's places as (column, values, level): the organisers' own where no place narrows them."""
    c = alerts.c
    if scope.school_unit_codes is None:
        return [(None, frozenset(), None)]
    places = [(c.school_unit_code, scope.school_unit_codes, None), (c.unit_id, scope.group_unit_ids, "group"),
              (c.unit_id, scope.area_ids, "area")]
    return [place for place in places if place[1]]


def _every_alert(filters: dict[str, Any], scope: AlertScope | None, limit: int | None,
                 after: tuple[datetime, UUID] | None) -> Select[Any]:
    """The list in one scan of its candidates, sorted: where no organiser bounds the scope or no limit the page."""
    c = alerts.c
    query = select(alerts).where(*_conditions(alerts, filters, after))
    if scope is not None and scope.organiser_ids is not None:
        query = query.where(any_of(c.organiser_id, scope.organiser_ids))
    if scope is not None and scope.school_unit_codes is not None:
        query = query.where(or_(any_of(c.school_unit_code, scope.school_unit_codes),
                                and_(c.level == "group", any_of(c.unit_id, scope.group_unit_ids)),
                                and_(c.level == "area", any_of(c.unit_id, scope.area_ids))))
    query = query.order_by(*_list_order(alerts))
    return query if limit is None else query.limit(limit)


def list_query(filters: dict[str, Any], scope: AlertScope | None, limit: int | None,
               after: tuple[datetime, UUID] | None = None) -> Select[Any] | None:
    """The statement of `list_alerts`; None where the scope has no place to read (nothing to ask).

    With a limit and a scope of organisers, a page is read place by place (`_newest_in_places`): at most `limit`
    positions of each of the scope's places, the first `limit` of them all (UNION: a group alert is also its
    school unit's), then those rows — a page reads O(limit x places) index entries, however many alerts the places
    hold (before, every alert of the organiser's places was read and sorted for each page)."""
    if scope is None or scope.organiser_ids is None or limit is None:  # no page, or no organiser to page within
        return _every_alert(filters, scope, limit, after)
    places = _places(scope)
    if not scope.organiser_ids or not places:
        return None
    branches = [_newest_in_places(scope.organiser_ids, column, values, level,
                                  lambda table: _conditions(table, filters, after), limit)
                for column, values, level in places]
    both = branches[0] if len(branches) == 1 else union(*branches)
    first = both.subquery("positions")
    page = select(first.c.alert_id).order_by(first.c.changed_at.desc(), first.c.alert_id).limit(limit).subquery("page")
    return select(alerts).join(page, alerts.c.alert_id == page.c.alert_id).order_by(*_list_order(alerts))


async def list_alerts(session: AsyncSession, filters: dict[str, Any], scope: AlertScope | None,
                      limit: int | None, after: tuple[datetime, UUID] | None = None) -> Sequence[Row[Any]]:
    """The alerts matching every filter that is not None, inside `scope`, newest change first (then by id: a total
    order), those after the position `after` (a page's last alert's `changed_at` and id), at most `limit`."""
    query = list_query(filters, scope, limit, after)
    if query is None:
        return []
    rows: Sequence[Row[Any]] = (await session.execute(query)).all()
    return rows


async def alert_for_update(session: AsyncSession, alert_id: UUID) -> Row[Any] | None:
    """One alert, locked until the transaction ends (an acknowledgement reads, decides and writes it)."""
    return (await session.execute(select(alerts).where(alerts.c.alert_id == alert_id).with_for_update())
            ).one_or_none()


async def alert_of(session: AsyncSession, alert_id: UUID) -> Row[Any]:
    return (await session.execute(select(alerts).where(alerts.c.alert_id == alert_id))).one()


async def database_now(session: AsyncSession) -> datetime:
    """The transaction's time on the database: the one clock every writer of alerts stamps with."""
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    return now


async def store_acknowledgement(session: AsyncSession, alert_id: UUID, done: Alert, now: datetime) -> None:
    """The acknowledged alert, and its comment in the history (kept when the alert is reopened)."""
    await session.execute(alerts.update().where(alerts.c.alert_id == alert_id).values(
        status=done.status.value, comment=done.comment, acknowledged_by=done.acknowledged_by, changed_at=now))
    await session.execute(alert_comments.insert().values(
        alert_id=alert_id, at=now, episode=done.episode, comment=done.comment, by=done.acknowledged_by))


async def stored_thresholds(session: AsyncSession, organiser_id: str) -> Row[Any] | None:
    """The organiser's own thresholds, None while the defaults apply."""
    return (await session.execute(select(alert_thresholds).where(
        alert_thresholds.c.organiser_id == organiser_id))).one_or_none()


async def save_thresholds(session: AsyncSession, organiser_id: str, values: dict[str, Any]) -> None:
    stmt = pg_insert(alert_thresholds).values(organiser_id=organiser_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["organiser_id"],
                                                     set_={**values, "updated_at": func.now()}))
