"""Which reporting reads hold a worker's event loop, and how that grows with the data (issue 16: at 6.4M events a
worker was killed by uvicorn's health check during `make bench`'s cell check). A reporting database filled with
`bench/speed.py`'s data (`deadline_week.TermData`: `--organisers` organisers, 64 results per student) through the
consumer's transaction (`ConsumerLoop._apply`, no broker, as `consistency_rss.fill`), then reporting under uvicorn (one
worker, its consumer off) and every read a dashboard, a politician, a central office or the bench's cell check makes,
one at a time. Per read: the worker's **main thread CPU** (`/proc/<pid>/task/<pid>/schedstat`: the event loop's
thread, whatever else runs on the machine), every thread's CPU, the wall time, the answer's bytes and the **longest
stall** of the event loop while it ran (a probe thread here GETs `/healthz` every 5 ms on a kept connection: the
probe's longest answer during the read; `/healthz` is answered on the same loop, so it waits for whatever holds it).
Each read first on a fresh worker's first answer of it (`cold`: no answer kept), then `--repeat` times more (`warm`).

    .venv/bin/python bench/scale28.py --students 1000 6250 [--organisers 12] [--only results_student,...] \
        [--variant before=/tmp/base --variant after=] [--out bench/results/scale28.json]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

LEVELS = ("student", "group", "school_unit", "area", "organiser", "nation")


def reads(organiser: str, area: str) -> dict[str, tuple[str, str, dict]]:
    """name → (token, path, query). `all`: an organiser admin of every organiser (the cell check's token);
    `one`: the admin of `organiser` (a central office); `politician`: its politician (every level suppressed);
    `ops`: the admin endpoints."""
    out: dict[str, tuple[str, str, dict]] = {}
    for level in LEVELS:  # the cell check (`support.wait_until_exact`): every level, one organiser at a time
        out[f"check_{level}"] = ("all", "/v1/results/assessments", {"level": level, "organiser_id": organiser})
    for level in ("group", "school_unit", "organiser", "nation"):  # no organiser named: every one the token has
        out[f"results_{level}_every_organiser"] = ("all", "/v1/results/assessments", {"level": level})
    out["results_student_every_organiser"] = ("all", "/v1/results/assessments", {"level": "student"})
    common = {"level": "organiser", "organiser_id": organiser, "school_year": "2026/27"}
    figures = {
        "trend": ("/v1/figures/trend", {"term": "VT", "compare": "previous_term"}),
        "history": ("/v1/figures/history", {"term": "VT", "periods": 6}),
        "gender_gap": ("/v1/figures/gender-gap", {"round": 3}),
        "freshness": ("/v1/figures/freshness", {"term": "VT"}),
        "coverage": ("/v1/figures/coverage", {"term": "HT"}),
        "forecast_outcome": ("/v1/figures/forecast-outcome", {"term": "VT"}),
        "merit": ("/v1/figures/merit", {"term": "VT"}),
        "drill_down": ("/v1/figures/drill-down", {"term": "VT", "unit_id": organiser}),
        "results_csv": ("/v1/results/assessments", {"format": "csv"}),
        "results_xlsx": ("/v1/results/assessments", {"format": "xlsx"}),
        "results_school_unit_csv": ("/v1/results/assessments", {"format": "csv", "level": "school_unit"}),
        "results_student_csv": ("/v1/results/assessments", {"format": "csv", "level": "student"}),
        "results_forecasts": ("/v1/results/forecasts", {}),
        "support_summary": ("/v1/support/summary", {"unit_id": organiser, "term": "VT"}),
        "support_below_pass": ("/v1/support/below-pass-without-support", {"unit_id": organiser, "school_year": None}),
        "compliance": (f"/v1/compliance/organisers/{organiser}/school-units",
                       {"term": "VT", "level": None, "organiser_id": None}),
        "lika_compilation": ("/v1/lika/compilation", {"level": None, "school_year": None}),
        "alerts": ("/v1/alerts", {"level": None, "school_year": None, "limit": 100}),
        "directory_tree": (f"/v1/directory/organisers/{organiser}/tree",
                           {"level": None, "school_year": None, "organiser_id": None}),
        "roster_sizes": ("/v1/directory/roster-sizes", {"school_year": None}),
        "support_summary_area": ("/v1/support/summary", {"level": "area", "unit_id": area, "term": "VT"}),
    }
    for name, (path, own) in figures.items():
        query = {k: v for k, v in {**common, **own}.items() if v is not None}
        out[name] = ("one", path, query)
        if name in ("trend", "history", "gender_gap", "coverage", "merit", "results_csv", "results_forecasts"):
            out[f"{name}_politician"] = ("politician", path, query)
    nation = {"level": "nation", "school_year": "2026/27"}
    for name in ("trend", "history", "gender_gap", "coverage", "merit", "freshness"):
        path, own = figures[name]
        out[f"{name}_nation"] = ("all", path, {**nation, **{k: v for k, v in own.items() if k != "unit_id"}})
    out["coverage_every_organiser"] = ("all", "/v1/figures/coverage", {"term": "HT", "level": "organiser",
                                                                        "school_year": "2026/27"})
    out["results_nation_xlsx"] = ("all", "/v1/results/assessments", {"level": "nation", "format": "xlsx"})
    out["consistency"] = ("ops", "/v1/admin/consistency", {})
    return out


def cpu_ns(pid: int) -> tuple[int, int]:
    """(the main thread's, every thread's) CPU ns so far."""
    main, total = 0, 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            ns = int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += ns
        if int(task) == pid:
            main = ns
    return main, total


class Probe(threading.Thread):
    """GET /healthz every `every` s on one kept connection; (start, seconds) of each."""

    def __init__(self, port: int, every: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.port, self.every, self.samples, self.stop = port, every, [], threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        while not self.stop.is_set():
            started = time.monotonic()
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            self.samples.append((started, time.monotonic() - started))
            time.sleep(self.every)

    def longest(self, start: float, end: float) -> float:
        """The longest probe that overlapped [start, end]."""
        return max((s for t, s in list(self.samples) if t <= end and t + s >= start), default=0.0)


def measure_one(client: httpx.Client, pid: int, probe: Probe, path: str, query: dict, headers: dict) -> dict:
    main0, all0 = cpu_ns(pid)
    started = time.monotonic()
    response = client.get(path, params=query, headers=headers)
    ended = time.monotonic()
    time.sleep(0.02)  # the probe's answer that was waiting gets in
    main1, all1 = cpu_ns(pid)
    return {"status": response.status_code, "bytes": len(response.content), "wall_ms": round((ended - started) * 1e3, 1),
            "main_cpu_ms": round((main1 - main0) / 1e6, 1), "all_cpu_ms": round((all1 - all0) / 1e6, 1),
            "stall_ms": round(probe.longest(started, ended) * 1e3, 1)}


async def fill(url: str, students: int, organisers: int) -> tuple[dict, object]:
    """The directory and every result applied through the consumer's transaction, batches of 5,000, the results
    drawn 5,000 at a time (1.6M results as events at once would take GBs)."""
    from apply import delivered
    from deadline_week import TermData
    from figures_read import TOPICS
    from rss25 import RESULTS_PER_STUDENT, T0

    from styrkedja_contracts import AssessmentPublishedV1, OrganisationUnitUpsertedV1, new_event
    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.db import Database
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    data = TermData(seed=16, students=students, organiser_count=organisers)
    directory = [new_event(OrganisationUnitUpsertedV1(**change["data"]), source="/b")
                 for change in data.directory_changes(T0)]
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    registry = handler_registry()
    loop = ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9",
                                        client_id="scale28"),
                        db, group_id=f"scale28-{uuid.uuid4().hex[:6]}", topics=sorted(set(TOPICS.values())),
                        handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    started = time.perf_counter()
    for start in range(0, len(directory), 1000):
        await loop._apply(delivered(directory[start:start + 1000], 10_000_000 + start), {})
    total = students * RESULTS_PER_STUDENT
    for start in range(0, total, 5000):
        events = [new_event(AssessmentPublishedV1(assessment_id=uuid.uuid4(), revision=1, published_at=T0, **body),
                            source="/b") for body in data.new_assessments(min(5000, total - start))]
        await loop._apply(delivered(events, 20_000_000 + start), {})
        if start % 100_000 == 0:
            print(f"  applied {start + len(events)} of {total} ({time.perf_counter() - started:.0f} s)", flush=True)
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await db.dispose()
    return {"students": students, "organisers": organisers, "events": total,
            "fill_seconds": round(time.perf_counter() - started, 1)}, data


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, issuer_url: str, code: Path | None = None) -> tuple[subprocess.Popen, int]:
    """Reporting under uvicorn, one worker, its consumer off; `code`: another source tree's reporting, kit and
    contracts first on the path (e.g. `git archive <base>` unpacked)."""
    port = free_port()
    extra = {} if code is None else {"PYTHONPATH": os.pathsep.join(
        [str(code / p) for p in ("services/reporting/src", "packages/kit/src", "packages/contracts/src")]
        + [os.environ.get("PYTHONPATH", "")])}
    env = {**os.environ, **extra, "STYRKEDJA_DATABASE_URL": url, "STYRKEDJA_CONSUMER_ENABLED": "false",
           "STYRKEDJA_OUTBOX_ENABLED": "false", "STYRKEDJA_LOG_LEVEL": "WARNING", "STYRKEDJA_AUTH_ISSUER": issuer_url}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "styrkedja_reporting.main:app", "--port", str(port),
                               "--log-level", "warning", "--http", "styrkedja_kit.server:ProblemHttpProtocol"], env=env)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise RuntimeError("reporting did not start")


def measure_size(url: str, data, issuer, names: list[str] | None, repeat: int,  # noqa: ANN001
                 code: Path | None = None) -> dict:
    organiser = data.organisers[0]
    headers = {"all": {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"],
                                                                 organisers=list(data.organisers))},
               "one": {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"], organisers=[organiser])},
               "politician": {"Authorization": "Bearer " + issuer.mint(roles=["politician"], organisers=[organiser])},
               "ops": {"Authorization": "Bearer " + issuer.mint(roles=["ops"])}}
    todo = reads(organiser, data.areas[organiser][0])
    todo = {n: r for n, r in todo.items() if names is None or n in names}
    server, port = serve(url, issuer.url, code)
    probe = Probe(port)
    probe.start()
    out: dict = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=1800) as client:
            time.sleep(0.5)
            for name, (token, path, query) in todo.items():
                runs = [measure_one(client, server.pid, probe, path, query, headers[token]) for _ in range(1 + repeat)]
                warm = runs[1:] or runs
                out[name] = {"path": path, "query": query, "token": token, "status": runs[0]["status"],
                             "bytes": runs[0]["bytes"], "cold": runs[0],
                             "warm_main_cpu_ms": statistics.median(r["main_cpu_ms"] for r in warm),
                             "warm_stall_ms": statistics.median(r["stall_ms"] for r in warm),
                             "warm_wall_ms": statistics.median(r["wall_ms"] for r in warm)}
                print(f"  {name:<34} {runs[0]['status']} {runs[0]['bytes']:>11} B  cold main {runs[0]['main_cpu_ms']:8.1f}"
                      f" ms stall {runs[0]['stall_ms']:8.1f} ms | warm main {out[name]['warm_main_cpu_ms']:8.1f} ms"
                      f" stall {out[name]['warm_stall_ms']:8.1f} ms  load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        probe.stop.set()
        server.terminate()
        server.wait(20)
    return out


class Watchdog(threading.Thread):
    """The event loop ticks `beat` every 5 ms; while it has not ticked for over `after` s, this thread samples the
    main thread's stack every 20 ms: per stall (loop held), its length and the stack most samples were in."""

    def __init__(self, after: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.after, self.last, self.stop = after, time.monotonic(), threading.Event()
        self.stalls: list[tuple[float, str]] = []
        self.main = threading.main_thread().ident

    async def beat(self) -> None:
        while True:
            self.last = time.monotonic()
            await asyncio.sleep(0.005)

    def run(self) -> None:
        import collections
        import traceback

        while not self.stop.is_set():
            time.sleep(0.02)
            if time.monotonic() - self.last < self.after:
                continue
            started, seen = self.last, collections.Counter()
            while time.monotonic() - self.last >= self.after and self.last == started:
                frame = sys._current_frames().get(self.main)
                if frame is not None:
                    stack = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)
                             if "styrkedja" in f.filename or "sqlalchemy" in f.filename or "pydantic" in f.filename]
                    seen[" < ".join(reversed(stack[-6:]))] += 1
                time.sleep(0.02)
            held = time.monotonic() - started
            if seen:
                self.stalls.append((held, seen.most_common(1)[0][0]))

    def report(self) -> str:
        worst = sorted(self.stalls, reverse=True)[:15]
        return "loop held (s), where most samples were:\n" + "\n".join(f"{s:6.3f}  {w}" for s, w in worst)


async def profile(url: str, data, issuer, names: list[str], repeat: int, out: Path) -> None:  # noqa: ANN001
    """`--profile`: the reads in-process (pyinstrument, the app behind an ASGI client), after one unprofiled each."""
    from pyinstrument import Profiler

    from styrkedja_devstack.testing import service_client
    from styrkedja_reporting.settings import ReportingSettings

    settings = ReportingSettings(database_url=url, consumer_enabled=False, outbox_enabled=False,
                                 kafka_bootstrap_servers="127.0.0.1:1", auth_issuer=issuer.url)
    organiser = data.organisers[0]
    tokens = {"all": issuer.mint(roles=["organiser_admin"], organisers=list(data.organisers)),
              "one": issuer.mint(roles=["organiser_admin"], organisers=[organiser]),
              "politician": issuer.mint(roles=["politician"], organisers=[organiser]),
              "ops": issuer.mint(roles=["ops"])}
    todo = reads(organiser, data.areas[organiser][0])
    import gc

    collections: list[tuple[int, float]] = []  # (generation, seconds) of each collection during a read
    started: list[float] = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collections.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(timed)
    watchdog = Watchdog()
    beat = asyncio.ensure_future(watchdog.beat())
    watchdog.start()
    async with service_client("styrkedja_reporting", settings, token=tokens["all"]) as client:
        for name in names:
            token, path, query = todo[name]
            headers = {"Authorization": "Bearer " + tokens[token]}
            await client.get(path, params=query, headers=headers)
            watchdog.stalls.clear()  # first without the profiler (whose own objects lengthen the collections)
            collections.clear()
            for _ in range(repeat):
                await client.get(path, params=query, headers=headers)
            full = [t for g, t in collections if g == 2]
            text = (watchdog.report() + f"\n\ngc: {len(collections)} collections, {sum(t for _, t in collections):.3f} s;"
                    f" full (gen 2): {len(full)}, {sum(full):.3f} s, longest {max(full, default=0):.3f} s; "
                    f"objects tracked now {len(gc.get_objects())}\n\n")
            profiler = Profiler(async_mode="enabled", interval=0.001)
            with profiler:
                for _ in range(repeat):
                    await client.get(path, params=query, headers=headers)
            text += profiler.output_text(unicode=True, show_all=False)
            out.with_name(f"{out.stem}-{len(data.organisers)}-{data.students}-{name}.txt").write_text(text)
            print(text[:6000])
    beat.cancel()
    watchdog.stop.set()
    gc.callbacks.remove(timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1000, 6250])
    parser.add_argument("--organisers", type=int, nargs="+", default=[12],
                        help="one per --students, or one for all")
    parser.add_argument("--only", default=None, help="comma-separated read names (default: every one)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--label", default="")
    parser.add_argument("--variant", action="append", default=[],
                        help="label=DIR: reporting served from that source tree (label= : this checkout); each "
                             "measured on the same filled database, in order")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None,
                        help="profile the --profile-reads in-process first (pyinstrument, and a watchdog thread "
                             "sampling the stack while the loop is held; FILE-<read>.txt), then measure the "
                             "--variant(s) if any")
    parser.add_argument("--profile-reads", default="consistency,check_student")
    parser.add_argument("--state", type=Path, default=None, help="keep PostgreSQL here (default: a temporary folder)")
    args = parser.parse_args()
    from styrkedja_devstack.issuer import DevIssuer
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database

    organisers = args.organisers * len(args.students) if len(args.organisers) == 1 else args.organisers
    state = args.state or Path(tempfile.mkdtemp(prefix="scale28-"))
    state.mkdir(parents=True, exist_ok=True)
    pg = EmbeddedPostgres(state / "pgdata").start()
    issuer = DevIssuer(state, port=None).start()
    report: dict = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv), "label": args.label,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(), "sizes": []}
    try:
        for students, count in zip(args.students, organisers, strict=True):
            name = f"scale_{students}_{count}_{uuid.uuid4().hex[:4]}"
            ensure_database(pg.server_url(), name)
            url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
            print(f"filling {students} students, {count} organisers", flush=True)
            size, data = asyncio.run(fill(url, students, count))
            size["load_before"] = os.getloadavg()
            print(json.dumps(size), flush=True)
            if args.profile:
                asyncio.run(profile(url, data, issuer, args.profile_reads.split(","), 1, args.profile))
                if not args.variant:
                    continue
            size["variants"] = {}
            for variant in args.variant or ["this="]:
                label, _, folder = variant.partition("=")
                print(f" variant {label}", flush=True)
                size["variants"][label] = measure_size(url, data, issuer, args.only.split(",") if args.only else None,
                                                       args.repeat, Path(folder) if folder else None)
            size["load_after"] = os.getloadavg()
            report["sizes"].append(size)
            if args.out:
                args.out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        pg.stop()
        if args.state is None:
            shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
