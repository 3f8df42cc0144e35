"""Queries of the ops endpoints: the consistency check (every materialised cell against a
recomputation, in one snapshot) and the results not (yet) placed in the directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.consumer import RELEASE_EVERY_RECORDS, release_memory
from styrkedja_kit.db import Database

from ..compliance.handlers import mismatches as compliance_mismatches
from ..consistency_parts import organisers_in
from ..directory.rosters import mismatches as roster_mismatches
from ..directory.tables import placements, units
from ..figures import tables as figures
from ..results.tables import ASSESSMENTS, FORECASTS
from ..support.handlers import mismatches as support_mismatches

#: the tables the sums' comparisons read organiser by organiser: the parts are every organiser of any of them
SUMMED_TABLES = (ASSESSMENTS.facts.name, ASSESSMENTS.aggregates.name, FORECASTS.facts.name,
                 FORECASTS.aggregates.name, figures.figure_pass.name, figures.figure_students.name)


class Consistency(BaseModel):
    assessment_cell_mismatches: int
    forecast_cell_mismatches: int
    compliance_cell_mismatches: int  # compliance cells against a recomputation of every tracked window
    support_cell_mismatches: int = 0  # support interventions and plans, every level
    per_level: dict[str, dict[str, int]]  # kind → level → mismatching cells
    figure_cell_mismatches: int = 0
    figures_per_level: dict[str, dict[str, int]] = {}  # figure state (pass, dates, students) → level → cells
    consistent: bool


@asynccontextmanager
async def snapshot(db: Database) -> AsyncIterator[AsyncSession]:
    """A session whose statements all read ONE snapshot of the database (REPEATABLE READ).
    Several comparisons read the facts in one statement and the materialised rows in a later one
    (below the pass level without support, the figures' and compliance's pure-rule recomputations); at
    READ COMMITTED a batch the consumer commits between the two shows as cells that differ, though
    every committed state is exact. (The kit's `Database.snapshot`, as every read that decides on data it reads.)"""
    async with db.snapshot() as session:
        yield session


async def consistency_of(session: AsyncSession) -> Consistency:
    """Every comparison of the consistency check, in `session` (take it from `snapshot`)."""
    # The sums are compared organiser by organiser (every cell's key holds its organiser): each statement's hash
    # aggregates hold one organiser's facts, where every fact's spilled to temp files and grew faster than the facts
    # (bench/README.md sql30, order31). One organiser's nodes reach a few MB (7.5 MB at 34k facts), over the
    # server's 4 MB: 16 MB a node (32 MB a hash, at hash_mem_multiplier 2), for this transaction only — PostgreSQL's
    # own memory, per node of a statement and per parallel worker, bounded by the largest organiser, not the data.
    await session.execute(text("SET LOCAL work_mem = '16MB'"))
    organisers = await organisers_in(session, *SUMMED_TABLES)
    a = await ASSESSMENTS.mismatches(session, organisers)
    f = await FORECASTS.mismatches(session, organisers)
    c = await compliance_mismatches(session)
    fig = await figures.mismatches(session, organisers)
    fig["rosters"] = await roster_mismatches(session)  # the materialised roster sizes (coverage)
    s = await support_mismatches(session)
    # the recomputations read their facts slice by slice (`student_slices`), but glibc keeps the pages the slices
    # freed: given back now, as the consumer does after its batches (a worker's RSS back to what it was)
    release_memory(RELEASE_EVERY_RECORDS)
    total_a, total_f = sum(a.values()), sum(f.values())
    total_fig = sum(sum(levels.values()) for levels in fig.values())
    total_s = sum(sum(levels.values()) for levels in s.values())
    return Consistency(assessment_cell_mismatches=total_a, forecast_cell_mismatches=total_f,
                       compliance_cell_mismatches=c, support_cell_mismatches=total_s,
                       per_level={"assessments": a, "forecasts": f, **s},
                       figure_cell_mismatches=total_fig, figures_per_level=fig,
                       consistent=total_a == total_f == c == total_s == total_fig == 0)


def _unplaced_sql(facts: str, hidden: str) -> str:
    return (
        f"SELECT 'school_unit' AS kind, f.organiser_id, f.school_unit_code, NULL AS group_id, count(*) AS n "
        f"FROM {facts} f WHERE NOT f.{hidden} AND (CAST(:organiser AS text) IS NULL OR f.organiser_id = :organiser) "
        f"AND NOT EXISTS (SELECT 1 FROM {placements.name} p WHERE p.school_unit_code = f.school_unit_code "
        f"AND p.area_id IS NOT NULL) GROUP BY 2, 3 "
        f"UNION ALL SELECT 'group', f.organiser_id, f.school_unit_code, f.group_id, count(*) "
        f"FROM {facts} f WHERE NOT f.{hidden} AND (CAST(:organiser AS text) IS NULL OR f.organiser_id = :organiser) "
        f"AND NOT EXISTS (SELECT 1 FROM {units.name} u WHERE u.unit_type = 'group' "
        f"AND u.scope = f.school_unit_code AND u.unit_id = f.group_id AND NOT u.removed) GROUP BY 2, 3, 4")


async def unplaced(session: AsyncSession, organiser_id: str | None) -> list[dict[str, Any]]:
    """Per school unit without an area, and per group not in the directory (of one organiser, or all):
    the current assessments and forecasts it holds, in a stable order."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for name, store in (("assessments", ASSESSMENTS), ("forecasts", FORECASTS)):
        rows = await session.execute(text(_unplaced_sql(store.facts.name, store.hidden)),
                                     {"organiser": organiser_id})
        for kind, organiser, code, group, n in rows.all():
            entry = found.setdefault((kind, organiser, code, group), {
                "kind": kind, "organiser_id": organiser, "school_unit_code": code, "group_id": group,
                "assessments": 0, "forecasts": 0})
            entry[name] += int(n)
    return [found[k] for k in sorted(found, key=lambda k: tuple(str(x) for x in k))]
