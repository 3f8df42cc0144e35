"""Nation-level reads at the national organiser count (issue 16, apply18): the nation's cells read from the organiser
level's (this code) against the materialised nation cells (`--before-code`, a source tree of the base commit), on one
database holding both (the nation copies are kept for the base code's reads; this code never reads them).

The state: `--organisers-applied` organisers of `bench/deadline_week.py` (`--students` each, through the real apply
path, `apply_workers`' organisers and data), then every kept cell (every table, every level, and the group cells'
students) copied to further organiser ids until there are `--organisers` (default 290: the nation's ~290
municipalities, each with a full deadline week's cells), then the nation cells as the organiser cells' copies
(migration 0022's downgrade), ANALYZE.

Each variant reads in a process of its own (`PYTHONPATH`: the base code first for `before`), alternated
`--rounds` times: per read (results, figures, support, the disclosure decision of a public reader: every level
suppressed, cold per subject), the ms of each call in-process (SQL + Python, one connection: not the HTTP path) and a
digest of every answer. The answers must be byte-identical between the variants (exit status 1 if not).

    .venv/bin/python bench/nation_read.py --before-code /tmp/base [--organisers 290] [--rounds 3] [--calls 15]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

#: every table of cells kept per level (migration 0022's), and the group cells' students
CELL_TABLES = ("assessment_aggregates", "forecast_aggregates", "figure_pass", "figure_forecasts", "figure_merit",
               "support_aggregates", "support_students", "support_below_pass", "plan_aggregates")


async def load(url: str, organisers: list[str], students: int, batch: int) -> int:
    """Every applied organiser's events through the consumer's transaction (as `apply_workers`' workers do)."""
    from apply_workers import consumer_loop, delivered, interleaved, organiser_data

    loop = consumer_loop(url, "bench-nation", "bench-nation")
    events = interleaved([organiser_data(o, n, students, 7)[1] for n, o in enumerate(organisers)])
    items = delivered(events, {})
    async with loop.holding_connection():
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            await loop._apply(chunk, {})
    await loop.db.dispose()
    return len(items)


#: the id columns a copy relabels (`apply_workers.relabel`'s forms: the organiser, `<organiser>nnnn` school units,
#: `<code>/<group>` groups, `area-<organiser>-n`, `st-<organiser>-n`)
ID_COLUMNS = ("unit_id", "student_id")


async def replicate(dsn: str, applied: list[str], copies_of: dict[str, str]) -> dict[str, int]:
    """Every applied organiser's cells copied to the organisers of `copies_of` (copy → applied organiser), relabelled
    as that organiser's own (its school units, areas, groups and students: `apply_workers.relabel`'s ids, whose
    directory is applied too), then ANALYZE; the rows per table."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        pairs = sorted(copies_of.items())
        await conn.execute("CREATE TEMP TABLE copy_map (target text, source text)")
        await conn.executemany("INSERT INTO copy_map VALUES ($1, $2)", pairs)
        for table in (*CELL_TABLES, "figure_students"):
            columns = [r["column_name"] for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = $1 ORDER BY ordinal_position", table)]
            names = ", ".join(f'"{c}"' for c in columns)
            values = ", ".join("m.target" if c == "organiser_id" else
                               f"regexp_replace(t.\"{c}\", '^(area-|st-|m-|su-)?' || m.source, '\\1' || m.target)"
                               if c in ID_COLUMNS else f't."{c}"' for c in columns)
            await conn.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {table} t "
                               "JOIN copy_map m ON m.source = t.organiser_id")
        await conn.execute("ANALYZE")
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in (*CELL_TABLES, "figure_students")}
    finally:
        await conn.close()


#: migration 0023's partial indexes of the organiser level's rows (the nation reads')
INDEXES = {"ix_assessment_aggregates_nation": "assessment_aggregates (subject_code, school_year, term)",
           "ix_forecast_aggregates_nation": "forecast_aggregates (subject_code, school_year, term)",
           "ix_figure_pass_nation": "figure_pass (school_year, period)"}


async def _indexes(url: str, present: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        for name, on in INDEXES.items():
            await conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on} WHERE level = 'organiser'" if present
                               else f"DROP INDEX IF EXISTS {name}")
    finally:
        await conn.close()


def _digest(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def _plain(value: Any) -> Any:
    """An answer as JSON-able data (pydantic models dumped, keys of tuples as strings), in a stable order."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return sorted(([repr(k), _plain(v)] for k, v in value.items()), key=lambda kv: kv[0])
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def read_all(url: str, calls: int, decisions: int) -> dict[str, Any]:
    """Every nation read `calls` times (the first two untimed); a public reader's decision once per subject (cold)
    for `decisions` subjects, over the nation and over one organiser's part of it (small cells: withheld)."""
    from sqlalchemy import text

    from styrkedja_kit.auth import Level
    from styrkedja_kit.db import Database
    from styrkedja_reporting.access.disclosure import DisclosureRules
    from styrkedja_reporting.figures.read import CellFilters, read_dates, read_pass, read_students, read_sums
    from styrkedja_reporting.figures.tables import MERIT
    from styrkedja_reporting.results.read import Filters, Scope, _read_cells
    from styrkedja_reporting.support import read as support

    db = Database(url)
    out: dict[str, Any] = {"ms": {}, "digests": {}}
    try:
        async with db.sessions() as session:
            sy, term = (await session.execute(text(
                "SELECT school_year, term FROM assessment_aggregates GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"))).one()
            subjects = list((await session.execute(text(
                "SELECT DISTINCT subject_code FROM assessment_aggregates ORDER BY 1"))).scalars())
            nation = support.Where("nation", "SE", None)
            reads = {
                "results_subject": lambda: _read_cells(session, "assessments", "nation", Filters(
                    subject_code=subjects[0], school_year=sy, term=term)),
                "results_subject_gender": lambda: _read_cells(session, "assessments", "nation", Filters(
                    subject_code=subjects[0], school_year=sy, split=("gender", "year"))),
                "figures_pass": lambda: read_pass(session, "nation", CellFilters(), [(sy, term), (sy, "R1")]),
                "figures_students": lambda: read_students(session, "nation", CellFilters(), (sy, term)),
                "figures_dates": lambda: read_dates(session, "nation", CellFilters(), (sy, term)),
                "figures_merit": lambda: read_sums(session, MERIT, "nation", CellFilters(), (sy, term),
                                                   ("unit_id", "year")),
                "support_kinds": lambda: support.interventions_by_kind(session, nation, None),
                "support_below": lambda: support.below_pass_without_support(session, nation, None),
                "support_units_below": lambda: support.units_below_pass(session, "nation", None),
                # the students assessed (the summary's and the kinds table's shares) and the below-pass table per subject
                "support_assessed": lambda: support.students_assessed(session, nation, None),
                "support_below_by_subject": lambda: support.below_pass_by_subject(session, nation, None),
            }
            for name, read in reads.items():
                times = []
                for n in range(calls + 2):
                    at = time.perf_counter()
                    answer = await read()
                    if n >= 2:
                        times.append((time.perf_counter() - at) * 1000)
                    else:
                        out["digests"][name] = _digest(_plain(answer))
                out["ms"][name] = times
            public = Scope(suppressed=frozenset(Level), rules=DisclosureRules())
            one = (await session.execute(text("SELECT min(organiser_id) FROM assessment_aggregates"))).scalar_one()
            times, answers = [], []
            for subject in subjects[:decisions]:  # each subject's decision is a component of its own: cold (0: none)
                at = time.perf_counter()
                answer = await _read_cells(session, "assessments", "nation", Filters(
                    subject_code=subject, school_year=sy, split=("gender",)), public)
                times.append((time.perf_counter() - at) * 1000)
                answers.append(_plain(answer))
                # the same decision (kept), read for one organiser's part of the nation by gender and year: small
                answers.append(_plain(await _read_cells(session, "assessments", "nation", Filters(
                    organiser_id=one, subject_code=subject, school_year=sy, split=("gender", "year")), public)))
            if times:
                out["ms"]["public_decision_cold"] = times
            out["digests"]["public_decision_cold"] = _digest(answers)
            out["withheld_cells_public"] = sum(1 for a in answers for c in a if c["distribution"] is None)
            out["cells_public"] = sum(len(a) for a in answers)
    finally:
        await db.dispose()
    return out


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisers", type=int, default=290)
    parser.add_argument("--organisers-applied", type=int, default=6)
    parser.add_argument("--students", type=int, default=80, help="per applied organiser")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--decisions", type=int, default=3, help="subjects whose public decision is read cold")
    parser.add_argument("--before-code", type=Path, required=False, help="a source tree of the base code")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "apply18-nation-read.json")
    parser.add_argument("--indexes-after", action="store_true",
                        help="migration 0023's indexes dropped for `before`, made for `after` (one database)")
    parser.add_argument("--build-only", action="store_true",
                        help="build the state and stop (with STYRKEDJA_POSTGRES_URL: a server that outlives the run)")
    parser.add_argument("--state-url", default=None, help="read a state built before (`--build-only`)")
    parser.add_argument("--read", default=None, help=argparse.SUPPRESS)  # a variant's reads (the child process)
    parser.add_argument("--calls-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        result = asyncio.run(read_all(args.read, args.calls, args.decisions))
        args.calls_out.write_text(json.dumps(result))
        return 0

    from apply_workers import organiser_data, organiser_ids, prepare

    from styrkedja_devstack.stack import Infrastructure

    every = organiser_ids(args.organisers, True)
    applied = every[:args.organisers_applied]
    copies_of = {o: applied[n % len(applied)] for n, o in enumerate(every[len(applied):])}
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-nation-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind="embedded")
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "organisers": args.organisers,
                               "organisers_applied": applied, "students_per_applied_organiser": args.students,
                               "load_1min_at_start": round(os.getloadavg()[0], 2), "rounds": []}
    try:
        if args.state_url:
            url = args.state_url
        else:
            # every organiser's directory (its school units placed in its areas), the copies' too
            directory = [e for n, o in enumerate(every) for e in organiser_data(o, n, args.students, 7)[0]]
            url, _ = asyncio.run(prepare(infra, directory))
            dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
            results["events_applied"] = asyncio.run(load(url, applied, args.students, 5000))
            results["rows"] = asyncio.run(replicate(dsn, applied, copies_of))
        print(json.dumps({k: v for k, v in results.items() if k != "rounds"} | {"url": url}), flush=True)
        if args.build_only:
            return 0
        base = None if args.before_code is None else os.pathsep.join(
            str(args.before_code / p) for p in ("services/reporting/src", "packages/kit/src"))
        variants = ["before", "after"] if base else ["after"]
        for n in range(args.rounds):
            row = {}
            for variant in (variants if n % 2 == 0 else variants[::-1]):
                env = dict(os.environ)
                # each variant's own sources first (this tree's for `after`: not whatever the venv installs)
                env["PYTHONPATH"] = (base or "") if variant == "before" else os.pathsep.join(
                    str(ROOT / p) for p in ("services/reporting/src", "packages/kit/src"))
                if args.indexes_after:  # the base code reads without migration 0023's indexes, this code with them
                    asyncio.run(_indexes(url, variant == "after"))
                calls_out = state / f"{variant}-{n}.json"
                subprocess.run([sys.executable, __file__, "--read", url, "--calls", str(args.calls), "--decisions",
                                str(args.decisions), "--calls-out", str(calls_out)], env=env, check=True)
                got = json.loads(calls_out.read_text())
                row[variant] = {"digests": got["digests"], "load_1min": round(os.getloadavg()[0], 2),
                                "withheld_cells_public": got["withheld_cells_public"], "cells_public": got["cells_public"],
                                "ms": {k: {"p50": _pct(v, 0.5), "p99": _pct(v, 0.99), "max": round(max(v), 2)}
                                       for k, v in got["ms"].items()}}
                print(f"round {n + 1} {variant}: {json.dumps(row[variant]['ms'])}", flush=True)
            results["rounds"].append(row)
    finally:
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)
    same = all(len({json.dumps(r[v]["digests"], sort_keys=True) for v in r}) == 1 for r in results["rounds"]) and \
        len({json.dumps(r[v]["digests"], sort_keys=True) for r in results["rounds"] for v in r}) == 1
    results["answers_identical"] = same
    results["median_p99_ms"] = {v: {k: statistics.median(r[v]["ms"][k]["p99"] for r in results["rounds"])
                                    for k in results["rounds"][0][v]["ms"]} for v in results["rounds"][0]}
    results["median_p50_ms"] = {v: {k: statistics.median(r[v]["ms"][k]["p50"] for r in results["rounds"])
                                    for k in results["rounds"][0][v]["ms"]} for v in results["rounds"][0]}
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: results[k] for k in ("answers_identical", "median_p50_ms", "median_p99_ms")}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
