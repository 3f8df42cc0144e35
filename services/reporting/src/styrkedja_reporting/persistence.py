"""All SQL of the reporting service: facts, materialised aggregates, LIKA, consistency."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, fields

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import define_kit_tables

from .domain import LEVELS, AssessmentFact, ForecastFact

metadata = MetaData()
define_kit_tables(metadata, outbox=False, consumer=True)


def _str(name: str, length: int = 64, **kw) -> Column:
    return Column(name, String(length), nullable=False, **kw)


assessment_facts = Table(
    "assessment_facts", metadata,
    Column("assessment_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("retracted", Boolean, nullable=False),
    _str("organiser_id", 16, index=True), _str("school_unit_code", 8), _str("group_id"), _str("student_id"),
    _str("gender", 8), Column("year", Integer, nullable=False), _str("subject_code", 16), _str("kind", 20),
    _str("scale", 16), _str("value", 32), _str("school_year", 7), _str("term", 2),
    Column("round", Integer, nullable=False),
)

ASSESSMENT_DIMENSIONS = ("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "round", "kind",
                         "scale", "year", "gender", "value")
assessment_aggregates = Table(
    "assessment_aggregates", metadata,
    *[Column(d, Integer if d in ("round", "year") else String(64), primary_key=True) for d in ASSESSMENT_DIMENSIONS],
    Column("count", Integer, nullable=False),
    Index("ix_assessment_aggregates_organiser_level", "organiser_id", "level"),  # reads are per organiser
)

forecast_facts = Table(
    "forecast_facts", metadata,
    Column("forecast_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("withdrawn", Boolean, nullable=False),
    _str("organiser_id", 16, index=True), _str("school_unit_code", 8), _str("group_id"), _str("student_id"),
    _str("gender", 8), Column("year", Integer, nullable=False), _str("subject_code", 16), _str("value", 32),
    _str("school_year", 7), _str("term", 2), Column("late", Boolean, nullable=False),
)

FORECAST_DIMENSIONS = ("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "year", "gender",
                       "value", "late")
forecast_aggregates = Table(
    "forecast_aggregates", metadata,
    *[Column(d, Integer if d == "year" else Boolean if d == "late" else String(64), primary_key=True)
      for d in FORECAST_DIMENSIONS],
    Column("count", Integer, nullable=False),
    Index("ix_forecast_aggregates_organiser_level", "organiser_id", "level"),
)

lika_latest = Table(
    "lika_latest", metadata,
    Column("school_unit_code", String(8), primary_key=True),
    _str("organiser_id", 16, index=True),
    Column("self_assessment_id", Uuid, nullable=False),
    _str("school_form", 20), _str("respondent_role", 20), _str("catalogue_version", 32),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("ratings", JSONB, nullable=False),
)


class FactStore:
    """Facts and their aggregates for one kind (assessments or forecasts)."""

    def __init__(self, facts: Table, aggregates: Table, fact_type, dimensions: tuple[str, ...]) -> None:
        self.facts, self.aggregates, self.fact_type, self.dimensions = facts, aggregates, fact_type, dimensions
        self.id_column = facts.c[fields(fact_type)[0].name]

    async def load(self, session: AsyncSession, ids: Iterable) -> dict:
        ids = list(ids)
        if not ids:
            return {}
        rows = (await session.execute(select(self.facts).where(self.id_column.in_(ids)).with_for_update())).all()
        return {row[0]: self.fact_type(**row._mapping) for row in rows}

    async def save(self, session: AsyncSession, facts: list) -> None:
        if not facts:
            return
        # executemany of one cached statement: compiling a many-row VALUES list costs more than running it
        stmt = pg_insert(self.facts)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=[self.id_column.name],
            set_={c.name: stmt.excluded[c.name] for c in self.facts.columns if c is not self.id_column}),
            [asdict(f) for f in facts])

    async def add(self, session: AsyncSession, change: Counter) -> None:
        """Move the aggregate cells by `change`; cells that reach zero are removed."""
        if not change:
            return
        # sorted: two writers touching the same cells lock them in the same order
        rows = [dict(zip(self.dimensions, key), count=n) for key, n in sorted(change.items(), key=repr)]
        stmt = pg_insert(self.aggregates)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(self.dimensions),
            set_={"count": self.aggregates.c.count + stmt.excluded.count},
        ).returning(*[self.aggregates.c[d] for d in self.dimensions], self.aggregates.c.count)
        emptied = [row for row in (await session.execute(stmt, rows)).all() if row.count == 0]
        if emptied:  # only the cells this batch emptied: never a scan of the whole table
            agg = self.aggregates.c
            await session.execute(self.aggregates.delete().where(
                tuple_(*[agg[d] for d in self.dimensions]).in_([tuple(row[:-1]) for row in emptied])))

    def recomputed(self, hidden: str):
        """The aggregates computed from scratch from the facts (a SELECT)."""
        f = self.facts.c
        unit = {"group": f.group_id, "school_unit": f.school_unit_code, "organiser": f.organiser_id}
        parts = []
        for level in LEVELS:
            cols = [literal(level).label("level"), unit[level].label("unit_id")]
            cols += [f[d] for d in self.dimensions[2:]]
            parts.append(select(*cols, func.count().label("count")).where(~f[hidden])
                         .group_by(*[c for c in cols[1:]]))
        return union_all(*parts).subquery()

    async def mismatches(self, session: AsyncSession, hidden: str) -> int:
        """Cells where the materialised aggregate differs from the recomputation."""
        fresh = self.recomputed(hidden)
        agg = self.aggregates.c
        on = and_(*[agg[d] == fresh.c[d] for d in self.dimensions])
        left = select(func.count()).select_from(self.aggregates.outerjoin(fresh, on)).where(
            (fresh.c.count.is_(None)) | (fresh.c.count != agg.count))
        right = select(func.count()).select_from(fresh.outerjoin(self.aggregates, on)).where(agg.count.is_(None))
        return (await session.execute(left)).scalar_one() + (await session.execute(right)).scalar_one()


ASSESSMENTS = FactStore(assessment_facts, assessment_aggregates, AssessmentFact, ASSESSMENT_DIMENSIONS)
FORECASTS = FactStore(forecast_facts, forecast_aggregates, ForecastFact, FORECAST_DIMENSIONS)


async def save_lika(session: AsyncSession, row: dict) -> None:
    """Keep the newest published self-assessment per school unit."""
    stmt = pg_insert(lika_latest).values(row)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["school_unit_code"],
        set_={c.name: stmt.excluded[c.name] for c in lika_latest.columns if c.name != "school_unit_code"},
        where=tuple_(stmt.excluded.published_at, stmt.excluded.self_assessment_id)
        > tuple_(lika_latest.c.published_at, lika_latest.c.self_assessment_id)))


async def read_cells(session: AsyncSession, store: FactStore, filters: dict, group_by: list[str]) -> list:
    agg = store.aggregates.c
    keys = [agg[name] for name in group_by]
    query = select(*keys, agg.value, func.sum(agg.count).label("count")).group_by(*keys, agg.value)
    for name, value in filters.items():
        if value is not None:
            query = query.where(agg[name] == value)
    return (await session.execute(query.order_by(*keys, agg.value))).all()


async def read_lika(session: AsyncSession, organiser_id: str | None, school_unit_code: str | None) -> list:
    query = select(lika_latest).order_by(lika_latest.c.school_unit_code)
    if organiser_id:
        query = query.where(lika_latest.c.organiser_id == organiser_id)
    if school_unit_code:
        query = query.where(lika_latest.c.school_unit_code == school_unit_code)
    return (await session.execute(query)).all()
