"""Facts and materialised aggregates of support interventions and plans (six levels), kept by
the results' `FactStore`: one statement per table per batch, cells moved by deltas."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from ..figures.tables import AdditiveTable
from ..metadata import metadata
from ..results.tables import FactStore, fact_table, required_str
from .rules import PlanFact, SupportFact

support_facts = fact_table(
    "support_facts", "intervention_id", "retracted",
    required_str("student_id"), required_str("kind", 20), required_str("status", 20), required_str("subject_code", 16),
    required_str("start_date", 10), required_str("evaluation_date", 10), required_str("evaluation_outcome", 12),
)

SUPPORT_DIMENSIONS = ("level", "unit_id", "organiser_id", "kind", "subject_code", "status", "evaluation_outcome")
support_aggregates = Table(
    "support_aggregates", metadata,
    *[Column(d, String(80), primary_key=True) for d in SUPPORT_DIMENSIONS],
    Column("count", Integer, nullable=False),
    Index("ix_support_aggregates_organiser_level", "organiser_id", "level"),
)

plan_facts = fact_table(
    "plan_facts", "plan_id", "retracted",
    required_str("subject_code", 16), required_str("school_year", 7), required_str("term", 2),
)

PLAN_DIMENSIONS = ("level", "unit_id", "organiser_id", "subject_code", "school_year", "term")
plan_aggregates = Table(
    "plan_aggregates", metadata,
    *[Column(d, String(80), primary_key=True) for d in PLAN_DIMENSIONS],
    Column("count", Integer, nullable=False),
    Index("ix_plan_aggregates_organiser_level", "organiser_id", "level"),
)

#: One row per intervention per level (a multiset keyed by the student): distinct students per
#: kind and status, students per evaluation outcome and investigations by start date are read
#: from it per unit — never from the facts.
STUDENT_DIMENSIONS = (*SUPPORT_DIMENSIONS, "start_date", "student_id")
support_students = Table(
    "support_students", metadata,
    *[Column(d, String(80), primary_key=True) for d in STUDENT_DIMENSIONS],
    Column("count", Integer, nullable=False),
    Index("ix_support_students_organiser_level_unit", "organiser_id", "level", "unit_id"),
)

#: Students whose newest result in a subject is below the pass level and who have no active
#: support in it (nor one for all subjects): one row per student × subject, at the group of that
#: newest result (a linked figure, kept by deltas in `linked.py`). `level` is 'group' in every row
#: (migration 0038): the school unit's, area's and organiser's are read from the group rows
#: (`read._below`); they were four rows per student × subject, 1.18 rows per event of the apply path.
BELOW_PASS_CELL = ("level", "unit_id", "organiser_id", "subject_code", "student_id")
support_below_pass = Table(
    "support_below_pass", metadata,
    *[Column(d, String(80), primary_key=True) for d in BELOW_PASS_CELL],
    Column("count", Integer, nullable=False),
    Index("ix_support_below_pass_organiser_level_unit", "organiser_id", "level", "unit_id"),
)

SUPPORT = FactStore(support_facts, support_aggregates, SupportFact, SUPPORT_DIMENSIONS, "retracted")
#: Kept from the same facts as SUPPORT (the facts are saved once, by SUPPORT): only `add`,
#: `transfer` and `mismatches` are used.
STUDENTS = FactStore(support_facts, support_students, SupportFact, STUDENT_DIMENSIONS, "retracted")
BELOW_PASS = AdditiveTable(support_below_pass, BELOW_PASS_CELL, ("count",))
PLANS = FactStore(plan_facts, plan_aggregates, PlanFact, PLAN_DIMENSIONS, "retracted")
