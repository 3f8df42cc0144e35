"""Variants of one step of the rebuild after the read, alternated on a rebuilt database (issue 16, rebuild17): each
variant's statements in a transaction of its own with the rebuild's settings (256 MB of `work_mem` =
`maintenance_work_mem`, no parallel workers, as with two connections), into a scratch schema, then rolled back; the
PostgreSQL backend's CPU seconds over the measured statements (a table's fill and its index builds together: a fill
in key order costs a sort and saves the build's).

    .venv/bin/python bench/rebuild_variants.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --step levels --rounds 3 --out /tmp/variants.jsonl

The database is one `bench/rebuild_held.py` left (its tables are the live ones after the swap), of this tree's schema:
the tables a step names (`public.<table>`) are looked up first and a missing one refused by name. The step
`round_reports` (rebuild18: compliance_round_reports filled in two orders) compares a table migration 0037 dropped
(rounds33: the run's first time is the facts' `received_at`, written in the facts' one insert); it refuses and says
so, as does `pass_students` (rebuild19: its "before" was a text of the roll-up replaced, a text pass36 rewrote). The index builds measured with a table's fill are the table's key and indexes as reporting's schema declares them
now (`_builds`; rebuild18's figure_students student index was folded into its key since)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Any

import asyncpg
from measured import RolledBack, alternated, rebuild_settings, record, statement_arguments  # a sibling module
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from styrkedja_reporting.directory.tables import placements
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.results.rules import GROUP_SEPARATOR, MATERIALISED
from styrkedja_reporting.results.tables import ASSESSMENTS
from styrkedja_reporting.staging import quoted

#: why a step is no longer run: its name → what it compared and what replaced it
RETIRED = {"round_reports": "compliance_round_reports was dropped by migration 0037 (rounds33): the run's first time "
                            "is assessment_facts.received_at, written in the facts' one insert; nothing is left to "
                            "order. Run this step from a tree before fa6dd3f5 against a database of that tree.",
           # its "before" was made by replacing a text of the roll-up's `gs` that pass36 rewrote: the replacement
           # matched nothing since, and "before" was today's statement under that name (knobs37)
           "pass_students": "the two-statement side was the pass roll-up with a text of its `gs` replaced, and "
                            "pass36 rewrote that text: the step compared today's statement with itself. The one "
                            "statement is the rebuild's since rebuild19 (results/rebuild19.json); compare the pass "
                            "statement of two trees with bench/pass36.py. Run this step from a tree before 0c74eccb "
                            "against a database of that tree."}


def _builds(table: Table) -> list[str]:
    """The table's key and each of its indexes as reporting's schema declares them, built on the scratch schema's
    copy (its name unqualified: the search path finds the scratch table first)."""
    key = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return [f"ALTER TABLE {table.name} ADD PRIMARY KEY ({key})",
            *(str(CreateIndex(index).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
              for index in sorted(table.indexes, key=lambda i: str(i.name)))]


def named_tables(statements: list[str]) -> set[str]:
    """The live tables a step's statements name (`public.<table>`)."""
    return set(re.findall(r"\bpublic\.(\w+)", " ".join(statements)))


def _levels() -> dict[str, tuple[list[str], list[str]]]:
    """name → (setup statements, measured statements): the levels of the assessments and their key's index."""
    store = ASSESSMENTS
    dims = ", ".join(f'"{d}"' for d in store.dimensions)
    table = store.aggregates.name
    setup = [f"CREATE UNLOGGED TABLE {table} (LIKE public.{table} INCLUDING DEFAULTS)"]
    key = ", ".join(f'"{c.name}"' for c in store.aggregates.primary_key.columns)
    build = f"ALTER TABLE {table} ADD PRIMARY KEY ({key})"
    rolled = f"SELECT {dims}, count FROM ({bulk.rolled_up_levels_sql(store)}) AS r({dims}, count)"
    order = bulk._key_order(list(store.aggregates.primary_key.columns))
    return {
        # before: five scans and aggregates of the facts, into a scratch table, then copied
        "before": (setup, [f"CREATE UNLOGGED TABLE scratch AS SELECT {dims}, count FROM ({store.recomputed_sql()}) AS r",
                           f"INSERT INTO {table} ({dims}, count) SELECT {dims}, count FROM scratch", build]),
        "rolled_up": (setup, [f"INSERT INTO {table} ({dims}, count) {rolled}", build]),
        "rolled_up_key_order": (setup, [f"INSERT INTO {table} ({dims}, count) SELECT * FROM ({rolled}) AS x "
                                        f"ORDER BY {order}", build]),
    }


def _levels_from_groups_sql(store: Any) -> str:
    """rebuild17's roll-up (`bulk.rolled_up_levels_sql` before rebuild18), kept here to compare with: the facts
    counted once per school unit, group and the other dimensions (`g`), every level above summed from those rows
    (without the nation level since apply18: its reads take the organiser level's)."""
    if tuple(store.dimensions[:3]) != ("level", "unit_id", "organiser_id") or \
            tuple(MATERIALISED) != ("group", "school_unit", "area", "organiser"):
        raise ValueError("the levels' roll-up expects (level, unit_id, organiser_id, …) and the four levels")
    rest = ", ".join(quoted(d) for d in store.dimensions[2:])
    of_fact = ", ".join(f"f.{quoted(d)}" for d in store.dimensions[2:])
    of_g = ", ".join(f"g.{quoted(d)}" for d in store.dimensions[2:])
    g = (f"SELECT f.school_unit_code AS su, f.group_id AS gid, {of_fact}, CAST(count(*) AS integer) AS n "
         f"FROM {store.facts.name} f WHERE NOT f.{store.hidden} GROUP BY f.school_unit_code, f.group_id, {of_fact}")
    levels = [
        f"SELECT CAST('group' AS varchar), CAST(su || '{GROUP_SEPARATOR}' || gid AS varchar), {rest}, n FROM g",
        f"SELECT CAST('school_unit' AS varchar), CAST(su AS varchar), {rest}, CAST(sum(n) AS integer) FROM g "
        f"GROUP BY su, {rest}",
        f"SELECT CAST('area' AS varchar), CAST(p.area_id AS varchar), {of_g}, CAST(sum(g.n) AS integer) FROM g "
        f"JOIN {placements.name} p ON p.school_unit_code = g.su AND p.area_id IS NOT NULL GROUP BY p.area_id, {of_g}",
        f"SELECT CAST('organiser' AS varchar), CAST(organiser_id AS varchar), {rest}, CAST(sum(n) AS integer) "
        f"FROM g GROUP BY {rest}"]
    return f"WITH g AS MATERIALIZED ({g}) {' UNION ALL '.join(levels)}"


def _levels18() -> dict[str, tuple[list[str], list[str]]]:
    """rebuild18: the area and organiser levels summed from the school-unit level's rows instead of the group's."""
    store = ASSESSMENTS
    dims = ", ".join(f'"{d}"' for d in store.dimensions)
    table = store.aggregates.name
    setup = [f"CREATE UNLOGGED TABLE {table} (LIKE public.{table} INCLUDING DEFAULTS)"]
    key = ", ".join(f'"{c.name}"' for c in store.aggregates.primary_key.columns)
    build = f"ALTER TABLE {table} ADD PRIMARY KEY ({key})"
    order = bulk._key_order(list(store.aggregates.primary_key.columns))
    out = {}
    for name, sql in (("from_groups", _levels_from_groups_sql),
                      ("from_school_units", bulk.rolled_up_levels_sql)):
        rolled = f"SELECT {dims}, count FROM ({sql(store)}) AS r({dims}, count)"
        out[name] = (setup, [f"INSERT INTO {table} ({dims}, count) SELECT * FROM ({rolled}) AS x ORDER BY {order}",
                             build])
    return out


def _round_reports() -> dict[str, tuple[list[str], list[str]]]:
    """rebuild18: compliance's round reports in the assessment's order or the student index's (retired: `RETIRED`)."""
    raise SystemExit(f"rebuild_variants --step round_reports: {RETIRED['round_reports']}")


#: JIT as the server plans it past its cost thresholds (jit_above_cost 100,000, optimize and inline 500,000): at 402k
#: events the rebuild's statements cost less than that (no JIT); at 1.6M and 6.4M they cost 4-16 times as much, so
#: the server compiles them — forced here on the 402k database to see what it would do there (rebuild18)
_JIT = {"jit_off": ["SET LOCAL jit = off"],
        "jit_compile": ["SET LOCAL jit = on", "SET LOCAL jit_above_cost = 0", "SET LOCAL jit_optimize_above_cost = -1",
                        "SET LOCAL jit_inline_above_cost = -1"],
        "jit_full": ["SET LOCAL jit = on", "SET LOCAL jit_above_cost = 0", "SET LOCAL jit_optimize_above_cost = 0",
                     "SET LOCAL jit_inline_above_cost = 0"]}


def _jit() -> dict[str, tuple[list[str], list[str]]]:
    """The three biggest statements after the read (students, pass, levels; their fills only) under each JIT mode."""
    from styrkedja_reporting.figures import tables as figure_tables

    store = ASSESSMENTS
    dims = ", ".join(f'"{d}"' for d in store.dimensions)
    students = figure_tables.TABLES["students"]
    cols = ", ".join(f'"{c}"' for c in students.columns)
    order = bulk._key_order(list(students.table.primary_key.columns))
    setup = [f"CREATE UNLOGGED TABLE {store.aggregates.name} (LIKE public.{store.aggregates.name} INCLUDING DEFAULTS)",
             "CREATE UNLOGGED TABLE figure_students (LIKE public.figure_students INCLUDING DEFAULTS)",
             "SET LOCAL enable_nestloop = off"]  # as figures.pass runs (`NO_NESTED_LOOPS`)
    measured = [
        f"INSERT INTO figure_students ({cols}) SELECT {cols} FROM ({figure_tables.REBUILT['students']}) AS r "
        f"ORDER BY {order}",
        f"CREATE UNLOGGED TABLE pass AS SELECT * FROM ({figure_tables.REBUILT['pass']}) AS r",
        f"INSERT INTO {store.aggregates.name} ({dims}, count) SELECT {dims}, count FROM "
        f"({bulk.rolled_up_levels_sql(store)}) AS r({dims}, count)"]
    return {name: ([*settings, *setup], measured) for name, settings in _JIT.items()}


def _students() -> dict[str, tuple[list[str], list[str]]]:
    """rebuild18: figure_students (its fill and index builds, `_builds`) as the rebuild makes it — the figure's one
    aggregate of both period kinds (`figure_tables.REBUILT`, a hash aggregate), then sorted into the key's order —
    against one sorted pass over the facts (each fact once per period kind, sorted by the key, counted as it streams:
    no hash aggregate, no second sort), and against no order (the builds sort)."""
    from styrkedja_reporting.figures import tables as figure_tables
    from styrkedja_reporting.figures.tables import _reaches_values
    from styrkedja_reporting.results.rules import GROUP_SEPARATOR

    students = figure_tables.TABLES["students"]
    cols = ", ".join(f'"{c}"' for c in students.columns)
    order = bulk._key_order(list(students.table.primary_key.columns))
    setup = ["CREATE UNLOGGED TABLE figure_students (LIKE public.figure_students INCLUDING DEFAULTS)"]
    builds = _builds(students.table)
    rebuilt = f"SELECT {cols} FROM ({figure_tables.REBUILT['students']}) AS r"
    place = ", ".join(f'"{c}"' for c in students.columns if c != "count")
    each = (f"SELECT CAST('group' AS varchar) AS level, CAST(f.school_unit_code || '{GROUP_SEPARATOR}' || f.group_id "
            "AS varchar) AS unit_id, f.organiser_id, f.subject_code, f.year, f.school_year, q.period, f.student_id "
            f"FROM assessment_facts f JOIN {_reaches_values()} ON s.scale = f.scale AND s.value = f.value "
            "CROSS JOIN LATERAL (VALUES (CAST(f.term AS varchar)), (CAST('R' || f.round AS varchar))) AS q(period) "
            "WHERE NOT f.retracted AND f.assessed_on IS NOT NULL")
    sorted_pass = (f"INSERT INTO figure_students ({cols}) SELECT {place}, CAST(count(*) AS integer) FROM ({each}) AS x "
                   f"GROUP BY {order}, {place} ORDER BY {order}")
    return {"hash_then_sort": (setup, [f"INSERT INTO figure_students ({cols}) {rebuilt} ORDER BY {order}", *builds]),
            "sorted_pass": (["SET LOCAL enable_hashagg = off", *setup], [sorted_pass, *builds]),
            "unordered": (setup, [f"INSERT INTO figure_students ({cols}) {rebuilt}", *builds])}


def _pass_students() -> dict[str, tuple[list[str], list[str]]]:
    """rebuild19: figure_pass and figure_students (their fills, figure_students' key and student index) by two
    statements — students by its own aggregate of every fact, pass by the roll-up through a scratch table — against
    one statement whose data-modifying WITH writes figure_students from the roll-up's rows (retired: `RETIRED`)."""
    raise SystemExit(f"rebuild_variants --step pass_students: {RETIRED['pass_students']}")


STEPS = {"levels": _levels, "jit": _jit, "levels18": _levels18, "round_reports": _round_reports,
         "students": _students, "pass_students": _pass_students}


async def one(dsn: str, setup: list[str], measured: list[str], work_mem_mb: int = 256) -> dict[str, float]:
    async with RolledBack(dsn, "bench_variants", rebuild_settings(work_mem_mb)) as run:
        await run.execute(*setup)
        return await run.measured(*measured)


async def main() -> int:
    parser = statement_arguments(__doc__, rounds=3)
    parser.add_argument("--step", choices=sorted(STEPS), required=True)
    args = parser.parse_args()
    variants = STEPS[args.step]()
    names = list(variants)
    named = sorted(set().union(*(named_tables([*setup, *measured]) for setup, measured in variants.values())))
    connection = await asyncpg.connect(args.dsn)
    try:
        missing = [t for t in named if await connection.fetchval("SELECT to_regclass($1)", f"public.{t}") is None]
    finally:
        await connection.close()
    if missing:
        print(f"rebuild_variants --step {args.step}: the database holds no {', '.join(missing)}: not a rebuilt "
              "database of this tree's schema", file=sys.stderr)
        return 2
    for round_, name in alternated(names, args.rounds):
        record({"round": round_, "step": args.step, "variant": name, **await one(args.dsn, *variants[name]),
                "load_1min": round(os.getloadavg()[0], 1)}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
