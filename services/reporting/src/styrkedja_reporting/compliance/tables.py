"""Compliance state: tracked windows, the organisers' calendars, one row per expected report (item)
and the additive cells the lists are read from (kept by `rules.item_delta`)."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Integer, String, Table, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from ..metadata import metadata

# A forecast window is tracked from the first forecast of that organiser × school year × term: from
# then on its items are kept by deltas (before it, nothing is expected yet).
compliance_windows = Table(
    "compliance_windows", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("period", String(12), primary_key=True),  # `2026/27:HT`
    Column("opens", Date, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("timezone", String(64), nullable=False),
)

# The newest `calendar.changed.v1` per organiser (defaults when absent).
compliance_calendars = Table(
    "compliance_calendars", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("calendar", JSONB, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

compliance_items = Table(
    "compliance_items", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("period", String(12), primary_key=True),
    Column("school_unit_code", String(8), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("subject_code", String(16), primary_key=True),
    Column("student_id", String(64), primary_key=True),
    Column("teachers", ARRAY(String(64)), nullable=False),
    Column("status", String(10), nullable=False),
)

# '' = not part of this cell kind's key (a primary key has no NULLs)
compliance_cells = Table(
    "compliance_cells", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("period", String(12), primary_key=True),
    Column("cell_kind", String(24), primary_key=True),
    Column("school_unit_code", String(8), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("subject_code", String(16), primary_key=True),
    Column("teacher_id", String(64), primary_key=True),
    Column("expected", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("late", Integer, nullable=False),
)
