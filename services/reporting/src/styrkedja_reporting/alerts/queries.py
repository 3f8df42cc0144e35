"""Queries of the alerts API: the list narrowed to a reader's scope, one alert and its
acknowledgement, an organiser's thresholds. The routes decide the scope (`read_scope.scope_of`) and
call these; the handlers keep their own batch queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..staging import any_of
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


async def list_alerts(session: AsyncSession, filters: dict[str, Any], scope: AlertScope | None,
                      limit: int | None, after: tuple[datetime, UUID] | None = None) -> Sequence[Row[Any]]:
    """The alerts matching every filter that is not None, inside `scope`, newest change first (then by id: a total
    order), those after the position `after` (a page's last alert's `changed_at` and id)."""
    c = alerts.c
    query = select(alerts)
    for name, value in filters.items():
        if value is not None:
            query = query.where(c[name] == value)
    if scope is not None and scope.organiser_ids is not None:
        query = query.where(any_of(c.organiser_id, scope.organiser_ids))
    if scope is not None and scope.school_unit_codes is not None:
        query = query.where(or_(any_of(c.school_unit_code, scope.school_unit_codes),
                                and_(c.level == "group", any_of(c.unit_id, scope.group_unit_ids)),
                                and_(c.level == "area", any_of(c.unit_id, scope.area_ids))))
    if after is not None:  # after it in this order: changed before it, or at the same moment with a greater id
        changed_at, alert_id = after
        query = query.where(or_(c.changed_at < changed_at, and_(c.changed_at == changed_at, c.alert_id > alert_id)))
    query = query.order_by(c.changed_at.desc(), c.alert_id)
    return (await session.execute(query if limit is None else query.limit(limit))).all()


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
