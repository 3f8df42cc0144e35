"""Tables of forecasts: the current revision and every revision."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    SmallInteger,
    String,
)
from sqlalchemy.dialects.postgresql import JSON

from styrkedja_kit.writes import RecordTables

from ..metadata import metadata

#: The current (newest) revision of each forecast (`TABLES.current`) and every revision ever stored
#: (`TABLES.revisions`, the audit trail). `forecast_id` is derived from organiser + student + subject +
#: school year + term, so there is one row per student, subject and term by construction.
TABLES = RecordTables.define(
    metadata, "forecast", current="forecasts", revisions="forecast_revisions", id_column="forecast_id",
    removed_column="withdrawn", removal_column="withdrawal", revision_content=JSON,
    revision_columns=[Column("late", Boolean, nullable=False)], columns=[
        Column("organiser_id", String(16), nullable=False),
        Column("school_unit_code", String(8), nullable=False),
        Column("group_id", String(64), nullable=False),
        Column("student_id", String(64), nullable=False),
        Column("teacher_id", String(64), nullable=False),
        Column("subject_code", String(16), nullable=False),
        Column("year", SmallInteger, nullable=False),
        Column("school_year", String(7), nullable=False),
        Column("term", String(2), nullable=False),
        Column("value", String(32), nullable=False),
        Column("submitted_at", DateTime(timezone=True), nullable=False),
        Column("window_deadline", Date, nullable=False),
        Column("late", Boolean, nullable=False),
        # read by id only (the write path's lock): no other index to keep up per row (who has reported
        # in a window is reporting's question, answered from the events)
    ])
forecasts, forecast_revisions = TABLES.current, TABLES.revisions
