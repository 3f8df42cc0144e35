"""Profile the bulk write API in-process (pyinstrument): the assessment (or forecast) app behind an
httpx ASGI client on an embedded PostgreSQL, batches of 1,000, relay off. Prints items/s and the
service process's CPU time per item (`time.process_time`: this process only, so what neighbours on
a shared machine do is not counted; PostgreSQL is another process), and writes the profile as text
to bench/results/profile-write-<label>.txt. `--no-profile`: the same run without the profiler (its
overhead is not in the figures); `--cprofile`: cProfile (own time per function) instead of pyinstrument. Also PostgreSQL's CPU per item: every process of the embedded
server (its backends, WAL writer, checkpointer, …; from /proc), the other half of the 2-core
budget. `--json PATH`: adds `{label: {...}}` to that JSON file;
`--by-unnest`: revision and outbox rows by `INSERT … SELECT FROM unnest` instead of COPY (to
compare the two in one tree).

    .venv/bin/python bench/profile_write.py [--batches 20] [--label after] [--service forecast]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pyinstrument import Profiler  # noqa: E402

from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_devstack.testing import service_client  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402
from support import Mittkoping, Tokens  # noqa: E402


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds (user + system) of the server whose data folder this is and of all its processes."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(stat.parent.name)
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if pid == postmaster or int(fields[1]) == postmaster:  # fields[1]: the parent's pid
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


FORECAST_VALUES = ("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")


def forecasts(data: Mittkoping, count: int) -> list[dict[str, Any]]:
    """Forecast bodies: the assessments' people and subjects, one term each."""
    return [{k: body[k] for k in ("organiser_id", "school_unit_code", "group_id", "student_id", "teacher_id",
                                  "gender", "year", "subject_code", "school_year", "term")}
            | {"value": FORECAST_VALUES[n % 3]} for n, body in enumerate(data.new_assessments(count))]


async def run(service: str, url: str, batches: int, profile: str | None, tokens: Tokens,
              data_dir: Path) -> dict[str, Any]:
    from styrkedja_kit.writes import WritePath
    unnest = not getattr(WritePath, "by_copy", False)
    common = {"database_url": url, "outbox_enabled": False, "kafka_bootstrap_servers": "127.0.0.1:1",
              "auth_issuer": tokens.service_env["STYRKEDJA_AUTH_ISSUER"]}
    data = Mittkoping(seed=3)
    if service == "forecast":
        from styrkedja_forecast.settings import ForecastSettings
        settings: Any = ForecastSettings(**common)
        chunks = [forecasts(data, 1000) for _ in range(batches + 2)]
        path = "/v1/forecasts/batch"
    else:
        from styrkedja_assessment.settings import AssessmentSettings
        settings = AssessmentSettings(**common)
        chunks = [data.new_assessments(1000) for _ in range(batches + 2)]
        path = "/v1/assessments/batch"
    # encoded before the clock (the client is another machine: its JSON is not the service's work)
    bodies = [json.dumps({"items": chunk}, separators=(",", ":")).encode() for chunk in chunks]
    async with service_client(f"styrkedja_{service}", settings) as client:
        client.headers.update({**tokens.platform(*data.organisers), "content-type": "application/json"})
        for body in bodies[:2]:  # warm-up
            assert (await client.post(path, content=body)).status_code == 201
        profiler = (Profiler(async_mode="enabled") if profile == "pyinstrument"
                    else cProfile.Profile() if profile == "cprofile" else None)
        pg_started = postgres_cpu_seconds(data_dir)  # read before the clocks start: not in this process's figure
        started, cpu_started = time.perf_counter(), time.process_time()
        with profiler or contextlib.nullcontext():
            for body in bodies[2:]:
                response = await client.post(path, content=body)
                assert response.status_code == 201, response.text
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        pg_cpu = postgres_cpu_seconds(data_dir) - pg_started
    items = batches * 1000
    figures = {"service": service, "items": items, "batch": 1000, "items_per_s": round(items / seconds),
               "cpu_ms_per_item": round(cpu * 1000 / items, 4),
               "postgres_cpu_ms_per_item": round(pg_cpu * 1000 / items, 4), "profiled": profile,
               "note": "one client, in-process (httpx ASGI), bodies encoded before the clock, relay off; "
                       "CPU = this process only",
               "revision_and_outbox_rows": "unnest" if unnest else "copy"}
    print(f"{figures['items_per_s']:,} items/s, {figures['cpu_ms_per_item']} ms CPU per item, "
          f"PostgreSQL {figures['postgres_cpu_ms_per_item']} ms ({service}, "
          f"one client, in-process{', profiled' if profile else ''})")
    if isinstance(profiler, Profiler):
        figures["profile_text"] = profiler.output_text(unicode=True, show_all=False)
    elif profiler is not None:  # cProfile: deterministic, every call (CPU shares by function, own time first)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        figures["profile_text"] = out.getvalue()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--label", default="after")
    parser.add_argument("--service", choices=("assessment", "forecast"), default="assessment")
    parser.add_argument("--no-profile", dest="profile", action="store_const", const=None, default="pyinstrument")
    parser.add_argument("--cprofile", dest="profile", action="store_const", const="cprofile",
                        help="cProfile instead of pyinstrument: every call, own time per function")
    parser.add_argument("--json", type=Path, help="add the figures under the label to this JSON file")
    parser.add_argument("--by-unnest", action="store_true", help="revision and outbox rows by unnest, not COPY")
    args = parser.parse_args()
    if args.by_unnest:
        from styrkedja_kit.writes import WritePath
        WritePath.by_copy = False
    state = Path(tempfile.mkdtemp(prefix="styrkedja-profile-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        name = f"profile_{uuid.uuid4().hex[:6]}"
        ensure_database(pg.server_url(), name)
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
        upgrade(f"styrkedja_{args.service}", url)
        figures = asyncio.run(run(args.service, url, args.batches, args.profile, Tokens.start(state),
                                  state / "pgdata"))
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    text = figures.pop("profile_text", None)
    if text is not None:
        out = ROOT / "bench" / "results" / f"profile-write-{args.label}.txt"
        out.write_text(f"{figures['items_per_s']:,} items/s, {figures['cpu_ms_per_item']} ms CPU per item\n" + text)
        print(f"profile: {out}")
    if args.json is not None:
        existing = json.loads(args.json.read_text()) if args.json.exists() else {}
        existing[args.label] = figures
        args.json.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
