"""Organiser-level read-latency benchmark: an organiser of 6,000 students × 16 subjects × 4 rounds
(plus year-9 term grades and forecasts) applied through the real apply path into an embedded
PostgreSQL (alerts judged once at the end), then every organiser-level read — the figures (and the
drill-down to its areas, and the results as JSON and CSV), support, compliance, LIKA, alerts, the
directory tree and roster sizes (`REQUESTS`) — read by 32 concurrent clients against the reporting
service under uvicorn (one worker). Numbers, never pass/fail.

    .venv/bin/python bench/figures_read.py [--students 6000] [--requests 40] [--state DIR]
        [--variants before,uncached,after --before-code DIR] [--readers organiser_admin,politician,public]
        [--support 0.1] [--only trend,coverage]

`--readers`: each reader on a server of its own, first each read once (`first_read_ms`: a miss on a
cold server — what the first reader of a new state version waits for; a 403 leaves the read out, named
in `not_allowed`), then the timed reads (p50/p99 per read). Politician and public read every level
suppressed, so every read takes its disclosure decision. `--support`: that share of the students with
a support intervention, so the support decisions have counts to decide on.

Writes bench/results/figures_read.json (`--out`): the apply time of the whole load (events/s), the
state's row counts, and p50/p99 latency per endpoint and overall, per variant: `before` (another
source tree, e.g. the base commit's), `uncached` (this code, the
answer cache off), `serial` (this code, one state version read at a time), `after`; `-h11` after any: uvicorn on h11 and asyncio's loop even where
httptools and uvloop are installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import text

from styrkedja_contracts import (
    AssessmentPublishedV1,
    ForecastSubmittedV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    forecast_id_for,
    new_event,
)
from styrkedja_devstack.issuer import DevIssuer
from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 8, 20, 8, tzinfo=UTC)
ORGANISER = "2999"
SUBJECTS = ("GRGRSVE01", "GRGRENG01", "GRGRMAT01", "GRGRBIO01", "GRGRFYS01", "GRGRKEM01", "GRGRGEO01", "GRGRHIS01",
            "GRGRREL01", "GRGRSAM01", "GRGRBIL01", "GRGRIDR01", "GRGRMUS01", "GRGRSLJ01", "GRGRHKK01", "GRGRTEK01")
TOPICS = {"assessment": "styrkedja.assessments", "forecast": "styrkedja.forecasts",
          "organisation": "styrkedja.organisation", "support": "styrkedja.support"}
ROUND_TERM = {1: "HT", 2: "HT", 3: "VT", 4: "VT"}


def organisation(students: int) -> tuple[list, list[tuple[str, str, int]]]:
    """4 areas × 5 school units; groups of 25 students, years 6–9."""
    events = [new_event(OrganisationUnitUpsertedV1(unit_type="organiser", unit_id=ORGANISER, organiser_id=ORGANISER,
                                                   name="Mittköping", updated_at=T0), source="/b")]
    for a in range(4):
        events.append(new_event(OrganisationUnitUpsertedV1(unit_type="area", unit_id=f"area-{a}",
                                                           organiser_id=ORGANISER, parent_id=ORGANISER,
                                                           name=f"Område {a}", updated_at=T0), source="/b"))
    codes = [f"2999{n:04d}" for n in range(20)]
    for n, code in enumerate(codes):
        events.append(new_event(OrganisationUnitUpsertedV1(
            unit_type="school_unit", unit_id=f"su-{code}", organiser_id=ORGANISER, parent_id=f"area-{n % 4}",
            name=f"Skola {code}", school_unit_code=code, updated_at=T0), source="/b"))
    groups = []
    for s in range(students):
        code = codes[s % len(codes)]
        year = 6 + (s // len(codes)) % 4
        groups.append((code, f"{year}{'ABCDEFGHIJKL'[(s // 80) % 12]}", year))
        # the roster: every student is a member of their group for the school year
        events.append(new_event(GroupMembershipUpsertedV1(
            membership_id=f"m-{s}", organiser_id=ORGANISER, school_unit_code=code, group_id=groups[-1][1],
            student_id=f"st-{s}", start_date=date(2026, 8, 15), end_date=date(2027, 6, 15), updated_at=T0),
            source="/b"))
    return events, groups


def results(rng: random.Random, groups: list[tuple[str, str, int]]) -> list:
    events = []
    for s, (code, group, year) in enumerate(groups):
        student, gender = f"st-{s}", rng.choice(("female", "male", "unknown"))
        base = dict(organiser_id=ORGANISER, school_unit_code=code, group_id=group, student_id=student,
                    teacher_id="t-1", gender=gender, year=year, school_year="2026/27")
        for subject in SUBJECTS:
            for round_ in (1, 2, 3, 4):
                value = rng.choice("ABCDEEF")
                events.append(new_event(AssessmentPublishedV1(
                    assessment_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, subject_code=subject,
                    kind="assessment", scale="AF", value=value, unmet_criteria=("K1",) if value == "F" else (),
                    term=ROUND_TERM[round_], round=round_, assessed_on=date(2026, 9, 15) + timedelta(days=60 * round_),
                    published_at=T0, **base), source="/b"))
            if year == 9:
                rng.getrandbits(128)  # drawn still (the other values as they were); the id is the key's
                events.append(new_event(ForecastSubmittedV1(
                    forecast_id=forecast_id_for(ORGANISER, student, subject, "2026/27", "VT"),
                    revision=1, subject_code=subject, term="VT",
                    value=rng.choice(("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")),
                    submitted_at=T0 + timedelta(days=200), window_deadline=date(2027, 4, 2), late=False,
                    **base), source="/b"))
                value = rng.choice("ABCDEEF")
                events.append(new_event(AssessmentPublishedV1(
                    assessment_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, subject_code=subject,
                    kind="term_grade", scale="AF", value=value, unmet_criteria=("K1",) if value == "F" else (),
                    term="VT", round=4, assessed_on=date(2027, 6, 5), published_at=T0, **base), source="/b"))
    return events


def interventions(rng: random.Random, groups: list[tuple[str, str, int]], share: float) -> list:
    """Support interventions for about `share` of the students (any kind and status, in a subject or
    none): the support reads' decisions have counts to decide on (`--support`)."""
    from styrkedja_contracts.events.support import SupportInterventionRecordedV1

    events = []
    for s, (code, group, _) in enumerate(groups):
        if rng.random() >= share:
            continue
        status = rng.choice(("decided", "in_progress", "evaluated", "proposed"))
        kind = rng.choice(("extra_adjustment", "investigation", "special_support", "action_programme"))
        start = date(2026, 9, 1) + timedelta(days=rng.randrange(60))
        # what the door and the event ask of a kind and status (the contracts' `intervention_broken`): past
        # `proposed` who decided and when, an action programme the investigation it rests on
        decided = {} if status == "proposed" else {
            "decided_by_role": "teacher" if kind == "extra_adjustment" else "principal", "decided_on": start}
        events.append(new_event(SupportInterventionRecordedV1(
            intervention_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, organiser_id=ORGANISER,
            school_unit_code=code, group_id=group, student_id=f"st-{s}",
            subject_code=rng.choice((None, *SUBJECTS[:3])), kind=kind, status=status, start_date=start,
            evaluation_date=date(2027, 1, 15) if status == "evaluated" else None,
            evaluation_outcome=rng.choice(("better", "unchanged", "worse")) if status == "evaluated" else None,
            investigation_id=uuid.UUID(int=rng.getrandbits(128)) if kind == "action_programme" else None,
            recorded_at=T0, **decided), source="/b"))
    return events


async def load(url: str, directory: list, events: list, batch: int, live_alerts: bool = False) -> dict:
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    # as a rebuild from the event log (alerts judged once at the end, not per batch): the figures'
    # state is the same, and the reads measured here do not read alerts (`--live-alerts` for them)
    registry = handler_registry(live_alerts=live_alerts)

    async def apply(items: list, start: int) -> None:
        async with db.sessions.begin() as session:
            await registry(session, [Delivered(e, TOPICS[e.type.split(".")[2]], 0, start + n)
                                     for n, e in enumerate(items)])

    for start in range(0, len(directory), batch):  # the consumer's batches are bounded too
        await apply(directory[start:start + batch], 10_000_000 + start)
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        await apply(events[start:start + batch], start)
    seconds = time.perf_counter() - started
    await judge_alerts(db)
    counts = {}
    async with db.sessions() as session:
        for table in ("assessment_facts", "assessment_aggregates", "figure_pass", "figure_students",
                      "figure_forecasts", "figure_merit"):
            counts[table] = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        await session.execute(text("ANALYZE"))
    await db.dispose()
    return {"events": len(events), "seconds": round(seconds, 1), "events_per_s": round(len(events) / seconds),
            "rows": counts}


async def judge_alerts(db: Database) -> None:
    """The alerts judged once on the loaded state (as after a rebuild), so the alert list has rows to read."""
    from styrkedja_reporting.alerts.handlers import reevaluate_all

    async with db.sessions.begin() as session:
        await reevaluate_all(session)


async def migrate_kept(url: str) -> None:
    """A kept state read by newer code: create what is missing (tables, indexes) and fill what the
    newer code materialises from what is there (`styrkedja_reporting.figures.rosters.rebuild`)."""
    from styrkedja_reporting.persistence import metadata

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for table in metadata.tables.values():  # create_all makes the indexes of new tables only
            for index in table.indexes:
                await conn.run_sync(lambda sync, index=index: index.create(sync, checkfirst=True))
    try:
        from styrkedja_reporting.figures.rosters import rebuild_rosters
    except ImportError:
        rebuild_rosters = None
    if rebuild_rosters is not None:
        async with db.sessions.begin() as session:
            await rebuild_rosters(session)
    async with db.sessions() as session:
        judged = (await session.execute(text("SELECT count(*) FROM alerts"))).scalar_one()
    if not judged:  # a state kept before the alerts were judged on load
        await judge_alerts(db)
    async with db.sessions() as session:
        await session.execute(text("ANALYZE"))
    await db.dispose()


REQUESTS = {
    "trend": ("/v1/figures/trend", {"term": "VT", "compare": "previous_term"}),
    "history": ("/v1/figures/history", {"term": "VT", "periods": 6}),
    "gender_gap": ("/v1/figures/gender-gap", {"round": 3}),
    "freshness": ("/v1/figures/freshness", {"term": "VT"}),
    "coverage": ("/v1/figures/coverage", {"term": "HT"}),
    "forecast_outcome": ("/v1/figures/forecast-outcome", {"term": "VT"}),
    "merit": ("/v1/figures/merit", {"term": "VT"}),
    "drill_down": ("/v1/figures/drill-down", {"term": "VT", "unit_id": ORGANISER}),
    "results_csv": ("/v1/results/assessments", {"format": "csv"}),
    "results_json": ("/v1/results/assessments", {}),
    "results_forecasts": ("/v1/results/forecasts", {}),
    # the other organiser-level reads (the common parameters ride along; None drops one the read does not take:
    # the services refuse a query parameter an operation does not take, `unknown_parameter`)
    "support_summary": ("/v1/support/summary", {"unit_id": ORGANISER, "term": "VT"}),
    "support_kinds": ("/v1/support/kinds", {"unit_id": ORGANISER, "format": "csv", "school_year": None}),
    "support_below_pass": ("/v1/support/below-pass-without-support", {"unit_id": ORGANISER, "school_year": None}),
    "support_before_after": ("/v1/support/results-before-after", {"unit_id": ORGANISER, "school_year": None}),
    "support_plan_coverage": ("/v1/support/plan-coverage", {"unit_id": ORGANISER, "term": "VT"}),
    "compliance": (f"/v1/compliance/organisers/{ORGANISER}/school-units",
                   {"term": "VT", "level": None, "organiser_id": None}),
    "compliance_round": (f"/v1/compliance/organisers/{ORGANISER}/rounds/3/school-units",
                         {"level": None, "organiser_id": None}),
    "lika_compilation": ("/v1/lika/compilation", {"level": None, "school_year": None}),
    "lika_school_units": ("/v1/lika/school-units", {"level": None, "school_year": None}),
    "alerts": ("/v1/alerts", {"level": None, "school_year": None, "limit": 100}),
    "directory_tree": (f"/v1/directory/organisers/{ORGANISER}/tree",
                       {"level": None, "school_year": None, "organiser_id": None}),
    "roster_sizes": ("/v1/directory/roster-sizes", {"school_year": None}),
    "roster_sizes_area": ("/v1/directory/roster-sizes", {"level": "area", "school_year": None}),
    "support_summary_area": ("/v1/support/summary", {"level": "area", "unit_id": "area-1", "term": "VT"}),
    # every organiser at once (no organiser named): what the public's first read of a new state builds
    "coverage_every_organiser": ("/v1/figures/coverage", {"term": "HT", "organiser_id": None}),
}
#: The readers `--readers` knows: the token's roles and organisers (central office = the organiser admin).
READERS = {"organiser_admin": (["organiser_admin"], [ORGANISER]), "politician": (["politician"], [ORGANISER]),
           "public": (["public"], [])}


def params_of(name: str) -> tuple[str, dict]:
    """A request's path and query: the common organiser-level parameters with the request's own (None drops one)."""
    path, own = REQUESTS[name]
    merged = {"level": "organiser", "organiser_id": ORGANISER, "school_year": "2026/27", **own}
    return path, {k: v for k, v in merged.items() if v is not None}


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client (GET only; Content-Length or chunked bodies): a few tens
    of microseconds per request where httpx spends about half a millisecond, so the clients sharing
    the machine with the server measure the server rather than themselves."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        split = urlsplit(base_url)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{self.host}:{self.port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, params: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path}?{urlencode(params, doseq=True)} HTTP/1.1\r\n{self.head}\r\n".encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        if "content-length" in fields:
            return status, await self.reader.readexactly(int(fields["content-length"]))
        body = bytearray()
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await self.reader.readexactly(size)
            await self.reader.readexactly(2)
        await self.reader.readexactly(2)
        return status, bytes(body)

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _timed_reads(base_url: str, headers: dict[str, str], jobs: list[tuple[str, dict]], clients: int,
                       each: int) -> tuple[list[float], float, list[float]]:
    made = [RawHttp(base_url, headers) for _ in range(clients)]
    await asyncio.gather(*(http.get(*jobs[0]) for http in made))  # connected and read once, untimed
    times: list[float] = []
    starts: list[float] = []
    zero = time.perf_counter()

    async def client(n: int) -> None:
        for i in range(each):
            path, params = jobs[(n + i) % len(jobs)]
            started = time.perf_counter()
            status, body = await made[n].get(path, params)
            times.append(time.perf_counter() - started)
            starts.append(started - zero)
            if status != 200:
                raise RuntimeError(f"{path}: {status} {body[:300]!r}")

    cpu = time.process_time()
    await asyncio.gather(*(client(n) for n in range(clients)))
    cpu = time.process_time() - cpu
    for http in made:
        await http.aclose()
    return times, cpu, starts


def reads_in_process(base_url: str, headers: dict[str, str], jobs: list[tuple[str, dict]], clients: int,
                     each: int) -> tuple[list[float], float, list[float]]:
    """`clients` keep-alive connections on one asyncio loop, each reading `each` times round `jobs`
    (path, params): the seconds of every read, the CPU seconds the clients spent, and when (seconds
    from the start) each read began. Run it in a
    process of its own (`speed.py` does): then the clients neither wait for the bench process's GIL
    nor are counted as the server's time, and their own CPU is measured."""
    return asyncio.run(_timed_reads(base_url, headers, jobs, clients, each))


async def read_latency(base_url: str, clients: int, per_client: int, headers: dict[str, str],
                       client_kind: str = "raw", names: list[str] | None = None) -> dict:
    """Each client reads as the token's reader (the organiser's admin by default; a bearer token, every
    request verifies it). The clients connect and read once before the timed part (connections and
    TLS contexts made first)."""
    names = names or list(REQUESTS)
    latencies: dict[str, list[float]] = {name: [] for name in names}
    made = [RawHttp(base_url, headers) if client_kind == "raw" else
            httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers) for _ in range(clients)]

    async def get(http, path: str, params: dict) -> tuple[int, bytes]:
        if isinstance(http, RawHttp):
            return await http.get(path, params)
        response = await http.get(path, params=params)
        return response.status_code, response.content

    await asyncio.gather(*(get(http, *params_of("merit")) for http in made))

    async def client(n: int) -> None:
        http = made[n]
        for i in range(per_client):
            name = names[(n + i) % len(names)]
            path, params = params_of(name)
            started = time.perf_counter()
            status, body = await get(http, path, params)
            latencies[name].append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"{name}: {status} {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - started
    for http in made:
        await http.aclose()

    def summary(values: list[float]) -> dict:
        ordered = sorted(values)
        return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)}

    every = [v for values in latencies.values() for v in values]
    return {"clients": clients, "client": client_kind, "requests": len(every), "wall_s": round(wall, 2),
            "requests_per_s": round(len(every) / wall, 1), "all": summary(every),
            "per_endpoint": {name: summary(values) for name, values in latencies.items() if values}}


def tree_ticks(root: int) -> dict[int, int]:
    """CPU ticks (user + system) of process `root` and of every process below it, per process (/proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    mine = {}
    for pid, spent in ticks.items():
        at = pid
        while at not in (root, 0, 1) and at in parents:
            at = parents[at]
        if at == root:
            mine[pid] = spent
    return mine


def cpu_since(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds spent between two `tree_ticks`: per process alive at the end (one gone meanwhile — a
    backend whose connection closed — is not counted: a sum over both ends would count its past as negative)."""
    return sum(spent - before.get(pid, 0) for pid, spent in after.items()) / os.sysconf("SC_CLK_TCK")


def first_reads(base_url: str, headers: dict[str, str], names: list[str]) -> dict[str, dict]:
    """Each read once, one after the other, on a server just started: a miss (the route itself, its
    disclosure decisions cold) — what the first reader of a new state version waits for; the status
    says which reads this reader may make at all (403: left out of the timed part)."""
    out = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        for name in names:
            path, params = params_of(name)
            started = time.perf_counter()
            response = http.get(path, params=params)
            out[name] = {"status": response.status_code, "ms": round((time.perf_counter() - started) * 1000, 1)}
            if response.status_code not in (200, 403):
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
    return out


def wait_alive(base_url: str, tries: int) -> None:
    """Until the server answers `/healthz` (at most `tries` × 0.3 s)."""
    for _ in range(tries):
        try:
            httpx.get(f"{base_url}/healthz")
            return
        except httpx.HTTPError:
            time.sleep(0.3)


def measure(base_url: str, headers: dict[str, str], clients: int, requests: int, client_kind: str = "raw",
            names: list[str] | None = None, cpu_of: dict[str, int] | None = None) -> dict:
    """Wait for the server, read each endpoint once (`first_reads`: its miss, and whether this reader
    may), warm up (connections, plans, the issuer's keys — and the kept answers: this measures a
    repeated read of unchanged state), then `clients` × `requests` reads of the allowed ones."""
    wait_alive(base_url, tries=100)
    first = first_reads(base_url, headers, names or list(REQUESTS))
    allowed = [name for name, got in first.items() if got["status"] == 200]
    asyncio.run(read_latency(base_url, 2, len(allowed), headers, client_kind, allowed))
    load_before = os.getloadavg()
    cpu_before = {side: tree_ticks(pid) for side, pid in (cpu_of or {}).items()}
    latency = asyncio.run(read_latency(base_url, clients, requests, headers, client_kind, allowed))
    # CPU per read of each side (the server's process; every PostgreSQL process): what the machine's load moves least
    latency["cpu_us_per_read"] = {side: round(cpu_since(cpu_before[side], tree_ticks(pid)) / latency["requests"] * 1e6, 1)
                                  for side, pid in (cpu_of or {}).items()}
    latency["load_average_1m"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    latency["first_read_ms"] = {name: got["ms"] for name, got in first.items() if got["status"] == 200}
    latency["not_allowed"] = [name for name, got in first.items() if got["status"] == 403]
    return latency


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--state", type=Path, default=None,
                        help="keep the loaded PostgreSQL here and reuse it on the next run (skips the load)")
    parser.add_argument("--live-alerts", action="store_true", help="judge alerts per batch while loading")
    parser.add_argument("--pg-port", type=int, default=None)
    parser.add_argument("--variants", default="after",
                        help="comma-separated, measured one after the other on the same state: before (the code "
                             "in --before-code), uncached (this code, STYRKEDJA_READ_CACHE_ENABLED=false), serial "
                             "(this code, STYRKEDJA_READ_CACHE_VERSION_READS=1), after")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="raw: a minimal keep-alive HTTP/1.1 client (default); httpx: httpx.AsyncClient")
    parser.add_argument("--before-code", type=Path, default=None, help="a source tree of the base code")
    parser.add_argument("--reader", "--readers", dest="readers", default="organiser_admin",
                        help="comma-separated token roles, each measured on a server of its own: organiser_admin "
                             "(central office), politician and public (every level suppressed: the disclosure "
                             "decisions run); a read a reader may not make (403) is left out and listed")
    parser.add_argument("--only", default=None, help="comma-separated names of REQUESTS to read (default: all)")
    parser.add_argument("--support", type=float, default=0.0,
                        help="share of the students with a support intervention (loaded with the results)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "figures_read.json")
    args = parser.parse_args()
    keep = args.state is not None
    state = args.state.resolve() if keep else Path(tempfile.mkdtemp(prefix="styrkedja-bench-figures-"))
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata", port=args.pg_port).start()
    server = None
    try:
        name = "bench_figures"
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
        marker = state / "loaded.json"
        if keep and marker.exists():  # a kept, loaded state: read it again (the code may have changed)
            applied = json.loads(marker.read_text())
            asyncio.run(migrate_kept(url))
            print(f"reusing {state}: {applied}", flush=True)
        else:
            ensure_database(pg.server_url(), name)
            directory, groups = organisation(args.students)
            started = time.perf_counter()
            events = results(random.Random(7), groups) + interventions(random.Random(8), groups, args.support)
            print(f"{len(events)} events built in {time.perf_counter() - started:.0f} s", flush=True)
            applied = asyncio.run(load(url, directory, events, args.batch, args.live_alerts))
            print(f"applied: {applied}", flush=True)
            if keep:
                marker.write_text(json.dumps(applied))
        issuer = DevIssuer(state, port=None).start()
        readers = args.readers.split(",")
        unknown = [r for r in readers if r not in READERS]
        if unknown:
            raise SystemExit(f"unknown readers {unknown}: {', '.join(READERS)}")
        names = args.only.split(",") if args.only else list(REQUESTS)
        env = {**os.environ, "STYRKEDJA_DATABASE_URL": url, "STYRKEDJA_CONSUMER_ENABLED": "false",
               "STYRKEDJA_OUTBOX_ENABLED": "false", "STYRKEDJA_LOG_LEVEL": "WARNING",
               "STYRKEDJA_AUTH_ISSUER": issuer.url}
        variants = {}
        for variant, reader in [(v, r) for v in args.variants.split(",") for r in readers]:
            roles, organisers = READERS[reader]
            headers = {"Authorization": "Bearer " + issuer.mint(roles=roles, organisers=organisers)}
            code, extra, server_args = ROOT, {}, []
            if variant.startswith("before"):  # the base code, served as this code is (`-h11`: see below)
                if args.before_code is None:
                    raise SystemExit("--before-code DIR (e.g. `git archive <base> | tar -x -C DIR`) for 'before'")
                code = args.before_code.resolve()
                extra = {"PYTHONPATH": os.pathsep.join(str(code / p) for p in (
                    "services/reporting/src", "packages/kit/src", "packages/contracts/src"))}
                if "uncached" in variant:  # `before-uncached`: the base code, the answer cache off
                    extra["STYRKEDJA_READ_CACHE_ENABLED"] = "false"
            elif variant.startswith("uncached"):
                extra = {"STYRKEDJA_READ_CACHE_ENABLED": "false"}
            elif variant.startswith("serial"):  # this code, one state version read at a time (as before)
                extra = {"STYRKEDJA_READ_CACHE_VERSION_READS": "1"}
            elif not variant.startswith("after"):
                raise SystemExit(f"unknown variant {variant!r}: before, uncached, serial, after (each [-h11])")
            # the services' protocol (the kit's, `styrkedja_kit.server`: as their images and the devstack start them);
            # `-h11`: its h11 form (uvicorn's pure-Python HTTP parser) and asyncio's own loop. A `before` code from
            # before the kit had one gets uvicorn's own
            kit_server = (code / "packages/kit/src/styrkedja_kit/server.py").exists()
            protocol = "ProblemH11Protocol" if variant.endswith("-h11") else "ProblemHttpProtocol"
            server_args = ["--http", f"styrkedja_kit.server:{protocol}"] if kit_server else []
            if variant.endswith("-h11"):
                server_args = [*(server_args or ["--http", "h11"]), "--loop", "asyncio"]
            print(f"variant {variant}, reader {reader}: code {code}", flush=True)
            server = subprocess.Popen([sys.executable, "-m", "uvicorn", "styrkedja_reporting.main:app", "--port",
                                       str(port := free_port()), "--log-level", "warning", *server_args],
                                      env={**env, **extra})
            try:
                postmaster = int((state / "pgdata" / "postmaster.pid").read_text().split()[0])
                latency = measure(f"http://127.0.0.1:{port}", headers, args.clients, args.requests, args.client, names,
                                  cpu_of={"server": server.pid, "postgres": postmaster})
            finally:
                server.terminate()
                server.wait(10)
                server = None
            latency["code"], latency["reader"] = str(code), reader
            print(json.dumps({k: v for k, v in latency.items() if k != "per_endpoint"}), flush=True)
            for name, got in latency["per_endpoint"].items():
                print(f"  {reader:<16} {name:<26} p50 {got['p50_ms']:7.1f} ms  p99 {got['p99_ms']:7.1f} ms  "
                      f"first {latency['first_read_ms'][name]:8.1f} ms", flush=True)
            key = f"{variant}:{reader}"
            variants[key if key not in variants else f"{key}#{len(variants) + 1}"] = latency
        out = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
               "shape": {"students": args.students, "subjects": len(SUBJECTS), "rounds": 4,
                         "year9_forecasts_and_term_grades": True, "support_share": args.support,
                         "readers": readers},
               "apply": applied, "read": variants[list(variants)[-1]], "variants": variants,
               "note": "organiser level, one uvicorn worker, embedded PostgreSQL, the clients in one process on "
                       "the same 2-core machine, shared with other engineers' test runs (load_average_1m)"}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        pg.stop()
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
