"""The first read after a batch, with and without keeping the disclosure decisions warm
(`access.warm`, `STYRKEDJA_DECISION_WARM_SECONDS`), and what an unrelated request waits while a cold
decision runs. Numbers, never pass/fail.

The state is `bench/figures_read.py`'s (an organiser of 6,000 students × 16 subjects × 4 rounds; kept with
`--state DIR` and reused). Per variant, a reporting server (uvicorn, one worker, consumer off) is started;
a politician (every level suppressed: every read takes its disclosure decision) reads each of `ROUTES` once
(they are then "asked"), and then, `--rounds` times: a batch is applied straight through the handler registry
(a group's new results in every subject: every subject's component changes, the worst case of a trend),
`--delay` seconds pass (a reader arriving after the batch; the warming's debounce is 1 s), and the politician
reads each route once more — `first_read_ms`, the first read of the new state version.

The unrelated request: while the politician's first trend after a batch runs cold (warming off), a probe
client reads `/healthz` (no database, no decision: what the event loop owes any request) every 10 ms;
`probe_ms` while the cold read ran, against `probe_idle_ms` on the idle server. `--before-code DIR` (e.g.
`git archive main | tar -x -C DIR`) adds the variant `before`: that code (the decision on the event loop).

    .venv/bin/python bench/cold.py --state DIR [--students 6000] [--rounds 3] [--delay 3]
        [--variants warm_off,warm_on[,before]] [--before-code DIR] [--out bench/results/cold.json]

Writes `--out` under the key `keep_warm` (the file's other keys, earlier measurements, are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import figures_read as fr  # noqa: E402  (the state and its load: one definition)

from styrkedja_contracts import AssessmentPublishedV1, new_event  # noqa: E402
from styrkedja_devstack.issuer import DevIssuer  # noqa: E402
from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_kit.consumer import Delivered  # noqa: E402
from styrkedja_kit.db import Database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The politician's reads measured: every one takes a disclosure decision (figures: 16 subjects' components).
ROUTES = ("trend", "history", "gender_gap", "forecast_outcome", "support_summary")


def batch(rng: random.Random, groups: list[tuple[str, str, int]], round_: int) -> list:
    """One group's new results in every subject (round 3, VT: the trend's term), the group taken by `round_`."""
    group_ids = sorted({(code, group, year) for code, group, year in groups})
    code, group, year = group_ids[(round_ * 7) % len(group_ids)]
    students = [s for s, g in enumerate(groups) if g == (code, group, year)]
    events = []
    for s in students:
        for subject in fr.SUBJECTS:
            value = rng.choice("ABCDEEFF")
            events.append(new_event(AssessmentPublishedV1(
                assessment_id=uuid.UUID(int=rng.getrandbits(128)), revision=1, organiser_id=fr.ORGANISER,
                school_unit_code=code, group_id=group, student_id=f"st-{s}", teacher_id="t-1",
                gender=rng.choice(("female", "male", "unknown")), year=year, school_year="2026/27",
                subject_code=subject, kind="assessment", scale="AF", value=value,
                unmet_criteria=("K1",) if value == "F" else (), term="VT", round=3,
                assessed_on=date(2027, 3, 15), published_at=fr.T0), source="/bench-cold"))
    return events


async def apply(url: str, events: list, offset: int) -> None:
    from styrkedja_reporting.main import handler_registry

    db = Database(url)
    try:
        registry = handler_registry()
        async with db.sessions.begin() as session:
            await registry(session, [Delivered(e, fr.TOPICS[e.type.split(".")[2]], 0, offset + n)
                                     for n, e in enumerate(events)])
    finally:
        await db.dispose()


def read(http: httpx.Client, name: str) -> float:
    path, params = fr.params_of(name)
    started = time.perf_counter()
    response = http.get(path, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
    return round((time.perf_counter() - started) * 1000, 1)


def warmed(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("styrkedja_disclosure_warm_rounds_total "):
            return float(line.split()[1])
    return 0.0


class Probe:
    """`/healthz` every 10 ms on a connection of its own, in a thread: each answer's latency and when it came."""

    def __init__(self, base_url: str) -> None:
        self.base_url, self.samples, self.stop = base_url, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=60) as http:
            while not self.stop.is_set():
                started = time.perf_counter()
                http.get("/healthz")
                self.samples.append((started, (time.perf_counter() - started) * 1000))
                time.sleep(0.01)

    def __enter__(self) -> Probe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.samples if start <= at <= end]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "p50": round(statistics.median(ordered), 1),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1), "max": round(ordered[-1], 1)}


def run_variant(variant: str, url: str, env: dict, headers: dict, groups: list, args: argparse.Namespace,
                offset: list[int]) -> dict:
    extra = {"STYRKEDJA_DECISION_WARM_SECONDS": "1" if variant == "warm_on" else "0"}
    if variant == "before":
        code = args.before_code.resolve()
        extra["PYTHONPATH"] = os.pathsep.join(str(code / p) for p in (
            "services/reporting/src", "packages/kit/src", "packages/contracts/src"))
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "styrkedja_reporting.main:app", "--port",
                               str(port := fr.free_port()), "--log-level", "warning"], env={**env, **extra})
    base_url = f"http://127.0.0.1:{port}"
    out: dict = {"rounds": []}
    try:
        fr.wait_alive(base_url, tries=200)
        rng = random.Random(offset[0])  # new results each variant (the same ones again would change no row)
        with httpx.Client(base_url=base_url, headers=headers, timeout=300) as http:
            out["first_read_on_start_ms"] = {name: read(http, name) for name in ROUTES}  # asked (and cold)
            with Probe(base_url) as probe:
                time.sleep(1.0)
                idle = probe.between(time.perf_counter() - 1.0, time.perf_counter())
                probes: list[float] = []
                for r in range(args.rounds):
                    count = warmed(http)
                    events = batch(rng, groups, r)
                    asyncio.run(apply(url, events, offset[0]))
                    offset[0] += len(events)
                    applied_at = time.perf_counter()
                    if variant == "warm_on":  # until the warming has taken every asked decision on the new version
                        while warmed(http) <= count and time.perf_counter() - applied_at < 120:
                            time.sleep(0.02)
                        warm_ms = round((time.perf_counter() - applied_at) * 1000)
                    time.sleep(max(0.0, args.delay - (time.perf_counter() - applied_at)))
                    started = time.perf_counter()
                    first = {name: read(http, name) for name in ROUTES}
                    trend_end = started + first["trend"] / 1000
                    during = probe.between(started, trend_end)
                    probes.extend(during)
                    round_out = {"events": len(events), "first_read_ms": first,
                                 "probe_during_trend_ms": summary(during)}
                    if variant == "warm_on":
                        round_out["warmed_after_ms"] = warm_ms
                    out["rounds"].append(round_out)
                    print(f"  {variant} round {r}: {json.dumps(round_out)}", flush=True)
                out["probe_idle_ms"] = summary(idle)
        firsts = {name: [rd["first_read_ms"][name] for rd in out["rounds"]] for name in ROUTES}
        out["first_read_median_ms"] = {name: round(statistics.median(v), 1) for name, v in firsts.items()}
        out["probe_during_first_trend_ms"] = summary(probes)
        return out
    finally:
        server.terminate()
        server.wait(10)


def write_keeping(out: Path, result: dict) -> None:
    """`result` as the file's `keep_warm`, its other keys (earlier measurements) left as they are written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(out.read_text()) if out.exists() else None
    if kept is None or "keep_warm" in kept:
        out.write_text(json.dumps({**(kept or {}), "keep_warm": result}, indent=2) + "\n")
        return
    text = out.read_text().rstrip()
    assert text.endswith("}")
    body = json.dumps(result, indent=2).replace("\n", "\n  ")
    out.write_text(text[:-1].rstrip() + f',\n  "keep_warm": {body}\n}}\n')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6000)
    parser.add_argument("--state", type=Path, default=None, help="keep the loaded PostgreSQL here (figures_read's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds from a batch's commit to the first read")
    parser.add_argument("--variants", default="warm_off,warm_on")
    parser.add_argument("--before-code", type=Path, default=None)
    parser.add_argument("--support", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cold.json")
    args = parser.parse_args()
    keep = args.state is not None
    state = args.state.resolve() if keep else Path(tempfile.mkdtemp(prefix="styrkedja-bench-cold-"))
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        name = "bench_figures"
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
        marker = state / "loaded.json"
        directory, groups = fr.organisation(args.students)
        if keep and marker.exists():
            applied = json.loads(marker.read_text())
            asyncio.run(fr.migrate_kept(url))
            print(f"reusing {state}: {applied}", flush=True)
        else:
            ensure_database(pg.server_url(), name)
            events = fr.results(random.Random(7), groups) + fr.interventions(random.Random(8), groups, args.support)
            applied = asyncio.run(fr.load(url, directory, events, 1000))
            print(f"applied: {applied}", flush=True)
            if keep:
                marker.write_text(json.dumps(applied))
        issuer = DevIssuer(state, port=None).start()
        headers = {"Authorization": "Bearer " + issuer.mint(roles=["politician"], organisers=[fr.ORGANISER])}
        env = {**os.environ, "STYRKEDJA_DATABASE_URL": url, "STYRKEDJA_CONSUMER_ENABLED": "false",
               "STYRKEDJA_OUTBOX_ENABLED": "false", "STYRKEDJA_LOG_LEVEL": "WARNING",
               "STYRKEDJA_AUTH_ISSUER": issuer.url}
        offset = [30_000_000]
        variants = {}
        load_before = os.getloadavg()[0]
        for variant in args.variants.split(","):
            print(f"variant {variant}", flush=True)
            variants[variant] = run_variant(variant, url, env, headers, groups, args, offset)
        result = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "load_average_1m": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)}},
                  "shape": {"students": args.students, "subjects": len(fr.SUBJECTS), "rounds": args.rounds,
                            "delay_s": args.delay, "reader": "politician", "routes": list(ROUTES)},
                  "state": applied, "variants": variants}
        write_keeping(args.out, result)
        for variant, got in variants.items():
            print(f"{variant}: first read median {got['first_read_median_ms']}, probe idle {got['probe_idle_ms']}, "
                  f"probe during the first trend {got['probe_during_first_trend_ms']}", flush=True)
        return 0
    finally:
        pg.stop()
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
