"""bench/measured.py, the statement benches' shared part (knobs37): each bench's statement runs in a scratch schema
and a transaction rolled back, timed by its backend's CPU; and `rebuild_variants --step pass_students` measures the
roll-up with itself no more (its "before" replaced a text pass36 had rewritten: retired, saying so)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from bench_scripts import ROOT, bench

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # the scripts import their sibling `measured`
    return bench("measured")


@pytest.fixture
def rebuilt(fresh_database: Any) -> str:
    """A database of reporting's schema (empty: the statements are measured on it, not their cost)."""
    return str(fresh_database("styrkedja_reporting")).replace("postgresql+asyncpg://", "postgresql://")


async def schemas(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        return {r[0] for r in await connection.fetch("SELECT nspname FROM pg_namespace")}
    finally:
        await connection.close()


async def test_a_statement_is_measured_in_a_scratch_schema_and_rolled_back(measured: Any, rebuilt: str) -> None:
    before = await schemas(rebuilt)
    run = measured.RolledBack(rebuilt, "bench_knobs37", measured.rebuild_settings(300, enable_nestloop="off"),
                              count_temp=True)
    async with run:
        assert await run.connection.fetchval("SHOW work_mem") == "300MB"
        assert await run.connection.fetchval("SHOW enable_nestloop") == "off"
        took = await run.measured("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g",
                                  "CREATE INDEX ON t (g)")
        assert await run.connection.fetchval("SELECT count(*) FROM bench_knobs37.t") == 1000
        explained = await run.measured("SELECT count(*) FROM t", explain=True)
    assert set(took) == {"cpu_s", "wall_s"} and took["cpu_s"] >= 0
    assert "Aggregate" in explained["plan"]
    assert run.temp_mb is not None and run.temp_mb >= 0
    assert await schemas(rebuilt) == before  # rolled back: no scratch schema left


async def test_a_failing_statement_still_closes_its_connection(measured: Any, rebuilt: str) -> None:
    run = measured.RolledBack(rebuilt, "bench_knobs37", measured.rebuild_settings())
    with pytest.raises(asyncpg.UndefinedTableError):
        async with run:
            await run.measured("SELECT * FROM no_such_table")
    assert run.connection.is_closed()


async def test_each_statement_bench_runs_its_statements_on_a_rebuilt_database(measured: Any, rebuilt: str) -> None:
    statements = bench("rebuild_statements")
    for name, sql in statements._statements().items():
        out = await statements.one(rebuilt, sql, 64, 1.5)
        assert {"cpu_s", "wall_s", "temp_mb"} <= set(out), name
    by_organiser = bench("rebuild_by_organiser")
    for name in by_organiser._selects():
        for cut in (False, True):
            out = await by_organiser.one(rebuilt, name, cut)
            assert out["rows"] == 0 and out["organisers"] == 0 and out["temp_mb"] is not None, (name, cut)
    variants = bench("rebuild_variants")
    for name, (setup, measured_statements) in variants.STEPS["students"]().items():
        assert set(await variants.one(rebuilt, setup, measured_statements)) == {"cpu_s", "wall_s"}, name
    pass36 = bench("pass36")
    sql = pass36.statement(str(ROOT / "services" / "reporting" / "src"))
    out = await pass36.one(rebuilt, sql)
    assert out["figure_pass"][0] == out["figure_students"][0] == 0
    assert await schemas(rebuilt) >= {"public"} and not any(s.startswith("bench_") for s in await schemas(rebuilt))


def test_the_pass_students_step_refuses_saying_why(measured: Any) -> None:
    """Failed on the old code: its "before" replaced a text of the roll-up that pass36 had rewritten, so the
    replacement matched nothing and the step compared today's statement with itself. Now retired, saying so."""
    variants = bench("rebuild_variants")
    assert "pass_students" in variants.RETIRED
    with pytest.raises(SystemExit, match="pass36 rewrote that text"):
        variants.STEPS["pass_students"]()


def test_the_rounds_alternate_and_each_result_is_a_json_line(measured: Any, tmp_path: Path, capsys: Any) -> None:
    assert list(measured.alternated(["a", "b", "c"], 3)) == [
        (0, "a"), (0, "b"), (0, "c"), (1, "c"), (1, "b"), (1, "a"), (2, "a"), (2, "b"), (2, "c")]
    out = tmp_path / "runs.jsonl"
    measured.record({"variant": "a", "cpu_s": 1.5}, out)
    measured.record({"variant": "b", "cpu_s": 2.5}, out)
    measured.record({"variant": "c"}, None)
    assert [json.loads(line)["variant"] for line in out.read_text().splitlines()] == ["a", "b"]
    assert [json.loads(line)["variant"] for line in capsys.readouterr().out.splitlines()] == ["a", "b", "c"]
    args = measured.statement_arguments("Doc line.\nmore", rounds=4).parse_args(["postgresql://x/y", "--out", "o"])
    assert (args.dsn, args.rounds, args.out) == ("postgresql://x/y", 4, Path("o"))


def test_best_pass_is_per_input_and_the_best_of_the_passes(measured: Any) -> None:
    seen: list[int] = []
    us = measured.best_pass(seen.append, list(range(10)), repeats=3, chunk=4)
    assert len(seen) == 30 and us >= 0
    assert seen[:12] == [0, 1, 2, 3] * 3  # each chunk its passes before the next
