"""Tables of self-assessments and their ratings."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from ..metadata import metadata

#: One self-assessment of one school unit. A draft's ratings are in `self_assessment_ratings`;
#: publishing (or keeping it private) makes it final, and `ratings` then holds what was published.
#: `origin` is `tool` (made here) or `import` (published elsewhere and sent in whole).
self_assessments = Table(
    "self_assessments", metadata,
    Column("self_assessment_id", Uuid, primary_key=True),
    Column("organiser_id", String(16), nullable=False),
    Column("school_unit_code", String(8), nullable=False),
    Column("school_form", String(32), nullable=False),
    Column("respondent_role", String(32), nullable=False),
    Column("catalogue_version", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="PUBLISHED"),
    Column("origin", String(16), nullable=False, server_default="import"),
    Column("assessed_on", Date, nullable=True),
    Column("ratings", JSONB, nullable=True),
    Column("event_id", Uuid, nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("finalised_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('DRAFT', 'PRIVATE', 'PUBLISHED')", name="ck_self_assessments_status"),
    CheckConstraint("status <> 'PUBLISHED' OR (published_at IS NOT NULL AND event_id IS NOT NULL "
                    "AND ratings IS NOT NULL)", name="ck_self_assessments_published"),
    Index("ix_self_assessments_unit", "organiser_id", "school_unit_code", "school_form", "published_at"),
    Index("ix_self_assessments_unit_created", "organiser_id", "school_unit_code", "created_at"),
)

#: The ratings of a tool-made self-assessment, one row per indicator: saves in any order, many times.
self_assessment_ratings = Table(
    "self_assessment_ratings", metadata,
    Column("self_assessment_id", Uuid, ForeignKey("self_assessments.self_assessment_id", ondelete="CASCADE"),
           primary_key=True),
    Column("indicator_id", String(64), primary_key=True),
    Column("rating", String(16), nullable=False),
    Column("comment", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
