"""Tables of support interventions: the current revision (with the free-text description, kept
only in this service) and every revision (the audit trail)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import Column, String, select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.support import InterventionKind, InterventionStatus
from styrkedja_kit.sets import any_of
from styrkedja_kit.writes import RecordTables

from ..metadata import metadata
from .rules import StoredInvestigation

TABLES = RecordTables.define(
    metadata, "support intervention", current="support_interventions",
    revisions="support_intervention_revisions", id_column="intervention_id", removed_column="retracted",
    removal_column="retraction", columns=[
        Column("organiser_id", String(16), nullable=False, index=True),
        Column("school_unit_code", String(8), nullable=False),
        Column("group_id", String(64), nullable=False),
        Column("student_id", String(64), nullable=False, index=True),
        Column("kind", String(20), nullable=False),
        Column("status", String(20), nullable=False),
        Column("subject_code", String(16)),
    ])  # `content` holds the description: it never leaves the service
support_interventions, support_intervention_revisions = TABLES.current, TABLES.revisions


async def investigations(session: AsyncSession, ids: Iterable[UUID]) -> dict[UUID, StoredInvestigation]:
    """The stored interventions named as investigations (whatever their kind, for the message), locked against a change
    until the transaction ends (FOR SHARE, in id order): an action programme's basis is checked in its write's
    transaction, and a retraction or revision of the investigation at the same time (which locks it FOR UPDATE) is
    waited for and seen — unlocked, both were stored, a programme resting on a retracted investigation (write skew)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    t = support_interventions
    rows = (await session.execute(select(t.c.intervention_id, t.c.kind, t.c.status, t.c.organiser_id,
                                         t.c.student_id, t.c.retracted).where(any_of(t.c.intervention_id, wanted))
                                  .order_by(t.c.intervention_id).with_for_update(read=True))).all()
    return {r.intervention_id: StoredInvestigation(InterventionKind(r.kind), InterventionStatus(r.status),
                                                   r.organiser_id, r.student_id, r.retracted) for r in rows}
