"""Applies the organisation events (styrkedja.organisation) to the directory tables, and
re-places school units whose area changed (the results move with them: `on_moves`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import (
    DutyUpsertedV1,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
)
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import advisory_locks
from styrkedja_kit.sets import any_of, unnested

from ..registry import forget, plain_data
from . import tables as t
from .rosters import rebuild_rosters
from .rules import Row, moves, newest, organiser_spelt, placement_changes, unit_scope

EVENT_TYPES = (OrganisationUnitUpsertedV1.event_type, GroupMembershipUpsertedV1.event_type,
               TeachingAssignmentUpsertedV1.event_type, DutyUpsertedV1.event_type,
               OrganisationEntityRemovedV1.event_type)

Moves = Sequence[tuple[str, str | None, str | None]]
OnMoves = Callable[[AsyncSession, Moves], Awaitable[None]]

_TABLE_OF_REMOVED = {"unit": t.units, "membership": t.memberships, "teaching_assignment": t.teaching_assignments,
                     "duty": t.duties}
_ID_OF = {t.memberships.name: "membership_id", t.teaching_assignments.name: "assignment_id",
          t.duties.name: "duty_id"}


def _row(table: Table, data: dict[Any, Any]) -> Row:
    row = {c.name: data.get(c.name) for c in table.columns if c.name in data}
    row["removed"] = False
    return row


def _changes(batch: Sequence[Delivered]) -> dict[str, list[tuple[tuple[Any, ...], Row]]]:
    out: dict[str, list[tuple[tuple[Any, ...], Row]]] = {name: [] for name in t.KEYS}
    for item in batch:
        data = plain_data(item.event)
        kind = item.event.type
        if kind == OrganisationUnitUpsertedV1.event_type:
            row = _row(t.units, data)
            row["scope"] = unit_scope(data["unit_type"], data.get("school_unit_code"))
            row["unit_id"] = organiser_spelt(row["unit_id"], row["organiser_id"])
            row["parent_id"] = organiser_spelt(row.get("parent_id"), row["organiser_id"])
            table = t.units
        elif kind == OrganisationEntityRemovedV1.event_type:
            table = _TABLE_OF_REMOVED[data["entity"]]
            row = {"organiser_id": data["organiser_id"], "updated_at": data["removed_at"], "removed": True}
            if table is t.units:
                row.update(unit_type=data["unit_type"], unit_id=organiser_spelt(data["entity_id"], data["organiser_id"]),
                           scope=unit_scope(data["unit_type"], data.get("school_unit_code")))
                if data.get("school_unit_code"):
                    row["school_unit_code"] = data["school_unit_code"]
            else:
                row[_ID_OF[table.name]] = data["entity_id"]
        else:
            table = {GroupMembershipUpsertedV1.event_type: t.memberships,
                     TeachingAssignmentUpsertedV1.event_type: t.teaching_assignments,
                     DutyUpsertedV1.event_type: t.duties}[kind]
            row = _row(table, data)
        out[table.name].append((tuple(row[k] for k in t.KEYS[table.name]), row))
    return out


async def _write(session: AsyncSession, table: Table, rows: list[Row]) -> None:
    """Newest change wins: one upsert for the batch's changes, one for its removals. A removal is a tombstone of
    what the removal says alone (the rest of the row empty): it kept the rest of the row it found, so a unit created
    and removed in one batch (the rebuild's big batches) held no name or parent while the same events in two
    batches (live) held them — the tables differed by how the log was cut (round 26). No reader reads a removed row's
    other columns; the codes a removed school unit held are read before the batch is written (`_codes_held`)."""
    keys = t.KEYS[table.name]
    names = [c.name for c in table.columns]
    for removed in (False, True):
        part = sorted((r for r in rows if r["removed"] is removed), key=lambda r: tuple(str(r[k]) for k in keys))
        if not part:
            continue
        # one array per column (`unnested`), every row naming every column: a multi-row VALUES took a parameter per
        # row per column, and a statement may have at most 32,767 (the rebuild's batches are thousands of events)
        stmt = pg_insert(table).from_select(names, unnested(list(table.columns), [
            tuple(r.get(name) for name in names) for r in part]))
        # as `rules.newest`: at the same time a removal wins, else the later change of the log
        newer = (stmt.excluded.updated_at > table.c.updated_at) | (
            (stmt.excluded.updated_at == table.c.updated_at) & (stmt.excluded.removed | ~table.c.removed))
        await session.execute(stmt.on_conflict_do_update(
            index_elements=list(keys), set_={name: stmt.excluded[name] for name in names if name not in keys},
            where=newer))


async def _codes_held(session: AsyncSession, unit_rows: list[Row]) -> set[str]:
    """The school unit codes the batch's school units hold before it is written: a school unit sent with another
    code (a corrected code, a re-coded unit) leaves its old code, which must be re-placed too (round 26: it stayed
    in its area, and results reported under it kept counting there)."""
    keys = [(r["organiser_id"], r["unit_id"]) for r in unit_rows if r.get("unit_type") == "school_unit"]
    if not keys:
        return set()
    found = await session.execute(text(
        f"SELECT DISTINCT su.school_unit_code FROM {t.units.name} su JOIN unnest("
        "CAST(:orgs AS text[]), CAST(:ids AS text[])) AS k(org, id) ON su.organiser_id = k.org "
        "AND su.unit_type = 'school_unit' AND su.scope = '' AND su.unit_id = k.id "
        "WHERE su.school_unit_code IS NOT NULL"), {"orgs": [k[0] for k in keys], "ids": [k[1] for k in keys]})
    return set(found.scalars())


async def _replace(session: AsyncSession, unit_rows: list[Row], on_moves: OnMoves, held: set[str]) -> None:
    """Recompute the area of the school units this batch touched (directly, or through their
    area; `held`: the codes its school units had before it) and move the results of those whose area changed.
    A code no school unit holds any more is placed in no area."""
    codes = {r["school_unit_code"] for r in unit_rows if r.get("unit_type") == "school_unit"
             and r.get("school_unit_code")} | held
    removed_school_units = [(r["organiser_id"], r["unit_id"]) for r in unit_rows
                            if r.get("unit_type") == "school_unit" and not r.get("school_unit_code")]
    areas = [(r["organiser_id"], r["unit_id"]) for r in unit_rows if r.get("unit_type") == "area"]
    lookups = [(o, u, "school_unit") for o, u in removed_school_units] + [(o, u, "area") for o, u in areas]
    if lookups:
        found = await session.execute(text(
            f"SELECT DISTINCT su.school_unit_code FROM {t.units.name} su JOIN unnest("
            "CAST(:orgs AS text[]), CAST(:ids AS text[]), CAST(:kinds AS text[])) AS k(org, id, kind) "
            "ON su.organiser_id = k.org AND su.unit_type = 'school_unit' "
            "AND ((k.kind = 'area' AND su.parent_id = k.id) OR (k.kind = 'school_unit' AND su.unit_id = k.id)) "
            "WHERE su.school_unit_code IS NOT NULL"),
            {"orgs": [x[0] for x in lookups], "ids": [x[1] for x in lookups], "kinds": [x[2] for x in lookups]})
        codes |= set(found.scalars())
    if not codes:
        return
    ordered = sorted(codes)
    await advisory_locks(session, t.PLACEMENT_LOCK, ordered)
    wanted = (await session.execute(text(
        f"SELECT DISTINCT ON (su.school_unit_code) su.school_unit_code, su.organiser_id, "
        "CASE WHEN NOT su.removed THEN ar.unit_id END "
        f"FROM {t.units.name} su LEFT JOIN {t.units.name} ar ON ar.organiser_id = su.organiser_id "
        "AND ar.unit_type = 'area' AND ar.scope = '' AND ar.unit_id = su.parent_id AND NOT ar.removed "
        "WHERE su.unit_type = 'school_unit' AND su.school_unit_code = ANY(CAST(:codes AS text[])) "
        "ORDER BY su.school_unit_code, su.removed, su.updated_at DESC"), {"codes": ordered})).all()
    placed = {row[0]: (row[1], row[2]) for row in (await session.execute(text(
        f"SELECT school_unit_code, organiser_id, area_id FROM {t.placements.name} "
        "WHERE school_unit_code = ANY(CAST(:codes AS text[])) FOR UPDATE"), {"codes": ordered})).all()}
    kept, dropped = placement_changes(placed, {code: (org, area) for code, org, area in wanted})
    changed = moves({code: area for code, (_, area) in placed.items()},
                    {**dict.fromkeys(dropped), **{code: area for code, (_, area) in kept.items()}})
    if kept:
        columns = [t.placements.c.school_unit_code, t.placements.c.organiser_id, t.placements.c.area_id]
        stmt = pg_insert(t.placements).from_select([c.name for c in columns], unnested(
            columns, [(code, org, area) for code, (org, area) in sorted(kept.items())]))
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["school_unit_code"],
            set_={"area_id": stmt.excluded.area_id, "organiser_id": stmt.excluded.organiser_id}))
    if dropped:
        await session.execute(t.placements.delete().where(any_of(t.placements.c.school_unit_code, dropped)))
    if not changed:
        return
    forget(session, t.PLACEMENT_MEMO)  # a school unit read earlier in the batch may have moved
    await on_moves(session, changed)


def directory_handler(on_moves: OnMoves):
    async def apply(session: AsyncSession, batch: Sequence[Delivered]) -> None:
        changes = _changes(batch)
        unit_rows = list(newest(changes[t.units.name]).values())
        held = await _codes_held(session, unit_rows)
        for table in (t.units, t.memberships, t.teaching_assignments, t.duties):
            rows = list(newest(changes[table.name]).values())
            if rows:
                await _write(session, table, rows)
        if unit_rows:
            await _replace(session, unit_rows, on_moves, held)
        # roster sizes follow the memberships and the placements (a school unit moved to another area)
        organisers = {r["organiser_id"] for r in newest(changes[t.memberships.name]).values()}
        organisers |= {r["organiser_id"] for r in unit_rows if r.get("unit_type") in ("school_unit", "area")}
        if organisers:
            await rebuild_rosters(session, organisers)
    return apply
