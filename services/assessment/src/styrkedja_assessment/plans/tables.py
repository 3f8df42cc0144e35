"""Tables of plan metadata: the current revision and every revision."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from styrkedja_kit.writes import RecordTables

from ..metadata import metadata

plans = Table(
    "plans", metadata,
    Column("plan_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("retracted", Boolean, nullable=False, default=False),
    Column("organiser_id", String(16), nullable=False, index=True),
    Column("school_unit_code", String(8), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("subject_code", String(16), nullable=False),
    Column("school_year", String(7), nullable=False),
    Column("term", String(2), nullable=False),
    Column("content", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

plan_revisions = Table(
    "plan_revisions", metadata,
    Column("plan_id", Uuid, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("retraction", Boolean, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

TABLES = RecordTables(current=plans, revisions=plan_revisions, id_column="plan_id", removed_column="retracted",
                      removal_column="retraction", noun="plan")
