"""Tables and queries of published assessments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.writes import RecordTables

from ..metadata import metadata

#: The current (newest) revision of each assessment (`TABLES.current`) and every revision ever stored
#: (`TABLES.revisions`, the audit trail; only the newest counts).
TABLES = RecordTables.define(
    metadata, "assessment", current="assessments", revisions="assessment_revisions", id_column="assessment_id",
    removed_column="retracted", removal_column="retraction", revision_content=JSON, columns=[
        Column("organiser_id", String(16), nullable=False),  # by organiser: the natural key's index (it leads)
        Column("school_unit_code", String(8), nullable=False),
        Column("group_id", String(64), nullable=False),
        Column("student_id", String(64), nullable=False),
        Column("subject_code", String(16), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("school_year", String(7), nullable=False),
        Column("term", String(2), nullable=False),
        Column("round", Integer, nullable=False),
        # one result per student, subject, kind and period (school year, term, round): so counts in
        # reports are counts of students
        Index("uq_assessments_natural_key", "organiser_id", "student_id", "subject_code", "kind", "school_year",
              "term", "round", unique=True),
    ])
assessments, assessment_revisions = TABLES.current, TABLES.revisions

NATURAL_KEY = ("organiser_id", "student_id", "subject_code", "kind", "school_year", "term", "round")


async def owners_of_natural_keys(session: AsyncSession, keys: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], UUID]:
    """Which assessment already holds each (organiser, student, subject, kind, school year, term, round)."""
    if not keys:
        return {}
    # One join against the keys as arrays: a tuple IN list of thousands of parameters is planned
    # slowly and is a new statement for every batch size.
    columns = list(zip(*keys, strict=True))
    rows = (await session.execute(_OWNERS, {name: list(values) for name, values in
                                            zip(NATURAL_KEY, columns, strict=True)})).all()
    return {tuple(r[:-1]): r.assessment_id for r in rows}


_OWNERS = text(
    "SELECT a.organiser_id, a.student_id, a.subject_code, a.kind, a.school_year, a.term, a.round, a.assessment_id "
    "FROM assessments a JOIN unnest(CAST(:organiser_id AS text[]), CAST(:student_id AS text[]), "
    "CAST(:subject_code AS text[]), CAST(:kind AS text[]), CAST(:school_year AS text[]), CAST(:term AS text[]), "
    "CAST(:round AS integer[])) AS k(organiser_id, student_id, subject_code, kind, school_year, term, round) "
    "USING (organiser_id, student_id, subject_code, kind, school_year, term, round)")
