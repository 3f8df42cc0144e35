"""What several bench scripts measure alike (knobs37: `duplicates` found it written again in each):

* a statement of the rebuild on a rebuilt database (one `bench/rebuild_held.py` left), in a transaction of its own
  with the rebuild's settings, in a scratch schema, rolled back: its PostgreSQL backend's CPU seconds from /proc
  (`RolledBack`, `rebuild_settings`, `backend_cpu`), and the temp files it wrote (`temp_mb`);
* the head of their command lines (the database, `--rounds`, `--out`: `statement_arguments`), their variants
  alternated with the order turned each round (`alternated`) and each result a JSON line (`record`);
* a function's CPU µs per input, the best of several passes (`best_pass`: the machine is shared);
* the contracts' code at a commit against the working tree's, each side a process of its own running a script that
  prints its µs per corpus, in alternated pairs, summarised and written as JSON (`contracts_pairs`: envelope36,
  names38).

Standard library and asyncpg only: a child process measuring another tree's code imports it too
(`bench/envelope36.py`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from statistics import median
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


def backend_cpu(pid: int) -> float:
    """A process's CPU seconds so far (user and system; a PostgreSQL backend's, by its pid)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rebuild_settings(work_mem_mb: int = 256, **more: str) -> dict[str, str]:
    """The settings the rebuild's transactions run with where several connections work (`bulk.Rebuilder._enter`):
    `work_mem` = `maintenance_work_mem` (`bulk.WORK_MEM_KB`), no parallel workers; `more` on top."""
    return {"work_mem": f"{work_mem_mb}MB", "maintenance_work_mem": f"{work_mem_mb}MB",
            "max_parallel_workers_per_gather": "0", "max_parallel_maintenance_workers": "0", **more}


async def temp_bytes(connection: Any) -> int:
    """The database's temp file bytes so far (pg_stat_database: every session's, the rebuilt database is the bench's)."""
    return int(await connection.fetchval(
        "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"))


class RolledBack:
    """`async with RolledBack(dsn, "bench_x", rebuild_settings()) as run:` a connection, its backend's pid, a
    transaction with `settings` (SET LOCAL) and a scratch schema `schema` first on its search path; rolled back and
    closed at the end. `run.measured(...)` times statements; `timed()` any work. `count_temp`: the temp bytes the
    database wrote from the first timing's start to the rollback, in `temp_mb` after the block (the statistics are
    sent at a transaction's end, at most every 0.5 s: waited for)."""

    def __init__(self, dsn: str, schema: str, settings: dict[str, str], *, count_temp: bool = False) -> None:
        self.dsn, self.schema, self.settings, self.count_temp = dsn, schema, settings, count_temp
        self.connection: Any = None
        self.pid = 0
        self.temp_mb: int | None = None
        self._temp_before: int | None = None

    async def __aenter__(self) -> RolledBack:
        import asyncpg

        self.connection = await asyncpg.connect(self.dsn)
        try:
            self.pid = int(await self.connection.fetchval("SELECT pg_backend_pid()"))
            self.transaction = self.connection.transaction()
            await self.transaction.start()
            for setting, value in self.settings.items():
                await self.connection.execute(f"SET LOCAL {setting} = '{value}'")
            await self.connection.execute(f"CREATE SCHEMA {self.schema}")
            await self.connection.execute(f"SET LOCAL search_path TO {self.schema}, public")
        except BaseException:
            await self.connection.close()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        try:
            await self.transaction.rollback()
            if self.count_temp and self._temp_before is not None and kind is None:
                await asyncio.sleep(0.6)
                self.temp_mb = round((await temp_bytes(self.connection) - self._temp_before) / 1e6)
        finally:
            await self.connection.close()

    async def execute(self, *statements: str) -> None:
        for statement in statements:
            await self.connection.execute(statement)

    @contextlib.contextmanager
    def timed(self) -> Iterator[dict[str, Any]]:
        """The block's backend CPU and wall seconds (`cpu_s`, `wall_s`), in the dict it yields, filled at its end."""
        took: dict[str, Any] = {}
        cpu, started = backend_cpu(self.pid), time.perf_counter()
        yield took
        took.update(cpu_s=round(backend_cpu(self.pid) - cpu, 2), wall_s=round(time.perf_counter() - started, 2))

    async def start_counting_temp(self) -> None:
        if self.count_temp and self._temp_before is None:
            self._temp_before = await temp_bytes(self.connection)

    async def measured(self, *statements: str, explain: bool = False) -> dict[str, Any]:
        """`statements` run one after the other, timed together; `explain`: the one statement under EXPLAIN
        (ANALYZE, BUFFERS), its plan in `plan`."""
        await self.start_counting_temp()
        with self.timed() as took:
            if explain:
                (statement,) = statements
                plan = await self.connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
            else:
                await self.execute(*statements)
        if explain:
            took["plan"] = "\n".join(row[0] for row in plan)
        return took


def statement_arguments(doc: str, rounds: int) -> argparse.ArgumentParser:
    """The command line the statement benches begin with: the rebuilt database, the rounds, where the results go."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("dsn", help="a rebuilt database (bench/rebuild_held.py leaves one)")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--out", type=Path)
    return parser


def alternated(names: Sequence[T], rounds: int) -> Iterator[tuple[int, T]]:
    """(round, name) for every name of every round, the order turned each round (a drift of the machine's load
    weighs on every variant alike)."""
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else list(reversed(names)):
            yield round_, name


def record(result: dict[str, Any], out: Path | None) -> None:
    """A result printed as a JSON line, and appended to `out` where given."""
    line = json.dumps(result)
    print(line, flush=True)
    if out is not None:
        with out.open("a") as file:
            file.write(line + "\n")


def best_pass(fn: Callable[[Any], Any], inputs: Sequence[Any], repeats: int, chunk: int = 100) -> float:
    """µs per input: the inputs in chunks of `chunk`, each chunk's best of `repeats` passes (thread CPU time, so
    time spent descheduled by the neighbours is not counted), summed over the chunks."""
    total = 0
    for start in range(0, len(inputs), chunk):
        part = inputs[start:start + chunk]
        best = None
        for _ in range(repeats):
            started = time.thread_time_ns()
            for item in part:
                fn(item)
            took = time.thread_time_ns() - started
            best = took if best is None else min(best, took)
        total += best or 0
    return round(total / len(inputs) / 1000, 2)


ROOT = Path(__file__).resolve().parents[1]


def _contracts_at(base: str, into: Path) -> Path:
    """The contracts' sources at `base`, exported (`git archive`) under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", base, "packages/contracts/src"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "packages" / "contracts" / "src"


def _contracts_side(script: str, src: Path, events: int, repeats: int) -> dict[str, float]:
    """`script` run with `src` first on PYTHONPATH (argv: events, repeats, the bench folder); its last line the JSON
    `{"file": the contracts' __file__, "us": {corpus: µs}}`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", script, str(events), str(repeats), str(ROOT / "bench")], env=env,
                          check=True, capture_output=True, text=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if not answer["file"].startswith(str(src)):  # the side must import the code it is said to measure
        raise SystemExit(f"{src}: imported {answer['file']}")
    return dict(answer["us"])


def contracts_pairs(script: str, *, what: str, base: str, pairs: int, events: int, repeats: int, out: Path,
                    prefix: str) -> dict[str, Any]:
    """The contracts at `base` ("before") against the working tree's ("after"), `script` run once per side per pair
    (`_contracts_side`), the order turned every other pair; each corpus's medians, their difference and the ratios,
    written to `out` with the load averages."""
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-before-") as folder:
        before_src = _contracts_at(base, Path(folder))
        after_src = ROOT / "packages" / "contracts" / "src"
        measured: list[dict[str, dict[str, float]]] = []
        loads = [os.getloadavg()[0]]
        for n in range(pairs):
            order = [("before", before_src), ("after", after_src)]
            if n % 2:
                order.reverse()
            pair = {label: _contracts_side(script, src, events, repeats) for label, src in order}
            measured.append(pair)
            loads.append(os.getloadavg()[0])
            print(n, {label: {k: round(v, 2) for k, v in values.items()} for label, values in pair.items()},
                  f"load {loads[-1]:.1f}", flush=True)
    summary = {}
    for corpus in measured[0]["before"]:
        before = [p["before"][corpus] for p in measured]
        after = [p["after"][corpus] for p in measured]
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        summary[corpus] = {"before_us": round(median(before), 3), "after_us": round(median(after), 3),
                           "after_minus_before_us": round(median(a - b for a, b in zip(after, before, strict=True)), 3),
                           "ratio_median": round(median(ratios), 3), "ratios": [round(r, 3) for r in ratios]}
        print(corpus, summary[corpus])
    result = {"what": what, "base": base, "events": events, "repeats": repeats, "pairs": measured,
              "summary": summary, "load_average": [round(x, 2) for x in loads], "cpus": os.cpu_count(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result

