"""LIKA facts, keyed by organiser + school unit: every published self-assessment (immutable, so
kept whole: the compilation over time needs the older ones) and the newest revision of each
published self-assessment's action plan."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, Table, Uuid, select
from sqlalchemy.dialects.postgresql import JSONB, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.sets import any_of, insert_rows

from ..directory.tables import placements, units
from ..metadata import metadata
from .rules import Activity, Place, SelfAssessment, visible_to

#: Both keyed by (id, organiser) (migration 0027): a self-assessment is its organiser's. By the id alone, another
#: organiser's event under the same id (produced straight to Kafka) was dropped as a re-delivery — or dropped A's,
#: whichever came first — and its plan revision took A's plan over.
self_assessments = Table(
    "lika_self_assessments", metadata,
    Column("self_assessment_id", Uuid, primary_key=True),
    Column("organiser_id", String(16), primary_key=True),
    Column("school_unit_code", String(8), nullable=False),
    Column("school_form", String(20), nullable=False), Column("respondent_role", String(20), nullable=False),
    Column("catalogue_version", String(32), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("ratings", JSONB, nullable=False),
    # the day it was made: the school year it is about (NULL: an event made before it was sent, migration 0031)
    Column("assessed_on", Date, nullable=True),
    Index("ix_lika_self_assessments_unit", "organiser_id", "school_unit_code"),
)

action_plans = Table(
    "lika_action_plans", metadata,
    Column("self_assessment_id", Uuid, primary_key=True),
    Column("organiser_id", String(16), primary_key=True),
    Column("school_unit_code", String(8), nullable=False),
    Column("school_form", String(20), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("items", JSONB, nullable=False),
    Index("ix_lika_action_plans_unit", "organiser_id", "school_unit_code"),
)


async def owners_of(session: AsyncSession, codes: Iterable[str]) -> dict[str, set[str]]:
    """The organisers the directory places each school unit under (none: an unknown unit)."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    rows = (await session.execute(
        select(units.c.school_unit_code, units.c.organiser_id).distinct()
        .where(units.c.unit_type == "school_unit", any_of(units.c.school_unit_code, codes), ~units.c.removed))).all()
    owners: dict[str, set[str]] = {}
    for code, organiser in rows:
        owners.setdefault(code, set()).add(organiser)
    return owners


async def save_self_assessments(session: AsyncSession, rows: list[dict[Any, Any]]) -> None:
    """A published self-assessment never changes: a re-delivery is a no-op. Over arrays (`insert_rows`): a
    VALUES list took 8 parameters a row, and a consumer's batch (`consumer_max_records`, 5,000) passed 32,767."""
    await insert_rows(session, self_assessments, rows, conflict=("self_assessment_id", "organiser_id"), keep=True)


async def save_action_plans(session: AsyncSession, rows: list[dict[Any, Any]]) -> None:
    """Keep the newest revision of each plan, whatever order the revisions arrive in."""
    newest: dict[tuple[str, str], dict[Any, Any]] = {}
    for row in rows:
        key = (str(row["self_assessment_id"]), row["organiser_id"])
        if key not in newest or row["revision"] > newest[key]["revision"]:
            newest[key] = row
    # over arrays, as `save_self_assessments`: 7 parameters a row in a VALUES list
    await insert_rows(session, action_plans, [newest[k] for k in sorted(newest)],
                      conflict=("self_assessment_id", "organiser_id"), newer="revision")


def _assessment(row) -> SelfAssessment:
    return SelfAssessment(str(row.self_assessment_id), row.organiser_id, row.school_unit_code, row.school_form,
                          row.respondent_role, row.catalogue_version, row.published_at, row.ratings, row.assessed_on)


def _activity(item: dict[Any, Any]) -> Activity:
    due = item.get("due_date")
    return Activity(item["activity_id"], item["indicator_id"], item["area"], item["position"], item["title"],
                    item["status"], item["priority"], item.get("owner"),
                    date.fromisoformat(due) if due else None, tuple(item.get("tags") or ()))


async def read_organiser(session: AsyncSession, organiser_id: str, school_unit_code: str | None = None
                         ) -> tuple[list[SelfAssessment], dict[str, tuple[int, list[Activity]]], dict[str, Place]]:
    """Every published self-assessment of the organiser whose school unit it still owns (or that
    the directory does not know), the newest plan of each, and where each unit is placed."""
    query = select(self_assessments).where(self_assessments.c.organiser_id == organiser_id)
    plan_query = select(action_plans).where(action_plans.c.organiser_id == organiser_id)
    if school_unit_code:
        query = query.where(self_assessments.c.school_unit_code == school_unit_code)
        plan_query = plan_query.where(action_plans.c.school_unit_code == school_unit_code)
    assessments = [_assessment(row) for row in (await session.execute(query)).all()]
    owners = await owners_of(session, {a.school_unit_code for a in assessments})
    assessments = [a for a in assessments if visible_to(organiser_id, owners.get(a.school_unit_code, set()))]
    plans = {str(row.self_assessment_id): (row.revision, [_activity(i) for i in row.items])
             for row in (await session.execute(plan_query)).all()}
    codes = sorted({a.school_unit_code for a in assessments})
    names = {row.school_unit_code: row.name for row in (await session.execute(
        select(units.c.school_unit_code, units.c.name).where(
            units.c.organiser_id == organiser_id, units.c.unit_type == "school_unit",
            any_of(units.c.school_unit_code, codes), ~units.c.removed))).all()}
    areas = {row.school_unit_code: row.area_id for row in (await session.execute(
        select(placements.c.school_unit_code, placements.c.area_id).where(
            placements.c.organiser_id == organiser_id, any_of(placements.c.school_unit_code, codes)))).all()}
    places = {code: Place(areas.get(code), names.get(code)) for code in codes if code in names}
    return assessments, plans, places


async def read_lika(session: AsyncSession, organiser_id: str | None, school_unit_code: str | None) -> list[Any]:
    """The newest published self-assessment of each organiser's school unit and school form, where the directory
    places the unit under that organiser or under none."""
    query = select(self_assessments).ext(distinct_on(
        self_assessments.c.organiser_id, self_assessments.c.school_unit_code, self_assessments.c.school_form)
    ).order_by(self_assessments.c.organiser_id, self_assessments.c.school_unit_code, self_assessments.c.school_form,
               self_assessments.c.published_at.desc(), self_assessments.c.self_assessment_id.desc())
    if organiser_id:
        query = query.where(self_assessments.c.organiser_id == organiser_id)
    if school_unit_code:
        query = query.where(self_assessments.c.school_unit_code == school_unit_code)
    rows = list((await session.execute(query)).all())
    # whose the unit is now (`visible_to`, as `read_organiser`): another organiser's self-assessment for it is kept,
    # not shown (the handler keeps every event: `handlers`)
    owners = await owners_of(session, {row.school_unit_code for row in rows})
    return [row for row in rows if visible_to(row.organiser_id, owners.get(row.school_unit_code, set()))]
