"""Which alerts a reader is shown: the reader completed from the directory (`alert_reader`), the candidates of its
places (`scope_of`), each alert kept where the kit's `may_read` allows it at the alert's own level and place
(`readable_rows`), and none whose figures a suppressing reader may not see (`shown_to`: too few students,
`small_for`; a withheld cell's complement, `disclose.complement_withheld`). The routes only call these; here the
rows of `queries` are judged (round 23a)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.alert import AlertFigures
from styrkedja_kit.auth import Node, Principal, Role, may_read

from ..access.disclosure import DisclosureRules, suppressed_levels
from ..access.scope import LEVEL_NAMES, node_of_unit, placements_of, reader_of, school_units_of_areas
from .disclose import complement_withheld, unjudged
from .handlers import ALERT_GROUP_SEPARATOR
from .queries import AlertScope, list_alerts


def small_for(row: Row[Any], principal: Principal, rules: DisclosureRules) -> bool:
    """An alert whose figures rest on fewer students than the disclosure rule's minimum, at a level where the
    reader's figures are withheld so (an area manager's areas): its share and change would show what every read
    of that cell withholds. Alerts are raised from `min_students` students, which an organiser may set below the
    disclosure minimum (round 23a)."""
    if LEVEL_NAMES[row.level] not in suppressed_levels(principal):
        return False
    figures = AlertFigures.model_validate(row.figures)
    return figures.students < rules.min_students or (
        figures.compared_students is not None and figures.compared_students < rules.min_students)


async def shown_to(session: AsyncSession, rows: Sequence[Row[Any]], principal: Principal, rules: DisclosureRules
                  ) -> list[Row[Any]]:
    """The rows whose figures the reader may see: none resting on too few students (`small_for`), none giving a
    withheld cell away as a complement (`disclose.complement_withheld`), none the decision cannot judge
    (`disclose.unjudged`) — at a level its figures are withheld."""
    suppressed = suppressed_levels(principal)
    rows = [row for row in rows if not small_for(row, principal, rules) and not unjudged(row, suppressed)]
    hidden = await complement_withheld(session, rows, suppressed, rules)
    return [row for row in rows if row.alert_id not in hidden]


async def alert_reader(session: AsyncSession, principal: Principal) -> Principal:
    """The reader whose scope narrows the alerts: the token completed from the directory (a principal's school
    units from its duties, a teacher's groups from its teaching assignments), as every other read completes it
    (`access.guard.check_read`), so a token of several roles reads the union of what each may. The organiser admin
    reads the whole organiser: nothing to complete. Before, a token that was also an area manager was taken as it
    came: the area manager and principal of a school unit outside its areas listed none of that unit's alerts
    (round 23a)."""
    return principal if principal.has(Role.ORGANISER_ADMIN) else await reader_of(session, principal)


#: the roles that acknowledge alerts (`acknowledge_alert`)
ACKNOWLEDGERS = (Role.ORGANISER_ADMIN, Role.AREA_MANAGER, Role.PRINCIPAL)


def acting_as(reader: Principal, roles: Sequence[Role]) -> Principal:
    """The reader with only `roles` of its own: a write is judged by the roles that may make it, so an area manager
    that is also a teacher acknowledges its areas' alerts, not its groups' (a teacher acknowledges none)."""
    return replace(reader, roles=reader.roles & frozenset(roles))


async def scope_of(session: AsyncSession, reader: Principal) -> AlertScope:
    """The token's organisers; for any reader but the organiser admin, also the candidates of its places: the
    school units of its own units, groups and areas (an area manager's areas are part of the organiser, not
    the whole of it), and its areas' own alerts."""
    if reader.has(Role.ORGANISER_ADMIN):
        return AlertScope(organiser_ids=reader.organisers)
    # a teacher's groups by their own ids, not their school units: a teacher of one group of a large unit read every
    # alert of the unit as a candidate, each then judged and dropped (`readable_rows`)
    units = set(reader.school_units)
    if reader.has(Role.AREA_MANAGER):
        units |= await school_units_of_areas(session, reader.organisers, reader.areas)
    groups = frozenset(f"{g.school_unit_code}{ALERT_GROUP_SEPARATOR}{g.group_id}" for g in reader.groups)
    return AlertScope(organiser_ids=reader.organisers, school_unit_codes=frozenset(units), group_unit_ids=groups,
                      area_ids=frozenset(reader.areas) if reader.has(Role.AREA_MANAGER) else frozenset())


async def page_of(session: AsyncSession, reader: Principal, principal: Principal, rules: DisclosureRules,
                  filters: dict[str, Any], limit: int, after: tuple[datetime, UUID] | None) -> list[Row[Any]]:
    """A page of the alert list for the reader: the first `limit` alerts after the position `after` that it is
    shown, and one more where there is one (a next page). The organiser admin's in one query; a scoped reader's
    candidates (`scope_of`) read `limit` + 1 at a time, each batch judged (`readable_rows`, `shown_to`: each row on
    its own, so a batch keeps what the whole list would) until the page is full or the candidates are done — a page
    reads the rows it shows and the candidates judged away between them, never every candidate of the organiser after
    the position (it did: a page's memory and time grew with the organiser's alerts, not the page)."""
    scope = await scope_of(session, reader)
    if scope.school_unit_codes is None:  # the whole organiser: every row is the reader's
        return list(await list_alerts(session, filters, scope, limit + 1, after))
    kept: list[Row[Any]] = []
    position = after
    while True:
        batch = await list_alerts(session, filters, scope, limit + 1, position)
        kept += await shown_to(session, await readable_rows(session, reader, batch), principal, rules)
        if len(kept) > limit or len(batch) <= limit:
            return kept[:limit + 1]
        position = batch[-1].changed_at, batch[-1].alert_id


def node_of_alert(row: Row[Any], placed: dict[str, tuple[str, str | None]]) -> Node:
    """The place an alert is about, with its ancestors, as the kit's read policy judges it (`node_of_unit`, as the
    directory's tree judges its units): a group alert's unit id is `<school unit code>:<group id>`."""
    return node_of_unit(LEVEL_NAMES[row.level], row.organiser_id, placed, area_id=row.unit_id,
                        school_unit_code=row.school_unit_code,
                        group_id=row.unit_id.split(ALERT_GROUP_SEPARATOR, 1)[-1])


async def readable_rows(session: AsyncSession, reader: Principal, rows: Sequence[Row[Any]]) -> list[Row[Any]]:
    """The alerts the reader may read at their own level and place (`may_read`): an alert carries its cell's
    figures (students, share reaching pass), which the reader may not see there by any other read."""
    placed = await placements_of(session, [row.school_unit_code for row in rows if row.school_unit_code])
    return [row for row in rows if may_read(reader, node_of_alert(row, placed))]
