"""Tables of support interventions: the current revision (with the free-text description, kept
only in this service) and every revision (the audit trail)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Uuid, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.support import InterventionKind, InterventionStatus
from styrkedja_kit.writes import RecordTables

from ..metadata import metadata
from .rules import StoredInvestigation

support_interventions = Table(
    "support_interventions", metadata,
    Column("intervention_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("retracted", Boolean, nullable=False, default=False),
    Column("organiser_id", String(16), nullable=False, index=True),
    Column("school_unit_code", String(8), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("student_id", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("subject_code", String(16)),
    Column("content", JSONB, nullable=False),  # with the description: never leaves the service
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

support_intervention_revisions = Table(
    "support_intervention_revisions", metadata,
    Column("intervention_id", Uuid, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("retraction", Boolean, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

TABLES = RecordTables(current=support_interventions, revisions=support_intervention_revisions,
                      id_column="intervention_id", removed_column="retracted", removal_column="retraction",
                      noun="support intervention")


async def investigations(session: AsyncSession, ids: Iterable[UUID]) -> dict[UUID, StoredInvestigation]:
    """The stored interventions named as investigations (whatever their kind, for the message)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    t = support_interventions
    rows = (await session.execute(select(t.c.intervention_id, t.c.kind, t.c.status, t.c.organiser_id,
                                         t.c.student_id, t.c.retracted).where(t.c.intervention_id.in_(wanted)))).all()
    return {r.intervention_id: StoredInvestigation(InterventionKind(r.kind), InterventionStatus(r.status),
                                                   r.organiser_id, r.student_id, r.retracted) for r in rows}
