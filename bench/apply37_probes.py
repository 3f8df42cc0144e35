"""Issue 16, apply37: two probes behind the cuts.

`--probe functions`: `profile_apply.py` (its arguments after `--`) with chosen functions of the apply path wrapped, each
summing this process's CPU (`time.process_time()`) over the timed batches only; prints ms per batch and calls. Less
distorted than cProfile, which charges every Python call.

`--probe decode`: the client's CPU to receive support's newest-unchanged rows — 5,000 as `ARRAY(SELECT ROW(…))`, as the
statement returns them — with the facts' 18 columns into `AssessmentFact`s against the 13 of `NewestResult`
(medians of 15 alternated rounds, an embedded PostgreSQL of its own).

    .venv/bin/python bench/apply37_probes.py --probe decode
    .venv/bin/python bench/apply37_probes.py --probe functions -- --data deadline-week --students 1200 --batch 5000 \
        --warm 1 --no-profile
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

_ALL = ("gen_random_uuid() AS assessment_id, 1 AS revision, false AS retracted, '2999'::text AS organiser_id, "
        "'12345678'::text AS school_unit_code, '7A'::text AS group_id, 'st-' || s AS student_id, "
        "'female'::text AS gender, 9 AS year, 'GRGRMAT01'::text AS subject_code, 'assessment'::text AS kind, "
        "'AF'::text AS scale, 'C'::text AS value, '2026/27'::text AS school_year, 'VT'::text AS term, 2 AS round, "
        "current_date AS assessed_on, now() AS received_at")
_FEW = ("gen_random_uuid() AS assessment_id, false AS retracted, '2999'::text AS organiser_id, "
        "'12345678'::text AS school_unit_code, '7A'::text AS group_id, 'st-' || s AS student_id, "
        "'GRGRMAT01'::text AS subject_code, 'assessment'::text AS kind, 'AF'::text AS scale, 'C'::text AS value, "
        "'2026/27'::text AS school_year, 'VT'::text AS term, 2 AS round")


async def _decode(url: str, rounds: int) -> dict[str, float]:
    import asyncpg

    from styrkedja_reporting.results.rules import fact_maker
    from styrkedja_reporting.results.tables import ASSESSMENTS
    from styrkedja_reporting.support.rules import NewestResult

    conn = await asyncpg.connect(url)
    makers = {"facts_18_columns": ASSESSMENTS.make, "newest_13_columns": fact_maker(NewestResult)}
    statements = {name: await conn.prepare(
        f"SELECT ARRAY(SELECT ROW(n.*) FROM (SELECT {cols} FROM generate_series(1, 5000) s) n)")
        for name, cols in (("facts_18_columns", _ALL), ("newest_13_columns", _FEW))}
    spent: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            for name, statement in statements.items():
                at = time.process_time()
                rows = await statement.fetchval()
                decoded = time.process_time()
                make = makers[name]
                [make(*row) for row in rows]
                spent.setdefault(f"{name}_decode_ms", []).append((decoded - at) * 1000)
                spent.setdefault(f"{name}_decode_and_make_ms", []).append((time.process_time() - at) * 1000)
    finally:
        await conn.close()
    return {name: round(statistics.median(ms), 2) for name, ms in spent.items()}


def decode(rounds: int) -> None:
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database

    state = Path(tempfile.mkdtemp(prefix="apply37-decode-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        ensure_database(pg.server_url(), "probe")
        print(json.dumps(asyncio.run(_decode(pg.server_url() + "/probe", rounds))))
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


def functions(profile_args: list[str]) -> int:
    import profile_apply

    from styrkedja_reporting.figures import handlers, linked
    from styrkedja_reporting.support import linked as support_linked

    spent: dict[str, list[float]] = {}

    def add(label: str, at: float) -> None:
        entry = spent.setdefault(label, [0.0, 0])
        entry[0] += time.process_time() - at
        entry[1] += 1

    def wrap(module: Any, name: str, label: str) -> None:
        original = getattr(module, name)
        if asyncio.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                if not profile_apply._TIMED:
                    return await original(*args, **kwargs)
                at = time.process_time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    add(label, at)
            setattr(module, name, timed_async)
            return

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not profile_apply._TIMED:
                return original(*args, **kwargs)
            at = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                add(label, at)
        setattr(module, name, timed)

    import asyncpg

    wrap(asyncpg.Connection, "copy_records_to_table", "asyncpg copy_records_to_table")
    wrap(handlers, "apply_figures", "figures.apply_figures")
    wrap(handlers, "apply_linked", "figures.apply_linked")
    wrap(handlers, "apply_student_counts", "figures.apply_student_counts")
    wrap(handlers, "add_pass_and_dates", "figures.add_pass_and_dates")
    wrap(linked, "_load", "figures.linked._load")
    wrap(linked, "_before", "figures.linked._before")
    wrap(linked, "forecast_counts", "figures.linked.forecast_counts")
    wrap(linked, "merit_state", "figures.linked.merit_state")
    wrap(support_linked, "_newest_unchanged_and_supports", "support.linked._newest_unchanged_and_supports")
    wrap(support_linked, "below_pass_change", "support.linked.below_pass_change")
    sys.argv = [str(ROOT / "bench" / "profile_apply.py"), *profile_args]
    try:
        return profile_apply.main()
    finally:
        batches = 18  # the deadline week's timed batches of 5,000 at 1,200 students (`--warm 1`)
        print(json.dumps({label: {"ms_per_batch": round(seconds * 1000 / batches, 2), "calls": calls}
                          for label, (seconds, calls) in spent.items()}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", choices=("decode", "functions"), required=True)
    parser.add_argument("--rounds", type=int, default=15)
    args, rest = parser.parse_known_args()
    if args.probe == "decode":
        decode(args.rounds)
        return 0
    return functions([a for a in rest if a != "--"])


if __name__ == "__main__":
    sys.exit(main())
