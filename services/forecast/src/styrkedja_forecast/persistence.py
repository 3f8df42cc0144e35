"""All SQL of the forecast service."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB

from styrkedja_kit.app import define_kit_tables
from styrkedja_kit.writes import RecordTables

metadata = MetaData()
define_kit_tables(metadata, outbox=True, lean_outbox=True)  # a bulk writer

#: The current (newest) revision of each forecast. `forecast_id` is derived from organiser + student +
#: subject + school year + term, so there is one row per student, subject and term by construction.
forecasts = Table(
    "forecasts", metadata,
    Column("forecast_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("withdrawn", Boolean, nullable=False, default=False),
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
    Column("content", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # read by id only (the write path's lock): no other index to keep up per row (who has reported
    # in a window is reporting's question, answered from the events)
)

#: Every revision ever stored (the audit trail); only the newest counts.
forecast_revisions = Table(
    "forecast_revisions", metadata,
    Column("forecast_id", Uuid, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("withdrawal", Boolean, nullable=False),
    Column("late", Boolean, nullable=False),
    # `json`, not `jsonb`: the audit trail is written, never queried by its content (issue 16: PostgreSQL
    # checks the text but builds no binary document, bench/results/write5.json)
    Column("content", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

TABLES = RecordTables(current=forecasts, revisions=forecast_revisions, id_column="forecast_id",
                      removed_column="withdrawn", removal_column="withdrawal", noun="forecast")

# capability tables register on the same metadata (migrations and the model check see them all)
from .calendar import tables as _calendar_tables  # noqa: E402,F401
