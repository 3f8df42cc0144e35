"""All SQL of the LIKA service."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Uuid, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import define_kit_tables

metadata = MetaData()
define_kit_tables(metadata, outbox=True)

#: Published self-assessments (självskattningar). Published is final: a change is a new self-assessment.
self_assessments = Table(
    "self_assessments", metadata,
    Column("self_assessment_id", Uuid, primary_key=True),
    Column("organiser_id", String(16), nullable=False),
    Column("school_unit_code", String(8), nullable=False),
    Column("school_form", String(32), nullable=False),
    Column("respondent_role", String(32), nullable=False),
    Column("catalogue_version", String(32), nullable=False),
    Column("ratings", JSONB, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_self_assessments_unit", "organiser_id", "school_unit_code", "school_form", "published_at"),
)

#: The columns that make up what was published (compared for idempotent re-sends).
CONTENT_COLUMNS = ("organiser_id", "school_unit_code", "school_form", "respondent_role", "catalogue_version",
                   "ratings")


class SelfAssessmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_new(self, row: dict) -> bool:
        """Insert unless the id is taken (then waits for a concurrent writer); True if inserted."""
        stmt = (pg_insert(self_assessments).values(row)
                .on_conflict_do_nothing(index_elements=["self_assessment_id"])
                .returning(self_assessments.c.self_assessment_id))
        return (await self.session.execute(stmt)).first() is not None

    async def published(self, self_assessment_id: UUID) -> dict | None:
        """What is stored under this id: the content columns and `published_at`."""
        t = self_assessments.c
        row = (await self.session.execute(
            select(*(t[c] for c in CONTENT_COLUMNS), t.published_at)
            .where(t.self_assessment_id == self_assessment_id))).first()
        return dict(row._mapping) if row else None
