"""Compliance state: tracked windows, the organisers' calendars, one row per expected report (item)
and the additive cells the lists are read from (kept by deltas: `rules.item_contribution`, in SQL
in `syncing` and `opening`)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from ..metadata import metadata

# items and cells are updated in place by every batch: with free room on each page the new version
# stays on it and no index gets a new entry (a heap-only tuple update); migration 0014
FILLFACTOR = 70


def _window_key() -> list[Column[str]]:
    """The key of a compliance window, first in each table of one: organiser, kind and period (`2026/27:HT`,
    `2026/27:R2`)."""
    return [Column("organiser_id", String(16), primary_key=True), Column("kind", String(20), primary_key=True),
            Column("period", String(12), primary_key=True)]


# A forecast window is tracked from the first forecast of that organiser × school year × term: from
# then on its items are kept by deltas (before it, nothing is expected yet).
compliance_windows = Table(
    "compliance_windows", metadata,
    *_window_key(),
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
    *_window_key(),
    Column("school_unit_code", String(8), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("subject_code", String(16), primary_key=True),
    Column("student_id", String(64), primary_key=True),
    Column("teachers", ARRAY(String(64)), nullable=False),
    Column("status", String(10), nullable=False),
    # a batch touches the items of its students (forecasts, memberships): found without a scan
    Index("ix_compliance_items_student", "organiser_id", "kind", "period", "student_id"),
    # every batch updates items' status in place: room on the page for a HOT update (no index entry)
    postgresql_with={"fillfactor": FILLFACTOR},
)

# '' = not part of this cell kind's key (a primary key has no NULLs)
compliance_cells = Table(
    "compliance_cells", metadata,
    *_window_key(),
    Column("cell_kind", String(24), primary_key=True),
    Column("school_unit_code", String(8), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("subject_code", String(16), primary_key=True),
    Column("teacher_id", String(64), primary_key=True),
    Column("expected", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("late", Integer, nullable=False),
    postgresql_with={"fillfactor": FILLFACTOR},  # every batch adds to cells in place (HOT updates)
)


# Assessment rounds with a deadline: per assessment, its newest revision and the time its current run was first
# reported — what lateness is judged by — are the fact's own (`results.tables.assessment_facts`, its `received_at`:
# `results.rules.run_time`, compliance's `rules.fold_round_report` rule). Compliance kept them in a table of its own
# until migration 0037 (`compliance_round_reports`: a second row per assessment, rounds33).

# Forecasts: per forecast, its newest revision, the newest withdrawing it and the newest submitted on time (by the
# forecast service's own flag) — `rules.ForecastRun`, three maxima folded in any order — and whether its current run
# (the submissions above the newest withdrawal) is late: no submission of it on time (`ForecastRun.late`, stored for
# the lists' reads). The forecast fact keeps only the newest revision's flag: an on-time forecast corrected after
# the deadline read late (round 26b). Migration 0029.
compliance_forecast_runs = Table(
    "compliance_forecast_runs", metadata,
    Column("forecast_id", Uuid, primary_key=True),  # as the fact's (joined to it)
    Column("organiser_id", String(16), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("withdrawn_revision", Integer),
    Column("on_time_revision", Integer),
    Column("late", Boolean, nullable=False),
)

# The group × subject each teaching assignment counted for when compliance last saw it: an
# assignment moved to another group (or subject) re-derives the old one too.
compliance_assignment_scope = Table(
    "compliance_assignment_scope", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("assignment_id", String(64), primary_key=True),
    Column("school_unit_code", String(8), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("subject_code", String(16), nullable=False),
)
