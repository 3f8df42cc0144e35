"""Who reads, and where a place sits in the chain: the queries behind the access checks.

- `reader_of`: the token's principal completed from the directory — a teacher's groups from the
  teaching assignments, a principal's (rektor's) school units from the duties — where the token does
  not carry them. The token's `sub` is the person's pseudonymous id in the directory (SS 12000
  `person_id`/`teacher_id`); only rows of the token's own organisers count, and only current ones.
- `node_of`: a place named by a route (level, organiser, unit id) with its ancestors (area of a
  school unit from the placements), for `policy.require_read`.
- `node_from`: the same from placements read already (the rows of a read); `node_of_unit` from a unit row's
  fields (the directory's tree, the alerts).

Scope attributes therefore come from the token claims (`organisers`, `areas`, `school_units`,
`groups`) and, for teachers and principals, also from the directory. Documented in the README.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.auth import GroupRef, Level, Node, Principal, Role
from styrkedja_kit.days import school_today
from styrkedja_kit.sets import any_of

from ..directory.tables import duties, placements, teaching_assignments, units
from ..results.rules import GROUP_SEPARATOR

#: SS 12000 duty roles that make a person the principal of the duty's school unit.
PRINCIPAL_DUTIES = frozenset({"rektor", "biträdande rektor", "principal"})
LEVEL_NAMES = {level.name.lower(): level for level in Level}


def is_principal_duty(role: str | None) -> bool:
    """Whether a duty's role (SS 12000 dutyRole) makes its person the unit's principal: in any case, and however
    its letters were typed ("biträdande" with "ä" as one character or as "a" and a combining diaeresis)."""
    return unicodedata.normalize("NFC", (role or "").strip()).casefold() in PRINCIPAL_DUTIES


def _current(table, today: date):
    return (~table.c.removed, or_(table.c.start_date.is_(None), table.c.start_date <= today),
            or_(table.c.end_date.is_(None), table.c.end_date >= today))


async def reader_of(session: AsyncSession, principal: Principal, *, today: date | None = None) -> Principal:
    """The principal with the groups and units the directory gives it (teachers, principals)."""
    if not principal.has(Role.TEACHER, Role.PRINCIPAL) or not principal.organisers:
        return principal
    today = today or school_today()
    organisers = sorted(principal.organisers)
    groups: list[GroupRef] = []
    units: list[str] = []
    if principal.has(Role.TEACHER):
        t = teaching_assignments
        rows = await session.execute(select(t.c.school_unit_code, t.c.group_id).where(
            any_of(t.c.organiser_id, organisers), t.c.teacher_id == principal.subject, *_current(t, today)))
        groups = [GroupRef(code, group) for code, group in rows if code and group]
    if principal.has(Role.PRINCIPAL):
        d = duties
        rows = await session.execute(select(d.c.school_unit_code, d.c.duty_role).where(
            any_of(d.c.organiser_id, organisers), d.c.person_id == principal.subject, *_current(d, today)))
        units = [code for code, role in rows if code and is_principal_duty(role)]
    if not groups and not units:
        return principal
    return principal.with_directory(school_units=units, groups=groups)


async def placements_of(session: AsyncSession, codes: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """school unit code → (organiser id, area id or None)."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    p = placements.c
    rows = await session.execute(select(p.school_unit_code, p.organiser_id, p.area_id)
                                 .where(any_of(p.school_unit_code, wanted)))
    found = {code: (organiser, area) for code, organiser, area in rows}
    missing = [code for code in wanted if code not in found]
    if missing:  # not placed (yet): the organiser the directory holds it under, no area
        u = units.c
        owners = await session.execute(select(u.school_unit_code, u.organiser_id).where(
            u.unit_type == "school_unit", any_of(u.school_unit_code, missing), ~u.removed))
        for code, organiser in owners:
            found.setdefault(code, (organiser, None))
    return found


def node_from(level: Level, organiser_id: str | None, unit_id: str | None,
              placed: dict[str, tuple[str, str | None]], *, school_unit_code: str | None = None,
              group_id: str | None = None) -> Node:
    """The node of one place; `placed` from `placements_of` (the area of a school unit)."""
    if level is Level.NATION:
        return Node(Level.NATION)
    if level is Level.ORGANISER:
        return Node(Level.ORGANISER, organiser_id=unit_id or organiser_id)
    if level is Level.AREA:
        return Node(Level.AREA, organiser_id=organiser_id, area_id=unit_id)
    if level is Level.GROUP and unit_id and GROUP_SEPARATOR in unit_id and not group_id:
        school_unit_code, group_id = unit_id.split(GROUP_SEPARATOR, 1)
    if level is Level.SCHOOL_UNIT and not school_unit_code:
        school_unit_code = unit_id
    owner, area = placed.get(school_unit_code or "", (None, None))
    if organiser_id is not None and owner is not None and owner != organiser_id:
        area = None  # placed under another organiser: no area of this one
    return Node(level, organiser_id=organiser_id or owner, area_id=area, school_unit_code=school_unit_code,
                group_id=group_id if level in (Level.GROUP, Level.STUDENT) else None)


def node_of_unit(level: Level, organiser_id: str, placed: dict[str, tuple[str, str | None]], *,
                 area_id: str | None = None, school_unit_code: str | None = None,
                 group_id: str | None = None) -> Node:
    """The place of a unit row (a directory unit, an alert's unit) with its ancestors, for `may_read`: an organiser
    by the row's organiser (its own spelling of the organiser's unit id aside), an area by its id (`area_id`), a
    school unit and a group by the school unit code (`school_unit_code`, its area from `placed`) and a group by its
    id within it (`group_id`; ignored at other levels, so a caller may pass its unit id for every row)."""
    if level is Level.AREA:
        return node_from(level, organiser_id, area_id, placed)
    if level in (Level.SCHOOL_UNIT, Level.GROUP):
        return node_from(level, organiser_id, None, placed, school_unit_code=school_unit_code,
                         group_id=group_id if level is Level.GROUP else None)
    return node_from(level, organiser_id, None, placed)


async def node_of(session: AsyncSession, level: Level, organiser_id: str | None, unit_id: str | None = None, *,
                  school_unit_code: str | None = None, group_id: str | None = None) -> Node:
    code = school_unit_code or (unit_id if level is Level.SCHOOL_UNIT else None)
    if level is Level.GROUP and unit_id and GROUP_SEPARATOR in unit_id:
        code = unit_id.split(GROUP_SEPARATOR, 1)[0]
    placed = await placements_of(session, [code] if code else [])
    return node_from(level, organiser_id, unit_id, placed, school_unit_code=school_unit_code, group_id=group_id)


async def school_units_of_areas(session: AsyncSession, organisers: Iterable[str], areas: Iterable[str]
                                ) -> frozenset[str]:
    """The school units placed in these areas of these organisers (an area manager's units)."""
    wanted_organisers, wanted_areas = sorted(set(organisers)), sorted(set(areas))
    if not wanted_organisers or not wanted_areas:
        return frozenset()
    p = placements.c
    rows = await session.execute(select(p.school_unit_code).where(
        any_of(p.organiser_id, wanted_organisers), any_of(p.area_id, wanted_areas)))
    return frozenset(code for (code,) in rows)
