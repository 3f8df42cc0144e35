"""All SQL of the assessment service."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import define_kit_tables

from .domain import Current

metadata = MetaData()
define_kit_tables(metadata, outbox=True)

#: The current (newest) revision of each assessment.
assessments = Table(
    "assessments", metadata,
    Column("assessment_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("retracted", Boolean, nullable=False, default=False),
    Column("organiser_id", String(16), nullable=False, index=True),
    Column("school_unit_code", String(8), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("student_id", String(64), nullable=False),
    Column("subject_code", String(16), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("school_year", String(7), nullable=False),
    Column("round", Integer, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # one result per student, subject, kind and round: so counts in reports are counts of students
    Index("uq_assessments_natural_key", "organiser_id", "student_id", "subject_code", "kind", "school_year",
          "round", unique=True),
)

#: Every revision ever stored (the audit trail); only the newest counts.
assessment_revisions = Table(
    "assessment_revisions", metadata,
    Column("assessment_id", Uuid, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("retraction", Boolean, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

NATURAL_KEY = ("organiser_id", "student_id", "subject_code", "kind", "school_year", "round")


class AssessmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, ids: Iterable[UUID]) -> dict[UUID, Current]:
        ids = list(ids)
        if not ids:
            return {}
        rows = (await self.session.execute(
            select(assessments.c.assessment_id, assessments.c.revision, assessments.c.retracted,
                   assessments.c.content)
            .where(assessments.c.assessment_id.in_(ids)).with_for_update())).all()
        return {r.assessment_id: Current(r.revision, r.retracted, r.content) for r in rows}

    async def owners_of_natural_keys(self, keys: Sequence[tuple]) -> dict[tuple, UUID]:
        """Which assessment already holds each (organiser, student, subject, kind, school year, round)."""
        if not keys:
            return {}
        columns = [assessments.c[name] for name in NATURAL_KEY]
        rows = (await self.session.execute(
            select(*columns, assessments.c.assessment_id).where(tuple_(*columns).in_(list(keys))))).all()
        return {tuple(r[:-1]): r.assessment_id for r in rows}

    async def save(self, rows: list[dict], revisions: list[dict]) -> None:
        if not rows:
            return
        # executemany of one cached statement: compiling a many-row VALUES list costs more than running it
        stmt = pg_insert(assessments)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=["assessment_id"],
            set_={c: stmt.excluded[c] for c in rows[0] if c != "assessment_id"} | {"updated_at": func.now()}), rows)
        await self.session.execute(assessment_revisions.insert(), revisions)
