"""Alerts, their comment history and the organisers' thresholds.

The alerts table is keyed by the stable `alert_id` (`rules.alert_id`): one cell, period and rule
is one row, ever — a replay or a rebuild can update it, never add a second. It is not derived
from the event log alone (acknowledgements and comments are made over the API), so a rebuild of
the aggregates keeps it.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, Numeric, String, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from ..metadata import metadata

alerts = Table(
    "alerts", metadata,
    Column("alert_id", Uuid, primary_key=True),
    Column("organiser_id", String(16), nullable=False),
    Column("level", String(16), nullable=False),
    Column("unit_id", String(80), nullable=False),
    Column("school_unit_code", String(8)),  # group and school-unit alerts: what a principal's scope matches
    Column("subject_code", String(16)),
    Column("year", Integer),
    Column("school_year", String(7), nullable=False),
    Column("term", String(2)),
    Column("round", Integer),
    Column("rule", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("episode", Integer, nullable=False),
    Column("figures", JSONB, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("comment", Text),
    Column("acknowledged_by", String(64)),
    Column("resolved_reason", String(32)),
    Index("ix_alerts_organiser_status", "organiser_id", "status"),
)

# The list's order within each place a reader pages by (`queries.list_alerts`): the organiser admin's organiser, a
# principal's or area manager's school units, a teacher's groups and an area manager's areas (by `unit_id`). A page
# is then an index scan of `limit` rows per place; without them every alert of the places was sorted for each page.
Index("ix_alerts_organiser_newest", alerts.c.organiser_id, alerts.c.changed_at.desc(), alerts.c.alert_id)
Index("ix_alerts_school_unit_newest", alerts.c.organiser_id, alerts.c.school_unit_code, alerts.c.changed_at.desc(),
      alerts.c.alert_id)
# (a unit id's level in the key too: its scan, filtered by level, then reads the index alone, as the school unit's does;
# filtered on the table, PostgreSQL took its estimate of one place's rows as below a page and read all of them)
Index("ix_alerts_unit_newest", alerts.c.organiser_id, alerts.c.level, alerts.c.unit_id, alerts.c.changed_at.desc(),
      alerts.c.alert_id)

# Every acknowledgement's comment, kept when the alert is reopened (the alert row holds the latest).
alert_comments = Table(
    "alert_comments", metadata,
    Column("alert_id", Uuid, primary_key=True),
    Column("at", DateTime(timezone=True), primary_key=True),
    Column("episode", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("by", String(64), nullable=False),
)

alert_thresholds = Table(
    "alert_thresholds", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("drop_points", Numeric(9, 4), nullable=False),
    Column("below_forecast_points", Numeric(9, 4), nullable=False),
    Column("min_students", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
