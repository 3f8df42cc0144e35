"""Tables of action plans and their activities."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from ..metadata import metadata

#: One plan per final self-assessment; `revision` grows with every edit (the event's revision).
action_plans = Table(
    "action_plans", metadata,
    Column("self_assessment_id", Uuid, ForeignKey("self_assessments.self_assessment_id", ondelete="CASCADE"),
           primary_key=True),
    Column("start_term", String(16), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("generated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: The activities of a plan: what the domain generated (position … suggested_term) and what the unit
#: edits (status, priority, owner, due_date, tags, note).
action_plan_items = Table(
    "action_plan_items", metadata,
    Column("self_assessment_id", Uuid, ForeignKey("action_plans.self_assessment_id", ondelete="CASCADE"),
           primary_key=True),
    Column("activity_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("indicator_id", String(64), nullable=False),
    Column("area", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("current_rating", String(16), nullable=False),
    Column("plan_priority", Integer, nullable=False),
    Column("suggested_term", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("owner", String(100), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("tags", JSONB, nullable=False),
    Column("note", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('planned', 'in_progress', 'done', 'dropped')", name="ck_action_plan_items_status"),
    CheckConstraint("priority BETWEEN 1 AND 3", name="ck_action_plan_items_priority"),
)
