"""Facts and materialised aggregates (six levels), written per batch and per set.

Every write is one statement per table per batch: the batch is resolved in memory first
(newest revision per fact, deltas summed per signature — the aggregates' deltas go as one row per
signature and are expanded to the five materialised levels and summed per cell by the server,
`FactStore.add_signed`), then sent as arrays and spread by
`unnest(...)` on the server — no per-row round trips, no many-row VALUES to compile. The big
upserts (facts, aggregates, figure tables) go by binary COPY into a temporary table and one merge
(`Staged`: cheaper to encode than arrays; bench/results/apply-cells2.json).

Concurrent writers (`lock_fact_writers`): a batch moves the cells by the difference between what it reads as
stored and what it stores, so two transactions must never both read "before" of one fact. `FOR UPDATE` guards a
stored fact only: for a fact not stored yet it locks nothing, and two transactions applying two revisions of
the same new fact (two partitions with one organiser's records, a replay beside the live consumer, a revoked
consumer's last batch) would both read "nothing before" and both count theirs. Every writer of facts and cells
therefore takes its organisers' `FACT_WRITERS_LOCK` first, in a statement of its own before any read of the
facts (READ COMMITTED: the read after it sees what the writer before it committed). So does a batch that changes
what compliance's items are derived from (memberships, teaching assignments, calendars): compliance moves its cells
by the difference from the stored item, read in the same statement, and a directory batch beside a fact batch of
the same organiser read the item the other had changed but not committed (its cells moved twice from one item).

The advisory locks of a batch, in the one order every transaction takes them (no cycle, no deadlock):
the kit's claim of the event ids (row locks) → `FACT_WRITERS_LOCK` (every organiser of the batch's facts at once,
in the kit's `advisory_locks` order: `lock_batch_fact_writers`, registered first) → `PLACEMENT_LOCK` (the directory's
moves exclusive, then `placement_of` shared) → the alerts' freshness locks (`alerts.freshness.lock_keys`) → rows of facts, cells,
alerts. `DIRECTORY_WRITE_LOCK` (directory writes over the API) and `JUDGE_ALL_LOCK` (a reevaluation, the
rebuild's swap) are taken by transactions that write no facts and take no `FACT_WRITERS_LOCK`. The rebuild's
handlers write its own (shadow) tables, one transaction alone: it takes none (`sole_fact_writer`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    cast,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import SchemaItem

from styrkedja_kit.db import advisory_locks
from styrkedja_kit.sets import copy_records

from ..consistency_parts import by_organiser, organisers_in
from ..directory.tables import PLACEMENT_LOCK, PLACEMENT_MEMO, placements
from ..metadata import metadata
from ..registry import batch_memo
from ..staging import (
    SMALL_ROWS,
    AreaTransfer,
    Staged,
    as_arrays,
    c_order,
    quoted,
    unnest_of,
)
from .rules import (
    GROUP_SEPARATOR,
    LEVELS,
    MATERIALISED,
    NATION,
    AssessmentFact,
    ForecastFact,
    Placement,
    fact_maker,
)


def required_str(name: str, length: int = 64, **kw: Any) -> Column[Any]:
    """`varchar(length) NOT NULL`: a fact's identifiers and codes, each as long as its contract allows."""
    return Column(name, String(length), nullable=False, **kw)


def fact_table(name: str, id_column: str, removed_column: str, *columns: SchemaItem) -> Table:
    """A `FactStore`'s table: each record's newest revision as reporting holds it (its id, revision and
    removed flag), then where it counts (organiser and school unit, indexed, and group), then `columns`.

    A record is identified WITHIN its organiser: the key is (id, organiser) (migration 0027). The producers'
    natural keys hold the organiser, but an event produced straight to Kafka under another organiser's id and
    message key (another partition, consumed in any order) named a stored fact by its id alone and took it over —
    moved it, and organiser A's figures, to organiser B. Under this key it is B's own record: nothing B sends
    reads, revises or retracts A's, in whatever order the partitions are consumed, and the rebuild folds by the
    same key. The id leads: a batch's look-up by its ids descends the key as before."""
    return Table(
        name, metadata,
        Column(id_column, Uuid, nullable=False),
        Column("revision", Integer, nullable=False),
        Column(removed_column, Boolean, nullable=False),
        required_str("organiser_id", 16, index=True), required_str("school_unit_code", 8, index=True),
        required_str("group_id"),
        *columns,
        PrimaryKeyConstraint(id_column, "organiser_id", name=f"{name}_pkey"),
    )


assessment_facts = fact_table(
    "assessment_facts", "assessment_id", "retracted",
    required_str("student_id"), required_str("gender", 8), Column("year", Integer, nullable=False),
    required_str("subject_code", 16), required_str("kind", 20), required_str("scale", 16), required_str("value", 32),
    required_str("school_year", 7), required_str("term", 2),
    Column("round", Integer, nullable=False),
    Column("assessed_on", Date),
    # when its current run was first reported (`rules.run_time`): compliance's lateness in a round, read with the
    # rest of the fact (migration 0037: it was a second row per assessment, `compliance_round_reports`); NULL only
    # for a fact that had no round report then (counted in no round's list, as before)
    Column("received_at", DateTime(timezone=True)),
)
# One student's results in a subject, newest last (`support.rules.newest_first`, the order of `support.linked`'s
# newest-result read: school year in the "C" collation, VT after HT, round, a term grade over another kind, id):
# support's newest result per (student, subject) is the key's last entry that is not left out — an index scan
# backward stopping at it, no sort per key (migration 0036; before, every result of the subject was read and
# sorted per key, apply33). Forecast against outcome (in a subject and term) descends the same (student,
# subject) prefix; the readers by student and term skip over the subjects (migration 0019).
FACTS_NEWEST_INDEX = "ix_assessment_facts_student_newest"
Index(FACTS_NEWEST_INDEX, assessment_facts.c.student_id, assessment_facts.c.subject_code,
      assessment_facts.c.school_year, assessment_facts.c.term == "VT", assessment_facts.c.round,
      assessment_facts.c.kind == "term_grade", assessment_facts.c.assessment_id)

#: Tables of cells that every batch adds to keep room on their pages (migration 0016): an update in place then
#: stays on its page and is heap-only (HOT: no new entry in the key and read indexes), most of a batch's writes
#: (bench/results/apply5.json: `heap_only_updates`)
CELL_FILLFACTOR = 70

ASSESSMENT_DIMENSIONS = ("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "round", "kind",
                         "scale", "year", "gender", "value")
#: The key in the order the reads want it (migration 0018): reads are per organiser and level, grouped by the cell
#: and value, so in this order the read's GROUP BY needs no sort — and the key is the only index. It was the
#: dimensions' order with a read index beside it; every new cell (most of a batch's rows: a cell per level,
#: subject, round, year, gender and value) then wrote two wide index entries, and the second cost a third of the
#: upsert's server CPU (bench/results/apply12.json). `count` stays out of the key: its updates stay heap-only.
ASSESSMENT_KEY = ("organiser_id", "level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale",
                  "value", "year", "gender")
assessment_aggregates = Table(
    "assessment_aggregates", metadata,
    *[Column(d, Integer if d in ("round", "year") else String(80), nullable=False) for d in ASSESSMENT_DIMENSIONS],
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint(*ASSESSMENT_KEY, name="assessment_aggregates_pkey"),
    # the nation reads' rows (the organiser level's, `results.read.level_rows`) by subject and term: only an
    # organiser cell's insert writes it (`count` is in no index: its updates stay heap-only) — migration 0023
    Index("ix_assessment_aggregates_nation", "subject_code", "school_year", "term",
          postgresql_where=text("level = 'organiser'")),
    postgresql_with={"fillfactor": CELL_FILLFACTOR},
)

forecast_facts = fact_table(
    "forecast_facts", "forecast_id", "withdrawn",
    required_str("student_id"), required_str("gender", 8), Column("year", Integer, nullable=False),
    required_str("subject_code", 16), required_str("value", 32), required_str("school_year", 7),
    required_str("term", 2), Column("late", Boolean, nullable=False),
    Column("submitted_on", Date),
    Index("ix_forecast_facts_student", "student_id", "school_year", "term"),
)

FORECAST_DIMENSIONS = ("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "year", "gender",
                       "value", "late")
#: As `ASSESSMENT_KEY`: led by organiser and level (what its read index was), the key is the only index (0018)
FORECAST_KEY = ("organiser_id", "level", "unit_id", "subject_code", "school_year", "term", "year", "gender", "value",
                "late")
forecast_aggregates = Table(
    "forecast_aggregates", metadata,
    *[Column(d, Integer if d == "year" else Boolean if d == "late" else String(80), nullable=False)
      for d in FORECAST_DIMENSIONS],
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint(*FORECAST_KEY, name="forecast_aggregates_pkey"),
    Index("ix_forecast_aggregates_nation", "subject_code", "school_year", "term",
          postgresql_where=text("level = 'organiser'")),
    postgresql_with={"fillfactor": CELL_FILLFACTOR},
)


#: pg_advisory_xact_lock(FACT_WRITERS_LOCK, hashtext(organiser_id)): the writers of one organiser's facts and
#: cells take turns (see the module's "Concurrent writers"). Per organiser, not per fact: a batch names thousands
#: of facts and a handful of organisers (its records are keyed by organiser)
FACT_WRITERS_LOCK = 812_003
#: session.info: (the transaction they were taken in, the organisers whose lock it holds); or `_SOLE`
_FACT_WRITERS = "styrkedja.results.fact_writers"
_SOLE = "sole"


def _transaction_of(session: AsyncSession) -> Any:
    """The (innermost) transaction a lock taken now is held by: a savepoint rolled back lets go of what was taken
    in it, a new transaction holds none — either is another object than the one the locks were noted with."""
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


async def lock_fact_writers(session: AsyncSession, organisers: Iterable[str]) -> None:
    """`FACT_WRITERS_LOCK` of `organisers` for the transaction, those it does not hold yet, in a statement of its
    own (the kit's `advisory_locks`: one order for every taker): before the caller reads any of their facts. Taken
    once per transaction (noted in `session.info`); a batch takes all of its organisers at once first (`lock_batch_fact_writers`), so that no
    transaction takes one organiser's while it waits for another's (a cycle)."""
    noted = session.info.get(_FACT_WRITERS)
    if noted == _SOLE:
        return
    transaction = _transaction_of(session)
    held: frozenset[str] = noted[1] if noted is not None and noted[0] is transaction else frozenset()
    missing = sorted(set(organisers) - held)
    if not missing:
        return
    await advisory_locks(session, FACT_WRITERS_LOCK, missing)
    session.info[_FACT_WRITERS] = (_transaction_of(session), held | frozenset(missing))


def holds_fact_writers(session: AsyncSession, organisers: Iterable[str]) -> bool:
    """Whether the session's transaction holds `FACT_WRITERS_LOCK` of every one of `organisers` (or is the sole writer
    of what it writes, `sole_fact_writer`): a writer that reads rows and writes them by their place without locking
    them (`figures.coverage_counts`) relies on it."""
    noted = session.info.get(_FACT_WRITERS)
    if noted == _SOLE:
        return True
    return noted is not None and noted[0] is _transaction_of(session) and noted[1].issuperset(organisers)


def sole_fact_writer(session: AsyncSession, sole: bool = True) -> None:
    """The session's transactions are the only writers of the facts and cells they write (the rebuild's, into its
    own schema): they take no `FACT_WRITERS_LOCK` (a lock for the whole database, which would hold the live
    consumer's batches back till the rebuild's commit). `sole=False` ends it."""
    if sole:
        session.info[_FACT_WRITERS] = _SOLE
    elif session.info.get(_FACT_WRITERS) == _SOLE:
        del session.info[_FACT_WRITERS]


_SECOND = itemgetter(1)
_UUID_INT = attrgetter("int")


class FactStore:
    """Facts and their aggregates for one kind (assessments or forecasts)."""

    def __init__(self, facts: Table, aggregates: Table, fact_type: type, dimensions: tuple[str, ...],
                 hidden: str, levels: tuple[str, ...] = MATERIALISED) -> None:
        """`levels`: those whose cells the aggregates keep rows for (the results' keep no area: `AGGREGATE_LEVELS`)."""
        self.facts, self.aggregates, self.fact_type, self.dimensions = facts, aggregates, fact_type, dimensions
        self.hidden, self.levels = hidden, levels
        self.fact_fields = tuple(f.name for f in fields(fact_type))
        self.make: Callable[..., Any] = fact_maker(fact_type)  # `fact_type(*values)`, faster
        self.id_column = facts.c[self.fact_fields[0]]
        #: a fact's key, as `load` returns them and `apply_facts` folds by: (organiser, id) — a record is
        #: identified within its organiser (`fact_table`)
        self.key_of: Callable[[Any], tuple[str, Any]] = attrgetter("organiser_id", self.fact_fields[0])
        self._preloaded = f"styrkedja.preloaded.{facts.name}"
        self._row_of = attrgetter(*self.fact_fields)  # not dataclasses.astuple: that deep-copies every value
        col_list = ", ".join(quoted(n) for n in self.fact_fields)
        organiser_at = self.fact_fields.index("organiser_id")
        self._organiser_at = organiser_at
        # by the ids (the key's leading column) and the batch's few organisers: the key's index descended as before
        self._load = text(f"SELECT {col_list} FROM {facts.name} WHERE {quoted(self.id_column.name)} "
                          f"= ANY(CAST(:ids AS uuid[])) AND organiser_id = ANY(CAST(:organisers AS text[])) "
                          "FOR UPDATE")
        updates = ", ".join(f"{quoted(n)} = EXCLUDED.{quoted(n)}" for n in self.fact_fields[1:]
                            if n != "organiser_id")
        self._staged_facts = Staged(facts, self.fact_fields)
        self._save = self._staged_facts.statements(
            f"INSERT INTO {facts.name} ({col_list}) {{rows}} ON CONFLICT ({quoted(self.id_column.name)}, organiser_id) "
            f"DO UPDATE SET {updates}")
        self._insert = self._staged_facts.statements(f"INSERT INTO {facts.name} ({col_list}) {{rows}}")
        dims = ", ".join(quoted(d) for d in dimensions)
        self._staged = Staged(aggregates, (*dimensions, "count"))
        self._add = self._staged.statements(
            f"WITH up AS (INSERT INTO {aggregates.name} ({dims}, count) {{rows}} "
            f"ON CONFLICT ({dims}) DO UPDATE SET count = {aggregates.name}.count + EXCLUDED.count "
            f"RETURNING {dims}, count) SELECT {dims} FROM up WHERE count = 0")
        # the batch's deltas per signature (`rules.assessment_signature`: school unit, group, then the cells'
        # dimensions after level and unit), with the school unit's area where the store keeps the area level:
        # expanded to the levels kept (`_level_units`) and summed per cell by the server, in the upsert (`add_signed`)
        signed = Table(f"{aggregates.name}_signed", MetaData(), Column("school_unit_code", String),
                       Column("group_id", String), *[Column(d, aggregates.c[d].type) for d in dimensions[2:]],
                       *([Column("area", String)] if "area" in levels else []), Column("n", Integer))
        self._staged_signed = Staged(signed, tuple(signed.c.keys()))
        rest = ", ".join(f"s.{quoted(d)}" for d in dimensions[2:])
        self._add_signed = self._staged_signed.statements(
            f"WITH up AS (INSERT INTO {aggregates.name} ({dims}, count) "
            f"SELECT u.level, u.unit_id, {rest}, sum(s.n) FROM ({{rows}}) AS s CROSS JOIN LATERAL "
            f"({_level_units(levels)}) AS u(level, unit_id) WHERE u.unit_id IS NOT NULL "
            f"GROUP BY u.level, u.unit_id, {rest} HAVING sum(s.n) <> 0 "
            # sorted: two writers touching the same cells lock them in the same order
            f"ORDER BY {c_order(['u.level', 'u.unit_id', *[f's.{quoted(d)}' for d in dimensions[2:]]], aggregates, dimensions)} "
            f"ON CONFLICT ({dims}) DO UPDATE SET count = {aggregates.name}.count + EXCLUDED.count "
            f"RETURNING {dims}, count) SELECT {dims} FROM up WHERE count = 0")
        key_cols = [aggregates.c[d] for d in dimensions]
        self._delete_empty = text(
            f"DELETE FROM {aggregates.name} WHERE count = 0 AND ({dims}) IN (SELECT * FROM {unnest_of(key_cols)})")
        self._area_transfer = AreaTransfer(aggregates, dimensions, ("count",)) if "area" in levels else None
        #: the rows as every materialised level reads them: the table, or (no area kept) with the areas' rows made
        #: from their school units' (`with_areas`)
        self.read_rows = aggregates if "area" in levels else with_areas(aggregates)

    async def load(self, session: AsyncSession, keys: Iterable[tuple[str, Any]]) -> dict[tuple[str, Any], Any]:
        """The stored facts of `keys` ((organiser, id), `key_of`), by key, locked (FOR UPDATE) to the transaction's
        end, their organisers' `FACT_WRITERS_LOCK` taken first. Only a fact of the same organiser is found: another
        organiser's record under the same id is another record (`fact_table`). Loaded already in this transaction
        for the same keys (`preload`: a handler before results), they are not read again."""
        # a set compared with the preloaded keys' set (its entries' hashes kept: no UUID hashed again), sorted only
        # for a read (thousands of ids per batch: each UUID's hash and sort key is a Python call)
        wanted = keys if isinstance(keys, (set, frozenset)) else set(keys)
        if not wanted:
            return {}
        organisers = {organiser for organiser, _ in wanted}
        await lock_fact_writers(session, organisers)
        loaded = session.info.pop(self._preloaded, None)
        if loaded is not None and loaded[0] == wanted:
            return dict(loaded[1])
        # the ids as they are (the keys are distinct: an id twice only under two organisers, harmless in ANY): no
        # set of the UUIDs made again (a UUID's hash is a Python call), sorted by their integer as `sorted_unique`
        ids = list(map(_SECOND, wanted))
        ids.sort(key=_UUID_INT if isinstance(ids[0], UUID) else None)
        rows = (await session.execute(self._load, {"ids": ids, "organisers": sorted(organisers)})).all()
        make, at = self.make, self._organiser_at
        found = {(row[at], row[0]): make(*row) for row in rows}
        if len(organisers) > 1:  # one organiser's id under another's in the batch: not asked for, left out
            found = {key: fact for key, fact in found.items() if key in wanted}
        return found

    async def preload(self, session: AsyncSession, keys: Iterable[tuple[str, Any]]) -> dict[tuple[str, Any], Any]:
        """`load`, kept for the results handler of this batch (its next `load` of the same keys): a
        handler that reads the batch's stored facts before results (alerts, where they counted
        before) reads them once for both. Nothing between may change the facts."""
        wanted = keys if isinstance(keys, (set, frozenset)) else set(keys)
        found = await self.load(session, wanted)
        session.info[self._preloaded] = (wanted, found)
        return found

    async def save(self, session: AsyncSession, facts: list[Any]) -> None:
        if facts:
            await self._staged_facts.execute(session, list(map(self._row_of, facts)), self._save)

    async def insert_new(self, session: AsyncSession, facts: list[Any]) -> None:
        """`save` of facts none of which is stored: `apply_facts` loaded their keys (`load`: FOR UPDATE, the
        organisers' `FACT_WRITERS_LOCK` taken first, so no other writer of theirs inserts one till the commit) and
        found none. Many go by one binary COPY straight into the table: no staged copy read by an INSERT, no ON
        CONFLICT's speculative insertion (the key looked up before each row, a confirmation written after it:
        apply38). A row stored after all (the lock's discipline broken) is a unique violation: the batch fails
        whole, nothing doubled or lost. Few go in one plain INSERT over arrays (one round trip too)."""
        if not facts:
            return
        rows = list(map(self._row_of, facts))
        if len(rows) <= SMALL_ROWS:
            await self._staged_facts.execute(session, rows, self._insert)
        else:
            await copy_records(session, self.facts.name, self.fact_fields, rows)

    async def add(self, session: AsyncSession, change: Counter[Any]) -> None:
        """Move the aggregate cells by `change` (those of the levels kept, `levels`); cells that reach zero are
        removed."""
        # each position has one type: comparable
        rows = sorted((*key, n) for key, n in change.items() if n and key[0] in self.levels)
        if not rows:
            return
        # sorted: two writers touching the same cells lock them in the same order (in Python: a sort of
        # 20,000 rows by the server, ORDER BY every column, cost it more CPU than Python's tuple sort saved)
        emptied = await self._staged.execute(session, rows, self._add)
        if emptied:  # only the cells this batch emptied: never a scan of the whole table
            await session.execute(self._delete_empty, as_arrays(self.dimensions, [tuple(r) for r in emptied]))

    async def add_signed(self, session: AsyncSession, signed: Mapping[tuple[Any, ...], int],
                         placement: Placement) -> None:
        """`add` of the cells of every signature (`signature_cells`) times its count, expanded to the levels
        kept and summed per cell by the server: one row per signature sent, not one per cell (with its school
        unit's area from `placement` where the area level is kept)."""
        if "area" in self.levels:
            rows = [(*sig, placement.get(sig[0]), n) for sig, n in signed.items() if n]
        else:
            rows = [(*sig, n) for sig, n in signed.items() if n]
        if not rows:
            return
        emptied = await self._staged_signed.execute(session, rows, self._add_signed)
        if emptied:  # only the cells this batch emptied: never a scan of the whole table
            await session.execute(self._delete_empty, as_arrays(self.dimensions, [tuple(r) for r in emptied]))

    async def transfer(self, session: AsyncSession, moves: Sequence[tuple[str, str | None, str | None]]) -> None:
        """School units moved between areas (or were placed / unplaced): move their area cells (where the area level
        is kept; otherwise an area's cells are read from its school units' as they are placed now)."""
        if self._area_transfer is not None:
            await self._area_transfer.execute(session, moves)

    def recomputed_sql(self, within: str = "", facts: str | None = None) -> str:
        """Every level's cells computed from scratch from the facts (a SELECT); `within`: `AND` a further
        condition on the facts (`f`); `facts`: the table or common table expression they are read from (the
        store's table)."""
        unit = {"group": f"f.school_unit_code || '{GROUP_SEPARATOR}' || f.group_id",
                "school_unit": "f.school_unit_code", "area": "p.area_id", "organiser": "f.organiser_id",
                "nation": f"'{NATION}'"}
        rest = ", ".join(f"f.{quoted(d)}" for d in self.dimensions[2:])
        parts = []
        for level in self.levels:
            join = (f"JOIN {placements.name} p ON p.school_unit_code = f.school_unit_code AND p.area_id IS NOT NULL"
                    if level == "area" else "")
            parts.append(f"SELECT CAST('{level}' AS varchar) AS level, CAST({unit[level]} AS varchar) AS unit_id, "
                         f"{rest}, count(*) AS count FROM {facts or self.facts.name} f {join} WHERE NOT f.{self.hidden}{within} "
                         f"GROUP BY 2, {rest}")
        return " UNION ALL ".join(parts)

    async def mismatches(self, session: AsyncSession, organisers: Sequence[str] | None = None) -> dict[str, int]:
        """Per level: cells where the materialised aggregate differs from the recomputation — organiser by
        organiser (`organisers`: every organiser of the facts and the aggregates, found if not given): every cell's
        key holds its facts' organiser, so the parts add up to the whole. One organiser's facts are a hash in
        memory; every fact at once spilled to temp files and grew faster than the facts (bench/README.md sql30,
        order31)."""
        on = " AND ".join(f"a.{quoted(d)} = r.{quoted(d)}" for d in self.dimensions)
        # the organiser's facts read once (the columns the recomputation reads), each level's aggregate reading
        # them from memory
        cols = ", ".join(quoted(c) for c in ("school_unit_code", "group_id", self.hidden, *self.dimensions[2:]))
        sql = text(f"WITH organiser_facts AS MATERIALIZED (SELECT {cols} FROM {self.facts.name} "
                   f"WHERE organiser_id = :organiser AND NOT {self.hidden}), "
                   f"r AS ({self.recomputed_sql(facts='organiser_facts')}) "
                   f"SELECT coalesce(a.level, r.level) AS level, count(*) "
                   f"FROM (SELECT * FROM {self.aggregates.name} WHERE organiser_id = :organiser) a "
                   f"FULL OUTER JOIN r ON {on} WHERE a.count IS DISTINCT FROM r.count GROUP BY 1")

        async def of(organiser: str) -> dict[str, int]:
            rows = (await session.execute(sql, {"organiser": organiser})).all()
            return {row[0]: int(row[1]) for row in rows}

        if organisers is None:
            organisers = await organisers_in(session, self.facts.name, self.aggregates.name)
        found = await by_organiser(organisers, self.aggregates.name, of)
        # the student level is read from the facts and the nation's from the organiser level's cells: equal to
        # them by construction
        return {level: found.get(level, 0) for level in LEVELS}


#: The levels whose cells the aggregates (assessments', forecasts') keep rows for — not the area (migration 0039). An
#: area's cells are the sums of its school units' rows, read with them (`with_areas`), as the nation's are the
#: organiser level's: an area cell was a new row for most of a batch's new school-unit cells (0.415 of the 1.629
#: aggregate rows written per event in the deadline week; bench/README.md apply35pg), and a school unit moving
#: between areas moved its rows. An area's rows are a few school units' (about five), placed as the directory
#: places them now — what the kept area rows were moved to.
AGGREGATE_LEVELS = ("group", "school_unit", "organiser")


def with_areas(aggregates: Table) -> Any:
    """The aggregates' rows as every materialised level reads them (a subquery with the table's columns): the rows
    kept, and each school unit's rows again as its area's (`level` 'area', `unit_id` the area it is placed in now).
    A reader sums them per cell (GROUP BY), as it sums a cell's rows anyway; a condition on the level or the unit
    reaches both parts (the second's unit is the placement's area: one area's read joins that area's school units)."""
    a, p = aggregates.c, placements.c
    area_rows = select(*[cast(literal_column("'area'"), a.level.type).label("level") if c.name == "level"
                         else cast(p.area_id, a.unit_id.type).label("unit_id") if c.name == "unit_id" else c
                         for c in a]).select_from(aggregates.join(placements, p.school_unit_code == a.unit_id)).where(
        a.level == "school_unit", p.area_id.is_not(None))
    return union_all(select(aggregates), area_rows).subquery(f"{aggregates.name}_read")


#: (level, unit id) of every materialised level of a staged signature row `s` (its school unit, group, area,
#: organiser): `rules.units` in SQL; an unplaced school unit's area is NULL (no area cell)
LEVEL_UNITS = (f"VALUES ('group', s.school_unit_code || '{GROUP_SEPARATOR}' || s.group_id), "
               f"('school_unit', s.school_unit_code), ('area', s.area), ('organiser', s.organiser_id)")


def _level_units(levels: Sequence[str]) -> str:
    """`LEVEL_UNITS` of `levels` only: (level, unit id) of a staged signature row `s` at each level kept."""
    unit = {"group": f"s.school_unit_code || '{GROUP_SEPARATOR}' || s.group_id", "school_unit": "s.school_unit_code",
            "area": "s.area", "organiser": "s.organiser_id"}
    return "VALUES " + ", ".join(f"('{level}', {unit[level]})" for level in levels)


ASSESSMENTS = FactStore(assessment_facts, assessment_aggregates, AssessmentFact, ASSESSMENT_DIMENSIONS, "retracted",
                        AGGREGATE_LEVELS)
FORECASTS = FactStore(forecast_facts, forecast_aggregates, ForecastFact, FORECAST_DIMENSIONS, "withdrawn",
                      AGGREGATE_LEVELS)
STORES = {"assessments": ASSESSMENTS, "forecasts": FORECASTS}


_UNPLACED = object()


async def placement_of(session: AsyncSession, codes: Iterable[str]) -> Placement:
    """The area of each school unit, read under a shared lock per school unit: a directory
    change moving one of them waits for this batch, and this batch for it (see directory)."""
    codes = sorted(set(codes))
    # within a batch a school unit is locked and read once (the lock holds to the transaction's end,
    # so what was read stays true; the directory handler forgets the memo when it moves one)
    memo = batch_memo(session, PLACEMENT_MEMO)
    if memo is None:
        return await _placement_read(session, codes)
    missing = [c for c in codes if c not in memo]
    if missing:
        memo.update(dict.fromkeys(missing, _UNPLACED))
        memo.update(await _placement_read(session, missing))
    return {c: memo[c] for c in codes if memo[c] is not _UNPLACED}


async def _placement_read(session: AsyncSession, codes: list[str]) -> Placement:
    if not codes:
        return {}
    await advisory_locks(session, PLACEMENT_LOCK, codes, shared=True)
    rows = (await session.execute(text(
        f"SELECT school_unit_code, area_id FROM {placements.name} "
        "WHERE school_unit_code = ANY(CAST(:codes AS text[]))"), {"codes": codes})).all()
    return {row[0]: row[1] for row in rows}
