"""Ingest benchmark: assessments over HTTP → outbox → broker → reporting, on this machine.

Starts its own embedded PostgreSQL and broker (or the external ones named by the usual
environment variables) and the assessment and reporting services as processes, then measures
  * the HTTP ingest rate for batches of different sizes (same run, so the ratios are fair),
  * how long reporting takes to be exact after the last request (end-to-end lag),
  * the latency of single assessments from POST to visible in the reporting API.
Writes bench/results/ingest.json and prints a summary. Numbers, never pass/fail.

    .venv/bin/python bench/ingest.py [--assessments 20000] [--latency-samples 30] [--broker kafka]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from styrkedja_devstack.postgres import free_port  # noqa: E402
from styrkedja_devstack.services import SERVICES, ServiceProcess  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402
from support import Mittkoping, Tokens, ingest, reported, wait_until_exact  # noqa: E402


def start_services(infra: Infrastructure, names: tuple[str, ...], log_dir: Path,
                   extra_env: dict[str, str] | None = None, *, tokens: Tokens,
                   workers: dict[str, int] | None = None, databases: dict[str, str] | None = None,
                   group: str | None = None) -> dict[str, ServiceProcess]:
    """The named services on fresh databases, checking tokens of `tokens`' dev issuer; `workers`:
    uvicorn worker processes per service (1 unless named); `databases`: a service's existing migrated database
    instead (speed.py serves the rebuilt one), `group` its consumer group (the one whose offsets it holds)."""
    run = uuid.uuid4().hex[:8]
    processes = {}
    for spec in SERVICES:
        if spec.name not in names:
            continue
        url = (databases or {}).get(spec.name)
        if url is None:
            url = infra.create_database(f"bench_{spec.name}_{run}")
            upgrade(spec.package, url)
        processes[spec.name] = ServiceProcess(
            spec, database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers, port=free_port(),
            log_dir=log_dir, **({"workers": n} if (n := (workers or {}).get(spec.name, 1)) != 1 else {}),
            extra_env={"STYRKEDJA_LOG_LEVEL": "WARNING", **infra.service_env, **tokens.service_env,
                       **(extra_env or {}), "STYRKEDJA_CONSUMER_GROUP": group or f"reporting-bench-{run}"}).start()
    for process in processes.values():
        process.wait_ready(90)
    return processes


def latency_samples(assessment_url: str, reporting_url: str, count: int, tokens: Tokens) -> list[float]:
    samples = []
    for n in range(count):
        data = Mittkoping(seed=1000 + n)
        started = time.monotonic()
        ingest(assessment_url, data, new=1, revisions=0, retractions=0, duplicates=0, tokens=tokens)
        expected, units = data.expected(), data.my_units()
        while reported(reporting_url, units, data.organisers, tokens=tokens) != expected:
            if time.monotonic() - started > 30:
                raise TimeoutError("an assessment did not reach reporting within 30 s")
            time.sleep(0.01)
        samples.append(time.monotonic() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessments", type=int, default=20_000)
    parser.add_argument("--latency-samples", type=int, default=30)
    parser.add_argument("--broker", choices=("embedded", "kafka"), default=None,
                        help="which devstack broker (default: $STYRKEDJA_BROKER, else embedded)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/results/ingest.json, ingest-<broker>.json with --broker")
    args = parser.parse_args()
    if args.out is None:
        args.out = ROOT / "bench" / "results" / (f"ingest-{args.broker}.json" if args.broker else "ingest.json")

    if args.broker == "kafka":
        from styrkedja_devstack.apache_kafka import missing_requirements

        if missing := missing_requirements():
            print(f"skipping the Apache Kafka ingest bench: {missing}")
            return 0
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=args.broker)
    processes: dict[str, ServiceProcess] = {}
    try:
        print("starting assessment and reporting ...", flush=True)
        tokens = Tokens.start(state)
        processes = start_services(infra, ("assessment", "reporting"), state / "logs", tokens=tokens)
        a_url, r_url = processes["assessment"].url, processes["reporting"].url
        results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                         "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
                         "infrastructure": infra.notes, "batch_sizes": {}}
        print("warming up ...", flush=True)
        ingest(a_url, Mittkoping(seed=99), new=500, revisions=0, retractions=0, duplicates=0, tokens=tokens)

        for batch_size in (100, 500, 1000):
            data = Mittkoping(seed=batch_size)
            n = args.assessments // 3
            print(f"ingesting {n} assessments in batches of {batch_size} ...", flush=True)
            report = ingest(a_url, data, new=n, revisions=0, retractions=0, duplicates=0, batch_size=batch_size,
                            tokens=tokens, between_batches=lambda r, n=n: print(f"  {r.posted}/{n}", end="\r", flush=True))
            lag = wait_until_exact(r_url, data, timeout=600, tokens=tokens)
            results["batch_sizes"][batch_size] = {
                "assessments": n, "http_seconds": round(report.seconds, 2),
                "http_rate_per_s": round(report.rate), "reporting_exact_after_s": round(lag, 2),
                "end_to_end_rate_per_s": round(n / (report.seconds + lag))}
            print(f"  batch {batch_size}: {report.rate:.0f}/s over HTTP, reporting exact {lag:.1f} s later",
                  flush=True)
        base = results["batch_sizes"][100]["http_rate_per_s"]
        results["http_rate_ratio_vs_batch_100"] = {
            size: round(r["http_rate_per_s"] / base, 2) for size, r in results["batch_sizes"].items()}

        print(f"measuring single-assessment latency ({args.latency_samples} samples) ...", flush=True)
        samples = latency_samples(a_url, r_url, args.latency_samples, tokens)
        results["single_assessment_latency_s"] = {
            "p50": round(statistics.median(samples), 3),
            "p95": round(sorted(samples)[max(0, int(len(samples) * 0.95) - 1)], 3),
            "max": round(max(samples), 3)}
        # the broker was never restarted: any detected "loss" would be a false alarm (and a full republish)
        results["relay_broker_loss_detections"] = sum(
            float(line.rsplit(" ", 1)[1]) for line in httpx.get(a_url + "/metrics").text.splitlines()
            if line.startswith("styrkedja_outbox_broker_loss_total{"))
        consistency = httpx.get(r_url + "/v1/admin/consistency", headers=tokens.ops()).json()
        results["aggregates_equal_recomputation"] = consistency["consistent"]

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        print(f"written to {args.out}")
        return 0
    finally:
        for process in processes.values():
            process.stop()
        for line in (state / "logs" / "assessment.log").read_text().splitlines() if processes else []:
            if "broker lost" in line:
                print("relay:", line)
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
