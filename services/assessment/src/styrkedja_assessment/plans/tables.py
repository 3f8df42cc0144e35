"""Tables of plan metadata: the current revision and every revision."""

from __future__ import annotations

from sqlalchemy import Column, String

from styrkedja_kit.writes import RecordTables

from ..metadata import metadata

TABLES = RecordTables.define(
    metadata, "plan", current="plans", revisions="plan_revisions", id_column="plan_id",
    removed_column="retracted", removal_column="retraction", columns=[
        Column("organiser_id", String(16), nullable=False, index=True),
        Column("school_unit_code", String(8), nullable=False),
        Column("group_id", String(64), nullable=False),
        Column("subject_code", String(16), nullable=False),
        Column("school_year", String(7), nullable=False),
        Column("term", String(2), nullable=False),
    ])
plans, plan_revisions = TABLES.current, TABLES.revisions
